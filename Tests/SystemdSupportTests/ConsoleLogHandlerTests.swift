import Foundation
import Glibc
import Logging
import Synchronization
@testable import SystemdSupport
import TestSupport
import Testing

struct ConsoleLogHandlerTests {
    /// A console sink writing to a file in a temporary directory, read back as lines.
    final class Capture {
        let directory: TemporaryDirectory
        let consolePath: String
        let consoleFD: Int32

        init() throws {
            directory = TemporaryDirectory()
            consolePath = directory.sub("console")
            consoleFD = open(consolePath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
            guard consoleFD >= 0 else { throw TestFailure("open console file: errno \(errno)") }
        }

        func lines(_ path: String? = nil) throws -> [String] {
            let text = try String(contentsOfFile: path ?? consolePath, encoding: .utf8)
            return text.split(separator: "\n").map(String.init)
        }

        func close() {
            _ = Glibc.close(consoleFD)
            directory.remove()
        }
    }

    /// Counts how often its description is taken (to prove filtered messages are never formatted).
    final class Probe: CustomStringConvertible, Sendable {
        let evaluations = Mutex(0)
        var description: String {
            evaluations.withLock { $0 += 1 }
            return "probe"
        }
    }

    static var linePattern: Regex<(Substring, Substring, Substring, Substring, Substring)> {
        #/^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z) (\w+) ([^:]+): (.*)$/#
    }

    @Test func writesReadableLinesWithSortedMetadata() throws {
        let capture = try Capture()
        defer { capture.close() }
        let sink = try ConsoleLogSink(program: "test", consoleFD: capture.consoleFD)
        var handler = ConsoleLogHandler(
            label: "export-cleanup", sink: sink, metadataProvider: .init { ["provided": "p", "shared": "provider"] })
        handler[metadataKey: "sweep_id"] = "7"
        handler[metadataKey: "shared"] = "handler"
        let logger = Logger(label: "export-cleanup") { _ in handler }

        let before = time(nil)
        logger.info("Sweep done", metadata: ["bytes": "4096", "file": "a b.csv", "empty": "", "q": "say \"hi\""])
        logger.warning("two\nlines", metadata: ["shared": "call"])
        logger.error("failed", error: TestFailure("boom"))
        let after = time(nil)

        let lines = try capture.lines()
        try #require(lines.count == 3)
        let first = try #require(try Self.linePattern.wholeMatch(in: lines[0]))
        #expect(first.2 == "info")
        #expect(first.3 == "export-cleanup")
        #expect(
            first.4
                == #"Sweep done bytes=4096 empty="" file="a b.csv" provided=p q="say \"hi\"" shared=provider sweep_id=7"#)
        let stamp = String(first.1)
        #expect(stamp == ConsoleLogHandlerTests.format(before) || stamp == ConsoleLogHandlerTests.format(after))

        #expect(lines[1].hasSuffix(#" warning export-cleanup: two\nlines provided=p shared=call sweep_id=7"#))
        #expect(lines[2].contains(" error export-cleanup: failed error.message=boom error.type="))
    }

    @Test func filtersByLevelWithoutFormatting() throws {
        let capture = try Capture()
        defer { capture.close() }
        let sink = try ConsoleLogSink(program: "test", consoleFD: capture.consoleFD)
        var logger = Logger(label: "x") { _ in ConsoleLogHandler(label: "x", sink: sink) }
        logger.logLevel = .info
        let probe = Probe()

        logger.trace("\(probe)", metadata: ["m": "\(probe)"])
        logger.debug("\(probe)", metadata: ["m": "\(probe)"])
        #expect(probe.evaluations.withLock { $0 } == 0)
        #expect(try capture.lines().isEmpty)

        logger.notice("\(probe)")
        #expect(probe.evaluations.withLock { $0 } == 1)
        #expect(try capture.lines().count == 1)

        logger.logLevel = .debug
        logger.debug("now visible")
        #expect(try capture.lines().last?.hasSuffix(" debug x: now visible") == true)
    }

    @Test func prefixesPrioritiesOnTheConsoleOnly() throws {
        let capture = try Capture()
        defer { capture.close() }
        let logFile = capture.directory.sub("export-cleanup.log")
        let sink = try ConsoleLogSink(program: "test", consoleFD: capture.consoleFD, priorityPrefixes: true, logFilePath: logFile)
        var logger = Logger(label: "x") { _ in ConsoleLogHandler(label: "x", sink: sink) }
        logger.logLevel = .trace
        let levels: [(Logger.Level, String)] = [
            (.trace, "<7>"), (.debug, "<7>"), (.info, "<6>"), (.notice, "<5>"), (.warning, "<4>"), (.error, "<3>"),
            (.critical, "<2>"),
        ]
        for (level, _) in levels { logger.log(level: level, "m") }

        let console = try capture.lines()
        let file = try capture.lines(logFile)
        try #require(console.count == levels.count && file.count == levels.count)
        for (index, (level, prefix)) in levels.enumerated() {
            #expect(console[index].hasPrefix(prefix + "20"), "\(level): \(console[index])")
            #expect(console[index].dropFirst(prefix.count) == file[index])
            #expect(file[index].hasSuffix(" \(level.rawValue) x: m"))
        }

        var info = stat()
        #expect(stat(logFile, &info) == 0)
        #expect(info.st_mode & 0o777 & ~0o640 == 0, "log file mode \(String(info.st_mode & 0o777, radix: 8))")
    }

    @Test func appendsToAnExistingLogFile() throws {
        let capture = try Capture()
        defer { capture.close() }
        let logFile = capture.directory.sub("app.log")
        try "earlier line\n".write(toFile: logFile, atomically: false, encoding: .utf8)
        let sink = try ConsoleLogSink(program: "test", consoleFD: capture.consoleFD, logFilePath: logFile)
        Logger(label: "x") { _ in ConsoleLogHandler(label: "x", sink: sink) }.info("later")
        let lines = try capture.lines(logFile)
        #expect(lines.count == 2)
        #expect(lines.first == "earlier line")
        #expect(lines.last?.hasSuffix(" info x: later") == true)
    }

    @Test func aFullLogFileIsCountedNotFatal() throws {
        let capture = try Capture()
        defer { capture.close() }
        let sink = try ConsoleLogSink(program: "test", consoleFD: capture.consoleFD, logFilePath: "/dev/full")
        let logger = Logger(label: "x") { _ in ConsoleLogHandler(label: "x", sink: sink) }
        for index in 0..<5 { logger.info("line \(index)") }
        #expect(sink.failedWrites == 5)
        #expect(try capture.lines().count == 5)  // the console still gets every line
    }

    @Test func aClosedConsoleIsCountedNotFatal() throws {
        var fds: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
        _ = Glibc.close(fds[1])  // a stream whose reader is gone: EPIPE, and no SIGPIPE thanks to MSG_NOSIGNAL
        defer { _ = Glibc.close(fds[0]) }
        let sink = try ConsoleLogSink(program: "test", consoleFD: fds[0])
        Logger(label: "x") { _ in ConsoleLogHandler(label: "x", sink: sink) }.info("lost")
        #expect(sink.failedWrites == 1)
    }

    @Test func anUnopenableLogFileThrowsWithContext() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.sub("missing-dir/app.log")
        #expect(throws: ConsoleLogSink.OpenError(path: path, errorNumber: ENOENT)) {
            try ConsoleLogSink(program: "test", logFilePath: path)
        }
        let error = ConsoleLogSink.OpenError(path: path, errorNumber: ENOENT)
        #expect(error.description == "cannot open log file \(path): No such file or directory")
    }

    @Test func concurrentLinesDoNotInterleave() throws {
        let capture = try Capture()
        defer { capture.close() }
        let sink = try ConsoleLogSink(program: "test", consoleFD: capture.consoleFD)
        let logger = Logger(label: "x") { _ in ConsoleLogHandler(label: "x", sink: sink) }
        let payload = String(repeating: "y", count: 300)
        DispatchQueue.concurrentPerform(iterations: 8) { worker in
            for index in 0..<100 { logger.info("w\(worker) i\(index) \(payload)") }
        }
        let lines = try capture.lines()
        #expect(lines.count == 800)
        #expect(lines.allSatisfy { (try? Self.linePattern.wholeMatch(in: $0)) != nil && $0.hasSuffix(payload) })
    }

    static func format(_ seconds: time_t) -> String {
        var seconds = seconds
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02dZ", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
            parts.tm_hour, parts.tm_min, parts.tm_sec)
    }
}
