import ExportCleanup
import ExportCleanupDemo
import Foundation
import GRDB
import TestSupport
import Testing

@Suite("SQLite job store")
struct JobStoreTests {
    let policy = RetentionPolicy(retentionHours: 24, failedAgeHours: 1)

    /// Every candidate of a rule, following the cursor to the end.
    func allCandidates(_ store: SQLiteJobStore, _ rule: CleanupRule, now: UTCInstant = fixedNow, limit: Int = 500) throws -> [ExportJob] {
        var jobs: [ExportJob] = []
        var cursor: JobCursor?
        var calls = 0
        repeat {
            let batch = try store.candidates(for: rule, cutoff: policy.cutoff(for: rule, now: now), now: now, after: cursor, limit: limit)
            jobs += batch.jobs
            cursor = batch.next
            calls += 1
        } while cursor != nil && calls < 100_000
        return jobs
    }

    func undecidableColumn(_ decision: RetentionDecision) -> String? {
        if case .undecidable(_, let column, _, _) = decision { return column }
        return nil
    }

    // MARK: - Opening and schema

    @Test("a missing database is an error naming it, and the file is not created")
    func missingDatabase() throws {
        let tmp = TemporaryDirectory()
        let path = tmp.sub("nope.db")
        let error = #expect(throws: JobStoreError.self) { try SQLiteJobStore(path: path) }
        #expect(error?.code == .notFound)
        #expect(error?.path == path)
        #expect(error?.message.contains(path) == true)
        #expect(!fileExists(path))
        #expect(!fileExists(path + "-journal"))
        let readOnly = #expect(throws: JobStoreError.self) { try SQLiteJobStore(path: path, readOnly: true) }
        #expect(readOnly?.code == .notFound)
        #expect(!fileExists(path))
    }

    @Test("a database without export_jobs is an error naming the table")
    func missingTable() throws {
        let tmp = TemporaryDirectory()
        let path = tmp.sub("other.db")
        try DatabaseQueue(path: path).write { db in try db.execute(sql: "CREATE TABLE users (id INTEGER PRIMARY KEY)") }
        let store = try SQLiteJobStore(path: path)
        let error = #expect(throws: JobStoreError.self) { try store.verifySchema() }
        #expect(error?.code == .missingTable)
        #expect(error?.table == "export_jobs")
        #expect(error?.message.contains("export_jobs") == true)
        #expect(error?.message.contains("users") == true)
    }

    @Test("a missing column is an error naming it", arguments: SQLiteJobStore.requiredColumns)
    func missingColumn(column: String) throws {
        let tmp = TemporaryDirectory()
        let path = tmp.sub("partial.db")
        let columns = SQLiteJobStore.requiredColumns.filter { $0 != column }.map { "\($0) TEXT" }.joined(separator: ", ")
        try DatabaseQueue(path: path).write { db in try db.execute(sql: "CREATE TABLE export_jobs (\(columns), file_size_bytes INTEGER)") }
        let store = try SQLiteJobStore(path: path)
        let error = #expect(throws: JobStoreError.self) { try store.verifySchema() }
        #expect(error?.code == .missingColumn)
        #expect(error?.column == column)
        #expect(error?.message.contains("'\(column)'") == true)
    }

    @Test("the application's schema passes")
    func schemaOK() throws {
        let fixture = try Fixture()
        try fixture.store().verifySchema()
        try fixture.store(readOnly: true).verifySchema()
    }

    // MARK: - Candidates

    @Test("due rows are returned in every accepted form, even when their text sorts after the cutoff text")
    func dueAcrossForms() throws {
        let fixture = try Fixture()
        // The completed cutoff is 2023-11-17 12:00:00 UTC; every value below is at or before it.
        let dueTexts = [
            "2023-11-17 12:00:00.000000", "2023-11-17 12:00:00", "2023-11-17T12:00:00Z", "2023-11-17 11:59:59.999999",
            "2023-11-17T11:00:00.123456789Z", "2023-11-17T16:00:00+05:00", "2023-11-17 16:30:00+05:30",
            "2023-11-17T03:00:00-0800", "2023-11-17T03:00:00-08:00", "2023-11-17T20:00:00+09", "2023-11-17t11:00:00z",
            "2023-11-17T12:00:00.000000+00:00", "2023-11-18T01:59:59+14:00", "2020-01-01 00:00:00",
        ]
        var rows: [ApplicationDatabase.Row] = []
        for (index, text) in dueTexts.enumerated() {
            rows.append(.init(id: "exp_c\(index)", status: "completed", filePath: .text("/x/\(index)"), createdAt: sqlText(-100), completedAt: .text(text)))
            // The same forms as created_at of failed jobs, with the failed cutoff (2023-11-18 11:00 UTC) far after them.
            rows.append(.init(id: "exp_f\(index)", status: "failed", filePath: .text("/x/f\(index)"), createdAt: .text(text)))
        }
        // Not due: well after the cutoff.
        rows.append(.init(id: "exp_fresh", status: "completed", filePath: .text("/x/fresh"), createdAt: sqlText(-2), completedAt: sqlText(-1)))
        rows.append(.init(id: "exp_fresh_failed", status: "failed", filePath: .text("/x/ff"), createdAt: sqlText(-0.5)))
        try fixture.insert(rows)

        let store = try fixture.store()
        let completed = try allCandidates(store, .completed)
        let completedIDs = Set(completed.map(\.id))
        for index in dueTexts.indices {
            #expect(completedIDs.contains("exp_c\(index)"), "completed_at \(dueTexts[index]) is due but was not returned")
        }
        #expect(completed.allSatisfy { $0.status == "completed" })
        for job in completed where job.id.hasPrefix("exp_c") {
            #expect(policy.decide(job, now: fixedNow) == .due(.completed), "\(job.completedAt)")
        }
        let failedIDs = Set(try allCandidates(store, .failed).map(\.id))
        for index in dueTexts.indices {
            #expect(failedIDs.contains("exp_f\(index)"), "created_at \(dueTexts[index]) is due but was not returned")
        }
        #expect(!failedIDs.contains(where: { $0.hasPrefix("exp_c") }))
    }

    @Test("rows whose timestamp cannot be read are returned so they can be reported, whatever they would mean")
    func unreadableReturned() throws {
        let fixture = try Fixture()
        let unreadable: [StoredValue] = [
            .integer(1_700_145_022), .integer(0), .integer(4_102_444_800), .real(2_460_265.1), .real(4_000_000_000.5), .blob(Array("2099-01-01 00:00:00".utf8)),
            .null, .text("yesterday"), .text(""), .text("2099-11-16 14:30:22 junk"), .text("2099-02-30 00:00:00"),
            .text("2099-11-16 24:00:00"), .text("2099-11-16 14:30"), .text("2099-11-16 14:30:22 "), .text("2099-11-16 14:30:22 +05:00"),
            .text("2099-11-16 14:30:22.1234567890"), .text("2099-11-16"),
        ]
        var rows: [ApplicationDatabase.Row] = []
        for (index, value) in unreadable.enumerated() {
            rows.append(.init(id: "exp_c\(index)", status: "completed", filePath: .text("/x/\(index)"), createdAt: sqlText(-100), completedAt: value))
            if !value.isNull {  // created_at is NOT NULL
                rows.append(.init(id: "exp_f\(index)", status: "failed", filePath: .text("/x/f\(index)"), createdAt: value))
            }
        }
        // A recent completed_at with an expires_at that cannot be read: the rule needs expires_at, so it is reported too.
        rows.append(.init(id: "exp_badexp", status: "completed", filePath: .text("/x/b"), createdAt: sqlText(-2), completedAt: sqlText(-1),
                          expiresAt: .text("2099-13-01 00:00:00")))
        try fixture.insert(rows)

        let store = try fixture.store()
        let completed = try allCandidates(store, .completed)
        for (index, value) in unreadable.enumerated() {
            let job = completed.first { $0.id == "exp_c\(index)" }
            #expect(job?.completedAt == value, "completed_at \(value) was not returned as stored")
            if let job {
                #expect(undecidableColumn(policy.decide(job, now: fixedNow)) == "completed_at", "\(value) should be undecidable")
            }
        }
        let badExpiry = completed.first { $0.id == "exp_badexp" }
        #expect(badExpiry?.expiresAt == .text("2099-13-01 00:00:00"), "an unreadable expires_at was not returned")
        #expect(badExpiry.map { undecidableColumn(policy.decide($0, now: fixedNow)) } == "expires_at")
        let failed = try allCandidates(store, .failed)
        for (index, value) in unreadable.enumerated() where !value.isNull {
            #expect(failed.first { $0.id == "exp_f\(index)" }?.createdAt == value, "created_at \(value) was not returned as stored")
        }
    }

    @Test("text with a NUL or invalid UTF-8: SQL reads it as the policy does (all of its bytes), so no due or unreadable row is hidden")
    func oddTextSameInSQLAndPolicy() throws {
        let fixture = try Fixture()
        try fixture.insert([.init(id: "exp_seed", status: "pending", createdAt: sqlText(-1))])
        let values = [
            "'2099-01-01 00:00:00' || char(0) || 'x'", "'2020-01-01 00:00:00' || char(0) || 'x'", "char(0) || '2020-01-01 00:00:00'",
            "CAST(X'323032302D30312D30312030303A30303A3030FF' AS TEXT)", "CAST(X'FF323032302D30312D30312030303A30303A3030' AS TEXT)",
            "'2023-11-18 11:30:00' || char(0)", "'2023-11-18 10:30:00' || char(0)",
        ]
        for (index, value) in values.enumerated() {
            try fixture.execute("""
                INSERT INTO export_jobs (id, export_type, format, status, file_path, created_at, completed_at)
                VALUES ('exp_c\(index)', 'hotels', 'csv', 'completed', '/x/c\(index)', '2020-01-01 00:00:00', \(value));
                INSERT INTO export_jobs (id, export_type, format, status, file_path, created_at)
                VALUES ('exp_f\(index)', 'hotels', 'csv', 'failed', '/x/f\(index)', \(value));
                """)
        }
        let store = try fixture.store()
        for rule in CleanupRule.allCases {
            let returned = Set(try allCandidates(store, rule).map(\.id))
            // Every row of the status, as the store reads it with the filter left out.
            let everything = try fixture.read { db in
                try Row.fetchAll(db, sql: """
                    SELECT id, status, file_path, created_at, completed_at, expires_at,
                        CAST(created_at AS BLOB), CAST(completed_at AS BLOB), CAST(expires_at AS BLOB)
                    FROM export_jobs WHERE status = ?
                    """, arguments: [rule.status.rawValue])
            }
            for row in everything {
                // TEXT by its exact bytes (a NUL kept, invalid UTF-8 as U+FFFD), as the store reads it.
                func stored(_ index: Int) -> StoredValue {
                    switch (row[index] as DatabaseValue).storage {
                    case .null: return .null
                    case .int64(let value): return .integer(value)
                    case .double(let value): return .real(value)
                    case .string(let value):
                        guard index >= 3, case .blob(let data) = (row[index + 3] as DatabaseValue).storage else { return .text(value) }
                        return .text(String(decoding: data, as: UTF8.self))
                    case .blob(let data): return .blob(Array(data))
                    }
                }
                let job = ExportJob(id: row[0], status: JobStatus(rawValue: row[1]), filePath: stored(2), createdAt: stored(3), completedAt: stored(4), expiresAt: stored(5))
                if case .notDue = policy.decide(job, now: fixedNow) {} else {
                    #expect(returned.contains(job.id), "\(rule): \(job.id) is \(policy.decide(job, now: fixedNow)) but was filtered out")
                }
            }
        }
        // A datetime followed by a NUL and more bytes is not read as that datetime: it is reported, even when the
        // part before the NUL would be far in the future.
        let jobs = try allCandidates(store, .completed)
        let future = try #require(jobs.first { $0.id == "exp_c0" })
        guard case .undecidable(_, "completed_at", _, .unparseable) = policy.decide(future, now: fixedNow) else {
            Issue.record("exp_c0: \(policy.decide(future, now: fixedNow))")
            return
        }
    }

    @Test("values come back with their storage class and exact content")
    func storedValues() throws {
        let fixture = try Fixture()
        try fixture.insert([
            .init(id: "exp_a", exportType: "supplier_summary", format: "xlsx", status: "completed", filePath: .text("/x/ü ñ.csv"),
                  createdAt: .text("2020-01-01 00:00:00.100000"), completedAt: .integer(42), expiresAt: .real(1.5)),
            .init(id: "exp_b", status: "failed", filePath: .blob([0, 1, 0xFF]), createdAt: .text("2020-01-01T00:00:00Z")),
        ])
        let store = try fixture.store()
        let completed = try allCandidates(store, .completed)
        #expect(completed == [ExportJob(key: 1, id: "exp_a", exportType: "supplier_summary", format: "xlsx", status: "completed",
                                        filePath: .text("/x/ü ñ.csv"), createdAt: .text("2020-01-01 00:00:00.100000"),
                                        completedAt: .integer(42), expiresAt: .real(1.5))])
        let failed = try allCandidates(store, .failed)
        #expect(failed.map(\.filePath) == [.blob([0, 1, 0xFF])])
    }

    @Test("only the rule's status is read, and failed rows without a file are not", arguments: CleanupRule.allCases)
    func onlyRuleStatus(rule: CleanupRule) throws {
        let fixture = try Fixture()
        var rows: [ApplicationDatabase.Row] = []
        for status in ["pending", "processing", "expired", "completed", "failed", "COMPLETED", "other"] {
            rows.append(.init(id: "exp_\(status)", status: status, filePath: .text("/x/\(status)"), createdAt: sqlText(-1000),
                              completedAt: sqlText(-1000), expiresAt: sqlText(-1000)))
        }
        rows.append(.init(id: "exp_failednull", status: "failed", createdAt: sqlText(-1000)))
        try fixture.insert(rows)
        let ids = try allCandidates(try fixture.store(), rule).map(\.id)
        #expect(ids == ["exp_\(rule.status)"])
    }

    @Test("keyset pagination returns every row exactly once, in batches of the limit", arguments: [(1234, 100), (300, 100), (7, 1), (0, 10)])
    func pagination(count: Int, limit: Int) throws {
        let fixture = try Fixture()
        // Interleave statuses so the rule's rows are not contiguous rowids.
        var rows: [ApplicationDatabase.Row] = []
        for index in 0..<count {
            rows.append(.init(id: "exp_c\(index)", status: "completed", filePath: .text("/x/\(index)"), createdAt: sqlText(-100),
                              completedAt: index % 3 == 0 ? .text("2023-11-01T00:00:00Z") : sqlText(-48)))
            rows.append(.init(id: "exp_x\(index)", status: index % 2 == 0 ? "expired" : "pending", createdAt: sqlText(-100)))
        }
        try fixture.insert(rows)
        let store = try fixture.store()
        let cutoff = policy.cutoff(for: .completed, now: fixedNow)
        var seen: [String] = []
        var cursor: JobCursor?
        var batches = 0
        repeat {
            let batch = try store.candidates(for: .completed, cutoff: cutoff, now: fixedNow, after: cursor, limit: limit)
            #expect(batch.jobs.count <= limit)
            if batch.next != nil { #expect(batch.jobs.count == limit) }
            seen += batch.jobs.map(\.id)
            cursor = batch.next
            batches += 1
        } while cursor != nil && batches <= count + 2
        #expect(seen.count == count)
        #expect(Set(seen).count == count)
        #expect(Set(seen) == Set((0..<count).map { "exp_c\($0)" }))
        #expect(batches == count / limit + 1)
    }

    // MARK: - Updates

    @Test("updates are compare-and-set: a row the application changed meanwhile is left alone")
    func compareAndSet() throws {
        let fixture = try Fixture()
        try fixture.insert([
            .init(id: "exp_same", status: "completed", filePath: .text("/x/a"), createdAt: sqlText(-50), completedAt: sqlText(-48)),
            .init(id: "exp_newpath", status: "completed", filePath: .text("/x/b"), createdAt: sqlText(-50), completedAt: sqlText(-48)),
            .init(id: "exp_newstatus", status: "completed", filePath: .text("/x/c"), createdAt: sqlText(-50), completedAt: sqlText(-48)),
            .init(id: "exp_gone", status: "completed", filePath: .text("/x/d"), createdAt: sqlText(-50), completedAt: sqlText(-48)),
            .init(id: "exp_nullpath", status: "completed", createdAt: sqlText(-50), completedAt: sqlText(-48)),
            .init(id: "exp_failed", status: "failed", filePath: .text("/x/f"), createdAt: sqlText(-5)),
            .init(id: "exp_blobpath", status: "failed", filePath: .blob([1, 2, 0]), createdAt: sqlText(-5)),
        ])
        let store = try fixture.store()
        let completed = try allCandidates(store, .completed)
        let failed = try allCandidates(store, .failed)
        #expect(completed.count == 5 && failed.count == 2)
        // The application re-runs two exports and deletes one job between our read and our update.
        try fixture.execute("""
            UPDATE export_jobs SET file_path = '/x/b2' WHERE id = 'exp_newpath';
            UPDATE export_jobs SET status = 'processing' WHERE id = 'exp_newstatus';
            DELETE FROM export_jobs WHERE id = 'exp_gone';
            """)
        let before = try fixture.snapshots()
        let updates = completed.map { JobClaim(job: $0, rule: .completed) } + failed.map { JobClaim(job: $0, rule: .failed) }
        let applied = try store.claim(updates)
        let byID = Dictionary(uniqueKeysWithValues: zip(updates.map(\.job.id), applied))
        #expect(byID == ["exp_same": true, "exp_newpath": false, "exp_newstatus": false, "exp_gone": false, "exp_nullpath": true,
                         "exp_failed": true, "exp_blobpath": true])
        let after = try fixture.snapshots()
        #expect(after["exp_newpath"] == before["exp_newpath"])
        #expect(after["exp_newstatus"] == before["exp_newstatus"])
        #expect(after["exp_gone"] == nil)
        #expect(try fixture.record("exp_same") == ["expired", "NULL"])
        #expect(try fixture.record("exp_nullpath") == ["expired", "NULL"])
        #expect(try fixture.record("exp_failed") == ["failed", "NULL"])
        #expect(try fixture.record("exp_blobpath") == ["failed", "NULL"])
        // Applying the same updates again changes nothing: the rows no longer match what was read.
        #expect(try store.claim(updates) == Array(repeating: false, count: updates.count))
        #expect(try store.claim([]) == [])
    }

    @Test("bulk and per-row compare-and-set give the same answers and the same rows", arguments: [1, 7, 2500])
    func bulkMatchesPerRow(count: Int) throws {
        func run(perRow: Bool) throws -> ([Bool], [String: [String]]) {
            let fixture = try Fixture()
            var rows: [ApplicationDatabase.Row] = []
            for index in 0..<count {
                let path: StoredValue = index % 5 == 0 ? .null : index % 7 == 0 ? .blob([UInt8(index % 256), 0]) : .text("/x/\(index)")
                rows.append(.init(id: "exp_\(index)", status: index % 2 == 0 ? "completed" : "failed", filePath: path,
                                  createdAt: sqlText(-100), completedAt: sqlText(-50)))
            }
            try fixture.insert(rows)
            let store = try SQLiteJobStore(path: fixture.database, perRowUpdates: perRow)
            #expect(store.bulkUpdates == !perRow)
            let jobs = try allCandidates(store, .completed) + allCandidates(store, .failed)
            // Every row but the failed ones without a file.
            #expect(jobs.count == (0..<count).filter { !($0 % 5 == 0 && $0 % 2 == 1) }.count)
            // The application changes some rows meanwhile: path, status, storage class, deletion.
            try fixture.execute("""
                UPDATE export_jobs SET file_path = file_path || 'b' WHERE CAST(substr(id, 5) AS INTEGER) % 11 = 1;
                UPDATE export_jobs SET status = 'processing' WHERE CAST(substr(id, 5) AS INTEGER) % 13 = 2;
                UPDATE export_jobs SET file_path = CAST(file_path AS BLOB) WHERE CAST(substr(id, 5) AS INTEGER) % 17 = 3;
                DELETE FROM export_jobs WHERE CAST(substr(id, 5) AS INTEGER) % 19 = 4;
                """)
            let updates = jobs.map { JobClaim(job: $0, rule: $0.status == "completed" ? .completed : .failed) }
            let applied = try store.claim(updates)
            // Applying again changes nothing.
            #expect(try store.claim(updates) == Array(repeating: false, count: updates.count))
            return (applied, try fixture.snapshots())
        }
        let bulk = try run(perRow: false)
        let perRow = try run(perRow: true)
        #expect(bulk.0 == perRow.0)
        #expect(bulk.1 == perRow.1)
        #expect(bulk.0.contains(true) && (count < 7 || bulk.0.contains(false)))
    }

    @Test("compare-and-set on file_path is storage-class exact (no affinity conversion), bulk and per row", arguments: [false, true])
    func compareAndSetStorageClass(perRow: Bool) throws {
        /// The claim of row `id` as read by `store`, but with another `file_path` than the one read.
        func job(_ id: String, _ path: StoredValue, in store: SQLiteJobStore) throws -> JobClaim {
            var job = try #require(allCandidates(store, .failed).first { $0.id == id })
            job.filePath = path
            return JobClaim(job: job, rule: .failed)
        }
        // The application's schema: file_path VARCHAR(500) has TEXT affinity, so it holds TEXT, BLOB or NULL; a
        // bound INTEGER 5 would be converted to '5' by the comparison without the storage-class check.
        let app = try Fixture()
        try app.insert([
            .init(id: "exp_t", status: "failed", filePath: .text("5"), createdAt: .text("2020-01-01 00:00:00")),
            .init(id: "exp_b", status: "failed", filePath: .blob(Array("5".utf8)), createdAt: .text("2020-01-01 00:00:00")),
        ])
        let appStore = try SQLiteJobStore(path: app.database, perRowUpdates: perRow)
        #expect(try appStore.claim([try job("exp_t", .integer(5), in: appStore), try job("exp_b", .text("5"), in: appStore)]) == [false, false])
        #expect(try appStore.claim([try job("exp_t", .real(5), in: appStore), try job("exp_b", .integer(5), in: appStore)]) == [false, false])
        #expect(try app.record("exp_t") == ["failed", "'5'"])
        #expect(try app.record("exp_b") == ["failed", "X'35'"])
        #expect(try appStore.claim([try job("exp_t", .text("5"), in: appStore), try job("exp_b", .blob(Array("5".utf8)), in: appStore)]) == [true, true])
        // An empty blob and empty text are bound as such, not as NULL or as each other.
        try app.insert([
            .init(id: "exp_empty", status: "failed", filePath: .blob([]), createdAt: .text("2020-01-01 00:00:00")),
            .init(id: "exp_emptytext", status: "failed", filePath: .text(""), createdAt: .text("2020-01-01 00:00:00")),
        ])
        #expect(try app.record("exp_empty") == ["failed", "X''"])
        #expect(try app.record("exp_emptytext") == ["failed", "''"])
        #expect(try appStore.claim([job("exp_empty", .null, in: appStore), job("exp_emptytext", .blob([]), in: appStore), job("exp_empty", .text(""), in: appStore)]) == [false, false, false])
        #expect(try appStore.claim([job("exp_empty", .blob([]), in: appStore), job("exp_emptytext", .text(""), in: appStore)]) == [true, true])

        // A table whose file_path has no affinity keeps every storage class as written.
        let tmp = TemporaryDirectory()
        let path = tmp.sub("loose.db")
        try DatabaseQueue(path: path).write { db in
            try db.execute(sql: """
                CREATE TABLE export_jobs (id TEXT PRIMARY KEY, export_type TEXT, format TEXT, status TEXT, file_path,
                    created_at, completed_at, expires_at);
                INSERT INTO export_jobs (id, status, file_path) VALUES ('exp_i', 'failed', 5), ('exp_t', 'failed', '5'),
                    ('exp_r', 'failed', 5.0), ('exp_b', 'failed', X'35');
                """)
        }
        let store = try SQLiteJobStore(path: path, perRowUpdates: perRow)
        let wrong = try [job("exp_i", .text("5"), in: store), job("exp_t", .integer(5), in: store), job("exp_r", .integer(5), in: store),
                         job("exp_b", .text("5"), in: store), job("exp_i", .real(5), in: store), job("exp_r", .text("5.0"), in: store)]
        #expect(try store.claim(wrong) == Array(repeating: false, count: wrong.count))
        let remaining = try DatabaseQueue(path: path).read { db in
            try String.fetchAll(db, sql: "SELECT id || ' ' || typeof(file_path) FROM export_jobs ORDER BY id")
        }
        #expect(remaining == ["exp_b blob", "exp_i integer", "exp_r real", "exp_t text"])
        let right = try [job("exp_i", .integer(5), in: store), job("exp_t", .text("5"), in: store), job("exp_r", .real(5), in: store),
                         job("exp_b", .blob(Array("5".utf8)), in: store)]
        #expect(try store.claim(right) == [true, true, true, true])
    }

    @Test("columns the store does not own stay byte-identical")
    func otherColumnsUntouched() throws {
        let fixture = try Fixture()
        try fixture.insert([
            .init(id: "exp_a", exportType: "supplier_summary", format: "xlsx", status: "completed", filePath: .text("/x/a"), fileSizeBytes: 123_456,
                  createdAt: .text("2023-11-01 10:00:00.000001"), completedAt: .text("2023-11-01T10:00:00.5Z"), expiresAt: .text("2023-11-02 10:00:00"),
                  errorMessage: "note ü"),
            .init(id: "exp_b", exportType: "mappings", format: "json", status: "failed", filePath: .text("/x/b"), fileSizeBytes: nil,
                  createdAt: .text("2023-11-01 10:00:00"), completedAt: .real(1.25), expiresAt: .integer(99), errorMessage: "boom\nline 2"),
        ])
        try fixture.execute("UPDATE export_jobs SET file_size_bytes = X'00FF' WHERE id = 'exp_b'")
        let owned: Set<Int> = [4, 5]  // 0 is the rowid; then id, export_type, format, status, file_path, ...
        let before = try fixture.snapshots()
        let store = try fixture.store()
        let updates = try allCandidates(store, .completed).map { JobClaim(job: $0, rule: .completed) }
            + allCandidates(store, .failed).map { JobClaim(job: $0, rule: .failed) }
        #expect(try store.claim(updates) == [true, true])
        let after = try fixture.snapshots()
        for id in ["exp_a", "exp_b"] {
            let b = try #require(before[id]), a = try #require(after[id])
            #expect(b.count == 11 && a.count == 11)
            for index in b.indices where !owned.contains(index) {
                #expect(a[index] == b[index], "\(id) column \(index) changed: \(b[index]) -> \(a[index])")
            }
            #expect(a[5] == "NULL null")
        }
        #expect(after["exp_a"]?[4] == "'expired' text")
        #expect(after["exp_b"]?[4] == "'failed' text")
    }

    // MARK: - The database file

    @Test("the journal mode is left as the application set it", arguments: ["wal", "delete"])
    func journalMode(mode: String) throws {
        let fixture = try Fixture()
        try fixture.insert([
            .init(id: "exp_a", status: "completed", filePath: .text("/x/a"), createdAt: sqlText(-50), completedAt: sqlText(-48)),
        ])
        do {
            let connection = try fixture.connection()
            let set = try connection.writeWithoutTransaction { db in try String.fetchOne(db, sql: "PRAGMA journal_mode = \(mode)") }
            #expect(set == mode)
        }
        do {
            let store = try fixture.store()
            try store.verifySchema()
            let jobs = try allCandidates(store, .completed)
            #expect(try store.claim(jobs.map { JobClaim(job: $0, rule: .completed) }) == [true])
        }
        do {
            let readOnly = try fixture.store(readOnly: true)
            _ = try allCandidates(readOnly, .completed)
        }
        let now = try fixture.connection().writeWithoutTransaction { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") }
        #expect(now == mode)
        #expect(try fixture.record("exp_a") == ["expired", "NULL"])
    }

    @Test("a read-only store does not write the database file")
    func readOnlyStore() throws {
        let fixture = try Fixture()
        try fixture.insert([.init(id: "exp_a", status: "completed", filePath: .text("/x/a"), createdAt: sqlText(-50), completedAt: sqlText(-48))])
        let bytes = try fixture.databaseBytes()
        let store = try fixture.store(readOnly: true)
        try store.verifySchema()
        let jobs = try allCandidates(store, .completed)
        #expect(jobs.count == 1)
        #expect(throws: JobStoreError.self) { try store.claim(jobs.map { JobClaim(job: $0, rule: .completed) }) }
        #expect(try fixture.databaseBytes() == bytes)
        #expect(!fileExists(fixture.database + "-journal"))
    }

    @Test("a database locked beyond the busy timeout is a busy error")
    func busy() throws {
        let fixture = try Fixture()
        try fixture.insert([.init(id: "exp_a", status: "completed", filePath: .text("/x/a"), createdAt: sqlText(-50), completedAt: sqlText(-48))])
        let store = try SQLiteJobStore(path: fixture.database, busyTimeout: 0.05)
        let jobs = try allCandidates(store, .completed)
        // The application holds an exclusive transaction while the store tries to update.
        try fixture.connection().inTransaction(.exclusive) { _ in
            let error = #expect(throws: JobStoreError.self) { try store.claim(jobs.map { JobClaim(job: $0, rule: .completed) }) }
            #expect(error?.code == .busy)
            #expect(error?.message.contains("locked") == true)
            return .rollback
        }
        #expect(try store.claim(jobs.map { JobClaim(job: $0, rule: .completed) }) == [true])
    }

    @Test("both candidate queries use the status index, no full scan")
    func queryPlans() throws {
        let fixture = try Fixture()
        let plans = try fixture.store().queryPlans()
        #expect(plans.count == 2)
        for rule in CleanupRule.allCases {
            let plan = try #require(plans[rule])
            #expect(plan.contains("USING INDEX ix_export_jobs_status"), "\(rule): \(plan)")
            #expect(!plan.contains("SCAN export_jobs"), "\(rule): \(plan)")
            #expect(!plan.contains("TEMP B-TREE"), "\(rule): \(plan)")
        }
    }

    // MARK: - The optional index

    /// A mix for the failed rule: every accepted datetime form, unreadable values of every storage class, fresh and
    /// old, with and without a file, and other statuses.
    func mixedRows() -> [ApplicationDatabase.Row] {
        let created: [StoredValue] = [
            .text("2023-11-17 12:00:00.000000"), .text("2023-11-17 12:00:00"), .text("2023-11-17T12:00:00Z"), .text("2023-11-18T10:59:59.999999Z"),
            .text("2023-11-18T11:00:00+00:00"), .text("2023-11-18T11:00:01Z"), .text("2023-11-18 20:30:00+09:30"), .text("2023-11-18T01:00:00-10"),
            .text("2023-11-19T00:59:59+14:00"), .text("2023-11-18T00:00:00-14:00"), .text("2023-11-18t10:00:00z"), .text("2023-11-18 10:00:00.5-0100"),
            .integer(1_700_145_022), .integer(5), .real(2_460_265.1), .blob(Array("2023-11-01 00:00:00".utf8)), .text("yesterday"), .text(""),
            .text("2099-02-30 00:00:00"), .text("2023-11-18 24:00:00"), sqlText(-0.5), sqlText(-2), sqlText(-1000),
        ]
        let paths: [StoredValue] = [.text("/x/a"), .null, .text("5"), .blob([0x35]), .text("")]
        var rows: [ApplicationDatabase.Row] = []
        var index = 0
        for value in created {
            for path in paths {
                for status in ["failed", "completed", "expired", "pending"] {
                    rows.append(.init(id: "exp_\(index)", status: status, filePath: path, createdAt: value,
                                      completedAt: index % 3 == 0 ? .null : value, expiresAt: index % 4 == 0 ? value : .null))
                    index += 1
                }
            }
        }
        return rows
    }

    @Test("with the optional index the failed rule reads through it, in rowid order, and returns exactly the same rows",
          arguments: [1, 7, 500])
    func optionalIndexSameResults(limit: Int) throws {
        let fixture = try Fixture()
        try fixture.insert(mixedRows())
        let plain = try fixture.store()
        #expect(!plain.usesFailedIndex)
        let completedBefore = try allCandidates(plain, .completed, limit: limit)
        let failedBefore = try allCandidates(plain, .failed, limit: limit)
        #expect(failedBefore.count > 50)

        #expect(try plain.createOptionalIndexes() == [SQLiteJobStore.failedIndex])
        let indexed = try fixture.store()
        #expect(indexed.usesFailedIndex)
        #expect(try allCandidates(indexed, .failed, limit: limit) == failedBefore)
        #expect(try allCandidates(indexed, .completed, limit: limit) == completedBefore)
        let readOnly = try fixture.store(readOnly: true)
        #expect(readOnly.usesFailedIndex)
        #expect(try allCandidates(readOnly, .failed, limit: limit) == failedBefore)
        // Across times too: at other cutoffs the failed rows returned are the same with and without the index.
        for hours in [-48.0, -10, 10, 48] {
            let now = at(hours)
            #expect(try allCandidates(indexed, .failed, now: now, limit: limit) == allCandidates(plain, .failed, now: now, limit: limit))
        }
    }

    @Test("EXPLAIN QUERY PLAN: the failed rule uses the partial index when present, the status index otherwise")
    func optionalIndexPlan() throws {
        let fixture = try Fixture()
        try fixture.insert(mixedRows())
        let before = try fixture.store().queryPlans()
        #expect(before[.failed]?.contains("USING INDEX ix_export_jobs_status") == true, "\(before)")
        _ = try fixture.store().createOptionalIndexes()
        let plans = try fixture.store().queryPlans()
        let failed = try #require(plans[.failed])
        #expect(failed.contains("USING INDEX ix_export_jobs_cleanup_failed"), "\(failed)")
        #expect(!failed.contains("TEMP B-TREE") && !failed.contains("SCAN export_jobs"), "\(failed)")
        #expect(plans[.completed] == before[.completed])
    }

    @Test("creating the optional index is idempotent, and nothing is created by opening or sweeping")
    func optionalIndexCreate() throws {
        let fixture = try Fixture()
        try fixture.insert(mixedRows())
        let schema = try fixture.read { db in try String?.fetchAll(db, sql: "SELECT sql FROM sqlite_master ORDER BY name") }
        let store = try fixture.store()
        try store.verifySchema()
        _ = try allCandidates(store, .failed)
        _ = try Sweeper(store: store, storage: try fixture.storageDirectory.open(), logger: quietLogger).sweep(options: SweepOptions(policy: policy), now: fixedNow)
        #expect(try fixture.read { db in try String?.fetchAll(db, sql: "SELECT sql FROM sqlite_master ORDER BY name") } == schema)
        #expect(try store.optionalIndexStates().map(\.state) == [.absent])
        #expect(try store.createOptionalIndexes() == [SQLiteJobStore.failedIndex])
        #expect(try store.createOptionalIndexes() == [])
        #expect(try store.optionalIndexStates().map(\.state) == [.present])
        let sql = try fixture.read { db in try String.fetchOne(db, sql: "SELECT sql FROM sqlite_master WHERE name = 'ix_export_jobs_cleanup_failed'") }
        #expect(sql == SQLiteJobStore.failedIndex.definition)
    }

    @Test("an index of that name with another definition is neither used nor replaced")
    func optionalIndexImpostor() throws {
        let fixture = try Fixture()
        try fixture.insert(mixedRows())
        try fixture.execute("CREATE INDEX ix_export_jobs_cleanup_failed ON export_jobs (status) WHERE status = 'failed'")
        let store = try fixture.store()
        #expect(!store.usesFailedIndex)
        let states = try store.optionalIndexStates()
        guard case .different(let found)? = states.first?.state else {
            Issue.record("expected a different definition: \(states)")
            return
        }
        #expect(found.contains("WHERE status = 'failed'"))
        let error = #expect(throws: JobStoreError.self) { try store.createOptionalIndexes() }
        #expect(error?.message.contains("another definition") == true)
        // (SQLite's planner may still pick it on its own; the rows are the same either way.)
        let withImpostor = try allCandidates(store, .failed, limit: 7)
        // The same definition with other spacing is accepted.
        try fixture.execute("DROP INDEX ix_export_jobs_cleanup_failed")
        #expect(try allCandidates(fixture.store(), .failed, limit: 7) == withImpostor)
        try fixture.execute("CREATE INDEX  ix_export_jobs_cleanup_failed ON export_jobs (status)\n  WHERE status = 'failed' AND file_path IS NOT NULL")
        #expect(try fixture.store().usesFailedIndex)
    }
}
