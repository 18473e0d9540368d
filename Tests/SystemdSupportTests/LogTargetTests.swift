import Glibc
import SystemdSupport
import Testing

struct LogTargetTests {
    static let stderrIdentity = LogTarget.FileIdentity(device: 25, inode: 12345)

    @Test(arguments: [
        (LogTarget.Request.auto, String?.none, LogTarget.console(priorityPrefixes: false)),
        (.auto, "25:12345", .journal),
        (.auto, "25:99999", .console(priorityPrefixes: false)),  // inherited by a child whose stderr moved
        (.auto, "garbage", .console(priorityPrefixes: false)),
        (.auto, "25:12345:1", .console(priorityPrefixes: false)),
        (.auto, ":12345", .console(priorityPrefixes: false)),
        (.journal, nil, .journal),
        (.journal, "25:99999", .journal),
        (.stderr, nil, .console(priorityPrefixes: false)),
        (.stderr, "25:12345", .console(priorityPrefixes: true)),
    ])
    func resolves(requested: LogTarget.Request, journalStream: String?, expected: LogTarget) {
        #expect(
            LogTarget.resolve(requested: requested, journalStream: journalStream, stderrStat: Self.stderrIdentity)
                == expected)
    }

    @Test func unknownStderrNeverMatches() {
        #expect(LogTarget.resolve(requested: .auto, journalStream: "25:12345", stderrStat: nil) == .console(priorityPrefixes: false))
    }

    @Test func parsesJournalStream() {
        #expect(LogTarget.FileIdentity(journalStream: "8:1234") == LogTarget.FileIdentity(device: 8, inode: 1234))
        #expect(LogTarget.FileIdentity(journalStream: "8:") == nil)
        #expect(LogTarget.FileIdentity(journalStream: "-8:1") == nil)
        #expect(LogTarget.FileIdentity(device: 8, inode: 1234).description == "8:1234")
    }

    @Test func fstatOfStderrMatchesItsOwnJournalStream() throws {
        let own = try #require(LogTarget.FileIdentity(fileDescriptor: 2))
        #expect(LogTarget.resolve(requested: .auto, journalStream: own.description) == .journal)
        #expect(LogTarget.resolve(requested: .auto, journalStream: nil) == .console(priorityPrefixes: false))
        #expect(LogTarget.FileIdentity(fileDescriptor: -1) == nil)
    }
}
