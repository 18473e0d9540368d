/// Fixed journal `MESSAGE_ID`s of important events, so operators can filter with
/// `journalctl -u export-cleanup MESSAGE_ID=…`. Listed in the README; never change a published one.
///
/// Pass one as the `message_id` metadata value; the journal handler writes it as `MESSAGE_ID`.
public enum MessageID {
    /// The daemon started and is ready.
    public static let daemonStarted = "e828355386e144c98bd18bb4be63b143"
    /// The configuration was reloaded (SIGHUP).
    public static let configurationReloaded = "3e043dbbd36c48be94dfad3df447675f"
    /// A sweep finished; the entry carries the report's counts as fields.
    public static let sweepFinished = "e5e1ef97a9b44505b65864f6c0bc13b1"
    /// A file could not be removed (the entry has `ERRNO`).
    public static let fileRemovalFailed = "4679a86edfce45f18575139ac29328c0"
    /// A record was refused: its `file_path` or the entry breaks a safety rule.
    public static let recordRefused = "7c9da5eb0b964d8aa5813c1b5ab69fb7"
    /// The daemon is stopping.
    public static let daemonStopping = "b45eb5a500854b9c9c10717d444c9e2b"
    /// A record's timestamp cannot be read, so it is kept and reported.
    public static let recordUndecidable = "4aca631b9ebe47d986a6b921b2e774b9"
    /// A sweep stopped early on an error (e.g. the database stayed locked).
    public static let sweepAborted = "97f3190d44f646afb40644714f9dedb8"
    /// A sweep was skipped: another instance holds the cluster-wide sweep lock of the storage directory
    /// (PostgreSQL; `EXPORT_LOCK_HOLDER` names it).
    public static let sweepSkipped = "f81647a2189f468ca0d37fed43b4cac3"
    /// A sweep removed nothing because of the mass-deletion brake (the entry names the due and referenced counts).
    public static let massDeletionRefused = "c46f162965664cfb8fdacb5132f97a04"
    /// A sweep removed nothing because the kernel says the clock is not synchronised (`EXPORT_CLEANUP_REQUIRE_SYNCED_CLOCK=yes`).
    public static let clockNotSynchronized = "222096cee1bb49988a5e5b83a78d6ad4"
    /// An orphan pass finished (`export-cleanup orphans`, or the daemon's with `EXPORT_CLEANUP_ORPHAN_HOURS`).
    public static let orphansFinished = "114c19e3ca5d4457ae33a974deb7edd8"
}
