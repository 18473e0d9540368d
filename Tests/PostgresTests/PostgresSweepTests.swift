import ExportCleanup
import ExportCleanupDemo
import ExportCleanupPostgres
import ExportStorage
import Foundation
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Decodes `sweep --json`.
func sweepJSON(_ stdout: String) throws -> [String: Any] {
    let object = try JSONSerialization.jsonObject(with: Data(stdout.utf8))
    guard let json = object as? [String: Any], let report = json["report"] as? [String: Any] else { throw TestFailure("not a sweep report: \(stdout)") }
    return report
}

/// `report[rule][count]` of `sweep --json`.
func count(_ report: [String: Any], _ rule: String, _ key: String) -> Int {
    ((report[rule] as? [String: Any])?[key] as? Int) ?? -1
}

extension Postgres {
    /// The acceptance scenarios of a sweep, on PostgreSQL, through the binary as an operator runs it.
    @Suite struct PostgresSweepTests {
        @Test func sweepRemovesDueFilesKeepsTheRestAndReportsWhatItCannotDecide() throws {
            let fixture = try PGFixture()
            try fixture.addGeneration("g", due: 40, dueFailed: 12, keep: 14)
            // Refused: a record pointing outside the storage directory, and one pointing at another job's file.
            let old = PGFixture.text(hoursAgo: 48)
            let other = try fixture.makeFile("exp_victim", hoursAgo: 48)
            try fixture.add([
                (.init(id: "exp_outside", status: "completed", filePath: .text("/etc/hostname"), createdAt: old, completedAt: old), nil),
                (.init(id: "exp_b1", status: "completed", filePath: .text(other), createdAt: old, completedAt: old), nil),
                (.init(id: "exp_victim", status: "pending", filePath: .text(other), createdAt: old), nil),
                // Due, file already gone: the record is still updated.
                (.init(id: "exp_gone", status: "completed", filePath: .text(fixture.storage + "/hotels_exp_gone_20200101_000000.csv"),
                       createdAt: old, completedAt: old), .completed),
            ])
            let before = try fixture.rows()

            // Dry run: lists, changes nothing (a read-only session), exit 1 because of the refused records.
            let dry = try Binary.sweep(fixture, ["--dry-run", "--json"])
            #expect(dry.status == 1, "\(dry.stderr)")
            let dryReport = try sweepJSON(dry.stdout)
            #expect(count(dryReport, "completed", "removed") == 40)
            #expect(count(dryReport, "failed", "removed") == 12)
            #expect(count(dryReport, "completed", "refused") == 2)
            #expect(count(dryReport, "completed", "undecidable") == 4)
            #expect(try fixture.rows().mapValues { "\($0.status) \($0.filePath ?? "NULL")" } == before.mapValues { "\($0.status) \($0.filePath ?? "NULL")" })
            // exp_gone's file never existed; nothing else is gone.
            #expect(try fixture.violations(.interrupted).filter { !$0.hasPrefix("exp_gone:") } == [])
            #expect(try fixture.progress().filesGone == 1)

            let sweep = try Binary.sweep(fixture, ["--json"])
            #expect(sweep.status == 1, "\(sweep.stderr)")
            let report = try sweepJSON(sweep.stdout)
            #expect(count(report, "completed", "due") == 43)
            #expect(count(report, "completed", "removed") == 40)
            #expect(count(report, "completed", "already_missing") == 1)
            #expect(count(report, "completed", "records_updated") == 41)
            #expect(count(report, "failed", "removed") == 12)
            #expect(count(report, "failed", "records_updated") == 12)
            #expect(count(report, "completed", "refused") == 2)
            #expect(count(report, "completed", "undecidable") == 4)
            let problems = (report["problems"] as? [[String: Any]]) ?? []
            #expect(Set(problems.compactMap { $0["code"] as? String }) == ["outside_storage", "name_mismatch", "completed_at"], "\(problems)")
            #expect(problems.contains { ($0["reason"] as? String)?.contains("'infinity'") == true }, "\(problems)")
            try fixture.expectNoViolations(.final)
            #expect(fileExists(other) && fileExists("/etc/hostname"))
            #expect(!claimsJournalExists(in: fixture.storage))

            // Nothing left to do; the refused records are reported again.
            let again = try Binary.sweep(fixture, ["--json"])
            #expect(again.status == 1)
            #expect(count(try sweepJSON(again.stdout), "completed", "removed") == 0)
        }

        /// A one-shot sweep while another instance holds the cluster-wide sweep lock: exit 75 naming the holder, or
        /// with `--wait`, the sweep as soon as the lock is free. `--lock-name` picks another lock.
        @Test func aOneShotSweepWaitsForOrReportsTheClusterLock() throws {
            let fixture = try PGFixture()
            try fixture.addGeneration("lk", due: 10)
            let other = try PostgresJobStore(PostgresConnectionString(fixture.uri)!, options: .init(applicationName: "export-cleanup@elsewhere:4242"),
                                             logger: quietLogger)
            #expect(try other.tryAcquireSweepLock(named: fixture.storage) == .acquired)
            let refused = try Binary.sweep(fixture)
            #expect(refused.status == 75, "\(refused.stderr)")
            #expect(refused.stderr.contains("export-cleanup@elsewhere:4242 (server pid \(other.connection.backendPID)"), "\(refused.stderr)")
            #expect(refused.stderr.contains("holds the sweep lock 'export-cleanup:\(fixture.storage)'"), "\(refused.stderr)")
            #expect(try fixture.progress().recordsUpdated == 0)
            // Another lock name is another lock (hosts that mount the directory elsewhere must agree on one name).
            let renamed = try Binary.sweep(fixture, ["--lock-name", "exports-eu"])
            #expect(renamed.status == 0, "\(renamed.stderr)")
            #expect(try fixture.progress().recordsUpdated == 10)
            try fixture.addGeneration("lk2", due: 10)
            let waiting = try BackgroundProcess(["sweep"] + fixture.flags + ["--wait"], stderrPath: fixture.tmp.sub("wait.log"))
            usleep(1_500_000)
            #expect(waiting.process.isRunning)
            #expect(try fixture.progress().recordsUpdated == 10)
            other.releaseSweepLock(named: fixture.storage)
            #expect(waiting.waitForExit(timeout: 30) == 0, "\(waiting.stderr)")
            #expect(waiting.stderr.contains("waiting for the sweep lock"), "\(waiting.stderr)")
            try fixture.expectNoViolations(.final)
        }

        @Test func timestampWithTimeZoneColumnsAndAKeywordConnectionString() throws {
            let fixture = try PGFixture(timestampType: "TIMESTAMP WITH TIME ZONE")
            try fixture.addGeneration("tz", due: 25, dueFailed: 5, keep: 7)
            let keywords = "host=\(fixture.cluster.socketDirectory) dbname=\(fixture.name) user=postgres"
            let sweep = try Binary.run(["sweep", "--db", keywords, "--storage", fixture.storage, "--config", fixture.tmp.sub("none.conf"),
                                        "--log-target", "stderr", "--json", "--batch-size", "4"])
            #expect(sweep.status == 0, "\(sweep.stderr)")
            let report = try sweepJSON(sweep.stdout)
            #expect(count(report, "completed", "removed") == 25)
            #expect(count(report, "failed", "removed") == 5)
            #expect(count(report, "completed", "undecidable") == 2)
            try fixture.expectNoViolations(.final)
        }

        @Test func demoCreatesItsTableInPostgreSQLAndSweepsIt() throws {
            let fixture = try PGFixture(table: false)
            let dir = fixture.tmp.sub("demo")
            for round in 1...2 {
                let demo = try Binary.run(["demo", "--dir", dir, "--db", fixture.uri])
                #expect(demo.status == 0, "round \(round): \(demo.stdout) \(demo.stderr)")
                #expect(demo.stdout.contains("completed_at is NULL: kept and reported"), "\(demo.stdout)")
                #expect(demo.stdout.contains("psql '\(fixture.uri)'"), "\(demo.stdout)")
                let rows = try fixture.rows()
                #expect(rows["exp_0a1b2c3d4e5f"]?.status == "expired" && rows["exp_0a1b2c3d4e5f"]?.filePath == nil)
                #expect(rows["exp_5f6a7b8c9d0e"]?.status == "failed" && rows["exp_5f6a7b8c9d0e"]?.filePath == nil)
                #expect(rows["exp_2c3d4e5f6a7b"]?.status == "completed" && rows["exp_2c3d4e5f6a7b"]?.filePath != nil)
                #expect(rows["exp_9d0e1f2a3b4c"]?.filePath == "/etc/hostname")
                #expect(try fixture.value("SELECT obj_description('export_jobs'::regclass, 'pg_class')") == PostgresApplicationTable.demoComment)
                #expect(!fileExists(dir + "/exports.db"))
            }
            // A table the demo did not create is never replaced.
            try fixture.db.execute("COMMENT ON TABLE export_jobs IS NULL")
            let refused = try Binary.run(["demo", "--dir", dir, "--db", fixture.uri])
            #expect(refused.status == 73)
            #expect(refused.stderr.contains("not a demo table"), "\(refused.stderr)")
            let notPostgres = try Binary.run(["demo", "--dir", dir, "--db", "./some.db"])
            #expect(notPostgres.status == 64)
        }
    }
}
