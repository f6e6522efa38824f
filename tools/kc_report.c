/* kc_report.c - kc-report: the regional khuyen cong report from the store.
 *
 * DESIGN
 * The report a regional conference quotes (DOMAIN.md, "The reference
 * report"): for a region, a year Y and a months range A-B,
 *   - spending of the previous year Y-1 (whole year) and its percent of the
 *     Y-1 plan;
 *   - the plan of Y and its change on the plan of Y-1;
 *   - spending of Y months A-B, its percent of the plan of the whole year Y,
 *     and the change on the same months of Y-1 ("cùng kỳ");
 *   - each activity's figures in both periods, persons_employed with its share
 *     of persons, and the facilities of a clause of Decree 45 (KC3 = KC3a +
 *     KC3b + KC3c, ...) where two or more of its activities supported
 *     facilities in the same period (the report's "168 facilities");
 *   - the provinces whose consulting (TV) revenue beat their yearly plan.
 * Spending is amount_vnd over every activity; consulting revenue is
 * revenue_vnd of TV and never part of it. Every figure comes from one read
 * snapshot of the store, like kc-query, as a 128-bit sum that cannot fail
 * (kc_cells.h, DESIGN - exact sums), formatted exactly (kc_fmt.h).
 */
#include "kc_cells.h"
#include "kc_cli.h"
#include "kc_conf.h"
#include "kc_err.h"
#include "kc_filter.h"
#include "kc_fmt.h"
#include "kc_label.h"
#include "kc_log.h"
#include "kc_table.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROG "kc-report"

typedef struct {
    const char *store;
    kc_cells_filter_t f; /* region/province filter, units */
    int year, m_from, m_to;
    kc_lang_t lang;
} s_opts_t;

typedef struct {
    kc_cells_result_t prev;      /* Y-1 whole year, actual, by activity */
    kc_cells_result_t prev_plan; /* Y-1 plan */
    kc_cells_result_t cur;       /* Y months A-B, actual, by activity */
    kc_cells_result_t cur_plan;  /* Y plan */
    kc_cells_result_t same;      /* Y-1 months A-B, actual */
    kc_cells_result_t tv[4];     /* TV by province: prev, prev plan, cur, cur plan */
} s_data_t;

static void s_usage(FILE *out)
{
    fprintf(out, "Usage: " PROG " --region NAME --year Y [--months A-B] [options]\n"
                 "The regional khuyen cong report: the previous year's spending against its\n"
                 "plan, the period's spending against the plan of its year, the change on\n"
                 "the same months of the previous year, and each activity's figures.\n"
                 "\n"
                 "  --store DIR        the store (default ./var/kcpipe)\n"
                 "  --region NAME      north, central_highlands, south (repeatable)\n"
                 "  --province CODE    a province instead of or besides a region (repeatable)\n"
                 "  --year Y           the report's year (required)\n"
                 "  --months A-B       months of Y (default 1-12)\n"
                 "  --units 34         count pre-2025 provinces under their 2025 successor\n"
                 "  --lang en|vi       language and number format (default en)\n"
                 "  --config FILE      read options from FILE (default: /etc/kcpipe/report.conf\n"
                 "                     if it exists); options given here win\n"
                 "  --no-config        read no config file\n"
                 "  --check-config     check the config file and options: print 'FILE: ok'\n"
                 "                     and exit 0, or each error as FILE:LINE and exit 78\n"
                 "  -h, --help         this help\n"
                 "  -V, --version      print the version\n"
                 "Exit: 0 ok, 64 usage, 65 store format, 66 no store, 70/74 other errors.\n");
}

/* optarg is the value at fault inside the option loop (NULL after it): an
 * error about a value from the config file names its FILE:LINE. */
static int s_usage_error(const char *msg)
{
    fprintf(stderr, "%s" PROG ": %s\nTry '" PROG " --help'.\n", kc_conf_blame(optarg), msg);
    return kc_conf_usage_exit(optarg, KC_EX_USAGE);
}

static int s_parse(int argc, char **argv, s_opts_t *o, bool *done)
{
    enum { O_STORE = 256, O_REGION, O_PROVINCE, O_YEAR, O_MONTHS, O_UNITS, O_LANG };
    static const struct option opts[] = {
        {"store", required_argument, NULL, O_STORE},
        {"region", required_argument, NULL, O_REGION},
        {"province", required_argument, NULL, O_PROVINCE},
        {"year", required_argument, NULL, O_YEAR},
        {"months", required_argument, NULL, O_MONTHS},
        {"units", required_argument, NULL, O_UNITS},
        {"lang", required_argument, NULL, O_LANG},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    int mrc = kc_conf_main(PROG, "report", opts, &argc, &argv);
    if (mrc)
        return mrc;
    char err[256];
    const char *provinces[KC_CELLS_MAX_SEL];
    size_t n_prov = 0;
    long v;
    memset(o, 0, sizeof *o);
    o->store = "./var/kcpipe";
    o->m_from = 1;
    o->m_to = 12;
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
        case O_REGION: rc = kc_filter_add_region(&o->f, optarg, err, sizeof err); break;
        case O_PROVINCE:
            if (n_prov == KC_CELLS_MAX_SEL)
                return s_usage_error("too many --province options");
            provinces[n_prov++] = optarg;
            break;
        case O_YEAR:
            rc = kc_filter_parse_int(optarg, 2001, 2100, &v, "--year", err, sizeof err);
            o->year = (int)v;
            break;
        case O_MONTHS:
            rc = kc_filter_parse_months(optarg, &o->m_from, &o->m_to, err, sizeof err);
            break;
        case O_UNITS: rc = kc_filter_parse_units(optarg, &o->f.units, err, sizeof err); break;
        case O_LANG:
            if (kc_lang_parse(optarg, &o->lang) != 0)
                return s_usage_error("--lang takes en or vi");
            break;
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
        if (kc_filter_add_province(&o->f, provinces[i], err, sizeof err))
            return s_usage_error(err);
    if (!o->year)
        return s_usage_error("--year is required");
    if (o->f.n_regions == 0 && o->f.n_provinces == 0)
        return s_usage_error("--region (or --province) is required");
    if (kc_conf_main_check_done())
        *done = true;
    return 0;
}

static int s_collect(const s_opts_t *o, kc_txn_t *txn, s_data_t *d)
{
    int y = o->year, p = o->year - 1;
    kc_cells_filter_t f = o->f;
    f.by = KC_BY_ACTIVITY;
    int rc = kc_cells_sum(txn, &f, p, 1, 12, 1, &d->prev);
    if (!rc)
        rc = kc_cells_sum(txn, &f, p, 1, 12, 2, &d->prev_plan);
    if (!rc)
        rc = kc_cells_sum(txn, &f, y, o->m_from, o->m_to, 1, &d->cur);
    if (!rc)
        rc = kc_cells_sum(txn, &f, y, 1, 12, 2, &d->cur_plan);
    if (!rc)
        rc = kc_cells_sum(txn, &f, p, o->m_from, o->m_to, 1, &d->same);
    const kc_activity_t *tv = kc_ref_activity_by_code("TV");
    if (tv) {
        kc_cells_filter_t t = o->f;
        t.by = KC_BY_PROVINCE;
        t.activity[tv->id] = true;
        if (!rc)
            rc = kc_cells_sum(txn, &t, p, 1, 12, 1, &d->tv[0]);
        if (!rc)
            rc = kc_cells_sum(txn, &t, p, 1, 12, 2, &d->tv[1]);
        if (!rc)
            rc = kc_cells_sum(txn, &t, y, o->m_from, o->m_to, 1, &d->tv[2]);
        if (!rc)
            rc = kc_cells_sum(txn, &t, y, 1, 12, 2, &d->tv[3]);
    }
    return rc;
}

/* The clause of an activity code: "KC3b" -> "KC3", "KC10" -> "KC10". */
static void s_clause(const char *code, char *out, size_t cap)
{
    snprintf(out, cap, "%s", code);
    size_t n = strlen(out);
    if (n > 2 && out[n - 1] >= 'a' && out[n - 1] <= 'z')
        out[n - 1] = '\0';
}

static bool s_any(const kc_totals_t *t)
{
    for (int i = 0; i < KC_METRIC_COUNT; i++)
        if (t->m[i])
            return true;
    return false;
}

static void s_cell(char *buf, size_t cap, int metric, const kc_totals_t *t, kc_lang_t lang)
{
    kc_i128 v = t->m[metric];
    if (v == 0) {
        snprintf(buf, cap, "—");
        return;
    }
    if (kc_ref_metric(metric)->is_vnd) {
        kc_fmt_money(buf, cap, v, lang);
        return;
    }
    kc_fmt_count(buf, cap, v, lang);
    if (metric == KC_M_PERSONS_EMPLOYED && t->m[KC_M_PERSONS]) {
        char pct[KC_FMT_BUF];
        size_t n = strlen(buf);
        snprintf(buf + n, cap - n, " (%s)",
                 kc_fmt_percent(pct, sizeof pct, v, t->m[KC_M_PERSONS], lang));
    }
}

/* Rows of one activity (or clause subtotal): one per metric with figures. */
static void s_rows(kc_table_t *t, const char *title, const kc_totals_t *a, const kc_totals_t *b,
                   kc_lang_t lang)
{
    char va[KC_FMT_BUF], vb[KC_FMT_BUF];
    bool first = true;
    for (int i = 0; i < KC_METRIC_COUNT; i++) {
        if (!a->m[i] && !b->m[i])
            continue;
        kc_table_row(t);
        if (first)
            kc_table_set(t, 0, title);
        first = false;
        kc_table_set(t, 1, kc_label_metric(i, lang));
        s_cell(va, sizeof va, i, a, lang);
        s_cell(vb, sizeof vb, i, b, lang);
        kc_table_set(t, 2, va);
        kc_table_set(t, 3, vb);
    }
}

/* Facilities of a clause (KC3 = KC3a + KC3b + KC3c, ...), shown where two or
 * more of its activities supported facilities in the same period: the
 * report's "168 facilities" of demonstration models and machinery. */
typedef struct {
    char clause[16];
    kc_i128 fa, fb;  /* facilities in each period */
    int na, nb;      /* activities contributing in each period */
    char parts[128]; /* "KC3a + KC3b" */
} s_clause_t;

static void s_clause_flush(kc_table_t *t, s_clause_t *c, kc_lang_t lang)
{
    if (c->na > 1 || c->nb > 1) {
        char title[192], va[KC_FMT_BUF], vb[KC_FMT_BUF];
        snprintf(title, sizeof title, lang == KC_LANG_VI ? "%s cộng (%s)" : "%s total (%s)",
                 c->clause, c->parts);
        kc_table_row(t);
        kc_table_set(t, 0, title);
        kc_table_set(t, 1, kc_label_metric(KC_M_FACILITIES, lang));
        kc_table_set(t, 2, c->fa ? kc_fmt_count(va, sizeof va, c->fa, lang) : "—");
        kc_table_set(t, 3, c->fb ? kc_fmt_count(vb, sizeof vb, c->fb, lang) : "—");
    }
    memset(c, 0, sizeof *c);
}

static void s_activities(const s_opts_t *o, const s_data_t *d, const char *pa, const char *pb)
{
    bool vi = o->lang == KC_LANG_VI;
    kc_table_t *t = kc_table_new(4, 2);
    if (!t)
        return;
    kc_table_row(t);
    kc_table_set(t, 0, vi ? "Hoạt động" : "Activity");
    kc_table_set(t, 1, vi ? "chỉ tiêu" : "figure");
    kc_table_set(t, 2, pa);
    kc_table_set(t, 3, pb);
    size_t n = kc_ref_activity_count();
    s_clause_t c = {0};
    for (size_t i = 0; i < n; i++) {
        const kc_activity_t *a = kc_ref_activity_at(i);
        char cl[16], title[256];
        s_clause(a->code, cl, sizeof cl);
        if (strcmp(cl, c.clause) != 0) {
            s_clause_flush(t, &c, o->lang);
            snprintf(c.clause, sizeof c.clause, "%s", cl);
        }
        const kc_totals_t *ra = &d->prev.row[a->id], *rb = &d->cur.row[a->id];
        if (!s_any(ra) && !s_any(rb))
            continue;
        snprintf(title, sizeof title, "%s %s", a->code, kc_label_activity(a, o->lang));
        s_rows(t, title, ra, rb, o->lang);
        if (ra->m[KC_M_FACILITIES] || rb->m[KC_M_FACILITIES]) {
            size_t len = strlen(c.parts);
            snprintf(c.parts + len, sizeof c.parts - len, "%s%s", len ? " + " : "", a->code);
        }
        c.fa += ra->m[KC_M_FACILITIES];
        c.fb += rb->m[KC_M_FACILITIES];
        c.na += ra->m[KC_M_FACILITIES] != 0;
        c.nb += rb->m[KC_M_FACILITIES] != 0;
    }
    s_clause_flush(t, &c, o->lang);
    kc_table_print(t, stdout);
    kc_table_destroy(&t);
}

/* Provinces whose TV revenue in `act` beat their yearly plan in `plan`. */
static void s_tv_beats(const s_opts_t *o, const kc_cells_result_t *act,
                       const kc_cells_result_t *plan, const char *period, int plan_year)
{
    bool vi = o->lang == KC_LANG_VI;
    int n = 0;
    for (int r = 0; r < KC_CELLS_ROWS; r++) {
        kc_i128 p = plan->row[r].m[KC_M_REVENUE_VND], v = act->row[r].m[KC_M_REVENUE_VND];
        if (!plan->used[r] || p <= 0 || v <= p)
            continue;
        int scheme, code;
        if (kc_cells_province_of_row(r, &scheme, &code))
            continue;
        const kc_province_t *pr = kc_ref_province(scheme, code);
        if (n++ == 0) {
            if (vi)
                printf("  Vượt kế hoạch năm %d (thực hiện %s): ", plan_year, period);
            else
                printf("  Revenue above the %d plan (actual %s): ", plan_year, period);
        } else {
            fputs(", ", stdout);
        }
        printf("%s", pr ? pr->name : "?");
    }
    if (n)
        putchar('\n');
}

/* Upper-case an ASCII first letter ("năm 2021" -> "Năm 2021"). */
static void s_capitalize(char *s)
{
    if (s[0] >= 'a' && s[0] <= 'z')
        s[0] = (char)(s[0] - 'a' + 'A');
}

static void s_print(const s_opts_t *o, const s_data_t *d)
{
    bool vi = o->lang == KC_LANG_VI;
    char pa[64], pb[64], ps[64], a1[KC_FMT_BUF], a2[KC_FMT_BUF], a3[KC_FMT_BUF];
    int y = o->year, p = o->year - 1;
    kc_label_period(pa, sizeof pa, p, 1, 12, o->lang);
    kc_label_period(pb, sizeof pb, y, o->m_from, o->m_to, o->lang);
    kc_label_period(ps, sizeof ps, p, o->m_from, o->m_to, o->lang);
    if (!vi && o->m_from == 1 && o->m_to == 12) {
        snprintf(pb, sizeof pb, "year %d", y);
        snprintf(ps, sizeof ps, "year %d", p);
    }
    if (!vi)
        snprintf(pa, sizeof pa, "year %d", p);

    /* title: the places */
    printf(vi ? "KẾT QUẢ HOẠT ĐỘNG KHUYẾN CÔNG" : "KHUYEN CONG (INDUSTRIAL PROMOTION) RESULTS");
    const char *sep = vi ? " " : ", ";
    for (size_t i = 0; i < o->f.n_regions; i++, sep = ", ")
        printf("%s%s", sep, kc_label_region(o->f.regions[i], o->lang));
    for (size_t i = 0; i < o->f.n_provinces; i++, sep = ", ") {
        int sch = o->f.units == 34 ? 34 : kc_ref_scheme_for(y * 100 + o->m_from);
        const kc_province_t *pr = kc_ref_province(sch, o->f.provinces[i]);
        printf("%s%s", sep, pr ? pr->name : "?");
    }
    printf(vi ? ": %s và %s\n" : ": %s and %s\n", pa, pb);
    printf(vi ? "(từ kho %s; đơn vị: %s)\n\n" : "(from the store %s; units: %s)\n\n", o->store,
           o->f.units == 34
               ? (vi ? "34 tỉnh, thành từ 2025" : "the 34 units of 2025")
               : (vi ? "tỉnh, thành theo từng thời kỳ" : "provinces as of each period"));

    const int A = KC_M_AMOUNT_VND;
    kc_i128 prev = d->prev.total.m[A], prev_plan = d->prev_plan.total.m[A];
    kc_i128 cur = d->cur.total.m[A], cur_plan = d->cur_plan.total.m[A];
    kc_i128 same = d->same.total.m[A];
    char pct[KC_FMT_BUF], chg[KC_FMT_BUF], label[4][128], value[4][512];
    snprintf(label[0], sizeof label[0], "%s:", pa);
    snprintf(value[0], sizeof value[0],
             vi ? "%s, đạt %s kế hoạch năm (%s)" : "%s, %s of the year's plan (%s)",
             kc_fmt_money(a1, sizeof a1, prev, o->lang),
             kc_fmt_percent(pct, sizeof pct, prev, prev_plan, o->lang),
             kc_fmt_money(a2, sizeof a2, prev_plan, o->lang));
    snprintf(label[1], sizeof label[1], vi ? "Kế hoạch năm %d:" : "Plan %d:", y);
    snprintf(value[1], sizeof value[1],
             vi ? "%s, %s so với kế hoạch năm %d" : "%s, %s on the %d plan",
             kc_fmt_money(a1, sizeof a1, cur_plan, o->lang),
             kc_fmt_change(chg, sizeof chg, cur_plan, prev_plan, o->lang), p);
    snprintf(label[2], sizeof label[2], "%s:", pb);
    snprintf(value[2], sizeof value[2],
             vi ? "%s, đạt %s kế hoạch năm %d (%s)" : "%s, %s of the %d plan (%s)",
             kc_fmt_money(a1, sizeof a1, cur, o->lang),
             kc_fmt_percent(pct, sizeof pct, cur, cur_plan, o->lang), y,
             kc_fmt_money(a2, sizeof a2, cur_plan, o->lang));
    snprintf(label[3], sizeof label[3], "%s:", vi ? "So với cùng kỳ" : "Year on year");
    snprintf(value[3], sizeof value[3], "%s (%s: %s)",
             kc_fmt_change(chg, sizeof chg, cur, same, o->lang), ps,
             kc_fmt_money(a3, sizeof a3, same, o->lang));
    printf("%s\n", vi ? "Kinh phí khuyến công (thực hiện; không gồm TVPTCN)"
                      : "Khuyen cong spending (actual; consulting excluded)");
    size_t w = 0;
    for (int i = 0; i < 4; i++) {
        s_capitalize(label[i]);
        if (kc_fmt_width(label[i]) > w)
            w = kc_fmt_width(label[i]);
    }
    for (int i = 0; i < 4; i++)
        printf("  %s%*s  %s\n", label[i], (int)(w - kc_fmt_width(label[i])), "", value[i]);
    putchar('\n');

    s_activities(o, d, pa, pb);
    putchar('\n');
    printf(vi ? "Tư vấn phát triển công nghiệp (TVPTCN): doanh thu riêng, không cộng vào kinh "
                "phí khuyến công\n"
              : "Industrial-development consulting (TV): its own revenue, never added to "
                "spending\n");
    s_tv_beats(o, &d->tv[0], &d->tv[1], pa, p);
    s_tv_beats(o, &d->tv[2], &d->tv[3], pb, y);
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
    s_data_t *d = calloc(1, sizeof *d);
    kc_txn_t *txn = NULL;
    int err = d ? kc_store_read_begin(store, &txn) : KC_ENOMEM;
    if (!err)
        err = s_collect(&o, txn, d);
    kc_txn_end(&txn);
    kc_store_close(&store);
    if (err) {
        fprintf(stderr, PROG ": reading %s: %s\n", o.store, kc_strerror(err));
        free(d);
        return err == KC_EOVERFLOW ? KC_EX_DATAERR : KC_EX_IOERR;
    }
    s_print(&o, d);
    free(d);
    return ferror(stdout) ? KC_EX_IOERR : 0;
}
