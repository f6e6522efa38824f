/* period_test.c - the reporting cycle's write side (issue 18): the
 * store's periods table (put, get, scan order, a store written before the
 * table existed) and the rules of core/kc_period.h: sign-off -> approve ->
 * a correction's period locked -> reopen -> unlocked, and the bad inputs
 * (sign-off of a month not ended, approval without data, a second approval,
 * a reopen without a reason or of a period not approved), each with its
 * reason. The state reached through a real store transaction is what a
 * reader sees after the commit. */
#include "kc_err.h"
#include "kc_period.h"
#include "kc_store.h"
#include "store_test_util.h"

#include <lmdb.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#define R_ACCEPT      KCPIPE__V1__REASON__REASON_OK
#define R_LOCKED      KCPIPE__V1__REASON__REASON_PERIOD_LOCKED
#define R_NOT_ENDED   KCPIPE__V1__REASON__REASON_PERIOD_NOT_ENDED
#define R_NO_DATA     KCPIPE__V1__REASON__REASON_PERIOD_NO_DATA
#define R_NOT_LOCKED  KCPIPE__V1__REASON__REASON_PERIOD_NOT_LOCKED
#define R_MISSING_WHY KCPIPE__V1__REASON__REASON_MISSING_REASON
#define OP_SIGN_OFF   KCPIPE__V1__OP__OP_SIGN_OFF
#define OP_APPROVE    KCPIPE__V1__OP__OP_APPROVE
#define OP_REOPEN     KCPIPE__V1__OP__OP_REOPEN
#define UNIT          79 /* any unit key 1..199 */

/* One step: decide op on the stored state of (UNIT, yyyymm) and, if accepted,
 * write the next state, in one write transaction (as the aggregator will). */
typedef struct {
    kc_period_op_t op;
    int reason;     /* out */
    char text[256]; /* out */
} step_t;

static int s_step_fn(kc_txn_t *t, void *ctx)
{
    step_t *s = ctx;
    kc_period_state_t cur, next;
    int rc = kc_txn_period_get(t, UNIT, s->op.yyyymm, &cur);
    if (rc != 0 && rc != KC_ENOTFOUND)
        return rc;
    s->reason = kc_period_decide(rc == 0 ? &cur : NULL, &s->op, &next, s->text, sizeof s->text);
    if (s->reason < 0)
        return s->reason;
    if (s->reason == R_ACCEPT)
        return kc_txn_period_put(t, UNIT, s->op.yyyymm, &next);
    return 0;
}

static int s_step(kc_store_t *st, uint8_t op, int32_t yyyymm, bool has_data, size_t why,
                  uint64_t offset, char *text)
{
    step_t s = {.op = {.op = op,
                       .province = 79,
                       .yyyymm = yyyymm,
                       .now_yyyymm = 202612,
                       .has_data = has_data,
                       .reason_len = why,
                       .offset = offset,
                       .received_ns = 1000 + offset}};
    assert_int_equal(kc_store_write(st, s_step_fn, &s), 0);
    if (text)
        strcpy(text, s.text);
    return s.reason;
}

static kc_period_state_t s_get(kc_store_t *st, int32_t yyyymm, int *rc)
{
    kc_txn_t *t = NULL;
    kc_period_state_t ps;
    assert_int_equal(kc_store_read_begin(st, &t), 0);
    *rc = kc_txn_period_get(t, UNIT, yyyymm, &ps);
    kc_txn_end(&t);
    return ps;
}

/* The walk: sign-off -> approve -> locked -> reopen -> unlocked. */
static void test_cycle(void **state)
{
    kc_test_store_t *f = *state;
    char text[256];
    int rc;
    kc_period_state_t ps = s_get(f->s, 202609, &rc);
    assert_int_equal(rc, KC_ENOTFOUND);
    assert_int_equal(ps.state, KC_PERIOD_OPEN);
    assert_false(kc_period_locked(&ps));

    assert_int_equal(s_step(f->s, OP_SIGN_OFF, 202609, true, 0, 10, NULL), R_ACCEPT);
    ps = s_get(f->s, 202609, &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(ps.state, KC_PERIOD_SIGNED_OFF);
    assert_int_equal(ps.signoffs, 1);
    assert_int_equal(ps.signoff_offset, 10);
    assert_int_equal(ps.signoff_ns, 1010);
    assert_int_equal(kc_period_lock_check(&ps, 79, 202609, text, sizeof text), R_ACCEPT);

    assert_int_equal(s_step(f->s, OP_APPROVE, 202609, true, 0, 12, NULL), R_ACCEPT);
    ps = s_get(f->s, 202609, &rc);
    assert_int_equal(ps.state, KC_PERIOD_APPROVED);
    assert_true(kc_period_locked(&ps));
    assert_int_equal(kc_period_lock_check(&ps, 79, 202609, text, sizeof text), R_LOCKED);
    assert_non_null(strstr(text, "2026-09 of province 79"));
    assert_non_null(strstr(text, "log offset 12"));
    assert_non_null(strstr(text, "ask the centre to reopen"));
    /* another month of the same province is not locked */
    kc_period_state_t other = s_get(f->s, 202608, &rc);
    assert_int_equal(kc_period_lock_check(&other, 79, 202608, text, sizeof text), R_ACCEPT);
    /* a sign-off of a locked month is refused too */
    assert_int_equal(s_step(f->s, OP_SIGN_OFF, 202609, true, 0, 13, text), R_LOCKED);

    assert_int_equal(s_step(f->s, OP_REOPEN, 202609, true, 17, 14, NULL), R_ACCEPT);
    ps = s_get(f->s, 202609, &rc);
    assert_int_equal(ps.state, KC_PERIOD_REOPENED);
    assert_false(kc_period_locked(&ps));
    assert_int_equal(kc_period_lock_check(&ps, 79, 202609, text, sizeof text), R_ACCEPT);
    /* what happened stays in the record: one sign-off, one approval, one reopen */
    assert_int_equal(ps.signoffs, 1);
    assert_int_equal(ps.approvals, 1);
    assert_int_equal(ps.reopens, 1);
    assert_int_equal(ps.approval_offset, 12);
    assert_int_equal(ps.reopen_offset, 14);
    assert_int_equal(ps.reopen_ns, 1014);

    /* signed off and approved again: locked again */
    assert_int_equal(s_step(f->s, OP_SIGN_OFF, 202609, true, 0, 20, NULL), R_ACCEPT);
    assert_int_equal(s_step(f->s, OP_APPROVE, 202609, true, 0, 21, NULL), R_ACCEPT);
    ps = s_get(f->s, 202609, &rc);
    assert_true(kc_period_locked(&ps));
    assert_int_equal(ps.approvals, 2);
    assert_int_equal(ps.signoffs, 2);
    assert_int_equal(ps.approval_offset, 21);
}

/* Bad input, each with its reason and a text that says what to do. */
static void test_bad_input(void **state)
{
    kc_test_store_t *f = *state;
    char text[256];
    int rc;
    /* a sign-off of the current month, or of a future one */
    assert_int_equal(s_step(f->s, OP_SIGN_OFF, 202612, true, 0, 1, text), R_NOT_ENDED);
    assert_non_null(strstr(text, "from 2027-01-01"));
    assert_int_equal(s_step(f->s, OP_SIGN_OFF, 202703, true, 0, 1, text), R_NOT_ENDED);
    s_get(f->s, 202612, &rc);
    assert_int_equal(rc, KC_ENOTFOUND); /* nothing written */
    /* an approval without data */
    assert_int_equal(s_step(f->s, OP_APPROVE, 202605, false, 0, 2, text), R_NO_DATA);
    assert_non_null(strstr(text, "no accepted data for 2026-05"));
    s_get(f->s, 202605, &rc);
    assert_int_equal(rc, KC_ENOTFOUND);
    /* a reopen of a period never approved, and of one only signed off */
    assert_int_equal(s_step(f->s, OP_REOPEN, 202605, true, 5, 3, text), R_NOT_LOCKED);
    assert_non_null(strstr(text, "it is open"));
    assert_int_equal(s_step(f->s, OP_SIGN_OFF, 202605, true, 0, 4, NULL), R_ACCEPT);
    assert_int_equal(s_step(f->s, OP_REOPEN, 202605, true, 5, 5, text), R_NOT_LOCKED);
    assert_non_null(strstr(text, "it is signed_off"));
    /* approval (without a sign-off it is allowed: the centre locks what it has) */
    assert_int_equal(s_step(f->s, OP_APPROVE, 202604, true, 0, 6, NULL), R_ACCEPT);
    /* a second approval */
    assert_int_equal(s_step(f->s, OP_APPROVE, 202604, true, 0, 7, text), R_LOCKED);
    assert_non_null(strstr(text, "already approved (log offset 6)"));
    kc_period_state_t ps = s_get(f->s, 202604, &rc);
    assert_int_equal(ps.approvals, 1); /* the refused one left no trace */
    /* a reopen without a reason: refused even though the period is approved */
    assert_int_equal(s_step(f->s, OP_REOPEN, 202604, true, 0, 8, text), R_MISSING_WHY);
    assert_non_null(strstr(text, "needs a reason"));
    assert_true(kc_period_locked(&ps));
    /* not a cycle operation */
    kc_period_op_t rec = {.op = KCPIPE__V1__OP__OP_CORRECTION, .yyyymm = 202604};
    kc_period_state_t next;
    assert_int_equal(kc_period_decide(NULL, &rec, &next, text, sizeof text), KC_EINVAL);
}

typedef struct {
    uint8_t unit[8];
    int32_t per[8];
    uint8_t st[8];
    int n;
} pscan_t;

static int s_pscan(uint8_t unit, int32_t yyyymm, const kc_period_state_t *st, void *ctx)
{
    pscan_t *p = ctx;
    if (p->n == 8)
        return -1;
    p->unit[p->n] = unit;
    p->per[p->n] = yyyymm;
    p->st[p->n++] = st->state;
    return 0;
}

static int s_put_some(kc_txn_t *t, void *ctx)
{
    (void)ctx;
    kc_period_state_t a = {.state = KC_PERIOD_SIGNED_OFF, .signoffs = 1, .signoff_offset = 1};
    kc_period_state_t b = {.state = KC_PERIOD_APPROVED,
                           .approvals = UINT32_MAX,
                           .approval_offset = UINT64_MAX,
                           .approval_ns = UINT64_MAX - 1};
    int rc;
    if ((rc = kc_txn_period_put(t, 2, 210012, &a)) || (rc = kc_txn_period_put(t, 1, 202609, &b)) ||
        (rc = kc_txn_period_put(t, 1, 200001, &a)))
        return rc;
    if (kc_txn_period_put(t, 0, 202609, &a) != KC_EINVAL ||
        kc_txn_period_put(t, 1, 202613, &a) != KC_EINVAL ||
        kc_txn_period_put(t, 1, 199912, &a) != KC_EINVAL)
        return -100;
    kc_period_state_t bad = {.state = 9};
    if (kc_txn_period_put(t, 1, 202609, &bad) != KC_EINVAL)
        return -101;
    return 0;
}

/* Layout round trip, extreme values, scan order (unit, then period). */
static void test_table(void **state)
{
    kc_test_store_t *f = *state;
    assert_int_equal(kc_store_write(f->s, s_put_some, NULL), 0);
    kc_txn_t *t = NULL;
    assert_int_equal(kc_store_read_begin(f->s, &t), 0);
    kc_period_state_t ps;
    assert_int_equal(kc_txn_period_get(t, 1, 202609, &ps), 0);
    assert_int_equal(ps.state, KC_PERIOD_APPROVED);
    assert_true(ps.approvals == UINT32_MAX);
    assert_true(ps.approval_offset == UINT64_MAX);
    assert_true(ps.approval_ns == UINT64_MAX - 1);
    assert_int_equal(kc_txn_period_get(t, 1, 202613, &ps), KC_EINVAL);
    pscan_t p = {0};
    assert_int_equal(kc_txn_period_scan(t, s_pscan, &p), 0);
    assert_int_equal(p.n, 3);
    assert_int_equal(p.unit[0], 1);
    assert_int_equal(p.per[0], 200001);
    assert_int_equal(p.per[1], 202609);
    assert_int_equal(p.st[1], KC_PERIOD_APPROVED);
    assert_int_equal(p.unit[2], 2);
    assert_int_equal(p.per[2], 210012);
    kc_txn_end(&t);
    assert_string_equal(kc_period_state_name(KC_PERIOD_REOPENED), "reopened");
    assert_string_equal(kc_period_state_name(7), "unknown");
}

/* A store written before the table existed: read-only it has no period
 * state (nothing locked); a writer gains the table. */
static void test_older_store(void **state)
{
    kc_test_store_t *f = *state;
    assert_int_equal(kc_store_write(f->s, s_put_some, NULL), 0);
    kc_store_close(&f->s);
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 32), 0);
    assert_int_equal(mdb_env_open(env, f->dir.store, MDB_NOTLS, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "periods", 0, &dbi), 0);
    assert_int_equal(mdb_drop(txn, dbi, 1), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);

    kc_store_opts_t ro = {.read_only = true};
    assert_int_equal(kc_store_open(&f->s, f->dir.store, &ro), 0);
    kc_txn_t *t = NULL;
    assert_int_equal(kc_store_read_begin(f->s, &t), 0);
    kc_period_state_t ps;
    assert_int_equal(kc_txn_period_get(t, 1, 202609, &ps), KC_ENOTFOUND);
    assert_false(kc_period_locked(&ps));
    pscan_t p = {0};
    assert_int_equal(kc_txn_period_scan(t, s_pscan, &p), 0);
    assert_int_equal(p.n, 0);
    kc_txn_end(&t);
    kc_store_close(&f->s);

    assert_int_equal(kc_store_open(&f->s, f->dir.store, NULL), 0);
    assert_int_equal(kc_store_write(f->s, s_put_some, NULL), 0);
    assert_int_equal(kc_store_read_begin(f->s, &t), 0);
    assert_int_equal(kc_txn_period_get(t, 1, 202609, &ps), 0);
    assert_int_equal(ps.state, KC_PERIOD_APPROVED);
    kc_txn_end(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cycle, kc_test_store_setup, kc_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_bad_input, kc_test_store_setup,
                                        kc_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_table, kc_test_store_setup, kc_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_older_store, kc_test_store_setup,
                                        kc_test_store_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
