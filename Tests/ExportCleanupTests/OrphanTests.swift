import ExportCleanup
import ExportCleanupDemo
import ExportStorage
import Foundation
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A store that records the ids asked for, and lets "the application" act right before a one-id re-check.
final class OrphanSpyStore: JobStore {
    let inner: SQLiteJobStore
    var idCalls: [[String]] = []
    var beforeRecheck: ((String) -> Void)?

    init(_ inner: SQLiteJobStore) { self.inner = inner }

    func verifySchema() throws(JobStoreError) { try inner.verifySchema() }
    func candidates(for rule: CleanupRule, cutoff: UTCInstant, now: UTCInstant, after cursor: JobCursor?, limit: Int) throws(JobStoreError)
        -> (jobs: [ExportJob], next: JobCursor?)
    {
        try inner.candidates(for: rule, cutoff: cutoff, now: now, after: cursor, limit: limit)
    }
    func claim(_ claims: [JobClaim]) throws(JobStoreError) -> [Bool] { try inner.claim(claims) }
    func isClaimed(_ claims: [JobClaim]) throws(JobStoreError) -> [Bool] { try inner.isClaimed(claims) }
    func countReferencedFiles() throws(JobStoreError) -> Int { try inner.countReferencedFiles() }
    func pressureCandidates(completedBefore cutoff: UTCInstant, now: UTCInstant, after cursor: PressureCursor?, limit: Int) throws(JobStoreError)
        -> [ExportJob]
    {
        try inner.pressureCandidates(completedBefore: cutoff, now: now, after: cursor, limit: limit)
    }
    func jobs(withIDs ids: [String]) throws(JobStoreError) -> [ExportJob] {
        idCalls.append(ids)
        if ids.count == 1 { beforeRecheck?(ids[0]) }
        return try inner.jobs(withIDs: ids)
    }
}

/// Sets an entry's modification time `hours` before now (no symlink followed).
func age(_ path: String, hours: Double) {
    let seconds = Int(UTCInstant.now().seconds) - Int(hours * 3600)
    var times = [timespec(tv_sec: seconds, tv_nsec: 0), timespec(tv_sec: seconds, tv_nsec: 0)]
    utimensat(AT_FDCWD, path, &times, AT_SYMLINK_NOFOLLOW)
}

@Suite("orphan files")
struct OrphanTests {
    struct Layout {
        var fixture: Fixture
        var files: [String: String] = [:]  // label -> path
    }

    func layout() throws -> Layout {
        let fixture = try Fixture()
        var layout = Layout(fixture: fixture)
        let old = UTCInstant.now().adding(hours: -100)
        func file(_ label: String, _ id: String, stamp: UTCInstant = old, hours: Double = 48) throws -> String {
            let path = try fixture.writeExport(id, stamp: stamp, bytes: 10)
            age(path, hours: hours)
            layout.files[label] = path
            return path
        }
        _ = try file("noRow", "exp_o1")
        _ = try file("nullPath", "exp_o2")
        _ = try file("otherFile", "exp_o3")
        let current = try file("current", "exp_o3", stamp: old.adding(hours: 1))
        let referenced = try file("referenced", "exp_o4")
        _ = try file("recent", "exp_o5", hours: 2)
        let pending = try file("pending", "exp_o6")
        let elsewhere = try file("elsewhere", "exp_o7")
        try fixture.db.insert([
            .init(id: "exp_o2", status: "expired", filePath: .null, createdAt: ApplicationDatabase.text(old)),
            .init(id: "exp_o3", status: "completed", filePath: .text(current), createdAt: ApplicationDatabase.text(old),
                  completedAt: ApplicationDatabase.text(old)),
            .init(id: "exp_o4", status: "completed", filePath: .text(referenced), createdAt: ApplicationDatabase.text(old),
                  completedAt: ApplicationDatabase.text(old)),
            .init(id: "exp_o6", status: "pending", filePath: .text(pending), createdAt: ApplicationDatabase.text(old)),
            // Names the file by another directory: still keeps it (a row that names the file keeps it).
            .init(id: "exp_o7", status: "completed", filePath: .text("/elsewhere/" + (elsewhere as NSString).lastPathComponent),
                  createdAt: ApplicationDatabase.text(old)),
        ])
        let notes = fixture.storage + "/notes.txt"
        _ = FileManager.default.createFile(atPath: notes, contents: Data("x".utf8))
        age(notes, hours: 100)
        layout.files["notes"] = notes
        let directory = fixture.storage + "/" + (try fixture.exportName("exp_o8", stamp: old).description)
        mkdir(directory, 0o755)
        layout.files["directory"] = directory
        symlink("/etc/hostname", fixture.storage + "/hotels_exp_o9_20230101_000000.csv")
        for name in OpenStorageDirectory.claimsJournalNames {
            _ = FileManager.default.createFile(atPath: fixture.storage + "/" + name, contents: Data())
        }
        return layout
    }

    func scanner(_ fixture: Fixture, store: (any JobStore)? = nil) throws -> OrphanScanner {
        OrphanScanner(store: try store ?? fixture.store(), storage: try fixture.storageDirectory.open(), logger: quietLogger)
    }

    @Test("lists exactly the export files no row references; reports odd entries; changes nothing without --delete")
    func listOnly() throws {
        let layout = try layout()
        let fixture = layout.fixture
        let before = fixture.storageListing()
        var seen: [String: OrphanEntry] = [:]
        let report = try scanner(fixture).scan(options: OrphanOptions(olderThanHours: 24)) { seen[$0.name] = $0 }
        let orphanNames = Set(seen.values.filter { $0.kind == .orphan }.map(\.name))
        let name = { (label: String) in (layout.files[label]! as NSString).lastPathComponent }
        #expect(orphanNames == [name("noRow"), name("nullPath"), name("otherFile")])
        #expect(seen[name("noRow")]?.reason == "no row has job id 'exp_o1'")
        #expect(seen[name("nullPath")]?.reason.contains("file_path NULL") == true)
        #expect(seen[name("otherFile")]?.reason.contains(name("current")) == true)
        #expect(report.orphans == 3 && report.orphanBytes == 30 && report.removed == 0 && report.tooRecent == 1)
        #expect(report.nonconforming == 1 && seen["notes.txt"]?.kind == .nonconforming)
        #expect(report.notRegular == 2, "the directory and the symlink")
        for name in OpenStorageDirectory.claimsJournalNames { #expect(seen[name] == nil) }
        #expect(report.entries == 11)
        #expect(fixture.storageListing() == before)
    }

    @Test("--delete removes orphans up to the limit, re-checking each row right before; never anything else")
    func delete() throws {
        let layout = try layout()
        let fixture = layout.fixture
        let first = try scanner(fixture).scan(options: OrphanOptions(olderThanHours: 24, limit: 1, delete: true))
        #expect(first.removed == 1 && first.overLimit == 2)
        // The application points a remaining orphan's row at its file between the listing and the removal: it stays.
        let ids = ["nullPath": "exp_o2", "otherFile": "exp_o3", "noRow": "exp_o1"]
        let target = try #require(["nullPath", "otherFile"].first { fileExists(layout.files[$0]!) })
        let targetPath = layout.files[target]!
        let spy = OrphanSpyStore(try fixture.store())
        spy.beforeRecheck = { id in
            if id == ids[target] { try? fixture.db.execute("UPDATE export_jobs SET status = 'completed', file_path = '\(targetPath)' WHERE id = '\(id)'") }
        }
        let second = try scanner(fixture, store: spy).scan(options: OrphanOptions(olderThanHours: 24, delete: true))
        #expect(second.orphans == 2 && second.removed == 1 && second.keptOnRecheck == 1, "\(second.summary)")
        for label in ["nullPath", "otherFile", "noRow"] where label != target { #expect(!fileExists(layout.files[label]!), "\(label)") }
        for label in [target, "current", "referenced", "recent", "pending", "elsewhere", "notes", "directory"] {
            #expect(FileManager.default.fileExists(atPath: layout.files[label]!), "\(label)")
        }
        #expect(fileExists("/etc/hostname"))
        for name in OpenStorageDirectory.claimsJournalNames { #expect(fileExists(fixture.storage + "/" + name)) }
    }

    @Test("--delete takes the sweep lock: a sweep holding it makes the pass fail as locked")
    func lock() throws {
        let layout = try layout()
        let holder = try layout.fixture.storageDirectory.open()
        try holder.lock(wait: false)
        #expect(throws: OrphanScanner.Failure.self) {
            try scanner(layout.fixture).scan(options: OrphanOptions(delete: true))
        }
        #expect(try scanner(layout.fixture).scan(options: OrphanOptions()).orphans == 3, "listing takes no lock")
    }

    @Test("rows are looked up by id in batches of at most 500, whatever the number of files")
    func batches() throws {
        let fixture = try Fixture()
        let old = UTCInstant.now().adding(hours: -50)
        var rows: [ApplicationDatabase.Row] = []
        for index in 0..<1_300 {
            let path = try fixture.writeExport("exp_b\(index)", stamp: old, bytes: 1)
            age(path, hours: 50)
            if index % 2 == 0 {
                rows.append(.init(id: "exp_b\(index)", status: "completed", filePath: .text(path), createdAt: ApplicationDatabase.text(old)))
            }
        }
        try fixture.db.insert(rows)
        let spy = OrphanSpyStore(try fixture.store())
        let report = try scanner(fixture, store: spy).scan(options: OrphanOptions())
        #expect(report.orphans == 650 && report.entries == 1_300)
        #expect(spy.idCalls.count == 3 && spy.idCalls.allSatisfy { $0.count <= OrphanScanner.batchSize })
        #expect(report.listed.count == 650)
    }

    @Test("the reason rule: a row names a file by its last path component, byte for byte; a non-text file_path keeps it")
    func reasons() {
        let name = "hotels_exp_a1_20231116_143022.csv"
        let job = { (path: StoredValue) in ExportJob(id: "exp_a1", status: .completed, filePath: path) }
        #expect(OrphanScanner.orphanReason(name, jobID: "exp_a1", rows: [job(.text("/srv/x/" + name))]) == nil)
        #expect(OrphanScanner.orphanReason(name, jobID: "exp_a1", rows: [job(.text(name))]) == nil)
        #expect(OrphanScanner.orphanReason(name, jobID: "exp_a1", rows: [job(.blob([1]))]) == nil)
        #expect(OrphanScanner.orphanReason(name, jobID: "exp_a1", rows: [job(.text("/srv/x/" + name + "x"))]) != nil)
        #expect(OrphanScanner.orphanReason(name, jobID: "exp_a1", rows: [job(.null), job(.text("/a/" + name))]) == nil)
        #expect(OrphanScanner.orphanReason(name, jobID: "exp_a1", rows: []) == "no row has job id 'exp_a1'")
    }
}
