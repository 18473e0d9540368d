import Foundation

/// A PostgreSQL connection string as `--db` / `EXPORT_CLEANUP_DATABASE` give it: a URI (`postgresql://` or
/// `postgres://`, e.g. `postgresql://cleanup@db.internal/app?sslmode=verify-full` or
/// `postgresql:///app?host=/run/postgresql`) or a libpq keyword string (`host=/run/postgresql dbname=app`).
/// Anything else is the path of an SQLite database.
///
/// The text is handed to libpq unchanged; everything shown to people (logs, `STATUS=`, error messages) goes
/// through ``masked`` or ``redact(_:)``, which replace the password (and an `sslpassword`) with `***`.
public struct PostgresConnectionString: Sendable, Hashable, CustomStringConvertible {
    /// How the string is written.
    public enum Form: Sendable, Hashable {
        /// `postgresql://...` or `postgres://...`.
        case uri
        /// `keyword=value ...`.
        case keywords
    }

    /// The text exactly as configured (may hold a password: never print it).
    public let rawValue: String
    /// How it is written.
    public let form: Form

    /// Recognizes a PostgreSQL connection string; `nil` for anything else (an SQLite path).
    ///
    /// A URI starts with `postgresql://` or `postgres://` (any case). A keyword string starts with one of libpq's
    /// connection keywords followed by `=` (`host=`, `dbname=`, `service=`, ...), so an SQLite file named e.g.
    /// `./a=b.db` stays a path.
    public init?(_ text: String) {
        let lower = text.lowercased()
        if lower.hasPrefix("postgresql://") || lower.hasPrefix("postgres://") {
            form = .uri
        } else if let first = Self.firstKeyword(text), Self.libpqKeywords.contains(first) {
            form = .keywords
        } else {
            return nil
        }
        rawValue = text
    }

    /// Whether `setting` (the database setting) names a PostgreSQL database rather than an SQLite file.
    public static func recognizes(_ setting: String) -> Bool { PostgresConnectionString(setting) != nil }

    /// `setting` as it may be shown: a PostgreSQL connection string with its password masked, an SQLite path as it is.
    /// The one helper for every place that shows the database setting.
    public static func mask(_ setting: String) -> String { PostgresConnectionString(setting)?.masked ?? setting }

    /// The string with every password replaced by `***`: `postgresql://cleanup:***@db/app`,
    /// `host=db password=*** dbname=app`.
    public var masked: String {
        switch form {
        case .uri: return Self.maskURI(rawValue)
        case .keywords: return Self.maskKeywords(rawValue)
        }
    }

    public var description: String { masked }

    /// `message` with the raw string replaced by ``masked`` and any secret of it (as written and percent-decoded)
    /// replaced by `***`: libpq quotes pieces of a connection string it cannot parse.
    public func redact(_ message: String) -> String {
        var text = message.replacingAll(rawValue, with: masked)
        for secret in secrets where !secret.isEmpty {
            text = text.replacingAll(secret, with: "***")
        }
        return text
    }

    /// The secret values in the string (passwords), as written and decoded.
    var secrets: [String] {
        var values: [String] = []
        switch form {
        case .uri:
            let (userinfo, _, query) = Self.uriParts(rawValue)
            if let userinfo, let colon = userinfo.firstIndex(of: ":") {
                values.append(String(userinfo[userinfo.index(after: colon)...]))
            }
            for (key, value) in Self.queryPairs(query) where Self.secretKeywords.contains(key) { values.append(value) }
        case .keywords:
            if let pairs = Self.keywordPairs(rawValue) {
                values += pairs.filter { Self.secretKeywords.contains($0.key) }.flatMap { [$0.value, $0.written] }
            } else if let range = rawValue.range(of: "password") {
                values.append(String(rawValue[range.upperBound...]))
            }
        }
        return values.flatMap { [$0, Self.percentDecoded($0) ?? $0] }.filter { !$0.isEmpty }
    }

    // MARK: - URI

    /// Keywords whose value is a secret.
    static let secretKeywords: Set<String> = ["password", "sslpassword"]

    /// libpq 15's connection keywords (`PQconndefaults`), and `load_balance_hosts` of 16.
    static let libpqKeywords: Set<String> = [
        "host", "hostaddr", "port", "dbname", "user", "password", "passfile", "channel_binding", "connect_timeout",
        "client_encoding", "options", "application_name", "fallback_application_name", "keepalives", "keepalives_idle",
        "keepalives_interval", "keepalives_count", "tcp_user_timeout", "replication", "gssencmode", "sslmode",
        "requiressl", "sslcompression", "sslcert", "sslkey", "sslpassword", "sslrootcert", "sslcrl", "sslcrldir",
        "sslsni", "requirepeer", "ssl_min_protocol_version", "ssl_max_protocol_version", "krbsrvname", "gsslib",
        "service", "target_session_attrs", "load_balance_hosts",
    ]

    /// The user-info (before `@`, as libpq finds it: the first `@` before any `/`), the rest before the query,
    /// and the query (after the first `?`).
    private static func uriParts(_ text: String) -> (userinfo: Substring?, rest: Substring, query: Substring?) {
        guard let scheme = text.range(of: "://") else { return (nil, text[...], nil) }
        var afterScheme = text[scheme.upperBound...]
        var query: Substring?
        if let mark = afterScheme.firstIndex(of: "?") {
            query = afterScheme[afterScheme.index(after: mark)...]
            afterScheme = afterScheme[..<mark]
        }
        var userinfo: Substring?
        if let end = afterScheme.firstIndex(where: { $0 == "@" || $0 == "/" }), afterScheme[end] == "@" {
            userinfo = afterScheme[..<end]
        }
        return (userinfo, afterScheme, query)
    }

    private static func queryPairs(_ query: Substring?) -> [(key: String, value: String)] {
        guard let query else { return [] }
        return query.split(separator: "&", omittingEmptySubsequences: false).map { pair in
            guard let equals = pair.firstIndex(of: "=") else { return (String(pair), "") }
            return (String(pair[..<equals]), String(pair[pair.index(after: equals)...]))
        }
    }

    private static func maskURI(_ text: String) -> String {
        guard let scheme = text.range(of: "://") else { return text }
        let (userinfo, _, query) = uriParts(text)
        var result = String(text[..<scheme.upperBound])
        var afterScheme = text[scheme.upperBound...]
        if let mark = afterScheme.firstIndex(of: "?") { afterScheme = afterScheme[..<mark] }
        if let userinfo {
            if let colon = userinfo.firstIndex(of: ":") {
                result += userinfo[..<colon] + ":***"
            } else {
                result += userinfo
            }
            result += afterScheme[userinfo.endIndex...]
        } else {
            result += afterScheme
        }
        if let query {
            result += "?" + query.split(separator: "&", omittingEmptySubsequences: false).map { pair in
                let key = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)[0]
                return secretKeywords.contains(percentDecoded(String(key)) ?? String(key)) ? key + "=***" : String(pair)
            }.joined(separator: "&")
        }
        return result
    }

    /// `%XX` decoded; `nil` when a `%` is not followed by two hex digits or the bytes are not UTF-8.
    static func percentDecoded(_ text: String) -> String? {
        guard text.contains("%") else { return text }
        var bytes: [UInt8] = []
        var utf8 = Array(text.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "%") {
                guard utf8.count >= 2, let value = UInt8(String(decoding: utf8.prefix(2), as: UTF8.self), radix: 16) else { return nil }
                bytes.append(value)
                utf8 = utf8.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    // MARK: - Keyword strings

    /// The keyword of `keyword =` at the start of `text` (spaces allowed around it), if any.
    static func firstKeyword(_ text: String) -> String? {
        let trimmed = text.drop { $0.isWhitespace }
        let key = trimmed.prefix { $0.isASCII && ($0.isLetter || $0 == "_") }
        guard !key.isEmpty, trimmed.dropFirst(key.count).drop(while: { $0.isWhitespace }).first == "=" else { return nil }
        return String(key)
    }

    /// `keyword = value` pairs as libpq reads them (values optionally single-quoted, `\` escapes); `nil` when the
    /// text is not such a list. `written` is the value as it appears in the text, quotes included.
    static func keywordPairs(_ text: String) -> [(key: String, value: String, written: String, range: Range<String.Index>)]? {
        var pairs: [(String, String, String, Range<String.Index>)] = []
        var index = text.startIndex
        func skipSpaces() { while index < text.endIndex, text[index].isWhitespace { index = text.index(after: index) } }
        while true {
            skipSpaces()
            if index == text.endIndex { break }
            let keyStart = index
            while index < text.endIndex, text[index] != "=", !text[index].isWhitespace { index = text.index(after: index) }
            let key = String(text[keyStart..<index])
            guard !key.isEmpty else { return nil }
            skipSpaces()
            guard index < text.endIndex, text[index] == "=" else { return nil }
            index = text.index(after: index)
            skipSpaces()
            let valueStart = index
            var value = ""
            if index < text.endIndex, text[index] == "'" {
                index = text.index(after: index)
                var closed = false
                while index < text.endIndex {
                    let character = text[index]
                    index = text.index(after: index)
                    if character == "\\", index < text.endIndex {
                        value.append(text[index])
                        index = text.index(after: index)
                    } else if character == "'" {
                        closed = true
                        break
                    } else {
                        value.append(character)
                    }
                }
                guard closed else { return nil }
            } else {
                while index < text.endIndex, !text[index].isWhitespace {
                    let character = text[index]
                    index = text.index(after: index)
                    if character == "\\", index < text.endIndex {
                        value.append(text[index])
                        index = text.index(after: index)
                    } else {
                        value.append(character)
                    }
                }
            }
            pairs.append((key, value, String(text[valueStart..<index]), valueStart..<index))
        }
        return pairs.isEmpty ? nil : pairs
    }

    private static func maskKeywords(_ text: String) -> String {
        guard let pairs = keywordPairs(text) else {
            // Not parseable: hide everything from the first mention of a password on.
            guard let range = text.range(of: "password") else { return text }
            return text[..<range.upperBound] + "=***"
        }
        var result = ""
        var last = text.startIndex
        for pair in pairs where secretKeywords.contains(pair.key) {
            result += text[last..<pair.range.lowerBound] + "***"
            last = pair.range.upperBound
        }
        return result + text[last...]
    }
}

extension String {
    /// Every occurrence of `target` replaced (nothing when `target` is empty).
    func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var result = ""
        var rest = self[...]
        while let range = rest.range(of: target) {
            result += rest[..<range.lowerBound] + replacement
            rest = rest[range.upperBound...]
        }
        return result + rest
    }
}
