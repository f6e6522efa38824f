/* kc_cells.h - add up totals cells of the store under the tools' filters.
 *
 * DESIGN
 * The store keeps running totals in cells keyed (year, month, province,
 * activity, kind, fund), sorted in that order, so the cells of one year and a
 * months range are one contiguous range scan (kc_txn_totals_scan). Every other
 * filter is applied per cell while scanning:
 *   - province and region filters form one union: a cell passes if no
 *     province/region filter is given, or its unit is one of the provinces,
 *     or its unit's region is one of the regions;
 *   - the unit of a cell is its province code as read under the scheme of the
 *     cell's period (units 0, "native"), or, with units 34, the scheme-34 unit:
 *     a scheme-63 province is replaced by its 2025 successor
 *     (kc_province_t.successor), so that years across the 2025-07 merger
 *     compare on the same units;
 *   - region membership is kc_ref_region_of(code, yyyymm) of the cell's own
 *     period; with units 34 it is the successor's scheme-34 region
 *     (kc_ref_region_of(unit, max(yyyymm, 202507)));
 *   - activity and fund filters are sets (empty = all); kind is one value.
 * Sums use checked int64 arithmetic: KC_EOVERFLOW rather than a wrong total.
 */
#ifndef KC_CELLS_H
#define KC_CELLS_H

#include "kc_store.h"

#include <stdbool.h>
#include <stdint.h>

#define KC_CELLS_MAX_SEL 64  /* provinces or regions in one filter */
#define KC_CELLS_ROWS    256 /* row slots of a grouped sum */
#define KC_CELLS_MERGER  202507

typedef enum { KC_BY_NONE = 0, KC_BY_PROVINCE, KC_BY_ACTIVITY, KC_BY_MONTH } kc_by_t;

typedef struct {
    const char *regions[KC_CELLS_MAX_SEL]; /* borrowed region names */
    size_t n_regions;
    uint8_t provinces[KC_CELLS_MAX_SEL]; /* unit codes (scheme-34 codes with units 34) */
    size_t n_provinces;
    bool activity[256]; /* by kc_activity_t.id; all false = every activity */
    bool fund[4];       /* by fund 1..3; all false = every fund */
    int units;          /* 0 native, or 34 */
    kc_by_t by;         /* grouping of kc_cells_sum's rows */
} kc_cells_filter_t;

typedef struct {
    uint64_t events;            /* accepted event records */
    int64_t m[KC_METRIC_COUNT]; /* index kc_metric_t */
} kc_totals_t;

typedef struct {
    kc_totals_t total;
    bool used[KC_CELLS_ROWS];       /* a cell fell into this row */
    kc_totals_t row[KC_CELLS_ROWS]; /* see kc_cells_row_* for the index */
} kc_cells_result_t;

/* Zero *f (no filter, native units, no grouping). */
void kc_cells_filter_init(kc_cells_filter_t *f);

/* Add up, into *out (zeroed first), the cells of `year`, months
 * m_from..m_to, kind `kind` (1 actual, 2 plan) that pass f, grouped into rows
 * by f->by. Returns 0, KC_EOVERFLOW, KC_EINVAL or an error of the store. */
int kc_cells_sum(kc_txn_t *txn, const kc_cells_filter_t *f, int year, int m_from, int m_to,
                 int kind, kc_cells_result_t *out);

/* Row index helpers. Province rows: scheme-63 codes at code, scheme-34 codes
 * at 100 + code. Activity rows: kc_activity_t.id. Month rows: the month. */
int kc_cells_row_of_province(int scheme, int code);
/* Scheme and code of a province row; returns 0 or KC_EINVAL. */
int kc_cells_province_of_row(int row, int *scheme, int *code);

/* The unit a cell's province counts under (see DESIGN) and its scheme. */
int kc_cells_unit(int units, int code, int32_t yyyymm, int *unit_scheme);

#endif
