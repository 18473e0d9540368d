#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

extension CleanupSettings {
    /// The largest configuration file read, in bytes.
    public static let maximumConfigFileSize = 1 << 20

    /// Reads the configuration file, then resolves the settings as ``resolve(flags:environment:file:)`` does.
    ///
    /// - Parameters:
    ///   - flags: Values of command-line flags, keyed by setting key.
    ///   - environment: The process environment.
    ///   - configPath: The configuration file, or `nil` to read none. Defaults to ``defaultConfigPath``.
    ///   - required: Whether a missing file is an error. Pass `true` when the operator named the file
    ///     (`--config`), `false` for the default path, which may be absent. Any other failure to read the
    ///     file (permissions, a directory, not UTF-8) is an error either way.
    /// - Throws: ``ConfigurationError``; ``ConfigurationError/Code/unreadableFile`` names the path and the
    ///   system's reason.
    public static func load(
        flags: [String: String],
        environment: [String: String],
        configPath: String? = defaultConfigPath,
        required: Bool
    ) throws(ConfigurationError) -> CleanupSettings {
        var file: (path: String, contents: String)?
        if let configPath, let contents = try readConfigFile(at: configPath, required: required) {
            file = (configPath, contents)
        }
        return try resolve(flags: flags, environment: environment, file: file)
    }

    /// The contents of the file at `path`, or `nil` if it does not exist and is not `required`.
    static func readConfigFile(at path: String, required: Bool) throws(ConfigurationError) -> String? {
        func unreadable(_ reason: String) -> ConfigurationError {
            ConfigurationError(
                code: .unreadableFile, path: path,
                message: "cannot read the configuration file: \(reason); check the path and its permissions, "
                    + "or name another file with --config")
        }
        func systemError(_ code: Int32) -> ConfigurationError {
            unreadable("\(String(cString: strerror(code))) (errno \(code))")
        }

        if path.isEmpty { throw unreadable("the path is empty") }
        if path.utf8.contains(0) { throw unreadable("the path contains a NUL character") }
        var fd: Int32
        repeat {
            fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)
        } while fd < 0 && errno == EINTR
        if fd < 0 {
            let code = errno
            if code == ENOENT && !required { return nil }
            throw systemError(code)
        }
        defer { close(fd) }

        var status = stat()
        if fstat(fd, &status) != 0 { throw systemError(errno) }
        if (status.st_mode & S_IFMT) == S_IFDIR { throw systemError(EISDIR) }

        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw systemError(errno)
            }
            if count == 0 { break }
            bytes.append(contentsOf: buffer[..<count])
            if bytes.count > maximumConfigFileSize {
                throw unreadable("larger than \(maximumConfigFileSize) bytes; is this the configuration file?")
            }
        }
        return try decode(bytes, path: path)
    }

    /// `bytes` as UTF-8 text; invalid UTF-8 is a syntax error naming the first line that holds it.
    static func decode(_ bytes: [UInt8], path: String) throws(ConfigurationError) -> String {
        func validUTF8(_ text: some Collection<UInt8>) -> String? {
            let decoded = String(decoding: text, as: UTF8.self)  // Replaces invalid sequences with U+FFFD.
            return decoded.utf8.elementsEqual(text) ? decoded : nil
        }
        if let text = validUTF8(bytes) { return text }
        var lineNumber = 0
        for line in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            if validUTF8(line) == nil { break }
        }
        throw ConfigurationError(
            code: .syntax, path: path, line: lineNumber,
            message: "the line is not valid UTF-8 text; save the file as UTF-8")
    }
}
