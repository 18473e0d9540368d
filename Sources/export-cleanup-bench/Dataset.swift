import BenchSupport
import CoreSupport
#if canImport(Glibc)
import Glibc
#endif
import ExportCleanup
import ExportCleanupDemo
import ExportStorage
import Foundation
import GRDB

/// A deterministic benchmark data set: the application's `export_jobs` rows (its DDL and SQLAlchemy datetime
/// text, through ``ApplicationDatabase``) and the export files they name. Row `i` always has the same id, kind,
/// timestamps (relative to `now`), file name and size, so a data set can be laid out again identically for every
/// measurement, and the same jobs sit inside a larger table for the scaling runs.
struct Dataset {
    /// What a row is.
    enum Kind: CaseIterable {
        /// Completed more than the 24 h retention ago (a tenth with an `expires_at` that has passed too): due, file present.
        case completedDue
        /// Completed in the last 20 h (a tenth with `expires_at` tomorrow): not due, file present.
        case completedFresh
        /// Failed more than an hour ago with a partial file: due.
        case failedOld
        /// Pending: never touched, no file.
        case pending
        /// Failed in the last 30 min with a partial file: not due.
        case failedFresh
        /// Completed past retention whose file is already gone: due (record updated, nothing to remove).
        case completedDueMissing
        /// Failed long ago whose partial file is already gone: due.
        case failedOldMissing
        /// Expired earlier: never touched.
        case expired
        // History (the rows that make a table large without being due): no files.
        case historyExpired, historyFailed, historyPending

        var isDue: Bool { [.completedDue, .failedOld, .completedDueMissing, .failedOldMissing].contains(self) }
        var hasFile: Bool { [.completedDue, .completedFresh, .failedOld, .failedFresh].contains(self) }
        var hasFilePath: Bool { hasFile || self == .completedDueMissing || self == .failedOldMissing }
    }

    /// The mix, in 50 slots: 40% completed due, 20% completed fresh, 10% failed old, 10% pending, 8% failed fresh,
    /// 2% + 2% due with the file missing, 8% expired earlier.
    static let slots: [Kind] = Array(repeating: .completedDue, count: 20) + Array(repeating: .completedFresh, count: 10)
        + Array(repeating: .failedOld, count: 5) + Array(repeating: .pending, count: 5) + Array(repeating: .failedFresh, count: 4)
        + [.completedDueMissing, .failedOldMissing] + Array(repeating: .expired, count: 4)

    /// History rows: 70% expired, 25% failed with `file_path` NULL, 5% pending that never ran.
    static let historySlots: [Kind] = Array(repeating: .historyExpired, count: 14) + Array(repeating: .historyFailed, count: 5) + [.historyPending]

    static let types = ["hotels", "supplier_summary", "mappings"]
    static let formats: [ExportFormat] = [.csv, .json, .xlsx]

    /// Jobs of the mix (ids `exp_…`), inserted after the history.
    let jobs: Int
    /// History rows (ids `old_…`), inserted first (older rowids), no files.
    let history: Int
    /// The moment the timestamps are relative to.
    let now: UTCInstant
    /// The absolute storage path written into `file_path`.
    let storagePath: String

    static func kind(_ i: Int) -> Kind { slots[(i &* 31) % slots.count] }
    static func historyKind(_ i: Int) -> Kind { historySlots[(i &* 7) % historySlots.count] }

    /// A fixed pseudo-random number in [0, 1) for row `i` and a salt (splitmix64).
    static func unit(_ i: Int, _ salt: UInt64) -> Double {
        var z = UInt64(truncatingIfNeeded: i) &* 0x9E37_79B9_7F4A_7C15 &+ salt
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return Double(z >> 11) / Double(1 << 53)
    }

    static func hex12(_ value: Int) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: max(0, 12 - digits.count)) + digits
    }

    static func jobID(_ i: Int) -> String { "exp_" + hex12(i &+ 0xa0_0000_0000) }

    /// Size of row `i`'s file: 200 B to 2 KiB (one file-system block; see BENCHMARKS.md).
    static func fileSize(_ i: Int) -> Int { 200 + Int(unit(i, 7) * 1848) }

    private static let hour: Int64 = 3_600_000_000
    private static let day: Int64 = 24 * hour

    private func ago(_ microseconds: Double) -> UTCInstant { now.adding(microseconds: -Int64(microseconds)) }

    /// Row `i` of the mix, and its file name when it has a `file_path`.
    func row(_ i: Int) -> (row: ApplicationDatabase.Row, fileName: String?, kind: Kind) {
        let kind = Self.kind(i)
        let r = Self.unit(i, 1)
        let hour = Double(Self.hour), day = Double(Self.day)
        let created: UTCInstant
        var completed: UTCInstant?
        var expires: UTCInstant?
        let status: String
        var error: String?
        switch kind {
        case .completedDue, .completedDueMissing:
            completed = ago(25 * hour + r * 60 * day)
            created = completed!.adding(microseconds: -Int64(300_000_000 * Self.unit(i, 2)))
            if i % 10 == 3 { expires = completed!.adding(microseconds: Self.day) }
            status = "completed"
        case .completedFresh:
            completed = ago(r * 20 * hour)
            created = completed!.adding(microseconds: -Int64(300_000_000 * Self.unit(i, 2)))
            if i % 10 == 3 { expires = now.adding(microseconds: Self.day) }
            status = "completed"
        case .failedOld, .failedOldMissing:
            created = ago(2 * hour + r * 60 * day)
            status = "failed"
            error = "export worker timed out after 300 s"
        case .failedFresh:
            created = ago(r * 30 * 60_000_000)
            status = "failed"
            error = "export worker timed out after 300 s"
        case .pending:
            created = ago(r * 10 * 60_000_000)
            status = "pending"
        case .expired:
            completed = ago(3 * day + r * 60 * day)
            created = completed!.adding(microseconds: -60_000_000)
            status = "expired"
        case .historyExpired, .historyFailed, .historyPending:
            preconditionFailure("history kinds are rows of historyRow(_:)")
        }
        let id = Self.jobID(i)
        let type = Self.types[i % 3]
        let format = Self.formats[(i / 3) % 3]
        var fileName: String?
        var path: StoredValue = .null
        var size: Int64?
        if kind.hasFilePath {
            let name = try! ExportFileName(exportType: type, jobID: id, secondsSinceEpoch: created.seconds, format: format).fileName
            fileName = name
            path = .text(storagePath + "/" + name)
            size = Int64(Self.fileSize(i))
        }
        let row = ApplicationDatabase.Row(
            id: id, exportType: type, format: format.rawValue, status: status, filePath: path, fileSizeBytes: size,
            createdAt: ApplicationDatabase.text(created), completedAt: completed.map(ApplicationDatabase.text) ?? .null,
            expiresAt: expires.map(ApplicationDatabase.text) ?? .null, errorMessage: error)
        return (row, fileName, kind)
    }

    /// History row `i`: old, no file.
    func historyRow(_ i: Int) -> ApplicationDatabase.Row {
        let kind = Self.historyKind(i)
        let created = ago(Double(Self.day) * (90 + Self.unit(i, 11) * 700))
        let id = "old_" + Self.hex12(i)
        let type = Self.types[i % 3]
        let format = Self.formats[(i / 3) % 3].rawValue
        switch kind {
        case .historyExpired:
            return .init(id: id, exportType: type, format: format, status: "expired", fileSizeBytes: Int64(Self.fileSize(i)),
                         createdAt: ApplicationDatabase.text(created),
                         completedAt: ApplicationDatabase.text(created.adding(microseconds: 120_000_000)))
        case .historyFailed:
            return .init(id: id, exportType: type, format: format, status: "failed", createdAt: ApplicationDatabase.text(created),
                         errorMessage: "export worker timed out after 300 s")
        default:
            return .init(id: id, exportType: type, format: format, status: "pending", createdAt: ApplicationDatabase.text(created))
        }
    }

    /// Writes a new database with the application's schema: history first (older rowids), then the mix, in one
    /// transaction through one prepared statement.
    func writeDatabase(at path: String) throws {
        let database = try ApplicationDatabase(creatingAt: path)
        let history = self.history
        try database.insert((0..<(history + jobs)).lazy.map { $0 < history ? self.historyRow($0) : self.row($0 - history).row })
    }

    /// Writes the due list the floor reads: one `rule id fileName` line per due job, in rowid order.
    func writeDueList(at path: String) throws {
        guard let file = fopen(path, "w") else { throw BenchError("cannot write \(path): \(String(cString: strerror(errno)))") }
        defer { fclose(file) }
        for i in 0..<jobs {
            let (job, name, kind) = self.row(i)
            guard kind.isDue, let name else { continue }
            fputs("\(job.status == "completed" ? "c" : "f") \(job.id) \(name)\n", file)
        }
    }

    /// Creates the files of the mix in `storage` (which must exist and be empty), with raw `openat(O_CREAT|O_EXCL|O_NOFOLLOW, 0600)`
    /// and one `write`, like ``StorageDirectory/createFile(_:)`` but without opening the directory per file.
    /// - Returns: files and bytes written.
    func createFiles(in storage: String) throws -> (files: Int, bytes: Int64) {
        let directory = open(storage, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard directory >= 0 else { throw BenchError("cannot open \(storage): \(String(cString: strerror(errno)))") }
        defer { close(directory) }
        let line = Array("hotel_id,name,city,country,supplier,rate_eur\n1042,Hotel Example,Lisbon,PT,acme,118.40\n".utf8)
        let body = (0..<2100).map { line[$0 % line.count] }
        var files = 0
        var bytes: Int64 = 0
        for i in 0..<jobs {
            let kind = Self.kind(i)
            guard kind.hasFile else { continue }
            guard let name = row(i).fileName else { continue }
            let fd = openat(directory, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, StorageDirectory.fileMode)
            guard fd >= 0 else { throw BenchError("cannot create \(storage)/\(name): \(String(cString: strerror(errno)))") }
            let size = Self.fileSize(i)
            let failure = body.withUnsafeBytes { writeAll(fd: fd, bytes: UnsafeRawBufferPointer(rebasing: $0[..<size])) }
            close(fd)
            guard failure == 0 else { throw BenchError("cannot write \(storage)/\(name): \(String(cString: strerror(failure)))") }
            files += 1
            bytes += Int64(size)
        }
        return (files, bytes)
    }
}

