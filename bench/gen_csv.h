/* gen_csv.h - deterministic producer CSVs with known exact totals, per cell:
 * the synthetic workload of the benchmarks and of the tests that run real
 * processes (tests/integration, tests/fault, ...), which compile it from here.
 *
 * kc_gen_csv() writes `rows` valid events for one producer: varied scheme-63
 * provinces, periods 2021-2024, every activity (by code or by name), only
 * the metrics kc_ref allows for each activity, persons_employed never above
 * persons, kinds and funds given or left to their defaults, and notes with
 * commas, quotes and newlines now and then. Columns (corrects included)
 * appear in an order that depends on the seed. The same (prefix, seed, rows)
 * always gives the same file. Event ids are "<prefix>-<row>" (row in 6-digit
 * hexadecimal), unique per prefix.
 *
 * DESIGN - corrections and retractions (issue 13, findings 4 and 7)
 * Row k of the file has the province and event_id of kc_gen_next()'s row k
 * (so the fault oracle, which regenerates identities with kc_gen_next, knows
 * every row of the file), but a second generator turns about one row in
 * eight into a correction and one in sixteen into a retraction of a live
 * version (a record or an earlier correction, never a retracted or
 * superseded one) of the same province code, earlier in the same file: a
 * correction carries kind "correction" and the target's id in `corrects`
 * and either row k's own period, activity, fund and values (the event moves
 * to another cell), or the target's cell with every value raised by the same
 * small amount (the same cell), and now and then a period of 2025-2026 under
 * which the code is valid (a scheme-34 code from 2025-07: the event crosses
 * the 2025-07 merger, and later corrections may move it back); a retraction
 * names its target with or without the target's period and carries no
 * metrics. The amended rows sit among the records, so a scenario that kills
 * the aggregator or a producer while a file is sent has them cross crashes.
 *
 * DESIGN - the expectation
 * kc_gen_expect() computes, from the rows alone, what the totals must hold
 * after the first upto[i] rows of each file were accepted in order: per cell
 * (year, month, province, activity, kind, fund) the event count and each
 * metric. It maps the rows' text with its own reading of data/ TSV files (found
 * next to this source file; not kc_ref, not the ledger): a province code is
 * valid for a period if a row of provinces.tsv (any scheme) covers it, and a
 * cell keeps the two-digit code; activities by code or name to their id;
 * metrics by column name to their id; kind "" or actual 1, plan 2 (a
 * correction keeps its target's); fund kcqg 1, kcdp 2, "" or other 3. It
 * applies the rules of docs/LEDGER.md itself: a record adds its values into
 * its cell (events +1); a correction takes its target's values out of the
 * target's cell (events -1) and adds its own into its own cell (events +1);
 * a retraction takes its target's values out (events -1).
 */
#ifndef KC_GEN_CSV_H
#define KC_GEN_CSV_H

#include "kc_ref.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KC_GEN_MAX_FILES  32 /* files one kc_gen_sums_t can list */
#define KC_GEN_PREFIX_MAX 72 /* longest prefix + NUL a listed file can have */
#define KC_GEN_YEAR_MIN   2021
#define KC_GEN_YEAR_MAX   2026 /* corrections may move an event into 2025-2026 */

/* One file kc_gen_csv() wrote: enough to regenerate it. */
typedef struct {
    char prefix[KC_GEN_PREFIX_MAX];
    uint64_t seed;
    size_t rows;
} kc_gen_file_t;

/* What a set of generated files holds, once every row was accepted. A plain
 * value: copy it freely; add two with kc_gen_sums_add(). */
typedef struct {
    uint64_t events;                      /* rows written: log entries */
    int64_t sums[KC_METRIC_COUNT];        /* exact sum of each metric over the rows (log) */
    uint64_t voided;                      /* events taken out of the totals again: 1 per
                                             correction (its target), 2 per retraction (its
                                             target and itself); totals count events - voided */
    int64_t voided_sums[KC_METRIC_COUNT]; /* values taken out with them: the totals
                                             sum sums - voided_sums */
    size_t nfiles;                        /* files listed; KC_GEN_MAX_FILES + 1: too many
                                             (or a prefix too long) to list them all */
    kc_gen_file_t files[KC_GEN_MAX_FILES];
} kc_gen_sums_t;

/* Write the CSV to `path`; add what it holds to *sums and list the file in it
 * (zero it first for one file). Returns 0 or -errno (-EINVAL: data/ TSV files
 * could not be read, or a generated row does not map to a cell). */
int kc_gen_csv(const char *path, const char *prefix, uint64_t seed, size_t rows,
               kc_gen_sums_t *sums);

/* What kc_gen_csv(path, prefix, seed, rows, sums) adds to *sums, without
 * writing the file (e.g. for the files of a fleet that were sent). */
int kc_gen_sums(const char *prefix, uint64_t seed, size_t rows, kc_gen_sums_t *sums);

/* *to += *from: counters added, file lists joined. */
void kc_gen_sums_add(kc_gen_sums_t *to, const kc_gen_sums_t *from);

/* Whether the listed files hold exactly s's counters (events, sums, voided,
 * voided_sums): false if s was changed by hand (rows that are not generated
 * here added), or lists too many files. Only then is a per-cell expectation
 * of s complete. */
bool kc_gen_sums_complete(const kc_gen_sums_t *s);

/* One expected totals cell. */
typedef struct {
    uint16_t year;
    uint8_t month, province, activity, kind, fund;
    int64_t events;
    int64_t m[KC_METRIC_COUNT]; /* index: id in data/metrics.tsv */
} kc_gen_cell_t;

/* The expected cells after the first upto[i] rows of files[i] (i < n; NULL
 * upto: every row) were accepted in order (see DESIGN), sorted as the store
 * sorts cells (year, month, province, activity, kind, fund); cells whose
 * events and values all came back to 0 are left out. *cells is malloc'd.
 * Returns 0 or -errno (-EINVAL as for kc_gen_csv). */
int kc_gen_expect(const kc_gen_file_t *files, const size_t *upto, size_t n, kc_gen_cell_t **cells,
                  size_t *ncells);

/* Which file and row (1-based) an event_id of files[0..n) is; false if it is
 * none of theirs. */
bool kc_gen_row_of(const kc_gen_file_t *files, size_t n, const char *event_id, size_t *file,
                   size_t *row);

/* Generate one record's values in memory (used by bench/ingest as well).
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

/* kc_gen_next() gives records only: the rows kc_gen_csv() writes have its
 * provinces and event_ids, row for row (DESIGN). */
void kc_gen_init(kc_gen_t *g, const char *prefix, uint64_t seed);
void kc_gen_next(kc_gen_t *g, kc_gen_row_t *r);

#endif
