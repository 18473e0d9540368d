import ExportStorage
import Foundation
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite("Record paths (pure rule)")
struct RecordPathRuleTests {
    let rule = RecordPathRule(storagePath: "/srv/app/exports", absolutePaths: ["/srv/app/exports", "/data/app/exports"])
    let id = "exp_a1b2c3d4e5f6"
    var record: RecordName { RecordName(exportType: "hotels", jobID: id, format: "csv") }
    var good: String { "hotels_\(id)_20231116_143022.csv" }

    @Test("accepts the storage directory's entries, by either absolute spelling or as a bare name")
    func accepts() {
        for path in ["/srv/app/exports/\(good)", "/data/app/exports/\(good)", "//srv//app/./exports/\(good)", good] {
            #expect(rule.entryName(forRecordPath: path, record: record) == .success(good), "\(path)")
        }
    }

    @Test("refuses everything else, with the reason", arguments: [
        ("", RemovalRefusal.emptyPath),
        ("/srv/app/exports/../secret/hotels_exp_a1b2c3d4e5f6_20231116_143022.csv", .invalidPath("it has a '..' component")),
        ("/srv/app/exports/..", .invalidPath("it has a '..' component")),
        ("/etc/hotels_exp_a1b2c3d4e5f6_20231116_143022.csv", .outsideStorage(parent: "/etc")),
        ("/srv/app/exports_other/hotels_exp_a1b2c3d4e5f6_20231116_143022.csv", .outsideStorage(parent: "/srv/app/exports_other")),
        ("/srv/app/exports/sub/hotels_exp_a1b2c3d4e5f6_20231116_143022.csv", .outsideStorage(parent: "/srv/app/exports/sub")),
        ("/srv/app/exportshotels_exp_a1b2c3d4e5f6_20231116_143022.csv", .outsideStorage(parent: "/srv/app")),
        ("exports/hotels_exp_a1b2c3d4e5f6_20231116_143022.csv", .outsideStorage(parent: "exports")),
        ("/srv/app/exports", .storageDirectoryItself),
        ("/srv/app/exports/", .storageDirectoryItself),
        ("/srv/app/exports/.", .invalidPath("its last component is '.'")),
        ("/srv/app/exports/hotels_exp_a1b2c3d4e5f6_20231116_143022.csv/", .invalidPath("it ends with '/'")),
        ("/srv/app/exports/hotels_exp_ffffffffffff_20231116_143022.csv", .nameMismatch(name: "hotels_exp_ffffffffffff_20231116_143022.csv", expected: "hotels_exp_a1b2c3d4e5f6_YYYYMMDD_HHMMSS.csv")),
        ("/srv/app/exports/mappings_exp_a1b2c3d4e5f6_20231116_143022.csv", .nameMismatch(name: "mappings_exp_a1b2c3d4e5f6_20231116_143022.csv", expected: "hotels_exp_a1b2c3d4e5f6_YYYYMMDD_HHMMSS.csv")),
        ("/srv/app/exports/hotels_exp_a1b2c3d4e5f6_20231116_143022.json", .nameMismatch(name: "hotels_exp_a1b2c3d4e5f6_20231116_143022.json", expected: "hotels_exp_a1b2c3d4e5f6_YYYYMMDD_HHMMSS.csv")),
        ("/srv/app/exports/hotels_a1b2c3d4e5f6_20231116_143022.csv", .nameMismatch(name: "hotels_a1b2c3d4e5f6_20231116_143022.csv", expected: "hotels_exp_a1b2c3d4e5f6_YYYYMMDD_HHMMSS.csv")),
        ("/srv/app/exports/passwd", .notAnExportFileName("passwd")),
        ("/srv/app/exports/hotels_exp_a1b2c3d4e5f6_20231116_143022.csv.bak", .notAnExportFileName("hotels_exp_a1b2c3d4e5f6_20231116_143022.csv.bak")),
        ("/srv/app/exports/hotels_exp_a1b2c3d4e5f6_notatime.csv", .notAnExportFileName("hotels_exp_a1b2c3d4e5f6_notatime.csv")),
        ("/srv/app/exports/hotels_exp_a1b2c3d4e5f6\0_20231116_143022.csv", .invalidPath("it contains a NUL byte")),
    ])
    func refuses(path: String, expected: RemovalRefusal) {
        #expect(rule.entryName(forRecordPath: path, record: record) == .failure(expected))
    }

    @Test("a '/' followed by a combining mark is still a separator (the kernel splits on the byte)")
    func combiningMarkAfterSlash() {
        // "/\u{301}" is one Character that is not "/", but unlinkat would walk through "sub".
        let path = "/srv/app/exports/sub/\u{301}x_\(id)_20231116_143022.csv"
        #expect(rule.entryName(forRecordPath: path, record: record) == .failure(.outsideStorage(parent: "/srv/app/exports/sub")))
    }

    @Test("a parent directory spelled in another Unicode normalization is another directory")
    func normalization() {
        let nfc = RecordPathRule(storagePath: "/srv/caf\u{E9}", absolutePaths: ["/srv/caf\u{E9}"])
        #expect(nfc.entryName(forRecordPath: "/srv/caf\u{E9}/\(good)", record: record) == .success(good))
        #expect(nfc.entryName(forRecordPath: "/srv/cafe\u{301}/\(good)", record: record) == .failure(.outsideStorage(parent: "/srv/cafe\u{301}")))
        #expect(nfc.entryName(forRecordPath: "/srv/cafe\u{301}", record: record) != .failure(.storageDirectoryItself))
    }

    @Test("refuses paths longer than PATH_MAX")
    func tooLong() {
        let path = "/srv/app/exports/" + String(repeating: "a/", count: 2100) + good
        #expect(rule.entryName(forRecordPath: path, record: record) == .failure(.invalidPath("it is longer than PATH_MAX (4096 bytes)")))
    }

    @Test("the name must be exactly the one the record's export_type, id and format make; no looser match")
    func exactName() {
        func check(_ name: String, _ type: String, _ id: String, _ format: String) -> Result<String, RemovalRefusal> {
            rule.entryName(forRecordPath: "/srv/app/exports/" + name, record: RecordName(exportType: type, jobID: id, format: format))
        }
        #expect(check("x_exp_a1b2c3d4e5f6_y_20231116_143022.csv", "hotels", id, "csv")
            == .failure(.nameMismatch(name: "x_exp_a1b2c3d4e5f6_y_20231116_143022.csv", expected: "hotels_exp_a1b2c3d4e5f6_YYYYMMDD_HHMMSS.csv")))
        // Ambiguous to a reader of the name alone, exact from the record's columns.
        #expect(check("supplier_summary_a1_20231116_143022.csv", "supplier_summary", "a1", "csv") == .success("supplier_summary_a1_20231116_143022.csv"))
        #expect(check("supplier_summary_a1_20231116_143022.csv", "supplier", "summary_a1", "csv") == .success("supplier_summary_a1_20231116_143022.csv"))
        #expect(check("supplier_summary_a1_20231116_143022.csv", "hotels", "a1", "csv")
            == .failure(.nameMismatch(name: "supplier_summary_a1_20231116_143022.csv", expected: "hotels_a1_YYYYMMDD_HHMMSS.csv")))
        // A record of job b1 never reaches the file of job exp_b1, nor the reverse.
        #expect(check("hotels_exp_b1_20231116_143022.csv", "hotels", "b1", "csv")
            == .failure(.nameMismatch(name: "hotels_exp_b1_20231116_143022.csv", expected: "hotels_b1_YYYYMMDD_HHMMSS.csv")))
        #expect(check("hotels_b1_20231116_143022.csv", "hotels", "exp_b1", "csv")
            == .failure(.nameMismatch(name: "hotels_b1_20231116_143022.csv", expected: "hotels_exp_b1_YYYYMMDD_HHMMSS.csv")))
        // excel is written as xlsx; the format column is read in any letter case.
        #expect(check("hotels_b1_20231116_143022.xlsx", "hotels", "b1", "excel") == .success("hotels_b1_20231116_143022.xlsx"))
        #expect(check("hotels_b1_20231116_143022.json", "hotels", "b1", "JSON") == .success("hotels_b1_20231116_143022.json"))
        // Columns that cannot make a name of the convention.
        if case .failure(.notAnExportFileName) = check("hotels_b1_20231116_143022.csv", "hotels", "b1", "pdf") {} else { Issue.record("pdf accepted") }
        if case .failure(.notAnExportFileName) = check("ho tels_b1_20231116_143022.csv", "ho tels", "b1", "csv") {} else { Issue.record("space accepted") }
    }

    @Test("a relative storage path matches relative records spelled the same way")
    func relative() {
        let relative = RecordPathRule(storagePath: "./exports", absolutePaths: ["/app/./exports"])
        #expect(relative.entryName(forRecordPath: "exports/\(good)", record: record) == .success(good))
        #expect(relative.entryName(forRecordPath: "./exports/\(good)", record: record) == .success(good))
        #expect(relative.entryName(forRecordPath: "/app/exports/\(good)", record: record) == .success(good))
        #expect(relative.entryName(forRecordPath: "other/\(good)", record: record) == .failure(.outsideStorage(parent: "other")))
    }
}

extension OpenStorageDirectory {
    /// The sweep's two steps for one record: the path rule, then the removal (or, dry, the look).
    func remove(recordPath: String, record: RecordName, dryRun: Bool = false) -> RemovalOutcome {
        switch entryName(forRecordPath: recordPath, record: record) {
        case .failure(let refusal): return .refused(refusal)
        case .success(let name): return dryRun ? inspectEntry(named: name) : removeEntry(named: name)
        }
    }
}

@Suite("Safe removal on disk")
struct RemovalTests {
    let record = RecordName(exportType: "hotels", jobID: "exp_1", format: "csv")
    let name = "hotels_exp_1_20231116_143022.csv"

    func setUp() throws -> (TemporaryDirectory, OpenStorageDirectory) {
        let tmp = TemporaryDirectory()
        let storage = StorageDirectory(path: tmp.sub("exports"))
        try storage.prepare()
        return (tmp, try storage.open())
    }

    @Test("removes a regular file and reports its size")
    func regular() throws {
        let (tmp, dir) = try setUp()
        let path = tmp.write("exports/\(name)", bytes: 4321)
        #expect(dir.remove(recordPath: path, record: record) == .removed(bytes: 4321))
        #expect(!fileExists(path))
    }

    @Test("dry run reports and keeps the file")
    func dryRun() throws {
        let (tmp, dir) = try setUp()
        let path = tmp.write("exports/\(name)", bytes: 7)
        #expect(dir.remove(recordPath: path, record: record, dryRun: true) == .wouldRemove(bytes: 7))
        #expect(fileExists(path))
    }

    @Test("an entry name holding a '/' byte is refused, even after a combining mark")
    func slashBeforeCombiningMark() throws {
        let (_, dir) = try setUp()
        let name = "sub/\u{301}x"
        #expect(dir.removeEntry(named: name) == .refused(.invalidPath("'\(name)' is not a plain entry name")))
    }

    @Test("a missing file is already missing, not an error")
    func missing() throws {
        let (tmp, dir) = try setUp()
        #expect(dir.remove(recordPath: tmp.sub("exports/\(name)"), record: record) == .alreadyMissing)
    }

    @Test("a symlink to a file outside is refused; neither link nor target changes")
    func symlinkOutside() throws {
        let (tmp, dir) = try setUp()
        let outside = tmp.write("precious.csv", bytes: 99)
        symlink(outside, tmp.sub("exports/\(name)"))
        #expect(dir.remove(recordPath: tmp.sub("exports/\(name)"), record: record) == .refused(.notRegularFile(kind: "symbolic link")))
        #expect(fileExists(tmp.sub("exports/\(name)")))
        #expect(StorageDirectory.fileSize(outside) == 99)
    }

    @Test("a directory or fifo named like an export is refused and kept", arguments: ["directory", "fifo"])
    func specialEntries(kind: String) throws {
        let (tmp, dir) = try setUp()
        let path = tmp.sub("exports/\(name)")
        if kind == "directory" { mkdir(path, 0o700) } else { mkfifo(path, 0o600) }
        #expect(dir.remove(recordPath: path, record: record) == .refused(.notRegularFile(kind: kind)))
        #expect(fileExists(path))
    }

    @Test("the storage directory replaced by a symlink: the open descriptor keeps working on the original")
    func swappedDirectory() throws {
        let (tmp, dir) = try setUp()
        let inside = tmp.write("exports/\(name)", bytes: 1)
        rename(tmp.sub("exports"), tmp.sub("moved"))
        mkdir(tmp.sub("elsewhere"), 0o700)
        let decoy = tmp.write("elsewhere/\(name)", bytes: 2)
        symlink(tmp.sub("elsewhere"), tmp.sub("exports"))
        #expect(dir.remove(recordPath: inside, record: record) == .removed(bytes: 1))
        #expect(fileExists(decoy))
        #expect(!fileExists(tmp.sub("moved/\(name)")))
        // Opening anew refuses the symlink.
        #expect(throws: ExportStorageError.self) { try StorageDirectory(path: tmp.sub("exports")).open() }
    }

    @Test("removals are blocked, before anything is claimed, in a directory this user cannot write")
    func removalBlocked() throws {
        let (tmp, dir) = try setUp()
        #expect(dir.removalBlocked() == nil)
        chmod(tmp.sub("exports"), 0o500)
        defer { chmod(tmp.sub("exports"), 0o750) }
        // root passes access checks on a directory without write bits, as unlinkat would succeed.
        #expect(dir.removalBlocked() == (geteuid() == 0 ? nil : EACCES))
    }

    @Test("the claims journal: written, read back, removed; never followed through a symlink; not counted as a file")
    func claimsJournal() throws {
        let (tmp, dir) = try setUp()
        #expect(try dir.readClaimsJournal() == nil)
        try dir.writeClaimsJournal(Array("one\n".utf8))
        try dir.writeClaimsJournal(Array("two\n".utf8))
        #expect(try dir.readClaimsJournal() == Array("two\n".utf8))
        var info = stat()
        #expect(stat(tmp.sub("exports/\(OpenStorageDirectory.claimsJournalName)"), &info) == 0 && info.st_mode & 0o777 == 0o600)
        #expect(try dir.statistics().totalFiles == 0)
        try dir.removeClaimsJournal()
        try dir.removeClaimsJournal()
        #expect(try dir.readClaimsJournal() == nil)
        let outside = tmp.write("outside.txt", bytes: 3)
        symlink(outside, tmp.sub("exports/\(OpenStorageDirectory.claimsJournalName)"))
        #expect(throws: ExportStorageError.self) { try dir.writeClaimsJournal(Array("x".utf8)) }
        #expect(StorageDirectory.fileSize(outside) == 3)
    }

    @Test("the sweep lock is exclusive between two openings")
    func lock() throws {
        let (tmp, first) = try setUp()
        try first.lock(wait: false)
        let second = try StorageDirectory(path: tmp.sub("exports")).open()
        let error = #expect(throws: ExportStorageError.self) { try second.lock(wait: false) }
        #expect(error?.code == .locked)
        #expect(error?.message.contains("--wait") == true)
        first.unlock()
        try second.lock(wait: false)
    }
}
