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


    static func tryClusterLock(_ store: any JobStore & ClusterSweepLock, _ settings: CleanupSettings) throws(Failure) -> String? {
        guard !settings.dryRun else { return nil }
        do {
            switch try store.tryAcquireSweepLock(named: lockName(settings)) {
            case .acquired: return nil
            case .heldElsewhere(let holder):
                return "\(holder) holds the sweep lock '\(PostgresJobStore.lockKey(lockName(settings)))' of \(settings.storagePath)"
            }
        } catch {
            throw Failure(error)
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
                throw error.report()
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

    /// The daemon's round when another instance sweeps: logged, and a report that says so (abort code ``JobStoreError/Code/sweepLockHeld``).
    static func skippedReport(_ holder: String, logger: Logger) -> SweepReport {
        logger.info("sweep skipped: \(holder); taking over at the next interval if it is free", metadata: [
            "message_id": "\(MessageID.sweepSkipped)", "export_lock_holder": "\(holder)",
        ])
        var report = SweepReport(sweepID: Sweeper.makeSweepID(), dryRun: false, startedAt: .now(), now: .now())
        report.abortCode = .sweepLockHeld
        report.abortedBy = holder
        return report
    }
}
