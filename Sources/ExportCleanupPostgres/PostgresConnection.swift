import CLibpq
import Foundation

/// An error of libpq or of the server: the server's SQLSTATE when there is one, and the message with any password
/// of the connection string removed.
public struct PostgresError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The five-character SQLSTATE (`55P03`, `28P01`, ...), when the server sent one.
    public var sqlState: String?
    /// The message (never holds the password).
    public var message: String
    /// Whether the connection is gone (server restarted or unreachable, network lost): nothing more can be done on it.
    public var connectionLost: Bool
    /// Whether libpq itself could not be loaded (not installed): nothing was tried.
    public var libraryMissing: Bool

    /// Creates an error.
    public init(sqlState: String? = nil, message: String, connectionLost: Bool = false, libraryMissing: Bool = false) {
        self.sqlState = sqlState
        self.message = message
        self.connectionLost = connectionLost
        self.libraryMissing = libraryMissing
    }

    public var description: String { sqlState.map { "\(message) (SQLSTATE \($0))" } ?? message }
}

/// One libpq connection (`PGconn`), blocking, text results. Not thread-safe: use it from one thread at a time.
///
/// Connection settings come from the connection string, then from libpq's own sources as for every PostgreSQL
/// tool (`PG*` environment variables, `PGSERVICE` / `pg_service.conf`, `.pgpass` or `PGPASSFILE`, TLS files).
/// Closed on deinit, which also ends the session's advisory locks.
public final class PostgresConnection {
    /// The connection string it was opened with (show it masked).
    public let target: PostgresConnectionString
    private let handle: OpaquePointer

    /// Connects.
    /// - Parameters:
    ///   - target: the connection string (handed to libpq with `expand_dbname`).
    ///   - defaults: keyword values used only when neither the string nor libpq's defaults (environment, service
    ///     file) set them, e.g. `connect_timeout`.
    ///   - overrides: keyword values that win over the string, e.g. `application_name`, `client_encoding`.
    /// - Throws: ``PostgresError`` with libpq's message (password removed); ``PostgresError/connectionLost`` is set.
    public init(_ target: PostgresConnectionString, defaults: [(String, String)] = [], overrides: [(String, String)] = []) throws(PostgresError) {
        self.target = target
        if let problem = export_cleanup_libpq_load() {
            throw PostgresError(message: "PostgreSQL needs libpq, which cannot be loaded (\(String(cString: problem))): install it "
                                    + "(Debian: apt install libpq5)", libraryMissing: true)
        }
        let given = Self.keywordsSet(in: target.rawValue)
        let fromLibpq = Self.defaultsSet()
        let effectiveDefaults = defaults.filter { !given.contains($0.0) && !fromLibpq.contains($0.0) }
        // libpq processes keywords in order: defaults, then the expanded string, then the overrides.
        let pairs = effectiveDefaults + [("dbname", target.rawValue)] + overrides
        let connection: OpaquePointer? = withCStrings(pairs.map(\.0)) { keywords in
            withCStrings(pairs.map(\.1)) { values in PQconnectdbParams(keywords, values, 1) }
        }
        guard let connection else { throw PostgresError(message: "out of memory while connecting", connectionLost: true) }
        guard PQstatus(connection) == CONNECTION_OK else {
            let message = target.redact(Self.trimmed(String(cString: PQerrorMessage(connection))))
            let needsPassword = PQconnectionNeedsPassword(connection) == 1
            PQfinish(connection)
            throw PostgresError(sqlState: needsPassword ? "28P01" : nil, message: message, connectionLost: true)
        }
        handle = connection
        // Notices (e.g. "relation already exists, skipping") are not for stderr.
        PQsetNoticeProcessor(handle, { _, _ in }, nil)
    }

    deinit { PQfinish(handle) }

    /// The server's backend process id of this session.
    public var backendPID: Int32 { PQbackendPID(handle) }

    /// The server's version as a number, e.g. 150018.
    public var serverVersion: Int32 { PQserverVersion(handle) }

    /// Runs one statement with text parameters (`$1`, `$2`, ...; `nil` is NULL) and returns its rows as text.
    /// - Throws: ``PostgresError`` with the SQLSTATE; ``PostgresError/connectionLost`` when the connection is gone.
    @discardableResult
    public func query(_ sql: String, _ parameters: [String?] = []) throws(PostgresError) -> PostgresRows {
        let result: OpaquePointer?
        if parameters.isEmpty {
            result = PQexecParams(handle, sql, 0, nil, nil, nil, nil, 0)
        } else {
            var cStrings: [UnsafeMutablePointer<CChar>?] = parameters.map { $0.flatMap { strdup($0) } }
            defer { cStrings.forEach { free($0) } }
            result = cStrings.withUnsafeMutableBufferPointer { buffer in
                buffer.withMemoryRebound(to: UnsafePointer<CChar>?.self) { values in
                    PQexecParams(handle, sql, Int32(parameters.count), nil, values.baseAddress, nil, nil, 0)
                }
            }
        }
        guard let result else {
            throw PostgresError(message: target.redact(Self.trimmed(String(cString: PQerrorMessage(handle)))),
                                connectionLost: PQstatus(handle) != CONNECTION_OK)
        }
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK:
            return PostgresRows(result)
        default:
            let sqlState = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
            var message = PQresultErrorField(result, Int32(UInt8(ascii: "M"))).map { String(cString: $0) }
                ?? Self.trimmed(String(cString: PQresultErrorMessage(result)))
            if let detail = PQresultErrorField(result, Int32(UInt8(ascii: "D"))).map({ String(cString: $0) }) { message += " (\(detail))" }
            let lost = PQstatus(handle) != CONNECTION_OK || sqlState.map { $0.hasPrefix("08") || $0.hasPrefix("57P") } == true
            throw PostgresError(sqlState: sqlState, message: target.redact(message.isEmpty ? "the connection was lost" : message), connectionLost: lost)
        }
    }

    /// Runs several statements separated by `;` (no parameters), e.g. a session's `SET`s or a DDL script.
    public func execute(_ sql: String) throws(PostgresError) {
        guard let result = PQexec(handle, sql) else {
            throw PostgresError(message: target.redact(Self.trimmed(String(cString: PQerrorMessage(handle)))), connectionLost: PQstatus(handle) != CONNECTION_OK)
        }
        defer { PQclear(result) }
        let status = PQresultStatus(result)
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_EMPTY_QUERY else {
            let sqlState = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
            let message = Self.trimmed(String(cString: PQresultErrorMessage(result)))
            throw PostgresError(sqlState: sqlState, message: target.redact(message.isEmpty ? "the connection was lost" : message),
                                connectionLost: PQstatus(handle) != CONNECTION_OK || sqlState?.hasPrefix("08") == true)
        }
    }

    /// A text value as an SQL string literal (`'it''s'`), for the rare statement that takes no parameters (DDL).
    public static func literal(_ text: String) -> String { "'" + text.replacingAll("'", with: "''") + "'" }

    /// `"name"`, quoted as an SQL identifier.
    public static func identifier(_ name: String) -> String { "\"" + name.replacingAll("\"", with: "\"\"") + "\"" }

    /// A text array literal for a `$n::text[]` parameter: `{"a","b",NULL}` (built byte by byte: a batch's
    /// arrays hold tens of thousands of values).
    public static func arrayLiteral(_ values: [String?]) -> String {
        var bytes: [UInt8] = [UInt8(ascii: "{")]
        bytes.reserveCapacity(values.count * 32 + 2)
        for (index, value) in values.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            guard let value else {
                bytes += "NULL".utf8
                continue
            }
            bytes.append(UInt8(ascii: "\""))
            for byte in value.utf8 {
                if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { bytes.append(UInt8(ascii: "\\")) }
                bytes.append(byte)
            }
            bytes.append(UInt8(ascii: "\""))
        }
        bytes.append(UInt8(ascii: "}"))
        return String(decoding: bytes, as: UTF8.self)
    }

    // MARK: - Internals

    private static func trimmed(_ message: String) -> String {
        message.trimmingCharacters(in: .whitespacesAndNewlines).replacingAll("\n", with: "; ")
    }

    /// The keywords a connection string sets itself (none when libpq cannot parse it: it then reports why).
    private static func keywordsSet(in conninfo: String) -> Set<String> {
        var error: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(conninfo, &error) else {
            if let error { PQfreemem(error) }
            return []
        }
        defer { PQconninfoFree(options) }
        return keywords(options) { $0.val != nil }
    }

    /// The keywords libpq has a default for from the environment or a service file (`PQconndefaults`), besides
    /// its compiled-in defaults.
    private static func defaultsSet() -> Set<String> {
        guard let options = PQconndefaults() else { return [] }
        defer { PQconninfoFree(options) }
        return keywords(options) { option in
            guard let value = option.val else { return false }
            // A compiled-in default is not the environment's.
            guard let compiled = option.compiled else { return true }
            return strcmp(value, compiled) != 0 || option.envvar.map { getenv($0) != nil } == true
        }
    }

    private static func keywords(_ options: UnsafeMutablePointer<PQconninfoOption>, where include: (PQconninfoOption) -> Bool) -> Set<String> {
        var found: Set<String> = []
        var option = options
        while let keyword = option.pointee.keyword {
            if include(option.pointee) { found.insert(String(cString: keyword)) }
            option += 1
        }
        return found
    }
}

/// The rows of a result, as text (`nil` for NULL), copied out of libpq.
public struct PostgresRows: Sendable {
    /// The column names.
    public let columns: [String]
    /// The values, row by row.
    public let rows: [[String?]]
    /// The command's row count (`UPDATE 3` is 3), 0 when it has none.
    public let affected: Int

    init(_ result: OpaquePointer) {
        let columnCount = PQnfields(result)
        columns = (0..<columnCount).map { String(cString: PQfname(result, $0)) }
        let rowCount = PQntuples(result)
        var rows: [[String?]] = []
        rows.reserveCapacity(Int(rowCount))
        for row in 0..<rowCount {
            var values: [String?] = []
            values.reserveCapacity(Int(columnCount))
            for column in 0..<columnCount {
                if PQgetisnull(result, row, column) == 1 {
                    values.append(nil)
                } else {
                    let length = Int(PQgetlength(result, row, column))
                    let bytes = UnsafeRawPointer(PQgetvalue(result, row, column)!).assumingMemoryBound(to: UInt8.self)
                    values.append(String(decoding: UnsafeBufferPointer(start: bytes, count: length), as: UTF8.self))
                }
            }
            rows.append(values)
        }
        self.rows = rows
        affected = Int(String(cString: PQcmdTuples(result))) ?? 0
    }

    /// The first value of the first row.
    public var scalar: String? { rows.first?.first ?? nil }
}

/// Calls `body` with a NULL-terminated array of C strings.
private func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer { pointers.forEach { free($0) } }
    return pointers.withUnsafeBufferPointer { buffer in
        buffer.withMemoryRebound(to: UnsafePointer<CChar>?.self) { body($0.baseAddress!) }
    }
}
