public import ExportCleanup
public import Logging
import Foundation

/// The application's `export_jobs` table in PostgreSQL, through libpq: the store for deployments where several
/// hosts share one job table and one storage directory.
///
/// - Connects with the connection string as given (libpq: `PG*` variables, service file, `.pgpass`/`PGPASSFILE`,
///   TLS as in every PostgreSQL tool), `application_name` `export-cleanup@<host>:<pid>`, and pins the session:
///   `TimeZone` UTC and `DateStyle` ISO (timestamps are read and compared as UTC whatever the server's or the
///   role's time zone), `lock_timeout` the busy timeout, server-side TCP keepalives (a vanished host's session,
///   and its sweep lock, end within about a minute), and `synchronous_commit` at least `on` (a claim is durable
///   before its file is removed). A dry run's session is read-only.
/// - Reads candidates by keyset pagination on the primary key `id` in the column's own collation, so the primary
///   key index (or the optional partial index of ``failedIndex``) gives the order; rows whose timestamps are
///   readable and not due are left out in SQL, with the same notion of "readable" as ``StoredDateTime``
///   (finite, years 1 to 9999): every other row of the status is returned for the policy to decide or report.
/// - Claims one batch in one `UPDATE ... FROM unnest($1::text[], ...) ... RETURNING e.id` (one statement, one
///   short transaction), guarded on `id`, `status`, `export_type`, `format`, `file_path` and the three timestamps,
///   compared as values (`IS NOT DISTINCT FROM`, timestamps cast back to the column's type). A row the application
///   changed meanwhile is not updated, and a row it holds locked past `lock_timeout` aborts the sweep (busy).
/// - ``ExportJob/key`` is a 64-bit FNV-1a hash of the id, for logs and the claims journal only: every statement
///   finds rows by `id`.
public final class PostgresJobStore: JobStore {
    /// How to connect.
    public struct Options: Sendable, Hashable {
        /// `lock_timeout` of the session, in milliseconds: how long a statement waits for the application's row
        /// locks (0 waits 1 ms, not forever).
        public var lockTimeoutMilliseconds: Int
        /// Read-only session (dry runs): the database is never written.
        public var readOnly: Bool
        /// `application_name`, which names this process to other instances waiting for the sweep lock.
        public var applicationName: String
        /// libpq's `connect_timeout` when neither the connection string nor the environment sets one.
        public var connectTimeoutSeconds: Int

        /// Creates options.
        public init(lockTimeoutMilliseconds: Int = 5000, readOnly: Bool = false,
                    applicationName: String = PostgresJobStore.defaultApplicationName(), connectTimeoutSeconds: Int = 10) {
            self.lockTimeoutMilliseconds = lockTimeoutMilliseconds
            self.readOnly = readOnly
            self.applicationName = applicationName
            self.connectTimeoutSeconds = connectTimeoutSeconds
        }
    }

    /// The connection string (its ``PostgresConnectionString/masked`` form is what errors and logs show).
    public let target: PostgresConnectionString
    /// The session.
    public let connection: PostgresConnection
    private let logger: Logger
    /// `export_jobs`' columns as found at connection: name → base type name (`varchar`, `timestamp`, ...).
    private var columnTypes: [String: String] = [:]
    /// `export_jobs` as the search path resolves it (`public.export_jobs`), when it exists.
    public private(set) var qualifiedTable: String?
    /// Keyset positions handed out as ``JobCursor`` keys: cursor key → the last id of that batch.
    private var cursors: [Int64: String] = [:]
    private var nextCursor: Int64 = 1
    /// The ids behind the keys of the last page of pressure candidates (the next page's cursor names one).
    var pressureCursorIDs: [Int64: String] = [:]
    /// Sweep locks (advisory locks) this session holds, by name.
    var heldLockNames: Set<String> = []

    /// The table the application writes.
    public static let table = "export_jobs"
    /// The text columns cleanup reads.
    static let textColumns = ["id", "export_type", "format", "status", "file_path"]
    /// The timestamp columns cleanup reads.
    static let timestampColumns = ["created_at", "completed_at", "expires_at"]

    /// `export-cleanup@<host>:<pid>`.
    public static func defaultApplicationName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        let host = gethostname(&buffer, buffer.count - 1) == 0
            ? String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : "unknown"
        return "export-cleanup@\(host):\(getpid())"
    }

    /// Connects and prepares the session. Does not check the schema: call ``verifySchema()``.
    /// - Throws: ``JobStoreError``: `permissionDenied` (login refused), `databaseMissing`, `unavailable` (server
    ///   unreachable), each with the connection string masked.
    public init(_ target: PostgresConnectionString, options: Options = Options(), logger: Logger) throws(JobStoreError) {
        self.target = target
        self.logger = logger
        do {
            connection = try PostgresConnection(
                target,
                defaults: [("connect_timeout", String(options.connectTimeoutSeconds)), ("keepalives_idle", "30"),
                           ("keepalives_interval", "10"), ("keepalives_count", "3")],
                overrides: [("application_name", options.applicationName), ("client_encoding", "UTF8")])
        } catch {
            throw Self.map(error, target: target, doing: "connect", connecting: true)
        }
        let lockTimeout = max(1, options.lockTimeoutMilliseconds)
        var session = [
            "SET TimeZone = 'UTC'", "SET DateStyle = 'ISO, YMD'", "SET IntervalStyle = 'postgres'", "SET lock_timeout = '\(lockTimeout)ms'",
            // The server notices a vanished client (and ends its session and its sweep lock) within about a minute.
            "SET tcp_keepalives_idle = 30", "SET tcp_keepalives_interval = 10", "SET tcp_keepalives_count = 3",
        ]
        if options.readOnly { session.append("SET default_transaction_read_only = on") }
        do {
            try connection.execute(session.joined(separator: "; "))
            // A claim must be durable before its file goes: a server crash must not undo a claim whose files were
            // removed. A stronger setting of the server (remote_write, remote_apply) is kept.
            if try connection.query("SHOW synchronous_commit").scalar == "off" {
                try connection.execute("SET synchronous_commit = on")
            }
            qualifiedTable = try connection.query("SELECT to_regclass($1)::text", [Self.table]).scalar
            if qualifiedTable != nil {
                let rows = try connection.query("""
                    SELECT a.attname, t.typname FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
                    WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped
                    """, [Self.table]).rows
                for row in rows {
                    if let name = row[0], let type = row[1] { columnTypes[name] = type }
                }
            }
        } catch {
            throw Self.map(error, target: target, doing: "prepare the session")
        }
        logger.debug("connected to PostgreSQL", metadata: [
            "export_database": "\(target.masked)", "export_backend_pid": "\(connection.backendPID)",
            "export_server_version": "\(connection.serverVersion)",
        ])
    }

    // MARK: - Schema

    public func verifySchema() throws(JobStoreError) {
        let database = "'\(target.masked)'"
        guard let qualifiedTable else {
            let tables = (try? connection.query("""
                SELECT string_agg(n.nspname || '.' || c.relname, ', ' ORDER BY n.nspname, c.relname) FROM pg_class c
                JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE c.relkind IN ('r', 'p', 'v', 'f') AND n.nspname = ANY (current_schemas(false))
                """).scalar) ?? nil
            let path = (try? connection.query("SHOW search_path").scalar) ?? nil
            throw JobStoreError(.missingTable, path: target.masked, table: Self.table,
                                message: "database \(database) has no table '\(Self.table)' on its search_path (\(path ?? "?"); tables there: \(tables ?? "none")): "
                                    + "point --db at the application's database, or add options=-csearch_path=<schema> to the connection string")
        }
        for column in Self.textColumns + Self.timestampColumns {
            guard let type = columnTypes[column] else {
                throw JobStoreError(.missingColumn, path: target.masked, table: Self.table, column: column,
                                    message: "table '\(qualifiedTable)' in \(database) has no column '\(column)': the application's schema is needed "
                                        + "(columns found: \(columnTypes.keys.sorted().joined(separator: ", ")))")
            }
            let timestamp = Self.timestampColumns.contains(column)
            let accepted = timestamp ? ["timestamp", "timestamptz"] : ["varchar", "text"]
            guard accepted.contains(type) else {
                let expected = timestamp ? "timestamp without time zone (UTC wall time, as SQLAlchemy's DateTime creates it) or timestamp with time zone"
                    : "character varying or text"
                throw JobStoreError(.wrongColumnType, path: target.masked, table: Self.table, column: column,
                                    message: "column '\(column)' of '\(qualifiedTable)' in \(database) is of type \(type); export-cleanup reads \(expected): "
                                        + "this is not the application's schema")
            }
        }
        // The privileges a sweep needs, named before any sweep fails on them.
        var missing: [String] = []
        do {
            for column in Self.textColumns + Self.timestampColumns {
                if try connection.query("SELECT has_column_privilege($1, $2, 'SELECT')", [qualifiedTable, column]).scalar != "t" {
                    missing.append("SELECT (\(column))")
                }
            }
            if try connection.query("SHOW default_transaction_read_only").scalar != "on" {
                for column in ["status", "file_path"] where try connection.query("SELECT has_column_privilege($1, $2, 'UPDATE')", [qualifiedTable, column]).scalar != "t" {
                    missing.append("UPDATE (\(column))")
                }
            }
        } catch {
            throw Self.map(error, target: target, doing: "read the privileges")
        }
        if !missing.isEmpty {
            let role = (try? connection.query("SELECT current_user").scalar) ?? nil
            throw JobStoreError(.permissionDenied, path: target.masked, table: Self.table,
                                message: "role '\(role ?? "?")' lacks \(missing.joined(separator: ", ")) on '\(qualifiedTable)' in \(database): "
                                    + "GRANT SELECT, UPDATE ON \(qualifiedTable) TO \(role.map(PostgresConnection.identifier) ?? "<role>")")
        }
    }

    /// The base type of a timestamp column (`timestamp` or `timestamptz`; `timestamp` before the schema is known).
    func castType(_ column: String) -> String { columnTypes[column] == "timestamptz" ? "timestamptz" : "timestamp" }

    // MARK: - Candidates

    /// The bounds of a readable timestamp, as ``StoredDateTime`` reads PostgreSQL's ISO output: years 1 to 9999
    /// (no `infinity`, no BC, no five-digit year). Passed with `+00`, which a `timestamp` cast ignores and a
    /// `timestamptz` cast honours: both mean UTC.
    static let readableFrom = "0001-01-01 00:00:00+00"
    static let readableUntil = "10000-01-01 00:00:00+00"

    static func parameter(_ instant: UTCInstant) -> String { instant.databaseText + "+00" }

    /// The candidate query of a rule and its parameters: completed `$1` cutoff, `$2` now, `$3`/`$4` the readable
    /// bounds, `$5` limit, `$6` the cursor (the last id read); failed the same without now.
    func candidatesQuery(for rule: CleanupRule, cutoff: UTCInstant, now: UTCInstant, limit: Int, after last: String?) -> (sql: String, parameters: [String?]) {
        var parameters: [String?] = [Self.parameter(cutoff)]
        if rule == .completed { parameters.append(Self.parameter(now)) }
        let from = "$\(parameters.count + 1)", until = "$\(parameters.count + 2)", limitParameter = "$\(parameters.count + 3)"
        parameters += [Self.readableFrom, Self.readableUntil, String(limit)]
        let after = last == nil ? "" : " AND id > $\(parameters.count + 1)"
        if let last { parameters.append(last) }
        func readable(_ column: String) -> String {
            "\(column) >= \(from)::\(castType(column)) AND \(column) < \(until)::\(castType(column))"
        }
        let filter: String
        switch rule {
        case .completed:
            // Left out only when completed_at (and expires_at, if set) are readable and the row is not due by
            // either: a NULL or unreadable value the rule needs is returned, to be reported.
            filter = """
                status = 'completed'\(after)
                  AND (\(readable("completed_at")) AND (expires_at IS NULL OR (\(readable("expires_at"))))
                       AND (completed_at > $1::\(castType("completed_at")) OR expires_at > $2::\(castType("expires_at")))) IS NOT TRUE
                """
        case .failed:
            filter = """
                status = 'failed' AND file_path IS NOT NULL\(after)
                  AND (\(readable("created_at")) AND created_at > $1::\(castType("created_at"))) IS NOT TRUE
                """
        }
        let columns = (Self.textColumns + Self.timestampColumns).joined(separator: ", ")
        return ("SELECT \(columns) FROM \(Self.table) WHERE \(filter) ORDER BY id LIMIT \(limitParameter)", parameters)
    }

    public func candidates(for rule: CleanupRule, cutoff: UTCInstant, now: UTCInstant, after cursor: JobCursor?, limit: Int) throws(JobStoreError)
        -> (jobs: [ExportJob], next: JobCursor?)
    {
        var last: String?
        if let cursor {
            guard let position = cursors[cursor.key] else {
                throw JobStoreError(.failed, path: target.masked, message: "internal error: unknown cursor \(cursor.key) for \(rule.rawValue) jobs")
            }
            last = position
        }
        let rows: [[String?]]
        do {
            let query = candidatesQuery(for: rule, cutoff: cutoff, now: now, limit: limit, after: last)
            rows = try connection.query(query.sql, query.parameters).rows
        } catch {
            throw Self.map(error, target: target, doing: "read \(rule.rawValue) jobs")
        }
        let jobs = rows.map(Self.job)
        guard rows.count >= limit, let last = rows.last?[0] else { return (jobs, nil) }
        let key = nextCursor
        nextCursor += 1
        cursors[key] = last
        cursors[key - 4] = nil
        return (jobs, JobCursor(key: key))
    }

    /// A row as read: text columns and timestamps as the text PostgreSQL sends (ISO, UTC), NULL as NULL.
    static func job(_ row: [String?]) -> ExportJob {
        func value(_ index: Int) -> StoredValue { row[index].map(StoredValue.text) ?? .null }
        let id = row[0] ?? ""
        return ExportJob(key: key(forID: id), id: id, storedID: .text(id), exportType: value(1), format: value(2), status: JobStatus(rawValue: row[3] ?? ""),
                         filePath: value(4), createdAt: value(5), completedAt: value(6), expiresAt: value(7))
    }

    /// The 64-bit FNV-1a hash of an id's UTF-8 bytes: ``ExportJob/key`` of a PostgreSQL row (stable across processes).
    public static func key(forID id: String) -> Int64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in id.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return Int64(bitPattern: hash)
    }

    // MARK: - Claims

    /// The claim of a batch: ``JobStore/claim(_:)``'s compare-and-set as one statement. Parameters: nine text
    /// arrays (id, new status, then the guarded values as read).
    func claimSQL() -> String {
        """
        UPDATE \(Self.table) AS e SET status = v.new_status, file_path = NULL
        FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])
            AS v(id, new_status, status, export_type, format, file_path, created_at, completed_at, expires_at)
        WHERE e.id = v.id AND e.status = v.status AND \(guardSQL(filePath: "v.file_path"))
        RETURNING e.id
        """
    }

    /// Whether rows are exactly as committed claims left them. Parameters as ``claimSQL()``.
    func isClaimedSQL() -> String {
        """
        SELECT e.id FROM \(Self.table) AS e
        JOIN unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])
            AS v(id, new_status, status, export_type, format, file_path, created_at, completed_at, expires_at)
        ON e.id = v.id AND e.status = v.new_status AND \(guardSQL(filePath: "NULL"))
        """
    }

    /// Every other guarded column, compared as a value: text exactly, timestamps cast back to the column's type.
    private func guardSQL(filePath: String) -> String {
        var terms = ["e.export_type IS NOT DISTINCT FROM v.export_type", "e.format IS NOT DISTINCT FROM v.format",
                     "e.file_path IS NOT DISTINCT FROM \(filePath)"]
        for column in Self.timestampColumns {
            terms.append("e.\(column) IS NOT DISTINCT FROM v.\(column)::\(castType(column))")
        }
        return terms.joined(separator: " AND ")
    }

    /// The nine array parameters of claims; `nil` for a claim no row of this store can match (a value PostgreSQL
    /// cannot hold or did not send: not text, a NUL, a timestamp text that is not a readable datetime).
    private static func arrays(_ claims: [JobClaim]) -> (parameters: [String?], sendable: [Bool]) {
        var columns = Array(repeating: [String?](), count: 9)
        var sendable: [Bool] = []
        for claim in claims {
            let job = claim.job
            func text(_ value: StoredValue) -> String?? {
                switch value {
                case .null: return .some(nil)
                case .text(let text) where !text.utf8.contains(0): return .some(text)
                default: return nil
                }
            }
            func timestamp(_ value: StoredValue) -> String?? {
                guard let text = text(value) else { return nil }
                guard let present = text else { return .some(nil) }
                return StoredDateTime.parse(text: present) == nil ? nil : .some(present)
            }
            let values: [String??] = [text(job.storedID), .some(claim.newStatus.rawValue), .some(job.status.rawValue), text(job.exportType), text(job.format),
                                      text(job.filePath), timestamp(job.createdAt), timestamp(job.completedAt), timestamp(job.expiresAt)]
            guard values.allSatisfy({ $0 != nil }), case .some(.some) = values[0], !job.status.rawValue.utf8.contains(0) else {
                sendable.append(false)
                continue
            }
            sendable.append(true)
            for (index, value) in values.enumerated() { columns[index].append(value!) }
        }
        return (columns.map { PostgresConnection.arrayLiteral($0) }, sendable)
    }

    public func claim(_ claims: [JobClaim]) throws(JobStoreError) -> [Bool] {
        try run(claimSQL(), claims, doing: "claim \(claims.count) records")
    }

    public func isClaimed(_ claims: [JobClaim]) throws(JobStoreError) -> [Bool] {
        try run(isClaimedSQL(), claims, doing: "check \(claims.count) earlier claims")
    }

    /// Runs a claim statement; a claim holds when exactly one row of its id came back.
    private func run(_ sql: String, _ claims: [JobClaim], doing what: String) throws(JobStoreError) -> [Bool] {
        guard !claims.isEmpty else { return [] }
        let (parameters, sendable) = Self.arrays(claims)
        var counts: [String: Int] = [:]
        if sendable.contains(true) {
            do {
                for row in try connection.query(sql, parameters).rows {
                    if let id = row[0] { counts[id, default: 0] += 1 }
                }
            } catch {
                throw Self.map(error, target: target, doing: what)
            }
        }
        // Two claims of one id in a batch (never from a sweep) cannot both hold: the row moved on the first.
        var seen: Set<String> = []
        return zip(claims, sendable).map { claim, sent in
            guard sent, counts[claim.job.id] == 1 else { return false }
            return seen.insert(claim.job.id).inserted
        }
    }

    // MARK: - Errors

    /// A ``PostgresError`` as a ``JobStoreError``: the code decides the exit status, the message says what to do.
    static func map(_ error: PostgresError, target: PostgresConnectionString, doing what: String, connecting: Bool = false) -> JobStoreError {
        let code = classify(error, connecting: connecting)
        let database = "'\(target.masked)'"
        let message: String
        switch code {
        case .cannotOpen where error.libraryMissing:
            message = "cannot open \(database): \(error.message)"
        case .permissionDenied where connecting:
            message = "PostgreSQL refused the login to \(database): \(error.message); check the user and its password "
                + "(PGPASSFILE or ~/.pgpass, the unit's LoadCredential=) and the server's pg_hba.conf"
        case .permissionDenied:
            message = "PostgreSQL refused to \(what) in \(database): \(error.message); GRANT SELECT, UPDATE ON export_jobs to this role"
        case .notFound:
            message = "PostgreSQL database of \(database) does not exist: \(error.message); point --db at the application's database (it is never created)"
        case .unavailable where connecting:
            message = "cannot connect to PostgreSQL \(database): \(error.message); check that the server runs and is reachable "
                + "(host, port, unix socket directory); the daemon retries at its next interval"
        case .unavailable:
            message = "lost the connection to PostgreSQL \(database) while trying to \(what): \(error.message); nothing was removed whose "
                + "record was not updated first; the next sweep goes on"
        case .busy:
            message = "PostgreSQL \(database): rows stayed locked beyond the lock timeout while trying to \(what) (\(error.message)): "
                + "the application holds a long transaction; try again later or raise EXPORT_CLEANUP_BUSY_TIMEOUT_MS"
        case .missingTable, .missingColumn:
            message = "cannot \(what) in \(database): \(error.message): the application's schema is needed"
        default:
            message = "cannot \(what) in \(database): \(error)"
        }
        return JobStoreError(code, path: target.masked, message: message)
    }

    static func classify(_ error: PostgresError, connecting: Bool) -> JobStoreError.Code {
        if error.libraryMissing { return .cannotOpen }
        switch error.sqlState {
        case "28P01"?, "28000"?, "42501"?: return .permissionDenied
        case "3D000"?: return .notFound
        case "55P03"?, "40P01"?, "40001"?, "57014"?: return .busy
        case "42P01"?: return .missingTable
        case "42703"?: return .missingColumn
        case "25006"?: return .unavailable  // a read-only server: a standby, after a failover
        case let state? where state.hasPrefix("08") || state.hasPrefix("57P") || state.hasPrefix("53"): return .unavailable
        default: break
        }
        if connecting {
            // libpq gives no SQLSTATE for a failed connection: its (English) message says which.
            let text = error.message.lowercased()
            if ["password authentication failed", "no password supplied", "authentication failed", "no pg_hba.conf entry",
                "permission denied", "pg_hba.conf rejects", "role \""].contains(where: text.contains) {
                return .permissionDenied
            }
            if text.contains("database \""), text.contains("does not exist") { return .notFound }
            return .unavailable
        }
        return error.connectionLost ? .unavailable : .failed
    }
}
