/// What one sweep did, per rule, and the records that need an operator's eye.
public struct SweepReport: Sendable, Hashable, Codable {
    /// Counts for one rule.
    public struct Counts: Sendable, Hashable, Codable {
        /// Rows read from the store.
        public var examined = 0
        /// Rows the policy found due.
        public var due = 0
        /// Due rows whose `file_path` is set (what the mass-deletion brake counts), whether or not the file is there.
        public var dueFiles = 0
        /// Files removed (in a dry run: that would be removed).
        public var removed = 0
        /// Due rows whose file was already gone or never set (a success).
        public var alreadyMissing = 0
        /// Files that could not be removed (a system call failed). Their records are unchanged, unless the failure
        /// came after the claim (then the removal is retried from the claims journal).
        public var failed = 0
        /// Records refused by a safety rule; nothing touched, records unchanged.
        public var refused = 0
        /// Rows kept because a timestamp they need cannot be read.
        public var undecidable = 0
        /// Bytes of the removed files.
        public var bytesFreed: Int64 = 0
        /// Records claimed (updated to the rule's final state).
        public var recordsUpdated = 0
        /// Records the application changed between read and claim: left alone, and so are their files.
        public var changedMeanwhile = 0

        /// Creates zero counts.
        public init() {}
    }

    /// What kind of problem a record has.
    public enum ProblemKind: String, Sendable, Hashable, Codable {
        /// A system call failed on its file (the errno says which).
        case failed
        /// A safety rule refused its `file_path` or its entry.
        case refused
        /// A timestamp the rule needs cannot be read.
        case undecidable
    }

    /// One record that was not cleaned, and why.
    public struct Problem: Sendable, Hashable, Codable {
        /// What kind of problem it is.
        public var kind: ProblemKind
        /// The rule being applied.
        public var rule: CleanupRule
        /// The job id.
        public var jobID: String
        /// `file_path` as stored (SQL literal form).
        public var filePath: String
        /// A stable short code (e.g. `outside_storage`, `EACCES`, `completed_at`).
        public var code: String
        /// What is wrong and what to do.
        public var reason: String
        /// The errno, for `failed`.
        public var errno: Int32?
    }

    /// What became of the claims an earlier, cut-off sweep left in the claims journal.
    public struct EarlierClaims: Sendable, Hashable, Codable {
        /// Files removed: their rows were still exactly as the claim left them.
        public var removed = 0
        /// Files that were already gone.
        public var alreadyMissing = 0
        /// Files kept: the claim had not committed, or the application changed the row since.
        public var kept = 0
        /// Bytes of the removed files.
        public var bytesFreed: Int64 = 0

        /// Creates zero counts.
        public init() {}
    }

    /// Identifies the sweep in logs (`SWEEP_ID`).
    public var sweepID: String
    /// Whether nothing was changed.
    public var dryRun: Bool
    /// When the sweep started (ISO 8601 in JSON).
    public var startedAt: UTCInstant
    /// The `now` the rules were applied at (ISO 8601 in JSON).
    public var now: UTCInstant
    /// Completed jobs past retention.
    public var completed = Counts()
    /// Failed jobs with partial files.
    public var failed = Counts()
    /// The first problems (at most ``maximumProblemsListed``).
    public var problems: [Problem] = []
    /// Problems beyond the listed ones.
    public var problemsNotListed = 0
    /// Whether the sweep was cancelled (between files) before it finished.
    public var interrupted = false
    /// Set when a store error stopped the sweep early; the files removed so far have their records updated by
    /// the next sweep.
    public var abortedBy: String?
    /// The store error's code when the sweep was aborted (e.g. `busy`).
    public var abortCode: JobStoreError.Code?
    /// Wall time, in seconds.
    public var durationSeconds = 0.0
    /// Claim transactions made (one per batch with something to claim).
    public var claimTransactions = 0
    /// The longest claim transaction, from asking for the write lock to its commit, in seconds: how long the
    /// application may have waited on this sweep at most.
    public var longestClaimSeconds = 0.0
    /// The claims of an earlier sweep that this one finished (all zero when there were none).
    public var earlierClaims = EarlierClaims()
    /// What the mass-deletion brake found, when it had to be settled (`nil`: the brake was off or cannot trip).
    /// When ``MassDeletionCheck/tripped``, the sweep claimed and removed nothing of its due rows.
    public var massDeletion: MassDeletionCheck?

    /// Whether the mass-deletion brake refused the sweep.
    public var refusedByBrake: Bool { massDeletion?.tripped == true }
    /// Set when the sweep removed nothing because the kernel says the clock is not synchronised (and
    /// `EXPORT_CLEANUP_REQUIRE_SYNCED_CLOCK=yes`): what it said.
    public var clockNotSynchronized: String?

    /// Counts of one export type (both rules).
    public struct TypeCounts: Sendable, Hashable, Codable {
        /// Rows found due.
        public var due = 0
        /// Files removed (dry run: that would be).
        public var removed = 0
        /// Bytes of those files.
        public var bytesFreed: Int64 = 0
        /// Records claimed.
        public var recordsUpdated = 0

        /// Zero counts.
        public init() {}
    }

    /// Counts per `export_type` (as the row stores it; a value that is not text under `<not text>`; past
    /// ``maximumTypesCounted`` distinct types, the rest under `<other>`).
    public var byExportType: [String: TypeCounts] = [:]

    /// The most distinct export types counted one by one.
    public static let maximumTypesCounted = 100

    /// `hotels due 3 removed 3 (1200 bytes); supplier_summary due 1 removed 1 (10 bytes)`, by type name.
    public var byExportTypeText: String {
        byExportType.keys.sorted().map { type in
            let counts = byExportType[type]!
            return "\(type) due \(counts.due) \(dryRun ? "would remove" : "removed") \(counts.removed) (\(counts.bytesFreed) bytes)"
        }.joined(separator: "; ")
    }

    mutating func countType(_ job: ExportJob, _ change: (inout TypeCounts) -> Void) {
        var key = job.exportType.text ?? "<not text>"
        if byExportType[key] == nil && byExportType.count >= Self.maximumTypesCounted { key = "<other>" }
        change(&byExportType[key, default: TypeCounts()])
    }

    /// What disk pressure did, when a ``PressureTarget`` is set (`nil`: off, or the sweep ended before it).
    public var pressure: PressureReport?

    /// Which bound stopped a bounded sweep.
    public enum Bound: String, Sendable, Hashable, Codable {
        /// `EXPORT_CLEANUP_MAX_FILES_PER_SWEEP`.
        case files
        /// `EXPORT_CLEANUP_MAX_SWEEP_SECONDS`.
        case seconds
    }
    /// Set when the sweep stopped at a bound, having committed what it did: the next sweep goes on.
    public var boundReached: Bound?
    /// With ``boundReached``: the due rows this sweep left, when it knows (it counted its due rows before its first
    /// claim, or had read them all); `nil`: more may be due.
    public var stillDue: Int?

    /// Whether a safety check refused the whole sweep (the brake, or the clock): it removed nothing and a later
    /// sweep tries again.
    public var refused: Bool { refusedByBrake || clockNotSynchronized != nil }

    /// The longest problem list kept in memory.
    public static let maximumProblemsListed = 1000

    /// Creates an empty report.
    public init(sweepID: String, dryRun: Bool, startedAt: UTCInstant, now: UTCInstant) {
        self.sweepID = sweepID
        self.dryRun = dryRun
        self.startedAt = startedAt
        self.now = now
    }

    /// Both rules added up.
    public var total: Counts {
        var sum = Counts()
        for counts in [completed, failed] {
            sum.examined += counts.examined
            sum.due += counts.due
            sum.dueFiles += counts.dueFiles
            sum.removed += counts.removed
            sum.alreadyMissing += counts.alreadyMissing
            sum.failed += counts.failed
            sum.refused += counts.refused
            sum.undecidable += counts.undecidable
            sum.bytesFreed += counts.bytesFreed
            sum.recordsUpdated += counts.recordsUpdated
            sum.changedMeanwhile += counts.changedMeanwhile
        }
        return sum
    }

    /// The counts of one rule.
    public subscript(rule: CleanupRule) -> Counts {
        get { rule == .completed ? completed : failed }
        set { if rule == .completed { completed = newValue } else { failed = newValue } }
    }

    mutating func record(_ problem: Problem) {
        if problems.count < Self.maximumProblemsListed { problems.append(problem) } else { problemsNotListed += 1 }
    }
}
