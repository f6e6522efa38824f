/* kc_encode.c - kc_event_t -> serialized kcpipe.v1.Event.
 *
 * The message is filled as a protobuf-c struct and serialized by
 * kc_event_pack_canon (common/kc_event.c): the same bytes as
 * kcpipe__v1__event__pack (an event built here carries no unknown fields),
 * without protobuf-c's reflection and without a separate size pass
 * (tests/ingest/encode_test.c compares the two over every field combination). */
#include "kc_encode.h"

#include "kc_err.h"
#include "kc_event.h"
#include "kc_ref.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

_Static_assert((int)KCI_METRIC_COUNT == (int)KC_METRIC_COUNT,
               "kcingest.h metric order follows kc_ref.h");
_Static_assert((int)KCI_PROJECTS == (int)KC_M_PROJECTS, "kcingest.h metric order follows kc_ref.h");
_Static_assert((int)KCI_VALUE_TOO_LARGE == (int)KCPIPE__V1__REASON__REASON_VALUE_TOO_LARGE &&
                   (int)KCI_INVALID_TEXT == (int)KCPIPE__V1__REASON__REASON_INVALID_TEXT,
               "kcingest.h reasons are kcpipe.v1.Reason values");

int kc_buf_reserve(kc_buf_t *buf, size_t n)
{
    if (n <= buf->cap)
        return 0;
    size_t cap = buf->cap ? buf->cap : 256;
    while (cap < n)
        cap *= 2;
    uint8_t *p = realloc(buf->data, cap);
    if (!p)
        return KC_ENOMEM;
    buf->data = p;
    buf->cap = cap;
    return 0;
}

/* Fill *pe (and *pm, which *pe may point to) from ev. 0 or KC_EINVAL. */
static int s_fill(const kc_event_t *ev, const char *submitted_by, const char *producer_id,
                  uint64_t seq, Kcpipe__V1__Event *pe, Kcpipe__V1__Metrics *pm)
{
    if (!ev || ev->op < KCI_OP_RECORD || ev->op > KCI_OP_REOPEN)
        return KC_EINVAL;
    if (ev->op >= KCI_OP_SIGN_OFF) { /* the reporting cycle: province and period only */
        if (!ev->event_id || !*ev->event_id || !ev->province || !*ev->province)
            return KC_EINVAL;
        kcpipe__v1__event__init(pe);
        kcpipe__v1__metrics__init(pm);
        pe->event_id = (char *)ev->event_id;
        pe->province = (char *)ev->province;
        pe->has_year = pe->has_month = 1;
        pe->year = (uint32_t)ev->year;
        pe->month = (uint32_t)ev->month;
        pe->has_op = 1;
        pe->op = (Kcpipe__V1__Op)ev->op;
        if (ev->note && *ev->note)
            pe->note = (char *)ev->note;
        pe->producer_id = (char *)producer_id;
        pe->has_seq = 1;
        pe->seq = seq;
        if (submitted_by && *submitted_by)
            pe->submitted_by = (char *)submitted_by;
        return 0;
    }
    bool retraction = ev->op == KCI_OP_RETRACTION;
    bool amends = ev->op != KCI_OP_RECORD;
    if (!ev->event_id || !*ev->event_id || !ev->province || !*ev->province ||
        (!retraction && (!ev->activity || !*ev->activity)) ||
        (amends && (!ev->corrects || !*ev->corrects)))
        return KC_EINVAL;
    kcpipe__v1__event__init(pe);
    kcpipe__v1__metrics__init(pm);
    pe->event_id = (char *)ev->event_id;
    pe->province = (char *)ev->province;
    /* a retraction without a period takes the target's */
    pe->has_year = pe->has_month = !retraction || ev->year != 0 || ev->month != 0;
    pe->year = (uint32_t)ev->year;
    pe->month = (uint32_t)ev->month;
    if (ev->activity && *ev->activity) {
        const kc_activity_t *act = kc_ref_activity_lookup(ev->activity);
        pe->activity = (char *)(act ? act->code : ev->activity);
    }
    /* kind: a record's default is actual; a correction's or retraction's
     * default is the target's (left out) */
    pe->has_kind = !amends || ev->kind != KCI_KIND_DEFAULT;
    pe->kind =
        ev->kind == KCI_KIND_DEFAULT ? KCPIPE__V1__KIND__KIND_ACTUAL : (Kcpipe__V1__Kind)ev->kind;
    pe->has_fund = !retraction || ev->fund != KCI_FUND_DEFAULT;
    pe->fund =
        ev->fund == KCI_FUND_DEFAULT ? KCPIPE__V1__FUND__FUND_OTHER : (Kcpipe__V1__Fund)ev->fund;
    pe->has_op = amends;
    pe->op = (Kcpipe__V1__Op)ev->op;
    if (amends)
        pe->corrects = (char *)ev->corrects;
    if (ev->present) {
        for (int i = 0; i < KCI_METRIC_COUNT; i++)
            if (ev->present & (1u << i))
                kc_pb_metric_set(pm, i, ev->metrics[i]);
        pe->metrics = pm;
    }
    if (ev->note && *ev->note)
        pe->note = (char *)ev->note;
    pe->producer_id = (char *)producer_id;
    pe->has_seq = 1;
    pe->seq = seq;
    if (submitted_by && *submitted_by) /* "" = no one named: left out, as NULL */
        pe->submitted_by = (char *)submitted_by;
    return 0;
}

/* s_fill, then serialize into buf: kc_encode_event's work, the message left
 * to the caller. */
static int s_encode(const kc_event_t *ev, const char *submitted_by, const char *producer_id,
                    uint64_t seq, kc_buf_t *buf, Kcpipe__V1__Event *pe, Kcpipe__V1__Metrics *pm)
{
    int rc = s_fill(ev, submitted_by, producer_id, seq, pe, pm);
    if (rc)
        return rc;
    size_t n = kc_event_pack_canon(pe, buf->data, buf->cap);
    if (n > buf->cap) { /* n is an upper bound: the strings and at most every fixed byte */
        if (n - KC_EVENT_PACK_FIXED_MAX > KC_ENCODE_MAX)
            return KC_EINVAL; /* the strings alone are too large */
        if (kc_buf_reserve(buf, n))
            return KC_ENOMEM;
        n = kc_event_pack_canon(pe, buf->data, buf->cap);
    }
    if (n > KC_ENCODE_MAX)
        return KC_EINVAL;
    buf->len = n;
    return 0;
}

int kc_encode_event(const kc_event_t *ev, const char *producer_id, uint64_t seq, kc_buf_t *buf)
{
    return kc_encode_event_by(ev, NULL, producer_id, seq, buf);
}

int kc_encode_event_by(const kc_event_t *ev, const char *submitted_by, const char *producer_id,
                       uint64_t seq, kc_buf_t *buf)
{
    Kcpipe__V1__Event pe;
    Kcpipe__V1__Metrics pm;
    return s_encode(ev, submitted_by, producer_id, seq, buf, &pe, &pm);
}

int kc_encode_check(const kc_event_t *ev, char *text, size_t cap)
{
    text[0] = '\0';
    Kcpipe__V1__Event pe;
    Kcpipe__V1__Metrics pm;
    if (s_fill(ev, NULL, "", 0, &pe, &pm))
        return KC_EINVAL;
    kc_event_view_t view;
    int r = kc_event_check(&pe, &view, text, cap);
    return r == KCPIPE__V1__REASON__REASON_OK ? 0 : r;
}

int kc_encode_admit(const kc_event_t *ev, const char *producer_id, uint64_t seq, kc_buf_t *buf,
                    int *reason, char *text, size_t cap)
{
    return kc_encode_admit_by(ev, NULL, producer_id, seq, buf, reason, text, cap);
}

int kc_encode_admit_by(const kc_event_t *ev, const char *submitted_by, const char *producer_id,
                       uint64_t seq, kc_buf_t *buf, int *reason, char *text, size_t cap)
{
    *reason = 0;
    text[0] = '\0';
    Kcpipe__V1__Event pe;
    Kcpipe__V1__Metrics pm;
    int rc = s_encode(ev, submitted_by, producer_id, seq, buf, &pe, &pm);
    if (rc)
        return rc;
    /* the bytes as the aggregator will receive them (the C strings hold no NUL,
     * so this checks exactly what was written) */
    int r = kc_event_admit(&pe, buf->data, buf->len, text, cap);
    if (r == KCPIPE__V1__REASON__REASON_OK)
        return 0;
    *reason = r;
    return KCI_EREFUSED;
}
