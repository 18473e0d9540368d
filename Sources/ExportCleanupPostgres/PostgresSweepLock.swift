public import ExportCleanup

/// The cluster-wide sweep lock of a PostgreSQL store: a session-level advisory lock,
/// `pg_try_advisory_lock(hashtext('export-cleanup:' || name))`, held by the store's connection for the sweep.
///
/// Every instance that sweeps the same storage directory through the same database uses the same name (by default
/// the storage path; `EXPORT_CLEANUP_LOCK_NAME` when hosts mount the directory at different paths), so exactly one
/// sweeps at a time; the others skip that round and name the holder (its `application_name`,
/// `export-cleanup@<host>:<pid>`, from `pg_locks` and `pg_stat_activity`). The server drops the lock the moment the
/// holder's session ends: a killed process at once, a vanished host once the session's TCP keepalives give up
/// (about a minute, set by ``PostgresJobStore``).
extension PostgresJobStore: ClusterSweepLock {
    /// The advisory lock's text, hashed by the server with `hashtext`: `export-cleanup:<name>`.
    public static func lockKey(_ name: String) -> String { "export-cleanup:" + name }

    public func tryAcquireSweepLock(named name: String) throws(JobStoreError) -> ClusterLockAttempt {
        let key = Self.lockKey(name)
        // Advisory locks nest within a session: never take one twice.
        if heldLockNames.contains(name) { return .acquired }
        do {
            for _ in 0..<3 {
                if try connection.query("SELECT pg_try_advisory_lock(hashtext($1))", [key]).scalar == "t" {
                    heldLockNames.insert(name)
                    return .acquired
                }
                if let holder = try lockHolder(key) { return .heldElsewhere(holder: holder) }
                // Released between the two statements: try again.
            }
            return .heldElsewhere(holder: "another session")
        } catch {
            throw Self.map(error, target: target, doing: "take the sweep lock '\(key)'")
        }
    }

    public func releaseSweepLock(named name: String) {
        guard heldLockNames.remove(name) != nil else { return }
        _ = try? connection.query("SELECT pg_advisory_unlock(hashtext($1))", [Self.lockKey(name)])
    }

    /// Who holds the advisory lock of `key`: `export-cleanup@web2:4121 (server pid 88210, since 12:00:03 UTC)`.
    /// A `bigint` advisory key is `classid` (high 32 bits) and `objid` (low 32 bits) with `objsubid` 1.
    func lockHolder(_ key: String) throws(PostgresError) -> String? {
        let rows = try connection.query("""
            WITH k AS (SELECT hashtext($1)::bigint AS key)
            SELECT a.pid, a.application_name, to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'),
                   host(a.client_addr)
            FROM pg_locks l JOIN k ON l.classid::bigint = ((k.key >> 32) & 4294967295) AND l.objid::bigint = (k.key & 4294967295)
            LEFT JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE l.locktype = 'advisory' AND l.objsubid = 1 AND l.granted
              AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
            LIMIT 1
            """, [key]).rows
        guard let row = rows.first else { return nil }
        let name = row[1].flatMap { $0.isEmpty ? nil : $0 } ?? "a session without application_name"
        var details = ["server pid \(row[0] ?? "?")"]
        if let since = row[2] { details.append("connected since \(since) UTC") }
        if let address = row[3] { details.append("from \(address)") }
        return "\(name) (\(details.joined(separator: ", ")))"
    }
}
