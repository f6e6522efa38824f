/* kc_store_state.c - de-duplication state: producers, identities, rejects;
 * and the units table (last report of each province unit) and the periods
 * table (the reporting cycle of a unit's month), at the end.
 *
 * DESIGN (layouts; integers little-endian unless said, no padding)
 *   producers   key   producer id bytes (1..255, no NUL)
 *               value 48 bytes: hwm, last_seen_ns, accepted, duplicates, rejected, epoch
 *                     (u64 each)
 *   idents/NN   one database per unit key NN (2 lower-case hex digits;
 *               kc_ref_unit_key), created by the unit's first put (kc_store.c)
 *               key   event_id bytes (1..510); the unit is the database's
 *               value identity layout 3 (store format 4), 2..49 bytes:
 *                 flags   bits 0-1 state (0 live, 1 superseded, 2 retracted),
 *                         bits 2-3 op (kcpipe.v1.Op: 0 record, 1 correction,
 *                         2 retraction), bits 4-5 effective kind (0 = read it from
 *                         the event, 1 actual, 2 plan), bit 6 prev present,
 *                         bit 7 explicit content hash present
 *                 varint  log offset of the version (LEB128)
 *                 [prev unit (1 byte, 1..255) + varint prev offset]   if bit 6
 *                 [next unit (1 byte, 1..255) + varint next offset]   unless live
 *                 [16-byte content hash]                              if bit 7
 *               nothing after; anything else is KC_EFORMAT. A live record with
 *               no previous version at offset < 2^21 takes 4 bytes (layout 2:
 *               45, with the hash). The content hash (kcpipe's business dedup:
 *               same content = duplicate, else event_id_conflict) is not
 *               stored: kc_txn_identity_get unpacks the Event logged at the
 *               offset and checks that its event_id is the identity's
 *               (KC_EFORMAT if not: a corrupt store), and returns hashed = 0;
 *               the hash is the ledger's rule, recomputed by core
 *               (kc_identity_hash) when its dedup finds an existing identity.
 *               Reads of an existing identity are rare on the ingest path (a
 *               repeated event_id; resends are caught by the producer hwm
 *               before), corrections' targets and history walks. The hash never
 *               decides whether an event counts (an existing identity is never
 *               counted again), only which of the two reasons a repeat gets.
 *               Bit 7 is written only by the 3 -> 4 migration, for an identity
 *               whose stored hash is not the recomputed one (rules changed since
 *               it was accepted), so that its answer does not change; such a
 *               record reads back with hashed = 1.
 *               Identities put ahead of their log append in the same txn (the
 *               aggregator puts them before it appends) are kept in
 *               kc_txn_t.id_pend (offset, unit, event_id, hash) until then, so
 *               that a read before the append still answers exactly (with the
 *               hash as put: hashed = 1).
 *               Puts: a unit's event_ids mostly arrive in increasing byte
 *               order (field offices number them so), so each is tried as an
 *               append (MDB_APPEND: LMDB compares it with the database's last
 *               key and, if greater, adds it at the end and splits a full last
 *               page at the end, leaving the pages full, as with keys in
 *               order); MDB_KEYEXIST (not greater: out of order, or an update
 *               of an existing identity) falls back to an ordinary put. A
 *               single table keyed unit + event_id left pages ~57% full: each
 *               unit's new keys land mid-tree, where LMDB splits in the middle.
 *               Format <= 3 used the table "identities", layouts 1 (24 bytes)
 *               and 2 (45 bytes, offset + hash + links); kc_store_migrate.c
 *               reads them.
 *               A chain links versions by (unit, log offset): the event_id of
 *               the version at an offset is read from its log entry.
 *   rejects     key   producer id bytes + 0x00 + epoch (u64 BE) + seq (u64 BE): a
 *                     producer's rejects sort together, by spool epoch and sequence
 *               value layout 1 (kc_txn_reject_put; every record before issue 16):
 *                       reason (u16) + text bytes (no NUL; may be empty)
 *                     layout 2 (kc_txn_reject_add; the aggregator since issue 16):
 *                       reason (u16) + text bytes (no NUL) + 0x00 + 0x02 (layout)
 *                       + received_ns (u64: the commit's time) + province (u8:
 *                       the event's code 1..99 if it parsed, else 0) + period
 *                       (u32 yyyymm of the event if it had a valid year and
 *                       month, else 0) + event_id length (u8, 0..64: 0 = none)
 *                       + the event_id's first bytes (cut at 64)
 *                     A layout-1 text never holds a NUL (put wrote strlen bytes),
 *                     so the first NUL after the reason marks layout 2; after it
 *                     exactly the fields above, anything else is KC_EFORMAT. The
 *                     marker sits after the text rather than before it so that
 *                     a reader of layout 1 (an older kcpipe: reason + text
 *                     copied into a C string) reads a layout-2 record's reason
 *                     and text unchanged (its string ends at the NUL); a
 *                     leading marker would have been read as a reason (old
 *                     records may hold any reason 0..65535). A layout-1
 *                     record reads back with has_details false (time,
 *                     province, period, event_id unknown).
 * These records are written in the same transaction as the log and totals
 * (kc_store_write), which is what makes "counted" and "remembered as counted"
 * inseparable.
 */
#include "kc_store_int.h"

#include "kc_err.h"
#include "kc_log.h"
#include "kc_wire.h"
#include "kcpipe/v1/kcpipe.pb-c.h"

#include <stdlib.h>
#include <string.h>

#define KC_PRODUCER_MAX 255                /* LMDB keys are at most 511 bytes */
#define S_ID_MAX        KC_ID_EVENT_ID_MAX /* the store takes event_ids of 1..510 bytes */
#define KC_PRODUCER_VAL 48
#define S_IDF_PREV      0x40 /* identity layout 3 flags: prev_unit + prev follow */
#define S_IDF_HASH      0x80 /* the 16-byte content hash follows (migrated, see DESIGN) */
#define S_IDV_MAX       (1 + 10 + 11 + 11 + 16)

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

static int s_identity_args(uint8_t province, const char *event_id, size_t len)
{
    (void)province;
    return (!event_id || len == 0 || len > S_ID_MAX) ? KC_EINVAL : 0;
}

/* Identity layout 3 (format 4); returns its length. explicit_hash: store
 * id->hash too (flag S_IDF_HASH; only the 3 -> 4 migration does). */
static size_t s_identity_encode(uint8_t *vb, const kc_identity_t *id, bool explicit_hash)
{
    bool prev = id->prev_unit != 0, next = id->state != KC_ID_LIVE;
    size_t n = 1;
    vb[0] = (uint8_t)(id->state | id->op << 2 | id->kind << 4 | (prev ? S_IDF_PREV : 0) |
                      (explicit_hash ? S_IDF_HASH : 0));
    n += kc_wire_varint_put(vb + n, id->offset);
    if (prev) {
        vb[n++] = id->prev_unit;
        n += kc_wire_varint_put(vb + n, id->prev);
    }
    if (next) {
        vb[n++] = id->next_unit;
        n += kc_wire_varint_put(vb + n, id->next);
    }
    if (explicit_hash) {
        memcpy(vb + n, id->hash, sizeof id->hash);
        n += sizeof id->hash;
    }
    return n;
}

/* Decode layout 3; *has_hash: the record carries its hash (else core
 * recomputes it: kc_identity_t.hashed). */
static int s_identity_decode(const kc_txn_t *t, const MDB_val *v, kc_identity_t *id, bool *has_hash)
{
    const uint8_t *p = v->mv_data, *end = p + v->mv_size;
    memset(id, 0, sizeof *id);
    size_t n = 0, m;
    if (v->mv_size < 2)
        goto bad;
    uint8_t f = p[n++];
    id->state = f & 3;
    id->op = (f >> 2) & 3;
    id->kind = (f >> 4) & 3;
    if (id->state > KC_ID_RETRACTED || id->op > 2 || id->kind > 2)
        goto bad;
    if (!(m = kc_wire_varint_get_strict(p + n, end, &id->offset)))
        goto bad;
    n += m;
    if (f & S_IDF_PREV) {
        if (p + n >= end || !(id->prev_unit = p[n++]) ||
            !(m = kc_wire_varint_get_strict(p + n, end, &id->prev)))
            goto bad;
        n += m;
    }
    if (id->state != KC_ID_LIVE) {
        if (p + n >= end || !(id->next_unit = p[n++]) ||
            !(m = kc_wire_varint_get_strict(p + n, end, &id->next)))
            goto bad;
        n += m;
    }
    *has_hash = (f & S_IDF_HASH) != 0;
    if (*has_hash) {
        if ((size_t)(end - (p + n)) < sizeof id->hash)
            goto bad;
        memcpy(id->hash, p + n, sizeof id->hash);
        n += sizeof id->hash;
    }
    if (p + n != end)
        goto bad;
    return 0;
bad:
    kc_error("store %s: malformed identity record of %zu bytes", t->s->dir, v->mv_size);
    memset(id, 0, sizeof *id);
    return KC_EFORMAT;
}

/* The event logged at `offset`, unpacked (caller frees); KC_EFORMAT (logged)
 * if the log has no decodable event there. */
static int s_event_at(kc_txn_t *t, uint64_t offset, Kcpipe__V1__Event **out)
{
    kc_log_entry_t e;
    int rc = kc_txn_log_get(t, offset, &e);
    if (rc == KC_ENOTFOUND) {
        kc_error("store %s: an identity names log offset %llu, which is not in the log", t->s->dir,
                 (unsigned long long)offset);
        return KC_EFORMAT;
    }
    if (rc != 0)
        return rc;
    *out = kcpipe__v1__event__unpack(NULL, e.event_len, e.event);
    if (!*out || !(*out)->event_id) {
        if (*out)
            kcpipe__v1__event__free_unpacked(*out, NULL);
        *out = NULL;
        kc_error("store %s: log entry %llu has no decodable event_id", t->s->dir,
                 (unsigned long long)offset);
        return KC_EFORMAT;
    }
    return 0;
}

/* Check that the record *id of (unit, event_id) names a logged event with that
 * event_id: 1, 0 if the event at id->offset has another event_id (a corrupt
 * store), or a negative KC_E*. Identities put in this txn ahead of their log
 * append are answered from t->id_pend, with their hash (id->hashed = 1,
 * unless has_hash: the record's own). */
static int s_identity_resolve(kc_txn_t *t, uint8_t unit, const char *event_id, size_t len,
                              kc_identity_t *id, bool has_hash)
{
    for (unsigned i = 0; i < t->id_npend; i++) {
        const kc_id_pending_t *pd = &t->id_pend[i];
        if (pd->offset != id->offset)
            continue;
        if (pd->unit != unit || pd->len != len || memcmp(pd->event_id, event_id, len) != 0)
            return 0;
        if (!has_hash)
            memcpy(id->hash, pd->hash, sizeof id->hash);
        id->hashed = 1;
        return 1;
    }
    Kcpipe__V1__Event *ev = NULL;
    int rc = s_event_at(t, id->offset, &ev);
    if (rc != 0)
        return rc;
    rc = strlen(ev->event_id) == len && memcmp(ev->event_id, event_id, len) == 0;
    kcpipe__v1__event__free_unpacked(ev, NULL);
    id->hashed = has_hash;
    return rc;
}

/* Remember an identity put ahead of its log append (see s_identity_resolve). */
static int s_identity_pending(kc_txn_t *t, uint8_t unit, const char *event_id, size_t len,
                              const kc_identity_t *id)
{
    uint64_t size;
    int rc = kc_txn_log_size(t, &size);
    if (rc != 0)
        return rc;
    if (!t->log_next_known) {
        t->log_next = size; /* the same cache kc_txn_log_append keeps */
        t->log_next_known = true;
    }
    unsigned keep = 0;
    for (unsigned i = 0; i < t->id_npend; i++) /* drop the ones appended since */
        if (t->id_pend[i].offset >= size && t->id_pend[i].offset != id->offset)
            t->id_pend[keep++] = t->id_pend[i];
    t->id_npend = keep;
    if (id->offset < size)
        return 0;
    if (t->id_npend == KC_ID_PENDING) {
        kc_error("store %s: more than %d identities put ahead of their log entries", t->s->dir,
                 KC_ID_PENDING);
        return KC_EINVAL;
    }
    kc_id_pending_t *pd = &t->id_pend[t->id_npend++];
    pd->offset = id->offset;
    pd->unit = unit;
    pd->len = (uint16_t)len;
    memcpy(pd->hash, id->hash, sizeof pd->hash);
    memcpy(pd->event_id, event_id, len);
    return 0;
}

static int s_identity_put(kc_txn_t *t, uint8_t province, const char *event_id, size_t len,
                          const kc_identity_t *id, bool explicit_hash)
{
    int rc = kc_store_check_write(t);
    if (rc != 0)
        return rc;
    if (!id || s_identity_args(province, event_id, len) != 0 || id->state > KC_ID_RETRACTED ||
        id->op > 2 || id->kind > 2 || (id->state != KC_ID_LIVE && !id->next_unit) || t->s->no_fmt4)
        return KC_EINVAL;
    MDB_dbi dbi;
    if ((rc = kc_store_unit_dbi(t, province, true, &dbi)) != 0)
        return rc;
    uint8_t vb[S_IDV_MAX];
    MDB_val k = {len, (void *)event_id};
    MDB_val v = {s_identity_encode(vb, id, explicit_hash), vb};
    int mrc = mdb_put(t->txn, dbi, &k, &v, MDB_APPEND); /* past the unit's last key: append */
    if (mrc == MDB_KEYEXIST) {                          /* not past it: an ordinary put */
        v.mv_data = vb; /* (LMDB leaves k and v as they were; no need to rely on it) */
        v.mv_size = s_identity_encode(vb, id, explicit_hash);
        k.mv_data = (void *)event_id;
        k.mv_size = len;
        mrc = mdb_put(t->txn, dbi, &k, &v, 0);
    }
    if (mrc != MDB_SUCCESS)
        return kc_store_put_err(t, mrc, "write identity");
    return s_identity_pending(t, province, event_id, len, id);
}

int kc_txn_identity_put(kc_txn_t *t, uint8_t province, const char *event_id, size_t len,
                        const kc_identity_t *id)
{
    return s_identity_put(t, province, event_id, len, id, false);
}

int kc_store_identity_append(kc_txn_t *t, uint8_t unit, const char *event_id, size_t len,
                             const kc_identity_t *id, bool explicit_hash)
{
    return s_identity_put(t, unit, event_id, len, id, explicit_hash);
}

int kc_store_identity_confirm(kc_txn_t *t, uint8_t unit, const char *event_id, size_t len,
                              kc_identity_t *id)
{
    int rc = s_identity_resolve(t, unit, event_id, len, id, false);
    if (rc == 0) {
        kc_error("store %s: identity %u/'%.*s' names log offset %llu, another event's", t->s->dir,
                 unit, (int)(len > 64 ? 64 : len), event_id, (unsigned long long)id->offset);
        return KC_EFORMAT;
    }
    return rc < 0 ? rc : 0;
}

int kc_txn_identity_get(kc_txn_t *t, uint8_t province, const char *event_id, size_t len,
                        kc_identity_t *id)
{
    if (!t || !t->txn || !id)
        return KC_EINVAL;
    memset(id, 0, sizeof *id);
    if (s_identity_args(province, event_id, len) != 0)
        return KC_EINVAL;
    if (t->s->no_fmt4)
        return KC_ENOTFOUND; /* an older store opened for kc-admin */
    MDB_dbi dbi;
    int rc0 = kc_store_unit_dbi(t, province, false, &dbi);
    if (rc0 != 0)
        return rc0; /* KC_ENOTFOUND: no identity of that unit in this snapshot */
    MDB_val k = {len, (void *)event_id}, v;
    int mrc = mdb_get(t->txn, dbi, &k, &v);
    if (mrc != MDB_SUCCESS)
        return kc_store_err(t->s, mrc, "read identity");
    bool hh;
    int rc = s_identity_decode(t, &v, id, &hh);
    if (rc == 0 && (rc = s_identity_resolve(t, province, event_id, len, id, hh)) == 0) {
        kc_error("store %s: identity %u/'%.*s' names log offset %llu, another event's", t->s->dir,
                 province, (int)(len > 64 ? 64 : len), event_id, (unsigned long long)id->offset);
        rc = KC_EFORMAT;
    }
    if (rc < 0) {
        memset(id, 0, sizeof *id);
        return rc;
    }
    return 0;
}

/* ---- version history ---- */

#define S_HISTORY_MAX_STEPS 1000000 /* a longer chain is taken for a loop (corrupt store) */

/* The event_id of the version logged at `offset` (a heap copy in *out, to be
 * freed by the caller, with its length). */
static int s_event_id_at(kc_txn_t *t, uint64_t offset, char **out, size_t *len)
{
    kc_log_entry_t e;
    int rc = kc_txn_log_get(t, offset, &e);
    if (rc != 0)
        return rc == KC_ENOTFOUND ? KC_EFORMAT : rc;
    Kcpipe__V1__Event *ev = kcpipe__v1__event__unpack(NULL, e.event_len, e.event);
    if (!ev || !ev->event_id || !ev->event_id[0]) {
        if (ev)
            kcpipe__v1__event__free_unpacked(ev, NULL);
        kc_error("store %s: log entry %llu has no decodable event_id", t->s->dir,
                 (unsigned long long)offset);
        return KC_EFORMAT;
    }
    *len = strlen(ev->event_id);
    *out = strdup(ev->event_id);
    kcpipe__v1__event__free_unpacked(ev, NULL);
    return *out ? 0 : KC_ENOMEM;
}

/* The version (unit, event at offset): its event_id (heap copy) and identity,
 * which must name that offset. */
static int s_version_at(kc_txn_t *t, uint8_t unit, uint64_t offset, char **id_out, size_t *len,
                        kc_identity_t *idn)
{
    int rc = s_event_id_at(t, offset, id_out, len);
    if (rc != 0)
        return rc;
    rc = kc_txn_identity_get(t, unit, *id_out, *len, idn);
    if (rc == 0 && idn->offset != offset)
        rc = KC_EFORMAT;
    if (rc != 0) {
        if (rc == KC_ENOTFOUND || rc == KC_EFORMAT)
            kc_error("store %s: version chain broken at log offset %llu (unit %u)", t->s->dir,
                     (unsigned long long)offset, unit);
        free(*id_out);
        *id_out = NULL;
        return rc == KC_ENOTFOUND ? KC_EFORMAT : rc;
    }
    return 0;
}

int kc_txn_history(kc_txn_t *t, uint8_t unit, const char *event_id, size_t len,
                   int (*fn)(const kc_version_t *v, void *ctx), void *ctx)
{
    if (!t || !t->txn || !fn)
        return KC_EINVAL;
    kc_identity_t idn;
    int rc = kc_txn_identity_get(t, unit, event_id, len, &idn);
    if (rc != 0)
        return rc;
    char *cur_id = malloc(len + 1);
    if (!cur_id)
        return KC_ENOMEM;
    memcpy(cur_id, event_id, len);
    cur_id[len] = '\0';
    size_t cur_len = len;
    uint8_t cur_unit = unit;
    /* back to the first version */
    for (long steps = 0; rc == 0 && idn.prev_unit != 0; steps++) {
        if (steps > S_HISTORY_MAX_STEPS) {
            rc = KC_EFORMAT;
            break;
        }
        char *pid;
        size_t plen;
        uint8_t punit = idn.prev_unit;
        kc_identity_t pidn;
        if ((rc = s_version_at(t, punit, idn.prev, &pid, &plen, &pidn)) != 0)
            break;
        free(cur_id);
        cur_id = pid;
        cur_len = plen;
        cur_unit = punit;
        idn = pidn;
    }
    /* then forward, calling fn for each */
    for (long steps = 0; rc == 0; steps++) {
        if (steps > S_HISTORY_MAX_STEPS) {
            rc = KC_EFORMAT;
            break;
        }
        kc_log_entry_t e;
        if ((rc = kc_txn_log_get(t, idn.offset, &e)) != 0) {
            rc = rc == KC_ENOTFOUND ? KC_EFORMAT : rc;
            break;
        }
        kc_version_t v = {.offset = idn.offset,
                          .received_ns = e.received_ns,
                          .unit = cur_unit,
                          .event_id = cur_id,
                          .event_id_len = cur_len,
                          .id = &idn};
        if ((rc = fn(&v, ctx)) != 0 || idn.state == KC_ID_LIVE)
            break;
        char *nid;
        size_t nlen;
        uint8_t nunit = idn.next_unit;
        kc_identity_t nidn;
        if ((rc = s_version_at(t, nunit, idn.next, &nid, &nlen, &nidn)) != 0)
            break;
        free(cur_id);
        cur_id = nid;
        cur_len = nlen;
        cur_unit = nunit;
        idn = nidn;
    }
    free(cur_id);
    return rc;
}

/* ---- rejects ---- */

#define KC_REJECT_KEY_MAX (KC_PRODUCER_MAX + 17)
#define S_REJ_LAYOUT2     0x02 /* the byte after the NUL of a layout-2 value */
#define S_REJ2_FIXED      15   /* layout, received_ns, province, period, event_id length */

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

int kc_txn_reject_add(kc_txn_t *t, const kc_reject_t *r)
{
    int rc = kc_store_check_write(t);
    if (rc != 0)
        return rc;
    if (!r)
        return KC_EINVAL;
    uint8_t kb[KC_REJECT_KEY_MAX];
    size_t kn = s_reject_key(kb, r->producer, r->epoch, r->seq);
    if (kn == 0 || r->reason < 0 || r->reason > UINT16_MAX || r->period < 0)
        return KC_EINVAL;
    size_t tn = r->text ? strlen(r->text) : 0;
    size_t en = r->event_id ? strlen(r->event_id) : 0;
    if (en > KC_REJECT_EVENT_ID_MAX)
        en = KC_REJECT_EVENT_ID_MAX; /* bounded: the Ack's copy is cut there too */
    MDB_val k = {kn, kb}, v = {2 + tn + 1 + S_REJ2_FIXED + en, NULL};
    int mrc = mdb_put(t->txn, t->s->dbi[KC_DB_REJECTS], &k, &v, MDB_RESERVE);
    if (mrc != MDB_SUCCESS)
        return kc_store_put_err(t, mrc, "write reject");
    uint8_t *p = v.mv_data;
    p[0] = (uint8_t)r->reason;
    p[1] = (uint8_t)(r->reason >> 8);
    if (tn)
        memcpy(p + 2, r->text, tn);
    uint8_t *q = p + 2 + tn;
    *q++ = 0x00;
    q[0] = S_REJ_LAYOUT2;
    kc_le64_put(q + 1, r->received_ns);
    q[9] = r->province;
    uint32_t per = (uint32_t)r->period;
    q[10] = (uint8_t)per;
    q[11] = (uint8_t)(per >> 8);
    q[12] = (uint8_t)(per >> 16);
    q[13] = (uint8_t)(per >> 24);
    q[14] = (uint8_t)en;
    if (en)
        memcpy(q + S_REJ2_FIXED, r->event_id, en);
    return 0;
}

/* Decode a reject value (both layouts, see DESIGN) into *r (reason, text,
 * details; pointers borrow v). KC_EFORMAT if malformed. */
static int s_reject_decode(const kc_txn_t *t, const MDB_val *v, kc_reject_t *r)
{
    const uint8_t *p = v->mv_data;
    size_t n = v->mv_size;
    if (n < 2) {
        kc_error("store %s: reject record of %zu bytes", t->s->dir, n);
        return KC_EFORMAT;
    }
    r->reason = p[0] | (p[1] << 8);
    r->duplicate = r->reason == KCPIPE__V1__REASON__REASON_DUPLICATE;
    r->text = (const char *)p + 2;
    const uint8_t *nul = memchr(p + 2, 0, n - 2);
    if (!nul) { /* layout 1 */
        r->text_len = n - 2;
        r->has_details = false;
        r->received_ns = 0;
        r->province = 0;
        r->period = 0;
        r->event_id = NULL;
        r->event_id_len = 0;
        return 0;
    }
    r->text_len = (size_t)(nul - (p + 2));
    size_t rest = n - (size_t)(nul - p) - 1; /* bytes after the NUL */
    const uint8_t *q = nul + 1;
    if (rest < S_REJ2_FIXED || q[0] != S_REJ_LAYOUT2 ||
        q[S_REJ2_FIXED - 1] > KC_REJECT_EVENT_ID_MAX ||
        rest != (size_t)S_REJ2_FIXED + q[S_REJ2_FIXED - 1]) {
        kc_error("store %s: malformed reject record (%zu bytes)", t->s->dir, n);
        return KC_EFORMAT;
    }
    r->has_details = true;
    r->received_ns = kc_le64_get(q + 1);
    r->province = q[9];
    r->period =
        (int32_t)(q[10] | (uint32_t)q[11] << 8 | (uint32_t)q[12] << 16 | (uint32_t)q[13] << 24);
    r->event_id_len = q[14];
    r->event_id = r->event_id_len ? (const char *)q + S_REJ2_FIXED : NULL;
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
    kc_reject_t r;
    int rc = s_reject_decode(t, &v, &r);
    if (rc != 0)
        return rc;
    if (reason)
        *reason = r.reason;
    if (text && cap) {
        size_t n = r.text_len < cap - 1 ? r.text_len : cap - 1; /* truncate to fit */
        memcpy(text, r.text, n);
        text[n] = '\0';
    }
    return 0;
}

int kc_txn_reject_scan(kc_txn_t *t, int (*fn)(const kc_reject_t *r, void *ctx), void *ctx)
{
    if (!t || !t->txn || !fn)
        return KC_EINVAL;
    MDB_cursor *c;
    int mrc = mdb_cursor_open(t->txn, t->s->dbi[KC_DB_REJECTS], &c);
    if (mrc != MDB_SUCCESS)
        return kc_store_err(t->s, mrc, "open rejects cursor");
    MDB_val k, v;
    int rc = 0;
    for (mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST); mrc == MDB_SUCCESS;
         mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        const uint8_t *kb = k.mv_data;
        if (k.mv_size < 18 || k.mv_size > KC_REJECT_KEY_MAX || kb[k.mv_size - 17] != 0x00 ||
            memchr(kb, 0, k.mv_size - 17)) {
            kc_error("store %s: malformed reject key", t->s->dir);
            rc = KC_EFORMAT;
            break;
        }
        kc_reject_t r;
        if ((rc = s_reject_decode(t, &v, &r)) != 0)
            break;
        r.producer = (const char *)kb;
        r.producer_len = k.mv_size - 17;
        r.epoch = kc_be64_get(kb + k.mv_size - 16);
        r.seq = kc_be64_get(kb + k.mv_size - 8);
        if ((rc = fn(&r, ctx)) != 0)
            break;
    }
    if (rc == 0 && mrc != MDB_NOTFOUND)
        rc = kc_store_err(t->s, mrc, "scan rejects");
    mdb_cursor_close(c);
    return rc;
}

/* ---- units (last report of a province unit) ----
 *   key   unit key (1 byte, kc_ref_unit_key; 1..199)
 *   value 24 bytes: last_report_ns, last_offset, events (u64 LE each)
 * A store written before this table existed has no "units" database: a writer
 * creates it when it opens the store; a read-only open reads it as empty. */

#define KC_UNIT_VAL 24

static void s_unit_decode(const uint8_t *p, kc_unit_state_t *st)
{
    st->last_report_ns = kc_le64_get(p);
    st->last_offset = kc_le64_get(p + 8);
    st->events = kc_le64_get(p + 16);
}

int kc_txn_unit_put(kc_txn_t *t, uint8_t unit, const kc_unit_state_t *st)
{
    int rc = kc_store_check_write(t);
    if (rc != 0)
        return rc;
    if (unit == 0 || !st)
        return KC_EINVAL;
    uint8_t vb[KC_UNIT_VAL];
    kc_le64_put(vb, st->last_report_ns);
    kc_le64_put(vb + 8, st->last_offset);
    kc_le64_put(vb + 16, st->events);
    MDB_val k = {1, &unit}, v = {sizeof vb, vb};
    return kc_store_put_err(t, mdb_put(t->txn, t->s->dbi[KC_DB_UNITS], &k, &v, 0),
                            "write unit state");
}

int kc_txn_unit_get(kc_txn_t *t, uint8_t unit, kc_unit_state_t *st)
{
    if (!t || !t->txn || !st)
        return KC_EINVAL;
    memset(st, 0, sizeof *st);
    if (t->s->no_units)
        return KC_ENOTFOUND;
    MDB_val k = {1, &unit}, v;
    int mrc = mdb_get(t->txn, t->s->dbi[KC_DB_UNITS], &k, &v);
    if (mrc != MDB_SUCCESS)
        return kc_store_err(t->s, mrc, "read unit state");
    if (v.mv_size != KC_UNIT_VAL) {
        kc_error("store %s: unit state of %zu bytes", t->s->dir, v.mv_size);
        return KC_EFORMAT;
    }
    s_unit_decode(v.mv_data, st);
    return 0;
}

int kc_txn_unit_scan(kc_txn_t *t, int (*fn)(uint8_t unit, const kc_unit_state_t *st, void *ctx),
                     void *ctx)
{
    if (!t || !t->txn || !fn)
        return KC_EINVAL;
    if (t->s->no_units)
        return 0;
    MDB_cursor *c;
    int mrc = mdb_cursor_open(t->txn, t->s->dbi[KC_DB_UNITS], &c);
    if (mrc != MDB_SUCCESS)
        return kc_store_err(t->s, mrc, "open units cursor");
    MDB_val k, v;
    int rc = 0;
    for (mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST); mrc == MDB_SUCCESS;
         mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (k.mv_size != 1 || v.mv_size != KC_UNIT_VAL) {
            kc_error("store %s: malformed unit record", t->s->dir);
            rc = KC_EFORMAT;
            break;
        }
        kc_unit_state_t st;
        s_unit_decode(v.mv_data, &st);
        if ((rc = fn(*(const uint8_t *)k.mv_data, &st, ctx)) != 0)
            break;
    }
    if (rc == 0 && mrc != MDB_NOTFOUND)
        rc = kc_store_err(t->s, mrc, "scan units");
    mdb_cursor_close(c);
    return rc;
}

/* ---- periods (the reporting cycle of a province unit's month) ----
 *   key   5 bytes: unit key (1..199), yyyymm (u32 big-endian: a scan runs in
 *         (unit, period) order)
 *   value 64 bytes: layout (1), state, 2 zero bytes, signoffs, approvals,
 *         reopens (u32 LE each), then signoff_offset, signoff_ns,
 *         approval_offset, approval_ns, reopen_offset, reopen_ns (u64 LE)
 * A store written before this table existed has none: a writer creates it
 * when it opens the store; a read-only open reads it as empty. */

#define KC_PERIOD_KEY    5
#define KC_PERIOD_VAL    64
#define KC_PERIOD_LAYOUT 1

static bool s_period_ok(uint8_t unit, int32_t yyyymm)
{
    int32_t m = yyyymm % 100;
    return unit != 0 && yyyymm >= 200001 && yyyymm <= 210012 && m >= 1 && m <= 12;
}

static void s_period_key(uint8_t kb[KC_PERIOD_KEY], uint8_t unit, int32_t yyyymm)
{
    uint32_t p = (uint32_t)yyyymm;
    kb[0] = unit;
    kb[1] = (uint8_t)(p >> 24);
    kb[2] = (uint8_t)(p >> 16);
    kb[3] = (uint8_t)(p >> 8);
    kb[4] = (uint8_t)p;
}

static uint32_t s_le32_get(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void s_le32_put(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static int s_period_decode(kc_store_t *s, const MDB_val *v, kc_period_state_t *st)
{
    const uint8_t *p = v->mv_data;
    if (v->mv_size != KC_PERIOD_VAL || p[0] != KC_PERIOD_LAYOUT || p[1] > KC_PERIOD_REOPENED) {
        kc_error("store %s: malformed period record (%zu bytes)", s->dir, v->mv_size);
        return KC_EFORMAT;
    }
    st->state = p[1];
    st->signoffs = s_le32_get(p + 4);
    st->approvals = s_le32_get(p + 8);
    st->reopens = s_le32_get(p + 12);
    st->signoff_offset = kc_le64_get(p + 16);
    st->signoff_ns = kc_le64_get(p + 24);
    st->approval_offset = kc_le64_get(p + 32);
    st->approval_ns = kc_le64_get(p + 40);
    st->reopen_offset = kc_le64_get(p + 48);
    st->reopen_ns = kc_le64_get(p + 56);
    return 0;
}

int kc_txn_period_put(kc_txn_t *t, uint8_t unit, int32_t yyyymm, const kc_period_state_t *st)
{
    int rc = kc_store_check_write(t);
    if (rc != 0)
        return rc;
    if (!st || !s_period_ok(unit, yyyymm) || st->state > KC_PERIOD_REOPENED)
        return KC_EINVAL;
    uint8_t kb[KC_PERIOD_KEY], vb[KC_PERIOD_VAL] = {KC_PERIOD_LAYOUT, st->state};
    s_period_key(kb, unit, yyyymm);
    s_le32_put(vb + 4, st->signoffs);
    s_le32_put(vb + 8, st->approvals);
    s_le32_put(vb + 12, st->reopens);
    kc_le64_put(vb + 16, st->signoff_offset);
    kc_le64_put(vb + 24, st->signoff_ns);
    kc_le64_put(vb + 32, st->approval_offset);
    kc_le64_put(vb + 40, st->approval_ns);
    kc_le64_put(vb + 48, st->reopen_offset);
    kc_le64_put(vb + 56, st->reopen_ns);
    MDB_val k = {sizeof kb, kb}, v = {sizeof vb, vb};
    return kc_store_put_err(t, mdb_put(t->txn, t->s->dbi[KC_DB_PERIODS], &k, &v, 0),
                            "write period state");
}

int kc_txn_period_get(kc_txn_t *t, uint8_t unit, int32_t yyyymm, kc_period_state_t *st)
{
    if (!t || !t->txn || !st)
        return KC_EINVAL;
    memset(st, 0, sizeof *st);
    if (!s_period_ok(unit, yyyymm))
        return KC_EINVAL;
    if (t->s->no_periods)
        return KC_ENOTFOUND;
    uint8_t kb[KC_PERIOD_KEY];
    s_period_key(kb, unit, yyyymm);
    MDB_val k = {sizeof kb, kb}, v;
    int mrc = mdb_get(t->txn, t->s->dbi[KC_DB_PERIODS], &k, &v);
    if (mrc != MDB_SUCCESS)
        return kc_store_err(t->s, mrc, "read period state");
    int rc = s_period_decode(t->s, &v, st);
    if (rc != 0)
        memset(st, 0, sizeof *st);
    return rc;
}

int kc_txn_period_scan(kc_txn_t *t,
                       int (*fn)(uint8_t unit, int32_t yyyymm, const kc_period_state_t *st,
                                 void *ctx),
                       void *ctx)
{
    if (!t || !t->txn || !fn)
        return KC_EINVAL;
    if (t->s->no_periods)
        return 0;
    MDB_cursor *c;
    int mrc = mdb_cursor_open(t->txn, t->s->dbi[KC_DB_PERIODS], &c);
    if (mrc != MDB_SUCCESS)
        return kc_store_err(t->s, mrc, "open periods cursor");
    MDB_val k, v;
    int rc = 0;
    for (mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST); mrc == MDB_SUCCESS;
         mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        kc_period_state_t st;
        if (k.mv_size != KC_PERIOD_KEY) {
            kc_error("store %s: malformed period key", t->s->dir);
            rc = KC_EFORMAT;
            break;
        }
        if ((rc = s_period_decode(t->s, &v, &st)) != 0)
            break;
        const uint8_t *kp = k.mv_data;
        int32_t yyyymm =
            (int32_t)((uint32_t)kp[1] << 24 | (uint32_t)kp[2] << 16 | (uint32_t)kp[3] << 8 | kp[4]);
        if ((rc = fn(kp[0], yyyymm, &st, ctx)) != 0)
            break;
    }
    if (rc == 0 && mrc != MDB_NOTFOUND)
        rc = kc_store_err(t->s, mrc, "scan periods");
    mdb_cursor_close(c);
    return rc;
}
