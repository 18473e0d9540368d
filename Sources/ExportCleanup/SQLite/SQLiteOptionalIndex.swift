import Foundation
import GRDB
import GRDBSQLite

/// The optional indexes: export-cleanup can use them, the operator creates them (`export-cleanup index --create`).
extension SQLiteJobStore {
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
                        throw JobStoreError(.failed, path: path,
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

    static func normalized(_ sql: String) -> String {
        sql.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" }).joined(separator: " ")
    }
}
