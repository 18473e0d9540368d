import ArgumentParser

/// The program's name: the command, the journal's `SYSLOG_IDENTIFIER`, the logger's label, the prefix of error lines.
let programName = "export-cleanup"

@main
struct ExportCleanupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: programName,
        abstract: "Keeps an application's export directory clean: removes expired and failed export files and updates their records.",
        discussion: """
            Export files are named {export_type}_{job_id}_{YYYYMMDD_HHMMSS}.{csv|json|xlsx} and recorded in the \
            export_jobs table of the application's SQLite database.

            Examples:
              export-cleanup demo
              export-cleanup stats --storage /srv/app/exports
              export-cleanup path --job-id exp_a1b2c3d4e5f6 --type hotels --format csv
            """,
        subcommands: [RunCommand.self, SweepCommand.self, StatusCommand.self, OrphansCommand.self, IndexCommand.self, DemoCommand.self,
                      StatsCommand.self, PathCommand.self, GenerateConfManualCommand.self])
}
