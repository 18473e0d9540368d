import CoreSupport
import ExportCleanup
import ExportCleanupConfig
import ExportStorage
import Foundation
import Logging

/// What an operator finds after a sweep: the metrics file (`EXPORT_CLEANUP_METRICS_FILE`) and the last sweep's
/// status in the state directory (`EXPORT_CLEANUP_STATE_DIRECTORY`), both written atomically after every sweep
/// of the daemon and of the one-shot `sweep`. A dry run writes neither (it changes nothing). Failing to write them
/// is logged as a warning and never fails a sweep.
final class SweepRecords: Sendable {
    /// Who swept.
    enum Kind: String, Codable, Sendable {
        /// `export-cleanup run`.
        case daemon
        /// `export-cleanup sweep`.
        case sweep
    }

    let kind: Kind
    private let metrics = SweepMetrics()

    init(kind: Kind) {
        self.kind = kind
    }

    /// Records a sweep that ran (`.success`) or could not run (`.failure`), in the metrics file and the state
    /// directory that `settings` name.
    /// - Parameters:
    ///   - started: when it started, when there is no report to say so.
    ///   - storage: the storage directory counted after the sweep, when it was.
    ///   - nextSweep: the daemon's next sweep.
    func record(_ result: Result<SweepReport, Failure>, settings: CleanupSettings, started: UTCInstant? = nil,
                storage: StorageStatistics? = nil, nextSweep: UTCInstant? = nil, logger: Logger) {
        if settings.dryRun { return }
        let ended = UTCInstant.now()
        let report = try? result.get()
        let startedAt = report?.startedAt ?? started ?? ended
        if let path = settings.metricsFile {
            if kind == .sweep { metrics.carryOver(from: path) }
            metrics.record(report, started: startedAt, ended: ended, storage: storage)
            let code = metrics.write(to: path)
            if code != 0 {
                logger.warning("cannot write the metrics file \(path): \(String(cString: strerror(code))); the sweep itself is not affected",
                               metadata: ["errno": "\(code)"])
            }
        }
        if let directory = settings.stateDirectory {
            var previous = LastSweep.read(directory: directory)
            if case .failure = previous { previous = .success(nil) }
            var state = LastSweep(kind: kind, pid: getpid(), startedAt: startedAt, endedAt: ended, result: result,
                                  settings: settings, storage: storage, nextSweepAt: nextSweep)
            state.lastSuccessAt = state.succeeded ? ended : (try? previous.get())??.lastSuccessAt
            // systemd creates StateDirectory=; a directory named by hand is created (0755) when missing.
            if access(directory, F_OK) != 0 { try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
            let path = LastSweep.path(in: directory)
            let code = AtomicFile.write(state.fileBytes(), to: path, mode: 0o644)
            if code != 0 {
                logger.warning("cannot write the last sweep's status \(path): \(String(cString: strerror(code))); the sweep itself is not affected",
                               metadata: ["errno": "\(code)"])
            }
        }
    }
}

/// The last sweep's status, as kept in `STATE_DIRECTORY/last-sweep.json` and printed by `status`.
struct LastSweep: Codable {
    /// The file's format; a reader refuses another.
    var format = 1
    var kind: SweepRecords.Kind
    var pid: Int32
    var startedAt: UTCInstant
    var endedAt: UTCInstant
    /// `completed`, `interrupted`, `aborted` or `failed` (as the metrics' `outcome` label).
    var outcome: String
    /// Why it was aborted or failed.
    var error: String?
    /// The exit code a one-shot sweep gives for it.
    var exitCode: Int32
    /// The interval the daemon sweeps at (and a timer-driven sweep is expected at).
    var intervalSeconds: Int
    var databasePath: String
    var storagePath: String
    /// The daemon's next sweep.
    var nextSweepAt: UTCInstant?
    /// The end of the last sweep that ran to the end (this one or an earlier one).
    var lastSuccessAt: UTCInstant?
    /// Files and bytes in the storage directory after the sweep, when counted.
    var storageFiles: Int?
    var storageBytes: Int64?
    /// The sweep's report (its counts per rule, its problems), when it ran.
    var report: SweepReport?

    static let fileName = "last-sweep.json"

    static func path(in directory: String) -> String {
        (directory.hasSuffix("/") ? directory : directory + "/") + fileName
    }

    init(kind: SweepRecords.Kind, pid: Int32, startedAt: UTCInstant, endedAt: UTCInstant, result: Result<SweepReport, Failure>,
         settings: CleanupSettings, storage: StorageStatistics?, nextSweepAt: UTCInstant?) {
        self.kind = kind
        self.pid = pid
        self.startedAt = startedAt
        self.endedAt = endedAt
        intervalSeconds = settings.intervalSeconds
        databasePath = settings.databasePath
        storagePath = settings.storagePath
        self.nextSweepAt = nextSweepAt
        storageFiles = storage?.totalFiles
        storageBytes = storage?.totalBytes
        switch result {
        case .success(let report):
            self.report = report
            outcome = report.abortedBy != nil ? "aborted" : report.interrupted ? "interrupted" : "completed"
            error = report.abortedBy
            exitCode = SweepRun.Outcome(storagePath: settings.storagePath, report: report).exitCode.rawValue
        case .failure(let failure):
            outcome = "failed"
            error = failure.message
            exitCode = failure.exitCode.rawValue
        }
    }

    /// The file's contents: pretty JSON with the properties' own names.
    func fileBytes() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return Array(((try? encoder.encode(self)) ?? Data("{}".utf8))) + [UInt8(ascii: "\n")]
    }

    /// Whether the sweep ran to the end (files may have failed or records been refused).
    var succeeded: Bool { outcome == "completed" || outcome == "interrupted" }

    /// The status kept in `directory`: `nil` when there is none yet; an error message when it cannot be read.
    static func read(directory: String) -> Result<LastSweep?, StatusReadError> {
        let path = path(in: directory)
        guard let data = FileManager.default.contents(atPath: path) else {
            if access(directory, F_OK) != 0 { return .failure(StatusReadError(message: "the state directory \(directory) does not exist")) }
            if access(path, F_OK) != 0 { return .success(nil) }
            return .failure(StatusReadError(message: "cannot read \(path): \(String(cString: strerror(errno)))"))
        }
        do {
            // The file keeps the properties' own names (a snake_case round trip would not give back `jobID`).
            let state = try JSONDecoder().decode(LastSweep.self, from: data)
            guard state.format == 1 else { return .failure(StatusReadError(message: "\(path) has format \(state.format), not 1")) }
            return .success(state)
        } catch {
            return .failure(StatusReadError(message: "\(path) is not a status this version reads: \(error)"))
        }
    }
}

struct StatusReadError: Error {
    var message: String
}
