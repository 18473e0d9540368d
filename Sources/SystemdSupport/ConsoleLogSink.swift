internal import Glibc
import CoreSupport
import Synchronization

/// The destination of ``ConsoleLogHandler`` lines: a console file descriptor (stderr by default) and an
/// optional log file, shared by all handlers of a process.
///
/// Writes are serialized by a lock, so lines from several threads never interleave. A failed write (a full
/// disk, a closed pipe) never stops the program: it is counted in ``failedWrites`` and the first failure of
/// each destination is reported once on stderr. On a socket (journald's stream) writes use `MSG_NOSIGNAL`;
/// for a pipe, the program should ignore `SIGPIPE`.
public final class ConsoleLogSink: Sendable {
    /// A log file that could not be opened.
    public struct OpenError: Error, CustomStringConvertible, Equatable {
        /// The path given.
        public let path: String
        /// The `errno` of `open(2)`.
        public let errorNumber: Int32

        /// `cannot open log file PATH: REASON`.
        public var description: String {
            "cannot open log file \(path): \(String(cString: strerror(errorNumber)))"
        }
    }

    /// Whether console lines start with an sd-daemon priority prefix such as `<6>` (for stderr connected to
    /// the journal through `JOURNAL_STREAM`). Log file lines never carry it.
    public let priorityPrefixes: Bool

    /// The path of the log file, if any.
    public let logFilePath: String?

    private let consoleFD: Int32
    private let consoleIsSocket: Bool
    private let logFileFD: Int32?
    /// Serializes writes; holds the status line shown below the log lines (``setStatusLine(_:)``), "" for none.
    private let lock = Mutex("")
    private let failures: WriteFailureReporter

    /// Creates a sink.
    ///
    /// - Parameters:
    ///   - program: The program's name, which starts the one-line report of a failed write on stderr.
    ///   - consoleFD: The descriptor lines go to; 2 (stderr) by default, negative for none. It is not closed by the sink.
    ///   - priorityPrefixes: Whether console lines get `<N>` priority prefixes.
    ///   - logFilePath: A file to append the lines to as well, opened `O_WRONLY|O_APPEND|O_CREAT|O_CLOEXEC`,
    ///     mode 0640 when created.
    /// - Throws: ``OpenError`` when the log file cannot be opened.
    public init(program: String, consoleFD: Int32 = 2, priorityPrefixes: Bool = false, logFilePath: String? = nil) throws(OpenError) {
        self.failures = WriteFailureReporter(program: program)
        self.consoleFD = consoleFD
        self.consoleIsSocket = isSocket(fd: consoleFD)
        self.priorityPrefixes = priorityPrefixes
        self.logFilePath = logFilePath
        if let logFilePath {
            let fd = open(logFilePath, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
            guard fd >= 0 else { throw OpenError(path: logFilePath, errorNumber: Glibc.errno) }
            self.logFileFD = fd
        } else {
            self.logFileFD = nil
        }
    }

    deinit {
        if let logFileFD { close(logFileFD) }
    }

    /// How many writes failed so far (console and log file together).
    public var failedWrites: Int {
        failures.count
    }

    /// Carriage return and "erase to the end of the line" (ECMA-48 `CSI K`).
    static let eraseLine = "\r\u{1B}[K"

    /// Shows `text` (one line, no newline) as a status line on the console, below the log lines, replacing the
    /// previous one; "" takes it away. For a terminal only (it is drawn with a carriage return and `CSI K`); never
    /// written to the log file.
    public func setStatusLine(_ text: String) {
        guard consoleFD >= 0 else { return }
        lock.withLock { status in
            if text.isEmpty && status.isEmpty { return }
            status = text
            writeAll(fd: consoleFD, Self.eraseLine + text)
        }
    }

    /// Writes one finished line (ending in a newline) to the console and the log file.
    func write(line: String, priority: SyslogPriority) {
        var consoleLine = priorityPrefixes ? priority.linePrefix + line : line
        var fileLine = line
        lock.withLock { status in
            // A status line is taken away for the line and drawn again below it.
            if !status.isEmpty { consoleLine = Self.eraseLine + consoleLine + status }
            // A negative consoleFD means "log file only" (e.g. beside the journal).
            let consoleError = consoleFD < 0 ? 0 : consoleLine.withUTF8 {
                writeAll(fd: consoleFD, bytes: UnsafeRawBufferPointer($0), isSocket: consoleIsSocket)
            }
            if consoleError != 0 {
                failures.record(destination: "the console (fd \(consoleFD))", errorNumber: consoleError)
            }
            if let logFileFD, let logFilePath {
                let fileError = fileLine.withUTF8 {
                    writeAll(fd: logFileFD, bytes: UnsafeRawBufferPointer($0), isSocket: false)
                }
                if fileError != 0 {
                    failures.record(destination: logFilePath, errorNumber: fileError)
                }
            }
        }
    }
}
