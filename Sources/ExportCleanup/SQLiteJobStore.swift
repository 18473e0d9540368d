import Foundation
package import GRDB
import GRDBSQLite

/// The application's SQLite database (the embedded default), through GRDB.
///
/// - Opens an existing database only (a missing file is an error, never created), sets a busy timeout and
///   leaves the journal mode as the application set it.
/// - Reads candidates by keyset pagination on the rowid through the `status` index, so a sweep's cost grows
///   with the rows of the swept statuses, not with the table. When the operator has created the optional partial
///   index ``failedIndex`` (`export-cleanup index --create`; found at opening by name and definition), the failed
///   rule reads through it instead: only failed jobs that still have a file, not the failed history. Nothing in
///   the schema is ever created or changed by opening or sweeping. Rows whose timestamp ``StoredDateTime`` reads
///   as later than the cutoff are filtered out in SQL (through an SQL function over that same parser, so SQL
///   and the policy never disagree on a value); every other row of the status is returned for the policy to
///   decide or report.
/// - Updates are compare-and-set (`WHERE id = ? AND status = ? AND file_path IS ?`, the file_path's storage
///   class included) in one IMMEDIATE transaction per batch, one cached statement per up to 1,024 rows (``bulkUpdateSQL(rows:)``);
///   no transaction is held while files are touched.
public final class SQLiteJobStore: JobStore {
    /// The database file.
    public let path: String
    private let queue: DatabaseQueue
    /// Whether updates go one statement per chunk (``bulkUpdateSQL(rows:)``, SQLite 3.35 or later) rather than one per row.
    public let bulkUpdates: Bool
    /// Whether the failed rule reads through the optional ``failedIndex`` (found at opening, name and definition
    /// verified); otherwise through `ix_export_jobs_status`.
    public let usesFailedIndex: Bool

    /// The table the application writes.
    public static let table = "export_jobs"
    /// The columns cleanup needs.
    public static let requiredColumns = ["id", "export_type", "format", "status", "file_path", "created_at", "completed_at", "expires_at"]

    /// Opens the database at `path`.
    /// - Parameters:
    ///   - busyTimeout: how long a statement waits for the application's locks, in seconds.
    ///   - readOnly: open read-only (dry runs): the file is never written.
    ///   - perRowUpdates: one compare-and-set statement per row even where bulk statements are available (tests).
    public init(path: String, busyTimeout: Double = 5, readOnly: Bool = false, perRowUpdates: Bool = false) throws(JobStoreError) {
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
        configuration.prepareDatabase { db in
            try Self.addFunctions(db)
        }
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
        // "3.40.1" -> [3, 40, 1]; RETURNING needs 3.35.
        let version = ((try? queue.read { db in try String.fetchOne(db, sql: "SELECT sqlite_version()") }) ?? nil)?
            .split(separator: ".").map { Int($0) ?? 0 } ?? []
        bulkUpdates = !perRowUpdates && version.lexicographicallyPrecedes([3, 35, 0]) == false
        let failedIndexState = (try? queue.read { db in try Self.state(of: Self.failedIndex, db) }) ?? .absent
        usesFailedIndex = failedIndexState == .present
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
        let sql = rule == .completed ? Self.completedSQL : usesFailedIndex ? Self.failedIndexedSQL : Self.failedSQL
        do {
            // One SELECT, atomic on its own; not through `queue.read`, whose `PRAGMA query_only = 1` / `= 0` around
            // every read expires every prepared statement of the connection (SQLite's flag pragmas do), so the
            // cached bulk update would be compiled anew for every batch.
            let rows = try queue.inDatabase { db in
                try Row.fetchAll(db.cachedStatement(sql: sql), arguments: [cursor?.key ?? Int64.min, cutoff.microseconds, limit])
            }
            var jobs: [ExportJob] = []
            jobs.reserveCapacity(rows.count)
            var last: Int64?
            for row in rows {
                last = row[0]
                jobs.append(ExportJob(
                    id: Self.exactText(row, 1, bytes: 10).text ?? Self.text(row, 1), exportType: Self.text(row, 2), format: Self.text(row, 3), status: Self.text(row, 4),
                    filePath: Self.exactText(row, 5, bytes: 9), createdAt: Self.exactText(row, 6, bytes: 11), completedAt: Self.exactText(row, 7, bytes: 12),
                    expiresAt: Self.exactText(row, 8, bytes: 13)))
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
            let bulk = bulkUpdates
            try queue.inTransaction(.immediate) { db in
                // Duplicate ids in one batch (never from a sweep) go row by row, where the first match wins.
                if bulk, Set(updates.lazy.map(\.job.id)).count == updates.count {
                    var start = updates.startIndex
                    while start < updates.endIndex {
                        let end = min(start + Self.bulkChunkRows, updates.endIndex)
                        applied += try Self.applyBulk(updates[start..<end], db)
                        start = end
                    }
                } else {
                    applied.removeAll()
                    let statement = try db.cachedStatement(sql: Self.updateSQL)
                    for update in updates {
                        try statement.execute(arguments: [update.newStatus, update.job.id, update.job.status, update.job.filePath.databaseValue])
                        applied.append(db.changesCount == 1)
                    }
                }
                return .commit
            }
            return applied
        } catch {
            throw map(error, doing: "update \(updates.count) records")
        }
    }

    /// One compare-and-set statement for a chunk of updates (see ``bulkUpdateSQL(rows:)``). An update is applied
    /// when exactly one row with its id was updated, as ``updateSQL``'s `changes() == 1` per row.
    ///
    /// The statement is prepared once per size in ``bulkStatementRows`` and cached (preparing a statement of
    /// 2,000 parameters costs about a millisecond); the chunk is padded with rows of NULLs, which match nothing
    /// (`id = NULL` is never true).
    private static func applyBulk(_ chunk: ArraySlice<JobUpdate>, _ db: Database) throws -> [Bool] {
        let rows = bulkStatementRows.first { $0 >= chunk.count } ?? chunk.count
        let statement = try db.cachedStatement(sql: bulkUpdateSQL(rows: rows))
        // Bound and stepped through the C API: GRDB's StatementArguments would box and validate 4,000 values per
        // chunk. Unbound parameters (the padding) are NULL.
        let handle = statement.sqliteStatement
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
        defer { sqlite3_reset(handle) }
        var index: Int32 = 1
        for update in chunk {
            try bind(text: update.job.id, handle, index, db)
            try bind(text: update.job.status, handle, index + 1, db)
            try bind(update.job.filePath, handle, index + 2, db)
            try bind(text: update.newStatus, handle, index + 3, db)
            index += 4
        }
        var updatedByID: [String: Int] = [:]
        while true {
            let code = sqlite3_step(handle)
            if code == SQLITE_DONE { break }
            guard code == SQLITE_ROW else {
                throw DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(db.sqliteConnection)))
            }
            if sqlite3_column_type(handle, 0) == SQLITE_TEXT, let text = sqlite3_column_text(handle, 0) {
                let id = String(decoding: UnsafeBufferPointer(start: text, count: Int(sqlite3_column_bytes(handle, 0))), as: UTF8.self)
                updatedByID[id, default: 0] += 1
            }
        }
        return chunk.map { updatedByID[$0.job.id] == 1 }
    }

    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    private static func bind(text: String, _ handle: OpaquePointer, _ index: Int32, _ db: Database) throws {
        // The byte count is given, so a NUL inside the text is bound too (as GRDB does).
        try check(sqlite3_bind_text(handle, index, text, Int32(text.utf8.count), transient), db)
    }

    private static func bind(_ value: StoredValue, _ handle: OpaquePointer, _ index: Int32, _ db: Database) throws {
        let code: Int32
        switch value {
        case .null: code = sqlite3_bind_null(handle, index)
        case .integer(let value): code = sqlite3_bind_int64(handle, index, value)
        case .real(let value): code = sqlite3_bind_double(handle, index, value)
        case .text(let text):
            try bind(text: text, handle, index, db)
            return
        case .blob(let bytes):
            code = bytes.withUnsafeBytes { sqlite3_bind_blob(handle, index, $0.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32($0.count), transient) }
        }
        try check(code, db)
    }

    private static func check(_ code: Int32, _ db: Database) throws {
        guard code == SQLITE_OK else {
            throw DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(db.sqliteConnection)))
        }
    }

    /// The query plans of the candidate queries (for tests and diagnostics).
    public func queryPlans() throws -> [CleanupRule: String] {
        try queue.read { db in
            var plans: [CleanupRule: String] = [:]
            for rule in CleanupRule.allCases {
                let sql = rule == .completed ? Self.completedSQL : usesFailedIndex ? Self.failedIndexedSQL : Self.failedSQL
                let rows = try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql,
                                            arguments: [0, 0, 1])
                plans[rule] = rows.map { $0["detail"] as String? ?? "" }.joined(separator: "; ")
            }
            return plans
        }
    }

    // MARK: - Optional indexes

    /// An index export-cleanup can use but never creates by itself: the operator creates it with
    /// `export-cleanup index --create` (the application owns the schema).
    public struct OptionalIndex: Sendable, Hashable {
        /// The index name.
        public var name: String
        /// Its definition, as `sqlite_master.sql` holds it (`CREATE INDEX name ON ...`).
        public var definition: String
        /// What it is for.
        public var purpose: String

        /// `CREATE INDEX IF NOT EXISTS ...`.
        public var createStatement: String {
            "CREATE INDEX IF NOT EXISTS " + definition.dropFirst("CREATE INDEX ".count)
        }
    }

    /// Whether an optional index is in the database.
    public enum IndexState: Sendable, Hashable {
        /// No index of that name.
        case absent
        /// Present with exactly the expected definition (whitespace aside).
        case present
        /// An index of that name with another definition (or on another table): not used, not replaced.
        case different(String)
    }

    /// The failed jobs that still have a file, in rowid order: the failed rule reads these, where
    /// `ix_export_jobs_status` would also walk every failed job whose file is long gone (history that grows forever).
    /// Its terms are the failed query's own (`status = 'failed' AND file_path IS NOT NULL`), so SQLite may use it,
    /// and entries of one key are in rowid order, so the keyset pagination on the rowid stays an index range.
    public static let failedIndex = OptionalIndex(
        name: "ix_export_jobs_cleanup_failed",
        definition: "CREATE INDEX ix_export_jobs_cleanup_failed ON export_jobs (status) WHERE status = 'failed' AND file_path IS NOT NULL",
        purpose: "failed jobs that still have a file: the failed rule reads only these instead of every failed job ever recorded")

    /// Every optional index.
    public static let optionalIndexes = [failedIndex]

    /// The state of each optional index.
    public func optionalIndexStates() throws(JobStoreError) -> [(index: OptionalIndex, state: IndexState)] {
        do {
            return try queue.read { db in try Self.optionalIndexes.map { ($0, try Self.state(of: $0, db)) } }
        } catch {
            throw map(error, doing: "read the indexes")
        }
    }

    /// Creates the optional indexes that are absent, in one IMMEDIATE transaction (`CREATE INDEX IF NOT EXISTS`).
    /// An index of the same name with another definition is left alone and makes this fail before anything is created.
    /// - Returns: the indexes created (empty when all were present).
    public func createOptionalIndexes() throws(JobStoreError) -> [OptionalIndex] {
        do {
            var created: [OptionalIndex] = []
            try queue.inTransaction(.immediate) { db in
                for index in Self.optionalIndexes {
                    switch try Self.state(of: index, db) {
                    case .present:
                        continue
                    case .different(let found):
                        throw JobStoreError(.sqlite, path: path,
                                           message: "database '\(path)' has an index '\(index.name)' with another definition (\(found)); nothing was created: drop it or rename it first")
                    case .absent:
                        try db.execute(sql: index.createStatement)
                        created.append(index)
                    }
                }
                return .commit
            }
            return created
        } catch {
            throw map(error, doing: "create the indexes")
        }
    }

    static func state(of index: OptionalIndex, _ db: Database) throws -> IndexState {
        guard let row = try Row.fetchOne(db, sql: "SELECT type, tbl_name, sql FROM sqlite_master WHERE name = ?", arguments: [index.name]) else {
            return .absent
        }
        let sql = (row[2] as String?) ?? ""
        guard row[0] as String? == "index", row[1] as String? == table, normalized(sql) == normalized(index.definition) else {
            return .different(sql.isEmpty ? "\(row[0] as String? ?? "?") on \(row[1] as String? ?? "?")" : sql)
        }
        return .present
    }

    private static func normalized(_ sql: String) -> String {
        sql.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" }).joined(separator: " ")
    }

    // MARK: - SQL

    /// The last columns are the exact bytes of `file_path`, `id` and the timestamps: GRDB reads TEXT as a C string,
    /// which would cut a value at an embedded NUL (a path could then name another, shorter file; an id another
    /// job's id; a timestamp with trailing bytes would read as valid).
    private static let columnsSQL =
        "rowid, id, export_type, format, status, file_path, created_at, completed_at, expires_at, CAST(file_path AS BLOB), CAST(id AS BLOB), "
        + "CAST(created_at AS BLOB), CAST(completed_at AS BLOB), CAST(expires_at AS BLOB)"

    /// `export_cleanup_later(value, cutoff)`: 1 when `value` is text that ``StoredDateTime`` reads as an instant
    /// after `cutoff` (microseconds since 1970), else 0. SQLite's own `julianday()` is not used: it returns NULL
    /// for forms the application writes (`-0800`, `+05`), which would hide due rows, and accepts forms the policy
    /// rejects (`2023-02-30`, `24:00:00`), which would hide rows that must be reported.
    ///
    /// Registered through the C API and parsing SQLite's own bytes: no `DatabaseValue` or `String` per call (GRDB's
    /// `DatabaseFunction` made one of each per row, most of the cost of a sweep with nothing due). The text is
    /// taken whole, as the store reads it for the policy (its exact bytes), so SQL and the policy see the same value:
    /// an embedded NUL or invalid UTF-8 fails to parse either way (the accepted forms are ASCII).
    static let laterFunction: @convention(c) (OpaquePointer?, Int32, UnsafeMutablePointer<OpaquePointer?>?) -> Void = { context, _, arguments in
        guard let arguments, sqlite3_value_type(arguments[1]) == SQLITE_INTEGER, let instant = parsedText(arguments[0]) else {
            sqlite3_result_int(context, 0)
            return
        }
        sqlite3_result_int(context, instant.microseconds > sqlite3_value_int64(arguments[1]) ? 1 : 0)
    }

    /// `export_cleanup_readable(value)`: 1 when `value` is text that ``StoredDateTime`` reads, else 0.
    static let readableFunction: @convention(c) (OpaquePointer?, Int32, UnsafeMutablePointer<OpaquePointer?>?) -> Void = { context, _, arguments in
        sqlite3_result_int(context, arguments.flatMap { parsedText($0[0]) } == nil ? 0 : 1)
    }

    /// The instant a TEXT value names, from all of its bytes, as ``StoredDateTime/parse(text:)`` reads it.
    private static func parsedText(_ value: OpaquePointer?) -> UTCInstant? {
        guard sqlite3_value_type(value) == SQLITE_TEXT, let text = sqlite3_value_text(value) else { return nil }
        return StoredDateTime.parse(bytes: UnsafeBufferPointer(start: text, count: Int(sqlite3_value_bytes(value))))
    }

    /// Registers the SQL functions on a connection.
    static func addFunctions(_ db: Database) throws {
        let flags = SQLITE_UTF8 | SQLITE_DETERMINISTIC
        for (name, count, function) in [("export_cleanup_later", Int32(2), laterFunction), ("export_cleanup_readable", 1, readableFunction)] {
            let code = sqlite3_create_function_v2(db.sqliteConnection, name, count, flags, nil, function, nil, nil, nil)
            try check(code, db)
        }
    }

    /// A completed row is left out only when its completed_at is readable and later than the cutoff and its
    /// expires_at (if set) is readable: an unreadable value the rule needs is always returned, to be reported.
    static let completedSQL = """
        SELECT \(columnsSQL) FROM export_jobs
        WHERE status = 'completed' AND rowid > ?1
            AND NOT (export_cleanup_later(completed_at, ?2) AND (expires_at IS NULL OR export_cleanup_readable(expires_at)))
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

    static let updateSQL = """
        UPDATE export_jobs SET status = ?1, file_path = NULL WHERE id = ?2 AND status = ?3 AND file_path IS ?4 AND typeof(file_path) = typeof(?4)
        """

    /// Rows per bulk statement at most: 4 parameters each, well under SQLITE_MAX_VARIABLE_NUMBER (32,766 since 3.32;
    /// UPDATE ... FROM needs 3.33 and RETURNING 3.35).
    static let bulkChunkRows = 1024

    /// The sizes bulk statements are prepared in (a chunk is padded up to the next one).
    static let bulkStatementRows = [8, 32, 128, 512, 1024]

    /// The compare-and-set of ``updateSQL`` for `rows` updates at once: `(id, old status, old file_path, new
    /// status)` per row, the ids of the rows updated returned.
    ///
    /// `file_path IS v.column3` alone would not be storage-class exact: the column's TEXT affinity is applied to
    /// the VALUES operand (which has none), so a bound INTEGER 5 would match the TEXT '5', and INTEGER 5 matches
    /// REAL 5.0 in a column without affinity. `typeof(...) = typeof(...)` makes the match exact: a row whose
    /// file_path changed storage class meanwhile is left alone.
    static func bulkUpdateSQL(rows: Int) -> String {
        precondition(rows > 0)
        var sql = "UPDATE export_jobs SET status = v.column4, file_path = NULL FROM (VALUES (?,?,?,?)"
        sql.reserveCapacity(sql.utf8.count + rows * 12 + 300)
        for _ in 1..<rows { sql += ",(?,?,?,?)" }
        sql += """
            ) AS v WHERE export_jobs.id = v.column1 AND export_jobs.status = v.column2 \
            AND export_jobs.file_path IS v.column3 AND typeof(export_jobs.file_path) = typeof(v.column3) \
            RETURNING export_jobs.id
            """
        return sql
    }

    // MARK: - Values

    private static func stored(_ row: Row, _ index: Int) -> StoredValue {
        StoredValue(row[index] as DatabaseValue)
    }

    /// A TEXT column with its exact bytes: an embedded NUL is kept and invalid UTF-8 becomes U+FFFD, both of which
    /// the path rule refuses, so no other file name or job id is ever derived from the value.
    private static func exactText(_ row: Row, _ index: Int, bytes: Int) -> StoredValue {
        let value = stored(row, index)
        guard case .text = value, case .blob(let data) = (row[bytes] as DatabaseValue).storage else { return value }
        return .text(String(decoding: data, as: UTF8.self))
    }

    private static func text(_ row: Row, _ index: Int) -> String {
        switch stored(row, index) {
        case .text(let value): return value
        case .null: return ""
        case let other: return other.description
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

extension StoredValue {
    /// The value as GRDB binds it, with the same storage class.
    package var databaseValue: DatabaseValue {
        switch self {
        case .null: return .null
        case .integer(let value): return value.databaseValue
        case .real(let value): return value.databaseValue
        case .text(let value): return value.databaseValue
        case .blob(let bytes): return Data(bytes).databaseValue
        }
    }

    /// A value as SQLite stored it.
    init(_ value: DatabaseValue) {
        switch value.storage {
        case .null: self = .null
        case .int64(let value): self = .integer(value)
        case .double(let value): self = .real(value)
        case .string(let value): self = .text(value)
        case .blob(let data): self = .blob(Array(data))
        }
    }
}
