#if canImport(Glibc)
import Glibc
#endif

/// Replaces a file atomically: a reader sees the old contents or the new, never a mix or an empty file.
package enum AtomicFile {
    /// Writes `bytes` to a temporary file in the same directory (`.NAME.PID.tmp`: hidden, and not ending in the
    /// name's extension, so a collector reading `*.prom` never sees it), `fsync`s it, gives it `mode` (whatever the
    /// umask), renames it over `path` and `fsync`s the directory.
    /// - Returns: 0 on success, else the `errno` of the call that failed (the temporary file is removed).
    package static func write(_ bytes: [UInt8], to path: String, mode: UInt32 = 0o644) -> Int32 {
        let mode = mode_t(mode)
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        guard !name.isEmpty else { return EISDIR }
        let temporary = (directory == "/" ? "/" : directory + "/") + ".\(name).\(getpid()).tmp"
        unlink(temporary)  // A leftover of a process that had this pid and died mid-write.
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode)
        if fd < 0 { return errno }
        var failure: Int32 = bytes.withUnsafeBytes { writeAll(fd: fd, bytes: $0) }
        if failure == 0 && fchmod(fd, mode) != 0 { failure = errno }
        if failure == 0 && fsync(fd) != 0 { failure = errno }
        if close(fd) != 0 && failure == 0 { failure = errno }
        if failure == 0 && rename(temporary, path) != 0 { failure = errno }
        if failure != 0 {
            unlink(temporary)
            return failure
        }
        let directoryFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryFD >= 0 {
            fsync(directoryFD)
            close(directoryFD)
        }
        return 0
    }
}
