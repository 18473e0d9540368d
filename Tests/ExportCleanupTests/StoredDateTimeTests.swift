import ExportCleanup
import Foundation
import TestSupport
import Testing

/// 2023-11-16 14:30:22 UTC.
private let base: Int64 = 1_700_145_022

private func micros(_ seconds: Int64, _ fraction: Int64 = 0) -> Int64 { seconds * 1_000_000 + fraction }

/// Accepted forms and the instant each names.
private let accepted: [(String, Int64)] = [
    ("2023-11-16 14:30:22.123456", micros(base, 123_456)),  // SQLAlchemy
    ("2023-11-16 14:30:22", micros(base)),
    ("2023-11-16 14:30:22.1", micros(base, 100_000)),
    ("2023-11-16 14:30:22.12", micros(base, 120_000)),
    ("2023-11-16 14:30:22.123", micros(base, 123_000)),
    ("2023-11-16 14:30:22.1234", micros(base, 123_400)),
    ("2023-11-16 14:30:22.12345", micros(base, 123_450)),
    ("2023-11-16 14:30:22.000001", micros(base, 1)),
    ("2023-11-16 14:30:22.1234567", micros(base, 123_456)),  // beyond microseconds: truncated
    ("2023-11-16 14:30:22.12345678", micros(base, 123_456)),
    ("2023-11-16 14:30:22.123456789", micros(base, 123_456)),
    ("2023-11-16 14:30:22.999999999", micros(base, 999_999)),
    ("2023-11-16T14:30:22", micros(base)),
    ("2023-11-16T14:30:22.5", micros(base, 500_000)),
    ("2023-11-16T14:30:22Z", micros(base)),
    ("2023-11-16 14:30:22Z", micros(base)),
    ("2023-11-16T14:30:22.123456Z", micros(base, 123_456)),
    ("2023-11-16T20:00:22+05:30", micros(base)),
    ("2023-11-16T20:00:22.25+05:30", micros(base, 250_000)),
    ("2023-11-16T06:30:22-0800", micros(base)),
    ("2023-11-16 06:30:22-08:00", micros(base)),
    ("2023-11-16T19:30:22+05", micros(base)),
    ("2023-11-16T14:30:22+00:00", micros(base)),
    ("2023-11-16T14:30:22-00", micros(base)),
    ("2023-11-17T00:30:22+10:00", micros(base)),  // the local date is the next day
    ("2023-11-16t14:30:22z", micros(base)),
]

@Suite("stored datetimes")
struct StoredDateTimeTests {
    @Test("every accepted form names the right instant", arguments: accepted)
    func acceptedForms(text: String, expected: Int64) {
        #expect(StoredDateTime.parse(text: text)?.microseconds == expected)
        #expect(StoredDateTime.parse(.text(text)) == .success(UTCInstant(microseconds: expected)))
    }

    @Test("calendar edges: leap days, month ends, year ends, before 1970")
    func calendar() {
        #expect(StoredDateTime.parse(text: "2024-02-29 00:00:00")?.microseconds == micros(1_709_164_800))
        #expect(StoredDateTime.parse(text: "2000-02-29 12:00:00")?.microseconds == micros(951_825_600))
        #expect(StoredDateTime.parse(text: "2023-12-31 23:59:59.999999")?.microseconds == micros(1_704_067_199, 999_999))
        #expect(StoredDateTime.parse(text: "1970-01-01 00:00:00")?.microseconds == 0)
        #expect(StoredDateTime.parse(text: "1969-12-31 23:59:59.5")?.microseconds == -500_000)
        #expect(StoredDateTime.parse(text: "2023-11-16 00:30:00+01:00")?.microseconds == micros(1_700_091_000))  // previous UTC day
    }

    @Test("rejected text", arguments: [
        "2023-11-16",  // date only
        "2023-11-16 14:30",  // no seconds
        "2023-11-16 24:00:00",
        "2023-11-16 14:60:00",
        "2023-11-16 14:30:60",
        "2023-02-30 00:00:00",
        "2023-02-29 00:00:00",  // not a leap year
        "1900-02-29 00:00:00",  // not a leap year either
        "2023-04-31 00:00:00",
        "2023-13-01 00:00:00",
        "2023-00-10 00:00:00",
        "2023-11-00 00:00:00",
        "0000-01-01 00:00:00",
        "2023-11-16 14:30:22 junk",
        "2023-11-16 14:30:22Zjunk",
        "2023-11-16 14:30:22.",  // fraction without digits
        "2023-11-16 14:30:22.1234567890",  // 10 fraction digits
        "2023-11-16 14:30:22 ",  // trailing space
        " 2023-11-16 14:30:22",  // leading space
        "2023-11-16  14:30:22",
        "2023-11-16 14:30:22 +05:00",  // space before the offset
        "2023-11-16 14:30:22+5",
        "2023-11-16 14:30:22+05:3",
        "2023-11-16 14:30:22+053",
        "2023-11-16 14:30:22+15:00",  // beyond ±14 h
        "2023-11-16 14:30:22+05:60",
        "2023-11-16 14:30:22+",
        "2023-11-16 14:30:22ZZ",
        "2023-11-16X14:30:22",
        "2023/11/16 14:30:22",
        "23-11-16 14:30:22",
        "2023-1-16 14:30:22",
        "２０２３-11-16 14:30:22",  // non-ASCII digits
        "1700145022",
        "yesterday",
        "",
    ])
    func rejected(text: String) {
        #expect(StoredDateTime.parse(text: text) == nil)
        #expect(StoredDateTime.parse(.text(text)) == .failure(.unparseable))
    }

    @Test("values that are not TEXT are not guessed at")
    func storageClasses() {
        #expect(StoredDateTime.parse(.null) == .failure(.null))
        #expect(StoredDateTime.parse(.integer(1_700_145_022)) == .failure(.notText(storageClass: "INTEGER")))
        #expect(StoredDateTime.parse(.real(2_460_265.1)) == .failure(.notText(storageClass: "REAL")))
        #expect(StoredDateTime.parse(.blob(Array("2023-11-16 14:30:22".utf8))) == .failure(.notText(storageClass: "BLOB")))
        #expect(DateTimeProblem.notText(storageClass: "INTEGER").description.hasPrefix("is an INTEGER, not datetime text"))
        #expect(DateTimeProblem.notText(storageClass: "REAL").description.hasPrefix("is a REAL, not datetime text"))
        #expect(DateTimeProblem.null.description == "is NULL")
    }

    @Test("UTCInstant text round-trips through the parser")
    func roundTrip() {
        let instants: [Int64] = [0, 1, 999_999, micros(base, 123_456), micros(base), -1, -1_000_000, -500_000,
                                 micros(951_825_600, 7), micros(253_402_300_799, 999_999), micros(-62_135_596_800)]
        for value in instants {
            let instant = UTCInstant(microseconds: value)
            #expect(StoredDateTime.parse(text: instant.databaseText) == instant, "\(instant.databaseText)")
            #expect(StoredDateTime.parse(text: instant.iso8601) == UTCInstant(seconds: instant.seconds), "\(instant.iso8601)")
        }
        let sample = UTCInstant(microseconds: micros(base, 123_456))
        #expect(sample.databaseText == "2023-11-16 14:30:22.123456")
        #expect(sample.iso8601 == "2023-11-16T14:30:22Z")
        #expect(sample.hourMinute == "14:30")
        #expect(UTCInstant(microseconds: micros(base, 7)).databaseText == "2023-11-16 14:30:22.000007")
        #expect(UTCInstant(microseconds: -1).databaseText == "1969-12-31 23:59:59.999999")
        #expect(UTCInstant(microseconds: -1).seconds == -1)
        #expect(UTCInstant(seconds: 0).iso8601 == "1970-01-01T00:00:00Z")
        #expect(UTCInstant(microseconds: .max - 1).adding(microseconds: 10).microseconds == .max)
        #expect(UTCInstant(microseconds: .min + 1).adding(microseconds: -10).microseconds == .min)
    }
}
