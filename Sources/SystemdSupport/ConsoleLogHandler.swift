import CoreSupport
internal import Glibc
public import Logging

/// A swift-log handler that writes readable single-line entries to stderr (and optionally a log file):
///
/// ```text
/// 2026-11-27T01:02:03Z info myservice: Request done bytes=4096 request.id=42
/// ```
///
/// The timestamp is UTC; metadata (handler, provider, then per-call, later overriding earlier) follows the
/// message sorted by key. Line breaks in the message and values are written as `\n`; a value that is empty or
/// contains a space, `"`, `=` or `\` is quoted. Where the lines go is decided by a shared ``ConsoleLogSink``.
public struct ConsoleLogHandler: LogHandler {
    /// The minimum level logged; `Logger` filters before calling the handler.
    public var logLevel: Logger.Level

    /// Supplies contextual metadata (e.g. from task-locals) for each entry.
    public var metadataProvider: Logger.MetadataProvider?

    /// Metadata added to every entry of this handler.
    public var metadata: Logger.Metadata {
        didSet { formattedMetadata = Self.format(metadata) }
    }

    /// The name shown after the level, usually the logger's label.
    public let label: String

    /// Where the lines go.
    public let sink: ConsoleLogSink

    private var formattedMetadata: String

    /// Creates a console handler.
    ///
    /// - Parameters:
    ///   - label: The name shown after the level, e.g. `myservice`.
    ///   - sink: Where the lines go; share one sink between all handlers of a process.
    ///   - logLevel: The minimum level logged.
    ///   - metadataProvider: A metadata provider; by default the one bootstrapped in `LoggingSystem`.
    public init(
        label: String,
        sink: ConsoleLogSink,
        logLevel: Logger.Level = .info,
        metadataProvider: Logger.MetadataProvider? = LoggingSystem.metadataProvider
    ) {
        self.label = label
        self.sink = sink
        self.logLevel = logLevel
        self.metadataProvider = metadataProvider
        self.metadata = [:]
        self.formattedMetadata = ""
    }

    /// Gets or sets one entry of the handler's metadata.
    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Writes one line.
    public func log(event: LogEvent) {
        let metadataText = mergedMetadata(handler: metadata, provider: metadataProvider, event: event).map(Self.format)
            ?? formattedMetadata
        var line = UTCDateTime(secondsSinceEpoch: Int64(time(nil))).iso8601
        line += " "
        line += event.level.rawValue
        line += " "
        line += label
        line += ": "
        line += Self.escaped(event.message.description)
        line += metadataText
        line += "\n"
        sink.write(line: line, priority: SyslogPriority(event.level))
    }

    /// ` key=value key2="a b"`, sorted by key; empty for no metadata.
    static func format(_ metadata: Logger.Metadata) -> String {
        guard !metadata.isEmpty else { return "" }
        var text = ""
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) {
            text += " "
            text += escaped(key)
            text += "="
            text += quotedIfNeeded(value.description)
        }
        return text
    }

    /// Makes text single-line: `\n` and `\r` become the two characters `\n` and `\r`.
    static func escaped(_ text: String) -> String {
        guard text.utf8.contains(where: { $0 == 10 || $0 == 13 }) else { return text }
        var result = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    static func quotedIfNeeded(_ value: String) -> String {
        let needsQuotes =
            value.isEmpty
            || value.utf8.contains(where: {
                $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "=")
                    || $0 == UInt8(ascii: "\\") || $0 == UInt8(ascii: "\t")
            })
        guard needsQuotes else { return escaped(value) }
        var result = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            default: result.unicodeScalars.append(scalar)
            }
        }
        result += "\""
        return result
    }
}
