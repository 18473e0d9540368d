import ArgumentParser
import ExportCleanup
import ExportCleanupConfig
import ExportCleanupPostgres
import ExportStorage
import Foundation
import Logging

/// The database kinds behind `--db`, and the cluster-wide sweep lock around a sweep.
extension SweepRun {
    /// The report's `abortCode` of a daemon's round skipped because another instance holds the sweep lock.
    static let lockHeldCode = "sweep_lock_held"

    /// The name of the cluster-wide sweep lock: `EXPORT_CLEANUP_LOCK_NAME`, else the storage path.
    static func lockName(_ settings: CleanupSettings) -> String { settings.lockName ?? settings.storagePath }

    /// The database setting as it may be shown (a PostgreSQL password masked).
    static func shownDatabase(_ settings: CleanupSettings) -> String { PostgresConnectionString.mask(settings.databasePath) }

    /// Opens the job store `settings.databasePath` names: PostgreSQL for a connection URI or keyword string,
    /// SQLite otherwise.
    static func openStore(_ settings: CleanupSettings, logger: Logger = Logger(label: "export-cleanup")) throws(JobStoreError)
        -> any JobStore & ClusterSweepLock
    {
        if let target = PostgresConnectionString(settings.databasePath) {
            return try PostgresJobStore(target, options: .init(lockTimeoutMilliseconds: settings.busyTimeoutMilliseconds, readOnly: settings.dryRun),
                                        logger: logger)
        }
        return try SQLiteJobStore(path: settings.databasePath, busyTimeout: Double(settings.busyTimeoutMilliseconds) / 1000,
                                  readOnly: settings.dryRun)
    }

    /// A store error as a start-up error: its message, an errno for sd_notify, its exit code.
    static func startError(_ error: JobStoreError) -> Daemon.StartError {
        let errno: Int32
        switch error.code {
        case .databaseMissing: errno = ENOENT
        case .busy: errno = EBUSY
        case .permissionDenied: errno = EACCES
        case .unavailable: errno = ECONNREFUSED
        default: errno = EINVAL
        }
        return Daemon.StartError(message: error.message, errno: errno, exitCode: exitCode(for: error))
    }

    /// Tries the cluster-wide sweep lock once (a dry run takes none). `nil`: this process holds it (release it
    /// with `releaseSweepLock`); otherwise who holds it, as one sentence.
    static func tryClusterLock(_ store: any JobStore & ClusterSweepLock, _ settings: CleanupSettings) throws(Daemon.StartError) -> String? {
        guard !settings.dryRun else { return nil }
        do {
            switch try store.tryAcquireSweepLock(named: lockName(settings)) {
            case .acquired: return nil
            case .heldElsewhere(let holder):
                return "\(holder) holds the sweep lock '\(PostgresJobStore.lockKey(lockName(settings)))' of \(settings.storagePath)"
            }
        } catch {
            throw startError(error)
        }
    }

    /// Takes the cluster-wide sweep lock for a one-shot sweep: without `wait`, a lock held elsewhere exits 75;
    /// with it, polls every second (asking `isCancelled`). Returns `false` when cancelled while waiting.
    static func takeClusterLock(_ store: any JobStore & ClusterSweepLock, _ settings: CleanupSettings, wait: Bool, logger: Logger,
                                isCancelled: () -> Bool) throws(ExitCode) -> Bool {
        var logged = false
        while true {
            let held: String?
            do {
                held = try tryClusterLock(store, settings)
            } catch {
                throw fail(error.message, code: error.exitCode)
            }
            guard let held else { return true }
            guard wait else { throw fail("\(held): it sweeps now; try again later, or pass --wait to queue behind it", code: Exit.temporary) }
            if !logged {
                logger.info("waiting for the sweep lock: \(held)", metadata: ["export_lock_holder": "\(held)"])
                logged = true
            }
            if isCancelled() { return false }
            usleep(1_000_000)
        }
    }

    /// The daemon's round when another instance sweeps: logged, and a report that says so (``lockHeldCode``).
    static func skippedReport(_ holder: String, logger: Logger) -> SweepReport {
        logger.info("sweep skipped: \(holder); taking over at the next interval if it is free", metadata: [
            "message_id": "\(MessageID.sweepSkipped)", "export_lock_holder": "\(holder)",
        ])
        var report = SweepReport(sweepID: Sweeper.makeSweepID(), dryRun: false, startedAt: .now(), now: .now())
        report.abortCode = lockHeldCode
        report.abortedBy = holder
        return report
    }
}
