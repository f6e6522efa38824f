/* kc_watch.c - kc-watch: a live view of a region's provinces from the totals feed.
 *
 * DESIGN
 * kc-watch is a client of the aggregator's live totals feed (kc_feedc.h: the
 * ZeroMQ guide's Clone pattern; snapshot, then updates in order, a gap
 * answered by a fresh snapshot). The client keeps every totals cell in memory
 * (a kc_cells_mem_t), so each view is computed exactly like kc-query's answer:
 * kc_cells_sum_src() over the client's cells with the same region/units
 * filter, grouped by province. Two sums per view:
 *   spending and counts  kind actual, months --months of --year
 *   plan                 kind plan, months 1-12 of --year (plans are annual)
 * so a province's spending here equals
 * `kc-query --region R --year Y --months A-B --by province` for the same
 * state of the store, to the dong.
 *
 * Rows: every province of the region under the year's scheme, reported or
 * not (a scheme-63 province for periods up to 2025-06, a scheme-34 one from
 * 2025-07; with --units 34 the scheme-34 units), plus any row the sums found.
 * A row's last report is the feed's unit state (kc_feedc_unit) of that
 * province unit; with --units 34 the latest over the unit and the scheme-63
 * provinces merged into it. A province whose last report is older than
 * --silent-after, or that never reported, is marked "!".
 *
 * The view is recomputed only while the client is synced (between a resync's
 * request and its snapshot the client's cells are incomplete). Without
 * --year the year is the latest year of any cell in the feed, re-read on each
 * recomputation.
 *
 * Output modes
 *   terminal  stdout is a tty and no --plain: the alternate screen, redrawn
 *             in place at most every 200 ms while updates arrive and once a
 *             second for the clock; SIGWINCH redraws; SIGINT/SIGTERM (and any
 *             exit path) restore the screen. Line wrap is off, so a narrow
 *             terminal cuts lines instead of scrolling.
 *   plain     not a tty, or --plain: after the first snapshot one line per
 *             province and a total line, then, after each change, one line per
 *             province (and the total) whose figures, last report or status
 *             changed. Each line is space-separated key=value, exact
 *             integers, name last:
 *               seq=N year=Y province=79 scheme=63 spending=N plan=N
 *               percent=79.60|- persons=N facilities=N products=N events=N
 *               last=2026-11-27T09:53:30Z|- status=ok|silent|never name="..."
 *             The total line has province=total scheme=0. Lines are flushed
 *             as written (readable through a pipe).
 *   --once    the table (terminal: the same table without the alternate
 *             screen; plain: the first lines) once after the first snapshot,
 *             then exit 0. Without --timeout it gives up after
 *             S_ONCE_TIMEOUT_S (exit 69, saying so): a one-shot run (a script,
 *             a cron job) must end even when no aggregator serves the feed.
 * Exit: 0 (--once done, or SIGINT/SIGTERM), 64 usage, 69 feed unavailable
 * (no snapshot, or no ready file, within --timeout), 70 internal error,
 * 74 stdout unwritable.
 */
#include "kc_cells.h"
#include "kc_cli.h"
#include "kc_conf.h"
#include "kc_err.h"
#include "kc_feedc.h"
#include "kc_filter.h"
#include "kc_fmt.h"
#include "kc_label.h"
#include "kc_ref.h"
#include "kc_table.h"
#include "kc_time.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define PROG             "kc-watch"
#define EX_UNAVAILABLE   69
#define REDRAW_MS        200 /* at most 5 redraws a second */
#define TICK_MS          1000
#define S_ONCE_TIMEOUT_S 10 /* --once without --timeout: the bound on the first snapshot */

typedef enum {
    SORT_CODE = 0,
    SORT_NAME,
    SORT_SPENDING,
    SORT_PLAN,
    SORT_PERCENT,
    SORT_LAST
} s_sort_t;
static const char *const s_sort_names[] = {"code", "name", "spending", "plan", "percent", "last"};

typedef enum { ST_OK = 0, ST_SILENT, ST_NEVER } s_status_t;
static const char *const s_status_names[] = {"ok", "silent", "never"};

typedef struct {
    const char *region;
    const char *feed, *snapshot, *ready_file;
    char feed_buf[512], snap_buf[512];
    int year; /* 0 = the latest year in the feed */
    int m_from, m_to;
    int units; /* 0 native, 34 */
    s_sort_t sort;
    uint64_t silent_ns;
    const char *silent_text;
    kc_lang_t lang;
    bool plain, once;
    long timeout_s; /* 0 = wait for ever */
} s_opts_t;

typedef struct {
    int scheme, code; /* code 0 = the total row */
    const char *code_str, *name;
    kc_i128 spend, plan; /* 128-bit sums of cells (kc_cells.h, DESIGN - exact sums) */
    kc_i128 persons, facilities, products, events;
    uint64_t last_ns; /* 0 = never */
    s_status_t status;
} s_row_t;

typedef struct {
    bool valid;
    int year;
    uint64_t seq;
    size_t n;
    s_row_t rows[KC_CELLS_ROWS];
    s_row_t total;
} s_view_t;

static volatile sig_atomic_t g_stop, g_winch;

static void s_on_signal(int sig)
{
    if (sig == SIGWINCH)
        g_winch = 1;
    else
        g_stop = 1;
}

/* ---- options ---- */

static void s_usage(FILE *out)
{
    fprintf(out,
            "Usage: " PROG " --region R [options]\n"
            "A live view of a region's provinces from kc-aggregator's totals feed: spending,\n"
            "plan, percent of plan, key counts, last report, provinces gone silent.\n"
            "\n"
            "  --region NAME        north, central_highlands, south (required)\n"
            "  --feed EP            the feed's PUB endpoint (default tcp://127.0.0.1:5556)\n"
            "  --feed-snapshot EP   its snapshot endpoint (default: tcp port + 1 of --feed)\n"
            "  --ready-file F       read both endpoints from kc-aggregator's ready file\n"
            "                       (lines 'feed EP' and 'snapshot EP'); waits for them\n"
            "  --year Y             the year (default: the latest year in the feed)\n"
            "  --months A-B         months of the year for spending and counts (default 1-12);\n"
            "                       the plan is always the whole year's\n"
            "  --units 34           count pre-2025 provinces under their 2025 successor\n"
            "  --sort COL           code, name, spending, plan, percent, last (default code;\n"
            "                       numbers and last report sort descending)\n"
            "  --silent-after D     mark provinces with no report for D: 30s, 10m, 2h, 1d\n"
            "                       (default 10m)\n"
            "  --lang en|vi         labels and number format (default en)\n"
            "  --plain              line output even on a terminal (the default when stdout\n"
            "                       is not a terminal): one key=value line per province after\n"
            "                       the first snapshot, then one per province that changed\n"
            "  --once               print the table once after the first snapshot and exit\n"
            "  --timeout S          give up (exit 69) if no snapshot arrives within S seconds\n"
            "                       (default: 10 with --once, else wait)\n"
            "  --config FILE        read options from FILE (default: /etc/kcpipe/watch.conf\n"
            "                       if it exists); options given here win\n"
            "  --no-config          read no config file\n"
            "  --check-config       check the config file and options: print 'FILE: ok'\n"
            "                       and exit 0, or each error as FILE:LINE and exit 78\n"
            "  -h, --help           this help\n"
            "  -V, --version        print the version\n"
            "\n"
            "Plain lines: seq=N year=Y province=CODE scheme=63|34 spending=VND plan=VND\n"
            "percent=P|- persons=N facilities=N products=N events=N last=UTC|- \n"
            "status=ok|silent|never name=\"...\" (and province=total for the region).\n"
            "Exit: 0 ok, 64 usage, 69 feed unavailable, 70 internal error, 74 output error.\n");
}

/* optarg is the value at fault inside the option loop (NULL after it): an
 * error about a value from the config file names its FILE:LINE. */
static int s_usage_error(const char *msg)
{
    fprintf(stderr, "%s" PROG ": %s\nTry '" PROG " --help'.\n", kc_conf_blame(optarg), msg);
    return kc_conf_usage_exit(optarg, KC_EX_USAGE);
}

/* "30s", "10m", "2h", "1d" (or bare seconds) -> ns; -1 if not one. */
static int s_parse_duration(const char *s, uint64_t *ns)
{
    char *end = NULL;
    errno = 0;
    if (!s || *s < '0' || *s > '9')
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || v == 0)
        return -1;
    uint64_t mult = 1;
    if (*end == '\0' || strcmp(end, "s") == 0)
        mult = 1;
    else if (strcmp(end, "m") == 0)
        mult = 60;
    else if (strcmp(end, "h") == 0)
        mult = 3600;
    else if (strcmp(end, "d") == 0)
        mult = 86400;
    else
        return -1;
    if (v > UINT64_MAX / 1000000000u / mult)
        return -1;
    *ns = (uint64_t)v * mult * 1000000000u;
    return 0;
}

/* The snapshot endpoint of a tcp feed endpoint: port + 1. -1 if not derivable. */
static int s_next_port(const char *ep, char *out, size_t cap)
{
    if (strncmp(ep, "tcp://", 6) != 0)
        return -1;
    const char *colon = strrchr(ep, ':');
    if (!colon || colon < ep + 6)
        return -1;
    char *end = NULL;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    if (errno || *end || port <= 0 || port >= 65535)
        return -1;
    int n = snprintf(out, cap, "%.*s:%ld", (int)(colon - ep), ep, port + 1);
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

static int s_parse(int argc, char **argv, s_opts_t *o, bool *done)
{
    enum {
        O_REGION = 256,
        O_FEED,
        O_SNAP,
        O_READY,
        O_YEAR,
        O_MONTHS,
        O_UNITS,
        O_SORT,
        O_SILENT,
        O_LANG,
        O_PLAIN,
        O_ONCE,
        O_TIMEOUT
    };
    static const struct option opts[] = {
        {"region", required_argument, NULL, O_REGION},
        {"feed", required_argument, NULL, O_FEED},
        {"feed-snapshot", required_argument, NULL, O_SNAP},
        {"ready-file", required_argument, NULL, O_READY},
        {"year", required_argument, NULL, O_YEAR},
        {"months", required_argument, NULL, O_MONTHS},
        {"units", required_argument, NULL, O_UNITS},
        {"sort", required_argument, NULL, O_SORT},
        {"silent-after", required_argument, NULL, O_SILENT},
        {"lang", required_argument, NULL, O_LANG},
        {"plain", no_argument, NULL, O_PLAIN},
        {"once", no_argument, NULL, O_ONCE},
        {"timeout", required_argument, NULL, O_TIMEOUT},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    int mrc = kc_conf_main(PROG, "watch", opts, &argc, &argv);
    if (mrc)
        return mrc;
    char err[256];
    long v;
    memset(o, 0, sizeof *o);
    o->m_from = 1;
    o->m_to = 12;
    o->silent_ns = 600ull * 1000000000u;
    o->silent_text = "10m";
    o->sort = SORT_CODE;
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
        case O_REGION:
            if (!kc_ref_region_known(optarg)) {
                snprintf(err, sizeof err, "unknown region '%s' (north, central_highlands, south)",
                         optarg);
                return s_usage_error(err);
            }
            o->region = optarg;
            break;
        case O_FEED: o->feed = optarg; break;
        case O_SNAP: o->snapshot = optarg; break;
        case O_READY: o->ready_file = optarg; break;
        case O_YEAR:
            rc = kc_filter_parse_int(optarg, 2001, 2100, &v, "--year", err, sizeof err);
            o->year = (int)v;
            break;
        case O_MONTHS:
            rc = kc_filter_parse_months(optarg, &o->m_from, &o->m_to, err, sizeof err);
            break;
        case O_UNITS: rc = kc_filter_parse_units(optarg, &o->units, err, sizeof err); break;
        case O_SORT: {
            size_t i = 0;
            for (; i < sizeof s_sort_names / sizeof s_sort_names[0]; i++)
                if (strcmp(optarg, s_sort_names[i]) == 0)
                    break;
            if (i == sizeof s_sort_names / sizeof s_sort_names[0]) {
                snprintf(err, sizeof err,
                         "--sort takes code, name, spending, plan, percent or last, not '%s'",
                         optarg);
                return s_usage_error(err);
            }
            o->sort = (s_sort_t)i;
            break;
        }
        case O_SILENT:
            if (s_parse_duration(optarg, &o->silent_ns) != 0) {
                snprintf(err, sizeof err,
                         "--silent-after takes a duration such as 30s, 10m, 2h or 1d, not '%s'",
                         optarg);
                return s_usage_error(err);
            }
            o->silent_text = optarg;
            break;
        case O_LANG:
            if (kc_lang_parse(optarg, &o->lang) != 0)
                return s_usage_error("--lang takes en or vi");
            break;
        case O_PLAIN: o->plain = true; break;
        case O_ONCE: o->once = true; break;
        case O_TIMEOUT:
            rc = kc_filter_parse_int(optarg, 1, 86400 * 365, &o->timeout_s, "--timeout", err,
                                     sizeof err);
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
    if (!o->region)
        return s_usage_error("--region is required");
    if (o->ready_file && (o->feed || o->snapshot))
        return s_usage_error("--ready-file replaces --feed and --feed-snapshot");
    if (!o->ready_file) {
        if (!o->feed)
            o->feed = "tcp://127.0.0.1:5556";
        if (!o->snapshot) {
            if (s_next_port(o->feed, o->snap_buf, sizeof o->snap_buf) != 0) {
                snprintf(err, sizeof err,
                         "--feed-snapshot is needed with --feed '%s' (no tcp port to add 1 to)",
                         o->feed);
                return s_usage_error(err);
            }
            o->snapshot = o->snap_buf;
        }
    }
    if (o->once && !o->timeout_s)
        o->timeout_s = S_ONCE_TIMEOUT_S; /* a one-shot run never waits for ever */
    if (kc_conf_main_check_done())
        *done = true;
    return 0;
}

/* Read "feed EP" and "snapshot EP" from the aggregator's ready file.
 * 0, or -1 while the file or a line is missing. */
static int s_read_ready(s_opts_t *o)
{
    FILE *f = fopen(o->ready_file, "r");
    if (!f)
        return -1;
    char line[600];
    bool feed = false, snap = false;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (strncmp(line, "feed ", 5) == 0 && strlen(line + 5) < sizeof o->feed_buf) {
            strcpy(o->feed_buf, line + 5);
            feed = true;
        } else if (strncmp(line, "snapshot ", 9) == 0 && strlen(line + 9) < sizeof o->snap_buf) {
            strcpy(o->snap_buf, line + 9);
            snap = true;
        }
    }
    fclose(f);
    if (!feed || !snap)
        return -1;
    o->feed = o->feed_buf;
    o->snapshot = o->snap_buf;
    return 0;
}

/* ---- the view ---- */

typedef struct {
    int year;
    bool found;
} s_first_t;

static int s_first_cell(const kc_cell_key_t *key, const kc_cell_t *cell, void *ctx)
{
    (void)cell;
    s_first_t *f = ctx;
    f->year = key->year;
    f->found = true;
    return 1;
}

/* The latest year of any cell (a few range probes, one per distinct year); 0 if none. */
static int s_latest_year(kc_cells_mem_t *mem)
{
    int year = 0;
    for (;;) {
        kc_cell_key_t lo = kc_cell_key_min();
        if (year >= 0xFFFF)
            return year;
        lo.year = (uint16_t)(year + 1);
        s_first_t f = {0};
        int rc = kc_cells_mem_scan(mem, &lo, NULL, s_first_cell, &f);
        if (rc < 0 || !f.found)
            return year;
        year = f.year;
    }
}

static int s_current_year(void)
{
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    return tm.tm_year + 1900;
}

/* Whether province p belongs in the rows of the region for year/months. */
static bool s_province_in(const s_opts_t *o, const kc_province_t *p, int year)
{
    for (int m = o->m_from; m <= o->m_to; m++) {
        int32_t ym = year * 100 + m;
        const char *region;
        if (o->units == 34) {
            if (p->scheme != 34)
                return false;
            region = kc_ref_region_of(p->code, ym < KC_CELLS_MERGER ? KC_CELLS_MERGER : ym);
        } else {
            if (p->scheme != kc_ref_scheme_for(ym) || ym < p->valid_from || ym > p->valid_to)
                continue;
            region = kc_ref_region_of(p->code, ym);
        }
        if (region && strcmp(region, o->region) == 0)
            return true;
    }
    return false;
}

static uint64_t s_last_report(kc_feedc_t *fc, const s_opts_t *o, int scheme, int code)
{
    uint64_t last = kc_feedc_unit(fc, (uint8_t)(scheme == 34 ? 100 + code : code)).last_report_ns;
    if (o->units == 34 && scheme == 34) {
        for (size_t i = 0; i < kc_ref_province_count(); i++) {
            const kc_province_t *p = kc_ref_province_at(i);
            if (p->scheme == 63 && p->successor == code) {
                uint64_t t = kc_feedc_unit(fc, p->code).last_report_ns;
                if (t > last)
                    last = t;
            }
        }
    }
    return last;
}

static s_status_t s_status(const s_opts_t *o, uint64_t last_ns, uint64_t now_ns)
{
    if (last_ns == 0)
        return ST_NEVER;
    return now_ns > last_ns && now_ns - last_ns > o->silent_ns ? ST_SILENT : ST_OK;
}

static s_sort_t g_sort; /* for s_row_cmp (qsort has no context) */

static int s_cmp_i128(kc_i128 a, kc_i128 b)
{
    return a < b ? 1 : a > b ? -1 : 0; /* descending */
}

/* Percent of plan in basis points, comparable; -1 without a plan. Exact:
 * spend < 2^91, so spend * 10000 < 2^105 (kc_cells.h, DESIGN - exact sums). */
static kc_i128 s_pct_key(const s_row_t *r)
{
    if (r->plan <= 0)
        return -1;
    kc_i128 v = r->spend * 10000 / r->plan;
    return v < 0 ? 0 : v;
}

static int s_row_cmp(const void *pa, const void *pb)
{
    const s_row_t *a = pa, *b = pb;
    int c = 0;
    switch (g_sort) {
    case SORT_CODE: break;
    case SORT_NAME: c = strcmp(a->name, b->name); break;
    case SORT_SPENDING: c = s_cmp_i128(a->spend, b->spend); break;
    case SORT_PLAN: c = s_cmp_i128(a->plan, b->plan); break;
    case SORT_PERCENT: c = s_cmp_i128(s_pct_key(a), s_pct_key(b)); break;
    case SORT_LAST: c = a->last_ns < b->last_ns ? 1 : a->last_ns > b->last_ns ? -1 : 0; break;
    }
    if (c)
        return c;
    if (a->code != b->code)
        return a->code < b->code ? -1 : 1;
    return a->scheme - b->scheme;
}

static void s_fill(s_row_t *r, const kc_totals_t *act, const kc_totals_t *plan)
{
    r->spend = act->m[KC_M_AMOUNT_VND];
    r->persons = act->m[KC_M_PERSONS];
    r->facilities = act->m[KC_M_FACILITIES];
    r->products = act->m[KC_M_PRODUCTS];
    r->events = act->m[KC_M_EVENTS];
    r->plan = plan->m[KC_M_AMOUNT_VND];
}

/* Compute the view from the client's cells (call only while synced). */
static int s_compute(kc_feedc_t *fc, const s_opts_t *o, s_view_t *v)
{
    static kc_cells_result_t act, plan; /* ~90 kB: keep off the stack */
    kc_cells_mem_t *mem = kc_feedc_cells(fc);
    int year = o->year;
    if (!year && mem)
        year = s_latest_year(mem);
    if (!year)
        year = s_current_year();
    kc_cells_filter_t f;
    kc_cells_filter_init(&f);
    f.units = o->units;
    f.regions[0] = o->region;
    f.n_regions = 1;
    f.by = KC_BY_PROVINCE;
    if (mem) {
        kc_cells_src_t src = {.mem = mem};
        int rc = kc_cells_sum_src(&src, &f, year, o->m_from, o->m_to, 1, &act);
        if (rc == 0)
            rc = kc_cells_sum_src(&src, &f, year, 1, 12, 2, &plan);
        if (rc)
            return rc;
    } else {
        memset(&act, 0, sizeof act);
        memset(&plan, 0, sizeof plan);
    }
    bool in[KC_CELLS_ROWS] = {false};
    for (size_t i = 0; i < kc_ref_province_count(); i++) {
        const kc_province_t *p = kc_ref_province_at(i);
        if (s_province_in(o, p, year))
            in[kc_cells_row_of_province(p->scheme, p->code)] = true;
    }
    uint64_t now = kc_time_real_ns();
    memset(v, 0, sizeof *v);
    v->valid = true;
    v->year = year;
    v->seq = kc_feedc_seq(fc);
    for (int r = 0; r < KC_CELLS_ROWS; r++) {
        int scheme, code;
        if (!(in[r] || act.used[r] || plan.used[r]) ||
            kc_cells_province_of_row(r, &scheme, &code) != 0)
            continue;
        const kc_province_t *p = kc_ref_province(scheme, code);
        s_row_t *row = &v->rows[v->n++];
        row->scheme = scheme;
        row->code = code;
        row->code_str = p ? p->code_str : "??";
        row->name = p ? p->name : "?";
        s_fill(row, &act.row[r], &plan.row[r]);
        row->last_ns = s_last_report(fc, o, scheme, code);
        row->status = s_status(o, row->last_ns, now);
        if (row->last_ns > v->total.last_ns)
            v->total.last_ns = row->last_ns;
    }
    v->total.code_str = "total";
    v->total.name = o->lang == KC_LANG_VI ? "Tổng" : "Total";
    s_fill(&v->total, &act.total, &plan.total);
    v->total.status = s_status(o, v->total.last_ns, now);
    g_sort = o->sort;
    qsort(v->rows, v->n, sizeof v->rows[0], s_row_cmp);
    return 0;
}

/* ---- plain lines ---- */

static void s_utc(uint64_t ns, char *buf, size_t cap)
{
    if (!ns) {
        snprintf(buf, cap, "-");
        return;
    }
    kc_time_iso(ns, 0, buf, cap);
}

static void s_plain_line(FILE *out, const s_view_t *v, const s_row_t *r)
{
    char pct[32], last[40], spend[KC_I128_DEC], plan[KC_I128_DEC], persons[KC_I128_DEC],
        facilities[KC_I128_DEC], products[KC_I128_DEC], events[KC_I128_DEC];
    int ok = 0;
    double p = kc_ratio_percent(r->spend, r->plan, &ok);
    if (ok)
        snprintf(pct, sizeof pct, "%.2f", p);
    else
        snprintf(pct, sizeof pct, "-");
    s_utc(r->last_ns, last, sizeof last);
    fprintf(out,
            "seq=%" PRIu64 " year=%d province=%s scheme=%d spending=%s plan=%s percent=%s "
            "persons=%s facilities=%s products=%s events=%s last=%s status=%s name=\"%s\"\n",
            v->seq, v->year, r->code ? r->code_str : "total", r->scheme,
            kc_i128_str(spend, sizeof spend, r->spend), kc_i128_str(plan, sizeof plan, r->plan),
            pct, kc_i128_str(persons, sizeof persons, r->persons),
            kc_i128_str(facilities, sizeof facilities, r->facilities),
            kc_i128_str(products, sizeof products, r->products),
            kc_i128_str(events, sizeof events, r->events), last, s_status_names[r->status],
            r->name);
}

static bool s_row_differs(const s_row_t *a, const s_row_t *b)
{
    return a->spend != b->spend || a->plan != b->plan || a->persons != b->persons ||
           a->facilities != b->facilities || a->products != b->products || a->events != b->events ||
           a->last_ns != b->last_ns || a->status != b->status;
}

/* Lines for rows of cur that differ from prev (all of them if prev is not
 * comparable); returns the number of lines. */
static size_t s_plain_diff(FILE *out, const s_view_t *prev, const s_view_t *cur)
{
    size_t n = 0;
    bool all = !prev->valid || prev->year != cur->year;
    for (size_t i = 0; i < cur->n; i++) {
        const s_row_t *r = &cur->rows[i], *old = NULL;
        for (size_t j = 0; !all && j < prev->n; j++)
            if (prev->rows[j].code == r->code && prev->rows[j].scheme == r->scheme)
                old = &prev->rows[j];
        if (all || !old || s_row_differs(old, r)) {
            s_plain_line(out, cur, r);
            n++;
        }
    }
    if (all || s_row_differs(&prev->total, &cur->total)) {
        s_plain_line(out, cur, &cur->total);
        n++;
    }
    return n;
}

/* ---- the table ---- */

static void s_local_time(uint64_t ns, uint64_t now_ns, char *buf, size_t cap)
{
    if (!ns) {
        snprintf(buf, cap, "—");
        return;
    }
    time_t t = (time_t)(ns / 1000000000u), now = (time_t)(now_ns / 1000000000u);
    struct tm tm, tn;
    localtime_r(&t, &tm);
    localtime_r(&now, &tn);
    if (tm.tm_year == tn.tm_year && tm.tm_yday == tn.tm_yday)
        strftime(buf, cap, "%H:%M:%S", &tm);
    else
        strftime(buf, cap, "%Y-%m-%d %H:%M", &tm);
}

static void s_age(uint64_t ns, uint64_t now_ns, char *buf, size_t cap)
{
    uint64_t s = now_ns > ns ? (now_ns - ns) / 1000000000u : 0;
    if (s < 120)
        snprintf(buf, cap, "%" PRIu64 "s", s);
    else if (s < 7200)
        snprintf(buf, cap, "%" PRIu64 "m", s / 60);
    else if (s < 172800)
        snprintf(buf, cap, "%" PRIu64 "h", s / 3600);
    else
        snprintf(buf, cap, "%" PRIu64 "d", s / 86400);
}

enum {
    C_MARK = 0,
    C_CODE,
    C_NAME,
    C_SPEND,
    C_PLAN,
    C_PCT,
    C_PERS,
    C_FAC,
    C_PROD,
    C_EVT,
    C_LAST,
    C_STATUS,
    C_COLS
};

static void s_table_row(kc_table_t *t, const s_opts_t *o, const s_row_t *r, uint64_t now)
{
    char b[KC_FMT_BUF];
    bool vi = o->lang == KC_LANG_VI;
    kc_table_row(t);
    kc_table_set(t, C_MARK, r->code && r->status != ST_OK ? "!" : "");
    kc_table_set(t, C_CODE, r->code ? r->code_str : "");
    kc_table_set(t, C_NAME, r->name);
    kc_table_set(t, C_SPEND, kc_fmt_count(b, sizeof b, r->spend, o->lang));
    kc_table_set(t, C_PLAN, kc_fmt_count(b, sizeof b, r->plan, o->lang));
    kc_table_set(t, C_PCT, kc_fmt_percent(b, sizeof b, r->spend, r->plan, o->lang));
    kc_table_set(t, C_PERS, kc_fmt_count(b, sizeof b, r->persons, o->lang));
    kc_table_set(t, C_FAC, kc_fmt_count(b, sizeof b, r->facilities, o->lang));
    kc_table_set(t, C_PROD, kc_fmt_count(b, sizeof b, r->products, o->lang));
    kc_table_set(t, C_EVT, kc_fmt_count(b, sizeof b, r->events, o->lang));
    kc_table_set(t, C_LAST, (s_local_time(r->last_ns, now, b, sizeof b), b));
    if (!r->code) {
        kc_table_set(t, C_STATUS, "");
    } else if (r->status == ST_NEVER) {
        kc_table_set(t, C_STATUS, vi ? "chưa báo cáo" : "never");
    } else if (r->status == ST_SILENT) {
        char age[32];
        s_age(r->last_ns, now, age, sizeof age);
        snprintf(b, sizeof b, "%s %s", vi ? "im lặng" : "silent", age);
        kc_table_set(t, C_STATUS, b);
    } else {
        char age[32];
        s_age(r->last_ns, now, age, sizeof age);
        snprintf(b, sizeof b, "%s %s", vi ? "cách đây" : "", age);
        kc_table_set(t, C_STATUS, b[0] == ' ' ? b + 1 : b);
    }
}

#define S_STALE_S 3 /* seconds without a heartbeat before the view says so */

typedef struct {
    const kc_feedc_t *fc;
    const char *feed;
    bool synced;
} s_feed_info_t;

/* Write the whole frame into out. ansi: colours (and the header bar). */
static void s_frame(FILE *out, const s_opts_t *o, const s_view_t *v, const s_feed_info_t *fi,
                    bool ansi, int rows_avail)
{
    bool vi = o->lang == KC_LANG_VI;
    uint64_t now = kc_time_real_ns();
    char clock[40], period[80];
    time_t t = (time_t)(now / 1000000000u);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(clock, sizeof clock, "%Y-%m-%d %H:%M:%S", &tm);
    kc_feedc_stats_t st;
    kc_feedc_stats(fi->fc, &st);
    const char *bold = ansi ? "\x1b[1m" : "", *rev = ansi ? "\x1b[7m" : "",
               *red = ansi ? "\x1b[31m" : "", *yellow = ansi ? "\x1b[33m" : "",
               *dim = ansi ? "\x1b[2m" : "", *reset = ansi ? "\x1b[0m" : "";
    const char *el = ansi ? "\x1b[K\n" : "\n"; /* clear the rest of each line */
    /* heartbeats come every second: a quiet feed means the aggregator is gone */
    uint64_t quiet_s = kc_feedc_quiet_ms(fi->fc) / 1000u;
    char stale[64];
    snprintf(stale, sizeof stale, "%s%s %" PRIu64 " s%s%s", red,
             vi ? "mất luồng dữ liệu" : "no feed for", quiet_s, reset, rev);
    if (v->valid)
        kc_label_period(period, sizeof period, v->year, o->m_from, o->m_to, o->lang);
    else
        snprintf(period, sizeof period, "%s", vi ? "đang chờ dữ liệu" : "waiting for data");
    fprintf(out, "%s%skc-watch  %s  %s%s  seq %" PRIu64 "  %s  %s%s%s", rev, bold,
            kc_label_region(o->region, o->lang), period, o->units == 34 ? "  (34 units)" : "",
            kc_feedc_seq(fi->fc),
            quiet_s >= S_STALE_S ? stale
            : fi->synced         ? (vi ? "đồng bộ" : "synced")
                                 : (vi ? "đang đồng bộ…" : "syncing…"),
            clock, reset, el);
    fprintf(out, "%sfeed %s  ·  %s %s  ·  %s %s  ·  %s %" PRIu64 "  ·  %s %" PRIu64 "%s%s", dim,
            fi->feed, vi ? "im lặng sau" : "silent after", o->silent_text, vi ? "sắp xếp" : "sort",
            s_sort_names[o->sort], vi ? "cập nhật" : "updates", st.updates,
            vi ? "đồng bộ lại" : "resyncs", st.resyncs, reset, el);
    fputs(el, out);
    if (!v->valid) {
        fprintf(out, "%s%s",
                vi ? "Đang chờ ảnh chụp đầu tiên của luồng dữ liệu…"
                   : "Waiting for the feed's first snapshot…",
                el);
        return;
    }
    kc_table_t *tb = kc_table_new(C_COLS, 3);
    if (!tb)
        return;
    static const char *const head_en[C_COLS] = {
        "",        "Code",       "Province", "Spending (VND)", "Plan (VND)",  "% plan",
        "Trained", "Facilities", "Products", "Events",         "Last report", "Status"};
    static const char *const head_vi[C_COLS] = {
        "",        "Mã",    "Tỉnh/thành", "Kinh phí (đồng)", "Kế hoạch (đồng)", "% KH",
        "Đào tạo", "Cơ sở", "Sản phẩm",   "Sự kiện",         "Báo cáo cuối",    "Trạng thái"};
    kc_table_row(tb);
    for (int c = 0; c < C_COLS; c++)
        kc_table_set(tb, (size_t)c, vi ? head_vi[c] : head_en[c]);
    for (size_t i = 0; i < v->n; i++)
        s_table_row(tb, o, &v->rows[i], now);
    s_table_row(tb, o, &v->total, now);
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    if (mem) {
        kc_table_print(tb, mem);
        fclose(mem);
    }
    kc_table_destroy(&tb);
    if (!text)
        return;
    /* lines: 0 header, 1 rule, 2.. provinces in v->rows order, last the total */
    char *lines[KC_CELLS_ROWS + 4];
    size_t nl = 0;
    for (char *s = text, *nlp; *s && nl < sizeof lines / sizeof lines[0]; s = nlp + 1) {
        nlp = strchr(s, '\n');
        lines[nl++] = s;
        if (!nlp)
            break;
        *nlp = '\0';
    }
    size_t silent = 0;
    for (size_t i = 0; i < v->n; i++)
        silent += v->rows[i].status != ST_OK;
    /* rows that fit: header + rule + provinces + rule + total + footer */
    size_t fit = v->n;
    if (rows_avail > 0 && (size_t)rows_avail < v->n + 9)
        fit = rows_avail > 9 ? (size_t)rows_avail - 9 : 0;
    for (size_t i = 0; i < nl; i++) {
        const char *col = "";
        if (i == 0)
            col = bold;
        else if (i >= 2 && i - 2 < v->n) {
            if (i - 2 >= fit)
                continue;
            const s_row_t *r = &v->rows[i - 2];
            col = r->status == ST_SILENT ? red : r->status == ST_NEVER ? yellow : "";
        } else if (i == nl - 1 && nl >= 3) {
            fprintf(out, "%s%s", lines[1], el);
            col = bold;
        }
        fprintf(out, "%s%s%s%s", col, lines[i], *col ? reset : "", el);
    }
    if (fit < v->n)
        fprintf(out, "%s… %zu %s%s%s", dim, v->n - fit, vi ? "tỉnh nữa" : "more", reset, el);
    fputs(el, out);
    fprintf(out, "%s%zu %s, %s%zu %s%s%s%s", dim, v->n, vi ? "tỉnh/thành" : "provinces",
            silent ? red : "", silent,
            vi ? "im lặng hoặc chưa báo cáo (!)" : "silent or never reported (!)", reset,
            ansi ? (vi ? "  ·  Ctrl-C để thoát" : "  ·  Ctrl-C to quit") : "", el);
    free(text);
}

/* ---- terminal ---- */

static bool g_screen; /* alternate screen entered */

static void s_screen_leave(void)
{
    if (!g_screen)
        return;
    g_screen = false;
    fputs("\x1b[0m\x1b[?7h\x1b[?25h\x1b[?1049l", stdout);
    fflush(stdout);
}

static void s_screen_enter(void)
{
    fputs("\x1b[?1049h\x1b[?25l\x1b[?7l\x1b[H\x1b[2J", stdout);
    fflush(stdout);
    g_screen = true;
    atexit(s_screen_leave);
}

static int s_term_rows(void)
{
    struct winsize ws;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0)
        return ws.ws_row;
    return 0;
}

static void s_redraw(const s_opts_t *o, const s_view_t *v, const s_feed_info_t *fi)
{
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    if (!mem)
        return;
    fputs("\x1b[H", mem);
    s_frame(mem, o, v, fi, true, s_term_rows());
    fputs("\x1b[J", mem);
    fclose(mem);
    fwrite(text, 1, len, stdout); /* one write per frame: no flicker */
    fflush(stdout);
    free(text);
}

/* ---- main ---- */

int main(int argc, char **argv)
{
    s_opts_t o;
    bool done = false;
    int rc = s_parse(argc, argv, &o, &done);
    if (rc || done)
        return rc;
    bool plain = o.plain || !isatty(STDOUT_FILENO);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal; /* no SA_RESTART: interrupt the poll */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGWINCH, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    int64_t deadline = o.timeout_s ? kc_time_mono_ms() + o.timeout_s * 1000 : INT64_MAX;
    if (o.ready_file) {
        while (s_read_ready(&o) != 0) {
            if (g_stop)
                return 0;
            if (kc_time_mono_ms() >= deadline) {
                fprintf(stderr, PROG ": no 'feed' and 'snapshot' lines in %s within %lds\n",
                        o.ready_file, o.timeout_s);
                return EX_UNAVAILABLE;
            }
            struct timespec ts = {0, 50 * 1000000};
            nanosleep(&ts, NULL); /* a poll step of a bounded wait for the file */
        }
    }

    void *ctx = zmq_ctx_new();
    if (!ctx) {
        fprintf(stderr, PROG ": zmq_ctx_new: %s\n", zmq_strerror(errno));
        return KC_EX_SOFTWARE;
    }
    kc_feedc_opts_t fo = {.pub_endpoint = o.feed,
                          .snapshot_endpoint = o.snapshot,
                          .year_from = o.year,
                          .year_to = o.year};
    kc_feedc_t *fc = NULL;
    rc = kc_feedc_new(&fc, ctx, &fo);
    if (rc) {
        fprintf(stderr, PROG ": feed %s / %s: %s\n", o.feed, o.snapshot, kc_strerror(rc));
        zmq_ctx_term(ctx);
        return rc == KC_EINVAL ? KC_EX_USAGE : EX_UNAVAILABLE;
    }

    static s_view_t view, prev; /* large: static */
    s_feed_info_t fi = {.fc = fc, .feed = o.feed};
    int exit_code = 0;
    bool ever_synced = false, dirty = true;
    int64_t last_draw = 0, last_tick = kc_time_mono_ms();
    if (!plain && !o.once) {
        s_screen_enter();
        g_winch = 1;
    }
    while (!g_stop) {
        int64_t now = kc_time_mono_ms();
        int wait = ever_synced ? REDRAW_MS : 100;
        if (!ever_synced && deadline != INT64_MAX && deadline - now < wait)
            wait = deadline - now > 0 ? (int)(deadline - now) : 0;
        rc = kc_feedc_poll(fc, wait);
        if (g_stop)
            break;
        if (rc < 0 && rc != KC_EINTR && rc != -EINTR) {
            s_screen_leave();
            fprintf(stderr, PROG ": feed: %s\n", kc_strerror(rc));
            exit_code = KC_EX_SOFTWARE;
            break;
        }
        if (rc > 0)
            dirty = true;
        now = kc_time_mono_ms();
        fi.synced = kc_feedc_synced(fc);
        if (!ever_synced && !fi.synced && now >= deadline) {
            s_screen_leave();
            fprintf(stderr, PROG ": feed unavailable: no snapshot from %s within %lds (feed %s)\n",
                    o.snapshot, o.timeout_s, o.feed);
            exit_code = EX_UNAVAILABLE;
            break;
        }
        bool tick = now - last_tick >= TICK_MS;
        if (tick)
            last_tick = now;
        if (plain) {
            /* changes at most REDRAW_MS apart (a busy feed brings an update per group
             * commit: summing every cell for each would compete with the aggregator
             * for the CPU); once a second for the silent status */
            if (!fi.synced || !(dirty || tick))
                continue;
            if (!tick && ever_synced && !o.once && now - last_draw < REDRAW_MS)
                continue;
            last_draw = now;
            rc = s_compute(fc, &o, &view);
            if (rc) {
                fprintf(stderr, PROG ": %s\n", kc_strerror(rc));
                exit_code = KC_EX_SOFTWARE;
                break;
            }
            dirty = false;
            ever_synced = true;
            if (s_plain_diff(stdout, &prev, &view) > 0 && fflush(stdout) != 0) {
                exit_code = KC_EX_IOERR;
                break;
            }
            if (ferror(stdout)) {
                exit_code = KC_EX_IOERR;
                break;
            }
            prev = view;
            if (o.once)
                break;
            continue;
        }
        /* the table */
        if (fi.synced && (dirty || tick) && (now - last_draw >= REDRAW_MS || o.once)) {
            rc = s_compute(fc, &o, &view);
            if (rc) {
                s_screen_leave();
                fprintf(stderr, PROG ": %s\n", kc_strerror(rc));
                exit_code = KC_EX_SOFTWARE;
                break;
            }
            ever_synced = true;
            dirty = false;
            g_winch = 1;
        }
        if (o.once) {
            if (!ever_synced)
                continue;
            s_frame(stdout, &o, &view, &fi, false, 0);
            if (fflush(stdout) != 0)
                exit_code = KC_EX_IOERR;
            break;
        }
        if (g_winch || tick) {
            g_winch = 0;
            last_draw = now;
            s_redraw(&o, &view, &fi);
        }
    }
    s_screen_leave();
    kc_feedc_destroy(&fc);
    zmq_ctx_term(ctx);
    return exit_code;
}
