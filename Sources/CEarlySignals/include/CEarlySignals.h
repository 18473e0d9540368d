#ifndef EXPORT_CLEANUP_EARLY_SIGNALS_H
#define EXPORT_CLEANUP_EARLY_SIGNALS_H

/// Whether the process constructor blocked SIGHUP, SIGTERM and SIGINT (for `run` and `sweep`).
int export_cleanup_early_signals_blocked(void);

#endif
