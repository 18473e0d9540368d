import ExportCleanup
import ExportCleanupDemo
import Foundation
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

private func json(_ text: String) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
}

extension ExportFixture {
    /// One due completed file, one fresh, one failed, one refused (outside the storage directory).
    fileprivate func metricsMix() throws {
        try addCompleted("exp_m1", hoursAgo: 48, bytes: 300)
        try addCompleted("exp_m2", hoursAgo: 1, bytes: 10)
        let created = UTCInstant.now().adding(hours: -5)
        let partial = try writeExport("exp_m3", stamp: created, bytes: 70)
        try db.insert([.init(id: "exp_m3", status: "failed", filePath: .text(partial), createdAt: ApplicationDatabase.text(created))])
        let outside = tmp.sub("outside.csv")
        _ = FileManager.default.createFile(atPath: outside, contents: Data("keep".utf8))
        let old = UTCInstant.now().adding(hours: -48)
        try db.insert([.init(id: "exp_m4", status: "completed", filePath: .text(outside), createdAt: ApplicationDatabase.text(old),
                             completedAt: ApplicationDatabase.text(old))])
    }
}

@Suite("Prometheus metrics file (EXPORT_CLEANUP_METRICS_FILE)")
struct MetricsTests {
    /// The per-rule counters and the report's counts they must equal.
    static let perRule: [(metric: String, report: String)] = [
        ("export_cleanup_files_removed_total", "removed"), ("export_cleanup_files_already_missing_total", "already_missing"),
        ("export_cleanup_files_failed_total", "failed"), ("export_cleanup_records_refused_total", "refused"),
        ("export_cleanup_records_undecidable_total", "undecidable"), ("export_cleanup_records_changed_meanwhile_total", "changed_meanwhile"),
        ("export_cleanup_freed_bytes_total", "bytes_freed"),
    ]

    @Test("a one-shot sweep writes the file atomically; a real Prometheus parser reads it back with the JSON report's values")
    func oneShot() throws {
        let fixture = try Fixture()
        try fixture.metricsMix()
        let metricsDirectory = makeDirectory(fixture.tmp.sub("textfile"))
        let file = metricsDirectory + "/export-cleanup.prom"
        let result = try Binary.run(["sweep", "--db", fixture.database, "--storage", fixture.storage, "--json", "--metrics-file", file])
        #expect(result.status == 1, "a refused record: \(result.stderr)")
        let output = try json(result.stdout)
        let report = try #require(output["report"] as? [String: Any])

        let metrics = try PrometheusSamples.parse(file: file)
        for rule in ["completed", "failed"] {
            let counts = try #require(report[rule] as? [String: Any])
            for (metric, key) in Self.perRule {
                let expected = try #require((counts[key] as? NSNumber)?.doubleValue, "\(key)")
                #expect(metrics.value(metric, ["rule": rule]) == expected, "\(metric){rule=\"\(rule)\"}")
            }
        }
        #expect(metrics.value("export_cleanup_files_removed_total", ["rule": "completed"]) == 1)
        #expect(metrics.value("export_cleanup_freed_bytes_total", ["rule": "failed"]) == 70)
        #expect(metrics.value("export_cleanup_records_refused_total", ["rule": "completed"]) == 1)
        #expect(metrics.value("export_cleanup_sweeps_total", ["outcome": "completed"]) == 1)
        #expect(metrics.value("export_cleanup_sweeps_total", ["outcome": "failed"]) == 0)
        #expect(metrics.value("export_cleanup_last_sweep_aborted") == 0)
        let due = try ["completed", "failed"].map { try #require(((report[$0] as? [String: Any])?["due"] as? NSNumber)?.doubleValue) }.reduce(0, +)
        #expect(metrics.value("export_cleanup_last_sweep_due_records") == due)

        let duration = try #require((report["duration_seconds"] as? NSNumber)?.doubleValue)
        #expect(metrics.value("export_cleanup_last_sweep_duration_seconds") == duration)
        let started = try #require(metrics.value("export_cleanup_last_sweep_start_timestamp_seconds"))
        let reportStart = try #require(report["started_at"] as? String)
        #expect(UTCInstant.now().seconds - Int64(started) < 60)
        #expect(reportStart == UTCInstant(seconds: Int64(started)).iso8601, "the report's started_at is the same moment, to the second")
        let success = try #require(metrics.value("export_cleanup_last_success_timestamp_seconds"))
        #expect(success >= started && success - started < 30)

        let after = try #require(output["storage_after"] as? [String: Any])
        #expect(metrics.value("export_cleanup_storage_files") == (after["total_files"] as? NSNumber)?.doubleValue)
        #expect(metrics.value("export_cleanup_storage_bytes") == (after["total_size_bytes"] as? NSNumber)?.doubleValue)

        // Prometheus naming: counters end in _total, times in _timestamp_seconds; every family has HELP and TYPE.
        #expect(metrics.types["export_cleanup_files_removed"] == "counter")
        #expect(metrics.types["export_cleanup_last_sweep_start_timestamp_seconds"] == "gauge")
        #expect(metrics.help.values.allSatisfy { !$0.isEmpty })
        let text = try String(contentsOfFile: file, encoding: .utf8)
        for line in text.split(separator: "\n") where line.hasPrefix("# TYPE") && line.hasSuffix(" counter") {
            #expect(line.split(separator: " ")[2].hasSuffix("_total"), "\(line)")
        }
        #expect(text.hasSuffix("\n"))

        // Atomic: mode 0644 whatever the umask (node_exporter runs as another user), no temporary file left.
        var info = stat()
        #expect(stat(file, &info) == 0 && info.st_mode & 0o777 == 0o644)
        #expect(try FileManager.default.contentsOfDirectory(atPath: metricsDirectory) == ["export-cleanup.prom"])
    }

    @Test("one-shot sweeps carry the counters over from the file they replace; --no-stats leaves the storage gauges out; a dry run writes nothing")
    func countersAccumulateAcrossOneShotSweeps() throws {
        let fixture = try Fixture()
        try fixture.metricsMix()
        let file = fixture.tmp.sub("export-cleanup.prom")
        let sweep = ["sweep", "--db", fixture.database, "--storage", fixture.storage, "--metrics-file", file, "--no-stats"]
        _ = try Binary.run(sweep)
        try fixture.addCompleted("exp_m5", hoursAgo: 30, bytes: 1000)
        _ = try Binary.run(sweep)
        let metrics = try PrometheusSamples.parse(file: file)
        #expect(metrics.value("export_cleanup_files_removed_total", ["rule": "completed"]) == 2)
        #expect(metrics.value("export_cleanup_freed_bytes_total", ["rule": "completed"]) == 1300)
        #expect(metrics.value("export_cleanup_records_refused_total", ["rule": "completed"]) == 2, "refused on both sweeps")
        #expect(metrics.value("export_cleanup_sweeps_total", ["outcome": "completed"]) == 2)
        #expect(metrics.value("export_cleanup_storage_files") == nil, "not counted: unknown, not 0")

        let before = try Data(contentsOf: URL(fileURLWithPath: file))
        try fixture.addCompleted("exp_m6", hoursAgo: 30)
        #expect(try Binary.run(sweep + ["--dry-run"]).status == 1)
        #expect(try Data(contentsOf: URL(fileURLWithPath: file)) == before)
    }

    @Test("a sweep that cannot run counts as failed and sets last_sweep_aborted; the last success is kept from the file")
    func failedSweep() throws {
        let fixture = try Fixture()
        let file = fixture.tmp.sub("export-cleanup.prom")
        _ = try Binary.run(["sweep", "--db", fixture.database, "--storage", fixture.storage, "--metrics-file", file])
        let success = try #require(try PrometheusSamples.parse(file: file).value("export_cleanup_last_success_timestamp_seconds"))
        let missing = try Binary.run(["sweep", "--db", fixture.tmp.sub("missing.db"), "--storage", fixture.storage, "--metrics-file", file])
        #expect(missing.status == 66)
        let metrics = try PrometheusSamples.parse(file: file)
        #expect(metrics.value("export_cleanup_sweeps_total", ["outcome": "failed"]) == 1)
        #expect(metrics.value("export_cleanup_sweeps_total", ["outcome": "completed"]) == 1)
        #expect(metrics.value("export_cleanup_last_sweep_aborted") == 1)
        #expect(metrics.value("export_cleanup_last_success_timestamp_seconds") == success)
    }

    @Test("the daemon rewrites the file after every sweep; its counters accumulate over its life")
    func daemon() throws {
        let fixture = try Fixture()
        _ = FileManager.default.createFile(atPath: fixture.tmp.sub("none.conf"), contents: Data())
        try fixture.addCompleted("exp_d1", hoursAgo: 48, bytes: 111)
        let file = fixture.tmp.sub("export-cleanup.prom")
        let listener = NotifyListener(directory: fixture.tmp.path)
        let daemon = try BackgroundProcess(
            ["run", "--db", fixture.database, "--storage", fixture.storage, "--log-target", "stderr", "--config", fixture.tmp.sub("none.conf"),
             "--metrics-file", file],
            environment: ["NOTIFY_SOCKET": listener.path], stderrPath: fixture.tmp.sub("daemon.stderr"))
        let ready = try listener.wait(for: "READY=1") { $0 == "READY=1" }
        try listener.wait(for: "idle after the first sweep", from: ready) { $0.hasPrefix("STATUS=Idle. Last sweep") }
        let first = try PrometheusSamples.parse(file: file)
        #expect(first.value("export_cleanup_files_removed_total", ["rule": "completed"]) == 1)
        #expect(first.value("export_cleanup_storage_files") == nil, "the daemon never counts the storage directory")

        try fixture.addCompleted("exp_d2", hoursAgo: 48, bytes: 222)
        let before = listener.all.count
        daemon.signal(SIGHUP)
        let reloaded = try listener.wait(for: "READY after the reload", from: before) { $0 == "READY=1" }
        try listener.wait(for: "idle after the second sweep", from: reloaded) { $0.hasPrefix("STATUS=Idle.") }
        let second = try PrometheusSamples.parse(file: file)
        #expect(second.value("export_cleanup_files_removed_total", ["rule": "completed"]) == 2)
        #expect(second.value("export_cleanup_freed_bytes_total", ["rule": "completed"]) == 333)
        #expect(second.value("export_cleanup_sweeps_total", ["outcome": "completed"]) == 2)
        #expect((second.value("export_cleanup_last_sweep_start_timestamp_seconds") ?? 0) >= (first.value("export_cleanup_last_sweep_start_timestamp_seconds") ?? .infinity))
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit(timeout: 5) == 0, "\(daemon.stderr)")
    }
}
