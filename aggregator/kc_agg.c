/* kc_agg.c - the aggregator daemon loop (DESIGN in kc_agg.h). */
#include "kc_agg.h"
#include "kc_service.h"

#include "kc_audit.h"
#include "kc_auth.h"
#include "kc_feed.h"
#ifdef KC_HAVE_HTTP
#include "kc_http.h"
#include "kc_metrics.h"
#endif
#include "kc_cert.h"
#include "kc_err.h"
#include "kc_log.h"
#include "kc_store_int.h" /* the MDB_env, for mdb_reader_check (fault hooks) */

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define S_POLL_MAX_MS     100 /* longest wait before the stop flag is checked again */
#define S_ROUTING_ID_MAX  255
#define S_SNDHWM          10000 /* Acks queued per peer before an Ack is dropped (EAGAIN) */
#define S_RCVHWM          64    /* Batches queued per peer before libzmq stops reading it */
#define S_LINGER_MS       2000  /* on exit, how long queued Acks may still be flushed */
#define S_READER_CHECK_MS 2000  /* period of the stale reader slot check */
#define S_HANDSHAKE_MS    10000 /* a peer that has not completed its handshake by then is dropped */

#ifndef ZMQ_ZAP_ENFORCE_DOMAIN
#define ZMQ_ZAP_ENFORCE_DOMAIN 93 /* libzmq 4.3 draft option; setting it fails if unsupported */
#endif

/* Where the Ack of a group's message goes. */
typedef struct {
    uint8_t id[S_ROUTING_ID_MAX]; /* ROUTER routing id of the peer */
    size_t len;                   /* its length */
    bool delim;                   /* the request had an empty delimiter frame */
} s_route_t;

struct kc_agg {
    void *zctx;                    /* ZeroMQ context */
    void *sock;                    /* the ROUTER socket */
    kc_store_t *store;             /* the open store */
    kc_apply_t *group;             /* the group being collected */
    s_route_t *routes;             /* one per message of the group */
    size_t cap_routes;             /* allocated routes */
    uint64_t group_t0;             /* monotonic ms of the group's first message */
    char endpoint[256];            /* ZMQ_LAST_ENDPOINT */
    size_t group_max;              /* events per group */
    size_t group_max_msgs;         /* messages per group (empty batches carry no event) */
    int window_ms;                 /* longest wait to fill a group */
    int stats_ms;                  /* period of the debug counter line */
    int sth_ms;                    /* least time between signed heads (0: every commit) */
    kc_agg_counters_t total;       /* counters since start */
    uint64_t dropped_messages;     /* malformed multipart messages dropped */
    uint64_t undelivered_acks;     /* Acks that could not be sent */
    uint64_t stale_readers;        /* reader slots of dead processes cleared (fault hooks) */
    kc_auth_t *auth;               /* ZAP handler + registry; NULL without CURVE */
    char *registry_file;           /* its file, for reloads */
    unsigned generation;           /* registry loads */
    volatile sig_atomic_t *reload; /* SIGHUP flag of the caller, or NULL */
    void (*on_reload)(void *ctx);  /* the caller's config reload, or NULL */
    void *on_reload_ctx;
    kc_feed_t *feed;         /* the live feed, or NULL */
    uint64_t feed_seq;       /* log size as last published (heartbeats carry it) */
    bool head_behind;        /* the log grew since the last signed head may cover it */
    uint64_t last_growth_ms; /* when a commit last grew the log */
#ifdef KC_HAVE_HTTP
    kc_metrics_t *metrics; /* with http: counters for /metrics */
    kc_http_t *http;       /* the HTTP server, or NULL */
#endif
    char http_url[160]; /* "http://ADDR:PORT/", "" without */
    unsigned http_port;
};

static uint64_t s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* mkdir -p of the parents of path (the store creates the last component). */
static int s_mkdir_parents(const char *path)
{
    char buf[4096];
    size_t n = strlen(path);
    if (n >= sizeof buf)
        return KC_EINVAL;
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i < n; i++) {
        if (buf[i] != '/')
            continue;
        buf[i] = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return -errno;
        buf[i] = '/';
    }
    return 0;
}

static int s_write_ready_file(const char *file, const char *endpoint, kc_agg_t *self)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", file, (long)getpid()) >= (int)sizeof tmp)
        return KC_EINVAL;
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -errno;
    int ok = fprintf(f, "%s\n", endpoint) > 0;
    if (self->feed)
        ok = fprintf(f, "feed %s\nsnapshot %s\n", kc_feed_pub_endpoint(self->feed),
                     kc_feed_snapshot_endpoint(self->feed)) > 0 &&
             ok;
    if (self->http_url[0])
        ok = fprintf(f, "http %s\n", self->http_url) > 0 && ok;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, file) != 0) {
        int rc = errno ? -errno : KC_EIO;
        unlink(tmp);
        return rc;
    }
    return 0;
}

static int s_setopt_int(void *sock, int opt, int value)
{
    return zmq_setsockopt(sock, opt, &value, sizeof value);
}

/* Make the ROUTER a CURVE server authenticated by the ZAP handler (fail closed):
 * registry, handler, then the socket options; any failure stops the start. */
static int s_security_setup(kc_agg_t *self, const kc_agg_opts_t *opts)
{
    if (!opts->registry_file) {
        kc_error("CURVE needs a producer registry (--registry)");
        return KC_EINVAL;
    }
    if (!zmq_has("curve")) {
        kc_error("this libzmq has no CURVE support");
        return KC_EINVAL;
    }
    kc_cert_t cert;
    int rc = kc_cert_load(opts->curve_secret_file, true, &cert);
    if (rc != 0) {
        kc_error("cannot read the secret certificate %s: %s", opts->curve_secret_file,
                 kc_strerror(rc));
        return rc;
    }
    char pub[KC_CERT_KEY_LEN + 1];
    if (zmq_curve_public(pub, cert.secret_key) != 0 || strcmp(pub, cert.public_key) != 0) {
        kc_error("%s: its public-key does not belong to its secret-key", opts->curve_secret_file);
        memset(&cert, 0, sizeof cert);
        return KC_EFORMAT;
    }
    if (cert.group_or_other_access)
        kc_warn("KC-SEC-010 the secret certificate %s is readable by others than its owner; "
                "chmod 600 it",
                opts->curve_secret_file);
    self->registry_file = strdup(opts->registry_file);
    if (!self->registry_file)
        return KC_ENOMEM;
    kc_auth_registry_t *reg = NULL;
    rc = kc_auth_registry_load(opts->registry_file, &reg);
    if (rc != 0) {
        kc_error("cannot load the producer registry %s: %s", opts->registry_file, kc_strerror(rc));
        memset(&cert, 0, sizeof cert);
        return rc;
    }
    size_t revoked, n = kc_auth_registry_count(reg, &revoked);
    rc = kc_auth_new(&self->auth, self->zctx, reg); /* binds the ZAP endpoint first */
    if (rc != 0) {
        memset(&cert, 0, sizeof cert);
        return rc;
    }
    self->generation = 1;
    int on = 1;
    if (zmq_setsockopt(self->sock, ZMQ_ZAP_DOMAIN, KC_AUTH_DOMAIN, strlen(KC_AUTH_DOMAIN)) != 0 ||
        zmq_setsockopt(self->sock, ZMQ_ZAP_ENFORCE_DOMAIN, &on, sizeof on) != 0 ||
        zmq_setsockopt(self->sock, ZMQ_CURVE_SERVER, &on, sizeof on) != 0 ||
        zmq_setsockopt(self->sock, ZMQ_CURVE_SECRETKEY, cert.secret_key, KC_CERT_KEY_LEN) != 0) {
        kc_error("cannot make the socket a CURVE server with ZAP enforced: %s",
                 zmq_strerror(errno));
        memset(&cert, 0, sizeof cert);
        return KC_EINVAL;
    }
    memset(&cert, 0, sizeof cert);
    kc_info("KC-SEC-005 registry loaded: generation=1 keys=%zu revoked=%zu file=%s; CURVE on, "
            "server key %s",
            n, revoked, opts->registry_file, pub);
    return 0;
}

bool kc_agg_http_addr_is_local(const char *addr)
{
    if (!addr)
        return true; /* the default, 127.0.0.1 */
    if (strcmp(addr, "::1") == 0 || strcmp(addr, "[::1]") == 0 || strcmp(addr, "localhost") == 0)
        return true;
    if (strncmp(addr, "127.", 4) != 0)
        return false;
    int dots = 0;
    for (const char *p = addr + 4; *p; p++) {
        if (*p == '.')
            dots++;
        else if (*p < '0' || *p > '9')
            return false;
    }
    return dots == 2;
}

/* The live feed and the HTTP server, after the store and the ROUTER. */
static int s_monitoring_setup(kc_agg_t *self, const kc_agg_opts_t *opts, const char *dir)
{
    int rc;
    if (opts->feed_endpoint) {
        const char *snap = opts->feed_snapshot_endpoint;
        if (!snap) {
            kc_error("the feed needs a snapshot endpoint (--feed-snapshot)");
            return KC_EINVAL;
        }
        if (!opts->insecure &&
            (!kc_auth_endpoint_is_local(opts->feed_endpoint) || !kc_auth_endpoint_is_local(snap))) {
            kc_error("refusing a plaintext feed on %s / %s: only loopback or ipc endpoints "
                     "(--insecure overrides)",
                     opts->feed_endpoint, snap);
            return KC_EINVAL;
        }
        kc_txn_t *t = NULL;
        if ((rc = kc_store_read_begin(self->store, &t)) != 0)
            return rc;
        rc = kc_txn_log_size(t, &self->feed_seq);
        kc_txn_end(&t);
        if (rc != 0)
            return rc;
        kc_feed_opts_t fo = {.pub_endpoint = opts->feed_endpoint,
                             .snapshot_endpoint = snap,
                             .heartbeat_ms = opts->feed_heartbeat_ms,
                             .sndhwm = opts->feed_sndhwm};
        if ((rc = kc_feed_new(&self->feed, self->zctx, self->store, &fo)) != 0)
            return rc;
        kc_apply_set_track_cells(self->group, true);
        kc_feed_tick(self->feed, 0, self->feed_seq); /* the seq a new subscriber is told */
        kc_info("feed on %s, snapshots on %s", kc_feed_pub_endpoint(self->feed),
                kc_feed_snapshot_endpoint(self->feed));
    }
    if (opts->http) {
        if (!opts->insecure && !kc_agg_http_addr_is_local(opts->http_addr)) {
            kc_error("refusing to serve HTTP on %s: only loopback (--insecure overrides; put a "
                     "TLS reverse proxy in front, docs/MONITORING.md)",
                     opts->http_addr);
            return KC_EINVAL;
        }
#ifdef KC_HAVE_HTTP
        self->metrics = kc_metrics_new();
        if (!self->metrics)
            return KC_ENOMEM;
        kc_http_opts_t ho = {.addr = opts->http_addr,
                             .port = opts->http_port,
                             .store = self->store,
                             .store_dir = dir,
                             .metrics = self->metrics};
        if ((rc = kc_http_start(&self->http, &ho)) != 0) {
            kc_error("cannot serve HTTP on %s port %u: %s",
                     opts->http_addr ? opts->http_addr : KC_HTTP_DEFAULT_ADDR, opts->http_port,
                     kc_strerror(rc));
            return rc;
        }
        self->http_port = kc_http_port(self->http);
        const char *a = opts->http_addr ? opts->http_addr : KC_HTTP_DEFAULT_ADDR;
        bool v6 = strchr(a, ':') && a[0] != '[';
        snprintf(self->http_url, sizeof self->http_url, "http://%s%s%s:%u/", v6 ? "[" : "", a,
                 v6 ? "]" : "", self->http_port);
        kc_info("HTTP API on %s", self->http_url);
#else
        (void)dir;
        kc_error("this build has no HTTP server");
        return KC_EINVAL;
#endif
    }
    (void)dir;
    return 0;
}

int kc_agg_new(kc_agg_t **out, const kc_agg_opts_t *opts)
{
    *out = NULL;
    kc_agg_t *self = calloc(1, sizeof *self);
    if (!self)
        return KC_ENOMEM;
    const char *listen = opts->listen ? opts->listen : KC_AGG_DEFAULT_LISTEN;
    const char *dir = opts->store_dir ? opts->store_dir : KC_AGG_DEFAULT_STORE;
    self->group_max = opts->group_max ? opts->group_max : KC_AGG_DEFAULT_GROUP_MAX;
    self->group_max_msgs = self->group_max < 1024 ? 1024 : self->group_max;
    self->window_ms =
        opts->group_window_ms >= 0 ? opts->group_window_ms : KC_AGG_DEFAULT_GROUP_WINDOW_MS;
    self->stats_ms = opts->stats_interval_ms > 0 ? opts->stats_interval_ms : 10000;
    self->sth_ms = opts->sth_interval_ms == 0  ? KC_AGG_DEFAULT_STH_INTERVAL_MS
                   : opts->sth_interval_ms < 0 ? 0
                                               : opts->sth_interval_ms;
    int rc = 0;

    self->group = kc_apply_new();
    if (!self->group) {
        rc = KC_ENOMEM;
        goto fail;
    }
    if (opts->checkpoint_every != 0)
        kc_apply_set_checkpoint_every(
            self->group, opts->checkpoint_every < 0 ? 0 : (uint64_t)opts->checkpoint_every);
    rc = s_mkdir_parents(dir);
    if (rc != 0) {
        kc_error("KC-AGG-008 cannot create the parents of %s: %s", dir, kc_strerror(rc));
        goto fail;
    }
    kc_store_opts_t sopts = {.read_only = false, .map_size = opts->map_size, .max_readers = 0};
    rc = kc_store_open(&self->store, dir, &sopts);
    if (rc != 0) {
        kc_error("KC-AGG-008 cannot open the store %s: %s", dir, kc_strerror(rc));
        goto fail;
    }
    kc_store_set_head_interval(self->store, self->sth_ms); /* heads inside group commits */
    self->zctx = zmq_ctx_new();
    if (!self->zctx) {
        rc = -errno;
        goto fail;
    }
    self->sock = zmq_socket(self->zctx, ZMQ_ROUTER);
    if (!self->sock) {
        rc = -errno;
        goto fail;
    }
    int64_t maxmsg = KC_MAX_MSG_SIZE; /* larger messages: libzmq drops the connection */
    if (zmq_setsockopt(self->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) != 0 ||
        s_setopt_int(self->sock, ZMQ_ROUTER_MANDATORY, 1) != 0 ||
        s_setopt_int(self->sock, ZMQ_SNDHWM, S_SNDHWM) != 0 ||
        s_setopt_int(self->sock, ZMQ_RCVHWM, S_RCVHWM) != 0 ||
        s_setopt_int(self->sock, ZMQ_LINGER, S_LINGER_MS) != 0 ||
        s_setopt_int(self->sock, ZMQ_HANDSHAKE_IVL, S_HANDSHAKE_MS) != 0) {
        rc = -errno;
        kc_error("cannot set socket options: %s", zmq_strerror(errno));
        goto fail;
    }
    self->reload = opts->reload;
    self->on_reload = opts->on_reload;
    self->on_reload_ctx = opts->on_reload_ctx;
    if (opts->curve_secret_file) {
        if ((rc = s_security_setup(self, opts)) != 0)
            goto fail;
    } else if (opts->registry_file) {
        kc_error("a producer registry needs CURVE (--curve-secret)");
        rc = KC_EINVAL;
        goto fail;
    } else if (!kc_auth_endpoint_is_local(listen)) {
        if (!opts->insecure) {
            kc_error("refusing to listen on %s without CURVE keys: only loopback or ipc "
                     "endpoints may be plaintext (give --curve-secret and --registry, or "
                     "--insecure)",
                     listen);
            rc = KC_EINVAL;
            goto fail;
        }
        kc_warn("KC-SEC-008 INSECURE: plaintext and unauthenticated on %s (--insecure): anyone "
                "who can reach it can report for any province",
                listen);
    } else {
        kc_info("KC-SEC-007 no CURVE keys: plaintext and unauthenticated, on the local "
                "endpoint %s only",
                listen);
    }
    if (zmq_bind(self->sock, listen) != 0) {
        int e = errno;
        kc_error("KC-AGG-009 cannot listen on %s: %s", listen, zmq_strerror(e));
        rc = e == EADDRINUSE ? KC_EBUSY : KC_EINVAL;
        goto fail;
    }
    size_t elen = sizeof self->endpoint;
    if (zmq_getsockopt(self->sock, ZMQ_LAST_ENDPOINT, self->endpoint, &elen) != 0) {
        rc = -errno;
        goto fail;
    }
    if ((rc = s_monitoring_setup(self, opts, dir)) != 0)
        goto fail;
    if (opts->ready_file) {
        rc = s_write_ready_file(opts->ready_file, self->endpoint, self);
        if (rc != 0) {
            kc_error("cannot write the ready file %s: %s", opts->ready_file, kc_strerror(rc));
            goto fail;
        }
    }
    *out = self;
    return 0;
fail:
    kc_agg_destroy(&self);
    return rc;
}

void kc_agg_destroy(kc_agg_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    kc_agg_t *self = *self_p;
#ifdef KC_HAVE_HTTP
    kc_http_stop(&self->http); /* its threads read the store */
#endif
    kc_feed_destroy(&self->feed); /* its thread reads the store; its sockets are of zctx */
    if (self->sock)
        zmq_close(self->sock);
    kc_auth_destroy(&self->auth); /* before the context ends: it owns sockets of it */
    free(self->registry_file);
    if (self->zctx)
        zmq_ctx_term(self->zctx); /* waits up to S_LINGER_MS for queued Acks */
    kc_store_close(&self->store);
    kc_apply_destroy(&self->group);
#ifdef KC_HAVE_HTTP
    kc_metrics_free(&self->metrics);
#endif
    free(self->routes);
    free(self);
    *self_p = NULL;
}

int kc_agg_reload(kc_agg_t *self)
{
    if (!self->auth) {
        kc_warn("reload asked, but there is no registry (no CURVE)");
        return KC_EINVAL;
    }
    kc_auth_registry_t *reg = NULL;
    int rc = kc_auth_registry_load(self->registry_file, &reg);
    if (rc != 0) {
        kc_error("KC-SEC-006 registry reload failed (%s): %s; generation %u stays in force",
                 self->registry_file, kc_strerror(rc), self->generation);
        return rc;
    }
    size_t revoked, n = kc_auth_registry_count(reg, &revoked);
    rc = kc_auth_swap(self->auth, reg);
    if (rc != 0) {
        kc_error("KC-SEC-006 registry reload failed: the ZAP handler did not answer: %s",
                 kc_strerror(rc));
        return rc;
    }
    self->generation++;
    kc_info("KC-SEC-005 registry reloaded: generation=%u keys=%zu revoked=%zu file=%s",
            self->generation, n, revoked, self->registry_file);
    return 0;
}

unsigned kc_agg_registry_generation(const kc_agg_t *self)
{
    return self->generation;
}

const char *kc_agg_endpoint(const kc_agg_t *self)
{
    return self->endpoint;
}
const char *kc_agg_feed_endpoint(const kc_agg_t *self)
{
    return self->feed ? kc_feed_pub_endpoint(self->feed) : NULL;
}
const char *kc_agg_snapshot_endpoint(const kc_agg_t *self)
{
    return self->feed ? kc_feed_snapshot_endpoint(self->feed) : NULL;
}
unsigned kc_agg_http_port(const kc_agg_t *self)
{
    return self->http_port;
}
const kc_agg_counters_t *kc_agg_counters(const kc_agg_t *self)
{
    return &self->total;
}

void kc_agg_log_counters(const kc_agg_t *self, int level, const char *what)
{
    const kc_agg_counters_t *c = &self->total;
    char reasons[1024] = "";
    size_t off = 0;
    for (int r = 2; r < KC_REASON_SLOTS; r++) { /* 0 accepted, 1 duplicate: counted above */
        if (!c->by_reason[r] || off >= sizeof reasons)
            continue;
        int n = snprintf(reasons + off, sizeof reasons - off, " %s=%llu", kc_reason_name(r),
                         (unsigned long long)c->by_reason[r]);
        if (n > 0)
            off += (size_t)n;
    }
    char zap[96] = "";
    if (self->auth) {
        uint64_t acc, ref;
        kc_auth_counts(self->auth, &acc, &ref);
        snprintf(zap, sizeof zap, " handshakes_accepted=%llu handshakes_refused=%llu",
                 (unsigned long long)acc, (unsigned long long)ref);
    }
    kc_log((kc_log_level_t)level,
           "%s: batches=%llu events=%llu accepted=%llu duplicates=%llu rejected=%llu "
           "resent=%llu gaps=%llu unplaceable=%llu bad_batches=%llu fenced=%llu unavailable=%llu "
           "commits=%llu dropped_messages=%llu undelivered_acks=%llu%s%s%s",
           what, (unsigned long long)c->batches, (unsigned long long)c->events,
           (unsigned long long)c->accepted, (unsigned long long)c->duplicates,
           (unsigned long long)c->rejected, (unsigned long long)c->resent,
           (unsigned long long)c->gaps, (unsigned long long)c->unplaceable,
           (unsigned long long)c->bad_batches, (unsigned long long)c->fenced,
           (unsigned long long)c->unavailable, (unsigned long long)c->commits,
           (unsigned long long)self->dropped_messages, (unsigned long long)self->undelivered_acks,
           zap, off ? "; rejected by reason:" : "", reasons);
    kc_log((kc_log_level_t)level, "%s: stale_readers=%llu (reader slots of dead processes cleared)",
           what, (unsigned long long)self->stale_readers);
}

/* Clear the reader slots of processes that died inside a read transaction (a
 * kc-query killed mid-read): each pins the snapshot it read, so LMDB could not
 * reuse the pages freed after it and the file would grow without bound. Run at
 * start and every S_READER_CHECK_MS. */
static void s_reader_check(kc_agg_t *self)
{
    int dead = 0;
    int mrc = mdb_reader_check(self->store->env, &dead);
    if (mrc != MDB_SUCCESS) {
        kc_warn("KC-AGG-011 checking for stale readers failed: %s", mdb_strerror(mrc));
        return;
    }
#ifdef KC_HAVE_HTTP
    if (dead > 0 && self->metrics)
        kc_metrics_readers_cleared(self->metrics, (unsigned)dead);
#endif
    if (dead > 0) {
        self->stale_readers += (uint64_t)dead;
        kc_info("KC-AGG-012 cleared %d stale reader slot(s) (dead readers; %llu so far)", dead,
                (unsigned long long)self->stale_readers);
    }
}

/* Room for the route of one more message of the group. */
static int s_routes_reserve(kc_agg_t *self)
{
    size_t n = kc_apply_count(self->group);
    if (n < self->cap_routes)
        return 0;
    size_t cap = self->cap_routes * 2 + 64;
    s_route_t *r = realloc(self->routes, cap * sizeof *r);
    if (!r)
        return KC_ENOMEM;
    self->routes = r;
    self->cap_routes = cap;
    return 0;
}

/* Add the Batch in body to the group, with the grant of the key that sent it
 * when CURVE is on. Returns 0 (added, or dropped: KC-SEC-012) or KC_ENOMEM. */
static int s_add(kc_agg_t *self, zmq_msg_t *body)
{
    if (!self->auth)
        return kc_apply_add(self->group, zmq_msg_data(body), zmq_msg_size(body));
    const char *uid = zmq_msg_gets(body, "User-Id");
    const char *key = zmq_msg_gets(body, KC_AUTH_KEY_PROPERTY);
    if (!uid || !key) {
        /* libzmq attaches both to every message of a CURVE connection the handler
         * accepted: no reply, there is nobody authenticated to answer */
        self->dropped_messages++;
        kc_warn("KC-SEC-012 dropped a message without an authenticated key");
        return 0;
    }
    const kc_auth_entry_t *e = kc_auth_registry_find(kc_auth_current(self->auth), key);
    kc_apply_grant_t g = {.producer_id = uid};
    if (!e || e->revoked || strcmp(e->producer_id, uid) != 0) {
        g.revoked = true; /* revoked or removed (or re-assigned) since the handshake */
    } else {
        g.provinces[0] = e->provinces[0];
        g.provinces[1] = e->provinces[1];
        g.any_province = e->any_province;
    }
    return kc_apply_add_granted(self->group, zmq_msg_data(body), zmq_msg_size(body), &g);
}

/* Receive one multipart message without blocking. Returns 1 if a message was
 * taken (added to the group or dropped), 0 if none was waiting, < 0 on a socket
 * error. */
static int s_recv_one(kc_agg_t *self)
{
    zmq_msg_t f[3];
    int nf = 0, total = 0, more = 1;
    int rc = 1;
    while (more) {
        zmq_msg_t part;
        zmq_msg_init(&part);
        /* the parts of a multipart message arrive together: only the first may wait */
        if (zmq_msg_recv(&part, self->sock, total == 0 ? ZMQ_DONTWAIT : 0) < 0) {
            int e = errno;
            zmq_msg_close(&part);
            if (total == 0 && (e == EAGAIN || e == EINTR))
                rc = 0;
            else
                rc = -e;
            break;
        }
        more = zmq_msg_more(&part);
        if (nf < 3)
            f[nf++] = part; /* keep: ownership moves into f */
        else
            zmq_msg_close(&part);
        total++;
    }
    if (rc == 1) {
        zmq_msg_t *id = &f[0], *body = NULL;
        bool delim = false;
        if (total == 2) {
            body = &f[1];
        } else if (total == 3 && zmq_msg_size(&f[1]) == 0) {
            body = &f[2];
            delim = true;
        }
        if (!body || zmq_msg_size(id) == 0 || zmq_msg_size(id) > S_ROUTING_ID_MAX) {
            self->dropped_messages++;
            kc_warn("dropped a malformed message of %d frames (expected [routing id, Batch])",
                    total);
        } else if (s_routes_reserve(self) != 0 || s_add(self, body) != 0) {
            kc_error("out of memory: dropped a batch (the producer will resend it)");
        } else {
            s_route_t *r = &self->routes[kc_apply_count(self->group) - 1];
            r->len = zmq_msg_size(id);
            memcpy(r->id, zmq_msg_data(id), r->len);
            r->delim = delim;
            if (kc_apply_count(self->group) == 1)
                self->group_t0 = s_now_ms();
        }
    }
    for (int i = 0; i < nf; i++)
        zmq_msg_close(&f[i]);
    return rc;
}

/* Commit the group in hand, then send every Ack, then empty the group. */
static void s_flush(kc_agg_t *self)
{
    size_t n = kc_apply_count(self->group);
    if (n == 0)
        return;
    if (self->feed) {
        /* capture the changed cells only while someone listens: packing them costs the
         * commit thread a few percent when a commit touches thousands of cells. A new
         * subscriber asks for its snapshot only after the HUGZ that kc_feed_handle_pub
         * sends it, i.e. after this loop has counted it: later commits are tracked. */
        kc_feed_stats_t fs;
        kc_feed_stats(self->feed, &fs);
        kc_apply_set_track_cells(self->group, fs.subscribers > 0);
    }
    struct timespec c0, c1;
    clock_gettime(CLOCK_MONOTONIC, &c0);
    kc_apply_commit(self->group, self->store); /* logs and answers unavailable on failure */
    clock_gettime(CLOCK_MONOTONIC, &c1);
    kc_agg_counters_add(&self->total, kc_apply_delta(self->group));
    if (kc_apply_delta(self->group)->accepted > 0) {
        self->head_behind = true;
        self->last_growth_ms = s_now_ms();
    }
    for (size_t i = 0; i < n; i++) {
        const uint8_t *data;
        size_t len;
        if (kc_apply_ack(self->group, i, &data, &len) != 0) {
            self->undelivered_acks++;
            continue;
        }
        const s_route_t *r = &self->routes[i];
        int rc = zmq_send(self->sock, r->id, r->len, ZMQ_SNDMORE | ZMQ_DONTWAIT);
        if (rc >= 0 && r->delim)
            rc = zmq_send(self->sock, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT);
        if (rc >= 0)
            rc = zmq_send(self->sock, data, len, ZMQ_DONTWAIT);
        if (rc < 0) {
            /* EHOSTUNREACH: the peer is gone; EAGAIN: its queue is full. It will
             * time out, resend, and get the same answer by sequence number. */
            self->undelivered_acks++;
            kc_debug("ack %zu of the group not delivered: %s", i, zmq_strerror(errno));
        }
    }
    /* monitoring, after the Acks: publish the commit's changes, count it */
    kc_apply_changes_t ch;
    if (self->feed && kc_apply_changes(self->group, &ch) == 0 && ch.seq > ch.prev_seq) {
        /* an untracked commit is not published: a client that took its snapshot
         * before it sees the gap at the next update or heartbeat, and resyncs */
        if (ch.cells_tracked)
            kc_feed_publish(self->feed, ch.prev_seq, ch.seq, ch.time_ns, ch.cells, ch.ncells,
                            ch.units, ch.nunits);
        self->feed_seq = ch.seq;
    }
#ifdef KC_HAVE_HTTP
    if (self->metrics) {
        size_t events = 0;
        for (size_t i = 0; i < n; i++) {
            kc_apply_msg_info_t mi;
            if (kc_apply_msg_info(self->group, i, &mi) != 0)
                continue;
            events += mi.events;
            kc_metrics_batch(self->metrics, mi.producer_id, mi.events, mi.spool_last_seq);
        }
        double secs = (double)(c1.tv_sec - c0.tv_sec) + (double)(c1.tv_nsec - c0.tv_nsec) / 1e9;
        kc_metrics_commit(self->metrics, &self->total, secs, events);
        if (self->feed) {
            kc_feed_stats_t fs;
            kc_feed_stats(self->feed, &fs);
            kc_metrics_feed(self->metrics, fs.subscribers, fs.updates, fs.update_drops,
                            fs.snapshots);
        }
    }
#else
    (void)c0;
    (void)c1;
#endif
    kc_apply_reset(self->group);
}

int kc_agg_run(kc_agg_t *self, volatile sig_atomic_t *stop)
{
    int ret = 0;
    uint64_t next_stats = s_now_ms() + (uint64_t)self->stats_ms;
    s_reader_check(self);
    uint64_t next_reader_check = s_now_ms() + S_READER_CHECK_MS;
#ifdef KC_HAVE_HTTP
    uint64_t next_feed_stats = 0;
#endif
    char status[512];
    snprintf(status, sizeof status, "serving on %s (%s)", self->endpoint,
             self->auth ? "CURVE" : "plaintext");
    kc_service_ready(status);
    while (!*stop) {
        if (self->reload && *self->reload) {
            *self->reload = 0;
            kc_service_reloading();
            if (self->on_reload)
                self->on_reload(self->on_reload_ctx); /* the config file: logged */
            if (self->auth)
                kc_agg_reload(self); /* failures are logged; the registry in force stays */
            kc_service_ready(status);
        }
        uint64_t now = s_now_ms();
        int timeout = S_POLL_MAX_MS;
        if (kc_apply_count(self->group) > 0) {
            uint64_t due = self->group_t0 + (uint64_t)self->window_ms;
            timeout = due <= now ? 0 : (int)(due - now < S_POLL_MAX_MS ? due - now : S_POLL_MAX_MS);
        }
        zmq_pollitem_t items[2] = {
            {.socket = self->sock, .events = ZMQ_POLLIN},
            {.socket = self->feed ? kc_feed_pub_socket(self->feed) : NULL, .events = ZMQ_POLLIN}};
        int rc = zmq_poll(items, self->feed ? 2 : 1, timeout);
        zmq_pollitem_t item = items[0];
        if (rc < 0) {
            if (errno == EINTR)
                continue; /* a signal: look at the stop flag */
            ret = -errno;
            kc_error("poll failed: %s", zmq_strerror(errno));
            break;
        }
        if (item.revents & ZMQ_POLLIN) {
            while (kc_apply_events(self->group) < self->group_max &&
                   kc_apply_count(self->group) < self->group_max_msgs) {
                rc = s_recv_one(self);
                if (rc <= 0) {
                    if (rc < 0)
                        kc_warn("receive failed: %s", zmq_strerror(-rc));
                    break;
                }
            }
        }
        if (self->feed && (items[1].revents & ZMQ_POLLIN))
            kc_feed_handle_pub(self->feed); /* subscriptions: counted */
        now = s_now_ms();
        size_t n = kc_apply_count(self->group);
        if (n > 0 &&
            (kc_apply_events(self->group) >= self->group_max || n >= self->group_max_msgs ||
             now >= self->group_t0 + (uint64_t)self->window_ms))
            s_flush(self);
        if (now >= next_stats) {
            if (kc_log_get_level() >= KC_LOG_DEBUG)
                kc_agg_log_counters(self, KC_LOG_DEBUG, "stats");
            next_stats = now + (uint64_t)self->stats_ms;
        }
        if (self->feed) {
            kc_feed_tick(self->feed, now, self->feed_seq); /* heartbeat when due */
#ifdef KC_HAVE_HTTP
            if (self->metrics && now >= next_feed_stats) {
                kc_feed_stats_t fs;
                kc_feed_stats(self->feed, &fs);
                kc_metrics_feed(self->metrics, fs.subscribers, fs.updates, fs.update_drops,
                                fs.snapshots);
                next_feed_stats = now + 1000;
            }
#endif
        }
        if (now >= next_reader_check) {
            s_reader_check(self);
            next_reader_check = now + S_READER_CHECK_MS;
        }
        /* heads are signed inside group commits at most every sth_ms; once the log
         * has been quiet that long, sign one over its tail, so that the latest head
         * (kc-audit heads, /v1/head) never stays behind an idle log */
        if (self->head_behind && self->sth_ms > 0 && kc_apply_count(self->group) == 0 &&
            now >= self->last_growth_ms + (uint64_t)self->sth_ms) {
            self->head_behind = false;
            int hrc = kc_store_sign_head(self->store, NULL);
            if (hrc != 0 && hrc != KC_ENOTFOUND)
                kc_warn("KC-AGG-010 cannot sign a tree head over the idle log: %s",
                        kc_strerror(hrc));
        }
    }
    kc_service_stopping();
    s_flush(self);                                   /* commit and acknowledge what is in hand */
    int src = kc_store_sign_head(self->store, NULL); /* a last head over everything */
    if (src != 0 && src != KC_ENOTFOUND)
        kc_error("KC-AGG-010 cannot sign the final tree head: %s", kc_strerror(src));
    return ret;
}
