/* kc_qry.c - kc-query's options, answer and JSON document (kc_qry.h). */
#include "kc_qry.h"

#include "kc_checkpoint.h"
#include "kc_err.h"
#include "kc_filter.h"
#include "kc_json.h"
#include "kc_jtext.h"
#include "kc_label.h"
#include "kc_time.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- time ---- */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t s_days(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* n digits at *p (advanced) as a number; -1 if not n digits. */
static int s_digits(const char **p, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++, (*p)++) {
        if (**p < '0' || **p > '9')
            return -1;
        v = v * 10 + (**p - '0');
    }
    return v;
}

/* A zone: Z, +HH:MM, +HHMM or +HH (or -); seconds east of UTC in *off. */
static int s_zone(const char *p, int64_t *off)
{
    if ((p[0] == 'Z' || p[0] == 'z') && p[1] == '\0') {
        *off = 0;
        return 0;
    }
    if (p[0] != '+' && p[0] != '-')
        return -1;
    int sign = p[0] == '-' ? -1 : 1;
    p++;
    int hh = s_digits(&p, 2), mm = 0;
    if (hh < 0 || hh > 23)
        return -1;
    if (*p == ':')
        p++;
    if (*p) {
        mm = s_digits(&p, 2);
        if (mm < 0 || mm > 59 || *p)
            return -1;
    }
    *off = sign * (hh * 3600 + mm * 60);
    return 0;
}

/* Seconds since the epoch (plus frac ns) as ns; past the uint64_t range
 * (year 2554) it is the last instant there is, which means "now" to as-of. */
static uint64_t s_ns(int64_t secs, int64_t frac)
{
    if ((uint64_t)secs > (UINT64_MAX - 999999999u) / 1000000000u)
        return UINT64_MAX;
    return (uint64_t)secs * 1000000000u + (uint64_t)frac;
}

/* The local wall clock (TZ, /etc/localtime) at instant t, as seconds since
 * the epoch read as if it were UTC; INT64_MIN if localtime_r fails. */
static int64_t s_wall(int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!localtime_r(&tt, &tm))
        return INT64_MIN;
    return t + tm.tm_gmtoff;
}

/* The instants whose local wall clock reads w: the offsets in force a day
 * before, at and a day after w (any zone is within +-1 day of UTC, so those
 * are all a single change of offset can bring) each give a candidate w - off,
 * kept if that offset is really in force then. Returns how many distinct
 * instants (0: w falls in a gap when clocks go forward; 2: in the hour
 * repeated when they go back); the earliest in *t. */
static int s_local(int64_t w, int64_t *t)
{
    int n = 0;
    int64_t found[3];
    for (int i = -1; i <= 1; i++) {
        int64_t probe = w + i * 86400, pw = s_wall(probe);
        if (pw == INT64_MIN)
            continue;
        int64_t c = w - (pw - probe), cw = s_wall(c);
        bool dup = false;
        for (int j = 0; j < n; j++)
            dup |= found[j] == c;
        if (cw == w && !dup)
            found[n++] = c;
    }
    for (int j = 0; j < n; j++)
        if (j == 0 || found[j] < *t)
            *t = found[j];
    return n;
}

/* The first instant whose local wall clock reads w or later (w: a midnight):
 * where a day starts even if clocks go forward over midnight. Binary search
 * over two days: the wall clock a day before w reads before w (zones are
 * within +-1 day) and a day after reads after it. */
static int64_t s_local_start(int64_t w)
{
    int64_t lo = w - 86400, hi = w + 86400; /* wall(lo) < w <= wall(hi) */
    while (hi - lo > 1) {
        int64_t mid = lo + (hi - lo) / 2;
        if (s_wall(mid) >= w)
            hi = mid;
        else
            lo = mid;
    }
    return hi;
}

/* --as-of TIME (the forms in the DESIGN block) -> nanoseconds since the epoch.
 * Without a zone the time is local (KC_QRY_CLI) or refused / UTC for a date
 * (KC_QRY_URL: the server's zone is not the caller's). Returns 0, -1 if not a
 * time, -2 if a local time that does not exist or exists twice (clocks
 * changed). */
int kc_qry_parse_time(const char *s, bool local, uint64_t *ns)
{
    const char *p = s;
    int y = s_digits(&p, 4);
    if (y < 1970 || *p++ != '-')
        return -1;
    int mo = s_digits(&p, 2);
    if (mo < 1 || mo > 12 || *p++ != '-')
        return -1;
    int d = s_digits(&p, 2);
    static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d < 1 || d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap))
        return -1;
    int64_t off = 0, secs, frac = 0;
    if (*p == '\0' || *p == '+' || *p == '-' || *p == 'Z' || *p == 'z') {
        int64_t next = (s_days(y, mo, d) + 1) * 86400; /* the next day's midnight */
        if (*p && s_zone(p, &off) != 0)
            return -1;
        secs = !*p && local ? s_local_start(next) : next - off; /* its first instant */
        if (secs <= 0)
            return -1;
        *ns = s_ns(secs, 0);
        if (*ns != UINT64_MAX)
            *ns -= 1; /* the last nanosecond of the day */
        return 0;
    }
    if (*p != 'T' && *p != 't' && *p != ' ')
        return -1;
    p++;
    int hh = s_digits(&p, 2);
    if (hh < 0 || hh > 23 || *p++ != ':')
        return -1;
    int mi = s_digits(&p, 2), ss = 0;
    if (mi < 0 || mi > 59)
        return -1;
    if (*p == ':') {
        p++;
        ss = s_digits(&p, 2);
        if (ss < 0 || ss > 59)
            return -1;
        if (*p == '.' || *p == ',') {
            p++;
            int n = 0;
            for (; *p >= '0' && *p <= '9'; p++, n++)
                if (n < 9)
                    frac = frac * 10 + (*p - '0');
            if (n == 0)
                return -1;
            for (; n < 9; n++)
                frac *= 10;
        }
    }
    int64_t wall = s_days(y, mo, d) * 86400 + hh * 3600 + mi * 60 + ss;
    if (!*p && local) {
        if (s_local(wall, &secs) != 1)
            return -2; /* a gap or a repeated hour: which instant is meant? */
    } else {
        if (s_zone(p, &off) != 0)
            return -1; /* URL style: the server's local time is not the caller's */
        secs = wall - off;
    }
    if (secs < 0)
        return -1;
    *ns = s_ns(secs, frac);
    return 0;
}

/* ns since the epoch as 2026-11-27T10:00:00.123456789Z (buf >= 40 bytes). */
const char *kc_qry_fmt_time(char *buf, size_t cap, uint64_t ns)
{
    return kc_time_iso(ns, 9, buf, cap);
}

/* ---- parameters ---- */

enum {
    P_STORE,
    P_REGION,
    P_PROVINCE,
    P_YEAR,
    P_MONTHS,
    P_ACTIVITY,
    P_KIND,
    P_FUND,
    P_BY,
    P_PLAN,
    P_COMPARE,
    P_UNITS,
    P_FORMAT,
    P_LANG,
    P_AS_OF,
    P_AS_OF_OFFSET,
    P_COUNT
};

static const struct {
    const char *name; /* long option */
    bool url;         /* known as a URL parameter */
    bool repeatable;
} s_params[P_COUNT] = {
    [P_STORE] = {"store", false, false},
    [P_REGION] = {"region", true, true},
    [P_PROVINCE] = {"province", true, true},
    [P_YEAR] = {"year", true, false},
    [P_MONTHS] = {"months", true, false},
    [P_ACTIVITY] = {"activity", true, true},
    [P_KIND] = {"kind", true, false},
    [P_FUND] = {"fund", true, true},
    [P_BY] = {"by", true, false},
    [P_PLAN] = {"plan", true, false},
    [P_COMPARE] = {"compare", true, false},
    [P_UNITS] = {"units", true, false},
    [P_FORMAT] = {"format", false, false},
    [P_LANG] = {"lang", false, false},
    [P_AS_OF] = {"as-of", true, false},
    [P_AS_OF_OFFSET] = {"as-of-offset", true, false},
};

/* The parameter called `name` in `style` (URL: '_' for '-'); -1 if none. */
static int s_param(kc_qry_style_t style, const char *name)
{
    for (int i = 0; name && i < P_COUNT; i++) {
        const char *p = s_params[i].name, *q = name;
        if (style == KC_QRY_URL && !s_params[i].url)
            continue;
        for (; *p && *q; p++, q++)
            if (*q != (style == KC_QRY_URL && *p == '-' ? '_' : *p))
                break;
        if (!*p && !*q)
            return i;
    }
    return -1;
}

/* Rewrite a CLI reason for the URL style: "--as-of-offset" -> "as_of_offset"
 * everywhere except inside the echoed value ('value'). */
static void s_url_reason(char *err, const char *value)
{
    size_t n = strlen(err);
    char *out = malloc(n + 1);
    if (!out)
        return;
    const char *skip = NULL;
    size_t skip_len = 0;
    if (value) {
        char quoted[300];
        int q = snprintf(quoted, sizeof quoted, "'%s'", value);
        if (q > 0 && (size_t)q < sizeof quoted && (skip = strstr(err, quoted)) != NULL)
            skip_len = (size_t)q;
    }
    size_t j = 0;
    for (size_t i = 0; i < n;) {
        if (skip && err + i == skip) {
            memcpy(out + j, err + i, skip_len);
            i += skip_len;
            j += skip_len;
            continue;
        }
        if (err[i] == '-' && err[i + 1] == '-' && islower((unsigned char)err[i + 2]) &&
            (i == 0 || !isalnum((unsigned char)err[i - 1]))) {
            i += 2;
            while (i < n && (islower((unsigned char)err[i]) ||
                             (err[i] == '-' && islower((unsigned char)err[i + 1]))))
                out[j++] = err[i] == '-' ? '_' : err[i], i++;
            continue;
        }
        out[j++] = err[i++];
    }
    out[j] = '\0';
    memcpy(err, out, j + 1);
    free(out);
}

static int s_fail(char *err, size_t cap, const char *msg)
{
    snprintf(err, cap, "%s", msg);
    return KC_EINVAL;
}

void kc_qry_init(kc_qry_opts_t *o)
{
    memset(o, 0, sizeof *o);
    o->store = "./var/kcpipe";
    o->m_from = 1;
    o->m_to = 12;
    o->kind = 1;
    kc_cells_filter_init(&o->f);
}

static int s_set(kc_qry_opts_t *o, kc_qry_style_t style, int p, const char *value, char *err,
                 size_t cap)
{
    long v;
    int rc = 0;
    switch (p) {
    case P_STORE: o->store = value; break;
    case P_REGION: rc = kc_filter_add_region(&o->f, value, err, cap); break;
    case P_PROVINCE: /* checked once units are known */
        if (o->n_prov == KC_CELLS_MAX_SEL)
            return s_fail(err, cap, "too many --province options");
        o->provinces[o->n_prov++] = value;
        break;
    case P_YEAR:
        rc = kc_filter_parse_int(value, 2000, 2100, &v, "--year", err, cap);
        if (rc == 0)
            o->year = (int)v;
        break;
    case P_MONTHS: rc = kc_filter_parse_months(value, &o->m_from, &o->m_to, err, cap); break;
    case P_ACTIVITY: rc = kc_filter_add_activity(&o->f, value, err, cap); break;
    case P_KIND: rc = kc_filter_parse_kind(value, &o->kind, err, cap); break;
    case P_FUND: rc = kc_filter_add_fund(&o->f, value, err, cap); break;
    case P_BY:
        if (value && strcmp(value, "province") == 0)
            o->f.by = KC_BY_PROVINCE;
        else if (value && strcmp(value, "activity") == 0)
            o->f.by = KC_BY_ACTIVITY;
        else if (value && strcmp(value, "month") == 0)
            o->f.by = KC_BY_MONTH;
        else
            return s_fail(err, cap, "--by takes province, activity or month");
        break;
    case P_PLAN:
        if (style == KC_QRY_CLI ||
            (value && (strcmp(value, "1") == 0 || strcmp(value, "true") == 0)))
            o->plan = true;
        else if (value && (strcmp(value, "0") == 0 || strcmp(value, "false") == 0))
            o->plan = false;
        else
            return s_fail(err, cap, "plan takes 1 (or true) or 0 (or false)");
        break;
    case P_COMPARE:
        rc = kc_filter_parse_int(value, 2000, 2100, &v, "--compare", err, cap);
        if (rc == 0)
            o->compare = (int)v;
        break;
    case P_UNITS: rc = kc_filter_parse_units(value, &o->f.units, err, cap); break;
    case P_FORMAT:
        if (value && strcmp(value, "table") == 0)
            o->format = KC_QRY_TABLE;
        else if (value && strcmp(value, "csv") == 0)
            o->format = KC_QRY_CSV;
        else if (value && strcmp(value, "json") == 0)
            o->format = KC_QRY_JSON;
        else
            return s_fail(err, cap, "--format takes table, csv or json");
        break;
    case P_LANG:
        if (!value || kc_lang_parse(value, &o->lang) != 0)
            return s_fail(err, cap, "--lang takes en or vi");
        break;
    case P_AS_OF:
        if (o->as_of)
            return s_fail(err, cap, "give one --as-of or --as-of-offset");
        int t = value ? kc_qry_parse_time(value, style == KC_QRY_CLI, &o->as_of_ns) : -1;
        if (t == -2) {
            snprintf(err, cap,
                     "--as-of: '%s' does not exist or exists twice in local time (the clocks "
                     "changed); add a zone, e.g. +07:00",
                     value);
            return KC_EINVAL;
        }
        if (t != 0) {
            snprintf(err, cap,
                     style == KC_QRY_CLI
                         ? "--as-of: '%s' is not 2026-11-27, 2026-11-27 10:00:00, "
                           "2026-11-27T10:00:00Z or 2026-11-27T17:00:00+07:00"
                         : "--as-of: '%s' is not 2026-11-27, 2026-11-27T10:00:00Z or "
                           "2026-11-27T17:00:00+07:00",
                     value ? value : "");
            return KC_EINVAL;
        }
        o->as_of = o->as_of_time = true;
        break;
    case P_AS_OF_OFFSET: {
        if (o->as_of)
            return s_fail(err, cap, "give one --as-of or --as-of-offset");
        char *end;
        errno = 0;
        unsigned long long n = value ? strtoull(value, &end, 10) : 0;
        if (!value || errno || end == value || *end || value[0] == '-') {
            snprintf(err, cap, "--as-of-offset: '%s' is not a number of log entries",
                     value ? value : "");
            return KC_EINVAL;
        }
        o->as_of = true;
        o->as_of_offset = n;
        break;
    }
    default: return s_fail(err, cap, "unknown parameter");
    }
    return rc;
}

int kc_qry_set(kc_qry_opts_t *o, kc_qry_style_t style, const char *name, const char *value,
               char *err, size_t cap)
{
    int p = s_param(style, name);
    if (p < 0) {
        snprintf(err, cap, "unknown parameter '%s'", name ? name : "");
        return KC_EINVAL;
    }
    if (style == KC_QRY_URL && !s_params[p].repeatable) {
        if (o->seen & (1u << p)) {
            snprintf(err, cap, "parameter '%s' given more than once", name);
            return KC_EINVAL;
        }
        o->seen |= 1u << p;
    }
    int rc = s_set(o, style, p, value, err, cap);
    if (rc != 0 && style == KC_QRY_URL)
        s_url_reason(err, value);
    return rc;
}

int kc_qry_finish(kc_qry_opts_t *o, kc_qry_style_t style, char *err, size_t cap)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < o->n_prov; i++)
        rc = kc_filter_add_province(&o->f, o->provinces[i], err, cap);
    if (rc == 0 && !o->year)
        rc = s_fail(err, cap, "--year is required");
    if (rc == 0 && o->plan && o->kind == 2)
        rc = s_fail(err, cap, "--plan compares actual figures with the plan; drop --kind plan");
    if (rc != 0 && style == KC_QRY_URL)
        s_url_reason(err, NULL);
    return rc;
}

/* ---- answer ---- */

int kc_qry_answer(kc_qry_opts_t *o, kc_txn_t *txn, kc_qry_answer_t *a)
{
    kc_cells_src_t src = {.txn = txn};
    int rc = 0;
    memset(a, 0, sizeof *a);
    if (o->as_of) { /* the cells as they stood after the first N entries */
        uint64_t n = o->as_of_offset;
        if (o->as_of_time)
            rc = kc_txn_log_size_at(txn, o->as_of_ns, &n);
        if (rc == 0)
            rc = kc_cells_asof(txn, n, 0, &src.mem, &o->asof);
    }
    if (rc == 0)
        rc = kc_cells_sum_src(&src, &o->f, o->year, o->m_from, o->m_to, o->kind, &a->cur);
    if (rc == 0 && o->plan) {
        kc_cells_filter_t pf = o->f;
        if (pf.by == KC_BY_MONTH)
            pf.by = KC_BY_NONE; /* plans are annual: no per-month plan */
        rc = kc_cells_sum_src(&src, &pf, o->year, 1, 12, 2, &a->plan);
    }
    if (rc == 0 && o->compare)
        rc = kc_cells_sum_src(&src, &o->f, o->compare, o->m_from, o->m_to, o->kind, &a->cmp);
    kc_cells_mem_free(&src.mem);
    return rc;
}

/* ---- rows ---- */

bool kc_qry_row_used(const kc_qry_answer_t *a, const kc_qry_opts_t *o, int r)
{
    return a->cur.used[r] || (o->plan && a->plan.used[r]) || (o->compare && a->cmp.used[r]);
}

const char *kc_qry_row_label(const kc_qry_opts_t *o, int r, char *key, size_t cap, int *scheme)
{
    *scheme = 0;
    switch (o->f.by) {
    case KC_BY_PROVINCE: {
        int code;
        kc_cells_province_of_row(r, scheme, &code);
        snprintf(key, cap, "%02d", code);
        const kc_province_t *p = kc_ref_province(*scheme, code);
        return p ? p->name : "";
    }
    case KC_BY_ACTIVITY: {
        const kc_activity_t *a = kc_ref_activity_by_id((uint8_t)r);
        snprintf(key, cap, "%s", a ? a->code : "?");
        return a ? (o->format == KC_QRY_TABLE ? kc_label_activity(a, o->lang) : a->name) : "";
    }
    case KC_BY_MONTH: snprintf(key, cap, "%d", r); return "";
    case KC_BY_NONE: break;
    }
    key[0] = '\0';
    return "";
}

/* ---- JSON ---- */

/* Figures are 128-bit sums: exact JSON integers of any size (kc_json.h). */
static json_t *s_json_totals(const kc_totals_t *t)
{
    json_t *o = json_object();
    for (int i = 0; i < KC_METRIC_COUNT; i++)
        json_object_set_new(o, kc_ref_metric(i)->name, kc_json_int(t->m[i]));
    return o;
}

static json_t *s_json_months(int from, int to)
{
    return json_pack("{s:i,s:i}", "from", from, "to", to);
}

/* num/den in percent: hundredths computed exactly from the 128-bit sums
 * (kc_ratio_percent), a JSON real (ratios are the only non-integers). */
static json_t *s_json_pct(kc_i128 num, kc_i128 den)
{
    int ok;
    double p = kc_ratio_percent(num, den, &ok);
    return ok ? json_real(p) : json_null();
}

/* Percent per metric where the plan is non-zero. */
static json_t *s_json_plan_pct(const kc_totals_t *act, const kc_totals_t *plan)
{
    json_t *o = json_object();
    for (int i = 0; i < KC_METRIC_COUNT; i++)
        if (plan->m[i] != 0)
            json_object_set_new(o, kc_ref_metric(i)->name, s_json_pct(act->m[i], plan->m[i]));
    return o;
}

static json_t *s_json_change(const kc_totals_t *now, const kc_totals_t *before)
{
    json_t *o = json_object();
    for (int i = 0; i < KC_METRIC_COUNT; i++)
        json_object_set_new(o, kc_ref_metric(i)->name,
                            before->m[i] ? s_json_pct(now->m[i] - before->m[i], before->m[i])
                                         : json_null());
    return o;
}

static json_t *s_json_filters(const kc_qry_opts_t *o)
{
    json_t *f = json_object();
    json_t *regions = json_array(), *provinces = json_array(), *acts = json_array(),
           *funds = json_array();
    for (size_t i = 0; i < o->f.n_regions; i++)
        json_array_append_new(regions, json_string(o->f.regions[i]));
    for (size_t i = 0; i < o->f.n_provinces; i++) {
        char code[8];
        snprintf(code, sizeof code, "%02u", o->f.provinces[i]);
        json_array_append_new(provinces, json_string(code));
    }
    for (size_t i = 0; i < kc_ref_activity_count(); i++) {
        const kc_activity_t *a = kc_ref_activity_at(i);
        if (o->f.activity[a->id])
            json_array_append_new(acts, json_string(a->name));
    }
    for (int i = 1; i <= 3; i++)
        if (o->f.fund[i])
            json_array_append_new(funds, json_string(kc_filter_fund_name(i)));
    json_object_set_new(f, "regions", regions);
    json_object_set_new(f, "provinces", provinces);
    json_object_set_new(f, "year", json_integer(o->year));
    json_object_set_new(f, "months", s_json_months(o->m_from, o->m_to));
    json_object_set_new(f, "activities", acts);
    json_object_set_new(f, "kind", json_string(kc_filter_kind_name(o->kind)));
    json_object_set_new(f, "funds", funds);
    json_object_set_new(f, "units", json_integer(o->f.units == 34 ? 34 : 63));
    if (o->f.by != KC_BY_NONE)
        json_object_set_new(f, "by",
                            json_string(o->f.by == KC_BY_PROVINCE   ? "province"
                                        : o->f.by == KC_BY_ACTIVITY ? "activity"
                                                                    : "month"));
    return f;
}

json_t *kc_qry_json(const kc_qry_opts_t *o, const kc_qry_answer_t *a)
{
    json_t *root = json_object();
    /* a path may hold any bytes: kc_jtext keeps the document valid UTF-8 */
    json_object_set_new(root, "store", kc_json_texts(o->store));
    json_object_set_new(root, "filters", s_json_filters(o));
    if (o->as_of) {
        char t[48];
        json_t *as = json_object();
        json_t *last = o->asof.offset
                           ? json_string(kc_qry_fmt_time(t, sizeof t, o->asof.received_ns))
                           : json_null();
        json_object_set_new(as, "offset", json_integer((json_int_t)o->asof.offset));
        json_object_set_new(as, "time",
                            o->as_of_time ? json_string(kc_qry_fmt_time(t, sizeof t, o->as_of_ns))
                                          : json_incref(last));
        json_object_set_new(as, "last_entry_time", last);
        json_object_set_new(as, "log_size", json_integer((json_int_t)o->asof.log_size));
        json_object_set_new(as, "checkpoint", json_integer((json_int_t)o->asof.checkpoint));
        json_object_set_new(as, "replayed", json_integer((json_int_t)o->asof.replayed));
        json_object_set_new(root, "as_of", as);
    }
    json_object_set_new(root, "totals", s_json_totals(&a->cur.total));
    json_object_set_new(root, "events", kc_json_int(a->cur.total.events));
    if (o->plan) {
        json_t *p = json_object();
        json_object_set_new(p, "year", json_integer(o->year));
        json_object_set_new(p, "months", s_json_months(1, 12));
        json_object_set_new(p, "totals", s_json_totals(&a->plan.total));
        json_object_set_new(p, "events", kc_json_int(a->plan.total.events));
        json_object_set_new(p, "percent", s_json_plan_pct(&a->cur.total, &a->plan.total));
        json_object_set_new(root, "plan", p);
        json_object_set_new(
            root, "percent_of_plan",
            s_json_pct(a->cur.total.m[KC_M_AMOUNT_VND], a->plan.total.m[KC_M_AMOUNT_VND]));
    }
    if (o->compare) {
        json_t *c = json_object();
        json_object_set_new(c, "year", json_integer(o->compare));
        json_object_set_new(c, "months", s_json_months(o->m_from, o->m_to));
        json_object_set_new(c, "totals", s_json_totals(&a->cmp.total));
        json_object_set_new(c, "events", kc_json_int(a->cmp.total.events));
        json_object_set_new(c, "change_percent", s_json_change(&a->cur.total, &a->cmp.total));
        json_object_set_new(root, "compare", c);
    }
    if (o->f.by != KC_BY_NONE) {
        json_t *rows = json_array();
        for (int r = 0; r < KC_CELLS_ROWS; r++) {
            if (!kc_qry_row_used(a, o, r))
                continue;
            char key[16];
            int scheme;
            const char *label = kc_qry_row_label(o, r, key, sizeof key, &scheme);
            json_t *row = json_object();
            if (o->f.by == KC_BY_MONTH)
                json_object_set_new(row, "key", json_integer(r));
            else
                json_object_set_new(row, "key", json_string(key));
            if (scheme)
                json_object_set_new(row, "scheme", json_integer(scheme));
            if (*label)
                json_object_set_new(row, "label", json_string(label));
            json_object_set_new(row, "totals", s_json_totals(&a->cur.row[r]));
            json_object_set_new(row, "events", kc_json_int(a->cur.row[r].events));
            if (o->plan && o->f.by != KC_BY_MONTH) {
                json_t *p = json_object();
                json_object_set_new(p, "totals", s_json_totals(&a->plan.row[r]));
                json_object_set_new(p, "percent", s_json_plan_pct(&a->cur.row[r], &a->plan.row[r]));
                json_object_set_new(row, "plan", p);
                json_object_set_new(row, "percent_of_plan",
                                    s_json_pct(a->cur.row[r].m[KC_M_AMOUNT_VND],
                                               a->plan.row[r].m[KC_M_AMOUNT_VND]));
            }
            if (o->compare) {
                json_t *c = json_object();
                json_object_set_new(c, "totals", s_json_totals(&a->cmp.row[r]));
                json_object_set_new(c, "change_percent",
                                    s_json_change(&a->cur.row[r], &a->cmp.row[r]));
                json_object_set_new(row, "compare", c);
            }
            json_array_append_new(rows, row);
        }
        json_object_set_new(root, "rows", rows);
    }
    return root;
}
