import ExportCleanup
import ExportCleanupDemo
import Foundation
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `sweep`, then `run` until its first sweep, logging to the journal; `$1` the binary, then the database, the
/// storage directory and the configuration file.
private let payload = #"""
    bin="$1"; db="$2"; storage="$3"; conf="$4"
    "$bin" sweep --db "$db" --storage "$storage" --config "$conf" --log-target journal -v >"$out/sweep.out" 2>"$out/sweep.err"
    echo "$?" >"$out/sweep.status"
    "$bin" run --db "$db" --storage "$storage" --config "$conf" --log-target journal --interval-seconds 60 2>"$out/run.err" &
    daemon=$!
    i=0
    # Wait for the daemon's first sweep: the second "sweep finished" entry.
    until [ "$(journalctl -D /run/log/journal -o json SYSLOG_IDENTIFIER=export-cleanup 2>/dev/null | grep -c e5e1ef97a9b44505b65864f6c0bc13b1)" -ge 2 ]; do
        i=$((i + 1)); [ "$i" -gt 200 ] && break
        sleep 0.05
    done
    kill -TERM "$daemon"; wait "$daemon"; echo "$?" >"$out/run.status"
    sleep 0.3
    """#

@Suite("Journal output", .enabled(if: PrivateJournal.canRun, "needs root, unshare --mount and systemd-journald"))
struct JournalTests {
    @Test("sweep and run write structured entries with MESSAGE_IDs and EXPORT_* fields")
    func structuredEntries() throws {
        let fixture = try Fixture()
        let conf = fixture.tmp.sub("empty.conf")
        _ = FileManager.default.createFile(atPath: conf, contents: Data())
        let removed = try fixture.addCompleted("exp_gone1", hoursAgo: 48, bytes: 1234)
        let outside = fixture.tmp.sub("outside.csv")
        _ = FileManager.default.createFile(atPath: outside, contents: Data("keep".utf8))
        let stamp = UTCInstant.now().adding(microseconds: -48 * 3_600_000_000)
        try fixture.db.insert([.init(id: "exp_evil1", status: "completed", filePath: .text(outside),
                                     createdAt: ApplicationDatabase.text(stamp), completedAt: ApplicationDatabase.text(stamp))])

        let log = { (name: String) in (try? String(contentsOfFile: fixture.tmp.sub(name), encoding: .utf8)) ?? "" }
        let all: [[String: Any]]
        do {
            all = try PrivateJournal.entries(identifier: "export-cleanup", payload: payload,
                                             arguments: [Binary.path, fixture.database, fixture.storage, conf], in: fixture.tmp.path)
        } catch {
            Issue.record("\(error)\nsweep: \(log("sweep.err"))\nrun: \(log("run.err"))")
            return
        }
        #expect(log("sweep.status").trimmingCharacters(in: .whitespacesAndNewlines) == "1", "a refused record makes the sweep exit 1")
        #expect(log("run.status").trimmingCharacters(in: .whitespacesAndNewlines) == "0")
        #expect(log("sweep.err").isEmpty, "under --log-target journal nothing goes to stderr: \(log("sweep.err"))")
        #expect(!fileExists(removed))
        #expect(fileExists(outside))

        func entries(_ messageID: String) -> [[String: Any]] { all.filter { $0["MESSAGE_ID"] as? String == messageID } }

        let refused = try #require(entries(MessageID.recordRefused).first)
        #expect(refused["EXPORT_JOB_ID"] as? String == "exp_evil1")
        #expect(refused["EXPORT_REFUSAL"] as? String == "outside_storage")
        #expect(refused["PRIORITY"] as? String == "4")
        #expect((refused["EXPORT_FILE"] as? String)?.contains("outside.csv") == true)
        #expect(refused["SWEEP_ID"] != nil)
        #expect(refused["CODE_FILE"] != nil && refused["CODE_LINE"] != nil && refused["CODE_FUNC"] != nil)

        let finished = entries(MessageID.sweepFinished)
        #expect(finished.count >= 2, "one from sweep, one from the daemon's first sweep")
        let first = try #require(finished.first)
        #expect(first["EXPORT_REMOVED"] as? String == "1")
        #expect(first["EXPORT_REFUSED"] as? String == "1")
        #expect(first["EXPORT_BYTES_FREED"] as? String == "1234")
        #expect(first["PRIORITY"] as? String == "6")
        #expect((first["MESSAGE"] as? String)?.hasPrefix("sweep finished: 2 due, 1 removed (1234 bytes)") == true)

        let removal = try #require(all.first { $0["MESSAGE"] as? String == "removed export file" })
        #expect(removal["EXPORT_JOB_ID"] as? String == "exp_gone1")
        #expect(removal["EXPORT_BYTES"] as? String == "1234")
        #expect(removal["PRIORITY"] as? String == "7")

        #expect(entries(MessageID.daemonStarted).count == 1)
        #expect(entries(MessageID.daemonStopping).count == 1)
        #expect(all.allSatisfy { $0["SYSLOG_IDENTIFIER"] as? String == "export-cleanup" })
    }
}
