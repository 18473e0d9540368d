import ExportCleanup
import ExportCleanupDemo
import Foundation
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite("last-sweep status (EXPORT_CLEANUP_STATE_DIRECTORY) and export-cleanup status")
struct StatusTests {
    private func status(_ directory: String?, json: Bool = false, environment: [String: String] = [:], config: String) throws -> Binary.Result {
        try Binary.run(["status", "--config", config] + (directory.map { ["--state-directory", $0] } ?? []) + (json ? ["--json"] : []),
                       environment: environment)
    }

    private func emptyConfig(_ fixture: Fixture) -> String {
        let path = fixture.tmp.sub("empty.conf")
        _ = FileManager.default.createFile(atPath: path, contents: Data())
        return path
    }

    @Test("no state directory: exit 78 with a message naming the flag and the key; nothing recorded yet: exit 3")
    func unconfiguredAndEmpty() throws {
        let fixture = try Fixture()
        let config = emptyConfig(fixture)
        let none = try status(nil, config: config)
        #expect(none.status == 78)
        #expect(none.stderr.contains("no state directory is configured") && none.stderr.contains("--state-directory")
                && none.stderr.contains("EXPORT_CLEANUP_STATE_DIRECTORY"), "\(none.stderr)")
        let empty = try status(makeDirectory(fixture.tmp.sub("state")), config: config)
        #expect(empty.status == 3)
        #expect(empty.stdout.contains("UNKNOWN: no sweep recorded"), "\(empty.stdout)")
    }

    @Test("a one-shot sweep keeps its report (0644, atomically); status prints it and exits 0; refused records: 1")
    func oneShot() throws {
        let fixture = try Fixture()
        let config = emptyConfig(fixture)
        let state = fixture.tmp.sub("state")
        try fixture.addCompleted("exp_s1", hoursAgo: 48, bytes: 2048)
        let sweep = try Binary.run(["sweep", "--db", fixture.database, "--storage", fixture.storage, "--config", config, "--state-directory", state])
        #expect(sweep.status == 0, "\(sweep.stderr)")
        let file = state + "/last-sweep.json"
        var info = stat()
        #expect(stat(file, &info) == 0 && info.st_mode & 0o777 == 0o644)
        #expect(try FileManager.default.contentsOfDirectory(atPath: state) == ["last-sweep.json"])

        let ok = try status(state, config: config)
        #expect(ok.status == 0, "\(ok.stdout)\(ok.stderr)")
        #expect(ok.stdout.contains("Last sweep (one-shot sweep"))
        #expect(ok.stdout.contains("OK: the last sweep ran to the end"))
        let total = try #require(ok.stdout.split(separator: "\n").first { $0.trimmingCharacters(in: .whitespaces).hasPrefix("total") })
        #expect(total.split(separator: " ").map(String.init) == ["total", "1", "1", "0", "0", "0", "0", "2.0", "KiB", "1", "0"], "\(total)")
        #expect(ok.stdout.contains("storage after: 0 files"))

        // The same through the environment, and as JSON.
        let viaEnvironment = try status(nil, json: true, environment: ["EXPORT_CLEANUP_STATE_DIRECTORY": state], config: config)
        #expect(viaEnvironment.status == 0)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(viaEnvironment.stdout.utf8)) as? [String: Any])
        #expect(object["state"] as? String == "ok")
        let last = try #require(object["last"] as? [String: Any])
        #expect(last["kind"] as? String == "sweep")
        #expect(last["outcome"] as? String == "completed")
        let report = try #require(last["report"] as? [String: Any])
        #expect((report["completed"] as? [String: Any])?["bytes_freed"] as? Int == 2048)

        // A refused record: warning, exit 1.
        let outside = fixture.tmp.sub("outside.csv")
        _ = FileManager.default.createFile(atPath: outside, contents: Data("keep".utf8))
        let old = UTCInstant.now().adding(hours: -48)
        try fixture.db.insert([.init(id: "exp_s2", status: "completed", filePath: .text(outside), createdAt: ApplicationDatabase.text(old),
                                     completedAt: ApplicationDatabase.text(old))])
        #expect(try Binary.run(["sweep", "--db", fixture.database, "--storage", fixture.storage, "--config", config, "--state-directory", state]).status == 1)
        let warning = try status(state, config: config)
        #expect(warning.status == 1)
        #expect(warning.stdout.contains("refused completed job exp_s2"))
        #expect(warning.stdout.contains("WARNING: 1 records were refused"), "\(warning.stdout)")
    }

    @Test("a sweep that could not run: exit 2, the last success kept; a stale status (older than twice the interval): exit 2")
    func failedAndStale() throws {
        let fixture = try Fixture()
        let config = emptyConfig(fixture)
        let state = fixture.tmp.sub("state")
        #expect(try Binary.run(["sweep", "--db", fixture.database, "--storage", fixture.storage, "--config", config, "--state-directory", state]).status == 0)
        let missing = try Binary.run(["sweep", "--db", fixture.tmp.sub("missing.db"), "--storage", fixture.storage, "--config", config,
                                      "--state-directory", state])
        #expect(missing.status == 66)
        let failed = try status(state, config: config)
        #expect(failed.status == 2)
        #expect(failed.stdout.contains("CRITICAL: the last sweep could not run"), "\(failed.stdout)")
        #expect(failed.stdout.contains("last sweep that ran to the end: "))

        // Stale: the same file, ended three intervals ago.
        let file = state + "/last-sweep.json"
        #expect(try Binary.run(["sweep", "--db", fixture.database, "--storage", fixture.storage, "--config", config, "--state-directory", state]).status == 0)
        var object = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: file))) as? [String: Any])
        object["endedAt"] = UTCInstant.now().adding(microseconds: -3 * 3_600_000_000).iso8601
        object["startedAt"] = object["endedAt"]
        try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: file))
        let stale = try status(state, config: config)
        #expect(stale.status == 2)
        #expect(stale.stdout.contains("more than twice the 3600 s interval"), "\(stale.stdout)")
    }

    @Test("the daemon writes its status after every sweep, with its next sweep; systemd's STATE_DIRECTORY is the default")
    func daemon() throws {
        let fixture = try Fixture()
        let config = emptyConfig(fixture)
        let state = makeDirectory(fixture.tmp.sub("state"))
        try fixture.addCompleted("exp_d1", hoursAgo: 48)
        let listener = NotifyListener(directory: fixture.tmp.path)
        let daemon = try BackgroundProcess(
            ["run", "--db", fixture.database, "--storage", fixture.storage, "--log-target", "stderr", "--config", config, "--interval-seconds", "600"],
            environment: ["NOTIFY_SOCKET": listener.path, "STATE_DIRECTORY": state], stderrPath: fixture.tmp.sub("daemon.stderr"))
        let ready = try listener.wait(for: "READY=1") { $0 == "READY=1" }
        try listener.wait(for: "idle after the first sweep", from: ready) { $0.hasPrefix("STATUS=Idle. Last sweep") }
        let result = try status(state, config: config)
        #expect(result.status == 0, "\(result.stdout)")
        #expect(result.stdout.contains("Last sweep (daemon, pid \(daemon.pid))"), "\(result.stdout)")
        #expect(result.stdout.contains("interval 600 s"))
        #expect(result.stdout.contains("next sweep: "), "\(result.stdout)")
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit(timeout: 5) == 0)
    }
}
