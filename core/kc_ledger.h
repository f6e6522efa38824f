/* kc_ledger.h - libkcledger: what one event does to the totals and identities.
 *
 * DESIGN - the effect of an event
 * kc_ledger_effect() computes, without writing anything, the EFFECT of one
 * event on the store: whether it counts (or the reason it does not), the cell
 * deltas, and the identity records to write. It reads only the event and the
 * state behind a kc_ledger_source_t (identities, and the serialized Events of
 * the log by offset), so the aggregator (live, against its write transaction)
 * and a replay (against a store or an in-memory state rebuilt from the log
 * alone, in log order) obtain the same effect for the same event.
 *
 *   record      +values into its cell, events +1.
 *   correction  -old values from the target's cell (events -1), +new values
 *               into the correction's cell (events +1); one merged delta if
 *               both are the same cell. The target's values and cell come from
 *               its log entry (the Event bytes at its identity's offset) and
 *               its identity's effective kind; a correction without kind takes
 *               the target's kind.
 *   retraction  -old values from the target's cell, events -1. Its period is
 *               the target's when absent (and must equal it when given).
 *
 * Versions. Every accepted event gets its own identity (unit key of its
 * province code and effective period + its own event_id), live. A correction
 * or retraction names in `corrects` the event_id of the version it replaces;
 * that version must be live: its identity becomes superseded/retracted with
 * `next` = the new version, and the new identity's `prev` = the target. So a
 * chain record -> correction -> correction -> retraction is a doubly linked
 * list through the identities (kc_txn_history walks it).
 *
 * Resolving `corrects` (same province = the same two-digit code as sent):
 * the target is looked up under the unit key of the code for the event's
 * period, then under the code's unit key in the other scheme (a correction
 * may move an event across the 2025-07 merger; the code stays). A retraction
 * without period that finds the id under both unit keys is ambiguous
 * (unknown_target: give year/month). Not found: every other unit key (at most
 * 97) is tried, to tell target_other_province from unknown_target.
 *
 * A reporting-cycle entry (sign-off, approval, reopen: kc_op_is_cycle) has
 * no effect here (REASON_OK, no cell, no identity): whether it is accepted is
 * decided on the periods table (core/kc_period.h) by the aggregator.
 *
 * Order of decisions (the first that applies):
 *   kc_event_check() fails                 -> its reason
 *   record: own identity exists            -> duplicate (same content hash) or
 *                                             event_id_conflict
 *   target not found for the code          -> target_other_province / unknown_target
 *   retraction period differs from target  -> unknown_target
 *   own identity exists                    -> duplicate / event_id_conflict (so a
 *                                             re-import of a correction is a duplicate
 *                                             even though its target is now superseded)
 *   target is a retraction, or retracted   -> target_retracted
 *   target superseded                      -> target_superseded
 *   otherwise                              -> REASON_OK with the deltas
 * target_superseded names what to send instead. Only on that rejection path,
 * the chain is followed from the target to its end (each `next`: the Event
 * logged there, then its identity under `next_unit`, which must name that
 * offset and link back through prev/prev_unit) and the text says (with
 * "retract"/"retraction" for a retraction):
 *   cannot correct 'X': it was corrected by 'Y' (log offset N); the latest
 *   version is 'Z': send the correction with corrects=Z
 *   cannot correct 'X': it was corrected by 'Y' (log offset N); the latest
 *   version 'Z' was retracted by 'R' (log offset M): there is nothing to correct
 * (Y = Z when one correction followed.) Where that does not fit
 * KC_LEDGER_TEXT_MAX (long ids) the short form, which fits with every id at
 * 64 bytes: "cannot correct 'X': corrected by 'Y'; the latest version is 'Z'"
 * or "cannot correct 'X': its latest version 'Z' was retracted by 'R'". A
 * chain that breaks (a next offset not after its version's or not before the
 * event's, no Event or identity there, a link that does not point back) or is
 * longer than 1000 versions is a log inconsistency: logged (warn), and the
 * plain "cannot correct 'X': it was corrected (by log offset N); name the
 * latest version". A source error on the way is returned, as elsewhere.
 *
 * A delta that would take a total out of int64 is found only when applying
 * (kc_ledger_apply / kc_ledger_apply_cells: KC_EOVERFLOW, nothing changed):
 * total_overflow.
 *
 * Replay: for each log entry in offset order, decode the Event, call
 * kc_ledger_effect(src, ev, entry.offset, &eff) with a source that sees the
 * log up to that entry and the identities written so far, and apply the
 * effect (kc_ledger_apply on a store, or the same arithmetic in memory). Every
 * logged event was accepted in that order, so every effect is REASON_OK; a
 * non-OK effect in replay means the log and the rules disagree.
 *
 * Content hash: the ledger computes kc_event_content_hash() after resolving
 * a correction's kind and a retraction's period from the target, so it needs
 * sodium_init(). Returns: 0 or a negative KC_E* code unless stated.
 */
#ifndef KC_LEDGER_H
#define KC_LEDGER_H

#include "kc_event.h"
#include "kc_store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KC_LEDGER_MAX_CELLS  2   /* a correction touches at most two cells */
#define KC_LEDGER_MAX_IDENTS 2   /* the event's own identity, and its target's */
#define KC_LEDGER_TEXT_MAX   256 /* reason text, NUL-terminated */

/* Where the ledger reads the state it decides on. Both functions return 0,
 * KC_ENOTFOUND, or another negative KC_E* code (passed on by the ledger).
 * event_get's bytes must stay valid until the next call on the source.
 * identity_get sets out->hashed = 1 if out->hash is known, else 0: the ledger
 * then computes it through event_get (kc_identity_hash), when its dedup needs
 * it. */
typedef struct {
    int (*identity_get)(void *ctx, uint8_t unit, const char *event_id, size_t len,
                        kc_identity_t *out);
    int (*event_get)(void *ctx, uint64_t offset, const uint8_t **data, size_t *len);
    void *ctx;
} kc_ledger_source_t;

/* A source reading a store transaction (read or write): identities from the
 * identities table, events from the log. txn must outlive the source. */
kc_ledger_source_t kc_ledger_source_txn(kc_txn_t *txn);

/* One cell delta. */
typedef struct {
    kc_cell_key_t key;
    int64_t m[KC_METRIC_COUNT]; /* added to the totals (negative: taken out) */
    int64_t events;             /* -1, 0 or +1 */
} kc_ledger_cell_t;

/* One identity record to write (insert or overwrite). */
typedef struct {
    uint8_t unit;                       /* kc_ref_unit_key of its province and period */
    char event_id[KC_EVENT_ID_MAX + 1]; /* NUL-terminated copy */
    size_t event_id_len;
    kc_identity_t id;
} kc_ledger_ident_t;

/* The effect of one event. Plain data, owned by the caller (no pointers). */
typedef struct {
    int reason;                    /* REASON_OK: apply; else duplicate or a rejection */
    char text[KC_LEDGER_TEXT_MAX]; /* one-line explanation ("" for REASON_OK) */
    uint8_t op;                    /* the event's op (kcpipe.v1.Op); 0 if check failed */
    uint64_t offset;               /* the offset the event gets in the log */
    bool has_target;               /* a correction/retraction whose target was found */
    uint8_t target_unit;           /* its unit key */
    uint64_t target_offset;        /* its log offset */
    size_t ncells;
    kc_ledger_cell_t cells[KC_LEDGER_MAX_CELLS];
    size_t nidents; /* [0] the event's own identity, [1] the target's, updated */
    kc_ledger_ident_t idents[KC_LEDGER_MAX_IDENTS];
    /* a reporting-cycle entry (kc_op_is_cycle(op)): what kc_period_decide needs */
    uint8_t cycle_unit;      /* kc_ref_unit_key of its province and period */
    uint8_t cycle_province;  /* the code as sent */
    int32_t cycle_yyyymm;    /* its period */
    size_t cycle_reason_len; /* bytes of its note (a reopen's reason) */
} kc_ledger_effect_t;

/* Compute the effect of the decoded event ev, which will be (or, in a replay,
 * is) logged at `offset`. Writes nothing. Returns 0 with out->reason set (for
 * any outcome, rejections included), or a source error (KC_EFORMAT if the log
 * entry of a target cannot be decoded or no longer passes kc_event_check). */
int kc_ledger_effect(const kc_ledger_source_t *src, const kc_pb_event_t *ev, uint64_t offset,
                     kc_ledger_effect_t *out);

/* kc_ledger_effect() for an event that already passed kc_event_check() (which
 * filled *view; the caller may have done it in another thread, e.g. while an
 * earlier group committed): the same effect, without checking again. hash:
 * for a record, kc_event_content_hash(ev, view) computed beforehand, or NULL
 * to compute it here (a correction's or retraction's hash depends on its
 * target and is always computed here). */
int kc_ledger_effect_checked(const kc_ledger_source_t *src, const kc_pb_event_t *ev,
                             const kc_event_view_t *view, const uint8_t *hash, uint64_t offset,
                             kc_ledger_effect_t *out);

/* Apply a REASON_OK effect to a store write transaction: every cell delta
 * (kc_txn_totals_apply), then every identity. KC_EOVERFLOW if a total would
 * leave its range: then no total and no identity was changed. KC_EINVAL if
 * eff->reason is not REASON_OK. Other store errors (KC_EMAPFULL included) are
 * returned for the caller to pass on. Does not append to the log. */
int kc_ledger_apply(kc_txn_t *txn, const kc_ledger_effect_t *eff);

/* Where kc_ledger_apply_cells() keeps the running totals: absolute cell values
 * held by the caller (e.g. in memory for one group commit, written to the
 * store once at its end). get: the cell's current value (zeroed if it was
 * never touched); put: its new value. Both return 0 or a negative KC_E* code
 * (passed on by the ledger; KC_EMAPFULL included). */
typedef struct {
    int (*get)(void *ctx, const kc_cell_key_t *key, kc_cell_t *out);
    int (*put)(void *ctx, const kc_cell_key_t *key, const kc_cell_t *cell);
    void *ctx;
} kc_ledger_cells_t;

/* kc_ledger_apply() with the totals behind `cells` instead of the store's
 * totals table: every cell delta is checked against the value get() gives,
 * with exactly kc_txn_totals_apply()'s range checks (each int64 metric, the
 * event count within 0..UINT64_MAX); if any delta of the effect would leave
 * its range, KC_EOVERFLOW and nothing (no cell, no identity) is changed;
 * otherwise each cell's sum is put() and every identity written to txn. */
int kc_ledger_apply_cells(kc_txn_t *txn, const kc_ledger_effect_t *eff,
                          const kc_ledger_cells_t *cells);

#endif
