import Foundation
import GRDB

/// Writes databases the way the Python/SQLAlchemy application does: the exact `export_jobs` DDL and datetime
/// text `YYYY-MM-DD HH:MM:SS.ffffff`. Used by the demo, the benchmark and tests; the sweep never creates a
/// database.
public final class ApplicationDatabase {
    /// The application's DDL, verbatim.
    public static let ddl = """
        CREATE TABLE export_jobs (
          id VARCHAR(50) NOT NULL, export_type VARCHAR(50) NOT NULL, format VARCHAR(10) NOT NULL,
          status VARCHAR(20) NOT NULL, file_path VARCHAR(500), file_size_bytes INTEGER,
          created_at DATETIME NOT NULL, completed_at DATETIME, expires_at DATETIME, error_message TEXT,
          PRIMARY KEY (id));
        CREATE INDEX ix_export_jobs_completed_at ON export_jobs (completed_at);
        CREATE INDEX ix_export_jobs_status ON export_jobs (status);
        """

    /// One row to insert; datetimes as stored values so tests can write any storage class.
    public struct Row: Sendable {
        public var id: String
        public var exportType: String
        public var format: String
        public var status: String
        public var filePath: StoredValue
        public var fileSizeBytes: Int64?
        public var createdAt: StoredValue
        public var completedAt: StoredValue
        public var expiresAt: StoredValue
        public var errorMessage: String?

        /// Creates a row.
        public init(
            id: String, exportType: String = "hotels", format: String = "csv", status: String,
            filePath: StoredValue = .null, fileSizeBytes: Int64? = nil, createdAt: StoredValue,
            completedAt: StoredValue = .null, expiresAt: StoredValue = .null, errorMessage: String? = nil
        ) {
            self.id = id
            self.exportType = exportType
            self.format = format
            self.status = status
            self.filePath = filePath
            self.fileSizeBytes = fileSizeBytes
            self.createdAt = createdAt
            self.completedAt = completedAt
            self.expiresAt = expiresAt
            self.errorMessage = errorMessage
        }
    }

    private let queue: DatabaseQueue

    /// Creates a new database file with the application's schema (the file must not exist).
    public init(creatingAt path: String) throws {
        guard !FileManager.default.fileExists(atPath: path) else {
            throw CocoaError(.fileWriteFileExists, userInfo: [NSFilePathErrorKey: path])
        }
        queue = try DatabaseQueue(path: path)
        try queue.write { db in try db.execute(sql: Self.ddl) }
    }

    /// Opens an existing database to add rows.
    public init(openingAt path: String) throws {
        queue = try DatabaseQueue(path: path)
    }

    /// Inserts rows in one transaction.
    public func insert(_ rows: some Sequence<Row>) throws {
        try queue.write { db in
            let statement = try db.makeStatement(sql: """
                INSERT INTO export_jobs (id, export_type, format, status, file_path, file_size_bytes, created_at,
                    completed_at, expires_at, error_message) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
            for row in rows {
                try statement.execute(arguments: [
                    row.id, row.exportType, row.format, row.status, row.filePath.databaseValue, row.fileSizeBytes,
                    row.createdAt.databaseValue, row.completedAt.databaseValue, row.expiresAt.databaseValue, row.errorMessage,
                ])
            }
        }
    }

    /// Runs SQL (for tests that need to set up odd cases).
    public func execute(_ sql: String) throws {
        try queue.write { db in try db.execute(sql: sql) }
    }

    /// The SQLAlchemy text of an instant: `2023-11-16 14:30:22.123456`.
    public static func text(_ instant: UTCInstant) -> StoredValue { .text(instant.databaseText) }
}
