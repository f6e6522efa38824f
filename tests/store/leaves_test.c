/* leaves_test.c - the format 3 -> 4 step's drop of `leaves` (kc_mk_drop_leaves,
 * a private function of libkcstore's migration, hence here with the store's
 * white-box tests): on a copy of a signed store given format 3's leaf blocks
 * through raw LMDB, the drop removes them in a write transaction (a no-op when
 * there is none; refused in a read transaction) and kc-audit still verifies
 * the untouched tree. Moved from tests/audit/audit_tool_test.c (issue 14:
 * kc_merkle_int.h only under store/ and tests/store/). */
#include "../audit/audit_fixture.h"
#include "kc_err.h"
#include "kc_merkle_int.h"

#include <lmdb.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/* The format 3 -> 4 step drops `leaves` (kc_mk_drop_leaves, in the
 * migration's transaction); the tree is untouched and still verifies. */
static int s_drop_fn(kc_txn_t *t, void *ctx)
{
    (void)ctx;
    return kc_mk_drop_leaves(t);
}

static void test_drop_leaves(void **state)
{
    (void)state;
    char dir[PATH_MAX + 32];
    t_audit_copy(dir, sizeof dir);
    t_raw_t r;
    t_raw_open(&r, dir);
    MDB_dbi leaves;
    assert_int_equal(mdb_dbi_open(r.txn, "leaves", MDB_CREATE, &leaves), 0);
    uint8_t blk[127 * 32];
    memset(blk, 0xab, sizeof blk);
    for (uint64_t b = 0; b < 8; b++) /* format 3's blocks of 127 hashes */
        t_raw_put(&r, leaves, b, blk, b < 7 ? sizeof blk : (T_AUDIT_ENTRIES - 7 * 127) * 32);
    t_raw_close(&r);

    kc_store_t *s = NULL;
    assert_int_equal(kc_store_open(&s, dir, NULL), 0);
    assert_int_equal(kc_store_write(s, s_drop_fn, NULL), 0);
    kc_store_close(&s);
    t_raw_open(&r, dir);
    assert_int_equal(mdb_dbi_open(r.txn, "leaves", 0, &leaves), MDB_NOTFOUND);
    t_raw_close(&r);

    assert_int_equal(kc_store_open(&s, dir, NULL), 0);
    assert_int_equal(kc_store_write(s, s_drop_fn, NULL), 0); /* nothing (left) to drop */
    kc_txn_t *t;
    assert_int_equal(kc_store_read_begin(s, &t), 0);
    assert_int_equal(kc_mk_drop_leaves(t), KC_EINVAL); /* a write transaction only */
    kc_txn_end(&t);
    kc_store_close(&s);
    char out[8192];
    int ex = t_audit_run(out, sizeof out, "--store %s verify", dir);
    if (ex != 0)
        fprintf(stderr, "%s\n", out);
    assert_int_equal(ex, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_drop_leaves)};
    return cmocka_run_group_tests(tests, t_audit_setup, t_audit_teardown);
}
