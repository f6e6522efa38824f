/* kc_apply.h - one group commit of the aggregator: Batch messages in, Acks out.
 *
 * A kc_apply_t holds the Batch messages received for one group commit. The
 * daemon (kc_agg.c) adds messages as they arrive, commits the whole group in
 * one store write transaction with kc_apply_commit(), then sends each message's
 * Ack, and finally resets the group for the next round. Tests drive the same
 * object in-process against a temporary store.
 *
 * DESIGN - counted exactly once
 * Per producer, sequence numbers start at 1 and have no gaps. The store keeps
 * each producer's high-water mark (hwm: highest seq processed); it is read once
 * per producer per group, kept in memory while the group is applied, and
 * written back once, in the same transaction as the log, identities, totals and
 * rejects, so a crash loses all of a group or none of it. For each event of a
 * Batch, in order:
 *   1. the bytes must decode and carry a seq >= 1, else the event cannot be
 *      placed in the producer's sequence: it and the rest of the batch are not
 *      processed; the Ack carries one Result without seq (reason undecodable or
 *      missing_seq, the event's index in `text`). Nothing is stored or
 *      counted for it and resend_from stays 0: sending the same bytes again
 *      cannot help. (libkcingest never produces such events.)
 *   2. the seqs of one batch must be consecutive (each = previous + 1);
 *      otherwise processing stops there and the Ack says resend_from = hwm + 1.
 *   3. seq <= hwm: already processed (a resend). Acknowledged again, counted
 *      nowhere; its original result is recomputed from the store: a rejects
 *      record (which also holds business duplicates) gives its reason and
 *      text, no record means it was accepted.
 *   4. seq > hwm + 1: a gap. Processing stops; the Ack says resend_from = hwm+1.
 *   5. seq == hwm + 1: processed, and hwm advances whatever the outcome:
 *      producer_id differs from the batch's -> producer_mismatch;
 *      else the ledger (kc_ledger.h) computes the event's effect from the
 *      event and the store: kc_event_check() failures, business dedup
 *      (identity present with the same content hash -> duplicate, another
 *      hash -> event_id_conflict) and the target rules of corrections and
 *      retractions give their reasons; then the reporting cycle
 *      (core/kc_period.h, docs/CYCLE.md): an effect with a cell of an
 *      approved (province, month) -> period_locked; a sign-off, approval or
 *      reopen is decided on the store's periods table (approve/reopen: the
 *      centre only, else province_not_authorized) and, accepted, writes its
 *      period's new state instead of cells; otherwise its cell deltas and identity
 *      records are applied (KC_EOVERFLOW -> total_overflow, nothing changed)
 *      and the raw bytes appended to the log at the offset the effect was
 *      computed for: accepted. The cell deltas go to the run's in-memory
 *      totals (below), not straight to the store.
 *      Every outcome other than accepted is recorded in the rejects table
 *      (duplicates included, with reason duplicate) so that step 3 is exact
 *      even if a resend carries different bytes under an old seq.
 * The Ack: acked_from..acked_to = first..last seq of the batch that was
 * acknowledged (steps 3 and 5), committed_seq = the producer's hwm after the
 * batch, results = one per duplicate or rejection in that range.
 *
 * DESIGN - totals aggregated per group commit
 * A run keeps the totals cells its events touch in memory: an open-addressing
 * hash table of 7-byte cell keys -> absolute value, each cell read from the
 * store (kc_txn_totals_get) at its first touch in the run. Each accepted
 * event's deltas are applied there by kc_ledger_apply_cells() with exactly
 * kc_txn_totals_apply's range checks, per event and all or nothing (an event
 * that would take any of its cells out of range is total_overflow and changes
 * nothing; the events before and after it count as usual). At the end of the
 * run every cell an accepted event changed is written once
 * (kc_txn_totals_put), in the same transaction and before the checkpoint
 * (which reads the totals): one store write per touched cell per group
 * instead of a read and a write per event per cell.
 *
 * DESIGN - what a commit changed (the live feed, kc_feed.h; the units table)
 * While a run applies the group it notes, for every accepted event, its own
 * province unit (the unit of its identity, kc_ref_unit_key of its code and
 * period), with last_report_ns = the run's received_ns, last_offset = its log
 * offset and events + 1. At the end of the run, in the same transaction, each
 * touched unit is written to the units table once. The changed cells (if
 * kc_apply_set_track_cells() is on) are the in-memory totals' changed cells
 * with their final values, in order of first change, so kc_apply_changes()
 * gives, after the commit, exactly what the commit made of them.
 *
 * DESIGN - decoding without malloc
 * Batches and Events are unpacked by protobuf-c into the group's arena
 * (kc_arena.h: bump-pointer chunks, free a no-op) under the same per-message
 * budget as ever (4 x the message's size + 64 KiB of protobuf-c's cumulative
 * allocation requests; past it: undecodable). Each Batch lives there from
 * kc_apply_add() to kc_apply_reset(), which releases them all at once; so do
 * the Events decoded ahead (below); an Event decoded during the run lives from
 * its unpack to the end of its processing (the arena is rewound after it).
 * Nothing is free_unpacked. The chunks stay between groups (a steady load allocates
 * none after its first group); a reset returns those beyond twice what the
 * group just ended used (kc_arena_reset), so one huge group is given back at
 * the end of the next smaller one. Protobuf-c copies each `bytes` element of
 * a Batch (there is no zero-copy unpack without a hand-written decoder): into
 * the arena, that copy is a memcpy, and it is the copy the log append and the
 * Event unpack read, since kc_apply_add()'s bytes are only borrowed.
 *
 * DESIGN - decoding ahead (the daemon's pipeline, kc_agg.h)
 * What needs no store is done by kc_apply_add(), so that the daemon's socket
 * thread does it for the next group while the commit thread runs the current
 * one: each event of an accepted Batch (not refused: undecodable, bad
 * producer) is unpacked, put through kc_event_check(), and, if it is a record
 * that passed, content-hashed (a correction's or retraction's hash depends on
 * its target, in the store). The run then only reads these results
 * (kc_ledger_effect_checked); the decisions and their order are the DESIGN's
 * steps above, unchanged: a result of an event the run never reaches (after a
 * gap, a resend) is simply not used. An event that failed the check is checked
 * again by the ledger in the run, which words its reason (the rare path).
 * Decoding ahead stops at the first event without a usable seq (step 1: the
 * run decodes it and stops there) and once the decoded events and their
 * results take 16 x the message's size + 64 KiB of arena (only messages of
 * many tiny events get there); the run decodes the remaining events one at a
 * time as above. So a group holds its decoded events until kc_apply_reset():
 * about 10 x their encoded size (~550 bytes an event of kc-apply-work, 4.5 MB
 * for a group of 8,192), and the daemon has two groups.
 *
 * kc_store_write() may run the callback several times (map growth), so every
 * piece of in-memory state of a run (hwm cache, Acks, counters delta, totals, changes) is
 * rebuilt from scratch at the start of kc_apply_run(); warnings about rejected
 * events are logged only once the commit has returned.
 *
 * Threads: a kc_apply_t is used by one thread at a time (the daemon hands a
 * whole group from its socket thread to its commit thread and back, under a
 * mutex). Different kc_apply_t may be used at the same time by different
 * threads, one of them committing.
 * Returns: 0 or a negative KC_E* code (kc_err.h) unless stated.
 */
#ifndef KC_APPLY_H
#define KC_APPLY_H

#include "kc_event.h"
#include "kc_feed.h" /* kc_feed_cell_t, kc_feed_unit_t */
#include "kc_store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One more than the largest kcpipe.v1.Reason value. */
#define KC_REASON_SLOTS 40

/* What the aggregator did, summed over batches. */
typedef struct {
    uint64_t batches;                    /* Batch messages answered (any status) */
    uint64_t bad_batches;                /* of those, refused whole: undecodable or bad producer */
    uint64_t unavailable;                /* of those, answered unavailable (commit failed) */
    uint64_t events;                     /* events newly processed (seq == hwm + 1) */
    uint64_t accepted;                   /* counted into the totals */
    uint64_t duplicates;                 /* business duplicates: acknowledged, not counted */
    uint64_t rejected;                   /* rejected for any reason but duplicate */
    uint64_t resent;                     /* transport duplicates (seq <= hwm): acknowledged again */
    uint64_t gaps;                       /* batches that stopped at a gap (resend_from set) */
    uint64_t unplaceable;                /* events without a usable seq (step 1 of the DESIGN) */
    uint64_t fenced;                     /* batches refused: from a retired spool epoch */
    uint64_t commits;                    /* store write transactions committed */
    uint64_t by_reason[KC_REASON_SLOTS]; /* newly processed events per Reason */
} kc_agg_counters_t;

typedef struct kc_apply kc_apply_t;

/* A new, empty group. Caller owns the return value and must destroy it with
 * kc_apply_destroy(). NULL if out of memory. */
kc_apply_t *kc_apply_new(void);
/* Destroy and set *self_p to NULL; no-op on NULL. */
void kc_apply_destroy(kc_apply_t **self_p);

/* Checkpoints of the totals (kc_checkpoint.h): a run whose log size went from
 * a to b with b / every > a / every ends with kc_txn_checkpoint_put() in the
 * same transaction (at size b: checkpoints are at group ends). 0 = never;
 * default KC_CHECKPOINT_EVERY_DEFAULT. A run also takes max(CLOCK_REALTIME,
 * the last log entry's received_ns) as its entries' received_ns, so that
 * received_ns never decreases along the log. */
void kc_apply_set_checkpoint_every(kc_apply_t *self, uint64_t every);

/* Add one received Batch message (bytes borrowed for the call only: they are
 * decoded here). A message that is not a Batch, or whose producer_id is missing
 * or longer than KC_PRODUCER_ID_MAX, is kept too: its Ack will say
 * STATUS_UNDECODABLE or STATUS_BAD_PRODUCER. Returns 0 (the message's index
 * is kc_apply_count() - 1) or KC_ENOMEM (the message was not added). */
int kc_apply_add(kc_apply_t *self, const void *data, size_t len);

/* What the key that sent a message may do (docs/SECURITY.md): the producer id
 * it is registered to and the provinces it may report for. */
typedef struct {
    const char *producer_id; /* the key's producer id (ZAP User-Id); copied */
    uint64_t provinces[2];   /* bit p (0-99): province code p allowed */
    bool any_province;       /* every province allowed */
    bool revoked;            /* the key was revoked (or unregistered) after the peer connected */
} kc_apply_grant_t;

/* kc_apply_add() for a message that came over an authenticated connection.
 * grant NULL: as kc_apply_add() (no authorization). Otherwise the whole Batch
 * is refused (STATUS_BAD_PRODUCER, logged KC-SEC-002/KC-SEC-004) if the key
 * was revoked or the Batch's producer_id is not grant->producer_id; and each
 * newly processed event (step 5 of the DESIGN, after producer_mismatch and
 * before the ledger) whose province the grant does not allow is rejected with
 * REASON_PROVINCE_NOT_AUTHORIZED (logged KC-SEC-003); like every rejection it
 * consumes its seq and is recorded in the rejects table. */
int kc_apply_add_granted(kc_apply_t *self, const void *data, size_t len,
                         const kc_apply_grant_t *grant);

/* Number of messages in the group. */
size_t kc_apply_count(const kc_apply_t *self);
/* Number of events carried by the group's messages (for the group-max rule). */
size_t kc_apply_events(const kc_apply_t *self);

/* The body of the store write callback: (re)apply every message of the group
 * inside txn, from scratch. `self` is a kc_apply_t. Returns 0, or a store
 * error (KC_EMAPFULL included) that the caller of kc_store_write() passes on.
 * Use kc_apply_commit() unless composing with other writes. */
int kc_apply_run(kc_txn_t *txn, void *self);

/* Apply the group in one kc_store_write() transaction. On success the Acks
 * are final, rejections are logged (warn) and kc_apply_delta() holds what the
 * group did. On failure (a KC_E* code is returned, e.g. KC_ENOSPC) nothing was
 * stored, the failure is logged, and every message's Ack says
 * STATUS_UNAVAILABLE with the reason in `error`. An empty group commits
 * nothing and returns 0. */
int kc_apply_commit(kc_apply_t *self, kc_store_t *store);

/* Instead of kc_apply_commit(), when the commit cannot be attempted (rc < 0,
 * e.g. a test's fault): nothing is stored and every message is answered as
 * after a commit that failed with rc (STATUS_UNAVAILABLE, logged). Returns
 * rc (KC_EINVAL if rc >= 0). */
int kc_apply_fail(kc_apply_t *self, int rc);

/* The packed Ack of message i, after kc_apply_commit(). The bytes are owned by
 * the group and valid until kc_apply_reset() or kc_apply_destroy().
 * KC_EINVAL if i is out of range or the group was not committed. */
int kc_apply_ack(kc_apply_t *self, size_t i, const uint8_t **data, size_t *len);

/* The decoded Ack of message i (borrowed like kc_apply_ack()'s bytes); NULL if
 * i is out of range or the group was not committed. For tests and logging. */
const kc_pb_ack_t *kc_apply_ack_msg(kc_apply_t *self, size_t i);

/* What the last kc_apply_commit() did (zero before it). */
const kc_agg_counters_t *kc_apply_delta(const kc_apply_t *self);

/* Forget every message and Ack: the group is empty again. */
void kc_apply_reset(kc_apply_t *self);

/* Capture the totals cells each run changes (off by default: units are always
 * tracked, since the units table is written either way). */
void kc_apply_set_track_cells(kc_apply_t *self, bool on);

/* What the last successful kc_apply_commit() changed. Arrays are owned by the
 * group and valid until the next kc_apply_run(), kc_apply_reset() or
 * kc_apply_destroy(). */
typedef struct {
    const kc_feed_cell_t *cells; /* changed cells with their absolute values (key order:
                                    first change in the run); none unless tracked */
    size_t ncells;
    const kc_feed_unit_t *units; /* units that reported, with their new state */
    size_t nunits;
    uint64_t prev_seq;  /* log size before the commit */
    uint64_t seq;       /* log size after it (= prev_seq: the log did not grow) */
    uint64_t time_ns;   /* the run's received_ns (CLOCK_REALTIME) */
    bool cells_tracked; /* the run captured cells (else cells is empty whatever changed) */
} kc_apply_changes_t;
/* KC_EINVAL (out zeroed) unless the last kc_apply_commit() succeeded. */
int kc_apply_changes(const kc_apply_t *self, kc_apply_changes_t *out);

/* Per-message facts for metrics (valid until kc_apply_reset()). */
typedef struct {
    const char *producer_id; /* the Batch's producer_id if it was processed; "" if it was
                                refused (bad producer, fenced, unavailable); NULL if
                                undecodable */
    size_t events;           /* events it carried (0 if undecodable) */
    uint64_t spool_last_seq; /* Batch.spool_last_seq; 0 = not reported */
} kc_apply_msg_info_t;
/* KC_EINVAL if i is out of range. */
int kc_apply_msg_info(const kc_apply_t *self, size_t i, kc_apply_msg_info_t *out);

/* Bytes of decode arena the group holds, and chunks it has malloc'd since
 * kc_apply_new() (tests: flat across groups of the same shape). */
size_t kc_apply_arena_bytes(const kc_apply_t *self);
uint64_t kc_apply_arena_mallocs(const kc_apply_t *self);

/* Add the counters of `delta` to `sum`. */
void kc_agg_counters_add(kc_agg_counters_t *sum, const kc_agg_counters_t *delta);

#endif
