import CoreSupport
import Glibc
import Testing

struct CivilCalendarTests {
    @Test func formatsInUTC() {
        #expect(UTCDateTime(secondsSinceEpoch: 1_795_741_323).iso8601 == "2026-11-27T01:02:03Z")
        #expect(UTCDateTime(secondsSinceEpoch: 0).iso8601 == "1970-01-01T00:00:00Z")
        #expect(UTCDateTime(secondsSinceEpoch: -1).iso8601 == "1969-12-31T23:59:59Z")
        #expect(UTCDateTime(secondsSinceEpoch: 1_700_145_022).compact == "20231116_143022")
        #expect(UTCDateTime(secondsSinceEpoch: 1_700_145_022).hourMinute == "14:30")
        #expect(UTCDateTime(secondsSinceEpoch: 253_402_300_799).iso8601 == "9999-12-31T23:59:59Z")
    }

    @Test("agrees with gmtime_r", arguments: [Int64(-86_400 * 366 * 400), -1, 0, 951_782_400, 1_709_208_000, 4_107_542_400, 253_402_300_799])
    func agreesWithGmtime(seconds: Int64) {
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        let civil = UTCDateTime(secondsSinceEpoch: seconds)
        #expect([civil.year, civil.month, civil.day, civil.hour, civil.minute, civil.second]
            == [Int64(parts.tm_year) + 1900, Int64(parts.tm_mon) + 1, Int64(parts.tm_mday), Int64(parts.tm_hour),
                Int64(parts.tm_min), Int64(parts.tm_sec)])
    }

    @Test func daysRoundTrip() {
        for days in stride(from: Int64(-800_000), through: 3_000_000, by: 997) {
            let date = CivilCalendar.date(daysSinceEpoch: days)
            #expect(CivilCalendar.daysSinceEpoch(year: Int(date.year), month: Int(date.month), day: Int(date.day)) == Int(days))
            #expect(date.day <= Int64(CivilCalendar.daysInMonth(year: Int(date.year), month: Int(date.month))))
        }
        #expect(CivilCalendar.daysInMonth(year: 2000, month: 2) == 29)
        #expect(CivilCalendar.daysInMonth(year: 1900, month: 2) == 28)
        #expect(CivilCalendar.daysInMonth(year: 2024, month: 2) == 29)
    }
}

struct PaddingTests {
    @Test func padsLikePrintf() {
        #expect(zeroPadded(7, 2) == "07")
        #expect(zeroPadded(123, 2) == "123")
        #expect(zeroPadded(-1, 4) == "-001")
        #expect(zeroPadded(UInt8(5), 3) == "005")
        #expect("ab".leftPadded(4) == "00ab")
        #expect("ab".leftPadded(4, with: " ") == "  ab")
        #expect(octal(0o750) == "0750")
        #expect(octal(0o7) == "0007")
        #expect(octal(0o4755) == "04755")
    }
}

struct SystemTests {
    @Test func namesErrnoValues() {
        #expect(errnoName(EACCES) == "EACCES")
        #expect(errnoName(EWOULDBLOCK) == "EWOULDBLOCK")
        #expect(errnoName(9999) == "errno 9999")
    }

    @Test func writesEverythingAndReportsErrno() {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        defer { close(fds[0]) }
        let text = String(repeating: "x", count: 10_000)
        #expect(writeAll(fd: fds[1], text) == 0)
        close(fds[1])
        var total = 0
        var buffer = [UInt8](repeating: 0, count: 4096)
        while case let count = read(fds[0], &buffer, buffer.count), count > 0 { total += count }
        #expect(total == 10_000)
        #expect(writeAll(fd: -1, "x") == EBADF)
        let full = open("/dev/full", O_WRONLY)
        defer { close(full) }
        #expect(writeAll(fd: full, "x") == ENOSPC)
        #expect(!isSocket(fd: full))
    }

    @Test func monotonicClockAdvances() {
        let first = MonotonicClock.nanoseconds()
        let second = MonotonicClock.microseconds()
        #expect(second >= first / 1_000)
        #expect(MonotonicClock.seconds() > 0)
    }
}
