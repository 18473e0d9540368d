/// Where the application's export jobs live. One implementation today (SQLite, ``SQLiteJobStore``); a
/// PostgreSQL store for shared job tables is planned, so nothing above this protocol knows SQL or SQLite.
public protocol JobStore: AnyObject {
    /// Checks that the table and the columns cleanup needs exist.
    /// - Throws: ``JobStoreError`` naming the missing table or column.
    func verifySchema() throws(JobStoreError)

    /// The next batch of jobs that *may* be due under `rule` at `now` (`cutoff` is the latest `completed_at`, or
    /// `created_at` for failed jobs, that can be due), in a stable order after `cursor`.
    ///
    /// A store may return jobs that are not due (the policy decides), but must return every job that is due,
    /// and every job of the rule's status whose timestamp it cannot read (so it can be reported). It may leave out
    /// completed jobs whose `expires_at` it reads as later than `now`, if their `completed_at` is readable.
    /// - Returns: the jobs, and the cursor to pass for the next batch (`nil` when there are no more).
    func candidates(for rule: CleanupRule, cutoff: UTCInstant, now: UTCInstant, after cursor: JobCursor?, limit: Int) throws(JobStoreError)
        -> (jobs: [ExportJob], next: JobCursor?)

    /// Claims due jobs in one short write transaction: each row moves to its rule's final state (``JobClaim/newStatus``,
    /// `file_path` NULL) only if every column the decision read (key, `id`, `status`, `export_type`, `format`,
    /// `file_path`, `created_at`, `completed_at`, `expires_at`) still has the storage class and bytes it was read
    /// with. A row the application changed meanwhile is left alone, and so is its file.
    /// - Returns: for each claim, whether the row was claimed.
    func claim(_ claims: [JobClaim]) throws(JobStoreError) -> [Bool]

    /// Whether each row is exactly in the state a committed ``claim(_:)`` left it in: the final status,
    /// `file_path` NULL, every other guarded column as read. Used after a crash, to tell a claim that committed
    /// (its file may go) from one that did not, or a row the application has changed since (its file stays).
    func isClaimed(_ claims: [JobClaim]) throws(JobStoreError) -> [Bool]
}

/// A position in a store's stable order of jobs (opaque to everything above the store).
public struct JobCursor: Sendable, Hashable {
    /// The store's key (SQLite: the rowid).
    public var key: Int64
    /// Creates a cursor.
    public init(key: Int64) { self.key = key }
}

/// A due job to move to its rule's final state before its file is removed.
public struct JobClaim: Sendable, Hashable {
    /// The job as read: every column of it is the compare-and-set condition.
    public var job: ExportJob
    /// The rule it is due under.
    public var rule: CleanupRule

    /// Creates a claim.
    public init(job: ExportJob, rule: CleanupRule) {
        self.job = job
        self.rule = rule
    }

    /// The status the row gets (`expired` for completed jobs; failed jobs stay `failed`).
    public var newStatus: String { rule.newStatus }
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
        /// A column has a type cleanup cannot read (PostgreSQL: e.g. an integer `created_at`).
        case wrongColumnType
        /// The database server refused the login or a privilege (PostgreSQL: password, `pg_hba.conf`, GRANT).
        case permissionDenied
        /// The database server cannot be reached, or the connection was lost (PostgreSQL); temporary.
        case unavailable
        /// Another error of the database server (PostgreSQL).
        case serverError
    }

    /// What went wrong.
    public var code: Code
    /// The database file, or a PostgreSQL connection string with its password masked.
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
