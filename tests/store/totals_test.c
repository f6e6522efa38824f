/* totals_test.c - running totals: add, get, range scan order, overflow. */
#include "kc_err.h"
#include "kc_store.h"
#include "store_test_util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

typedef kc_test_store_t fixture_t;

static kc_cell_key_t s_key(unsigned y, unsigned m, unsigned p, unsigned a, unsigned k, unsigned f)
{
    return (kc_cell_key_t){.year = (uint16_t)y,
                           .month = (uint8_t)m,
                           .province = (uint8_t)p,
                           .activity = (uint8_t)a,
                           .kind = (uint8_t)k,
                           .fund = (uint8_t)f};
}

static void test_key_encoding(void **state)
{
    (void)state;
    uint8_t b[KC_CELL_KEY_LEN];
    kc_cell_key_t k = s_key(2022, 9, 79, 7, 2, 3), back;
    kc_cell_key_encode(&k, b);
    const uint8_t want[KC_CELL_KEY_LEN] = {0x07, 0xe6, 9, 79, 7, 2, 3};
    assert_memory_equal(b, want, sizeof want);
    kc_cell_key_decode(b, &back);
    assert_int_equal(back.year, 2022);
    assert_int_equal(back.month, 9);
    assert_int_equal(back.province, 79);
    assert_int_equal(back.activity, 7);
    assert_int_equal(back.kind, 2);
    assert_int_equal(back.fund, 3);

    kc_cell_key_t lo = kc_cell_key_min(), hi = kc_cell_key_max();
    assert_int_equal(lo.year, 0);
    assert_int_equal(lo.fund, 0);
    assert_int_equal(hi.year, 65535);
    assert_int_equal(hi.month, 255);
    assert_int_equal(hi.province, 255);
    assert_int_equal(hi.activity, 255);
    assert_int_equal(hi.kind, 255);
    assert_int_equal(hi.fund, 255);
}

typedef struct {
    int64_t delta[KC_METRIC_COUNT];
    kc_cell_key_t key;
    uint64_t events;
    int rc;
} add_t;

static int s_add_fn(kc_txn_t *t, void *ctx)
{
    add_t *a = ctx;
    return kc_txn_totals_add(t, &a->key, a->delta, a->events);
}

static void test_add_get(void **state)
{
    fixture_t *f = *state;
    add_t a = {.key = s_key(2021, 3, 79, 7, 1, 1), .events = 1};
    for (int i = 0; i < KC_METRIC_COUNT; i++)
        a.delta[i] = 1000 * (i + 1);
    assert_int_equal(kc_store_write(f->s, s_add_fn, &a), 0);
    /* a second add to the same cell accumulates (in-place update path) */
    for (int i = 0; i < KC_METRIC_COUNT; i++)
        a.delta[i] = -(i + 1);
    a.events = 2;
    assert_int_equal(kc_store_write(f->s, s_add_fn, &a), 0);

    kc_txn_t *t = NULL;
    kc_cell_t c;
    assert_int_equal(kc_store_read_begin(f->s, &t), 0);
    assert_int_equal(kc_txn_totals_get(t, &a.key, &c), 0);
    assert_int_equal(c.events, 3);
    for (int i = 0; i < KC_METRIC_COUNT; i++)
        assert_int_equal(c.m[i], 999 * (i + 1));

    kc_cell_key_t other = s_key(2021, 3, 79, 7, 1, 2);
    memset(&c, 0x55, sizeof c);
    assert_int_equal(kc_txn_totals_get(t, &other, &c), KC_ENOTFOUND);
    assert_int_equal(c.events, 0);
    for (int i = 0; i < KC_METRIC_COUNT; i++)
        assert_int_equal(c.m[i], 0);
    kc_txn_end(&t);
}

/* Many cells in one transaction, written in scrambled order. */
static const kc_cell_key_t s_cells[] = {
    {2022, 1, 79, 7, 1, 3},  {2021, 12, 1, 1, 1, 1},   {2021, 1, 92, 18, 2, 1},
    {2022, 1, 1, 1, 1, 1},   {2021, 1, 1, 1, 1, 1},    {2021, 12, 79, 7, 1, 1},
    {2021, 1, 92, 18, 1, 1}, {2020, 12, 99, 99, 2, 3}, {2023, 1, 1, 1, 1, 1},
    {2021, 6, 79, 3, 1, 2},
};
#define N_CELLS (sizeof s_cells / sizeof s_cells[0])

static int s_many_fn(kc_txn_t *t, void *ctx)
{
    (void)ctx;
    for (size_t i = 0; i < N_CELLS; i++) {
        int64_t d[KC_METRIC_COUNT] = {0};
        d[KC_M_AMOUNT_VND] = (int64_t)(i + 1) * 1000000;
        d[KC_M_PERSONS] = (int64_t)i;
        int rc = kc_txn_totals_add(t, &s_cells[i], d, 1);
        if (rc != 0)
            return rc;
    }
    return 0;
}

typedef struct {
    kc_cell_key_t keys[32];
    int64_t amount[32];
    int n;
} collect_t;

static int s_collect(const kc_cell_key_t *key, const kc_cell_t *cell, void *ctx)
{
    collect_t *c = ctx;
    c->keys[c->n] = *key;
    c->amount[c->n++] = cell->m[KC_M_AMOUNT_VND];
    return c->n == 32 ? 1 : 0;
}

static int s_cmp_key(const kc_cell_key_t *a, const kc_cell_key_t *b)
{
    uint8_t x[KC_CELL_KEY_LEN], y[KC_CELL_KEY_LEN];
    kc_cell_key_encode(a, x);
    kc_cell_key_encode(b, y);
    return memcmp(x, y, KC_CELL_KEY_LEN);
}

static size_t s_index_of(const kc_cell_key_t *k)
{
    for (size_t i = 0; i < N_CELLS; i++)
        if (s_cmp_key(k, &s_cells[i]) == 0)
            return i;
    fail_msg("scanned a cell that was never written");
    return 0;
}

static void test_range_scan(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(kc_store_write(f->s, s_many_fn, NULL), 0);
    kc_txn_t *t = NULL;
    assert_int_equal(kc_store_read_begin(f->s, &t), 0);

    /* everything, in (year, month, province, activity, kind, fund) order */
    collect_t all = {0};
    assert_int_equal(kc_txn_totals_scan(t, NULL, NULL, s_collect, &all), 0);
    assert_int_equal(all.n, N_CELLS);
    assert_int_equal(all.keys[0].year, 2020);
    assert_int_equal(all.keys[N_CELLS - 1].year, 2023);
    for (int i = 0; i + 1 < all.n; i++) {
        const kc_cell_key_t *a = &all.keys[i], *b = &all.keys[i + 1];
        long ka =
            ((((long)a->year * 256 + a->month) * 256 + a->province) * 256 + a->activity) * 65536 +
            a->kind * 256 + a->fund;
        long kb =
            ((((long)b->year * 256 + b->month) * 256 + b->province) * 256 + b->activity) * 65536 +
            b->kind * 256 + b->fund;
        assert_true(ka < kb);
    }
    for (int i = 0; i < all.n; i++)
        assert_int_equal(all.amount[i], (int64_t)(s_index_of(&all.keys[i]) + 1) * 1000000);

    /* year 2021, months 1..12: exactly the six 2021 cells, sorted by month first */
    kc_cell_key_t lo = kc_cell_key_min(), hi = kc_cell_key_max();
    lo.year = 2021;
    lo.month = 1;
    hi.year = 2021;
    hi.month = 12;
    collect_t y = {0};
    assert_int_equal(kc_txn_totals_scan(t, &lo, &hi, s_collect, &y), 0);
    assert_int_equal(y.n, 6);
    const unsigned months[6] = {1, 1, 1, 6, 12, 12};
    const unsigned provs[6] = {1, 92, 92, 79, 1, 79};
    const unsigned kinds[6] = {1, 1, 2, 1, 1, 1};
    for (int i = 0; i < 6; i++) {
        assert_int_equal(y.keys[i].year, 2021);
        assert_int_equal(y.keys[i].month, months[i]);
        assert_int_equal(y.keys[i].province, provs[i]);
        assert_int_equal(y.keys[i].kind, kinds[i]);
    }

    /* months 2..11 of 2021: only June */
    lo.month = 2;
    hi.month = 11;
    collect_t mid = {0};
    assert_int_equal(kc_txn_totals_scan(t, &lo, &hi, s_collect, &mid), 0);
    assert_int_equal(mid.n, 1);
    assert_int_equal(mid.keys[0].month, 6);
    assert_int_equal(mid.amount[0], 10 * 1000000);

    /* an exact single-cell range, and an empty inverted range */
    collect_t one = {0};
    assert_int_equal(kc_txn_totals_scan(t, &s_cells[0], &s_cells[0], s_collect, &one), 0);
    assert_int_equal(one.n, 1);
    assert_int_equal(one.amount[0], 1000000);
    collect_t none = {0};
    assert_int_equal(kc_txn_totals_scan(t, &hi, &lo, s_collect, &none), 0);
    assert_int_equal(none.n, 0);

    kc_store_stat_t st;
    assert_int_equal(kc_txn_stat(t, &st), 0);
    assert_int_equal(st.cells, N_CELLS);
    kc_txn_end(&t);
}

typedef struct {
    kc_cell_key_t over, other;
    int over_rc;
} overflow_t;

/* The callback ignores the overflow and goes on: the overflowing cell must
 * stay unchanged, the other cell of the same transaction is committed. */
static int s_overflow_fn(kc_txn_t *t, void *ctx)
{
    overflow_t *o = ctx;
    int64_t d[KC_METRIC_COUNT] = {0};
    d[KC_M_AMOUNT_VND] = 5;
    d[KC_M_REVENUE_VND] = 1; /* INT64_MAX - 1 + 1 is fine ... */
    d[KC_M_PROJECTS] = 2;    /* ... but INT64_MAX - 1 + 2 is not */
    o->over_rc = kc_txn_totals_add(t, &o->over, d, 1);
    return kc_txn_totals_add(t, &o->other, d, 1);
}

static void test_overflow(void **state)
{
    fixture_t *f = *state;
    add_t a = {.key = s_key(2022, 1, 79, 7, 1, 1), .events = 10};
    a.delta[KC_M_AMOUNT_VND] = 100;
    a.delta[KC_M_REVENUE_VND] = INT64_MAX - 1;
    a.delta[KC_M_PROJECTS] = INT64_MAX - 1;
    a.delta[KC_M_PERSONS] = INT64_MIN + 1;
    assert_int_equal(kc_store_write(f->s, s_add_fn, &a), 0);

    overflow_t o = {.over = a.key, .other = s_key(2022, 1, 79, 7, 1, 2)};
    assert_int_equal(kc_store_write(f->s, s_overflow_fn, &o), 0);
    assert_int_equal(o.over_rc, KC_EOVERFLOW);

    /* negative direction, returned by the callback: the whole write fails */
    add_t neg = {.key = a.key, .events = 1};
    neg.delta[KC_M_PERSONS] = -2;
    assert_int_equal(kc_store_write(f->s, s_add_fn, &neg), KC_EOVERFLOW);
    /* the event counter is checked too */
    add_t ev = {.key = a.key, .events = UINT64_MAX};
    assert_int_equal(kc_store_write(f->s, s_add_fn, &ev), KC_EOVERFLOW);

    kc_txn_t *t = NULL;
    kc_cell_t c;
    assert_int_equal(kc_store_read_begin(f->s, &t), 0);
    assert_int_equal(kc_txn_totals_get(t, &a.key, &c), 0);
    assert_int_equal(c.events, 10);
    assert_int_equal(c.m[KC_M_AMOUNT_VND], 100); /* the +5 of the failed add did not land */
    assert_int_equal(c.m[KC_M_REVENUE_VND], INT64_MAX - 1);
    assert_int_equal(c.m[KC_M_PROJECTS], INT64_MAX - 1);
    assert_int_equal(c.m[KC_M_PERSONS], INT64_MIN + 1);
    assert_int_equal(c.m[KC_M_EVENTS], 0);
    assert_int_equal(kc_txn_totals_get(t, &o.other, &c), 0);
    assert_int_equal(c.events, 1);
    assert_int_equal(c.m[KC_M_AMOUNT_VND], 5);
    assert_int_equal(c.m[KC_M_PROJECTS], 2);
    kc_txn_end(&t);

    /* reaching exactly INT64_MAX is allowed */
    add_t edge = {.key = a.key, .events = 0};
    edge.delta[KC_M_REVENUE_VND] = 1;
    assert_int_equal(kc_store_write(f->s, s_add_fn, &edge), 0);
    assert_int_equal(kc_store_read_begin(f->s, &t), 0);
    assert_int_equal(kc_txn_totals_get(t, &a.key, &c), 0);
    assert_int_equal(c.m[KC_M_REVENUE_VND], INT64_MAX);
    assert_int_equal(c.events, 10);
    kc_txn_end(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_encoding),
        cmocka_unit_test_setup_teardown(test_add_get, kc_test_store_setup, kc_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_range_scan, kc_test_store_setup,
                                        kc_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_overflow, kc_test_store_setup, kc_test_store_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
