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
        /// refused; 75 aborted on a locked database, or refused by the mass-deletion brake (a dry run too: it says
        /// what a real sweep would do).
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
    static func once(_ settings: CleanupSettings, wait: Bool, statistics: Bool = true, allowMassDeletion: Bool = false, logger: Logger,
                     isCancelled: () -> Bool = { false }, onItem: (SweepItem) -> Void) throws(ExitCode) -> Outcome
    {
        let opened: (store: SQLiteJobStore, directory: OpenStorageDirectory)
        do {
            opened = try open(settings)
        } catch {
            throw error.report()
        }
        let (store, directory) = opened
        let sweeper = Sweeper(store: store, storage: directory, logger: logger)
        let options = settings.sweepOptions(wait: wait, allowMassDeletion: allowMassDeletion)
        if settings.dryRun {
            let before = statistics ? try? directory.statistics() : nil
            let report = try withStorageErrors { () throws(ExportStorageError) in try sweeper.sweep(options: options, isCancelled: isCancelled, onItem: onItem) }
            return Outcome(storagePath: settings.storagePath, report: report, before: before, after: nil)
        }
        var removed = StorageStatistics()
        let report = try withStorageErrors { () throws(ExportStorageError) in
            try sweeper.sweep(options: options, isCancelled: isCancelled, onItem: { item in
                if case .removed = item.outcome, let file = item.file { removed.add(file) }
                onItem(item)
            })
        }
        let after = statistics ? try? directory.statistics() : nil
        return Outcome(storagePath: settings.storagePath, report: report, before: after?.adding(removed), after: after)
    }

    /// Opens the job store (checking its schema, read-only for a dry run) and the storage directory, as a sweep
    /// needs them; shared by `sweep` and the daemon, which opens them anew for every sweep.
    static func open(_ settings: CleanupSettings) throws(Failure) -> (store: SQLiteJobStore, directory: OpenStorageDirectory) {
        do {
            let store = try SQLiteJobStore(path: settings.databasePath, busyTimeout: Double(settings.busyTimeoutMilliseconds) / 1000,
                                           readOnly: settings.dryRun)
            try store.verifySchema()
            return (store, try StorageDirectory(path: settings.storagePath).open())
        } catch {
            throw Failure(error)
        }
    }
}
