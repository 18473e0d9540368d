import ArgumentParser
import ExportCleanup
import ExportCleanupDemo
import ExportCleanupPostgres
import Foundation
import Logging

/// `export-cleanup index` and `demo` on PostgreSQL.
enum PostgresCommands {
    /// Prints (or, with `create`, creates) the failed rule's partial index, and the plan the failed rule's query
    /// gets. Exit codes as for SQLite: 65 no table or an index of that name with another definition (or INVALID),
    /// 66 no database, 75 server unreachable, 77 login refused.
    static func index(_ target: PostgresConnectionString, create: Bool, busyTimeoutMs: Int) throws(ExitCode) {
        let store: PostgresJobStore
        let state: PostgresJobStore.IndexState
        do {
            store = try PostgresJobStore(target, options: .init(lockTimeoutMilliseconds: busyTimeoutMs, readOnly: !create),
                                         logger: Logger(label: "export-cleanup"))
            try store.verifySchema()
            state = try store.failedIndexState()
        } catch {
            throw Failure(error).report()
        }
        let name = PostgresJobStore.failedIndexName
        switch state {
        case .different(let found):
            throw fail("'\(target.masked)' has an index '\(name)' with another definition: \(found); it is left alone: drop it "
                       + "(DROP INDEX CONCURRENTLY \(name)) to let export-cleanup create its own", code: Exit.dataError)
        case .invalid:
            throw fail("'\(target.masked)' has an INVALID index '\(name)' (an earlier CREATE INDEX CONCURRENTLY failed or was cancelled; "
                       + "the planner ignores it): DROP INDEX CONCURRENTLY \(name); then run this again", code: Exit.dataError)
        case .absent, .present:
            break
        }
        if create {
            do {
                let created = try store.createFailedIndex()
                print(created ? "created \(name) (CREATE INDEX CONCURRENTLY: the application kept writing meanwhile)" : "\(name) already present")
                try store.analyze()
                print("-- the failed rule's query now:")
                for line in try store.failedQueryPlan() { print("--   " + line) }
            } catch {
                throw Failure(error).report()
            }
            return
        }
        print("-- export-cleanup: the optional index for '\(target.masked)' (never created unless you run `export-cleanup index --create`)")
        print("-- \(name): \(state == .present ? "present, used by the planner for the failed rule" : "absent"); \(PostgresJobStore.failedIndexPurpose)")
        for line in wrapped(PostgresJobStore.concurrentlyReason, width: 110) { print("-- " + line) }
        print(PostgresJobStore.failedIndexStatement + ";")
        if let plan = try? store.failedQueryPlan() {
            print("-- the failed rule's query now (EXPLAIN):")
            for line in plan { print("--   " + line) }
        }
    }

    /// The demo's database on PostgreSQL: the files under `dir`, the table in `target` (replacing only an earlier
    /// demo table). The INTEGER `completed_at` of the SQLite demo is NULL here (PostgreSQL has no such value).
    static func demo(in dir: String, target: PostgresConnectionString) throws(ExitCode) -> DemoEnvironment.Layout {
        do {
            let connection = try PostgresConnection(target, overrides: [("application_name", "export-cleanup demo")])
            var layout = try DemoEnvironment.create(in: dir) { rows in
                try PostgresApplicationTable.create(on: connection, replacingDemo: true)
                try PostgresApplicationTable.insert(rows, on: connection)
            }
            layout.database = target.masked
            layout.story = layout.story.map { id, expectation in
                (id, expectation.contains("INTEGER") ? "completed_at is NULL: kept and reported, not guessed at" : expectation)
            }
            return layout
        } catch let error as PostgresError {
            throw fail("cannot create the demo table in '\(target.masked)': \(error.message)", code: Exit.cannotCreate)
        } catch {
            throw fail("cannot create the demo in '\(dir)': \(error.localizedDescription)", code: Exit.cannotCreate)
        }
    }

    private static func wrapped(_ text: String, width: Int) -> [String] {
        var lines: [String] = []
        var line = ""
        for word in text.split(separator: " ") {
            if !line.isEmpty && line.count + word.count + 1 > width {
                lines.append(line)
                line = ""
            }
            line += (line.isEmpty ? "" : " ") + word
        }
        if !line.isEmpty { lines.append(line) }
        return lines
    }
}
