/* kc_wire_decode.c - the fast Event decoder (kc_wire.h, "decoding"): a wire
 * walker on kc_wire.h's keys and varints that gives exactly protobuf-c's
 * result, and protobuf-c (over an arena) when unsure. The event_id peek and
 * kc_wire_skip are static inline in kc_wire.h.
 */
#include "kc_wire.h"

#include "kc_arena.h"
#include "kc_err.h"
#include "kc_event.h"

#include <stdbool.h>
#include <stdlib.h>

_Static_assert(KC_WIRE_EV_FIELDS == 14, "s_walk_event has a case for each of the Event's fields");
_Static_assert((int)KC_WIRE_M_FIELDS == (int)KC_METRIC_COUNT && KC_WIRE_METRIC_FIELD(0) == 1,
               "s_walk_metrics: Metrics field f is kc_metric_t f - 1");
_Static_assert(KC_WIRE_EV_SEQ < 16 && KC_WIRE_M_FIELDS < 16 && KC_WIRE_EV_SUBMITTED_BY < 32,
               "one-byte keys but submitted_by's; a field's bit in a 32-bit mask");

/* ---- protobuf-c allocator over an arena (the decoder's fallback) ----
 * A block is a pointer bump (kc_arena_alloc: chunks grow for a very large
 * event); free is a no-op: the decoder resets the arena before its next
 * decode, which releases every block of the last one at once. */

static void *s_pb_alloc(void *ctx, size_t size)
{
    return kc_arena_alloc(ctx, size);
}

static void s_pb_free(void *ctx, void *p)
{
    (void)ctx;
    (void)p; /* released all at once by the reset */
}

/* ---- the Event decoder ----
 *
 * DESIGN - a wire walker that gives exactly protobuf-c's result or defers to it
 * kcpipe.v1.Event has 14 fields (1 event_id, 2 province, 5 activity, 9 note,
 * 11 corrects, 14 producer_id, 16 submitted_by: strings; 3 year, 4 month:
 * uint32; 6 kind, 7 fund, 10 op: enums; 8 metrics: a message of ten int64
 * fields 1..10; 15 seq: uint64). The walker fills a kc_pb_event_t and its
 * Metrics in the decoder (strings copied into its buffer with a NUL, as
 * protobuf-c does) when the bytes are in the plain form every producer
 * writes: each field at most once, with its own wire type, one-byte tags
 * (submitted_by: its two-byte tag 0x82 0x01, the shortest), a uint32 in at most 5
 * bytes and <= UINT32_MAX, an enum in one byte, ASCII strings, no unknown
 * field (protobuf-c would keep it, and the content hash re-packs it), nothing
 * truncated. Anything else (a repeated field, which protobuf-c merges or
 * overwrites; a long varint; an unknown or misplaced field; non-ASCII text;
 * strings longer than the buffer) is decoded by protobuf-c itself, its blocks
 * from an arena (common/kc_arena.h) reset by the next call. So the decoded event is always the one
 * protobuf-c would give; wire_test (tests/common) and replay_test's decoder test compare
 * both on valid and mutated events. */

#define S_DEC_STR 4096 /* string bytes (with NULs) decoded in place */

struct kc_wire_decoder {
    kc_pb_event_t ev;
    Kcpipe__V1__Metrics m;
    char str[S_DEC_STR];
    kc_arena_t arena;       /* protobuf-c's blocks: the last call's, if in_arena */
    ProtobufCAllocator pba; /* over arena */
    bool in_arena;          /* the last call went to protobuf-c */
    kc_pb_event_t *slow;    /* protobuf-c's result of the last call, if any */
    uint64_t fast, fallbacks;
};

int kc_wire_decoder_new(kc_wire_decoder_t **out)
{
    if (!out)
        return KC_EINVAL;
    kc_wire_decoder_t *d = calloc(1, sizeof *d);
    if (!d)
        return KC_ENOMEM;
    kc_arena_init(&d->arena);
    d->pba =
        (ProtobufCAllocator){.alloc = s_pb_alloc, .free = s_pb_free, .allocator_data = &d->arena};
    *out = d;
    return 0;
}

static void s_dec_release(kc_wire_decoder_t *d)
{
    if (d->in_arena) /* every block protobuf-c took, at once (no free_unpacked) */
        kc_arena_reset(&d->arena);
    d->in_arena = false;
    d->slow = NULL;
}

void kc_wire_decoder_free(kc_wire_decoder_t **dp)
{
    if (!dp || !*dp)
        return;
    s_dec_release(*dp);
    kc_arena_fini(&(*dp)->arena);
    free(*dp);
    *dp = NULL;
}

void kc_wire_decoder_counts(const kc_wire_decoder_t *d, uint64_t *fast, uint64_t *fallbacks)
{
    if (fast)
        *fast = d ? d->fast : 0;
    if (fallbacks)
        *fallbacks = d ? d->fallbacks : 0;
}

/* kc_wire_varint_get with its one-byte case first (lengths, enums and most
 * metrics of the plain form): fewer instructions per field on replay's path. */
static inline size_t s_varint(const uint8_t *p, const uint8_t *end, uint64_t *v)
{
    if (p < end && *p < 0x80) {
        *v = *p;
        return 1;
    }
    return kc_wire_varint_get(p, end, v);
}

/* The Metrics message in [p, end); false: not the plain form. */
static bool s_walk_metrics(const uint8_t *p, const uint8_t *end, Kcpipe__V1__Metrics *m)
{
    unsigned seen = 0;
    while (p < end) {
        uint8_t tag = *p++; /* a one-byte key, or not the plain form */
        unsigned f = tag >> 3;
        if ((tag & 0x80) || (tag & 7) != KC_WIRE_VARINT || f < 1 || f > KC_WIRE_M_FIELDS ||
            (seen & (1u << f)))
            return false;
        seen |= 1u << f;
        uint64_t v;
        size_t nb = s_varint(p, end, &v);
        if (!nb)
            return false;
        p += nb;
        kc_pb_metric_set(m, (int)f - KC_WIRE_METRIC_FIELD(0), (int64_t)v);
    }
    return true;
}

/* The Event in [p, end) into d->ev; false: not the plain form. */
static bool s_walk_event(kc_wire_decoder_t *d, const uint8_t *p, const uint8_t *end)
{
    kc_pb_event_t *ev = &d->ev;
    kcpipe__v1__event__init(ev);
    size_t sused = 0;
    unsigned seen = 0;
    while (p < end) {
        uint8_t tag = *p++; /* a one-byte key, submitted_by's, or not the plain form */
        unsigned f = tag >> 3, wt = tag & 7;
        if (tag == KC_WIRE_T2_SUBMITTED_BY_0 && p < end && *p == KC_WIRE_T2_SUBMITTED_BY_1) {
            p++;
            f = KC_WIRE_EV_SUBMITTED_BY;
            wt = KC_WIRE_LEN;
        } else if (tag & 0x80) {
            return false;
        }
        if (f == 0 || (seen & (1u << f)))
            return false;
        seen |= 1u << f;
        uint64_t v;
        size_t nb;
        switch (f) {
        case KC_WIRE_EV_EVENT_ID:
        case KC_WIRE_EV_PROVINCE:
        case KC_WIRE_EV_ACTIVITY:
        case KC_WIRE_EV_NOTE:
        case KC_WIRE_EV_CORRECTS:
        case KC_WIRE_EV_PRODUCER_ID:
        case KC_WIRE_EV_SUBMITTED_BY: {
            if (wt != KC_WIRE_LEN || !(nb = s_varint(p, end, &v)))
                return false;
            p += nb;
            if (v > (uint64_t)(end - p) || v + 1 > S_DEC_STR - sused)
                return false;
            char *s = d->str + sused;
            for (size_t i = 0; i < v; i++) {
                if (p[i] & 0x80)
                    return false;
                s[i] = (char)p[i];
            }
            s[v] = '\0';
            sused += v + 1;
            p += v;
            char **dst = f == KC_WIRE_EV_EVENT_ID      ? &ev->event_id
                         : f == KC_WIRE_EV_PROVINCE    ? &ev->province
                         : f == KC_WIRE_EV_ACTIVITY    ? &ev->activity
                         : f == KC_WIRE_EV_NOTE        ? &ev->note
                         : f == KC_WIRE_EV_CORRECTS    ? &ev->corrects
                         : f == KC_WIRE_EV_PRODUCER_ID ? &ev->producer_id
                                                       : &ev->submitted_by;
            *dst = s;
            break;
        }
        case KC_WIRE_EV_YEAR:
        case KC_WIRE_EV_MONTH:
            if (wt != KC_WIRE_VARINT || !(nb = s_varint(p, end, &v)) || nb > 5 || v > UINT32_MAX)
                return false;
            p += nb;
            if (f == KC_WIRE_EV_YEAR) {
                ev->has_year = 1;
                ev->year = (uint32_t)v;
            } else {
                ev->has_month = 1;
                ev->month = (uint32_t)v;
            }
            break;
        case KC_WIRE_EV_KIND:
        case KC_WIRE_EV_FUND:
        case KC_WIRE_EV_OP:
            if (wt != KC_WIRE_VARINT || p >= end || (*p & 0x80))
                return false;
            v = *p++;
            if (f == KC_WIRE_EV_KIND) {
                ev->has_kind = 1;
                ev->kind = (Kcpipe__V1__Kind)v;
            } else if (f == KC_WIRE_EV_FUND) {
                ev->has_fund = 1;
                ev->fund = (Kcpipe__V1__Fund)v;
            } else {
                ev->has_op = 1;
                ev->op = (Kcpipe__V1__Op)v;
            }
            break;
        case KC_WIRE_EV_METRICS:
            if (wt != KC_WIRE_LEN || !(nb = s_varint(p, end, &v)))
                return false;
            p += nb;
            if (v > (uint64_t)(end - p))
                return false;
            kcpipe__v1__metrics__init(&d->m);
            if (!s_walk_metrics(p, p + v, &d->m))
                return false;
            ev->metrics = &d->m;
            p += v;
            break;
        case KC_WIRE_EV_SEQ:
            if (wt != KC_WIRE_VARINT || !(nb = s_varint(p, end, &v)))
                return false;
            p += nb;
            ev->has_seq = 1;
            ev->seq = v;
            break;
        default: return false;
        }
    }
    return true;
}

int kc_wire_decode(kc_wire_decoder_t *d, const uint8_t *data, size_t len, const kc_pb_event_t **out)
{
    if (!d || !out || (!data && len))
        return KC_EINVAL;
    s_dec_release(d);
    if (s_walk_event(d, data, data + len)) {
        d->fast++;
        *out = &d->ev;
        return 0;
    }
    d->fallbacks++;
    d->in_arena = true;
    d->slow = kcpipe__v1__event__unpack(&d->pba, len, data);
    *out = d->slow;
    return d->slow ? 0 : KC_EFORMAT;
}
