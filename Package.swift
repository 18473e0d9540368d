// swift-tools-version:6.1
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "export-cleanup",
    products: [
        .library(name: "ExportStorage", targets: ["ExportStorage"]),
        .library(name: "ExportCleanup", targets: ["ExportCleanup"]),
        .library(name: "SystemdSupport", targets: ["SystemdSupport"]),
        .library(name: "ExportCleanupConfig", targets: ["ExportCleanupConfig"]),
        .library(name: "ExportCleanupPostgres", targets: ["ExportCleanupPostgres"]),
        .executable(name: "export-cleanup", targets: ["export-cleanup"]),
        .executable(name: "export-cleanup-bench", targets: ["export-cleanup-bench"]),
        .executable(name: "export-cleanup-pg-bench", targets: ["export-cleanup-pg-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift", exact: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", exact: "1.16.2"),
        .package(url: "https://github.com/x-sheep/swift-property-based", exact: "2.0.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus", exact: "2.4.1"),
    ],
    targets: [
        // Package-internal helpers written once: UTC calendar and formatting, zero padding, write-all, the
        // monotonic clock, errno names. Not a product; its API is `package`.
        .target(name: "CoreSupport", swiftSettings: strict),
        // Naming convention, the storage directory, safe file creation and removal. No SQLite, no systemd.
        .target(name: "ExportStorage", dependencies: ["CoreSupport"], swiftSettings: strict),
        // adjtimex(2) with modes = 0: whether the kernel says the clock is synchronised (read only).
        .target(name: "CClockStatus"),
        // Jobs, the retention policy (pure), the SQLite job store and the sweeper.
        .target(
            name: "ExportCleanup",
            dependencies: [
                "CoreSupport", "ExportStorage", "CClockStatus",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        // The application's schema and writer, and the demo: used by the demo command, the benchmark and the tests.
        .target(
            name: "ExportCleanupDemo",
            dependencies: ["ExportCleanup", "ExportCleanupPostgres", "ExportStorage", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: strict),
        // libpq, PostgreSQL's client library.
        // libpq's headers at build time (libpq-dev); the library itself is loaded on first use (CLibpq.h says why).
        .target(name: "CLibpq", linkerSettings: [.linkedLibrary("dl")]),
        // The PostgreSQL job store (libpq), its cluster-wide sweep lock and optional index, the demo table there.
        .target(
            name: "ExportCleanupPostgres",
            dependencies: ["ExportCleanup", "CLibpq", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict),
        // libsystemd (sd_notify, sd_journal_sendv).
        .systemLibrary(name: "CSystemd", pkgConfig: "libsystemd", providers: [.apt(["libsystemd-dev"])]),
        // sd_notify messages, the watchdog and a journal LogHandler.
        .target(
            name: "SystemdSupport",
            dependencies: ["CoreSupport", "CSystemd", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict),
        // Blocks SIGHUP/SIGTERM/SIGINT in a process constructor for `run` and `sweep`, before any Swift code runs.
        .target(name: "CEarlySignals"),
        // The configuration: KEY=value file (systemd EnvironmentFile= compatible), environment, flags, defaults.
        .target(name: "ExportCleanupConfig", swiftSettings: strict),
        // Commands, configuration, the daemon loop, logging bootstrap, exit codes.
        .executableTarget(
            name: "export-cleanup",
            dependencies: [
                "CoreSupport", "ExportStorage", "ExportCleanup", "ExportCleanupDemo", "SystemdSupport", "ExportCleanupConfig", "ExportCleanupPostgres", "CEarlySignals",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strict),
        // What both benchmarks share: measuring a fresh child process, formatting figures.
        .target(name: "BenchSupport", dependencies: ["CoreSupport"], swiftSettings: strict),
        // The benchmark: a sweep (fresh process) against the floor, and how it scales. See BENCHMARKS.md.
        .executableTarget(
            name: "export-cleanup-bench",
            dependencies: [
                "BenchSupport", "CoreSupport", "ExportCleanup", "ExportCleanupDemo", "ExportStorage",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: strict),
        // The PostgreSQL benchmark: a sweep at --jobs against its floor, on a private cluster (scripts/pg-bench.sh).
        .executableTarget(
            name: "export-cleanup-pg-bench",
            dependencies: [
                "BenchSupport", "CoreSupport", "ExportCleanup", "ExportCleanupDemo", "ExportCleanupPostgres", "ExportStorage",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        .testTarget(name: "CoreSupportTests", dependencies: ["CoreSupport"], swiftSettings: strict),
        .testTarget(name: "ExportStorageTests", dependencies: ["ExportStorage", "TestSupport"], swiftSettings: strict),
        .testTarget(
            name: "ExportCleanupTests",
            dependencies: [
                "ExportCleanup", "ExportCleanupDemo", "ExportStorage", "TestSupport", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        .testTarget(
            name: "SystemdSupportTests",
            dependencies: ["SystemdSupport", "SystemdSupportProbe", "TestSupport", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict),
        // Logs a few entries through JournalLogHandler; SystemdSupportTests runs it under a private journald.
        .executableTarget(
            name: "SystemdSupportProbe",
            dependencies: ["CSystemd", "SystemdSupport", .product(name: "Logging", package: "swift-log")],
            path: "Tests/SystemdSupportProbe",
            swiftSettings: strict),
        .testTarget(name: "ExportCleanupConfigTests", dependencies: ["ExportCleanupConfig", "TestSupport"], swiftSettings: strict),
        // What the test targets share: temporary directories, the process runner, the built binary, sd_notify
        // listener, the private journald, the database-and-storage fixture, sqlite3.
        .target(
            name: "TestSupport",
            dependencies: [
                "CoreSupport", "ExportCleanup", "ExportCleanupConfig", "ExportCleanupDemo", "ExportStorage",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            path: "Tests/TestSupport", swiftSettings: strict),
        // Runs the built binary as a user would.
        .testTarget(
            name: "CLITests",
            dependencies: [
                "export-cleanup", "CoreSupport", "ExportCleanup", "ExportCleanupDemo", "ExportStorage", "TestSupport",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: strict),
        // Attacks the daemon: kill -9 mid-sweep, lock contention, hostile records, file-system faults, fuzzing.
        .testTarget(
            name: "ReliabilityTests",
            dependencies: [
                "export-cleanup", "ExportCleanup", "ExportCleanupDemo", "ExportStorage", "ExportCleanupConfig", "TestSupport",
                .product(name: "PropertyBased", package: "swift-property-based"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        // The PostgreSQL store, the binary on PostgreSQL, several daemons on one table: a private cluster (initdb +
        // pg_ctl as uid 65534, unix socket only) started once for the target.
        .testTarget(
            name: "PostgresTests",
            dependencies: [
                "export-cleanup", "ExportCleanup", "ExportCleanupDemo", "ExportCleanupPostgres", "ExportStorage", "TestSupport",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
    ]
)
