import ArgumentParser
import Glibc
import ExportCleanup
import ExportCleanupConfig
import ExportStorage
import Logging

/// One sweep from the command line: open, check, sweep, count the storage before and after.
enum SweepRun {
    struct Outcome {
        var storagePath: String
        var report: SweepReport
        var before: StorageStatistics?
        var after: StorageStatistics?

        /// 0 done (also when stopped by a signal after committing what it did); 1 some files failed or were
        /// refused; 75 aborted on a locked database, a lost PostgreSQL connection, or another instance's sweep lock,
        /// or refused by the mass-deletion brake (a dry run too: it says what a real sweep would do).
        var exitCode: ExitCode {
            if report.refused { return Exit.temporary }
            if let code = report.abortCode { return Failure.exitCodeAndErrno(for: code).0 }
            let total = report.total
            return total.failed + total.refused > 0 ? Exit.partial : Exit.ok
        }
    }

    /// Opens the database and storage, checks the schema, and sweeps once.
    /// - Parameter statistics: count the storage directory: one `readdir` + `fstatat` pass after the sweep; the
    ///   counts before it are those plus the files the sweep removed (it looked at each one anyway). A dry run
    ///   counts once, before. `sweep --no-stats` skips the pass, as the daemon does.
    /// - Parameter records: where the metrics and the last sweep's status go (``SweepRecords``), if anywhere.
    static func once(_ settings: CleanupSettings, wait: Bool, statistics: Bool = true, allowMassDeletion: Bool = false, logger: Logger,
                     records: SweepRecords? = nil, isCancelled: () -> Bool = { false }, onProgress: (SweepReport) -> Void = { _ in },
                     onItem: (SweepItem) -> Void) throws(ExitCode) -> Outcome
    {
        let started = UTCInstant.now()
        let opened: (store: any JobStore & ClusterSweepLock, directory: OpenStorageDirectory)
        do {
            opened = try open(settings)
        } catch {
            records?.record(.failure(error), settings: settings, started: started, logger: logger)
            throw error.report()
        }
        let (store, directory) = opened
        // PostgreSQL: one instance at a time sweeps a storage directory, cluster-wide (SQLite: always ours).
        guard try takeClusterLock(store, settings, wait: wait, logger: logger, isCancelled: isCancelled) else {
            var report = SweepReport(sweepID: Sweeper.makeSweepID(), dryRun: false, startedAt: .now(), now: .now())
            report.interrupted = true
            return Outcome(storagePath: settings.storagePath, report: report)
        }
        defer { store.releaseSweepLock(named: lockName(settings)) }
        let sweeper = Sweeper(store: store, storage: directory, logger: logger)
        let options = settings.sweepOptions(wait: wait, allowMassDeletion: allowMassDeletion)
        let before = settings.dryRun && statistics ? try? directory.statistics() : nil
        var removed = StorageStatistics()
        let report = try withStorageErrors { () throws(ExportStorageError) in
            do throws(ExportStorageError) {
                return try sweeper.sweep(options: options, isCancelled: isCancelled, onItem: { item in
                    if case .removed = item.outcome, let file = item.file { removed.add(file) }
                    onItem(item)
                }, onProgress: onProgress)
            } catch where error.code != .locked {
                records?.record(.failure(Failure(error)), settings: settings, started: started, logger: logger)
                throw error
            }
        }
        if settings.dryRun {
            return Outcome(storagePath: settings.storagePath, report: report, before: before, after: nil)
        }
        let after = statistics ? try? directory.statistics() : nil
        records?.record(.success(report), settings: settings, storage: after, logger: logger)
        return Outcome(storagePath: settings.storagePath, report: report, before: after?.adding(removed), after: after)
    }

    /// Opens the job store (checking its schema, read-only for a dry run) and the storage directory, as a sweep
    /// needs them; shared by `sweep` and the daemon, which opens them anew for every sweep.
    static func open(_ settings: CleanupSettings) throws(Failure) -> (store: any JobStore & ClusterSweepLock, directory: OpenStorageDirectory) {
        do {
            let store = try openStore(settings)
            try store.verifySchema()
            return (store, try StorageDirectory(path: settings.storagePath).open())
        } catch {
            throw Failure(error)
        }
    }
}
