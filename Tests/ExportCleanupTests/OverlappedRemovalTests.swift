import ExportCleanup
import ExportStorage
import Foundation
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A batch's files are removed on the remover's thread while the next batch is read, journalled and claimed. The
/// claims journal's two files are written in turn, so at every moment one of them, complete, names every claimed file
/// that may still be there.
@Suite struct OverlappedRemovalTests {
    let options = SweepOptions(policy: RetentionPolicy(retentionHours: 24, failedAgeHours: 1), batchSize: 5, brake: nil)

    /// 40 due completed jobs with files (8 batches of 5) and 5 that are not due.
    static let due = (0..<40).map { FixtureJob(id: "exp_o\($0)", status: "completed", createdHours: -49, completedAt: sqlText(-48), bytes: 10 + $0) }
    static let kept = (0..<5).map { FixtureJob(id: "exp_k\($0)", status: "completed", createdHours: -2, completedAt: sqlText(-1), bytes: 7) }

    /// The entry names one claims journal file lists (the last field of each `v1` line: `t` and the name's hex).
    static func journalNames(_ bytes: [UInt8]) -> Set<String> {
        var names = Set<String>()
        for line in bytes.split(separator: UInt8(ascii: "\n")) where line.starts(with: Array("v1 ".utf8)) {
            guard let last = line.split(separator: UInt8(ascii: " ")).last, last.first == UInt8(ascii: "t") else { continue }
            let hex = Array(last.dropFirst())
            var name: [UInt8] = []
            var index = 0
            while index + 1 < hex.count {
                name.append(UInt8(String(decoding: hex[index...index + 1], as: UTF8.self), radix: 16) ?? 0)
                index += 2
            }
            names.insert(String(decoding: name, as: UTF8.self))
        }
        return names
    }

    static func journalFiles(_ storage: String) -> [ClaimsJournalFile: [UInt8]] {
        var files: [ClaimsJournalFile: [UInt8]] = [:]
        for file in ClaimsJournalFile.allCases {
            if let data = FileManager.default.contents(atPath: storage + "/" + file.name) { files[file] = [UInt8](data) }
        }
        return files
    }

    @Test("at every claim, one journal file on its own names every claimed file still there and the batch about to be claimed")
    func journalCoversWhatIsInFlight() throws {
        let fixture = try Fixture()
        try fixture.add(Self.due + Self.kept)
        let sweeper = try fixture.sweeper()
        var claimsSeen = 0
        var problems: [String] = []
        sweeper.beforeClaim = { claims in
            claimsSeen += 1
            // Rows already claimed (expired, no file_path) whose file is still there: their removal may be under way.
            let records = (try? fixture.records()) ?? [:]
            var pending = Set<String>()
            for job in Self.due where records[job.id] == ["expired", "NULL"] {
                let path = (try? fixture.path(jobID: job.id, created: at(job.createdHours))) ?? ""
                if fileExists(path) { pending.insert(String(path.split(separator: "/").last!)) }
            }
            let batch = Set(claims.compactMap { claim in
                (try? fixture.path(jobID: claim.job.id, created: at(-49))).map { String($0.split(separator: "/").last!) }
            })
            let files = Self.journalFiles(fixture.storage)
            if !files.values.contains(where: { Self.journalNames($0).isSuperset(of: pending.union(batch)) }) {
                problems.append("claim \(claimsSeen): no journal file names all of \(pending.union(batch).sorted())")
            }
        }
        let report = try sweeper.sweep(options: options, now: fixedNow)
        #expect(problems.isEmpty, "\(problems)")
        #expect(claimsSeen == 8 && report.claimTransactions == 8)
        #expect(report.completed.removed == 40 && report.completed.recordsUpdated == 40 && report.completed.alreadyMissing == 0)
        #expect(report.completed.bytesFreed == Int64((0..<40).reduce(0) { $0 + 10 + $1 }))
        for job in Self.due {
            #expect(try !fixture.hasFile(job), "\(job.id)")
            #expect(try fixture.record(job.id) == ["expired", "NULL"])
        }
        for job in Self.kept { #expect(try fixture.hasFile(job) && fixture.record(job.id)?[0] == "completed") }
        #expect(!claimsJournalExists(in: fixture.storage), "the journal is gone once every removal is done")
    }

    @Test("a crash while the next batch's journal is half written: the other file names the batch being removed; the next sweep finishes it",
          arguments: [2, 4, 8])
    func crashDuringJournalWrite(atClaim crashClaim: Int) throws {
        let fixture = try Fixture()
        try fixture.add(Self.due + Self.kept)
        // The state a crash at that moment can leave: the database as committed, the files of the batch claimed last
        // still there (the remover had not started on them), the journal files, the one just written cut in half
        // (its write cut short).
        var database: Data?
        var batches: [[String]] = []
        var journals: [ClaimsJournalFile: [UInt8]] = [:]
        let sweeper = try fixture.sweeper()
        sweeper.beforeClaim = { claims in
            batches.append(claims.map(\.job.id))
            guard batches.count == crashClaim else { return }
            database = try? fixture.databaseBytes()
            journals = Self.journalFiles(fixture.storage)
        }
        _ = try sweeper.sweep(options: options, now: fixedNow)
        #expect(batches.count == 8 && journals.count == 2)
        let crashed = batches[crashClaim - 1], inFlight = batches[crashClaim - 2]
        func name(_ id: String) throws -> String { try fixture.fileName(jobID: id, created: at(-49)).description }
        let newest = try #require(journals.first { Self.journalNames($0.value).contains(try name(crashed[0])) }?.key)

        // Put the crash state back.
        try #require(database).write(to: URL(fileURLWithPath: fixture.database))
        for id in inFlight { _ = try fixture.writeFile(jobID: id, created: at(-49), bytes: 3) }
        for (file, bytes) in journals {
            let kept = file == newest ? Array(bytes.prefix(bytes.count / 2)) : bytes
            #expect(FileManager.default.createFile(atPath: fixture.storage + "/" + file.name, contents: Data(kept), attributes: [.posixPermissions: 0o600]))
        }
        #expect(try !Self.journalNames(journals[newest]!.prefix(journals[newest]!.count / 2).map { $0 }).isSuperset(of: Set((inFlight + crashed).map(name))),
                "the torn file alone does not name every claim")
        for id in inFlight { #expect(try fixture.record(id) == ["expired", "NULL"], "claimed before the crash") }
        for id in crashed { #expect(try fixture.record(id)?[0] == "completed", "not claimed at the crash") }

        let next = try fixture.sweeper().sweep(options: options, now: fixedNow)
        #expect(next.abortedBy == nil)
        #expect(next.earlierClaims.removed == inFlight.count, "the files of the batch in flight, through the journal file written before")
        for job in Self.due {
            #expect(try !fixture.hasFile(job), "\(job.id): a claimed file was left behind")
            #expect(try fixture.record(job.id) == ["expired", "NULL"])
        }
        for job in Self.kept { #expect(try fixture.hasFile(job) && fixture.record(job.id)?[0] == "completed") }
        #expect(!claimsJournalExists(in: fixture.storage))
    }
}
