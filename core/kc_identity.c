/* kc_identity.c - the content hash of an identity (see kc_identity.h). */
#include "kc_identity.h"

#include "kc_err.h"
#include "kc_event.h"
#include "kc_log.h"

/* The Event logged at `offset`, unpacked (caller frees); KC_EFORMAT (logged)
 * if there is none or it does not decode. */
static int s_event_at(kc_identity_event_fn event_get, void *ctx, uint64_t offset,
                      kc_pb_event_t **out)
{
    const uint8_t *data;
    size_t len;
    int rc = event_get(ctx, offset, &data, &len);
    if (rc == KC_ENOTFOUND) {
        kc_error("identity: names log offset %llu, which is not in the log",
                 (unsigned long long)offset);
        return KC_EFORMAT;
    }
    if (rc != 0)
        return rc;
    *out = kcpipe__v1__event__unpack(NULL, len, data);
    if (!*out) {
        kc_error("identity: log entry %llu is not a decodable event", (unsigned long long)offset);
        return KC_EFORMAT;
    }
    return 0;
}

/* The Event logged at id->prev (target != 0: a retraction's target, which must
 * have a period) or at id->offset (it must have id->op), unpacked into *ev
 * (caller frees) and checked into *view (which points into *ev); KC_EFORMAT
 * (logged) if it no longer passes the rules. */
static int s_checked_event(kc_identity_event_fn event_get, void *ctx, const kc_identity_t *id,
                           int target, kc_pb_event_t **ev, kc_event_view_t *view)
{
    int rc = s_event_at(event_get, ctx, target ? id->prev : id->offset, ev);
    if (rc != 0)
        return rc;
    char text[160];
    int reason = kc_event_check(*ev, view, text, sizeof text);
    if (reason == KCPIPE__V1__REASON__REASON_OK && (target ? view->year != 0 : view->op == id->op))
        return 0;
    if (target)
        kc_error("identity: the target (log offset %llu) of retraction %llu does not pass the "
                 "rules",
                 (unsigned long long)id->prev, (unsigned long long)id->offset);
    else
        kc_error("identity: log entry %llu no longer passes the rules (%s: %s)",
                 (unsigned long long)id->offset, kc_reason_name(reason), text);
    kcpipe__v1__event__free_unpacked(*ev, NULL);
    *ev = NULL;
    return KC_EFORMAT;
}

/* A retraction without a period: take its target's (the version at id->prev). */
static int s_target_period(kc_identity_event_fn event_get, void *ctx, const kc_identity_t *id,
                           kc_event_view_t *view)
{
    if (!id->prev_unit) {
        kc_error("identity: retraction %llu without a period names no target",
                 (unsigned long long)id->offset);
        return KC_EFORMAT;
    }
    kc_pb_event_t *tev;
    kc_event_view_t tv;
    int rc = s_checked_event(event_get, ctx, id, 1, &tev, &tv);
    if (rc != 0)
        return rc;
    kcpipe__v1__event__free_unpacked(tev, NULL);
    view->year = tv.year;
    view->month = tv.month;
    view->yyyymm = tv.yyyymm;
    return 0;
}

int kc_identity_hash(kc_identity_event_fn event_get, void *ctx, kc_identity_t *id)
{
    if (!event_get || !id)
        return KC_EINVAL;
    kc_pb_event_t *ev;
    kc_event_view_t view;
    int rc = s_checked_event(event_get, ctx, id, 0, &ev, &view);
    if (rc != 0)
        return rc;
    if (view.op == KCPIPE__V1__OP__OP_CORRECTION && id->kind)
        view.kind = id->kind;
    /* the view points into ev, which the target's read leaves alone */
    if (view.op == KCPIPE__V1__OP__OP_RETRACTION && !view.year)
        rc = s_target_period(event_get, ctx, id, &view);
    if (rc == 0) {
        kc_event_content_hash(ev, &view, id->hash);
        id->hashed = 1;
    }
    kcpipe__v1__event__free_unpacked(ev, NULL);
    return rc;
}

int kc_identity_txn_event_get(void *ctx, uint64_t offset, const uint8_t **data, size_t *len)
{
    kc_log_entry_t e;
    int rc = kc_txn_log_get(ctx, offset, &e);
    if (rc != 0)
        return rc;
    *data = e.event;
    *len = e.event_len;
    return 0;
}

int kc_identity_hash_txn(kc_txn_t *t, kc_identity_t *id)
{
    if (!t)
        return KC_EINVAL;
    return kc_identity_hash(kc_identity_txn_event_get, t, id);
}
