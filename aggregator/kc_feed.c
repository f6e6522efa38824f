/* kc_feed.c - the aggregator's live totals feed (DESIGN in kc_feed.h).
 *
 * WIRE PROTOCOL (proto/kcpipe/v1/kcpipe.proto: FeedUpdate, FeedSnapshotRequest;
 * the command words are defined in common/kc_feed_wire.h)
 *   PUB (XPUB), every frame set is [command, FeedUpdate]:
 *     ["UPD", {seq, prev_seq, time_ns, cells, units}]   one per group commit that
 *          grew the log; cells = absolute values of every cell the commit changed,
 *          units = the units that reported in it (their whole new state).
 *     ["HUGZ", {seq, prev_seq = seq, time_ns}]          every heartbeat_ms, and at
 *          once when a subscription arrives (so a new subscriber knows it is
 *          connected and may ask for its snapshot without losing an update).
 *   Snapshot ROUTER; a client's DEALER sends ["ICANHAZ?", FeedSnapshotRequest]
 *   (an empty or undecodable request body = everything, request_id 0) and gets
 *     ["SNAP", {seq = S, prev_seq = S, cells <= 1024, units (first part only),
 *      request_id}] x n, n >= 0, then ["KTHXBAI", {seq = S, prev_seq = S,
 *      request_id}].
 *   Anything else on the ROUTER is ignored. Subscriptions: clients subscribe to
 *   "" (everything); the XPUB counts subscribe (+1) and unsubscribe (-1)
 *   messages, which libzmq also generates when a subscriber disconnects.
 * Snapshot reads: cells and units are copied out of one short read transaction
 * of the store, which ends before anything is sent; replies are sent with
 * ZMQ_ROUTER_MANDATORY (a vanished client: EHOSTUNREACH) and a send timeout of
 * S_SNAP_SNDTIMEO_MS (a client that does not read), after which the rest of
 * that reply is abandoned: the client times out and asks again; a client that
 * stalled a send has its requests ignored for S_STALLED_MS.
 * Updates are sent with ZMQ_DONTWAIT on a lossy XPUB: a subscriber past its
 * high-water mark loses messages (libzmq drops them for it alone), never the
 * commit thread's time.
 */
#include "kc_feed.h"

#include "kc_err.h"
#include "kc_feed_wire.h"
#include "kc_log.h"
#include "kc_time.h"
#include "kcpipe/v1/kcpipe.pb-c.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#define S_SNAP_POLL_MS     100   /* the snapshot thread looks at its stop flag this often */
#define S_SNAP_SNDTIMEO_MS 1000  /* longest wait for one snapshot part to be queued */
#define S_STALLED_MAX      16    /* clients remembered as not reading their snapshots */
#define S_STALLED_MS       10000 /* how long their requests are ignored */
#define S_SNAP_SNDHWM      64    /* snapshot parts queued per client */
#define S_SNAP_MAXMSG      4096  /* a request is tiny */
#define S_PUB_MAXMSG       4096  /* subscription messages are tiny */
#define S_DEFAULT_SNDHWM   1000
#define S_ENDPOINT_MAX     256

typedef struct {
    kc_feed_cell_t *cells;
    size_t n, cap;
} s_cellbuf_t;

/* A client whose snapshot could not be sent within the timeout (it does not
 * read): its requests are ignored for a while, so that it cannot hold the
 * snapshot thread for a second per request and starve the other clients. */
typedef struct {
    uint8_t id[256];
    size_t len;
    uint64_t until_ms;
} s_stalled_t;

struct kc_feed {
    void *pub;         /* XPUB, commit thread */
    void *router;      /* snapshot ROUTER, snapshot thread */
    kc_store_t *store; /* borrowed; read transactions only */
    pthread_t thread;  /* the snapshot thread */
    bool thread_started;
    atomic_bool stop;            /* tells the snapshot thread to end */
    char pub_ep[S_ENDPOINT_MAX]; /* bound endpoints */
    char snap_ep[S_ENDPOINT_MAX];
    int heartbeat_ms;
    uint64_t next_hugz_ms; /* monotonic ms of the next heartbeat */
    bool seq_known;        /* last_seq is valid (a publish or tick happened) */
    uint64_t last_seq;     /* log size of the latest publish or tick */
    int64_t subscribers;
    uint64_t updates, drops;
    atomic_uint_least64_t snapshots;
    /* commit thread: protobuf scratch for an update, reused */
    Kcpipe__V1__FeedCell *pbcells;
    Kcpipe__V1__FeedCell **pbcellp;
    size_t cap_pbcells;
    Kcpipe__V1__FeedUnit pbunits[256];
    Kcpipe__V1__FeedUnit *pbunitp[256];
    /* snapshot thread: scratch */
    s_cellbuf_t snap_cells;
    kc_feed_unit_t snap_units[256];
    size_t snap_nunits;
    Kcpipe__V1__FeedCell *snap_pb;
    Kcpipe__V1__FeedCell **snap_pbp;
    Kcpipe__V1__FeedUnit snap_pbunits[256];
    Kcpipe__V1__FeedUnit *snap_pbunitp[256];
    s_stalled_t stalled[S_STALLED_MAX];
    size_t next_stalled;
};

static int s_setint(void *sock, int opt, int v)
{
    return zmq_setsockopt(sock, opt, &v, sizeof v);
}

/* Fill a FeedCell from a kc_feed_cell_t (m points into c: c must outlive pb). */
static void s_pb_cell(Kcpipe__V1__FeedCell *pb, const kc_feed_cell_t *c)
{
    kcpipe__v1__feed_cell__init(pb);
    pb->has_year = pb->has_month = pb->has_province = pb->has_activity = pb->has_kind =
        pb->has_fund = pb->has_events = 1;
    pb->year = c->key.year;
    pb->month = c->key.month;
    pb->province = c->key.province;
    pb->activity = c->key.activity;
    pb->kind = c->key.kind;
    pb->fund = c->key.fund;
    pb->events = c->cell.events;
    pb->n_m = KC_METRIC_COUNT;
    pb->m = (int64_t *)c->cell.m; /* packed only: never written through */
}

static void s_pb_unit(Kcpipe__V1__FeedUnit *pb, const kc_feed_unit_t *u)
{
    kcpipe__v1__feed_unit__init(pb);
    pb->has_unit = pb->has_last_report_ns = pb->has_last_offset = pb->has_events = 1;
    pb->unit = u->unit;
    pb->last_report_ns = u->st.last_report_ns;
    pb->last_offset = u->st.last_offset;
    pb->events = u->st.events;
}

/* Send [cmd, packed upd] on sock (with a routing id frame first if id). flags:
 * ZMQ_DONTWAIT or 0. Returns 0 or -errno. */
static int s_send_update(void *sock, const zmq_msg_t *id, const char *cmd,
                         const Kcpipe__V1__FeedUpdate *upd, int flags)
{
    if (id) {
        zmq_msg_t copy;
        zmq_msg_init(&copy);
        zmq_msg_copy(&copy, (zmq_msg_t *)id);
        if (zmq_msg_send(&copy, sock, ZMQ_SNDMORE | flags) < 0) {
            int e = errno;
            zmq_msg_close(&copy);
            return -e;
        }
    }
    if (zmq_send(sock, cmd, strlen(cmd), ZMQ_SNDMORE | flags) < 0)
        return -errno;
    size_t len = kcpipe__v1__feed_update__get_packed_size(upd);
    zmq_msg_t body;
    if (zmq_msg_init_size(&body, len) != 0)
        return KC_ENOMEM;
    kcpipe__v1__feed_update__pack(upd, zmq_msg_data(&body));
    if (zmq_msg_send(&body, sock, flags) < 0) {
        int e = errno;
        zmq_msg_close(&body);
        return -e;
    }
    return 0;
}

/* ---- snapshot thread ---- */

static int s_snap_cell(const kc_cell_key_t *key, const kc_cell_t *cell, void *ctx)
{
    s_cellbuf_t *b = ctx;
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 4096;
        kc_feed_cell_t *c = realloc(b->cells, cap * sizeof *c);
        if (!c)
            return KC_ENOMEM;
        b->cells = c;
        b->cap = cap;
    }
    b->cells[b->n++] = (kc_feed_cell_t){.key = *key, .cell = *cell};
    return 0;
}

static int s_snap_unit(uint8_t unit, const kc_unit_state_t *st, void *ctx)
{
    kc_feed_t *self = ctx;
    if (self->snap_nunits < 256)
        self->snap_units[self->snap_nunits++] = (kc_feed_unit_t){.unit = unit, .st = *st};
    return 0;
}

/* Copy the snapshot out of one short read transaction; *seq = its log size. */
static int s_snap_read(kc_feed_t *self, unsigned year_from, unsigned year_to, uint64_t *seq)
{
    self->snap_cells.n = 0;
    self->snap_nunits = 0;
    kc_txn_t *t = NULL;
    int rc = kc_store_read_begin(self->store, &t);
    if (rc != 0)
        return rc;
    kc_cell_key_t lo = kc_cell_key_min(), hi = kc_cell_key_max();
    if (year_from)
        lo.year = (uint16_t)(year_from > UINT16_MAX ? UINT16_MAX : year_from);
    if (year_to)
        hi.year = (uint16_t)(year_to > UINT16_MAX ? UINT16_MAX : year_to);
    rc = kc_txn_log_size(t, seq);
    if (rc == 0 && (!year_to || year_from <= year_to))
        rc = kc_txn_totals_scan(t, &lo, &hi, s_snap_cell, &self->snap_cells);
    if (rc == 0)
        rc = kc_txn_unit_scan(t, s_snap_unit, self);
    kc_txn_end(&t);
    return rc;
}

static bool s_is_stalled(kc_feed_t *self, const zmq_msg_t *id)
{
    size_t len = zmq_msg_size((zmq_msg_t *)id);
    uint64_t now = (uint64_t)kc_time_mono_ms();
    for (size_t i = 0; i < S_STALLED_MAX; i++) {
        s_stalled_t *st = &self->stalled[i];
        if (st->until_ms > now && st->len == len &&
            memcmp(st->id, zmq_msg_data((zmq_msg_t *)id), len) == 0)
            return true;
    }
    return false;
}

static void s_mark_stalled(kc_feed_t *self, const zmq_msg_t *id)
{
    size_t len = zmq_msg_size((zmq_msg_t *)id);
    if (len > sizeof self->stalled[0].id)
        return;
    s_stalled_t *st = &self->stalled[self->next_stalled++ % S_STALLED_MAX];
    memcpy(st->id, zmq_msg_data((zmq_msg_t *)id), len);
    st->len = len;
    st->until_ms = (uint64_t)kc_time_mono_ms() + S_STALLED_MS;
}

/* Answer one snapshot request from the client `id`. */
static void s_snap_serve(kc_feed_t *self, const zmq_msg_t *id, const zmq_msg_t *body)
{
    if (s_is_stalled(self, id)) {
        kc_debug("feed: ignored a snapshot request of a client that does not read");
        return;
    }
    Kcpipe__V1__FeedSnapshotRequest *req = NULL;
    if (body && zmq_msg_size(body) > 0)
        req = kcpipe__v1__feed_snapshot_request__unpack(NULL, zmq_msg_size(body),
                                                        zmq_msg_data((zmq_msg_t *)body));
    uint64_t request_id = req && req->has_request_id ? req->request_id : 0;
    unsigned yf = req && req->has_year_from ? req->year_from : 0;
    unsigned yt = req && req->has_year_to ? req->year_to : 0;
    if (req)
        kcpipe__v1__feed_snapshot_request__free_unpacked(req, NULL);

    uint64_t seq = 0;
    int rc = s_snap_read(self, yf, yt, &seq);
    if (rc != 0) {
        kc_warn("feed: snapshot request %llu: cannot read the store: %s",
                (unsigned long long)request_id, kc_strerror(rc));
        return; /* the client times out and asks again */
    }
    size_t n = self->snap_cells.n;
    size_t part = KC_FEED_SNAPSHOT_PART_CELLS;
    Kcpipe__V1__FeedUpdate upd;
    uint64_t now = kc_time_real_ns();
    for (size_t i = 0; i < self->snap_nunits; i++) {
        s_pb_unit(&self->snap_pbunits[i], &self->snap_units[i]);
        self->snap_pbunitp[i] = &self->snap_pbunits[i];
    }
    size_t nparts = (n + part - 1) / part;
    if (nparts == 0 && self->snap_nunits > 0)
        nparts = 1;
    for (size_t p = 0; p < nparts; p++) {
        size_t from = p * part, cnt = n - from < part ? n - from : part;
        if (from > n)
            cnt = 0;
        for (size_t i = 0; i < cnt; i++) {
            s_pb_cell(&self->snap_pb[i], &self->snap_cells.cells[from + i]);
            self->snap_pbp[i] = &self->snap_pb[i];
        }
        kcpipe__v1__feed_update__init(&upd);
        upd.has_seq = upd.has_prev_seq = upd.has_time_ns = upd.has_request_id = 1;
        upd.seq = upd.prev_seq = seq;
        upd.time_ns = now;
        upd.request_id = request_id;
        upd.n_cells = cnt;
        upd.cells = self->snap_pbp;
        if (p == 0) {
            upd.n_units = self->snap_nunits;
            upd.units = self->snap_pbunitp;
        }
        if ((rc = s_send_update(self->router, id, KC_FEED_SNAP, &upd, 0)) != 0) {
            kc_debug("feed: snapshot request %llu: part %zu not sent: %s",
                     (unsigned long long)request_id, p, zmq_strerror(-rc));
            if (rc == -EAGAIN)
                s_mark_stalled(self, id);
            return;
        }
    }
    kcpipe__v1__feed_update__init(&upd);
    upd.has_seq = upd.has_prev_seq = upd.has_time_ns = upd.has_request_id = 1;
    upd.seq = upd.prev_seq = seq;
    upd.time_ns = now;
    upd.request_id = request_id;
    if ((rc = s_send_update(self->router, id, KC_FEED_KTHXBAI, &upd, 0)) != 0) {
        kc_debug("feed: snapshot request %llu: end not sent: %s", (unsigned long long)request_id,
                 zmq_strerror(-rc));
        if (rc == -EAGAIN)
            s_mark_stalled(self, id);
        return;
    }
    atomic_fetch_add(&self->snapshots, 1);
    kc_debug("feed: snapshot at seq %llu: %zu cells, %zu units (request %llu)",
             (unsigned long long)seq, n, self->snap_nunits, (unsigned long long)request_id);
}

/* Receive one multipart message from the ROUTER (non-blocking) and serve it. */
static int s_snap_recv(kc_feed_t *self)
{
    zmq_msg_t f[3];
    int nf = 0, total = 0, more = 1;
    while (more) {
        zmq_msg_t part;
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, self->router, total == 0 ? ZMQ_DONTWAIT : 0) < 0) {
            zmq_msg_close(&part);
            for (int i = 0; i < nf; i++)
                zmq_msg_close(&f[i]);
            return 0;
        }
        more = zmq_msg_more(&part);
        if (nf < 3)
            f[nf++] = part;
        else
            zmq_msg_close(&part);
        total++;
    }
    if ((total == 2 || total == 3) && zmq_msg_size(&f[1]) == KC_FEED_CMD_LEN(KC_FEED_ICANHAZ) &&
        memcmp(zmq_msg_data(&f[1]), KC_FEED_ICANHAZ, KC_FEED_CMD_LEN(KC_FEED_ICANHAZ)) == 0)
        s_snap_serve(self, &f[0], total == 3 ? &f[2] : NULL);
    else
        kc_debug("feed: ignored a snapshot-socket message of %d frames", total);
    for (int i = 0; i < nf; i++)
        zmq_msg_close(&f[i]);
    return 1;
}

static void *s_snap_thread(void *arg)
{
    kc_feed_t *self = arg;
    while (!atomic_load(&self->stop)) {
        zmq_pollitem_t it = {.socket = self->router, .events = ZMQ_POLLIN};
        int rc = zmq_poll(&it, 1, S_SNAP_POLL_MS);
        if (rc < 0) {
            if (errno == EINTR)
                continue;
            if (errno == ETERM)
                break;
            kc_error("feed: snapshot socket poll failed: %s", zmq_strerror(errno));
            break;
        }
        if (it.revents & ZMQ_POLLIN)
            while (!atomic_load(&self->stop) && s_snap_recv(self) > 0)
                ;
    }
    return NULL;
}

/* ---- lifecycle ---- */

static int s_bind(void *sock, const char *ep, char *out, const char *what)
{
    if (!ep || !*ep) {
        kc_error("feed: no %s endpoint", what);
        return KC_EINVAL;
    }
    if (zmq_bind(sock, ep) != 0) {
        int e = errno;
        kc_error("feed: cannot bind the %s socket to %s: %s", what, ep, zmq_strerror(e));
        return e == EADDRINUSE ? KC_EBUSY : KC_EINVAL;
    }
    size_t len = S_ENDPOINT_MAX;
    if (zmq_getsockopt(sock, ZMQ_LAST_ENDPOINT, out, &len) != 0)
        return -errno;
    return 0;
}

int kc_feed_new(kc_feed_t **out, void *ctx, kc_store_t *store, const kc_feed_opts_t *opts)
{
    if (!out)
        return KC_EINVAL;
    *out = NULL;
    if (!ctx || !store || !opts)
        return KC_EINVAL;
    kc_feed_t *self = calloc(1, sizeof *self);
    if (!self)
        return KC_ENOMEM;
    self->store = store;
    atomic_init(&self->stop, false);
    atomic_init(&self->snapshots, 0);
    self->heartbeat_ms = opts->heartbeat_ms > 0 ? opts->heartbeat_ms : KC_FEED_HEARTBEAT_MS;
    int rc = 0;
    self->snap_pb = calloc(KC_FEED_SNAPSHOT_PART_CELLS, sizeof *self->snap_pb);
    self->snap_pbp = calloc(KC_FEED_SNAPSHOT_PART_CELLS, sizeof *self->snap_pbp);
    if (!self->snap_pb || !self->snap_pbp) {
        rc = KC_ENOMEM;
        goto fail;
    }
    self->pub = zmq_socket(ctx, ZMQ_XPUB);
    self->router = zmq_socket(ctx, ZMQ_ROUTER);
    if (!self->pub || !self->router) {
        rc = -errno;
        goto fail;
    }
    int64_t pubmax = S_PUB_MAXMSG, snapmax = S_SNAP_MAXMSG;
    if (s_setint(self->pub, ZMQ_XPUB_VERBOSER, 1) != 0 ||
        s_setint(self->pub, ZMQ_SNDHWM, opts->sndhwm > 0 ? opts->sndhwm : S_DEFAULT_SNDHWM) != 0 ||
        s_setint(self->pub, ZMQ_LINGER, 0) != 0 ||
        zmq_setsockopt(self->pub, ZMQ_MAXMSGSIZE, &pubmax, sizeof pubmax) != 0 ||
        s_setint(self->router, ZMQ_ROUTER_MANDATORY, 1) != 0 ||
        s_setint(self->router, ZMQ_SNDTIMEO, S_SNAP_SNDTIMEO_MS) != 0 ||
        s_setint(self->router, ZMQ_SNDHWM, S_SNAP_SNDHWM) != 0 ||
        s_setint(self->router, ZMQ_LINGER, 0) != 0 ||
        zmq_setsockopt(self->router, ZMQ_MAXMSGSIZE, &snapmax, sizeof snapmax) != 0) {
        rc = -errno;
        kc_error("feed: cannot set socket options: %s", zmq_strerror(errno));
        goto fail;
    }
    if ((rc = s_bind(self->pub, opts->pub_endpoint, self->pub_ep, "feed")) != 0 ||
        (rc = s_bind(self->router, opts->snapshot_endpoint, self->snap_ep, "snapshot")) != 0)
        goto fail;
    /* the ROUTER now belongs to the thread (pthread_create is a full barrier) */
    if (pthread_create(&self->thread, NULL, s_snap_thread, self) != 0) {
        rc = KC_ENOMEM;
        goto fail;
    }
    self->thread_started = true;
    self->next_hugz_ms = (uint64_t)kc_time_mono_ms() + (uint64_t)self->heartbeat_ms;
    *out = self;
    return 0;
fail:
    kc_feed_destroy(&self);
    return rc;
}

void kc_feed_destroy(kc_feed_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    kc_feed_t *self = *self_p;
    *self_p = NULL;
    if (self->thread_started) {
        atomic_store(&self->stop, true);
        pthread_join(self->thread, NULL);
    }
    if (self->router)
        zmq_close(self->router);
    if (self->pub)
        zmq_close(self->pub);
    free(self->pbcells);
    free(self->pbcellp);
    free(self->snap_cells.cells);
    free(self->snap_pb);
    free(self->snap_pbp);
    free(self);
}

const char *kc_feed_pub_endpoint(const kc_feed_t *self)
{
    return self->pub_ep;
}

const char *kc_feed_snapshot_endpoint(const kc_feed_t *self)
{
    return self->snap_ep;
}

/* ---- commit thread ---- */

static int s_hugz(kc_feed_t *self, uint64_t seq)
{
    Kcpipe__V1__FeedUpdate upd;
    kcpipe__v1__feed_update__init(&upd);
    upd.has_seq = upd.has_prev_seq = upd.has_time_ns = 1;
    upd.seq = upd.prev_seq = seq;
    upd.time_ns = kc_time_real_ns();
    return s_send_update(self->pub, NULL, KC_FEED_HUGZ, &upd, ZMQ_DONTWAIT);
}

int kc_feed_publish(kc_feed_t *self, uint64_t prev_seq, uint64_t seq, uint64_t time_ns,
                    const kc_feed_cell_t *cells, size_t ncells, const kc_feed_unit_t *units,
                    size_t nunits)
{
    if (!self || (ncells && !cells) || (nunits && !units) || nunits > 256)
        return KC_EINVAL;
    if (ncells > self->cap_pbcells) {
        size_t cap = ncells + ncells / 2 + 64;
        Kcpipe__V1__FeedCell *c = realloc(self->pbcells, cap * sizeof *c);
        if (c)
            self->pbcells = c;
        Kcpipe__V1__FeedCell **p = realloc(self->pbcellp, cap * sizeof *p);
        if (p)
            self->pbcellp = p;
        if (!c || !p)
            return KC_ENOMEM;
        self->cap_pbcells = cap;
    }
    for (size_t i = 0; i < ncells; i++) {
        s_pb_cell(&self->pbcells[i], &cells[i]);
        self->pbcellp[i] = &self->pbcells[i];
    }
    for (size_t i = 0; i < nunits; i++) {
        s_pb_unit(&self->pbunits[i], &units[i]);
        self->pbunitp[i] = &self->pbunits[i];
    }
    Kcpipe__V1__FeedUpdate upd;
    kcpipe__v1__feed_update__init(&upd);
    upd.has_seq = upd.has_prev_seq = upd.has_time_ns = 1;
    upd.seq = seq;
    upd.prev_seq = prev_seq;
    upd.time_ns = time_ns;
    upd.n_cells = ncells;
    upd.cells = self->pbcellp;
    upd.n_units = nunits;
    upd.units = self->pbunitp;
    self->seq_known = true;
    self->last_seq = seq;
    int rc = s_send_update(self->pub, NULL, KC_FEED_UPD, &upd, ZMQ_DONTWAIT);
    if (rc != 0) {
        self->drops++;
        kc_debug("feed: update %llu not published: %s", (unsigned long long)seq, zmq_strerror(-rc));
        return 0;
    }
    self->updates++;
    return 0;
}

void kc_feed_tick(kc_feed_t *self, uint64_t now_ms, uint64_t seq)
{
    if (!self)
        return;
    self->seq_known = true;
    self->last_seq = seq;
    if (now_ms < self->next_hugz_ms)
        return;
    self->next_hugz_ms = now_ms + (uint64_t)self->heartbeat_ms;
    s_hugz(self, seq); /* a heartbeat that cannot be sent is simply skipped */
}

void *kc_feed_pub_socket(kc_feed_t *self)
{
    return self->pub;
}

void kc_feed_handle_pub(kc_feed_t *self)
{
    bool joined = false;
    for (;;) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, self->pub, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            break;
        }
        if (zmq_msg_size(&m) >= 1) {
            uint8_t c = *(const uint8_t *)zmq_msg_data(&m);
            if (c == 1) {
                self->subscribers++;
                joined = true;
            } else if (c == 0 && self->subscribers > 0) {
                self->subscribers--;
            }
        }
        zmq_msg_close(&m);
    }
    /* a new subscriber learns at once that it is connected (kc_feedc asks for its
     * snapshot only then, so no update falls between subscription and snapshot) */
    if (joined && self->seq_known)
        s_hugz(self, self->last_seq);
}

void kc_feed_stats(const kc_feed_t *self, kc_feed_stats_t *out)
{
    memset(out, 0, sizeof *out);
    if (!self)
        return;
    out->subscribers = self->subscribers;
    out->updates = self->updates;
    out->update_drops = self->drops;
    out->snapshots = atomic_load(&((kc_feed_t *)self)->snapshots);
}
