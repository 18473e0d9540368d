import ArgumentParser
import Foundation
import Logging
import Synchronization
import SystemdSupport

/// Logging for the executable: the only place that bootstraps it.
enum LoggingSetup {
    /// Bootstraps swift-log once: the journal (structured fields) when stderr is the journal or it is asked
    /// for, else readable lines on stderr (with `<N>` prefixes under the journal), optionally also appended to
    /// `logFile`. Returns the root logger.
    static func bootstrap(target request: LogTarget.Request, level: Logger.Level, logFile: String?,
                          environment: [String: String] = ProcessInfo.processInfo.environment) throws(ExitCode) -> Logger {
        let target = LogTarget.resolve(requested: request, journalStream: environment["JOURNAL_STREAM"])
        signal(SIGPIPE, SIG_IGN)
        switch target {
        case .journal:
            // The journal has no file; a --log-file still gets readable lines.
            let sink = try logFile.map { path throws(ExitCode) in try openSink(priorityPrefixes: false, logFile: path, consoleFD: -1) }
            LoggingSystem.bootstrap { label in
                var journal = JournalLogHandler(identifier: programName, logLevel: .trace)
                journal.logLevel = .trace
                guard let sink else { return journal }
                return MultiplexLogHandler([journal, ConsoleLogHandler(label: label, sink: sink, logLevel: .trace)])
            }
        case .console(let prefixes):
            let sink = try openSink(priorityPrefixes: prefixes, logFile: logFile, consoleFD: 2)
            consoleSink.withLock { $0 = sink }
            LoggingSystem.bootstrap { label in ConsoleLogHandler(label: label, sink: sink, logLevel: .trace) }
        }
        var logger = Logger(label: programName)
        logger.logLevel = level
        return logger
    }

    /// The sink of the console's log lines, when they go to stderr (a progress line is drawn through it).
    static let consoleSink = Mutex<ConsoleLogSink?>(nil)

    private static func openSink(priorityPrefixes: Bool, logFile: String?, consoleFD: Int32) throws(ExitCode) -> ConsoleLogSink {
        do {
            return try ConsoleLogSink(program: programName, consoleFD: consoleFD, priorityPrefixes: priorityPrefixes, logFilePath: logFile)
        } catch {
            throw fail("cannot open --log-file: \(error)", code: Exit.cannotCreate)
        }
    }
}
