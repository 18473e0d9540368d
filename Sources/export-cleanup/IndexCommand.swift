import ArgumentParser
import ExportCleanup
import ExportCleanupPostgres
import Foundation

struct IndexCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "index",
        abstract: "Shows, or creates with --create, the optional index that keeps sweeps fast as failed jobs accumulate.",
        discussion: """
            The failed rule reads failed jobs that still have a file. Without help it walks every failed job \
            ever recorded (through ix_export_jobs_status), so a sweep slows down as failed history grows. The \
            partial index ix_export_jobs_cleanup_failed holds only failed jobs that still have a file; a sweep \
            uses it when it finds it with exactly this definition, and the plain status index otherwise.

            export-cleanup never changes the application's schema by itself: without --create this command only \
            prints the state and the SQL (a script sqlite3 can run). --create runs CREATE INDEX IF NOT EXISTS in \
            one transaction; running it again does nothing. To remove the index: \
            DROP INDEX ix_export_jobs_cleanup_failed. The application's writes keep it up to date (a small cost \
            per insert or update of a failed job).

            Exit codes: 0 done, 65 no export_jobs table or an index of that name with another definition, \
            66 missing database, 75 locked.

            On PostgreSQL the index is ON export_jobs (id) WHERE status = 'failed' AND file_path IS NOT NULL, \
            built with CREATE INDEX CONCURRENTLY (the application's writes go on meanwhile); the output shows \
            the plan the failed rule's query gets (EXPLAIN).

            Examples:
              export-cleanup index --db /srv/app/app.db
              export-cleanup index --db /srv/app/app.db --create
              export-cleanup index --db 'postgresql://cleanup@db.internal/app' --create
            """)

    @Option(help: ArgumentHelp("The application's SQLite database or PostgreSQL connection string (default: $EXPORT_CLEANUP_DATABASE, else ./exports.db).", valueName: "path|uri"))
    var db: String?

    @Flag(help: "Create the indexes that are absent (one transaction).")
    var create = false

    @Option(name: .customLong("busy-timeout-ms"), help: "Milliseconds to wait for a locked database (default 5000).")
    var busyTimeoutMs = 5000

    func run() throws {
        let path = db ?? defaultDatabasePath()
        if let target = PostgresConnectionString(path) {
            return try PostgresCommands.index(target, create: create, busyTimeoutMs: busyTimeoutMs)
        }
        let store: SQLiteJobStore
        let states: [(index: SQLiteJobStore.OptionalIndex, state: SQLiteJobStore.IndexState)]
        do {
            store = try SQLiteJobStore(path: path, busyTimeout: Double(busyTimeoutMs) / 1000, readOnly: !create)
            try store.verifySchema()
            states = try store.optionalIndexStates()
        } catch {
            throw fail(error, code: SweepRun.exitCode(for: error))
        }
        for (index, state) in states {
            if case .different(let found) = state {
                throw fail("database '\(path)' has an index '\(index.name)' with another definition: \(found); it is not used, "
                           + "and --create leaves it alone: drop it (DROP INDEX \(index.name)) to let export-cleanup create its own",
                           code: Exit.dataError)
            }
        }
        if create {
            let created: [SQLiteJobStore.OptionalIndex]
            do {
                created = try store.createOptionalIndexes()
            } catch {
                throw fail(error, code: SweepRun.exitCode(for: error))
            }
            for (index, _) in states {
                print(created.contains(index) ? "created \(index.name)" : "\(index.name) already present")
            }
            return
        }
        print("-- export-cleanup: optional indexes for '\(path)' (never created unless you run `export-cleanup index --create`)")
        for (index, state) in states {
            print("-- \(index.name): \(state == .present ? "present, used by sweeps" : "absent"); \(index.purpose)")
        }
        print("BEGIN IMMEDIATE;")
        for (index, _) in states { print(index.createStatement + ";") }
        print("COMMIT;")
    }
}

/// The database path when `--db` is not given: `$EXPORT_CLEANUP_DATABASE`, else `./exports.db`.
func defaultDatabasePath() -> String {
    if let value = ProcessInfo.processInfo.environment["EXPORT_CLEANUP_DATABASE"], !value.isEmpty { return value }
    return "./exports.db"
}
