import Foundation
import GRDB
import GRDBSQLite

/// The SQL date functions over ``StoredDateTime``'s parser, registered on every connection through the C API.
extension SQLiteJobStore {
    /// `export_cleanup_later(value, cutoff)`: 1 when `value` is text that ``StoredDateTime`` reads as an instant
    /// after `cutoff` (microseconds since 1970), else 0. SQLite's own `julianday()` is not used: it returns NULL
    /// for forms the application writes (`-0800`, `+05`), which would hide due rows, and accepts forms the policy
    /// rejects (`2023-02-30`, `24:00:00`), which would hide rows that must be reported.
    ///
    /// Registered through the C API and parsing SQLite's own bytes: no `DatabaseValue` or `String` per call (GRDB's
    /// `DatabaseFunction` made one of each per row, most of the cost of a sweep with nothing due). The text is
    /// taken whole, as the store reads it for the policy (its exact bytes), so SQL and the policy see the same value:
    /// an embedded NUL or invalid UTF-8 fails to parse either way (the accepted forms are ASCII).
    static let laterFunction: @convention(c) (OpaquePointer?, Int32, UnsafeMutablePointer<OpaquePointer?>?) -> Void = { context, _, arguments in
        guard let arguments, sqlite3_value_type(arguments[1]) == SQLITE_INTEGER, let instant = parsedText(arguments[0]) else {
            sqlite3_result_int(context, 0)
            return
        }
        sqlite3_result_int(context, instant.microseconds > sqlite3_value_int64(arguments[1]) ? 1 : 0)
    }

    /// `export_cleanup_readable(value)`: 1 when `value` is text that ``StoredDateTime`` reads, else 0.
    static let readableFunction: @convention(c) (OpaquePointer?, Int32, UnsafeMutablePointer<OpaquePointer?>?) -> Void = { context, _, arguments in
        sqlite3_result_int(context, arguments.flatMap { parsedText($0[0]) } == nil ? 0 : 1)
    }

    /// The instant a TEXT value names, from all of its bytes, as ``StoredDateTime/parse(text:)`` reads it.
    static func parsedText(_ value: OpaquePointer?) -> UTCInstant? {
        guard sqlite3_value_type(value) == SQLITE_TEXT, let text = sqlite3_value_text(value) else { return nil }
        return StoredDateTime.parse(bytes: UnsafeBufferPointer(start: text, count: Int(sqlite3_value_bytes(value))))
    }

    /// Registers the SQL functions on a connection.
    static func addFunctions(_ db: Database) throws {
        let flags = SQLITE_UTF8 | SQLITE_DETERMINISTIC
        for (name, count, function) in [("export_cleanup_later", Int32(2), laterFunction), ("export_cleanup_readable", 1, readableFunction),
                                         ("export_cleanup_instant", 1, instantFunction)] {
            let code = sqlite3_create_function_v2(db.sqliteConnection, name, count, flags, nil, function, nil, nil, nil)
            try check(code, db)
        }
    }
}
