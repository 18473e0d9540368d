import ExportCleanup
import ExportCleanupDemo
import ExportCleanupPostgres
import Foundation
import TestSupport
import Testing

extension Postgres {
    /// `export-cleanup index` on PostgreSQL: prints the partial index of the failed rule and the plan, creates it
    /// CONCURRENTLY, and the planner uses it for the failed rule's query.
    @Suite struct IndexTests {
        @Test func printCreateAndUse() throws {
            let fixture = try PGFixture()
            // Failed history: 20,000 failed jobs whose partial file is long gone, and 5 that still have one (due).
            try fixture.db.execute("""
                INSERT INTO export_jobs (id, export_type, format, status, created_at)
                SELECT 'hist_' || g, 'hotels', 'csv', 'failed', now() - interval '30 days' FROM generate_series(1, 20000) g
                """)
            var rows: [(ApplicationDatabase.Row, CleanupRule?)] = []
            for index in 0..<5 {
                let id = "exp_f\(index)"
                rows.append((.init(id: id, status: "failed", filePath: .text(try fixture.makeFile(id, hoursAgo: 3)), createdAt: PGFixture.text(hoursAgo: 3)), .failed))
            }
            try fixture.add(rows)
            try fixture.db.execute("ANALYZE export_jobs")

            let shown = try Binary.run(["index", "--db", fixture.uri])
            #expect(shown.status == 0, "\(shown.stderr)")
            #expect(shown.stdout.contains("ix_export_jobs_cleanup_failed: absent"), "\(shown.stdout)")
            #expect(shown.stdout.contains("CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_export_jobs_cleanup_failed ON export_jobs (id) WHERE status = 'failed' AND file_path IS NOT NULL;"))
            #expect(shown.stdout.contains("-- CONCURRENTLY: the application keeps inserting"), "\(shown.stdout)")
            #expect(!shown.stdout.contains("Index Scan using ix_export_jobs_cleanup_failed"))
            #expect(try fixture.value("SELECT count(*) FROM pg_indexes WHERE indexname = 'ix_export_jobs_cleanup_failed'") == "0")

            let created = try Binary.run(["index", "--db", fixture.uri, "--create"])
            #expect(created.status == 0, "\(created.stderr)")
            #expect(created.stdout.contains("created ix_export_jobs_cleanup_failed"), "\(created.stdout)")
            #expect(created.stdout.contains("using ix_export_jobs_cleanup_failed"), "the plan does not use the index: \(created.stdout)")
            print("[postgres] the failed rule's plan with the index:\n\(created.stdout)")
            let again = try Binary.run(["index", "--db", fixture.uri, "--create"])
            #expect(again.status == 0)
            #expect(again.stdout.contains("ix_export_jobs_cleanup_failed already present"))

            let sweep = try Binary.sweep(fixture, ["--json"])
            #expect(sweep.status == 0, "\(sweep.stderr)")
            #expect(count(try sweepJSON(sweep.stdout), "failed", "removed") == 5)
            try fixture.expectNoViolations(.final)

            // An INVALID index (a CONCURRENTLY build that failed) and one of another definition are named, not used, not replaced.
            try fixture.db.execute("UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'ix_export_jobs_cleanup_failed'::regclass")
            let invalid = try Binary.run(["index", "--db", fixture.uri, "--create"])
            #expect(invalid.status == 65)
            #expect(invalid.stderr.contains("INVALID"), "\(invalid.stderr)")
            try fixture.db.execute("DROP INDEX ix_export_jobs_cleanup_failed; CREATE INDEX ix_export_jobs_cleanup_failed ON export_jobs (status)")
            let different = try Binary.run(["index", "--db", fixture.uri])
            #expect(different.status == 65)
            #expect(different.stderr.contains("another definition"), "\(different.stderr)")
        }
    }
}
