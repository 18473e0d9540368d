import ExportCleanup
import Foundation
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension Reliability {
    /// kill -9 of `export-cleanup sweep` at seeded random points, then one more sweep: no file may be gone while
    /// its record still names it, nothing that is not due may be gone, and the next sweep finishes every claim.
    @Suite struct CrashConsistencyTests {
        /// Kills delivered while the sweep was running (trials where the sweep had already exited do not count).
        static var trials: Int { Int(ProcessInfo.processInfo.environment["RELIABILITY_KILL_TRIALS"] ?? "") ?? 32 }
        static let duePerTrial = 2_400
        static let dueFailedPerTrial = 200
        static let keepPerTrial = 140
        static let trialsPerFixture = 4

        @Test("kill -9 at random points of sweeps over thousands of due jobs, then one clean sweep: all invariants hold")
        func killNine() throws {
            let seed = ReliabilitySeed.value()
            print("[reliability] CrashConsistencyTests seed: \(seed) (replay with RELIABILITY_SEED=\(seed))")
            var random = SeededGenerator(seed: seed)
            let batch = ["--batch-size", "50"]

            // Calibrate: how long one uninterrupted sweep of a trial's worth of jobs takes, start to exit.
            // Two rounds; the faster counts (the first pays for cold caches).
            let calibration = try Fixture(memory: true)
            calibration.touchConfig()
            var durations: [Double] = []
            for round in 0..<2 {
                try calibration.addGeneration("cal\(round)", due: Self.duePerTrial, dueFailed: Self.dueFailedPerTrial, keep: Self.keepPerTrial)
                let full = try Binary.sweep(calibration, batch)
                #expect(full.status == 0, "\(full.stderr)")
                durations.append(full.seconds)
            }
            #expect(try calibration.violations(.final) == [])
            var spread = max((durations.min() ?? 0) * 1.1, 0.05)
            print("[reliability] one sweep of \(Self.duePerTrial + Self.dueFailedPerTrial) due jobs: \(durations.map { String(format: "%.3f", $0) }) s; kill delays drawn from 0...\(String(format: "%.3f", spread)) s")

            var fixture: Fixture?
            var killed = 0, attempts = 0, missed = 0, interruptedMidway = 0
            var fractions: [Double] = []
            let start = Date()
            while killed < Self.trials && attempts < Self.trials * 3 {
                if attempts % Self.trialsPerFixture == 0 {
                    // Alternate the application's journal modes: rollback journal (the default) and WAL.
                    fixture = try Fixture(journalMode: (attempts / Self.trialsPerFixture) % 2 == 0 ? "delete" : "wal", memory: true)
                    fixture?.touchConfig()
                }
                guard let fixture else { break }
                attempts += 1
                let tag = "t\(attempts)"
                try fixture.addGeneration(tag, due: Self.duePerTrial, dueFailed: Self.dueFailedPerTrial, keep: Self.keepPerTrial)
                let delay = Double.random(in: 0...spread, using: &random)

                let sweep = try BackgroundProcess(["sweep"] + fixture.flags + batch)
                usleep(UInt32(delay * 1_000_000))
                kill(sweep.pid, SIGKILL)
                sweep.process.waitUntilExit()
                let wasKilled = sweep.process.terminationReason == .uncaughtSignal && sweep.process.terminationStatus == SIGKILL

                // Before the clean sweep, the only disagreement allowed is "record claimed, file not yet removed".
                let before = try fixture.violations(.interrupted)
                #expect(before == [], "seed \(seed) trial \(attempts) (delay \(delay) s): \(before)")
                let (gone, updated) = try fixture.progress(prefix: tag + "_")
                let due = Self.duePerTrial + Self.dueFailedPerTrial
                if wasKilled {
                    killed += 1
                    fractions.append(Double(updated) / Double(due))
                    if updated > 0 && updated < due { interruptedMidway += 1 }
                } else {
                    // The sweep was faster than calibrated (a quieter machine): draw from a shorter range.
                    missed += 1
                    spread *= 0.9
                }

                let clean = try Binary.sweep(fixture, batch)
                #expect(clean.status == 0, "seed \(seed) trial \(attempts): clean sweep exited \(clean.status): \(clean.stderr.suffix(2000))")
                let after = try fixture.violations(.final)
                #expect(after == [], "seed \(seed) trial \(attempts) (delay \(delay) s, \(gone) files gone / \(updated) records updated before): \(after)")
                print("[reliability] trial \(attempts): delay \(String(format: "%.3f", delay)) s, \(wasKilled ? "killed" : "exited before the kill"), \(updated)/\(due) records claimed, \(gone) files gone, \(updated - gone) to complete")
            }
            let buckets = (0..<5).map { bucket in fractions.filter { min(Int($0 * 5), 4) == bucket }.count }
            print("[reliability] CrashConsistencyTests seed \(seed): final delay range 0...\(String(format: "%.3f", spread)) s; \(killed) kills mid-process (\(interruptedMidway) with the sweep part-way), \(missed) sweeps finished before the kill, in \(String(format: "%.1f", Date().timeIntervalSince(start))) s; progress at the kill by fifths: \(buckets)")
            #expect(killed >= Self.trials, "only \(killed) kills landed while the sweep ran (seed \(seed))")
            #expect(interruptedMidway >= Self.trials / 3, "too few kills landed part-way through a sweep: \(interruptedMidway) (seed \(seed))")
        }
    }
}
