/// Where the application's export jobs live: ``SQLiteJobStore``. Nothing above this protocol knows SQL or SQLite,
/// so another store (e.g. PostgreSQL for shared job tables) fits behind it.
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

    /// The number of export files the table references: rows whose `status` is one the rules sweep (`completed`,
    /// `failed`, as ``candidates(for:cutoff:now:after:limit:)`` matches it) and whose `file_path` is not NULL,
    /// counted at one moment (one statement, or one snapshot). The mass-deletion brake's denominator
    /// (``MassDeletionBrake``): asked at most once per sweep, before its first claim, and only when more files are
    /// due than the brake's minimum. It must not be cheaper by being wrong: an estimate that can be lower than the
    /// truth would trip the brake on an ordinary sweep, one that can be higher would let a mass deletion through.
    func countReferencedFiles() throws(JobStoreError) -> Int

    /// Every row, of any status, whose `id` equals one of `ids` (TEXT by its bytes; an id the store keeps as INTEGER
    /// by its decimal digits), with the columns a candidate has, in any order; an id without a row is simply absent.
    /// Used by the orphan pass (``OrphanScanner``), a few hundred ids at a time, and again for one id right before
    /// each removal: it must read committed rows as they are at that moment (no cache).
    func jobs(withIDs ids: [String]) throws(JobStoreError) -> [ExportJob]

    /// Disk pressure's candidates, oldest first: `completed` rows with a `file_path`, whose `completed_at` reads as
    /// an instant at most `cutoff` and whose `expires_at` is NULL or reads as at most `now`, ordered by that
    /// instant (as ``StoredDateTime`` reads it, whatever the spelling; ties by the store's key), after `cursor`,
    /// at most `limit` rows. Unlike ``candidates(for:cutoff:now:after:limit:)`` it may leave out rows whose values
    /// cannot be read (pressure never removes what it cannot date). The policy checks each row again
    /// (``PressureTarget/isEligible(_:now:)``), and every removal goes through ``claim(_:)``.
    func pressureCandidates(completedBefore cutoff: UTCInstant, now: UTCInstant, after cursor: PressureCursor?, limit: Int)
        throws(JobStoreError) -> [ExportJob]
}

/// A position in the pressure order: the instant of `completed_at`, then the store's key.
public struct PressureCursor: Sendable, Hashable {
    /// The last row's `completed_at`, as read.
    public var completedAt: UTCInstant
    /// The last row's key.
    public var key: Int64
    /// Creates a cursor.
    public init(completedAt: UTCInstant, key: Int64) {
        self.completedAt = completedAt
        self.key = key
    }
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
    public var newStatus: JobStatus { rule.newStatus }
}

/// An error of the job store: a domain code for programs, the context (database, table, column), the engine's
/// own error as the cause, and a message that says what to do. Modelled on GRDB's `DatabaseError` and NIOFS's
/// `FileSystemError`.
public struct JobStoreError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong, by domain (callers never re-read an errno or an engine code to decide).
    public enum Code: String, Sendable, Hashable, Codable {
        /// The database does not exist (it is never created).
        case notFound
        /// This user may not read or write the database (or the directory SQLite keeps its journal in).
        case permissionDenied
        /// The file is not a database, or is damaged.
        case notADatabase
        /// The database cannot be opened for another reason.
        case cannotOpen
        /// The table does not exist.
        case missingTable
        /// A column does not exist.
        case missingColumn
        /// The database stayed locked beyond the busy timeout.
        case busy
        /// The disk failed or is full.
        case ioError
        /// Any other error of the database engine (the cause says which).
        case failed
        /// A column has a type cleanup cannot read (PostgreSQL: e.g. an integer `created_at`).
        case wrongColumnType
        /// The database server cannot be reached, or the connection was lost (PostgreSQL); temporary.
        case unavailable
        /// Another instance holds the cluster-wide sweep lock of this storage directory (PostgreSQL); this round is
        /// skipped.
        case sweepLockHeld
    }

    /// The database engine's own error, kept as it was reported.
    public struct Cause: Sendable, Hashable {
        /// The primary result code (SQLite: `SQLITE_BUSY` is 5).
        public var resultCode: Int32
        /// The extended result code (SQLite: `SQLITE_BUSY_SNAPSHOT` is 517), or the primary one.
        public var extendedResultCode: Int32
        /// The engine's message.
        public var message: String?

        /// Creates a cause.
        public init(resultCode: Int32, extendedResultCode: Int32, message: String?) {
            self.resultCode = resultCode
            self.extendedResultCode = extendedResultCode
            self.message = message
        }
    }

    /// What went wrong.
    public var code: Code
    /// The database file, or a PostgreSQL connection string with its password masked.
    public var path: String
    /// The table concerned, if any.
    public var table: String?
    /// The column concerned, if any.
    public var column: String?
    /// The engine's error behind this one, if any.
    public var cause: Cause?
    /// What happened and how to fix it.
    public var message: String

    /// Creates an error.
    public init(_ code: Code, path: String, table: String? = nil, column: String? = nil, cause: Cause? = nil, message: String) {
        self.code = code
        self.path = path
        self.table = table
        self.column = column
        self.cause = cause
        self.message = message
    }

    public var description: String { message }
}
