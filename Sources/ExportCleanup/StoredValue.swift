import CoreSupport

/// A column value exactly as the database stores it: its storage class and content.
///
/// Jobs keep their timestamps and `file_path` in this raw form, so that decisions can report the raw value and
/// compare-and-set updates can match it byte for byte.
public enum StoredValue: Sendable, Hashable, CustomStringConvertible, ExpressibleByStringLiteral {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])

    /// A TEXT value.
    public init(stringLiteral value: String) { self = .text(value) }

    /// The text, when the value is TEXT.
    public var text: String? {
        if case .text(let value) = self { return value }
        return nil
    }

    /// Whether the value is NULL.
    public var isNull: Bool { self == .null }

    /// The storage class's name as SQL says it: `NULL`, `INTEGER`, `REAL`, `TEXT`, `BLOB`.
    public var storageClass: String {
        switch self {
        case .null: return "NULL"
        case .integer: return "INTEGER"
        case .real: return "REAL"
        case .text: return "TEXT"
        case .blob: return "BLOB"
        }
    }

    /// The value as a report shows it: text quoted, others as SQL literals.
    public var description: String {
        switch self {
        case .null: return "NULL"
        case .integer(let value): return String(value)
        case .real(let value): return String(value)
        case .text(let value): return "'\(value)'"
        case .blob(let bytes): return "X'" + bytes.map { String($0, radix: 16).uppercased().leftPadded(2) }.joined() + "'"
        }
    }
}
