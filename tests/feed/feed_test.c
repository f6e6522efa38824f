/* feed_test.c - the live totals feed against a real kc-aggregator (issue 5).
 *
 * One aggregator with --feed; producers are kc-send processes; the clients
 * (kc_feedc) run in this process and are polled in turns, each within a
 * deadline:
 *   early    subscribes before any data: snapshot at 0, then every update;
 *   gappy    subscribes early too, then discards its next 2 updates (the
 *            kc_feedc test hook), so it must detect the gap and resync;
 *   late     joins once data has been committed and while a second producer
 *            is still streaming.
 * When every kc-send has finished, all three must reach the store's log size;
 * the aggregator is stopped and each client's cells are compared, cell by
 * cell and through kc_cells_sum, with the store opened read-only, and its
 * units' last reports with the store's units table. (a)-(d) of issue 5's
 * feed tests.
 */
#include "feed_util.h"
#include "gen_csv.h"
#include "harness.h"
#include "kc_err.h"

#include <stdio.h>
#include <string.h>
#include <zmq.h>

#define ROWS1  6000
#define ROWS2  6000
#define RUN_MS 180000

int main(void)
{
    kc_harness_init("feed_test");
    char csv1[KC_PATH_MAX], csv2[KC_PATH_MAX], sp1[KC_PATH_MAX], sp2[KC_PATH_MAX];
    char out1[KC_PATH_MAX], out2[KC_PATH_MAX], store[KC_PATH_MAX];
    kc_gen_sums_t sums = {0};
    kc_harness_path(csv1, "p1.csv");
    kc_harness_path(csv2, "p2.csv");
    kc_harness_path(sp1, "spool-1");
    kc_harness_path(sp2, "spool-2");
    kc_harness_path(out1, "send-1.out");
    kc_harness_path(out2, "send-2.out");
    kc_harness_path(store, "store");
    KC_CHECK(kc_gen_csv(csv1, "fa", 501, ROWS1, &sums) == 0, "write %s", csv1);
    KC_CHECK(kc_gen_csv(csv2, "fb", 502, ROWS2, &sums) == 0, "write %s", csv2);

    /* small groups: many commits, so many updates */
    const char *const agg_extra[] = {"--feed",
                                     "tcp://127.0.0.1:*",
                                     "--feed-snapshot",
                                     "tcp://127.0.0.1:*",
                                     "--group-max",
                                     "200",
                                     "--log-level",
                                     "info",
                                     NULL};
    kc_agg_t agg = {0};
    kc_harness_agg_start(&agg, store, "tcp://127.0.0.1:*", agg_extra);
    kc_feed_eps_t eps;
    kc_feed_read_eps(agg.ready, &eps);

    void *zctx = zmq_ctx_new();
    KC_CHECK(zctx != NULL, "zmq context");
    kc_feedc_t *c[3] = {kc_feed_client(zctx, &eps), kc_feed_client(zctx, &eps), NULL};
    kc_feed_converge(c, 2, 0, 20000); /* both synced on the empty store */
    kc_feedc_test_drop_updates(c[1], 2);

    const char *const send_extra[] = {"--batch", "100", NULL};
    pid_t p1 = kc_harness_send_start(agg.endpoint, "feed-p1", sp1, csv1, out1, send_extra);
    /* the late joiner: once the early client has seen committed data */
    int64_t deadline = kc_harness_now_ms() + RUN_MS;
    while (kc_feedc_seq(c[0]) == 0) {
        KC_CHECK(kc_harness_now_ms() < deadline, "no update within %d ms", RUN_MS);
        kc_feed_poll_all(c, 2, 20);
    }
    c[2] = kc_feed_client(zctx, &eps);
    pid_t p2 = kc_harness_send_start(agg.endpoint, "feed-p2", sp2, csv2, out2, send_extra);
    bool joined_midway = false;
    pid_t pids[2] = {p1, p2};
    int running = 2, st;
    bool ended[2] = {false, false};
    while (running > 0) {
        KC_CHECK(kc_harness_now_ms() < deadline, "senders still running after %d ms", RUN_MS);
        kc_feed_poll_all(c, 3, 30);
        if (kc_feedc_synced(c[2]) && !ended[1])
            joined_midway = true; /* synced while the second producer still streamed */
        for (int i = 0; i < 2; i++)
            if (!ended[i] && kc_harness_exited(pids[i], &st)) {
                ended[i] = true;
                running--;
                KC_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "kc-send %d failed", i + 1);
            }
    }
    kc_summary_t s;
    kc_harness_send_check(-1, out1, 0, ROWS1, &s);
    kc_harness_send_check(-1, out2, 0, ROWS2, &s);
    uint64_t size = 0;
    KC_CHECK(kc_harness_log_size(store, &size) == 0, "log size");
    KC_CHECK(size == sums.events, "log size %llu, %llu events sent", (unsigned long long)size,
             (unsigned long long)sums.events);
    kc_feed_converge(c, 3, size, 30000);

    kc_feedc_stats_t fs[3];
    const char *names[3] = {"early", "gappy", "late"};
    for (int i = 0; i < 3; i++) {
        kc_feedc_stats(c[i], &fs[i]);
        printf("%s: snapshots=%llu resyncs=%llu updates=%llu skipped=%llu seq=%llu\n", names[i],
               (unsigned long long)fs[i].snapshots, (unsigned long long)fs[i].resyncs,
               (unsigned long long)fs[i].updates, (unsigned long long)fs[i].skipped,
               (unsigned long long)kc_feedc_seq(c[i]));
    }
    KC_CHECK(fs[0].updates > 0, "the early client applied no update");
    KC_CHECK(fs[1].resyncs > 0 && fs[1].snapshots >= 2,
             "the client that lost updates did not resync (resyncs %llu, snapshots %llu)",
             (unsigned long long)fs[1].resyncs, (unsigned long long)fs[1].snapshots);
    KC_CHECK(fs[2].snapshots >= 1, "the late client has no snapshot");
    printf("late joiner synced while data was flowing: %s\n", joined_midway ? "yes" : "no");

    kc_harness_agg_term(&agg); /* the store is complete and closed */
    for (int i = 0; i < 3; i++) {
        size_t n = kc_feed_compare_store(c[i], store, 2021, 2024, names[i]);
        printf("%s: %zu cells and every unit equal to the store\n", names[i], n);
    }
    for (int i = 0; i < 3; i++)
        kc_feedc_destroy(&c[i]);
    zmq_ctx_term(zctx);
    kc_harness_pass();
    printf("feed_test: ok\n");
    return 0;
}
