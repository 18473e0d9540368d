import Foundation
import GRDB

/// The application's SQLite database (the embedded default), through GRDB.
///
/// - Opens an existing database only (a missing file is an error, never created), sets a busy timeout and
///   leaves the journal mode as the application set it.
/// - Reads candidates by keyset pagination on the rowid through the `status` index, so a sweep's cost grows
///   with the rows of the swept statuses, not with the table. Rows whose datetime text is well-formed and
///   clearly later than the cutoff (SQLite's `julianday`, with a one-second margin) are filtered out in SQL;
///   every other row of the status is returned for the policy to decide or report.
/// - Updates are compare-and-set (`WHERE id = ? AND status = ? AND file_path IS ?`) in one IMMEDIATE
///   transaction per batch; no transaction is held while files are touched.
public final class SQLiteJobStore: JobStore {
    /// The database file.
    public let path: String
    private let queue: DatabaseQueue

    /// The table the application writes.
    public static let table = "export_jobs"
    /// The columns cleanup needs.
    public static let requiredColumns = ["id", "export_type", "format", "status", "file_path", "created_at", "completed_at", "expires_at"]

    /// Opens the database at `path`.
    /// - Parameters:
    ///   - busyTimeout: how long a statement waits for the application's locks, in seconds.
    ///   - readOnly: open read-only (dry runs): the file is never written.
    public init(path: String, busyTimeout: Double = 5, readOnly: Bool = false) throws(JobStoreError) {
        self.path = path
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw JobStoreError(.databaseMissing, path: path,
                                message: "database '\(path)' does not exist: set the application's SQLite file with --db or EXPORT_CLEANUP_DATABASE (it is never created)")
        }
        var configuration = Configuration()
        configuration.readonly = readOnly
        configuration.busyMode = .timeout(busyTimeout)
        configuration.foreignKeysEnabled = false
        configuration.label = "export-cleanup"
        do {
            queue = try DatabaseQueue(path: path, configuration: configuration)
        } catch {
            // GRDB reads the schema while opening: a write lock held beyond the busy timeout is temporary (75),
            // not an unreadable database.
            if let error = error as? DatabaseError, error.resultCode == .SQLITE_BUSY || error.resultCode == .SQLITE_LOCKED {
                throw JobStoreError(.busy, path: path,
                                    message: "database '\(path)' stayed locked beyond the busy timeout while opening it: the application holds a long write transaction; try again later or raise EXPORT_CLEANUP_BUSY_TIMEOUT_MS")
            }
            throw JobStoreError(.cannotOpen, path: path, message: "cannot open database '\(path)': \(Self.describe(error)); check that it is an SQLite file this user may read and write")
        }
    }

    public func verifySchema() throws(JobStoreError) {
        let columns: [String]
        do {
            columns = try queue.read { db in
                try String.fetchAll(db, sql: "SELECT name FROM pragma_table_info(?)", arguments: [Self.table])
            }
        } catch {
            throw map(error, doing: "read the schema")
        }
        guard !columns.isEmpty else {
            let tables = (try? queue.read { db in try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name") }) ?? []
            throw JobStoreError(.missingTable, path: path, table: Self.table,
                                message: "database '\(path)' has no table '\(Self.table)' (tables: \(tables.isEmpty ? "none" : tables.joined(separator: ", "))): point --db at the application's database")
        }
        for column in Self.requiredColumns where !columns.contains(column) {
            throw JobStoreError(.missingColumn, path: path, table: Self.table, column: column,
                                message: "table '\(Self.table)' in '\(path)' has no column '\(column)': the application's schema is needed (columns found: \(columns.joined(separator: ", ")))")
        }
    }

    public func candidates(for rule: CleanupRule, cutoff: UTCInstant, after cursor: JobCursor?, limit: Int) throws(JobStoreError)
        -> (jobs: [ExportJob], next: JobCursor?)
    {
        let sql = rule == .completed ? Self.completedSQL : Self.failedSQL
        // One second of margin: julianday() is a double; the policy decides exactly.
        let bound = cutoff.julianDay + 1.0 / 86_400
        do {
            let rows = try queue.read { db in
                try Row.fetchAll(db.cachedStatement(sql: sql), arguments: [cursor?.key ?? Int64.min, bound, limit])
            }
            var jobs: [ExportJob] = []
            jobs.reserveCapacity(rows.count)
            var last: Int64?
            for row in rows {
                last = row[0]
                jobs.append(ExportJob(
                    id: Self.text(row, 1), exportType: Self.text(row, 2), format: Self.text(row, 3), status: Self.text(row, 4),
                    filePath: Self.stored(row, 5), createdAt: Self.stored(row, 6), completedAt: Self.stored(row, 7),
                    expiresAt: Self.stored(row, 8)))
            }
            return (jobs, rows.count < limit ? nil : last.map(JobCursor.init(key:)))
        } catch {
            throw map(error, doing: "read \(rule.rawValue) jobs")
        }
    }

    public func apply(_ updates: [JobUpdate]) throws(JobStoreError) -> [Bool] {
        guard !updates.isEmpty else { return [] }
        do {
            var applied: [Bool] = []
            applied.reserveCapacity(updates.count)
            try queue.inTransaction(.immediate) { db in
                let statement = try db.cachedStatement(sql: Self.updateSQL)
                for update in updates {
                    try statement.execute(arguments: [update.newStatus, update.job.id, update.job.status, Self.databaseValue(update.job.filePath)])
                    applied.append(db.changesCount == 1)
                }
                return .commit
            }
            return applied
        } catch {
            throw map(error, doing: "update \(updates.count) records")
        }
    }

    /// The query plans of the candidate queries (for tests and diagnostics).
    public func queryPlans() throws -> [CleanupRule: String] {
        try queue.read { db in
            var plans: [CleanupRule: String] = [:]
            for rule in CleanupRule.allCases {
                let rows = try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + (rule == .completed ? Self.completedSQL : Self.failedSQL),
                                            arguments: [0, 0.0, 1])
                plans[rule] = rows.map { $0["detail"] as String? ?? "" }.joined(separator: "; ")
            }
            return plans
        }
    }

    // MARK: - SQL

    private static let columnsSQL = "rowid, id, export_type, format, status, file_path, created_at, completed_at, expires_at"

    /// Rows whose datetime text is well formed and more than the margin after the cutoff are left out.
    private static func laterThanCutoff(_ column: String) -> String {
        "(typeof(\(column)) = 'text' AND \(column) GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9][ T][0-9][0-9]:[0-9][0-9]*' AND julianday(\(column)) > ?2)"
    }

    static let completedSQL = """
        SELECT \(columnsSQL) FROM export_jobs
        WHERE status = 'completed' AND rowid > ?1 AND NOT \(laterThanCutoff("completed_at"))
        ORDER BY rowid LIMIT ?3
        """

    static let failedSQL = """
        SELECT \(columnsSQL) FROM export_jobs
        WHERE status = 'failed' AND rowid > ?1 AND file_path IS NOT NULL AND NOT \(laterThanCutoff("created_at"))
        ORDER BY rowid LIMIT ?3
        """

    static let updateSQL = "UPDATE export_jobs SET status = ?, file_path = NULL WHERE id = ? AND status = ? AND file_path IS ?"

    // MARK: - Values

    private static func stored(_ row: Row, _ index: Int) -> StoredValue {
        switch (row[index] as DatabaseValue).storage {
        case .null: return .null
        case .int64(let value): return .integer(value)
        case .double(let value): return .real(value)
        case .string(let value): return .text(value)
        case .blob(let data): return .blob(Array(data))
        }
    }

    private static func text(_ row: Row, _ index: Int) -> String {
        switch stored(row, index) {
        case .text(let value): return value
        case .null: return ""
        case let other: return other.description
        }
    }

    private static func databaseValue(_ value: StoredValue) -> DatabaseValue {
        switch value {
        case .null: return .null
        case .integer(let value): return value.databaseValue
        case .real(let value): return value.databaseValue
        case .text(let value): return value.databaseValue
        case .blob(let bytes): return Data(bytes).databaseValue
        }
    }

    private func map(_ error: any Error, doing what: String) -> JobStoreError {
        if let error = error as? JobStoreError { return error }
        if let error = error as? DatabaseError, error.resultCode == .SQLITE_BUSY || error.resultCode == .SQLITE_LOCKED {
            return JobStoreError(.busy, path: path,
                                 message: "database '\(path)' stayed locked beyond the busy timeout while trying to \(what): the application holds a long write transaction; try again later or raise EXPORT_CLEANUP_BUSY_TIMEOUT_MS")
        }
        return JobStoreError(.sqlite, path: path, message: "cannot \(what) in '\(path)': \(Self.describe(error))")
    }

    private static func describe(_ error: any Error) -> String {
        if let error = error as? DatabaseError { return error.message ?? "\(error.resultCode)" }
        return "\(error)"
    }
}
