import CoreSupport
internal import Glibc
import Synchronization

/// Counts failed log writes and reports the first failure of each destination once on stderr.
///
/// A logger must never stop the program: failures are counted, not thrown.
final class WriteFailureReporter: Sendable {
    private struct State {
        var count = 0
        var reported: Set<String> = []
    }

    private let state = Mutex(State())
    private let program: String

    init(program: String) {
        self.program = program
    }

    /// The number of failed writes so far.
    var count: Int {
        state.withLock { $0.count }
    }

    /// Records one failed write; the first one per destination is reported on stderr (best effort).
    func record(destination: String, errorNumber: Int32) {
        let first = state.withLock { state -> Bool in
            state.count += 1
            return state.reported.insert(destination).inserted
        }
        guard first else { return }
        let reason = String(cString: strerror(errorNumber))
        let line = "\(program): cannot write log to \(destination): \(reason) (errno \(errorNumber)); "
            + "further failures are counted, not reported\n"
        writeAll(fd: STDERR_FILENO, line)
    }
}
