import ExportCleanup
import Foundation
import TestSupport
import Testing

@Suite("bounded sweeps (EXPORT_CLEANUP_MAX_FILES_PER_SWEEP, EXPORT_CLEANUP_MAX_SWEEP_SECONDS)")
struct BoundedSweepTests {
    @Test("a file bound: each sweep removes at most N files, commits them, and says how many are still due")
    func fileBound() throws {
        let fixture = try Fixture()
        try fixture.addCompleted("exp_b", count: 250, hoursAgo: 30)
        try fixture.addCompleted("exp_r", count: 50, hoursAgo: 1)
        let options = SweepOptions(batchSize: 40, maxFiles: 100)
        let first = try fixture.sweeper().sweep(options: options, now: fixedNow)
        #expect(first.boundReached == .files && first.stillDue == 150, "\(first.total) \(String(describing: first.stillDue))")
        #expect(first.total.removed == 100 && first.total.recordsUpdated == 100 && first.total.due == 100)
        #expect(Sweeper.summary(first).contains("stopped at its file bound, 150 still due"))
        #expect(fixture.exportFileCount == 200)
        let second = try fixture.sweeper().sweep(options: options, now: fixedNow)
        #expect(second.boundReached == .files && second.stillDue == 50 && second.total.removed == 100)
        let third = try fixture.sweeper().sweep(options: options, now: fixedNow)
        #expect(third.boundReached == nil && third.total.removed == 50)
        #expect(fixture.exportFileCount == 50)
        // No row half-done: every removed file's record is expired.
        #expect(try fixture.records().filter { $0.key.hasPrefix("exp_b") }.values.allSatisfy { $0 == ["expired", "NULL"] })
    }

    @Test("a bound met exactly by the last due files is not a stop")
    func exactBound() throws {
        let fixture = try Fixture()
        try fixture.addCompleted("exp_x", count: 30, hoursAgo: 30)
        let report = try fixture.sweeper().sweep(options: SweepOptions(maxFiles: 30), now: fixedNow)
        #expect(report.boundReached == nil && report.total.removed == 30)
    }

    @Test("without the brake's count (brake off), a stop before the end says more may be due")
    func unknownRemainder() throws {
        let fixture = try Fixture()
        try fixture.addCompleted("exp_u", count: 200, hoursAgo: 30)
        let report = try fixture.sweeper().sweep(options: SweepOptions(batchSize: 20, brake: nil, maxFiles: 50), now: fixedNow)
        #expect(report.boundReached == .files && report.stillDue == nil && report.total.removed == 50)
        #expect(Sweeper.summary(report).contains("more may be due"))
    }

    @Test("a backlog past the brake's minimum: the count made for the brake gives the exact remainder")
    func backlogCounted() throws {
        let fixture = try Fixture()
        try fixture.addCompleted("exp_k", count: 1500, hoursAgo: 30)
        try fixture.addCompleted("exp_n", count: 600, hoursAgo: 1)
        let report = try fixture.sweeper().sweep(options: SweepOptions(batchSize: 200, maxFiles: 300), now: fixedNow)
        #expect(!report.refused && report.massDeletion?.dueFiles == 1500)
        #expect(report.boundReached == .files && report.total.removed == 300 && report.stillDue == 1200)
    }

    @Test("a time bound: the sweep commits the batch in hand and stops; the next one goes on")
    func timeBound() throws {
        let fixture = try Fixture()
        try fixture.addCompleted("exp_t", count: 200, hoursAgo: 30)
        let options = SweepOptions(batchSize: 10, brake: nil, maxSeconds: 0.05)
        let report = try fixture.sweeper().sweep(options: options, now: fixedNow, isCancelled: { usleep(2_000); return false })
        #expect(report.boundReached == .seconds)
        #expect(report.total.removed > 0 && report.total.removed < 200, "\(report.total)")
        #expect(report.total.removed == report.total.recordsUpdated)
        #expect(fixture.exportFileCount == 200 - report.total.removed)
        let rest = try fixture.sweeper().sweep(options: SweepOptions(brake: nil), now: fixedNow)
        #expect(rest.total.removed == 200 - report.total.removed && fixture.exportFileCount == 0)
    }
}
