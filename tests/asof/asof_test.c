/* asof_test.c - point in time (issue 3, part 6): a store driven through kc_apply
 * with a checkpoint every 3 log entries, records, corrections and retractions
 * over several groups; the live totals, log size and time recorded after every
 * group; then kc_cells_asof (and kc-query --as-of / --as-of-offset) must give
 * exactly those totals, at checkpoints and between them, for N = 0 and N = size;
 * the checkpoints are where the interval says, and hold the live totals. */
#include "apply_test_util.h"
#include "kc_apply.h"
#include "kc_cells.h"
#include "kc_checkpoint.h"
#include "kc_err.h"
#include "kc_log.h"
#include "kc_store.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#define S_CORR    KCPIPE__V1__OP__OP_CORRECTION
#define S_RETR    KCPIPE__V1__OP__OP_RETRACTION
#define S_EVERY   3
#define S_MAXCELL 64
#define S_MAXSNAP 16
#define S_MAXCP   16

/* The live state after one group. */
typedef struct {
    uint64_t size;    /* log entries */
    uint64_t last_ns; /* received_ns of entry size-1 (0 if none) */
    size_t ncells;
    kc_cell_key_t keys[S_MAXCELL];
    kc_cell_t cells[S_MAXCELL];
    kc_cells_result_t sum; /* kc_cells_sum, 2021, by province, actual */
} s_snap_t;

typedef struct {
    char *dir;
    kc_store_t *store;
    uint64_t seq;
    s_snap_t snaps[S_MAXSNAP];
    size_t nsnaps;
    uint64_t cps[S_MAXCP]; /* the checkpoint sizes the rule asks for */
    size_t ncps;
} s_fx_t;

static int s_setup(void **state)
{
    s_fx_t *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    t_store_open("asof", &fx->dir, &fx->store);
    *state = fx;
    return 0;
}

static int s_teardown(void **state)
{
    s_fx_t *fx = *state;
    t_store_close(&fx->dir, &fx->store);
    free(fx);
    return 0;
}

/* ---- events ---- */

typedef struct {
    const char *id, *corrects, *province;
    int op; /* 0 record, S_CORR, S_RETR */
    int month;
    int64_t amount;
} s_ev_t;

static t_buf_t s_pack(const s_ev_t *d, uint64_t seq)
{
    t_event_t e;
    t_event(&e, "p1", seq, d->id, d->amount);
    e.ev.province = (char *)(d->province ? d->province : "79");
    e.ev.month = d->month ? d->month : 3;
    if (d->op) {
        e.ev.has_op = 1;
        e.ev.op = d->op;
        e.ev.corrects = (char *)d->corrects;
    }
    if (d->op == S_RETR) {
        e.ev.has_year = e.ev.has_month = 0; /* the target's period */
        e.ev.activity = NULL;
        e.ev.metrics = NULL;
    }
    return t_event_pack(&e);
}

static int s_cell_cb(const kc_cell_key_t *key, const kc_cell_t *cell, void *ctx)
{
    s_snap_t *s = ctx;
    assert_true(s->ncells < S_MAXCELL);
    s->keys[s->ncells] = *key;
    s->cells[s->ncells++] = *cell;
    return 0;
}

static void s_snapshot(s_fx_t *fx)
{
    assert_true(fx->nsnaps < S_MAXSNAP);
    s_snap_t *s = &fx->snaps[fx->nsnaps++];
    memset(s, 0, sizeof *s);
    kc_txn_t *t;
    assert_int_equal(kc_store_read_begin(fx->store, &t), 0);
    assert_int_equal(kc_txn_log_size(t, &s->size), 0);
    if (s->size) {
        kc_log_entry_t e;
        assert_int_equal(kc_txn_log_get(t, s->size - 1, &e), 0);
        s->last_ns = e.received_ns;
    }
    assert_int_equal(kc_txn_totals_scan(t, NULL, NULL, s_cell_cb, s), 0);
    kc_cells_filter_t f;
    kc_cells_filter_init(&f);
    f.by = KC_BY_PROVINCE;
    assert_int_equal(kc_cells_sum(t, &f, 2021, 1, 12, 1, &s->sum), 0);
    kc_txn_end(&t);
}

/* One group commit of n events of p1 (one Batch), with checkpoints every S_EVERY;
 * `logged` = how many of them must be accepted (the others are duplicates). */
static void s_group(s_fx_t *fx, const s_ev_t *evs, size_t n, uint64_t logged)
{
    t_buf_t b[8];
    assert_true(n <= 8);
    uint64_t before = fx->nsnaps ? fx->snaps[fx->nsnaps - 1].size : 0;
    for (size_t i = 0; i < n; i++)
        b[i] = s_pack(&evs[i], ++fx->seq);
    t_buf_t batch = t_batch("p1", b, n);
    for (size_t i = 0; i < n; i++)
        t_buf_free(&b[i]);
    kc_apply_t *g = kc_apply_new();
    kc_apply_set_checkpoint_every(g, S_EVERY);
    assert_int_equal(kc_apply_add(g, batch.data, batch.len), 0);
    t_buf_free(&batch);
    assert_int_equal(kc_apply_commit(g, fx->store), 0);
    assert_int_equal(kc_apply_delta(g)->accepted, logged);
    kc_apply_destroy(&g);
    s_snapshot(fx);
    uint64_t after = fx->snaps[fx->nsnaps - 1].size;
    assert_int_equal(after, before + logged);
    if (after / S_EVERY > before / S_EVERY)
        fx->cps[fx->ncps++] = after; /* the rule: at the end of a group that crosses */
}

/* Records, corrections (in place, to another cell, chains) and retractions in 7 groups. */
static void s_build(s_fx_t *fx)
{
    s_snapshot(fx); /* N = 0 */
    s_group(fx, (s_ev_t[]){{.id = "A1", .amount = 100}, {.id = "A2", .month = 5, .amount = 50}}, 2,
            2);
    s_group(fx,
            (s_ev_t[]){{.id = "A3", .province = "01", .amount = 70},
                       {.id = "C1", .corrects = "A1", .op = S_CORR, .amount = 120},
                       {.id = "A4", .month = 7, .amount = 9}},
            3, 3);
    s_group(fx,
            (s_ev_t[]){{.id = "R1", .corrects = "A2", .op = S_RETR},
                       {.id = "A3", .province = "01", .amount = 70}}, /* a duplicate */
            2, 1);
    s_group(fx, (s_ev_t[]){{.id = "C2", .corrects = "C1", .op = S_CORR, .month = 5, .amount = 80}},
            1, 1);
    s_group(fx,
            (s_ev_t[]){{.id = "A5", .amount = 1},
                       {.id = "A6", .province = "01", .month = 2, .amount = 2},
                       {.id = "A7", .month = 5, .amount = 3},
                       {.id = "C3", .corrects = "A3", .province = "01", .op = S_CORR, .amount = 0}},
            4, 4);
    s_group(fx, (s_ev_t[]){{.id = "A8", .month = 12, .amount = 8}}, 1, 1);
    s_group(fx,
            (s_ev_t[]){{.id = "R2", .corrects = "C2", .op = S_RETR},
                       {.id = "A9", .province = "01", .amount = 900},
                       {.id = "C4", .corrects = "A7", .op = S_CORR, .month = 5, .amount = 30}},
            3, 3);
    assert_int_equal(fx->snaps[fx->nsnaps - 1].size, 15);
}

/* ---- comparisons ---- */

typedef struct {
    const s_snap_t *want;
    size_t seen;
} s_cmp_t;

static int s_cmp_cell(const kc_cell_key_t *key, const kc_cell_t *cell, void *ctx)
{
    s_cmp_t *c = ctx;
    assert_true(c->seen < c->want->ncells);
    uint8_t a[KC_CELL_KEY_LEN], b[KC_CELL_KEY_LEN]; /* kc_cell_key_t has a padding byte */
    kc_cell_key_encode(key, a);
    kc_cell_key_encode(&c->want->keys[c->seen], b);
    assert_memory_equal(a, b, sizeof a);
    assert_int_equal(cell->events, c->want->cells[c->seen].events);
    assert_memory_equal(cell->m, c->want->cells[c->seen].m, sizeof cell->m);
    c->seen++;
    return 0;
}

static void s_expect_cells(kc_cells_mem_t *mem, const s_snap_t *want)
{
    s_cmp_t c = {.want = want};
    assert_int_equal(kc_cells_mem_scan(mem, NULL, NULL, s_cmp_cell, &c), 0);
    assert_int_equal(c.seen, want->ncells);
    assert_int_equal(kc_cells_mem_count(mem), want->ncells);
}

static void s_expect_sum(const kc_cells_result_t *got, const kc_cells_result_t *want)
{
    assert_int_equal(got->total.events, want->total.events);
    assert_memory_equal(got->total.m, want->total.m, sizeof got->total.m);
    assert_memory_equal(got->used, want->used, sizeof got->used);
    for (int r = 0; r < KC_CELLS_ROWS; r++) {
        assert_int_equal(got->row[r].events, want->row[r].events);
        assert_memory_equal(got->row[r].m, want->row[r].m, sizeof got->row[r].m);
    }
}

typedef struct {
    uint64_t sizes[S_MAXCP];
    size_t n;
} s_cplist_t;

static int s_cp_cb(const kc_checkpoint_t *cp, void *ctx)
{
    s_cplist_t *l = ctx;
    assert_true(l->n < S_MAXCP);
    l->sizes[l->n++] = cp->size;
    return 0;
}

static const s_snap_t *s_snap_at(const s_fx_t *fx, uint64_t size)
{
    for (size_t i = 0; i < fx->nsnaps; i++)
        if (fx->snaps[i].size == size)
            return &fx->snaps[i];
    return NULL;
}

/* ---- tests ---- */

static void test_checkpoints_at_the_interval(void **state)
{
    s_fx_t *fx = *state;
    s_build(fx);
    assert_int_equal(fx->ncps, 5); /* sizes 5, 6, 11, 12, 15: group ends that crossed 3k */
    kc_txn_t *t;
    assert_int_equal(kc_store_read_begin(fx->store, &t), 0);
    s_cplist_t l = {0};
    assert_int_equal(kc_txn_checkpoint_list(t, s_cp_cb, &l), 0);
    assert_int_equal(l.n, fx->ncps);
    for (size_t i = 0; i < l.n; i++) {
        assert_int_equal(l.sizes[i], fx->cps[i]);
        const s_snap_t *want = s_snap_at(fx, l.sizes[i]);
        assert_non_null(want);
        kc_checkpoint_t cp;
        assert_int_equal(kc_txn_checkpoint_find(t, l.sizes[i], &cp), 0);
        assert_int_equal(cp.size, l.sizes[i]);
        assert_int_equal(cp.cells, want->ncells);
        assert_int_equal(cp.received_ns, want->last_ns);
        s_cmp_t c = {.want = want};
        assert_int_equal(kc_txn_checkpoint_scan(t, cp.size, s_cmp_cell, &c), 0);
        assert_int_equal(c.seen, want->ncells);
        /* between this checkpoint and the next, find answers this one */
        uint64_t next = i + 1 < l.n ? l.sizes[i + 1] : 1000;
        assert_int_equal(kc_txn_checkpoint_find(t, next - 1, &cp), 0);
        assert_int_equal(cp.size, l.sizes[i]);
    }
    kc_checkpoint_t cp;
    assert_int_equal(kc_txn_checkpoint_find(t, fx->cps[0] - 1, &cp), KC_ENOTFOUND);
    assert_int_equal(kc_txn_checkpoint_scan(t, 7, s_cmp_cell, NULL), KC_ENOTFOUND);
    /* received_ns never decreases along the log */
    uint64_t prev = 0;
    for (uint64_t o = 0; o < 15; o++) {
        kc_log_entry_t e;
        assert_int_equal(kc_txn_log_get(t, o, &e), 0);
        assert_true(e.received_ns >= prev);
        prev = e.received_ns;
    }
    kc_txn_end(&t);
}

static void test_asof_equals_the_live_totals(void **state)
{
    s_fx_t *fx = *state;
    s_build(fx);
    kc_txn_t *t;
    assert_int_equal(kc_store_read_begin(fx->store, &t), 0);
    kc_cells_filter_t f;
    kc_cells_filter_init(&f);
    f.by = KC_BY_PROVINCE;
    bool at_cp = false, between = false;
    for (size_t i = 0; i < fx->nsnaps; i++) {
        const s_snap_t *s = &fx->snaps[i];
        for (unsigned flags = 0; flags <= KC_CELLS_ASOF_NO_CHECKPOINTS; flags++) {
            kc_cells_mem_t *mem = NULL;
            kc_cells_asof_t info;
            assert_int_equal(kc_cells_asof(t, s->size, flags, &mem, &info), 0);
            assert_int_equal(info.offset, s->size);
            assert_int_equal(info.log_size, 15);
            assert_int_equal(info.received_ns, s->last_ns);
            assert_int_equal(info.checkpoint + info.replayed, s->size);
            if (flags == 0 && info.replayed == 0 && s->size > 0)
                at_cp = true;
            if (flags == 0 && info.replayed > 0 && info.checkpoint > 0)
                between = true;
            s_expect_cells(mem, s);
            kc_cells_src_t src = {.txn = t, .mem = mem};
            kc_cells_result_t got;
            assert_int_equal(kc_cells_sum_src(&src, &f, 2021, 1, 12, 1, &got), 0);
            s_expect_sum(&got, &s->sum);
            kc_cells_mem_free(&mem);
        }
        /* time -> offset: the entries received at or before the group's last one */
        uint64_t n;
        if (s->size > 0) {
            assert_int_equal(kc_txn_log_size_at(t, s->last_ns, &n), 0);
            assert_int_equal(n, s->size);
            if (i + 1 < fx->nsnaps) {
                assert_true(fx->snaps[i + 1].last_ns > s->last_ns);
                assert_int_equal(kc_txn_log_size_at(t, fx->snaps[i + 1].last_ns - 1, &n), 0);
                assert_int_equal(n, s->size);
            }
        }
    }
    assert_true(at_cp);
    assert_true(between);
    uint64_t n;
    assert_int_equal(kc_txn_log_size_at(t, 0, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(kc_txn_log_size_at(t, UINT64_MAX, &n), 0);
    assert_int_equal(n, 15);
    /* every N, inside groups too: checkpoint + replay = replay from 0 */
    for (uint64_t k = 0; k <= 16; k++) {
        kc_cells_mem_t *a = NULL, *b = NULL;
        kc_cells_asof_t ia, ib;
        assert_int_equal(kc_cells_asof(t, k, 0, &a, &ia), 0);
        assert_int_equal(kc_cells_asof(t, k, KC_CELLS_ASOF_NO_CHECKPOINTS, &b, &ib), 0);
        assert_int_equal(ia.offset, k > 15 ? 15 : k); /* past the end = now */
        assert_int_equal(ib.checkpoint, 0);
        s_snap_t *want = calloc(1, sizeof *want);
        assert_int_equal(kc_cells_mem_scan(b, NULL, NULL, s_cell_cb, want), 0);
        s_expect_cells(a, want);
        free(want);
        kc_cells_mem_free(&a);
        kc_cells_mem_free(&b);
    }
    kc_txn_end(&t);
}

/* ---- kc-query ---- */

static int s_run_query(const s_fx_t *fx, const char *opt, const char *val, json_t **out)
{
    const char *bin = getenv("KC_BIN_DIR");
    assert_non_null(bin);
    char path[600], outf[600];
    snprintf(path, sizeof path, "%s/kc-query", bin);
    snprintf(outf, sizeof outf, "%s.out", fx->dir);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (!freopen(outf, "w", stdout))
            _exit(127);
        execl(path, path, "--store", fx->dir, "--year", "2021", "--by", "province", "--format",
              "json", opt, val, (char *)NULL);
        _exit(127);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    json_error_t err;
    *out = json_load_file(outf, 0, &err);
    remove(outf);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void s_expect_json(json_t *doc, const s_snap_t *want)
{
    assert_non_null(doc);
    json_t *as = json_object_get(doc, "as_of");
    assert_non_null(as);
    assert_int_equal(json_integer_value(json_object_get(as, "offset")), want->size);
    assert_int_equal(json_integer_value(json_object_get(doc, "events")), want->sum.total.events);
    json_t *tot = json_object_get(doc, "totals");
    for (int i = 0; i < KC_METRIC_COUNT; i++)
        assert_int_equal(json_integer_value(json_object_get(tot, kc_ref_metric(i)->name)),
                         want->sum.total.m[i]);
    size_t rows = 0;
    for (int r = 0; r < KC_CELLS_ROWS; r++)
        rows += want->sum.used[r];
    assert_int_equal(json_array_size(json_object_get(doc, "rows")), rows);
}

/* ns as ISO 8601 in the zone `off_s` seconds east of UTC (e.g. +07:00). */
static void s_iso(char *buf, size_t cap, uint64_t ns, int off_s)
{
    time_t secs = (time_t)(ns / 1000000000u) + off_s;
    struct tm tm;
    gmtime_r(&secs, &tm);
    char zone[16];
    if (off_s == 0)
        snprintf(zone, sizeof zone, "Z");
    else
        snprintf(zone, sizeof zone, "%c%02d:%02d", off_s < 0 ? '-' : '+', abs(off_s) / 3600,
                 abs(off_s) % 3600 / 60);
    snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%09u%s", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (unsigned)(ns % 1000000000u), zone);
}

static void test_kc_query_as_of(void **state)
{
    s_fx_t *fx = *state;
    s_build(fx);
    char arg[64];
    json_t *doc;
    for (size_t i = 0; i < fx->nsnaps; i++) {
        const s_snap_t *s = &fx->snaps[i];
        snprintf(arg, sizeof arg, "%llu", (unsigned long long)s->size);
        assert_int_equal(s_run_query(fx, "--as-of-offset", arg, &doc), 0);
        s_expect_json(doc, s);
        json_decref(doc);
        if (s->size == 0)
            continue;
        s_iso(arg, sizeof arg, s->last_ns, i % 2 ? 7 * 3600 : 0); /* UTC and +07:00 */
        assert_int_equal(s_run_query(fx, "--as-of", arg, &doc), 0);
        s_expect_json(doc, s);
        const char *t = json_string_value(json_object_get(json_object_get(doc, "as_of"), "time"));
        char utc[64];
        s_iso(utc, sizeof utc, s->last_ns, 0);
        assert_string_equal(t, utc); /* normalised to UTC */
        json_decref(doc);
    }
    const s_snap_t *now = &fx->snaps[fx->nsnaps - 1];
    /* a date = the end of that day; long ago = nothing, far ahead = now */
    assert_int_equal(s_run_query(fx, "--as-of", "2001-01-01", &doc), 0);
    s_expect_json(doc, &fx->snaps[0]);
    json_decref(doc);
    assert_int_equal(s_run_query(fx, "--as-of", "2999-12-31+07:00", &doc), 0);
    s_expect_json(doc, now);
    json_decref(doc);
    assert_int_equal(s_run_query(fx, "--as-of-offset", "999999", &doc), 0);
    s_expect_json(doc, now);
    json_decref(doc);
    /* Without a zone, local time (issue 16): kc-query runs with TZ=<+07>-7 */
    assert_int_equal(setenv("TZ", "<+07>-7", 1), 0);
    tzset();
    /* the end of today (local) includes everything so far */
    char today[32];
    time_t secs = (time_t)(now->last_ns / 1000000000u);
    struct tm tm;
    localtime_r(&secs, &tm);
    strftime(today, sizeof today, "%Y-%m-%d", &tm);
    assert_int_equal(s_run_query(fx, "--as-of", today, &doc), 0);
    s_expect_json(doc, now);
    json_decref(doc);
    /* every snapshot's last entry by its local wall-clock time, "YYYY-MM-DD HH:MM:SS.n" */
    for (size_t i = 1; i < fx->nsnaps; i++) {
        const s_snap_t *s = &fx->snaps[i];
        if (s->size == 0)
            continue;
        s_iso(arg, sizeof arg, s->last_ns, 7 * 3600);
        char *zone = strstr(arg, "+07:00");
        assert_non_null(zone);
        *zone = '\0';
        arg[10] = ' ';
        assert_int_equal(s_run_query(fx, "--as-of", arg, &doc), 0);
        s_expect_json(doc, s);
        json_decref(doc);
    }
    /* nonsense is a usage error */
    const char *bad[] = {"2026-11-27X10:00:00",   "2026-02-30",   "2026-11-27T25:00Z", "yesterday",
                         "2026-11-27T10:00:00+7", "2026-11-27 10"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(s_run_query(fx, "--as-of", bad[i], &doc), 64);
        json_decref(doc);
    }
    assert_int_equal(s_run_query(fx, "--as-of-offset", "-1", &doc), 64);
    json_decref(doc);
}

static void test_no_checkpoints_when_disabled(void **state)
{
    s_fx_t *fx = *state;
    for (int k = 0; k < 2; k++) {
        t_buf_t b = s_pack(&(s_ev_t){.id = k ? "B2" : "B1", .amount = 5}, ++fx->seq);
        t_buf_t batch = t_batch("p1", &b, 1);
        t_buf_free(&b);
        kc_apply_t *g = kc_apply_new();
        if (k == 0)
            kc_apply_set_checkpoint_every(g, 0); /* never */
        assert_int_equal(kc_apply_add(g, batch.data, batch.len), 0);
        t_buf_free(&batch);
        assert_int_equal(kc_apply_commit(g, fx->store), 0);
        kc_apply_destroy(&g);
    }
    kc_txn_t *t;
    assert_int_equal(kc_store_read_begin(fx->store, &t), 0);
    s_cplist_t l = {0};
    assert_int_equal(kc_txn_checkpoint_list(t, s_cp_cb, &l), 0);
    assert_int_equal(l.n, 0); /* the default interval (100000) was not reached either */
    kc_cells_mem_t *mem = NULL;
    kc_cells_asof_t info;
    assert_int_equal(kc_cells_asof(t, 1, 0, &mem, &info), 0);
    assert_int_equal(info.replayed, 1);
    assert_int_equal(kc_cells_mem_count(mem), 1);
    kc_cells_mem_free(&mem);
    kc_txn_end(&t);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    kc_log_set_sink(t_log_drop, NULL); /* the duplicate is logged: keep the output short */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_checkpoints_at_the_interval, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_asof_equals_the_live_totals, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_kc_query_as_of, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_no_checkpoints_when_disabled, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
