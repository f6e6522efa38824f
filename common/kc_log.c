/* kc_log.c - the levelled logger behind kc_log.h: stderr, the journal (through
 * the writer the program installs) or syslog. No libsystemd here: libkcingest
 * links this file. */
#include "kc_log.h"

#include "kc_err.h"
#include "kc_time.h"

#include <ctype.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>

static const char *s_ident = "kcpipe";
static kc_log_level_t s_level = KC_LOG_INFO;
static kc_log_sink_fn s_sink = NULL;
static void *s_sink_ctx = NULL;
static kc_log_target_t s_target = KC_LOG_TARGET_STDERR;
static kc_log_journal_fn s_journal = NULL;
static void *s_journal_ctx = NULL;
static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const s_names[] = {"error", "warn", "info", "debug"};
static const int s_syslog_prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
static const char *const s_target_names[] = {"auto", "stderr", "journal", "syslog"};

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

int kc_log_parse_target(const char *s, kc_log_target_t *out)
{
    for (int i = 0; i <= KC_LOG_TARGET_SYSLOG; i++)
        if (s && strcmp(s, s_target_names[i]) == 0) {
            *out = (kc_log_target_t)i;
            return 0;
        }
    return KC_EINVAL;
}

const char *kc_log_target_name(kc_log_target_t target)
{
    return (int)target >= 0 && target <= KC_LOG_TARGET_SYSLOG ? s_target_names[target] : "?";
}

/* Non-zero if stderr is connected to the journal (JOURNAL_STREAM names it). */
static int s_stderr_is_journal(void)
{
    const char *e = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;
    if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2 || fstat(2, &st) != 0)
        return 0;
    return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void kc_log_set_target(kc_log_target_t target)
{
    if (target == KC_LOG_TARGET_AUTO)
        target = s_stderr_is_journal() ? KC_LOG_TARGET_JOURNAL : KC_LOG_TARGET_STDERR;
    pthread_mutex_lock(&s_lock);
    if (s_target == KC_LOG_TARGET_SYSLOG && target != KC_LOG_TARGET_SYSLOG)
        closelog();
    if (target == KC_LOG_TARGET_SYSLOG && s_target != KC_LOG_TARGET_SYSLOG)
        openlog(s_ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
    s_target = target;
    pthread_mutex_unlock(&s_lock);
}

kc_log_target_t kc_log_get_target(void)
{
    return s_target;
}

void kc_log_set_journal_sender(kc_log_journal_fn fn, void *ctx)
{
    pthread_mutex_lock(&s_lock);
    s_journal = fn;
    s_journal_ctx = ctx;
    pthread_mutex_unlock(&s_lock);
}

size_t kc_log_message_token(const char *m)
{
    if (!m || strncmp(m, "KC-", 3) != 0)
        return 0;
    for (int i = 3; i < 6; i++)
        if (!isupper((unsigned char)m[i]))
            return 0;
    if (m[6] != '-')
        return 0;
    for (int i = 7; i < 10; i++)
        if (!isdigit((unsigned char)m[i]))
            return 0;
    return m[10] == ' ' || m[10] == '\0' ? 10 : 0;
}

void kc_log_message_id(const char *token, size_t len, char out[33])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const unsigned char *)"kcpipe/", 7);
    crypto_hash_sha256_update(&st, (const unsigned char *)token, len);
    crypto_hash_sha256_final(&st, h);
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", h[i]);
}

/* Under s_lock. */
static void s_journal_send(kc_log_level_t level, const char *msg)
{
    char f_msg[2100], f_prio[16], f_ident[160], f_id[64], f_kcid[40];
    struct iovec iov[5];
    int n = 0;
    snprintf(f_msg, sizeof f_msg, "MESSAGE=%s", msg);
    snprintf(f_prio, sizeof f_prio, "PRIORITY=%d", s_syslog_prio[level]);
    snprintf(f_ident, sizeof f_ident, "SYSLOG_IDENTIFIER=%s", s_ident);
    iov[n++] = (struct iovec){f_msg, strlen(f_msg)};
    iov[n++] = (struct iovec){f_prio, strlen(f_prio)};
    iov[n++] = (struct iovec){f_ident, strlen(f_ident)};
    size_t tl = kc_log_message_token(msg);
    if (tl) {
        char hex[33];
        kc_log_message_id(msg, tl, hex);
        snprintf(f_id, sizeof f_id, "MESSAGE_ID=%s", hex);
        snprintf(f_kcid, sizeof f_kcid, "KC_MESSAGE_ID=%.*s", (int)tl, msg);
        iov[n++] = (struct iovec){f_id, strlen(f_id)};
        iov[n++] = (struct iovec){f_kcid, strlen(f_kcid)};
    }
    int rc = s_journal ? s_journal(iov, n, s_journal_ctx) : -1;
    if (rc < 0) /* no journal (or no writer): never lose the line */
        fprintf(stderr, "%s %s: %s\n", s_ident, s_names[level], msg);
}

void kc_logv(kc_log_level_t level, const char *fmt, va_list ap)
{
    if (level > s_level)
        return;
    char line[2048];
    char when[KC_TIME_ISO_MAX];
    kc_time_iso(kc_time_real_ns(), 3, when, sizeof when);
    int n = snprintf(line, sizeof line, "%s %s %s: ", when, s_ident, s_names[level]);
    if (n < 0 || (size_t)n >= sizeof line)
        n = 0;
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    const char *msg = line + n;
    pthread_mutex_lock(&s_lock);
    if (s_sink)
        s_sink(level, line, s_sink_ctx);
    else if (s_target == KC_LOG_TARGET_JOURNAL)
        s_journal_send(level, msg);
    else if (s_target == KC_LOG_TARGET_SYSLOG)
        syslog(s_syslog_prio[level], "%s", msg);
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
