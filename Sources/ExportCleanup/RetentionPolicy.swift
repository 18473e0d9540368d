/// Which cleanup rule applies to a job.
public enum CleanupRule: String, Sendable, Hashable, CaseIterable, Codable {
    /// A completed job past its retention (and its `expires_at`): file removed, record `expired`, `file_path` NULL.
    case completed
    /// A failed job older than the failed age with a (partial) file: file removed, `file_path` NULL.
    case failed

    /// The status of the rows this rule reads.
    public var status: JobStatus {
        switch self {
        case .completed: return .completed
        case .failed: return .failed
        }
    }

    /// The status a swept record gets.
    public var newStatus: JobStatus {
        switch self {
        case .completed: return .expired
        case .failed: return .failed
        }
    }
}

/// What the policy decided for one job.
public enum RetentionDecision: Sendable, Hashable {
    /// The job is due under `rule`: its file goes and its record is updated.
    case due(CleanupRule)
    /// The job is kept for now.
    case notDue(NotDueReason)
    /// A value the rule needs cannot be read: the job is kept and reported with the raw value.
    case undecidable(rule: CleanupRule, column: String, raw: StoredValue, problem: DateTimeProblem)
}

/// Why a job is kept.
public enum NotDueReason: Sendable, Hashable {
    /// Its status is not swept (pending, processing, expired, anything else).
    case statusNotSwept
    /// Completed, but `completed_at + retention` is still ahead.
    case withinRetention(dueAt: UTCInstant)
    /// Completed and past retention, but the application promised the file until `expires_at`.
    case beforeExpiresAt(dueAt: UTCInstant)
    /// Failed, but younger than the failed age.
    case tooRecentlyFailed(dueAt: UTCInstant)
    /// Failed with no file to remove.
    case noFile
}

/// The due rules: a pure function of (job, now, policy). Deletion is irreversible, so when in doubt, keep.
///
/// - completed: due when `now ≥ completed_at + retention` and, if `expires_at` is set, `now ≥ expires_at`.
/// - failed: due when `file_path` is not NULL and `now ≥ created_at + failedAge`.
/// - any other status: never due.
/// - a timestamp the rule needs that is NULL or unreadable: undecidable (kept, reported).
///
/// Retention and failed age may differ per export type (`EXPORT_CLEANUP_RETENTION_HOURS_BY_TYPE`,
/// `EXPORT_CLEANUP_FAILED_AGE_HOURS_BY_TYPE`): a job whose `export_type` text is named uses that type's duration,
/// every other job the default. ``cutoff(for:now:)`` uses the shortest duration of the rule, so a store's
/// prefilter by that cutoff never leaves out a job that is due under its own type's duration.
public struct RetentionPolicy: Sendable, Hashable {
    /// How long a completed export is kept, in microseconds (types not in ``retentionByType``).
    public var retentionMicroseconds: Int64
    /// How long a failed export's partial file is kept, in microseconds (types not in ``failedAgeByType``).
    public var failedAgeMicroseconds: Int64
    /// Retention per `export_type`, in microseconds.
    public var retentionByType: [String: Int64]
    /// Failed age per `export_type`, in microseconds.
    public var failedAgeByType: [String: Int64]

    /// A policy from hours (fractions allowed): retention of completed exports, age of failed ones, by default and
    /// per export type. A negative, NaN or infinite value keeps those files forever.
    public init(retentionHours: Double = 24, failedAgeHours: Double = 1, retentionHoursByType: [String: Double] = [:],
                failedAgeHoursByType: [String: Double] = [:]) {
        retentionMicroseconds = Self.microseconds(hours: retentionHours)
        failedAgeMicroseconds = Self.microseconds(hours: failedAgeHours)
        retentionByType = retentionHoursByType.mapValues(Self.microseconds(hours:))
        failedAgeByType = failedAgeHoursByType.mapValues(Self.microseconds(hours:))
    }

    /// The latest `completed_at` (or `created_at` for failed jobs) that can be due at `now`, whatever the type:
    /// `now` minus the rule's shortest duration.
    public func cutoff(for rule: CleanupRule, now: UTCInstant) -> UTCInstant {
        let shortest = rule == .completed ? (retentionByType.values.min().map { min($0, retentionMicroseconds) } ?? retentionMicroseconds)
            : (failedAgeByType.values.min().map { min($0, failedAgeMicroseconds) } ?? failedAgeMicroseconds)
        return now.adding(microseconds: -shortest)
    }

    /// The duration a rule applies to a job, and whether it came from the job's type.
    public struct Applied: Sendable, Hashable {
        /// The duration, in microseconds.
        public var microseconds: Int64
        /// The export type whose own duration applied; `nil`: the default.
        public var exportType: String?

        /// Hours, for messages (`48`, `0.5`).
        public var hoursText: String {
            let hours = Double(microseconds) / 3_600_000_000
            return hours == hours.rounded() && abs(hours) < 1e15 ? String(Int64(hours)) : String(hours)
        }
        /// e.g. `retention 48 h (hotels)` or `retention 24 h (default)`.
        public func describe(_ rule: CleanupRule) -> String {
            "\(rule == .completed ? "retention" : "failed age") \(microseconds == .max ? "forever" : hoursText + " h") (\(exportType ?? "default"))"
        }
    }

    /// The duration `rule` applies to `job`: its type's own, or the default.
    public func applied(to job: ExportJob, rule: CleanupRule) -> Applied {
        let table = rule == .completed ? retentionByType : failedAgeByType
        if let type = job.exportType.text, let value = table[type] { return Applied(microseconds: value, exportType: type) }
        return Applied(microseconds: rule == .completed ? retentionMicroseconds : failedAgeMicroseconds, exportType: nil)
    }

    /// Decides one job.
    public func decide(_ job: ExportJob, now: UTCInstant) -> RetentionDecision {
        switch job.status {
        case .completed:
            let completedAt: UTCInstant
            switch StoredDateTime.parse(job.completedAt) {
            case .success(let value): completedAt = value
            case .failure(let problem): return .undecidable(rule: .completed, column: "completed_at", raw: job.completedAt, problem: problem)
            }
            let retained = completedAt.adding(microseconds: applied(to: job, rule: .completed).microseconds)
            var dueAt = retained
            if !job.expiresAt.isNull {
                switch StoredDateTime.parse(job.expiresAt) {
                case .success(let expiresAt): dueAt = max(retained, expiresAt)
                case .failure(let problem): return .undecidable(rule: .completed, column: "expires_at", raw: job.expiresAt, problem: problem)
                }
            }
            if now >= dueAt { return .due(.completed) }
            return now >= retained ? .notDue(.beforeExpiresAt(dueAt: dueAt)) : .notDue(.withinRetention(dueAt: dueAt))
        case .failed:
            if job.filePath.isNull { return .notDue(.noFile) }
            switch StoredDateTime.parse(job.createdAt) {
            case .success(let createdAt):
                let dueAt = createdAt.adding(microseconds: applied(to: job, rule: .failed).microseconds)
                return now >= dueAt ? .due(.failed) : .notDue(.tooRecentlyFailed(dueAt: dueAt))
            case .failure(let problem):
                return .undecidable(rule: .failed, column: "created_at", raw: job.createdAt, problem: problem)
            }
        default:
            return .notDue(.statusNotSwept)
        }
    }

    /// Hours as microseconds. A negative, NaN or infinite duration means "keep forever" (when in doubt, keep).
    private static func microseconds(hours: Double) -> Int64 {
        let value = (hours * 3_600_000_000).rounded()
        guard value.isFinite, value >= 0 else { return .max }
        return value >= 9.2e18 ? .max : Int64(value)
    }
}
