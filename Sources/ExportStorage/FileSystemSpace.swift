#if canImport(Glibc)
import Glibc
#endif

/// The space of the file system the storage directory is on, from its own descriptor (`fstatvfs`).
public struct FileSystemSpace: Sendable, Hashable, Codable {
    /// Size of the file system, bytes.
    public var totalBytes: Int64
    /// Bytes available to this (unprivileged) user: `f_bavail × f_frsize`.
    public var freeBytes: Int64
    /// Inodes of the file system (0 when it has no fixed number).
    public var totalInodes: Int64
    /// Inodes available: `f_favail`.
    public var freeInodes: Int64

    /// Creates a measurement.
    public init(totalBytes: Int64, freeBytes: Int64, totalInodes: Int64, freeInodes: Int64) {
        self.totalBytes = totalBytes
        self.freeBytes = freeBytes
        self.totalInodes = totalInodes
        self.freeInodes = freeInodes
    }
}

extension OpenStorageDirectory {
    /// The file system's space now, through the directory's descriptor (never a path: a directory swapped
    /// meanwhile is not what is measured).
    public func fileSystemSpace() throws(ExportStorageError) -> FileSystemSpace {
        var info = statvfs()
        guard fstatvfs(descriptor, &info) == 0 else {
            throw ExportStorageError(.systemCall, path: directory.path, errno: errno, message: "cannot read the free space of '\(directory.path)' (fstatvfs)")
        }
        let unit = Int64(info.f_frsize == 0 ? info.f_bsize : info.f_frsize)
        return FileSystemSpace(totalBytes: Int64(info.f_blocks) * unit, freeBytes: Int64(info.f_bavail) * unit,
                               totalInodes: Int64(info.f_files), freeInodes: Int64(info.f_favail))
    }

    /// Bytes of the export files in the directory (regular files whose names follow the naming rule), one pass.
    public func exportFileBytes() throws(ExportStorageError) -> Int64 {
        var total: Int64 = 0
        try forEachEntry { entry in
            if entry.isRegularFile, ExportFileName.parse(entry.name) != nil { total += entry.bytes }
            return true
        }
        return total
    }
}
