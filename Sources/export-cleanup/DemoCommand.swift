import ArgumentParser
import ExportCleanup
import ExportCleanupDemo
import ExportCleanupConfig
import Foundation

struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Creates a demo database and exports folder with a mix of jobs, then sweeps it.",
        discussion: """
            The demo directory holds exports.db (the application's schema, SQLAlchemy datetime text) and \
            exports/ (files 0600 in a 0750 directory). Running it again re-creates it. A directory that is \
            not a demo directory is never touched.

            Example:
              export-cleanup demo --dir ./demo
            """)

    @Option(help: "Where to create the demo (default ./demo).")
    var dir = "./demo"

    @Flag(help: "Print the report as JSON.")
    var json = false

    func run() throws {
        let layout: DemoEnvironment.Layout
        do {
            layout = try DemoEnvironment.create(in: dir)
        } catch {
            throw fail("cannot create the demo in '\(dir)': \(error.localizedDescription)", code: Exit.cannotCreate)
        }
        var settings = CleanupSettings()
        settings.databasePath = layout.database
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
                  sqlite3 \(layout.database) "SELECT id, status, file_path FROM export_jobs"
                  \(binary) sweep --db \(layout.database) --storage \(layout.storage) --dry-run
                """)
        }
        // The demo includes a refused record on purpose; that is the demo working.
        let code = outcome.exitCode
        throw code == Exit.partial ? Exit.ok : code
    }
}
