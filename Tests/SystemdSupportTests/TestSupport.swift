import Foundation
import Glibc
import TestSupport

/// The SystemdSupportProbe executable (Tests/SystemdSupportProbe), run as a child process.
///
/// Tests never change their own environment (adding a variable can free the `environ` array while another thread,
/// such as one spawning a process, reads it): what depends on `NOTIFY_SOCKET` or `WATCHDOG_*` runs in the probe,
/// with the variables in the environment it is spawned with.
enum Probe {
    /// The probe sits next to the test bundle in the build products directory.
    static var path: String { productsDirectory + "/SystemdSupportProbe" }

    /// The variables the probe's results depend on; never inherited from the test process.
    static let controlledVariables: Set<String> = ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"]

    /// The test process's environment without ``controlledVariables``, plus `variables`.
    static func environment(_ variables: [String: String]) -> [String: String] {
        ProcessInfo.processInfo.environment.filter { !controlledVariables.contains($0.key) }.merging(variables) { $1 }
    }

    /// Runs `executable` (the probe by default) with exactly `environment`; see ``runProcess(_:_:environment:cwd:timeout:timeoutSignal:whileRunning:)``.
    static func run(
        _ arguments: [String], environment: [String: String], executable: String = Probe.path, timeout: Double = 60,
        whileRunning: () -> Void = { usleep(10_000) }
    ) throws -> ProcessResult {
        try runProcess(executable, arguments, environment: environment, timeout: timeout, whileRunning: whileRunning)
    }
}
