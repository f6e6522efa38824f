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
    s_hist_t h = s_history(fx->store, 180, "LA-1c");
    assert_int_equal(h.n, 2);
    assert_int_equal(h.unit[0], 80);
    assert_int_equal(h.unit[1], 180);
    /* a retraction without a period finds it under either scheme */
    t_event_t r = s_retr("LA-1r", "LA-1c");
    r.ev.province = "80";
    s_expect(fx, r, S_OK);
    assert_int_equal(s_cell_at(fx->store, 80, 2025, 7, 1).events, 0);
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
        cmocka_unit_test_setup_teardown(test_overflow_changes_nothing, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_replay_rebuilds_the_same_totals, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
