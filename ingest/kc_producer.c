/* kc_producer.c - libkcingest's producer: spool + Lazy Pirate over a DEALER.
 *
 * DESIGN - sending and acknowledgement (see also kcingest.h and kc_spool.h)
 *   next_send  the lowest seq not yet sent on the current connection. Batches
 *              are read from the spool (read transaction, cursor from next_send),
 *              so only committed events are ever sent.
 *   flight     FIFO of batches [first, last] sent and not yet covered by an Ack,
 *              at most opts.window long.
 *   progress   when the lowest pending seq last changed, or was first sent.
 *              Only this counts as progress: an Ack for later seqs does not
 *              prove that an earlier Ack was not lost.
 * Transitions:
 *   send       flight not full, not backing off, committed events >= next_send:
 *              read up to batch_max events, send one Batch, push it on flight.
 *              With ZMQ_IMMEDIATE a send without a connected peer fails with
 *              EAGAIN: wait for POLLOUT instead of queueing.
 *   Ack OK     finalize pending seqs in [acked_from, acked_to] (one spool txn per
 *              drained set of Acks, then report results), pop flight batches
 *              with last <= acked_to; resend_from N: rewind next_send to N and
 *              drop flight batches that reach N.
 *   Ack !OK    STATUS_UNAVAILABLE (or a batch refused): rewind to the lowest
 *              pending seq, back off (100 ms doubling to 5 s) before sending.
 *   timeout    the lowest pending seq was sent (it is < next_send) and there
 *              was no progress for request_timeout_ms: close the socket
 *              (linger 0), open a new one, rewind to the lowest pending seq
 *              (Lazy Pirate). This also recovers events whose own Ack was lost
 *              while later Acks arrived. Acks from the old socket are lost
 *              with it; a late duplicate Ack only names seqs no longer pending
 *              and is ignored by the spool.
 * Invariant: every pending seq >= next_send, or in a flight batch, or about to
 * be resent after a rewind; so every spooled event is sent until an Ack for it
 * arrives, and its result is reported exactly once (on removal from the spool).
 */
#include "kcingest.h"

#include "kc_cert.h"
#include "kc_encode.h"
#include "kc_err.h"
#include "kc_event.h"
#include "kc_log.h"
#include "kc_time.h"
#include "kc_spool.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

/* kcingest.h restates kc_err.h's codes that an embedder may see (it must not
 * include common headers); kc_producer_strerror passes them to kc_strerror. */
_Static_assert(KCI_ETIMEDOUT == KC_ETIMEDOUT && KCI_EINVAL == KC_EINVAL && KCI_EBUSY == KC_EBUSY &&
                   KCI_EINTR == KC_EINTR && KCI_EFENCED == KC_EFENCED && KCI_EFORMAT == KC_EFORMAT,
               "kcingest.h return codes are the values of kc_err.h's KC_E*");
/* KCI_EREFUSED is libkcingest's own code, not a KC_E*: -1015, which kc_err.h
 * reserves for it in a comment after its last code (KC_EFENCED). A KC_E* added
 * there must take -1016 or beyond. */
_Static_assert(KCI_EREFUSED == -1015 && KCI_EREFUSED < KC_EFENCED,
               "KCI_EREFUSED is the -1015 that kc_err.h reserves");

#define S_BATCH_BYTES_MAX ((size_t)4 << 20) /* well below the aggregator's KC_MAX_MSG_SIZE */
#define S_BACKOFF_MIN_MS  100
#define S_BACKOFF_MAX_MS  5000

typedef struct {
    uint64_t first; /* first seq of the batch */
    uint64_t last;  /* last seq of the batch */
} s_flight_t;

struct kc_producer {
    char *endpoint;         /* where the aggregator listens */
    char *producer_id;      /* our id, also the spool's owner */
    int request_timeout_ms; /* Lazy Pirate timeout */
    size_t batch_max;       /* events per Batch and per staging commit */
    size_t window;          /* batches in flight */
    kc_spool_t *spool;      /* the durable spool */
    void *zctx;             /* ZeroMQ context (owned) */
    void *sock;             /* DEALER connected to endpoint */
    kc_result_fn on_result; /* result callback, or NULL */
    void *on_result_ctx;    /* its context */
    kc_link_fn on_link;     /* link state callback, or NULL */
    void *on_link_ctx;      /* its context */
    kc_sent_fn on_sent;     /* batch handed to the socket, or NULL */
    void *on_sent_ctx;      /* its context */
    bool unreachable;       /* no answer since the last reconnect / "unavailable" */
    s_flight_t *flight;     /* batches in flight, oldest first */
    size_t n_flight;        /* how many */
    uint64_t next_send;     /* lowest seq not yet sent on this connection */
    int64_t progress_ms;    /* last progress of the lowest pending seq (monotonic ms) */
    uint64_t lo_seen;       /* the lowest pending seq at that time */
    int64_t backoff_until;  /* no sends before this time */
    int backoff_ms;         /* current backoff step, 0 when healthy */
    bool blocked;           /* last send hit EAGAIN: wait for POLLOUT */
    int64_t blocked_since;  /* when it did (monotonic ms) */
    bool fenced;            /* the aggregator retired this spool (STATUS_FENCED) */
    kc_buf_t ebuf;          /* one encoded event */
    char submitted_by[KC_SUBMITTED_BY_MAX + 1]; /* Event.submitted_by of later adds; "" none */
    int refusal;              /* reason the last kc_producer_add was refused for, or 0 */
    char refusal_text[512];   /* its explanation (kc_event_admit's) */
    kc_buf_t arena;           /* event bytes of the batch being built */
    ProtobufCBinaryData *bev; /* Batch.events slots */
    size_t *bev_off;          /* their offsets in arena */
    size_t n_bev;             /* slots used */
    uint64_t b_first, b_last; /* seqs of the batch being built */
    kc_pb_ack_t **acks;       /* Acks drained in the current pass */
    size_t n_acks, cap_acks;
    kc_spool_range_t *ranges; /* their ranges, in arrival order */
    size_t n_ranges, cap_ranges;
    bool curve;                              /* CURVE client (the keys below are set) */
    char server_key[KC_CERT_KEY_LEN + 1];    /* Z85 */
    char client_public[KC_CERT_KEY_LEN + 1]; /* Z85 */
    char client_secret[KC_CERT_KEY_LEN + 1]; /* Z85; wiped at close */
};

/* ---- logging bridge ----------------------------------------------------- */

static kci_log_fn s_log_fn;
static void *s_log_ctx;

static void s_log_bridge(kc_log_level_t level, const char *line, void *ctx)
{
    (void)ctx;
    if (s_log_fn)
        s_log_fn((int)level, line, s_log_ctx);
}

void kc_ingest_set_log(const char *ident, int level, kci_log_fn fn, void *ctx)
{
    if (ident)
        kc_log_set_ident(ident);
    if (level < KCI_LOG_ERROR)
        level = KCI_LOG_ERROR;
    if (level > KCI_LOG_DEBUG)
        level = KCI_LOG_DEBUG;
    kc_log_set_level((kc_log_level_t)level);
    kc_log_set_sink(NULL, NULL);
    s_log_fn = fn;
    s_log_ctx = ctx;
    if (fn)
        kc_log_set_sink(s_log_bridge, NULL);
}

const char *kc_producer_strerror(int rc)
{
    if (rc == KCI_EREFUSED)
        return "the event breaks an admission rule (invalid_text or value_too_large)";
    return kc_strerror(rc);
}

/* ---- helpers ------------------------------------------------------------ */

static int s_grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 16;
    while (n < need)
        n *= 2;
    void *q = realloc(*p, n * elem);
    if (!q)
        return KC_ENOMEM;
    *p = q;
    *cap = n;
    return 0;
}

/* Highest seq that is committed in the spool (0 if none was ever). */
static uint64_t s_committed_hi(const kc_producer_t *p)
{
    return kc_spool_next_seq(p->spool) - 1 - kc_spool_staged(p->spool);
}

static void s_close_socket(kc_producer_t *p)
{
    if (p->sock) {
        int linger = 0;
        zmq_setsockopt(p->sock, ZMQ_LINGER, &linger, sizeof linger);
        zmq_close(p->sock);
        p->sock = NULL;
    }
}

static int s_connect(kc_producer_t *p)
{
    p->sock = zmq_socket(p->zctx, ZMQ_DEALER);
    if (!p->sock) {
        kc_error("zmq_socket: %s", zmq_strerror(errno));
        return KC_EIO;
    }
    int linger = 0, immediate = 1, keepalive = 1, ivl = 100, ivl_max = 1000;
    int sndhwm = (int)p->window * 2 + 2, rcvhwm = (int)p->window * 4 + 16;
    int64_t maxmsg = KC_MAX_MSG_SIZE;
    zmq_setsockopt(p->sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(p->sock, ZMQ_IMMEDIATE, &immediate, sizeof immediate);
    zmq_setsockopt(p->sock, ZMQ_SNDHWM, &sndhwm, sizeof sndhwm);
    zmq_setsockopt(p->sock, ZMQ_RCVHWM, &rcvhwm, sizeof rcvhwm);
    zmq_setsockopt(p->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    zmq_setsockopt(p->sock, ZMQ_TCP_KEEPALIVE, &keepalive, sizeof keepalive);
    zmq_setsockopt(p->sock, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl);
    zmq_setsockopt(p->sock, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof ivl_max);
    if (p->curve &&
        (zmq_setsockopt(p->sock, ZMQ_CURVE_SERVERKEY, p->server_key, KC_CERT_KEY_LEN) != 0 ||
         zmq_setsockopt(p->sock, ZMQ_CURVE_PUBLICKEY, p->client_public, KC_CERT_KEY_LEN) != 0 ||
         zmq_setsockopt(p->sock, ZMQ_CURVE_SECRETKEY, p->client_secret, KC_CERT_KEY_LEN) != 0)) {
        kc_error("cannot set the CURVE keys: %s", zmq_strerror(errno));
        s_close_socket(p);
        return KC_EINVAL;
    }
    if (zmq_connect(p->sock, p->endpoint) != 0) {
        kc_error("cannot connect to %s: %s", p->endpoint, zmq_strerror(errno));
        s_close_socket(p);
        return KC_EINVAL;
    }
    p->blocked = false;
    return 0;
}

/* Whether the lowest pending event was sent and awaits its Ack. */
static bool s_outstanding(const kc_producer_t *p)
{
    return kc_spool_count(p->spool) > 0 && kc_spool_first(p->spool) < p->next_send;
}

/* Forget what is in flight at or after seq and send again from there. */
static void s_rewind(kc_producer_t *p, uint64_t seq)
{
    if (seq < p->next_send)
        p->next_send = seq;
    size_t keep = 0;
    while (keep < p->n_flight && p->flight[keep].last < seq)
        keep++;
    p->n_flight = keep;
}

/* The link state changed: tell the application once per change. */
static void s_link(kc_producer_t *p, bool reachable)
{
    if (p->unreachable == !reachable)
        return;
    p->unreachable = !reachable;
    if (p->on_link)
        p->on_link(reachable, kc_producer_pending(p), p->on_link_ctx);
}

/* Lazy Pirate: drop the connection and resend everything unacknowledged. */
static int s_reconnect(kc_producer_t *p, int64_t now)
{
    s_link(p, false);
    kc_warn("no acknowledgement from %s for %d ms; reconnecting and resending from seq %llu",
            p->endpoint, p->request_timeout_ms, (unsigned long long)kc_spool_first(p->spool));
    s_close_socket(p);
    p->n_flight = 0;
    p->next_send = 1;
    p->progress_ms = now;
    return s_connect(p);
}

static void s_backoff(kc_producer_t *p, int64_t now)
{
    p->backoff_ms = p->backoff_ms ? p->backoff_ms * 2 : S_BACKOFF_MIN_MS;
    if (p->backoff_ms > S_BACKOFF_MAX_MS)
        p->backoff_ms = S_BACKOFF_MAX_MS;
    p->backoff_until = now + p->backoff_ms;
    s_rewind(p, 1);
}

/* ---- sending ------------------------------------------------------------ */

static int s_collect(uint64_t seq, const void *ev, size_t len, void *ctx)
{
    kc_producer_t *p = ctx;
    if (kc_buf_reserve(&p->arena, p->arena.len + len))
        return 1;
    memcpy(p->arena.data + p->arena.len, ev, len);
    p->bev_off[p->n_bev] = p->arena.len;
    p->bev[p->n_bev].len = len;
    p->arena.len += len;
    if (p->n_bev++ == 0)
        p->b_first = seq;
    p->b_last = seq;
    return 0;
}

static void s_msg_free(void *data, void *hint)
{
    (void)hint;
    free(data);
}

/* Send one Batch from next_send. Returns 1 sent, 0 nothing to send or blocked,
 * or a negative error. */
static int s_send_batch(kc_producer_t *p, int64_t now)
{
    if (p->next_send < kc_spool_first(p->spool))
        p->next_send = kc_spool_first(p->spool);
    if (kc_spool_count(p->spool) == 0 || p->next_send > s_committed_hi(p))
        return 0;
    p->n_bev = 0;
    p->arena.len = 0;
    int n = kc_spool_read(p->spool, p->next_send, p->batch_max, S_BATCH_BYTES_MAX, s_collect, p);
    if (n < 0)
        return n;
    if (p->n_bev == 0)
        return n == 0 ? 0 : KC_ENOMEM;
    for (size_t i = 0; i < p->n_bev; i++)
        p->bev[i].data = p->arena.data + p->bev_off[i];
    kc_pb_batch_t b = KCPIPE__V1__BATCH__INIT;
    b.producer_id = p->producer_id;
    b.has_producer_epoch = 1;
    b.producer_epoch = kc_spool_epoch(p->spool);
    b.has_spool_last_seq = 1; /* monitoring: the aggregator's lag = this - its hwm */
    b.spool_last_seq = s_committed_hi(p);
    b.n_events = p->n_bev;
    b.events = p->bev;
    size_t size = kcpipe__v1__batch__get_packed_size(&b);
    uint8_t *data = malloc(size);
    if (!data)
        return KC_ENOMEM;
    kcpipe__v1__batch__pack(&b, data);
    zmq_msg_t msg;
    zmq_msg_init_data(&msg, data, size, s_msg_free, NULL);
    if (zmq_msg_send(&msg, p->sock, ZMQ_DONTWAIT) < 0) {
        int e = errno;
        zmq_msg_close(&msg);
        if (e == EAGAIN) {
            if (!p->blocked)
                p->blocked_since = now;
            p->blocked = true; /* no peer connected (ZMQ_IMMEDIATE) or HWM reached */
            return 0;
        }
        if (e == EINTR)
            return KC_EINTR;
        kc_error("sending to %s: %s", p->endpoint, zmq_strerror(e));
        return KC_EIO;
    }
    if (!s_outstanding(p)) { /* the wait for the lowest pending seq starts now */
        p->progress_ms = now;
        p->lo_seen = kc_spool_first(p->spool);
    }
    p->flight[p->n_flight++] = (s_flight_t){p->b_first, p->b_last};
    if (p->on_sent)
        p->on_sent(p->b_first, p->b_last, p->on_sent_ctx);
    kc_debug("sent batch seq %llu..%llu (%zu events, %zu bytes)", (unsigned long long)p->b_first,
             (unsigned long long)p->b_last, p->n_bev, size);
    p->next_send = p->b_last + 1;
    return 1;
}

static int s_send_window(kc_producer_t *p, int64_t now)
{
    while (p->n_flight < p->window && !p->blocked && now >= p->backoff_until) {
        int rc = s_send_batch(p, now);
        if (rc <= 0)
            return rc;
    }
    return 0;
}

/* ---- acknowledgements --------------------------------------------------- */

static void s_free_acks(kc_producer_t *p)
{
    for (size_t i = 0; i < p->n_acks; i++)
        kcpipe__v1__ack__free_unpacked(p->acks[i], NULL);
    p->n_acks = 0;
    p->n_ranges = 0;
}

/* Apply one Ack to the in-memory state; its range is queued for removal. */
static int s_take_ack(kc_producer_t *p, kc_pb_ack_t *ack, int64_t now)
{
    if (ack->producer_id && strcmp(ack->producer_id, p->producer_id) != 0) {
        kc_warn("ignoring an ack for producer '%s'", ack->producer_id);
        kcpipe__v1__ack__free_unpacked(ack, NULL);
        return 0;
    }
    if (s_grow((void **)&p->acks, &p->cap_acks, p->n_acks + 1, sizeof *p->acks) ||
        s_grow((void **)&p->ranges, &p->cap_ranges, p->n_ranges + 1, sizeof *p->ranges)) {
        kcpipe__v1__ack__free_unpacked(ack, NULL);
        return KC_ENOMEM;
    }
    size_t tag = p->n_acks;
    p->acks[p->n_acks++] = ack;
    int status = ack->has_status ? (int)ack->status : KCPIPE__V1__STATUS__STATUS_OK;
    if (status == KCPIPE__V1__STATUS__STATUS_FENCED) {
        kc_error("aggregator refused this spool: %s", ack->error ? ack->error : "fenced");
        p->fenced = true;
        return 0;
    }
    if (status != KCPIPE__V1__STATUS__STATUS_OK) {
        if (status == KCPIPE__V1__STATUS__STATUS_UNAVAILABLE) {
            kc_warn("aggregator unavailable (%s); retrying later", ack->error ? ack->error : "");
            s_link(p, false);
        } else
            kc_error("aggregator refused a batch: status %d (%s); retrying later", status,
                     ack->error ? ack->error : "");
        s_backoff(p, now);
        return 0;
    }
    p->backoff_ms = 0;
    s_link(p, true);
    if (ack->has_producer_epoch && ack->producer_epoch != kc_spool_epoch(p->spool)) {
        kc_warn("ignoring an ack for another spool epoch (%llu)",
                (unsigned long long)ack->producer_epoch);
        return 0;
    }
    if (ack->acked_from && ack->acked_to >= ack->acked_from) {
        uint64_t hi = s_committed_hi(p); /* never remove what was not sent */
        uint64_t to = ack->acked_to < hi ? ack->acked_to : hi;
        if (ack->acked_from <= to)
            p->ranges[p->n_ranges++] = (kc_spool_range_t){ack->acked_from, to, tag};
        size_t done = 0;
        while (done < p->n_flight && p->flight[done].last <= ack->acked_to)
            done++;
        memmove(p->flight, p->flight + done, (p->n_flight - done) * sizeof *p->flight);
        p->n_flight -= done;
    }
    if (ack->resend_from) {
        kc_info("aggregator asks to resend from seq %llu", (unsigned long long)ack->resend_from);
        s_rewind(p, ack->resend_from);
    }
    return 0;
}

static int s_cmp_result(const void *a, const void *b)
{
    const kc_pb_result_t *x = *(kc_pb_result_t *const *)a, *y = *(kc_pb_result_t *const *)b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static const kc_pb_result_t *s_find_result(kc_pb_ack_t *ack, uint64_t seq)
{
    if (ack->n_results == 0)
        return NULL;
    kc_pb_result_t key = {.seq = seq}, *kp = &key;
    kc_pb_result_t **hit =
        bsearch(&kp, ack->results, ack->n_results, sizeof *ack->results, s_cmp_result);
    return hit ? *hit : NULL;
}

/* Commit staged events and the removals queued by the drained Acks in one spool
 * transaction, then report the removed events' results. */
static int s_commit_and_report(kc_producer_t *p, int64_t now)
{
    if (p->n_ranges == 0 && kc_spool_staged(p->spool) == 0) {
        s_free_acks(p);
        return 0;
    }
    int rc = kc_spool_commit(p->spool, p->ranges, p->n_ranges);
    if (rc) {
        s_free_acks(p); /* the events stay pending and will be sent again */
        return rc;
    }
    for (size_t i = 0; i < p->n_acks; i++) /* results sorted by seq for lookup */
        if (p->acks[i]->n_results > 1)
            qsort(p->acks[i]->results, p->acks[i]->n_results, sizeof *p->acks[i]->results,
                  s_cmp_result);
    if (kc_spool_first(p->spool) != p->lo_seen) { /* the oldest outstanding event moved */
        p->lo_seen = kc_spool_first(p->spool);
        p->progress_ms = now;
    }
    const kc_spool_removed_t *rm;
    size_t n = kc_spool_removed(p->spool, &rm);
    for (size_t i = 0; i < n && p->on_result; i++) {
        const kc_pb_result_t *res = s_find_result(p->acks[rm[i].tag], rm[i].seq);
        int reason = res && res->has_reason ? (int)res->reason : KCI_ACCEPTED;
        kc_result_t r = {
            .seq = rm[i].seq,
            .source = rm[i].source,
            .event_id = rm[i].event_id,
            .reason = reason,
            .reason_name = reason == KCI_ACCEPTED ? "accepted" : kc_reason_name(reason),
            .text = res && res->text && reason != KCI_ACCEPTED ? res->text : "",
        };
        p->on_result(&r, p->on_result_ctx);
    }
    s_free_acks(p);
    return 0;
}

/* Receive every Ack available now and apply them. */
static int s_drain(kc_producer_t *p, int64_t now)
{
    int rc = 0;
    for (size_t budget = p->window * 4 + 64; budget > 0 && rc == 0; budget--) {
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, p->sock, ZMQ_DONTWAIT) < 0) {
            int e = errno;
            zmq_msg_close(&msg);
            if (e != EAGAIN && e != EINTR)
                kc_error("receiving from %s: %s", p->endpoint, zmq_strerror(e));
            break;
        }
        while (zmq_msg_more(&msg)) { /* keep the last frame: skip any envelope */
            zmq_msg_close(&msg);
            zmq_msg_init(&msg);
            if (zmq_msg_recv(&msg, p->sock, 0) < 0)
                break;
        }
        kc_pb_ack_t *ack = kcpipe__v1__ack__unpack(NULL, zmq_msg_size(&msg), zmq_msg_data(&msg));
        zmq_msg_close(&msg);
        if (!ack) {
            kc_warn("ignoring an undecodable acknowledgement from %s", p->endpoint);
            continue;
        }
        rc = s_take_ack(p, ack, now);
    }
    int crc = s_commit_and_report(p, now);
    return rc ? rc : crc;
}

/* ---- public API --------------------------------------------------------- */

int kc_ingest_read_cert(const char *path, char *public_key, char *secret_key)
{
    kc_cert_t c;
    int rc = kc_cert_load(path, secret_key != NULL, &c);
    if (rc == 0) {
        memcpy(public_key, c.public_key, sizeof c.public_key);
        if (secret_key)
            memcpy(secret_key, c.secret_key, sizeof c.secret_key);
    }
    memset(&c, 0, sizeof c);
    return rc;
}

/* Take the CURVE options (kc_producer_opts_t); KC_EINVAL (logged) if they are
 * incomplete, malformed or the key pair does not match. */
static int s_curve_setup(kc_producer_t *p, const kc_producer_opts_t *o)
{
    bool any_client = o->client_cert_file || o->client_public_key || o->client_secret_key;
    if (!o->server_public_key) {
        if (any_client) {
            kc_error("CURVE client keys given without the server's public key");
            return KC_EINVAL;
        }
        return 0;
    }
    if (!kc_cert_z85_valid(o->server_public_key)) {
        kc_error("the server public key is not 40 characters of Z85");
        return KC_EINVAL;
    }
    if (!zmq_has("curve")) {
        kc_error("this libzmq has no CURVE support");
        return KC_EINVAL;
    }
    memcpy(p->server_key, o->server_public_key, KC_CERT_KEY_LEN + 1);
    if (o->client_cert_file && !o->client_public_key && !o->client_secret_key) {
        int rc = kc_ingest_read_cert(o->client_cert_file, p->client_public, p->client_secret);
        if (rc) {
            kc_error("cannot read the secret certificate %s: %s", o->client_cert_file,
                     kc_strerror(rc));
            return KC_EINVAL;
        }
    } else if (!o->client_cert_file && o->client_public_key && o->client_secret_key &&
               kc_cert_z85_valid(o->client_public_key) && kc_cert_z85_valid(o->client_secret_key)) {
        memcpy(p->client_public, o->client_public_key, KC_CERT_KEY_LEN + 1);
        memcpy(p->client_secret, o->client_secret_key, KC_CERT_KEY_LEN + 1);
    } else {
        kc_error("CURVE needs either client_cert_file or client_public_key and "
                 "client_secret_key (40 characters of Z85 each)");
        return KC_EINVAL;
    }
    char derived[KC_CERT_KEY_LEN + 1];
    if (zmq_curve_public(derived, p->client_secret) != 0 ||
        strcmp(derived, p->client_public) != 0) {
        kc_error("the client public key does not belong to the client secret key");
        return KC_EINVAL;
    }
    p->curve = true;
    return 0;
}

int kc_producer_open(kc_producer_t **out, const kc_producer_opts_t *opts)
{
    *out = NULL;
    if (!opts || !opts->endpoint || !*opts->endpoint || !opts->producer_id || !*opts->producer_id ||
        strlen(opts->producer_id) > KC_PRODUCER_ID_MAX || !opts->spool_dir || !*opts->spool_dir ||
        opts->request_timeout_ms < 0) {
        kc_error("kc_producer_open: endpoint, producer_id (1-%d bytes) and spool_dir are required",
                 KC_PRODUCER_ID_MAX);
        return KC_EINVAL;
    }
    /* the aggregator's id rule: it would refuse every Batch of this id */
    char why[512];
    if (!kc_producer_id_ok(opts->producer_id, NULL, 0, why, sizeof why)) {
        kc_error("kc_producer_open: %s: %s",
                 kc_reason_name(KCPIPE__V1__REASON__REASON_INVALID_TEXT), why);
        return KC_EINVAL;
    }
    kc_producer_t *p = calloc(1, sizeof *p);
    if (!p)
        return KC_ENOMEM;
    p->request_timeout_ms = opts->request_timeout_ms ? opts->request_timeout_ms : 2000;
    p->batch_max = opts->batch_max ? opts->batch_max : 1000;
    p->window = opts->window ? opts->window : 8;
    p->next_send = 1;
    int rc = KC_ENOMEM;
    if (!(p->endpoint = strdup(opts->endpoint)) || !(p->producer_id = strdup(opts->producer_id)) ||
        !(p->flight = calloc(p->window, sizeof *p->flight)) ||
        !(p->bev = calloc(p->batch_max, sizeof *p->bev)) ||
        !(p->bev_off = calloc(p->batch_max, sizeof *p->bev_off)))
        goto fail;
    if ((rc = s_curve_setup(p, opts)))
        goto fail;
    if ((rc = kc_spool_open(&p->spool, opts->spool_dir, opts->producer_id)))
        goto fail;
    if (!(p->zctx = zmq_ctx_new())) {
        rc = KC_EIO;
        goto fail;
    }
    if ((rc = s_connect(p)))
        goto fail;
    p->progress_ms = kc_time_mono_ms();
    *out = p;
    return 0;
fail:
    kc_producer_close(&p);
    return rc;
}

void kc_producer_close(kc_producer_t **pp)
{
    kc_producer_t *p = pp ? *pp : NULL;
    if (!p)
        return;
    if (p->spool && kc_spool_staged(p->spool)) {
        int rc = kc_spool_commit(p->spool, NULL, 0);
        if (rc)
            kc_error("closing: could not spool %zu staged events: %s", kc_spool_staged(p->spool),
                     kc_strerror(rc));
    }
    s_close_socket(p);
    if (p->zctx)
        zmq_ctx_term(p->zctx);
    kc_spool_close(&p->spool);
    s_free_acks(p);
    free(p->acks);
    free(p->ranges);
    free(p->ebuf.data);
    free(p->arena.data);
    free(p->bev);
    free(p->bev_off);
    free(p->flight);
    free(p->endpoint);
    free(p->producer_id);
    memset(p->client_secret, 0, sizeof p->client_secret);
    free(p);
    *pp = NULL;
}

void kc_producer_on_result(kc_producer_t *p, kc_result_fn fn, void *ctx)
{
    p->on_result = fn;
    p->on_result_ctx = ctx;
}

void kc_producer_on_link(kc_producer_t *p, kc_link_fn fn, void *ctx)
{
    p->on_link = fn;
    p->on_link_ctx = ctx;
}

void kc_producer_on_sent(kc_producer_t *p, kc_sent_fn fn, void *ctx)
{
    p->on_sent = fn;
    p->on_sent_ctx = ctx;
}

int kc_producer_add(kc_producer_t *p, const kc_event_t *ev, const char *source, uint64_t *seq_out)
{
    uint64_t seq = kc_spool_next_seq(p->spool);
    int rc = kc_encode_admit_by(ev, p->submitted_by, p->producer_id, seq, &p->ebuf, &p->refusal,
                                p->refusal_text, sizeof p->refusal_text);
    if (rc)
        return rc;
    if ((rc = kc_spool_stage(p->spool, ev->event_id, source, p->ebuf.data, p->ebuf.len)))
        return rc;
    if (seq_out)
        *seq_out = seq;
    if (kc_spool_staged(p->spool) >= p->batch_max)
        return kc_producer_sync(p);
    return 0;
}

int kc_producer_set_submitted_by(kc_producer_t *p, const char *name)
{
    if (!p)
        return KCI_EINVAL;
    size_t n = name ? strlen(name) : 0;
    if (n) { /* the aggregator's own rule for the field (kc_event_admit) */
        Kcpipe__V1__Event probe;
        kcpipe__v1__event__init(&probe);
        probe.submitted_by = (char *)name;
        char why[512];
        if (kc_event_admit(&probe, NULL, 0, why, sizeof why) != KCPIPE__V1__REASON__REASON_OK) {
            kc_error("kc_producer_set_submitted_by: %s: %s",
                     kc_reason_name(KCPIPE__V1__REASON__REASON_INVALID_TEXT), why);
            return KCI_EINVAL;
        }
    }
    memcpy(p->submitted_by, name ? name : "", n);
    p->submitted_by[n] = '\0';
    return 0;
}

int kc_producer_refusal(const kc_producer_t *p, const char **reason_name, const char **text)
{
    if (reason_name)
        *reason_name = p->refusal ? kc_reason_name(p->refusal) : "";
    if (text)
        *text = p->refusal ? p->refusal_text : "";
    return p->refusal;
}

int kc_producer_sync(kc_producer_t *p)
{
    if (kc_spool_staged(p->spool) == 0)
        return 0;
    return kc_spool_commit(p->spool, NULL, 0);
}

uint64_t kc_producer_pending(const kc_producer_t *p)
{
    return kc_spool_count(p->spool) + kc_spool_staged(p->spool);
}

int kc_producer_poll(kc_producer_t *p, int timeout_ms)
{
    int64_t deadline = kc_time_mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    for (;;) {
        if (p->fenced)
            return KC_EFENCED;
        int rc = kc_producer_sync(p);
        if (rc)
            return rc;
        int64_t now = kc_time_mono_ms();
        if (s_outstanding(p) && now - p->progress_ms >= p->request_timeout_ms &&
            (rc = s_reconnect(p, now)))
            return rc;
        if ((rc = s_send_window(p, now)))
            return rc;
        if (kc_producer_pending(p) == 0)
            return 0;
        /* nothing can even be handed to a connection (no peer: the centre is
         * down or unreachable) for as long as a request may wait: say so */
        int64_t unreach_at = p->blocked_since + p->request_timeout_ms;
        if (p->blocked && !p->unreachable && now >= unreach_at)
            s_link(p, false);
        int64_t wake = deadline;
        if (p->blocked && !p->unreachable && unreach_at < wake)
            wake = unreach_at;
        if (s_outstanding(p) && p->progress_ms + p->request_timeout_ms < wake)
            wake = p->progress_ms + p->request_timeout_ms;
        if (p->backoff_until > now && p->backoff_until < wake)
            wake = p->backoff_until;
        zmq_pollitem_t item = {p->sock, 0, ZMQ_POLLIN, 0};
        if (p->blocked && now >= p->backoff_until)
            item.events |= ZMQ_POLLOUT;
        int n = zmq_poll(&item, 1, (long)(wake > now ? wake - now : 0));
        if (n < 0) {
            if (errno == EINTR)
                return KC_EINTR;
            kc_error("zmq_poll: %s", zmq_strerror(errno));
            return KC_EIO;
        }
        now = kc_time_mono_ms();
        if (item.revents & ZMQ_POLLOUT)
            p->blocked = false;
        if ((item.revents & ZMQ_POLLIN) && (rc = s_drain(p, now)))
            return rc;
        if (p->fenced)
            return KC_EFENCED;
        if (now >= deadline) {
            if (s_outstanding(p) && now - p->progress_ms >= p->request_timeout_ms &&
                (rc = s_reconnect(p, now)))
                return rc;
            return s_send_window(p, now);
        }
    }
}

int kc_producer_flush(kc_producer_t *p, int timeout_ms)
{
    int64_t deadline = timeout_ms < 0 ? INT64_MAX : kc_time_mono_ms() + timeout_ms;
    for (;;) {
        int64_t now = kc_time_mono_ms();
        int64_t left = deadline - now;
        int rc = kc_producer_poll(p, left > 1000 ? 1000 : (int)(left > 0 ? left : 0));
        if (rc)
            return rc;
        if (kc_producer_pending(p) == 0)
            return 0;
        if (kc_time_mono_ms() >= deadline)
            return KCI_ETIMEDOUT;
    }
}
