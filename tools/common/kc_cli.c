/* kc_cli.c - argument parsing and labels shared by the tools' programs. */
#include "kc_cli.h"

#include "kc_conf.h"
#include "kc_err.h"
#include "kc_time.h"

#include <getopt.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int s_fail(char *err, size_t cap, const char *fmt, const char *arg)
{
    snprintf(err, cap, fmt, arg ? arg : "");
    return KC_EINVAL;
}

int kc_cli_parse_int(const char *s, long lo, long hi, long *out, const char *what, char *err,
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

int kc_cli_parse_months(const char *s, int *from, int *to, char *err, size_t cap)
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

int kc_cli_parse_kind(const char *s, int *kind, char *err, size_t cap)
{
    if (s && strcmp(s, "actual") == 0)
        *kind = 1;
    else if (s && strcmp(s, "plan") == 0)
        *kind = 2;
    else
        return s_fail(err, cap, "--kind takes actual or plan, not '%s'", s);
    return 0;
}

int kc_cli_parse_units(const char *s, int *units, char *err, size_t cap)
{
    if (s && strcmp(s, "34") == 0)
        *units = 34;
    else if (s && strcmp(s, "63") == 0)
        *units = 0;
    else
        return s_fail(err, cap, "--units takes 34 (or 63, the default), not '%s'", s);
    return 0;
}

int kc_cli_add_region(kc_cells_filter_t *f, const char *s, char *err, size_t cap)
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

int kc_cli_add_province(kc_cells_filter_t *f, const char *s, char *err, size_t cap)
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

int kc_cli_add_activity(kc_cells_filter_t *f, const char *s, char *err, size_t cap)
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

int kc_cli_add_fund(kc_cells_filter_t *f, const char *s, char *err, size_t cap)
{
    for (int i = 1; i <= 3; i++)
        if (s && strcmp(s, kc_cli_fund_name(i)) == 0) {
            f->fund[i] = true;
            return 0;
        }
    return s_fail(err, cap, "--fund takes kcqg, kcdp or other, not '%s'", s);
}

const char *kc_cli_kind_name(int kind)
{
    return kind == 2 ? "plan" : "actual";
}

const char *kc_cli_fund_name(int fund)
{
    static const char *names[] = {"", "kcqg", "kcdp", "other"};
    return fund >= 1 && fund <= 3 ? names[fund] : "";
}

int kc_cli_open_store(const char *prog, const char *dir, kc_store_t **out)
{
    kc_store_opts_t opts = {.read_only = true};
    int rc = kc_store_open(out, dir, &opts);
    if (rc == 0)
        return 0;
    if (rc == KC_ENOTFOUND || rc == -ENOENT) {
        fprintf(stderr, "%s: no store at %s\n", prog, dir);
        return KC_EX_NOINPUT;
    }
    fprintf(stderr, "%s: cannot open the store at %s: %s\n", prog, dir, kc_strerror(rc));
    return rc == KC_EFORMAT ? KC_EX_DATAERR : KC_EX_IOERR;
}

const char *kc_cli_region_label(const char *region, kc_lang_t lang)
{
    static const struct {
        const char *id, *vi, *en;
    } labels[] = {
        {"north", "khu vực phía Bắc", "the northern region"},
        {"central_highlands", "khu vực miền Trung - Tây Nguyên",
         "the central and highlands region"},
        {"south", "khu vực phía Nam", "the southern region"},
    };
    for (size_t i = 0; i < sizeof labels / sizeof labels[0]; i++)
        if (region && strcmp(region, labels[i].id) == 0)
            return lang == KC_LANG_VI ? labels[i].vi : labels[i].en;
    return region ? region : "";
}

char *kc_cli_period_label(char *buf, size_t cap, int year, int from, int to, kc_lang_t lang)
{
    static const char *months_en[] = {"",        "January",  "February", "March",  "April",
                                      "May",     "June",     "July",     "August", "September",
                                      "October", "November", "December"};
    if (from < 1 || to > 12 || from > to) {
        snprintf(buf, cap, "%d", year);
        return buf;
    }
    if (lang == KC_LANG_VI) {
        if (from == 1 && to == 12)
            snprintf(buf, cap, "năm %d", year);
        else if (from == 1 && to > 1)
            snprintf(buf, cap, "%d tháng năm %d", to, year);
        else if (from == to)
            snprintf(buf, cap, "tháng %d năm %d", from, year);
        else
            snprintf(buf, cap, "tháng %d–%d năm %d", from, to, year);
    } else {
        if (from == 1 && to == 12)
            snprintf(buf, cap, "%d", year);
        else if (from == to)
            snprintf(buf, cap, "%s %d", months_en[from], year);
        else
            snprintf(buf, cap, "%s–%s %d", months_en[from], months_en[to], year);
    }
    return buf;
}

const char *kc_cli_metric_label(int metric, kc_lang_t lang)
{
    const kc_metric_info_t *m = kc_ref_metric(metric);
    if (!m)
        return "";
    return lang == KC_LANG_VI ? m->label_vi : m->label_en;
}

const char *kc_cli_activity_label(const kc_activity_t *a, kc_lang_t lang)
{
    return lang == KC_LANG_VI ? a->label_vi : a->label_en;
}

int kc_cli_usage_error(const char *prog, const char *fmt, const char *arg)
{
    /* An error about a value read from the config file names its FILE:LINE: `arg`
     * itself, or inside the option loop the value at fault (optarg; NULL after it). */
    const char *about = *kc_conf_blame(arg) ? arg : optarg;
    fprintf(stderr, "%s%s: ", kc_conf_blame(about), prog);
    fprintf(stderr, fmt, arg ? arg : "");
    fprintf(stderr, "\nTry '%s --help'.\n", prog);
    return kc_conf_usage_exit(about, 64);
}

int kc_cli_parse_u64(const char *s, uint64_t *out)
{
    if (!s || !*s || *s == '-' || *s == '+')
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

void kc_cli_time_utc(uint64_t ns, char *buf, size_t cap)
{
    kc_time_iso(ns, 9, buf, cap);
}
