/* kc_wire.h - the protobuf wire format of kcpipe.v1.Event, in one place.
 *
 * The Event's field numbers and wire types (proto/kcpipe/v1/kcpipe.proto),
 * base-128 varints and one-byte keys (tags), and the transport tail. The
 * canonical encoder (kc_event_pack_canon), the admission scanner
 * (kc_event_admit), the log's tail splice (store/kc_store_log.c) and the
 * store's own varint fields (kc_store_log.c, kc_store_state.c) are written
 * on these; the constants are checked against protobuf-c's descriptors by
 * kc_wire_schema_check() (tests/common/wire_test.c).
 *
 * The fast Event decoder (kc_wire_decoder_t, "decoding" below; replay's and
 * as-of's, kc_wire_decode.c) and the event_id peek (kc_wire_event_id_of,
 * replay's identity confirmation) read Events on these too.
 *
 * Everything but kc_wire_schema_check() and the decoder is static inline: the
 * commit path (one kc_txn_log_append per event), the replay (one decode and
 * peeks per event) and the encoder/decoders call them per field. None of them
 * allocates or keeps state; none reads past `end`.
 */
#ifndef KC_WIRE_H
#define KC_WIRE_H

#include "kc_err.h"
#include "kc_event.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* ---- wire types and keys ---- */

/* The wire types kcpipe's messages use (protobuf: 3 and 4, groups, never). */
enum {
    KC_WIRE_VARINT = 0, /* uint32, uint64, int64, enum (an int32) */
    KC_WIRE_I64 = 1,    /* fixed 8 bytes (no kcpipe field; skipped when scanning) */
    KC_WIRE_LEN = 2,    /* string, bytes, message: varint length, then the bytes */
    KC_WIRE_I32 = 5,    /* fixed 4 bytes (no kcpipe field; skipped when scanning) */
};

/* The key of field `num` with wire type `wt`: num << 3 | wt. As one byte
 * (KC_WIRE_TAG) only for num < 16, which holds for every Metrics field and
 * every Event field but submitted_by (16: a two-byte key, KC_WIRE_T2_*); a
 * constant expression (usable in case labels). */
#define KC_WIRE_TAG(num, wt) ((uint8_t)((unsigned)(num) << 3 | (unsigned)(wt)))

/* ---- kcpipe.v1.Event: field numbers (12-13 reserved) ----
 * submitted_by (16) came after the transport fields: protobuf-c and every
 * other protobuf library write it after seq, so an Event that carries it
 * does not end with the transport tail (below) and the log keeps it whole. */
enum {
    KC_WIRE_EV_EVENT_ID = 1,      /* string */
    KC_WIRE_EV_PROVINCE = 2,      /* string */
    KC_WIRE_EV_YEAR = 3,          /* uint32 */
    KC_WIRE_EV_MONTH = 4,         /* uint32 */
    KC_WIRE_EV_ACTIVITY = 5,      /* string */
    KC_WIRE_EV_KIND = 6,          /* enum Kind */
    KC_WIRE_EV_FUND = 7,          /* enum Fund */
    KC_WIRE_EV_METRICS = 8,       /* message Metrics */
    KC_WIRE_EV_NOTE = 9,          /* string */
    KC_WIRE_EV_OP = 10,           /* enum Op */
    KC_WIRE_EV_CORRECTS = 11,     /* string */
    KC_WIRE_EV_PRODUCER_ID = 14,  /* string, transport */
    KC_WIRE_EV_SEQ = 15,          /* uint64, transport */
    KC_WIRE_EV_SUBMITTED_BY = 16, /* string: who entered it at the producer */
    KC_WIRE_EV_FIELDS = 14,       /* how many fields the Event has */
};

/* The Event's keys: each field with its wire type. */
enum {
    KC_WIRE_T_EVENT_ID = KC_WIRE_TAG(KC_WIRE_EV_EVENT_ID, KC_WIRE_LEN),
    KC_WIRE_T_PROVINCE = KC_WIRE_TAG(KC_WIRE_EV_PROVINCE, KC_WIRE_LEN),
    KC_WIRE_T_YEAR = KC_WIRE_TAG(KC_WIRE_EV_YEAR, KC_WIRE_VARINT),
    KC_WIRE_T_MONTH = KC_WIRE_TAG(KC_WIRE_EV_MONTH, KC_WIRE_VARINT),
    KC_WIRE_T_ACTIVITY = KC_WIRE_TAG(KC_WIRE_EV_ACTIVITY, KC_WIRE_LEN),
    KC_WIRE_T_KIND = KC_WIRE_TAG(KC_WIRE_EV_KIND, KC_WIRE_VARINT),
    KC_WIRE_T_FUND = KC_WIRE_TAG(KC_WIRE_EV_FUND, KC_WIRE_VARINT),
    KC_WIRE_T_METRICS = KC_WIRE_TAG(KC_WIRE_EV_METRICS, KC_WIRE_LEN),
    KC_WIRE_T_NOTE = KC_WIRE_TAG(KC_WIRE_EV_NOTE, KC_WIRE_LEN),
    KC_WIRE_T_OP = KC_WIRE_TAG(KC_WIRE_EV_OP, KC_WIRE_VARINT),
    KC_WIRE_T_CORRECTS = KC_WIRE_TAG(KC_WIRE_EV_CORRECTS, KC_WIRE_LEN),
    KC_WIRE_T_PRODUCER_ID = KC_WIRE_TAG(KC_WIRE_EV_PRODUCER_ID, KC_WIRE_LEN), /* 0x72 */
    KC_WIRE_T_SEQ = KC_WIRE_TAG(KC_WIRE_EV_SEQ, KC_WIRE_VARINT),              /* 0x78 */
};

/* The two bytes of submitted_by's key: 16 << 3 | KC_WIRE_LEN = 130, as a
 * varint 0x82 0x01. */
enum {
    KC_WIRE_T2_SUBMITTED_BY_0 = ((KC_WIRE_EV_SUBMITTED_BY << 3 | KC_WIRE_LEN) & 0x7f) | 0x80,
    KC_WIRE_T2_SUBMITTED_BY_1 = (KC_WIRE_EV_SUBMITTED_BY << 3 | KC_WIRE_LEN) >> 7,
};

/* ---- kcpipe.v1.Metrics: ten int64 fields, wire type varint ----
 * Field number = kc_metric_t index + 1 (kc_ref.h: KC_M_AMOUNT_VND = 0 is
 * field 1, ... KC_M_PROJECTS = 9 is field 10). */
enum {
    KC_WIRE_M_AMOUNT_VND = 1,
    KC_WIRE_M_REVENUE_VND = 2,
    KC_WIRE_M_PERSONS = 3,
    KC_WIRE_M_PERSONS_EMPLOYED = 4,
    KC_WIRE_M_FACILITIES = 5,
    KC_WIRE_M_FACILITY_TURNS = 6,
    KC_WIRE_M_PRODUCTS = 7,
    KC_WIRE_M_EVENTS = 8,
    KC_WIRE_M_DELEGATES = 9,
    KC_WIRE_M_PROJECTS = 10,
    KC_WIRE_M_FIELDS = 10,
};
#define KC_WIRE_METRIC_FIELD(i) ((i) + 1) /* kc_metric_t index -> Metrics field number */

/* ---- kcpipe.v1.Batch: the fields read on the wire ---- */
enum {
    KC_WIRE_BATCH_PRODUCER_ID = 1, /* string */
    KC_WIRE_BATCH_EVENTS = 2,      /* repeated bytes */
};

/* ---- varints ----
 * Base-128, least significant group first (protobuf's varint, LEB128). */

#define KC_WIRE_VARINT_MAX 10 /* bytes of the longest varint (a uint64 >= 2^63) */

/* The length of v's varint, 1..10. */
static inline size_t kc_wire_varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* The varint of v into p (room for kc_wire_varint_len(v) bytes, at most
 * KC_WIRE_VARINT_MAX); returns the bytes written (1..10). */
static inline size_t kc_wire_varint_put(uint8_t *p, uint64_t v)
{
    uint8_t *q = p;
    while (v >= 0x80) {
        *q++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *q++ = (uint8_t)v;
    return (size_t)(q - p);
}

/* A varint from p[0..end) into *v, read as protobuf-c reads one: at most 10
 * bytes, bits past the 64th dropped (the 10th byte gives bit 63 only).
 * Returns the bytes read (1..10), or 0 if it runs past end or past 10 bytes
 * (*v then unchanged). For protobuf messages. */
static inline size_t kc_wire_varint_get(const uint8_t *p, const uint8_t *end, uint64_t *v)
{
    uint64_t x = 0;
    for (size_t i = 0; i < KC_WIRE_VARINT_MAX && p + i < end; i++) {
        uint8_t b = p[i];
        x |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *v = x;
            return i + 1;
        }
    }
    return 0;
}

/* As kc_wire_varint_get, but a varint whose value does not fit 64 bits (a
 * 10th byte above 1) is malformed too: returns 0. For kcpipe's own records
 * (the store's log and state values), where such bytes mean corruption. */
static inline size_t kc_wire_varint_get_strict(const uint8_t *p, const uint8_t *end, uint64_t *v)
{
    uint64_t x = 0;
    for (size_t i = 0; i < KC_WIRE_VARINT_MAX && p + i < end; i++) {
        uint64_t b = p[i];
        if (i == KC_WIRE_VARINT_MAX - 1 && b > 1)
            return 0; /* past 64 bits */
        x |= (b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *v = x;
            return i + 1;
        }
    }
    return 0;
}

/* ---- keys ---- */

/* The key of field num (any number protobuf allows) with wire type wt into
 * p (room for 5 bytes); returns the bytes written (1 for num < 16). */
static inline size_t kc_wire_tag_put(uint8_t *p, uint32_t num, unsigned wt)
{
    return kc_wire_varint_put(p, (uint64_t)num << 3 | wt);
}

/* A key from p[0..end), read as a varint by kc_wire_varint_get: *num = the
 * field number (key >> 3, not range-checked), *wt = the wire type (key & 7).
 * Returns the bytes read, or 0 if malformed (*num, *wt then unchanged). */
static inline size_t kc_wire_tag_get(const uint8_t *p, const uint8_t *end, uint64_t *num,
                                     unsigned *wt)
{
    uint64_t key;
    size_t n = kc_wire_varint_get(p, end, &key);
    if (n) {
        *num = key >> 3;
        *wt = (unsigned)(key & 7);
    }
    return n;
}

/* The bytes of the value of a field of wire type wt at p[0..end) (the bytes
 * after its key): a varint's bytes (kc_wire_varint_get), 8 (KC_WIRE_I64), 4
 * (KC_WIRE_I32), or a length varint plus that many bytes (KC_WIRE_LEN).
 * Returns them (>= 1), or 0 if they run past end, a varint is malformed, or
 * wt is none of these (groups, 3 and 4, or 6 and 7: protobuf-c refuses them). */
static inline size_t kc_wire_skip(const uint8_t *p, const uint8_t *end, unsigned wt)
{
    uint64_t n;
    size_t k;
    switch (wt) {
    case KC_WIRE_VARINT: return kc_wire_varint_get(p, end, &n);
    case KC_WIRE_I64: return end - p < 8 ? 0 : 8;
    case KC_WIRE_I32: return end - p < 4 ? 0 : 4;
    case KC_WIRE_LEN:
        if (!(k = kc_wire_varint_get(p, end, &n)) || n > (uint64_t)(end - p) - k)
            return 0;
        return k + (size_t)n;
    default: return 0;
    }
}

/* ---- the transport tail ----
 * protobuf-c writes an Event's fields in number order, so an Event a producer
 * packs with its transport fields set ends with them:
 *   KC_WIRE_T_PRODUCER_ID (0x72) <varint P> <producer id, P bytes>
 *   KC_WIRE_T_SEQ (0x78) <varint seq>
 * (when the Event carries no unknown fields, which protobuf-c writes last).
 * The log stores an Event without this tail when its record holds the same
 * producer id and seq, and appends it again on reading. In the functions
 * below, producer points at plen bytes (not NUL-terminated; never NULL). */

/* Bytes of the tail of a producer id of plen bytes, at most. */
#define KC_WIRE_TAIL_MAX(plen) (2 + 2 * KC_WIRE_VARINT_MAX + (plen))

/* The length of the tail of (producer[0..plen), seq). */
static inline size_t kc_wire_tail_len(size_t plen, uint64_t seq)
{
    return 1 + kc_wire_varint_len(plen) + plen + 1 + kc_wire_varint_len(seq);
}

/* The tail of (producer[0..plen), seq) into out (room for
 * kc_wire_tail_len(plen, seq) bytes); returns its length. */
static inline size_t kc_wire_tail_put(uint8_t *out, const char *producer, size_t plen, uint64_t seq)
{
    size_t n = 0;
    out[n++] = KC_WIRE_T_PRODUCER_ID;
    n += kc_wire_varint_put(out + n, plen);
    memcpy(out + n, producer, plen);
    n += plen;
    out[n++] = KC_WIRE_T_SEQ;
    n += kc_wire_varint_put(out + n, seq);
    return n;
}

/* Whether q holds v's varint (kc_wire_varint_put's bytes): the byte after it
 * if so, else NULL. Reads at most kc_wire_varint_len(v) bytes. */
static inline const uint8_t *kc_wire_varint_is(const uint8_t *q, uint64_t v)
{
    while (v >= 0x80) {
        if (*q++ != (uint8_t)(v | 0x80))
            return NULL;
        v >>= 7;
    }
    return *q == (uint8_t)v ? q + 1 : NULL;
}

/* Whether ev[0..n) ends with exactly the tail of (producer[0..plen), seq):
 * returns the tail's length if so (n minus it is the Event without its
 * transport fields), else 0. Byte comparison only: equal to comparing
 * against kc_wire_tail_put's bytes, without building them. */
static inline size_t kc_wire_tail_at(const uint8_t *ev, size_t n, const char *producer, size_t plen,
                                     uint64_t seq)
{
    size_t tn = kc_wire_tail_len(plen, seq);
    if (n < tn)
        return 0;
    const uint8_t *q = ev + n - tn;
    if (*q++ != KC_WIRE_T_PRODUCER_ID || !(q = kc_wire_varint_is(q, plen)) ||
        memcmp(q, producer, plen) != 0)
        return 0;
    q += plen;
    if (*q++ != KC_WIRE_T_SEQ || !kc_wire_varint_is(q, seq))
        return 0;
    return tn;
}

/* ---- decoding ---- */

/* The event_id of serialized Event bytes p[0..len) without decoding the rest:
 * *id = its bytes up to their first NUL (what protobuf-c's C string holds),
 * *idlen = their length, for the last field 1, as protobuf-c keeps the last.
 * Returns 1 if found, 0 if the Event has no event_id (*id, *idlen then
 * unchanged), KC_EFORMAT if the bytes do not walk: a key longer than 5 bytes
 * or of field 0, field 1 not of wire type KC_WIRE_LEN, or a value kc_wire_skip
 * refuses (the caller then decodes them fully, kc_wire_decode). Every key and
 * value is walked, in any form (long keys, unknown fields), without allocating.
 * Static inline: replay's identity confirmation peeks per event. */
static inline int kc_wire_event_id_of(const uint8_t *p, size_t len, const char **id, size_t *idlen)
{
    const uint8_t *end = p + len;
    int found = 0;
    while (p < end) {
        uint64_t num;
        unsigned wt;
        size_t k;
        if (*p < 0x80) { /* a one-byte key: every field of every Event producers write */
            num = *p >> 3;
            wt = *p & 7;
            k = 1;
        } else if (!(k = kc_wire_tag_get(p, end, &num, &wt)) || k > 5) {
            return KC_EFORMAT;
        }
        if (num == 0)
            return KC_EFORMAT;
        p += k;
        if (wt == KC_WIRE_LEN) {
            uint64_t n;
            if (p < end && *p < 0x80) { /* a length below 128 */
                n = *p;
                k = 1;
            } else if (!(k = kc_wire_varint_get(p, end, &n))) {
                return KC_EFORMAT;
            }
            if (n > (uint64_t)(end - p) - k)
                return KC_EFORMAT;
            p += k;
            if (num == KC_WIRE_EV_EVENT_ID) {
                const void *nul = memchr(p, 0, n);
                *id = (const char *)p;
                *idlen = nul ? (size_t)((const uint8_t *)nul - p) : n;
                found = 1;
            }
            p += n;
        } else if (num == KC_WIRE_EV_EVENT_ID || !(k = kc_wire_skip(p, end, wt))) {
            return KC_EFORMAT;
        } else {
            p += k;
        }
    }
    return found;
}

/* The fast Event decoder: a wire walker that fills an Event in place when its
 * bytes are in the plain form producers write (each field once, with its own
 * wire type, one-byte keys, short varints, ASCII strings, no unknown field),
 * and hands anything else to protobuf-c over an arena (kc_arena.h), so that
 * its result is always exactly protobuf-c's (kc_wire_decode.c, DESIGN).
 * Threads: a decoder is used by one thread at a time. */
typedef struct kc_wire_decoder kc_wire_decoder_t;

/* A new decoder into *out. 0, KC_EINVAL (out NULL), KC_ENOMEM. */
int kc_wire_decoder_new(kc_wire_decoder_t **out);

/* Frees *d (and what its last decode returned) and sets *d to NULL; NULL or
 * *d NULL: nothing. */
void kc_wire_decoder_free(kc_wire_decoder_t **d);

/* Decode a serialized kcpipe.v1.Event data[0..len): *ev is exactly what
 * kcpipe__v1__event__unpack would give (strings NUL-terminated, absent ones
 * NULL), valid until the next call on d or its free (it is d's: never
 * kcpipe__v1__event__free_unpacked it). 0, KC_EINVAL (d or ev NULL, data NULL
 * with len > 0), or KC_EFORMAT if protobuf-c cannot decode it either. */
int kc_wire_decode(kc_wire_decoder_t *d, const uint8_t *data, size_t len, const kc_pb_event_t **ev);

/* How many calls the wire walker decoded (*fast), and how many went to
 * protobuf-c (*fallbacks, failed ones included); either may be NULL; d NULL
 * counts 0. */
void kc_wire_decoder_counts(const kc_wire_decoder_t *d, uint64_t *fast, uint64_t *fallbacks);

/* ---- the schema ---- */

/* Checks every constant above (field numbers, wire types, field counts of
 * Event and Metrics, Batch's fields 1-2) against protobuf-c's generated
 * descriptors. Returns NULL if all agree, else a static string naming the
 * first that does not ("Event.seq"). */
const char *kc_wire_schema_check(void);

#endif
