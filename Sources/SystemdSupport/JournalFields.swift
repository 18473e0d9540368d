public import Logging

/// A syslog priority (`PRIORITY=` in the journal, `<N>` prefixes on a journal stream).
public enum SyslogPriority: Int32, Sendable, CaseIterable {
    /// 0, system is unusable.
    case emergency = 0
    /// 1, action must be taken immediately.
    case alert = 1
    /// 2, critical conditions.
    case critical = 2
    /// 3, error conditions.
    case error = 3
    /// 4, warning conditions.
    case warning = 4
    /// 5, normal but significant condition.
    case notice = 5
    /// 6, informational.
    case informational = 6
    /// 7, debug-level messages.
    case debug = 7

    /// The priority for a swift-log level: trace and debug → 7, info → 6, notice → 5, warning → 4,
    /// error → 3, critical → 2.
    public init(_ level: Logger.Level) {
        switch level {
        case .trace, .debug: self = .debug
        case .info: self = .informational
        case .notice: self = .notice
        case .warning: self = .warning
        case .error: self = .error
        case .critical: self = .critical
        }
    }

    /// The sd-daemon line prefix, `<N>`, understood by journald on a stream (`sd-daemon(3)`).
    public var linePrefix: String {
        "<\(rawValue)>"
    }
}

/// Turns swift-log metadata keys into valid journal field names.
///
/// A journal field name consists of upper-case ASCII letters, digits and underscores, does not start with a
/// digit or an underscore (those are trusted fields that journald sets itself) and has at most 64 characters.
/// The mapping is deterministic:
/// 1. ASCII letters are upper-cased; digits and `_` are kept; every other character (`.`, `-`, space,
///    non-ASCII, …) becomes `_`.
/// 2. Leading underscores are removed.
/// 3. A name that is then empty, starts with a digit, or equals a field the handler writes itself
///    (``reservedNames``) gets the prefix ``prefix`` (`META_`).
/// 4. The result is cut to 64 characters.
///
/// Examples: `request.id` → `REQUEST_ID`, `bytes` → `BYTES`, `message_id` → `MESSAGE_ID`,
/// `_private` → `PRIVATE`, `2fa` → `META_2FA`, `priority` → `META_PRIORITY`.
/// Two keys that map to the same name are both written; the journal keeps both values.
public enum JournalFieldName {
    /// The prefix that makes a name valid or distinct from the handler's own fields.
    public static let prefix = "META_"

    /// The longest field name journald accepts.
    public static let maximumLength = 64

    /// Fields that ``JournalLogHandler`` writes itself; metadata cannot override them.
    public static let reservedNames: Set<String> = [
        "MESSAGE", "PRIORITY", "SYSLOG_IDENTIFIER", "CODE_FILE", "CODE_LINE", "CODE_FUNC",
    ]

    /// The journal field name for a metadata key (see the type's documentation for the rules).
    public static func forMetadataKey(_ key: String) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(key.utf8.count)
        for byte in key.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                bytes.append(byte)
            case UInt8(ascii: "a")...UInt8(ascii: "z"):
                bytes.append(byte - 32)
            case 0x80...0xBF:
                // UTF-8 continuation byte: the scalar's lead byte already became one `_`.
                continue
            default:
                bytes.append(UInt8(ascii: "_"))
            }
        }
        let start = bytes.firstIndex(where: { $0 != UInt8(ascii: "_") }) ?? bytes.endIndex
        var name = String(decoding: bytes[start...], as: UTF8.self)
        if name.isEmpty || name.utf8.first.map({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) == true
            || reservedNames.contains(name)
        {
            name = prefix + name
        }
        if name.utf8.count > maximumLength {
            name = String(decoding: name.utf8.prefix(maximumLength), as: UTF8.self)
        }
        return name
    }
}
