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
        /// refused; 75 aborted on a locked database or a lost PostgreSQL connection.
        var exitCode: ExitCode {
            if let code = report.abortCode {
                return [JobStoreError.Code.busy.rawValue, JobStoreError.Code.unavailable.rawValue].contains(code) ? Exit.temporary : Exit.software
            }
            let total = report.total
            return total.failed + total.refused > 0 ? Exit.partial : Exit.ok
        }
    }

    /// Opens the database and storage, checks the schema, and sweeps once.
    /// - Parameter statistics: count the storage directory before and after (one `readdir` + `fstatat` pass
    ///   each); `sweep --no-stats` skips both, as the daemon does.
    static func once(_ settings: CleanupSettings, wait: Bool, statistics: Bool = true, logger: Logger,
                     isCancelled: () -> Bool = { false }, onItem: (SweepItem) -> Void) throws(ExitCode) -> Outcome
    {
        let opened: (store: any JobStore & ClusterSweepLock, directory: OpenStorageDirectory)
        do {
            opened = try open(settings)
        } catch {
            throw fail(error.message, code: error.exitCode)
        }
        let (store, directory) = opened
        guard try takeClusterLock(store, settings, wait: wait, logger: logger, isCancelled: isCancelled) else {
            var report = SweepReport(sweepID: Sweeper.makeSweepID(), dryRun: false, startedAt: .now(), now: .now())
            report.interrupted = true
            return Outcome(storagePath: settings.storagePath, report: report)
        }
        defer { store.releaseSweepLock(named: lockName(settings)) }
        let before = statistics ? try? directory.statistics() : nil
        let sweeper = Sweeper(store: store, storage: directory, logger: logger)
        let options = settings.sweepOptions(wait: wait)
        let report = try withStorageErrors { () throws(ExportStorageError) in try sweeper.sweep(options: options, isCancelled: isCancelled, onItem: onItem) }
        let after = settings.dryRun || !statistics ? nil : try? directory.statistics()
        return Outcome(storagePath: settings.storagePath, report: report, before: before, after: after)
    }

    /// Opens the job store (checking its schema, read-only for a dry run) and the storage directory, as a sweep
    /// needs them; shared by `sweep` and the daemon, which opens them anew for every sweep.
    static func open(_ settings: CleanupSettings) throws(Daemon.StartError) -> (store: any JobStore & ClusterSweepLock, directory: OpenStorageDirectory) {
        let store: any JobStore & ClusterSweepLock
        do {
            store = try openStore(settings)
            try store.verifySchema()
        } catch {
            throw startError(error)
        }
        do {
            return (store, try StorageDirectory(path: settings.storagePath).open())
        } catch {
            throw Daemon.StartError(message: error.description, errno: error.errno ?? EINVAL, exitCode: Exit.code(for: error))
        }
    }

    static func exitCode(for error: JobStoreError) -> ExitCode {
        switch error.code {
        case .databaseMissing: return Exit.noInput
        case .missingTable, .missingColumn: return Exit.dataError
        case .busy: return Exit.temporary
        case .cannotOpen: return Exit.noInput
        case .sqlite, .serverError: return Exit.software
        case .wrongColumnType: return Exit.dataError
        case .permissionDenied: return Exit.noPermission
        case .unavailable: return Exit.temporary
        }
    }
}

