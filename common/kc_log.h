/* kc_log.h - one levelled logger for every kcpipe program.
 *
 * Libraries never print: they log through kc_log(), whose sink is chosen by the
 * program (stderr by default). Lines look like
 *   2026-11-27T09:53:30.123Z kc-aggregator warn: text
 */
#ifndef KC_LOG_H
#define KC_LOG_H

#include <stdarg.h>

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

void kc_log(kc_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void kc_logv(kc_log_level_t level, const char *fmt, va_list ap);

#define kc_error(...) kc_log(KC_LOG_ERROR, __VA_ARGS__)
#define kc_warn(...)  kc_log(KC_LOG_WARN, __VA_ARGS__)
#define kc_info(...)  kc_log(KC_LOG_INFO, __VA_ARGS__)
#define kc_debug(...) kc_log(KC_LOG_DEBUG, __VA_ARGS__)

#endif
