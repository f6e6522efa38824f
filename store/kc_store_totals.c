/* kc_store_totals.c - running int64 totals per cell (database "totals").
 *
 * DESIGN
 * Key, 7 bytes: year (u16 big-endian), month, province, activity, kind, fund.
 * Byte order is sort order, and the period leads, so every year/month range
 * is one contiguous range scan; within a month cells sort by province, then
 * activity, kind and fund.
 *
 * Value, 88 bytes, little-endian, no padding:
 *   bytes 0..7               events, u64 (accepted events in the cell)
 *   bytes 8 + 8*i .. +7      metric i (kc_metric_t order), int64 two's complement
 * The layout is fixed for store format 1 (meta "format"); any other value size
 * is KC_EFORMAT.
 *
 * Update (kc_txn_totals_apply; kc_txn_totals_add is its unsigned-count form,
 * and a negative event count is a correction or retraction leaving the cell):
 * one lookup with the transaction's totals cursor (MDB_SET_KEY), every sum
 * computed and checked with __builtin_add/sub_overflow first, then one
 * in-place write: MDB_CURRENT|MDB_RESERVE with an unchanged size overwrites
 * the node where it lies. On overflow nothing is written.
 * kc_txn_totals_put writes an absolute value the caller summed itself (one
 * search and one write per cell: the aggregator writes each cell a group
 * commit touched once, at its end).
 */
#include "kc_store_int.h"

#include "kc_err.h"
#include "kc_log.h"

#include <string.h>

#define KC_CELL_VALUE_LEN (8 + 8 * KC_METRIC_COUNT)

void kc_cell_key_encode(const kc_cell_key_t *key, uint8_t out[KC_CELL_KEY_LEN])
{
    out[0] = (uint8_t)(key->year >> 8);
    out[1] = (uint8_t)key->year;
    out[2] = key->month;
    out[3] = key->province;
    out[4] = key->activity;
    out[5] = key->kind;
    out[6] = key->fund;
}

void kc_cell_key_decode(const uint8_t in[KC_CELL_KEY_LEN], kc_cell_key_t *key)
{
    key->year = (uint16_t)((in[0] << 8) | in[1]);
    key->month = in[2];
    key->province = in[3];
    key->activity = in[4];
    key->kind = in[5];
    key->fund = in[6];
}

kc_cell_key_t kc_cell_key_min(void)
{
    return (kc_cell_key_t){0};
}

kc_cell_key_t kc_cell_key_max(void)
{
    return (kc_cell_key_t){.year = UINT16_MAX,
                           .month = UINT8_MAX,
                           .province = UINT8_MAX,
                           .activity = UINT8_MAX,
                           .kind = UINT8_MAX,
                           .fund = UINT8_MAX};
}

static void s_cell_encode(const kc_cell_t *c, uint8_t *p)
{
    kc_le64_put(p, c->events);
    for (int i = 0; i < KC_METRIC_COUNT; i++)
        kc_le64_put(p + 8 + 8 * i, (uint64_t)c->m[i]);
}

static int s_cell_decode(const kc_txn_t *t, const MDB_val *v, kc_cell_t *c)
{
    if (v->mv_size != KC_CELL_VALUE_LEN) {
        kc_error("store %s: totals value of %zu bytes (expected %d)", t->s->dir, v->mv_size,
                 KC_CELL_VALUE_LEN);
        return KC_EFORMAT;
    }
    const uint8_t *p = v->mv_data;
    c->events = kc_le64_get(p);
    for (int i = 0; i < KC_METRIC_COUNT; i++) {
        uint64_t u = kc_le64_get(p + 8 + 8 * i);
        int64_t m;
        memcpy(&m, &u, sizeof m); /* two's complement, without implementation-defined casts */
        c->m[i] = m;
    }
    return 0;
}

int kc_txn_totals_add(kc_txn_t *t, const kc_cell_key_t *key, const int64_t delta[KC_METRIC_COUNT],
                      uint64_t events)
{
    if (events > (uint64_t)INT64_MAX)
        return KC_EOVERFLOW;
    return kc_txn_totals_apply(t, key, delta, (int64_t)events);
}

/* The write transaction's totals cursor, opened at its first use (LMDB frees
 * it with the transaction). */
static int s_totals_cursor(kc_txn_t *t)
{
    if (t->totals_cur)
        return 0;
    int mrc = mdb_cursor_open(t->txn, t->s->dbi[KC_DB_TOTALS], &t->totals_cur);
    return mrc == MDB_SUCCESS ? 0 : kc_store_put_err(t, mrc, "open totals cursor");
}

int kc_txn_totals_apply(kc_txn_t *t, const kc_cell_key_t *key, const int64_t delta[KC_METRIC_COUNT],
                        int64_t events)
{
    int rc = kc_store_check_write(t);
    if (rc != 0)
        return rc;
    if (!key || !delta)
        return KC_EINVAL;
    if ((rc = s_totals_cursor(t)) != 0)
        return rc;
    uint8_t kb[KC_CELL_KEY_LEN];
    kc_cell_key_encode(key, kb);
    MDB_val k = {sizeof kb, kb}, v;
    kc_cell_t cur = {0}, sum;
    int mrc = mdb_cursor_get(t->totals_cur, &k, &v, MDB_SET_KEY);
    bool found = mrc == MDB_SUCCESS;
    if (found) {
        if ((rc = s_cell_decode(t, &v, &cur)) != 0)
            return rc;
    } else if (mrc != MDB_NOTFOUND) {
        return kc_store_put_err(t, mrc, "read totals");
    }

    if (kc_cell_add(&sum, &cur, events, delta)) {
        kc_warn("store %s: totals %04u-%02u province %u activity %u kind %u fund %u would "
                "overflow int64; unchanged",
                t->s->dir, key->year, key->month, key->province, key->activity, key->kind,
                key->fund);
        return KC_EOVERFLOW;
    }

    k = (MDB_val){sizeof kb, kb}; /* MDB_SET_KEY pointed it into the map */
    v = (MDB_val){KC_CELL_VALUE_LEN, NULL};
    mrc = mdb_cursor_put(t->totals_cur, &k, &v, (found ? MDB_CURRENT : 0) | MDB_RESERVE);
    if (mrc != MDB_SUCCESS)
        return kc_store_put_err(t, mrc, "update totals");
    s_cell_encode(&sum, v.mv_data);
    return 0;
}

int kc_txn_totals_put(kc_txn_t *t, const kc_cell_key_t *key, const kc_cell_t *cell)
{
    int rc = kc_store_check_write(t);
    if (rc != 0)
        return rc;
    if (!key || !cell)
        return KC_EINVAL;
    if ((rc = s_totals_cursor(t)) != 0)
        return rc;
    uint8_t kb[KC_CELL_KEY_LEN];
    kc_cell_key_encode(key, kb);
    MDB_val k = {sizeof kb, kb}, v = {KC_CELL_VALUE_LEN, NULL};
    int mrc = mdb_cursor_put(t->totals_cur, &k, &v, MDB_RESERVE);
    if (mrc != MDB_SUCCESS)
        return kc_store_put_err(t, mrc, "write totals");
    s_cell_encode(cell, v.mv_data);
    return 0;
}

int kc_txn_totals_get(kc_txn_t *t, const kc_cell_key_t *key, kc_cell_t *cell)
{
    if (!t || !t->txn || !key || !cell)
        return KC_EINVAL;
    memset(cell, 0, sizeof *cell);
    uint8_t kb[KC_CELL_KEY_LEN];
    kc_cell_key_encode(key, kb);
    MDB_val k = {sizeof kb, kb}, v;
    int mrc = mdb_get(t->txn, t->s->dbi[KC_DB_TOTALS], &k, &v);
    if (mrc != MDB_SUCCESS)
        return kc_store_err(t->s, mrc, "read totals");
    return s_cell_decode(t, &v, cell);
}

int kc_txn_totals_scan(kc_txn_t *t, const kc_cell_key_t *lo, const kc_cell_key_t *hi,
                       int (*fn)(const kc_cell_key_t *key, const kc_cell_t *cell, void *ctx),
                       void *ctx)
{
    if (!t || !t->txn || !fn)
        return KC_EINVAL;
    kc_cell_key_t lo_k = lo ? *lo : kc_cell_key_min(), hi_k = hi ? *hi : kc_cell_key_max();
    uint8_t lo_b[KC_CELL_KEY_LEN], hi_b[KC_CELL_KEY_LEN];
    kc_cell_key_encode(&lo_k, lo_b);
    kc_cell_key_encode(&hi_k, hi_b);
    if (memcmp(lo_b, hi_b, KC_CELL_KEY_LEN) > 0)
        return 0;
    MDB_cursor *c;
    int mrc = mdb_cursor_open(t->txn, t->s->dbi[KC_DB_TOTALS], &c);
    if (mrc != MDB_SUCCESS)
        return kc_store_err(t->s, mrc, "open totals cursor");
    MDB_val k = {sizeof lo_b, lo_b}, v;
    int rc = 0;
    for (mrc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); mrc == MDB_SUCCESS;
         mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (k.mv_size != KC_CELL_KEY_LEN) {
            kc_error("store %s: totals key of %zu bytes", t->s->dir, k.mv_size);
            rc = KC_EFORMAT;
            break;
        }
        if (memcmp(k.mv_data, hi_b, KC_CELL_KEY_LEN) > 0)
            break;
        kc_cell_key_t key;
        kc_cell_t cell;
        kc_cell_key_decode(k.mv_data, &key);
        if ((rc = s_cell_decode(t, &v, &cell)) != 0 || (rc = fn(&key, &cell, ctx)) != 0)
            break;
    }
    if (rc == 0 && mrc != MDB_SUCCESS && mrc != MDB_NOTFOUND)
        rc = kc_store_err(t->s, mrc, "scan totals");
    mdb_cursor_close(c);
    return rc;
}
