import ExportCleanup
import ExportCleanupDemo
import ExportStorage
import Foundation
import TestSupport

/// A storage directory and database with the application's schema; jobs are dated from the real clock (the
/// binary sweeps at its own `now`).
typealias Fixture = ExportFixture

extension ExportFixture {
    /// Adds a completed job with a file, completed `hoursAgo`; returns the file's path.
    @discardableResult
    func addCompleted(_ id: String, hoursAgo: Double, bytes: Int = 100) throws -> String {
        let completed = UTCInstant.now().adding(hours: -hoursAgo)
        let path = try writeExport(id, stamp: completed, bytes: bytes)
        try db.insert([.init(id: id, status: "completed", filePath: .text(path), fileSizeBytes: Int64(bytes),
                             createdAt: ApplicationDatabase.text(completed), completedAt: ApplicationDatabase.text(completed))])
        return path
    }

    /// Adds many completed, due jobs with files in one transaction, and a quarter as many completed an hour ago
    /// (ids `exp_recent…`, kept): a realistic table references its retention window's files besides the due ones,
    /// and the mass-deletion brake refuses a sweep of more than 90% of them.
    func addManyDue(_ count: Int, prefix: String = "exp_bulk") throws {
        let completed = UTCInstant.now().adding(hours: -48)
        let recent = UTCInstant.now().adding(hours: -1)
        var rows: [ApplicationDatabase.Row] = []
        rows.reserveCapacity(count + count / 4)
        for index in 0..<(count + count / 4) {
            let isDue = index < count
            let id = isDue ? "\(prefix)\(index)" : "exp_recent\(index - count)"
            let stamp = isDue ? completed : recent
            let path = try writeExport(id, stamp: stamp)
            rows.append(.init(id: id, status: "completed", filePath: .text(path), fileSizeBytes: 1,
                              createdAt: ApplicationDatabase.text(stamp), completedAt: ApplicationDatabase.text(stamp)))
        }
        try db.insert(rows)
    }
}
