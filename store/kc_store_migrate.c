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
 */
#include "kc_store_int.h"

#include "kc_err.h"
#include "kc_log.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define S_FORMAT_KEY "format"

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

    MDB_cursor *c;
    int mrc = mdb_cursor_open(t->txn, s->dbi[KC_DB_IDENTITIES], &c);
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

int kc_store_migrate(kc_store_t *s, void (*step)(int from, int to, const char *what, void *ctx),
                     void *ctx)
{
    if (!s)
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
        default: kc_error("store %s: no migration from format %d", s->dir, from); return KC_EFORMAT;
        }
        s->format = from + 1;
        s->no_units = false;
        kc_info("store %s: migrated from format %d to %d (%s)", s->dir, from, from + 1, what);
        if (step)
            step(from, from + 1, what, ctx);
    }
    return 0;
}
