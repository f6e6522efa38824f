/* spool_fault_test.c - fault scenario 13: the producer spool's durability on
 * its own, without re-offer (issue 13, finding 1).
 *
 * The other producer scenarios rerun kc-send on its whole CSV, so an event the
 * spool lost is offered again and a spool that hands out a sequence number
 * twice is hidden. Here the producer is kc-spool-driver (spool_driver.c): a
 * program on libkcingest's public API that makes its events itself and
 * records, in its own fdatasync'd record file, every event the library
 * reported spooled (seq as kc_producer_add returned it, event id, content).
 * Each run of it makes new events (run number in the ids); nothing is ever
 * offered twice, so the spool is the only copy.
 * A. Kills: the driver adds and sends to a real aggregator and is SIGKILLed
 *    at a seeded random point (its record grown by a seeded number of bytes
 *    past its size at start); every third run instead adds a seeded number of
 *    events and flushes until all are acknowledged, then alternately exits
 *    (kc_producer_close) or waits to be SIGKILLed with the spool open: the
 *    next run starts from an empty spool (a spool that derives next_seq from
 *    what it holds, or stores it only on a clean close, would hand out old
 *    numbers there). Short: 5 kills; --long: 60 (a fifth of them with the
 *    spool empty).
 * B. Power loss: the driver runs with the shim libkcpowerloss.so
 *    (powerloss_shim.c) watching its spool and dies at a seeded tracked
 *    write/sync call, every write not fdatasync'd undone. Short: 4; --long: 20;
 *    more (up to 4 times as many) until one of them discarded unsynced writes
 *    (a loss before a commit's first write discards nothing).
 * Each part ends with one run in --drain mode (adds nothing, sends what the
 * spool holds until it is empty; must exit 0 with nothing pending). After
 * every fault and at the end, s_scan() compares the store's log (read-only
 * snapshot) with the record:
 *   - the record's seqs rise strictly: a seq the spool handed out twice (or
 *     a rewind) shows here even if the aggregator dropped the second event;
 *   - each log entry of the producer carries an id of one of its runs and
 *     exactly that event's content (regenerated from the id), no event id and
 *     no (epoch, seq) twice;
 *   - each recorded event found in the log is there under its recorded seq,
 *     with its recorded content, all in one epoch, and the log event at a
 *     recorded (epoch, seq) is the recorded one;
 *   - at the end (after the drain) every recorded event is in the log.
 * Events in the log that are not recorded are allowed: spooled by a commit
 * whose record line the kill cut off. One SUMMARY line per part (sent = events
 * recorded as spooled, acknowledged = those in the log).
 * Synchronisation: kills are triggered by the record's size (the driver's own
 * observable progress), waits are bounded polls for a child's exit.
 */
#include "fault_util.h"
#include "spool_gen.h"

#include "kc_err.h"
#include "kc_event.h"
#include "kc_store.h"

#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_RUN_MS   300000 /* bound on a run reaching its kill point or ending */
#define S_DRAIN_MS 300000
#define S_RUNS_MAX 256
#define S_ID       80

static char s_driver[KC_PATH_MAX], s_shim[KC_PATH_MAX], s_report[KC_PATH_MAX];
static uint64_t s_seed;

/* ---- the events of every run, regenerated on demand -------------------- */

typedef struct {
    kc_gen_t g;
    char prefix[96];
    size_t n; /* contents made so far (rows 1..n) */
    char (*content)[KC_SPOOLGEN_CONTENT];
} s_runs_t;

static s_runs_t s_runs[S_RUNS_MAX];

static void s_runs_reset(void)
{
    for (int i = 0; i < S_RUNS_MAX; i++)
        free(s_runs[i].content);
    memset(s_runs, 0, sizeof s_runs);
}

/* The content of event `id` of producer prod, or NULL if id is not one of its. */
static const char *s_expected(const char *prod, const char *id)
{
    size_t pl = strlen(prod);
    if (strncmp(id, prod, pl) != 0 || strncmp(id + pl, "-r", 2) != 0)
        return NULL;
    char *end;
    long run = strtol(id + pl + 2, &end, 10);
    if (end == id + pl + 2 || *end != '-' || run < 0 || run >= S_RUNS_MAX)
        return NULL;
    char *end2;
    unsigned long row = strtoul(end + 1, &end2, 16);
    if (*end2 != '\0' || strlen(end + 1) != 6 || row == 0 || row > 1000000)
        return NULL;
    s_runs_t *r = &s_runs[run];
    char prefix[96];
    kc_spoolgen_prefix(prefix, sizeof prefix, prod, (int)run);
    if (!r->content || strcmp(r->prefix, prefix) != 0) { /* (another producer's run) */
        free(r->content);
        memset(r, 0, sizeof *r);
        memcpy(r->prefix, prefix, sizeof prefix);
        kc_gen_init(&r->g, r->prefix, kc_spoolgen_seed(s_seed, (int)run));
    }
    if (row > r->n) {
        r->content = realloc(r->content, row * sizeof *r->content);
        KC_CHECK(r->content, "out of memory");
        while (r->n < row) {
            kc_gen_row_t gr;
            kc_gen_next(&r->g, &gr);
            kc_spoolgen_row_content(r->content[r->n++], KC_SPOOLGEN_CONTENT, &gr);
        }
    }
    return r->content[row - 1];
}

/* ---- the check ----------------------------------------------------------- */

typedef struct {
    uint64_t seq;
    char id[S_ID];
    char content[KC_SPOOLGEN_CONTENT];
} s_entry_t; /* a record line, or a log entry (seq, epoch) */

typedef struct {
    s_entry_t *e;
    uint64_t *epoch; /* log entries only */
    size_t n, cap;
} s_list_t;

typedef struct {
    const char *prod;
    s_list_t *log;
    uint64_t foreign; /* log entries of prod not made by any of its runs, or altered */
    char why[512];
} s_scan_ctx_t;

typedef struct {
    uint64_t recorded;   /* record lines: events reported spooled */
    uint64_t found;      /* of those, in the log */
    uint64_t in_log;     /* log entries of the producer */
    uint64_t unrecorded; /* of those, not in the record (spooled, record cut by the fault) */
    uint64_t duplicates; /* event ids or (epoch, seq) in the log more than once */
    uint64_t lost;       /* recorded, not in the log (counted at the end only) */
    uint64_t wrong;      /* reused seqs, foreign or altered events, seq/epoch mismatches */
    char why[512];       /* the first problem */
} s_res_t;

static void s_why(char *why, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void s_why(char *why, size_t cap, const char *fmt, ...)
{
    if (why[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, cap, fmt, ap);
    va_end(ap);
}

static s_entry_t *s_push(s_list_t *l, bool with_epoch)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 1024;
        l->e = realloc(l->e, l->cap * sizeof *l->e);
        KC_CHECK(l->e, "out of memory");
        if (with_epoch) {
            l->epoch = realloc(l->epoch, l->cap * sizeof *l->epoch);
            KC_CHECK(l->epoch, "out of memory");
        }
    }
    memset(&l->e[l->n], 0, sizeof l->e[l->n]);
    return &l->e[l->n++];
}

static int s_on_log(const kc_log_entry_t *le, void *ctx)
{
    s_scan_ctx_t *c = ctx;
    if (le->producer_len != strlen(c->prod) || memcmp(le->producer, c->prod, le->producer_len))
        return 0;
    kc_pb_event_t *ev = kcpipe__v1__event__unpack(NULL, le->event_len, le->event);
    if (!ev || !ev->event_id || !ev->province || !ev->activity) {
        c->foreign++;
        s_why(c->why, sizeof c->why, "log entry %" PRIu64 " of %s does not decode", le->offset,
              c->prod);
        if (ev)
            kcpipe__v1__event__free_unpacked(ev, NULL);
        return 0;
    }
    size_t i = c->log->n;
    s_entry_t *e = s_push(c->log, true);
    c->log->epoch[i] = le->epoch;
    e->seq = le->seq;
    snprintf(e->id, sizeof e->id, "%s", ev->event_id);
    int64_t m[KC_METRIC_COUNT] = {0};
    uint32_t present = 0;
    for (int k = 0; k < KC_METRIC_COUNT && ev->metrics; k++)
        if (kc_pb_metric_get(ev->metrics, k, &m[k]))
            present |= 1u << k;
    kc_spoolgen_content(e->content, sizeof e->content, ev->province, (int)ev->year, (int)ev->month,
                        ev->activity, ev->has_kind ? (int)ev->kind : 1,
                        ev->has_fund ? (int)ev->fund : 3, m, present, ev->note);
    const char *want = s_expected(c->prod, e->id);
    if (!want || strcmp(want, e->content) != 0) {
        c->foreign++;
        s_why(c->why, sizeof c->why,
              "log entry %" PRIu64 " (seq %" PRIu64 ", %s) is no event of %s as made: '%s' "
              "expected '%s'",
              le->offset, le->seq, e->id, c->prod, e->content, want ? want : "(unknown id)");
    }
    kcpipe__v1__event__free_unpacked(ev, NULL);
    return 0;
}

static const s_list_t *s_sort_base;

static int s_cmp_id(const void *a, const void *b)
{
    return strcmp(s_sort_base->e[*(const size_t *)a].id, s_sort_base->e[*(const size_t *)b].id);
}

static int s_cmp_es(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    uint64_t ex = s_sort_base->epoch[x], ey = s_sort_base->epoch[y];
    if (ex != ey)
        return ex < ey ? -1 : 1;
    uint64_t sx = s_sort_base->e[x].seq, sy = s_sort_base->e[y].seq;
    return sx < sy ? -1 : sx > sy;
}

/* Index of the log entry with event id `id` (via the id-sorted index), or -1. */
static long s_find_id(const s_list_t *log, const size_t *by_id, const char *id)
{
    size_t lo = 0, hi = log->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(log->e[by_id[mid]].id, id);
        if (c == 0)
            return (long)by_id[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* Index of the log entry at (epoch, seq) (via the sorted index), or -1. */
static long s_find_es(const s_list_t *log, const size_t *by_es, uint64_t epoch, uint64_t seq)
{
    size_t lo = 0, hi = log->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        size_t j = by_es[mid];
        if (log->epoch[j] == epoch && log->e[j].seq == seq)
            return (long)j;
        if (log->epoch[j] < epoch || (log->epoch[j] == epoch && log->e[j].seq < seq))
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* Read the record file (complete lines only: a line cut by a kill during its
 * write is not yet reported spooled). */
static void s_read_record(const char *path, s_list_t *rec)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return; /* no group was spooled yet */
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) > 0) {
        if (line[len - 1] != '\n')
            break;
        line[len - 1] = '\0';
        s_entry_t *e = s_push(rec, false);
        int off = 0;
        KC_CHECK(sscanf(line, "%" SCNu64 " %79s %n", &e->seq, e->id, &off) == 2 && off > 0,
                 "%s: garbled record line '%s'", path, line);
        snprintf(e->content, sizeof e->content, "%s", line + off);
    }
    free(line);
    fclose(f);
}

/* Compare the store's log with the record of producer prod (see the header). */
static void s_scan(const char *store, const char *prod, const char *record, bool final,
                   s_res_t *res)
{
    memset(res, 0, sizeof *res);
    s_list_t rec = {0}, log = {0};
    s_read_record(record, &rec);
    res->recorded = rec.n;
    for (size_t i = 0; i < rec.n; i++) {
        const char *want = s_expected(prod, rec.e[i].id);
        if (!want || strcmp(want, rec.e[i].content) != 0) {
            res->wrong++;
            s_why(res->why, sizeof res->why, "record line %zu (%s) is not the event made", i + 1,
                  rec.e[i].id);
        }
        if (i > 0 && rec.e[i].seq <= rec.e[i - 1].seq) {
            res->wrong++;
            s_why(res->why, sizeof res->why,
                  "the spool handed out seq %" PRIu64 " (%s, record line %zu) after seq %" PRIu64
                  " (%s) was reported spooled: a sequence number reused or rewound",
                  rec.e[i].seq, rec.e[i].id, i + 1, rec.e[i - 1].seq, rec.e[i - 1].id);
        }
    }

    s_scan_ctx_t c = {.prod = prod, .log = &log};
    kc_store_t *st = NULL;
    kc_store_opts_t o = {.read_only = true};
    int rc = kc_store_open(&st, store, &o);
    kc_txn_t *t = NULL;
    if (rc == 0)
        rc = kc_store_read_begin(st, &t);
    if (rc == 0)
        rc = kc_txn_log_scan(t, 0, s_on_log, &c);
    kc_txn_end(&t);
    kc_store_close(&st);
    KC_CHECK(rc == 0, "cannot scan the log of %s: %s", store, kc_strerror(rc));
    res->in_log = log.n;
    res->wrong += c.foreign;
    if (c.why[0])
        s_why(res->why, sizeof res->why, "%s", c.why);

    size_t *by_id = malloc((log.n + 1) * sizeof *by_id),
           *by_es = malloc((log.n + 1) * sizeof *by_es);
    KC_CHECK(by_id && by_es, "out of memory");
    for (size_t i = 0; i < log.n; i++)
        by_id[i] = by_es[i] = i;
    s_sort_base = &log;
    qsort(by_id, log.n, sizeof *by_id, s_cmp_id);
    qsort(by_es, log.n, sizeof *by_es, s_cmp_es);
    for (size_t i = 1; i < log.n; i++) {
        const s_entry_t *a = &log.e[by_id[i - 1]], *b = &log.e[by_id[i]];
        if (strcmp(a->id, b->id) == 0) {
            res->duplicates++;
            s_why(res->why, sizeof res->why,
                  "event %s is in the log twice (seq %" PRIu64 " and %" PRIu64 ")", a->id, a->seq,
                  b->seq);
        }
        size_t x = by_es[i - 1], y = by_es[i];
        if (log.epoch[x] == log.epoch[y] && log.e[x].seq == log.e[y].seq) {
            res->duplicates++;
            s_why(res->why, sizeof res->why, "seq %" PRIu64 " is in the log twice (%s and %s)",
                  log.e[x].seq, log.e[x].id, log.e[y].id);
        }
    }

    bool have_epoch = false;
    uint64_t epoch = 0;
    for (size_t i = 0; i < rec.n; i++) {
        const s_entry_t *r = &rec.e[i];
        long j = s_find_id(&log, by_id, r->id);
        if (j < 0) {
            if (final) {
                res->lost++;
                s_why(res->why, sizeof res->why,
                      "%s (seq %" PRIu64 ") was reported spooled but is not in the log after the "
                      "drain: the spool lost it",
                      r->id, r->seq);
            }
            continue;
        }
        res->found++;
        if (log.e[j].seq != r->seq || strcmp(log.e[j].content, r->content) != 0) {
            res->wrong++;
            s_why(res->why, sizeof res->why,
                  "%s was spooled as seq %" PRIu64 " but is in the log as seq %" PRIu64 " ('%s')",
                  r->id, r->seq, log.e[j].seq, log.e[j].content);
        }
        if (!have_epoch) {
            have_epoch = true;
            epoch = log.epoch[j];
        } else if (log.epoch[j] != epoch) {
            res->wrong++;
            s_why(res->why, sizeof res->why,
                  "%s is in the log under spool epoch %" PRIu64 ", earlier ones under %" PRIu64
                  ": the spool was re-created",
                  r->id, log.epoch[j], epoch);
        }
    }
    for (size_t i = 0; have_epoch && i < rec.n; i++) {
        long j = s_find_es(&log, by_es, epoch, rec.e[i].seq);
        if (j >= 0 && strcmp(log.e[j].id, rec.e[i].id) != 0) {
            res->wrong++;
            s_why(res->why, sizeof res->why,
                  "the log holds %s at seq %" PRIu64 ", the record says %s was spooled there",
                  log.e[j].id, rec.e[i].seq, rec.e[i].id);
        }
    }
    res->unrecorded = log.n - res->found;
    free(by_id);
    free(by_es);
    free(rec.e);
    free(log.e);
    free(log.epoch);
}

static void s_assert(const s_res_t *r, const char *prod, const char *when)
{
    KC_CHECK(r->duplicates == 0 && r->lost == 0 && r->wrong == 0,
             "%s %s: recorded=%" PRIu64 " found=%" PRIu64 " in_log=%" PRIu64 " duplicates=%" PRIu64
             " lost=%" PRIu64 " wrong=%" PRIu64 ": %s",
             prod, when, r->recorded, r->found, r->in_log, r->duplicates, r->lost, r->wrong,
             r->why);
}

static void s_summary(const char *name, const s_res_t *r)
{
    kc_oracle_result_t o = {.sent = r->recorded,
                            .acked = r->found,
                            .in_log = r->in_log,
                            .duplicates = r->duplicates,
                            .lost = r->lost};
    kc_oracle_summary(name, &o);
}

/* ---- the driver ---------------------------------------------------------- */

typedef struct {
    char prod[32];
    char spool[KC_PATH_MAX];
    char record[KC_PATH_MAX];
    char out[KC_PATH_MAX]; /* stdout of the current run; stderr: + ".err" */
    int run;
    pid_t pid;
    uint64_t resumed; /* sum of "opened pending=N" over the runs */
} s_drv_t;

static void s_drv_init(s_drv_t *d, const char *prod)
{
    memset(d, 0, sizeof *d);
    snprintf(d->prod, sizeof d->prod, "%s", prod);
    kc_harness_path(d->spool, "spool-%s", prod);
    kc_harness_path(d->record, "%s.record", prod);
}

/* Start run d->run + 1: events 0 = add until killed; drain: --drain; hold: --hold. */
static void s_drv_start(s_drv_t *d, const char *endpoint, long events, bool drain, bool hold)
{
    d->run++;
    kc_harness_path(d->out, "driver-%s-%d.out", d->prod, d->run);
    char err[KC_PATH_MAX + 8], run[16], seed[32], ev[32];
    snprintf(err, sizeof err, "%s.err", d->out);
    snprintf(run, sizeof run, "%d", d->run);
    snprintf(seed, sizeof seed, "%" PRIu64, s_seed);
    snprintf(ev, sizeof ev, "%ld", events);
    char *argv[24] = {
        s_driver,   "--connect", (char *)endpoint, "--producer", d->prod,  "--spool", d->spool,
        "--record", d->record,   "--run",          run,          "--seed", seed,      "--events",
        ev};
    if (drain) {
        argv[9] = "--drain";
        argv[10] = NULL;
    } else if (hold) {
        argv[15] = "--hold";
    }
    d->pid = kc_harness_spawn(argv, d->out, err);
}

/* Wait (bounded) for the run to end; returns its wait status. */
static int s_drv_wait(s_drv_t *d, int timeout_ms)
{
    int st = 0;
    KC_CHECK(kc_harness_wait(d->pid, timeout_ms, &st) == 0, "kc-spool-driver %s run %d hangs",
             d->prod, d->run);
    d->pid = 0;
    long long n = kc_fault_counter(d->out, "opened", "pending");
    if (n > 0)
        d->resumed += (uint64_t)n;
    return st;
}

static void s_drv_expect_exit0(s_drv_t *d, int timeout_ms)
{
    int st = s_drv_wait(d, timeout_ms);
    char sb[64];
    KC_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "kc-spool-driver %s run %d: %s (see %s.err)",
             d->prod, d->run, kc_harness_status_str(st, sb, sizeof sb), d->out);
}

/* The final run: drain the spool, then check it said so. */
static void s_drain(s_drv_t *d, const char *endpoint)
{
    s_drv_start(d, endpoint, 0, true, false);
    s_drv_expect_exit0(d, S_DRAIN_MS);
    KC_CHECK(kc_fault_counter(d->out, "drained", "pending") == 0 &&
                 kc_fault_counter(d->out, "drained", "rejected") == 0,
             "the drain of %s did not end empty and clean (see %s)", d->prod, d->out);
    long long at_open = kc_fault_counter(d->out, "drained", "pending_at_open");
    KC_CHECK(at_open >= 0, "no drain line in %s", d->out);
    d->resumed += (uint64_t)at_open;
}

/* ---- A. kills ------------------------------------------------------------ */

static void s_part_kill(bool lng, uint64_t *rng, const char *store, const char *endpoint)
{
    const int kills = lng ? 60 : 5;
    s_drv_t d;
    s_drv_init(&d, "spk");
    int killed = 0, ended = 0;
    s_res_t res;
    while (killed < kills) {
        if ((d.run + 1) % 3 == 2) { /* all acknowledged at its end: the next starts empty */
            bool hold = (d.run + 1) % 6 == 5;
            s_drv_start(&d, endpoint, 20 + (long)(kc_fault_rand(rng) % 200), false, hold);
            if (hold) {
                KC_CHECK(kc_fault_wait_text(d.out, "flushed pending=0", 1, S_RUN_MS),
                         "run %d did not flush (see %s.err)", d.run, d.out);
                int st = kc_harness_stop(d.pid, SIGKILL, 10000);
                KC_CHECK(WIFSIGNALED(st), "kc-spool-driver run %d ended before SIGKILL", d.run);
                d.pid = 0;
                killed++;
            } else {
                s_drv_expect_exit0(&d, S_RUN_MS);
                ended++;
            }
        } else {
            long long from = kc_fault_file_size(d.record);
            long long to = (from > 0 ? from : 0) + 1 +
                           (long long)(kc_fault_rand(rng) % (lng ? 40000u : 20000u));
            s_drv_start(&d, endpoint, 0, false, false);
            int64_t deadline = kc_harness_now_ms() + S_RUN_MS;
            int st;
            while (kc_fault_file_size(d.record) < to) {
                char sb[64];
                KC_CHECK(!kc_harness_exited(d.pid, &st), "kc-spool-driver run %d ended: %s", d.run,
                         kc_harness_status_str(st, sb, sizeof sb));
                KC_CHECK(kc_harness_now_ms() < deadline, "run %d: the record stayed below %lld",
                         d.run, to);
                kc_harness_poll_pause();
            }
            st = kc_harness_stop(d.pid, SIGKILL, 10000);
            KC_CHECK(WIFSIGNALED(st), "kc-spool-driver run %d ended before SIGKILL", d.run);
            d.pid = 0;
            long long n = kc_fault_counter(d.out, "opened", "pending");
            d.resumed += n > 0 ? (uint64_t)n : 0;
            killed++;
        }
        char when[64];
        snprintf(when, sizeof when, "after run %d (%d kills)", d.run, killed);
        s_scan(store, d.prod, d.record, false, &res);
        s_assert(&res, d.prod, when);
        fprintf(stderr,
                "spool_fault_test: A: run %d, %d kills: recorded=%" PRIu64 " in_log=%" PRIu64
                " unrecorded=%" PRIu64 "\n",
                d.run, killed, res.recorded, res.in_log, res.unrecorded);
    }
    s_drain(&d, endpoint);
    s_scan(store, d.prod, d.record, true, &res);
    s_summary(lng ? "13a-spool-kill-long" : "13a-spool-kill", &res);
    s_assert(&res, d.prod, "after the drain");
    KC_CHECK(res.recorded > 0 && d.resumed > 0,
             "nothing was left in the spool by a kill (recorded=%" PRIu64 "): nothing tested",
             res.recorded);
    fprintf(stderr,
            "spool_fault_test: A: %d kills, %d runs ended by themselves, %" PRIu64
            " events resumed from the spool at open\n",
            killed, ended, d.resumed);
}

/* ---- B. power loss --------------------------------------------------------- */

static void s_shim_on(const char *dir, long at)
{
    char v[32];
    kc_fault_preload(s_shim, NULL);
    setenv("KC_POWERLOSS_DIR", dir, 1);
    snprintf(v, sizeof v, "%ld", at);
    setenv("KC_POWERLOSS_AT", v, 1);
    setenv("KC_POWERLOSS_REPORT", s_report, 1);
}

static void s_shim_off(void)
{
    unsetenv("KC_POWERLOSS_DIR");
    unsetenv("KC_POWERLOSS_AT");
    unsetenv("KC_POWERLOSS_REPORT");
    kc_fault_unpreload();
}

static void s_part_powerloss(bool lng, uint64_t *rng, const char *store, const char *endpoint)
{
    const int losses = lng ? 20 : 4;
    s_drv_t d;
    s_drv_init(&d, "sppl");
    s_res_t res;
    int dirty = 0; /* losses that discarded unsynced spool writes */
    for (int k = 0; k < losses || (dirty == 0 && k < 4 * losses); k++) {
        long at = 20 + (long)(kc_fault_rand(rng) % (lng ? 600u : 300u));
        int before = kc_fault_count(s_report, "powerloss pid=");
        s_shim_on(d.spool, at);
        s_drv_start(&d, endpoint, 0, false, false);
        s_shim_off();
        int st = s_drv_wait(&d, S_RUN_MS);
        char sb[64];
        KC_CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
                 "kc-spool-driver under the shim ended with %s, not a power loss (see %s.err)",
                 kc_harness_status_str(st, sb, sizeof sb), d.out);
        KC_CHECK(kc_fault_count(s_report, "powerloss pid=") == before + 1,
                 "no report line for power loss %d", k + 1);
        dirty = kc_fault_count(s_report, "powerloss pid=") -
                kc_fault_count(s_report, "unsynced_bytes=0\n");
        char when[64];
        snprintf(when, sizeof when, "after power loss %d (tracked call %ld)", k + 1, at);
        s_scan(store, d.prod, d.record, false, &res);
        s_assert(&res, d.prod, when);
        fprintf(stderr,
                "spool_fault_test: B: power loss %d/%d at tracked call %ld: recorded=%" PRIu64
                " in_log=%" PRIu64 "\n",
                k + 1, losses, at, res.recorded, res.in_log);
    }
    s_drain(&d, endpoint);
    s_scan(store, d.prod, d.record, true, &res);
    s_summary(lng ? "13b-spool-powerloss-long" : "13b-spool-powerloss", &res);
    s_assert(&res, d.prod, "after the drain");
    int all = kc_fault_count(s_report, "powerloss pid="),
        clean = kc_fault_count(s_report, "unsynced_bytes=0\n");
    KC_CHECK(res.recorded > 0 && all > clean,
             "no power loss discarded an unsynced spool write (recorded=%" PRIu64
             "): nothing tested",
             res.recorded);
    fprintf(stderr,
            "spool_fault_test: B: %d power losses, %d discarded unsynced writes, %" PRIu64
            " events resumed from the spool at open\n",
            all, all - clean, d.resumed);
}

int main(int argc, char **argv)
{
    bool lng = kc_fault_is_long(argc, argv);
    kc_harness_init("spool_fault_test");
    uint64_t rng = kc_fault_seed(1313);
    s_seed = rng;
    kc_harness_bin(s_driver, "kc-spool-driver");
    kc_harness_bin(s_shim, "libkcpowerloss.so");
    kc_harness_path(s_report, "powerloss.report");
    char store[KC_PATH_MAX];
    kc_harness_path(store, "store");
    kc_agg_t agg = {0};
    kc_harness_agg_start(&agg, store, "tcp://127.0.0.1:*", NULL);
    s_part_kill(lng, &rng, store, agg.endpoint);
    s_part_powerloss(lng, &rng, store, agg.endpoint);
    kc_harness_agg_term(&agg);
    s_runs_reset();
    kc_harness_pass();
    printf("spool_fault_test: ok (spool kills and power losses, every spooled event in the log "
           "once under its seq)\n");
    return 0;
}
