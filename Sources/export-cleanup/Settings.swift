public import ArgumentParser
import SystemdSupport
import ExportCleanup
import ExportCleanupConfig
import Foundation
import Logging

// Every command reads its settings through one loader (``SettingsLoader``): flag > environment > configuration
// file > default. Flags are passed as text to the configuration layer, which validates them with the same rules
// and messages as the file and the environment. Each setting's flag is declared once, in the option group below
// that holds it; its help names the key and the default (`CleanupSettings()`, where every default is written).

/// `--config FILE`, taken by every command that reads settings.
struct ConfigFileOption: ParsableArguments {
    @Option(help: ArgumentHelp(
        "The configuration file (KEY=value lines); without it \(CleanupSettings.defaultConfigPath) is read when present.",
        valueName: "file"))
    var config: String?
}

/// `--db PATH`.
struct DatabaseOption: ParsableArguments {
    @Option(help: ArgumentHelp(settingHelp("The application's SQLite database, or a PostgreSQL connection string (postgresql://user@host/db, host=... dbname=...)", .databasePath), valueName: "path|uri"))
    var db: String?

    var flags: [SettingKey: String] { given([.databasePath: db]) }
}

/// `--storage DIR`.
struct StorageOption: ParsableArguments {
    @Option(help: ArgumentHelp(settingHelp("The storage directory", .storagePath), valueName: "dir"))
    var storage: String?

    var flags: [SettingKey: String] { given([.storagePath: storage]) }
}

/// `--busy-timeout-ms N`.
struct BusyTimeoutOption: ParsableArguments {
    @Option(name: .customLong("busy-timeout-ms"), help: ArgumentHelp(settingHelp("Milliseconds to wait for a locked database", .busyTimeoutMilliseconds)))
    var busyTimeoutMs: String?

    var flags: [SettingKey: String] { given([.busyTimeoutMilliseconds: busyTimeoutMs]) }
}

/// The settings flags of `sweep` and `run`.
struct SettingsOptions: ParsableArguments {
    @OptionGroup var file: ConfigFileOption
    @OptionGroup var database: DatabaseOption
    @OptionGroup var storage: StorageOption

    @Option(name: .customLong("retention-hours"), help: ArgumentHelp(settingHelp("Hours a completed export is kept", .retentionHours)))
    var retentionHours: String?

    @Option(name: .customLong("failed-age-hours"), help: ArgumentHelp(settingHelp("Hours after which a failed export's partial file goes", .failedAgeHours)))
    var failedAgeHours: String?

    @Option(name: .customLong("retention-hours-by-type"), help: ArgumentHelp(settingHelp(
        "Retention per export type, e.g. 'hotels=48 supplier_summary=168'; types not named use --retention-hours", .retentionHoursByType),
        valueName: "type=hours ..."))
    var retentionHoursByType: String?

    @Option(name: .customLong("failed-age-hours-by-type"), help: ArgumentHelp(settingHelp(
        "Failed age per export type, e.g. 'hotels=2'; types not named use --failed-age-hours", .failedAgeHoursByType),
        valueName: "type=hours ..."))
    var failedAgeHoursByType: String?

    @Option(name: .customLong("batch-size"), help: ArgumentHelp(settingHelp("Rows claimed per write transaction at most", .batchSize)))
    var batchSize: String?

    @Option(name: .customLong("batch-milliseconds"),
            help: ArgumentHelp(settingHelp("Milliseconds of reading and checking after which a batch is claimed even if not full", .batchMilliseconds)))
    var batchMilliseconds: String?

    @OptionGroup var busyTimeout: BusyTimeoutOption

    @Option(name: .customLong("max-delete-percent"), help: ArgumentHelp(settingHelp(
        "Mass-deletion brake: a sweep that would remove more than this percent of the export files the table references "
            + "(and more than --max-delete-min-files files) removes nothing; 100 turns it off", .maxDeletePercent)))
    var maxDeletePercent: String?

    @Option(name: .customLong("max-delete-min-files"), help: ArgumentHelp(settingHelp(
        "Mass-deletion brake: a sweep removing at most this many files never trips it", .maxDeleteMinFiles)))
    var maxDeleteMinFiles: String?

    @Option(name: .customLong("require-synced-clock"), help: ArgumentHelp(settingHelp(
        "yes: a sweep removes nothing while the kernel says the clock is not synchronised (adjtimex)", .requireSyncedClock),
        valueName: "yes|no"))
    var requireSyncedClock: String?

    @Option(name: .customLong("max-files-per-sweep"), help: ArgumentHelp(settingHelp(
        "Files one sweep removes at most, 0 for no bound; the daemon runs the next one after a short pause until the backlog is gone",
        .maxFilesPerSweep)))
    var maxFilesPerSweep: String?

    @Option(name: .customLong("max-sweep-seconds"), help: ArgumentHelp(settingHelp(
        "Seconds one sweep runs at most, 0 for no bound (it commits the batch in hand and stops)", .maxSweepSeconds)))
    var maxSweepSeconds: String?

    @Option(name: .customLong("orphan-hours"), help: ArgumentHelp(settingHelp(
        "run only: after each sweep, remove export files older than this many hours that no row references; 0 = off", .orphanHours)))
    var orphanHours: String?

    @Option(name: .customLong("keep-free"), help: ArgumentHelp(settingHelp(
        "Disk pressure: free space to keep on the storage file system, e.g. 2G or 10% (a percentage counts inodes too); 0 = off",
        .keepFree)))
    var keepFree: String?

    @Option(name: .customLong("max-use"), help: ArgumentHelp(settingHelp(
        "Disk pressure: the most bytes the export files may take, e.g. 50G or 20%; 0 = off", .maxUse)))
    var maxUse: String?

    @Option(name: .customLong("min-retention-hours"), help: ArgumentHelp(settingHelp(
        "Disk pressure never removes an export completed less than this many hours ago", .minRetentionHours)))
    var minRetentionHours: String?

    @Option(name: .customLong("log-level"), help: ArgumentHelp(settingHelp(
        CleanupSettings.LogLevel.allCases.map(\.rawValue).joined(separator: ", "), .logLevel)))
    var logLevel: String?

    @Option(name: .customLong("log-target"), help: "auto (journal when stderr is the journal), journal or stderr.")
    var logTarget: LogTarget.Request = .auto

    @Option(name: .customLong("lock-name"), help: ArgumentHelp(settingHelp("PostgreSQL: the name of the cluster-wide sweep lock", .lockName)))
    var lockName: String?

    @OptionGroup var metricsFile: MetricsFileOption
    @OptionGroup var stateDirectory: StateDirectoryOption

    /// The configuration file given with `--config`, if any.
    var config: String? { file.config }

    /// The settings given as flags, by key.
    var flags: [SettingKey: String] {
        database.flags.merging(storage.flags) { $1 }.merging(busyTimeout.flags) { $1 }
            .merging(metricsFile.flags) { $1 }.merging(stateDirectory.flags) { $1 }
            .merging(given([.retentionHours: retentionHours, .failedAgeHours: failedAgeHours, .batchSize: batchSize, .batchMilliseconds: batchMilliseconds, .logLevel: logLevel,
                            .lockName: lockName,
                            .maxDeletePercent: maxDeletePercent, .maxDeleteMinFiles: maxDeleteMinFiles, .requireSyncedClock: requireSyncedClock,
                            .maxFilesPerSweep: maxFilesPerSweep, .maxSweepSeconds: maxSweepSeconds,
                            .retentionHoursByType: retentionHoursByType, .failedAgeHoursByType: failedAgeHoursByType, .orphanHours: orphanHours,
                            .keepFree: keepFree, .maxUse: maxUse, .minRetentionHours: minRetentionHours])) { $1 }
    }

    /// Loads the settings with these flags and `extraFlags` (the command's own, e.g. `--dry-run`).
    func load(extraFlags: [SettingKey: String] = [:], environment: [String: String] = ProcessInfo.processInfo.environment)
        throws(ConfigurationError) -> CleanupSettings
    {
        try SettingsLoader.load(config: config, flags: flags.merging(extraFlags) { $1 }, environment: environment)
    }
}

/// The one way commands get their settings.
enum SettingsLoader {
    /// Resolves flag > environment > file > default: `config` (from `--config`) must exist; without it the default
    /// file is read when present.
    static func load(config: String?, flags: [SettingKey: String],
                     environment: [String: String] = ProcessInfo.processInfo.environment) throws(ConfigurationError) -> CleanupSettings
    {
        try CleanupSettings.load(flags: Dictionary(uniqueKeysWithValues: flags.map { ($0.key.rawValue, $0.value) }),
                                 environment: environment, configPath: config ?? CleanupSettings.defaultConfigPath,
                                 required: config != nil)
    }
}

/// Loads settings for a command, printing a configuration error and exiting 78.
func loadSettings(config: String?, flags: [SettingKey: String]) throws(ExitCode) -> CleanupSettings {
    do {
        return try SettingsLoader.load(config: config, flags: flags)
    } catch {
        throw fail(error, code: Exit.config)
    }
}

/// Loads the settings of `sweep` (see ``loadSettings(config:flags:)``).
func loadSettings(_ options: SettingsOptions, extraFlags: [SettingKey: String] = [:]) throws(ExitCode) -> CleanupSettings {
    try loadSettings(config: options.config, flags: options.flags.merging(extraFlags) { $1 })
}

/// `What it is (KEY; default VALUE).`, the help of a setting's flag.
func settingHelp(_ what: String, _ key: SettingKey) -> String {
    "\(what) (\(key.rawValue); default \(key.defaultValueText))."
}

/// The flags that were given.
private func given(_ flags: [SettingKey: String?]) -> [SettingKey: String] {
    flags.compactMapValues { $0 }
}

extension CleanupSettings {
    /// The due rules.
    var policy: RetentionPolicy {
        RetentionPolicy(retentionHours: retentionHours, failedAgeHours: failedAgeHours, retentionHoursByType: retentionHoursByType,
                        failedAgeHoursByType: failedAgeHoursByType)
    }

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

    /// Disk pressure from these settings (inactive when neither limit is set).
    var pressureTarget: PressureTarget {
        func amount(_ value: DiskAmount?) -> PressureTarget.Amount? {
            switch value {
            case nil: return nil
            case .bytes(let bytes)?: return .bytes(bytes)
            case .percent(let share)?: return .percent(share)
            }
        }
        return PressureTarget(keepFree: amount(keepFree), maxUse: amount(maxUse), minRetentionHours: minRetentionHours)
    }

    /// The mass-deletion brake of these settings.
    var brake: MassDeletionBrake { MassDeletionBrake(maximumPercent: maxDeletePercent, minimumFiles: maxDeleteMinFiles) }

    /// Sweep options from these settings; `allowMassDeletion` (`sweep --allow-mass-deletion`) turns the brake off.
    func sweepOptions(wait: Bool, allowMassDeletion: Bool = false) -> SweepOptions {
        SweepOptions(policy: policy, batchSize: batchSize, batchMilliseconds: batchMilliseconds, dryRun: dryRun, waitForLock: wait,
                     brake: allowMassDeletion ? nil : brake, requireSyncedClock: requireSyncedClock, maxFiles: maxFilesPerSweep,
                     maxSeconds: Double(maxSweepSeconds), pressure: pressureTarget)
    }
}

/// `--log-target auto|journal|stderr`, parsed (and completed) by ArgumentParser.
extension LogTarget.Request: ExpressibleByArgument {}
