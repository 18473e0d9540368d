package import ExportCleanup
package import ExportCleanupDemo
package import ExportStorage
package import Foundation
package import GRDB
#if canImport(Glibc)
import Glibc
#endif

/// A database with the application's exact DDL and a storage directory (0750) in a fresh temporary directory:
/// the base of every test target's fixture, which adds its own jobs and checks.
open class ExportFixture {
    package let tmp: TemporaryDirectory
    /// The database file: `app.db`, in `databaseDirectory` when one was given.
    package let database: String
    /// The storage directory: `exports`.
    package let storage: String
    /// The application's writer on ``database``.
    package let db: ApplicationDatabase
    /// The moment the fixture was made: jobs are dated relative to it.
    package let now = UTCInstant.now()

    /// - Parameters:
    ///   - memory: under `/dev/shm` when it is writable (see ``TemporaryDirectory/init(memory:)``).
    ///   - databaseDirectory: a subdirectory (created 0755) for the database.
    ///   - encoding: the database's text encoding (`PRAGMA encoding`, e.g. `UTF-16le`); `nil`: SQLite's default.
    ///   - ddl: another schema than the application's exact DDL (e.g. ids declared INTEGER).
    package init(memory: Bool = false, databaseDirectory: String? = nil, encoding: String? = nil, ddl: String? = nil) throws {
        tmp = TemporaryDirectory(memory: memory)
        if let databaseDirectory { mkdir(tmp.sub(databaseDirectory), 0o755) }
        database = tmp.sub((databaseDirectory.map { $0 + "/" } ?? "") + "app.db")
        storage = tmp.sub("exports")
        try StorageDirectory(path: storage).prepare()
        if encoding == nil && ddl == nil {
            db = try ApplicationDatabase(creatingAt: database)
        } else {
            try DatabaseQueue(path: database).writeWithoutTransaction { db in
                if let encoding { try db.execute(sql: "PRAGMA encoding = '\(encoding)'") }
                try db.execute(sql: ddl ?? ApplicationDatabase.ddl)
            }
            db = try ApplicationDatabase(openingAt: database)
        }
    }

    package var storageDirectory: StorageDirectory { StorageDirectory(path: storage) }

    /// The name the naming rule gives job `id`'s export stamped `stamp`.
    package func exportName(_ id: String, stamp: UTCInstant, type: String = "hotels", format: ExportFormat = .csv) throws -> ExportFileName {
        try ExportFileName(exportType: type, jobID: id, secondsSinceEpoch: stamp.seconds, format: format)
    }

    /// The absolute path of job `id`'s export file stamped `stamp`, whether or not it exists.
    package func exportPath(_ id: String, stamp: UTCInstant, type: String = "hotels", format: ExportFormat = .csv) throws -> String {
        storageDirectory.filePath(for: try exportName(id, stamp: stamp, type: type, format: format))
    }

    /// Writes job `id`'s export file of `bytes` bytes through ``StorageDirectory/writeFile(_:contents:)``; returns its path.
    @discardableResult
    package func writeExport(_ id: String, stamp: UTCInstant, bytes: Int = 1, byte: UInt8 = 0x41, type: String = "hotels",
                             format: ExportFormat = .csv) throws -> String {
        try storageDirectory.writeFile(exportName(id, stamp: stamp, type: type, format: format),
                                       contents: [UInt8](repeating: byte, count: bytes))
    }

    /// Reads the database through a read-only connection of its own.
    package func read<T>(_ body: (Database) throws -> T) throws -> T {
        var configuration = Configuration()
        configuration.readonly = true
        return try DatabaseQueue(path: database, configuration: configuration).read(body)
    }

    /// `[status, quote(file_path)]` of every row, by id: the exact stored value of `file_path`.
    package func records() throws -> [String: [String]] {
        try read { db in
            var result: [String: [String]] = [:]
            // CAST: an id stored as INTEGER (a schema that declares it so) is keyed by its decimal text.
            for row in try GRDB.Row.fetchAll(db, sql: "SELECT CAST(id AS TEXT), status, quote(file_path) FROM export_jobs") {
                result[row[0]] = [row[1], row[2]]
            }
            return result
        }
    }

    /// A row as the sqlite3 shell reads it: `file_path` is its text, nil for NULL, `<blob>` etc. for other classes.
    package struct JobRow: Decodable, Sendable {
        package var id: String
        package var status: String
        package var file_path: String?
    }

    /// Every row, by id, read with the sqlite3 shell in JSON mode (another process, so any text survives as is).
    package func rows() throws -> [String: JobRow] {
        let output = try sqlite(
            "SELECT id, status, CASE typeof(file_path) WHEN 'text' THEN file_path WHEN 'null' THEN NULL "
                + "ELSE '<' || typeof(file_path) || '>' END AS file_path FROM export_jobs", json: true)
        let rows = output.isEmpty ? [] : try JSONDecoder().decode([JobRow].self, from: Data(output.utf8))
        return Dictionary(rows.map { ($0.id, $0) }) { first, _ in first }
    }

    /// Runs `sql` with the sqlite3 shell on ``database``; see ``sqlite3(_:_:json:)``.
    @discardableResult
    package func sqlite(_ sql: String, json: Bool = false) throws -> String {
        try sqlite3(database, sql, json: json)
    }

    /// The database file's bytes.
    package func databaseBytes() throws -> Data { try Data(contentsOf: URL(fileURLWithPath: database)) }

    /// The names in the storage directory, sorted.
    package func storageListing() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: storage)) ?? []).sorted()
    }
}

/// Runs `sql` with the sqlite3 shell on `database`, waiting up to 5 s for locks; returns what it printed.
/// - Throws: ``TestFailure`` when sqlite3 fails.
@discardableResult
package func sqlite3(_ database: String, _ sql: String, json: Bool = false) throws -> String {
    let result = try runProcess("/usr/bin/sqlite3", (json ? ["-json"] : []) + ["-cmd", ".timeout 5000", database, sql])
    guard result.status == 0 else { throw TestFailure("sqlite3 failed (\(result.status)): \(result.stderr)") }
    return result.stdout
}

extension UTCInstant {
    /// This instant moved by `hours` (negative: earlier).
    package func adding(hours: Double) -> UTCInstant { adding(microseconds: Int64(hours * 3_600_000_000)) }
}

/// Whether either file of the claims journal exists in the storage directory `storage`.
package func claimsJournalExists(in storage: String) -> Bool {
    OpenStorageDirectory.claimsJournalNames.contains { fileExists(storage + "/" + $0) }
}
