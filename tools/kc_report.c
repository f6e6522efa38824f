/* kc_report.c - kc-report: the regional khuyen cong report from the store.
 *
 * DESIGN
 * The report a regional conference quotes (docs/DOMAIN.md, "The reference
 * report") for a region, a year Y and a months range A-B: the regional
 * summary (the previous year against its plan, the period against the plan
 * of its year and the same months of the previous year, each activity's own
 * figures, consulting revenue apart), the per-province table (funds, plan,
 * % of plan, reports, last report) and the province x activity table. The
 * model and its renderers (text, CSV, HTML, xlsx, PDF) are libkcreport's
 * (core/report/kc_report.h), shared with the aggregator's GET /v1/report, so
 * both give the same figures from one read snapshot of the store.
 * This program parses the options, opens the store read-only, builds the
 * model in one read transaction and writes it: to stdout, or with --output
 * to FILE.tmp, fsync'd and renamed over FILE (a reader never sees half a
 * report). xlsx and PDF are binary: refused on a terminal without --output.
 * The default language is the locale's (Vietnamese when LC_ALL, LC_MESSAGES
 * or LANG starts with "vi"), --lang chooses another.
 */
#include "kc_cli.h"
#include "kc_conf.h"
#include "kc_err.h"
#include "kc_filter.h"
#include "kc_label.h"
#include "kc_log.h"
#include "kc_report.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROG "kc-report"

typedef struct {
    const char *store;
    const char *output; /* NULL: stdout */
    kc_report_query_t q;
    kc_report_format_t format;
    kc_report_opts_t ro;
} s_opts_t;

static void s_usage(FILE *out)
{
    fprintf(out, "Usage: " PROG " --region NAME --year Y [--months A-B] [options]\n"
                 "The regional khuyen cong report: the previous year's spending against its\n"
                 "plan, the period's spending against the plan of its year, the change on\n"
                 "the same months of the previous year, each activity's figures, spending by\n"
                 "province (KCQG, KCĐP, other funds, plan, reports) and by province and\n"
                 "activity.\n"
                 "\n"
                 "  --store DIR        the store (default ./var/kcpipe)\n"
                 "  --region NAME      north, central_highlands, south (repeatable)\n"
                 "  --province CODE    a province instead of or besides a region (repeatable)\n"
                 "  --year Y           the report's year (required)\n"
                 "  --months A-B       months of Y (default 1-12)\n"
                 "  --units 34         count pre-2025 provinces under their 2025 successor\n"
                 "  --lang en|vi       language and number format (default: vi when the\n"
                 "                     locale (LC_ALL, LC_MESSAGES, LANG) starts with vi,\n"
                 "                     else en)\n"
                 "  --format FMT       text (default), csv, html, xlsx or pdf\n"
                 "  --output FILE      write to FILE (through FILE.tmp, renamed when\n"
                 "                     complete) instead of stdout; xlsx and pdf need it\n"
                 "                     when stdout is a terminal\n"
                 "  --table NAME       all (default), summary, provinces or activities\n"
                 "  --no-bom           csv: no UTF-8 byte order mark (for programs)\n"
                 "  --total            csv: add the totals rows\n"
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
    enum {
        O_STORE = 256,
        O_REGION,
        O_PROVINCE,
        O_YEAR,
        O_MONTHS,
        O_UNITS,
        O_LANG,
        O_FORMAT,
        O_OUTPUT,
        O_TABLE,
        O_NO_BOM,
        O_TOTAL
    };
    static const struct option opts[] = {
        {"store", required_argument, NULL, O_STORE},
        {"region", required_argument, NULL, O_REGION},
        {"province", required_argument, NULL, O_PROVINCE},
        {"year", required_argument, NULL, O_YEAR},
        {"months", required_argument, NULL, O_MONTHS},
        {"units", required_argument, NULL, O_UNITS},
        {"lang", required_argument, NULL, O_LANG},
        {"format", required_argument, NULL, O_FORMAT},
        {"output", required_argument, NULL, O_OUTPUT},
        {"table", required_argument, NULL, O_TABLE},
        {"no-bom", no_argument, NULL, O_NO_BOM},
        {"total", no_argument, NULL, O_TOTAL},
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
    o->q.m_from = 1;
    o->q.m_to = 12;
    o->q.lang = kc_lang_from_env();
    kc_cells_filter_init(&o->q.f);
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
        case O_REGION: rc = kc_filter_add_region(&o->q.f, optarg, err, sizeof err); break;
        case O_PROVINCE:
            if (n_prov == KC_CELLS_MAX_SEL)
                return s_usage_error("too many --province options");
            provinces[n_prov++] = optarg;
            break;
        case O_YEAR:
            rc = kc_filter_parse_int(optarg, 2001, 2100, &v, "--year", err, sizeof err);
            o->q.year = (int)v;
            break;
        case O_MONTHS:
            rc = kc_filter_parse_months(optarg, &o->q.m_from, &o->q.m_to, err, sizeof err);
            break;
        case O_UNITS: rc = kc_filter_parse_units(optarg, &o->q.f.units, err, sizeof err); break;
        case O_LANG:
            if (kc_lang_parse(optarg, &o->q.lang) != 0)
                return s_usage_error("--lang takes en or vi");
            break;
        case O_FORMAT:
            if (kc_report_format_parse(optarg, &o->format) != 0)
                return s_usage_error("--format takes text, csv, html, xlsx or pdf");
            break;
        case O_OUTPUT:
            if (!*optarg)
                return s_usage_error("--output needs a file name");
            o->output = optarg;
            break;
        case O_TABLE:
            if (kc_report_table_parse(optarg, &o->ro.table) != 0)
                return s_usage_error("--table takes all, summary, provinces or activities");
            break;
        case O_NO_BOM: o->ro.no_bom = true; break;
        case O_TOTAL: o->ro.total = true; break;
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
        if (kc_filter_add_province(&o->q.f, provinces[i], err, sizeof err))
            return s_usage_error(err);
    if (!o->q.year)
        return s_usage_error("--year is required");
    if (o->q.f.n_regions == 0 && o->q.f.n_provinces == 0)
        return s_usage_error("--region (or --province) is required");
    if (kc_report_format_binary(o->format) && !o->output && isatty(STDOUT_FILENO)) {
        snprintf(err, sizeof err,
                 "%s is a binary format: give --output FILE (or redirect stdout to a file)",
                 kc_report_format_ext(o->format));
        return s_usage_error(err);
    }
    if (kc_conf_main_check_done())
        *done = true;
    return 0;
}

/* Write the report to o->output through o->output.tmp (fsync, rename). */
static int s_write_file(const s_opts_t *o, const kc_report_t *r)
{
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", o->output) >= sizeof tmp) {
        fprintf(stderr, PROG ": %s: the file name is too long\n", o->output);
        return KC_EX_USAGE;
    }
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        fprintf(stderr, PROG ": cannot write %s: %s; check the directory exists and is writable\n",
                tmp, strerror(errno));
        return KC_EX_IOERR;
    }
    int rc = kc_report_render(r, o->format, &o->ro, f);
    int e = errno;
    if (rc == 0 && (fflush(f) != 0 || fsync(fileno(f)) != 0)) {
        rc = KC_EIO;
        e = errno;
    }
    if (fclose(f) != 0 && rc == 0) {
        rc = KC_EIO;
        e = errno;
    }
    if (rc == 0 && rename(tmp, o->output) != 0) {
        rc = KC_EIO;
        e = errno;
    }
    if (rc != 0) {
        unlink(tmp);
        fprintf(stderr, PROG ": writing %s: %s\n", o->output,
                rc == KC_EIO && e ? strerror(e) : kc_strerror(rc));
        return rc == KC_ENOMEM ? KC_EX_SOFTWARE : KC_EX_IOERR;
    }
    return 0;
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
    o.q.store_label = o.store;
    kc_report_t *r = NULL;
    kc_txn_t *txn = NULL;
    int err = kc_store_read_begin(store, &txn);
    if (!err)
        err = kc_report_build(txn, &o.q, &r);
    kc_txn_end(&txn);
    kc_store_close(&store);
    if (err) {
        fprintf(stderr, PROG ": reading %s: %s\n", o.store, kc_strerror(err));
        return err == KC_EOVERFLOW ? KC_EX_DATAERR : KC_EX_IOERR;
    }
    if (o.output) {
        rc = s_write_file(&o, r);
    } else {
        err = kc_report_render(r, o.format, &o.ro, stdout);
        if (err) {
            fprintf(stderr, PROG ": writing the report: %s\n", kc_strerror(err));
            rc = err == KC_ENOMEM ? KC_EX_SOFTWARE : KC_EX_IOERR;
        }
    }
    kc_report_free(&r);
    if (o.format == KC_REPORT_PDF)
        kc_report_pdf_cleanup(); /* fontconfig's and cairo's caches: a clean exit */
    return rc;
}
