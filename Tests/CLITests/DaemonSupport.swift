import ExportCleanup
import ExportCleanupDemo
import ExportStorage
import Foundation
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// A storage directory and database with the application's schema, and helpers to add jobs with files.
final class Fixture {
    let tmp = TemporaryDirectory()
    let database: String
    let storage: String
    let db: ApplicationDatabase

    init() throws {
        database = tmp.sub("app.db")
        storage = tmp.sub("exports")
        try StorageDirectory(path: storage).prepare()
        db = try ApplicationDatabase(creatingAt: database)
    }

    /// Adds a completed job with a file, completed `hoursAgo`; returns the file's path.
    @discardableResult
    func addCompleted(_ id: String, hoursAgo: Double, bytes: Int = 100) throws -> String {
        let completed = UTCInstant.now().adding(microseconds: -Int64(hoursAgo * 3_600_000_000))
        let name = try ExportFileName(exportType: "hotels", jobID: id, secondsSinceEpoch: completed.seconds, format: .csv)
        let path = try StorageDirectory(path: storage).writeFile(name, contents: [UInt8](repeating: 65, count: bytes))
        try db.insert([.init(id: id, status: "completed", filePath: .text(path), fileSizeBytes: Int64(bytes),
                             createdAt: ApplicationDatabase.text(completed), completedAt: ApplicationDatabase.text(completed))])
        return path
    }

    /// Adds many completed, due jobs with files in one transaction.
    func addManyDue(_ count: Int, prefix: String = "exp_bulk") throws {
        let completed = UTCInstant.now().adding(microseconds: -48 * 3_600_000_000)
        let directory = StorageDirectory(path: storage)
        var rows: [ApplicationDatabase.Row] = []
        rows.reserveCapacity(count)
        for index in 0..<count {
            let id = "\(prefix)\(index)"
            let name = try ExportFileName(exportType: "hotels", jobID: id, secondsSinceEpoch: completed.seconds, format: .csv)
            let path = try directory.writeFile(name, contents: [65])
            rows.append(.init(id: id, status: "completed", filePath: .text(path), fileSizeBytes: 1,
                              createdAt: ApplicationDatabase.text(completed), completedAt: ApplicationDatabase.text(completed)))
        }
        try db.insert(rows)
    }

    /// `(status, file_path)` of every row, by id, read with the sqlite3 shell.
    func rows() throws -> [String: (status: String, filePath: String?)] {
        let result = try sqlite(".mode list", "SELECT id, status, ifnull(file_path, '<NULL>') FROM export_jobs")
        var rows: [String: (String, String?)] = [:]
        for line in result.split(separator: "\n") {
            let parts = line.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 3 else { continue }
            rows[parts[0]] = (parts[1], parts[2] == "<NULL>" ? nil : parts[2])
        }
        return rows
    }

    func sqlite(_ commands: String...) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        process.arguments = [database] + commands
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }
}
