import ExportCleanup
import ExportCleanupDemo
import Foundation
import GRDB
import TestSupport
import Testing

@Suite("index command")
struct IndexCommandTests {
    func indexSQL(_ database: String) throws -> [String] {
        var configuration = Configuration()
        configuration.readonly = true
        return try DatabaseQueue(path: database, configuration: configuration).read { db in
            try String.fetchAll(db, sql: "SELECT sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY name")
        }
    }

    @Test("without --create it prints the state and the SQL and changes nothing; --create creates, once")
    func printAndCreate() throws {
        let tmp = TemporaryDirectory()
        let database = tmp.sub("app.db")
        _ = try ApplicationDatabase(creatingAt: database)
        let before = try Data(contentsOf: URL(fileURLWithPath: database))

        let shown = try Binary.run(["index", "--db", database])
        #expect(shown.status == 0, "\(shown.stderr)")
        #expect(shown.stdout.contains("ix_export_jobs_cleanup_failed: absent"))
        #expect(shown.stdout.contains(SQLiteJobStore.failedIndex.createStatement + ";"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: database)) == before)

        let created = try Binary.run(["index", "--db", database, "--create"])
        #expect(created.status == 0, "\(created.stderr)")
        #expect(created.stdout.contains("created ix_export_jobs_cleanup_failed"))
        #expect(try indexSQL(database).contains(SQLiteJobStore.failedIndex.definition))

        let again = try Binary.run(["index", "--db", database, "--create"])
        #expect(again.status == 0)
        #expect(again.stdout.contains("ix_export_jobs_cleanup_failed already present"))
        #expect(try indexSQL(database).filter { $0.contains("cleanup_failed") }.count == 1)

        let present = try Binary.run(["index"], environment: ["EXPORT_CLEANUP_DATABASE": database])
        #expect(present.status == 0)
        #expect(present.stdout.contains("ix_export_jobs_cleanup_failed: present"))
    }

    @Test("the printed SQL is a script sqlite3 can run")
    func printedScriptRuns() throws {
        let tmp = TemporaryDirectory()
        let database = tmp.sub("app.db")
        _ = try ApplicationDatabase(creatingAt: database)
        let shown = try Binary.run(["index", "--db", database])
        try DatabaseQueue(path: database).writeWithoutTransaction { db in try db.execute(sql: shown.stdout) }
        #expect(try indexSQL(database).contains(SQLiteJobStore.failedIndex.definition))
    }

    @Test("a missing database exits 66 and is not created; no export_jobs table exits 65")
    func exitCodes() throws {
        let tmp = TemporaryDirectory()
        let missing = tmp.sub("nope.db")
        for arguments in [["index", "--db", missing], ["index", "--db", missing, "--create"]] {
            let result = try Binary.run(arguments)
            #expect(result.status == 66)
            #expect(result.stderr.contains(missing))
            #expect(!FileManager.default.fileExists(atPath: missing))
        }
        let other = tmp.sub("other.db")
        try DatabaseQueue(path: other).write { db in try db.execute(sql: "CREATE TABLE users (id INTEGER PRIMARY KEY)") }
        for arguments in [["index", "--db", other], ["index", "--db", other, "--create"]] {
            let result = try Binary.run(arguments)
            #expect(result.status == 65)
            #expect(result.stderr.contains("export_jobs"))
        }
        #expect(try indexSQL(other).isEmpty)
    }

    @Test("an index of that name with another definition exits 65 and is left alone")
    func impostor() throws {
        let tmp = TemporaryDirectory()
        let database = tmp.sub("app.db")
        _ = try ApplicationDatabase(creatingAt: database)
        try DatabaseQueue(path: database).write { db in
            try db.execute(sql: "CREATE INDEX ix_export_jobs_cleanup_failed ON export_jobs (created_at)")
        }
        let result = try Binary.run(["index", "--db", database, "--create"])
        #expect(result.status == 65)
        #expect(result.stderr.contains("another definition"))
        #expect(try indexSQL(database).contains("CREATE INDEX ix_export_jobs_cleanup_failed ON export_jobs (created_at)"))
    }
}
