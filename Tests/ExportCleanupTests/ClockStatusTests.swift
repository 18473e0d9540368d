import ExportCleanup
import ExportStorage
import Foundation
import TestSupport
import Testing

@Suite("clock check (EXPORT_CLEANUP_REQUIRE_SYNCED_CLOCK)")
struct ClockStatusTests {
    @Test("adjtimex's answer read purely: TIME_ERROR or STA_UNSYNC is not synchronised")
    func interpretation() {
        #expect(KernelClockStatus.interpret(state: 0, status: 0) == .synchronized)  // TIME_OK
        #expect(KernelClockStatus.interpret(state: 1, status: 0x2001) == .synchronized)  // TIME_INS, STA_PLL|STA_NANO
        #expect(!KernelClockStatus.interpret(state: 5, status: 0).isSynchronized)  // TIME_ERROR
        #expect(!KernelClockStatus.interpret(state: 0, status: 0x0040).isSynchronized)  // STA_UNSYNC
        #expect(!KernelClockStatus.interpret(state: 0, status: 0x2041).isSynchronized)
        #expect(!ClockSync.unknown(errno: 1).isSynchronized)
    }

    @Test("the real reader asks the kernel without error (and changes nothing: modes = 0)")
    func kernel() {
        let first = KernelClockStatus().clockSync()
        if case .unknown(let code) = first { Issue.record("adjtimex failed: errno \(code)") }
        #expect(KernelClockStatus().clockSync() == first)
    }

    func fixture() throws -> Fixture {
        let fixture = try Fixture()
        try fixture.add([
            .init(id: "exp_k1", status: "completed", createdHours: -49, completedAt: sqlText(-48), bytes: 10),
            .init(id: "exp_k2", status: "failed", createdHours: -5, bytes: 10),
        ])
        return fixture
    }

    @Test("required and not synchronised: the sweep removes nothing and says what the kernel said")
    func unsynchronized() throws {
        let fixture = try fixture()
        let before = try fixture.snapshots()
        let sweeper = try fixture.sweeper()
        sweeper.clockStatus = FixedClockStatus(.unsynchronized(reason: "STA_UNSYNC set in the kernel's clock status"))
        let report = try sweeper.sweep(options: SweepOptions(requireSyncedClock: true), now: fixedNow)
        #expect(report.refused && report.clockNotSynchronized?.contains("STA_UNSYNC") == true)
        #expect(report.total.examined == 0 && report.total.removed == 0)
        #expect(try fixture.snapshots() == before)
        #expect(fixture.storageListing().count == 2)
        #expect(Sweeper.summary(report).hasPrefix("sweep refused: the clock is not synchronised"))
        // Unknown (adjtimex failed) is refused too.
        sweeper.clockStatus = FixedClockStatus(.unknown(errno: 1))
        #expect(try sweeper.sweep(options: SweepOptions(requireSyncedClock: true), now: fixedNow).refused)
    }

    @Test("synchronised, or not required (the default): the sweep goes ahead")
    func synchronizedOrNotRequired() throws {
        let fixture = try fixture()
        let sweeper = try fixture.sweeper()
        sweeper.clockStatus = FixedClockStatus(.unsynchronized(reason: "TIME_ERROR"))
        let notRequired = try sweeper.sweep(options: SweepOptions(), now: fixedNow)
        #expect(!notRequired.refused && notRequired.total.removed == 2)
        let other = try self.fixture()
        let synced = try other.sweeper()
        synced.clockStatus = FixedClockStatus(.synchronized)
        let report = try synced.sweep(options: SweepOptions(requireSyncedClock: true), now: fixedNow)
        #expect(!report.refused && report.total.removed == 2)
    }
}
