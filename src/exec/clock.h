/* Wall-clock time for the executor's timings and reports. */
#ifndef RG_CLOCK_H
#define RG_CLOCK_H

#include <time.h>

/* Returns seconds on the monotonic clock, from an arbitrary origin. */
static inline double clock_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#endif
