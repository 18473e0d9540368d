import ArgumentParser
import ExportCleanup
import ExportCleanupConfig
import ExportStorage
import Foundation
import Logging
import SystemdSupport

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Runs the daemon: sweeps every interval, on SIGHUP re-reads the configuration and sweeps at once.",
        discussion: """
            Meant for systemd (Type=notify): reports READY, STATUS, RELOADING and STOPPING through sd_notify, \
            pings the watchdog while sweeps make progress, and logs to the journal with structured fields. \
            SIGTERM or SIGINT stops it between two files, after committing the batch in hand.

            Examples:
              export-cleanup run --config /etc/export-cleanup/export-cleanup.conf
              export-cleanup run --db ./demo/exports.db --storage ./demo/exports --interval-seconds 60 --log-target stderr
            """)

    @OptionGroup var settings: SettingsOptions

    @Option(name: .customLong("interval-seconds"), help: ArgumentHelp(settingHelp("Seconds between sweeps", .intervalSeconds)))
    var intervalSeconds: String?

    @Flag(name: .customLong("dry-run"), help: "Only report what would be removed.")
    var dryRun = false

    func run() throws {
        Signals.block()
        let notifier = SystemdNotifier()
        let environment = ProcessInfo.processInfo.environment
        var extra: [SettingKey: String] = [:]
        if let intervalSeconds { extra[.intervalSeconds] = intervalSeconds }
        if dryRun { extra[.dryRun] = "true" }
        let resolved: CleanupSettings
        do {
            resolved = try settings.load(extraFlags: extra, environment: environment)
        } catch {
            notifier.errno(EINVAL, status: "Configuration error: \(error)")
            throw fail(error, code: Exit.config)
        }
        let logger = try LoggingSetup.bootstrap(target: settings.logTarget, level: resolved.loggerLevel, logFile: nil)
        notifier.status("Starting: checking \(SweepRun.shownDatabase(resolved)) and \(resolved.storagePath)")
        do {
            try Daemon.check(resolved, startup: true)
        } catch {
            logger.critical("cannot start: \(error.message)", metadata: ["errno": "\(error.errno)"])
            notifier.errno(error.errno, status: "Cannot start: \(error.message)")
            throw error.exitCode
        }
        let watchdog = WatchdogConfiguration(watchdogUSec: environment["WATCHDOG_USEC"], watchdogPID: environment["WATCHDOG_PID"],
                                             ownPID: getpid())
        let daemon = Daemon(settings: resolved, options: settings, extraFlags: extra, logger: logger, notifier: notifier, watchdog: watchdog)
        daemon.start()
        Signals.parkMainThread()
    }
}
