import ExportCleanupDemo
import Foundation
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `index`, `stats` and `path` read their settings as `sweep` and `run` do: flag > environment > `--config` file >
/// default, with the same validation and exit 78.
@Suite("every command through one settings loader")
struct SettingsSourcesTests {
    let tmp = TemporaryDirectory()

    /// Writes a configuration file and returns its path.
    func config(_ lines: String...) -> String {
        let path = tmp.sub("export-cleanup.conf")
        _ = FileManager.default.createFile(atPath: path, contents: Data((lines.joined(separator: "\n") + "\n").utf8))
        return path
    }

    /// A storage directory with `files` conforming export files.
    func storage(_ name: String, files: Int) -> String {
        let path = tmp.sub(name)
        mkdir(path, 0o750)
        for index in 0..<files {
            _ = FileManager.default.createFile(atPath: path + "/hotels_exp_\(index)_20231116_143022.csv", contents: Data(count: 10))
        }
        return path
    }

    func totalFiles(_ result: Binary.Result) throws -> Int? {
        let json = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        return json?["total_files"] as? Int
    }

    @Test("stats: the storage from --config, then the environment over it, then --storage over both")
    func statsPrecedence() throws {
        let fromFile = storage("file", files: 1), fromEnvironment = storage("environment", files: 2), fromFlag = storage("flag", files: 3)
        let conf = config("EXPORT_STORAGE_PATH=\(fromFile)")
        let file = try Binary.run(["stats", "--config", conf, "--json"])
        #expect(file.status == 0, "\(file.stderr)")
        #expect(try totalFiles(file) == 1)
        let environment = try Binary.run(["stats", "--config", conf, "--json"], environment: ["EXPORT_STORAGE_PATH": fromEnvironment])
        #expect(try totalFiles(environment) == 2)
        let flag = try Binary.run(["stats", "--config", conf, "--storage", fromFlag, "--json"],
                                  environment: ["EXPORT_STORAGE_PATH": fromEnvironment])
        #expect(try totalFiles(flag) == 3)
    }

    @Test("path: the storage directory from --config")
    func pathFromConfig() throws {
        let conf = config("# where exports go", "EXPORT_STORAGE_PATH=\"\(tmp.sub("exports"))\"")
        let result = try Binary.run([
            "path", "--config", conf, "--job-id", "exp_a1b2c3d4e5f6", "--type", "hotels", "--format", "csv",
            "--timestamp", "2023-11-16T14:30:22Z",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == tmp.sub("exports/hotels_exp_a1b2c3d4e5f6_20231116_143022.csv") + "\n")
    }

    @Test("index: the database from --config; a bad busy timeout there exits 78 naming the file, line and key")
    func indexFromConfig() throws {
        let database = tmp.sub("app.db")
        _ = try ApplicationDatabase(creatingAt: database)
        let good = try Binary.run(["index", "--config", config("EXPORT_CLEANUP_DATABASE=\(database)", "EXPORT_CLEANUP_BUSY_TIMEOUT_MS=200")])
        #expect(good.status == 0, "\(good.stderr)")
        #expect(good.stdout.contains("optional indexes for '\(database)'"))

        let conf = config("EXPORT_CLEANUP_DATABASE=\(database)", "EXPORT_CLEANUP_BUSY_TIMEOUT_MS=soon")
        let bad = try Binary.run(["index", "--config", conf])
        #expect(bad.status == 78)
        #expect(bad.stderr.contains("\(conf):2: EXPORT_CLEANUP_BUSY_TIMEOUT_MS: invalid value \"soon\""), "\(bad.stderr)")
        let badFlag = try Binary.run(["index", "--db", database, "--busy-timeout-ms", "forever", "--config", config()])
        #expect(badFlag.status == 78)
        #expect(badFlag.stderr.contains("flag --busy-timeout-ms (EXPORT_CLEANUP_BUSY_TIMEOUT_MS): invalid value \"forever\""), "\(badFlag.stderr)")
    }

    @Test("a missing --config file, an unknown EXPORT_CLEANUP_ variable or a bad value exits 78 for every command",
          arguments: [["index"], ["stats"], ["path", "--job-id", "exp_1", "--type", "hotels", "--format", "csv"]])
    func configurationErrors(command: [String]) throws {
        let missing = try Binary.run(command + ["--config", tmp.sub("nope.conf")])
        #expect(missing.status == 78)
        #expect(missing.stderr.contains(tmp.sub("nope.conf")))

        let conf = config()
        let unknown = try Binary.run(command + ["--config", conf], environment: ["EXPORT_CLEANUP_RETENTION": "1"])
        #expect(unknown.status == 78)
        #expect(unknown.stderr.contains("environment variable EXPORT_CLEANUP_RETENTION: unknown setting"), "\(unknown.stderr)")

        let empty = try Binary.run(command + ["--config", config("EXPORT_STORAGE_PATH=")])
        #expect(empty.status == 78)
        #expect(empty.stderr.contains("EXPORT_STORAGE_PATH"), "\(empty.stderr)")
        #expect(!FileManager.default.fileExists(atPath: tmp.sub("exports")), "nothing is created on a configuration error")
    }
}
