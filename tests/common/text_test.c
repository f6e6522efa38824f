/* text_test.c - kc_text (UTF-8 checks, the display and Prometheus escapers) and
 * kc_event_admit (invalid_text, value_too_large): the admission rules of issue 12. */
#include "kc_event.h"
#include "kc_ref.h"
#include "kc_text.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define S(lit) (lit), (sizeof(lit) - 1)

static void test_utf8_valid(void **state)
{
    (void)state;
    assert_true(kc_text_utf8_valid(S("")));
    assert_true(kc_text_utf8_valid(S("Cần Thơ")));
    assert_true(kc_text_utf8_valid(S("TP. Hồ Chí Minh")));
    assert_true(kc_text_utf8_valid(S("\xF0\x9F\x98\x80"))); /* U+1F600 */
    assert_true(kc_text_utf8_valid(S("\xF4\x8F\xBF\xBF"))); /* U+10FFFF */
    assert_true(kc_text_utf8_valid(S("\xEF\xBB\xBF")));     /* BOM: valid text */
    assert_false(kc_text_utf8_valid(S("bad\xff\xfeid")));
    assert_false(kc_text_utf8_valid(S("\xC0\xAF")));         /* overlong '/' */
    assert_false(kc_text_utf8_valid(S("\xE0\x80\xAF")));     /* overlong, 3 bytes */
    assert_false(kc_text_utf8_valid(S("\xED\xA0\x80")));     /* surrogate U+D800 */
    assert_false(kc_text_utf8_valid(S("\xF4\x90\x80\x80"))); /* above U+10FFFF */
    assert_false(kc_text_utf8_valid(S("\xC3")));             /* cut short */
    assert_false(kc_text_utf8_valid(S("\xE1\xBA")));         /* cut short */
    assert_false(kc_text_utf8_valid(S("\x80")));             /* lone continuation */
    assert_int_equal(kc_text_utf8_bad_at(S("EV-\xff\xfe")), 3);
    assert_int_equal(kc_text_utf8_bad_at(S("Thơ\xC3")), 4);
}

static void test_id_and_free_rules(void **state)
{
    (void)state;
    assert_true(kc_text_id_ok(S("HCM-2021-0001")));
    assert_true(kc_text_id_ok(S("Bình Thuận/3")));
    assert_false(kc_text_id_ok(S("a\tb")));
    assert_false(kc_text_id_ok(S("a\nb")));
    assert_false(kc_text_id_ok(S("a\x7f")));
    assert_false(kc_text_id_ok(S("a\xC2\x85"))); /* NEL, a C1 control */
    assert_false(kc_text_id_ok("a\0b", 3));
    assert_true(kc_text_free_ok(S("line 1\r\nline 2\tend")));
    assert_false(kc_text_free_ok(S("bell\a")));
    assert_false(kc_text_free_ok(S("ok \xff")));
}

static void test_show(void **state)
{
    (void)state;
    char out[64];
    /* valid printable text comes out unchanged */
    assert_int_equal(kc_text_show(S("Cần Thơ"), out, sizeof out), strlen("Cần Thơ"));
    assert_string_equal(out, "Cần Thơ");
    /* bad bytes and control characters as \xNN */
    assert_int_equal(kc_text_show(S("EV-\xff\xfe"), out, sizeof out), 11);
    assert_string_equal(out, "EV-\\xFF\\xFE");
    kc_text_show(S("a\tb\x1b[31m\xC2\x85"), out, sizeof out);
    assert_string_equal(out, "a\\x09b\\x1B[31m\\xC2\\x85");
    kc_text_show("x\0y", 3, out, sizeof out);
    assert_string_equal(out, "x\\x00y");
    assert_true(kc_text_utf8_valid(out, strlen(out)));
    kc_text_shows(NULL, out, sizeof out);
    assert_string_equal(out, "");
    /* truncation: whole units only, the would-be length is returned */
    char small[6];
    assert_int_equal(kc_text_show(S("ab\xff\xfe"), small, sizeof small), 10);
    assert_string_equal(small, "ab");
    assert_int_equal(kc_text_show(S("aơb"), small, 3), 4);
    assert_string_equal(small, "a"); /* "ơ" (2 bytes) does not fit beside the NUL */
    char one[1];
    assert_int_equal(kc_text_show(S("abc"), one, 1), 3);
    assert_string_equal(one, "");
}

static void test_prom(void **state)
{
    (void)state;
    char out[64];
    kc_text_prom(S("a\"b\\c\nd"), out, sizeof out);
    assert_string_equal(out, "a\\\"b\\\\c\\\\x0Ad"); /* a line break as in /v1/producers */
    kc_text_prom(S("bad\xff\xfeid"), out, sizeof out);
    assert_string_equal(out, "bad\\\\xFF\\\\xFEid");
    kc_text_prom(S("Đồng Tháp"), out, sizeof out);
    assert_string_equal(out, "Đồng Tháp");
}

/* Every byte string of length <= 3 gives valid UTF-8 through both escapers. */
static void test_escapers_always_valid(void **state)
{
    (void)state;
    char in[3], out[64];
    for (unsigned v = 0; v < (1u << 24); v += 7) {
        in[0] = (char)(v & 0xFF);
        in[1] = (char)((v >> 8) & 0xFF);
        in[2] = (char)(v >> 16);
        size_t n = kc_text_show(in, 3, out, sizeof out);
        assert_true(n < sizeof out);
        assert_true(kc_text_id_ok(out, n)); /* no control character survives */
        assert_true(kc_text_utf8_valid(out, n));
        n = kc_text_prom(in, 3, out, sizeof out);
        assert_true(kc_text_utf8_valid(out, n));
        assert_null(memchr(out, '\n', n));
        /* the input itself is valid and control-free exactly when show leaves it alone */
        bool same = kc_text_show(in, 3, out, sizeof out) == 3 && memcmp(in, out, 3) == 0;
        assert_int_equal(same, kc_text_id_ok(in, 3));
    }
}

typedef struct {
    kc_pb_event_t ev;
    Kcpipe__V1__Metrics m;
} s_ev_t;

static void s_valid(s_ev_t *e)
{
    memset(e, 0, sizeof *e);
    kcpipe__v1__event__init(&e->ev);
    kcpipe__v1__metrics__init(&e->m);
    e->ev.event_id = "HCM-2024-0001";
    e->ev.province = "79";
    e->ev.has_year = e->ev.has_month = 1;
    e->ev.year = 2024;
    e->ev.month = 3;
    e->ev.activity = "KC3b";
    e->ev.note = "máy móc\r\nđợt 2";
    e->ev.metrics = &e->m;
    kc_pb_metric_set(&e->m, KC_M_AMOUNT_VND, 1500000000);
    e->ev.producer_id = "p79";
    e->ev.has_seq = 1;
    e->ev.seq = 1;
}

static void test_admit_text(void **state)
{
    (void)state;
    s_ev_t e;
    char text[256];
    s_valid(&e);
    assert_int_equal(kc_event_admit(&e.ev, NULL, 0, text, sizeof text), 0);
    const struct {
        char **field;
        const char *value;
        const char *name;
    } bad[] = {
        {&e.ev.event_id, "EV-\xff\xfe", "event_id"}, {&e.ev.province, "7\xff", "province"},
        {&e.ev.activity, "KC\xc3", "activity"},      {&e.ev.note, "ghi chú \xfe", "note"},
        {&e.ev.corrects, "X\x1b", "corrects"},       {&e.ev.producer_id, "p\x7f", "producer_id"},
        {&e.ev.event_id, "EV\t1", "event_id"},       {&e.ev.note, "bell\a", "note"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        s_valid(&e);
        *bad[i].field = (char *)bad[i].value;
        assert_int_equal(kc_event_admit(&e.ev, NULL, 0, text, sizeof text),
                         KCPIPE__V1__REASON__REASON_INVALID_TEXT);
        assert_non_null(strstr(text, bad[i].name));
        assert_true(kc_text_utf8_valid(text, strlen(text)));
    }
    /* the serialized bytes are checked over the whole string: a NUL inside */
    s_valid(&e);
    uint8_t raw[512];
    size_t n = kcpipe__v1__event__pack(&e.ev, raw);
    uint8_t *at = memmem(raw, n, "HCM-2024-0001", 13);
    assert_non_null(at);
    at[3] = '\0'; /* "HCM\0 2024-0001" on the wire; C sees "HCM" */
    Kcpipe__V1__Event *dec = kcpipe__v1__event__unpack(NULL, n, raw);
    assert_non_null(dec);
    assert_int_equal(kc_event_admit(dec, NULL, 0, text, sizeof text), 0);
    assert_int_equal(kc_event_admit(dec, raw, n, text, sizeof text),
                     KCPIPE__V1__REASON__REASON_INVALID_TEXT);
    assert_non_null(strstr(text, "event_id holds a control character: 'HCM\\x002024-0001'"));
    kcpipe__v1__event__free_unpacked(dec, NULL);
}

static void test_admit_ceilings(void **state)
{
    (void)state;
    s_ev_t e;
    char text[256];
    for (int i = 0; i < KC_METRIC_COUNT; i++) {
        const kc_metric_info_t *mi = kc_ref_metric(i);
        assert_true(mi->max > 0);
        s_valid(&e);
        kc_pb_metric_set(&e.m, i, mi->max);
        assert_int_equal(kc_event_admit(&e.ev, NULL, 0, text, sizeof text), 0);
        kc_pb_metric_set(&e.m, i, mi->max + 1);
        assert_int_equal(kc_event_admit(&e.ev, NULL, 0, text, sizeof text),
                         KCPIPE__V1__REASON__REASON_VALUE_TOO_LARGE);
        assert_non_null(strstr(text, mi->name));
    }
    /* the overflow pair of issue 12: 2^63-1 is refused */
    s_valid(&e);
    kc_pb_metric_set(&e.m, KC_M_AMOUNT_VND, INT64_MAX);
    assert_int_equal(kc_event_admit(&e.ev, NULL, 0, text, sizeof text),
                     KCPIPE__V1__REASON__REASON_VALUE_TOO_LARGE);
    /* a cell needs more than 9,223 events at the money ceiling to leave int64 */
    assert_true(INT64_MAX / kc_ref_metric(KC_M_AMOUNT_VND)->max >= 9223);
    /* negative values stay kc_event_check's rule */
    kc_pb_metric_set(&e.m, KC_M_AMOUNT_VND, -5);
    assert_int_equal(kc_event_admit(&e.ev, NULL, 0, text, sizeof text), 0);
}

static void test_producer_id(void **state)
{
    (void)state;
    char text[256];
    assert_true(kc_producer_id_ok("p79", NULL, 0, text, sizeof text));
    assert_false(kc_producer_id_ok("", NULL, 0, text, sizeof text));
    assert_false(kc_producer_id_ok(NULL, NULL, 0, text, sizeof text));
    assert_false(kc_producer_id_ok("bad\xff\xfeid", NULL, 0, text, sizeof text));
    assert_non_null(strstr(text, "bad\\xFF\\xFEid"));
    char longid[80];
    memset(longid, 'x', 65);
    longid[65] = '\0';
    assert_false(kc_producer_id_ok(longid, NULL, 0, text, sizeof text));
    /* field 1 of a serialized Batch, checked whole */
    Kcpipe__V1__Batch b = KCPIPE__V1__BATCH__INIT;
    b.producer_id = "p79-x";
    uint8_t raw[64];
    size_t n = kcpipe__v1__batch__pack(&b, raw);
    raw[n - 2] = '\0'; /* "p79\0x" */
    assert_false(kc_producer_id_ok("p79", raw, n, text, sizeof text));
    assert_true(kc_reason_by_name("value_too_large") == 27);
    assert_true(kc_reason_by_name("invalid_text") == 28);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8_valid),
        cmocka_unit_test(test_id_and_free_rules),
        cmocka_unit_test(test_show),
        cmocka_unit_test(test_prom),
        cmocka_unit_test(test_escapers_always_valid),
        cmocka_unit_test(test_admit_text),
        cmocka_unit_test(test_admit_ceilings),
        cmocka_unit_test(test_producer_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
