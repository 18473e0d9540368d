import Glibc
import SystemdSupport
import Testing

struct WatchdogConfigurationTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let usec: String?
        let pid: String?
        let ownPID: Int32
        /// Expected ping interval in µs, nil when the watchdog is off.
        let interval: UInt64?
        var testDescription: String { "USEC=\(usec ?? "unset") PID=\(pid ?? "unset") own=\(ownPID)" }
    }

    static let cases: [Case] = [
        Case(usec: nil, pid: nil, ownPID: 100, interval: nil),
        Case(usec: "1000000", pid: nil, ownPID: 100, interval: 500_000),
        Case(usec: "30000000", pid: "100", ownPID: 100, interval: 15_000_000),
        Case(usec: "30000000", pid: "101", ownPID: 100, interval: nil),  // a parent's watchdog
        Case(usec: "3", pid: nil, ownPID: 100, interval: 1),  // rounds down
        Case(usec: "1", pid: nil, ownPID: 100, interval: 1),  // never zero
        Case(usec: "0", pid: nil, ownPID: 100, interval: nil),
        Case(usec: "", pid: nil, ownPID: 100, interval: nil),
        Case(usec: "-5", pid: nil, ownPID: 100, interval: nil),
        Case(usec: "+5", pid: nil, ownPID: 100, interval: nil),
        Case(usec: " 5", pid: nil, ownPID: 100, interval: nil),
        Case(usec: "5s", pid: nil, ownPID: 100, interval: nil),
        Case(usec: "18446744073709551615", pid: nil, ownPID: 100, interval: nil),  // USEC_INFINITY
        Case(usec: "18446744073709551616", pid: nil, ownPID: 100, interval: nil),  // overflows
        Case(usec: "1000000", pid: "", ownPID: 100, interval: nil),
        Case(usec: "1000000", pid: "abc", ownPID: 100, interval: nil),
        Case(usec: "1000000", pid: "0", ownPID: 0, interval: nil),
        Case(usec: nil, pid: "100", ownPID: 100, interval: nil),
    ]

    @Test(arguments: cases)
    func parses(_ testCase: Case) {
        let configuration = WatchdogConfiguration(
            watchdogUSec: testCase.usec, watchdogPID: testCase.pid, ownPID: testCase.ownPID)
        #expect(configuration?.pingIntervalMicroseconds == testCase.interval)
        if let configuration, let usec = testCase.usec {
            #expect(configuration.timeoutMicroseconds == UInt64(usec))
            #expect(configuration.pingInterval == .microseconds(Int64(configuration.pingIntervalMicroseconds)))
        }
    }
}

extension ProcessEnvironmentTests {
    /// The pure parser agrees with libsystemd's `sd_watchdog_enabled`.
    @Suite struct WatchdogLibsystemdTests {
        @Test(arguments: [
            ("2000000", String?.none), ("2000000", "own"), ("2000000", "other"), ("0", String?.none), ("x", String?.none),
        ])
        func agreesWithLibsystemd(usec: String, pid: String?) {
            let own = getpid()
            let pidValue = pid.map { $0 == "own" ? String(own) : String(own + 1) }
            withEnvironment(["WATCHDOG_USEC": usec, "WATCHDOG_PID": pidValue]) {
                let parsed = WatchdogConfiguration(watchdogUSec: usec, watchdogPID: pidValue, ownPID: own)
                #expect(WatchdogConfiguration.fromLibsystemd() == parsed)
            }
        }
    }
}
