/* link_fault_test.c - fault scenario 4: lost acknowledgements and link faults
 * through kc-faultproxy (a TCP relay of our own on loopback, which also
 * records every Ack per event: fault_util.h, oracle.h).
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
 * After each phase the oracle runs on the live store while the senders run:
 * every event acknowledged so far (Acks the proxy dropped included: each was
 * sent after its commit) is in the log once. At the end every kc-send exits 0
 * with nothing unacknowledged; the aggregator stops on SIGTERM; the full
 * oracle runs (every event acknowledged accepted exactly once).
 */
#include "fault_util.h"
#include "oracle.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PRODUCERS 2
#define PHASE_MS  120000
#define SEND_MS   500000

static kc_proxy_t s_px;
static const char *s_store;
static kc_fleet_t *s_fleet;
static char s_phase[64]; /* the mode in force, with its round */
static int s_round;

static long long s_status_field(const char *key)
{
    return kc_proxy_field(&s_px, key);
}

/* Send one command and wait until the proxy applied it; then, if the new mode
 * holds the producers back (blackhole: nothing reaches the aggregator; noack:
 * no Ack reaches them, so their windows fill), run the oracle on the live store
 * for the phases since the last check (see DESIGN). A check while Batches flow
 * would let the producers run through the rest of the workload meanwhile (the
 * per-cell check takes a while under the sanitizers) and leave nothing for the
 * next phase; the phases that are not followed by a held one are covered by
 * the check at the end. */
static void s_mode(const char *cmd)
{
    kc_proxy_mode(&s_px, cmd);
    bool held = strncmp(cmd, "blackhole", 9) == 0 || strncmp(cmd, "noack", 5) == 0;
    if (held && s_phase[0] != '\0') {
        char when[128];
        snprintf(when, sizeof when, "after phase '%s' of round %d", s_phase, s_round + 1);
        kc_oracle_assert(s_store, s_fleet->src, (size_t)s_fleet->n, false, NULL, when, NULL);
    }
    snprintf(s_phase, sizeof s_phase, "%s", cmd);
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
    s_store = store;
    s_fleet = &fleet;

    /* the proxy, on another free port, relaying to the aggregator */
    kc_proxy_start(&s_px, listen);

    /* a ZMTP handshake takes several round trips: at 500 ms each way it needs
     * seconds, so the request timeout must leave room for it */
    const char *const extra[] = {"--batch", "50", "--request-timeout-ms", "5000", NULL};
    fleet.extra = extra;
    kc_fleet_start_all(&fleet, s_px.endpoint);

    int base[PRODUCERS];
    int64_t deadline;
    for (int r = 0; r < rounds; r++) {
        s_round = r;
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
    kc_proxy_stop(&s_px);
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
