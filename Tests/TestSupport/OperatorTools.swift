import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// This repository's root (from this file's path), to read its files (the catalog, the sample configuration).
public let repositoryRoot: String = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

/// Debian's `python3` (CI installs it and `python3-prometheus-client` with apt), else whatever is on PATH.
public enum Python {
    public static let path: String = FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") ? "/usr/bin/python3" : "python3"

    /// Runs `script` with `arguments`; throws ``TestFailure`` when it exits non-zero.
    public static func run(_ script: String, _ arguments: [String] = [], timeout: Double = 60) throws -> ProcessResult {
        let result = try runProcess(path.hasPrefix("/") ? path : "/usr/bin/env", (path.hasPrefix("/") ? [] : [path]) + ["-c", script] + arguments,
                                    timeout: timeout)
        guard result.status == 0 else { throw TestFailure("python3 exit \(result.status): \(result.stderr)") }
        return result
    }
}

/// A metrics file read back with the Prometheus project's own Python parser (`prometheus_client.parser`).
public struct PrometheusSamples: Sendable {
    /// One sample: the series name as written (`..._total` included), its labels, its value.
    public struct Sample: Sendable, Decodable {
        public var name: String
        public var labels: [String: String]
        public var value: Double
    }

    /// Family name (as the parser names it: without `_total` for counters) → type (`counter`, `gauge`).
    public var types: [String: String]
    /// Family name → help text.
    public var help: [String: String]
    public var samples: [Sample]

    /// The value of `name` with exactly `labels`, or nil.
    public func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        samples.first { $0.name == name && $0.labels == labels }?.value
    }

    static let parser = #"""
        import json, sys
        from prometheus_client.parser import text_string_to_metric_families
        text = open(sys.argv[1], encoding="utf-8").read()
        out = {"types": {}, "help": {}, "samples": []}
        for family in text_string_to_metric_families(text):
            out["types"][family.name] = family.type
            out["help"][family.name] = family.documentation
            for s in family.samples:
                out["samples"].append({"name": s.name, "labels": s.labels, "value": s.value})
        print(json.dumps(out))
        """#

    /// Parses the file at `path`; throws when the parser refuses it.
    public static func parse(file path: String) throws -> PrometheusSamples {
        struct Output: Decodable {
            var types: [String: String]
            var help: [String: String]
            var samples: [Sample]
        }
        let output = try JSONDecoder().decode(Output.self, from: Data(try Python.run(parser, [path]).stdout.utf8))
        return PrometheusSamples(types: output.types, help: output.help, samples: output.samples)
    }
}

/// Runs a program with its stderr on a pseudo-terminal (Python's `pty`), stdout to a file: what a person at a
/// terminal sees on stderr, byte for byte (carriage returns and escape sequences included).
public enum PseudoTerminal {
    static let runner = #"""
        import os, pty, subprocess, sys
        out_path, err_path = sys.argv[1], sys.argv[2]
        master, slave = pty.openpty()
        with open(out_path, "wb") as out:
            child = subprocess.Popen(sys.argv[3:], stdin=subprocess.DEVNULL, stdout=out, stderr=slave)
        os.close(slave)
        data = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            data += chunk
        status = child.wait()
        open(err_path, "wb").write(data)
        sys.exit(status if status >= 0 else 128 - status)
        """#

    /// The exit status, stdout (a file) and stderr (the terminal's bytes) of `arguments` run with `environment`.
    public static func run(_ arguments: [String], environment: [String: String], in directory: String) throws
        -> (status: Int32, stdout: String, stderr: String)
    {
        let out = directory + "/pty.stdout", err = directory + "/pty.stderr"
        let python = Python.path.hasPrefix("/") ? Python.path : "/usr/bin/python3"
        let result = try runProcess(python, ["-c", runner, out, err] + arguments, environment: environment, timeout: 120)
        return (result.status, (try? String(contentsOfFile: out, encoding: .utf8)) ?? "",
                (try? String(contentsOfFile: err, encoding: .utf8)) ?? "")
    }
}
