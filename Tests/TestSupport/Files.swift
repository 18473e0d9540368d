import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A fresh directory (by its real path), removed with its contents by ``remove()`` or on deinit.
public final class TemporaryDirectory: Sendable {
    public let path: String

    /// - Parameter memory: under `/dev/shm` when it is writable (fsync costs nothing on tmpfs, so thousands of
    ///   commits stay fast), else the system temp dir.
    public init(memory: Bool = false) {
        let base = memory && access("/dev/shm", W_OK) == 0 ? "/dev/shm" : NSTemporaryDirectory()
        var template = Array((base + "/export-cleanup-tests.XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
        let real = realpath(made, nil)!
        path = String(cString: real)
        free(real)
    }

    deinit { remove() }

    /// A path inside the directory.
    public func sub(_ name: String) -> String { path + "/" + name }

    /// Removes the directory and its contents (again: nothing).
    public func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// Whether anything (even a dangling symlink) exists at `path`.
public func fileExists(_ path: String) -> Bool {
    var info = stat()
    return lstat(path, &info) == 0
}

/// A test precondition that failed, with what was found.
public struct TestFailure: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
