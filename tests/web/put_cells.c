/* put_cells.c - web_put_cells: write totals cells into a store, for the
 * dashboard test's store of values no event may carry any more (issue 12).
 *
 * Usage: web_put_cells STORE YEAR MONTH PROVINCE ACTIVITY KIND FUND EVENTS AMOUNT_VND
 *                           [YEAR MONTH ... AMOUNT_VND]...
 * Creates STORE if needed and sets each cell (kc_txn_totals_put: the absolute
 * value, as a store written by an older version may hold it) in one write
 * transaction. ACTIVITY is kc_activity_t.id, KIND 1 actual / 2 plan, FUND
 * 1..3. Exit 0, 64 usage, 74 store error.
 */
#include "kc_err.h"
#include "kc_store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#define FIELDS 8

typedef struct {
    int n;
    char **argv;
} s_args_t;

static int s_num(const char *s, long long lo, long long hi, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int s_fill(kc_txn_t *txn, void *ctx)
{
    const s_args_t *a = ctx;
    for (int i = 0; i + FIELDS <= a->n; i += FIELDS) {
        long long f[FIELDS];
        static const long long hi[FIELDS] = {0xFFFF, 12, 255, 255, 2, 3, INT64_MAX, INT64_MAX};
        for (int j = 0; j < FIELDS; j++)
            if (s_num(a->argv[i + j], 0, hi[j], &f[j]) != 0) {
                fprintf(stderr, "web_put_cells: bad number '%s'\n", a->argv[i + j]);
                return KC_EINVAL;
            }
        kc_cell_key_t key = {.year = (uint16_t)f[0],
                             .month = (uint8_t)f[1],
                             .province = (uint8_t)f[2],
                             .activity = (uint8_t)f[3],
                             .kind = (uint8_t)f[4],
                             .fund = (uint8_t)f[5]};
        kc_cell_t cell = {.events = (uint64_t)f[6]};
        cell.m[KC_M_AMOUNT_VND] = f[7];
        int rc = kc_txn_totals_put(txn, &key, &cell);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 + FIELDS || (argc - 2) % FIELDS != 0) {
        fprintf(stderr, "usage: web_put_cells STORE YEAR MONTH PROVINCE ACTIVITY KIND FUND "
                        "EVENTS AMOUNT_VND [...]\n");
        return 64;
    }
    kc_store_t *st = NULL;
    int rc = kc_store_open(&st, argv[1], NULL);
    if (rc == 0) {
        s_args_t a = {argc - 2, argv + 2};
        rc = kc_store_write(st, s_fill, &a);
    }
    kc_store_close(&st);
    if (rc != 0) {
        fprintf(stderr, "web_put_cells: %s: %s\n", argv[1], kc_strerror(rc));
        return rc == KC_EINVAL ? 64 : 74;
    }
    return 0;
}
