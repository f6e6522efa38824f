/* admit_test.c - libkcingest refuses, before anything is spooled, what the
 * aggregator's admission rules (kc_event_admit) would reject: text that is not
 * UTF-8 or holds a control character in each string field of kc_event_t
 * (invalid_text), a metric above its ceiling of data/metrics.tsv
 * (value_too_large), and a producer id breaking the id rule (at open). The
 * spool is inspected through its own API (kc_spool_open/count/read). No
 * aggregator: refused events never reach the network. */
#include "ingest_test_util.h"
#include "kc_encode.h"
#include "kc_err.h"
#include "kc_event.h"
#include "kc_ref.h"
#include "kc_spool.h"
#include "kc_text.h"
#include "kcingest.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include <cmocka.h>

static int setup(void **state)
{
    kc_ingest_set_log("admit_test", KCI_LOG_ERROR, NULL, NULL);
    *state = kt_tmpdir("admit");
    return *state ? 0 : -1;
}

static int teardown(void **state)
{
    kt_rmdir(*state);
    return 0;
}

static void spool_path(void **state, const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", (char *)*state, name);
}

static kc_producer_t *open_producer(const char *spool, const char *id)
{
    kc_producer_opts_t o = {.endpoint = "tcp://127.0.0.1:1", .producer_id = id, .spool_dir = spool};
    kc_producer_t *p = NULL;
    assert_int_equal(kc_producer_open(&p, &o), 0);
    return p;
}

/* A correction (so that every string field is carried), all fields good. */
static kc_event_t good_event(void)
{
    kc_event_t ev = {.event_id = "E-1",
                     .province = "79",
                     .year = 2024,
                     .month = 5,
                     .activity = "KC3b",
                     .present = 1u << KCI_AMOUNT_VND,
                     .note = "Hội chợ, đợt 2",
                     .op = KCI_OP_CORRECTION,
                     .corrects = "E-0"};
    ev.metrics[KCI_AMOUNT_VND] = 1000;
    return ev;
}

enum { F_EVENT_ID, F_PROVINCE, F_ACTIVITY, F_CORRECTS, F_NOTE, F_COUNT };
static const char *const field_names[F_COUNT] = {"event_id", "province", "activity", "corrects",
                                                 "note"};

static void set_field(kc_event_t *ev, int f, const char *v)
{
    switch (f) {
    case F_EVENT_ID: ev->event_id = v; break;
    case F_PROVINCE: ev->province = v; break;
    case F_ACTIVITY: ev->activity = v; break;
    case F_CORRECTS: ev->corrects = v; break;
    default: ev->note = v; break;
    }
}

/* Values breaking the rule in every field: not UTF-8, then control characters. */
static const struct {
    const char *v;
    const char *what;
    bool in_note; /* also refused in the note (free text) */
} bad_text[] = {
    {"EV-\xff\xfe", "bytes FF FE", true},
    {"EV-\xc0\xaf", "an overlong '/'", true},
    {"EV-\xed\xa0\x80", "a surrogate", true},
    {"EV-\xf4\x90\x80\x80", "above U+10FFFF", true},
    {"Qu\xe1\xba", "a cut sequence", true},
    {"EV-\x01", "U+0001", true},
    {"EV-\x1b[31m", "ESC", true},
    {"EV-\x7f", "DEL", true},
    {"EV-\xc2\x85", "C1 NEL", true},
    {"EV\t1", "a tab", false},
    {"EV\n1", "a line feed", false},
    {"EV\r1", "a carriage return", false},
};

/* Refused with invalid_text naming the field; the explanation is valid UTF-8. */
static void expect_refused_text(kc_producer_t *p, const kc_event_t *ev, const char *field,
                                const char *what)
{
    uint64_t seq = 777, pending = kc_producer_pending(p);
    int rc = kc_producer_add(p, ev, "t.csv:9", &seq);
    if (rc != KCI_EREFUSED)
        fail_msg("%s with %s: kc_producer_add returned %d, not KCI_EREFUSED", field, what, rc);
    assert_int_equal(seq, 777); /* no sequence number given out */
    const char *name, *text;
    assert_int_equal(kc_producer_refusal(p, &name, &text), KCI_INVALID_TEXT);
    assert_string_equal(name, "invalid_text");
    if (strncmp(text, field, strlen(field)) != 0)
        fail_msg("%s with %s: the explanation '%s' does not name the field", field, what, text);
    assert_true(kc_text_utf8_valid(text, strlen(text)));
    assert_true(kc_text_id_ok(text, strlen(text)));
    assert_int_equal(kc_producer_pending(p), pending); /* nothing staged */
}

static void test_text_refused_never_spooled(void **state)
{
    char spool[4200];
    spool_path(state, "spool", spool, sizeof spool);
    kc_producer_t *p = open_producer(spool, "văn-phòng-79"); /* UTF-8 ids are fine */
    size_t refused = 0;
    for (int f = 0; f < F_COUNT; f++)
        for (size_t i = 0; i < sizeof bad_text / sizeof bad_text[0]; i++) {
            if (f == F_NOTE && !bad_text[i].in_note)
                continue;
            kc_event_t ev = good_event();
            set_field(&ev, f, bad_text[i].v);
            expect_refused_text(p, &ev, field_names[f], bad_text[i].what);
            refused++;
        }
    assert_int_equal(refused, F_COUNT * 12 - 3);
    assert_int_equal(kc_producer_sync(p), 0);
    kc_producer_close(&p);

    /* the spool holds nothing and gave out no sequence number */
    kc_spool_t *sp;
    assert_int_equal(kc_spool_open(&sp, spool, "văn-phòng-79"), 0);
    assert_int_equal(kc_spool_count(sp), 0);
    assert_int_equal(kc_spool_staged(sp), 0);
    assert_int_equal(kc_spool_next_seq(sp), 1);
    kc_spool_close(&sp);
}

typedef struct {
    char ids[16][80];
    size_t n;
} spooled_t;

static int on_spooled(uint64_t seq, const void *ev, size_t len, void *ctx)
{
    spooled_t *s = ctx;
    kc_pb_event_t *pe = kcpipe__v1__event__unpack(NULL, len, ev);
    assert_non_null(pe);
    assert_int_equal(pe->seq, seq);
    /* what was spooled passes the aggregator's admission rules on its bytes */
    char text[512];
    assert_int_equal(kc_event_admit(pe, ev, len, text, sizeof text), 0);
    assert_true(s->n < 16);
    snprintf(s->ids[s->n++], sizeof s->ids[0], "%s", pe->event_id);
    kcpipe__v1__event__free_unpacked(pe, NULL);
    return 0;
}

/* Tab, LF and CR are allowed in the note only; good events after refused ones
 * get consecutive sequence numbers from 1. */
static void test_note_controls_and_good_after_bad(void **state)
{
    char spool[4200];
    spool_path(state, "spool", spool, sizeof spool);
    kc_producer_t *p = open_producer(spool, "p-79");
    kc_event_t bad = good_event();
    bad.event_id = "E\t1";
    expect_refused_text(p, &bad, "event_id", "a tab");
    kc_event_t ev = good_event();
    ev.note = "dòng 1\r\ndòng 2\tcột 2";
    uint64_t seq = 0;
    assert_int_equal(kc_producer_add(p, &ev, "t.csv:2", &seq), 0);
    assert_int_equal(seq, 1);
    assert_int_equal(kc_producer_refusal(p, NULL, NULL), 0);
    const char *name = "x", *text = "x";
    assert_int_equal(kc_producer_refusal(p, &name, &text), 0);
    assert_string_equal(name, "");
    assert_string_equal(text, "");
    bad.event_id = "E-2";
    bad.note = "a\x0b"; /* vertical tab: not allowed even in a note */
    expect_refused_text(p, &bad, "note", "VT");
    kc_event_t ev2 = good_event();
    ev2.event_id = "E-3";
    ev2.op = KCI_OP_RECORD;
    ev2.corrects = NULL;
    assert_int_equal(kc_producer_add(p, &ev2, "t.csv:4", &seq), 0);
    assert_int_equal(seq, 2);
    kc_producer_close(&p);

    kc_spool_t *sp;
    assert_int_equal(kc_spool_open(&sp, spool, "p-79"), 0);
    assert_int_equal(kc_spool_count(sp), 2);
    spooled_t s = {0};
    assert_int_equal(kc_spool_read(sp, 1, 100, 1 << 20, on_spooled, &s), 2);
    assert_string_equal(s.ids[0], "E-1");
    assert_string_equal(s.ids[1], "E-3");
    kc_spool_close(&sp);
}

/* kc_producer_set_submitted_by (Event.submitted_by): a name breaking the
 * aggregator's rule is refused (KCI_EINVAL) and the current one stays; the
 * name set is written into every event added after it, "" / NULL names no one
 * again; the spooled bytes pass kc_event_admit and carry it as field 16. */
typedef struct {
    char by[4][80];
    size_t n;
} s_by_t;

static int on_spooled_by(uint64_t seq, const void *ev, size_t len, void *ctx)
{
    (void)seq;
    s_by_t *s = ctx;
    kc_pb_event_t *pe = kcpipe__v1__event__unpack(NULL, len, ev);
    assert_non_null(pe);
    char text[512];
    assert_int_equal(kc_event_admit(pe, ev, len, text, sizeof text), 0);
    assert_true(s->n < 4);
    snprintf(s->by[s->n++], sizeof s->by[0], "%s", pe->submitted_by ? pe->submitted_by : "-");
    kcpipe__v1__event__free_unpacked(pe, NULL);
    return 0;
}

static void test_submitted_by(void **state)
{
    char spool[4200];
    spool_path(state, "spool", spool, sizeof spool);
    kc_producer_t *p = open_producer(spool, "p-79");
    char longname[66];
    memset(longname, 'x', 65);
    longname[65] = '\0';
    assert_int_equal(kc_producer_set_submitted_by(p, "office-79/lan"), 0);
    for (size_t i = 0; i < sizeof bad_text / sizeof bad_text[0]; i++)
        assert_int_equal(kc_producer_set_submitted_by(p, bad_text[i].v), KCI_EINVAL);
    assert_int_equal(kc_producer_set_submitted_by(p, longname), KCI_EINVAL);
    assert_int_equal(kc_producer_set_submitted_by(NULL, "x"), KCI_EINVAL);
    longname[64] = '\0'; /* 64 bytes: the largest */
    kc_event_t ev = good_event();
    ev.op = KCI_OP_RECORD;
    ev.corrects = NULL;
    uint64_t seq = 0;
    assert_int_equal(kc_producer_add(p, &ev, "t.csv:2", &seq), 0); /* office-79/lan */
    assert_int_equal(kc_producer_set_submitted_by(p, "văn phòng 79/Lan"), 0);
    ev.event_id = "E-2";
    assert_int_equal(kc_producer_add(p, &ev, "t.csv:3", &seq), 0);
    assert_int_equal(kc_producer_set_submitted_by(p, longname), 0);
    ev.event_id = "E-3";
    assert_int_equal(kc_producer_add(p, &ev, "t.csv:4", &seq), 0);
    assert_int_equal(kc_producer_set_submitted_by(p, ""), 0);
    ev.event_id = "E-4";
    assert_int_equal(kc_producer_add(p, &ev, "t.csv:5", &seq), 0);
    assert_int_equal(seq, 4);
    kc_producer_close(&p);
    kc_spool_t *sp;
    assert_int_equal(kc_spool_open(&sp, spool, "p-79"), 0);
    s_by_t s = {0};
    assert_int_equal(kc_spool_read(sp, 1, 100, 1 << 20, on_spooled_by, &s), 4);
    assert_string_equal(s.by[0], "office-79/lan");
    assert_string_equal(s.by[1], "văn phòng 79/Lan");
    assert_string_equal(s.by[2], longname);
    assert_string_equal(s.by[3], "-");
    kc_spool_close(&sp);
}

/* Every metric: its ceiling (data/metrics.tsv `max`) passes, one more is
 * refused value_too_large naming the metric, and so is INT64_MAX. */
static void test_ceilings(void **state)
{
    char spool[4200];
    spool_path(state, "spool", spool, sizeof spool);
    kc_producer_t *p = open_producer(spool, "p-79");
    uint64_t next = 1;
    for (int i = 0; i < KCI_METRIC_COUNT; i++) {
        const kc_metric_info_t *mi = kc_ref_metric(i);
        assert_true(mi->max > 0);
        char id[32];
        snprintf(id, sizeof id, "M-%d", i);
        kc_event_t ev = good_event();
        ev.event_id = id;
        ev.op = KCI_OP_RECORD;
        ev.corrects = NULL;
        ev.present = 1u << i;
        ev.metrics[KCI_AMOUNT_VND] = 0;
        ev.metrics[i] = mi->max;
        uint64_t seq = 0;
        assert_int_equal(kc_producer_add(p, &ev, "t.csv:2", &seq), 0);
        assert_int_equal(seq, next++);
        const int64_t over[] = {mi->max + 1, INT64_MAX};
        for (size_t k = 0; k < 2; k++) {
            ev.metrics[i] = over[k];
            assert_int_equal(kc_producer_add(p, &ev, "t.csv:3", &seq), KCI_EREFUSED);
            const char *name, *text;
            assert_int_equal(kc_producer_refusal(p, &name, &text), KCI_VALUE_TOO_LARGE);
            assert_string_equal(name, "value_too_large");
            char want[128];
            snprintf(want, sizeof want, "%s %lld is above", mi->name, (long long)over[k]);
            if (strncmp(text, want, strlen(want)) != 0)
                fail_msg("metric %s: explanation '%s' lacks '%s'", mi->name, text, want);
            snprintf(want, sizeof want, "(%lld)", (long long)mi->max);
            assert_non_null(strstr(text, want));
        }
    }
    assert_int_equal(kc_producer_pending(p), KCI_METRIC_COUNT);
    kc_producer_close(&p);
    kc_spool_t *sp;
    assert_int_equal(kc_spool_open(&sp, spool, "p-79"), 0);
    assert_int_equal(kc_spool_count(sp), KCI_METRIC_COUNT);
    assert_int_equal(kc_spool_next_seq(sp), KCI_METRIC_COUNT + 1);
    kc_spool_close(&sp);
}

/* The encoder's verdict is the aggregator's on the same bytes: decode what
 * kc_encode_event wrote and run kc_event_admit on it as the aggregator does. */
static void test_same_verdict_as_aggregator(void **state)
{
    (void)state;
    kc_buf_t b = {0}, b2 = {0};
    for (int f = 0; f < F_COUNT; f++)
        for (size_t i = 0; i < sizeof bad_text / sizeof bad_text[0] + 1; i++) {
            kc_event_t ev = good_event();
            if (i < sizeof bad_text / sizeof bad_text[0])
                set_field(&ev, f, bad_text[i].v);
            int reason;
            char text[512], agg_text[512];
            int rc = kc_encode_admit(&ev, "p-79", 5, &b, &reason, text, sizeof text);
            assert_int_equal(kc_encode_event(&ev, "p-79", 5, &b2), 0);
            assert_int_equal(b.len, b2.len);
            assert_memory_equal(b.data, b2.data, b.len);
            kc_pb_event_t *pe = kcpipe__v1__event__unpack(NULL, b2.len, b2.data);
            assert_non_null(pe);
            int agg = kc_event_admit(pe, b2.data, b2.len, agg_text, sizeof agg_text);
            kcpipe__v1__event__free_unpacked(pe, NULL);
            assert_int_equal(rc, agg ? KCI_EREFUSED : 0);
            assert_int_equal(reason, agg);
            assert_string_equal(text, agg_text);
        }
    free(b.data);
    free(b2.data);
}

static char s_log[8][512];
static int s_n_log;

static void on_log(int level, const char *line, void *ctx)
{
    (void)level;
    (void)ctx;
    if (s_n_log < 8)
        snprintf(s_log[s_n_log++], sizeof s_log[0], "%s", line);
}

/* A producer id breaking the id rule is refused at open, before the spool
 * directory is created, with the reason logged. */
static void test_producer_id_refused_at_open(void **state)
{
    const char *bad_ids[] = {"bad\xff\xfeid", "p\x01", "p-\xc2\x85", "p\n79", "p\xe1\xba"};
    for (size_t i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; i++) {
        char spool[4200];
        snprintf(spool, sizeof spool, "%s/spool-%zu", (char *)*state, i);
        s_n_log = 0;
        kc_ingest_set_log("admit_test", KCI_LOG_ERROR, on_log, NULL);
        kc_producer_opts_t o = {
            .endpoint = "tcp://127.0.0.1:1", .producer_id = bad_ids[i], .spool_dir = spool};
        kc_producer_t *p = (kc_producer_t *)&o;
        assert_int_equal(kc_producer_open(&p, &o), KCI_EINVAL);
        kc_ingest_set_log("admit_test", KCI_LOG_ERROR, NULL, NULL);
        assert_null(p);
        struct stat sb;
        assert_int_equal(stat(spool, &sb), -1); /* the spool was not touched */
        assert_int_equal(s_n_log, 1);
        assert_non_null(strstr(s_log[0], "invalid_text: producer_id "));
        assert_true(kc_text_utf8_valid(s_log[0], strlen(s_log[0])));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_text_refused_never_spooled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_note_controls_and_good_after_bad, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ceilings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_submitted_by, setup, teardown),
        cmocka_unit_test(test_same_verdict_as_aggregator),
        cmocka_unit_test_setup_teardown(test_producer_id_refused_at_open, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
