import ArgumentParser
import CoreSupport
import ExportCleanup
import ExportCleanupConfig
import Foundation

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Shows the last sweep (of the daemon or of a one-shot sweep) and exits non-zero when it needs attention.",
        discussion: """
            Reads last-sweep.json from the state directory, which the daemon and the one-shot sweep write after \
            every sweep (dry runs excepted): when, how long, the counts per rule, bytes freed, the problems, and \
            the daemon's next sweep. Works as a monitoring check (the exit codes are those of Nagios-style checks):

              0  OK: the last sweep ran to the end without failed files or refused records
              1  WARNING: it ran to the end, but files could not be removed or records were refused
              2  CRITICAL: it was aborted or could not run, or it is older than twice the interval \
            (EXPORT_CLEANUP_INTERVAL_SECONDS of the process that swept): no sweep is running
              3  UNKNOWN: no sweep was recorded in the state directory yet, or its status cannot be read
              78 no state directory is configured (or another configuration error)

            Examples:
              export-cleanup status --state-directory /var/lib/export-cleanup
              export-cleanup status --state-directory /var/lib/export-cleanup --json
            """)

    @OptionGroup var file: ConfigFileOption
    @OptionGroup var stateDirectory: StateDirectoryOption

    @Flag(help: "Print the last sweep and the check's verdict as JSON.")
    var json = false

    func run() throws {
        let settings = try loadSettings(config: file.config, flags: stateDirectory.flags)
        guard let directory = settings.stateDirectory else {
            throw fail("no state directory is configured: pass --state-directory DIR (the units keep it in "
                       + "/var/lib/export-cleanup, StateDirectory=export-cleanup) or set \(SettingKey.stateDirectory.rawValue)",
                       code: Exit.config)
        }
        let check: StatusCheck
        switch LastSweep.read(directory: directory) {
        case .failure(let error):
            check = StatusCheck(state: .unknown, reason: error.message, last: nil, now: .now())
        case .success(nil):
            check = StatusCheck(state: .unknown, reason: "no sweep recorded in \(directory) yet", last: nil, now: .now())
        case .success(let last?):
            check = StatusCheck.judge(last, now: .now())
        }
        if json {
            print(jsonText(check))
        } else {
            print(statusText(check))
        }
        throw ExitCode(check.state.exitCode)
    }
}

/// The verdict on the last sweep.
struct StatusCheck: Encodable {
    enum State: String, Encodable {
        case ok, warning, critical, unknown

        var exitCode: Int32 {
            switch self {
            case .ok: 0
            case .warning: 1
            case .critical: 2
            case .unknown: 3
            }
        }
    }

    var state: State
    var reason: String
    var last: LastSweep?
    var now: UTCInstant
    var ageSeconds: Int64?

    init(state: State, reason: String, last: LastSweep?, now: UTCInstant) {
        self.state = state
        self.reason = reason
        self.last = last
        self.now = now
        ageSeconds = last.map { (now.microseconds - $0.endedAt.microseconds) / 1_000_000 }
    }

    /// Stale (older than twice the interval) or not run to the end: critical; failed or refused: warning.
    static func judge(_ last: LastSweep, now: UTCInstant) -> StatusCheck {
        let age = (now.microseconds - last.endedAt.microseconds) / 1_000_000
        let limit = Int64(last.intervalSeconds) * 2
        if age > limit {
            return StatusCheck(state: .critical, reason: "the last sweep ended \(duration(age)) ago, more than twice the "
                               + "\(last.intervalSeconds) s interval: is the \(last.kind == .daemon ? "daemon" : "timer") running?",
                               last: last, now: now)
        }
        switch last.outcome {
        case "failed": return StatusCheck(state: .critical, reason: "the last sweep could not run: \(last.error ?? "")", last: last, now: now)
        case "aborted": return StatusCheck(state: .critical, reason: "the last sweep was aborted: \(last.error ?? "")", last: last, now: now)
        default: break
        }
        let total = last.report?.total ?? SweepReport.Counts()
        if total.failed + total.refused > 0 {
            let parts = [total.failed > 0 ? "\(total.failed) files could not be removed" : nil,
                         total.refused > 0 ? "\(total.refused) records were refused" : nil].compactMap { $0 }
            return StatusCheck(state: .warning, reason: parts.joined(separator: " and ") + " (see the problems)", last: last, now: now)
        }
        return StatusCheck(state: .ok, reason: "the last sweep ran to the end \(duration(age)) ago", last: last, now: now)
    }
}

/// `42 s`, `12 min`, `3 h 5 min`, `2 d 4 h`.
func duration(_ seconds: Int64) -> String {
    let s = max(0, seconds)
    if s < 120 { return "\(s) s" }
    if s < 7200 { return "\(s / 60) min" }
    if s < 172_800 { return "\(s / 3600) h \(s % 3600 / 60) min" }
    return "\(s / 86400) d \(s % 86400 / 3600) h"
}

/// The readable status.
func statusText(_ check: StatusCheck) -> String {
    var lines: [String] = []
    if let last = check.last {
        let who = last.kind == .daemon ? "daemon, pid \(last.pid)" : "one-shot sweep, pid \(last.pid)"
        lines.append("Last sweep (\(who)): started \(last.startedAt.iso8601), ended \(last.endedAt.iso8601) "
                     + "(\(duration(check.ageSeconds ?? 0)) ago), took \(String(format: "%.3f", last.report?.durationSeconds ?? Double(last.endedAt.microseconds - last.startedAt.microseconds) / 1e6)) s")
        lines.append("  database \(last.databasePath), storage \(last.storagePath), interval \(last.intervalSeconds) s")
        lines.append("  outcome: \(last.outcome)\(last.error.map { ": \($0)" } ?? "") (exit code \(last.exitCode))")
        if let report = last.report {
            let header = ["rule", "due", "removed", "missing", "failed", "refused", "undecidable", "freed", "updated", "changed"]
            var table = [header]
            for (name, counts) in [("completed", report.completed), ("failed", report.failed), ("total", report.total)] {
                table.append([name, "\(counts.due)", "\(counts.removed)", "\(counts.alreadyMissing)", "\(counts.failed)", "\(counts.refused)",
                              "\(counts.undecidable)", humanBytes(counts.bytesFreed), "\(counts.recordsUpdated)", "\(counts.changedMeanwhile)"])
            }
            let widths = (0..<header.count).map { column in table.map { $0[column].count }.max() ?? 0 }
            for row in table {
                let cells = zip(row, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  ")
                lines.append("  " + String(cells.reversed().drop { $0 == " " }.reversed()))
            }
            for problem in report.problems.prefix(20) {
                lines.append("  \(problem.kind.rawValue) \(problem.rule.rawValue) job \(problem.jobID) file_path \(problem.filePath): \(problem.reason)")
            }
            let more = report.problems.count - min(report.problems.count, 20) + report.problemsNotListed
            if more > 0 { lines.append("  ... and \(more) more problems (export-cleanup status --json, or the journal)") }
        }
        if let files = last.storageFiles, let bytes = last.storageBytes {
            lines.append("  storage after: \(files) files, \(humanBytes(bytes))")
        }
        if let success = last.lastSuccessAt { lines.append("  last sweep that ran to the end: \(success.iso8601)") }
        if let next = last.nextSweepAt {
            let wait = (next.microseconds - check.now.microseconds) / 1_000_000
            lines.append("  next sweep: \(next.iso8601)" + (wait >= 0 ? " (in \(duration(wait)))" : " (due)"))
        }
    }
    lines.append("\(check.state.rawValue.uppercased()): \(check.reason)")
    return lines.joined(separator: "\n")
}
