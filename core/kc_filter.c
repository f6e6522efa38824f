/* kc_filter.c - the values of a view's filter, parsed and named (see kc_filter.h). */
#include "kc_filter.h"

#include "kc_err.h"

#include <errno.h>
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

int kc_filter_add_province(kc_cells_filter_t *f, const char *s, char *err, size_t cap)
{
    int code = kc_ref_parse_code(s);
    if (code < 0 || (!kc_ref_province(63, code) && !kc_ref_province(34, code)))
        return s_fail(err, cap, "unknown province code '%s'", s);
    if (f->units == 34 && !kc_ref_province(34, code))
        return s_fail(err, cap,
                      "province '%s' is not a scheme-34 unit; with --units 34 give the 2025 "
                      "unit's code",
                      s);
    if (f->n_provinces == KC_CELLS_MAX_SEL)
        return s_fail(err, cap, "too many --province options%s", NULL);
    for (size_t i = 0; i < f->n_provinces; i++)
        if (f->provinces[i] == code)
            return 0;
    f->provinces[f->n_provinces++] = (uint8_t)code;
    return 0;
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
