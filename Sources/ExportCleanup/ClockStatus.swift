import CClockStatus
#if canImport(Glibc)
import Glibc
#endif

/// Whether the kernel considers the system clock synchronised (to NTP, by chrony, ntpd or systemd-timesyncd).
public enum ClockSync: Sendable, Hashable, Codable {
    /// The kernel says the clock is synchronised.
    case synchronized
    /// The kernel says it is not: `reason` names what it reported (e.g. `STA_UNSYNC set`, `TIME_ERROR`).
    case unsynchronized(reason: String)
    /// The kernel could not be asked (`errno`): treated as not synchronised when a synchronised clock is required.
    case unknown(errno: Int32)

    /// Whether a sweep that requires a synchronised clock may go ahead.
    public var isSynchronized: Bool { self == .synchronized }

    /// For messages: `synchronised`, `not synchronised (STA_UNSYNC set)`, `unknown (EPERM)`.
    public var description: String {
        switch self {
        case .synchronized: return "synchronised"
        case .unsynchronized(let reason): return "not synchronised (\(reason))"
        case .unknown(let code): return "unknown (adjtimex failed with errno \(code))"
        }
    }
}

/// Where a sweep learns whether the clock is synchronised: the kernel (``KernelClockStatus``), or a test's stand-in.
public protocol ClockStatusSource: Sendable {
    /// The clock's state now.
    func clockSync() -> ClockSync
}

/// The kernel's view of the clock: `adjtimex` with `modes = 0`, which only reads (it never changes the clock or its
/// discipline). Not synchronised when it returns `TIME_ERROR` or sets `STA_UNSYNC` in `status`: the kernel's own
/// "unsynchronised" flag, which chrony, ntpd and systemd-timesyncd clear once they have disciplined the clock and
/// the kernel sets again when no daemon has updated it for a while.
public struct KernelClockStatus: ClockStatusSource {
    /// The kernel's clock.
    public init() {}

    public func clockSync() -> ClockSync {
        var status: Int32 = 0
        let state = export_cleanup_clock_state(&status)
        if state < 0 { return .unknown(errno: errno) }
        return Self.interpret(state: state, status: status)
    }

    /// The pure reading of `adjtimex`'s return value and `status` bits.
    public static func interpret(state: Int32, status: Int32) -> ClockSync {
        if state == timeErrorState { return .unsynchronized(reason: "adjtimex returned TIME_ERROR") }
        if status & unsyncFlag != 0 { return .unsynchronized(reason: "STA_UNSYNC set in the kernel's clock status") }
        return .synchronized
    }

    /// `TIME_ERROR` of `<sys/timex.h>`.
    public static let timeErrorState: Int32 = 5
    /// `STA_UNSYNC` of `<sys/timex.h>`.
    public static let unsyncFlag: Int32 = 0x0040
}

/// A fixed answer (tests, and `EXPORT_CLEANUP_REQUIRE_SYNCED_CLOCK=no`, which never asks).
public struct FixedClockStatus: ClockStatusSource {
    /// The answer given.
    public var value: ClockSync
    /// Always answers `value`.
    public init(_ value: ClockSync) { self.value = value }
    public func clockSync() -> ClockSync { value }
}
