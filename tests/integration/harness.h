/* harness.h - process harness for kcpipe's integration tests.
 *
 * DESIGN
 * Tests run the real programs (kc-aggregator, kc-send, kc-query from
 * $KC_BIN_DIR) as child processes on loopback. Rules the harness enforces:
 *   - every child is started by kc_harness_spawn() and recorded; an atexit
 *     handler SIGKILLs and reaps every child still running, so a failing test
 *     never leaves processes behind (each is stopped by its pid); children
 *     also get PR_SET_PDEATHSIG so that a test killed by ctest's timeout
 *     takes them with it;
 *   - there is no sleep standing for synchronisation: waiting is always for an
 *     observable event (a ready file, a child's exit, the store's log size)
 *     polled in short steps inside a deadline;
 *   - each test works in its own temp dir under $TMPDIR (or /tmp), removed
 *     when the test passes and kept (its path printed) when it fails.
 * Failures go through KC_CHECK(): a message with file:line, then exit(1).
 */
#ifndef KC_HARNESS_H
#define KC_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/wait.h>

#define KC_PATH_MAX 512

/* Fail the test with a message unless cond holds. */
#define KC_CHECK(cond, ...)                                                                        \
    do {                                                                                           \
        if (!(cond))                                                                               \
            kc_harness_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);                               \
    } while (0)

/* Report a failure, dump the tails of the children's logs, exit(1). */
void kc_harness_fail(const char *file, int line, const char *cond, const char *fmt, ...)
    __attribute__((format(printf, 4, 5), noreturn));

/* Milliseconds on CLOCK_MONOTONIC. */
int64_t kc_harness_now_ms(void);
/* One short poll step (a few milliseconds) inside a caller's deadline loop. */
void kc_harness_poll_pause(void);

/* Create the test's temp dir (named after `name`) and install the atexit
 * cleanup. Returns the dir (static storage). */
const char *kc_harness_init(const char *name);
/* The test passed: remove the temp dir (the atexit cleanup still reaps children). */
void kc_harness_pass(void);
/* path = <tempdir>/<fmt...>, into buf[KC_PATH_MAX]; returns buf. */
char *kc_harness_path(char *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Full path of a program in $KC_BIN_DIR, into buf[KC_PATH_MAX]; returns buf. */
char *kc_harness_bin(char *buf, const char *prog);

/* fork + execv argv[0] with stdout to out_path and stderr to err_path
 * (appending; NULL = /dev/null). Returns the pid (recorded for cleanup). */
pid_t kc_harness_spawn(char *const argv[], const char *out_path, const char *err_path);
/* Wait up to timeout_ms for pid to end. Returns 0 and the raw wait status in
 * *status, or -1 if it is still running at the deadline. */
int kc_harness_wait(pid_t pid, int timeout_ms, int *status);
/* Whether pid (a child of ours) has ended; reaps it and stores its status. */
bool kc_harness_exited(pid_t pid, int *status);
/* kill(pid, sig) and wait up to timeout_ms for it to end; on timeout SIGKILL
 * and reap. Returns the wait status. */
int kc_harness_stop(pid_t pid, int sig, int timeout_ms);
/* Describe a wait status ("exit 0", "signal 9") into buf; returns buf. */
const char *kc_harness_status_str(int status, char *buf, size_t cap);

/* A TCP port on 127.0.0.1 that is free now (checked by binding it) and lies
 * outside the kernel's ephemeral range, for an endpoint reused across restarts. */
int kc_harness_free_port(void);

/* Read the first line of a file (without the newline). 0, or -1. */
int kc_harness_read_line(const char *path, char *buf, size_t cap);

/* One kc-aggregator incarnation. */
typedef struct {
    pid_t pid;
    char store[KC_PATH_MAX];
    char ready[KC_PATH_MAX];
    char endpoint[128];
    char listen[128]; /* what it was asked to bind */
    int incarnation;  /* starts so far */
} kc_agg_t;

/* Start kc-aggregator on `store` binding `listen` (e.g. "tcp://127.0.0.1:*")
 * with --ready-file, and wait (bounded) until the ready file names its
 * endpoint. extra: NULL-terminated extra arguments or NULL. An aggregator that
 * ends before it is ready fails the test, its whole stderr printed and kept
 * (agg-<incarnation>.err, path named): a crash, sanitizer abort or error while
 * opening or recovering the store is never retried. The one exception, retried
 * up to 5 times: a fixed port taken by another process between
 * kc_harness_free_port() and the bind, recognised by the aggregator's own exit
 * 69 and "resource busy"/"Address already in use" lines and nothing from a
 * sanitizer; each such attempt's stderr is printed and kept even if the test
 * passes. Each attempt is a new incarnation. */
void kc_harness_agg_start(kc_agg_t *a, const char *store, const char *listen,
                          const char *const *extra);
/* The HTTP port its ready file names (line "http http://127.0.0.1:PORT/",
 * an aggregator started with --http 127.0.0.1:0); fails the test without one. */
unsigned kc_harness_agg_http_port(const kc_agg_t *a);
/* SIGKILL the aggregator and reap it. Fails the test (printing its stderr) if
 * it had ended already or ended otherwise than by this SIGKILL. */
void kc_harness_agg_kill(kc_agg_t *a);
/* SIGTERM the aggregator and check that it exits 0 within the deadline; if
 * not, fails the test printing all of its stderr. */
void kc_harness_agg_term(kc_agg_t *a);

/* Start `kc-send --connect EP --producer ID --spool SPOOL --timeout T
 * [--request-timeout-ms 1000] [extra...] CSV` writing stdout to out_path and
 * stderr to out_path".err". Returns the pid. */
pid_t kc_harness_send_start(const char *endpoint, const char *producer, const char *spool,
                            const char *csv, const char *out_path, const char *const *extra);

/* The summary line of kc-send. */
typedef struct {
    long rows, accepted, duplicates, rejected, malformed, unacknowledged;
} kc_summary_t;
/* Parse the last line of a kc-send stdout file. 0, or -1 if absent/garbled. */
int kc_harness_summary(const char *out_path, kc_summary_t *s);

/* Wait (bounded) for a kc-send to end (killed and failing the test after
 * timeout_ms), check that it exited want_exit and read its summary into *s. A
 * negative pid means the caller reaped it already: only the summary is read. */
void kc_harness_send_wait(pid_t pid, const char *out_path, int timeout_ms, int want_exit,
                          kc_summary_t *s);
/* Wait (bounded) for a kc-send to end; check exit 0 and a clean summary
 * (rows == expect_rows, accepted + duplicates == rows, nothing rejected,
 * malformed or unacknowledged; expect_rows < 0: any number of rows, as a rerun
 * also counts the events it resumed from the spool). The summary is returned in *s. A negative
 * pid means the caller reaped it already (exit 0): only the summary is read. */
void kc_harness_send_check(pid_t pid, const char *out_path, int timeout_ms, long expect_rows,
                           kc_summary_t *s);

/* Read-only looks at a store while the aggregator runs (open, read, close).
 * Return 0, or a negative KC_E* code (KC_ENOTFOUND before the store exists). */
int kc_harness_log_size(const char *store, uint64_t *n);
/* Events counted for one producer (its state's `accepted`) and its hwm. */
int kc_harness_producer_counts(const char *store, const char *producer, uint64_t *accepted,
                               uint64_t *hwm);

#endif
