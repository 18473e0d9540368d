import ExportCleanup
import ExportStorage
import Foundation
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The reliability suites run one at a time: kill timings and lock holds must not compete with each other for
/// the machine's cores. Small copies of the CLITests helpers live here (test targets cannot import each other).
@Suite(.serialized) struct Reliability {}

// MARK: - Seed and timing

/// SplitMix64: deterministic, so a failing run replays from its printed seed.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

enum ReliabilitySeed {
    /// `RELIABILITY_SEED` (decimal or 0x-hex) or a random seed; always printed by the caller.
    static func value(salt: UInt64 = 0) -> UInt64 {
        let text = ProcessInfo.processInfo.environment["RELIABILITY_SEED"] ?? ""
        let given = text.hasPrefix("0x") ? UInt64(text.dropFirst(2), radix: 16) : UInt64(text)
        return (given ?? UInt64.random(in: .min ... .max)) &+ salt
    }
}

/// Runs `body` and prints how long it took: `[reliability] name: 12.34 s`.
func timed<T>(_ name: String, _ body: () throws -> T) rethrows -> T {
    let start = Date()
    defer { print("[reliability] \(name): \(String(format: "%.2f", Date().timeIntervalSince(start))) s") }
    return try body()
}

// MARK: - Processes

/// The built `export-cleanup` binary beside this test bundle.
enum Binary {
    static var path: String {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("export-cleanup").path
    }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        var seconds: Double
    }

    /// The environment without anything that would change the binary's configuration or logging.
    static func environment(_ extra: [String: String] = [:]) -> [String: String] {
        var env = ProcessInfo.processInfo.environment
        for key in env.keys where key.hasPrefix("EXPORT_") || key == "NOTIFY_SOCKET" || key == "JOURNAL_STREAM" || key.hasPrefix("WATCHDOG_") {
            env[key] = nil
        }
        return env.merging(extra) { $1 }
    }

    /// Runs `executable` (the binary by default) to completion, collecting its output through files.
    static func run(_ arguments: [String], executable: String = Binary.path, environment: [String: String] = [:],
                    cwd: String? = nil) throws -> Result {
        let outPath = NSTemporaryDirectory() + "/reliab-out.\(getpid()).\(UInt32.random(in: 0 ... .max))"
        _ = FileManager.default.createFile(atPath: outPath + ".o", contents: nil)
        _ = FileManager.default.createFile(atPath: outPath + ".e", contents: nil)
        defer { unlink(outPath + ".o"); unlink(outPath + ".e") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = Self.environment(environment)
        if let cwd { process.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle(forWritingAtPath: outPath + ".o")
        process.standardError = FileHandle(forWritingAtPath: outPath + ".e")
        let start = Date()
        try process.run()
        process.waitUntilExit()
        let seconds = Date().timeIntervalSince(start)
        return Result(status: process.terminationStatus,
                      stdout: (try? String(contentsOfFile: outPath + ".o", encoding: .utf8)) ?? "",
                      stderr: (try? String(contentsOfFile: outPath + ".e", encoding: .utf8)) ?? "", seconds: seconds)
    }

    /// `sweep` over a fixture with the given extra flags.
    static func sweep(_ fixture: Fixture, _ extra: [String] = []) throws -> Result {
        try run(["sweep"] + fixture.flags + extra)
    }
}

/// A background process (the daemon, or a sweep to kill), killed by PID if a test leaves it running.
final class BackgroundProcess {
    let process = Process()
    let stderrPath: String

    init(_ arguments: [String], executable: String = Binary.path, environment: [String: String] = [:], stderrPath: String? = nil) throws {
        self.stderrPath = stderrPath ?? "/dev/null"
        if let stderrPath { _ = FileManager.default.createFile(atPath: stderrPath, contents: nil) }
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = Binary.environment(environment)
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = stderrPath.flatMap { FileHandle(forWritingAtPath: $0) } ?? FileHandle.nullDevice
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }
    var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    func signal(_ number: Int32) { kill(pid, number) }

    /// Waits for exit; returns the status, or nil on timeout.
    func waitForExit(timeout: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(5_000) }
        return process.isRunning ? nil : process.terminationStatus
    }

    deinit {
        if process.isRunning {
            kill(pid, SIGKILL)
            process.waitUntilExit()
        }
    }
}

/// A real sd_notify listener: an AF_UNIX datagram socket bound before the daemon starts.
final class NotifyListener: @unchecked Sendable {
    let path: String
    private let fd: Int32
    private let messages = Mutex<[String]>([])
    private let running = Atomic<Bool>(true)
    private var thread: Thread?

    init(directory: String) {
        path = directory + "/notify.sock"
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in raw.copyBytes(from: Array(path.utf8).prefix(raw.count - 1)) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        precondition(bound == 0, "bind \(path): \(errno)")
        var timeout = timeval(tv_sec: 0, tv_usec: 100_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let thread = Thread { [self] in
            var buffer = [UInt8](repeating: 0, count: 4096)
            while running.load(ordering: .relaxed) {
                let n = recv(fd, &buffer, buffer.count, 0)
                if n > 0 {
                    let text = String(decoding: buffer[0..<n], as: UTF8.self)
                    messages.withLock { $0.append(text) }
                }
            }
        }
        thread.start()
        self.thread = thread
    }

    var all: [String] { messages.withLock { $0 } }

    /// Waits until a datagram after index `from` satisfies `predicate`; returns its index.
    @discardableResult
    func wait(for description: String, from: Int = 0, timeout: Double = 20, _ predicate: (String) -> Bool) throws -> Int {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let current = all
            if current.count > from, let index = current[from...].firstIndex(where: predicate) { return index }
            usleep(10_000)
        }
        throw TestFailure("no datagram '\(description)' within \(timeout) s after #\(from); got: \(all.suffix(8))")
    }

    deinit {
        running.store(false, ordering: .relaxed)
        while thread?.isFinished == false { usleep(10_000) }
        close(fd)
        unlink(path)
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// `python3` from the system (CI installs it with apt), else whatever is on PATH.
let pythonPath: String = FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") ? "/usr/bin/python3" : "python3"

/// A Python child that talks line by line: it prints a line when it is ready, then waits for one on stdin.
final class PythonChild {
    let process = Process()
    private let input = Pipe()
    private let output = Pipe()
    private var buffered = Data()

    init(script: String, arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: pythonPath.hasPrefix("/") ? pythonPath : "/usr/bin/env")
        process.arguments = (pythonPath.hasPrefix("/") ? [] : ["python3"]) + ["-c", script] + arguments
        process.standardInput = input
        process.standardOutput = output
        try process.run()
    }

    /// The next line the child prints (blocking; EOF gives what is left).
    func readLine() -> String {
        while true {
            if let newline = buffered.firstIndex(of: 10) {
                let line = buffered[buffered.startIndex..<newline]
                buffered = Data(buffered[(newline + 1)...])
                return String(decoding: line, as: UTF8.self)
            }
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty {
                defer { buffered = Data() }
                return String(decoding: buffered, as: UTF8.self)
            }
            buffered.append(chunk)
        }
    }

    func send(_ line: String) { input.fileHandleForWriting.write(Data((line + "\n").utf8)) }

    func waitForExit() -> Int32 {
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
        return process.terminationStatus
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}

/// Holds an SQLite write transaction (`BEGIN IMMEDIATE` or `BEGIN EXCLUSIVE`) from another process until
/// ``release()``, like an application with a long transaction.
final class LockHolder {
    private let child: PythonChild

    static let script = """
        import sqlite3, sys
        con = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
        con.execute("BEGIN " + sys.argv[2])
        con.execute("UPDATE export_jobs SET error_message = error_message WHERE 0")
        print("locked", flush=True)
        sys.stdin.readline()
        con.execute("ROLLBACK")
        print("released", flush=True)
        """

    init(database: String, mode: String) throws {
        child = try PythonChild(script: Self.script, arguments: [database, mode])
        let line = child.readLine()
        guard line == "locked" else { throw TestFailure("the lock holder did not lock: '\(line)'") }
    }

    func release() {
        child.send("go")
        _ = child.readLine()
        _ = child.waitForExit()
    }
}

// MARK: - Files

/// A fresh directory under the system temp dir, removed on deinit.
final class TemporaryDirectory {
    let path: String

    /// - Parameter memory: under `/dev/shm` when it is there (fsync costs nothing on tmpfs, so thousands of
    ///   commits stay fast; a SIGKILL loses no page cache anyway), else the temp dir.
    init(memory: Bool = false) {
        let base = memory && access("/dev/shm", W_OK) == 0 ? "/dev/shm" : NSTemporaryDirectory()
        var template = Array((base + "/export-cleanup-reliab.XXXXXX").utf8CString)
        path = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func sub(_ name: String) -> String { path + "/" + name }
}

func fileExists(_ path: String) -> Bool {
    var info = stat()
    return lstat(path, &info) == 0
}

@discardableResult
func writeFile(_ path: String, _ text: String = "x") -> String {
    _ = FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
    return path
}

/// Everything under `root` (not following symlinks, skipping `excluding`): path → kind, size, mode, inode,
/// mtime, link target. Two equal snapshots mean nothing there changed.
func snapshot(_ root: String, excluding: Set<String> = []) -> [String: String] {
    var result: [String: String] = [:]
    func walk(_ path: String) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        var entry = "mode \(String(info.st_mode, radix: 8)) size \(info.st_size) ino \(info.st_ino) mtime \(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)"
        if info.st_mode & S_IFMT == S_IFLNK { entry += " -> " + ((try? FileManager.default.destinationOfSymbolicLink(atPath: path)) ?? "?") }
        result[path] = entry
        if info.st_mode & S_IFMT == S_IFDIR {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] where !excluding.contains(path + "/" + name) {
                walk(path + "/" + name)
            }
        }
    }
    walk(root)
    return result
}

// MARK: - Fixture

/// A database with the application's exact DDL and a storage directory, with the jobs added so far and what
/// the sweep must do to each, and the invariant checks.
final class Fixture {
    let tmp: TemporaryDirectory
    let database: String
    let storage: String
    let db: ApplicationDatabase

    /// One job as the fixture wrote it.
    struct Job {
        var id: String
        var status: String
        var filePath: String?
        /// The rule under which it is due, or nil when it must be kept.
        var due: CleanupRule?
    }

    private(set) var jobs: [String: Job] = [:]
    private(set) var order: [String] = []
    /// Files no record names any more (e.g. a partial file the application abandoned on retry): not checked.
    var abandonedFiles = Set<String>()

    /// - Parameter journalMode: `delete` (SQLite's default, as SQLAlchemy leaves it) or `wal`.
    init(journalMode: String = "delete", memory: Bool = false) throws {
        tmp = TemporaryDirectory(memory: memory)
        database = tmp.sub("app.db")
        storage = tmp.sub("exports")
        try StorageDirectory(path: storage).prepare()
        db = try ApplicationDatabase(creatingAt: database)
        if journalMode != "delete" { _ = try sqlite("PRAGMA journal_mode=\(journalMode);") }
    }

    /// The flags that point a command at this fixture, with no configuration file and logs on stderr.
    var flags: [String] {
        ["--db", database, "--storage", storage, "--config", tmp.sub("none.conf"), "--log-target", "stderr"]
    }

    func touchConfig() { writeFile(tmp.sub("none.conf"), "") }

    static func text(hoursAgo: Double) -> StoredValue {
        ApplicationDatabase.text(UTCInstant.now().adding(microseconds: -Int64(hoursAgo * 3_600_000_000)))
    }

    /// Creates the export file for `id` stamped `hoursAgo`; returns its path.
    func makeFile(_ id: String, hoursAgo: Double, bytes: Int = 1) throws -> String {
        let stamp = UTCInstant.now().adding(microseconds: -Int64(hoursAgo * 3_600_000_000))
        let name = try ExportFileName(exportType: "hotels", jobID: id, secondsSinceEpoch: stamp.seconds, format: .csv)
        return try StorageDirectory(path: storage).writeFile(name, contents: [UInt8](repeating: 65, count: bytes))
    }

    /// Inserts rows and remembers what must happen to them.
    func add(_ rows: [(row: ApplicationDatabase.Row, due: CleanupRule?)]) throws {
        try db.insert(rows.map(\.row))
        for (row, due) in rows {
            jobs[row.id] = Job(id: row.id, status: row.status, filePath: row.filePath.text, due: due)
            order.append(row.id)
        }
    }

    /// Adds one generation of jobs under the default policy (24 h retention, 1 h failed age): `due` due
    /// completed jobs, `dueFailed` due failed ones, and a mix of jobs that must be kept (each with a file).
    func addGeneration(_ tag: String, due: Int, dueFailed: Int = 0, keep: Int = 0) throws {
        var rows: [(ApplicationDatabase.Row, CleanupRule?)] = []
        let old = Self.text(hoursAgo: 48)
        for index in 0..<due {
            let id = "\(tag)_c\(index)"
            let path = try makeFile(id, hoursAgo: 48)
            // Every fifth has an expires_at in the past as well.
            rows.append((.init(id: id, status: "completed", filePath: .text(path), createdAt: old, completedAt: old,
                               expiresAt: index % 5 == 0 ? Self.text(hoursAgo: 2) : .null), .completed))
        }
        for index in 0..<dueFailed {
            let id = "\(tag)_f\(index)"
            let path = try makeFile(id, hoursAgo: 2)
            rows.append((.init(id: id, status: "failed", filePath: .text(path), createdAt: Self.text(hoursAgo: 2),
                               errorMessage: "boom"), .failed))
        }
        for index in 0..<keep {
            let id = "\(tag)_k\(index)"
            let path = try makeFile(id, hoursAgo: 48)
            let row: ApplicationDatabase.Row
            switch index % 7 {
            case 0: row = .init(id: id, status: "completed", filePath: .text(path), createdAt: Self.text(hoursAgo: 1), completedAt: Self.text(hoursAgo: 1))
            case 1: row = .init(id: id, status: "completed", filePath: .text(path), createdAt: old, completedAt: old, expiresAt: Self.text(hoursAgo: -24))
            case 2: row = .init(id: id, status: "failed", filePath: .text(path), createdAt: Self.text(hoursAgo: 0.2))
            case 3: row = .init(id: id, status: "pending", filePath: .text(path), createdAt: old)
            case 4: row = .init(id: id, status: "processing", filePath: .text(path), createdAt: old)
            case 5: row = .init(id: id, status: "completed", filePath: .text(path), createdAt: old, completedAt: .integer(1_600_000_000))
            default: row = .init(id: id, status: "completed", filePath: .text(path), createdAt: old, completedAt: .text("yesterday"))
            }
            rows.append((row, nil))
        }
        try add(rows)
    }

    /// Forgets the expectation for a job the test changed itself (e.g. the application's retry).
    func replace(_ id: String, status: String, filePath: String?) {
        if jobs[id] == nil { order.append(id) }
        jobs[id] = Job(id: id, status: status, filePath: filePath, due: nil)
    }

    // MARK: Reading back

    struct Row: Decodable {
        var id: String
        var status: String
        var file_path: String?
    }

    /// Every row's `(status, file_path)`, read with the sqlite3 shell in JSON mode (so any text survives).
    func rows() throws -> [String: Row] {
        let output = try sqlite("SELECT id, status, CASE typeof(file_path) WHEN 'text' THEN file_path WHEN 'null' THEN NULL ELSE '<' || typeof(file_path) || '>' END AS file_path FROM export_jobs", json: true)
        let rows = output.isEmpty ? [] : try JSONDecoder().decode([Row].self, from: Data(output.utf8))
        return Dictionary(rows.map { ($0.id, $0) }) { first, _ in first }
    }

    @discardableResult
    func sqlite(_ sql: String, json: Bool = false) throws -> String {
        let result = try Binary.run((json ? ["-json"] : []) + ["-cmd", ".timeout 5000", database, sql], executable: "/usr/bin/sqlite3")
        guard result.status == 0 else { throw TestFailure("sqlite3 failed (\(result.status)): \(result.stderr)") }
        return result.stdout
    }

    // MARK: Invariants

    enum Phase {
        /// After an interrupted sweep: a due job is untouched, or its file is gone and its record not yet
        /// updated, or both done. Nothing else.
        case interrupted
        /// After a sweep that ran to the end: every due job is done, every other job untouched, and the
        /// storage directory holds exactly the files of the jobs kept.
        case final
    }

    /// The violated invariants (empty when all hold), at most `limit` listed.
    func violations(_ phase: Phase, limit: Int = 20) throws -> [String] {
        let rows = try rows()
        var problems: [String] = []
        var keptFiles = Set<String>()
        for id in order {
            guard let job = jobs[id] else { continue }
            guard let row = rows[id] else {
                problems.append("\(id): row vanished")
                continue
            }
            let fileThere = job.filePath.map(fileExists) ?? false
            let unchanged = row.status == job.status && row.file_path == job.filePath
            guard let rule = job.due else {
                if !unchanged { problems.append("\(id): a job that is not due changed: \(row.status) \(row.file_path ?? "NULL")") }
                if let path = job.filePath, !fileThere { problems.append("\(id): the file of a job that is not due was removed: \(path)") }
                if unchanged, let path = job.filePath { keptFiles.insert(path) }
                continue
            }
            let updated = row.status == rule.newStatus && row.file_path == nil
            if updated && fileThere { problems.append("\(id): record updated (\(row.status), NULL) while its file still exists") }
            if !updated && !unchanged { problems.append("\(id): record in an unexpected state: \(row.status) \(row.file_path ?? "NULL")") }
            if phase == .final {
                if !updated { problems.append("\(id): due, but its record was not updated: \(row.status) \(row.file_path ?? "NULL")") }
                if fileThere { problems.append("\(id): due, but its file is still there") }
            }
        }
        // Across all rows: no 'expired' or cleared record whose (known) file is still on disk.
        for (id, row) in rows where row.status == "expired" || row.file_path == nil {
            if let path = jobs[id]?.filePath, fileExists(path), jobs[id]?.due != nil {
                problems.append("\(id): record says \(row.status)/\(row.file_path ?? "NULL") but \(path) exists")
            }
        }
        if phase == .final {
            let listed = Set(((try? FileManager.default.contentsOfDirectory(atPath: storage)) ?? []).map { storage + "/" + $0 })
            for path in listed.subtracting(keptFiles).subtracting(abandonedFiles).sorted() { problems.append("file left behind: \(path)") }
        }
        return Array(problems.prefix(limit)) + (problems.count > limit ? ["... \(problems.count - limit) more"] : [])
    }

    /// Counts of due jobs: (file gone, record updated).
    func progress(prefix: String = "") throws -> (filesGone: Int, recordsUpdated: Int) {
        let rows = try rows()
        var gone = 0, updated = 0
        for job in jobs.values where job.id.hasPrefix(prefix) {
            guard let rule = job.due else { continue }
            if let path = job.filePath, !fileExists(path) { gone += 1 }
            if let row = rows[job.id], row.status == rule.newStatus, row.file_path == nil { updated += 1 }
        }
        return (gone, updated)
    }
}
