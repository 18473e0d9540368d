#if canImport(Glibc)
import Glibc
#endif

/// `CLOCK_MONOTONIC`: the system-wide clock that never jumps, the one systemd's `MONOTONIC_USEC=` refers to.
package enum MonotonicClock {
    /// Now, in nanoseconds.
    package static func nanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }

    /// Now, in microseconds.
    package static func microseconds() -> UInt64 { nanoseconds() / 1_000 }

    /// Now, in seconds.
    package static func seconds() -> Double { Double(nanoseconds()) / 1e9 }
}
