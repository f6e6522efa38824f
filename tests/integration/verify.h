/* verify.h - the exactly-once checks every integration test ends with. */
#ifndef KC_VERIFY_H
#define KC_VERIFY_H

#include "gen_csv.h"

/* Open `store` read-only and check (failing the test through KC_CHECK):
 *   - the totals, summed over every cell, equal expect->sums for each metric
 *     and the cells' event counts add up to expect->events;
 *   - the log holds expect->events entries, each decodes to an Event, no
 *     (province, event_id) appears twice, and each producer's sequences rise
 *     strictly along the log;
 *   - the producers' `accepted` counters add up to expect->events. */
void kc_verify_store(const char *store, const kc_gen_sums_t *expect);

/* Run kc-query --store S --year Y --kind K --format json for 2021..2024 and
 * both kinds (bounded wait, exit 0 each) and check that the "totals" add up
 * to expect->sums. */
void kc_verify_query(const char *store, const kc_gen_sums_t *expect);

/* Run kc-query --store S --year Y --format json (kind actual) once and return its wall
 * time in ms; fails the test if it does not exit 0 within timeout_ms or its
 * JSON has no integer "totals" for every metric. */
int64_t kc_verify_query_once(const char *store, int year, int timeout_ms);

#endif
