import ExportStorage
import Foundation
import TestSupport
import Testing

@Suite("Naming convention")
struct NamingTests {
    let stamp = Date(timeIntervalSince1970: 1_700_145_022)  // 2023-11-16T14:30:22Z

    @Test("formats the documented examples", arguments: [
        ("hotels", "exp_a1b2c3d4e5f6", ExportFormat.csv, "hotels_exp_a1b2c3d4e5f6_20231116_143022.csv"),
        ("mappings", "exp_x9y8z7w6v5u4", .json, "mappings_exp_x9y8z7w6v5u4_20231116_143022.json"),
        ("supplier_summary", "exp_m5n4o3p2q1r0", .xlsx, "supplier_summary_exp_m5n4o3p2q1r0_20231116_143022.xlsx"),
        ("hotels", "a1b2c3d4", .csv, "hotels_a1b2c3d4_20231116_143022.csv"),
        ("hotel-rooms", "exp_A1-b2", .json, "hotel-rooms_exp_A1-b2_20231116_143022.json"),
    ])
    func formats(type: String, id: String, format: ExportFormat, expected: String) throws {
        let name = try ExportFileName(exportType: type, jobID: id, timestamp: stamp, format: format)
        #expect(name.fileName == expected)
        let parsed = try #require(ExportFileName.parse(expected))
        #expect(parsed == name)
        #expect(parsed.exportType == type)
        #expect(parsed.jobID == id)
        #expect(parsed.format == format)
        #expect(parsed.timestamp == stamp)
    }

    @Test("drops fractions of a second and formats in UTC whatever TZ says")
    func utcAndFraction() throws {
        let name = try ExportFileName(exportType: "hotels", jobID: "exp_1", timestamp: Date(timeIntervalSince1970: 86_399.999), format: .csv)
        #expect(name.fileName == "hotels_exp_1_19700101_235959.csv")
    }

    @Test("reads formats as the application names them")
    func formatAliases() throws {
        #expect(try ExportFormat(parsing: "excel") == .xlsx)
        #expect(try ExportFormat(parsing: "XLSX") == .xlsx)
        #expect(try ExportFormat(parsing: "Json") == .json)
        let error = #expect(throws: ExportStorageError.self) { try ExportFormat(parsing: "pdf") }
        #expect(error?.code == .invalidFormat)
        #expect(error?.message.contains("csv, json, xlsx") == true)
    }

    @Test("rejects bad export types with a message naming the rule", arguments: [
        "", "hotels!", "ho tels", "_hotels", "hotels_", "supplier__summary", "héllo", "a/b", "hotels.csv",
        String(repeating: "a", count: 51),
    ])
    func badTypes(type: String) {
        let error = #expect(throws: ExportStorageError.self) {
            try ExportFileName(exportType: type, jobID: "exp_1", timestamp: stamp, format: .csv)
        }
        #expect(error?.code == .invalidExportType)
        #expect(error?.message.contains("invalid export type") == true)
    }

    @Test("rejects bad job ids", arguments: ["", "exp_a_b", "exp/1", "../x", "exp_", "_exp", "exp 1", "exp\n1", String(repeating: "1", count: 51)])
    func badIDs(id: String) {
        let error = #expect(throws: ExportStorageError.self) {
            try ExportFileName(exportType: "hotels", jobID: id, timestamp: stamp, format: .csv)
        }
        #expect(error?.code == .invalidJobID)
        #expect(error?.message.contains("job id") == true)
    }

    @Test("refuses a one-word id after a multi-word type, saying how it would read back")
    func ambiguous() {
        let error = #expect(throws: ExportStorageError.self) {
            try ExportFileName(exportType: "supplier_summary", jobID: "a1b2c3", timestamp: stamp, format: .csv)
        }
        #expect(error?.code == .ambiguousName)
        #expect(error?.message.contains("type 'supplier', job id 'summary_a1b2c3'") == true)
    }

    @Test("refuses timestamps that do not fit YYYYMMDD_HHMMSS")
    func badTimestamps() {
        for date in [Date(timeIntervalSince1970: -1), Date(timeIntervalSince1970: 253_402_300_800), Date(timeIntervalSince1970: .nan)] {
            let error = #expect(throws: ExportStorageError.self) {
                try ExportFileName(exportType: "hotels", jobID: "exp_1", timestamp: date, format: .csv)
            }
            #expect(error?.code == .invalidTimestamp)
        }
    }

    @Test("parse rejects names that do not follow the rule", arguments: [
        "hotels_exp_1_20231116_143022.pdf", "hotels_exp_1_20231116_143022.CSV", "hotels_exp_1_20231116_143022",
        "hotels_20231116_143022.csv", "_exp_1_20231116_143022.csv", "hotels__1_20231116_143022.csv",
        "hotels_exp_1_20231316_143022.csv", "hotels_exp_1_20230230_143022.csv", "hotels_exp_1_20231116_246022.csv",
        "hotels_exp_1_2023111_6143022.csv", "hotels_exp_1_19691231_235959.csv", "hotels_exp_1_20231116-143022.csv",
        "hotels_exp_1_20231116_143022.csv.tmp", "README.md", "", ".csv", "hötels_exp_1_20231116_143022.csv",
    ])
    func parseRejects(name: String) {
        #expect(ExportFileName.parse(name) == nil)
    }

    @Test("parse accepts leap days and reads ids as the last two words")
    func parseEdges() throws {
        let leap = try #require(ExportFileName.parse("hotels_exp_1_20240229_000000.json"))
        #expect(leap.secondsSinceEpoch == 1_709_164_800)
        let long = try #require(ExportFileName.parse("a_b_c_d_20240229_000000.json"))
        #expect(long.exportType == "a_b")
        #expect(long.jobID == "c_d")
    }
}
