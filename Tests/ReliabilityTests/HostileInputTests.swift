import ExportCleanup
import ExportCleanupDemo
import ExportStorage
import Foundation
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension Reliability {
    /// Records and entries built to trick the sweep into deleting what it must keep.
    @Suite struct HostileInputTests {
        let rule = RecordPathRule(storagePath: "/srv/app/exports", absolutePaths: ["/srv/app/exports"])
        static let stamp = "20231116_143022"
        static func name(_ id: String) -> String { "hotels_\(id)_\(stamp).csv" }
        static func record(_ id: String) -> RecordName { RecordName(exportType: "hotels", jobID: id, format: "csv") }

        // MARK: The pure rule (cases the unit tests do not have yet)

        @Test("refused: prefix tricks, newlines, look-alike slashes, bidi controls, case and normalization variants of the id",
              arguments: [
                  ("/srv/app/exports_other/../exports/\(name("exp_a1"))", "invalid_path"),
                  ("/srv/app/exports\n/\(name("exp_a1"))", "outside_storage"),
                  ("/srv/app/exports/\n/\(name("exp_a1"))", "outside_storage"),
                  ("/srv/app/exports\u{FF0F}\(name("exp_a1"))", "outside_storage"),
                  ("/srv/app/exports\u{2215}\(name("exp_a1"))", "outside_storage"),
                  ("/srv/app/exports/hotels_exp_a1\u{202E}_\(stamp).csv", "name_mismatch"),
                  ("/srv/app/exports/\(name("EXP_A1"))", "name_mismatch"),
                  ("/srv/app/exports/\(name("exp_a1\n"))", "name_mismatch"),
                  ("/srv/app/exports/\(name("xexp_a1"))", "name_mismatch"),
                  ("/srv/app/exports/\(name("exp_a1")).", "not_an_export_file_name"),
                  ("srv/app/exports/\(name("exp_a1"))", "outside_storage"),
                  ("/srv/app/exports/.", "invalid_path"),
                  ("//srv/app/exports//", "storage_directory_itself"),
                  ("/srv/app/exports/./", "storage_directory_itself"),
              ])
        func refused(path: String, code: String) {
            switch rule.entryName(forRecordPath: path, record: Self.record("exp_a1")) {
            case .success(let name): Issue.record("\(path.debugDescription) accepted as \(name.debugDescription)")
            case .failure(let refusal): #expect(refusal.code == code, "\(path.debugDescription): \(refusal)")
            }
        }

        @Test("a record never passes for another job's file through Unicode equivalence (NFC id, NFD file name and back)")
        func normalization() {
            let nfc = "exp_\u{E9}1", nfd = "exp_e\u{301}1"
            for (file, id) in [(nfd, nfc), (nfc, nfd)] {
                let result = rule.entryName(forRecordPath: "/srv/app/exports/" + Self.name(file), record: Self.record(id))
                switch result {
                case .success: Issue.record("\(file.unicodeScalars.map(\.value)) accepted for id \(id.unicodeScalars.map(\.value))")
                case .failure(let refusal): #expect(["name_mismatch", "not_an_export_file_name"].contains(refusal.code))
                }
            }
            // Also with a type of several words and a one-word id.
            let record = RecordName(exportType: "supplier_summary", jobID: "\u{E9}1", format: "csv")
            #expect((try? RecordPathRule.checkName("supplier_summary_e\u{301}1_\(Self.stamp).csv", record: record).get()) == nil,
                    "an NFD name accepted for an NFC id")
        }

        @Test("PATH_MAX is exact: 4096 bytes pass the rule, 4097 do not")
        func pathMaxBoundary() {
            let base = "/srv/app/exports/"
            let name = Self.name("exp_a1")
            func padded(_ total: Int) -> String {
                var middle = String(repeating: "./", count: (total - base.utf8.count - name.utf8.count) / 2)
                if (base.utf8.count + middle.utf8.count + name.utf8.count) < total { middle += "/" }
                return base + middle + name
            }
            #expect(padded(4096).utf8.count == 4096 && padded(4097).utf8.count == 4097)
            #expect(rule.entryName(forRecordPath: padded(4096), record: Self.record("exp_a1")) == .success(name))
            #expect(rule.entryName(forRecordPath: padded(4097), record: Self.record("exp_a1")) == .failure(.invalidPath("it is longer than PATH_MAX (4096 bytes)")))
        }

        // MARK: On disk, through the binary

        @Test("a sweep over hostile records: nothing outside the storage directory changes; only the records' own regular files go")
        func hostileRecords() throws {
            try timed("HostileInputTests.hostileRecords") {
                let fixture = try Fixture(memory: true)
                fixture.touchConfig()
                let tmp = fixture.tmp.path, storage = fixture.storage
                let outside = tmp + "/outside"
                mkdir(outside, 0o755)
                mkdir(tmp + "/exports_other", 0o755)
                let old = Fixture.text(hoursAgo: 48)
                var rows: [(row: ApplicationDatabase.Row, due: CleanupRule?)] = []
                /// A due completed record; `removable` when the sweep must remove its file and update it.
                func record(_ id: String, _ path: StoredValue, removable: Bool = false, completed: StoredValue? = nil) {
                    rows.append((.init(id: id, status: "completed", filePath: path, createdAt: old, completedAt: completed ?? old),
                                 removable ? .completed : nil))
                }
                func text(_ path: String) -> StoredValue { .text(path) }

                record("h1", text(writeFile("\(outside)/\(Self.name("h1"))")))
                writeFile("\(outside)/\(Self.name("h2"))")
                record("h2", text("\(storage)/../outside/\(Self.name("h2"))"))
                record("h3", text(writeFile("\(tmp)/exports_other/\(Self.name("h3"))")))
                record("h4", text(writeFile("\(tmp)/exports\(Self.name("h4"))")))
                symlink(writeFile("\(outside)/precious5.csv", "precious"), "\(storage)/\(Self.name("h5"))")
                record("h5", text("\(storage)/\(Self.name("h5"))"))
                mkdir("\(outside)/dir6", 0o755)
                writeFile("\(outside)/dir6/inside.csv")
                symlink("\(outside)/dir6", "\(storage)/\(Self.name("h6"))")
                record("h6", text("\(storage)/\(Self.name("h6"))"))
                symlink(outside, "\(storage)/sub")
                writeFile("\(outside)/\(Self.name("h7"))")
                record("h7", text("\(storage)/sub/\(Self.name("h7"))"))
                mkdir("\(storage)/\(Self.name("h8"))", 0o755)
                writeFile("\(storage)/\(Self.name("h8"))/kept.csv")
                record("h8", text("\(storage)/\(Self.name("h8"))"))
                record("h9", text(storage))
                record("h9b", text(storage + "/"))
                record("h9c", text(storage + "/."))
                // Names the record's own columns (type hotels, format csv) do not make: refused, kept.
                record("h10", text(writeFile("\(storage)/hotels\nline_h10_\(Self.stamp).csv")))
                record("h11", text(writeFile("\(storage)/h\u{F4}tels-\u{1F600}_h11_\(Self.stamp).csv")))
                // A record of job b1 pointing at job exp_b1's file (exp_b1 is not due).
                let expB1 = writeFile("\(storage)/\(Self.name("exp_b1"))")
                record("b1", text(expB1))
                record("exp_b1", text(expB1), completed: Fixture.text(hoursAgo: 1))
                // h12 points at h13's file; h13 is not due.
                let h13 = writeFile("\(storage)/\(Self.name("h13"))")
                record("h12", text(h13))
                record("h13", text(h13), completed: Fixture.text(hoursAgo: 1))
                record("h14", text(storage + "/" + String(repeating: "a/", count: 2100) + Self.name("h14")))
                record("h15", text("\(storage)/\(String(repeating: "x", count: 300))_h15_\(Self.stamp).csv"))
                writeFile("\(storage)/\(Self.name("h16"))")
                record("h16", .blob(Array("\(storage)/\(Self.name("h16"))".utf8)))
                writeFile("\(storage)/\(Self.name("h17"))")
                record("h17", text("exports/\(Self.name("h17"))"))
                // NFC id, its record naming the NFD job's file (that job is not due).
                let nfdFile = writeFile("\(storage)/\(Self.name("exp_e\u{301}1"))")
                record("exp_\u{E9}1", text(nfdFile))
                record("exp_e\u{301}1", text(nfdFile), completed: Fixture.text(hoursAgo: 1))
                // A hard link in the storage directory to a file outside: the link is the job's regular file and goes; the outside file keeps its content.
                link(writeFile("\(outside)/precious19.csv", "precious"), "\(storage)/\(Self.name("h19"))")
                record("h19", text("\(storage)/\(Self.name("h19"))"), removable: true)
                mkfifo("\(storage)/\(Self.name("h20"))", 0o600)
                record("h20", text("\(storage)/\(Self.name("h20"))"))
                try fixture.add(rows)

                let database = fixture.database
                // The temp dir's own mtime moves with SQLite's journal beside the database: compare what is in it.
                let excluded: Set<String> = [storage, database, database + "-journal", database + "-wal", database + "-shm", tmp + "/none.conf"]
                let outsideBefore = snapshot(tmp, excluding: excluded).filter { $0.key != tmp }
                let storageBefore = snapshot(storage)

                let result = try Binary.sweep(fixture, ["--json"])
                #expect(result.status == 1, "\(result.stderr.suffix(3000))")
                let report = try SweepJSON.decode(result.stdout).report

                #expect(snapshot(tmp, excluding: excluded).filter { $0.key != tmp } == outsideBefore, "something outside the storage directory changed")
                var expectedStorage = storageBefore
                for name in [Self.name("h19")] {
                    #expect(expectedStorage.removeValue(forKey: "\(storage)/\(name)") != nil, "\(name.debugDescription) missing before")
                }
                let storageAfter = snapshot(storage)
                // The directory's own mtime changes with the removals; compare the entries.
                #expect(storageAfter.filter { $0.key != storage } == expectedStorage.filter { $0.key != storage })
                #expect(StorageDirectory.fileSize("\(outside)/precious19.csv") == 8)

                let rowsAfter = try fixture.rows()
                for (row, due) in rows {
                    let after = rowsAfter[row.id]
                    if due != nil {
                        #expect(after?.status == "expired" && after?.file_path == nil, "\(row.id.debugDescription)")
                    } else {
                        #expect(after?.status == "completed", "\(row.id.debugDescription) changed: \(String(describing: after))")
                        if case .text(let path) = row.filePath { #expect(after?.file_path == path, "\(row.id.debugDescription)") }
                    }
                }
                let codes = Dictionary(report.problems.map { ($0.jobId, $0.code) }) { first, _ in first }
                let expected: [String: String] = [
                    "h1": "outside_storage", "h2": "invalid_path", "h3": "outside_storage", "h4": "outside_storage",
                    "h5": "not_a_regular_file", "h6": "not_a_regular_file", "h7": "outside_storage", "h8": "not_a_regular_file",
                    "h9": "storage_directory_itself", "h9b": "storage_directory_itself", "h9c": "invalid_path", "h12": "name_mismatch",
                    "h10": "name_mismatch", "h11": "name_mismatch", "b1": "name_mismatch",
                    "h14": "invalid_path", "h15": "name_mismatch", "h16": "invalid_path", "h17": "outside_storage",
                    "exp_\u{E9}1": "not_an_export_file_name", "h20": "not_a_regular_file",
                ]
                for (id, code) in expected.sorted(by: { $0.key < $1.key }) {
                    #expect(codes[id] == code, "\(id.debugDescription): \(codes[id] ?? "no problem reported")")
                }
                print("[reliability] hostile records: \(rows.count) records, \(expected.count) refused or failed with the expected reason, 1 own file removed, nothing outside changed")
            }
        }

        @Test("the storage directory replaced by a symlink while the daemon runs: mid-sweep the open descriptor keeps to the real directory; the next sweep refuses the symlink; decoys are never touched")
        func storageSwappedForSymlink() throws {
            try timed("HostileInputTests.storageSwapped") {
                let fixture = try Fixture(memory: true)
                fixture.touchConfig()
                try fixture.addGeneration("s0", due: 5, keep: 7)
                let listener = NotifyListener(directory: fixture.tmp.path)
                let daemon = try BackgroundProcess(["run"] + fixture.flags + ["--batch-size", "50"],
                                                   environment: ["NOTIFY_SOCKET": listener.path], stderrPath: fixture.tmp.sub("daemon.stderr"))
                let ready = try listener.wait(for: "READY=1") { $0 == "READY=1" }
                try listener.wait(for: "first sweep", from: ready) { $0.hasPrefix("STATUS=Idle. Last sweep") }

                // Decoys: a directory elsewhere holding files with the names of due jobs, plus a precious file.
                let decoy = fixture.tmp.sub("decoy")
                mkdir(decoy, 0o755)
                try fixture.addGeneration("s1", due: 3_000)
                let names = fixture.jobs.values.filter { $0.id.hasPrefix("s1_") }.compactMap { $0.filePath.map { ($0 as NSString).lastPathComponent } }
                for name in names { writeFile("\(decoy)/\(name)", "decoy") }
                writeFile("\(decoy)/precious.txt", "precious")
                let decoyBefore = snapshot(decoy)

                let moved = fixture.storage + ".moved"
                var mark = listener.all.count
                daemon.signal(SIGHUP)
                try listener.wait(for: "sweep under way", from: mark) { $0.hasPrefix("STATUS=Sweeping:") && !$0.contains("starting") }
                #expect(rename(fixture.storage, moved) == 0)
                #expect(symlink(decoy, fixture.storage) == 0)
                let leftAtSwap = ((try? FileManager.default.contentsOfDirectory(atPath: moved)) ?? []).filter { $0.hasPrefix("hotels_s1_c") }.count
                let idle = try listener.wait(for: "idle after the swapped sweep", from: mark) { $0.hasPrefix("STATUS=Idle.") }
                print("[reliability] storage swapped for a symlink with \(leftAtSwap) of 3000 due files still to go: \(listener.all[idle])")
                #expect(snapshot(decoy) == decoyBefore, "decoy files changed")
                let remaining = ((try? FileManager.default.contentsOfDirectory(atPath: moved)) ?? []).filter { $0.hasPrefix("hotels_s1_c") }
                #expect(remaining.isEmpty, "the sweep in hand should finish in the real directory: \(remaining.count) left")

                // The next sweep opens the path anew and refuses the symlink.
                let s2 = "s2_c0"
                let s2Path = "\(fixture.storage)/\(Self.name(s2))"
                writeFile("\(decoy)/\(Self.name(s2))", "decoy")
                try fixture.db.insert([.init(id: s2, status: "completed", filePath: .text(s2Path), createdAt: Fixture.text(hoursAgo: 48), completedAt: Fixture.text(hoursAgo: 48))])
                let decoyBefore2 = snapshot(decoy)
                mark = listener.all.count
                daemon.signal(SIGHUP)
                let refused = try listener.wait(for: "idle after the refused sweep", from: mark) { $0.hasPrefix("STATUS=Idle.") }
                #expect(listener.all[refused].contains("failed:") && listener.all[refused].contains("symbolic link"), "\(listener.all[refused])")
                #expect(daemon.stderr.contains("symbolic link"))
                #expect(daemon.process.isRunning)
                #expect(snapshot(decoy) == decoyBefore2)
                #expect(try fixture.rows()[s2]?.status == "completed")

                // Put the real directory back: the job is swept there, the decoy still untouched.
                unlink(fixture.storage)
                rename(moved, fixture.storage)
                writeFile(s2Path, "real")
                mark = listener.all.count
                daemon.signal(SIGHUP)
                let back = try listener.wait(for: "idle after restore", from: mark) { $0.hasPrefix("STATUS=Idle.") }
                #expect(listener.all[back].contains("1 removed"), "\(listener.all[back])")
                #expect(!fileExists(s2Path))
                #expect(snapshot(decoy) == decoyBefore2)
                #expect(try fixture.rows()[s2]?.status == "expired")
                daemon.signal(SIGTERM)
                #expect(daemon.waitForExit(timeout: 5) == 0)
            }
        }
    }
}
