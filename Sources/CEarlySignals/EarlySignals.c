// Blocks SIGHUP, SIGTERM and SIGINT before any Swift code runs, for the two commands that handle them (`run` and
// `sweep`): a signal sent while the process is still loading, reading its configuration or waiting on a locked
// database stays pending instead of killing it (SIGHUP's default action) or being lost, and is delivered once the
// command has installed its handlers (libdispatch signal sources read pending signals). Every thread the process
// starts later inherits the mask. A process constructor is the only place earlier than `main`; Swift has none.
// Other commands (and test bundles that link this target) keep the default mask.
#define _GNU_SOURCE
#include <signal.h>
#include <string.h>
#include "CEarlySignals.h"

static int blocked = 0;

__attribute__((constructor)) static void export_cleanup_block_signals(int argc, char **argv, char **envp) {
    (void)envp;
    if (argc < 2 || argv == NULL || argv[1] == NULL) return;
    if (strcmp(argv[1], "run") != 0 && strcmp(argv[1], "sweep") != 0) return;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) == 0) blocked = 1;
}

int export_cleanup_early_signals_blocked(void) { return blocked; }
