import GRDB
import GRDBSQLite

/// Pressure candidates: completed rows with a file, oldest `completed_at` first.
extension SQLiteJobStore {
    public func pressureCandidates(completedBefore cutoff: UTCInstant, now: UTCInstant, after cursor: PressureCursor?, limit: Int)
        throws(JobStoreError) -> [ExportJob]
    {
        do {
            return try queue.inDatabase { db in
                let statement = try db.cachedStatement(sql: Self.pressureSQL)
                let handle = statement.sqliteStatement
                sqlite3_reset(handle)
                defer { sqlite3_reset(handle) }
                try Self.check(sqlite3_bind_int64(handle, 1, cutoff.microseconds), db)
                try Self.check(sqlite3_bind_int64(handle, 2, now.microseconds), db)
                try Self.check(sqlite3_bind_int64(handle, 3, cursor?.completedAt.microseconds ?? Int64.min), db)
                try Self.check(sqlite3_bind_int64(handle, 4, cursor?.key ?? Int64.min), db)
                try Self.check(sqlite3_bind_int64(handle, 5, Int64(limit)), db)
                var jobs: [ExportJob] = []
                while true {
                    let code = sqlite3_step(handle)
                    if code == SQLITE_DONE { break }
                    guard code == SQLITE_ROW else { throw Self.error(code, db) }
                    jobs.append(Self.job(handle))
                }
                return jobs
            }
        } catch {
            throw map(error, doing: "read the completed jobs to remove under disk pressure")
        }
    }

    /// Completed rows with a file whose `completed_at` (readable) is at most ?1 and whose `expires_at` is NULL or
    /// readable and at most ?2, ordered by the instant `completed_at` names (``StoredDateTime``'s reading, so every
    /// accepted spelling sorts by time, not by text), then rowid; keyset after (?3, ?4); ?5 rows.
    static let pressureSQL = """
        SELECT \(columnsSQL) FROM export_jobs
        WHERE status = 'completed' AND file_path IS NOT NULL
            AND export_cleanup_readable(completed_at) AND NOT export_cleanup_later(completed_at, ?1)
            AND (expires_at IS NULL OR (export_cleanup_readable(expires_at) AND NOT export_cleanup_later(expires_at, ?2)))
            AND (export_cleanup_instant(completed_at), rowid) > (?3, ?4)
        ORDER BY export_cleanup_instant(completed_at), rowid LIMIT ?5
        """

    /// `export_cleanup_instant(value)`: the microseconds since 1970 that ``StoredDateTime`` reads in a TEXT value, or NULL.
    static let instantFunction: @convention(c) (OpaquePointer?, Int32, UnsafeMutablePointer<OpaquePointer?>?) -> Void = { context, _, arguments in
        guard let arguments, let instant = parsedText(arguments[0]) else {
            sqlite3_result_null(context)
            return
        }
        sqlite3_result_int64(context, instant.microseconds)
    }
}
