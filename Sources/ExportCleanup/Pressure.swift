public import ExportStorage
import Logging
import CoreSupport

/// Disk pressure, journald-style: how much free space (and inodes) the storage file system must keep, and how many
/// bytes of export files the directory may hold. When either is violated after the normal rules ran, the sweep
/// also removes completed exports before their retention, oldest `completed_at` first, until both hold, but never
/// one completed less than ``minRetentionMicroseconds`` ago and never one whose `expires_at` is still ahead.
///
/// The decisions are pure (``shortfall(_:)``, ``isEligible(_:now:)``); the sweeper measures (`fstatvfs` on the
/// storage directory's descriptor, one directory pass for ``maxUse``) and removes through the same claim-first path
/// as every removal.
public struct PressureTarget: Sendable, Hashable, Codable {
    /// A size: bytes, or a percentage of the file system.
    public enum Amount: Sendable, Hashable, Codable, CustomStringConvertible {
        /// A number of bytes.
        case bytes(Int64)
        /// A percentage (0 to 100) of the file system's size (and, for ``PressureTarget/keepFree``, of its inodes).
        case percent(Double)

        /// The bytes this amount is on a file system of `total` bytes.
        public func bytes(of total: Int64) -> Int64 {
            switch self {
            case .bytes(let value): return value
            case .percent(let share): return Int64((Double(total) * share / 100).rounded(.up))
            }
        }

        public var description: String {
            switch self {
            case .bytes(let value): return "\(value) bytes"
            case .percent(let share): return "\(share)%"
            }
        }
    }

    /// Free space to keep on the storage file system (`EXPORT_CLEANUP_KEEP_FREE`); a percentage applies to the free
    /// inodes as well. `nil`: not checked.
    public var keepFree: Amount?
    /// The most bytes the export files of the directory may take (`EXPORT_CLEANUP_MAX_USE`). `nil`: not checked.
    public var maxUse: Amount?
    /// No export completed less than this long ago is removed for pressure (`EXPORT_CLEANUP_MIN_RETENTION_HOURS`).
    public var minRetentionMicroseconds: Int64

    /// Creates a target.
    public init(keepFree: Amount? = nil, maxUse: Amount? = nil, minRetentionHours: Double = 1) {
        self.keepFree = keepFree
        self.maxUse = maxUse
        let value = (minRetentionHours * 3_600_000_000).rounded()
        minRetentionMicroseconds = value.isFinite && value >= 0 ? (value >= 9.2e18 ? .max : Int64(value)) : .max
    }

    /// Whether anything is checked.
    public var isActive: Bool { keepFree != nil || maxUse != nil }

    /// What the sweep measured.
    public struct State: Sendable, Hashable, Codable {
        /// The file system's space.
        public var space: FileSystemSpace
        /// Bytes of the export files in the directory (only measured when ``PressureTarget/maxUse`` is set).
        public var exportBytes: Int64?

        /// Creates a measurement.
        public init(space: FileSystemSpace, exportBytes: Int64?) {
            self.space = space
            self.exportBytes = exportBytes
        }
    }

    /// What is still to free for both limits to hold: bytes and inodes (both 0: the target holds).
    public func shortfall(_ state: State) -> (bytes: Int64, inodes: Int64) {
        var bytes: Int64 = 0, inodes: Int64 = 0
        if let keepFree {
            bytes = max(bytes, keepFree.bytes(of: state.space.totalBytes) - state.space.freeBytes)
            if case .percent(let share) = keepFree, state.space.totalInodes > 0 {
                inodes = max(0, Int64((Double(state.space.totalInodes) * share / 100).rounded(.up)) - state.space.freeInodes)
            }
        }
        if let maxUse, let used = state.exportBytes {
            bytes = max(bytes, used - maxUse.bytes(of: state.space.totalBytes))
        }
        return (max(0, bytes), inodes)
    }

    /// The limits that do not hold, for messages (empty when both hold).
    public func violations(_ state: State) -> [String] {
        var found: [String] = []
        if let keepFree {
            let needed = keepFree.bytes(of: state.space.totalBytes)
            if state.space.freeBytes < needed {
                found.append("\(state.space.freeBytes) bytes free, EXPORT_CLEANUP_KEEP_FREE wants \(needed)")
            }
            if case .percent(let share) = keepFree, state.space.totalInodes > 0 {
                let inodes = Int64((Double(state.space.totalInodes) * share / 100).rounded(.up))
                if state.space.freeInodes < inodes { found.append("\(state.space.freeInodes) inodes free, EXPORT_CLEANUP_KEEP_FREE wants \(inodes)") }
            }
        }
        if let maxUse, let used = state.exportBytes, used > maxUse.bytes(of: state.space.totalBytes) {
            found.append("export files take \(used) bytes, EXPORT_CLEANUP_MAX_USE allows \(maxUse.bytes(of: state.space.totalBytes))")
        }
        return found
    }

    /// Whether pressure may remove this job's file now: completed, with a `file_path`, `completed_at` readable and
    /// at least the minimum retention ago, `expires_at` NULL or readable and not ahead.
    public func isEligible(_ job: ExportJob, now: UTCInstant) -> Bool {
        guard job.status == .completed, !job.filePath.isNull, case .success(let completedAt) = StoredDateTime.parse(job.completedAt),
            completedAt <= now.adding(microseconds: -minRetentionMicroseconds)
        else { return false }
        if job.expiresAt.isNull { return true }
        guard case .success(let expiresAt) = StoredDateTime.parse(job.expiresAt) else { return false }
        return expiresAt <= now
    }
}

/// What disk pressure made a sweep do (``SweepReport/pressure``).
public struct PressureReport: Sendable, Hashable, Codable {
    /// The measurement before pressure removed anything (after the normal rules).
    public var before: PressureTarget.State
    /// The measurement at the end (`nil` in a dry run).
    public var after: PressureTarget.State?
    /// The limits that did not hold before.
    public var violations: [String]
    /// Files removed for pressure (a dry run: that would be).
    public var removed = 0
    /// Their bytes.
    public var bytesFreed: Int64 = 0
    /// Records claimed for pressure.
    public var recordsUpdated = 0
    /// Rows the application changed meanwhile (left alone, with their files).
    public var changedMeanwhile = 0
    /// Removals that failed.
    public var failed = 0
    /// Whether both limits hold at the end (a dry run: would hold, by the sizes of the files it would remove).
    public var targetReached = false

    /// `pressure freed 1.2 MiB (12 files), target reached`.
    public var summary: String {
        "pressure freed \(bytesFreed) bytes (\(removed) files), target \(targetReached ? "reached" : "not reached")"
    }
}

extension Sweeper {
    /// Pressure candidates read per query: each query orders every eligible row by its instant (SQLite keeps only
    /// the page's top rows while it scans), so larger pages mean fewer scans of a large table; claims are still
    /// made in batches of ``SweepOptions/batchSize``.
    static let pressurePage = 10_000

    /// Measures the storage file system (and, with a byte limit, the export files).
    func measurePressure(_ target: PressureTarget) throws(ExportStorageError) -> PressureTarget.State {
        PressureTarget.State(space: try spaceSource(storage), exportBytes: target.maxUse == nil ? nil : try storage.exportFileBytes())
    }

    /// After the rules: while the target does not hold, claims and removes completed exports oldest first (see
    /// ``PressureTarget``). Every removal is claim-first and guarded on every column read, like the rules'.
    func relievePressure(_ target: PressureTarget, options: SweepOptions, now: UTCInstant, report: inout SweepReport,
                         removals: inout SweepRemovals, logger: Logger, isCancelled: () -> Bool, onItem: (SweepItem) -> Void) throws
    {
        var state = try measurePressure(target)
        var short = target.shortfall(state)
        var pressure = PressureReport(before: state, violations: target.violations(state))
        defer { report.pressure = pressure }
        guard short.bytes > 0 || short.inodes > 0 else {
            pressure.targetReached = true
            pressure.after = options.dryRun ? nil : state
            return
        }
        logger.notice("disk pressure: \(pressure.violations.joined(separator: "; ")): removing completed exports before their retention, oldest first")
        if !options.dryRun, let blocked = storage.removalBlocked() {
            logger.warning("disk pressure: the storage directory refuses removals (\(errnoName(blocked))); nothing removed for pressure")
            pressure.after = state
            return
        }
        let cutoff = now.adding(microseconds: -target.minRetentionMicroseconds)
        var cursor: PressureCursor?
        var projected: (bytes: Int64, inodes: Int64) = (0, 0)
        var claims: [Claimable] = []
        // Claims what is gathered; in a real sweep, once the projection says enough, re-measures (the kernel's word,
        // not the projection: blocks round sizes up, others write meanwhile; a full batch before that is claimed
        // without measuring, which for EXPORT_CLEANUP_MAX_USE is a pass over the directory). Returns whether the
        // target holds.
        func flush() throws -> Bool {
            defer { claims.removeAll(keepingCapacity: true) }
            if options.dryRun {
                for claim in claims {
                    pressure.removed += 1
                    pressure.bytesFreed += claim.file?.bytes ?? 0
                    onItem(SweepItem(rule: .completed, job: claim.job, outcome: .wouldRemove(bytes: claim.file?.bytes ?? 0), file: claim.file))
                }
                return projected.bytes >= short.bytes && projected.inodes >= short.inodes
            }
            if !claims.isEmpty {
                let counted = report.completed
                try commit(claims[...], removals: &removals, report: &report, logger: logger, onItem: onItem, reason: "pressure", wait: true)
                pressure.removed += report.completed.removed - counted.removed
                pressure.bytesFreed += report.completed.bytesFreed - counted.bytesFreed
                pressure.recordsUpdated += report.completed.recordsUpdated - counted.recordsUpdated
                pressure.changedMeanwhile += report.completed.changedMeanwhile - counted.changedMeanwhile
                pressure.failed += report.completed.failed - counted.failed
                report.completed = counted
            }
            guard projected.bytes >= short.bytes && projected.inodes >= short.inodes else { return false }
            state = try measurePressure(target)
            short = target.shortfall(state)
            projected = (0, 0)
            return short.bytes == 0 && short.inodes == 0
        }
        reading: while true {
            let jobs = try store.pressureCandidates(completedBefore: cutoff, now: now, after: cursor, limit: Self.pressurePage)
            guard let last = jobs.last, case .success(let lastCompleted) = StoredDateTime.parse(last.completedAt) else { break }
            cursor = PressureCursor(completedAt: lastCompleted, key: last.key)
            for job in jobs where target.isEligible(job, now: now) {
                if isCancelled() {
                    report.interrupted = true
                    _ = try flush()
                    break reading
                }
                guard case .text(let path) = job.filePath, case .success(let name) = storage.entryName(forRecordPath: path, record: job.recordName),
                    case .regularFile(let file) = storage.entry(named: name)
                else { continue }  // refused, missing or odd: the rules report it; pressure only frees what is there
                claims.append(Claimable(job: job, rule: .completed, entryName: name, file: file))
                projected.bytes += file.bytes
                projected.inodes += 1
                if projected.bytes >= short.bytes && projected.inodes >= short.inodes || claims.count >= options.batchSize {
                    if try flush() {
                        pressure.targetReached = true
                        break reading
                    }
                }
            }
            if jobs.count < Self.pressurePage { break }
        }
        if !claims.isEmpty, try flush() { pressure.targetReached = true }
        if !options.dryRun && !pressure.targetReached { state = try measurePressure(target) }
        if !options.dryRun {
            pressure.after = state
            pressure.targetReached = target.shortfall(state) == (0, 0)
        }
        let message = "disk pressure: \(pressure.summary)"
        if pressure.targetReached { logger.notice("\(message)") } else {
            logger.warning("\(message): nothing more may be removed (EXPORT_CLEANUP_MIN_RETENTION_HOURS, expires_at)")
        }
    }
}
