/* feed_test.c - the live totals feed against a real kc-aggregator (issue 5).
 *
 * One aggregator with --feed; producers are kc-send processes; the clients
 * (kc_feedc) run in this process and are polled in turns, each within a
 * deadline:
 *   early    subscribes before any data: snapshot at 0, then every update;
 *   gappy    subscribes early too, then discards its next 2 updates (the
 *            kc_feedc test hook), so it must detect the gap and resync;
 *   late     joins once data has been committed, while the first producer is
 *            held (SIGSTOP) mid-stream; the second producer starts after it
 *            synced, so its snapshot is mid-stream whatever the run's speed.
 * When every kc-send has finished, all three must reach the store's log size;
 * the aggregator is stopped and each client's cells are compared, cell by
 * cell and through kc_cells_sum, with the store opened read-only, and its
 * units' last reports with the store's units table. (a)-(d) of issue 5's
 * feed tests.
 * The clients' counters must say how they got there: early took one snapshot
 * and then followed every update with no gap and nothing skipped; gappy
 * detected exactly one gap (the 2 discarded updates) and resynced once (2
 * snapshots); late took its first snapshot at a log size S with 0 < S < the
 * final size (data committed before it, more committed after it: it joined
 * mid-stream), then followed the updates after S without a gap (its
 * subscription was in place before it asked for the snapshot, so none was
 * lost in the hand-over) and applied some.
 */
#include "feed_util.h"
#include "gen_csv.h"
#include "harness.h"
#include "kc_err.h"

#include <signal.h>
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
    /* The late client joins mid-stream, by construction rather than by timing: the
     * first sender is held (SIGSTOP) while it takes its snapshot, and the second
     * one starts only after it: whatever the speed of the run (valgrind), its
     * snapshot is at 0 < S < the final log size and updates follow it. */
    KC_CHECK(kill(p1, SIGSTOP) == 0, "stop kc-send 1");
    c[2] = kc_feed_client(zctx, &eps);
    bool late_synced = false;
    uint64_t late_at = 0; /* the late client's seq when it first synced: its snapshot's */
    while (!kc_feedc_synced(c[2])) {
        KC_CHECK(kc_harness_now_ms() < deadline, "the late client did not sync within %d ms",
                 RUN_MS);
        kc_feed_poll_all(c, 3, 20);
    }
    late_synced = true;
    late_at = kc_feedc_seq(c[2]);
    KC_CHECK(kill(p1, SIGCONT) == 0, "continue kc-send 1");
    pid_t p2 = kc_harness_send_start(agg.endpoint, "feed-p2", sp2, csv2, out2, send_extra);
    pid_t pids[2] = {p1, p2};
    int running = 2, st;
    bool ended[2] = {false, false};
    while (running > 0) {
        KC_CHECK(kc_harness_now_ms() < deadline, "senders still running after %d ms", RUN_MS);
        kc_feed_poll_all(c, 3, 30);
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
    KC_CHECK(fs[0].snapshots == 1 && fs[0].resyncs == 0 && fs[0].skipped == 0,
             "the early client did not follow every update (snapshots %llu, resyncs %llu, "
             "skipped %llu)",
             (unsigned long long)fs[0].snapshots, (unsigned long long)fs[0].resyncs,
             (unsigned long long)fs[0].skipped);
    KC_CHECK(fs[1].resyncs == 1 && fs[1].snapshots == 2,
             "the client that lost 2 updates did not resync once (resyncs %llu, snapshots %llu)",
             (unsigned long long)fs[1].resyncs, (unsigned long long)fs[1].snapshots);
    KC_CHECK(late_synced && fs[2].snapshots == 1 && fs[2].resyncs == 0,
             "the late client did not join in one snapshot (synced %d, snapshots %llu, resyncs "
             "%llu)",
             (int)late_synced, (unsigned long long)fs[2].snapshots,
             (unsigned long long)fs[2].resyncs);
    KC_CHECK(late_at > 0 && late_at < size && fs[2].updates > 0,
             "the late client did not join mid-stream: snapshot at %llu of %llu, then %llu "
             "updates",
             (unsigned long long)late_at, (unsigned long long)size,
             (unsigned long long)fs[2].updates);
    printf("late joiner synced at %llu of %llu while data was flowing\n",
           (unsigned long long)late_at, (unsigned long long)size);

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
