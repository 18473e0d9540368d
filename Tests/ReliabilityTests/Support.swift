import ExportCleanup
import ExportCleanupDemo
import ExportStorage
import Foundation
import Synchronization
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The reliability suites run one at a time: kill timings and lock holds must not compete with each other for
/// the machine's cores. Helpers shared with the other test targets live in TestSupport.
@Suite(.serialized) struct Reliability {}

// MARK: - Seed and timing

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

extension Binary {
    /// `sweep` over a fixture with the given extra flags.
    static func sweep(_ fixture: Fixture, _ extra: [String] = []) throws -> Result {
        try run(["sweep"] + fixture.flags + extra)
    }
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
final class Fixture: ExportFixture {
    /// The jobs written so far and what the sweep must do to each.
    private(set) var expected = ExpectedJobs()
    var jobs: [String: ExpectedJob] { expected.jobs }
    /// Files no record names any more (e.g. a partial file the application abandoned on retry): not checked.
    var abandonedFiles = Set<String>()

    /// - Parameter journalMode: `delete` (SQLite's default, as SQLAlchemy leaves it) or `wal`.
    init(journalMode: String = "delete", memory: Bool = false) throws {
        try super.init(memory: memory)
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
        try writeExport(id, stamp: UTCInstant.now().adding(hours: -hoursAgo), bytes: bytes)
    }

    /// Inserts rows and remembers what must happen to them.
    func add(_ rows: [(row: ApplicationDatabase.Row, due: CleanupRule?)]) throws {
        try db.insert(rows.map(\.row))
        for (row, due) in rows { expected.add(ExpectedJob(id: row.id, status: row.status, filePath: row.filePath.text, due: due)) }
    }

    /// Adds one generation of jobs under the default policy (24 h retention, 1 h failed age): `due` due
    /// completed jobs, `dueFailed` due failed ones, a mix of jobs that must be kept (each with a file), and
    /// `recent` jobs completed an hour ago (kept, with a file).
    ///
    /// A realistic table references the files of its retention window besides the due ones: the mass-deletion
    /// brake refuses a sweep that would remove more than 90% of the referenced files (and more than 1,000), so a
    /// fixture with more than 1,000 due jobs adds at least a ninth of them as `recent` ones (a quarter: a backlog
    /// of a few days, as after downtime).
    func addGeneration(_ tag: String, due: Int, dueFailed: Int = 0, keep: Int = 0, recent: Int? = nil) throws {
        var rows: [(ApplicationDatabase.Row, CleanupRule?)] = []
        let recentCount = recent ?? (due + dueFailed > 1000 ? (due + dueFailed) / 4 : 0)
        for index in 0..<recentCount {
            let id = "\(tag)_r\(index)"
            let path = try makeFile(id, hoursAgo: 1)
            rows.append((.init(id: id, status: "completed", filePath: .text(path), createdAt: Self.text(hoursAgo: 1.1),
                               completedAt: Self.text(hoursAgo: 1)), nil))
        }
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
        expected.add(ExpectedJob(id: id, status: status, filePath: filePath, due: nil))
    }

    // MARK: Invariants

    /// The violated invariants (empty when all hold), at most `limit` listed (see ``ExpectedJobs``).
    func violations(_ phase: ExpectedJobs.Phase, limit: Int = 20) throws -> [String] {
        expected.violations(phase, rows: try readBack(), storage: storage, ignoring: abandonedFiles, limit: limit)
    }

    /// Counts of due jobs: (file gone, record updated).
    func progress(prefix: String = "") throws -> (filesGone: Int, recordsUpdated: Int) {
        expected.progress(rows: try readBack(), prefix: prefix)
    }

    private func readBack() throws -> [String: (status: String, filePath: String?)] {
        try rows().mapValues { ($0.status, $0.file_path) }
    }
}
