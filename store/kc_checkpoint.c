/* kc_checkpoint.c - copies of the totals at log sizes (database "checkpoints"), and the
 * search from a time to a log size. The layout and the rules: kc_checkpoint.h (DESIGN).
 */
#include "kc_checkpoint.h"

#include "kc_store_int.h"

#include "kc_err.h"
#include "kc_log.h"

#include <string.h>

#define S_CELL_LEN  (8 + 8 * KC_METRIC_COUNT) /* a totals value (kc_store_totals.c) */
#define S_HDR_KEY   8                         /* u64 size, big-endian */
#define S_CELL_KEY  (S_HDR_KEY + KC_CELL_KEY_LEN)
#define S_HDR_VALUE 16 /* u64 cells, u64 received_ns */

static bool s_absent(const kc_txn_t *t)
{
    return t->s->no_checkpoints;
}

static int s_hdr_decode(const kc_txn_t *t, const MDB_val *k, const MDB_val *v, kc_checkpoint_t *out)
{
    if (k->mv_size != S_HDR_KEY || v->mv_size != S_HDR_VALUE) {
        kc_error("store %s: checkpoint header of %zu/%zu bytes", t->s->dir, k->mv_size, v->mv_size);
        return KC_EFORMAT;
    }
    out->size = kc_be64_get(k->mv_data);
    out->cells = kc_le64_get(v->mv_data);
    out->received_ns = kc_le64_get((const uint8_t *)v->mv_data + 8);
    return 0;
}

static int s_cell_decode(const kc_txn_t *t, const MDB_val *v, kc_cell_t *c)
{
    if (v->mv_size != S_CELL_LEN) {
        kc_error("store %s: checkpoint cell of %zu bytes (expected %d)", t->s->dir, v->mv_size,
                 S_CELL_LEN);
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

/* The header key at or before `key` (a size, big-endian), found from cursor c:
 * MDB_SET_RANGE to the first key >= key, then back one entry if it is not an
 * exact header; the size prefix of the entry found names its checkpoint. */
static int s_find(kc_txn_t *t, MDB_cursor *c, uint64_t at, kc_checkpoint_t *out)
{
    uint8_t kb[S_CELL_KEY];
    MDB_val k, v;
    int mrc;
    if (at == UINT64_MAX) {
        mrc = mdb_cursor_get(c, &k, &v, MDB_LAST);
    } else {
        kc_be64_put(kb, at + 1);
        k = (MDB_val){S_HDR_KEY, kb};
        mrc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); /* first key of a later checkpoint */
        mrc = mrc == MDB_NOTFOUND  ? mdb_cursor_get(c, &k, &v, MDB_LAST)
              : mrc == MDB_SUCCESS ? mdb_cursor_get(c, &k, &v, MDB_PREV)
                                   : mrc;
    }
    if (mrc != MDB_SUCCESS)
        return kc_store_err(t->s, mrc, "find checkpoint");
    if (k.mv_size < S_HDR_KEY) {
        kc_error("store %s: checkpoint key of %zu bytes", t->s->dir, k.mv_size);
        return KC_EFORMAT;
    }
    uint64_t size = kc_be64_get(k.mv_data);
    if (size > at && at != UINT64_MAX)
        return KC_ENOTFOUND;
    kc_be64_put(kb, size);
    k = (MDB_val){S_HDR_KEY, kb};
    mrc = mdb_cursor_get(c, &k, &v, MDB_SET_KEY);
    if (mrc == MDB_NOTFOUND) {
        kc_error("store %s: checkpoint %llu has cells but no header", t->s->dir,
                 (unsigned long long)size);
        return KC_EFORMAT;
    }
    if (mrc != MDB_SUCCESS)
        return kc_store_err(t->s, mrc, "read checkpoint");
    return s_hdr_decode(t, &k, &v, out);
}

int kc_txn_checkpoint_put(kc_txn_t *t, kc_checkpoint_t *out)
{
    int rc = kc_store_check_write(t);
    if (rc != 0)
        return rc;
    kc_checkpoint_t cp = {0};
    if ((rc = kc_txn_log_size(t, &cp.size)) != 0)
        return rc;
    if (cp.size > 0) {
        kc_log_entry_t e;
        if ((rc = kc_txn_log_get(t, cp.size - 1, &e)) != 0)
            return rc;
        cp.received_ns = e.received_ns;
    }
    MDB_cursor *dst, *src;
    int mrc = mdb_cursor_open(t->txn, t->s->dbi[KC_DB_CHECKPOINTS], &dst);
    if (mrc != MDB_SUCCESS)
        return kc_store_put_err(t, mrc, "open checkpoints cursor");
    kc_checkpoint_t last;
    rc = s_find(t, dst, UINT64_MAX, &last);
    if (rc == 0 && last.size >= cp.size) {
        mdb_cursor_close(dst);
        if (out)
            *out = last.size == cp.size ? last : cp;
        if (last.size == cp.size)
            return 0;
        kc_error("store %s: checkpoint at log size %llu after one at %llu", t->s->dir,
                 (unsigned long long)cp.size, (unsigned long long)last.size);
        return KC_EINVAL;
    }
    if (rc != 0 && rc != KC_ENOTFOUND) {
        mdb_cursor_close(dst);
        return rc;
    }
    mrc = mdb_cursor_open(t->txn, t->s->dbi[KC_DB_TOTALS], &src);
    if (mrc != MDB_SUCCESS) {
        mdb_cursor_close(dst);
        return kc_store_put_err(t, mrc, "open totals cursor");
    }

    /* the header first (its count filled in below, in place), then every cell, appended */
    uint8_t kb[S_CELL_KEY];
    kc_be64_put(kb, cp.size);
    uint8_t hv[S_HDR_VALUE] = {0};
    MDB_val k = {S_HDR_KEY, kb}, v = {S_HDR_VALUE, hv};
    mrc = mdb_cursor_put(dst, &k, &v, MDB_APPEND);
    rc = mrc == MDB_SUCCESS ? 0 : kc_store_put_err(t, mrc, "write checkpoint header");
    MDB_val tk, tv;
    for (mrc = rc ? MDB_NOTFOUND : mdb_cursor_get(src, &tk, &tv, MDB_FIRST); mrc == MDB_SUCCESS;
         mrc = mdb_cursor_get(src, &tk, &tv, MDB_NEXT)) {
        if (tk.mv_size != KC_CELL_KEY_LEN || tv.mv_size != S_CELL_LEN) {
            kc_error("store %s: totals entry of %zu/%zu bytes", t->s->dir, tk.mv_size, tv.mv_size);
            rc = KC_EFORMAT;
            break;
        }
        memcpy(kb + S_HDR_KEY, tk.mv_data, KC_CELL_KEY_LEN);
        k = (MDB_val){S_CELL_KEY, kb};
        MDB_val cv = {S_CELL_LEN, tv.mv_data}; /* the totals' bytes, verbatim */
        int prc = mdb_cursor_put(dst, &k, &cv, MDB_APPEND);
        if (prc != MDB_SUCCESS) {
            rc = kc_store_put_err(t, prc, "write checkpoint cell");
            break;
        }
        cp.cells++;
    }
    if (rc == 0 && mrc != MDB_NOTFOUND)
        rc = kc_store_put_err(t, mrc, "copy totals");
    mdb_cursor_close(src);
    if (rc == 0) {
        /* the header's value, now that the count is known: rewrite it in place */
        kc_le64_put(hv, cp.cells);
        kc_le64_put(hv + 8, cp.received_ns);
        k = (MDB_val){S_HDR_KEY, kb};
        v = (MDB_val){S_HDR_VALUE, hv};
        mrc = mdb_put(t->txn, t->s->dbi[KC_DB_CHECKPOINTS], &k, &v, 0);
        if (mrc != MDB_SUCCESS)
            rc = kc_store_put_err(t, mrc, "write checkpoint header");
    }
    mdb_cursor_close(dst);
    if (rc == 0 && out)
        *out = cp;
    return rc;
}

int kc_txn_checkpoint_find(kc_txn_t *t, uint64_t at, kc_checkpoint_t *out)
{
    if (!t || !t->txn || !out)
        return KC_EINVAL;
    memset(out, 0, sizeof *out);
    if (s_absent(t))
        return KC_ENOTFOUND;
    MDB_cursor *c;
    int mrc = mdb_cursor_open(t->txn, t->s->dbi[KC_DB_CHECKPOINTS], &c);
    if (mrc != MDB_SUCCESS)
        return kc_store_err(t->s, mrc, "open checkpoints cursor");
    int rc = s_find(t, c, at == UINT64_MAX ? UINT64_MAX - 1 : at, out);
    mdb_cursor_close(c);
    return rc;
}

int kc_txn_checkpoint_list(kc_txn_t *t, int (*fn)(const kc_checkpoint_t *cp, void *ctx), void *ctx)
{
    if (!t || !t->txn || !fn)
        return KC_EINVAL;
    if (s_absent(t))
        return 0;
    MDB_cursor *c;
    int mrc = mdb_cursor_open(t->txn, t->s->dbi[KC_DB_CHECKPOINTS], &c);
    if (mrc != MDB_SUCCESS)
        return kc_store_err(t->s, mrc, "open checkpoints cursor");
    MDB_val k, v;
    int rc = 0;
    for (mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST); mrc == MDB_SUCCESS;) {
        kc_checkpoint_t cp;
        if ((rc = s_hdr_decode(t, &k, &v, &cp)) != 0 || (rc = fn(&cp, ctx)) != 0)
            break;
        if (cp.size == UINT64_MAX)
            break;
        uint8_t kb[S_HDR_KEY];
        kc_be64_put(kb, cp.size + 1); /* skip its cells: the next header */
        k = (MDB_val){S_HDR_KEY, kb};
        mrc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    }
    if (rc == 0 && mrc != MDB_SUCCESS && mrc != MDB_NOTFOUND)
        rc = kc_store_err(t->s, mrc, "list checkpoints");
    mdb_cursor_close(c);
    return rc;
}

int kc_txn_checkpoint_scan(kc_txn_t *t, uint64_t size,
                           int (*fn)(const kc_cell_key_t *key, const kc_cell_t *cell, void *ctx),
                           void *ctx)
{
    if (!t || !t->txn || !fn)
        return KC_EINVAL;
    if (s_absent(t))
        return KC_ENOTFOUND;
    MDB_cursor *c;
    int mrc = mdb_cursor_open(t->txn, t->s->dbi[KC_DB_CHECKPOINTS], &c);
    if (mrc != MDB_SUCCESS)
        return kc_store_err(t->s, mrc, "open checkpoints cursor");
    uint8_t kb[S_HDR_KEY];
    kc_be64_put(kb, size);
    MDB_val k = {S_HDR_KEY, kb}, v;
    int rc = 0;
    mrc = mdb_cursor_get(c, &k, &v, MDB_SET_KEY);
    if (mrc != MDB_SUCCESS) {
        rc = kc_store_err(t->s, mrc, "read checkpoint");
    } else {
        for (mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT); mrc == MDB_SUCCESS;
             mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
            if (k.mv_size < S_HDR_KEY || kc_be64_get(k.mv_data) != size)
                break; /* the next checkpoint */
            if (k.mv_size != S_CELL_KEY) {
                kc_error("store %s: checkpoint key of %zu bytes", t->s->dir, k.mv_size);
                rc = KC_EFORMAT;
                break;
            }
            kc_cell_key_t key;
            kc_cell_t cell;
            kc_cell_key_decode((const uint8_t *)k.mv_data + S_HDR_KEY, &key);
            if ((rc = s_cell_decode(t, &v, &cell)) != 0 || (rc = fn(&key, &cell, ctx)) != 0)
                break;
        }
        if (rc == 0 && mrc != MDB_SUCCESS && mrc != MDB_NOTFOUND)
            rc = kc_store_err(t->s, mrc, "scan checkpoint");
    }
    mdb_cursor_close(c);
    return rc;
}

int kc_txn_log_size_at(kc_txn_t *t, uint64_t t_ns, uint64_t *size)
{
    if (!t || !t->txn || !size)
        return KC_EINVAL;
    uint64_t lo = 0, hi;
    int rc = kc_txn_log_size(t, &hi);
    if (rc != 0)
        return rc;
    /* invariant: entries < lo are at or before t_ns, entries >= hi after it */
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        kc_log_entry_t e;
        if ((rc = kc_txn_log_get(t, mid, &e)) != 0)
            return rc == KC_ENOTFOUND ? KC_EFORMAT : rc;
        if (e.received_ns <= t_ns)
            lo = mid + 1;
        else
            hi = mid;
    }
    *size = lo;
    return 0;
}
