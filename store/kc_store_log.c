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
 *
 * Record layout version 2 (store format 4; what kc_txn_log_append writes):
 *   byte 0        0x02 (layout 2) | 0x80 if the Event is stored without its
 *                 transport tail (below) | 0x40 if the time is a delta
 *   varint        producer index (u32, LEB128): names (producer id, epoch) in
 *                 the producer_ids table below
 *   varint        seq (u64, LEB128)
 *   time          0x40: received_ns - the previous record's received_ns (mod
 *                 2^64, as a signed number), zigzag LEB128: 1 byte within a
 *                 group commit (one time for all its events), a few bytes
 *                 between commits; else received_ns, u64 LE (8 bytes). The
 *                 record at every offset that is a multiple of
 *                 KC_LOG_TIME_EVERY (16) has the absolute time, so a reader
 *                 of a random record walks back (cursor, MDB_PREV) at most 15
 *                 records (s_time_at); a scan finds the previous time in the
 *                 txn's ring of recent times (kc_txn_t.tc_*), the writer its
 *                 last append's (kc_txn_t.app_*). 0.44 bytes an event more
 *                 than a delta everywhere.
 *   then          the serialized kcpipe.v1.Event to the end of the value
 * 6 bytes for a sequence below 2^21 inside a group (26 + the producer id's
 * length in layout 1).
 * Transport tail: an Event as libkcingest (protobuf-c) packs it ends with its
 * fields 14 and 15, producer_id and seq, which the record already holds. If
 * the Event's last bytes are exactly 0x72 <varint P> <producer id, P bytes>
 * 0x78 <varint seq> for this record's producer id and seq, they are not stored
 * (0x82; kc_wire_tail_at) and a reader appends the same bytes again
 * (kc_wire_tail_put): the bytes it returns are the Event as received, byte
 * for byte (checked by comparison at append; anything else is stored
 * verbatim, 0x02: so is an Event carrying submitted_by, field 16, which
 * protobuf writes after seq). The rebuilt Event lives in a
 * per-txn ring of KC_EVBUF_RING buffers (kc_txn_t.evbuf): kc_log_entry_t.event
 * of such a record stays valid until KC_EVBUF_RING more of them have been
 * decoded in the same transaction, or the transaction ends.
 * A format-4 log may hold both layouts (a migrated format-3 log keeps its
 * version-1 records; new ones are version 2): both decode to the same
 * kc_log_entry_t, and the Merkle leaf is computed from that entry (canonical
 * encoding, common/kc_merkle.h), so it does not depend on the layout.
 *
 * producer_ids (format 4): the producer index of layout 2, both ways:
 *   0x00 + u32 BE index                  -> epoch (u64 LE) + producer id bytes
 *   0x01 + epoch (u64 BE) + producer id  -> u32 LE index
 * Indexes are 0, 1, 2, ... in order of first use, never reused or changed; a
 * new spool epoch of a producer gets a new index (epochs change rarely). The
 * writer finds the index through a per-txn cache (kc_txn_t.pidx), then the
 * second key; readers map index -> entry through the same cache, whose
 * pointers borrow the read txn's LMDB pages (a write txn reads the table for
 * each decode instead: its dirty pages may move).
 */
#include "kc_store_int.h"

#include "kc_err.h"
#include "kc_merkle_int.h"
#include "kc_log.h"
#include "kc_wire.h"

#include <stdlib.h>
#include <string.h>

#define KC_LOG_RECORD_V1    1
#define KC_LOG_RECORD_V2    2
#define KC_LOG_VERSION_MASK 0x3f /* byte 0 of layout 2: version 2 + the two flags below */
#define KC_LOG_FLAG_TAIL    0x80 /* the Event is stored without its transport tail */
#define KC_LOG_FLAG_DT      0x40 /* received_ns is a zigzag delta from the previous record's */
#define KC_LOG_TIME_EVERY   16   /* a record at a multiple of this offset has an absolute time */
#define KC_LOG_TAIL_MAX     (1 + 2 + KC_LOG_PRODUCER_MAX + 1 + 10) /* kc_wire_tail_len, P <= 255 */
#define KC_LOG_HDR          26                /* fixed part of a version-1 record */
#define KC_LOG_HDR2_MAX     (1 + 5 + 10 + 10) /* a version-2 header at its longest */
#define KC_LOG_PRODUCER_MAX 255               /* fits the length byte */
#define KC_PID_FWD          0x00              /* producer_ids: index -> (epoch, producer) */
#define KC_PID_REV          0x01              /* producer_ids: (epoch, producer) -> index */

static int s_bad_record(const kc_txn_t *t, const MDB_val *k, const MDB_val *v)
{
    kc_error("store %s: log record of %zu bytes with key of %zu bytes: unknown layout", t->s->dir,
             v->mv_size, k->mv_size);
    return KC_EFORMAT;
}

/* Producer index idx -> its producer id and epoch (layout 2). */
static int s_pidx_get(const kc_txn_t *ct, uint32_t idx, const char **name, size_t *len,
                      uint64_t *epoch)
{
    kc_txn_t *t = (kc_txn_t *)ct; /* the cache only */
    kc_pidx_slot_t *sl = &t->pidx[idx % KC_PIDX_CACHE];
    if (!t->write && sl->idx == idx + 1) {
        *name = sl->name;
        *len = sl->len;
        *epoch = sl->epoch;
        return 0;
    }
    if (t->s->no_fmt4) {
        kc_error("store %s: a version-2 log record in a store of format %d", t->s->dir,
                 t->s->format);
        return KC_EFORMAT;
    }
    uint8_t kb[5];
    kb[0] = KC_PID_FWD;
    kb[1] = (uint8_t)(idx >> 24);
    kb[2] = (uint8_t)(idx >> 16);
    kb[3] = (uint8_t)(idx >> 8);
    kb[4] = (uint8_t)idx;
    MDB_val k = {sizeof kb, kb}, v;
    int mrc = mdb_get(t->txn, t->s->dbi[KC_DB_PRODUCER_IDS], &k, &v);
    if (mrc == MDB_NOTFOUND || (mrc == MDB_SUCCESS && (v.mv_size < 9 || v.mv_size > 8 + 255))) {
        kc_error("store %s: a log record names producer index %u, which %s", t->s->dir, idx,
                 mrc == MDB_NOTFOUND ? "does not exist" : "is malformed");
        return KC_EFORMAT;
    }
    if (mrc != MDB_SUCCESS)
        return kc_store_err(t->s, mrc, "read producer index");
    *epoch = kc_le64_get(v.mv_data);
    *name = (const char *)v.mv_data + 8;
    *len = v.mv_size - 8;
    if (!t->write) {
        sl->idx = idx + 1;
        sl->epoch = *epoch;
        sl->len = (uint8_t)*len;
        sl->name = *name;
    }
    return 0;
}

void kc_txn_release(kc_txn_t *t)
{
    for (int i = 0; i < KC_EVBUF_RING; i++) {
        free(t->evbuf[i]);
        t->evbuf[i] = NULL;
        t->evcap[i] = 0;
    }
}

/* out->event = the stored bytes + the transport tail, in the next ring buffer. */
static int s_rebuild(const kc_txn_t *ct, const uint8_t *ev, size_t n, kc_log_entry_t *out)
{
    kc_txn_t *t = (kc_txn_t *)ct; /* the ring only */
    unsigned i = t->evnext++ % KC_EVBUF_RING;
    size_t need = n + KC_LOG_TAIL_MAX;
    if (t->evcap[i] < need) {
        size_t cap = need < 512 ? 512 : need;
        uint8_t *b = realloc(t->evbuf[i], cap);
        if (!b)
            return KC_ENOMEM;
        t->evbuf[i] = b;
        t->evcap[i] = cap;
    }
    memcpy(t->evbuf[i], ev, n);
    out->event = t->evbuf[i];
    out->event_len =
        n + kc_wire_tail_put(t->evbuf[i] + n, out->producer, out->producer_len, out->seq);
    return 0;
}

/* The fixed part of a layout-2 record in p[0..end): header length, producer
 * index, seq and the time field (absolute received_ns, or the zigzag delta
 * from the previous record's if *delta). 0 if malformed. */
static size_t s_parse2(const uint8_t *p, const uint8_t *end, uint64_t *idx, uint64_t *seq,
                       bool *delta, uint64_t *tv)
{
    size_t n = 1, m;
    if (!(m = kc_wire_varint_get_strict(p + n, end, idx)) || *idx > UINT32_MAX)
        return 0;
    n += m;
    if (!(m = kc_wire_varint_get_strict(p + n, end, seq)))
        return 0;
    n += m;
    *delta = (p[0] & KC_LOG_FLAG_DT) != 0;
    if (*delta) {
        if (!(m = kc_wire_varint_get_strict(p + n, end, tv)))
            return 0;
        return n + m;
    }
    if (end - (p + n) < 8)
        return 0;
    *tv = kc_le64_get(p + n);
    return n + 8;
}

static uint64_t s_unzigzag(uint64_t z)
{
    return (z >> 1) ^ (uint64_t) - (int64_t)(z & 1);
}

static uint64_t s_zigzag(uint64_t d) /* d = the difference modulo 2^64, read as signed */
{
    return (d << 1) ^ (uint64_t)((int64_t)d >> 63);
}

static bool s_time_cached(const kc_txn_t *t, uint64_t offset, uint64_t *ns)
{
    if (t->app_valid && t->app_off == offset) {
        *ns = t->app_ns;
        return true;
    }
    for (unsigned i = 0; i < t->tc_n; i++)
        if (t->tc_off[i] == offset) {
            *ns = t->tc_ns[i];
            return true;
        }
    return false;
}

static void s_time_remember(const kc_txn_t *ct, uint64_t offset, uint64_t ns)
{
    kc_txn_t *t = (kc_txn_t *)ct; /* the cache only */
    unsigned i = t->tc_next++ % KC_TCACHE;
    t->tc_off[i] = offset;
    t->tc_ns[i] = ns;
    if (t->tc_n < KC_TCACHE)
        t->tc_n++;
}

/* received_ns of the record at `offset`: from the txn's caches, else back
 * through the delta records (a cursor, MDB_PREV) to an absolute time - at
 * most KC_LOG_TIME_EVERY - 1 steps. */
static int s_time_at(const kc_txn_t *t, uint64_t offset, uint64_t *ns)
{
    if (s_time_cached(t, offset, ns))
        return 0;
    MDB_cursor *c;
    int mrc = mdb_cursor_open(t->txn, t->s->dbi[KC_DB_LOG], &c);
    if (mrc != MDB_SUCCESS)
        return kc_store_err(t->s, mrc, "open log cursor");
    uint8_t kb[8];
    kc_be64_put(kb, offset);
    MDB_val k = {sizeof kb, kb}, v;
    uint64_t sum = 0, o = offset;
    int rc = KC_EFORMAT;
    mrc = mdb_cursor_get(c, &k, &v, MDB_SET_KEY);
    for (int steps = 0; steps < KC_LOG_TIME_EVERY && mrc == MDB_SUCCESS; steps++) {
        uint64_t hit;
        if (steps > 0 && s_time_cached(t, o, &hit)) {
            *ns = hit + sum;
            rc = 0;
            break;
        }
        const uint8_t *p = v.mv_data, *end = p + v.mv_size;
        if (k.mv_size != 8 || kc_be64_get(k.mv_data) != o)
            break;
        if (v.mv_size >= KC_LOG_HDR && p[0] == KC_LOG_RECORD_V1) {
            *ns = kc_le64_get(p + 2) + sum;
            rc = 0;
            break;
        }
        uint64_t idx, seq, tv;
        bool delta;
        if (v.mv_size < 1 || (p[0] & KC_LOG_VERSION_MASK) != KC_LOG_RECORD_V2 ||
            !s_parse2(p, end, &idx, &seq, &delta, &tv))
            break;
        if (!delta) {
            *ns = tv + sum;
            rc = 0;
            break;
        }
        if (o % KC_LOG_TIME_EVERY == 0)
            break;
        sum += s_unzigzag(tv);
        o--;
        mrc = mdb_cursor_get(c, &k, &v, MDB_PREV);
    }
    mdb_cursor_close(c);
    if (rc == 0) {
        s_time_remember(t, offset, *ns);
        return 0;
    }
    if (mrc != MDB_SUCCESS && mrc != MDB_NOTFOUND)
        return kc_store_err(t->s, mrc, "read log");
    kc_error("store %s: log record %llu: its receive time cannot be resolved (record %llu)",
             t->s->dir, (unsigned long long)offset, (unsigned long long)o);
    return KC_EFORMAT;
}

static int s_decode(const kc_txn_t *t, const MDB_val *k, const MDB_val *v, kc_log_entry_t *out)
{
    const uint8_t *p = v->mv_data, *end = p + v->mv_size;
    if (k->mv_size != 8 || v->mv_size < 1)
        return s_bad_record(t, k, v);
    if ((p[0] & KC_LOG_VERSION_MASK) == KC_LOG_RECORD_V2) {
        uint64_t idx, seq, tv, off = kc_be64_get(k->mv_data);
        bool delta;
        size_t hdr = s_parse2(p, end, &idx, &seq, &delta, &tv);
        if (!hdr || (delta && off % KC_LOG_TIME_EVERY == 0))
            return s_bad_record(t, k, v);
        int rc = s_pidx_get(t, (uint32_t)idx, &out->producer, &out->producer_len, &out->epoch);
        if (rc != 0)
            return rc;
        if (delta) {
            uint64_t prev;
            if ((rc = s_time_at(t, off - 1, &prev)) != 0)
                return rc;
            tv = prev + s_unzigzag(tv);
        }
        s_time_remember(t, off, tv);
        out->offset = off;
        out->seq = seq;
        out->received_ns = tv;
        out->event = p + hdr;
        out->event_len = v->mv_size - hdr;
        if (p[0] & KC_LOG_FLAG_TAIL)
            return s_rebuild(t, p + hdr, v->mv_size - hdr, out);
        return 0;
    }
    if (v->mv_size < KC_LOG_HDR || p[0] != KC_LOG_RECORD_V1 || p[1] == 0 ||
        v->mv_size < (size_t)KC_LOG_HDR + p[1])
        return s_bad_record(t, k, v);
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

/* The next producer index to assign (write txns): last forward key + 1. */
static int s_pidx_next(kc_txn_t *t, uint32_t *next)
{
    MDB_cursor *c;
    int mrc = mdb_cursor_open(t->txn, t->s->dbi[KC_DB_PRODUCER_IDS], &c);
    if (mrc != MDB_SUCCESS)
        return kc_store_err(t->s, mrc, "open producer_ids cursor");
    uint8_t rev = KC_PID_REV;
    MDB_val k = {1, &rev}, v;
    mrc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    if (mrc == MDB_SUCCESS)
        mrc = mdb_cursor_get(c, &k, &v, MDB_PREV);
    else if (mrc == MDB_NOTFOUND)
        mrc = mdb_cursor_get(c, &k, &v, MDB_LAST);
    int rc = 0;
    if (mrc == MDB_NOTFOUND) {
        *next = 0;
    } else if (mrc != MDB_SUCCESS) {
        rc = kc_store_err(t->s, mrc, "find the last producer index");
    } else if (k.mv_size != 5 || ((const uint8_t *)k.mv_data)[0] != KC_PID_FWD) {
        kc_error("store %s: producer_ids: reverse keys without forward ones", t->s->dir);
        rc = KC_EFORMAT;
    } else {
        const uint8_t *q = k.mv_data;
        uint32_t last = (uint32_t)q[1] << 24 | (uint32_t)q[2] << 16 | (uint32_t)q[3] << 8 | q[4];
        if (last == UINT32_MAX) {
            kc_error("store %s: producer indexes exhausted", t->s->dir);
            rc = KC_EFORMAT;
        }
        *next = last + 1;
    }
    mdb_cursor_close(c);
    return rc;
}

/* The producer index of (producer, epoch), assigned if new (write txns). */
static int s_pidx_of(kc_txn_t *t, const char *producer, size_t len, uint64_t epoch, uint32_t *out)
{
    for (int i = 0; i < KC_PIDX_CACHE; i++) {
        const kc_pidx_slot_t *sl = &t->pidx[i];
        if (sl->idx && sl->epoch == epoch && sl->len == len &&
            memcmp(sl->copy, producer, len) == 0) {
            *out = sl->idx - 1;
            return 0;
        }
    }
    uint8_t rk[1 + 8 + KC_LOG_PRODUCER_MAX];
    rk[0] = KC_PID_REV;
    kc_be64_put(rk + 1, epoch);
    memcpy(rk + 9, producer, len);
    MDB_val k = {9 + len, rk}, v;
    int mrc = mdb_get(t->txn, t->s->dbi[KC_DB_PRODUCER_IDS], &k, &v);
    uint32_t idx = 0;
    if (mrc == MDB_SUCCESS) {
        if (v.mv_size != 4) {
            kc_error("store %s: producer_ids value of %zu bytes", t->s->dir, v.mv_size);
            return KC_EFORMAT;
        }
        const uint8_t *q = v.mv_data;
        idx = (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 | (uint32_t)q[3] << 24;
    } else if (mrc != MDB_NOTFOUND) {
        return kc_store_err(t->s, mrc, "read producer index");
    } else {
        int rc;
        if (!t->pidx_next_known) {
            if ((rc = s_pidx_next(t, &t->pidx_next)) != 0) {
                if (t->err == 0)
                    t->err = rc;
                return rc;
            }
            t->pidx_next_known = true;
        }
        idx = t->pidx_next;
        uint8_t ib[4] = {(uint8_t)idx, (uint8_t)(idx >> 8), (uint8_t)(idx >> 16),
                         (uint8_t)(idx >> 24)};
        MDB_val iv = {4, ib};
        mrc = mdb_put(t->txn, t->s->dbi[KC_DB_PRODUCER_IDS], &k, &iv, MDB_NOOVERWRITE);
        if (mrc != MDB_SUCCESS)
            return kc_store_put_err(t, mrc, "write producer index");
        uint8_t fk[5] = {KC_PID_FWD, (uint8_t)(idx >> 24), (uint8_t)(idx >> 16),
                         (uint8_t)(idx >> 8), (uint8_t)idx};
        uint8_t fv[8 + KC_LOG_PRODUCER_MAX];
        kc_le64_put(fv, epoch);
        memcpy(fv + 8, producer, len);
        MDB_val fkv = {sizeof fk, fk}, fvv = {8 + len, fv};
        mrc = mdb_put(t->txn, t->s->dbi[KC_DB_PRODUCER_IDS], &fkv, &fvv, MDB_NOOVERWRITE);
        if (mrc != MDB_SUCCESS)
            return kc_store_put_err(t, mrc, "write producer index");
        t->pidx_next = idx + 1;
    }
    kc_pidx_slot_t *sl = &t->pidx[idx % KC_PIDX_CACHE];
    sl->idx = idx + 1;
    sl->epoch = epoch;
    sl->len = (uint8_t)len;
    memcpy(sl->copy, producer, len);
    *out = idx;
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
    uint32_t idx = 0;
    if ((rc = s_pidx_of(t, e->producer, e->producer_len, e->epoch, &idx)) != 0)
        return rc;
    uint8_t hdr[KC_LOG_HDR2_MAX];
    size_t hn = 1, evn = e->event_len;
    size_t tn = kc_wire_tail_at(e->event, evn, e->producer, e->producer_len, e->seq);
    bool strip = tn != 0;
    if (strip)
        evn -= tn; /* rebuilt byte for byte by s_rebuild */
    /* the time as a delta from the previous record's, except at every
     * KC_LOG_TIME_EVERY-th offset (a reader's walk back stops there) */
    bool delta = t->log_next % KC_LOG_TIME_EVERY != 0;
    uint64_t prev = 0;
    if (delta && (rc = s_time_at(t, t->log_next - 1, &prev)) != 0) {
        if (t->err == 0)
            t->err = rc;
        return rc;
    }
    hdr[0] =
        (uint8_t)(KC_LOG_RECORD_V2 | (strip ? KC_LOG_FLAG_TAIL : 0) | (delta ? KC_LOG_FLAG_DT : 0));
    hn += kc_wire_varint_put(hdr + hn, idx);
    hn += kc_wire_varint_put(hdr + hn, e->seq);
    if (delta) {
        hn += kc_wire_varint_put(hdr + hn, s_zigzag(e->received_ns - prev));
    } else {
        kc_le64_put(hdr + hn, e->received_ns);
        hn += 8;
    }
    uint8_t kb[8];
    kc_be64_put(kb, t->log_next);
    MDB_val k = {sizeof kb, kb};
    MDB_val v = {hn + evn, NULL};
    int mrc = mdb_put(t->txn, t->s->dbi[KC_DB_LOG], &k, &v, MDB_APPEND | MDB_RESERVE);
    if (mrc != MDB_SUCCESS)
        return kc_store_put_err(t, mrc, "append to log");
    uint8_t *p = v.mv_data;
    memcpy(p, hdr, hn);
    if (evn)
        memcpy(p + hn, e->event, evn);
    t->app_valid = true; /* the next append's delta is from this time */
    t->app_off = t->log_next;
    t->app_ns = e->received_ns;
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
