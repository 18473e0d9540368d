import ExportCleanup
import ExportCleanupDemo
import ExportCleanupPostgres
import Foundation
import TestSupport
import Testing

extension Postgres {
    /// Timestamps are UTC wall time (`timestamp`) or instants (`timestamptz`); the server's `TimeZone` (here
    /// Pacific/Kiritimati, +14), the database's, the role's (`ALTER ROLE ... SET timezone`), a `TimeZone` asked for
    /// in the connection string and the process's `TZ` never change a decision.
    @Suite struct TimeZoneTests {
        /// Jobs ten minutes either side of each edge: completed 24 h ago, expires_at now, failed 1 h ago.
        static func addEdges(_ fixture: PGFixture) throws {
            let now = UTCInstant.now()
            func at(_ minutes: Double) -> StoredValue { ApplicationDatabase.text(now.adding(microseconds: Int64(minutes * 60_000_000))) }
            let day = 24.0 * 60
            var rows: [(ApplicationDatabase.Row, CleanupRule?)] = []
            for (id, completed, expires, due) in [
                ("exp_c-due", at(-day - 10), StoredValue.null, true), ("exp_c-keep", at(-day + 10), .null, false),
                ("exp_e-due", at(-day - 100), at(-10), true), ("exp_e-keep", at(-day - 100), at(10), false),
            ] {
                let path = try fixture.makeFile(id, hoursAgo: 25)
                rows.append((.init(id: id, status: "completed", filePath: .text(path), createdAt: completed, completedAt: completed, expiresAt: expires),
                             due ? .completed : nil))
            }
            for (id, created, due) in [("exp_f-due", at(-70), true), ("exp_f-keep", at(-50), false)] {
                let path = try fixture.makeFile(id, hoursAgo: 1)
                rows.append((.init(id: id, status: "failed", filePath: .text(path), createdAt: created), due ? .failed : nil))
            }
            try fixture.add(rows)
        }

        @Test(arguments: ["TIMESTAMP WITHOUT TIME ZONE", "TIMESTAMP WITH TIME ZONE"])
        func decisionsDoNotDependOnAnyTimeZone(_ type: String) throws {
            for variant in ["role", "database", "uri", "tz"] {
                let fixture = try PGFixture(timestampType: type)
                try Self.addEdges(fixture)
                var uri = fixture.uri
                var environment: [String: String] = ["TZ": "Pacific/Kiritimati"]
                switch variant {
                case "role":
                    let role = "ny_\(fixture.name)"
                    try fixture.db.execute("CREATE ROLE \(role) LOGIN SUPERUSER; ALTER ROLE \(role) SET timezone = 'America/New_York'")
                    uri = fixture.cluster.uri(database: fixture.name, user: role)
                    let seen = try PostgresConnection(PostgresConnectionString(uri)!).query("SHOW TimeZone").scalar
                    #expect(seen == "America/New_York")
                case "database":
                    try fixture.db.execute("ALTER DATABASE \(fixture.name) SET timezone = 'Asia/Tokyo'")
                case "uri":
                    uri += "&options=-c%20TimeZone%3DAmerica/Los_Angeles"
                default:
                    environment = ["TZ": "America/Los_Angeles", "PGTZ": "Asia/Kolkata"]
                }
                let result = try Binary.run(["sweep", "--db", uri, "--storage", fixture.storage, "--config", fixture.tmp.sub("none.conf"),
                                             "--log-target", "stderr", "--json"], environment: environment)
                #expect(result.status == 0, "\(type) \(variant): \(result.stderr)")
                try fixture.expectNoViolations(.final, "\(type) \(variant)")
                if variant == "role" { try fixture.db.execute("DROP ROLE ny_\(fixture.name)") }
            }
        }

        /// The store's own reads: a `timestamptz` value comes back in UTC whatever the session was set to before; the
        /// session's other settings are the store's too.
        @Test func theStorePinsItsSessionToUTC() throws {
            let fixture = try PGFixture(timestampType: "TIMESTAMP WITH TIME ZONE")
            let old = PGFixture.text(hoursAgo: 48)
            try fixture.add([(.init(id: "exp_x", status: "completed", createdAt: .text("2024-03-10 06:59:59.5"), completedAt: old), .completed)])
            let store = try PostgresJobStore(PostgresConnectionString(fixture.uri + "&options=-c%20TimeZone%3DAmerica/New_York")!, logger: quietLogger)
            try store.verifySchema()
            #expect(try store.connection.query("SHOW TimeZone").scalar == "UTC")
            #expect(try store.connection.query("SHOW DateStyle").scalar == "ISO, YMD")
            // And its claims are durable before files go, even where the database's default says otherwise.
            try fixture.db.execute("ALTER DATABASE \(fixture.name) SET synchronous_commit = off")
            let durable = try PostgresJobStore(PostgresConnectionString(fixture.uri)!, logger: quietLogger)
            #expect(try durable.connection.query("SHOW synchronous_commit").scalar == "on")
            let now = UTCInstant.now()
            let (jobs, _) = try store.candidates(for: .completed, cutoff: RetentionPolicy().cutoff(for: .completed, now: now), now: now, after: nil, limit: 10)
            #expect(jobs.first?.createdAt == .text("2024-03-10 06:59:59.5+00"))
        }
    }
}
