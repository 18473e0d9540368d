import CoreSupport
public import struct Foundation.Date

/// The name of an export file: `{export_type}_{job_id}_{YYYYMMDD_HHMMSS}.{ext}`, the timestamp in UTC.
///
/// ## The naming rule
/// - A *word* is one or more of `A-Z a-z 0-9 -`.
/// - `export_type` is one or more words joined by `_` (`hotels`, `supplier_summary`), at most 50 characters.
/// - `job_id` is one word (`a1b2c3d4`) or two words joined by one `_` (`exp_a1b2c3d4e5f6`), at most
///   50 characters.
/// - The timestamp is `YYYYMMDD_HHMMSS` in UTC, a real date and time from 1970 to 9999.
/// - The extension is `csv`, `json` or `xlsx` (lower case).
///
/// Reading a name back is unambiguous: of the words before the timestamp, the job id is the last two when
/// there are three or more, else the last one; the export type is the rest. So a one-word job id only goes
/// with a one-word export type: `hotels_a1b2c3_…` is fine, but `supplier_summary_a1b2c3_…` would read back as
/// type `supplier`, job id `summary_a1b2c3`, and ``init(exportType:jobID:timestamp:format:)`` refuses it.
public struct ExportFileName: Hashable, Sendable, CustomStringConvertible {
    /// The export type, e.g. `supplier_summary`.
    public let exportType: String
    /// The job id, e.g. `exp_a1b2c3d4e5f6`.
    public let jobID: String
    /// The timestamp, in whole seconds since 1970-01-01 UTC.
    public let secondsSinceEpoch: Int64
    /// The format, which is also the extension.
    public let format: ExportFormat

    /// The longest export type or job id accepted (the application's columns are VARCHAR(50)).
    public static let maximumTokenLength = 50

    /// Validates the parts and makes a name.
    /// - Parameters:
    ///   - timestamp: the moment the export was made; fractions of a second are dropped.
    /// - Throws: ``ExportStorageError`` (`invalidExportType`, `invalidJobID`, `invalidTimestamp`,
    ///   `ambiguousName`) saying which part is wrong and what is allowed.
    public init(exportType: String, jobID: String, timestamp: Date, format: ExportFormat) throws(ExportStorageError) {
        let seconds = timestamp.timeIntervalSince1970
        guard seconds.isFinite, seconds >= 0, seconds < Double(Self.endOfYear9999) else {
            throw ExportStorageError(
                .invalidTimestamp,
                message: "timestamp \(seconds) s since 1970 cannot be written as YYYYMMDD_HHMMSS: use a time from 1970 to 9999")
        }
        try self.init(exportType: exportType, jobID: jobID, secondsSinceEpoch: Int64(seconds.rounded(.down)), format: format)
    }

    /// Validates the parts and makes a name, the timestamp given in whole seconds since 1970 (UTC).
    public init(exportType: String, jobID: String, secondsSinceEpoch: Int64, format: ExportFormat) throws(ExportStorageError) {
        try Self.validateExportType(exportType)
        try Self.validateJobID(jobID)
        guard secondsSinceEpoch >= 0, secondsSinceEpoch < Self.endOfYear9999 else {
            throw ExportStorageError(
                .invalidTimestamp,
                message: "timestamp \(secondsSinceEpoch) s since 1970 cannot be written as YYYYMMDD_HHMMSS: use a time from 1970 to 9999")
        }
        let typeWords = exportType.split(separator: "_", omittingEmptySubsequences: false).count
        let idWords = jobID.split(separator: "_", omittingEmptySubsequences: false).count
        if idWords == 1 && typeWords > 1 {
            let words = exportType.split(separator: "_")
            let readType = words.dropLast().joined(separator: "_")
            throw ExportStorageError(
                .ambiguousName,
                message: "export type '\(exportType)' with job id '\(jobID)' would be read back as type '\(readType)', "
                    + "job id '\(words.last!)_\(jobID)': give the job id a prefix (e.g. 'exp_\(jobID)') or use a one-word export type")
        }
        self.exportType = exportType
        self.jobID = jobID
        self.secondsSinceEpoch = secondsSinceEpoch
        self.format = format
    }

    /// The timestamp as a `Date`.
    public var timestamp: Date { Date(timeIntervalSince1970: Double(secondsSinceEpoch)) }

    /// The file name, e.g. `hotels_exp_a1b2c3d4e5f6_20231116_143022.csv`.
    public var fileName: String {
        "\(exportType)_\(jobID)_\(Self.formatTimestamp(secondsSinceEpoch)).\(format.fileExtension)"
    }

    public var description: String { fileName }

    /// Reads a file name back into its parts, or `nil` when it does not follow the naming rule.
    ///
    /// Works on the name's UTF-8 bytes in one pass (a sweep parses every due record's name, and `stats` every
    /// entry of the directory): the words are checked as they are split, so the result needs no second
    /// validation. It accepts exactly what ``init(exportType:jobID:secondsSinceEpoch:format:)`` accepts.
    public static func parse(_ name: String) -> ExportFileName? {
        var name = name
        return name.withUTF8 { parse(bytes: $0) }
    }

    private static func parse(bytes: UnsafeBufferPointer<UInt8>) -> ExportFileName? {
        guard let dot = bytes.lastIndex(of: UInt8(ascii: ".")) else { return nil }
        let format: ExportFormat
        switch UnsafeBufferPointer(rebasing: bytes[(dot + 1)...]) {
        case let ext where ext.elementsEqual("csv".utf8): format = .csv
        case let ext where ext.elementsEqual("json".utf8): format = .json
        case let ext where ext.elementsEqual("xlsx".utf8): format = .xlsx
        default: return nil
        }
        // "_YYYYMMDD_HHMMSS" is 16 bytes.
        guard dot > 16, let seconds = parseTimestamp(UnsafeBufferPointer(rebasing: bytes[(dot - 16)..<dot])) else { return nil }
        let stemEnd = dot - 16
        // Words of the stem: non-empty, of word bytes, separated by single '_'. Remember the last two separators.
        var words = 0
        var wordStart = 0
        var lastSeparator = -1, previousSeparator = -1
        for index in 0...stemEnd {
            if index == stemEnd || bytes[index] == UInt8(ascii: "_") {
                guard index > wordStart else { return nil }
                words += 1
                if index < stemEnd {
                    previousSeparator = lastSeparator
                    lastSeparator = index
                    wordStart = index + 1
                }
            } else if !isWordByte(bytes[index]) {
                return nil
            }
        }
        guard words >= 2 else { return nil }
        // The job id is the last two words when there are three or more, else the last one.
        let split = words >= 3 ? previousSeparator : lastSeparator
        guard split <= maximumTokenLength, stemEnd - split - 1 <= maximumTokenLength else { return nil }
        let type = String(decoding: UnsafeBufferPointer(rebasing: bytes[..<split]), as: UTF8.self)
        let id = String(decoding: UnsafeBufferPointer(rebasing: bytes[(split + 1)..<stemEnd]), as: UTF8.self)
        // Every rule of the validating initializer holds by construction: tokens of word bytes and single '_',
        // at most 50 bytes, an id of at most two words, a one-word type whenever the id has one word (two
        // words in all), and a timestamp from 1970 to 9999.
        return ExportFileName(unchecked: type, jobID: id, secondsSinceEpoch: seconds, format: format)
    }

    private init(unchecked exportType: String, jobID: String, secondsSinceEpoch: Int64, format: ExportFormat) {
        self.exportType = exportType
        self.jobID = jobID
        self.secondsSinceEpoch = secondsSinceEpoch
        self.format = format
    }

    /// Checks an export type against the naming rule.
    /// - Throws: ``ExportStorageError`` with code `invalidExportType`.
    public static func validateExportType(_ type: String) throws(ExportStorageError) {
        if let problem = tokenProblem(type, maxUnderscores: nil) {
            throw ExportStorageError(
                .invalidExportType,
                message: "invalid export type '\(type)': \(problem); use words of A-Z, a-z, 0-9 and '-' joined by single '_', "
                    + "at most \(maximumTokenLength) characters (e.g. 'hotels', 'supplier_summary')")
        }
    }

    /// Checks a job id against the naming rule.
    /// - Throws: ``ExportStorageError`` with code `invalidJobID`.
    public static func validateJobID(_ id: String) throws(ExportStorageError) {
        if let problem = tokenProblem(id, maxUnderscores: 1) {
            throw ExportStorageError(
                .invalidJobID,
                message: "invalid job id '\(id)': \(problem); use one word of A-Z, a-z, 0-9 and '-', or two joined by one '_', "
                    + "at most \(maximumTokenLength) characters (e.g. 'exp_a1b2c3d4e5f6')")
        }
    }

    // MARK: - Internals

    /// 10000-01-01T00:00:00Z.
    static let endOfYear9999: Int64 = 253_402_300_800

    private static func isWordByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"):
            return true
        default:
            return false
        }
    }

    /// Whether `token` is one or more words joined by single `_` (at most `maxUnderscores` of them), at most
    /// ``maximumTokenLength`` bytes: ``tokenProblem(_:maxUnderscores:)`` without building a message (a sweep asks
    /// this for every due record).
    static func isToken(_ token: String.UTF8View, maxUnderscores: Int?) -> Bool {
        guard !token.isEmpty, token.count <= maximumTokenLength else { return false }
        var underscores = 0
        var previousWasUnderscore = true  // a leading '_' is an empty word
        for byte in token {
            if byte == UInt8(ascii: "_") {
                if previousWasUnderscore { return false }
                underscores += 1
                previousWasUnderscore = true
            } else if isWordByte(byte) {
                previousWasUnderscore = false
            } else {
                return false
            }
        }
        return !previousWasUnderscore && (maxUnderscores.map { underscores <= $0 } ?? true)
    }

    private static func tokenProblem(_ token: String, maxUnderscores: Int?) -> String? {
        if token.isEmpty { return "it is empty" }
        if token.utf8.count > maximumTokenLength { return "it is longer than \(maximumTokenLength) characters" }
        if let bad = token.unicodeScalars.first(where: { !($0.isASCII && (isWordByte(UInt8($0.value)) || $0 == "_")) }) {
            return "it contains '\(bad.escaped(asASCII: true))'"
        }
        let words = token.split(separator: "_", omittingEmptySubsequences: false)
        if words.contains(where: \.isEmpty) { return "it has an empty word (leading, trailing or double '_')" }
        if let maxUnderscores, words.count - 1 > maxUnderscores { return "it has more than \(maxUnderscores) '_'" }
        return nil
    }

    /// `YYYYMMDD_HHMMSS` of a time in UTC.
    static func formatTimestamp(_ seconds: Int64) -> String {
        UTCDateTime(secondsSinceEpoch: seconds).compact
    }

    /// Parses `_YYYYMMDD_HHMMSS` (16 bytes) into seconds since 1970, checking that the date is real.
    static func parseTimestamp(_ bytes: UnsafeBufferPointer<UInt8>) -> Int64? {
        guard bytes.count == 16, bytes[0] == UInt8(ascii: "_"), bytes[9] == UInt8(ascii: "_") else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for index in range {
                let byte = bytes[index]
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            return value
        }
        guard let year = number(1..<5), let month = number(5..<7), let day = number(7..<9),
            let hour = number(10..<12), let minute = number(12..<14), let second = number(14..<16)
        else { return nil }
        guard year >= 1970, (1...12).contains(month), day >= 1, day <= CivilCalendar.daysInMonth(year: year, month: month),
            hour < 24, minute < 60, second < 60
        else { return nil }
        return Int64(CivilCalendar.daysSinceEpoch(year: year, month: month, day: day)) * 86_400
            + Int64(hour * 3600 + minute * 60 + second)
    }
}
