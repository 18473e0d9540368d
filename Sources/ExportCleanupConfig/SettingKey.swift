/// The settings, named by their key. The configuration file, the environment and the flags use the same keys;
/// ``defaultValueText`` gives a setting's default.
public enum SettingKey: String, CaseIterable, Sendable, Hashable, CustomStringConvertible {
    /// The storage directory holding the export files.
    case storagePath = "EXPORT_STORAGE_PATH"
    /// The SQLite database's path, or a PostgreSQL connection string. Default `./exports.db`.
    case databasePath = "EXPORT_CLEANUP_DATABASE"
    /// Hours a completed export is kept.
    case retentionHours = "EXPORT_CLEANUP_RETENTION_HOURS"
    /// Hours after which the file of a failed export is removed.
    case failedAgeHours = "EXPORT_CLEANUP_FAILED_AGE_HOURS"
    /// Retention per export type, e.g. `hotels=48 supplier_summary=168`; types not named use the default.
    case retentionHoursByType = "EXPORT_CLEANUP_RETENTION_HOURS_BY_TYPE"
    /// Failed age per export type, e.g. `hotels=2`; types not named use the default.
    case failedAgeHoursByType = "EXPORT_CLEANUP_FAILED_AGE_HOURS_BY_TYPE"
    /// Seconds between two sweeps of the daemon.
    case intervalSeconds = "EXPORT_CLEANUP_INTERVAL_SECONDS"
    /// Rows claimed per write transaction at most.
    case batchSize = "EXPORT_CLEANUP_BATCH_SIZE"
    /// Milliseconds of reading and checking after which a batch is claimed even if it is not full.
    case batchMilliseconds = "EXPORT_CLEANUP_BATCH_MILLISECONDS"
    /// The lowest level logged.
    case logLevel = "EXPORT_CLEANUP_LOG_LEVEL"
    /// Report what would be removed without removing anything.
    case dryRun = "EXPORT_CLEANUP_DRY_RUN"
    /// Milliseconds to wait for a locked database.
    case busyTimeoutMilliseconds = "EXPORT_CLEANUP_BUSY_TIMEOUT_MS"
    /// The Prometheus metrics file written after every sweep (empty: none).
    case metricsFile = "EXPORT_CLEANUP_METRICS_FILE"
    /// The directory keeping the last sweep's status (empty: systemd's `$STATE_DIRECTORY`, else none).
    case stateDirectory = "EXPORT_CLEANUP_STATE_DIRECTORY"
    /// PostgreSQL: the name of the cluster-wide sweep lock. Default empty: the storage path.
    case lockName = "EXPORT_CLEANUP_LOCK_NAME"
    /// The mass-deletion brake: the largest share (percent) of the referenced export files one sweep may remove.
    case maxDeletePercent = "EXPORT_CLEANUP_MAX_DELETE_PERCENT"
    /// The mass-deletion brake: a sweep removing at most this many files never trips it.
    case maxDeleteMinFiles = "EXPORT_CLEANUP_MAX_DELETE_MIN_FILES"
    /// Remove nothing while the kernel says the clock is not synchronised.
    case requireSyncedClock = "EXPORT_CLEANUP_REQUIRE_SYNCED_CLOCK"
    /// Files one sweep removes at most (0: no bound).
    case maxFilesPerSweep = "EXPORT_CLEANUP_MAX_FILES_PER_SWEEP"
    /// Seconds one sweep runs at most (0: no bound).
    case maxSweepSeconds = "EXPORT_CLEANUP_MAX_SWEEP_SECONDS"
    /// The daemon's orphan pass after each sweep: files older than this many hours that no row references go (0: off).
    case orphanHours = "EXPORT_CLEANUP_ORPHAN_HOURS"
    /// Disk pressure: free space (bytes, or percent of the file system, inodes too) to keep on the storage file system.
    case keepFree = "EXPORT_CLEANUP_KEEP_FREE"
    /// Disk pressure: the most bytes the export files may take (bytes, or percent of the file system).
    case maxUse = "EXPORT_CLEANUP_MAX_USE"
    /// Disk pressure never removes an export completed less than this many hours ago.
    case minRetentionHours = "EXPORT_CLEANUP_MIN_RETENTION_HOURS"

    /// The prefix of the environment variables reserved for settings (besides ``storagePath``).
    public static let environmentPrefix = "EXPORT_CLEANUP_"

    /// The key, e.g. `EXPORT_CLEANUP_RETENTION_HOURS`.
    public var description: String { rawValue }

    /// The suggested command-line flag: the key without `EXPORT_CLEANUP_` / `EXPORT_`, in lower case with
    /// dashes, e.g. `--retention-hours`, `--busy-timeout-ms`; the paths are `--storage` and `--db`.
    public var flagName: String {
        switch self {
        case .storagePath: return "--storage"
        case .databasePath: return "--db"
        default: break
        }
        var name = Substring(rawValue)
        if name.hasPrefix(Self.environmentPrefix) {
            name = name.dropFirst(Self.environmentPrefix.count)
        } else if name.hasPrefix("EXPORT_") {
            name = name.dropFirst("EXPORT_".count)
        }
        return "--" + name.lowercased().replacing("_", with: "-")
    }

    /// The default value, as it would be written in the configuration file.
    public var defaultValueText: String { CleanupSettings().text(of: self) }

    /// The values allowed, as a phrase completing "expected …".
    public var allowedValues: String {
        switch self {
        case .storagePath: "a non-empty directory path without NUL characters"
        case .databasePath: "a non-empty file path or PostgreSQL connection string without NUL characters"
        case .retentionHours, .failedAgeHours:
            "a number of hours greater than 0 and at most \(Limits.maximumHoursText) (decimals allowed, e.g. 0.5)"
        case .retentionHoursByType, .failedAgeHoursByType:
            "TYPE=HOURS pairs separated by spaces or commas, e.g. hotels=48 supplier_summary=168 (TYPE: an export type of "
                + "letters, digits and '-' in words joined by '_', at most 50 characters, each named once; HOURS as for "
                + "EXPORT_CLEANUP_RETENTION_HOURS), or empty for none"
        case .intervalSeconds: "a whole number of seconds from 1 to 86400"
        case .batchSize: "a whole number from 1 to 100000"
        case .batchMilliseconds: "a whole number of milliseconds from 1 to 60000"
        case .logLevel:
            "one of " + CleanupSettings.LogLevel.allCases.map(\.rawValue).joined(separator: ", ")
        case .dryRun: "one of true, false, yes, no, 1, 0, on, off (in any case)"
        case .busyTimeoutMilliseconds: "a whole number of milliseconds from 0 to 600000"
        case .metricsFile: "a file path without NUL characters, or empty for none"
        case .stateDirectory: "a directory path without NUL characters, or empty for the default"
        case .lockName: "a name without NUL characters (empty: the storage path)"
        case .maxDeletePercent: "a whole number of percent from 0 to 100 (100 turns the mass-deletion brake off)"
        case .maxDeleteMinFiles: "a whole number of files from 0 to 100000000"
        case .requireSyncedClock: "one of yes, no, true, false, 1, 0, on, off (in any case)"
        case .maxFilesPerSweep: "a whole number of files from 0 (no bound) to 100000000"
        case .maxSweepSeconds: "a whole number of seconds from 0 (no bound) to 86400"
        case .orphanHours: "0 (off) or a number of hours greater than 0 and at most \(Limits.maximumHoursText) (decimals allowed)"
        case .keepFree, .maxUse:
            "0 (off), a size in bytes with an optional K, M, G or T suffix (powers of 1024; decimals allowed, e.g. 1.5G), "
                + "or a percentage of the storage file system from 0 to 100 (e.g. 10%)"
        case .minRetentionHours: "a number of hours from 0 to \(Limits.maximumHoursText) (decimals allowed)"
        }
    }

    /// The known key closest to `unknown`, when it is close enough to be a likely typo.
    ///
    /// The comparison ignores case. The key with the smallest edit distance is suggested if that distance is
    /// at most 3 (and less than a third of the key's length); failing that, the only key that `unknown`
    /// extends or abbreviates (`EXPORT_CLEANUP_INTERVAL` → `EXPORT_CLEANUP_INTERVAL_SECONDS`), provided
    /// they share more than the `EXPORT_CLEANUP_` prefix.
    public static func suggestion(for unknown: String) -> SettingKey? {
        let upper = unknown.uppercased()
        let candidate = Array(upper.unicodeScalars)
        var best: (key: SettingKey, distance: Int)?
        for key in allCases {
            let distance = editDistance(candidate, Array(key.rawValue.unicodeScalars))
            if distance <= 3, distance * 3 < key.rawValue.count, distance < (best?.distance ?? .max) {
                best = (key, distance)
            }
        }
        if let best { return best.key }
        let minimumShared = environmentPrefix.count + 3
        let related = allCases.filter { key in
            min(upper.count, key.rawValue.count) >= minimumShared
                && (upper.hasPrefix(key.rawValue) || key.rawValue.hasPrefix(upper))
        }
        if related.count == 1 { return related[0] }
        // `EXPORT_CLEANUP_RETENTION` extends to `..._RETENTION_HOURS` and `..._RETENTION_HOURS_BY_TYPE`: the key the
        // others extend is meant.
        return related.first { key in related.allSatisfy { $0.rawValue.hasPrefix(key.rawValue) } }
    }

    /// The valid keys, comma-separated.
    static var list: String { allCases.map(\.rawValue).joined(separator: ", ") }

    /// The Levenshtein distance between two strings of scalars.
    static func editDistance(_ a: [Unicode.Scalar], _ b: [Unicode.Scalar]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = Array(repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
                current[j] = min(previous[j] + 1, current[j - 1] + 1, substitution)
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}

/// The bounds of the numeric settings.
enum Limits {
    static let maximumHours = 87_600.0
    static let maximumHoursText = "87600"
    static let interval = 1...86_400
    static let batchSize = 1...100_000
    static let batchMilliseconds = 1...60_000
    static let busyTimeoutMilliseconds = 0...600_000
    static let maxDeletePercent = 0...100
    static let maxDeleteMinFiles = 0...100_000_000
    static let maxFilesPerSweep = 0...100_000_000
    static let maxSweepSeconds = 0...86_400
}
