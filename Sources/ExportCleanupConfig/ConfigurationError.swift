/// A configuration that cannot be used, with where the problem is and how to fix it.
///
/// ``description`` is a one-line message meant for an operator, prefixed with the location, e.g.
/// `/etc/export-cleanup/export-cleanup.conf:12: EXPORT_CLEANUP_BATCH_SIZE: invalid value "0" (below 1);
/// expected a whole number from 1 to 100000`.
public struct ConfigurationError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What kind of problem it is.
    public enum Code: String, Sendable, Equatable, CaseIterable {
        /// The configuration file could not be opened or read, or is not UTF-8 text.
        case unreadableFile
        /// A line of the file is not a valid `KEY=value` assignment.
        case syntax
        /// A key (in the file, the environment or the flags) is not a setting.
        case unknownKey
        /// A key is set twice in the file.
        case duplicateKey
        /// A value is not allowed for its key.
        case invalidValue
    }

    /// What kind of problem it is.
    public var code: Code
    /// The configuration file concerned, if the problem is in a file.
    public var path: String?
    /// The 1-based line of ``path``, if the problem is on a line.
    public var line: Int?
    /// The key (or environment variable) concerned, if any.
    public var key: String?
    /// Where the offending value came from, for ``Code/invalidValue`` and ``Code/unknownKey``.
    public var source: SettingsSource?
    /// What is wrong and how to fix it, without the location.
    public var message: String

    /// Creates an error.
    public init(
        code: Code, path: String? = nil, line: Int? = nil, key: String? = nil, source: SettingsSource? = nil,
        message: String
    ) {
        self.code = code
        self.path = path
        self.line = line
        self.key = key
        self.source = source
        self.message = message
    }

    /// The location (`path:line: KEY: `, `environment variable KEY: `, `flag --x (KEY): `) and the message.
    public var description: String {
        var prefix = ""
        if let path {
            prefix = path
            if let line { prefix += ":\(line)" }
            prefix += ": "
        } else if let source, source != .default {
            prefix = "\(source)"
            if case .flag(let flagKey) = source, SettingKey(rawValue: flagKey) != nil {
                prefix += " (\(flagKey))"
            }
            prefix += ": "
        }
        switch source {
        case .environment?, .flag?:
            break  // The prefix already names the key.
        default:
            if let key, !message.hasPrefix(key) { prefix += "\(key): " }
        }
        return prefix + message
    }

    /// `value` in double quotes with control characters escaped, shortened if very long.
    static func quoted(_ value: String) -> String {
        let limit = 120
        var shown = value
        if value.unicodeScalars.count > limit {
            var view = String.UnicodeScalarView()
            view.append(contentsOf: value.unicodeScalars.prefix(limit))
            shown = String(view) + "…"
        }
        return shown.debugDescription
    }
}
