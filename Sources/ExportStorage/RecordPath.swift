/// Why a record's `file_path` may not be removed. The record is left as it is and reported.
public enum RemovalRefusal: Error, Sendable, Hashable, CustomStringConvertible {
    /// `file_path` is empty.
    case emptyPath
    /// `file_path` is not a plain path: it holds a NUL, a `.` or `..` component, ends in `/`, or is longer
    /// than `PATH_MAX`.
    case invalidPath(String)
    /// `file_path` names something in another directory than the storage directory.
    case outsideStorage(parent: String)
    /// `file_path` names the storage directory itself.
    case storageDirectoryItself
    /// The entry's name does not follow `{export_type}_{job_id}_{YYYYMMDD_HHMMSS}.{ext}`, or the record's own
    /// `export_type`, `id` or `format` cannot make such a name.
    case notAnExportFileName(String)
    /// The entry's name is not the one the record's own `export_type`, `id` and `format` make (another job's
    /// file, another type or another format).
    case nameMismatch(name: String, expected: String)
    /// The entry is not a regular file (a symlink, directory, fifo, socket or device).
    case notRegularFile(kind: String)

    /// A stable short code for reports and logs, e.g. `outside_storage`.
    public var code: String {
        switch self {
        case .emptyPath: return "empty_path"
        case .invalidPath: return "invalid_path"
        case .outsideStorage: return "outside_storage"
        case .storageDirectoryItself: return "storage_directory_itself"
        case .notAnExportFileName: return "not_an_export_file_name"
        case .nameMismatch: return "name_mismatch"
        case .notRegularFile: return "not_a_regular_file"
        }
    }

    public var description: String {
        switch self {
        case .emptyPath:
            return "file_path is empty"
        case .invalidPath(let why):
            return "file_path is not a plain path (\(why))"
        case .outsideStorage(let parent):
            return "file_path is in '\(parent)', not in the storage directory"
        case .storageDirectoryItself:
            return "file_path names the storage directory itself"
        case .notAnExportFileName(let name):
            return "'\(name)' does not follow {export_type}_{job_id}_{YYYYMMDD_HHMMSS}.{csv|json|xlsx}"
        case .nameMismatch(let name, let expected):
            return "'\(name)' is not this record's file: its export_type, id and format make '\(expected)'"
        case .notRegularFile(let kind):
            return "the entry is a \(kind), not a regular file"
        }
    }
}

/// The rule that maps a record's `file_path` to an entry of the storage directory: a pure function, no disk.
///
/// A `file_path` names an entry only if it is non-empty, holds no NUL, no `..` component (a `.` component is
/// only allowed where it changes nothing, not as the last one), is at most
/// `PATH_MAX` bytes, its last component is a plain name, and its directory is the storage directory (for an
/// absolute path: the storage path made absolute, or its real path; for a relative path: the storage path as
/// configured; a bare name is taken as an entry). The name must be `{export_type}_{id}_{YYYYMMDD_HHMMSS}.{ext}`
/// made from the record's own `export_type`, `id` and `format` (``checkName(_:record:)``).
public struct RecordPathRule: Sendable, Hashable {
    /// The storage directory's path components, as configured (relative or absolute, no `.`).
    public let configuredComponents: [String]
    /// Whether the configured path is absolute.
    public let configuredIsAbsolute: Bool
    /// Absolute spellings of the storage directory (lexically absolute and real path), as components.
    public let absoluteSpellings: [[String]]

    /// Longest accepted `file_path`, in bytes (Linux `PATH_MAX`).
    public static let pathMax = 4096

    /// Creates the rule for a storage directory.
    /// - Parameters:
    ///   - storagePath: the storage path as configured.
    ///   - absolutePaths: the absolute spellings that records may use (e.g. the configured path made absolute
    ///     against the working directory, and the directory's real path).
    public init(storagePath: String, absolutePaths: [String]) {
        configuredIsAbsolute = storagePath.hasPrefix("/")
        configuredComponents = Self.components(storagePath).filter { $0 != "." }
        var spellings: [[String]] = []
        for path in absolutePaths where path.hasPrefix("/") {
            let parts = Self.components(path).filter { $0 != "." }
            if !parts.contains(".."), !spellings.contains(parts) { spellings.append(parts) }
        }
        absoluteSpellings = spellings
    }

    /// The entry name that `filePath` names for the record, or why it names none.
    public func entryName(forRecordPath filePath: String, record: RecordName) -> Result<String, RemovalRefusal> {
        if filePath.isEmpty { return .failure(.emptyPath) }
        if filePath.utf8.contains(0) { return .failure(.invalidPath("it contains a NUL byte")) }
        if filePath.unicodeScalars.contains("\u{FFFD}") {
            return .failure(.invalidPath("it is not valid UTF-8 (or holds U+FFFD)"))
        }
        if filePath.utf8.count > Self.pathMax { return .failure(.invalidPath("it is longer than PATH_MAX (\(Self.pathMax) bytes)")) }
        if filePath.hasSuffix("/") {
            if isStorageDirectory(filePath) { return .failure(.storageDirectoryItself) }
            return .failure(.invalidPath("it ends with '/'"))
        }
        let parts = Self.components(filePath)
        if parts.contains("..") { return .failure(.invalidPath("it has a '..' component")) }
        if parts.contains(".") && parts.last == "." { return .failure(.invalidPath("its last component is '.'")) }
        if isStorageDirectory(parts: parts, absolute: filePath.hasPrefix("/")) { return .failure(.storageDirectoryItself) }
        guard let name = parts.last else { return .failure(.invalidPath("it has no file name")) }
        let parent = Array(parts.dropLast()).filter { $0 != "." }
        let inside: Bool
        if filePath.hasPrefix("/") {
            inside = absoluteSpellings.contains { Self.sameBytes($0, parent) }
        } else {
            inside = parent.isEmpty || (!configuredIsAbsolute && Self.sameBytes(parent, configuredComponents))
        }
        guard inside else {
            let shown = (filePath.hasPrefix("/") ? "/" : "") + parent.joined(separator: "/")
            return .failure(.outsideStorage(parent: shown.isEmpty ? "." : shown))
        }
        return Self.checkName(name, record: record).map { name }
    }

    /// Checks that an entry name is exactly `{export_type}_{id}_{YYYYMMDD_HHMMSS}.{ext}` built from the record's
    /// own columns, byte for byte (the timestamp is the only part the record does not hold).
    ///
    /// Bytes, not `String` comparison: `String` equality is Unicode canonical equivalence, under which an NFC id
    /// (`é`) would claim the file of another job whose id is the NFD spelling (`e` + U+0301); the database and
    /// the kernel compare bytes, and so does this check. There is no looser fallback: a record of job `b1` never
    /// reaches the file of job `exp_b1`.
    public static func checkName(_ name: String, record: RecordName) -> Result<Void, RemovalRefusal> {
        let bytes = Array(name.utf8)
        // The tail every export name has: "_YYYYMMDD_HHMMSS.{csv|json|xlsx}".
        guard let dot = bytes.lastIndex(of: UInt8(ascii: ".")), dot > 16,
            let tailFormat = ExportFormat(extensionBytes: bytes[(dot + 1)...]),
            bytes.withUnsafeBufferPointer({ ExportFileName.parseTimestamp(UnsafeBufferPointer(rebasing: $0[(dot - 16)..<dot])) }) != nil
        else { return .failure(.notAnExportFileName(name)) }
        // The record's own columns must make a name of the convention.
        let type = record.exportType.utf8, id = record.jobID.utf8
        guard ExportFileName.isToken(type, maxUnderscores: nil), ExportFileName.isToken(id, maxUnderscores: 1),
            let format = ExportFormat(rawValue: record.format) ?? (try? ExportFormat(parsing: record.format))
        else {
            return .failure(.notAnExportFileName(name + " (the record's export_type '\(record.exportType)', id '\(record.jobID)' or format '\(record.format)' cannot make an export file name)"))
        }
        let stemEnd = dot - 16
        guard tailFormat == format, stemEnd == type.count + 1 + id.count, bytes[..<type.count].elementsEqual(type),
            bytes[type.count] == UInt8(ascii: "_"), bytes[(type.count + 1)..<stemEnd].elementsEqual(id)
        else {
            return .failure(.nameMismatch(name: name, expected: record.exportType + "_" + record.jobID + "_YYYYMMDD_HHMMSS." + format.fileExtension))
        }
        return .success(())
    }

    // MARK: - Internals

    private func isStorageDirectory(_ path: String) -> Bool {
        isStorageDirectory(parts: Self.components(path), absolute: path.hasPrefix("/"))
    }

    private func isStorageDirectory(parts: [String], absolute: Bool) -> Bool {
        let parts = parts.filter { $0 != "." }
        if absolute { return absoluteSpellings.contains { Self.sameBytes($0, parts) } }
        return !configuredIsAbsolute && Self.sameBytes(parts, configuredComponents)
    }

    /// Whether two component lists are the same bytes. Swift's `==` on strings is canonical equivalence (NFC and
    /// NFD spellings compare equal), but the kernel names directories by bytes.
    static func sameBytes(_ a: [String], _ b: [String]) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { $0.utf8.elementsEqual($1.utf8) }
    }

    /// The path's components, split on the byte `/` as the kernel does (not on `Character`s: a `/` followed by
    /// a combining mark is one `Character` but still a separator for `unlinkat`).
    static func components(_ path: String) -> [String] {
        path.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true).map { String(decoding: $0, as: UTF8.self) }
    }
}

/// The columns of a record that its file's name is made from, as the record holds them (text).
public struct RecordName: Sendable, Hashable {
    /// `export_type`, e.g. `hotels`.
    public var exportType: String
    /// `id`, e.g. `exp_a1b2c3d4e5f6`.
    public var jobID: String
    /// `format`, e.g. `csv` or `excel` (written as `xlsx`).
    public var format: String

    /// Creates the name parts of a record.
    public init(exportType: String, jobID: String, format: String) {
        self.exportType = exportType
        self.jobID = jobID
        self.format = format
    }
}
