/// One `KEY=value` assignment read from a configuration file.
public struct ConfigEntry: Sendable, Equatable, Hashable {
    /// The key, as written (upper case, `[A-Z][A-Z0-9_]*`).
    public var key: String
    /// The value with surrounding whitespace trimmed (unquoted) or its quotes removed and escapes resolved (quoted).
    public var value: String
    /// The 1-based line number of the assignment.
    public var line: Int

    /// Creates an entry.
    public init(key: String, value: String, line: Int) {
        self.key = key
        self.value = value
        self.line = line
    }
}

/// The parser of the configuration file.
///
/// The syntax is the subset of systemd's `EnvironmentFile=` syntax on which systemd and this parser agree,
/// so one file can be named by the unit's `EnvironmentFile=` and be read by the daemon itself:
///
/// - Blank lines and lines whose first non-blank character is `#` or `;` are comments.
/// - Every other line is `KEY=value`. Whitespace around the key and around `=` is ignored. A key is
///   `[A-Z][A-Z0-9_]*` and may appear only once per file.
/// - An unquoted value is taken literally with surrounding whitespace trimmed. **A trailing comment is not
///   stripped**: `A=24 # hours` sets `A` to `24 # hours` (as systemd does). Put comments on their own line.
///   An unquoted value may not contain a backslash (systemd would treat it as an escape): quote it.
/// - A value in double quotes may contain `\"` and `\\`; any other backslash is kept as written.
///   A value in single quotes is literal up to the next `'`. Quotes are removed. Only blanks may follow
///   the closing quote, and the value must end on the same line.
/// - A UTF-8 byte order mark at the start of the file is an error (systemd would read it as part of the key).
/// - Lines end with LF or CRLF. A carriage return elsewhere outside quotes, a NUL character, and a comment
///   ending with a backslash are errors, because systemd would read those lines differently.
///
/// Every error names the path, the line and, where there is one, the key.
public enum ConfigFile {
    /// Parses the contents of a configuration file.
    ///
    /// - Parameters:
    ///   - contents: The text of the file.
    ///   - path: The file's path, used only in error messages.
    /// - Returns: The assignments in file order.
    /// - Throws: ``ConfigurationError`` with code ``ConfigurationError/Code/syntax`` or
    ///   ``ConfigurationError/Code/duplicateKey``.
    public static func parse(contents: String, path: String) throws(ConfigurationError) -> [ConfigEntry] {
        // systemd's EnvironmentFile= does not skip a byte order mark: it would read it as part of the first key.
        if contents.unicodeScalars.first == "\u{FEFF}" {
            throw ConfigurationError(
                code: .syntax, path: path, line: 1, key: nil,
                message: "the file starts with a UTF-8 byte order mark (bytes EF BB BF), which systemd's EnvironmentFile= would read "
                    + "as part of the first key; save the file as UTF-8 without a BOM (e.g. sed -i '1s/^\\xEF\\xBB\\xBF//' FILE)")
        }
        var entries: [ConfigEntry] = []
        var firstLineOfKey: [String: Int] = [:]
        var lineNumber = 0
        for rawLine in contents.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            var line = Array(rawLine)
            if line.last == "\r" { line.removeLast() }
            guard let entry = try parseLine(line, number: lineNumber, path: path) else { continue }
            if let first = firstLineOfKey[entry.key] {
                throw ConfigurationError(
                    code: .duplicateKey, path: path, line: lineNumber, key: entry.key,
                    message: "\(entry.key) is already set on line \(first); remove one of the two lines")
            }
            firstLineOfKey[entry.key] = lineNumber
            entries.append(entry)
        }
        return entries
    }

    /// Whether `key` has the form `[A-Z][A-Z0-9_]*`.
    public static func isValidKey(_ key: String) -> Bool {
        var scalars = key.unicodeScalars.makeIterator()
        guard let first = scalars.next(), ("A"..."Z").contains(first) else { return false }
        while let scalar = scalars.next() {
            guard ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar) || scalar == "_" else { return false }
        }
        return true
    }

    // MARK: - One line

    private static let strayCarriageReturn =
        "carriage return in the middle of the line, which systemd reads as a line break; "
        + "save the file with LF (or CRLF) line endings"

    private static func isBlank(_ scalar: Unicode.Scalar) -> Bool {
        scalar == " " || scalar == "\t" || scalar == "\r" || scalar == "\u{0B}" || scalar == "\u{0C}"
    }

    private static func trimmed(_ scalars: ArraySlice<Unicode.Scalar>) -> ArraySlice<Unicode.Scalar> {
        var slice = scalars
        while let first = slice.first, isBlank(first) { slice.removeFirst() }
        while let last = slice.last, isBlank(last) { slice.removeLast() }
        return slice
    }

    private static func string(_ scalars: some Sequence<Unicode.Scalar>) -> String {
        var result = String.UnicodeScalarView()
        result.append(contentsOf: scalars)
        return String(result)
    }

    private static func parseLine(
        _ line: [Unicode.Scalar], number: Int, path: String
    ) throws(ConfigurationError) -> ConfigEntry? {
        func syntaxError(_ key: String?, _ message: String) -> ConfigurationError {
            ConfigurationError(code: .syntax, path: path, line: number, key: key, message: message)
        }
        if line.contains("\0") {
            throw syntaxError(nil, "the line contains a NUL character; the file must be text")
        }

        let content = trimmed(line[...])
        guard let first = content.first else { return nil }
        if first == "#" || first == ";" {
            if content.contains("\r") { throw syntaxError(nil, strayCarriageReturn) }
            if content.last == "\\" {
                throw syntaxError(
                    nil,
                    "the comment ends with a backslash, which makes systemd before version 254 treat the next "
                        + "line as part of the comment; remove the backslash")
            }
            return nil
        }

        guard let equals = content.firstIndex(of: "=") else {
            let text = string(content)
            let key = isValidKey(text) ? text : nil
            throw syntaxError(
                key,
                "expected KEY=value but found \(ConfigurationError.quoted(text)) with no '='; "
                    + "write settings as KEY=value and start comment lines with # or ;")
        }
        if content[..<equals].contains("\r") { throw syntaxError(nil, strayCarriageReturn) }
        let key = string(trimmed(content[..<equals]))
        guard !key.isEmpty else {
            throw syntaxError(nil, "missing key before '='; write settings as KEY=value")
        }
        guard isValidKey(key) else {
            var message = "invalid key \(ConfigurationError.quoted(key)): a key consists of upper-case letters, "
                + "digits and '_' and starts with a letter"
            if let suggestion = SettingKey.suggestion(for: key) {
                message += "; did you mean \(suggestion.rawValue)?"
            }
            throw syntaxError(key, message)
        }
        let value = try parseValue(content[(equals + 1)...], key: key, line: number, path: path)
        return ConfigEntry(key: key, value: value, line: number)
    }

    private static func parseValue(
        _ raw: ArraySlice<Unicode.Scalar>, key: String, line: Int, path: String
    ) throws(ConfigurationError) -> String {
        func syntaxError(_ message: String) -> ConfigurationError {
            ConfigurationError(code: .syntax, path: path, line: line, key: key, message: message)
        }
        let text = trimmed(raw)
        if raw[..<text.startIndex].contains("\r") { throw syntaxError(strayCarriageReturn) }
        guard let opening = text.first else { return "" }
        var value: [Unicode.Scalar] = []
        var index = text.startIndex + 1
        switch opening {
        case "\"":
            var closed = false
            while index < text.endIndex {
                let scalar = text[index]
                index += 1
                if scalar == "\"" {
                    closed = true
                    break
                }
                if scalar == "\\", index < text.endIndex, text[index] == "\"" || text[index] == "\\" {
                    value.append(text[index])
                    index += 1
                } else {
                    value.append(scalar)
                }
            }
            guard closed else {
                throw syntaxError(
                    "unterminated double quote; end the value with \" on the same line "
                        + "(write \\\" for a quote inside the value)")
            }
        case "'":
            guard let closing = text[index...].firstIndex(of: "'") else {
                throw syntaxError("unterminated single quote; end the value with ' on the same line")
            }
            value.append(contentsOf: text[index..<closing])
            index = closing + 1
        default:
            if text.contains("\r") { throw syntaxError(strayCarriageReturn) }
            if text.contains("\\") {
                throw syntaxError(
                    "unquoted value \(ConfigurationError.quoted(string(text))) contains a backslash, which "
                        + "systemd's EnvironmentFile= would read as an escape; put the value in single quotes")
            }
            return string(text)
        }
        guard text[index...].allSatisfy(isBlank) else {
            throw syntaxError(
                "unexpected text \(ConfigurationError.quoted(string(trimmed(text[index...])))) after the closing "
                    + "quote; comments must be on a line of their own")
        }
        return string(value)
    }
}
