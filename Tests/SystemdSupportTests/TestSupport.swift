import Foundation
import Glibc
import Testing

/// The SystemdSupportProbe executable (Tests/SystemdSupportProbe), run as a child process.
///
/// Tests never change their own environment (adding a variable can free the `environ` array while another thread,
/// such as one spawning a process, reads it): what depends on `NOTIFY_SOCKET` or `WATCHDOG_*` runs in the probe,
/// with the variables in the environment it is spawned with.
enum Probe {
    /// The probe sits next to the test bundle in the build products directory.
    static var path: String {
        var buffer = [UInt8](repeating: 0, count: Int(PATH_MAX))
        let count = buffer.withUnsafeMutableBufferPointer { bytes in
            bytes.withMemoryRebound(to: CChar.self) { readlink("/proc/self/exe", $0.baseAddress!, $0.count) }
        }
        let executable = count > 0 ? String(decoding: buffer[..<count], as: UTF8.self) : CommandLine.arguments[0]
        return URL(fileURLWithPath: executable).deletingLastPathComponent().appendingPathComponent("SystemdSupportProbe")
            .path
    }

    /// The variables the probe's results depend on; never inherited from the test process.
    static let controlledVariables: Set<String> = ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"]

    /// The test process's environment without ``controlledVariables``, plus `variables`.
    static func environment(_ variables: [String: String]) -> [String: String] {
        ProcessInfo.processInfo.environment.filter { !controlledVariables.contains($0.key) }.merging(variables) { $1 }
    }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        /// `CLOCK_MONOTONIC` (µs) just before the child was spawned and just after it exited.
        var started: UInt64
        var exited: UInt64
    }

    /// Runs `executable` (the probe by default) with exactly `environment`, calling `whileRunning` repeatedly until it
    /// has exited (it must return soon); sends it `timeoutSignal` after `timeout` seconds.
    static func run(
        _ arguments: [String], environment: [String: String], executable: String = Probe.path, timeout: Double = 60, timeoutSignal: Int32 = SIGKILL,
        whileRunning: () -> Void = { usleep(10_000) }
    ) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = environment
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let outPath = directory.file("out"), errPath = directory.file("err")
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        let err = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        let started = monotonicMicroseconds()
        try process.run()
        let deadline = monotonicMicroseconds() + UInt64(timeout * 1_000_000)
        while process.isRunning {
            if monotonicMicroseconds() > deadline {
                kill(process.processIdentifier, timeoutSignal)
                break
            }
            whileRunning()
        }
        process.waitUntilExit()
        let exited = monotonicMicroseconds()
        try out.close()
        try err.close()
        return Result(
            status: process.terminationStatus, stdout: (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "", started: started, exited: exited)
    }
}

/// A fresh directory under the system temporary directory, removed with its contents by `remove()`.
struct TemporaryDirectory {
    let path: String

    init() throws {
        var template = Array((NSTemporaryDirectory() + "/systemd-support-tests.XXXXXX").utf8CString)
        let created = template.withUnsafeMutableBufferPointer { buffer in
            mkdtemp(buffer.baseAddress!).map { String(cString: $0) }
        }
        guard let created else { throw TestFailure("mkdtemp failed: errno \(errno)") }
        path = created
    }

    func file(_ name: String) -> String {
        path + "/" + name
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// `CLOCK_MONOTONIC` now, in microseconds.
func monotonicMicroseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1_000
}
