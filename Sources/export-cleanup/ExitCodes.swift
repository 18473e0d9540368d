import ArgumentParser
import CoreSupport
import Glibc
import ExportCleanup
import ExportCleanupConfig
import ExportStorage

/// Exit codes (sysexits), as documented in the README.
enum Exit {
    /// Done.
    static let ok = ExitCode(0)
    /// The sweep finished but some files could not be removed.
    static let partial = ExitCode(1)
    /// Command-line usage error.
    static let usage = ExitCode(64)
    /// Bad data: the database's schema is not what the application writes.
    static let dataError = ExitCode(65)
    /// The database or the storage directory is missing.
    static let noInput = ExitCode(66)
    /// Internal error.
    static let software = ExitCode(70)
    /// The operating system refused (cannot create, write, open).
    static let cannotCreate = ExitCode(73)
    /// Permission denied: the storage directory or the database is not writable.
    static let noPermission = ExitCode(77)
    /// Temporary: database locked beyond the busy timeout, or another sweep holds the lock.
    static let temporary = ExitCode(75)
    /// The disk failed or is full (the database's).
    static let ioError = ExitCode(74)
    /// Configuration error.
    static let config = ExitCode(78)

}

/// A command's failure as an operator sees it: the exit code, the errno `sd_notify` reports (`ERRNO=`), and the
/// message. The one place where an error of a library becomes an exit code.
struct Failure: Error, CustomStringConvertible {
    var exitCode: ExitCode
    var errno: Int32
    var message: String

    var description: String { message }

    init(exitCode: ExitCode, errno: Int32, message: String) {
        self.exitCode = exitCode
        self.errno = errno
        self.message = message
    }

    /// A job store's error, by its domain code.
    init(_ error: JobStoreError) {
        let (exit, number) = Self.exitCodeAndErrno(for: error.code)
        self.init(exitCode: exit, errno: number, message: error.message)
    }

    /// The exit code and errno of a job store error's domain code (also for a sweep the store aborted).
    static func exitCodeAndErrno(for code: JobStoreError.Code) -> (ExitCode, Int32) {
        switch code {
        case .notFound: return (Exit.noInput, ENOENT)
        case .cannotOpen: return (Exit.noInput, EINVAL)
        case .permissionDenied: return (Exit.noPermission, EACCES)
        case .notADatabase, .missingTable, .missingColumn: return (Exit.dataError, EINVAL)
        case .busy: return (Exit.temporary, EBUSY)
        case .ioError: return (Exit.ioError, EIO)
        case .failed: return (Exit.software, EIO)
        case .wrongColumnType: return (Exit.dataError, EINVAL)
        case .unavailable: return (Exit.temporary, ECONNREFUSED)
        case .sweepLockHeld: return (Exit.temporary, EBUSY)
        }
    }

    /// A storage error, by its code and errno.
    init(_ error: ExportStorageError) {
        let exit: ExitCode
        switch error.code {
        case .invalidExportType, .invalidJobID, .invalidFormat, .invalidTimestamp, .ambiguousName: exit = Exit.usage
        case .locked: exit = Exit.temporary
        case .storageDirectory, .notADirectory:
            switch error.errno {
            case nil, ENOENT?: exit = Exit.noInput
            case EACCES?, EPERM?: exit = Exit.noPermission
            default: exit = Exit.cannotCreate
            }
        case .createFile, .fileExists, .systemCall: exit = Exit.cannotCreate
        }
        self.init(exitCode: exit, errno: error.errno ?? EINVAL, message: error.description)
    }

    /// A configuration error.
    init(_ error: ConfigurationError) {
        self.init(exitCode: Exit.config, errno: EINVAL, message: error.description)
    }

    /// Any error: the typed ones by their codes, anything else as an internal error.
    init(_ error: any Error) {
        switch error {
        case let error as Failure: self = error
        case let error as JobStoreError: self.init(error)
        case let error as ExportStorageError: self.init(error)
        case let error as ConfigurationError: self.init(error)
        default: self.init(exitCode: Exit.software, errno: EIO, message: "\(error)")
        }
    }

    /// Prints the message on stderr (`export-cleanup: message`) and returns the exit code to throw.
    func report() -> ExitCode { fail(message, code: exitCode) }
}

/// Prints an error on stderr as `export-cleanup: message` and exits with `code`.
func fail(_ message: any CustomStringConvertible, code: ExitCode) -> ExitCode {
    printError("\(programName): \(message)")
    return code
}

/// Writes a line to stderr.
func printError(_ line: String) {
    LoggingSetup.consoleSink.withLock { $0 }?.setStatusLine("")  // a progress line is erased first
    var stderr = StandardError()
    print(line, to: &stderr)
}

struct StandardError: TextOutputStream {
    mutating func write(_ string: String) {
        writeAll(fd: 2, string)
    }
}

/// Runs storage work; an ``ExportStorageError`` is printed and becomes its exit code.
func withStorageErrors<T>(_ body: () throws(ExportStorageError) -> T) throws(ExitCode) -> T {
    switch Result(catching: body) {
    case .success(let value): return value
    case .failure(let error): throw Failure(error).report()
    }
}
