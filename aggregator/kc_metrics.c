/* kc_metrics.c - the aggregator's operational metrics (kc_metrics.h).
 *
 * State is a plain struct behind one mutex: the commit thread updates it in
 * O(1) (a histogram bucket search over a dozen bounds, one producer lookup),
 * kc_metrics_render() copies it under the lock and formats without it.
 * Producers: an array of (producer id, spool epoch, spool_last_seq reported
 * in it) indexed by producer id through a kc_idmap (the ids a deployment has
 * are few; the index doubles when half full). The /metrics text lists
 * producers in the store's order, not this array's. A value is shown only
 * while its epoch is the producer's epoch in the store, so that a reader never
 * pairs one spool's last seq with another spool's committed seq (they restart
 * at each new epoch).
 * Batch status "undecodable" is counted by kc_metrics_batch() calls with
 * producer_id NULL (pass "" for a batch refused for its producer);
 * "bad_producer" is the rest of kc_agg_counters_t.bad_batches.
 */
#include "kc_metrics.h"

#include "kc_cycle.h"
#include "kc_err.h"
#include "kc_event.h"
#include "kc_idmap.h"
#include "kc_text.h"
#include "kc_time.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* ---- histograms ---- */

#define S_MAX_BUCKETS 16

typedef struct {
    size_t n;                      /* finite bounds */
    double le[S_MAX_BUCKETS];      /* upper bounds, ascending */
    uint64_t count[S_MAX_BUCKETS]; /* observations <= le[i] and > le[i-1] (not cumulative) */
    uint64_t inf;                  /* observations above the last bound */
    double sum;
    uint64_t total;
} s_hist_t;

static void s_hist_init(s_hist_t *h, const double *le, size_t n)
{
    memset(h, 0, sizeof *h);
    h->n = n;
    memcpy(h->le, le, n * sizeof *le);
}

static void s_hist_observe(s_hist_t *h, double v)
{
    size_t i = 0;
    while (i < h->n && v > h->le[i])
        i++;
    if (i < h->n)
        h->count[i]++;
    else
        h->inf++;
    h->sum += v;
    h->total++;
}

static const double s_commit_le[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                     0.05,   0.1,   0.25,   0.5,   1,    2.5};
static const double s_commit_events_le[] = {1,   2,   4,    8,    16,   32,   64,   128,
                                            256, 512, 1024, 2048, 4096, 8192, 16384};
static const double s_batch_events_le[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096};

/* ---- producers ---- */

typedef struct {
    char id[KC_PRODUCER_ID_MAX + 1]; /* NUL-terminated, not empty */
    size_t len;
    uint64_t epoch;          /* the spool epoch spool_last_seq belongs to */
    uint64_t spool_last_seq; /* 0 = not reported in that epoch */
} s_prod_t;

/* The producers: prods[0 .. n) in the order first reported, idx their index. */
typedef struct {
    s_prod_t *prods;
    size_t n, cap;
    kc_idmap_t idx;
} s_prods_t;

/* ---- HTTP response codes ---- */

#define S_HTTP_CODES 16

typedef struct {
    unsigned code;
    uint64_t n;
} s_http_t;

typedef struct {
    kc_agg_counters_t total;
    uint64_t undecodable; /* kc_metrics_batch calls without a producer id */
    s_hist_t commit_seconds, commit_events, batch_events;
    int64_t feed_subscribers;
    uint64_t feed_updates, feed_drops, feed_snapshots;
    uint64_t readers_cleared;
    s_http_t http[S_HTTP_CODES];
    size_t n_http;
    uint64_t http_other; /* codes past S_HTTP_CODES distinct values (never in practice) */
} s_state_t;

struct kc_metrics {
    pthread_mutex_t mu;
    s_state_t st;
    s_prods_t prods;
    double start_time;
    kc_cycle_index_t *cycle; /* first reports, for the kcpipe_cycle_* gauges (issue 18) */
};

static const char *s_prod_key(const void *ctx, uint32_t i, size_t *len)
{
    const s_prod_t *p = &((const s_prods_t *)ctx)->prods[i];
    *len = p->len;
    return p->id;
}

/* The record of producer id (len bytes, 1..KC_PRODUCER_ID_MAX), or NULL. */
static s_prod_t *s_prod_find(const s_prods_t *t, const char *id, size_t len, uint64_t h)
{
    uint32_t i = kc_idmap_find(&t->idx, id, len, h, s_prod_key, t);
    return i == KC_IDMAP_NONE ? NULL : &t->prods[i];
}

/* A new record for producer id, known absent (h its hash), or NULL (out of
 * memory: t unchanged). */
static s_prod_t *s_prod_add(s_prods_t *t, const char *id, size_t len, uint64_t h)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 32;
        s_prod_t *np = realloc(t->prods, cap * sizeof *np);
        if (!np)
            return NULL;
        t->prods = np;
        t->cap = cap;
    }
    if (kc_idmap_insert(&t->idx, h, (uint32_t)t->n) != 0)
        return NULL;
    s_prod_t *p = &t->prods[t->n++];
    memset(p, 0, sizeof *p);
    memcpy(p->id, id, len);
    p->len = len;
    return p;
}

static void s_prods_fini(s_prods_t *t)
{
    free(t->prods);
    kc_idmap_fini(&t->idx);
    memset(t, 0, sizeof *t);
}

kc_metrics_t *kc_metrics_new(void)
{
    kc_metrics_t *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    if (!(m->cycle = kc_cycle_index_new()) || pthread_mutex_init(&m->mu, NULL) != 0) {
        kc_cycle_index_free(&m->cycle);
        free(m);
        return NULL;
    }
    s_hist_init(&m->st.commit_seconds, s_commit_le, sizeof s_commit_le / sizeof *s_commit_le);
    s_hist_init(&m->st.commit_events, s_commit_events_le,
                sizeof s_commit_events_le / sizeof *s_commit_events_le);
    s_hist_init(&m->st.batch_events, s_batch_events_le,
                sizeof s_batch_events_le / sizeof *s_batch_events_le);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    m->start_time = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
    return m;
}

void kc_metrics_free(kc_metrics_t **mp)
{
    if (!mp || !*mp)
        return;
    kc_metrics_t *m = *mp;
    pthread_mutex_destroy(&m->mu);
    s_prods_fini(&m->prods);
    kc_cycle_index_free(&m->cycle);
    free(m);
    *mp = NULL;
}

void kc_metrics_commit(kc_metrics_t *m, const kc_agg_counters_t *total, double commit_seconds,
                       size_t group_events)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->mu);
    if (total)
        m->st.total = *total;
    s_hist_observe(&m->st.commit_seconds, commit_seconds < 0 ? 0 : commit_seconds);
    s_hist_observe(&m->st.commit_events, (double)group_events);
    pthread_mutex_unlock(&m->mu);
}

void kc_metrics_batch(kc_metrics_t *m, const char *producer_id, size_t events, uint64_t epoch,
                      uint64_t spool_last_seq)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->mu);
    s_hist_observe(&m->st.batch_events, (double)events);
    if (!producer_id) {
        m->st.undecodable++;
    } else if (*producer_id && strlen(producer_id) <= KC_PRODUCER_ID_MAX) {
        size_t len = strlen(producer_id);
        uint64_t h = kc_idmap_hash(0, producer_id, len);
        s_prod_t *p = s_prod_find(&m->prods, producer_id, len, h);
        if (p) {
            if (epoch > p->epoch) { /* a new spool: what the old one reported is void */
                p->epoch = epoch;
                p->spool_last_seq = spool_last_seq;
            } else if (epoch == p->epoch && spool_last_seq) {
                p->spool_last_seq = spool_last_seq;
            } /* an older epoch: only a fenced Batch has one, and it is not processed */
        } else if (spool_last_seq) {
            p = s_prod_add(&m->prods, producer_id, len, h);
            if (p) { /* else out of memory: this report is lost */
                p->epoch = epoch;
                p->spool_last_seq = spool_last_seq;
            }
        }
    }
    pthread_mutex_unlock(&m->mu);
}

void kc_metrics_counters(kc_metrics_t *m, const kc_agg_counters_t *total)
{
    if (!m || !total)
        return;
    pthread_mutex_lock(&m->mu);
    m->st.total = *total;
    pthread_mutex_unlock(&m->mu);
}

void kc_metrics_feed(kc_metrics_t *m, int64_t subscribers, uint64_t updates, uint64_t drops,
                     uint64_t snapshots)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->mu);
    m->st.feed_subscribers = subscribers;
    m->st.feed_updates = updates;
    m->st.feed_drops = drops;
    m->st.feed_snapshots = snapshots;
    pthread_mutex_unlock(&m->mu);
}

void kc_metrics_readers_cleared(kc_metrics_t *m, unsigned n)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->mu);
    m->st.readers_cleared += n;
    pthread_mutex_unlock(&m->mu);
}

void kc_metrics_http(kc_metrics_t *m, unsigned status)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->mu);
    size_t i = 0;
    while (i < m->st.n_http && m->st.http[i].code != status)
        i++;
    if (i < m->st.n_http) {
        m->st.http[i].n++;
    } else if (m->st.n_http < S_HTTP_CODES) {
        /* keep them sorted by code for a stable exposition */
        size_t j = m->st.n_http++;
        while (j > 0 && m->st.http[j - 1].code > status) {
            m->st.http[j] = m->st.http[j - 1];
            j--;
        }
        m->st.http[j].code = status;
        m->st.http[j].n = 1;
    } else {
        m->st.http_other++;
    }
    pthread_mutex_unlock(&m->mu);
}

uint64_t kc_metrics_spool_last_seq(kc_metrics_t *m, const char *producer_id, uint64_t epoch)
{
    if (!m || !producer_id || !*producer_id || strlen(producer_id) > KC_PRODUCER_ID_MAX)
        return 0;
    size_t len = strlen(producer_id);
    uint64_t h = kc_idmap_hash(0, producer_id, len);
    pthread_mutex_lock(&m->mu);
    const s_prod_t *p = s_prod_find(&m->prods, producer_id, len, h);
    uint64_t v = p && p->epoch == epoch ? p->spool_last_seq : 0;
    pthread_mutex_unlock(&m->mu);
    return v;
}

/* ---- rendering ---- */

typedef struct {
    char *buf;
    size_t len, cap;
    bool oom;
} s_out_t;

static void s_printf(s_out_t *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void s_printf(s_out_t *o, const char *fmt, ...)
{
    if (o->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            o->oom = true;
            return;
        }
        if ((size_t)n < o->cap - o->len) {
            o->len += (size_t)n;
            return;
        }
        size_t cap = o->cap * 2 + (size_t)n;
        char *b = realloc(o->buf, cap);
        if (!b) {
            o->oom = true;
            return;
        }
        o->buf = b;
        o->cap = cap;
    }
}

/* A label value for the text format: kc_text_prom (kc_text.h), so that any
 * bytes (a producer id of a store written before the admission rules) give a
 * value `promtool check metrics` accepts: valid UTF-8 with \\, \" and \n. */
static void s_label(s_out_t *o, const char *v)
{
    size_t len = strlen(v);
    char small[256];
    size_t need = kc_text_prom(v, len, small, sizeof small) + 1;
    char *buf = need <= sizeof small ? small : malloc(need);
    if (!buf) {
        o->oom = true;
        return;
    }
    if (buf != small)
        kc_text_prom(v, len, buf, need);
    s_printf(o, "%s", buf);
    if (buf != small)
        free(buf);
}

static void s_family(s_out_t *o, const char *name, const char *type, const char *help)
{
    s_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void s_u64(s_out_t *o, const char *name, const char *type, const char *help, uint64_t v)
{
    s_family(o, name, type, help);
    s_printf(o, "%s %" PRIu64 "\n", name, v);
}

/* A float sample value (Go-style: +Inf, NaN, shortest round-trip-ish %.17g). */
static void s_double(s_out_t *o, double v)
{
    if (isnan(v))
        s_printf(o, "NaN");
    else if (isinf(v))
        s_printf(o, v > 0 ? "+Inf" : "-Inf");
    else
        s_printf(o, "%.17g", v);
}

static void s_bound(s_out_t *o, double le)
{
    s_printf(o, "%.10g", le);
}

static void s_hist(s_out_t *o, const char *name, const char *help, const s_hist_t *h)
{
    s_family(o, name, "histogram", help);
    uint64_t cum = 0;
    for (size_t i = 0; i < h->n; i++) {
        cum += h->count[i];
        s_printf(o, "%s_bucket{le=\"", name);
        s_bound(o, h->le[i]);
        s_printf(o, "\"} %" PRIu64 "\n", cum);
    }
    s_printf(o, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, h->total);
    s_printf(o, "%s_sum ", name);
    s_double(o, h->sum);
    s_printf(o, "\n%s_count %" PRIu64 "\n", name, h->total);
}

typedef struct {
    char id[KC_PRODUCER_ID_MAX + 1];
    kc_producer_state_t st;
    uint64_t spool_last_seq;
} s_row_t;

typedef struct {
    s_row_t *rows;
    size_t n, cap;
    const s_prods_t *prods; /* the copy of the spool_last_seq table */
} s_scan_t;

static int s_scan_fn(const char *producer, const kc_producer_state_t *st, void *ctx)
{
    s_scan_t *s = ctx;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 32;
        s_row_t *r = realloc(s->rows, cap * sizeof *r);
        if (!r)
            return KC_ENOMEM;
        s->rows = r;
        s->cap = cap;
    }
    s_row_t *r = &s->rows[s->n++];
    snprintf(r->id, sizeof r->id, "%s", producer);
    r->st = *st;
    r->spool_last_seq = 0;
    size_t len = strlen(producer);
    if (len <= KC_PRODUCER_ID_MAX) {
        const s_prod_t *p = s_prod_find(s->prods, producer, len, kc_idmap_hash(0, producer, len));
        if (p && p->epoch == st->epoch) /* else reported by another spool: unknown */
            r->spool_last_seq = p->spool_last_seq;
    }
    return 0;
}

/* The file size of DIR/data.mdb, or -1. */
static long long s_file_size(const char *dir)
{
    if (!dir)
        return -1;
    char path[4096];
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    struct stat sb;
    if (stat(path, &sb) != 0)
        return -1;
    return (long long)sb.st_size;
}

int kc_metrics_render(kc_metrics_t *m, kc_store_t *store, char **text, size_t *len)
{
    if (!m || !text)
        return KC_EINVAL;
    *text = NULL;
    if (len)
        *len = 0;
    s_state_t *st = malloc(sizeof *st);
    if (!st)
        return KC_ENOMEM;
    pthread_mutex_lock(&m->mu);
    *st = m->st;
    s_prods_t prods = {.n = m->prods.n, .cap = m->prods.n};
    bool oom = false;
    if (prods.n) {
        prods.prods = malloc(prods.n * sizeof *prods.prods);
        if (prods.prods)
            memcpy(prods.prods, m->prods.prods, prods.n * sizeof *prods.prods);
        oom = !prods.prods || kc_idmap_copy(&prods.idx, &m->prods.idx) != 0;
    }
    pthread_mutex_unlock(&m->mu);
    if (oom) {
        s_prods_fini(&prods);
        free(st);
        return KC_ENOMEM;
    }

    /* the store: one read transaction */
    s_scan_t scan = {.prods = &prods};
    kc_store_stat_t ss;
    memset(&ss, 0, sizeof ss);
    bool have_store = false;
    int rc = 0;
    kc_cycle_due_t due[12]; /* the 12 latest periods past their deadline (kc_cycle.h) */
    size_t ndue = 0;
    if (store) {
        kc_txn_t *txn = NULL;
        rc = kc_store_read_begin(store, &txn);
        if (rc == 0)
            rc = kc_txn_stat(txn, &ss);
        if (rc == 0)
            rc = kc_txn_producer_scan(txn, s_scan_fn, &scan);
        if (rc == 0)
            rc = kc_cycle_recent(m->cycle, txn, kc_time_real_ns(), due, 12, &ndue);
        kc_txn_end(&txn);
        have_store = rc == 0;
    }
    s_prods_fini(&prods);
    if (rc != 0) {
        free(scan.rows);
        free(st);
        return rc;
    }

    s_out_t o = {.cap = 8192};
    o.buf = malloc(o.cap);
    if (!o.buf) {
        free(scan.rows);
        free(st);
        return KC_ENOMEM;
    }
    o.buf[0] = '\0';
    const kc_agg_counters_t *t = &st->total;

    s_u64(&o, "kcpipe_events_accepted_total", "counter",
          "Events counted into the totals since the aggregator started.", t->accepted);
    s_u64(&o, "kcpipe_events_duplicate_total", "counter",
          "Business duplicates acknowledged but not counted since the aggregator started.",
          t->duplicates);
    s_family(&o, "kcpipe_events_rejected_total", "counter",
             "Events rejected, by reason, since the aggregator started.");
    for (int r = 0; r < KC_REASON_SLOTS; r++) {
        if (r == 0 || r == KCPIPE__V1__REASON__REASON_DUPLICATE)
            continue;
        const char *name = kc_reason_name(r);
        bool known = name && *name && strcmp(name, "unknown") != 0;
        if (!known && !t->by_reason[r])
            continue;
        s_printf(&o, "kcpipe_events_rejected_total{reason=\"");
        if (known)
            s_label(&o, name);
        else
            s_printf(&o, "%d", r);
        s_printf(&o, "\"} %" PRIu64 "\n", t->by_reason[r]);
    }
    s_u64(&o, "kcpipe_events_resent_total", "counter",
          "Transport duplicates (already processed sequence numbers) acknowledged again.",
          t->resent);
    uint64_t bad_producer = t->bad_batches > st->undecodable ? t->bad_batches - st->undecodable : 0;
    uint64_t undecodable = t->bad_batches - bad_producer;
    uint64_t not_ok = t->bad_batches + t->unavailable + t->fenced;
    s_family(&o, "kcpipe_batches_total", "counter", "Batch messages answered, by status.");
    s_printf(&o, "kcpipe_batches_total{status=\"ok\"} %" PRIu64 "\n",
             t->batches > not_ok ? t->batches - not_ok : 0);
    s_printf(&o, "kcpipe_batches_total{status=\"undecodable\"} %" PRIu64 "\n", undecodable);
    s_printf(&o, "kcpipe_batches_total{status=\"bad_producer\"} %" PRIu64 "\n", bad_producer);
    s_printf(&o, "kcpipe_batches_total{status=\"unavailable\"} %" PRIu64 "\n", t->unavailable);
    s_printf(&o, "kcpipe_batches_total{status=\"fenced\"} %" PRIu64 "\n", t->fenced);
    s_u64(&o, "kcpipe_commits_total", "counter", "Group commits (store write transactions).",
          t->commits);
    s_hist(&o, "kcpipe_commit_duration_seconds", "Duration of a group commit, in seconds.",
           &st->commit_seconds);
    s_hist(&o, "kcpipe_commit_events", "Events per group commit.", &st->commit_events);
    s_hist(&o, "kcpipe_batch_events", "Events per Batch message.", &st->batch_events);

    s_family(&o, "kcpipe_producer_last_seen_timestamp_seconds", "gauge",
             "When the producer's latest event was committed, seconds since the epoch.");
    for (size_t i = 0; i < scan.n; i++) {
        s_printf(&o, "kcpipe_producer_last_seen_timestamp_seconds{producer=\"");
        s_label(&o, scan.rows[i].id);
        s_printf(&o, "\"} %.9f\n", (double)scan.rows[i].st.last_seen_ns / 1e9);
    }
    s_family(&o, "kcpipe_producer_committed_seq", "gauge",
             "Highest sequence number of the producer durably processed.");
    for (size_t i = 0; i < scan.n; i++) {
        s_printf(&o, "kcpipe_producer_committed_seq{producer=\"");
        s_label(&o, scan.rows[i].id);
        s_printf(&o, "\"} %" PRIu64 "\n", scan.rows[i].st.hwm);
    }
    s_family(&o, "kcpipe_producer_lag_events", "gauge",
             "Events in the producer's spool not yet committed (last spool sequence reported in "
             "its current spool epoch minus the committed sequence; absent when not reported).");
    for (size_t i = 0; i < scan.n; i++) {
        const s_row_t *r = &scan.rows[i];
        if (!r->spool_last_seq)
            continue;
        s_printf(&o, "kcpipe_producer_lag_events{producer=\"");
        s_label(&o, r->id);
        s_printf(&o, "\"} %" PRIu64 "\n",
                 r->spool_last_seq > r->st.hwm ? r->spool_last_seq - r->st.hwm : 0);
    }
    free(scan.rows);

    if (have_store) {
        s_u64(&o, "kcpipe_store_log_entries", "gauge", "Entries in the store's event log.",
              ss.log_entries);
        long long fsz = s_file_size(kc_store_dir(store));
        s_u64(&o, "kcpipe_store_file_size_bytes", "gauge",
              "Size of the store's data file (data.mdb), in bytes.",
              fsz >= 0 ? (uint64_t)fsz : (uint64_t)ss.used_bytes);
        s_u64(&o, "kcpipe_store_map_size_bytes", "gauge", "The store's LMDB map size, in bytes.",
              (uint64_t)ss.map_size);
        s_u64(&o, "kcpipe_store_map_used_bytes", "gauge",
              "Bytes of the store's map in use (pages up to the last used one).",
              (uint64_t)ss.used_bytes);
    }
    s_family(&o, "kcpipe_cycle_late_provinces", "gauge",
             "Provinces whose first report of the period came after its deadline (docs/CYCLE.md), "
             "for the 12 latest periods past their deadline.");
    for (size_t i = 0; i < ndue; i++)
        s_printf(&o, "kcpipe_cycle_late_provinces{period=\"%04d-%02d\"} %u\n", due[i].year,
                 due[i].month, due[i].late);
    s_family(&o, "kcpipe_cycle_missing_provinces", "gauge",
             "Provinces with no report of the period although its deadline has passed "
             "(docs/CYCLE.md), for the 12 latest periods past their deadline.");
    for (size_t i = 0; i < ndue; i++)
        s_printf(&o, "kcpipe_cycle_missing_provinces{period=\"%04d-%02d\"} %u\n", due[i].year,
                 due[i].month, due[i].missing);
    s_u64(&o, "kcpipe_store_stale_readers_cleared_total", "counter",
          "Stale LMDB reader slots cleared.", st->readers_cleared);
    s_family(&o, "kcpipe_feed_subscribers", "gauge", "Subscribers connected to the live feed.");
    s_printf(&o, "kcpipe_feed_subscribers %" PRId64 "\n", st->feed_subscribers);
    s_u64(&o, "kcpipe_feed_updates_total", "counter", "Updates published on the live feed.",
          st->feed_updates);
    s_u64(&o, "kcpipe_feed_update_drops_total", "counter",
          "Feed updates not published (send queue full).", st->feed_drops);
    s_u64(&o, "kcpipe_feed_snapshots_total", "counter", "Feed snapshots served.",
          st->feed_snapshots);
    s_family(&o, "kcpipe_http_requests_total", "counter", "HTTP responses sent, by status code.");
    for (size_t i = 0; i < st->n_http; i++)
        s_printf(&o, "kcpipe_http_requests_total{code=\"%u\"} %" PRIu64 "\n", st->http[i].code,
                 st->http[i].n);
    if (st->http_other)
        s_printf(&o, "kcpipe_http_requests_total{code=\"other\"} %" PRIu64 "\n", st->http_other);
    s_family(&o, "kcpipe_start_time_seconds", "gauge",
             "When the aggregator started, seconds since the epoch.");
    s_printf(&o, "kcpipe_start_time_seconds %.3f\n", m->start_time);
    s_family(&o, "kcpipe_build_info", "gauge", "The aggregator's version (always 1).");
    s_printf(&o, "kcpipe_build_info{version=\"");
    s_label(&o, KC_VERSION);
    s_printf(&o, "\"} 1\n");
    free(st);
    if (o.oom) {
        free(o.buf);
        return KC_ENOMEM;
    }
    *text = o.buf;
    if (len)
        *len = o.len;
    return 0;
}
