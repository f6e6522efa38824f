/* backpressure_test.c - fault scenario 7: producers offer far more than the
 * aggregator can commit; the aggregator pushes back, its memory stays bounded
 * and nothing is dropped silently.
 *
 * The set-up: every group commit is slow. The aggregator runs with the shim
 * libkcslowsync.so (slowsync_shim.c) preloaded, which makes each fdatasync of
 * its store wait SYNC_MS first, and with --group-max 250: a group holds at
 * most 250 events, one commit each. Two kinds of producers:
 *   - FLOODERS raw DEALER sockets in a thread of this test, each sending Batch
 *     after Batch of FLOOD_EVENTS new events (seq 1, 2, ... with no gap) as
 *     fast as its socket takes them, never waiting for an Ack: producers that
 *     ignore every window. Their events carry province "00" (unknown): each is
 *     rejected, recorded in the rejects table (so each flood group is a real,
 *     slow commit) and never enters the log or the totals, so the oracle of
 *     the fleet is unchanged. Each flooder reads its Acks as they come: they
 *     must cover its Batches in order, without a gap or a resend request,
 *     FLOOD_EVENTS rejections each.
 *   - PRODUCERS kc-send processes (the fleet; short: 8 x 1,000 rows, --long:
 *     8 x 25,000) with batches of 250 and the default 2 s request timeout.
 * The mechanism under test (kc_agg.c): while the group being filled is full
 * and the previous one is still being committed, the socket thread stops
 * reading the ROUTER (s_fill_full); libzmq then queues at most S_RCVHWM (64)
 * messages per connection, stops reading the TCP connection, the kernel
 * buffers fill, then the flooder's own queue (ZMQ_SNDHWM FLOOD_SNDHWM): its
 * zmq_send(ZMQ_DONTWAIT) fails with EAGAIN until the aggregator has drained
 * some. libzmq fair-queues the connections, so the fleet still gets its turn.
 * Phases:
 *   A  the flood alone, until both flooders have been refused and for at least
 *      FLOOD_ONLY_MS (short 1.5 s, --long 10 s): the aggregator's RssAnon,
 *      sampled every poll step, never exceeds its value before the flood by
 *      more than the allowance computed in s_allowance_kb() from the
 *      configured limits (the arithmetic there);
 *   B  the fleet under the flood, until every kc-send has exited. No memory
 *      bound here: the committed data itself grows the heap (LMDB keeps the
 *      dirty-page buffers of its largest transaction, which grows with the
 *      trees; ASan's size classes), independently of the backlog.
 * Checks at the end: the shim engaged (its report line); throttled: each
 * flooder's send was refused (EAGAIN) and it spent at least MIN_BLOCKED_PCT of
 * the flood waiting for room (POLLOUT), and was answered (pushed back, not
 * starved) with every Ack as above; every kc-send ended clean; the counters
 * at exit account for the batches; the oracle holds (every event in the log
 * exactly once, totals = the CSV sums, replay and audit verify).
 * A mutation that lets the socket thread read on while the group is full
 * (s_fill_full always false) makes the aggregator decode the flood into its
 * group while the commit waits: RssAnon passes the allowance in phase A.
 */
#include "fault_util.h"
#include "kc_event.h" /* the wire types (protobuf-c) */
#include "oracle.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define PRODUCERS       8
#define FLOODERS        2
#define SYNC_MS         20  /* each fdatasync of the store (the shim) */
#define GROUP_MAX       250 /* --group-max */
#define FLEET_BATCH     250 /* kc_fleet_start's --batch */
#define FLOOD_EVENTS    250 /* = GROUP_MAX: one flood Batch fills a group */
#define FLOOD_NOTE      200 /* bytes of note per flood event */
#define FLOOD_SNDHWM    8   /* the flooders' own send queue, messages */
#define AGG_RCVHWM      64  /* kc_agg.c S_RCVHWM */
#define QUARANTINE_MB   2   /* ASan quarantine of the aggregator for this run */
#define MIN_BLOCKED_PCT 50
#define PUSHBACK_MS     30000
#define SEND_MS         1800000

/* ---- the flooders ------------------------------------------------------- */

typedef struct {
    const char *endpoint;
    atomic_bool stop;
    /* per flooder, written by the thread; read after the join (sent and refused
     * also while it runs) */
    atomic_ullong sent[FLOODERS];    /* Batches taken by zmq_send */
    atomic_ullong refused[FLOODERS]; /* sends refused with EAGAIN once connected */
    uint64_t answered[FLOODERS];     /* Acks received, each for the next Batch */
    int64_t blocked_ms[FLOODERS];    /* time spent refused, waiting for POLLOUT */
    int64_t ran_ms[FLOODERS];        /* from its first Batch sent to the stop */
    size_t len;                      /* bytes of its first Batch */
    uint64_t bad_acks;
    char why[256]; /* the first bad Ack or error, "" if none */
} s_flood_t;

/* Flood Batch number k (0-based) of producer id `prod` into *buf: events seq
 * k * FLOOD_EVENTS + 1 on, each a record of the unknown province "00" with a
 * FLOOD_NOTE-byte note. Returns its size. */
static size_t s_flood_batch(const char *prod, uint64_t k, uint8_t **buf, size_t *cap)
{
    static _Thread_local ProtobufCBinaryData evs[FLOOD_EVENTS];
    static _Thread_local uint8_t ebuf[FLOOD_EVENTS][FLOOD_NOTE + 256];
    char note[FLOOD_NOTE + 1];
    memset(note, 'x', FLOOD_NOTE);
    note[FLOOD_NOTE] = '\0';
    for (size_t i = 0; i < FLOOD_EVENTS; i++) {
        uint64_t seq = k * FLOOD_EVENTS + i + 1;
        char id[64];
        snprintf(id, sizeof id, "%s-%08llu", prod, (unsigned long long)seq);
        Kcpipe__V1__Metrics m = KCPIPE__V1__METRICS__INIT;
        m.has_amount_vnd = 1;
        m.amount_vnd = 1000;
        kc_pb_event_t ev = KCPIPE__V1__EVENT__INIT;
        ev.event_id = id;
        ev.province = "00";
        ev.has_year = ev.has_month = 1;
        ev.year = 2022;
        ev.month = 1;
        ev.activity = "KC3b";
        ev.metrics = &m;
        ev.note = note;
        ev.producer_id = (char *)prod;
        ev.has_seq = 1;
        ev.seq = seq;
        evs[i].len = kcpipe__v1__event__get_packed_size(&ev);
        KC_CHECK(evs[i].len <= sizeof ebuf[i], "flood event of %zu bytes", evs[i].len);
        evs[i].data = ebuf[i];
        kcpipe__v1__event__pack(&ev, evs[i].data);
    }
    kc_pb_batch_t b = KCPIPE__V1__BATCH__INIT;
    b.producer_id = (char *)prod;
    b.n_events = FLOOD_EVENTS;
    b.events = evs;
    b.has_producer_epoch = 1;
    b.producer_epoch = 1;
    size_t len = kcpipe__v1__batch__get_packed_size(&b);
    if (len > *cap) {
        uint8_t *nb = realloc(*buf, len);
        KC_CHECK(nb != NULL, "out of memory");
        *buf = nb;
        *cap = len;
    }
    kcpipe__v1__batch__pack(&b, *buf);
    return len;
}

/* Check one Ack of flooder i: it must answer its next Batch (answered[i]),
 * every event rejected, no resend asked. */
static void s_flood_ack(s_flood_t *f, int i, const void *data, size_t len)
{
    kc_pb_ack_t *a = kcpipe__v1__ack__unpack(NULL, len, data);
    uint64_t first = f->answered[i] * FLOOD_EVENTS + 1;
    bool ok = a && (!a->has_status || a->status == KCPIPE__V1__STATUS__STATUS_OK) &&
              a->has_acked_from && a->acked_from == first && a->has_acked_to &&
              a->acked_to == first + FLOOD_EVENTS - 1 && !a->resend_from &&
              a->n_results == FLOOD_EVENTS;
    for (size_t k = 0; ok && k < a->n_results; k++)
        ok = a->results[k]->has_reason && a->results[k]->reason != 0;
    if (ok) {
        f->answered[i]++;
    } else if (f->bad_acks++ == 0) {
        snprintf(f->why, sizeof f->why,
                 "flooder %d: Ack %s (status %d, acked %llu..%llu, resend_from %llu, %zu "
                 "results) where %llu..%llu was due",
                 i + 1, a ? "unexpected" : "undecodable", a && a->has_status ? (int)a->status : 0,
                 a ? (unsigned long long)a->acked_from : 0ULL,
                 a ? (unsigned long long)a->acked_to : 0ULL,
                 a ? (unsigned long long)a->resend_from : 0ULL, a ? a->n_results : (size_t)0,
                 (unsigned long long)first, (unsigned long long)(first + FLOOD_EVENTS - 1));
    }
    if (a)
        kcpipe__v1__ack__free_unpacked(a, NULL);
}

static void *s_flood_run(void *arg)
{
    s_flood_t *f = arg;
    void *zctx = zmq_ctx_new();
    void *sock[FLOODERS] = {0};
    char prod[FLOODERS][32];
    uint8_t *buf[FLOODERS] = {0};
    size_t cap[FLOODERS] = {0}, len[FLOODERS] = {0};
    bool blocked[FLOODERS] = {0};
    int64_t since[FLOODERS] = {0}, t0[FLOODERS] = {0};
    if (!zctx) {
        snprintf(f->why, sizeof f->why, "zmq_ctx_new: %s", zmq_strerror(errno));
        return NULL;
    }
    for (int i = 0; i < FLOODERS; i++) {
        snprintf(prod[i], sizeof prod[i], "bp-flood-%d", i + 1);
        len[i] = s_flood_batch(prod[i], 0, &buf[i], &cap[i]);
        int hwm = FLOOD_SNDHWM, zero = 0, one = 1;
        sock[i] = zmq_socket(zctx, ZMQ_DEALER);
        if (!sock[i] || zmq_setsockopt(sock[i], ZMQ_SNDHWM, &hwm, sizeof hwm) != 0 ||
            zmq_setsockopt(sock[i], ZMQ_LINGER, &zero, sizeof zero) != 0 ||
            zmq_setsockopt(sock[i], ZMQ_IMMEDIATE, &one, sizeof one) != 0 ||
            zmq_connect(sock[i], f->endpoint) != 0) {
            snprintf(f->why, sizeof f->why, "flooder %d: socket: %s", i + 1, zmq_strerror(errno));
            goto out;
        }
    }
    f->len = len[0];
    while (!atomic_load(&f->stop)) {
        bool any_free = false;
        for (int i = 0; i < FLOODERS; i++) {
            if (blocked[i])
                continue;
            if (zmq_send(sock[i], buf[i], len[i], ZMQ_DONTWAIT) >= 0) {
                uint64_t n = atomic_fetch_add(&f->sent[i], 1) + 1;
                if (n == 1)
                    t0[i] = kc_harness_now_ms();
                len[i] = s_flood_batch(prod[i], n, &buf[i], &cap[i]); /* the next one */
                any_free = true;
            } else if (errno == EAGAIN) {
                /* pushed back; before the first send: not connected yet (ZMQ_IMMEDIATE) */
                blocked[i] = true;
                since[i] = kc_harness_now_ms();
                if (atomic_load(&f->sent[i]) > 0)
                    atomic_fetch_add(&f->refused[i], 1);
            } else {
                snprintf(f->why, sizeof f->why, "flooder %d: send: %s", i + 1, zmq_strerror(errno));
                goto out;
            }
        }
        zmq_pollitem_t it[FLOODERS];
        for (int i = 0; i < FLOODERS; i++)
            it[i] = (zmq_pollitem_t){.socket = sock[i],
                                     .events = ZMQ_POLLIN | (blocked[i] ? ZMQ_POLLOUT : 0)};
        if (zmq_poll(it, FLOODERS, any_free ? 0 : 10) < 0 && errno != EINTR) {
            snprintf(f->why, sizeof f->why, "poll: %s", zmq_strerror(errno));
            goto out;
        }
        int64_t now = kc_harness_now_ms();
        for (int i = 0; i < FLOODERS; i++) {
            if (blocked[i] && (it[i].revents & ZMQ_POLLOUT)) {
                if (atomic_load(&f->sent[i]) > 0)
                    f->blocked_ms[i] += now - since[i];
                blocked[i] = false;
            }
            for (int k = 0; k < 1000 && (it[i].revents & ZMQ_POLLIN); k++) {
                zmq_msg_t m;
                zmq_msg_init(&m);
                if (zmq_msg_recv(&m, sock[i], ZMQ_DONTWAIT) < 0) {
                    zmq_msg_close(&m);
                    break;
                }
                s_flood_ack(f, i, zmq_msg_data(&m), zmq_msg_size(&m));
                zmq_msg_close(&m);
            }
        }
    }
    int64_t end = kc_harness_now_ms();
    for (int i = 0; i < FLOODERS; i++) {
        if (atomic_load(&f->sent[i]) == 0)
            continue;
        if (blocked[i])
            f->blocked_ms[i] += end - since[i];
        f->ran_ms[i] = end - t0[i];
    }
out:
    for (int i = 0; i < FLOODERS; i++) {
        if (sock[i])
            zmq_close(sock[i]);
        free(buf[i]);
    }
    zmq_ctx_term(zctx);
    return NULL;
}

/* ---- the memory bound --------------------------------------------------- */

/* How much the aggregator's anonymous memory may grow over its value before
 * the flood while only the flood runs, in KiB, from the configured limits
 * (M = one flood Batch, bytes):
 *   libzmq's inbound queues:  each flooder's connection holds at most
 *                             AGG_RCVHWM messages, plus the one its engine
 *                             holds while the queue is full:
 *                             FLOODERS x (64 + 1) x M;
 *   the two groups:           each at most GROUP_MAX events, i.e. one flood
 *                             Batch, decoded into its arena under kc_apply's
 *                             budgets (4 x M + 64 KiB for the Batch, 16 x M +
 *                             64 KiB for the events decoded ahead); an arena
 *                             keeps up to twice what its last group used:
 *                             2 x 2 x (20 x M + 128 KiB);
 *   the ASan quarantine:      QUARANTINE_MB (freed blocks held back);
 *   ASan's own cost:          redzones and size-class rounding (up to 1/4 of
 *                             blocks of these sizes), then the shadow (1/8):
 *                             x 5/4 x 9/8;
 *   slack:                    8 MiB (other size classes, Acks queued,
 *                             libzmq's buffers, a commit's dirty pages).
 * With M ~ 64 KiB: (8.3 + 5.6 + 2) x 1.41 + 8 = 30 MiB (measured under ASan:
 * ~20 MiB, flat over a 30 s flood). An aggregator that reads on while its
 * group is full holds every Batch it reads, ~10 x M decoded, and passes that
 * within a second of the flood. */
static long s_allowance_kb(size_t m)
{
    double zq = (double)FLOODERS * (AGG_RCVHWM + 1) * (double)m;
    double groups = 2.0 * 2.0 * (20.0 * (double)m + 128.0 * 1024);
    double quarantine = QUARANTINE_MB * 1024.0 * 1024;
    double total = (zq + groups + quarantine) * 5 / 4 * 9 / 8 + 8.0 * 1024 * 1024;
    return (long)(total / 1024);
}

int main(int argc, char **argv)
{
    bool lng = kc_fault_is_long(argc, argv);
    const size_t rows = lng ? 25000 : 1000;
    const int64_t flood_only_ms = lng ? 10000 : 1500;
    kc_harness_init("backpressure_test");
    kc_fleet_t fleet;
    kc_fleet_init(&fleet, PRODUCERS, rows, 1300, "bp", NULL);
    const uint64_t total = fleet.sums.events;

    /* the aggregator: slow flushes (the shim, on its store only), a capped ASan
     * quarantine; the environment is restored for the producers */
    char store[KC_PATH_MAX], report[KC_PATH_MAX], bin[KC_PATH_MAX], shim[KC_PATH_MAX + 32];
    kc_harness_path(store, "store");
    kc_harness_path(report, "slowsync.txt");
    kc_harness_bin(bin, "kc-aggregator");
    snprintf(shim, sizeof shim, "%.*s/libkcslowsync.so", (int)(strrchr(bin, '/') - bin), bin);
    char quarantine[48], ms[16];
    snprintf(quarantine, sizeof quarantine, "quarantine_size_mb=%d", QUARANTINE_MB);
    snprintf(ms, sizeof ms, "%d", SYNC_MS);
    kc_fault_preload(shim, quarantine);
    setenv("KC_SLOWSYNC_DIR", store, 1);
    setenv("KC_SLOWSYNC_MS", ms, 1);
    setenv("KC_SLOWSYNC_REPORT", report, 1);
    kc_agg_t agg = {0};
    const char *const agg_extra[] = {"--group-max", "250", "--group-window-ms", "50", NULL};
    kc_harness_agg_start(&agg, store, "tcp://127.0.0.1:*", agg_extra);
    unsetenv("KC_SLOWSYNC_DIR");
    unsetenv("KC_SLOWSYNC_MS");
    unsetenv("KC_SLOWSYNC_REPORT");
    kc_fault_unpreload();
    const long base = kc_fault_rss_anon_kb(agg.pid);
    KC_CHECK(base > 0, "cannot read the aggregator's RssAnon");

    /* A: the flood alone; memory bounded while the flooders are pushed back */
    static s_flood_t flood; /* large: not on the stack */
    flood.endpoint = agg.endpoint;
    pthread_t th;
    KC_CHECK(pthread_create(&th, NULL, s_flood_run, &flood) == 0, "cannot start the flooders");
    long peak = base, allow = 0;
    const int64_t t0 = kc_harness_now_ms();
    for (;;) {
        long kb = kc_fault_rss_anon_kb(agg.pid);
        peak = kb > peak ? kb : peak;
        bool refused = true;
        for (int i = 0; i < FLOODERS; i++)
            refused = refused && atomic_load(&flood.refused[i]) > 0;
        if (refused && !allow)
            allow = s_allowance_kb(flood.len); /* len is set before the first send */
        KC_CHECK(!allow || peak <= base + allow,
                 "aggregator RssAnon grew from %ld to %ld KiB under the flood (allowance %ld KiB)",
                 base, peak, allow);
        int64_t now = kc_harness_now_ms();
        if (refused && now >= t0 + flood_only_ms)
            break;
        KC_CHECK(refused || now < t0 + PUSHBACK_MS, "the flooders were not pushed back in %d ms",
                 PUSHBACK_MS);
        kc_harness_poll_pause();
    }
    KC_CHECK(peak <= base + allow, "aggregator RssAnon grew from %ld to %ld KiB under the flood",
             base, peak);

    /* B: the fleet under the flood */
    kc_fleet_start_all(&fleet, agg.endpoint);
    int64_t deadline = kc_harness_now_ms() + SEND_MS;
    while (kc_fleet_poll(&fleet) > 0) {
        KC_CHECK(kc_harness_now_ms() < deadline, "kc-send runs still going");
        kc_harness_poll_pause();
    }
    atomic_store(&flood.stop, true);
    KC_CHECK(pthread_join(th, NULL) == 0, "join the flooders");
    kc_harness_agg_term(&agg);

    char aerr[KC_PATH_MAX];
    kc_harness_path(aerr, "agg-%d.err", agg.incarnation);
    long long batches = kc_fault_counter(aerr, "stopped:", "batches"),
              commits = kc_fault_counter(aerr, "stopped:", "commits");
    uint64_t flood_sent = 0, flood_answered = 0;
    for (int i = 0; i < FLOODERS; i++) {
        fprintf(stderr,
                "backpressure_test: flooder %d: %llu Batches of ~%zu bytes sent, %llu answered "
                "in order, refused %llu times, blocked %lld ms of %lld\n",
                i + 1, (unsigned long long)atomic_load(&flood.sent[i]), flood.len,
                (unsigned long long)flood.answered[i],
                (unsigned long long)atomic_load(&flood.refused[i]), (long long)flood.blocked_ms[i],
                (long long)flood.ran_ms[i]);
        flood_sent += atomic_load(&flood.sent[i]);
        flood_answered += flood.answered[i];
    }
    fprintf(stderr,
            "backpressure_test: RssAnon %ld KiB before the flood, peak %ld KiB while it ran "
            "alone (allowance %ld KiB); batches=%lld commits=%lld\n",
            base, peak, allow, batches, commits);

    KC_CHECK(kc_fault_count(report, "slowsync: pid") == 1,
             "the slow-flush shim did not engage in the aggregator (%s)", report);
    KC_CHECK(flood.why[0] == '\0', "%s", flood.why);
    KC_CHECK(flood.bad_acks == 0, "%llu bad Acks to the flooders",
             (unsigned long long)flood.bad_acks);
    for (int i = 0; i < FLOODERS; i++) {
        KC_CHECK(atomic_load(&flood.refused[i]) > 0 && flood.answered[i] > 0 &&
                     flood.answered[i] <= atomic_load(&flood.sent[i]),
                 "flooder %d: refused %llu times, %llu of %llu answered: not pushed back, or "
                 "starved",
                 i + 1, (unsigned long long)atomic_load(&flood.refused[i]),
                 (unsigned long long)flood.answered[i],
                 (unsigned long long)atomic_load(&flood.sent[i]));
        KC_CHECK(flood.blocked_ms[i] * 100 >= (int64_t)MIN_BLOCKED_PCT * flood.ran_ms[i],
                 "flooder %d blocked only %lld of %lld ms: the aggregator did not push back", i + 1,
                 (long long)flood.blocked_ms[i], (long long)flood.ran_ms[i]);
    }
    /* every Batch read was counted: the fleet's (at least one per 250 events) and
     * the flood's answered ones */
    KC_CHECK(commits > 0 && batches >= (long long)(total / FLEET_BATCH + flood_answered),
             "counters do not account for the batches (batches=%lld commits=%lld, %llu fleet "
             "events, %llu flood Batches answered)",
             batches, commits, (unsigned long long)total, (unsigned long long)flood_answered);
    kc_oracle_result_t res;
    kc_oracle_scan(store, fleet.src, PRODUCERS, &res);
    kc_oracle_summary(lng ? "7-backpressure-long" : "7-backpressure", &res);
    kc_oracle_assert(store, fleet.src, PRODUCERS, true, &fleet.sums, "at the end", &res);
    kc_harness_pass();
    printf("backpressure_test: ok (%llu events from %d producers, %llu flood Batches pushed "
           "back, memory within %ld KiB)\n",
           (unsigned long long)total, PRODUCERS, (unsigned long long)flood_sent, allow);
    return 0;
}
