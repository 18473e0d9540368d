/// Where the value of a setting came from.
public enum SettingsSource: Sendable, Equatable, Hashable, CustomStringConvertible {
    /// The built-in default.
    case `default`
    /// A line of a configuration file.
    case file(path: String, line: Int)
    /// An environment variable (named by the key).
    case environment(variable: String)
    /// A command-line flag, identified by the key it sets (see ``SettingKey/flagName``).
    case flag(key: String)

    /// `default`, `path:line`, `environment variable KEY` or `flag --name`.
    public var description: String {
        switch self {
        case .default:
            "default"
        case .file(let path, let line):
            "\(path):\(line)"
        case .environment(let variable):
            "environment variable \(variable)"
        case .flag(let key):
            if let setting = SettingKey(rawValue: key) { "flag \(setting.flagName)" } else { "flag \(key)" }
        }
    }
}
