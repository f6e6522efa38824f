/* units_test.c - the units table: last report of each province unit, and
 * stores written before the table existed (read-only: empty; writer: created). */
#include "kc_err.h"
#include "kc_store.h"
#include "store_test_util.h"

#include <lmdb.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

typedef kc_test_store_t fixture_t;

static int s_put_fn(kc_txn_t *t, void *ctx)
{
    (void)ctx;
    kc_unit_state_t a = {.last_report_ns = 11, .last_offset = 3, .events = 4};
    kc_unit_state_t b = {.last_report_ns = UINT64_MAX, .last_offset = UINT64_MAX - 1, .events = 1};
    int rc;
    if ((rc = kc_txn_unit_put(t, 179, &b)) || (rc = kc_txn_unit_put(t, 12, &a)))
        return rc;
    kc_unit_state_t got;
    if ((rc = kc_txn_unit_get(t, 12, &got)) != 0)
        return rc;
    if (got.events != 4)
        return -100;
    a.events = 5; /* overwritten in place */
    a.last_offset = 9;
    if ((rc = kc_txn_unit_put(t, 12, &a)) != 0)
        return rc;
    if (kc_txn_unit_put(t, 0, &a) != KC_EINVAL) /* unit keys are 1..199 */
        return -101;
    return 0;
}

typedef struct {
    uint8_t unit[8];
    kc_unit_state_t st[8];
    int n;
} uscan_t;

static int s_uscan(uint8_t unit, const kc_unit_state_t *st, void *ctx)
{
    uscan_t *u = ctx;
    u->unit[u->n] = unit;
    u->st[u->n++] = *st;
    return 0;
}

static int s_uscan_stop(uint8_t unit, const kc_unit_state_t *st, void *ctx)
{
    (void)unit;
    (void)st;
    int *n = ctx;
    return ++*n == 1 ? 7 : 0;
}

static void test_units(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(kc_store_write(f->s, s_put_fn, NULL), 0);
    kc_txn_t *t = NULL;
    assert_int_equal(kc_store_read_begin(f->s, &t), 0);
    kc_unit_state_t st;
    assert_int_equal(kc_txn_unit_get(t, 12, &st), 0);
    assert_int_equal(st.last_report_ns, 11);
    assert_int_equal(st.last_offset, 9);
    assert_int_equal(st.events, 5);
    assert_int_equal(kc_txn_unit_get(t, 13, &st), KC_ENOTFOUND);
    assert_int_equal(st.events, 0);
    uscan_t u = {0};
    assert_int_equal(kc_txn_unit_scan(t, s_uscan, &u), 0);
    assert_int_equal(u.n, 2);
    assert_int_equal(u.unit[0], 12); /* unit order */
    assert_int_equal(u.unit[1], 179);
    assert_true(u.st[1].last_report_ns == UINT64_MAX);
    assert_true(u.st[1].last_offset == UINT64_MAX - 1);
    int n = 0;
    assert_int_equal(kc_txn_unit_scan(t, s_uscan_stop, &n), 7);
    kc_txn_end(&t);
}

/* Drop the units database with raw LMDB, as in a store written before it existed. */
static void s_drop_units(const char *dir)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 32), 0);
    assert_int_equal(mdb_env_open(env, dir, MDB_NOTLS, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "units", 0, &dbi), 0);
    assert_int_equal(mdb_drop(txn, dbi, 1), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

static void test_older_store(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(kc_store_write(f->s, s_put_fn, NULL), 0);
    kc_store_close(&f->s);
    s_drop_units(f->dir.store);

    /* read-only: no unit has reported */
    kc_store_opts_t ro = {.read_only = true};
    assert_int_equal(kc_store_open(&f->s, f->dir.store, &ro), 0);
    kc_txn_t *t = NULL;
    assert_int_equal(kc_store_read_begin(f->s, &t), 0);
    kc_unit_state_t st;
    assert_int_equal(kc_txn_unit_get(t, 12, &st), KC_ENOTFOUND);
    uscan_t u = {0};
    assert_int_equal(kc_txn_unit_scan(t, s_uscan, &u), 0);
    assert_int_equal(u.n, 0);
    kc_txn_end(&t);
    kc_store_close(&f->s);

    /* a writer gains the table and can use it at once */
    assert_int_equal(kc_store_open(&f->s, f->dir.store, NULL), 0);
    assert_int_equal(kc_store_read_begin(f->s, &t), 0);
    assert_int_equal(kc_txn_unit_get(t, 12, &st), KC_ENOTFOUND);
    kc_txn_end(&t);
    assert_int_equal(kc_store_write(f->s, s_put_fn, NULL), 0);
    assert_int_equal(kc_store_read_begin(f->s, &t), 0);
    assert_int_equal(kc_txn_unit_get(t, 12, &st), 0);
    assert_int_equal(st.events, 5);
    kc_txn_end(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_units, kc_test_store_setup, kc_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_older_store, kc_test_store_setup,
                                        kc_test_store_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
