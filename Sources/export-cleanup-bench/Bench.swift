import BenchSupport
import CoreSupport
#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import ExportCleanup
import ExportStorage
import Foundation
import GRDB

@main
struct ExportCleanupBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export-cleanup-bench",
        abstract: "Measures a sweep of export-cleanup against the floor (unlinkat loop + one bulk UPDATE), and how it scales.",
        discussion: """
            Generates a database with the application's schema and SQLAlchemy datetime text plus the export files, \
            then runs `export-cleanup sweep --json` as a fresh process and, on an identical copy, the floor. Prints \
            jobs, due, wall time, files removed per second, peak RSS (wait4's ru_maxrss of the child) and the ratio. \
            Then the scaling runs: the same due jobs inside a table --scale times larger, peak RSS at --rss-jobs and \
            --scale times that, and a sweep with nothing due over the larger table.

            Build first (release), then run:
              swift build -c release && .build/release/export-cleanup-bench --jobs 200000
            Again with the optional index (export-cleanup index --create) in every data set:
              .build/release/export-cleanup-bench --jobs 200000 --index
            """,
        subcommands: [RunCommand.self, FloorCommand.self, GenerateCommand.self],
        defaultSubcommand: RunCommand.self)
}

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "Runs the benchmark (the default).")

    @Option(help: "Jobs in the main data set.") var jobs = 200_000
    @Option(help: "Working directory (default: a new one under $TMPDIR or /var/tmp, removed afterwards unless --keep).")
    var dir: String?
    @Flag(help: "Keep the working directory.") var keep = false
    @Option(help: "Scaling factor for the scaling runs.") var scale = 10
    @Flag(name: .customLong("skip-scaling"), help: "Only the sweep / floor comparison.") var skipScaling = false
    @Option(name: .customLong("rss-jobs"), help: "The smaller job count of the peak-RSS scaling run (the larger is --scale times it).")
    var rssJobs = 100_000
    @Option(help: "RunResults of the sweep and of the floor each (the median is reported).") var `repeat` = 3
    @Option(help: "The export-cleanup binary (default: the one next to this executable).") var binary: String?
    @Flag(help: "Create the optional index (`export-cleanup index --create`) in every data set before measuring.")
    var index = false
    @Option(name: .customLong("steady-rows"), help: "Rows of the steady-state table of the nothing-due run (d) (mostly history; default --rss-jobs times --scale).")
    var steadyRows: Int?

    func validate() throws {
        guard jobs >= 100 else { throw ValidationError("--jobs must be at least 100") }
        guard scale >= 2 else { throw ValidationError("--scale must be at least 2") }
        guard `repeat` >= 1 else { throw ValidationError("--repeat must be at least 1") }
    }

    func run() throws {
        let binary = try resolveBinary()
        let root = try makeRoot()
        defer {
            if keep { log("kept \(root)") } else { removeTree(root) }
        }
        let bench = Runner(root: root, binary: binary, repeats: `repeat`, index: index)
        try bench.prepareCommon()
        print(machineSummary(binary: binary))
        print(haveTimeProgram ? "peak RSS: GNU time's %M of the program (\(timeProgram))"
              : "peak RSS: wait4's ru_maxrss, an upper bound (it includes this bench's own peak); install GNU time for the program's own")
        print("optional index ix_export_jobs_cleanup_failed: \(index ? "created in every data set" : "absent")")

        // Main: sweep vs floor at --jobs.
        var main = try bench.dataset(name: "main", jobs: jobs, history: 0)
        var sweeps: [RunResult] = []
        var statSweeps: [RunResult] = []
        var floors: [RunResult] = []
        for trial in 1...`repeat` {
            // The order turns with each trial (sweep, floor, statistics; then floor, statistics, sweep; ...): on a
            // virtual disk a run can pay for the one before it (discards, writeback), and no side should always
            // come last.
            for side in 0..<3 {
                switch (side + trial - 1) % 3 {
                case 0: sweeps.append(try bench.sweep(&main, label: "sweep --no-stats \(trial)/\(`repeat`)"))
                case 1: floors.append(try bench.floor(&main, label: "floor \(trial)/\(`repeat`)"))
                default: statSweeps.append(try bench.sweep(&main, stats: true, label: "sweep with statistics \(trial)/\(`repeat`)"))
                }
            }
            for other in [floors.last!, statSweeps.last!] where sweeps.last!.endState != other.endState {
                throw BenchError("the sweep and the floor left different end states:\nsweep: \(sweeps.last!.endState)\nother: \(other.endState)")
            }
        }
        let sweep = RunResult.median(sweeps)
        let statSweep = RunResult.median(statSweeps)
        let floor = RunResult.median(floors)
        print("")
        print("## Sweep vs floor (\(jobs) jobs, median of \(`repeat`); both fresh processes on identical copies)")
        print("")
        var table = Table(["run", "jobs", "due", "files removed", "wall s", "files/s", "peak RSS MiB", "commits", "longest write lock ms", "ratio to floor"])
        func locks(_ run: RunResult) -> [String] { ["\(run.commits)", fmt(run.longestLock * 1000, 1)] }
        table.add(["export-cleanup sweep --no-stats (process)", "\(jobs)", "\(sweep.due)", "\(sweep.removed)", fmt(sweep.wall), rate(sweep.removed, sweep.wall),
                   mib(sweep.rssKiB)] + locks(sweep) + [fmt(sweep.wall / floor.wall, 2)])
        table.add(["  its own duration_seconds", "", "", "", fmt(sweep.inner), rate(sweep.removed, sweep.inner), "", "", "",
                   fmt(sweep.inner / floor.inner, 2)])
        table.add(["sweep with statistics (process)", "\(jobs)", "\(statSweep.due)", "\(statSweep.removed)", fmt(statSweep.wall),
                   rate(statSweep.removed, statSweep.wall), mib(statSweep.rssKiB)] + locks(statSweep) + [fmt(statSweep.wall / floor.wall, 2)])
        table.add(["  its own duration_seconds", "", "", "", fmt(statSweep.inner), rate(statSweep.removed, statSweep.inner), "", "", "",
                   fmt(statSweep.inner / floor.inner, 2)])
        table.add(["floor: unlinkat loop + 1 UPDATE (process)", "\(jobs)", "\(floor.due)", "\(floor.removed)", fmt(floor.wall),
                   rate(floor.removed, floor.wall), mib(floor.rssKiB)] + locks(floor) + ["1.00"])
        table.add(["  its own unlink + UPDATE time", "", "", "", fmt(floor.inner), rate(floor.removed, floor.inner), "", "", "", "1.00"])
        print(table.render())
        print("")
        print("floor detail (median run): \(floor.detail)")
        print("sweep: user \(fmt(sweep.user)) s, system \(fmt(sweep.system)) s; floor: user \(fmt(floor.user)) s, system \(fmt(floor.system)) s")
        print("all runs, wall s: sweep --no-stats \(sweeps.map { fmt($0.wall) }.joined(separator: " ")); with statistics "
            + "\(statSweeps.map { fmt($0.wall) }.joined(separator: " ")); floor \(floors.map { fmt($0.wall) }.joined(separator: " "))")
        print("all runs, duration_seconds: sweep --no-stats \(sweeps.map { fmt($0.inner) }.joined(separator: " ")); with statistics "
            + "\(statSweeps.map { fmt($0.inner) }.joined(separator: " "))")
        print("end states identical (rows by status and file_path, files left): yes")
        print("data: \(main.summary)")

        guard !skipScaling else { return }
        bench.drop(main)

        // (a) Same due jobs inside a table `scale` times larger (the extra rows are history).
        var large = try bench.dataset(name: "history", jobs: jobs, history: jobs * (scale - 1))
        let inLarge = try bench.sweep(&large, label: "sweep, same due in \(scale)x table")
        bench.drop(large)

        // (b) Peak RSS at rssJobs and scale × rssJobs; (c) a second sweep of the larger one: nothing due.
        var small = try bench.dataset(name: "rss-small", jobs: rssJobs, history: 0)
        let rssSmall = try bench.sweep(&small, label: "sweep \(rssJobs) jobs")
        bench.drop(small)
        var big = try bench.dataset(name: "rss-big", jobs: rssJobs * scale, history: 0)
        let rssBig = try bench.sweep(&big, label: "sweep \(rssJobs * scale) jobs")
        let nothing = try bench.sweepAgain(big, label: "sweep again, nothing due")
        bench.drop(big)

        // (d) Nothing due in a steady-state table: mostly history, one cleaned-up day of the mix (2%) on top.
        let steadyTotal = steadyRows ?? rssJobs * scale
        let steadyJobs = max(100, steadyTotal / 50)
        var steady = try bench.dataset(name: "steady", jobs: steadyJobs, history: steadyTotal - steadyJobs)
        let steadyFirst = try bench.sweep(&steady, label: "steady state: first sweep")
        let steadyNothing = try bench.sweepAgain(steady, label: "steady state: sweep again, nothing due")
        bench.drop(steady)

        print("")
        print("## Scaling")
        print("")
        var scaling = Table(["case", "rows", "due", "files removed", "process wall s", "duration_seconds", "peak RSS MiB", "compared with"])
        scaling.add(["base (sweep above, median)", "\(jobs)", "\(sweep.due)", "\(sweep.removed)", fmt(sweep.wall), fmt(sweep.inner), mib(sweep.rssKiB), ""])
        scaling.add(["(a) same due, \(scale)x table (history rows)", "\(jobs * scale)", "\(inLarge.due)", "\(inLarge.removed)", fmt(inLarge.wall),
                     fmt(inLarge.inner), mib(inLarge.rssKiB), "duration \(fmt(inLarge.inner / sweep.inner, 2))x base"])
        scaling.add(["(b) \(rssJobs) jobs", "\(rssJobs)", "\(rssSmall.due)", "\(rssSmall.removed)", fmt(rssSmall.wall), fmt(rssSmall.inner),
                     mib(rssSmall.rssKiB), ""])
        scaling.add(["(b) \(rssJobs * scale) jobs", "\(rssJobs * scale)", "\(rssBig.due)", "\(rssBig.removed)", fmt(rssBig.wall), fmt(rssBig.inner),
                     mib(rssBig.rssKiB), "RSS \(fmt(Double(rssBig.rssKiB) / Double(rssSmall.rssKiB), 2))x"])
        scaling.add(["(c) nothing due (second sweep of (b))", "\(rssJobs * scale)", "\(nothing.due)", "\(nothing.removed)", fmt(nothing.wall, 3),
                     fmt(nothing.inner, 3), mib(nothing.rssKiB), ""])
        scaling.add(["(d) steady state: first sweep", "\(steadyTotal)", "\(steadyFirst.due)", "\(steadyFirst.removed)", fmt(steadyFirst.wall),
                     fmt(steadyFirst.inner), mib(steadyFirst.rssKiB), ""])
        scaling.add(["(d) steady state: nothing due", "\(steadyTotal)", "\(steadyNothing.due)", "\(steadyNothing.removed)", fmt(steadyNothing.wall, 3),
                     fmt(steadyNothing.inner, 3), mib(steadyNothing.rssKiB), ""])
        print(scaling.render())
        print("")
        print("(c) rows then: \(nothing.endState)")
        print("(d) rows then: \(steadyNothing.endState)")
    }

    private func resolveBinary() throws -> String {
        let path: String
        if let binary {
            path = binary
        } else {
            var buffer = [CChar](repeating: 0, count: 4096)
            let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
            guard count > 0 else { throw BenchError("cannot find this executable; pass --binary") }
            let me = String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            path = (me as NSString).deletingLastPathComponent + "/export-cleanup"
        }
        guard access(path, X_OK) == 0 else {
            throw BenchError("no export-cleanup binary at \(path): run `swift build -c release` first (it builds both), or pass --binary")
        }
        return path
    }

    private func makeRoot() throws -> String {
        if let dir {
            let absolute = dir.hasPrefix("/") ? dir : FileManager.default.currentDirectoryPath + "/" + dir
            try FileManager.default.createDirectory(atPath: absolute, withIntermediateDirectories: true)
            guard (try FileManager.default.contentsOfDirectory(atPath: absolute)).isEmpty else {
                throw BenchError("--dir \(absolute) is not empty: give an empty or new directory")
            }
            return absolute
        }
        let base = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/var/tmp"
        var template = Array((base + "/export-cleanup-bench.XXXXXX").utf8CString)
        guard mkdtemp(&template) != nil else { throw BenchError("cannot create a directory under \(base)") }
        return String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private func machineSummary(binary: String) -> String {
        var name = utsname()
        uname(&name)
        let release = withUnsafeBytes(of: &name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return "machine: \(sysconf(Int32(_SC_NPROCESSORS_ONLN))) cores, Linux \(release); binary \(binary)"
    }
}

/// Writes one data set's database (no files), for profiling a sweep by hand.
struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate", abstract: "Writes a data set's database only (no files), e.g. to profile a sweep by hand.")

    @Option(help: "Jobs of the mix.") var jobs = 200_000
    @Option(help: "History rows before them.") var history = 0
    @Option(help: "The storage path written into file_path.") var storage: String
    @Option(help: "The database to create (must not exist).") var out: String
    @Flag(help: "Create the optional index too.") var index = false
    @Flag(help: "Create the storage directory and the files too.") var files = false

    func run() throws {
        let dataset = Dataset(jobs: jobs, history: history, now: .now(), storagePath: storage)
        try dataset.writeDatabase(at: out)
        if index { _ = try SQLiteJobStore(path: out).createOptionalIndexes() }
        if files {
            try StorageDirectory(path: storage).prepare()
            _ = try dataset.createFiles(in: storage)
        }
    }
}

/// One measured run.
struct RunResult {
    var wall: Double
    /// The run's own timing: the sweep's `duration_seconds`, the floor's unlink + UPDATE time.
    var inner: Double
    var rssKiB: Int
    var user: Double
    var system: Double
    var due: Int
    var removed: Int
    var endState: String
    /// Write transactions that changed rows (the sweep's claims; the floor's one UPDATE).
    var commits = 0
    /// The longest of them, from asking for the write lock to the commit, in seconds.
    var longestLock = 0.0
    var detail: String

    static func median(_ runs: [RunResult]) -> RunResult {
        runs.sorted { $0.wall < $1.wall }[runs.count / 2]
    }
}

/// A laid-out data set: its master database and due list, copied for every run.
struct LaidOut {
    var dataset: Dataset
    var name: String
    var master: String
    var dueList: String
    var generateSeconds: Double
    var createSeconds: [Double] = []
    var files = 0
    var bytes: Int64 = 0

    var summary: String {
        "\(dataset.jobs + dataset.history) rows written in \(fmt(generateSeconds)) s (one transaction); "
            + "\(files) files (\(bytes / 1024) KiB) created per run in \(createSeconds.map { fmt($0) }.joined(separator: ", ")) s"
    }
}

struct Runner {
    let root: String
    let binary: String
    let repeats: Int
    /// Create the optional index in every master database.
    let index: Bool
    var run: String { root + "/run" }
    var storage: String { run + "/exports" }
    var database: String { run + "/exports.db" }
    var config: String { root + "/empty.conf" }

    /// The child's whole environment: nothing of ours (no EXPORT_* variable, no journal) leaks into the sweep.
    let environment = ["PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8"]

    func prepareCommon() throws {
        // An empty configuration file: `--config` must name a readable file; an empty one sets nothing.
        guard FileManager.default.createFile(atPath: config, contents: Data()) else { throw BenchError("cannot write \(config)") }
        try FileManager.default.createDirectory(atPath: root + "/data", withIntermediateDirectories: true)
    }

    func dataset(name: String, jobs: Int, history: Int) throws -> LaidOut {
        let dataset = Dataset(jobs: jobs, history: history, now: .now(), storagePath: storage)
        let master = root + "/data/\(name).db"
        let dueList = root + "/data/\(name).due"
        log("generating \(name): \(jobs) jobs + \(history) history rows")
        let start = MonotonicClock.seconds()
        try dataset.writeDatabase(at: master)
        let generated = MonotonicClock.seconds() - start
        if index {
            let indexStart = MonotonicClock.seconds()
            let created = try SQLiteJobStore(path: master).createOptionalIndexes()
            log("created \(created.map(\.name).joined(separator: ", ")) in \(fmt(MonotonicClock.seconds() - indexStart)) s")
        }
        try dataset.writeDueList(at: dueList)
        return LaidOut(dataset: dataset, name: name, master: master, dueList: dueList, generateSeconds: generated)
    }

    func drop(_ laidOut: LaidOut) {
        removeTree(laidOut.master)
        removeTree(laidOut.dueList)
        removeTree(run)
    }

    /// Lays out a fresh, identical copy: a new run directory, a copy of the master database, the files created anew
    /// (new inodes in a new directory: no run sees another's leftovers). Then `sync`, so that no write-back of the
    /// set-up lands in the measurement.
    func layOut(_ laidOut: inout LaidOut) throws {
        removeTree(run)
        try FileManager.default.createDirectory(atPath: run, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: laidOut.master, toPath: database)
        try StorageDirectory(path: storage).prepare()
        let start = MonotonicClock.seconds()
        let (files, bytes) = try laidOut.dataset.createFiles(in: storage)
        laidOut.createSeconds.append(MonotonicClock.seconds() - start)
        laidOut.files = files
        laidOut.bytes = bytes
        sync()
        usleep(200_000)
    }

    /// A sweep of a fresh copy; `--no-stats` (as the daemon, and as the floor: no directory counting) unless `stats`.
    func sweep(_ laidOut: inout LaidOut, stats: Bool = false, label: String) throws -> RunResult {
        try layOut(&laidOut)
        return try sweepAgain(laidOut, stats: stats, label: label)
    }

    func sweepAgain(_ laidOut: LaidOut, stats: Bool = false, label: String) throws -> RunResult {
        sync()
        let out = root + "/sweep.json", err = root + "/sweep.log"
        let result = try spawnMeasured(
            // A default sweep: the mass-deletion brake on (the mix never has more than 64% of its files due, under
            // the default 90%, but the brake's count of a backlog is part of the work).
            [binary, "sweep", "--db", database, "--storage", storage, "--json", "--config", config, "--log-target", "stderr"]
                + (stats ? [] : ["--no-stats"]),
            environment: environment, stdoutPath: out, stderrPath: err, measureRSS: true)
        guard result.exitCode == 0 else {
            throw BenchError("sweep exited \(result.exitCode): \((try? String(contentsOfFile: err, encoding: .utf8)) ?? "")")
        }
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out))) as? [String: Any]
        guard let report = json?["report"] as? [String: Any], let completed = report["completed"] as? [String: Any],
            let failed = report["failed"] as? [String: Any], let duration = report["duration_seconds"] as? Double
        else { throw BenchError("cannot read the sweep's JSON report in \(out)") }
        func count(_ key: String) -> Int { (completed[key] as? Int ?? 0) + (failed[key] as? Int ?? 0) }
        var measurement = RunResult(
            wall: result.wallSeconds, inner: duration, rssKiB: result.maxRSSKiB, user: result.userSeconds, system: result.systemSeconds,
            due: count("due"), removed: count("removed"), endState: try endState(), detail: "")
        measurement.commits = report["claim_transactions"] as? Int ?? 0
        measurement.longestLock = report["longest_claim_seconds"] as? Double ?? 0
        log("\(label): \(measurement.due) due, \(measurement.removed) removed, wall \(fmt(result.wallSeconds)) s, "
            + "duration_seconds \(fmt(duration)), peak RSS \(mib(result.maxRSSKiB)) MiB")
        if count("undecidable") + count("refused") + count("failed") > 0 {
            throw BenchError("the sweep reported undecidable, refused or failed records: see \(out)")
        }
        return measurement
    }

    func floor(_ laidOut: inout LaidOut, label: String) throws -> RunResult {
        try layOut(&laidOut)
        let me = "/proc/self/exe"
        var buffer = [CChar](repeating: 0, count: 4096)
        let length = readlink(me, &buffer, buffer.count - 1)
        let exe = String(decoding: buffer[..<max(0, length)].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let out = root + "/floor.json", err = root + "/floor.log"
        let result = try spawnMeasured([exe, "floor", "--db", database, "--storage", storage, "--list", laidOut.dueList],
                                       environment: environment, stdoutPath: out, stderrPath: err, measureRSS: true)
        guard result.exitCode == 0 else {
            throw BenchError("floor exited \(result.exitCode): \((try? String(contentsOfFile: err, encoding: .utf8)) ?? "")")
        }
        let text = try String(contentsOfFile: out, encoding: .utf8)
        guard let json = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
            let unlink = json["unlink_seconds"] as? Double, let update = json["update_seconds"] as? Double,
            let listed = json["listed"] as? Int, let removed = json["removed"] as? Int
        else { throw BenchError("cannot read the floor's output in \(out)") }
        var measurement = RunResult(
            wall: result.wallSeconds, inner: unlink + update, rssKiB: result.maxRSSKiB, user: result.userSeconds, system: result.systemSeconds,
            due: listed, removed: removed, endState: try endState(),
            detail: "unlinkat loop \(fmt(unlink)) s, bulk UPDATE \(fmt(update)) s, rows changed \(json["rows_changed"] ?? "?")")
        measurement.commits = 1
        measurement.longestLock = update
        log("\(label): \(listed) due, \(removed) removed, wall \(fmt(result.wallSeconds)) s, unlink \(fmt(unlink)) s + UPDATE \(fmt(update)) s, "
            + "peak RSS \(mib(result.maxRSSKiB)) MiB")
        return measurement
    }

    /// Rows by status and whether `file_path` is NULL, and the files left: equal after the sweep and the floor.
    func endState() throws -> String {
        let queue = try DatabaseQueue(path: database)
        let groups = try queue.read { db in
            try Row.fetchAll(db, sql: "SELECT status, file_path IS NULL AS gone, count(*) AS n FROM export_jobs GROUP BY 1, 2 ORDER BY 1, 2")
                .map { "\($0["status"] as String? ?? "")\(($0["gone"] as Int? ?? 0) == 1 ? "/null" : "/path")=\($0["n"] as Int? ?? 0)" }
        }
        let files = (try? FileManager.default.contentsOfDirectory(atPath: storage).count) ?? -1
        return groups.joined(separator: " ") + " files=\(files)"
    }
}

/// A plain Markdown table.
struct Table {
    var rows: [[String]]
    init(_ header: [String]) { rows = [header] }
    mutating func add(_ row: [String]) { rows.append(row) }
    func render() -> String {
        let widths = (0..<rows[0].count).map { column in rows.map { $0[column].count }.max() ?? 0 }
        func line(_ row: [String]) -> String {
            "| " + zip(row, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: " | ") + " |"
        }
        return ([line(rows[0]), "| " + widths.map { String(repeating: "-", count: $0) }.joined(separator: " | ") + " |"]
            + rows.dropFirst().map(line)).joined(separator: "\n")
    }
}

func log(_ message: String) {
    writeAll(fd: 2, "[bench] \(message)\n")
}
func removeTree(_ path: String) {
    guard access(path, F_OK) == 0 else { return }
    _ = try? spawnMeasured(["/bin/rm", "-rf", "--", path], environment: [], stdoutPath: "/dev/null", stderrPath: "/dev/null")
}
