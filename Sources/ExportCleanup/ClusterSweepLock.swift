/// A cluster-wide lock that lets exactly one sweeper at a time sweep a storage directory, for stores that several
/// hosts share (PostgreSQL). The `flock` a sweep takes on the storage directory only excludes sweeps that see the
/// same lock table; this one is held by the database server for the store's session.
///
/// The lock is taken before a sweep and released after it (or when the store's connection ends: a killed holder
/// loses it at once, and another instance takes over at its next attempt). A store of one host (SQLite) answers
/// ``ClusterLockAttempt/acquired`` at once: the storage directory's `flock` is all it needs.
public protocol ClusterSweepLock: AnyObject {
    /// Tries, without waiting, to take the lock named `name` (e.g. the storage directory's path).
    /// - Returns: ``ClusterLockAttempt/acquired``, or who holds it.
    func tryAcquireSweepLock(named name: String) throws(JobStoreError) -> ClusterLockAttempt

    /// Releases the lock taken by ``tryAcquireSweepLock(named:)`` (ending the store's connection releases it too).
    func releaseSweepLock(named name: String)
}

/// The answer of ``ClusterSweepLock/tryAcquireSweepLock(named:)``.
public enum ClusterLockAttempt: Sendable, Hashable {
    /// This store holds the lock now.
    case acquired
    /// Another session holds it; `holder` says who, e.g. `export-cleanup@web2:4121 (server pid 88210, since 12:00:03 UTC)`.
    case heldElsewhere(holder: String)
}

extension SQLiteJobStore: ClusterSweepLock {
    /// Always ``ClusterLockAttempt/acquired``: an SQLite database lives on one host, where the storage directory's
    /// `flock` already keeps sweeps apart.
    public func tryAcquireSweepLock(named name: String) throws(JobStoreError) -> ClusterLockAttempt { .acquired }

    /// Nothing to release.
    public func releaseSweepLock(named name: String) {}
}
