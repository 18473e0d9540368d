import ExportCleanup
import ExportCleanupDemo
import ExportStorage
import Foundation
import GRDB
import Logging
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The entries of a directory with their kind and size, sorted (symlinks not followed).
func listing(_ directory: String) -> [String] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
    return names.sorted().map { name in
        var info = stat()
        lstat(directory + "/" + name, &info)
        return "\(name) \(info.st_mode) \(info.st_size)"
    }
}

/// A fixed `now` for the sweeps: 2023-11-18 12:00:00 UTC.
let fixedNow = UTCInstant(seconds: 1_700_308_800)

let hour: Int64 = 3_600_000_000

/// `now` moved by `hours` (negative: in the past).
func at(_ hours: Double, from now: UTCInstant = fixedNow) -> UTCInstant {
    now.adding(hours: hours)
}

/// SQLAlchemy text of `now` moved by `hours`.
func sqlText(_ hours: Double, from now: UTCInstant = fixedNow) -> StoredValue {
    ApplicationDatabase.text(at(hours, from: now))
}

/// A logger that drops everything.
let quietLogger = Logger(label: "export-cleanup-tests") { _ in SwiftLogNoOpLogHandler() }

/// A database with the application's exact DDL and a storage directory; jobs are dated from ``fixedNow``.
typealias Fixture = ExportFixture

extension ExportFixture {
    /// Inserts rows (one transaction, through the application's writer).
    func insert(_ rows: [ApplicationDatabase.Row]) throws {
        try db.insert(rows)
    }

    /// Runs SQL in a transaction.
    func execute(_ sql: String) throws {
        try db.execute(sql)
    }

    /// Writes an export file for a job through ``StorageDirectory/writeFile(_:contents:)`` and returns its absolute path.
    @discardableResult
    func writeFile(type: String = "hotels", jobID: String, created: UTCInstant = fixedNow, format: ExportFormat = .csv, bytes: Int) throws -> String {
        try writeExport(jobID, stamp: created, bytes: bytes, type: type, format: format)
    }

    /// The file name the naming rule gives a job.
    func fileName(type: String = "hotels", jobID: String, created: UTCInstant = fixedNow, format: ExportFormat = .csv) throws -> ExportFileName {
        try exportName(jobID, stamp: created, type: type, format: format)
    }

    /// The absolute path a job's file has in storage (whether or not it exists).
    func path(type: String = "hotels", jobID: String, created: UTCInstant = fixedNow, format: ExportFormat = .csv) throws -> String {
        try exportPath(jobID, stamp: created, type: type, format: format)
    }

    func store(readOnly: Bool = false) throws -> SQLiteJobStore {
        try SQLiteJobStore(path: database, readOnly: readOnly)
    }

    func sweeper(store: (any JobStore)? = nil, readOnly: Bool = false) throws -> Sweeper {
        Sweeper(store: try store ?? self.store(readOnly: readOnly), storage: try storageDirectory.open(), logger: quietLogger)
    }

    /// Every column of a row as `quote(value)` and `typeof(value)`, plus the rowid: byte-level identity.
    func snapshot(_ id: String) throws -> [String] {
        try read { db in
            let columns = try String.fetchAll(db, sql: "SELECT name FROM pragma_table_info('export_jobs') ORDER BY cid")
            let select = (["rowid"] + columns).map { "quote(\($0)) || ' ' || typeof(\($0))" }.joined(separator: ", ")
            guard let row = try Row.fetchOne(db, sql: "SELECT \(select) FROM export_jobs WHERE id = ?", arguments: [id]) else { return [] }
            return (0..<row.count).map { row[$0] as String }
        }
    }

    /// Snapshots of every row, by id.
    func snapshots() throws -> [String: [String]] {
        var result: [String: [String]] = [:]
        for id in try read({ db in try String.fetchAll(db, sql: "SELECT id FROM export_jobs") }) {
            result[id] = try snapshot(id)
        }
        return result
    }

    /// `[status, quote(file_path)]` of a row.
    func record(_ id: String) throws -> [String]? {
        try records()[id]
    }

    /// A raw connection for fixtures that need statements outside a transaction (e.g. `PRAGMA journal_mode`).
    func connection() throws -> DatabaseQueue { try DatabaseQueue(path: database) }
}

/// Sets or clears the immutable attribute (`chattr ±i`): even root gets `EPERM` removing an immutable file.
func setImmutable(_ path: String, _ on: Bool) throws {
    let result = try runProcess("/usr/bin/chattr", [on ? "+i" : "-i", path])
    guard result.status == 0 else { throw TestFailure("chattr \(on ? "+i" : "-i") \(path): \(result.stderr)") }
}
