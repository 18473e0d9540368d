import CoreSupport
#if canImport(Glibc)
import Glibc
#endif

/// An error from the export storage: what went wrong, where, and how to fix it.
///
/// Modelled on NIOFS's `FileSystemError`: a stable ``Code`` for programs, the context (path, errno) for
/// operators, and a message that says what to do.
public struct ExportStorageError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What kind of failure this is.
    public enum Code: String, Sendable, Equatable {
        /// An export type does not follow the naming rule.
        case invalidExportType
        /// A job id does not follow the naming rule.
        case invalidJobID
        /// A format is not one of csv, json, xlsx (or its alias excel).
        case invalidFormat
        /// A timestamp cannot be written as `YYYYMMDD_HHMMSS` (before 1970 or after 9999).
        case invalidTimestamp
        /// Type and job id are each valid, but together they would be read back differently.
        case ambiguousName
        /// The storage directory could not be created or opened.
        case storageDirectory
        /// The path exists but is not a directory (or is a symlink, which is never followed).
        case notADirectory
        /// A file could not be created.
        case createFile
        /// The file to be created exists already.
        case fileExists
        /// A system call failed.
        case systemCall
        /// Another process holds the storage directory's lock.
        case locked
    }

    /// What kind of failure this is.
    public var code: Code
    /// The file or directory concerned, if any.
    public var path: String?
    /// The `errno` of the failed system call, if any.
    public var errno: Int32?
    /// What happened and how to fix it.
    public var message: String

    /// Creates an error.
    public init(_ code: Code, path: String? = nil, errno: Int32? = nil, message: String) {
        self.code = code
        self.path = path
        self.errno = errno
        self.message = message
    }

    public var description: String {
        var text = message
        if let errno {
            text += " (\(errnoName(errno)): \(String(cString: strerror(errno))))"
        }
        return text
    }
}
