import GRDB
import GRDBSQLite

/// Rows by job id (the orphan pass).
extension SQLiteJobStore {
    public func jobs(withIDs ids: [String]) throws(JobStoreError) -> [ExportJob] {
        guard !ids.isEmpty else { return [] }
        do {
            return try queue.inDatabase { db in
                var jobs: [ExportJob] = []
                var start = 0
                while start < ids.count {
                    let end = min(start + Self.idChunk, ids.count)
                    let size = Self.idStatementSizes.first { $0 >= end - start } ?? (end - start)
                    // Padded with NULLs, which match no id; one cached statement per size.
                    let statement = try db.cachedStatement(sql: "SELECT \(Self.columnsSQL) FROM export_jobs WHERE id IN ("
                                                           + Array(repeating: "?", count: size).joined(separator: ",") + ")")
                    let handle = statement.sqliteStatement
                    sqlite3_reset(handle)
                    sqlite3_clear_bindings(handle)
                    defer { sqlite3_reset(handle) }
                    for (offset, id) in ids[start..<end].enumerated() {
                        try Self.bind(text: id, handle, Int32(offset + 1), db)
                    }
                    while true {
                        let code = sqlite3_step(handle)
                        if code == SQLITE_DONE { break }
                        guard code == SQLITE_ROW else { throw Self.error(code, db) }
                        jobs.append(Self.job(handle))
                    }
                    start = end
                }
                return jobs
            }
        } catch {
            throw map(error, doing: "read \(ids.count) jobs by id")
        }
    }

    /// Ids per statement at most.
    static let idChunk = 500
    /// The sizes the by-id statements are prepared in.
    static let idStatementSizes = [1, 16, 128, 500]
}
