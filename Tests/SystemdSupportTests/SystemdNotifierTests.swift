import Glibc
import SystemdSupport
import Testing

/// A bound `SOCK_DGRAM` unix socket standing in for systemd's notification socket.
final class NotifySocket {
    /// The value for `NOTIFY_SOCKET`: a path, or `@name` for the abstract namespace.
    let address: String
    private let fd: Int32
    private let directory: TemporaryDirectory?

    init(abstract: Bool) throws {
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket: errno \(errno)") }
        if abstract {
            directory = nil
            address = "@systemd-support-tests-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        } else {
            let directory = try TemporaryDirectory()
            self.directory = directory
            address = directory.file("notify")
        }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        var pathBytes = Array(address.utf8)
        if abstract { pathBytes[0] = 0 }  // '@' stands for the leading NUL of an abstract name
        guard pathBytes.count < MemoryLayout.size(ofValue: addr.sun_path) else { throw TestFailure("path too long") }
        withUnsafeMutableBytes(of: &addr.sun_path) { $0.copyBytes(from: pathBytes) }
        let length = MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + pathBytes.count + (abstract ? 0 : 1)
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(length)) }
        }
        guard bound == 0 else { throw TestFailure("bind \(address): errno \(errno)") }
    }

    /// The next datagram, or nil when none arrives within `timeoutMilliseconds`.
    func receive(timeoutMilliseconds: Int32 = 2000) -> String? {
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, timeoutMilliseconds) == 1 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 65536)
        let count = recv(fd, &buffer, buffer.count, 0)
        guard count >= 0 else { return nil }
        return String(decoding: buffer[..<count], as: UTF8.self)
    }

    func close() {
        _ = Glibc.close(fd)
        directory?.remove()
    }
}

extension ProcessEnvironmentTests {
    @Suite struct SystemdNotifierTests {
        let notifier = SystemdNotifier()

        @Test(arguments: [false, true])
        func sendsEachMessageAsOneDatagram(abstract: Bool) throws {
            let socket = try NotifySocket(abstract: abstract)
            defer { socket.close() }
            try withEnvironment(["NOTIFY_SOCKET": socket.address]) {
                let cases: [(String, () -> Bool, String)] = [
                    ("ready", { notifier.ready() }, "READY=1"),
                    ("stopping", { notifier.stopping() }, "STOPPING=1"),
                    ("status", { notifier.status("Idle. Next 13:00 UTC.") }, "STATUS=Idle. Next 13:00 UTC."),
                    ("status, multi-line", { notifier.status("a\nb") }, "STATUS=a b"),
                    ("watchdog", { notifier.watchdogPing() }, "WATCHDOG=1"),
                    ("errno", { notifier.errno(28, status: "Disk full") }, "STATUS=Disk full\nERRNO=28"),
                    ("raw", { notifier.send([("EXTEND_TIMEOUT_USEC", "5000000"), ("X", "")]) },
                     "EXTEND_TIMEOUT_USEC=5000000\nX="),
                ]
                for (name, send, expected) in cases {
                    #expect(send(), "\(name) not delivered")
                    #expect(socket.receive() == expected, "\(name)")
                }

                let before = monotonicMicroseconds()
                #expect(notifier.reloading())
                let after = monotonicMicroseconds()
                let datagram = try #require(socket.receive())
                let lines = datagram.split(separator: "\n", omittingEmptySubsequences: false)
                try #require(lines.count == 2, "got \(datagram)")
                #expect(lines[0] == "RELOADING=1")
                #expect(lines[1].hasPrefix("MONOTONIC_USEC="))
                let usec = try #require(UInt64(lines[1].dropFirst("MONOTONIC_USEC=".count)))
                #expect(before <= usec && usec <= after, "MONOTONIC_USEC \(usec) not in [\(before), \(after)]")
            }
        }

        @Test func invalidAssignmentsAreNotSent() throws {
            let socket = try NotifySocket(abstract: false)
            defer { socket.close() }
            withEnvironment(["NOTIFY_SOCKET": socket.address]) {
                #expect(!notifier.send([]))
                #expect(!notifier.send([("", "1")]))
                #expect(!notifier.send([("A=B", "1")]))
                #expect(!notifier.send([("STATUS", "two\nlines")]))
                #expect(!notifier.send([("STATUS", "nul\u{0}byte")]))
                #expect(socket.receive(timeoutMilliseconds: 100) == nil)
            }
        }

        @Test func withoutNotifySocketEverythingIsANoOp() {
            withEnvironment(["NOTIFY_SOCKET": nil]) {
                #expect(!notifier.ready())
                #expect(!notifier.reloading())
                #expect(!notifier.stopping())
                #expect(!notifier.status("x"))
                #expect(!notifier.watchdogPing())
                #expect(!notifier.errno(5, status: "x"))
                #expect(!notifier.send([("READY", "1")]))
            }
        }

        @Test func unreachableSocketReturnsFalse() throws {
            let directory = try TemporaryDirectory()
            defer { directory.remove() }
            withEnvironment(["NOTIFY_SOCKET": directory.file("nobody-listens")]) {
                #expect(!notifier.ready())
            }
        }
    }
}
