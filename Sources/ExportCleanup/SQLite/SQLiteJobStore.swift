import Foundation
import GRDB
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
///   (``claimSQL``), in one IMMEDIATE transaction per batch, one cached statement per up to 256 rows
///   (``bulkClaimSQL(rows:)``); no transaction is held while files are touched.
public final class SQLiteJobStore: JobStore {
    /// The database file.
    public let path: String
    let queue: DatabaseQueue
    /// Whether updates go one statement per chunk (``bulkClaimSQL(rows:)``, SQLite 3.35 or later) rather than one per row.
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
            throw JobStoreError(.notFound, path: path,
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
            throw Self.map(error, path: path, doing: "open it")
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

    func map(_ error: any Error, doing what: String) -> JobStoreError {
        Self.map(error, path: path, doing: what)
    }

    /// The one mapping of an engine error to a ``JobStoreError``: its domain code, its cause, and what to do.
    static func map(_ error: any Error, path: String, doing what: String) -> JobStoreError {
        if let error = error as? JobStoreError { return error }
        guard let error = error as? DatabaseError else {
            return JobStoreError(.failed, path: path, message: "cannot \(what) in '\(path)': \(error)")
        }
        let cause = JobStoreError.Cause(resultCode: error.resultCode.rawValue, extendedResultCode: error.extendedResultCode.rawValue,
                                        message: error.message)
        let detail = error.message ?? "\(error.resultCode)"
        func make(_ code: JobStoreError.Code, _ advice: String) -> JobStoreError {
            JobStoreError(code, path: path, cause: cause, message: "cannot \(what) in database '\(path)': \(detail); \(advice)")
        }
        switch error.resultCode {
        case .SQLITE_BUSY, .SQLITE_LOCKED:
            return JobStoreError(.busy, path: path, cause: cause,
                                 message: "database '\(path)' stayed locked beyond the busy timeout while trying to \(what): the application holds a long write transaction; try again later or raise EXPORT_CLEANUP_BUSY_TIMEOUT_MS")
        case .SQLITE_PERM, .SQLITE_AUTH, .SQLITE_READONLY:
            return make(.permissionDenied, "this user needs read and write access to the database and to its directory (SQLite writes its journal there)")
        case .SQLITE_NOTADB, .SQLITE_CORRUPT:
            return make(.notADatabase, "point --db at the application's SQLite database")
        case .SQLITE_CANTOPEN:
            return make(.cannotOpen, "check that it is an SQLite file this user may read and write")
        case .SQLITE_IOERR, .SQLITE_FULL:
            return make(.ioError, "check the disk the database is on")
        default:
            return make(.failed, "the message above is SQLite's")
        }
    }
}
