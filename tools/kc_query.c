/* kc_query.c - kc-query: regional totals from the store, read-only.
 *
 * DESIGN
 * One read snapshot per invocation (kc_store_read_begin .. kc_txn_end): the
 * answer, its plan and its comparison all come from the same committed state,
 * and the running aggregator is never blocked (LMDB MVCC). Each figure is one
 * range scan of the totals cells of a year and a months range
 * (tools/common/kc_cells.h), with the other filters applied per cell.
 *   --plan     the actual figures of the selected months against the plan of
 *              the whole year: the plan cells (kind plan, any month) of
 *              --year, under the same place/activity/fund filters.
 *   --compare  the same months and filters in another year, with the change
 *              in percent.
 *   --units 34 pre-2025 provinces count under their 2025 successor, and
 *              belong to the successor's scheme-34 region.
 * Money stays exact int64 in JSON and CSV; only the table rounds.
 *
 * Point in time (--as-of TIME, --as-of-offset N): every figure comes from the
 * totals as they stood after the first N log entries of the same snapshot,
 * built in memory from the latest checkpoint at or before N plus a replay of
 * the entries after it (kc_cells_asof, tools/common/kc_cells.h), then summed
 * exactly like the live totals. TIME selects the entries received at or
 * before it (received_ns never decreases along the log: kc_checkpoint.h):
 *   2026-11-27T10:00:00Z            an instant, UTC; fractions of a second up
 *   2026-11-27T17:00:00.5+07:00     to nanoseconds; an offset (+HH:MM, +HHMM,
 *                                   +HH) for local time; a zone is required
 *   2026-11-27, 2026-11-27+07:00    the END of that day (its last nanosecond),
 *                                   in UTC or in the given offset
 * N (or TIME) past the log's end means now. JSON gains "as_of".
 */
#include "kc_cells.h"
#include "kc_checkpoint.h"
#include "kc_cli.h"
#include "kc_err.h"
#include "kc_fmt.h"
#include "kc_log.h"
#include "kc_table.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PROG "kc-query"

typedef enum { FMT_TABLE = 0, FMT_CSV, FMT_JSON } s_format_t;

typedef struct {
    const char *store;   /* store directory */
    kc_cells_filter_t f; /* place/activity/fund filters and grouping */
    int year;            /* --year */
    int m_from, m_to;    /* --months */
    int kind;            /* 1 actual, 2 plan */
    bool plan;           /* --plan */
    int compare;         /* --compare year, 0 = none */
    s_format_t format;
    kc_lang_t lang;
    bool as_of;            /* --as-of or --as-of-offset given */
    bool as_of_time;       /* --as-of TIME (as_of_ns) rather than --as-of-offset */
    uint64_t as_of_ns;     /* --as-of: entries received at or before this instant */
    uint64_t as_of_offset; /* --as-of-offset: the first N entries */
    kc_cells_asof_t asof;  /* what kc_cells_asof did (filled by main) */
} s_opts_t;

typedef struct {
    kc_cells_result_t cur;  /* the figures asked for */
    kc_cells_result_t plan; /* plan of the whole year (if opts.plan) */
    kc_cells_result_t cmp;  /* same months of the compare year (if opts.compare) */
} s_answer_t;

static void s_usage(FILE *out)
{
    fprintf(out, "Usage: " PROG " --year Y [options]\n"
                 "Totals of khuyen cong activity from a kcpipe store, read-only (safe while\n"
                 "kc-aggregator runs; one consistent snapshot per invocation).\n"
                 "\n"
                 "  --store DIR          the store (default ./var/kcpipe)\n"
                 "  --year Y             year to report (required)\n"
                 "  --months A-B         months of the year, or one month (default 1-12)\n"
                 "  --region NAME        north, central_highlands, south (repeatable)\n"
                 "  --province CODE      two-digit province code (repeatable); provinces and\n"
                 "                       regions together select their union\n"
                 "  --activity NAME|CODE activity, e.g. machinery or KC3b (repeatable)\n"
                 "  --kind actual|plan   figures done or planned (default actual)\n"
                 "  --fund kcqg|kcdp|other  paying budget (repeatable; default all)\n"
                 "  --by province|activity|month   one row per group\n"
                 "  --plan               percent of plan: the selected months' actual figures\n"
                 "                       against the plan of the whole year\n"
                 "  --compare YEAR       the same months of another year, with change in percent\n"
                 "  --units 34           count pre-2025 provinces under their 2025 successor\n"
                 "                       (so years across the merger compare on the same units);\n"
                 "                       regions then follow the successor's scheme-34 region\n"
                 "  --format table|csv|json   output (default table); JSON and CSV are exact\n"
                 "  --lang en|vi         labels and number format of the table (default en)\n"
                 "  --as-of TIME         the totals as they stood at TIME: the log entries\n"
                 "                       received at or before it. TIME is ISO 8601 with a\n"
                 "                       zone: 2026-11-27T10:00:00Z, 2026-11-27T17:00:00+07:00\n"
                 "                       (fractions of a second allowed), or a date\n"
                 "                       2026-11-27 (or 2026-11-27+07:00) = the END of that\n"
                 "                       day, UTC (or in that offset)\n"
                 "  --as-of-offset N     the totals after the first N log entries (0..N-1)\n"
                 "                       (both: past the log's end = now; JSON adds \"as_of\")\n"
                 "  -h, --help           this help\n"
                 "  -V, --version        print the version\n"
                 "\n"
                 "A cell belongs to a region by kc_ref_region_of(province, its own period);\n"
                 "a province code is read under the scheme in force for each period.\n"
                 "Consulting revenue (revenue_vnd) is its own metric, never part of amount_vnd.\n"
                 "Exit: 0 ok, 64 usage, 65 store format, 66 no store, 70/74 other errors.\n");
}

static int s_usage_error(const char *msg)
{
    fprintf(stderr, PROG ": %s\nTry '" PROG " --help'.\n", msg);
    return KC_EX_USAGE;
}

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

/* --as-of TIME (the forms in the DESIGN block) -> nanoseconds since the epoch. */
static int s_parse_time(const char *s, uint64_t *ns)
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
        if (*p && s_zone(p, &off) != 0)
            return -1;
        secs = (s_days(y, mo, d) + 1) * 86400 - off; /* the next day's first instant */
        if (secs <= 0)
            return -1;
        *ns = (uint64_t)secs * 1000000000u - 1; /* the last nanosecond of the day */
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
    if (s_zone(p, &off) != 0)
        return -1; /* a zone is required: local time of which place? */
    secs = s_days(y, mo, d) * 86400 + hh * 3600 + mi * 60 + ss - off;
    if (secs < 0)
        return -1;
    *ns = (uint64_t)secs * 1000000000u + (uint64_t)frac;
    return 0;
}

/* ns since the epoch as 2026-11-27T10:00:00.123456789Z (buf >= 40 bytes). */
static const char *s_fmt_time(char *buf, size_t cap, uint64_t ns)
{
    time_t secs = (time_t)(ns / 1000000000u);
    struct tm tm;
    gmtime_r(&secs, &tm);
    snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%09uZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (unsigned)(ns % 1000000000u));
    return buf;
}

static int s_parse(int argc, char **argv, s_opts_t *o, bool *done)
{
    enum {
        O_STORE = 256,
        O_REGION,
        O_PROVINCE,
        O_YEAR,
        O_MONTHS,
        O_ACTIVITY,
        O_KIND,
        O_FUND,
        O_BY,
        O_PLAN,
        O_COMPARE,
        O_UNITS,
        O_FORMAT,
        O_LANG,
        O_AS_OF,
        O_AS_OF_OFFSET
    };
    static const struct option opts[] = {
        {"store", required_argument, NULL, O_STORE},
        {"region", required_argument, NULL, O_REGION},
        {"province", required_argument, NULL, O_PROVINCE},
        {"year", required_argument, NULL, O_YEAR},
        {"months", required_argument, NULL, O_MONTHS},
        {"activity", required_argument, NULL, O_ACTIVITY},
        {"kind", required_argument, NULL, O_KIND},
        {"fund", required_argument, NULL, O_FUND},
        {"by", required_argument, NULL, O_BY},
        {"plan", no_argument, NULL, O_PLAN},
        {"compare", required_argument, NULL, O_COMPARE},
        {"units", required_argument, NULL, O_UNITS},
        {"format", required_argument, NULL, O_FORMAT},
        {"lang", required_argument, NULL, O_LANG},
        {"as-of", required_argument, NULL, O_AS_OF},
        {"as-of-offset", required_argument, NULL, O_AS_OF_OFFSET},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    char err[256];
    const char *provinces[KC_CELLS_MAX_SEL + 1];
    size_t n_prov = 0;
    long v;
    memset(o, 0, sizeof *o);
    o->store = "./var/kcpipe";
    o->m_from = 1;
    o->m_to = 12;
    o->kind = 1;
    kc_cells_filter_init(&o->f);
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":hV", opts, NULL)) != -1) {
        int rc = 0;
        switch (c) {
        case 'h':
            s_usage(stdout);
            *done = true;
            return 0;
        case 'V':
            printf(PROG " %s\n", KC_VERSION);
            *done = true;
            return 0;
        case O_STORE: o->store = optarg; break;
        case O_REGION: rc = kc_cli_add_region(&o->f, optarg, err, sizeof err); break;
        case O_PROVINCE: /* checked once --units is known */
            if (n_prov == KC_CELLS_MAX_SEL)
                return s_usage_error("too many --province options");
            provinces[n_prov++] = optarg;
            break;
        case O_YEAR:
            rc = kc_cli_parse_int(optarg, 2000, 2100, &v, "--year", err, sizeof err);
            o->year = (int)v;
            break;
        case O_MONTHS:
            rc = kc_cli_parse_months(optarg, &o->m_from, &o->m_to, err, sizeof err);
            break;
        case O_ACTIVITY: rc = kc_cli_add_activity(&o->f, optarg, err, sizeof err); break;
        case O_KIND: rc = kc_cli_parse_kind(optarg, &o->kind, err, sizeof err); break;
        case O_FUND: rc = kc_cli_add_fund(&o->f, optarg, err, sizeof err); break;
        case O_BY:
            if (strcmp(optarg, "province") == 0)
                o->f.by = KC_BY_PROVINCE;
            else if (strcmp(optarg, "activity") == 0)
                o->f.by = KC_BY_ACTIVITY;
            else if (strcmp(optarg, "month") == 0)
                o->f.by = KC_BY_MONTH;
            else
                return s_usage_error("--by takes province, activity or month");
            break;
        case O_PLAN: o->plan = true; break;
        case O_COMPARE:
            rc = kc_cli_parse_int(optarg, 2000, 2100, &v, "--compare", err, sizeof err);
            o->compare = (int)v;
            break;
        case O_UNITS: rc = kc_cli_parse_units(optarg, &o->f.units, err, sizeof err); break;
        case O_FORMAT:
            if (strcmp(optarg, "table") == 0)
                o->format = FMT_TABLE;
            else if (strcmp(optarg, "csv") == 0)
                o->format = FMT_CSV;
            else if (strcmp(optarg, "json") == 0)
                o->format = FMT_JSON;
            else
                return s_usage_error("--format takes table, csv or json");
            break;
        case O_LANG:
            if (kc_lang_parse(optarg, &o->lang) != 0)
                return s_usage_error("--lang takes en or vi");
            break;
        case O_AS_OF:
            if (o->as_of)
                return s_usage_error("give one --as-of or --as-of-offset");
            if (s_parse_time(optarg, &o->as_of_ns) != 0) {
                snprintf(err, sizeof err,
                         "--as-of: '%s' is not 2026-11-27, 2026-11-27T10:00:00Z or "
                         "2026-11-27T17:00:00+07:00",
                         optarg);
                return s_usage_error(err);
            }
            o->as_of = o->as_of_time = true;
            break;
        case O_AS_OF_OFFSET: {
            if (o->as_of)
                return s_usage_error("give one --as-of or --as-of-offset");
            char *end;
            errno = 0;
            unsigned long long n = strtoull(optarg, &end, 10);
            if (errno || end == optarg || *end || optarg[0] == '-') {
                snprintf(err, sizeof err, "--as-of-offset: '%s' is not a number of log entries",
                         optarg);
                return s_usage_error(err);
            }
            o->as_of = true;
            o->as_of_offset = n;
            break;
        }
        case ':':
            snprintf(err, sizeof err, "option '%s' needs an argument", argv[optind - 1]);
            return s_usage_error(err);
        default:
            snprintf(err, sizeof err, "unknown option '%s'", argv[optind - 1]);
            return s_usage_error(err);
        }
        if (rc)
            return s_usage_error(err);
    }
    if (optind < argc) {
        snprintf(err, sizeof err, "unexpected argument '%s'", argv[optind]);
        return s_usage_error(err);
    }
    for (size_t i = 0; i < n_prov; i++)
        if (kc_cli_add_province(&o->f, provinces[i], err, sizeof err))
            return s_usage_error(err);
    if (!o->year)
        return s_usage_error("--year is required");
    if (o->plan && o->kind == 2)
        return s_usage_error("--plan compares actual figures with the plan; drop --kind plan");
    return 0;
}

/* ---- rows ---- */

static bool s_row_used(const s_answer_t *a, const s_opts_t *o, int r)
{
    return a->cur.used[r] || (o->plan && a->plan.used[r]) || (o->compare && a->cmp.used[r]);
}

/* Key and label of row r; key_buf >= 8 bytes. */
static const char *s_row_label(const s_opts_t *o, int r, char *key, size_t cap, int *scheme)
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
        return a ? (o->format == FMT_TABLE ? kc_cli_activity_label(a, o->lang) : a->name) : "";
    }
    case KC_BY_MONTH: snprintf(key, cap, "%d", r); return "";
    case KC_BY_NONE: break;
    }
    key[0] = '\0';
    return "";
}

/* ---- JSON ---- */

static json_t *s_json_totals(const kc_totals_t *t)
{
    json_t *o = json_object();
    for (int i = 0; i < KC_METRIC_COUNT; i++)
        json_object_set_new(o, kc_ref_metric(i)->name, json_integer(t->m[i]));
    return o;
}

static json_t *s_json_months(int from, int to)
{
    return json_pack("{s:i,s:i}", "from", from, "to", to);
}

static json_t *s_json_pct(int64_t num, int64_t den)
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

static json_t *s_json_filters(const s_opts_t *o)
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
            json_array_append_new(funds, json_string(kc_cli_fund_name(i)));
    json_object_set_new(f, "regions", regions);
    json_object_set_new(f, "provinces", provinces);
    json_object_set_new(f, "year", json_integer(o->year));
    json_object_set_new(f, "months", s_json_months(o->m_from, o->m_to));
    json_object_set_new(f, "activities", acts);
    json_object_set_new(f, "kind", json_string(kc_cli_kind_name(o->kind)));
    json_object_set_new(f, "funds", funds);
    json_object_set_new(f, "units", json_integer(o->f.units == 34 ? 34 : 63));
    if (o->f.by != KC_BY_NONE)
        json_object_set_new(f, "by",
                            json_string(o->f.by == KC_BY_PROVINCE   ? "province"
                                        : o->f.by == KC_BY_ACTIVITY ? "activity"
                                                                    : "month"));
    return f;
}

static int s_print_json(const s_opts_t *o, const s_answer_t *a)
{
    json_t *root = json_object();
    json_object_set_new(root, "store", json_string(o->store));
    json_object_set_new(root, "filters", s_json_filters(o));
    if (o->as_of) {
        char t[48];
        json_t *as = json_object();
        json_t *last = o->asof.offset ? json_string(s_fmt_time(t, sizeof t, o->asof.received_ns))
                                      : json_null();
        json_object_set_new(as, "offset", json_integer((json_int_t)o->asof.offset));
        json_object_set_new(as, "time",
                            o->as_of_time ? json_string(s_fmt_time(t, sizeof t, o->as_of_ns))
                                          : json_incref(last));
        json_object_set_new(as, "last_entry_time", last);
        json_object_set_new(as, "log_size", json_integer((json_int_t)o->asof.log_size));
        json_object_set_new(as, "checkpoint", json_integer((json_int_t)o->asof.checkpoint));
        json_object_set_new(as, "replayed", json_integer((json_int_t)o->asof.replayed));
        json_object_set_new(root, "as_of", as);
    }
    json_object_set_new(root, "totals", s_json_totals(&a->cur.total));
    json_object_set_new(root, "events", json_integer((json_int_t)a->cur.total.events));
    if (o->plan) {
        json_t *p = json_object();
        json_object_set_new(p, "year", json_integer(o->year));
        json_object_set_new(p, "months", s_json_months(1, 12));
        json_object_set_new(p, "totals", s_json_totals(&a->plan.total));
        json_object_set_new(p, "events", json_integer((json_int_t)a->plan.total.events));
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
        json_object_set_new(c, "events", json_integer((json_int_t)a->cmp.total.events));
        json_object_set_new(c, "change_percent", s_json_change(&a->cur.total, &a->cmp.total));
        json_object_set_new(root, "compare", c);
    }
    if (o->f.by != KC_BY_NONE) {
        json_t *rows = json_array();
        for (int r = 0; r < KC_CELLS_ROWS; r++) {
            if (!s_row_used(a, o, r))
                continue;
            char key[16];
            int scheme;
            const char *label = s_row_label(o, r, key, sizeof key, &scheme);
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
            json_object_set_new(row, "events", json_integer((json_int_t)a->cur.row[r].events));
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
    int rc = json_dumpf(root, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
    fputc('\n', stdout);
    json_decref(root);
    return rc == 0 ? 0 : KC_EX_IOERR;
}

/* ---- CSV ---- */

static void s_csv_field(const char *s)
{
    if (strpbrk(s, ",\"\n\r")) {
        fputc('"', stdout);
        for (; *s; s++) {
            if (*s == '"')
                fputc('"', stdout);
            fputc(*s, stdout);
        }
        fputc('"', stdout);
    } else {
        fputs(s, stdout);
    }
}

static void s_csv_pct(int64_t num, int64_t den)
{
    int ok;
    double p = kc_ratio_percent(num, den, &ok);
    if (ok)
        printf("%.2f", p);
}

static int s_print_csv(const s_opts_t *o, const s_answer_t *a)
{
    if (o->f.by == KC_BY_NONE) {
        printf("metric,value%s%s\n", o->plan ? ",plan,percent_of_plan" : "",
               o->compare ? ",compare,change_percent" : "");
        for (int i = 0; i <= KC_METRIC_COUNT; i++) {
            bool rec = i == KC_METRIC_COUNT;
            int64_t v = rec ? (int64_t)a->cur.total.events : a->cur.total.m[i];
            int64_t p = rec ? (int64_t)a->plan.total.events : a->plan.total.m[i];
            int64_t c = rec ? (int64_t)a->cmp.total.events : a->cmp.total.m[i];
            printf("%s,%lld", rec ? "records" : kc_ref_metric(i)->name, (long long)v);
            if (o->plan) {
                printf(",%lld,", (long long)p);
                s_csv_pct(v, p);
            }
            if (o->compare) {
                printf(",%lld,", (long long)c);
                if (c)
                    s_csv_pct(v - c, c);
            }
            putchar('\n');
        }
        return ferror(stdout) ? KC_EX_IOERR : 0;
    }
    printf("key,label,records");
    for (int i = 0; i < KC_METRIC_COUNT; i++)
        printf(",%s", kc_ref_metric(i)->name);
    bool plan_rows = o->plan && o->f.by != KC_BY_MONTH;
    for (int i = 0; plan_rows && i < KC_METRIC_COUNT; i++)
        printf(",plan_%s", kc_ref_metric(i)->name);
    for (int i = 0; o->compare && i < KC_METRIC_COUNT; i++)
        printf(",compare_%s", kc_ref_metric(i)->name);
    putchar('\n');
    for (int r = 0; r < KC_CELLS_ROWS; r++) {
        if (!s_row_used(a, o, r))
            continue;
        char key[16];
        int scheme;
        const char *label = s_row_label(o, r, key, sizeof key, &scheme);
        s_csv_field(key);
        putchar(',');
        s_csv_field(label);
        printf(",%llu", (unsigned long long)a->cur.row[r].events);
        for (int i = 0; i < KC_METRIC_COUNT; i++)
            printf(",%lld", (long long)a->cur.row[r].m[i]);
        for (int i = 0; plan_rows && i < KC_METRIC_COUNT; i++)
            printf(",%lld", (long long)a->plan.row[r].m[i]);
        for (int i = 0; o->compare && i < KC_METRIC_COUNT; i++)
            printf(",%lld", (long long)a->cmp.row[r].m[i]);
        putchar('\n');
    }
    return ferror(stdout) ? KC_EX_IOERR : 0;
}

/* ---- table ---- */

static char *s_value(char *buf, size_t cap, int metric, int64_t v, kc_lang_t lang)
{
    if (metric >= 0 && kc_ref_metric(metric)->is_vnd)
        return kc_fmt_money(buf, cap, v, lang);
    return kc_fmt_count(buf, cap, v, lang);
}

static void s_print_header(const s_opts_t *o)
{
    bool vi = o->lang == KC_LANG_VI;
    char period[64];
    kc_cli_period_label(period, sizeof period, o->year, o->m_from, o->m_to, o->lang);
    printf("%s %s · %s %s", vi ? "kho" : "store", o->store, period,
           o->kind == 2 ? (vi ? "kế hoạch" : "plan") : (vi ? "thực hiện" : "actual"));
    for (size_t i = 0; i < o->f.n_regions; i++)
        printf(" · %s", kc_cli_region_label(o->f.regions[i], o->lang));
    for (size_t i = 0; i < o->f.n_provinces; i++) {
        const kc_province_t *p =
            kc_ref_province(o->f.units == 34 ? 34 : kc_ref_scheme_for(o->year * 100 + o->m_from),
                            o->f.provinces[i]);
        printf(" · %02u %s", o->f.provinces[i], p ? p->name : "");
    }
    for (size_t i = 0; i < kc_ref_activity_count(); i++) {
        const kc_activity_t *a = kc_ref_activity_at(i);
        if (o->f.activity[a->id])
            printf(" · %s", a->code);
    }
    for (int i = 1; i <= 3; i++)
        if (o->f.fund[i])
            printf(" · %s", kc_cli_fund_name(i));
    if (o->f.units == 34)
        printf(" · %s", vi ? "đơn vị 34 tỉnh" : "34-province units");
    if (o->as_of) {
        char t[48];
        printf("\n%s %llu %s", vi ? "tại thời điểm: sau" : "as of: after",
               (unsigned long long)o->asof.offset,
               vi ? "bản ghi đầu của nhật ký" : "first log entries");
        if (o->as_of_time)
            printf(" · %s %s", vi ? "đến" : "received by", s_fmt_time(t, sizeof t, o->as_of_ns));
        if (o->asof.offset)
            printf(" · %s %s", vi ? "bản ghi cuối" : "last entry",
                   s_fmt_time(t, sizeof t, o->asof.received_ns));
        printf(" · %s %llu", vi ? "nhật ký hiện có" : "log now",
               (unsigned long long)o->asof.log_size);
    }
    printf("\n\n");
}

static int s_print_table(const s_opts_t *o, const s_answer_t *a)
{
    bool vi = o->lang == KC_LANG_VI;
    char buf[KC_FMT_BUF], period[64], cperiod[64], plan_h[64];
    kc_cli_period_label(period, sizeof period, o->year, o->m_from, o->m_to, o->lang);
    if (o->compare)
        kc_cli_period_label(cperiod, sizeof cperiod, o->compare, o->m_from, o->m_to, o->lang);
    snprintf(plan_h, sizeof plan_h, vi ? "kế hoạch năm %d" : "plan %d", o->year);
    const char *pct_h = vi ? "% kế hoạch" : "% of plan";
    const char *chg_h = vi ? "so cùng kỳ" : "change";
    const char *rec_label = vi ? "số bản ghi" : "records";
    s_print_header(o);
    if (o->f.by == KC_BY_NONE) {
        kc_table_t *t = kc_table_new(7, 1);
        if (!t)
            return KC_EX_SOFTWARE;
        kc_table_row(t);
        kc_table_set(t, 0, vi ? "chỉ tiêu" : "metric");
        kc_table_set(t, 1, period);
        size_t col = 2;
        if (o->plan) {
            kc_table_set(t, col++, plan_h);
            kc_table_set(t, col++, pct_h);
        }
        if (o->compare) {
            kc_table_set(t, col++, cperiod);
            kc_table_set(t, col++, chg_h);
        }
        for (int i = 0; i <= KC_METRIC_COUNT; i++) {
            bool rec = i == KC_METRIC_COUNT;
            int64_t v = rec ? (int64_t)a->cur.total.events : a->cur.total.m[i];
            int64_t p = rec ? (int64_t)a->plan.total.events : a->plan.total.m[i];
            int64_t c = rec ? (int64_t)a->cmp.total.events : a->cmp.total.m[i];
            kc_table_row(t);
            kc_table_set(t, 0, rec ? rec_label : kc_cli_metric_label(i, o->lang));
            kc_table_set(t, 1, s_value(buf, sizeof buf, rec ? -1 : i, v, o->lang));
            col = 2;
            if (o->plan) {
                kc_table_set(t, col++, s_value(buf, sizeof buf, rec ? -1 : i, p, o->lang));
                kc_table_set(t, col++, kc_fmt_percent(buf, sizeof buf, v, p, o->lang));
            }
            if (o->compare) {
                kc_table_set(t, col++, s_value(buf, sizeof buf, rec ? -1 : i, c, o->lang));
                kc_table_set(t, col++, kc_fmt_change(buf, sizeof buf, v, c, o->lang));
            }
        }
        kc_table_print(t, stdout);
        kc_table_destroy(&t);
        return ferror(stdout) ? KC_EX_IOERR : 0;
    }
    /* grouped: the metrics that carry anything, money with plan/compare columns */
    bool plan_rows = o->plan && o->f.by != KC_BY_MONTH;
    int shown[KC_METRIC_COUNT], n_shown = 0;
    for (int i = 0; i < KC_METRIC_COUNT; i++)
        if (a->cur.total.m[i] || (plan_rows && a->plan.total.m[i]) ||
            (o->compare && a->cmp.total.m[i]))
            shown[n_shown++] = i;
    if (n_shown == 0)
        shown[n_shown++] = KC_M_AMOUNT_VND;
    size_t cols = 3 + (size_t)n_shown * 5;
    kc_table_t *t = kc_table_new(cols, 2);
    if (!t)
        return KC_EX_SOFTWARE;
    kc_table_row(t);
    kc_table_set(t, 0,
                 o->f.by == KC_BY_PROVINCE   ? (vi ? "mã" : "code")
                 : o->f.by == KC_BY_ACTIVITY ? (vi ? "mã" : "code")
                                             : (vi ? "tháng" : "month"));
    kc_table_set(t, 1,
                 o->f.by == KC_BY_PROVINCE   ? (vi ? "tỉnh" : "province")
                 : o->f.by == KC_BY_ACTIVITY ? (vi ? "hoạt động" : "activity")
                                             : "");
    size_t col = 2;
    for (int k = 0; k < n_shown; k++) {
        int i = shown[k];
        bool vnd = kc_ref_metric(i)->is_vnd;
        kc_table_set(t, col++, kc_cli_metric_label(i, o->lang));
        if (plan_rows && vnd && a->plan.total.m[i]) {
            kc_table_set(t, col++, plan_h);
            kc_table_set(t, col++, pct_h);
        }
        if (o->compare && vnd) {
            kc_table_set(t, col++, cperiod);
            kc_table_set(t, col++, chg_h);
        }
    }
    kc_table_set(t, col, rec_label);
    for (int r = 0; r <= KC_CELLS_ROWS; r++) {
        bool total = r == KC_CELLS_ROWS;
        if (!total && !s_row_used(a, o, r))
            continue;
        const kc_totals_t *cur = total ? &a->cur.total : &a->cur.row[r];
        const kc_totals_t *pl = total ? &a->plan.total : &a->plan.row[r];
        const kc_totals_t *cm = total ? &a->cmp.total : &a->cmp.row[r];
        kc_table_row(t);
        if (total) {
            kc_table_set(t, 0, vi ? "tổng" : "total");
        } else {
            char key[16];
            int scheme;
            const char *label = s_row_label(o, r, key, sizeof key, &scheme);
            kc_table_set(t, 0, key);
            kc_table_set(t, 1, label);
        }
        col = 2;
        for (int k = 0; k < n_shown; k++) {
            int i = shown[k];
            bool vnd = kc_ref_metric(i)->is_vnd;
            kc_table_set(t, col++, s_value(buf, sizeof buf, i, cur->m[i], o->lang));
            if (plan_rows && vnd && a->plan.total.m[i]) {
                kc_table_set(t, col++, s_value(buf, sizeof buf, i, pl->m[i], o->lang));
                kc_table_set(t, col++,
                             kc_fmt_percent(buf, sizeof buf, cur->m[i], pl->m[i], o->lang));
            }
            if (o->compare && vnd) {
                kc_table_set(t, col++, s_value(buf, sizeof buf, i, cm->m[i], o->lang));
                kc_table_set(t, col++,
                             kc_fmt_change(buf, sizeof buf, cur->m[i], cm->m[i], o->lang));
            }
        }
        kc_table_set(t, col, kc_fmt_count(buf, sizeof buf, (int64_t)cur->events, o->lang));
    }
    kc_table_print(t, stdout);
    kc_table_destroy(&t);
    if (o->plan && o->f.by == KC_BY_MONTH) { /* plans are annual: one line below */
        char pct[KC_FMT_BUF];
        int64_t act = a->cur.total.m[KC_M_AMOUNT_VND], pl = a->plan.total.m[KC_M_AMOUNT_VND];
        printf("\n%s: %s (%s %s)\n", plan_h, s_value(buf, sizeof buf, KC_M_AMOUNT_VND, pl, o->lang),
               pct_h, kc_fmt_percent(pct, sizeof pct, act, pl, o->lang));
    }
    return ferror(stdout) ? KC_EX_IOERR : 0;
}

static int s_answer(s_opts_t *o, kc_txn_t *txn, s_answer_t *a)
{
    kc_cells_src_t src = {.txn = txn};
    int rc = 0;
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

int main(int argc, char **argv)
{
    s_opts_t o;
    bool done = false;
    int rc = s_parse(argc, argv, &o, &done);
    if (rc || done)
        return rc;
    kc_log_set_ident(PROG);
    kc_store_t *store = NULL;
    rc = kc_cli_open_store(PROG, o.store, &store);
    if (rc)
        return rc;
    s_answer_t *a = calloc(1, sizeof *a);
    kc_txn_t *txn = NULL;
    int err = a ? kc_store_read_begin(store, &txn) : KC_ENOMEM;
    if (err == 0)
        err = s_answer(&o, txn, a);
    kc_txn_end(&txn); /* one snapshot: every figure is read before it ends */
    kc_store_close(&store);
    if (err) {
        fprintf(stderr, PROG ": reading %s: %s\n", o.store, kc_strerror(err));
        free(a);
        return err == KC_EOVERFLOW ? KC_EX_DATAERR : KC_EX_IOERR;
    }
    switch (o.format) {
    case FMT_JSON: rc = s_print_json(&o, a); break;
    case FMT_CSV: rc = s_print_csv(&o, a); break;
    case FMT_TABLE: rc = s_print_table(&o, a); break;
    }
    free(a);
    return rc;
}
