public import ExportStorage
public import Logging
import CoreSupport

/// How an orphan pass runs.
public struct OrphanOptions: Sendable, Hashable {
    /// Only files whose modification time is at least this many hours old count (a file being written, or written
    /// just before its row, is never taken for an orphan).
    public var olderThanHours: Double
    /// Files removed at most (`nil`: no limit). Only with ``delete``.
    public var limit: Int?
    /// Remove the orphans found (otherwise only report them).
    public var delete: Bool

    /// Creates options: 24 hours, no limit, report only.
    public init(olderThanHours: Double = 24, limit: Int? = nil, delete: Bool = false) {
        self.olderThanHours = olderThanHours
        self.limit = limit
        self.delete = delete
    }
}

/// One entry the orphan pass reports.
public struct OrphanEntry: Sendable, Hashable, Codable {
    /// What the entry is.
    public enum Kind: String, Sendable, Hashable, Codable {
        /// An export file no row references: a candidate for removal.
        case orphan
        /// A regular file whose name does not follow the naming rule: reported, never removed.
        case nonconforming
        /// A directory, symlink, fifo, socket or device: reported, never removed (and never followed).
        case notRegular = "not_regular"
    }

    /// What the entry is.
    public var kind: Kind
    /// The entry's name in the storage directory.
    public var name: String
    /// The job id its name embeds (orphans).
    public var jobID: String?
    /// Its size.
    public var bytes: Int64
    /// Hours since its modification.
    public var ageHours: Double
    /// Why it is reported.
    public var reason: String
    /// With `--delete`: `removed`, `kept` (a row names it now, or it changed), or `failed: EACCES`; `nil` otherwise.
    public var outcome: String?
}

/// What one orphan pass found and did.
public struct OrphanReport: Sendable, Hashable, Codable {
    /// Entries looked at (the claims journal excluded).
    public var entries = 0
    /// Export files younger than the age threshold (not looked up).
    public var tooRecent = 0
    /// Export files no row references.
    public var orphans = 0
    /// Bytes of those.
    public var orphanBytes: Int64 = 0
    /// Orphans removed.
    public var removed = 0
    /// Bytes removed.
    public var bytesFreed: Int64 = 0
    /// Orphans kept at the re-check right before their removal (a row names them now, or they changed).
    public var keptOnRecheck = 0
    /// Removals that failed.
    public var failed = 0
    /// Orphans not removed because the limit was reached.
    public var overLimit = 0
    /// Regular files whose names do not follow the naming rule.
    public var nonconforming = 0
    /// Entries that are not regular files.
    public var notRegular = 0
    /// The first entries reported (at most ``maximumListed``); the counts are complete.
    public var listed: [OrphanEntry] = []
    /// Entries reported beyond ``listed``.
    public var notListed = 0

    /// The longest list kept in memory.
    public static let maximumListed = 1000

    /// Creates an empty report.
    public init() {}

    /// `orphans: 3 found (3.0 KiB) ...`, one line.
    public var summary: String {
        "orphans: \(entries) entries, \(orphans) export files no row references (\(orphanBytes) bytes), \(removed) removed (\(bytesFreed) bytes), "
            + "\(keptOnRecheck) kept at the re-check, \(failed) failed, \(overLimit) over the limit; \(tooRecent) too recent; "
            + "\(nonconforming) nonconforming names and \(notRegular) non-regular entries (never removed)"
    }

    mutating func list(_ entry: OrphanEntry) {
        if listed.count < Self.maximumListed { listed.append(entry) } else { notListed += 1 }
    }
}

/// The orphan pass: export files in the storage directory that no row references.
///
/// An export file (a regular file whose name follows the naming rule) whose modification time is older than
/// ``OrphanOptions/olderThanHours`` is an orphan when no row has the job id its name embeds, or every such row has
/// a `file_path` that is NULL or names another file. A row names a file when its `file_path`'s last component is
/// the file's name, byte for byte, whatever its status and whatever directory the path says (so a row the sweep
/// would refuse still keeps its file); a `file_path` that is not text keeps every file of that job. Names that
/// do not follow the convention, directories, symlinks and other entries are reported, never removed; the claims
/// journal is never looked at.
///
/// Memory stays flat at any number of files: the directory is read one entry at a time and rows are looked up
/// by id in batches of ``batchSize`` (``JobStore/jobs(withIDs:)``); no set of every path is built. With
/// ``OrphanOptions/delete``, the pass takes the sweep lock and removes each orphan through
/// ``OpenStorageDirectory/removeEntry(named:)`` (a regular file, `unlinkat` relative to the directory) only after
/// looking its rows up once more right before, and only if the file is still as old as the threshold.
public final class OrphanScanner {
    let store: any JobStore
    let storage: OpenStorageDirectory
    let logger: Logger

    /// Export files looked up per store query.
    public static let batchSize = 500

    /// A pass over an opened store and storage directory.
    public init(store: any JobStore, storage: OpenStorageDirectory, logger: Logger) {
        self.store = store
        self.storage = storage
        self.logger = logger
    }

    /// An error of the pass: the store's, or the storage directory's (e.g. the sweep lock is held).
    public enum Failure: Error, Sendable, CustomStringConvertible {
        case store(JobStoreError)
        case storage(ExportStorageError)

        public var description: String {
            switch self {
            case .store(let error): return error.message
            case .storage(let error): return error.description
            }
        }
    }

    /// Runs one pass at `now`; `onEntry` is called with each entry reported, as it is found (and decided).
    public func scan(options: OrphanOptions, now: UTCInstant = .now(), onEntry: (OrphanEntry) -> Void = { _ in }) throws(Failure)
        -> OrphanReport
    {
        if options.delete {
            do { try storage.lock(wait: false) } catch { throw .storage(error) }
        }
        defer { if options.delete { storage.unlock() } }
        var report = OrphanReport()
        let cutoff = now.seconds - Int64((options.olderThanHours * 3600).rounded(.down))
        var batch: [(entry: DirectoryEntry, jobID: String)] = []
        var failure: JobStoreError?
        func flush() {
            guard failure == nil, !batch.isEmpty else { return }
            do {
                try decide(batch, options: options, now: now, cutoff: cutoff, report: &report, onEntry: onEntry)
            } catch {
                failure = error
            }
            batch.removeAll(keepingCapacity: true)
        }
        do {
            try storage.forEachEntry { entry in
                report.entries += 1
                let age = Double(now.seconds - entry.modifiedSecondsSinceEpoch) / 3600
                // An entry never removed: listed with why, the scan goes on.
                func keep(_ kind: OrphanEntry.Kind, _ reason: String) -> Bool {
                    let item = OrphanEntry(kind: kind, name: entry.name, bytes: entry.bytes, ageHours: age, reason: reason)
                    report.list(item)
                    onEntry(item)
                    return true
                }
                guard entry.isRegularFile else {
                    report.notRegular += 1
                    return keep(.notRegular, "a \(entry.kind), not a regular file: never removed")
                }
                guard let parsed = ExportFileName.parse(entry.name), parsed.description == entry.name else {
                    report.nonconforming += 1
                    return keep(.nonconforming, "the name does not follow {export_type}_{job_id}_{YYYYMMDD_HHMMSS}.{ext}: never removed")
                }
                guard entry.modifiedSecondsSinceEpoch <= cutoff else {
                    report.tooRecent += 1
                    return true
                }
                batch.append((entry, parsed.jobID))
                if batch.count >= Self.batchSize { flush() }
                return failure == nil
            }
        } catch {
            throw .storage(error)
        }
        flush()
        if let failure { throw .store(failure) }
        logger.info("\(report.summary)", metadata: [
            "message_id": "\(MessageID.orphansFinished)", "export_orphans": "\(report.orphans)", "export_orphans_removed": "\(report.removed)",
            "export_bytes_freed": "\(report.bytesFreed)", "export_nonconforming": "\(report.nonconforming)",
        ])
        return report
    }

    /// Why no row references `name`, given the rows of its job id; `nil` when one does.
    package static func orphanReason(_ name: String, jobID: String, rows: [ExportJob]) -> String? {
        if rows.isEmpty { return "no row has job id '\(jobID)'" }
        var others: [String] = []
        for row in rows {
            switch row.filePath {
            case .null: others.append("NULL")
            case .text(let path):
                let last = path.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true).last.map { Array($0) } ?? []
                if last.elementsEqual(name.utf8) { return nil }
                others.append("'\(path)'")
            default:
                return nil  // not text: cannot be read as a name, so it may name this file
            }
        }
        return "the row\(rows.count == 1 ? "" : "s") of job '\(jobID)' name\(rows.count == 1 ? "s" : "") no such file (file_path \(others.joined(separator: ", ")))"
    }

    private func decide(_ batch: [(entry: DirectoryEntry, jobID: String)], options: OrphanOptions, now: UTCInstant, cutoff: Int64,
                        report: inout OrphanReport, onEntry: (OrphanEntry) -> Void) throws(JobStoreError)
    {
        var rowsByID: [String: [ExportJob]] = [:]
        for job in try store.jobs(withIDs: Array(Set(batch.map(\.jobID)))) { rowsByID[job.id, default: []].append(job) }
        for (entry, jobID) in batch {
            guard let reason = Self.orphanReason(entry.name, jobID: jobID, rows: rowsByID[jobID] ?? []) else { continue }
            report.orphans += 1
            report.orphanBytes += entry.bytes
            var item = OrphanEntry(kind: .orphan, name: entry.name, jobID: jobID, bytes: entry.bytes,
                                   ageHours: Double(now.seconds - entry.modifiedSecondsSinceEpoch) / 3600, reason: reason)
            if options.delete {
                if let limit = options.limit, report.removed >= limit {
                    report.overLimit += 1
                    item.outcome = "kept: over the limit"
                } else {
                    item.outcome = try remove(entry, jobID: jobID, cutoff: cutoff, report: &report)
                }
            }
            report.list(item)
            onEntry(item)
        }
    }

    /// Re-checks the rows of `jobID` and the entry itself, then removes it through the one safe removal.
    private func remove(_ entry: DirectoryEntry, jobID: String, cutoff: Int64, report: inout OrphanReport) throws(JobStoreError) -> String {
        if Self.orphanReason(entry.name, jobID: jobID, rows: try store.jobs(withIDs: [jobID])) == nil {
            report.keptOnRecheck += 1
            return "kept: a row names it now"
        }
        guard case .regularFile(let file) = storage.entry(named: entry.name), file.modifiedSecondsSinceEpoch <= cutoff else {
            report.keptOnRecheck += 1
            return "kept: it changed since it was listed"
        }
        switch storage.removeEntry(named: entry.name) {
        case .removed(let bytes):
            report.removed += 1
            report.bytesFreed += bytes
            logger.info("removed orphan export file", metadata: [
                "export_file": "\(entry.name)", "export_job_id": "\(jobID)", "export_bytes": "\(bytes)", "export_reason": "orphan",
            ])
            return "removed"
        case .alreadyMissing, .wouldRemove:
            return "already gone"
        case .refused(let refusal):
            report.keptOnRecheck += 1
            return "kept: \(refusal)"
        case .failed(let code):
            report.failed += 1
            logger.warning("cannot remove orphan export file '\(entry.name)': \(errnoName(code))", metadata: [
                "message_id": "\(MessageID.fileRemovalFailed)", "export_file": "\(entry.name)", "errno": "\(code)",
            ])
            return "failed: \(errnoName(code))"
        }
    }
}
