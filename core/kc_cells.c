/* kc_cells.c - add up totals cells of the store under the tools' filters. */
#include "kc_cells.h"

#include "kc_cellmap.h"
#include "kc_checkpoint.h"
#include "kc_err.h"
#include "kc_ledger.h"
#include "kc_log.h"
#include "kc_replay.h"

#include <stdlib.h>
#include <string.h>

void kc_cells_filter_init(kc_cells_filter_t *f)
{
    memset(f, 0, sizeof *f);
}

int kc_cells_row_of_province(int scheme, int code)
{
    return (scheme == 34 ? 100 : 0) + code;
}

int kc_cells_province_of_row(int row, int *scheme, int *code)
{
    if (row <= 0 || row >= 200)
        return KC_EINVAL;
    *scheme = row >= 100 ? 34 : 63;
    *code = row % 100;
    return 0;
}

int kc_cells_unit(int units, int code, int32_t yyyymm, int *unit_scheme)
{
    int scheme = kc_ref_scheme_for(yyyymm);
    if (units == 34 && scheme == 63) {
        const kc_province_t *p = kc_ref_province(63, code);
        if (p && p->successor) {
            *unit_scheme = 34;
            return p->successor;
        }
    }
    *unit_scheme = scheme;
    return code;
}

/* What the place filter decided for one province code in the month being
 * scanned. Cells come in key order (year, month, province, ...): every cell of
 * a province-month shares the decision, so it is made once per code and month. */
typedef struct {
    int8_t state; /* 0 not yet decided this month, 1 in, -1 out */
    uint8_t unit, scheme;
} s_place_t;

typedef struct {
    const kc_cells_filter_t *f;
    int kind;
    bool any_activity, any_fund, any_place;
    kc_cells_result_t *out;
    int32_t cache_ym;     /* the month s_place describes (0 = none yet) */
    s_place_t place[256]; /* by province code */
} s_scan_t;

/* 128-bit: cannot overflow (kc_cells.h, DESIGN - exact sums). */
static void s_add(kc_totals_t *t, const kc_cell_t *c)
{
    for (int i = 0; i < KC_METRIC_COUNT; i++)
        t->m[i] += c->m[i];
    t->events += c->events;
}

static bool s_place_ok(const s_scan_t *s, int unit, int unit_scheme, int32_t yyyymm)
{
    const kc_cells_filter_t *f = s->f;
    if (s->any_place)
        return true;
    for (size_t i = 0; i < f->n_provinces; i++)
        if (f->provinces[i] == unit &&
            (!f->province_scheme[i] || f->province_scheme[i] == unit_scheme))
            return true;
    if (f->n_regions == 0)
        return false;
    int32_t when = unit_scheme == 34 && yyyymm < KC_CELLS_MERGER ? KC_CELLS_MERGER : yyyymm;
    const char *region = kc_ref_region_of(unit, when);
    if (!region)
        return false;
    for (size_t i = 0; i < f->n_regions; i++)
        if (strcmp(f->regions[i], region) == 0)
            return true;
    return false;
}

static int s_cell(const kc_cell_key_t *k, const kc_cell_t *c, void *ctx)
{
    s_scan_t *s = ctx;
    const kc_cells_filter_t *f = s->f;
    if (k->kind != s->kind)
        return 0;
    if (!s->any_activity && !f->activity[k->activity])
        return 0;
    if (!s->any_fund && (k->fund > 3 || !f->fund[k->fund]))
        return 0;
    int32_t yyyymm = (int32_t)k->year * 100 + k->month;
    if (yyyymm != s->cache_ym) {
        memset(s->place, 0, sizeof s->place);
        s->cache_ym = yyyymm;
    }
    s_place_t *pl = &s->place[k->province];
    if (pl->state == 0) {
        int unit_scheme;
        int unit = kc_cells_unit(f->units, k->province, yyyymm, &unit_scheme);
        pl->unit = (uint8_t)unit;
        pl->scheme = (uint8_t)unit_scheme;
        pl->state = s_place_ok(s, unit, unit_scheme, yyyymm) ? 1 : -1;
    }
    if (pl->state < 0)
        return 0;
    int unit = pl->unit, unit_scheme = pl->scheme;
    s_add(&s->out->total, c);
    int row = -1;
    switch (f->by) {
    case KC_BY_PROVINCE: row = kc_cells_row_of_province(unit_scheme, unit); break;
    case KC_BY_ACTIVITY: row = k->activity; break;
    case KC_BY_MONTH: row = k->month; break;
    case KC_BY_NONE: break;
    }
    if (row >= 0 && row < KC_CELLS_ROWS) {
        s->out->used[row] = true;
        s_add(&s->out->row[row], c);
    }
    return 0;
}

int kc_cells_sum(kc_txn_t *txn, const kc_cells_filter_t *f, int year, int m_from, int m_to,
                 int kind, kc_cells_result_t *out)
{
    kc_cells_src_t src = {.txn = txn};
    return kc_cells_sum_src(&src, f, year, m_from, m_to, kind, out);
}

int kc_cells_sum_src(const kc_cells_src_t *src, const kc_cells_filter_t *f, int year, int m_from,
                     int m_to, int kind, kc_cells_result_t *out)
{
    memset(out, 0, sizeof *out);
    if (year < 0 || year > 0xFFFF || m_from < 1 || m_to > 12 || m_from > m_to)
        return KC_EINVAL;
    s_scan_t s = {.f = f, .kind = kind, .out = out, .any_activity = true, .any_fund = true};
    for (int i = 0; i < 256; i++)
        if (f->activity[i])
            s.any_activity = false;
    for (int i = 0; i < 4; i++)
        if (f->fund[i])
            s.any_fund = false;
    s.any_place = f->n_provinces == 0 && f->n_regions == 0;
    kc_cell_key_t lo = {.year = (uint16_t)year, .month = (uint8_t)m_from};
    kc_cell_key_t hi = {.year = (uint16_t)year,
                        .month = (uint8_t)m_to,
                        .province = 0xFF,
                        .activity = 0xFF,
                        .kind = 0xFF,
                        .fund = 0xFF};
    if (src->mem)
        return kc_cells_mem_scan(src->mem, &lo, &hi, s_cell, &s);
    return kc_txn_totals_scan(src->txn, &lo, &hi, s_cell, &s);
}

/* ---- the in-memory cell set: a kc_cellmap_t ---- */

struct kc_cells_mem {
    kc_cellmap_t map;
};

kc_cells_mem_t *kc_cells_mem_new(void)
{
    kc_cells_mem_t *m = calloc(1, sizeof *m);
    if (m)
        (void)kc_cellmap_init(&m->map, 0, 0);
    return m;
}

void kc_cells_mem_free(kc_cells_mem_t **mp)
{
    if (!mp || !*mp)
        return;
    kc_cellmap_fini(&(*mp)->map);
    free(*mp);
    *mp = NULL;
}

size_t kc_cells_mem_count(const kc_cells_mem_t *m)
{
    return kc_cellmap_count(&m->map);
}

int kc_cells_mem_put(kc_cells_mem_t *m, const kc_cell_key_t *key, const kc_cell_t *cell)
{
    return kc_cellmap_put(&m->map, kc_cellmap_key(key), cell);
}

int kc_cells_mem_apply(kc_cells_mem_t *m, const kc_cell_key_t *key,
                       const int64_t delta[KC_METRIC_COUNT], int64_t events)
{
    /* KC_EOVERFLOW: the cell may stay, at its old value (zero if new) */
    return kc_cellmap_apply(&m->map, kc_cellmap_key(key), events, delta, NULL);
}

typedef struct {
    int (*fn)(const kc_cell_key_t *key, const kc_cell_t *cell, void *ctx);
    void *ctx;
} s_mem_scan_t;

static int s_mem_scan_entry(kc_cellmap_entry_t *e, void *ctx)
{
    const s_mem_scan_t *s = ctx;
    kc_cell_key_t key;
    kc_cellmap_unkey(e->key, &key);
    kc_cell_t cell = e->cell; /* fn may not change the set: a copy */
    return s->fn(&key, &cell, s->ctx);
}

int kc_cells_mem_scan(kc_cells_mem_t *m, const kc_cell_key_t *lo, const kc_cell_key_t *hi,
                      int (*fn)(const kc_cell_key_t *key, const kc_cell_t *cell, void *ctx),
                      void *ctx)
{
    if (!m || !fn)
        return KC_EINVAL;
    kc_cell_key_t lo_k = lo ? *lo : kc_cell_key_min(), hi_k = hi ? *hi : kc_cell_key_max();
    s_mem_scan_t s = {fn, ctx};
    return kc_cellmap_scan(&m->map, kc_cellmap_key(&lo_k), kc_cellmap_key(&hi_k), s_mem_scan_entry,
                           &s);
}

/* ---- point in time: checkpoint + replay (DESIGN in kc_cells.h) ---- */

/* The ledger's view of the store just before log entry `at`. */
typedef struct {
    kc_txn_t *txn;
    uint64_t at;
} s_rewound_t;

static int s_rewound_identity(void *ctx, uint8_t unit, const char *event_id, size_t len,
                              kc_identity_t *out)
{
    const s_rewound_t *r = ctx;
    int rc = kc_txn_identity_get(r->txn, unit, event_id, len, out);
    if (rc != 0)
        return rc;
    if (out->offset >= r->at) { /* created by entry `at` or later */
        memset(out, 0, sizeof *out);
        return KC_ENOTFOUND;
    }
    if (out->state != KC_ID_LIVE && out->next >= r->at) { /* replaced later */
        out->state = KC_ID_LIVE;
        out->next = 0;
        out->next_unit = 0;
    }
    return 0;
}

static int s_rewound_event(void *ctx, uint64_t offset, const uint8_t **data, size_t *len)
{
    const s_rewound_t *r = ctx;
    if (offset >= r->at)
        return KC_ENOTFOUND;
    kc_log_entry_t e;
    int rc = kc_txn_log_get(r->txn, offset, &e);
    if (rc != 0)
        return rc;
    *data = e.event;
    *len = e.event_len;
    return 0;
}

typedef struct {
    kc_cells_mem_t *mem;
    s_rewound_t rw;
    kc_ledger_source_t src;
    kc_wire_decoder_t *dec;
    uint64_t end;         /* replay entries < end */
    uint64_t received_ns; /* of the last entry replayed */
    kc_ledger_effect_t eff;
} s_replay_t;

static int s_load_cell(const kc_cell_key_t *key, const kc_cell_t *cell, void *ctx)
{
    return kc_cells_mem_put(ctx, key, cell);
}

static int s_replay_entry(const kc_log_entry_t *e, void *ctx)
{
    s_replay_t *r = ctx;
    if (e->offset >= r->end)
        return 1; /* done */
    r->rw.at = e->offset;
    /* the replay core's step (kc_replay.h): decode, the ledger's effect
     * against the rewound store, checked cell additions (KC_EOVERFLOW) */
    int stage;
    size_t cell;
    int rc = kc_replay_step(r->dec, &r->src, e->event, e->event_len, e->offset, &r->eff,
                            &r->mem->map, &stage, &cell);
    if (stage == KC_REPLAY_STEP_DECODE)
        kc_error("as-of replay: log entry %llu is not a decodable event",
                 (unsigned long long)e->offset);
    else if (stage == KC_REPLAY_STEP_REASON)
        kc_error("as-of replay: log entry %llu no longer counts (%s: %s)",
                 (unsigned long long)e->offset, kc_reason_name(r->eff.reason), r->eff.text);
    if (rc != 0)
        return rc;
    r->received_ns = e->received_ns;
    return 0;
}

int kc_cells_asof(kc_txn_t *txn, uint64_t n, unsigned flags, kc_cells_mem_t **out,
                  kc_cells_asof_t *info)
{
    if (!out)
        return KC_EINVAL;
    *out = NULL;
    if (!txn)
        return KC_EINVAL;
    kc_cells_asof_t st = {0};
    int rc = kc_txn_log_size(txn, &st.log_size);
    if (rc != 0)
        return rc;
    st.offset = n < st.log_size ? n : st.log_size;
    kc_checkpoint_t cp = {0};
    if (!(flags & KC_CELLS_ASOF_NO_CHECKPOINTS)) {
        rc = kc_txn_checkpoint_find(txn, st.offset, &cp);
        if (rc == KC_ENOTFOUND)
            memset(&cp, 0, sizeof cp);
        else if (rc != 0)
            return rc;
    }
    s_replay_t *r = calloc(1, sizeof *r);
    kc_cells_mem_t *mem = kc_cells_mem_new();
    if (!r || !mem || kc_wire_decoder_new(&r->dec) != 0) {
        if (r)
            kc_wire_decoder_free(&r->dec);
        free(r);
        kc_cells_mem_free(&mem);
        return KC_ENOMEM;
    }
    rc = 0;
    if (cp.size > 0)
        rc = kc_txn_checkpoint_scan(txn, cp.size, s_load_cell, mem);
    st.checkpoint = cp.size;
    st.replayed = st.offset - cp.size;
    r->mem = mem;
    r->rw.txn = txn;
    r->src = (kc_ledger_source_t){
        .identity_get = s_rewound_identity, .event_get = s_rewound_event, .ctx = &r->rw};
    r->end = st.offset;
    r->received_ns = cp.received_ns;
    if (rc == 0 && st.replayed > 0) {
        rc = kc_txn_log_scan(txn, cp.size, s_replay_entry, r);
        if (rc == 1)
            rc = 0;
    }
    st.received_ns = st.offset ? r->received_ns : 0;
    kc_wire_decoder_free(&r->dec);
    free(r);
    if (rc != 0) {
        kc_cells_mem_free(&mem);
        return rc;
    }
    if (info)
        *info = st;
    *out = mem;
    return 0;
}
