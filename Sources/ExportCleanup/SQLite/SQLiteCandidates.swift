import Foundation
import GRDB
import GRDBSQLite

/// Reading candidates: the rule's query (the index chosen once), each row with its exact values.
extension SQLiteJobStore {
    public func candidates(for rule: CleanupRule, cutoff: UTCInstant, now: UTCInstant, after cursor: JobCursor?, limit: Int) throws(JobStoreError)
        -> (jobs: [ExportJob], next: JobCursor?)
    {
        let sql = candidatesSQL(for: rule)
        do {
            // One SELECT, atomic on its own; not through `queue.read`, whose `PRAGMA query_only = 1` / `= 0` around
            // every read expires every prepared statement of the connection (SQLite's flag pragmas do), so the
            // cached claim statements would be compiled anew for every batch.
            return try queue.inDatabase { db in
                let statement = try db.cachedStatement(sql: sql)
                let handle = statement.sqliteStatement
                sqlite3_reset(handle)
                defer { sqlite3_reset(handle) }
                try Self.check(sqlite3_bind_int64(handle, 1, cursor?.key ?? Int64.min), db)
                try Self.check(sqlite3_bind_int64(handle, 2, cutoff.microseconds), db)
                try Self.check(sqlite3_bind_int64(handle, 3, Int64(limit)), db)
                if sqlite3_bind_parameter_count(handle) >= 4 { try Self.check(sqlite3_bind_int64(handle, 4, now.microseconds), db) }
                var jobs: [ExportJob] = []
                jobs.reserveCapacity(limit)
                while true {
                    let code = sqlite3_step(handle)
                    if code == SQLITE_DONE { break }
                    guard code == SQLITE_ROW else { throw Self.error(code, db) }
                    jobs.append(Self.job(handle))
                }
                return (jobs, jobs.count < limit ? nil : jobs.last.map { JobCursor(key: $0.key) })
            }
        } catch {
            throw map(error, doing: "read \(rule.rawValue) jobs")
        }
    }

    /// The candidate query of a rule (the choice of index made here, once).
    func candidatesSQL(for rule: CleanupRule) -> String {
        rule == .completed ? Self.completedSQL : usesFailedIndex ? Self.failedIndexedSQL : Self.failedSQL
    }

    /// A completed row is left out only when its `completed_at` and `expires_at` (if set) are both readable and
    /// either `completed_at` is later than the cutoff or `expires_at` later than now: an unreadable value the rule
    /// needs is always returned, to be reported, and a row the application promised until a later `expires_at`
    /// is not read again on every sweep. Parameters: ?1 cursor, ?2 cutoff, ?3 limit, ?4 now.
    static let completedSQL = """
        SELECT \(columnsSQL) FROM export_jobs
        WHERE status = 'completed' AND rowid > ?1
            AND NOT (export_cleanup_readable(completed_at) AND (expires_at IS NULL OR export_cleanup_readable(expires_at))
                     AND (export_cleanup_later(completed_at, ?2) OR export_cleanup_later(expires_at, ?4)))
        ORDER BY rowid LIMIT ?3
        """

    static let failedSQL = """
        SELECT \(columnsSQL) FROM export_jobs
        WHERE status = 'failed' AND rowid > ?1 AND file_path IS NOT NULL AND NOT export_cleanup_later(created_at, ?2)
        ORDER BY rowid LIMIT ?3
        """

    /// ``failedSQL`` through ``failedIndex`` (only when it is verified present: `INDEXED BY` fails otherwise).
    static let failedIndexedSQL = """
        SELECT \(columnsSQL) FROM export_jobs INDEXED BY ix_export_jobs_cleanup_failed
        WHERE status = 'failed' AND rowid > ?1 AND file_path IS NOT NULL AND NOT export_cleanup_later(created_at, ?2)
        ORDER BY rowid LIMIT ?3
        """

    /// The columns a candidate row is read with, in ``CandidateColumn`` order.
    static let columnsSQL = "rowid, id, export_type, format, status, file_path, created_at, completed_at, expires_at"

    /// The positions of ``columnsSQL``.
    enum CandidateColumn: Int32 {
        case key = 0, id, exportType, format, status, filePath, createdAt, completedAt, expiresAt
    }

    /// A candidate row as read: every value through the C API with its storage class and its exact bytes.
    ///
    /// Not through GRDB's `Row`: it reads TEXT as a C string, which would cut a value at an embedded NUL (a path
    /// could then name another, shorter file; an id another job's id; a timestamp with trailing bytes would read
    /// as valid). `sqlite3_column_text` gives the text in UTF-8 whatever the database's encoding (a UTF-16
    /// database converts) and `sqlite3_column_bytes` its whole length; invalid UTF-8 becomes U+FFFD, which the
    /// path rule refuses, so no other file name or job id is ever derived from such a value.
    static func job(_ handle: OpaquePointer) -> ExportJob {
        func value(_ column: CandidateColumn) -> StoredValue {
            let index = column.rawValue
            switch sqlite3_column_type(handle, index) {
            case SQLITE_INTEGER: return .integer(sqlite3_column_int64(handle, index))
            case SQLITE_FLOAT: return .real(sqlite3_column_double(handle, index))
            case SQLITE_TEXT:
                guard let text = sqlite3_column_text(handle, index) else { return .text("") }
                return .text(String(decoding: UnsafeBufferPointer(start: text, count: Int(sqlite3_column_bytes(handle, index))), as: UTF8.self))
            case SQLITE_BLOB:
                let count = Int(sqlite3_column_bytes(handle, index))
                guard count > 0, let bytes = sqlite3_column_blob(handle, index) else { return .blob([]) }
                return .blob(Array(UnsafeRawBufferPointer(start: bytes, count: count)))
            default: return .null
            }
        }
        let storedID = value(.id)
        let id: String
        switch storedID {
        case .text(let text): id = text
        case .integer(let number): id = String(number)
        case let other: id = "<\(other.storageClass) \(other)>"
        }
        return ExportJob(
            key: sqlite3_column_int64(handle, CandidateColumn.key.rawValue), id: id, storedID: storedID, exportType: value(.exportType),
            format: value(.format), status: JobStatus(rawValue: value(.status).text ?? ""), filePath: value(.filePath), createdAt: value(.createdAt),
            completedAt: value(.completedAt), expiresAt: value(.expiresAt))
    }

    /// The query plans of the candidate queries (for tests and diagnostics).
    public func queryPlans() throws -> [CleanupRule: String] {
        try queue.read { db in
            var plans: [CleanupRule: String] = [:]
            for rule in CleanupRule.allCases {
                let rows = try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + candidatesSQL(for: rule), arguments: StatementArguments(Array(repeating: 0, count: 3)) + (rule == .completed ? [0] : []))
                plans[rule] = rows.map { $0["detail"] as String? ?? "" }.joined(separator: "; ")
            }
            return plans
        }
    }
}
