package import ExportCleanupDemo
import GRDB

extension ApplicationDatabase {
    /// Runs SQL in one transaction on a connection of its own, for fixtures that set up odd cases.
    package func execute(_ sql: String) throws {
        try DatabaseQueue(path: path).write { db in try db.execute(sql: sql) }
    }
}
