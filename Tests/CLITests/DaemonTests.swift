import CoreSupport
import ExportCleanup
import ExportCleanupDemo
import Foundation
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite("export-cleanup run under a real NOTIFY_SOCKET")
struct DaemonTests {
    func start(_ fixture: Fixture, _ listener: NotifyListener, extra: [String] = [], environment: [String: String] = [:]) throws -> BackgroundProcess {
        try BackgroundProcess(
            ["run", "--db", fixture.database, "--storage", fixture.storage, "--log-target", "stderr", "--config", fixture.tmp.sub("none.conf")] + extra,
            environment: ["NOTIFY_SOCKET": listener.path].merging(environment) { $1 }, stderrPath: fixture.tmp.path + "/daemon.stderr")
    }

    func writeConfig(_ fixture: Fixture, _ text: String = "") {
        _ = FileManager.default.createFile(atPath: fixture.tmp.sub("none.conf"), contents: Data(text.utf8))
    }

    @Test("READY and STATUS, a first sweep at start, SIGHUP: RELOADING+MONOTONIC_USEC, READY, and a sweep; SIGTERM: STOPPING, exit 0")
    func lifecycle() throws {
        let fixture = try Fixture()
        writeConfig(fixture)
        let listener = NotifyListener(directory: fixture.tmp.path)
        let expiredAtStart = try fixture.addCompleted("exp_old1", hoursAgo: 48)
        let fresh = try fixture.addCompleted("exp_fresh1", hoursAgo: 1)
        let daemon = try start(fixture, listener)

        let ready = try listener.wait(for: "READY=1") { $0 == "READY=1" }
        try listener.wait(for: "idle status", from: ready) { $0.hasPrefix("STATUS=Idle. Last sweep") && $0.contains("1 removed") }
        #expect(!fileExists(expiredAtStart))
        #expect(fileExists(fresh))
        #expect(try fixture.rows()["exp_old1"]?.status == "expired")
        // An SQLite daemon never loads libpq (and the TLS, Kerberos and LDAP libraries it brings).
        let maps = String(decoding: (try? FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/\(daemon.pid)/maps")).readToEnd()) ?? Data(), as: UTF8.self)
        #expect(maps.contains("libsqlite3") && !maps.contains("libpq"), "libpq mapped by an SQLite daemon")

        // A job that becomes due after start is swept on SIGHUP, not an hour later.
        let insertedLater = try fixture.addCompleted("exp_old2", hoursAgo: 30)
        let before = listener.all.count
        daemon.signal(SIGHUP)
        let reloading = try listener.wait(for: "RELOADING", from: before) { $0.hasPrefix("RELOADING=1\nMONOTONIC_USEC=") }
        let usec = UInt64(listener.all[reloading].split(separator: "=").last ?? "") ?? 0
        let monotonicNow = MonotonicClock.microseconds()
        #expect(usec > 0 && usec <= monotonicNow && monotonicNow - usec < 10_000_000)
        let readyAgain = try listener.wait(for: "READY after RELOADING", from: reloading + 1) { $0 == "READY=1" }
        try listener.wait(for: "idle after the reload sweep", from: readyAgain) { $0.hasPrefix("STATUS=Idle.") }
        #expect(!fileExists(insertedLater))
        #expect(try fixture.rows()["exp_old2"]?.status == "expired")

        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit(timeout: 2) == 0)
        #expect(listener.all.contains("STOPPING=1"))
        #expect(fileExists(fresh))
    }

    @Test("WATCHDOG=1 pings at half of WATCHDOG_USEC, and none when WATCHDOG_PID names another process")
    func watchdog() throws {
        let fixture = try Fixture()
        writeConfig(fixture)
        let listener = NotifyListener(directory: fixture.tmp.path)
        let daemon = try start(fixture, listener, environment: ["WATCHDOG_USEC": "1000000"])
        try listener.wait(for: "READY=1") { $0 == "READY=1" }
        usleep(1_600_000)
        let pings = listener.all.filter { $0 == "WATCHDOG=1" }.count
        #expect(pings >= 3, "expected a ping every 0.5 s, got \(pings) in about 1.6 s")
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit(timeout: 2) == 0)

        let listener2 = NotifyListener(directory: makeDirectory(fixture.tmp.sub("second")))
        let daemon2 = try start(fixture, listener2, environment: ["WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "1"])
        try listener2.wait(for: "READY=1") { $0 == "READY=1" }
        usleep(1_200_000)
        #expect(!listener2.all.contains("WATCHDOG=1"))
        daemon2.signal(SIGTERM)
        #expect(daemon2.waitForExit(timeout: 2) == 0)
    }

    @Test("SIGTERM in the middle of a large sweep: STOPPING, exit 0 within 2 s, no row half-done")
    func stopMidSweep() throws {
        let fixture = try Fixture()
        writeConfig(fixture)
        try fixture.addManyDue(6000)
        let listener = NotifyListener(directory: fixture.tmp.path)
        let daemon = try start(fixture, listener, extra: ["--batch-size", "100"])
        try listener.wait(for: "sweep progress") { $0.hasPrefix("STATUS=Sweeping:") && !$0.contains("starting") }
        let sent = Date()
        daemon.signal(SIGTERM)
        let status = daemon.waitForExit(timeout: 5)
        let elapsed = Date().timeIntervalSince(sent)
        #expect(status == 0)
        #expect(elapsed < 2, "took \(elapsed) s to stop")
        #expect(listener.all.contains("STOPPING=1"))
        let (expired, untouched) = try expectNothingHalfDone(fixture)
        #expect(expired > 0 && untouched > 0, "the stop should land mid-sweep: \(expired) swept, \(untouched) left")
        #expect(expired + untouched == 6000)
    }

    @Test("SIGHUPs during a sweep queue exactly one more sweep")
    func hangupsDuringASweepQueueOne() throws {
        let fixture = try Fixture()
        writeConfig(fixture)
        try fixture.addManyDue(4000)
        let listener = NotifyListener(directory: fixture.tmp.path)
        let daemon = try start(fixture, listener, extra: ["--batch-size", "50"])
        try listener.wait(for: "sweep progress") { $0.hasPrefix("STATUS=Sweeping:") && !$0.contains("starting") }
        for _ in 0..<3 {
            daemon.signal(SIGHUP)
            usleep(20_000)
        }
        // The first sweep must still be running when the third SIGHUP arrives for this test to mean anything.
        let idle = try listener.wait(for: "idle", timeout: 30) { $0.hasPrefix("STATUS=Idle.") }
        let messages = listener.all
        let reloadsBeforeIdle = messages[..<idle].filter { $0.hasPrefix("RELOADING=1") }.count
        #expect(reloadsBeforeIdle == 3, "all three SIGHUPs were handled while sweeping: \(messages)")
        #expect(messages[..<idle].filter { $0 == "STATUS=Sweeping: starting" }.count == 2,
                "the first sweep and exactly one queued sweep: \(messages)")
        usleep(300_000)
        #expect(listener.all.filter { $0 == "STATUS=Sweeping: starting" }.count == 2, "no further sweep was queued")
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit(timeout: 2) == 0)
        #expect(daemon.stderr.components(separatedBy: "sweep finished").count - 1 == 2)
    }

    @Test("start-up failures exit with the design's codes and tell systemd why (ERRNO=, STATUS=)")
    func startupFailures() throws {
        let fixture = try Fixture()
        writeConfig(fixture)
        let listener = NotifyListener(directory: fixture.tmp.path)

        let missingDB = try BackgroundProcess(["run", "--db", fixture.tmp.sub("nope.db"), "--storage", fixture.storage, "--config", fixture.tmp.sub("none.conf"), "--log-target", "stderr"],
                                          environment: ["NOTIFY_SOCKET": listener.path], stderrPath: fixture.tmp.path + "/daemon.stderr")
        #expect(missingDB.waitForExit(timeout: 10) == 66)
        #expect(missingDB.stderr.contains(fixture.tmp.sub("nope.db")))
        try listener.wait(for: "ERRNO=2") { $0.contains("ERRNO=2") && $0.contains("STATUS=Cannot start") }
        #expect(!FileManager.default.fileExists(atPath: fixture.tmp.sub("nope.db")), "the database must never be created")

        let noTable = fixture.tmp.sub("empty.db")
        _ = try ApplicationDatabase(creatingAt: noTable)
        try sqlite3(noTable, "DROP TABLE export_jobs")
        let schema = try BackgroundProcess(["run", "--db", noTable, "--storage", fixture.storage, "--config", fixture.tmp.sub("none.conf"), "--log-target", "stderr"],
                                       environment: ["NOTIFY_SOCKET": listener.path], stderrPath: fixture.tmp.path + "/daemon.stderr")
        #expect(schema.waitForExit(timeout: 10) == 65)
        #expect(schema.stderr.contains("no table 'export_jobs'"))

        let storage = try BackgroundProcess(["run", "--db", fixture.database, "--storage", fixture.tmp.sub("missing-dir"), "--config", fixture.tmp.sub("none.conf"), "--log-target", "stderr"],
                                        environment: ["NOTIFY_SOCKET": listener.path], stderrPath: fixture.tmp.path + "/daemon.stderr")
        #expect(storage.waitForExit(timeout: 10) == 66)
        #expect(storage.stderr.contains("missing-dir"))

        writeConfig(fixture, "EXPORT_CLEANUP_RETENTION_HOUR=5\n")
        let count = listener.all.count
        let config = try BackgroundProcess(["run", "--config", fixture.tmp.sub("none.conf")], environment: ["NOTIFY_SOCKET": listener.path], stderrPath: fixture.tmp.path + "/daemon.stderr")
        #expect(config.waitForExit(timeout: 10) == 78)
        #expect(config.stderr.contains("none.conf:1"))
        #expect(config.stderr.contains("EXPORT_CLEANUP_RETENTION_HOURS"))
        try listener.wait(for: "ERRNO=22", from: count) { $0.contains("ERRNO=22") && $0.contains("Configuration error") }
    }

    @Test("an unwritable storage directory stops the start with exit 77, naming it (as uid 65534 via setpriv)",
          .enabled(if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv")))
    func unwritableStorage() throws {
        let fixture = try Fixture()
        writeConfig(fixture)
        chmod(fixture.tmp.path, 0o755)
        chmod(fixture.storage, 0o755)
        chmod(fixture.database, 0o644)
        chmod(fixture.tmp.sub("none.conf"), 0o644)
        let result = try Binary.runUnprivileged(["run", "--db", fixture.database, "--storage", fixture.storage,
                                                 "--config", fixture.tmp.sub("none.conf"), "--log-target", "stderr"],
                                                copyInto: fixture.tmp.path)
        #expect(result.status == 77, "\(result.stderr)")
        #expect(result.stderr.contains("the storage directory '\(fixture.storage)' is not writable"))
    }

    @Test("SIGHUP with a broken configuration keeps the running one and goes on; a fixed one takes effect")
    func reloadBadConfig() throws {
        let fixture = try Fixture()
        writeConfig(fixture, "EXPORT_CLEANUP_RETENTION_HOURS=24\n")
        let listener = NotifyListener(directory: fixture.tmp.path)
        let daemon = try start(fixture, listener)
        try listener.wait(for: "idle") { $0.hasPrefix("STATUS=Idle.") }
        let twoHoursOld = try fixture.addCompleted("exp_two", hoursAgo: 2)

        writeConfig(fixture, "EXPORT_CLEANUP_RETENTION_HOURS=zero\n")
        var mark = listener.all.count
        daemon.signal(SIGHUP)
        let ready = try listener.wait(for: "READY after bad reload", from: mark) { $0 == "READY=1" }
        try listener.wait(for: "idle", from: ready) { $0.hasPrefix("STATUS=Idle.") }
        #expect(fileExists(twoHoursOld), "the old 24 h retention must still apply")
        #expect(daemon.stderr.contains("configuration not reloaded"))
        #expect(daemon.stderr.contains("none.conf:1"))

        writeConfig(fixture, "EXPORT_CLEANUP_RETENTION_HOURS=1\n")
        mark = listener.all.count
        daemon.signal(SIGHUP)
        try listener.wait(for: "idle after good reload", from: mark) { $0.hasPrefix("STATUS=Idle.") && $0.contains("1 removed") }
        #expect(!fileExists(twoHoursOld))
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit(timeout: 2) == 0)
    }

    @Test("a refused or undecidable record is logged at warning once per run (again when it changes), and counted in every sweep")
    func problemsWarnOncePerRun() throws {
        let fixture = try Fixture()
        writeConfig(fixture)
        let old = "2020-01-01 00:00:00.000000"
        try fixture.db.execute("""
            INSERT INTO export_jobs (id, export_type, format, status, file_path, created_at, completed_at)
            VALUES ('exp_bad1', 'hotels', 'csv', 'completed', '/etc/hostname', '\(old)', '\(old)'),
                   ('exp_bad2', 'hotels', 'csv', 'completed', NULL, '\(old)', 'yesterday')
            """)
        let listener = NotifyListener(directory: fixture.tmp.path)
        let daemon = try start(fixture, listener)
        func sweepAgain() throws {
            let mark = listener.all.count
            daemon.signal(SIGHUP)
            try listener.wait(for: "idle after a reload", from: mark) { $0.hasPrefix("STATUS=Idle.") }
        }
        let ready = try listener.wait(for: "READY=1") { $0 == "READY=1" }
        let first = try listener.wait(for: "first sweep", from: ready) { $0.hasPrefix("STATUS=Idle. Last sweep") }
        #expect(listener.all[first].contains("1 refused"), "\(listener.all[first])")
        try sweepAgain()
        try sweepAgain()
        func count(_ text: String) -> Int { daemon.stderr.components(separatedBy: text).count - 1 }
        #expect(count("record refused") == 1, "\(daemon.stderr.suffix(3000))")
        #expect(count("record kept") == 1, "\(daemon.stderr.suffix(3000))")
        #expect(count("1 refused, 1 undecidable") >= 3, "every sweep still counts them: \(daemon.stderr.suffix(3000))")
        #expect(listener.all.last { $0.hasPrefix("STATUS=Idle.") }?.contains("1 refused") == true)
        // The row changes: it is new again.
        try fixture.db.execute("UPDATE export_jobs SET file_path = '/etc/passwd' WHERE id = 'exp_bad1'")
        try sweepAgain()
        #expect(count("record refused") == 2, "\(daemon.stderr.suffix(3000))")
        #expect(count("record kept") == 1)
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit(timeout: 5) == 0)
    }
}
