import ArgumentParser
import ExportCleanup
import ExportStorage
import Logging

/// The settings a sweep needs, resolved from flags, environment and defaults.
struct ResolvedSettings: Sendable, Equatable {
    var database = "./exports.db"
    var storage = "./exports"
    var retentionHours = 24.0
    var failedAgeHours = 1.0
    var batchSize = 500
    var dryRun = false
    var busyTimeoutSeconds = 5.0
    var intervalSeconds = 3600
    var logLevel = Logger.Level.info

    var policy: RetentionPolicy { RetentionPolicy(retentionHours: retentionHours, failedAgeHours: failedAgeHours) }
}

/// One sweep from the command line: open, check, sweep, count the storage before and after.
enum SweepRun {
    struct Outcome {
        var storagePath: String
        var report: SweepReport
        var before: StorageStatistics?
        var after: StorageStatistics?

        /// 0 done; 1 some files failed or were refused; 75 aborted on a locked database.
        var exitCode: ExitCode {
            if let code = report.abortCode { return code == JobStoreError.Code.busy.rawValue ? Exit.temporary : Exit.software }
            let total = report.total
            return total.failed + total.refused > 0 ? Exit.partial : Exit.ok
        }
    }

    /// Opens the database and storage, checks the schema, and sweeps once.
    static func once(_ settings: ResolvedSettings, wait: Bool, logger: Logger, onItem: (SweepItem) -> Void) throws(ExitCode) -> Outcome {
        let store = try openStore(settings)
        let directory = try withStorageErrors { () throws(ExportStorageError) in try StorageDirectory(path: settings.storage).open() }
        let before = try? directory.statistics()
        let sweeper = Sweeper(store: store, storage: directory, logger: logger)
        let options = SweepOptions(policy: settings.policy, batchSize: settings.batchSize, dryRun: settings.dryRun, waitForLock: wait)
        let report = try withStorageErrors { () throws(ExportStorageError) in try sweeper.sweep(options: options, onItem: onItem) }
        let after = settings.dryRun ? nil : try? directory.statistics()
        return Outcome(storagePath: settings.storage, report: report, before: before, after: after)
    }

    /// Opens the job store and checks its schema; errors are printed and become exit codes.
    static func openStore(_ settings: ResolvedSettings) throws(ExitCode) -> SQLiteJobStore {
        do {
            let store = try SQLiteJobStore(path: settings.database, busyTimeout: settings.busyTimeoutSeconds, readOnly: settings.dryRun)
            try store.verifySchema()
            return store
        } catch {
            throw fail(error, code: exitCode(for: error))
        }
    }

    static func exitCode(for error: JobStoreError) -> ExitCode {
        switch error.code {
        case .databaseMissing: return Exit.noInput
        case .missingTable, .missingColumn: return Exit.dataError
        case .busy: return Exit.temporary
        case .cannotOpen: return Exit.noInput
        case .sqlite: return Exit.software
        }
    }
}

/// Flags over environment over defaults (the configuration file comes in with `run`).
func resolveSettings(_ options: SweepSettingsOptions, dryRun: Bool, environment: [String: String]) throws(ExitCode) -> ResolvedSettings {
    var settings = ResolvedSettings()
    settings.storage = options.storage ?? defaultStoragePath(environment: environment)
    settings.database = options.db ?? environment["EXPORT_CLEANUP_DATABASE"].flatMap { $0.isEmpty ? nil : $0 } ?? settings.database
    if let hours = options.retentionHours { settings.retentionHours = hours }
    if let hours = options.failedAgeHours { settings.failedAgeHours = hours }
    if let size = options.batchSize { settings.batchSize = size }
    settings.dryRun = dryRun
    guard settings.retentionHours > 0, settings.retentionHours <= 87_600 else {
        throw fail("--retention-hours \(settings.retentionHours) is out of range: use more than 0 and at most 87600", code: Exit.usage)
    }
    guard settings.failedAgeHours > 0, settings.failedAgeHours <= 87_600 else {
        throw fail("--failed-age-hours \(settings.failedAgeHours) is out of range: use more than 0 and at most 87600", code: Exit.usage)
    }
    guard (1...100_000).contains(settings.batchSize) else {
        throw fail("--batch-size \(settings.batchSize) is out of range: use 1 to 100000", code: Exit.usage)
    }
    return settings
}
