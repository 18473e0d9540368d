import Glibc
import SystemdSupport
import TestSupport
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
        }
    }
}

/// The pure parser agrees with libsystemd's `sd_watchdog_enabled`, both evaluated by `SystemdSupportProbe watchdog` in a
/// child process spawned with the variables in its environment.
struct WatchdogLibsystemdTests {
    /// How `WATCHDOG_PID` is set for the probe.
    enum PIDValue: Sendable, CustomTestStringConvertible {
        case unset
        /// The probe's own pid (`$$` of a shell that then `exec`s the probe, keeping its pid).
        case own
        /// The test process's pid: a parent's watchdog, inherited.
        case parent
        case literal(String)

        var testDescription: String {
            switch self {
            case .unset: return "unset"
            case .own: return "own"
            case .parent: return "parent"
            case .literal(let value): return "\"\(value)\""
            }
        }
    }

    /// The probe's `key=value` lines.
    static func probe(usec: String?, pid: PIDValue) throws -> [String: String] {
        var variables: [String: String] = [:]
        variables["WATCHDOG_USEC"] = usec
        let result: ProcessResult
        switch pid {
        case .own:
            result = try Probe.run(
                ["-c", "WATCHDOG_PID=$$; export WATCHDOG_PID; exec \"$0\" watchdog", Probe.path],
                environment: Probe.environment(variables), executable: "/bin/sh")
        case .unset, .parent, .literal:
            if case .parent = pid { variables["WATCHDOG_PID"] = String(getpid()) }
            if case .literal(let value) = pid { variables["WATCHDOG_PID"] = value }
            result = try Probe.run(["watchdog"], environment: Probe.environment(variables))
        }
        guard result.status == 0 else { throw TestFailure("probe exited \(result.status): \(result.stderr)") }
        var values: [String: String] = [:]
        for line in result.stdout.split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { throw TestFailure("unexpected probe output: \(result.stdout)") }
            values[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        return values
    }

    @Test(arguments: [
        (String?.none, PIDValue.unset, UInt64?.none),
        ("2000000", .unset, 2_000_000),
        ("2000000", .own, 2_000_000),
        ("2000000", .parent, nil),
        ("2000000", .literal("0"), nil),
        ("2000000", .literal("x"), nil),
        ("1", .unset, 1),
        ("0", .unset, nil),
        ("x", .unset, nil),
        ("", .unset, nil),
        ("18446744073709551615", .unset, nil),  // USEC_INFINITY
        ("18446744073709551616", .unset, nil),  // overflows
        (nil, .own, nil),
    ])
    func agreesWithLibsystemd(usec: String?, pid: PIDValue, timeout: UInt64?) throws {
        let values = try Self.probe(usec: usec, pid: pid)
        let ownPID = try #require(values["pid"].flatMap { Int32($0) }, "\(values)")
        #expect(values["env.WATCHDOG_USEC"] == usec)
        switch pid {
        case .unset: #expect(values["env.WATCHDOG_PID"] == nil)
        case .own: #expect(values["env.WATCHDOG_PID"] == String(ownPID))
        case .parent: #expect(values["env.WATCHDOG_PID"] == String(getpid()) && ownPID != getpid())
        case .literal(let value): #expect(values["env.WATCHDOG_PID"] == value)
        }
        let expected = timeout.map(String.init) ?? "off"
        #expect(values["libsystemd"] == expected, "sd_watchdog_enabled")
        #expect(values["parsed"] == expected, "WatchdogConfiguration(watchdogUSec:watchdogPID:ownPID:)")
        // The probe's parser saw the same inputs as this one would.
        let parsed = WatchdogConfiguration(
            watchdogUSec: values["env.WATCHDOG_USEC"], watchdogPID: values["env.WATCHDOG_PID"], ownPID: ownPID)
        #expect(parsed?.timeoutMicroseconds == timeout)
    }
}
