import Foundation
package import GRDB
import GRDBSQLite

/// Binding and stepping through the C API: exact bytes and storage classes, no GRDB boxing per value.
extension SQLiteJobStore {
    static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    static func bind(text: String, _ handle: OpaquePointer, _ index: Int32, _ db: Database) throws {
        // The byte count is given, so a NUL inside the text is bound too (GRDB binds a String only up to its first NUL).
        try check(sqlite3_bind_text(handle, index, text, Int32(text.utf8.count), transient), db)
    }

    static func bind(_ value: StoredValue, _ handle: OpaquePointer, _ index: Int32, _ db: Database) throws {
        let code: Int32
        switch value {
        case .null: code = sqlite3_bind_null(handle, index)
        case .integer(let value): code = sqlite3_bind_int64(handle, index, value)
        case .real(let value): code = sqlite3_bind_double(handle, index, value)
        case .text(let text):
            try bind(text: text, handle, index, db)
            return
        case .blob(let bytes):
            code = bytes.withUnsafeBytes { sqlite3_bind_blob(handle, index, $0.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32($0.count), transient) }
        }
        try check(code, db)
    }

    static func check(_ code: Int32, _ db: Database) throws {
        guard code == SQLITE_OK else { throw error(code, db) }
    }

    static func error(_ code: Int32, _ db: Database) -> DatabaseError {
        DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(db.sqliteConnection)))
    }
}


extension StoredValue {
    /// The value as GRDB binds it, with the same storage class.
    package var databaseValue: DatabaseValue {
        switch self {
        case .null: return .null
        case .integer(let value): return value.databaseValue
        case .real(let value): return value.databaseValue
        case .text(let value): return value.databaseValue
        case .blob(let bytes): return Data(bytes).databaseValue
        }
    }

    /// A value as SQLite stored it.
    init(_ value: DatabaseValue) {
        switch value.storage {
        case .null: self = .null
        case .int64(let value): self = .integer(value)
        case .double(let value): self = .real(value)
        case .string(let value): self = .text(value)
        case .blob(let data): self = .blob(Array(data))
        }
    }
}

