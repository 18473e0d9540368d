import ExportCleanupConfig
import Testing

extension ConfigurationTests {
    @Suite struct ConfigFileTests {
        let path = "/etc/export-cleanup/test.conf"

        func parse(_ contents: String) throws(ConfigurationError) -> [ConfigEntry] {
            try ConfigFile.parse(contents: contents, path: path)
        }

        @Test func emptyFileHasNoEntries() throws {
            #expect(try parse("").isEmpty)
            #expect(try parse("\n\n").isEmpty)
        }

        @Test func commentsAndBlankLinesAreSkipped() throws {
            let text = "# a comment\n; another\n   # indented comment\n\t; indented\n\n \t \nA=1\n#B=2\n"
            #expect(try parse(text) == [ConfigEntry(key: "A", value: "1", line: 7)])
        }

        @Test func lineNumbersCountEveryLine() throws {
            let entries = try parse("A=1\n\n# c\nB=2\nC=3")
            #expect(entries.map(\.line) == [1, 4, 5])
            #expect(entries.map(\.key) == ["A", "B", "C"])
        }

        @Test(arguments: [
            ("KEY=value", "value"),
            ("  KEY  =  value with spaces  ", "value with spaces"),
            ("KEY\t=\tvalue\t", "value"),
            ("KEY=", ""),
            ("KEY=   ", ""),
            ("KEY=a=b=c", "a=b=c"),
            ("KEY=24 # hours", "24 # hours"),
            ("KEY=#not a comment", "#not a comment"),
            ("KEY=;not a comment", ";not a comment"),
            ("KEY=foo\"bar\"", "foo\"bar\""),
            ("KEY=it's", "it's"),
            ("KEY=/srv/données/été", "/srv/données/été"),
        ])
        func unquotedValues(line: String, expected: String) throws {
            #expect(try parse(line) == [ConfigEntry(key: "KEY", value: expected, line: 1)])
        }

        @Test(arguments: [
            (#"KEY="""#, ""),
            (#"KEY="  spaced  ""#, "  spaced  "),
            (#"KEY = "value"   "#, "value"),
            (#"KEY="say \"hi\"""#, #"say "hi""#),
            (#"KEY="back\\slash""#, #"back\slash"#),
            (#"KEY="a\nb\$c""#, #"a\nb\$c"#),
            (#"KEY="ends with backslash\\""#, #"ends with backslash\"#),
            (##"KEY="# not a comment""##, "# not a comment"),
            (#"KEY="it's""#, "it's"),
            (#"KEY=''"#, ""),
            (#"KEY='  literal \ "here" '"#, #"  literal \ "here" "#),
            (#"KEY='c:\dir'"#, #"c:\dir"#),
        ])
        func quotedValues(line: String, expected: String) throws {
            #expect(try parse(line) == [ConfigEntry(key: "KEY", value: expected, line: 1)])
        }

        @Test func crlfLineEndings() throws {
            let entries = try parse("# comment\r\nA=1\r\nB = \"two\" \r\n\r\nC='3'\r\nD=\r\n")
            #expect(
                entries == [
                    ConfigEntry(key: "A", value: "1", line: 2),
                    ConfigEntry(key: "B", value: "two", line: 3),
                    ConfigEntry(key: "C", value: "3", line: 5),
                    ConfigEntry(key: "D", value: "", line: 6),
                ])
        }

        @Test func missingFinalNewlineIsFine() throws {
            #expect(try parse("A=1\nB=2") == [ConfigEntry(key: "A", value: "1", line: 1), ConfigEntry(key: "B", value: "2", line: 2)])
        }

        @Test(arguments: ["A", "ABC", "A1", "A_B", "EXPORT_CLEANUP_DRY_RUN", "Z9__"])
        func validKeys(key: String) {
            #expect(ConfigFile.isValidKey(key))
        }

        @Test(arguments: ["", "a", "_A", "1A", "A-B", "A B", "aBC", "É", "A.B", "Ä"])
        func invalidKeys(key: String) {
            #expect(!ConfigFile.isValidKey(key))
        }

        struct ErrorCase: Sendable, CustomTestStringConvertible {
            var contents: String
            var code: ConfigurationError.Code
            var line: Int
            var key: String?
            var fragment: String
            var testDescription: String { contents.debugDescription }
        }

        @Test(arguments: [
            ErrorCase(contents: "A=1\nno equals sign", code: .syntax, line: 2, key: nil, fragment: "no '='"),
            ErrorCase(contents: "EXPORT_CLEANUP_DRY_RUN", code: .syntax, line: 1, key: "EXPORT_CLEANUP_DRY_RUN", fragment: "no '='"),
            ErrorCase(contents: "=value", code: .syntax, line: 1, key: nil, fragment: "missing key"),
            ErrorCase(contents: "# c\n  = value", code: .syntax, line: 2, key: nil, fragment: "missing key"),
            ErrorCase(contents: "lower=1", code: .syntax, line: 1, key: "lower", fragment: "invalid key"),
            ErrorCase(contents: "1ABC=1", code: .syntax, line: 1, key: "1ABC", fragment: "invalid key"),
            ErrorCase(contents: "A-B=1", code: .syntax, line: 1, key: "A-B", fragment: "invalid key"),
            ErrorCase(contents: "export A=1", code: .syntax, line: 1, key: "export A", fragment: "invalid key"),
            ErrorCase(contents: "A=1\n\nA=2", code: .duplicateKey, line: 3, key: "A", fragment: "already set on line 1"),
            ErrorCase(contents: "A=1\nB=2\nA=1", code: .duplicateKey, line: 3, key: "A", fragment: "already set on line 1"),
            ErrorCase(contents: "A=\"abc", code: .syntax, line: 1, key: "A", fragment: "unterminated double quote"),
            ErrorCase(contents: "A=\"abc\\\"", code: .syntax, line: 1, key: "A", fragment: "unterminated double quote"),
            ErrorCase(contents: "A=\"multi\nline\"", code: .syntax, line: 1, key: "A", fragment: "unterminated double quote"),
            ErrorCase(contents: "A=1\nB='abc", code: .syntax, line: 2, key: "B", fragment: "unterminated single quote"),
            ErrorCase(contents: "A=\"a\" # comment", code: .syntax, line: 1, key: "A", fragment: "after the closing quote"),
            ErrorCase(contents: "A='a'b", code: .syntax, line: 1, key: "A", fragment: "after the closing quote"),
            ErrorCase(contents: "A=\"a\"\"b\"", code: .syntax, line: 1, key: "A", fragment: "after the closing quote"),
            ErrorCase(contents: "A=c:\\dir", code: .syntax, line: 1, key: "A", fragment: "backslash"),
            ErrorCase(contents: "A=value \\", code: .syntax, line: 1, key: "A", fragment: "backslash"),
            ErrorCase(contents: "A=1\r\nB=\"x\r\nC=3", code: .syntax, line: 2, key: "B", fragment: "unterminated double quote"),
            // Lines that systemd's EnvironmentFile= would read differently.
            ErrorCase(contents: "A=1\nB=x\u{0}", code: .syntax, line: 2, key: nil, fragment: "NUL"),
            ErrorCase(contents: "# comment\u{0}", code: .syntax, line: 1, key: nil, fragment: "NUL"),
            ErrorCase(contents: "A=x\rB=y", code: .syntax, line: 1, key: "A", fragment: "carriage return"),
            ErrorCase(contents: "A=\rB=y\r\n", code: .syntax, line: 1, key: "A", fragment: "carriage return"),
            ErrorCase(contents: "A\r=1", code: .syntax, line: 1, key: nil, fragment: "carriage return"),
            ErrorCase(contents: "# c\rA=1", code: .syntax, line: 1, key: nil, fragment: "carriage return"),
            ErrorCase(contents: "# continued \\\nA=1", code: .syntax, line: 1, key: nil, fragment: "backslash"),
        ])
        func errorsNamePathLineAndKey(_ test: ErrorCase) throws {
            let error = try #require(captureError { try parse(test.contents) })
            #expect(error.code == test.code)
            #expect(error.path == path)
            #expect(error.line == test.line)
            #expect(error.key == test.key)
            #expect(error.message.contains(test.fragment), "\(error.message)")
            #expect(error.description.hasPrefix("\(path):\(test.line): "), "\(error.description)")
            if let key = test.key {
                #expect(error.description.contains(key))
            }
        }

        @Test func lowerCaseKnownKeySuggestsTheKey() throws {
            let error = try #require(captureError { try parse("export_cleanup_dry_run=yes") })
            #expect(error.code == .syntax)
            #expect(error.message.contains("did you mean EXPORT_CLEANUP_DRY_RUN?"), "\(error.message)")
        }

        @Test func errorDescriptionFormat() throws {
            let error = try #require(captureError { try parse("A=1\nA=2") })
            #expect(error.description == "\(path):2: A is already set on line 1; remove one of the two lines")
        }

        @Test func byteOrderMarkIsRejectedByName() throws {
            let error = try #require(captureError { try parse("\u{FEFF}EXPORT_CLEANUP_RETENTION_HOURS=48\n") })
            #expect(error.line == 1 && error.code == .syntax)
            #expect(error.description.contains("byte order mark") && error.description.contains("EF BB BF"), "\(error)")
            // Elsewhere U+FEFF is an ordinary character of a value.
            #expect(try parse("A='\u{FEFF}'") == [ConfigEntry(key: "A", value: "\u{FEFF}", line: 1)])
        }

        @Test func controlCharactersInsideQuotesAreKept() throws {
            // Validation of each setting decides about them.
            #expect(try parse("A=\"a\rb\tc\"\r\nB='\r'") == [
                ConfigEntry(key: "A", value: "a\rb\tc", line: 1), ConfigEntry(key: "B", value: "\r", line: 2),
            ])
        }

        @Test func commentWithInnerBackslashIsFine() throws {
            #expect(try parse("# C:\\ is not a path here\nA=1") == [ConfigEntry(key: "A", value: "1", line: 2)])
        }
    }
}
