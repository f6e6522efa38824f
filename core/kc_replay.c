/* kc_replay.c - replay an event log into totals, identities and producers
 * (see kc_replay.h, DESIGN): the engine against a destination store (the
 * group buffer, one write transaction per group, the final cells and
 * producers), failures and stats, the producers' index, and reading the
 * result (cells by key, in key order, compared with a store's totals).
 *
 * Layout: a group buffer (entries with their bytes copied into one growing
 * byte array, referred to by index so that the array may move), the cells in
 * a kc_cellmap_t (keyed by the 7-byte cell key read as a big-endian integer,
 * so integer order = store key order; in store mode each entry also keeps its
 * committed value, and the dirty list names what the current attempt
 * changed), the producers (an array and
 * a hash index into it), the Event decoder (common/kc_wire_decode.c: a wire walker
 * with protobuf-c behind it), and, in memory mode, the open addressing
 * identity table (kc_replay_mem.c; on kc_bigtable.h's huge pages).
 * The shared structures and the per-entry inline helpers are in
 * kc_replay_int.h; memory mode is kc_replay_mem.c, kc_replay_from_txn and its
 * two threads kc_replay_scan.c.
 */
#include "kc_replay_int.h"

#include "kc_err.h"
#include "kc_event.h"
#include "kc_entry.h"
#include "kc_ledger.h"
#include "kc_log.h"
#include "kc_period.h"
#include "kc_text.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int kc_replay_fail_(kc_replay_t *r, uint64_t offset, int reason, const char *fmt, ...)
{
    char raw[sizeof r->fail.why];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    /* it may quote a logged producer id or event_id (any bytes in a store written
     * before the admission rules): kept in display form (kc_text.h) */
    kc_text_show(raw, strlen(raw), r->fail.why, sizeof r->fail.why);
    r->fail.failed = true;
    r->fail.offset = offset;
    r->fail.reason = reason;
    kc_error("replay: log offset %llu: %s", (unsigned long long)offset, r->fail.why);
    return KC_EFORMAT;
}

int kc_replay_overflow_(kc_replay_t *r, const kc_ledger_cell_t *d, uint64_t offset)
{
    return kc_replay_fail_(
        r, offset, -1,
        "a total of %04u-%02u province %02u activity %u kind %u fund %u would leave "
        "its range (the live path rejects such an event: total_overflow)",
        d->key.year, d->key.month, d->key.province, d->key.activity, d->key.kind, d->key.fund);
}

int kc_replay_new(kc_replay_t **out, kc_store_t *dst, const kc_replay_opts_t *opts)
{
    if (!out || !opts || (!opts->in_memory && !dst) ||
        (opts->in_memory && (opts->copy_log || !opts->events_from)) ||
        (!opts->copy_log && !opts->events_from))
        return KC_EINVAL;
    kc_replay_t *r = calloc(1, sizeof *r);
    if (!r)
        return KC_ENOMEM;
    r->dst = opts->in_memory ? NULL : dst;
    r->o = *opts;
    if (!r->o.group)
        r->o.group = KC_REPLAY_DEFAULT_GROUP;
    int rc = r->o.in_memory ? kc_cellmap_init(&r->cells, 0, 0)
                            : kc_cellmap_init(&r->cells, sizeof(kc_cell_t), KC_CELLMAP_DIRTY);
    if (rc == 0)
        rc = kc_wire_decoder_new(&r->dec);
    if (rc == 0)
        rc = kc_wire_decoder_new(&r->dec2);
    if (rc == 0 && r->o.in_memory) {
        rc = kc_replay_ids_init_(&r->ids, r->o.total);
        r->prep = malloc(KC_REPLAY_MEM_BATCH * sizeof *r->prep);
        if (rc == 0 && !r->prep)
            rc = KC_ENOMEM;
    }
    if (rc != 0) {
        kc_replay_free(&r);
        return rc;
    }
    *out = r;
    return 0;
}

void kc_replay_free(kc_replay_t **rp)
{
    if (!rp || !*rp)
        return;
    kc_replay_t *r = *rp;
    free(r->ents);
    free(r->bytes);
    kc_cellmap_fini(&r->cells);
    free(r->prods);
    kc_idmap_fini(&r->pidx);
    kc_wire_decoder_free(&r->dec);
    kc_wire_decoder_free(&r->dec2);
    kc_bigtable_free(r->ids.slots, r->ids.cap, sizeof *r->ids.slots);
    free(r->prep);
    free(r->cache_buf);
    free(r->periods);
    free(r);
    *rp = NULL;
}

const kc_replay_stats_t *kc_replay_stats(const kc_replay_t *r)
{
    return &r->stats;
}

const kc_replay_failure_t *kc_replay_failure(const kc_replay_t *r)
{
    return &r->fail;
}

/* ---- the group transaction ---- */

typedef struct {
    kc_txn_t *dst;
    kc_txn_t *events; /* NULL: dst */
} s_src_t;

static int s_src_identity(void *ctx, uint8_t unit, const char *event_id, size_t len,
                          kc_identity_t *out)
{
    s_src_t *s = ctx;
    return kc_txn_identity_get(s->dst, unit, event_id, len, out);
}

static int s_src_event(void *ctx, uint64_t offset, const uint8_t **data, size_t *len)
{
    s_src_t *s = ctx;
    kc_log_entry_t e;
    int rc = kc_txn_log_get(s->events ? s->events : s->dst, offset, &e);
    if (rc != 0)
        return rc;
    *data = e.event;
    *len = e.event_len;
    return 0;
}

int kc_replay_step(kc_wire_decoder_t *dec, const kc_ledger_source_t *src, const uint8_t *data,
                   size_t len, uint64_t offset, kc_ledger_effect_t *eff, kc_cellmap_t *cells,
                   int *stage, size_t *cell)
{
    const kc_pb_event_t *ev;
    *cell = 0;
    *stage = KC_REPLAY_STEP_DECODE;
    if (kc_wire_decode(dec, data, len, &ev) != 0)
        return KC_EFORMAT;
    *stage = KC_REPLAY_STEP_EFFECT;
    int rc = kc_ledger_effect(src, ev, offset, eff);
    if (rc != 0)
        return rc;
    *stage = KC_REPLAY_STEP_REASON;
    if (eff->reason != KCPIPE__V1__REASON__REASON_OK)
        return KC_EFORMAT;
    *stage = KC_REPLAY_STEP_CELL;
    for (size_t i = 0; i < eff->ncells; i++) {
        const kc_ledger_cell_t *d = &eff->cells[i];
        if ((rc = kc_cellmap_apply(cells, kc_cellmap_key(&d->key), d->events, d->m, NULL)) != 0) {
            *cell = i;
            return rc;
        }
    }
    *stage = KC_REPLAY_STEP_DONE;
    return 0;
}

static int s_entry(kc_replay_t *r, kc_txn_t *txn, s_src_t *src, const kc_replay_ent_t *se)
{
    kc_log_entry_t e = {.offset = se->offset,
                        .received_ns = se->received_ns,
                        .epoch = se->epoch,
                        .seq = se->seq,
                        .producer = (const char *)r->bytes + se->prod_at,
                        .producer_len = se->prod_len,
                        .event = r->bytes + se->ev_at,
                        .event_len = se->ev_len};
    int rc;
    if (r->o.copy_log) {
        uint64_t at;
        if ((rc = kc_txn_log_append(txn, &e, &at)) != 0)
            return rc;
        if (at != e.offset)
            return kc_replay_fail_(r, e.offset, -1,
                                   "the entry landed at offset %llu of the new log",
                                   (unsigned long long)at);
    }
    kc_ledger_source_t ls = {.identity_get = s_src_identity, .event_get = s_src_event, .ctx = src};
    kc_ledger_effect_t *eff = &r->eff;
    int stage;
    size_t cell;
    rc = kc_replay_step(r->dec, &ls, e.event, e.event_len, e.offset, eff, &r->cells, &stage, &cell);
    switch (stage) {
    case KC_REPLAY_STEP_DONE: break;
    case KC_REPLAY_STEP_DECODE:
        return kc_replay_fail_(r, e.offset, KCPIPE__V1__REASON__REASON_UNDECODABLE,
                               "the entry's %zu bytes are not a kcpipe.v1.Event", e.event_len);
    case KC_REPLAY_STEP_EFFECT:
        return kc_replay_fail_(r, e.offset, -1, "its effect cannot be computed: %s",
                               kc_strerror(rc));
    case KC_REPLAY_STEP_REASON:
        return kc_replay_fail_(r, e.offset, eff->reason,
                               "a logged event replays as %s (%s): the log and the rules disagree",
                               kc_reason_name(eff->reason), eff->text);
    default: return rc == KC_EOVERFLOW ? kc_replay_overflow_(r, &eff->cells[cell], e.offset) : rc;
    }
    if (kc_op_is_cycle(eff->op)) /* sign-off, approval, reopen: the periods table */
        return kc_replay_period_apply_(r, txn, eff, e.offset, e.received_ns);
    for (size_t i = 0; i < eff->nidents; i++) {
        const kc_ledger_ident_t *d = &eff->idents[i];
        if ((rc = kc_txn_identity_put(txn, d->unit, d->event_id, d->event_id_len, &d->id)) != 0)
            return rc;
    }
    r->group_stats.identities += eff->nidents;
    if (eff->op == KCPIPE__V1__OP__OP_CORRECTION)
        r->group_stats.corrections++;
    else if (eff->op == KCPIPE__V1__OP__OP_RETRACTION)
        r->group_stats.retractions++;
    else
        r->group_stats.records++;
    return 0;
}

static kc_replay_period_t *s_period_find(const kc_replay_t *r, uint8_t unit, int32_t yyyymm)
{
    for (size_t i = 0; i < r->nperiods; i++)
        if (r->periods[i].unit == unit && r->periods[i].yyyymm == yyyymm)
            return &r->periods[i];
    return NULL;
}

int kc_replay_period_apply_(kc_replay_t *r, kc_txn_t *txn, const kc_ledger_effect_t *eff,
                            uint64_t offset, uint64_t received_ns)
{
    kc_period_state_t cur = {0}, next;
    kc_replay_period_t *slot = NULL;
    int rc;
    if (txn) {
        rc = kc_txn_period_get(txn, eff->cycle_unit, eff->cycle_yyyymm, &cur);
        if (rc != 0 && rc != KC_ENOTFOUND)
            return rc;
    } else if ((slot = s_period_find(r, eff->cycle_unit, eff->cycle_yyyymm)) != NULL) {
        cur = slot->st;
    }
    char text[KC_LEDGER_TEXT_MAX];
    int reason =
        kc_period_replay(&cur, eff->op, eff->cycle_province, eff->cycle_yyyymm,
                         eff->cycle_reason_len, offset, received_ns, &next, text, sizeof text);
    if (reason < 0)
        return reason;
    if (reason != KCPIPE__V1__REASON__REASON_OK)
        return kc_replay_fail_(r, offset, reason,
                               "a logged %s replays as %s (%s): the log and the rules disagree",
                               kc_entry_op_name(eff->op), kc_reason_name(reason), text);
    if (txn)
        return kc_txn_period_put(txn, eff->cycle_unit, eff->cycle_yyyymm, &next);
    if (!slot) {
        if (r->nperiods == r->capperiods) {
            size_t cap = r->capperiods ? 2 * r->capperiods : 64;
            kc_replay_period_t *p = realloc(r->periods, cap * sizeof *p);
            if (!p)
                return KC_ENOMEM;
            r->periods = p;
            r->capperiods = cap;
        }
        slot = &r->periods[r->nperiods++];
        slot->unit = eff->cycle_unit;
        slot->yyyymm = eff->cycle_yyyymm;
    }
    slot->st = next;
    return 0;
}

static bool s_period_eq(const kc_period_state_t *a, const kc_period_state_t *b)
{
    return a->state == b->state && a->signoffs == b->signoffs && a->approvals == b->approvals &&
           a->reopens == b->reopens && a->signoff_offset == b->signoff_offset &&
           a->signoff_ns == b->signoff_ns && a->approval_offset == b->approval_offset &&
           a->approval_ns == b->approval_ns && a->reopen_offset == b->reopen_offset &&
           a->reopen_ns == b->reopen_ns;
}

typedef struct {
    const kc_replay_t *r;
    uint64_t stored, ndiff;
    void (*fn)(uint8_t unit, int32_t yyyymm, const kc_period_state_t *stored,
               const kc_period_state_t *recomputed, void *ctx);
    void *ctx;
} s_pcmp_t;

static int s_pcmp_fn(uint8_t unit, int32_t yyyymm, const kc_period_state_t *st, void *ctx)
{
    s_pcmp_t *c = ctx;
    c->stored++;
    const kc_replay_period_t *p = s_period_find(c->r, unit, yyyymm);
    if (!p || !s_period_eq(&p->st, st)) {
        c->ndiff++;
        if (c->fn)
            c->fn(unit, yyyymm, st, p ? &p->st : NULL, c->ctx);
    }
    return 0;
}

int kc_replay_periods_compare(const kc_replay_t *r, kc_txn_t *t,
                              void (*fn)(uint8_t unit, int32_t yyyymm,
                                         const kc_period_state_t *stored,
                                         const kc_period_state_t *recomputed, void *ctx),
                              void *ctx, uint64_t *nperiods, uint64_t *ndiff)
{
    if (!r || !t || !nperiods || !ndiff)
        return KC_EINVAL;
    s_pcmp_t c = {.r = r, .fn = fn, .ctx = ctx};
    int rc = kc_txn_period_scan(t, s_pcmp_fn, &c);
    if (rc != 0)
        return rc;
    /* every recomputed period the store lacks */
    for (size_t i = 0; i < r->nperiods; i++) {
        kc_period_state_t st;
        rc = kc_txn_period_get(t, r->periods[i].unit, r->periods[i].yyyymm, &st);
        if (rc == KC_ENOTFOUND) {
            c.ndiff++;
            if (fn)
                fn(r->periods[i].unit, r->periods[i].yyyymm, NULL, &r->periods[i].st, ctx);
        } else if (rc != 0) {
            return rc;
        }
    }
    *nperiods = c.stored > r->nperiods ? c.stored : r->nperiods;
    *ndiff = c.ndiff;
    return 0;
}

static int s_write_final(kc_replay_t *r, kc_txn_t *txn)
{
    for (size_t i = 0; i < kc_cellmap_count(&r->cells); i++) {
        const kc_cellmap_entry_t *c = kc_cellmap_at(&r->cells, i);
        kc_cell_key_t key;
        kc_cellmap_unkey(c->key, &key);
        if (c->cell.events > (uint64_t)INT64_MAX)
            return KC_EOVERFLOW;
        int rc = kc_txn_totals_apply(txn, &key, c->cell.m, (int64_t)c->cell.events);
        if (rc != 0)
            return rc;
    }
    for (size_t i = 0; i < r->nprods; i++) {
        int rc = kc_txn_producer_put(txn, r->prods[i].id, &r->prods[i].st);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int s_group(kc_txn_t *txn, void *ctx)
{
    kc_replay_t *r = ctx;
    /* start from the committed state: undo what an aborted attempt did */
    for (size_t i = 0; i < kc_cellmap_dirty_count(&r->cells); i++) {
        kc_cellmap_entry_t *c = kc_cellmap_dirty_at(&r->cells, i);
        c->cell = *kc_replay_committed_(c);
    }
    kc_cellmap_dirty_clear(&r->cells);
    memset(&r->group_stats, 0, sizeof r->group_stats);
    s_src_t src = {.dst = txn, .events = r->o.events_from};
    for (size_t i = 0; i < r->n; i++) {
        int rc = s_entry(r, txn, &src, &r->ents[i]);
        if (rc != 0)
            return rc;
    }
    return r->final ? s_write_final(r, txn) : 0;
}

/* Replay the buffer in one transaction and make its cells committed. */
static int s_flush(kc_replay_t *r)
{
    if (r->fail.failed)
        return KC_EFORMAT;
    if (r->n == 0 && !r->final)
        return 0;
    int rc = kc_store_write(r->dst, s_group, r);
    if (rc != 0) {
        if (!r->fail.failed)
            kc_error("replay: a group of %zu entries from offset %llu was not committed: %s", r->n,
                     r->n ? (unsigned long long)r->ents[0].offset : 0ull, kc_strerror(rc));
        return rc;
    }
    for (size_t i = 0; i < kc_cellmap_dirty_count(&r->cells); i++) {
        kc_cellmap_entry_t *c = kc_cellmap_dirty_at(&r->cells, i);
        *kc_replay_committed_(c) = c->cell;
    }
    kc_cellmap_dirty_clear(&r->cells);
    r->stats.entries += r->n;
    r->stats.identities += r->group_stats.identities;
    r->stats.records += r->group_stats.records;
    r->stats.corrections += r->group_stats.corrections;
    r->stats.retractions += r->group_stats.retractions;
    r->stats.commits++;
    r->done += r->n;
    r->n = 0;
    r->blen = 0;
    if (r->o.progress)
        r->o.progress(r->done, r->o.total, r->o.progress_ctx);
    return 0;
}

int kc_replay_add(kc_replay_t *r, const kc_log_entry_t *e)
{
    if (!r || !e || r->finished || !e->producer || !e->producer_len || e->producer_len > 255 ||
        (!e->event && e->event_len))
        return KC_EINVAL;
    if (r->fail.failed)
        return KC_EFORMAT;
    if (e->offset != r->next_offset && r->o.in_memory && kc_replay_mem_batch_(r) != 0)
        return KC_EFORMAT; /* an earlier entry's failure first */
    if (e->offset != r->next_offset)
        return kc_replay_fail_(r, e->offset, -1,
                               "offset %llu expected: the log has a gap or is out of order",
                               (unsigned long long)r->next_offset);
    int rc = r->o.in_memory
                 ? 0
                 : kc_replay_producer_see_(r, e); /* memory mode: in order, in the batch */
    if (rc != 0)
        return rc;
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 1024;
        kc_replay_ent_t *n = realloc(r->ents, cap * sizeof *n);
        if (!n)
            return KC_ENOMEM;
        r->ents = n;
        r->cap = cap;
    }
    size_t need = e->producer_len + e->event_len;
    if (r->blen + need > r->bcap) {
        size_t cap = r->bcap ? r->bcap : (size_t)1 << 20;
        while (cap < r->blen + need)
            cap *= 2;
        uint8_t *b = realloc(r->bytes, cap);
        if (!b)
            return KC_ENOMEM;
        r->bytes = b;
        r->bcap = cap;
    }
    kc_replay_ent_t *s = &r->ents[r->n++];
    s->offset = e->offset;
    s->received_ns = e->received_ns;
    s->epoch = e->epoch;
    s->seq = e->seq;
    s->prod_at = r->blen;
    s->prod_len = e->producer_len;
    memcpy(r->bytes + r->blen, e->producer, e->producer_len);
    r->blen += e->producer_len;
    s->ev_at = r->blen;
    s->ev_len = e->event_len;
    if (e->event_len)
        memcpy(r->bytes + r->blen, e->event, e->event_len);
    r->blen += e->event_len;
    r->next_offset++;
    if (r->o.in_memory)
        return r->n >= KC_REPLAY_MEM_BATCH ? kc_replay_mem_batch_(r) : 0;
    return r->n >= r->o.group ? s_flush(r) : 0;
}

int kc_replay_finish(kc_replay_t *r)
{
    if (!r || r->finished)
        return KC_EINVAL;
    r->final = true;
    int rc = r->fail.failed ? KC_EFORMAT : 0;
    if (!r->o.in_memory)
        rc = s_flush(r);
    else if (rc == 0)
        rc = kc_replay_mem_batch_(r);
    else if (rc == 0 && r->o.progress)
        r->o.progress(r->done, r->o.total, r->o.progress_ctx);
    r->final = false;
    r->finished = true;
    if (rc == 0) {
        r->stats.cells = kc_cellmap_count(&r->cells);
        r->stats.producers = r->nprods;
    }
    return rc;
}

/* ---- reading the result ---- */

/* A cell's value in the result: memory mode keeps the state in the entry's
 * cell, store mode reads the committed value (the entry's cell may hold an
 * aborted attempt's deltas). */
static const kc_cell_t *s_result(const kc_replay_t *r, kc_cellmap_entry_t *e)
{
    return r->o.in_memory ? &e->cell : kc_replay_committed_(e);
}

/* The cells in key order (kc_cellmap_sorted): builds the map's sort index,
 * which changes no cell (hence the const of the readers below). */
static int s_sort(const kc_replay_t *r)
{
    return kc_cellmap_sort((kc_cellmap_t *)&r->cells);
}

int kc_replay_cell_get(const kc_replay_t *r, const kc_cell_key_t *key, kc_cell_t *cell)
{
    if (!r || !key || !cell)
        return KC_EINVAL;
    kc_cellmap_entry_t *e = kc_cellmap_find(&r->cells, kc_cellmap_key(key));
    if (!e) {
        memset(cell, 0, sizeof *cell);
        return KC_ENOTFOUND;
    }
    *cell = *s_result(r, e);
    return 0;
}

int kc_replay_cell_scan(const kc_replay_t *r,
                        int (*fn)(const kc_cell_key_t *key, const kc_cell_t *cell, void *ctx),
                        void *ctx)
{
    if (!r || !fn)
        return KC_EINVAL;
    int rc = s_sort(r);
    for (size_t i = 0; rc == 0 && i < kc_cellmap_count(&r->cells); i++) {
        kc_cellmap_entry_t *e = kc_cellmap_sorted(&r->cells, i);
        kc_cell_key_t key;
        kc_cellmap_unkey(e->key, &key);
        rc = fn(&key, s_result(r, e), ctx);
    }
    return rc;
}

typedef struct {
    const kc_replay_t *r;
    size_t nkeys, next; /* recomputed cells, in key order (kc_cellmap_sorted) */
    void (*fn)(const kc_replay_diff_t *d, void *ctx);
    void *ctx;
    uint64_t cells, diffs;
} s_cmp_t;

static bool s_cell_eq(const kc_cell_t *a, const kc_cell_t *b)
{
    return a->events == b->events && memcmp(a->m, b->m, sizeof a->m) == 0;
}

static void s_diff(s_cmp_t *c, uint64_t key, const kc_cell_t *stored, const kc_cell_t *re)
{
    kc_replay_diff_t d = {.stored_present = stored != NULL, .recomputed_present = re != NULL};
    kc_cellmap_unkey(key, &d.key);
    if (stored)
        d.stored = *stored;
    if (re)
        d.recomputed = *re;
    c->diffs++;
    if (c->fn)
        c->fn(&d, c->ctx);
}

/* Recomputed cells with keys below `upto` that the store does not have. */
static void s_only_recomputed(s_cmp_t *c, uint64_t upto)
{
    kc_cellmap_entry_t *e;
    while (c->next < c->nkeys && (e = kc_cellmap_sorted(&c->r->cells, c->next))->key < upto) {
        c->next++;
        c->cells++;
        s_diff(c, e->key, NULL, s_result(c->r, e));
    }
}

static int s_cmp_stored(const kc_cell_key_t *key, const kc_cell_t *cell, void *ctx)
{
    s_cmp_t *c = ctx;
    uint64_t k = kc_cellmap_key(key);
    s_only_recomputed(c, k);
    c->cells++;
    kc_cellmap_entry_t *e = c->next < c->nkeys ? kc_cellmap_sorted(&c->r->cells, c->next) : NULL;
    if (e && e->key == k) {
        const kc_cell_t *re = s_result(c->r, e);
        c->next++;
        if (!s_cell_eq(cell, re))
            s_diff(c, k, cell, re);
    } else {
        s_diff(c, k, cell, NULL);
    }
    return 0;
}

int kc_replay_compare(const kc_replay_t *r, kc_txn_t *t,
                      void (*fn)(const kc_replay_diff_t *d, void *ctx), void *ctx, uint64_t *ncells,
                      uint64_t *ndiff)
{
    if (!r || !t)
        return KC_EINVAL;
    s_cmp_t c = {.r = r, .nkeys = kc_cellmap_count(&r->cells), .fn = fn, .ctx = ctx};
    int rc = s_sort(r);
    if (rc != 0)
        return rc;
    rc = kc_txn_totals_scan(t, NULL, NULL, s_cmp_stored, &c);
    if (rc == 0)
        s_only_recomputed(&c, UINT64_MAX);
    if (ncells)
        *ncells = c.cells;
    if (ndiff)
        *ndiff = c.diffs;
    return rc;
}
