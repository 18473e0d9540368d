import GRDB

/// How many rows a sweep will examine, for a progress display's ETA.
extension SQLiteJobStore {
    /// The number of rows the candidate queries of every rule return at `now` (the rows a sweep examines, unless
    /// the application changes the table meanwhile): one `count(*)` over each rule's own query.
    package func candidateCount(policy: RetentionPolicy, now: UTCInstant) throws(JobStoreError) -> Int {
        do {
            return try queue.inDatabase { db in
                var total = 0
                for rule in CleanupRule.allCases {
                    // ?1 cursor (from the first row), ?2 cutoff, ?3 limit (-1: none), ?4 now (completed only).
                    var arguments: StatementArguments = [Int64.min, policy.cutoff(for: rule, now: now).microseconds, -1]
                    if rule == .completed { arguments += [now.microseconds] }
                    total += try Int.fetchOne(db, sql: "SELECT count(*) FROM (\(candidatesSQL(for: rule)))", arguments: arguments) ?? 0
                }
                return total
            }
        } catch {
            throw map(error, doing: "count the candidate jobs")
        }
    }
}
