/* canon_test.c - kc_event_pack_canon() writes exactly the bytes of protobuf-c's
 * kcpipe__v1__event__pack(), and kc_event_content_hash() (which hashes them)
 * gives exactly the hash of the protobuf-c-based implementation it replaced
 * (s_ref_hash below, kept verbatim): every identity hash in existing stores
 * stays valid. Cases: every event of the data/demo CSV files as the aggregator sees it
 * (kc-send's CSV reader and encoder, decoded by protobuf-c, kc_event_check),
 * 200,000 pseudo-random events (fixed seed; extreme values, unknown enum
 * values, empty and long strings, multi-byte UTF-8, random views), and events
 * with unknown fields (the hash falls back to protobuf-c). Under valgrind
 * (scripts/valgrind) the random events are the first 20,000 of the same
 * sequence: the same code paths for the memory checks, a tenth of the time
 * (58 s of the valgrind pass); the sanitizer build runs all 200,000. */
#include "kc_import.h"
#include "kc_encode.h"
#include "kc_event.h"
#include "kc_ref.h"
#include "kc_wire.h"

#include <glob.h>
#include <limits.h>
#include <stdbool.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#else
#define RUNNING_ON_VALGRIND 0
#endif

/* The content hash as it was before the hand-rolled encoder (protobuf-c pack). */
static void s_ref_hash(const kc_pb_event_t *ev, const kc_event_view_t *view,
                       uint8_t out[KC_HASH_LEN])
{
    kc_pb_event_t c = *ev;
    c.producer_id = NULL;
    c.has_seq = 0;
    c.seq = 0;
    c.activity = view->activity ? (char *)view->activity->code : NULL;
    c.has_year = c.has_month = view->year != 0;
    c.year = view->year;
    c.month = view->month;
    c.has_kind = view->kind != 0;
    c.kind = (Kcpipe__V1__Kind)view->kind;
    c.has_fund = view->fund != 0;
    c.fund = (Kcpipe__V1__Fund)view->fund;
    c.has_op = view->op != KCPIPE__V1__OP__OP_RECORD;
    c.op = (Kcpipe__V1__Op)view->op;
    if (c.note && c.note[0] == '\0')
        c.note = NULL;
    size_t n = kcpipe__v1__event__get_packed_size(&c);
    uint8_t *buf = malloc(n ? n : 1);
    assert_non_null(buf);
    assert_int_equal(kcpipe__v1__event__pack(&c, buf), n);
    crypto_generichash(out, KC_HASH_LEN, buf, n, NULL, 0);
    free(buf);
}

static size_t s_packs, s_hashes, s_fallbacks, s_big;

/* kc_event_pack_canon(ev) == kcpipe__v1__event__pack(ev), byte for byte; and
 * the snprintf-like size contract. ev must carry no unknown fields. */
static void s_same_bytes(const kc_pb_event_t *ev)
{
    size_t n = kcpipe__v1__event__get_packed_size(ev);
    uint8_t *want = malloc(n + 1);
    assert_non_null(want);
    assert_int_equal(kcpipe__v1__event__pack(ev, want), n);
    size_t bound = kc_event_pack_canon(ev, NULL, 0);
    assert_true(bound >= n);
    if (n > 0)
        assert_true(bound > 0);
    uint8_t *got = malloc(bound + 1);
    assert_non_null(got);
    if (bound > 0) { /* a capacity one short of the bound: nothing written, the bound again */
        memset(got, 0xA5, bound + 1);
        assert_int_equal(kc_event_pack_canon(ev, got, bound - 1), bound);
        for (size_t i = 0; i <= bound; i++)
            assert_int_equal(got[i], 0xA5);
    }
    size_t m = kc_event_pack_canon(ev, got, bound);
    if (m != n || memcmp(got, want, n) != 0) {
        size_t i = 0;
        while (i < n && i < m && got[i] == want[i])
            i++;
        fail_msg("canon pack differs from protobuf-c: %zu vs %zu bytes, first difference at %zu", m,
                 n, i);
    }
    if (n > KC_EVENT_PACK_FIXED_MAX + 2 * KC_NOTE_MAX)
        s_big++;
    free(got);
    free(want);
    s_packs++;
}

static void s_same_hash(const kc_pb_event_t *ev, const kc_event_view_t *v)
{
    uint8_t a[KC_HASH_LEN], b[KC_HASH_LEN];
    kc_event_content_hash(ev, v, a);
    s_ref_hash(ev, v, b);
    assert_memory_equal(a, b, KC_HASH_LEN);
    s_hashes++;
}

/* ---- 1. the demo data as the aggregator sees it ---- */

typedef struct {
    uint64_t seq;
    size_t rows, checked;
} s_demo_t;

static int s_demo_row(const kc_event_t *e, void *ctx)
{
    s_demo_t *d = ctx;
    kc_buf_t b = {0};
    d->rows++;
    assert_int_equal(kc_encode_event(e, "p79", ++d->seq, &b), 0);
    kc_pb_event_t *ev = kcpipe__v1__event__unpack(NULL, b.len, b.data);
    assert_non_null(ev);
    assert_int_equal(ev->base.n_unknown_fields, 0);
    s_same_bytes(ev);
    /* the aggregator's log holds the producer's bytes: the canon pack of the
     * decoded event gives them back */
    uint8_t *again = malloc(b.len + KC_EVENT_PACK_FIXED_MAX);
    assert_non_null(again);
    assert_int_equal(kc_event_pack_canon(ev, again, b.len + KC_EVENT_PACK_FIXED_MAX), b.len);
    assert_memory_equal(again, b.data, b.len);
    free(again);
    kc_event_view_t v;
    char text[256];
    if (kc_event_check(ev, &v, text, sizeof text) == KCPIPE__V1__REASON__REASON_OK) {
        s_same_hash(ev, &v);
        d->checked++;
    }
    kcpipe__v1__event__free_unpacked(ev, NULL);
    free(b.data);
    return 0;
}

/* Every row of a demo file through the import layer (kc-send's reader). */
static void s_demo_file(const char *path, s_demo_t *d)
{
    kc_import_t *imp;
    char err[512];
    assert_int_equal(kc_import_open(&imp, path, NULL, err, sizeof err), 0);
    kc_import_item_t it;
    int rc;
    while ((rc = kc_import_next(imp, &it, err, sizeof err)) == 1) {
        if (!it.is_event) {
            char msg[1024];
            kc_import_problem_text(&it.problem, msg, sizeof msg);
            fail_msg("%s", msg);
        }
        s_demo_row(&it.event, d);
    }
    assert_int_equal(rc, 0);
    kc_import_close(&imp);
}

static void test_demo_events(void **state)
{
    (void)state;
    const char *src = getenv("KC_SOURCE_DIR");
    char pat[4096];
    snprintf(pat, sizeof pat, "%s/data/demo/*.csv", src ? src : ".");
    glob_t g;
    assert_int_equal(glob(pat, 0, NULL, &g), 0);
    assert_true(g.gl_pathc >= 20);
    s_demo_t d = {0};
    for (size_t i = 0; i < g.gl_pathc; i++)
        s_demo_file(g.gl_pathv[i], &d);
    globfree(&g);
    print_message("demo: %zu rows, %zu valid events hashed\n", d.rows, d.checked);
    assert_true(d.rows >= 400);
    assert_true(d.checked == d.rows); /* the demo data is all valid */
}

/* ---- 2. pseudo-random events ---- */

static uint64_t s_rng = 0x6b63706970652d37ull; /* fixed seed: "kcpipe-7" */

static uint64_t s_next(void) /* splitmix64 */
{
    uint64_t z = (s_rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t s_below(uint64_t n)
{
    return s_next() % n;
}

static int64_t s_i64(void)
{
    static const int64_t edge[] = {0,
                                   1,
                                   -1,
                                   127,
                                   128,
                                   16383,
                                   16384,
                                   INT32_MAX,
                                   (int64_t)INT32_MAX + 1,
                                   INT32_MIN,
                                   UINT32_MAX,
                                   INT64_MAX,
                                   INT64_MIN,
                                   INT64_MIN + 1,
                                   1500000000,
                                   -1500000000};
    switch (s_below(4)) {
    case 0: return edge[s_below(sizeof edge / sizeof edge[0])];
    case 1: return (int64_t)s_below(1000);
    case 2: return (int64_t)(s_next() >> s_below(64)); /* every varint length */
    default: return (int64_t)s_next();
    }
}

static uint32_t s_u32(void)
{
    static const uint32_t edge[] = {0,    1,    12,    127,       128,       2000,
                                    2021, 2100, 16384, INT32_MAX, UINT32_MAX};
    switch (s_below(3)) {
    case 0: return edge[s_below(sizeof edge / sizeof edge[0])];
    case 1: return (uint32_t)s_below(3000);
    default: return (uint32_t)(s_next() >> s_below(64));
    }
}

static int s_enum_value(void)
{
    static const int edge[] = {0, 1, 2, 3, 4, 127, 128, 255, 256, -1, -2, INT32_MIN, INT32_MAX};
    return s_below(2) ? (int)s_below(5) : edge[s_below(sizeof edge / sizeof edge[0])];
}

/* A NUL-free string of about the chosen length: ASCII, 2-, 3- and 4-byte
 * UTF-8, or arbitrary non-zero bytes. */
static char *s_str(char *buf, size_t cap)
{
    static const size_t lens[] = {0, 1, 2, 4, 13, 63, 64, 65, 127, 128, 129, 1023, 1024, 1025};
    size_t len;
    switch (s_below(8)) {
    case 0: len = lens[s_below(sizeof lens / sizeof lens[0])]; break;
    case 1: len = (size_t)s_below(cap); break; /* up to 3 KiB: past the hash's stack buffer */
    default: len = (size_t)s_below(40); break;
    }
    if (len >= cap)
        len = cap - 1;
    static const char *const utf8[] = {"\xc4\x91", "\xe1\xbb\x87", "\xe1\xba\xa3",
                                       "\xf0\x9f\x8f\xad", "\xc3\xa9"};
    int style = (int)s_below(4);
    size_t i = 0;
    while (i < len) {
        if (style == 1 && s_below(2)) {
            const char *u = utf8[s_below(sizeof utf8 / sizeof utf8[0])];
            size_t n = strlen(u);
            if (i + n > len)
                break;
            memcpy(buf + i, u, n);
            i += n;
        } else if (style == 2) {
            buf[i++] = (char)(1 + s_below(255));
        } else {
            buf[i++] = (char)(' ' + s_below(95));
        }
    }
    buf[i] = '\0';
    return buf;
}

typedef struct {
    kc_pb_event_t ev;
    Kcpipe__V1__Metrics m;
    char id[3200], prov[3200], act[3200], note[3200], corr[3200], prod[3200], sub[3200];
} s_rand_t;

/* has_ flags are protobuf_c_boolean (int): any non-zero value means present */
static int s_flag(void)
{
    uint64_t r = s_below(8);
    return r < 4 ? 0 : r < 7 ? 1 : (int)(s_next() | 1);
}

static void s_random_event(s_rand_t *r)
{
    kcpipe__v1__event__init(&r->ev);
    kcpipe__v1__metrics__init(&r->m);
    kc_pb_event_t *e = &r->ev;
    e->event_id = s_below(8) ? s_str(r->id, sizeof r->id) : NULL;
    e->province = s_below(8) ? s_str(r->prov, sizeof r->prov) : NULL;
    if (e->province && s_below(2))
        e->province = s_below(2) ? "79" : "01";
    e->has_year = s_flag();
    e->year = s_u32();
    e->has_month = s_flag();
    e->month = s_u32();
    e->activity = s_below(8) ? s_str(r->act, sizeof r->act) : NULL;
    e->has_kind = s_flag();
    e->kind = (Kcpipe__V1__Kind)s_enum_value();
    e->has_fund = s_flag();
    e->fund = (Kcpipe__V1__Fund)s_enum_value();
    if (s_below(8)) {
        e->metrics = &r->m;
        for (int i = 0; i < KC_METRIC_COUNT; i++)
            if (s_below(3) == 0)
                kc_pb_metric_set(&r->m, i, s_i64());
        if (s_below(8) == 0) { /* absent values, and present flags other than 1 */
            r->m.has_events = s_flag();
            r->m.events = s_i64();
            r->m.has_projects = s_flag();
        }
    }
    e->note = s_below(3) ? s_str(r->note, sizeof r->note) : NULL;
    e->has_op = s_flag();
    e->op = (Kcpipe__V1__Op)s_enum_value();
    e->corrects = s_below(3) ? NULL : s_str(r->corr, sizeof r->corr);
    e->producer_id = s_below(4) ? s_str(r->prod, sizeof r->prod) : NULL;
    e->has_seq = s_flag();
    e->seq = (uint64_t)s_i64();
    e->submitted_by = s_below(3) ? NULL : s_str(r->sub, sizeof r->sub); /* field 16 */
}

/* A view as kc_event_check or the ledger (a correction's kind, a retraction's
 * period resolved from the target) may hand it over, and beyond. */
static void s_random_view(kc_event_view_t *v)
{
    memset(v, 0, sizeof *v);
    static const uint8_t small[] = {0, 1, 2, 3, 4, 255};
    v->op = small[s_below(sizeof small)];
    v->kind = small[s_below(sizeof small)];
    v->fund = small[s_below(sizeof small)];
    if (s_below(4)) {
        v->year = (uint16_t)(s_below(8) ? 2000 + s_below(101) : s_next());
        v->month = (uint8_t)(s_below(8) ? 1 + s_below(12) : s_next());
    }
    v->yyyymm = (int32_t)v->year * 100 + v->month;
    size_t nact = kc_ref_activity_count();
    v->activity = s_below(6) ? kc_ref_activity_at(s_below(nact)) : NULL;
}

static void test_random_events(void **state)
{
    (void)state;
    s_rand_t *r = malloc(sizeof *r);
    assert_non_null(r);
    size_t before = s_packs, big = s_big;
    int n = RUNNING_ON_VALGRIND ? 20000 : 200000;
    for (int i = 0; i < n; i++) {
        s_random_event(r);
        s_same_bytes(&r->ev);
        kc_event_view_t v;
        s_random_view(&v);
        s_same_hash(&r->ev, &v);
        char text[256];
        if (kc_event_check(&r->ev, &v, text, sizeof text) == KCPIPE__V1__REASON__REASON_OK)
            s_same_hash(&r->ev, &v);
    }
    print_message("random: %zu events, %zu larger than the hash's stack buffer\n", s_packs - before,
                  s_big - big);
    assert_true(s_big > big);
    free(r);
}

/* Valid events built field by field: corrections, retractions, every kind,
 * fund and op, checked like the aggregator and then with the ledger's
 * resolution of a correction's kind and a retraction's period. */
static void test_valid_variants(void **state)
{
    (void)state;
    size_t nact = kc_ref_activity_count();
    int n = 0;
    for (size_t a = 0; a < nact; a++)
        for (int op = 0; op <= 2; op++)
            for (int kind = -1; kind <= 2; kind++)
                for (int fund = -1; fund <= 3; fund++) {
                    kc_pb_event_t ev;
                    Kcpipe__V1__Metrics m;
                    kcpipe__v1__event__init(&ev);
                    kcpipe__v1__metrics__init(&m);
                    const kc_activity_t *act = kc_ref_activity_at(a);
                    ev.event_id = "E-2022-000123";
                    ev.province = "92";
                    ev.activity = (char *)(s_below(2) ? act->code : act->name);
                    if (op != 2 || s_below(2)) {
                        ev.has_year = ev.has_month = 1;
                        ev.year = 2022;
                        ev.month = 1 + (unsigned)s_below(12);
                    }
                    if (op == 2 && s_below(2))
                        ev.activity = NULL;
                    ev.has_kind = kind >= 0;
                    ev.kind = (Kcpipe__V1__Kind)(kind < 0 ? 0 : kind);
                    ev.has_fund = fund >= 0;
                    ev.fund = (Kcpipe__V1__Fund)(fund < 0 ? 0 : fund);
                    ev.has_op = op != 0 || s_below(2);
                    ev.op = (Kcpipe__V1__Op)op;
                    if (op)
                        ev.corrects = "E-2022-000100";
                    ev.note = s_below(2) ? "ghi ch\xc3\xba: \xc4\x91\xe1\xbb\x87m" : "";
                    if (op != 2) {
                        ev.metrics = &m;
                        for (int i = 0; i < KC_METRIC_COUNT; i++)
                            if (act->metric_mask & (1u << i))
                                kc_pb_metric_set(&m, i, (int64_t)s_below(1u << 31));
                        if ((act->metric_mask & (1u << KC_M_PERSONS_EMPLOYED)) &&
                            (act->metric_mask & (1u << KC_M_PERSONS)))
                            m.persons_employed = m.persons / 2;
                    }
                    ev.producer_id = "p92";
                    ev.has_seq = 1;
                    ev.seq = (uint64_t)n + 1;
                    ev.submitted_by = n % 3 == 0 ? "office-92/lan" : NULL;
                    s_same_bytes(&ev);
                    kc_event_view_t v;
                    char text[256];
                    if (kc_event_check(&ev, &v, text, sizeof text) != 0)
                        continue;
                    s_same_hash(&ev, &v);
                    if (!v.kind)
                        v.kind = KCPIPE__V1__KIND__KIND_PLAN; /* the target's */
                    if (!v.year) {
                        v.year = 2021;
                        v.month = 12;
                        v.yyyymm = 202112;
                    }
                    s_same_hash(&ev, &v);
                    n++;
                }
    print_message("variants: %d valid events\n", n);
    assert_true(n > 100);
}

/* ---- 2b. submitted_by (field 16): fixed vectors ----
 * PROTOCOL.md's worked example A: its canonical bytes and content hash are
 * the same as before the field existed; with submitted_by "office-79/lan" the
 * canonical bytes are A's followed by 82 01 0d "office-79/lan" (the bytes an
 * older aggregator, to which field 16 was an unknown field, hashed too), and
 * another name gives another hash (event_id_conflict). */
static const char s_canon_a[] = "0a0d48434d2d323032342d303030311202373918e80f20032a044b4333623001"
                                "380242070880a3c34728034a0a6dc3a1792073e1baa579";

static void s_hex(const uint8_t *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
    out[2 * n] = '\0';
}

/* Event A as a producer sends it (seq 42 of office-79), submitted_by `by` (NULL: absent):
 * its content hash (hex) and canonical bytes (hex) as the aggregator computes them. */
static void s_example_a(const char *by, char hash_hex[2 * KC_HASH_LEN + 1], char *canon_hex,
                        size_t canon_cap)
{
    kc_pb_event_t ev;
    Kcpipe__V1__Metrics m;
    kcpipe__v1__event__init(&ev);
    kcpipe__v1__metrics__init(&m);
    ev.event_id = "HCM-2024-0001";
    ev.province = "79";
    ev.has_year = ev.has_month = 1;
    ev.year = 2024;
    ev.month = 3;
    ev.activity = "KC3b";
    ev.has_kind = ev.has_fund = 1;
    ev.kind = KCPIPE__V1__KIND__KIND_ACTUAL;
    ev.fund = KCPIPE__V1__FUND__FUND_KCDP;
    kc_pb_metric_set(&m, KC_M_AMOUNT_VND, 150000000);
    kc_pb_metric_set(&m, KC_M_FACILITIES, 3);
    ev.metrics = &m;
    ev.note = "m\xc3\xa1y s\xe1\xba\xa5y";
    ev.producer_id = "office-79";
    ev.has_seq = 1;
    ev.seq = 42;
    ev.submitted_by = (char *)by;
    uint8_t wire[1024];
    kc_wire_decoder_t *d = NULL;
    assert_int_equal(kc_wire_decoder_new(&d), 0);
    const kc_pb_event_t *back;
    /* without the (non-ASCII) note the bytes are the plain form: the fast walker decodes
     * them, submitted_by's two-byte key included */
    ev.note = NULL;
    size_t wn = kc_event_pack_canon(&ev, wire, sizeof wire);
    assert_true(wn <= sizeof wire);
    assert_int_equal(kc_wire_decode(d, wire, wn, &back), 0);
    uint64_t fast = 0;
    kc_wire_decoder_counts(d, &fast, NULL);
    assert_int_equal(fast, 1);
    if (by)
        assert_string_equal(back->submitted_by, by);
    else
        assert_null(back->submitted_by);
    /* the example itself (its note is UTF-8: decoded by protobuf-c) */
    ev.note = "m\xc3\xa1y s\xe1\xba\xa5y";
    wn = kc_event_pack_canon(&ev, wire, sizeof wire);
    assert_true(wn <= sizeof wire);
    assert_int_equal(kc_wire_decode(d, wire, wn, &back), 0);
    if (by)
        assert_string_equal(back->submitted_by, by);
    else
        assert_null(back->submitted_by);
    kc_event_view_t v;
    char text[256];
    assert_int_equal(kc_event_check(back, &v, text, sizeof text), KCPIPE__V1__REASON__REASON_OK);
    assert_int_equal(kc_event_admit(back, wire, wn, text, sizeof text),
                     KCPIPE__V1__REASON__REASON_OK);
    uint8_t h[KC_HASH_LEN];
    kc_event_content_hash(back, &v, h);
    s_same_hash(back, &v);
    s_hex(h, sizeof h, hash_hex);
    /* the canonical bytes: the event with its transport fields removed */
    kc_pb_event_t c = *back;
    c.producer_id = NULL;
    c.has_seq = 0;
    uint8_t canon[1024];
    size_t cn = kc_event_pack_canon(&c, canon, sizeof canon);
    assert_true(cn <= sizeof canon && 2 * cn < canon_cap);
    s_hex(canon, cn, canon_hex);
    kc_wire_decoder_free(&d);
}

static void test_submitted_by_vectors(void **state)
{
    (void)state;
    char h[2 * KC_HASH_LEN + 1], canon[512], want[512];
    s_example_a(NULL, h, canon, sizeof canon);
    assert_string_equal(canon, s_canon_a); /* unchanged by the new field */
    assert_string_equal(h, "ac6e1b61b052cbee7c374bff2bf603c8");
    s_example_a("office-79/lan", h, canon, sizeof canon);
    snprintf(want, sizeof want, "%s82010d%s", s_canon_a, "6f66666963652d37392f6c616e");
    assert_string_equal(canon, want);
    assert_string_equal(h, "9e7d8b8fc48922c4e7526dcdbcb6e6f7");
    s_example_a("office-79/minh", h, canon, sizeof canon);
    assert_string_equal(h, "afd7880987bf92620f93f8f4d85d4960");
}

/* ---- 3. unknown fields: the hash falls back to protobuf-c ---- */

static void test_unknown_fields(void **state)
{
    (void)state;
    /* Hand-written events: reserved fields 12 (varint) and 13 (bytes), field
     * 20 (fixed32), 21 (fixed64); a Metrics with an unknown field 11. */
    static const uint8_t base[] = {
        0x0a, 0x03, 'E',  '-',  '1',              /* event_id */
        0x12, 0x02, '7',  '9',                    /* province */
        0x18, 0xe5, 0x0f,                         /* year 2021 */
        0x20, 0x03,                               /* month 3 */
        0x2a, 0x04, 'K',  'C',  '3',  'b',        /* activity */
        0x42, 0x04, 0x08, 0x64, 0x28, 0x0c,       /* metrics: amount 100, facilities 12 */
        0x72, 0x03, 'p',  '7',  '9',  0x78, 0x07, /* producer_id, seq */
    };
    static const uint8_t tails[][12] = {
        {0x60, 0x05},                                                       /* 12: varint 5 */
        {0x6a, 0x03, 'a', 'b', 'c'},                                        /* 13: "abc" */
        {0xa5, 0x01, 0x01, 0x02, 0x03, 0x04},                               /* 20: fixed32 */
        {0xa9, 0x01, 1, 2, 3, 4, 5, 6, 7, 8},                               /* 21: fixed64 */
        {0x60, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, /* 12: -1 */
    };
    static const size_t tail_len[] = {2, 5, 6, 10, 11};
    uint8_t buf[128];
    int fallbacks = 0;
    for (size_t t = 0; t <= sizeof tails / sizeof tails[0]; t++) {
        for (int metrics_unknown = 0; metrics_unknown <= 1; metrics_unknown++) {
            size_t n = 0;
            memcpy(buf, base, sizeof base);
            n = sizeof base;
            if (metrics_unknown) { /* metrics: + field 11 varint 7 */
                static const uint8_t mx[] = {0x42, 0x06, 0x08, 0x64, 0x28, 0x0c, 0x58, 0x07};
                memcpy(buf + 20, mx, sizeof mx);
                memcpy(buf + 20 + sizeof mx, base + 26, sizeof base - 26);
                n = sizeof base + 2;
            }
            if (t < sizeof tails / sizeof tails[0]) {
                memcpy(buf + n, tails[t], tail_len[t]);
                n += tail_len[t];
            }
            kc_pb_event_t *ev = kcpipe__v1__event__unpack(NULL, n, buf);
            assert_non_null(ev);
            assert_non_null(ev->metrics);
            assert_int_equal(ev->metrics->amount_vnd, 100);
            assert_int_equal(ev->metrics->facilities, 12);
            bool unknown = ev->base.n_unknown_fields || ev->metrics->base.n_unknown_fields;
            assert_int_equal(unknown, t < sizeof tails / sizeof tails[0] || metrics_unknown);
            /* protobuf-c gives the input back, unknown fields included */
            uint8_t again[128];
            assert_int_equal(kcpipe__v1__event__pack(ev, again), n);
            assert_memory_equal(again, buf, n);
            kc_event_view_t v;
            char text[256];
            assert_int_equal(kc_event_check(ev, &v, text, sizeof text), 0);
            s_same_hash(ev, &v);
            kc_pb_event_t c = *ev;
            c.has_op = 1;
            c.op = KCPIPE__V1__OP__OP_CORRECTION;
            c.corrects = "E-0";
            v.op = KCPIPE__V1__OP__OP_CORRECTION;
            v.kind = 0;
            s_same_hash(&c, &v);
            if (unknown) {
                /* the unknown fields count: the hash is not the known fields' */
                uint8_t h1[KC_HASH_LEN], h2[KC_HASH_LEN];
                kc_event_content_hash(ev, &v, h1);
                kc_pb_event_t k = *ev;
                Kcpipe__V1__Metrics km = *ev->metrics;
                k.base.n_unknown_fields = 0;
                km.base.n_unknown_fields = 0;
                k.metrics = &km;
                kc_event_content_hash(&k, &v, h2);
                assert_memory_not_equal(h1, h2, KC_HASH_LEN);
                fallbacks++;
            } else {
                s_same_bytes(ev);
            }
            kcpipe__v1__event__free_unpacked(ev, NULL);
        }
    }
    s_fallbacks += (size_t)fallbacks;
    assert_int_equal(fallbacks, 11);
}

/* The schema kc_event_pack_canon was written for: a new or changed field must
 * fail here (kc_event_content_hash falls back to protobuf-c when the field
 * counts change, but a changed type would not be noticed there). */
static void test_schema(void **state)
{
    (void)state;
    static const struct {
        unsigned id;
        ProtobufCType type;
    } ev[] = {
        {1, PROTOBUF_C_TYPE_STRING},  {2, PROTOBUF_C_TYPE_STRING},  {3, PROTOBUF_C_TYPE_UINT32},
        {4, PROTOBUF_C_TYPE_UINT32},  {5, PROTOBUF_C_TYPE_STRING},  {6, PROTOBUF_C_TYPE_ENUM},
        {7, PROTOBUF_C_TYPE_ENUM},    {8, PROTOBUF_C_TYPE_MESSAGE}, {9, PROTOBUF_C_TYPE_STRING},
        {10, PROTOBUF_C_TYPE_ENUM},   {11, PROTOBUF_C_TYPE_STRING}, {14, PROTOBUF_C_TYPE_STRING},
        {15, PROTOBUF_C_TYPE_UINT64}, {16, PROTOBUF_C_TYPE_STRING}};
    const ProtobufCMessageDescriptor *d = &kcpipe__v1__event__descriptor;
    assert_int_equal(d->n_fields, sizeof ev / sizeof ev[0]);
    for (unsigned i = 0; i < d->n_fields; i++) {
        assert_int_equal(d->fields[i].id, ev[i].id);
        assert_int_equal(d->fields[i].type, ev[i].type);
        assert_int_equal(d->fields[i].label, PROTOBUF_C_LABEL_OPTIONAL);
        assert_int_equal(d->fields[i].flags, 0);
        assert_null(d->fields[i].default_value);
    }
    d = &kcpipe__v1__metrics__descriptor;
    assert_int_equal(d->n_fields, 10);
    for (unsigned i = 0; i < d->n_fields; i++) {
        assert_int_equal(d->fields[i].id, i + 1);
        assert_int_equal(d->fields[i].type, PROTOBUF_C_TYPE_INT64);
        assert_int_equal(d->fields[i].label, PROTOBUF_C_LABEL_OPTIONAL);
        assert_int_equal(d->fields[i].flags, 0);
        assert_null(d->fields[i].default_value);
    }
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schema),         cmocka_unit_test(test_demo_events),
        cmocka_unit_test(test_valid_variants), cmocka_unit_test(test_unknown_fields),
        cmocka_unit_test(test_random_events),  cmocka_unit_test(test_submitted_by_vectors),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    print_message("canon: %zu packs compared, %zu hashes compared, %zu unknown-field fallbacks\n",
                  s_packs, s_hashes, s_fallbacks);
    return rc;
}
