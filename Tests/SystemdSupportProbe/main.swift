// Logs a fixed set of entries through JournalLogHandler, for JournalLogHandlerTests.
// Usage: SystemdSupportProbe IDENTIFIER
// Prints `failed=N` (the handler's failed writes) on stdout.
import Glibc
import Logging
import SystemdSupport

struct ProbeError: Error, CustomStringConvertible {
    var description: String { "probe failure" }
}

let arguments = CommandLine.arguments
guard arguments.count == 2 else {
    print("usage: SystemdSupportProbe IDENTIFIER")
    exit(64)
}

var handler = JournalLogHandler(
    identifier: arguments[1],
    logLevel: .info,
    metadataProvider: Logger.MetadataProvider { ["provided.key": "from-provider"] })
handler[metadataKey: "sweep_id"] = "1"
let logger = Logger(label: "probe") { _ in handler }

logger.info(
    "probe info",
    metadata: [
        JournalLogHandler.messageIDKey: "8b6d4f3a2c1e4b5a9f0e1d2c3b4a5968",
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
