/* kc_apply.c - one group commit: decode, validate, de-duplicate, count, ack.
 *
 * The rules are in kc_apply.h (DESIGN). Layout: the group holds one s_msg_t
 * per received message (its decoded Batch and the Ack being built) and, while
 * a run is in progress, one s_prod_t per producer seen in the group (the hwm
 * cache, written back once at the end of the run).
 */
#include "kc_apply.h"

#include "kc_arena.h"
#include "kc_cellmap.h"
#include "kc_checkpoint.h"
#include "kc_ledger.h"
#include "kc_period.h"

#include "kc_err.h"
#include "kc_log.h"
#include "kc_text.h"
#include "kc_time.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_TEXT_MAX 256

/* One Result of an Ack (a duplicate or a rejection). */
typedef struct {
    bool has_seq;                       /* false for an event without a usable seq */
    uint64_t seq;                       /* its sequence number */
    int reason;                         /* kcpipe.v1.Reason */
    bool has_event_id;                  /* the event carried an event_id */
    char event_id[KC_EVENT_ID_MAX + 1]; /* copy, cut to 64 bytes */
    char text[S_TEXT_MAX];              /* English explanation */
    bool fresh;                         /* decided in this commit (log it), not a re-ack */
} s_result_t;

/* One event of a Batch decoded and checked at kc_apply_add() time, before the
 * run (in the daemon, while the previous group commits): none of it needs the
 * store. Lives in the group's arena until kc_apply_reset(). */
typedef struct {
    kc_pb_event_t *ev;         /* the decoded Event; NULL: undecodable */
    bool admitted;             /* kc_event_admit() said REASON_OK (else s_process words why) */
    int reason;                /* kc_event_check() (REASON_OK: view is valid) */
    bool hashed;               /* hash = kc_event_content_hash(ev, &view) (a valid record) */
    uint8_t hash[KC_HASH_LEN]; /* its content hash */
    kc_event_view_t view;      /* the checked values (borrowing from ev) */
} s_pre_t;

/* One received message and its answer. */
typedef struct {
    kc_pb_batch_t *batch;          /* decoded Batch (in the group's arena); NULL if refused */
    s_pre_t *pre;                  /* its first npre events, decoded ahead (in the arena) */
    size_t npre;                   /* 0..n_events: the rest is decoded during the run */
    int status;                    /* kcpipe.v1.Status */
    char error[S_TEXT_MAX];        /* Ack.error; "" for none */
    bool has_acked;                /* acked_from/acked_to are set */
    uint64_t acked_from, acked_to; /* first and last seq acknowledged */
    bool has_committed;            /* committed_seq is set */
    uint64_t committed_seq;        /* producer's hwm after this batch */
    uint64_t resend_from;          /* 0 or where the producer must resume */
    bool fenced;                   /* epoch older than the producer's current one */
    uint64_t epoch;                /* the epoch the Ack's seqs belong to */
    s_result_t *res;               /* results, in seq order */
    size_t nres, capres;
    kc_pb_ack_t ack;         /* built by s_pack() */
    kc_pb_result_t *pbres;   /* nres Result messages for ack */
    kc_pb_result_t **pbresp; /* pointers to them */
    uint8_t *packed;         /* packed ack */
    size_t packed_len;
    bool granted;            /* came over an authenticated connection: check provinces */
    uint64_t provinces[2];   /* the grant's provinces (kc_apply_grant_t) */
    bool any_province;       /* the grant allows every province */
    const char *sec_id;      /* security message id for the refusal's log line, or NULL */
    size_t nevents;          /* events the Batch carried (metrics) */
    uint64_t spool_last_seq; /* Batch.spool_last_seq; 0 = not reported */
} s_msg_t;

/* Cached transport state of one producer during a run. */
typedef struct {
    const char *id;         /* borrowed from a Batch of the group */
    kc_producer_state_t st; /* as it will be written back */
} s_prod_t;

/* The totals of a run: every cell the run's events touched, with its absolute
 * value, in a cell map (kc_cellmap.h; entries in order of first touch). A cell
 * is read from the store at its first touch; accepted events change it in
 * memory only (kc_ledger_apply_cells, with kc_txn_totals_apply's checks); the
 * cells they changed (the map's dirty list, in the order of their first
 * change) are written once at the end of the run. Rebuilt by every run. */
typedef struct {
    kc_cellmap_t map; /* KC_CELLMAP_DIRTY */
    kc_txn_t *txn;    /* the run's transaction (first-touch reads) */
} s_totals_t;

/* The changes of a run (the live feed): the totals cells that accepted events
 * changed (from s_totals_t, after the run), and the province units that
 * reported, indexed by unit key. Rebuilt by every run. */
typedef struct {
    bool track_cells;      /* capture cells (the feed is on) */
    kc_feed_cell_t *cells; /* the changed cells with their absolute values after the run */
    size_t ncells, capcells;
    bool unit_seen[256];          /* unit touched in this run */
    kc_unit_state_t unit_st[256]; /* its state as it will be written back */
    kc_feed_unit_t units[256];    /* after the run: the touched units, in touch order */
    uint8_t unit_order[256];      /* touch order */
    size_t nunits;
    uint64_t prev_seq, seq; /* log size before and after the run */
    bool valid;             /* the last commit succeeded: the changes are final */
} s_changes_t;

struct kc_apply {
    s_msg_t *msgs; /* received messages, in arrival order */
    size_t n, cap;
    size_t events;   /* events carried by msgs */
    s_prod_t *prods; /* producers seen in the current run */
    size_t nprods, capprods;
    uint64_t now_ns;           /* received_ns for the log entries of a run */
    uint64_t checkpoint_every; /* take a checkpoint when a run crosses a multiple; 0 = never */
    kc_agg_counters_t delta;   /* what the current/last run did */
    kc_ledger_effect_t effect; /* scratch: the effect of the event being processed */
    bool committed;            /* Acks are final (commit returned or failed) */
    s_changes_t ch;            /* cells and units changed by the current/last run */
    s_totals_t tot;            /* the totals cells of the current run */
    kc_arena_t arena;          /* decoded Batches (until reset), each Event (while processed) */
};

kc_apply_t *kc_apply_new(void)
{
    kc_apply_t *self = calloc(1, sizeof(kc_apply_t));
    if (self) {
        self->checkpoint_every = KC_CHECKPOINT_EVERY_DEFAULT;
        (void)kc_cellmap_init(&self->tot.map, 0, KC_CELLMAP_DIRTY);
    }
    return self;
}

void kc_apply_set_checkpoint_every(kc_apply_t *self, uint64_t every)
{
    self->checkpoint_every = every;
}

static void s_msg_clear_answer(s_msg_t *m)
{
    m->nres = 0;
    m->has_acked = false;
    m->acked_from = m->acked_to = 0;
    m->has_committed = false;
    m->committed_seq = 0;
    m->resend_from = 0;
    m->fenced = false;
    m->epoch = 0;
    free(m->pbres);
    free(m->pbresp);
    free(m->packed);
    m->pbres = NULL;
    m->pbresp = NULL;
    m->packed = NULL;
    m->packed_len = 0;
}

static void s_msg_free(s_msg_t *m)
{
    s_msg_clear_answer(m);
    free(m->res); /* m->batch lives in the group's arena */
    memset(m, 0, sizeof *m);
}

static void s_changes_clear(s_changes_t *c)
{
    c->ncells = 0;
    for (size_t i = 0; i < c->nunits; i++)
        c->unit_seen[c->unit_order[i]] = false;
    c->nunits = 0;
    c->prev_seq = c->seq = 0;
    c->valid = false;
}

static void s_totals_clear(s_totals_t *t)
{
    kc_cellmap_clear(&t->map);
    t->txn = NULL;
}

/* The run's entry for `key`, read from the store at its first touch. */
static int s_totals_find(s_totals_t *t, const kc_cell_key_t *key, kc_cellmap_entry_t **out)
{
    uint64_t k = kc_cellmap_key(key);
    kc_cellmap_entry_t *e = kc_cellmap_find(&t->map, k);
    if (e) {
        *out = e;
        return 0;
    }
    kc_cell_t cell;
    int rc = kc_txn_totals_get(t->txn, key, &cell); /* zeroed if not found */
    if (rc != 0 && rc != KC_ENOTFOUND)
        return rc;
    if ((rc = kc_cellmap_insert(&t->map, k, &e)) != 0)
        return rc;
    e->cell = cell;
    *out = e;
    return 0;
}

/* kc_ledger_cells_t over the run's table. */
static int s_totals_get(void *ctx, const kc_cell_key_t *key, kc_cell_t *out)
{
    kc_cellmap_entry_t *e;
    int rc = s_totals_find(ctx, key, &e);
    if (rc == 0)
        *out = e->cell;
    return rc;
}

static int s_totals_put(void *ctx, const kc_cell_key_t *key, const kc_cell_t *cell)
{
    s_totals_t *t = ctx;
    kc_cellmap_entry_t *e;
    int rc = s_totals_find(t, key, &e);
    if (rc != 0)
        return rc;
    e->cell = *cell;
    return kc_cellmap_mark(&t->map, e);
}

/* End of a run: write each changed cell once (before the checkpoint, which
 * reads the totals), and copy them for the feed if it is on. */
static int s_totals_finish(s_totals_t *t, s_changes_t *ch, kc_txn_t *txn)
{
    size_t ndirty = kc_cellmap_dirty_count(&t->map);
    for (size_t i = 0; i < ndirty; i++) {
        const kc_cellmap_entry_t *e = kc_cellmap_dirty_at(&t->map, i);
        kc_cell_key_t key;
        kc_cellmap_unkey(e->key, &key);
        int rc = kc_txn_totals_put(txn, &key, &e->cell);
        if (rc != 0)
            return rc;
    }
    if (!ch->track_cells)
        return 0;
    if (ndirty > ch->capcells) {
        kc_feed_cell_t *cells = realloc(ch->cells, ndirty * sizeof *cells);
        if (!cells)
            return KC_ENOMEM;
        ch->cells = cells;
        ch->capcells = ndirty;
    }
    for (size_t i = 0; i < ndirty; i++) {
        const kc_cellmap_entry_t *e = kc_cellmap_dirty_at(&t->map, i);
        ch->cells[i].cell = e->cell;
        kc_cellmap_unkey(e->key, &ch->cells[i].key);
    }
    ch->ncells = ndirty;
    return 0;
}

/* Note a report of `unit` by the event accepted at `offset` (state loaded from
 * the store on the unit's first report of the run). */
static int s_changes_unit(s_changes_t *c, kc_txn_t *txn, uint8_t unit, uint64_t offset,
                          uint64_t now_ns)
{
    if (unit == 0)
        return 0;
    kc_unit_state_t *st = &c->unit_st[unit];
    if (!c->unit_seen[unit]) {
        int rc = kc_txn_unit_get(txn, unit, st);
        if (rc != 0 && rc != KC_ENOTFOUND)
            return rc;
        c->unit_seen[unit] = true;
        c->unit_order[c->nunits++] = unit;
    }
    st->last_report_ns = now_ns;
    st->last_offset = offset;
    st->events++;
    return 0;
}

/* End of a run: write the units back. */
static int s_changes_finish(s_changes_t *c, kc_txn_t *txn)
{
    for (size_t i = 0; i < c->nunits; i++) {
        uint8_t u = c->unit_order[i];
        int rc = kc_txn_unit_put(txn, u, &c->unit_st[u]);
        if (rc != 0)
            return rc;
        c->units[i] = (kc_feed_unit_t){.unit = u, .st = c->unit_st[u]};
    }
    return 0;
}

void kc_apply_reset(kc_apply_t *self)
{
    if (!self)
        return;
    s_changes_clear(&self->ch);
    s_totals_clear(&self->tot);
    for (size_t i = 0; i < self->n; i++)
        s_msg_free(&self->msgs[i]);
    self->n = 0;
    self->events = 0;
    self->nprods = 0;
    self->committed = false;
    memset(&self->delta, 0, sizeof self->delta);
    kc_arena_reset(&self->arena); /* every decoded Batch at once */
}

void kc_apply_destroy(kc_apply_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    kc_apply_t *self = *self_p;
    kc_apply_reset(self);
    free(self->msgs);
    free(self->prods);
    free(self->ch.cells);
    kc_cellmap_fini(&self->tot.map);
    kc_arena_fini(&self->arena);
    free(self);
    *self_p = NULL;
}

size_t kc_apply_count(const kc_apply_t *self)
{
    return self->n;
}
size_t kc_apply_events(const kc_apply_t *self)
{
    return self->events;
}
const kc_agg_counters_t *kc_apply_delta(const kc_apply_t *self)
{
    return &self->delta;
}

void kc_agg_counters_add(kc_agg_counters_t *sum, const kc_agg_counters_t *d)
{
    sum->batches += d->batches;
    sum->bad_batches += d->bad_batches;
    sum->unavailable += d->unavailable;
    sum->events += d->events;
    sum->accepted += d->accepted;
    sum->duplicates += d->duplicates;
    sum->rejected += d->rejected;
    sum->resent += d->resent;
    sum->gaps += d->gaps;
    sum->unplaceable += d->unplaceable;
    sum->fenced += d->fenced;
    sum->commits += d->commits;
    for (int i = 0; i < KC_REASON_SLOTS; i++)
        sum->by_reason[i] += d->by_reason[i];
}

/* The bounded protobuf-c allocator of the decode path. A message of n bytes
 * may make protobuf-c allocate far more than n (a 2-byte repeated element
 * costs a 40-byte scan record and a 16-byte array slot; an unknown field is
 * kept with its own record), so each unpack gets a budget of 4n + 64 KiB of
 * cumulative allocations (the sizes protobuf-c asks for, whether or not it
 * frees them again), well above what any well-formed batch or event needs;
 * past it the allocation fails and the message is undecodable.
 * Blocks come from the group's arena (kc_arena.h): alloc is a pointer bump and
 * free does nothing, so no decoded message needs protobuf-c's free. A Batch
 * stays in the arena until kc_apply_reset(); an Event is released (the arena
 * rewound to the mark taken before its unpack) as soon as it has been
 * processed; a failed or refused unpack is rewound at once. What protobuf-c
 * frees inside a successful unpack (its scan records beyond the first 16
 * fields) stays in the arena until that rewind or reset: it is counted in the
 * budget, so a message never holds more than its budget. */
#define S_PB_SLACK     ((size_t)64 << 10)
#define S_PB_BUDGET(n) ((n) > (SIZE_MAX - S_PB_SLACK) / 4 ? SIZE_MAX : 4 * (n) + S_PB_SLACK)

typedef struct {
    kc_arena_t *arena;
    size_t left; /* bytes that may still be allocated */
} s_pb_budget_t;

static void *s_pb_alloc(void *ctx, size_t size)
{
    s_pb_budget_t *b = ctx;
    if (size > b->left)
        return NULL;
    b->left -= size; /* counted even if the arena fails: the unpack fails then anyway */
    return kc_arena_alloc(b->arena, size);
}

static void s_pb_free(void *ctx, void *p)
{
    (void)ctx;
    (void)p;
}

/* Unpack into the arena: NULL (and the arena back at `mark`, taken just
 * before) if the bytes are not a Batch or exceed the budget. */
static kc_pb_batch_t *s_unpack_batch(kc_arena_t *arena, kc_arena_mark_t mark, const void *data,
                                     size_t len)
{
    s_pb_budget_t b = {arena, S_PB_BUDGET(len)};
    ProtobufCAllocator a = {s_pb_alloc, s_pb_free, &b};
    kc_pb_batch_t *batch = kcpipe__v1__batch__unpack(&a, len, data);
    if (!batch)
        kc_arena_rewind(arena, mark);
    return batch;
}

/* The same for an Event; the caller rewinds to `mark` once done with it.
 * *spent (may be NULL): the bytes of budget the unpack used. */
static kc_pb_event_t *s_unpack_event(kc_arena_t *arena, kc_arena_mark_t mark, const void *data,
                                     size_t len, size_t *spent)
{
    s_pb_budget_t b = {arena, S_PB_BUDGET(len)};
    ProtobufCAllocator a = {s_pb_alloc, s_pb_free, &b};
    kc_pb_event_t *ev = kcpipe__v1__event__unpack(&a, len, data);
    if (!ev)
        kc_arena_rewind(arena, mark);
    if (spent)
        *spent = S_PB_BUDGET(len) - b.left;
    return ev;
}

/* Decoding ahead (kc_apply.h, DESIGN "decoding ahead"): the events of a Batch
 * of n bytes are decoded and checked at kc_apply_add() time while what they
 * take of the arena (the results array, at most half of it, and protobuf-c's
 * allocation requests) stays within S_PRE_BUDGET(n); the rest wait for the
 * run, which decodes them one at a time as it always did. Well-formed events
 * take about 10 x their encoded size (kc-apply-work's: 54 bytes on the wire,
 * ~345 bytes decoded + a 200-byte result); the budget only cuts in for
 * messages of many tiny events, so that no message can make a group hold more
 * than 16 x its size. */
#define S_PRE_BUDGET(n) ((n) > (SIZE_MAX - S_PB_SLACK) / 16 ? SIZE_MAX : 16 * (n) + S_PB_SLACK)
_Static_assert(sizeof(s_pre_t) <= 256, "s_pre_t stays small");
_Static_assert(S_TEXT_MAX == KC_LEDGER_TEXT_MAX, "a ledger text is copied whole");

/* Decode, check and (records) hash the events of m's Batch ahead of the run.
 * Stops at the first event that cannot be placed (undecodable, no seq: the
 * run stops there too), at the budget, or when out of memory (nothing lost:
 * the run decodes the rest). */
static void s_predecode(kc_apply_t *self, s_msg_t *m, size_t len)
{
    size_t n = m->batch->n_events, budget = S_PRE_BUDGET(len);
    if (n > budget / 2 / sizeof(s_pre_t)) /* the results take at most half of it */
        n = budget / 2 / sizeof(s_pre_t);
    if (n == 0)
        return;
    s_pre_t *pre = kc_arena_alloc(&self->arena, n * sizeof *pre);
    if (!pre)
        return;
    budget -= n * sizeof *pre;
    m->pre = pre;
    for (size_t k = 0; k < n && budget > 0; k++) {
        const ProtobufCBinaryData *b = &m->batch->events[k];
        kc_arena_mark_t mark = kc_arena_mark(&self->arena);
        size_t spent = 0;
        s_pre_t *p = &pre[k];
        p->ev = s_unpack_event(&self->arena, mark, b->data, b->len, &spent);
        p->hashed = false;
        if (!p->ev || !p->ev->has_seq || p->ev->seq == 0) {
            /* the run answers it (undecodable / missing_seq) and stops: it decodes
             * it again itself, so that out of memory here stays harmless */
            if (p->ev)
                kc_arena_rewind(&self->arena, mark);
            break;
        }
        budget -= spent < budget ? spent : budget;
        char text[KC_LEDGER_TEXT_MAX];
        /* the admission rules too, off the commit thread: a refusal is worded in s_process */
        p->admitted = kc_event_admit(p->ev, b->data, b->len, text, sizeof text) ==
                      KCPIPE__V1__REASON__REASON_OK;
        p->reason = kc_event_check(p->ev, &p->view, text, sizeof text);
        if (p->reason == KCPIPE__V1__REASON__REASON_OK && p->view.op == KCPIPE__V1__OP__OP_RECORD) {
            kc_event_content_hash(p->ev, &p->view, p->hash);
            p->hashed = true;
        }
        m->npre = k + 1;
    }
}

size_t kc_apply_arena_bytes(const kc_apply_t *self)
{
    return kc_arena_capacity(&self->arena);
}

uint64_t kc_apply_arena_mallocs(const kc_apply_t *self)
{
    return kc_arena_chunk_mallocs(&self->arena);
}

int kc_apply_add(kc_apply_t *self, const void *data, size_t len)
{
    return kc_apply_add_granted(self, data, len, NULL);
}

/* Refuse the batch of m for a security reason: it keeps no batch (the arena
 * goes back to `mark`, taken before its unpack), carries the security message
 * id for its log line. */
static void s_refuse(kc_apply_t *self, s_msg_t *m, const char *sec_id, kc_arena_mark_t mark)
{
    m->status = KCPIPE__V1__STATUS__STATUS_BAD_PRODUCER;
    m->sec_id = sec_id;
    self->events -= m->batch->n_events;
    m->batch = NULL;
    kc_arena_rewind(&self->arena, mark);
}

int kc_apply_add_granted(kc_apply_t *self, const void *data, size_t len,
                         const kc_apply_grant_t *grant)
{
    if (self->n == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 64;
        s_msg_t *msgs = realloc(self->msgs, cap * sizeof *msgs);
        if (!msgs)
            return KC_ENOMEM;
        self->msgs = msgs;
        self->cap = cap;
    }
    s_msg_t *m = &self->msgs[self->n];
    memset(m, 0, sizeof *m);
    m->status = KCPIPE__V1__STATUS__STATUS_OK;
    kc_arena_mark_t mark = kc_arena_mark(&self->arena);
    m->batch = s_unpack_batch(&self->arena, mark, data, len);
    if (!m->batch) {
        /* protobuf-c also returns NULL when out of memory; the peer then gets
         * "undecodable" for a batch that was fine, and resends it in vain:
         * acceptable, since the process is in trouble anyway. */
        m->status = KCPIPE__V1__STATUS__STATUS_UNDECODABLE;
        snprintf(m->error, sizeof m->error, "the message (%zu bytes) is not a kcpipe.v1.Batch",
                 len);
    } else {
        if (!kc_producer_id_ok(m->batch->producer_id, data, len, m->error, sizeof m->error)) {
            m->status = KCPIPE__V1__STATUS__STATUS_BAD_PRODUCER;
            m->batch = NULL;
            kc_arena_rewind(&self->arena, mark);
        } else {
            self->events += m->batch->n_events;
            m->nevents = m->batch->n_events;
            bool refused = false;
            m->spool_last_seq = m->batch->has_spool_last_seq ? m->batch->spool_last_seq : 0;
            if (grant) {
                m->granted = true;
                m->provinces[0] = grant->provinces[0];
                m->provinces[1] = grant->provinces[1];
                m->any_province = grant->any_province;
                const char *gid = grant->producer_id ? grant->producer_id : "";
                if (grant->revoked) {
                    snprintf(m->error, sizeof m->error,
                             "the key of producer '%.64s' was revoked after it connected; "
                             "batch for '%.64s' refused",
                             gid, m->batch->producer_id);
                    s_refuse(self, m, "KC-SEC-004", mark);
                    refused = true;
                } else if (strcmp(m->batch->producer_id, gid) != 0) {
                    snprintf(m->error, sizeof m->error,
                             "the batch's producer_id '%.64s' is not '%.64s', the producer id "
                             "registered for the key it was sent with",
                             m->batch->producer_id, gid);
                    s_refuse(self, m, "KC-SEC-002", mark);
                    refused = true;
                }
            }
            if (!refused)
                s_predecode(self, m, len);
        }
    }
    self->n++;
    return 0;
}

/* Whether the grant of m allows an event for `province`. */
static bool s_province_allowed(const s_msg_t *m, const char *province)
{
    if (!m->granted || m->any_province)
        return true;
    if (!province || strlen(province) != 2 || province[0] < '0' || province[0] > '9' ||
        province[1] < '0' || province[1] > '9')
        return false;
    int c = (province[0] - '0') * 10 + (province[1] - '0');
    return (m->provinces[c / 64] >> (c % 64)) & 1u;
}

static s_result_t *s_result_add(s_msg_t *m, bool has_seq, uint64_t seq, int reason,
                                const char *event_id, const char *text, bool fresh)
{
    if (m->nres == m->capres) {
        size_t cap = m->capres ? m->capres * 2 : 8;
        s_result_t *res = realloc(m->res, cap * sizeof *res);
        if (!res)
            return NULL;
        m->res = res;
        m->capres = cap;
    }
    s_result_t *r = &m->res[m->nres++];
    r->has_seq = has_seq;
    r->seq = seq;
    r->reason = reason;
    r->has_event_id = event_id && event_id[0];
    r->event_id[0] = '\0';
    /* an Ack carries valid UTF-8 only, whatever the event or an older store held:
     * both are shown in kc_text's display form, cut on a character boundary */
    if (r->has_event_id)
        kc_text_shows(event_id, r->event_id, sizeof r->event_id);
    kc_text_shows(text, r->text, sizeof r->text);
    r->fresh = fresh;
    return r;
}

/* The cached state of a producer, loaded from the store on first use. */
static int s_prod_get(kc_apply_t *self, kc_txn_t *txn, const char *id, s_prod_t **out)
{
    for (size_t i = 0; i < self->nprods; i++)
        if (strcmp(self->prods[i].id, id) == 0) {
            *out = &self->prods[i];
            return 0;
        }
    if (self->nprods == self->capprods) {
        size_t cap = self->capprods ? self->capprods * 2 : 16;
        s_prod_t *p = realloc(self->prods, cap * sizeof *p);
        if (!p)
            return KC_ENOMEM;
        self->prods = p;
        self->capprods = cap;
    }
    s_prod_t *p = &self->prods[self->nprods];
    p->id = id;
    int rc = kc_txn_producer_get(txn, id, &p->st);
    if (rc == KC_ENOTFOUND)
        memset(&p->st, 0, sizeof p->st);
    else if (rc != 0)
        return rc;
    self->nprods++;
    *out = p;
    return 0;
}

/* Acknowledge again an event whose seq was processed before (seq <= hwm). */
static int s_reack(s_msg_t *m, kc_txn_t *txn, const char *producer, uint64_t epoch,
                   const kc_pb_event_t *ev)
{
    int reason = 0;
    char text[S_TEXT_MAX];
    int rc = kc_txn_reject_get(txn, producer, epoch, ev->seq, &reason, text, sizeof text);
    if (rc == KC_ENOTFOUND)
        return 0; /* no record: it was accepted */
    if (rc != 0)
        return rc;
    if (!s_result_add(m, true, ev->seq, reason, ev->event_id, text, false))
        return KC_ENOMEM;
    return 0;
}

/* ---- the reporting cycle (core/kc_period.h, docs/CYCLE.md) ---- */

/* A cycle entry's period and the state it leads to. */
typedef struct {
    uint8_t unit;
    int32_t yyyymm;
    kc_period_state_t next;
} s_period_t;

typedef struct {
    const s_totals_t *tot;
    bool found;
} s_data_t;

static int s_data_fn(const kc_cell_key_t *key, const kc_cell_t *cell, void *ctx)
{
    s_data_t *d = ctx;
    /* the run's value of a cell it touched supersedes the store's */
    const kc_cellmap_entry_t *e = kc_cellmap_find(&d->tot->map, kc_cellmap_key(key));
    if ((e ? e->cell.events : cell->events) > 0) {
        d->found = true;
        return 1;
    }
    return 0;
}

/* Whether province code `code` has accepted data in yyyymm: a totals cell of
 * the period and province with events, as the run has it so far. */
static int s_has_data(const s_totals_t *tot, kc_txn_t *txn, int code, int32_t yyyymm, bool *out)
{
    kc_cell_key_t lo = {.year = (uint16_t)(yyyymm / 100),
                        .month = (uint8_t)(yyyymm % 100),
                        .province = (uint8_t)code};
    kc_cell_key_t hi = lo;
    hi.activity = hi.kind = hi.fund = UINT8_MAX;
    *out = false;
    for (size_t i = 0; i < kc_cellmap_count(&tot->map); i++) { /* cells new in this run */
        const kc_cellmap_entry_t *e = kc_cellmap_at(&tot->map, i);
        kc_cell_key_t k;
        kc_cellmap_unkey(e->key, &k);
        if (k.year == lo.year && k.month == lo.month && k.province == lo.province &&
            e->cell.events > 0) {
            *out = true;
            return 0;
        }
    }
    s_data_t d = {tot, false};
    int rc = kc_txn_totals_scan(txn, &lo, &hi, s_data_fn, &d);
    if (rc < 0)
        return rc;
    *out = d.found;
    return 0;
}

/* The current month in the aggregator's local time zone (TZ). */
static int32_t s_now_yyyymm(uint64_t now_ns)
{
    time_t t = (time_t)(now_ns / 1000000000u);
    struct tm tm;
    if (!localtime_r(&t, &tm))
        return INT32_MAX;
    return (int32_t)(tm.tm_year + 1900) * 100 + (int32_t)(tm.tm_mon + 1);
}

/* Whether the producer of m may approve or reopen: the centre (under CURVE a
 * key whose registry line grants every province; without CURVE the producer
 * id KC_CENTRE_PRODUCER). */
static bool s_is_centre(const s_msg_t *m)
{
    if (m->granted)
        return m->any_province;
    return strcmp(m->batch->producer_id, KC_CENTRE_PRODUCER) == 0;
}

/* Decide a sign-off, approval or reopen (checked by kc_event_check): who may,
 * then kc_period_decide on the stored state. */
static int s_cycle_decide(kc_apply_t *self, const s_msg_t *m, kc_txn_t *txn,
                          const kc_pb_event_t *ev, uint64_t offset, s_period_t *per, int *reason,
                          char *text, size_t cap)
{
    int code = kc_ref_parse_code(ev->province);
    int32_t yyyymm = (int32_t)ev->year * 100 + (int32_t)ev->month;
    bool sign_off = ev->op == KCPIPE__V1__OP__OP_SIGN_OFF;
    if (!sign_off && !s_is_centre(m)) {
        *reason = KCPIPE__V1__REASON__REASON_PROVINCE_NOT_AUTHORIZED;
        snprintf(text, cap, "only the centre may %s a period: producer '%.64s' is not the centre's",
                 ev->op == KCPIPE__V1__OP__OP_APPROVE ? "approve" : "reopen",
                 m->batch->producer_id);
        return 0;
    }
    per->unit = kc_ref_unit_key(code, yyyymm);
    per->yyyymm = yyyymm;
    kc_period_state_t cur;
    int rc = kc_txn_period_get(txn, per->unit, yyyymm, &cur);
    if (rc != 0 && rc != KC_ENOTFOUND)
        return rc;
    kc_period_op_t op = {.op = (uint8_t)ev->op,
                         .province = (uint8_t)code,
                         .yyyymm = yyyymm,
                         .now_yyyymm = s_now_yyyymm(self->now_ns),
                         .reason_len = ev->note ? strlen(ev->note) : 0,
                         .offset = offset,
                         .received_ns = self->now_ns};
    if (ev->op == KCPIPE__V1__OP__OP_APPROVE &&
        (rc = s_has_data(&self->tot, txn, code, yyyymm, &op.has_data)) != 0)
        return rc;
    rc = kc_period_decide(&cur, &op, &per->next, text, cap);
    if (rc < 0)
        return rc;
    *reason = rc;
    return 0;
}

/* period_locked if a cell the effect touches (a record's; a correction's old
 * and new; a retraction's target's) is of an approved (province, month). */
static int s_lock_check(kc_txn_t *txn, const kc_ledger_effect_t *eff, int *reason, char *text,
                        size_t cap)
{
    for (size_t i = 0; i < eff->ncells; i++) {
        const kc_cell_key_t *k = &eff->cells[i].key;
        int32_t yyyymm = (int32_t)k->year * 100 + k->month;
        kc_period_state_t st;
        int rc = kc_txn_period_get(txn, kc_ref_unit_key(k->province, yyyymm), yyyymm, &st);
        if (rc == KC_ENOTFOUND)
            continue;
        if (rc != 0)
            return rc;
        if ((*reason = kc_period_lock_check(&st, k->province, yyyymm, text, cap)) !=
            KCPIPE__V1__REASON__REASON_OK)
            return 0;
    }
    return 0;
}

/* Process the event at seq == hwm + 1: decide, store, count. */
static int s_process(kc_apply_t *self, s_msg_t *m, kc_txn_t *txn, s_prod_t *prod,
                     const kc_pb_event_t *ev, const s_pre_t *pre, const ProtobufCBinaryData *bytes)
{
    const char *producer = m->batch->producer_id;
    char text[S_TEXT_MAX];
    int reason;
    int rc;

    if (pre && pre->admitted) {
        reason = KCPIPE__V1__REASON__REASON_OK; /* admitted when it was decoded ahead */
    } else {
        reason = kc_event_admit(ev, bytes ? bytes->data : NULL, bytes ? bytes->len : 0, text,
                                sizeof text);
    }
    if (reason != KCPIPE__V1__REASON__REASON_OK) {
        /* invalid_text or value_too_large: new events only (kc_event.h) */
    } else if (!ev->producer_id || strcmp(ev->producer_id, producer) != 0) {
        reason = KCPIPE__V1__REASON__REASON_PRODUCER_MISMATCH;
        snprintf(text, sizeof text, "the event's producer_id '%.64s' is not the batch's '%s'",
                 ev->producer_id ? ev->producer_id : "", producer);
    } else if (!s_province_allowed(m, ev->province)) {
        reason = KCPIPE__V1__REASON__REASON_PROVINCE_NOT_AUTHORIZED;
        snprintf(text, sizeof text,
                 "producer '%s' is not authorized to report for province '%.8s' (registry)",
                 producer, ev->province ? ev->province : "");
    } else {
        reason = KCPIPE__V1__REASON__REASON_OK; /* the ledger runs kc_event_check() */
    }
    if (reason == KCPIPE__V1__REASON__REASON_OK) {
        /* the ledger decides what the event does (records, corrections, retractions) */
        uint64_t offset;
        if ((rc = kc_txn_log_size(txn, &offset)) != 0)
            return rc;
        kc_ledger_source_t src = kc_ledger_source_txn(txn);
        kc_ledger_effect_t *eff = &self->effect;
        /* checked (and a record hashed) ahead if it was decoded ahead and passed;
         * otherwise the ledger checks it (and words the reason) itself */
        if (pre && pre->reason == KCPIPE__V1__REASON__REASON_OK)
            rc = kc_ledger_effect_checked(&src, ev, &pre->view, pre->hashed ? pre->hash : NULL,
                                          offset, eff);
        else
            rc = kc_ledger_effect(&src, ev, offset, eff);
        if (rc != 0)
            return rc;
        reason = eff->reason;
        if (reason != KCPIPE__V1__REASON__REASON_OK) /* the text of an accepted event: unused */
            memcpy(text, eff->text, sizeof text);
        bool cycle = reason == KCPIPE__V1__REASON__REASON_OK && kc_op_is_cycle(eff->op);
        s_period_t per = {0};
        if (cycle)
            rc = s_cycle_decide(self, m, txn, ev, offset, &per, &reason, text, sizeof text);
        else if (reason == KCPIPE__V1__REASON__REASON_OK)
            rc = s_lock_check(txn, eff, &reason, text, sizeof text);
        if (rc != 0)
            return rc;
        if (reason == KCPIPE__V1__REASON__REASON_OK) {
            kc_ledger_cells_t cells = {s_totals_get, s_totals_put, &self->tot};
            rc = cycle ? kc_txn_period_put(txn, per.unit, per.yyyymm, &per.next)
                       : kc_ledger_apply_cells(txn, eff, &cells);
            if (rc == KC_EOVERFLOW) {
                const kc_cell_key_t *k = &eff->cells[eff->ncells - 1].key;
                const kc_activity_t *act = kc_ref_activity_by_id(k->activity);
                reason = KCPIPE__V1__REASON__REASON_TOTAL_OVERFLOW;
                snprintf(text, sizeof text,
                         "a running total of %04u-%02u province %02u %s would leave int64", k->year,
                         k->month, k->province, act ? act->code : "?");
            } else if (rc != 0) {
                return rc;
            } else {
                kc_log_entry_t e = {.received_ns = self->now_ns,
                                    .seq = ev->seq,
                                    .epoch = prod->st.epoch,
                                    .producer = producer,
                                    .producer_len = strlen(producer),
                                    .event = bytes->data,
                                    .event_len = bytes->len};
                uint64_t at;
                if ((rc = kc_txn_log_append(txn, &e, &at)) != 0)
                    return rc;
                if (at != offset) {
                    kc_error(
                        "KC-AGG-008 log append landed at offset %llu, the ledger expected %llu",
                        (unsigned long long)at, (unsigned long long)offset);
                    return KC_ESTORE;
                }
                self->delta.accepted++;
                prod->st.accepted++;
                if (eff->nidents > 0 && (rc = s_changes_unit(&self->ch, txn, eff->idents[0].unit,
                                                             offset, self->now_ns)) != 0)
                    return rc;
            }
        }
    }
    if (reason != KCPIPE__V1__REASON__REASON_OK) {
        /* the text as the Ack carries it (valid UTF-8: a '%.64s' may have cut a character) */
        s_result_t *r = s_result_add(m, true, ev->seq, reason, ev->event_id, text, true);
        if (!r)
            return KC_ENOMEM;
        /* with what an auditor filters by (kc_reject_t): the commit's time, the
         * province code and period if they parse, the event_id (cut at 64) */
        int code = ev->province ? kc_ref_parse_code(ev->province) : -1;
        bool per = ev->has_year && ev->has_month && ev->year >= 2000 && ev->year <= 2100 &&
                   ev->month >= 1 && ev->month <= 12;
        kc_reject_t rj = {.producer = producer,
                          .epoch = prod->st.epoch,
                          .seq = ev->seq,
                          .reason = reason,
                          .text = r->text,
                          .received_ns = self->now_ns,
                          .province = code > 0 ? (uint8_t)code : 0,
                          .period = per ? (int32_t)(ev->year * 100 + ev->month) : 0,
                          .event_id = r->has_event_id ? r->event_id : NULL};
        rc = kc_txn_reject_add(txn, &rj);
        if (rc != 0)
            return rc;
        if (reason == KCPIPE__V1__REASON__REASON_DUPLICATE) {
            self->delta.duplicates++;
            prod->st.duplicates++;
        } else {
            self->delta.rejected++;
            prod->st.rejected++;
        }
    }
    if (reason >= 0 && reason < KC_REASON_SLOTS)
        self->delta.by_reason[reason]++;
    self->delta.events++;
    prod->st.hwm = ev->seq;
    prod->st.last_seen_ns = self->now_ns;
    return 0;
}

static void s_acked(s_msg_t *m, uint64_t seq)
{
    if (!m->has_acked) {
        m->has_acked = true;
        m->acked_from = seq;
    }
    m->acked_to = seq;
}

/* Apply one message of the group (DESIGN steps 1-5 of kc_apply.h). */
static int s_apply_msg(kc_apply_t *self, s_msg_t *m, kc_txn_t *txn)
{
    self->delta.batches++;
    if (m->status != KCPIPE__V1__STATUS__STATUS_OK) {
        self->delta.bad_batches++;
        return 0;
    }
    const char *producer = m->batch->producer_id;
    s_prod_t *prod;
    int rc = s_prod_get(self, txn, producer, &prod);
    if (rc != 0)
        return rc;
    /* Spool epochs: a newer spool restarts the sequence; an older one is retired. */
    uint64_t epoch = m->batch->has_producer_epoch ? m->batch->producer_epoch : 0;
    if (epoch < prod->st.epoch) {
        m->fenced = true;
        snprintf(m->error, sizeof m->error,
                 "producer '%s' now sends from a newer spool (epoch %llu); this spool (epoch "
                 "%llu) is retired: send its events under another producer id",
                 producer, (unsigned long long)prod->st.epoch, (unsigned long long)epoch);
        self->delta.fenced++;
        return 0;
    }
    if (epoch > prod->st.epoch) {
        if (prod->st.hwm)
            kc_info("producer=%s: new spool epoch %llu (was %llu at seq %llu): sequence restarts",
                    producer, (unsigned long long)epoch, (unsigned long long)prod->st.epoch,
                    (unsigned long long)prod->st.hwm);
        prod->st.epoch = epoch;
        prod->st.hwm = 0;
    }
    m->epoch = epoch;
    size_t n = m->batch->n_events;
    uint64_t prev = 0;
    for (size_t k = 0; k < n; k++) {
        const ProtobufCBinaryData *b = &m->batch->events[k];
        kc_arena_mark_t mark = kc_arena_mark(&self->arena);
        const s_pre_t *pre = k < m->npre ? &m->pre[k] : NULL;
        kc_pb_event_t *ev =
            pre ? pre->ev : s_unpack_event(&self->arena, mark, b->data, b->len, NULL);
        char text[S_TEXT_MAX];
        if (!ev || !ev->has_seq || ev->seq == 0) {
            int reason = ev ? KCPIPE__V1__REASON__REASON_MISSING_SEQ
                            : KCPIPE__V1__REASON__REASON_UNDECODABLE;
            snprintf(text, sizeof text,
                     "event #%zu of the batch %s, so it cannot be placed in the producer's "
                     "sequence; it and the %zu events after it were not processed",
                     k, ev ? "has no seq (>= 1)" : "cannot be decoded", n - k - 1);
            s_result_t *r = s_result_add(m, false, 0, reason, ev ? ev->event_id : NULL, text, true);
            kc_arena_rewind(&self->arena, mark);
            if (!r)
                return KC_ENOMEM;
            self->delta.unplaceable++;
            if (reason < KC_REASON_SLOTS)
                self->delta.by_reason[reason]++;
            break;
        }
        uint64_t seq = ev->seq;
        uint64_t hwm = prod->st.hwm;
        if (k > 0 && seq != prev + 1) {
            snprintf(m->error, sizeof m->error,
                     "seq %llu follows seq %llu: the seqs of a batch must be consecutive; "
                     "resend from %llu",
                     (unsigned long long)seq, (unsigned long long)prev,
                     (unsigned long long)(hwm + 1));
            m->resend_from = hwm + 1;
            self->delta.gaps++;
            kc_arena_rewind(&self->arena, mark);
            break;
        }
        if (seq <= hwm) {
            rc = s_reack(m, txn, producer, prod->st.epoch, ev);
            self->delta.resent++;
        } else if (seq > hwm + 1) {
            snprintf(m->error, sizeof m->error,
                     "gap: seq %llu received, %llu expected; resend from %llu",
                     (unsigned long long)seq, (unsigned long long)(hwm + 1),
                     (unsigned long long)(hwm + 1));
            m->resend_from = hwm + 1;
            self->delta.gaps++;
            kc_arena_rewind(&self->arena, mark);
            break;
        } else {
            rc = s_process(self, m, txn, prod, ev, pre, b);
        }
        kc_arena_rewind(&self->arena, mark); /* the Event: nothing keeps a pointer into it */
        if (rc != 0)
            return rc;
        s_acked(m, seq);
        prev = seq;
    }
    m->has_committed = true;
    m->committed_seq = prod->st.hwm;
    return 0;
}

int kc_apply_run(kc_txn_t *txn, void *arg)
{
    kc_apply_t *self = arg;
    self->now_ns = kc_time_real_ns();
    /* received_ns never decreases along the log (kc_checkpoint.h: time -> log size),
     * even if the clock steps back: take the last entry's when it is later */
    uint64_t start;
    int src = kc_txn_log_size(txn, &start);
    if (src != 0)
        return src;
    if (start > 0) {
        kc_log_entry_t last;
        if ((src = kc_txn_log_get(txn, start - 1, &last)) != 0)
            return src;
        if (last.received_ns > self->now_ns)
            self->now_ns = last.received_ns;
    }
    /* a run starts from scratch: kc_store_write() may have aborted an earlier one */
    memset(&self->delta, 0, sizeof self->delta);
    self->nprods = 0;
    self->committed = false;
    s_changes_clear(&self->ch);
    s_totals_clear(&self->tot);
    self->tot.txn = txn;
    self->ch.prev_seq = start;
    for (size_t i = 0; i < self->n; i++) {
        s_msg_clear_answer(&self->msgs[i]);
        if (self->msgs[i].status == KCPIPE__V1__STATUS__STATUS_OK)
            self->msgs[i].error[0] = '\0';
    }
    for (size_t i = 0; i < self->n; i++) {
        int rc = s_apply_msg(self, &self->msgs[i], txn);
        if (rc != 0)
            return rc;
    }
    for (size_t i = 0; i < self->nprods; i++) {
        int rc = kc_txn_producer_put(txn, self->prods[i].id, &self->prods[i].st);
        if (rc != 0)
            return rc;
    }
    /* a checkpoint of the totals at the group's end if the group crossed a multiple of
     * checkpoint_every, in this same transaction (kc_checkpoint.h) */
    uint64_t end;
    if ((src = kc_txn_log_size(txn, &end)) != 0)
        return src;
    /* each changed totals cell written once (and kept for the feed), the units that
     * reported; before the checkpoint, which reads the totals */
    if ((src = s_totals_finish(&self->tot, &self->ch, txn)) != 0 ||
        (src = s_changes_finish(&self->ch, txn)) != 0)
        return src;
    self->ch.seq = end;
    if (self->checkpoint_every && end / self->checkpoint_every > start / self->checkpoint_every) {
        kc_checkpoint_t cp;
        int64_t t0 = kc_time_mono_ns();
        if ((src = kc_txn_checkpoint_put(txn, &cp)) != 0)
            return src;
        int64_t t1 = kc_time_mono_ns();
        kc_debug("checkpoint at log size %llu: %llu cells in %.3f ms", (unsigned long long)cp.size,
                 (unsigned long long)cp.cells, (double)(t1 - t0) / 1e6);
    }
    self->delta.commits = 1;
    return 0;
}

/* Build and pack the Ack of one message. */
static int s_pack(s_msg_t *m)
{
    kc_pb_ack_t *a = &m->ack;
    kcpipe__v1__ack__init(a);
    if (m->batch)
        a->producer_id = m->batch->producer_id;
    a->has_status = 1;
    a->status = m->fenced ? KCPIPE__V1__STATUS__STATUS_FENCED : (Kcpipe__V1__Status)m->status;
    a->has_producer_epoch = m->batch && !m->fenced && m->status == KCPIPE__V1__STATUS__STATUS_OK;
    a->producer_epoch = m->epoch;
    if (m->error[0])
        a->error = m->error;
    a->has_committed_seq = m->has_committed;
    a->committed_seq = m->committed_seq;
    a->has_acked_from = a->has_acked_to = m->has_acked;
    a->acked_from = m->acked_from;
    a->acked_to = m->acked_to;
    a->has_resend_from = m->resend_from != 0;
    a->resend_from = m->resend_from;
    if (m->nres) {
        m->pbres = calloc(m->nres, sizeof *m->pbres);
        m->pbresp = calloc(m->nres, sizeof *m->pbresp);
        if (!m->pbres || !m->pbresp)
            return KC_ENOMEM;
        for (size_t i = 0; i < m->nres; i++) {
            const s_result_t *r = &m->res[i];
            kc_pb_result_t *p = &m->pbres[i];
            kcpipe__v1__result__init(p);
            p->has_seq = r->has_seq;
            p->seq = r->seq;
            p->has_reason = 1;
            p->reason = (Kcpipe__V1__Reason)r->reason;
            p->text = (char *)r->text;
            if (r->has_event_id)
                p->event_id = (char *)r->event_id;
            m->pbresp[i] = p;
        }
        a->n_results = m->nres;
        a->results = m->pbresp;
    }
    m->packed_len = kcpipe__v1__ack__get_packed_size(a);
    m->packed = malloc(m->packed_len ? m->packed_len : 1);
    if (!m->packed)
        return KC_ENOMEM;
    kcpipe__v1__ack__pack(a, m->packed);
    return 0;
}

/* After a successful commit: one log line per newly decided non-accepted event. */
static void s_log_results(const kc_apply_t *self)
{
    for (size_t i = 0; i < self->n; i++) {
        const s_msg_t *m = &self->msgs[i];
        if (m->status != KCPIPE__V1__STATUS__STATUS_OK && m->sec_id) {
            kc_warn("%s batch refused (bad producer): %s", m->sec_id, m->error);
            continue;
        }
        if (m->status != KCPIPE__V1__STATUS__STATUS_OK) {
            bool undecodable = m->status == KCPIPE__V1__STATUS__STATUS_UNDECODABLE;
            kc_warn("%s batch refused (%s): %s", undecodable ? "KC-REJ-090" : "KC-REJ-091",
                    undecodable ? "undecodable" : "bad producer", m->error);
            continue;
        }
        const char *producer = m->batch->producer_id;
        if (m->fenced) {
            kc_warn("KC-REJ-092 producer=%s: batch refused (fenced): %s", producer, m->error);
            continue;
        }
        if (m->resend_from)
            kc_debug("producer=%s: %s", producer, m->error);
        for (size_t j = 0; j < m->nres; j++) {
            const s_result_t *r = &m->res[j];
            if (!r->fresh)
                continue;
            kc_log_level_t lvl =
                r->reason == KCPIPE__V1__REASON__REASON_DUPLICATE ? KC_LOG_DEBUG : KC_LOG_WARN;
            if (r->reason == KCPIPE__V1__REASON__REASON_PROVINCE_NOT_AUTHORIZED)
                kc_warn("KC-SEC-003 rejected producer=%s seq=%llu event_id=%s reason=%s: %s",
                        producer, (unsigned long long)r->seq, r->event_id,
                        kc_reason_name(r->reason), r->text);
            else if (r->has_seq)
                kc_log(lvl, "KC-REJ-%03d %s producer=%s seq=%llu event_id=%s reason=%s: %s",
                       (int)r->reason % 1000, lvl == KC_LOG_DEBUG ? "duplicate" : "rejected",
                       producer, (unsigned long long)r->seq, r->event_id, kc_reason_name(r->reason),
                       r->text);
            else
                kc_log(lvl, "KC-REJ-%03d rejected producer=%s seq=? event_id=%s reason=%s: %s",
                       (int)r->reason % 1000, producer, r->event_id, kc_reason_name(r->reason),
                       r->text);
        }
    }
}

/* Answer every message of the group as after a commit that failed with rc
 * (nothing stored): STATUS_UNAVAILABLE, or the refusal it already had. */
static void s_answer_failed(kc_apply_t *self, int rc)
{
    kc_error("KC-AGG-007 group commit of %zu batches failed: %s; answering unavailable", self->n,
             kc_strerror(rc));
    memset(&self->delta, 0, sizeof self->delta);
    for (size_t i = 0; i < self->n; i++) {
        s_msg_t *m = &self->msgs[i];
        s_msg_clear_answer(m);
        self->delta.batches++;
        if (m->status != KCPIPE__V1__STATUS__STATUS_OK) {
            self->delta.bad_batches++;
            continue;
        }
        m->status = KCPIPE__V1__STATUS__STATUS_UNAVAILABLE;
        snprintf(m->error, sizeof m->error, "the aggregator cannot commit now (%s); retry",
                 kc_strerror(rc));
        self->delta.unavailable++;
    }
    s_changes_clear(&self->ch);
}

/* The Acks of every message: final. */
static void s_pack_all(kc_apply_t *self)
{
    for (size_t i = 0; i < self->n; i++) {
        int prc = s_pack(&self->msgs[i]);
        if (prc != 0) {
            /* the commit is durable; the producer will resend and be re-acked */
            kc_error("cannot build ack %zu of %zu: %s", i, self->n, kc_strerror(prc));
            free(self->msgs[i].packed);
            self->msgs[i].packed = NULL;
        }
    }
    self->committed = true;
}

int kc_apply_commit(kc_apply_t *self, kc_store_t *store)
{
    int rc = 0;
    memset(&self->delta, 0, sizeof self->delta);
    if (self->n > 0)
        rc = kc_store_write(store, kc_apply_run, self);
    if (rc != 0) {
        s_answer_failed(self, rc);
    } else {
        s_log_results(self);
        self->ch.valid = true;
    }
    s_pack_all(self);
    return rc;
}

int kc_apply_fail(kc_apply_t *self, int rc)
{
    if (rc >= 0)
        return KC_EINVAL;
    memset(&self->delta, 0, sizeof self->delta);
    if (self->n > 0)
        s_answer_failed(self, rc);
    s_pack_all(self);
    return rc;
}

int kc_apply_ack(kc_apply_t *self, size_t i, const uint8_t **data, size_t *len)
{
    if (!self->committed || i >= self->n || !self->msgs[i].packed)
        return KC_EINVAL;
    *data = self->msgs[i].packed;
    *len = self->msgs[i].packed_len;
    return 0;
}

const kc_pb_ack_t *kc_apply_ack_msg(kc_apply_t *self, size_t i)
{
    if (!self->committed || i >= self->n || !self->msgs[i].packed)
        return NULL;
    return &self->msgs[i].ack;
}

void kc_apply_set_track_cells(kc_apply_t *self, bool on)
{
    self->ch.track_cells = on;
}

int kc_apply_changes(const kc_apply_t *self, kc_apply_changes_t *out)
{
    memset(out, 0, sizeof *out);
    const s_changes_t *c = &self->ch;
    if (!self->committed || !c->valid)
        return KC_EINVAL;
    out->cells = c->cells;
    out->ncells = c->ncells;
    out->units = c->units;
    out->nunits = c->nunits;
    out->prev_seq = c->prev_seq;
    out->seq = c->seq;
    out->time_ns = self->now_ns;
    out->cells_tracked = c->track_cells;
    return 0;
}

int kc_apply_msg_info(const kc_apply_t *self, size_t i, kc_apply_msg_info_t *out)
{
    memset(out, 0, sizeof *out);
    if (i >= self->n)
        return KC_EINVAL;
    const s_msg_t *m = &self->msgs[i];
    /* NULL: undecodable; "": refused (bad producer, fenced) or not committed, so that
     * only producers whose Batch was processed are remembered by the metrics */
    if (m->status == KCPIPE__V1__STATUS__STATUS_UNDECODABLE)
        out->producer_id = NULL;
    else if (m->status == KCPIPE__V1__STATUS__STATUS_OK && !m->fenced && m->batch &&
             m->batch->producer_id)
        out->producer_id = m->batch->producer_id;
    else
        out->producer_id = "";
    out->events = m->nevents;
    out->spool_last_seq = m->spool_last_seq;
    return 0;
}
