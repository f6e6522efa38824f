/* ledger_test.c - corrections and retractions through kc_apply on a temp store:
 * arithmetic, chains, cells that move, every rejection, both dedup layers,
 * history, overflow atomicity, and a replay of the log through kc_ledger. */
#include "apply_test_util.h"
#include "kc_apply.h"
#include "kc_err.h"
#include "kc_ledger.h"
#include "kc_log.h"
#include "kc_store.h"

#include <sodium.h>

#define S_OK   KCPIPE__V1__REASON__REASON_OK
#define S_CORR KCPIPE__V1__OP__OP_CORRECTION
#define S_RETR KCPIPE__V1__OP__OP_RETRACTION

typedef struct {
    char *dir;
    kc_store_t *store;
    uint64_t seq; /* producer p1's last sequence number */
} s_fx_t;

static int s_setup(void **state)
{
    s_fx_t *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    t_store_open("ledger", &fx->dir, &fx->store);
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

/* A machinery event of province 79, 2021-03 (t_event), as record/correction/retraction. */
static t_event_t s_rec(const char *id, int64_t amount)
{
    t_event_t e;
    t_event(&e, "p1", 0, id, amount);
    return e;
}

static t_event_t s_corr(const char *id, const char *corrects, int64_t amount)
{
    t_event_t e = s_rec(id, amount);
    e.ev.has_op = 1;
    e.ev.op = S_CORR;
    e.ev.corrects = (char *)corrects;
    return e;
}

static t_event_t s_retr(const char *id, const char *corrects)
{
    t_event_t e;
    t_event(&e, "p1", 0, id, 0);
    e.ev.has_op = 1;
    e.ev.op = S_RETR;
    e.ev.corrects = (char *)corrects;
    e.ev.has_year = e.ev.has_month = 0; /* the target's period */
    e.ev.activity = NULL;
    e.ev.metrics = NULL;
    return e;
}

/* Send e as the next seq of p1 in one batch; returns the event's reason (0 accepted).
 * `seq` 0 = next; otherwise that seq (a resend). */
static int s_send_seq(s_fx_t *fx, t_event_t *e, uint64_t seq, char *text, size_t cap)
{
    if (e->ev.metrics)
        e->ev.metrics = &e->m; /* t_event_t is passed by value: point at this copy */
    e->ev.has_seq = 1;
    e->ev.seq = seq ? seq : ++fx->seq;
    t_buf_t b = t_event_pack(e);
    t_buf_t batch = t_batch("p1", &b, 1);
    t_buf_free(&b);
    kc_apply_t *g = t_group(fx->store, &batch, 1);
    const kc_pb_ack_t *a = kc_apply_ack_msg(g, 0);
    assert_non_null(a);
    assert_int_equal(a->status, KCPIPE__V1__STATUS__STATUS_OK);
    assert_int_equal(a->acked_to, e->ev.seq);
    int reason = a->n_results ? (int)a->results[0]->reason : S_OK;
    if (text)
        snprintf(text, cap, "%s", a->n_results ? a->results[0]->text : "");
    kc_apply_destroy(&g);
    return reason;
}

static void s_expect(s_fx_t *fx, t_event_t e, int want)
{
    char text[256];
    int got = s_send_seq(fx, &e, 0, text, sizeof text);
    if (got != want)
        fail_msg("%s: expected %s, got %s (%s)", e.ev.event_id, kc_reason_name(want),
                 kc_reason_name(got), text);
    if (want != S_OK && want != KCPIPE__V1__REASON__REASON_DUPLICATE)
        assert_true(strlen(text) > 0);
}

/* Send e (a rejection with reason want) and compare its Ack text with `text`. */
static void s_expect_text(s_fx_t *fx, t_event_t e, int want, const char *text)
{
    char got[256];
    int reason = s_send_seq(fx, &e, 0, got, sizeof got);
    if (reason != want || strcmp(got, text) != 0)
        fail_msg("%s: expected %s (%s), got %s (%s)", e.ev.event_id, kc_reason_name(want), text,
                 kc_reason_name(reason), got);
}

#define S_SUP KCPIPE__V1__REASON__REASON_TARGET_SUPERSEDED

static kc_cell_t s_cell_at(kc_store_t *store, uint8_t province, uint16_t year, uint8_t month,
                           uint8_t kind)
{
    kc_txn_t *t;
    assert_int_equal(kc_store_read_begin(store, &t), 0);
    kc_cell_key_t key = {.year = year,
                         .month = month,
                         .province = province,
                         .activity = kc_ref_activity_by_code("KC3b")->id,
                         .kind = kind,
                         .fund = 3};
    kc_cell_t c;
    int rc = kc_txn_totals_get(t, &key, &c);
    assert_true(rc == 0 || rc == KC_ENOTFOUND);
    kc_txn_end(&t);
    return c;
}

static kc_cell_t s_cell(kc_store_t *store, uint8_t month)
{
    return s_cell_at(store, 79, 2021, month, 1);
}

/* ---- history ---- */

typedef struct {
    int n;
    uint64_t offset[8];
    uint8_t op[8], state[8], unit[8];
    char id[8][72];
    uint64_t received[8];
} s_hist_t;

static int s_on_version(const kc_version_t *v, void *ctx)
{
    s_hist_t *h = ctx;
    assert_true(h->n < 8);
    h->offset[h->n] = v->offset;
    h->op[h->n] = v->id->op;
    h->state[h->n] = v->id->state;
    h->unit[h->n] = v->unit;
    h->received[h->n] = v->received_ns;
    snprintf(h->id[h->n], sizeof h->id[0], "%.*s", (int)v->event_id_len, v->event_id);
    h->n++;
    return 0;
}

static s_hist_t s_history(kc_store_t *store, uint8_t unit, const char *id)
{
    s_hist_t h = {0};
    kc_txn_t *t;
    assert_int_equal(kc_store_read_begin(store, &t), 0);
    assert_int_equal(kc_txn_history(t, unit, id, strlen(id), s_on_version, &h), 0);
    kc_txn_end(&t);
    return h;
}

/* ---- tests ---- */

static void test_chain_arithmetic_and_history(void **state)
{
    s_fx_t *fx = *state;
    s_expect(fx, s_rec("E-1", 100), S_OK);
    kc_cell_t c = s_cell(fx->store, 3);
    assert_int_equal(c.m[KC_M_AMOUNT_VND], 100);
    assert_int_equal(c.events, 1);

    s_expect(fx, s_corr("C-1", "E-1", 70), S_OK);
    c = s_cell(fx->store, 3);
    assert_int_equal(c.m[KC_M_AMOUNT_VND], 70);
    assert_int_equal(c.m[KC_M_FACILITIES], 1);
    assert_int_equal(c.events, 1);

    s_expect(fx, s_corr("C-2", "C-1", 90), S_OK); /* a chain: C-2 corrects C-1 corrects E-1 */
    c = s_cell(fx->store, 3);
    assert_int_equal(c.m[KC_M_AMOUNT_VND], 90);
    assert_int_equal(c.events, 1);

    s_expect(fx, s_retr("R-1", "C-2"), S_OK);
    c = s_cell(fx->store, 3);
    assert_int_equal(c.m[KC_M_AMOUNT_VND], 0);
    assert_int_equal(c.m[KC_M_FACILITIES], 0);
    assert_int_equal(c.events, 0);
    assert_int_equal(t_log_size(fx->store), 4); /* the log keeps every version */

    /* the same history from any version of the chain */
    const char *ids[] = {"E-1", "C-1", "C-2", "R-1"};
    for (int k = 0; k < 4; k++) {
        s_hist_t h = s_history(fx->store, 79, ids[k]);
        assert_int_equal(h.n, 4);
        for (int i = 0; i < 4; i++) {
            assert_int_equal(h.offset[i], (uint64_t)i);
            assert_string_equal(h.id[i], ids[i]);
            assert_int_equal(h.unit[i], 79);
            assert_true(h.received[i] > 0);
            if (i > 0)
                assert_true(h.received[i] >= h.received[i - 1]);
        }
        assert_int_equal(h.op[0], KCPIPE__V1__OP__OP_RECORD);
        assert_int_equal(h.op[1], S_CORR);
        assert_int_equal(h.op[2], S_CORR);
        assert_int_equal(h.op[3], S_RETR);
        assert_int_equal(h.state[0], KC_ID_SUPERSEDED);
        assert_int_equal(h.state[1], KC_ID_SUPERSEDED);
        assert_int_equal(h.state[2], KC_ID_RETRACTED);
        assert_int_equal(h.state[3], KC_ID_LIVE);
    }
    /* identity links */
    kc_txn_t *t;
    assert_int_equal(kc_store_read_begin(fx->store, &t), 0);
    kc_identity_t idn;
    assert_int_equal(kc_txn_identity_get(t, 79, "C-2", 3, &idn), 0);
    assert_int_equal(idn.offset, 2);
    assert_int_equal(idn.prev_unit, 79);
    assert_int_equal(idn.prev, 1);
    assert_int_equal(idn.state, KC_ID_RETRACTED);
    assert_int_equal(idn.next_unit, 79);
    assert_int_equal(idn.next, 3);
    s_hist_t none = {0};
    assert_int_equal(kc_txn_history(t, 79, "nope", 4, s_on_version, &none), KC_ENOTFOUND);
    kc_txn_end(&t);
    /* a single record has a history of one */
    s_expect(fx, s_rec("E-2", 5), S_OK);
    s_hist_t h = s_history(fx->store, 79, "E-2");
    assert_int_equal(h.n, 1);
    assert_int_equal(h.offset[0], 4);
    assert_int_equal(h.state[0], KC_ID_LIVE);
}

static void test_correction_moves_between_cells(void **state)
{
    s_fx_t *fx = *state;
    s_expect(fx, s_rec("E-1", 100), S_OK);
    s_expect(fx, s_rec("E-2", 40), S_OK);
    t_event_t c = s_corr("C-1", "E-1", 60);
    c.ev.month = 4; /* the activity happened in April */
    s_expect(fx, c, S_OK);
    kc_cell_t m3 = s_cell(fx->store, 3), m4 = s_cell(fx->store, 4);
    assert_int_equal(m3.m[KC_M_AMOUNT_VND], 40);
    assert_int_equal(m3.events, 1);
    assert_int_equal(m4.m[KC_M_AMOUNT_VND], 60);
    assert_int_equal(m4.events, 1);
    /* retracting the April version takes it out of April */
    s_expect(fx, s_retr("R-1", "C-1"), S_OK);
    m4 = s_cell(fx->store, 4);
    assert_int_equal(m4.m[KC_M_AMOUNT_VND], 0);
    assert_int_equal(m4.events, 0);

    /* a correction without kind keeps the target's (plan) */
    t_event_t p = s_rec("P-1", 500);
    p.ev.has_kind = 1;
    p.ev.kind = KCPIPE__V1__KIND__KIND_PLAN;
    s_expect(fx, p, S_OK);
    s_expect(fx, s_corr("PC-1", "P-1", 450), S_OK);
    kc_cell_t plan = s_cell_at(fx->store, 79, 2021, 3, 2);
    assert_int_equal(plan.m[KC_M_AMOUNT_VND], 450);
    assert_int_equal(plan.events, 1);
    assert_int_equal(s_cell(fx->store, 3).m[KC_M_AMOUNT_VND], 40); /* actual untouched */
    /* ... and a correction with kind actual moves it to actual */
    t_event_t pa = s_corr("PC-2", "PC-1", 430);
    pa.ev.has_kind = 1;
    pa.ev.kind = KCPIPE__V1__KIND__KIND_ACTUAL;
    s_expect(fx, pa, S_OK);
    plan = s_cell_at(fx->store, 79, 2021, 3, 2);
    assert_int_equal(plan.m[KC_M_AMOUNT_VND], 0);
    assert_int_equal(plan.events, 0);
    assert_int_equal(s_cell(fx->store, 3).m[KC_M_AMOUNT_VND], 470);
    assert_int_equal(s_cell(fx->store, 3).events, 2);
}

static void test_correction_across_the_merger(void **state)
{
    s_fx_t *fx = *state;
    /* province 80 was Long An (scheme 63) in 2025-06 and is Tay Ninh (scheme 34) from 2025-07 */
    t_event_t e = s_rec("LA-1", 100);
    e.ev.province = "80";
    e.ev.year = 2025;
    e.ev.month = 6;
    s_expect(fx, e, S_OK);
    t_event_t c = s_corr("LA-1c", "LA-1", 80);
    c.ev.province = "80";
    c.ev.year = 2025;
    c.ev.month = 7;
    s_expect(fx, c, S_OK);
    assert_int_equal(s_cell_at(fx->store, 80, 2025, 6, 1).events, 0);
    assert_int_equal(s_cell_at(fx->store, 80, 2025, 7, 1).m[KC_M_AMOUNT_VND], 80);
    uint8_t units[2];
    assert_int_equal(kc_ref_units_of(80, units), 2);
    assert_int_equal(units[0], 180);
    assert_int_equal(units[1], 80);
    assert_int_equal(kc_ref_units_of(60, units), 1); /* Binh Thuan: scheme 63 only */
    assert_int_equal(units[0], 60);
    assert_int_equal(kc_ref_units_of(99, units), 0);
    /* correcting the first version again: the text names the latest, across the units */
    t_event_t x = s_corr("LA-1x", "LA-1", 70);
    x.ev.province = "80";
    x.ev.year = 2025;
    x.ev.month = 6;
    s_expect_text(fx, x, S_SUP,
                  "cannot correct 'LA-1': it was corrected by 'LA-1c' (log offset 1); the latest "
                  "version is 'LA-1c': send the correction with corrects=LA-1c");
    s_hist_t h = s_history(fx->store, 180, "LA-1c");
    assert_int_equal(h.n, 2);
    assert_int_equal(h.unit[0], 80);
    assert_int_equal(h.unit[1], 180);
    /* a retraction without a period finds it under either scheme */
    t_event_t r = s_retr("LA-1r", "LA-1c");
    r.ev.province = "80";
    s_expect(fx, r, S_OK);
    assert_int_equal(s_cell_at(fx->store, 80, 2025, 7, 1).events, 0);
    s_expect_text(fx, x, S_SUP,
                  "cannot correct 'LA-1': it was corrected by 'LA-1c' (log offset 1); the latest "
                  "version 'LA-1c' was retracted by 'LA-1r' (log offset 2): there is nothing to "
                  "correct");
}

static void test_rejections(void **state)
{
    s_fx_t *fx = *state;
    s_expect(fx, s_rec("E-1", 100), S_OK);
    t_event_t other = s_rec("HN-1", 7);
    other.ev.province = "01";
    s_expect(fx, other, S_OK);

    s_expect(fx, s_corr("C-x", "NOPE", 1), KCPIPE__V1__REASON__REASON_UNKNOWN_TARGET);
    s_expect(fx, s_retr("R-x", "NOPE"), KCPIPE__V1__REASON__REASON_UNKNOWN_TARGET);
    /* 79 naming an event of 01 */
    s_expect(fx, s_corr("C-y", "HN-1", 1), KCPIPE__V1__REASON__REASON_TARGET_OTHER_PROVINCE);
    s_expect(fx, s_retr("R-y", "HN-1"), KCPIPE__V1__REASON__REASON_TARGET_OTHER_PROVINCE);
    /* no corrects */
    s_expect(fx, s_corr("C-z", NULL, 1), KCPIPE__V1__REASON__REASON_MISSING_TARGET);
    s_expect(fx, s_retr("R-z", ""), KCPIPE__V1__REASON__REASON_MISSING_TARGET);
    /* a retraction whose period is not the target's */
    t_event_t rp = s_retr("R-p", "E-1");
    rp.ev.has_year = rp.ev.has_month = 1;
    rp.ev.year = 2021;
    rp.ev.month = 5;
    s_expect(fx, rp, KCPIPE__V1__REASON__REASON_UNKNOWN_TARGET);
    /* a correction needs its own event_id */
    s_expect(fx, s_corr("E-1", "E-1", 1), KCPIPE__V1__REASON__REASON_EVENT_ID_CONFLICT);

    s_expect(fx, s_corr("C-1", "E-1", 80), S_OK);
    /* E-1 is superseded now: name the latest version */
    s_expect(fx, s_corr("C-2", "E-1", 90), KCPIPE__V1__REASON__REASON_TARGET_SUPERSEDED);
    s_expect(fx, s_retr("R-2", "E-1"), KCPIPE__V1__REASON__REASON_TARGET_SUPERSEDED);
    s_expect(fx, s_retr("R-1", "C-1"), S_OK);
    s_expect(fx, s_corr("C-3", "C-1", 90), KCPIPE__V1__REASON__REASON_TARGET_RETRACTED);
    s_expect(fx, s_retr("R-3", "C-1"), KCPIPE__V1__REASON__REASON_TARGET_RETRACTED);
    /* a retraction is not a target */
    s_expect(fx, s_corr("C-4", "R-1", 90), KCPIPE__V1__REASON__REASON_TARGET_RETRACTED);
    s_expect(fx, s_retr("R-4", "R-1"), KCPIPE__V1__REASON__REASON_TARGET_RETRACTED);
    /* a correction still has to be a valid event */
    t_event_t bad = s_corr("C-5", "HN-1", -1);
    bad.ev.province = "01";
    s_expect(fx, bad, KCPIPE__V1__REASON__REASON_NEGATIVE_VALUE);
    /* an unknown op value is still unsupported */
    t_event_t op = s_rec("O-1", 1);
    op.ev.has_op = 1;
    op.ev.op = 7;
    s_expect(fx, op, KCPIPE__V1__REASON__REASON_UNSUPPORTED_OP);

    /* nothing of the rejected ones counted or logged */
    kc_cell_t c = s_cell(fx->store, 3);
    assert_int_equal(c.m[KC_M_AMOUNT_VND], 0);
    assert_int_equal(c.events, 0);
    assert_int_equal(s_cell_at(fx->store, 1, 2021, 3, 1).m[KC_M_AMOUNT_VND], 7);
    assert_int_equal(t_log_size(fx->store), 4);
    /* every rejection is remembered for re-acks */
    kc_txn_t *t;
    assert_int_equal(kc_store_read_begin(fx->store, &t), 0);
    kc_producer_state_t ps;
    assert_int_equal(kc_txn_producer_get(t, "p1", &ps), 0);
    assert_int_equal(ps.accepted, 4);
    assert_int_equal(ps.rejected, fx->seq - 4);
    kc_txn_end(&t);
}

static void test_resend_and_business_duplicates(void **state)
{
    s_fx_t *fx = *state;
    s_expect(fx, s_rec("E-1", 100), S_OK);
    t_event_t c = s_corr("C-1", "E-1", 70);
    s_expect(fx, c, S_OK);
    uint64_t cseq = fx->seq;
    /* transport resend of the correction: re-acked as accepted, nothing counted */
    char text[256];
    assert_int_equal(s_send_seq(fx, &c, cseq, text, sizeof text), S_OK);
    assert_int_equal(s_cell(fx->store, 3).m[KC_M_AMOUNT_VND], 70);
    assert_int_equal(t_log_size(fx->store), 2);
    /* the same correction again under a new seq (a re-import): a duplicate,
     * although its target is superseded by now */
    s_expect(fx, s_corr("C-1", "E-1", 70), KCPIPE__V1__REASON__REASON_DUPLICATE);
    /* same id, other values: a conflict */
    s_expect(fx, s_corr("C-1", "E-1", 71), KCPIPE__V1__REASON__REASON_EVENT_ID_CONFLICT);
    assert_int_equal(s_cell(fx->store, 3).m[KC_M_AMOUNT_VND], 70);
    assert_int_equal(s_cell(fx->store, 3).events, 1);
    /* a retraction re-imported, with and without the (same) period: duplicate */
    s_expect(fx, s_retr("R-1", "C-1"), S_OK);
    s_expect(fx, s_retr("R-1", "C-1"), KCPIPE__V1__REASON__REASON_DUPLICATE);
    t_event_t rp = s_retr("R-1", "C-1");
    rp.ev.has_year = rp.ev.has_month = 1;
    rp.ev.year = 2021;
    rp.ev.month = 3;
    s_expect(fx, rp, KCPIPE__V1__REASON__REASON_DUPLICATE);
    assert_int_equal(t_log_size(fx->store), 3);
    assert_int_equal(s_cell(fx->store, 3).events, 0);
}

/* ---- target_superseded names the version to correct ---- */

static void test_superseded_names_the_latest_version(void **state)
{
    s_fx_t *fx = *state;
    s_expect(fx, s_rec("E-1", 100), S_OK);        /* offset 0 */
    s_expect(fx, s_corr("C-1", "E-1", 70), S_OK); /* 1 */
    s_expect(fx, s_corr("C-2", "C-1", 90), S_OK); /* 2 */
    /* the first version: corrected by the second, the third is the latest */
    s_expect_text(fx, s_corr("X-1", "E-1", 95), S_SUP,
                  "cannot correct 'E-1': it was corrected by 'C-1' (log offset 1); the latest "
                  "version is 'C-2': send the correction with corrects=C-2");
    s_expect_text(fx, s_retr("X-2", "E-1"), S_SUP,
                  "cannot retract 'E-1': it was corrected by 'C-1' (log offset 1); the latest "
                  "version is 'C-2': send the retraction with corrects=C-2");
    /* the second version: its corrector is the latest */
    s_expect_text(fx, s_corr("X-3", "C-1", 95), S_SUP,
                  "cannot correct 'C-1': it was corrected by 'C-2' (log offset 2); the latest "
                  "version is 'C-2': send the correction with corrects=C-2");
    /* what the text says to do is accepted, and the chain grows */
    s_expect(fx, s_corr("C-3", "C-2", 95), S_OK); /* 3 */
    assert_int_equal(s_cell(fx->store, 3).m[KC_M_AMOUNT_VND], 95);
    s_expect_text(fx, s_corr("X-4", "E-1", 96), S_SUP,
                  "cannot correct 'E-1': it was corrected by 'C-1' (log offset 1); the latest "
                  "version is 'C-3': send the correction with corrects=C-3");

    /* a chain ending in a retraction: nothing left to correct */
    s_expect(fx, s_retr("R-1", "C-3"), S_OK); /* 4 */
    s_expect_text(fx, s_corr("X-5", "E-1", 97), S_SUP,
                  "cannot correct 'E-1': it was corrected by 'C-1' (log offset 1); the latest "
                  "version 'C-3' was retracted by 'R-1' (log offset 4): there is nothing to "
                  "correct");
    s_expect_text(fx, s_retr("X-6", "C-2"), S_SUP,
                  "cannot retract 'C-2': it was corrected by 'C-3' (log offset 3); the latest "
                  "version 'C-3' was retracted by 'R-1' (log offset 4): there is nothing to "
                  "retract");
    /* the retracted version itself keeps its own reason */
    s_expect(fx, s_corr("X-7", "C-3", 98), KCPIPE__V1__REASON__REASON_TARGET_RETRACTED);
    assert_int_equal(t_log_size(fx->store), 5);
    assert_int_equal(s_cell(fx->store, 3).events, 0);

    /* within one group: the versions written earlier in the same transaction */
    t_event_t g[3] = {s_rec("G-1", 5), s_corr("G-2", "G-1", 6), s_corr("G-3", "G-1", 7)};
    t_buf_t evs[3];
    for (int i = 0; i < 3; i++) {
        g[i].ev.metrics = &g[i].m;
        g[i].ev.has_seq = 1;
        g[i].ev.seq = ++fx->seq;
        evs[i] = t_event_pack(&g[i]);
    }
    t_buf_t batch = t_batch("p1", evs, 3);
    for (int i = 0; i < 3; i++)
        t_buf_free(&evs[i]);
    kc_apply_t *grp = t_group(fx->store, &batch, 1);
    const kc_pb_ack_t *ack = kc_apply_ack_msg(grp, 0);
    assert_non_null(ack);
    assert_int_equal(ack->n_results, 1);
    assert_int_equal(ack->results[0]->seq, fx->seq);
    assert_int_equal(ack->results[0]->reason, S_SUP);
    assert_string_equal(ack->results[0]->text,
                        "cannot correct 'G-1': it was corrected by 'G-2' (log offset 6); the "
                        "latest version is 'G-2': send the correction with corrects=G-2");
    kc_apply_destroy(&grp);

    /* 64-byte ids: the long form would not fit the text, the short one does,
     * with every id whole */
    char a[65], b[65], c[65], d[65], r[65];
    memset(a, 'a', 64), memset(b, 'b', 64), memset(c, 'c', 64), memset(d, 'd', 64);
    memset(r, 'r', 64);
    a[64] = b[64] = c[64] = d[64] = r[64] = '\0';
    s_expect(fx, s_rec(a, 10), S_OK);
    s_expect(fx, s_corr(b, a, 11), S_OK);
    s_expect(fx, s_corr(c, b, 12), S_OK);
    char want[KC_LEDGER_TEXT_MAX];
    int n = snprintf(want, sizeof want,
                     "cannot correct '%s': corrected by '%s'; the latest version is '%s'", a, b, c);
    assert_true(n > 0 && (size_t)n < sizeof want);
    s_expect_text(fx, s_corr(d, a, 13), S_SUP, want);
    s_expect(fx, s_retr(r, c), S_OK);
    n = snprintf(want, sizeof want,
                 "cannot retract '%s': its latest version '%s' was retracted by '%s'", a, c, r);
    assert_true(n > 0 && (size_t)n < sizeof want);
    s_expect_text(fx, s_retr(d, a), S_SUP, want);
}

/* The same chain walked through a source of the test's own (as a replay's
 * in-memory state serves it): V-0 (a record) -> V-1 -> ... -> V-n, unit 79,
 * V-k at log offset k, V-n live; a link can be broken to see the plain text. */
typedef struct {
    int n;
    kc_identity_t ids[1100];
    uint64_t fail_at; /* event_get of this offset fails with KC_ESTORE (0: none) */
    t_buf_t buf;      /* the last event_get's bytes */
} s_mem_t;

static int s_mem_identity(void *ctx, uint8_t unit, const char *id, size_t len, kc_identity_t *out)
{
    s_mem_t *m = ctx;
    char s[16];
    int k;
    char tail;
    if (unit != 79 || len >= sizeof s)
        return KC_ENOTFOUND;
    memcpy(s, id, len);
    s[len] = '\0';
    if (sscanf(s, "V-%d%c", &k, &tail) != 1 || k < 0 || k > m->n)
        return KC_ENOTFOUND;
    *out = m->ids[k];
    return 0;
}

static int s_mem_event(void *ctx, uint64_t offset, const uint8_t **data, size_t *len)
{
    s_mem_t *m = ctx;
    if (offset > (uint64_t)m->n)
        return KC_ENOTFOUND;
    if (m->fail_at && offset == m->fail_at)
        return KC_ESTORE;
    char id[16], prev[16];
    snprintf(id, sizeof id, "V-%d", (int)offset);
    snprintf(prev, sizeof prev, "V-%d", (int)offset - 1);
    t_event_t e = offset ? s_corr(id, prev, 100 + (int64_t)offset) : s_rec(id, 100);
    e.ev.metrics = &e.m;
    t_buf_free(&m->buf);
    m->buf = t_event_pack(&e);
    *data = m->buf.data;
    *len = m->buf.len;
    return 0;
}

static void s_mem_chain(s_mem_t *m, int n)
{
    m->n = n;
    m->fail_at = 0;
    for (int k = 0; k <= n; k++)
        m->ids[k] = (kc_identity_t){.offset = (uint64_t)k,
                                    .state = k < n ? KC_ID_SUPERSEDED : KC_ID_LIVE,
                                    .op = k ? S_CORR : KCPIPE__V1__OP__OP_RECORD,
                                    .kind = 1,
                                    .prev_unit = k ? 79 : 0,
                                    .prev = k ? (uint64_t)k - 1 : 0,
                                    .next_unit = k < n ? 79 : 0,
                                    .next = k < n ? (uint64_t)k + 1 : 0};
}

/* The effect of "NEW" correcting V-0, decided at offset n+1: its text. */
static int s_mem_decide(s_mem_t *m, char *text)
{
    kc_ledger_source_t src = {.identity_get = s_mem_identity, .event_get = s_mem_event, .ctx = m};
    t_event_t e = s_corr("NEW", "V-0", 1);
    e.ev.metrics = &e.m;
    kc_ledger_effect_t eff;
    int rc = kc_ledger_effect(&src, &e.ev, (uint64_t)m->n + 1, &eff);
    if (rc == 0) {
        assert_int_equal(eff.reason, S_SUP);
        snprintf(text, KC_LEDGER_TEXT_MAX, "%s", eff.text);
    }
    return rc;
}

static void test_superseded_chain_bounds(void **state)
{
    (void)state;
    s_mem_t *m = calloc(1, sizeof *m);
    assert_non_null(m);
    char text[KC_LEDGER_TEXT_MAX];
    const char *plain = "cannot correct 'V-0': it was corrected (by log offset 1); name the "
                        "latest version";
    /* 1000 steps from the target to the live version: followed */
    s_mem_chain(m, 1000);
    assert_int_equal(s_mem_decide(m, text), 0);
    assert_string_equal(text, "cannot correct 'V-0': it was corrected by 'V-1' (log offset 1); "
                              "the latest version is 'V-1000': send the correction with "
                              "corrects=V-1000");
    /* 1001: taken for a broken log, the plain text */
    s_mem_chain(m, 1001);
    assert_int_equal(s_mem_decide(m, text), 0);
    assert_string_equal(text, plain);
    /* a link back to an earlier offset (a cycle V-1 -> V-2 -> V-1 ...) */
    s_mem_chain(m, 5);
    m->ids[2].next = 1;
    assert_int_equal(s_mem_decide(m, text), 0);
    assert_string_equal(text, plain);
    /* a next offset beyond the log */
    s_mem_chain(m, 5);
    m->ids[2].next = 9;
    assert_int_equal(s_mem_decide(m, text), 0);
    assert_string_equal(text, plain);
    /* an identity that does not link back to the version before it */
    s_mem_chain(m, 5);
    m->ids[3].prev = 0;
    assert_int_equal(s_mem_decide(m, text), 0);
    assert_string_equal(text, plain);
    /* a store error while walking is passed on, as everywhere in the ledger */
    s_mem_chain(m, 5);
    m->fail_at = 3;
    assert_int_equal(s_mem_decide(m, text), KC_ESTORE);
    /* the intact chain of 5 */
    s_mem_chain(m, 5);
    assert_int_equal(s_mem_decide(m, text), 0);
    assert_string_equal(text, "cannot correct 'V-0': it was corrected by 'V-1' (log offset 1); "
                              "the latest version is 'V-5': send the correction with "
                              "corrects=V-5");
    t_buf_free(&m->buf);
    free(m);
}

/* One batch of p1 (next seqs) filling April to `total` with events at the
 * per-event ceiling (t_batch_fill), all accepted; returns how many. */
static uint64_t s_fill_april(s_fx_t *fx, int64_t total)
{
    uint64_t n = t_fill_count(total);
    t_buf_t batch = t_batch_fill("p1", "BIG", fx->seq + 1, 4, total);
    kc_apply_t *g = t_group(fx->store, &batch, 1);
    const kc_pb_ack_t *a = kc_apply_ack_msg(g, 0);
    assert_non_null(a);
    assert_int_equal(a->acked_to, fx->seq + n);
    assert_int_equal(a->n_results, 0);
    kc_apply_destroy(&g);
    fx->seq += n;
    return n;
}

/* April's cell at INT64_MAX, reached the way a real one could be: no event may
 * carry more than 10^15 (value_too_large), so 9,224 events at the ceiling in
 * one batch (s_fill_april, fast) rather than a cell seeded in the store. */
static void test_overflow_changes_nothing(void **state)
{
    s_fx_t *fx = *state;
    uint64_t nbig = s_fill_april(fx, INT64_MAX);
    s_expect(fx, s_rec("E-1", 100), S_OK);
    /* moving E-1 into April would overflow April's amount: the March delta
     * applied first must be undone */
    t_event_t c = s_corr("C-1", "E-1", 1);
    c.ev.month = 4;
    s_expect(fx, c, KCPIPE__V1__REASON__REASON_TOTAL_OVERFLOW);
    kc_cell_t m3 = s_cell(fx->store, 3), m4 = s_cell(fx->store, 4);
    assert_int_equal(m3.m[KC_M_AMOUNT_VND], 100);
    assert_int_equal(m3.events, 1);
    assert_true(m4.m[KC_M_AMOUNT_VND] == INT64_MAX);
    assert_int_equal(m4.events, nbig);
    assert_int_equal(t_log_size(fx->store), nbig + 1);
    /* E-1 is still live: it can be corrected */
    s_expect(fx, s_corr("C-2", "E-1", 5), S_OK);
    assert_int_equal(s_cell(fx->store, 3).m[KC_M_AMOUNT_VND], 5);
}

/* ---- replay: the log alone, through kc_ledger, gives the same totals ---- */

typedef struct {
    kc_txn_t *dst;
    int rc;
} s_replay_t;

static int s_replay_entry(const kc_log_entry_t *e, void *ctx)
{
    s_replay_t *r = ctx;
    kc_pb_event_t *ev = kcpipe__v1__event__unpack(NULL, e->event_len, e->event);
    assert_non_null(ev);
    uint64_t at;
    int rc = kc_txn_log_append(r->dst, e, &at);
    assert_int_equal(rc, 0);
    assert_int_equal(at, e->offset);
    kc_ledger_source_t src = kc_ledger_source_txn(r->dst);
    kc_ledger_effect_t eff;
    assert_int_equal(kc_ledger_effect(&src, ev, e->offset, &eff), 0);
    if (eff.reason != S_OK)
        fail_msg("replay of offset %llu: %s (%s)", (unsigned long long)e->offset,
                 kc_reason_name(eff.reason), eff.text);
    assert_int_equal(kc_ledger_apply(r->dst, &eff), 0);
    kcpipe__v1__event__free_unpacked(ev, NULL);
    return 0;
}

typedef struct {
    kc_store_t *from;
} s_rebuild_t;

static int s_rebuild(kc_txn_t *dst, void *ctx)
{
    s_rebuild_t *rb = ctx;
    kc_txn_t *src;
    assert_int_equal(kc_store_read_begin(rb->from, &src), 0);
    s_replay_t r = {.dst = dst};
    int rc = kc_txn_log_scan(src, 0, s_replay_entry, &r);
    kc_txn_end(&src);
    return rc;
}

typedef struct {
    kc_txn_t *other;
    int cells;
} s_cmp_t;

static int s_cmp_cell(const kc_cell_key_t *key, const kc_cell_t *cell, void *ctx)
{
    s_cmp_t *c = ctx;
    kc_cell_t o;
    assert_int_equal(kc_txn_totals_get(c->other, key, &o), 0);
    assert_int_equal(o.events, cell->events);
    assert_memory_equal(o.m, cell->m, sizeof o.m);
    c->cells++;
    return 0;
}

static void test_replay_rebuilds_the_same_totals(void **state)
{
    s_fx_t *fx = *state;
    s_expect(fx, s_rec("E-1", 100), S_OK);
    s_expect(fx, s_rec("E-2", 30), S_OK);
    t_event_t c = s_corr("C-1", "E-1", 70);
    c.ev.month = 5;
    s_expect(fx, c, S_OK);
    s_expect(fx, s_corr("C-2", "C-1", 90), S_OK);
    s_expect(fx, s_retr("R-1", "E-2"), S_OK);
    s_expect(fx, s_rec("E-3", 11), S_OK);

    char *dir = t_tmpdir("ledger-replay");
    kc_store_t *copy;
    kc_store_opts_t o = {0};
    assert_int_equal(kc_store_open(&copy, dir, &o), 0);
    s_rebuild_t rb = {.from = fx->store};
    assert_int_equal(kc_store_write(copy, s_rebuild, &rb), 0);
    kc_txn_t *a, *b;
    assert_int_equal(kc_store_read_begin(fx->store, &a), 0);
    assert_int_equal(kc_store_read_begin(copy, &b), 0);
    s_cmp_t ab = {.other = b}, ba = {.other = a};
    assert_int_equal(kc_txn_totals_scan(a, NULL, NULL, s_cmp_cell, &ab), 0);
    assert_int_equal(kc_txn_totals_scan(b, NULL, NULL, s_cmp_cell, &ba), 0);
    assert_int_equal(ab.cells, ba.cells);
    assert_int_equal(ab.cells, 2); /* March and May */
    kc_txn_end(&a);
    kc_txn_end(&b);
    kc_store_close(&copy);
    t_rmtree(dir);
    free(dir);
}

static void s_quiet(kc_log_level_t level, const char *line, void *ctx)
{
    (void)level;
    (void)line;
    (*(int *)ctx)++;
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    static int lines;
    kc_log_set_sink(s_quiet, &lines); /* rejections are logged: keep the output short */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_chain_arithmetic_and_history, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_correction_moves_between_cells, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_correction_across_the_merger, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_rejections, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_resend_and_business_duplicates, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_superseded_names_the_latest_version, s_setup,
                                        s_teardown),
        cmocka_unit_test(test_superseded_chain_bounds),
        cmocka_unit_test_setup_teardown(test_overflow_changes_nothing, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_replay_rebuilds_the_same_totals, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
