import ArgumentParser
import ExportCleanupConfig
import Foundation

/// `export-cleanup generate-conf-manual`: prints `export-cleanup.conf(5)` (roff, man macros) from the settings
/// table (``SettingKey``: key, flag, default, allowed values, summary, notes), so every key is documented as the
/// code reads it. Hidden: `scripts/build-docs.sh` runs it.
struct GenerateConfManualCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate-conf-manual",
        abstract: "Prints the export-cleanup.conf(5) manual page (roff), generated from the settings table.",
        shouldDisplay: false)

    @Option(help: "The date on the page (YYYY-MM-DD), e.g. the last commit's.")
    var date = "1970-01-01"

    func run() {
        print(confManual(date: date), terminator: "")
    }
}

/// `export-cleanup.conf(5)`.
func confManual(date: String) -> String {
    var page = """
        .TH EXPORT-CLEANUP.CONF 5 "\(roff(date))" "export-cleanup" "File Formats Manual"
        .SH NAME
        export-cleanup.conf \\- configuration of export-cleanup
        .SH SYNOPSIS
        .B \(CleanupSettings.defaultConfigPath)
        .SH DESCRIPTION
        One setting per line as
        .IR KEY = value ,
        the syntax of systemd's
        .B EnvironmentFile=
        (so a unit may name the same file there). Lines whose first non-blank character is
        .B #
        or
        .B ;
        are comments; a comment after a value is part of the value. Values may be quoted with double quotes
        (with \\e\\(dq and \\e\\e escapes) or single quotes (literal); quote a value that contains a backslash.
        Each key may appear once; an unknown key, a bad value or a file starting with a byte order mark is an error
        naming the file, the line and the key (exit code 78); on SIGHUP the daemon logs it and keeps its configuration.
        .PP
        Every key is also read from the environment variable of the same name and from its command-line flag.
        Precedence: flag, then environment, then this file, then the built-in default.
        .B \\-\\-config
        .I file
        names another file (which must exist); without it
        .B \(CleanupSettings.defaultConfigPath)
        is read when present.
        Relative paths are relative to the working directory, which is
        .B /
        under systemd: use absolute paths.
        .SH SETTINGS

        """
    for key in SettingKey.allCases {
        let defaultText = key.defaultValueText.isEmpty ? "empty" : key.defaultValueText
        page += ".TP\n.BI \(key.rawValue)= value\n"
        page += "\(roff(key.summary))\n"
        page += ".br\nFlag: \\fB\(roff(key.flagName))\\fR. Default: \\fB\(roff(defaultText))\\fR. Allowed: \(roff(key.allowedValues)).\n"
        if let notes = key.notes { page += ".br\n\(roff(notes))\n" }
    }
    page += """
        .SH EXAMPLE
        .EX
        EXPORT_STORAGE_PATH=/srv/app/exports
        EXPORT_CLEANUP_DATABASE=/srv/app/db/app.db
        EXPORT_CLEANUP_RETENTION_HOURS=48
        EXPORT_CLEANUP_METRICS_FILE=/var/lib/prometheus/node\\-exporter/export\\-cleanup.prom
        .EE
        .SH FILES
        .TP
        .B \(CleanupSettings.defaultConfigPath)
        The default configuration file.
        .TP
        .B /var/lib/export\\-cleanup/last\\-sweep.json
        The last sweep's status, under the units' StateDirectory=export\\-cleanup.
        .SH SEE ALSO
        .BR export\\-cleanup (8),
        .BR systemd.exec (5),
        .BR journalctl (1)

        """
    return page
}

/// `text` safe in a roff line: backslashes and dashes escaped, no line starting with a control character.
func roff(_ text: String) -> String {
    var escaped = text.replacingOccurrences(of: "\\", with: "\\e").replacingOccurrences(of: "-", with: "\\-")
    if escaped.hasPrefix(".") || escaped.hasPrefix("'") { escaped = "\\&" + escaped }
    return escaped
}
