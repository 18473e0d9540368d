import ExportCleanup
import ExportCleanupPostgres
import Foundation
import TestSupport
import Testing

extension Postgres {
    /// The store in-process against the real server: schema check, keyset pagination, the guarded claim column by
    /// column, `isClaimed`, readable and unreadable timestamps, the sweep lock.
    @Suite struct PostgresStoreTests {
        static func store(_ fixture: PGFixture, readOnly: Bool = false) throws(JobStoreError) -> PostgresJobStore {
            try PostgresJobStore(PostgresConnectionString(fixture.uri)!, options: .init(readOnly: readOnly), logger: quietLogger)
        }

        static func error(_ body: () throws(JobStoreError) -> Void) -> JobStoreError? {
            do {
                try body()
                return nil
            } catch {
                return error
            }
        }

        @Test func schemaCheckNamesWhatIsMissing() throws {
            let fixture = try PGFixture(table: false)
            let missing = Self.error { () throws(JobStoreError) in try Self.store(fixture).verifySchema() }
            #expect(missing?.code == .missingTable)
            #expect(missing?.message.contains("has no table 'export_jobs'") == true, "\(String(describing: missing))")
            #expect(missing?.path == fixture.uri)

            try fixture.db.execute("""
                CREATE TABLE export_jobs (id VARCHAR(50) PRIMARY KEY, export_type VARCHAR(50) NOT NULL, format VARCHAR(10) NOT NULL,
                    status VARCHAR(20) NOT NULL, file_path VARCHAR(500), created_at TIMESTAMP NOT NULL, completed_at TIMESTAMP)
                """)
            let column = Self.error { () throws(JobStoreError) in try Self.store(fixture).verifySchema() }
            #expect(column?.code == .missingColumn)
            #expect(column?.column == "expires_at")

            try fixture.db.execute("ALTER TABLE export_jobs ADD COLUMN expires_at INTEGER")
            let type = Self.error { () throws(JobStoreError) in try Self.store(fixture).verifySchema() }
            #expect(type?.code == .wrongColumnType)
            #expect(type?.message.contains("column 'expires_at'") == true && type?.message.contains("int4") == true, "\(String(describing: type))")

            try fixture.db.execute("ALTER TABLE export_jobs DROP COLUMN expires_at; ALTER TABLE export_jobs ADD COLUMN expires_at TIMESTAMPTZ")
            #expect(Self.error { () throws(JobStoreError) in try Self.store(fixture).verifySchema() } == nil)

            // A role that may read but not update: named before any sweep.
            try fixture.db.execute("CREATE ROLE reader_\(fixture.name) LOGIN; GRANT SELECT ON export_jobs TO reader_\(fixture.name)")
            let reader = try #require(PostgresConnectionString(fixture.cluster.uri(database: fixture.name, user: "reader_\(fixture.name)")))
            let denied = Self.error { () throws(JobStoreError) in try PostgresJobStore(reader, logger: quietLogger).verifySchema() }
            #expect(denied?.code == .permissionDenied)
            #expect(denied?.message.contains("UPDATE (status)") == true, "\(String(describing: denied))")
            // A dry run needs only SELECT.
            #expect(Self.error { () throws(JobStoreError) in try PostgresJobStore(reader, options: .init(readOnly: true), logger: quietLogger).verifySchema() } == nil)
            try fixture.db.execute("DROP OWNED BY reader_\(fixture.name); DROP ROLE reader_\(fixture.name)")
        }

        @Test func theBrakeCountOrphanLookUpAndPressureOrderOnPostgreSQL() throws {
            let fixture = try PGFixture()
            let old = PGFixture.text(hoursAgo: 48), older = PGFixture.text(hoursAgo: 72)
            try fixture.add([
                (.init(id: "c1", status: "completed", filePath: .text("/x/c1"), createdAt: old, completedAt: old), .completed),
                (.init(id: "c2", status: "completed", filePath: .text("/x/c2"), createdAt: older, completedAt: older), .completed),
                (.init(id: "c3", status: "completed", filePath: .text("/x/c3"), createdAt: old, completedAt: old,
                       expiresAt: PGFixture.text(hoursAgo: -24)), nil),
                (.init(id: "f1", status: "failed", filePath: .text("/x/f1"), createdAt: old), .failed),
                (.init(id: "f2", status: "failed", createdAt: old), nil),
                (.init(id: "p1", status: "pending", filePath: .text("/x/p1"), createdAt: old), nil),
                (.init(id: "e1", status: "expired", createdAt: old, completedAt: older), nil),
            ])
            let store = try Self.store(fixture)
            // Completed and failed rows with a file_path: c1, c2, c3, f1.
            #expect(try store.countReferencedFiles() == 4)
            #expect(Set(try store.jobs(withIDs: ["c1", "f2", "nope", "e1"]).map(\.id)) == ["c1", "f2", "e1"])
            #expect(try store.jobs(withIDs: []).isEmpty)
            // Oldest completed_at first, never one whose expires_at is ahead; pages follow the cursor.
            let now = UTCInstant.now()
            let first = try store.pressureCandidates(completedBefore: now, now: now, after: nil, limit: 1)
            #expect(first.map(\.id) == ["c2"])
            let cursor = PressureCursor(completedAt: try #require(StoredDateTime.parse(text: first[0].completedAt.text ?? "")), key: first[0].key)
            let rest = try store.pressureCandidates(completedBefore: now, now: now, after: cursor, limit: 10)
            #expect(rest.map(\.id) == ["c1"])
        }

        @Test func keysetPaginationReadsEveryCandidateOnceInIdOrder() throws {
            let fixture = try PGFixture()
            let old = PGFixture.text(hoursAgo: 48)
            // Ids whose byte order and collation order differ, and ids that are prefixes of others.
            let ids = ["b", "B", "a", "a_1", "a-1", "Z9", "z", "é1", "e2", "10", "9", "exp_00", "exp_0", "Ω"] + (0..<137).map { "bulk\($0)" }
            try fixture.add(ids.map { (.init(id: $0, status: "completed", createdAt: old, completedAt: old), .completed) })
            // Rows of other statuses and completed rows within retention are not returned.
            try fixture.add([(.init(id: "recent", status: "completed", createdAt: old, completedAt: PGFixture.text(hoursAgo: 1)), nil),
                             (.init(id: "pending", status: "pending", createdAt: old), nil)])
            let store = try Self.store(fixture)
            try store.verifySchema()
            let now = UTCInstant.now()
            let cutoff = RetentionPolicy().cutoff(for: .completed, now: now)
            var seen: [String] = []
            var cursor: JobCursor?
            repeat {
                let batch: [ExportJob]
                (batch, cursor) = try store.candidates(for: .completed, cutoff: cutoff, now: now, after: cursor, limit: 10)
                seen += batch.map(\.id)
                #expect(batch.allSatisfy { $0.key == PostgresJobStore.key(forID: $0.id) })
            } while cursor != nil
            #expect(seen.count == ids.count)
            #expect(Set(seen) == Set(ids))
            let collated = try fixture.db.query("SELECT id FROM export_jobs WHERE status = 'completed' AND id <> 'recent' ORDER BY id").rows.map { $0[0]! }
            #expect(seen == collated)
        }

        /// The claim compares every column the decision read, as values: a change of any one of them by the
        /// application (a timestamp by one microsecond) keeps the row as the application wrote it.
        @Test(arguments: [
            ("status", "'processing'"), ("export_type", "'mappings'"), ("format", "'json'"), ("file_path", "file_path || '.new'"),
            ("created_at", "created_at + interval '1 microsecond'"), ("completed_at", "completed_at - interval '1 microsecond'"),
            ("expires_at", "now()"), ("id", "id || 'x'"),
        ])
        func claimGuardsEveryColumn(_ change: (column: String, value: String)) throws {
            for type in ["TIMESTAMP WITHOUT TIME ZONE", "TIMESTAMP WITH TIME ZONE"] {
                let fixture = try PGFixture(timestampType: type)
                let path = try fixture.makeFile("exp_g1", hoursAgo: 48)
                let old = PGFixture.text(hoursAgo: 48)
                try fixture.add([(.init(id: "exp_g1", status: "completed", filePath: .text(path), createdAt: old, completedAt: old), .completed),
                                 (.init(id: "exp_g2", status: "completed", filePath: .text(path + "2"), createdAt: old, completedAt: old), .completed)])
                let store = try Self.store(fixture)
                try store.verifySchema()
                let now = UTCInstant.now()
                let (jobs, _) = try store.candidates(for: .completed, cutoff: RetentionPolicy().cutoff(for: .completed, now: now), now: now, after: nil, limit: 10)
                #expect(jobs.map(\.id) == ["exp_g1", "exp_g2"])
                // The application changes one column of exp_g1; exp_g2 is rewritten with the same values (no change).
                try fixture.db.execute("UPDATE export_jobs SET \(change.column) = \(change.value) WHERE id = 'exp_g1'")
                try fixture.db.execute("UPDATE export_jobs SET completed_at = completed_at, created_at = created_at WHERE id = 'exp_g2'")
                let claims = jobs.map { JobClaim(job: $0, rule: .completed) }
                #expect(try store.claim(claims) == [false, true], "\(type) \(change.column)")
                #expect(try store.isClaimed(claims) == [false, true])
                let rows = try fixture.rows()
                #expect(rows["exp_g2"]?.status == "expired" && rows["exp_g2"]?.filePath == nil)
                if change.column != "id" { #expect(rows["exp_g1"]?.status == (change.column == "status" ? "processing" : "completed")) }
                // After the claim, the application re-completes exp_g2: the claim no longer holds.
                try fixture.db.execute("UPDATE export_jobs SET status = 'completed', file_path = 'again' WHERE id = 'exp_g2'")
                #expect(try store.isClaimed(claims) == [false, false])
            }
        }

        /// Values that need quoting in a text array (`"`, `\`, `,`, braces, spaces, the word NULL) are claimed like any other.
        @Test func claimsOfValuesThatNeedQuoting() throws {
            let fixture = try PGFixture()
            let old = PGFixture.text(hoursAgo: 48)
            let ids = ["a\"b", "a\\b", "a,b", "{x}", "NULL", " sp ", "é", ""]
            try fixture.add(ids.map { (.init(id: $0, exportType: "t\"\\,{}", status: "completed", filePath: .text("p \"\\,{NULL}"), createdAt: old, completedAt: old), .completed) })
            let store = try Self.store(fixture)
            try store.verifySchema()
            let now = UTCInstant.now()
            let (jobs, _) = try store.candidates(for: .completed, cutoff: RetentionPolicy().cutoff(for: .completed, now: now), now: now, after: nil, limit: 100)
            #expect(Set(jobs.map(\.id)) == Set(ids))
            let claims = jobs.map { JobClaim(job: $0, rule: .completed) }
            #expect(try store.claim(claims) == Array(repeating: true, count: ids.count))
            #expect(try store.isClaimed(claims) == Array(repeating: true, count: ids.count))
            #expect(try fixture.rows().values.allSatisfy { $0.status == "expired" && $0.filePath == nil })
        }

        @Test func timestampsAreReadExactlyAndUnreadableOnesAreReturned() throws {
            for type in ["TIMESTAMP WITHOUT TIME ZONE", "TIMESTAMP WITH TIME ZONE"] {
                let fixture = try PGFixture(timestampType: type)
                let old = PGFixture.text(hoursAgo: 48)
                try fixture.add([
                    (.init(id: "micro", status: "completed", createdAt: old, completedAt: .text("2023-11-16 14:30:22.123456")), .completed),
                    (.init(id: "whole", status: "completed", createdAt: old, completedAt: .text("2023-11-16 14:30:22")), .completed),
                    (.init(id: "null", status: "completed", createdAt: old, completedAt: .null), nil),
                    (.init(id: "inf", status: "completed", createdAt: old, completedAt: .text("infinity")), nil),
                    (.init(id: "bc", status: "completed", createdAt: old, completedAt: .text("0044-03-15 12:00:00 BC")), nil),
                    (.init(id: "y10k", status: "completed", createdAt: old, completedAt: .text("10000-01-01 00:00:00")), nil),
                    (.init(id: "fresh", status: "completed", createdAt: old, completedAt: PGFixture.text(hoursAgo: 1)), nil),
                    (.init(id: "promised", status: "completed", createdAt: old, completedAt: old, expiresAt: PGFixture.text(hoursAgo: -5)), nil),
                    (.init(id: "badexpiry", status: "completed", createdAt: old, completedAt: old, expiresAt: .text("-infinity")), nil),
                ])
                let store = try Self.store(fixture)
                try store.verifySchema()
                let now = UTCInstant.now()
                let (jobs, _) = try store.candidates(for: .completed, cutoff: RetentionPolicy().cutoff(for: .completed, now: now), now: now, after: nil, limit: 100)
                let byID = Dictionary(uniqueKeysWithValues: jobs.map { ($0.id, $0) })
                // Readable, not due rows are left out in SQL; every unreadable one is returned, to be reported.
                #expect(Set(byID.keys) == ["micro", "whole", "null", "inf", "bc", "y10k", "badexpiry"], "\(type)")
                let suffix = type.contains("WITH TIME") ? "+00" : ""
                #expect(byID["micro"]?.completedAt == .text("2023-11-16 14:30:22.123456" + suffix))
                #expect(byID["whole"]?.completedAt == .text("2023-11-16 14:30:22" + suffix))
                let policy = RetentionPolicy()
                #expect(policy.decide(byID["micro"]!, now: now) == .due(.completed))
                for id in ["null", "inf", "bc", "y10k", "badexpiry"] {
                    guard case .undecidable = policy.decide(byID[id]!, now: now) else {
                        Issue.record("\(type) \(id): \(policy.decide(byID[id]!, now: now))")
                        continue
                    }
                }
            }
        }

        @Test func theSweepLockIsHeldBySessionAndNamesItsHolder() throws {
            let fixture = try PGFixture()
            var first: PostgresJobStore? = try Self.store(fixture)
            let second = try Self.store(fixture)
            #expect(try first?.tryAcquireSweepLock(named: "/srv/exports") == .acquired)
            #expect(try first?.tryAcquireSweepLock(named: "/srv/exports") == .acquired)  // not taken twice
            guard case .heldElsewhere(let holder) = try second.tryAcquireSweepLock(named: "/srv/exports") else {
                Issue.record("the second session got the lock")
                return
            }
            #expect(holder.hasPrefix(PostgresJobStore.defaultApplicationName() + " (server pid "), "\(holder)")
            // Another name is another lock.
            #expect(try second.tryAcquireSweepLock(named: "/srv/other") == .acquired)
            first?.releaseSweepLock(named: "/srv/exports")
            #expect(try second.tryAcquireSweepLock(named: "/srv/exports") == .acquired)
            second.releaseSweepLock(named: "/srv/exports")
            // The session's end releases it too (a killed holder).
            #expect(try first?.tryAcquireSweepLock(named: "/srv/exports") == .acquired)
            first = nil
            #expect(try second.tryAcquireSweepLock(named: "/srv/exports") == .acquired)
        }
    }
}
