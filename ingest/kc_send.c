/* kc_send.c - kc-send: import activity CSV files and deliver them durably.
 *
 * Flow: open the producer (spool + connection); events left pending by an
 * earlier run are resent first (their seqs are lowest) and their results are
 * counted; every good CSV row is staged with the source tag "FILE:LINE" and
 * the network is serviced between spool commits; then wait until every event
 * is final or --timeout passes. Results arrive through the library callback,
 * exactly once per event.
 *
 * Counting: rows = resumed spool events + CSV data rows read, and
 * rows = accepted + duplicates + rejected + malformed + unacknowledged.
 */
#include "kc_conf.h"
#include "kc_csv.h"
#include "kc_dropbox.h"
#include "kc_event.h"
#include "kc_i18n.h"
#include "kc_service.h"
#include "kc_text.h"
#include "kc_time.h"
#include "kcingest.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EX_OK          0
#define EX_USAGE       64
#define EX_DATAERR     65
#define EX_UNAVAILABLE 69
#define EX_TEMPFAIL    75

static volatile sig_atomic_t s_stop;

typedef struct {
    kc_producer_t *p; /* the producer */
    bool quiet;       /* no per-row lines */
    size_t batch;     /* service the network every this many rows */
    uint64_t rows;    /* see "Counting" above */
    uint64_t accepted, duplicates, rejected, malformed;
    uint64_t staged_since_poll;
    int fail_rc; /* a library error that stopped the import */
} s_run_t;

static void s_on_signal(int sig)
{
    (void)sig;
    s_stop = 1;
}

static void s_usage(FILE *out)
{
    fprintf(out,
            "Usage: kc-send --connect EP --producer ID --spool DIR [options] FILE.csv...\n"
            "       kc-send --connect EP --producer ID --spool DIR [options] --watch DIR\n"
            "Import khuyen cong activity rows from CSV files and deliver them to kc-aggregator.\n"
            "Every row is spooled durably before it is sent and stays spooled until the\n"
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
            "  -w, --watch DIR              drop folder: run until stopped, sending each CSV\n"
            "                               file saved or moved into DIR, then moving it to\n"
            "                               DIR/done/ (every row accepted or a duplicate) or\n"
            "                               DIR/failed/ with NAME.report.txt beside it\n"
            "                               (no FILE arguments; --timeout does not apply)\n"
            "      --config FILE            read options from FILE (default\n"
            "                               /etc/kcpipe/send.conf if it exists)\n"
            "      --no-config              read no config file\n"
            "      --check-config           check the config file and options, then exit\n"
            "      --lang vi|en             language of messages (default: the locale, LANG)\n"
            "  -h, --help                   show this help and exit\n"
            "  -V, --version                show the version and exit\n"
            "\n"
            "Config file (send.conf): one long option per line, \"name = value\" (\"quiet =\n"
            "true\"); options on the command line win.\n"
            "\n"
            "Drop folder (--watch): a file is taken once complete - closed after writing or\n"
            "moved in - if its name ends in .csv (any case) and does not start with '.';\n"
            "*.tmp, *.part and *~ names are ignored, so copy under such a name and rename.\n"
            "Files already there at start are taken first, oldest first. A file is moved\n"
            "only when every row is final; if the aggregator is unreachable it waits (rows\n"
            "spooled) and is retried. A taken name in done/ or failed/ gets a timestamp\n"
            "(NAME.YYYYMMDDTHHMMSS.csv); nothing is overwritten. Per file, stdout gets\n"
            "\"file NAME: done/NAME rows=N accepted=A duplicates=D rejected=R malformed=M\".\n"
            "SIGTERM/SIGINT: stop (the file in hand stays, its rows spooled), exit 0.\n"
            "\n"
            "CSV: UTF-8 with a header row; columns in any order: event_id, province, year,\n"
            "month, activity (required), kind, fund, amount_vnd, revenue_vnd, persons,\n"
            "persons_employed, facilities, facility_turns, products, events, delegates,\n"
            "projects, note, corrects. Empty cell = not reported; kind actual|plan (default\n"
            "actual); fund kcqg|kcdp|other (default other); activity by name or code.\n"
            "Corrections: kind correction, corrects = the event_id of the version replaced\n"
            "(same province), the row's own new event_id and the full new values; the\n"
            "actual/plan kind stays the target's. Retractions: kind retraction, event_id,\n"
            "province and corrects (year, month, activity may be empty; no metrics).\n"
            "\n"
            "Text must be UTF-8; event_id, province, activity and corrects hold no control\n"
            "characters (tab, line break, ...), note none but tab and line breaks; each\n"
            "metric is at most its ceiling (10^15 dong, 10^9 for counts). Rows that break\n"
            "this are refused before spooling (invalid_text, value_too_large).\n"
            "\n"
            "Output: malformed rows (refused before spooling) on stderr as FILE:LINE: reason;\n"
            "rejected rows on stdout as \"rejected FILE:LINE EVENT_ID: REASON: TEXT\"; the last\n"
            "line of stdout is\n"
            "\"summary: rows=N accepted=A duplicates=D rejected=R malformed=M unacknowledged=U\"\n"
            "(rows counts events resumed from the spool plus CSV rows read).\n"
            "\n"
            "Exit: 0 every row accepted or duplicate; 65 a row rejected or malformed (or a\n"
            "file with a bad header); 75 timeout or interrupted with rows unacknowledged\n"
            "(they stay spooled: rerun to resume); 64 usage; 69 cannot open spool/connect, or\n"
            "the aggregator retired this spool (a newer spool uses the same producer id);\n"
            "78 config file error. --watch: 0 when stopped by a signal, 69 DIR unusable or\n"
            "spool retired, 75 spool error.\n");
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
    if (r->reason == KCI_ACCEPTED) {
        run->accepted++;
    } else if (r->reason == KCI_DUPLICATE) {
        run->duplicates++;
    } else {
        run->rejected++;
        if (!run->quiet)
            printf("rejected %s %s: %s: %s\n", r->source && *r->source ? r->source : "(spool)",
                   r->event_id, r->reason_name, r->text);
    }
}

static int s_on_row(const kc_csv_row_t *row, void *ctx)
{
    s_run_t *run = ctx;
    if (s_stop)
        return KCI_EINTR;
    int rc = kc_producer_add(run->p, row->ev, row->source, NULL);
    if (rc == KCI_EINVAL) { /* cannot be encoded (kc_csv checks first; defensive) */
        fprintf(stderr, _("%s: cannot be sent\n"), row->source);
        run->malformed++;
        return 0;
    }
    if (rc == KCI_EREFUSED) { /* the aggregator's admission rules: never spooled */
        const char *name, *text;
        kc_producer_refusal(run->p, &name, &text);
        fprintf(stderr, "%s: %s: %s\n", row->source, name, text);
        run->malformed++;
        return 0;
    }
    if (rc) {
        fprintf(stderr, _("kc-send: %s: cannot spool: %s\n"), row->source,
                kc_producer_strerror(rc));
        run->fail_rc = rc;
        return rc;
    }
    if (++run->staged_since_poll >= run->batch) {
        run->staged_since_poll = 0;
        rc = kc_producer_poll(run->p, 0); /* send and take acks while importing */
        if (rc && rc != KCI_EINTR) {
            fprintf(stderr, "kc-send: %s\n", kc_producer_strerror(rc));
            run->fail_rc = rc;
            return rc;
        }
    }
    return 0;
}

static void s_on_bad(const char *file, long line, const char *reason, void *ctx)
{
    (void)ctx;
    if (line > 0)
        fprintf(stderr, "%s:%ld: %s\n", file, line, reason);
    else
        fprintf(stderr, "%s: %s\n", file, reason);
}

enum { S_OPT_LANG = 256 }; /* long-only options */

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
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

static int s_main(const kc_conf_args_t *ca)
{
    int argc = ca->argc;
    char **argv = ca->argv;
    kc_producer_opts_t po = {0};
    const char *watch_dir = NULL;
    double timeout_s = -1;
    const char *server_key_file = NULL;
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
            break;
        case 'h': s_usage(stdout); return EX_OK;
        case 'V': printf("kc-send %s\n", KCI_VERSION); return EX_OK;
        case ':': return s_usage_error(_("option '%s' needs an argument"), argv[optind - 1]);
        default: return s_usage_error(_("unknown option '%s'"), argv[optind - 1]);
        }
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
    if (watch_dir && optind < argc)
        return s_usage_error(_("--watch takes no FILE arguments (got '%s')"), argv[optind]);
    if (watch_dir && !*watch_dir)
        return s_usage_error("%s", _("--watch: an empty directory name"));
    if (kc_conf_check_done(ca))
        return EX_OK;
    if (!watch_dir && optind >= argc)
        return s_usage_error("%s", _("no CSV file given"));
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

    s_run_t run = {.quiet = quiet, .batch = po.batch_max ? po.batch_max : 1000};
    int rc = kc_producer_open(&run.p, &po);
    if (rc) {
        fprintf(stderr, _("kc-send: cannot open spool %s / connect to %s: %s\n"), po.spool_dir,
                po.endpoint, kc_producer_strerror(rc));
        if (!watch_dir)
            printf("summary: rows=0 accepted=0 duplicates=0 rejected=0 malformed=0 "
                   "unacknowledged=0\n");
        return EX_UNAVAILABLE;
    }
    if (watch_dir) {
        kc_dropbox_opts_t wo = {.dir = watch_dir,
                                .quiet = quiet,
                                .batch = run.batch,
                                .producer = po.producer_id,
                                .spool = po.spool_dir,
                                .server = po.endpoint};
        int ex = kc_dropbox_run(&wo, run.p, &s_stop);
        kc_producer_close(&run.p);
        fflush(stdout);
        return ex;
    }
    kc_producer_on_result(run.p, s_on_result, &run);
    run.rows = kc_producer_pending(run.p); /* resumed from an earlier run */

    bool file_error = false;
    for (int i = optind; i < argc && !run.fail_rc && !s_stop; i++) {
        kc_csv_stats_t st;
        rc = kc_csv_import(argv[i], s_on_row, s_on_bad, &run, &st);
        run.rows += st.rows;
        run.malformed += st.malformed;
        if (rc && rc != run.fail_rc && rc != KCI_EINTR)
            file_error = true; /* bad header or read error, reported by s_on_bad */
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
    if (unacked && !quiet)
        fprintf(stderr,
                _("kc-send: %llu rows not yet acknowledged stay spooled in %s; rerun to resume\n"),
                (unsigned long long)unacked, po.spool_dir);
    printf("summary: rows=%llu accepted=%llu duplicates=%llu rejected=%llu malformed=%llu "
           "unacknowledged=%llu\n",
           (unsigned long long)run.rows, (unsigned long long)run.accepted,
           (unsigned long long)run.duplicates, (unsigned long long)run.rejected,
           (unsigned long long)run.malformed, (unsigned long long)unacked);
    fflush(stdout);
    if (run.fail_rc == KCI_EFENCED)
        return EX_UNAVAILABLE; /* retrying cannot help: this spool is retired */
    if (unacked || run.fail_rc)
        return EX_TEMPFAIL;
    if (run.rejected || run.malformed || file_error)
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
