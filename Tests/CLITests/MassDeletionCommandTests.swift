import ExportCleanup
import ExportCleanupDemo
import Foundation
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The mass-deletion brake as an operator meets it: `sweep` exits 75 and says why, `--allow-mass-deletion` goes
/// through, the daemon says so in STATUS= and keeps running.
@Suite("mass-deletion brake: sweep and run")
struct MassDeletionCommandTests {
    /// 1,200 exports completed in the last 20 hours: every one is due under a retention of 0.01 hours.
    func fixture() throws -> Fixture {
        let fixture = try Fixture()
        _ = FileManager.default.createFile(atPath: fixture.tmp.sub("none.conf"), contents: Data())
        var rows: [ApplicationDatabase.Row] = []
        for index in 0..<1200 {
            let completed = UTCInstant.now().adding(hours: -0.5 - Double(index) / 60)
            let id = "exp_m\(index)"
            rows.append(.init(id: id, status: "completed", filePath: .text(try fixture.writeExport(id, stamp: completed)),
                              createdAt: ApplicationDatabase.text(completed), completedAt: ApplicationDatabase.text(completed)))
        }
        try fixture.db.insert(rows)
        return fixture
    }

    func arguments(_ fixture: Fixture, _ command: String = "sweep") -> [String] {
        [command, "--db", fixture.database, "--storage", fixture.storage, "--config", fixture.tmp.sub("none.conf"), "--log-target", "stderr",
         "--retention-hours", "0.01"]
    }

    @Test("a sweep that would remove every file exits 75, names the numbers, removes nothing; --allow-mass-deletion goes through")
    func oneShot() throws {
        let fixture = try fixture()
        let before = try fixture.records()
        let refused = try Binary.run(arguments(fixture) + ["--no-stats"])
        #expect(refused.status == 75, "\(refused.stderr.suffix(2000))")
        #expect(refused.stdout.contains("refused: mass-deletion brake: this sweep would remove 1200 of the 1200 export files"), "\(refused.stdout)")
        #expect(refused.stderr.contains("sweep refused by the mass-deletion brake"), "\(refused.stderr.suffix(2000))")
        #expect(try fixture.records() == before)
        #expect(fixture.storageListing().count == 1200)

        let json = try Binary.run(arguments(fixture) + ["--json", "--dry-run"])
        #expect(json.status == 75)
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        let check = (object?["report"] as? [String: Any])?["mass_deletion"] as? [String: Any]
        #expect(check?["tripped"] as? Bool == true && check?["due_files"] as? Int == 1200 && check?["referenced_files"] as? Int == 1200, "\(json.stdout.prefix(3000))")

        let lowered = try Binary.run(arguments(fixture) + ["--max-delete-min-files", "5000", "--dry-run", "--no-stats"])
        #expect(lowered.status == 0, "a minimum above the due count lets it through: \(lowered.stderr.suffix(1000))")

        let allowed = try Binary.run(arguments(fixture) + ["--allow-mass-deletion", "--no-stats"])
        #expect(allowed.status == 0, "\(allowed.stderr.suffix(2000))")
        #expect(allowed.stderr.contains("mass-deletion brake is off for this sweep"))
        #expect(fixture.storageListing().isEmpty)
        #expect(try fixture.records().values.allSatisfy { $0 == ["expired", "NULL"] })
    }

    @Test("the brake's keys are validated like every setting (exit 78, the key named)")
    func validation() throws {
        let fixture = try Fixture()
        _ = FileManager.default.createFile(atPath: fixture.tmp.sub("none.conf"), contents: Data())
        let result = try Binary.run(["sweep", "--db", fixture.database, "--storage", fixture.storage, "--config", fixture.tmp.sub("none.conf"),
                                     "--max-delete-percent", "120"])
        #expect(result.status == 78)
        #expect(result.stderr.contains("EXPORT_CLEANUP_MAX_DELETE_PERCENT") && result.stderr.contains("from 0 to 100"), "\(result.stderr)")
        let help = try Binary.run(["sweep", "--help"])
        #expect(help.stdout.contains("--allow-mass-deletion") && help.stdout.contains("--max-delete-percent"))
    }

    @Test("the daemon says so in STATUS=, removes nothing, and keeps running")
    func daemon() throws {
        let fixture = try fixture()
        let listener = NotifyListener(directory: fixture.tmp.path)
        let daemon = try BackgroundProcess(arguments(fixture, "run"), environment: ["NOTIFY_SOCKET": listener.path],
                                           stderrPath: fixture.tmp.path + "/daemon.stderr")
        try listener.wait(for: "refused status") { $0.hasPrefix("STATUS=Idle. Last sweep") && $0.contains("refused by the mass-deletion brake: 1200 of 1200 files due") }
        #expect(fixture.storageListing().count == 1200)
        #expect(daemon.process.isRunning)
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit(timeout: 5) == 0)
    }
}

@Suite("clock check: sweep --require-synced-clock")
struct ClockCheckCommandTests {
    @Test("yes: exit 75 and nothing removed when this machine's kernel says unsynchronised, a normal sweep otherwise")
    func requireSyncedClock() throws {
        let fixture = try Fixture()
        _ = FileManager.default.createFile(atPath: fixture.tmp.sub("none.conf"), contents: Data())
        let path = try fixture.addCompleted("exp_clock1", hoursAgo: 48)
        let synchronized = KernelClockStatus().clockSync().isSynchronized
        let result = try Binary.run(["sweep", "--db", fixture.database, "--storage", fixture.storage, "--config", fixture.tmp.sub("none.conf"),
                                     "--log-target", "stderr", "--no-stats", "--require-synced-clock", "yes"])
        if synchronized {
            #expect(result.status == 0, "\(result.stderr)")
            #expect(!fileExists(path))
        } else {
            #expect(result.status == 75, "\(result.stderr)")
            #expect(result.stdout.contains("refused: the system clock is not synchronised"), "\(result.stdout)")
            #expect(result.stderr.contains("EXPORT_CLEANUP_REQUIRE_SYNCED_CLOCK=yes"))
            #expect(fileExists(path))
        }
        let invalid = try Binary.run(["sweep", "--db", fixture.database, "--storage", fixture.storage, "--config", fixture.tmp.sub("none.conf"),
                                      "--require-synced-clock", "maybe"])
        #expect(invalid.status == 78 && invalid.stderr.contains("EXPORT_CLEANUP_REQUIRE_SYNCED_CLOCK"), "\(invalid.stderr)")
    }
}

@Suite("bounded sweeps: sweep and run")
struct BoundedSweepCommandTests {
    @Test("the daemon runs the next bounded sweep after a short pause until the backlog is gone")
    func daemonBacklog() throws {
        let fixture = try Fixture()
        _ = FileManager.default.createFile(atPath: fixture.tmp.sub("none.conf"), contents: Data())
        for index in 0..<120 { try fixture.addCompleted("exp_q\(index)", hoursAgo: 48, bytes: 1) }
        let listener = NotifyListener(directory: fixture.tmp.path)
        let daemon = try BackgroundProcess(
            ["run", "--db", fixture.database, "--storage", fixture.storage, "--config", fixture.tmp.sub("none.conf"), "--log-target", "stderr",
             "--interval-seconds", "10", "--max-files-per-sweep", "50"],
            environment: ["NOTIFY_SOCKET": listener.path], stderrPath: fixture.tmp.path + "/daemon.stderr")
        let first = try listener.wait(for: "backlog status") { $0.hasPrefix("STATUS=Idle.") && $0.contains("70 still due") && $0.contains("Next in 1 s (backlog)") }
        let second = try listener.wait(for: "second bounded sweep", from: first + 1) { $0.hasPrefix("STATUS=Idle.") && $0.contains("20 still due") }
        try listener.wait(for: "backlog done", from: second + 1, timeout: 10) { $0.hasPrefix("STATUS=Idle.") && $0.contains("20 removed") && !$0.contains("backlog") }
        #expect(fixture.storageListing().isEmpty)
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit(timeout: 5) == 0)
        let oneShot = try Binary.run(["sweep", "--help"])
        #expect(oneShot.stdout.contains("--max-files-per-sweep") && oneShot.stdout.contains("--max-sweep-seconds"))
    }
}

@Suite("retention per export type: sweep --dry-run")
struct RetentionByTypeCommandTests {
    @Test("the dry run names the rule and the retention that applied to each file; the report counts by type")
    func dryRunListing() throws {
        let fixture = try Fixture()
        _ = FileManager.default.createFile(atPath: fixture.tmp.sub("none.conf"), contents: Data("EXPORT_CLEANUP_RETENTION_HOURS_BY_TYPE=\"hotels=30 rates=100\"\n".utf8))
        try fixture.addCompleted("exp_t1", hoursAgo: 40)
        let result = try Binary.run(["sweep", "--db", fixture.database, "--storage", fixture.storage, "--config", fixture.tmp.sub("none.conf"),
                                     "--log-target", "stderr", "--dry-run"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("[rule completed, retention 30 h (hotels)]"), "\(result.stdout)")
        #expect(result.stdout.contains("by type: hotels due 1 would remove 1"), "\(result.stdout)")
        let bad = try Binary.run(["sweep", "--db", fixture.database, "--storage", fixture.storage, "--config", fixture.tmp.sub("none.conf"),
                                  "--retention-hours-by-type", "hotels=48 hotels=2"])
        #expect(bad.status == 78 && bad.stderr.contains("EXPORT_CLEANUP_RETENTION_HOURS_BY_TYPE") && bad.stderr.contains("named twice"), "\(bad.stderr)")
    }
}

@Suite("orphans command")
struct OrphansCommandTests {
    @Test("lists orphans, removes them with --delete (JSON report), keeps referenced files and odd entries")
    func orphans() throws {
        let fixture = try Fixture()
        _ = FileManager.default.createFile(atPath: fixture.tmp.sub("none.conf"), contents: Data())
        let old = UTCInstant.now().adding(hours: -60)
        let orphan = try fixture.writeExport("exp_or1", stamp: old)
        let kept = try fixture.addCompleted("exp_or2", hoursAgo: 60)
        for path in [orphan, kept] {
            var times = [timespec(tv_sec: Int(old.seconds), tv_nsec: 0), timespec(tv_sec: Int(old.seconds), tv_nsec: 0)]
            utimensat(AT_FDCWD, path, &times, 0)
        }
        _ = FileManager.default.createFile(atPath: fixture.storage + "/readme.txt", contents: Data("x".utf8))
        let base = ["orphans", "--db", fixture.database, "--storage", fixture.storage, "--config", fixture.tmp.sub("none.conf")]
        let list = try Binary.run(base)
        #expect(list.status == 0, "\(list.stderr)")
        #expect(list.stdout.contains("orphan        \((orphan as NSString).lastPathComponent)"), "\(list.stdout)")
        #expect(list.stdout.contains("nonconforming readme.txt"))
        #expect(fileExists(orphan))
        let removed = try Binary.run(base + ["--delete", "--json"])
        #expect(removed.status == 0, "\(removed.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(removed.stdout.utf8)) as? [String: Any]
        #expect(object?["removed"] as? Int == 1 && object?["orphans"] as? Int == 1 && object?["nonconforming"] as? Int == 1, "\(removed.stdout)")
        #expect(!fileExists(orphan) && fileExists(kept))
        #expect(FileManager.default.fileExists(atPath: fixture.storage + "/readme.txt"))
        let help = try Binary.run(["orphans", "--help"])
        #expect(help.stdout.contains("--older-than-hours") && help.stdout.contains("--delete") && help.stdout.contains("--limit"))
    }

    @Test("the daemon with EXPORT_CLEANUP_ORPHAN_HOURS removes orphans after its sweep")
    func daemon() throws {
        let fixture = try Fixture()
        _ = FileManager.default.createFile(atPath: fixture.tmp.sub("none.conf"), contents: Data("EXPORT_CLEANUP_ORPHAN_HOURS=12\n".utf8))
        let old = UTCInstant.now().adding(hours: -30)
        let orphan = try fixture.writeExport("exp_od1", stamp: old)
        var times = [timespec(tv_sec: Int(old.seconds), tv_nsec: 0), timespec(tv_sec: Int(old.seconds), tv_nsec: 0)]
        utimensat(AT_FDCWD, orphan, &times, 0)
        let young = try fixture.writeExport("exp_od2", stamp: UTCInstant.now())
        let listener = NotifyListener(directory: fixture.tmp.path)
        let daemon = try BackgroundProcess(["run", "--db", fixture.database, "--storage", fixture.storage, "--config", fixture.tmp.sub("none.conf"),
                                            "--log-target", "stderr"],
                                           environment: ["NOTIFY_SOCKET": listener.path], stderrPath: fixture.tmp.path + "/daemon.stderr")
        try listener.wait(for: "idle") { $0.hasPrefix("STATUS=Idle.") }
        #expect(!fileExists(orphan), "\(daemon.stderr.suffix(2000))")
        #expect(fileExists(young))
        #expect(daemon.stderr.contains("1 removed"))
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit(timeout: 5) == 0)
    }
}
