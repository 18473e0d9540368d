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
/// sink, which takes it away for each log line and draws it again), four times a second, and erased at the end:
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
        // The rows due are known after one count over the candidate queries (the sweep reads them anyway); it
        // runs beside the sweep on a read-only connection of its own, and without it there is no ETA.
        DispatchQueue.global().async { [progress] in
            guard let store = try? SQLiteJobStore(path: settings.databasePath, busyTimeout: 0.2, readOnly: true),
                let count = try? store.candidateCount(policy: settings.policy, now: .now())
            else { return }
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

    /// After each batch: the report's counts so far.
    func update(_ report: SweepReport) {
        let total = report.total
        state.withLock {
            $0.examined = total.examined
            $0.removed = total.removed
            $0.bytes = total.bytesFreed
        }
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
        sink.setStatusLine(Self.line(state.withLock { $0 }, elapsed: now - started))
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
