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
 *
 * DESIGN - exact sums (issue 12)
 * A cell is int64 per metric (and a uint64 event count), but a sum of cells
 * is not: one province may hold 2^63-1 in a cell and another 5 in a cell of
 * the same year. Sums are therefore kept in 128-bit integers (kc_totals_t,
 * kc_i128.h) and never fail; every view (kc-query's table, CSV and JSON,
 * kc-report, kc-watch, /v1/totals and the dashboard) prints them exactly.
 * The bound, from the key's field widths (store/kc_store.h: year u16; month,
 * province, activity, kind and fund one byte each):
 *   - every cell is within [0, 2^63-1] per metric: the ledger refuses an
 *     event that would take a cell outside int64 (total_overflow) and a
 *     negative metric (negative_value); stores written by older versions
 *     hold the same invariant. The bound below needs only |cell| <= 2^63,
 *     true of any int64, so it holds whatever a store holds;
 *   - one sum (kc_cells_sum_src) reads the cells of one year, months
 *     m_from..m_to within 1..12 and one kind: at most 12 x 256 provinces x
 *     256 activities x 256 fund bytes = 3 x 2^26 < 2^28 cells (the fund byte
 *     counted at its full width, not at the 4 values the rules allow);
 *   - so a metric's sum has |sum| < 2^28 x 2^63 = 2^91, and an event count's
 *     sum < 2^28 x 2^64 = 2^92;
 *   - a difference of two sums (--compare) is < 2^93, and scaled by 10000
 *     for hundredths of a percent (kc_fmt.h, kc_qry.c) < 2^93 x 2^14 = 2^107
 *     < 2^127: percentages of plan and changes are computed exactly too.
 * Even every cell the 7-byte key can name (2^56 keys) adds up to less than
 * 2^56 x 2^64 = 2^120. (docs/LEDGER.md counts only the key values the ledger
 * files events under, < 2^18 cells a view; the bound here assumes nothing of
 * a store's keys.) Only the in-memory cells of kc_cells_mem_t (as-of, the
 * feed client) stay int64 per cell and checked, exactly as the ledger's store
 * cells are: they mirror store cells, they are not sums.
 *
 * DESIGN - point in time (kc-query --as-of, issue 3 part 6)
 * The same sums run over a cell source: the store's live totals, or an
 * in-memory cell set (kc_cells_mem_t) holding the totals as they stood after
 * the first N log entries, built by kc_cells_asof():
 *   1. the latest checkpoint with size S <= N (kc_checkpoint.h), or empty
 *      totals at S = 0, is loaded into the set;
 *   2. log entries S..N-1 are replayed in offset order through the ledger
 *      (kc_ledger_effect), and each effect's cell deltas are added to the set:
 *      kc_replay_step, the step of the store replay itself (kc_replay.h).
 * The ledger reads identities through a "rewound" source: the identity
 * records of the current snapshot as they stood before entry X. That view is
 * exact because identity records only change in two ways: created at their
 * own offset (so one with offset >= X does not exist yet: KC_ENOTFOUND), and
 * made superseded/retracted by the version at `next` (so one with next >= X
 * is still live: state live, next 0). Everything else in a record (offset,
 * hash, op, kind, prev) is fixed when it is created, and log entries never
 * change. Every logged event was accepted in log order, so every replayed
 * effect must be REASON_OK; anything else is KC_EFORMAT (log and rules
 * disagree). The result is therefore the live totals at N, cell for cell,
 * including cells that a correction brought back to zero.
 */
#ifndef KC_CELLS_H
#define KC_CELLS_H

#include "kc_i128.h"
#include "kc_store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KC_CELLS_MAX_SEL 64  /* provinces or regions in one filter */
#define KC_CELLS_ROWS    256 /* row slots of a grouped sum */
#define KC_CELLS_MERGER  202507

typedef enum { KC_BY_NONE = 0, KC_BY_PROVINCE, KC_BY_ACTIVITY, KC_BY_MONTH } kc_by_t;

typedef struct {
    const char *regions[KC_CELLS_MAX_SEL]; /* borrowed region names */
    size_t n_regions;
    uint8_t provinces[KC_CELLS_MAX_SEL]; /* unit codes (scheme-34 codes with units 34) */
    /* 0: the code under any scheme (a code given as such); 63 or 34: only
     * under that scheme (a province given by name: "Long An" is 80 of scheme
     * 63, never 80 Tây Ninh of scheme 34) */
    uint8_t province_scheme[KC_CELLS_MAX_SEL];
    size_t n_provinces;
    bool activity[256]; /* by kc_activity_t.id; all false = every activity */
    bool fund[4];       /* by fund 1..3; all false = every fund */
    int units;          /* 0 native, or 34 */
    kc_by_t by;         /* grouping of kc_cells_sum's rows */
} kc_cells_filter_t;

/* A sum of cells: 128-bit, exact (DESIGN - exact sums). */
typedef struct {
    kc_i128 events;             /* accepted event records */
    kc_i128 m[KC_METRIC_COUNT]; /* index kc_metric_t */
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
 * by f->by. The sums cannot overflow (DESIGN - exact sums). Returns 0,
 * KC_EINVAL or an error of the store. */
int kc_cells_sum(kc_txn_t *txn, const kc_cells_filter_t *f, int year, int m_from, int m_to,
                 int kind, kc_cells_result_t *out);

/* ---- cell sources and point in time ---- */

/* An in-memory set of totals cells: a hash map while it is built, sorted by
 * key for range scans. */
typedef struct kc_cells_mem kc_cells_mem_t;

/* A new, empty set (NULL if out of memory); free with kc_cells_mem_free(). */
kc_cells_mem_t *kc_cells_mem_new(void);
/* Free and set *m to NULL; no-op on NULL. */
void kc_cells_mem_free(kc_cells_mem_t **m);
/* Add delta and events to the cell (created at zero if absent), checked like
 * kc_txn_totals_apply: KC_EOVERFLOW (nothing changed) if a metric would leave
 * int64 or the event count 0..UINT64_MAX. KC_ENOMEM. */
int kc_cells_mem_apply(kc_cells_mem_t *m, const kc_cell_key_t *key,
                       const int64_t delta[KC_METRIC_COUNT], int64_t events);
/* Set a cell (replacing it if present). */
int kc_cells_mem_put(kc_cells_mem_t *m, const kc_cell_key_t *key, const kc_cell_t *cell);
/* Number of cells. */
size_t kc_cells_mem_count(const kc_cells_mem_t *m);
/* kc_txn_totals_scan over the set: fn for every cell with lo <= key <= hi
 * (NULL = open) in key order, until fn returns non-zero (returned). */
int kc_cells_mem_scan(kc_cells_mem_t *m, const kc_cell_key_t *lo, const kc_cell_key_t *hi,
                      int (*fn)(const kc_cell_key_t *key, const kc_cell_t *cell, void *ctx),
                      void *ctx);

/* Where kc_cells_sum_src reads cells: mem if non-NULL, else txn's totals. */
typedef struct {
    kc_txn_t *txn;
    kc_cells_mem_t *mem;
} kc_cells_src_t;

/* kc_cells_sum over any cell source (kc_cells_sum = the store's live totals);
 * the same returns (an in-memory source adds no error of its own). */
int kc_cells_sum_src(const kc_cells_src_t *src, const kc_cells_filter_t *f, int year, int m_from,
                     int m_to, int kind, kc_cells_result_t *out);

/* What kc_cells_asof() did. */
typedef struct {
    uint64_t offset;      /* N: the totals after log entries 0..N-1 */
    uint64_t log_size;    /* the snapshot's log size (N <= log_size) */
    uint64_t checkpoint;  /* S: the checkpoint it started from (0: empty totals) */
    uint64_t replayed;    /* N - S entries replayed */
    uint64_t received_ns; /* received_ns of entry N-1; 0 if N == 0 */
} kc_cells_asof_t;

/* kc_cells_asof flags */
#define KC_CELLS_ASOF_NO_CHECKPOINTS 1u /* replay from offset 0 (for checks and tests) */

/* The totals after the first n log entries of txn's snapshot (n past the log
 * end = the log size, i.e. now), into a new set *out (caller frees), as
 * described in DESIGN; *info (may be NULL) says what was done. Returns 0,
 * KC_EFORMAT (the log does not replay), KC_EOVERFLOW, KC_ENOMEM or a store
 * error; *out is NULL unless 0 is returned. Needs sodium_init(). */
int kc_cells_asof(kc_txn_t *txn, uint64_t n, unsigned flags, kc_cells_mem_t **out,
                  kc_cells_asof_t *info);

/* Row index helpers. Province rows: scheme-63 codes at code, scheme-34 codes
 * at 100 + code. Activity rows: kc_activity_t.id. Month rows: the month. */
int kc_cells_row_of_province(int scheme, int code);
/* Scheme and code of a province row; returns 0 or KC_EINVAL. */
int kc_cells_province_of_row(int row, int *scheme, int *code);

/* The unit a cell's province counts under (see DESIGN) and its scheme. */
int kc_cells_unit(int units, int code, int32_t yyyymm, int *unit_scheme);

#endif
