/* kc_log.h - one levelled logger for every kcpipe program.
 *
 * Libraries never print: they log through kc_log(), whose sink is chosen by the
 * program (stderr by default). Lines look like
 *   2026-11-27T09:53:30.123Z kc-aggregator warn: text
 *
 * Targets (kc_log_set_target, --log-target): stderr (the line above); journal
 * (MESSAGE=text, PRIORITY=3/4/6/7, SYSLOG_IDENTIFIER=ident, and for a text that
 * starts with a stable message id "KC-XXX-NNN " also MESSAGE_ID=<128-bit id> and
 * KC_MESSAGE_ID=KC-XXX-NNN, handed to the journal writer that the program
 * installed with kc_log_set_journal_sender(): the daemons install
 * kc_service_journal_send, sd_journal_sendv; libkcingest never does, so that
 * kccommon needs no libsystemd); syslog (openlog with LOG_PID, facility
 * LOG_DAEMON; the text, id included). auto = journal when stderr is connected to
 * the journal (JOURNAL_STREAM names stderr's device and inode), else stderr. A
 * sink set with kc_log_set_sink() overrides every target.
 *
 * Stable ids (docs/MESSAGES.md): MESSAGE_ID is the first 16 bytes of
 * SHA-256("kcpipe/" + token) in lower-case hex, e.g. for KC-SEC-003:
 *   printf 'kcpipe/KC-SEC-003' | sha256sum | cut -c1-32
 */
#ifndef KC_LOG_H
#define KC_LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <sys/uio.h>

typedef enum { KC_LOG_ERROR = 0, KC_LOG_WARN, KC_LOG_INFO, KC_LOG_DEBUG } kc_log_level_t;

typedef void (*kc_log_sink_fn)(kc_log_level_t level, const char *line, void *ctx);

/* Program name shown on each line (borrowed; must outlive logging). */
void kc_log_set_ident(const char *ident);
/* Messages above `level` are dropped. Default KC_LOG_INFO. */
void kc_log_set_level(kc_log_level_t level);
kc_log_level_t kc_log_get_level(void);
/* Replace the sink (NULL restores stderr). Used by tests to capture lines. */
void kc_log_set_sink(kc_log_sink_fn fn, void *ctx);
/* Parse "error|warn|info|debug"; returns 0 or KC_EINVAL. */
int kc_log_parse_level(const char *s, kc_log_level_t *out);

typedef enum {
    KC_LOG_TARGET_AUTO = 0,
    KC_LOG_TARGET_STDERR,
    KC_LOG_TARGET_JOURNAL,
    KC_LOG_TARGET_SYSLOG
} kc_log_target_t;

/* Parse "auto|stderr|journal|syslog"; returns 0 or KC_EINVAL. */
int kc_log_parse_target(const char *s, kc_log_target_t *out);
/* Log to `target` from now on (auto is resolved here; syslog is opened, or
 * closed when leaving it). */
void kc_log_set_target(kc_log_target_t target);
/* The target in force (never AUTO). */
kc_log_target_t kc_log_get_target(void);
const char *kc_log_target_name(kc_log_target_t target);

/* Length of the stable message id token that starts `msg` ("KC-" + 3 upper-case
 * letters + "-" + 3 digits, followed by a space or the end), else 0. */
size_t kc_log_message_token(const char *msg);
/* The 128-bit MESSAGE_ID of a token (its first `len` bytes) as 32 lower-case
 * hex digits + NUL into out[33]. */
void kc_log_message_id(const char *token, size_t len, char out[33]);
/* The journal writer: fn(iov, n, ctx) sends one entry and returns >= 0, or < 0
 * when it could not (the line then goes to stderr as "ident level: text"). The
 * iovecs are "FIELD=value" strings, valid during the call; fn is called under
 * the logger's lock and must not log. Programs that may log to the journal set
 * kc_service_journal_send (kc_service.h, libsystemd) before choosing a target;
 * tests set a capture. NULL (the default): no writer, so the journal target
 * writes every line to stderr in the form above. */
typedef int (*kc_log_journal_fn)(const struct iovec *iov, int n, void *ctx);
void kc_log_set_journal_sender(kc_log_journal_fn fn, void *ctx);

void kc_log(kc_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void kc_logv(kc_log_level_t level, const char *fmt, va_list ap);

#define kc_error(...) kc_log(KC_LOG_ERROR, __VA_ARGS__)
#define kc_warn(...)  kc_log(KC_LOG_WARN, __VA_ARGS__)
#define kc_info(...)  kc_log(KC_LOG_INFO, __VA_ARGS__)
#define kc_debug(...) kc_log(KC_LOG_DEBUG, __VA_ARGS__)

#endif
