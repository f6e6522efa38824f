/* kc_feedc.h - a client of the live totals feed (the Clone pattern's client).
 *
 * DESIGN (docs/MONITORING.md)
 * kc_feedc_new() connects a SUB socket to the PUB endpoint (subscribes to
 * everything) and a DEALER to the snapshot endpoint, then asks for a snapshot:
 * subscribe first, snapshot second, so that no update between them is lost.
 * While a snapshot is being received, updates queue in the SUB socket. Once
 * the snapshot at S is in, updates are applied only in order: an update with
 * prev_seq == seq (the client's) is applied and seq = its seq; seq <= seq is
 * old and skipped; anything else (prev_seq > seq, or a HUGZ with seq > seq) is
 * a gap: a fresh snapshot is requested (counted in stats.resyncs); the
 * client's state stays readable but kc_feedc_synced() is false until the
 * fresh snapshot replaces it whole. A snapshot not complete within
 * snapshot_timeout_ms is asked for again (new request_id; stale replies are
 * ignored). Cells are kept in a kc_cells_mem_t (kc_cells.h), so the client's
 * state can be summed exactly like the store's totals.
 * Joining: the client asks for its first snapshot only once a PUB message
 * (the HUGZ the aggregator sends each new subscription) shows that its
 * subscription is in place, or after 1.5 s without one.
 * Threads: one thread per client.
 */
#ifndef KC_FEEDC_H
#define KC_FEEDC_H

#include "kc_cells.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    const char *pub_endpoint;      /* the aggregator's feed PUB endpoint */
    const char *snapshot_endpoint; /* its snapshot ROUTER endpoint */
    int year_from, year_to;        /* snapshot only these years (0 = all) */
    int snapshot_timeout_ms;       /* 0 = 5000 */
} kc_feedc_opts_t;

/* Last report of one province unit. */
typedef struct {
    uint64_t last_report_ns; /* 0 = never */
    uint64_t last_offset;
    uint64_t events;
} kc_feedc_unit_t;

typedef struct kc_feedc kc_feedc_t;

typedef struct {
    uint64_t snapshots; /* snapshots completed */
    uint64_t resyncs;   /* gaps detected (each answered by a snapshot) */
    uint64_t updates;   /* updates applied */
    uint64_t skipped;   /* old updates skipped (seq <= client's) */
} kc_feedc_stats_t;

int kc_feedc_new(kc_feedc_t **out, void *ctx, const kc_feedc_opts_t *opts);
void kc_feedc_destroy(kc_feedc_t **self_p);

/* Wait up to timeout_ms for feed traffic and process all of it. Returns 1 if
 * the state changed (a snapshot completed or an update was applied), 0 if
 * not, or a negative KC_E* code. */
int kc_feedc_poll(kc_feedc_t *self, int timeout_ms);
/* true once a snapshot is in and no resync is pending. */
bool kc_feedc_synced(const kc_feedc_t *self);
/* Milliseconds since the last message from the aggregator (an update, a
 * heartbeat or a snapshot part; since kc_feedc_new() if none). Heartbeats come
 * about every second, so a few seconds of quiet mean the feed is gone: the
 * state is then stale, however synced. */
uint64_t kc_feedc_quiet_ms(const kc_feedc_t *self);
/* The client's sequence (log size its state reflects). */
uint64_t kc_feedc_seq(const kc_feedc_t *self);
/* The cells (a kc_cells_src_t with .mem = this, for kc_cells_sum_src). */
kc_cells_mem_t *kc_feedc_cells(kc_feedc_t *self);
/* Last report of a unit (kc_ref_unit_key); zeroed if never. */
kc_feedc_unit_t kc_feedc_unit(const kc_feedc_t *self, uint8_t unit);
void kc_feedc_stats(const kc_feedc_t *self, kc_feedc_stats_t *out);

/* TEST HOOK (tests/feed): discard the next n UPD messages received while
 * synced, as if the network had lost them, so that the gap detection and
 * resync can be tested. Not for production use. */
void kc_feedc_test_drop_updates(kc_feedc_t *self, uint64_t n);

#endif
