/* cellmap_test.c - the cell map (core/kc_cellmap.h) and the checked cell
 * addition (kc_cell_add, store/kc_store.h). */
#include "kc_cellmap.h"
#include "kc_err.h"
#include "kc_store.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static kc_cell_key_t s_key(uint16_t year, uint8_t month, uint8_t province, uint8_t activity,
                           uint8_t kind, uint8_t fund)
{
    return (kc_cell_key_t){year, month, province, activity, kind, fund};
}

/* A key spread over every field from one number (distinct for distinct i). */
static kc_cell_key_t s_key_of(uint32_t i)
{
    uint32_t x = i * 2654435761u; /* a permutation of uint32 */
    return s_key((uint16_t)(2000 + (x & 0x3ff)), (uint8_t)(x >> 10), (uint8_t)(x >> 18),
                 (uint8_t)(x >> 26), (uint8_t)(i & 1), (uint8_t)(1 + (i >> 1) % 3));
}

static void test_key_packing(void **state)
{
    (void)state;
    kc_cell_key_t keys[] = {kc_cell_key_min(), kc_cell_key_max(), s_key(2022, 9, 79, 3, 1, 2),
                            s_key(0xabcd, 0xef, 0x12, 0x34, 0x56, 0x78)};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        uint8_t b[KC_CELL_KEY_LEN];
        kc_cell_key_encode(&keys[i], b);
        uint64_t want = 0;
        for (int j = 0; j < KC_CELL_KEY_LEN; j++)
            want = want << 8 | b[j];
        assert_true(kc_cellmap_key(&keys[i]) == want);
        kc_cell_key_t back;
        kc_cellmap_unkey(want, &back);
        assert_memory_equal(&back, &keys[i], sizeof back);
    }
    assert_true(kc_cellmap_key(&keys[1]) < (uint64_t)1 << 56);
}

static void test_get_put_find(void **state)
{
    (void)state;
    kc_cellmap_t m;
    assert_int_equal(kc_cellmap_init(&m, 0, 0), 0);
    kc_cell_key_t k = s_key(2022, 3, 79, 2, 1, 1);
    uint64_t key = kc_cellmap_key(&k);
    assert_null(kc_cellmap_find(&m, key));
    kc_cellmap_entry_t *e;
    assert_int_equal(kc_cellmap_get(&m, key, &e), 0);
    assert_true(e->key == key);
    assert_true(e->cell.events == 0 && e->cell.m[0] == 0 && e->cell.m[KC_METRIC_COUNT - 1] == 0);
    assert_int_equal(kc_cellmap_count(&m), 1);
    kc_cellmap_entry_t *again;
    assert_int_equal(kc_cellmap_get(&m, key, &again), 0);
    assert_ptr_equal(again, e);
    assert_int_equal(kc_cellmap_count(&m), 1);

    kc_cell_t c = {.events = 3};
    c.m[0] = 1000;
    c.m[KC_METRIC_COUNT - 1] = -7;
    assert_int_equal(kc_cellmap_put(&m, key, &c), 0);
    e = kc_cellmap_find(&m, key);
    assert_non_null(e);
    assert_memory_equal(&e->cell, &c, sizeof c);
    assert_int_equal(kc_cellmap_dirty_count(&m), 0); /* no KC_CELLMAP_DIRTY */

    kc_cell_key_t k2 = s_key(2022, 3, 79, 2, 1, 2);
    assert_null(kc_cellmap_find(&m, kc_cellmap_key(&k2)));
    assert_int_equal(kc_cellmap_put(&m, kc_cellmap_key(&k2), &c), 0);
    assert_int_equal(kc_cellmap_count(&m), 2);
    assert_ptr_equal(kc_cellmap_at(&m, 1), kc_cellmap_find(&m, kc_cellmap_key(&k2)));
    assert_int_equal(kc_cellmap_index(&m, kc_cellmap_at(&m, 1)), 1);
    kc_cellmap_fini(&m);
    kc_cellmap_fini(&m); /* again: an empty map */
    kc_cellmap_fini(NULL);
}

static void test_growth(void **state)
{
    (void)state;
    enum { N = 200000 };
    kc_cellmap_t m;
    assert_int_equal(kc_cellmap_init(&m, sizeof(uint64_t), KC_CELLMAP_DIRTY), 0);
    for (uint32_t i = 0; i < N; i++) {
        kc_cell_key_t k = s_key_of(i);
        int64_t delta[KC_METRIC_COUNT] = {0};
        delta[i % KC_METRIC_COUNT] = i;
        kc_cellmap_entry_t *e = NULL;
        assert_int_equal(kc_cellmap_apply(&m, kc_cellmap_key(&k), 1, delta, &e), 0);
        *(uint64_t *)kc_cellmap_extra(e) = i;
    }
    assert_int_equal(kc_cellmap_count(&m), N);
    assert_int_equal(kc_cellmap_dirty_count(&m), N);
    for (uint32_t i = 0; i < N; i++) {
        kc_cell_key_t k = s_key_of(i);
        kc_cellmap_entry_t *e = kc_cellmap_find(&m, kc_cellmap_key(&k));
        assert_non_null(e);
        assert_int_equal(kc_cellmap_index(&m, e), i); /* insertion order */
        assert_true(e->cell.events == 1);
        assert_true(e->cell.m[i % KC_METRIC_COUNT] == (int64_t)i);
        assert_true(*(uint64_t *)kc_cellmap_extra(e) == i);
    }
    kc_cell_key_t absent = s_key(1999, 1, 1, 1, 1, 1);
    assert_null(kc_cellmap_find(&m, kc_cellmap_key(&absent)));
    kc_cellmap_fini(&m);
}

static void test_dirty_order(void **state)
{
    (void)state;
    kc_cellmap_t m;
    assert_int_equal(kc_cellmap_init(&m, 0, KC_CELLMAP_DIRTY), 0);
    uint64_t k[5];
    for (int i = 0; i < 5; i++) {
        kc_cell_key_t key = s_key_of((uint32_t)i);
        k[i] = kc_cellmap_key(&key);
        kc_cellmap_entry_t *e;
        assert_int_equal(kc_cellmap_get(&m, k[i], &e), 0); /* a read: not a change */
    }
    assert_int_equal(kc_cellmap_dirty_count(&m), 0);
    int64_t d[KC_METRIC_COUNT] = {5};
    kc_cell_t c = {.events = 1};
    assert_int_equal(kc_cellmap_apply(&m, k[3], 1, d, NULL), 0);
    assert_int_equal(kc_cellmap_put(&m, k[1], &c), 0);
    assert_int_equal(kc_cellmap_apply(&m, k[3], 1, d, NULL), 0); /* again: listed once */
    assert_int_equal(kc_cellmap_mark(&m, kc_cellmap_find(&m, k[4])), 0);
    assert_int_equal(kc_cellmap_put(&m, k[1], &c), 0);
    kc_cell_key_t nk = s_key(2030, 1, 1, 1, 1, 1);
    assert_int_equal(kc_cellmap_put(&m, kc_cellmap_key(&nk), &c), 0); /* a new cell */
    uint64_t want[] = {k[3], k[1], k[4], kc_cellmap_key(&nk)};
    assert_int_equal(kc_cellmap_dirty_count(&m), 4);
    for (size_t i = 0; i < 4; i++)
        assert_true(kc_cellmap_dirty_at(&m, i)->key == want[i]);
    assert_true(kc_cellmap_find(&m, k[3])->cell.m[0] == 10);

    kc_cellmap_dirty_clear(&m);
    assert_int_equal(kc_cellmap_dirty_count(&m), 0);
    assert_int_equal(kc_cellmap_count(&m), 6);
    assert_true(kc_cellmap_find(&m, k[3])->cell.m[0] == 10); /* cells unchanged */
    assert_int_equal(kc_cellmap_put(&m, k[4], &c), 0);       /* listed again after a clear */
    assert_int_equal(kc_cellmap_apply(&m, k[3], 1, d, NULL), 0);
    assert_int_equal(kc_cellmap_dirty_count(&m), 2);
    assert_true(kc_cellmap_dirty_at(&m, 0)->key == k[4]);
    assert_true(kc_cellmap_dirty_at(&m, 1)->key == k[3]);
    kc_cellmap_fini(&m);
}

typedef struct {
    uint8_t prev[KC_CELL_KEY_LEN];
    size_t n;
    uint64_t lo, hi;
} s_scan_t;

static int s_scan_check(kc_cellmap_entry_t *e, void *ctx)
{
    s_scan_t *s = ctx;
    kc_cell_key_t key;
    kc_cellmap_unkey(e->key, &key);
    uint8_t b[KC_CELL_KEY_LEN];
    kc_cell_key_encode(&key, b);
    if (s->n > 0)
        assert_true(memcmp(s->prev, b, sizeof b) < 0); /* the store's byte order */
    assert_true(e->key >= s->lo && e->key <= s->hi);
    memcpy(s->prev, b, sizeof b);
    s->n++;
    return 0;
}

static int s_scan_stop(kc_cellmap_entry_t *e, void *ctx)
{
    (void)e;
    return ++*(int *)ctx == 3 ? 42 : 0;
}

static void test_sorted_scan(void **state)
{
    (void)state;
    enum { N = 5000 };
    kc_cellmap_t m;
    assert_int_equal(kc_cellmap_init(&m, 0, 0), 0);
    /* ascending insertions: no index needed */
    for (uint32_t i = 0; i < 100; i++) {
        kc_cell_key_t k = s_key(2020, (uint8_t)(1 + i / 10), (uint8_t)i, 1, 1, 1);
        kc_cellmap_entry_t *e;
        assert_int_equal(kc_cellmap_get(&m, kc_cellmap_key(&k), &e), 0);
    }
    s_scan_t s = {.lo = 0, .hi = UINT64_MAX};
    assert_int_equal(kc_cellmap_scan(&m, s.lo, s.hi, s_scan_check, &s), 0);
    assert_int_equal(s.n, 100);
    /* then in any order, keys that differ in every field */
    size_t n = 100;
    for (uint32_t i = 0; i < N; i++) {
        kc_cell_key_t k = s_key_of(i);
        kc_cellmap_entry_t *e;
        if (!kc_cellmap_find(&m, kc_cellmap_key(&k)))
            n++;
        assert_int_equal(kc_cellmap_get(&m, kc_cellmap_key(&k), &e), 0);
    }
    assert_int_equal(kc_cellmap_count(&m), n);
    s = (s_scan_t){.lo = 0, .hi = UINT64_MAX};
    assert_int_equal(kc_cellmap_scan(&m, s.lo, s.hi, s_scan_check, &s), 0);
    assert_int_equal(s.n, n);
    /* a range: one year */
    kc_cell_key_t lo = kc_cell_key_min(), hi = kc_cell_key_max();
    lo.year = hi.year = 2500;
    s = (s_scan_t){.lo = kc_cellmap_key(&lo), .hi = kc_cellmap_key(&hi)};
    assert_int_equal(kc_cellmap_scan(&m, s.lo, s.hi, s_scan_check, &s), 0);
    size_t want = 0;
    for (size_t i = 0; i < kc_cellmap_count(&m); i++) {
        kc_cell_key_t k;
        kc_cellmap_unkey(kc_cellmap_at(&m, i)->key, &k);
        want += k.year == 2500;
    }
    assert_true(want > 0);
    assert_int_equal(s.n, want);
    /* kc_cellmap_sorted / kc_cellmap_lower agree with the scan */
    assert_int_equal(kc_cellmap_sort(&m), 0);
    size_t a = kc_cellmap_lower(&m, kc_cellmap_key(&lo));
    assert_true(kc_cellmap_sorted(&m, a)->key >= kc_cellmap_key(&lo));
    assert_true(a == 0 || kc_cellmap_sorted(&m, a - 1)->key < kc_cellmap_key(&lo));
    assert_int_equal(kc_cellmap_lower(&m, UINT64_MAX), kc_cellmap_count(&m));
    /* fn's non-zero return stops the scan */
    int calls = 0;
    assert_int_equal(kc_cellmap_scan(&m, 0, UINT64_MAX, s_scan_stop, &calls), 42);
    assert_int_equal(calls, 3);
    kc_cellmap_fini(&m);
}

static void test_apply_overflow(void **state)
{
    (void)state;
    kc_cellmap_t m;
    assert_int_equal(kc_cellmap_init(&m, 0, KC_CELLMAP_DIRTY), 0);
    kc_cell_key_t k = s_key(2022, 1, 1, 1, 1, 1);
    uint64_t key = kc_cellmap_key(&k);
    int64_t d[KC_METRIC_COUNT] = {0};
    d[0] = INT64_MAX;
    d[1] = 7;
    assert_int_equal(kc_cellmap_apply(&m, key, 1, d, NULL), 0);
    kc_cellmap_dirty_clear(&m);
    kc_cell_t before = kc_cellmap_find(&m, key)->cell;

    int64_t one[KC_METRIC_COUNT] = {1}; /* m[0] past INT64_MAX */
    kc_cellmap_entry_t *e = NULL;
    assert_int_equal(kc_cellmap_apply(&m, key, 1, one, &e), KC_EOVERFLOW);
    assert_ptr_equal(e, kc_cellmap_find(&m, key));
    assert_memory_equal(&e->cell, &before, sizeof before);
    assert_int_equal(kc_cellmap_dirty_count(&m), 0); /* not a change */
    int64_t zero[KC_METRIC_COUNT] = {0};
    assert_int_equal(kc_cellmap_apply(&m, key, -2, zero, NULL), KC_EOVERFLOW); /* events < 0 */
    assert_memory_equal(&kc_cellmap_find(&m, key)->cell, &before, sizeof before);
    int64_t neg[KC_METRIC_COUNT] = {0};
    neg[1] = -8;
    assert_int_equal(kc_cellmap_apply(&m, key, -1, neg, NULL), 0); /* a metric may go negative */
    assert_true(kc_cellmap_find(&m, key)->cell.events == 0);
    assert_true(kc_cellmap_find(&m, key)->cell.m[1] == -1);

    /* an absent cell stays inserted, at zero */
    kc_cell_key_t k2 = s_key(2022, 1, 1, 1, 1, 2);
    assert_int_equal(kc_cellmap_apply(&m, kc_cellmap_key(&k2), -1, zero, NULL), KC_EOVERFLOW);
    e = kc_cellmap_find(&m, kc_cellmap_key(&k2));
    assert_non_null(e);
    kc_cell_t z = {0};
    assert_memory_equal(&e->cell, &z, sizeof z);

    /* kc_cell_add itself: out untouched on overflow, may alias cur */
    kc_cell_t cur = {.events = UINT64_MAX}, out = {.events = 5};
    assert_true(kc_cell_add(&out, &cur, 1, zero));
    assert_true(out.events == 5);
    assert_false(kc_cell_add(&cur, &cur, -1, d));
    assert_true(cur.events == UINT64_MAX - 1 && cur.m[0] == INT64_MAX && cur.m[1] == 7);
    kc_cellmap_fini(&m);
}

static void test_clear(void **state)
{
    (void)state;
    kc_cellmap_t m;
    assert_int_equal(kc_cellmap_init(&m, 16, KC_CELLMAP_DIRTY), 0);
    kc_cellmap_clear(&m); /* never used */
    for (int round = 0; round < 3; round++) {
        /* many keys (the whole slot array is wiped), then few (only theirs) */
        uint32_t n = round == 1 ? 3000 : 10;
        kc_cell_t c = {.events = (uint64_t)round + 1};
        for (uint32_t i = 0; i < n; i++) {
            kc_cell_key_t k = s_key_of(i + (uint32_t)round * 7);
            assert_null(kc_cellmap_find(&m, kc_cellmap_key(&k)));
            assert_int_equal(kc_cellmap_put(&m, kc_cellmap_key(&k), &c), 0);
            assert_int_equal(((const uint8_t *)kc_cellmap_extra(kc_cellmap_at(&m, i)))[15], 0);
            memset(kc_cellmap_extra(kc_cellmap_at(&m, i)), 0xff, 16);
        }
        assert_int_equal(kc_cellmap_count(&m), n);
        assert_int_equal(kc_cellmap_dirty_count(&m), n);
        kc_cellmap_clear(&m);
        assert_int_equal(kc_cellmap_count(&m), 0);
        assert_int_equal(kc_cellmap_dirty_count(&m), 0);
        for (uint32_t i = 0; i < n; i++) {
            kc_cell_key_t k = s_key_of(i + (uint32_t)round * 7);
            assert_null(kc_cellmap_find(&m, kc_cellmap_key(&k)));
        }
    }
    kc_cellmap_fini(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_packing), cmocka_unit_test(test_get_put_find),
        cmocka_unit_test(test_growth),      cmocka_unit_test(test_dirty_order),
        cmocka_unit_test(test_sorted_scan), cmocka_unit_test(test_apply_overflow),
        cmocka_unit_test(test_clear),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
