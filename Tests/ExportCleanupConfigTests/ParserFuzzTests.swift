import ExportCleanupConfig
import TestSupport
import Testing

extension ConfigurationTests {
    @Suite struct ParserFuzzTests {
        static let seed: UInt64 = 0x00C0_FFEE_5EED

        /// Fragments that exercise the parser's decisions.
        static let fragments: [String] = [
            "=", "\"", "'", "\\", "\\\"", "\\\\", "#", ";", " ", "\t", "\r", "\r\n", "\n", "\u{0}", "é", "\u{301}",
            "\u{FEFF}", "🙂", "A", "KEY", "_", "1", "0.5", "-", "true", "EXPORT_CLEANUP_", "EXPORT_STORAGE_PATH",
            "EXPORT_CLEANUP_BATCH_SIZE", "EXPORT_CLEANUP_RETENTION_HOURS", "EXPORT_CLEANUP_DRY_RUN", "x", "\u{7F}",
        ]

        /// Checks what must hold for any input: success gives well-formed entries, failure names the path
        /// and a line that exists.
        func check(_ contents: String, seed: UInt64, iteration: Int) {
            let path = "fuzz.conf"
            let lineCount = contents.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false).count
            do {
                let entries = try ConfigFile.parse(contents: contents, path: path)
                #expect(Set(entries.map(\.key)).count == entries.count, "seed \(seed) iteration \(iteration)")
                #expect(entries.allSatisfy { ConfigFile.isValidKey($0.key) && (1...lineCount).contains($0.line) })
                #expect(zip(entries, entries.dropFirst()).allSatisfy { $0.line < $1.line })
            } catch {
                #expect(error.path == path)
                let line = error.line ?? 0
                #expect((1...lineCount).contains(line), "seed \(seed) iteration \(iteration): \(error)")
                #expect(!error.description.isEmpty)
            }
            // The whole pipeline must not trap either.
            _ = try? CleanupSettings.resolve(flags: [:], environment: [:], file: (path, contents))
        }

        @Test func randomBytesNeverCrashTheParser() {
            let seed = Self.seed
            print("ParserFuzzTests.randomBytes seed: \(seed)")
            var generator = SeededGenerator(seed: seed)
            for iteration in 0..<3000 {
                let count = Int.random(in: 0...200, using: &generator)
                let bytes = (0..<count).map { _ in
                    // Half printable ASCII (where the syntax is), half anything.
                    Bool.random(using: &generator)
                        ? UInt8.random(in: 0x20...0x7E, using: &generator) : UInt8.random(in: 0...255, using: &generator)
                }
                check(String(decoding: bytes, as: UTF8.self), seed: seed, iteration: iteration)
            }
        }

        @Test func randomLinesNeverCrashTheParser() {
            let seed = Self.seed &+ 1
            print("ParserFuzzTests.randomLines seed: \(seed)")
            var generator = SeededGenerator(seed: seed)
            for iteration in 0..<3000 {
                let lines = (0..<Int.random(in: 1...8, using: &generator)).map { _ in
                    (0..<Int.random(in: 0...10, using: &generator)).map { _ in
                        Self.fragments.randomElement(using: &generator)!
                    }.joined()
                }
                check(lines.joined(separator: Bool.random(using: &generator) ? "\n" : "\r\n"), seed: seed, iteration: iteration)
            }
        }

        @Test func randomValuesSurviveDescribeAndReparse() throws {
            let seed = Self.seed &+ 2
            print("ParserFuzzTests.randomValues seed: \(seed)")
            var generator = SeededGenerator(seed: seed)
            let alphabet = Self.fragments.filter { !$0.contains("\n") && !$0.contains("\u{0}") }
            for iteration in 0..<1000 {
                var path = ""
                while path.isEmpty || path.hasSuffix("\r") {
                    path = (0..<Int.random(in: 1...6, using: &generator)).map { _ in
                        alphabet.randomElement(using: &generator)!
                    }.joined()
                }
                let hours = Double(Int.random(in: 1...8_760_000, using: &generator)) / 100
                let settings = try CleanupSettings.resolve(
                    flags: [:],
                    environment: ["EXPORT_STORAGE_PATH": path, "EXPORT_CLEANUP_RETENTION_HOURS": String(hours)],
                    file: nil)
                let reread = try resolveFile(settings.describe())
                #expect(reread.hasSameValues(as: settings), "seed \(seed) iteration \(iteration): \(path.debugDescription)")
            }
        }
    }
}
