/* kc_store_summary.c - robust value summaries (database "summaries").
 *
 * DESIGN
 * The store keeps these records for core without knowing what they mean:
 * keys of 1..KC_SUMMARY_KEY_MAX bytes and values of 1..KC_SUMMARY_VAL_MAX
 * bytes, both built by core/kc_outlier.c (which documents the layout and the
 * statistics). Keeping them opaque keeps the ledger's and the statistics'
 * rules out of the store (layering: store never includes core).
 *
 * The table was added after format 4 without a version change, like
 * checkpoints and units before it. A store created with it has summaries of
 * its whole log; a writer that opens an older store creates the (empty) table
 * and writes meta "summaries_from" = the log size then, in the open's own
 * transaction, so that a reader (and kc-replay) knows which log entries the
 * summaries fold: exactly those at offsets >= summaries_from. A reader of a
 * store that has no table yet (opened read-only before any newer writer) sees
 * no summaries, and summaries_from = the log size.
 */
#include "kc_store_int.h"

#include "kc_err.h"
#include "kc_log.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_FROM_KEY "summaries_from"

int kc_store_summaries_create(kc_txn_t *t, MDB_dbi *dbi)
{
    const char *name = kc_store_db_names[KC_DB_SUMMARIES];
    int mrc = mdb_dbi_open(t->txn, name, 0, dbi);
    if (mrc == MDB_SUCCESS)
        return 0;
    if (mrc == MDB_INCOMPATIBLE) {
        kc_error("store %s: \"%s\" is not a database", t->s->dir, name);
        return KC_EFORMAT;
    }
    if (mrc != MDB_NOTFOUND)
        return kc_store_put_err(t, mrc, "open summaries");
    uint64_t size;
    int rc = kc_txn_log_size(t, &size);
    if (rc != 0)
        return rc;
    if ((mrc = mdb_dbi_open(t->txn, name, MDB_CREATE, dbi)) != MDB_SUCCESS)
        return kc_store_put_err(t, mrc, "create summaries");
    char num[24];
    int n = snprintf(num, sizeof num, "%" PRIu64, size);
    MDB_val k = {sizeof S_FROM_KEY - 1, (void *)S_FROM_KEY}, v = {(size_t)n, num};
    if ((mrc = mdb_put(t->txn, t->s->dbi[KC_DB_META], &k, &v, 0)) != MDB_SUCCESS)
        return kc_store_put_err(t, mrc, "write summaries_from");
    if (size > 0)
        kc_info("store %s: value summaries start at log offset %" PRIu64
                " (earlier entries are not summarised)",
                t->s->dir, size);
    return 0;
}

static bool s_key_ok(const uint8_t *key, size_t klen)
{
    return key && klen >= 1 && klen <= KC_SUMMARY_KEY_MAX;
}

int kc_txn_summary_get(kc_txn_t *t, const uint8_t *key, size_t klen, uint8_t *val, size_t cap,
                       size_t *len)
{
    if (!t || !t->txn || !s_key_ok(key, klen) || !val || !len)
        return KC_EINVAL;
    *len = 0;
    if (t->s->no_summaries)
        return KC_ENOTFOUND;
    MDB_val k = {klen, (void *)key}, v;
    int mrc = mdb_get(t->txn, t->s->dbi[KC_DB_SUMMARIES], &k, &v);
    if (mrc != MDB_SUCCESS)
        return kc_store_err(t->s, mrc, "read summary");
    if (v.mv_size > cap) {
        kc_error("store %s: summary value of %zu bytes (at most %zu expected)", t->s->dir,
                 v.mv_size, cap);
        return KC_EFORMAT;
    }
    memcpy(val, v.mv_data, v.mv_size);
    *len = v.mv_size;
    return 0;
}

int kc_txn_summary_put(kc_txn_t *t, const uint8_t *key, size_t klen, const uint8_t *val, size_t len)
{
    int rc = kc_store_check_write(t);
    if (rc != 0)
        return rc;
    if (!s_key_ok(key, klen) || !val || len == 0 || len > KC_SUMMARY_VAL_MAX)
        return KC_EINVAL;
    MDB_val k = {klen, (void *)key}, v = {len, NULL};
    int mrc = mdb_put(t->txn, t->s->dbi[KC_DB_SUMMARIES], &k, &v, MDB_RESERVE);
    if (mrc != MDB_SUCCESS)
        return kc_store_put_err(t, mrc, "write summary");
    memcpy(v.mv_data, val, len);
    return 0;
}

int kc_txn_summaries_from(kc_txn_t *t, uint64_t *offset)
{
    if (!t || !t->txn || !offset)
        return KC_EINVAL;
    *offset = 0;
    if (t->s->no_summaries)
        return kc_txn_log_size(t, offset);
    MDB_val k = {sizeof S_FROM_KEY - 1, (void *)S_FROM_KEY}, v;
    int mrc = mdb_get(t->txn, t->s->dbi[KC_DB_META], &k, &v);
    if (mrc == MDB_NOTFOUND)
        return 0;
    if (mrc != MDB_SUCCESS)
        return kc_store_err(t->s, mrc, "read summaries_from");
    char num[24];
    if (v.mv_size == 0 || v.mv_size >= sizeof num) {
        kc_error("store %s: malformed summaries_from", t->s->dir);
        return KC_EFORMAT;
    }
    memcpy(num, v.mv_data, v.mv_size);
    num[v.mv_size] = '\0';
    char *end;
    unsigned long long u = strtoull(num, &end, 10);
    if (*end != '\0' || num[0] < '0' || num[0] > '9') {
        kc_error("store %s: malformed summaries_from", t->s->dir);
        return KC_EFORMAT;
    }
    *offset = u;
    return 0;
}
