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
 * The last line of output is one JSON object.
 */
#include "gen_csv.h"
#include "kc_err.h"
#include "kc_ref.h"
#include "kc_store.h"
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

#define MAX_PRODUCERS 64
#define READY_MS      60000
#define STOP_MS       60000

typedef struct {
    int producers;
    uint64_t events;
    size_t batch;
    size_t window;
    long group_max;
    long group_window_ms;
    int request_timeout_ms;
    bool keep;
    bool scatter;    /* every producer reports for every province and period */
    bool monitoring; /* feed + HTTP on, a kc-watch subscriber and a scraper running */
    const char *dir;
    const char *aggregator;
} opts_t;

/* What one producer process reports back through its result file. */
typedef struct {
    int64_t first_add_ns; /* CLOCK_MONOTONIC of its first kc_producer_add */
    int64_t last_ack_ns;  /* CLOCK_MONOTONIC of its last result callback */
    uint64_t sent;        /* events added */
    uint64_t accepted, duplicates, rejected;
    int64_t sums[KC_METRIC_COUNT]; /* of the events added */
    uint64_t lat_count;            /* latencies (ns) that follow */
} report_t;

static char s_dir[PATH_MAX / 2]; /* the temp dir (room left for names in it) */
static pid_t s_agg_pid;
static pid_t s_kids[MAX_PRODUCERS];
static pid_t s_mon[2]; /* --monitoring: the kc-watch subscriber and the HTTP scraper */

static int64_t s_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void s_pause(void)
{
    struct timespec ts = {0, 2 * 1000 * 1000}; /* one poll step inside a deadline loop */
    nanosleep(&ts, NULL);
}

/* atexit in the parent: stop every process we started, by pid. */
static void s_cleanup(void)
{
    for (int i = 0; i < MAX_PRODUCERS; i++)
        if (s_kids[i] > 0) {
            kill(s_kids[i], SIGKILL);
            waitpid(s_kids[i], NULL, 0);
            s_kids[i] = 0;
        }
    for (int i = 0; i < 2; i++)
        if (s_mon[i] > 0) {
            kill(s_mon[i], SIGKILL);
            waitpid(s_mon[i], NULL, 0);
            s_mon[i] = 0;
        }
    if (s_agg_pid > 0) {
        kill(s_agg_pid, SIGKILL);
        waitpid(s_agg_pid, NULL, 0);
        s_agg_pid = 0;
    }
}

static void s_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void s_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "bench-ingest: ");
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (s_dir[0])
        fprintf(stderr, "bench-ingest: files kept in %s\n", s_dir);
    exit(1);
}

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
            "  -G, --group-window-ms MS   aggregator --group-window-ms (default: its own, 5)\n"
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
            "  -k, --keep                 keep the temp dir (store, spools, logs)\n"
            "  -h, --help                 this text\n"
            "  -V, --version              version\n");
}

static long s_num(const char *opt, const char *arg, long min)
{
    char *end;
    errno = 0;
    long v = strtol(arg, &end, 10);
    if (errno || *end || v < min) {
        fprintf(stderr, "bench-ingest: bad value for %s: %s\nTry --help.\n", opt, arg);
        exit(64);
    }
    return v;
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
        {"request-timeout-ms", required_argument, 0, 't'},
        {"dir", required_argument, 0, 'd'},
        {"aggregator", required_argument, 0, 'a'},
        {"keep", no_argument, 0, 'k'},
        {"scatter", no_argument, 0, 's'},
        {"monitoring", no_argument, 0, 'm'},
        {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, 'V'},
        {0, 0, 0, 0},
    };
    *o = (opts_t){.producers = 4, .events = 1000000, .group_window_ms = -1};
    int c;
    while ((c = getopt_long(argc, argv, "p:n:b:w:g:G:t:d:a:kmshV", lopts, NULL)) != -1) {
        switch (c) {
        case 'p': o->producers = (int)s_num("--producers", optarg, 1); break;
        case 'n': o->events = (uint64_t)s_num("--events", optarg, 1); break;
        case 'b': o->batch = (size_t)s_num("--batch", optarg, 1); break;
        case 'w': o->window = (size_t)s_num("--window", optarg, 1); break;
        case 'g': o->group_max = s_num("--group-max", optarg, 1); break;
        case 'G': o->group_window_ms = s_num("--group-window-ms", optarg, 0); break;
        case 't': o->request_timeout_ms = (int)s_num("--request-timeout-ms", optarg, 1); break;
        case 'd': o->dir = optarg; break;
        case 'a': o->aggregator = optarg; break;
        case 'k': o->keep = true; break;
        case 's': o->scatter = true; break;
        case 'm': o->monitoring = true; break;
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
    int64_t *add_ns;    /* per event: when it was added (index seq - first_seq) */
    uint64_t *lat;      /* per event: ack latency */
    uint64_t first_seq; /* seq of the first event added */
    uint64_t n;
    report_t *rep;
} prod_ctx_t;

static void s_on_result(const kc_result_t *r, void *ctx)
{
    prod_ctx_t *c = ctx;
    int64_t now = s_now_ns();
    uint64_t i = r->seq - c->first_seq;
    if (r->seq >= c->first_seq && i < c->n && c->rep->lat_count < c->n)
        c->lat[c->rep->lat_count++] = (uint64_t)(now - c->add_ns[i]);
    if (r->reason == KCI_ACCEPTED)
        c->rep->accepted++;
    else if (r->reason == KCI_DUPLICATE)
        c->rep->duplicates++;
    else if (c->rep->rejected++ < 5)
        fprintf(stderr, "bench-ingest: producer event %s rejected: %s %s\n", r->event_id,
                r->reason_name, r->text);
    c->rep->last_ack_ns = now;
}

static int s_kind(const char *s)
{
    return !*s ? KCI_KIND_DEFAULT : strcmp(s, "plan") == 0 ? KCI_KIND_PLAN : KCI_KIND_ACTUAL;
}

static int s_fund(const char *s)
{
    if (!*s)
        return KCI_FUND_DEFAULT;
    return strcmp(s, "kcqg") == 0   ? KCI_FUND_KCQG
           : strcmp(s, "kcdp") == 0 ? KCI_FUND_KCDP
                                    : KCI_FUND_OTHER;
}

static int s_producer(int idx, uint64_t n, const opts_t *o, const char *endpoint, int ready_fd,
                      int go_fd)
{
    char id[32], spool[PATH_MAX], path[PATH_MAX];
    snprintf(id, sizeof id, "bench-%02d", idx);
    snprintf(spool, sizeof spool, "%s/spool-%02d", s_dir, idx);
    snprintf(path, sizeof path, "%s/producer-%02d.result", s_dir, idx);
    report_t rep = {0};
    prod_ctx_t c = {.n = n, .rep = &rep};
    c.add_ns = calloc(n, sizeof *c.add_ns);
    c.lat = calloc(n, sizeof *c.lat);
    if (!c.add_ns || !c.lat)
        return 2;
    kc_producer_opts_t po = {.endpoint = endpoint,
                             .producer_id = id,
                             .spool_dir = spool,
                             .request_timeout_ms = o->request_timeout_ms,
                             .batch_max = o->batch,
                             .window = o->window};
    kc_producer_t *p = NULL;
    kc_ingest_set_log("bench-ingest", KCI_LOG_WARN, NULL, NULL);
    int rc = kc_producer_open(&p, &po);
    if (rc != 0) {
        fprintf(stderr, "bench-ingest: producer %d: open: %s\n", idx, kc_producer_strerror(rc));
        return 2;
    }
    kc_producer_on_result(p, s_on_result, &c);
    size_t batch = o->batch ? o->batch : 1000, window = o->window ? o->window : 8;
    uint64_t max_pending = 2 * (uint64_t)batch * window;

    char b = 'r';
    if (write(ready_fd, &b, 1) != 1)
        return 2;
    close(ready_fd);
    while (read(go_fd, &b, 1) > 0) /* EOF = go */
        ;
    close(go_fd);

    kc_gen_t g;
    kc_gen_init(&g, id, 1000 + (uint64_t)idx);
    char prov[4] = "";
    for (size_t i = 0, k = 0; i < kc_ref_province_count(); i++) {
        const kc_province_t *pv = kc_ref_province_at(i);
        if (pv->scheme == 63 && pv->valid_to >= 202212 && k++ == (size_t)idx * 5 % 60) {
            memcpy(prov, pv->code_str, sizeof prov - 1);
            break;
        }
    }
    rep.first_add_ns = s_now_ns();
    for (uint64_t i = 0; i < n; i++) {
        kc_gen_row_t r;
        kc_gen_next(&g, &r);
        if (!o->scatter) { /* a province office: its own province, periods in order */
            memcpy(r.province, prov, sizeof r.province);
            int ym = (int)(i * 21 / n); /* 2021-01 .. 2022-09, like data/demo */
            r.year = 2021 + ym / 12;
            r.month = 1 + ym % 12;
        }
        kc_event_t ev = {.event_id = r.event_id,
                         .province = r.province,
                         .year = r.year,
                         .month = r.month,
                         .activity = r.activity,
                         .kind = s_kind(r.kind),
                         .fund = s_fund(r.fund),
                         .present = r.present,
                         .note = r.note};
        for (int m = 0; m < KC_METRIC_COUNT; m++) {
            ev.metrics[m] = r.m[m];
            rep.sums[m] += r.m[m];
        }
        uint64_t seq = 0;
        int64_t t = s_now_ns();
        rc = kc_producer_add(p, &ev, NULL, &seq);
        if (rc != 0) {
            fprintf(stderr, "bench-ingest: producer %d: add: %s\n", idx, kc_producer_strerror(rc));
            return 2;
        }
        if (i == 0)
            c.first_seq = seq;
        c.add_ns[seq - c.first_seq < n ? seq - c.first_seq : 0] = t;
        rep.sent++;
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

    FILE *f = fopen(path, "wb");
    if (!f || fwrite(&rep, sizeof rep, 1, f) != 1 ||
        fwrite(c.lat, sizeof *c.lat, rep.lat_count, f) != rep.lat_count || fclose(f) != 0)
        return 2;
    free(c.add_ns);
    free(c.lat);
    return rc == 0 && rep.accepted == n ? 0 : 1;
}

/* ---- the parent ---- */

static int s_rm(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void s_find_aggregator(const opts_t *o, char *out, size_t cap)
{
    if (o->aggregator) {
        snprintf(out, cap, "%s", o->aggregator);
        return;
    }
    const char *bin = getenv("KC_BIN_DIR");
    if (bin && *bin) {
        snprintf(out, cap, "%s/kc-aggregator", bin);
        if (access(out, X_OK) == 0)
            return;
    }
    char self[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len > 0) {
        self[len] = '\0';
        snprintf(out, cap, "%s/kc-aggregator", dirname(self));
        if (access(out, X_OK) == 0)
            return;
    }
    s_die("cannot find kc-aggregator (use --aggregator PATH)");
}

static void s_start_aggregator(const opts_t *o, const char *bin, char *endpoint, size_t cap)
{
    char store[PATH_MAX], ready[PATH_MAX], log[PATH_MAX], gm[32], gw[32];
    snprintf(store, sizeof store, "%s/store", s_dir);
    snprintf(ready, sizeof ready, "%s/aggregator.ready", s_dir);
    snprintf(log, sizeof log, "%s/aggregator.log", s_dir);
    char *argv[24];
    int n = 0;
    argv[n++] = (char *)bin;
    argv[n++] = "--listen";
    argv[n++] = "tcp://127.0.0.1:*";
    argv[n++] = "--store";
    argv[n++] = store;
    argv[n++] = "--ready-file";
    argv[n++] = ready;
    argv[n++] = "--log-level";
    argv[n++] = "warn";
    if (o->group_max) {
        snprintf(gm, sizeof gm, "%ld", o->group_max);
        argv[n++] = "--group-max";
        argv[n++] = gm;
    }
    if (o->group_window_ms >= 0) {
        snprintf(gw, sizeof gw, "%ld", o->group_window_ms);
        argv[n++] = "--group-window-ms";
        argv[n++] = gw;
    }
    if (o->monitoring) {
        argv[n++] = "--feed";
        argv[n++] = "tcp://127.0.0.1:0";
        argv[n++] = "--feed-snapshot";
        argv[n++] = "tcp://127.0.0.1:0";
        argv[n++] = "--http";
        argv[n++] = "127.0.0.1:0";
    }
    argv[n] = NULL;
    fflush(NULL);
    s_agg_pid = fork();
    if (s_agg_pid < 0)
        s_die("fork: %s", strerror(errno));
    if (s_agg_pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
        }
        execv(bin, argv);
        _exit(127);
    }
    int64_t deadline = s_now_ns() + (int64_t)READY_MS * 1000000;
    while (s_now_ns() < deadline) {
        FILE *f = fopen(ready, "r");
        if (f) {
            bool ok = fgets(endpoint, (int)cap, f) != NULL;
            fclose(f);
            endpoint[strcspn(endpoint, "\r\n")] = '\0';
            if (ok && endpoint[0])
                return;
        }
        if (waitpid(s_agg_pid, NULL, WNOHANG) == s_agg_pid) {
            s_agg_pid = 0;
            s_die("kc-aggregator exited before it was ready (see %s)", log);
        }
        s_pause();
    }
    s_die("kc-aggregator not ready within %d ms", READY_MS);
}

/* The value of the ready file's line "<key> <value>" (kc-aggregator writes one
 * per enabled socket after the endpoint line). */
static bool s_ready_value(const char *key, char *out, size_t cap)
{
    char path[PATH_MAX], line[512];
    snprintf(path, sizeof path, "%s/aggregator.ready", s_dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    bool found = false;
    size_t kl = strlen(key);
    while (!found && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (strncmp(line, key, kl) == 0 && line[kl] == ' ') {
            snprintf(out, cap, "%s", line + kl + 1);
            found = true;
        }
    }
    fclose(f);
    return found;
}

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
    if (!s_ready_value("feed", feed, sizeof feed) ||
        !s_ready_value("snapshot", snap, sizeof snap) || !s_ready_value("http", http, sizeof http))
        s_die("--monitoring: the aggregator's ready file lacks feed/snapshot/http lines");
    int port = 0;
    if (sscanf(http, "http://127.0.0.1:%d", &port) != 1 || port <= 0)
        s_die("--monitoring: cannot read the HTTP port from '%s'", http);
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
        s_die("fork: %s", strerror(errno));
    if ((s_mon[1] = fork()) == 0) {
        for (;;) { /* killed by the parent at the end of the run */
            if (s_http_get(port, "/metrics") != 200 ||
                s_http_get(port, "/v1/totals?region=south&year=2022&by=province&plan=1") != 200)
                _exit(3);
            sleep(1); /* the scrape interval, not synchronisation */
        }
    }
    if (s_mon[1] < 0)
        s_die("fork: %s", strerror(errno));
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
            s_mon[i] = 0;
            s_die("--monitoring: %s exited during the run (status 0x%x)",
                  i == 0 ? "kc-watch" : "the HTTP scraper", st);
        }
        kill(s_mon[i], SIGTERM);
        waitpid(s_mon[i], NULL, 0);
        s_mon[i] = 0;
    }
}

static long s_vmhwm_kb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

/* Bytes the aggregator wrote to files (write(2) family: LMDB's page writes). */
static long long s_wchar(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/io", (int)pid);
    FILE *f = fopen(path, "r");
    long long v = -1;
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "wchar: %lld", &v) == 1)
            break;
    fclose(f);
    return v;
}

static int s_u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

typedef struct {
    uint64_t events;
    int64_t m[KC_METRIC_COUNT];
} cells_t;

static int s_on_cell(const kc_cell_key_t *key, const kc_cell_t *cell, void *ctx)
{
    (void)key;
    cells_t *c = ctx;
    c->events += cell->events;
    for (int i = 0; i < KC_METRIC_COUNT; i++)
        c->m[i] += cell->m[i];
    return 0;
}

/* Totals and log of the store must be exactly what the producers sent. */
static void s_verify(const int64_t sums[KC_METRIC_COUNT], uint64_t events)
{
    char store[PATH_MAX];
    snprintf(store, sizeof store, "%s/store", s_dir);
    kc_store_t *s = NULL;
    kc_store_opts_t so = {.read_only = true};
    int rc = kc_store_open(&s, store, &so);
    if (rc != 0)
        s_die("open store: %s", kc_strerror(rc));
    kc_txn_t *t = NULL;
    if ((rc = kc_store_read_begin(s, &t)) != 0)
        s_die("read store: %s", kc_strerror(rc));
    kc_cell_key_t lo = kc_cell_key_min(), hi = kc_cell_key_max();
    cells_t c = {0};
    if ((rc = kc_txn_totals_scan(t, &lo, &hi, s_on_cell, &c)) != 0)
        s_die("scan totals: %s", kc_strerror(rc));
    uint64_t log = 0;
    if ((rc = kc_txn_log_size(t, &log)) != 0)
        s_die("log size: %s", kc_strerror(rc));
    kc_txn_end(&t);
    kc_store_close(&s);
    for (int i = 0; i < KC_METRIC_COUNT; i++)
        if (c.m[i] != sums[i])
            s_die("DATA MISMATCH: total %s = %lld, producers sent %lld", kc_ref_metric(i)->name,
                  (long long)c.m[i], (long long)sums[i]);
    if (c.events != events || log != events)
        s_die("DATA MISMATCH: store counts %" PRIu64 " events, log %" PRIu64 ", sent %" PRIu64,
              c.events, log, events);
}

int main(int argc, char **argv)
{
    opts_t o;
    s_parse(argc, argv, &o);
    signal(SIGPIPE, SIG_IGN);
    char agg_bin[PATH_MAX], endpoint[256];
    s_find_aggregator(&o, agg_bin, sizeof agg_bin);
    const char *parent = o.dir ? o.dir : getenv("TMPDIR");
    if (!parent || !*parent)
        parent = "/tmp";
    snprintf(s_dir, sizeof s_dir, "%s/kc-bench-XXXXXX", parent);
    if (!mkdtemp(s_dir))
        s_die("mkdtemp %s: %s", s_dir, strerror(errno));
    atexit(s_cleanup);
    s_start_aggregator(&o, agg_bin, endpoint, sizeof endpoint);
    if (o.monitoring)
        s_start_monitoring(agg_bin);

    int ready[2], go[2];
    if (pipe(ready) != 0 || pipe(go) != 0)
        s_die("pipe: %s", strerror(errno));
    uint64_t per = o.events / (uint64_t)o.producers, extra = o.events % (uint64_t)o.producers;
    for (int i = 0; i < o.producers; i++) {
        uint64_t n = per + ((uint64_t)i < extra ? 1 : 0);
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0)
            s_die("fork: %s", strerror(errno));
        if (pid == 0) {
            close(ready[0]);
            close(go[1]);
            _exit(s_producer(i, n, &o, endpoint, ready[1], go[0]));
        }
        s_kids[i] = pid;
    }
    close(ready[1]);
    close(go[0]);
    for (int i = 0; i < o.producers; i++) { /* every producer opened its spool and socket */
        char b;
        if (read(ready[0], &b, 1) != 1)
            s_die("a producer failed to start");
    }
    close(ready[0]);
    close(go[1]); /* go */

    /* wait for the producers (each bounds itself with its flush timeout); if
     * the aggregator dies meanwhile, stop at once instead of waiting for that */
    bool failed = false;
    for (int left = o.producers; left > 0;) {
        for (int i = 0; i < o.producers; i++) {
            int st = 0;
            if (s_kids[i] <= 0 || waitpid(s_kids[i], &st, WNOHANG) != s_kids[i])
                continue;
            s_kids[i] = 0;
            left--;
            if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
                fprintf(stderr, "bench-ingest: producer %d failed (status 0x%x)\n", i, st);
                failed = true;
            }
        }
        int ast = 0;
        if (waitpid(s_agg_pid, &ast, WNOHANG) == s_agg_pid) {
            s_agg_pid = 0;
            s_die("kc-aggregator ended during the run (status 0x%x); see %s/aggregator.log", ast,
                  s_dir);
        }
        if (left > 0)
            s_pause();
    }
    if (o.monitoring)
        s_stop_monitoring();
    long peak_rss_kb = s_vmhwm_kb(s_agg_pid);
    long long agg_wchar = s_wchar(s_agg_pid);
    kill(s_agg_pid, SIGTERM);
    int st = 0;
    int64_t deadline = s_now_ns() + (int64_t)STOP_MS * 1000000;
    while (waitpid(s_agg_pid, &st, WNOHANG) == 0) {
        if (s_now_ns() > deadline)
            s_die("kc-aggregator ignored SIGTERM for %d ms", STOP_MS);
        s_pause();
    }
    s_agg_pid = 0;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        s_die("kc-aggregator did not exit 0 on SIGTERM (status 0x%x)", st);
    if (failed)
        s_die("a producer failed");

    /* gather the producers' reports */
    int64_t first = INT64_MAX, last = 0, sums[KC_METRIC_COUNT] = {0};
    uint64_t sent = 0, accepted = 0, dups = 0, rejected = 0, nlat = 0;
    uint64_t *lat = malloc(o.events * sizeof *lat);
    if (!lat)
        s_die("out of memory");
    for (int i = 0; i < o.producers; i++) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/producer-%02d.result", s_dir, i);
        FILE *f = fopen(path, "rb");
        report_t r;
        if (!f || fread(&r, sizeof r, 1, f) != 1 || nlat + r.lat_count > o.events ||
            fread(lat + nlat, sizeof *lat, r.lat_count, f) != r.lat_count)
            s_die("cannot read %s", path);
        fclose(f);
        nlat += r.lat_count;
        first = r.first_add_ns < first ? r.first_add_ns : first;
        last = r.last_ack_ns > last ? r.last_ack_ns : last;
        sent += r.sent;
        accepted += r.accepted;
        dups += r.duplicates;
        rejected += r.rejected;
        for (int m = 0; m < KC_METRIC_COUNT; m++)
            sums[m] += r.sums[m];
    }
    if (accepted != o.events || sent != o.events || nlat != o.events)
        s_die("sent %" PRIu64 ", accepted %" PRIu64 ", duplicates %" PRIu64 ", rejected %" PRIu64
              ", latencies %" PRIu64 " (expected %" PRIu64 " each)",
              sent, accepted, dups, rejected, nlat, o.events);
    s_verify(sums, accepted);
    qsort(lat, nlat, sizeof *lat, s_u64_cmp);
    double p50 = (double)lat[nlat * 50 / 100] / 1e6, p99 = (double)lat[nlat * 99 / 100] / 1e6;
    double pmax = (double)lat[nlat - 1] / 1e6;
    free(lat);

    char data[PATH_MAX];
    snprintf(data, sizeof data, "%s/store/data.mdb", s_dir);
    struct stat sb;
    if (stat(data, &sb) != 0)
        s_die("stat %s: %s", data, strerror(errno));
    double secs = (double)(last - first) / 1e9;
    double eps = (double)accepted / secs;
    double bpe = (double)sb.st_blocks * 512.0 / (double)accepted;

    printf("bench-ingest: %s workload%s, %d producers, %" PRIu64
           " events, batch %zu, window %zu, group-max %ld, "
           "group-window-ms %ld\n",
           o.scatter ? "scatter" : "province-office",
           o.monitoring ? " with feed, HTTP, a subscriber and a scraper" : "", o.producers,
           o.events, o.batch ? o.batch : 1000, o.window ? o.window : 8,
           o.group_max ? o.group_max : 8192, o.group_window_ms >= 0 ? o.group_window_ms : 5);
    printf("  %-28s %14.3f\n", "wall time (s)", secs);
    printf("  %-28s %14.0f\n", "events/s (durable, e2e)", eps);
    printf("  %-28s %14.3f\n", "ack latency p50 (ms)", p50);
    printf("  %-28s %14.3f\n", "ack latency p99 (ms)", p99);
    printf("  %-28s %14.3f\n", "ack latency max (ms)", pmax);
    printf("  %-28s %14.1f\n", "bytes/event (data.mdb)", bpe);
    printf("  %-28s %14lld\n", "data.mdb size (bytes)", (long long)sb.st_size);
    printf("  %-28s %14ld\n", "aggregator peak RSS (kB)", peak_rss_kb);
    printf("  %-28s %14.1f\n", "aggregator written/event (B)",
           (double)agg_wchar / (double)accepted);
    printf("  %-28s %14s\n", "totals verified", "yes");
    if (o.keep)
        printf("  kept %s\n", s_dir);
    else
        nftw(s_dir, s_rm, 16, FTW_DEPTH | FTW_PHYS);
    printf("{\"events_per_s\": %.0f, \"ack_p50_ms\": %.3f, \"ack_p99_ms\": %.3f, "
           "\"bytes_per_event\": %.1f, \"peak_rss_kb\": %ld, \"events\": %" PRIu64
           ", \"producers\": %d, \"seconds\": %.3f, \"agg_written_bytes_per_event\": %.1f, "
           "\"batch\": %zu, \"window\": %zu, \"group_max\": %ld, \"group_window_ms\": %ld, "
           "\"workload\": \"%s\", \"monitoring\": %s, \"verified\": true}\n",
           eps, p50, p99, bpe, peak_rss_kb, accepted, o.producers, secs,
           (double)agg_wchar / (double)accepted, o.batch ? o.batch : 1000, o.window ? o.window : 8,
           o.group_max ? o.group_max : 8192, o.group_window_ms >= 0 ? o.group_window_ms : 5,
           o.scatter ? "scatter" : "province-office", o.monitoring ? "true" : "false");
    return 0;
}
