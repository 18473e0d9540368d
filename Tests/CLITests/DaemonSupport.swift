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

    /// Adds many completed, due jobs with files in one transaction.
    func addManyDue(_ count: Int, prefix: String = "exp_bulk") throws {
        let completed = UTCInstant.now().adding(hours: -48)
        var rows: [ApplicationDatabase.Row] = []
        rows.reserveCapacity(count)
        for index in 0..<count {
            let id = "\(prefix)\(index)"
            let path = try writeExport(id, stamp: completed)
            rows.append(.init(id: id, status: "completed", filePath: .text(path), fileSizeBytes: 1,
                              createdAt: ApplicationDatabase.text(completed), completedAt: ApplicationDatabase.text(completed)))
        }
        try db.insert(rows)
    }
}
