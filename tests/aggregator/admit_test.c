/* admit_test.c - the admission rules at the aggregator (kc_event_admit,
 * kc_producer_id_ok; kc_event.h), through kc_apply in-process against a
 * temporary store, with every Ack decoded again by protobuf-c as a producer
 * would:
 *   - invalid_text (28) for each string field of an Event (event_id, province,
 *     activity, note, corrects, producer_id) holding invalid UTF-8, a control
 *     character, or a NUL byte that only the serialized bytes show (protobuf-c
 *     hands C code the string up to the NUL); the Ack's Result.text and
 *     Result.event_id are valid UTF-8 whatever the event held; the rejection
 *     is recorded, so a resend is answered with the same reason and text;
 *   - a note with tab, CR and LF, and ids in Vietnamese, are accepted;
 *   - value_too_large (27) for each metric one above its ceiling
 *     (data/metrics.tsv `max`), and the ceiling itself accepted;
 *   - a Batch whose producer_id breaks the id rule is refused whole
 *     (STATUS_BAD_PRODUCER, a valid UTF-8 Ack.error naming the problem) and
 *     leaves nothing in the store;
 *   - a reject text an older store holds with invalid bytes is acknowledged
 *     again as valid UTF-8.
 */
#include "../common/wire_test_util.h"
#include "apply_test_util.h"
#include "kc_apply.h"
#include "kc_err.h"
#include "kc_log.h"
#include "kc_store.h"
#include "kc_text.h"

#include <sodium.h>

#define R_INVALID_TEXT    KCPIPE__V1__REASON__REASON_INVALID_TEXT
#define R_VALUE_TOO_LARGE KCPIPE__V1__REASON__REASON_VALUE_TOO_LARGE

typedef t_store_fx_t s_fx_t;

/* Append a length-delimited field `num` holding d[0..n) (any bytes, NULs too). */
static void s_field(t_buf_t *b, unsigned num, const void *d, size_t n)
{
    uint8_t h[2 * T_WIRE_VARINT_MAX];
    size_t k = t_wire_ld_head(h, num, n);
    b->data = realloc(b->data, b->len + k + n);
    assert_non_null(b->data);
    memcpy(b->data + b->len, h, k);
    memcpy(b->data + b->len + k, d, n);
    b->len += k + n;
}

/* ---- invalid_text ---- */

/* The string fields of an Event, by field number. */
typedef enum {
    F_EVENT_ID = 1,
    F_PROVINCE = 2,
    F_ACTIVITY = 5,
    F_NOTE = 9,
    F_CORRECTS = 11,
    F_PRODUCER_ID = 14
} s_fieldnum_t;

static const struct {
    s_fieldnum_t num;
    const char *name;
} s_fields[] = {
    {F_EVENT_ID, "event_id"}, {F_PROVINCE, "province"}, {F_ACTIVITY, "activity"},
    {F_NOTE, "note"},         {F_CORRECTS, "corrects"}, {F_PRODUCER_ID, "producer_id"},
};
#define S_NFIELDS (sizeof s_fields / sizeof s_fields[0])

/* Bad values: what a field holds, and whether it goes only on the wire (a NUL
 * inside: protobuf-c's char * ends at it, kc_event_admit reads the bytes). */
typedef struct {
    const char *what;
    const char *bytes;
    size_t len;
    bool wire;
    const char *says; /* in the reason text */
} s_bad_t;

static const s_bad_t s_bads[] = {
    {"invalid UTF-8", "bad\xff\xfe", 5, false, "not valid UTF-8 (byte 3)"},
    {"overlong '/'", "bad\xc0\xaf", 5, false, "not valid UTF-8 (byte 3)"},
    {"ESC (C0 control)", "bad\x1b[2J", 7, false, "control character: 'bad\\x1B[2J'"},
    {"CSI (C1 control)", "bad\xc2\x9b", 5, false, "control character: 'bad\\xC2\\x9B'"},
    {"NUL inside", "bad\0tail", 8, true, "control character: 'bad\\x00tail'"},
};
#define S_NBADS (sizeof s_bads / sizeof s_bads[0])

/* A valid event of producer "pt" at seq whose field `num` holds bad->bytes. A
 * correction (of "T-target") when the field is `corrects`, so that only the
 * text can be wrong with it. */
static t_buf_t s_bad_event(uint64_t seq, s_fieldnum_t num, const s_bad_t *bad, char *id,
                           size_t idcap)
{
    t_event_t e;
    snprintf(id, idcap, "T-%llu", (unsigned long long)seq);
    t_event(&e, "pt", seq, id, 7);
    if (num == F_CORRECTS) {
        e.ev.has_op = 1;
        e.ev.op = KCPIPE__V1__OP__OP_CORRECTION;
        e.ev.corrects = "T-target";
    }
    char val[32];
    assert_true(bad->len < sizeof val);
    memcpy(val, bad->bytes, bad->len);
    val[bad->len] = '\0';
    char **slot = NULL;
    switch (num) {
    case F_EVENT_ID: slot = &e.ev.event_id; break;
    case F_PROVINCE: slot = &e.ev.province; break;
    case F_ACTIVITY: slot = &e.ev.activity; break;
    case F_NOTE: slot = &e.ev.note; break;
    case F_CORRECTS: slot = &e.ev.corrects; break;
    case F_PRODUCER_ID: slot = &e.ev.producer_id; break;
    }
    if (num == F_EVENT_ID && !bad->wire)
        snprintf(id, idcap, "%s", val); /* the id the Ack must show escaped */
    if (bad->wire) {
        *slot = NULL;
        t_buf_t b = t_event_pack(&e);
        s_field(&b, num, bad->bytes, bad->len); /* protobuf: field order is free */
        if (num == F_EVENT_ID)
            snprintf(id, idcap, "bad"); /* what protobuf-c's char * shows */
        return b;
    }
    *slot = val;
    return t_event_pack(&e);
}

/* Each field with each bad value, one event each in one batch between good
 * events: each rejected with invalid_text, its text naming the field; nothing
 * of them stored; a resend of the batch answered the same way again. */
static void test_invalid_text_each_field(void **state)
{
    s_fx_t *fx = *state;
    enum { N = S_NFIELDS * S_NBADS };
    t_buf_t evs[N + 2];
    char ids[N + 2][64];
    t_event_t e;
    /* the target of the corrections, and a good event at the end */
    t_event(&e, "pt", 1, "T-target", 3);
    evs[0] = t_event_pack(&e);
    snprintf(ids[0], sizeof ids[0], "T-target");
    for (size_t f = 0; f < S_NFIELDS; f++)
        for (size_t b = 0; b < S_NBADS; b++) {
            size_t k = 1 + f * S_NBADS + b;
            evs[k] = s_bad_event(k + 1, s_fields[f].num, &s_bads[b], ids[k], sizeof ids[k]);
        }
    t_event(&e, "pt", N + 2, "T-last", 4);
    evs[N + 1] = t_event_pack(&e);

    kc_apply_t *g;
    kc_pb_ack_t *first = NULL;
    for (int round = 0; round < 2; round++) {
        t_buf_t batch = t_batch("pt", evs, N + 2);
        g = t_group(fx->store, &batch, 1);
        kc_pb_ack_t *a = t_ack(g, 0);
        assert_int_equal(a->status, KCPIPE__V1__STATUS__STATUS_OK);
        assert_int_equal(a->acked_from, 1);
        assert_int_equal(a->acked_to, N + 2);
        assert_int_equal(a->committed_seq, N + 2);
        assert_int_equal(a->n_results, N);
        for (size_t f = 0; f < S_NFIELDS; f++)
            for (size_t b = 0; b < S_NBADS; b++) {
                size_t k = 1 + f * S_NBADS + b;
                const kc_pb_result_t *r = a->results[k - 1];
                assert_int_equal(r->seq, k + 1);
                if (r->reason != R_INVALID_TEXT || !strstr(r->text, s_fields[f].name) ||
                    !strstr(r->text, s_bads[b].says))
                    fail_msg("%s with %s: got %s (%s)", s_fields[f].name, s_bads[b].what,
                             kc_reason_name(r->reason), r->text);
                /* the id as kc_text shows it: the bytes sent, or valid text unchanged */
                char shown[KC_TEXT_SHOW_MAX(64)];
                kc_text_shows(ids[k], shown, sizeof shown);
                assert_non_null(r->event_id);
                assert_string_equal(r->event_id, shown);
                if (round == 1) {
                    assert_string_equal(r->text, first->results[k - 1]->text);
                    assert_int_equal(r->reason, first->results[k - 1]->reason);
                }
            }
        if (round == 0) {
            assert_int_equal(kc_apply_delta(g)->accepted, 2);
            assert_int_equal(kc_apply_delta(g)->rejected, N);
            assert_int_equal(kc_apply_delta(g)->by_reason[R_INVALID_TEXT], N);
            first = a;
        } else {
            assert_int_equal(kc_apply_delta(g)->resent, N + 2);
            assert_int_equal(kc_apply_delta(g)->rejected, 0);
            kcpipe__v1__ack__free_unpacked(a, NULL);
        }
        kc_apply_destroy(&g);
    }
    kcpipe__v1__ack__free_unpacked(first, NULL);
    for (size_t k = 0; k < N + 2; k++)
        t_buf_free(&evs[k]);

    /* recorded; the two good events alone are in the log and the totals */
    assert_int_equal(t_log_size(fx->store), 2);
    kc_txn_t *t;
    assert_int_equal(kc_store_read_begin(fx->store, &t), 0);
    for (uint64_t seq = 2; seq <= N + 1; seq++) {
        int reason;
        char text[256];
        assert_int_equal(kc_txn_reject_get(t, "pt", 0, seq, &reason, text, sizeof text), 0);
        assert_int_equal(reason, R_INVALID_TEXT);
    }
    kc_identity_t idn;
    assert_int_equal(kc_txn_identity_get(t, 79, "bad", 3, &idn), KC_ENOTFOUND);
    kc_cell_key_t key = {.year = 2021,
                         .month = 3,
                         .province = 79,
                         .activity = kc_ref_activity_by_code("KC3b")->id,
                         .kind = 1,
                         .fund = 3};
    kc_cell_t c;
    assert_int_equal(kc_txn_totals_get(t, &key, &c), 0);
    assert_int_equal(c.events, 2);
    assert_int_equal(c.m[KC_M_AMOUNT_VND], 3 + 4);
    kc_producer_state_t ps;
    assert_int_equal(kc_txn_producer_get(t, "pt", &ps), 0);
    assert_int_equal(ps.rejected, N);
    kc_txn_end(&t);
}

/* Free text may hold tab, CR and LF, an id may not; valid UTF-8 beyond ASCII
 * passes in every field that takes it. */
static void test_valid_text_accepted(void **state)
{
    s_fx_t *fx = *state;
    t_event_t e;
    t_event(&e, "pv-Hà-Nội", 1, "Đà-Nẵng-1", 9);
    e.ev.note = "dòng 1\tcột 2\r\ndòng 2\n";
    t_buf_t evs[2];
    evs[0] = t_event_pack(&e);
    e.ev.seq = 2;
    e.ev.event_id = "Đà-Nẵng\t2";
    evs[1] = t_event_pack(&e);
    t_buf_t ev = evs[0];
    t_buf_t batch = t_batch("pv-Hà-Nội", evs, 2);
    t_buf_free(&evs[1]);
    kc_apply_t *g = t_group(fx->store, &batch, 1);
    kc_pb_ack_t *a = t_ack(g, 0);
    assert_int_equal(a->status, KCPIPE__V1__STATUS__STATUS_OK);
    assert_int_equal(a->acked_to, 2);
    assert_int_equal(a->n_results, 1);
    assert_int_equal(a->results[0]->seq, 2);
    assert_int_equal(a->results[0]->reason, R_INVALID_TEXT);
    assert_string_equal(a->results[0]->event_id, "Đà-Nẵng\\x092");
    assert_non_null(strstr(a->results[0]->text, "event_id holds a control character"));
    assert_string_equal(a->producer_id, "pv-Hà-Nội");
    kcpipe__v1__ack__free_unpacked(a, NULL);
    kc_apply_destroy(&g);
    /* in the log verbatim */
    kc_txn_t *t;
    assert_int_equal(kc_store_read_begin(fx->store, &t), 0);
    kc_log_entry_t le;
    assert_int_equal(kc_txn_log_get(t, 0, &le), 0);
    assert_int_equal(le.event_len, ev.len);
    assert_memory_equal(le.event, ev.data, ev.len);
    kc_txn_end(&t);
    t_buf_free(&ev);
}

/* ---- value_too_large ---- */

/* The first activity that allows metric m. */
static const kc_activity_t *s_activity_for(int m)
{
    for (size_t i = 0; i < kc_ref_activity_count(); i++) {
        const kc_activity_t *a = kc_ref_activity_at(i);
        if (a->metric_mask & (1u << m))
            return a;
    }
    fail_msg("no activity allows metric %d", m);
    return NULL;
}

/* An event of producer "pm" at seq carrying metric m = v alone (persons_employed
 * with persons at its ceiling, so that only the ceiling can be broken). */
static t_buf_t s_metric_event(uint64_t seq, int m, int64_t v)
{
    t_event_t e;
    char id[32];
    snprintf(id, sizeof id, "M-%llu", (unsigned long long)seq);
    t_event(&e, "pm", seq, id, 0);
    kcpipe__v1__metrics__init(&e.m);
    e.ev.activity = (char *)s_activity_for(m)->code;
    if (m == KC_M_PERSONS_EMPLOYED)
        kc_pb_metric_set(&e.m, KC_M_PERSONS, kc_ref_metric(KC_M_PERSONS)->max);
    kc_pb_metric_set(&e.m, m, v);
    return t_event_pack(&e);
}

/* Each metric at max + 1 (rejected, the text naming metric, value and ceiling),
 * then at max (accepted); and the 2^63 - 1. */
static void test_value_too_large_each_metric(void **state)
{
    s_fx_t *fx = *state;
    enum { N = 2 * KC_METRIC_COUNT + 1 };
    t_buf_t evs[N];
    t_sum_t want = {0};
    for (int m = 0; m < KC_METRIC_COUNT; m++) {
        int64_t max = kc_ref_metric(m)->max;
        assert_true(max > 0);
        evs[2 * m] = s_metric_event(2 * (uint64_t)m + 1, m, max + 1);
        evs[2 * m + 1] = s_metric_event(2 * (uint64_t)m + 2, m, max);
        want.m[m] += max;
        if (m == KC_M_PERSONS_EMPLOYED)
            want.m[KC_M_PERSONS] += kc_ref_metric(KC_M_PERSONS)->max;
        want.events++;
    }
    evs[N - 1] = s_metric_event(N, KC_M_AMOUNT_VND, INT64_MAX);
    t_buf_t batch = t_batch("pm", evs, N);
    kc_apply_t *g = t_group(fx->store, &batch, 1);
    kc_pb_ack_t *a = t_ack(g, 0);
    assert_int_equal(a->acked_to, N);
    assert_int_equal(a->n_results, KC_METRIC_COUNT + 1);
    for (size_t k = 0; k < a->n_results; k++) {
        const kc_pb_result_t *r = a->results[k];
        int m = k < KC_METRIC_COUNT ? (int)k : KC_M_AMOUNT_VND;
        int64_t max = kc_ref_metric(m)->max;
        char v[32], mx[32];
        snprintf(v, sizeof v, "%lld",
                 k < KC_METRIC_COUNT ? (long long)max + 1 : (long long)INT64_MAX);
        snprintf(mx, sizeof mx, "%lld", (long long)max);
        assert_int_equal(r->seq, k < KC_METRIC_COUNT ? 2 * k + 1 : N);
        if (r->reason != R_VALUE_TOO_LARGE || !strstr(r->text, kc_ref_metric(m)->name) ||
            !strstr(r->text, v) || !strstr(r->text, mx))
            fail_msg("%s = %s: got %s (%s)", kc_ref_metric(m)->name, v, kc_reason_name(r->reason),
                     r->text);
    }
    assert_int_equal(kc_apply_delta(g)->accepted, KC_METRIC_COUNT);
    assert_int_equal(kc_apply_delta(g)->by_reason[R_VALUE_TOO_LARGE], KC_METRIC_COUNT + 1);
    kcpipe__v1__ack__free_unpacked(a, NULL);
    kc_apply_destroy(&g);
    for (int k = 0; k < N; k++)
        t_buf_free(&evs[k]);
    /* the accepted ones, exactly, and nothing of the others */
    kc_txn_t *t;
    assert_int_equal(kc_store_read_begin(fx->store, &t), 0);
    t_sum_t got = {0};
    assert_int_equal(kc_txn_totals_scan(t, NULL, NULL, t_sum_cell, &got), 0);
    kc_txn_end(&t);
    assert_int_equal(got.events, want.events);
    assert_memory_equal(got.m, want.m, sizeof got.m);
    assert_int_equal(t_log_size(fx->store), KC_METRIC_COUNT);
}

/* ---- the Batch's producer_id ---- */

/* Batches whose producer_id breaks the id rule, each beside a good batch in one
 * group: refused whole, their Ack naming the problem in valid UTF-8; nothing
 * stored for them (no producer record, no reject record, no log entry). */
static void test_bad_producer_id_refused_whole(void **state)
{
    s_fx_t *fx = *state;
    const struct {
        const char *id; /* as the events carry it (and as protobuf-c shows a NUL one) */
        const char *wire;
        size_t len;
        const char *says; /* in Ack.error */
    } bad[] = {
        {"bad\xff\xfeid", "bad\xff\xfeid", 7, "UTF-8"},
        {"bad\x01id", "bad\x01id", 6, "control"},
        {"bad", "bad\0id", 6, "control"},
    };
    enum { NB = sizeof bad / sizeof bad[0] };
    t_buf_t b[NB + 1];
    for (size_t i = 0; i < NB; i++) {
        b[i] = t_batch_range(bad[i].id, "BP", 1, 2, 10);
        kc_pb_batch_t *pb = kcpipe__v1__batch__unpack(NULL, b[i].len, b[i].data);
        assert_non_null(pb);
        free(pb->producer_id);
        pb->producer_id = NULL;
        t_buf_free(&b[i]);
        b[i].len = kcpipe__v1__batch__get_packed_size(pb);
        b[i].data = malloc(b[i].len);
        kcpipe__v1__batch__pack(pb, b[i].data);
        kcpipe__v1__batch__free_unpacked(pb, NULL);
        s_field(&b[i], 1, bad[i].wire, bad[i].len);
    }
    b[NB] = t_batch_range("pgood", "G", 1, 2, 10);
    kc_apply_t *g = t_group(fx->store, b, NB + 1);
    for (size_t i = 0; i < NB; i++) {
        kc_pb_ack_t *a = t_ack(g, i);
        assert_int_equal(a->status, KCPIPE__V1__STATUS__STATUS_BAD_PRODUCER);
        assert_non_null(a->error);
        if (!strstr(a->error, "producer_id") || !strstr(a->error, bad[i].says))
            fail_msg("batch %zu: Ack.error '%s' does not name the problem", i, a->error);
        assert_false(a->has_acked_from);
        assert_false(a->has_committed_seq);
        assert_int_equal(a->n_results, 0);
        kcpipe__v1__ack__free_unpacked(a, NULL);
    }
    kc_pb_ack_t *a = t_ack(g, NB);
    assert_int_equal(a->status, KCPIPE__V1__STATUS__STATUS_OK);
    assert_int_equal(a->acked_to, 2);
    kcpipe__v1__ack__free_unpacked(a, NULL);
    assert_int_equal(kc_apply_delta(g)->bad_batches, NB);
    assert_int_equal(kc_apply_delta(g)->accepted, 2);
    /* the metrics never learn the refused producer ids */
    for (size_t i = 0; i < NB; i++) {
        kc_apply_msg_info_t info;
        assert_int_equal(kc_apply_msg_info(g, i, &info), 0);
        assert_non_null(info.producer_id);
        assert_string_equal(info.producer_id, "");
    }
    kc_apply_destroy(&g);
    assert_int_equal(t_log_size(fx->store), 2);
    kc_txn_t *t;
    assert_int_equal(kc_store_read_begin(fx->store, &t), 0);
    for (size_t i = 0; i < NB; i++) {
        kc_producer_state_t ps;
        assert_int_equal(kc_txn_producer_get(t, bad[i].id, &ps), KC_ENOTFOUND);
        int reason;
        char text[64];
        assert_int_equal(kc_txn_reject_get(t, bad[i].id, 0, 1, &reason, text, sizeof text),
                         KC_ENOTFOUND);
    }
    kc_txn_end(&t);
}

/* ---- what an older store holds ---- */

#define S_OLD_TEXT "month 13 \xff\xfe is not 1-12 \x1b[31m"

static int s_seed_old(kc_txn_t *t, void *ctx)
{
    (void)ctx;
    kc_producer_state_t ps = {.hwm = 1, .rejected = 1};
    int rc = kc_txn_producer_put(t, "pold", &ps);
    if (rc == 0)
        rc = kc_txn_reject_put(t, "pold", 0, 1, KCPIPE__V1__REASON__REASON_BAD_MONTH, S_OLD_TEXT);
    return rc;
}

/* A rejection an older version recorded with invalid bytes and a control
 * character in its text (and the event's id with invalid bytes, as its spool
 * still holds it), acknowledged again: the same reason, the text and id in
 * kc_text's display form. */
static void test_old_reject_text_reacked_as_valid_utf8(void **state)
{
    s_fx_t *fx = *state;
    assert_int_equal(kc_store_write(fx->store, s_seed_old, NULL), 0);
    t_event_t e;
    t_event(&e, "pold", 1, "EV-\xff\xfe", 1);
    e.ev.month = 13;
    t_buf_t ev = t_event_pack(&e);
    t_buf_t batch = t_batch("pold", &ev, 1);
    t_buf_free(&ev);
    kc_apply_t *g = t_group(fx->store, &batch, 1);
    kc_pb_ack_t *a = t_ack(g, 0);
    assert_int_equal(a->status, KCPIPE__V1__STATUS__STATUS_OK);
    assert_int_equal(a->acked_to, 1);
    assert_int_equal(a->n_results, 1);
    assert_int_equal(a->results[0]->reason, KCPIPE__V1__REASON__REASON_BAD_MONTH);
    char shown[KC_TEXT_SHOW_MAX(sizeof S_OLD_TEXT)];
    kc_text_shows(S_OLD_TEXT, shown, sizeof shown);
    assert_string_equal(a->results[0]->text, shown);
    assert_non_null(strstr(a->results[0]->text, "\\xFF\\xFE"));
    assert_non_null(strstr(a->results[0]->text, "\\x1B[31m"));
    assert_string_equal(a->results[0]->event_id, "EV-\\xFF\\xFE");
    assert_int_equal(kc_apply_delta(g)->resent, 1);
    kcpipe__v1__ack__free_unpacked(a, NULL);
    kc_apply_destroy(&g);
    assert_int_equal(t_log_size(fx->store), 0);
}

static void s_quiet(kc_log_level_t level, const char *line, void *ctx)
{
    (void)level;
    /* log lines quote what producers sent: valid UTF-8 too */
    if (!kc_text_utf8_valid(line, strlen(line)))
        (*(int *)ctx)++;
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    static int bad_lines;
    kc_log_set_sink(s_quiet, &bad_lines); /* rejections are logged: keep the output short */
    const struct CMUnitTest tests[] = {
        T_STORE_TEST(test_invalid_text_each_field),
        T_STORE_TEST(test_valid_text_accepted),
        T_STORE_TEST(test_value_too_large_each_metric),
        T_STORE_TEST(test_bad_producer_id_refused_whole),
        T_STORE_TEST(test_old_reject_text_reacked_as_valid_utf8),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    kc_log_set_sink(NULL, NULL);
    if (bad_lines) {
        fprintf(stderr, "%d log lines were not valid UTF-8\n", bad_lines);
        return 1;
    }
    return rc;
}
