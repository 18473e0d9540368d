import Dispatch

/// Removes a batch of entries of an open storage directory on a thread of its own, each one as
/// ``OpenStorageDirectory/removeEntry(named:)`` (a regular file, looked at first, `unlinkat` relative to the directory),
/// in order, while the caller goes on with other work: a sweep reads, decides and claims its next batch meanwhile.
///
/// Why: on a real disk an `unlinkat` mostly waits for the device (on ext4 mounted `-o discard` without a journal,
/// each one waits for its blocks' discard), so a sweep that removes and decides in turn leaves the CPU idle during
/// the removals and the disk idle during the decisions. One batch runs at a time; ``wait()`` hands back its outcomes.
///
/// A batch is split into ``lanes`` interleaved parts removed side by side: an `unlinkat` that waits for the device
/// (on ext4 `-o discard` without a journal, its blocks' discard) leaves the CPU to the other lane, so the wait of one
/// hides behind the work of the other (measured on such a disk: about a fifth less time for the removals with two
/// lanes than with one). Two, not more: the application shares that disk.
///
/// Not for concurrent callers: one owner starts a batch and waits for it. The directory is kept open until the
/// last batch is done.
public final class BackgroundRemover: @unchecked Sendable {
    private let directory: OpenStorageDirectory
    /// Parts of a batch removed side by side.
    public let lanes: Int
    private let queue = DispatchQueue(label: "export-cleanup.removal")
    private let finished = DispatchSemaphore(value: 0)
    // Written by the batch on `queue`, read by the owner after `finished` is signalled (the semaphore orders them).
    private var outcomes: [RemovalOutcome] = []
    /// Whether a batch was started and not yet waited for.
    public private(set) var isRunning = false

    /// A remover for the entries of `directory`, removing each batch in `lanes` parts side by side.
    public init(_ directory: OpenStorageDirectory, lanes: Int = 2) {
        self.directory = directory
        self.lanes = max(1, lanes)
    }

    /// Starts removing the entries `names`, in order. A batch must not be running (``wait()`` for it first).
    public func start(_ names: [String]) {
        precondition(!isRunning, "BackgroundRemover.start while a batch is running")
        isRunning = true
        queue.async { [self] in
            let lanes = min(self.lanes, max(1, names.count))
            // Lane k removes names k, k + lanes, k + 2 lanes, ... into its own slot; nothing else is shared.
            let slots = LaneSlots(lanes)
            DispatchQueue.concurrentPerform(iterations: lanes) { lane in
                var results: [RemovalOutcome] = []
                results.reserveCapacity(names.count / lanes + 1)
                for index in stride(from: lane, to: names.count, by: lanes) { results.append(directory.removeEntry(named: names[index])) }
                slots.store(results, lane: lane)
            }
            let parts = slots.take()
            outcomes = names.indices.map { parts[$0 % lanes][$0 / lanes] }
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

/// One result slot per lane, each written by its own lane only, read once every lane is done (concurrentPerform
/// returns after all of them).
private final class LaneSlots: @unchecked Sendable {
    private let slots: UnsafeMutableBufferPointer<[RemovalOutcome]>

    init(_ count: Int) {
        slots = .allocate(capacity: count)
        slots.initialize(repeating: [])
    }

    func store(_ results: [RemovalOutcome], lane: Int) { slots[lane] = results }

    func take() -> [[RemovalOutcome]] { Array(slots) }

    deinit {
        slots.deinitialize()
        slots.deallocate()
    }
}
