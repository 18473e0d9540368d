import ExportCleanup
import Foundation
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension Reliability {
    /// The file system says no: the sweep reports per file, goes on, and leaves the records of kept files alone.
    @Suite struct FileSystemFaultTests {
        static let due = 30, dueFailed = 5

        func fixture() throws -> Fixture {
            let fixture = try Fixture(memory: true)
            fixture.touchConfig()
            try fixture.addGeneration("e", due: Self.due, dueFailed: Self.dueFailed, keep: 7)
            return fixture
        }

        /// Every due job failed with `errno`, none was updated, and a later sweep with the fault gone completes all.
        func expectFailedThenRecovered(_ fixture: Fixture, _ result: Binary.Result, errno expected: Int32) throws {
            #expect(result.status == 1, "stdout: \(result.stdout.suffix(2000))\nstderr: \(result.stderr.suffix(2000))")
            let report = try SweepJSON.decode(result.stdout).report
            #expect(report.completed.failed == Self.due && report.failed.failed == Self.dueFailed)
            #expect(report.completed.recordsUpdated + report.failed.recordsUpdated == 0)
            let failures = report.problems.filter { $0.kind == "failed" }
            #expect(!failures.isEmpty && failures.allSatisfy { $0.errno == expected }, "\(failures.map(\.code))")
            #expect(try fixture.progress() == (0, 0))
            #expect(try fixture.violations(.interrupted) == [])
            let again = try Binary.sweep(fixture)
            #expect(again.status == 0, "\(again.stderr)")
            #expect(try fixture.violations(.final) == [])
        }

        @Test("a read-only bind mount of the storage directory (private mount namespace): EROFS per file, records unchanged, exit 1")
        func readOnlyStorage() throws {
            try timed("FileSystemFaultTests.readOnly") {
                let fixture = try fixture()
                let script = #"mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@""#
                let result = try Binary.run(["--mount", "--propagation", "private", "sh", "-c", script, "sh", fixture.storage, Binary.path, "sweep"]
                                            + fixture.flags + ["--json"], executable: "/usr/bin/unshare")
                try expectFailedThenRecovered(fixture, result, errno: EROFS)
            }
        }

        @Test("files the sweep may not remove (uid 65534 via setpriv; a root-owned 0755 directory): EACCES per file, records unchanged, exit 1")
        func permissionDenied() throws {
            try timed("FileSystemFaultTests.permission") {
                let fixture = try fixture()
                // The database (and its directory, for the journal) writable by 65534; the storage directory not.
                chmod(fixture.tmp.path, 0o777)
                chmod(fixture.database, 0o666)
                chmod(fixture.storage, 0o755)
                chmod(fixture.tmp.sub("none.conf"), 0o644)
                let result = try Binary.runUnprivileged(["sweep"] + fixture.flags + ["--json"], copyInto: fixture.tmp.path,
                                                        environment: ["HOME": fixture.tmp.path])
                try expectFailedThenRecovered(fixture, result, errno: EACCES)
            }
        }

        @Test("the log file on a full device (--log-file /dev/full, debug level): the sweep completes, exit 0")
        func logFileFull() throws {
            try timed("FileSystemFaultTests.logFull") {
                let fixture = try fixture()
                let result = try Binary.sweep(fixture, ["--log-file", "/dev/full", "-v"])
                #expect(result.status == 0, "\(result.stderr.suffix(2000))")
                #expect(result.stderr.contains("/dev/full"), "the first failed log write should be reported once: \(result.stderr.suffix(2000))")
                #expect(try fixture.violations(.final) == [])
            }
        }
    }
}
