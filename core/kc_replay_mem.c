/* kc_replay_mem.c - replay's memory mode (see kc_replay.h, DESIGN): the
 * identity table (on kc_bigtable.h's huge pages) and the two phases of a
 * batch (phase 1: decode and check; phase 2: producers, identities, cells, the
 * ledger for corrections and retractions), run here for kc_replay_add and by
 * kc_replay_scan.c's two threads.
 */
#include "kc_replay_int.h"

#include "kc_err.h"
#include "kc_event.h"
#include "kc_ledger.h"

#include <stdlib.h>
#include <string.h>

/* ---- identities in memory ---- */

#define S_OFFSET_MAX ((uint64_t)1 << 48)

static inline uint64_t s_iv(uint64_t offset, uint8_t unit, const kc_identity_t *id)
{
    return offset << 16 | (uint64_t)unit << 8 | (uint64_t)(id->kind & 15) << 4 |
           (uint64_t)(id->op & 3) << 2 | (id->state & 3);
}

int kc_replay_ids_init_(kc_replay_ids_t *t, uint64_t expect)
{
    size_t cap = 1 << 16;
    while ((double)cap * 0.75 < (double)expect + 1)
        cap *= 2;
    t->slots = kc_bigtable_zalloc(cap, sizeof *t->slots);
    if (!t->slots)
        return KC_ENOMEM;
    t->cap = cap;
    t->n = 0;
    return 0;
}

static int s_ids_grow(kc_replay_ids_t *t)
{
    size_t cap = t->cap * 2;
    kc_replay_islot_t *slots = kc_bigtable_zalloc(cap, sizeof *slots);
    if (!slots)
        return KC_ENOMEM;
    for (size_t i = 0; i < t->cap; i++) {
        if (!t->slots[i].v)
            continue;
        size_t j = t->slots[i].h & (cap - 1);
        while (slots[j].v)
            j = (j + 1) & (cap - 1);
        slots[j] = t->slots[i];
    }
    kc_bigtable_free(t->slots, t->cap, sizeof *t->slots);
    t->slots = slots;
    t->cap = cap;
    return 0;
}

/* ---- memory mode ---- */

/* Target Events for the ledger and identity confirmation: the log entry at
 * `offset` of opts.events_from (the last one read is kept: the ledger reads a
 * target right after its identity was confirmed). The bytes are copied: an
 * entry's Event may be rebuilt in a buffer of the transaction that later
 * reads reuse (kc_store.h), and the one-thread path scans that same
 * transaction between two lookups. */
static int s_mem_event(void *ctx, uint64_t offset, const uint8_t **data, size_t *len)
{
    kc_replay_t *r = ctx;
    if (!r->cache_ok || r->cache_off != offset) {
        kc_log_entry_t e;
        r->cache_ok = false;
        int rc = kc_txn_log_get(r->o.events_from, offset, &e);
        if (rc != 0)
            return rc;
        if (e.event_len > r->cache_cap) {
            uint8_t *b = realloc(r->cache_buf, e.event_len);
            if (!b)
                return KC_ENOMEM;
            r->cache_buf = b;
            r->cache_cap = e.event_len;
        }
        if (e.event_len)
            memcpy(r->cache_buf, e.event, e.event_len);
        r->cache_off = offset;
        r->cache_data = r->cache_buf;
        r->cache_len = e.event_len;
        r->cache_ok = true;
    }
    *data = r->cache_data;
    *len = r->cache_len;
    return 0;
}

/* 1 if the entry at `offset` has event_id (id, len), 0 if not, or an error. */
static int s_confirm(kc_replay_t *r, uint64_t offset, const char *id, size_t len)
{
    const uint8_t *data;
    size_t dlen;
    int rc = s_mem_event(r, offset, &data, &dlen);
    if (rc != 0)
        return rc == KC_ENOTFOUND ? KC_EFORMAT : rc;
    r->confirms++;
    const char *eid = NULL;
    size_t elen = 0;
    rc = kc_wire_event_id_of(data, dlen, &eid, &elen);
    if (rc == KC_EFORMAT) { /* not the plain form: ask protobuf-c */
        const kc_pb_event_t *ev;
        if (kc_wire_decode(r->dec2, data, dlen, &ev) != 0)
            return KC_EFORMAT;
        eid = ev->event_id;
        elen = eid ? strlen(eid) : 0;
        rc = eid != NULL;
    }
    return rc == 1 && elen == len && memcmp(eid, id, len) == 0;
}

/* Find (unit, id): *found = its slot or NULL; *empty = where it would go. */
static int s_ids_find(kc_replay_t *r, uint8_t unit, const char *id, size_t len, uint64_t h,
                      kc_replay_islot_t **found, kc_replay_islot_t **empty)
{
    kc_replay_ids_t *t = &r->ids;
    *found = NULL;
    for (size_t i = h & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
        kc_replay_islot_t *s = &t->slots[i];
        if (!s->v) {
            *empty = s;
            return 0;
        }
        if (s->h == h && (uint8_t)(s->v >> 8) == unit) {
            int rc = s_confirm(r, s->v >> 16, id, len);
            if (rc < 0)
                return rc;
            if (rc == 1) {
                *found = s;
                return 0;
            }
            r->collisions++;
        }
    }
}

static int s_mem_identity(void *ctx, uint8_t unit, const char *event_id, size_t len,
                          kc_identity_t *out)
{
    kc_replay_t *r = ctx;
    kc_replay_islot_t *s, *empty;
    int rc =
        s_ids_find(r, unit, event_id, len, kc_replay_id_hash_(unit, event_id, len), &s, &empty);
    if (rc != 0)
        return rc;
    if (!s)
        return KC_ENOTFOUND;
    memset(out, 0, sizeof *out);
    out->offset = s->v >> 16;
    out->kind = (uint8_t)(s->v >> 4 & 15);
    out->op = (uint8_t)(s->v >> 2 & 3);
    out->state = (uint8_t)(s->v & 3);
    return 0;
}

/* Insert or overwrite the identity (unit, id). */
static int s_ids_put(kc_replay_t *r, uint8_t unit, const char *id, size_t len,
                     const kc_identity_t *idn)
{
    if (idn->offset >= S_OFFSET_MAX)
        return KC_EINVAL;
    if ((r->ids.n + 1) * 4 > r->ids.cap * 3) {
        int rc = s_ids_grow(&r->ids);
        if (rc != 0)
            return rc;
    }
    uint64_t h = kc_replay_id_hash_(unit, id, len);
    kc_replay_islot_t *s, *empty;
    int rc = s_ids_find(r, unit, id, len, h, &s, &empty);
    if (rc != 0)
        return rc;
    if (!s) {
        s = empty;
        s->h = h;
        r->ids.n++;
    }
    s->v = s_iv(idn->offset, unit, idn);
    return 0;
}

/* Phase 1: decode and check the entry (bytes = its batch's buffer), hash its
 * identity and find its cell key. Touches nothing of r's tables, so it may
 * run on the scanning thread of the pipeline (kc_replay_from_txn). */
static void s_prepare(kc_wire_decoder_t *dec, const uint8_t *bytes, const kc_replay_ent_t *se,
                      kc_replay_prep_t *p)
{
    const kc_pb_event_t *ev;
    p->op = 0;
    p->text[0] = '\0';
    if (kc_wire_decode(dec, bytes + se->ev_at, se->ev_len, &ev) != 0) {
        p->reason = KCPIPE__V1__REASON__REASON_UNDECODABLE;
        return;
    }
    kc_event_view_t v;
    char text[KC_LEDGER_TEXT_MAX];
    p->reason = kc_event_check(ev, &v, text, sizeof text);
    if (p->reason != KCPIPE__V1__REASON__REASON_OK) {
        memcpy(p->text, text, sizeof p->text);
        return;
    }
    p->op = v.op;
    if (v.op != KCPIPE__V1__OP__OP_RECORD)
        return; /* phase 2 decodes it again for kc_ledger_effect */
    p->unit = kc_ref_unit_key(v.province, v.yyyymm);
    p->kind = v.kind;
    p->id_len = (uint8_t)v.event_id_len;
    memcpy(p->id, v.event_id, v.event_id_len);
    p->h = kc_replay_id_hash_(p->unit, v.event_id, v.event_id_len);
    p->d.key = (kc_cell_key_t){.year = v.year,
                               .month = v.month,
                               .province = v.province,
                               .activity = v.activity->id,
                               .kind = v.kind,
                               .fund = v.fund};
    memcpy(p->d.m, v.metrics, sizeof p->d.m);
    p->d.events = 1;
}

/* Start fetching the identity slot and the cell slot that phase 2 will probe
 * for a prepared record. */
static inline void s_prefetch(const kc_replay_t *r, const kc_replay_prep_t *p)
{
    if (p->reason != KCPIPE__V1__REASON__REASON_OK || p->op != KCPIPE__V1__OP__OP_RECORD)
        return;
    __builtin_prefetch(&r->ids.slots[p->h & (r->ids.cap - 1)]);
    kc_cellmap_prefetch(&r->cells, kc_cellmap_key(&p->d.key));
}

/* Then (once its slot has arrived) the cell entry itself. */
static inline void s_prefetch_cell(const kc_replay_t *r, const kc_replay_prep_t *p)
{
    if (p->reason == KCPIPE__V1__REASON__REASON_OK && p->op == KCPIPE__V1__OP__OP_RECORD)
        kc_cellmap_prefetch_entry(&r->cells, kc_cellmap_key(&p->d.key));
}

/* kc_ledger's arithmetic for a record (s_record), without the content hash:
 * an identity that already exists means the log repeats it. */
static int s_mem_record(kc_replay_t *r, const kc_replay_prep_t *p, uint64_t offset)
{
    if ((r->ids.n + 1) * 4 > r->ids.cap * 3) {
        int rc = s_ids_grow(&r->ids);
        if (rc != 0)
            return rc;
    }
    kc_replay_islot_t *s, *empty;
    int rc = s_ids_find(r, p->unit, p->id, p->id_len, p->h, &s, &empty);
    if (rc != 0)
        return rc;
    if (s)
        return kc_replay_fail_(
            r, offset, KCPIPE__V1__REASON__REASON_EVENT_ID_CONFLICT,
            "a logged event replays as duplicate or event_id_conflict (province %02u "
            "event_id '%.*s' is already counted at log offset %llu): the log and the "
            "rules disagree",
            p->d.key.province, (int)p->id_len, p->id, (unsigned long long)(s->v >> 16));
    if ((rc = kc_replay_cell_apply_(r, &p->d, offset)) != 0)
        return rc;
    kc_identity_t idn = {.offset = offset, .op = KCPIPE__V1__OP__OP_RECORD, .kind = p->kind};
    if (offset >= S_OFFSET_MAX)
        return KC_EINVAL;
    empty->h = p->h;
    empty->v = s_iv(offset, p->unit, &idn);
    r->ids.n++;
    r->stats.identities++;
    r->stats.records++;
    return 0;
}

/* A correction or retraction: kc_ledger_effect itself, against the in-memory
 * identities and the targets' log entries. */
static int s_mem_amend(kc_replay_t *r, const uint8_t *bytes, const kc_replay_ent_t *se)
{
    kc_ledger_source_t ls = {.identity_get = s_mem_identity, .event_get = s_mem_event, .ctx = r};
    kc_ledger_effect_t *eff = &r->eff;
    int stage;
    size_t cell;
    int rc = kc_replay_step(r->dec, &ls, bytes + se->ev_at, se->ev_len, se->offset, eff, &r->cells,
                            &stage, &cell);
    if (stage == KC_REPLAY_STEP_REASON)
        return kc_replay_fail_(r, se->offset, eff->reason,
                               "a logged event replays as %s (%s): the log and the rules disagree",
                               kc_reason_name(eff->reason), eff->text);
    if (stage == KC_REPLAY_STEP_CELL && rc == KC_EOVERFLOW)
        return kc_replay_overflow_(r, &eff->cells[cell], se->offset);
    /* KC_REPLAY_STEP_DECODE cannot happen (decoded in phase 1): KC_EFORMAT */
    if (rc == 0 && kc_op_is_cycle(eff->op)) /* sign-off, approval, reopen */
        return kc_replay_period_apply_(r, NULL, eff, se->offset, se->received_ns);
    for (size_t i = 0; rc == 0 && i < eff->nidents; i++) {
        const kc_ledger_ident_t *d = &eff->idents[i];
        rc = s_ids_put(r, d->unit, d->event_id, d->event_id_len, &d->id);
    }
    if (rc != 0)
        return rc;
    r->stats.identities += eff->nidents;
    if (eff->op == KCPIPE__V1__OP__OP_CORRECTION)
        r->stats.corrections++;
    else
        r->stats.retractions++;
    return 0;
}

/* Replay the buffered entries in memory: phase 1 prepares them all (so that
 * the identity slots are being fetched while the next ones decode), phase 2
 * applies them in offset order. */
/* Phase 2 for one prepared entry, in offset order. */
static int s_mem_apply(kc_replay_t *r, const uint8_t *bytes, const kc_replay_ent_t *se,
                       const kc_replay_prep_t *p)
{
    kc_log_entry_t e = {.offset = se->offset,
                        .received_ns = se->received_ns,
                        .epoch = se->epoch,
                        .seq = se->seq,
                        .producer = (const char *)bytes + se->prod_at,
                        .producer_len = se->prod_len};
    int rc = kc_replay_producer_see_(r, &e);
    if (rc != 0)
        return rc;
    if (p->reason == KCPIPE__V1__REASON__REASON_UNDECODABLE && !p->text[0])
        rc = kc_replay_fail_(r, se->offset, p->reason,
                             "the entry's %zu bytes are not a kcpipe.v1.Event", se->ev_len);
    else if (p->reason != KCPIPE__V1__REASON__REASON_OK)
        rc = kc_replay_fail_(r, se->offset, p->reason,
                             "a logged event replays as %s (%s): the log and the rules disagree",
                             kc_reason_name(p->reason), p->text);
    else if (p->op == KCPIPE__V1__OP__OP_RECORD)
        rc = s_mem_record(r, p, se->offset);
    else
        rc = s_mem_amend(r, bytes, se);
    if (rc != 0 && !r->fail.failed && rc != KC_ENOMEM)
        rc = kc_replay_fail_(r, se->offset, -1, "cannot be replayed: %s", kc_strerror(rc));
    if (rc != 0)
        return rc;
    r->stats.entries++;
    r->done++;
    if (r->o.progress && (r->done & 0xFFFF) == 0)
        r->o.progress(r->done, r->o.total, r->o.progress_ctx);
    return 0;
}

int kc_replay_mem_batch_(kc_replay_t *r)
{
    if (r->fail.failed)
        return KC_EFORMAT;
    for (size_t i = 0; i < r->n; i++) {
        s_prepare(r->dec, r->bytes, &r->ents[i], &r->prep[i]);
        s_prefetch(r, &r->prep[i]);
    }
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < r->n; i++) {
        if (i + 8 < r->n)
            s_prefetch_cell(r, &r->prep[i + 8]);
        rc = s_mem_apply(r, r->bytes, &r->ents[i], &r->prep[i]);
    }
    r->n = 0;
    r->blen = 0;
    return rc;
}

/* The scanner's phase 1 of one batch (kc_replay_scan.c). */
void kc_replay_mem_prepare_(kc_wire_decoder_t *dec, const uint8_t *bytes,
                            const kc_replay_ent_t *ents, kc_replay_prep_t *prep, size_t n)
{
    for (size_t i = 0; i < n; i++)
        s_prepare(dec, bytes, &ents[i], &prep[i]);
}

/* The scanner's applier: phase 2 of one batch, with kc_replay_add's checks
 * per entry (kc_replay_scan.c). */
int kc_replay_mem_apply_(kc_replay_t *r, const uint8_t *bytes, const kc_replay_ent_t *ents,
                         const kc_replay_prep_t *prep, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i + 16 < n)
            s_prefetch(r, &prep[i + 16]);
        if (i + 8 < n)
            s_prefetch_cell(r, &prep[i + 8]);
        const kc_replay_ent_t *se = &ents[i];
        if (!se->prod_len || se->prod_len > 255)
            return KC_EINVAL;
        if (se->offset != r->next_offset)
            return kc_replay_fail_(r, se->offset, -1,
                                   "offset %llu expected: the log has a gap or is out of order",
                                   (unsigned long long)r->next_offset);
        r->next_offset++;
        int rc = s_mem_apply(r, bytes, se, &prep[i]);
        if (rc != 0)
            return rc;
    }
    return 0;
}
