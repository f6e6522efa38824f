/* kc_store_migrate.c - libkcstore: format migrations (kc-admin migrate).
 *
 * DESIGN
 * Migrations run in order from the store's format to KC_STORE_FORMAT; each is
 * one kc_store_write() transaction that also writes its new format number, so
 * a crash (or an error) leaves the store at the last completed version and
 * the migration can simply be run again. A store is opened for it with
 * kc_store_opts_t.allow_old_format; no other program opens an old store.
 *
 * 2 -> 3: the units table, present and complete. Format 2 gained the units
 * table late (kc_apply writes it at each group commit), so a format-2 store
 * may lack it or have counted only the events since it appeared. It is
 * rebuilt from scratch: every event in the log was accepted, and every
 * accepted event has its own identity, whose key starts with exactly the
 * unit kc_apply credits it to (kc_ledger effect idents[0].unit =
 * kc_ref_unit_key of its province and effective period; a retraction's
 * period is the target's, which the ledger resolved when it was accepted).
 * So one pass over the identities gives per unit: events = its number of
 * identities, last_offset = the largest offset, and last_report_ns = the
 * received_ns of that log entry (kc_apply stamps both with the group's
 * time). The pass checks that the identities account for the log exactly
 * (count = log size, every offset inside the log), else KC_EFORMAT and
 * nothing is written. The work is a read of the identities plus at most 199
 * puts, so one transaction suffices at any log size (no resumable chunks).
 *
 * 3 -> 4: compact identities, no leaves. Format 4 keeps identities in one
 * database per unit, "idents/NN" (key event_id, layout 3, kc_store_state.c:
 * no stored content hash) instead of "identities" (key unit + event_id,
 * layouts 1/2, by name here: format 4 has no handle for it).
 * One pass over "identities" in key order: each record is decoded, its
 * content hash recomputed from the Event at its offset
 * (kc_store_identity_confirm: the Event must carry the identity's event_id,
 * else KC_EFORMAT and nothing is written; the hash is the caller's callback,
 * core's kc_identity_hash_txn: the store holds no ledger rules) and compared
 * with the stored one,
 * and the record appended to its unit's new database (created by its first
 * put; keys in order within each unit: MDB_APPEND, full pages) - with its
 * stored hash kept explicitly if the two
 * differ, so that no dedup answer changes. Then "identities" and "leaves"
 * (kc_mk_drop_leaves, kc_merkle.c) are dropped and "4" written. The log is
 * left as it is (layout-1 records stay readable; the Merkle leaf is computed
 * from the decoded entry, so roots and heads are unchanged). The cost is one
 * read of every logged event that has an identity (all of them) plus the
 * new table: one transaction (LMDB spills dirty pages of a large one).
 */
#include "kc_store_int.h"

#include "kc_err.h"
#include "kc_log.h"
#include "kc_merkle_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define S_FORMAT_KEY     "format"
#define S_OLD_IDENTITIES "identities" /* formats 2 and 3: unit + event_id -> layout 1/2 */
#define S_OLD_ID_V1      24           /* identity layout 1: offset + hash */
#define S_OLD_ID_V2      45           /* identity layout 2 (kc_store_state.c before format 4) */

typedef struct {
    kc_store_t *s;
    uint64_t identities;
    unsigned units;
} s_m23_t;

static int s_put_format(kc_txn_t *t, int format)
{
    char ver[16];
    int n = snprintf(ver, sizeof ver, "%d", format);
    MDB_val k = {sizeof S_FORMAT_KEY - 1, (void *)S_FORMAT_KEY}, v = {(size_t)n, ver};
    return kc_store_put_err(t, mdb_put(t->txn, t->s->dbi[KC_DB_META], &k, &v, 0),
                            "write format version");
}

static int s_migrate_2_3(kc_txn_t *t, void *ctx)
{
    s_m23_t *m = ctx;
    m->identities = 0;
    m->units = 0;
    kc_store_t *s = t->s;
    uint64_t log_size;
    int rc = kc_txn_log_size(t, &log_size);
    if (rc != 0)
        return rc;
    kc_unit_state_t st[256];
    memset(st, 0, sizeof st);
    bool seen[256] = {false};

    MDB_dbi old_ids;
    int mrc = mdb_dbi_open(t->txn, S_OLD_IDENTITIES, 0, &old_ids);
    if (mrc != MDB_SUCCESS)
        return mrc == MDB_NOTFOUND ? KC_EFORMAT : kc_store_put_err(t, mrc, "open identities");
    MDB_cursor *c;
    mrc = mdb_cursor_open(t->txn, old_ids, &c);
    if (mrc != MDB_SUCCESS)
        return kc_store_put_err(t, mrc, "open identities cursor");
    MDB_val k, v;
    for (mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST); mrc == MDB_SUCCESS;
         mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (k.mv_size < 2 || v.mv_size < 8) {
            mdb_cursor_close(c);
            kc_error("store %s: malformed identity record", s->dir);
            return KC_EFORMAT;
        }
        uint8_t unit = *(const uint8_t *)k.mv_data;
        uint64_t off = kc_le64_get(v.mv_data);
        if (unit == 0 || off >= log_size) {
            mdb_cursor_close(c);
            kc_error("store %s: identity of unit %u names log offset %" PRIu64 " (log size %" PRIu64
                     "): cannot rebuild the units table",
                     s->dir, unit, off, log_size);
            return KC_EFORMAT;
        }
        m->identities++;
        if (!seen[unit]) {
            seen[unit] = true;
            m->units++;
        }
        st[unit].events++;
        if (st[unit].events == 1 || off > st[unit].last_offset)
            st[unit].last_offset = off;
    }
    mdb_cursor_close(c);
    if (mrc != MDB_NOTFOUND)
        return kc_store_put_err(t, mrc, "scan identities");
    if (m->identities != log_size) {
        kc_error("store %s: %" PRIu64 " identities for %" PRIu64
                 " log entries (every logged event has its own): cannot rebuild the units table",
                 s->dir, m->identities, log_size);
        return KC_EFORMAT;
    }
    if ((mrc = mdb_drop(t->txn, s->dbi[KC_DB_UNITS], 0)) != MDB_SUCCESS)
        return kc_store_put_err(t, mrc, "empty units");
    for (int u = 1; u < 256; u++) {
        if (!seen[u])
            continue;
        kc_log_entry_t e;
        if ((rc = kc_txn_log_get(t, st[u].last_offset, &e)) != 0)
            return rc == KC_ENOTFOUND ? KC_EFORMAT : rc;
        st[u].last_report_ns = e.received_ns;
        if ((rc = kc_txn_unit_put(t, (uint8_t)u, &st[u])) != 0)
            return rc;
    }
    return s_put_format(t, 3);
}

typedef struct {
    kc_identity_hash_fn hash; /* in: kc_store_migrate's */
    uint64_t identities;      /* rewritten */
    uint64_t explicit;        /* kept their stored hash (it is not the recomputed one) */
} s_m34_t;

/* An identity of layout 1 or 2 (formats 2 and 3). */
static int s_old_identity(const MDB_val *v, kc_identity_t *id)
{
    const uint8_t *p = v->mv_data;
    memset(id, 0, sizeof *id);
    if (v->mv_size != S_OLD_ID_V1 && v->mv_size != S_OLD_ID_V2)
        return KC_EFORMAT;
    id->offset = kc_le64_get(p);
    memcpy(id->hash, p + 8, sizeof id->hash);
    if (v->mv_size == S_OLD_ID_V1)
        return 0;
    id->state = p[24];
    id->op = p[25];
    id->kind = p[26];
    id->prev_unit = p[27];
    id->next_unit = p[28];
    id->prev = id->prev_unit ? kc_le64_get(p + 29) : 0;
    id->next = id->state != KC_ID_LIVE ? kc_le64_get(p + 37) : 0;
    if (id->state > KC_ID_RETRACTED || id->op > 2 || id->kind > 2 ||
        (id->state != KC_ID_LIVE && !id->next_unit))
        return KC_EFORMAT;
    return 0;
}

/* Add a unit database's entry count to *(uint64_t *)ctx. */
static int s_count_unit(kc_txn_t *t, uint8_t unit, MDB_dbi dbi, void *ctx)
{
    (void)unit;
    MDB_stat ms;
    int mrc = mdb_stat(t->txn, dbi, &ms);
    if (mrc != MDB_SUCCESS)
        return kc_store_put_err(t, mrc, "stat identities");
    *(uint64_t *)ctx += ms.ms_entries;
    return 0;
}

static int s_migrate_3_4(kc_txn_t *t, void *ctx)
{
    s_m34_t *m = ctx;
    m->identities = m->explicit = 0;
    kc_store_t *s = t->s;
    uint64_t log_size;
    int rc = kc_txn_log_size(t, &log_size);
    if (rc != 0)
        return rc;
    int mrc;
    MDB_dbi old_ids;
    /* an empty "idents" table that an earlier format-4 build created when it
     * opened this store for the migration: not used any more */
    if ((mrc = mdb_dbi_open(t->txn, "idents", 0, &old_ids)) == MDB_SUCCESS) {
        if ((mrc = mdb_drop(t->txn, old_ids, 1)) != MDB_SUCCESS)
            return kc_store_put_err(t, mrc, "drop idents");
    } else if (mrc != MDB_NOTFOUND) {
        return kc_store_put_err(t, mrc, "open idents");
    }
    uint64_t before = 0; /* identities already in unit databases: none, in a format-3 store */
    if ((rc = kc_store_units_each(t, s_count_unit, &before)) != 0)
        return rc;
    if (before != 0) {
        kc_error("store %s: format 3 with %" PRIu64 " identities of format 4", s->dir, before);
        return KC_EFORMAT;
    }
    mrc = mdb_dbi_open(t->txn, S_OLD_IDENTITIES, 0, &old_ids);
    if (mrc != MDB_SUCCESS)
        return mrc == MDB_NOTFOUND ? KC_EFORMAT : kc_store_put_err(t, mrc, "open identities");
    MDB_cursor *c;
    if ((mrc = mdb_cursor_open(t->txn, old_ids, &c)) != MDB_SUCCESS)
        return kc_store_put_err(t, mrc, "open identities cursor");
    MDB_val k, v;
    for (mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST); mrc == MDB_SUCCESS;
         mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        kc_identity_t id, re;
        const uint8_t *kp = k.mv_data;
        if (k.mv_size < 2 || kp[0] == 0 || s_old_identity(&v, &id) != 0 || id.offset >= log_size) {
            mdb_cursor_close(c);
            kc_error("store %s: malformed identity record (key of %zu bytes, value of %zu)", s->dir,
                     k.mv_size, v.mv_size);
            return KC_EFORMAT;
        }
        /* k and v borrow pages that the puts below may touch: copy what is needed */
        char eid[KC_ID_EVENT_ID_MAX];
        size_t len = k.mv_size - 1;
        uint8_t unit = kp[0];
        memcpy(eid, kp + 1, len);
        re = id;
        if ((rc = kc_store_identity_confirm(t, unit, eid, len, &re)) != 0 ||
            (rc = m->hash(t, &re)) != 0) {
            mdb_cursor_close(c);
            return rc; /* logged: the identity does not name its own event, or no hash */
        }
        bool same = memcmp(re.hash, id.hash, sizeof id.hash) == 0;
        /* same keys, same order: appended, so the new table's pages are full */
        rc = kc_store_identity_append(t, unit, eid, len, &id, !same);
        if (rc != 0) {
            mdb_cursor_close(c);
            return rc;
        }
        m->identities++;
        m->explicit += !same;
    }
    mdb_cursor_close(c);
    if (mrc != MDB_NOTFOUND)
        return kc_store_put_err(t, mrc, "scan identities");
    uint64_t written = 0;
    if ((rc = kc_store_units_each(t, s_count_unit, &written)) != 0)
        return rc;
    if (written != m->identities) {
        kc_error("store %s: %" PRIu64 " identities rewritten as %" PRIu64, s->dir, m->identities,
                 written);
        return KC_EFORMAT;
    }
    if ((mrc = mdb_drop(t->txn, old_ids, 1)) != MDB_SUCCESS)
        return kc_store_put_err(t, mrc, "drop the old identities");
    if ((rc = kc_mk_drop_leaves(t)) != 0)
        return rc;
    return s_put_format(t, 4);
}

int kc_store_migrate(kc_store_t *s, kc_identity_hash_fn hash,
                     void (*step)(int from, int to, const char *what, void *ctx), void *ctx)
{
    if (!s || !hash)
        return KC_EINVAL;
    if (s->read_only) {
        kc_error("store %s: migrate needs a store open for writing", s->dir);
        return KC_EINVAL;
    }
    while (s->format < KC_STORE_FORMAT) {
        int from = s->format, rc;
        char what[160];
        switch (from) {
        case 2: {
            s_m23_t m = {.s = s};
            rc = kc_store_write(s, s_migrate_2_3, &m);
            if (rc != 0)
                return rc;
            snprintf(what, sizeof what,
                     "units table rebuilt from %" PRIu64 " logged events: %u units", m.identities,
                     m.units);
            break;
        }
        case 3: {
            s_m34_t m = {.hash = hash};
            rc = kc_store_write(s, s_migrate_3_4, &m);
            if (rc != 0)
                return rc;
            snprintf(what, sizeof what,
                     "%" PRIu64 " identities rewritten in layout 3 (%" PRIu64
                     " keeping their stored hash); leaves dropped",
                     m.identities, m.explicit);
            break;
        }
        default: kc_error("store %s: no migration from format %d", s->dir, from); return KC_EFORMAT;
        }
        s->format = from + 1;
        s->no_units = false;
        s->no_fmt4 = false;
        kc_info("store %s: migrated from format %d to %d (%s)", s->dir, from, from + 1, what);
        if (step)
            step(from, from + 1, what, ctx);
    }
    return 0;
}
