import Logging

/// The metadata of one entry: the handler's, then the provider's, then the call's (later keys win), plus
/// `error.message` and `error.type` for an error; `nil` when that is just the handler's own metadata, which
/// handlers keep pre-formatted.
func mergedMetadata(handler: Logger.Metadata, provider: Logger.MetadataProvider?, event: LogEvent) -> Logger.Metadata? {
    let provided = provider?.get() ?? [:]
    if provided.isEmpty, event.metadata?.isEmpty ?? true, event.error == nil { return nil }
    var merged = handler
    merged.merge(provided) { _, new in new }
    if let explicit = event.metadata { merged.merge(explicit) { _, new in new } }
    if let error = event.error {
        merged["error.message"] = "\(error)"
        merged["error.type"] = "\(String(reflecting: type(of: error)))"
    }
    return merged
}
