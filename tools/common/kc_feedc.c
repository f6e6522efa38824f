/* kc_feedc.c - a client of the live totals feed (DESIGN in kc_feedc.h; the
 * wire protocol is described at the top of aggregator/kc_feed.c).
 *
 * States: JOINING (subscribed, waiting for the first PUB message, which proves
 * the subscription has reached the publisher: the aggregator sends a HUGZ to
 * every new subscription; bounded by S_JOIN_WAIT_MS, then the snapshot is
 * asked for anyway), SNAPSHOT (request sent; the SUB socket is not read, so
 * updates queue in it), SYNCED (updates applied in order). A gap or a
 * snapshot timeout goes back to SNAPSHOT with a new request_id.
 */
#include "kc_feedc.h"

#include "kc_err.h"
#include "kc_feed_wire.h"
#include "kc_log.h"
#include "kc_time.h"
#include "kcpipe/v1/kcpipe.pb-c.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#define S_JOIN_WAIT_MS   1500  /* longest wait for the first PUB message before asking */
#define S_SUB_RCVHWM     20000 /* updates queued while a snapshot is received */
#define S_MAX_MSG        ((int64_t)64 << 20)
#define S_DEFAULT_SNAPTO 5000

enum { S_JOINING = 0, S_SNAPSHOT, S_SYNCED };

struct kc_feedc {
    void *sub, *dealer;
    int state;
    int year_from, year_to;
    int snap_timeout_ms;
    uint64_t join_deadline; /* JOINING: ask for the snapshot by then */
    uint64_t snap_deadline; /* SNAPSHOT: ask again by then */
    uint64_t request_id;    /* of the snapshot in progress */
    uint64_t seq;           /* the state's sequence */
    kc_cells_mem_t *cells;  /* the state */
    kc_feedc_unit_t units[256];
    kc_cells_mem_t *snap_cells; /* the snapshot being received */
    kc_feedc_unit_t snap_units[256];
    kc_feedc_stats_t stats;
    uint64_t drop_next;   /* test hook: UPD messages still to discard */
    uint64_t last_msg_ms; /* CLOCK_MONOTONIC of the last message from the aggregator */
};

static int s_setint(void *sock, int opt, int v)
{
    return zmq_setsockopt(sock, opt, &v, sizeof v);
}

/* Send a snapshot request with a new request_id; state SNAPSHOT. */
static int s_ask(kc_feedc_t *self)
{
    kc_cells_mem_free(&self->snap_cells);
    self->snap_cells = kc_cells_mem_new();
    if (!self->snap_cells)
        return KC_ENOMEM;
    memset(self->snap_units, 0, sizeof self->snap_units);
    self->request_id++;
    Kcpipe__V1__FeedSnapshotRequest req;
    kcpipe__v1__feed_snapshot_request__init(&req);
    req.has_request_id = 1;
    req.request_id = self->request_id;
    if (self->year_from > 0) {
        req.has_year_from = 1;
        req.year_from = (uint32_t)self->year_from;
    }
    if (self->year_to > 0) {
        req.has_year_to = 1;
        req.year_to = (uint32_t)self->year_to;
    }
    uint8_t buf[64];
    size_t len = kcpipe__v1__feed_snapshot_request__pack(&req, buf);
    self->state = S_SNAPSHOT;
    self->snap_deadline = (uint64_t)kc_time_mono_ms() + (uint64_t)self->snap_timeout_ms;
    /* a DEALER queues while it is not connected; if even that fails, the
     * deadline asks again */
    if (zmq_send(self->dealer, KC_FEED_ICANHAZ, KC_FEED_CMD_LEN(KC_FEED_ICANHAZ),
                 ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(self->dealer, buf, len, ZMQ_DONTWAIT) < 0)
        kc_debug("feedc: snapshot request %llu not sent: %s", (unsigned long long)self->request_id,
                 zmq_strerror(errno));
    return 0;
}

int kc_feedc_new(kc_feedc_t **out, void *ctx, const kc_feedc_opts_t *opts)
{
    if (!out)
        return KC_EINVAL;
    *out = NULL;
    if (!ctx || !opts || !opts->pub_endpoint || !opts->snapshot_endpoint)
        return KC_EINVAL;
    kc_feedc_t *self = calloc(1, sizeof *self);
    if (!self)
        return KC_ENOMEM;
    self->year_from = opts->year_from;
    self->year_to = opts->year_to;
    self->snap_timeout_ms =
        opts->snapshot_timeout_ms > 0 ? opts->snapshot_timeout_ms : S_DEFAULT_SNAPTO;
    int rc = 0;
    self->cells = kc_cells_mem_new();
    self->sub = zmq_socket(ctx, ZMQ_SUB);
    self->dealer = zmq_socket(ctx, ZMQ_DEALER);
    if (!self->cells || !self->sub || !self->dealer) {
        rc = self->cells ? -errno : KC_ENOMEM;
        goto fail;
    }
    int64_t maxmsg = S_MAX_MSG;
    if (s_setint(self->sub, ZMQ_RCVHWM, S_SUB_RCVHWM) != 0 ||
        s_setint(self->sub, ZMQ_LINGER, 0) != 0 ||
        zmq_setsockopt(self->sub, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) != 0 ||
        zmq_setsockopt(self->sub, ZMQ_SUBSCRIBE, "", 0) != 0 ||
        s_setint(self->dealer, ZMQ_LINGER, 0) != 0 ||
        zmq_setsockopt(self->dealer, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) != 0) {
        rc = -errno;
        goto fail;
    }
    if (zmq_connect(self->sub, opts->pub_endpoint) != 0 ||
        zmq_connect(self->dealer, opts->snapshot_endpoint) != 0) {
        kc_error("feedc: cannot connect to %s / %s: %s", opts->pub_endpoint,
                 opts->snapshot_endpoint, zmq_strerror(errno));
        rc = KC_EINVAL;
        goto fail;
    }
    self->state = S_JOINING;
    self->join_deadline = (uint64_t)kc_time_mono_ms() + S_JOIN_WAIT_MS;
    self->last_msg_ms = (uint64_t)kc_time_mono_ms();
    *out = self;
    return 0;
fail:
    kc_feedc_destroy(&self);
    return rc;
}

void kc_feedc_destroy(kc_feedc_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    kc_feedc_t *self = *self_p;
    *self_p = NULL;
    if (self->sub)
        zmq_close(self->sub);
    if (self->dealer)
        zmq_close(self->dealer);
    kc_cells_mem_free(&self->cells);
    kc_cells_mem_free(&self->snap_cells);
    free(self);
}

/* Receive [cmd, body] (non-blocking). Returns 1 with both set, 0 if nothing
 * was waiting, or a negative code. A message of another shape is dropped (1
 * with *upd NULL). */
static int s_recv(void *sock, char *cmd, size_t cap, Kcpipe__V1__FeedUpdate **upd)
{
    *upd = NULL;
    cmd[0] = '\0';
    int nf = 0, more = 1;
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, sock, nf == 0 ? ZMQ_DONTWAIT : 0) < 0) {
            int e = errno;
            zmq_msg_close(&m);
            if (nf == 0 && (e == EAGAIN || e == EINTR))
                return 0;
            return -e;
        }
        more = zmq_msg_more(&m);
        if (nf == 0) {
            size_t n = zmq_msg_size(&m) < cap - 1 ? zmq_msg_size(&m) : cap - 1;
            memcpy(cmd, zmq_msg_data(&m), n);
            cmd[n] = '\0';
        } else if (nf == 1 && !more) {
            *upd = kcpipe__v1__feed_update__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
        }
        zmq_msg_close(&m);
        nf++;
    }
    if (nf != 2 && *upd) {
        kcpipe__v1__feed_update__free_unpacked(*upd, NULL);
        *upd = NULL;
    }
    return 1;
}

static int s_put_cells(kc_cells_mem_t *mem, const Kcpipe__V1__FeedUpdate *u)
{
    for (size_t i = 0; i < u->n_cells; i++) {
        const Kcpipe__V1__FeedCell *c = u->cells[i];
        kc_cell_key_t key = {.year = (uint16_t)c->year,
                             .month = (uint8_t)c->month,
                             .province = (uint8_t)c->province,
                             .activity = (uint8_t)c->activity,
                             .kind = (uint8_t)c->kind,
                             .fund = (uint8_t)c->fund};
        kc_cell_t cell = {.events = c->events};
        for (size_t k = 0; k < c->n_m && k < KC_METRIC_COUNT; k++)
            cell.m[k] = c->m[k];
        int rc = kc_cells_mem_put(mem, &key, &cell);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static void s_put_units(kc_feedc_unit_t *units, const Kcpipe__V1__FeedUpdate *u)
{
    for (size_t i = 0; i < u->n_units; i++) {
        const Kcpipe__V1__FeedUnit *x = u->units[i];
        if (x->unit == 0 || x->unit > 255)
            continue;
        units[x->unit] = (kc_feedc_unit_t){.last_report_ns = x->last_report_ns,
                                           .last_offset = x->last_offset,
                                           .events = x->events};
    }
}

/* A gap: ask for a fresh snapshot (the current state stays readable meanwhile). */
static int s_gap(kc_feedc_t *self, uint64_t prev, uint64_t seq)
{
    self->stats.resyncs++;
    kc_debug("feedc: gap at seq %llu (update %llu..%llu): resync", (unsigned long long)self->seq,
             (unsigned long long)prev, (unsigned long long)seq);
    return s_ask(self);
}

/* One PUB message. Returns 1 if the state changed, 0 if not, < 0 on error. */
static int s_on_pub(kc_feedc_t *self, const char *cmd, const Kcpipe__V1__FeedUpdate *u)
{
    bool upd = strcmp(cmd, KC_FEED_UPD) == 0, hugz = strcmp(cmd, KC_FEED_HUGZ) == 0;
    if (!u || (!upd && !hugz))
        return 0;
    if (self->state == S_JOINING) /* subscribed: now the snapshot */
        return s_ask(self) < 0 ? KC_ENOMEM : 0;
    if (self->state != S_SYNCED)
        return 0;
    if (upd && self->drop_next > 0) {
        self->drop_next--; /* test hook: as if lost on the way */
        return 0;
    }
    if (hugz) {
        if (u->seq > self->seq)
            return s_gap(self, u->prev_seq, u->seq) < 0 ? KC_ENOMEM : 0;
        return 0;
    }
    if (u->seq <= self->seq) {
        self->stats.skipped++;
        return 0;
    }
    if (u->prev_seq != self->seq)
        return s_gap(self, u->prev_seq, u->seq) < 0 ? KC_ENOMEM : 0;
    int rc = s_put_cells(self->cells, u);
    if (rc != 0)
        return rc;
    s_put_units(self->units, u);
    self->seq = u->seq;
    self->stats.updates++;
    return 1;
}

/* One snapshot-socket message. Returns 1 if a snapshot completed. */
static int s_on_snap(kc_feedc_t *self, const char *cmd, const Kcpipe__V1__FeedUpdate *u)
{
    if (!u || self->state != S_SNAPSHOT || u->request_id != self->request_id)
        return 0; /* stale (an earlier request's) or not asked for */
    bool snap = strcmp(cmd, KC_FEED_SNAP) == 0, end = strcmp(cmd, KC_FEED_KTHXBAI) == 0;
    if (!snap && !end)
        return 0;
    int rc = s_put_cells(self->snap_cells, u);
    if (rc != 0)
        return rc;
    s_put_units(self->snap_units, u);
    if (!end)
        return 0;
    kc_cells_mem_free(&self->cells);
    self->cells = self->snap_cells;
    self->snap_cells = NULL;
    memcpy(self->units, self->snap_units, sizeof self->units);
    self->seq = u->seq;
    self->state = S_SYNCED;
    self->stats.snapshots++;
    kc_debug("feedc: snapshot at seq %llu: %zu cells", (unsigned long long)self->seq,
             kc_cells_mem_count(self->cells));
    return 1;
}

/* Process everything waiting on both sockets. */
static int s_drain(kc_feedc_t *self)
{
    int changed = 0;
    for (int guard = 0; guard < 100000; guard++) {
        char cmd[KC_FEED_CMD_MAX + 1];
        Kcpipe__V1__FeedUpdate *u = NULL;
        int got = 0, rc = 0;
        if ((rc = s_recv(self->dealer, cmd, sizeof cmd, &u)) < 0)
            return rc;
        if (rc > 0) {
            got = 1;
            rc = s_on_snap(self, cmd, u);
            if (u)
                kcpipe__v1__feed_update__free_unpacked(u, NULL);
            if (rc < 0)
                return rc;
            changed |= rc;
            continue; /* snapshot parts first: they may complete the state */
        }
        if (self->state != S_SNAPSHOT) { /* while a snapshot is pending, updates wait */
            if ((rc = s_recv(self->sub, cmd, sizeof cmd, &u)) < 0)
                return rc;
            if (rc > 0) {
                got = 1;
                rc = s_on_pub(self, cmd, u);
                if (u)
                    kcpipe__v1__feed_update__free_unpacked(u, NULL);
                if (rc < 0)
                    return rc;
                changed |= rc;
            }
        }
        if (!got)
            break;
        self->last_msg_ms = (uint64_t)kc_time_mono_ms();
    }
    return changed;
}

/* Deadlines: join wait over, snapshot timed out. */
static int s_timers(kc_feedc_t *self)
{
    uint64_t now = (uint64_t)kc_time_mono_ms();
    if (self->state == S_JOINING && now >= self->join_deadline)
        return s_ask(self);
    if (self->state == S_SNAPSHOT && now >= self->snap_deadline) {
        kc_debug("feedc: snapshot request %llu timed out; asking again",
                 (unsigned long long)self->request_id);
        return s_ask(self);
    }
    return 0;
}

int kc_feedc_poll(kc_feedc_t *self, int timeout_ms)
{
    if (!self)
        return KC_EINVAL;
    uint64_t until = (uint64_t)kc_time_mono_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
    int changed = 0;
    for (;;) {
        int rc = s_timers(self);
        if (rc < 0)
            return rc;
        if ((rc = s_drain(self)) < 0)
            return rc;
        changed |= rc;
        uint64_t now = (uint64_t)kc_time_mono_ms();
        if (changed || now >= until)
            return changed;
        uint64_t wake = until;
        if (self->state == S_JOINING && self->join_deadline < wake)
            wake = self->join_deadline;
        if (self->state == S_SNAPSHOT && self->snap_deadline < wake)
            wake = self->snap_deadline;
        zmq_pollitem_t it[2] = {{.socket = self->dealer, .events = ZMQ_POLLIN},
                                {.socket = self->sub, .events = ZMQ_POLLIN}};
        int n = self->state == S_SNAPSHOT ? 1 : 2;
        long wait = wake > now ? (long)(wake - now) : 0;
        if (zmq_poll(it, n, wait) < 0 && errno != EINTR)
            return -errno;
    }
}

uint64_t kc_feedc_quiet_ms(const kc_feedc_t *self)
{
    uint64_t now = (uint64_t)kc_time_mono_ms();
    return now > self->last_msg_ms ? now - self->last_msg_ms : 0;
}

bool kc_feedc_synced(const kc_feedc_t *self)
{
    return self && self->state == S_SYNCED;
}

uint64_t kc_feedc_seq(const kc_feedc_t *self)
{
    return self ? self->seq : 0;
}

kc_cells_mem_t *kc_feedc_cells(kc_feedc_t *self)
{
    return self ? self->cells : NULL;
}

kc_feedc_unit_t kc_feedc_unit(const kc_feedc_t *self, uint8_t unit)
{
    kc_feedc_unit_t z = {0};
    return self ? self->units[unit] : z;
}

void kc_feedc_stats(const kc_feedc_t *self, kc_feedc_stats_t *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof *out);
    if (self)
        *out = self->stats;
}

void kc_feedc_test_drop_updates(kc_feedc_t *self, uint64_t n)
{
    if (self)
        self->drop_next = n;
}
