import ExportStorage
import Foundation
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A batch removed on the remover's own thread, in lanes side by side: every entry as `removeEntry` would, the
/// outcomes handed back in the order the names were given.
@Suite struct BackgroundRemoverTests {
    @Test("outcomes in the order given, whatever the number of lanes; files go, directories, fifos and bad names stay",
          arguments: [1, 2, 3, 8])
    func outcomesInOrder(lanes: Int) throws {
        let tmp = TemporaryDirectory()
        let storage = StorageDirectory(path: tmp.sub("exports"))
        try storage.prepare()
        let directory = try storage.open()
        var names: [String] = []
        var expected: [RemovalOutcome] = []
        for index in 0..<23 {
            let name = "hotels_exp_r\(index)_20231116_143022.csv"
            names.append(name)
            switch index % 5 {
            case 0:
                expected.append(.alreadyMissing)
            case 1:
                mkdir(tmp.sub("exports/\(name)"), 0o700)
                expected.append(.refused(.notRegularFile(kind: "directory")))
            case 2:
                mkfifo(tmp.sub("exports/\(name)"), 0o600)
                expected.append(.refused(.notRegularFile(kind: "fifo")))
            default:
                #expect(FileManager.default.createFile(atPath: tmp.sub("exports/\(name)"), contents: Data(repeating: 0x41, count: index)))
                expected.append(.removed(bytes: Int64(index)))
            }
        }
        names.append("../escape")
        expected.append(.refused(.invalidPath("'../escape' is not a plain entry name")))

        let remover = BackgroundRemover(directory, lanes: lanes)
        #expect(remover.wait() == [], "nothing started")
        remover.start(names)
        #expect(remover.isRunning)
        #expect(remover.wait() == expected)
        #expect(!remover.isRunning)
        for (name, outcome) in zip(names, expected) where name != "../escape" {
            let there = fileExists(tmp.sub("exports/\(name)"))
            if case .refused = outcome { #expect(there, "\(name)") } else { #expect(!there, "\(name)") }
        }
        // The next batch after the first: an empty one, then one name.
        remover.start([])
        #expect(remover.wait() == [])
        remover.start([names[3]])
        #expect(remover.wait() == [.alreadyMissing])
    }
}
