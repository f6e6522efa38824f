/* gen_csv.h - deterministic producer CSVs with known exact metric sums.
 *
 * kc_gen_csv() writes `rows` valid activity events for one producer: varied
 * scheme-63 provinces, periods 2021-2024, every activity (by code or by name),
 * only the metrics kc_ref allows for each activity, persons_employed never
 * above persons, kinds and funds given or left to their defaults, and notes
 * with commas, quotes and newlines now and then. Columns appear in an order
 * that depends on the seed. The same (prefix, seed, rows) always gives the
 * same file. Event ids are "<prefix>-<row>" (row in 6-digit hexadecimal), unique per prefix.
 */
#ifndef KC_GEN_CSV_H
#define KC_GEN_CSV_H

#include "kc_ref.h"

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t events;               /* rows written */
    int64_t sums[KC_METRIC_COUNT]; /* exact sum of each metric over the rows */
} kc_gen_sums_t;

/* Write the CSV to `path`; add what it holds to *sums (zero it first for one
 * file). Returns 0 or -errno. */
int kc_gen_csv(const char *path, const char *prefix, uint64_t seed, size_t rows,
               kc_gen_sums_t *sums);

/* Generate one event's values in memory (used by bench/ingest as well).
 * province: two-digit code; activity: code or name; kind/fund: "" for default.
 * present: bit per kc_metric_t. note: "" for none. */
typedef struct {
    char event_id[72];
    char province[4];
    int year, month;
    const char *activity;
    const char *kind;
    const char *fund;
    uint32_t present;
    int64_t m[KC_METRIC_COUNT];
    const char *note;
} kc_gen_row_t;

/* State of the deterministic generator. */
typedef struct {
    uint64_t rng;
    const char *prefix;
    size_t row;
} kc_gen_t;

void kc_gen_init(kc_gen_t *g, const char *prefix, uint64_t seed);
void kc_gen_next(kc_gen_t *g, kc_gen_row_t *r);

#endif
