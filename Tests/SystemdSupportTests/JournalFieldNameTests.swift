import Logging
import SystemdSupport
import Testing

struct JournalFieldNameTests {
    @Test(arguments: [
        ("export.job_id", "EXPORT_JOB_ID"),
        ("bytes", "BYTES"),
        ("message_id", "MESSAGE_ID"),
        ("EXPORT_FILE", "EXPORT_FILE"),
        ("sweep-id", "SWEEP_ID"),
        ("error.message", "ERROR_MESSAGE"),
        ("a b", "A_B"),
        ("_private", "PRIVATE"),
        ("__x", "X"),
        ("2fa", "META_2FA"),
        ("", "META_"),
        ("___", "META_"),
        ("priority", "META_PRIORITY"),
        ("message", "META_MESSAGE"),
        ("syslog_identifier", "META_SYSLOG_IDENTIFIER"),
        ("code.file", "META_CODE_FILE"),
        ("größe", "GR__E"),  // one `_` per non-ASCII scalar
        ("日本", "META_"),  // "__", stripped, then prefixed
        (String(repeating: "k", count: 80), String(repeating: "K", count: 64)),
    ])
    func mapsKeys(key: String, expected: String) {
        let name = JournalFieldName.forMetadataKey(key)
        #expect(name == expected)
        #expect(isValidFieldName(name), "\(name) is not a valid field name")
    }

    @Test(arguments: ["MESSAGE", "A1_B", "X"])
    func acceptsValidNames(name: String) {
        #expect(isValidFieldName(name))
    }

    @Test(arguments: ["", "_PID", "1A", "a", "A-B", "A.B", String(repeating: "A", count: 65)])
    func rejectsInvalidNames(name: String) {
        #expect(!isValidFieldName(name))
    }
}

struct SyslogPriorityTests {
    @Test(arguments: [
        (Logger.Level.trace, Int32(7)), (.debug, 7), (.info, 6), (.notice, 5), (.warning, 4), (.error, 3), (.critical, 2),
    ])
    func mapsLevels(level: Logger.Level, expected: Int32) {
        #expect(SyslogPriority(level).rawValue == expected)
        #expect(SyslogPriority(level).linePrefix == "<\(expected)>")
    }
}

/// Whether `name` is a field name a client may send: upper-case ASCII letters, digits and `_`, starting with a
/// letter, at most 64 characters (the reserved names aside).
func isValidFieldName(_ name: String) -> Bool {
    guard let first = name.utf8.first, name.utf8.count <= JournalFieldName.maximumLength,
        first >= UInt8(ascii: "A") && first <= UInt8(ascii: "Z")
    else { return false }
    return name.utf8.allSatisfy {
        ($0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z")) || ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9"))
            || $0 == UInt8(ascii: "_")
    }
}
