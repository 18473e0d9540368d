import ExportCleanupConfig
import Foundation
import TestSupport
import Testing

extension ConfigurationTests {
    @Suite struct LoadingTests {
        /// `config/export-cleanup.conf` of this package.
        static let sampleURL = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("config/export-cleanup.conf")

        // MARK: The sample file

        @Test func sampleFileResolvesToTheDefaults() throws {
            let contents = try String(contentsOf: Self.sampleURL, encoding: .utf8)
            #expect(try ConfigFile.parse(contents: contents, path: Self.sampleURL.path).isEmpty)
            let settings = try CleanupSettings.load(
                flags: [:], environment: [:], configPath: Self.sampleURL.path, required: true)
            #expect(settings == CleanupSettings())
        }

        @Test func sampleFileDocumentsEveryKeyWithItsDefault() throws {
            let contents = try String(contentsOf: Self.sampleURL, encoding: .utf8)
            let lines = contents.split(separator: "\n", omittingEmptySubsequences: false)
            for key in SettingKey.allCases {
                let matches = lines.filter { $0.hasPrefix("#\(key.rawValue)=") }
                #expect(matches == ["#\(key.rawValue)=\(key.defaultValueText)"], "\(key)")
            }
            // Uncommented, the documented defaults are valid and are the defaults.
            let uncommented = lines.map { line in
                SettingKey.allCases.contains { line.hasPrefix("#\($0.rawValue)=") } ? line.dropFirst() : line
            }.joined(separator: "\n")
            let settings = try resolveFile(uncommented, path: "sample")
            #expect(settings.hasSameValues(as: CleanupSettings()))
            for key in SettingKey.allCases {
                guard case .file(path: "sample", line: _) = settings.source(of: key) else {
                    Issue.record("\(key) not set by the uncommented sample")
                    continue
                }
            }
        }

        // MARK: Reading

        @Test func loadsAFileWithEnvironmentAndFlags() throws {
            let directory = TemporaryDirectory()
            defer { directory.remove() }
            let file = URL(fileURLWithPath: directory.sub("export-cleanup.conf"))
            try Data("EXPORT_CLEANUP_BATCH_SIZE=42\nEXPORT_CLEANUP_LOG_LEVEL=debug\n".utf8).write(to: file)
            let settings = try CleanupSettings.load(
                flags: ["EXPORT_CLEANUP_LOG_LEVEL": "error"], environment: ["EXPORT_CLEANUP_DRY_RUN": "1"],
                configPath: file.path, required: true)
            #expect(settings.batchSize == 42)
            #expect(settings.source(of: .batchSize) == .file(path: file.path, line: 1))
            #expect(settings.logLevel == .error)
            #expect(settings.dryRun)
        }

        @Test func missingDefaultFileIsSkipped() throws {
            let directory = TemporaryDirectory()
            defer { directory.remove() }
            let settings = try CleanupSettings.load(
                flags: [:], environment: ["EXPORT_CLEANUP_BATCH_SIZE": "7"],
                configPath: directory.sub("absent.conf"), required: false)
            #expect(settings.batchSize == 7)
        }

        @Test func noConfigPathReadsNoFile() throws {
            let settings = try CleanupSettings.load(flags: [:], environment: [:], configPath: nil, required: true)
            #expect(settings == CleanupSettings())
        }

        @Test func missingRequiredFileIsAnError() throws {
            let directory = TemporaryDirectory()
            defer { directory.remove() }
            let path = directory.sub("absent.conf")
            let error = try #require(captureError {
                try CleanupSettings.load(flags: [:], environment: [:], configPath: path, required: true)
            })
            #expect(error.code == .unreadableFile)
            #expect(error.path == path)
            #expect(error.line == nil)
            #expect(error.message.contains("No such file or directory (errno \(ENOENT))"), "\(error)")
            #expect(error.description.hasPrefix("\(path): cannot read the configuration file"), "\(error)")
        }

        @Test(arguments: [false, true])
        func directoryIsAnErrorEvenWhenOptional(required: Bool) throws {
            let directory = TemporaryDirectory()
            defer { directory.remove() }
            let error = try #require(captureError {
                try CleanupSettings.load(flags: [:], environment: [:], configPath: directory.path, required: required)
            })
            #expect(error.code == .unreadableFile)
            #expect(error.path == directory.path)
            #expect(error.message.contains("Is a directory"), "\(error)")
        }

        @Test(arguments: [false, true])
        func fileWithoutPermissionIsAnError(required: Bool) throws {
            let directory = TemporaryDirectory()
            defer { directory.remove() }
            let file = URL(fileURLWithPath: directory.sub("secret.conf"))
            try Data("EXPORT_CLEANUP_BATCH_SIZE=1\n".utf8).write(to: file)
            try FileManager.default.setAttributes([.posixPermissions: 0o000], ofItemAtPath: file.path)
            if geteuid() == 0 {
                // Root reads it anyway; the file is then read normally.
                let settings = try CleanupSettings.load(flags: [:], environment: [:], configPath: file.path, required: required)
                #expect(settings.batchSize == 1)
                return
            }
            let error = try #require(captureError {
                try CleanupSettings.load(flags: [:], environment: [:], configPath: file.path, required: required)
            })
            #expect(error.code == .unreadableFile)
            #expect(error.message.contains("Permission denied"), "\(error)")
        }

        @Test func invalidUTF8IsASyntaxErrorOnItsLine() throws {
            let directory = TemporaryDirectory()
            defer { directory.remove() }
            let file = URL(fileURLWithPath: directory.sub("latin1.conf"))
            try Data("# ok\nEXPORT_STORAGE_PATH=/srv\nEXPORT_CLEANUP_DATABASE=/srv/caf".utf8 + [0xE9] + Data(".db\n".utf8))
                .write(to: file)
            let error = try #require(captureError {
                try CleanupSettings.load(flags: [:], environment: [:], configPath: file.path, required: true)
            })
            #expect(error.code == .syntax)
            #expect(error.path == file.path)
            #expect(error.line == 3)
            #expect(error.message.contains("UTF-8"))
        }

        @Test func oversizedFileIsRefused() throws {
            let directory = TemporaryDirectory()
            defer { directory.remove() }
            let file = URL(fileURLWithPath: directory.sub("huge.conf"))
            try Data(repeating: UInt8(ascii: "#"), count: CleanupSettings.maximumConfigFileSize + 1).write(to: file)
            let error = try #require(captureError {
                try CleanupSettings.load(flags: [:], environment: [:], configPath: file.path, required: true)
            })
            #expect(error.code == .unreadableFile)
            #expect(error.message.contains("larger than"))
        }

        @Test func errorsInALoadedFileNameTheFile() throws {
            let directory = TemporaryDirectory()
            defer { directory.remove() }
            let file = URL(fileURLWithPath: directory.sub("bad.conf"))
            try Data("EXPORT_CLEANUP_BATCH_SIZE=1\r\nEXPORT_CLEANUP_FAILED_AGE_HOURS=0\r\n".utf8).write(to: file)
            let error = try #require(captureError {
                try CleanupSettings.load(flags: [:], environment: [:], configPath: file.path, required: false)
            })
            #expect(error.code == .invalidValue)
            #expect(error.description.hasPrefix("\(file.path):2: EXPORT_CLEANUP_FAILED_AGE_HOURS: invalid value \"0\""))
        }
    }
}
