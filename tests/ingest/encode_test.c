/* encode_test.c - kc_event_t -> kcpipe.v1.Event: pack, unpack, compare every field. */
#include "kc_encode.h"
#include "kc_err.h"
#include "kc_event.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static kc_event_t full_event(void)
{
    kc_event_t ev = {
        .event_id = "HCM-2021-0007",
        .province = "79",
        .year = 2021,
        .month = 11,
        .activity = "machinery",
        .kind = KCI_KIND_PLAN,
        .fund = KCI_FUND_KCDP,
        .note = "Máy sấy, \"mẫu\"\nhai dòng",
    };
    for (int i = 0; i < KCI_METRIC_COUNT; i++) {
        ev.present |= 1u << i;
        ev.metrics[i] = (int64_t)(i + 1) * 1000000007LL;
    }
    ev.metrics[KCI_DELEGATES] = -3; /* passed on: the aggregator judges */
    return ev;
}

/* kc_encode_event writes exactly what protobuf-c's pack writes for the same
 * message, over every op, kind, fund, metric subset, period and string mix. */
static void test_bytes_equal_protobuf_c(void **state)
{
    (void)state;
    static const char *const acts[] = {"machinery", "KC1", "training", NULL};
    static const char *const notes[] = {NULL, "", "n", "Máy sấy, \"mẫu\"\nhai dòng"};
    kc_buf_t b = {0};
    uint8_t *want = NULL;
    size_t compared = 0;
    uint64_t rng = 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < 20000; i++) {
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        kc_event_t ev = full_event();
        ev.op = KCI_OP_RECORD + (int)(rng % 3);
        ev.kind = (int)(rng >> 3 & 3) % 3;
        ev.fund = (int)(rng >> 5 & 3);
        ev.present = (uint32_t)(rng >> 8) & ((1u << KCI_METRIC_COUNT) - 1);
        for (int m = 0; m < KCI_METRIC_COUNT; m++)
            ev.metrics[m] = (int64_t)(rng >> (m * 3)) * ((m & 1) ? -1 : 1);
        ev.note = notes[rng >> 20 & 3];
        ev.activity = acts[rng >> 22 & 3];
        if (ev.op != KCI_OP_RETRACTION && !ev.activity)
            ev.activity = "KC2";
        ev.corrects = ev.op == KCI_OP_RECORD ? NULL : "HCM-2021-0001";
        if (rng >> 24 & 1)
            ev.year = ev.month = 0;
        uint64_t seq = rng >> 30;
        int rc = kc_encode_event(&ev, (rng >> 26 & 1) ? "p" : "ha-noi-office", seq, &b);
        assert_int_equal(rc, 0);
        kc_pb_event_t *pe = kcpipe__v1__event__unpack(NULL, b.len, b.data);
        assert_non_null(pe);
        size_t n = kcpipe__v1__event__get_packed_size(pe);
        want = realloc(want, n);
        assert_int_equal(kcpipe__v1__event__pack(pe, want), n);
        assert_int_equal(b.len, n);
        assert_memory_equal(b.data, want, n);
        kcpipe__v1__event__free_unpacked(pe, NULL);
        compared++;
    }
    assert_int_equal(compared, 20000);
    free(want);
    free(b.data);
}

static void test_roundtrip_every_field(void **state)
{
    (void)state;
    kc_event_t ev = full_event();
    kc_buf_t b = {0};
    assert_int_equal(kc_encode_event(&ev, "hcm-office", 42, &b), 0);
    kc_pb_event_t *pe = kcpipe__v1__event__unpack(NULL, b.len, b.data);
    assert_non_null(pe);
    assert_string_equal(pe->event_id, "HCM-2021-0007");
    assert_string_equal(pe->province, "79");
    assert_true(pe->has_year && pe->year == 2021);
    assert_true(pe->has_month && pe->month == 11);
    assert_string_equal(pe->activity, "KC3b"); /* name mapped to the code */
    assert_true(pe->has_kind && pe->kind == KCPIPE__V1__KIND__KIND_PLAN);
    assert_true(pe->has_fund && pe->fund == KCPIPE__V1__FUND__FUND_KCDP);
    assert_non_null(pe->metrics);
    for (int i = 0; i < KC_METRIC_COUNT; i++) {
        int64_t v;
        assert_true(kc_pb_metric_get(pe->metrics, i, &v));
        assert_true(v == ev.metrics[i]);
    }
    assert_string_equal(pe->note, ev.note);
    assert_false(pe->has_op);
    assert_null(pe->corrects);
    assert_string_equal(pe->producer_id, "hcm-office");
    assert_true(pe->has_seq && pe->seq == 42);
    kcpipe__v1__event__free_unpacked(pe, NULL);
    free(b.data);
}

static void test_defaults_and_passthrough(void **state)
{
    (void)state;
    kc_event_t ev = {
        .event_id = "E", .province = "1", .year = 1999, .month = 13, .activity = "weaving"};
    kc_buf_t b = {0};
    assert_int_equal(kc_encode_event(&ev, "p", 1, &b), 0);
    kc_pb_event_t *pe = kcpipe__v1__event__unpack(NULL, b.len, b.data);
    assert_non_null(pe);
    assert_string_equal(pe->activity, "weaving"); /* unknown: verbatim */
    assert_int_equal(pe->kind, KCPIPE__V1__KIND__KIND_ACTUAL);
    assert_int_equal(pe->fund, KCPIPE__V1__FUND__FUND_OTHER);
    assert_null(pe->metrics);
    assert_null(pe->note);
    assert_int_equal(pe->year, 1999);
    assert_int_equal(pe->month, 13);
    /* the aggregator's rules then name the problem */
    kc_event_view_t view;
    char text[200];
    assert_int_equal(kc_event_check(pe, &view, text, sizeof text),
                     KCPIPE__V1__REASON__REASON_BAD_YEAR);
    kcpipe__v1__event__free_unpacked(pe, NULL);

    ev.year = 2021;
    ev.month = 5;
    ev.province = "79";
    ev.present = 1u << KCI_AMOUNT_VND;
    ev.metrics[KCI_AMOUNT_VND] = 10;
    assert_int_equal(kc_encode_event(&ev, "p", 2, &b), 0);
    pe = kcpipe__v1__event__unpack(NULL, b.len, b.data);
    assert_int_equal(kc_event_check(pe, &view, text, sizeof text),
                     KCPIPE__V1__REASON__REASON_UNKNOWN_ACTIVITY);
    kcpipe__v1__event__free_unpacked(pe, NULL);

    ev.activity = "kc3b"; /* code in another case */
    assert_int_equal(kc_encode_event(&ev, "p", 3, &b), 0);
    pe = kcpipe__v1__event__unpack(NULL, b.len, b.data);
    assert_string_equal(pe->activity, "KC3b");
    assert_int_equal(kc_event_check(pe, &view, text, sizeof text), KCPIPE__V1__REASON__REASON_OK);
    kcpipe__v1__event__free_unpacked(pe, NULL);
    free(b.data);
}

/* Corrections carry op and corrects, and leave a default kind to the target;
 * retractions also leave out a zero period, activity and default fund. */
static void test_corrections_and_retractions(void **state)
{
    (void)state;
    kc_event_t ev = full_event();
    ev.op = KCI_OP_CORRECTION;
    ev.corrects = "HCM-2021-0001";
    ev.kind = KCI_KIND_DEFAULT;
    kc_buf_t b = {0};
    assert_int_equal(kc_encode_event(&ev, "p", 1, &b), 0);
    kc_pb_event_t *pe = kcpipe__v1__event__unpack(NULL, b.len, b.data);
    assert_non_null(pe);
    assert_true(pe->has_op && pe->op == KCPIPE__V1__OP__OP_CORRECTION);
    assert_string_equal(pe->corrects, "HCM-2021-0001");
    assert_false(pe->has_kind);
    assert_true(pe->has_fund && pe->fund == KCPIPE__V1__FUND__FUND_KCDP);
    assert_true(pe->has_year && pe->has_month);
    kcpipe__v1__event__free_unpacked(pe, NULL);
    ev.corrects = NULL;
    assert_int_equal(kc_encode_event(&ev, "p", 2, &b), KC_EINVAL);

    kc_event_t r = {.event_id = "R1", .province = "79", .op = KCI_OP_RETRACTION, .corrects = "E1"};
    assert_int_equal(kc_encode_event(&r, "p", 3, &b), 0);
    pe = kcpipe__v1__event__unpack(NULL, b.len, b.data);
    assert_non_null(pe);
    assert_true(pe->has_op && pe->op == KCPIPE__V1__OP__OP_RETRACTION);
    assert_string_equal(pe->corrects, "E1");
    assert_false(pe->has_year || pe->has_month || pe->has_kind || pe->has_fund);
    assert_null(pe->activity);
    assert_null(pe->metrics);
    kcpipe__v1__event__free_unpacked(pe, NULL);
    r.op = KCI_OP_REOPEN + 1; /* no such op */
    assert_int_equal(kc_encode_event(&r, "p", 4, &b), KC_EINVAL);

    /* the reporting cycle: a sign-off carries province and period only (and a note) */
    kc_event_t so = {.event_id = "S1",
                     .province = "79",
                     .year = 2026,
                     .month = 9,
                     .op = KCI_OP_SIGN_OFF,
                     .activity = "KC3b",
                     .corrects = "E1",
                     .present = 1u << KCI_AMOUNT_VND,
                     .note = "done"};
    assert_int_equal(kc_encode_event(&so, "p", 5, &b), 0);
    pe = kcpipe__v1__event__unpack(NULL, b.len, b.data);
    assert_non_null(pe);
    assert_true(pe->has_op && pe->op == KCPIPE__V1__OP__OP_SIGN_OFF);
    assert_true(pe->has_year && pe->year == 2026 && pe->has_month && pe->month == 9);
    assert_false(pe->has_kind || pe->has_fund);
    assert_null(pe->activity);
    assert_null(pe->corrects);
    assert_null(pe->metrics);
    assert_string_equal(pe->note, "done");
    kcpipe__v1__event__free_unpacked(pe, NULL);
    char text[256];
    so.note = NULL;
    assert_int_equal(kc_encode_check(&so, text, sizeof text), 0); /* kc_event_check agrees */
    so.op = KCI_OP_APPROVE;
    so.month = 13;
    assert_int_equal(kc_encode_check(&so, text, sizeof text), KCPIPE__V1__REASON__REASON_BAD_MONTH);
    free(b.data);
}

static void test_refuses_unencodable(void **state)
{
    (void)state;
    kc_buf_t b = {0};
    kc_event_t ok = full_event();
    kc_event_t ev = ok;
    ev.event_id = "";
    assert_int_equal(kc_encode_event(&ev, "p", 1, &b), KC_EINVAL);
    ev = ok;
    ev.province = NULL;
    assert_int_equal(kc_encode_event(&ev, "p", 1, &b), KC_EINVAL);
    ev = ok;
    ev.activity = NULL;
    assert_int_equal(kc_encode_event(&ev, "p", 1, &b), KC_EINVAL);
    char *big = malloc(KC_ENCODE_MAX + 1);
    memset(big, 'x', KC_ENCODE_MAX);
    big[KC_ENCODE_MAX] = '\0';
    ev = ok;
    ev.note = big;
    assert_int_equal(kc_encode_event(&ev, "p", 1, &b), KC_EINVAL);
    free(big);
    free(b.data);
}

/* A Batch carries the serialized events verbatim. */
static void test_batch_bytes_verbatim(void **state)
{
    (void)state;
    kc_event_t ev = full_event();
    kc_buf_t b1 = {0}, b2 = {0};
    assert_int_equal(kc_encode_event(&ev, "p", 7, &b1), 0);
    ev.event_id = "second";
    assert_int_equal(kc_encode_event(&ev, "p", 8, &b2), 0);
    ProtobufCBinaryData evs[2] = {{b1.len, b1.data}, {b2.len, b2.data}};
    kc_pb_batch_t batch = KCPIPE__V1__BATCH__INIT;
    batch.producer_id = "p";
    batch.n_events = 2;
    batch.events = evs;
    size_t n = kcpipe__v1__batch__get_packed_size(&batch);
    uint8_t *buf = malloc(n);
    kcpipe__v1__batch__pack(&batch, buf);
    kc_pb_batch_t *back = kcpipe__v1__batch__unpack(NULL, n, buf);
    assert_non_null(back);
    assert_int_equal(back->n_events, 2);
    assert_int_equal(back->events[0].len, b1.len);
    assert_memory_equal(back->events[0].data, b1.data, b1.len);
    assert_memory_equal(back->events[1].data, b2.data, b2.len);
    kcpipe__v1__batch__free_unpacked(back, NULL);
    free(buf);
    free(b1.data);
    free(b2.data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_every_field),
        cmocka_unit_test(test_bytes_equal_protobuf_c),
        cmocka_unit_test(test_defaults_and_passthrough),
        cmocka_unit_test(test_corrections_and_retractions),
        cmocka_unit_test(test_refuses_unencodable),
        cmocka_unit_test(test_batch_bytes_verbatim),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
