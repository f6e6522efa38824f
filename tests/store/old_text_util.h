/* old_text_util.h - a store holding the text an older kcpipe let in, for the
 * output-escaping tests of each tool (issue 12: every output path escapes
 * whatever an older store holds).
 *
 * Before the admission rules (common/kc_text.h, kc_event_admit) the
 * aggregator stored any bytes a producer sent in producer ids, event_ids,
 * corrects, notes and (through them) reject texts. t_old_text_fill() writes
 * such a store directly with the store API, as that version's aggregator
 * would have: two producers whose ids hold invalid UTF-8 and control
 * characters (ESC colour sequence, quote, backslash, newline), a record and
 * its correction whose event_ids hold invalid UTF-8 and an OSC terminal
 * sequence (ESC ] ... BEL), a note with ESC sequences and invalid bytes, a
 * reject text with both, the identities of that chain of two versions, the
 * unit's state and a signed head over the log.
 * Also: t_exec() runs a program to completion with its stdout and stderr
 * captured (bounded, killed by its pid on timeout), t_run() one of the build's
 * programs that way, and t_clean_text() / t_exec_clean() check what a
 * terminal or a JSON parser would be given.
 */
#ifndef KC_OLD_TEXT_UTIL_H
#define KC_OLD_TEXT_UTIL_H

#include "kc_audit.h"
#include "kc_err.h"
#include "kc_event.h"
#include "kc_ref.h"
#include "kc_store.h"
#include "kc_text.h"
#include "kcpipe/v1/kcpipe.pb-c.h"
#include "store_test_util.h"

#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The stored bytes ... */
#define T_OLD_PROD_BAD "bad\xff\xfeid"                          /* invalid UTF-8 */
#define T_OLD_PROD_CTL "esc\x1b[31mred\"q\\b\nnl"               /* ESC, quote, backslash, LF */
#define T_OLD_EV_BAD   "EV-\xff\xfe"                            /* the record */
#define T_OLD_EV_CTL   "EV-\x1b]0;pwned\x07"                    /* its correction (OSC, BEL) */
#define T_OLD_NOTE     "\x1b[2J\x1b[31mred\xc3\x28 \xe2\x82 ok" /* ESC sequences, bad UTF-8 */
#define T_OLD_REJECT   "activity 'K\xff\x1b[1m' is not known"
/* ... and their display forms (kc_text_show), as C literals */
#define T_OLD_PROD_BAD_SHOWN "bad\\xFF\\xFEid"
#define T_OLD_PROD_CTL_SHOWN "esc\\x1B[31mred\"q\\b\\x0Anl"
#define T_OLD_EV_BAD_SHOWN   "EV-\\xFF\\xFE"
#define T_OLD_EV_CTL_SHOWN   "EV-\\x1B]0;pwned\\x07"
/* where they are */
#define T_OLD_PROVINCE  79
#define T_OLD_PERIOD    202507
#define T_OLD_RECEIVED  1751328000000000000ull /* 2025-07-01T00:00:00Z */
#define T_OLD_EPOCH     3
#define T_OLD_EVENT_MAX 512

/* A serialized Event of province 79, 2025-07, KC3b: a record (corrects NULL)
 * or a correction of `corrects`, with a note. Returns its length (0 if short). */
static inline size_t t_old_event(uint8_t *buf, size_t cap, const char *event_id,
                                 const char *producer, uint64_t seq, const char *corrects,
                                 int64_t amount)
{
    Kcpipe__V1__Event ev;
    Kcpipe__V1__Metrics m;
    kc_test_event_fill(&ev, &m, event_id, "79", T_OLD_PERIOD / 100, T_OLD_PERIOD % 100,
                       corrects ? KCPIPE__V1__OP__OP_CORRECTION : KCPIPE__V1__OP__OP_RECORD,
                       corrects, 0, amount);
    ev.producer_id = (char *)producer;
    ev.seq = seq;
    ev.note = T_OLD_NOTE;
    return kc_test_event_pack(&ev, buf, cap);
}

static inline int t_old_text_fn(kc_txn_t *t, void *ctx)
{
    (void)ctx;
    uint8_t unit = kc_ref_unit_key(T_OLD_PROVINCE, T_OLD_PERIOD);
    uint8_t ev[2][T_OLD_EVENT_MAX];
    size_t len[2] = {
        t_old_event(ev[0], sizeof ev[0], T_OLD_EV_BAD, T_OLD_PROD_BAD, 1, NULL, 1000),
        t_old_event(ev[1], sizeof ev[1], T_OLD_EV_CTL, T_OLD_PROD_CTL, 1, T_OLD_EV_BAD, 1500)};
    if (!len[0] || !len[1] || unit == 0)
        return KC_EINVAL;
    /* the chain record -> correction, as the ledger links it */
    kc_identity_t rec = {.offset = 0,
                         .state = KC_ID_SUPERSEDED,
                         .op = KCPIPE__V1__OP__OP_RECORD,
                         .next_unit = unit,
                         .next = 1};
    kc_identity_t cor = {
        .offset = 1, .state = KC_ID_LIVE, .op = KCPIPE__V1__OP__OP_CORRECTION, .prev_unit = unit};
    const char *prod[2] = {T_OLD_PROD_BAD, T_OLD_PROD_CTL};
    int rc;
    if ((rc = kc_txn_identity_put(t, unit, T_OLD_EV_BAD, strlen(T_OLD_EV_BAD), &rec)) != 0 ||
        (rc = kc_txn_identity_put(t, unit, T_OLD_EV_CTL, strlen(T_OLD_EV_CTL), &cor)) != 0)
        return rc;
    for (int i = 0; i < 2; i++) {
        kc_log_entry_t e = {.received_ns = T_OLD_RECEIVED + (uint64_t)i * 1000000000u,
                            .epoch = T_OLD_EPOCH,
                            .seq = 1,
                            .producer = prod[i],
                            .producer_len = strlen(prod[i]),
                            .event = ev[i],
                            .event_len = len[i]};
        uint64_t off;
        if ((rc = kc_txn_log_append(t, &e, &off)) != 0)
            return rc;
        if (off != (uint64_t)i)
            return KC_EINVAL;
    }
    kc_producer_state_t bad = {.hwm = 2,
                               .last_seen_ns = T_OLD_RECEIVED,
                               .accepted = 1,
                               .rejected = 1,
                               .epoch = T_OLD_EPOCH};
    kc_producer_state_t ctl = {.hwm = 1,
                               .last_seen_ns = T_OLD_RECEIVED + 1000000000u,
                               .accepted = 1,
                               .epoch = T_OLD_EPOCH};
    kc_unit_state_t us = {
        .last_report_ns = T_OLD_RECEIVED + 1000000000u, .last_offset = 1, .events = 2};
    if ((rc = kc_txn_producer_put(t, T_OLD_PROD_BAD, &bad)) != 0 ||
        (rc = kc_txn_producer_put(t, T_OLD_PROD_CTL, &ctl)) != 0 ||
        (rc = kc_txn_reject_put(t, T_OLD_PROD_BAD, T_OLD_EPOCH, 2,
                                KCPIPE__V1__REASON__REASON_UNKNOWN_ACTIVITY, T_OLD_REJECT)) != 0 ||
        (rc = kc_txn_unit_put(t, unit, &us)) != 0)
        return rc;
    return kc_txn_sign_head(t, NULL);
}

/* Create the store in dir (absent or empty) with the content described at
 * the top. Returns 0 or a negative KC_E* code. */
static inline int t_old_text_store(const char *dir)
{
    kc_store_t *s = NULL;
    int rc = kc_store_open(&s, dir, NULL);
    if (rc != 0)
        return rc;
    rc = kc_store_write(s, t_old_text_fn, NULL);
    kc_store_close(&s);
    return rc;
}

/* Whether buf[0..len) is what a terminal may be given: well-formed UTF-8
 * whose only control character is LF (no ESC, BEL, CR, DEL, C1). */
static inline bool t_clean_text(const char *buf, size_t len)
{
    if (!kc_text_utf8_valid(buf, len))
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)buf[i];
        if ((c < 0x20 && c != '\n') || c == 0x7f)
            return false;
        if (c == 0xc2 && i + 1 < len && (unsigned char)buf[i + 1] >= 0x80 &&
            (unsigned char)buf[i + 1] <= 0x9f)
            return false; /* C1 */
    }
    return true;
}

/* The output of one t_exec(). */
typedef struct {
    int status; /* exit code; -1 killed by a signal or timed out */
    char *out, *err;
    size_t out_len, err_len;
} t_exec_t;

static inline void t_exec_free(t_exec_t *r)
{
    free(r->out);
    free(r->err);
    memset(r, 0, sizeof *r);
}

static inline int64_t t_exec_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Run argv (argv[0] a path) with stdin from /dev/null, to completion within
 * timeout_ms (else SIGKILL to its pid): exit code and both outputs
 * (NUL-terminated, any bytes) in *r. Returns 0, or -1 if it could not start. */
static inline int t_exec(char *const argv[], int timeout_ms, t_exec_t *r)
{
    memset(r, 0, sizeof *r);
    int po[2], pe[2];
    if (pipe(po) != 0)
        return -1;
    if (pipe(pe) != 0) {
        close(po[0]);
        close(po[1]);
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        FILE *null = fopen("/dev/null", "r");
        if (null)
            dup2(fileno(null), 0);
        dup2(po[1], 1);
        dup2(pe[1], 2);
        close(po[0]);
        close(pe[0]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(po[1]);
    close(pe[1]);
    char **buf[2] = {&r->out, &r->err};
    size_t *len[2] = {&r->out_len, &r->err_len}, cap[2] = {0, 0};
    struct pollfd fds[2] = {{.fd = po[0], .events = POLLIN}, {.fd = pe[0], .events = POLLIN}};
    int64_t deadline = t_exec_now_ms() + timeout_ms;
    bool timed_out = false;
    while (fds[0].fd >= 0 || fds[1].fd >= 0) {
        int64_t left = deadline - t_exec_now_ms();
        if (left <= 0) {
            timed_out = true;
            break;
        }
        if (poll(fds, 2, (int)left) < 0 && errno != EINTR)
            break;
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            if (cap[i] - *len[i] < 4097) {
                cap[i] = cap[i] ? cap[i] * 2 : 16384;
                char *nb = realloc(*buf[i], cap[i]);
                if (!nb)
                    abort();
                *buf[i] = nb;
            }
            ssize_t n = read(fds[i].fd, *buf[i] + *len[i], cap[i] - *len[i] - 1);
            if (n > 0) {
                *len[i] += (size_t)n;
            } else if (n == 0 || errno != EINTR) {
                close(fds[i].fd);
                fds[i].fd = -1;
            }
        }
    }
    for (int i = 0; i < 2; i++) {
        if (fds[i].fd >= 0)
            close(fds[i].fd);
        if (!*buf[i] && !(*buf[i] = malloc(1)))
            abort();
        (*buf[i])[*len[i]] = '\0';
    }
    int st = 0;
    if (timed_out)
        kill(pid, SIGKILL);
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    r->status = !timed_out && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return 0;
}

/* The path of a program of the build, $KC_BIN_DIR/prog, into buf[cap]. */
static inline char *t_bin(char *buf, size_t cap, const char *prog)
{
    const char *dir = getenv("KC_BIN_DIR");
    snprintf(buf, cap, "%s/%s", dir && *dir ? dir : ".", prog);
    return buf;
}

#define T_RUN_MS   60000 /* how long one t_run() may take */
#define T_RUN_ARGS 32    /* arguments of one t_run(), the program's path included */

/* t_exec() of $KC_BIN_DIR/prog with the arguments that follow, up to a NULL
 * (the first T_RUN_ARGS - 2 of them), within T_RUN_MS; aborts if it cannot
 * start. Returns r. */
static inline t_exec_t *t_run(t_exec_t *r, const char *prog, ...)
{
    char bin[4096];
    char *argv[T_RUN_ARGS];
    int n = 0;
    argv[n++] = t_bin(bin, sizeof bin, prog);
    va_list ap;
    va_start(ap, prog);
    for (char *a; n < T_RUN_ARGS - 1 && (a = va_arg(ap, char *)) != NULL;)
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    if (t_exec(argv, T_RUN_MS, r) != 0) {
        perror(prog);
        abort();
    }
    return r;
}

/* Whether the run ended with exit 0 and gave clean text (t_clean_text) on
 * both stdout and stderr. */
static inline bool t_exec_clean(const t_exec_t *r)
{
    return r->status == 0 && t_clean_text(r->out, r->out_len) && t_clean_text(r->err, r->err_len);
}

/* Whether s ends with suffix. */
static inline bool t_ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* The run's stdout as a JSON document (jansson refuses invalid UTF-8), or
 * NULL after saying why on stderr. */
static inline json_t *t_exec_json(const t_exec_t *r)
{
    json_error_t je;
    json_t *j = json_loadb(r->out, r->out_len, 0, &je);
    if (!j)
        fprintf(stderr, "not JSON (%s):\n%s\n", je.text, r->out);
    return j;
}

/* Whether the string member `key` of the object j ends with suffix (a path
 * shown in display form); says what it holds on stderr if not. */
static inline bool t_json_ends(const json_t *j, const char *key, const char *suffix)
{
    const char *s = json_string_value(json_object_get(j, key));
    if (s && t_ends_with(s, suffix))
        return true;
    fprintf(stderr, "\"%s\" is %s, not ...%s\n", key, s ? s : "not a string", suffix);
    return false;
}

#endif
