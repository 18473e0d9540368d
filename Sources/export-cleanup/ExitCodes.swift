import ArgumentParser
import CoreSupport
import Glibc
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
    /// Configuration error.
    static let config = ExitCode(78)

    /// The exit code for a storage error.
    static func code(for error: ExportStorageError) -> ExitCode {
        switch error.code {
        case .invalidExportType, .invalidJobID, .invalidFormat, .invalidTimestamp, .ambiguousName: return usage
        case .locked: return temporary
        case .storageDirectory, .notADirectory:
            switch error.errno {
            case nil, ENOENT?: return noInput
            case EACCES?, EPERM?: return noPermission
            default: return cannotCreate
            }
        case .createFile, .fileExists, .systemCall: return cannotCreate
        }
    }
}

/// Prints an error on stderr as `export-cleanup: message` and exits with `code`.
func fail(_ message: any CustomStringConvertible, code: ExitCode) -> ExitCode {
    printError("\(programName): \(message)")
    return code
}

/// Writes a line to stderr.
func printError(_ line: String) {
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
    case .failure(let error): throw fail(error, code: Exit.code(for: error))
    }
}
