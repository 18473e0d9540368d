import ArgumentParser
import CoreSupport
import Dispatch
import ExportCleanup
import ExportCleanupConfig
import ExportCleanupPostgres
import ExportStorage
import Foundation
import Logging
import Synchronization
import SystemdSupport

/// The daemon: a timer and signal sources on one serial state queue, sweeps on a second serial queue.
///
/// All mutable state is confined to `stateQueue` (hence `@unchecked Sendable`); the sweep queue only reads
/// two atomics: the stop request and the progress heartbeat that the watchdog looks at.
final class Daemon: @unchecked Sendable {
    private let stateQueue = DispatchQueue(label: "export-cleanup.state")
    private let sweepQueue = DispatchQueue(label: "export-cleanup.sweep")
    private let options: SettingsOptions
    private let extraFlags: [SettingKey: String]
    private let notifier: SystemdNotifier
    private let watchdog: WatchdogConfiguration?

    // Shared with the sweep queue.
    private let stopRequested = Atomic<Bool>(false)
    private let heartbeat = Atomic<Int64>(0)
    /// Refused and undecidable records already logged at warning during this run.
    private let problemMemory = ProblemMemory()

    // Confined to stateQueue.
    private var settings: CleanupSettings
    private var logger: Logger
    private var timer: (any DispatchSourceTimer)?
    private var watchdogTimer: (any DispatchSourceTimer)?
    private var signalSources: [any DispatchSourceSignal] = []
    /// What the daemon is doing.
    private enum Phase {
        /// Waiting for the timer or a SIGHUP.
        case idle
        /// A sweep runs on the sweep queue; `queued`: one more was asked for meanwhile (at most one).
        case sweeping(queued: Bool)
        /// SIGTERM/SIGINT arrived; `sweeping`: the sweep in hand is finishing its batch, then the process exits.
        case stopping(sweeping: Bool)

        var isStopping: Bool {
            if case .stopping = self { return true }
            return false
        }

        var isSweeping: Bool {
            switch self {
            case .idle, .stopping(sweeping: false): return false
            case .sweeping, .stopping(sweeping: true): return true
            }
        }
    }

    private var phase = Phase.idle
    private var nextSweep: UTCInstant?
    private var lastResult = "no sweep yet"
    /// The metrics file and the last sweep's status (their counters live as long as the daemon).
    private let records = SweepRecords(kind: .daemon)

    init(settings: CleanupSettings, options: SettingsOptions, extraFlags: [SettingKey: String], logger: Logger,
         notifier: SystemdNotifier, watchdog: WatchdogConfiguration?) {
        self.settings = settings
        self.options = options
        self.extraFlags = extraFlags
        self.logger = logger
        self.notifier = notifier
        self.watchdog = watchdog
    }

    /// Checks that the database, its schema and the storage directory are usable; at start-up also that they
    /// are writable (unless dry run): the storage directory, the database file, and the database's directory,
    /// where SQLite creates its -journal/-wal/-shm files.
    static func check(_ settings: CleanupSettings, startup: Bool = false) throws(Failure) {
        if startup && !settings.dryRun {
            let databaseDirectory = (settings.databasePath as NSString).deletingLastPathComponent
            let sqliteFiles = [(settings.databasePath, "the database"),
                               (databaseDirectory.isEmpty ? "." : databaseDirectory, "the database's directory (SQLite writes its journal there)")]
            for (path, what) in [(settings.storagePath, "the storage directory")] + (PostgresConnectionString.recognizes(settings.databasePath) ? [] : sqliteFiles)
            where access(path, F_OK) == 0 && access(path, W_OK) != 0 {
                let code = errno
                throw Failure(exitCode: Exit.noPermission, errno: code,
                              message: "\(what) '\(path)' is not writable by this user (\(String(cString: strerror(code)))): "
                                + "fix its owner or mode, or the unit's ReadWritePaths=")
            }
        }
        _ = try SweepRun.open(settings)
    }

    /// Installs signal sources and timers, reports READY, and schedules the first sweep at once.
    func start() {
        stateQueue.async { [self] in
            // The signals are blocked since the process started (see Signals): one sent during start-up is
            // pending and arrives here now.
            signalSources = Signals.handle(Signals.handled, on: stateQueue) { [self] signalNumber in
                signalNumber == SIGHUP ? reload() : stop(signal: signalNumber)
            }
            scheduleTimer()
            startWatchdog()
            heartbeat.store(Self.monotonicMicroseconds(), ordering: .relaxed)
            notifier.ready()
            logger.info("export-cleanup started: database \(SweepRun.shownDatabase(settings)), storage \(settings.storagePath), every \(settings.intervalSeconds) s", metadata: [
                "message_id": "\(MessageID.daemonStarted)", "export_database": "\(SweepRun.shownDatabase(settings))",
                "export_storage": "\(settings.storagePath)", "export_interval_seconds": "\(settings.intervalSeconds)",
                "export_retention_hours": "\(settings.retentionHours)", "export_failed_age_hours": "\(settings.failedAgeHours)",
                "export_dry_run": "\(settings.dryRun)",
                "export_watchdog_usec": "\(watchdog.map { String($0.timeoutMicroseconds) } ?? "off")",
            ])
        }
    }

    // MARK: - Sweeps

    /// (Re)arms the interval timer; it fires at once, then every interval.
    private func scheduleTimer() {
        dispatchPrecondition(condition: .onQueue(stateQueue))
        timer?.cancel()
        let source = DispatchSource.makeTimerSource(queue: stateQueue)
        let interval = DispatchTimeInterval.seconds(settings.intervalSeconds)
        source.schedule(deadline: .now(), repeating: interval, leeway: .milliseconds(100))
        source.setEventHandler { [self] in
            nextSweep = UTCInstant.now().adding(microseconds: Int64(settings.intervalSeconds) * 1_000_000)
            requestSweep()
        }
        source.resume()
        timer = source
    }

    /// Starts a sweep, or queues exactly one more when one is running.
    private func requestSweep() {
        dispatchPrecondition(condition: .onQueue(stateQueue))
        switch phase {
        case .stopping: return
        case .sweeping:
            phase = .sweeping(queued: true)
            return
        case .idle:
            phase = .sweeping(queued: false)
        }
        let settings = self.settings
        let logger = self.logger
        notifier.status("Sweeping: starting")
        sweepQueue.async { [self] in
            let result = runSweep(settings: settings, logger: logger)
            stateQueue.async { [self] in finished(result) }
        }
    }

    /// One sweep on the sweep queue. Opens the store and the storage directory anew each time, so a replaced
    /// database file or a storage directory swapped for a symlink is noticed.
    private func runSweep(settings: CleanupSettings, logger: Logger) -> Result<SweepReport, Failure> {
        heartbeat.store(Self.monotonicMicroseconds(), ordering: .relaxed)
        do {
            let (store, directory) = try SweepRun.open(settings)
            // Another instance sweeps this storage directory (PostgreSQL): skip this round.
            if let holder = try SweepRun.tryClusterLock(store, settings) { return .success(SweepRun.skippedReport(holder, logger: logger)) }
            defer { store.releaseSweepLock(named: SweepRun.lockName(settings)) }
            let sweeper = Sweeper(store: store, storage: directory, logger: logger, problemMemory: problemMemory)
            let report = try sweeper.sweep(
                options: settings.sweepOptions(wait: true),
                isCancelled: { [self] in
                    heartbeat.store(Self.monotonicMicroseconds(), ordering: .relaxed)
                    return stopRequested.load(ordering: .relaxed)
                },
                onProgress: { [self] report in
                    heartbeat.store(Self.monotonicMicroseconds(), ordering: .relaxed)
                    let total = report.total
                    notifier.status("Sweeping: \(total.due) due so far, \(total.removed) removed (\(humanBytes(total.bytesFreed))), \(total.failed) failed, \(total.refused) refused")
                })
            if settings.orphanHours > 0, !report.refused, report.abortedBy == nil, !report.interrupted, !stopRequested.load(ordering: .relaxed) {
                // The orphan pass after the sweep (EXPORT_CLEANUP_ORPHAN_HOURS); a dry run only reports.
                notifier.status("Sweeping: looking for orphan files")
                heartbeat.store(Self.monotonicMicroseconds(), ordering: .relaxed)
                do {
                    _ = try OrphanScanner(store: store, storage: directory, logger: logger)
                        .scan(options: OrphanOptions(olderThanHours: settings.orphanHours, delete: !settings.dryRun))
                } catch {
                    logger.error("the orphan pass failed: \(error)", metadata: ["message_id": "\(MessageID.sweepAborted)"])
                }
            }
            return .success(report)
        } catch {
            return .failure(Failure(error))
        }
    }

    /// Back on the state queue after a sweep.
    private func finished(_ result: Result<SweepReport, Failure>) {
        dispatchPrecondition(condition: .onQueue(stateQueue))
        let time = UTCInstant.now().hourMinute
        switch result {
        case .success(let report):
            let total = report.total
            let what = report.dryRun ? "would remove" : "removed"
            lastResult = "Last sweep \(time) UTC: \(total.removed) \(what) (\(humanBytes(total.bytesFreed))), \(total.failed) failed, \(total.refused) refused"
            if let pressure = report.pressure, !pressure.violations.isEmpty {
                lastResult += ", disk pressure freed \(humanBytes(pressure.bytesFreed)) (\(pressure.removed) files), target \(pressure.targetReached ? "reached" : "NOT reached")"
            }
            if report.boundReached != nil {
                lastResult += ", stopped at its bound, \(report.stillDue.map { "\($0) still due" } ?? "more may be due")"
            }
            if let aborted = report.abortedBy { lastResult = "Last sweep \(time) UTC aborted: \(aborted)" }
            if report.abortCode == .sweepLockHeld { lastResult = "Skipped \(time) UTC: \(report.abortedBy ?? "another instance sweeps")" }
            if let clock = report.clockNotSynchronized {
                lastResult = "Last sweep \(time) UTC refused: the clock is \(clock); nothing removed, retrying at the next interval"
            }
            if let check = report.massDeletion, check.tripped {
                lastResult = "Last sweep \(time) UTC refused by the mass-deletion brake: \(check.dueFiles) of \(check.referencedFiles ?? 0) files due "
                    + "(\(MassDeletionBrake.percent(check.dueFiles, of: check.referencedFiles ?? 0))%), nothing removed; check the clock and retention, "
                    + "or run 'export-cleanup sweep --allow-mass-deletion' once"
            }
        case .failure(let error):
            lastResult = "Last sweep \(time) UTC failed: \(error.message)"
            logger.error("sweep could not run: \(error.message); retrying at the next interval", metadata: [
                "message_id": "\(MessageID.sweepAborted)", "errno": "\(error.errno)",
            ])
        }
        records.record(result, settings: settings, nextSweep: phase.isStopping ? nil : nextSweep, logger: logger)
        switch phase {
        case .stopping:
            exitNow()
        case .sweeping(queued: true):
            phase = .idle
            requestSweep()
        case .sweeping(queued: false), .idle:
            phase = .idle
            if case .success(let report) = result, let pause = Self.backlogPause(report, intervalSeconds: settings.intervalSeconds) {
                // A bounded sweep left work: the next one after a short pause, not a whole interval.
                notifier.status("Idle. \(lastResult). Next in \(String(format: "%g", pause)) s (backlog).")
                stateQueue.asyncAfter(deadline: .now() + pause) { [self] in
                    if case .idle = phase { requestSweep() }
                }
            } else {
                notifier.status(idleStatus())
            }
        }
    }

    /// The pause before the next sweep when `report` stopped at a bound with work left: 5 s, or a tenth of the
    /// interval when that is shorter; `nil` when nothing is known to be left (no bound reached, or 0 still due).
    static func backlogPause(_ report: SweepReport, intervalSeconds: Int) -> Double? {
        guard report.boundReached != nil, !report.refused, report.abortedBy == nil, (report.stillDue ?? 1) > 0 else { return nil }
        return min(5, Double(intervalSeconds) / 10)
    }

    private func idleStatus() -> String {
        "Idle. \(lastResult). Next \(nextSweep.map { $0.hourMinute + " UTC" } ?? "soon")."
    }

    // MARK: - Signals

    /// SIGHUP: RELOADING=1, re-read the configuration (keep the old one if the new one is bad), READY=1, sweep.
    private func reload() {
        dispatchPrecondition(condition: .onQueue(stateQueue))
        notifier.reloading()
        do {
            let fresh = try options.load(extraFlags: extraFlags)
            let intervalChanged = fresh.intervalSeconds != settings.intervalSeconds
            settings = fresh
            logger.logLevel = fresh.loggerLevel
            logger.info("configuration reloaded", metadata: [
                "message_id": "\(MessageID.configurationReloaded)", "export_database": "\(SweepRun.shownDatabase(fresh))",
                "export_storage": "\(fresh.storagePath)", "export_interval_seconds": "\(fresh.intervalSeconds)",
                "export_retention_hours": "\(fresh.retentionHours)", "export_failed_age_hours": "\(fresh.failedAgeHours)",
            ])
            if intervalChanged {
                // The re-armed timer fires at once, which is the sweep a reload asks for.
                scheduleTimer()
                notifier.ready()
                return
            }
        } catch {
            logger.error("configuration not reloaded, keeping the running one: \(error)", metadata: [
                "message_id": "\(MessageID.configurationReloaded)", "export_config_error": "\(error.code)",
                "export_config_file": "\(error.path ?? "")", "export_config_line": "\(error.line.map(String.init) ?? "")",
                "export_config_key": "\(error.key ?? "")",
            ])
        }
        notifier.ready()
        requestSweep()
    }

    /// SIGTERM/SIGINT: STOPPING=1; stop between files, commit the batch in hand, exit 0.
    private func stop(signal: Int32) {
        dispatchPrecondition(condition: .onQueue(stateQueue))
        if case .stopping = phase { return }
        let sweeping = phase.isSweeping
        phase = .stopping(sweeping: sweeping)
        stopRequested.store(true, ordering: .relaxed)
        notifier.stopping()
        notifier.status(sweeping ? "Stopping: finishing the file in hand" : "Stopping")
        logger.info("stopping on \(Signals.name(signal))", metadata: ["message_id": "\(MessageID.daemonStopping)"])
        timer?.cancel()
        if !sweeping { exitNow() }
    }

    private func exitNow() -> Never {
        exit(0)
    }

    // MARK: - Watchdog

    /// Pings at half of WATCHDOG_USEC while the sweep queue is alive: idle, or sweeping with a recent heartbeat.
    /// A sweep stuck in one call for longer than the watchdog timeout stops the pings, and systemd acts.
    private func startWatchdog() {
        guard let watchdog else { return }
        let source = DispatchSource.makeTimerSource(queue: stateQueue)
        let interval = DispatchTimeInterval.microseconds(Int(watchdog.pingIntervalMicroseconds))
        source.schedule(deadline: .now(), repeating: interval, leeway: .milliseconds(10))
        source.setEventHandler { [self] in
            let age = Self.monotonicMicroseconds() - heartbeat.load(ordering: .relaxed)
            if !phase.isSweeping || age < Int64(watchdog.timeoutMicroseconds) {
                notifier.watchdogPing()
            }
        }
        source.resume()
        watchdogTimer = source
    }

    private static func monotonicMicroseconds() -> Int64 {
        Int64(MonotonicClock.microseconds())
    }
}
