import ExportCleanup
import ExportStorage
import Foundation
import Logging
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The parts of `sweep --json` the tests read.
struct SweepJSON: Decodable {
    struct Counts: Decodable {
        var due: Int
        var removed: Int
        var failed: Int
        var refused: Int
        var recordsUpdated: Int
        var changedMeanwhile: Int
    }
    struct Problem: Decodable {
        var kind: String
        var jobId: String
        var code: String
        var errno: Int32?
    }
    struct Report: Decodable {
        var completed: Counts
        var failed: Counts
        var problems: [Problem]
        var abortedBy: String?
    }
    var report: Report

    static func decode(_ stdout: String) throws -> SweepJSON {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(SweepJSON.self, from: Data(stdout.utf8))
    }
}

extension Reliability {
    /// The application holds long write transactions and writes rows while sweeps run.
    @Suite struct ContentionTests {
        /// Due files that are gone (a disk-only look: works while the database is locked).
        func dueFilesGone(_ fixture: Fixture) -> Int {
            fixture.jobs.values.filter { $0.due != nil && $0.filePath.map(fileExists) == false }.count
        }

        @Test("a one-shot sweep against a write transaction longer than the busy timeout exits 75 and removes nothing (files go only after their claim commits)",
              arguments: ["EXCLUSIVE", "IMMEDIATE"])
        func oneShotSweepExits75(mode: String) throws {
            try timed("ContentionTests.oneShot \(mode)") {
                let fixture = try Fixture(memory: true)
                fixture.touchConfig()
                try fixture.addGeneration("a", due: 600, dueFailed: 50, keep: 21)
                let holder = try LockHolder(database: fixture.database, mode: mode)
                let result = try Binary.sweep(fixture, ["--batch-size", "50", "--busy-timeout-ms", "300"])
                let gone = dueFilesGone(fixture)
                holder.release()

                #expect(result.status == 75, "stdout: \(result.stdout)\nstderr: \(result.stderr)")
                #expect(result.stderr.contains("stayed locked beyond the busy timeout"), "\(result.stderr)")
                #expect(result.seconds >= 0.3 && result.seconds < 10, "took \(result.seconds) s")
                // EXCLUSIVE: not even the schema can be read. IMMEDIATE: reads go on, the first batch's claim waits and
                // stops. Either way no file goes: files are removed only after their claim commits.
                #expect(gone == 0, "\(gone) files removed before the sweep stopped")
                if mode == "IMMEDIATE" { #expect(result.stdout.contains("aborted:"), "\(result.stdout)") }
                // Lock released: nothing is half-done, and one sweep does it all.
                #expect(try fixture.violations(.interrupted) == [])
                #expect(try fixture.progress().recordsUpdated == 0)
                let again = try Binary.sweep(fixture, ["--batch-size", "50", "--busy-timeout-ms", "300"])
                #expect(again.status == 0, "\(again.stderr)")
                #expect(try fixture.violations(.final) == [])
            }
        }

        @Test("the daemon logs a locked database, says so in STATUS, keeps running, and sweeps on the next SIGHUP")
        func daemonRetriesAfterLock() throws {
            try timed("ContentionTests.daemon") {
                let fixture = try Fixture(memory: true)
                fixture.touchConfig()
                try fixture.addGeneration("d0", due: 10, keep: 7)
                let listener = NotifyListener(directory: fixture.tmp.path)
                let daemon = try BackgroundProcess(["run"] + fixture.flags + ["--busy-timeout-ms", "300", "--batch-size", "50"],
                                                   environment: ["NOTIFY_SOCKET": listener.path], stderrPath: fixture.tmp.sub("daemon.stderr"))
                let ready = try listener.wait(for: "READY=1") { $0 == "READY=1" }
                try listener.wait(for: "first sweep", from: ready) { $0.hasPrefix("STATUS=Idle. Last sweep") && $0.contains("10 removed") }
                #expect(try fixture.violations(.final) == [])

                try fixture.addGeneration("d1", due: 400, dueFailed: 20)
                for (mode, word) in [("EXCLUSIVE", "failed:"), ("IMMEDIATE", "aborted:")] {
                    let holder = try LockHolder(database: fixture.database, mode: mode)
                    let mark = listener.all.count
                    daemon.signal(SIGHUP)
                    let index = try listener.wait(for: "idle after a locked sweep (\(mode))", from: mark) { $0.hasPrefix("STATUS=Idle.") }
                    let status = listener.all[index]
                    let gone = dueFilesGone(fixture)
                    holder.release()
                    #expect(status.contains(word) && status.contains("stayed locked"), "\(mode): \(status)")
                    #expect(daemon.process.isRunning, "the daemon must survive a locked database")
                    #expect(gone <= 10, "\(mode): \(gone) files gone (10 of the first sweep; none may go unclaimed)")
                    #expect(try fixture.violations(.interrupted) == [], "\(mode)")
                }
                #expect(daemon.stderr.contains("sweep could not run"), "\(daemon.stderr.suffix(3000))")
                #expect(daemon.stderr.contains("sweep stopped"), "\(daemon.stderr.suffix(3000))")

                let mark = listener.all.count
                daemon.signal(SIGHUP)
                let index = try listener.wait(for: "idle after the lock is gone", from: mark) { $0.hasPrefix("STATUS=Idle.") }
                #expect(!listener.all[index].contains("failed:") && !listener.all[index].contains("aborted"), "\(listener.all[index])")
                #expect(try fixture.violations(.final) == [])
                daemon.signal(SIGTERM)
                #expect(daemon.waitForExit(timeout: 5) == 0)
            }
        }

        @Test("SIGHUP and SIGTERM while the daemon's start-up waits on a locked database: neither kills it nor is lost")
        func signalsWhileStartupWaits() throws {
            try timed("ContentionTests.signalsWhileStartupWaits") {
                let fixture = try Fixture(memory: true)
                fixture.touchConfig()
                try fixture.addGeneration("s0", due: 20, keep: 7)
                for last in [SIGHUP, SIGTERM] {
                    let holder = try LockHolder(database: fixture.database, mode: "EXCLUSIVE")
                    let listener = NotifyListener(directory: makeDirectory(fixture.tmp.sub("notify-\(last)")))
                    let daemon = try BackgroundProcess(["run"] + fixture.flags + ["--busy-timeout-ms", "10000"],
                                                       environment: ["NOTIFY_SOCKET": listener.path], stderrPath: fixture.tmp.sub("daemon-\(last).stderr"))
                    // Start-up is now waiting in SQLite's busy handler (the schema cannot be read).
                    try listener.wait(for: "start-up status") { $0.hasPrefix("STATUS=Starting") }
                    usleep(300_000)
                    daemon.signal(SIGHUP)
                    usleep(100_000)
                    daemon.signal(last)
                    usleep(200_000)
                    #expect(daemon.process.isRunning, "killed during start-up: \(daemon.stderr.suffix(2000))")
                    #expect(!listener.all.contains("READY=1"), "start-up should still be waiting on the lock")
                    holder.release()
                    if last == SIGHUP {
                        let ready = try listener.wait(for: "READY=1") { $0 == "READY=1" }
                        try listener.wait(for: "the pending SIGHUP as a reload", from: ready) { $0.hasPrefix("RELOADING=1") }
                        try listener.wait(for: "idle", from: ready) { $0.hasPrefix("STATUS=Idle. Last sweep") }
                        #expect(try fixture.violations(.final) == [])
                        daemon.signal(SIGTERM)
                    }
                    #expect(daemon.waitForExit(timeout: 10) == 0, "\(daemon.stderr.suffix(2000))")
                    #expect(daemon.process.terminationReason == .exit)
                    #expect(listener.all.contains("STOPPING=1"))
                    #expect(try fixture.violations(.interrupted) == [])
                }
            }
        }

        static let applicationScript = """
            import datetime, json, os, sqlite3, sys, time
            db, storage, plan_path = sys.argv[1:4]
            plan = json.load(open(plan_path))
            con = sqlite3.connect(db, isolation_level=None, timeout=30)
            def new_file(job_id):
                t = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
                path = os.path.join(storage, "hotels_%s_%s.csv" % (job_id, t.strftime("%Y%m%d_%H%M%S")))
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                os.write(fd, b"fresh export\\n")
                os.close(fd)
                return path, t.strftime("%Y-%m-%d %H:%M:%S.%f")
            print("ready", flush=True)
            sys.stdin.readline()
            results = []
            deadline = time.time() + 30
            for step in plan:
                while os.path.exists(step["watch"]) and time.time() < deadline:
                    time.sleep(0.0002)
                for change in step["changes"]:
                    job_id, kind = change["id"], change["kind"]
                    path, stamp = new_file(job_id)
                    con.execute("BEGIN IMMEDIATE")
                    if kind == "retry":
                        con.execute("UPDATE export_jobs SET status = 'pending', file_path = ?, error_message = NULL WHERE id = ?", (path, job_id))
                        status = "pending"
                    elif kind == "complete":
                        con.execute("UPDATE export_jobs SET status = 'completed', file_path = ?, completed_at = ?, expires_at = NULL, error_message = NULL WHERE id = ?", (path, stamp, job_id))
                        status = "completed"
                    else:
                        con.execute("INSERT INTO export_jobs (id, export_type, format, status, file_path, created_at, completed_at) VALUES (?, 'hotels', 'csv', 'completed', ?, ?, ?)", (job_id, path, stamp, stamp))
                        status = "completed"
                    con.execute("COMMIT")
                    results.append({"id": job_id, "status": status, "file_path": path})
            print(json.dumps(results), flush=True)
            """

        struct Change: Codable {
            var id: String
            var kind: String
        }
        struct Step: Codable {
            var watch: String
            var changes: [Change]
        }
        struct Written: Codable {
            var id: String
            var status: String
            var file_path: String
        }

        @Test("the application retries failed jobs, completes jobs and inserts new ones during a sweep: its rows and new files survive")
        func applicationWritesDuringSweep() throws {
            try timed("ContentionTests.applicationWrites") {
                let fixture = try Fixture(memory: true)
                fixture.touchConfig()
                let batch = 100
                try fixture.addGeneration("w", due: 2_000, dueFailed: 600, keep: 70)
                // Each step waits until the sweep starts on a batch (its first file vanishes), then changes rows
                // near that batch's end: read by the sweep already, not yet updated.
                var plan: [Step] = []
                for start in stride(from: 0, to: 2_000, by: 500) {
                    let processing = "w_k\(4 + 7 * (start / 500))"
                    plan.append(Step(watch: fixture.jobs["w_c\(start)"]!.filePath!, changes: [
                        Change(id: processing, kind: "complete"), Change(id: "w_new\(start)", kind: "insert"),
                    ]))
                }
                for start in stride(from: 0, to: 600, by: batch) {
                    let changes = stride(from: start + 60, to: start + batch, by: 4).enumerated().map { index, row in
                        Change(id: "w_f\(row)", kind: index % 2 == 0 ? "retry" : "complete")
                    }
                    plan.append(Step(watch: fixture.jobs["w_f\(start)"]!.filePath!, changes: changes))
                }
                let planPath = fixture.tmp.sub("plan.json")
                try JSONEncoder().encode(plan).write(to: URL(fileURLWithPath: planPath))

                let application = try PythonChild(script: Self.applicationScript, arguments: [fixture.database, fixture.storage, planPath])
                #expect(application.readLine() == "ready")
                application.send("go")
                let sweep = try Binary.sweep(fixture, ["--batch-size", "\(batch)", "--json"])
                let output = application.readLine()
                #expect(application.waitForExit() == 0)
                #expect(sweep.status == 0, "\(sweep.stderr.suffix(3000))")
                let report = try SweepJSON.decode(sweep.stdout).report
                let written = try JSONDecoder().decode([Written].self, from: Data(output.utf8))
                #expect(written.count == plan.map(\.changes.count).reduce(0, +))
                for row in written {
                    if let old = fixture.jobs[row.id]?.filePath { fixture.abandonedFiles.insert(old) }
                    fixture.replace(row.id, status: row.status, filePath: row.file_path)
                }
                // The application's values stand, its new files are there; everything else is swept.
                #expect(try fixture.violations(.interrupted) == [])
                let again = try Binary.sweep(fixture, ["--batch-size", "\(batch)"])
                #expect(again.status == 0)
                #expect(try fixture.violations(.final) == [])
                let rows = try fixture.rows()
                for row in written {
                    #expect(rows[row.id]?.status == row.status && rows[row.id]?.file_path == row.file_path, "\(row.id)")
                    #expect(fileExists(row.file_path), "\(row.id): the application's new file was removed")
                }
                let meanwhile = report.completed.changedMeanwhile + report.failed.changedMeanwhile
                print("[reliability] application writes during a sweep: \(written.count) rows written by the application, \(meanwhile) of them changed between the sweep's read and its update (compare-and-set left them alone)")
            }
        }

        /// A store that lets "the application" change rows right after the sweep has read them.
        final class MeddlingStore: JobStore {
            let inner: SQLiteJobStore
            let meddle: ([ExportJob]) -> Void
            private var done = false

            init(_ inner: SQLiteJobStore, meddle: @escaping ([ExportJob]) -> Void) {
                self.inner = inner
                self.meddle = meddle
            }

            func verifySchema() throws(JobStoreError) { try inner.verifySchema() }

            func candidates(for rule: CleanupRule, cutoff: UTCInstant, now: UTCInstant, after cursor: JobCursor?, limit: Int) throws(JobStoreError)
                -> (jobs: [ExportJob], next: JobCursor?)
            {
                let result = try inner.candidates(for: rule, cutoff: cutoff, now: now, after: cursor, limit: limit)
                if !done && !result.jobs.isEmpty {
                    done = true
                    meddle(result.jobs)
                }
                return result
            }

            func claim(_ claims: [JobClaim]) throws(JobStoreError) -> [Bool] { try inner.claim(claims) }
            func isClaimed(_ claims: [JobClaim]) throws(JobStoreError) -> [Bool] { try inner.isClaimed(claims) }
            func countReferencedFiles() throws(JobStoreError) -> Int { try inner.countReferencedFiles() }
            func pressureCandidates(completedBefore cutoff: UTCInstant, now: UTCInstant, after cursor: PressureCursor?, limit: Int) throws(JobStoreError)
                -> [ExportJob]
            {
                try inner.pressureCandidates(completedBefore: cutoff, now: now, after: cursor, limit: limit)
            }
            func jobs(withIDs ids: [String]) throws(JobStoreError) -> [ExportJob] { try inner.jobs(withIDs: ids) }
        }

        @Test("compare-and-set, deterministically: rows changed between the read and the update are left as the application wrote them")
        func compareAndSet() throws {
            let fixture = try Fixture(memory: true)
            try fixture.addGeneration("m", due: 40)
            var written: [(id: String, status: String, path: String?)] = []
            let store = MeddlingStore(try SQLiteJobStore(path: fixture.database)) { jobs in
                // Completed anew with a new file, reset to pending (file kept), completed with no file.
                for (index, kind) in [(3, "reexport"), (7, "pending"), (11, "null")] {
                    let id = jobs[index].id
                    let path = kind == "null" ? nil : try? fixture.makeFile(id, hoursAgo: 0)
                    let status = kind == "pending" ? "pending" : "completed"
                    let completed = kind == "pending" ? "NULL" : "'\(UTCInstant.now().databaseText)'"
                    try? fixture.db.execute("UPDATE export_jobs SET status = '\(status)', file_path = \(path.map { "'\($0)'" } ?? "NULL"), completed_at = \(completed) WHERE id = '\(id)'")
                    written.append((id, status, path))
                }
            }
            var logger = Logger(label: "reliability")
            logger.logLevel = .critical
            let sweeper = Sweeper(store: store, storage: try StorageDirectory(path: fixture.storage).open(), logger: logger)
            let report = try sweeper.sweep(options: SweepOptions(batchSize: 20))
            #expect(report.completed.changedMeanwhile == 3)
            #expect(report.completed.recordsUpdated == 37)
            let rows = try fixture.rows()
            for (id, status, path) in written {
                #expect(rows[id]?.status == status && rows[id]?.file_path == path, "\(id): \(String(describing: rows[id]))")
                if let path { #expect(fileExists(path), "\(id): the application's new file was removed") }
            }
        }
    }
}
