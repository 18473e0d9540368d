public import ExportStorage
public import Logging
import CoreSupport
import Foundation

/// How a sweep runs.
public struct SweepOptions: Sendable, Hashable {
    /// The due rules.
    public var policy: RetentionPolicy
    /// Rows claimed per write transaction at most: a batch is claimed when it reaches this many due rows, or
    /// when its reading and checking took ``batchMilliseconds``, whichever comes first.
    public var batchSize: Int
    /// Milliseconds of reading and checking after which a batch is claimed even if it is not full. Bounds how old
    /// a decision can be when its claim is made, and how long one batch's removals take.
    public var batchMilliseconds: Int
    /// List what would be removed and change nothing (no lock is taken, the database is not written).
    public var dryRun: Bool
    /// Wait for another sweep's lock instead of failing.
    public var waitForLock: Bool
    /// The mass-deletion brake; `nil` lets this sweep remove any number of files (`--allow-mass-deletion`).
    public var brake: MassDeletionBrake?
    /// Remove nothing while the kernel says the clock is not synchronised (``Sweeper/clockStatus``).
    public var requireSyncedClock: Bool
    /// Files one sweep removes at most (0: no bound): past it the sweep commits what it did and stops.
    public var maxFiles: Int
    /// Seconds one sweep runs at most (0: no bound): past it the sweep commits the batch in hand and stops.
    public var maxSeconds: Double
    /// Disk pressure (``PressureTarget``): after the rules, completed exports go before their retention while it
    /// does not hold. `nil`: off.
    public var pressure: PressureTarget?

    /// Creates options.
    public init(policy: RetentionPolicy = RetentionPolicy(), batchSize: Int = 2000, batchMilliseconds: Int = 250, dryRun: Bool = false,
                waitForLock: Bool = false, brake: MassDeletionBrake? = MassDeletionBrake(), requireSyncedClock: Bool = false,
                maxFiles: Int = 0, maxSeconds: Double = 0, pressure: PressureTarget? = nil) {
        self.policy = policy
        self.batchSize = max(1, batchSize)
        self.batchMilliseconds = max(1, batchMilliseconds)
        self.dryRun = dryRun
        self.waitForLock = waitForLock
        self.brake = brake
        self.requireSyncedClock = requireSyncedClock
        self.maxFiles = max(0, maxFiles)
        self.maxSeconds = maxSeconds.isFinite ? max(0, maxSeconds) : 0
        self.pressure = pressure?.isActive == true ? pressure : nil
    }
}

/// One due job and what happened to it, as the sweep goes (for listings such as a dry run's).
public struct SweepItem: Sendable, Hashable {
    /// The rule applied.
    public var rule: CleanupRule
    /// The job as read.
    public var job: ExportJob
    /// What happened to its file.
    public var outcome: RemovalOutcome
    /// The file as it was looked at before its claim (name, modification time, size), when it had one.
    public var file: StorageStatistics.FileInfo? = nil
}

/// One sweep: reads due jobs from a ``JobStore``, claims their records, then removes their files through
/// ``OpenStorageDirectory``.
///
/// Claim first, file second, per batch:
/// 1. read a batch of candidates and decide each one (``RetentionPolicy``, pure); check each due record's path
///    and name (``RecordPathRule``) and look at its entry (`fstatat`, no symlink followed);
/// 2. write the batch's claims to the claims journal in the storage directory and sync it;
/// 3. claim the rows in one short transaction, each guarded on every column the decision read (``JobStore/claim(_:)``):
///    a row the application changed meanwhile is left alone, and so is its file;
/// 4. remove the files of the rows claimed, on the ``BackgroundRemover``'s thread while the next batch goes through
///    1 to 3 (at most one batch in flight: its removals are waited for before the next batch's start); after the
///    last batch, remove the journal. The journal file written in 2 names the batch in flight too, and its two files
///    are written in turn (``ClaimsJournalFile``), so a crash during one write leaves the other complete.
///
/// The application therefore never sees a row that points at a file this sweep removed: the row stops pointing
/// at it first. A crash between 3 and 4 leaves files whose rows no longer name them; the next sweep reads the
/// journal and removes each of them only if its row is still exactly as the claim left it.
///
/// The mass-deletion brake (``MassDeletionBrake``) must be settled before the first claim, since nothing can be
/// put back after it. The sweep holds its claims (steps 1 only, across batches and rules) while the due files it
/// has seen are at most the brake's minimum and at most ``holdLimit`` rows are held: an ordinary sweep, whose due
/// files are fewer than the minimum, reads everything once, knows its total when it reaches the end, and claims
/// then, at no extra cost (not even the count of referenced files). Only a sweep with more due files than that
/// (a backlog, or a mass deletion) counts the rest of its due rows first by reading them without touching
/// anything (``countRemainingDue(after:cursor:options:now:)``) and asks the store for the referenced count
/// (one query); if the brake trips, nothing has been claimed or removed. Held claims are still guarded on every
/// column they read, so a row the application changed while they waited keeps its change and its file.
public final class Sweeper {
    let store: any JobStore
    let storage: OpenStorageDirectory
    private let logger: Logger
    private let problemMemory: ProblemMemory?
    /// Called with each batch's claims just before they are made (tests: the application's race).
    package var beforeClaim: (([JobClaim]) -> Void)?
    /// Asked once per sweep when ``SweepOptions/requireSyncedClock`` is set: the kernel by default.
    public var clockStatus: any ClockStatusSource = KernelClockStatus()
    /// How disk pressure measures the file system: `fstatvfs` on the storage directory's descriptor by default.
    package var spaceSource: (OpenStorageDirectory) throws(ExportStorageError) -> FileSystemSpace = { directory throws(ExportStorageError) in
        try directory.fileSystemSpace()
    }

    /// Creates a sweeper over an opened store and storage directory.
    /// - Parameter problemMemory: the refused and undecidable records already logged at warning by an earlier
    ///   sweep of this process (a daemon keeps one for its whole run): such a record is logged at debug instead,
    ///   while it is unchanged. It is still counted and listed in every report.
    public init(store: any JobStore, storage: OpenStorageDirectory, logger: Logger, problemMemory: ProblemMemory? = nil) {
        self.store = store
        self.storage = storage
        self.logger = logger
        self.problemMemory = problemMemory
    }

    /// Runs one sweep.
    ///
    /// - Parameters:
    ///   - now: the moment the rules are applied at.
    ///   - sweepID: identifies the sweep in logs.
    ///   - isCancelled: asked between files; when it says yes, the jobs decided so far are claimed and their
    ///     files removed, and the sweep ends with ``SweepReport/interrupted`` set.
    ///   - onItem: called for each due job with what happened to its file (not for rows changed meanwhile).
    ///   - onProgress: called after each batch with the report so far.
    /// - Throws: ``ExportStorageError`` when the sweep lock is held elsewhere (and `waitForLock` is off).
    ///   Store errors during the sweep do not throw: they end it early, recorded in ``SweepReport/abortedBy``.
    public func sweep(
        options: SweepOptions, now: UTCInstant = .now(), sweepID: String = Sweeper.makeSweepID(),
        isCancelled: () -> Bool = { false }, onItem: (SweepItem) -> Void = { _ in },
        onProgress: (SweepReport) -> Void = { _ in }
    ) throws(ExportStorageError) -> SweepReport {
        let clockStart = UTCInstant.now()
        var logger = self.logger
        logger[metadataKey: "sweep_id"] = "\(sweepID)"
        var report = SweepReport(sweepID: sweepID, dryRun: options.dryRun, startedAt: clockStart, now: now)
        if !options.dryRun {
            // Waiting polls instead of blocking in flock, so a waiting sweep still answers isCancelled (and
            // whatever heartbeat the caller keeps there).
            var waitingLogged = false
            while true {
                do {
                    try storage.lock(wait: false)
                    break
                } catch where error.code == .locked && options.waitForLock {
                    if !waitingLogged {
                        logger.info("waiting for the sweep lock: \(error.message)")
                        waitingLogged = true
                    }
                    if isCancelled() {
                        report.interrupted = true
                        return report
                    }
                    usleep(200_000)
                }
            }
        }
        defer { if !options.dryRun { storage.unlock() } }

        logger.debug("sweep started", metadata: ["dry_run": "\(options.dryRun)", "now": "\(now.iso8601)"])
        if options.requireSyncedClock {
            let clock = clockStatus.clockSync()
            if !clock.isSynchronized {
                // Before anything is read or removed, earlier claims included: a wrong clock decides nothing.
                report.clockNotSynchronized = clock.description
                logger.error("the system clock is \(clock.description) and EXPORT_CLEANUP_REQUIRE_SYNCED_CLOCK=yes: this sweep removes nothing; check chrony, ntpd or systemd-timesyncd (timedatectl timesync-status); the next sweep asks again",
                             metadata: ["message_id": "\(MessageID.clockNotSynchronized)", "export_clock": "\(clock.description)"])
                report.durationSeconds = Double(UTCInstant.now().microseconds - clockStart.microseconds) / 1_000_000
                logSummary(report, logger: logger)
                return report
            }
        }
        if options.brake == nil && !options.dryRun {
            logger.notice("the mass-deletion brake is off for this sweep (--allow-mass-deletion)")
        }
        var removals = SweepRemovals(storage: storage)
        // Nothing to settle when the brake is off or cannot trip.
        var brakeSettled = options.brake?.isArmed != true
        var claims: [Claimable] = []
        var batchStarted: UInt64?
        // Bounded sweeps: files committed so far (claims with a file), the total due rows once known.
        var committedFiles = 0
        var knownDueRows: Int?
        let sweepStarted = MonotonicClock.microseconds()
        sweep: do {
            if !options.dryRun {
                try finishEarlierClaims(&removals, report: &report, logger: logger, onItem: onItem)
            }
            for rule in CleanupRule.allCases {
                let cutoff = options.policy.cutoff(for: rule, now: now)
                // Read in chunks; claim when the batch is full, old enough, or the rule has no more rows.
                let chunk = min(options.batchSize, Self.readChunk)
                var cursor: JobCursor?
                repeat {
                    let batch: [ExportJob]
                    (batch, cursor) = try store.candidates(for: rule, cutoff: cutoff, now: now, after: cursor, limit: chunk)
                    if batchStarted == nil { batchStarted = MonotonicClock.microseconds() }
                    // Asked once per chunk that has files to remove: a directory that refuses every removal
                    // (read-only, no write permission) leaves every record as it is.
                    var blocked: Int32?? = nil
                    for job in batch {
                        if isCancelled() {
                            report.interrupted = true
                            break
                        }
                        report[rule].examined += 1
                        guard let claimable = decide(job, rule: rule, options: options, now: now, report: &report, logger: logger, onItem: onItem) else {
                            continue
                        }
                        if claimable.entryName != nil {
                            if blocked == nil { blocked = .some(storage.removalBlocked()) }
                            if case .some(.some(let code)) = blocked {
                                fail(job, rule: rule, code: code, claimed: false, report: &report, logger: logger)
                                onItem(SweepItem(rule: rule, job: job, outcome: .failed(errno: code)))
                                continue
                            }
                        }
                        claims.append(claimable)
                    }
                    let elapsed = MonotonicClock.microseconds() - (batchStarted ?? 0)
                    let readAll = cursor == nil && rule == CleanupRule.allCases.last
                    if readAll && !report.interrupted { knownDueRows = report.total.due }
                    // A bound reached stops the reading: what is held is claimed (up to the bound), then the sweep ends.
                    var bound: SweepReport.Bound?
                    if !options.dryRun {
                        if options.maxFiles > 0, committedFiles + claims.lazy.filter({ $0.entryName != nil }).count >= options.maxFiles {
                            bound = .files
                        } else if options.maxSeconds > 0,
                            Double(MonotonicClock.microseconds() - sweepStarted) / 1_000_000 >= options.maxSeconds, !readAll {
                            bound = .seconds
                        }
                    }
                    let due = claims.count >= options.batchSize || elapsed >= UInt64(options.batchMilliseconds) * 1000
                        || cursor == nil || report.interrupted || bound != nil
                    if due && !brakeSettled && !options.dryRun, let brake = options.brake {
                        if report.interrupted {
                            // Stopped before the count was settled: nothing is claimed, the next sweep decides.
                            claims.removeAll()
                            onProgress(report)
                            break sweep
                        }
                        let held = report.total
                        if !readAll && bound == nil && held.dueFiles <= min(brake.minimumFiles, Self.holdLimit) && claims.count <= Self.holdLimit {
                            continue  // hold: no claim before the brake is settled
                        }
                        var dueFiles = held.dueFiles, dueRows = held.due
                        if !readAll {
                            // More due files than the minimum (or too many rows held) before the end: the total decides.
                            let rest = try countRemainingDue(after: rule, cursor: cursor, options: options, now: now)
                            dueFiles += rest.files
                            dueRows += rest.rows
                        }
                        brakeSettled = true
                        knownDueRows = dueRows
                        if try settleBrake(brake, dueFiles: dueFiles, dueRows: dueRows, report: &report, logger: logger) {
                            claims.removeAll()
                            break sweep
                        }
                    }
                    if due {
                        if !options.dryRun, !claims.isEmpty {
                            if options.maxFiles > 0 {
                                // Claim files only up to the bound; the rest stay as they are, for the next sweep.
                                var budget = options.maxFiles - committedFiles
                                var keep = 0
                                while keep < claims.count, claims[keep].entryName == nil || budget > 0 {
                                    if claims[keep].entryName != nil { budget -= 1 }
                                    keep += 1
                                }
                                for left in claims[keep...] {
                                    report[left.rule].due -= 1
                                    report.countType(left.job) { $0.due -= 1 }
                                    if !left.job.filePath.isNull { report[left.rule].dueFiles -= 1 }
                                }
                                if keep < claims.count { bound = .files }
                                claims.removeSubrange(keep...)
                            }
                            committedFiles += claims.lazy.filter { $0.entryName != nil }.count
                            var start = 0
                            while start < claims.count {
                                let end = min(start + options.batchSize, claims.count)
                                try commit(claims[start..<end], removals: &removals, report: &report, logger: logger, onItem: onItem)
                                start = end
                            }
                        }
                        claims.removeAll(keepingCapacity: true)
                        batchStarted = nil
                        onProgress(report)
                    }
                    if report.interrupted { break sweep }
                    // Not a stop when the bound was met exactly by the last due rows there were.
                    if let bound, knownDueRows != report.total.due {
                        report.boundReached = bound
                        report.stillDue = knownDueRows.map { max(0, $0 - report.total.due) }
                        logger.info("sweep bound reached (\(bound == .files ? "EXPORT_CLEANUP_MAX_FILES_PER_SWEEP=\(options.maxFiles) files" : "EXPORT_CLEANUP_MAX_SWEEP_SECONDS=\(options.maxSeconds) s")): what was done is committed; \(report.stillDue.map { "\($0) still due" } ?? "more may be due")")
                        break sweep
                    }
                } while cursor != nil
            }
            if options.dryRun, !brakeSettled, let brake = options.brake {
                // A dry run read everything: it says whether a real sweep would be refused.
                let total = report.total
                _ = try settleBrake(brake, dueFiles: total.dueFiles, dueRows: total.due, report: &report, logger: logger)
            }
            if let target = options.pressure, !report.refused {
                // After the rules ran to their end (a bounded, refused or interrupted sweep has left before this), and
                // after their last removals: pressure measures the file system.
                finishRemovals(&removals, report: &report, logger: logger, onItem: onItem)
                try relievePressure(target, options: options, now: now, report: &report, removals: &removals, logger: logger,
                                    isCancelled: isCancelled, onItem: onItem)
            }
        } catch let error as JobStoreError {
            abort(&report, error, logger: logger)
        } catch {
            // The claims journal could not be read or written: the storage directory itself is in trouble.
            finishRemovals(&removals, report: &report, logger: logger, onItem: onItem)
            throw stopped(by: error, logger: logger)
        }
        // The last batch's removals; then the journal names exactly the claims whose files are still to go. After a
        // store error it is left as it is: it may name a claim whose commit the error hides; the next sweep asks.
        finishRemovals(&removals, report: &report, logger: logger, onItem: onItem)
        if !options.dryRun && report.abortCode == nil {
            do { try settleJournal(&removals) } catch { throw stopped(by: error, logger: logger) }
        }
        report.durationSeconds = Double(UTCInstant.now().microseconds - clockStart.microseconds) / 1_000_000
        logSummary(report, logger: logger)
        return report
    }

    /// A short random id for a sweep, e.g. `5f3a9c1e`.
    public static func makeSweepID() -> String {
        String(UInt32.random(in: .min ... .max), radix: 16).leftPadded(8)
    }

    // MARK: - Internals

    /// A due job ready to be claimed, and the entry of its file (`nil` when it has none).
    struct Claimable {
        var job: ExportJob
        var rule: CleanupRule
        var entryName: String?
        /// The file as looked at before the claim.
        var file: StorageStatistics.FileInfo?
    }

    /// Rows read per candidate query at most (a batch to claim may span several).
    static let readChunk = 1000

    /// Claims held at most while the mass-deletion brake is not settled (about 5 MB of rows): past it, or past the
    /// brake's minimum of due files, the sweep counts the rest of its due rows before it claims anything.
    public static let holdLimit = 10_000

    /// Settles the brake with the sweep's total due counts: asks the store for the referenced count when the due
    /// files exceed the minimum, records the check in the report, and logs a refusal. Returns whether it tripped.
    private func settleBrake(_ brake: MassDeletionBrake, dueFiles: Int, dueRows: Int, report: inout SweepReport, logger: Logger)
        throws(JobStoreError) -> Bool
    {
        let referenced = brake.needsReferencedCount(dueFiles: dueFiles) ? try store.countReferencedFiles() : nil
        let tripped = referenced.map { brake.trips(dueFiles: dueFiles, referencedFiles: $0) } ?? false
        let check = MassDeletionCheck(dueFiles: dueFiles, dueRows: dueRows, referencedFiles: referenced, brake: brake, tripped: tripped)
        report.massDeletion = check
        if tripped {
            logger.error("\(report.dryRun ? "a real sweep would be refused: " : "")\(check.explanation)", metadata: [
                "message_id": "\(MessageID.massDeletionRefused)", "export_due_files": "\(dueFiles)",
                "export_referenced_files": "\(referenced ?? 0)", "export_max_delete_percent": "\(brake.maximumPercent)",
                "export_max_delete_min_files": "\(brake.minimumFiles)", "export_dry_run": "\(report.dryRun)",
            ])
        }
        return tripped
    }

    /// Decides one job. Not due, undecidable, refused or (dry run) listed: reported here, `nil` returned. Due:
    /// the claim to make, with the entry its file has (checked by name and by `fstatat`, nothing removed yet).
    private func decide(
        _ job: ExportJob, rule: CleanupRule, options: SweepOptions, now: UTCInstant, report: inout SweepReport,
        logger: Logger, onItem: (SweepItem) -> Void
    ) -> Claimable? {
        switch options.policy.decide(job, now: now) {
        case .notDue:
            return nil
        case .undecidable(let undecidableRule, let column, let raw, let problem):
            report[rule].undecidable += 1
            let reason = "\(column) \(raw) \(problem): the job is kept; fix the value in the database"
            report.record(.init(kind: .undecidable, rule: undecidableRule, jobID: job.id, filePath: job.filePath.description,
                                code: column, reason: reason, errno: nil))
            logger.log(level: level(job, code: column, detail: raw.description), "record kept: \(reason)", metadata: [
                "message_id": "\(MessageID.recordUndecidable)", "export_job_id": "\(job.id)", "export_column": "\(column)",
                "export_raw_value": "\(raw)", "export_rule": "\(rule.rawValue)",
            ])
            return nil
        case .due:
            break
        }
        report[rule].due += 1
        report.countType(job) { $0.due += 1 }
        if !job.filePath.isNull { report[rule].dueFiles += 1 }
        let inspected: RemovalOutcome
        var file: StorageStatistics.FileInfo?
        switch job.filePath {
        case .null:
            inspected = .alreadyMissing
        case .text(let path):
            switch storage.entryName(forRecordPath: path, record: job.recordName) {
            case .failure(let refusal):
                inspected = .refused(refusal)
            case .success(let name):
                switch storage.entry(named: name) {
                case .regularFile(let found):
                    file = found
                    inspected = .wouldRemove(bytes: found.bytes)
                case .missing: inspected = .alreadyMissing
                case .refused(let refusal): inspected = .refused(refusal)
                case .failed(let code): inspected = .failed(errno: code)
                }
            }
        case let other:
            inspected = .refused(.invalidPath("file_path is \(other.storageClass) \(other), not text"))
        }
        switch inspected {
        case .wouldRemove(let bytes):
            if options.dryRun {
                report[rule].removed += 1
                report[rule].bytesFreed += bytes
                report.countType(job) { $0.removed += 1; $0.bytesFreed += bytes }
                logger.debug("would remove export file", metadata: [
                    "export_job_id": "\(job.id)", "export_file": "\(job.filePath.text ?? "")", "export_bytes": "\(bytes)",
                    "export_rule": "\(rule.rawValue)",
                ])
                onItem(SweepItem(rule: rule, job: job, outcome: inspected, file: file))
                return nil
            }
            return Claimable(job: job, rule: rule, entryName: file?.name, file: file)
        case .alreadyMissing, .removed:
            if options.dryRun {
                report[rule].alreadyMissing += 1
                onItem(SweepItem(rule: rule, job: job, outcome: .alreadyMissing))
                return nil
            }
            return Claimable(job: job, rule: rule, entryName: nil, file: nil)
        case .refused(let refusal):
            report[rule].refused += 1
            report.record(.init(kind: .refused, rule: rule, jobID: job.id, filePath: job.filePath.description,
                                code: refusal.code, reason: refusal.description, errno: nil))
            logger.log(level: level(job, code: refusal.code, detail: job.filePath.description),
                       "record refused: \(refusal); the record and any file are left as they are", metadata: [
                "message_id": "\(MessageID.recordRefused)", "export_job_id": "\(job.id)", "export_file": "\(job.filePath.description)",
                "export_refusal": "\(refusal.code)", "export_rule": "\(rule.rawValue)",
            ])
            onItem(SweepItem(rule: rule, job: job, outcome: inspected))
            return nil
        case .failed(let code):
            fail(job, rule: rule, code: code, claimed: false, report: &report, logger: logger)
            onItem(SweepItem(rule: rule, job: job, outcome: inspected))
            return nil
        }
    }

    /// Warning the first time this process sees a record with this problem, debug after (see ``ProblemMemory``).
    private func level(_ job: ExportJob, code: String, detail: String) -> Logger.Level {
        problemMemory?.isNew(jobKey: job.key, jobID: job.id, code: code, detail: detail) ?? true ? .warning : .debug
    }

    func fail(_ job: ExportJob, rule: CleanupRule, code: Int32, claimed: Bool, report: inout SweepReport, logger: Logger) {
        report[rule].failed += 1
        let consequence = claimed
            ? "the record was already updated; the removal is retried at the next sweep (claims journal)"
            : "the record is unchanged and retried next sweep"
        let reason = "cannot remove: \(errnoName(code)) (\(String(cString: strerror(code)))); \(consequence)"
        report.record(.init(kind: .failed, rule: rule, jobID: job.id, filePath: job.filePath.description,
                            code: errnoName(code), reason: reason, errno: code))
        logger.warning("\(reason)", metadata: [
            "message_id": "\(MessageID.fileRemovalFailed)", "export_job_id": "\(job.id)", "export_file": "\(job.filePath.description)",
            "errno": "\(code)", "export_rule": "\(rule.rawValue)",
        ])
    }

    private func stopped(by error: any Error, logger: Logger) -> ExportStorageError {
        let error = error as? ExportStorageError ?? ExportStorageError(.systemCall, message: "\(error)")
        logger.error("sweep stopped: \(error.message)", metadata: ["message_id": "\(MessageID.sweepAborted)"])
        return error
    }

    private func abort(_ report: inout SweepReport, _ error: JobStoreError, logger: Logger) {
        report.abortedBy = error.message
        report.abortCode = error.code
        logger.error("sweep stopped: \(error.message)", metadata: ["message_id": "\(MessageID.sweepAborted)", "export_store_error": "\(error.code.rawValue)"])
    }

    private func logSummary(_ report: SweepReport, logger: Logger) {
        let total = report.total
        var metadata: Logger.Metadata = [
            "message_id": "\(MessageID.sweepFinished)", "export_dry_run": "\(report.dryRun)",
            "export_due": "\(total.due)", "export_removed": "\(total.removed)", "export_already_missing": "\(total.alreadyMissing)",
            "export_failed": "\(total.failed)", "export_refused": "\(total.refused)", "export_undecidable": "\(total.undecidable)",
            "export_bytes_freed": "\(total.bytesFreed)", "export_records_updated": "\(total.recordsUpdated)",
            "export_changed_meanwhile": "\(total.changedMeanwhile)", "export_duration_ms": "\(Int(report.durationSeconds * 1000))",
        ]
        if report.interrupted { metadata["export_interrupted"] = "true" }
        if let check = report.massDeletion {
            metadata["export_due_files"] = "\(check.dueFiles)"
            if let referenced = check.referencedFiles { metadata["export_referenced_files"] = "\(referenced)" }
            if check.tripped { metadata["export_mass_deletion_refused"] = "true" }
        }
        if let clock = report.clockNotSynchronized { metadata["export_clock"] = "\(clock)" }
        if !report.byExportType.isEmpty { metadata["export_by_type"] = "\(report.byExportTypeText)" }
        if let pressure = report.pressure {
            metadata["export_pressure_removed"] = "\(pressure.removed)"
            metadata["export_pressure_bytes_freed"] = "\(pressure.bytesFreed)"
            metadata["export_pressure_target_reached"] = "\(pressure.targetReached)"
        }
        if let bound = report.boundReached {
            metadata["export_bound_reached"] = "\(bound.rawValue)"
            metadata["export_still_due"] = "\(report.stillDue.map(String.init) ?? "unknown")"
        }
        logger.info("\(Self.summary(report))", metadata: metadata)
    }

    /// One line: `sweep finished: 12 due, 11 removed (4.2 MiB), 1 already missing, 0 failed, 0 refused, 0 undecidable`.
    public static func summary(_ report: SweepReport) -> String {
        let total = report.total
        let refused = report.massDeletion?.tripped == true
        let verb = report.clockNotSynchronized != nil ? "sweep refused: the clock is not synchronised"
            : report.dryRun ? (refused ? "dry run finished (a real sweep would be refused by the mass-deletion brake)" : "dry run finished")
            : refused ? "sweep refused by the mass-deletion brake" : report.interrupted ? "sweep interrupted"
            : report.abortedBy != nil ? "sweep aborted" : "sweep finished"
        return "\(verb): \(total.due) due, \(total.removed) \(report.dryRun ? "would be removed" : "removed") (\(total.bytesFreed) bytes), "
            + "\(total.alreadyMissing) already missing, \(total.failed) failed, \(total.refused) refused, \(total.undecidable) undecidable, "
            + "\(total.recordsUpdated) records updated in \(String(format: "%.3f", report.durationSeconds)) s"
            + (report.pressure.map { $0.removed > 0 || !$0.targetReached ? "; " + $0.summary : "" } ?? "")
            + (report.boundReached.map { bound in
                "; stopped at its \(bound == .files ? "file" : "time") bound, \(report.stillDue.map { "\($0) still due" } ?? "more may be due")"
            } ?? "")
    }
}
