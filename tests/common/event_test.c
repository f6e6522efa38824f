/* event_test.c - kc_event_check() reason by reason, the content hash, reason names. */
#include "kc_event.h"
#include "kc_ref.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

typedef struct {
    kc_pb_event_t ev;
    Kcpipe__V1__Metrics m;
    char id[128];
    char note[KC_NOTE_MAX + 8];
} s_ev_t;

/* A valid machinery event: province 79 (Ho Chi Minh), March 2021. */
static void s_valid(s_ev_t *e)
{
    memset(e, 0, sizeof *e);
    kcpipe__v1__event__init(&e->ev);
    kcpipe__v1__metrics__init(&e->m);
    strcpy(e->id, "HCM-2021-0001");
    e->ev.event_id = e->id;
    e->ev.province = "79";
    e->ev.has_year = 1;
    e->ev.year = 2021;
    e->ev.has_month = 1;
    e->ev.month = 3;
    e->ev.activity = "KC3b";
    e->ev.metrics = &e->m;
    kc_pb_metric_set(&e->m, KC_M_AMOUNT_VND, 1500000000);
    kc_pb_metric_set(&e->m, KC_M_FACILITIES, 12);
    e->ev.producer_id = "p79";
    e->ev.has_seq = 1;
    e->ev.seq = 7;
}

static int s_check(const s_ev_t *e, char *text, size_t cap)
{
    kc_event_view_t v;
    text[0] = 'x';
    int r = kc_event_check(&e->ev, &v, text, cap);
    assert_true(strlen(text) < cap);
    if (r == KCPIPE__V1__REASON__REASON_OK)
        assert_string_equal(text, "");
    else
        assert_true(strlen(text) > 0);
    return r;
}

static void s_expect(const s_ev_t *e, int reason)
{
    char text[256];
    int r = s_check(e, text, sizeof text);
    if (r != reason)
        fail_msg("expected %s, got %s (%s)", kc_reason_name(reason), kc_reason_name(r), text);
}

static void test_valid_event_view(void **state)
{
    (void)state;
    s_ev_t e;
    s_valid(&e);
    kc_event_view_t v;
    char text[128];
    assert_int_equal(kc_event_check(&e.ev, &v, text, sizeof text), 0);
    assert_string_equal(v.event_id, "HCM-2021-0001");
    assert_int_equal(v.event_id_len, 13);
    assert_int_equal(v.province, 79);
    assert_int_equal(v.year, 2021);
    assert_int_equal(v.month, 3);
    assert_int_equal(v.yyyymm, 202103);
    assert_string_equal(v.activity->code, "KC3b");
    assert_int_equal(v.kind, KCPIPE__V1__KIND__KIND_ACTUAL); /* absent = actual */
    assert_int_equal(v.fund, KCPIPE__V1__FUND__FUND_OTHER);  /* absent = other */
    assert_int_equal(v.present, (1u << KC_M_AMOUNT_VND) | (1u << KC_M_FACILITIES));
    assert_int_equal(v.metrics[KC_M_AMOUNT_VND], 1500000000);
    assert_int_equal(v.metrics[KC_M_FACILITIES], 12);
    assert_int_equal(v.metrics[KC_M_PERSONS], 0);
    assert_int_equal(v.seq, 7);
    assert_string_equal(v.producer_id, "p79");
    /* activity by name is accepted too */
    e.ev.activity = "machinery";
    s_expect(&e, 0);
}

static void test_each_reason(void **state)
{
    (void)state;
    s_ev_t e;

    s_valid(&e);
    e.ev.event_id = NULL;
    s_expect(&e, KCPIPE__V1__REASON__REASON_MISSING_EVENT_ID);
    s_valid(&e);
    e.id[0] = '\0';
    s_expect(&e, KCPIPE__V1__REASON__REASON_MISSING_EVENT_ID);

    s_valid(&e);
    memset(e.id, 'a', 65);
    e.id[65] = '\0';
    s_expect(&e, KCPIPE__V1__REASON__REASON_EVENT_ID_TOO_LONG);
    e.id[64] = '\0'; /* exactly 64 bytes is fine */
    s_expect(&e, 0);

    s_valid(&e);
    e.ev.has_op = 1;
    e.ev.op = KCPIPE__V1__OP__OP_CORRECTION;
    s_expect(&e, KCPIPE__V1__REASON__REASON_MISSING_TARGET); /* no corrects */
    e.ev.corrects = "";
    s_expect(&e, KCPIPE__V1__REASON__REASON_MISSING_TARGET);
    e.ev.corrects = "HCM-2021-0000";
    s_expect(&e, 0);
    e.ev.op = KCPIPE__V1__OP__OP_RETRACTION;
    s_expect(&e, 0);
    e.ev.corrects = NULL;
    s_expect(&e, KCPIPE__V1__REASON__REASON_MISSING_TARGET);
    e.ev.op = (Kcpipe__V1__Op)6; /* not an op of v1 */
    s_expect(&e, KCPIPE__V1__REASON__REASON_UNSUPPORTED_OP);
    e.ev.op = KCPIPE__V1__OP__OP_SIGN_OFF; /* a sign-off carries no figures */
    s_expect(&e, KCPIPE__V1__REASON__REASON_UNSUPPORTED_OP);
    e.ev.op = KCPIPE__V1__OP__OP_RECORD;
    s_expect(&e, 0);
    e.ev.corrects = "HCM-2021-0000"; /* a record cannot name a target */
    s_expect(&e, KCPIPE__V1__REASON__REASON_UNSUPPORTED_OP);
    s_valid(&e);
    e.ev.has_op = 1;
    e.ev.op = KCPIPE__V1__OP__OP_CORRECTION;
    char longid[80];
    memset(longid, 'c', 65);
    longid[65] = '\0';
    e.ev.corrects = longid;
    s_expect(&e, KCPIPE__V1__REASON__REASON_EVENT_ID_TOO_LONG);

    s_valid(&e);
    e.ev.year = 1999;
    s_expect(&e, KCPIPE__V1__REASON__REASON_BAD_YEAR);
    e.ev.year = 2101;
    s_expect(&e, KCPIPE__V1__REASON__REASON_BAD_YEAR);
    e.ev.has_year = 0;
    s_expect(&e, KCPIPE__V1__REASON__REASON_BAD_YEAR);

    s_valid(&e);
    e.ev.month = 0;
    s_expect(&e, KCPIPE__V1__REASON__REASON_BAD_MONTH);
    e.ev.month = 13;
    s_expect(&e, KCPIPE__V1__REASON__REASON_BAD_MONTH);
    e.ev.has_month = 0;
    s_expect(&e, KCPIPE__V1__REASON__REASON_BAD_MONTH);

    s_valid(&e);
    e.ev.province = "99"; /* no such code */
    s_expect(&e, KCPIPE__V1__REASON__REASON_UNKNOWN_PROVINCE);
    e.ev.province = "7"; /* not two digits */
    s_expect(&e, KCPIPE__V1__REASON__REASON_UNKNOWN_PROVINCE);
    e.ev.province = NULL;
    s_expect(&e, KCPIPE__V1__REASON__REASON_UNKNOWN_PROVINCE);
    /* 72 (Tay Ninh) exists under scheme 63 but was retired on 2025-07-01 */
    e.ev.province = "72";
    e.ev.year = 2025;
    e.ev.month = 6;
    s_expect(&e, 0);
    e.ev.month = 7;
    s_expect(&e, KCPIPE__V1__REASON__REASON_UNKNOWN_PROVINCE);

    s_valid(&e);
    e.ev.activity = "KC11";
    s_expect(&e, KCPIPE__V1__REASON__REASON_UNKNOWN_ACTIVITY);
    e.ev.activity = NULL;
    s_expect(&e, KCPIPE__V1__REASON__REASON_UNKNOWN_ACTIVITY);

    s_valid(&e);
    e.ev.has_kind = 1;
    e.ev.kind = KCPIPE__V1__KIND__KIND_UNSPECIFIED;
    s_expect(&e, KCPIPE__V1__REASON__REASON_BAD_KIND);
    e.ev.kind = (Kcpipe__V1__Kind)7;
    s_expect(&e, KCPIPE__V1__REASON__REASON_BAD_KIND);
    e.ev.kind = KCPIPE__V1__KIND__KIND_PLAN;
    s_expect(&e, 0);

    s_valid(&e);
    e.ev.has_fund = 1;
    e.ev.fund = KCPIPE__V1__FUND__FUND_UNSPECIFIED;
    s_expect(&e, KCPIPE__V1__REASON__REASON_BAD_FUND);
    e.ev.fund = (Kcpipe__V1__Fund)4;
    s_expect(&e, KCPIPE__V1__REASON__REASON_BAD_FUND);
    e.ev.fund = KCPIPE__V1__FUND__FUND_KCQG;
    s_expect(&e, 0);

    s_valid(&e);
    memset(e.note, 'n', KC_NOTE_MAX + 1);
    e.note[KC_NOTE_MAX + 1] = '\0';
    e.ev.note = e.note;
    s_expect(&e, KCPIPE__V1__REASON__REASON_NOTE_TOO_LONG);
    e.note[KC_NOTE_MAX] = '\0'; /* exactly 1024 bytes is fine */
    s_expect(&e, 0);

    s_valid(&e);
    kc_pb_metric_set(&e.m, KC_M_PERSONS, 3); /* machinery does not count persons */
    s_expect(&e, KCPIPE__V1__REASON__REASON_METRIC_NOT_ALLOWED);
    s_valid(&e);
    e.ev.activity = "TV"; /* consulting reports no spending */
    s_expect(&e, KCPIPE__V1__REASON__REASON_METRIC_NOT_ALLOWED);

    s_valid(&e);
    kc_pb_metric_set(&e.m, KC_M_FACILITIES, -1);
    s_expect(&e, KCPIPE__V1__REASON__REASON_NEGATIVE_VALUE);
    kc_pb_metric_set(&e.m, KC_M_FACILITIES, 0); /* zero is a value */
    s_expect(&e, 0);

    s_valid(&e);
    e.ev.metrics = NULL;
    s_expect(&e, KCPIPE__V1__REASON__REASON_NO_METRICS);
    Kcpipe__V1__Metrics empty = KCPIPE__V1__METRICS__INIT;
    e.ev.metrics = &empty;
    s_expect(&e, KCPIPE__V1__REASON__REASON_NO_METRICS);

    s_valid(&e);
    e.ev.activity = "KC1";
    e.m = (Kcpipe__V1__Metrics)KCPIPE__V1__METRICS__INIT;
    kc_pb_metric_set(&e.m, KC_M_PERSONS, 30);
    kc_pb_metric_set(&e.m, KC_M_PERSONS_EMPLOYED, 31);
    s_expect(&e, KCPIPE__V1__REASON__REASON_EMPLOYED_EXCEEDS_PERSONS);
    kc_pb_metric_set(&e.m, KC_M_PERSONS_EMPLOYED, 30);
    s_expect(&e, 0);
    e.m = (Kcpipe__V1__Metrics)KCPIPE__V1__METRICS__INIT;
    kc_pb_metric_set(&e.m, KC_M_PERSONS_EMPLOYED, 1); /* employed without persons */
    s_expect(&e, KCPIPE__V1__REASON__REASON_EMPLOYED_EXCEEDS_PERSONS);
}

/* What a correction and a retraction must carry, and what they may leave out. */
static void test_corrections_and_retractions(void **state)
{
    (void)state;
    s_ev_t e;
    kc_event_view_t v;
    char text[256];

    /* a correction is a full event; kind absent = the target's (0 in the view) */
    s_valid(&e);
    e.ev.has_op = 1;
    e.ev.op = KCPIPE__V1__OP__OP_CORRECTION;
    e.ev.corrects = "HCM-2021-0000";
    assert_int_equal(kc_event_check(&e.ev, &v, text, sizeof text), 0);
    assert_int_equal(v.op, KCPIPE__V1__OP__OP_CORRECTION);
    assert_string_equal(v.corrects, "HCM-2021-0000");
    assert_int_equal(v.corrects_len, 13);
    assert_int_equal(v.kind, 0);
    assert_int_equal(v.fund, KCPIPE__V1__FUND__FUND_OTHER);
    assert_int_equal(v.yyyymm, 202103);
    e.ev.has_kind = 1;
    e.ev.kind = KCPIPE__V1__KIND__KIND_PLAN;
    assert_int_equal(kc_event_check(&e.ev, &v, text, sizeof text), 0);
    assert_int_equal(v.kind, KCPIPE__V1__KIND__KIND_PLAN);
    e.ev.kind = (Kcpipe__V1__Kind)7;
    s_expect(&e, KCPIPE__V1__REASON__REASON_BAD_KIND);
    s_valid(&e);
    e.ev.has_op = 1;
    e.ev.op = KCPIPE__V1__OP__OP_CORRECTION;
    e.ev.corrects = "X";
    e.ev.metrics = NULL;
    s_expect(&e, KCPIPE__V1__REASON__REASON_NO_METRICS);
    e.ev.metrics = &e.m;
    e.ev.has_year = 0;
    s_expect(&e, KCPIPE__V1__REASON__REASON_BAD_YEAR);
    e.ev.has_year = 1;
    e.ev.activity = NULL;
    s_expect(&e, KCPIPE__V1__REASON__REASON_UNKNOWN_ACTIVITY);

    /* a retraction needs only event_id, province and corrects */
    s_valid(&e);
    e.ev.has_op = 1;
    e.ev.op = KCPIPE__V1__OP__OP_RETRACTION;
    e.ev.corrects = "HCM-2021-0000";
    e.ev.has_year = e.ev.has_month = 0;
    e.ev.activity = NULL;
    e.ev.metrics = NULL;
    assert_int_equal(kc_event_check(&e.ev, &v, text, sizeof text), 0);
    assert_int_equal(v.op, KCPIPE__V1__OP__OP_RETRACTION);
    assert_int_equal(v.year, 0);
    assert_int_equal(v.month, 0);
    assert_int_equal(v.yyyymm, 0);
    assert_null(v.activity);
    assert_int_equal(v.kind, 0);
    assert_int_equal(v.fund, 0);
    assert_int_equal(v.present, 0);
    assert_int_equal(v.province, 79);
    /* a code of either scheme, when there is no period */
    e.ev.province = "60"; /* Binh Thuan: scheme 63 only */
    s_expect(&e, 0);
    e.ev.province = "99";
    s_expect(&e, KCPIPE__V1__REASON__REASON_UNKNOWN_PROVINCE);
    e.ev.province = "79";
    e.ev.activity = "";
    s_expect(&e, 0); /* empty = absent */
    e.ev.activity = "nonsense";
    s_expect(&e, KCPIPE__V1__REASON__REASON_UNKNOWN_ACTIVITY);
    e.ev.activity = NULL;
    /* year and month together or not at all; given, they are checked */
    e.ev.has_year = 1;
    e.ev.year = 2021;
    s_expect(&e, KCPIPE__V1__REASON__REASON_BAD_MONTH);
    e.ev.has_month = 1;
    e.ev.month = 3;
    assert_int_equal(kc_event_check(&e.ev, &v, text, sizeof text), 0);
    assert_int_equal(v.yyyymm, 202103);
    e.ev.province = "60"; /* scheme 63 code, period 2021: fine */
    s_expect(&e, 0);
    e.ev.year = 2026; /* Binh Thuan is no code of scheme 34 */
    s_expect(&e, KCPIPE__V1__REASON__REASON_UNKNOWN_PROVINCE);
    e.ev.province = "79";
    e.ev.has_year = 0;
    s_expect(&e, KCPIPE__V1__REASON__REASON_BAD_YEAR);
    e.ev.has_month = 0;
    /* metrics are not looked at; bad kind and fund values still are */
    e.ev.metrics = &e.m;
    kc_pb_metric_set(&e.m, KC_M_PERSONS, -5);
    s_expect(&e, 0);
    e.ev.has_fund = 1;
    e.ev.fund = (Kcpipe__V1__Fund)9;
    s_expect(&e, KCPIPE__V1__REASON__REASON_BAD_FUND);
}

static void test_text_is_truncated_safely(void **state)
{
    (void)state;
    s_ev_t e;
    s_valid(&e);
    e.ev.year = 1900;
    char text[8];
    assert_int_equal(s_check(&e, text, sizeof text), KCPIPE__V1__REASON__REASON_BAD_YEAR);
    assert_int_equal(strlen(text), 7);
}

static void test_every_activity_accepts_its_metrics(void **state)
{
    (void)state;
    assert_int_equal(kc_ref_activity_count(), 18);
    for (size_t i = 0; i < kc_ref_activity_count(); i++) {
        const kc_activity_t *a = kc_ref_activity_at(i);
        s_ev_t e;
        s_valid(&e);
        e.ev.activity = (char *)a->code;
        e.m = (Kcpipe__V1__Metrics)KCPIPE__V1__METRICS__INIT;
        for (int m = 0; m < KC_METRIC_COUNT; m++)
            if (a->metric_mask & (1u << m))
                kc_pb_metric_set(&e.m, m, 5);
        kc_event_view_t v;
        char text[256];
        int r = kc_event_check(&e.ev, &v, text, sizeof text);
        if (r != 0)
            fail_msg("activity %s: %s", a->code, text);
        assert_int_equal(v.present, a->metric_mask);
        assert_ptr_equal(v.activity, a);
        /* and each metric it does not allow is refused */
        for (int m = 0; m < KC_METRIC_COUNT; m++) {
            if (a->metric_mask & (1u << m))
                continue;
            Kcpipe__V1__Metrics saved = e.m;
            kc_pb_metric_set(&e.m, m, 1);
            s_expect(&e, KCPIPE__V1__REASON__REASON_METRIC_NOT_ALLOWED);
            e.m = saved;
        }
    }
}

static void s_hash(const s_ev_t *e, uint8_t out[KC_HASH_LEN])
{
    kc_event_view_t v;
    char text[128];
    assert_int_equal(kc_event_check(&e->ev, &v, text, sizeof text), 0);
    kc_event_content_hash(&e->ev, &v, out);
}

static void test_content_hash(void **state)
{
    (void)state;
    s_ev_t a, b;
    uint8_t ha[KC_HASH_LEN], hb[KC_HASH_LEN];
    s_valid(&a);
    s_hash(&a, ha);

    /* absent kind = explicit actual; absent fund = explicit other */
    s_valid(&b);
    b.ev.has_kind = 1;
    b.ev.kind = KCPIPE__V1__KIND__KIND_ACTUAL;
    b.ev.has_fund = 1;
    b.ev.fund = KCPIPE__V1__FUND__FUND_OTHER;
    s_hash(&b, hb);
    assert_memory_equal(ha, hb, KC_HASH_LEN);

    /* explicit op record = absent; activity by name = by code; empty note = none */
    s_valid(&b);
    b.ev.has_op = 1;
    b.ev.op = KCPIPE__V1__OP__OP_RECORD;
    b.ev.activity = "machinery";
    b.ev.note = "";
    s_hash(&b, hb);
    assert_memory_equal(ha, hb, KC_HASH_LEN);

    /* independent of the transport fields */
    s_valid(&b);
    b.ev.producer_id = "another-producer";
    b.ev.seq = 123456;
    s_hash(&b, hb);
    assert_memory_equal(ha, hb, KC_HASH_LEN);
    b.ev.producer_id = NULL;
    b.ev.has_seq = 0;
    s_hash(&b, hb);
    assert_memory_equal(ha, hb, KC_HASH_LEN);

    /* any change of content changes it */
    s_valid(&b);
    kc_pb_metric_set(&b.m, KC_M_FACILITIES, 13);
    s_hash(&b, hb);
    assert_memory_not_equal(ha, hb, KC_HASH_LEN);
    s_valid(&b);
    b.ev.note = "bổ sung";
    s_hash(&b, hb);
    assert_memory_not_equal(ha, hb, KC_HASH_LEN);
    s_valid(&b);
    b.ev.has_kind = 1;
    b.ev.kind = KCPIPE__V1__KIND__KIND_PLAN;
    s_hash(&b, hb);
    assert_memory_not_equal(ha, hb, KC_HASH_LEN);
    s_valid(&b);
    b.ev.month = 4;
    s_hash(&b, hb);
    assert_memory_not_equal(ha, hb, KC_HASH_LEN);
    /* a metric explicitly 0 is reported, unlike an absent one */
    s_valid(&b);
    b.ev.activity = "KC3b";
    b.m = a.m;
    s_hash(&b, hb);
    assert_memory_equal(ha, hb, KC_HASH_LEN);
    s_valid(&b);
    b.m = (Kcpipe__V1__Metrics)KCPIPE__V1__METRICS__INIT;
    kc_pb_metric_set(&b.m, KC_M_AMOUNT_VND, 1500000000);
    s_hash(&b, hb);
    assert_memory_not_equal(ha, hb, KC_HASH_LEN);
}

/* Corrections and retractions: op is part of the content; a retraction's
 * period as resolved by the ledger (set in the view) hashes like an explicit one. */
static void test_content_hash_of_amendments(void **state)
{
    (void)state;
    s_ev_t a, b;
    uint8_t ha[KC_HASH_LEN], hb[KC_HASH_LEN];
    kc_event_view_t v;
    char text[128];
    s_valid(&a);
    a.ev.corrects = "HCM-2021-0000";
    a.ev.has_op = 1;
    a.ev.op = KCPIPE__V1__OP__OP_CORRECTION;
    s_hash(&a, ha);
    s_valid(&b);
    s_hash(&b, hb);
    assert_memory_not_equal(ha, hb, KC_HASH_LEN);
    /* kind resolved from the target (by the ledger) = kind given */
    assert_int_equal(kc_event_check(&a.ev, &v, text, sizeof text), 0);
    v.kind = KCPIPE__V1__KIND__KIND_ACTUAL;
    kc_event_content_hash(&a.ev, &v, ha);
    b = a;
    b.ev.metrics = &b.m;
    b.ev.event_id = b.id;
    b.ev.has_kind = 1;
    b.ev.kind = KCPIPE__V1__KIND__KIND_ACTUAL;
    s_hash(&b, hb);
    assert_memory_equal(ha, hb, KC_HASH_LEN);

    s_valid(&a);
    a.ev.has_op = 1;
    a.ev.op = KCPIPE__V1__OP__OP_RETRACTION;
    a.ev.corrects = "HCM-2021-0000";
    a.ev.metrics = NULL;
    a.ev.activity = NULL;
    b = a;
    b.ev.event_id = b.id;
    a.ev.has_year = a.ev.has_month = 0;
    assert_int_equal(kc_event_check(&a.ev, &v, text, sizeof text), 0);
    v.year = 2021;
    v.month = 3;
    v.yyyymm = 202103;
    kc_event_content_hash(&a.ev, &v, ha);
    s_hash(&b, hb);
    assert_memory_equal(ha, hb, KC_HASH_LEN);
    b.ev.corrects = "HCM-2021-0009";
    s_hash(&b, hb);
    assert_memory_not_equal(ha, hb, KC_HASH_LEN);
}

static void test_reason_names(void **state)
{
    (void)state;
    int named = 0;
    for (int r = 0; r < 64; r++) {
        const char *name = kc_reason_name(r);
        assert_non_null(name);
        if (strcmp(name, "unknown") == 0)
            continue;
        named++;
        assert_int_equal(kc_reason_by_name(name), r);
        /* the name is the proto enum value name, lower case, without the prefix */
        const ProtobufCEnumValue *v =
            protobuf_c_enum_descriptor_get_value(&kcpipe__v1__reason__descriptor, r);
        assert_non_null(v);
        char expect[64];
        size_t i = 0;
        for (const char *p = v->name + strlen("REASON_"); *p && i < sizeof expect - 1; p++)
            expect[i++] = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
        expect[i] = '\0';
        assert_string_equal(name, expect);
    }
    assert_int_equal(named, (int)kcpipe__v1__reason__descriptor.n_values);
    assert_string_equal(kc_reason_name(-1), "unknown");
    assert_string_equal(kc_reason_name(KCPIPE__V1__REASON__REASON_EVENT_ID_CONFLICT),
                        "event_id_conflict");
    assert_int_equal(kc_reason_by_name("no_such_reason"), -1);
    assert_int_equal(kc_reason_by_name(NULL), -1);
    assert_string_equal(kc_reason_name(KCPIPE__V1__REASON__REASON_UNKNOWN_TARGET),
                        "unknown_target");
    assert_string_equal(kc_reason_name(KCPIPE__V1__REASON__REASON_TARGET_OTHER_PROVINCE),
                        "target_other_province");
    assert_string_equal(kc_reason_name(KCPIPE__V1__REASON__REASON_TARGET_SUPERSEDED),
                        "target_superseded");
    assert_string_equal(kc_reason_name(KCPIPE__V1__REASON__REASON_TARGET_RETRACTED),
                        "target_retracted");
    assert_string_equal(kc_reason_name(KCPIPE__V1__REASON__REASON_MISSING_TARGET),
                        "missing_target");
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_event_view),
        cmocka_unit_test(test_each_reason),
        cmocka_unit_test(test_corrections_and_retractions),
        cmocka_unit_test(test_text_is_truncated_safely),
        cmocka_unit_test(test_every_activity_accepts_its_metrics),
        cmocka_unit_test(test_content_hash),
        cmocka_unit_test(test_content_hash_of_amendments),
        cmocka_unit_test(test_reason_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
