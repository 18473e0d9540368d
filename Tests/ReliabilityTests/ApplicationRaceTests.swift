import ExportCleanup
import Foundation
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension Reliability {
    /// The live application edits due jobs while real sweeps run (and are killed): every change it commits before
    /// the sweep's own claim keeps its file and its row; no row ever names a file a sweep removed.
    @Suite struct ApplicationRaceTests {
        static var trials: Int { Int(ProcessInfo.processInfo.environment["RELIABILITY_RACE_TRIALS"] ?? "") ?? 8 }
        static let dueCompleted = 3_000
        static let dueFailed = 400

        /// The application: picks random due rows and commits one of its changes to each, as SQLAlchemy would, with
        /// its own conditional UPDATE (only if the row is still as it read it). Prints every change that committed.
        static let script = """
            import datetime, json, os, random, sqlite3, sys
            db, ids_path, seed, stop_path = sys.argv[1:5]
            ids = json.load(open(ids_path))
            rng = random.Random(int(seed))
            con = sqlite3.connect(db, isolation_level=None, timeout=30)
            def stamp(hours=0):
                t = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) + datetime.timedelta(hours=hours)
                return t.strftime("%Y-%m-%d %H:%M:%S.%f")
            changes = {}
            attempts = 0
            print("ready", flush=True)
            while not os.path.exists(stop_path):
                job_id, rule = rng.choice(ids)
                row = con.execute("SELECT status, file_path FROM export_jobs WHERE id = ?", (job_id,)).fetchone()
                if row is None or row[1] is None or row[0] != rule:
                    continue
                status, path = row
                guard = " WHERE id = ? AND status = ? AND file_path = ?"
                if rule == "completed":
                    kind = rng.choice(["extend", "recomplete", "reopen"])
                    if kind == "extend":
                        cur = con.execute("UPDATE export_jobs SET expires_at = ?" + guard, (stamp(24 * 30), job_id, status, path))
                    elif kind == "recomplete":
                        cur = con.execute("UPDATE export_jobs SET completed_at = ?" + guard, (stamp(), job_id, status, path))
                    else:
                        cur = con.execute("UPDATE export_jobs SET status = ?" + guard, (rng.choice(["processing", "pending"]), job_id, status, path))
                else:
                    kind = rng.choice(["retry", "refail"])
                    if kind == "retry":
                        cur = con.execute("UPDATE export_jobs SET status = 'processing'" + guard, (job_id, status, path))
                    else:
                        cur = con.execute("UPDATE export_jobs SET created_at = ?" + guard, (stamp(), job_id, status, path))
                attempts += 1
                if cur.rowcount == 1:
                    after = con.execute("SELECT status, file_path, created_at, completed_at, expires_at FROM export_jobs WHERE id = ?", (job_id,)).fetchone()
                    changes[job_id] = {"kind": kind, "row": list(after)}
            print(json.dumps({"attempts": attempts, "changes": changes}), flush=True)
            """

        struct Committed: Decodable {
            var kind: String
            var row: [String?]
        }

        struct Output: Decodable {
            var attempts: Int
            var changes: [String: Committed]
        }

        @Test("the application commits changes to due rows while sweeps run and are killed: each change keeps its file and its row")
        func applicationRacesSweeps() throws {
            let seed = ReliabilitySeed.value(salt: 7)
            print("[reliability] ApplicationRaceTests seed: \(seed) (replay with RELIABILITY_SEED=\(seed &- 7))")
            var random = SeededGenerator(seed: seed)
            var landed = 0, changedMeanwhile = 0
            for trial in 0..<Self.trials {
                let journalMode = trial % 2 == 0 ? "delete" : "wal"
                let killFirst = trial % 4 >= 2
                try timed("ApplicationRaceTests trial \(trial) (\(journalMode)\(killFirst ? ", kill -9" : ""))") {
                    let fixture = try Fixture(journalMode: journalMode, memory: true)
                    fixture.touchConfig()
                    try fixture.addGeneration("r", due: Self.dueCompleted, dueFailed: Self.dueFailed, keep: 70)
                    let ids = (0..<Self.dueCompleted).map { ["r_c\($0)", "completed"] } + (0..<Self.dueFailed).map { ["r_f\($0)", "failed"] }
                    let idsPath = fixture.tmp.sub("ids.json")
                    try JSONEncoder().encode(ids).write(to: URL(fileURLWithPath: idsPath))
                    let stopPath = fixture.tmp.sub("stop")
                    let app = try PythonChild(script: Self.script, arguments: [fixture.database, idsPath, String(UInt64.random(in: 0...UInt64(UInt32.max), using: &random)), stopPath])
                    #expect(app.readLine() == "ready")

                    // Large batches: the window between a batch's read and its claim is as wide as it gets.
                    let batch = ["--batch-size", "1000"]
                    if killFirst {
                        let sweep = try BackgroundProcess(["sweep"] + fixture.flags + batch)
                        usleep(UInt32.random(in: 20_000...400_000, using: &random))
                        kill(sweep.pid, SIGKILL)
                        sweep.process.waitUntilExit()
                        // The application may be changing rows right now; what must hold at every instant: no row names
                        // a file that is gone.
                        let named = try fixture.sqlite("SELECT file_path FROM export_jobs WHERE file_path IS NOT NULL")
                            .split(separator: "\n").map(String.init)
                        let missing = named.filter { !fileExists($0) }
                        #expect(missing.isEmpty, "seed \(seed) trial \(trial) after kill -9: rows name removed files: \(missing.prefix(5))")
                    }
                    // A sweep (the second one after a kill) with the application still running.
                    let racing = try Binary.sweep(fixture, batch + ["--json"])
                    #expect(racing.status == 0, "seed \(seed) trial \(trial): \(racing.stderr.suffix(2000))")
                    if let report = try? SweepJSON.decode(racing.stdout).report {
                        changedMeanwhile += report.completed.changedMeanwhile + report.failed.changedMeanwhile
                    }
                    writeFile(stopPath)
                    let output = try JSONDecoder().decode(Output.self, from: Data(app.readLine().utf8))
                    #expect(app.waitForExit() == 0)
                    landed += output.changes.count

                    // What the application committed is final: expect exactly its rows, with their files.
                    for (id, change) in output.changes {
                        fixture.replace(id, status: change.row[0] ?? "", filePath: change.row[1])
                    }
                    let clean = try Binary.sweep(fixture, batch)
                    #expect(clean.status == 0, "seed \(seed) trial \(trial): \(clean.stderr.suffix(2000))")
                    let violations = try fixture.violations(.final)
                    #expect(violations == [], "seed \(seed) trial \(trial): \(violations)")
                    let rows = try fixture.sqlite(
                        "SELECT id, status, file_path, created_at, completed_at, expires_at FROM export_jobs WHERE id GLOB 'r_[cf]*'", json: true)
                    let byID = try JSONDecoder().decode([[String: String?]].self, from: Data(rows.utf8))
                        .reduce(into: [String: [String?]]()) { $0[$1["id"]!!] = [$1["status"]!, $1["file_path"]!, $1["created_at"]!, $1["completed_at"]!, $1["expires_at"]!] }
                    for (id, change) in output.changes {
                        #expect(byID[id] == change.row, "seed \(seed) trial \(trial): \(id) (\(change.kind)) lost the application's change: \(String(describing: byID[id])) != \(change.row)")
                        if let path = change.row[1] { #expect(fileExists(path), "seed \(seed) trial \(trial): \(id) (\(change.kind)): its file was removed") }
                    }
                    print("[reliability] race trial \(trial) (\(journalMode)\(killFirst ? ", after kill -9" : "")): \(output.attempts) application updates, \(output.changes.count) committed to due rows")
                }
            }
            print("[reliability] ApplicationRaceTests seed \(seed): \(landed) application changes committed to due rows across \(Self.trials) trials, \(changedMeanwhile) of them between a sweep's read and its claim")
            #expect(landed > 0)
        }
    }
}
