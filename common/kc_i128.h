/* kc_i128.h - the 128-bit integers the views add cells up in.
 *
 * Every totals cell is an int64 (store/kc_store.h), but a view adds many
 * cells up: those sums are kept in kc_i128 (GCC/Clang __int128), whose range
 * holds any sum of store cells (the bound is in tools/common/kc_cells.h,
 * DESIGN - exact sums), so a sum can never fail or wrap. Cells themselves
 * stay int64: only sums are 128-bit.
 *
 * printf has no conversion for __int128: kc_i128_str() writes the decimal
 * text (exact, no separators; kc_fmt.h formats it for people).
 */
#ifndef KC_I128_H
#define KC_I128_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

__extension__ typedef __int128 kc_i128;
__extension__ typedef unsigned __int128 kc_u128;

#define KC_I128_MAX ((kc_i128)(~(kc_u128)0 >> 1))
#define KC_I128_MIN (-KC_I128_MAX - 1)
/* Bytes of the longest decimal text of a kc_i128 and its NUL:
 * "-170141183460469231731687303715884105728" is 40 characters. */
#define KC_I128_DEC 41

/* Whether v fits an int64 (then (int64_t)v is exact). */
static inline bool kc_i128_fits_i64(kc_i128 v)
{
    return v >= INT64_MIN && v <= INT64_MAX;
}

/* The decimal text of v ("-" for negatives, no separators) into buf; it is
 * truncated to cap (cap >= 1; KC_I128_DEC always holds it). Returns buf. */
static inline char *kc_i128_str(char *buf, size_t cap, kc_i128 v)
{
    char tmp[KC_I128_DEC];
    size_t n = 0;
    kc_u128 u = v < 0 ? (kc_u128)0 - (kc_u128)v : (kc_u128)v;
    do {
        tmp[n++] = (char)('0' + (int)(u % 10));
        u /= 10;
    } while (u != 0);
    if (v < 0)
        tmp[n++] = '-';
    size_t i = 0;
    for (; i < n && i + 1 < cap; i++)
        buf[i] = tmp[n - 1 - i];
    buf[i] = '\0';
    return buf;
}

#endif
