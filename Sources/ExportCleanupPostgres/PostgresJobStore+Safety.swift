public import ExportCleanup

/// What the brake, the orphan pass and disk pressure ask of a store, on PostgreSQL.
extension PostgresJobStore {
    public func countReferencedFiles() throws(JobStoreError) -> Int {
        do {
            // One statement, one snapshot.
            let rows = try connection.query(
                "SELECT count(*) FROM \(Self.table) WHERE status IN ('completed', 'failed') AND file_path IS NOT NULL").rows
            return Int(rows.first?.first.flatMap { $0 } ?? "0") ?? 0
        } catch {
            throw Self.map(error, target: target, doing: "count the export files the table references")
        }
    }

    public func jobs(withIDs ids: [String]) throws(JobStoreError) -> [ExportJob] {
        guard !ids.isEmpty else { return [] }
        let columns = (Self.textColumns + Self.timestampColumns).joined(separator: ", ")
        var jobs: [ExportJob] = []
        var start = 0
        while start < ids.count {
            let end = min(start + 500, ids.count)
            do {
                let rows = try connection.query("SELECT \(columns) FROM \(Self.table) WHERE id = ANY($1::text[])",
                                                [PostgresConnection.arrayLiteral(ids[start..<end].map { $0 })]).rows
                jobs += rows.map(Self.job)
            } catch {
                throw Self.map(error, target: target, doing: "read \(ids.count) jobs by id")
            }
            start = end
        }
        return jobs
    }

    /// Oldest `completed_at` first, ties by id; the cursor's key is the position in that order of the last row
    /// returned (this store keeps the row's id behind it, like ``candidates(for:cutoff:now:after:limit:)``).
    public func pressureCandidates(completedBefore cutoff: UTCInstant, now: UTCInstant, after cursor: PressureCursor?, limit: Int)
        throws(JobStoreError) -> [ExportJob]
    {
        let columns = (Self.textColumns + Self.timestampColumns).joined(separator: ", ")
        let completed = castType("completed_at"), expires = castType("expires_at")
        var parameters: [String?] = [Self.parameter(cutoff), Self.parameter(now), Self.readableFrom, Self.readableUntil, String(limit)]
        var after = ""
        if let cursor {
            // The last row's completed_at and id: strictly after them in (completed_at, id) order.
            parameters += [Self.parameter(cursor.completedAt), pressureCursorIDs[cursor.key] ?? ""]
            after = " AND (completed_at, id) > ($6::\(completed), $7)"
        }
        let sql = """
            SELECT \(columns) FROM \(Self.table)
            WHERE status = 'completed' AND file_path IS NOT NULL
              AND completed_at >= $3::\(completed) AND completed_at < $4::\(completed) AND completed_at <= $1::\(completed)
              AND (expires_at IS NULL OR (expires_at >= $3::\(expires) AND expires_at < $4::\(expires) AND expires_at <= $2::\(expires)))\(after)
            ORDER BY completed_at, id LIMIT $5
            """
        do {
            let rows = try connection.query(sql, parameters).rows
            let jobs = rows.map(Self.job)
            pressureCursorIDs = Dictionary(jobs.map { ($0.key, $0.id) }) { _, last in last }
            return jobs
        } catch {
            throw Self.map(error, target: target, doing: "read the completed jobs to remove under disk pressure")
        }
    }
}
