/* concurrent_query_test.c - while four kc-send stream, kc-query answers at
 * once and the aggregator keeps committing.
 *
 * Synchronisation: kc-query is run again and again while the senders are
 * running (each run must exit 0 within QUERY_MS); between runs the store's
 * log size is read read-only, and the test requires it to have grown between
 * several pairs of queries. The loop ends when every kc-send has exited.
 * The aggregator starts with a 1 MiB map, so the map grows several times
 * while kc-query and the test read the store.
 */
#include "gen_csv.h"
#include "harness.h"
#include "kc_err.h"
#include "verify.h"

#include <stdio.h>

#define PRODUCERS   4
#define ROWS        8000
#define QUERY_MS    10000 /* "at once", with generous room for sanitizers */
#define RUN_MS      180000
#define MIN_GROWTHS 3

int main(void)
{
    kc_harness_init("concurrent_query_test");
    kc_gen_sums_t expect = {0};
    char csv[PRODUCERS][KC_PATH_MAX], spool[PRODUCERS][KC_PATH_MAX], out[PRODUCERS][KC_PATH_MAX];
    char prod[PRODUCERS][16];
    for (int i = 0; i < PRODUCERS; i++) {
        snprintf(prod[i], sizeof prod[i], "cq-%d", i + 1);
        kc_harness_path(csv[i], "%s.csv", prod[i]);
        kc_harness_path(spool[i], "spool-%d", i + 1);
        kc_harness_path(out[i], "send-%d.out", i + 1);
        KC_CHECK(kc_gen_csv(csv[i], prod[i], 400 + i, ROWS, &expect) == 0, "write %s", csv[i]);
    }
    char store[KC_PATH_MAX];
    kc_harness_path(store, "store");
    kc_agg_t agg = {0};
    /* a small initial map: it must grow several times under the readers */
    const char *const agg_extra[] = {"--map-size", "1048576", NULL};
    kc_harness_agg_start(&agg, store, "tcp://127.0.0.1:*", agg_extra);

    const char *const extra[] = {"--batch", "100", NULL};
    pid_t pid[PRODUCERS];
    for (int i = 0; i < PRODUCERS; i++)
        pid[i] = kc_harness_send_start(agg.endpoint, prod[i], spool[i], csv[i], out[i], extra);

    int queries = 0, growths = 0, running = PRODUCERS, status[PRODUCERS] = {0};
    bool ended[PRODUCERS] = {false};
    int64_t slowest = 0, deadline = kc_harness_now_ms() + RUN_MS;
    uint64_t before = 0, after = 0;
    KC_CHECK(kc_harness_log_size(store, &before) == 0, "read log size");
    while (running > 0) {
        KC_CHECK(kc_harness_now_ms() < deadline, "senders still running after %d ms", RUN_MS);
        int64_t took = kc_verify_query_once(store, 2021 + queries % 4, QUERY_MS);
        queries++;
        if (took > slowest)
            slowest = took;
        int rc = kc_harness_log_size(store, &after);
        KC_CHECK(rc == 0, "read log size: %s", kc_strerror(rc));
        KC_CHECK(after >= before, "log shrank from %llu to %llu", (unsigned long long)before,
                 (unsigned long long)after);
        if (after > before && after < expect.events)
            growths++;
        before = after;
        for (int i = 0; i < PRODUCERS; i++)
            if (!ended[i] && kc_harness_exited(pid[i], &status[i])) {
                ended[i] = true;
                running--;
            }
    }
    fprintf(stderr,
            "concurrent_query_test: %d queries (slowest %lld ms), log grew between %d pairs\n",
            queries, (long long)slowest, growths);
    KC_CHECK(growths >= MIN_GROWTHS,
             "the log grew between only %d pairs of queries (%d queries) while 4 senders ran",
             growths, queries);
    for (int i = 0; i < PRODUCERS; i++) {
        char sb[64];
        KC_CHECK(WIFEXITED(status[i]) && WEXITSTATUS(status[i]) == 0, "kc-send %d: %s", i + 1,
                 kc_harness_status_str(status[i], sb, sizeof sb));
        kc_summary_t s;
        kc_harness_send_check(-1, out[i], 0, ROWS, &s);
    }
    kc_harness_agg_term(&agg);
    kc_verify_store(store, &expect);
    kc_harness_pass();
    printf("concurrent_query_test: ok (%d queries while streaming)\n", queries);
    return 0;
}
