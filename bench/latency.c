/* latency.c - bench-latency: the ack latency distribution of kcpipe at a fixed
 * offered rate.
 *
 * DESIGN
 * The same setup as bench-ingest (bench_util.c): a fresh kc-aggregator, N
 * producer processes using libkcingest with their own durable spools, the
 * province-office event stream, and at the end the store's totals and log
 * must equal what was sent. Instead of sending as fast as possible, each
 * producer offers rate/N events per second on a fixed schedule: event i of a
 * producer is due at start + i / (rate/N). Every tick (default 1 ms) the
 * producer adds the events that are due and calls kc_producer_poll (which
 * makes them durable in the spool, sends and takes acknowledgements), then
 * waits in kc_producer_poll for acknowledgements until the next tick (as an
 * application would: a result is seen when its Ack arrives, not at the next
 * tick), sleeping only when nothing is pending. An event's latency is measured from the time it
 * was DUE to its result callback (after the aggregator's fsync'd commit and
 * the Ack), so a producer that falls behind schedule counts its delay too
 * (no coordinated omission); "behind" reports the most any producer lagged.
 * Output: p50/p90/p99/p99.9/max, the achieved rate, a human table and, as the
 * last line, one JSON object.
 */
#include "bench_util.h"
#include "kc_time.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    int producers;
    uint64_t events;
    double rate; /* offered events/s in all */
    int tick_ms;
    size_t batch, window;
    long group_max, group_window_ms;
    bool curve, keep;
    const char *dir, *aggregator;
    const char *endpoint;
} opts_t;

static void s_usage(FILE *f)
{
    fprintf(f, "Usage: bench-latency [options]\n"
               "Ack latency at a fixed offered rate: N producer processes (libkcingest, own\n"
               "spools) each offer rate/N events/s on a schedule to a fresh kc-aggregator;\n"
               "latency = event due -> its durable Ack. Prints a table and, as the last line,\n"
               "one JSON object.\n\n"
               "  -r, --rate R               offered events/s in all (default 50000)\n"
               "  -n, --events M             events in all (default 250000: 5 s at 50,000/s)\n"
               "  -p, --producers N          producer processes (default 4)\n"
               "  -T, --tick-ms MS           producers add what is due and poll every MS\n"
               "                             (default 1)\n"
               "  -b, --batch N              producers' batch_max (default: library's, 1000)\n"
               "  -w, --window N             batches in flight (default: library's, 8)\n"
               "  -g, --group-max N          aggregator --group-max (default: its own)\n"
               "  -G, --group-window-ms MS   aggregator --group-window-ms (default: its own)\n"
               "  -c, --curve                CURVE on (keys made with kc-keygen, a registry)\n"
               "  -d, --dir DIR              parent of the temp dir (default $TMPDIR or /tmp)\n"
               "  -a, --aggregator PATH      kc-aggregator to run (default: beside this program)\n"
               "  -k, --keep                 keep the temp dir\n"
               "  -h, --help                 this text\n");
}

static void s_parse(int argc, char **argv, opts_t *o)
{
    static const struct option lopts[] = {
        {"rate", required_argument, 0, 'r'},
        {"events", required_argument, 0, 'n'},
        {"producers", required_argument, 0, 'p'},
        {"tick-ms", required_argument, 0, 'T'},
        {"batch", required_argument, 0, 'b'},
        {"window", required_argument, 0, 'w'},
        {"group-max", required_argument, 0, 'g'},
        {"group-window-ms", required_argument, 0, 'G'},
        {"curve", no_argument, 0, 'c'},
        {"dir", required_argument, 0, 'd'},
        {"aggregator", required_argument, 0, 'a'},
        {"keep", no_argument, 0, 'k'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    *o = (opts_t){
        .producers = 4, .events = 250000, .rate = 50000, .tick_ms = 1, .group_window_ms = -1};
    int c;
    while ((c = getopt_long(argc, argv, "r:n:p:T:b:w:g:G:cd:a:kh", lopts, NULL)) != -1) {
        switch (c) {
        case 'r': o->rate = (double)bu_num("--rate", optarg, 1); break;
        case 'n': o->events = (uint64_t)bu_num("--events", optarg, 1); break;
        case 'p': o->producers = (int)bu_num("--producers", optarg, 1); break;
        case 'T': o->tick_ms = (int)bu_num("--tick-ms", optarg, 1); break;
        case 'b': o->batch = (size_t)bu_num("--batch", optarg, 1); break;
        case 'w': o->window = (size_t)bu_num("--window", optarg, 1); break;
        case 'g': o->group_max = bu_num("--group-max", optarg, 1); break;
        case 'G': o->group_window_ms = bu_num("--group-window-ms", optarg, 0); break;
        case 'c': o->curve = true; break;
        case 'd': o->dir = optarg; break;
        case 'a': o->aggregator = optarg; break;
        case 'k': o->keep = true; break;
        case 'h': s_usage(stdout); exit(0);
        default: fprintf(stderr, "Try --help.\n"); exit(64);
        }
    }
    if (optind < argc || o->producers > BU_MAX_PRODUCERS || o->events < (uint64_t)o->producers) {
        fprintf(stderr,
                "bench-latency: bad arguments (at most %d producers, at least one "
                "event each)\nTry --help.\n",
                BU_MAX_PRODUCERS);
        exit(64);
    }
}

static void s_sleep_until(int64_t t)
{
    struct timespec ts = {(time_t)(t / 1000000000), (long)(t % 1000000000)};
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

static int s_producer(int idx, uint64_t n, void *ctx)
{
    const opts_t *o = ctx;
    char id[32];
    snprintf(id, sizeof id, "bench-%02d", idx);
    bu_report_t rep = {0};
    bu_prod_t c;
    bu_prod_init(&c, n, &rep);
    kc_producer_t *p = bu_producer_open(idx, o->endpoint, o->batch, o->window, 0, &c);
    if (!p)
        return 2;
    bu_ready_go();

    kc_gen_t g;
    kc_gen_init(&g, id, 1000 + (uint64_t)idx);
    char prov[4];
    bu_office_province(idx, prov);
    double gap_ns = 1e9 * (double)o->producers / o->rate;
    int64_t tick = (int64_t)o->tick_ms * 1000000;
    /* stagger the producers' ticks so that they do not all poll at once */
    int64_t start = kc_time_mono_ns() + tick * idx / o->producers;
    s_sleep_until(start);
    rep.first_add_ns = start;
    int rc = 0;
    uint64_t i = 0;
    for (int64_t next = start; i < n; next += tick) {
        int64_t now = kc_time_mono_ns();
        for (; i < n; i++) {
            int64_t due = start + (int64_t)((double)i * gap_ns);
            if (due > now)
                break;
            if (now - due > rep.behind_ns)
                rep.behind_ns = now - due;
            kc_gen_row_t r;
            kc_event_t ev;
            bu_next_event(&g, &r, i, n, prov, &ev, rep.sums);
            uint64_t seq = 0;
            if ((rc = kc_producer_add(p, &ev, NULL, &seq)) != 0) {
                fprintf(stderr, "bench-latency: producer %d: add: %s\n", idx,
                        kc_producer_strerror(rc));
                return 2;
            }
            bu_prod_added(&c, i, seq, due);
        }
        /* until the next tick, wait in the library for acknowledgements (as an
         * application would), so that each result is seen when it arrives */
        int wait_ms = 0;
        for (;;) {
            if ((rc = kc_producer_poll(p, wait_ms)) != 0) {
                fprintf(stderr, "bench-latency: producer %d: poll: %s\n", idx,
                        kc_producer_strerror(rc));
                return 2;
            }
            int64_t left = next + tick - kc_time_mono_ns();
            if (left < 1000000 || kc_producer_pending(p) == 0)
                break;
            wait_ms = (int)(left / 1000000);
        }
        int64_t after = kc_time_mono_ns();
        if (next + tick > after)
            s_sleep_until(next + tick);
        else
            next = after - tick; /* behind: do not try to catch up ticks */
    }
    rc = kc_producer_flush(p, 600 * 1000);
    if (rc != 0)
        fprintf(stderr, "bench-latency: producer %d: flush: %s\n", idx, kc_producer_strerror(rc));
    kc_producer_close(&p);
    if (!bu_report_write(idx, &c))
        return 2;
    return rc == 0 && rep.accepted == n ? 0 : 1;
}

int main(int argc, char **argv)
{
    opts_t o;
    bu_init("bench-latency");
    s_parse(argc, argv, &o);
    static bu_session_t ss;
    ss = (bu_session_t){.aggregator = o.aggregator,
                        .dir = o.dir,
                        .curve = o.curve,
                        .group_max = o.group_max,
                        .group_window_ms = o.group_window_ms,
                        .producers = o.producers,
                        .events = o.events};
    o.endpoint = ss.endpoint;
    bu_session(&ss, s_producer, &o);
    bu_report_t sum = ss.sum;
    uint64_t n = sum.lat_count, *lat = ss.lat;
    long rss = ss.peak_rss_kb;
    double p[5] = {bu_pct_ms(lat, n, 50), bu_pct_ms(lat, n, 90), bu_pct_ms(lat, n, 99),
                   bu_pct_ms(lat, n, 99.9), (double)lat[n - 1] / 1e6};
    free(lat);
    double secs = (double)(sum.last_ack_ns - sum.first_add_ns) / 1e9;
    double achieved = (double)sum.accepted / secs;
    double behind = (double)sum.behind_ns / 1e6;

    printf("bench-latency: %.0f events/s offered by %d producers (tick %d ms), %" PRIu64
           " events, CURVE %s, Merkle log on\n",
           o.rate, o.producers, o.tick_ms, o.events, o.curve ? "on" : "off");
    printf("  %-30s %12.0f\n", "acknowledged events/s", achieved);
    printf("  %-30s %12.3f\n", "ack latency p50 (ms)", p[0]);
    printf("  %-30s %12.3f\n", "ack latency p90 (ms)", p[1]);
    printf("  %-30s %12.3f\n", "ack latency p99 (ms)", p[2]);
    printf("  %-30s %12.3f\n", "ack latency p99.9 (ms)", p[3]);
    printf("  %-30s %12.3f\n", "ack latency max (ms)", p[4]);
    printf("  %-30s %12.3f\n", "most behind schedule (ms)", behind);
    printf("  %-30s %12ld\n", "aggregator peak RSS (kB)", rss);
    printf("  %-30s %12s\n", "all acknowledged, totals verified", "yes");
    bu_finish_dir(o.keep);
    printf("{\"offered_per_s\": %.0f, \"achieved_per_s\": %.0f, \"ack_p50_ms\": %.3f, "
           "\"ack_p90_ms\": %.3f, \"ack_p99_ms\": %.3f, \"ack_p999_ms\": %.3f, "
           "\"ack_max_ms\": %.3f, \"behind_max_ms\": %.3f, \"events\": %" PRIu64
           ", \"producers\": %d, \"tick_ms\": %d, \"peak_rss_kb\": %ld, \"curve\": %s, "
           "\"verified\": true}\n",
           o.rate, achieved, p[0], p[1], p[2], p[3], p[4], behind, sum.accepted, o.producers,
           o.tick_ms, rss, o.curve ? "true" : "false");
    return 0;
}
