/// The service watchdog requested by systemd (`WatchdogSec=`), read from `WATCHDOG_USEC` and `WATCHDOG_PID`.
///
/// Parsing is pure: the caller passes the variables' values, e.g. from `ProcessInfo.processInfo.environment`.
/// The rules follow `sd_watchdog_enabled(3)`:
/// - `WATCHDOG_USEC` must be a decimal integer of microseconds, greater than zero and not `UINT64_MAX`
///   (systemd's "infinity"); no sign, no spaces.
/// - `WATCHDOG_PID`, when set, must be a decimal process id equal to the own one; when it names another
///   process (a parent that forked us) or cannot be parsed, the watchdog is not ours.
///
/// Ping every ``pingIntervalMicroseconds`` (half the timeout) with ``SystemdNotifier/watchdogPing()``.
public struct WatchdogConfiguration: Sendable, Equatable, CustomStringConvertible {
    /// The watchdog timeout, in microseconds: systemd acts when no ping arrives for this long.
    public let timeoutMicroseconds: UInt64

    /// Creates a configuration for a known timeout.
    ///
    /// - Parameter timeoutMicroseconds: The timeout; `nil` is returned for 0 and `UInt64.max`.
    public init?(timeoutMicroseconds: UInt64) {
        guard timeoutMicroseconds > 0, timeoutMicroseconds != UInt64.max else { return nil }
        self.timeoutMicroseconds = timeoutMicroseconds
    }

    /// Parses the watchdog environment variables.
    ///
    /// - Parameters:
    ///   - watchdogUSec: The value of `WATCHDOG_USEC`, or `nil` when unset.
    ///   - watchdogPID: The value of `WATCHDOG_PID`, or `nil` when unset.
    ///   - ownPID: This process's id (`getpid()`).
    /// - Returns: The configuration, or `nil` when the watchdog is off, the values are invalid, or it is meant
    ///   for another process.
    public init?(watchdogUSec: String?, watchdogPID: String?, ownPID: Int32) {
        guard let watchdogUSec, let usec = Self.parseDecimal(watchdogUSec) else { return nil }
        if let watchdogPID {
            guard let pid = Self.parseDecimal(watchdogPID), pid > 0, pid == UInt64(clamping: ownPID) else {
                return nil
            }
        }
        self.init(timeoutMicroseconds: usec)
    }

    /// How often to ping: half the timeout (at least one microsecond), as systemd recommends.
    public var pingIntervalMicroseconds: UInt64 {
        max(timeoutMicroseconds / 2, 1)
    }

    /// A short description, e.g. `watchdog 30000000 µs (ping every 15000000 µs)`.
    public var description: String {
        "watchdog \(timeoutMicroseconds) µs (ping every \(pingIntervalMicroseconds) µs)"
    }

    /// A non-empty run of ASCII digits that fits in `UInt64`.
    static func parseDecimal(_ text: String) -> UInt64? {
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
            return nil
        }
        return UInt64(text, radix: 10)
    }
}
