import Foundation
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite("path and stats commands")
struct StorageCommandsTests {
    @Test("path prints the file to write and creates the directory 0750")
    func path() throws {
        let tmp = TemporaryDirectory()
        let result = try Binary.run([
            "path", "--storage", tmp.sub("x"), "--job-id", "exp_a1b2c3d4e5f6", "--type", "hotels", "--format", "csv",
            "--timestamp", "2023-11-16T14:30:22Z",
        ])
        #expect(result.status == 0)
        #expect(result.stdout == tmp.sub("x/hotels_exp_a1b2c3d4e5f6_20231116_143022.csv") + "\n")
        var info = stat()
        #expect(stat(tmp.sub("x"), &info) == 0 && info.st_mode & 0o777 == 0o750)
    }

    @Test("path takes the storage from EXPORT_STORAGE_PATH, maps excel to xlsx, and converts offsets to UTC")
    func pathEnvironment() throws {
        let tmp = TemporaryDirectory()
        let result = try Binary.run(
            ["path", "--job-id", "exp_1", "--type", "supplier_summary", "--format", "excel", "--timestamp", "2023-11-16T23:30:00-02:00"],
            environment: ["EXPORT_STORAGE_PATH": tmp.sub("env")])
        #expect(result.stdout == tmp.sub("env/supplier_summary_exp_1_20231117_013000.xlsx") + "\n")
    }

    @Test("bad input exits 64 with a message that says what is allowed")
    func pathErrors() throws {
        let tmp = TemporaryDirectory()
        let base = ["path", "--storage", tmp.sub("x"), "--timestamp", "2023-11-16T14:30:22Z"]
        let badFormat = try Binary.run(base + ["--job-id", "exp_1", "--type", "hotels", "--format", "pdf"])
        #expect(badFormat.status == 64)
        #expect(badFormat.stderr.contains("unknown export format 'pdf': use one of csv, json, xlsx"))
        let badID = try Binary.run(base + ["--job-id", "../etc", "--type", "hotels", "--format", "csv"])
        #expect(badID.status == 64)
        #expect(badID.stderr.contains("invalid job id '../etc'"))
        let badTime = try Binary.run(["path", "--storage", tmp.sub("x"), "--job-id", "exp_1", "--type", "hotels", "--format", "csv", "--timestamp", "yesterday"])
        #expect(badTime.status == 64)
        #expect(badTime.stderr.contains("--timestamp 'yesterday' is not ISO 8601"))
    }

    @Test("stats --json has the documented keys; a missing directory exits 66 naming it")
    func stats() throws {
        let tmp = TemporaryDirectory()
        mkdir(tmp.sub("exports"), 0o750)
        _ = FileManager.default.createFile(atPath: tmp.sub("exports/hotels_exp_1_20231116_143022.csv"), contents: Data(count: 2048))
        _ = FileManager.default.createFile(atPath: tmp.sub("exports/junk.txt"), contents: Data(count: 1))
        let result = try Binary.run(["stats", "--storage", tmp.sub("exports"), "--json"])
        #expect(result.status == 0)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(json["total_files"] as? Int == 2)
        #expect(json["total_size_bytes"] as? Int == 2049)
        #expect(json["total_size_mb"] as? Double == 0)
        #expect((json["oldest_file"] as? [String: Any])?["name"] != nil)
        #expect((json["newest_file"] as? [String: Any])?["name"] != nil)
        #expect(json["nonconforming_files"] as? Int == 1)
        #expect((json["files_by_export_type"] as? [String: Int]) == ["hotels": 1])

        let table = try Binary.run(["stats", "--storage", tmp.sub("exports")])
        #expect(table.stdout.contains("files             2"))

        let missing = try Binary.run(["stats", "--storage", tmp.sub("nope")])
        #expect(missing.status == 66)
        #expect(missing.stderr.contains(tmp.sub("nope")))
    }

    @Test("every command has help with an example")
    func help() throws {
        for command in ["path", "stats"] {
            let result = try Binary.run([command, "--help"])
            #expect(result.status == 0)
            #expect(result.stdout.contains("export-cleanup \(command)"))
        }
    }
}
