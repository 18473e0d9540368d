import CoreSupport
#if canImport(Glibc)
import Glibc
#endif

/// What happened to one record's file.
public enum RemovalOutcome: Sendable, Hashable {
    /// The regular file was removed; `bytes` is its size.
    case removed(bytes: Int64)
    /// Dry run: the regular file would be removed.
    case wouldRemove(bytes: Int64)
    /// There was no such entry: a success, the record can be updated.
    case alreadyMissing
    /// The record's path or the entry breaks a safety rule; nothing was touched.
    case refused(RemovalRefusal)
    /// A system call failed, e.g. `EACCES`; nothing was removed.
    case failed(errno: Int32)
}

/// The storage directory, opened once (`O_DIRECTORY|O_NOFOLLOW`); every operation is relative to its
/// descriptor, so no path is ever resolved through a symlink after it is opened.
///
/// Not thread-safe: use one per sweep. The descriptor (and any lock on it) is released on deinit.
public final class OpenStorageDirectory {
    /// The directory as configured.
    public let directory: StorageDirectory
    /// The open directory descriptor.
    public let descriptor: Int32
    /// The rule mapping records' `file_path` values to entries.
    public let pathRule: RecordPathRule

    init(directory: StorageDirectory) throws(ExportStorageError) {
        self.directory = directory
        let fd = Glibc.open(directory.path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else {
            let openErrno = errno
            // Linux reports a symlink opened with O_DIRECTORY|O_NOFOLLOW as ENOTDIR, not ELOOP: look at the entry.
            var entry = stat()
            let isSymlink = (openErrno == ELOOP || openErrno == ENOTDIR) && lstat(directory.path, &entry) == 0 && entry.st_mode & S_IFMT == S_IFLNK
            switch openErrno {
            case _ where isSymlink:
                throw ExportStorageError(.notADirectory, path: directory.path, errno: openErrno,
                                         message: "storage directory '\(directory.path)' is a symbolic link, which is never followed: configure the real directory")
            case ENOTDIR:
                throw ExportStorageError(.notADirectory, path: directory.path, errno: openErrno,
                                         message: "storage path '\(directory.path)' is not a directory")
            default:
                throw ExportStorageError(.storageDirectory, path: directory.path, errno: openErrno,
                                         message: "cannot open storage directory '\(directory.path)': check that it exists and that this user may read it")
            }
        }
        descriptor = fd
        var spellings: [String] = []
        if directory.path.hasPrefix("/") {
            spellings.append(directory.path)
        } else if let cwd = getcwd(nil, 0) {
            spellings.append(String(cString: cwd) + "/" + directory.path)
            free(cwd)
        }
        if let real = realpath(directory.path, nil) {
            spellings.append(String(cString: real))
            free(real)
        }
        pathRule = RecordPathRule(storagePath: directory.path, absolutePaths: spellings)
    }

    deinit { close(descriptor) }

    /// Takes the exclusive sweep lock (`flock` on the directory). Without `wait`, a lock held by another
    /// process is an error (`locked`) naming the holder's pid when the kernel tells it.
    public func lock(wait: Bool) throws(ExportStorageError) {
        while flock(descriptor, LOCK_EX | (wait ? 0 : LOCK_NB)) != 0 {
            let lockErrno = errno
            if lockErrno == EINTR { continue }
            if lockErrno == EWOULDBLOCK {
                let holder = lockHolder().map { "process \($0)" } ?? "another process"
                throw ExportStorageError(.locked, path: directory.path, errno: lockErrno,
                                         message: "\(holder) holds the sweep lock (flock) on '\(directory.path)': "
                                            + "wait for it to finish, or pass --wait to queue behind it")
            }
            throw ExportStorageError(.systemCall, path: directory.path, errno: lockErrno, message: "cannot lock '\(directory.path)'")
        }
    }

    /// Releases the sweep lock.
    public func unlock() { _ = flock(descriptor, LOCK_UN) }

    /// The entry a record's `file_path` names, by the rules of ``RecordPathRule`` (a pure check, no disk).
    public func entryName(forRecordPath recordPath: String, record: RecordName) -> Result<String, RemovalRefusal> {
        pathRule.entryName(forRecordPath: recordPath, record: record)
    }

    /// What an entry is, as one `fstatat` (no symlink followed) saw it.
    public enum Entry: Sendable, Hashable {
        /// A regular file: its name, modification time and size.
        case regularFile(StorageStatistics.FileInfo)
        /// There is no such entry.
        case missing
        /// The name is not a plain entry name, or the entry is not a regular file.
        case refused(RemovalRefusal)
        /// `fstatat` failed.
        case failed(errno: Int32)
    }

    /// Looks at the entry `name` without following a symlink.
    public func entry(named name: String) -> Entry {
        guard Self.isPlainName(name) else { return .refused(.invalidPath("'\(name)' is not a plain entry name")) }
        var info = stat()
        if fstatat(descriptor, name, &info, AT_SYMLINK_NOFOLLOW) != 0 {
            let statErrno = errno
            return statErrno == ENOENT ? .missing : .failed(errno: statErrno)
        }
        guard info.st_mode & S_IFMT == S_IFREG else { return .refused(.notRegularFile(kind: fileKind(info.st_mode))) }
        return .regularFile(.init(name: name, modifiedSecondsSinceEpoch: Int64(info.st_mtim.tv_sec), bytes: Int64(info.st_size)))
    }

    /// What removing the entry `name` would do: ``RemovalOutcome/wouldRemove(bytes:)`` for a regular file,
    /// missing, refused (not a regular file), or a failed `fstatat`.
    public func inspectEntry(named name: String) -> RemovalOutcome {
        switch entry(named: name) {
        case .regularFile(let file): return .wouldRemove(bytes: file.bytes)
        case .missing: return .alreadyMissing
        case .refused(let refusal): return .refused(refusal)
        case .failed(let code): return .failed(errno: code)
        }
    }

    /// Why no entry of this directory can be removed by this process right now, as an errno: `EROFS` when the
    /// file system is mounted read-only, `EACCES` when this user lacks write or search permission on the
    /// directory; `nil` when removals may go ahead. Asked before records are claimed, so a directory that
    /// refuses every removal leaves every record as it is.
    public func removalBlocked() -> Int32? {
        var info = statvfs()
        if fstatvfs(descriptor, &info) == 0, info.f_flag & UInt(ST_RDONLY) != 0 { return EROFS }
        if faccessat(descriptor, ".", W_OK | X_OK, AT_EACCESS) != 0 {
            let accessErrno = errno
            return accessErrno == EROFS || accessErrno == EACCES || accessErrno == EPERM ? accessErrno : nil
        }
        return nil
    }

    /// Removes the entry `name` of this directory if it is a regular file (looked at first by ``inspectEntry(named:)``).
    public func removeEntry(named name: String) -> RemovalOutcome {
        let inspected = inspectEntry(named: name)
        guard case .wouldRemove(let bytes) = inspected else { return inspected }
        // unlinkat without AT_REMOVEDIR never removes a directory and removes a symlink itself, never its
        // target: a race that swaps the entry after fstatat cannot reach outside the directory.
        if unlinkat(descriptor, name, 0) != 0 {
            let unlinkErrno = errno
            return unlinkErrno == ENOENT ? .alreadyMissing : .failed(errno: unlinkErrno)
        }
        return .removed(bytes: bytes)
    }

    /// A name of one entry of this directory: not empty, no `/`, not `.` or `..`. Bytes, not Characters:
    /// `"/\u{301}"` is one Character that is not `"/"`, but the kernel sees a separator.
    static func isPlainName(_ name: String) -> Bool {
        !name.isEmpty && !name.utf8.contains(UInt8(ascii: "/")) && name != "." && name != ".."
    }

    // MARK: - The claims journal

    /// The entry of the claims journal's first file (see ``ClaimsJournalFile``): the files of records claimed (or
    /// about to be) whose removal is not yet done. A dot name, which no export file has; never counted as an export file.
    public static let claimsJournalName = ClaimsJournalFile.first.name

    /// The entries of both claims journal files; skipped by every listing of the directory.
    public static let claimsJournalNames: Set<String> = Set(ClaimsJournalFile.allCases.map(\.name))

    /// The bytes of one claims journal file, or `nil` when there is none.
    public func readClaimsJournal(_ file: ClaimsJournalFile = .first) throws(ExportStorageError) -> [UInt8]? {
        let fd = openat(descriptor, file.name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else {
            let openErrno = errno
            if openErrno == ENOENT { return nil }
            throw journalError("cannot read", file, openErrno)
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw journalError("cannot read", file, errno)
            }
            if count == 0 { return bytes }
            bytes += chunk[..<count]
        }
    }

    /// Replaces one claims journal file with `bytes` and syncs it to disk (see ``writeClaimsJournal(to:_:)``).
    public func writeClaimsJournal(_ bytes: [UInt8], to file: ClaimsJournalFile = .first) throws(ExportStorageError) {
        try writeClaimsJournal(to: file) { (write) throws(ExportStorageError) in try write(bytes[...]) }
    }

    /// Replaces one claims journal file with the bytes `produce` passes to `write`, piece by piece (a journal of
    /// thousands of claims is never held whole), and syncs it to disk (`fdatasync`) before returning, so a claim
    /// committed after this call is never lost by a crash. The file is `0600`, never written through a symlink.
    public func writeClaimsJournal(
        to file: ClaimsJournalFile = .first,
        _ produce: (_ write: (ArraySlice<UInt8>) throws(ExportStorageError) -> Void) throws(ExportStorageError) -> Void
    ) throws(ExportStorageError) {
        let fd = openat(descriptor, file.name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw journalError("cannot write", file, errno) }
        defer { close(fd) }
        try produce { (bytes) throws(ExportStorageError) in
            var offset = bytes.startIndex
            while offset < bytes.endIndex {
                let count = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                if count < 0 {
                    if errno == EINTR { continue }
                    throw journalError("cannot write", file, errno)
                }
                offset += count
            }
        }
        guard fdatasync(fd) == 0 else { throw journalError("cannot sync", file, errno) }
    }

    /// Removes one claims journal file (a missing one is fine).
    public func removeClaimsJournal(_ file: ClaimsJournalFile = .first) throws(ExportStorageError) {
        if unlinkat(descriptor, file.name, 0) != 0, errno != ENOENT { throw journalError("cannot remove", file, errno) }
    }

    private func journalError(_ what: String, _ file: ClaimsJournalFile, _ code: Int32) -> ExportStorageError {
        ExportStorageError(.systemCall, path: directory.path + "/" + file.name, errno: code,
                           message: "\(what) the claims journal '\(directory.path)/\(file.name)': this user needs to read and write "
                            + "the storage directory")
    }

    /// The pid holding a `flock` on this directory, read from `/proc/locks`, if any.
    func lockHolder() -> Int32? {
        var info = stat()
        guard fstat(descriptor, &info) == 0, let file = fopen("/proc/locks", "r") else { return nil }
        defer { fclose(file) }
        let dev = UInt64(info.st_dev)
        let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & ~UInt64(0xfff))
        let minor = (dev & 0xff) | ((dev >> 12) & ~UInt64(0xff))
        let target = String(major, radix: 16).leftPadded(2) + ":" + String(minor, radix: 16).leftPadded(2) + ":\(info.st_ino)"
        var line: UnsafeMutablePointer<CChar>?
        var capacity = 0
        defer { free(line) }
        while getline(&line, &capacity, file) > 0, let line {
            // "1: FLOCK  ADVISORY  WRITE 1234 fd:01:5678 0 EOF"
            let fields = String(cString: line).split(separator: " ", omittingEmptySubsequences: true)
            if fields.count >= 6, fields[1] == "FLOCK", fields[5] == target, let pid = Int32(fields[4]), pid != getpid() {
                return pid
            }
        }
        return nil
    }
}

/// One of the two files of the claims journal. A sweep that removes one batch's files while it claims the next
/// writes them in turn, each holding every claim whose file may still be there: while one is being rewritten (a
/// crash can cut that write short), the other still names every claim whose removal may be under way.
public enum ClaimsJournalFile: Int, CaseIterable, Sendable {
    case first, second

    /// Its entry name in the storage directory.
    public var name: String { self == .first ? ".export-cleanup-claims" : ".export-cleanup-claims-2" }

    /// The other file.
    public var other: ClaimsJournalFile { self == .first ? .second : .first }
}

/// A readable name for the type bits of a mode.
func fileKind(_ mode: mode_t) -> String {
    switch mode & S_IFMT {
    case S_IFREG: return "regular file"
    case S_IFDIR: return "directory"
    case S_IFLNK: return "symbolic link"
    case S_IFIFO: return "fifo"
    case S_IFSOCK: return "socket"
    case S_IFCHR: return "character device"
    case S_IFBLK: return "block device"
    default: return "special file"
    }
}
