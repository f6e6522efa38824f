/* kc_agg.h - the aggregator daemon: a ROUTER socket, group commits, Acks.
 *
 * DESIGN - commit, then acknowledge
 * Producers (DEALER sockets) send one Batch per message; the ROUTER sees
 * [routing id, Batch] (a REQ-style [routing id, empty, Batch] is accepted
 * too, and answered with the same envelope). Any other frame count is dropped
 * with a log line. Messages are collected into a group (kc_apply_t) until it
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
 * Signed tree heads: the store signs a head inside a group's own commit when
 * the group grew the log and sth_interval_ms have passed since the last one
 * (kc_store_set_head_interval), and once more at shutdown if the log grew.
 *
 * Stopping: the caller's stop flag (set by a signal handler) is checked at
 * least every 100 ms; the group in hand is then committed and acknowledged
 * before kc_agg_run() returns. All state is in the store, so a restarted
 * daemon resumes exactly.
 */
#ifndef KC_AGG_H
#define KC_AGG_H

#include "kc_apply.h"

#include <signal.h>
#include <stddef.h>

#define KC_AGG_DEFAULT_LISTEN          "tcp://127.0.0.1:5555"
#define KC_AGG_DEFAULT_STORE           "./var/kcpipe"
#define KC_AGG_DEFAULT_GROUP_MAX       8192
#define KC_AGG_DEFAULT_GROUP_WINDOW_MS 5
#define KC_AGG_DEFAULT_STH_INTERVAL_MS 2000
#define KC_AGG_STH_EVERY_COMMIT        (-1) /* sth_interval_ms: a head per group commit */

typedef struct {
    const char *listen;     /* endpoint to bind; NULL = KC_AGG_DEFAULT_LISTEN */
    const char *store_dir;  /* NULL = KC_AGG_DEFAULT_STORE (parents created) */
    size_t group_max;       /* events per group commit; 0 = default */
    int group_window_ms;    /* < 0 = default; 0 = commit whatever one poll brought */
    size_t map_size;        /* initial LMDB map size; 0 = store default */
    const char *ready_file; /* NULL or a file to receive the bound endpoint */
    int stats_interval_ms;  /* debug counter lines; 0 = 10000 */
    int sth_interval_ms;    /* least time between signed tree heads (kc_audit.h), signed at
                               the end of a group commit that grew the log and at shutdown;
                               0 = KC_AGG_DEFAULT_STH_INTERVAL_MS, KC_AGG_STH_EVERY_COMMIT
                               = no least time */
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

/* Serve until *stop becomes non-zero, then commit and acknowledge the group in
 * hand and return 0. Bad input never makes it return; it returns a negative
 * code only if the socket itself fails. */
int kc_agg_run(kc_agg_t *self, volatile sig_atomic_t *stop);

/* Counters since kc_agg_new(). */
const kc_agg_counters_t *kc_agg_counters(const kc_agg_t *self);
/* Log the counters at `level` with a leading word ("stopped", "stats"). */
void kc_agg_log_counters(const kc_agg_t *self, int level, const char *what);

#endif
