/// The format of an export file, which is also its file extension.
public enum ExportFormat: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case csv
    case json
    case xlsx

    /// Reads a format as the application names it: `csv`, `json`, `xlsx`, or `excel` (an alias of `xlsx`),
    /// in any letter case.
    /// - Throws: ``ExportStorageError`` with code `invalidFormat`, naming what is allowed.
    public init(parsing text: String) throws(ExportStorageError) {
        switch text.lowercased() {
        case "csv": self = .csv
        case "json": self = .json
        case "xlsx", "excel": self = .xlsx
        default:
            throw ExportStorageError(
                .invalidFormat,
                message: "unknown export format '\(text)': use one of csv, json, xlsx (or excel, written as xlsx)")
        }
    }

    /// The format whose extension is exactly these bytes (lower case), if any.
    init?(extensionBytes bytes: some Collection<UInt8>) {
        switch bytes.count {
        case 3 where bytes.elementsEqual("csv".utf8): self = .csv
        case 4 where bytes.elementsEqual("json".utf8): self = .json
        case 4 where bytes.elementsEqual("xlsx".utf8): self = .xlsx
        default: return nil
        }
    }

    /// The file extension, without the dot.
    public var fileExtension: String { rawValue }

    public var description: String { rawValue }
}
