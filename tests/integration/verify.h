/* verify.h - the exactly-once checks every integration test ends with, and
 * the per-cell check against the generator's own expectation (gen_csv.h). */
#ifndef KC_VERIFY_H
#define KC_VERIFY_H

#include "gen_csv.h"

/* Open `store` read-only and check (failing the test through KC_CHECK), in
 * one snapshot:
 *   - the totals, summed over every cell, equal expect->sums less
 *     expect->voided_sums for each metric, and the cells' event counts add up
 *     to expect->events less expect->voided;
 *   - if kc_gen_sums_complete(expect) (expect is what kc_gen_csv and
 *     kc_gen_sums_add made, not changed by hand): every cell equals the
 *     generator's own expectation (kc_gen_expect over every row; a cell absent
 *     on one side counts as all zero); the first differing cells are printed
 *     on stderr with both values and the failure names the first;
 *   - the log holds expect->events entries, each decodes to an Event, no
 *     (province, event_id) appears twice, each producer's sequences rise
 *     strictly along the log, and the events' metrics sum to expect->sums;
 *   - the producers' `accepted` counters add up to expect->events. */
void kc_verify_store(const char *store, const kc_gen_sums_t *expect);

/* The per-cell check at any moment, e.g. after a fault while producers still
 * run (the aggregator may be running: one read snapshot). In that snapshot,
 * every log entry must be a row of files[0..n) (kc_gen_row_of), the rows of
 * each file in the log must be its first k rows (a producer's events are
 * accepted in order, without gaps), and every cell must equal kc_gen_expect
 * after those k rows of each file. Fails the test (KC_CHECK) naming `when`
 * and the first differing cell with both values (the first few on stderr). */
void kc_verify_cells_logged(const char *store, const kc_gen_file_t *files, size_t n,
                            const char *when);

/* kc_verify_cells_logged() over the files expect lists; fails the test if
 * expect is not complete (kc_gen_sums_complete). Unstarted files count 0 rows. */
void kc_verify_cells(const char *store, const kc_gen_sums_t *expect, const char *when);

/* Run kc-query --store S --year Y --kind K --format json for every year the
 * generator uses (KC_GEN_YEAR_MIN..KC_GEN_YEAR_MAX) and both kinds (bounded
 * wait, exit 0 each) and check that the "totals" add up to expect->sums less
 * expect->voided_sums. */
void kc_verify_query(const char *store, const kc_gen_sums_t *expect);

/* Run kc-query --store S --year Y --format json (kind actual) once and return its wall
 * time in ms; fails the test if it does not exit 0 within timeout_ms or its
 * JSON has no integer "totals" for every metric. */
int64_t kc_verify_query_once(const char *store, int year, int timeout_ms);

#endif
