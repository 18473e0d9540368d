import CoreSupport
internal import CSystemd
internal import Glibc

/// Sends service state notifications to the service manager (`sd_notify(3)`).
///
/// Each call sends one datagram to the socket named by `$NOTIFY_SOCKET` (libsystemd reads the
/// variable; it is never unset). When the variable is unset — the program does not run under systemd
/// with `Type=notify` — every call is a no-op that returns `false`. No call throws or traps.
///
/// ```swift
/// let notifier = SystemdNotifier()
/// notifier.ready()
/// notifier.status("Idle. Next run 13:00 UTC.")
/// ```
public struct SystemdNotifier: Sendable {
    /// Creates a notifier for the current process.
    public init() {}

    /// Sends `READY=1`: start-up (or a reload) is complete.
    ///
    /// - Returns: `true` when the message was delivered to the service manager.
    @discardableResult
    public func ready() -> Bool {
        send([("READY", "1")])
    }

    /// Sends `RELOADING=1` and `MONOTONIC_USEC=` (the current `CLOCK_MONOTONIC` time in microseconds)
    /// in one datagram, as `Type=notify-reload` requires. Send ``ready()`` when the reload is done.
    ///
    /// - Returns: `true` when the message was delivered to the service manager.
    @discardableResult
    public func reloading() -> Bool {
        send([("RELOADING", "1"), ("MONOTONIC_USEC", String(MonotonicClock.microseconds()))])
    }

    /// Sends `STOPPING=1`: the service is shutting down.
    ///
    /// - Returns: `true` when the message was delivered to the service manager.
    @discardableResult
    public func stopping() -> Bool {
        send([("STOPPING", "1")])
    }

    /// Sends `STATUS=`, a one-line description of what the service is doing (shown by `systemctl status`).
    ///
    /// - Parameter text: The status text. Line breaks are replaced by spaces, as the protocol is line-based.
    /// - Returns: `true` when the message was delivered to the service manager.
    @discardableResult
    public func status(_ text: String) -> Bool {
        send([("STATUS", Self.singleLine(text))])
    }

    /// Sends `WATCHDOG=1`, the keep-alive ping for `WatchdogSec=`.
    ///
    /// - Returns: `true` when the message was delivered to the service manager.
    @discardableResult
    public func watchdogPing() -> Bool {
        send([("WATCHDOG", "1")])
    }

    /// Reports a failure: `STATUS=` and `ERRNO=` in one message.
    ///
    /// - Parameters:
    ///   - code: The `errno`-style error code (positive).
    ///   - status: The status text. Line breaks are replaced by spaces.
    /// - Returns: `true` when the message was delivered to the service manager.
    @discardableResult
    public func errno(_ code: Int32, status: String) -> Bool {
        send([("STATUS", Self.singleLine(status)), ("ERRNO", String(code))])
    }

    /// Sends arbitrary assignments, joined by newlines, in one datagram.
    ///
    /// An assignment whose key is empty or contains `=`, a newline or NUL, or whose value contains a newline
    /// or NUL, cannot be expressed in the protocol: then nothing is sent and the result is `false`.
    ///
    /// - Parameter assignments: Key–value pairs, such as `[("READY", "1"), ("STATUS", "Idle")]`.
    /// - Returns: `true` when the message was delivered to the service manager (`sd_notify` returned > 0);
    ///   `false` when `NOTIFY_SOCKET` is unset, delivery failed or an assignment was invalid.
    @discardableResult
    public func send(_ assignments: [(String, String)]) -> Bool {
        guard let state = Self.encode(assignments) else { return false }
        return sd_notify(0, state) > 0
    }

    /// Joins assignments into a notification state string, or `nil` when one cannot be expressed.
    static func encode(_ assignments: [(String, String)]) -> String? {
        guard !assignments.isEmpty else { return nil }
        var state = ""
        for (key, value) in assignments {
            guard !key.isEmpty,
                !key.utf8.contains(where: { $0 == UInt8(ascii: "=") || $0 == 10 || $0 == 0 }),
                !value.utf8.contains(where: { $0 == 10 || $0 == 0 })
            else { return nil }
            if !state.isEmpty { state += "\n" }
            state += key
            state += "="
            state += value
        }
        return state
    }

    /// Replaces line breaks and NULs by spaces.
    static func singleLine(_ text: String) -> String {
        guard text.utf8.contains(where: { $0 == 10 || $0 == 13 || $0 == 0 }) else { return text }
        return String(
            decoding: text.utf8.map { $0 == 10 || $0 == 13 || $0 == 0 ? UInt8(ascii: " ") : $0 }, as: UTF8.self)
    }
}
