import ArgumentParser
import ExportCleanupConfig

/// `--metrics-file FILE`.
struct MetricsFileOption: ParsableArguments {
    @Option(name: .customLong("metrics-file"), help: ArgumentHelp(
        "Write Prometheus metrics to this file after every sweep (\(SettingKey.metricsFile.rawValue); default none).",
        valueName: "file"))
    var metricsFile: String?

    var flags: [SettingKey: String] { metricsFile.map { [.metricsFile: $0] } ?? [:] }
}

/// `--state-directory DIR`.
struct StateDirectoryOption: ParsableArguments {
    @Option(name: .customLong("state-directory"), help: ArgumentHelp(
        "Keep the last sweep's report in this directory (\(SettingKey.stateDirectory.rawValue); default "
            + "$\(CleanupSettings.systemdStateDirectoryVariable), set by the units' StateDirectory=).",
        valueName: "dir"))
    var stateDirectory: String?

    var flags: [SettingKey: String] { stateDirectory.map { [.stateDirectory: $0] } ?? [:] }
}
