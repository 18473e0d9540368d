import ExportStorage
import Logging
import CoreSupport

/// The removal side of one sweep, carried from batch to batch: the claims whose file could not be removed (kept in
/// the claims journal for the next sweep), the batch whose files are being removed in the background, and which
/// claims journal file is written next.
///
/// The journal's two files are written in turn, each with every claim whose file may still be there (the failures
/// carried, the batch in flight, the batch about to be claimed). So while one file is being rewritten, which a crash
/// can cut short, the other one, written last, still names every claim whose removal may be under way.
struct SweepRemovals {
    let remover: BackgroundRemover
    var carried: [ClaimJournal.Entry] = []
    var inFlight: InFlight?
    var nextJournal: ClaimsJournalFile = .first
    /// Whether a journal file may exist: this sweep wrote one, or found one (a sweep that wrote none touches none,
    /// which a read-only storage directory needs).
    var journalTouched = false

    /// A claimed batch whose files the remover is working through.
    struct InFlight {
        var items: [(claim: Sweeper.Claimable, name: String)] = []
        var entries: [ClaimJournal.Entry] = []
        var reason: String?
    }

    init(storage: OpenStorageDirectory) {
        remover = BackgroundRemover(storage)
    }
}

extension Sweeper {
    /// Journal, claim, then hand the claimed files to the remover: one batch's claims (see the type's documentation).
    ///
    /// The files of the batch claimed before this one are removed meanwhile; they are waited for (and counted)
    /// after this batch's claim commits and before its own removals start, so at most one batch is in flight.
    /// `wait`: also wait for this batch's removals before returning (disk pressure measures after each batch).
    func commit(
        _ batch: ArraySlice<Claimable>, removals: inout SweepRemovals, report: inout SweepReport, logger: Logger,
        onItem: (SweepItem) -> Void, reason: String? = nil, wait: Bool = false
    ) throws {
        let withFiles = batch.compactMap { item in
            item.entryName.map { ClaimJournal.Entry(claim: JobClaim(job: item.job, rule: item.rule), entryName: $0) }
        }
        if !withFiles.isEmpty {
            // Everything whose file may still be there once this batch is claimed.
            let pending = [removals.carried, removals.inFlight?.entries ?? [], withFiles]
            try storage.writeClaimsJournal(to: removals.nextJournal) { (write) throws(ExportStorageError) in
                try ClaimJournal.encode(pending, write: write)
            }
            removals.nextJournal = removals.nextJournal.other
            removals.journalTouched = true
        }
        let claims = batch.map { JobClaim(job: $0.job, rule: $0.rule) }
        beforeClaim?(claims)
        let started = MonotonicClock.microseconds()
        let claimed = try store.claim(claims)
        report.claimTransactions += 1
        report.longestClaimSeconds = max(report.longestClaimSeconds, Double(MonotonicClock.microseconds() - started) / 1_000_000)
        var next = SweepRemovals.InFlight(reason: reason)
        for (item, ok) in zip(batch, claimed) {
            let job = item.job, rule = item.rule
            guard ok else {
                report[rule].changedMeanwhile += 1
                logger.info("record changed by the application meanwhile; it and its file are left alone",
                            metadata: ["export_job_id": "\(job.id)", "export_rule": "\(rule.rawValue)"])
                continue
            }
            report[rule].recordsUpdated += 1
            if reason == nil { report.countType(job) { $0.recordsUpdated += 1 } }
            guard let name = item.entryName else {
                report[rule].alreadyMissing += 1
                logger.debug("export file already gone", metadata: ["export_job_id": "\(job.id)", "export_file": "\(job.filePath.text ?? "")"])
                onItem(SweepItem(rule: rule, job: job, outcome: .alreadyMissing))
                continue
            }
            next.items.append((item, name))
            next.entries.append(ClaimJournal.Entry(claim: JobClaim(job: job, rule: rule), entryName: name))
        }
        finishRemovals(&removals, report: &report, logger: logger, onItem: onItem)
        if !next.items.isEmpty {
            removals.remover.start(next.items.map(\.name))
            removals.inFlight = next
        }
        if wait { finishRemovals(&removals, report: &report, logger: logger, onItem: onItem) }
    }

    /// Waits for the batch in flight, if any, and reports each of its files. A failed removal is carried: its claim
    /// stays in the journal for the next sweep.
    func finishRemovals(_ removals: inout SweepRemovals, report: inout SweepReport, logger: Logger, onItem: (SweepItem) -> Void) {
        guard let batch = removals.inFlight else { return }
        removals.inFlight = nil
        let outcomes = removals.remover.wait()
        let reason = batch.reason
        for ((item, name), outcome) in zip(batch.items, outcomes) {
            let job = item.job, rule = item.rule
            switch outcome {
            case .removed(let bytes):
                report[rule].removed += 1
                report[rule].bytesFreed += bytes
                if let reason {
                    logger.info("removed export file (\(reason)): \(bytes) bytes", metadata: [
                        "export_job_id": "\(job.id)", "export_file": "\(job.filePath.text ?? "")", "export_bytes": "\(bytes)",
                        "export_rule": "\(rule.rawValue)", "export_reason": "\(reason)",
                    ])
                } else {
                    report.countType(job) { $0.removed += 1; $0.bytesFreed += bytes }
                    logger.debug("removed export file", metadata: [
                        "export_job_id": "\(job.id)", "export_file": "\(job.filePath.text ?? "")", "export_bytes": "\(bytes)",
                        "export_rule": "\(rule.rawValue)",
                    ])
                }
            case .alreadyMissing, .wouldRemove:
                report[rule].alreadyMissing += 1
            case .refused(let refusal):
                // Swapped for a directory, fifo or symlink between the look and the claim: never removed.
                report[rule].refused += 1
                report.record(.init(kind: .refused, rule: rule, jobID: job.id, filePath: job.filePath.description,
                                    code: refusal.code, reason: refusal.description + "; the record was already updated", errno: nil))
                logger.warning("record refused after its claim: \(refusal); the entry is left as it is", metadata: [
                    "message_id": "\(MessageID.recordRefused)", "export_job_id": "\(job.id)", "export_file": "\(job.filePath.description)",
                    "export_refusal": "\(refusal.code)", "export_rule": "\(rule.rawValue)",
                ])
            case .failed(let code):
                fail(job, rule: rule, code: code, claimed: true, report: &report, logger: logger)
                removals.carried.append(ClaimJournal.Entry(claim: JobClaim(job: job, rule: rule), entryName: name))
            }
            onItem(SweepItem(rule: rule, job: job, outcome: outcome, file: item.file))
        }
    }

    /// Once nothing is in flight: the journal holds exactly the claims whose files are still to go (none: no journal
    /// file). They are written to the file not written last, before that one is removed.
    func settleJournal(_ removals: inout SweepRemovals) throws {
        precondition(removals.inFlight == nil, "settleJournal with removals in flight")
        guard removals.journalTouched else { return }
        if removals.carried.isEmpty {
            for file in ClaimsJournalFile.allCases { try storage.removeClaimsJournal(file) }
            removals.journalTouched = false
        } else {
            let target = removals.nextJournal
            let carried = removals.carried
            try storage.writeClaimsJournal(to: target) { (write) throws(ExportStorageError) in try ClaimJournal.encode([carried], write: write) }
            try storage.removeClaimsJournal(target.other)
            removals.nextJournal = target.other
        }
    }

    /// Finishes the claims a cut-off sweep left in the journal (both files: a claim may be named in both): a file
    /// goes only if its row is still exactly as its claim left it (so that claim committed and nobody changed the row
    /// since). The claims whose file could not be removed are carried, kept in the journal for the next sweep.
    func finishEarlierClaims(_ removals: inout SweepRemovals, report: inout SweepReport, logger: Logger, onItem: (SweepItem) -> Void) throws {
        var entries: [ClaimJournal.Entry] = []
        var seen = Set<ClaimJournal.Entry>()
        var found = false
        for file in ClaimsJournalFile.allCases {
            guard let bytes = try storage.readClaimsJournal(file) else { continue }
            found = true
            let (decoded, problems) = ClaimJournal.decode(bytes)
            for problem in problems {
                logger.warning("claims journal '\(storage.directory.path)/\(file.name)': \(problem); that file is kept (the orphans check lists it)")
            }
            for entry in decoded where seen.insert(entry).inserted { entries.append(entry) }
        }
        guard found else { return }
        removals.journalTouched = true
        if !entries.isEmpty {
            let confirmed = try store.isClaimed(entries.map(\.claim))
            let blocked = storage.removalBlocked()
            for (entry, ok) in zip(entries, confirmed) {
                let job = entry.claim.job, rule = entry.claim.rule
                guard ok else {
                    report.earlierClaims.kept += 1
                    logger.info("an earlier sweep's claim did not commit, or the application changed the row since: its file is kept",
                                metadata: ["export_job_id": "\(job.id)", "export_file": "\(entry.entryName)", "export_rule": "\(rule.rawValue)"])
                    continue
                }
                if let blocked {
                    fail(job, rule: rule, code: blocked, claimed: true, report: &report, logger: logger)
                    removals.carried.append(entry)
                    continue
                }
                let looked = storage.entry(named: entry.entryName)
                let outcome = storage.removeEntry(named: entry.entryName)
                if case .removed = outcome, case .regularFile(let file) = looked {
                    onItem(SweepItem(rule: rule, job: job, outcome: outcome, file: file))
                }
                switch outcome {
                case .removed(let bytes):
                    report.earlierClaims.removed += 1
                    report.earlierClaims.bytesFreed += bytes
                    logger.debug("removed the file of an earlier sweep's claim", metadata: [
                        "export_job_id": "\(job.id)", "export_file": "\(entry.entryName)", "export_bytes": "\(bytes)", "export_rule": "\(rule.rawValue)",
                    ])
                case .alreadyMissing, .wouldRemove:
                    report.earlierClaims.alreadyMissing += 1
                case .refused:
                    report.earlierClaims.kept += 1
                case .failed(let code):
                    fail(job, rule: rule, code: code, claimed: true, report: &report, logger: logger)
                    removals.carried.append(entry)
                }
            }
            logger.info("finished an earlier sweep's claims: \(report.earlierClaims.removed) files removed, \(report.earlierClaims.alreadyMissing) already gone, \(report.earlierClaims.kept) kept, \(removals.carried.count) still failing")
        }
        try settleJournal(&removals)
    }
}
