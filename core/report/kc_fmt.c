/* kc_fmt.c - human number formats of the tools and the report (see kc_fmt.h). */
#include "kc_fmt.h"

#include "kc_err.h"

#include <stdio.h>
#include <string.h>

typedef kc_i128 s_i128;

static s_i128 s_pow10(int e)
{
    s_i128 p = 1;
    while (e-- > 0)
        p *= 10;
    return p;
}

/* Format a 128-bit fixed-point value; the workhorse of every other format. */
static char *s_fixed(char *buf, size_t cap, s_i128 scaled, int decimals, kc_lang_t lang)
{
    char dec[KC_I128_DEC], tmp[80];
    size_t n = 0;
    const char thousands = lang == KC_LANG_VI ? '.' : ',';
    const char point = lang == KC_LANG_VI ? ',' : '.';
    if (decimals > 38)
        decimals = 38;
    kc_i128_str(dec, sizeof dec, scaled);
    const char *d = dec[0] == '-' ? dec + 1 : dec;
    int nd = (int)strlen(d);
    if (d != dec)
        tmp[n++] = '-';
    /* digit k is the one of 10^k in scaled: zeros up to the point's left */
    for (int k = nd > decimals ? nd - 1 : decimals; k >= 0; k--) {
        tmp[n++] = k < nd ? d[nd - 1 - k] : '0';
        if (k == decimals && decimals > 0)
            tmp[n++] = point;
        else if (k > decimals && (k - decimals) % 3 == 0)
            tmp[n++] = thousands;
    }
    tmp[n] = '\0';
    snprintf(buf, cap, "%s", tmp);
    return buf;
}

char *kc_fmt_fixed(char *buf, size_t cap, kc_i128 scaled, int decimals, kc_lang_t lang)
{
    return s_fixed(buf, cap, scaled, decimals < 0 ? 0 : decimals, lang);
}

char *kc_fmt_count(char *buf, size_t cap, kc_i128 v, kc_lang_t lang)
{
    return s_fixed(buf, cap, v, 0, lang);
}

char *kc_fmt_money(char *buf, size_t cap, kc_i128 vnd, kc_lang_t lang)
{
    static const char *unit_vi[] = {"đồng", "triệu đồng", "tỷ đồng"};
    static const char *unit_en[] = {"VND", "million VND", "billion VND"};
    kc_u128 a = kc_i128_abs(vnd);
    int u = a >= 1000000000 ? 2 : a >= 1000000 ? 1 : 0;
    char num[KC_FMT_BUF];
    if (u == 0) {
        s_fixed(num, sizeof num, vnd, 0, lang);
    } else {
        int exp = u == 2 ? 9 : 6;
        int dec = a >= (kc_u128)(100 * s_pow10(exp)) ? 1 : 2;
        s_i128 q = kc_i128_div_round(vnd, s_pow10(exp - dec));
        kc_u128 aq = kc_i128_abs(q);
        if (u == 1 && aq >= (kc_u128)(1000 * s_pow10(dec))) { /* 999,996 triệu rounds up to 1 tỷ */
            u = 2, exp = 9, dec = 2;
            q = kc_i128_div_round(vnd, s_pow10(exp - dec));
        } else if (dec == 2 && aq >= (kc_u128)(100 * s_pow10(dec))) { /* 99,996 -> 100,0 */
            dec = 1;
            q = kc_i128_div_round(vnd, s_pow10(exp - dec));
        }
        while (dec > 0 && q % 10 == 0) { /* 50,30 -> 50,3 */
            q /= 10;
            dec--;
        }
        s_fixed(num, sizeof num, q, dec, lang);
    }
    snprintf(buf, cap, "%s %s", num, lang == KC_LANG_VI ? unit_vi[u] : unit_en[u]);
    return buf;
}

kc_fmt_scale_t kc_fmt_money_scale(const kc_i128 *v, size_t n)
{
    kc_u128 a = 0;
    for (size_t i = 0; i < n; i++)
        if (kc_i128_abs(v[i]) > a)
            a = kc_i128_abs(v[i]);
    kc_fmt_scale_t s = {a >= 1000000000 ? 2 : a >= 1000000 ? 1 : 0, 0};
    if (s.unit == 0)
        return s;
    /* kc_fmt_money's choice for the largest, rounding included: 999,996 triệu
     * is 1 tỷ, 99,996 tỷ is 100,0 tỷ */
    if (s.unit == 1 && kc_i128_abs(kc_i128_div_round((s_i128)a, 10000)) >= 100000)
        s.unit = 2;
    int exp = s.unit == 2 ? 9 : 6;
    s.decimals = kc_i128_abs(kc_i128_div_round((s_i128)a, s_pow10(exp - 2))) >= 10000 ? 1 : 2;
    /* drop the decimals that are zero in every value */
    while (s.decimals > 0) {
        size_t i = 0;
        for (; i < n; i++)
            if (kc_i128_div_round(v[i], s_pow10(exp - s.decimals)) % 10 != 0)
                break;
        if (i < n)
            break;
        s.decimals--;
    }
    return s;
}

char *kc_fmt_money_in(char *buf, size_t cap, kc_i128 vnd, kc_fmt_scale_t s, kc_lang_t lang)
{
    static const char *unit_vi[] = {"đồng", "triệu đồng", "tỷ đồng"};
    static const char *unit_en[] = {"VND", "million VND", "billion VND"};
    int u = s.unit < 0 ? 0 : s.unit > 2 ? 2 : s.unit;
    int dec = u == 0 ? 0 : s.decimals < 0 ? 0 : s.decimals > 2 ? 2 : s.decimals;
    int exp = u == 2 ? 9 : u == 1 ? 6 : 0;
    char num[KC_FMT_BUF];
    s_fixed(num, sizeof num, u ? kc_i128_div_round(vnd, s_pow10(exp - dec)) : vnd, dec, lang);
    snprintf(buf, cap, "%s %s", num, lang == KC_LANG_VI ? unit_vi[u] : unit_en[u]);
    return buf;
}

char *kc_fmt_percent(char *buf, size_t cap, kc_i128 num, kc_i128 den, kc_lang_t lang)
{
    s_i128 pm; /* tenths of a percent */
    if (kc_i128_scaled(num, den, 1000, &pm) != 0) {
        snprintf(buf, cap, "—");
        return buf;
    }
    char num_s[KC_FMT_BUF];
    s_fixed(num_s, sizeof num_s, pm, 1, lang);
    snprintf(buf, cap, "%s%%", num_s);
    return buf;
}

char *kc_fmt_change(char *buf, size_t cap, kc_i128 now, kc_i128 before, kc_lang_t lang)
{
    s_i128 diff, pm;
    s_i128 base = before < 0 && before != KC_I128_MIN ? -before : before; /* |before| */
    if (before == 0 || __builtin_sub_overflow(now, before, &diff) ||
        kc_i128_scaled(diff, base, 1000, &pm) != 0) {
        snprintf(buf, cap, "—");
        return buf;
    }
    char num_s[KC_FMT_BUF];
    s_fixed(num_s, sizeof num_s, pm, 1, lang);
    snprintf(buf, cap, "%s%s%%", pm >= 0 ? "+" : "", num_s);
    return buf;
}

size_t kc_fmt_width(const char *s)
{
    size_t w = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p;
        int len = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
        unsigned cp = c;
        if (len == 2 && p[1])
            cp = ((c & 0x1Fu) << 6) | (p[1] & 0x3Fu);
        if (!(cp >= 0x300 && cp <= 0x36F))
            w++;
        for (int i = 0; i < len && *p; i++)
            p++;
    }
    return w;
}
