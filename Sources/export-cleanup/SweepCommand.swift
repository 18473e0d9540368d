import ArgumentParser
import ExportCleanup
import ExportCleanupConfig
import ExportStorage
import Foundation
import Logging
import Synchronization

struct SweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Runs one sweep: removes due files and updates their records, then prints the report.",
        discussion: """
            Completed jobs past retention (and past expires_at, if set) lose their file and become 'expired'; \
            failed jobs older than the failed age lose their partial file. Missing files are not errors; \
            nothing outside the storage directory is touched. Exit codes: 0 done, 1 some files could not be \
            removed or were refused, 65 bad schema, 66 missing database or storage, 75 locked or refused by the \
            mass-deletion brake, 78 configuration. \
            SIGTERM, SIGINT or SIGHUP stop it after the file in hand: what was decided is claimed and its files \
            removed, the report says interrupted, and the exit status is as above (0 when nothing failed).

            The report includes the storage directory's files and bytes before and after the sweep; that costs \
            one pass over the directory after the sweep (the counts before are derived from it and the files \
            removed): readdir + fstatat of every entry, about a quarter of a second per 150,000 \
            files. --no-stats skips it (no storage_before / storage_after in --json); the daemon never \
            computes them.

            Mass-deletion brake: a sweep that would remove more than EXPORT_CLEANUP_MAX_DELETE_PERCENT (90) percent \
            of the export files the table references and more than EXPORT_CLEANUP_MAX_DELETE_MIN_FILES (1000) \
            files removes nothing, says why and exits 75: a clock years ahead or a retention of minutes by mistake \
            would otherwise empty the directory. --allow-mass-deletion runs one such sweep on purpose.

            Examples:
              export-cleanup sweep --db /srv/app/app.db --storage /srv/app/exports --dry-run
              export-cleanup sweep --db /srv/app/app.db --storage /srv/app/exports --retention-hours 48 --json
              export-cleanup sweep --db /srv/app/app.db --storage /srv/app/exports --no-stats
              export-cleanup sweep --db /srv/app/app.db --storage /srv/app/exports --allow-mass-deletion
            """)

    @OptionGroup var settings: SettingsOptions

    @Flag(name: .customLong("dry-run"), help: "List what would be removed; change nothing.")
    var dryRun = false

    @Flag(help: "Wait for another sweep holding the lock instead of exiting 75.")
    var wait = false

    @Flag(name: .customLong("allow-mass-deletion"),
          help: "Run this one sweep without the mass-deletion brake (EXPORT_CLEANUP_MAX_DELETE_PERCENT / _MIN_FILES), on purpose.")
    var allowMassDeletion = false

    @Flag(help: "Print the report as JSON on stdout.")
    var json = false

    @Flag(name: .customLong("no-stats"), help: "Skip counting the storage directory (one pass over it after the sweep).")
    var noStats = false

    @Option(name: .customLong("log-file"), help: "Also append log lines to this file.")
    var logFile: String?

    @Flag(name: [.customShort("v"), .customLong("verbose")], help: "Log each removed file (debug level).")
    var verbose = false

    func run() throws {
        Signals.block()
        var extra: [SettingKey: String] = [:]
        if dryRun { extra[.dryRun] = "true" }
        if verbose { extra[.logLevel] = "debug" }
        let resolved = try loadSettings(settings, extraFlags: extra)
        let logger = try LoggingSetup.bootstrap(target: settings.logTarget, level: resolved.loggerLevel, logFile: logFile)
        // SIGTERM, SIGINT or SIGHUP: finish the file in hand, claim what was decided, remove those files, exit.
        let stop = StopRequest()
        let sources = Signals.handle(Signals.handled, on: DispatchQueue(label: "export-cleanup.signals")) { [logger] signal in
            if stop.request() { logger.info("stopping on \(Signals.name(signal)): finishing the batch in hand") }
        }
        defer { withExtendedLifetime(sources) {} }
        // On a terminal: a live progress line on stderr (never with --json or under the journal).
        let progress = SweepProgress.start(settings: resolved, json: json)
        defer { progress?.finish() }
        let outcome = try SweepRun.once(resolved, wait: wait, statistics: !noStats, allowMassDeletion: allowMassDeletion, logger: logger,
                                        records: SweepRecords(kind: .sweep),
                                        isCancelled: { stop.isRequested }, onProgress: { progress?.update($0) }) { item in
            progress?.item(item)
            if resolved.dryRun && !json, case .wouldRemove(let bytes) = item.outcome {
                let line = "would remove  \(item.rule.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0)) \(item.job.id)  \(item.job.filePath.text ?? "")  (\(bytes) bytes)  "
                    + "[rule \(item.rule.rawValue), \(resolved.policy.applied(to: item.job, rule: item.rule).describe(item.rule))]"
                if let progress { progress.printing(line) } else { print(line) }
            }
        }
        progress?.finish()
        if json {
            print(jsonText(SweepOutput(outcome)))
        } else {
            print(sweepText(outcome))
        }
        throw outcome.exitCode
    }
}

/// A stop asked for by a signal, read by the sweep between files.
final class StopRequest: Sendable {
    private let requested = Atomic<Bool>(false)

    /// Records the request; `true` the first time.
    func request() -> Bool { !requested.exchange(true, ordering: .relaxed) }

    /// Whether a stop was asked for.
    var isRequested: Bool { requested.load(ordering: .relaxed) }
}

/// What `sweep` (and `demo`) print as JSON.
struct SweepOutput: Encodable {
    var report: SweepReport
    var storageBefore: StatsReport?
    var storageAfter: StatsReport?

    init(_ outcome: SweepRun.Outcome) {
        report = outcome.report
        storageBefore = outcome.before.map { StatsReport(outcome.storagePath, $0) }
        storageAfter = outcome.after.map { StatsReport(outcome.storagePath, $0) }
    }
}

/// The readable report of a sweep.
func sweepText(_ outcome: SweepRun.Outcome) -> String {
    let report = outcome.report
    var lines: [String] = []
    if let before = outcome.before {
        lines.append("Storage before: \(before.totalFiles) files, \(humanBytes(before.totalBytes))")
    }
    for problem in report.problems {
        lines.append("\(problem.kind.rawValue.padding(toLength: 11, withPad: " ", startingAt: 0)) \(problem.rule.rawValue) job \(problem.jobID) file_path \(problem.filePath): \(problem.reason)")
    }
    if report.problemsNotListed > 0 { lines.append("... and \(report.problemsNotListed) more problems (see the log)") }
    lines.append(report.dryRun ? "Dry run (nothing changed), sweep \(report.sweepID) at \(report.now):" : "Sweep \(report.sweepID) at \(report.now):")
    let header = ["rule", "due", report.dryRun ? "would remove" : "removed", "missing", "failed", "refused", "undecidable", "freed", "updated", "changed"]
    var table = [header]
    for (name, counts) in [("completed", report.completed), ("failed", report.failed), ("total", report.total)] {
        table.append([name, "\(counts.due)", "\(counts.removed)", "\(counts.alreadyMissing)", "\(counts.failed)", "\(counts.refused)",
                      "\(counts.undecidable)", humanBytes(counts.bytesFreed), "\(counts.recordsUpdated)", "\(counts.changedMeanwhile)"])
    }
    let widths = (0..<header.count).map { column in table.map { $0[column].count }.max() ?? 0 }
    for row in table {
        lines.append("  " + zip(row, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  "))
    }
    if !report.byExportType.isEmpty {
        lines.append("  by type: \(report.byExportTypeText)")
    }
    lines.append(String(format: "  duration %.3f s", report.durationSeconds))
    if report.interrupted { lines.append("  interrupted: the sweep was stopped between files; the next one goes on") }
    if let aborted = report.abortedBy { lines.append("  aborted: \(aborted)") }
    if let pressure = report.pressure, !pressure.violations.isEmpty {
        lines.append("  disk pressure (\(pressure.violations.joined(separator: "; "))): \(pressure.summary)")
    }
    if let bound = report.boundReached {
        lines.append("  stopped at its \(bound == .files ? "file bound (EXPORT_CLEANUP_MAX_FILES_PER_SWEEP)" : "time bound (EXPORT_CLEANUP_MAX_SWEEP_SECONDS)"): "
            + "what it did is committed; \(report.stillDue.map { "\($0) still due" } ?? "more may be due"), for the next sweep")
    }
    if let clock = report.clockNotSynchronized {
        lines.append("  refused: the system clock is \(clock) and EXPORT_CLEANUP_REQUIRE_SYNCED_CLOCK=yes: nothing was removed; the next sweep asks again")
    }
    if let check = report.massDeletion, check.tripped {
        lines.append("  refused: \(report.dryRun ? "a real sweep would be refused: " : "")\(check.explanation)")
    }
    if let after = outcome.after {
        lines.append("Storage after: \(after.totalFiles) files, \(humanBytes(after.totalBytes))")
    }
    return lines.joined(separator: "\n")
}
