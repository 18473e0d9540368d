internal import CSystemd
internal import Glibc
public import Logging

/// A swift-log handler that writes structured entries to the systemd journal with `sd_journal_sendv(3)`.
///
/// Each entry carries `MESSAGE`, `PRIORITY` (see ``SyslogPriority/init(_:)``), `SYSLOG_IDENTIFIER`,
/// `CODE_FILE`, `CODE_LINE`, `CODE_FUNC`, and one field per metadata entry: the handler's metadata, then the
/// metadata provider's, then the log call's (later ones override earlier ones with the same key). Keys become
/// field names by ``JournalFieldName/forMetadataKey(_:)``; values are their `description`, written verbatim
/// (multi-line values are fine); the key `message_id` thus becomes `MESSAGE_ID`. An error passed to the log
/// call adds `ERROR_MESSAGE` and `ERROR_TYPE`.
///
/// When no journald listens (no `/run/systemd/journal/socket`), libsystemd drops entries silently: choose
/// this handler only when the journal is known to be there (see ``LogTarget``). Other send failures are
/// counted (``failedWrites``) and the first one is reported on stderr; logging never throws or traps.
///
/// ```swift
/// LoggingSystem.bootstrap { _ in JournalLogHandler(identifier: "myservice") }
/// logger.info("Request done", metadata: ["message_id": "5e6f…", "request.bytes": "4096"])
/// ```
public struct JournalLogHandler: LogHandler {
    /// The minimum level logged; `Logger` filters before calling the handler.
    public var logLevel: Logger.Level

    /// Supplies contextual metadata (e.g. from task-locals) for each entry.
    public var metadataProvider: Logger.MetadataProvider?

    /// Metadata added to every entry of this handler.
    public var metadata: Logger.Metadata {
        didSet { encodedMetadata = Self.encode(metadata) }
    }

    /// The `SYSLOG_IDENTIFIER` of every entry.
    public var identifier: String { sink.identifier }

    /// How many entries the journal refused so far (shared by copies of this handler).
    public var failedWrites: Int { sink.failures.count }

    private let sink: Sink
    /// `metadata`, pre-encoded as journal fields, for calls without per-call metadata.
    private var encodedMetadata: FieldBuffer

    /// Creates a journal handler.
    ///
    /// - Parameters:
    ///   - identifier: The `SYSLOG_IDENTIFIER` of every entry, usually the program's name.
    ///   - logLevel: The minimum level logged.
    ///   - metadataProvider: A metadata provider; by default the one bootstrapped in `LoggingSystem`.
    public init(
        identifier: String,
        logLevel: Logger.Level = .info,
        metadataProvider: Logger.MetadataProvider? = LoggingSystem.metadataProvider
    ) {
        self.sink = Sink(identifier: identifier)
        self.logLevel = logLevel
        self.metadataProvider = metadataProvider
        self.metadata = [:]
        self.encodedMetadata = FieldBuffer()
    }

    /// Gets or sets one entry of the handler's metadata.
    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Writes one journal entry.
    public func log(event: LogEvent) {
        let result = fields(for: event).send()
        if result < 0 {
            sink.failures.record(destination: "the journal", errorNumber: -result)
        }
    }

    /// The journal fields of one entry.
    func fields(for event: LogEvent) -> FieldBuffer {
        var fields = FieldBuffer()
        fields.append("MESSAGE", event.message.description)
        fields.append("PRIORITY", String(SyslogPriority(event.level).rawValue))
        fields.append(sink.identifierField)
        fields.append("CODE_FILE", event.file)
        fields.append("CODE_LINE", String(event.line))
        fields.append("CODE_FUNC", event.function)

        if let merged = mergedMetadata(handler: metadata, provider: metadataProvider, event: event) {
            for (key, value) in merged {
                fields.append(JournalFieldName.forMetadataKey(key), value.description)
            }
        } else {
            fields.append(encodedMetadata)
        }
        return fields
    }

    private static func encode(_ metadata: Logger.Metadata) -> FieldBuffer {
        var fields = FieldBuffer()
        for (key, value) in metadata {
            fields.append(JournalFieldName.forMetadataKey(key), value.description)
        }
        return fields
    }

    /// State shared by copies of a handler.
    private final class Sink: Sendable {
        let identifier: String
        let identifierField: FieldBuffer
        let failures: WriteFailureReporter

        init(identifier: String) {
            self.identifier = identifier
            self.failures = WriteFailureReporter(program: identifier)
            var fields = FieldBuffer()
            fields.append("SYSLOG_IDENTIFIER", identifier)
            self.identifierField = fields
        }
    }
}

/// Journal fields packed into one buffer, ready to be pointed at by `iovec`s.
///
/// Layout: for every field an 8-byte length, then the field's `NAME=value` bytes. A log call thus costs a
/// handful of allocations, and pre-encoded fields (the handler's metadata) are appended as plain bytes.
struct FieldBuffer: Sendable {
    private(set) var bytes: [UInt8] = []
    private(set) var count = 0

    mutating func append(_ name: String, _ value: String) {
        if bytes.isEmpty { bytes.reserveCapacity(512) }
        let length = UInt64(name.utf8.count + 1 + value.utf8.count)
        withUnsafeBytes(of: length) { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: name.utf8)
        bytes.append(UInt8(ascii: "="))
        bytes.append(contentsOf: value.utf8)
        count += 1
    }

    mutating func append(_ other: FieldBuffer) {
        bytes.append(contentsOf: other.bytes)
        count += other.count
    }

    /// The fields as `(name, value)` pairs, in order (for tests and diagnostics).
    var fields: [(String, String)] {
        withFields { fields in
            fields.map { field -> (String, String) in
                let text = String(decoding: field, as: UTF8.self)
                let parts = text.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                return (String(parts[0]), parts.count > 1 ? String(parts[1]) : "")
            }
        }
    }

    /// Sends the fields as one journal entry; returns `sd_journal_sendv`'s result (negative errno on failure).
    func send() -> Int32 {
        withFields { fields in
            // sd_journal_sendv only reads through iov_base.
            let vectors = fields.map { iovec(iov_base: UnsafeMutableRawPointer(mutating: $0.baseAddress), iov_len: $0.count) }
            return vectors.withUnsafeBufferPointer { sd_journal_sendv($0.baseAddress, Int32($0.count)) }
        }
    }

    /// Calls `body` with views of the fields' bytes, valid only during the call.
    private func withFields<Result>(_ body: ([UnsafeRawBufferPointer]) -> Result) -> Result {
        bytes.withUnsafeBytes { raw in
            var fields: [UnsafeRawBufferPointer] = []
            fields.reserveCapacity(count)
            var offset = 0
            while offset + 8 <= raw.count {
                let length = Int(raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
                fields.append(UnsafeRawBufferPointer(rebasing: raw[offset + 8..<offset + 8 + length]))
                offset += 8 + length
            }
            return body(fields)
        }
    }
}
