import ExportCleanupConfig
import Foundation
import TestSupport
import Testing

@Suite("manual pages and completion scripts from the code")
struct ManualTests {
    @Test("export-cleanup.conf(5) documents every setting key with its flag, default and allowed values; so do the README and the sample")
    func confManualCoversEveryKey() throws {
        let result = try Binary.run(["generate-conf-manual", "--date", "2025-01-02"])
        #expect(result.status == 0, "\(result.stderr)")
        let page = result.stdout
        #expect(page.hasPrefix(".TH EXPORT-CLEANUP.CONF 5 \"2025\\-01\\-02\""), "\(page.prefix(80))")
        let readme = try String(contentsOfFile: repositoryRoot + "/README.md", encoding: .utf8)
        let sample = try String(contentsOfFile: repositoryRoot + "/config/export-cleanup.conf", encoding: .utf8)
        for key in SettingKey.allCases {
            let escapedFlag = key.flagName.replacingOccurrences(of: "-", with: "\\-")
            #expect(page.contains(".BI \(key.rawValue)= value\n"), "\(key)")
            #expect(page.contains("Flag: \\fB\(escapedFlag)\\fR."), "\(key)")
            #expect(page.contains(key.summary.replacingOccurrences(of: "-", with: "\\-")), "\(key)")
            #expect(readme.contains("| `\(key.rawValue)` | `\(key.flagName)` |"), "\(key) in the README's table")
            #expect(sample.contains("#\(key.rawValue)="), "\(key) in the sample configuration")
        }
        // groff (man-db's) reads it without a warning.
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/groff") {
            let file = TemporaryDirectory()
            let path = file.sub("export-cleanup.conf.5")
            try page.write(toFile: path, atomically: true, encoding: .utf8)
            let groff = try runProcess("/usr/bin/groff", ["-man", "-Tutf8", "-ww", "-z", path])
            #expect(groff.status == 0 && groff.stderr.isEmpty, "\(groff.stderr)")
        }
    }

    @Test("completion scripts for bash, zsh and fish name the subcommands and flags, not the hidden generator", arguments: ["bash", "zsh", "fish"])
    func completions(shell: String) throws {
        let result = try Binary.run(["--generate-completion-script", shell])
        #expect(result.status == 0, "\(result.stderr)")
        for word in ["status", "sweep", "run", "metrics-file", "state-directory", "retention-hours"] {
            #expect(result.stdout.contains(word), "\(shell): \(word)")
        }
        #expect(!result.stdout.contains("generate-conf-manual"), "\(shell)")
    }

    @Test("the help the generate-manual plugin reads has every subcommand and the settings flags")
    func dumpHelp() throws {
        let result = try Binary.run(["--experimental-dump-help"])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let command = try #require(object["command"] as? [String: Any])
        let subcommands = try #require(command["subcommands"] as? [[String: Any]])
        let names = Set(subcommands.compactMap { $0["commandName"] as? String })
        #expect(names.isSuperset(of: ["run", "sweep", "status", "index", "demo", "stats", "path"]), "\(names)")
        #expect(result.stdout.contains("metrics-file") && result.stdout.contains("state-directory"))
    }
}
