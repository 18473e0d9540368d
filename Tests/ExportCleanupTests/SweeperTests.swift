import ExportCleanup
import ExportCleanupDemo
import ExportStorage
import Foundation
import GRDB
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// One job of a fixture and its file.
struct FixtureJob {
    var id: String
    var type = "hotels"
    var format: ExportFormat = .csv
    var status: String
    var createdHours: Double
    var completedAt: StoredValue = .null
    var expiresAt: StoredValue = .null
    /// Size of the file to write; `nil`: no file on disk.
    var bytes: Int?
    /// Whether the record names the job's file (even when it is not on disk).
    var hasPath = true
    /// A `file_path` other than the job's own file.
    var filePath: StoredValue?
}

extension Fixture {
    /// Writes the jobs' files and inserts their rows.
    func add(_ jobs: [FixtureJob]) throws {
        var rows: [ApplicationDatabase.Row] = []
        for job in jobs {
            let created = at(job.createdHours)
            var path: StoredValue = .null
            if job.hasPath { path = .text(try self.path(type: job.type, jobID: job.id, created: created, format: job.format)) }
            if let bytes = job.bytes { try writeFile(type: job.type, jobID: job.id, created: created, format: job.format, bytes: bytes) }
            rows.append(.init(id: job.id, exportType: job.type, format: job.format.rawValue, status: job.status, filePath: job.filePath ?? path,
                              fileSizeBytes: job.bytes.map(Int64.init), createdAt: ApplicationDatabase.text(created),
                              completedAt: job.completedAt, expiresAt: job.expiresAt))
        }
        try insert(rows)
    }

    /// Whether the job's own file is on disk.
    func hasFile(_ job: FixtureJob) throws -> Bool {
        fileExists(try path(type: job.type, jobID: job.id, created: at(job.createdHours), format: job.format))
    }
}

/// A mix of every rule and edge, at ``fixedNow`` with retention 24 h and failed age 1 h.
enum Mixed {
    static let jobs: [FixtureJob] = [
        // completed, due
        .init(id: "exp_c1", status: "completed", createdHours: -49, completedAt: sqlText(-48), bytes: 100),
        .init(id: "exp_c2", type: "supplier_summary", format: .xlsx, status: "completed", createdHours: -26,
              completedAt: .text("2023-11-17T11:00:00Z"), bytes: 200),
        .init(id: "exp_c3", type: "mappings", format: .json, status: "completed", createdHours: -26,
              completedAt: .text("2023-11-17T16:00:00+05:00"), bytes: 300),
        .init(id: "exp_c4", status: "completed", createdHours: -26, completedAt: .text("2023-11-17T03:00:00-0800"), bytes: 400),
        .init(id: "exp_c5", status: "completed", createdHours: -31, completedAt: sqlText(-30), expiresAt: sqlText(-1), bytes: 500),
        .init(id: "exp_c12", status: "completed", createdHours: -25, completedAt: sqlText(-24), bytes: 900),  // exactly at the cutoff
        .init(id: "exp_c8", status: "completed", createdHours: -49, completedAt: sqlText(-48), bytes: nil),  // file already gone
        .init(id: "exp_c9", status: "completed", createdHours: -49, completedAt: sqlText(-48), bytes: nil, hasPath: false),  // never had one
        // completed, kept
        .init(id: "exp_c6", status: "completed", createdHours: -73, completedAt: sqlText(-72), expiresAt: sqlText(24), bytes: 600),
        .init(id: "exp_c7", status: "completed", createdHours: -3, completedAt: sqlText(-2), bytes: 700),
        .init(id: "exp_c13", status: "completed", createdHours: -25, completedAt: .text(at(-24).adding(microseconds: 1).databaseText), bytes: 1000),
        .init(id: "exp_c10", status: "completed", createdHours: -49, completedAt: .integer(1_700_145_022), bytes: 800),  // undecidable
        .init(id: "exp_c11", status: "completed", createdHours: -49, completedAt: .text("yesterday"), bytes: 850),  // undecidable
        // failed
        .init(id: "exp_f1", status: "failed", createdHours: -3, bytes: 50),
        .init(id: "exp_f4", status: "failed", createdHours: -1, bytes: 70),  // exactly at the failed age
        .init(id: "exp_f2", status: "failed", createdHours: -0.5, bytes: 60),
        .init(id: "exp_f3", status: "failed", createdHours: -5, bytes: nil, hasPath: false),
        // never touched
        .init(id: "exp_p1", status: "pending", createdHours: -50, bytes: 80),
        .init(id: "exp_p2", status: "processing", createdHours: -30, bytes: 90),
        .init(id: "exp_e1", status: "expired", createdHours: -200, completedAt: sqlText(-199), bytes: 110),
    ]

    static let removedCompleted: Set<String> = ["exp_c1", "exp_c2", "exp_c3", "exp_c4", "exp_c5", "exp_c12"]
    static let missingCompleted: Set<String> = ["exp_c8", "exp_c9"]
    static let removedFailed: Set<String> = ["exp_f1", "exp_f4"]
    static var updated: Set<String> { removedCompleted.union(missingCompleted).union(removedFailed) }
    static let completedBytes: Int64 = 100 + 200 + 300 + 400 + 500 + 900
    static let failedBytes: Int64 = 50 + 70

    static func job(_ id: String) -> FixtureJob { jobs.first { $0.id == id }! }

    static func make() throws -> Fixture {
        let fixture = try Fixture()
        try fixture.add(jobs)
        return fixture
    }

    /// Checks the database and files after the mixed fixture was swept completely.
    static func expectSwept(_ fixture: Fixture, before: [String: [String]], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let after = try fixture.snapshots()
        for job in jobs {
            if removedCompleted.contains(job.id) || missingCompleted.contains(job.id) {
                #expect(try fixture.record(job.id) == ["expired", "NULL"], "\(job.id)", sourceLocation: sourceLocation)
            } else if removedFailed.contains(job.id) {
                #expect(try fixture.record(job.id) == ["failed", "NULL"], "\(job.id)", sourceLocation: sourceLocation)
            } else {
                #expect(after[job.id] == before[job.id], "\(job.id) changed", sourceLocation: sourceLocation)
            }
            if job.bytes != nil {
                let shouldBeGone = removedCompleted.contains(job.id) || removedFailed.contains(job.id)
                #expect(try fixture.hasFile(job) == !shouldBeGone, "\(job.id) file", sourceLocation: sourceLocation)
            }
        }
    }
}

/// A store that delegates to SQLite but "crashes" at its claim: before the claim commits (nothing written), or
/// right after it committed (the rows claimed, no file removed yet), as a process killed at either point would.
final class CrashingStore: JobStore {
    enum When { case beforeCommit, afterCommit }
    let inner: SQLiteJobStore
    let when: When
    var claimCalls = 0

    init(_ inner: SQLiteJobStore, when: When) {
        self.inner = inner
        self.when = when
    }

    func verifySchema() throws(JobStoreError) { try inner.verifySchema() }

    func candidates(for rule: CleanupRule, cutoff: UTCInstant, now: UTCInstant, after cursor: JobCursor?, limit: Int) throws(JobStoreError)
        -> (jobs: [ExportJob], next: JobCursor?)
    {
        try inner.candidates(for: rule, cutoff: cutoff, now: now, after: cursor, limit: limit)
    }

    func claim(_ claims: [JobClaim]) throws(JobStoreError) -> [Bool] {
        claimCalls += 1
        if when == .afterCommit { _ = try inner.claim(claims) }
        throw JobStoreError(.failed, path: inner.path, message: "simulated crash \(when == .afterCommit ? "after" : "before") the claim committed")
    }

    func isClaimed(_ claims: [JobClaim]) throws(JobStoreError) -> [Bool] { try inner.isClaimed(claims) }
    func countReferencedFiles() throws(JobStoreError) -> Int { try inner.countReferencedFiles() }
    func pressureCandidates(completedBefore cutoff: UTCInstant, now: UTCInstant, after cursor: PressureCursor?, limit: Int) throws(JobStoreError)
        -> [ExportJob]
    {
        try inner.pressureCandidates(completedBefore: cutoff, now: now, after: cursor, limit: limit)
    }
    func jobs(withIDs ids: [String]) throws(JobStoreError) -> [ExportJob] { try inner.jobs(withIDs: ids) }
}

/// due, removed, already missing, failed, refused, undecidable, records updated, changed meanwhile.
func counts(_ c: SweepReport.Counts) -> [Int] {
    [c.due, c.removed, c.alreadyMissing, c.failed, c.refused, c.undecidable, c.recordsUpdated, c.changedMeanwhile]
}

@Suite("sweeper, end to end on disk")
struct SweeperTests {
    let options = SweepOptions(policy: RetentionPolicy(retentionHours: 24, failedAgeHours: 1), batchSize: 3)

    @Test("a mixed fixture: per-rule counts, files removed and kept, records updated")
    func mixed() throws {
        let fixture = try Mixed.make()
        let before = try fixture.snapshots()
        var items: [String: RemovalOutcome] = [:]
        let report = try fixture.sweeper().sweep(options: options, now: fixedNow, sweepID: "test0001", onItem: { items[$0.job.id] = $0.outcome })

        #expect(report.sweepID == "test0001")
        #expect(!report.dryRun && !report.interrupted && report.abortedBy == nil)
        #expect(report.now.iso8601 == "2023-11-18T12:00:00Z")
        let c = report.completed
        #expect(counts(c) == [8, 6, 2, 0, 0, 2, 8, 0])
        #expect(c.bytesFreed == Mixed.completedBytes)
        // exp_c6 (expires_at later) and exp_c7, exp_c13 (within retention) are left out by the candidate query.
        #expect(c.examined == c.due + c.undecidable)
        let f = report.failed
        #expect(counts(f) == [2, 2, 0, 0, 0, 0, 2, 0])
        #expect(f.bytesFreed == Mixed.failedBytes)
        #expect(report.total.removed == 8 && report.total.bytesFreed == Mixed.completedBytes + Mixed.failedBytes)

        #expect(Set(items.keys) == Mixed.updated)
        for id in Mixed.removedCompleted.union(Mixed.removedFailed) {
            #expect(items[id] == .removed(bytes: Int64(Mixed.job(id).bytes!)), "\(id)")
        }
        for id in Mixed.missingCompleted { #expect(items[id] == .alreadyMissing, "\(id)") }

        #expect(report.problems.map(\.jobID).sorted() == ["exp_c10", "exp_c11"])
        #expect(report.problems.allSatisfy { $0.kind == .undecidable && $0.code == "completed_at" })
        #expect(report.problems.first { $0.jobID == "exp_c10" }?.reason.contains("1700145022") == true)
        #expect(report.problems.first { $0.jobID == "exp_c11" }?.reason.contains("'yesterday'") == true)
        try Mixed.expectSwept(fixture, before: before)

        // A second sweep finds nothing more to do, changes nothing, and reports the unreadable rows again.
        let swept = try fixture.snapshots()
        let again = try fixture.sweeper().sweep(options: options, now: fixedNow)
        #expect(again.total.due == 0 && again.total.removed == 0 && again.total.recordsUpdated == 0)
        #expect(again.completed.undecidable == 2)
        #expect(try fixture.snapshots() == swept)
    }

    @Test("a file already gone counts as already missing and its record is updated")
    func alreadyMissing() throws {
        let fixture = try Fixture()
        try fixture.add([
            .init(id: "exp_m1", status: "completed", createdHours: -49, completedAt: sqlText(-48), bytes: nil),
            .init(id: "exp_m2", status: "failed", createdHours: -5, bytes: nil),
        ])
        let report = try fixture.sweeper().sweep(options: options, now: fixedNow)
        #expect(report.completed.alreadyMissing == 1 && report.completed.removed == 0 && report.completed.recordsUpdated == 1)
        #expect(report.failed.alreadyMissing == 1 && report.failed.removed == 0 && report.failed.recordsUpdated == 1)
        #expect(try fixture.record("exp_m1") == ["expired", "NULL"])
        #expect(try fixture.record("exp_m2") == ["failed", "NULL"])
    }

    @Test("a file_path with an embedded NUL or invalid UTF-8 is refused, never shortened or repaired into another name")
    func nulAndInvalidUTF8() throws {
        let fixture = try Fixture()
        try fixture.add([
            .init(id: "exp_n1", status: "completed", createdHours: -49, completedAt: sqlText(-48), bytes: 5),
            .init(id: "exp_u1", status: "completed", createdHours: -49, completedAt: sqlText(-48)),
        ])
        // exp_n1's real file exists; its record names that path followed by a NUL and more bytes.
        let real = try fixture.path(jobID: "exp_n1", created: at(-49))
        let hex = { (bytes: [UInt8]) in bytes.map { String(format: "%02X", $0) }.joined() }
        try fixture.execute("UPDATE export_jobs SET file_path = CAST(X'\(hex(Array(real.utf8) + [0] + Array("x".utf8)))' AS TEXT) WHERE id = 'exp_n1'")
        // exp_u1's file has a name that is not UTF-8 (a 0xFF byte before the extension); its record names it exactly.
        let name = try fixture.fileName(jobID: "exp_u1", created: at(-49)).fileName
        let rawPath = Array((fixture.storage + "/" + name.dropLast(4)).utf8) + [0xFF] + Array(".csv".utf8)
        let fd = (rawPath.map { CChar(bitPattern: $0) } + [0]).withUnsafeBufferPointer { open($0.baseAddress!, O_CREAT | O_WRONLY, 0o600) }
        #expect(fd >= 0)
        close(fd)
        try fixture.execute("UPDATE export_jobs SET file_path = CAST(X'\(hex(rawPath))' AS TEXT) WHERE id = 'exp_u1'")
        // A due record whose id is another (fresh) job's id followed by a NUL, naming that job's file.
        try fixture.add([.init(id: "exp_v1", status: "completed", createdHours: -3, completedAt: sqlText(-2), bytes: 7)])
        let freshFile = try fixture.path(jobID: "exp_v1", created: at(-3))
        try fixture.execute("""
            INSERT INTO export_jobs (id, export_type, format, status, file_path, created_at, completed_at)
            VALUES (CAST(X'\(hex(Array("exp_v1".utf8) + [0] + Array("x".utf8)))' AS TEXT), 'hotels', 'csv', 'completed',
                    '\(freshFile)', '\(at(-49).databaseText)', '\(at(-48).databaseText)')
            """)
        let before = try fixture.snapshots()
        let listingBefore = listing(fixture.storage)

        let report = try fixture.sweeper().sweep(options: options, now: fixedNow)
        #expect(fileExists(freshFile), "a NUL-cut id must not let a record claim another job's file")
        #expect(report.completed.refused == 3)
        #expect(report.completed.removed == 0 && report.completed.alreadyMissing == 0 && report.completed.recordsUpdated == 0)
        #expect(report.problems.first { $0.jobID == "exp_n1" }?.reason.contains("NUL") == true)
        #expect(report.problems.first { $0.jobID == "exp_u1" }?.reason.contains("UTF-8") == true)
        #expect(fileExists(real))
        #expect(listing(fixture.storage) == listingBefore)
        #expect(try fixture.snapshots() == before)
    }

    @Test("records pointing outside the storage directory, or at anything but their own regular file, are refused")
    func refused() throws {
        let fixture = try Fixture()
        let outside = fixture.tmp.sub("outside")
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: false)
        let created = at(-49)
        func name(_ id: String) throws -> String { try fixture.fileName(jobID: id, created: created).fileName }
        func put(_ path: String) { _ = FileManager.default.createFile(atPath: path, contents: Data("keep me".utf8)) }

        // The targets that must survive.
        let outsideFile = outside + "/" + (try name("exp_r1"))
        put(outsideFile)
        let dotDotFile = outside + "/" + (try name("exp_r2"))
        put(dotDotFile)
        let symlinkTarget = outside + "/target.csv"
        put(symlinkTarget)
        let link = fixture.storage + "/" + (try name("exp_r3"))
        #expect(symlink(symlinkTarget, link) == 0)
        let directory = fixture.storage + "/" + (try name("exp_r4"))
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        put(directory + "/inner.csv")
        let loose = fixture.storage + "/hotels_exp_r8_latest.csv"
        put(loose)
        let fifo = fixture.storage + "/" + (try name("exp_r12"))
        #expect(mkfifo(fifo, 0o600) == 0)

        let jobs: [(FixtureJob, String)] = [
            (.init(id: "exp_r1", status: "completed", createdHours: -49, completedAt: sqlText(-48), filePath: .text(outsideFile)), "outside_storage"),
            (.init(id: "exp_r2", status: "completed", createdHours: -49, completedAt: sqlText(-48),
                   filePath: .text(fixture.storage + "/../outside/" + (try name("exp_r2")))), "invalid_path"),
            (.init(id: "exp_r3", status: "completed", createdHours: -49, completedAt: sqlText(-48)), "not_a_regular_file"),
            (.init(id: "exp_r4", status: "completed", createdHours: -49, completedAt: sqlText(-48)), "not_a_regular_file"),
            (.init(id: "exp_r5", status: "completed", createdHours: -49, completedAt: sqlText(-48), filePath: .text(fixture.storage)),
             "storage_directory_itself"),
            (.init(id: "exp_r6", status: "completed", createdHours: -49, completedAt: sqlText(-48), filePath: .text(fixture.storage + "/")),
             "storage_directory_itself"),
            (.init(id: "exp_r7", status: "completed", createdHours: -49, completedAt: sqlText(-48),
                   filePath: .text(try fixture.path(jobID: "exp_k1", created: at(-3)))), "name_mismatch"),
            (.init(id: "exp_r8", status: "completed", createdHours: -49, completedAt: sqlText(-48), filePath: .text(loose)), "not_an_export_file_name"),
            (.init(id: "exp_r9", status: "completed", createdHours: -49, completedAt: sqlText(-48), filePath: .text("")), "empty_path"),
            (.init(id: "exp_r10", status: "failed", createdHours: -5, filePath: .text(outsideFile)), "outside_storage"),
            (.init(id: "exp_r11", status: "completed", createdHours: -49, completedAt: sqlText(-48), filePath: .blob(Array("x".utf8))), "invalid_path"),
            (.init(id: "exp_r12", status: "completed", createdHours: -49, completedAt: sqlText(-48)), "not_a_regular_file"),
        ]
        // A kept job whose file exp_r7 points at, and a due job that is removed normally in the same sweep.
        try fixture.add(jobs.map(\.0) + [
            .init(id: "exp_k1", status: "completed", createdHours: -3, completedAt: sqlText(-2), bytes: 10),
            .init(id: "exp_ok", status: "completed", createdHours: -49, completedAt: sqlText(-48), bytes: 20),
        ])
        let before = try fixture.snapshots()
        let listingBefore = listing(fixture.storage)

        let report = try fixture.sweeper().sweep(options: options, now: fixedNow)
        let refusedCompleted = jobs.filter { $0.0.status == "completed" }.count
        #expect(report.completed.refused == refusedCompleted)
        #expect(report.failed.refused == 1)
        #expect(report.completed.removed == 1 && report.completed.recordsUpdated == 1)
        #expect(report.failed.recordsUpdated == 0)
        for (job, code) in jobs {
            let problem = report.problems.first { $0.jobID == job.id }
            #expect(problem?.kind == .refused, "\(job.id)")
            #expect(problem?.code == code, "\(job.id): \(problem?.reason ?? "no problem reported")")
        }
        let after = try fixture.snapshots()
        for (job, _) in jobs { #expect(after[job.id] == before[job.id], "\(job.id) changed") }
        #expect(after["exp_k1"] == before["exp_k1"])
        #expect(try fixture.record("exp_ok") == ["expired", "NULL"])

        // Everything refused is still in place.
        for path in [outsideFile, dotDotFile, symlinkTarget, directory + "/inner.csv", loose, try fixture.path(jobID: "exp_k1", created: at(-3))] {
            #expect(try String(contentsOfFile: path, encoding: .utf8).count > 0, "\(path)")
        }
        var info = stat()
        #expect(lstat(link, &info) == 0 && info.st_mode & S_IFMT == S_IFLNK)
        #expect(lstat(directory, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR)
        #expect(lstat(fifo, &info) == 0 && info.st_mode & S_IFMT == S_IFIFO)
        #expect(lstat(fixture.storage, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR)
        let okName = try fixture.fileName(jobID: "exp_ok", created: at(-49)).fileName
        #expect(listing(fixture.storage) == listingBefore.filter { !$0.hasPrefix(okName + " ") })

        // The next sweep tries again and reports again.
        let again = try fixture.sweeper().sweep(options: options, now: fixedNow)
        #expect(again.completed.refused == refusedCompleted && again.failed.refused == 1)
        #expect(try fixture.snapshots() == after)
    }

    @Test("a file that cannot be removed after its claim counts as failed with its errno; the claims journal keeps it; the next sweeps retry")
    func removalFails() throws {
        let fixture = try Fixture()
        let stuck = FixtureJob(id: "exp_s1", status: "completed", createdHours: -49, completedAt: sqlText(-48), bytes: 30)
        let fine = FixtureJob(id: "exp_s2", status: "completed", createdHours: -49, completedAt: sqlText(-48), bytes: 40)
        try fixture.add([stuck, fine])
        let stuckPath = try fixture.path(jobID: stuck.id, created: at(stuck.createdHours))
        // Even root cannot unlink an immutable file: a real EPERM from unlinkat, which no check before the claim sees.
        try setImmutable(stuckPath, true)
        defer {
            try? setImmutable(stuckPath, false)
            withExtendedLifetime(fixture) {}
        }
        let journal = fixture.storage

        let report = try fixture.sweeper().sweep(options: options, now: fixedNow)
        #expect(report.completed.due == 2 && report.completed.failed == 1 && report.completed.removed == 1)
        #expect(report.completed.recordsUpdated == 2 && report.completed.bytesFreed == 40)
        let problem = try #require(report.problems.first { $0.jobID == stuck.id })
        #expect(problem.kind == .failed && problem.errno == EPERM && problem.code == "EPERM")
        #expect(problem.reason.contains("EPERM") && problem.reason.contains("claims journal"))
        // The row no longer names the file (the application sees an expired job), the file waits in the journal.
        #expect(try fixture.record(stuck.id) == ["expired", "NULL"])
        #expect(try fixture.hasFile(stuck))
        #expect(claimsJournalExists(in: journal))
        #expect(try !fixture.hasFile(fine))
        #expect(try fixture.record(fine.id) == ["expired", "NULL"])

        // Still immutable: reported again, still kept in the journal.
        let again = try fixture.sweeper().sweep(options: options, now: fixedNow)
        #expect(again.completed.failed == 1 && again.earlierClaims.removed == 0)
        #expect(claimsJournalExists(in: journal))
        #expect(try fixture.hasFile(stuck))

        try setImmutable(stuckPath, false)
        let retry = try fixture.sweeper().sweep(options: options, now: fixedNow)
        #expect(retry.earlierClaims.removed == 1 && retry.earlierClaims.bytesFreed == 30 && retry.completed.failed == 0)
        #expect(try !fixture.hasFile(stuck))
        #expect(!claimsJournalExists(in: journal))
        #expect(try fixture.record(stuck.id) == ["expired", "NULL"])
    }

    @Test("a directory this user cannot write: every due file fails before any claim, every record stays")
    func removalBlockedBeforeClaim() throws {
        guard geteuid() != 0 else { return }  // root writes anyway; FileSystemFaultTests covers EACCES as uid 65534
        let fixture = try Mixed.make()
        let before = try fixture.snapshots()
        chmod(fixture.storage, 0o550)
        defer { chmod(fixture.storage, 0o750) }
        let report = try fixture.sweeper().sweep(options: options, now: fixedNow)
        #expect(report.total.recordsUpdated == 2)  // the two without a file to remove
        #expect(report.total.failed == 8)
        #expect(try fixture.snapshots().filter { !["exp_c8", "exp_c9"].contains($0.key) } == before.filter { !["exp_c8", "exp_c9"].contains($0.key) })
    }

    @Test("a dry run changes nothing, takes no lock, and reports what would be removed", arguments: [true, false])
    func dryRun(readOnlyStore: Bool) throws {
        let fixture = try Mixed.make()
        let bytes = try fixture.databaseBytes()
        let files = listing(fixture.storage)
        let directoryListing = listing(fixture.tmp.path)
        // Another sweeper holds the lock: a dry run does not need it.
        let holder = try fixture.storageDirectory.open()
        try holder.lock(wait: false)
        defer { holder.unlock() }

        var items: [String: RemovalOutcome] = [:]
        let dry = SweepOptions(policy: options.policy, batchSize: options.batchSize, dryRun: true)
        let report = try fixture.sweeper(readOnly: readOnlyStore).sweep(options: dry, now: fixedNow, onItem: { items[$0.job.id] = $0.outcome })
        #expect(report.dryRun)
        #expect(report.completed.due == 8 && report.completed.removed == 6 && report.completed.alreadyMissing == 2)
        #expect(report.completed.bytesFreed == Mixed.completedBytes && report.failed.bytesFreed == Mixed.failedBytes)
        #expect(report.failed.removed == 2)
        #expect(report.total.recordsUpdated == 0)
        #expect(report.completed.undecidable == 2)
        for id in Mixed.removedCompleted.union(Mixed.removedFailed) {
            #expect(items[id] == .wouldRemove(bytes: Int64(Mixed.job(id).bytes!)), "\(id)")
        }
        #expect(Sweeper.summary(report).hasPrefix("dry run finished: 10 due, 8 would be removed"))
        #expect(try fixture.databaseBytes() == bytes)
        #expect(listing(fixture.storage) == files)
        #expect(listing(fixture.tmp.path) == directoryListing)
    }

    // The tests of batching, crashes and cancellation run without the mass-deletion brake, which holds a sweep's
    // claims until its due count is settled (MassDeletionBrakeTests): here each batch is claimed as it is decided.

    @Test("a crash before the claim commits: nothing is removed, nothing updated; the next sweep does the work")
    func crashBeforeClaim() throws {
        let fixture = try Mixed.make()
        let before = try fixture.snapshots()
        let files = listing(fixture.storage)
        let failing = CrashingStore(try fixture.store(), when: .beforeCommit)
        let wide = SweepOptions(policy: options.policy, batchSize: 100, brake: nil)
        let crashed = try fixture.sweeper(store: failing).sweep(options: wide, now: fixedNow)
        #expect(crashed.abortedBy?.contains("simulated crash") == true)
        #expect(crashed.abortCode == .failed)
        #expect(failing.claimCalls == 1)
        #expect(crashed.completed.removed == 0 && crashed.completed.recordsUpdated == 0)
        #expect(crashed.failed.examined == 0)  // the sweep stopped at the first failed batch
        #expect(Sweeper.summary(crashed).hasPrefix("sweep aborted"))
        #expect(try fixture.snapshots() == before)
        // Only the journal is new: it names the batch's claims, none of which committed.
        let isJournal = { (line: String) in OpenStorageDirectory.claimsJournalNames.contains { line.hasPrefix($0 + " ") } }
        #expect(listing(fixture.storage).filter { !isJournal($0) } == files)
        #expect(listing(fixture.storage).contains(where: isJournal))

        let next = try fixture.sweeper().sweep(options: wide, now: fixedNow)
        #expect(next.abortedBy == nil)
        #expect(next.earlierClaims.kept == 6 && next.earlierClaims.removed == 0)
        #expect(next.completed.removed == 6 && next.completed.alreadyMissing == 2 && next.completed.recordsUpdated == 8)
        #expect(next.failed.removed == 2 && next.failed.recordsUpdated == 2)
        try Mixed.expectSwept(fixture, before: before)
        #expect(!claimsJournalExists(in: fixture.storage))
    }

    @Test("a crash after the claim committed: the next sweep removes the claimed files, except where the application changed the row since")
    func crashAfterClaim() throws {
        let fixture = try Mixed.make()
        let before = try fixture.snapshots()
        let failing = CrashingStore(try fixture.store(), when: .afterCommit)
        let wide = SweepOptions(policy: options.policy, batchSize: 100, brake: nil)
        let crashed = try fixture.sweeper(store: failing).sweep(options: wide, now: fixedNow)
        #expect(crashed.abortedBy?.contains("simulated crash after") == true)
        // Rows claimed, files still there: the application never sees a row naming a removed file.
        for id in Mixed.removedCompleted {
            #expect(try fixture.record(id) == ["expired", "NULL"], "\(id)")
            #expect(try fixture.hasFile(Mixed.job(id)), "\(id)")
        }
        // The application re-opens one claimed job before the next sweep (same file_path, a retry).
        let reopened = try #require(Mixed.removedCompleted.sorted().first)
        let job = Mixed.job(reopened)
        let reopenedPath = try fixture.path(type: job.type, jobID: reopened, created: at(job.createdHours), format: job.format)
        try fixture.execute("UPDATE export_jobs SET status = 'processing', file_path = '\(reopenedPath)' WHERE id = '\(reopened)'")

        let next = try fixture.sweeper().sweep(options: wide, now: fixedNow)
        #expect(next.abortedBy == nil)
        #expect(next.earlierClaims.removed == Mixed.removedCompleted.count - 1 && next.earlierClaims.kept == 1)
        #expect(try fixture.hasFile(Mixed.job(reopened)), "the re-opened job's file was removed")
        #expect(try fixture.record(reopened) == ["processing", "'\(reopenedPath)'"])
        for id in Mixed.removedCompleted where id != reopened { #expect(try !fixture.hasFile(Mixed.job(id)), "\(id)") }
        #expect(next.failed.removed == 2 && next.failed.recordsUpdated == 2)
        #expect(!claimsJournalExists(in: fixture.storage))
        _ = before
    }

    @Test("a batch is claimed when it holds batchSize due rows or when its reading took batchMilliseconds, whichever comes first")
    func batchesByRowsAndTime() throws {
        let jobs = (0..<23).map { FixtureJob(id: "exp_b\($0)", status: "completed", createdHours: -49, completedAt: sqlText(-48), bytes: 5) }
        // By rows: 23 due rows, 10 per claim: 3 claim transactions.
        let byRows = try Fixture()
        try byRows.add(jobs)
        let rows = try byRows.sweeper().sweep(options: SweepOptions(policy: options.policy, batchSize: 10, batchMilliseconds: 60_000, brake: nil), now: fixedNow)
        #expect(rows.completed.recordsUpdated == 23 && rows.claimTransactions == 3)
        #expect(rows.longestClaimSeconds > 0 && rows.longestClaimSeconds < 5)
        // By time: every row takes 3 ms to check (isCancelled is asked once per row), so with 1 ms a batch is
        // claimed after each read chunk of 10 rows, never with 23 rows at once.
        let byTime = try Fixture()
        try byTime.add(jobs)
        let timed = try byTime.sweeper().sweep(options: SweepOptions(policy: options.policy, batchSize: 10, batchMilliseconds: 1, brake: nil), now: fixedNow,
                                               isCancelled: { usleep(3_000); return false })
        #expect(timed.completed.recordsUpdated == 23 && timed.claimTransactions == 3)
        let wide = try Fixture()
        try wide.add(jobs)
        let one = try wide.sweeper().sweep(options: SweepOptions(policy: options.policy, batchSize: 100, batchMilliseconds: 60_000, brake: nil), now: fixedNow)
        #expect(one.claimTransactions == 1)
        // A batch size larger than one read: still claimed once, across several reads (read chunks of 1,000 rows).
        let many = (0..<2_500).map { FixtureJob(id: "exp_m\($0)", status: "completed", createdHours: -49, completedAt: sqlText(-48), bytes: nil) }
        let big = try Fixture()
        try big.add(many)
        let large = try big.sweeper().sweep(options: SweepOptions(policy: options.policy, batchSize: 5_000, batchMilliseconds: 60_000, brake: nil), now: fixedNow)
        #expect(large.completed.recordsUpdated == 2_500 && large.claimTransactions == 1)
    }

    @Test("cancellation between files leaves no row half-done, and the next sweep finishes")
    func cancellation() throws {
        let fixture = try Fixture()
        let jobs = (0..<10).map { FixtureJob(id: "exp_n\($0)", status: "completed", createdHours: -49, completedAt: sqlText(-48), bytes: 10 + $0) }
            + [FixtureJob(id: "exp_nf", status: "failed", createdHours: -5, bytes: 5)]
        try fixture.add(jobs)
        let before = try fixture.snapshots()
        var calls = 0
        let cancelAfter = SweepOptions(policy: options.policy, batchSize: 4, brake: nil)
        let report = try fixture.sweeper().sweep(options: cancelAfter, now: fixedNow, isCancelled: {
            calls += 1
            return calls > 6
        })
        #expect(report.interrupted)
        #expect(Sweeper.summary(report).hasPrefix("sweep interrupted"))
        #expect(report.completed.removed == 6 && report.completed.recordsUpdated == 6)
        #expect(report.failed.examined == 0)
        var done = 0
        for job in jobs {
            let gone = try !fixture.hasFile(job)
            if gone {
                done += 1
                #expect(try fixture.record(job.id) == ["expired", "NULL"], "\(job.id): file removed but record not updated")
            } else {
                #expect(try fixture.snapshots()[job.id] == before[job.id], "\(job.id): record changed but file still there")
            }
        }
        #expect(done == 6)

        let next = try fixture.sweeper().sweep(options: cancelAfter, now: fixedNow)
        #expect(!next.interrupted)
        #expect(next.completed.removed == 4 && next.completed.recordsUpdated == 4)
        #expect(next.failed.removed == 1 && next.failed.recordsUpdated == 1)
        for job in jobs {
            #expect(try !fixture.hasFile(job))
            #expect(try fixture.record(job.id) == [job.status == "completed" ? "expired" : "failed", "NULL"])
        }
    }

    @Test("a row the application changes during the sweep is left alone")
    func changedMeanwhile() throws {
        let fixture = try Fixture()
        try fixture.add([
            .init(id: "exp_x1", status: "completed", createdHours: -49, completedAt: sqlText(-48), bytes: 10),
            .init(id: "exp_x2", status: "completed", createdHours: -49, completedAt: sqlText(-48), bytes: 10),
        ])
        let sweeper = try fixture.sweeper()
        sweeper.beforeClaim = { _ in
            try? fixture.execute("UPDATE export_jobs SET file_path = '/srv/new.csv', status = 'processing' WHERE id = 'exp_x1'")
        }
        let report = try sweeper.sweep(options: options, now: fixedNow)
        #expect(report.completed.changedMeanwhile == 1 && report.completed.recordsUpdated == 1)
        #expect(try fixture.record("exp_x1") == ["processing", "'/srv/new.csv'"])
        #expect(try fixture.hasFile(FixtureJob(id: "exp_x1", status: "completed", createdHours: -49)), "the changed job's file was removed")
        #expect(try fixture.record("exp_x2") == ["expired", "NULL"])
    }

    @Test("a second sweep while the first holds the lock is refused with .locked")
    func lock() throws {
        let fixture = try Mixed.make()
        var second: Result<SweepReport, ExportStorageError>?
        var secondSnapshot: [String: [String]] = [:]
        let first = try fixture.sweeper().sweep(options: options, now: fixedNow, onItem: { _ in
            guard second == nil else { return }
            let other = try! fixture.sweeper()
            second = Result { () throws(ExportStorageError) in try other.sweep(options: options, now: fixedNow) }
            secondSnapshot = (try? fixture.snapshots()) ?? [:]
        })
        let error = try #require(second.flatMap { result -> ExportStorageError? in
            if case .failure(let error) = result { return error }
            return nil
        })
        #expect(error.code == .locked)
        #expect(error.message.contains(fixture.storage))
        #expect(!secondSnapshot.isEmpty)
        #expect(first.total.removed == 8 && first.total.recordsUpdated == 10)

        // The lock is released when the sweep ends.
        let third = try fixture.sweeper().sweep(options: options, now: fixedNow)
        #expect(third.total.due == 0)
        let probe = try fixture.storageDirectory.open()
        try probe.lock(wait: false)
        probe.unlock()
    }

    @Test("a waiting sweep polls the lock, answers isCancelled while it waits, and sweeps once the lock is free")
    func waitForLock() throws {
        let fixture = try Mixed.make()
        let holder = try fixture.storageDirectory.open()
        try holder.lock(wait: false)
        var waitOptions = options
        waitOptions.waitForLock = true

        // Cancelled while waiting: nothing is touched.
        let before = try fixture.snapshots()
        var asked = 0
        let cancelled = try fixture.sweeper().sweep(options: waitOptions, now: fixedNow, isCancelled: {
            asked += 1
            return asked >= 3
        })
        #expect(cancelled.interrupted)
        #expect(asked == 3, "isCancelled is asked between lock attempts")
        #expect(cancelled.total.examined == 0)
        #expect(try fixture.snapshots() == before)

        // Released while waiting: the sweep goes on.
        asked = 0
        let report = try fixture.sweeper().sweep(options: waitOptions, now: fixedNow, isCancelled: {
            asked += 1
            if asked == 2 { holder.unlock() }
            return false
        })
        #expect(!report.interrupted)
        #expect(report.total.removed == 8 && report.total.recordsUpdated == 10)
    }
}
