public import ExportStorage

/// One row of the application's `export_jobs` table, as far as cleanup reads it.
///
/// Timestamps and `file_path` stay in their stored form (``StoredValue``): the policy parses them, reports
/// what it cannot read, and updates match them exactly.
public struct ExportJob: Sendable, Hashable {
    /// The store's key of the row (SQLite: the rowid), used with every other column to guard updates; 0 for a
    /// job built by hand.
    public var key: Int64
    /// The primary key as text, e.g. `exp_a1b2c3d4e5f6` (an INTEGER id as its decimal digits).
    public var id: String
    /// The primary key as stored (storage class included): updates match it exactly.
    public var storedID: StoredValue
    /// `export_type` as stored, e.g. `'hotels'`: part of the file's name.
    public var exportType: StoredValue
    /// `format` as stored, e.g. `'csv'` or `'excel'`: makes the file's extension.
    public var format: StoredValue
    /// The status column (the rules read only rows whose status is TEXT).
    public var status: JobStatus
    /// `file_path` as stored.
    public var filePath: StoredValue
    /// `created_at` as stored.
    public var createdAt: StoredValue
    /// `completed_at` as stored.
    public var completedAt: StoredValue
    /// `expires_at` as stored.
    public var expiresAt: StoredValue

    /// Creates a job.
    public init(
        key: Int64 = 0, id: String, storedID: StoredValue? = nil, exportType: StoredValue = "hotels", format: StoredValue = "csv", status: JobStatus,
        filePath: StoredValue = .null, createdAt: StoredValue = .null, completedAt: StoredValue = .null, expiresAt: StoredValue = .null
    ) {
        self.key = key
        self.id = id
        self.storedID = storedID ?? .text(id)
        self.exportType = exportType
        self.format = format
        self.status = status
        self.filePath = filePath
        self.createdAt = createdAt
        self.completedAt = completedAt
        self.expiresAt = expiresAt
    }
}

/// A job's `status` column: the statuses the application writes, and any other text as it is.
public enum JobStatus: Sendable, Hashable, CustomStringConvertible, ExpressibleByStringLiteral {
    case pending
    case processing
    case completed
    case failed
    case expired
    /// A status the application does not document; never swept.
    case other(String)

    /// The status a column's text names.
    public init(rawValue: String) {
        switch rawValue {
        case "pending": self = .pending
        case "processing": self = .processing
        case "completed": self = .completed
        case "failed": self = .failed
        case "expired": self = .expired
        default: self = .other(rawValue)
        }
    }

    /// A status from its text (tests and literals).
    public init(stringLiteral value: String) { self.init(rawValue: value) }

    /// The column's text.
    public var rawValue: String {
        switch self {
        case .pending: return "pending"
        case .processing: return "processing"
        case .completed: return "completed"
        case .failed: return "failed"
        case .expired: return "expired"
        case .other(let text): return text
        }
    }

    public var description: String { rawValue }
}

extension ExportJob {
    /// The columns the record's file name is made from, as text (a value that is not TEXT is shown as
    /// `<INTEGER 5>`, which makes no file name).
    public var recordName: RecordName { RecordName(exportType: Self.nameText(exportType), jobID: id, format: Self.nameText(format)) }

    private static func nameText(_ value: StoredValue) -> String {
        if case .text(let text) = value { return text }
        return "<\(value.storageClass) \(value)>"
    }
}
