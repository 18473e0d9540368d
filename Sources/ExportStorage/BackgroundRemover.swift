import Dispatch

/// Removes a batch of entries of an open storage directory on a thread of its own, each one as
/// ``OpenStorageDirectory/removeEntry(named:)`` (a regular file, looked at first, `unlinkat` relative to the directory),
/// in order, while the caller goes on with other work: a sweep reads, decides and claims its next batch meanwhile.
///
/// Why: on a real disk an `unlinkat` mostly waits for the device (on ext4 mounted `-o discard` without a journal,
/// each one waits for its blocks' discard), so a sweep that removes and decides in turn leaves the CPU idle during
/// the removals and the disk idle during the decisions. One batch runs at a time; ``wait()`` hands back its outcomes.
///
/// Not for concurrent callers: one owner starts a batch and waits for it. The directory is kept open until the
/// last batch is done.
public final class BackgroundRemover: @unchecked Sendable {
    private let directory: OpenStorageDirectory
    private let queue = DispatchQueue(label: "export-cleanup.removal")
    private let finished = DispatchSemaphore(value: 0)
    // Written by the batch on `queue`, read by the owner after `finished` is signalled (the semaphore orders them).
    private var outcomes: [RemovalOutcome] = []
    /// Whether a batch was started and not yet waited for.
    public private(set) var isRunning = false

    /// A remover for the entries of `directory`.
    public init(_ directory: OpenStorageDirectory) {
        self.directory = directory
    }

    /// Starts removing the entries `names`, in order. A batch must not be running (``wait()`` for it first).
    public func start(_ names: [String]) {
        precondition(!isRunning, "BackgroundRemover.start while a batch is running")
        isRunning = true
        queue.async { [self] in
            var results: [RemovalOutcome] = []
            results.reserveCapacity(names.count)
            for name in names { results.append(directory.removeEntry(named: name)) }
            outcomes = results
            finished.signal()
        }
    }

    /// Waits for the running batch and returns its outcomes, one per name in the order given; `[]` when none runs.
    public func wait() -> [RemovalOutcome] {
        guard isRunning else { return [] }
        finished.wait()
        isRunning = false
        defer { outcomes = [] }
        return outcomes
    }

    deinit {
        // Never leave a batch running past its owner (its outcomes would be lost, not its files).
        if isRunning { finished.wait() }
    }
}
