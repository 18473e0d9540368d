import ExportCleanup
import ExportCleanupPostgres
import ExportStorage
import Foundation
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension Postgres {
    /// Two and three `export-cleanup run` daemons on one table and one storage directory: one sweeps at a time
    /// (the advisory lock), the others skip and say who holds it; `kill -9` of the active one mid-sweep lets another
    /// take over at its next interval; nothing is lost, no record is updated twice, no file removed twice.
    @Suite struct SeveralDaemonsTests {
        /// Logs every update of `export_jobs` with the session's `application_name`.
        static let updateLog = """
            CREATE TABLE update_log (id text, old_status text, new_status text, app text, at timestamptz DEFAULT clock_timestamp());
            CREATE FUNCTION log_update() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                INSERT INTO update_log (id, old_status, new_status, app) VALUES (OLD.id, OLD.status, NEW.status, current_setting('application_name'));
                RETURN NEW;
            END $$;
            CREATE TRIGGER export_jobs_log AFTER UPDATE ON export_jobs FOR EACH ROW EXECUTE FUNCTION log_update()
            """

        @Test(arguments: [2, 3])
        func oneSweepsAtATimeAndAnotherTakesOverAfterKillNine(_ daemons: Int) throws {
            let fixture = try PGFixture()
            try fixture.db.execute(Self.updateLog)
            try fixture.addGeneration("m", due: 4000, dueFailed: 300, keep: 70)
            let dueCount = 4300
            var listeners: [NotifyListener] = []
            var processes: [BackgroundProcess] = []
            for index in 0..<daemons {
                let listener = NotifyListener(directory: makeDirectory(fixture.tmp.sub("notify\(index)")))
                listeners.append(listener)
                processes.append(try BackgroundProcess(["run"] + fixture.flags + ["--interval-seconds", "1", "--batch-size", "20", "--log-level", "debug"],
                                                       environment: ["NOTIFY_SOCKET": listener.path], stderrPath: fixture.tmp.sub("daemon\(index).log")))
            }
            defer { for process in processes where process.process.isRunning { process.signal(SIGKILL) } }
            let byPID = Dictionary(uniqueKeysWithValues: processes.map { ($0.pid, $0) })

            /// The daemon holding the sweep lock now (by its application_name), if any.
            func holder() throws -> (app: String, pid: Int32)? {
                let rows = try fixture.db.query("""
                    SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                    WHERE l.locktype = 'advisory' AND l.granted AND a.application_name LIKE 'export-cleanup@%'
                    """).rows
                guard let app = rows.first?[0] ?? nil, let pid = app.split(separator: ":").last.flatMap({ Int32($0) }) else { return nil }
                return (app, pid)
            }
            func updates(by app: String? = nil) throws -> Int {
                Int(try fixture.value("SELECT count(*) FROM update_log WHERE app LIKE $1", [app ?? "export-cleanup@%"]) ?? "0") ?? 0
            }

            // Kill the active daemon mid-sweep, daemons - 1 times, each after a random number of its claims (seeded);
            // the last one finishes.
            let seed = UInt64.random(in: 0 ... .max)
            var random = SeededGenerator(seed: seed)
            print("[postgres] SeveralDaemonsTests seed: \(seed)")
            var killed: [String] = []
            var threshold = Int.random(in: 1...1500, using: &random)
            let deadline = Date().addingTimeInterval(120)
            while killed.count < daemons - 1 && Date() < deadline {
                guard let (app, pid) = try holder(), !killed.contains(app), try updates(by: app) >= threshold, let process = byPID[pid] else {
                    usleep(10_000)
                    continue
                }
                process.signal(SIGKILL)
                process.process.waitUntilExit()
                killed.append(app)
                threshold = Int.random(in: 1...1500, using: &random)
                print("[postgres] \(daemons) daemons: killed the active one (\(app)) after \(try updates()) of \(dueCount) records were claimed")
            }
            #expect(killed.count == daemons - 1, "seed \(seed): could not catch an active daemon mid-sweep \(daemons - 1) times")
            while Date() < deadline {
                let (gone, updated) = try fixture.progress()
                if gone == dueCount && updated == dueCount && !claimsJournalExists(in: fixture.storage) { break }
                usleep(50_000)
            }
            let survivors = processes.filter { $0.process.isRunning }
            #expect(survivors.count == 1)
            // Let a round pass in which the others see nothing to do, then stop them.
            usleep(1_500_000)
            for process in survivors { process.signal(SIGTERM) }
            for process in survivors { #expect(process.waitForExit(timeout: 20) == 0) }

            try fixture.expectNoViolations(.final)
            // No record updated twice: each due row exactly once, by some daemon; nothing else.
            let perRow = try fixture.db.query("SELECT id, count(*) FROM update_log WHERE app LIKE 'export-cleanup@%' GROUP BY id HAVING count(*) <> 1").rows
            #expect(perRow.isEmpty, "records updated more than once: \(perRow.prefix(10))")
            #expect(try updates() == dueCount)
            let apps = try fixture.db.query("SELECT DISTINCT app FROM update_log").rows.compactMap { $0[0] }
            #expect(apps.count == daemons, "claims by \(apps)")
            // No file removed twice: every removal logged once across all daemons.
            var removals: [String: Int] = [:]
            var skipped = 0
            var changedMeanwhile = 0
            for process in processes {
                for line in process.stderr.split(separator: "\n") {
                    if line.contains("removed export file") || line.contains("removed the file of an earlier sweep's claim"),
                       let range = line.range(of: "export_job_id=") {
                        let id = line[range.upperBound...].prefix { $0 != " " }
                        removals[String(id), default: 0] += 1
                    }
                    if line.contains("sweep skipped:") && line.contains("holds the sweep lock 'export-cleanup:\(fixture.storage)'") { skipped += 1 }
                    if let range = line.range(of: "export_changed_meanwhile=") {
                        changedMeanwhile += Int(line[range.upperBound...].prefix { $0.isNumber }) ?? 0
                    }
                }
            }
            #expect(removals.values.allSatisfy { $0 == 1 }, "removed more than once: \(removals.filter { $0.value > 1 }.prefix(10))")
            #expect(removals.count <= dueCount)
            #expect(skipped > 0, "no daemon ever skipped a round")
            #expect(changedMeanwhile == 0, "two daemons raced each other's claims")
            let statuses = listeners.flatMap(\.all).filter { $0.contains("STATUS=Idle. Skipped") }
            #expect(statuses.contains { $0.contains("export-cleanup@") && $0.contains("holds the sweep lock") }, "\(statuses.prefix(3))")
            print("[postgres] \(daemons) daemons: \(removals.count) removals logged, \(skipped) rounds skipped, claims by \(apps.count) daemons; e.g. \(statuses.first ?? "")")
        }
    }
}
