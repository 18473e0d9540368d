import ExportCleanupPostgres
import Testing

/// Which `--db` values are PostgreSQL, and the one masking helper every shown connection string goes through.
@Suite struct ConnectionStringTests {
    @Test(arguments: [
        "postgresql://cleanup@db.internal/app", "postgres://db/app", "POSTGRESQL://db/app", "postgresql:///app?host=/run/postgresql",
        "host=/run/postgresql dbname=app", "dbname=app", "service=exports", " host = db  dbname='my app' ", "user=x password='a b'",
    ])
    func recognized(_ text: String) {
        #expect(PostgresConnectionString.recognizes(text), "\(text)")
    }

    @Test(arguments: ["./exports.db", "/srv/app/app.db", "app.db", "./a=b.db", "hostname=x", "file:app.db", "postgresql:/x", "", "x y=z"])
    func sqlitePaths(_ text: String) {
        #expect(!PostgresConnectionString.recognizes(text), "\(text)")
        #expect(PostgresConnectionString.mask(text) == text)
    }

    @Test(arguments: [
        ("postgresql://cleanup:s3cret@db.internal:5433/app?sslmode=verify-full", "postgresql://cleanup:***@db.internal:5433/app?sslmode=verify-full"),
        ("postgresql://cleanup@db/app", "postgresql://cleanup@db/app"),
        ("postgres://u:p%40ss@h/db", "postgres://u:***@h/db"),
        ("postgresql://u:pw@/app?host=/run/postgresql&password=other", "postgresql://u:***@/app?host=/run/postgresql&password=***"),
        ("postgresql:///app?host=/run/postgresql&sslpassword=key", "postgresql:///app?host=/run/postgresql&sslpassword=***"),
        ("postgresql://u:a:b@h/db", "postgresql://u:***@h/db"),
        ("postgresql://h1,h2/db?user=u&password=x&target_session_attrs=read-write", "postgresql://h1,h2/db?user=u&password=***&target_session_attrs=read-write"),
        ("host=db dbname=app password=s3cret user=cleanup", "host=db dbname=app password=*** user=cleanup"),
        ("host=db password = 'a \\'secret\\' b' dbname=app", "host=db password = *** dbname=app"),
        ("host=db password='unterminated", "host=db password=***"),
    ])
    func masked(_ pair: (String, String)) throws {
        let target = try #require(PostgresConnectionString(pair.0))
        #expect(target.masked == pair.1)
        #expect(target.description == pair.1)
        #expect(PostgresConnectionString.mask(pair.0) == pair.1)
    }

    @Test func redactRemovesThePasswordAsWrittenAndDecoded() throws {
        let target = try #require(PostgresConnectionString("postgresql://cleanup:p%40ss-w0rd@db/app"))
        let message = "invalid percent-encoded token: \"p%40ss-w0rd\"; password p@ss-w0rd; postgresql://cleanup:p%40ss-w0rd@db/app"
        let redacted = target.redact(message)
        #expect(!redacted.contains("p%40ss-w0rd") && !redacted.contains("p@ss-w0rd"), "\(redacted)")
        #expect(redacted.contains("postgresql://cleanup:***@db/app"), "\(redacted)")
    }
}
