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
 * Figures are 128-bit sums of the int64 cells (kc_cells.h, DESIGN - exact
 * sums), so no store makes an answer fail: JSON and CSV print them as exact
 * integers of any size (JSON through kc_json.h); only the table rounds.
 *
 * Point in time (--as-of TIME, --as-of-offset N): every figure comes from the
 * totals as they stood after the first N log entries of the same snapshot,
 * built in memory from the latest checkpoint at or before N plus a replay of
 * the entries after it (kc_cells_asof, tools/common/kc_cells.h), then summed
 * exactly like the live totals. TIME selects the entries received at or
 * before it (received_ns never decreases along the log: kc_checkpoint.h):
 *   2026-11-27 10:00:00             local time (TZ, /etc/localtime): what an
 *   2026-11-27T10:00:00             auditor reads off a wall clock; 'T' or a
 *                                   space; fractions of a second up to ns
 *   2026-11-27T10:00:00Z            an instant, UTC, or at an explicit offset
 *   2026-11-27T17:00:00.5+07:00     (+HH:MM, +HHMM, +HH), kept as given
 *   2026-11-27, 2026-11-27+07:00    the END of that day (its last nanosecond),
 *                                   local, or in the given offset (Z: UTC)
 * A local time the clocks skip or repeat (DST) is refused: a zone must say
 * which instant is meant (core/kc_qry.c, kc_qry_parse_time). The HTTP API's
 * as_of keeps UTC for a bare date and needs a zone otherwise (kc_qry.h).
 * N (or TIME) past the log's end means now. JSON gains "as_of".
 *
 * CSV is read by people in a spreadsheet as much as by programs (issue 16):
 * it starts with a UTF-8 byte order mark, without which Excel on Windows reads
 * "Bình Thuận" as cp1252 (--no-bom for programs that do not skip it); with
 * --lang vi its headers and labels are the table's Vietnamese ones (with
 * --lang en the machine names, unchanged); --total adds a totals row to a
 * grouped CSV, the exact sum of the rows above it. Numbers stay exact
 * integers in every language. The table gives each column of money one scale,
 * its largest value's (kc_fmt_money_scale), so rows compare at a glance.
 *
 * --completeness (issue 18): instead of totals, which province reported
 * which month, on time, late or not at all (core/kc_cycle.h; definitions in
 * docs/CYCLE.md), from the same snapshot; --year, --months, --region,
 * --province, --units and --as-of TIME apply, the other filters are refused.
 * The table is a province x month grid of one mark per state (followed by s
 * signed off, A approved, r reopened) and a count of each state per month;
 * CSV one row per province and month; JSON
 * kc_cycle_json (GET /v1/completeness's document).
 */
#include "kc_cells.h"
#include "kc_cli.h"
#include "kc_conf.h"
#include "kc_csvout.h"
#include "kc_cycle.h"
#include "kc_err.h"
#include "kc_filter.h"
#include "kc_fmt.h"
#include "kc_json.h"
#include "kc_jtext.h"
#include "kc_label.h"
#include "kc_log.h"
#include "kc_qry.h"
#include "kc_table.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PROG "kc-query"

/* CSV options of this command only (kc_qry_set knows the shared ones) */
static bool s_no_bom, s_total, s_completeness;

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
                 "  --province CODE|NAME two-digit code or name, with or without diacritics\n"
                 "                       ('Cần Thơ', 'Can Tho', 'TP. Hồ Chí Minh'; repeatable);\n"
                 "                       provinces and regions together select their union\n"
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
                 "  --lang en|vi         labels and number format of the table, headers and\n"
                 "                       labels of CSV (default en: CSV's machine names)\n"
                 "  --no-bom             CSV without the UTF-8 byte order mark it starts with\n"
                 "                       (for programs; spreadsheets need it)\n"
                 "  --total              a totals row under a grouped CSV (--by; the table\n"
                 "                       always has one)\n"
                 "  --as-of TIME         the totals as they stood at TIME: the log entries\n"
                 "                       received at or before it. TIME is local time,\n"
                 "                       2026-11-27 10:00:00 or 2026-11-27T10:00:00, or has a\n"
                 "                       zone: 2026-11-27T10:00:00Z, 2026-11-27T17:00:00+07:00\n"
                 "                       (fractions of a second allowed), or a date\n"
                 "                       2026-11-27 (or 2026-11-27+07:00) = the END of that\n"
                 "                       day, local time (or in that offset)\n"
                 "  --as-of-offset N     the totals after the first N log entries (0..N-1)\n"
                 "                       (both: past the log's end = now; JSON adds \"as_of\")\n"
                 "  --completeness       which province reported each month of --months: on\n"
                 "                       time, late, missing (deadline passed, no report) or\n"
                 "                       not yet due; takes --year, --months, --region,\n"
                 "                       --province, --units 34|63, --as-of TIME, --format,\n"
                 "                       --lang (docs/CYCLE.md)\n"
                 "  --config FILE        read options from FILE (default: /etc/kcpipe/query.conf\n"
                 "                       if it exists); options given here win\n"
                 "  --no-config          read no config file\n"
                 "  --check-config       check the config file and options: print 'FILE: ok'\n"
                 "                       and exit 0, or each error as FILE:LINE and exit 78\n"
                 "  -h, --help           this help\n"
                 "  -V, --version        print the version\n"
                 "\n"
                 "A cell belongs to a region by kc_ref_region_of(province, its own period);\n"
                 "a province code is read under the scheme in force for each period.\n"
                 "Consulting revenue (revenue_vnd) is its own metric, never part of amount_vnd.\n"
                 "Exit: 0 ok, 64 usage, 65 store format, 66 no store, 70/74 other errors.\n");
}

/* optarg is the value at fault inside the option loop (NULL after it): an
 * error about a value from the config file names its FILE:LINE. */
static int s_usage_error(const char *msg)
{
    fprintf(stderr, "%s" PROG ": %s\nTry '" PROG " --help'.\n", kc_conf_blame(optarg), msg);
    return kc_conf_usage_exit(optarg, KC_EX_USAGE);
}

static int s_parse(int argc, char **argv, kc_qry_opts_t *o, bool *done)
{
    static const struct option opts[] = {
        {"store", required_argument, NULL, 0},    {"region", required_argument, NULL, 0},
        {"province", required_argument, NULL, 0}, {"year", required_argument, NULL, 0},
        {"months", required_argument, NULL, 0},   {"activity", required_argument, NULL, 0},
        {"kind", required_argument, NULL, 0},     {"fund", required_argument, NULL, 0},
        {"by", required_argument, NULL, 0},       {"plan", no_argument, NULL, 0},
        {"compare", required_argument, NULL, 0},  {"units", required_argument, NULL, 0},
        {"format", required_argument, NULL, 0},   {"lang", required_argument, NULL, 0},
        {"as-of", required_argument, NULL, 0},    {"as-of-offset", required_argument, NULL, 0},
        {"no-bom", no_argument, NULL, 0},         {"total", no_argument, NULL, 0},
        {"completeness", no_argument, NULL, 0},   {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},      {NULL, 0, NULL, 0},
    };
    int mrc = kc_conf_main(PROG, "query", opts, &argc, &argv);
    if (mrc)
        return mrc;
    char err[256];
    kc_qry_init(o);
    opterr = 0;
    int c, idx;
    while ((c = getopt_long(argc, argv, ":hV", opts, &idx)) != -1) {
        switch (c) {
        case 'h':
            s_usage(stdout);
            *done = true;
            return 0;
        case 'V':
            printf(PROG " %s\n", KC_VERSION);
            *done = true;
            return 0;
        case 0: /* one named option: kc_qry applies it */
            if (strcmp(opts[idx].name, "no-bom") == 0) {
                s_no_bom = true;
                break;
            }
            if (strcmp(opts[idx].name, "total") == 0) {
                s_total = true;
                break;
            }
            if (strcmp(opts[idx].name, "completeness") == 0) {
                s_completeness = true;
                break;
            }
            if (kc_qry_set(o, KC_QRY_CLI, opts[idx].name, optarg, err, sizeof err) != 0)
                return s_usage_error(err);
            break;
        case ':':
            snprintf(err, sizeof err, "option '%s' needs an argument", argv[optind - 1]);
            return s_usage_error(err);
        default:
            snprintf(err, sizeof err, "unknown option '%s'", argv[optind - 1]);
            return s_usage_error(err);
        }
    }
    if (optind < argc) {
        snprintf(err, sizeof err, "unexpected argument '%s'", argv[optind]);
        return s_usage_error(err);
    }
    if (kc_qry_finish(o, KC_QRY_CLI, err, sizeof err) != 0)
        return s_usage_error(err);
    if (s_completeness && kc_cycle_check_opts(o, KC_QRY_CLI, err, sizeof err) != 0)
        return s_usage_error(err);
    if (s_completeness && s_total)
        return s_usage_error("--total does not apply to --completeness");
    if (s_total && o->f.by == KC_BY_NONE)
        return s_usage_error("--total needs --by (without it every figure is a total)");
    if (kc_conf_main_check_done())
        *done = true;
    return 0;
}

/* ---- JSON ---- */

static int s_print_json(const kc_qry_opts_t *o, const kc_qry_answer_t *a)
{
    json_t *root = kc_qry_json(o, a);
    if (!root)
        return KC_EX_SOFTWARE;
    int rc = kc_json_dumpf(root, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
    fputc('\n', stdout);
    json_decref(root);
    return rc == 0 ? 0 : KC_EX_IOERR;
}

/* ---- CSV ---- */

static void s_csv_field(const char *s)
{
    kc_csv_field(stdout, s);
}

static void s_csv_int(kc_i128 v)
{
    char b[KC_I128_DEC];
    fputs(kc_i128_str(b, sizeof b, v), stdout);
}

static void s_csv_pct(kc_i128 num, kc_i128 den)
{
    int ok;
    double p = kc_ratio_percent(num, den, &ok);
    if (ok)
        printf("%.2f", p);
}

/* A header: the machine name (--lang en, for programs), or the table's label
 * (--lang vi); `what` qualifies a metric's plan or compare column in
 * Vietnamese: "kinh phí (kế hoạch năm 2021)". */
static void s_csv_head(const kc_qry_opts_t *o, const char *machine, const char *prefix,
                       const char *label, const char *what)
{
    putchar(',');
    if (o->lang != KC_LANG_VI) {
        printf("%s%s", prefix, machine);
        return;
    }
    char b[192];
    if (what)
        snprintf(b, sizeof b, "%s (%s)", label, what);
    else
        snprintf(b, sizeof b, "%s", label);
    s_csv_field(b);
}

static int s_print_csv(const kc_qry_opts_t *o, const kc_qry_answer_t *a)
{
    bool vi = o->lang == KC_LANG_VI;
    char period[64], cperiod[64], plan_h[64];
    kc_label_period(period, sizeof period, o->year, o->m_from, o->m_to, o->lang);
    if (o->compare)
        kc_label_period(cperiod, sizeof cperiod, o->compare, o->m_from, o->m_to, o->lang);
    snprintf(plan_h, sizeof plan_h, "kế hoạch năm %d", o->year);
    if (!s_no_bom) /* see DESIGN: a spreadsheet reads the file as UTF-8 */
        kc_csv_bom(stdout);
    if (o->f.by == KC_BY_NONE) {
        if (vi) {
            s_csv_field("chỉ tiêu");
            s_csv_head(o, NULL, NULL, period, NULL);
        } else {
            fputs("metric,value", stdout);
        }
        if (o->plan) {
            s_csv_head(o, "plan", "", plan_h, NULL);
            s_csv_head(o, "percent_of_plan", "", "% kế hoạch", NULL);
        }
        if (o->compare) {
            s_csv_head(o, "compare", "", cperiod, NULL);
            s_csv_head(o, "change_percent", "", "so cùng kỳ (%)", NULL);
        }
        putchar('\n');
        for (int i = 0; i <= KC_METRIC_COUNT; i++) {
            bool rec = i == KC_METRIC_COUNT;
            kc_i128 v = rec ? a->cur.total.events : a->cur.total.m[i];
            kc_i128 p = rec ? a->plan.total.events : a->plan.total.m[i];
            kc_i128 c = rec ? a->cmp.total.events : a->cmp.total.m[i];
            s_csv_field(vi    ? (rec ? "số bản ghi" : kc_label_metric(i, o->lang))
                        : rec ? "records"
                              : kc_ref_metric(i)->name);
            putchar(',');
            s_csv_int(v);
            if (o->plan) { /* empty where there is no plan: records never have one */
                putchar(',');
                if (!rec && p)
                    s_csv_int(p);
                putchar(',');
                if (!rec)
                    s_csv_pct(v, p);
            }
            if (o->compare) {
                putchar(',');
                s_csv_int(c);
                putchar(',');
                if (c)
                    s_csv_pct(v - c, c);
            }
            putchar('\n');
        }
        return ferror(stdout) ? KC_EX_IOERR : 0;
    }
    if (vi) {
        s_csv_field(o->f.by == KC_BY_MONTH ? "tháng" : "mã");
        s_csv_head(o, NULL, NULL,
                   o->f.by == KC_BY_PROVINCE   ? "tỉnh"
                   : o->f.by == KC_BY_ACTIVITY ? "hoạt động"
                                               : "tên",
                   NULL);
        if (o->f.by == KC_BY_PROVINCE)
            s_csv_head(o, NULL, NULL, "danh mục", NULL);
        s_csv_head(o, NULL, NULL, "số bản ghi", NULL);
    } else {
        printf("key,label%s,records", o->f.by == KC_BY_PROVINCE ? ",scheme" : "");
    }
    for (int i = 0; i < KC_METRIC_COUNT; i++)
        s_csv_head(o, kc_ref_metric(i)->name, "", kc_label_metric(i, o->lang), NULL);
    bool plan_rows = o->plan && o->f.by != KC_BY_MONTH;
    for (int i = 0; plan_rows && i < KC_METRIC_COUNT; i++)
        s_csv_head(o, kc_ref_metric(i)->name, "plan_", kc_label_metric(i, o->lang), plan_h);
    for (int i = 0; o->compare && i < KC_METRIC_COUNT; i++)
        s_csv_head(o, kc_ref_metric(i)->name, "compare_", kc_label_metric(i, o->lang), cperiod);
    putchar('\n');
    kc_totals_t sum[3] = {{0}}; /* --total: the rows printed, current, plan, compare */
    for (int r = 0; r < KC_CELLS_ROWS; r++) {
        if (!kc_qry_row_used(a, o, r))
            continue;
        char key[16];
        int scheme;
        const char *label = kc_qry_row_label(o, r, key, sizeof key, &scheme);
        if (vi && o->f.by == KC_BY_ACTIVITY && kc_ref_activity_by_id((uint8_t)r))
            label = kc_label_activity(kc_ref_activity_by_id((uint8_t)r), o->lang);
        s_csv_field(key);
        putchar(',');
        s_csv_field(label);
        if (o->f.by == KC_BY_PROVINCE) /* 63 until 2025-06, 34 from 2025-07 */
            printf(",%d", scheme);
        putchar(',');
        s_csv_int(a->cur.row[r].events);
        sum[0].events += a->cur.row[r].events;
        for (int i = 0; i < KC_METRIC_COUNT; i++) {
            putchar(',');
            s_csv_int(a->cur.row[r].m[i]);
            sum[0].m[i] += a->cur.row[r].m[i];
        }
        for (int i = 0; plan_rows && i < KC_METRIC_COUNT; i++) {
            putchar(',');
            if (a->plan.row[r].m[i]) /* empty where there is no plan */
                s_csv_int(a->plan.row[r].m[i]);
            sum[1].m[i] += a->plan.row[r].m[i];
        }
        for (int i = 0; o->compare && i < KC_METRIC_COUNT; i++) {
            putchar(',');
            s_csv_int(a->cmp.row[r].m[i]);
            sum[2].m[i] += a->cmp.row[r].m[i];
        }
        putchar('\n');
    }
    if (s_total) { /* sums of < 2^93 (kc_cells.h) over 256 rows: no overflow */
        fputs(vi ? "tổng," : "total,", stdout);
        if (o->f.by == KC_BY_PROVINCE)
            putchar(',');
        putchar(',');
        s_csv_int(sum[0].events);
        for (int i = 0; i < KC_METRIC_COUNT; i++) {
            putchar(',');
            s_csv_int(sum[0].m[i]);
        }
        for (int i = 0; plan_rows && i < KC_METRIC_COUNT; i++) {
            putchar(',');
            if (sum[1].m[i])
                s_csv_int(sum[1].m[i]);
        }
        for (int i = 0; o->compare && i < KC_METRIC_COUNT; i++) {
            putchar(',');
            s_csv_int(sum[2].m[i]);
        }
        putchar('\n');
    }
    return ferror(stdout) ? KC_EX_IOERR : 0;
}

/* ---- table ---- */

static char *s_value(char *buf, size_t cap, int metric, kc_i128 v, kc_lang_t lang)
{
    if (metric >= 0 && kc_ref_metric(metric)->is_vnd)
        return kc_fmt_money(buf, cap, v, lang);
    return kc_fmt_count(buf, cap, v, lang);
}

static void s_print_header(const kc_qry_opts_t *o)
{
    bool vi = o->lang == KC_LANG_VI;
    char period[64];
    kc_label_period(period, sizeof period, o->year, o->m_from, o->m_to, o->lang);
    printf("%s %s · %s %s", vi ? "kho" : "store", o->store, period,
           o->kind == 2 ? (vi ? "kế hoạch" : "plan") : (vi ? "thực hiện" : "actual"));
    for (size_t i = 0; i < o->f.n_regions; i++)
        printf(" · %s", kc_label_region(o->f.regions[i], o->lang));
    for (size_t i = 0; i < o->f.n_provinces; i++) {
        int sch = o->f.province_scheme[i] ? o->f.province_scheme[i]
                  : o->f.units == 34      ? 34
                                          : kc_ref_scheme_for(o->year * 100 + o->m_from);
        const kc_province_t *p = kc_ref_province(sch, o->f.provinces[i]);
        printf(" · %02u %s", o->f.provinces[i], p ? p->name : "");
    }
    for (size_t i = 0; i < kc_ref_activity_count(); i++) {
        const kc_activity_t *a = kc_ref_activity_at(i);
        if (o->f.activity[a->id])
            printf(" · %s", a->code);
    }
    for (int i = 1; i <= 3; i++)
        if (o->f.fund[i])
            printf(" · %s", kc_filter_fund_name(i));
    if (o->f.units == 34)
        printf(" · %s", vi ? "đơn vị 34 tỉnh" : "34-province units");
    if (o->as_of) {
        char t[48];
        printf("\n%s %llu %s", vi ? "tại thời điểm: sau" : "as of: after",
               (unsigned long long)o->asof.offset,
               vi ? "bản ghi đầu của nhật ký" : "first log entries");
        if (o->as_of_time)
            printf(" · %s %s", vi ? "đến" : "received by",
                   kc_qry_fmt_time(t, sizeof t, o->as_of_ns));
        if (o->asof.offset)
            printf(" · %s %s", vi ? "bản ghi cuối" : "last entry",
                   kc_qry_fmt_time(t, sizeof t, o->asof.received_ns));
        printf(" · %s %llu", vi ? "nhật ký hiện có" : "log now",
               (unsigned long long)o->asof.log_size);
    }
    printf("\n\n");
}

static int s_print_table(const kc_qry_opts_t *o, const kc_qry_answer_t *a)
{
    bool vi = o->lang == KC_LANG_VI;
    char buf[KC_FMT_BUF], period[64], cperiod[64], plan_h[64];
    kc_label_period(period, sizeof period, o->year, o->m_from, o->m_to, o->lang);
    if (o->compare)
        kc_label_period(cperiod, sizeof cperiod, o->compare, o->m_from, o->m_to, o->lang);
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
            kc_i128 v = rec ? a->cur.total.events : a->cur.total.m[i];
            kc_i128 p = rec ? a->plan.total.events : a->plan.total.m[i];
            kc_i128 c = rec ? a->cmp.total.events : a->cmp.total.m[i];
            kc_table_row(t);
            kc_table_set(t, 0, rec ? rec_label : kc_label_metric(i, o->lang));
            kc_table_set(t, 1, s_value(buf, sizeof buf, rec ? -1 : i, v, o->lang));
            col = 2;
            if (o->plan) { /* "—" where there is no plan: records never have one */
                kc_table_set(t, col++, rec || !p ? "—" : s_value(buf, sizeof buf, i, p, o->lang));
                kc_table_set(t, col++, rec ? "—" : kc_fmt_percent(buf, sizeof buf, v, p, o->lang));
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
    /* a merger year in native units: a unit may have a row in each scheme
     * (79 Hồ Chí Minh of scheme 63 until 2025-06 and of scheme 34 from
     * 2025-07), each with its own plan; a scheme column tells them apart */
    bool scheme_col = false;
    for (int r = 0, first = 0; o->f.by == KC_BY_PROVINCE && r < KC_CELLS_ROWS; r++) {
        char key[16];
        int scheme;
        if (!kc_qry_row_used(a, o, r))
            continue;
        kc_qry_row_label(o, r, key, sizeof key, &scheme);
        if (first && scheme != first)
            scheme_col = true;
        first = scheme;
    }
    /* one scale per column of money: its largest value's, the total row's
     * included (DESIGN); [0] figures, [1] plan, [2] compare */
    kc_fmt_scale_t scale[3][KC_METRIC_COUNT];
    for (int k = 0; k < n_shown; k++) {
        int i = shown[k];
        for (int w = 0; w < 3; w++) {
            const kc_cells_result_t *res = w == 0 ? &a->cur : w == 1 ? &a->plan : &a->cmp;
            kc_i128 v[KC_CELLS_ROWS + 1];
            size_t n = 0;
            v[n++] = res->total.m[i];
            for (int r = 0; r < KC_CELLS_ROWS; r++)
                if (kc_qry_row_used(a, o, r))
                    v[n++] = res->row[r].m[i];
            scale[w][i] = kc_fmt_money_scale(v, n);
        }
    }
    size_t lead = scheme_col ? 3 : 2;
    size_t cols = lead + 1 + (size_t)n_shown * 5;
    kc_table_t *t = kc_table_new(cols, lead);
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
    if (scheme_col)
        kc_table_set(t, 2, vi ? "danh mục" : "scheme");
    size_t col = lead;
    for (int k = 0; k < n_shown; k++) {
        int i = shown[k];
        bool vnd = kc_ref_metric(i)->is_vnd;
        kc_table_set(t, col++, kc_label_metric(i, o->lang));
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
        if (!total && !kc_qry_row_used(a, o, r))
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
            const char *label = kc_qry_row_label(o, r, key, sizeof key, &scheme);
            kc_table_set(t, 0, key);
            kc_table_set(t, 1, label);
            if (scheme_col)
                kc_table_set(t, 2,
                             scheme == 34 ? (vi ? "34 tỉnh" : "34 provinces")
                                          : (vi ? "63 tỉnh" : "63 provinces"));
        }
        col = lead;
        for (int k = 0; k < n_shown; k++) {
            int i = shown[k];
            bool vnd = kc_ref_metric(i)->is_vnd;
            kc_table_set(t, col++,
                         vnd ? kc_fmt_money_in(buf, sizeof buf, cur->m[i], scale[0][i], o->lang)
                             : s_value(buf, sizeof buf, i, cur->m[i], o->lang));
            if (plan_rows && vnd && a->plan.total.m[i]) { /* "—": no plan of its own */
                kc_table_set(t, col++,
                             pl->m[i]
                                 ? kc_fmt_money_in(buf, sizeof buf, pl->m[i], scale[1][i], o->lang)
                                 : "—");
                kc_table_set(t, col++,
                             kc_fmt_percent(buf, sizeof buf, cur->m[i], pl->m[i], o->lang));
            }
            if (o->compare && vnd) {
                kc_table_set(t, col++,
                             kc_fmt_money_in(buf, sizeof buf, cm->m[i], scale[2][i], o->lang));
                kc_table_set(t, col++,
                             kc_fmt_change(buf, sizeof buf, cur->m[i], cm->m[i], o->lang));
            }
        }
        kc_table_set(t, col, kc_fmt_count(buf, sizeof buf, cur->events, o->lang));
    }
    kc_table_print(t, stdout);
    kc_table_destroy(&t);
    if (o->plan && o->f.by == KC_BY_MONTH) { /* plans are annual: one line below */
        char pct[KC_FMT_BUF];
        kc_i128 act = a->cur.total.m[KC_M_AMOUNT_VND], pl = a->plan.total.m[KC_M_AMOUNT_VND];
        printf("\n%s: %s (%s %s)\n", plan_h,
               pl ? s_value(buf, sizeof buf, KC_M_AMOUNT_VND, pl, o->lang) : "—", pct_h,
               kc_fmt_percent(pct, sizeof pct, act, pl, o->lang));
    }
    return ferror(stdout) ? KC_EX_IOERR : 0;
}

/* ---- --completeness ---- */

/* One mark per state in the grid (the legend under it names them). */
static const char *s_mark(int state)
{
    switch (state) {
    case KC_CYCLE_ON_TIME: return "✓";
    case KC_CYCLE_LATE: return "!";
    case KC_CYCLE_MISSING: return "✗";
    case KC_CYCLE_NOT_DUE: return "·";
    default: return "";
    }
}

static int s_cycle_table(const kc_qry_opts_t *o, const kc_cycle_table_t *t)
{
    bool vi = o->lang == KC_LANG_VI;
    char buf[64], period[64];
    kc_label_period(period, sizeof period, t->year, t->m_from, t->m_to, o->lang);
    printf("%s %s · %s · %s", vi ? "kho" : "store", o->store,
           vi ? "tình hình báo cáo" : "completeness", period);
    if (t->units == 34)
        printf(" · %s", vi ? "đơn vị 34 tỉnh" : "34-province units");
    for (size_t i = 0; i < o->f.n_regions; i++)
        printf(" · %s", kc_label_region(o->f.regions[i], o->lang));
    printf("\n%s %s · %s %llu\n\n", vi ? "tại thời điểm" : "judged at",
           kc_qry_fmt_time(buf, sizeof buf, t->now_ns), vi ? "bản ghi nhật ký" : "log entries",
           (unsigned long long)t->n);
    int nm = t->m_to - t->m_from + 1;
    kc_table_t *tb = kc_table_new(3 + (size_t)nm, 3);
    if (!tb)
        return KC_EX_SOFTWARE;
    kc_table_row(tb);
    kc_table_set(tb, 0, vi ? "mã" : "code");
    kc_table_set(tb, 1, vi ? "tỉnh" : "province");
    kc_table_set(tb, 2, vi ? "danh mục" : "scheme");
    for (int m = t->m_from; m <= t->m_to; m++) {
        snprintf(buf, sizeof buf, "%02d", m);
        kc_table_set(tb, 3 + (size_t)(m - t->m_from), buf);
    }
    for (size_t i = 0; i < t->nrows; i++) {
        const kc_cycle_row_t *r = &t->rows[i];
        kc_table_row(tb);
        snprintf(buf, sizeof buf, "%02u", r->code);
        kc_table_set(tb, 0, buf);
        kc_table_set(tb, 1, r->name);
        kc_table_set(tb, 2, r->scheme == 34 ? "34" : "63");
        for (int m = t->m_from; m <= t->m_to; m++) {
            const kc_cycle_cell_t *c = &r->month[m];
            snprintf(buf, sizeof buf, "%s%s%s%s", s_mark(c->state), c->signed_off ? "s" : "",
                     c->approved ? "A" : "", c->reopened ? "r" : "");
            kc_table_set(tb, 3 + (size_t)(m - t->m_from), buf);
        }
    }
    for (int s = KC_CYCLE_ON_TIME; s < KC_CYCLE_STATES; s++) {
        kc_table_row(tb);
        snprintf(buf, sizeof buf, "%s %s", s_mark(s),
                 kc_label_cycle_state(kc_cycle_state_name(s), o->lang));
        kc_table_set(tb, 1, buf);
        for (int m = t->m_from; m <= t->m_to; m++) {
            snprintf(buf, sizeof buf, "%u", t->count[m][s]);
            kc_table_set(tb, 3 + (size_t)(m - t->m_from), buf);
        }
    }
    kc_table_print(tb, stdout);
    kc_table_destroy(&tb);
    printf("\ns %s · A %s · r %s\n", kc_label_cycle_state("signed_off", o->lang),
           kc_label_cycle_state("approved", o->lang), kc_label_cycle_state("reopened", o->lang));
    printf("%s", vi ? "hạn nộp (hết ngày, giờ Việt Nam UTC+7):" : "due (end of day, UTC+7):");
    for (int m = t->m_from; m <= t->m_to; m++)
        printf(" %02d→%s", m, kc_cycle_due_day(buf, sizeof buf, t->year, m, t->days[m]));
    printf("\n");
    return ferror(stdout) ? KC_EX_IOERR : 0;
}

static int s_cycle_csv(const kc_qry_opts_t *o, const kc_cycle_table_t *t)
{
    bool vi = o->lang == KC_LANG_VI;
    if (!s_no_bom)
        kc_csv_bom(stdout);
    fputs(vi ? "kỳ,mã,danh mục,tỉnh,vùng,tình trạng,thời điểm báo cáo,hạn nộp,đã xác nhận,"
               "đã duyệt,đã mở lại\n"
             : "period,code,scheme,name,region,state,reported_at,deadline,signed_off,approved,"
               "reopened\n",
          stdout);
    char buf[64];
    for (size_t i = 0; i < t->nrows; i++) {
        const kc_cycle_row_t *r = &t->rows[i];
        for (int m = t->m_from; m <= t->m_to; m++) {
            const kc_cycle_cell_t *c = &r->month[m];
            if (c->state == KC_CYCLE_NONE)
                continue;
            printf("%04d-%02d,%02u,%u,", t->year, m, r->code, r->scheme);
            kc_csv_field(stdout, r->name);
            putchar(',');
            if (r->region)
                kc_csv_field(stdout, vi ? kc_label_region(r->region, o->lang) : r->region);
            putchar(',');
            const char *st = kc_cycle_state_name(c->state);
            kc_csv_field(stdout, vi ? kc_label_cycle_state(st, o->lang) : st);
            putchar(',');
            if (c->reported_ns)
                fputs(kc_qry_fmt_time(buf, sizeof buf, c->reported_ns), stdout);
            printf(",%s,%d,%d,%d\n", kc_qry_fmt_time(buf, sizeof buf, t->deadline_ns[m]),
                   c->signed_off, c->approved, c->reopened);
        }
    }
    return ferror(stdout) ? KC_EX_IOERR : 0;
}

static int s_cycle(const kc_qry_opts_t *o, kc_store_t *store)
{
    kc_cycle_index_t *ix = kc_cycle_index_new();
    kc_cycle_table_t t;
    memset(&t, 0, sizeof t);
    kc_txn_t *txn = NULL;
    int err = ix ? kc_store_read_begin(store, &txn) : KC_ENOMEM;
    if (err == 0)
        err = kc_cycle_answer(ix, txn, o, &t);
    kc_txn_end(&txn);
    kc_cycle_index_free(&ix);
    if (err) {
        fprintf(stderr, PROG ": reading %s: %s\n", o->store, kc_strerror(err));
        kc_cycle_table_free(&t);
        return KC_EX_IOERR;
    }
    int rc = 0;
    if (o->format == KC_QRY_JSON) {
        json_t *doc = kc_cycle_json(&t);
        if (doc)
            json_object_set_new(doc, "store", kc_json_texts(o->store));
        rc = !doc                                              ? KC_EX_SOFTWARE
             : kc_json_dumpf(doc, stdout, JSON_INDENT(2)) == 0 ? 0
                                                               : KC_EX_IOERR;
        if (doc)
            fputc('\n', stdout);
        json_decref(doc);
    } else if (o->format == KC_QRY_CSV) {
        rc = s_cycle_csv(o, &t);
    } else {
        rc = s_cycle_table(o, &t);
    }
    kc_cycle_table_free(&t);
    return rc;
}

int main(int argc, char **argv)
{
    kc_qry_opts_t o;
    bool done = false;
    int rc = s_parse(argc, argv, &o, &done);
    if (rc || done)
        return rc;
    kc_log_set_ident(PROG);
    kc_store_t *store = NULL;
    rc = kc_cli_open_store(PROG, o.store, &store);
    if (rc)
        return rc;
    if (s_completeness) {
        rc = s_cycle(&o, store);
        kc_store_close(&store);
        return rc;
    }
    kc_qry_answer_t *a = calloc(1, sizeof *a);
    kc_txn_t *txn = NULL;
    int err = a ? kc_store_read_begin(store, &txn) : KC_ENOMEM;
    if (err == 0)
        err = kc_qry_answer(&o, txn, a);
    kc_txn_end(&txn); /* one snapshot: every figure is read before it ends */
    kc_store_close(&store);
    if (err) {
        fprintf(stderr, PROG ": reading %s: %s\n", o.store, kc_strerror(err));
        free(a);
        return err == KC_EOVERFLOW ? KC_EX_DATAERR : KC_EX_IOERR;
    }
    switch (o.format) {
    case KC_QRY_JSON: rc = s_print_json(&o, a); break;
    case KC_QRY_CSV: rc = s_print_csv(&o, a); break;
    case KC_QRY_TABLE: rc = s_print_table(&o, a); break;
    }
    free(a);
    return rc;
}
