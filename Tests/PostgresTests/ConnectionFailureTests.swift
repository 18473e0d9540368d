import ExportCleanup
import ExportCleanupPostgres
import Foundation
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension Postgres {
    /// A server that refuses the login, is not there, or goes away mid-sweep: clear errors and exit codes, never a
    /// password on screen, nothing removed whose record was not updated first, and the daemon recovers.
    @Suite struct ConnectionFailureTests {
        @Test func aRefusedLoginExits77WithoutShowingThePassword() throws {
            let fixture = try PGFixture()
            try fixture.addGeneration("pw", due: 3)
            let wrong = "wrong-Secret-42"
            let uri = fixture.cluster.uri(database: fixture.name, user: "app_pw", password: wrong)
            let sweep = try Binary.run(["sweep", "--db", uri, "--storage", fixture.storage, "--config", fixture.tmp.sub("none.conf")])
            #expect(sweep.status == 77, "\(sweep.stderr)")
            #expect(sweep.stderr.contains("PostgreSQL refused the login"), "\(sweep.stderr)")
            #expect(sweep.stderr.contains("app_pw:***@"), "\(sweep.stderr)")
            #expect(!(sweep.stdout + sweep.stderr).contains(wrong))

            // The daemon: exit 77 (not restarted by systemd), and STATUS= says why without the password.
            let listener = NotifyListener(directory: fixture.tmp.path)
            let daemon = try Binary.run(["run", "--db", uri, "--storage", fixture.storage, "--config", fixture.tmp.sub("none.conf"), "--log-target", "stderr"],
                                        environment: ["NOTIFY_SOCKET": listener.path])
            #expect(daemon.status == 77, "\(daemon.stderr)")
            try listener.wait(for: "STATUS=Cannot start") { $0.contains("STATUS=Cannot start: PostgreSQL refused the login") }
            #expect(!(listener.all.joined() + daemon.stderr).contains(wrong), "\(listener.all) \(daemon.stderr)")

            // No password at all: also 77, with the hint where it comes from.
            let none = try Binary.run(["sweep", "--db", fixture.cluster.uri(database: fixture.name, user: "app_pw"), "--storage", fixture.storage,
                                       "--config", fixture.tmp.sub("none.conf")], environment: ["PGPASSFILE": "/nonexistent"])
            #expect(none.status == 77, "\(none.stderr)")
            #expect(none.stderr.contains("PGPASSFILE"), "\(none.stderr)")

            // The right password from a password file (as a systemd credential would provide it): swept.
            let passfile = writeFile(fixture.tmp.sub("pgpass"), "*:*:*:app_pw:\(PostgresCluster.password)\n")
            chmod(passfile, 0o600)
            let good = try Binary.run(["sweep", "--db", fixture.cluster.uri(database: fixture.name, user: "app_pw"), "--storage", fixture.storage,
                                       "--config", fixture.tmp.sub("none.conf"), "--log-target", "stderr"], environment: ["PGPASSFILE": passfile])
            #expect(good.status == 0, "\(good.stderr)")
            try fixture.expectNoViolations(.final)
        }

        @Test func aPasswordInTheConnectionStringIsNeverShown() throws {
            let fixture = try PGFixture()
            try fixture.addGeneration("shown", due: 4)
            let uri = fixture.cluster.uri(database: fixture.name, user: "app_pw", password: PostgresCluster.password)
            let listener = NotifyListener(directory: fixture.tmp.path)
            let stderrPath = fixture.tmp.sub("daemon.log")
            let daemon = try BackgroundProcess(["run", "--db", uri, "--storage", fixture.storage, "--config", fixture.tmp.sub("none.conf"),
                                                "--log-target", "stderr", "--log-level", "debug"],
                                               environment: ["NOTIFY_SOCKET": listener.path], stderrPath: stderrPath)
            try listener.wait(for: "idle after the first sweep") { $0.contains("STATUS=Idle. Last sweep") }
            daemon.signal(SIGTERM)
            #expect(daemon.waitForExit(timeout: 20) == 0)
            let everything = listener.all.joined(separator: "\n") + daemon.stderr
            #expect(!everything.contains(PostgresCluster.password), "\(everything)")
            #expect(everything.contains("app_pw:***@"), "\(everything)")
            try fixture.expectNoViolations(.final)
        }

        @Test func aMissingDatabaseOrServerHasItsOwnExitCode() throws {
            let fixture = try PGFixture()
            let missing = try Binary.run(["sweep", "--db", fixture.cluster.uri(database: "no_such_db"), "--storage", fixture.storage,
                                          "--config", fixture.tmp.sub("none.conf")])
            #expect(missing.status == 66, "\(missing.stderr)")
            #expect(missing.stderr.contains("does not exist"), "\(missing.stderr)")
            let nowhere = makeDirectory(fixture.tmp.sub("nosocket"))
            let down = try Binary.run(["sweep", "--db", "postgresql:///app?host=\(nowhere)", "--storage", fixture.storage,
                                       "--config", fixture.tmp.sub("none.conf")])
            #expect(down.status == 75, "\(down.stderr)")
            #expect(down.stderr.contains("cannot connect to PostgreSQL"), "\(down.stderr)")
            let noTable = try Binary.run(["sweep", "--db", fixture.cluster.uri(database: "postgres"), "--storage", fixture.storage,
                                          "--config", fixture.tmp.sub("none.conf")])
            #expect(noTable.status == 65, "\(noTable.stderr)")
        }

        /// The server restarts in the middle of a sweep: the sweep stops with a clear error and exit 75, nothing is
        /// removed whose record was not updated first, and the next sweep finishes everything.
        @Test func theConnectionLostMidSweep() throws {
            let fixture = try PGFixture()
            try fixture.addGeneration("lost", due: 5000, dueFailed: 200, keep: 70)
            let stderrPath = fixture.tmp.sub("sweep.log")
            let sweep = try BackgroundProcess(["sweep"] + fixture.flags + ["--batch-size", "5"], stderrPath: stderrPath)
            let deadline = Date().addingTimeInterval(60)
            while try fixture.progress().recordsUpdated < 100, Date() < deadline, sweep.process.isRunning { usleep(20_000) }
            try timed("server restart") { try fixture.cluster.restart() }
            let status = sweep.waitForExit(timeout: 60)
            #expect(status == 75, "\(sweep.stderr)")
            #expect(sweep.stderr.contains("lost the connection to PostgreSQL"), "\(sweep.stderr)")
            try fixture.reconnect()
            try fixture.expectNoViolations(.interrupted)
            let (gone, updated) = try fixture.progress()
            print("[postgres] the restart stopped the sweep after \(updated) of 5200 records (\(gone) files gone)")
            #expect(updated < 5200)

            let clean = try Binary.sweep(fixture)
            #expect(clean.status == 0, "\(clean.stderr)")
            try fixture.expectNoViolations(.final)
        }

        /// The daemon keeps running while the server is away and sweeps again when it is back.
        @Test func theDaemonRecoversAtItsNextInterval() throws {
            let fixture = try PGFixture()
            try fixture.addGeneration("d1", due: 20)
            let listener = NotifyListener(directory: fixture.tmp.path)
            let daemon = try BackgroundProcess(["run"] + fixture.flags + ["--interval-seconds", "1"],
                                               environment: ["NOTIFY_SOCKET": listener.path], stderrPath: fixture.tmp.sub("daemon.log"))
            var seen = try listener.wait(for: "first sweep") { $0.contains("STATUS=Idle. Last sweep") && $0.contains(": 20 removed") }
            try fixture.cluster.stop()
            seen = try listener.wait(for: "a sweep that failed", from: seen, timeout: 30) { $0.contains("STATUS=Idle") && $0.contains("failed: cannot connect to PostgreSQL") }
            try fixture.cluster.start()
            try fixture.reconnect()
            try fixture.addGeneration("d2", due: 15)
            try listener.wait(for: "the sweep after the server came back", from: seen, timeout: 30) { $0.contains("STATUS=Idle. Last sweep") && $0.contains(": 15 removed") }
            #expect(daemon.process.isRunning)
            daemon.signal(SIGTERM)
            #expect(daemon.waitForExit(timeout: 20) == 0)
            try fixture.expectNoViolations(.final)
        }
    }
}
