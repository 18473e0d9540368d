// A child process for SystemdSupportTests: whatever depends on the process environment (NOTIFY_SOCKET,
// WATCHDOG_USEC, WATCHDOG_PID) runs here, with the variables in this process's environment as its parent
// spawned it, so the test process never changes its own environment.
//
// Usage:
//   SystemdSupportProbe IDENTIFIER
//       Logs a fixed set of entries through JournalLogHandler (for JournalLogHandlerTests) and prints
//       `failed=N` (the handler's failed writes).
//   SystemdSupportProbe notify MESSAGE...
//       Calls SystemdNotifier once per MESSAGE, in order, and prints each return value (`true` or `false`)
//       on its own line. MESSAGE is one of:
//         ready | reloading | stopping | watchdog
//         status TEXT
//         errno CODE TEXT
//         send COUNT KEY VALUE ...     (COUNT key-value pairs follow; COUNT may be 0)
//       TEXT, KEY and VALUE are taken literally (newlines included) except that `\0` stands for a NUL
//       character, which an argument cannot contain, and `\\` for a backslash.
//   SystemdSupportProbe watchdog
//       Prints `pid=` (getpid()), `env.WATCHDOG_USEC=` and `env.WATCHDOG_PID=` (each only when set), and
//       `libsystemd=` (libsystemd's `sd_watchdog_enabled(0, &usec)`) and `parsed=` (the pure parser given the same
//       variables and getpid()), each the timeout in microseconds or `off`.
// Exits 64 on a usage error.
import CSystemd
import Glibc
import Logging
import SystemdSupport

struct ProbeError: Error, CustomStringConvertible {
    var description: String { "probe failure" }
}

func usage(_ problem: String) -> Never {
    var text = "SystemdSupportProbe: \(problem)\nusage: SystemdSupportProbe IDENTIFIER | notify MESSAGE... | watchdog\n"
    text.withUTF8 { _ = write(STDERR_FILENO, $0.baseAddress, $0.count) }
    exit(64)
}

/// Decodes the escapes of a notify argument: `\0` is NUL, `\\` is a backslash; any other character stands for itself.
func unescape(_ argument: String) -> String {
    var result = ""
    var escaped = false
    for character in argument {
        if escaped {
            switch character {
            case "0": result.append("\u{0}")
            case "\\": result.append("\\")
            default: usage("unknown escape \\\(character) in \(argument)")
            }
            escaped = false
        } else if character == "\\" {
            escaped = true
        } else {
            result.append(character)
        }
    }
    if escaped { usage("trailing backslash in \(argument)") }
    return result
}

func notify(_ arguments: ArraySlice<String>) {
    let notifier = SystemdNotifier()
    var rest = arguments
    func next(_ what: String) -> String {
        guard let argument = rest.popFirst() else { usage("missing \(what)") }
        return argument
    }
    var results: [Bool] = []
    while let message = rest.popFirst() {
        switch message {
        case "ready":
            results.append(notifier.ready())
        case "reloading":
            results.append(notifier.reloading())
        case "stopping":
            results.append(notifier.stopping())
        case "watchdog":
            results.append(notifier.watchdogPing())
        case "status":
            results.append(notifier.status(unescape(next("status TEXT"))))
        case "errno":
            let codeText = next("errno CODE")
            guard let code = Int32(codeText) else { usage("errno CODE \(codeText) is not a number") }
            results.append(notifier.errno(code, status: unescape(next("errno TEXT"))))
        case "send":
            let countText = next("send COUNT")
            guard let count = Int(countText), count >= 0 else { usage("send COUNT \(countText) is not a count") }
            var assignments: [(String, String)] = []
            for _ in 0..<count {
                let key = unescape(next("send KEY"))
                assignments.append((key, unescape(next("send VALUE"))))
            }
            results.append(notifier.send(assignments))
        default:
            usage("unknown notify message \(message)")
        }
    }
    for result in results { print(result) }
}

func watchdog() {
    func variable(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }
    func describe(_ configuration: WatchdogConfiguration?) -> String {
        configuration.map { String($0.timeoutMicroseconds) } ?? "off"
    }
    let usec = variable("WATCHDOG_USEC"), pid = variable("WATCHDOG_PID")
    print("pid=\(getpid())")
    if let usec { print("env.WATCHDOG_USEC=\(usec)") }
    if let pid { print("env.WATCHDOG_PID=\(pid)") }
    var libsystemdUSec: UInt64 = 0
    let enabled = sd_watchdog_enabled(0, &libsystemdUSec) > 0
    print("libsystemd=\(describe(enabled ? WatchdogConfiguration(timeoutMicroseconds: libsystemdUSec) : nil))")
    print("parsed=\(describe(WatchdogConfiguration(watchdogUSec: usec, watchdogPID: pid, ownPID: getpid())))")
}

func journal(identifier: String) {
    var handler = JournalLogHandler(
        identifier: identifier,
        logLevel: .info,
        metadataProvider: Logger.MetadataProvider { ["provided.key": "from-provider"] })
    handler[metadataKey: "sweep_id"] = "1"
    let logger = Logger(label: "probe") { _ in handler }

    logger.info(
        "probe info",
        metadata: [
            "message_id": "8b6d4f3a2c1e4b5a9f0e1d2c3b4a5968",
            "export.job_id": "42",
            "bytes": "4096",
            "multi": "line one\nline two",
            "priority": "fake",
        ],
        file: "Probe/Fixed.swift", function: "probeFunction()", line: 4242)
    logger.debug("probe debug (filtered out)")
    logger.warning("probe warning\nsecond line", metadata: ["sweep_id": "2"])
    logger.error("probe error", error: ProbeError())
    logger.critical("probe critical")
    print("failed=\(handler.failedWrites)")
}

let arguments = CommandLine.arguments
switch arguments.dropFirst().first {
case "notify":
    notify(arguments.dropFirst(2))
case "watchdog":
    guard arguments.count == 2 else { usage("watchdog takes no arguments") }
    watchdog()
case let identifier? where arguments.count == 2:
    journal(identifier: identifier)
default:
    usage("no command")
}
