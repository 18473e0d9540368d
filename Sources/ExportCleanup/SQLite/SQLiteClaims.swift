import Foundation
import GRDB
import GRDBSQLite

/// Claims: the guarded compare-and-set of every column the decision read, bulk and per row, and the check that a
/// claim committed.
extension SQLiteJobStore {
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
                        claimed.append(try Self.run(statement, guarding: claim, newStatus: claim.newStatus.rawValue, db) == 1)
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
                return try claims.map { claim in try Self.run(statement, guarding: claim, newStatus: claim.newStatus.rawValue, db) == 1 }
            }
        } catch {
            throw map(error, doing: "check \(claims.count) earlier claims")
        }
    }

    /// Binds a claim's guard (``claimParameters`` order) and steps the statement; returns the rows it touched
    /// (``claimSQL``: `changes()`; ``isClaimedSQL``: the rows found).
    static func run(_ statement: Statement, guarding claim: JobClaim, newStatus: String, _ db: Database) throws -> Int {
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
    /// 2,560 parameters costs a fraction of a millisecond); the chunk is padded with rows of NULLs, which match nothing
    /// (`rowid = NULL` is never true).
    static func claimBulk(_ chunk: ArraySlice<JobClaim>, _ db: Database) throws -> [Bool] {
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
            try bind(claim, newStatus: claim.newStatus.rawValue, handle, index, db)
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

    static func bind(_ claim: JobClaim, newStatus: String, _ handle: OpaquePointer, _ index: Int32, _ db: Database) throws {
        let job = claim.job
        try check(sqlite3_bind_int64(handle, index, job.key), db)
        try bind(text: newStatus, handle, index + 1, db)
        let values: [StoredValue] = [job.storedID, .text(job.status.rawValue), job.exportType, job.format, job.filePath,
                                     job.createdAt, job.completedAt, job.expiresAt]
        for (offset, value) in values.enumerated() {
            try bind(value, handle, index + 2 + Int32(offset), db)
        }
    }

    /// The guard of one claim against the row `target` (a table or alias), parameters from `p(n)`: the key, then
    /// each of ``guardedColumns`` with the same storage class (`typeof`) and the same bytes (`IS` under `BINARY`
    /// collation, whatever collation the column declares). `IS` alone would not be storage-class exact: the
    /// column's affinity converts the operand (a bound INTEGER 5 would match the TEXT '5').
    static func guardSQL(_ target: String, _ p: (Int) -> String) -> String {
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
    /// (32,766 since 3.32; UPDATE ... FROM needs 3.33 and RETURNING 3.35). 256, not 1,024: the cached statement
    /// of 1,024 rows alone held about 2 MiB of the process's peak memory, for no measurable gain in a transaction
    /// of 2,000 rows.
    static let bulkChunkRows = 256

    /// The sizes bulk statements are prepared in (a chunk is padded up to the next one).
    static let bulkStatementRows = [8, 32, 128, 256]

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
}
