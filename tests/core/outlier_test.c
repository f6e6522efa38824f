/* outlier_test.c - warnings on unusual values (core/kc_outlier, issue 18 item 4).
 *
 * DESIGN
 * The robust summaries are kept in a real store (kc_store_write transactions,
 * the "summaries" table) and judged there: a figure 1000x a province's median
 * is warned, normal month-to-month variation is not, a unit's first figures
 * are judged against its region, the summary is the same for the same history
 * (and survives a reopen), and the edges (zeros, one figure, figures near the
 * 10^15 ceiling, all equal, a MAD that large) behave as docs/CYCLE.md says.
 * A store written before the table existed gets it at the first writer open,
 * with summaries_from = its log size.
 */
#include "kc_err.h"
#include "kc_outlier.h"
#include "kc_ref.h"
#include "kc_store.h"

#include <ftw.h>
#include <sodium.h>
#include <limits.h>
#include <lmdb.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

typedef struct {
    char root[PATH_MAX];
    char store[PATH_MAX + 8];
} s_dir_t;

static void s_dir_make(s_dir_t *d)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(d->root, sizeof d->root, "%s/kcoutlier-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(d->root));
    snprintf(d->store, sizeof d->store, "%s/store", d->root);
}

static int s_rm(const char *path, const struct stat *sb, int flag, struct FTW *f)
{
    (void)sb;
    (void)flag;
    (void)f;
    return remove(path);
}

static void s_dir_remove(s_dir_t *d)
{
    nftw(d->root, s_rm, 16, FTW_DEPTH | FTW_PHYS);
}

/* One figure of one metric in one cell, folded or checked. */
typedef struct {
    kc_outlier_cell_t cell;
    int metric;
    int64_t value;
    kc_outlier_warning_t w[KC_METRIC_COUNT];
    size_t nw;
} s_fig_t;

static int s_fold(kc_txn_t *t, void *ctx)
{
    s_fig_t *f = ctx;
    int64_t m[KC_METRIC_COUNT] = {0};
    m[f->metric] = f->value;
    /* as the commit path does it: judge first, then fold */
    int rc = kc_outlier_check_txn(t, &f->cell, 1u << f->metric, m, f->w, &f->nw);
    return rc ? rc : kc_outlier_observe_txn(t, &f->cell, 1u << f->metric, m);
}

static void s_add(kc_store_t *s, const kc_outlier_cell_t *c, int metric, int64_t v)
{
    s_fig_t f = {.cell = *c, .metric = metric, .value = v};
    assert_int_equal(kc_store_write(s, s_fold, &f), 0);
}

/* The warnings the figure would get now (a read transaction; nothing folded). */
static size_t s_check(kc_store_t *s, const kc_outlier_cell_t *c, int metric, int64_t v,
                      kc_outlier_warning_t *w)
{
    kc_txn_t *t = NULL;
    assert_int_equal(kc_store_read_begin(s, &t), 0);
    int64_t m[KC_METRIC_COUNT] = {0};
    m[metric] = v;
    size_t n = 99;
    kc_outlier_warning_t tmp[KC_METRIC_COUNT];
    assert_int_equal(kc_outlier_check_txn(t, c, 1u << metric, m, w ? w : tmp, &n), 0);
    kc_txn_end(&t);
    return n;
}

static kc_outlier_cell_t s_cell(int province, int32_t yyyymm, const char *activity, uint8_t kind)
{
    kc_outlier_cell_t c;
    const kc_activity_t *a = kc_ref_activity_by_code(activity);
    assert_non_null(a);
    assert_int_equal(kc_outlier_cell(province, yyyymm, a->id, kind, &c), 0);
    return c;
}

/* A year of monthly spending around 1,200,000,000 dong, +-30%. */
static const int64_t s_year[12] = {1200000000, 950000000,  1430000000, 1180000000,
                                   1010000000, 1560000000, 1220000000, 870000000,
                                   1300000000, 1150000000, 1270000000, 1090000000};

static void test_thousand_times_warned(void **state)
{
    (void)state;
    s_dir_t d;
    s_dir_make(&d);
    kc_store_t *s = NULL;
    assert_int_equal(kc_store_open(&s, d.store, NULL), 0);
    kc_outlier_cell_t c = s_cell(79, 202401, "KC1", 1);
    for (int i = 0; i < 12; i++)
        s_add(s, &c, KC_M_AMOUNT_VND, s_year[i]);

    kc_outlier_warning_t w[KC_METRIC_COUNT];
    /* 1.200.000.000.000 for 1.200.000.000: three zeros too many */
    assert_int_equal(s_check(s, &c, KC_M_AMOUNT_VND, 1200000000000, w), 1);
    assert_int_equal(w[0].metric, KC_M_AMOUNT_VND);
    assert_int_equal(w[0].dir, 1);
    assert_int_equal(w[0].median, 1180000000); /* lower median of the 12 */
    assert_int_equal(w[0].n, 12);
    assert_false(w[0].region);
    char buf[512];
    kc_outlier_text(&w[0], KC_LANG_EN, buf, sizeof buf);
    assert_non_null(strstr(buf, "1,200,000,000,000"));
    assert_non_null(strstr(buf, "1,016 times the median 1,180,000,000"));
    assert_non_null(strstr(buf, "check the number of zeros"));
    kc_outlier_text(&w[0], KC_LANG_VI, buf, sizeof buf);
    assert_non_null(strstr(buf, "kinh phí 1.200.000.000.000 gấp 1.016 lần trung vị"));
    /* three zeros too few */
    assert_int_equal(s_check(s, &c, KC_M_AMOUNT_VND, 1200000, w), 1);
    assert_int_equal(w[0].dir, -1);
    kc_outlier_text(&w[0], KC_LANG_EN, buf, sizeof buf);
    assert_non_null(strstr(buf, "1/983 of the median"));

    /* normal month-to-month variation, and a big month (x20): none */
    static const int64_t normal[] = {1200000000, 2400000000, 600000000, 24000000000, 60000000};
    for (size_t i = 0; i < sizeof normal / sizeof *normal; i++)
        assert_int_equal(s_check(s, &c, KC_M_AMOUNT_VND, normal[i], NULL), 0);
    /* the bound is 100x: just below is quiet, at it warned */
    assert_int_equal(s_check(s, &c, KC_M_AMOUNT_VND, 117999999999, NULL), 0);
    assert_int_equal(s_check(s, &c, KC_M_AMOUNT_VND, 118000000000, NULL), 1);

    /* warned and still folded (a warning never rejects); the median does not move */
    s_add(s, &c, KC_M_AMOUNT_VND, 1200000000000);
    kc_txn_t *t = NULL;
    kc_outlier_sum_t sum;
    int64_t med, mad;
    assert_int_equal(kc_store_read_begin(s, &t), 0);
    assert_int_equal(
        kc_outlier_get_txn(t, false, c.unit, c.activity, c.kind, KC_M_AMOUNT_VND, &sum), 0);
    kc_txn_end(&t);
    assert_int_equal(sum.count, 13);
    assert_true(kc_outlier_stats(&sum, &med, &mad));
    assert_int_equal(med, 1200000000);
    assert_int_equal(s_check(s, &c, KC_M_AMOUNT_VND, 1200000000000, NULL), 1);

    /* other kinds, activities and metrics are other summaries */
    kc_outlier_cell_t plan = s_cell(79, 202401, "KC1", 2);
    /* no plans in 79 nor in the south yet: no basis, no warning */
    assert_int_equal(s_check(s, &plan, KC_M_AMOUNT_VND, 1200000000000, w), 0);
    kc_store_close(&s);
    s_dir_remove(&d);
}

static void test_first_values_against_region(void **state)
{
    (void)state;
    s_dir_t d;
    s_dir_make(&d);
    kc_store_t *s = NULL;
    assert_int_equal(kc_store_open(&s, d.store, NULL), 0);
    kc_outlier_cell_t hcm = s_cell(79, 202401, "KC1", 1), ct = s_cell(92, 202401, "KC1", 1);
    kc_outlier_cell_t hn = s_cell(1, 202401, "KC1", 1);
    assert_int_equal(hcm.region, ct.region);
    assert_int_not_equal(hcm.region, hn.region);
    /* nothing anywhere: no basis, no warning */
    assert_int_equal(s_check(s, &ct, KC_M_AMOUNT_VND, 1200000000000, NULL), 0);
    for (int i = 0; i < 12; i++)
        s_add(s, &hcm, KC_M_AMOUNT_VND, s_year[i]);
    kc_outlier_warning_t w[KC_METRIC_COUNT];
    /* Can Tho's first figure, against the south */
    assert_int_equal(s_check(s, &ct, KC_M_AMOUNT_VND, 1200000000000, w), 1);
    assert_true(w[0].region);
    assert_int_equal(w[0].n, 12);
    char buf[512];
    kc_outlier_text(&w[0], KC_LANG_EN, buf, sizeof buf);
    assert_non_null(strstr(buf, "of the region"));
    assert_int_equal(s_check(s, &ct, KC_M_AMOUNT_VND, 300000000, NULL), 0);
    /* Ha Noi is in the north: no basis */
    assert_int_equal(s_check(s, &hn, KC_M_AMOUNT_VND, 1200000000000, NULL), 0);
    /* after three of its own, Can Tho is judged by its own (smaller) scale */
    static const int64_t own[] = {20000000, 25000000, 18000000};
    for (int i = 0; i < 3; i++)
        s_add(s, &ct, KC_M_AMOUNT_VND, own[i]);
    assert_int_equal(s_check(s, &ct, KC_M_AMOUNT_VND, 2500000000, w), 1);
    assert_false(w[0].region);
    assert_int_equal(w[0].median, 20000000);
    /* the same figure from Ho Chi Minh City is normal */
    assert_int_equal(s_check(s, &hcm, KC_M_AMOUNT_VND, 2500000000, NULL), 0);
    /* scheme 34 (2025-07 on): 79 is another unit, with no history of its own,
     * in the same region: judged against the south */
    kc_outlier_cell_t hcm34 = s_cell(79, 202507, "KC1", 1);
    assert_int_not_equal(hcm34.unit, hcm.unit);
    assert_int_equal(hcm34.region, hcm.region);
    assert_int_equal(s_check(s, &hcm34, KC_M_AMOUNT_VND, 1200000000000, w), 1);
    assert_true(w[0].region);
    kc_store_close(&s);
    s_dir_remove(&d);
}

/* The stored bytes of one unit summary. */
static void s_bytes(kc_store_t *s, const kc_outlier_cell_t *c, int metric, uint8_t *buf,
                    size_t *len)
{
    kc_txn_t *t = NULL;
    kc_outlier_sum_t sum;
    assert_int_equal(kc_store_read_begin(s, &t), 0);
    assert_int_equal(kc_outlier_get_txn(t, false, c->unit, c->activity, c->kind, metric, &sum), 0);
    kc_txn_end(&t);
    *len = kc_outlier_encode(&sum, buf);
}

static void test_determinism_and_reopen(void **state)
{
    (void)state;
    s_dir_t a, b;
    s_dir_make(&a);
    s_dir_make(&b);
    kc_store_t *sa = NULL, *sb = NULL;
    assert_int_equal(kc_store_open(&sa, a.store, NULL), 0);
    assert_int_equal(kc_store_open(&sb, b.store, NULL), 0);
    kc_outlier_cell_t c = s_cell(75, 202403, "KC4b", 1);
    /* 40 figures (more than the window) in the same order into two stores */
    uint64_t x = 12345;
    for (int i = 0; i < 40; i++) {
        x = x * 6364136223846793005u + 1442695040888963407u;
        int64_t v = 1000 + (int64_t)(x >> 40) % 5000;
        s_add(sa, &c, KC_M_FACILITY_TURNS, v);
        s_add(sb, &c, KC_M_FACILITY_TURNS, v);
    }
    uint8_t ba[KC_OUTLIER_ENC_MAX], bb[KC_OUTLIER_ENC_MAX];
    size_t la, lb;
    s_bytes(sa, &c, KC_M_FACILITY_TURNS, ba, &la);
    s_bytes(sb, &c, KC_M_FACILITY_TURNS, bb, &lb);
    assert_int_equal(la, KC_OUTLIER_ENC_MAX);
    assert_int_equal(la, lb);
    assert_memory_equal(ba, bb, la);
    kc_outlier_sum_t sum;
    assert_int_equal(kc_outlier_decode(ba, la, &sum), 0);
    assert_int_equal(sum.count, 40);
    assert_int_equal(sum.n, KC_OUTLIER_WINDOW);
    /* the window holds the last 32, in the order accepted: replay in log order
     * (as kc-replay does) rebuilds the very same summary */
    kc_outlier_sum_t mem = {0};
    x = 12345;
    for (int i = 0; i < 40; i++) {
        x = x * 6364136223846793005u + 1442695040888963407u;
        kc_outlier_add(&mem, 1000 + (int64_t)(x >> 40) % 5000);
    }
    uint8_t bm[KC_OUTLIER_ENC_MAX];
    assert_int_equal(kc_outlier_encode(&mem, bm), la);
    assert_memory_equal(bm, ba, la);

    /* reopen: the same bytes, and the same judgement */
    size_t before = s_check(sa, &c, KC_M_FACILITY_TURNS, 900000, NULL);
    assert_int_equal(before, 1);
    kc_store_close(&sa);
    assert_int_equal(kc_store_open(&sa, a.store, NULL), 0);
    s_bytes(sa, &c, KC_M_FACILITY_TURNS, bb, &lb);
    assert_int_equal(lb, la);
    assert_memory_equal(ba, bb, la);
    assert_int_equal(s_check(sa, &c, KC_M_FACILITY_TURNS, 900000, NULL), 1);
    kc_store_close(&sa);
    /* and read-only */
    kc_store_opts_t ro = {.read_only = true};
    assert_int_equal(kc_store_open(&sa, a.store, &ro), 0);
    s_bytes(sa, &c, KC_M_FACILITY_TURNS, bb, &lb);
    assert_memory_equal(ba, bb, la);
    kc_store_close(&sa);
    kc_store_close(&sb);
    s_dir_remove(&a);
    s_dir_remove(&b);
}

static void test_stats_and_edges(void **state)
{
    (void)state;
    kc_outlier_sum_t s = {0};
    int64_t med, mad;
    assert_false(kc_outlier_stats(&s, &med, &mad));
    assert_int_equal(kc_outlier_judge(&s, 1000000, NULL, NULL), 0);
    /* zeros and negatives are not folded */
    kc_outlier_add(&s, 0);
    kc_outlier_add(&s, -5);
    assert_int_equal(s.n, 0);
    assert_int_equal(s.count, 0);
    /* one figure, two figures: below MIN_N, no judgement */
    kc_outlier_add(&s, 1000);
    assert_true(kc_outlier_stats(&s, &med, &mad));
    assert_int_equal(med, 1000);
    assert_int_equal(mad, 0);
    assert_int_equal(kc_outlier_judge(&s, 1000000000, NULL, NULL), 0);
    kc_outlier_add(&s, 1000);
    assert_int_equal(kc_outlier_judge(&s, 1000000000, NULL, NULL), 0);
    /* all equal: MAD 0; twice and half are normal, 100x is not */
    kc_outlier_add(&s, 1000);
    assert_int_equal(kc_outlier_judge(&s, 2000, &med, &mad), 0);
    assert_int_equal(med, 1000);
    assert_int_equal(mad, 0);
    assert_int_equal(kc_outlier_judge(&s, 500, NULL, NULL), 0);
    assert_int_equal(kc_outlier_judge(&s, 99999, NULL, NULL), 0);
    assert_int_equal(kc_outlier_judge(&s, 100000, NULL, NULL), 1);
    assert_int_equal(kc_outlier_judge(&s, 10, NULL, NULL), -1);
    assert_int_equal(kc_outlier_judge(&s, 11, NULL, NULL), 0);
    /* a zero is never warned */
    assert_int_equal(kc_outlier_judge(&s, 0, NULL, NULL), 0);

    /* exact medians: lower median, MAD of {1,2,3,4,100} = median{2,1,0,1,97} */
    kc_outlier_sum_t e = {0};
    static const int64_t five[] = {4, 100, 1, 3, 2};
    for (int i = 0; i < 5; i++)
        kc_outlier_add(&e, five[i]);
    assert_true(kc_outlier_stats(&e, &med, &mad));
    assert_int_equal(med, 3);
    assert_int_equal(mad, 1);
    kc_outlier_add(&e, 50); /* six: lower median 3, deviations {1,97,2,0,1,47} -> 1 */
    assert_true(kc_outlier_stats(&e, &med, &mad));
    assert_int_equal(med, 3);
    assert_int_equal(mad, 1);

    /* a wide history: the MAD excuses a low figure the ratio alone would flag
     * (high figures: the MAD is at most the median, so 100x is always past
     * 10 MADs; docs/CYCLE.md) */
    kc_outlier_sum_t w = {0};
    static const int64_t wide[] = {10, 1000, 100000, 10, 1000, 100000, 10};
    for (int i = 0; i < 7; i++)
        kc_outlier_add(&w, wide[i]);
    assert_true(kc_outlier_stats(&w, &med, &mad));
    assert_int_equal(med, 1000);
    assert_int_equal(mad, 990);
    assert_int_equal(kc_outlier_judge(&w, 5, NULL, NULL), 0);  /* 995 < 10 x 990 */
    assert_int_equal(kc_outlier_judge(&s, 5, NULL, NULL), -1); /* tight: warned */
    assert_int_equal(kc_outlier_judge(&w, 99999, NULL, NULL), 0);
    assert_int_equal(kc_outlier_judge(&w, 100000, NULL, NULL), 1);

    /* at the 10^15 ceiling: no overflow, either way */
    kc_outlier_sum_t h = {0};
    for (int i = 0; i < 5; i++)
        kc_outlier_add(&h, 1000000000000000);
    assert_int_equal(kc_outlier_judge(&h, 1000000000000000, NULL, NULL), 0);
    assert_int_equal(kc_outlier_judge(&h, 99999999999999999, NULL, NULL), 0);
    assert_int_equal(kc_outlier_judge(&h, INT64_MAX, NULL, NULL), 1); /* 9223x */
    assert_int_equal(kc_outlier_judge(&h, 1, NULL, NULL), -1);
    kc_outlier_sum_t g = {0};
    for (int i = 0; i < 5; i++)
        kc_outlier_add(&g, INT64_MAX);
    assert_int_equal(kc_outlier_judge(&g, INT64_MAX, NULL, NULL), 0);
    assert_int_equal(kc_outlier_judge(&g, 1, NULL, NULL), -1);
    kc_outlier_sum_t k = {0};
    for (int i = 0; i < 5; i++)
        kc_outlier_add(&k, 10000000000000);
    assert_int_equal(kc_outlier_judge(&k, 1000000000000000, NULL, NULL), 1);
    assert_int_equal(kc_outlier_judge(&k, INT64_MAX, NULL, NULL), 1);

    /* the window: the oldest leaves */
    kc_outlier_sum_t r = {0};
    for (int i = 1; i <= KC_OUTLIER_WINDOW + 3; i++)
        kc_outlier_add(&r, i);
    assert_int_equal(r.n, KC_OUTLIER_WINDOW);
    assert_int_equal(r.count, KC_OUTLIER_WINDOW + 3);
    assert_int_equal(r.v[0], 4);
    assert_int_equal(r.v[KC_OUTLIER_WINDOW - 1], KC_OUTLIER_WINDOW + 3);

    /* encode/decode, and what decode refuses */
    uint8_t buf[KC_OUTLIER_ENC_MAX];
    size_t len = kc_outlier_encode(&r, buf);
    kc_outlier_sum_t back;
    assert_int_equal(kc_outlier_decode(buf, len, &back), 0);
    assert_memory_equal(&back, &r, sizeof r);
    assert_int_equal(kc_outlier_decode(buf, len - 1, &back), KC_EFORMAT);
    buf[0] = 2;
    assert_int_equal(kc_outlier_decode(buf, len, &back), KC_EFORMAT);
    buf[0] = 1;
    buf[1] = KC_OUTLIER_WINDOW + 1;
    assert_int_equal(kc_outlier_decode(buf, len, &back), KC_EFORMAT);

    /* cells */
    kc_outlier_cell_t c;
    assert_int_equal(kc_outlier_cell(3, 202401, 1, 1, &c), KC_EINVAL); /* no province 03 */
    assert_int_equal(kc_outlier_cell(79, 202401, 1, 3, &c), KC_EINVAL);
}

/* A store whose log was written before the summaries table existed. */
static int s_two_entries(kc_txn_t *t, void *ctx)
{
    (void)ctx;
    static const uint8_t ev[] = {1, 2, 3};
    kc_log_entry_t e = {.producer = "p", .producer_len = 1, .event = ev, .event_len = sizeof ev};
    int rc = kc_txn_log_append(t, &e, NULL);
    return rc ? rc : kc_txn_log_append(t, &e, NULL);
}

static void test_table_added_later(void **state)
{
    (void)state;
    s_dir_t d;
    s_dir_make(&d);
    kc_store_t *s = NULL;
    assert_int_equal(kc_store_open(&s, d.store, NULL), 0);
    kc_txn_t *t = NULL;
    uint64_t from = 99;
    assert_int_equal(kc_store_read_begin(s, &t), 0);
    assert_int_equal(kc_txn_summaries_from(t, &from), 0);
    kc_txn_end(&t);
    assert_int_equal(from, 0); /* a new store summarises its whole log */
    assert_int_equal(kc_store_write(s, s_two_entries, NULL), 0);
    kc_store_close(&s);

    /* as an older kcpipe left it: no table, no summaries_from */
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi, meta;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 300), 0);
    assert_int_equal(mdb_env_open(env, d.store, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "summaries", 0, &dbi), 0);
    assert_int_equal(mdb_drop(txn, dbi, 1), 0);
    assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    MDB_val k = {sizeof "summaries_from" - 1, (void *)"summaries_from"};
    assert_int_equal(mdb_del(txn, meta, &k, NULL), MDB_NOTFOUND);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);

    /* a reader sees no summaries, and none from the log's end */
    kc_store_opts_t ro = {.read_only = true};
    assert_int_equal(kc_store_open(&s, d.store, &ro), 0);
    assert_int_equal(kc_store_read_begin(s, &t), 0);
    assert_int_equal(kc_txn_summaries_from(t, &from), 0);
    assert_int_equal(from, 2);
    kc_outlier_sum_t sum;
    assert_int_equal(kc_outlier_get_txn(t, false, 79, 1, 1, 0, &sum), KC_ENOTFOUND);
    kc_txn_end(&t);
    kc_store_close(&s);

    /* the first writer creates the table and notes where it starts */
    assert_int_equal(kc_store_open(&s, d.store, NULL), 0);
    kc_outlier_cell_t c = s_cell(79, 202401, "KC1", 1);
    for (int i = 0; i < 3; i++)
        s_add(s, &c, KC_M_PERSONS, 30);
    assert_int_equal(s_check(s, &c, KC_M_PERSONS, 3000, NULL), 1);
    assert_int_equal(kc_store_read_begin(s, &t), 0);
    assert_int_equal(kc_txn_summaries_from(t, &from), 0);
    kc_txn_end(&t);
    assert_int_equal(from, 2);
    kc_store_close(&s);
    assert_int_equal(kc_store_open(&s, d.store, NULL), 0);
    assert_int_equal(kc_store_read_begin(s, &t), 0);
    assert_int_equal(kc_txn_summaries_from(t, &from), 0);
    kc_txn_end(&t);
    assert_int_equal(from, 2); /* written once */
    kc_store_close(&s);
    s_dir_remove(&d);
}

/* An event through the ledger as the commit path takes it: effect, judge,
 * fold, apply, log. */
typedef struct {
    Kcpipe__V1__Event ev;
    Kcpipe__V1__Metrics m;
    int figures_rc;
    kc_outlier_cell_t cell;
    size_t nw;
    kc_outlier_warning_t w[KC_METRIC_COUNT];
} s_ev_t;

static void s_ev(s_ev_t *e, const char *id, int op, const char *corrects, int month, int64_t amount)
{
    memset(e, 0, sizeof *e);
    kcpipe__v1__event__init(&e->ev);
    kcpipe__v1__metrics__init(&e->m);
    e->ev.event_id = (char *)id;
    e->ev.province = "79";
    e->ev.has_year = e->ev.has_month = 1;
    e->ev.year = 2021;
    e->ev.month = (uint32_t)month;
    e->ev.activity = "KC3b";
    e->ev.producer_id = "p1";
    if (op) {
        e->ev.has_op = 1;
        e->ev.op = (Kcpipe__V1__Op)op;
        e->ev.corrects = (char *)corrects;
    }
    if (op == KCPIPE__V1__OP__OP_RETRACTION) {
        e->ev.has_year = e->ev.has_month = 0;
        e->ev.activity = NULL;
        return;
    }
    e->ev.metrics = &e->m;
    kc_pb_metric_set(&e->m, KC_M_AMOUNT_VND, amount);
    kc_pb_metric_set(&e->m, KC_M_FACILITIES, 0);
}

static int s_commit(kc_txn_t *t, void *ctx)
{
    s_ev_t *e = ctx;
    uint64_t off;
    int rc = kc_txn_log_size(t, &off);
    if (rc != 0)
        return rc;
    kc_ledger_source_t src = kc_ledger_source_txn(t);
    kc_ledger_effect_t eff;
    if ((rc = kc_ledger_effect(&src, &e->ev, off, &eff)) != 0)
        return rc;
    assert_int_equal(eff.reason, KCPIPE__V1__REASON__REASON_OK);
    uint32_t present;
    int64_t m[KC_METRIC_COUNT];
    e->nw = 0;
    e->figures_rc = kc_outlier_figures(&eff, &e->ev, &e->cell, &present, m);
    if (e->figures_rc == 0) {
        assert_int_equal(present, (1u << KC_M_AMOUNT_VND) | (1u << KC_M_FACILITIES));
        if ((rc = kc_outlier_check_txn(t, &e->cell, present, m, e->w, &e->nw)) != 0 ||
            (rc = kc_outlier_observe_txn(t, &e->cell, present, m)) != 0)
            return rc;
    }
    if ((rc = kc_ledger_apply(t, &eff)) != 0)
        return rc;
    uint8_t buf[1024];
    size_t len = kcpipe__v1__event__pack(&e->ev, buf);
    kc_log_entry_t le = {.producer = "p1", .producer_len = 2, .event = buf, .event_len = len};
    return kc_txn_log_append(t, &le, NULL);
}

static void test_figures_of_effects(void **state)
{
    (void)state;
    assert_true(sodium_init() >= 0);
    s_dir_t d;
    s_dir_make(&d);
    kc_store_t *s = NULL;
    assert_int_equal(kc_store_open(&s, d.store, NULL), 0);
    s_ev_t e;
    char id[16];
    for (int i = 0; i < 5; i++) {
        snprintf(id, sizeof id, "E-%d", i);
        s_ev(&e, id, 0, NULL, 1 + i, 1000000000 + 10000000 * i);
        assert_int_equal(kc_store_write(s, s_commit, &e), 0);
        assert_int_equal(e.figures_rc, 0);
        assert_int_equal(e.nw, 0);
    }
    kc_outlier_cell_t want = s_cell(79, 202103, "KC3b", 1);
    assert_memory_equal(&e.cell, &want, sizeof want);
    /* a record 1000x: warned (the facilities 0 is not judged) */
    s_ev(&e, "E-big", 0, NULL, 6, 1000000000000);
    assert_int_equal(kc_store_write(s, s_commit, &e), 0);
    assert_int_equal(e.nw, 1);
    assert_int_equal(e.w[0].metric, KC_M_AMOUNT_VND);
    assert_int_equal(e.w[0].median, 1020000000);
    /* its correction within the same cell: the new figure is judged and folded */
    s_ev(&e, "E-big-c", KCPIPE__V1__OP__OP_CORRECTION, "E-big", 6, 1000000000);
    assert_int_equal(kc_store_write(s, s_commit, &e), 0);
    assert_int_equal(e.figures_rc, 0);
    assert_int_equal(e.nw, 0);
    /* a correction moving to another month: the same summary (month is not in it) */
    s_ev(&e, "E-0-c", KCPIPE__V1__OP__OP_CORRECTION, "E-0", 9, 1000000);
    assert_int_equal(kc_store_write(s, s_commit, &e), 0);
    assert_int_equal(e.figures_rc, 0);
    assert_int_equal(e.nw, 1);
    assert_int_equal(e.w[0].dir, -1);
    /* a retraction states no figures */
    s_ev(&e, "E-1-r", KCPIPE__V1__OP__OP_RETRACTION, "E-1", 0, 0);
    assert_int_equal(kc_store_write(s, s_commit, &e), 0);
    assert_int_equal(e.figures_rc, KC_ENOTFOUND);
    /* append-only: 5 + the 1000x + its correction + the low one */
    kc_txn_t *t = NULL;
    kc_outlier_sum_t sum;
    assert_int_equal(kc_store_read_begin(s, &t), 0);
    assert_int_equal(
        kc_outlier_get_txn(t, false, want.unit, want.activity, want.kind, KC_M_AMOUNT_VND, &sum),
        0);
    kc_txn_end(&t);
    assert_int_equal(sum.count, 8);
    assert_int_equal(sum.v[5], 1000000000000);
    assert_int_equal(sum.v[7], 1000000);
    kc_store_close(&s);
    s_dir_remove(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_thousand_times_warned),
        cmocka_unit_test(test_first_values_against_region),
        cmocka_unit_test(test_determinism_and_reopen),
        cmocka_unit_test(test_stats_and_edges),
        cmocka_unit_test(test_table_added_later),
        cmocka_unit_test(test_figures_of_effects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
