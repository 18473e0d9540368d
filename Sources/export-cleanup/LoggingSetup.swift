import Logging

/// Bootstraps logging for an interactive command: readable lines on stderr.
func bootstrapCommandLogging(level: Logger.Level, logFile: String?) -> Logger {
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = level
        return handler
    }
    var logger = Logger(label: "export-cleanup")
    logger.logLevel = level
    return logger
}
