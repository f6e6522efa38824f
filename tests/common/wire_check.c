/* wire_check.c - the decoder and the peek against protobuf-c (see wire_check.h). */
#include "wire_check.h"

#include "kc_err.h"
#include "kc_event.h"
#include "kcpipe/v1/kcpipe.pb-c.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

void t_wire_same(kc_wire_decoder_t *d, const uint8_t *b, size_t n)
{
    const kc_pb_event_t *fast = NULL;
    int rc = kc_wire_decode(d, b, n, &fast);
    kc_pb_event_t *ref = kcpipe__v1__event__unpack(NULL, n, b);
    assert_int_equal(rc == 0, ref != NULL);
    const char *id = NULL;
    size_t idlen = 0;
    int peek = kc_wire_event_id_of(b, n, &id, &idlen);
    assert_true(peek == 0 || peek == 1 || peek == KC_EFORMAT);
    if (!ref)
        return;
    assert_int_equal(rc, 0);
    size_t la = kcpipe__v1__event__get_packed_size(fast);
    size_t lb = kcpipe__v1__event__get_packed_size(ref);
    assert_int_equal(la, lb);
    uint8_t *pa = malloc(la + 1), *pb = malloc(lb + 1);
    assert_non_null(pa);
    assert_non_null(pb);
    kcpipe__v1__event__pack(fast, pa);
    kcpipe__v1__event__pack(ref, pb);
    assert_memory_equal(pa, pb, la);
    free(pa);
    free(pb);
    kc_event_view_t va, vb;
    char ta[256], tb[256];
    assert_int_equal(kc_event_check(fast, &va, ta, sizeof ta),
                     kc_event_check(ref, &vb, tb, sizeof tb));
    assert_string_equal(ta, tb);
    if (peek == 1) {
        assert_non_null(ref->event_id);
        assert_int_equal(strlen(ref->event_id), idlen);
        assert_memory_equal(ref->event_id, id, idlen);
    } else if (peek == 0) {
        assert_null(ref->event_id);
    }
    kcpipe__v1__event__free_unpacked(ref, NULL);
}

size_t t_wire_mutate(uint64_t *xp, const uint8_t (*seeds)[T_WIRE_SEED_MAX], const size_t *slen,
                     int nseed, uint8_t out[T_WIRE_MUT_MAX])
{
    uint64_t x = *xp;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *xp = x;
    int k = (int)(x % (uint64_t)nseed);
    size_t n = slen[k];
    memcpy(out, seeds[k], n);
    switch ((x >> 8) % 6) {
    case 0: out[(x >> 16) % n] ^= (uint8_t)(1u << ((x >> 24) % 8)); break; /* flip a bit */
    case 1: out[(x >> 16) % n] = (uint8_t)(x >> 32); break;                /* a byte */
    case 2: n = (x >> 16) % n; break;                                      /* truncate */
    case 3: { /* a field again at the end (repeated: protobuf-c merges/overwrites) */
        size_t from = (x >> 16) % n, len = 1 + (x >> 28) % 12;
        if (from + len > slen[k])
            len = slen[k] - from;
        memcpy(out + n, seeds[k] + from, len);
        n += len;
        break;
    }
    case 4: /* an unknown or odd field: key, then a few bytes */
        out[n++] = (uint8_t)(x >> 16);
        out[n++] = (uint8_t)(x >> 24) & 0x7f;
        out[n++] = (uint8_t)(x >> 32) & 0x7f;
        break;
    default: /* two changes */
        out[(x >> 16) % n] = (uint8_t)(x >> 40);
        out[(x >> 24) % n] ^= 0x80;
        break;
    }
    return n;
}
