#include <sys/timex.h>
#include <string.h>
#include "clock_status.h"

int export_cleanup_clock_state(int *status) {
    struct timex value;
    memset(&value, 0, sizeof value);
    value.modes = 0;
    int state = adjtimex(&value);
    *status = value.status;
    return state;
}
