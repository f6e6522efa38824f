/* feed_slow_test.c - a subscriber that never reads does not slow the
 * aggregator down (issue 5: "slow subscribers never slow the aggregator").
 *
 * A raw SUB socket subscribes to the feed with a tiny receive buffer and
 * never reads; a DEALER asks for a snapshot and never reads it either. The
 * aggregator runs with --feed-hwm 2, and 500 group commits of about 200
 * changed cells each make ~10 MB of updates, more than the publisher's queue
 * and the kernel's socket buffers (4 MiB at most) can hold for the stalled
 * subscriber. kc-send must still get every event
 * acknowledged within the deadline, a normal client must converge on the
 * store meanwhile, and a client joining at the end must get its snapshot
 * promptly (the snapshot thread is not held by the client that never reads). At the end the stalled
 * subscriber is drained: it must have lost updates (libzmq dropped them for it alone), which shows
 * it really was past the high-water mark while the aggregator went on.
 */
#include "feed_util.h"
#include "gen_csv.h"
#include "harness.h"
#include "kc_err.h"
#include "kc_feed_wire.h"
#include "kcpipe/v1/kcpipe.pb-c.h"

#include <stdio.h>
#include <string.h>
#include <zmq.h>

#define ROWS   100000
#define RUN_MS 240000

int main(void)
{
    kc_harness_init("feed_slow_test");
    char csv[KC_PATH_MAX], sp[KC_PATH_MAX], out[KC_PATH_MAX], store[KC_PATH_MAX];
    kc_gen_sums_t sums = {0};
    kc_harness_path(csv, "slow.csv");
    kc_harness_path(sp, "spool");
    kc_harness_path(out, "send.out");
    kc_harness_path(store, "store");
    KC_CHECK(kc_gen_csv(csv, "fs", 777, ROWS, &sums) == 0, "write %s", csv);

    const char *const agg_extra[] = {"--feed",
                                     "tcp://127.0.0.1:*",
                                     "--feed-snapshot",
                                     "tcp://127.0.0.1:*",
                                     "--group-max",
                                     "200",
                                     "--feed-hwm",
                                     "2",
                                     NULL};
    kc_agg_t agg = {0};
    kc_harness_agg_start(&agg, store, "tcp://127.0.0.1:*", agg_extra);
    kc_feed_eps_t eps;
    kc_feed_read_eps(agg.ready, &eps);

    void *zctx = zmq_ctx_new();
    KC_CHECK(zctx != NULL, "zmq context");
    /* the stalled subscriber */
    void *slow = zmq_socket(zctx, ZMQ_SUB);
    int one = 1, small = 4096, zero = 0;
    KC_CHECK(zmq_setsockopt(slow, ZMQ_RCVHWM, &one, sizeof one) == 0 &&
                 zmq_setsockopt(slow, ZMQ_RCVBUF, &small, sizeof small) == 0 &&
                 zmq_setsockopt(slow, ZMQ_LINGER, &zero, sizeof zero) == 0 &&
                 zmq_setsockopt(slow, ZMQ_SUBSCRIBE, "", 0) == 0 &&
                 zmq_connect(slow, eps.feed) == 0,
             "slow subscriber: %s", zmq_strerror(errno));
    /* a snapshot asker that never reads */
    void *asker = zmq_socket(zctx, ZMQ_DEALER);
    KC_CHECK(zmq_setsockopt(asker, ZMQ_RCVHWM, &one, sizeof one) == 0 &&
                 zmq_setsockopt(asker, ZMQ_RCVBUF, &small, sizeof small) == 0 &&
                 zmq_setsockopt(asker, ZMQ_LINGER, &zero, sizeof zero) == 0 &&
                 zmq_connect(asker, eps.snapshot) == 0,
             "asker: %s", zmq_strerror(errno));
    kc_feedc_t *c[1] = {kc_feed_client(zctx, &eps)};
    kc_feed_converge(c, 1, 0, 20000);

    const char *const send_extra[] = {"--batch", "200", NULL};
    pid_t p = kc_harness_send_start(agg.endpoint, "slow-p", sp, csv, out, send_extra);
    int64_t deadline = kc_harness_now_ms() + RUN_MS;
    int st = 0, asked = 0, turn = 0;
    for (;;) {
        KC_CHECK(kc_harness_now_ms() < deadline, "kc-send not done within %d ms (acks stalled?)",
                 RUN_MS);
        kc_feed_poll_all(c, 1, 20);
        if (turn++ % 10 == 0 && asked < 100) { /* snapshot requests that are never read */
            zmq_send(asker, KC_FEED_ICANHAZ, KC_FEED_CMD_LEN(KC_FEED_ICANHAZ),
                     ZMQ_SNDMORE | ZMQ_DONTWAIT);
            zmq_send(asker, "", 0, ZMQ_DONTWAIT);
            asked++;
        }
        if (kc_harness_exited(p, &st))
            break;
    }
    KC_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "kc-send failed");
    kc_summary_t s;
    kc_harness_send_check(-1, out, 0, ROWS, &s);
    uint64_t size = 0;
    KC_CHECK(kc_harness_log_size(store, &size) == 0 && size == ROWS, "log size %llu",
             (unsigned long long)size);
    kc_feed_converge(c, 1, size, 30000);
    /* the snapshot thread is not held by the client that never reads: a new
     * client gets its (large) snapshot promptly */
    int64_t t0 = kc_harness_now_ms();
    kc_feedc_t *late[1] = {kc_feed_client(zctx, &eps)};
    kc_feed_converge(late, 1, size, 20000);
    printf("a new client synced at seq %llu in %lld ms (%d snapshot requests never read)\n",
           (unsigned long long)size, (long long)(kc_harness_now_ms() - t0), asked);

    /* now drain the stalled subscriber: it must have lost updates */
    uint64_t got = 0, gaps = 0, last = 0, top = 0;
    int64_t until = kc_harness_now_ms() + 3000;
    while (kc_harness_now_ms() < until && top < size) {
        zmq_pollitem_t it = {.socket = slow, .events = ZMQ_POLLIN};
        if (zmq_poll(&it, 1, 200) <= 0)
            continue;
        char cmd[KC_FEED_CMD_MAX + 1] = "";
        int n = zmq_recv(slow, cmd, sizeof cmd - 1, 0);
        zmq_msg_t body;
        zmq_msg_init(&body);
        KC_CHECK(n > 0 && zmq_msg_recv(&body, slow, 0) >= 0, "receive");
        cmd[n < KC_FEED_CMD_MAX ? n : KC_FEED_CMD_MAX] = '\0';
        Kcpipe__V1__FeedUpdate *u =
            kcpipe__v1__feed_update__unpack(NULL, zmq_msg_size(&body), zmq_msg_data(&body));
        zmq_msg_close(&body);
        KC_CHECK(u != NULL, "undecodable FeedUpdate");
        if (strcmp(cmd, KC_FEED_UPD) == 0) {
            got++;
            if (last && u->prev_seq != last)
                gaps++;
            last = u->seq;
            top = u->seq;
        }
        kcpipe__v1__feed_update__free_unpacked(u, NULL);
    }
    printf("stalled subscriber: %llu updates received, %llu gaps, log size %llu\n",
           (unsigned long long)got, (unsigned long long)gaps, (unsigned long long)size);
    KC_CHECK(gaps > 0 || got == 0 || last < size,
             "the stalled subscriber lost nothing: the test did not pass the high-water mark");

    kc_harness_agg_term(&agg);
    kc_feed_compare_store(c[0], store, 2021, 2024, "reader");
    kc_feed_compare_store(late[0], store, 2021, 2024, "late");
    kc_feedc_destroy(&c[0]);
    kc_feedc_destroy(&late[0]);
    zmq_close(slow);
    zmq_close(asker);
    zmq_ctx_term(zctx);
    kc_harness_pass();
    printf("feed_slow_test: ok\n");
    return 0;
}
