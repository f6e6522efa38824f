/* kc_checkpoint.h - libkcstore: stored copies of the totals at log sizes, and time -> log size.
 *
 * DESIGN - checkpoints for point-in-time totals (issue 3, part 6)
 * A checkpoint is "the totals after the first S log entries" for the S it
 * records: a copy of every totals cell as it stood when the log had S
 * entries. The aggregator takes one at the end of a group commit whose log
 * size crossed a multiple of its interval K (kc_apply_set_checkpoint_every),
 * inside that group's own write transaction, so a checkpoint is exactly as
 * durable and as consistent as the totals it copies. S is therefore a group
 * boundary, not an exact multiple of K, and the key records it.
 *
 * Database "checkpoints" (named, sorted by key bytes):
 *   key u64 S big-endian (8 bytes)            -> header, 16 bytes little-endian:
 *                                                u64 cells, u64 received_ns of entry
 *                                                S-1 (the checkpoint's log time)
 *   key u64 S big-endian + 7-byte cell key     -> that cell as in "totals" (88 bytes:
 *                                                u64 events, int64 metrics)
 * An 8-byte key sorts before the 15-byte keys that extend it, so one
 * checkpoint is a contiguous run: its header, then its cells in cell-key
 * order (the totals' own order). Checkpoints are taken at increasing S and
 * each key is larger than every earlier one: the copy is one cursor walk over
 * "totals" and MDB_APPEND puts (no B-tree search, full pages), in the write
 * transaction's own cursor. Empty totals still get a header, so "the
 * latest checkpoint with S <= N" is well defined. A store opened read-only
 * that predates checkpoints has none (every lookup is KC_ENOTFOUND).
 *
 * Time -> log size. Log entries' received_ns never decrease along the log
 * (the aggregator takes max(previous entry's, CLOCK_REALTIME) per group), so
 * "the entries received at or before T" is a prefix of the log, found by a
 * binary search over the entries (O(log n) lookups).
 * Returns: 0 or a negative KC_E* code (kc_err.h) unless stated.
 */
#ifndef KC_CHECKPOINT_H
#define KC_CHECKPOINT_H

#include "kc_store.h"

#include <stdint.h>

#define KC_CHECKPOINT_EVERY_DEFAULT 100000 /* log entries between checkpoints */

/* One checkpoint's header. */
typedef struct {
    uint64_t size;        /* log entries it follows: the totals after offsets 0..size-1 */
    uint64_t cells;       /* cells copied */
    uint64_t received_ns; /* received_ns of log entry size-1 (0 for size 0) */
} kc_checkpoint_t;

/* Copy the totals of write transaction t, as they stand now, into a
 * checkpoint at the current log size (stored in *out if non-NULL). A
 * checkpoint at that size already there: nothing is written (0). KC_EINVAL
 * if a later checkpoint exists (sizes only grow). May return KC_EMAPFULL,
 * which a kc_store_write() callback must return unchanged. */
int kc_txn_checkpoint_put(kc_txn_t *t, kc_checkpoint_t *out);

/* The latest checkpoint with size <= at; KC_ENOTFOUND if there is none. */
int kc_txn_checkpoint_find(kc_txn_t *t, uint64_t at, kc_checkpoint_t *out);

/* Call fn for every checkpoint in size order, until fn returns non-zero
 * (that value is returned) or they end (0). */
int kc_txn_checkpoint_list(kc_txn_t *t, int (*fn)(const kc_checkpoint_t *cp, void *ctx), void *ctx);

/* Call fn for every cell of the checkpoint at exactly `size`, in key order,
 * until fn returns non-zero (returned) or the cells end (0). KC_ENOTFOUND if
 * there is no checkpoint at that size. */
int kc_txn_checkpoint_scan(kc_txn_t *t, uint64_t size,
                           int (*fn)(const kc_cell_key_t *key, const kc_cell_t *cell, void *ctx),
                           void *ctx);

/* The number of log entries received at or before t_ns (received_ns <=
 * t_ns): a prefix of the log (see DESIGN). */
int kc_txn_log_size_at(kc_txn_t *t, uint64_t t_ns, uint64_t *size);

#endif
