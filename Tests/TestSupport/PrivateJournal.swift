import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A real, private `systemd-journald` for a test: in a mount namespace (`unshare --mount --propagation private`)
/// tmpfs is mounted on `/run` and `/var/log/journal` (so neither the host's runtime nor persistent journal is
/// touched), journald is started, a payload script runs, and the entries are read back with `journalctl -o json`.
/// journald is killed by its PID when the script exits.
public enum PrivateJournal {
    public static let journald: String? = ["/lib/systemd/systemd-journald", "/usr/lib/systemd/systemd-journald"].first {
        access($0, X_OK) == 0
    }

    /// The environment of the script and its payload: nothing inherited.
    static let environment = ["PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"]

    /// Why a private journal cannot run here, or nil.
    public static let skipReason: String? = {
        guard geteuid() == 0 else { return "not root" }
        guard journald != nil else { return "no systemd-journald installed" }
        guard let result = try? runProcess("/usr/bin/unshare", ["--mount", "--propagation", "private", "true"], environment: environment)
        else { return "unshare cannot be started" }
        guard result.status == 0 else { return "unshare --mount is not permitted (exit \(result.status))" }
        return nil
    }()

    /// Whether the journal tests run: when a journal can run here, and always under `CI=true` (where they then
    /// fail loudly instead of being skipped). Prints why they are skipped.
    public static let canRun: Bool = {
        guard let skipReason else { return true }
        if ProcessInfo.processInfo.environment["CI"] == "true" {
            print("journal tests cannot run here (\(skipReason)), but CI must run them: running anyway")
            return true
        }
        print("journal tests skipped: \(skipReason)")
        return false
    }()

    /// Starts journald, runs the payload with `out` in its environment, waits for the entries, writes them to
    /// `$out/entries.json`. Exits 90–93 when journald cannot start, 94 when the payload fails.
    static let script = #"""
        set -u
        journald="$1"; out="$2"; id="$3"; expected="$4"; payload="$5"; shift 5
        mount -t tmpfs -o mode=0755 tmpfs /run || exit 90
        if [ -d /var/log/journal ]; then mount -t tmpfs tmpfs /var/log/journal || exit 91; fi
        mkdir -p /run/systemd/journal /run/log/journal
        "$journald" </dev/null >"$out/journald.log" 2>&1 &
        journald_pid=$!
        trap 'kill "$journald_pid" 2>/dev/null; wait "$journald_pid" 2>/dev/null' EXIT
        trap 'exit 143' TERM INT
        i=0
        while [ ! -S /run/systemd/journal/socket ]; do
            i=$((i + 1)); [ "$i" -gt 200 ] && { echo "journald did not create its socket" >&2; exit 92; }
            kill -0 "$journald_pid" 2>/dev/null || { echo "journald exited" >&2; exit 93; }
            sleep 0.05
        done
        out="$out" /bin/sh "$payload" "$@" || { echo "the payload failed (exit $?)" >&2; exit 94; }
        i=0
        while [ "$(journalctl -D /run/log/journal -o json SYSLOG_IDENTIFIER="$id" 2>/dev/null | wc -l)" -lt "$expected" ]; do
            i=$((i + 1)); [ "$i" -gt 100 ] && break
            sleep 0.05
        done
        journalctl -D /run/log/journal -o json SYSLOG_IDENTIFIER="$id" >"$out/entries.json"
        """#

    /// Runs `payload` (a `/bin/sh` script body that gets `arguments` as `$1`… and the output directory as `$out`)
    /// under a private journald, then returns the entries whose `SYSLOG_IDENTIFIER` is `identifier`, once at least
    /// `expectedEntries` are there (or after 5 s). The script gets SIGTERM after `timeout` seconds.
    /// - Throws: ``TestFailure`` with the script's stderr and journald's log when the script fails.
    public static func entries(
        identifier: String, expectedEntries: Int = 0, payload: String, arguments: [String], in directory: String,
        timeout: Double = 60
    ) throws -> [[String: Any]] {
        let scriptPath = directory + "/private-journal.sh", payloadPath = directory + "/payload.sh"
        try script.write(toFile: scriptPath, atomically: true, encoding: .utf8)
        try payload.write(toFile: payloadPath, atomically: true, encoding: .utf8)
        let result = try runProcess(
            "/usr/bin/unshare",
            ["--mount", "--propagation", "private", "/bin/sh", scriptPath, journald ?? "", directory, identifier,
             String(expectedEntries), payloadPath] + arguments,
            environment: environment, timeout: timeout, timeoutSignal: SIGTERM)
        guard result.status == 0 else {
            let journaldLog = (try? String(contentsOfFile: directory + "/journald.log", encoding: .utf8)) ?? ""
            throw TestFailure("journal script exit \(result.status): \(result.stderr)\njournald: \(journaldLog)")
        }
        return try String(contentsOfFile: directory + "/entries.json", encoding: .utf8).split(separator: "\n").map { line in
            guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                throw TestFailure("not a JSON object: \(line)")
            }
            return object
        }
    }

    /// journalctl's JSON value: a string, `null` (too large), an array of byte numbers (binary or multi-line),
    /// or an array of those when the field occurs more than once.
    public static func fieldValues(_ value: Any) -> [String] {
        switch value {
        case let text as String:
            return [text]
        case let array as [Any]:
            if array.allSatisfy({ $0 is NSNumber }), let bytes = array as? [NSNumber] {
                return [String(decoding: bytes.map { $0.uint8Value }, as: UTF8.self)]
            }
            return array.flatMap(fieldValues)
        default:
            return []
        }
    }
}
