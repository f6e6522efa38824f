/* transport.c - bench-transport: the ceiling of the wire. The same Batch bytes
 * that libkcingest sends, through bare ZeroMQ PUSH/PULL over loopback TCP,
 * with no processing at either end.
 *
 * DESIGN
 * The parent binds a PULL socket on tcp://127.0.0.1:* and encodes, for each of
 * N producers, the Batch messages of its share of M events exactly as
 * libkcingest does (kc_encode_event per event, then a kcpipe.v1.Batch with
 * producer id, epoch, spool_last_seq; the province-office event stream of
 * bench-ingest); a producer holds at most 64 distinct batches and sends them
 * round robin (the bytes per message stay realistic; nothing reads them).
 * N producer processes (forked after the encoding, each with its own ZeroMQ
 * context like the ingest producers) connect PUSH sockets and start together
 * on one "go"; the parent receives until it has every message.
 *   events_per_s  events in the messages received / (last receive - go)
 *   mb_per_s      message bytes received / the same time (MB = 10^6 bytes)
 * Checked: the number of messages and their total bytes equal what was
 * encoded. No acknowledgements, no fsync, no decoding: the ratio
 * ingest/transport (bench/all) says how much of the ceiling kcpipe reaches.
 * Human table first, then one JSON object as the last line.
 */
#include "bench_util.h"
#include "kc_encode.h"
#include "kc_event.h"
#include "kc_time.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define MAX_DISTINCT 64 /* distinct batches encoded per producer */

typedef struct {
    int producers;
    uint64_t events;
    size_t batch;
} opts_t;

typedef struct {
    uint8_t *data[MAX_DISTINCT];
    size_t len[MAX_DISTINCT];
    size_t evs[MAX_DISTINCT]; /* events in each */
    int distinct;
    uint64_t msgs;  /* messages this producer sends */
    uint64_t bytes; /* their total bytes */
} prod_batches_t;

typedef struct {
    const opts_t *o;
    prod_batches_t pb[BU_MAX_PRODUCERS];
    char endpoint[256];
} run_t;

static void s_usage(FILE *f)
{
    fprintf(f, "Usage: bench-transport [options]\n"
               "The ceiling: the same Batch bytes as libkcingest's through bare ZeroMQ\n"
               "PUSH/PULL over loopback TCP (N producer processes -> one receiver), no\n"
               "processing. Prints a table and, as the last line, one JSON object.\n\n"
               "  -p, --producers N   producer processes (default 4)\n"
               "  -n, --events M      events in all (default 10000000)\n"
               "  -b, --batch N       events per Batch message (default 1000)\n"
               "  -h, --help          this text\n");
}

/* Encode the Batch with events [from, from + k) of producer idx (k <= batch). */
static void s_encode(int idx, kc_gen_t *g, uint64_t from, size_t k, uint64_t n, const char *prov,
                     uint8_t **data, size_t *len)
{
    char id[32];
    snprintf(id, sizeof id, "bench-%02d", idx);
    kc_buf_t *bufs = calloc(k, sizeof *bufs);
    ProtobufCBinaryData *bev = calloc(k, sizeof *bev);
    int64_t sums[KC_METRIC_COUNT] = {0};
    if (!bufs || !bev)
        bu_die("out of memory");
    for (size_t j = 0; j < k; j++) {
        kc_gen_row_t r;
        kc_event_t ev;
        bu_next_event(g, &r, from + j, n, prov, &ev, sums);
        if (kc_encode_event(&ev, id, from + j + 1, &bufs[j]) != 0)
            bu_die("cannot encode event %" PRIu64, from + j);
        bev[j].data = bufs[j].data;
        bev[j].len = bufs[j].len;
    }
    kc_pb_batch_t b = KCPIPE__V1__BATCH__INIT;
    b.producer_id = id;
    b.has_producer_epoch = 1;
    b.producer_epoch = 1;
    b.has_spool_last_seq = 1;
    b.spool_last_seq = from + k;
    b.n_events = k;
    b.events = bev;
    *len = kcpipe__v1__batch__get_packed_size(&b);
    if (!(*data = malloc(*len)))
        bu_die("out of memory");
    kcpipe__v1__batch__pack(&b, *data);
    for (size_t j = 0; j < k; j++)
        free(bufs[j].data);
    free(bufs);
    free(bev);
}

/* What producer idx sends for n events: messages, bytes, distinct batches. */
static void s_prepare(int idx, uint64_t n, size_t batch, prod_batches_t *pb)
{
    char id[32], prov[4];
    snprintf(id, sizeof id, "bench-%02d", idx);
    bu_office_province(idx, prov);
    kc_gen_t g;
    kc_gen_init(&g, id, 1000 + (uint64_t)idx);
    pb->msgs = (n + batch - 1) / batch;
    uint64_t full = n / batch, rest = n % batch;
    pb->distinct = 0;
    for (uint64_t m = 0; m < full && m < MAX_DISTINCT - 1; m++) {
        s_encode(idx, &g, m * batch, batch, n, prov, &pb->data[m], &pb->len[m]);
        pb->evs[m] = batch;
        pb->distinct++;
    }
    pb->bytes = 0;
    for (uint64_t m = 0; m < full; m++)
        pb->bytes += pb->len[m % (uint64_t)pb->distinct];
    if (rest) { /* the partial last batch, kept in the last slot */
        int s = pb->distinct;
        s_encode(idx, &g, full * batch, rest, n, prov, &pb->data[s], &pb->len[s]);
        pb->evs[s] = rest;
        pb->bytes += pb->len[s];
    }
}

static int s_producer(int idx, uint64_t n, void *ctx)
{
    (void)n;
    run_t *run = ctx;
    prod_batches_t *pb = &run->pb[idx];
    void *zctx = zmq_ctx_new();
    void *s = zmq_socket(zctx, ZMQ_PUSH);
    int linger = -1;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_connect(s, run->endpoint) != 0)
        return 2;
    bu_ready_go();
    uint64_t full = pb->msgs - (pb->evs[pb->distinct] ? 1 : 0);
    for (uint64_t m = 0; m < pb->msgs; m++) {
        int slot = m < full ? (int)(m % (uint64_t)pb->distinct) : pb->distinct;
        if (zmq_send(s, pb->data[slot], pb->len[slot], 0) < 0)
            return 2;
    }
    zmq_close(s); /* linger -1: everything is delivered before the context ends */
    zmq_ctx_term(zctx);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option lopts[] = {{"producers", required_argument, 0, 'p'},
                                          {"events", required_argument, 0, 'n'},
                                          {"batch", required_argument, 0, 'b'},
                                          {"help", no_argument, 0, 'h'},
                                          {0, 0, 0, 0}};
    bu_init("bench-transport");
    opts_t o = {.producers = 4, .events = 10000000, .batch = 1000};
    int c;
    while ((c = getopt_long(argc, argv, "p:n:b:h", lopts, NULL)) != -1) {
        switch (c) {
        case 'p': o.producers = (int)bu_num("--producers", optarg, 1); break;
        case 'n': o.events = (uint64_t)bu_num("--events", optarg, 1); break;
        case 'b': o.batch = (size_t)bu_num("--batch", optarg, 1); break;
        case 'h': s_usage(stdout); return 0;
        default: fprintf(stderr, "Try --help.\n"); return 64;
        }
    }
    if (optind < argc || o.producers > BU_MAX_PRODUCERS || o.events < (uint64_t)o.producers) {
        fprintf(stderr, "bench-transport: bad arguments\nTry --help.\n");
        return 64;
    }
    static run_t run;
    run.o = &o;
    void *zctx = zmq_ctx_new();
    void *pull = zmq_socket(zctx, ZMQ_PULL);
    if (zmq_bind(pull, "tcp://127.0.0.1:*") != 0)
        bu_die("bind: %s", zmq_strerror(zmq_errno()));
    size_t elen = sizeof run.endpoint;
    zmq_getsockopt(pull, ZMQ_LAST_ENDPOINT, run.endpoint, &elen);
    uint64_t per = o.events / (uint64_t)o.producers, extra = o.events % (uint64_t)o.producers;
    uint64_t want_msgs = 0, want_bytes = 0;
    for (int i = 0; i < o.producers; i++) {
        s_prepare(i, per + ((uint64_t)i < extra ? 1 : 0), o.batch, &run.pb[i]);
        want_msgs += run.pb[i].msgs;
        want_bytes += run.pb[i].bytes;
    }
    bu_fork_producers(o.producers, o.events, s_producer, &run);
    int64_t t0 = kc_time_mono_ns(), t1 = t0;
    uint64_t msgs = 0, bytes = 0;
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    int timeout = 60000;
    zmq_setsockopt(pull, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    while (msgs < want_msgs) {
        int r = zmq_msg_recv(&msg, pull, 0);
        if (r < 0)
            bu_die("receive: %s (%" PRIu64 " of %" PRIu64 " messages)", zmq_strerror(zmq_errno()),
                   msgs, want_msgs);
        msgs++;
        bytes += (uint64_t)r;
    }
    t1 = kc_time_mono_ns();
    zmq_msg_close(&msg);
    if (!bu_wait_producers())
        bu_die("a producer failed");
    zmq_close(pull);
    zmq_ctx_term(zctx);
    if (bytes != want_bytes)
        bu_die("received %" PRIu64 " bytes, sent %" PRIu64, bytes, want_bytes);
    double secs = (double)(t1 - t0) / 1e9;
    double eps = (double)o.events / secs, mbps = (double)bytes / secs / 1e6;
    printf("bench-transport: %d producers -> 1 PULL, loopback TCP, %" PRIu64 " events in %" PRIu64
           " Batch messages of %zu\n",
           o.producers, o.events, msgs, o.batch);
    printf("  %-28s %14.3f\n", "wall time (s)", secs);
    printf("  %-28s %14.0f\n", "events/s", eps);
    printf("  %-28s %14.1f\n", "MB/s", mbps);
    printf("  %-28s %14.1f\n", "bytes/event on the wire", (double)bytes / (double)o.events);
    printf("  %-28s %14s\n", "messages and bytes checked", "yes");
    printf("{\"events_per_s\": %.0f, \"mb_per_s\": %.1f, \"wire_bytes_per_event\": %.1f, "
           "\"events\": %" PRIu64 ", \"messages\": %" PRIu64 ", \"producers\": %d, "
           "\"batch\": %zu, \"seconds\": %.3f, \"verified\": true}\n",
           eps, mbps, (double)bytes / (double)o.events, o.events, msgs, o.producers, o.batch, secs);
    return 0;
}
