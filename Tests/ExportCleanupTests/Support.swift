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

/// A fresh directory under the system temp dir (by its real path), removed on deinit.
final class TemporaryDirectory {
    let path: String

    init() {
        var template = Array((NSTemporaryDirectory() + "/export-cleanup-tests.XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
        let real = realpath(made, nil)!
        path = String(cString: real)
        free(real)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func sub(_ name: String) -> String { path + "/" + name }
}

/// Whether something (file, directory, symlink) is at `path`; symlinks are not followed.
func exists(_ path: String) -> Bool {
    var info = stat()
    return lstat(path, &info) == 0
}

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
    now.adding(microseconds: Int64(hours * Double(hour)))
}

/// SQLAlchemy text of `now` moved by `hours`.
func sqlText(_ hours: Double, from now: UTCInstant = fixedNow) -> StoredValue {
    ApplicationDatabase.text(at(hours, from: now))
}

/// A logger that drops everything.
let quietLogger = Logger(label: "export-cleanup-tests") { _ in SwiftLogNoOpLogHandler() }

/// A database created with the application's exact DDL, and a storage directory, in a temporary directory.
final class Fixture {
    let tmp = TemporaryDirectory()
    let database: String
    let storagePath: String
    let storage: StorageDirectory

    init() throws {
        database = tmp.sub("app.db")
        storagePath = tmp.sub("exports")
        storage = StorageDirectory(path: storagePath)
        _ = try ApplicationDatabase(creatingAt: database)
        try storage.prepare()
    }

    /// Inserts rows (one transaction, through the application's writer).
    func insert(_ rows: [ApplicationDatabase.Row]) throws {
        try ApplicationDatabase(openingAt: database).insert(rows)
    }

    /// Runs SQL in a transaction.
    func execute(_ sql: String) throws {
        try ApplicationDatabase(openingAt: database).execute(sql)
    }

    /// Writes an export file for a job through ``StorageDirectory/writeFile(_:contents:)`` and returns its absolute path.
    @discardableResult
    func writeFile(type: String = "hotels", jobID: String, created: UTCInstant = fixedNow, format: ExportFormat = .csv, bytes: Int) throws -> String {
        try storage.writeFile(fileName(type: type, jobID: jobID, created: created, format: format), contents: [UInt8](repeating: 0x41, count: bytes))
    }

    /// The file name the naming rule gives a job.
    func fileName(type: String = "hotels", jobID: String, created: UTCInstant = fixedNow, format: ExportFormat = .csv) throws -> ExportFileName {
        try ExportFileName(exportType: type, jobID: jobID, secondsSinceEpoch: created.seconds, format: format)
    }

    /// The absolute path a job's file has in storage (whether or not it exists).
    func path(type: String = "hotels", jobID: String, created: UTCInstant = fixedNow, format: ExportFormat = .csv) throws -> String {
        storage.filePath(for: try fileName(type: type, jobID: jobID, created: created, format: format))
    }

    func store(readOnly: Bool = false) throws -> SQLiteJobStore {
        try SQLiteJobStore(path: database, readOnly: readOnly)
    }

    func sweeper(store: (any JobStore)? = nil, readOnly: Bool = false) throws -> Sweeper {
        Sweeper(store: try store ?? self.store(readOnly: readOnly), storage: try storage.open(), logger: quietLogger)
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
        try read { db in
            try Row.fetchOne(db, sql: "SELECT status, quote(file_path) FROM export_jobs WHERE id = ?", arguments: [id])
                .map { [$0[0], $0[1]] }
        }
    }

    func read<T>(_ body: (Database) throws -> T) throws -> T {
        var configuration = Configuration()
        configuration.readonly = true
        return try DatabaseQueue(path: database, configuration: configuration).read(body)
    }

    /// A raw connection for fixtures that need statements outside a transaction (e.g. `PRAGMA journal_mode`).
    func connection() throws -> DatabaseQueue { try DatabaseQueue(path: database) }

    /// The database file's bytes.
    func databaseBytes() throws -> Data { try Data(contentsOf: URL(fileURLWithPath: database)) }
}

/// Sets or clears the immutable attribute (`chattr ±i`): even root gets `EPERM` removing an immutable file.
func setImmutable(_ path: String, _ on: Bool) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/chattr")
    process.arguments = [on ? "+i" : "-i", path]
    try process.run()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: path])
    }
}
