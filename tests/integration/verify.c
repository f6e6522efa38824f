/* verify.c - the exactly-once checks every integration test ends with. */
#include "verify.h"

#include "harness.h"
#include "kc_err.h"
#include "kc_event.h"
#include "kc_store.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#define QUERY_TIMEOUT_MS 30000

typedef struct {
    char *keys; /* n fixed-size identity keys: province NUL event_id */
    size_t n, cap;
    char producers[16][72];
    uint64_t last_seq[16];
    uint64_t last_epoch[16];
    size_t nprod;
    int64_t sums[KC_METRIC_COUNT];
    const char *fail; /* first problem seen */
    char why[256];
} scan_t;

#define KEY_LEN 80

static int s_on_entry(const kc_log_entry_t *e, void *ctx)
{
    scan_t *s = ctx;
    kc_pb_event_t *ev = kcpipe__v1__event__unpack(NULL, e->event_len, e->event);
    if (!ev) {
        snprintf(s->why, sizeof s->why, "log entry %llu does not decode",
                 (unsigned long long)e->offset);
        return 1;
    }
    int rc = 0;
    if (!ev->event_id || !ev->province || strlen(ev->event_id) > 64) {
        snprintf(s->why, sizeof s->why, "log entry %llu lacks province/event_id",
                 (unsigned long long)e->offset);
        rc = 1;
        goto done;
    }
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 4096;
        s->keys = realloc(s->keys, s->cap * KEY_LEN);
    }
    char *k = s->keys + s->n++ * KEY_LEN;
    memset(k, 0, KEY_LEN);
    snprintf(k, 4, "%s", ev->province);
    snprintf(k + 4, KEY_LEN - 4, "%s", ev->event_id);
    if (ev->metrics)
        for (int i = 0; i < KC_METRIC_COUNT; i++) {
            int64_t v;
            if (kc_pb_metric_get(ev->metrics, i, &v))
                s->sums[i] += v;
        }
    /* per producer and spool epoch, sequences strictly increasing along the log */
    char prod[72];
    snprintf(prod, sizeof prod, "%.*s", (int)e->producer_len, e->producer);
    if (ev->has_seq && ev->seq != e->seq) {
        snprintf(s->why, sizeof s->why, "log entry %llu: entry seq %llu, event seq %llu",
                 (unsigned long long)e->offset, (unsigned long long)e->seq,
                 (unsigned long long)ev->seq);
        rc = 1;
        goto done;
    }
    size_t p = 0;
    while (p < s->nprod && strcmp(s->producers[p], prod) != 0)
        p++;
    if (p == s->nprod) {
        if (s->nprod == 16) {
            snprintf(s->why, sizeof s->why, "more than 16 producers in the log");
            rc = 1;
            goto done;
        }
        snprintf(s->producers[s->nprod++], sizeof s->producers[0], "%s", prod);
        s->last_seq[p] = 0;
        s->last_epoch[p] = e->epoch;
    }
    if (e->epoch < s->last_epoch[p]) {
        snprintf(s->why, sizeof s->why,
                 "producer %s: epoch %llu at log offset %llu after epoch %llu", prod,
                 (unsigned long long)e->epoch, (unsigned long long)e->offset,
                 (unsigned long long)s->last_epoch[p]);
        rc = 1;
        goto done;
    }
    if (e->epoch > s->last_epoch[p]) { /* a new spool of this producer: sequence restarts */
        s->last_epoch[p] = e->epoch;
        s->last_seq[p] = 0;
    }
    if (e->seq <= s->last_seq[p]) {
        snprintf(s->why, sizeof s->why, "producer %s: seq %llu at log offset %llu after seq %llu",
                 prod, (unsigned long long)e->seq, (unsigned long long)e->offset,
                 (unsigned long long)s->last_seq[p]);
        rc = 1;
        goto done;
    }
    s->last_seq[p] = e->seq;
done:
    kcpipe__v1__event__free_unpacked(ev, NULL);
    return rc;
}

static int s_key_cmp(const void *a, const void *b)
{
    return memcmp(a, b, KEY_LEN);
}

typedef struct {
    uint64_t events;
    int64_t m[KC_METRIC_COUNT];
    kc_gen_cell_t *cell; /* every cell, in store order */
    size_t n, cap;
    int rc; /* KC_ENOMEM while collecting */
} cells_t;

static int s_on_cell(const kc_cell_key_t *key, const kc_cell_t *cell, void *ctx)
{
    cells_t *c = ctx;
    c->events += cell->events;
    for (int i = 0; i < KC_METRIC_COUNT; i++)
        c->m[i] += cell->m[i];
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 4096;
        kc_gen_cell_t *v = realloc(c->cell, cap * sizeof *v);
        if (!v) {
            c->rc = KC_ENOMEM;
            return 1;
        }
        c->cell = v;
        c->cap = cap;
    }
    kc_gen_cell_t *o = &c->cell[c->n++];
    *o = (kc_gen_cell_t){.year = key->year,
                         .month = key->month,
                         .province = key->province,
                         .activity = key->activity,
                         .kind = key->kind,
                         .fund = key->fund,
                         .events = (int64_t)cell->events};
    memcpy(o->m, cell->m, sizeof o->m);
    return 0;
}

/* Read every cell of the snapshot into *c. */
static void s_read_cells(kc_txn_t *t, cells_t *c)
{
    kc_cell_key_t lo = kc_cell_key_min(), hi = kc_cell_key_max();
    memset(c, 0, sizeof *c);
    int rc = kc_txn_totals_scan(t, &lo, &hi, s_on_cell, c);
    KC_CHECK(rc == 0 && c->rc == 0, "totals scan: %s", kc_strerror(rc ? rc : c->rc));
}

static int s_cell_cmp(const kc_gen_cell_t *a, const kc_gen_cell_t *b)
{
    const int x[6] = {a->year, a->month, a->province, a->activity, a->kind, a->fund};
    const int y[6] = {b->year, b->month, b->province, b->activity, b->kind, b->fund};
    for (int i = 0; i < 6; i++)
        if (x[i] != y[i])
            return x[i] < y[i] ? -1 : 1;
    return 0;
}

static bool s_cell_same(const kc_gen_cell_t *a, const kc_gen_cell_t *b)
{
    return a->events == b->events && memcmp(a->m, b->m, sizeof a->m) == 0;
}

/* "2023-04 province 79 activity 4 kind plan fund kcqg" */
static char *s_cell_name(const kc_gen_cell_t *c, char *buf, size_t cap)
{
    static const char *const kinds[] = {"?", "actual", "plan"};
    static const char *const funds[] = {"?", "kcqg", "kcdp", "other"};
    snprintf(buf, cap, "%04u-%02u province %02u activity %u kind %s fund %s", c->year, c->month,
             c->province, c->activity, c->kind <= 2 ? kinds[c->kind] : "?",
             c->fund <= 3 ? funds[c->fund] : "?");
    return buf;
}

/* "events=1 amount_vnd=5 facilities=2": the events and every metric non-zero in a or b. */
static char *s_cell_values(const kc_gen_cell_t *a, const kc_gen_cell_t *b, char *buf, size_t cap)
{
    size_t n = (size_t)snprintf(buf, cap, "events=%lld", (long long)a->events);
    for (int i = 0; i < KC_METRIC_COUNT && n < cap; i++)
        if (a->m[i] != 0 || b->m[i] != 0)
            n += (size_t)snprintf(buf + n, cap - n, " %s=%lld", kc_ref_metric(i)->name,
                                  (long long)a->m[i]);
    return buf;
}

/* Compare the store's cells (sorted) with the expectation (sorted), a cell
 * absent on one side being all zero; print the first differing cells with
 * both values, and fail naming the first. */
static void s_compare_cells(const cells_t *got, const kc_gen_cell_t *exp, size_t nexp,
                            const char *when)
{
    enum { SHOWN = 5 };
    size_t i = 0, j = 0, ndiff = 0;
    char first[640] = "";
    while (i < got->n || j < nexp) {
        kc_gen_cell_t zero = {0};
        const kc_gen_cell_t *a, *b;
        int c = i == got->n ? 1 : j == nexp ? -1 : s_cell_cmp(&got->cell[i], &exp[j]);
        if (c < 0) {
            a = &got->cell[i++];
            zero = *a;
            zero.events = 0;
            memset(zero.m, 0, sizeof zero.m);
            b = &zero;
        } else if (c > 0) {
            b = &exp[j++];
            zero = *b;
            zero.events = 0;
            memset(zero.m, 0, sizeof zero.m);
            a = &zero;
        } else {
            a = &got->cell[i++];
            b = &exp[j++];
        }
        if (s_cell_same(a, b))
            continue;
        char name[96], va[200], vb[200];
        s_cell_name(a, name, sizeof name);
        s_cell_values(a, b, va, sizeof va);
        s_cell_values(b, a, vb, sizeof vb);
        if (ndiff == 0)
            snprintf(first, sizeof first, "cell %s: store %s; expected %s", name, va, vb);
        if (ndiff < SHOWN)
            fprintf(stderr, "verify %s: cell %s: store %s; expected %s\n", when, name, va, vb);
        ndiff++;
    }
    KC_CHECK(ndiff == 0,
             "%s: %zu of the store's cells differ from the generator's own expectation "
             "(%zu cells expected); first %s",
             when, ndiff, nexp, first);
}

/* The per-cell check of a complete expectation, in the snapshot t. */
static void s_check_cells_all(const cells_t *got, const kc_gen_sums_t *expect, const char *when)
{
    kc_gen_cell_t *exp = NULL;
    size_t nexp = 0;
    int rc = kc_gen_expect(expect->files, NULL, expect->nfiles, &exp, &nexp);
    KC_CHECK(rc == 0, "the generator's expectation: %s", strerror(-rc));
    s_compare_cells(got, exp, nexp, when);
    free(exp);
}

static int s_on_producer(const char *producer, const kc_producer_state_t *st, void *ctx)
{
    (void)producer;
    *(uint64_t *)ctx += st->accepted;
    return 0;
}

void kc_verify_store(const char *store, const kc_gen_sums_t *expect)
{
    kc_store_t *s = NULL;
    kc_store_opts_t o = {.read_only = true};
    int rc = kc_store_open(&s, store, &o);
    KC_CHECK(rc == 0, "open store %s read-only: %s", store, kc_strerror(rc));
    kc_txn_t *t = NULL;
    rc = kc_store_read_begin(s, &t);
    KC_CHECK(rc == 0, "read_begin: %s", kc_strerror(rc));

    /* totals: globally (the sums less what corrections and retractions took out),
     * then cell by cell against the generator's own expectation when it is complete */
    cells_t c;
    s_read_cells(t, &c);
    for (int i = 0; i < KC_METRIC_COUNT; i++) {
        int64_t want = expect->sums[i] - expect->voided_sums[i];
        KC_CHECK(c.m[i] == want, "total %s = %lld, CSVs sum to %lld (diff %lld)",
                 kc_ref_metric(i)->name, (long long)c.m[i], (long long)want,
                 (long long)(c.m[i] - want));
    }
    KC_CHECK(c.events == expect->events - expect->voided,
             "cells count %llu events, CSVs hold %llu live (%llu rows, %llu voided)",
             (unsigned long long)c.events, (unsigned long long)(expect->events - expect->voided),
             (unsigned long long)expect->events, (unsigned long long)expect->voided);
    if (kc_gen_sums_complete(expect))
        s_check_cells_all(&c, expect, "store");
    free(c.cell);

    /* the log: each event once, sequences rising per producer */
    uint64_t size = 0;
    rc = kc_txn_log_size(t, &size);
    KC_CHECK(rc == 0, "log size: %s", kc_strerror(rc));
    KC_CHECK(size == expect->events, "log holds %llu entries, expected %llu",
             (unsigned long long)size, (unsigned long long)expect->events);
    scan_t sc = {0};
    rc = kc_txn_log_scan(t, 0, s_on_entry, &sc);
    KC_CHECK(rc == 0, "log scan: %s", sc.why[0] ? sc.why : kc_strerror(rc));
    KC_CHECK(sc.n == expect->events, "scanned %zu log entries, expected %llu", sc.n,
             (unsigned long long)expect->events);
    qsort(sc.keys, sc.n, KEY_LEN, s_key_cmp);
    for (size_t i = 1; i < sc.n; i++)
        KC_CHECK(memcmp(sc.keys + (i - 1) * KEY_LEN, sc.keys + i * KEY_LEN, KEY_LEN) != 0,
                 "event %s/%s is in the log twice", sc.keys + i * KEY_LEN,
                 sc.keys + i * KEY_LEN + 4);
    for (int i = 0; i < KC_METRIC_COUNT; i++)
        KC_CHECK(sc.sums[i] == expect->sums[i], "log events sum %s to %lld, expected %lld",
                 kc_ref_metric(i)->name, (long long)sc.sums[i], (long long)expect->sums[i]);
    free(sc.keys);

    uint64_t accepted = 0;
    rc = kc_txn_producer_scan(t, s_on_producer, &accepted);
    KC_CHECK(rc == 0, "producer scan: %s", kc_strerror(rc));
    KC_CHECK(accepted == expect->events, "producers' accepted counters add to %llu, not %llu",
             (unsigned long long)accepted, (unsigned long long)expect->events);
    kc_txn_end(&t);
    kc_store_close(&s);
}

/* Run kc-query for one year and kind; parse its JSON totals into m (added). */
static int64_t s_query(const char *store, int year, const char *kind, int timeout_ms, int64_t *m)
{
    static int calls;
    char bin[KC_PATH_MAX], out[KC_PATH_MAX], err[KC_PATH_MAX], ys[16];
    kc_harness_bin(bin, "kc-query");
    calls++;
    kc_harness_path(out, "query-%d.json", calls);
    kc_harness_path(err, "query-%d.err", calls);
    snprintf(ys, sizeof ys, "%d", year);
    char *argv[] = {bin,      "--store",    (char *)store, "--year", ys,
                    "--kind", (char *)kind, "--format",    "json",   NULL};
    int64_t t0 = kc_harness_now_ms();
    pid_t pid = kc_harness_spawn(argv, out, err);
    int st = 0;
    if (kc_harness_wait(pid, timeout_ms, &st) != 0) {
        kc_harness_stop(pid, SIGKILL, 5000);
        KC_CHECK(false, "kc-query did not answer within %d ms", timeout_ms);
    }
    int64_t took = kc_harness_now_ms() - t0;
    char sb[64];
    KC_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "kc-query: %s",
             kc_harness_status_str(st, sb, sizeof sb));
    json_error_t je;
    json_t *root = json_load_file(out, 0, &je);
    KC_CHECK(root, "kc-query output %s is not JSON: %s (line %d)", out, je.text, je.line);
    json_t *totals = json_object_get(root, "totals");
    KC_CHECK(json_is_object(totals), "kc-query JSON has no \"totals\" object");
    for (int i = 0; i < KC_METRIC_COUNT; i++) {
        json_t *v = json_object_get(totals, kc_ref_metric(i)->name);
        KC_CHECK(json_is_integer(v), "kc-query totals lack an integer %s", kc_ref_metric(i)->name);
        if (m)
            m[i] += json_integer_value(v);
    }
    json_decref(root);
    unlink(out);
    unlink(err);
    return took;
}

void kc_verify_query(const char *store, const kc_gen_sums_t *expect)
{
    int64_t m[KC_METRIC_COUNT] = {0};
    for (int y = KC_GEN_YEAR_MIN; y <= KC_GEN_YEAR_MAX; y++) {
        s_query(store, y, "actual", QUERY_TIMEOUT_MS, m);
        s_query(store, y, "plan", QUERY_TIMEOUT_MS, m);
    }
    for (int i = 0; i < KC_METRIC_COUNT; i++)
        KC_CHECK(m[i] == expect->sums[i] - expect->voided_sums[i],
                 "kc-query: %s = %lld over %d-%d actual + plan, CSVs sum to %lld",
                 kc_ref_metric(i)->name, (long long)m[i], KC_GEN_YEAR_MIN, KC_GEN_YEAR_MAX,
                 (long long)(expect->sums[i] - expect->voided_sums[i]));
}

int64_t kc_verify_query_once(const char *store, int year, int timeout_ms)
{
    return s_query(store, year, "actual", timeout_ms, NULL);
}

/* ---- per cell at any moment ---- */

typedef struct {
    const kc_gen_file_t *files;
    size_t n;
    uint8_t **seen; /* per file, rows + 1 flags */
    uint64_t foreign;
    char why[256];
} logged_t;

static int s_on_logged(const kc_log_entry_t *e, void *ctx)
{
    logged_t *l = ctx;
    kc_pb_event_t *ev = kcpipe__v1__event__unpack(NULL, e->event_len, e->event);
    size_t f, row;
    if (!ev || !ev->event_id || !kc_gen_row_of(l->files, l->n, ev->event_id, &f, &row) ||
        row > l->files[f].rows) {
        if (l->foreign++ == 0)
            snprintf(l->why, sizeof l->why, "log entry %llu (%s) is no row of the listed files",
                     (unsigned long long)e->offset, ev && ev->event_id ? ev->event_id : "?");
    } else {
        l->seen[f][row] = 1;
    }
    if (ev)
        kcpipe__v1__event__free_unpacked(ev, NULL);
    return 0;
}

void kc_verify_cells_logged(const char *store, const kc_gen_file_t *files, size_t n,
                            const char *when)
{
    kc_store_t *s = NULL;
    kc_store_opts_t o = {.read_only = true};
    int rc = kc_store_open(&s, store, &o);
    KC_CHECK(rc == 0, "open store %s read-only: %s", store, kc_strerror(rc));
    kc_txn_t *t = NULL;
    rc = kc_store_read_begin(s, &t);
    KC_CHECK(rc == 0, "read_begin: %s", kc_strerror(rc));
    logged_t l = {.files = files, .n = n};
    l.seen = calloc(n ? n : 1, sizeof *l.seen);
    size_t *upto = calloc(n ? n : 1, sizeof *upto);
    KC_CHECK(l.seen && upto, "out of memory");
    for (size_t i = 0; i < n; i++) {
        l.seen[i] = calloc(files[i].rows + 1, 1);
        KC_CHECK(l.seen[i], "out of memory");
    }
    rc = kc_txn_log_scan(t, 0, s_on_logged, &l);
    KC_CHECK(rc == 0, "log scan: %s", kc_strerror(rc));
    KC_CHECK(l.foreign == 0, "%s: %llu log entries are not generated rows: %s", when,
             (unsigned long long)l.foreign, l.why);
    /* a producer's rows are accepted in order without gaps: those in the log
     * are its first k rows */
    for (size_t i = 0; i < n; i++) {
        size_t k = 0;
        while (k < files[i].rows && l.seen[i][k + 1])
            k++;
        for (size_t r = k + 1; r <= files[i].rows; r++)
            KC_CHECK(!l.seen[i][r],
                     "%s: row %zu of %s is in the log but row %zu is not: the rows in the log "
                     "are not the file's first rows",
                     when, r, files[i].prefix, k + 1);
        upto[i] = k;
        free(l.seen[i]);
    }
    free(l.seen);
    cells_t c;
    s_read_cells(t, &c);
    kc_txn_end(&t);
    kc_store_close(&s);
    kc_gen_cell_t *exp = NULL;
    size_t nexp = 0;
    rc = kc_gen_expect(files, upto, n, &exp, &nexp);
    KC_CHECK(rc == 0, "the generator's expectation: %s", strerror(-rc));
    s_compare_cells(&c, exp, nexp, when);
    free(exp);
    free(c.cell);
    free(upto);
}

void kc_verify_cells(const char *store, const kc_gen_sums_t *expect, const char *when)
{
    KC_CHECK(kc_gen_sums_complete(expect),
             "%s: the expectation lists %zu files that do not hold its %llu rows (changed by "
             "hand?): no per-cell check possible",
             when, expect->nfiles, (unsigned long long)expect->events);
    kc_verify_cells_logged(store, expect->files, expect->nfiles, when);
}
