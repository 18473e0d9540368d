package import ExportCleanupConfig

extension CleanupSettings {
    /// Whether both settings have the same values, wherever they came from (`==` compares the sources too).
    package func hasSameValues(as other: CleanupSettings) -> Bool {
        SettingKey.allCases.allSatisfy { text(of: $0) == other.text(of: $0) }
    }
}
