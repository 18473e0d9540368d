import CoreSupport
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
        let civil = UTCDateTime(secondsSinceEpoch: seconds)
        return "\(civil.date) \(civil.time).\(zeroPadded(microseconds - seconds * 1_000_000, 6))"
    }

    /// ISO 8601 with `Z`, to the second: `2023-11-16T14:30:22Z`.
    public var iso8601: String { UTCDateTime(secondsSinceEpoch: seconds).iso8601 }

    /// `HH:MM` UTC, for status lines.
    public var hourMinute: String { UTCDateTime(secondsSinceEpoch: seconds).hourMinute }

    public var description: String { iso8601 }
}

extension UTCInstant: Codable {
    /// Encodes as ISO 8601 text (`2023-11-16T14:30:22Z`, with a fraction when there is one).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(iso8601)
    }

    /// Decodes ISO 8601 text, as ``StoredDateTime`` reads it.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let instant = StoredDateTime.parse(text: text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "'\(text)' is not an ISO 8601 datetime")
        }
        self = instant
    }
}
