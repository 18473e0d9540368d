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
/// - Claims are compare-and-set on the rowid and every column the decision read, storage class and bytes
///   (``claimSQL``), in one IMMEDIATE transaction per batch, one cached statement per up to 1,024 rows
///   (``bulkClaimSQL(rows:)``); no transaction is held while files are touched.
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

    public func claim(_ claims: [JobClaim]) throws(JobStoreError) -> [Bool] {
        guard !claims.isEmpty else { return [] }
        do {
            var claimed: [Bool] = []
            claimed.reserveCapacity(claims.count)
            let bulk = bulkUpdates
            try queue.inTransaction(.immediate) { db in
                // Duplicate keys in one batch (never from a sweep) go row by row, where the first match wins.
                if bulk, Set(claims.lazy.map(\.job.key)).count == claims.count {
                    var start = claims.startIndex
                    while start < claims.endIndex {
                        let end = min(start + Self.bulkChunkRows, claims.endIndex)
                        claimed += try Self.claimBulk(claims[start..<end], db)
                        start = end
                    }
                } else {
                    let statement = try db.cachedStatement(sql: Self.claimSQL)
                    for claim in claims {
                        claimed.append(try Self.run(statement, guarding: claim, newStatus: claim.newStatus, db) == 1)
                    }
                }
                return .commit
            }
            return claimed
        } catch {
            throw map(error, doing: "claim \(claims.count) records")
        }
    }

    public func isClaimed(_ claims: [JobClaim]) throws(JobStoreError) -> [Bool] {
        do {
            return try queue.inDatabase { db in
                let statement = try db.cachedStatement(sql: Self.isClaimedSQL)
                return try claims.map { claim in try Self.run(statement, guarding: claim, newStatus: claim.newStatus, db) == 1 }
            }
        } catch {
            throw map(error, doing: "check \(claims.count) earlier claims")
        }
    }

    /// Binds a claim's guard (``claimParameters`` order) and steps the statement; returns the rows it touched
    /// (``claimSQL``: `changes()`; ``isClaimedSQL``: the rows found).
    private static func run(_ statement: Statement, guarding claim: JobClaim, newStatus: String, _ db: Database) throws -> Int {
        let handle = statement.sqliteStatement
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
        defer { sqlite3_reset(handle) }
        try bind(claim, newStatus: newStatus, handle, 1, db)
        var rows = 0
        while true {
            let code = sqlite3_step(handle)
            if code == SQLITE_DONE { break }
            guard code == SQLITE_ROW else { throw error(code, db) }
            rows += 1
        }
        return statement.isReadonly ? rows : db.changesCount
    }

    /// One compare-and-set statement for a chunk of claims (see ``bulkClaimSQL(rows:)``). A claim is made when
    /// exactly its row (by key) was updated, as ``claimSQL``'s `changes() == 1` per row.
    ///
    /// The statement is prepared once per size in ``bulkStatementRows`` and cached (preparing a statement of
    /// 10,000 parameters costs about a millisecond); the chunk is padded with rows of NULLs, which match nothing
    /// (`rowid = NULL` is never true).
    private static func claimBulk(_ chunk: ArraySlice<JobClaim>, _ db: Database) throws -> [Bool] {
        let rows = bulkStatementRows.first { $0 >= chunk.count } ?? chunk.count
        let statement = try db.cachedStatement(sql: bulkClaimSQL(rows: rows))
        // Bound and stepped through the C API: GRDB's StatementArguments would box and validate 10,000 values
        // per chunk. Unbound parameters (the padding) are NULL.
        let handle = statement.sqliteStatement
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
        defer { sqlite3_reset(handle) }
        var index: Int32 = 1
        for claim in chunk {
            try bind(claim, newStatus: claim.newStatus, handle, index, db)
            index += claimParameters
        }
        // RETURNING the rowid, not the id: an id may be stored as INTEGER, TEXT or anything else.
        var updatedByKey: [Int64: Int] = [:]
        while true {
            let code = sqlite3_step(handle)
            if code == SQLITE_DONE { break }
            guard code == SQLITE_ROW else { throw error(code, db) }
            updatedByKey[sqlite3_column_int64(handle, 0), default: 0] += 1
        }
        return chunk.map { updatedByKey[$0.job.key] == 1 }
    }

    /// The parameters of one claim: key, new status, then the guarded values as read (``guardedColumns`` order).
    static let claimParameters: Int32 = 2 + Int32(guardedColumns.count)

    /// The columns a claim guards, besides the key: every column the decision read.
    static let guardedColumns = ["id", "status", "export_type", "format", "file_path", "created_at", "completed_at", "expires_at"]

    private static func bind(_ claim: JobClaim, newStatus: String, _ handle: OpaquePointer, _ index: Int32, _ db: Database) throws {
        let job = claim.job
        try check(sqlite3_bind_int64(handle, index, job.key), db)
        try bind(text: newStatus, handle, index + 1, db)
        let values: [StoredValue] = [job.storedID, .text(job.status), job.exportType, job.format, job.filePath,
                                     job.createdAt, job.completedAt, job.expiresAt]
        for (offset, value) in values.enumerated() {
            try bind(value, handle, index + 2 + Int32(offset), db)
        }
    }

    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    private static func bind(text: String, _ handle: OpaquePointer, _ index: Int32, _ db: Database) throws {
        // The byte count is given, so a NUL inside the text is bound too (GRDB binds a String only up to its first NUL).
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
        guard code == SQLITE_OK else { throw error(code, db) }
    }

    private static func error(_ code: Int32, _ db: Database) -> DatabaseError {
        DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(db.sqliteConnection)))
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

    /// The columns a candidate row is read with, in ``CandidateColumn`` order.
    private static let columnsSQL = "rowid, id, export_type, format, status, file_path, created_at, completed_at, expires_at"

    /// The positions of ``columnsSQL``.
    private enum CandidateColumn: Int32 {
        case key = 0, id, exportType, format, status, filePath, createdAt, completedAt, expiresAt
    }

    /// A candidate row as read: every value through the C API with its storage class and its exact bytes.
    ///
    /// Not through GRDB's `Row`: it reads TEXT as a C string, which would cut a value at an embedded NUL (a path
    /// could then name another, shorter file; an id another job's id; a timestamp with trailing bytes would read
    /// as valid). `sqlite3_column_text` gives the text in UTF-8 whatever the database's encoding (a UTF-16
    /// database converts) and `sqlite3_column_bytes` its whole length; invalid UTF-8 becomes U+FFFD, which the
    /// path rule refuses, so no other file name or job id is ever derived from such a value.
    private static func job(_ handle: OpaquePointer) -> ExportJob {
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
            format: value(.format), status: value(.status).text ?? "", filePath: value(.filePath), createdAt: value(.createdAt),
            completedAt: value(.completedAt), expiresAt: value(.expiresAt))
    }

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

    /// The candidate query of a rule (the choice of index made here, once).
    private func candidatesSQL(for rule: CleanupRule) -> String {
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

    /// The guard of one claim against the row `target` (a table or alias), parameters from `p(n)`: the key, then
    /// each of ``guardedColumns`` with the same storage class (`typeof`) and the same bytes (`IS` under `BINARY`
    /// collation, whatever collation the column declares). `IS` alone would not be storage-class exact: the
    /// column's affinity converts the operand (a bound INTEGER 5 would match the TEXT '5').
    private static func guardSQL(_ target: String, _ p: (Int) -> String) -> String {
        var terms = ["\(target).rowid = \(p(0))"]
        for (offset, column) in guardedColumns.enumerated() {
            let parameter = p(2 + offset)
            terms.append("\(target).\(column) IS \(parameter) COLLATE BINARY AND typeof(\(target).\(column)) = typeof(\(parameter))")
        }
        return terms.joined(separator: " AND ")
    }

    /// One claim: ?1 key, ?2 new status, ?3... the guarded values (``claimParameters``).
    static let claimSQL = "UPDATE export_jobs SET status = ?2, file_path = NULL WHERE " + guardSQL("export_jobs") { "?\($0 + 1)" }

    /// Whether a row is exactly as a committed claim left it: the new status, `file_path` NULL, every other guarded
    /// column as read.
    static let isClaimedSQL = "SELECT rowid FROM export_jobs WHERE " + guardSQL("export_jobs") { index in
        // status must be the new one (?2) and file_path NULL; the other columns as read.
        switch index {
        case 3: return "?2"
        case 6: return "NULL"
        default: return "?\(index + 1)"
        }
    }

    /// Rows per bulk statement at most: ``claimParameters`` (10) each, well under SQLITE_MAX_VARIABLE_NUMBER
    /// (32,766 since 3.32; UPDATE ... FROM needs 3.33 and RETURNING 3.35).
    static let bulkChunkRows = 1024

    /// The sizes bulk statements are prepared in (a chunk is padded up to the next one).
    static let bulkStatementRows = [8, 32, 128, 512, 1024]

    /// The claim of ``claimSQL`` for `rows` claims at once, the rowids of the rows updated returned.
    static func bulkClaimSQL(rows: Int) -> String {
        precondition(rows > 0)
        let width = Int(claimParameters)
        let tuple = "(" + Array(repeating: "?", count: width).joined(separator: ",") + ")"
        var sql = "UPDATE export_jobs SET status = v.column2, file_path = NULL FROM (VALUES " + tuple
        sql.reserveCapacity(sql.utf8.count + rows * (tuple.utf8.count + 1) + 600)
        for _ in 1..<rows { sql += "," + tuple }
        sql += ") AS v WHERE " + guardSQL("export_jobs") { "v.column\($0 + 1)" } + " RETURNING export_jobs.rowid"
        return sql
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
