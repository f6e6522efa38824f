/* kc_spool.h - the producer's durable LMDB spool (internal to libkcingest).
 *
 * DESIGN - states of an event in the spool
 *   staged    kc_spool_stage() copied the record into memory and gave it the next
 *             sequence number; nothing is on disk yet.
 *   pending   kc_spool_commit() wrote every staged record, the new next_seq and
 *             the removals of acknowledged records in ONE durable LMDB write
 *             transaction. Only pending records are ever read for sending.
 *   final     a later kc_spool_commit() deleted the record because an Ack covered
 *             its sequence; the removed records are listed for the caller, who
 *             reports each result exactly once after the commit returned.
 * Staged records are kept in memory (not in an open write transaction) so that
 * a commit that hits MDB_MAP_FULL can be aborted, the map grown, and the same
 * work redone from the in-memory copy: a commit never loses work to map growth.
 * Sequence numbers come from meta/next_seq, start at 1, and never repeat: the
 * spool refuses to be opened for a different producer id, and a lock file
 * (flock) keeps two processes from assigning sequence numbers concurrently.
 *
 * On disk: <dir>/data.mdb, <dir>/lock.mdb (0600), <dir>/owner.lock; the directory
 * is created 0700. Named databases:
 *   meta     "producer_id" -> bytes; "next_seq" -> u64 BE; "format" -> u32 BE (1);
 *            "epoch" -> u64 BE, the creation time in ns: names this spool's sequence
 *            space (Batch.producer_epoch), so that a new spool of the same producer
 *            restarts at seq 1 without being taken for resends of the old one
 *   pending  u64 BE seq -> u8 version(1) | u16 BE id_len | u16 BE src_len |
 *                          event_id | source | serialized kcpipe.v1.Event
 */
#ifndef KC_SPOOL_H
#define KC_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#define KC_SPOOL_FORMAT 1

typedef struct kc_spool kc_spool_t;

/* One acknowledged range handed to kc_spool_commit(); `tag` is echoed in each
 * removed record so the caller can find the result that belongs to it. */
typedef struct {
    uint64_t from; /* first seq covered (inclusive) */
    uint64_t to;   /* last seq covered (inclusive) */
    size_t tag;    /* caller's index of the acknowledgement */
} kc_spool_range_t;

/* A record removed by the last kc_spool_commit(). Strings are NUL-terminated
 * copies owned by the spool, valid until the next kc_spool_commit/close. */
typedef struct {
    uint64_t seq;
    size_t tag;
    const char *event_id;
    const char *source;
} kc_spool_removed_t;

/* Open or create the spool in dir for producer_id. Returns 0, KC_EINVAL (the
 * spool belongs to another producer: logged), KC_EBUSY (another process holds
 * it), KC_EFORMAT (unknown format version), KC_ESTORE, or -errno.
 * Caller owns *out; release with kc_spool_close(). */
int kc_spool_open(kc_spool_t **out, const char *dir, const char *producer_id);
/* Close without committing staged records (the caller commits first). */
void kc_spool_close(kc_spool_t **sp);

/* The sequence number the next kc_spool_stage() will assign. */
uint64_t kc_spool_next_seq(const kc_spool_t *sp);
/* The spool's epoch (set at creation, constant). */
uint64_t kc_spool_epoch(const kc_spool_t *sp);
/* Stage a record for seq kc_spool_next_seq() (the event bytes must carry that
 * seq); copies everything. Returns 0 or KC_ENOMEM/KC_EINVAL (field too long). */
int kc_spool_stage(kc_spool_t *sp, const char *event_id, const char *source, const void *ev,
                   size_t ev_len);
/* Number of staged (not yet committed) records. */
size_t kc_spool_staged(const kc_spool_t *sp);
/* Number of pending (committed, not final) records. */
uint64_t kc_spool_count(const kc_spool_t *sp);
/* Lowest pending seq, or 0 if none. */
uint64_t kc_spool_first(const kc_spool_t *sp);

/* One durable write transaction: write every staged record and next_seq, and
 * delete every pending record whose seq lies in one of ranges[0..n) (records
 * not pending are skipped: acknowledgements of already final events). On
 * MDB_MAP_FULL the transaction is aborted, the map doubled and the work redone.
 * Returns 0 (staged records are then pending and the removed list is filled),
 * KC_ENOSPC, KC_ESTORE or KC_ENOMEM (the staged records stay staged). */
int kc_spool_commit(kc_spool_t *sp, const kc_spool_range_t *ranges, size_t n);
/* Records removed by the last successful kc_spool_commit(), in the order removed
 * (ranges in order, seqs increasing within a range). */
size_t kc_spool_removed(const kc_spool_t *sp, const kc_spool_removed_t **out);

/* Called by kc_spool_read() for each pending record; `ev` points into the map
 * and is valid only during the call. Return non-zero to stop. */
typedef int (*kc_spool_read_fn)(uint64_t seq, const void *ev, size_t ev_len, void *ctx);
/* In one read transaction, visit pending records with seq >= from, in order,
 * until max records or max_bytes of event bytes were visited (at least one),
 * or fn returned non-zero. Returns the number visited or KC_ESTORE. */
int kc_spool_read(kc_spool_t *sp, uint64_t from, size_t max, size_t max_bytes, kc_spool_read_fn fn,
                  void *ctx);

/* Current LMDB map size in bytes (for tests). */
size_t kc_spool_map_size(const kc_spool_t *sp);
/* Initial map size of spools opened afterwards (0 = default 64 MiB); tests use
 * a tiny map to exercise growth on MDB_MAP_FULL. */
void kc_spool_set_initial_map_size(size_t bytes);

#endif
