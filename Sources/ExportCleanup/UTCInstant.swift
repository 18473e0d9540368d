#if canImport(Glibc)
import Glibc
#endif

/// A moment in time, in whole microseconds since 1970-01-01 UTC.
///
/// Integer microseconds make the due rules exact at their edges (no floating-point rounding) and match the
/// precision of the application's `YYYY-MM-DD HH:MM:SS.ffffff` text.
public struct UTCInstant: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Microseconds since 1970-01-01T00:00:00Z.
    public var microseconds: Int64

    /// An instant from microseconds since 1970.
    public init(microseconds: Int64) { self.microseconds = microseconds }

    /// An instant from whole seconds since 1970.
    public init(seconds: Int64) { self.microseconds = seconds * 1_000_000 }

    /// The current wall-clock time (`CLOCK_REALTIME`).
    public static func now() -> UTCInstant {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return UTCInstant(microseconds: Int64(spec.tv_sec) * 1_000_000 + Int64(spec.tv_nsec) / 1000)
    }

    /// Whole seconds since 1970, rounded down.
    public var seconds: Int64 { microseconds >= 0 ? microseconds / 1_000_000 : (microseconds - 999_999) / 1_000_000 }

    /// This instant moved by `microseconds`, saturating instead of overflowing.
    public func adding(microseconds delta: Int64) -> UTCInstant {
        let (sum, overflow) = microseconds.addingReportingOverflow(delta)
        return UTCInstant(microseconds: overflow ? (delta > 0 ? .max : .min) : sum)
    }

    public static func < (lhs: UTCInstant, rhs: UTCInstant) -> Bool { lhs.microseconds < rhs.microseconds }

    /// The application's format: `2023-11-16 14:30:22.123456` (UTC, no offset).
    public var databaseText: String {
        let (date, time, micros) = civil()
        return "\(date) \(time).\(String(micros).leftPadded(6))"
    }

    /// ISO 8601 with `Z`, to the second: `2023-11-16T14:30:22Z`.
    public var iso8601: String {
        let (date, time, _) = civil()
        return "\(date)T\(time)Z"
    }

    /// `HH:MM` UTC, for status lines.
    public var hourMinute: String { String(civil().time.prefix(5)) }

    /// The Julian day number SQLite's `julianday()` gives for this instant.
    public var julianDay: Double { Double(microseconds) / 86_400_000_000 + 2_440_587.5 }

    public var description: String { iso8601 }

    private func civil() -> (date: String, time: String, micros: Int64) {
        let secs = seconds
        let micros = microseconds - secs * 1_000_000
        var days = secs >= 0 ? secs / 86_400 : (secs - 86_399) / 86_400
        let secondOfDay = secs - days * 86_400
        // Howard Hinnant's civil_from_days.
        days += 719_468
        let era = (days >= 0 ? days : days - 146_096) / 146_097
        let dayOfEra = days - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        let date = "\(String(year).leftPadded(4))-\(String(month).leftPadded(2))-\(String(day).leftPadded(2))"
        let time = "\(String(secondOfDay / 3600).leftPadded(2)):\(String(secondOfDay / 60 % 60).leftPadded(2)):\(String(secondOfDay % 60).leftPadded(2))"
        return (date, time, micros)
    }
}
