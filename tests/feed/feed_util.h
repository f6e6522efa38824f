/* feed_util.h - shared pieces of the live feed tests (tests/feed): the
 * aggregator's feed endpoints from its ready file, clients polled together
 * within deadlines, and the comparison of a client's state with the store.
 */
#ifndef KC_FEED_UTIL_H
#define KC_FEED_UTIL_H

#include "harness.h"
#include "kc_feedc.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Endpoints of the ready file's "feed EP" and "snapshot EP" lines. */
typedef struct {
    char feed[256];
    char snapshot[256];
} kc_feed_eps_t;

/* Read them from the ready file (fails the test if absent). */
void kc_feed_read_eps(const char *ready, kc_feed_eps_t *eps);

/* A new client of eps (fails the test if it cannot be made). */
kc_feedc_t *kc_feed_client(void *zctx, const kc_feed_eps_t *eps);

/* Poll every client once for up to step_ms in total (a few ms each). */
void kc_feed_poll_all(kc_feedc_t **c, size_t n, int step_ms);

/* Poll the clients until each is synced at seq >= want, within timeout_ms. */
void kc_feed_converge(kc_feedc_t **c, size_t n, uint64_t want, int timeout_ms);

/* Compare the client's cells and units with the store at `store_dir` (opened
 * read-only; the aggregator must have stopped): every cell equal, the same
 * set of cells, kc_cells_sum equal for each year and kind of years y0..y1,
 * every unit's last report equal. Fails the test on a difference; `name`
 * labels the messages. Returns the number of cells compared. */
size_t kc_feed_compare_store(kc_feedc_t *c, const char *store_dir, int y0, int y1,
                             const char *name);

#endif
