package import ExportCleanup
import ExportStorage
import Foundation

/// A demo: a database with the application's schema and a mix of jobs and files, in one directory.
package enum DemoEnvironment {
    /// The marker file that tells a demo directory from anything else (it is the only kind `create` replaces).
    package static let marker = ".export-cleanup-demo"

    /// What was created.
    package struct Layout: Sendable {
        /// The directory.
        package var directory: String
        /// The database file.
        package var database: String
        /// The storage directory.
        package var storage: String
        /// What each job is meant to show, by id.
        package var story: [(id: String, expectation: String)]
    }

    /// Creates (or re-creates) a demo in `directory`. A non-empty directory without the demo marker is refused.
    /// - Parameter writeRows: writes the jobs elsewhere (PostgreSQL) instead of creating `exports.db`.
    package static func create(in directory: String, now: UTCInstant = .now(), writeRows: (([ApplicationDatabase.Row]) throws -> Void)? = nil) throws -> Layout {
        let fm = FileManager.default
        let database = directory + "/exports.db"
        let storagePath = directory + "/exports"
        if fm.fileExists(atPath: directory) {
            let contents = try fm.contentsOfDirectory(atPath: directory)
            if !contents.isEmpty && !contents.contains(marker) {
                throw CocoaError(.fileWriteFileExists, userInfo: [
                    NSLocalizedDescriptionKey: "'\(directory)' exists and is not a demo directory: pass another --dir",
                ])
            }
            for name in [database, database + "-journal", database + "-wal", database + "-shm", storagePath] where fm.fileExists(atPath: name) {
                try fm.removeItem(atPath: name)
            }
        }
        try fm.createDirectory(atPath: directory, withIntermediateDirectories: true)
        _ = fm.createFile(atPath: directory + "/" + marker, contents: Data("export-cleanup demo\n".utf8))
        let storage = StorageDirectory(path: storagePath)
        try storage.prepare()
        let absoluteStorage = URL(fileURLWithPath: storagePath).standardizedFileURL.path

        let hour: Int64 = 3_600_000_000
        func at(_ hoursAgo: Double) -> UTCInstant { now.adding(microseconds: -Int64(hoursAgo * Double(hour))) }
        var rows: [ApplicationDatabase.Row] = []
        var story: [(String, String)] = []
        func add(_ id: String, _ type: String, _ format: ExportFormat, status: String, createdHoursAgo: Double,
                 completedHoursAgo: Double? = nil, expiresInHours: Double? = nil, file: Bool, writeFile: Bool = true,
                 filePath: StoredValue? = nil, completedAt: StoredValue? = nil, _ expectation: String) throws {
            let created = at(createdHoursAgo)
            let name = try ExportFileName(exportType: type, jobID: id, secondsSinceEpoch: created.seconds, format: format)
            var path: StoredValue = .null
            var size: Int64?
            if file {
                let full = absoluteStorage + "/" + name.fileName
                path = .text(full)
                if writeFile {
                    let body = Array(String(repeating: "id,name,city\n1,Hotel Demo,Lisbon\n", count: 40).utf8)
                    try storage.writeFile(name, contents: body)
                    size = Int64(body.count)
                }
            }
            rows.append(.init(
                id: id, exportType: type, format: format.rawValue, status: status, filePath: filePath ?? path, fileSizeBytes: size,
                createdAt: ApplicationDatabase.text(created),
                completedAt: completedAt ?? completedHoursAgo.map { ApplicationDatabase.text(at($0)) } ?? .null,
                expiresAt: expiresInHours.map { ApplicationDatabase.text(now.adding(microseconds: Int64($0 * Double(hour)))) } ?? .null))
            story.append((id, expectation))
        }
        try add("exp_0a1b2c3d4e5f", "hotels", .csv, status: "completed", createdHoursAgo: 49, completedHoursAgo: 48, file: true,
                "completed 48 h ago: file removed, record expired")
        try add("exp_1b2c3d4e5f6a", "supplier_summary", .xlsx, status: "completed", createdHoursAgo: 30, completedHoursAgo: 26, file: true,
                "completed 26 h ago: file removed, record expired")
        try add("exp_2c3d4e5f6a7b", "mappings", .json, status: "completed", createdHoursAgo: 2.5, completedHoursAgo: 2, file: true,
                "completed 2 h ago: kept (within 24 h)")
        try add("exp_3d4e5f6a7b8c", "hotels", .json, status: "completed", createdHoursAgo: 73, completedHoursAgo: 72, expiresInHours: 24, file: true,
                "completed 72 h ago but expires_at is tomorrow: kept")
        try add("exp_4e5f6a7b8c9d", "mappings", .csv, status: "completed", createdHoursAgo: 121, completedHoursAgo: 120, file: true, writeFile: false,
                "completed 5 days ago, file already gone: record expired")
        try add("exp_5f6a7b8c9d0e", "hotels", .csv, status: "failed", createdHoursAgo: 3, file: true,
                "failed 3 h ago: partial file removed, file_path NULL")
        try add("exp_6a7b8c9d0e1f", "hotels", .xlsx, status: "failed", createdHoursAgo: 0.25, file: true,
                "failed 15 min ago: kept (younger than 1 h)")
        try add("exp_7b8c9d0e1f2a", "supplier_summary", .csv, status: "pending", createdHoursAgo: 50, file: false,
                "pending: never touched")
        try add("exp_8c9d0e1f2a3b", "hotels", .csv, status: "processing", createdHoursAgo: 30, file: true,
                "processing: never touched")
        try add("exp_9d0e1f2a3b4c", "hotels", .csv, status: "completed", createdHoursAgo: 49, completedHoursAgo: 48, file: true, writeFile: false,
                filePath: .text("/etc/hostname"), "file_path outside the storage directory: refused, nothing touched")
        try add("exp_ae0f1a2b3c4d", "hotels", .csv, status: "completed", createdHoursAgo: 49, file: false,
                completedAt: .integer(1_700_145_022), "completed_at is an INTEGER: kept and reported, not guessed at")
        try add("exp_bf1a2b3c4d5e", "mappings", .json, status: "expired", createdHoursAgo: 200, completedHoursAgo: 199, file: false,
                "expired earlier: never touched")
        if let writeRows {
            try writeRows(rows)
        } else {
            try ApplicationDatabase(creatingAt: database).insert(rows)
        }
        return Layout(directory: directory, database: database, storage: storagePath, story: story)
    }
}
