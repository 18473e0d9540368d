import CoreSupport

/// Reads the datetimes the application stores.
///
/// Accepted, all as TEXT: `YYYY-MM-DD HH:MM:SS` with an optional fraction of 1 to 9 digits (SQLAlchemy writes
/// `2023-11-16 14:30:22.123456`), the same with `T` instead of the space, and optionally `Z` or an offset
/// `±HH:MM`, `±HHMM` or `±HH`. Without `Z` or an offset the value is UTC (the application's convention),
/// whatever the process's `TZ`. Anything else, including INTEGER and REAL values, is not guessed at: the
/// reason is returned so the row can be reported with its raw value.
public enum StoredDateTime {
    /// The instant a stored value names, or why it names none.
    public static func parse(_ value: StoredValue) -> Result<UTCInstant, DateTimeProblem> {
        switch value {
        case .null:
            return .failure(.null)
        case .integer, .real, .blob:
            return .failure(.notText(storageClass: value.storageClass))
        case .text(let text):
            return parse(text: text).map { .success($0) } ?? .failure(.unparseable)
        }
    }

    /// Parses datetime text; `nil` when it is not one of the accepted forms or not a real date and time.
    public static func parse(text: String) -> UTCInstant? {
        var text = text
        return text.withUTF8 { parse(bytes: $0) }
    }

    static func parse(bytes b: UnsafeBufferPointer<UInt8>) -> UTCInstant? {
        let n = b.count
        guard n >= 19, n <= 40 else { return nil }
        func digit(_ i: Int) -> Int64? {
            let c = b[i]
            return c >= 48 && c <= 57 ? Int64(c - 48) : nil
        }
        func number(_ i: Int, _ count: Int) -> Int64? {
            var value: Int64 = 0
            for k in i..<(i + count) {
                guard let d = digit(k) else { return nil }
                value = value * 10 + d
            }
            return value
        }
        guard let year = number(0, 4), b[4] == 45, let month = number(5, 2), b[7] == 45, let day = number(8, 2),
            b[10] == 32 || b[10] == 84 || b[10] == 116,
            let hour = number(11, 2), b[13] == 58, let minute = number(14, 2), b[16] == 58, let second = number(17, 2)
        else { return nil }
        guard year >= 1, (1...12).contains(month), day >= 1, day <= Int64(CivilCalendar.daysInMonth(year: Int(year), month: Int(month))),
            hour < 24, minute < 60, second < 60
        else { return nil }
        var i = 19
        var micros: Int64 = 0
        if i < n, b[i] == 46 {  // '.'
            i += 1
            var digits = 0
            while i < n, let d = digit(i) {
                if digits < 6 { micros = micros * 10 + d }
                digits += 1
                i += 1
            }
            guard (1...9).contains(digits) else { return nil }
            for _ in 0..<max(0, 6 - digits) { micros *= 10 }
        }
        var offsetSeconds: Int64 = 0
        if i < n {
            switch b[i] {
            case 90, 122:  // Z z
                i += 1
            case 43, 45:  // + -
                let sign: Int64 = b[i] == 43 ? 1 : -1
                i += 1
                guard i + 2 <= n, let hours = number(i, 2) else { return nil }
                i += 2
                var minutes: Int64 = 0
                if i < n {
                    if b[i] == 58 { i += 1 }
                    guard i + 2 <= n, let m = number(i, 2) else { return nil }
                    minutes = m
                    i += 2
                }
                guard hours <= 14, minutes < 60 else { return nil }
                offsetSeconds = sign * (hours * 3600 + minutes * 60)
            default:
                return nil
            }
        }
        guard i == n else { return nil }
        let days = Int64(CivilCalendar.daysSinceEpoch(year: Int(year), month: Int(month), day: Int(day)))
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offsetSeconds
        return UTCInstant(microseconds: seconds * 1_000_000 + micros)
    }
}

/// Why a stored datetime names no instant.
public enum DateTimeProblem: Error, Sendable, Hashable, CustomStringConvertible {
    /// The value is NULL.
    case null
    /// The value is not TEXT (e.g. an INTEGER: unix time or something else is not guessed at).
    case notText(storageClass: String)
    /// The text is not one of the accepted forms.
    case unparseable

    public var description: String {
        switch self {
        case .null:
            return "is NULL"
        case .notText(let storageClass):
            return "is \(storageClass == "INTEGER" ? "an" : "a") \(storageClass), not datetime text; the application writes 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC)"
        case .unparseable:
            return "is not a datetime the application writes ('YYYY-MM-DD HH:MM:SS.ffffff' UTC, or ISO 8601 with T, Z or an offset)"
        }
    }
}
