public import ExportCleanup

/// The optional index of the failed rule on PostgreSQL (`export-cleanup index --db postgresql://...`).
///
/// Failed jobs keep their row after their partial file is removed, so without help every sweep walks the failed
/// history through `ix_export_jobs_status`. This partial index holds only the failed jobs that still have a file,
/// ordered by `id` (the store's keyset), so the failed rule reads exactly those, in order, and stops at its batch
/// size. The planner uses it by itself whenever it exists (the store's query has the index's predicate); nothing in
/// the store depends on it.
extension PostgresJobStore {
    /// The index's name.
    public static let failedIndexName = "ix_export_jobs_cleanup_failed"

    /// What the failed index is for.
    public static let failedIndexPurpose = "failed jobs that still have a file, in id order: the failed rule reads only these instead of every failed job ever recorded"

    /// `CREATE INDEX CONCURRENTLY IF NOT EXISTS ...`: built without blocking the application's writes.
    public static let failedIndexStatement = """
        CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_export_jobs_cleanup_failed ON export_jobs (id) WHERE status = 'failed' AND file_path IS NOT NULL
        """

    /// Why CONCURRENTLY, as the printed script says it.
    public static let concurrentlyReason = """
        CONCURRENTLY: the application keeps inserting and updating export_jobs while the index is built (a plain CREATE \
        INDEX would block its writes for the whole build). It cannot run inside a transaction block, it waits for \
        transactions already running on the table, and a build that fails (or is cancelled) leaves an INVALID index \
        that must be dropped with DROP INDEX CONCURRENTLY ix_export_jobs_cleanup_failed before trying again.
        """

    /// Whether the failed index is in the database.
    public enum IndexState: Sendable, Hashable {
        /// No index of that name in the table's schema.
        case absent
        /// Present, valid, with exactly the expected definition: the planner uses it.
        case present
        /// Present with the expected definition but INVALID: a `CREATE INDEX CONCURRENTLY` that failed or was
        /// cancelled; the planner ignores it.
        case invalid
        /// An index of that name with another definition (or on another table): left alone.
        case different(String)
    }

    /// The state of ``failedIndexName``.
    public func failedIndexState() throws(JobStoreError) -> IndexState {
        let rows: [[String?]]
        do {
            rows = try connection.query("""
                SELECT i.indisvalid, pg_get_indexdef(i.indexrelid),
                       i.indrelid = to_regclass($2) AND NOT i.indisunique AND i.indnatts = 1 AND i.indexprs IS NULL
                           AND am.amname = 'btree' AND a.attname = 'id' AND i.indcollation[0] = a.attcollation,
                       pg_get_expr(i.indpred, i.indrelid)
                FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid JOIN pg_am am ON am.oid = c.relam
                LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                WHERE c.relname = $1 AND c.relnamespace = (SELECT relnamespace FROM pg_class WHERE oid = to_regclass($2))
                """, [Self.failedIndexName, Self.table]).rows
        } catch {
            throw Self.map(error, target: target, doing: "read the indexes")
        }
        guard let row = rows.first else { return .absent }
        let definition = row[1] ?? "?"
        guard row[2] == "t", Self.normalizedPredicate(row[3] ?? "") == "status='failed'ANDfile_pathISNOTNULL" else {
            return .different(definition)
        }
        return row[0] == "t" ? .present : .invalid
    }

    /// `(((status)::text = 'failed'::text) AND (file_path IS NOT NULL))` → `status='failed'ANDfile_pathISNOTNULL`.
    static func normalizedPredicate(_ text: String) -> String {
        var result = text
        for noise in ["::character varying", "::text", "(", ")", " ", "\n"] { result = result.replacingAll(noise, with: "") }
        return result
    }

    /// Creates the failed index with ``failedIndexStatement`` unless it is present. Waits for transactions already
    /// running on the table. A build that fails leaves nothing behind: its INVALID index is dropped.
    /// - Returns: whether it was created now (`false`: it was present).
    /// - Throws: `wrongColumnType`-free ``JobStoreError``: an index of that name with another definition, or an
    ///   INVALID one from an earlier attempt, is left alone and named.
    public func createFailedIndex() throws(JobStoreError) -> Bool {
        switch try failedIndexState() {
        case .present:
            return false
        case .invalid:
            throw JobStoreError(.failed, path: target.masked,
                                message: "'\(target.masked)' has an INVALID index '\(Self.failedIndexName)' (an earlier CREATE INDEX CONCURRENTLY failed or was cancelled): "
                                    + "DROP INDEX CONCURRENTLY \(Self.failedIndexName); then run this again")
        case .different(let found):
            throw JobStoreError(.failed, path: target.masked,
                                message: "'\(target.masked)' has an index '\(Self.failedIndexName)' with another definition (\(found)); nothing was created: drop it or rename it first")
        case .absent:
            break
        }
        do {
            try connection.execute("SET lock_timeout = 0")
            try connection.execute(Self.failedIndexStatement)
        } catch {
            if case .invalid? = try? failedIndexState() {
                try? connection.execute("DROP INDEX CONCURRENTLY IF EXISTS \(Self.failedIndexName)")
            }
            throw Self.map(error, target: target, doing: "create \(Self.failedIndexName)")
        }
        return true
    }

    /// The plan of the failed rule's first batch (`EXPLAIN`), one line per node, for `export-cleanup index`.
    public func failedQueryPlan(now: UTCInstant = .now(), limit: Int = 500) throws(JobStoreError) -> [String] {
        do {
            let query = candidatesQuery(for: .failed, cutoff: now, now: now, limit: limit, after: nil)
            return try connection.query("EXPLAIN " + query.sql, query.parameters).rows.compactMap { $0.first ?? nil }
        } catch {
            throw Self.map(error, target: target, doing: "explain the failed rule's query")
        }
    }

    /// Updates the table's statistics (`ANALYZE export_jobs`), so the planner sees the index's worth.
    public func analyze() throws(JobStoreError) {
        do {
            try connection.execute("ANALYZE \(Self.table)")
        } catch {
            throw Self.map(error, target: target, doing: "analyze \(Self.table)")
        }
    }
}
