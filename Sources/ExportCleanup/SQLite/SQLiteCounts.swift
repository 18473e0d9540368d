import GRDB

/// Counts for the safety checks (the mass-deletion brake).
extension SQLiteJobStore {
    public func countReferencedFiles() throws(JobStoreError) -> Int {
        do {
            // One statement, so one read transaction: both counts see the same state. The failed rows go through
            // the optional partial index when it is there (the failed history has no file and is not read).
            return try queue.inDatabase { db in try Int.fetchOne(db, sql: referencedFilesSQL) ?? 0 }
        } catch {
            throw map(error, doing: "count the export files the table references")
        }
    }

    /// Completed and failed rows with a `file_path` (the statuses compared as the candidate queries compare them).
    var referencedFilesSQL: String {
        """
        SELECT (SELECT count(*) FROM export_jobs WHERE status = 'completed' AND file_path IS NOT NULL)
             + (SELECT count(*) FROM export_jobs \(usesFailedIndex ? "INDEXED BY ix_export_jobs_cleanup_failed " : "")WHERE status = 'failed' AND file_path IS NOT NULL)
        """
    }
}
