/* kc_time.c - the clocks and the ISO 8601 text of kc_time.h. */
#include "kc_time.h"

#include <stdio.h>
#include <time.h>

int64_t kc_time_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t kc_time_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

double kc_time_mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

uint64_t kc_time_real_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

char *kc_time_iso(uint64_t ns, unsigned digits, char *buf, size_t cap)
{
    time_t secs = (time_t)(ns / 1000000000u);
    unsigned frac = (unsigned)(ns % 1000000000u);
    struct tm tm;
    gmtime_r(&secs, &tm);
    if (digits > 9)
        digits = 9;
    for (unsigned i = digits; i < 9; i++)
        frac /= 10;
    if (digits == 0)
        snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    else
        snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%0*uZ", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)digits, frac);
    return buf;
}
