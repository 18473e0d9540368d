import Synchronization

/// The refused and undecidable records a process has already logged at warning, so that a daemon sweeping every
/// hour warns about a bad row once per run (and again only when the row changes), not 24 times a day for ever.
/// Every sweep still counts and lists the record; only the log level of the repeats drops to debug.
///
/// A record is remembered by its row key, id, the problem's code and the value at fault (the `file_path` or the
/// raw timestamp): any change to those makes it new again. At most ``capacity`` records are remembered; past that,
/// new ones are logged at warning every time (never silently dropped).
public final class ProblemMemory: Sendable {
    private struct Key: Hashable {
        var jobKey: Int64
        var jobID: String
        var code: String
        var detail: String
    }

    private let seen = Mutex<Set<Key>>([])

    /// The most records remembered (about 100 bytes each).
    public let capacity: Int

    /// Creates an empty memory.
    public init(capacity: Int = 100_000) {
        self.capacity = capacity
    }

    /// Whether this problem of this record is new to this process; remembers it.
    public func isNew(jobKey: Int64, jobID: String, code: String, detail: String) -> Bool {
        let key = Key(jobKey: jobKey, jobID: jobID, code: code, detail: detail)
        return seen.withLock { set in
            if set.contains(key) { return false }
            if set.count < capacity { set.insert(key) }
            return true
        }
    }
}
