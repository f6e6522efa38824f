/* kc_period.c - the reporting cycle's write-side rules (kc_period.h).
 *
 * DESIGN: see kc_period.h. A table of rules, each a state test and a reason;
 * the texts say what to do next (reasons and hints: docs/PROTOCOL.md, po/vi.po
 * through kci_result_hint).
 */
#include "kc_period.h"

#include "kc_err.h"
#include "kcpipe/v1/kcpipe.pb-c.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

int kc_period_replay(const kc_period_state_t *cur, uint8_t op, uint8_t province, int32_t yyyymm,
                     size_t reason_len, uint64_t offset, uint64_t received_ns,
                     kc_period_state_t *next, char *text, size_t cap)
{
    kc_period_op_t o = {.op = op,
                        .province = province,
                        .yyyymm = yyyymm,
                        .now_yyyymm = INT32_MAX,
                        .has_data = true,
                        .reason_len = reason_len,
                        .offset = offset,
                        .received_ns = received_ns};
    return kc_period_decide(cur, &o, next, text, cap);
}

const char *kc_period_state_name(uint8_t state)
{
    switch (state) {
    case KC_PERIOD_OPEN: return "open";
    case KC_PERIOD_SIGNED_OFF: return "signed_off";
    case KC_PERIOD_APPROVED: return "approved";
    case KC_PERIOD_REOPENED: return "reopened";
    default: return "unknown";
    }
}

bool kc_period_locked(const kc_period_state_t *st)
{
    return st && st->state == KC_PERIOD_APPROVED;
}

int kc_period_lock_check(const kc_period_state_t *st, uint8_t province, int32_t yyyymm, char *text,
                         size_t cap)
{
    if (cap)
        text[0] = '\0';
    if (!kc_period_locked(st))
        return KCPIPE__V1__REASON__REASON_OK;
    snprintf(text, cap,
             "%04d-%02d of province %02u is approved by the centre (locked, log offset %llu): "
             "ask the centre to reopen it",
             (int)(yyyymm / 100), (int)(yyyymm % 100), province,
             (unsigned long long)st->approval_offset);
    return KCPIPE__V1__REASON__REASON_PERIOD_LOCKED;
}

int kc_period_decide(const kc_period_state_t *cur, const kc_period_op_t *op,
                     kc_period_state_t *next, char *text, size_t cap)
{
    if (!op || !next || (cap && !text))
        return KC_EINVAL;
    if (cap)
        text[0] = '\0';
    kc_period_state_t st = {0};
    if (cur)
        st = *cur;
    int y = (int)(op->yyyymm / 100), m = (int)(op->yyyymm % 100);
    switch (op->op) {
    case KCPIPE__V1__OP__OP_SIGN_OFF:
        if (op->yyyymm >= op->now_yyyymm) {
            snprintf(text, cap,
                     "%04d-%02d has not ended yet: province %02u can sign it off from %04d-%02d-01",
                     y, m, op->province, m == 12 ? y + 1 : y, m == 12 ? 1 : m + 1);
            return KCPIPE__V1__REASON__REASON_PERIOD_NOT_ENDED;
        }
        if (st.state == KC_PERIOD_APPROVED) {
            snprintf(text, cap,
                     "%04d-%02d of province %02u is already approved (log offset %llu): ask the "
                     "centre to reopen it before signing it off again",
                     y, m, op->province, (unsigned long long)st.approval_offset);
            return KCPIPE__V1__REASON__REASON_PERIOD_LOCKED;
        }
        st.state = KC_PERIOD_SIGNED_OFF;
        st.signoffs++;
        st.signoff_offset = op->offset;
        st.signoff_ns = op->received_ns;
        break;
    case KCPIPE__V1__OP__OP_APPROVE:
        if (st.state == KC_PERIOD_APPROVED) {
            snprintf(text, cap,
                     "%04d-%02d of province %02u is already approved (log offset %llu): nothing "
                     "to do; reopen it first to approve it again",
                     y, m, op->province, (unsigned long long)st.approval_offset);
            return KCPIPE__V1__REASON__REASON_PERIOD_LOCKED;
        }
        if (!op->has_data) {
            snprintf(text, cap,
                     "province %02u has no accepted data for %04d-%02d: there is nothing to "
                     "approve (check the province and period)",
                     op->province, y, m);
            return KCPIPE__V1__REASON__REASON_PERIOD_NO_DATA;
        }
        st.state = KC_PERIOD_APPROVED;
        st.approvals++;
        st.approval_offset = op->offset;
        st.approval_ns = op->received_ns;
        break;
    case KCPIPE__V1__OP__OP_REOPEN:
        if (op->reason_len == 0) {
            snprintf(text, cap,
                     "a reopen of %04d-%02d of province %02u needs a reason (the note): say why "
                     "the approved figures may change",
                     y, m, op->province);
            return KCPIPE__V1__REASON__REASON_MISSING_REASON;
        }
        if (st.state != KC_PERIOD_APPROVED) {
            snprintf(text, cap,
                     "%04d-%02d of province %02u is not approved (it is %s): nothing "
                     "to reopen",
                     y, m, op->province, kc_period_state_name(st.state));
            return KCPIPE__V1__REASON__REASON_PERIOD_NOT_LOCKED;
        }
        st.state = KC_PERIOD_REOPENED;
        st.reopens++;
        st.reopen_offset = op->offset;
        st.reopen_ns = op->received_ns;
        break;
    default: return KC_EINVAL;
    }
    *next = st;
    return KCPIPE__V1__REASON__REASON_OK;
}
