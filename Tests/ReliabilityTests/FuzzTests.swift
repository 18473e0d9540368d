import ExportCleanup
import ExportCleanupConfig
import ExportStorage
import Foundation
import PropertyBased
import TestSupport
import Testing

extension Reliability {
    /// Property-based tests (x-sheep/swift-property-based) of the three parsers: thousands of inputs each, no
    /// crash, and parse/format round trips. A failure prints the input and a `.fixedSeed(...)` to replay it.
    @Suite struct FuzzTests {
        static let count = 3_000

        // MARK: Stored datetimes

        /// 0002-01-01 to 9998-12-31: room for any ±14 h offset on either side.
        static let earliest = StoredDateTime.parse(text: "0002-01-01 00:00:00")!.microseconds
        static let latest = StoredDateTime.parse(text: "9998-12-31 23:59:59.999999")!.microseconds

        static func offsetText(minutes: Int) -> String {
            let sign = minutes < 0 ? "-" : "+"
            let hours = String(abs(minutes) / 60), rest = String(abs(minutes) % 60)
            return sign + String(repeating: "0", count: 2 - hours.count) + hours + ":" + String(repeating: "0", count: 2 - rest.count) + rest
        }

        @Test("datetimes: format then parse gives the instant back, in every accepted spelling")
        func datetimeRoundTrip() async {
            await propertyCheck(count: Self.count, input: Gen.int64(in: Self.earliest...Self.latest), Gen.int(in: 0...4),
                                Gen.int(in: -(14 * 60)...(14 * 60))) { micros, spelling, offsetMinutes in
                let instant = UTCInstant(microseconds: micros)
                let text: String
                switch spelling {
                case 0: text = instant.databaseText
                case 1: text = instant.databaseText.replacingOccurrences(of: " ", with: "T")
                case 2: text = instant.databaseText + "Z"
                case 3: text = instant.databaseText.replacingOccurrences(of: " ", with: "T") + "+00:00"
                default:
                    // The same instant written in local time with its offset.
                    let local = instant.adding(microseconds: Int64(offsetMinutes) * 60_000_000)
                    text = local.databaseText + Self.offsetText(minutes: offsetMinutes)
                }
                #expect(StoredDateTime.parse(text: text) == instant, "\(text)")
                #expect(StoredDateTime.parse(.text(text)) == .success(instant))
            }
        }

        static let datetimeBytes = Array("0123456789-:. TtZz+.\u{0}x".utf8) + [0xC3, 0xA9, 0xFF]

        @Test("datetimes: mutated and random text never crashes the parser, and whatever parses formats back to itself")
        func datetimeMutations() async {
            await propertyCheck(count: Self.count, input: Gen.int64(in: Self.earliest...Self.latest),
                                Gen.int(in: 0...2), Gen.int(in: 0...40), pick(Self.datetimeBytes),
                                Gen.uint8().array(of: 0...44)) { micros, edit, position, byte, noise in
                var bytes = Array(UTCInstant(microseconds: micros).databaseText.utf8)
                let at = min(position, bytes.count)
                switch edit {
                case 0: if at < bytes.count { bytes[at] = byte }
                case 1: bytes.insert(byte, at: at)
                default: if at < bytes.count { bytes.remove(at: at) }
                }
                for candidate in [String(decoding: bytes, as: UTF8.self), String(decoding: noise, as: UTF8.self)] {
                    if let parsed = StoredDateTime.parse(text: candidate) {
                        #expect(StoredDateTime.parse(text: parsed.databaseText) == parsed, "\(candidate.debugDescription)")
                    }
                }
            }
        }

        // MARK: Export file names

        static let wordChars = Array("abcXYZ019-")
        static let word = pick(wordChars).array(of: 1...6).map { String($0) }
        static let names = pick(["hotels_", "exp_", "a1", "_", "__", "-", ".", ".csv", ".json", ".xlsx", ".CSV",
                                           "_20231116_143022", "_19700101_000000", "_99991231_235959", "_20230229_120000",
                                           "_20231116_246000", "é", "e\u{301}", "\n", "/", "\u{0}", "1", "x"])
            .array(of: 0...8).map { $0.joined() }

        @Test("file names: every valid name parses back to its parts")
        func fileNameRoundTrip() async {
            await propertyCheck(count: Self.count, input: Self.word.array(of: 1...3), Self.word.array(of: 1...2),
                                Gen.int64(in: 0...253_402_300_799), pick([ExportFormat.csv, .json, .xlsx])) { typeWords, idWords, seconds, format in
                let type = typeWords.joined(separator: "_"), id = idWords.joined(separator: "_")
                // Ambiguous combinations are refused at creation; they are not names the application makes.
                guard let name = try? ExportFileName(exportType: type, jobID: id, secondsSinceEpoch: seconds, format: format) else {
                    #expect(idWords.count == 1 && typeWords.count > 1, "\(type) \(id) refused")
                    return
                }
                #expect(ExportFileName.parse(name.fileName) == name, "\(name.fileName)")
                let record = RecordName(exportType: type, jobID: id, format: format.rawValue)
                #expect((try? RecordPathRule.checkName(name.fileName, record: record).get()) != nil, "\(name.fileName)")
                var other = record
                other.jobID += "x"
                #expect((try? RecordPathRule.checkName(name.fileName, record: other).get()) == nil, "\(name.fileName) claimed by \(id)x")
                other = record
                other.format = format == .csv ? "json" : "csv"
                #expect((try? RecordPathRule.checkName(name.fileName, record: other).get()) == nil, "\(name.fileName) claimed as \(other.format)")
            }
        }

        @Test("file names and record paths: random text never crashes; what parses is canonical; what the path rule accepts is a plain entry carrying the id")
        func fileNameAndPathFuzz() async {
            let rule = RecordPathRule(storagePath: "/srv/app/exports", absolutePaths: ["/srv/app/exports", "/data/exports"])
            let parts = pick(["/", "/srv/app/exports", "/srv/app/exports_other", "/data/exports", "exports", "..", ".", "//",
                                         "\n", "é", "hotels_exp_a1_20231116_143022.csv", "hotels_a1_20231116_143022.csv",
                                         "x_exp_a1_20231116_143022.xlsx", "\u{FF0F}", "\u{0}"])
            await propertyCheck(count: Self.count, input: Self.names, parts.array(of: 0...6),
                                pick(["exp_a1", "a1", "exp_\u{E9}1", "", "1"])) { name, pathParts, id in
                if let parsed = ExportFileName.parse(name) {
                    #expect(parsed.fileName == name, "\(name.debugDescription)")
                }
                let path = pathParts.joined() + (pathParts.count % 2 == 0 ? "/" + name : "")
                if case .success(let entry) = rule.entryName(forRecordPath: path, record: RecordName(exportType: "hotels", jobID: id, format: "csv")) {
                    let components = path.split(separator: "/").map(String.init)
                    #expect(!entry.isEmpty && !entry.contains("/") && entry != "." && entry != "..", "\(path.debugDescription)")
                    #expect(components.last == entry && !components.contains(".."), "\(path.debugDescription)")
                    #expect(!entry.utf8.contains(0))
                    #expect(Array(entry.utf8).starts(with: Array("hotels_\(id)_".utf8)) && entry.hasSuffix(".csv"), "\(path.debugDescription) for \(id)")
                }
            }
        }

        // MARK: Configuration

        static let valueScalars = pick(Array(" \t#;=\"'\\$`{}%abcXYZ019é😀\u{301}\u{FEFF}"))
            .array(of: 0...20).map { String($0) }
        static let keys = pick(Array("ABCXYZ019_")).array(of: 0...8).map { "K" + String($0) }

        @Test("configuration: any KEY=\"value\" file (blank lines, comments, CRLF) parses back to the same entries")
        func configRoundTrip() async {
            await propertyCheck(count: Self.count, input: zip(Self.keys, Self.valueScalars, Gen.int(in: 0...3)).array(of: 0...6),
                                Gen.bool) { entries, crlf in
                var seen = Set<String>()
                var lines: [String] = []
                var expected: [ConfigEntry] = []
                for (key, value, decoration) in entries where seen.insert(key).inserted {
                    if decoration == 1 { lines.append("# a comment") }
                    if decoration == 2 { lines.append("") }
                    let quoted = "\"" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
                    lines.append((decoration == 3 ? "  \(key) =  " : "\(key)=") + quoted)
                    expected.append(ConfigEntry(key: key, value: value, line: lines.count))
                }
                let text = lines.joined(separator: crlf ? "\r\n" : "\n")
                do {
                    #expect(try ConfigFile.parse(contents: text, path: "fuzz.conf") == expected, "\(text.debugDescription)")
                } catch {
                    Issue.record("\(text.debugDescription): \(error)")
                }
            }
        }

        static let settingValues = pick(["0", "1", "-1", "24", "0.5", "1e400", "-0", "nan", "inf", "-inf", "0x10",
                                                   "9223372036854775807", "9223372036854775808", "1e18", "  5 ", "1_000",
                                                   "\u{663}", "\u{FF11}", "", "true", "yes", "debug", "/tmp/x", "\u{0}", "é"])

        @Test("configuration: any value for any setting from the environment resolves or fails with an error naming the key; resolved values describe and re-read the same")
        func settingsFuzz() async {
            await propertyCheck(count: Self.count, input: zip(pick(SettingKey.allCases), Self.settingValues).array(of: 1...4)) { pairs in
                var environment: [String: String] = [:]
                for (key, value) in pairs { environment[key.rawValue] = value }
                do {
                    let settings = try CleanupSettings.resolve(flags: [:], environment: environment, file: nil)
                    #expect(settings.retentionHours.isFinite && settings.failedAgeHours.isFinite, "\(environment)")
                    #expect(settings.batchSize > 0 && settings.intervalSeconds > 0 && settings.busyTimeoutMilliseconds >= 0, "\(environment)")
                    if !settings.storagePath.contains("\u{0}") && !settings.databasePath.contains("\u{0}") {
                        let reread = try? CleanupSettings.resolve(flags: [:], environment: [:], file: ("described.conf", settings.describe()))
                        #expect(reread?.hasSameValues(as: settings) == true, "\(environment)")
                    }
                } catch let error as ConfigurationError {
                    #expect(error.key != nil && !error.description.isEmpty, "\(environment): \(error)")
                } catch {
                    Issue.record("\(environment): \(error)")
                }
            }
        }
    }
}

/// One of `values`, shrinking towards the first.
func pick<T: Sendable>(_ values: [T]) -> Generator<T, Shrink.Integer<Int>> {
    Gen.int(in: 0...(values.count - 1)).map { values[$0] }
}
