/* kc_store_state.c - de-duplication state: producers, identities, rejects;
 * and the units table (last report of each province unit, at the end).
 *
 * DESIGN (layouts; integers little-endian unless said, no padding)
 *   producers   key   producer id bytes (1..255, no NUL)
 *               value 48 bytes: hwm, last_seen_ns, accepted, duplicates, rejected, epoch
 *                     (u64 each)
 *   identities  key   unit key (1 byte, kc_ref_unit_key) + event_id bytes (1..510)
 *               value 45 bytes (identity layout 2, written by this code):
 *                 0..7    log offset of the version (u64)
 *                 8..23   content hash (16 bytes)
 *                 24      state: 0 live, 1 superseded, 2 retracted
 *                 25      op of the version (kcpipe.v1.Op: 0 record, 1 correction,
 *                         2 retraction)
 *                 26      effective kind (1 actual, 2 plan; a correction may inherit it)
 *                 27      prev unit: unit key of the version this one corrects or
 *                         retracts; 0 = none (unit keys are 1..199, never 0)
 *                 28      next unit: unit key of the version that superseded or
 *                         retracted this one; 0 while live
 *                 29..36  prev: that earlier version's log offset (u64; 0 if none)
 *                 37..44  next: the later version's log offset (u64; 0 while live)
 *               or 24 bytes (identity layout 1, store format 1): offset + hash
 *               only; read back as a live record with no previous version
 *               (kind 0 = read it from the event). Any other size is KC_EFORMAT.
 *               A chain links versions by (unit, log offset): the event_id of
 *               the version at an offset is read from its log entry.
 *               (The store format number is bumped with the Merkle log work;
 *               this layout is part of that bump.)
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
#include "kcpipe/v1/kcpipe.pb-c.h"

#include <stdlib.h>
#include <string.h>

#define KC_PRODUCER_MAX 255 /* LMDB keys are at most 511 bytes */
#define KC_EVENT_ID_MAX 510
#define KC_PRODUCER_VAL 48
#define KC_IDENTITY_V1  24 /* offset + hash (format 1) */
#define KC_IDENTITY_VAL 45 /* layout 2, see DESIGN */

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

static int s_identity_decode(const kc_txn_t *t, const MDB_val *v, kc_identity_t *id)
{
    const uint8_t *p = v->mv_data;
    memset(id, 0, sizeof *id);
    if (v->mv_size != KC_IDENTITY_VAL && v->mv_size != KC_IDENTITY_V1) {
        kc_error("store %s: identity record of %zu bytes", t->s->dir, v->mv_size);
        return KC_EFORMAT;
    }
    id->offset = kc_le64_get(p);
    memcpy(id->hash, p + 8, sizeof id->hash);
    if (v->mv_size == KC_IDENTITY_V1)
        return 0; /* a live record, kind from its event */
    id->state = p[24];
    id->op = p[25];
    id->kind = p[26];
    id->prev_unit = p[27];
    id->next_unit = p[28];
    id->prev = kc_le64_get(p + 29);
    id->next = kc_le64_get(p + 37);
    if (id->state > KC_ID_RETRACTED || id->op > 2 || (id->state != KC_ID_LIVE && !id->next_unit)) {
        kc_error("store %s: identity record with state %u op %u", t->s->dir, id->state, id->op);
        return KC_EFORMAT;
    }
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
    vb[24] = id->state;
    vb[25] = id->op;
    vb[26] = id->kind;
    vb[27] = id->prev_unit;
    vb[28] = id->state == KC_ID_LIVE ? 0 : id->next_unit;
    kc_le64_put(vb + 29, id->prev_unit ? id->prev : 0);
    kc_le64_put(vb + 37, id->state == KC_ID_LIVE ? 0 : id->next);
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
    return s_identity_decode(t, &v, id);
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
