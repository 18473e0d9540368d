internal import Glibc

/// Where log entries go: structured journal entries, or readable lines on stderr.
public enum LogTarget: Sendable, Equatable {
    /// Structured entries through ``JournalLogHandler``.
    case journal
    /// Lines through ``ConsoleLogHandler``; with `priorityPrefixes` when stderr is the journal's stream.
    case console(priorityPrefixes: Bool)

    /// What the user asked for (e.g. a `--log-target` option).
    public enum Request: String, Sendable, CaseIterable {
        /// The journal when stderr is connected to it (`JOURNAL_STREAM` matches), else the console.
        case auto
        /// Always the journal.
        case journal
        /// Always the console (with priority prefixes when stderr is the journal's stream).
        case stderr
    }

    /// A file's identity, as `fstat(2)` reports it and `JOURNAL_STREAM` (`"DEV:INO"`) names it.
    public struct FileIdentity: Sendable, Equatable, CustomStringConvertible {
        /// The device (`st_dev`).
        public let device: UInt64
        /// The inode (`st_ino`).
        public let inode: UInt64

        /// Creates an identity.
        public init(device: UInt64, inode: UInt64) {
            self.device = device
            self.inode = inode
        }

        /// Parses `JOURNAL_STREAM`: two decimal numbers separated by `:`; `nil` for anything else.
        public init?(journalStream: String) {
            let parts = journalStream.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 2,
                let device = WatchdogConfiguration.parseDecimal(String(parts[0])),
                let inode = WatchdogConfiguration.parseDecimal(String(parts[1]))
            else { return nil }
            self.init(device: device, inode: inode)
        }

        /// The identity of an open file descriptor, or `nil` when `fstat(2)` fails (e.g. it is closed).
        public init?(fileDescriptor: Int32) {
            var info = stat()
            guard fstat(fileDescriptor, &info) == 0 else { return nil }
            self.init(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
        }

        /// `DEV:INO`, the `JOURNAL_STREAM` format.
        public var description: String {
            "\(device):\(inode)"
        }
    }

    /// Decides the target (pure).
    ///
    /// stderr is connected to the journal when `journalStream` parses and equals `stderrStat`.
    /// - `.journal` → ``journal``.
    /// - `.stderr` → ``console(priorityPrefixes:)``, with prefixes exactly when stderr is connected to the journal.
    /// - `.auto` → ``journal`` when stderr is connected to the journal, else `console(priorityPrefixes: false)`.
    ///
    /// - Parameters:
    ///   - requested: What the user asked for.
    ///   - journalStream: The value of `JOURNAL_STREAM`, or `nil` when unset.
    ///   - stderrStat: The identity of file descriptor 2, or `nil` when unknown.
    public static func resolve(requested: Request, journalStream: String?, stderrStat: FileIdentity?) -> LogTarget {
        let stderrIsJournal =
            journalStream.flatMap(FileIdentity.init(journalStream:)).map { $0 == stderrStat } ?? false
        switch requested {
        case .journal: return .journal
        case .stderr: return .console(priorityPrefixes: stderrIsJournal)
        case .auto: return stderrIsJournal ? .journal : .console(priorityPrefixes: false)
        }
    }

    /// Decides the target for this process, taking stderr's identity from `fstat(2)` on descriptor 2.
    ///
    /// - Parameters:
    ///   - requested: What the user asked for.
    ///   - journalStream: The value of `JOURNAL_STREAM` (passed in: this library reads no environment).
    public static func resolve(requested: Request, journalStream: String?) -> LogTarget {
        resolve(requested: requested, journalStream: journalStream, stderrStat: FileIdentity(fileDescriptor: 2))
    }
}
