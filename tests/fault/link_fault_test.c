/* link_fault_test.c - fault scenario 4: lost acknowledgements and link faults
 * through kc-faultproxy (a TCP relay of our own on loopback).
 *
 * Two producers reach the aggregator only through the proxy. The test walks
 * the proxy through its modes, each for a phase:
 *   pass -> blackhole -> pass -> noack (lost Acks) -> pass -> reset 300 (RST
 *   mid-frame) -> latency 500 -> trickle -> pass
 * Producers use --batch 50 and a 5 s request timeout (a handshake through
 * the latency mode takes seconds). Short form: 2 x 12,000 events, one round. --long: 2 x 60,000
 * events, three rounds. Synchronisation, per phase, always on something observed:
 *   - a mode is in force once the proxy's status file shows gen = number of
 *     commands written (the proxy rewrites it after each command);
 *   - blackhole: until a producer logged one more request timeout ("no
 *     acknowledgement from ...") than before the phase;
 *   - noack: the same, or until the proxy dropped aggregator->producer bytes
 *     and the log grew (a commit whose Ack was lost); a producer that
 *     reconnects during noack stalls in its ZMTP handshake and logs no
 *     timeout (the number of events committed meanwhile is printed);
 *   - reset: until the proxy counted 3 more resets;
 *   - latency, trickle: until the store's log grew by at least one event
 *     (progress through the slow link), bounded;
 *   - pass: until the log grew past the phase's progress target.
 * At the end every kc-send exits 0 with nothing unacknowledged; the
 * aggregator stops on SIGTERM; the full oracle runs.
 */
#include "fault_util.h"
#include "oracle.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PRODUCERS 2
#define PHASE_MS  120000
#define SEND_MS   500000

static int s_ctl = -1;
static int s_cmds;
static char s_status[KC_PATH_MAX];

static long long s_status_field(const char *key)
{
    char line[512];
    if (kc_harness_read_line(s_status, line, sizeof line) != 0)
        return -1;
    char pat[32];
    snprintf(pat, sizeof pat, "%s=", key);
    const char *p = strstr(line, pat);
    return p ? strtoll(p + strlen(pat), NULL, 10) : -1;
}

/* Send one command and wait until the proxy applied it. */
static void s_mode(const char *cmd)
{
    char line[64];
    int n = snprintf(line, sizeof line, "%s\n", cmd);
    KC_CHECK(write(s_ctl, line, (size_t)n) == n, "write to the proxy's control fifo");
    s_cmds++;
    int64_t deadline = kc_harness_now_ms() + 10000;
    while (s_status_field("gen") < s_cmds) {
        KC_CHECK(kc_harness_now_ms() < deadline, "the proxy did not apply '%s'", cmd);
        kc_harness_poll_pause();
    }
    fprintf(stderr, "link_fault_test: proxy mode %s\n", cmd);
}

static int s_timeouts(kc_fleet_t *f, int i)
{
    char err[KC_PATH_MAX + 8];
    kc_fleet_err(f, i, err);
    return kc_fault_count(err, "no acknowledgement from");
}

/* Until a running producer logged one more timeout than in base[] (one that
 * is reconnecting may be stuck in its handshake instead, which also ends in a
 * resend, but logs no timeout). */
static void s_wait_timeouts(kc_fleet_t *f, const int *base, const char *phase)
{
    int64_t deadline = kc_harness_now_ms() + PHASE_MS;
    for (;;) {
        for (int i = 0; i < f->n; i++)
            if (s_timeouts(f, i) > base[i])
                return;
        KC_CHECK(kc_fleet_poll(f) > 0, "%s: every producer ended", phase);
        KC_CHECK(kc_harness_now_ms() < deadline, "%s: no producer timed out", phase);
        kc_harness_poll_pause();
    }
}

/* Until the log grew by `by` events (or every producer ended). */
static void s_wait_growth(const char *store, kc_fleet_t *f, uint64_t by, const char *phase)
{
    uint64_t from = kc_fault_log_size(store);
    int64_t deadline = kc_harness_now_ms() + PHASE_MS;
    while (kc_fault_log_size(store) < from + by) {
        if (kc_fleet_poll(f) == 0)
            return;
        KC_CHECK(kc_harness_now_ms() < deadline, "%s: the log did not grow by %llu", phase,
                 (unsigned long long)by);
        for (int k = 0; k < 20; k++)
            kc_harness_poll_pause();
    }
}

int main(int argc, char **argv)
{
    bool lng = kc_fault_is_long(argc, argv);
    const size_t rows = lng ? 60000 : 12000;
    const int rounds = lng ? 3 : 1;
    kc_harness_init("link_fault_test");
    kc_fleet_t fleet;
    kc_fleet_init(&fleet, PRODUCERS, rows, 600, "link", NULL);
    const uint64_t total = fleet.sums.events;

    char store[KC_PATH_MAX];
    kc_harness_path(store, "store");
    int agg_port = kc_harness_free_port();
    char listen[64];
    snprintf(listen, sizeof listen, "tcp://127.0.0.1:%d", agg_port);
    kc_agg_t agg = {0};
    kc_harness_agg_start(&agg, store, listen, NULL);

    /* the proxy, on another free port, relaying to the aggregator */
    int proxy_port;
    do
        proxy_port = 10000 + (int)(kc_harness_now_ms() % 20000);
    while (proxy_port == agg_port);
    char ctl[KC_PATH_MAX], bin[KC_PATH_MAX], ps[16], as[16];
    kc_harness_path(ctl, "proxy.ctl");
    kc_harness_path(s_status, "proxy.status");
    KC_CHECK(mkfifo(ctl, 0600) == 0, "mkfifo %s", ctl);
    snprintf(ps, sizeof ps, "%d", proxy_port);
    snprintf(as, sizeof as, "%d", agg_port);
    char *pargv[] = {kc_harness_bin(bin, "kc-faultproxy"),
                     "--listen",
                     ps,
                     "--target",
                     as,
                     "--control",
                     ctl,
                     "--status",
                     s_status,
                     NULL};
    char perr[KC_PATH_MAX];
    kc_harness_path(perr, "proxy.err");
    pid_t proxy = kc_harness_spawn(pargv, NULL, perr);
    int64_t deadline = kc_harness_now_ms() + 10000;
    while (s_status_field("gen") < 0) {
        int st;
        KC_CHECK(!kc_harness_exited(proxy, &st), "kc-faultproxy ended at start (port %d)",
                 proxy_port);
        KC_CHECK(kc_harness_now_ms() < deadline, "kc-faultproxy not ready");
        kc_harness_poll_pause();
    }
    s_ctl = open(ctl, O_WRONLY);
    KC_CHECK(s_ctl >= 0, "open %s", ctl);

    char via[64];
    snprintf(via, sizeof via, "tcp://127.0.0.1:%d", proxy_port);
    /* a ZMTP handshake takes several round trips: at 500 ms each way it needs
     * seconds, so the request timeout must leave room for it */
    const char *const extra[] = {"--batch", "50", "--request-timeout-ms", "5000", NULL};
    fleet.extra = extra;
    kc_fleet_start_all(&fleet, via);

    int base[PRODUCERS];
    for (int r = 0; r < rounds; r++) {
        uint64_t step = total / (uint64_t)(rounds * 8);
        s_mode("pass");
        s_wait_growth(store, &fleet, step, "pass");

        for (int i = 0; i < PRODUCERS; i++)
            base[i] = s_timeouts(&fleet, i);
        s_mode("blackhole");
        s_wait_timeouts(&fleet, base, "blackhole");
        s_mode("pass");
        s_wait_growth(store, &fleet, step, "pass after blackhole");

        for (int i = 0; i < PRODUCERS; i++)
            base[i] = s_timeouts(&fleet, i);
        uint64_t before = kc_fault_log_size(store);
        long long dropped = s_status_field("dropped");
        s_mode("noack");
        /* a timeout, or Acks dropped after a commit (a producer reconnecting
         * through noack stalls in its handshake and logs no timeout) */
        deadline = kc_harness_now_ms() + PHASE_MS;
        for (;;) {
            bool timed_out = false;
            for (int i = 0; i < PRODUCERS; i++)
                timed_out = timed_out || s_timeouts(&fleet, i) > base[i];
            if (timed_out ||
                (s_status_field("dropped") > dropped && kc_fault_log_size(store) > before))
                break;
            KC_CHECK(kc_fleet_poll(&fleet) > 0, "noack: every producer ended");
            KC_CHECK(kc_harness_now_ms() < deadline, "noack: no Ack was lost");
            kc_harness_poll_pause();
        }
        fprintf(stderr, "link_fault_test: %llu events committed while their Acks were lost\n",
                (unsigned long long)(kc_fault_log_size(store) - before));
        s_mode("pass");
        s_wait_growth(store, &fleet, step, "pass after noack");

        long long resets = s_status_field("resets");
        s_mode("reset 300");
        deadline = kc_harness_now_ms() + PHASE_MS;
        while (s_status_field("resets") < resets + 3 && kc_fleet_poll(&fleet) > 0) {
            KC_CHECK(kc_harness_now_ms() < deadline, "reset: no connection was reset");
            kc_harness_poll_pause();
        }
        s_mode("latency 500");
        s_wait_growth(store, &fleet, 1, "latency");
        s_mode("trickle");
        s_wait_growth(store, &fleet, 1, "trickle");
    }
    s_mode("pass");
    kc_fleet_wait_all(&fleet, SEND_MS);
    kc_harness_agg_term(&agg);
    fprintf(stderr, "link_fault_test: proxy status at the end: ");
    char line[512];
    if (kc_harness_read_line(s_status, line, sizeof line) == 0)
        fprintf(stderr, "%s\n", line);
    kc_harness_stop(proxy, SIGTERM, 10000);
    close(s_ctl);
    char aerr[KC_PATH_MAX];
    kc_harness_path(aerr, "agg-%d.err", agg.incarnation);
    fprintf(stderr, "link_fault_test: aggregator resent=%lld undelivered_acks=%lld\n",
            kc_fault_counter(aerr, "stopped:", "resent"),
            kc_fault_counter(aerr, "stopped:", "undelivered_acks"));
    kc_oracle_result_t res;
    kc_oracle_scan(store, fleet.src, PRODUCERS, &res);
    kc_oracle_summary(lng ? "4-link-faults-long" : "4-link-faults", &res);
    kc_oracle_assert(store, fleet.src, PRODUCERS, true, &fleet.sums, "at the end", &res);
    kc_harness_pass();
    printf("link_fault_test: ok (%llu events through blackhole, lost acks, resets, latency, "
           "trickle)\n",
           (unsigned long long)total);
    return 0;
}
