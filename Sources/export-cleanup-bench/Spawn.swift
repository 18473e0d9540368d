#if canImport(Glibc)
import Glibc
#endif

/// What one measured child process did.
struct ChildResult {
    /// The exit code (or 128 + signal).
    var exitCode: Int32
    /// Wall time from `posix_spawn` to `wait4`'s return, monotonic clock.
    var wallSeconds: Double
    /// The child's own peak resident set size (`wait4`'s `ru_maxrss`), in KiB.
    var maxRSSKiB: Int
    var userSeconds: Double
    var systemSeconds: Double
}

/// Seconds on the monotonic clock.
func monotonicSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}

/// Runs `argv` as a fresh process (`posix_spawn`, stdin `/dev/null`, stdout and stderr to files) with exactly
/// `environment`, and waits for it with `wait4`, whose `rusage` is that one child's, not the sum or maximum over
/// all children that `getrusage(RUSAGE_CHILDREN)` would give.
func spawnMeasured(_ argv: [String], environment: [String], stdoutPath: String, stderrPath: String) throws -> ChildResult {
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
    let start = monotonicSeconds()
    let result = posix_spawn(&pid, argv[0], &actions, nil, cArgv, cEnv)
    guard result == 0 else { throw BenchError("cannot start \(argv[0]): \(String(cString: strerror(result)))") }
    var status: Int32 = 0
    var usage = rusage()
    while wait4(pid, &status, 0, &usage) < 0 {
        guard errno == EINTR else { throw BenchError("wait4: \(String(cString: strerror(errno)))") }
    }
    let wall = monotonicSeconds() - start
    let signal = status & 0x7f
    let code = signal == 0 ? (status >> 8) & 0xff : 128 + signal
    func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
    return ChildResult(exitCode: code, wallSeconds: wall, maxRSSKiB: Int(usage.ru_maxrss),
                       userSeconds: seconds(usage.ru_utime), systemSeconds: seconds(usage.ru_stime))
}
