import ExportCleanup
import ExportCleanupDemo
import ExportStorage
import Foundation
import GRDB
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A database with the application's DDL and a storage directory, with jobs dated relative to the fixture's `now`
/// (the binary sweeps at its own `now`).
private typealias SweepFixture = ExportFixture

extension ExportFixture {
    fileprivate func at(_ hours: Double) -> UTCInstant { now.adding(hours: hours) }

    /// Adds a job created `createdHours` ago (negative); writes its file when `bytes` is set.
    fileprivate func add(_ id: String, status: String, createdHours: Double, completedAt: StoredValue = .null, bytes: Int?,
                         filePath: StoredValue? = nil) throws {
        let created = at(createdHours)
        if let bytes { try writeExport(id, stamp: created, bytes: bytes, byte: 0x42) }
        try db.insert([
            .init(id: id, status: status, filePath: filePath ?? .text(try exportPath(id, stamp: created)),
                  createdAt: ApplicationDatabase.text(created), completedAt: completedAt),
        ])
    }

    fileprivate func path(_ id: String, createdHours: Double) throws -> String {
        try exportPath(id, stamp: at(createdHours))
    }

    fileprivate var sweepArguments: [String] { ["sweep", "--db", database, "--storage", storage] }

    /// The standard mix: one due completed file, one fresh, one failed, one already missing.
    fileprivate static func standard() throws -> ExportFixture {
        let fixture = try ExportFixture()
        try fixture.add("exp_a1", status: "completed", createdHours: -49, completedAt: .text(fixture.at(-48).databaseText), bytes: 100)
        try fixture.add("exp_a2", status: "completed", createdHours: -3, completedAt: .text(fixture.at(-2).databaseText), bytes: 200)
        try fixture.add("exp_a3", status: "failed", createdHours: -3, bytes: 50)
        try fixture.add("exp_a4", status: "completed", createdHours: -31, completedAt: .text(fixture.at(-30).databaseText), bytes: nil)
        try fixture.add("exp_a5", status: "pending", createdHours: -100, bytes: nil, filePath: .null)
        return fixture
    }
}

/// The cells of a table row of the readable report (`completed`, `failed` or `total`), split on spaces.
private func tableRow(_ output: String, _ name: String) -> [String]? {
    output.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }.first { $0.first == name }
}

private func json(_ text: String) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
}

@Suite("sweep and demo commands")
struct SweepCommandTests {
    @Test("sweep removes due files, updates records, prints the report and exits 0")
    func sweep() throws {
        let fixture = try SweepFixture.standard()
        let result = try Binary.run(fixture.sweepArguments)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("Storage before: 3 files"))
        #expect(result.stdout.contains("Storage after: 1 files"))
        #expect(result.stdout.contains("Sweep "))
        #expect(tableRow(result.stdout, "rule") == ["rule", "due", "removed", "missing", "failed", "refused", "undecidable", "freed", "updated", "changed"])
        #expect(tableRow(result.stdout, "completed") == ["completed", "2", "1", "1", "0", "0", "0", "100", "B", "2", "0"])
        #expect(tableRow(result.stdout, "failed") == ["failed", "1", "1", "0", "0", "0", "0", "50", "B", "1", "0"])
        #expect(tableRow(result.stdout, "total") == ["total", "3", "2", "1", "0", "0", "0", "150", "B", "3", "0"])
        #expect(result.stderr.contains("sweep finished: 3 due, 2 removed (150 bytes)"))

        let records = try fixture.records()
        #expect(records["exp_a1"] == ["expired", "NULL"])
        #expect(records["exp_a4"] == ["expired", "NULL"])
        #expect(records["exp_a3"] == ["failed", "NULL"])
        #expect(records["exp_a2"]?[0] == "completed")
        #expect(records["exp_a5"] == ["pending", "NULL"])
        #expect(fixture.storageListing() == [URL(fileURLWithPath: try fixture.path("exp_a2", createdHours: -3)).lastPathComponent])

        // Again: nothing left to do.
        let again = try Binary.run(fixture.sweepArguments)
        #expect(again.status == 0)
        #expect(tableRow(again.stdout, "total")?.prefix(3) == ["total", "0", "0"])
    }

    @Test("--json prints the report with per-rule counts")
    func sweepJSON() throws {
        let fixture = try SweepFixture.standard()
        let result = try Binary.run(fixture.sweepArguments + ["--json"])
        #expect(result.status == 0)
        let output = try json(result.stdout)
        let report = try #require(output["report"] as? [String: Any])
        let completed = try #require(report["completed"] as? [String: Any])
        #expect(completed["due"] as? Int == 2)
        #expect(completed["removed"] as? Int == 1)
        #expect(completed["already_missing"] as? Int == 1)
        #expect(completed["records_updated"] as? Int == 2)
        #expect(completed["bytes_freed"] as? Int == 100)
        let failed = try #require(report["failed"] as? [String: Any])
        #expect(failed["removed"] as? Int == 1)
        #expect(failed["bytes_freed"] as? Int == 50)
        #expect(report["dry_run"] as? Bool == false)
        #expect((report["problems"] as? [Any])?.isEmpty == true)
        #expect(output["storage_before"] != nil && output["storage_after"] != nil)
        #expect(!result.stdout.contains("Sweep "))
    }

    @Test("the storage counts before the sweep are derived (the directory after, plus the files removed): the same as counting before")
    func statisticsInOnePass() throws {
        let fixture = try SweepFixture.standard()
        // Files of other types, formats and ages, and a name outside the convention, so every field is exercised.
        _ = FileManager.default.createFile(atPath: fixture.storage + "/notes.txt", contents: Data("x".utf8))
        let stats = ["stats", "--storage", fixture.storage, "--json", "--config", "/dev/null"]
        let counted = try Binary.run(stats)
        #expect(counted.status == 0, "\(counted.stderr)")
        let result = try Binary.run(fixture.sweepArguments + ["--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let countedAfter = try Binary.run(stats)
        let output = try json(result.stdout)
        let before = try #require(output["storage_before"] as? [String: Any])
        let after = try #require(output["storage_after"] as? [String: Any])
        let expectedBefore = try json(counted.stdout), expectedAfter = try json(countedAfter.stdout)
        func canonical(_ value: Any?) -> String {
            guard let value, let data = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .fragmentsAllowed]) else { return "nil" }
            return String(decoding: data, as: UTF8.self)
        }
        for key in ["total_files", "total_size_bytes", "oldest_file", "newest_file", "files_by_export_type", "files_by_format", "nonconforming_files"] {
            #expect(canonical(before[key]) == canonical(expectedBefore[key]), "before: \(key)")
            #expect(canonical(after[key]) == canonical(expectedAfter[key]), "after: \(key)")
        }
        #expect((before["total_files"] as? Int ?? 0) == (after["total_files"] as? Int ?? 0) + 2)
    }

    @Test("--no-stats sweeps the same but does not count the storage directory")
    func noStats() throws {
        let fixture = try SweepFixture.standard()
        let result = try Binary.run(fixture.sweepArguments + ["--no-stats"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(!result.stdout.contains("Storage before"))
        #expect(!result.stdout.contains("Storage after"))
        #expect(tableRow(result.stdout, "total") == ["total", "3", "2", "1", "0", "0", "0", "150", "B", "3", "0"])
        #expect(try fixture.records()["exp_a1"] == ["expired", "NULL"])

        let again = try SweepFixture.standard()
        let jsonResult = try Binary.run(again.sweepArguments + ["--no-stats", "--json"])
        #expect(jsonResult.status == 0)
        let output = try json(jsonResult.stdout)
        #expect(output["storage_before"] == nil && output["storage_after"] == nil)
        let report = try #require(output["report"] as? [String: Any])
        #expect((report["completed"] as? [String: Any])?["records_updated"] as? Int == 2)

        let help = try Binary.run(["sweep", "--help"])
        #expect(help.stdout.contains("--no-stats"))
    }

    @Test("--dry-run lists what would be removed and changes nothing")
    func dryRun() throws {
        let fixture = try SweepFixture.standard()
        let bytes = try fixture.databaseBytes()
        let files = fixture.storageListing()
        let entries = try FileManager.default.contentsOfDirectory(atPath: fixture.tmp.path).sorted()
        let result = try Binary.run(fixture.sweepArguments + ["--dry-run"])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").filter { $0.hasPrefix("would remove") }.map(String.init)
        #expect(lines.count == 2)
        #expect(lines.contains("would remove  completed exp_a1  \(try fixture.path("exp_a1", createdHours: -49))  (100 bytes)  [rule completed, retention 24 h (default)]"))
        #expect(lines.contains("would remove  failed    exp_a3  \(try fixture.path("exp_a3", createdHours: -3))  (50 bytes)  [rule failed, failed age 1 h (default)]"))
        #expect(result.stdout.contains("Dry run (nothing changed)"))
        #expect(tableRow(result.stdout, "rule")?.contains("would") == true)
        #expect(tableRow(result.stdout, "completed") == ["completed", "2", "1", "1", "0", "0", "0", "100", "B", "0", "0"])
        #expect(try fixture.databaseBytes() == bytes)
        #expect(fixture.storageListing() == files)
        #expect(try FileManager.default.contentsOfDirectory(atPath: fixture.tmp.path).sorted() == entries)
    }

    @Test("a missing database exits 66 naming it, and is not created")
    func missingDatabase() throws {
        let fixture = try SweepFixture.standard()
        let missing = fixture.tmp.path + "/nope.db"
        let result = try Binary.run(["sweep", "--db", missing, "--storage", fixture.storage])
        #expect(result.status == 66)
        #expect(result.stderr.contains(missing))
        #expect(!FileManager.default.fileExists(atPath: missing))
        #expect(fixture.storageListing().count == 3)
    }

    @Test("a database without export_jobs exits 65 naming the table")
    func missingTable() throws {
        let fixture = try SweepFixture.standard()
        let other = fixture.tmp.path + "/other.db"
        try DatabaseQueue(path: other).write { db in try db.execute(sql: "CREATE TABLE users (id INTEGER PRIMARY KEY)") }
        let result = try Binary.run(["sweep", "--db", other, "--storage", fixture.storage])
        #expect(result.status == 65)
        #expect(result.stderr.contains("export_jobs"))
        #expect(result.stderr.contains(other))
        #expect(fixture.storageListing().count == 3)
    }

    @Test("a refused record exits 1; the record and the file it names stay")
    func refused() throws {
        let fixture = try SweepFixture.standard()
        let outside = fixture.tmp.path + "/hotels_exp_r1_20231116_143022.csv"
        _ = FileManager.default.createFile(atPath: outside, contents: Data("keep".utf8))
        try fixture.add("exp_r1", status: "completed", createdHours: -49, completedAt: .text(fixture.at(-48).databaseText), bytes: nil,
                        filePath: .text(outside))
        let result = try Binary.run(fixture.sweepArguments)
        #expect(result.status == 1)
        let line = result.stdout.split(separator: "\n").first { $0.hasPrefix("refused") }
        #expect(line?.contains("completed job exp_r1 file_path '\(outside)'") == true, "\(result.stdout)")
        #expect(tableRow(result.stdout, "completed")?[5] == "1")
        #expect(FileManager.default.fileExists(atPath: outside))
        #expect(try fixture.records()["exp_r1"] == ["completed", "'\(outside)'"])
        #expect(try fixture.records()["exp_a1"] == ["expired", "NULL"])
    }

    @Test("a file this user may not remove exits 1 with EACCES; its record and file stay",
          .enabled(if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv")))
    func removalFails() throws {
        // The database (and its directory, for the journal) belongs to uid 65534; the storage directory is root's 0755,
        // so that uid can open and read it but not unlink in it.
        let fixture = try SweepFixture(databaseDirectory: "db")
        try fixture.add("exp_s1", status: "completed", createdHours: -49, completedAt: .text(fixture.at(-48).databaseText), bytes: 30)
        chmod(fixture.tmp.path, 0o755)
        chmod(fixture.storage, 0o755)
        #expect(chown(fixture.tmp.path + "/db", 65534, 65534) == 0)
        #expect(chown(fixture.database, 65534, 65534) == 0)
        let file = try fixture.path("exp_s1", createdHours: -49)

        let result = try Binary.runUnprivileged(fixture.sweepArguments + ["--json"], copyInto: fixture.tmp.path)
        #expect(result.status == 1, "\(result.stderr)")
        let report = try #require(try json(result.stdout)["report"] as? [String: Any])
        let completed = try #require(report["completed"] as? [String: Any])
        #expect(completed["failed"] as? Int == 1)
        #expect(completed["records_updated"] as? Int == 0)
        let problem = try #require((report["problems"] as? [[String: Any]])?.first)
        #expect(problem["kind"] as? String == "failed")
        #expect(problem["errno"] as? Int == Int(EACCES))
        #expect(problem["code"] as? String == "EACCES")
        #expect(problem["job_id"] as? String == "exp_s1")
        #expect(FileManager.default.fileExists(atPath: file))
        #expect(try fixture.records()["exp_s1"] == ["completed", "'\(file)'"])
    }

    @Test("demo creates a database and files, sweeps, and shows removed, refused and undecidable records")
    func demo() throws {
        let tmp = TemporaryDirectory()
        let directory = tmp.sub("demo")
        let result = try Binary.run(["demo", "--dir", directory])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("exp_0a1b2c3d4e5f  completed 48 h ago: file removed, record expired"))
        let refused = result.stdout.split(separator: "\n").first { $0.hasPrefix("refused") }
        #expect(refused?.contains("job exp_9d0e1f2a3b4c file_path '/etc/hostname'") == true, "\(result.stdout)")
        let undecidable = result.stdout.split(separator: "\n").first { $0.hasPrefix("undecidable") }
        #expect(undecidable?.contains("job exp_ae0f1a2b3c4d") == true)
        #expect(tableRow(result.stdout, "rule")?.contains("removed") == true)
        #expect(tableRow(result.stdout, "completed") == ["completed", "4", "2", "1", "0", "1", "1", "2.6", "KiB", "3", "0"])
        #expect(tableRow(result.stdout, "failed") == ["failed", "1", "1", "0", "0", "0", "0", "1.3", "KiB", "1", "0"])
        #expect(result.stderr.contains("removed"))

        // Running it again re-creates the demo; a directory that is not a demo is never touched.
        #expect(try Binary.run(["demo", "--dir", directory]).status == 0)
        let foreign = tmp.sub("foreign")
        try FileManager.default.createDirectory(atPath: foreign, withIntermediateDirectories: false)
        _ = FileManager.default.createFile(atPath: foreign + "/precious.txt", contents: Data("x".utf8))
        let refusedDemo = try Binary.run(["demo", "--dir", foreign])
        #expect(refusedDemo.status != 0)
        #expect(try FileManager.default.contentsOfDirectory(atPath: foreign) == ["precious.txt"])
    }

    @Test("decisions do not depend on TZ")
    func timeZones() throws {
        // Without offset, stored times are UTC. Read as Tokyo time, exp_t2 would look 9 h older and due; read as Los
        // Angeles time, exp_t1 would look 8 h younger and not due.
        func make() throws -> SweepFixture {
            let fixture = try SweepFixture()
            try fixture.add("exp_t1", status: "completed", createdHours: -28, completedAt: .text(fixture.at(-27).databaseText), bytes: 10)
            try fixture.add("exp_t2", status: "completed", createdHours: -21, completedAt: .text(fixture.at(-20).databaseText), bytes: 20)
            // Due, written with an offset SQLite's julianday() cannot read.
            try fixture.add("exp_t3", status: "completed", createdHours: -28, completedAt: .text(fixture.at(-27).isoWithOffset(hours: -8)), bytes: 30)
            try fixture.add("exp_t4", status: "failed", createdHours: -1.5, bytes: 40)
            try fixture.add("exp_t5", status: "failed", createdHours: -0.5, bytes: 50)
            return fixture
        }
        var outcomes: [[String: [String]]] = []
        var dryRuns: [[String]] = []
        for (zone, offset) in [("Asia/Tokyo", "+0900"), ("America/Los_Angeles", "-0800")] {
            // The zone is really in effect for libc in a child spawned with it (without tzdata, glibc would silently
            // take it as UTC, and a parser reading local time would pass this test).
            let local = try Binary.run(["TZ=\(zone)", "date", "-d", "@1700145022", "+%z"], executable: "/usr/bin/env")
            #expect(local.stdout == offset + "\n", "TZ=\(zone) is not in effect: \(local.stdout)\(local.stderr)")
            let fixture = try make()
            let dry = try Binary.run(fixture.sweepArguments + ["--dry-run"], environment: ["TZ": zone])
            #expect(dry.status == 0)
            let ids = dry.stdout.split(separator: "\n").filter { $0.hasPrefix("would remove") }.map { $0.split(separator: " ")[3] }
            dryRuns.append(ids.map(String.init).sorted())
            let result = try Binary.run(fixture.sweepArguments, environment: ["TZ": zone])
            #expect(result.status == 0)
            outcomes.append(try fixture.records().mapValues { [$0[0], $0[1] == "NULL" ? "NULL" : "path"] })
        }
        #expect(dryRuns[0] == ["exp_t1", "exp_t3", "exp_t4"])
        #expect(dryRuns[0] == dryRuns[1])
        #expect(outcomes[0] == outcomes[1])
        #expect(outcomes[0]["exp_t1"] == ["expired", "NULL"])
        #expect(outcomes[0]["exp_t2"] == ["completed", "path"])
        #expect(outcomes[0]["exp_t3"] == ["expired", "NULL"])
        #expect(outcomes[0]["exp_t4"] == ["failed", "NULL"])
        #expect(outcomes[0]["exp_t5"] == ["failed", "path"])
    }
}

extension UTCInstant {
    /// ISO 8601 with a numeric offset, e.g. `2023-11-16T06:30:22-0800` for `hours: -8`.
    fileprivate func isoWithOffset(hours: Int) -> String {
        let local = adding(microseconds: Int64(hours) * 3_600_000_000).iso8601.dropLast()  // drop the Z
        return String(local) + (hours < 0 ? "-" : "+") + String(format: "%02d00", abs(hours))
    }
}
