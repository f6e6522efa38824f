/* kc_replay_int.h - the private part of core's replay (kc_replay.h), shared by
 * its files: kc_replay.c (the engine against a destination store: grouping,
 * failures, stats, producers, reading the result), kc_replay_mem.c (memory
 * mode: the identity table, the two phases of a batch), kc_replay_scan.c
 * (kc_replay_from_txn and the two-thread scanner). The Event decoder and the
 * event_id peek are common's (kc_wire.h).
 *
 * What every entry goes through (the cell map's checked addition (kc_cellmap.h),
 * the producers' transport check, identity hashes; the event_id peek,
 * kc_wire_event_id_of, in kc_wire.h) is static inline, so that each file's
 * per-event path stays within its translation unit; the rest is out of line, named
 * kc_replay_*_ (trailing underscore: not part of kc_replay.h's API).
 * Only core/kc_replay*.c include this header.
 */
#ifndef KC_REPLAY_INT_H
#define KC_REPLAY_INT_H

#include "kc_replay.h"

#include "kc_bigtable.h"
#include "kc_cellmap.h"
#include "kc_err.h"
#include "kc_event.h"
#include "kc_idmap.h"
#include "kc_ledger.h"
#include "kc_wire.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- identities in memory (memory mode) ----
 *
 * DESIGN - identity table
 * One slot per identity (unit key + event_id), open addressing with linear
 * probing, 16 bytes: h = a 64-bit hash of (unit, event_id) and
 * v = offset << 16 | unit << 8 | kind << 4 | op << 2 | state (0 = empty;
 * kind is 1 or 2, so a used slot is never 0). The event_id itself is not
 * stored: a slot whose h and unit match is CONFIRMED by reading the event_id
 * of the log entry at its offset (every version has its own event_id and
 * offset, and the log is immutable), so a hash collision costs one log read
 * and can never answer for another identity. A record's slot is probed once
 * (a confirmed hit means the log repeats an identity: inconsistent); a
 * correction or retraction reads its target's entry anyway (its values). */

typedef struct {
    uint64_t h, v;
} kc_replay_islot_t;

typedef struct {
    kc_replay_islot_t *slots;
    size_t cap, n; /* cap a power of two, n <= 3/4 cap */
} kc_replay_ids_t;

/* The hash of an identity, or (unit 0) of a producer id: kc_idmap_hash. */
static inline uint64_t kc_replay_id_hash_(uint8_t unit, const char *id, size_t len)
{
    return kc_idmap_hash((uint64_t)unit << 56, id, len);
}

/* A table for `expect` identities at most 3/4 full (65,536 slots at least): 0 or KC_ENOMEM. */
int kc_replay_ids_init_(kc_replay_ids_t *t, uint64_t expect);

/* ---- producers ---- */

typedef struct {
    char id[256]; /* NUL-terminated */
    size_t len;
    kc_producer_state_t st;
    bool any; /* an entry was seen */
} kc_replay_prod_t;

/* ---- group buffer ---- */

typedef struct {
    uint64_t offset, received_ns, epoch, seq;
    size_t prod_at, ev_at; /* into r->bytes */
    size_t prod_len, ev_len;
} kc_replay_ent_t;

/* What phase 1 of a memory-mode batch prepares for one entry. */
typedef struct {
    int reason;     /* REASON_OK, or why decoding/checking failed */
    uint8_t op;     /* the event's op */
    uint8_t unit;   /* record: unit key */
    uint8_t kind;   /* record: its kind */
    uint8_t id_len; /* record: event_id length (<= KC_EVENT_ID_MAX) */
    uint64_t h;     /* record: identity hash */
    kc_ledger_cell_t d;
    char id[KC_EVENT_ID_MAX];
    char text[KC_LEDGER_TEXT_MAX]; /* reason text (on failure) */
} kc_replay_prep_t;
#define KC_REPLAY_MEM_BATCH 128 /* entries per memory-mode batch */

/* Memory mode: the reporting-cycle state of one (unit, period), rebuilt. */
typedef struct {
    uint8_t unit;
    int32_t yyyymm;
    kc_period_state_t st;
} kc_replay_period_t;

/* A logged reporting-cycle entry (eff: its effect, REASON_OK): its period's
 * state changed by kc_period_replay, in txn's periods table (store mode) or
 * in r->periods (txn NULL: memory mode). A refusal is the log and the rules
 * disagreeing: kc_replay_fail_. */
int kc_replay_period_apply_(kc_replay_t *r, kc_txn_t *txn, const kc_ledger_effect_t *eff,
                            uint64_t offset, uint64_t received_ns);

struct kc_replay {
    kc_store_t *dst;
    kc_replay_opts_t o;
    kc_replay_ent_t *ents;
    size_t n, cap;
    uint8_t *bytes;
    size_t blen, bcap;
    uint64_t next_offset; /* offset the next kc_replay_add must carry */
    uint64_t done;        /* entries committed */
    /* the cells. Memory mode: an entry's cell is the state. Store mode: its cell
     * has the current attempt's deltas, its extra area (kc_replay_committed_)
     * the value as of the last commit; the dirty list names the cells changed
     * since (the ones an aborted attempt must restore). */
    kc_cellmap_t cells;
    kc_replay_prod_t *prods;
    size_t nprods, capprods, last_prod;
    kc_idmap_t pidx; /* producer id -> index into prods */
    bool final;      /* the callback also writes cells and producers */
    bool finished;
    kc_wire_decoder_t *dec;  /* the entry being replayed */
    kc_wire_decoder_t *dec2; /* a target's, when it must be fully decoded */
    kc_replay_ids_t ids;     /* memory mode: every identity */
    uint64_t cache_off;      /* memory mode: the last target entry read */
    const uint8_t *cache_data;
    size_t cache_len;
    uint8_t *cache_buf; /* cache_data's copy of the entry's Event (owned) */
    size_t cache_cap;
    bool cache_ok;
    uint64_t confirms, collisions;
    kc_replay_prep_t *prep; /* memory mode: per buffered entry */
    kc_ledger_effect_t eff;
    kc_replay_stats_t stats, group_stats;
    kc_replay_failure_t fail;
    kc_replay_period_t *periods; /* memory mode: reporting-cycle states rebuilt */
    size_t nperiods, capperiods;
};

/* Record the replay's failure at `offset` (kc_replay_failure()), log it;
 * returns KC_EFORMAT. reason: a kcpipe.v1.Reason or -1. */
int kc_replay_fail_(kc_replay_t *r, uint64_t offset, int reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The producer index's key of prods[index] (kc_idmap_key_fn; ctx: the replay). */
static inline const char *kc_replay_prod_key_(const void *ctx, uint32_t index, size_t *len)
{
    const kc_replay_prod_t *p = &((const kc_replay_t *)ctx)->prods[index];
    *len = p->len;
    return p->id;
}

/* Transport state: the entry must continue its producer's sequence. */
static inline int kc_replay_producer_see_(kc_replay_t *r, const kc_log_entry_t *e)
{
    kc_replay_prod_t *p = NULL;
    if (r->last_prod < r->nprods && r->prods[r->last_prod].len == e->producer_len &&
        memcmp(r->prods[r->last_prod].id, e->producer, e->producer_len) == 0)
        p = &r->prods[r->last_prod];
    uint64_t h = 0;
    if (!p) { /* the index */
        h = kc_replay_id_hash_(0, e->producer, e->producer_len);
        uint32_t i =
            kc_idmap_find(&r->pidx, e->producer, e->producer_len, h, kc_replay_prod_key_, r);
        if (i != KC_IDMAP_NONE) {
            p = &r->prods[i];
            r->last_prod = i;
        }
    }
    if (!p) {
        if (r->nprods >= KC_IDMAP_INDEX_MAX)
            return KC_ENOMEM;
        if (r->nprods == r->capprods) {
            size_t cap = r->capprods ? r->capprods * 2 : 16;
            kc_replay_prod_t *np = realloc(r->prods, cap * sizeof *np);
            if (!np)
                return KC_ENOMEM;
            r->prods = np;
            r->capprods = cap;
        }
        int rc = kc_idmap_insert(&r->pidx, h, (uint32_t)r->nprods);
        if (rc != 0)
            return rc;
        p = &r->prods[r->nprods];
        memset(p, 0, sizeof *p);
        memcpy(p->id, e->producer, e->producer_len);
        p->len = e->producer_len;
        r->last_prod = r->nprods++;
    }
    if (p->any && e->epoch < p->st.epoch)
        return kc_replay_fail_(
            r, e->offset, -1,
            "producer '%s' epoch %llu after epoch %llu: an older spool's event was "
            "logged after a newer one's",
            p->id, (unsigned long long)e->epoch, (unsigned long long)p->st.epoch);
    if (p->any && e->epoch == p->st.epoch && e->seq <= p->st.hwm)
        return kc_replay_fail_(
            r, e->offset, -1,
            "producer '%s' seq %llu logged after seq %llu (epoch %llu): seqs must "
            "increase",
            p->id, (unsigned long long)e->seq, (unsigned long long)p->st.hwm,
            (unsigned long long)e->epoch);
    p->any = true;
    p->st.epoch = e->epoch;
    p->st.hwm = e->seq;
    p->st.accepted++;
    p->st.last_seen_ns = e->received_ns;
    return 0;
}

/* Store mode: a cell entry's value as of the last commit. */
static inline kc_cell_t *kc_replay_committed_(kc_cellmap_entry_t *e)
{
    return (kc_cell_t *)kc_cellmap_extra(e);
}

/* Record that delta d of the entry at `offset` would take its cell out of
 * range (kc_replay_fail_): KC_EFORMAT. */
int kc_replay_overflow_(kc_replay_t *r, const kc_ledger_cell_t *d, uint64_t offset);

/* Add one delta to the in-memory cell, with kc_txn_totals_apply's range checks. */
static inline int kc_replay_cell_apply_(kc_replay_t *r, const kc_ledger_cell_t *d, uint64_t offset)
{
    int rc = kc_cellmap_apply(&r->cells, kc_cellmap_key(&d->key), d->events, d->m, NULL);
    return rc == KC_EOVERFLOW ? kc_replay_overflow_(r, d, offset) : rc;
}

/* ---- memory mode (kc_replay_mem.c) ---- */

/* Replay the buffered entries (r->ents, r->bytes) in memory and empty the
 * buffer: 0, or an error (KC_EFORMAT: kc_replay_failure() says why). */
int kc_replay_mem_batch_(kc_replay_t *r);

/* Phase 1 of n scanned entries (ents[i]'s bytes in `bytes`) into prep[i]:
 * decode, check, identity hash, cell key. Touches nothing of a kc_replay_t,
 * so it may run on the scanning thread, with a decoder of its own. */
void kc_replay_mem_prepare_(kc_wire_decoder_t *dec, const uint8_t *bytes,
                            const kc_replay_ent_t *ents, kc_replay_prep_t *prep, size_t n);

/* Phase 2 of n prepared entries, in offset order, with kc_replay_add's checks
 * per entry (the offset must be r's next one): 0 or an error as
 * kc_replay_mem_batch_(). */
int kc_replay_mem_apply_(kc_replay_t *r, const uint8_t *bytes, const kc_replay_ent_t *ents,
                         const kc_replay_prep_t *prep, size_t n);

#endif
