extension MessageID {
    /// A sweep was skipped: another instance holds the cluster-wide sweep lock of the storage directory
    /// (`EXPORT_LOCK_HOLDER` names it).
    public static let sweepSkipped = "f81647a2189f468ca0d37fed43b4cac3"
}
