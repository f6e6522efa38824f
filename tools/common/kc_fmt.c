/* kc_fmt.c - human number formats of the tools (see kc_fmt.h). */
#include "kc_fmt.h"

#include "kc_err.h"

#include <stdio.h>
#include <string.h>

typedef __int128 s_i128;

int kc_lang_parse(const char *s, kc_lang_t *out)
{
    if (s && strcmp(s, "en") == 0)
        *out = KC_LANG_EN;
    else if (s && strcmp(s, "vi") == 0)
        *out = KC_LANG_VI;
    else
        return KC_EINVAL;
    return 0;
}

/* n / d rounded half away from zero; d > 0. */
static s_i128 s_div_round(s_i128 n, s_i128 d)
{
    return n >= 0 ? (n + d / 2) / d : -((-n + d / 2) / d);
}

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
    char tmp[80];
    size_t n = 0;
    const char thousands = lang == KC_LANG_VI ? '.' : ',';
    const char point = lang == KC_LANG_VI ? ',' : '.';
    int neg = scaled < 0;
    unsigned __int128 u = neg ? (unsigned __int128)(-(scaled + 1)) + 1 : (unsigned __int128)scaled;
    /* digits in reverse */
    int digit = 0;
    do {
        if (digit == decimals && decimals > 0)
            tmp[n++] = point;
        else if (digit > decimals && (digit - decimals) % 3 == 0)
            tmp[n++] = thousands;
        tmp[n++] = (char)('0' + (int)(u % 10));
        u /= 10;
        digit++;
    } while (u != 0 || digit <= decimals);
    if (neg)
        tmp[n++] = '-';
    size_t i = 0;
    for (; i < n && i + 1 < cap; i++)
        buf[i] = tmp[n - 1 - i];
    buf[i] = '\0';
    return buf;
}

char *kc_fmt_fixed(char *buf, size_t cap, int64_t scaled, int decimals, kc_lang_t lang)
{
    return s_fixed(buf, cap, scaled, decimals < 0 ? 0 : decimals, lang);
}

char *kc_fmt_count(char *buf, size_t cap, int64_t v, kc_lang_t lang)
{
    return s_fixed(buf, cap, v, 0, lang);
}

char *kc_fmt_money(char *buf, size_t cap, int64_t vnd, kc_lang_t lang)
{
    static const char *unit_vi[] = {"đồng", "triệu đồng", "tỷ đồng"};
    static const char *unit_en[] = {"VND", "million VND", "billion VND"};
    s_i128 a = vnd < 0 ? -(s_i128)vnd : (s_i128)vnd;
    int u = a >= 1000000000 ? 2 : a >= 1000000 ? 1 : 0;
    char num[KC_FMT_BUF];
    if (u == 0) {
        s_fixed(num, sizeof num, vnd, 0, lang);
    } else {
        int exp = u == 2 ? 9 : 6;
        int dec = a >= 100 * s_pow10(exp) ? 1 : 2;
        s_i128 q = s_div_round(vnd, s_pow10(exp - dec));
        s_i128 aq = q < 0 ? -q : q;
        if (u == 1 && aq >= 1000 * s_pow10(dec)) { /* 999,996 triệu rounds up to 1 tỷ */
            u = 2, exp = 9, dec = 2;
            q = s_div_round(vnd, s_pow10(exp - dec));
        } else if (dec == 2 && aq >= 100 * s_pow10(dec)) { /* 99,996 -> 100,0 */
            dec = 1;
            q = s_div_round(vnd, s_pow10(exp - dec));
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

/* num/den in tenths of a percent, rounded; den != 0. */
static s_i128 s_permille(s_i128 num, s_i128 den)
{
    if (den < 0)
        num = -num, den = -den;
    return s_div_round(num * 1000, den);
}

char *kc_fmt_percent(char *buf, size_t cap, int64_t num, int64_t den, kc_lang_t lang)
{
    if (den == 0) {
        snprintf(buf, cap, "—");
        return buf;
    }
    char num_s[KC_FMT_BUF];
    s_fixed(num_s, sizeof num_s, s_permille(num, den), 1, lang);
    snprintf(buf, cap, "%s%%", num_s);
    return buf;
}

char *kc_fmt_change(char *buf, size_t cap, int64_t now, int64_t before, kc_lang_t lang)
{
    if (before == 0) {
        snprintf(buf, cap, "—");
        return buf;
    }
    s_i128 pm = s_permille((s_i128)now - before, before < 0 ? -(s_i128)before : before);
    char num_s[KC_FMT_BUF];
    s_fixed(num_s, sizeof num_s, pm, 1, lang);
    snprintf(buf, cap, "%s%s%%", pm >= 0 ? "+" : "", num_s);
    return buf;
}

double kc_ratio_percent(int64_t num, int64_t den, int *ok)
{
    if (den == 0) {
        if (ok)
            *ok = 0;
        return 0;
    }
    if (ok)
        *ok = 1;
    /* in hundredths of a percent, exactly rounded, then one division */
    s_i128 h = den < 0 ? s_div_round(-(s_i128)num * 10000, -(s_i128)den)
                       : s_div_round((s_i128)num * 10000, den);
    return (double)h / 100.0;
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
