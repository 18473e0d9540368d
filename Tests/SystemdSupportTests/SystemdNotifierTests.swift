import Glibc
import TestSupport
import Testing

/// One `SystemdNotifier` call, made by `SystemdSupportProbe notify` in a child process.
enum NotifyMessage {
    case ready, reloading, stopping, watchdog
    case status(String)
    case errno(Int32, String)
    case send([(String, String)])

    /// The probe's arguments for this call.
    var arguments: [String] {
        switch self {
        case .ready: return ["ready"]
        case .reloading: return ["reloading"]
        case .stopping: return ["stopping"]
        case .watchdog: return ["watchdog"]
        case .status(let text): return ["status", Self.escape(text)]
        case .errno(let code, let text): return ["errno", String(code), Self.escape(text)]
        case .send(let assignments):
            return ["send", String(assignments.count)] + assignments.flatMap { [Self.escape($0.0), Self.escape($0.1)] }
        }
    }

    /// An argument cannot hold NUL: the probe reads `\0` as NUL and `\\` as a backslash.
    static func escape(_ text: String) -> String {
        var escaped = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": escaped += "\\\\"
            case "\u{0}": escaped += "\\0"
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }
}

/// What the probe's calls returned and the datagrams the socket received while it ran.
struct NotifyRun {
    var results: [Bool]
    var datagrams: [String]
    /// `CLOCK_MONOTONIC` (µs) before the probe was spawned and after it exited.
    var started: UInt64
    var exited: UInt64
}

/// Runs `SystemdSupportProbe notify` with `NOTIFY_SOCKET` set to `notifySocket` (unset when nil); `listener`
/// collects the datagrams while the probe runs (a unix datagram queue holds only `net.unix.max_dgram_qlen` messages).
func runNotifyProbe(_ messages: [NotifyMessage], notifySocket: String?, receivingOn listener: NotifyListener? = nil) throws
    -> NotifyRun
{
    let result = try Probe.run(
        ["notify"] + messages.flatMap(\.arguments), environment: Probe.environment(notifySocket.map { ["NOTIFY_SOCKET": $0] } ?? [:]))
    guard result.status == 0 else {
        throw TestFailure("probe exited \(result.status): \(result.stderr)")
    }
    let lines = result.stdout.split(separator: "\n")
    let results = try lines.map { line in
        guard let value = Bool(String(line)) else { throw TestFailure("unexpected probe output: \(result.stdout)") }
        return value
    }
    guard results.count == messages.count else {
        throw TestFailure("\(messages.count) messages, \(results.count) results: \(result.stdout)")
    }
    // Each delivered message is one datagram in the socket's queue by the time the probe exits.
    let datagrams = listener?.received(atLeast: results.filter { $0 }.count) ?? []
    return NotifyRun(results: results, datagrams: datagrams, started: result.started, exited: result.exited)
}

@Suite struct SystemdNotifierTests {
    @Test(arguments: [false, true])
    func sendsEachMessageAsOneDatagram(abstract: Bool) throws {
        let tmp = TemporaryDirectory()
        defer { tmp.remove() }
        let socket = abstract ? NotifyListener.abstract() : NotifyListener(directory: tmp.path)
        let cases: [(name: String, message: NotifyMessage, datagram: String)] = [
            ("ready", .ready, "READY=1"),
            ("stopping", .stopping, "STOPPING=1"),
            ("status", .status("Idle. Next 13:00 UTC."), "STATUS=Idle. Next 13:00 UTC."),
            ("status, multi-line", .status("a\nb"), "STATUS=a b"),
            ("status, NUL and backslash", .status("c\u{0}d\\0"), "STATUS=c d\\0"),
            ("watchdog", .watchdog, "WATCHDOG=1"),
            ("errno", .errno(28, "Disk full"), "STATUS=Disk full\nERRNO=28"),
            ("raw", .send([("EXTEND_TIMEOUT_USEC", "5000000"), ("X", "")]), "EXTEND_TIMEOUT_USEC=5000000\nX="),
            ("reloading", .reloading, "RELOADING=1"),  // checked below
        ]
        let run = try runNotifyProbe(cases.map(\.message), notifySocket: socket.path, receivingOn: socket)
        for (index, testCase) in cases.enumerated() {
            #expect(run.results[index], "\(testCase.name) not delivered")
        }
        try #require(run.datagrams.count == cases.count, "one datagram per message, got \(run.datagrams)")
        for (testCase, datagram) in zip(cases.dropLast(), run.datagrams) {
            #expect(datagram == testCase.datagram, "\(testCase.name)")
        }

        // RELOADING=1 comes with the CLOCK_MONOTONIC time it was sent at (the clock is system-wide).
        let datagram = try #require(run.datagrams.last)
        let lines = datagram.split(separator: "\n", omittingEmptySubsequences: false)
        try #require(lines.count == 2, "got \(datagram)")
        #expect(lines[0] == "RELOADING=1")
        #expect(lines[1].hasPrefix("MONOTONIC_USEC="))
        let usec = try #require(UInt64(lines[1].dropFirst("MONOTONIC_USEC=".count)))
        #expect(run.started <= usec && usec <= run.exited, "MONOTONIC_USEC \(usec) not in [\(run.started), \(run.exited)]")
    }

    @Test func invalidAssignmentsAreNotSent() throws {
        let tmp = TemporaryDirectory()
        defer { tmp.remove() }
        let socket = NotifyListener(directory: tmp.path)
        let invalid: [[(String, String)]] = [
            [],
            [("", "1")],
            [("A=B", "1")],
            [("A\nB", "1")],
            [("A\u{0}B", "1")],
            [("STATUS", "two\nlines")],
            [("STATUS", "nul\u{0}byte")],
            [("READY", "1"), ("STATUS", "two\nlines")],  // one bad assignment spoils the message
        ]
        // The final READY=1 shows the socket was reachable all along.
        let run = try runNotifyProbe(invalid.map { .send($0) } + [.ready], notifySocket: socket.path, receivingOn: socket)
        #expect(run.results == Array(repeating: false, count: invalid.count) + [true])
        #expect(run.datagrams == ["READY=1"])
    }

    @Test func withoutNotifySocketEverythingIsANoOp() throws {
        let run = try runNotifyProbe(
            [.ready, .reloading, .stopping, .status("x"), .watchdog, .errno(5, "x"), .send([("READY", "1")])],
            notifySocket: nil)
        #expect(run.results == Array(repeating: false, count: 7))
    }

    @Test(arguments: [false, true])
    func unreachableSocketReturnsFalse(abstract: Bool) throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let address =
            abstract
            ? "@systemd-support-tests-nobody-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            : directory.sub("nobody-listens")
        let run = try runNotifyProbe([.ready, .status("x")], notifySocket: address)
        #expect(run.results == [false, false])
    }
}
