package import ExportCleanup
import Foundation
import GRDB

/// Writes databases the way the Python/SQLAlchemy application does: the exact `export_jobs` DDL and datetime
/// text `YYYY-MM-DD HH:MM:SS.ffffff`. Used by the demo, the benchmark and the tests' fixtures; the sweep never
/// creates a database.
package final class ApplicationDatabase {
    /// The application's DDL, verbatim.
    package static let ddl = """
        CREATE TABLE export_jobs (
          id VARCHAR(50) NOT NULL, export_type VARCHAR(50) NOT NULL, format VARCHAR(10) NOT NULL,
          status VARCHAR(20) NOT NULL, file_path VARCHAR(500), file_size_bytes INTEGER,
          created_at DATETIME NOT NULL, completed_at DATETIME, expires_at DATETIME, error_message TEXT,
          PRIMARY KEY (id));
        CREATE INDEX ix_export_jobs_completed_at ON export_jobs (completed_at);
        CREATE INDEX ix_export_jobs_status ON export_jobs (status);
        """

    /// One row to insert; datetimes as stored values so tests can write any storage class.
    package struct Row: Sendable {
        package var id: String
        package var exportType: String
        package var format: String
        package var status: String
        package var filePath: StoredValue
        package var fileSizeBytes: Int64?
        package var createdAt: StoredValue
        package var completedAt: StoredValue
        package var expiresAt: StoredValue
        package var errorMessage: String?

        /// Creates a row.
        package init(
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

    /// The database file.
    package let path: String
    private let queue: DatabaseQueue

    /// Creates a new database file with the application's schema (the file must not exist).
    package init(creatingAt path: String) throws {
        guard !FileManager.default.fileExists(atPath: path) else {
            throw CocoaError(.fileWriteFileExists, userInfo: [NSFilePathErrorKey: path])
        }
        self.path = path
        queue = try DatabaseQueue(path: path)
        try queue.write { db in try db.execute(sql: Self.ddl) }
    }

    /// Opens an existing database to add rows.
    package init(openingAt path: String) throws {
        self.path = path
        queue = try DatabaseQueue(path: path)
    }

    /// Inserts rows in one transaction.
    package func insert(_ rows: some Sequence<Row>) throws {
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

    /// The SQLAlchemy text of an instant: `2023-11-16 14:30:22.123456`.
    package static func text(_ instant: UTCInstant) -> StoredValue { .text(instant.databaseText) }
}
