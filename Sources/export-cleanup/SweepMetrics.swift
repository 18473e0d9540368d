import CoreSupport
import ExportCleanup
import ExportStorage
import Foundation
import Prometheus
import Synchronization

/// The Prometheus metrics of the sweeps of one process, written as a text file for node_exporter's textfile
/// collector (`EXPORT_CLEANUP_METRICS_FILE`) after every sweep. Names follow Prometheus's rules: a
/// `export_cleanup_` prefix, base units (seconds, bytes), `_total` for counters, `_timestamp_seconds` for times.
///
/// Counters count from the process's start in the daemon. A one-shot sweep starts them from the values in the file
/// it replaces (``carryOver(from:)``), so across timer-driven sweeps they count every sweep since the file was
/// created; a missing or unreadable file starts them at 0, which Prometheus reads as a counter reset.
/// Dry runs change nothing, the metrics file included.
final class SweepMetrics: Sendable {
    let registry: PrometheusCollectorRegistry

    /// Per rule: removed, already missing, failed, refused, undecidable, changed meanwhile, freed bytes.
    private let removed: [CleanupRule: Counter]
    private let alreadyMissing: [CleanupRule: Counter]
    private let failed: [CleanupRule: Counter]
    private let refused: [CleanupRule: Counter]
    private let undecidable: [CleanupRule: Counter]
    private let changedMeanwhile: [CleanupRule: Counter]
    private let freedBytes: [CleanupRule: Counter]
    private let sweeps: [Outcome: Counter]
    private let lastStart: Gauge
    private let lastEnd: Gauge
    private let lastSuccess: Gauge
    private let lastDuration: Gauge
    private let lastAborted: Gauge
    private let lastDue: Gauge
    private let storageFiles: Gauge
    private let storageBytes: Gauge
    /// Each counter by the series it writes (`name{rule="completed"}`), to read a previous file back.
    private let series: [String: Counter]

    /// How a sweep ended, the `outcome` label of `export_cleanup_sweeps_total`.
    enum Outcome: String, CaseIterable, Sendable {
        /// It ran to the end (files may have failed, records may have been refused).
        case completed
        /// A signal stopped it between files.
        case interrupted
        /// A store error stopped it early (e.g. the database stayed locked).
        case aborted
        /// It could not run (database or storage directory missing, unreadable schema, ...).
        case failed
    }

    static let prefix = "export_cleanup_"

    /// `export_cleanup_NAME_UNIT` with its help text.
    static func name(_ name: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "export_cleanup", metricName: name, unitName: unit, helpText: help)
    }

    init() {
        let registry = PrometheusCollectorRegistry()
        self.registry = registry
        var series: [String: Counter] = [:]
        func perRule(_ name: String, _ help: String) -> [CleanupRule: Counter] {
            Dictionary(uniqueKeysWithValues: CleanupRule.allCases.map { [registry] rule in
                let descriptor = Self.name(name, "total", help)
                let counter = registry.makeCounter(descriptor: descriptor, labels: [("rule", rule.rawValue)])
                series["\(descriptor.name){rule=\"\(rule.rawValue)\"}"] = counter
                return (rule, counter)
            })
        }
        removed = perRule("files_removed", "Export files removed, by rule.")
        alreadyMissing = perRule("files_already_missing", "Due records whose file was already gone (a success), by rule.")
        failed = perRule("files_failed", "Export files that could not be removed (a system call failed), by rule.")
        refused = perRule("records_refused", "Records refused by a safety rule (nothing touched), by rule.")
        undecidable = perRule("records_undecidable", "Records kept because a timestamp their rule needs cannot be read, by rule.")
        changedMeanwhile = perRule("records_changed_meanwhile",
                                   "Records the application changed between a sweep's read and its claim (left alone, file kept), by rule.")
        freedBytes = perRule("freed_bytes", "Bytes of the export files removed, by rule.")
        sweeps = Dictionary(uniqueKeysWithValues: Outcome.allCases.map { [registry] outcome in
            let descriptor = Self.name("sweeps", "total", "Sweeps, by how they ended: completed, interrupted (by a signal), aborted (by a database error), failed (could not run).")
            let counter = registry.makeCounter(descriptor: descriptor, labels: [("outcome", outcome.rawValue)])
            series["\(descriptor.name){outcome=\"\(outcome.rawValue)\"}"] = counter
            return (outcome, counter)
        })
        self.series = series
        lastStart = registry.makeGauge(descriptor: Self.name("last_sweep_start", "timestamp_seconds", "When the last sweep started (Unix time)."))
        lastEnd = registry.makeGauge(descriptor: Self.name("last_sweep_end", "timestamp_seconds", "When the last sweep ended (Unix time)."))
        lastSuccess = registry.makeGauge(descriptor: Self.name("last_success", "timestamp_seconds", "When the last sweep that ran to the end (not aborted, not failed to run) ended (Unix time); 0 when none did yet."))
        lastDuration = registry.makeGauge(descriptor: Self.name("last_sweep_duration", "seconds", "How long the last sweep took."))
        lastAborted = registry.makeGauge(descriptor: Self.name("last_sweep_aborted", "", "1 when the last sweep was aborted by a database error or could not run, else 0."))
        lastDue = registry.makeGauge(descriptor: Self.name("last_sweep_due", "records", "Records the last sweep found due (both rules)."))
        storageFiles = registry.makeGauge(descriptor: Self.name("storage", "files", "Files in the storage directory after the last sweep (only when counted: a one-shot sweep without --no-stats)."))
        storageBytes = registry.makeGauge(descriptor: Self.name("storage", "bytes", "Bytes of the files in the storage directory after the last sweep (only when counted)."))
    }

    /// Adds the counters of a previous metrics file (a one-shot sweep's start), and its last success.
    func carryOver(from path: String) {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return }
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " ") else { continue }
            let name = String(line[..<space]), valueText = line[line.index(after: space)...]
            if let counter = series[name], let value = Int64(valueText), value > 0 {
                counter.increment(by: value)
            } else if name == Self.prefix + "last_success_timestamp_seconds", let value = Double(valueText), value.isFinite {
                lastSuccess.set(to: value)
            }
        }
    }

    /// Records a sweep that ran (`report`), or one that could not (`report` nil, `failure` set).
    /// - Parameters:
    ///   - started: when it started (the report's own start when there is a report).
    ///   - storage: the storage directory counted after the sweep, when it was.
    func record(_ report: SweepReport?, started: UTCInstant, ended: UTCInstant, storage: StorageStatistics?) {
        let outcome: Outcome
        if let report {
            outcome = report.abortedBy != nil ? .aborted : report.interrupted ? .interrupted : .completed
            for rule in CleanupRule.allCases {
                let counts = report[rule]
                removed[rule]?.increment(by: Int64(counts.removed))
                alreadyMissing[rule]?.increment(by: Int64(counts.alreadyMissing))
                failed[rule]?.increment(by: Int64(counts.failed))
                refused[rule]?.increment(by: Int64(counts.refused))
                undecidable[rule]?.increment(by: Int64(counts.undecidable))
                changedMeanwhile[rule]?.increment(by: Int64(counts.changedMeanwhile))
                freedBytes[rule]?.increment(by: counts.bytesFreed)
            }
            lastDuration.set(to: report.durationSeconds)
            lastDue.set(to: Double(report.total.due))
        } else {
            outcome = .failed
            lastDuration.set(to: Double(ended.microseconds - started.microseconds) / 1e6)
            lastDue.set(to: 0)
        }
        sweeps[outcome]?.increment()
        lastStart.set(to: Self.seconds(report?.startedAt ?? started))
        lastEnd.set(to: Self.seconds(ended))
        if outcome == .completed || outcome == .interrupted { lastSuccess.set(to: Self.seconds(ended)) }
        lastAborted.set(to: outcome == .aborted || outcome == .failed ? 1 : 0)
        if let storage {
            storageFiles.set(to: Double(storage.totalFiles))
            storageBytes.set(to: Double(storage.totalBytes))
        }
        storageKnown.withLock { $0 = $0 || storage != nil }
    }

    /// Whether the storage gauges hold a count (else they are left out of the file).
    private let storageKnown = Mutex(false)

    /// The text file, in the Prometheus text format (0.0.4): the registry's families sorted by name (it emits them
    /// in no fixed order), each with its HELP and TYPE lines and its samples sorted.
    func text() -> String {
        let storageKnown = storageKnown.withLock { $0 }
        var families: [String: (header: [Substring], samples: [Substring])] = [:]
        var current = ""
        for line in registry.emitToString().split(separator: "\n") {
            if line.hasPrefix("# ") {
                // "# HELP name text" or "# TYPE name type"
                current = String(line.split(separator: " ", maxSplits: 3).dropFirst(2).first ?? "")
                families[current, default: ([], [])].header.append(line)
            } else {
                families[current, default: ([], [])].samples.append(line)
            }
        }
        var text = ""
        for name in families.keys.sorted() {
            // Unknown is not 0: the storage gauges are left out until the storage directory was counted.
            if !storageKnown && name.hasPrefix(Self.prefix + "storage_") { continue }
            let family = families[name]!
            for line in family.header.sorted() + family.samples.sorted() { text += line + "\n" }
        }
        return text
    }

    /// Writes the file atomically. - Returns: 0, or the errno of the call that failed.
    func write(to path: String) -> Int32 {
        AtomicFile.write(Array(text().utf8), to: path, mode: 0o644)
    }

    static func seconds(_ instant: UTCInstant) -> Double { Double(instant.microseconds) / 1e6 }
}
