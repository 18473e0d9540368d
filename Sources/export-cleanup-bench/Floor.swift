import BenchSupport
import CoreSupport
#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Foundation
import GRDB

/// The floor: what removing exactly the due files and updating exactly their rows costs at the least. Run by the
/// benchmark as a fresh process, like the sweep, so both pay process start-up.
///
/// One `unlinkat` per due file (relative to one directory descriptor, no `fstatat`, no checks), then one bulk
/// `UPDATE ... WHERE id IN (SELECT value FROM json_each(?))` of the same rows in one transaction. It knows the due
/// set in advance (the list file), so it does no selection at all: a sweep can only be slower.
struct FloorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "floor", abstract: "(internal) The floor: unlinkat loop over a list, then one bulk UPDATE.", shouldDisplay: false)

    @Option var db: String
    @Option var storage: String
    @Option(help: "Lines `c|f job_id file_name`, the due jobs.") var list: String

    func run() throws {
        let start = MonotonicClock.seconds()
        // Lines `c|f id name`, split on bytes (this is set-up, but it is inside the process's wall time).
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: list)))
        var ids: [String] = []
        var names: [String] = []
        var fieldStart = 0, field = 0
        for index in bytes.indices where bytes[index] == UInt8(ascii: " ") || bytes[index] == UInt8(ascii: "\n") {
            let text = String(decoding: bytes[fieldStart..<index], as: UTF8.self)
            if field == 1 { ids.append(text) } else if field == 2 { names.append(text) }
            field = bytes[index] == UInt8(ascii: "\n") ? 0 : field + 1
            fieldStart = index + 1
        }
        let listed = MonotonicClock.seconds()
        let directory = open(storage, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard directory >= 0 else { throw BenchError("cannot open \(storage)") }
        var removed = 0, missing = 0, failed = 0
        for name in names {
            if unlinkat(directory, name, 0) == 0 {
                removed += 1
            } else if errno == ENOENT {
                missing += 1
            } else {
                failed += 1
            }
        }
        close(directory)
        let unlinked = MonotonicClock.seconds()
        let idArray = "[" + ids.map { "\"\($0)\"" }.joined(separator: ",") + "]"
        let queue = try DatabaseQueue(path: db)
        var updatedRows = 0
        try queue.inTransaction(.immediate) { database in
            try database.execute(sql: """
                UPDATE export_jobs SET status = CASE status WHEN 'completed' THEN 'expired' ELSE status END, file_path = NULL
                WHERE id IN (SELECT value FROM json_each(?))
                """, arguments: [idArray])
            updatedRows = database.changesCount
            return .commit
        }
        let end = MonotonicClock.seconds()
        print("""
            {"listed": \(ids.count), "removed": \(removed), "missing": \(missing), "failed": \(failed), \
            "read_list_seconds": \(listed - start), "unlink_seconds": \(unlinked - listed), "update_seconds": \(end - unlinked), \
            "total_seconds": \(end - start), "rows_changed": \(updatedRows)}
            """)
    }
}
