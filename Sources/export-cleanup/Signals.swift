import CEarlySignals
import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// SIGHUP, SIGTERM and SIGINT for `run` and `sweep`: blocked from the process's first instruction (a constructor in
/// `CEarlySignals`), then read through libdispatch signal sources once the command is ready for them. A signal that
/// arrives before that stays pending and is handled then, never lost and never fatal.
///
/// The disposition is never set to `SIG_IGN`: that discards a pending signal.
enum Signals {
    /// The signals these commands handle.
    static let handled: [Int32] = [SIGHUP, SIGTERM, SIGINT]

    /// Blocks the handled signals in the calling thread and every thread it starts later. The constructor has done
    /// so already for `run` and `sweep`; this covers a process started another way.
    static func block() {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in handled { sigaddset(&set, signal) }
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    /// Whether the constructor blocked them before `main` (for tests and diagnostics).
    static var blockedBeforeMain: Bool { export_cleanup_early_signals_blocked() != 0 }

    /// Delivers each of `signals` to `handler` on `queue`, one that is already pending included. Keep the returned
    /// sources alive for as long as the signals are to be handled.
    static func handle(_ signals: [Int32], on queue: DispatchQueue, _ handler: @escaping @Sendable (Int32) -> Void) -> [any DispatchSourceSignal] {
        signals.map { number in
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler { handler(number) }
            source.resume()
            return source
        }
    }

    /// Parks the main thread for good, the handled signals still blocked. Instead of `dispatchMain()`, whose
    /// `sigsuspend` with an empty mask unblocks every signal on the main thread: a SIGHUP pending from start-up
    /// (or one arriving before libdispatch has installed its handler, which happens asynchronously) would take
    /// its default action there and kill the daemon. Nothing here uses the main queue.
    static func parkMainThread() -> Never {
        var mask = sigset_t()
        pthread_sigmask(SIG_BLOCK, nil, &mask)
        while true { sigsuspend(&mask) }
    }

    /// `SIGTERM`, `SIGINT`, `SIGHUP` or the number.
    static func name(_ number: Int32) -> String {
        switch number {
        case SIGTERM: return "SIGTERM"
        case SIGINT: return "SIGINT"
        case SIGHUP: return "SIGHUP"
        default: return "signal \(number)"
        }
    }
}
