/* kc_filter.c - the values of a view's filter, parsed and named (see kc_filter.h). */
#include "kc_filter.h"

#include "kc_err.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int s_fail(char *err, size_t cap, const char *fmt, const char *arg)
{
    snprintf(err, cap, fmt, arg ? arg : "");
    return KC_EINVAL;
}

int kc_filter_parse_int(const char *s, long lo, long hi, long *out, const char *what, char *err,
                        size_t cap)
{
    char *end = NULL;
    errno = 0;
    long v = s && *s ? strtol(s, &end, 10) : 0;
    if (!s || !*s || errno || *end || v < lo || v > hi) {
        snprintf(err, cap, "%s must be an integer from %ld to %ld, not '%s'", what, lo, hi,
                 s ? s : "");
        return KC_EINVAL;
    }
    *out = v;
    return 0;
}

int kc_filter_parse_months(const char *s, int *from, int *to, char *err, size_t cap)
{
    int a = 0, b = 0, n = 0;
    if (s && sscanf(s, "%d-%d%n", &a, &b, &n) == 2 && s[n] == '\0') {
        /* range */
    } else if (s && sscanf(s, "%d%n", &a, &n) == 1 && s[n] == '\0') {
        b = a;
    } else {
        return s_fail(err, cap, "--months takes A-B or a single month (1-12), not '%s'", s);
    }
    if (a < 1 || b > 12 || a > b)
        return s_fail(err, cap, "--months '%s': months run 1-12 and A <= B", s);
    *from = a;
    *to = b;
    return 0;
}

int kc_filter_parse_kind(const char *s, int *kind, char *err, size_t cap)
{
    if (s && strcmp(s, "actual") == 0)
        *kind = 1;
    else if (s && strcmp(s, "plan") == 0)
        *kind = 2;
    else
        return s_fail(err, cap, "--kind takes actual or plan, not '%s'", s);
    return 0;
}

int kc_filter_parse_units(const char *s, int *units, char *err, size_t cap)
{
    if (s && strcmp(s, "34") == 0)
        *units = 34;
    else if (s && strcmp(s, "63") == 0)
        *units = 0;
    else
        return s_fail(err, cap, "--units takes 34 (or 63, the default), not '%s'", s);
    return 0;
}

int kc_filter_add_region(kc_cells_filter_t *f, const char *s, char *err, size_t cap)
{
    if (!kc_ref_region_known(s))
        return s_fail(err, cap, "unknown region '%s' (north, central_highlands, south)", s);
    if (f->n_regions == KC_CELLS_MAX_SEL)
        return s_fail(err, cap, "too many --region options%s", NULL);
    for (size_t i = 0; i < f->n_regions; i++)
        if (strcmp(f->regions[i], s) == 0)
            return 0;
    f->regions[f->n_regions++] = s;
    return 0;
}

/* ---- province names ----
 * A minimal ASCII fold of Vietnamese, for matching a name typed on a command
 * line or in a URL against data/provinces.tsv: letters with diacritics
 * (precomposed, or followed by combining marks U+0300..U+036F) become their
 * base letter, đ/Đ becomes d, ASCII is lower-cased, spaces and . , - _ are
 * one space. The import layer has the full fold (ingest/kc_value.h,
 * kc_value_fold: aliases, suggestions); tools sit below ingest/ in the
 * layering, so core keeps this small one for names only. */

/* The base letter of a code point; 1 = drop (combining mark), ' ' = space,
 * 0 = keep as it is. */
static int s_fold_cp(uint32_t cp)
{
    static const char latin1[] = "aaaaaa*ceeeeiiiidnooooo*ouuuuy**aaaaaa*ceeeeiiiidnooooo*ouuuuy*y";
    if (cp < 0x80) {
        if (cp >= 'A' && cp <= 'Z')
            return (int)(cp - 'A' + 'a');
        return cp && strchr(" \t.,-_", (int)cp) ? ' ' : (int)cp;
    }
    if (cp >= 0x300 && cp <= 0x36F)
        return 1;
    if (cp == 0xA0)
        return ' ';
    if (cp >= 0xC0 && cp <= 0xFF)
        return latin1[cp - 0xC0] == '*' ? 0 : latin1[cp - 0xC0];
    switch (cp) {
    case 0x102:
    case 0x103: return 'a'; /* Ă ă */
    case 0x110:
    case 0x111: return 'd'; /* Đ đ */
    case 0x128:
    case 0x129: return 'i'; /* Ĩ ĩ */
    case 0x168:
    case 0x169: return 'u'; /* Ũ ũ */
    case 0x1A0:
    case 0x1A1: return 'o'; /* Ơ ơ */
    case 0x1AF:
    case 0x1B0: return 'u'; /* Ư ư */
    default: break;
    }
    if (cp >= 0x1EA0 && cp <= 0x1EF9) { /* the Vietnamese block, in vowel order */
        uint32_t k = cp - 0x1EA0;
        return k < 24 ? 'a' : k < 40 ? 'e' : k < 44 ? 'i' : k < 68 ? 'o' : k < 82 ? 'u' : 'y';
    }
    return 0;
}

/* The fold of s into out[cap] (cap > 0; truncated); leading, trailing and
 * repeated spaces dropped. A byte that is not UTF-8 is kept as it is: it
 * matches no name. */
static void s_fold(const char *s, char *out, size_t cap)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = 0;
    bool space = false;
    while (*p && n + 5 < cap) {
        uint32_t cp = *p;
        size_t len = 1;
        if (*p >= 0xC2 && *p <= 0xDF && (p[1] & 0xC0) == 0x80) {
            cp = (uint32_t)(*p & 0x1F) << 6 | (p[1] & 0x3F);
            len = 2;
        } else if (*p >= 0xE0 && *p <= 0xEF && (p[1] & 0xC0) == 0x80 && (p[2] & 0xC0) == 0x80) {
            cp = (uint32_t)(*p & 0x0F) << 12 | (uint32_t)(p[1] & 0x3F) << 6 | (p[2] & 0x3F);
            len = 3;
        }
        int f = len == 1 && cp >= 0x80 ? 0 : s_fold_cp(cp); /* not UTF-8: kept */
        if (f == ' ') {
            space = n > 0;
        } else if (f != 1) {
            if (space)
                out[n++] = ' ';
            space = false;
            if (f) {
                out[n++] = (char)f;
            } else {
                memcpy(out + n, p, len);
                n += len;
            }
        }
        p += len;
    }
    out[n] = '\0';
}

/* The fold without a leading "thanh pho ", "tp " or "tinh ". */
static const char *s_unprefixed(const char *fold)
{
    static const char *const prefixes[] = {"thanh pho ", "tp ", "tinh "};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        size_t n = strlen(prefixes[i]);
        if (strncmp(fold, prefixes[i], n) == 0 && fold[n])
            return fold + n;
    }
    return fold;
}

/* Add (code, scheme) unless the filter has it; scheme 0 = any scheme. */
static int s_add_province(kc_cells_filter_t *f, int code, int scheme, char *err, size_t cap)
{
    for (size_t i = 0; i < f->n_provinces; i++)
        if (f->provinces[i] == code && f->province_scheme[i] == scheme)
            return 0;
    if (f->n_provinces == KC_CELLS_MAX_SEL)
        return s_fail(err, cap, "too many --province options%s", NULL);
    f->province_scheme[f->n_provinces] = (uint8_t)scheme;
    f->provinces[f->n_provinces++] = (uint8_t)code;
    return 0;
}

/* A province by name: every (scheme, code) whose name folds like s. Native
 * units: each with its scheme, so a name follows its province across the
 * merger ("Tây Ninh": 72 until 2025-06, 80 from 2025-07) and never takes in
 * another province under the same code ("Long An" is 80 of scheme 63 only);
 * a name the same code carries in both schemes ("Cần Thơ", 92) is that code
 * under any scheme. Units 34: the scheme-34 unit of that name. */
static int s_add_province_name(kc_cells_filter_t *f, const char *s, char *err, size_t cap)
{
    char fold[128], name[128];
    s_fold(s, fold, sizeof fold);
    const char *want = s_unprefixed(fold);
    int code63 = 0, code34 = 0;
    for (size_t i = 0; i < kc_ref_province_count(); i++) {
        const kc_province_t *p = kc_ref_province_at(i);
        s_fold(p->name, name, sizeof name);
        if (*want && strcmp(s_unprefixed(name), want) == 0)
            *(p->scheme == 34 ? &code34 : &code63) = p->code;
    }
    if (!code63 && !code34)
        return s_fail(err, cap, "unknown province '%s' (a two-digit code or a name)", s);
    if (f->units == 34) {
        if (!code34)
            return s_fail(err, cap,
                          "province '%s' is not a scheme-34 unit; with --units 34 give the 2025 "
                          "unit's code or name",
                          s);
        return s_add_province(f, code34, 0, err, cap);
    }
    if (code63 && code63 == code34)
        return s_add_province(f, code63, 0, err, cap);
    int rc = code63 ? s_add_province(f, code63, 63, err, cap) : 0;
    return rc == 0 && code34 ? s_add_province(f, code34, 34, err, cap) : rc;
}

int kc_filter_add_province(kc_cells_filter_t *f, const char *s, char *err, size_t cap)
{
    int code = kc_ref_parse_code(s);
    if (code < 0 && s && (s[0] < '0' || s[0] > '9'))
        return s_add_province_name(f, s, err, cap);
    if (code < 0 || (!kc_ref_province(63, code) && !kc_ref_province(34, code)))
        return s_fail(err, cap, "unknown province code '%s'", s);
    if (f->units == 34 && !kc_ref_province(34, code))
        return s_fail(err, cap,
                      "province '%s' is not a scheme-34 unit; with --units 34 give the 2025 "
                      "unit's code",
                      s);
    return s_add_province(f, code, 0, err, cap);
}

int kc_filter_add_activity(kc_cells_filter_t *f, const char *s, char *err, size_t cap)
{
    const kc_activity_t *a = kc_ref_activity_lookup(s);
    if (!a)
        return s_fail(err, cap,
                      "unknown activity '%s' (a name such as machinery or a code "
                      "such as KC3b)",
                      s);
    f->activity[a->id] = true;
    return 0;
}

int kc_filter_add_fund(kc_cells_filter_t *f, const char *s, char *err, size_t cap)
{
    for (int i = 1; i <= 3; i++)
        if (s && strcmp(s, kc_filter_fund_name(i)) == 0) {
            f->fund[i] = true;
            return 0;
        }
    return s_fail(err, cap, "--fund takes kcqg, kcdp or other, not '%s'", s);
}

const char *kc_filter_kind_name(int kind)
{
    return kind == 2 ? "plan" : "actual";
}

const char *kc_filter_fund_name(int fund)
{
    static const char *names[] = {"", "kcqg", "kcdp", "other"};
    return fund >= 1 && fund <= 3 ? names[fund] : "";
}
