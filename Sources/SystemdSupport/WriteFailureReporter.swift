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
        var bytes = Array(line.utf8)
        _ = bytes.withUnsafeMutableBytes { Glibc.write(STDERR_FILENO, $0.baseAddress, $0.count) }
    }
}

/// Writes all of `bytes` to `fd`, retrying on `EINTR` and short writes.
///
/// On a socket `send(MSG_NOSIGNAL)` is used, so a closed peer yields `EPIPE` instead of `SIGPIPE`.
/// - Returns: 0 on success, else the `errno` of the failed call.
func writeAll(fd: Int32, bytes: UnsafeRawBufferPointer, isSocket: Bool) -> Int32 {
    guard var next = bytes.baseAddress else { return 0 }
    var remaining = bytes.count
    while remaining > 0 {
        let written = isSocket ? Glibc.send(fd, next, remaining, Int32(MSG_NOSIGNAL)) : Glibc.write(fd, next, remaining)
        if written < 0 {
            let error = Glibc.errno
            if error == EINTR { continue }
            return error
        }
        if written == 0 { return EIO }
        remaining -= written
        next += written
    }
    return 0
}

/// Whether `fd` refers to a socket (journald's stdout/stderr streams are sockets).
func isSocket(fd: Int32) -> Bool {
    var info = stat()
    guard fstat(fd, &info) == 0 else { return false }
    return (info.st_mode & S_IFMT) == S_IFSOCK
}
