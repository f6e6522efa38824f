/* kc_replay.h - core's replay (libkcreplay): recompute totals, identities and producer
 * high-water marks from an event log alone (kc-replay rebuild/verify, bench-replay).
 *
 * DESIGN
 * The caller feeds log entries in offset order (0, 1, 2, ... with no gap) with
 * kc_replay_add() and ends with kc_replay_finish(). Entries are copied into a
 * group buffer; every opts.group entries the group is replayed in ONE write
 * transaction of the destination store (kc_store_write), so a 10-million
 * entry log costs ~100 commits instead of 10 million.
 *
 * Per entry, inside the group's transaction:
 *   1. copy_log: kc_txn_log_append() of the entry verbatim (received time,
 *      producer, epoch, seq and the Event bytes), so the new store gets the
 *      same leaf hashes and the same Merkle root as the source; the offset it
 *      lands at must be the entry's offset.
 *   2. decode the Event (protobuf-c with a bump allocator reset per entry: no
 *      malloc/free per field) and compute kc_ledger_effect() against a source
 *      that reads identities from the destination transaction and targets'
 *      Event bytes from opts.events_from (the source store's snapshot) or,
 *      without it, from the destination's own log (copy_log).
 *   3. the effect must be REASON_OK: only accepted events are logged, in the
 *      order they were accepted, so anything else means the log and the rules
 *      disagree: the replay stops, reporting the offset (kc_replay_failure()).
 *   4. identities are written (kc_txn_identity_put) as kc_ledger_apply would;
 *      the cell deltas go to an in-memory cell map (kc_cellmap.h) instead of
 *      LMDB, with the same range checks as kc_txn_totals_apply (kc_cell_add:
 *      every int64 metric, the event count within 0..UINT64_MAX) applied event
 *      by event, so an event that the live path could not have applied is
 *      still found at its offset.
 * The map holds every cell (tens of thousands at most: period x province x
 * activity x kind x fund); the cells are written once, in the final
 * transaction, together with the producers' states. kc_store_write() may run
 * a callback again after growing the map: a group's callback first undoes the
 * in-memory cells its earlier attempt touched (the map's dirty list; each cell
 * keeps its value as of the last commit), so a retry starts from the committed
 * state.
 *
 * Memory mode (opts.in_memory; kc-replay verify, bench-replay's headline):
 * no destination store and no transactions. Each entry is replayed as it is
 * added: decoded (kc_wire_decode: a wire walker, protobuf-c when unsure),
 * checked (kc_event_check), and applied to two in-memory tables: identities
 * (open addressing, 16 bytes each: a 64-bit hash of unit key + event_id, and
 * offset/unit/kind/op/state; a hash match is confirmed by reading the
 * event_id of the log entry at that offset from opts.events_from, so a
 * collision never answers for another identity) and the cells (as above,
 * range-checked event by event). A record takes kc_ledger's record arithmetic
 * directly (+values into its cell, events +1; its identity must not exist);
 * a correction or retraction is computed by kc_ledger_effect() itself, with
 * a source reading those in-memory identities and the targets' log entries,
 * so chains, kind/period resolution and merged deltas are the live path's.
 * Identities carry no content hash in memory (only stores need it, for
 * business dedup of new events); a repeated identity is reported as
 * event_id_conflict. replay_test compares memory mode, the store replay and
 * the live totals cell by cell.
 *
 * Producers (transport dedup state) are derived while buffering: per producer
 * the latest epoch and the highest seq logged in it, the number of entries
 * (accepted), last_seen_ns = the latest entry's received time. Within one
 * (producer, epoch) logged seqs must increase and epochs must not go back
 * (the live path fences older epochs), else the log is inconsistent. The hwm
 * is therefore the highest ACCEPTED seq: events after it that the live store
 * rejected or found duplicate are not in the log; resent to an aggregator on
 * the rebuilt store they are judged again (and get the same outcome).
 * Rejections (the `rejects` table) and duplicate/rejected counters are not in
 * the log and are not rebuilt.
 *
 * Libraries never print: failures are logged with kc_log and described by
 * kc_replay_failure(). Returns: 0 or a negative KC_E* code; KC_EFORMAT when
 * the log is inconsistent (kc_replay_failure() says where and why).
 */
#ifndef KC_REPLAY_H
#define KC_REPLAY_H

#include "kc_cellmap.h"
#include "kc_event.h"
#include "kc_ledger.h"
#include "kc_store.h"
#include "kc_wire.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KC_REPLAY_DEFAULT_GROUP 100000

typedef struct kc_replay kc_replay_t;

typedef struct {
    bool in_memory;        /* memory mode (see DESIGN): dst is not used (may be NULL),
                              copy_log must be false, events_from is required */
    bool copy_log;         /* append every entry to the destination's log (rebuild) */
    kc_txn_t *events_from; /* where targets' Events are read (a read snapshot of the
                              source store); NULL: the destination's log (copy_log) */
    size_t group;          /* entries per write transaction; 0 = KC_REPLAY_DEFAULT_GROUP */
    uint64_t total;        /* entries expected, for progress (0 = unknown) */
    void (*progress)(uint64_t done, uint64_t total, void *ctx); /* after each commit; may be NULL */
    int threads; /* memory mode, kc_replay_from_txn: 1 = one thread; 2 = the log scan,
                    decoding and checks on a second thread (see kc_replay_scan.c); 0 = 2
                    from 65,536 entries on a machine with 2 or more CPUs, else 1 */
    void *progress_ctx;
} kc_replay_opts_t;

typedef struct {
    uint64_t entries;    /* log entries replayed */
    uint64_t cells;      /* totals cells */
    uint64_t producers;  /* producers seen */
    uint64_t identities; /* identity records written (events + targets updated) */
    uint64_t records, corrections, retractions;
    uint64_t commits; /* write transactions */
} kc_replay_stats_t;

typedef struct {
    bool failed;     /* the log is inconsistent */
    uint64_t offset; /* the first entry that could not be replayed */
    int reason;      /* kcpipe.v1.Reason of its effect, or -1 (not a ledger verdict) */
    char why[384];   /* one line, English; in display form (kc_text.h) */
} kc_replay_failure_t;

/* Start a replay into dst (which should be empty: the cell table starts empty),
 * or in memory (opts->in_memory; dst ignored). */
int kc_replay_new(kc_replay_t **out, kc_store_t *dst, const kc_replay_opts_t *opts);
/* Feed the next entry (its bytes are copied). Its offset must be the next one. */
int kc_replay_add(kc_replay_t *r, const kc_log_entry_t *e);
/* Replay what is buffered and write every cell and producer state (one final
 * transaction). Call once, after the last entry. */
int kc_replay_finish(kc_replay_t *r);
void kc_replay_free(kc_replay_t **r);

const kc_replay_stats_t *kc_replay_stats(const kc_replay_t *r);
const kc_replay_failure_t *kc_replay_failure(const kc_replay_t *r);

/* A recomputed cell; KC_ENOTFOUND (cell zeroed) if no event touched it. */
int kc_replay_cell_get(const kc_replay_t *r, const kc_cell_key_t *key, kc_cell_t *cell);
/* Every recomputed cell in key order, until fn returns non-zero (returned).
 * KC_ENOMEM. Like kc_replay_compare, it builds the cell map's key-order index
 * after new cells (kc_cellmap_sort): not concurrently with another call on r. */
int kc_replay_cell_scan(const kc_replay_t *r,
                        int (*fn)(const kc_cell_key_t *key, const kc_cell_t *cell, void *ctx),
                        void *ctx);

/* Convenience: replay the whole log of the snapshot src into dst
 * (opts->events_from defaults to src, opts->total to the log size). */
int kc_replay_from_txn(kc_replay_t *r, kc_txn_t *src);

/* One differing cell of kc_replay_compare(). */
typedef struct {
    kc_cell_key_t key;
    bool stored_present, recomputed_present;
    kc_cell_t stored, recomputed;
} kc_replay_diff_t;

/* Compare every recomputed cell with the totals of snapshot t, cell by cell
 * (a cell missing on one side differs from any present cell, even an all-zero
 * one). fn (may be NULL) is called for each difference in key order; *ndiff
 * and *ncells (cells compared, the union of both sides) are set. */
int kc_replay_compare(const kc_replay_t *r, kc_txn_t *t,
                      void (*fn)(const kc_replay_diff_t *d, void *ctx), void *ctx, uint64_t *ncells,
                      uint64_t *ndiff);

/* Memory mode: compare the reporting-cycle states rebuilt from the log (each
 * sign-off, approval, reopen through kc_period_replay) with the periods
 * table of snapshot t (store/kc_store.h), field by field. fn (may be NULL)
 * for each (unit, period) that differs, with the stored and the recomputed
 * state (NULL where one side has none). *nperiods: periods compared (the
 * larger side), *ndiff: those that differ. */
int kc_replay_periods_compare(const kc_replay_t *r, kc_txn_t *t,
                              void (*fn)(uint8_t unit, int32_t yyyymm,
                                         const kc_period_state_t *stored,
                                         const kc_period_state_t *recomputed, void *ctx),
                              void *ctx, uint64_t *nperiods, uint64_t *ndiff);

/* ---- one logged entry against a ledger source ----
 * The step of the store engine (steps 1-4 of DESIGN but the identity writes),
 * and of kc_cells_asof (kc_cells.h: the same step over a rewound source, from
 * a checkpoint's cells): one rule for what a logged entry does to the cells. */

/* Where kc_replay_step stopped. */
typedef enum {
    KC_REPLAY_STEP_DONE = 0, /* returned 0: REASON_OK, every delta added */
    KC_REPLAY_STEP_DECODE,   /* KC_EFORMAT: the bytes are not a kcpipe.v1.Event */
    KC_REPLAY_STEP_EFFECT,   /* kc_ledger_effect's error (a source error) */
    KC_REPLAY_STEP_REASON,   /* KC_EFORMAT: the effect is eff->reason (not REASON_OK),
                                eff->text says why: the log and the rules disagree */
    KC_REPLAY_STEP_CELL,     /* kc_cellmap_apply's error (KC_EOVERFLOW: the delta
                                eff->cells[*cell] would leave the cell's range; the
                                earlier deltas are added) */
} kc_replay_step_t;

/* Replay the logged Event bytes (data, len) at `offset`: decode them with dec
 * (kc_wire_decode), compute their effect against src (kc_ledger_effect)
 * into *eff, and, if it is REASON_OK, add its cell deltas to `cells` in order
 * (kc_cellmap_apply: kc_cell_add's range checks, dirty list as the map keeps
 * it). Writes no identity: eff->idents are the caller's to keep. *stage
 * (kc_replay_step_t) says where it stopped; *cell (KC_REPLAY_STEP_CELL) the
 * delta that failed. Returns 0 or, by stage, the error above. */
int kc_replay_step(kc_wire_decoder_t *dec, const kc_ledger_source_t *src, const uint8_t *data,
                   size_t len, uint64_t offset, kc_ledger_effect_t *eff, kc_cellmap_t *cells,
                   int *stage, size_t *cell);

#endif
