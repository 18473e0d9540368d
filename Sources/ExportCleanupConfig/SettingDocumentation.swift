/// What each setting means, for an operator: the text of `export-cleanup.conf(5)` (generated from this table by
/// `export-cleanup generate-conf-manual`), kept beside the keys so a new key cannot go undocumented.
extension SettingKey {
    /// One sentence: what the setting is.
    public var summary: String {
        switch self {
        case .storagePath: "The storage directory holding the export files."
        case .databasePath:
            "The application's SQLite database holding the export_jobs table (never created), or a PostgreSQL connection "
                + "string (postgresql://user@host/db, or host=... dbname=...)."
        case .retentionHours: "Hours a completed export is kept after its completion (and never removed before its expires_at)."
        case .failedAgeHours: "Hours after its creation at which the partial file of a failed export is removed."
        case .intervalSeconds: "Seconds between two sweeps of the daemon (export-cleanup run)."
        case .batchSize: "Rows claimed per write transaction at most (the application waits at most that long for its own writes)."
        case .batchMilliseconds: "Milliseconds of reading and checking after which a batch is claimed even if it is not full."
        case .logLevel: "The lowest level logged."
        case .dryRun: "Report what would be removed without removing files or changing the database."
        case .busyTimeoutMilliseconds: "Milliseconds to wait for the application's database locks before giving up."
        case .metricsFile:
            "A Prometheus text file (node_exporter's textfile collector format) written atomically after every sweep, "
                + "e.g. /var/lib/prometheus/node-exporter/export-cleanup.prom. Empty: no metrics file."
        case .stateDirectory:
            "The directory where the daemon and the one-shot sweep keep the last sweep's report (last-sweep.json), "
                + "which export-cleanup status prints. Empty: systemd's $STATE_DIRECTORY (set by StateDirectory= in the "
                + "units), else none."
        case .lockName:
            "PostgreSQL: the name of the cluster-wide sweep lock that lets one instance at a time sweep a storage "
                + "directory. Empty: the storage path."
        case .retentionHoursByType:
            "Retention per export type, e.g. \"hotels=48 supplier_summary=168\"; types not named use EXPORT_CLEANUP_RETENTION_HOURS."
        case .failedAgeHoursByType:
            "Failed age per export type, e.g. \"hotels=2\"; types not named use EXPORT_CLEANUP_FAILED_AGE_HOURS."
        case .maxDeletePercent:
            "The mass-deletion brake: a sweep that would remove more than this percent of the export files the table "
                + "references (and more than EXPORT_CLEANUP_MAX_DELETE_MIN_FILES files) removes nothing. 100 turns it off."
        case .maxDeleteMinFiles: "The mass-deletion brake: a sweep removing at most this many files never trips it."
        case .requireSyncedClock: "yes: a sweep removes nothing while the kernel says the clock is not synchronised."
        case .maxFilesPerSweep: "Files one sweep removes at most (0: no bound); the daemon goes on after a short pause."
        case .maxSweepSeconds: "Seconds one sweep runs at most (0: no bound); the daemon goes on after a short pause."
        case .orphanHours:
            "The daemon's orphan pass: after each sweep, export files older than this many hours that no row references "
                + "are removed (0: off)."
        case .keepFree:
            "Disk pressure: free space to keep on the storage file system (bytes with K, M, G or T, or a percentage, which "
                + "counts free inodes too); completed exports go early, oldest first, until it holds (0: off)."
        case .maxUse: "Disk pressure: the most bytes the export files may take (or a percentage of the file system; 0: off)."
        case .minRetentionHours:
            "Disk pressure never removes an export completed less than this many hours ago, nor one whose expires_at is ahead."
        }
    }

    /// More to know, or `nil`.
    public var notes: String? {
        switch self {
        case .databasePath:
            "SQLite creates its -journal, -wal and -shm files beside it: the unit's ReadWritePaths= must cover its directory. "
                + "A PostgreSQL password is never shown in logs or STATUS=; give it through PGPASSFILE (docs/INSTALL.md)."
        case .intervalSeconds:
            "export-cleanup status reports the last sweep as stale when it is older than twice this interval; for the "
                + "timer-driven one-shot sweep set it to the timer's period."
        case .busyTimeoutMilliseconds:
            "Keep it well below the daemon unit's WatchdogSec= (120 s)."
        case .metricsFile:
            "The directory must exist and be writable by the service (the unit's ReadWritePaths=)."
        default: nil
        }
    }
}
