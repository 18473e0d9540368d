import ExportCleanup
import ExportCleanupDemo
import ExportStorage
import Foundation
import GRDB
import TestSupport
import Testing

/// Databases that are unusual but legal: other text encodings, ids stored as integers.
@Suite("odd but legal databases")
struct OddDatabaseTests {
    let options = SweepOptions(policy: RetentionPolicy(retentionHours: 24, failedAgeHours: 1), batchSize: 3)

    @Test("a UTF-16 database sweeps exactly like a UTF-8 one", arguments: ["UTF-16le", "UTF-16be"])
    func utf16(encoding: String) throws {
        let reference = try Mixed.make()
        let expected = try reference.sweeper().sweep(options: options, now: fixedNow)

        let fixture = try Fixture(encoding: encoding)
        #expect(try fixture.read { db in try String.fetchOne(db, sql: "PRAGMA encoding") } == encoding)
        try fixture.add(Mixed.jobs)
        let before = try fixture.snapshots()
        let report = try fixture.sweeper().sweep(options: options, now: fixedNow)
        #expect(counts(report.completed) == counts(expected.completed) && counts(report.failed) == counts(expected.failed),
                "\(encoding): \(counts(report.completed)) \(counts(report.failed))")
        #expect(report.completed.removed == Mixed.removedCompleted.count)
        #expect(report.total.changedMeanwhile == 0)
        try Mixed.expectSwept(fixture, before: before)
    }

    @Test("a UTF-16 database: a value with an embedded NUL is still refused, never shortened into another name")
    func utf16EmbeddedNUL() throws {
        let fixture = try Fixture(encoding: "UTF-16le")
        let good = try fixture.writeFile(jobID: "exp_a1", created: at(-49), bytes: 5)
        try fixture.insert([
            .init(id: "exp_a1", status: "completed", filePath: .text(good), createdAt: sqlText(-49), completedAt: sqlText(-48)),
        ])
        // Appended in SQL: GRDB binds a String up to its first NUL. char(0) is a NUL character in the database's encoding.
        try fixture.execute("UPDATE export_jobs SET file_path = file_path || char(0) || '.bak'")
        let stored = try fixture.read { db in try String.fetchOne(db, sql: "SELECT hex(CAST(file_path AS BLOB)) FROM export_jobs") } ?? ""
        #expect(stored.hasSuffix("00002E00620061006B00"), "UTF-16le NUL then .bak: \(stored)")
        let report = try fixture.sweeper().sweep(options: options, now: fixedNow)
        #expect(report.completed.refused == 1 && report.completed.removed == 0)
        #expect(report.problems.first?.reason.contains("NUL") == true)
        #expect(fileExists(good))
    }

    /// The application's DDL with `id` declared INTEGER: ids are stored as integers.
    static let integerIDDDL = ApplicationDatabase.ddl.replacingOccurrences(of: "id VARCHAR(50) NOT NULL", with: "id INTEGER NOT NULL")

    @Test("integer ids: claimed and counted correctly on the bulk and the per-row path; names carry the decimal id", arguments: [false, true])
    func integerIDs(perRow: Bool) throws {
        let fixture = try Fixture(ddl: Self.integerIDDDL)
        var jobs: [FixtureJob] = []
        for index in 0..<40 {
            jobs.append(.init(id: String(1000 + index), status: "completed", createdHours: -49, completedAt: sqlText(index % 4 == 0 ? -1 : -48), bytes: 10))
        }
        try fixture.add(jobs)
        #expect(try fixture.read { db in try String.fetchAll(db, sql: "SELECT DISTINCT typeof(id) FROM export_jobs") } == ["integer"])
        let store = try SQLiteJobStore(path: fixture.database, perRowUpdates: perRow)
        #expect(store.bulkUpdates == !perRow)
        let report = try fixture.sweeper(store: store).sweep(options: SweepOptions(policy: options.policy, batchSize: 100), now: fixedNow)
        #expect(report.completed.due == 30 && report.completed.removed == 30 && report.completed.recordsUpdated == 30)
        #expect(report.completed.changedMeanwhile == 0)
        for job in jobs {
            let due = (Int(job.id)! - 1000) % 4 != 0
            #expect(try fixture.hasFile(job) == !due, "\(job.id)")
            #expect(try fixture.record(job.id) == (due ? ["expired", "NULL"] : ["completed", "'\(try fixture.path(jobID: job.id, created: at(-49)))'"]))
        }
    }
}
