/* kc_progress.h - a progress line for long runs (replay, verify, export).
 *
 * On a terminal (stderr is a tty) it redraws one line at most ten times a
 * second: a bar, the percentage, items done of the total, items per second and
 * the time left. Elsewhere (a pipe, a log file, a test) it prints nothing, so
 * output stays clean for scripts. The callback signature matches the progress
 * arguments of kc_audit_verify(), kc_logfile_export() and kc_logfile_verify().
 */
#ifndef KC_PROGRESS_H
#define KC_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    const char *what; /* "rebuild", "verify", ... (borrowed) */
    const char *unit; /* "events" (borrowed) */
    bool enabled;     /* stderr is a terminal */
    double start;     /* monotonic seconds at kc_progress_init */
    double last_draw; /* when the line was last drawn */
    bool drawn;       /* a line is on screen */
} kc_progress_t;

void kc_progress_init(kc_progress_t *p, const char *what, const char *unit);
/* Report done of total (total 0 = unknown); redraws when due. */
void kc_progress_update(kc_progress_t *p, uint64_t done, uint64_t total);
/* A callback form of kc_progress_update; ctx is the kc_progress_t. */
void kc_progress_cb(uint64_t done, uint64_t total, void *ctx);
/* Draw the final state and end the line (no-op if nothing was drawn). */
void kc_progress_done(kc_progress_t *p, uint64_t done, uint64_t total);

#endif
