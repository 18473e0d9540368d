#ifndef EXPORT_CLEANUP_CLOCK_STATUS_H
#define EXPORT_CLEANUP_CLOCK_STATUS_H

/// Reads the kernel's clock state with adjtimex(2) and modes = 0 (read only: the clock and its discipline are
/// never changed). Returns adjtimex's return value (TIME_OK ... TIME_ERROR, or -1 with errno set) and stores the
/// timex status bits in *status.
int export_cleanup_clock_state(int *status);

#endif
