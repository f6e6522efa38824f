/* wire_test_util.h - protobuf wire bytes written by hand, for the tests that
 * send what protobuf-c would not write: a NUL inside a string field, an
 * unknown or wrongly typed field, a field given twice (protobuf: the last one
 * counts, and fields may come in any order).
 *
 * Only the encodings, into the caller's array: each test appends them to its
 * own buffer type.
 */
#ifndef KC_WIRE_TEST_UTIL_H
#define KC_WIRE_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define T_WIRE_VARINT_MAX 10 /* bytes of the largest base-128 varint (a uint64) */

/* The base-128 varint of v into out; returns its length (1..10). */
static inline size_t t_wire_varint(uint8_t out[T_WIRE_VARINT_MAX], uint64_t v)
{
    size_t n = 0;
    do {
        out[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    return n;
}

/* What comes before the n bytes of a length-delimited field (wire type 2)
 * number `num`: its key and its length, into out; returns their length. */
static inline size_t t_wire_ld_head(uint8_t out[2 * T_WIRE_VARINT_MAX], unsigned num, size_t n)
{
    size_t k = t_wire_varint(out, (uint64_t)num << 3 | 2);
    return k + t_wire_varint(out + k, n);
}

#endif
