import ExportCleanupConfig
import Testing

/// The parent suite of this target's tests, so `swift test --filter ConfigurationTests` selects them all.
@Suite enum ConfigurationTests {}

/// The error `body` throws, or `nil` (and a recorded issue) if it throws none.
func captureError<T>(
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () throws -> T
) -> ConfigurationError? {
    do {
        let value = try body()
        Issue.record("expected a ConfigurationError, got \(value)", sourceLocation: sourceLocation)
    } catch let error as ConfigurationError {
        return error
    } catch {
        Issue.record("expected a ConfigurationError, got \(error)", sourceLocation: sourceLocation)
    }
    return nil
}

/// Resolves with only a file.
func resolveFile(_ contents: String, path: String = "/etc/test.conf") throws(ConfigurationError) -> CleanupSettings {
    try CleanupSettings.resolve(flags: [:], environment: [:], file: (path, contents))
}
