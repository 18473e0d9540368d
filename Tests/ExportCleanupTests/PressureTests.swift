import ExportCleanup
import ExportCleanupDemo
import ExportStorage
import Foundation
import TestSupport
import Testing

@Suite("disk pressure")
struct PressureTests {
    func space(free: Int64, total: Int64 = 1_000_000, freeInodes: Int64 = 1000, totalInodes: Int64 = 1000) -> PressureTarget.State {
        .init(space: FileSystemSpace(totalBytes: total, freeBytes: free, totalInodes: totalInodes, freeInodes: freeInodes), exportBytes: nil)
    }

    @Test("shortfall and violations (pure): bytes, a percentage of bytes and of inodes, the exports' own bytes")
    func shortfall() {
        let bytes = PressureTarget(keepFree: .bytes(300_000))
        #expect(bytes.shortfall(space(free: 200_000)) == (100_000, 0))
        #expect(bytes.shortfall(space(free: 400_000)) == (0, 0) && bytes.violations(space(free: 400_000)).isEmpty)
        let percent = PressureTarget(keepFree: .percent(10))
        #expect(percent.shortfall(space(free: 50_000, freeInodes: 40)) == (50_000, 60))
        #expect(percent.violations(space(free: 50_000, freeInodes: 40)).count == 2)
        var used = space(free: 900_000)
        used.exportBytes = 700_000
        #expect(PressureTarget(maxUse: .bytes(500_000)).shortfall(used) == (200_000, 0))
        #expect(PressureTarget(maxUse: .percent(80)).shortfall(used) == (0, 0))
        #expect(!PressureTarget().isActive && PressureTarget(maxUse: .bytes(1)).isActive)
    }

    @Test("eligible (pure): completed with a file, past the minimum retention, expires_at not ahead")
    func eligibility() {
        let target = PressureTarget(keepFree: .bytes(1), minRetentionHours: 1)
        func job(_ status: JobStatus = .completed, completed: StoredValue, expires: StoredValue = .null, path: StoredValue = "x") -> ExportJob {
            ExportJob(id: "exp_p1", status: status, filePath: path, createdAt: sqlText(-50), completedAt: completed, expiresAt: expires)
        }
        #expect(target.isEligible(job(completed: sqlText(-2)), now: fixedNow))
        #expect(target.isEligible(job(completed: sqlText(-1)), now: fixedNow))
        #expect(!target.isEligible(job(completed: sqlText(-0.5)), now: fixedNow))
        #expect(!target.isEligible(job(completed: sqlText(-2), expires: sqlText(1)), now: fixedNow))
        #expect(target.isEligible(job(completed: sqlText(-2), expires: sqlText(-1)), now: fixedNow))
        #expect(!target.isEligible(job(completed: sqlText(-2), expires: "soon"), now: fixedNow))
        #expect(!target.isEligible(job(completed: "yesterday"), now: fixedNow))
        #expect(!target.isEligible(job(completed: sqlText(-2), path: .null), now: fixedNow))
        #expect(!target.isEligible(job(.failed, completed: sqlText(-2)), now: fixedNow))
    }

    /// Ten exports of 1,000 bytes completed 11 to 2 hours ago (`exp_p0` promised until tomorrow), one half an hour ago.
    func fixture() throws -> Fixture {
        let fixture = try Fixture()
        var jobs: [FixtureJob] = (0..<10).map { index in
            FixtureJob(id: "exp_p\(index)", status: "completed", createdHours: -12 + Double(index), completedAt: sqlText(-11 + Double(index)),
                       expiresAt: index == 0 ? sqlText(24) : .null, bytes: 1000)
        }
        jobs.append(FixtureJob(id: "exp_pnew", status: "completed", createdHours: -1, completedAt: sqlText(-0.5), bytes: 1000))
        // A completed_at in another spelling sorts by its instant, not its text: 7.5 hours ago, between p3 and p4.
        jobs.append(FixtureJob(id: "exp_piso", status: "completed", createdHours: -8, completedAt: .text(at(-7.5).iso8601), bytes: 1000))
        try fixture.add(jobs)
        return fixture
    }

    func gone(_ fixture: Fixture) throws -> [String] {
        try fixture.records().filter { $0.value == ["expired", "NULL"] }.keys.sorted()
    }

    @Test("EXPORT_CLEANUP_MAX_USE: the oldest eligible exports go, by completed_at's instant, until the export bytes fit")
    func maxUse() throws {
        let fixture = try fixture()
        var removedOrder: [String] = []
        let options = SweepOptions(pressure: PressureTarget(maxUse: .bytes(6000), minRetentionHours: 1))
        let report = try fixture.sweeper().sweep(options: options, now: fixedNow, onItem: { removedOrder.append($0.job.id) })
        #expect(report.total.due == 0, "nothing is due by the rules")
        let pressure = try #require(report.pressure)
        #expect(pressure.removed == 6 && pressure.bytesFreed == 6000 && pressure.targetReached, "\(pressure)")
        #expect(removedOrder == ["exp_p1", "exp_p2", "exp_p3", "exp_piso", "exp_p4", "exp_p5"])
        #expect(try gone(fixture) == ["exp_p1", "exp_p2", "exp_p3", "exp_p4", "exp_p5", "exp_piso"])
        #expect(pressure.before.exportBytes == 12_000 && pressure.after?.exportBytes == 6000)
        #expect(report.completed.removed == 0, "pressure is counted on its own")
        #expect(Sweeper.summary(report).contains("pressure freed 6000 bytes (6 files), target reached"))
    }

    @Test("a target out of reach: every eligible export goes, never a recent one or one promised longer; not reached")
    func unreachable() throws {
        let fixture = try fixture()
        let report = try fixture.sweeper().sweep(options: SweepOptions(pressure: PressureTarget(maxUse: .bytes(500))), now: fixedNow)
        #expect(report.pressure?.removed == 10 && report.pressure?.targetReached == false)
        #expect(try fixture.record("exp_p0")?[0] == "completed" && fixture.record("exp_pnew")?[0] == "completed")
    }

    @Test("a dry run lists what pressure would remove and changes nothing")
    func dryRun() throws {
        let fixture = try fixture()
        let before = try fixture.snapshots()
        let report = try fixture.sweeper(readOnly: true).sweep(
            options: SweepOptions(dryRun: true, pressure: PressureTarget(maxUse: .bytes(9000))), now: fixedNow)
        #expect(report.pressure?.removed == 3 && report.pressure?.targetReached == true)
        #expect(try fixture.snapshots() == before)
    }

    @Test("KEEP_FREE through the measured space (injected): the claim is guarded; a row the application changed keeps its file")
    func keepFreeGuarded() throws {
        let fixture = try fixture()
        let sweeper = try fixture.sweeper()
        // A file system of 20,000 bytes holding only the export files.
        let storage = fixture.storage
        sweeper.spaceSource = { _ in
            let used = ((try? FileManager.default.contentsOfDirectory(atPath: storage)) ?? []).count * 1000
            return FileSystemSpace(totalBytes: 20_000, freeBytes: Int64(20_000 - used), totalInodes: 0, freeInodes: 0)
        }
        sweeper.beforeClaim = { claims in
            // The application extends the oldest candidate's expires_at before the claim.
            if claims.contains(where: { $0.job.id == "exp_p1" }) {
                try? fixture.execute("UPDATE export_jobs SET expires_at = '\(at(48).databaseText)' WHERE id = 'exp_p1'")
            }
        }
        let report = try sweeper.sweep(options: SweepOptions(pressure: PressureTarget(keepFree: .bytes(11_000))), now: fixedNow)
        let pressure = try #require(report.pressure)
        #expect(pressure.before.space.freeBytes == 8000)
        #expect(pressure.changedMeanwhile == 1 && pressure.targetReached, "\(pressure)")
        #expect(try fixture.record("exp_p1")?[0] == "completed")
        #expect(fileExists(try fixture.path(jobID: "exp_p1", created: at(-11))))
        #expect(pressure.after?.space.freeBytes ?? 0 >= 11_000)
    }
}
