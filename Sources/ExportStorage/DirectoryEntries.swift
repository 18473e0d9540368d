#if canImport(Glibc)
import Glibc
#endif

/// One entry of the storage directory as one `fstatat` (no symlink followed) saw it.
public struct DirectoryEntry: Sendable, Hashable {
    /// The entry's name.
    public var name: String
    /// `regular file`, `directory`, `symbolic link`, `fifo`, ...
    public var kind: String
    /// Whether it is a regular file.
    public var isRegularFile: Bool
    /// Whether it is a symbolic link (never followed).
    public var isSymbolicLink: Bool
    /// Its size in bytes.
    public var bytes: Int64
    /// Its modification time, seconds since 1970 (UTC).
    public var modifiedSecondsSinceEpoch: Int64
}

extension OpenStorageDirectory {
    /// Calls `body` with each entry of the directory, one `readdir` + `fstatat` at a time (nothing is collected, so
    /// memory stays flat at any number of entries), skipping `.`, `..` and the claims journal's files; entries that vanish
    /// meanwhile are skipped. `body` returns `false` to stop.
    public func forEachEntry(_ body: (DirectoryEntry) -> Bool) throws(ExportStorageError) {
        let copy = dup(descriptor)
        guard copy >= 0, let stream = fdopendir(copy) else {
            let failure = errno
            if copy >= 0 { close(copy) }
            throw ExportStorageError(.systemCall, path: directory.path, errno: failure, message: "cannot list '\(directory.path)'")
        }
        defer { closedir(stream) }
        rewinddir(stream)
        while true {
            errno = 0
            guard let entry = readdir(stream) else {
                if errno != 0 {
                    throw ExportStorageError(.systemCall, path: directory.path, errno: errno, message: "cannot list '\(directory.path)'")
                }
                return
            }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name == "." || name == ".." || Self.claimsJournalNames.contains(name) { continue }
            var info = stat()
            let statResult = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                fstatat(descriptor, raw.baseAddress!.assumingMemoryBound(to: CChar.self), &info, AT_SYMLINK_NOFOLLOW)
            }
            if statResult != 0 { continue }
            let found = DirectoryEntry(name: name, kind: fileKind(info.st_mode), isRegularFile: info.st_mode & S_IFMT == S_IFREG,
                                       isSymbolicLink: info.st_mode & S_IFMT == S_IFLNK, bytes: Int64(info.st_size), modifiedSecondsSinceEpoch: Int64(info.st_mtim.tv_sec))
            if !body(found) { return }
        }
    }
}
