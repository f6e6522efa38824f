/* wire_test.c - kc_wire.h: varints at their boundaries (both readers), keys,
 * skipping a field's value, the transport tail against what protobuf-c packs
 * for an Event with producer_id and seq set, the named constants against
 * protobuf-c's descriptors, and the decoding section (the event_id peek and
 * the fast decoder) against protobuf-c on valid and mutated Events. */
#include "kc_wire.h"

#include "kc_event.h"
#include "wire_check.h"
#include "kcpipe/v1/kcpipe.pb-c.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static const struct {
    uint64_t v;
    size_t len;
    uint8_t bytes[KC_WIRE_VARINT_MAX];
} s_varints[] = {
    {0, 1, {0x00}},
    {1, 1, {0x01}},
    {127, 1, {0x7f}},
    {128, 2, {0x80, 0x01}},
    {300, 2, {0xac, 0x02}},
    {16383, 2, {0xff, 0x7f}},
    {16384, 3, {0x80, 0x80, 0x01}},
    {UINT32_MAX, 5, {0xff, 0xff, 0xff, 0xff, 0x0f}},
    {(uint64_t)1 << 63, 10, {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}},
    {INT64_MAX, 9, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}},
    {UINT64_MAX, 10, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
};

/* put, len, get and get_strict agree with the known bytes; a read cut short
 * by one byte fails. */
static void test_varint_round_trip(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof s_varints / sizeof s_varints[0]; i++) {
        uint8_t b[KC_WIRE_VARINT_MAX + 1];
        memset(b, 0xee, sizeof b);
        uint64_t v = s_varints[i].v, got = 0;
        size_t n = s_varints[i].len;
        assert_int_equal(kc_wire_varint_len(v), n);
        assert_int_equal(kc_wire_varint_put(b, v), n);
        assert_memory_equal(b, s_varints[i].bytes, n);
        assert_int_equal(b[n], 0xee); /* nothing past the varint */
        assert_int_equal(kc_wire_varint_get(b, b + n, &got), n);
        assert_true(got == v);
        got = 0;
        assert_int_equal(kc_wire_varint_get_strict(b, b + n, &got), n);
        assert_true(got == v);
        /* trailing bytes are not read */
        assert_int_equal(kc_wire_varint_get(b, b + sizeof b, &got), n);
        /* cut short: malformed, *v unchanged */
        got = 42;
        assert_int_equal(kc_wire_varint_get(b, b + n - 1, &got), 0);
        assert_int_equal(kc_wire_varint_get_strict(b, b + n - 1, &got), 0);
        assert_true(got == 42);
    }
}

/* Past 10 bytes: both refuse. A 10th byte above 1: protobuf-c's reading drops
 * the bits past 64, the strict one refuses. */
static void test_varint_overlong(void **state)
{
    (void)state;
    uint8_t b[11];
    uint64_t v = 7;
    memset(b, 0x80, sizeof b);
    b[10] = 0x01;
    assert_int_equal(kc_wire_varint_get(b, b + sizeof b, &v), 0);
    assert_int_equal(kc_wire_varint_get_strict(b, b + sizeof b, &v), 0);
    assert_true(v == 7);
    memset(b, 0xff, sizeof b);
    b[9] = 0x7f; /* 70 bits of ones */
    assert_int_equal(kc_wire_varint_get(b, b + 10, &v), 10);
    assert_true(v == UINT64_MAX);
    v = 7;
    assert_int_equal(kc_wire_varint_get_strict(b, b + 10, &v), 0);
    assert_true(v == 7);
    /* redundant zero groups are read (protobuf-c reads them too) */
    const uint8_t z[] = {0x81, 0x80, 0x00};
    assert_int_equal(kc_wire_varint_get(z, z + sizeof z, &v), 3);
    assert_true(v == 1);
    assert_int_equal(kc_wire_varint_get(z, z, &v), 0); /* empty */
}

static void test_tags(void **state)
{
    (void)state;
    uint8_t b[8];
    uint64_t num = 0;
    unsigned wt = 9;
    assert_int_equal(KC_WIRE_TAG(1, KC_WIRE_LEN), 0x0a);
    assert_int_equal(KC_WIRE_T_PRODUCER_ID, 0x72);
    assert_int_equal(KC_WIRE_T_SEQ, 0x78);
    assert_int_equal(kc_wire_tag_put(b, KC_WIRE_EV_SEQ, KC_WIRE_VARINT), 1);
    assert_int_equal(b[0], KC_WIRE_T_SEQ);
    assert_int_equal(kc_wire_tag_get(b, b + 1, &num, &wt), 1);
    assert_int_equal(num, KC_WIRE_EV_SEQ);
    assert_int_equal(wt, KC_WIRE_VARINT);
    /* field 16 is the first with a two-byte key; 2^29 - 1 the largest number */
    assert_int_equal(kc_wire_tag_put(b, 16, KC_WIRE_LEN), 2);
    assert_int_equal(b[0], 0x82);
    assert_int_equal(b[1], 0x01);
    assert_int_equal(kc_wire_tag_get(b, b + 2, &num, &wt), 2);
    assert_int_equal(num, 16);
    assert_int_equal(wt, KC_WIRE_LEN);
    assert_int_equal(kc_wire_tag_put(b, (1u << 29) - 1, KC_WIRE_I32), 5);
    assert_int_equal(kc_wire_tag_get(b, b + 5, &num, &wt), 5);
    assert_int_equal(num, (1u << 29) - 1);
    assert_int_equal(wt, KC_WIRE_I32);
    assert_int_equal(kc_wire_tag_get(b, b + 4, &num, &wt), 0);
}

/* The tail of (producer, seq) == the last bytes protobuf-c packs for an Event
 * that carries them (with content fields before them, and alone), and
 * kc_wire_tail_at finds exactly that tail. */
static void s_check_tail(const char *producer, uint64_t seq, bool content)
{
    Kcpipe__V1__Event ev = KCPIPE__V1__EVENT__INIT;
    Kcpipe__V1__Metrics m = KCPIPE__V1__METRICS__INIT;
    if (content) {
        ev.event_id = "EV-1";
        ev.province = "79";
        ev.has_year = ev.has_month = 1;
        ev.year = 2022;
        ev.month = 9;
        ev.activity = "KC3b";
        m.has_amount_vnd = 1;
        m.amount_vnd = 1500000000;
        ev.metrics = &m;
        ev.note = "ghi chú";
    }
    ev.producer_id = (char *)producer;
    ev.has_seq = 1;
    ev.seq = seq;
    size_t plen = strlen(producer);
    size_t n = kcpipe__v1__event__get_packed_size(&ev);
    uint8_t *pb = malloc(n);
    uint8_t *tail = malloc(KC_WIRE_TAIL_MAX(plen));
    assert_non_null(pb);
    assert_non_null(tail);
    assert_int_equal(kcpipe__v1__event__pack(&ev, pb), n);
    size_t tn = kc_wire_tail_put(tail, producer, plen, seq);
    assert_int_equal(tn, kc_wire_tail_len(plen, seq));
    assert_true(tn <= KC_WIRE_TAIL_MAX(plen));
    assert_true(tn <= n);
    assert_memory_equal(pb + n - tn, tail, tn);
    assert_int_equal(kc_wire_tail_at(pb, n, producer, plen, seq), tn);
    if (!content)
        assert_int_equal(tn, n);
    /* the Event without its tail is the Event without its transport fields */
    ev.producer_id = NULL;
    ev.has_seq = 0;
    assert_int_equal(kcpipe__v1__event__get_packed_size(&ev), n - tn);
    /* another seq, another producer, a shorter buffer, a changed byte: no tail */
    assert_int_equal(kc_wire_tail_at(pb, n, producer, plen, seq + 1), 0);
    assert_int_equal(kc_wire_tail_at(pb, n, producer, plen - 1, seq), 0);
    assert_int_equal(kc_wire_tail_at(pb, tn - 1, producer, plen, seq), 0);
    for (size_t i = 0; i < tn; i++) {
        pb[n - tn + i] ^= 0x01;
        assert_int_equal(kc_wire_tail_at(pb, n, producer, plen, seq), 0);
        pb[n - tn + i] ^= 0x01;
    }
    free(tail);
    free(pb);
}

static void test_tail(void **state)
{
    (void)state;
    static char p127[128], p128[129], p255[256], p300[301];
    memset(p127, 'a', 127);
    memset(p128, 'b', 128);
    memset(p255, 'c', 255);
    memset(p300, 'd', 300);
    const char *producers[] = {"p", "hcm-79", p127, p128, p255, p300};
    const uint64_t seqs[] = {0, 1, 127, 128, (uint64_t)1 << 63, UINT64_MAX};
    for (size_t i = 0; i < sizeof producers / sizeof producers[0]; i++)
        for (size_t j = 0; j < sizeof seqs / sizeof seqs[0]; j++) {
            s_check_tail(producers[i], seqs[j], true);
            s_check_tail(producers[i], seqs[j], false);
        }
}

/* The named constants == protobuf-c's descriptors: through
 * kc_wire_schema_check, and directly for the transport fields the log's
 * stored records depend on. */
static void test_schema(void **state)
{
    (void)state;
    const char *bad = kc_wire_schema_check();
    if (bad)
        fail_msg("kc_wire.h disagrees with kcpipe.proto on %s", bad);
    const ProtobufCMessageDescriptor *d = &kcpipe__v1__event__descriptor;
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(d, "producer_id");
    assert_non_null(f);
    assert_int_equal(f->id, KC_WIRE_EV_PRODUCER_ID);
    assert_int_equal(f->type, PROTOBUF_C_TYPE_STRING);
    f = protobuf_c_message_descriptor_get_field_by_name(d, "seq");
    assert_non_null(f);
    assert_int_equal(f->id, KC_WIRE_EV_SEQ);
    assert_int_equal(f->type, PROTOBUF_C_TYPE_UINT64);
    assert_int_equal(d->n_fields, KC_WIRE_EV_FIELDS);
    assert_int_equal(kcpipe__v1__metrics__descriptor.n_fields, KC_WIRE_M_FIELDS);
    /* every Event field's number is one of the named ones, each named once */
    unsigned seen = 0;
    for (unsigned i = 0; i < d->n_fields; i++) {
        unsigned id = d->fields[i].id;
        assert_true(id >= 1 && id < 32 && !(seen & (1u << id)));
        seen |= 1u << id;
    }
    assert_int_equal(
        seen, 1u << KC_WIRE_EV_EVENT_ID | 1u << KC_WIRE_EV_PROVINCE | 1u << KC_WIRE_EV_YEAR |
                  1u << KC_WIRE_EV_MONTH | 1u << KC_WIRE_EV_ACTIVITY | 1u << KC_WIRE_EV_KIND |
                  1u << KC_WIRE_EV_FUND | 1u << KC_WIRE_EV_METRICS | 1u << KC_WIRE_EV_NOTE |
                  1u << KC_WIRE_EV_OP | 1u << KC_WIRE_EV_CORRECTS | 1u << KC_WIRE_EV_PRODUCER_ID |
                  1u << KC_WIRE_EV_SEQ | 1u << KC_WIRE_EV_SUBMITTED_BY);
}

/* kc_wire_skip: each wire type's value, exactly its bytes; truncated or a
 * wire type kcpipe never skips (groups, 6, 7): 0. */
static void test_skip(void **state)
{
    (void)state;
    static const struct {
        unsigned wt;
        size_t len;
        uint8_t bytes[16];
        size_t want; /* 0: refused */
    } c[] = {
        {KC_WIRE_VARINT, 1, {0x05}, 1},
        {KC_WIRE_VARINT, 3, {0x80, 0x80, 0x01}, 3},
        {KC_WIRE_VARINT, 2, {0x80, 0x80}, 0},
        {KC_WIRE_VARINT, 0, {0}, 0},
        {KC_WIRE_I64, 8, {1, 2, 3, 4, 5, 6, 7, 8}, 8},
        {KC_WIRE_I64, 7, {1, 2, 3, 4, 5, 6, 7}, 0},
        {KC_WIRE_I32, 4, {1, 2, 3, 4}, 4},
        {KC_WIRE_I32, 3, {1, 2, 3}, 0},
        {KC_WIRE_LEN, 1, {0x00}, 1},
        {KC_WIRE_LEN, 4, {0x03, 'a', 'b', 'c'}, 4},
        {KC_WIRE_LEN, 3, {0x03, 'a', 'b'}, 0},
        {KC_WIRE_LEN, 5, {0x83, 0x00, 'a', 'b', 'c'}, 5}, /* a long length: 3 */
        {KC_WIRE_LEN, 1, {0x80}, 0},
        {3, 4, {1, 2, 3, 4}, 0},
        {4, 4, {1, 2, 3, 4}, 0},
        {6, 4, {1, 2, 3, 4}, 0},
        {7, 4, {1, 2, 3, 4}, 0},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        /* with bytes after the value, too: it never takes more than its own */
        uint8_t buf[32];
        memcpy(buf, c[i].bytes, c[i].len);
        memset(buf + c[i].len, 0x7f, sizeof buf - c[i].len);
        assert_int_equal(kc_wire_skip(c[i].bytes, c[i].bytes + c[i].len, c[i].wt), c[i].want);
        if (c[i].want)
            assert_int_equal(kc_wire_skip(buf, buf + sizeof buf, c[i].wt), c[i].want);
    }
}

/* A plain Event (the form producers write) of shape k into out; its length. */
static size_t s_plain_event(int k, uint8_t *out)
{
    Kcpipe__V1__Event ev = KCPIPE__V1__EVENT__INIT;
    Kcpipe__V1__Metrics m = KCPIPE__V1__METRICS__INIT;
    char id[32];
    snprintf(id, sizeof id, "EV-%d-%d", k, 1000 + 37 * k);
    ev.event_id = id;
    ev.province = k == 3 ? "01" : "79";
    ev.has_year = ev.has_month = 1;
    ev.year = 2020 + (uint32_t)k;
    ev.month = 1 + (uint32_t)k;
    ev.activity = "KC3b";
    ev.has_kind = ev.has_fund = 1;
    ev.kind = KCPIPE__V1__KIND__KIND_ACTUAL;
    ev.fund = (Kcpipe__V1__Fund)(1 + k % 2);
    m.has_amount_vnd = 1;
    m.amount_vnd = 1500000000 + k;
    if (k == 2) {
        m.has_persons_employed = 1;
        m.persons_employed = -5; /* a 10-byte varint */
    }
    if (k != 4)
        ev.metrics = &m;
    if (k == 1)
        ev.note = "a note, plain ASCII";
    if (k >= 3) {
        ev.has_op = 1;
        ev.op = KCPIPE__V1__OP__OP_CORRECTION;
        ev.corrects = "EV-0-1000";
    }
    ev.producer_id = "hcm-79";
    ev.has_seq = 1;
    ev.seq = 300 + (uint64_t)k;
    if (k == 2 || k == 4)
        ev.submitted_by = "office-79/lan"; /* field 16: a two-byte key, after seq */
    assert_true(kcpipe__v1__event__get_packed_size(&ev) <= 512);
    return kcpipe__v1__event__pack(&ev, out);
}

static void test_decoder_and_peek(void **state)
{
    (void)state;
    kc_wire_decoder_t *d;
    assert_int_equal(kc_wire_decoder_new(NULL), KC_EINVAL);
    assert_int_equal(kc_wire_decoder_new(&d), 0);
    enum { NSEED = 5 };
    uint8_t seeds[NSEED][T_WIRE_SEED_MAX];
    size_t slen[NSEED];
    for (int k = 0; k < NSEED; k++) {
        slen[k] = s_plain_event(k, seeds[k]);
        t_wire_same(d, seeds[k], slen[k]);
        const char *id;
        size_t idlen;
        assert_int_equal(kc_wire_event_id_of(seeds[k], slen[k], &id, &idlen), 1);
    }
    uint64_t fast = 0, slow = 0;
    kc_wire_decoder_counts(d, &fast, &slow);
    assert_int_equal(fast, NSEED); /* the plain form is walked */
    assert_int_equal(slow, 0);
    /* the empty Event: walked, no event_id */
    t_wire_same(d, (const uint8_t *)"", 0);
    /* a repeated event_id: protobuf-c and the peek keep the last */
    uint8_t two[64] = {KC_WIRE_T_EVENT_ID, 2, 'a', 'b', KC_WIRE_T_EVENT_ID, 3, 'x', 'y', 'z'};
    t_wire_same(d, two, 9);
    const char *id;
    size_t idlen;
    assert_int_equal(kc_wire_event_id_of(two, 9, &id, &idlen), 1);
    assert_int_equal(idlen, 3);
    assert_memory_equal(id, "xyz", 3);
    /* event_id with a varint's wire type, a key of field 0, a 6-byte key: not walked */
    const uint8_t bad1[] = {KC_WIRE_TAG(KC_WIRE_EV_EVENT_ID, KC_WIRE_VARINT), 1};
    const uint8_t bad2[] = {KC_WIRE_TAG(0, KC_WIRE_VARINT), 1};
    const uint8_t bad3[] = {0xf8, 0x80, 0x80, 0x80, 0x80, 0x00, 1};
    assert_int_equal(kc_wire_event_id_of(bad1, sizeof bad1, &id, &idlen), KC_EFORMAT);
    assert_int_equal(kc_wire_event_id_of(bad2, sizeof bad2, &id, &idlen), KC_EFORMAT);
    assert_int_equal(kc_wire_event_id_of(bad3, sizeof bad3, &id, &idlen), KC_EFORMAT);
    /* mutated Events: both paths, every result protobuf-c's */
    uint64_t x = 0x9e3779b97f4a7c15ull;
    uint8_t b[T_WIRE_MUT_MAX];
    for (int it = 0; it < 30000; it++) {
        size_t n = t_wire_mutate(&x, (const uint8_t(*)[T_WIRE_SEED_MAX])seeds, slen, NSEED, b);
        t_wire_same(d, b, n);
    }
    kc_wire_decoder_counts(d, &fast, &slow);
    assert_true(fast > 1000 && slow > 1000); /* both paths were exercised */
    assert_int_equal(kc_wire_decode(d, NULL, 1, &(const kc_pb_event_t *){NULL}), KC_EINVAL);
    kc_wire_decoder_free(&d);
    assert_null(d);
    kc_wire_decoder_free(&d); /* NULL: nothing */
    kc_wire_decoder_counts(NULL, &fast, &slow);
    assert_true(fast == 0 && slow == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_varint_round_trip),
        cmocka_unit_test(test_varint_overlong),
        cmocka_unit_test(test_tags),
        cmocka_unit_test(test_tail),
        cmocka_unit_test(test_schema),
        cmocka_unit_test(test_skip),
        cmocka_unit_test(test_decoder_and_peek),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
