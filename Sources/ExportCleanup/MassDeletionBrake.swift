/// The mass-deletion brake: a sweep that would remove more than ``maximumPercent`` percent of the export files the
/// table references **and** more than ``minimumFiles`` files removes nothing.
///
/// A clock that jumped years ahead, or a retention set to 0.01 hours by mistake, makes every file due at once;
/// the brake turns that into a refused sweep (exit 75, a journal entry, `STATUS=`) instead of an empty directory.
/// An hourly sweep removes about one hour's worth of a retention window's files, and one after a day or two of
/// downtime a day or two's worth, far below 90%, so the defaults never trip on an ordinary sweep.
///
/// The counts:
/// - **referenced files** (``JobStore/countReferencedFiles()``): rows of the swept statuses (`completed`,
///   `failed`) whose `file_path` is not NULL, counted in one statement when (and only when) the due count exceeds
///   ``minimumFiles``;
/// - **due files**: the rows the policy finds due whose `file_path` is not NULL (whether the file is still on disk
///   or not: a file already gone still counts, so the count never depends on the disk).
///
/// A pure decision: ``trips(dueFiles:referencedFiles:)``. How the sweep knows the due count before it removes
/// anything is the ``Sweeper``'s business (see ``Sweeper``: it holds its first claims until the count is settled).
public struct MassDeletionBrake: Sendable, Hashable, Codable {
    /// The largest share of the referenced files one sweep may remove, in percent (100: the brake never trips).
    public var maximumPercent: Int
    /// A sweep removing at most this many files never trips the brake, whatever the share.
    public var minimumFiles: Int

    /// The defaults: 90 percent and 1,000 files.
    public init(maximumPercent: Int = 90, minimumFiles: Int = 1000) {
        self.maximumPercent = max(0, maximumPercent)
        self.minimumFiles = max(0, minimumFiles)
    }

    /// Whether the brake can ever trip (a percentage of 100 or more cannot be exceeded).
    public var isArmed: Bool { maximumPercent < 100 }

    /// Whether a sweep due to remove `dueFiles` files needs the referenced count to be judged: only above
    /// ``minimumFiles`` (below it the brake never trips, so the count query is never run).
    public func needsReferencedCount(dueFiles: Int) -> Bool {
        isArmed && dueFiles > minimumFiles
    }

    /// Whether removing `dueFiles` of the `referencedFiles` files is refused: more than ``minimumFiles`` and more
    /// than ``maximumPercent`` percent of them.
    public func trips(dueFiles: Int, referencedFiles: Int) -> Bool {
        guard needsReferencedCount(dueFiles: dueFiles) else { return false }
        // dueFiles / referenced > percent / 100, in integers (no rounding, no overflow for any Int count).
        return Double(dueFiles) * 100 > Double(maximumPercent) * Double(max(referencedFiles, 0))
    }

    /// The share, in whole percent rounded down, for messages.
    public static func percent(_ part: Int, of whole: Int) -> Int {
        whole <= 0 ? 100 : Int(Double(part) * 100 / Double(whole))
    }
}

/// What the brake found in one sweep (``SweepReport/massDeletion``).
public struct MassDeletionCheck: Sendable, Hashable, Codable {
    /// Due rows with a `file_path`, over the whole sweep (counted before the first claim).
    public var dueFiles: Int
    /// Due rows in all (with or without a file), over the whole sweep.
    public var dueRows: Int
    /// Rows of the swept statuses with a `file_path`; `nil` when the due count was too low to need it.
    public var referencedFiles: Int?
    /// The brake's settings.
    public var brake: MassDeletionBrake
    /// Whether the sweep was refused.
    public var tripped: Bool

    /// Creates a check.
    public init(dueFiles: Int, dueRows: Int, referencedFiles: Int?, brake: MassDeletionBrake, tripped: Bool) {
        self.dueFiles = dueFiles
        self.dueRows = dueRows
        self.referencedFiles = referencedFiles
        self.brake = brake
        self.tripped = tripped
    }

    /// Why the sweep removed nothing, naming the numbers and what to do.
    public var explanation: String {
        let referenced = referencedFiles ?? 0
        return "mass-deletion brake: this sweep would remove \(dueFiles) of the \(referenced) export files the table references "
            + "(\(MassDeletionBrake.percent(dueFiles, of: referenced))%), more than EXPORT_CLEANUP_MAX_DELETE_PERCENT=\(brake.maximumPercent)% "
            + "and more than EXPORT_CLEANUP_MAX_DELETE_MIN_FILES=\(brake.minimumFiles) files: nothing was removed. Check the system clock "
            + "and the retention settings; if this is intended, run 'export-cleanup sweep --allow-mass-deletion' once"
    }
}

extension Sweeper {
    /// Counts the due rows, and those with a `file_path`, that the sweep has not read yet: the rest of `rule` after
    /// `cursor`, then every later rule. Pure reading and deciding (no `fstatat`, nothing written); used only when
    /// the brake's count is not settled by the time the sweep would claim (more due files than
    /// ``MassDeletionBrake/minimumFiles``, or more held claims than ``Sweeper/holdLimit``).
    func countRemainingDue(after rule: CleanupRule, cursor: JobCursor?, options: SweepOptions, now: UTCInstant)
        throws(JobStoreError) -> (rows: Int, files: Int)
    {
        var rows = 0, files = 0
        let rules = CleanupRule.allCases
        guard let start = rules.firstIndex(of: rule) else { return (0, 0) }
        for (offset, current) in rules[start...].enumerated() {
            var position: JobCursor? = offset == 0 ? cursor : nil
            if offset == 0 && cursor == nil { continue }  // that rule was read to its end
            let cutoff = options.policy.cutoff(for: current, now: now)
            repeat {
                let batch: [ExportJob]
                (batch, position) = try store.candidates(for: current, cutoff: cutoff, now: now, after: position, limit: Self.readChunk)
                for job in batch {
                    guard case .due = options.policy.decide(job, now: now) else { continue }
                    rows += 1
                    if !job.filePath.isNull { files += 1 }
                }
            } while position != nil
        }
        return (rows, files)
    }
}
