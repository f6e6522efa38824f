/* apply_test.c - kc_apply in-process against a temporary store: dedup, gaps, rejections. */
#include "apply_test_util.h"
#include "kc_apply.h"
#include "kc_err.h"
#include "kc_log.h"
#include "kc_store.h"

#include <sodium.h>

typedef t_store_fx_t s_fx_t;

static kc_apply_t *s_one(kc_store_t *store, t_buf_t batch)
{
    return t_group(store, &batch, 1);
}

static void s_expect_range(const kc_pb_ack_t *a, uint64_t from, uint64_t to, uint64_t committed)
{
    assert_int_equal(a->status, KCPIPE__V1__STATUS__STATUS_OK);
    assert_true(a->has_acked_from && a->has_acked_to);
    assert_int_equal(a->acked_from, from);
    assert_int_equal(a->acked_to, to);
    assert_true(a->has_committed_seq);
    assert_int_equal(a->committed_seq, committed);
}

static kc_cell_t s_cell(kc_store_t *store, uint8_t province, uint8_t activity)
{
    kc_txn_t *t;
    assert_int_equal(kc_store_read_begin(store, &t), 0);
    kc_cell_key_t key = {
        .year = 2021, .month = 3, .province = province, .activity = activity, .kind = 1, .fund = 3};
    kc_cell_t c;
    int rc = kc_txn_totals_get(t, &key, &c);
    assert_true(rc == 0 || rc == KC_ENOTFOUND);
    kc_txn_end(&t);
    return c;
}

static uint8_t s_machinery(void)
{
    return kc_ref_activity_by_code("KC3b")->id;
}

static void test_accepted_event_lands_everywhere(void **state)
{
    s_fx_t *fx = *state;
    t_event_t e;
    t_event(&e, "p1", 1, "E-1", 1000);
    t_buf_t ev = t_event_pack(&e);
    kc_apply_t *g = s_one(fx->store, t_batch("p1", &ev, 1));
    kc_pb_ack_t *a = t_ack(g, 0);
    s_expect_range(a, 1, 1, 1);
    assert_string_equal(a->producer_id, "p1");
    assert_int_equal(a->n_results, 0);
    assert_false(a->has_resend_from && a->resend_from);
    assert_int_equal(kc_apply_delta(g)->accepted, 1);
    assert_int_equal(kc_apply_delta(g)->commits, 1);
    kcpipe__v1__ack__free_unpacked(a, NULL);
    kc_apply_destroy(&g);
    assert_null(g);

    kc_txn_t *t;
    assert_int_equal(kc_store_read_begin(fx->store, &t), 0);
    kc_log_entry_t le;
    assert_int_equal(kc_txn_log_get(t, 0, &le), 0);
    assert_int_equal(le.seq, 1);
    assert_int_equal(le.producer_len, 2);
    assert_memory_equal(le.producer, "p1", 2);
    assert_int_equal(le.event_len, ev.len);
    assert_memory_equal(le.event, ev.data, ev.len); /* verbatim */
    assert_true(le.received_ns > 0);
    kc_identity_t idn;
    assert_int_equal(kc_txn_identity_get(t, 79, "E-1", 3, &idn), 0);
    assert_int_equal(idn.offset, 0);
    kc_producer_state_t ps;
    assert_int_equal(kc_txn_producer_get(t, "p1", &ps), 0);
    assert_int_equal(ps.hwm, 1);
    assert_int_equal(ps.accepted, 1);
    kc_txn_end(&t);
    kc_cell_t c = s_cell(fx->store, 79, s_machinery());
    assert_int_equal(c.events, 1);
    assert_int_equal(c.m[KC_M_AMOUNT_VND], 1000);
    assert_int_equal(c.m[KC_M_FACILITIES], 1);
    assert_int_equal(c.m[KC_M_PERSONS], 0);
    t_buf_free(&ev);
}

static void test_resend_is_acked_again_and_not_counted(void **state)
{
    s_fx_t *fx = *state;
    kc_apply_t *g = s_one(fx->store, t_batch_range("p1", "R", 1, 5, 10));
    kc_apply_destroy(&g);
    /* a resend of 3..5, then of all: same answers, nothing counted */
    g = s_one(fx->store, t_batch_range("p1", "R", 3, 5, 10));
    kc_pb_ack_t *a = t_ack(g, 0);
    s_expect_range(a, 3, 5, 5);
    assert_int_equal(a->n_results, 0);
    assert_int_equal(kc_apply_delta(g)->accepted, 0);
    assert_int_equal(kc_apply_delta(g)->resent, 3);
    assert_int_equal(kc_apply_delta(g)->events, 0);
    kcpipe__v1__ack__free_unpacked(a, NULL);
    kc_apply_destroy(&g);
    /* overlapping: 4..7 re-acks 4, 5 and processes 6, 7 */
    g = s_one(fx->store, t_batch_range("p1", "R", 4, 7, 10));
    a = t_ack(g, 0);
    s_expect_range(a, 4, 7, 7);
    assert_int_equal(kc_apply_delta(g)->accepted, 2);
    assert_int_equal(kc_apply_delta(g)->resent, 2);
    kcpipe__v1__ack__free_unpacked(a, NULL);
    kc_apply_destroy(&g);
    assert_int_equal(t_log_size(fx->store), 7);
    kc_cell_t c = s_cell(fx->store, 79, s_machinery());
    assert_int_equal(c.events, 7);
    assert_int_equal(c.m[KC_M_AMOUNT_VND], 70);
}

static void test_gap_asks_for_resend(void **state)
{
    s_fx_t *fx = *state;
    kc_apply_t *g = s_one(fx->store, t_batch_range("p1", "G", 1, 2, 1));
    kc_apply_destroy(&g);
    /* 5..6 while hwm is 2 */
    g = s_one(fx->store, t_batch_range("p1", "G", 5, 6, 1));
    kc_pb_ack_t *a = t_ack(g, 0);
    assert_int_equal(a->status, KCPIPE__V1__STATUS__STATUS_OK);
    assert_false(a->has_acked_from);
    assert_int_equal(a->committed_seq, 2);
    assert_true(a->has_resend_from);
    assert_int_equal(a->resend_from, 3);
    assert_non_null(a->error);
    assert_int_equal(kc_apply_delta(g)->gaps, 1);
    kcpipe__v1__ack__free_unpacked(a, NULL);
    kc_apply_destroy(&g);
    /* a batch with a hole inside: 3, 4, 6 -> 3, 4 processed, resend from 5 */
    t_buf_t evs[3];
    t_event_t e;
    uint64_t seqs[3] = {3, 4, 6};
    for (int i = 0; i < 3; i++) {
        char id[16];
        snprintf(id, sizeof id, "G-%llu", (unsigned long long)seqs[i]);
        t_event(&e, "p1", seqs[i], id, 1);
        evs[i] = t_event_pack(&e);
    }
    g = s_one(fx->store, t_batch("p1", evs, 3));
    a = t_ack(g, 0);
    s_expect_range(a, 3, 4, 4);
    assert_int_equal(a->resend_from, 5);
    kcpipe__v1__ack__free_unpacked(a, NULL);
    kc_apply_destroy(&g);
    for (int i = 0; i < 3; i++)
        t_buf_free(&evs[i]);
    /* out of order inside a batch: 5, 4 -> 5 processed, then resend from 6 */
    t_event(&e, "p1", 5, "G-5", 1);
    evs[0] = t_event_pack(&e);
    t_event(&e, "p1", 4, "G-4", 1);
    evs[1] = t_event_pack(&e);
    g = s_one(fx->store, t_batch("p1", evs, 2));
    a = t_ack(g, 0);
    s_expect_range(a, 5, 5, 5);
    assert_int_equal(a->resend_from, 6);
    kcpipe__v1__ack__free_unpacked(a, NULL);
    kc_apply_destroy(&g);
    t_buf_free(&evs[0]);
    t_buf_free(&evs[1]);
    assert_int_equal(t_log_size(fx->store), 5);
}

static void test_business_duplicate_and_conflict(void **state)
{
    s_fx_t *fx = *state;
    t_event_t e;
    t_event(&e, "p1", 1, "B-1", 500);
    t_buf_t ev = t_event_pack(&e);
    kc_apply_t *g = s_one(fx->store, t_batch("p1", &ev, 1));
    kc_apply_destroy(&g);
    t_buf_free(&ev);

    /* the same content from another producer (a re-import from a fresh spool) */
    t_event(&e, "p2", 1, "B-1", 500);
    t_buf_t evs[3];
    evs[0] = t_event_pack(&e);
    /* same province + event_id, other content */
    t_event(&e, "p2", 2, "B-1", 501);
    evs[1] = t_event_pack(&e);
    /* same event_id in another province: a different identity */
    t_event(&e, "p2", 3, "B-1", 500);
    e.ev.province = "01";
    evs[2] = t_event_pack(&e);
    g = s_one(fx->store, t_batch("p2", evs, 3));
    kc_pb_ack_t *a = t_ack(g, 0);
    s_expect_range(a, 1, 3, 3);
    assert_int_equal(a->n_results, 2);
    assert_int_equal(a->results[0]->seq, 1);
    assert_int_equal(a->results[0]->reason, KCPIPE__V1__REASON__REASON_DUPLICATE);
    assert_string_equal(a->results[0]->event_id, "B-1");
    assert_int_equal(a->results[1]->seq, 2);
    assert_int_equal(a->results[1]->reason, KCPIPE__V1__REASON__REASON_EVENT_ID_CONFLICT);
    assert_non_null(strstr(a->results[1]->text, "different content"));
    assert_int_equal(kc_apply_delta(g)->duplicates, 1);
    assert_int_equal(kc_apply_delta(g)->rejected, 1);
    assert_int_equal(kc_apply_delta(g)->accepted, 1);
    kcpipe__v1__ack__free_unpacked(a, NULL);
    kc_apply_destroy(&g);

    kc_cell_t c = s_cell(fx->store, 79, s_machinery());
    assert_int_equal(c.events, 1);
    assert_int_equal(c.m[KC_M_AMOUNT_VND], 500);
    assert_int_equal(s_cell(fx->store, 1, s_machinery()).events, 1);

    /* resending them reports the original results again */
    g = s_one(fx->store, t_batch("p2", evs, 3));
    a = t_ack(g, 0);
    s_expect_range(a, 1, 3, 3);
    assert_int_equal(a->n_results, 2);
    assert_int_equal(a->results[0]->reason, KCPIPE__V1__REASON__REASON_DUPLICATE);
    assert_int_equal(a->results[1]->reason, KCPIPE__V1__REASON__REASON_EVENT_ID_CONFLICT);
    assert_int_equal(kc_apply_delta(g)->duplicates, 0);
    assert_int_equal(kc_apply_delta(g)->resent, 3);
    kcpipe__v1__ack__free_unpacked(a, NULL);
    kc_apply_destroy(&g);
    for (int i = 0; i < 3; i++)
        t_buf_free(&evs[i]);
    assert_int_equal(t_log_size(fx->store), 2);
}

/* Each rule broken once, in one batch; the Ack lists each with its reason and text.
 * total_overflow needs a cell at the edge of int64, which no single event can
 * reach (value_too_large above 10^15): another producer first fills the cell of
 * 2021-03, 79, KC3b to INT64_MAX - 100 with events at the ceiling, in one
 * group of 9,224 events (t_batch_fill; fast, and legitimate, unlike a cell
 * seeded behind the aggregator's back). */
static void test_rejections_are_reported_and_recorded(void **state)
{
    s_fx_t *fx = *state;
    const int64_t fill = INT64_MAX - 100;
    const uint64_t nfill = t_fill_count(fill);
    kc_apply_t *g = s_one(fx->store, t_batch_fill("pfill", "F", 1, 3, fill));
    assert_int_equal(kc_apply_delta(g)->accepted, nfill);
    kc_apply_destroy(&g);
    enum { N = 9 };
    t_buf_t evs[N];
    int expect[N];
    t_event_t e;
    for (int i = 0; i < N; i++) {
        char *id = malloc(16);
        snprintf(id, 16, "X-%d", i + 1);
        t_event(&e, "p3", (uint64_t)i + 1, id, 100);
        switch (i) {
        case 0:
            e.ev.month = 13;
            expect[i] = KCPIPE__V1__REASON__REASON_BAD_MONTH;
            break;
        case 1:
            e.ev.province = "99";
            expect[i] = KCPIPE__V1__REASON__REASON_UNKNOWN_PROVINCE;
            break;
        case 2:
            e.ev.producer_id = "p4";
            expect[i] = KCPIPE__V1__REASON__REASON_PRODUCER_MISMATCH;
            break;
        case 3:
            e.ev.producer_id = NULL;
            expect[i] = KCPIPE__V1__REASON__REASON_PRODUCER_MISMATCH;
            break;
        case 4:
            expect[i] = 0; /* 100: fills the cell of 2021-03, 79, KC3b to INT64_MAX */
            break;
        case 5: expect[i] = KCPIPE__V1__REASON__REASON_TOTAL_OVERFLOW; break; /* 100 more */
        case 6:
            e.ev.event_id = NULL;
            expect[i] = KCPIPE__V1__REASON__REASON_MISSING_EVENT_ID;
            break;
        case 7:
            kc_pb_metric_set(&e.m, KC_M_PERSONS, 1);
            expect[i] = KCPIPE__V1__REASON__REASON_METRIC_NOT_ALLOWED;
            break;
        default:
            expect[i] = 0;
            e.ev.month = 4;
            break;
        }
        evs[i] = t_event_pack(&e);
        free(id);
    }
    g = s_one(fx->store, t_batch("p3", evs, N));
    kc_pb_ack_t *a = t_ack(g, 0);
    s_expect_range(a, 1, N, N);
    size_t r = 0;
    for (int i = 0; i < N; i++) {
        if (!expect[i])
            continue;
        assert_true(r < a->n_results);
        const kc_pb_result_t *res = a->results[r++];
        assert_int_equal(res->seq, i + 1);
        if ((int)res->reason != expect[i])
            fail_msg("seq %d: expected %s, got %s (%s)", i + 1, kc_reason_name(expect[i]),
                     kc_reason_name(res->reason), res->text);
        assert_non_null(res->text);
        assert_true(strlen(res->text) > 0);
    }
    assert_int_equal(r, a->n_results);
    assert_int_equal(kc_apply_delta(g)->accepted, 2);
    assert_int_equal(kc_apply_delta(g)->rejected, N - 2);
    assert_int_equal(kc_apply_delta(g)->by_reason[KCPIPE__V1__REASON__REASON_TOTAL_OVERFLOW], 1);
    kc_pb_ack_t *first = a;
    kc_apply_destroy(&g);

    /* recorded in the store */
    kc_txn_t *t;
    assert_int_equal(kc_store_read_begin(fx->store, &t), 0);
    int reason;
    char text[256];
    assert_int_equal(kc_txn_reject_get(t, "p3", 0, 1, &reason, text, sizeof text), 0);
    assert_int_equal(reason, KCPIPE__V1__REASON__REASON_BAD_MONTH);
    assert_string_equal(text, first->results[0]->text);
    assert_int_equal(kc_txn_reject_get(t, "p3", 0, 5, &reason, text, sizeof text), KC_ENOTFOUND);
    assert_int_equal(kc_txn_reject_get(t, "p3", 0, 6, &reason, text, sizeof text), 0);
    assert_int_equal(reason, KCPIPE__V1__REASON__REASON_TOTAL_OVERFLOW);
    kc_producer_state_t ps;
    assert_int_equal(kc_txn_producer_get(t, "p3", &ps), 0);
    assert_int_equal(ps.hwm, N);
    assert_int_equal(ps.accepted, 2);
    assert_int_equal(ps.rejected, N - 2);
    kc_txn_end(&t);
    kc_cell_t c = s_cell(fx->store, 79, s_machinery());
    assert_true(c.m[KC_M_AMOUNT_VND] == INT64_MAX);
    assert_int_equal(c.events, nfill + 1);

    /* a resend is answered with the very same Ack */
    g = s_one(fx->store, t_batch("p3", evs, N));
    a = t_ack(g, 0);
    s_expect_range(a, 1, N, N);
    assert_int_equal(a->n_results, first->n_results);
    for (size_t i = 0; i < a->n_results; i++) {
        assert_int_equal(a->results[i]->seq, first->results[i]->seq);
        assert_int_equal(a->results[i]->reason, first->results[i]->reason);
        assert_string_equal(a->results[i]->text, first->results[i]->text);
    }
    assert_int_equal(kc_apply_delta(g)->rejected, 0);
    assert_int_equal(kc_apply_delta(g)->resent, N);
    kcpipe__v1__ack__free_unpacked(a, NULL);
    kcpipe__v1__ack__free_unpacked(first, NULL);
    kc_apply_destroy(&g);
    for (int i = 0; i < N; i++)
        t_buf_free(&evs[i]);
}

static void test_unplaceable_events(void **state)
{
    s_fx_t *fx = *state;
    t_buf_t evs[4];
    t_event_t e;
    t_event(&e, "p5", 1, "U-1", 1);
    evs[0] = t_event_pack(&e);
    evs[1].len = 3;
    evs[1].data = malloc(3);
    memcpy(evs[1].data, "\xff\xff\xff", 3); /* not an Event */
    t_event(&e, "p5", 3, "U-3", 1);
    evs[2] = t_event_pack(&e);
    t_event(&e, "p5", 0, "U-4", 1); /* no seq */
    evs[3] = t_event_pack(&e);
    kc_apply_t *g = s_one(fx->store, t_batch("p5", evs, 3));
    kc_pb_ack_t *a = t_ack(g, 0);
    s_expect_range(a, 1, 1, 1);
    assert_int_equal(a->n_results, 1);
    assert_false(a->results[0]->has_seq);
    assert_int_equal(a->results[0]->reason, KCPIPE__V1__REASON__REASON_UNDECODABLE);
    assert_non_null(strstr(a->results[0]->text, "event #1"));
    assert_int_equal(kc_apply_delta(g)->unplaceable, 1);
    kcpipe__v1__ack__free_unpacked(a, NULL);
    kc_apply_destroy(&g);

    g = s_one(fx->store, t_batch("p5", &evs[3], 1));
    a = t_ack(g, 0);
    assert_false(a->has_acked_from);
    assert_int_equal(a->committed_seq, 1);
    assert_int_equal(a->n_results, 1);
    assert_int_equal(a->results[0]->reason, KCPIPE__V1__REASON__REASON_MISSING_SEQ);
    assert_string_equal(a->results[0]->event_id, "U-4");
    kcpipe__v1__ack__free_unpacked(a, NULL);
    kc_apply_destroy(&g);
    for (int i = 0; i < 4; i++)
        t_buf_free(&evs[i]);
    assert_int_equal(t_log_size(fx->store), 1);
}

static void test_bad_batches(void **state)
{
    s_fx_t *fx = *state;
    t_buf_t b[5];
    b[0].len = 5;
    b[0].data = malloc(5);
    memcpy(b[0].data, "\x0a\xff\xff\xff\xff", 5); /* truncated length-delimited field */
    b[1] = t_batch_range(NULL, "N", 1, 1, 1);     /* no producer_id */
    char longid[80];
    memset(longid, 'q', 65);
    longid[65] = '\0';
    b[2] = t_batch_range(longid, "L", 1, 1, 1);
    b[3] = t_batch_range("p6", "OK", 1, 2, 1); /* a good one in the same group */
    b[4] = t_batch("p7", NULL, 0);             /* empty: fine, nothing to do */
    kc_apply_t *g = t_group(fx->store, b, 5);
    assert_int_equal(kc_apply_count(g), 5);
    kc_pb_ack_t *a = t_ack(g, 0);
    assert_int_equal(a->status, KCPIPE__V1__STATUS__STATUS_UNDECODABLE);
    assert_null(a->producer_id);
    assert_non_null(a->error);
    kcpipe__v1__ack__free_unpacked(a, NULL);
    a = t_ack(g, 1);
    assert_int_equal(a->status, KCPIPE__V1__STATUS__STATUS_BAD_PRODUCER);
    kcpipe__v1__ack__free_unpacked(a, NULL);
    a = t_ack(g, 2);
    assert_int_equal(a->status, KCPIPE__V1__STATUS__STATUS_BAD_PRODUCER);
    kcpipe__v1__ack__free_unpacked(a, NULL);
    a = t_ack(g, 3);
    s_expect_range(a, 1, 2, 2);
    kcpipe__v1__ack__free_unpacked(a, NULL);
    a = t_ack(g, 4);
    assert_int_equal(a->status, KCPIPE__V1__STATUS__STATUS_OK);
    assert_false(a->has_acked_from);
    assert_int_equal(a->committed_seq, 0);
    kcpipe__v1__ack__free_unpacked(a, NULL);
    assert_int_equal(kc_apply_delta(g)->bad_batches, 3);
    assert_int_equal(kc_apply_delta(g)->batches, 5);
    assert_int_equal(kc_apply_ack(g, 5, &(const uint8_t *){NULL}, &(size_t){0}), KC_EINVAL);
    kc_apply_destroy(&g);
    assert_int_equal(t_log_size(fx->store), 2);
}

/* Several batches of one producer in one group: the hwm is carried in memory. */
static void test_one_group_many_batches(void **state)
{
    s_fx_t *fx = *state;
    t_buf_t b[4] = {
        t_batch_range("pa", "A", 1, 10, 1), t_batch_range("pb", "B", 1, 10, 2),
        t_batch_range("pa", "A", 11, 20, 1),
        t_batch_range("pa", "A", 5, 25, 1), /* overlaps the two before */
    };
    kc_apply_t *g = t_group(fx->store, b, 4);
    assert_int_equal(kc_apply_events(g), 51);
    kc_pb_ack_t *a = t_ack(g, 2);
    s_expect_range(a, 11, 20, 20);
    kcpipe__v1__ack__free_unpacked(a, NULL);
    a = t_ack(g, 3);
    s_expect_range(a, 5, 25, 25);
    kcpipe__v1__ack__free_unpacked(a, NULL);
    assert_int_equal(kc_apply_delta(g)->accepted, 35);
    assert_int_equal(kc_apply_delta(g)->resent, 16);
    kc_apply_destroy(&g);
    kc_cell_t c = s_cell(fx->store, 79, s_machinery());
    assert_int_equal(c.events, 35);
    assert_int_equal(c.m[KC_M_AMOUNT_VND], 25 + 20);
}

/* Commit failure: every Ack says unavailable, nothing is stored. */
static void test_commit_failure_answers_unavailable(void **state)
{
    s_fx_t *fx = *state;
    kc_store_close(&fx->store);
    kc_store_opts_t o = {.read_only = true};
    assert_int_equal(kc_store_open(&fx->store, fx->dir, &o), 0);
    t_buf_t b = t_batch_range("pu", "U", 1, 3, 1);
    kc_apply_t *g = kc_apply_new();
    assert_int_equal(kc_apply_add(g, b.data, b.len), 0);
    assert_int_not_equal(kc_apply_commit(g, fx->store), 0);
    kc_pb_ack_t *a = t_ack(g, 0);
    assert_int_equal(a->status, KCPIPE__V1__STATUS__STATUS_UNAVAILABLE);
    assert_false(a->has_acked_from);
    assert_false(a->has_committed_seq);
    assert_non_null(a->error);
    assert_int_equal(kc_apply_delta(g)->unavailable, 1);
    assert_int_equal(kc_apply_delta(g)->accepted, 0);
    kcpipe__v1__ack__free_unpacked(a, NULL);
    kc_apply_destroy(&g);
    t_buf_free(&b);
}

/* Apply the same big group on a store with map_size; return sums and acks. */
static void s_big_group(size_t map_size, t_sum_t *sum, t_buf_t *acks, size_t nacks,
                        size_t *final_map)
{
    char *dir = t_tmpdir("grow");
    kc_store_t *st = NULL;
    kc_store_opts_t o = {.map_size = map_size};
    assert_int_equal(kc_store_open(&st, dir, &o), 0);
    kc_apply_t *g = kc_apply_new();
    for (size_t i = 0; i < nacks; i++) {
        char prod[16], prefix[16];
        snprintf(prod, sizeof prod, "grow%zu", i % 4);
        snprintf(prefix, sizeof prefix, "P%zu", i % 4);
        uint64_t from = (uint64_t)(i / 4) * 250 + 1;
        t_buf_t b = t_batch_range(prod, prefix, from, from + 249, (int64_t)i + 1);
        assert_int_equal(kc_apply_add(g, b.data, b.len), 0);
        t_buf_free(&b);
    }
    assert_int_equal(kc_apply_commit(g, st), 0);
    for (size_t i = 0; i < nacks; i++) {
        const uint8_t *d;
        size_t len;
        assert_int_equal(kc_apply_ack(g, i, &d, &len), 0);
        acks[i].data = malloc(len);
        memcpy(acks[i].data, d, len);
        acks[i].len = len;
    }
    kc_apply_destroy(&g);
    kc_txn_t *t;
    assert_int_equal(kc_store_read_begin(st, &t), 0);
    kc_cell_key_t lo = kc_cell_key_min(), hi = kc_cell_key_max();
    memset(sum, 0, sizeof *sum);
    assert_int_equal(kc_txn_totals_scan(t, &lo, &hi, t_sum_cell, sum), 0);
    kc_txn_end(&t);
    *final_map = kc_store_map_size(st);
    kc_store_close(&st);
    t_rmtree(dir);
    free(dir);
}

static void test_map_growth_same_result(void **state)
{
    (void)state;
    enum { NB = 24 }; /* 24 batches x 250 events, 4 producers, one group */
    t_buf_t small_acks[NB], big_acks[NB];
    t_sum_t small, big;
    size_t small_map, big_map;
    s_big_group((size_t)64 << 10, &small, small_acks, NB, &small_map);
    s_big_group((size_t)256 << 20, &big, big_acks, NB, &big_map);
    assert_true(small_map > ((size_t)64 << 10)); /* it did grow */
    assert_int_equal(small.events, NB * 250);
    assert_int_equal(small.events, big.events);
    assert_int_equal(small.cells, big.cells);
    assert_memory_equal(small.m, big.m, sizeof small.m);
    for (int i = 0; i < NB; i++) {
        assert_int_equal(small_acks[i].len, big_acks[i].len);
        assert_memory_equal(small_acks[i].data, big_acks[i].data, big_acks[i].len);
        t_buf_free(&small_acks[i]);
        t_buf_free(&big_acks[i]);
    }
}

static void s_quiet(kc_log_level_t level, const char *line, void *ctx)
{
    (void)level;
    (void)line;
    (*(int *)ctx)++;
}

/* A batch re-encoded with a spool epoch (t_batch* leave it absent). */
static t_buf_t s_with_epoch(t_buf_t b, uint64_t epoch)
{
    kc_pb_batch_t *pb = kcpipe__v1__batch__unpack(NULL, b.len, b.data);
    assert_non_null(pb);
    pb->has_producer_epoch = 1;
    pb->producer_epoch = epoch;
    t_buf_t out;
    out.len = kcpipe__v1__batch__get_packed_size(pb);
    out.data = malloc(out.len);
    assert_non_null(out.data);
    kcpipe__v1__batch__pack(pb, out.data);
    kcpipe__v1__batch__free_unpacked(pb, NULL);
    t_buf_free(&b);
    return out;
}

static void test_spool_epochs(void **state)
{
    s_fx_t *fx = *state;
    /* the first spool of p7 sends seqs 1-3 */
    kc_apply_t *g = s_one(fx->store, s_with_epoch(t_batch_range("p7", "A", 1, 3, 10), 100));
    kc_pb_ack_t *a = t_ack(g, 0);
    s_expect_range(a, 1, 3, 3);
    assert_true(a->has_producer_epoch);
    assert_int_equal(a->producer_epoch, 100);
    kcpipe__v1__ack__free_unpacked(a, NULL);
    kc_apply_destroy(&g);

    /* a new spool (larger epoch) restarts at seq 1: new events, counted */
    g = s_one(fx->store, s_with_epoch(t_batch_range("p7", "B", 1, 2, 10), 200));
    a = t_ack(g, 0);
    s_expect_range(a, 1, 2, 2);
    assert_int_equal(a->n_results, 0);
    assert_int_equal(a->producer_epoch, 200);
    assert_int_equal(kc_apply_delta(g)->accepted, 2);
    assert_int_equal(kc_apply_delta(g)->resent, 0);
    kcpipe__v1__ack__free_unpacked(a, NULL);
    kc_apply_destroy(&g);
    assert_int_equal(t_log_size(fx->store), 5);

    /* the retired spool is fenced: nothing processed, nothing acknowledged */
    g = s_one(fx->store, s_with_epoch(t_batch_range("p7", "A", 4, 4, 10), 100));
    a = t_ack(g, 0);
    assert_int_equal(a->status, KCPIPE__V1__STATUS__STATUS_FENCED);
    assert_false(a->has_acked_from);
    assert_non_null(a->error);
    assert_int_equal(kc_apply_delta(g)->fenced, 1);
    kcpipe__v1__ack__free_unpacked(a, NULL);
    kc_apply_destroy(&g);
    assert_int_equal(t_log_size(fx->store), 5);

    /* a resend within the current epoch is still a transport duplicate */
    g = s_one(fx->store, s_with_epoch(t_batch_range("p7", "B", 1, 1, 10), 200));
    a = t_ack(g, 0);
    s_expect_range(a, 1, 1, 2);
    assert_int_equal(kc_apply_delta(g)->resent, 1);
    kcpipe__v1__ack__free_unpacked(a, NULL);
    kc_apply_destroy(&g);
    assert_int_equal(t_log_size(fx->store), 5);

    kc_txn_t *t;
    kc_producer_state_t ps;
    assert_int_equal(kc_store_read_begin(fx->store, &t), 0);
    assert_int_equal(kc_txn_producer_get(t, "p7", &ps), 0);
    assert_int_equal(ps.epoch, 200);
    assert_int_equal(ps.hwm, 2);
    assert_int_equal(ps.accepted, 5);
    kc_log_entry_t le;
    assert_int_equal(kc_txn_log_get(t, 4, &le), 0);
    assert_int_equal(le.epoch, 200);
    assert_int_equal(le.seq, 2);
    kc_txn_end(&t);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    static int lines;
    kc_log_set_sink(s_quiet, &lines); /* rejections are logged: keep the output short */
    const struct CMUnitTest tests[] = {
        T_STORE_TEST(test_accepted_event_lands_everywhere),
        T_STORE_TEST(test_spool_epochs),
        T_STORE_TEST(test_resend_is_acked_again_and_not_counted),
        T_STORE_TEST(test_gap_asks_for_resend),
        T_STORE_TEST(test_business_duplicate_and_conflict),
        T_STORE_TEST(test_rejections_are_reported_and_recorded),
        T_STORE_TEST(test_unplaceable_events),
        T_STORE_TEST(test_bad_batches),
        T_STORE_TEST(test_one_group_many_batches),
        T_STORE_TEST(test_commit_failure_answers_unavailable),
        cmocka_unit_test(test_map_growth_same_result),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    kc_log_set_sink(NULL, NULL);
    return rc;
}
