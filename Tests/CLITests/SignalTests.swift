import Foundation
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Waits until `pid` has blocked SIGHUP (its process constructor ran, before any Swift code): the earliest moment
/// a process can guard itself; before it only the dynamic loader runs.
func waitUntilSignalsBlocked(_ pid: Int32, timeout: Double = 10) throws {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("SigBlk:") }),
            let mask = UInt64(line.dropFirst("SigBlk:".count).trimmingCharacters(in: .whitespaces), radix: 16),
            mask & (1 << UInt64(SIGHUP - 1)) != 0
        {
            return
        }
        usleep(200)
    }
    throw TestFailure("process \(pid) never blocked SIGHUP")
}

/// Every due row of ``Fixture/addManyDue(_:prefix:)`` is either fully swept (expired, NULL, file gone) or untouched
/// (completed, its path, its file there): never a file gone while its row still names it. Returns how many of each.
func expectNothingHalfDone(_ fixture: Fixture, prefix: String = "exp_bulk", sourceLocation: SourceLocation = #_sourceLocation) throws
    -> (expired: Int, untouched: Int)
{
    var expired = 0, untouched = 0
    for (id, row) in try fixture.rows() where id.hasPrefix(prefix) {
        if row.status == "expired" {
            #expect(row.file_path == nil, "\(id)", sourceLocation: sourceLocation)
            expired += 1
        } else {
            let path = try #require(row.file_path, "\(id)", sourceLocation: sourceLocation)
            #expect(row.status == "completed" && fileExists(path), "\(id): its file is gone but its record still names it",
                    sourceLocation: sourceLocation)
            untouched += 1
        }
    }
    return (expired, untouched)
}

@Suite("signals from the first instruction: run and sweep")
struct SignalTests {
    func start(_ fixture: Fixture, _ listener: NotifyListener, extra: [String] = []) throws -> BackgroundProcess {
        _ = FileManager.default.createFile(atPath: fixture.tmp.sub("none.conf"), contents: Data())
        return try BackgroundProcess(
            ["run", "--db", fixture.database, "--storage", fixture.storage, "--log-target", "stderr", "--config", fixture.tmp.sub("none.conf")] + extra,
            environment: ["NOTIFY_SOCKET": listener.path], stderrPath: fixture.tmp.path + "/daemon-\(UUID().uuidString).stderr")
    }

    @Test("a SIGHUP sent before main runs is not fatal: it stays pending and becomes a reload once the daemon is ready")
    func hangupAtStart() throws {
        let fixture = try Fixture()
        let listener = NotifyListener(directory: fixture.tmp.path)
        let daemon = try start(fixture, listener)
        try waitUntilSignalsBlocked(daemon.pid)
        daemon.signal(SIGHUP)
        let ready = try listener.wait(for: "READY=1") { $0 == "READY=1" }
        try listener.wait(for: "the early SIGHUP handled as a reload", from: ready) { $0.hasPrefix("RELOADING=1") }
        #expect(daemon.process.isRunning, "\(daemon.stderr.suffix(2000))")
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit(timeout: 5) == 0)
        #expect(daemon.process.terminationReason == .exit)
    }

    @Test("a SIGTERM sent before main runs is not lost: the daemon stops cleanly as soon as it is ready")
    func terminateAtStart() throws {
        let fixture = try Fixture()
        let listener = NotifyListener(directory: fixture.tmp.path)
        let daemon = try start(fixture, listener)
        try waitUntilSignalsBlocked(daemon.pid)
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit(timeout: 10) == 0, "\(daemon.stderr.suffix(2000))")
        #expect(daemon.process.terminationReason == .exit)
        #expect(listener.all.contains("STOPPING=1"))
    }

    @Test("SIGTERM to a one-shot sweep mid-batch: it claims what it decided, removes those files, exits 0; no row names a removed file")
    func sweepStopsOnTerm() throws {
        let fixture = try Fixture()
        try fixture.addManyDue(8000)
        _ = FileManager.default.createFile(atPath: fixture.tmp.sub("none.conf"), contents: Data())
        let sweep = try BackgroundProcess(
            ["sweep", "--db", fixture.database, "--storage", fixture.storage, "--log-target", "stderr", "--config", fixture.tmp.sub("none.conf"),
             "--batch-size", "100", "--no-stats"],
            stderrPath: fixture.tmp.path + "/sweep.stderr")
        // Wait until the sweep is part-way (some files gone), then stop it.
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline, sweep.process.isRunning,
            ((try? FileManager.default.contentsOfDirectory(atPath: fixture.storage).count) ?? 10_000) > 9800
        {
            usleep(2_000)
        }
        sweep.signal(SIGTERM)
        let status = sweep.waitForExit(timeout: 5)
        #expect(sweep.process.terminationReason == .exit, "killed by the signal: \(sweep.stderr.suffix(2000))")
        #expect(status == 0, "\(sweep.stderr.suffix(2000))")
        #expect(sweep.stderr.contains("stopping on SIGTERM") && sweep.stderr.contains("sweep interrupted"), "\(sweep.stderr.suffix(2000))")
        let (expired, untouched) = try expectNothingHalfDone(fixture)
        #expect(expired > 0 && untouched > 0, "the stop should land mid-sweep: \(expired) swept, \(untouched) left")
        #expect(!claimsJournalExists(in: fixture.storage), "the batch in hand was finished")
        let again = try Binary.run(["sweep", "--db", fixture.database, "--storage", fixture.storage, "--log-target", "stderr",
                                    "--config", fixture.tmp.sub("none.conf"), "--no-stats"])
        #expect(again.status == 0)
        #expect(try fixture.rows().filter { $0.key.hasPrefix("exp_bulk") }.values.allSatisfy { $0.status == "expired" && $0.file_path == nil })
        #expect(try fixture.rows().filter { $0.key.hasPrefix("exp_recent") }.values.allSatisfy { $0.status == "completed" && $0.file_path != nil })
        #expect(try FileManager.default.contentsOfDirectory(atPath: fixture.storage).allSatisfy { $0.contains("exp_recent") })
    }
}
