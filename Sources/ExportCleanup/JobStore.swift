/// Where the application's export jobs live: ``SQLiteJobStore``. Nothing above this protocol knows SQL or SQLite,
/// so another store (e.g. PostgreSQL for shared job tables) fits behind it.
public protocol JobStore: AnyObject {
    /// Checks that the table and the columns cleanup needs exist.
    /// - Throws: ``JobStoreError`` naming the missing table or column.
    func verifySchema() throws(JobStoreError)

    /// The next batch of jobs that *may* be due under `rule` at `cutoff` (the latest `completed_at`, or
    /// `created_at` for failed jobs, that can be due), in a stable order after `cursor`.
    ///
    /// A store may return jobs that are not due (the policy decides), but must return every job that is due,
    /// and every job of the rule's status whose timestamp it cannot read (so it can be reported).
    /// - Returns: the jobs, and the cursor to pass for the next batch (`nil` when there are no more).
    func candidates(for rule: CleanupRule, cutoff: UTCInstant, after cursor: JobCursor?, limit: Int) throws(JobStoreError)
        -> (jobs: [ExportJob], next: JobCursor?)

    /// Applies the updates in one short write transaction, each as a compare-and-set on the job's id, status
    /// and `file_path` as read: a row the application changed meanwhile is left alone.
    /// - Returns: for each update, whether the row was updated.
    func apply(_ updates: [JobUpdate]) throws(JobStoreError) -> [Bool]
}

/// A position in a store's stable order of jobs (opaque to everything above the store).
public struct JobCursor: Sendable, Hashable {
    /// The store's key (SQLite: the rowid).
    public var key: Int64
    /// Creates a cursor.
    public init(key: Int64) { self.key = key }
}

/// A record update after the job's file is gone: set `status` and clear `file_path`, if the row is still as read.
public struct JobUpdate: Sendable, Hashable {
    /// The job as read (its id, status and `file_path` are the compare-and-set condition).
    public var job: ExportJob
    /// The status to write (`expired` for completed jobs, `failed` stays `failed`).
    public var newStatus: String

    /// Creates an update.
    public init(job: ExportJob, newStatus: String) {
        self.job = job
        self.newStatus = newStatus
    }
}

/// An error of the job store, with the database path and, where it applies, table and column.
public struct JobStoreError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong.
    public enum Code: String, Sendable, Hashable {
        /// The database file does not exist (it is never created).
        case databaseMissing
        /// The database cannot be opened or is not a database.
        case cannotOpen
        /// The table does not exist.
        case missingTable
        /// A column does not exist.
        case missingColumn
        /// The database stayed locked beyond the busy timeout.
        case busy
        /// Another SQLite error.
        case sqlite
    }

    /// What went wrong.
    public var code: Code
    /// The database file.
    public var path: String
    /// The table concerned, if any.
    public var table: String?
    /// The column concerned, if any.
    public var column: String?
    /// What happened and how to fix it.
    public var message: String

    /// Creates an error.
    public init(_ code: Code, path: String, table: String? = nil, column: String? = nil, message: String) {
        self.code = code
        self.path = path
        self.table = table
        self.column = column
        self.message = message
    }

    public var description: String { message }
}
