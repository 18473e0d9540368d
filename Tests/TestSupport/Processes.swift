import CoreSupport
public import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The build products directory: the test bundle, the `export-cleanup` binary and the probe are built there.
public let productsDirectory: String = {
    let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    return URL(fileURLWithPath: executable).deletingLastPathComponent().path
}()

/// What a finished process did.
public struct ProcessResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
    /// ``MonotonicClock`` microseconds just before the process was started and just after it exited.
    public var started: UInt64
    public var exited: UInt64

    /// Wall time from start to exit.
    public var seconds: Double { Double(exited - started) / 1e6 }
}

/// Runs `executable` to completion with exactly `environment` (`nil`: this process's), stdin from `/dev/null` and
/// its output collected through files. Calls `whileRunning` until it has exited (it must return soon); sends
/// `timeoutSignal` after `timeout` seconds.
public func runProcess(
    _ executable: String, _ arguments: [String], environment: [String: String]? = nil, cwd: String? = nil,
    timeout: Double? = nil, timeoutSignal: Int32 = SIGKILL, whileRunning: () -> Void = { usleep(2_000) }
) throws -> ProcessResult {
    let directory = TemporaryDirectory()
    defer { directory.remove() }
    let outPath = directory.sub("out"), errPath = directory.sub("err")
    _ = FileManager.default.createFile(atPath: outPath, contents: nil)
    _ = FileManager.default.createFile(atPath: errPath, contents: nil)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let environment { process.environment = environment }
    if let cwd { process.currentDirectoryURL = URL(fileURLWithPath: cwd) }
    process.standardInput = FileHandle.nullDevice
    process.standardOutput = FileHandle(forWritingAtPath: outPath)
    process.standardError = FileHandle(forWritingAtPath: errPath)
    let started = MonotonicClock.microseconds()
    try process.run()
    let deadline = timeout.map { started + UInt64($0 * 1_000_000) }
    while process.isRunning {
        if let deadline, MonotonicClock.microseconds() > deadline {
            kill(process.processIdentifier, timeoutSignal)
            break
        }
        whileRunning()
    }
    process.waitUntilExit()
    let exited = MonotonicClock.microseconds()
    return ProcessResult(
        status: process.terminationStatus, stdout: (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
        stderr: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "", started: started, exited: exited)
}

/// The built `export-cleanup` binary, run as a user would.
public enum Binary {
    public static var path: String { productsDirectory + "/export-cleanup" }

    public typealias Result = ProcessResult

    /// The environment without anything that would change the binary's configuration or logging.
    public static func environment(_ extra: [String: String] = [:]) -> [String: String] {
        var env = ProcessInfo.processInfo.environment
        for key in env.keys where key.hasPrefix("EXPORT_") || key == "NOTIFY_SOCKET" || key == "JOURNAL_STREAM" || key.hasPrefix("WATCHDOG_") {
            env[key] = nil
        }
        return env.merging(extra) { $1 }
    }

    /// Runs `executable` (the binary by default) to completion in ``environment(_:)`` plus `environment`.
    public static func run(_ arguments: [String], executable: String = Binary.path, environment: [String: String] = [:],
                           cwd: String? = nil) throws -> Result {
        try runProcess(executable, arguments, environment: Self.environment(environment), cwd: cwd)
    }

    /// Runs the binary as uid/gid 65534 (`setpriv --reuid=65534 --regid=65534 --clear-groups`), from a copy in
    /// `directory` (which must be searchable by that uid), so it runs wherever the build tree is. No user is created.
    public static func runUnprivileged(_ arguments: [String], copyInto directory: String, environment: [String: String] = [:])
        throws -> Result
    {
        let binary = directory + "/export-cleanup"
        if !FileManager.default.fileExists(atPath: binary) {
            try FileManager.default.copyItem(atPath: path, toPath: binary)
        }
        chmod(binary, 0o755)
        return try run(["--reuid=65534", "--regid=65534", "--clear-groups", binary] + arguments, executable: "/usr/bin/setpriv",
                       environment: environment)
    }
}

/// A background process (the daemon, or a sweep to kill), killed by PID if a test leaves it running.
public final class BackgroundProcess {
    public let process = Process()
    public let stderrPath: String

    public init(_ arguments: [String], executable: String = Binary.path, environment: [String: String] = [:], stderrPath: String? = nil) throws {
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

    public var pid: Int32 { process.processIdentifier }
    public var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    public func signal(_ number: Int32) { kill(pid, number) }

    /// Waits for exit; returns the status, or nil on timeout.
    public func waitForExit(timeout: Double) -> Int32? {
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

/// A real sd_notify listener: an AF_UNIX datagram socket, bound before the notifier starts, whose datagrams a
/// thread collects.
public final class NotifyListener: @unchecked Sendable {
    /// The value for `NOTIFY_SOCKET`: a path, or `@name` for the abstract namespace.
    public let path: String
    private let fd: Int32
    private let messages = Mutex<[String]>([])
    private let running = Atomic<Bool>(true)
    private var thread: Thread?

    /// Binds `notify.sock` in `directory`.
    public convenience init(directory: String) {
        self.init(address: directory + "/notify.sock")
    }

    /// Binds a fresh name in the abstract namespace.
    public static func abstract() -> NotifyListener {
        NotifyListener(address: "@export-cleanup-tests-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
    }

    private init(address: String) {
        path = address
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        precondition(fd >= 0, "socket: \(errno)")
        let abstract = address.hasPrefix("@")
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        var pathBytes = Array(address.utf8)
        if abstract { pathBytes[0] = 0 }  // '@' stands for the leading NUL of an abstract name
        precondition(pathBytes.count < MemoryLayout.size(ofValue: addr.sun_path), "\(address) is too long")
        withUnsafeMutableBytes(of: &addr.sun_path) { $0.copyBytes(from: pathBytes) }
        let length = MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + pathBytes.count + (abstract ? 0 : 1)
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(length)) }
        }
        precondition(bound == 0, "bind \(address): \(errno)")
        var timeout = timeval(tv_sec: 0, tv_usec: 100_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let thread = Thread { [self] in
            var buffer = [UInt8](repeating: 0, count: 65536)
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

    public var all: [String] { messages.withLock { $0 } }

    /// Every datagram so far, once there are at least `count` (or after `timeout` seconds).
    public func received(atLeast count: Int, timeout: Double = 2) -> [String] {
        let deadline = Date().addingTimeInterval(timeout)
        while all.count < count && Date() < deadline { usleep(2_000) }
        return all
    }

    /// Waits until a datagram after index `from` satisfies `predicate`; returns its index.
    @discardableResult
    public func wait(for description: String, from: Int = 0, timeout: Double = 20, _ predicate: (String) -> Bool) throws -> Int {
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
        if !path.hasPrefix("@") { unlink(path) }
    }
}

/// Creates a directory (mode 0700) and returns its path.
public func makeDirectory(_ path: String) -> String {
    mkdir(path, 0o700)
    return path
}
