/* agg_kill_test.c - fault scenario 1: the aggregator SIGKILLed at random
 * moments while 4 producers stream; every acknowledged event ends in the log
 * exactly once.
 *
 * Short form: 4 x 5,000 events, 3 kills. --long: 4 x 50,000 events, 50 kills.
 * The producers reach the aggregator through kc-faultproxy in mode pass (a
 * relay on its own port that keeps running across the kills and refuses
 * connections while the aggregator is down), which records every Ack per
 * event (fault_util.h, oracle.h).
 * Synchronisation: the kill points are seeded random log sizes (sorted,
 * strictly between 0 and the total), so each kill is triggered by observed
 * progress (the store's log read read-only), never by time. After each kill,
 * with the aggregator down and the store quiet, the oracle runs while the
 * senders still run (no duplicate, order per producer, nothing foreign, every
 * event acknowledged so far in the log once; every 10th kill and the first
 * also kc-replay verify and kc-audit verify); then the aggregator is
 * restarted on the same fixed port (ready file) and the kc-send processes
 * reconnect by themselves (Lazy Pirate). At the end every kc-send must exit 0
 * with nothing unacknowledged, the aggregator stops on SIGTERM and the full
 * oracle runs (every event acknowledged accepted exactly once, exact totals,
 * replay, audit).
 */
#include "fault_util.h"
#include "oracle.h"

#include <stdio.h>
#include <stdlib.h>

#define PRODUCERS   4
#define PROGRESS_MS 300000
#define SEND_MS     1800000

static int s_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    bool lng = kc_fault_is_long(argc, argv);
    const size_t rows = lng ? 50000 : 5000;
    const int kills = lng ? 50 : 3;
    kc_harness_init("agg_kill_test");
    uint64_t rng = kc_fault_seed(1001);
    kc_fleet_t fleet;
    kc_fleet_init(&fleet, PRODUCERS, rows, 300, "kill", NULL);
    const uint64_t total = fleet.sums.events;

    uint64_t points[64];
    for (int k = 0; k < kills; k++)
        points[k] = 1 + kc_fault_rand(&rng) % (total - 1);
    qsort(points, (size_t)kills, sizeof points[0], s_cmp_u64);

    char listen[64], store[KC_PATH_MAX];
    snprintf(listen, sizeof listen, "tcp://127.0.0.1:%d", kc_harness_free_port());
    kc_harness_path(store, "store");
    kc_agg_t agg = {0};
    const char *const agg_extra[] = {"--map-size", "4m", NULL};
    kc_harness_agg_start(&agg, store, listen, agg_extra);
    kc_proxy_t px;
    kc_proxy_start(&px, listen);
    kc_fleet_start_all(&fleet, px.endpoint);

    for (int k = 0; k < kills; k++) {
        uint64_t seen = kc_fault_log_size(store);
        if (seen < points[k])
            seen = kc_fault_wait_log(store, points[k], PROGRESS_MS, &fleet);
        kc_harness_agg_kill(&agg);
        uint64_t at = kc_fault_log_size(store);
        fprintf(stderr, "agg_kill_test: kill %d/%d at log size %llu (point %llu) of %llu\n", k + 1,
                kills, (unsigned long long)at, (unsigned long long)points[k],
                (unsigned long long)total);
        char when[64];
        snprintf(when, sizeof when, "after kill %d", k + 1);
        kc_fleet_poll(&fleet); /* senders that finished are acknowledged in full */
        kc_oracle_assert(store, fleet.src, PRODUCERS, k == 0 || (k + 1) % 10 == 0, NULL, when,
                         NULL);
        kc_harness_agg_start(&agg, store, listen, agg_extra);
    }
    kc_fleet_wait_all(&fleet, SEND_MS);
    kc_harness_agg_term(&agg);
    kc_proxy_stop(&px);
    kc_oracle_result_t res;
    kc_oracle_scan(store, fleet.src, PRODUCERS, &res);
    kc_oracle_summary(lng ? "1-agg-kill-long" : "1-agg-kill", &res);
    kc_oracle_assert(store, fleet.src, PRODUCERS, true, &fleet.sums, "at the end", &res);
    fprintf(stderr, "agg_kill_test: senders report accepted=%ld duplicates=%ld\n", fleet.accepted,
            fleet.duplicates);
    kc_harness_pass();
    printf("agg_kill_test: ok (%llu events, %d aggregator SIGKILLs)\n", (unsigned long long)total,
           kills);
    return 0;
}
