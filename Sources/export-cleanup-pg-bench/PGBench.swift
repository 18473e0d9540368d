#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import BenchSupport
import CoreSupport
import ExportCleanup
import ExportCleanupDemo
import ExportCleanupPostgres
import ExportStorage
import Foundation

/// The PostgreSQL benchmark: one sweep of `export-cleanup` against the floor of the same cleanup (an `unlinkat` loop
/// over exactly the due files, then one `UPDATE ... WHERE id = ANY($1)`), both as fresh processes on identical
/// copies of the data, peak RSS through GNU time. `scripts/pg-bench.sh` runs it on a private cluster.
@main
struct PGBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export-cleanup-pg-bench",
        abstract: "Measures a sweep of export-cleanup on PostgreSQL against its floor (unlinkat loop + one UPDATE).",
        discussion: """
            Replaces the table export_jobs of the database --db names (use a database of its own: scripts/pg-bench.sh \
            starts a private cluster), lays out --jobs jobs with the mix of the SQLite benchmark (40% completed and due, \
            10% failed and due, 4% due with the file already gone, the rest kept) and their files under --dir, then \
            runs `export-cleanup sweep --no-stats` and, on an identical copy, the floor.

              swift build -c release && scripts/pg-bench.sh --jobs 200000
            """,
        subcommands: [RunCommand.self, FloorCommand.self, GenerateCommand.self], defaultSubcommand: RunCommand.self)
}

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "Runs the benchmark (the default).")

    @Option(help: "The PostgreSQL database (its export_jobs table is replaced).") var db: String
    @Option(help: "A working directory for the export files (created; emptied between runs).") var dir: String
    @Option(help: "Jobs in the data set.") var jobs = 200_000
    @Option(help: "Runs of the sweep and of the floor each (the median is reported).") var `repeat` = 3
    @Option(help: "The export-cleanup binary (default: the one next to this executable).") var binary: String?

    func run() throws {
        guard let target = PostgresConnectionString(db) else { throw ValidationError("--db must be a PostgreSQL connection string") }
        let binary = self.binary ?? (URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path + "/export-cleanup")
        let bench = try Bench(target: target, root: dir, binary: binary, jobs: jobs)
        print("machine: \(ProcessInfo.processInfo.activeProcessorCount) cores, \(ProcessInfo.processInfo.physicalMemory >> 30) GiB; "
              + "PostgreSQL \(try bench.connection.query("SHOW server_version").scalar ?? "?"); files under \(dir)")
        print("peak RSS: GNU time's %M of the program (\(haveTimeProgram ? timeProgram : "missing: wait4's ru_maxrss, an upper bound"))")
        var sweeps: [Measured] = [], floors: [Measured] = [], steady: [Measured] = []
        for trial in 1...`repeat` {
            try bench.layOut()
            sweeps.append(try bench.sweep(label: "sweep \(trial)/\(`repeat`)"))
            let swept = try bench.endState()
            steady.append(try bench.sweep(label: "nothing due \(trial)/\(`repeat`)"))
            try bench.layOut()
            floors.append(try bench.floor(label: "floor \(trial)/\(`repeat`)"))
            guard swept == (try bench.endState()) else {
                throw BenchError("the sweep and the floor left different end states:\nsweep: \(swept)\nfloor: \(try bench.endState())")
            }
        }
        let sweep = Measured.median(sweeps), floor = Measured.median(floors), nothing = Measured.median(steady)
        print("")
        print("## PostgreSQL: sweep vs floor (\(jobs) jobs, median of \(`repeat`); fresh processes on identical copies)")
        print("")
        print("| run | jobs | due | files removed | wall s | files/s | peak RSS MiB | ratio to floor |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        print("| export-cleanup sweep --no-stats (process) | \(jobs) | \(sweep.due) | \(sweep.removed) | \(fmt(sweep.wall)) | \(rate(sweep.removed, sweep.wall)) | \(mib(sweep.rss)) | \(fmt(sweep.wall / floor.wall, 2)) |")
        print("| its own duration_seconds | | | | \(fmt(sweep.inner)) | \(rate(sweep.removed, sweep.inner)) | | \(fmt(sweep.inner / floor.inner, 2)) |")
        print("| floor: unlinkat loop + 1 UPDATE (process) | \(jobs) | \(floor.due) | \(floor.removed) | \(fmt(floor.wall)) | \(rate(floor.removed, floor.wall)) | \(mib(floor.rss)) | 1.00 |")
        print("| its own unlink + UPDATE time | | | | \(fmt(floor.inner)) | \(rate(floor.removed, floor.inner)) | | 1.00 |")
        print("| second sweep: nothing due (process) | \(jobs) | \(nothing.due) | \(nothing.removed) | \(fmt(nothing.wall)) | | \(mib(nothing.rss)) | |")
        print("")
        print("floor detail (median run): \(floor.detail)")
        print("all runs, wall s: sweep \(sweeps.map { fmt($0.wall) }.joined(separator: " ")); floor \(floors.map { fmt($0.wall) }.joined(separator: " ")); "
              + "nothing due \(steady.map { fmt($0.wall) }.joined(separator: " "))")
        print("end states identical (rows by status and file_path, files left): yes")
    }
}

/// One data set laid out, for profiling a sweep by hand: the table in --db, the files in --dir/exports.
struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "generate", abstract: "Lays out one data set (table and files) and exits.")

    @Option(help: "The PostgreSQL database (its export_jobs table is replaced).") var db: String
    @Option(help: "A working directory; the files go to DIR/exports.") var dir: String
    @Option(help: "Jobs in the data set.") var jobs = 200_000

    func run() throws {
        guard let target = PostgresConnectionString(db) else { throw ValidationError("--db must be a PostgreSQL connection string") }
        let bench = try Bench(target: target, root: dir, binary: "", jobs: jobs)
        try bench.layOut()
        print("laid out \(jobs) jobs: export-cleanup sweep --db '\(target.masked)' --storage \(bench.storage)")
    }
}

/// The floor: exactly the due files unlinked (one `unlinkat` each, no checks), then one UPDATE of exactly their rows.
struct FloorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "floor", abstract: "(internal) unlinkat loop, then one UPDATE.", shouldDisplay: false)

    @Option var db: String
    @Option var storage: String
    @Option(help: "Lines `id file_name`, the due jobs.") var list: String

    func run() throws {
        let start = MonotonicClock.seconds()
        var ids: [String?] = []
        var names: [String] = []
        for line in try String(contentsOfFile: list, encoding: .utf8).split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1)
            ids.append(String(parts[0]))
            if parts.count == 2 { names.append(String(parts[1])) }
        }
        let listed = MonotonicClock.seconds()
        let directory = open(storage, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard directory >= 0 else { throw BenchError("cannot open \(storage)") }
        var removed = 0, missing = 0
        for name in names {
            if unlinkat(directory, name, 0) == 0 { removed += 1 } else if errno == ENOENT { missing += 1 }
        }
        close(directory)
        let unlinked = MonotonicClock.seconds()
        let connection = try PostgresConnection(PostgresConnectionString(db)!)
        let changed = try connection.query("""
            UPDATE export_jobs SET status = CASE status WHEN 'completed' THEN 'expired' ELSE status END, file_path = NULL
            WHERE id = ANY($1::text[])
            """, [PostgresConnection.arrayLiteral(ids)]).affected
        let end = MonotonicClock.seconds()
        print("""
            {"listed": \(ids.count), "removed": \(removed), "missing": \(missing), "read_list_seconds": \(listed - start), \
            "unlink_seconds": \(unlinked - listed), "update_seconds": \(end - unlinked), "rows_changed": \(changed)}
            """)
    }
}

// MARK: - The data set and the runs

/// The mix of the SQLite benchmark (`export-cleanup-bench`), in 50 slots.
enum Kind: CaseIterable {
    case completedDue, completedFresh, failedOld, pending, failedFresh, completedDueMissing, failedOldMissing, expired

    static let slots: [Kind] = Array(repeating: .completedDue, count: 20) + Array(repeating: .completedFresh, count: 10)
        + Array(repeating: .failedOld, count: 5) + Array(repeating: .pending, count: 5) + Array(repeating: .failedFresh, count: 4)
        + [.completedDueMissing, .failedOldMissing] + Array(repeating: .expired, count: 4)

    static func of(_ i: Int) -> Kind { slots[(i &* 31) % slots.count] }
    var isDue: Bool { [.completedDue, .failedOld, .completedDueMissing, .failedOldMissing].contains(self) }
    var hasFile: Bool { [.completedDue, .completedFresh, .failedOld, .failedFresh].contains(self) }
    var hasFilePath: Bool { hasFile || self == .completedDueMissing || self == .failedOldMissing }
}

/// What one measured run did.
struct Measured {
    var wall: Double
    var inner: Double
    var rss: Int
    var due: Int
    var removed: Int
    var detail: String

    static func median(_ runs: [Measured]) -> Measured { runs.sorted { $0.wall < $1.wall }[runs.count / 2] }
}

final class Bench {
    let target: PostgresConnectionString
    let connection: PostgresConnection
    let root: String
    let binary: String
    let jobs: Int
    let now = UTCInstant.now()
    var storage: String { root + "/exports" }
    var config: String { root + "/empty.conf" }
    var dueList: String { root + "/due.list" }
    let environment = ["PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8"]

    init(target: PostgresConnectionString, root: String, binary: String, jobs: Int) throws {
        self.target = target
        self.root = root
        self.binary = binary
        self.jobs = jobs
        connection = try PostgresConnection(target, overrides: [("application_name", "export-cleanup-pg-bench")])
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: config, contents: Data())
    }

    /// Row `i`: kind, row, file name.
    func row(_ i: Int) -> (kind: Kind, row: ApplicationDatabase.Row, fileName: String?) {
        let kind = Kind.of(i)
        let hour = 3_600_000_000.0, day = 24 * hour
        let r = Double((i &* 2_654_435_761) % 1_000_003) / 1_000_003
        func ago(_ microseconds: Double) -> UTCInstant { now.adding(microseconds: -Int64(microseconds)) }
        var created = ago(r * 10 * 60_000_000), completed: UTCInstant?, expires: UTCInstant?
        var status = "pending"
        switch kind {
        case .completedDue, .completedDueMissing:
            completed = ago(25 * hour + r * 60 * day)
            created = completed!.adding(microseconds: -60_000_000)
            if i % 10 == 3 { expires = completed!.adding(microseconds: Int64(day)) }
            status = "completed"
        case .completedFresh:
            completed = ago(r * 20 * hour)
            created = completed!.adding(microseconds: -60_000_000)
            if i % 10 == 3 { expires = now.adding(microseconds: Int64(day)) }
            status = "completed"
        case .failedOld, .failedOldMissing:
            created = ago(2 * hour + r * 60 * day)
            status = "failed"
        case .failedFresh:
            created = ago(r * 30 * 60_000_000)
            status = "failed"
        case .pending:
            break
        case .expired:
            completed = ago(3 * day + r * 60 * day)
            created = completed!.adding(microseconds: -60_000_000)
            status = "expired"
        }
        let id = "exp_" + String(i + 0xa0_0000_0000, radix: 16)
        let type = ["hotels", "supplier_summary", "mappings"][i % 3]
        let format = [ExportFormat.csv, .json, .xlsx][(i / 3) % 3]
        var name: String?
        if kind.hasFilePath { name = try! ExportFileName(exportType: type, jobID: id, secondsSinceEpoch: created.seconds, format: format).fileName }
        let row = ApplicationDatabase.Row(
            id: id, exportType: type, format: format.rawValue, status: status, filePath: name.map { .text(storage + "/" + $0) } ?? .null,
            fileSizeBytes: name.map { _ in Int64(200 + i % 1848) }, createdAt: ApplicationDatabase.text(created),
            completedAt: completed.map(ApplicationDatabase.text) ?? .null, expiresAt: expires.map(ApplicationDatabase.text) ?? .null,
            errorMessage: status == "failed" ? "export worker timed out after 300 s" : nil)
        return (kind, row, name)
    }

    /// A fresh, identical copy: the table re-created and loaded (then VACUUM ANALYZE and CHECKPOINT, as a table the
    /// application has been writing for a while), the files created anew, the due list, `sync`.
    func layOut() throws {
        log("laying out \(jobs) jobs")
        try connection.execute("DROP TABLE IF EXISTS export_jobs")
        try PostgresApplicationTable.create(on: connection)
        let rows = (0..<jobs).map(row)
        try PostgresApplicationTable.insert(rows.map(\.row), on: connection)
        try connection.execute("VACUUM (ANALYZE) export_jobs")
        try connection.execute("CHECKPOINT")
        if FileManager.default.fileExists(atPath: storage) { try FileManager.default.removeItem(atPath: storage) }
        try StorageDirectory(path: storage).prepare()
        let directory = open(storage, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        defer { close(directory) }
        let body = [UInt8](repeating: UInt8(ascii: "x"), count: 2048)
        var list = ""
        for (index, (kind, row, name)) in rows.enumerated() {
            if kind.isDue { list += row.id + (name.map { " " + $0 } ?? "") + "\n" }
            guard kind.hasFile, let name else { continue }
            let fd = openat(directory, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw BenchError("cannot create \(name)") }
            _ = body.withUnsafeBytes { write(fd, $0.baseAddress!, 200 + index % 1848) }
            close(fd)
        }
        try list.write(toFile: dueList, atomically: true, encoding: .utf8)
        sync()
        usleep(200_000)
    }

    func sweep(label: String) throws -> Measured {
        let out = root + "/sweep.json", err = root + "/sweep.log"
        let result = try spawnMeasured([binary, "sweep", "--db", target.rawValue, "--storage", storage, "--json", "--no-stats", "--config", config,
                                        "--log-target", "stderr"], environment: environment, stdoutPath: out, stderrPath: err, measureRSS: true)
        guard result.exitCode == 0 else { throw BenchError("sweep exited \(result.exitCode): \((try? String(contentsOfFile: err, encoding: .utf8)) ?? "")") }
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out))) as? [String: Any]
        let report = json?["report"] as? [String: Any] ?? [:]
        func total(_ key: String) -> Int { ["completed", "failed"].reduce(0) { $0 + (((report[$1] as? [String: Any])?[key] as? Int) ?? 0) } }
        let measured = Measured(wall: result.wallSeconds, inner: report["duration_seconds"] as? Double ?? 0, rss: result.maxRSSKiB, due: total("due"),
                                removed: total("removed"), detail: "")
        log("\(label): \(fmt(measured.wall)) s, \(measured.removed) removed, \(mib(measured.rss)) MiB")
        return measured
    }

    func floor(label: String) throws -> Measured {
        let out = root + "/floor.json", err = root + "/floor.log"
        let me = URL(fileURLWithPath: CommandLine.arguments[0]).path
        let result = try spawnMeasured([me, "floor", "--db", target.rawValue, "--storage", storage, "--list", dueList],
                                       environment: environment, stdoutPath: out, stderrPath: err, measureRSS: true)
        guard result.exitCode == 0 else { throw BenchError("floor exited \(result.exitCode): \((try? String(contentsOfFile: err, encoding: .utf8)) ?? "")") }
        let text = try String(contentsOfFile: out, encoding: .utf8)
        let json = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] ?? [:]
        let inner = (json["unlink_seconds"] as? Double ?? 0) + (json["update_seconds"] as? Double ?? 0)
        let measured = Measured(wall: result.wallSeconds, inner: inner, rss: result.maxRSSKiB, due: json["rows_changed"] as? Int ?? 0,
                                removed: json["removed"] as? Int ?? 0, detail: text.trimmingCharacters(in: .whitespacesAndNewlines))
        log("\(label): \(fmt(measured.wall)) s, \(measured.removed) removed, \(mib(measured.rss)) MiB")
        return measured
    }

    /// Rows by status and whether `file_path` is set, and the files left.
    func endState() throws -> String {
        let rows = try connection.query("SELECT status, file_path IS NULL, count(*) FROM export_jobs GROUP BY 1, 2 ORDER BY 1, 2").rows
        let files = (try? FileManager.default.contentsOfDirectory(atPath: storage).count) ?? -1
        return rows.map { "\($0[0] ?? "") \($0[1] == "t" ? "NULL" : "path") \($0[2] ?? "")" }.joined(separator: ", ") + "; \(files) files"
    }
}

func log(_ message: String) { FileHandle.standardError.write(Data("[pg-bench] \(message)\n".utf8)) }

