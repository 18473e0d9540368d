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
