/* producer_kill_fault_test.c - fault scenario 2: producers SIGKILLed
 * mid-batch, again and again, and restarted from their spools.
 *
 * Short form: 4 producers x 10,000 events, 2 kills each. --long: 4 x 50,000,
 * 13 kills each (52). kc-send runs with --batch 250 and the kill points are seeded
 * random counts of the victim's events in the store that are not multiples
 * of the batch size, so most kills land while a batch is in flight (spooled,
 * sent, not yet acknowledged) or being spooled.
 * Synchronisation: a kill is triggered when the store (read read-only) shows
 * the victim's high-water sequence at or past its point (observed progress;
 * the point is a seeded offset from the hwm at the run's start); the kc-send
 * is reaped and rerun at once with the same spool and CSV (it resumes the
 * spool and re-offers the file: business duplicates), and after each round
 * of kills the oracle runs on the live store while the others send (no
 * duplicates, order, nothing foreign, every event acknowledged so far in the
 * log once: the producers reach the aggregator through kc-faultproxy in mode
 * pass, which records every Ack per event). A run that ends clean before its
 * point is simply rerun (counted as "early"), so a fast machine cannot make
 * the test miss its kills. At the end every producer's last run must exit 0
 * with nothing unacknowledged; the aggregator stops on SIGTERM; the full
 * oracle runs (every event acknowledged accepted exactly once, under one seq,
 * whatever the reruns re-offered).
 */
#include "fault_util.h"
#include "oracle.h"

#include "kc_err.h"

#include <stdio.h>
#include <stdlib.h>

#define PRODUCERS   4
#define PROGRESS_MS 300000
#define SEND_MS     1800000

/* A kill offset in seqs: between a tenth and a half of a file, off the batch grid. */
static uint64_t s_offset(uint64_t *rng, size_t rows)
{
    uint64_t lo = rows / 10, p = lo + kc_fault_rand(rng) % (rows / 2 - lo);
    return p % 250 == 0 ? p + 1 + kc_fault_rand(rng) % 249 : p;
}

int main(int argc, char **argv)
{
    bool lng = kc_fault_is_long(argc, argv);
    const size_t rows = lng ? 50000 : 10000;
    const int kills = lng ? 13 : 2;
    kc_harness_init("producer_kill_fault_test");
    uint64_t rng = kc_fault_seed(2002);
    kc_fleet_t fleet;
    kc_fleet_init(&fleet, PRODUCERS, rows, 400, "pkill", NULL);

    char store[KC_PATH_MAX];
    kc_harness_path(store, "store");
    kc_agg_t agg = {0};
    kc_harness_agg_start(&agg, store, "tcp://127.0.0.1:*", NULL);
    kc_proxy_t px;
    kc_proxy_start(&px, agg.endpoint);
    kc_fleet_start_all(&fleet, px.endpoint);

    /* per producer: kill when its hwm passes trigger[i] (set at each start) */
    int done[PRODUCERS] = {0}, total_kills = 0, early = 0;
    uint64_t trigger[PRODUCERS];
    for (int i = 0; i < PRODUCERS; i++)
        trigger[i] = s_offset(&rng, rows);
    int64_t deadline = kc_harness_now_ms() + PROGRESS_MS * kills;
    while (total_kills < PRODUCERS * kills) {
        int killed_now = 0;
        for (int i = 0; i < PRODUCERS; i++) {
            if (done[i] >= kills)
                continue;
            uint64_t accepted = 0, hwm = 0;
            int rc = kc_harness_producer_counts(store, fleet.prod[i], &accepted, &hwm);
            KC_CHECK(rc == 0, "producer state: %s", kc_strerror(rc));
            int st;
            if (fleet.pid[i] > 0 && kc_harness_exited(fleet.pid[i], &st)) {
                /* this run finished before its kill point: rerun (re-offers the file) */
                KC_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "kc-send %s ended badly",
                         fleet.prod[i]);
                fleet.pid[i] = 0;
                early++;
                kc_fleet_start(&fleet, i, px.endpoint);
                trigger[i] = hwm + s_offset(&rng, rows);
                continue;
            }
            if (hwm < trigger[i])
                continue;
            kc_fleet_kill(&fleet, i);
            fprintf(stderr,
                    "producer_kill_fault_test: killed %s (kill %d, run %d) at accepted=%llu "
                    "hwm=%llu\n",
                    fleet.prod[i], done[i] + 1, fleet.runs[i], (unsigned long long)accepted,
                    (unsigned long long)hwm);
            kc_fleet_start(&fleet, i, px.endpoint); /* same spool, same file */
            trigger[i] = hwm + s_offset(&rng, rows);
            done[i]++;
            total_kills++;
            killed_now++;
        }
        if (killed_now) {
            char when[64];
            snprintf(when, sizeof when, "after %d producer kills", total_kills);
            kc_oracle_assert(store, fleet.src, PRODUCERS, false, NULL, when, NULL);
        } else {
            KC_CHECK(kc_harness_now_ms() < deadline, "kill points not reached in time");
            kc_harness_poll_pause();
        }
    }
    fprintf(stderr, "producer_kill_fault_test: %d runs ended before their kill point (rerun)\n",
            early);
    kc_fleet_wait_all(&fleet, SEND_MS);
    kc_harness_agg_term(&agg);
    kc_proxy_stop(&px);
    kc_oracle_result_t res;
    kc_oracle_scan(store, fleet.src, PRODUCERS, &res);
    kc_oracle_summary(lng ? "2-producer-kill-long" : "2-producer-kill", &res);
    kc_oracle_assert(store, fleet.src, PRODUCERS, true, &fleet.sums, "at the end", &res);
    fprintf(stderr,
            "producer_kill_fault_test: last runs report accepted=%ld duplicates=%ld (reruns "
            "re-offer the file)\n",
            fleet.accepted, fleet.duplicates);
    kc_harness_pass();
    printf("producer_kill_fault_test: ok (%llu events, %d producer SIGKILLs)\n",
           (unsigned long long)fleet.sums.events, PRODUCERS * kills);
    return 0;
}
