/* kc_send.c - kc-send: import a field office's spreadsheets (xlsx, CSV) and
 * deliver them durably; check them offline; write a template to start from.
 *
 * Flow: open the producer (spool + connection); events left pending by an
 * earlier run are resent first (their seqs are lowest); every file is read
 * through the import layer (kc_sendfile.h over kcimport.h) and each good row
 * staged with the source tag "FILE:ROW", the network serviced between spool
 * commits; then wait until every event is final or --timeout passes.
 * Results arrive through the library callback, exactly once per event.
 *
 * Counting: the summary counts the rows of this run's files:
 *   rows = accepted + duplicates + rejected + malformed + unacknowledged,
 * malformed being the rows refused before spooling. Events an earlier run
 * left in the spool are counted apart, on a "resumed:" line before it: a
 * result is theirs when its seq is below the first seq this run staged
 * (or arrives before this run staged anything).
 *
 * --sign-off (docs/CYCLE.md "Sign-off and approval"): one cycle event
 * (KCI_OP_SIGN_OFF: event_id "signoff-P-YYYYMM-<unix ms>", province, year,
 * month) through the same spool, then wait for its result like a file's rows;
 * the outcome is one line "sign-off P YYYY-MM: accepted" or "...: rejected
 * REASON: TEXT" with a hint line.
 */
#include "kc_conf.h"
#include "kc_dropbox.h"
#include "kc_event.h"
#include "kc_i18n.h"
#include "kc_ref.h"
#include "kc_sendfile.h"
#include "kc_service.h"
#include "kc_text.h"
#include "kc_time.h"
#include "kcimport.h"
#include "kcingest.h"

#include <errno.h>
#include <jansson.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EX_OK          0
#define EX_USAGE       64
#define EX_DATAERR     65
#define EX_UNAVAILABLE 69
#define EX_CANTCREAT   73
#define EX_TEMPFAIL    75

static volatile sig_atomic_t s_stop;

typedef struct {
    uint64_t accepted, duplicates, rejected;
} s_count_t;

typedef struct {
    kc_producer_t *p; /* the producer */
    bool quiet;       /* no per-row lines */
    bool progress;    /* a progress line on the terminal (stderr) */
    const char *server;
    uint64_t rows;      /* this run's data rows read (see "Counting" above) */
    uint64_t malformed; /* ... refused before spooling */
    s_count_t run;      /* results of this run's rows */
    uint64_t resumed;   /* events an earlier run left in the spool */
    s_count_t old;      /* their results */
    uint64_t first_seq; /* the first seq this run staged, 0 before */
    int fail_rc;        /* a library error that stopped the import */
    json_t *json;       /* --check --format json: the files' array */
} s_run_t;

static void s_on_signal(int sig)
{
    (void)sig;
    s_stop = 1;
}

static void s_usage(FILE *out)
{
    fprintf(out,
            "Usage: kc-send --connect EP --producer ID --spool DIR [options] FILE...\n"
            "       kc-send --connect EP --producer ID --spool DIR [options] --watch DIR\n"
            "       kc-send --check [--format text|json] [reader options] FILE...\n"
            "       kc-send --template xlsx|csv [--lang vi|en] [--output FILE]\n"
            "       kc-send --connect EP --producer ID --spool DIR [options] --sign-off\n"
            "               --province P --period YYYY-MM\n"
            "Import khuyen cong activity rows from spreadsheets (.xlsx, .ods, or CSV as\n"
            "spreadsheets export it) and deliver them to kc-aggregator. Every row is checked\n"
            "first; a row with a problem is reported with what to do and never sent. Every\n"
            "good row is spooled durably before it is sent and stays spooled until the\n"
            "aggregator acknowledges it; a rerun resumes what an earlier run left.\n"
            "\n"
            "  -c, --connect EP             aggregator endpoint, e.g. tcp://127.0.0.1:5555\n"
            "  -p, --producer ID            producer id (1-64 bytes), fixed per spool\n"
            "  -s, --spool DIR              spool directory (created 0700)\n"
            "  -t, --timeout SECONDS        give up waiting after this long (default: never)\n"
            "  -b, --batch N                events per batch and per spool commit (default 1000)\n"
            "  -r, --request-timeout-ms MS  reconnect and resend after MS without an ack\n"
            "                               (default 2000)\n"
            "  -k, --server-key FILE        the aggregator's public certificate: connect with\n"
            "                               CURVE encryption and authentication (needs --cert)\n"
            "  -C, --cert FILE              this office's secret certificate (kc-keygen\n"
            "                               NAME_secret), registered at the aggregator\n"
            "  -q, --quiet                  print only the summary (and errors)\n"
            "      --submitted-by NAME      who enters the rows (1-64 bytes, e.g. a user\n"
            "                               name): recorded with every row sent, shown to\n"
            "                               auditors; part of each row's content\n"
            "  -w, --watch DIR              drop folder: run until stopped, sending each\n"
            "                               .xlsx or CSV file saved or moved into DIR, then\n"
            "                               moving it to DIR/done/ (its rows were read) or\n"
            "                               DIR/failed/ (nothing could be read), with\n"
            "                               NAME.report.txt and NAME.report.csv beside it\n"
            "                               (no FILE arguments; --timeout does not apply)\n"
            "      --config FILE            read options from FILE (default\n"
            "                               /etc/kcpipe/send.conf if it exists)\n"
            "      --no-config              read no config file\n"
            "      --check-config           check the config file and options, then exit\n"
            "      --lang vi|en             language of messages (default: the locale, LANG)\n"
            "      --check                  check the files offline and send nothing; exit 0\n"
            "                               if every row is valid, 65 otherwise\n"
            "      --format text|json       --check output (default text)\n"
            "      --template xlsx|csv      write a template to start from, then exit\n"
            "      --output FILE            where --template writes (default\n"
            "                               mau-bao-cao-khuyen-cong.xlsx / kcpipe-template.xlsx)\n"
            "      --sheet NAME             the worksheet of an .xlsx/.ods file (default: first)\n"
            "      --delimiter , | ; | tab  a CSV file's delimiter (default: sniffed)\n"
            "      --encoding NAME          a CSV file's encoding: UTF-8 (default),\n"
            "                               WINDOWS-1258, TCVN3, or any iconv name\n"
            "      --sign-off               sign off a month of a province (it is complete;\n"
            "                               docs/CYCLE.md) instead of sending files: needs\n"
            "                               --province and --period, no FILE\n"
            "      --province P             --sign-off: the province's code, e.g. 79\n"
            "      --period YYYY-MM         --sign-off: the month, e.g. 2026-09; it must have\n"
            "                               ended (in the centre's local time)\n"
            "  -h, --help                   show this help and exit\n"
            "  -V, --version                show the version and exit\n"
            "\n"
            "Config file (send.conf): one long option per line, \"name = value\" (\"quiet =\n"
            "true\"); options on the command line win.\n"
            "\n"
            "Drop folder (--watch): a file is taken once complete - closed after writing or\n"
            "moved in - if its name ends in .csv or .xlsx (any case) and does not start\n"
            "with '.'; *.tmp, *.part, *~ and ~$*.xlsx names are ignored, so copy under such\n"
            "a name and rename. Files already there at start are taken first, oldest first.\n"
            "A file is moved only when every row is final: to done/ if its rows were read\n"
            "(the good ones are counted even if others were rejected or refused), to\n"
            "failed/ only if nothing could be read (not a spreadsheet, damaged, bad header).\n"
            "NAME.report.txt and NAME.report.csv (UTF-8 with BOM, CRLF: for Excel) list each\n"
            "rejected or refused row with its hint, in the language of --lang, local time.\n"
            "If the aggregator is unreachable the file waits (rows spooled; stderr says so\n"
            "once, and again when it answers). A taken name in done/ or failed/ gets a\n"
            "timestamp (NAME.YYYYMMDDTHHMMSS.csv); nothing is overwritten. Per file, stdout\n"
            "gets \"file NAME: done/NAME rows=N accepted=A duplicates=D rejected=R\n"
            "malformed=M\" (one line; M: refused rows).\n"
            "SIGTERM/SIGINT: stop (the file in hand stays, its rows spooled), exit 0.\n"
            "\n"
            "Files: .xlsx or .ods (first sheet or --sheet), or CSV (',' ';' or tab;\n"
            "UTF-8 or --encoding). A header row, columns in any order, by name or by\n"
            "Vietnamese header (man kcpipe-csv): event_id, province, year, month, activity\n"
            "(required), kind, fund, amount_vnd, revenue_vnd, persons, persons_employed,\n"
            "facilities, facility_turns, products, events, delegates, projects, note,\n"
            "corrects. Empty\n"
            "cell = not reported; numbers as 1.200.000.000, 1,200,000,000 or 350000000.00;\n"
            "province by code or name; activity by code, name or Vietnamese name; kind\n"
            "actual|plan (default actual); fund kcqg|kcdp|other (default other).\n"
            "Corrections: kind correction, corrects = the event_id of the version replaced\n"
            "(same province), the row's own new event_id and the full new values; the\n"
            "actual/plan kind stays the target's. Retractions: kind retraction, event_id,\n"
            "province and corrects (year, month, activity may be empty; no metrics).\n"
            "\n"
            "event_id and corrects hold no control characters (tab, line break, ...), note\n"
            "none but tab and line breaks; each figure is at most its ceiling (10^15 dong,\n"
            "10^9 for counts), allowed for the activity and not negative; years 2000-2100.\n"
            "Rows that break a rule are refused before spooling, with the reason.\n"
            "\n"
            "Output: rows with a problem (refused before spooling) on stderr, one line each:\n"
            "place, problem, what to do, [reason]; rejected rows on stdout as \"rejected\n"
            "FILE:ROW EVENT_ID: REASON: TEXT\" and a hint line; the last line of stdout is\n"
            "\"summary: rows=N accepted=A duplicates=D rejected=R malformed=M unacknowledged=U\"\n"
            "(this run's rows; events left by an earlier run are on a \"resumed:\" line).\n"
            "--sign-off prints \"sign-off P YYYY-MM: accepted\" or \"sign-off P YYYY-MM:\n"
            "rejected REASON: TEXT\" and a hint line (period_not_ended, unknown_province,\n"
            "province_not_authorized, period_locked, ...); its exit codes are a row's.\n"
            "\n"
            "Exit: 0 every row accepted or duplicate; 65 a row rejected or malformed (or a\n"
            "file unreadable or with a bad header); 73 --template cannot write; 75 timeout\n"
            "or interrupted with rows unacknowledged (they stay spooled: rerun to resume);\n"
            "64 usage; 69 cannot open spool/connect, or the aggregator retired this spool (a\n"
            "newer spool uses the same producer id); 78 config file error. --watch: 0 when\n"
            "stopped by a signal, 69 DIR unusable or spool retired, 75 spool error.\n");
}

static int s_usage_error(const char *fmt, const char *arg)
{
    const char *blame = kc_conf_blame(arg); /* "FILE:LINE: " if arg came from the config file */
    fprintf(stderr, "%s", *blame ? blame : "kc-send: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n%s\n", _("Try 'kc-send --help' for more information."));
    return kc_conf_usage_exit(arg, EX_USAGE);
}

static bool s_parse_size(const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return false;
    *out = v;
    return true;
}

static void s_on_result(const kc_result_t *r, void *ctx)
{
    s_run_t *run = ctx;
    s_count_t *c = run->first_seq && r->seq >= run->first_seq ? &run->run : &run->old;
    if (r->reason == KCI_ACCEPTED) {
        c->accepted++;
    } else if (r->reason == KCI_DUPLICATE) {
        c->duplicates++;
    } else {
        c->rejected++;
        if (!run->quiet) {
            printf("rejected %s %s: %s: %s\n", r->source && *r->source ? r->source : "(spool)",
                   r->event_id, r->reason_name, r->text);
            char hint[1024];
            if (kci_result_hint(r, hint, sizeof hint))
                printf("  %s%s\n", _("hint: "), hint);
        }
    }
}

/* The centre's link went down or came back (kc_producer_on_link). */
static void s_on_link(int reachable, uint64_t pending, void *ctx)
{
    s_run_t *run = ctx;
    if (run->progress)
        fputc('\n', stderr);
    if (reachable)
        fprintf(stderr, _("kc-send: reached the centre (%s) again; sending\n"), run->server);
    else
        fprintf(stderr,
                _("kc-send: cannot reach the centre (%s); %llu rows safe in the spool; "
                  "retrying\n"),
                run->server, (unsigned long long)pending);
}

/* A JSON string of s; text that is not UTF-8 (a file name) escaped for display. */
static json_t *s_jstr(const char *s)
{
    json_t *j = json_string(s);
    if (!j) {
        char shown[KC_TEXT_SHOW_MAX(1024)];
        kc_text_shows(s, shown, sizeof shown);
        j = json_string(shown);
    }
    return j;
}

/* A row with a problem: one line on stderr (checking: stdout), and the JSON. */
static void s_on_problem(const kci_import_item_t *it, void *ctx)
{
    s_run_t *run = ctx;
    if (run->json) {
        json_t *files = run->json;
        json_t *f = json_array_get(files, json_array_size(files) - 1);
        json_t *o = json_object();
        json_object_set_new(o, "sheet", s_jstr(it->sheet));
        json_object_set_new(o, "row", json_integer(it->row));
        json_object_set_new(o, "col", json_string(it->col));
        json_object_set_new(o, "header", json_string(it->header));
        json_object_set_new(o, "column", json_string(it->column));
        json_object_set_new(o, "reason", json_string(it->reason));
        json_object_set_new(o, "cell", json_string(it->cell));
        json_object_set_new(o, "suggestion", json_string(it->suggestion));
        json_object_set_new(o, "message", json_string(it->message));
        json_array_append_new(json_object_get(f, "problems"), o);
        return;
    }
    if (run->quiet && run->p)
        return;
    if (run->progress)
        fputc('\n', stderr);
    fprintf(run->p ? stderr : stdout, "%s [%s]\n", it->message, it->reason);
}

static void s_on_progress(const char *path, const kc_sendfile_stats_t *st, bool done, void *ctx)
{
    s_run_t *run = ctx;
    if (!run->progress)
        return;
    fputc('\r', stderr);
    fprintf(stderr, _("%s: %llu rows read, %llu with problems"), path, (unsigned long long)st->rows,
            (unsigned long long)st->bad);
    if (done)
        fputc('\n', stderr);
}

enum { /* long-only options */
       S_OPT_LANG = 256,
       S_OPT_CHECK,
       S_OPT_FORMAT,
       S_OPT_TEMPLATE,
       S_OPT_OUTPUT,
       S_OPT_SHEET,
       S_OPT_DELIMITER,
       S_OPT_ENCODING,
       S_OPT_SUBMITTED_BY,
       S_OPT_SIGN_OFF,
       S_OPT_PROVINCE,
       S_OPT_PERIOD,
};

/* The language of messages: the last --lang (a config file's "lang =" comes
 * first in argv, so the command line wins), else the locale. Taken before the
 * options are parsed so that every usage error is in that language; a value
 * other than vi or en leaves it to the locale (the parser reports it). Stops at
 * "--"; getopt's abbreviations (--la) are not seen here (the locale decides). */
static void s_choose_lang(int argc, char **argv)
{
    const char *lang = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0)
            break;
        if (strncmp(a, "--lang=", 7) == 0)
            lang = a + 7;
        else if (strcmp(a, "--lang") == 0 && i + 1 < argc)
            lang = argv[++i];
    }
    kc_i18n_init(kc_i18n_lang_ok(lang) ? lang : NULL);
}

static const struct option s_opts[] = {
    {"connect", required_argument, NULL, 'c'},
    {"producer", required_argument, NULL, 'p'},
    {"spool", required_argument, NULL, 's'},
    {"timeout", required_argument, NULL, 't'},
    {"batch", required_argument, NULL, 'b'},
    {"request-timeout-ms", required_argument, NULL, 'r'},
    {"quiet", no_argument, NULL, 'q'},
    {"server-key", required_argument, NULL, 'k'},
    {"cert", required_argument, NULL, 'C'},
    {"watch", required_argument, NULL, 'w'},
    {"lang", required_argument, NULL, S_OPT_LANG},
    {"check", no_argument, NULL, S_OPT_CHECK},
    {"format", required_argument, NULL, S_OPT_FORMAT},
    {"template", required_argument, NULL, S_OPT_TEMPLATE},
    {"output", required_argument, NULL, S_OPT_OUTPUT},
    {"sheet", required_argument, NULL, S_OPT_SHEET},
    {"delimiter", required_argument, NULL, S_OPT_DELIMITER},
    {"encoding", required_argument, NULL, S_OPT_ENCODING},
    {"submitted-by", required_argument, NULL, S_OPT_SUBMITTED_BY},
    {"sign-off", no_argument, NULL, S_OPT_SIGN_OFF},
    {"province", required_argument, NULL, S_OPT_PROVINCE},
    {"period", required_argument, NULL, S_OPT_PERIOD},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

/* --check FILE...: read every file, send nothing. */
static int s_check(s_run_t *run, int argc, char **argv, int first, const kci_import_opts_t *io,
                   bool json)
{
    bool all_ok = true;
    if (json)
        run->json = json_array();
    for (int i = first; i < argc; i++) {
        if (json) {
            json_t *f = json_object();
            json_object_set_new(f, "file", s_jstr(argv[i]));
            json_object_set_new(f, "problems", json_array());
            json_array_append_new(run->json, f);
        }
        kc_sendfile_opts_t so = {.io = io, .on_problem = s_on_problem, .ctx = run};
        if (!json)
            so.on_progress = s_on_progress;
        kc_sendfile_stats_t st;
        kc_sendfile(argv[i], &so, &st);
        bool ok = !st.file_error && st.bad == 0;
        all_ok &= ok;
        if (json) {
            json_t *f = json_array_get(run->json, json_array_size(run->json) - 1);
            json_object_set_new(f, "rows", json_integer((json_int_t)st.rows));
            json_object_set_new(f, "good", json_integer((json_int_t)st.good));
            json_object_set_new(f, "bad", json_integer((json_int_t)st.bad));
            json_object_set_new(f, "error", *st.err ? s_jstr(st.err) : json_null());
            json_object_set_new(f, "ok", json_boolean(ok));
            continue;
        }
        if (*st.err)
            printf("%s\n", st.err);
        if (ok)
            printf(_("%s: %llu rows, all valid\n"), argv[i], (unsigned long long)st.rows);
        else if (st.file_error && st.rows == 0)
            printf(_("%s: no row could be read (nothing was sent)\n"), argv[i]);
        else
            printf(_("%s: %llu rows, %llu valid, %llu with problems (nothing was sent)\n"), argv[i],
                   (unsigned long long)st.rows, (unsigned long long)st.good,
                   (unsigned long long)st.bad);
    }
    if (json) {
        json_t *doc = json_object();
        json_object_set_new(doc, "ok", json_boolean(all_ok));
        json_object_set_new(doc, "files", run->json);
        run->json = NULL;
        char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (text)
            printf("%s\n", text);
        free(text);
        json_decref(doc);
    }
    fflush(stdout);
    return all_ok ? EX_OK : EX_DATAERR;
}

/* --template xlsx|csv [--output FILE]. */
static int s_template(const char *format, const char *output, const char *lang)
{
    int fmt = strcmp(format, "xlsx") == 0 ? KCI_TEMPLATE_XLSX : KCI_TEMPLATE_CSV;
    bool vi = lang ? strcmp(lang, "vi") == 0 : kc_i18n_lang() == KC_LANG_VI;
    char name[64];
    if (!output) {
        snprintf(name, sizeof name, "%s.%s", vi ? "mau-bao-cao-khuyen-cong" : "kcpipe-template",
                 format);
        output = name;
    }
    char err[512];
    int rc = kci_template_write(output, fmt, lang ? lang : (vi ? "vi" : "en"), err, sizeof err);
    if (rc) {
        fprintf(stderr, "kc-send: %s\n", err);
        return EX_CANTCREAT;
    }
    fprintf(stderr, _("kc-send: wrote the template %s\n"), output);
    return EX_OK;
}

typedef struct {
    s_run_t *run;   /* the counts of events an earlier run left */
    uint64_t seq;   /* the sign-off's seq */
    bool final;     /* its result arrived */
    int reason;     /* ... and what it was */
    char name[64];  /* reason_name */
    char text[512]; /* the aggregator's explanation */
    char hint[512]; /* kci_result_hint */
} s_cycle_t;

static void s_on_cycle_result(const kc_result_t *r, void *ctx)
{
    s_cycle_t *cy = ctx;
    if (!cy->seq || r->seq != cy->seq) {
        s_on_result(r, cy->run); /* left by an earlier run */
        return;
    }
    cy->final = true;
    cy->reason = r->reason;
    snprintf(cy->name, sizeof cy->name, "%s", r->reason_name ? r->reason_name : "");
    snprintf(cy->text, sizeof cy->text, "%s", r->text ? r->text : "");
    kci_result_hint(r, cy->hint, sizeof cy->hint);
}

/* --sign-off --province P --period YYYY-MM: one KCI_OP_SIGN_OFF event. */
static int s_sign_off(kc_producer_t *p, s_run_t *run, const char *province, int year, int month,
                      int64_t deadline, const char *spool)
{
    s_cycle_t cy = {.run = run};
    kc_producer_on_result(p, s_on_cycle_result, &cy);
    kc_producer_on_link(p, s_on_link, run);
    run->resumed = kc_producer_pending(p);
    char id[80];
    snprintf(id, sizeof id, "signoff-%.16s-%04d%02d-%lld", province, year, month,
             (long long)(kc_time_real_ns() / 1000000));
    kc_event_t ev = {
        .event_id = id, .province = province, .year = year, .month = month, .op = KCI_OP_SIGN_OFF};
    int rc = kc_producer_add(p, &ev, "sign-off", &cy.seq);
    if (rc == KCI_EREFUSED) {
        const char *name = "", *text = "";
        kc_producer_refusal(p, &name, &text);
        printf(_("sign-off %s %04d-%02d: refused: %s: %s\n"), province, year, month, name, text);
        fflush(stdout);
        return EX_DATAERR;
    }
    if (rc) {
        fprintf(stderr, _("kc-send: cannot spool the sign-off: %s\n"), kc_producer_strerror(rc));
        return rc == KCI_EINVAL ? EX_USAGE : EX_TEMPFAIL;
    }
    run->first_seq = cy.seq;
    int fail = 0;
    while (!s_stop) {
        int64_t left = deadline == INT64_MAX ? -1 : deadline - kc_time_mono_ms();
        if (left > 2000000000)
            left = 2000000000;
        rc = kc_producer_flush(p, deadline == INT64_MAX ? -1 : (int)(left > 0 ? left : 0));
        if (rc == KCI_EINTR)
            continue;
        if (rc && rc != KCI_ETIMEDOUT) {
            fprintf(stderr, "kc-send: %s\n", kc_producer_strerror(rc));
            fail = rc;
        }
        break;
    }
    if (run->resumed)
        printf("resumed: rows=%llu accepted=%llu duplicates=%llu rejected=%llu\n",
               (unsigned long long)run->resumed, (unsigned long long)run->old.accepted,
               (unsigned long long)run->old.duplicates, (unsigned long long)run->old.rejected);
    if (!cy.final) {
        printf(_("sign-off %s %04d-%02d: not yet acknowledged; it stays spooled in %s: rerun "
                 "kc-send with this spool to deliver it\n"),
               province, year, month, spool);
        fflush(stdout);
        return fail == KCI_EFENCED ? EX_UNAVAILABLE : EX_TEMPFAIL;
    }
    if (cy.reason == KCI_ACCEPTED || cy.reason == KCI_DUPLICATE) {
        printf(_("sign-off %s %04d-%02d: accepted (%s)\n"), province, year, month, id);
    } else {
        printf(_("sign-off %s %04d-%02d: rejected %s: %s\n"), province, year, month, cy.name,
               cy.text);
        if (*cy.hint)
            printf("  %s%s\n", _("hint: "), cy.hint);
    }
    fflush(stdout);
    if (fail)
        return fail == KCI_EFENCED ? EX_UNAVAILABLE : EX_TEMPFAIL;
    return cy.reason == KCI_ACCEPTED || cy.reason == KCI_DUPLICATE ? EX_OK : EX_DATAERR;
}

static int s_main(const kc_conf_args_t *ca)
{
    int argc = ca->argc;
    char **argv = ca->argv;
    kc_producer_opts_t po = {0};
    kci_import_opts_t io = {0};
    const char *watch_dir = NULL, *template_fmt = NULL, *output = NULL, *lang = NULL;
    bool check = false, json = false, sign_off = false;
    const char *province = NULL, *period = NULL;
    int period_year = 0, period_month = 0;
    double timeout_s = -1;
    const char *server_key_file = NULL, *submitted_by = NULL;
    char server_key[41];
    bool quiet = false;
    long v;
    int c;
    s_choose_lang(argc, argv);
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":c:p:s:t:b:r:k:C:w:qhV", s_opts, NULL)) != -1) {
        switch (c) {
        case 'c': po.endpoint = optarg; break;
        case 'p': po.producer_id = optarg; break;
        case 's': po.spool_dir = optarg; break;
        case 't': {
            char *end;
            errno = 0;
            timeout_s = strtod(optarg, &end);
            if (errno || end == optarg || *end || !(timeout_s >= 0) || timeout_s > 1e9)
                return s_usage_error(_("--timeout: '%s' is not a number of seconds"), optarg);
            break;
        }
        case 'b':
            if (!s_parse_size(optarg, 1, 1000000, &v))
                return s_usage_error(_("--batch: '%s' is not a number from 1 to 1000000"), optarg);
            po.batch_max = (size_t)v;
            break;
        case 'r':
            if (!s_parse_size(optarg, 1, 86400000, &v))
                return s_usage_error(_("--request-timeout-ms: '%s' is not a positive number"),
                                     optarg);
            po.request_timeout_ms = (int)v;
            break;
        case 'q': quiet = true; break;
        case 'k': server_key_file = optarg; break;
        case 'C': po.client_cert_file = optarg; break;
        case 'w': watch_dir = optarg; break;
        case S_OPT_LANG:
            if (!kc_i18n_lang_ok(optarg))
                return s_usage_error(_("--lang: '%s' is not vi or en"), optarg);
            lang = optarg;
            break;
        case S_OPT_CHECK: check = true; break;
        case S_OPT_FORMAT:
            if (strcmp(optarg, "json") != 0 && strcmp(optarg, "text") != 0)
                return s_usage_error(_("--format: '%s' is not text or json"), optarg);
            json = strcmp(optarg, "json") == 0;
            break;
        case S_OPT_TEMPLATE:
            if (strcmp(optarg, "xlsx") != 0 && strcmp(optarg, "csv") != 0)
                return s_usage_error(_("--template: '%s' is not xlsx or csv"), optarg);
            template_fmt = optarg;
            break;
        case S_OPT_OUTPUT: output = optarg; break;
        case S_OPT_SHEET: io.sheet = optarg; break;
        case S_OPT_DELIMITER:
            if (strcmp(optarg, ",") == 0 || strcmp(optarg, ";") == 0)
                io.delimiter = optarg[0];
            else if (strcmp(optarg, "\t") == 0 || strcmp(optarg, "tab") == 0 ||
                     strcmp(optarg, "\\t") == 0)
                io.delimiter = '\t';
            else
                return s_usage_error(_("--delimiter: '%s' is not , ; or tab"), optarg);
            break;
        case S_OPT_ENCODING: io.encoding = optarg; break;
        case S_OPT_SUBMITTED_BY: submitted_by = optarg; break;
        case S_OPT_SIGN_OFF: sign_off = true; break;
        case S_OPT_PROVINCE:
            if (!*optarg)
                return s_usage_error(_("--province: '%s' is not a province code"), optarg);
            province = optarg;
            break;
        case S_OPT_PERIOD:
            if (!kc_ref_parse_period(optarg, &period_year, &period_month))
                return s_usage_error(_("--period: '%s' is not a month YYYY-MM (2000-01 to "
                                       "2100-12)"),
                                     optarg);
            period = optarg;
            break;
        case 'h': s_usage(stdout); return EX_OK;
        case 'V': printf("kc-send %s\n", KCI_VERSION); return EX_OK;
        case ':': return s_usage_error(_("option '%s' needs an argument"), argv[optind - 1]);
        default: return s_usage_error(_("unknown option '%s'"), argv[optind - 1]);
        }
    }
    if (sign_off) {
        if (!province || !period)
            return s_usage_error("%s", _("--sign-off needs --province and --period"));
        if (optind < argc)
            return s_usage_error(_("--sign-off takes no FILE arguments (got '%s')"), argv[optind]);
        if (check || watch_dir || template_fmt)
            return s_usage_error("%s", _("--sign-off does not go with --check, --watch or "
                                         "--template"));
    } else if (province || period) {
        return s_usage_error("%s", _("--province and --period go with --sign-off"));
    }
    if (template_fmt) {
        if (optind < argc || check || watch_dir)
            return s_usage_error("%s", _("--template takes no FILE, --check or --watch"));
        if (kc_conf_check_done(ca))
            return EX_OK;
        return s_template(template_fmt, output, lang);
    }
    if (output)
        return s_usage_error("%s", _("--output goes with --template"));
    if (json && !check)
        return s_usage_error("%s", _("--format goes with --check"));
    if (check) {
        if (watch_dir)
            return s_usage_error("%s", _("--check and --watch do not go together"));
        if (kc_conf_check_done(ca))
            return EX_OK;
        if (optind >= argc)
            return s_usage_error("%s", _("no file given"));
        s_run_t run = {.quiet = quiet, .progress = !quiet && !json && isatty(2)};
        return s_check(&run, argc, argv, optind, &io, json);
    }
    if (!po.endpoint || !po.producer_id || !po.spool_dir)
        return s_usage_error("%s", _("--connect, --producer and --spool are required"));
    size_t idlen = strlen(po.producer_id);
    if (idlen == 0 || idlen > 64)
        return s_usage_error(_("--producer: '%s' must be 1 to 64 bytes"), po.producer_id);
    char why[256];
    if (!kc_producer_id_ok(po.producer_id, NULL, 0, why, sizeof why)) {
        /* the aggregator's id rule: it would refuse every Batch (invalid_text) */
        char shown[KC_TEXT_SHOW_MAX(64)];
        kc_text_show(po.producer_id, idlen, shown, sizeof shown);
        const char *blame = kc_conf_blame(po.producer_id);
        fprintf(stderr,
                _("%s--producer: invalid_text: '%s' %s; a producer id is printable UTF-8 text\n"),
                *blame ? blame : "kc-send: ", shown,
                kc_text_utf8_valid(po.producer_id, idlen) ? _("holds a control character")
                                                          : _("is not valid UTF-8"));
        fprintf(stderr, "%s\n", _("Try 'kc-send --help' for more information."));
        return kc_conf_usage_exit(po.producer_id, EX_USAGE);
    }
    if (!server_key_file != !po.client_cert_file)
        return s_usage_error("%s", _("--server-key and --cert go together"));
    if (submitted_by) { /* the aggregator's rule for Event.submitted_by (kc_event_admit) */
        Kcpipe__V1__Event probe;
        kcpipe__v1__event__init(&probe);
        probe.submitted_by = (char *)submitted_by;
        if (kc_event_admit(&probe, NULL, 0, why, sizeof why) != KCPIPE__V1__REASON__REASON_OK) {
            const char *blame = kc_conf_blame(submitted_by);
            fprintf(stderr, _("%s--submitted-by: invalid_text: %s\n"),
                    *blame ? blame : "kc-send: ", why);
            fprintf(stderr, "%s\n", _("Try 'kc-send --help' for more information."));
            return kc_conf_usage_exit(submitted_by, EX_USAGE);
        }
    }
    if (watch_dir && optind < argc)
        return s_usage_error(_("--watch takes no FILE arguments (got '%s')"), argv[optind]);
    if (watch_dir && !*watch_dir)
        return s_usage_error("%s", _("--watch: an empty directory name"));
    if (kc_conf_check_done(ca))
        return EX_OK;
    if (!watch_dir && !sign_off && optind >= argc)
        return s_usage_error("%s", _("no file given"));
    for (int i = optind; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (!f) {
            fprintf(stderr, "kc-send: %s: %s\n", argv[i], strerror(errno));
            return s_usage_error(_("cannot read input file '%s'"), argv[i]);
        }
        fclose(f);
    }
    int64_t deadline =
        timeout_s < 0 ? INT64_MAX : kc_time_mono_ms() + (int64_t)(timeout_s * 1000 + 0.5);

    kc_ingest_set_log("kc-send", quiet ? KCI_LOG_ERROR : KCI_LOG_WARN, NULL, NULL);
    if (server_key_file) {
        int krc = kc_ingest_read_cert(server_key_file, server_key, NULL);
        if (krc) {
            fprintf(stderr, "kc-send: --server-key %s: %s\n", server_key_file,
                    kc_producer_strerror(krc));
            return EX_USAGE;
        }
        po.server_public_key = server_key;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal; /* no SA_RESTART: a wait returns with EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGXFSZ, SIG_IGN); /* a spool write past RLIMIT_FSIZE fails (EFBIG), reported */

    size_t batch = po.batch_max ? po.batch_max : 1000;
    s_run_t run = {.quiet = quiet, .progress = !quiet && isatty(2), .server = po.endpoint};
    int rc = kc_producer_open(&run.p, &po);
    if (rc) {
        fprintf(stderr, _("kc-send: cannot open spool %s / connect to %s: %s\n"), po.spool_dir,
                po.endpoint, kc_producer_strerror(rc));
        if (!watch_dir && !sign_off)
            printf("summary: rows=0 accepted=0 duplicates=0 rejected=0 malformed=0 "
                   "unacknowledged=0\n");
        return EX_UNAVAILABLE;
    }
    if (submitted_by && (rc = kc_producer_set_submitted_by(run.p, submitted_by)) != 0) {
        kc_producer_close(&run.p); /* checked above: not reached */
        return EX_USAGE;
    }
    if (sign_off) {
        int ex =
            s_sign_off(run.p, &run, province, period_year, period_month, deadline, po.spool_dir);
        kc_producer_close(&run.p);
        return ex;
    }
    if (watch_dir) {
        kc_dropbox_opts_t wo = {.dir = watch_dir,
                                .quiet = quiet,
                                .batch = batch,
                                .io = &io,
                                .producer = po.producer_id,
                                .spool = po.spool_dir,
                                .server = po.endpoint};
        int ex = kc_dropbox_run(&wo, run.p, &s_stop);
        kc_producer_close(&run.p);
        fflush(stdout);
        return ex;
    }
    kc_producer_on_result(run.p, s_on_result, &run);
    kc_producer_on_link(run.p, s_on_link, &run);
    run.resumed = kc_producer_pending(run.p); /* left by an earlier run */
    if (run.resumed && !quiet)
        fprintf(stderr,
                _("kc-send: %llu rows left in the spool by an earlier run; sending them "
                  "first\n"),
                (unsigned long long)run.resumed);

    bool file_error = false;
    for (int i = optind; i < argc && !run.fail_rc && !s_stop; i++) {
        kc_sendfile_opts_t so = {.p = run.p,
                                 .io = &io,
                                 .batch = batch,
                                 .stop = &s_stop,
                                 .first_seq = &run.first_seq,
                                 .on_problem = s_on_problem,
                                 .on_progress = s_on_progress,
                                 .ctx = &run};
        kc_sendfile_stats_t st;
        rc = kc_sendfile(argv[i], &so, &st);
        run.rows += st.rows;
        run.malformed += st.bad;
        if (st.fail_rc) {
            fprintf(stderr, _("kc-send: %s: cannot spool: %s\n"), argv[i],
                    kc_producer_strerror(st.fail_rc));
            run.fail_rc = st.fail_rc;
        }
        if (*st.err)
            fprintf(stderr, "kc-send: %s\n", st.err);
        if (st.file_error)
            file_error = true;
    }

    int64_t left = 0;
    for (;;) {
        if (run.fail_rc || s_stop)
            break;
        left = deadline == INT64_MAX ? -1 : deadline - kc_time_mono_ms();
        if (left > 2000000000)
            left = 2000000000;
        rc = kc_producer_flush(run.p, deadline == INT64_MAX ? -1 : (int)(left > 0 ? left : 0));
        if (rc == KCI_EINTR)
            continue; /* s_stop tells whether it was ours */
        if (rc && rc != KCI_ETIMEDOUT) {
            fprintf(stderr, "kc-send: %s\n", kc_producer_strerror(rc));
            run.fail_rc = rc;
        }
        break;
    }
    uint64_t unacked = kc_producer_pending(run.p);
    kc_producer_close(&run.p);
    uint64_t old_final = run.old.accepted + run.old.duplicates + run.old.rejected;
    uint64_t old_left = run.resumed > old_final ? run.resumed - old_final : 0;
    uint64_t run_left = unacked > old_left ? unacked - old_left : 0;
    if (unacked && !quiet)
        fprintf(stderr,
                _("kc-send: %llu rows not yet acknowledged stay spooled in %s; rerun to resume\n"),
                (unsigned long long)unacked, po.spool_dir);
    if (run.resumed)
        printf("resumed: rows=%llu accepted=%llu duplicates=%llu rejected=%llu "
               "unacknowledged=%llu\n",
               (unsigned long long)run.resumed, (unsigned long long)run.old.accepted,
               (unsigned long long)run.old.duplicates, (unsigned long long)run.old.rejected,
               (unsigned long long)old_left);
    printf("summary: rows=%llu accepted=%llu duplicates=%llu rejected=%llu malformed=%llu "
           "unacknowledged=%llu\n",
           (unsigned long long)run.rows, (unsigned long long)run.run.accepted,
           (unsigned long long)run.run.duplicates, (unsigned long long)run.run.rejected,
           (unsigned long long)run.malformed, (unsigned long long)run_left);
    fflush(stdout);
    if (run.fail_rc == KCI_EFENCED)
        return EX_UNAVAILABLE; /* retrying cannot help: this spool is retired */
    if (unacked || run.fail_rc)
        return EX_TEMPFAIL;
    if (run.run.rejected || run.old.rejected || run.malformed || file_error)
        return EX_DATAERR;
    return EX_OK;
}

int main(int argc, char **argv)
{
    kc_conf_args_t ca;
    memset(&ca, 0, sizeof ca);
    int rc = kc_conf_merge("kc-send", "send", s_opts, argc, argv, &ca);
    if (rc)
        return rc;
    int ex = s_main(&ca);
    kc_conf_args_free(&ca);
    return ex;
}
