import ExportCleanup
import ExportStorage
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

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
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            let bytes = Array(path.utf8)
            raw.copyBytes(from: bytes.prefix(raw.count - 1))
        }
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

    /// All datagrams so far.
    var all: [String] { messages.withLock { $0 } }

    /// Waits until a datagram after index `from` satisfies `predicate`; returns its index.
    @discardableResult
    func wait(for description: String, from: Int = 0, timeout: Double = 10, _ predicate: (String) -> Bool) throws -> Int {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let current = all
            if current.count > from, let index = current[from...].firstIndex(where: predicate) { return index }
            usleep(20_000)
        }
        throw DaemonTestFailure("no datagram '\(description)' within \(timeout) s after #\(from); got: \(all)")
    }

    deinit {
        running.store(false, ordering: .relaxed)
        while thread?.isFinished == false { usleep(10_000) }
        close(fd)
        unlink(path)
    }
}

struct DaemonTestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The daemon binary running in the background; killed by PID if a test leaves it running.
final class DaemonProcess {
    let process = Process()
    let stderrPath: String

    init(_ arguments: [String], environment: [String: String], directory: String) throws {
        stderrPath = directory + "/daemon.stderr"
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: Binary.path)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for key in env.keys where key.hasPrefix("EXPORT_") || key == "NOTIFY_SOCKET" || key == "JOURNAL_STREAM" || key.hasPrefix("WATCHDOG_") {
            env[key] = nil
        }
        env.merge(environment) { $1 }
        process.environment = env
        process.standardError = FileHandle(forWritingAtPath: stderrPath)
        process.standardOutput = FileHandle.nullDevice
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }
    var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    func signal(_ number: Int32) { kill(pid, number) }

    /// Waits for exit; returns the status, or nil on timeout.
    func waitForExit(timeout: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        return process.isRunning ? nil : process.terminationStatus
    }

    deinit {
        if process.isRunning {
            kill(pid, SIGKILL)
            process.waitUntilExit()
        }
    }
}

/// A storage directory and database with the application's schema, and helpers to add jobs with files.
final class Fixture {
    let tmp = TemporaryDirectory()
    let database: String
    let storage: String
    let db: ApplicationDatabase

    init() throws {
        database = tmp.sub("app.db")
        storage = tmp.sub("exports")
        try StorageDirectory(path: storage).prepare()
        db = try ApplicationDatabase(creatingAt: database)
    }

    /// Adds a completed job with a file, completed `hoursAgo`; returns the file's path.
    @discardableResult
    func addCompleted(_ id: String, hoursAgo: Double, bytes: Int = 100) throws -> String {
        let completed = UTCInstant.now().adding(microseconds: -Int64(hoursAgo * 3_600_000_000))
        let name = try ExportFileName(exportType: "hotels", jobID: id, secondsSinceEpoch: completed.seconds, format: .csv)
        let path = try StorageDirectory(path: storage).writeFile(name, contents: [UInt8](repeating: 65, count: bytes))
        try db.insert([.init(id: id, status: "completed", filePath: .text(path), fileSizeBytes: Int64(bytes),
                             createdAt: ApplicationDatabase.text(completed), completedAt: ApplicationDatabase.text(completed))])
        return path
    }

    /// Adds many completed, due jobs with files in one transaction.
    func addManyDue(_ count: Int, prefix: String = "exp_bulk") throws {
        let completed = UTCInstant.now().adding(microseconds: -48 * 3_600_000_000)
        let directory = StorageDirectory(path: storage)
        var rows: [ApplicationDatabase.Row] = []
        rows.reserveCapacity(count)
        for index in 0..<count {
            let id = "\(prefix)\(index)"
            let name = try ExportFileName(exportType: "hotels", jobID: id, secondsSinceEpoch: completed.seconds, format: .csv)
            let path = try directory.writeFile(name, contents: [65])
            rows.append(.init(id: id, status: "completed", filePath: .text(path), fileSizeBytes: 1,
                              createdAt: ApplicationDatabase.text(completed), completedAt: ApplicationDatabase.text(completed)))
        }
        try db.insert(rows)
    }

    /// `(status, file_path)` of every row, by id, read with the sqlite3 shell.
    func rows() throws -> [String: (status: String, filePath: String?)] {
        let result = try sqlite(".mode list", "SELECT id, status, ifnull(file_path, '<NULL>') FROM export_jobs")
        var rows: [String: (String, String?)] = [:]
        for line in result.split(separator: "\n") {
            let parts = line.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 3 else { continue }
            rows[parts[0]] = (parts[1], parts[2] == "<NULL>" ? nil : parts[2])
        }
        return rows
    }

    func sqlite(_ commands: String...) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        process.arguments = [database] + commands
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }
}

func fileExists(_ path: String) -> Bool {
    var info = stat()
    return lstat(path, &info) == 0
}
