/* kc_log.c - the levelled logger behind kc_log.h. */
#include "kc_log.h"

#include "kc_err.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *s_ident = "kcpipe";
static kc_log_level_t s_level = KC_LOG_INFO;
static kc_log_sink_fn s_sink = NULL;
static void *s_sink_ctx = NULL;
static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const s_names[] = {"error", "warn", "info", "debug"};

void kc_log_set_ident(const char *ident)
{
    s_ident = ident ? ident : "kcpipe";
}
void kc_log_set_level(kc_log_level_t level)
{
    s_level = level;
}
kc_log_level_t kc_log_get_level(void)
{
    return s_level;
}

void kc_log_set_sink(kc_log_sink_fn fn, void *ctx)
{
    pthread_mutex_lock(&s_lock);
    s_sink = fn;
    s_sink_ctx = ctx;
    pthread_mutex_unlock(&s_lock);
}

int kc_log_parse_level(const char *s, kc_log_level_t *out)
{
    for (int i = 0; i <= KC_LOG_DEBUG; i++)
        if (s && strcmp(s, s_names[i]) == 0) {
            *out = (kc_log_level_t)i;
            return 0;
        }
    return KC_EINVAL;
}

void kc_logv(kc_log_level_t level, const char *fmt, va_list ap)
{
    if (level > s_level)
        return;
    char line[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof line,
                     "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s: ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000L, s_ident, s_names[level]);
    if (n < 0 || (size_t)n >= sizeof line)
        n = 0;
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    pthread_mutex_lock(&s_lock);
    if (s_sink)
        s_sink(level, line, s_sink_ctx);
    else
        fprintf(stderr, "%s\n", line);
    pthread_mutex_unlock(&s_lock);
}

void kc_log(kc_log_level_t level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kc_logv(level, fmt, ap);
    va_end(ap);
}
