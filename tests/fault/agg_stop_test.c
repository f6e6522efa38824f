/* agg_stop_test.c - fault scenario 3: the aggregator SIGSTOPped, then
 * SIGCONTed; producers keep spooling, time out, and resume.
 *
 * Short form: 3 producers x 4,000 events; the aggregator stays stopped until
 * every producer in flight at the stop (acknowledged through the proxy at
 * least once, still running; at least one must be) has logged a request
 * timeout ("no acknowledgement from ...", kc-send's stderr); a producer that
 * had not finished its ZMTP handshake stalls in it and logs none. --long:
 * 3 x 30,000 events and the stop lasts 10 s (the fault's length, measured,
 * and also at least until those producers timed out).
 * The producers reach the aggregator through kc-faultproxy in mode pass,
 * which records every Ack per event (fault_util.h, oracle.h).
 * Synchronisation: the stop is triggered by observed progress (the log holds
 * a twelfth of the events: early, so that producers often still have rows to
 * spool; kc-send spools faster than the aggregator commits); during it the
 * test polls the producers' stderr for their timeout line (bounded wait) and
 * each spool's next_seq (read-only LMDB) until it rose, or the producer had
 * spooled its whole file before the stop (bounded wait): producers keep
 * spooling while nobody acknowledges.
 * While stopped, the store's log and the proxy's count of Acks must not move
 * (the count is taken once those producers timed out, when nothing sent before
 * the stop can still be in flight), and the oracle runs on the record so far.
 * After SIGCONT the test waits for the log to move again and runs the oracle
 * while the senders still run, then waits for every kc-send to end clean; the
 * aggregator's counters at SIGTERM must show resent events (the resends after
 * the timeouts, de-duplicated by sequence) and an undelivered_acks counter;
 * then the full oracle.
 */
#include "fault_util.h"
#include "oracle.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#define PRODUCERS   3
#define PROGRESS_MS 300000
#define SEND_MS     900000
#define TIMEOUT_MS  60000 /* bound on seeing each producer's timeout line */
#define SPOOL_MS    60000 /* bound on seeing each producer spool more while stopped */

/* Which producers the proxy's acknowledgement record holds a line for
 * ("ack<TAB>TIME<TAB>PRODUCER<TAB>...", complete lines only); returns how many. */
static int s_acked(const kc_proxy_t *px, const kc_fleet_t *fleet, bool seen[PRODUCERS])
{
    for (int i = 0; i < PRODUCERS; i++)
        seen[i] = false;
    FILE *f = fopen(px->record, "r");
    if (!f)
        return 0;
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        if (!strchr(line, '\n'))
            break; /* a line still being written */
        char *save = NULL, *tag = strtok_r(line, "\t", &save);
        if (!tag || strcmp(tag, "ack") != 0 || !strtok_r(NULL, "\t", &save))
            continue;
        const char *prod = strtok_r(NULL, "\t", &save);
        for (int i = 0; prod && i < PRODUCERS; i++)
            if (strcmp(prod, fleet->prod[i]) == 0)
                seen[i] = true;
    }
    fclose(f);
    int n = 0;
    for (int i = 0; i < PRODUCERS; i++)
        n += seen[i];
    return n;
}

/* Whether producer i's kc-send is still running. */
static bool s_running(const kc_fleet_t *fleet, int i)
{
    return fleet->pid[i] > 0 && kill(fleet->pid[i], 0) == 0;
}

int main(int argc, char **argv)
{
    bool lng = kc_fault_is_long(argc, argv);
    const size_t rows = lng ? 30000 : 4000;
    kc_harness_init("agg_stop_test");
    kc_fleet_t fleet;
    kc_fleet_init(&fleet, PRODUCERS, rows, 500, "stop", NULL);
    const uint64_t total = fleet.sums.events;

    char store[KC_PATH_MAX];
    kc_harness_path(store, "store");
    kc_agg_t agg = {0};
    kc_harness_agg_start(&agg, store, "tcp://127.0.0.1:*", NULL);
    kc_proxy_t px;
    kc_proxy_start(&px, agg.endpoint);
    kc_fleet_start_all(&fleet, px.endpoint);

    kc_fault_wait_log(store, total / 12, PROGRESS_MS, &fleet);
    /* Which producers the stop must make time out: those in flight at the stop,
     * i.e. acknowledged through the proxy at least once and still running. One
     * that has not finished its ZMTP handshake by then stalls in it and logs no
     * timeout (the aggregator's side of the handshake is stopped too); one that
     * has finished has nothing to time out on. At least one must be in flight. */
    bool acked[PRODUCERS], in_flight[PRODUCERS];
    int64_t going = kc_harness_now_ms() + PROGRESS_MS;
    for (;;) {
        s_acked(&px, &fleet, acked);
        int n = 0;
        for (int i = 0; i < PRODUCERS; i++)
            n += in_flight[i] = acked[i] && s_running(&fleet, i);
        if (n > 0)
            break;
        KC_CHECK(kc_harness_now_ms() < going, "no producer in flight within %d ms", PROGRESS_MS);
        kc_fleet_poll(&fleet);
        kc_harness_poll_pause();
    }
    KC_CHECK(kill(agg.pid, SIGSTOP) == 0, "SIGSTOP");
    int64_t t0 = kc_harness_now_ms();
    uint64_t frozen = kc_fault_log_size(store);
    uint64_t next0[PRODUCERS];
    for (int i = 0; i < PRODUCERS; i++)
        next0[i] = kc_fault_spool_next_seq(fleet.spool[i]);
    fprintf(stderr, "agg_stop_test: SIGSTOP with the log at %llu/%llu\n",
            (unsigned long long)frozen, (unsigned long long)total);
    int running = kc_fleet_poll(&fleet);
    for (int i = 0; i < PRODUCERS; i++) {
        if (!in_flight[i])
            continue;
        char err[KC_PATH_MAX + 8];
        kc_fleet_err(&fleet, i, err);
        KC_CHECK(kc_fault_wait_text(err, "no acknowledgement from", 1, TIMEOUT_MS),
                 "%s did not time out within %d ms while the aggregator was stopped", fleet.prod[i],
                 TIMEOUT_MS);
    }
    const int64_t t_timeouts = kc_harness_now_ms() - t0;
    const long long acks = kc_proxy_field(&px, "acks");
    /* every producer keeps spooling its file while nothing is acknowledged */
    int64_t deadline = kc_harness_now_ms() + SPOOL_MS;
    for (int i = 0; i < PRODUCERS; i++) {
        uint64_t next;
        while ((next = kc_fault_spool_next_seq(fleet.spool[i])) <= next0[i] &&
               next0[i] <= (uint64_t)rows) {
            KC_CHECK(kc_fleet_poll(&fleet) == running, "a kc-send ended while stopped");
            KC_CHECK(kc_harness_now_ms() < deadline,
                     "%s spooled nothing in %d ms while the aggregator was stopped (next_seq %llu "
                     "of %zu rows)",
                     fleet.prod[i], SPOOL_MS, (unsigned long long)next, rows);
            kc_harness_poll_pause();
        }
        fprintf(stderr, "agg_stop_test: %s spool next_seq %llu at the stop, %llu now (%zu rows)\n",
                fleet.prod[i], (unsigned long long)next0[i], (unsigned long long)next, rows);
    }
    kc_oracle_assert(store, fleet.src, PRODUCERS, false, NULL, "while stopped", NULL);
    if (lng) /* the fault lasts 10 s: wait for that observable duration to pass */
        while (kc_harness_now_ms() < t0 + 10000)
            kc_harness_poll_pause();
    const int64_t stopped_ms = kc_harness_now_ms() - t0;
    KC_CHECK(!lng || stopped_ms >= 10000, "the stop lasted %lld ms", (long long)stopped_ms);
    KC_CHECK(kc_fault_log_size(store) == frozen, "the log moved while the aggregator was stopped");
    KC_CHECK(kc_proxy_field(&px, "acks") == acks,
             "Acks arrived while the aggregator was stopped (%lld, then %lld)", acks,
             kc_proxy_field(&px, "acks"));
    fprintf(stderr,
            "agg_stop_test: every producer timed out within %lld ms, stopped for %lld ms, no Ack "
            "after %lld\n",
            (long long)t_timeouts, (long long)stopped_ms, acks);
    KC_CHECK(kill(agg.pid, SIGCONT) == 0, "SIGCONT");
    kc_fault_wait_log(store, frozen + 1, PROGRESS_MS, NULL);
    kc_oracle_assert(store, fleet.src, PRODUCERS, false, NULL, "after SIGCONT", NULL);
    kc_fleet_wait_all(&fleet, SEND_MS);
    kc_harness_agg_term(&agg);
    kc_proxy_stop(&px);
    char aerr[KC_PATH_MAX];
    kc_harness_path(aerr, "agg-%d.err", agg.incarnation);
    long long resent = kc_fault_counter(aerr, "stopped:", "resent");
    long long undelivered = kc_fault_counter(aerr, "stopped:", "undelivered_acks");
    fprintf(stderr, "agg_stop_test: aggregator counters: resent=%lld undelivered_acks=%lld\n",
            resent, undelivered);
    KC_CHECK(resent > 0, "the aggregator saw no resend after the producers timed out (%lld)",
             resent);
    KC_CHECK(undelivered >= 0, "no undelivered_acks counter in the aggregator's stop line (%s)",
             aerr);
    kc_oracle_result_t res;
    kc_oracle_scan(store, fleet.src, PRODUCERS, &res);
    kc_oracle_summary(lng ? "3-agg-stop-long" : "3-agg-stop", &res);
    kc_oracle_assert(store, fleet.src, PRODUCERS, true, &fleet.sums, "at the end", &res);
    kc_harness_pass();
    printf("agg_stop_test: ok (%llu events, aggregator stopped and continued)\n",
           (unsigned long long)total);
    return 0;
}
