import ArgumentParser
import ExportCleanup
import ExportCleanupConfig
import ExportStorage
import Foundation
import Logging

struct OrphansCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "orphans",
        abstract: "Lists (or removes) export files in the storage directory that no row references.",
        discussion: """
            An export file (a name that follows {export_type}_{job_id}_{YYYYMMDD_HHMMSS}.{ext}) older than \
            --older-than-hours is an orphan when no row has the job id in its name, or every such row's file_path \
            is NULL or names another file. Names that do not follow the convention, directories, symlinks and \
            other entries are reported, never removed; the claims journal (.export-cleanup-claims) is never an \
            orphan. Without --delete nothing changes. With --delete the sweep lock is taken (exit 75 when a sweep \
            holds it) and up to --limit orphans are removed, each after its rows are looked up once more. Memory \
            stays flat at any number of files (rows are looked up by id in batches). The daemon runs the same \
            pass after each sweep when EXPORT_CLEANUP_ORPHAN_HOURS is set. Exit codes: 0 done, 1 some removals \
            failed, 66 missing database or storage, 75 locked, 78 configuration.

            Examples:
              export-cleanup orphans --db /srv/app/app.db --storage /srv/app/exports
              export-cleanup orphans --db /srv/app/app.db --storage /srv/app/exports --older-than-hours 72 --delete --limit 1000
              export-cleanup orphans --config /etc/export-cleanup/export-cleanup.conf --json
            """)

    @OptionGroup var file: ConfigFileOption
    @OptionGroup var database: DatabaseOption
    @OptionGroup var storage: StorageOption
    @OptionGroup var busyTimeout: BusyTimeoutOption

    @Option(name: .customLong("older-than-hours"), help: "Only files modified at least this many hours ago count (default 24).")
    var olderThanHours: Double = 24

    @Option(help: "Remove at most this many files (with --delete).")
    var limit: Int?

    @Flag(help: "Remove the orphans found (re-checking each one's rows right before); without it nothing changes.")
    var delete = false

    @Flag(help: "Print the report as JSON (the counts, and at most 1,000 entries listed).")
    var json = false

    func validate() throws {
        guard olderThanHours.isFinite, olderThanHours >= 0 else { throw ValidationError("--older-than-hours must be 0 or more") }
        if let limit, limit < 0 { throw ValidationError("--limit must be 0 or more") }
    }

    func run() throws {
        let settings = try loadSettings(config: file.config, flags: database.flags.merging(storage.flags) { $1 }.merging(busyTimeout.flags) { $1 })
        let logger = try LoggingSetup.bootstrap(target: .stderr, level: settings.loggerLevel, logFile: nil)
        var readOnly = settings
        readOnly.dryRun = !delete
        let opened: (store: any JobStore & ClusterSweepLock, directory: OpenStorageDirectory)
        do throws(Failure) {
            opened = try SweepRun.open(readOnly)
        } catch {
            throw error.report()
        }
        let scanner = OrphanScanner(store: opened.store, storage: opened.directory, logger: logger)
        let report: OrphanReport
        do {
            report = try scanner.scan(options: OrphanOptions(olderThanHours: olderThanHours, limit: limit, delete: delete)) { entry in
                guard !json else { return }
                var line = "\(entry.kind.rawValue.padding(toLength: 13, withPad: " ", startingAt: 0)) \(entry.name)  (\(entry.bytes) bytes, "
                    + "\(String(format: "%.1f", entry.ageHours)) h old): \(entry.reason)"
                if let outcome = entry.outcome { line += " -> \(outcome)" }
                print(line)
            }
        } catch {
            switch error {
            case .store(let error): throw Failure(error).report()
            case .storage(let error): throw Failure(error).report()
            }
        }
        if json {
            print(jsonText(report))
        } else {
            print(report.summary)
        }
        if report.failed > 0 { throw Exit.partial }
    }
}
