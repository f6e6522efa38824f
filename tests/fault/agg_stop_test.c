/* agg_stop_test.c - fault scenario 3: the aggregator SIGSTOPped, then
 * SIGCONTed; producers keep spooling, time out, and resume.
 *
 * Short form: 3 producers x 4,000 events; the aggregator stays stopped until
 * every producer has logged a request timeout ("no acknowledgement from ...",
 * kc-send's stderr). --long: 3 x 30,000 events and the stop lasts 10 s (the
 * fault's length, measured, and also at least until every producer timed out).
 * Synchronisation: the stop is triggered by observed progress (the log holds
 * a quarter of the events); during it the test polls the producers' stderr
 * for their timeout line (bounded wait) and watches the store's log, which
 * must not move while the only writer is stopped. After SIGCONT the test
 * waits for the log to move again, then for every kc-send to end clean; the
 * aggregator's counters at SIGTERM must show resent events (the resends after
 * the timeouts, de-duplicated by sequence); then the full oracle.
 */
#include "fault_util.h"
#include "oracle.h"

#include <signal.h>
#include <stdio.h>

#define PRODUCERS   3
#define PROGRESS_MS 300000
#define SEND_MS     900000
#define TIMEOUT_MS  60000 /* bound on seeing each producer's timeout line */

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
    kc_fleet_start_all(&fleet, agg.endpoint);

    kc_fault_wait_log(store, total / 4, PROGRESS_MS, &fleet);
    KC_CHECK(kill(agg.pid, SIGSTOP) == 0, "SIGSTOP");
    int64_t t0 = kc_harness_now_ms();
    uint64_t frozen = kc_fault_log_size(store);
    long long spool0[PRODUCERS];
    for (int i = 0; i < PRODUCERS; i++) {
        char p[KC_PATH_MAX + 16];
        snprintf(p, sizeof p, "%s/data.mdb", fleet.spool[i]);
        spool0[i] = kc_fault_file_size(p);
    }
    fprintf(stderr, "agg_stop_test: SIGSTOP with the log at %llu/%llu\n",
            (unsigned long long)frozen, (unsigned long long)total);
    for (int i = 0; i < PRODUCERS; i++) {
        char err[KC_PATH_MAX + 8];
        kc_fleet_err(&fleet, i, err);
        KC_CHECK(kc_fault_wait_text(err, "no acknowledgement from", 1, TIMEOUT_MS),
                 "%s did not time out within %d ms while the aggregator was stopped", fleet.prod[i],
                 TIMEOUT_MS);
    }
    if (lng) /* the fault lasts 10 s: wait for that observable duration to pass */
        while (kc_harness_now_ms() < t0 + 10000)
            kc_harness_poll_pause();
    KC_CHECK(kc_fault_log_size(store) == frozen, "the log moved while the aggregator was stopped");
    int grew = 0;
    for (int i = 0; i < PRODUCERS; i++) {
        char p[KC_PATH_MAX + 16];
        snprintf(p, sizeof p, "%s/data.mdb", fleet.spool[i]);
        grew += kc_fault_file_size(p) > spool0[i];
    }
    fprintf(stderr,
            "agg_stop_test: every producer timed out after %lld ms; %d/%d spools grew while "
            "stopped\n",
            (long long)(kc_harness_now_ms() - t0), grew, PRODUCERS);
    KC_CHECK(kill(agg.pid, SIGCONT) == 0, "SIGCONT");
    kc_fault_wait_log(store, frozen + 1, PROGRESS_MS, NULL);
    kc_fleet_wait_all(&fleet, SEND_MS);
    kc_harness_agg_term(&agg);
    char aerr[KC_PATH_MAX];
    kc_harness_path(aerr, "agg-%d.err", agg.incarnation);
    long long resent = kc_fault_counter(aerr, "stopped:", "resent");
    fprintf(stderr, "agg_stop_test: aggregator counters: resent=%lld undelivered_acks=%lld\n",
            resent, kc_fault_counter(aerr, "stopped:", "undelivered_acks"));
    KC_CHECK(resent > 0, "the aggregator saw no resend after the producers timed out (%lld)",
             resent);
    kc_oracle_result_t res;
    kc_oracle_scan(store, fleet.src, PRODUCERS, &res);
    kc_oracle_summary(lng ? "3-agg-stop-long" : "3-agg-stop", &res);
    kc_oracle_assert(store, fleet.src, PRODUCERS, true, &fleet.sums, "at the end", &res);
    kc_harness_pass();
    printf("agg_stop_test: ok (%llu events, aggregator stopped and continued)\n",
           (unsigned long long)total);
    return 0;
}
