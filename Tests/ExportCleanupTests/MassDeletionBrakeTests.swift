import ExportCleanup
import ExportCleanupDemo
import ExportStorage
import Foundation
import TestSupport
import Testing

/// A store that counts the calls the sweeper makes (to show what the brake costs).
final class CountingStore: JobStore {
    let inner: SQLiteJobStore
    var candidateCalls = 0
    var referencedCalls = 0
    var claimCalls = 0

    init(_ inner: SQLiteJobStore) { self.inner = inner }

    func verifySchema() throws(JobStoreError) { try inner.verifySchema() }
    func candidates(for rule: CleanupRule, cutoff: UTCInstant, now: UTCInstant, after cursor: JobCursor?, limit: Int) throws(JobStoreError)
        -> (jobs: [ExportJob], next: JobCursor?)
    {
        candidateCalls += 1
        return try inner.candidates(for: rule, cutoff: cutoff, now: now, after: cursor, limit: limit)
    }
    func claim(_ claims: [JobClaim]) throws(JobStoreError) -> [Bool] {
        claimCalls += 1
        return try inner.claim(claims)
    }
    func isClaimed(_ claims: [JobClaim]) throws(JobStoreError) -> [Bool] { try inner.isClaimed(claims) }
    func countReferencedFiles() throws(JobStoreError) -> Int {
        referencedCalls += 1
        return try inner.countReferencedFiles()
    }
    func pressureCandidates(completedBefore cutoff: UTCInstant, now: UTCInstant, after cursor: PressureCursor?, limit: Int) throws(JobStoreError)
        -> [ExportJob]
    {
        try inner.pressureCandidates(completedBefore: cutoff, now: now, after: cursor, limit: limit)
    }
    func jobs(withIDs ids: [String]) throws(JobStoreError) -> [ExportJob] { try inner.jobs(withIDs: ids) }
}

extension Fixture {
    /// `count` completed jobs with files, completed `hoursAgo` each (spread by `index × spread` hours further back),
    /// plus `failed` failed jobs with a partial file created two hours ago.
    func addCompleted(_ prefix: String, count: Int, hoursAgo: Double, spread: Double = 0, failed: Int = 0) throws {
        var rows: [ApplicationDatabase.Row] = []
        for index in 0..<count {
            let id = "\(prefix)\(index)"
            let completed = at(-hoursAgo - Double(index) * spread)
            let path = try writeExport(id, stamp: completed)
            rows.append(.init(id: id, status: "completed", filePath: .text(path), createdAt: ApplicationDatabase.text(completed),
                              completedAt: ApplicationDatabase.text(completed)))
        }
        for index in 0..<failed {
            let id = "\(prefix)f\(index)"
            let path = try writeExport(id, stamp: at(-2))
            rows.append(.init(id: id, status: "failed", filePath: .text(path), createdAt: ApplicationDatabase.text(at(-2))))
        }
        try insert(rows)
    }

    /// The files in the storage directory (no claims journal).
    var exportFileCount: Int { storageListing().filter { !$0.hasPrefix(".") }.count }
}

@Suite("mass-deletion brake")
struct MassDeletionBrakeTests {
    // MARK: The pure decision

    @Test("trips only above both the minimum and the percentage; 100 percent never trips")
    func decision() {
        let brake = MassDeletionBrake()  // 90 %, 1,000 files
        #expect(!brake.trips(dueFiles: 1000, referencedFiles: 1000), "not more than the minimum")
        #expect(brake.trips(dueFiles: 1001, referencedFiles: 1001))
        #expect(brake.trips(dueFiles: 1001, referencedFiles: 1112), "90.01%")
        #expect(!brake.trips(dueFiles: 1001, referencedFiles: 1113), "89.9%")
        #expect(!brake.trips(dueFiles: 900, referencedFiles: 1000), "exactly 90% is allowed")
        #expect(!brake.trips(dueFiles: 1440, referencedFiles: 2160), "two days of downtime with 24 h retention: 67%")
        #expect(!brake.needsReferencedCount(dueFiles: 1000) && brake.needsReferencedCount(dueFiles: 1001))
        #expect(!MassDeletionBrake(maximumPercent: 100, minimumFiles: 0).trips(dueFiles: 5_000_000, referencedFiles: 5_000_000))
        #expect(MassDeletionBrake(maximumPercent: 0, minimumFiles: 0).trips(dueFiles: 1, referencedFiles: 1_000_000))
        #expect(MassDeletionBrake.percent(1200, of: 1300) == 92)
    }

    // MARK: The count

    @Test("the referenced count: completed and failed rows with a file_path, nothing else")
    func referencedCount() throws {
        let fixture = try Fixture()
        try fixture.add([
            .init(id: "exp_c1", status: "completed", createdHours: -49, completedAt: sqlText(-48), bytes: 1),
            .init(id: "exp_c2", status: "completed", createdHours: -3, completedAt: sqlText(-2), bytes: nil),  // names a missing file
            .init(id: "exp_c3", status: "completed", createdHours: -3, completedAt: sqlText(-2), bytes: nil, hasPath: false),
            .init(id: "exp_f1", status: "failed", createdHours: -3, bytes: 1),
            .init(id: "exp_f2", status: "failed", createdHours: -3, bytes: nil, hasPath: false),
            .init(id: "exp_p1", status: "pending", createdHours: -3, bytes: 1),
            .init(id: "exp_e1", status: "expired", createdHours: -300, bytes: nil),
        ])
        #expect(try fixture.store().countReferencedFiles() == 3)
        _ = try fixture.store().createOptionalIndexes()
        let indexed = try fixture.store()
        #expect(indexed.usesFailedIndex)
        #expect(try indexed.countReferencedFiles() == 3)
    }

    // MARK: The two accidents it exists for

    /// 1,200 completed exports of the last 20 hours and 100 failed ones: a day's worth under the default retention.
    func dayOfExports() throws -> Fixture {
        let fixture = try Fixture()
        try fixture.addCompleted("exp_d", count: 1200, hoursAgo: 0.5, spread: 20.0 / 1200, failed: 100)
        return fixture
    }

    func expectUntouched(_ fixture: Fixture, _ before: [String: [String]], _ report: SweepReport, files: Int = 1300,
                         sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(report.refusedByBrake, sourceLocation: sourceLocation)
        #expect(report.total.removed == 0 && report.total.recordsUpdated == 0, "\(report.total)", sourceLocation: sourceLocation)
        #expect(try fixture.snapshots() == before, "no row changed", sourceLocation: sourceLocation)
        #expect(fixture.exportFileCount == files, "no file removed", sourceLocation: sourceLocation)
        #expect(!claimsJournalExists(in: fixture.storage), sourceLocation: sourceLocation)
    }

    @Test("the clock years ahead: every file would be due; the sweep removes nothing and says why", arguments: [2000, 50])
    func clockYearsAhead(batchSize: Int) throws {
        let fixture = try dayOfExports()
        let before = try fixture.snapshots()
        let store = CountingStore(try fixture.store())
        let options = SweepOptions(policy: RetentionPolicy(), batchSize: batchSize)
        let report = try fixture.sweeper(store: store).sweep(options: options, now: fixedNow.adding(hours: 5 * 8766))
        try expectUntouched(fixture, before, report)
        let check = try #require(report.massDeletion)
        #expect(check.dueFiles == 1300 && check.referencedFiles == 1300 && check.tripped)
        #expect(check.explanation.contains("would remove 1300 of the 1300 export files"), "\(check.explanation)")
        #expect(check.explanation.contains("EXPORT_CLEANUP_MAX_DELETE_PERCENT=90%") && check.explanation.contains("--allow-mass-deletion"))
        #expect(store.claimCalls == 0, "not one claim was made")
        #expect(store.referencedCalls == 1)
        #expect(Sweeper.summary(report).hasPrefix("sweep refused by the mass-deletion brake"))
    }

    @Test("retention set to 0.01 hours by mistake: refused the same way")
    func retentionOfMinutes() throws {
        let fixture = try dayOfExports()
        let before = try fixture.snapshots()
        let options = SweepOptions(policy: RetentionPolicy(retentionHours: 0.01, failedAgeHours: 1), batchSize: 100)
        let report = try fixture.sweeper().sweep(options: options, now: fixedNow)
        try expectUntouched(fixture, before, report)
        #expect(report.massDeletion?.dueFiles == 1300)
    }

    @Test("on purpose (--allow-mass-deletion: no brake): the same sweep goes through")
    func allowed() throws {
        let fixture = try dayOfExports()
        let options = SweepOptions(policy: RetentionPolicy(retentionHours: 0.01, failedAgeHours: 1), batchSize: 100, brake: nil)
        let report = try fixture.sweeper().sweep(options: options, now: fixedNow)
        #expect(!report.refusedByBrake && report.massDeletion == nil)
        #expect(report.total.removed == 1300 && report.total.recordsUpdated == 1300)
        #expect(fixture.exportFileCount == 0)
    }

    @Test("a dry run says a real sweep would be refused")
    func dryRun() throws {
        let fixture = try dayOfExports()
        let before = try fixture.snapshots()
        let options = SweepOptions(policy: RetentionPolicy(retentionHours: 0.01, failedAgeHours: 1), dryRun: true)
        let report = try fixture.sweeper(readOnly: true).sweep(options: options, now: fixedNow)
        #expect(report.refusedByBrake && report.massDeletion?.referencedFiles == 1300)
        #expect(Sweeper.summary(report).contains("a real sweep would be refused"))
        #expect(try fixture.snapshots() == before && fixture.exportFileCount == 1300)
    }

    // MARK: What never trips it, and what it costs

    @Test("an hourly sweep: one hour's worth due; no referenced count, no second read, claimed once")
    func hourlySweep() throws {
        let fixture = try Fixture()
        // 25 hours of exports, 60 an hour: the hour past retention is due.
        try fixture.addCompleted("exp_h", count: 1500, hoursAgo: 0, spread: 25.0 / 1500)
        let store = CountingStore(try fixture.store())
        let report = try fixture.sweeper(store: store).sweep(options: SweepOptions(), now: fixedNow)
        #expect(!report.refusedByBrake)
        #expect(abs(report.total.removed - 60) <= 1, "\(report.total)")
        #expect(report.massDeletion?.referencedFiles == nil, "below the minimum: the count is never asked for")
        #expect(store.referencedCalls == 0)
        let unbraked = CountingStore(try fixture.store())
        _ = try fixture.sweeper(store: unbraked).sweep(options: SweepOptions(brake: nil), now: fixedNow)
        #expect(store.candidateCalls == unbraked.candidateCalls, "the brake reads nothing twice")
        #expect(store.claimCalls == 1)
    }

    @Test("a sweep after two days of downtime: 67% of the files due; allowed, counted once, everything due removed")
    func afterDowntime() throws {
        let fixture = try Fixture()
        // 72 hours of exports, 30 an hour, the daemon down for the last 48: 1,440 of 2,160 due.
        try fixture.addCompleted("exp_w", count: 2160, hoursAgo: 0, spread: 72.0 / 2160)
        let store = CountingStore(try fixture.store())
        let report = try fixture.sweeper(store: store).sweep(options: SweepOptions(batchSize: 200), now: fixedNow)
        #expect(!report.refusedByBrake)
        let check = try #require(report.massDeletion)
        #expect(check.referencedFiles == 2160 && !check.tripped)
        #expect(abs(check.dueFiles - 1440) <= 1, "\(check.dueFiles)")
        #expect(report.total.removed == check.dueFiles)
        #expect(store.referencedCalls == 1)
        #expect(fixture.exportFileCount == 2160 - check.dueFiles)
    }

    @Test("a small table never trips it, however much is due")
    func smallTable() throws {
        let fixture = try Fixture()
        try fixture.addCompleted("exp_s", count: 300, hoursAgo: 0.5)
        let report = try fixture.sweeper().sweep(options: SweepOptions(policy: RetentionPolicy(retentionHours: 0.01)), now: fixedNow)
        #expect(!report.refusedByBrake && report.total.removed == 300)
    }

    @Test("stopped before the count is settled: nothing is claimed, the next sweep decides")
    func interruptedWhileHolding() throws {
        let fixture = try dayOfExports()
        let before = try fixture.snapshots()
        var asked = 0
        let options = SweepOptions(policy: RetentionPolicy(retentionHours: 0.01, failedAgeHours: 1), batchSize: 50)
        let report = try fixture.sweeper().sweep(options: options, now: fixedNow, isCancelled: {
            asked += 1
            return asked > 500
        })
        #expect(report.interrupted && report.total.removed == 0)
        #expect(try fixture.snapshots() == before)
    }
}
