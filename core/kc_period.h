/* kc_period.h - the reporting cycle's write-side rules: sign-off, approval,
 * reopen of a province's month, and the period lock (issue 18, docs/CYCLE.md
 * "Sign-off and approval").
 *
 * DESIGN
 * The state of one (province unit, month) is a kc_period_state_t (store's
 * "periods" table): open (no record) -> signed_off -> approved (LOCKED) ->
 * reopened -> (signed_off | approved) -> ... Each step is one entry of the
 * Merkle log (an Event with op OP_SIGN_OFF, OP_APPROVE or OP_REOPEN, carrying
 * province, year, month and, for a reopen, the reason in `note`), so the
 * state is a pure function of the log: the aggregator applies
 * kc_period_decide() in its single commit order, a replay applies it again to
 * the same entries in the same order and must reach the same table.
 *
 * kc_period_decide(): whether a cycle operation is accepted in the current
 * state, and the next state. In order, the first rule that applies:
 *   sign-off  the month has not ended (yyyymm >= the current month)
 *                                        -> period_not_ended
 *             approved                   -> period_locked (ask the centre to reopen)
 *             otherwise                  -> signed_off (again: the latest counts)
 *   approve   approved                   -> period_locked (a second approval;
 *                                           the text names the first's offset)
 *             no accepted data           -> period_no_data
 *             otherwise                  -> approved (also without a sign-off:
 *                                           the centre may lock what it has)
 *   reopen    no reason (empty note)     -> missing_reason
 *             not approved               -> period_not_locked
 *             otherwise                  -> reopened
 * Who may do what (a sign-off only from a producer authorised for the
 * province, approve/reopen only from the centre) is the aggregator's check,
 * before this one (province_not_authorized).
 *
 * kc_period_lock_check(): a record, correction or retraction whose period is
 * approved is rejected period_locked; a correction or retraction is checked
 * on its target's period and on its own (new) period, each a call.
 *
 * Pure: no store, no clock (the caller passes the current month, local time
 * of the centre, and whether the unit has data in the period). Texts are one
 * line of English, NUL-terminated, cut to cap.
 */
#ifndef KC_PERIOD_H
#define KC_PERIOD_H

#include "kc_store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One cycle operation to decide. */
typedef struct {
    uint8_t op;           /* KCPIPE__V1__OP__OP_SIGN_OFF, _OP_APPROVE or _OP_REOPEN */
    uint8_t province;     /* the two-digit code as sent (for the texts) */
    int32_t yyyymm;       /* the period it is for */
    int32_t now_yyyymm;   /* the current month (the centre's local time) */
    bool has_data;        /* the unit has accepted events in the period (approve) */
    size_t reason_len;    /* reopen: bytes of its reason (the event's note) */
    uint64_t offset;      /* the log offset the entry gets if accepted */
    uint64_t received_ns; /* its commit time */
} kc_period_op_t;

/* Decide op against cur (NULL or a zeroed state = open). Returns REASON_OK
 * and fills *next (cur with the step applied), or a kcpipe.v1.Reason with a
 * text; KC_EINVAL (negative) for an op that is not a cycle operation or a
 * NULL argument. *next is untouched on a rejection. */
int kc_period_decide(const kc_period_state_t *cur, const kc_period_op_t *op,
                     kc_period_state_t *next, char *text, size_t cap);

/* Whether st (NULL = open) locks its period: approved and not reopened since. */
bool kc_period_locked(const kc_period_state_t *st);

/* REASON_OK, or REASON_PERIOD_LOCKED with a text naming the province, the
 * period and the approval's log offset, and what to do (ask the centre to
 * reopen it). */
int kc_period_lock_check(const kc_period_state_t *st, uint8_t province, int32_t yyyymm, char *text,
                         size_t cap);

/* A replay's decision for a LOGGED cycle entry (kc-replay, rebuild and
 * verify): the rules that depend on the log alone (the state, the reason),
 * not on the clock or the totals (the month had ended and had data when the
 * aggregator accepted it). REASON_OK and *next, or the reason: then the log
 * and the rules disagree. */
int kc_period_replay(const kc_period_state_t *cur, uint8_t op, uint8_t province, int32_t yyyymm,
                     size_t reason_len, uint64_t offset, uint64_t received_ns,
                     kc_period_state_t *next, char *text, size_t cap);

/* The state's stable lower-case name: "open", "signed_off", "approved",
 * "reopened"; "unknown" otherwise. */
const char *kc_period_state_name(uint8_t state);

#endif
