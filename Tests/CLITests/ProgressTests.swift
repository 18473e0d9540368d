import Foundation
import TestSupport
import Testing

/// The report's lines without the sweep id and the time (they differ between two runs).
private func stableReport(_ stdout: String) -> [String] {
    stdout.replacingOccurrences(of: "\r\n", with: "\n").split(separator: "\n").map(String.init)
        .filter { !$0.hasPrefix("Sweep ") && !$0.contains("duration ") }
}

@Suite("progress line of a one-shot sweep on a terminal")
struct ProgressTests {
    @Test("stderr a terminal: a live line with examined (of how many), removed, freed, rate, elapsed and ETA, erased at the end; the report is unchanged")
    func onATerminal() throws {
        let fixture = try Fixture(memory: true)
        _ = FileManager.default.createFile(atPath: fixture.tmp.sub("none.conf"), contents: Data())
        try fixture.addManyDue(4000)
        let result = try PseudoTerminal.run(
            [Binary.path, "sweep", "--db", fixture.database, "--storage", fixture.storage, "--batch-size", "2", "--no-stats", "--allow-mass-deletion",
             "--config", fixture.tmp.sub("none.conf"), "--log-level", "warning"],
            environment: Binary.environment(), in: fixture.tmp.path)
        #expect(result.status == 0, "\(result.stderr)")
        let stderr = result.stderr
        #expect(stderr.hasPrefix("\r\u{1B}[Ksweep: examined "), "\(stderr.debugDescription.prefix(300))")
        let lines = stderr.components(separatedBy: "\r\u{1B}[K").filter { !$0.isEmpty }
        #expect(lines.count >= 2, "drawn more than once: \(lines)")
        #expect(lines.allSatisfy { $0.hasPrefix("sweep: examined ") }, "\(lines)")
        #expect(lines.contains { $0.contains(" of 4000 (") && $0.contains("ETA ") }, "the count of rows due gives an ETA: \(lines)")
        #expect(lines.contains { $0.contains("removed ") && $0.contains("freed ") && $0.contains(" files/s") && $0.contains(" s elapsed") })
        #expect(stderr.hasSuffix("\r\u{1B}[K"), "the line is erased at the end: \(stderr.debugDescription.suffix(200))")
        #expect(!fixture.storageListing().contains { $0.hasPrefix("hotels_exp_bulk") }, "every due file went")

        // The report on stdout is the one printed without a terminal.
        let fixture2 = try Fixture(memory: true)
        _ = FileManager.default.createFile(atPath: fixture2.tmp.sub("none.conf"), contents: Data())
        try fixture2.addManyDue(4000)
        let plain = try Binary.run(["sweep", "--db", fixture2.database, "--storage", fixture2.storage, "--batch-size", "2", "--no-stats", "--allow-mass-deletion",
                                    "--config", fixture2.tmp.sub("none.conf"), "--log-level", "warning"])
        #expect(plain.status == 0)
        #expect(plain.stderr.isEmpty, "no progress line when stderr is not a terminal: \(plain.stderr.debugDescription.prefix(200))")
        #expect(stableReport(result.stdout) == stableReport(plain.stdout))
    }

    @Test("never with --json, nor under the journal (JOURNAL_STREAM), even on a terminal")
    func notWithJSONOrTheJournal() throws {
        let fixture = try Fixture(memory: true)
        _ = FileManager.default.createFile(atPath: fixture.tmp.sub("none.conf"), contents: Data())
        try fixture.addManyDue(200)
        let arguments = [Binary.path, "sweep", "--db", fixture.database, "--storage", fixture.storage, "--no-stats",
                         "--config", fixture.tmp.sub("none.conf"), "--log-level", "warning", "--dry-run"]
        let json = try PseudoTerminal.run(arguments + ["--json"], environment: Binary.environment(), in: fixture.tmp.path)
        #expect(json.status == 0)
        #expect(!json.stderr.contains("sweep: examined"), "\(json.stderr.debugDescription.prefix(200))")
        #expect(json.stdout.hasPrefix("{"))
        let journal = try PseudoTerminal.run(arguments + ["--log-target", "stderr"], environment: Binary.environment(["JOURNAL_STREAM": "1:1"]),
                                             in: fixture.tmp.path)
        #expect(journal.status == 0)
        #expect(!journal.stderr.contains("sweep: examined"), "\(journal.stderr.debugDescription.prefix(200))")
        #expect(journal.stdout.contains("would remove"))
    }
}
