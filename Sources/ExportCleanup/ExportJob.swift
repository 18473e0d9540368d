/// One row of the application's `export_jobs` table, as far as cleanup reads it.
///
/// Timestamps and `file_path` stay in their stored form (``StoredValue``): the policy parses them, reports
/// what it cannot read, and updates match them exactly.
public struct ExportJob: Sendable, Hashable {
    /// The primary key, e.g. `exp_a1b2c3d4e5f6`.
    public var id: String
    /// The export type, e.g. `hotels` (for logs).
    public var exportType: String
    /// The format column, e.g. `csv` (for logs).
    public var format: String
    /// The status column as stored: `pending`, `processing`, `completed`, `failed`, `expired`, or other.
    public var status: String
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
        id: String, exportType: String = "", format: String = "", status: String, filePath: StoredValue = .null,
        createdAt: StoredValue = .null, completedAt: StoredValue = .null, expiresAt: StoredValue = .null
    ) {
        self.id = id
        self.exportType = exportType
        self.format = format
        self.status = status
        self.filePath = filePath
        self.createdAt = createdAt
        self.completedAt = completedAt
        self.expiresAt = expiresAt
    }
}

/// The statuses the application writes.
public enum JobStatus {
    public static let pending = "pending"
    public static let processing = "processing"
    public static let completed = "completed"
    public static let failed = "failed"
    public static let expired = "expired"
}
