/* kc_agg.c - the aggregator daemon loop (DESIGN in kc_agg.h). */
#include "kc_agg.h"
#include "kc_service.h"

#include "kc_audit.h"
#include "kc_auth.h"
#include "kc_feed.h"
#include "kc_http.h"
#include "kc_metrics.h"
#include "kc_cert.h"
#include "kc_err.h"
#include "kc_log.h"
#include "kc_time.h"
#include "kc_store.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
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
#define S_TRIM_CHECK_MS   100   /* period of the resident set check (kc_store_trim_resident) */
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

/* A message that is not a request (more than one frame after its envelope):
 * kc_agg answers it STATUS_UNDECODABLE itself, in its place among the Acks of
 * the group it arrived with, so that a peer's Acks keep the order of its
 * messages. */
typedef struct {
    s_route_t route; /* where its Ack goes */
    size_t pos;      /* sent just before the Ack of the group's message pos
                        (SIZE_MAX: after the group's last Ack) */
    int frames;      /* frames it had after the envelope (routing id, delimiter) */
} s_extra_t;

/* One group commit and where its Acks go. The socket thread fills one while
 * the commit thread commits the other (DESIGN "pipeline" in kc_agg.h). */
typedef struct {
    kc_apply_t *apply; /* its messages, decoded ahead; then its Acks */
    s_route_t *routes; /* one per message */
    size_t cap_routes; /* allocated routes */
    s_extra_t *extras; /* messages answered undecodable by kc_agg, in arrival order
                          (socket thread only, like routes) */
    size_t n_extras, cap_extras;
    uint64_t t0;        /* monotonic ms of its first message */
    double commit_secs; /* how long its commit took (metrics) */
} s_group_t;

struct kc_agg {
    void *zctx;          /* ZeroMQ context */
    void *sock;          /* the ROUTER socket */
    kc_store_t *store;   /* the open store */
    s_group_t groups[2]; /* the pipeline's two groups */
    s_group_t *fill;     /* the group being collected (socket thread) */
    s_group_t *flight;   /* the group handed to the commit thread whose Acks are
                            not sent yet; NULL = none */
    /* the commit thread; mu guards job, done and quit */
    pthread_t committer;
    bool threaded;  /* the commit thread runs (else commits are inline) */
    bool sync_init; /* mu and cv are initialised */
    pthread_mutex_t mu;
    pthread_cond_t cv; /* job or quit set */
    s_group_t *job;    /* to commit; NULL = none */
    s_group_t *done;   /* committed, not yet collected by the socket thread */
    bool quit;         /* the commit thread ends */
    int efd;           /* eventfd the commit thread signals done on; -1 = none */
    int (*commit_hook)(void *ctx, size_t nmsgs); /* tests: before each commit */
    double commit_busy_s;                        /* time the commits took, summed */
    uint64_t run_start_ms;                       /* when kc_agg_run() started serving */
    void *commit_hook_ctx;
    char endpoint[256];            /* ZMQ_LAST_ENDPOINT */
    size_t group_max;              /* events per group */
    size_t group_max_msgs;         /* messages per group (empty batches carry no event) */
    int window_ms;                 /* longest wait to fill a group */
    int stats_ms;                  /* period of the debug counter line */
    int sth_ms;                    /* least time between signed heads (0: every commit) */
    size_t resident_limit;         /* RSS budget in bytes; 0 = none */
    uint64_t map_trims;            /* times the store's map pages were released */
    kc_agg_counters_t total;       /* counters since start */
    uint64_t dropped_messages;     /* messages dropped unanswered (no routing id to answer) */
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
    kc_metrics_t *metrics;   /* with http: counters for /metrics */
    kc_http_t *http;         /* the HTTP server, or NULL */
    char http_url[160];      /* "http://ADDR:PORT/", "" without */
    unsigned http_port;
};

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

const char *kc_agg_resolve_localhost(const char *ep, char *buf, size_t cap)
{
    if (!ep)
        return NULL;
    if (strncmp(ep, "tcp://localhost:", 16) == 0) {
        int n = snprintf(buf, cap, "tcp://127.0.0.1:%s", ep + 16);
        return n > 0 && (size_t)n < cap ? buf : ep;
    }
    if (strcmp(ep, "localhost") == 0)
        return "127.0.0.1";
    return ep;
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
static int s_monitoring_setup(kc_agg_t *self, const kc_agg_opts_t *opts)
{
    int rc;
    if (opts->feed_endpoint) {
        /* libzmq binds no host name: localhost is 127.0.0.1 (kc_agg_resolve_localhost) */
        char pub_buf[300], snap_buf[300];
        const char *pub = kc_agg_resolve_localhost(opts->feed_endpoint, pub_buf, sizeof pub_buf);
        const char *snap =
            kc_agg_resolve_localhost(opts->feed_snapshot_endpoint, snap_buf, sizeof snap_buf);
        if (!snap) {
            kc_error("the feed needs a snapshot endpoint (--feed-snapshot)");
            return KC_EINVAL;
        }
        if (!opts->insecure &&
            (!kc_auth_endpoint_is_local(pub) || !kc_auth_endpoint_is_local(snap))) {
            kc_error("refusing a plaintext feed on %s / %s: only loopback or ipc endpoints "
                     "(--insecure overrides)",
                     pub, snap);
            return KC_EINVAL;
        }
        kc_txn_t *t = NULL;
        if ((rc = kc_store_read_begin(self->store, &t)) != 0)
            return rc;
        rc = kc_txn_log_size(t, &self->feed_seq);
        kc_txn_end(&t);
        if (rc != 0)
            return rc;
        kc_feed_opts_t fo = {.pub_endpoint = pub,
                             .snapshot_endpoint = snap,
                             .heartbeat_ms = opts->feed_heartbeat_ms,
                             .sndhwm = opts->feed_sndhwm};
        if ((rc = kc_feed_new(&self->feed, self->zctx, self->store, &fo)) != 0)
            return rc;
        for (int i = 0; i < 2; i++)
            kc_apply_set_track_cells(self->groups[i].apply, true);
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
        self->metrics = kc_metrics_new();
        if (!self->metrics)
            return KC_ENOMEM;
        /* "localhost" is 127.0.0.1 (kc_http takes numeric addresses only) */
        const char *http_addr = kc_agg_resolve_localhost(opts->http_addr, NULL, 0);
        kc_http_opts_t ho = {.addr = http_addr,
                             .port = opts->http_port,
                             .store = self->store,
                             .metrics = self->metrics};
        if ((rc = kc_http_start(&self->http, &ho)) != 0) {
            kc_error("cannot serve HTTP on %s port %u: %s",
                     http_addr ? http_addr : KC_HTTP_DEFAULT_ADDR, opts->http_port,
                     kc_strerror(rc));
            return rc;
        }
        self->http_port = kc_http_port(self->http);
        const char *a = http_addr ? http_addr : KC_HTTP_DEFAULT_ADDR;
        bool v6 = strchr(a, ':') && a[0] != '[';
        snprintf(self->http_url, sizeof self->http_url, "http://%s%s%s:%u/", v6 ? "[" : "", a,
                 v6 ? "]" : "", self->http_port);
        kc_info("HTTP API on %s", self->http_url);
    }
    return 0;
}

int kc_agg_new(kc_agg_t **out, const kc_agg_opts_t *opts)
{
    *out = NULL;
    kc_agg_t *self = calloc(1, sizeof *self);
    if (!self)
        return KC_ENOMEM;
    char listen_buf[300];
    const char *listen = kc_agg_resolve_localhost(
        opts->listen ? opts->listen : KC_AGG_DEFAULT_LISTEN, listen_buf, sizeof listen_buf);
    const char *dir = opts->store_dir ? opts->store_dir : KC_AGG_DEFAULT_STORE;
    self->group_max = opts->group_max ? opts->group_max : KC_AGG_DEFAULT_GROUP_MAX;
    self->group_max_msgs = self->group_max < 1024 ? 1024 : self->group_max;
    self->window_ms =
        opts->group_window_ms >= 0 ? opts->group_window_ms : KC_AGG_DEFAULT_GROUP_WINDOW_MS;
    self->stats_ms = opts->stats_interval_ms > 0 ? opts->stats_interval_ms : 10000;
    self->resident_limit = opts->resident_limit == 0 ? KC_AGG_DEFAULT_RESIDENT_LIMIT
                           : opts->resident_limit == KC_AGG_RESIDENT_UNLIMITED
                               ? 0
                               : opts->resident_limit;
    self->sth_ms = opts->sth_interval_ms == 0  ? KC_AGG_DEFAULT_STH_INTERVAL_MS
                   : opts->sth_interval_ms < 0 ? 0
                                               : opts->sth_interval_ms;
    int rc = 0;

    self->efd = -1;
    for (int i = 0; i < 2; i++) {
        self->groups[i].apply = kc_apply_new();
        if (!self->groups[i].apply) {
            rc = KC_ENOMEM;
            goto fail;
        }
        if (opts->checkpoint_every != 0)
            kc_apply_set_checkpoint_every(
                self->groups[i].apply,
                opts->checkpoint_every < 0 ? 0 : (uint64_t)opts->checkpoint_every);
    }
    self->fill = &self->groups[0];
    if (pthread_mutex_init(&self->mu, NULL) != 0) {
        rc = KC_ENOMEM;
        goto fail;
    }
    if (pthread_cond_init(&self->cv, NULL) != 0) {
        pthread_mutex_destroy(&self->mu);
        rc = KC_ENOMEM;
        goto fail;
    }
    self->sync_init = true;
    self->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (self->efd < 0) {
        rc = -errno;
        kc_error("cannot create an eventfd: %s", strerror(errno));
        goto fail;
    }
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
    if ((rc = s_monitoring_setup(self, opts)) != 0)
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
    kc_http_stop(&self->http);    /* its threads read the store */
    kc_feed_destroy(&self->feed); /* its thread reads the store; its sockets are of zctx */
    if (self->sock)
        zmq_close(self->sock);
    kc_auth_destroy(&self->auth); /* before the context ends: it owns sockets of it */
    free(self->registry_file);
    if (self->zctx)
        zmq_ctx_term(self->zctx); /* waits up to S_LINGER_MS for queued Acks */
    kc_store_close(&self->store);
    for (int i = 0; i < 2; i++) {
        kc_apply_destroy(&self->groups[i].apply);
        free(self->groups[i].routes);
        free(self->groups[i].extras);
    }
    if (self->efd >= 0)
        close(self->efd);
    if (self->sync_init) {
        pthread_cond_destroy(&self->cv);
        pthread_mutex_destroy(&self->mu);
    }
    kc_metrics_free(&self->metrics);
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
    double up =
        self->run_start_ms ? (double)((uint64_t)kc_time_mono_ms() - self->run_start_ms) / 1e3 : 0.0;
    kc_log((kc_log_level_t)level,
           "%s: commit thread busy %.1f%% of %.1f s serving (%.3f s in commits; near 100%% "
           "under load: the commits bound the ingest rate)",
           what, up > 0 ? 100.0 * self->commit_busy_s / up : 0.0, up, self->commit_busy_s);
    kc_log((kc_log_level_t)level,
           "%s: stale_readers=%llu (reader slots of dead processes cleared) map_trims=%llu "
           "(store map pages released to stay under --resident-limit)",
           what, (unsigned long long)self->stale_readers, (unsigned long long)self->map_trims);
}

/* Clear the reader slots of processes that died inside a read transaction (a
 * kc-query killed mid-read): each pins the snapshot it read, so LMDB could not
 * reuse the pages freed after it and the file would grow without bound. Run at
 * start and every S_READER_CHECK_MS. */
static void s_reader_check(kc_agg_t *self)
{
    int dead = 0;
    int rc = kc_store_reader_check(self->store, &dead);
    if (rc != 0) {
        kc_warn("KC-AGG-011 checking for stale readers failed: %s", kc_strerror(rc));
        return;
    }
    if (dead > 0 && self->metrics)
        kc_metrics_readers_cleared(self->metrics, (unsigned)dead);
    if (dead > 0) {
        self->stale_readers += (uint64_t)dead;
        kc_info("KC-AGG-012 cleared %d stale reader slot(s) (dead readers; %llu so far)", dead,
                (unsigned long long)self->stale_readers);
    }
}

/* Room for the route of one more message of group g. */
static int s_routes_reserve(s_group_t *g)
{
    size_t n = kc_apply_count(g->apply);
    if (n < g->cap_routes)
        return 0;
    size_t cap = g->cap_routes * 2 + 64;
    s_route_t *r = realloc(g->routes, cap * sizeof *r);
    if (!r)
        return KC_ENOMEM;
    g->routes = r;
    g->cap_routes = cap;
    return 0;
}

/* Add the Batch in body to the group being collected (decoding it ahead:
 * kc_apply.h), with the grant of the key that sent it when CURVE is on.
 * Returns 0 (added, or dropped: KC-SEC-012) or KC_ENOMEM. */
static int s_add(kc_agg_t *self, zmq_msg_t *body)
{
    kc_apply_t *group = self->fill->apply;
    if (!self->auth)
        return kc_apply_add(group, zmq_msg_data(body), zmq_msg_size(body));
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
    return kc_apply_add_granted(group, zmq_msg_data(body), zmq_msg_size(body), &g);
}

/* Send the Ack of a message that had x->frames frames after its envelope:
 * STATUS_UNDECODABLE, nothing processed. Counts it as an undecodable Batch
 * (the caller updates the metrics). */
static void s_send_extra(kc_agg_t *self, const s_extra_t *x)
{
    kc_pb_ack_t a = KCPIPE__V1__ACK__INIT;
    char error[200];
    snprintf(error, sizeof error,
             "the message has %d frames after the routing id; a request must be one frame "
             "holding one serialized kcpipe.v1.Batch",
             x->frames);
    a.has_status = 1;
    a.status = KCPIPE__V1__STATUS__STATUS_UNDECODABLE;
    a.error = error;
    uint8_t buf[512];
    size_t len = kcpipe__v1__ack__get_packed_size(&a);
    self->total.batches++;
    self->total.bad_batches++;
    if (len > sizeof buf) { /* cannot happen: the Ack is a status and the text above */
        self->undelivered_acks++;
        return;
    }
    kcpipe__v1__ack__pack(&a, buf);
    const s_route_t *r = &x->route;
    int rc = zmq_send(self->sock, r->id, r->len, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    if (rc >= 0 && r->delim)
        rc = zmq_send(self->sock, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    if (rc >= 0)
        rc = zmq_send(self->sock, buf, len, ZMQ_DONTWAIT);
    if (rc < 0) {
        self->undelivered_acks++;
        kc_debug("ack of a %d-frame message not delivered: %s", x->frames, zmq_strerror(errno));
    }
}

/* A message of `frames` frames after its envelope (routing id, and the empty
 * delimiter if delim): not a request. It is answered STATUS_UNDECODABLE after
 * the Acks of every Batch received before it: with the group being collected
 * if that has messages, else after the group in flight, else at once. */
static void s_multiframe(kc_agg_t *self, zmq_msg_t *id, bool delim, int frames)
{
    kc_warn("KC-REJ-090 batch refused (undecodable): a message of %d frames; a request is one "
            "frame holding one Batch",
            frames);
    s_extra_t x = {.frames = frames, .pos = SIZE_MAX};
    x.route.len = zmq_msg_size(id);
    memcpy(x.route.id, zmq_msg_data(id), x.route.len);
    x.route.delim = delim;
    s_group_t *g = NULL;
    if (kc_apply_count(self->fill->apply) > 0) {
        g = self->fill;
        x.pos = kc_apply_count(g->apply);
    } else if (self->flight) {
        g = self->flight; /* its routes and extras are the socket thread's */
    }
    if (!g) {
        s_send_extra(self, &x);
        kc_metrics_batch(self->metrics, NULL, 0, 0, 0);
        kc_metrics_counters(self->metrics, &self->total);
        return;
    }
    if (g->n_extras == g->cap_extras) {
        size_t cap = g->cap_extras * 2 + 8;
        s_extra_t *e = realloc(g->extras, cap * sizeof *e);
        if (!e) {
            self->dropped_messages++;
            kc_error("out of memory: a %d-frame message left unanswered", frames);
            return;
        }
        g->extras = e;
        g->cap_extras = cap;
    }
    g->extras[g->n_extras++] = x;
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
        /* an empty second frame is a REQ-style delimiter: the answer carries it too */
        bool delim = total >= 3 && zmq_msg_size(&f[1]) == 0;
        size_t before = 0;
        if (total == 2)
            body = &f[1];
        else if (total == 3 && delim)
            body = &f[2];
        if (total < 2 || zmq_msg_size(id) == 0 || zmq_msg_size(id) > S_ROUTING_ID_MAX) {
            self->dropped_messages++; /* no routing id: nobody to answer */
            kc_warn("dropped a message of %d frames without a usable routing id", total);
        } else if (!body) {
            s_multiframe(self, id, delim, total - 1 - (delim ? 1 : 0));
        } else if (s_routes_reserve(self->fill) != 0 ||
                   (before = kc_apply_count(self->fill->apply), s_add(self, body) != 0)) {
            kc_error("out of memory: dropped a batch (the producer will resend it)");
        } else {
            s_group_t *g = self->fill;
            size_t n = kc_apply_count(g->apply);
            if (n > before) { /* else dropped (KC-SEC-012): no route to note */
                s_route_t *r = &g->routes[n - 1];
                r->len = zmq_msg_size(id);
                memcpy(r->id, zmq_msg_data(id), r->len);
                r->delim = delim;
                if (n == 1)
                    g->t0 = (uint64_t)kc_time_mono_ms();
            }
        }
    }
    for (int i = 0; i < nf; i++)
        zmq_msg_close(&f[i]);
    return rc;
}

/* Commit group g (commit thread, or the socket thread when there is none):
 * afterwards its Acks are final (STATUS_UNAVAILABLE if the commit failed). */
static void s_commit(kc_agg_t *self, s_group_t *g)
{
    struct timespec c0, c1;
    clock_gettime(CLOCK_MONOTONIC, &c0);
    int rc =
        self->commit_hook ? self->commit_hook(self->commit_hook_ctx, kc_apply_count(g->apply)) : 0;
    if (rc != 0)
        kc_apply_fail(g->apply, rc < 0 ? rc : KC_EIO); /* logged, answered unavailable */
    else
        kc_apply_commit(g->apply, self->store); /* logs and answers unavailable on failure */
    clock_gettime(CLOCK_MONOTONIC, &c1);
    g->commit_secs = (double)(c1.tv_sec - c0.tv_sec) + (double)(c1.tv_nsec - c0.tv_nsec) / 1e9;
}

/* The commit thread: commits each group handed to it, in the order handed
 * (one at a time), then reports it done through the eventfd. */
static void *s_committer(void *arg)
{
    kc_agg_t *self = arg;
    pthread_mutex_lock(&self->mu);
    for (;;) {
        while (!self->job && !self->quit)
            pthread_cond_wait(&self->cv, &self->mu);
        s_group_t *g = self->job;
        if (!g)
            break; /* quit, and nothing left to commit */
        pthread_mutex_unlock(&self->mu);
        s_commit(self, g);
        pthread_mutex_lock(&self->mu);
        self->job = NULL;
        self->done = g;
        pthread_cond_broadcast(&self->cv); /* a socket thread waiting to stop */
        uint64_t one = 1;
        if (write(self->efd, &one, sizeof one) != (ssize_t)sizeof one)
            kc_error("KC-AGG-014 cannot signal a finished commit: %s", strerror(errno));
    }
    pthread_mutex_unlock(&self->mu);
    return NULL;
}

/* After g's commit returned: count it, send every Ack, publish the changes,
 * update the metrics, and empty g. Socket thread only. */
static void s_answer(kc_agg_t *self, s_group_t *g)
{
    kc_apply_t *group = g->apply;
    size_t n = kc_apply_count(group);
    kc_agg_counters_add(&self->total, kc_apply_delta(group));
    self->commit_busy_s += g->commit_secs;
    if (kc_apply_delta(group)->accepted > 0) {
        self->head_behind = true;
        self->last_growth_ms = (uint64_t)kc_time_mono_ms();
    }
    size_t x = 0; /* the next of g's extras to send, in their place among the Acks */
    for (size_t i = 0; i < n; i++) {
        for (; x < g->n_extras && g->extras[x].pos <= i; x++)
            s_send_extra(self, &g->extras[x]);
        const uint8_t *data;
        size_t len;
        if (kc_apply_ack(group, i, &data, &len) != 0) {
            self->undelivered_acks++;
            continue;
        }
        const s_route_t *r = &g->routes[i];
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
    for (; x < g->n_extras; x++)
        s_send_extra(self, &g->extras[x]);
    /* monitoring, after the Acks: publish the commit's changes, count it */
    kc_apply_changes_t ch;
    if (self->feed && kc_apply_changes(group, &ch) == 0 && ch.seq > ch.prev_seq) {
        /* an untracked commit is not published: a client that took its snapshot
         * before it sees the gap at the next update or heartbeat, and resyncs */
        if (ch.cells_tracked)
            kc_feed_publish(self->feed, ch.prev_seq, ch.seq, ch.time_ns, ch.cells, ch.ncells,
                            ch.units, ch.nunits);
        self->feed_seq = ch.seq;
    }
    if (self->metrics) {
        size_t events = 0;
        for (size_t i = 0; i < n; i++) {
            kc_apply_msg_info_t mi;
            if (kc_apply_msg_info(group, i, &mi) != 0)
                continue;
            events += mi.events;
            /* the epoch of a processed Batch is its Ack's (the producer's epoch now); an
             * Ack without one refused its Batch (fenced: from a retired spool) */
            const kc_pb_ack_t *a = kc_apply_ack_msg(group, i);
            const char *producer = mi.producer_id;
            if (producer && !(a && a->has_producer_epoch))
                producer = "";
            kc_metrics_batch(self->metrics, producer, mi.events,
                             a && a->has_producer_epoch ? a->producer_epoch : 0, mi.spool_last_seq);
        }
        for (size_t i = 0; i < g->n_extras; i++)
            kc_metrics_batch(self->metrics, NULL, 0, 0, 0); /* undecodable */
        kc_metrics_commit(self->metrics, &self->total, g->commit_secs, events);
        if (self->feed) {
            kc_feed_stats_t fs;
            kc_feed_stats(self->feed, &fs);
            kc_metrics_feed(self->metrics, fs.subscribers, fs.updates, fs.update_drops,
                            fs.snapshots);
        }
    }
    g->n_extras = 0;
    kc_apply_reset(group);
}

/* Whether the group being collected can take no more messages. */
static bool s_fill_full(const kc_agg_t *self)
{
    const kc_apply_t *group = self->fill->apply;
    /* the multi-frame messages waiting for their Acks count too (s_multiframe): a
     * flood of them stops the reading like a flood of Batches, memory stays bounded */
    return kc_apply_events(group) >= self->group_max ||
           kc_apply_count(group) + self->fill->n_extras >= self->group_max_msgs ||
           (self->flight && self->flight->n_extras >= self->group_max_msgs);
}

/* Hand the group being collected to the commit thread (none may be in
 * flight) and start collecting into the other one. Without a commit thread,
 * commit and answer it here. */
static void s_dispatch(kc_agg_t *self)
{
    s_group_t *g = self->fill;
    if (self->feed) {
        /* capture the changed cells only while someone listens: packing them costs the
         * commit thread a few percent when a commit touches thousands of cells. A new
         * subscriber asks for its snapshot only after the HUGZ that kc_feed_handle_pub
         * sends it, i.e. after this loop has counted it: later commits are tracked. */
        kc_feed_stats_t fs;
        kc_feed_stats(self->feed, &fs);
        kc_apply_set_track_cells(g->apply, fs.subscribers > 0);
    }
    self->fill = g == &self->groups[0] ? &self->groups[1] : &self->groups[0];
    if (!self->threaded) {
        s_commit(self, g);
        s_answer(self, g);
        return;
    }
    self->flight = g;
    pthread_mutex_lock(&self->mu);
    self->job = g;
    pthread_cond_broadcast(&self->cv);
    pthread_mutex_unlock(&self->mu);
}

/* If the group in flight has been committed, answer it; wait: block until it
 * has (on the condition variable). Returns whether it was answered. The
 * eventfd only wakes zmq_poll: it is drained here, and a wake-up that finds
 * nothing (the group was taken by an earlier call) costs one empty round. */
static bool s_collect(kc_agg_t *self, bool wait)
{
    uint64_t v;
    if (read(self->efd, &v, sizeof v) < 0 && errno != EAGAIN && errno != EINTR)
        kc_warn("KC-AGG-014 reading the commit thread's eventfd: %s", strerror(errno));
    pthread_mutex_lock(&self->mu);
    while (wait && self->flight && !self->done)
        pthread_cond_wait(&self->cv, &self->mu);
    s_group_t *g = self->done;
    self->done = NULL;
    pthread_mutex_unlock(&self->mu);
    if (!g)
        return false;
    self->flight = NULL;
    s_answer(self, g);
    return true;
}

/* Start the commit thread with every signal blocked, so that the caller's
 * signal handlers run on the socket thread and interrupt its poll. Without it
 * (pthread_create failed) the daemon commits inline, as a serial loop. */
static void s_committer_start(kc_agg_t *self)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    self->quit = false;
    int e = pthread_create(&self->committer, NULL, s_committer, self);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    self->threaded = e == 0;
    if (e != 0)
        kc_warn("KC-AGG-014 cannot start the commit thread (%s): committing inline", strerror(e));
}

static void s_committer_stop(kc_agg_t *self)
{
    if (!self->threaded)
        return;
    pthread_mutex_lock(&self->mu);
    self->quit = true;
    pthread_cond_broadcast(&self->cv);
    pthread_mutex_unlock(&self->mu);
    pthread_join(self->committer, NULL);
    self->threaded = false;
}

void kc_agg_set_commit_hook(kc_agg_t *self, int (*hook)(void *ctx, size_t nmsgs), void *ctx)
{
    self->commit_hook = hook;
    self->commit_hook_ctx = ctx;
}

int kc_agg_run(kc_agg_t *self, volatile sig_atomic_t *stop)
{
    int ret = 0;
    uint64_t next_stats = (uint64_t)kc_time_mono_ms() + (uint64_t)self->stats_ms;
    s_reader_check(self);
    uint64_t next_reader_check = (uint64_t)kc_time_mono_ms() + S_READER_CHECK_MS;
    uint64_t next_trim_check = 0;
    uint64_t next_feed_stats = 0;
    char status[512];
    snprintf(status, sizeof status, "serving on %s (%s)", self->endpoint,
             self->auth ? "CURVE" : "plaintext");
    s_committer_start(self);
    self->run_start_ms = (uint64_t)kc_time_mono_ms();
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
        uint64_t now = (uint64_t)kc_time_mono_ms();
        int timeout = S_POLL_MAX_MS;
        if (kc_apply_count(self->fill->apply) > 0 && !self->flight) {
            uint64_t due = self->fill->t0 + (uint64_t)self->window_ms;
            timeout = due <= now ? 0 : (int)(due - now < S_POLL_MAX_MS ? due - now : S_POLL_MAX_MS);
        }
        /* a full group waits for the commit in flight: stop reading (libzmq queues,
         * then pushes back on the producers) instead of spinning on POLLIN */
        zmq_pollitem_t items[3] = {
            {.socket = self->sock, .events = s_fill_full(self) ? 0 : ZMQ_POLLIN}};
        int nitems = 1, done_i = -1, feed_i = -1;
        if (self->threaded) {
            done_i = nitems;
            items[nitems++] = (zmq_pollitem_t){.fd = self->efd, .events = ZMQ_POLLIN};
        }
        if (self->feed) {
            feed_i = nitems;
            items[nitems++] =
                (zmq_pollitem_t){.socket = kc_feed_pub_socket(self->feed), .events = ZMQ_POLLIN};
        }
        int rc = zmq_poll(items, nitems, timeout);
        if (rc < 0) {
            if (errno == EINTR)
                continue; /* a signal: look at the stop flag */
            ret = -errno;
            kc_error("poll failed: %s", zmq_strerror(errno));
            break;
        }
        if (done_i >= 0 && (items[done_i].revents & ZMQ_POLLIN))
            s_collect(self, false); /* the commit in flight returned: its Acks */
        if (items[0].revents & ZMQ_POLLIN) {
            while (!s_fill_full(self)) {
                rc = s_recv_one(self);
                if (rc <= 0) {
                    if (rc < 0)
                        kc_warn("receive failed: %s", zmq_strerror(-rc));
                    break;
                }
            }
        }
        if (feed_i >= 0 && (items[feed_i].revents & ZMQ_POLLIN))
            kc_feed_handle_pub(self->feed); /* subscriptions: counted */
        now = (uint64_t)kc_time_mono_ms();
        if (kc_apply_count(self->fill->apply) > 0 && !self->flight &&
            (s_fill_full(self) || now >= self->fill->t0 + (uint64_t)self->window_ms))
            s_dispatch(self);
        if (now >= next_stats) {
            if (kc_log_get_level() >= KC_LOG_DEBUG)
                kc_agg_log_counters(self, KC_LOG_DEBUG, "stats");
            next_stats = now + (uint64_t)self->stats_ms;
        }
        if (self->feed) {
            kc_feed_tick(self->feed, now, self->feed_seq); /* heartbeat when due */
            if (self->metrics && now >= next_feed_stats) {
                kc_feed_stats_t fs;
                kc_feed_stats(self->feed, &fs);
                kc_metrics_feed(self->metrics, fs.subscribers, fs.updates, fs.update_drops,
                                fs.snapshots);
                next_feed_stats = now + 1000;
            }
        }
        if (now >= next_reader_check) {
            s_reader_check(self);
            next_reader_check = now + S_READER_CHECK_MS;
        }
        if (self->resident_limit > 0 && now >= next_trim_check) {
            bool trimmed = false; /* failures are logged; serving goes on */
            if (kc_store_trim_resident(self->store, self->resident_limit, &trimmed) == 0 && trimmed)
                self->map_trims++;
            next_trim_check = now + S_TRIM_CHECK_MS;
        }
        /* heads are signed inside group commits at most every sth_ms; once the log
         * has been quiet that long, sign one over its tail, so that the latest head
         * (kc-audit heads, /v1/head) never stays behind an idle log. Only while no
         * commit is in flight: the store has one writer at a time. */
        if (self->head_behind && self->sth_ms > 0 && kc_apply_count(self->fill->apply) == 0 &&
            !self->flight && now >= self->last_growth_ms + (uint64_t)self->sth_ms) {
            self->head_behind = false;
            int hrc = kc_store_sign_head(self->store, NULL);
            if (hrc != 0 && hrc != KC_ENOTFOUND)
                kc_warn("KC-AGG-010 cannot sign a tree head over the idle log: %s",
                        kc_strerror(hrc));
        }
    }
    kc_service_stopping();
    /* commit and acknowledge what is in hand: the commit in flight, then the group
     * being collected */
    while (self->flight)
        s_collect(self, true);
    if (kc_apply_count(self->fill->apply) > 0) {
        s_dispatch(self);
        while (self->flight)
            s_collect(self, true);
    }
    s_committer_stop(self);
    int src = kc_store_sign_head(self->store, NULL); /* a last head over everything */
    if (src != 0 && src != KC_ENOTFOUND)
        kc_error("KC-AGG-010 cannot sign the final tree head: %s", kc_strerror(src));
    return ret;
}
