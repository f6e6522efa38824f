/* kc_store_state.c - de-duplication state: producers, identities, rejects.
 *
 * DESIGN (layouts; integers little-endian unless said, no padding)
 *   producers   key   producer id bytes (1..255, no NUL)
 *               value 48 bytes: hwm, last_seen_ns, accepted, duplicates, rejected, epoch
 *                     (u64 each)
 *   identities  key   province (1 byte) + event_id bytes (1..510)
 *               value 24 bytes: log offset (u64), content hash (16 bytes)
 *   rejects     key   producer id bytes + 0x00 + epoch (u64 BE) + seq (u64 BE): a
 *                     producer's rejects sort together, by spool epoch and sequence
 *               value reason (u16) + text bytes (no NUL; may be empty)
 * These records are written in the same transaction as the log and totals
 * (kc_store_write), which is what makes "counted" and "remembered as counted"
 * inseparable.
 */
#include "kc_store_int.h"

#include "kc_err.h"
#include "kc_log.h"

#include <string.h>

#define KC_PRODUCER_MAX 255 /* LMDB keys are at most 511 bytes */
#define KC_EVENT_ID_MAX 510
#define KC_PRODUCER_VAL 48
#define KC_IDENTITY_VAL 24

static size_t s_producer_len(const char *producer)
{
    if (!producer)
        return 0;
    size_t n = strnlen(producer, KC_PRODUCER_MAX + 1);
    return n > KC_PRODUCER_MAX ? 0 : n;
}

/* ---- producers ---- */

static void s_producer_decode(const uint8_t *p, kc_producer_state_t *st)
{
    st->hwm = kc_le64_get(p);
    st->last_seen_ns = kc_le64_get(p + 8);
    st->accepted = kc_le64_get(p + 16);
    st->duplicates = kc_le64_get(p + 24);
    st->rejected = kc_le64_get(p + 32);
    st->epoch = kc_le64_get(p + 40);
}

int kc_txn_producer_put(kc_txn_t *t, const char *producer, const kc_producer_state_t *st)
{
    int rc = kc_store_check_write(t);
    if (rc != 0)
        return rc;
    size_t n = s_producer_len(producer);
    if (n == 0 || !st)
        return KC_EINVAL;
    uint8_t vb[KC_PRODUCER_VAL];
    kc_le64_put(vb, st->hwm);
    kc_le64_put(vb + 8, st->last_seen_ns);
    kc_le64_put(vb + 16, st->accepted);
    kc_le64_put(vb + 24, st->duplicates);
    kc_le64_put(vb + 32, st->rejected);
    kc_le64_put(vb + 40, st->epoch);
    MDB_val k = {n, (void *)producer}, v = {sizeof vb, vb};
    return kc_store_put_err(t, mdb_put(t->txn, t->s->dbi[KC_DB_PRODUCERS], &k, &v, 0),
                            "write producer state");
}

int kc_txn_producer_get(kc_txn_t *t, const char *producer, kc_producer_state_t *st)
{
    if (!t || !t->txn || !st)
        return KC_EINVAL;
    memset(st, 0, sizeof *st);
    size_t n = s_producer_len(producer);
    if (n == 0)
        return KC_EINVAL;
    MDB_val k = {n, (void *)producer}, v;
    int mrc = mdb_get(t->txn, t->s->dbi[KC_DB_PRODUCERS], &k, &v);
    if (mrc != MDB_SUCCESS)
        return kc_store_err(t->s, mrc, "read producer state");
    if (v.mv_size != KC_PRODUCER_VAL) {
        kc_error("store %s: producer state of %zu bytes", t->s->dir, v.mv_size);
        return KC_EFORMAT;
    }
    s_producer_decode(v.mv_data, st);
    return 0;
}

int kc_txn_producer_scan(kc_txn_t *t,
                         int (*fn)(const char *producer, const kc_producer_state_t *st, void *ctx),
                         void *ctx)
{
    if (!t || !t->txn || !fn)
        return KC_EINVAL;
    MDB_cursor *c;
    int mrc = mdb_cursor_open(t->txn, t->s->dbi[KC_DB_PRODUCERS], &c);
    if (mrc != MDB_SUCCESS)
        return kc_store_err(t->s, mrc, "open producers cursor");
    MDB_val k, v;
    int rc = 0;
    for (mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST); mrc == MDB_SUCCESS;
         mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (k.mv_size == 0 || k.mv_size > KC_PRODUCER_MAX || v.mv_size != KC_PRODUCER_VAL) {
            kc_error("store %s: malformed producer record", t->s->dir);
            rc = KC_EFORMAT;
            break;
        }
        char name[KC_PRODUCER_MAX + 1]; /* NUL-terminated copy for fn */
        memcpy(name, k.mv_data, k.mv_size);
        name[k.mv_size] = '\0';
        kc_producer_state_t st;
        s_producer_decode(v.mv_data, &st);
        if ((rc = fn(name, &st, ctx)) != 0)
            break;
    }
    if (rc == 0 && mrc != MDB_NOTFOUND)
        rc = kc_store_err(t->s, mrc, "scan producers");
    mdb_cursor_close(c);
    return rc;
}

/* ---- identities ---- */

static int s_identity_key(uint8_t *kb, uint8_t province, const char *event_id, size_t len)
{
    if (!event_id || len == 0 || len > KC_EVENT_ID_MAX)
        return KC_EINVAL;
    kb[0] = province;
    memcpy(kb + 1, event_id, len);
    return 0;
}

int kc_txn_identity_put(kc_txn_t *t, uint8_t province, const char *event_id, size_t len,
                        const kc_identity_t *id)
{
    int rc = kc_store_check_write(t);
    if (rc != 0)
        return rc;
    uint8_t kb[1 + KC_EVENT_ID_MAX], vb[KC_IDENTITY_VAL];
    if (!id || (rc = s_identity_key(kb, province, event_id, len)) != 0)
        return KC_EINVAL;
    kc_le64_put(vb, id->offset);
    memcpy(vb + 8, id->hash, sizeof id->hash);
    MDB_val k = {1 + len, kb}, v = {sizeof vb, vb};
    return kc_store_put_err(t, mdb_put(t->txn, t->s->dbi[KC_DB_IDENTITIES], &k, &v, 0),
                            "write identity");
}

int kc_txn_identity_get(kc_txn_t *t, uint8_t province, const char *event_id, size_t len,
                        kc_identity_t *id)
{
    if (!t || !t->txn || !id)
        return KC_EINVAL;
    memset(id, 0, sizeof *id);
    uint8_t kb[1 + KC_EVENT_ID_MAX];
    if (s_identity_key(kb, province, event_id, len) != 0)
        return KC_EINVAL;
    MDB_val k = {1 + len, kb}, v;
    int mrc = mdb_get(t->txn, t->s->dbi[KC_DB_IDENTITIES], &k, &v);
    if (mrc != MDB_SUCCESS)
        return kc_store_err(t->s, mrc, "read identity");
    if (v.mv_size != KC_IDENTITY_VAL) {
        kc_error("store %s: identity record of %zu bytes", t->s->dir, v.mv_size);
        return KC_EFORMAT;
    }
    id->offset = kc_le64_get(v.mv_data);
    memcpy(id->hash, (const uint8_t *)v.mv_data + 8, sizeof id->hash);
    return 0;
}

/* ---- rejects ---- */

#define KC_REJECT_KEY_MAX (KC_PRODUCER_MAX + 17)

static size_t s_reject_key(uint8_t *kb, const char *producer, uint64_t epoch, uint64_t seq)
{
    size_t n = s_producer_len(producer);
    if (n == 0)
        return 0;
    memcpy(kb, producer, n);
    kb[n] = 0x00;
    kc_be64_put(kb + n + 1, epoch);
    kc_be64_put(kb + n + 9, seq);
    return n + 17;
}

int kc_txn_reject_put(kc_txn_t *t, const char *producer, uint64_t epoch, uint64_t seq, int reason,
                      const char *text)
{
    int rc = kc_store_check_write(t);
    if (rc != 0)
        return rc;
    uint8_t kb[KC_REJECT_KEY_MAX];
    size_t kn = s_reject_key(kb, producer, epoch, seq);
    if (kn == 0 || reason < 0 || reason > UINT16_MAX)
        return KC_EINVAL;
    size_t tn = text ? strlen(text) : 0;
    MDB_val k = {kn, kb}, v = {2 + tn, NULL};
    int mrc = mdb_put(t->txn, t->s->dbi[KC_DB_REJECTS], &k, &v, MDB_RESERVE);
    if (mrc != MDB_SUCCESS)
        return kc_store_put_err(t, mrc, "write reject");
    uint8_t *p = v.mv_data;
    p[0] = (uint8_t)reason;
    p[1] = (uint8_t)(reason >> 8);
    if (tn)
        memcpy(p + 2, text, tn);
    return 0;
}

int kc_txn_reject_get(kc_txn_t *t, const char *producer, uint64_t epoch, uint64_t seq, int *reason,
                      char *text, size_t cap)
{
    if (!t || !t->txn)
        return KC_EINVAL;
    if (text && cap)
        text[0] = '\0';
    uint8_t kb[KC_REJECT_KEY_MAX];
    size_t kn = s_reject_key(kb, producer, epoch, seq);
    if (kn == 0)
        return KC_EINVAL;
    MDB_val k = {kn, kb}, v;
    int mrc = mdb_get(t->txn, t->s->dbi[KC_DB_REJECTS], &k, &v);
    if (mrc != MDB_SUCCESS)
        return kc_store_err(t->s, mrc, "read reject");
    if (v.mv_size < 2) {
        kc_error("store %s: reject record of %zu bytes", t->s->dir, v.mv_size);
        return KC_EFORMAT;
    }
    const uint8_t *p = v.mv_data;
    if (reason)
        *reason = p[0] | (p[1] << 8);
    if (text && cap) {
        size_t n = v.mv_size - 2 < cap - 1 ? v.mv_size - 2 : cap - 1; /* truncate to fit */
        memcpy(text, p + 2, n);
        text[n] = '\0';
    }
    return 0;
}
