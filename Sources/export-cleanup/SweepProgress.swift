import CoreSupport
import Dispatch
import ExportCleanup
import ExportCleanupConfig
import ExportStorage
import Foundation
import Synchronization
import SystemdSupport

/// The live progress line of a one-shot `sweep` on a terminal: rows examined (of how many, when known), files
/// removed, bytes freed, rate, elapsed time and an ETA. Drawn on stderr below the log lines (through the console
/// sink, which takes it away for each log line and draws it again), after each batch (at most ten times a second) and at least four times a second, and erased at the end:
/// the report is unchanged.
///
/// `@unchecked Sendable`: the timer source is only cancelled (thread-safe); everything else is immutable or in a Mutex.
final class SweepProgress: @unchecked Sendable {
    private struct State {
        var examined = 0
        var removed = 0
        var bytes: Int64 = 0
        /// Rows the sweep will examine, when counted.
        var expected: Int?
        var dryRun = false
        /// When the line was last drawn (monotonic seconds).
        var drawn = 0.0
    }

    private let sink: ConsoleLogSink
    private let state = Mutex(State())
    private let started = MonotonicClock.seconds()
    private let timer: any DispatchSourceTimer

    /// A progress line for a sweep with `settings`, or `nil` when none is shown: stderr is not a terminal, the
    /// report is JSON, or the log goes to the journal (then there is no console sink).
    static func start(settings: CleanupSettings, json: Bool, environment: [String: String] = ProcessInfo.processInfo.environment)
        -> SweepProgress?
    {
        guard !json, isatty(2) == 1, environment["JOURNAL_STREAM"] == nil,
            let sink = LoggingSetup.consoleSink.withLock({ $0 })
        else { return nil }
        let progress = SweepProgress(sink: sink, dryRun: settings.dryRun)
        progress.draw()
        // The rows due are known after one count over the candidate queries (the sweep reads them anyway), on a
        // read-only connection of its own, before the sweep starts (so it never holds a lock the sweep waits for);
        // when it cannot be made (e.g. the database is locked or missing: the sweep will say so), there is no ETA.
        if let store = try? SQLiteJobStore(path: settings.databasePath, busyTimeout: Double(settings.busyTimeoutMilliseconds) / 1000,
                                           readOnly: true),
            let count = try? store.candidateCount(policy: settings.policy, now: .now())
        {
            progress.state.withLock { $0.expected = count }
        }
        return progress
    }

    private init(sink: ConsoleLogSink, dryRun: Bool) {
        self.sink = sink
        state.withLock { $0.dryRun = dryRun }
        timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "export-cleanup.progress"))
        timer.schedule(deadline: .now() + .milliseconds(250), repeating: .milliseconds(250), leeway: .milliseconds(50))
        timer.setEventHandler { [weak self] in self?.draw() }
        timer.resume()
    }

    /// After each batch: the report's counts so far (drawn at once when the line is older than a tenth of a second).
    func update(_ report: SweepReport) {
        let total = report.total
        let stale = state.withLock {
            $0.examined = total.examined
            $0.removed = total.removed
            $0.bytes = total.bytesFreed
            return MonotonicClock.seconds() - $0.drawn >= 0.1
        }
        if stale { draw() }
    }

    /// Each file as it goes (between two batches' reports).
    func item(_ item: SweepItem) {
        state.withLock {
            switch item.outcome {
            case .removed(let bytes), .wouldRemove(let bytes):
                $0.removed += 1
                $0.bytes += bytes
            default: break
            }
        }
    }

    /// Prints `text` on stdout without the progress line in the middle of it.
    func printing(_ text: String) {
        sink.setStatusLine("")
        print(text)
        fflush(nil)
        draw()
    }

    /// Erases the line for good.
    func finish() {
        timer.cancel()
        sink.setStatusLine("")
    }

    private func draw() {
        let now = MonotonicClock.seconds()
        let current = state.withLock {
            $0.drawn = now
            return $0
        }
        sink.setStatusLine(Self.line(current, elapsed: now - started))
    }

    /// `examined 1,200 of 5,000 (24%) · removed 1,100 · freed 3.2 MiB · 850 files/s · 1.4 s elapsed · ETA 4 s`
    private static func line(_ state: State, elapsed: Double) -> String {
        var parts: [String] = []
        if let expected = state.expected, expected > 0 {
            let percent = min(100, state.examined * 100 / expected)
            parts.append("examined \(state.examined) of \(expected) (\(percent)%)")
        } else {
            parts.append("examined \(state.examined)")
        }
        parts.append("\(state.dryRun ? "would remove" : "removed") \(state.removed)")
        parts.append("freed \(humanBytes(state.bytes))")
        parts.append(String(format: "%.0f files/s", elapsed > 0 ? Double(state.removed) / elapsed : 0))
        parts.append(String(format: "%.1f s elapsed", elapsed))
        if let expected = state.expected, state.examined > 0, state.examined < expected {
            let remaining = elapsed * Double(expected - state.examined) / Double(state.examined)
            parts.append(String(format: "ETA %.0f s", remaining.rounded(.up)))
        }
        return "sweep: " + parts.joined(separator: " · ")
    }
}
