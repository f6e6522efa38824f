/* bench_util.h - pieces shared by the bench programs (not a library of kcpipe).
 *
 * - a temp dir (bu_dir) and process bookkeeping: every child started through
 *   bu_spawn/bu_fork is killed by pid at exit unless it was reaped;
 * - the aggregator: found beside the program, started on a fresh store in
 *   bu_dir (optionally with CURVE: kc-keygen keys and a registry), stopped with
 *   SIGTERM (must exit 0), its VmHWM and write bytes;
 * - producer processes: forked together, each reports ready and waits for one
 *   "go", reports its figures through a result file (bu_report_t + latencies);
 * - the event stream (bench/gen_csv.c) as kc_event_t, the result
 *   callback that records ack latencies, and the check that the store's totals
 *   and log equal what was sent;
 * - percentiles of sorted latencies.
 * Every function dies (message, exit 1) on failure unless it says otherwise.
 */
#ifndef KC_BENCH_UTIL_H
#define KC_BENCH_UTIL_H

#include "gen_csv.h"
#include "kcingest.h"

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define BU_MAX_PRODUCERS 64

extern char bu_dir[PATH_MAX / 2]; /* the temp dir ("" before bu_mkdir) */

/* The program's name in messages ("bench-ingest"). */
void bu_init(const char *prog);
void bu_pause(void); /* one 2 ms poll step inside a deadline loop */
void bu_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* A decimal option value >= min, else exit 64 with a message. */
long bu_num(const char *opt, const char *arg, long min);
/* Make bu_dir = PARENT/kc-bench-XXXXXX (parent NULL: $TMPDIR or /tmp) and
 * register the cleanup of children at exit. */
void bu_mkdir(const char *parent);
/* Remove bu_dir and everything in it (keep: say where it is instead). */
void bu_finish_dir(bool keep);
/* Path of tool `name`: `given` if set, else $KC_BIN_DIR/name, else beside
 * this program. */
void bu_find_tool(const char *given, const char *name, char *out, size_t cap);

/* Children: tracked pids are SIGKILLed and reaped at exit. */
void bu_track(pid_t pid);
void bu_untrack(pid_t pid);
/* fork + exec argv with stdout to out_path and stderr to err_path (NULL:
 * /dev/null; the same path: both into one file); tracked. */
pid_t bu_spawn(char *const argv[], const char *out_path, const char *err_path);
/* bu_spawn and wait: the exit status (-1 killed by a signal). */
int bu_run(char *const argv[], const char *out_path, const char *err_path);

/* ---- the aggregator ---- */
typedef struct {
    const char *bin;      /* kc-aggregator */
    long group_max;       /* 0 = its default */
    long group_window_ms; /* -1 = its default */
    bool curve;           /* bu_curve_setup() was called: CURVE + registry */
    const char *extra[8]; /* more arguments, NULL-terminated */
} bu_agg_opts_t;

/* Start it on bu_dir/store; the ingest endpoint into endpoint[cap]. */
pid_t bu_agg_start(const bu_agg_opts_t *o, char *endpoint, size_t cap);
/* The pid started by bu_agg_start (0 after bu_agg_stop). */
pid_t bu_agg_pid(void);
/* Die if the aggregator has ended. */
void bu_agg_check(void);
/* SIGTERM; it must exit 0 within a minute. */
void bu_agg_stop(void);
/* The value of the ready file's line "<key> <value>". */
bool bu_ready_value(const char *key, char *out, size_t cap);
long bu_vmhwm_kb(pid_t pid);
long long bu_wchar(pid_t pid);
/* CPU time (user + system, seconds) of a live process; -1 if unknown. */
double bu_cpu_s(pid_t pid);

/* CURVE: kc-keygen (beside agg_bin) makes the aggregator's key pair and one
 * per producer id "bench-NN" (n of them) in bu_dir, and a registry granting
 * each every province. */
void bu_curve_setup(const char *agg_bin, int n);
/* The producer options' CURVE fields for producer idx (after bu_curve_setup);
 * the strings live until exit. */
void bu_curve_client(int idx, kc_producer_opts_t *po);

/* ---- producers ---- */
typedef struct {
    int64_t first_add_ns; /* CLOCK_MONOTONIC of its first kc_producer_add */
    int64_t last_ack_ns;  /* CLOCK_MONOTONIC of its last result callback */
    int64_t pct_ns[101];  /* pct_ns[k]: when k% of its events were final (0 = not yet) */
    uint64_t n;           /* its events */
    double tail_eps;      /* bu_gather's sum only: events/s over the last tenth of the
                             session's results (from every producer's pct_ns) */
    uint64_t sent;        /* events added */
    uint64_t accepted, duplicates, rejected;
    int64_t sums[KC_METRIC_COUNT]; /* of the events added */
    uint64_t lat_count;            /* latencies (ns) that follow in the file */
    int64_t behind_ns;             /* paced producers: the most it fell behind schedule */
} bu_report_t;

/* Per-producer state of the result callback. */
typedef struct {
    int64_t *add_ns; /* per event: its reference time (index seq - first_seq) */
    uint64_t *lat;   /* per result: ack latency */
    uint64_t first_seq;
    uint64_t n;
    int next_pct; /* the next pct_ns to record */
    bu_report_t *rep;
} bu_prod_t;

/* Allocate add_ns/lat for n events. */
void bu_prod_init(bu_prod_t *c, uint64_t n, bu_report_t *rep);
/* kc_producer_on_result callback (ctx: bu_prod_t). */
void bu_on_result(const kc_result_t *r, void *ctx);
/* Record that the event with seq was added, reference time t. */
void bu_prod_added(bu_prod_t *c, uint64_t i, uint64_t seq, int64_t t);
/* Open producer idx ("bench-NN", spool bu_dir/spool-NN; CURVE if bu_curve_setup
 * ran); the callback registered. NULL on failure (message printed). */
kc_producer_t *bu_producer_open(int idx, const char *endpoint, size_t batch, size_t window,
                                int request_timeout_ms, bu_prod_t *c);
/* Write the result file of producer idx. false on failure. */
bool bu_report_write(int idx, const bu_prod_t *c);

/* Fork n producer processes running fn(idx, events of idx, ctx) (exit status =
 * its return); events are split evenly. Each must call bu_ready_go() once set
 * up. Returns once every producer is ready and released. */
typedef int (*bu_producer_fn)(int idx, uint64_t n, void *ctx);
void bu_fork_producers(int n, uint64_t events, bu_producer_fn fn, void *ctx);
/* In a producer: report ready, block until the parent says go. */
void bu_ready_go(void);
/* Wait for the producers (dying if the aggregator ends meanwhile); false if
 * one failed. */
bool bu_wait_producers(void);
/* Gather the result files: totals into *sum (lat_count = latencies), the
 * latencies into lat[events] (allocated here), first add / last ack over all.
 * Dies unless every event was sent, accepted and has a latency. */
void bu_gather(int n, uint64_t events, bu_report_t *sum, uint64_t **lat);

/* The event stream of one producer: row i of n, generator g; office: a
 * province office (its own province prov, periods 2021-01..2022-09 in order),
 * else the generator's random provinces and periods. Fills *ev (borrowing *r)
 * and adds the metrics to sums. */
void bu_next_event(kc_gen_t *g, kc_gen_row_t *r, uint64_t i, uint64_t n, const char *prov,
                   kc_event_t *ev, int64_t sums[KC_METRIC_COUNT]);
/* The province of office idx (a scheme-63 code valid through 2022), into prov[4]. */
void bu_office_province(int idx, char prov[4]);

/* The store in bu_dir/store (read-only) must hold exactly these totals and
 * `events` log entries. */
uint64_t bu_verify_store(const int64_t sums[KC_METRIC_COUNT], uint64_t events);

/* ---- one durable run: aggregator + producers + checks ---- */
typedef struct {
    /* in */
    const char *aggregator; /* NULL: beside this program */
    const char *dir;        /* parent of the temp dir (NULL: $TMPDIR or /tmp) */
    bool curve;
    long group_max, group_window_ms; /* 0 / -1: the aggregator's defaults */
    const char *extra[8];            /* more aggregator arguments */
    int producers;
    uint64_t events;
    void (*started)(const char *agg_bin); /* after the aggregator is ready (or NULL) */
    void (*finished)(void);               /* after the producers ended (or NULL) */
    /* out */
    char agg_bin[PATH_MAX];
    char endpoint[256]; /* set before the producers are forked */
    long peak_rss_kb;
    long long agg_wchar;
    uint64_t cells;    /* distinct totals cells in the store at the end */
    double agg_cpu_s;  /* aggregator CPU time (user + system) when the producers ended */
    double prod_cpu_s; /* the producer processes' CPU time, all together */
    bu_report_t sum;
    uint64_t *lat; /* sum.lat_count latencies (ns), sorted; free() */
} bu_session_t;

/* Make the temp dir, (CURVE keys,) start the aggregator, run the producers
 * (fn, ctx), stop the aggregator, gather the reports and verify the store. */
void bu_session(bu_session_t *s, bu_producer_fn fn, void *ctx);

/* Sorted latencies (ns): percentile p (0..100) in ms. */
int bu_u64_cmp(const void *a, const void *b);
double bu_pct_ms(const uint64_t *sorted, uint64_t n, double p);
/* Median of k doubles (sorted in place). */
double bu_median(double *v, int k);

#endif
