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
    /// Disk pressure on a real, small file system: a 2 MiB tmpfs mounted in the test's own mount namespace.
    @Suite struct DiskPressureTests {
        @Test("EXPORT_CLEANUP_KEEP_FREE=25% on a 2 MiB tmpfs: the oldest eligible exports go until a quarter is free, measured by fstatvfs")
        func keepFreeOnTmpfs() throws {
            try timed("DiskPressureTests.keepFree") {
                let fixture = try Fixture(memory: true)
                fixture.touchConfig()
                let small = fixture.tmp.sub("small")
                mkdir(small, 0o750)
                // Ten exports of 100 KiB completed 12 to 3 hours ago (p0 promised until tomorrow), one half an hour ago,
                // and 800 KiB of something else: 1.8 MiB used, about 248 KiB free.
                var rows: [(row: ApplicationDatabase.Row, due: CleanupRule?)] = []
                for index in 0...10 {
                    let id = "p\(index)"
                    let hoursAgo = index == 10 ? 0.5 : 12 - Double(index)
                    let stamp = UTCInstant.now().adding(hours: -hoursAgo)
                    let name = try fixture.exportName("exp_\(id)", stamp: stamp).description
                    _ = try fixture.writeExport("exp_\(id)", stamp: stamp, bytes: 100 * 1024)
                    rows.append((.init(id: "exp_\(id)", status: "completed", filePath: .text(small + "/" + name), createdAt: Fixture.text(hoursAgo: hoursAgo + 0.1),
                                       completedAt: Fixture.text(hoursAgo: hoursAgo), expiresAt: index == 0 ? Fixture.text(hoursAgo: -24) : .null), nil))
                }
                try fixture.add(rows)
                writeFile(fixture.storage + "/filler.bin", String(repeating: "f", count: 800 * 1024))
                let listing = fixture.tmp.sub("after.txt")
                let script = #"""
                    set -e
                    mount -t tmpfs -o size=2m,mode=0750 tmpfs "$1"
                    cp -p "$2"/* "$1"/
                    set +e
                    "$3" sweep --db "$4" --storage "$1" --config "$5" --log-target stderr --json --no-stats --keep-free 25%
                    status=$?
                    ls "$1" > "$6"
                    exit $status
                    """#
                let result = try Binary.run(["--mount", "--propagation", "private", "sh", "-c", script, "sh", small, fixture.storage, Binary.path,
                                             fixture.database, fixture.tmp.sub("none.conf"), listing], executable: "/usr/bin/unshare")
                #expect(result.status == 0, "\(result.stderr.suffix(3000))")
                let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
                let pressure = (object?["report"] as? [String: Any])?["pressure"] as? [String: Any]
                // The oldest eligible exports, as many as the kernel's free space needed (tmpfs counts whole pages).
                let removed = try #require(pressure?["removed"] as? Int, "\(result.stdout.prefix(4000))")
                #expect(pressure?["target_reached"] as? Bool == true && (3...5).contains(removed), "\(result.stdout.prefix(4000))")
                let after = ((pressure?["after"] as? [String: Any])?["space"] as? [String: Any])
                let free = try #require(after?["free_bytes"] as? Int), total = try #require(after?["total_bytes"] as? Int)
                #expect(free * 4 >= total, "a quarter free: \(free) of \(total)")
                #expect(result.stderr.contains("removed export file (pressure): 102400 bytes"), "\(result.stderr.suffix(3000))")
                let states = try fixture.records()
                #expect(Set(states.filter { $0.value == ["expired", "NULL"] }.keys) == Set((1...removed).map { "exp_p\($0)" }))
                let left = try String(contentsOfFile: listing, encoding: .utf8).split(separator: "\n").map(String.init)
                #expect(left.count == 12 - removed && left.contains("filler.bin"), "\(left)")
                #expect(left.contains { $0.contains("exp_p0_") } && left.contains { $0.contains("exp_p10_") }, "never one promised longer or too recent")
            }
        }
    }
}
