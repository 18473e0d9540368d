import ArgumentParser
import ExportCleanup
import ExportCleanupPostgres

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

            The database and the busy timeout come from the flags, the environment and the configuration file, \
            as for sweep (exit 78 on a configuration error).

            On PostgreSQL the index is ON export_jobs (id) WHERE status = 'failed' AND file_path IS NOT NULL, \
            built with CREATE INDEX CONCURRENTLY (the application's writes go on meanwhile); the output shows \
            the plan the failed rule's query gets (EXPLAIN).

            Examples:
              export-cleanup index --db /srv/app/app.db
              export-cleanup index --db /srv/app/app.db --create
              export-cleanup index --config /etc/export-cleanup/export-cleanup.conf
              export-cleanup index --db 'postgresql://cleanup@db.internal/app' --create
            """)

    @OptionGroup var file: ConfigFileOption
    @OptionGroup var database: DatabaseOption
    @OptionGroup var busyTimeout: BusyTimeoutOption

    @Flag(help: "Create the indexes that are absent (one transaction).")
    var create = false

    func run() throws {
        let settings = try loadSettings(config: file.config, flags: database.flags.merging(busyTimeout.flags) { $1 })
        let path = settings.databasePath
        if let target = PostgresConnectionString(path) {
            return try PostgresCommands.index(target, create: create, busyTimeoutMs: settings.busyTimeoutMilliseconds)
        }
        let store: SQLiteJobStore
        let states: [(index: SQLiteJobStore.OptionalIndex, state: SQLiteJobStore.IndexState)]
        do {
            store = try SQLiteJobStore(path: path, busyTimeout: Double(settings.busyTimeoutMilliseconds) / 1000, readOnly: !create)
            try store.verifySchema()
            states = try store.optionalIndexStates()
        } catch {
            throw Failure(error).report()
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
                throw Failure(error).report()
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
