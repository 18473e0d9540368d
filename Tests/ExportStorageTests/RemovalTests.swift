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
    var good: String { "hotels_\(id)_20231116_143022.csv" }

    @Test("accepts the storage directory's entries, by either absolute spelling or as a bare name")
    func accepts() {
        for path in ["/srv/app/exports/\(good)", "/data/app/exports/\(good)", "//srv//app/./exports/\(good)", good] {
            #expect(rule.entryName(forRecordPath: path, jobID: id) == .success(good), "\(path)")
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
        ("/srv/app/exports/hotels_exp_ffffffffffff_20231116_143022.csv", .otherJobsFile(name: "hotels_exp_ffffffffffff_20231116_143022.csv")),
        ("/srv/app/exports/passwd", .otherJobsFile(name: "passwd")),
        ("/srv/app/exports/hotels_exp_a1b2c3d4e5f6_20231116_143022.csv.bak", .notAnExportFileName("hotels_exp_a1b2c3d4e5f6_20231116_143022.csv.bak")),
        ("/srv/app/exports/hotels_exp_a1b2c3d4e5f6_notatime.csv", .notAnExportFileName("hotels_exp_a1b2c3d4e5f6_notatime.csv")),
        ("/srv/app/exports/hotels_exp_a1b2c3d4e5f6\0_20231116_143022.csv", .invalidPath("it contains a NUL byte")),
    ])
    func refuses(path: String, expected: RemovalRefusal) {
        #expect(rule.entryName(forRecordPath: path, jobID: id) == .failure(expected))
    }

    @Test("a '/' followed by a combining mark is still a separator (the kernel splits on the byte)")
    func combiningMarkAfterSlash() {
        // "/\u{301}" is one Character that is not "/", but unlinkat would walk through "sub".
        let path = "/srv/app/exports/sub/\u{301}x_\(id)_20231116_143022.csv"
        #expect(rule.entryName(forRecordPath: path, jobID: id) == .failure(.outsideStorage(parent: "/srv/app/exports/sub")))
    }

    @Test("a parent directory spelled in another Unicode normalization is another directory")
    func normalization() {
        let nfc = RecordPathRule(storagePath: "/srv/caf\u{E9}", absolutePaths: ["/srv/caf\u{E9}"])
        #expect(nfc.entryName(forRecordPath: "/srv/caf\u{E9}/\(good)", jobID: id) == .success(good))
        #expect(nfc.entryName(forRecordPath: "/srv/cafe\u{301}/\(good)", jobID: id) == .failure(.outsideStorage(parent: "/srv/cafe\u{301}")))
        #expect(nfc.entryName(forRecordPath: "/srv/cafe\u{301}", jobID: id) != .failure(.storageDirectoryItself))
    }

    @Test("refuses paths longer than PATH_MAX")
    func tooLong() {
        let path = "/srv/app/exports/" + String(repeating: "a/", count: 2100) + good
        #expect(rule.entryName(forRecordPath: path, jobID: id) == .failure(.invalidPath("it is longer than PATH_MAX (4096 bytes)")))
    }

    @Test("the job id must stand right before the timestamp, also for ids outside the strict grammar")
    func idPosition() {
        #expect(rule.entryName(forRecordPath: "/srv/app/exports/x_exp_a1b2c3d4e5f6_y_20231116_143022.csv", jobID: id)
            == .failure(.otherJobsFile(name: "x_exp_a1b2c3d4e5f6_y_20231116_143022.csv")))
        #expect(rule.entryName(forRecordPath: "/srv/app/exports/supplier_summary_a1_20231116_143022.csv", jobID: "a1")
            == .success("supplier_summary_a1_20231116_143022.csv"))
        #expect(rule.entryName(forRecordPath: "/srv/app/exports/hotels_a_b_c_20231116_143022.csv", jobID: "a_b_c")
            == .success("hotels_a_b_c_20231116_143022.csv"))
        #expect(rule.entryName(forRecordPath: "/srv/app/exports/a_b_c_20231116_143022.csv", jobID: "a_b_c")
            == .failure(.otherJobsFile(name: "a_b_c_20231116_143022.csv")))
    }

    @Test("a relative storage path matches relative records spelled the same way")
    func relative() {
        let relative = RecordPathRule(storagePath: "./exports", absolutePaths: ["/app/./exports"])
        #expect(relative.entryName(forRecordPath: "exports/\(good)", jobID: id) == .success(good))
        #expect(relative.entryName(forRecordPath: "./exports/\(good)", jobID: id) == .success(good))
        #expect(relative.entryName(forRecordPath: "/app/exports/\(good)", jobID: id) == .success(good))
        #expect(relative.entryName(forRecordPath: "other/\(good)", jobID: id) == .failure(.outsideStorage(parent: "other")))
    }
}

@Suite("Safe removal on disk")
struct RemovalTests {
    let id = "exp_1"
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
        #expect(dir.remove(recordPath: path, jobID: id) == .removed(bytes: 4321))
        #expect(!fileExists(path))
    }

    @Test("dry run reports and keeps the file")
    func dryRun() throws {
        let (tmp, dir) = try setUp()
        let path = tmp.write("exports/\(name)", bytes: 7)
        #expect(dir.remove(recordPath: path, jobID: id, dryRun: true) == .wouldRemove(bytes: 7))
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
        #expect(dir.remove(recordPath: tmp.sub("exports/\(name)"), jobID: id) == .alreadyMissing)
    }

    @Test("a symlink to a file outside is refused; neither link nor target changes")
    func symlinkOutside() throws {
        let (tmp, dir) = try setUp()
        let outside = tmp.write("precious.csv", bytes: 99)
        symlink(outside, tmp.sub("exports/\(name)"))
        #expect(dir.remove(recordPath: tmp.sub("exports/\(name)"), jobID: id) == .refused(.notRegularFile(kind: "symbolic link")))
        #expect(fileExists(tmp.sub("exports/\(name)")))
        #expect(StorageDirectory.fileSize(outside) == 99)
    }

    @Test("a directory or fifo named like an export is refused and kept", arguments: ["directory", "fifo"])
    func specialEntries(kind: String) throws {
        let (tmp, dir) = try setUp()
        let path = tmp.sub("exports/\(name)")
        if kind == "directory" { mkdir(path, 0o700) } else { mkfifo(path, 0o600) }
        #expect(dir.remove(recordPath: path, jobID: id) == .refused(.notRegularFile(kind: kind)))
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
        #expect(dir.remove(recordPath: inside, jobID: id) == .removed(bytes: 1))
        #expect(fileExists(decoy))
        #expect(!fileExists(tmp.sub("moved/\(name)")))
        // Opening anew refuses the symlink.
        #expect(throws: ExportStorageError.self) { try StorageDirectory(path: tmp.sub("exports")).open() }
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
