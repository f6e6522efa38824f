/* kc_feed.h - the aggregator's live totals feed (server side of the Clone pattern).
 *
 * DESIGN (docs/MONITORING.md, proto FeedUpdate)
 * Two sockets:
 *   PUB  (an XPUB with ZMQ_XPUB_VERBOSER, so subscriptions can be counted)
 *        owned by the aggregator's commit thread. After each group commit that
 *        grew the log, kc_feed_publish() sends ["UPD", FeedUpdate] with the
 *        new absolute values of the cells the commit changed. Sends never
 *        block: past ZMQ_SNDHWM a slow subscriber's messages are dropped by
 *        libzmq and that subscriber sees a gap (prev_seq != its seq) and asks
 *        for a fresh snapshot. kc_feed_tick() sends ["HUGZ", FeedUpdate{seq,
 *        prev_seq = seq}] every heartbeat_ms.
 *   ROUTER (snapshot) owned by a thread of its own started by kc_feed_new():
 *        on ["ICANHAZ?", FeedSnapshotRequest] it opens a read snapshot of the
 *        store (kc_store_read_begin), reads S = log size, and answers with
 *        ["SNAP", FeedUpdate{seq=S, prev_seq=S, cells (<= 1024 a part), units}]
 *        parts and a final ["KTHXBAI", FeedUpdate{seq=S}], all carrying the
 *        request_id. Because every update is published after its commit
 *        returned, an update with prev_seq >= S is not in the snapshot and one
 *        with seq <= S is. The snapshot thread never touches the commit path.
 * Endpoints: tcp on loopback or ipc by default; another address needs the
 * caller's insecure flag (the feed is plaintext: kc_agg checks this).
 * Threads: kc_feed_publish/tick/handle_pub/subscribers from the commit thread only.
 */
#ifndef KC_FEED_H
#define KC_FEED_H

#include "kc_store.h"

#include <stddef.h>
#include <stdint.h>

#define KC_FEED_HEARTBEAT_MS        1000
#define KC_FEED_SNAPSHOT_PART_CELLS 1024

typedef struct {
    const char *pub_endpoint;      /* e.g. tcp://127.0.0.1:5556 */
    const char *snapshot_endpoint; /* e.g. tcp://127.0.0.1:5557 */
    int heartbeat_ms;              /* 0 = KC_FEED_HEARTBEAT_MS */
    int sndhwm;                    /* PUB high-water mark in messages; 0 = 1000 */
} kc_feed_opts_t;

/* One changed cell after a commit: key and absolute values. */
typedef struct {
    kc_cell_key_t key;
    kc_cell_t cell;
} kc_feed_cell_t;

/* A province unit that reported in a commit. */
typedef struct {
    uint8_t unit;       /* kc_ref_unit_key */
    kc_unit_state_t st; /* store/kc_store.h */
} kc_feed_unit_t;

typedef struct kc_feed kc_feed_t;

/* Bind both sockets (zmq context ctx, shared with the caller) and start the
 * snapshot thread over `store` (read transactions only). KC_EBUSY if an
 * address is in use, KC_EINVAL for a bad endpoint. */
int kc_feed_new(kc_feed_t **out, void *ctx, kc_store_t *store, const kc_feed_opts_t *opts);
/* Stop the thread, close the sockets; *self_p = NULL; no-op on NULL. */
void kc_feed_destroy(kc_feed_t **self_p);
/* Bound endpoints (ZMQ_LAST_ENDPOINT). */
const char *kc_feed_pub_endpoint(const kc_feed_t *self);
const char *kc_feed_snapshot_endpoint(const kc_feed_t *self);

/* Publish one commit's changes (never blocks; drops count in the stats). */
int kc_feed_publish(kc_feed_t *self, uint64_t prev_seq, uint64_t seq, uint64_t time_ns,
                    const kc_feed_cell_t *cells, size_t ncells, const kc_feed_unit_t *units,
                    size_t nunits);
/* Heartbeat if due (call at least every heartbeat_ms; cheap otherwise). */
void kc_feed_tick(kc_feed_t *self, uint64_t now_ms, uint64_t seq);
/* The XPUB socket, to poll for ZMQ_POLLIN (subscription messages), and the
 * handler that reads them when it is readable. */
void *kc_feed_pub_socket(kc_feed_t *self);
void kc_feed_handle_pub(kc_feed_t *self);

typedef struct {
    int64_t subscribers;   /* subscriptions minus unsubscriptions seen on the XPUB */
    uint64_t updates;      /* UPD messages published */
    uint64_t update_drops; /* publishes that libzmq refused (EAGAIN) */
    uint64_t snapshots;    /* snapshots served (thread-safe read: atomics) */
} kc_feed_stats_t;
void kc_feed_stats(const kc_feed_t *self, kc_feed_stats_t *out);

#endif
