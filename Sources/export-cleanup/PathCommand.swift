import ArgumentParser
import ExportStorage
import Foundation

struct PathCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "path",
        abstract: "Prints the full path of the export file to write for a job (creating the storage directory 0750).",
        discussion: """
            The storage directory comes from --storage, the environment or the configuration file, as for \
            sweep (exit 78 on a configuration error).

            Example:
              export-cleanup path --storage /tmp/x --job-id exp_a1b2c3d4e5f6 --type hotels --format csv \\
                  --timestamp 2023-11-16T14:30:22Z
              /tmp/x/hotels_exp_a1b2c3d4e5f6_20231116_143022.csv
            """)

    @OptionGroup var file: ConfigFileOption
    @OptionGroup var storage: StorageOption

    @Option(name: .customLong("job-id"), help: "The job id, e.g. exp_a1b2c3d4e5f6.")
    var jobID: String

    @Option(name: .customLong("type"), help: "The export type, e.g. hotels or supplier_summary.")
    var exportType: String

    @Option(help: "The format: csv, json, xlsx (or excel).")
    var format: String

    @Option(help: "The export's time, ISO 8601 (e.g. 2023-11-16T14:30:22Z); default: now. Written in UTC.")
    var timestamp: String?

    func run() throws {
        let settings = try loadSettings(config: file.config, flags: storage.flags)
        let directory = StorageDirectory(path: settings.storagePath)
        var time = Date()
        if let timestamp {
            guard let parsed = parseISO8601(timestamp) else {
                throw fail("--timestamp '\(timestamp)' is not ISO 8601: write e.g. 2023-11-16T14:30:22Z", code: Exit.usage)
            }
            time = parsed
        }
        let name = try withStorageErrors { () throws(ExportStorageError) in
            try ExportFileName(exportType: exportType, jobID: jobID, timestamp: time, format: try ExportFormat(parsing: format))
        }
        let status = try withStorageErrors { () throws(ExportStorageError) in try directory.prepare() }
        if let warning = status.warning { printError("\(programName): warning: \(warning)") }
        print(directory.filePath(for: name))
    }
}

/// Parses `2023-11-16T14:30:22Z`, with optional fraction and offset, or a date-time with a space.
func parseISO8601(_ text: String) -> Date? {
    let normalized = text.replacingOccurrences(of: " ", with: "T")
    for options: ISO8601DateFormatter.Options in [[.withInternetDateTime, .withFractionalSeconds], [.withInternetDateTime]] {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = options
        if let date = formatter.date(from: normalized) { return date }
    }
    return nil
}
