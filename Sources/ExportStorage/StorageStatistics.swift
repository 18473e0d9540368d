#if canImport(Glibc)
import Glibc
#endif

/// What the storage directory holds, counted in one pass (`readdir` + `fstatat`, symlinks not followed).
public struct StorageStatistics: Sendable, Hashable, Codable {
    /// A file and its modification time.
    public struct FileInfo: Sendable, Hashable, Codable {
        /// A file as `fstatat` saw it.
        public init(name: String, modifiedSecondsSinceEpoch: Int64, bytes: Int64) {
            self.name = name
            self.modifiedSecondsSinceEpoch = modifiedSecondsSinceEpoch
            self.bytes = bytes
        }

        /// The entry name.
        public var name: String
        /// Modification time, seconds since 1970 (UTC).
        public var modifiedSecondsSinceEpoch: Int64
        /// Size in bytes.
        public var bytes: Int64
    }

    /// Regular files (conforming to the naming rule or not).
    public var totalFiles = 0
    /// Their total size in bytes.
    public var totalBytes: Int64 = 0
    /// The oldest regular file by modification time.
    public var oldestFile: FileInfo?
    /// The newest regular file by modification time.
    public var newestFile: FileInfo?
    /// Regular files following the naming rule, by export type.
    public var filesByExportType: [String: Int] = [:]
    /// Regular files following the naming rule, by format.
    public var filesByFormat: [String: Int] = [:]
    /// Regular files whose names do not follow the naming rule.
    public var nonconformingFiles = 0
    /// Symbolic links (never followed, not counted as files).
    public var symlinks = 0
    /// Directories, fifos, sockets and devices (not counted as files).
    public var otherEntries = 0

    /// Total size in MiB, rounded to two decimals (`total_size_mb` in `stats --json`).
    public var totalMegabytes: Double { (Double(totalBytes) / 1_048_576 * 100).rounded() / 100 }

    /// An empty count.
    public init() {}

    /// Counts one regular file.
    public mutating func add(_ file: FileInfo) {
        totalFiles += 1
        totalBytes += file.bytes
        if oldestFile.map({ Self.isOlder(file, than: $0) }) ?? true { oldestFile = file }
        if newestFile.map({ Self.isOlder($0, than: file) }) ?? true { newestFile = file }
        if let parsed = ExportFileName.parse(file.name) {
            filesByExportType[parsed.exportType, default: 0] += 1
            filesByFormat[parsed.format.rawValue, default: 0] += 1
        } else {
            nonconformingFiles += 1
        }
    }

    /// These counts and `other`'s together: e.g. the directory after a sweep plus the files the sweep removed
    /// is the directory before it, without a second pass over it.
    public func adding(_ other: StorageStatistics) -> StorageStatistics {
        var sum = self
        sum.totalFiles += other.totalFiles
        sum.totalBytes += other.totalBytes
        if let oldest = other.oldestFile, sum.oldestFile.map({ Self.isOlder(oldest, than: $0) }) ?? true { sum.oldestFile = oldest }
        if let newest = other.newestFile, sum.newestFile.map({ Self.isOlder($0, than: newest) }) ?? true { sum.newestFile = newest }
        sum.filesByExportType.merge(other.filesByExportType, uniquingKeysWith: +)
        sum.filesByFormat.merge(other.filesByFormat, uniquingKeysWith: +)
        sum.nonconformingFiles += other.nonconformingFiles
        sum.symlinks += other.symlinks
        sum.otherEntries += other.otherEntries
        return sum
    }

    /// Modification time first, the name breaking ties (so the order is total).
    private static func isOlder(_ a: FileInfo, than b: FileInfo) -> Bool {
        (a.modifiedSecondsSinceEpoch, a.name) < (b.modifiedSecondsSinceEpoch, b.name)
    }
}

extension OpenStorageDirectory {
    /// Counts the directory in one pass (``forEachEntry(_:)``); entries that vanish meanwhile are skipped.
    public func statistics() throws(ExportStorageError) -> StorageStatistics {
        var stats = StorageStatistics()
        try forEachEntry { entry in
            if entry.isRegularFile {
                stats.add(StorageStatistics.FileInfo(name: entry.name, modifiedSecondsSinceEpoch: entry.modifiedSecondsSinceEpoch, bytes: entry.bytes))
            } else if entry.isSymbolicLink {
                stats.symlinks += 1
            } else {
                stats.otherEntries += 1
            }
            return true
        }
        return stats
    }
}
