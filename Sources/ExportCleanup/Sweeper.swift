public import ExportStorage
public import Logging
import CoreSupport
import Foundation

/// How a sweep runs.
public struct SweepOptions: Sendable, Hashable {
    /// The due rules.
    public var policy: RetentionPolicy
    /// Rows read (and records updated) per batch.
    public var batchSize: Int
    /// List what would be removed and change nothing (no lock is taken, the database is not written).
    public var dryRun: Bool
    /// Wait for another sweep's lock instead of failing.
    public var waitForLock: Bool

    /// Creates options.
    public init(policy: RetentionPolicy = RetentionPolicy(), batchSize: Int = 500, dryRun: Bool = false, waitForLock: Bool = false) {
        self.policy = policy
        self.batchSize = max(1, batchSize)
        self.dryRun = dryRun
        self.waitForLock = waitForLock
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
}

/// One sweep: reads due jobs from a ``JobStore``, removes their files through ``OpenStorageDirectory``, and
/// updates their records. File first, record second: a crash in between leaves a record whose file is gone,
/// which the next sweep completes (a missing file is success).
public final class Sweeper {
    private let store: any JobStore
    private let storage: OpenStorageDirectory
    private let logger: Logger

    /// Creates a sweeper over an opened store and storage directory.
    public init(store: any JobStore, storage: OpenStorageDirectory, logger: Logger) {
        self.store = store
        self.storage = storage
        self.logger = logger
    }

    /// Runs one sweep.
    ///
    /// - Parameters:
    ///   - now: the moment the rules are applied at.
    ///   - sweepID: identifies the sweep in logs.
    ///   - isCancelled: asked between files; when it says yes, the batch in hand is committed and the sweep ends
    ///     with ``SweepReport/interrupted`` set.
    ///   - onItem: called for each due job with its outcome.
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
        rules: for rule in CleanupRule.allCases {
            let cutoff = options.policy.cutoff(for: rule, now: now)
            var cursor: JobCursor?
            repeat {
                let batch: [ExportJob]
                do {
                    (batch, cursor) = try store.candidates(for: rule, cutoff: cutoff, after: cursor, limit: options.batchSize)
                } catch {
                    abort(&report, error, logger: logger)
                    break rules
                }
                var updates: [JobUpdate] = []
                for job in batch {
                    if isCancelled() {
                        report.interrupted = true
                        break
                    }
                    report[rule].examined += 1
                    if let update = handle(job, rule: rule, options: options, now: now, report: &report, logger: logger, onItem: onItem) {
                        updates.append(update)
                    }
                }
                if !options.dryRun, !updates.isEmpty {
                    do {
                        let applied = try store.apply(updates)
                        for (update, ok) in zip(updates, applied) {
                            if ok {
                                report[rule].recordsUpdated += 1
                            } else {
                                report[rule].changedMeanwhile += 1
                                logger.info("record changed by the application meanwhile; left alone",
                                            metadata: ["export_job_id": "\(update.job.id)", "export_rule": "\(rule.rawValue)"])
                            }
                        }
                    } catch {
                        abort(&report, error, logger: logger)
                        break rules
                    }
                }
                onProgress(report)
                if report.interrupted { break rules }
            } while cursor != nil
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

    /// Decides one job, removes its file if due, and returns the record update to make.
    private func handle(
        _ job: ExportJob, rule: CleanupRule, options: SweepOptions, now: UTCInstant, report: inout SweepReport,
        logger: Logger, onItem: (SweepItem) -> Void
    ) -> JobUpdate? {
        switch options.policy.decide(job, now: now) {
        case .notDue:
            return nil
        case .undecidable(let undecidableRule, let column, let raw, let problem):
            report[rule].undecidable += 1
            let reason = "\(column) \(raw) \(problem): the job is kept; fix the value in the database"
            report.record(.init(kind: "undecidable", rule: undecidableRule, jobID: job.id, filePath: job.filePath.description,
                                code: column, reason: reason, errno: nil))
            logger.warning("record kept: \(reason)", metadata: [
                "message_id": "\(MessageID.recordUndecidable)", "export_job_id": "\(job.id)", "export_column": "\(column)",
                "export_raw_value": "\(raw)", "export_rule": "\(rule.rawValue)",
            ])
            return nil
        case .due:
            break
        }
        report[rule].due += 1
        let outcome: RemovalOutcome
        switch job.filePath {
        case .null:
            outcome = .alreadyMissing
        case .text(let path):
            outcome = storage.remove(recordPath: path, jobID: job.id, dryRun: options.dryRun)
        case let other:
            outcome = .refused(.invalidPath("file_path is \(other.storageClass) \(other), not text"))
        }
        onItem(SweepItem(rule: rule, job: job, outcome: outcome))
        switch outcome {
        case .removed(let bytes), .wouldRemove(let bytes):
            report[rule].removed += 1
            report[rule].bytesFreed += bytes
            logger.debug(options.dryRun ? "would remove export file" : "removed export file", metadata: [
                "export_job_id": "\(job.id)", "export_file": "\(job.filePath.text ?? "")", "export_bytes": "\(bytes)",
                "export_rule": "\(rule.rawValue)",
            ])
        case .alreadyMissing:
            report[rule].alreadyMissing += 1
            logger.debug("export file already gone", metadata: ["export_job_id": "\(job.id)", "export_file": "\(job.filePath.text ?? "")"])
        case .refused(let refusal):
            report[rule].refused += 1
            report.record(.init(kind: "refused", rule: rule, jobID: job.id, filePath: job.filePath.description,
                                code: refusal.code, reason: refusal.description, errno: nil))
            logger.warning("record refused: \(refusal); the record and any file are left as they are", metadata: [
                "message_id": "\(MessageID.recordRefused)", "export_job_id": "\(job.id)", "export_file": "\(job.filePath.description)",
                "export_refusal": "\(refusal.code)", "export_rule": "\(rule.rawValue)",
            ])
            return nil
        case .failed(let code):
            report[rule].failed += 1
            let reason = "cannot remove: \(errnoName(code)) (\(String(cString: strerror(code)))); the record is unchanged and retried next sweep"
            report.record(.init(kind: "failed", rule: rule, jobID: job.id, filePath: job.filePath.description,
                                code: errnoName(code), reason: reason, errno: code))
            logger.warning("\(reason)", metadata: [
                "message_id": "\(MessageID.fileRemovalFailed)", "export_job_id": "\(job.id)", "export_file": "\(job.filePath.description)",
                "errno": "\(code)", "export_rule": "\(rule.rawValue)",
            ])
            return nil
        }
        return JobUpdate(job: job, newStatus: rule.newStatus)
    }

    private func abort(_ report: inout SweepReport, _ error: JobStoreError, logger: Logger) {
        report.abortedBy = error.message
        report.abortCode = error.code.rawValue
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
        logger.info("\(Self.summary(report))", metadata: metadata)
    }

    /// One line: `sweep finished: 12 due, 11 removed (4.2 MiB), 1 already missing, 0 failed, 0 refused, 0 undecidable`.
    public static func summary(_ report: SweepReport) -> String {
        let total = report.total
        let verb = report.dryRun ? "dry run finished" : report.interrupted ? "sweep interrupted" : report.abortedBy != nil ? "sweep aborted" : "sweep finished"
        return "\(verb): \(total.due) due, \(total.removed) \(report.dryRun ? "would be removed" : "removed") (\(total.bytesFreed) bytes), "
            + "\(total.alreadyMissing) already missing, \(total.failed) failed, \(total.refused) refused, \(total.undecidable) undecidable, "
            + "\(total.recordsUpdated) records updated in \(String(format: "%.3f", report.durationSeconds)) s"
    }
}
