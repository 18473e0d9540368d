import ArgumentParser
import ExportCleanup
import ExportCleanupDemo
import ExportCleanupConfig
import ExportCleanupPostgres
import Foundation

struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Creates a demo database and exports folder with a mix of jobs, then sweeps it.",
        discussion: """
            The demo directory holds exports.db (the application's schema, SQLAlchemy datetime text) and \
            exports/ (files 0600 in a 0750 directory). Running it again re-creates it. A directory that is \
            not a demo directory is never touched.

            With --db postgresql://..., the jobs go into an export_jobs table in that PostgreSQL database (the \
            table SQLAlchemy creates there; an existing export_jobs table is replaced only if an earlier demo \
            created it).

            Examples:
              export-cleanup demo --dir ./demo
              export-cleanup demo --dir ./demo --db postgresql:///demo?host=/run/postgresql
            """)

    @Option(help: "Where to create the demo (default ./demo).")
    var dir = "./demo"

    @Option(help: ArgumentHelp("A PostgreSQL connection string: create the demo table there (replacing only an earlier demo table) instead of exports.db.", valueName: "uri"))
    var db: String?

    @Flag(help: "Print the report as JSON.")
    var json = false

    func run() throws {
        let layout: DemoEnvironment.Layout
        if let db {
            guard let target = PostgresConnectionString(db) else {
                throw fail("--db takes a PostgreSQL connection string (postgresql://... or host=... dbname=...); without it the demo uses SQLite", code: Exit.usage)
            }
            layout = try PostgresCommands.demo(in: dir, target: target)
        } else {
            do {
                layout = try DemoEnvironment.create(in: dir)
            } catch {
                throw fail("cannot create the demo in '\(dir)': \(error.localizedDescription)", code: Exit.cannotCreate)
            }
        }
        var settings = CleanupSettings()
        settings.databasePath = db ?? layout.database
        settings.storagePath = layout.storage
        if !json {
            print("Demo in \(layout.directory): database \(layout.database), storage \(layout.storage)")
            for (id, expectation) in layout.story { print("  \(id)  \(expectation)") }
            print("")
        }
        let logger = try LoggingSetup.bootstrap(target: .stderr, level: .info, logFile: nil)
        let outcome = try SweepRun.once(settings, wait: false, logger: logger) { _ in }
        print(json ? jsonText(SweepOutput(outcome)) : sweepText(outcome))
        if !json {
            // The binary as it was started (e.g. .build/debug/export-cleanup after `swift run`), so the lines paste.
            let binary = CommandLine.arguments.first.map { $0.contains("/") ? $0 : "export-cleanup" } ?? "export-cleanup"
            print("""

                Try next:
                  \(binary) stats --storage \(layout.storage)
                  \(db == nil ? "sqlite3 \(layout.database)" : "psql '\(layout.database)' -c") "SELECT id, status, file_path FROM export_jobs"
                  \(binary) sweep --db \(db == nil ? layout.database : "'\(layout.database)'") --storage \(layout.storage) --dry-run
                """)
        }
        // The demo includes a refused record on purpose; that is the demo working.
        let code = outcome.exitCode
        throw code == Exit.partial ? Exit.ok : code
    }
}
