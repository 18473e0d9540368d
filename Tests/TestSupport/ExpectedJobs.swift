package import ExportCleanup
import Foundation

/// One job a reliability fixture wrote, and what a sweep must do to it.
package struct ExpectedJob: Sendable {
    package var id: String
    package var status: String
    package var filePath: String?
    /// The rule under which it is due, or nil when it must be kept.
    package var due: CleanupRule?

    package init(id: String, status: String, filePath: String?, due: CleanupRule?) {
        self.id = id
        self.status = status
        self.filePath = filePath
        self.due = due
    }
}

/// The jobs a reliability fixture wrote (SQLite or PostgreSQL), in order, and the invariants a sweep keeps over them,
/// checked against the rows the fixture reads back.
package struct ExpectedJobs: Sendable {
    package private(set) var jobs: [String: ExpectedJob] = [:]
    package private(set) var order: [String] = []

    package init() {}

    /// Remembers a job and what must happen to it.
    package mutating func add(_ job: ExpectedJob) {
        if jobs[job.id] == nil { order.append(job.id) }
        jobs[job.id] = job
    }

    /// When the invariants are checked.
    package enum Phase: Sendable {
        /// After an interrupted sweep: a due job is untouched, or its record is claimed (updated) and its file
        /// not yet removed, or both done. Never a file gone while its record still names it.
        case interrupted
        /// After a sweep that ran to the end: every due job is done, every other job untouched, and the
        /// storage directory holds exactly the files of the jobs kept (and no claims journal).
        case final
    }

    /// The violated invariants (empty when all hold), at most `limit` listed.
    /// - Parameters:
    ///   - rows: every row's `(status, file_path)` by id, as read back now.
    ///   - ignoring: files no record names any more (e.g. a partial file the application abandoned): not checked.
    package func violations(_ phase: Phase, rows: [String: (status: String, filePath: String?)], storage: String,
                            ignoring: Set<String> = [], limit: Int = 20) -> [String] {
        var problems: [String] = []
        var keptFiles = Set<String>()
        for id in order {
            guard let job = jobs[id] else { continue }
            guard let row = rows[id] else {
                problems.append("\(id): row vanished")
                continue
            }
            let fileThere = job.filePath.map(fileExists) ?? false
            let unchanged = row.status == job.status && row.filePath == job.filePath
            guard let rule = job.due else {
                if !unchanged { problems.append("\(id): a job that is not due changed: \(row.status) \(row.filePath ?? "NULL")") }
                if let path = job.filePath, !fileThere { problems.append("\(id): the file of a job that is not due was removed: \(path)") }
                if unchanged, let path = job.filePath { keptFiles.insert(path) }
                continue
            }
            let updated = row.status == rule.newStatus.rawValue && row.filePath == nil
            if unchanged && job.filePath != nil && !fileThere {
                problems.append("\(id): its file is gone while its record still names it (\(row.status))")
            }
            if !updated && !unchanged { problems.append("\(id): record in an unexpected state: \(row.status) \(row.filePath ?? "NULL")") }
            if phase == .final {
                if !updated { problems.append("\(id): due, but its record was not updated: \(row.status) \(row.filePath ?? "NULL")") }
                if fileThere { problems.append("\(id): due, but its file is still there") }
            }
        }
        if phase == .final {
            let listed = Set(((try? FileManager.default.contentsOfDirectory(atPath: storage)) ?? []).map { storage + "/" + $0 })
            for path in listed.subtracting(keptFiles).subtracting(ignoring).sorted() { problems.append("file left behind: \(path)") }
        }
        return Array(problems.prefix(limit)) + (problems.count > limit ? ["... \(problems.count - limit) more"] : [])
    }

    /// Counts of due jobs whose id starts with `prefix`: (file gone, record updated).
    package func progress(rows: [String: (status: String, filePath: String?)], prefix: String = "") -> (filesGone: Int, recordsUpdated: Int) {
        var gone = 0, updated = 0
        for job in jobs.values where job.id.hasPrefix(prefix) {
            guard let rule = job.due else { continue }
            if let path = job.filePath, !fileExists(path) { gone += 1 }
            if let row = rows[job.id], row.status == rule.newStatus.rawValue, row.filePath == nil { updated += 1 }
        }
        return (gone, updated)
    }
}
