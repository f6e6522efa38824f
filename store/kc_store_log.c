/* kc_store_log.c - the append-only event log (database "log").
 *
 * DESIGN
 * Key: the entry's offset as a u64 big-endian, so that byte order is offset
 * order and every append is at the end of the B-tree (MDB_APPEND: no search,
 * pages filled completely). Offsets start at 0 with no gaps; the log's size
 * is therefore the last key + 1 (cursor MDB_LAST), cached for the rest of a
 * write transaction after its first append.
 *
 * Value, record layout version 1 (integers little-endian, no padding):
 *   byte 0        layout version = 1
 *   byte 1        P = producer id length, 1..255
 *   bytes 2..9    received_ns, u64
 *   bytes 10..17  seq, u64
 *   bytes 18..25  producer epoch, u64 (the spool's sequence space; Batch.producer_epoch)
 *   bytes 26..    producer id, P bytes (no NUL)
 *   then          the serialized kcpipe.v1.Event, verbatim, to the end of the value
 * The event length is implied by the value size. A reader refuses a record
 * whose version byte it does not know (KC_EFORMAT), so a later layout can
 * coexist with version-1 records in the same log. Values are written in
 * place (MDB_RESERVE), with no intermediate copy.
 */
#include "kc_store_int.h"

#include "kc_err.h"
#include "kc_merkle_int.h"
#include "kc_log.h"

#include <string.h>

#define KC_LOG_RECORD_V1    1
#define KC_LOG_HDR          26  /* fixed part of a version-1 record */
#define KC_LOG_PRODUCER_MAX 255 /* fits the length byte */

static int s_decode(const kc_txn_t *t, const MDB_val *k, const MDB_val *v, kc_log_entry_t *out)
{
    const uint8_t *p = v->mv_data;
    if (k->mv_size != 8 || v->mv_size < KC_LOG_HDR || p[0] != KC_LOG_RECORD_V1 || p[1] == 0 ||
        v->mv_size < (size_t)KC_LOG_HDR + p[1]) {
        kc_error("store %s: log record of %zu bytes with key of %zu bytes: unknown layout",
                 t->s->dir, v->mv_size, k->mv_size);
        return KC_EFORMAT;
    }
    out->offset = kc_be64_get(k->mv_data);
    out->producer_len = p[1];
    out->received_ns = kc_le64_get(p + 2);
    out->seq = kc_le64_get(p + 10);
    out->epoch = kc_le64_get(p + 18);
    out->producer = (const char *)p + KC_LOG_HDR;
    out->event = p + KC_LOG_HDR + out->producer_len;
    out->event_len = v->mv_size - KC_LOG_HDR - out->producer_len;
    return 0;
}

/* The next offset = last key + 1, or 0 for an empty log. */
static int s_log_next(kc_txn_t *t, uint64_t *next)
{
    MDB_cursor *c;
    int mrc = mdb_cursor_open(t->txn, t->s->dbi[KC_DB_LOG], &c);
    if (mrc != MDB_SUCCESS)
        return kc_store_err(t->s, mrc, "open log cursor");
    MDB_val k, v;
    mrc = mdb_cursor_get(c, &k, &v, MDB_LAST);
    int rc = 0;
    if (mrc == MDB_NOTFOUND) {
        *next = 0;
    } else if (mrc != MDB_SUCCESS) {
        rc = kc_store_err(t->s, mrc, "find log end");
    } else if (k.mv_size != 8) {
        kc_error("store %s: log key of %zu bytes", t->s->dir, k.mv_size);
        rc = KC_EFORMAT;
    } else {
        *next = kc_be64_get(k.mv_data) + 1;
    }
    mdb_cursor_close(c);
    return rc;
}

int kc_txn_log_append(kc_txn_t *t, const kc_log_entry_t *e, uint64_t *offset_out)
{
    int rc = kc_store_check_write(t);
    if (rc != 0)
        return rc;
    if (!e || !e->producer || e->producer_len == 0 || e->producer_len > KC_LOG_PRODUCER_MAX ||
        (!e->event && e->event_len != 0) || e->event_len > UINT32_MAX - KC_LOG_HDR - 256)
        return KC_EINVAL;
    if (!t->log_next_known) {
        if ((rc = s_log_next(t, &t->log_next)) != 0) {
            if (t->err == 0)
                t->err = rc;
            return rc;
        }
        t->log_next_known = true;
    }
    uint8_t kb[8];
    kc_be64_put(kb, t->log_next);
    MDB_val k = {sizeof kb, kb};
    MDB_val v = {KC_LOG_HDR + e->producer_len + e->event_len, NULL};
    int mrc = mdb_put(t->txn, t->s->dbi[KC_DB_LOG], &k, &v, MDB_APPEND | MDB_RESERVE);
    if (mrc != MDB_SUCCESS)
        return kc_store_put_err(t, mrc, "append to log");
    uint8_t *p = v.mv_data;
    p[0] = KC_LOG_RECORD_V1;
    p[1] = (uint8_t)e->producer_len;
    kc_le64_put(p + 2, e->received_ns);
    kc_le64_put(p + 10, e->seq);
    kc_le64_put(p + 18, e->epoch);
    memcpy(p + KC_LOG_HDR, e->producer, e->producer_len);
    if (e->event_len)
        memcpy(p + KC_LOG_HDR + e->producer_len, e->event, e->event_len);
    rc = kc_mk_append(t, e, t->log_next); /* leaf hash + frontier, same txn */
    if (rc != 0)
        return rc;
    if (offset_out)
        *offset_out = t->log_next;
    t->log_next++;
    return 0;
}

int kc_store_log_decode(const kc_txn_t *t, const MDB_val *k, const MDB_val *v, kc_log_entry_t *out)
{
    return s_decode(t, k, v, out);
}

int kc_txn_log_size(kc_txn_t *t, uint64_t *size)
{
    if (!t || !t->txn || !size)
        return KC_EINVAL;
    if (t->log_next_known) {
        *size = t->log_next;
        return 0;
    }
    return s_log_next(t, size);
}

int kc_txn_log_get(kc_txn_t *t, uint64_t offset, kc_log_entry_t *out)
{
    if (!t || !t->txn || !out)
        return KC_EINVAL;
    uint8_t kb[8];
    kc_be64_put(kb, offset);
    MDB_val k = {sizeof kb, kb}, v;
    int mrc = mdb_get(t->txn, t->s->dbi[KC_DB_LOG], &k, &v);
    if (mrc != MDB_SUCCESS) {
        memset(out, 0, sizeof *out);
        return kc_store_err(t->s, mrc, "read log");
    }
    return s_decode(t, &k, &v, out);
}

int kc_txn_log_scan(kc_txn_t *t, uint64_t from, int (*fn)(const kc_log_entry_t *e, void *ctx),
                    void *ctx)
{
    if (!t || !t->txn || !fn)
        return KC_EINVAL;
    MDB_cursor *c;
    int mrc = mdb_cursor_open(t->txn, t->s->dbi[KC_DB_LOG], &c);
    if (mrc != MDB_SUCCESS)
        return kc_store_err(t->s, mrc, "open log cursor");
    uint8_t kb[8];
    kc_be64_put(kb, from);
    MDB_val k = {sizeof kb, kb}, v;
    int rc = 0;
    for (mrc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); mrc == MDB_SUCCESS;
         mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        kc_log_entry_t e;
        if ((rc = s_decode(t, &k, &v, &e)) != 0 || (rc = fn(&e, ctx)) != 0)
            break;
    }
    if (rc == 0 && mrc != MDB_NOTFOUND)
        rc = kc_store_err(t->s, mrc, "scan log");
    mdb_cursor_close(c);
    return rc;
}
