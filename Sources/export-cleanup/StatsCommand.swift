import ArgumentParser
import CoreSupport
import ExportStorage

struct StatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Shows what the storage directory holds: files, bytes, oldest and newest, by type and format.",
        discussion: """
            Symlinks are counted but never followed. Files whose names do not follow the naming rule are \
            counted as nonconforming.

            The storage directory comes from --storage, the environment or the configuration file, as for \
            sweep (exit 78 on a configuration error).

            Examples:
              export-cleanup stats --storage /srv/app/exports
              export-cleanup stats --storage /srv/app/exports --json
              export-cleanup stats --config /etc/export-cleanup/export-cleanup.conf
            """)

    @OptionGroup var file: ConfigFileOption
    @OptionGroup var storage: StorageOption

    @Flag(help: "Print JSON (keys total_files, total_size_bytes, total_size_mb, oldest_file, newest_file, ...).")
    var json = false

    func run() throws {
        let settings = try loadSettings(config: file.config, flags: storage.flags)
        let directory = StorageDirectory(path: settings.storagePath)
        let stats = try withStorageErrors { () throws(ExportStorageError) in try directory.statistics() }
        print(json ? jsonText(StatsReport(directory.path, stats)) : statsTable(directory.path, stats))
    }
}

/// The JSON form of storage statistics, with snake_case keys.
struct StatsReport: Encodable {
    struct File: Encodable {
        var name: String
        var modified: String
        var sizeBytes: Int64
    }
    var storagePath: String
    var totalFiles: Int
    var totalSizeBytes: Int64
    var totalSizeMb: Double
    var oldestFile: File?
    var newestFile: File?
    var filesByExportType: [String: Int]
    var filesByFormat: [String: Int]
    var nonconformingFiles: Int
    var symlinks: Int
    var otherEntries: Int

    init(_ path: String, _ stats: StorageStatistics) {
        func file(_ info: StorageStatistics.FileInfo?) -> File? {
            info.map { File(name: $0.name, modified: UTCDateTime(secondsSinceEpoch: $0.modifiedSecondsSinceEpoch).iso8601, sizeBytes: $0.bytes) }
        }
        storagePath = path
        totalFiles = stats.totalFiles
        totalSizeBytes = stats.totalBytes
        totalSizeMb = stats.totalMegabytes
        oldestFile = file(stats.oldestFile)
        newestFile = file(stats.newestFile)
        filesByExportType = stats.filesByExportType
        filesByFormat = stats.filesByFormat
        nonconformingFiles = stats.nonconformingFiles
        symlinks = stats.symlinks
        otherEntries = stats.otherEntries
    }

    func encode(to encoder: any Encoder) throws {
        // Encode nil files as JSON null rather than omitting the keys.
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(storagePath, forKey: .storagePath)
        try container.encode(totalFiles, forKey: .totalFiles)
        try container.encode(totalSizeBytes, forKey: .totalSizeBytes)
        try container.encode(totalSizeMb, forKey: .totalSizeMb)
        try container.encode(oldestFile, forKey: .oldestFile)
        try container.encode(newestFile, forKey: .newestFile)
        try container.encode(filesByExportType, forKey: .filesByExportType)
        try container.encode(filesByFormat, forKey: .filesByFormat)
        try container.encode(nonconformingFiles, forKey: .nonconformingFiles)
        try container.encode(symlinks, forKey: .symlinks)
        try container.encode(otherEntries, forKey: .otherEntries)
    }

    enum CodingKeys: String, CodingKey {
        case storagePath, totalFiles, totalSizeBytes, totalSizeMb, oldestFile, newestFile, filesByExportType,
            filesByFormat, nonconformingFiles, symlinks, otherEntries
    }
}

/// The readable form of storage statistics.
func statsTable(_ path: String, _ stats: StorageStatistics) -> String {
    var lines = ["Storage \(path)"]
    func row(_ label: String, _ value: String) { lines.append("  " + label.padding(toLength: 18, withPad: " ", startingAt: 0) + value) }
    row("files", "\(stats.totalFiles)")
    row("size", "\(humanBytes(stats.totalBytes)) (\(stats.totalBytes) bytes, \(stats.totalMegabytes) MB)")
    row("oldest", stats.oldestFile.map { "\($0.name) (\(UTCDateTime(secondsSinceEpoch: $0.modifiedSecondsSinceEpoch).iso8601))" } ?? "-")
    row("newest", stats.newestFile.map { "\($0.name) (\(UTCDateTime(secondsSinceEpoch: $0.modifiedSecondsSinceEpoch).iso8601))" } ?? "-")
    row("by type", stats.filesByExportType.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ").ifEmpty("-"))
    row("by format", stats.filesByFormat.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ").ifEmpty("-"))
    row("nonconforming", "\(stats.nonconformingFiles)")
    row("symlinks", "\(stats.symlinks) (not followed)")
    row("other entries", "\(stats.otherEntries)")
    return lines.joined(separator: "\n")
}

extension String {
    func ifEmpty(_ replacement: String) -> String { isEmpty ? replacement : self }
}
