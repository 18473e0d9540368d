import CoreSupport
#if canImport(Glibc)
import Glibc
#endif
import Foundation

// Shared by the two benchmarks (`export-cleanup-bench`, `export-cleanup-pg-bench`): measuring a fresh child
// process, and the figures' formatting.

/// What one measured child process did.
package struct ChildResult {
    /// The exit code (or 128 + signal).
    package var exitCode: Int32
    /// Wall time from `posix_spawn` to `wait4`'s return, monotonic clock.
    package var wallSeconds: Double
    /// The program's own peak resident set size in KiB (see ``spawnMeasured(_:environment:stdoutPath:stderrPath:)``).
    package var maxRSSKiB: Int
    package var userSeconds: Double
    package var systemSeconds: Double
}

/// GNU time, which the peak RSS is measured through when it is installed.
package let timeProgram = "/usr/bin/time"

/// Whether ``timeProgram`` is there.
package let haveTimeProgram = access(timeProgram, X_OK) == 0

/// Runs `argv` as a fresh process (`posix_spawn`, stdin `/dev/null`, stdout and stderr to files) with exactly
/// `environment`, and waits for it with `wait4`, whose `rusage` is that one child's, not the sum or maximum over
/// all children that `getrusage(RUSAGE_CHILDREN)` would give.
///
/// The peak RSS is not `wait4`'s `ru_maxrss` of our own child: Linux keeps a process's `maxrss` across `execve`,
/// and a child made by `posix_spawn` (or `fork`) starts with *this* process's high-water mark, so `ru_maxrss`
/// would be max(the bench's own peak, the program's); generating a million-row data set puts the bench at 30 to 60
/// MiB. So when `measureRSS` is set and GNU time is installed, the program runs under `/usr/bin/time -f %M`,
/// whose forked grandchild starts from time's own few hundred KiB, and its figure is taken. Without GNU time the
/// figure is `ru_maxrss` and a warning says it is an upper bound.
package func spawnMeasured(_ argv: [String], environment: [String], stdoutPath: String, stderrPath: String, measureRSS: Bool = false) throws
    -> ChildResult
{
    let rssPath = stdoutPath + ".rss"
    let throughTime = measureRSS && haveTimeProgram
    let argv = throughTime ? [timeProgram, "-f", "%M", "-o", rssPath, "--"] + argv : argv
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    let cArgv = argv.map { strdup($0) } + [nil]
    let cEnv = environment.map { strdup($0) } + [nil]
    defer {
        cArgv.forEach { free($0) }
        cEnv.forEach { free($0) }
    }
    var pid: pid_t = 0
    let start = MonotonicClock.seconds()
    let result = posix_spawn(&pid, argv[0], &actions, nil, cArgv, cEnv)
    guard result == 0 else { throw BenchError("cannot start \(argv[0]): \(String(cString: strerror(result)))") }
    var status: Int32 = 0
    var usage = rusage()
    while wait4(pid, &status, 0, &usage) < 0 {
        guard errno == EINTR else { throw BenchError("wait4: \(String(cString: strerror(errno)))") }
    }
    let wall = MonotonicClock.seconds() - start
    let signal = status & 0x7f
    let code = signal == 0 ? (status >> 8) & 0xff : 128 + signal
    func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
    var rss = Int(usage.ru_maxrss)
    if throughTime {
        let text = (try? String(contentsOfFile: rssPath, encoding: .utf8)) ?? ""
        guard let value = text.split(whereSeparator: \.isNewline).last.flatMap({ Int($0.trimmingCharacters(in: .whitespaces)) }) else {
            throw BenchError("cannot read the peak RSS GNU time wrote in \(rssPath): '\(text)'")
        }
        rss = value
        unlink(rssPath)
    }
    return ChildResult(exitCode: code, wallSeconds: wall, maxRSSKiB: rss,
                       userSeconds: seconds(usage.ru_utime), systemSeconds: seconds(usage.ru_stime))
}

/// A benchmark that cannot go on, and why.
package struct BenchError: Error, CustomStringConvertible {
    package var description: String
    package init(_ description: String) { self.description = description }
}

/// `value` with `digits` decimals.
package func fmt(_ value: Double, _ digits: Int = 3) -> String { String(format: "%.\(digits)f", value) }
/// KiB as MiB with one decimal.
package func mib(_ kib: Int) -> String { fmt(Double(kib) / 1024, 1) }
/// `count` per second, rounded; `-` for no time.
package func rate(_ count: Int, _ seconds: Double) -> String { seconds > 0 ? String(Int((Double(count) / seconds).rounded())) : "-" }
