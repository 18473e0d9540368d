import Foundation
import Glibc
import Logging
@testable import SystemdSupport
import TestSupport
import Testing

/// Runs the SystemdSupportProbe executable under a private journald; returns its entries as field → values.
func probeEntries(identifier: String, expected: Int) throws -> (entries: [[String: [String]]], probeOutput: String) {
    let directory = TemporaryDirectory()
    defer { directory.remove() }
    let entries = try PrivateJournal.entries(
        identifier: identifier, expectedEntries: expected, payload: #""$1" "$2" >"$out/probe.out" 2>&1"#,
        arguments: [Probe.path, identifier], in: directory.path)
    let probeOutput = (try? String(contentsOfFile: directory.sub("probe.out"), encoding: .utf8)) ?? ""
    return (entries.map { $0.mapValues(PrivateJournal.fieldValues) }, probeOutput)
}

@Suite(.enabled(if: PrivateJournal.canRun, "needs root, unshare --mount and systemd-journald"))
struct JournalLogHandlerTests {
    @Test func writesStructuredEntriesToARealJournald() throws {
        let identifier = "systemd-support-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let (entries, probeOutput) = try probeEntries(identifier: identifier, expected: 4)
        #expect(probeOutput == "failed=0\n")

        func entry(_ message: String) throws -> [String: [String]] {
            try #require(entries.first { $0["MESSAGE"] == [message] }, "no entry \(message) in \(entries)")
        }
        #expect(entries.count == 4, "debug must be filtered out: \(entries.map { $0["MESSAGE"] ?? [] })")
        for entry in entries {
            #expect(entry["SYSLOG_IDENTIFIER"] == [identifier])
            #expect(entry["_PID"]?.count == 1)
        }

        let info = try entry("probe info")
        #expect(info["PRIORITY"] == ["6"])
        #expect(info["CODE_FILE"] == ["Probe/Fixed.swift"])
        #expect(info["CODE_LINE"] == ["4242"])
        #expect(info["CODE_FUNC"] == ["probeFunction()"])
        #expect(info["MESSAGE_ID"] == ["8b6d4f3a2c1e4b5a9f0e1d2c3b4a5968"])
        #expect(info["EXPORT_JOB_ID"] == ["42"])
        #expect(info["BYTES"] == ["4096"])
        #expect(info["MULTI"] == ["line one\nline two"])
        #expect(info["META_PRIORITY"] == ["fake"])
        #expect(info["SWEEP_ID"] == ["1"])
        #expect(info["PROVIDED_KEY"] == ["from-provider"])

        let warning = try entry("probe warning\nsecond line")
        #expect(warning["PRIORITY"] == ["4"])
        #expect(warning["SWEEP_ID"] == ["2"])  // the call's metadata overrides the handler's
        #expect(warning["CODE_FILE"]?.first?.hasSuffix("main.swift") == true)
        #expect(warning["CODE_FUNC"]?.isEmpty == false)
        #expect(Int(warning["CODE_LINE"]?.first ?? "") ?? 0 > 0)

        let error = try entry("probe error")
        #expect(error["PRIORITY"] == ["3"])
        #expect(error["ERROR_MESSAGE"] == ["probe failure"])
        #expect(error["ERROR_TYPE"]?.first?.hasSuffix("ProbeError") == true)

        #expect(try entry("probe critical")["PRIORITY"] == ["2"])
    }
}

/// The entry a handler builds, without a journald (fields in order, as sent).
struct JournalEntryFieldsTests {
    struct Failure: Error {}

    func fields(_ handler: JournalLogHandler, _ event: LogEvent) -> [(String, String)] {
        handler.fields(for: event).fields
    }

    func event(_ level: Logger.Level, _ message: Logger.Message, metadata: Logger.Metadata? = nil, error: (any Error)? = nil)
        -> LogEvent
    {
        LogEvent(
            level: level, message: message, error: error, metadata: metadata, source: "Tests", file: "Tests/File.swift",
            function: "f()", line: 7)
    }

    @Test func fixedFieldsComeFirst() {
        let handler = JournalLogHandler(identifier: "test", metadataProvider: nil)
        let sent = fields(handler, event(.notice, "two\nlines"))
        #expect(sent.map(\.0) == ["MESSAGE", "PRIORITY", "SYSLOG_IDENTIFIER", "CODE_FILE", "CODE_LINE", "CODE_FUNC"])
        #expect(sent.map(\.1) == ["two\nlines", "5", "test", "Tests/File.swift", "7", "f()"])
    }

    @Test func metadataIsMergedHandlerThenProviderThenCall() {
        var handler = JournalLogHandler(
            identifier: "custom", metadataProvider: .init { ["layer": "provider", "trace.id": "t1"] })
        handler.metadata = ["layer": "handler", "export.job_id": "9"]
        let sent = Dictionary(
            fields(handler, event(.info, "m", metadata: ["layer": "call", "message_id": "abc"]))
                .dropFirst(6).map { ($0.0, $0.1) }, uniquingKeysWith: { first, _ in first })
        #expect(sent == ["LAYER": "call", "TRACE_ID": "t1", "EXPORT_JOB_ID": "9", "MESSAGE_ID": "abc"])
        #expect(handler.identifier == "custom")
    }

    @Test func handlerMetadataAloneUsesTheCachedEncoding() {
        var handler = JournalLogHandler(identifier: "test", metadataProvider: nil)
        handler[metadataKey: "sweep_id"] = "1"
        handler[metadataKey: "sweep_id"] = "2"  // the cache follows every change
        handler[metadataKey: "bytes"] = .stringConvertible(4096)
        let sent = fields(handler, event(.debug, "m")).dropFirst(6)
        #expect(Dictionary(uniqueKeysWithValues: sent.map { ($0.0, $0.1) }) == ["SWEEP_ID": "2", "BYTES": "4096"])
        #expect(fields(handler, event(.debug, "m", metadata: [:])).count == 8)
    }

    @Test func errorsBecomeFields() {
        let sent = fields(JournalLogHandler(identifier: "test", metadataProvider: nil), event(.error, "m", error: Failure()))
        #expect(sent.contains { $0 == ("ERROR_TYPE", String(reflecting: Failure.self)) })
        #expect(sent.contains { $0.0 == "ERROR_MESSAGE" })
    }

    @Test func journalctlJSONValuesAreDecoded() {
        #expect(PrivateJournal.fieldValues("plain") == ["plain"])
        #expect(PrivateJournal.fieldValues([104, 105, 10, 33]) == ["hi\n!"])
        #expect(PrivateJournal.fieldValues(["a", [98, 10]]) == ["a", "b\n"])  // a field given twice
        #expect(PrivateJournal.fieldValues(NSNull()) == [])
    }
}
