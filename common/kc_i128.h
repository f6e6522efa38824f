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

/* |v| as an unsigned 128-bit value (exact for KC_I128_MIN too). */
static inline kc_u128 kc_i128_abs(kc_i128 v)
{
    return v < 0 ? (kc_u128)0 - (kc_u128)v : (kc_u128)v;
}

/* n / d rounded half away from zero; d > 0. No intermediate leaves kc_i128. */
static inline kc_i128 kc_i128_div_round(kc_i128 n, kc_i128 d)
{
    kc_i128 q = n / d, r = n % d; /* r has n's sign, |r| < d */
    kc_u128 ar = kc_i128_abs(r);
    if (ar >= (kc_u128)d - ar) /* 2|r| >= d */
        q += n < 0 ? -1 : 1;
    return q;
}

/* round(num * scale / den), half away from zero, exactly, into *out. Returns
 * 0, or -1 if den == 0, if num or den is KC_I128_MIN, or if num * scale
 * leaves kc_i128. scale > 0. */
int kc_i128_scaled(kc_i128 num, kc_i128 den, kc_i128 scale, kc_i128 *out);

/* num / den * 100 rounded to two decimals, as a double for JSON (the only
 * floating point: ratios, never money): the hundredths are computed exactly
 * (kc_ratio_hundredths) and converted once. den == 0 returns 0 and *ok = 0. */
double kc_ratio_percent(kc_i128 num, kc_i128 den, int *ok);

/* num / den * 10000 rounded half away from zero, exactly, into *out: the
 * percentage in hundredths. Returns 0, or -1 if den == 0 or if the
 * 10000-fold of num leaves kc_i128 (|num| above (2^127-1)/10000, about
 * 2^113.7; a view's sums and their differences are < 2^93). */
int kc_ratio_hundredths(kc_i128 num, kc_i128 den, kc_i128 *out);

#endif
