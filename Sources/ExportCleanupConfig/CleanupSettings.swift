/// The typed configuration of `export-cleanup`, and where each value came from.
///
/// Build it with ``resolve(flags:environment:file:)`` or ``load(flags:environment:configPath:required:)``:
/// every setting takes its value from the first of flag, environment variable, configuration file and
/// built-in default that sets it. See ``SettingKey`` for the keys.
///
/// Equality compares the values **and** their sources.
public struct CleanupSettings: Sendable, Equatable {
    /// The levels of ``CleanupSettings/logLevel``, from most to least verbose.
    public enum LogLevel: String, CaseIterable, Sendable, Comparable {
        /// Everything, including internal details.
        case trace
        /// Each removed file and other details useful when investigating.
        case debug
        /// The sweep summary and lifecycle events.
        case info
        /// Normal but significant events.
        case notice
        /// Failed or refused records.
        case warning
        /// What stops a sweep.
        case error
        /// What stops the daemon.
        case critical

        /// Orders from `trace` (lowest) to `critical` (highest).
        public static func < (lhs: Self, rhs: Self) -> Bool {
            allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
        }
    }

    /// The storage directory holding the export files (`EXPORT_STORAGE_PATH`).
    public var storagePath: String
    /// The SQLite database's path, or a PostgreSQL connection string (`EXPORT_CLEANUP_DATABASE`, default `./exports.db`).
    public var databasePath: String
    /// Hours a completed export is kept (`EXPORT_CLEANUP_RETENTION_HOURS`; > 0, ≤ 87600).
    public var retentionHours: Double
    /// Hours after which a failed export's file is removed (`EXPORT_CLEANUP_FAILED_AGE_HOURS`).
    public var failedAgeHours: Double
    /// Retention per export type, hours (`EXPORT_CLEANUP_RETENTION_HOURS_BY_TYPE`, e.g. `hotels=48 supplier_summary=168`).
    public var retentionHoursByType: [String: Double] = [:]
    /// Failed age per export type, hours (`EXPORT_CLEANUP_FAILED_AGE_HOURS_BY_TYPE`).
    public var failedAgeHoursByType: [String: Double] = [:]
    /// Seconds between two sweeps (`EXPORT_CLEANUP_INTERVAL_SECONDS`; 1…86400).
    public var intervalSeconds: Int
    /// Rows claimed per write transaction at most (`EXPORT_CLEANUP_BATCH_SIZE`; 1…100000).
    public var batchSize: Int
    /// Milliseconds of reading and checking after which a batch is claimed even if not full
    /// (`EXPORT_CLEANUP_BATCH_MILLISECONDS`; 1…60000).
    public var batchMilliseconds: Int
    /// The lowest level logged (`EXPORT_CLEANUP_LOG_LEVEL`).
    public var logLevel: LogLevel
    /// Whether to only report what would be removed (`EXPORT_CLEANUP_DRY_RUN`).
    public var dryRun: Bool
    /// Milliseconds to wait for a locked database (`EXPORT_CLEANUP_BUSY_TIMEOUT_MS`; 0…600000).
    public var busyTimeoutMilliseconds: Int
    /// The Prometheus text file written after every sweep, or `nil` for none (`EXPORT_CLEANUP_METRICS_FILE`).
    public var metricsFile: String?
    /// The directory where the last sweep's status is kept, or `nil` for none (`EXPORT_CLEANUP_STATE_DIRECTORY`;
    /// when no layer sets it, systemd's `$STATE_DIRECTORY`, see ``resolve(flags:environment:file:)``).
    public var stateDirectory: String?
    /// PostgreSQL: the name of the cluster-wide sweep lock (`EXPORT_CLEANUP_LOCK_NAME`, default `nil`: the storage path).
    public var lockName: String?
    /// The mass-deletion brake's share, in percent of the referenced export files (`EXPORT_CLEANUP_MAX_DELETE_PERCENT`;
    /// 0…100, 100 = off).
    public var maxDeletePercent: Int
    /// The mass-deletion brake's minimum: a sweep removing at most this many files never trips it
    /// (`EXPORT_CLEANUP_MAX_DELETE_MIN_FILES`; 0…100000000).
    public var maxDeleteMinFiles: Int
    /// Whether a sweep removes nothing while the kernel says the clock is not synchronised
    /// (`EXPORT_CLEANUP_REQUIRE_SYNCED_CLOCK`; `yes`/`no`).
    public var requireSyncedClock: Bool
    /// Files one sweep removes at most, 0 for no bound (`EXPORT_CLEANUP_MAX_FILES_PER_SWEEP`; 0…100000000).
    public var maxFilesPerSweep: Int
    /// Seconds one sweep runs at most, 0 for no bound (`EXPORT_CLEANUP_MAX_SWEEP_SECONDS`; 0…86400).
    public var maxSweepSeconds: Int
    /// The daemon's orphan pass: after each sweep, export files older than this many hours that no row references
    /// are removed; 0 turns it off (`EXPORT_CLEANUP_ORPHAN_HOURS`; 0, or > 0 and ≤ 87600).
    public var orphanHours: Double = 0

    /// A size on the storage file system: bytes, or a percentage of it.
    public enum DiskAmount: Sendable, Equatable {
        /// Bytes.
        case bytes(Int64)
        /// Percent of the file system (0 to 100).
        case percent(Double)
    }

    /// Disk pressure: free space to keep (`EXPORT_CLEANUP_KEEP_FREE`); `nil`: off (`0`). A percentage applies to the
    /// free inodes too.
    public var keepFree: DiskAmount? = nil
    /// Disk pressure: the most bytes the export files may take (`EXPORT_CLEANUP_MAX_USE`); `nil`: off (`0`).
    public var maxUse: DiskAmount? = nil
    /// Disk pressure never removes an export completed less than this many hours ago
    /// (`EXPORT_CLEANUP_MIN_RETENTION_HOURS`; 0…87600).
    public var minRetentionHours: Double = 1

    /// Where each value that is not a default came from.
    private var sources: [SettingKey: SettingsSource] = [:]

    /// The default path of the configuration file.
    public static let defaultConfigPath = "/etc/export-cleanup/export-cleanup.conf"

    /// Creates settings from values, all attributed to ``SettingsSource/default``. The arguments are not
    /// validated; without arguments these are the defaults (written here only; see ``SettingKey/defaultValueText``).
    public init(
        storagePath: String = "./exports",
        databasePath: String = "./exports.db",
        retentionHours: Double = 24,
        failedAgeHours: Double = 1,
        intervalSeconds: Int = 3600,
        batchSize: Int = 2000,
        batchMilliseconds: Int = 250,
        logLevel: LogLevel = .info,
        dryRun: Bool = false,
        busyTimeoutMilliseconds: Int = 5000,
        metricsFile: String? = nil,
        stateDirectory: String? = nil,
        lockName: String? = nil,
        maxDeletePercent: Int = 90,
        maxDeleteMinFiles: Int = 1000,
        requireSyncedClock: Bool = false,
        maxFilesPerSweep: Int = 0,
        maxSweepSeconds: Int = 0
    ) {
        self.storagePath = storagePath
        self.databasePath = databasePath
        self.retentionHours = retentionHours
        self.failedAgeHours = failedAgeHours
        self.intervalSeconds = intervalSeconds
        self.batchSize = batchSize
        self.batchMilliseconds = batchMilliseconds
        self.logLevel = logLevel
        self.dryRun = dryRun
        self.busyTimeoutMilliseconds = busyTimeoutMilliseconds
        self.metricsFile = metricsFile
        self.stateDirectory = stateDirectory
        self.lockName = lockName
        self.maxDeletePercent = maxDeletePercent
        self.maxDeleteMinFiles = maxDeleteMinFiles
        self.requireSyncedClock = requireSyncedClock
        self.maxFilesPerSweep = maxFilesPerSweep
        self.maxSweepSeconds = maxSweepSeconds
    }

    /// Where the value of `key` came from.
    public func source(of key: SettingKey) -> SettingsSource {
        sources[key] ?? .default
    }

    /// The value of `key` as it would be written in the configuration file (unquoted), e.g. `24`, `0.5`,
    /// `info`, `false`.
    public func text(of key: SettingKey) -> String {
        switch key {
        case .storagePath: storagePath
        case .databasePath: databasePath
        case .retentionHours: Self.format(hours: retentionHours)
        case .failedAgeHours: Self.format(hours: failedAgeHours)
        case .retentionHoursByType: Self.format(byType: retentionHoursByType)
        case .failedAgeHoursByType: Self.format(byType: failedAgeHoursByType)
        case .intervalSeconds: String(intervalSeconds)
        case .batchSize: String(batchSize)
        case .batchMilliseconds: String(batchMilliseconds)
        case .logLevel: logLevel.rawValue
        case .dryRun: dryRun ? "true" : "false"
        case .busyTimeoutMilliseconds: String(busyTimeoutMilliseconds)
        case .metricsFile: metricsFile ?? ""
        case .stateDirectory: stateDirectory ?? ""
        case .lockName: lockName ?? ""
        case .maxDeletePercent: String(maxDeletePercent)
        case .maxDeleteMinFiles: String(maxDeleteMinFiles)
        case .requireSyncedClock: requireSyncedClock ? "yes" : "no"
        case .maxFilesPerSweep: String(maxFilesPerSweep)
        case .maxSweepSeconds: String(maxSweepSeconds)
        case .orphanHours: Self.format(hours: orphanHours)
        case .keepFree: Self.format(amount: keepFree)
        case .maxUse: Self.format(amount: maxUse)
        case .minRetentionHours: Self.format(hours: minRetentionHours)
        }
    }

    /// Every setting as a comment line naming its source followed by a configuration-file line, e.g.
    /// `# environment variable EXPORT_CLEANUP_RETENTION_HOURS` and `EXPORT_CLEANUP_RETENTION_HOURS=48`.
    ///
    /// Values are quoted where needed, so the output is itself a valid configuration file.
    public func describe() -> String {
        SettingKey.allCases.map { key in
            "# \(source(of: key))\n\(key.rawValue)=\(Self.fileValue(text(of: key)))"
        }.joined(separator: "\n")
    }

    /// `hotels=48 supplier_summary=168`, sorted by type.
    static func format(byType: [String: Double]) -> String {
        byType.keys.sorted().map { "\($0)=\(format(hours: byType[$0]!))" }.joined(separator: " ")
    }

    /// Whether `text` is an export type as the naming rule writes it: words of `A-Z a-z 0-9 -` joined by `_`, at most
    /// 50 characters.
    static func isExportType(_ text: Substring) -> Bool {
        guard !text.isEmpty, text.utf8.count <= 50 else { return false }
        return text.split(separator: "_", omittingEmptySubsequences: false).allSatisfy { word in
            !word.isEmpty && word.utf8.allSatisfy { byte in
                (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) || byte == 0x2D
            }
        }
    }

    /// `0`, `10%`, `512M`, `1536K`, `123`: the largest suffix that divides the bytes.
    static func format(amount: DiskAmount?) -> String {
        switch amount {
        case nil: return "0"
        case .percent(let share)?: return format(hours: share) + "%"
        case .bytes(let value)?:
            for (suffix, power) in [("T", 4), ("G", 3), ("M", 2), ("K", 1)] {
                let unit = Int64(1) << (10 * power)
                if value >= unit && value % unit == 0 { return "\(value / unit)\(suffix)" }
            }
            return String(value)
        }
    }

    /// Parses a ``DiskAmount``: `0` is off (`nil`).
    static func parseAmount(_ text: String) -> Result<DiskAmount?, AmountProblem> {
        if text.hasSuffix("%") {
            let number = String(text.dropLast())
            guard isDecimal(number), let share = Double(number) else { return .failure(AmountProblem("not a percentage")) }
            guard share >= 0 && share <= 100 else { return .failure(AmountProblem("a percentage must be from 0 to 100")) }
            return .success(share == 0 ? nil : .percent(share))
        }
        var number = text
        var power = 0
        if let last = text.last, let index = ["K", "M", "G", "T"].firstIndex(of: last.uppercased()) {
            power = index + 1
            number = String(text.dropLast())
        }
        guard isDecimal(number), let value = Double(number) else { return .failure(AmountProblem("not a size")) }
        guard value >= 0 else { return .failure(AmountProblem("below 0")) }
        let bytes = (value * Double(Int64(1) << (10 * power))).rounded(.up)
        guard bytes < 4.6e18 else { return .failure(AmountProblem("too large")) }
        return .success(bytes == 0 ? nil : .bytes(Int64(bytes)))
    }

    /// Why a size cannot be read.
    struct AmountProblem: Error {
        var reason: String
        init(_ reason: String) { self.reason = reason }
    }

    static func format(hours: Double) -> String {
        if hours == hours.rounded(), abs(hours) < 1e15 { return String(Int64(hours)) }
        return String(hours)
    }

    /// `text` as a configuration-file value: bare when safe, else in double quotes.
    static func fileValue(_ text: String) -> String {
        let plain = !text.isEmpty && text.unicodeScalars.allSatisfy { scalar in
            scalar.value > 0x20 && scalar.value != 0x7F && !"\"'\\#;".unicodeScalars.contains(scalar)
        }
        if plain { return text }
        var quoted = "\""
        for scalar in text.unicodeScalars {
            if scalar == "\"" || scalar == "\\" { quoted += "\\" }
            quoted.unicodeScalars.append(scalar)
        }
        return quoted + "\""
    }
}

// MARK: - Resolving

extension CleanupSettings {
    /// Combines flags, environment, configuration file and defaults; precedence flag > environment > file > default.
    ///
    /// Every value given is validated, including one that a higher layer overrides, so a bad line in the
    /// file is reported even while a flag hides it.
    ///
    /// - Parameters:
    ///   - flags: Values of command-line flags, keyed by setting key (the executable maps
    ///     `--retention-hours` to `EXPORT_CLEANUP_RETENTION_HOURS`, see ``SettingKey/flagName``).
    ///     A key that is not a setting is an error.
    ///   - environment: The process environment. Only `EXPORT_STORAGE_PATH` and variables starting with
    ///     `EXPORT_CLEANUP_` are considered; an unknown `EXPORT_CLEANUP_*` variable is an error. When the
    ///     unit's `EnvironmentFile=` names the same file, a variable equal to the file's value is attributed
    ///     to the file (so errors and ``source(of:)`` name the file and line).
    ///   - file: The configuration file's path (for messages) and contents, or `nil` for none. An unknown
    ///     key in the file is an error.
    ///
    /// ``stateDirectory`` that no layer sets (an empty value sets it to none) is taken from systemd's
    /// `STATE_DIRECTORY` variable (the first of its colon-separated paths), attributed to that variable.
    /// - Throws: ``ConfigurationError``, naming the source (file and line, environment variable or flag),
    ///   the key, the bad value and what is allowed.
    public static func resolve(
        flags: [String: String],
        environment: [String: String],
        file: (path: String, contents: String)?
    ) throws(ConfigurationError) -> CleanupSettings {
        var settings = CleanupSettings()
        var fileValues: [SettingKey: String] = [:]

        if let file {
            for entry in try ConfigFile.parse(contents: file.contents, path: file.path) {
                guard let key = SettingKey(rawValue: entry.key) else {
                    throw unknownKey(
                        entry.key, path: file.path, line: entry.line, source: .file(path: file.path, line: entry.line),
                        what: "unknown key \(entry.key)", fix: "Correct the key or remove the line.")
                }
                try settings.set(key, to: entry.value, from: .file(path: file.path, line: entry.line))
                fileValues[key] = entry.value
            }
        }

        let relevant = environment.keys.filter {
            $0.hasPrefix(SettingKey.environmentPrefix) || $0 == SettingKey.storagePath.rawValue
        }
        for variable in relevant.sorted() {
            guard let key = SettingKey(rawValue: variable) else {
                throw unknownKey(
                    variable, path: nil, line: nil, source: .environment(variable: variable),
                    what: "unknown setting",
                    fix: "Variables starting with \(SettingKey.environmentPrefix) are reserved for settings: "
                        + "correct its name or unset it.")
            }
            let value = environment[variable]!
            if value == fileValues[key] { continue }  // Same file, imported by EnvironmentFile=.
            try settings.set(key, to: value, from: .environment(variable: variable))
        }

        for name in flags.keys.sorted() {
            guard let key = SettingKey(rawValue: name) else {
                throw unknownKey(name, path: nil, line: nil, source: .flag(key: name), what: "not a setting", fix: "")
            }
            try settings.set(key, to: flags[name]!, from: .flag(key: name))
        }
        if settings.sources[.stateDirectory] == nil, let systemd = environment[systemdStateDirectoryVariable],
            let first = systemd.split(separator: ":").first
        {
            try settings.set(.stateDirectory, to: String(first), from: .environment(variable: systemdStateDirectoryVariable))
        }
        return settings
    }

    /// The variable systemd sets for a unit with `StateDirectory=`.
    public static let systemdStateDirectoryVariable = "STATE_DIRECTORY"

    private static func unknownKey(
        _ name: String, path: String?, line: Int?, source: SettingsSource, what: String, fix: String
    ) -> ConfigurationError {
        var message = what
        if let suggestion = SettingKey.suggestion(for: name) {
            message += "; did you mean \(suggestion.rawValue)?"
        } else {
            message += "."
        }
        if !fix.isEmpty { message += " " + fix }
        message += " Valid keys: \(SettingKey.list)."
        return ConfigurationError(code: .unknownKey, path: path, line: line, key: name, source: source, message: message)
    }

    /// Parses and validates `text` for `key`, stores it and records its source.
    mutating func set(_ key: SettingKey, to text: String, from source: SettingsSource) throws(ConfigurationError) {
        func invalid(_ reason: String?) -> ConfigurationError {
            var message = "invalid value \(ConfigurationError.quoted(text))"
            if let reason { message += " (\(reason))" }
            message += "; expected \(key.allowedValues)"
            var path: String?
            var line: Int?
            if case .file(let filePath, let fileLine) = source {
                path = filePath
                line = fileLine
            }
            return ConfigurationError(
                code: .invalidValue, path: path, line: line, key: key.rawValue, source: source, message: message)
        }
        func path() throws(ConfigurationError) -> String {
            if text.isEmpty { throw invalid("empty") }
            if text.unicodeScalars.contains("\0") { throw invalid("contains a NUL character") }
            return text
        }
        /// Empty means none.
        func optionalPath() throws(ConfigurationError) -> String? {
            text.isEmpty ? nil : try path()
        }
        func hours() throws(ConfigurationError) -> Double {
            guard Self.isDecimal(text), let hours = Double(text) else { throw invalid("not a decimal number") }
            if hours <= 0 { throw invalid("must be greater than 0") }
            if hours > Limits.maximumHours { throw invalid("greater than \(Limits.maximumHoursText)") }
            return hours
        }
        func boolean() throws(ConfigurationError) -> Bool {
            switch text.lowercased() {
            case "true", "yes", "1", "on": return true
            case "false", "no", "0", "off": return false
            default: throw invalid(nil)
            }
        }
        func hoursByType() throws(ConfigurationError) -> [String: Double] {
            var result: [String: Double] = [:]
            for pair in text.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "\t" }) {
                guard let equals = pair.firstIndex(of: "=") else { throw invalid("'\(pair)' is not TYPE=HOURS") }
                let type = pair[..<equals], value = String(pair[pair.index(after: equals)...])
                guard Self.isExportType(type) else { throw invalid("'\(type)' is not an export type") }
                guard result[String(type)] == nil else { throw invalid("'\(type)' is named twice") }
                guard Self.isDecimal(value), let hours = Double(value) else { throw invalid("the hours of '\(type)' are not a decimal number") }
                if hours <= 0 { throw invalid("the hours of '\(type)' must be greater than 0") }
                if hours > Limits.maximumHours { throw invalid("the hours of '\(type)' are greater than \(Limits.maximumHoursText)") }
                result[String(type)] = hours
            }
            return result
        }
        func integer(in range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
            guard let number = Int(text) else {
                guard Self.isDecimal(text) else { throw invalid("not a number") }
                guard !text.contains(".") else { throw invalid("not a whole number") }
                throw invalid(text.hasPrefix("-") ? "below \(range.lowerBound)" : "above \(range.upperBound)")
            }
            if number < range.lowerBound { throw invalid("below \(range.lowerBound)") }
            if number > range.upperBound { throw invalid("above \(range.upperBound)") }
            return number
        }

        switch key {
        case .storagePath: storagePath = try path()
        case .databasePath: databasePath = try path()
        case .retentionHours: retentionHours = try hours()
        case .failedAgeHours: failedAgeHours = try hours()
        case .retentionHoursByType: retentionHoursByType = try hoursByType()
        case .failedAgeHoursByType: failedAgeHoursByType = try hoursByType()
        case .intervalSeconds: intervalSeconds = try integer(in: Limits.interval)
        case .batchSize: batchSize = try integer(in: Limits.batchSize)
        case .batchMilliseconds: batchMilliseconds = try integer(in: Limits.batchMilliseconds)
        case .busyTimeoutMilliseconds: busyTimeoutMilliseconds = try integer(in: Limits.busyTimeoutMilliseconds)
        case .metricsFile: metricsFile = try optionalPath()
        case .stateDirectory: stateDirectory = try optionalPath()
        case .lockName: lockName = text.isEmpty ? nil : try path()
        case .maxDeletePercent: maxDeletePercent = try integer(in: Limits.maxDeletePercent)
        case .maxDeleteMinFiles: maxDeleteMinFiles = try integer(in: Limits.maxDeleteMinFiles)
        case .logLevel:
            guard let level = LogLevel(rawValue: text.lowercased()) else { throw invalid(nil) }
            logLevel = level
        case .dryRun: dryRun = try boolean()
        case .requireSyncedClock: requireSyncedClock = try boolean()
        case .maxFilesPerSweep: maxFilesPerSweep = try integer(in: Limits.maxFilesPerSweep)
        case .maxSweepSeconds: maxSweepSeconds = try integer(in: Limits.maxSweepSeconds)
        case .keepFree, .maxUse:
            switch Self.parseAmount(text) {
            case .success(let amount): if key == .keepFree { keepFree = amount } else { maxUse = amount }
            case .failure(let problem): throw invalid(problem.reason)
            }
        case .minRetentionHours:
            guard Self.isDecimal(text), let value = Double(text) else { throw invalid("not a decimal number") }
            if value < 0 { throw invalid("below 0") }
            if value > Limits.maximumHours { throw invalid("greater than \(Limits.maximumHoursText)") }
            minRetentionHours = value
        case .orphanHours:
            guard Self.isDecimal(text), let value = Double(text) else { throw invalid("not a decimal number") }
            if value < 0 { throw invalid("below 0") }
            if value > Limits.maximumHours { throw invalid("greater than \(Limits.maximumHoursText)") }
            orphanHours = value
        }
        sources[key] = source
    }

    /// Whether `text` is `[+-]?(digits[.digits*] | .digits)`: no exponent, no `inf`, no `nan`, no hex.
    static func isDecimal(_ text: String) -> Bool {
        var scalars = Substring(text).unicodeScalars[...]
        if let sign = scalars.first, sign == "+" || sign == "-" { scalars.removeFirst() }
        let parts = scalars.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        let isDigits = { (part: Substring.UnicodeScalarView.SubSequence) in part.allSatisfy { ("0"..."9").contains($0) } }
        guard parts.allSatisfy(isDigits) else { return false }
        return parts.contains { !$0.isEmpty }
    }
}
