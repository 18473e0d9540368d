import ArgumentParser
import ExportCleanup
import ExportCleanupConfig
import Foundation
import Logging

/// Flags shared by `sweep` and `run`. Values are passed as text to the configuration layer, which validates
/// them with the same rules and messages as the file and the environment (flag > environment > file > default).
struct SettingsOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The configuration file (KEY=value lines).", valueName: "file"))
    var config: String?

    @Option(help: ArgumentHelp("The application's SQLite database, or a PostgreSQL connection string: postgresql://user@host/db, host=... dbname=... (EXPORT_CLEANUP_DATABASE; default ./exports.db).", valueName: "path|uri"))
    var db: String?

    @Option(help: ArgumentHelp("The storage directory (EXPORT_STORAGE_PATH; default ./exports).", valueName: "dir"))
    var storage: String?

    @Option(name: .customLong("retention-hours"), help: "Hours a completed export is kept (default 24).")
    var retentionHours: String?

    @Option(name: .customLong("failed-age-hours"), help: "Hours after which a failed export's partial file goes (default 1).")
    var failedAgeHours: String?

    @Option(name: .customLong("batch-size"), help: "Jobs read and updated per batch (default 500).")
    var batchSize: String?

    @Option(name: .customLong("busy-timeout-ms"), help: "Milliseconds to wait for a locked database (default 5000).")
    var busyTimeoutMs: String?

    @Option(name: .customLong("lock-name"), help: "PostgreSQL: the name of the cluster-wide sweep lock (EXPORT_CLEANUP_LOCK_NAME; default the storage path).")
    var lockName: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical (default info).")
    var logLevel: String?

    @Option(name: .customLong("log-target"), help: "auto (journal when stderr is the journal), journal or stderr.")
    var logTarget: String = "auto"

    /// The flags given, keyed by setting.
    var flags: [String: String] {
        var flags: [SettingKey: String?] = [
            .databasePath: db, .storagePath: storage, .retentionHours: retentionHours, .failedAgeHours: failedAgeHours,
            .batchSize: batchSize, .busyTimeoutMilliseconds: busyTimeoutMs, .logLevel: logLevel, .lockName: lockName,
        ]
        flags = flags.filter { $0.value != nil }
        return Dictionary(uniqueKeysWithValues: flags.compactMap { key, value in value.map { (key.rawValue, $0) } })
    }

    /// Loads the settings: `--config` must exist; the default file is read when present.
    func load(extraFlags: [SettingKey: String] = [:], environment: [String: String] = ProcessInfo.processInfo.environment)
        throws(ConfigurationError) -> CleanupSettings
    {
        var all = flags
        for (key, value) in extraFlags { all[key.rawValue] = value }
        return try CleanupSettings.load(flags: all, environment: environment, configPath: config ?? CleanupSettings.defaultConfigPath,
                                        required: config != nil)
    }
}

extension CleanupSettings {
    /// The due rules.
    var policy: RetentionPolicy { RetentionPolicy(retentionHours: retentionHours, failedAgeHours: failedAgeHours) }

    /// The swift-log level.
    var loggerLevel: Logger.Level {
        switch logLevel {
        case .trace: return .trace
        case .debug: return .debug
        case .info: return .info
        case .notice: return .notice
        case .warning: return .warning
        case .error: return .error
        case .critical: return .critical
        }
    }

    /// Sweep options from these settings.
    func sweepOptions(wait: Bool) -> SweepOptions {
        SweepOptions(policy: policy, batchSize: batchSize, dryRun: dryRun, waitForLock: wait)
    }
}

/// Loads settings for a command, printing a configuration error and exiting 78.
func loadSettings(_ options: SettingsOptions, extraFlags: [SettingKey: String] = [:]) throws(ExitCode) -> CleanupSettings {
    do {
        return try options.load(extraFlags: extraFlags)
    } catch {
        throw fail(error, code: Exit.config)
    }
}
