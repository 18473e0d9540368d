import ExportCleanup
import ExportCleanupDemo
import ExportCleanupPostgres
import ExportStorage
import Foundation
import Logging
import Synchronization
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Every PostgreSQL test runs one at a time: they share one cluster, and one of them restarts it.
@Suite(.serialized) struct Postgres {}

/// Runs `body` and prints how long it took: `[postgres] name: 1.23 s`.
func timed<T>(_ name: String, _ body: () throws -> T) rethrows -> T {
    let start = Date()
    defer { print("[postgres] \(name): \(String(format: "%.2f", Date().timeIntervalSince(start))) s") }
    return try body()
}

// MARK: - The cluster

/// One private PostgreSQL 15 cluster for the whole test target, started on first use: `initdb` and `pg_ctl` as uid
/// 65534 (initdb refuses root; no user is created) in a fresh directory under `/tmp`, listening only on a unix
/// socket in that directory, `TimeZone` of the server far from UTC (`Pacific/Kiritimati`, +14). Stopped with
/// `pg_ctl stop -m immediate` and removed when the test process exits (atexit), and by a small watcher process
/// if the test process dies without exiting.
final class PostgresCluster: Sendable {
    static let bin = "/usr/lib/postgresql/15/bin"
    /// The password of the role `app_pw`, the only one that must log in with a password (scram-sha-256).
    static let password = "s3cret-Pa55-w0rd"

    let directory: String
    var socketDirectory: String { directory }
    var dataDirectory: String { directory + "/data" }
    var logFile: String { directory + "/server.log" }
    private let databases = Atomic<Int>(0)

    /// The cluster, started once (a failure to start is reported by every test that needs it).
    static let shared: Result<PostgresCluster, TestFailure> = {
        let start = Date()
        let result = Result { () throws(TestFailure) -> PostgresCluster in try PostgresCluster() }
        print("[postgres] cluster started in \(String(format: "%.2f", Date().timeIntervalSince(start))) s")
        return result
    }()

    static func get() throws -> PostgresCluster { try shared.get() }

    private init() throws(TestFailure) {
        guard FileManager.default.isExecutableFile(atPath: Self.bin + "/initdb") else {
            throw TestFailure("\(Self.bin)/initdb is missing: apt-get install postgresql-15 (the tests start their own cluster; the package's service is not used)")
        }
        var template = Array("/tmp/export-cleanup-pg.XXXXXX".utf8CString)
        directory = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
        chown(directory, 65534, 65534)
        chmod(directory, 0o700)
        Self.registerCleanup(directory)
        try runAsNobody([Self.bin + "/initdb", "-D", dataDirectory, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8",
                         "--locale=C.UTF-8", "--no-instructions"])
        // The role app_pw logs in with a password; everyone else is trusted on the private socket.
        let hba = "local all app_pw scram-sha-256\nlocal all all trust\n"
        guard FileManager.default.createFile(atPath: dataDirectory + "/pg_hba.conf", contents: Data(hba.utf8)) else {
            throw TestFailure("cannot write pg_hba.conf")
        }
        chown(dataDirectory + "/pg_hba.conf", 65534, 65534)
        try start()
        let admin = try connect(database: "postgres")
        do {
            try admin.execute("CREATE ROLE app_pw LOGIN SUPERUSER PASSWORD \(PostgresConnection.literal(Self.password))")
        } catch {
            throw TestFailure("cannot create the role app_pw: \(error)")
        }
    }

    /// Starts the server (also after ``stop()``).
    func start() throws(TestFailure) {
        let options = "-c listen_addresses='' -c unix_socket_directories='\(socketDirectory)' -c port=5432 -c fsync=off "
            + "-c full_page_writes=off -c TimeZone=Pacific/Kiritimati -c max_connections=60 "
            + "-c shared_buffers=32MB -c log_min_messages=warning"
        try runAsNobody([Self.bin + "/pg_ctl", "-D", dataDirectory, "-l", logFile, "-w", "-t", "60", "-o", options, "start"])
    }

    /// Stops the server at once (`-m immediate`: like a crash; sessions are cut).
    func stop() throws(TestFailure) {
        try runAsNobody([Self.bin + "/pg_ctl", "-D", dataDirectory, "-w", "-m", "immediate", "stop"])
    }

    /// Restarts the server (`-m fast`: sessions are terminated, then it comes back).
    func restart() throws(TestFailure) {
        try runAsNobody([Self.bin + "/pg_ctl", "-D", dataDirectory, "-w", "-t", "60", "-m", "fast", "-l", logFile, "restart"])
    }

    /// The connection URI of a database on the private socket.
    func uri(database: String, user: String = "postgres", password: String? = nil) -> String {
        "postgresql://\(user)\(password.map { ":" + $0 } ?? "")@/\(database)?host=\(socketDirectory)"
    }

    func connect(database: String, user: String = "postgres") throws(TestFailure) -> PostgresConnection {
        do {
            return try PostgresConnection(PostgresConnectionString(uri(database: database, user: user))!, overrides: [("application_name", "export-cleanup tests")])
        } catch {
            throw TestFailure("cannot connect to the test cluster: \(error) (log: \(logFile))")
        }
    }

    /// A new, empty database: `t1`, `t2`, ...
    func createDatabase() throws -> String {
        let name = "t\(databases.add(1, ordering: .relaxed).newValue)"
        try connect(database: "postgres").execute("CREATE DATABASE \(name)")
        return name
    }

    func dropDatabase(_ name: String) {
        _ = try? connect(database: "postgres").execute("DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
    }

    /// Runs a PostgreSQL program as uid 65534 and waits for it. Not through Foundation's `Process`: it detects a
    /// child's exit by the end of a socket the child inherits, and `pg_ctl start` leaves the server holding it.
    private func runAsNobody(_ arguments: [String]) throws(TestFailure) {
        let output = directory + "/command.out"
        let status = spawn(["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] + arguments, wait: true,
                           output: output, cwd: directory, environment: ["HOME=" + directory, "LC_ALL=C.UTF-8", "PATH=/usr/bin:/bin"])
        guard status == 0 else {
            let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
            let log = (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? ""
            throw TestFailure("\(arguments[0]) failed (wait status \(status)): \(text)\nserver log: \(log.suffix(2000))")
        }
    }

    // MARK: Cleanup

    /// atexit: `pg_ctl stop -m immediate` and remove the directory. A watcher process does the same if this process
    /// dies without exiting (kill -9, a crash).
    private static func registerCleanup(_ directory: String) {
        cleanupCommand.withLock {
            $0 = "\(stopCommand(directory)); rm -rf '\(directory)'"
        }
        atexit {
            let command = PostgresCluster.cleanupCommand.withLock { $0 }
            if !command.isEmpty { _ = spawn(["/bin/sh", "-c", command], wait: true) }
        }
        let watcher = "while kill -0 \(getpid()) 2>/dev/null; do sleep 1; done; if [ -d '\(directory)' ]; then \(stopCommand(directory)); rm -rf '\(directory)'; fi"
        _ = spawn(["/usr/bin/setsid", "/bin/sh", "-c", watcher], wait: false)
    }

    private static func stopCommand(_ directory: String) -> String {
        "/usr/bin/setpriv --reuid=65534 --regid=65534 --clear-groups \(bin)/pg_ctl -D '\(directory)/data' -m immediate stop >/dev/null 2>&1"
    }

    private static let cleanupCommand = Mutex<String>("")
}

/// `posix_spawn` with stdin on /dev/null, stdout and stderr on `output` (default /dev/null) and every other descriptor
/// closed in the child (a long-lived child must not hold another test's pipes or sockets); waits when asked and
/// returns the wait status. Safe in an atexit handler (no Foundation).
@discardableResult
func spawn(_ arguments: [String], wait: Bool, output: String = "/dev/null", cwd: String? = nil, environment: [String]? = nil) -> Int32 {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)
    // glibc 2.34+ has both; Swift's Glibc module does not show these GNU extensions.
    typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    typealias ChangeDirectory = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32
    guard let closeFrom = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np"), let changeDirectory = dlsym(nil, "posix_spawn_file_actions_addchdir_np") else {
        return -1
    }
    _ = unsafeBitCast(closeFrom, to: CloseFrom.self)(&actions, 3)
    if let cwd { _ = unsafeBitCast(changeDirectory, to: ChangeDirectory.self)(&actions, cwd) }
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    // The default signal mask and dispositions, whatever this thread has.
    var none = sigset_t()
    sigemptyset(&none)
    posix_spawnattr_setsigmask(&attributes, &none)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))
    var pid: pid_t = 0
    var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    var envp: [UnsafeMutablePointer<CChar>?]? = environment.map { $0.map { strdup($0) } + [nil] }
    defer { envp?.forEach { free($0) } }
    let spawned = envp == nil
        ? posix_spawn(&pid, arguments[0], &actions, &attributes, &argv, environ)
        : posix_spawn(&pid, arguments[0], &actions, &attributes, &argv, &envp!)
    guard spawned == 0 else { return -1 }
    guard wait else { return 0 }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
    return status
}

// MARK: - Fixture

/// A database of the test cluster with the application's table as SQLAlchemy creates it on PostgreSQL, a storage
/// directory, the jobs added so far with what a sweep must do to each, and the invariant checks.
final class PGFixture {
    let cluster: PostgresCluster
    let name: String
    let tmp: TemporaryDirectory
    let storage: String
    /// The test's own session (the "application"); ``reconnect()`` after a server restart.
    private(set) var db: PostgresConnection

    /// The jobs written so far and what the sweep must do to each.
    private(set) var expected = ExpectedJobs()
    var jobs: [String: ExpectedJob] { expected.jobs }
    var order: [String] { expected.order }

    /// - Parameter timestampType: `TIMESTAMP WITHOUT TIME ZONE` (SQLAlchemy's `DateTime`) or `TIMESTAMP WITH TIME ZONE`.
    init(timestampType: String = "TIMESTAMP WITHOUT TIME ZONE", table: Bool = true) throws {
        cluster = try PostgresCluster.get()
        name = try cluster.createDatabase()
        tmp = TemporaryDirectory(memory: true)
        storage = tmp.sub("exports")
        try StorageDirectory(path: storage).prepare()
        writeFile(tmp.sub("none.conf"), "")
        db = try cluster.connect(database: name)
        if table { try PostgresApplicationTable.create(on: db, timestampType: timestampType) }
    }

    deinit { cluster.dropDatabase(name) }

    /// A new session for the test (after the server was restarted).
    func reconnect() throws { db = try cluster.connect(database: name) }

    /// The connection URI of this database.
    var uri: String { cluster.uri(database: name) }

    /// The flags that point a command at this fixture, with no configuration file and logs on stderr. The
    /// mass-deletion brake is off: these fixtures make almost every row due (the brake is tested on SQLite; its
    /// count on PostgreSQL by PostgresStoreTests.theBrakeCountOrphanLookUpAndPressureOrderOnPostgreSQL).
    var flags: [String] {
        ["--db", uri, "--storage", storage, "--config", tmp.sub("none.conf"), "--log-target", "stderr", "--max-delete-percent", "100"]
    }

    static func text(hoursAgo: Double) -> StoredValue {
        ApplicationDatabase.text(UTCInstant.now().adding(microseconds: -Int64(hoursAgo * 3_600_000_000)))
    }

    /// Creates the export file for `id` stamped `hoursAgo`; returns its path.
    func makeFile(_ id: String, hoursAgo: Double, type: String = "hotels", bytes: Int = 1) throws -> String {
        let stamp = UTCInstant.now().adding(microseconds: -Int64(hoursAgo * 3_600_000_000))
        let name = try ExportFileName(exportType: type, jobID: id, secondsSinceEpoch: stamp.seconds, format: .csv)
        return try StorageDirectory(path: storage).writeFile(name, contents: [UInt8](repeating: 65, count: bytes))
    }

    /// Inserts rows and remembers what must happen to them.
    func add(_ rows: [(row: ApplicationDatabase.Row, due: CleanupRule?)]) throws {
        try PostgresApplicationTable.insert(rows.map(\.row), on: db)
        for (row, due) in rows { expected.add(ExpectedJob(id: row.id, status: row.status, filePath: row.filePath.text, due: due)) }
    }

    /// One generation under the default policy (24 h retention, 1 h failed age): `due` due completed jobs, `dueFailed`
    /// due failed ones, and jobs that must be kept (each with a file): within retention, expires_at ahead, failed too
    /// recently, pending, processing, completed_at NULL, completed_at infinity.
    func addGeneration(_ tag: String, due: Int, dueFailed: Int = 0, keep: Int = 0) throws {
        var rows: [(ApplicationDatabase.Row, CleanupRule?)] = []
        let old = Self.text(hoursAgo: 48)
        for index in 0..<due {
            let id = "\(tag)_c\(index)"
            let path = try makeFile(id, hoursAgo: 48)
            rows.append((.init(id: id, status: "completed", filePath: .text(path), createdAt: old, completedAt: old,
                               expiresAt: index % 5 == 0 ? Self.text(hoursAgo: 2) : .null), .completed))
        }
        for index in 0..<dueFailed {
            let id = "\(tag)_f\(index)"
            let path = try makeFile(id, hoursAgo: 2)
            rows.append((.init(id: id, status: "failed", filePath: .text(path), createdAt: Self.text(hoursAgo: 2), errorMessage: "boom"), .failed))
        }
        for index in 0..<keep {
            let id = "\(tag)_k\(index)"
            let path = try makeFile(id, hoursAgo: 48)
            let row: ApplicationDatabase.Row
            switch index % 7 {
            case 0: row = .init(id: id, status: "completed", filePath: .text(path), createdAt: Self.text(hoursAgo: 1), completedAt: Self.text(hoursAgo: 1))
            case 1: row = .init(id: id, status: "completed", filePath: .text(path), createdAt: old, completedAt: old, expiresAt: Self.text(hoursAgo: -24))
            case 2: row = .init(id: id, status: "failed", filePath: .text(path), createdAt: Self.text(hoursAgo: 0.2))
            case 3: row = .init(id: id, status: "pending", filePath: .text(path), createdAt: old)
            case 4: row = .init(id: id, status: "processing", filePath: .text(path), createdAt: old)
            case 5: row = .init(id: id, status: "completed", filePath: .text(path), createdAt: old, completedAt: .null)
            default: row = .init(id: id, status: "completed", filePath: .text(path), createdAt: old, completedAt: .text("infinity"))
            }
            rows.append((row, nil))
        }
        try add(rows)
    }

    /// Forgets the expectation for a job the test changed itself (e.g. the application's retry).
    func replace(_ id: String, status: String, filePath: String?) {
        expected.add(ExpectedJob(id: id, status: status, filePath: filePath, due: nil))
    }

    // MARK: Reading back

    /// Every row's `(status, file_path)`.
    func rows() throws -> [String: (status: String, filePath: String?)] {
        var rows: [String: (String, String?)] = [:]
        for row in try db.query("SELECT id, status, file_path FROM export_jobs").rows {
            rows[row[0] ?? ""] = (row[1] ?? "", row[2])
        }
        return rows
    }

    /// One value, as text.
    func value(_ sql: String, _ parameters: [String?] = []) throws -> String? {
        try db.query(sql, parameters).scalar
    }

    // MARK: Invariants

    /// The violated invariants (empty when all hold), at most `limit` listed (see ``ExpectedJobs``).
    func violations(_ phase: ExpectedJobs.Phase, limit: Int = 20) throws -> [String] {
        expected.violations(phase, rows: try rows(), storage: storage, limit: limit)
    }

    /// Records an issue listing the violated invariants, if any.
    func expectNoViolations(_ phase: ExpectedJobs.Phase, _ comment: String = "", sourceLocation: SourceLocation = #_sourceLocation) throws {
        let found = try violations(phase)
        #expect(found.isEmpty, "\(comment) \(found)", sourceLocation: sourceLocation)
    }

    /// Rows that name a file that is gone (must never happen while the application may change rows, except for
    /// a row the test made without a file).
    func rowsNamingMissingFiles() throws -> [String] {
        try rows().filter { _, row in row.filePath.map { $0.hasPrefix(storage + "/") && !fileExists($0) } ?? false }.map(\.key).sorted()
    }

    /// Counts of due jobs: (file gone, record updated).
    func progress() throws -> (filesGone: Int, recordsUpdated: Int) {
        expected.progress(rows: try rows())
    }
}

@discardableResult
func writeFile(_ path: String, _ text: String = "x") -> String {
    _ = FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
    return path
}

extension Binary {
    /// `sweep` over a fixture with the given extra flags.
    static func sweep(_ fixture: PGFixture, _ extra: [String] = []) throws -> Result {
        try run(["sweep"] + fixture.flags + extra)
    }
}

/// A logger that prints nothing.
let quietLogger = Logger(label: "export-cleanup.tests") { _ in SwiftLogNoOpLogHandler() }
