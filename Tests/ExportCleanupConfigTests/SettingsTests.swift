import ExportCleanupConfig
import TestSupport
import Testing

extension ConfigurationTests {
    @Suite struct SettingsTests {
        static let path = "/etc/export-cleanup/export-cleanup.conf"

        // MARK: Defaults

        @Test func defaults() throws {
            let settings = try CleanupSettings.resolve(flags: [:], environment: [:], file: nil)
            #expect(settings == CleanupSettings())
            #expect(settings.storagePath == "./exports")
            #expect(settings.databasePath == "./exports.db")
            #expect(settings.retentionHours == 24)
            #expect(settings.failedAgeHours == 1)
            #expect(settings.intervalSeconds == 3600)
            #expect(settings.batchSize == 2000)
            #expect(settings.batchMilliseconds == 250)
            #expect(settings.logLevel == .info)
            #expect(settings.dryRun == false)
            #expect(settings.busyTimeoutMilliseconds == 5000)
            #expect(settings.maxDeletePercent == 90)
            #expect(settings.maxDeleteMinFiles == 1000)
            #expect(settings.requireSyncedClock == false)
            #expect(settings.retentionHoursByType.isEmpty && settings.failedAgeHoursByType.isEmpty)
            for key in SettingKey.allCases {
                #expect(settings.source(of: key) == .default)
            }
        }

        @Test func defaultValueTexts() {
            let texts = Dictionary(uniqueKeysWithValues: SettingKey.allCases.map { ($0.rawValue, $0.defaultValueText) })
            #expect(
                texts == [
                    "EXPORT_STORAGE_PATH": "./exports",
                    "EXPORT_CLEANUP_DATABASE": "./exports.db",
                    "EXPORT_CLEANUP_RETENTION_HOURS": "24",
                    "EXPORT_CLEANUP_FAILED_AGE_HOURS": "1",
                    "EXPORT_CLEANUP_RETENTION_HOURS_BY_TYPE": "",
                    "EXPORT_CLEANUP_FAILED_AGE_HOURS_BY_TYPE": "",
                    "EXPORT_CLEANUP_INTERVAL_SECONDS": "3600",
                    "EXPORT_CLEANUP_BATCH_SIZE": "2000",
                    "EXPORT_CLEANUP_BATCH_MILLISECONDS": "250",
                    "EXPORT_CLEANUP_LOG_LEVEL": "info",
                    "EXPORT_CLEANUP_DRY_RUN": "false",
                    "EXPORT_CLEANUP_BUSY_TIMEOUT_MS": "5000",
                    "EXPORT_CLEANUP_METRICS_FILE": "",
                    "EXPORT_CLEANUP_STATE_DIRECTORY": "",
                    "EXPORT_CLEANUP_LOCK_NAME": "",
                    "EXPORT_CLEANUP_MAX_DELETE_PERCENT": "90",
                    "EXPORT_CLEANUP_MAX_DELETE_MIN_FILES": "1000",
                    "EXPORT_CLEANUP_REQUIRE_SYNCED_CLOCK": "no",
                    "EXPORT_CLEANUP_MAX_FILES_PER_SWEEP": "0",
                    "EXPORT_CLEANUP_MAX_SWEEP_SECONDS": "0",
                    "EXPORT_CLEANUP_ORPHAN_HOURS": "0",
                    "EXPORT_CLEANUP_KEEP_FREE": "0",
                    "EXPORT_CLEANUP_MAX_USE": "0",
                    "EXPORT_CLEANUP_MIN_RETENTION_HOURS": "1",
                ])
        }

        @Test func flagNames() {
            #expect(SettingKey.allCases.map(\.flagName) == [
                "--storage", "--db", "--retention-hours", "--failed-age-hours", "--retention-hours-by-type", "--failed-age-hours-by-type",
                "--interval-seconds",
                "--batch-size", "--batch-milliseconds", "--log-level", "--dry-run", "--busy-timeout-ms",
                "--metrics-file", "--state-directory", "--lock-name",
                "--max-delete-percent", "--max-delete-min-files", "--require-synced-clock",
                "--max-files-per-sweep", "--max-sweep-seconds", "--orphan-hours",
                "--keep-free", "--max-use", "--min-retention-hours",
            ])
        }

        // MARK: Precedence

        struct Layers: Sendable, CustomTestStringConvertible {
            var flag: String?
            var environment: String?
            var file: String?
            var expected: Double
            var expectedSource: SettingsSource
            var testDescription: String {
                "flag \(flag ?? "-"), env \(environment ?? "-"), file \(file ?? "-")"
            }
        }

        static let key = SettingKey.retentionHours.rawValue

        @Test(arguments: [
            Layers(flag: nil, environment: nil, file: nil, expected: 24, expectedSource: .default),
            Layers(flag: nil, environment: nil, file: "2", expected: 2, expectedSource: .file(path: path, line: 2)),
            Layers(flag: nil, environment: "3", file: "2", expected: 3, expectedSource: .environment(variable: key)),
            Layers(flag: "4", environment: "3", file: "2", expected: 4, expectedSource: .flag(key: key)),
            Layers(flag: nil, environment: "3", file: nil, expected: 3, expectedSource: .environment(variable: key)),
            Layers(flag: "4", environment: nil, file: "2", expected: 4, expectedSource: .flag(key: key)),
            Layers(flag: "4", environment: "3", file: nil, expected: 4, expectedSource: .flag(key: key)),
            Layers(flag: "4", environment: nil, file: nil, expected: 4, expectedSource: .flag(key: key)),
        ])
        func precedence(_ layers: Layers) throws {
            let key = Self.key
            let settings = try CleanupSettings.resolve(
                flags: layers.flag.map { [key: $0] } ?? [:],
                environment: layers.environment.map { [key: $0, "PATH": "/usr/bin"] } ?? ["PATH": "/usr/bin"],
                file: layers.file.map { (Self.path, "# retention\n\(key)=\($0)\n") })
            #expect(settings.retentionHours == layers.expected)
            #expect(settings.source(of: .retentionHours) == layers.expectedSource)
            for other in SettingKey.allCases where other != .retentionHours {
                #expect(settings.source(of: other) == .default)
            }
        }

        @Test func stateDirectoryDefaultsToSystemdsStateDirectory() throws {
            let systemd = try CleanupSettings.resolve(flags: [:], environment: ["STATE_DIRECTORY": "/var/lib/export-cleanup:/var/lib/other"], file: nil)
            #expect(systemd.stateDirectory == "/var/lib/export-cleanup")
            #expect(systemd.source(of: .stateDirectory) == .environment(variable: "STATE_DIRECTORY"))
            let file = try CleanupSettings.resolve(flags: [:], environment: ["STATE_DIRECTORY": "/var/lib/export-cleanup"],
                                                   file: (Self.path, "EXPORT_CLEANUP_STATE_DIRECTORY=/srv/state\n"))
            #expect(file.stateDirectory == "/srv/state")
            let off = try CleanupSettings.resolve(flags: ["EXPORT_CLEANUP_STATE_DIRECTORY": ""], environment: ["STATE_DIRECTORY": "/var/lib/export-cleanup"],
                                                  file: nil)
            #expect(off.stateDirectory == nil)
            #expect(try CleanupSettings.resolve(flags: [:], environment: [:], file: nil).stateDirectory == nil)
            #expect(try CleanupSettings.resolve(flags: [:], environment: ["EXPORT_CLEANUP_METRICS_FILE": ""], file: nil).metricsFile == nil)
        }

        @Test func eachKeyResolvesFromItsOwnLayer() throws {
            let settings = try CleanupSettings.resolve(
                flags: ["EXPORT_CLEANUP_DRY_RUN": "true", "EXPORT_CLEANUP_BATCH_SIZE": "10"],
                environment: ["EXPORT_STORAGE_PATH": "/srv/exports", "EXPORT_CLEANUP_BATCH_SIZE": "20"],
                file: (Self.path, "EXPORT_CLEANUP_LOG_LEVEL=debug\nEXPORT_CLEANUP_BATCH_SIZE=30\nEXPORT_STORAGE_PATH=/x\n"))
            #expect(settings.dryRun == true)
            #expect(settings.source(of: .dryRun) == .flag(key: "EXPORT_CLEANUP_DRY_RUN"))
            #expect(settings.batchSize == 10)
            #expect(settings.source(of: .batchSize) == .flag(key: "EXPORT_CLEANUP_BATCH_SIZE"))
            #expect(settings.storagePath == "/srv/exports")
            #expect(settings.source(of: .storagePath) == .environment(variable: "EXPORT_STORAGE_PATH"))
            #expect(settings.logLevel == .debug)
            #expect(settings.source(of: .logLevel) == .file(path: Self.path, line: 1))
            #expect(settings.intervalSeconds == 3600)
            #expect(settings.source(of: .intervalSeconds) == .default)
        }

        enum Layer: String, CaseIterable, Sendable { case file, environment, flag }

        /// A valid value other than the default, per key, and its canonical text.
        static let sampleValues: [SettingKey: (text: String, canonical: String)] = [
            .storagePath: ("/srv/exports", "/srv/exports"),
            .databasePath: ("/var/lib/app/app.db", "/var/lib/app/app.db"),
            .retentionHours: ("48.5", "48.5"),
            .failedAgeHours: ("0.25", "0.25"),
            .retentionHoursByType: ("supplier_summary=168,hotels=48.0", "hotels=48 supplier_summary=168"),
            .failedAgeHoursByType: ("hotels=0.5", "hotels=0.5"),
            .intervalSeconds: ("60", "60"),
            .batchSize: ("1000", "1000"),
            .batchMilliseconds: ("75", "75"),
            .logLevel: ("WARNING", "warning"),
            .dryRun: ("Yes", "true"),
            .busyTimeoutMilliseconds: ("0", "0"),
            .metricsFile: ("/var/lib/prometheus/node-exporter/export-cleanup.prom", "/var/lib/prometheus/node-exporter/export-cleanup.prom"),
            .stateDirectory: ("/var/lib/export-cleanup", "/var/lib/export-cleanup"),
            .lockName: ("shared-exports", "shared-exports"),
            .maxDeletePercent: ("50", "50"),
            .maxDeleteMinFiles: ("+200", "200"),
            .requireSyncedClock: ("On", "yes"),
            .maxFilesPerSweep: ("5000", "5000"),
            .maxSweepSeconds: ("300", "300"),
            .orphanHours: ("72.5", "72.5"),
            .keepFree: ("10%", "10%"),
            .maxUse: ("1.5g", "1536M"),
            .minRetentionHours: ("0", "0"),
        ]

        @Test(arguments: SettingKey.allCases, Layer.allCases)
        func everyKeyFromEveryLayer(key: SettingKey, layer: Layer) throws {
            let (text, canonical) = try #require(Self.sampleValues[key])
            let settings: CleanupSettings
            let source: SettingsSource
            switch layer {
            case .file:
                settings = try resolveFile("\n\(key.rawValue)=\(text)", path: Self.path)
                source = .file(path: Self.path, line: 2)
            case .environment:
                settings = try CleanupSettings.resolve(flags: [:], environment: [key.rawValue: text], file: nil)
                source = .environment(variable: key.rawValue)
            case .flag:
                settings = try CleanupSettings.resolve(flags: [key.rawValue: text], environment: [:], file: nil)
                source = .flag(key: key.rawValue)
            }
            #expect(settings.text(of: key) == canonical)
            #expect(settings.text(of: key) != key.defaultValueText)
            #expect(settings.source(of: key) == source)
        }

        @Test func environmentEqualToTheFileIsAttributedToTheFile() throws {
            // The unit's EnvironmentFile= names the same file the daemon reads.
            let file = "EXPORT_CLEANUP_BATCH_SIZE=50\nEXPORT_CLEANUP_INTERVAL_SECONDS=60\n"
            let settings = try CleanupSettings.resolve(
                flags: [:],
                environment: ["EXPORT_CLEANUP_BATCH_SIZE": "50", "EXPORT_CLEANUP_INTERVAL_SECONDS": "120"],
                file: (Self.path, file))
            #expect(settings.batchSize == 50)
            #expect(settings.source(of: .batchSize) == .file(path: Self.path, line: 1))
            #expect(settings.intervalSeconds == 120)
            #expect(settings.source(of: .intervalSeconds) == .environment(variable: "EXPORT_CLEANUP_INTERVAL_SECONDS"))
        }

        @Test func badFileValueIsReportedEvenWhenOverridden() throws {
            let error = try #require(captureError {
                try CleanupSettings.resolve(
                    flags: ["EXPORT_CLEANUP_BATCH_SIZE": "10"], environment: [:],
                    file: (Self.path, "EXPORT_CLEANUP_BATCH_SIZE=0"))
            })
            #expect(error.code == .invalidValue)
            #expect(error.line == 1)
        }

        // MARK: Validation

        struct ValueCase: Sendable, CustomTestStringConvertible {
            var key: SettingKey
            var text: String
            /// The canonical text when valid, `nil` when invalid.
            var expected: String?
            var testDescription: String { "\(key.rawValue)=\(text.debugDescription)" }
        }

        static func valid(_ key: SettingKey, _ text: String, _ expected: String? = nil) -> ValueCase {
            ValueCase(key: key, text: text, expected: expected ?? text)
        }
        static func invalid(_ key: SettingKey, _ text: String) -> ValueCase {
            ValueCase(key: key, text: text, expected: nil)
        }

        static let hourCases: [ValueCase] = [SettingKey.retentionHours, .failedAgeHours].flatMap { key in
            [
                valid(key, "24"), valid(key, "0.5"), valid(key, ".5", "0.5"), valid(key, "1.", "1"),
                valid(key, "+2", "2"), valid(key, "0.001"), valid(key, "87600"), valid(key, "87600.0", "87600"),
                valid(key, "007", "7"),
                invalid(key, "0"), invalid(key, "0.0"), invalid(key, "-1"), invalid(key, "-0.5"),
                invalid(key, "87600.01"), invalid(key, "100000"), invalid(key, "abc"), invalid(key, ""),
                invalid(key, "1e3"), invalid(key, "inf"), invalid(key, "nan"), invalid(key, "0x10"),
                invalid(key, " 1"), invalid(key, "1h"), invalid(key, "1,5"), invalid(key, "."), invalid(key, "1.2.3"),
                invalid(key, "--1"), invalid(key, "+"),
            ]
        }

        static let integerCases: [ValueCase] = [
            valid(.intervalSeconds, "1"), valid(.intervalSeconds, "86400"), valid(.intervalSeconds, "+60", "60"),
            invalid(.intervalSeconds, "0"), invalid(.intervalSeconds, "-1"), invalid(.intervalSeconds, "86401"),
            invalid(.intervalSeconds, "1.5"), invalid(.intervalSeconds, "60.0"), invalid(.intervalSeconds, "abc"),
            invalid(.intervalSeconds, ""), invalid(.intervalSeconds, "99999999999999999999999"),
            invalid(.intervalSeconds, "-99999999999999999999999"), invalid(.intervalSeconds, "1e3"),
            valid(.batchSize, "1"), valid(.batchSize, "100000"),
            invalid(.batchSize, "0"), invalid(.batchSize, "-5"), invalid(.batchSize, "100001"), invalid(.batchSize, "x"),
            invalid(.batchSize, "10 "),
            valid(.batchMilliseconds, "1"), valid(.batchMilliseconds, "60000"),
            invalid(.batchMilliseconds, "0"), invalid(.batchMilliseconds, "60001"), invalid(.batchMilliseconds, "0.5"),
            valid(.busyTimeoutMilliseconds, "0"), valid(.busyTimeoutMilliseconds, "600000"),
            invalid(.busyTimeoutMilliseconds, "-1"), invalid(.busyTimeoutMilliseconds, "600001"),
            invalid(.busyTimeoutMilliseconds, "5s"), invalid(.busyTimeoutMilliseconds, "0.5"),
            valid(.maxDeletePercent, "0"), valid(.maxDeletePercent, "100"), invalid(.maxDeletePercent, "101"),
            invalid(.maxDeletePercent, "-1"), invalid(.maxDeletePercent, "90%"), invalid(.maxDeletePercent, "12.5"),
            valid(.maxDeleteMinFiles, "0"), valid(.maxDeleteMinFiles, "100000000"), invalid(.maxDeleteMinFiles, "100000001"),
            invalid(.maxDeleteMinFiles, "-1"), invalid(.maxDeleteMinFiles, "1k"),
            valid(.maxFilesPerSweep, "0"), valid(.maxFilesPerSweep, "1"), invalid(.maxFilesPerSweep, "-1"), invalid(.maxFilesPerSweep, "1e3"),
            valid(.keepFree, "0"), valid(.keepFree, "0%", "0"), valid(.keepFree, "2G"), valid(.keepFree, "512m", "512M"),
            valid(.keepFree, "1024K", "1M"), valid(.keepFree, "1000", "1000"), valid(.keepFree, "12.5%"), valid(.keepFree, "100%"),
            invalid(.keepFree, "101%"), invalid(.keepFree, "-1G"), invalid(.keepFree, "1P"), invalid(.keepFree, "G"), invalid(.keepFree, "10 %"),
            invalid(.keepFree, "1e3"), valid(.maxUse, "50G"), valid(.maxUse, "20%"), invalid(.maxUse, "x"),
            valid(.minRetentionHours, "0.25"), invalid(.minRetentionHours, "-1"), invalid(.minRetentionHours, "87601"),
            valid(.orphanHours, "0"), valid(.orphanHours, "0.5"), valid(.orphanHours, "87600"), invalid(.orphanHours, "-1"),
            invalid(.orphanHours, "87601"), invalid(.orphanHours, "x"),
            valid(.maxSweepSeconds, "0"), valid(.maxSweepSeconds, "86400"), invalid(.maxSweepSeconds, "86401"), invalid(.maxSweepSeconds, "1.5"),
        ]

        static let otherCases: [ValueCase] =
            CleanupSettings.LogLevel.allCases.map { valid(.logLevel, $0.rawValue) } + [
                valid(.logLevel, "INFO", "info"), valid(.logLevel, "Critical", "critical"),
                invalid(.logLevel, "warn"), invalid(.logLevel, "verbose"), invalid(.logLevel, ""),
                invalid(.logLevel, " info"),
            ]
            + ["true", "yes", "1", "on", "TRUE", "Yes", "ON"].map { valid(.dryRun, $0, "true") }
            + ["false", "no", "0", "off", "FALSE", "No", "Off"].map { valid(.dryRun, $0, "false") }
            + [invalid(.dryRun, ""), invalid(.dryRun, "maybe"), invalid(.dryRun, "2"), invalid(.dryRun, "y")]
            + ["yes", "true", "1", "ON"].map { valid(.requireSyncedClock, $0, "yes") }
            + ["no", "false", "0", "Off"].map { valid(.requireSyncedClock, $0, "no") }
            + [invalid(.requireSyncedClock, "sometimes"), invalid(.requireSyncedClock, "")]
            + [SettingKey.retentionHoursByType, .failedAgeHoursByType].flatMap { key in
                [
                    valid(key, "", ""), valid(key, "hotels=48", "hotels=48"), valid(key, "  a=1\tb-2=2 ", "a=1 b-2=2"),
                    valid(key, "supplier_summary=0.5,hotels=7", "hotels=7 supplier_summary=0.5"),
                    invalid(key, "hotels"), invalid(key, "hotels=0"), invalid(key, "hotels=-1"), invalid(key, "hotels=x"),
                    invalid(key, "hotels=1 hotels=2"), invalid(key, "=3"), invalid(key, "ho tels=3=4"), invalid(key, "a__b=1"),
                    invalid(key, "h\u{e9}tels=1"), invalid(key, "hotels=87601"), invalid(key, String(repeating: "a", count: 51) + "=1"),
                ]
            }
            + [
                valid(.storagePath, "/srv/exports"), valid(.storagePath, " spaced "), valid(.storagePath, "relative"),
                invalid(.storagePath, ""), invalid(.storagePath, "a\u{0}b"),
                valid(.databasePath, "/var/lib/x.db"), invalid(.databasePath, ""), invalid(.databasePath, "\u{0}"),
                valid(.databasePath, "postgresql://cleanup@db/app?sslmode=verify-full"),
                valid(.lockName, "exports-eu"), valid(.lockName, "", ""), invalid(.lockName, "a\u{0}b"),
            ]

        @Test(arguments: hourCases + integerCases + otherCases)
        func validation(_ test: ValueCase) throws {
            let key = test.key.rawValue
            if let expected = test.expected {
                let settings = try CleanupSettings.resolve(flags: [key: test.text], environment: [:], file: nil)
                #expect(settings.text(of: test.key) == expected)
            } else {
                let error = try #require(captureError {
                    try CleanupSettings.resolve(flags: [:], environment: [key: test.text], file: nil)
                })
                #expect(error.code == .invalidValue)
                #expect(error.key == key)
                #expect(error.path == nil)
                #expect(error.line == nil)
                #expect(error.source == .environment(variable: key))
                #expect(error.description.hasPrefix("environment variable \(key): invalid value "), "\(error)")
                #expect(error.message.contains(test.text.debugDescription), "\(error)")
                #expect(error.message.contains("expected \(test.key.allowedValues)"), "\(error)")
            }
        }

        @Test func decimalHours() throws {
            let settings = try CleanupSettings.resolve(
                flags: [:],
                environment: ["EXPORT_CLEANUP_RETENTION_HOURS": "0.5", "EXPORT_CLEANUP_FAILED_AGE_HOURS": "1.25"],
                file: nil)
            #expect(settings.retentionHours == 0.5)
            #expect(settings.failedAgeHours == 1.25)
        }

        @Test func invalidValueInFileNamesFileLineKeyValueAndAllowed() throws {
            let error = try #require(captureError {
                try resolveFile("# x\nEXPORT_CLEANUP_BATCH_SIZE=0\n", path: Self.path)
            })
            #expect(error.code == .invalidValue)
            #expect(error.path == Self.path)
            #expect(error.line == 2)
            #expect(error.key == "EXPORT_CLEANUP_BATCH_SIZE")
            #expect(error.source == .file(path: Self.path, line: 2))
            #expect(
                error.description == "\(Self.path):2: EXPORT_CLEANUP_BATCH_SIZE: invalid value \"0\" (below 1); "
                    + "expected a whole number from 1 to 100000")
        }

        @Test func invalidValueInFlagNamesTheFlag() throws {
            let error = try #require(captureError {
                try CleanupSettings.resolve(flags: ["EXPORT_CLEANUP_RETENTION_HOURS": "-2"], environment: [:], file: nil)
            })
            #expect(error.source == .flag(key: "EXPORT_CLEANUP_RETENTION_HOURS"))
            #expect(
                error.description.hasPrefix(
                    "flag --retention-hours (EXPORT_CLEANUP_RETENTION_HOURS): invalid value \"-2\" (must be greater than 0)"),
                "\(error)")
        }

        @Test func invalidValueShowsControlCharactersEscaped() throws {
            let error = try #require(captureError {
                try CleanupSettings.resolve(flags: [:], environment: ["EXPORT_STORAGE_PATH": "a\u{0}b"], file: nil)
            })
            #expect(error.message.contains(#""a\0b""#), "\(error)")
        }

        // MARK: Unknown keys

        @Test func unknownKeyInFileSuggestsTheClosestKey() throws {
            let error = try #require(captureError {
                try resolveFile("EXPORT_CLEANUP_BATCH_SIZE=5\nEXPORT_CLEANUP_RETENTION_HOUR=48\n", path: Self.path)
            })
            #expect(error.code == .unknownKey)
            #expect(error.path == Self.path)
            #expect(error.line == 2)
            #expect(error.key == "EXPORT_CLEANUP_RETENTION_HOUR")
            #expect(error.message.contains("did you mean EXPORT_CLEANUP_RETENTION_HOURS?"), "\(error)")
            #expect(error.description.hasPrefix("\(Self.path):2: EXPORT_CLEANUP_RETENTION_HOUR: unknown key"), "\(error)")
            for key in SettingKey.allCases {
                #expect(error.message.contains(key.rawValue))
            }
        }

        @Test func unknownKeyFarFromAnyKeyListsTheValidKeys() throws {
            let error = try #require(captureError { try resolveFile("FOO=1") })
            #expect(error.code == .unknownKey)
            #expect(error.key == "FOO")
            #expect(!error.message.contains("did you mean"))
            #expect(error.message.contains("Valid keys: EXPORT_STORAGE_PATH, EXPORT_CLEANUP_DATABASE,"), "\(error)")
        }

        @Test(arguments: [
            ("EXPORT_CLEANUP_RETENTION_HOUR", SettingKey.retentionHours),
            ("EXPORT_CLEANUP_RETENTON_HOURS", .retentionHours),
            ("export_cleanup_batch_size", .batchSize),
            ("EXPORT_CLEANUP_BATCHSIZE", .batchSize),
            ("EXPORT_STORAGE_PATHS", .storagePath),
            ("EXPORT_CLEANUP_DATABASE_PATH", .databasePath),
            ("EXPORT_CLEANUP_DATABASE_FILE_NAME", .databasePath),
            ("EXPORT_CLEANUP_INTERVAL", .intervalSeconds),
            ("EXPORT_CLEANUP_RETENTION", .retentionHours),
            ("EXPORT_CLEANUP_LOGLEVEL", .logLevel),
            ("EXPORT_CLEANUP_DRYRUN", .dryRun),
            ("EXPORT_CLEANUP_BUSY_TIMEOUT", .busyTimeoutMilliseconds),
            ("EXPORT_CLEANUP_", nil),
            ("EXPORT_CLEANUP_CONFIG", nil),
            ("EXPORT_STORAGE", nil),
            ("EXPORT_CLEANUP_BUSY_TIMEOUT_MSEC", .busyTimeoutMilliseconds),
            ("FOO", nil),
            ("", nil),
        ])
        func suggestions(unknown: String, expected: SettingKey?) {
            #expect(SettingKey.suggestion(for: unknown) == expected)
        }

        @Test func unknownFlagKeyIsAnError() throws {
            let error = try #require(captureError {
                try CleanupSettings.resolve(flags: ["EXPORT_CLEANUP_INTERVAL": "5"], environment: [:], file: nil)
            })
            #expect(error.code == .unknownKey)
            #expect(error.key == "EXPORT_CLEANUP_INTERVAL")
            #expect(error.message.contains("did you mean EXPORT_CLEANUP_INTERVAL_SECONDS?"), "\(error)")
        }

        // MARK: Environment

        @Test func unrelatedEnvironmentVariablesAreIgnored() throws {
            let settings = try CleanupSettings.resolve(
                flags: [:],
                environment: [
                    "PATH": "/usr/bin", "HOME": "/var/empty", "EXPORT_OTHER": "x", "EXPORT_STORAGE_PATHS": "x",
                    "EXPORT_STORAGE": "x", "export_cleanup_batch_size": "0", "XEXPORT_CLEANUP_BATCH_SIZE": "0",
                    "EXPORT_CLEANUPBATCH": "0",
                ],
                file: nil)
            #expect(settings == CleanupSettings())
        }

        @Test func storagePathComesFromTheEnvironment() throws {
            let settings = try CleanupSettings.resolve(flags: [:], environment: ["EXPORT_STORAGE_PATH": "/data"], file: nil)
            #expect(settings.storagePath == "/data")
            #expect(settings.source(of: .storagePath) == .environment(variable: "EXPORT_STORAGE_PATH"))
        }

        @Test(arguments: ["EXPORT_CLEANUP_RETENTION_HOUR", "EXPORT_CLEANUP_", "EXPORT_CLEANUP_CONFIG", "EXPORT_CLEANUP_X"])
        func unknownPrefixedEnvironmentVariableIsAnError(variable: String) throws {
            let error = try #require(captureError {
                try CleanupSettings.resolve(flags: [:], environment: [variable: "1", "PATH": "/bin"], file: nil)
            })
            #expect(error.code == .unknownKey)
            #expect(error.key == variable)
            #expect(error.path == nil)
            #expect(error.source == .environment(variable: variable))
            #expect(error.description.hasPrefix("environment variable \(variable): unknown setting"), "\(error)")
        }

        @Test func unknownEnvironmentVariableSuggestion() throws {
            let error = try #require(captureError {
                try CleanupSettings.resolve(flags: [:], environment: ["EXPORT_CLEANUP_RETENTION_HOUR": "1"], file: nil)
            })
            #expect(error.message.contains("did you mean EXPORT_CLEANUP_RETENTION_HOURS?"), "\(error)")
        }

        // MARK: Provenance and printing

        @Test func sourceDescriptions() {
            #expect(SettingsSource.default.description == "default")
            #expect(SettingsSource.file(path: "/a.conf", line: 3).description == "/a.conf:3")
            #expect(SettingsSource.environment(variable: "EXPORT_STORAGE_PATH").description == "environment variable EXPORT_STORAGE_PATH")
            #expect(SettingsSource.flag(key: "EXPORT_CLEANUP_DRY_RUN").description == "flag --dry-run")
        }

        @Test func describeIsAValidConfigurationWithTheSameValues() throws {
            let settings = try CleanupSettings.resolve(
                flags: ["EXPORT_CLEANUP_DRY_RUN": "on"],
                environment: ["EXPORT_STORAGE_PATH": " /srv/with \"quotes\" and \\ # ; 'x' "],
                file: (Self.path, "EXPORT_CLEANUP_RETENTION_HOURS=0.75\nEXPORT_CLEANUP_DATABASE=/var/lib/é.db"))
            let text = settings.describe()
            #expect(text.contains("# flag --dry-run\nEXPORT_CLEANUP_DRY_RUN=true"), "\(text)")
            #expect(text.contains("# \(Self.path):1\nEXPORT_CLEANUP_RETENTION_HOURS=0.75"), "\(text)")
            #expect(text.contains("# default\nEXPORT_CLEANUP_BATCH_SIZE=2000"), "\(text)")
            let reread = try resolveFile(text)
            #expect(reread.hasSameValues(as: settings))
            #expect(reread != settings)  // Same values, other sources.
        }

        @Test func equalityIncludesSourcesAndHasSameValuesDoesNot() throws {
            let fromFile = try resolveFile("EXPORT_CLEANUP_BATCH_SIZE=2000")
            #expect(fromFile != CleanupSettings())
            #expect(fromFile.hasSameValues(as: CleanupSettings()))
            #expect(!fromFile.hasSameValues(as: CleanupSettings(batchSize: 2001)))
        }

        @Test func logLevelsAreOrdered() {
            #expect(CleanupSettings.LogLevel.allCases.sorted() == CleanupSettings.LogLevel.allCases)
            #expect(CleanupSettings.LogLevel.trace < .critical)
            #expect(!(CleanupSettings.LogLevel.info < .debug))
        }
    }
}
