#ifndef CSYSTEMD_SHIM_H
#define CSYSTEMD_SHIM_H
/* Swift passes CODE_FILE/CODE_LINE/CODE_FUNC itself; keep sd-journal.h from rewriting
   sd_journal_sendv() into sd_journal_sendv_with_location() for C callers of this header. */
#ifndef SD_JOURNAL_SUPPRESS_LOCATION
#define SD_JOURNAL_SUPPRESS_LOCATION 1
#endif
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>
#include <sys/uio.h>
#endif
