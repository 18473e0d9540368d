import CoreSupport
#if canImport(Glibc)
public import Glibc
#endif

/// The flat directory that holds the export files: creating it, creating files in it, sizes and permissions.
///
/// This is the API for the exporting side. The cleanup side opens it with ``open()`` and removes entries
/// through ``OpenStorageDirectory``.
public struct StorageDirectory: Sendable, Hashable {
    /// The directory's path as configured (may be relative).
    public let path: String

    /// The mode of the storage directory: `rwxr-x---`.
    public static let directoryMode: mode_t = 0o750
    /// The mode of an export file: `rw-------`.
    public static let fileMode: mode_t = 0o600

    /// Names a storage directory. Nothing is touched until a method is called.
    public init(path: String) {
        var trimmed = path
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed.removeLast() }
        self.path = trimmed
    }

    /// What ``prepare()`` found or did.
    public struct Status: Sendable, Hashable {
        /// Whether the directory was created by this call.
        public var created: Bool
        /// The directory's permission bits.
        public var mode: mode_t
        /// Set when an existing directory grants more than `0750`; it is reported, not changed.
        public var warning: String?
    }

    /// Creates the directory (and missing parents) if it does not exist, with mode exactly `0750` whatever
    /// the umask. An existing directory is checked: a symlink or a non-directory is an error, wider
    /// permissions than `0750` are returned as a warning and left as they are.
    @discardableResult
    public func prepare() throws(ExportStorageError) -> Status {
        var info = stat()
        if lstat(path, &info) == 0 {
            return try check(existing: info)
        }
        let lookupErrno = errno
        guard lookupErrno == ENOENT else {
            throw ExportStorageError(.storageDirectory, path: path, errno: lookupErrno,
                                     message: "cannot inspect storage directory '\(path)': check that its parents exist and are searchable")
        }
        try createParents()
        if mkdir(path, Self.directoryMode) != 0 {
            let mkdirErrno = errno
            if mkdirErrno == EEXIST, lstat(path, &info) == 0 { return try check(existing: info) }
            throw ExportStorageError(.storageDirectory, path: path, errno: mkdirErrno,
                                     message: "cannot create storage directory '\(path)': check the parent's owner and permissions")
        }
        // mkdir applied the umask; set the exact mode through a descriptor of the directory we made.
        let fd = Glibc.open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else {
            throw ExportStorageError(.storageDirectory, path: path, errno: errno, message: "cannot open new storage directory '\(path)'")
        }
        defer { close(fd) }
        guard fchmod(fd, Self.directoryMode) == 0 else {
            throw ExportStorageError(.storageDirectory, path: path, errno: errno, message: "cannot set mode 0750 on '\(path)'")
        }
        return Status(created: true, mode: Self.directoryMode, warning: nil)
    }

    /// The full path of the file for `name`, e.g. `/srv/exports/hotels_exp_a1b2_20231116_143022.csv`.
    public func filePath(for name: ExportFileName) -> String {
        path == "/" ? "/" + name.fileName : path + "/" + name.fileName
    }

    /// Creates the export file `name` and returns an open, writable descriptor; the caller closes it.
    ///
    /// The file has mode `0600` from its first byte (`O_CREAT|O_EXCL|O_NOFOLLOW`, never chmod-after), is never
    /// created through a symlink, and an existing entry of that name is an error (`fileExists`). The storage
    /// directory is created first if needed.
    public func createFile(_ name: ExportFileName) throws(ExportStorageError) -> Int32 {
        try prepare()
        let directory = try open()
        let fd = openat(directory.descriptor, name.fileName, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, Self.fileMode)
        guard fd >= 0 else {
            let openErrno = errno
            let target = filePath(for: name)
            if openErrno == EEXIST {
                throw ExportStorageError(.fileExists, path: target, errno: openErrno,
                                         message: "export file '\(target)' exists already: use a new job id or timestamp")
            }
            throw ExportStorageError(.createFile, path: target, errno: openErrno,
                                     message: "cannot create export file '\(target)': check the storage directory's owner and free space")
        }
        // A umask that takes owner bits away (e.g. 0277) would leave less than 0600; tighten-only fix on our fd.
        var info = stat()
        if fstat(fd, &info) == 0, info.st_mode & 0o7777 != Self.fileMode {
            _ = fchmod(fd, Self.fileMode)
        }
        return fd
    }

    /// Creates the export file `name` with `contents`; returns its full path. On a write failure the partial
    /// file is removed and the error thrown.
    @discardableResult
    public func writeFile(_ name: ExportFileName, contents: some Collection<UInt8>) throws(ExportStorageError) -> String {
        let fd = try createFile(name)
        let target = filePath(for: name)
        var failure = Array(contents).withUnsafeBytes { writeAll(fd: fd, bytes: $0) }
        if failure == 0, close(fd) != 0 { failure = errno } else if failure != 0 { close(fd) }
        if failure != 0 {
            unlink(target)
            throw ExportStorageError(.createFile, path: target, errno: failure,
                                     message: "cannot write export file '\(target)'; the partial file was removed")
        }
        return target
    }

    /// Sets mode `0600` on an existing file, e.g. one written by other means. A symlink is
    /// refused, not followed.
    public static func setFilePermissions(_ path: String) throws(ExportStorageError) {
        var info = stat()
        guard lstat(path, &info) == 0 else {
            throw ExportStorageError(.systemCall, path: path, errno: errno, message: "cannot set permissions of '\(path)'")
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw ExportStorageError(.systemCall, path: path, message: "cannot set permissions of '\(path)': it is not a regular file")
        }
        guard chmod(path, fileMode) == 0 else {
            throw ExportStorageError(.systemCall, path: path, errno: errno, message: "cannot set mode 0600 on '\(path)': check its owner")
        }
    }

    /// The size in bytes of the regular file at `path`, or `nil` when there is none (missing, or not a
    /// regular file). Symlinks are not followed.
    public static func fileSize(_ path: String) -> Int64? {
        var info = stat()
        guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return nil }
        return Int64(info.st_size)
    }

    /// Opens the directory for sweeping (`O_DIRECTORY|O_NOFOLLOW`): every later operation is relative to it.
    public func open() throws(ExportStorageError) -> OpenStorageDirectory {
        try OpenStorageDirectory(directory: self)
    }

    /// Counts the directory in one pass; see ``StorageStatistics``.
    public func statistics() throws(ExportStorageError) -> StorageStatistics {
        try open().statistics()
    }

    // MARK: - Internals

    private func check(existing info: stat) throws(ExportStorageError) -> Status {
        let kind = info.st_mode & S_IFMT
        guard kind != S_IFLNK else {
            throw ExportStorageError(.notADirectory, path: path,
                                     message: "storage directory '\(path)' is a symbolic link, which is never followed: configure the real directory")
        }
        guard kind == S_IFDIR else {
            throw ExportStorageError(.notADirectory, path: path,
                                     message: "storage path '\(path)' exists but is not a directory: remove it or configure another path")
        }
        let mode = info.st_mode & 0o7777
        var warning: String?
        if mode & ~Self.directoryMode != 0 {
            warning = "storage directory '\(path)' has mode \(octal(mode)), wider than 0750: "
                + "run 'chmod 0750 \(path)' so that others cannot list or read exports"
        }
        return Status(created: false, mode: mode, warning: warning)
    }

    private func createParents() throws(ExportStorageError) {
        let parts = path.split(separator: "/").map(String.init)
        guard parts.count > 1 else { return }
        var current = path.hasPrefix("/") ? "" : "."
        for part in parts.dropLast() {
            current += "/" + part
            if mkdir(current, 0o755) != 0 && errno != EEXIST {
                throw ExportStorageError(.storageDirectory, path: current, errno: errno,
                                         message: "cannot create '\(current)', a parent of storage directory '\(path)'")
            }
        }
    }
}
