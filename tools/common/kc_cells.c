/* kc_cells.c - add up totals cells of the store under the tools' filters. */
#include "kc_cells.h"

#include "kc_err.h"

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

typedef struct {
    const kc_cells_filter_t *f;
    int kind;
    bool any_activity, any_fund, any_place;
    kc_cells_result_t *out;
} s_scan_t;

static int s_add(kc_totals_t *t, const kc_cell_t *c)
{
    kc_totals_t n = *t;
    for (int i = 0; i < KC_METRIC_COUNT; i++)
        if (__builtin_add_overflow(n.m[i], c->m[i], &n.m[i]))
            return KC_EOVERFLOW;
    if (__builtin_add_overflow(n.events, c->events, &n.events))
        return KC_EOVERFLOW;
    *t = n;
    return 0;
}

static bool s_place_ok(const s_scan_t *s, int unit, int unit_scheme, int32_t yyyymm)
{
    const kc_cells_filter_t *f = s->f;
    if (s->any_place)
        return true;
    for (size_t i = 0; i < f->n_provinces; i++)
        if (f->provinces[i] == unit)
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
    int unit_scheme;
    int unit = kc_cells_unit(f->units, k->province, yyyymm, &unit_scheme);
    if (!s_place_ok(s, unit, unit_scheme, yyyymm))
        return 0;
    int rc = s_add(&s->out->total, c);
    if (rc)
        return rc;
    int row = -1;
    switch (f->by) {
    case KC_BY_PROVINCE: row = kc_cells_row_of_province(unit_scheme, unit); break;
    case KC_BY_ACTIVITY: row = k->activity; break;
    case KC_BY_MONTH: row = k->month; break;
    case KC_BY_NONE: break;
    }
    if (row >= 0 && row < KC_CELLS_ROWS) {
        s->out->used[row] = true;
        rc = s_add(&s->out->row[row], c);
    }
    return rc;
}

int kc_cells_sum(kc_txn_t *txn, const kc_cells_filter_t *f, int year, int m_from, int m_to,
                 int kind, kc_cells_result_t *out)
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
    return kc_txn_totals_scan(txn, &lo, &hi, s_cell, &s);
}
