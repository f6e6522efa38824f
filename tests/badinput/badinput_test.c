/* badinput_test.c - the bad-input table (issue 4): malformed wire frames and
 * CSV files against a real kc-aggregator on 127.0.0.1, each mapped to its
 * expected outcome; afterwards the aggregator still answers and the totals
 * are exactly the sum of the good events sent.
 *
 * DESIGN
 * Wire rows talk to the aggregator over a DEALER socket of our own. Each row
 * uses its own producer id (sequences from 1), may send preparatory batches
 * (their Acks are read but not compared), then the frame under test; its Ack
 * is rendered as one canonical line
 *   "<status> acked=<from>-<to>|none committed=<n>|none resend=<n>|none
 *    results=[<seq|?>:<reason>,...]"
 * and compared with the row's expectation. A message of several frames is
 * answered with one Ack (STATUS_UNDECODABLE, issue 12), and a good probe batch
 * sent after it on the same socket must be answered next, its Batches never
 * processed. The row whose frame gets no Ack by design (a frame over
 * ZMQ_MAXMSGSIZE) is checked without waiting for a time: after the socket
 * monitor reported the disconnect, a probe follows on the same socket and the
 * first Ack to arrive must be the probe's.
 * CSV rows run kc-send on one file each and compare its exit status, summary
 * and the FILE:LINE / rejected lines it prints.
 * Every Ack must hold valid UTF-8 only (Ack.error, Result.text and
 * Result.event_id), whatever the row sent.
 * Every accepted event lands in one totals cell (79, 2021-03, KC3b, actual,
 * other) with amount 1000 (one row: 10^15, the ceiling) and facilities 1,
 * except the overflow row's, which has its own cell (2021-04, filled to
 * INT64_MAX by 9,224 events at the ceiling: no single event may carry more
 * than 10^15), and the issue-12 overflow pair's (2024, province 01); the final
 * check scans every cell of the store and runs kc-query on the pair's year.
 */
#include "../aggregator/agg_test_util.h"
#include "../common/wire_test_util.h"
#include "harness.h"

#include "kc_err.h"
#include "kc_event.h"
#include "kc_store.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define S_WAIT_MS 60000
#define S_AMOUNT  1000
#define S_HUGE_N  100000

static kc_agg_t s_agg;
static void *s_ctx, *s_sock;
static uint64_t s_good_events; /* accepted into the main cell */
static int64_t s_good_amount;
static int s_rows;

/* ---------------------------------------------------------------- bytes */

typedef struct {
    uint8_t *data;
    size_t len, cap;
} s_buf_t;

static void s_put(s_buf_t *b, const void *d, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        b->data = realloc(b->data, cap);
        assert_non_null(b->data);
        b->cap = cap;
    }
    if (n)
        memcpy(b->data + b->len, d, n);
    b->len += n;
}

static void s_varint(s_buf_t *b, uint64_t v)
{
    uint8_t t[T_WIRE_VARINT_MAX];
    s_put(b, t, t_wire_varint(t, v));
}

/* A length-delimited field. */
static void s_field(s_buf_t *b, unsigned num, const void *d, size_t n)
{
    uint8_t h[2 * T_WIRE_VARINT_MAX];
    s_put(b, h, t_wire_ld_head(h, num, n));
    s_put(b, d, n);
}

/* ---------------------------------------------------------------- events */

typedef struct {
    kc_pb_event_t ev;
    Kcpipe__V1__Metrics m;
} s_ev_t;

/* A valid machinery event of province 79, 2021-03: amount 1000, facilities 1. */
static void s_ev(s_ev_t *e, const char *producer, uint64_t seq, const char *id)
{
    kcpipe__v1__event__init(&e->ev);
    kcpipe__v1__metrics__init(&e->m);
    e->ev.event_id = (char *)id;
    e->ev.province = "79";
    e->ev.has_year = e->ev.has_month = 1;
    e->ev.year = 2021;
    e->ev.month = 3;
    e->ev.activity = "KC3b";
    e->ev.metrics = &e->m;
    kc_pb_metric_set(&e->m, KC_M_AMOUNT_VND, S_AMOUNT);
    kc_pb_metric_set(&e->m, KC_M_FACILITIES, 1);
    e->ev.producer_id = (char *)producer;
    e->ev.has_seq = seq != 0;
    e->ev.seq = seq;
}

static s_buf_t s_ev_pack(const s_ev_t *e)
{
    s_buf_t b = {0};
    size_t n = kcpipe__v1__event__get_packed_size(&e->ev);
    s_put(&b, NULL, 0);
    b.data = realloc(b.data, n ? n : 1);
    b.cap = n ? n : 1;
    b.len = kcpipe__v1__event__pack(&e->ev, b.data);
    return b;
}

/* A batch being built: producer id, epoch and the packed events. */
typedef struct {
    const char *producer;
    uint64_t epoch; /* 0: absent */
    s_buf_t *ev;
    size_t n, cap;
} s_batch_t;

static void s_batch_add(s_batch_t *b, s_buf_t ev)
{
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 16;
        b->ev = realloc(b->ev, b->cap * sizeof *b->ev);
        assert_non_null(b->ev);
    }
    b->ev[b->n++] = ev;
}

static void s_batch_add_ev(s_batch_t *b, const s_ev_t *e)
{
    s_batch_add(b, s_ev_pack(e));
}

/* Pack (and free the events of) the batch. */
static s_buf_t s_batch_pack(s_batch_t *b)
{
    kc_pb_batch_t pb = KCPIPE__V1__BATCH__INIT;
    ProtobufCBinaryData *bd = calloc(b->n ? b->n : 1, sizeof *bd);
    assert_non_null(bd);
    for (size_t i = 0; i < b->n; i++)
        bd[i] = (ProtobufCBinaryData){b->ev[i].len, b->ev[i].data};
    pb.producer_id = (char *)b->producer;
    pb.has_producer_epoch = b->epoch != 0;
    pb.producer_epoch = b->epoch;
    pb.n_events = b->n;
    pb.events = bd;
    s_buf_t out = {0};
    size_t n = kcpipe__v1__batch__get_packed_size(&pb);
    out.data = malloc(n ? n : 1);
    assert_non_null(out.data);
    out.cap = n ? n : 1;
    out.len = kcpipe__v1__batch__pack(&pb, out.data);
    free(bd);
    for (size_t i = 0; i < b->n; i++)
        free(b->ev[i].data);
    free(b->ev);
    memset(b, 0, sizeof *b);
    return out;
}

/* A batch of `n` good events of producer p from seq `from`, ids "<p>-<seq>". */
static s_buf_t s_good_batch(const char *p, uint64_t from, size_t n)
{
    s_batch_t b = {.producer = p};
    for (size_t i = 0; i < n; i++) {
        char id[96];
        snprintf(id, sizeof id, "%s-%" PRIu64, p, from + i);
        s_ev_t e;
        s_ev(&e, p, from + i, id);
        s_batch_add_ev(&b, &e);
    }
    return s_batch_pack(&b);
}

/* ---------------------------------------------------------------- wire */

static void s_send(const s_buf_t *b, int more)
{
    int rc = zmq_send(s_sock, b->len ? (const void *)b->data : (const void *)"", b->len,
                      more ? ZMQ_SNDMORE : 0);
    assert_int_equal(rc, (int)b->len);
}

/* Receive one Ack (skipping a REQ-style empty delimiter); NULL-safe render. */
static kc_pb_ack_t *s_recv_ack(bool *delim)
{
    zmq_pollitem_t it = {s_sock, 0, ZMQ_POLLIN, 0};
    int64_t end = kc_harness_now_ms() + S_WAIT_MS;
    while (!(it.revents & ZMQ_POLLIN)) {
        int64_t left = end - kc_harness_now_ms();
        assert_true(left > 0); /* no Ack within the deadline */
        assert_true(zmq_poll(&it, 1, (long)left) >= 0 || errno == EINTR);
    }
    zmq_msg_t m;
    zmq_msg_init(&m);
    assert_true(zmq_msg_recv(&m, s_sock, 0) >= 0);
    if (delim)
        *delim = false;
    if (zmq_msg_size(&m) == 0 && zmq_msg_more(&m)) {
        if (delim)
            *delim = true;
        zmq_msg_close(&m);
        zmq_msg_init(&m);
        assert_true(zmq_msg_recv(&m, s_sock, 0) >= 0);
    }
    kc_pb_ack_t *a = kcpipe__v1__ack__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
    zmq_msg_close(&m);
    assert_non_null(a);
    /* whatever was sent, the Ack's texts are valid UTF-8 */
    if (!t_ack_utf8(a))
        fail_msg("the Ack (status %d, %zu results) holds invalid UTF-8", (int)a->status,
                 a->n_results);
    return a;
}

static const char *s_status_name(int st)
{
    switch (st) {
    case KCPIPE__V1__STATUS__STATUS_OK: return "ok";
    case KCPIPE__V1__STATUS__STATUS_UNDECODABLE: return "undecodable";
    case KCPIPE__V1__STATUS__STATUS_BAD_PRODUCER: return "bad_producer";
    case KCPIPE__V1__STATUS__STATUS_UNAVAILABLE: return "unavailable";
    case KCPIPE__V1__STATUS__STATUS_FENCED: return "fenced";
    default: return "?";
    }
}

static void s_render(const kc_pb_ack_t *a, char *out, size_t cap)
{
    size_t n = 0;
    n +=
        (size_t)snprintf(out + n, cap - n, "%s", s_status_name(a->has_status ? (int)a->status : 0));
    if (a->has_acked_from)
        n += (size_t)snprintf(out + n, cap - n, " acked=%" PRIu64 "-%" PRIu64, a->acked_from,
                              a->acked_to);
    else
        n += (size_t)snprintf(out + n, cap - n, " acked=none");
    if (a->has_committed_seq)
        n += (size_t)snprintf(out + n, cap - n, " committed=%" PRIu64, a->committed_seq);
    else
        n += (size_t)snprintf(out + n, cap - n, " committed=none");
    if (a->has_resend_from)
        n += (size_t)snprintf(out + n, cap - n, " resend=%" PRIu64, a->resend_from);
    else
        n += (size_t)snprintf(out + n, cap - n, " resend=none");
    n += (size_t)snprintf(out + n, cap - n, " results=[");
    for (size_t i = 0; i < a->n_results && n < cap; i++) {
        const kc_pb_result_t *r = a->results[i];
        if (r->has_seq)
            n += (size_t)snprintf(out + n, cap - n, "%s%" PRIu64 ":%s", i ? "," : "", r->seq,
                                  kc_reason_name(r->reason));
        else
            n += (size_t)snprintf(out + n, cap - n, "%s?:%s", i ? "," : "",
                                  kc_reason_name(r->reason));
    }
    if (n < cap)
        snprintf(out + n, cap - n, "]");
}

/* Send frames (the last one is the row's), read one Ack per preparatory
 * frame, and return the rendered Ack of the last. */
static void s_exchange(s_buf_t *pre, size_t npre, s_buf_t *last, char *out, size_t cap)
{
    for (size_t i = 0; i < npre; i++) {
        s_send(&pre[i], 0);
        kc_pb_ack_t *a = s_recv_ack(NULL);
        kcpipe__v1__ack__free_unpacked(a, NULL);
        free(pre[i].data);
    }
    s_send(last, 0);
    kc_pb_ack_t *a = s_recv_ack(NULL);
    s_render(a, out, cap);
    kcpipe__v1__ack__free_unpacked(a, NULL);
    free(last->data);
}

/* One row of the wire table. */
typedef struct {
    const char *name;
    /* build the frames: up to 8 preparatory batches, then the one under test */
    void (*build)(const char *producer, s_buf_t *pre, size_t *npre, s_buf_t *last);
    const char *expect;  /* the rendered Ack */
    uint64_t good;       /* events it adds to the main cell */
    int64_t good_amount; /* amount it adds to the main cell */
} s_wire_row_t;

#define EV(e, p, seq, id)                                                                          \
    s_ev_t e;                                                                                      \
    s_ev(&e, p, seq, id)

static void b_empty(const char *p, s_buf_t *pre, size_t *npre, s_buf_t *last)
{
    (void)p;
    (void)pre;
    (void)npre;
    *last = (s_buf_t){0};
}

static void b_truncated(const char *p, s_buf_t *pre, size_t *npre, s_buf_t *last)
{
    (void)pre;
    (void)npre;
    *last = s_good_batch(p, 1, 3);
    last->len = last->len / 2;
}

static void b_garbage(const char *p, s_buf_t *pre, size_t *npre, s_buf_t *last)
{
    (void)p;
    (void)pre;
    (void)npre;
    *last = (s_buf_t){0};
    uint8_t g[64];
    memset(g, 0xff, sizeof g);
    s_put(last, g, sizeof g);
}

static void b_nested_unknown(const char *p, s_buf_t *pre, size_t *npre, s_buf_t *last)
{
    (void)pre;
    (void)npre;
    /* field 9 (unknown) holding field 9 holding ... 2000 deep, then a varint */
    s_buf_t in = {0};
    s_varint(&in, 9u << 3 | 0);
    s_varint(&in, 1);
    for (int d = 0; d < 2000; d++) {
        s_buf_t out = {0};
        s_field(&out, 9, in.data, in.len);
        free(in.data);
        in = out;
    }
    *last = (s_buf_t){0};
    s_field(last, 1, p, strlen(p));
    s_put(last, in.data, in.len);
    free(in.data);
}

static void b_nested_groups(const char *p, s_buf_t *pre, size_t *npre, s_buf_t *last)
{
    (void)pre;
    (void)npre;
    *last = (s_buf_t){0};
    s_field(last, 1, p, strlen(p));
    for (int d = 0; d < 100000; d++)
        s_varint(last, 9u << 3 | 3); /* start group, never ended */
}

static void b_wire_producer_varint(const char *p, s_buf_t *pre, size_t *npre, s_buf_t *last)
{
    (void)p;
    (void)pre;
    (void)npre;
    *last = (s_buf_t){0};
    s_varint(last, 1u << 3 | 0); /* producer_id as a varint */
    s_varint(last, 42);
}

static void b_wire_events_varint(const char *p, s_buf_t *pre, size_t *npre, s_buf_t *last)
{
    (void)pre;
    (void)npre;
    *last = (s_buf_t){0};
    s_field(last, 1, p, strlen(p));
    s_varint(last, 2u << 3 | 0); /* events as a varint */
    s_varint(last, 7);
}

static void b_wire_seq_bytes(const char *p, s_buf_t *pre, size_t *npre, s_buf_t *last)
{
    (void)pre;
    (void)npre;
    s_ev_t e;
    s_ev(&e, p, 0, "W-1");
    s_buf_t ev = s_ev_pack(&e);
    s_field(&ev, 15, "\x01", 1); /* seq as length-delimited */
    s_batch_t b = {.producer = p};
    s_batch_add(&b, ev);
    *last = s_batch_pack(&b);
}

static void b_unknown_fields(const char *p, s_buf_t *pre, size_t *npre, s_buf_t *last)
{
    (void)pre;
    (void)npre;
    char id[80];
    snprintf(id, sizeof id, "%s-1", p);
    EV(e, p, 1, id);
    s_buf_t ev = s_ev_pack(&e);
    s_varint(&ev, 20u << 3 | 0); /* unknown varint field 20 */
    s_varint(&ev, 123456);
    s_field(&ev, 99, "future", 6); /* unknown bytes field 99 */
    s_varint(&ev, 1000u << 3 | 5); /* unknown fixed32 field 1000 */
    s_put(&ev, "\1\2\3\4", 4);
    s_batch_t b = {.producer = p};
    s_batch_add(&b, ev);
    *last = s_batch_pack(&b);
    s_field(last, 77, "batch-level unknown", 19);
}

static void b_huge_repeated(const char *p, s_buf_t *pre, size_t *npre, s_buf_t *last)
{
    (void)pre;
    (void)npre;
    *last = (s_buf_t){0};
    s_field(last, 1, p, strlen(p));
    for (int i = 0; i < 2000000; i++)
        s_field(last, 2, "", 0); /* 2,000,000 empty events: 4 MB on the wire */
}

static void b_many_tiny(const char *p, s_buf_t *pre, size_t *npre, s_buf_t *last)
{
    (void)pre;
    (void)npre;
    *last = s_good_batch(p, 1, S_HUGE_N);
}

static void b_gap_inside(const char *p, s_buf_t *pre, size_t *npre, s_buf_t *last)
{
    (void)pre;
    (void)npre;
    s_batch_t b = {.producer = p};
    char id1[80], id3[80];
    snprintf(id1, sizeof id1, "%s-1", p);
    snprintf(id3, sizeof id3, "%s-3", p);
    EV(e1, p, 1, id1);
    EV(e3, p, 3, id3);
    s_batch_add_ev(&b, &e1);
    s_batch_add_ev(&b, &e3);
    *last = s_batch_pack(&b);
}

static void b_gap_start(const char *p, s_buf_t *pre, size_t *npre, s_buf_t *last)
{
    (void)pre;
    (void)npre;
    *last = s_good_batch(p, 5, 2);
}

static void b_resend(const char *p, s_buf_t *pre, size_t *npre, s_buf_t *last)
{
    pre[(*npre)++] = s_good_batch(p, 1, 2);
    *last = s_good_batch(p, 1, 2);
}

static void b_no_producer(const char *p, s_buf_t *pre, size_t *npre, s_buf_t *last)
{
    (void)pre;
    (void)npre;
    *last = s_good_batch(p, 1, 1);
    /* the same events without producer_id: rebuild */
    free(last->data);
    s_batch_t b = {.producer = NULL};
    EV(e, p, 1, "NP-1");
    s_batch_add_ev(&b, &e);
    *last = s_batch_pack(&b);
}

static void b_long_producer(const char *p, s_buf_t *pre, size_t *npre, s_buf_t *last)
{
    (void)p;
    (void)pre;
    (void)npre;
    char id[KC_PRODUCER_ID_MAX + 2];
    memset(id, 'p', sizeof id - 1);
    id[sizeof id - 1] = '\0';
    *last = s_good_batch(id, 1, 1);
}

static void b_fenced(const char *p, s_buf_t *pre, size_t *npre, s_buf_t *last)
{
    s_batch_t b = {.producer = p, .epoch = 5};
    char id[80];
    snprintf(id, sizeof id, "%s-1", p);
    EV(e, p, 1, id);
    s_batch_add_ev(&b, &e);
    pre[(*npre)++] = s_batch_pack(&b);
    b = (s_batch_t){.producer = p, .epoch = 4};
    snprintf(id, sizeof id, "%s-old", p);
    EV(o, p, 1, id);
    s_batch_add_ev(&b, &o);
    *last = s_batch_pack(&b);
}

/* One event that breaks one rule, as the batch's only event (seq 1). */
static void s_one(const char *p, s_buf_t *last, void (*mutate)(s_ev_t *e))
{
    char id[80];
    snprintf(id, sizeof id, "%s-1", p);
    EV(e, p, 1, id);
    mutate(&e);
    s_batch_t b = {.producer = p};
    s_batch_add_ev(&b, &e);
    *last = s_batch_pack(&b);
}

#define ONE(fn, body)                                                                              \
    static void m_##fn(s_ev_t *e)                                                                  \
    {                                                                                              \
        body;                                                                                      \
    }                                                                                              \
    static void b_##fn(const char *p, s_buf_t *pre, size_t *npre, s_buf_t *last)                   \
    {                                                                                              \
        (void)pre;                                                                                 \
        (void)npre;                                                                                \
        s_one(p, last, m_##fn);                                                                    \
    }

static char s_long[2048];
ONE(missing_event_id, e->ev.event_id = NULL)
ONE(event_id_too_long, e->ev.event_id = s_long + sizeof s_long - 66)
ONE(unknown_province, e->ev.province = "99")
ONE(unknown_activity, e->ev.activity = "KC99")
ONE(metric_not_allowed, kc_pb_metric_set(&e->m, KC_M_DELEGATES, 3))
ONE(negative_value, kc_pb_metric_set(&e->m, KC_M_AMOUNT_VND, -1))
ONE(employed_exceeds_persons, e->ev.activity = "KC1"; kcpipe__v1__metrics__init(&e->m);
    kc_pb_metric_set(&e->m, KC_M_PERSONS, 3); kc_pb_metric_set(&e->m, KC_M_PERSONS_EMPLOYED, 4))
ONE(bad_month, e->ev.month = 13)
ONE(bad_year, e->ev.year = 1999)
ONE(note_too_long, e->ev.note = s_long + sizeof s_long - 1026)
ONE(bad_kind, e->ev.has_kind = 1; e->ev.kind = (Kcpipe__V1__Kind)9)
ONE(bad_fund, e->ev.has_fund = 1; e->ev.fund = (Kcpipe__V1__Fund)9)
ONE(no_metrics, kcpipe__v1__metrics__init(&e->m))
ONE(producer_mismatch, e->ev.producer_id = "someone-else")
ONE(unsupported_op, e->ev.has_op = 1; e->ev.op = (Kcpipe__V1__Op)7)
ONE(corrects_on_record, e->ev.corrects = "X")
ONE(missing_seq, e->ev.has_seq = 0)
ONE(missing_target, e->ev.has_op = 1; e->ev.op = KCPIPE__V1__OP__OP_CORRECTION)
ONE(unknown_target, e->ev.has_op = 1; e->ev.op = KCPIPE__V1__OP__OP_CORRECTION;
    e->ev.corrects = "no-such-event")
ONE(value_too_large, kc_pb_metric_set(&e->m, KC_M_AMOUNT_VND, 1000000000000001))
ONE(value_too_large_count, kc_pb_metric_set(&e->m, KC_M_FACILITIES, 1000000001))
ONE(value_at_ceiling, kc_pb_metric_set(&e->m, KC_M_AMOUNT_VND, 1000000000000000))
ONE(id_not_utf8, e->ev.event_id = "EV-\xff\xfe")
ONE(province_control, e->ev.province = "7\0339") /* 7, ESC, 9 */
ONE(activity_not_utf8, e->ev.activity = "KC3\xe2\x82")
ONE(note_not_utf8, e->ev.note = "ghi ch\xfa")
ONE(note_control, e->ev.note = "bell \x07")
ONE(note_tab_crlf, e->ev.note = "d\xc3\xb2ng 1\tc\xe1\xbb\x99t 2\r\nd\xc3\xb2ng 2\n")
ONE(corrects_control, e->ev.has_op = 1; e->ev.op = KCPIPE__V1__OP__OP_CORRECTION;
    e->ev.corrects = "A\xc2\x85")
ONE(event_producer_not_utf8, e->ev.producer_id = "bad\xff\xfeid")

/* One event (seq 1) whose string field `num` is given on the wire as `v` with
 * a NUL inside: protobuf-c's char * ends at the NUL, the aggregator reads the
 * bytes. */
static void s_one_nul(const char *p, s_buf_t *last, unsigned num, const char *v, size_t n)
{
    char id[80];
    snprintf(id, sizeof id, "%s-1", p);
    EV(e, p, 1, id);
    if (num == 1)
        e.ev.event_id = NULL;
    else if (num == 9)
        e.ev.note = NULL;
    s_buf_t ev = s_ev_pack(&e);
    s_field(&ev, num, v, n);
    s_batch_t b = {.producer = p};
    s_batch_add(&b, ev);
    *last = s_batch_pack(&b);
}

static void b_id_nul(const char *p, s_buf_t *pre, size_t *npre, s_buf_t *last)
{
    (void)pre;
    (void)npre;
    s_one_nul(p, last, 1, "EV-1\0hidden", 11);
}

static void b_note_nul(const char *p, s_buf_t *pre, size_t *npre, s_buf_t *last)
{
    (void)pre;
    (void)npre;
    s_one_nul(p, last, 9, "note\0hidden", 11);
}

/* A good batch whose producer_id field holds `v` on the wire. */
static void s_producer_raw(const char *p, s_buf_t *last, const char *v, size_t n)
{
    s_batch_t b = {.producer = NULL};
    char id[80];
    snprintf(id, sizeof id, "%s-1", p);
    EV(e, v, 1, id); /* the events carry what protobuf-c shows of it */
    s_batch_add_ev(&b, &e);
    *last = s_batch_pack(&b);
    s_field(last, 1, v, n);
}

static void b_producer_not_utf8(const char *p, s_buf_t *pre, size_t *npre, s_buf_t *last)
{
    (void)pre;
    (void)npre;
    s_producer_raw(p, last, "bad\xff\xfeid", 7);
}

static void b_producer_nul(const char *p, s_buf_t *pre, size_t *npre, s_buf_t *last)
{
    (void)pre;
    (void)npre;
    s_producer_raw(p, last, "bad\0id", 6);
}

/* The overflow pair of issue 12, in 2024: province 79 with amount 2^63 - 1
 * (value_too_large now), then province 01 with 5 (accepted). */
static void b_overflow_pair(const char *p, s_buf_t *pre, size_t *npre, s_buf_t *last)
{
    (void)pre;
    (void)npre;
    s_batch_t b = {.producer = p};
    char id1[80], id2[80];
    snprintf(id1, sizeof id1, "%s-1", p);
    snprintf(id2, sizeof id2, "%s-2", p);
    EV(e1, p, 1, id1);
    e1.ev.year = 2024;
    kc_pb_metric_set(&e1.m, KC_M_AMOUNT_VND, INT64_MAX);
    s_batch_add_ev(&b, &e1);
    EV(e2, p, 2, id2);
    e2.ev.year = 2024;
    e2.ev.province = "01";
    kc_pb_metric_set(&e2.m, KC_M_AMOUNT_VND, 5);
    s_batch_add_ev(&b, &e2);
    *last = s_batch_pack(&b);
}

/* seq 1 = a good record <p>-A (500), then events from seq 2 built by `more`. */
static void s_chain(const char *p, s_buf_t *last, void (*more)(const char *p, s_batch_t *b))
{
    char id[80];
    snprintf(id, sizeof id, "%s-A", p);
    EV(a, p, 1, id);
    kc_pb_metric_set(&a.m, KC_M_AMOUNT_VND, 500);
    s_batch_t b = {.producer = p};
    s_batch_add_ev(&b, &a);
    more(p, &b);
    *last = s_batch_pack(&b);
}

static void s_corr(s_batch_t *b, const char *p, uint64_t seq, const char *suffix,
                   const char *target_suffix, int op, int64_t amount, const char *province)
{
    char id[80], tg[80];
    snprintf(id, sizeof id, "%s-%s", p, suffix);
    snprintf(tg, sizeof tg, "%s-%s", p, target_suffix);
    EV(e, p, seq, id);
    e.ev.has_op = 1;
    e.ev.op = (Kcpipe__V1__Op)op;
    e.ev.corrects = tg;
    if (province)
        e.ev.province = (char *)province;
    if (op == KCPIPE__V1__OP__OP_RETRACTION) {
        e.ev.metrics = NULL;
        e.ev.has_year = e.ev.has_month = 0;
        e.ev.activity = NULL;
    } else {
        kc_pb_metric_set(&e.m, KC_M_AMOUNT_VND, amount);
    }
    s_batch_add_ev(b, &e);
}

static void c_duplicate(const char *p, s_batch_t *b)
{
    char id[80];
    snprintf(id, sizeof id, "%s-A", p);
    EV(e, p, 2, id);
    kc_pb_metric_set(&e.m, KC_M_AMOUNT_VND, 500);
    s_batch_add_ev(b, &e);
}
static void c_conflict(const char *p, s_batch_t *b)
{
    char id[80];
    snprintf(id, sizeof id, "%s-A", p);
    EV(e, p, 2, id); /* amount 1000, not 500 */
    s_batch_add_ev(b, &e);
}
static void c_superseded(const char *p, s_batch_t *b)
{
    s_corr(b, p, 2, "B", "A", KCPIPE__V1__OP__OP_CORRECTION, 1000, NULL);
    s_corr(b, p, 3, "C", "A", KCPIPE__V1__OP__OP_CORRECTION, 2000, NULL);
}
static void c_retracted(const char *p, s_batch_t *b)
{
    s_corr(b, p, 2, "R", "A", KCPIPE__V1__OP__OP_RETRACTION, 0, NULL);
    s_corr(b, p, 3, "C", "A", KCPIPE__V1__OP__OP_CORRECTION, 2000, NULL);
}
static void c_other_province(const char *p, s_batch_t *b)
{
    s_corr(b, p, 2, "B", "A", KCPIPE__V1__OP__OP_CORRECTION, 2000, "01");
}
static void c_overflow(const char *p, s_batch_t *b)
{
    (void)p;
    (void)b;
}

#define CHAIN(fn)                                                                                  \
    static void b_##fn(const char *p, s_buf_t *pre, size_t *npre, s_buf_t *last)                   \
    {                                                                                              \
        (void)pre;                                                                                 \
        (void)npre;                                                                                \
        s_chain(p, last, c_##fn);                                                                  \
    }
CHAIN(duplicate)
CHAIN(conflict)
CHAIN(superseded)
CHAIN(retracted)
CHAIN(other_province)

/* total_overflow: its own cell (2021-04) filled to INT64_MAX = 9223 x 10^15 +
 * 372036854775807 by 9,224 events at the per-event ceiling (10^15; no single
 * event may carry more) in one preparatory batch, then 1 more there (seq 9225). */
#define S_FILL_N 9224
static void b_overflow(const char *p, s_buf_t *pre, size_t *npre, s_buf_t *last)
{
    (void)c_overflow;
    const int64_t max = kc_ref_metric(KC_M_AMOUNT_VND)->max;
    assert_true(INT64_MAX / max + 1 == S_FILL_N);
    s_batch_t b = {.producer = p};
    char id[80];
    for (uint64_t seq = 1; seq <= S_FILL_N; seq++) {
        snprintf(id, sizeof id, "%s-%" PRIu64, p, seq);
        EV(e, p, seq, id);
        e.ev.month = 4;
        kc_pb_metric_set(&e.m, KC_M_AMOUNT_VND,
                         seq < S_FILL_N ? max : INT64_MAX - (S_FILL_N - 1) * max);
        s_batch_add_ev(&b, &e);
    }
    pre[(*npre)++] = s_batch_pack(&b);
    b = (s_batch_t){.producer = p};
    snprintf(id, sizeof id, "%s-%d", p, S_FILL_N + 1);
    EV(e, p, S_FILL_N + 1, id);
    e.ev.month = 4;
    kc_pb_metric_set(&e.m, KC_M_AMOUNT_VND, 1);
    s_batch_add_ev(&b, &e);
    *last = s_batch_pack(&b);
}

static void b_undecodable_event(const char *p, s_buf_t *pre, size_t *npre, s_buf_t *last)
{
    (void)pre;
    (void)npre;
    s_batch_t b = {.producer = p};
    char id[80];
    snprintf(id, sizeof id, "%s-1", p);
    EV(e, p, 1, id);
    s_batch_add_ev(&b, &e);
    s_buf_t bad = {0};
    s_put(&bad,
          "\x0a\x7f"
          "abc",
          5); /* event_id claims 127 bytes */
    s_batch_add(&b, bad);
    *last = s_batch_pack(&b);
}

/* The expected Acks. "A" = one good record of 500 at seq 1 then the row's events. */
static const s_wire_row_t s_wire[] = {
    {"empty frame", b_empty, "bad_producer acked=none committed=none resend=none results=[]", 0, 0},
    {"truncated Batch", b_truncated, "undecodable acked=none committed=none resend=none results=[]",
     0, 0},
    {"64 bytes of 0xff", b_garbage, "undecodable acked=none committed=none resend=none results=[]",
     0, 0},
    {"unknown field nested 2000 deep (ignored)", b_nested_unknown,
     "ok acked=none committed=0 resend=none results=[]", 0, 0},
    {"100000 unterminated groups", b_nested_groups,
     "undecodable acked=none committed=none resend=none results=[]", 0, 0},
    {"wrong wire type: producer_id as varint", b_wire_producer_varint,
     "undecodable acked=none committed=none resend=none results=[]", 0, 0},
    {"wrong wire type: events as varint", b_wire_events_varint,
     "undecodable acked=none committed=none resend=none results=[]", 0, 0},
    {"wrong wire type: Event.seq as bytes", b_wire_seq_bytes,
     "ok acked=none committed=0 resend=none results=[?:undecodable]", 0, 0},
    {"unknown fields in Batch and Event (ignored)", b_unknown_fields,
     "ok acked=1-1 committed=1 resend=none results=[]", 1, S_AMOUNT},
    {"huge repeated field: 2,000,000 empty events (allocation budget)", b_huge_repeated,
     "undecodable acked=none committed=none resend=none results=[]", 0, 0},
    {"100,000 tiny events in one Batch", b_many_tiny,
     "ok acked=1-100000 committed=100000 resend=none results=[]", S_HUGE_N,
     (int64_t)S_HUGE_N *S_AMOUNT},
    {"undecodable event after a good one", b_undecodable_event,
     "ok acked=1-1 committed=1 resend=none results=[?:undecodable]", 1, S_AMOUNT},
    {"seqs 1, 3: gap inside the batch", b_gap_inside,
     "ok acked=1-1 committed=1 resend=2 results=[]", 1, S_AMOUNT},
    {"first seq 5: gap before the batch", b_gap_start,
     "ok acked=none committed=0 resend=1 results=[]", 0, 0},
    {"resend of an acknowledged batch", b_resend, "ok acked=1-2 committed=2 resend=none results=[]",
     2, 2 * S_AMOUNT},
    {"events but no producer_id", b_no_producer,
     "bad_producer acked=none committed=none resend=none results=[]", 0, 0},
    {"producer_id of 65 bytes", b_long_producer,
     "bad_producer acked=none committed=none resend=none results=[]", 0, 0},
    {"older spool epoch", b_fenced, "fenced acked=none committed=none resend=none results=[]", 1,
     S_AMOUNT},
    {"reason missing_event_id", b_missing_event_id,
     "ok acked=1-1 committed=1 resend=none results=[1:missing_event_id]", 0, 0},
    {"reason event_id_too_long", b_event_id_too_long,
     "ok acked=1-1 committed=1 resend=none results=[1:event_id_too_long]", 0, 0},
    {"reason unknown_province", b_unknown_province,
     "ok acked=1-1 committed=1 resend=none results=[1:unknown_province]", 0, 0},
    {"reason unknown_activity", b_unknown_activity,
     "ok acked=1-1 committed=1 resend=none results=[1:unknown_activity]", 0, 0},
    {"reason metric_not_allowed", b_metric_not_allowed,
     "ok acked=1-1 committed=1 resend=none results=[1:metric_not_allowed]", 0, 0},
    {"reason negative_value", b_negative_value,
     "ok acked=1-1 committed=1 resend=none results=[1:negative_value]", 0, 0},
    {"reason employed_exceeds_persons", b_employed_exceeds_persons,
     "ok acked=1-1 committed=1 resend=none results=[1:employed_exceeds_persons]", 0, 0},
    {"reason bad_month", b_bad_month, "ok acked=1-1 committed=1 resend=none results=[1:bad_month]",
     0, 0},
    {"reason bad_year", b_bad_year, "ok acked=1-1 committed=1 resend=none results=[1:bad_year]", 0,
     0},
    {"reason note_too_long", b_note_too_long,
     "ok acked=1-1 committed=1 resend=none results=[1:note_too_long]", 0, 0},
    {"reason bad_kind", b_bad_kind, "ok acked=1-1 committed=1 resend=none results=[1:bad_kind]", 0,
     0},
    {"reason bad_fund", b_bad_fund, "ok acked=1-1 committed=1 resend=none results=[1:bad_fund]", 0,
     0},
    {"reason no_metrics", b_no_metrics,
     "ok acked=1-1 committed=1 resend=none results=[1:no_metrics]", 0, 0},
    {"reason producer_mismatch", b_producer_mismatch,
     "ok acked=1-1 committed=1 resend=none results=[1:producer_mismatch]", 0, 0},
    {"reason unsupported_op (op 7)", b_unsupported_op,
     "ok acked=1-1 committed=1 resend=none results=[1:unsupported_op]", 0, 0},
    {"reason unsupported_op (corrects on a record)", b_corrects_on_record,
     "ok acked=1-1 committed=1 resend=none results=[1:unsupported_op]", 0, 0},
    {"reason missing_seq", b_missing_seq,
     "ok acked=none committed=0 resend=none results=[?:missing_seq]", 0, 0},
    {"reason missing_target", b_missing_target,
     "ok acked=1-1 committed=1 resend=none results=[1:missing_target]", 0, 0},
    {"reason unknown_target", b_unknown_target,
     "ok acked=1-1 committed=1 resend=none results=[1:unknown_target]", 0, 0},
    {"reason duplicate (A, then A again)", b_duplicate,
     "ok acked=1-2 committed=2 resend=none results=[2:duplicate]", 1, 500},
    {"reason event_id_conflict (A, then A with other content)", b_conflict,
     "ok acked=1-2 committed=2 resend=none results=[2:event_id_conflict]", 1, 500},
    {"reason target_superseded (A, B corrects A, C corrects A)", b_superseded,
     "ok acked=1-3 committed=3 resend=none results=[3:target_superseded]", 1, 1000},
    {"reason target_retracted (A, R retracts A, C corrects A)", b_retracted,
     "ok acked=1-3 committed=3 resend=none results=[3:target_retracted]", 0, 0},
    {"reason target_other_province (A in 79, B in 01 corrects A)", b_other_province,
     "ok acked=1-2 committed=2 resend=none results=[2:target_other_province]", 1, 500},
    {"reason total_overflow (9,224 events at 10^15 fill a cell, then 1)", b_overflow,
     "ok acked=9225-9225 committed=9225 resend=none results=[9225:total_overflow]", 0, 0},
    {"reason value_too_large (amount_vnd 10^15 + 1)", b_value_too_large,
     "ok acked=1-1 committed=1 resend=none results=[1:value_too_large]", 0, 0},
    {"reason value_too_large (facilities 10^9 + 1)", b_value_too_large_count,
     "ok acked=1-1 committed=1 resend=none results=[1:value_too_large]", 0, 0},
    {"amount_vnd 10^15, the ceiling itself (accepted)", b_value_at_ceiling,
     "ok acked=1-1 committed=1 resend=none results=[]", 1, 1000000000000000},
    {"overflow pair of issue 12 (2024: 79 2^63-1, 01 5)", b_overflow_pair,
     "ok acked=1-2 committed=2 resend=none results=[1:value_too_large]", 0, 0},
    {"reason invalid_text (event_id not UTF-8)", b_id_not_utf8,
     "ok acked=1-1 committed=1 resend=none results=[1:invalid_text]", 0, 0},
    {"reason invalid_text (event_id with a NUL inside, on the wire)", b_id_nul,
     "ok acked=1-1 committed=1 resend=none results=[1:invalid_text]", 0, 0},
    {"reason invalid_text (ESC in province)", b_province_control,
     "ok acked=1-1 committed=1 resend=none results=[1:invalid_text]", 0, 0},
    {"reason invalid_text (activity cut inside a character)", b_activity_not_utf8,
     "ok acked=1-1 committed=1 resend=none results=[1:invalid_text]", 0, 0},
    {"reason invalid_text (note in Latin-1)", b_note_not_utf8,
     "ok acked=1-1 committed=1 resend=none results=[1:invalid_text]", 0, 0},
    {"reason invalid_text (BEL in note)", b_note_control,
     "ok acked=1-1 committed=1 resend=none results=[1:invalid_text]", 0, 0},
    {"reason invalid_text (note with a NUL inside, on the wire)", b_note_nul,
     "ok acked=1-1 committed=1 resend=none results=[1:invalid_text]", 0, 0},
    {"note with tab, CR and LF (accepted)", b_note_tab_crlf,
     "ok acked=1-1 committed=1 resend=none results=[]", 1, S_AMOUNT},
    {"reason invalid_text (C1 control in corrects)", b_corrects_control,
     "ok acked=1-1 committed=1 resend=none results=[1:invalid_text]", 0, 0},
    {"reason invalid_text (the event's producer_id not UTF-8)", b_event_producer_not_utf8,
     "ok acked=1-1 committed=1 resend=none results=[1:invalid_text]", 0, 0},
    {"Batch producer_id 'bad\\xff\\xfeid' (not UTF-8)", b_producer_not_utf8,
     "bad_producer acked=none committed=none resend=none results=[]", 0, 0},
    {"Batch producer_id with a NUL inside, on the wire", b_producer_nul,
     "bad_producer acked=none committed=none resend=none results=[]", 0, 0},
};

static void s_connect(void)
{
    if (s_sock)
        zmq_close(s_sock);
    s_sock = zmq_socket(s_ctx, ZMQ_DEALER);
    assert_non_null(s_sock);
    int linger = 0;
    zmq_setsockopt(s_sock, ZMQ_LINGER, &linger, sizeof linger);
    assert_int_equal(zmq_connect(s_sock, s_agg.endpoint), 0);
}

static void test_wire_table(void **state)
{
    (void)state;
    memset(s_long, 'x', sizeof s_long - 1);
    for (size_t i = 0; i < sizeof s_wire / sizeof s_wire[0]; i++) {
        const s_wire_row_t *r = &s_wire[i];
        char producer[32], got[512];
        snprintf(producer, sizeof producer, "bad-w%02zu", i);
        s_buf_t pre[8], last = {0};
        size_t npre = 0;
        r->build(producer, pre, &npre, &last);
        s_exchange(pre, npre, &last, got, sizeof got);
        printf("  wire %-62s -> %s\n", r->name, got);
        s_rows++;
        if (strcmp(got, r->expect) != 0)
            fail_msg("row '%s': expected '%s', got '%s'", r->name, r->expect, got);
        s_good_events += r->good;
        s_good_amount += r->good_amount;
    }
}

/* The next Ack, rendered as "<producer_id>:<Ack>" (s_render). */
static void s_recv_render(char *got, size_t cap)
{
    kc_pb_ack_t *a = s_recv_ack(NULL);
    snprintf(got, cap, "%s:", a->producer_id ? a->producer_id : "");
    s_render(a, got + strlen(got), cap - strlen(got));
    if (a->status != KCPIPE__V1__STATUS__STATUS_OK && (!a->error || !a->error[0]))
        fail_msg("Ack %s without an error text", got);
    kcpipe__v1__ack__free_unpacked(a, NULL);
}

/* A good probe batch of producer p; returns the rendered Ack of the first reply. */
static void s_probe(const char *p, char *got, size_t cap)
{
    s_buf_t b = s_good_batch(p, 1, 1);
    s_send(&b, 0);
    free(b.data);
    kc_pb_ack_t *a = s_recv_ack(NULL);
    snprintf(got, cap, "%s:", a->producer_id ? a->producer_id : "");
    s_render(a, got + strlen(got), cap - strlen(got));
    kcpipe__v1__ack__free_unpacked(a, NULL);
}

static void test_wire_frames(void **state)
{
    (void)state;
    char got[512];
    /* [batch][batch] from a DEALER: 3 frames at the ROUTER, not [id, Batch]: one Ack,
     * undecodable, before the probe's; neither Batch processed */
    s_buf_t b1 = s_good_batch("bad-m1", 1, 1), b2 = s_good_batch("bad-m1", 2, 1);
    s_send(&b1, 1);
    s_send(&b2, 0);
    free(b1.data);
    free(b2.data);
    s_recv_render(got, sizeof got);
    printf("  wire %-62s -> %s\n", "two frames [Batch][Batch]: one Ack, undecodable", got);
    assert_string_equal(got, ":undecodable acked=none committed=none resend=none results=[]");
    s_probe("bad-m1p", got, sizeof got);
    printf("  wire %-62s -> %s\n", "  then a probe", got);
    assert_string_equal(got, "bad-m1p:ok acked=1-1 committed=1 resend=none results=[]");
    s_good_events += 1;
    s_good_amount += S_AMOUNT;
    s_rows++;

    /* three frames */
    for (int i = 0; i < 3; i++) {
        s_buf_t b = s_good_batch("bad-m2", 1, 1);
        s_send(&b, i < 2);
        free(b.data);
    }
    s_recv_render(got, sizeof got);
    printf("  wire %-62s -> %s\n", "three frames: one Ack, undecodable", got);
    assert_string_equal(got, ":undecodable acked=none committed=none resend=none results=[]");
    s_probe("bad-m2p", got, sizeof got);
    printf("  wire %-62s -> %s\n", "  then a probe", got);
    assert_string_equal(got, "bad-m2p:ok acked=1-1 committed=1 resend=none results=[]");
    s_good_events += 1;
    s_good_amount += S_AMOUNT;
    s_rows++;
    for (int i = 1; i <= 2; i++) {
        char p[16];
        snprintf(p, sizeof p, "bad-m%d", i);
        uint64_t accepted = 1, hwm = 1;
        assert_int_equal(kc_harness_producer_counts(s_agg.store, p, &accepted, &hwm), 0);
        assert_int_equal(accepted, 0);
        assert_int_equal(hwm, 0);
    }

    /* [empty][batch]: a REQ-style envelope is accepted and answered in kind */
    s_buf_t empty = {0}, b = s_good_batch("bad-m3", 1, 1);
    s_send(&empty, 1);
    s_send(&b, 0);
    free(b.data);
    bool delim = false;
    kc_pb_ack_t *a = s_recv_ack(&delim);
    s_render(a, got, sizeof got);
    kcpipe__v1__ack__free_unpacked(a, NULL);
    printf("  wire %-62s -> %s%s\n", "[empty][Batch] (REQ envelope)", delim ? "[empty] " : "", got);
    assert_true(delim);
    assert_string_equal(got, "ok acked=1-1 committed=1 resend=none results=[]");
    s_good_events += 1;
    s_good_amount += S_AMOUNT;
    s_rows++;

    /* a frame over ZMQ_MAXMSGSIZE (16 MiB): the connection is dropped */
    void *mon = NULL;
    assert_int_equal(zmq_socket_monitor(s_sock, "inproc://badinput-mon", ZMQ_EVENT_DISCONNECTED),
                     0);
    mon = zmq_socket(s_ctx, ZMQ_PAIR);
    assert_int_equal(zmq_connect(mon, "inproc://badinput-mon"), 0);
    size_t big = (size_t)KC_MAX_MSG_SIZE + 1;
    uint8_t *huge = malloc(big);
    assert_non_null(huge);
    memset(huge, 0, big);
    assert_int_equal(zmq_send(s_sock, huge, big, 0), (int)big);
    free(huge);
    /* wait for the disconnect event (bounded) */
    zmq_pollitem_t it = {mon, 0, ZMQ_POLLIN, 0};
    assert_int_equal(zmq_poll(&it, 1, S_WAIT_MS), 1);
    zmq_msg_t ev;
    zmq_msg_init(&ev);
    assert_true(zmq_msg_recv(&ev, mon, 0) >= 0);
    uint16_t event;
    memcpy(&event, zmq_msg_data(&ev), sizeof event);
    zmq_msg_close(&ev);
    if (zmq_msg_init(&ev) == 0 && zmq_msg_recv(&ev, mon, 0) >= 0) /* the address frame */
        zmq_msg_close(&ev);
    assert_int_equal(event, ZMQ_EVENT_DISCONNECTED);
    zmq_socket_monitor(s_sock, NULL, 0);
    zmq_close(mon);
    /* the socket reconnects by itself; the next batch on it is answered */
    s_probe("bad-m4p", got, sizeof got);
    printf("  wire %-62s -> %s\n", "frame of 16 MiB + 1: peer disconnected, no Ack", got);
    assert_string_equal(got, "bad-m4p:ok acked=1-1 committed=1 resend=none results=[]");
    s_good_events += 1;
    s_good_amount += S_AMOUNT;
    s_rows++;
}

/* ---------------------------------------------------------------- CSV */

typedef struct {
    const char *name;
    const char *content;
    int exit_code;       /* kc-send's */
    const char *summary; /* its summary line */
    const char *expect;  /* a line it must print ("%F" = the file's path, "%B" its
                          * base name, as the import layer's messages give it), or NULL */
    uint64_t good;       /* rows counted into the main cell */
} s_csv_row_t;

#define HDR "event_id,province,year,month,activity,amount_vnd,facilities\n"
static const s_csv_row_t s_csv[] = {
    /* a reader that meets bytes it cannot read stops there: the row is malformed,
     * the rows before stand, the rest of the file is not read */
    {"bad UTF-8 in a cell", HDR "c01-1,79,2021,3,KC3b,1000,1\nc01-\xff\xfe,79,2021,3,KC3b,1000,1\n",
     65, "summary: rows=2 accepted=1 duplicates=0 rejected=0 malformed=1 unacknowledged=0",
     "kc-send: %F: line 3, column 1 (A): the file is not UTF-8", 1},
    {"wrong header (unknown column)",
     "event_id,province,year,month,activity,amount\nx,79,2021,3,KC3b,1\n", 65,
     "summary: rows=0 accepted=0 duplicates=0 rejected=0 malformed=0 unacknowledged=0",
     "%B row 1, column F (amount): unknown column 'amount'", 0},
    {"unterminated quote", HDR "c03-1,79,2021,3,KC3b,1000,1\n\"c03-2,79,2021,3,KC3b,1000,1\n", 65,
     "summary: rows=2 accepted=1 duplicates=0 rejected=0 malformed=1 unacknowledged=0",
     "kc-send: %F: line 3, column 1 (A): ", 1},
    {"integer overflowing int64", HDR "c04-1,79,2021,3,KC3b,9223372036854775808,1\n", 65,
     "summary: rows=1 accepted=0 duplicates=0 rejected=0 malformed=1 unacknowledged=0",
     "%B row 2, column F (amount_vnd): '9223372036854775808' is too large", 0},
    /* cells are trimmed (issue 15): spaces around a number do not matter */
    {"integer with spaces", HDR "c05-1,79,2021,3,KC3b, 1000,1\nc05-2,79,2021,3,KC3b,1000 ,1\n", 0,
     "summary: rows=2 accepted=2 duplicates=0 rejected=0 malformed=0 unacknowledged=0", NULL, 2},
    /* the aggregator's rules for a row alone are checked before spooling */
    {"negative value", HDR "c06-1,79,2021,3,KC3b,-5,1\n", 65,
     "summary: rows=1 accepted=0 duplicates=0 rejected=0 malformed=1 unacknowledged=0",
     "%B row 2, column F (amount_vnd): '-5' is negative", 0},
    {"empty file", "", 65,
     "summary: rows=0 accepted=0 duplicates=0 rejected=0 malformed=0 unacknowledged=0",
     "%B: the file has no header row", 0},
    {"UTF-8 byte order mark", "\xef\xbb\xbf" HDR "c08-1,79,2021,3,KC3b,1000,1\n", 0,
     "summary: rows=1 accepted=1 duplicates=0 rejected=0 malformed=0 unacknowledged=0", NULL, 1},
    {"CRLF line ends",
     "event_id,province,year,month,activity,amount_vnd,facilities\r\n"
     "c09-1,79,2021,3,KC3b,1000,1\r\nc09-2,79,2021,3,KC3b,1000,1\r\n",
     0, "summary: rows=2 accepted=2 duplicates=0 rejected=0 malformed=0 unacknowledged=0", NULL, 2},
    {"missing required column (activity)",
     "event_id,province,year,month,amount_vnd\nx,79,2021,3,1\n", 65,
     "summary: rows=0 accepted=0 duplicates=0 rejected=0 malformed=0 unacknowledged=0",
     "%B row 1: required columns missing from the header: activity", 0},
    {"duplicate column",
     "event_id,province,year,month,activity,amount_vnd,amount_vnd\nx,79,2021,3,KC3b,1,1\n", 65,
     "summary: rows=0 accepted=0 duplicates=0 rejected=0 malformed=0 unacknowledged=0",
     "%B row 1, column G (amount_vnd): column amount_vnd appears a second time", 0},
    /* a short row has empty cells at its end, as in a spreadsheet */
    {"short row",
     "event_id,province,year,month,activity,amount_vnd,facilities,note\n"
     "c12-1,79,2021,3,KC3b,1000,1\n",
     0, "summary: rows=1 accepted=1 duplicates=0 rejected=0 malformed=0 unacknowledged=0", NULL, 1},
    {"unknown province", HDR "c13-1,98,2021,3,KC3b,1000,1\n", 65,
     "summary: rows=1 accepted=0 duplicates=0 rejected=0 malformed=1 unacknowledged=0",
     "%B row 2, column B (province): unknown province '98'", 0},
    {"CR-only line ends, broken quote on line 3",
     "event_id,province,year,month,activity,amount_vnd,facilities\r"
     "c15-1,79,2021,3,KC3b,1000,1\rc15-2,79,2021,3,KC3b,\"10\"00,1\rc15-3,79,2021,3,KC3b,1000,1\r",
     65, "summary: rows=2 accepted=1 duplicates=0 rejected=0 malformed=1 unacknowledged=0",
     "kc-send: %F: line 3, column 6 (F): broken quoting", 1},
    {"NUL byte in a cell", HDR "c14-1,79,2021,3,KC3b,1000,1\nc14\0-2,79,2021,3,KC3b,1000,1\n", 65,
     "summary: rows=2 accepted=1 duplicates=0 rejected=0 malformed=1 unacknowledged=0",
     "kc-send: %F: line 3, column 1 (A): the file holds a NUL byte", 1},
};

/* The content lengths (the NUL row needs an explicit length). */
static size_t s_csv_len(const s_csv_row_t *r)
{
    if (strstr(r->name, "NUL"))
        return strlen(HDR) + strlen("c14-1,79,2021,3,KC3b,1000,1\n") + 4 +
               strlen("-2,79,2021,3,KC3b,1000,1\n");
    return strlen(r->content);
}

/* Whether the file contains a line starting with `prefix`. */
static bool s_has_line(const char *path, const char *prefix)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    char line[2048];
    bool found = false;
    while (!found && fgets(line, sizeof line, f))
        found = strncmp(line, prefix, strlen(prefix)) == 0;
    fclose(f);
    return found;
}

static void test_csv_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof s_csv / sizeof s_csv[0]; i++) {
        const s_csv_row_t *r = &s_csv[i];
        char csv[KC_PATH_MAX], spool[KC_PATH_MAX], out[KC_PATH_MAX], err[KC_PATH_MAX + 8];
        char producer[32];
        kc_harness_path(csv, "c%02zu.csv", i);
        kc_harness_path(spool, "spool-c%02zu", i);
        kc_harness_path(out, "send-c%02zu.out", i);
        snprintf(err, sizeof err, "%s.err", out);
        snprintf(producer, sizeof producer, "bad-c%02zu", i);
        FILE *f = fopen(csv, "wb");
        assert_non_null(f);
        size_t n = s_csv_len(r);
        assert_int_equal(fwrite(r->content, 1, n, f), n);
        fclose(f);
        pid_t pid = kc_harness_send_start(s_agg.endpoint, producer, spool, csv, out, NULL);
        int status;
        assert_int_equal(kc_harness_wait(pid, S_WAIT_MS, &status), 0);
        char sum[512] = "";
        kc_harness_read_line(out, sum, sizeof sum); /* first line is enough if no rejects */
        FILE *o = fopen(out, "r");
        if (o) {
            char line[512];
            while (fgets(line, sizeof line, o))
                if (strncmp(line, "summary:", 8) == 0) {
                    line[strcspn(line, "\n")] = '\0';
                    snprintf(sum, sizeof sum, "%s", line);
                }
            fclose(o);
        }
        int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        printf("  csv  %-40s -> exit %d, %s\n", r->name, code, sum);
        s_rows++;
        if (code != r->exit_code || strcmp(sum, r->summary) != 0)
            fail_msg("row '%s': expected exit %d '%s', got exit %d '%s'", r->name, r->exit_code,
                     r->summary, code, sum);
        if (r->expect) {
            char want[1024];
            const char *at = strstr(r->expect, "%F"), *file = csv;
            if (!at) {
                at = strstr(r->expect, "%B");
                file = strrchr(csv, '/') ? strrchr(csv, '/') + 1 : csv;
            }
            snprintf(want, sizeof want, "%.*s%s%s", (int)(at - r->expect), r->expect, file, at + 2);
            bool found = s_has_line(err, want) || s_has_line(out, want);
            if (!found)
                fail_msg("row '%s': no line starting with '%s'", r->name, want);
            printf("  %-46s    prints '%s...'\n", "", want);
        }
        s_good_events += r->good;
        s_good_amount += (int64_t)r->good * S_AMOUNT;
    }
}

/* ---------------------------------------------------------------- after */

/* The decimal text of a non-negative 128-bit sum. */
__extension__ typedef unsigned __int128 s_u128;
static void s_u128_str(s_u128 v, char *buf, size_t cap)
{
    char tmp[48];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + (int)(v % 10));
        v /= 10;
    } while (v);
    assert_true(n < cap);
    for (size_t i = 0; i < n; i++)
        buf[i] = tmp[n - 1 - i];
    buf[n] = '\0';
}

typedef struct {
    uint64_t cells;
    kc_cell_t main, over, pair;
    bool other;
    s_u128 actual2021; /* amount_vnd of every actual cell of 2021 */
} s_cells_t;

static int s_cell_fn(const kc_cell_key_t *k, const kc_cell_t *c, void *ctx)
{
    s_cells_t *s = ctx;
    s->cells++;
    if (k->year == 2021 && k->kind == KCPIPE__V1__KIND__KIND_ACTUAL) {
        assert_true(c->m[KC_M_AMOUNT_VND] >= 0);
        s->actual2021 += (s_u128)c->m[KC_M_AMOUNT_VND];
    }
    const kc_activity_t *act = kc_ref_activity_by_id(k->activity);
    bool base = k->year == 2021 && k->province == 79 && act && strcmp(act->code, "KC3b") == 0 &&
                k->kind == 1 && k->fund == 3;
    bool pair = k->year == 2024 && k->month == 3 && k->province == 1 && act &&
                strcmp(act->code, "KC3b") == 0 && k->kind == 1 && k->fund == 3;
    if (base && k->month == 3)
        s->main = *c;
    else if (base && k->month == 4)
        s->over = *c;
    else if (pair)
        s->pair = *c;
    else if (c->events != 0)
        s->other = true;
    return 0;
}

/* Run kc-query on the aggregator's store (read-only, while it runs) with
 * `args` (NULL-terminated) and --format json; check that it exits 0 and copy
 * the decimal text of its "totals" metric `m` into val. Read from the text: a
 * view's sum may exceed int64 (printed exactly), which jansson cannot parse. */
static void s_query(const char *const *args, int m, char *val, size_t cap)
{
    static int calls;
    char bin[KC_PATH_MAX], out[KC_PATH_MAX], err[KC_PATH_MAX];
    kc_harness_bin(bin, "kc-query");
    kc_harness_path(out, "query-%d.json", ++calls);
    kc_harness_path(err, "query-%d.err", calls);
    char *argv[24] = {bin, "--no-config", "--store", s_agg.store, "--format", "json"};
    size_t n = 6;
    for (size_t i = 0; args[i]; i++) {
        assert_true(n + 1 < sizeof argv / sizeof argv[0]);
        argv[n++] = (char *)args[i];
    }
    argv[n] = NULL;
    pid_t pid = kc_harness_spawn(argv, out, err);
    int st = 0;
    if (kc_harness_wait(pid, S_WAIT_MS, &st) != 0) {
        kc_harness_stop(pid, SIGKILL, 5000);
        fail_msg("kc-query did not answer within %d ms", S_WAIT_MS);
    }
    char sb[64], line[512] = "";
    kc_harness_read_line(err, line, sizeof line);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("kc-query %s %s: %s: %s", args[0], args[1],
                 kc_harness_status_str(st, sb, sizeof sb), line);
    FILE *f = fopen(out, "r");
    assert_non_null(f);
    static char buf[1 << 16];
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = '\0';
    char key[64];
    snprintf(key, sizeof key, "\"%s\"", kc_ref_metric(m)->name);
    const char *t = strstr(buf, "\"totals\"");
    const char *k = t ? strstr(t, key) : NULL;
    if (!k)
        fail_msg("kc-query output %s has no totals.%s", out, kc_ref_metric(m)->name);
    k += strlen(key);
    k += strspn(k, " \t\r\n");
    assert_true(*k == ':');
    k++;
    k += strspn(k, " \t\r\n");
    size_t d = strspn(k, "-0123456789");
    assert_true(d > 0 && d < cap);
    memcpy(val, k, d);
    val[d] = '\0';
}

static void test_after_table(void **state)
{
    (void)state;
    /* still up: a good batch is acknowledged */
    s_connect();
    char got[512];
    s_probe("bad-final", got, sizeof got);
    assert_string_equal(got, "bad-final:ok acked=1-1 committed=1 resend=none results=[]");
    s_good_events += 1;
    s_good_amount += S_AMOUNT;
    /* totals exact: every cell of the store */
    kc_store_t *st;
    kc_store_opts_t o = {.read_only = true};
    assert_int_equal(kc_store_open(&st, s_agg.store, &o), 0);
    kc_txn_t *t;
    assert_int_equal(kc_store_read_begin(st, &t), 0);
    s_cells_t c = {0};
    kc_cell_key_t lo = kc_cell_key_min(), hi = kc_cell_key_max();
    assert_int_equal(kc_txn_totals_scan(t, &lo, &hi, s_cell_fn, &c), 0);
    /* the Batches refused for their producer_id left no producer behind (a NUL
     * inside would have made it "bad") */
    const char *refused[] = {"bad\xff\xfeid", "bad"};
    for (size_t i = 0; i < 2; i++) {
        kc_producer_state_t ps;
        assert_int_equal(kc_txn_producer_get(t, refused[i], &ps), KC_ENOTFOUND);
    }
    kc_txn_end(&t);
    kc_store_close(&st);
    printf("  after %d rows: main cell events=%" PRIu64 " amount=%" PRId64 " facilities=%" PRId64
           " (expected %" PRIu64 " / %" PRId64 "); overflow cell events=%" PRIu64 "\n",
           s_rows, c.main.events, c.main.m[KC_M_AMOUNT_VND], c.main.m[KC_M_FACILITIES],
           s_good_events, s_good_amount, c.over.events);
    assert_true(s_rows >= 30);
    assert_false(c.other);
    assert_int_equal(c.main.events, s_good_events);
    assert_int_equal(c.main.m[KC_M_AMOUNT_VND], s_good_amount);
    assert_int_equal(c.main.m[KC_M_FACILITIES], (int64_t)s_good_events);
    assert_int_equal(c.over.events, S_FILL_N);
    assert_true(c.over.m[KC_M_AMOUNT_VND] == INT64_MAX);
    /* the overflow pair: only 01's 5 counted, and the views of its year answer
     * (after the invalid producer ids too) */
    assert_int_equal(c.pair.events, 1);
    assert_int_equal(c.pair.m[KC_M_AMOUNT_VND], 5);
    char v[64];
    const char *year[] = {"--year", "2024", NULL};
    const char *p79[] = {"--year", "2024", "--province", "79", NULL};
    const char *by[] = {"--year", "2024", "--by", "province", NULL};
    s_query(year, KC_M_AMOUNT_VND, v, sizeof v);
    assert_string_equal(v, "5");
    s_query(year, KC_M_FACILITIES, v, sizeof v);
    assert_string_equal(v, "1");
    s_query(p79, KC_M_AMOUNT_VND, v, sizeof v);
    assert_string_equal(v, "0");
    s_query(by, KC_M_AMOUNT_VND, v, sizeof v);
    assert_string_equal(v, "5");
    printf("  kc-query --year 2024 (and --province 79, --by province): exit 0, amount_vnd %s\n", v);
    /* 2021 holds the overflow row's cell at INT64_MAX beside the main cell: the
     * year's total is above int64, and exact */
    const char *y2021[] = {"--year", "2021", NULL};
    char want[64];
    s_u128_str(c.actual2021, want, sizeof want);
    s_query(y2021, KC_M_AMOUNT_VND, v, sizeof v);
    printf("  kc-query --year 2021: exit 0, amount_vnd %s (the cells sum to %s)\n", v, want);
    assert_string_equal(v, want);
}

static int s_setup(void **state)
{
    (void)state;
    const char *dir = kc_harness_init("badinput");
    char store[KC_PATH_MAX];
    snprintf(store, sizeof store, "%s/store", dir);
    kc_harness_agg_start(&s_agg, store, "tcp://127.0.0.1:*", NULL);
    s_ctx = zmq_ctx_new();
    assert_non_null(s_ctx);
    s_connect();
    return 0;
}

static int s_teardown(void **state)
{
    (void)state;
    if (s_sock)
        zmq_close(s_sock);
    zmq_ctx_term(s_ctx);
    kc_harness_agg_term(&s_agg);
    kc_harness_pass();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wire_table),
        cmocka_unit_test(test_wire_frames),
        cmocka_unit_test(test_csv_table),
        cmocka_unit_test(test_after_table),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
