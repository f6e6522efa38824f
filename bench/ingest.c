/* ingest.c - bench-ingest: end-to-end ingest throughput of kcpipe.
 *
 * DESIGN
 * One kc-aggregator (the build's own, on a fresh store in a temp dir) and N
 * producer processes, each using libkcingest directly with its own spool, send
 * M events in total. Every figure is end to end and durable: an event counts
 * once its result callback reported it accepted, which libkcingest does only
 * after an Ack, which the aggregator sends only after its fsync'd commit; the
 * producers' spool commits are inside the measured time as well.
 *   events_per_s    accepted events / (last ack - first add), across producers
 *                   (CLOCK_MONOTONIC is shared by the processes)
 *   ack latency     per event, kc_producer_add() -> its result callback;
 *                   p50/p99 over all producers' events
 *   bytes_per_event disk blocks of the aggregator's data.mdb / accepted events
 *   peak_rss_kb     the aggregator's VmHWM, read just before SIGTERM
 * Producers start together: each opens its producer, reports ready on a pipe
 * and blocks on a shared "go" pipe that the parent closes once all are ready.
 * A producer keeps at most 2 x window x batch events pending (it polls while
 * above), so latency measures the pipeline, not an unbounded local queue.
 * After the run the store is opened read-only and its totals must equal what
 * was sent, metric by metric: a benchmark that loses data is worthless.
 * --curve: kc-keygen makes the aggregator's and every producer's key pair
 * in the temp dir and a registry granting each producer every province; the
 * producers connect as CURVE clients (docs/SECURITY.md).
 * The Merkle log is always on (the aggregator has no way to run without it):
 * the output says "merkle": "on".
 * Shared pieces (processes, aggregator, verification) are in bench_util.c.
 * The last line of output is one JSON object.
 */
#include "bench_util.h"
#include "gen_csv.h"
#include "kc_err.h"
#include "kc_ref.h"
#include "kc_store.h"
#include "kc_time.h"
#include "kcingest.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_PRODUCERS BU_MAX_PRODUCERS

typedef struct {
    int producers;
    uint64_t events;
    size_t batch;
    size_t window;
    long group_max;
    long group_window_ms;
    const char *resident_limit; /* aggregator --resident-limit, or NULL */
    int request_timeout_ms;
    bool keep;
    bool scatter;    /* every producer reports for every province and period */
    bool monitoring; /* feed + HTTP on, a kc-watch subscriber and a scraper running */
    bool curve;      /* CURVE on: keys made with kc-keygen, a registry */
    const char *dir;
    const char *aggregator;
} opts_t;

static pid_t s_mon[2]; /* --monitoring: the kc-watch subscriber and the HTTP scraper */

static void s_usage(FILE *f)
{
    fprintf(f,
            "Usage: bench-ingest [options]\n"
            "End-to-end durable ingest benchmark: N producer processes (libkcingest, own\n"
            "spools) send M events to a fresh kc-aggregator; prints a table and, as the\n"
            "last line, one JSON object.\n\n"
            "  -p, --producers N          producer processes (default 4)\n"
            "  -n, --events M             events in total (default 1000000)\n"
            "  -b, --batch N              events per Batch message (default: library's, 1000)\n"
            "  -w, --window N             batches in flight per producer (default: library's, "
            "8)\n"
            "  -g, --group-max N          aggregator --group-max (default: its own, 8192)\n"
            "  -G, --group-window-ms MS   aggregator --group-window-ms (default: its own, 2)\n"
            "  -R, --resident-limit SIZE  aggregator --resident-limit (default: its own, 48m;\n"
            "                             0 = no limit)\n"
            "  -t, --request-timeout-ms MS  producers' resend timeout (default: library's)\n"
            "  -d, --dir DIR              parent of the temp dir (default $TMPDIR or /tmp)\n"
            "  -a, --aggregator PATH      kc-aggregator to run (default: beside this program)\n"
            "  -s, --scatter              every producer reports random provinces and periods\n"
            "                             2021-2024 (worst case for the totals index);\n"
            "                             default: each producer is one province office,\n"
            "                             periods 2021-01..2022-09 in order\n"
            "  -m, --monitoring           run the aggregator with its live feed and HTTP server\n"
            "                             on, one kc-watch subscribed to the feed, and a\n"
            "                             scraper fetching /metrics and /v1/totals every\n"
            "                             second (issue 5: the cost of monitoring)\n"
            "  -c, --curve                CURVE on: keys made with kc-keygen in the temp dir,\n"
            "                             a registry; producers connect as CURVE clients\n"
            "                             (the Merkle log is always on: no option)\n"
            "  -k, --keep                 keep the temp dir (store, spools, logs)\n"
            "  -h, --help                 this text\n"
            "  -V, --version              version\n");
}

static void s_parse(int argc, char **argv, opts_t *o)
{
    static const struct option lopts[] = {
        {"producers", required_argument, 0, 'p'},
        {"events", required_argument, 0, 'n'},
        {"batch", required_argument, 0, 'b'},
        {"window", required_argument, 0, 'w'},
        {"group-max", required_argument, 0, 'g'},
        {"group-window-ms", required_argument, 0, 'G'},
        {"resident-limit", required_argument, 0, 'R'},
        {"request-timeout-ms", required_argument, 0, 't'},
        {"dir", required_argument, 0, 'd'},
        {"aggregator", required_argument, 0, 'a'},
        {"keep", no_argument, 0, 'k'},
        {"scatter", no_argument, 0, 's'},
        {"monitoring", no_argument, 0, 'm'},
        {"curve", no_argument, 0, 'c'},
        {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, 'V'},
        {0, 0, 0, 0},
    };
    *o = (opts_t){.producers = 4, .events = 1000000, .group_window_ms = -1};
    int c;
    while ((c = getopt_long(argc, argv, "p:n:b:w:g:G:R:t:d:a:kmschV", lopts, NULL)) != -1) {
        switch (c) {
        case 'p': o->producers = (int)bu_num("--producers", optarg, 1); break;
        case 'n': o->events = (uint64_t)bu_num("--events", optarg, 1); break;
        case 'b': o->batch = (size_t)bu_num("--batch", optarg, 1); break;
        case 'w': o->window = (size_t)bu_num("--window", optarg, 1); break;
        case 'g': o->group_max = bu_num("--group-max", optarg, 1); break;
        case 'G': o->group_window_ms = bu_num("--group-window-ms", optarg, 0); break;
        case 'R': o->resident_limit = optarg; break;
        case 't': o->request_timeout_ms = (int)bu_num("--request-timeout-ms", optarg, 1); break;
        case 'd': o->dir = optarg; break;
        case 'a': o->aggregator = optarg; break;
        case 'k': o->keep = true; break;
        case 's': o->scatter = true; break;
        case 'm': o->monitoring = true; break;
        case 'c': o->curve = true; break;
        case 'h': s_usage(stdout); exit(0);
        case 'V': printf("bench-ingest %s\n", KC_VERSION); exit(0);
        default: fprintf(stderr, "Try --help.\n"); exit(64);
        }
    }
    if (optind < argc) {
        fprintf(stderr, "bench-ingest: unexpected argument: %s\nTry --help.\n", argv[optind]);
        exit(64);
    }
    if (o->producers > MAX_PRODUCERS) {
        fprintf(stderr, "bench-ingest: at most %d producers\n", MAX_PRODUCERS);
        exit(64);
    }
    if (o->events < (uint64_t)o->producers) {
        fprintf(stderr, "bench-ingest: fewer events than producers\n");
        exit(64);
    }
}

/* ---- one producer process ---- */

typedef struct {
    const opts_t *o;
    const char *endpoint;
} run_t;

static int s_producer(int idx, uint64_t n, void *ctx)
{
    const run_t *run = ctx;
    const opts_t *o = run->o;
    char id[32];
    snprintf(id, sizeof id, "bench-%02d", idx);
    bu_report_t rep = {0};
    bu_prod_t c;
    bu_prod_init(&c, n, &rep);
    kc_producer_t *p =
        bu_producer_open(idx, run->endpoint, o->batch, o->window, o->request_timeout_ms, &c);
    if (!p)
        return 2;
    size_t batch = o->batch ? o->batch : 1000, window = o->window ? o->window : 8;
    uint64_t max_pending = 2 * (uint64_t)batch * window;
    bu_ready_go();

    kc_gen_t g;
    kc_gen_init(&g, id, 1000 + (uint64_t)idx);
    char prov[4];
    bu_office_province(idx, prov);
    rep.first_add_ns = kc_time_mono_ns();
    int rc = 0;
    for (uint64_t i = 0; i < n; i++) {
        kc_gen_row_t r;
        kc_event_t ev;
        bu_next_event(&g, &r, i, n, o->scatter ? NULL : prov, &ev, rep.sums);
        uint64_t seq = 0;
        int64_t t = kc_time_mono_ns();
        rc = kc_producer_add(p, &ev, NULL, &seq);
        if (rc != 0) {
            fprintf(stderr, "bench-ingest: producer %d: add: %s\n", idx, kc_producer_strerror(rc));
            return 2;
        }
        bu_prod_added(&c, i, seq, t);
        if ((i + 1) % batch == 0)
            kc_producer_poll(p, 0);
        while (kc_producer_pending(p) > max_pending)
            kc_producer_poll(p, 5);
    }
    rc = kc_producer_flush(p, 600 * 1000);
    if (rc != 0)
        fprintf(stderr, "bench-ingest: producer %d: flush: %s (%" PRIu64 " pending)\n", idx,
                kc_producer_strerror(rc), kc_producer_pending(p));
    kc_producer_close(&p);
    if (!bu_report_write(idx, &c))
        return 2;
    return rc == 0 && rep.accepted == n ? 0 : 1;
}

/* ---- the parent ---- */

/* One blocking HTTP/1.0 GET of `path` from 127.0.0.1:port; the body is read
 * and discarded. Returns the status code, or -1. */
static int s_http_get(int port, const char *path)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char req[512], buf[16384];
    int len = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
    int status = -1;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0 && write(fd, req, (size_t)len) == len) {
        ssize_t r;
        bool first = true;
        while ((r = read(fd, buf, sizeof buf - 1)) > 0) {
            if (first) {
                buf[r] = '\0';
                sscanf(buf, "HTTP/%*s %d", &status);
                first = false;
            }
        }
    }
    close(fd);
    return status;
}

/* --monitoring: a kc-watch subscribed to the feed (output discarded) and a
 * scraper that fetches /metrics and a regional query every second, as a
 * monitoring stack and a dashboard would. */
static void s_start_monitoring(const char *agg_bin)
{
    char feed[256], snap[256], http[256], watch[PATH_MAX];
    if (!bu_ready_value("feed", feed, sizeof feed) ||
        !bu_ready_value("snapshot", snap, sizeof snap) ||
        !bu_ready_value("http", http, sizeof http))
        bu_die("--monitoring: the aggregator's ready file lacks feed/snapshot/http lines");
    int port = 0;
    if (sscanf(http, "http://127.0.0.1:%d", &port) != 1 || port <= 0)
        bu_die("--monitoring: cannot read the HTTP port from '%s'", http);
    snprintf(watch, sizeof watch, "%s", agg_bin);
    char *slash = strrchr(watch, '/');
    snprintf(slash ? slash + 1 : watch, sizeof watch - (size_t)(slash ? slash + 1 - watch : 0),
             "kc-watch");
    fflush(NULL);
    if ((s_mon[0] = fork()) == 0) {
        int fd = open("/dev/null", O_WRONLY);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
        }
        execl(watch, watch, "--plain", "--region", "south", "--feed", feed, "--feed-snapshot", snap,
              (char *)NULL);
        _exit(127);
    }
    if (s_mon[0] < 0)
        bu_die("fork: %s", strerror(errno));
    bu_track(s_mon[0]);
    if ((s_mon[1] = fork()) == 0) {
        for (;;) { /* killed by the parent at the end of the run */
            if (s_http_get(port, "/metrics") != 200 ||
                s_http_get(port, "/v1/totals?region=south&year=2022&by=province&plan=1") != 200)
                _exit(3);
            sleep(1); /* the scrape interval, not synchronisation */
        }
    }
    if (s_mon[1] < 0)
        bu_die("fork: %s", strerror(errno));
    bu_track(s_mon[1]);
}

/* Stop the monitoring processes; the scraper must still be running (it exits 3
 * on a failed request) and kc-watch too. */
static void s_stop_monitoring(void)
{
    for (int i = 0; i < 2; i++) {
        if (s_mon[i] <= 0)
            continue;
        int st = 0;
        if (waitpid(s_mon[i], &st, WNOHANG) == s_mon[i]) {
            bu_untrack(s_mon[i]);
            s_mon[i] = 0;
            bu_die("--monitoring: %s exited during the run (status 0x%x)",
                   i == 0 ? "kc-watch" : "the HTTP scraper", st);
        }
        kill(s_mon[i], SIGTERM);
        waitpid(s_mon[i], NULL, 0);
        bu_untrack(s_mon[i]);
        s_mon[i] = 0;
    }
}

int main(int argc, char **argv)
{
    opts_t o;
    bu_init("bench-ingest");
    s_parse(argc, argv, &o);
    static bu_session_t ss;
    ss = (bu_session_t){.aggregator = o.aggregator,
                        .dir = o.dir,
                        .curve = o.curve,
                        .group_max = o.group_max,
                        .group_window_ms = o.group_window_ms,
                        .producers = o.producers,
                        .events = o.events};
    if (o.monitoring) {
        const char *mon[] = {"--feed", "tcp://127.0.0.1:0", "--feed-snapshot", "tcp://127.0.0.1:0",
                             "--http", "127.0.0.1:0"};
        memcpy(ss.extra, mon, sizeof mon);
        ss.started = s_start_monitoring;
        ss.finished = s_stop_monitoring;
    }
    if (o.resident_limit) {
        size_t i = 0;
        while (ss.extra[i])
            i++;
        ss.extra[i] = "--resident-limit";
        ss.extra[i + 1] = o.resident_limit;
    }
    run_t run = {.o = &o, .endpoint = ss.endpoint};
    bu_session(&ss, s_producer, &run);
    uint64_t accepted = ss.sum.accepted, nlat = ss.sum.lat_count, *lat = ss.lat;
    long peak_rss_kb = ss.peak_rss_kb;
    long long agg_wchar = ss.agg_wchar;
    double p50 = bu_pct_ms(lat, nlat, 50), p99 = bu_pct_ms(lat, nlat, 99);
    double pmax = (double)lat[nlat - 1] / 1e6;
    free(lat);

    char data[PATH_MAX];
    snprintf(data, sizeof data, "%s/store/data.mdb", bu_dir);
    struct stat sb;
    if (stat(data, &sb) != 0)
        bu_die("stat %s: %s", data, strerror(errno));
    double secs = (double)(ss.sum.last_ack_ns - ss.sum.first_add_ns) / 1e9;
    double eps = (double)accepted / secs;
    double bpe = (double)sb.st_blocks * 512.0 / (double)accepted;
    /* the rate over the last tenth of the run: what a long log costs at its end */
    double tail_eps = ss.sum.tail_eps;

    printf("bench-ingest: %s workload%s, %d producers, %" PRIu64
           " events, batch %zu, window %zu, group-max %ld, "
           "group-window-ms %ld, CURVE %s, Merkle log on\n",
           o.scatter ? "scatter" : "province-office",
           o.monitoring ? " with feed, HTTP, a subscriber and a scraper" : "", o.producers,
           o.events, o.batch ? o.batch : 1000, o.window ? o.window : 8,
           o.group_max ? o.group_max : 8192, o.group_window_ms >= 0 ? o.group_window_ms : 2,
           o.curve ? "on" : "off");
    printf("  %-28s %14.3f\n", "wall time (s)", secs);
    printf("  %-28s %14.0f\n", "events/s (durable, e2e)", eps);
    printf("  %-28s %14.0f\n", "events/s, last 10%", tail_eps);
    printf("  %-28s %14" PRIu64 "\n", "totals cells", ss.cells);
    printf("  %-28s %14.2f\n", "aggregator CPU (cores)", ss.agg_cpu_s / secs);
    printf("  %-28s %14.2f\n", "producers' CPU (cores)", ss.prod_cpu_s / secs);
    printf("  %-28s %14.3f\n", "ack latency p50 (ms)", p50);
    printf("  %-28s %14.3f\n", "ack latency p99 (ms)", p99);
    printf("  %-28s %14.3f\n", "ack latency max (ms)", pmax);
    printf("  %-28s %14.1f\n", "bytes/event (data.mdb)", bpe);
    printf("  %-28s %14lld\n", "data.mdb size (bytes)", (long long)sb.st_size);
    printf("  %-28s %14ld\n", "aggregator peak RSS (kB)", peak_rss_kb);
    printf("  %-28s %14.1f\n", "aggregator written/event (B)",
           (double)agg_wchar / (double)accepted);
    printf("  %-28s %14s\n", "totals verified", "yes");
    bu_finish_dir(o.keep);
    printf("{\"events_per_s\": %.0f, \"ack_p50_ms\": %.3f, \"ack_p99_ms\": %.3f, "
           "\"bytes_per_event\": %.1f, \"peak_rss_kb\": %ld, \"events\": %" PRIu64
           ", \"producers\": %d, \"seconds\": %.3f, \"agg_written_bytes_per_event\": %.1f, "
           "\"batch\": %zu, \"window\": %zu, \"group_max\": %ld, \"group_window_ms\": %ld, "
           "\"workload\": \"%s\", \"monitoring\": %s, \"curve\": %s, \"merkle\": \"on\", "
           "\"events_per_s_last10\": %.0f, \"cells\": %" PRIu64 ", \"agg_cpu_s\": %.2f, "
           "\"producers_cpu_s\": %.2f, \"verified\": true}\n",
           eps, p50, p99, bpe, peak_rss_kb, accepted, o.producers, secs,
           (double)agg_wchar / (double)accepted, o.batch ? o.batch : 1000, o.window ? o.window : 8,
           o.group_max ? o.group_max : 8192, o.group_window_ms >= 0 ? o.group_window_ms : 2,
           o.scatter ? "scatter" : "province-office", o.monitoring ? "true" : "false",
           o.curve ? "true" : "false", tail_eps, ss.cells, ss.agg_cpu_s, ss.prod_cpu_s);
    return 0;
}
