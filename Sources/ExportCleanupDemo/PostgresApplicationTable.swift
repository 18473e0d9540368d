import ExportCleanup
package import ExportCleanupPostgres

/// Writes the application's `export_jobs` table the way SQLAlchemy creates it on PostgreSQL: the exact DDL and
/// UTC wall time in `timestamp without time zone`. Used by the demo, the benchmark and tests; a sweep never
/// creates or changes a table.
package enum PostgresApplicationTable {
    /// The comment that marks a demo table (the only kind ``create(on:timestampType:replacingDemo:)`` replaces).
    package static let demoComment = "export-cleanup demo"

    /// The application's DDL on PostgreSQL (`timestampType`: `TIMESTAMP WITHOUT TIME ZONE`, SQLAlchemy's
    /// `DateTime`, or `TIMESTAMP WITH TIME ZONE`, `DateTime(timezone=True)`).
    package static func ddl(timestampType: String = "TIMESTAMP WITHOUT TIME ZONE") -> String {
        """
        CREATE TABLE export_jobs (
            id VARCHAR(50) NOT NULL, export_type VARCHAR(50) NOT NULL, format VARCHAR(10) NOT NULL,
            status VARCHAR(20) NOT NULL, file_path VARCHAR(500), file_size_bytes INTEGER,
            created_at \(timestampType) NOT NULL, completed_at \(timestampType), expires_at \(timestampType),
            error_message TEXT,
            PRIMARY KEY (id));
        CREATE INDEX ix_export_jobs_completed_at ON export_jobs (completed_at);
        CREATE INDEX ix_export_jobs_status ON export_jobs (status)
        """
    }

    /// Creates the table. An existing `export_jobs` is replaced only when `replacingDemo` and it carries
    /// ``demoComment``; the new table carries it when `replacingDemo`.
    package static func create(on connection: PostgresConnection, timestampType: String = "TIMESTAMP WITHOUT TIME ZONE",
                              replacingDemo: Bool = false) throws(PostgresError) {
        if replacingDemo, try connection.query("SELECT to_regclass('export_jobs')").scalar != nil {
            let comment = try connection.query("SELECT obj_description(to_regclass('export_jobs'), 'pg_class')").scalar
            guard comment == demoComment else {
                throw PostgresError(message: "'\(connection.target.masked)' already has a table export_jobs that is not a demo table: "
                                        + "pass the connection string of an empty database")
            }
            try connection.execute("DROP TABLE export_jobs")
        }
        try connection.execute("BEGIN; " + ddl(timestampType: timestampType) + "; "
                               + (replacingDemo ? "COMMENT ON TABLE export_jobs IS \(PostgresConnection.literal(demoComment)); " : "") + "COMMIT")
    }

    /// Inserts rows, one statement (`unnest` of arrays) per `chunk`, in one transaction whose `TimeZone` is UTC.
    /// Timestamps are TEXT values (UTC wall time, or with an offset, or PostgreSQL's own spellings such as
    /// `infinity`); any other storage class becomes NULL (PostgreSQL has no INTEGER timestamps).
    package static func insert(_ rows: [ApplicationDatabase.Row], on connection: PostgresConnection, chunk: Int = 20_000) throws(PostgresError) {
        try connection.execute("BEGIN; SET LOCAL TimeZone = 'UTC'")
        do {
            try insertChunks(rows, on: connection, chunk: chunk)
            try connection.execute("COMMIT")
        } catch {
            try? connection.execute("ROLLBACK")
            throw error
        }
    }

    private static func insertChunks(_ rows: [ApplicationDatabase.Row], on connection: PostgresConnection, chunk: Int) throws(PostgresError) {
        var start = 0
        while start < rows.count {
            let slice = rows[start..<min(rows.count, start + chunk)]
            func text(_ value: StoredValue) -> String? { value.text }
            try connection.query("""
                INSERT INTO export_jobs (id, export_type, format, status, file_path, file_size_bytes, created_at, completed_at, expires_at, error_message)
                SELECT id, export_type, format, status, file_path, file_size_bytes::integer, created_at::timestamptz AT TIME ZONE 'UTC',
                       completed_at::timestamptz AT TIME ZONE 'UTC', expires_at::timestamptz AT TIME ZONE 'UTC', error_message
                FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[])
                    AS v(id, export_type, format, status, file_path, file_size_bytes, created_at, completed_at, expires_at, error_message)
                """, [
                    PostgresConnection.arrayLiteral(slice.map(\.id)), PostgresConnection.arrayLiteral(slice.map(\.exportType)),
                    PostgresConnection.arrayLiteral(slice.map(\.format)), PostgresConnection.arrayLiteral(slice.map(\.status)),
                    PostgresConnection.arrayLiteral(slice.map { text($0.filePath) }),
                    PostgresConnection.arrayLiteral(slice.map { $0.fileSizeBytes.map(String.init) }),
                    PostgresConnection.arrayLiteral(slice.map { utc(text($0.createdAt)) }),
                    PostgresConnection.arrayLiteral(slice.map { utc(text($0.completedAt)) }),
                    PostgresConnection.arrayLiteral(slice.map { utc(text($0.expiresAt)) }),
                    PostgresConnection.arrayLiteral(slice.map(\.errorMessage)),
                ])
            start += chunk
        }
    }

    /// Datetime text without an offset is UTC wall time: `+00` makes the `timestamptz` cast read it so, and
    /// `AT TIME ZONE 'UTC'` turns it back into UTC wall time (which a `timestamptz` column stores as that instant).
    private static func utc(_ text: String?) -> String? {
        guard let text else { return nil }
        guard let instant = StoredDateTime.parse(text: text) else { return text }
        return instant.databaseText + "+00"
    }
}
