/* kc_ledger.c - the effect of one event on totals and identities (see kc_ledger.h). */
#include "kc_ledger.h"

#include "kc_err.h"
#include "kc_identity.h"
#include "kc_log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* ---- the store-backed source ---- */

static int s_txn_identity_get(void *ctx, uint8_t unit, const char *event_id, size_t len,
                              kc_identity_t *out)
{
    return kc_txn_identity_get(ctx, unit, event_id, len, out);
}

kc_ledger_source_t kc_ledger_source_txn(kc_txn_t *txn)
{
    return (kc_ledger_source_t){
        .identity_get = s_txn_identity_get, .event_get = kc_identity_txn_event_get, .ctx = txn};
}

/* ---- helpers ---- */

static int s_reject(kc_ledger_effect_t *out, int reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int s_reject(kc_ledger_effect_t *out, int reason, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->text, sizeof out->text, fmt, ap);
    va_end(ap);
    out->reason = reason;
    out->ncells = out->nidents = 0;
    return 0;
}

static kc_cell_key_t s_key(const kc_event_view_t *v)
{
    return (kc_cell_key_t){.year = v->year,
                           .month = v->month,
                           .province = v->province,
                           .activity = v->activity->id,
                           .kind = v->kind,
                           .fund = v->fund};
}

static bool s_key_eq(const kc_cell_key_t *a, const kc_cell_key_t *b)
{
    return a->year == b->year && a->month == b->month && a->province == b->province &&
           a->activity == b->activity && a->kind == b->kind && a->fund == b->fund;
}

static void s_ident(kc_ledger_ident_t *d, uint8_t unit, const char *event_id, size_t len,
                    const kc_identity_t *id)
{
    d->unit = unit;
    memcpy(d->event_id, event_id, len);
    d->event_id[len] = '\0';
    d->event_id_len = len;
    d->id = *id;
}

/* Business dedup of the event's own identity: sets out->reason (duplicate or
 * event_id_conflict) if (unit, event_id) exists. The existing identity's hash
 * is computed from its log entry only then, and only if the source does not
 * know it (kc_identity_t.hashed). */
static int s_dedup(const kc_ledger_source_t *src, const kc_event_view_t *v, uint8_t unit,
                   const uint8_t hash[KC_HASH_LEN], kc_ledger_effect_t *out)
{
    kc_identity_t idn;
    int rc = src->identity_get(src->ctx, unit, v->event_id, v->event_id_len, &idn);
    if (rc == KC_ENOTFOUND)
        return 0;
    if (rc != 0)
        return rc;
    if (!idn.hashed && (rc = kc_identity_hash(src->event_get, src->ctx, &idn)) != 0)
        return rc;
    if (memcmp(idn.hash, hash, KC_HASH_LEN) == 0)
        return s_reject(out, KCPIPE__V1__REASON__REASON_DUPLICATE,
                        "province %02u event_id '%.64s' is already counted (log offset %llu)",
                        v->province, v->event_id, (unsigned long long)idn.offset);
    bool self = v->corrects && v->corrects_len == v->event_id_len &&
                memcmp(v->corrects, v->event_id, v->event_id_len) == 0;
    return s_reject(out, KCPIPE__V1__REASON__REASON_EVENT_ID_CONFLICT,
                    "province %02u event_id '%.64s' was counted before with different content "
                    "(log offset %llu)%s",
                    v->province, v->event_id, (unsigned long long)idn.offset,
                    self ? "; a correction needs an event_id of its own" : "");
}

/* ---- records ---- */

static int s_record(const kc_ledger_source_t *src, const kc_pb_event_t *ev,
                    const kc_event_view_t *v, const uint8_t *hash_in, kc_ledger_effect_t *out)
{
    uint8_t unit = kc_ref_unit_key(v->province, v->yyyymm);
    uint8_t hash[KC_HASH_LEN];
    if (hash_in)
        memcpy(hash, hash_in, KC_HASH_LEN);
    else
        kc_event_content_hash(ev, v, hash);
    int rc = s_dedup(src, v, unit, hash, out);
    if (rc != 0 || out->reason != KCPIPE__V1__REASON__REASON_OK)
        return rc;
    kc_ledger_cell_t *c = &out->cells[out->ncells++];
    c->key = s_key(v);
    memcpy(c->m, v->metrics, sizeof c->m);
    c->events = 1;
    kc_identity_t idn = {.offset = out->offset,
                         .state = KC_ID_LIVE,
                         .op = KCPIPE__V1__OP__OP_RECORD,
                         .kind = v->kind,
                         .hashed = 1};
    memcpy(idn.hash, hash, KC_HASH_LEN);
    s_ident(&out->idents[out->nidents++], unit, v->event_id, v->event_id_len, &idn);
    return 0;
}

/* ---- corrections and retractions ---- */

/* What a found target looks like. */
typedef struct {
    uint8_t unit;
    kc_identity_t id;
    kc_cell_key_t key;          /* its cell (effective kind) */
    int64_t m[KC_METRIC_COUNT]; /* its values */
    int32_t yyyymm;
} s_target_t;

/* Find `corrects` for the event's province code. Sets out->reason if it
 * cannot be found; else fills *t's unit and identity. */
static int s_find_target(const kc_ledger_source_t *src, const kc_event_view_t *v, s_target_t *t,
                         kc_ledger_effect_t *out)
{
    uint8_t u63 = kc_ref_unit_in(63, v->province), u34 = kc_ref_unit_in(34, v->province);
    uint8_t first = v->year ? kc_ref_unit_key(v->province, v->yyyymm) : u34;
    uint8_t cand[2] = {first, first == u34 ? u63 : u34};
    bool found[2] = {false, false};
    kc_identity_t ids[2];
    for (int i = 0; i < 2; i++) {
        if (!cand[i])
            continue;
        int rc = src->identity_get(src->ctx, cand[i], v->corrects, v->corrects_len, &ids[i]);
        if (rc != 0 && rc != KC_ENOTFOUND)
            return rc;
        found[i] = rc == 0;
    }
    if (found[0] && found[1] && !v->year)
        return s_reject(out, KCPIPE__V1__REASON__REASON_UNKNOWN_TARGET,
                        "corrects '%.64s' names two events of province %02u (before and after "
                        "the 2025-07 merger): give year and month to choose",
                        v->corrects, v->province);
    for (int i = 0; i < 2; i++)
        if (found[i]) {
            t->unit = cand[i];
            t->id = ids[i];
            return 0;
        }
    /* not this code's: another province's, or nobody's (the rare path) */
    for (size_t i = 0; i < kc_ref_province_count(); i++) {
        const kc_province_t *p = kc_ref_province_at(i);
        uint8_t u = kc_ref_unit_key(p->code, p->valid_from);
        if (u == cand[0] || u == cand[1])
            continue;
        kc_identity_t idn;
        int rc = src->identity_get(src->ctx, u, v->corrects, v->corrects_len, &idn);
        if (rc == 0)
            return s_reject(out, KCPIPE__V1__REASON__REASON_TARGET_OTHER_PROVINCE,
                            "corrects '%.64s' is an event of province %s (%s, scheme %u), not "
                            "of province %02u",
                            v->corrects, p->code_str, p->name, p->scheme, v->province);
        if (rc != KC_ENOTFOUND)
            return rc;
    }
    return s_reject(out, KCPIPE__V1__REASON__REASON_UNKNOWN_TARGET,
                    "corrects '%.64s' names no event of province %02u", v->corrects, v->province);
}

/* Read the target's values and cell from its log entry. */
static int s_load_target(const kc_ledger_source_t *src, s_target_t *t)
{
    const uint8_t *data;
    size_t len;
    int rc = src->event_get(src->ctx, t->id.offset, &data, &len);
    if (rc != 0)
        return rc == KC_ENOTFOUND ? KC_EFORMAT : rc;
    kc_pb_event_t *ev = kcpipe__v1__event__unpack(NULL, len, data);
    if (!ev) {
        kc_error("ledger: log entry %llu is not a decodable event",
                 (unsigned long long)t->id.offset);
        return KC_EFORMAT;
    }
    kc_event_view_t tv;
    char text[KC_LEDGER_TEXT_MAX];
    int reason = kc_event_check(ev, &tv, text, sizeof text);
    uint8_t kind = t->id.kind ? t->id.kind : tv.kind;
    if (reason == KCPIPE__V1__REASON__REASON_OK && tv.op != KCPIPE__V1__OP__OP_RETRACTION &&
        kind != 0) {
        tv.kind = kind;
        t->key = s_key(&tv);
        memcpy(t->m, tv.metrics, sizeof t->m);
        t->yyyymm = tv.yyyymm;
    } else {
        kc_error("ledger: log entry %llu no longer passes the rules (%s: %s)",
                 (unsigned long long)t->id.offset, kc_reason_name(reason), text);
        rc = KC_EFORMAT;
    }
    kcpipe__v1__event__free_unpacked(ev, NULL);
    return rc;
}

/* ---- a superseded target's latest version (target_superseded's text only) ---- */

/* A chain longer than this is taken for a log inconsistency (a cycle cannot
 * occur: each step must move to a later offset): the plain text then. */
#define S_CHAIN_MAX_STEPS 1000

/* The versions after a superseded target, as the rejection names them. */
typedef struct {
    kc_pb_event_t *by;     /* the correction that superseded the target */
    uint64_t by_offset;    /* its log offset */
    kc_pb_event_t *latest; /* the newest version with values (may be `by`) */
    kc_pb_event_t *retr;   /* the retraction that voided `latest`, or NULL */
    uint64_t retr_offset;  /* its log offset */
} s_chain_t;

static void s_chain_free(s_chain_t *c)
{
    if (c->latest && c->latest != c->by)
        kcpipe__v1__event__free_unpacked(c->latest, NULL);
    if (c->by)
        kcpipe__v1__event__free_unpacked(c->by, NULL);
    if (c->retr)
        kcpipe__v1__event__free_unpacked(c->retr, NULL);
    memset(c, 0, sizeof *c);
}

/* The version after (unit, *cur): the Event logged at cur->next (unpacked, so
 * its strings outlive later source calls) and its identity under
 * cur->next_unit, which must name that offset and link back to *cur. 0 with
 * *ev and *idn set; else *why says what is inconsistent (rc 0) or rc is the
 * source's error. `before`: the offset of the event being decided (a version
 * is logged after its target and before it). */
static int s_next_version(const kc_ledger_source_t *src, uint8_t unit, const kc_identity_t *cur,
                          uint64_t before, kc_pb_event_t **ev, kc_identity_t *idn, const char **why)
{
    *ev = NULL;
    if (cur->state == KC_ID_LIVE || !cur->next_unit || cur->next <= cur->offset ||
        cur->next >= before) {
        *why = "a version's next offset is not a later entry";
        return 0;
    }
    const uint8_t *data;
    size_t len;
    int rc = src->event_get(src->ctx, cur->next, &data, &len);
    if (rc != 0) {
        *why = "no event at a version's next offset";
        return rc == KC_ENOTFOUND ? 0 : rc;
    }
    kc_pb_event_t *e = kcpipe__v1__event__unpack(NULL, len, data);
    if (!e || !e->event_id || !e->event_id[0]) {
        *why = "an entry without a decodable event_id";
        rc = 0;
    } else if ((rc = src->identity_get(src->ctx, cur->next_unit, e->event_id, strlen(e->event_id),
                                       idn)) != 0) {
        *why = "a version without its identity";
        rc = rc == KC_ENOTFOUND || rc == KC_EFORMAT ? 0 : rc;
    } else if (idn->offset != cur->next || idn->prev != cur->offset || idn->prev_unit != unit ||
               (idn->op == KCPIPE__V1__OP__OP_RETRACTION) != (cur->state == KC_ID_RETRACTED) ||
               idn->op == KCPIPE__V1__OP__OP_RECORD) {
        *why = "an identity that does not link back";
    } else {
        *ev = e;
        return 0;
    }
    if (e)
        kcpipe__v1__event__free_unpacked(e, NULL);
    return rc;
}

/* Follow the chain of versions from the superseded target t up to its end:
 * 1 with *c filled; 0 if the log and identities do not form such a chain
 * (logged, *c empty); or a source error. Only on the rejection path. */
static int s_latest(const kc_ledger_source_t *src, const s_target_t *t, uint64_t before,
                    s_chain_t *c)
{
    memset(c, 0, sizeof *c);
    uint8_t unit = t->unit;
    kc_identity_t cur = t->id;
    const char *why = "longer than 1000 versions";
    for (int steps = 0; steps < S_CHAIN_MAX_STEPS; steps++) {
        kc_pb_event_t *ev;
        kc_identity_t idn;
        int rc = s_next_version(src, unit, &cur, before, &ev, &idn, &why);
        if (rc != 0) {
            s_chain_free(c);
            return rc;
        }
        if (!ev)
            break;
        if (idn.op == KCPIPE__V1__OP__OP_RETRACTION) {
            /* cur was retracted, so it is a correction after the target: latest is set */
            c->retr = ev;
            c->retr_offset = cur.next;
            return 1;
        }
        if (!c->by) {
            c->by = ev;
            c->by_offset = cur.next;
        } else if (c->latest != c->by) {
            kcpipe__v1__event__free_unpacked(c->latest, NULL);
        }
        c->latest = ev;
        if (idn.state == KC_ID_LIVE)
            return 1;
        unit = cur.next_unit;
        cur = idn;
    }
    s_chain_free(c);
    kc_warn("ledger: the versions after log offset %llu are not a chain (%s): the log and the "
            "identities disagree",
            (unsigned long long)t->id.offset, why);
    return 0;
}

/* target_superseded, naming the version to correct instead (see kc_ledger.h:
 * the texts). The long form when it fits the text; else the short one, which
 * fits with every id at its 64 bytes (3 ids and at most 60 other bytes). */
static int s_superseded(const kc_ledger_source_t *src, const kc_event_view_t *v,
                        const s_target_t *t, uint64_t before, kc_ledger_effect_t *out)
{
    bool retraction = v->op == KCPIPE__V1__OP__OP_RETRACTION;
    const char *what = retraction ? "retract" : "correct";
    s_chain_t c;
    int rc = s_latest(src, t, before, &c);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return s_reject(out, KCPIPE__V1__REASON__REASON_TARGET_SUPERSEDED,
                        "cannot %s '%.64s': it was corrected (by log offset %llu); name the "
                        "latest version",
                        what, v->corrects, (unsigned long long)t->id.next);
    char text[2 * KC_LEDGER_TEXT_MAX];
    int n;
    if (c.retr)
        n = snprintf(text, sizeof text,
                     "cannot %s '%.64s': it was corrected by '%.64s' (log offset %llu); the latest "
                     "version '%.64s' was retracted by '%.64s' (log offset %llu): there is "
                     "nothing to %s",
                     what, v->corrects, c.by->event_id, (unsigned long long)c.by_offset,
                     c.latest->event_id, c.retr->event_id, (unsigned long long)c.retr_offset, what);
    else
        n = snprintf(text, sizeof text,
                     "cannot %s '%.64s': it was corrected by '%.64s' (log offset %llu); the latest "
                     "version is '%.64s': send the %s with corrects=%.64s",
                     what, v->corrects, c.by->event_id, (unsigned long long)c.by_offset,
                     c.latest->event_id, retraction ? "retraction" : "correction",
                     c.latest->event_id);
    if (n >= 0 && (size_t)n < sizeof out->text)
        s_reject(out, KCPIPE__V1__REASON__REASON_TARGET_SUPERSEDED, "%s", text);
    else if (c.retr)
        s_reject(out, KCPIPE__V1__REASON__REASON_TARGET_SUPERSEDED,
                 "cannot %s '%.64s': its latest version '%.64s' was retracted by '%.64s'", what,
                 v->corrects, c.latest->event_id, c.retr->event_id);
    else
        s_reject(out, KCPIPE__V1__REASON__REASON_TARGET_SUPERSEDED,
                 "cannot %s '%.64s': corrected by '%.64s'; the latest version is '%.64s'", what,
                 v->corrects, c.by->event_id, c.latest->event_id);
    s_chain_free(&c);
    return 0;
}

static int s_amend(const kc_ledger_source_t *src, const kc_pb_event_t *ev,
                   const kc_event_view_t *view, kc_ledger_effect_t *out)
{
    bool retraction = view->op == KCPIPE__V1__OP__OP_RETRACTION;
    const char *what = retraction ? "retract" : "correct";
    s_target_t t;
    memset(&t, 0, sizeof t);
    int rc = s_find_target(src, view, &t, out);
    if (rc != 0 || out->reason != KCPIPE__V1__REASON__REASON_OK)
        return rc;
    out->has_target = true;
    out->target_unit = t.unit;
    out->target_offset = t.id.offset;
    /* a retraction never becomes live again: nothing to correct (its op never changes) */
    if (t.id.op == KCPIPE__V1__OP__OP_RETRACTION)
        return s_reject(out, KCPIPE__V1__REASON__REASON_TARGET_RETRACTED,
                        "cannot %s '%.64s': it is a retraction (log offset %llu)", what,
                        view->corrects, (unsigned long long)t.id.offset);
    if ((rc = s_load_target(src, &t)) != 0)
        return rc;

    /* the event as it counts: kind and period resolved from the target */
    kc_event_view_t eff = *view;
    if (!retraction && !eff.kind)
        eff.kind = t.key.kind;
    if (retraction && !eff.year) {
        eff.year = t.key.year;
        eff.month = t.key.month;
        eff.yyyymm = t.yyyymm;
    } else if (retraction && eff.yyyymm != t.yyyymm) {
        return s_reject(out, KCPIPE__V1__REASON__REASON_UNKNOWN_TARGET,
                        "the retraction is for %04u-%02u but '%.64s' is an event of %04u-%02u",
                        eff.year, eff.month, view->corrects, t.key.year, t.key.month);
    }
    uint8_t unit = kc_ref_unit_key(eff.province, eff.yyyymm);
    uint8_t hash[KC_HASH_LEN];
    kc_event_content_hash(ev, &eff, hash);
    if ((rc = s_dedup(src, &eff, unit, hash, out)) != 0 ||
        out->reason != KCPIPE__V1__REASON__REASON_OK)
        return rc;

    if (t.id.state == KC_ID_RETRACTED)
        return s_reject(out, KCPIPE__V1__REASON__REASON_TARGET_RETRACTED,
                        "cannot %s '%.64s': it was retracted (by log offset %llu)", what,
                        view->corrects, (unsigned long long)t.id.next);
    if (t.id.state == KC_ID_SUPERSEDED)
        return s_superseded(src, view, &t, out->offset, out);

    /* the deltas: old values out of the target's cell, new values in */
    kc_ledger_cell_t *old = &out->cells[out->ncells++];
    old->key = t.key;
    for (int i = 0; i < KC_METRIC_COUNT; i++)
        old->m[i] = -t.m[i]; /* t.m[i] >= 0 (checked when accepted) */
    old->events = -1;
    if (!retraction) {
        kc_cell_key_t key = s_key(&eff);
        if (s_key_eq(&key, &old->key)) {
            for (int i = 0; i < KC_METRIC_COUNT; i++)
                old->m[i] += eff.metrics[i]; /* both in 0..INT64_MAX: no overflow */
            old->events = 0;
        } else {
            kc_ledger_cell_t *c = &out->cells[out->ncells++];
            c->key = key;
            memcpy(c->m, eff.metrics, sizeof c->m);
            c->events = 1;
        }
    }

    /* the identities: the new version, and the target now pointing at it */
    kc_identity_t own = {.offset = out->offset,
                         .state = KC_ID_LIVE,
                         .op = view->op,
                         .kind = t.key.kind,
                         .prev_unit = t.unit,
                         .hashed = 1,
                         .prev = t.id.offset};
    if (!retraction)
        own.kind = eff.kind;
    memcpy(own.hash, hash, KC_HASH_LEN);
    s_ident(&out->idents[out->nidents++], unit, view->event_id, view->event_id_len, &own);
    kc_identity_t tid = t.id;
    tid.state = retraction ? KC_ID_RETRACTED : KC_ID_SUPERSEDED;
    tid.next_unit = unit;
    tid.next = out->offset;
    if (!tid.kind)
        tid.kind = t.key.kind; /* a format-1 identity gains its kind */
    s_ident(&out->idents[out->nidents++], t.unit, view->corrects, view->corrects_len, &tid);
    return 0;
}

/* A reporting-cycle entry: no cell, no identity; its period for the caller,
 * who decides it on the periods table (kc_period.h). */
static int s_cycle(const kc_pb_event_t *ev, const kc_event_view_t *v, kc_ledger_effect_t *out)
{
    out->cycle_province = v->province;
    out->cycle_yyyymm = v->yyyymm;
    out->cycle_unit = kc_ref_unit_key(v->province, v->yyyymm);
    out->cycle_reason_len = ev->note ? strlen(ev->note) : 0;
    return 0;
}

int kc_ledger_effect(const kc_ledger_source_t *src, const kc_pb_event_t *ev, uint64_t offset,
                     kc_ledger_effect_t *out)
{
    if (!src || !src->identity_get || !src->event_get || !ev || !out)
        return KC_EINVAL;
    memset(out, 0, sizeof *out);
    out->offset = offset;
    kc_event_view_t view;
    out->reason = kc_event_check(ev, &view, out->text, sizeof out->text);
    if (out->reason != KCPIPE__V1__REASON__REASON_OK)
        return 0;
    out->op = view.op;
    if (kc_op_is_cycle(view.op))
        return s_cycle(ev, &view, out);
    if (view.op == KCPIPE__V1__OP__OP_RECORD)
        return s_record(src, ev, &view, NULL, out);
    return s_amend(src, ev, &view, out);
}

int kc_ledger_effect_checked(const kc_ledger_source_t *src, const kc_pb_event_t *ev,
                             const kc_event_view_t *view, const uint8_t *hash, uint64_t offset,
                             kc_ledger_effect_t *out)
{
    if (!src || !src->identity_get || !src->event_get || !ev || !view || !out)
        return KC_EINVAL;
    memset(out, 0, sizeof *out);
    out->offset = offset;
    out->op = view->op;
    if (kc_op_is_cycle(view->op))
        return s_cycle(ev, view, out);
    if (view->op == KCPIPE__V1__OP__OP_RECORD)
        return s_record(src, ev, view, hash, out);
    return s_amend(src, ev, view, out);
}

/* The effect's identity versions, in order (kc_ledger_apply, kc_ledger_apply_cells). */
static int s_put_idents(kc_txn_t *txn, const kc_ledger_effect_t *eff)
{
    for (size_t i = 0; i < eff->nidents; i++) {
        const kc_ledger_ident_t *d = &eff->idents[i];
        int rc = kc_txn_identity_put(txn, d->unit, d->event_id, d->event_id_len, &d->id);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int kc_ledger_apply(kc_txn_t *txn, const kc_ledger_effect_t *eff)
{
    if (!txn || !eff || eff->reason != KCPIPE__V1__REASON__REASON_OK)
        return KC_EINVAL;
    for (size_t i = 0; i < eff->ncells; i++) {
        const kc_ledger_cell_t *c = &eff->cells[i];
        int rc = kc_txn_totals_apply(txn, &c->key, c->m, c->events);
        if (rc == 0)
            continue;
        /* undo the cells already changed: each negation fits (|delta| <= INT64_MAX) */
        for (size_t j = 0; rc == KC_EOVERFLOW && j < i; j++) {
            const kc_ledger_cell_t *u = &eff->cells[j];
            int64_t neg[KC_METRIC_COUNT];
            for (int k = 0; k < KC_METRIC_COUNT; k++)
                neg[k] = -u->m[k];
            int urc = kc_txn_totals_apply(txn, &u->key, neg, -u->events);
            if (urc != 0)
                return urc == KC_EOVERFLOW ? KC_ESTORE : urc;
        }
        return rc;
    }
    return s_put_idents(txn, eff);
}

int kc_ledger_apply_cells(kc_txn_t *txn, const kc_ledger_effect_t *eff,
                          const kc_ledger_cells_t *cells)
{
    if (!txn || !eff || eff->reason != KCPIPE__V1__REASON__REASON_OK || !cells || !cells->get ||
        !cells->put || eff->ncells > KC_LEDGER_MAX_CELLS)
        return KC_EINVAL;
    /* every sum first, then the writes: all or nothing. (The cells of one effect
     * are distinct - a correction within one cell is one merged delta - but a
     * repeated key would still add up, on the earlier sum.) */
    kc_cell_t sum[KC_LEDGER_MAX_CELLS];
    for (size_t i = 0; i < eff->ncells; i++) {
        const kc_ledger_cell_t *c = &eff->cells[i];
        kc_cell_t cur;
        size_t j = 0;
        while (j < i && !s_key_eq(&eff->cells[j].key, &c->key))
            j++;
        if (j < i) {
            cur = sum[j];
        } else {
            int rc = cells->get(cells->ctx, &c->key, &cur);
            if (rc != 0)
                return rc;
        }
        /* kc_txn_totals_apply's checks */
        if (kc_cell_add(&sum[i], &cur, c->events, c->m)) {
            kc_warn("totals %04u-%02u province %u activity %u kind %u fund %u would overflow "
                    "int64; unchanged",
                    c->key.year, c->key.month, c->key.province, c->key.activity, c->key.kind,
                    c->key.fund);
            return KC_EOVERFLOW;
        }
    }
    for (size_t i = 0; i < eff->ncells; i++) {
        int rc = cells->put(cells->ctx, &eff->cells[i].key, &sum[i]);
        if (rc != 0)
            return rc;
    }
    return s_put_idents(txn, eff);
}
