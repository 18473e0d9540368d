import ExportCleanup
import ExportCleanupPostgres
import Foundation
import Synchronization
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension Postgres {
    /// The application writes due rows while real sweeps run (and, in one trial, while the first sweep is killed
    /// with -9 and a second one races it): every change it commits keeps its row exactly and its file.
    @Suite struct ApplicationRaceTests {
        /// The application: its own session, conditional UPDATEs of rows still as first written, each change it
        /// committed remembered with the row as it left it.
        final class Application: @unchecked Sendable {
            let committed = Mutex<[String: [String?]]>([:])
            let attempts = Atomic<Int>(0)
            private let stop = Atomic<Bool>(false)
            private var thread: Thread?

            init(uri: String, due: [(id: String, failed: Bool, filePath: String)], timestamptz: Bool, seed: UInt64) {
                let now = timestamptz ? "now()" : "(now() AT TIME ZONE 'UTC')"
                let thread = Thread { [self] in
                    guard let connection = try? PostgresConnection(PostgresConnectionString(uri)!, overrides: [("application_name", "the application")]) else { return }
                    var random = SeededGenerator(seed: seed)
                    let returning = "RETURNING status, file_path, created_at::text, completed_at::text, expires_at::text"
                    while !stop.load(ordering: .relaxed) {
                        let job = due[Int.random(in: 0..<due.count, using: &random)]
                        let change: String
                        if job.failed {
                            change = "created_at = \(now)"  // retried: failed again just now
                        } else {
                            switch Int.random(in: 0..<3, using: &random) {
                            case 0: change = "expires_at = \(now) + interval '1 day'"  // extended
                            case 1: change = "completed_at = \(now)"  // re-completed in place
                            default: change = "status = 'processing'"  // re-opened
                            }
                        }
                        attempts.add(1, ordering: .relaxed)
                        let status = job.failed ? "failed" : "completed"
                        guard let rows = try? connection.query(
                            "UPDATE export_jobs SET \(change) WHERE id = $1 AND status = $2 AND file_path = $3 AND NOT (\(job.failed ? "created_at" : "coalesce(expires_at, completed_at)") > \(now) - interval '1 hour') \(returning)",
                            [job.id, status, job.filePath]).rows, let row = rows.first
                        else { continue }
                        committed.withLock { $0[job.id] = row }
                    }
                }
                self.thread = thread
                thread.start()
            }

            func finish() {
                stop.store(true, ordering: .relaxed)
                while thread?.isFinished == false { usleep(5_000) }
            }
        }

        @Test(arguments: [("TIMESTAMP WITHOUT TIME ZONE", false), ("TIMESTAMP WITH TIME ZONE", true)])
        func theApplicationsCommittedChangesAlwaysWin(_ trial: (type: String, kill: Bool)) throws {
            let seed = UInt64.random(in: 0 ... .max)
            print("[postgres] ApplicationRaceTests seed: \(seed)")
            var random = SeededGenerator(seed: seed)
            let fixture = try PGFixture(timestampType: trial.type)
            try fixture.addGeneration("race", due: 3000, dueFailed: 300, keep: 70)
            let due = fixture.order.compactMap { id in fixture.jobs[id].flatMap { job in
                job.due.map { (id: id, failed: $0 == .failed, filePath: job.filePath ?? "") }
            } }
            let application = Application(uri: fixture.uri, due: due, timestamptz: trial.type.contains("WITH TIME"), seed: seed)
            var changedMeanwhile = 0
            try timed("race \(trial.type)\(trial.kill ? " with kill -9" : "")") {
                if trial.kill {
                    let first = try BackgroundProcess(["sweep"] + fixture.flags + ["--batch-size", "50"])
                    usleep(UInt32.random(in: 100_000...400_000, using: &random))
                    kill(first.pid, SIGKILL)
                    first.process.waitUntilExit()
                    #expect(try fixture.rowsNamingMissingFiles() == [], "seed \(seed): rows name files the killed sweep removed")
                }
                let sweep = try Binary.sweep(fixture, ["--batch-size", "50", "--json"])
                #expect(try fixture.rowsNamingMissingFiles() == [], "seed \(seed)")
                #expect(sweep.status == 0, "seed \(seed): \(sweep.stderr.suffix(2000))")
                changedMeanwhile = (try? count(sweepJSON(sweep.stdout), "completed", "changed_meanwhile")) ?? 0
                changedMeanwhile += (try? count(sweepJSON(sweep.stdout), "failed", "changed_meanwhile")) ?? 0
            }
            application.finish()
            let committed = application.committed.withLock { $0 }
            print("[postgres] the application committed \(committed.count) changes of \(application.attempts.load(ordering: .relaxed)) attempts; "
                  + "\(changedMeanwhile) rows changed between a sweep's read and its claim")
            #expect(committed.count > 100, "seed \(seed): the application changed too few rows to race anything")

            // Every committed change: the row exactly as the application left it, and its file.
            let now = try fixture.db.query("SELECT id, status, file_path, created_at::text, completed_at::text, expires_at::text FROM export_jobs").rows
            let current = Dictionary(uniqueKeysWithValues: now.map { ($0[0]!, Array($0.dropFirst())) })
            for (id, row) in committed {
                #expect(current[id] == row, "seed \(seed): \(id) is \(String(describing: current[id])), the application wrote \(row)")
                if let path = row[1] { #expect(fileExists(path), "seed \(seed): \(id)'s file was removed after the application's change committed") }
                fixture.replace(id, status: row[0] ?? "", filePath: row[1])
            }
            try fixture.expectNoViolations(.interrupted, "seed \(seed)")
            // Everything else due is swept by the next sweep (the race sweep already did most of it).
            let clean = try Binary.sweep(fixture)
            #expect(clean.status == 0, "seed \(seed): \(clean.stderr.suffix(2000))")
            try fixture.expectNoViolations(.final, "seed \(seed)")
        }
    }
}
