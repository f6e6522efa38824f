/* kc_i128.c - exact ratios of 128-bit sums (see kc_i128.h). */
#include "kc_i128.h"

typedef kc_i128 s_i128;

int kc_i128_scaled(s_i128 num, s_i128 den, s_i128 scale, s_i128 *out)
{
    if (den == 0 || den == KC_I128_MIN || num == KC_I128_MIN)
        return -1;
    if (den < 0)
        num = -num, den = -den;
    if (kc_i128_abs(num) > (kc_u128)(KC_I128_MAX / scale))
        return -1;
    *out = kc_i128_div_round(num * scale, den);
    return 0;
}

int kc_ratio_hundredths(kc_i128 num, kc_i128 den, kc_i128 *out)
{
    return kc_i128_scaled(num, den, 10000, out);
}

double kc_ratio_percent(kc_i128 num, kc_i128 den, int *ok)
{
    if (den == 0) {
        if (ok)
            *ok = 0;
        return 0;
    }
    if (ok)
        *ok = 1;
    /* in hundredths of a percent, exactly rounded, then one conversion */
    s_i128 h;
    if (kc_ratio_hundredths(num, den, &h) == 0)
        return (double)h / 100.0;
    return (double)num / (double)den * 100.0; /* |num| > about 2^113.7: no view's */
}
