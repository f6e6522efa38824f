/* kc_store.h - libkcstore: kcpipe's durable state in one LMDB environment.
 *
 * DESIGN
 * Named databases, updated together in one write transaction per group
 * commit, so that a crash leaves either all or none of a group:
 *   log        u64 offset (big-endian) -> kc_log_entry_t record   append-only, MDB_APPEND;
 *                                         record layout 2 (layout 1 still read): varint
 *                                         producer index + seq, received_ns as a delta
 *                                         from the previous record's (absolute at every
 *                                         16th offset), the Event without its transport
 *                                         tail (kc_store_log.c)
 *   producer_ids index <-> (producer_id, epoch)                   the producer index of log
 *                                                                 layout 2 (kc_store_log.c)
 *   producers  producer_id             -> kc_producer_state_t     transport dedup (high-water mark)
 *   idents/NN  event_id                -> kc_identity_t           business dedup and version
 *                                                                 chains; one database per unit
 *                                                                 NN (2 hex digits) =
 *                                                                 kc_ref_unit_key(code, period),
 *                                                                 created by its first put, puts
 *                                                                 appended when past its last key
 *                                                                 (full pages); layout 3: flags +
 *                                                                 varints, the content hash
 *                                                                 recomputed from the log by
 *                                                                 core (kc_identity_t.hashed;
 *                                                                 kc_store_state.c, kc_store.c)
 *   totals     kc_cell_key_t (7 bytes) -> kc_cell_t               running int64 totals
 *   rejects    producer_id 0x00 epoch seq-> reason + text           why an event was not counted
 *                                         [+ 0x00 0x02 received_ns province period
 *                                         event_id]: layout 2 (issue 16), the first NUL
 *                                         marks it (a layout-1 text never has one);
 *                                         layout 1 reads as details unknown
 *                                         (kc_reject_t; kc_store_state.c)
 *   nodes      u8 level + u64 index    -> 32-byte complete-subtree hash (levels >= 6)
 *   heads      u64 tree size           -> signed tree head (timestamp, root, Ed25519 sig)
 *   checkpoints u64 log size (BE) [+ cell key] -> header / kc_cell_t  copies of the totals
 *                                                 at group ends (kc_checkpoint.h)
 *   units      unit (1 byte)           -> kc_unit_state_t         last report of a province unit
 *                                                                 (unit = kc_ref_unit_key); written
 *                                                                 once per unit per group commit
 *   periods    unit (1) + yyyymm (BE 4) -> kc_period_state_t      the reporting cycle of a
 *                                                                 province unit's month: sign-off,
 *                                                                 approval (lock), reopen (rules:
 *                                                                 core/kc_period.h)
 *   summaries  key (<= 16 bytes, core's) -> value (<= 512 bytes)   robust summaries of accepted
 *                                                                 values, opaque here (core's
 *                                                                 kc_outlier.h); added without a
 *                                                                 version change: meta
 *                                                                 "summaries_from" = log size at
 *                                                                 its creation (absent: 0)
 *   meta       "format" -> "4", "audit_pubkey" -> 32-byte Ed25519 public key
 * Format history (meta "format"; kc_store_open refuses any other than
 * KC_STORE_FORMAT with a message saying what to do):
 *   1  log, producers, identities (24-byte layout 1), totals, rejects
 *   2  the Merkle log (leaves, nodes, heads, audit.key), identity layout 2,
 *      later checkpoints and units, added without a version change (so a
 *      format-2 store's units table may be missing or incomplete)
 *   3  units table present and complete. kc_store_migrate() (kc-admin migrate)
 *      takes a format-2 store to 3: it rebuilds units from the identities of
 *      the logged events and writes "3", in one write transaction.
 *   4  compact: "identities" (unit + event_id -> layout 2, 45-byte values)
 *      replaced by one database per unit "idents/NN" (event_id -> layout 3,
 *      ~5 bytes: no stored content hash); log record layout 2 with
 *      the producer_ids table; no "leaves" table (leaf hashes are recomputed
 *      from the log, kc_merkle.c). Migration 3 -> 4 (one write transaction):
 *      every identity rewritten into idents/NN in key order, appended (its
 *      content hash recomputed from its log entry by kc_store_migrate's
 *      hash callback and compared with the stored one; one that differs
 *      keeps it explicitly), "identities" and
 *      "leaves" dropped, "4" written. Log
 *      records are not rewritten (layout 1 stays readable); 2 -> 4 runs
 *      2 -> 3 then 3 -> 4.
 * A read-only open of a store without checkpoints or units reads them as
 * empty; a writer creates missing databases when it opens the store (unit
 * databases: at a unit's first put; a missing one reads as empty).
 * The verifiable log (leaves, nodes, heads, the audit.key file): kc_audit.h
 * and docs/AUDIT.md.
 * Totals keys sort by (year, month, province, activity, kind, fund) so that a
 * year/month-range report is one contiguous range scan.
 *
 * Durability: the environment is opened without MDB_NOSYNC/MDB_NOMETASYNC; a
 * commit that returned 0 is on disk. Map growth: when LMDB reports
 * MDB_MAP_FULL inside kc_store_write(), the transaction is aborted, the map is
 * doubled and the callback is run again from the start; callers never see
 * KC_EMAPFULL from kc_store_write(). Readers use MVCC snapshots
 * (kc_store_read_begin) and never block the writer; a reader that finds the
 * map grown by another process adopts the new size and retries.
 *
 * Threads: one write transaction at a time per store (LMDB's rule); read
 * transactions may be used from any thread (MDB_NOTLS). Remapping the file
 * (growth, or adopting a size grown by another process) needs every
 * transaction of this kc_store_t to have ended: it waits for them (bounded,
 * then KC_EBUSY). So a thread must not call kc_store_write() while it holds a
 * read transaction of the same kc_store_t. Other processes are not affected.
 * Open one kc_store_t per directory per process (LMDB's rule: the same
 * environment must not be opened twice in one process).
 * Returns: 0 or a negative KC_E* code (kc_err.h) everywhere unless stated.
 */
#ifndef KC_STORE_H
#define KC_STORE_H

#include "kc_ref.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KC_STORE_FORMAT             4                  /* 4: compact identities, log layout 2 */
#define KC_STORE_FORMAT_MIN_MIGRATE 2                  /* oldest format kc_store_migrate() takes */
#define KC_STORE_DEFAULT_MAPSIZE    ((size_t)64 << 20) /* grows on demand */
#define KC_STORE_MAX_MAPSIZE        ((size_t)1 << 40)  /* growth stops here (KC_ENOSPC) */
#define KC_CELL_KEY_LEN             7                  /* encoded kc_cell_key_t */

typedef struct kc_store kc_store_t;
typedef struct kc_txn kc_txn_t;

typedef struct {
    bool read_only;        /* open for kc-query and other readers */
    size_t map_size;       /* initial map size; 0 = KC_STORE_DEFAULT_MAPSIZE (or the file's size) */
    unsigned max_readers;  /* 0 = 126 (LMDB default) */
    bool allow_old_format; /* kc-admin: open a store of format KC_STORE_FORMAT_MIN_MIGRATE..
                              KC_STORE_FORMAT-1 too (for backup, stat, kc_store_migrate) */
    bool exclusive;        /* read_only only: open without LMDB's lock file (MDB_NOLOCK);
                              only while holding kc_store_lock() on the directory */
} kc_store_opts_t;

/* One entry of the append-only event log. When returned by a getter, the
 * pointers borrow LMDB memory valid until the transaction ends (in a write
 * transaction: until its next write); except `event` of a layout-2 record
 * stored without its transport tail (the usual case), rebuilt in a per-txn
 * ring: valid until KC_EVBUF_RING (8) more such entries have been decoded in
 * the same transaction, or it ends. Copy it to keep it longer. */
typedef struct {
    uint64_t offset;      /* position in the log, from 0 */
    uint64_t received_ns; /* CLOCK_REALTIME at the aggregator, nanoseconds */
    uint64_t epoch;       /* producer's spool epoch (Batch.producer_epoch; 0 if none) */
    uint64_t seq;         /* producer's sequence number */
    const char *producer; /* not NUL-terminated */
    size_t producer_len;  /* 1..64 */
    const uint8_t *event; /* the serialized kcpipe.v1.Event, verbatim */
    size_t event_len;
} kc_log_entry_t;

/* Transport dedup state of one producer. */
typedef struct {
    uint64_t hwm;          /* highest sequence durably processed (0 = none) */
    uint64_t last_seen_ns; /* when its latest event was committed */
    uint64_t accepted;     /* events counted */
    uint64_t duplicates;   /* business duplicates acknowledged, not counted */
    uint64_t rejected;     /* events rejected */
    uint64_t epoch;        /* spool epoch the hwm belongs to (Batch.producer_epoch) */
} kc_producer_state_t;

/* Last report of a province unit (units table; the live feed and HTTP API). */
typedef struct {
    uint64_t last_report_ns; /* received_ns of its latest accepted event */
    uint64_t last_offset;    /* that event's log offset */
    uint64_t events;         /* accepted events of the unit, all time */
} kc_unit_state_t;

/* Reporting-cycle state of one (province unit, month) (table "periods",
 * docs/CYCLE.md). Written by the commit that logs a sign-off, approval or
 * reopen entry, rebuilt from the log by a replay. Who signed off or approved
 * is the log entry at the offset (its producer_id and submitted_by). */
enum {
    KC_PERIOD_OPEN = 0,       /* no sign-off yet (never stored: no record = open) */
    KC_PERIOD_SIGNED_OFF = 1, /* signed off by the province, not approved */
    KC_PERIOD_APPROVED = 2,   /* approved by the centre: locked */
    KC_PERIOD_REOPENED = 3,   /* approved, then reopened by the centre: not locked */
};
typedef struct {
    uint8_t state;                         /* KC_PERIOD_* */
    uint32_t signoffs, approvals, reopens; /* entries of each kind so far */
    uint64_t signoff_offset, signoff_ns;   /* the latest sign-off (signoffs > 0) */
    uint64_t approval_offset, approval_ns; /* the latest approval (approvals > 0) */
    uint64_t reopen_offset, reopen_ns;     /* the latest reopen (reopens > 0) */
} kc_period_state_t;

/* Version state of an identity (kc_identity_t.state). */
enum {
    KC_ID_LIVE = 0,       /* counts in the totals */
    KC_ID_SUPERSEDED = 1, /* replaced by the correction at `next` */
    KC_ID_RETRACTED = 2,  /* voided by the retraction at `next` */
};

/* Business identity of an accepted event (province + event_id), with its
 * place in a chain of versions: record -> correction -> ... [-> retraction].
 * A zero-initialised kc_identity_t with offset and hash set is a live record
 * with no previous version (what every format-1 identity reads back as).
 * Format 4: the record names its own logged Event (kc_txn_identity_put of an
 * offset must be followed by the log append at that offset in the same
 * transaction; before it, the identity is read back from that transaction's
 * memory). The content hash is the ledger's rule, not the store's: the
 * store keeps it only where it cannot be recomputed from the log, and
 * kc_txn_identity_get sets `hashed` to say whether `hash` is filled:
 *   1  a migrated record that kept its stored hash (kc_store_migrate), or an
 *      identity put earlier in this write transaction (its `hash` as put);
 *   0  `hash` is zero: the caller computes it from the Event at `offset`
 *      (kc_identity_hash in core/, as kc_ledger does when it needs it).
 * kc_txn_identity_get checks that the log has, at `offset`, an Event with the
 * identity's event_id (KC_EFORMAT if not: a corrupt store); it does not check
 * that Event against the rules. Writers ignore `hashed`; kc_txn_identity_put
 * reads `hash` only for an identity put ahead of its log append (kept for the
 * reads before the append, which then answer hashed = 1). */
typedef struct {
    uint64_t offset;   /* log offset of the accepted event */
    uint8_t hash[16];  /* kc_event_content_hash() of its content (if hashed) */
    uint8_t state;     /* KC_ID_LIVE / _SUPERSEDED / _RETRACTED */
    uint8_t op;        /* kcpipe.v1.Op of this version (0 record) */
    uint8_t kind;      /* its effective kind (1 actual, 2 plan); 0 = read it from the event */
    uint8_t prev_unit; /* unit key of the version this one corrects/retracts; 0 = none */
    uint8_t hashed;    /* reads: 1 = `hash` is known, 0 = zero (compute it); see above */
    uint64_t prev;     /* that version's log offset (valid if prev_unit != 0) */
    uint8_t next_unit; /* unit key of the version that superseded/retracted this one */
    uint64_t next;     /* its log offset (valid if state != KC_ID_LIVE) */
} kc_identity_t;
_Static_assert(sizeof(kc_identity_t) == 56, "kc_identity_t.hashed sits in the padding");

/* The content hash of the identity *id (offset, op, kind, prev set) as the
 * ledger computed it, into id->hash: 0 or a negative KC_E* code. For
 * kc_store_migrate; core's kc_identity_hash_txn is the one kcpipe uses. */
typedef int (*kc_identity_hash_fn)(kc_txn_t *t, kc_identity_t *id);

/* One version in kc_txn_history(). Pointers are valid during the callback. */
typedef struct {
    uint64_t offset;      /* log offset */
    uint64_t received_ns; /* when the aggregator received it */
    uint8_t unit;         /* unit key of its identity */
    const char *event_id; /* its own event_id (not NUL-terminated) */
    size_t event_id_len;
    const kc_identity_t *id; /* its identity record (state, op, prev, next) */
} kc_version_t;

/* One reject record (a rejected event, or a business duplicate: both are
 * remembered so that a resent sequence gets the same answer). Reads fill
 * every field; pointers borrow the store (kc_txn_reject_scan). */
#define KC_REJECT_EVENT_ID_MAX 64 /* event_id bytes kept (the Ack's copy is cut there too) */
typedef struct {
    const char *producer; /* reads: not NUL-terminated (producer_len bytes) */
    size_t producer_len;
    uint64_t epoch;   /* producer's spool epoch */
    uint64_t seq;     /* producer's sequence number */
    int reason;       /* kcpipe.v1.Reason (0..65535) */
    bool duplicate;   /* reads: reason is REASON_DUPLICATE (acknowledged, not rejected) */
    const char *text; /* the explanation the Ack carried; reads: text_len bytes, no NUL */
    size_t text_len;
    bool has_details;     /* reads: false for a layout-1 record (written before issue 16):
                             received_ns, province, period and event_id are unknown (0/NULL) */
    uint64_t received_ns; /* the commit's time (CLOCK_REALTIME, ns) */
    uint8_t province;     /* the event's province code if it parsed (1..99, maybe unknown
                             to the reference data); 0 = none */
    int32_t period;       /* the event's yyyymm if its year and month were valid; 0 = none */
    const char *event_id; /* reads: event_id_len bytes (cut at 64), NULL if none */
    size_t event_id_len;
} kc_reject_t;

/* Coordinates of one totals cell. */
typedef struct {
    uint16_t year;
    uint8_t month;
    uint8_t province; /* code under the scheme in force for year-month */
    uint8_t activity; /* kc_activity_t.id */
    uint8_t kind;     /* 1 actual, 2 plan */
    uint8_t fund;     /* 1 kcqg, 2 kcdp, 3 other */
} kc_cell_key_t;

typedef struct {
    uint64_t events;            /* accepted events in the cell */
    int64_t m[KC_METRIC_COUNT]; /* running totals, index kc_metric_t */
} kc_cell_t;

/* The checked cell addition of kc_txn_totals_apply (and of every in-memory
 * copy of the totals): *out = *cur + (events, delta), where events may be
 * negative (a retraction takes an event out). Returns true, leaving *out
 * unchanged, if the event count would leave 0..UINT64_MAX or any metric would
 * leave int64; false after writing the sum. out may equal cur. */
static inline bool kc_cell_add(kc_cell_t *out, const kc_cell_t *cur, int64_t events,
                               const int64_t delta[KC_METRIC_COUNT])
{
    kc_cell_t sum;
    bool over = events >= 0 ? __builtin_add_overflow(cur->events, (uint64_t)events, &sum.events)
                            : __builtin_sub_overflow(cur->events, -(uint64_t)events, &sum.events);
    for (int i = 0; i < KC_METRIC_COUNT; i++)
        over |= __builtin_add_overflow(cur->m[i], delta[i], &sum.m[i]);
    if (over)
        return true;
    *out = sum;
    return false;
}

/* Totals key encoding (7 bytes): year u16 big-endian, month, province,
 * activity, kind, fund; byte order = sort order. */
void kc_cell_key_encode(const kc_cell_key_t *key, uint8_t out[KC_CELL_KEY_LEN]);
void kc_cell_key_decode(const uint8_t in[KC_CELL_KEY_LEN], kc_cell_key_t *key);
/* Smallest (all fields 0) and largest (all fields at their maximum) keys: start
 * from these and set the leading fields to build open bounds, e.g. lo = min
 * with year/month set, hi = max with year/month set, for one month's cells. */
kc_cell_key_t kc_cell_key_min(void);
kc_cell_key_t kc_cell_key_max(void);

/* Open (creating if absent, unless read_only) the store in directory `dir`
 * (created with mode 0700 if missing). Fails with KC_EFORMAT if the store's
 * format version is not KC_STORE_FORMAT (see allow_old_format; the error log
 * says what to do: kc-admin migrate, or a newer kcpipe), KC_ENOTFOUND if read_only and no
 * store exists, KC_EBUSY if not read_only and another process has the store open
 * for writing: one writer per store, enforced by an exclusive flock() on
 * `dir`/writer.lock held until kc_store_close() (or the process's death); the
 * holder's pid is written there and named in the error log. Readers are never
 * refused. Caller owns *out and must kc_store_close() it. */
int kc_store_open(kc_store_t **out, const char *dir, const kc_store_opts_t *opts);
/* The format version the store had when opened (KC_STORE_FORMAT unless opened
 * with allow_old_format; KC_STORE_FORMAT after kc_store_migrate). 0 for NULL. */
int kc_store_format(const kc_store_t *s);
/* Close and set *s to NULL; no-op on NULL. No transaction may be open. */
void kc_store_close(kc_store_t **s);
/* The directory the store was opened from (as given), NULL for NULL. */
const char *kc_store_dir(const kc_store_t *s);
/* Current map size in bytes. */
size_t kc_store_map_size(const kc_store_t *s);
/* Clear the reader slots of processes that died inside a read transaction
 * (LMDB's mdb_reader_check): each pins the snapshot it read, so the pages freed
 * after it cannot be reused. *dead (may be NULL) = slots cleared. A writable
 * kc_store_open() does this once; a long-running writer calls it periodically.
 * Safe beside transactions of any thread and during a remap (it touches only
 * the reader table). In an exclusive open (no reader table): 0, *dead = 0.
 * KC_EINVAL for NULL s; KC_ENOMEM or KC_ESTORE (logged) if LMDB cannot list
 * or lock the reader table. */
int kc_store_reader_check(kc_store_t *s, int *dead);

/* Run fn(txn, ctx) inside one write transaction and commit it durably.
 * If fn or the commit meets MDB_MAP_FULL, the transaction is aborted, the map
 * doubled, and fn called again from the start: fn must therefore reset any
 * in-memory state it builds at its start. If fn returns non-zero the
 * transaction is aborted and that value returned. Returns 0 once the commit
 * has returned (the data is durable), or a negative KC_E* code. */
int kc_store_write(kc_store_t *s, int (*fn)(kc_txn_t *txn, void *ctx), void *ctx);
/* Errors of kc_store_write() besides fn's own: KC_EINVAL (read-only store),
 * KC_ENOSPC (disk full, or the map would pass KC_STORE_MAX_MAPSIZE), KC_EBUSY
 * (read transactions of this kc_store_t did not end while the map had to grow),
 * KC_ESTORE (logged). A write that failed in a put but whose fn returned 0 is
 * not committed: the put's error is returned. */

/* Begin a read-only snapshot; end it with kc_txn_end(). */
int kc_store_read_begin(kc_store_t *s, kc_txn_t **out);
/* End a read transaction (no-op on NULL); sets *t to NULL. */
void kc_txn_end(kc_txn_t **t);

/* ---- writes: only inside kc_store_write() callbacks; may return KC_EMAPFULL,
 *      which the callback must return unchanged. ---- */

/* Append to the log at the next offset (stored in *offset_out if non-NULL).
 * e->offset is ignored. Also stores the entry's Merkle leaf hash and extends
 * the tree in the same transaction (kc_audit.h). */
int kc_txn_log_append(kc_txn_t *t, const kc_log_entry_t *e, uint64_t *offset_out);
int kc_txn_producer_put(kc_txn_t *t, const char *producer, const kc_producer_state_t *st);
int kc_txn_identity_put(kc_txn_t *t, uint8_t province, const char *event_id, size_t len,
                        const kc_identity_t *id);
/* Add each metric of delta to the cell and bump its event count by `events`.
 * KC_EOVERFLOW (nothing changed) if any total would leave int64. */
int kc_txn_totals_add(kc_txn_t *t, const kc_cell_key_t *key, const int64_t delta[KC_METRIC_COUNT],
                      uint64_t events);
/* The same with a signed event count (corrections and retractions take events
 * out of a cell): KC_EOVERFLOW (nothing changed) if a metric would leave int64
 * or the event count would leave 0..UINT64_MAX. */
int kc_txn_totals_apply(kc_txn_t *t, const kc_cell_key_t *key, const int64_t delta[KC_METRIC_COUNT],
                        int64_t events);
/* Set the cell to an absolute value (no read): for a writer that summed the
 * deltas itself with kc_txn_totals_apply's range checks (the aggregator's
 * per-commit totals, kc_ledger_apply_cells). */
int kc_txn_totals_put(kc_txn_t *t, const kc_cell_key_t *key, const kc_cell_t *cell);
int kc_txn_unit_put(kc_txn_t *t, uint8_t unit, const kc_unit_state_t *st);
/* A reject record in layout 1 (reason + text only: what every record written
 * before issue 16 is; kept for tests and tools that have no details). reason:
 * 0..65535; text may be NULL (empty). The aggregator uses kc_txn_reject_add. */
int kc_txn_reject_put(kc_txn_t *t, const char *producer, uint64_t epoch, uint64_t seq, int reason,
                      const char *text);
/* A reject record in layout 2 with its details: r->producer (NUL-terminated,
 * 1..255 bytes), epoch, seq, reason (0..65535), text (NUL-terminated, NULL =
 * empty), received_ns, province, period (>= 0), event_id (NUL-terminated,
 * NULL or "" = none; cut at KC_REJECT_EVENT_ID_MAX bytes). producer_len,
 * text_len, event_id_len, has_details and duplicate are ignored. */
int kc_txn_reject_add(kc_txn_t *t, const kc_reject_t *r);

/* ---- reads: in read and write transactions ---- */

/* Number of log entries (= next offset). */
int kc_txn_log_size(kc_txn_t *t, uint64_t *size);
/* Log entry at `offset`; KC_ENOTFOUND past the end. Pointers borrowed. */
int kc_txn_log_get(kc_txn_t *t, uint64_t offset, kc_log_entry_t *out);
/* Call fn for entries from `from` on, in order, until fn returns non-zero
 * (that value is returned) or the log ends (0). */
int kc_txn_log_scan(kc_txn_t *t, uint64_t from, int (*fn)(const kc_log_entry_t *e, void *ctx),
                    void *ctx);
/* KC_ENOTFOUND (and *st zeroed) for an unknown producer. */
int kc_txn_producer_get(kc_txn_t *t, const char *producer, kc_producer_state_t *st);
/* Call fn for every producer in name order; `producer` is a NUL-terminated
 * copy valid during the call. (Producer ids are C strings of 1..255 bytes
 * throughout; KC_EINVAL otherwise.) */
int kc_txn_producer_scan(kc_txn_t *t,
                         int (*fn)(const char *producer, const kc_producer_state_t *st, void *ctx),
                         void *ctx);
int kc_txn_identity_get(kc_txn_t *t, uint8_t province, const char *event_id, size_t len,
                        kc_identity_t *id);
/* Every version of the chain that the identity (unit, event_id) belongs to,
 * oldest first: the first version is found by following `prev` back, then fn
 * is called for it and for each later one, following `next` while a version
 * is superseded or retracted (a retraction is listed as the last version).
 * fn returning non-zero stops the walk (that value is returned).
 * KC_ENOTFOUND if the identity does not exist; KC_EFORMAT if a link does not
 * lead to an identity at the offset it names (a corrupt store). */
int kc_txn_history(kc_txn_t *t, uint8_t unit, const char *event_id, size_t len,
                   int (*fn)(const kc_version_t *v, void *ctx), void *ctx);
/* Reason and text (copied into text[cap], NUL-terminated) of a rejected event;
 * KC_ENOTFOUND if that sequence was not rejected. */
int kc_txn_reject_get(kc_txn_t *t, const char *producer, uint64_t epoch, uint64_t seq, int *reason,
                      char *text, size_t cap);
/* Call fn for every reject record (both layouts) in key order (producer, epoch,
 * seq), until fn returns non-zero (that value is returned) or the table ends
 * (0). KC_EFORMAT for a malformed record. The pointers of *r borrow LMDB
 * memory: valid until a read transaction ends (in a write transaction: until
 * its next write). */
int kc_txn_reject_scan(kc_txn_t *t, int (*fn)(const kc_reject_t *r, void *ctx), void *ctx);
/* KC_ENOTFOUND (cell zeroed) if the cell has never been touched. */
int kc_txn_totals_get(kc_txn_t *t, const kc_cell_key_t *key, kc_cell_t *cell);
/* Call fn for every cell with lo <= key <= hi in key order, until fn returns
 * non-zero (returned) or the range ends (0). Use kc_cell_key_min/max to build
 * open bounds. */
int kc_txn_totals_scan(kc_txn_t *t, const kc_cell_key_t *lo, const kc_cell_key_t *hi,
                       int (*fn)(const kc_cell_key_t *key, const kc_cell_t *cell, void *ctx),
                       void *ctx);

/* KC_ENOTFOUND (and *st zeroed) for a unit that never reported. */
int kc_txn_unit_get(kc_txn_t *t, uint8_t unit, kc_unit_state_t *st);
/* fn for every unit that reported, in unit order, until fn returns non-zero. */
int kc_txn_unit_scan(kc_txn_t *t, int (*fn)(uint8_t unit, const kc_unit_state_t *st, void *ctx),
                     void *ctx);

/* Periods (table "periods"): yyyymm is year * 100 + month (200001..210012).
 * put writes (overwrites) the state of (unit, yyyymm) in a write txn; get:
 * KC_ENOTFOUND (and *st zeroed: KC_PERIOD_OPEN) for a period with no cycle
 * entry, also in a store written before the table existed; scan: fn for every
 * stored period in (unit, yyyymm) order until fn returns non-zero (its value
 * is returned). KC_EINVAL for unit 0 or a yyyymm out of range. */
int kc_txn_period_put(kc_txn_t *t, uint8_t unit, int32_t yyyymm, const kc_period_state_t *st);
int kc_txn_period_get(kc_txn_t *t, uint8_t unit, int32_t yyyymm, kc_period_state_t *st);
int kc_txn_period_scan(kc_txn_t *t,
                       int (*fn)(uint8_t unit, int32_t yyyymm, const kc_period_state_t *st,
                                 void *ctx),
                       void *ctx);

/* Summaries (table "summaries", kc_store_summary.c): values the store keeps
 * for core without reading them (core/kc_outlier.h defines keys and layout).
 * get: copies the value into val[cap] and its size into *len; KC_ENOTFOUND if
 * absent (also in a store opened read-only that has no such table),
 * KC_EFORMAT if larger than cap. put: write txns; replaces. */
#define KC_SUMMARY_KEY_MAX 16
#define KC_SUMMARY_VAL_MAX 512
int kc_txn_summary_get(kc_txn_t *t, const uint8_t *key, size_t klen, uint8_t *val, size_t cap,
                       size_t *len);
int kc_txn_summary_put(kc_txn_t *t, const uint8_t *key, size_t klen, const uint8_t *val,
                       size_t len);
/* The log size at which the summaries began: they fold exactly the log entries
 * from that offset on (0 for a store created with the table; the log size when
 * a writer first opened an older store; the log size itself when the table is
 * missing). */
int kc_txn_summaries_from(kc_txn_t *t, uint64_t *offset);

/* Counts for tools and tests. */
typedef struct {
    uint64_t log_entries, producers, identities, cells, rejects;
    size_t map_size, used_bytes;
} kc_store_stat_t;
int kc_txn_stat(kc_txn_t *t, kc_store_stat_t *st);

/* ---- store lifecycle (kc_store_admin.c, kc_store_migrate.c; kc-admin) ---- */

#define KC_STORE_DB_MAX 16

/* mdb_stat of one named database. */
typedef struct {
    const char *name; /* static */
    bool present;     /* false: the database does not exist in this store */
    unsigned depth;
    uint64_t branch_pages, leaf_pages, overflow_pages, entries;
} kc_store_db_stat_t;
/* Every named database in table order into out[KC_STORE_DB_MAX]; *n = count. */
int kc_txn_db_stats(kc_txn_t *t, kc_store_db_stat_t *out, size_t *n);

/* The environment as LMDB sees it. */
typedef struct {
    size_t page_size, map_size;
    uint64_t last_page;  /* highest page number in use */
    uint64_t last_txnid; /* id of the last committed write transaction */
    unsigned max_readers, num_readers;
} kc_store_env_t;
int kc_store_env_info(kc_store_t *s, kc_store_env_t *out);

/* One slot of LMDB's reader table (lock.mdb). */
typedef struct {
    int pid;
    uint64_t thread;
    bool in_txn;    /* holds a snapshot now */
    uint64_t txnid; /* its snapshot (valid if in_txn) */
    bool stale;     /* the process is gone (kill(pid, 0) says ESRCH) */
    bool self;      /* this process */
} kc_store_reader_t;
/* Call fn for each used slot (mdb_reader_list) until it returns non-zero.
 * Not in an exclusive open (there is no reader table). */
int kc_store_readers(kc_store_t *s, int (*fn)(const kc_store_reader_t *r, void *ctx), void *ctx);

/* Write a consistent copy of the store's data file to fd (at its current
 * offset; the caller fsyncs and closes it), like mdb_copy: one read
 * transaction, so a running writer is not blocked (a plain copy takes the
 * writer lock only while it reads the two meta pages); compact = MDB_CP_COMPACT
 * (free pages omitted, pages renumbered). */
int kc_store_copy(kc_store_t *s, int fd, bool compact);

/* Whether another process has the store in `dir` open: every process with an
 * LMDB environment open holds a shared lock on byte 0 of lock.mdb. Returns 1
 * (and that process's pid in *pid if non-NULL), 0 if none (or no lock file),
 * or a negative KC_E* code. */
int kc_store_in_use(const char *dir, int *pid);
/* Take that byte exclusively, so that no process can open the store until
 * kc_store_unlock(): 0 and the lock file's descriptor in *fd; KC_EBUSY (pid of
 * a holder in *pid if non-NULL) while another process has it open. Creates
 * lock.mdb if absent. While holding it this process must not open the store
 * except with kc_store_opts_t.exclusive (closing any descriptor of lock.mdb
 * drops the lock). */
int kc_store_lock(const char *dir, int *fd, int *pid);
/* Release: truncate lock.mdb to 0 first if `reset` (after the data file was
 * replaced: a process that waited for the lock then fails to open instead of
 * using the old reader table; the next open re-creates it), then close. */
void kc_store_unlock(int fd, bool reset);

/* Run the format migrations from kc_store_format(s) up to KC_STORE_FORMAT, in
 * order, each in one write transaction that also writes its new format
 * number (a crash leaves the store at the last completed step). The store
 * must be open for writing with allow_old_format. hash computes an identity's
 * content hash from the log (3 -> 4 compares it with the stored one and keeps
 * the stored hash in the record where they differ); KC_EINVAL if NULL. step
 * (may be NULL) is called after each migration with its versions and a
 * one-line summary. 0 if the store is already current. */
int kc_store_migrate(kc_store_t *s, kc_identity_hash_fn hash,
                     void (*step)(int from, int to, const char *what, void *ctx), void *ctx);

/* Keep the store's memory map out of the resident set (kc_store_map.c): if
 * the process's RSS is above `budget` bytes, release this process's mappings
 * of the store's pages (madvise MADV_DONTNEED on the read-only map; the pages
 * stay in the kernel's page cache and are faulted back on the next access).
 * budget 0 does nothing. *trimmed (may be NULL) says whether pages were
 * released. Safe beside transactions of other threads (it holds off remaps
 * while it runs). */
int kc_store_trim_resident(kc_store_t *s, size_t budget, bool *trimmed);

/* The store a transaction belongs to (NULL for NULL): lets a library that was
 * handed a read snapshot open another one on another thread. */
kc_store_t *kc_txn_store(const kc_txn_t *t);

#endif
