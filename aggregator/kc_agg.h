/* kc_agg.h - the aggregator daemon: a ROUTER socket, group commits, Acks.
 *
 * DESIGN - commit, then acknowledge
 * Producers (DEALER sockets) send one Batch per message; the ROUTER sees
 * [routing id, Batch] (a REQ-style [routing id, empty, Batch] is accepted
 * too, and answered with the same envelope). A message of two or more frames
 * after that envelope is no request: it is answered STATUS_UNDECODABLE (an
 * Ack.error saying a request is one frame holding one Batch, logged
 * KC-REJ-090) in its place among the Acks of the Batches received before it
 * (it counts against the group's message limit while it waits, so a flood of
 * them is read no faster than Batches); only a message without a usable
 * routing id is dropped (with a log line).
 * Messages are collected into a group (kc_apply_t) until it
 * carries group_max events or group_window_ms have passed since its first
 * message; then the whole group is committed in one store write transaction,
 * and only after that commit returned is each Ack sent. If the commit fails,
 * nothing is acknowledged as committed: every Batch of the group is answered
 * STATUS_UNAVAILABLE and the daemon keeps running. An Ack that cannot be
 * delivered (peer gone: EHOSTUNREACH under ZMQ_ROUTER_MANDATORY; its queue
 * full: EAGAIN) is dropped with a debug line: the producer times out, resends,
 * and is acknowledged again by sequence number. Messages larger than
 * KC_MAX_MSG_SIZE make libzmq drop the connection (ZMQ_MAXMSGSIZE).
 *
 * DESIGN - pipeline (issue 7)
 * Two threads and two groups. The socket thread (the caller of kc_agg_run)
 * owns every ZeroMQ socket: it receives into the group being collected and
 * does there all that needs no store (kc_apply_add: Batch and Event unpack,
 * kc_event_check, a record's content hash; kc_apply.h "decoding ahead"),
 * while the commit thread runs kc_apply_commit() of the group before it: the
 * LMDB write transaction (hwm, dedup, ledger, totals, log and Merkle leaves)
 * and its fsync. When the commit returns, the commit thread hands the group
 * back (mutex; an eventfd in the socket thread's zmq_poll wakes it) and the
 * socket thread sends the Acks, then publishes the feed and the metrics, then
 * empties the group for reuse. So:
 *  - an Ack is sent only after its commit returned (Acks and sockets never
 *    leave the socket thread), and a failed commit answers STATUS_UNAVAILABLE;
 *  - at most one group is in flight, and groups commit in the order they were
 *    collected: a producer's Batch in group N+1 is applied after its Batch in
 *    group N, whose commit is durable by then; its hwm is read from the store
 *    inside the commit, as before;
 *  - a group is handed over when it is full or its window has passed, as soon
 *    as no commit is in flight; meanwhile it keeps collecting (a full group
 *    stops the socket thread reading the ROUTER until the commit in flight
 *    returns: libzmq's queues, then TCP, push back on the producers);
 *  - the socket thread writes to the store itself (a signed head over an idle
 *    log, the final head) only while no commit is in flight.
 * The commit thread runs with every signal blocked. If it cannot be started,
 * commits run inline in the socket thread (the serial loop).
 * kc_agg_log_counters() reports the share of the serving time the commit
 * thread spent in commits: near 100% under load means the commits bound the
 * ingest rate (what the socket thread does is then hidden behind them).
 *
 * Signed tree heads: the store signs a head inside a group's own commit when
 * the group grew the log and sth_interval_ms have passed since the last one
 * (kc_store_set_head_interval), once the log has then been idle for
 * sth_interval_ms (a head over its tail, so the latest head never lags an idle
 * log), and once more at shutdown if the log grew.
 *
 * Security: with opts.curve_secret_file the ROUTER is a CURVE server whose
 * handshakes are decided by the ZAP handler of kc_auth.h (fail closed: the
 * handler is bound before the socket, ZMQ_ZAP_ENFORCE_DOMAIN is set, and a
 * failure to set any security option stops kc_agg_new()). Each received Batch
 * is looked up by the key libzmq attached to it (metadata KC_AUTH_KEY_PROPERTY,
 * and User-Id = producer id) in the registry in force and added with its grant
 * (kc_apply_add_granted). A message without that metadata under CURVE cannot
 * come from libzmq; it is dropped (KC-SEC-012). Without CURVE the endpoint
 * must be loopback or ipc unless opts.insecure (KC_EINVAL otherwise).
 *
 * Monitoring (issue 5; docs/MONITORING.md). With opts.feed_endpoint the live
 * totals feed (kc_feed.h) is bound beside the ROUTER: after each group commit
 * that grew the log, and only after the group's Acks were sent, the commit's
 * changed cells and reporting units are published (never blocking); the XPUB
 * is polled with the ROUTER and a heartbeat goes out every second. With
 * opts.http the HTTP server (kc_http.h: API, /metrics, dashboard) runs in its
 * own threads over read transactions of the same store, fed by kc_metrics
 * (one short mutex per commit). Neither can block the commit thread. Feed and
 * HTTP addresses must be loopback (or ipc) unless opts.insecure. The ready
 * file then gets one more line per service: "feed EP", "snapshot EP",
 * "http http://ADDR:PORT/".
 *
 * systemd (kc_service.h; no-ops outside a Type=notify service): kc_agg_run()
 * sends READY=1 with a STATUS line when it starts serving (the sockets are
 * bound and the store open by then), RELOADING=1 ... READY=1 around a SIGHUP
 * reload (opts.on_reload, then the registry under CURVE), STOPPING=1 as soon
 * as it sees the stop flag, before committing the group in hand.
 *
 * Stopping: the caller's stop flag (set by a signal handler) is checked at
 * least every 100 ms; the commit in flight is then waited for and
 * acknowledged, the group in hand committed and acknowledged, the commit
 * thread joined and a final head signed before kc_agg_run() returns. All state is in the store, so
 * a restarted daemon resumes exactly.
 */
#ifndef KC_AGG_H
#define KC_AGG_H

#include "kc_apply.h"

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#define KC_AGG_DEFAULT_LISTEN          "tcp://127.0.0.1:5555"
#define KC_AGG_DEFAULT_STORE           "./var/kcpipe"
#define KC_AGG_DEFAULT_GROUP_MAX       8192
#define KC_AGG_DEFAULT_GROUP_WINDOW_MS 2
#define KC_AGG_DEFAULT_STH_INTERVAL_MS 2000
#define KC_AGG_STH_EVERY_COMMIT        (-1) /* sth_interval_ms: a head per group commit */
#define KC_AGG_CHECKPOINT_NEVER        (-1) /* checkpoint_every: take none */
#define KC_AGG_DEFAULT_RESIDENT_LIMIT  ((size_t)48 << 20) /* resident_limit: bytes */
#define KC_AGG_RESIDENT_UNLIMITED      ((size_t)-1)       /* resident_limit: no limit */

typedef struct {
    const char *listen;       /* endpoint to bind; NULL = KC_AGG_DEFAULT_LISTEN */
    const char *store_dir;    /* NULL = KC_AGG_DEFAULT_STORE (parents created) */
    size_t group_max;         /* events per group commit; 0 = default */
    int group_window_ms;      /* < 0 = default; 0 = commit whatever one poll brought */
    size_t map_size;          /* initial LMDB map size; 0 = store default */
    size_t resident_limit;    /* keep RSS under about this many bytes by releasing the
                                 store's mapped pages (kc_store_trim_resident); 0 =
                                 KC_AGG_DEFAULT_RESIDENT_LIMIT, KC_AGG_RESIDENT_UNLIMITED = none */
    const char *ready_file;   /* NULL or a file to receive the bound endpoint */
    int stats_interval_ms;    /* debug counter lines; 0 = 10000 */
    int sth_interval_ms;      /* least time between signed tree heads (kc_audit.h), signed at
                                 the end of a group commit that grew the log and at shutdown;
                                 0 = KC_AGG_DEFAULT_STH_INTERVAL_MS, KC_AGG_STH_EVERY_COMMIT
                                 = no least time */
    int64_t checkpoint_every; /* log entries between checkpoints of the totals (kc_checkpoint.h);
                                 0 = KC_CHECKPOINT_EVERY_DEFAULT, KC_AGG_CHECKPOINT_NEVER = none */
    /* Security (kc_auth.h, docs/SECURITY.md). */
    const char *curve_secret_file; /* the aggregator's secret certificate: CURVE server with
                                      ZAP authentication; NULL = plaintext */
    const char *registry_file;     /* producer registry; required with curve_secret_file */
    bool insecure;                 /* allow plaintext on an endpoint that is not loopback/ipc */
    volatile sig_atomic_t *reload; /* when set non-zero (SIGHUP), kc_agg_run() clears it and
                                      reloads the config (on_reload) and the registry; NULL =
                                      never */
    void (*on_reload)(void *ctx);  /* called on SIGHUP before the registry reload (the program
                                      rereads its config file); NULL = none */
    void *on_reload_ctx;
    /* Monitoring (issue 5). */
    const char *feed_endpoint;          /* live feed PUB endpoint; NULL = no feed */
    const char *feed_snapshot_endpoint; /* its snapshot ROUTER; required with a feed */
    int feed_heartbeat_ms;              /* 0 = KC_FEED_HEARTBEAT_MS */
    int feed_sndhwm;                    /* PUB high-water mark per subscriber; 0 = 1000 */
    bool http;                          /* serve the HTTP API, /metrics and the dashboard */
    const char *http_addr;              /* NULL = 127.0.0.1 */
    unsigned http_port;                 /* 0 = any free port */
} kc_agg_opts_t;

typedef struct kc_agg kc_agg_t;

/* Open the store, bind the socket and, if asked, write the ready file
 * (endpoint + "\n", atomically: temporary file + rename). Caller owns *out
 * and must kc_agg_destroy() it. Returns 0, KC_EINVAL (bad endpoint or
 * options), KC_EBUSY (address in use), a store error, or -errno. */
int kc_agg_new(kc_agg_t **out, const kc_agg_opts_t *opts);
/* Close socket and store; sets *self_p to NULL; no-op on NULL. */
void kc_agg_destroy(kc_agg_t **self_p);

/* The endpoint actually bound (ZMQ_LAST_ENDPOINT), e.g. "tcp://127.0.0.1:40123". */
const char *kc_agg_endpoint(const kc_agg_t *self);
/* The feed's bound endpoints (NULL without a feed) and the HTTP port (0 without). */
const char *kc_agg_feed_endpoint(const kc_agg_t *self);
const char *kc_agg_snapshot_endpoint(const kc_agg_t *self);
unsigned kc_agg_http_port(const kc_agg_t *self);
/* localhost in a bind address, as kcpipe binds it. libzmq takes the host of a
 * tcp bind endpoint as an interface name or a numeric address, never as a host
 * name ("tcp://localhost:PORT" fails with ENODEV), and kc_http binds numeric
 * addresses only: localhost means the IPv4 loopback 127.0.0.1 (never ::1).
 * Returns "tcp://127.0.0.1:PORT" (written into buf[cap]) for
 * "tcp://localhost:PORT", "127.0.0.1" for the address "localhost", else ep
 * itself (also when buf cannot hold the result). */
const char *kc_agg_resolve_localhost(const char *ep, char *buf, size_t cap);
/* Whether an HTTP bind address is loopback (127.0.0.0/8, ::1, localhost). */
bool kc_agg_http_addr_is_local(const char *addr);

/* Serve until *stop becomes non-zero, then commit and acknowledge the group in
 * hand and return 0. Bad input never makes it return; it returns a negative
 * code only if the socket itself fails. */
int kc_agg_run(kc_agg_t *self, volatile sig_atomic_t *stop);

/* Tests: hook(ctx, messages) is called by the commit thread before each group
 * commit. It may block (a commit held in flight); a non-zero return fails
 * that commit without touching the store (kc_apply_fail: every Batch of the
 * group is answered STATUS_UNAVAILABLE). Set before kc_agg_run(); NULL = none. */
void kc_agg_set_commit_hook(kc_agg_t *self, int (*hook)(void *ctx, size_t nmsgs), void *ctx);

/* Reload the producer registry (kc_auth.h) now; kc_agg_run() calls it when
 * *opts.reload is set. On success the ZAP handler refuses keys no longer
 * registered from the next handshake, and Batches arriving on connections
 * whose key was revoked or removed are refused (STATUS_BAD_PRODUCER); the
 * reload is logged "KC-SEC-005 registry reloaded: generation=N ...". On a
 * malformed or unreadable file the registry in force stays (KC-SEC-006) and
 * the error is returned. KC_EINVAL without CURVE. */
int kc_agg_reload(kc_agg_t *self);
/* Registry loads so far (1 after kc_agg_new() with CURVE, 0 without). */
unsigned kc_agg_registry_generation(const kc_agg_t *self);

/* Counters since kc_agg_new(). */
const kc_agg_counters_t *kc_agg_counters(const kc_agg_t *self);
/* Log the counters at `level` with a leading word ("stopped", "stats"). */
void kc_agg_log_counters(const kc_agg_t *self, int level, const char *what);

#endif
