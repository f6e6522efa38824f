/* kc_store.c - libkcstore: environment, transactions, map growth, format check.
 *
 * DESIGN
 * Environment. One LMDB environment per directory (data.mdb + lock.mdb, mode
 * 0600, the directory 0700), opened MDB_NOTLS so that read transactions are
 * not tied to threads, and never with MDB_NOSYNC, MDB_NOMETASYNC or
 * MDB_WRITEMAP|MDB_MAPASYNC: mdb_txn_commit() returning 0 means fsync'd.
 * A writer clears stale reader slots (mdb_reader_check) when it opens. After
 * creating a store it fsyncs the directory (and the parent, if it made the
 * directory), so that the files' names are as durable as the first commit.
 *
 * Format. meta["format"] holds KC_STORE_FORMAT as decimal text. A writer that
 * finds an empty environment creates the databases and writes it; any
 * other environment must carry exactly that version, else KC_EFORMAT (and
 * nothing is created in it) with a message that says what to do: an older
 * format -> back up and run kc-admin migrate; a newer one -> written by a
 * newer kcpipe. kc_store_opts_t.allow_old_format (kc-admin) admits formats
 * KC_STORE_FORMAT_MIN_MIGRATE.. for backup, stat and kc_store_migrate()
 * (kc_store_migrate.c). A reader creates nothing: a missing data.mdb is
 * KC_ENOTFOUND (LMDB itself may create lock.mdb beside an existing data.mdb).
 *
 * Map growth (kc_store_write). The callback runs inside one write txn. If a
 * put or the commit reports MDB_MAP_FULL, the txn is aborted (nothing of it
 * is visible, LMDB guarantees), the map is doubled, and the callback is run
 * again from the start. The loop ends because each round doubles the map up
 * to KC_STORE_MAX_MAPSIZE, past which it fails with KC_ENOSPC.
 *
 * Remap gate. mdb_env_set_mapsize() unmaps and remaps the file, so no
 * transaction of this process may be in progress (pointers into the old map
 * would dangle). Every transaction counts itself in `active` under `gate`
 * for its whole life; a remap takes `gate`, waits until `active` is 0 (bounded
 * by KC_REMAP_WAIT_S, then KC_EBUSY), and remaps while holding `gate`, so no
 * transaction can begin meanwhile. Transactions never wait for each other
 * here, only for a remap in progress; readers therefore never block the
 * writer except while the map grows. Readers that meet MDB_MAP_RESIZED (the
 * file was grown by another process) remap with size 0 = adopt the file's.
 *
 * Unit databases (format 4: identities, one named database "idents/NN" per
 * unit key, kc_store_state.c). LMDB's rules for mdb_dbi_open: a handle opened
 * in a transaction is private to it until it commits (closed if it aborts),
 * and no other transaction of the process may call mdb_dbi_open until that
 * one has ended (they would take the same slot). So:
 *  - a write txn opens (or creates, on a unit's first put) the ones it needs
 *    and keeps them in kc_txn_t.wunit/wdbi; when it commits they are
 *    published in kc_store_t.unit_dbi with a publication number, under
 *    dbi_mu held across the commit; if it aborts they are forgotten;
 *  - a read txn begins under dbi_mu and records pub_seq: it uses a published
 *    handle only if it was published by then (one published later belongs to
 *    a database created after its snapshot: the unit reads as empty, which is
 *    what its snapshot holds). Then it compares the main database's entry
 *    count with main_seen; if it differs it looks for "idents/" names in its
 *    snapshot that have no published handle (created by another process
 *    since this one opened the store) and, if there are any, ends itself,
 *    opens them in a short read txn of its own (under dbi_mu, once no write
 *    txn is in progress: the only wait of a reader on the writer, and it
 *    happens only when another process created a unit database) that
 *    commits, and begins again;
 *  - so a snapshot's unit databases are exactly the published handles it may
 *    use. main_seen is a hint (an entry count): only a migration drops and
 *    creates named databases in one txn, and it runs alone on the store.
 * Opening the store (reader or writer) opens every unit database that exists
 * then, before any other txn. A thread inside a kc_store_write() callback must
 * not begin a read txn of the same kc_store_t (it could wait for its own
 * write txn to end).
 */
#include "kc_store_int.h"

#include "kc_err.h"
#include "kc_log.h"
#include "kc_merkle_int.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sodium.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define KC_FORMAT_KEY   "format"
#define KC_REMAP_WAIT_S 30        /* longest wait for transactions to end before a remap */
#define KC_RESIZED_MAX  16        /* MDB_MAP_RESIZED retries before giving up */
#define KC_UNIT_PREFIX  "idents/" /* + 2 hex digits: a unit's identity database */

_Static_assert(sizeof(size_t) >= 8, "libkcstore needs a 64-bit address space");

/* Format 4 replaced the identities table "identities" (format <= 3: identity
 * layouts 1 and 2) by one database per unit, "idents/NN" (layout 3,
 * kc_store_state.c); "idents" is their label in stats. kc_store_migrate()
 * rewrites one into the others and drops "identities". */
const char *const kc_store_db_names[KC_DB_COUNT] = {
    "log",         "producers", "idents",       "totals",  "rejects",   "nodes", "heads",
    "checkpoints", "units",     "producer_ids", "periods", "summaries", "meta"};

/* ---- errors ---- */

int kc_store_err(const kc_store_t *s, int mrc, const char *what)
{
    const char *dir = s && s->dir ? s->dir : "?";
    switch (mrc) {
    case MDB_SUCCESS: return 0;
    case MDB_NOTFOUND: return KC_ENOTFOUND;
    case MDB_MAP_FULL: return KC_EMAPFULL;
    case ENOSPC: kc_error("store %s: %s: %s", dir, what, mdb_strerror(mrc)); return KC_ENOSPC;
    case ENOMEM: kc_error("store %s: %s: %s", dir, what, mdb_strerror(mrc)); return KC_ENOMEM;
    case MDB_READERS_FULL:
        kc_error("store %s: %s: %s", dir, what, mdb_strerror(mrc));
        return KC_EBUSY;
    default: kc_error("store %s: %s: %s", dir, what, mdb_strerror(mrc)); return KC_ESTORE;
    }
}

int kc_store_put_err(kc_txn_t *t, int mrc, const char *what)
{
    if (mrc == MDB_SUCCESS)
        return 0;
    if (mrc == MDB_MAP_FULL) {
        t->mapfull = true; /* kc_store_write grows and redoes */
        return KC_EMAPFULL;
    }
    int rc = kc_store_err(t->s, mrc, what);
    if (t->err == 0)
        t->err = rc; /* the txn is dead in LMDB; never commit it */
    return rc;
}

int kc_store_check_write(const kc_txn_t *t)
{
    if (!t || !t->txn)
        return KC_EINVAL;
    if (!t->write) {
        kc_error("store: write attempted in a read transaction");
        return KC_EINVAL;
    }
    return 0;
}

/* ---- remap gate ---- */

static int s_enter(kc_store_t *s)
{
    pthread_mutex_lock(&s->gate);
    if (s->broken) {
        pthread_mutex_unlock(&s->gate);
        kc_error("store %s: unusable after a failed remap; close and reopen it", s->dir);
        return KC_ESTORE;
    }
    s->active++;
    pthread_mutex_unlock(&s->gate);
    return 0;
}

static void s_leave(kc_store_t *s)
{
    pthread_mutex_lock(&s->gate);
    if (--s->active == 0)
        pthread_cond_broadcast(&s->idle);
    pthread_mutex_unlock(&s->gate);
}

int kc_store_enter(kc_store_t *s)
{
    return s_enter(s);
}

void kc_store_leave(kc_store_t *s)
{
    s_leave(s);
}

static size_t s_env_mapsize(MDB_env *env)
{
    MDB_envinfo info;
    if (mdb_env_info(env, &info) != MDB_SUCCESS)
        return 0;
    return info.me_mapsize;
}

/* Remap to `size` bytes (0 = the size recorded in the file) once no
 * transaction of this store is active. If `seen` is non-zero and the map is
 * no longer `seen` bytes, another thread has already grown it: done. */
static int s_remap(kc_store_t *s, size_t size, size_t seen)
{
    struct timespec now, until;
    clock_gettime(CLOCK_MONOTONIC, &now);
    time_t deadline = now.tv_sec + KC_REMAP_WAIT_S;

    pthread_mutex_lock(&s->gate);
    while (s->active > 0) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec >= deadline) {
            unsigned n = s->active;
            pthread_mutex_unlock(&s->gate);
            kc_error("store %s: cannot remap the map: %u transaction(s) of this process "
                     "still open after %d s",
                     s->dir, n, KC_REMAP_WAIT_S);
            return KC_EBUSY;
        }
        until = now;
        until.tv_sec += 1;
        pthread_cond_timedwait(&s->idle, &s->gate, &until);
    }
    if (s->broken) {
        pthread_mutex_unlock(&s->gate);
        return KC_ESTORE;
    }
    size_t before = s_env_mapsize(s->env);
    if (seen != 0 && before != seen) {
        pthread_mutex_unlock(&s->gate); /* someone else grew it meanwhile */
        return 0;
    }
    int mrc = mdb_env_set_mapsize(s->env, size);
    size_t after = s_env_mapsize(s->env);
    if (mrc != MDB_SUCCESS)
        s->broken = true; /* LMDB unmapped the old map before failing */
    pthread_mutex_unlock(&s->gate);
    if (mrc != MDB_SUCCESS) {
        kc_error("store %s: remap from %zu to %zu bytes failed: %s", s->dir, before, size,
                 mdb_strerror(mrc));
        return mrc == ENOMEM ? KC_ENOMEM : KC_ESTORE;
    }
    if (size == 0)
        kc_debug("store %s: adopted map size %zu (was %zu)", s->dir, after, before);
    else
        kc_info("store %s: map grown from %zu to %zu bytes", s->dir, before, after);
    return 0;
}

int kc_store_adopt_map(kc_store_t *s)
{
    return s_remap(s, 0, 0);
}

static int s_grow(kc_store_t *s, size_t seen)
{
    if (seen >= KC_STORE_MAX_MAPSIZE) {
        kc_error("store %s: map full at the largest allowed size (%zu bytes)", s->dir, seen);
        return KC_ENOSPC;
    }
    size_t next = seen > KC_STORE_MAX_MAPSIZE / 2 ? KC_STORE_MAX_MAPSIZE : seen * 2;
    return s_remap(s, next, seen);
}

int kc_store_format(const kc_store_t *s)
{
    return s ? s->format : 0;
}

const char *kc_store_dir(const kc_store_t *s)
{
    return s ? s->dir : NULL;
}

size_t kc_store_map_size(const kc_store_t *s)
{
    if (!s)
        return 0;
    kc_store_t *m = (kc_store_t *)s; /* the gate only: reading during a remap is a race */
    pthread_mutex_lock(&m->gate);
    size_t n = m->broken ? 0 : s_env_mapsize(m->env);
    pthread_mutex_unlock(&m->gate);
    return n;
}

int kc_store_reader_check(kc_store_t *s, int *dead)
{
    int n = 0;
    if (dead)
        *dead = 0;
    if (!s)
        return KC_EINVAL;
    /* no gate: the reader table lives in lock.mdb, which a remap leaves alone */
    int mrc = mdb_reader_check(s->env, &n);
    if (mrc != MDB_SUCCESS)
        return kc_store_err(s, mrc, "check readers");
    if (dead)
        *dead = n;
    return 0;
}

/* ---- transactions ---- */

/* A write txn has ended (committed if `committed`): publish the unit
 * databases it opened, and let readers open theirs again. dbi_mu is held by
 * the caller if `held`; released here. */
static void s_write_ended(kc_store_t *s, kc_txn_t *t, bool held, bool committed)
{
    if (!held)
        pthread_mutex_lock(&s->dbi_mu);
    if (committed) {
        for (unsigned i = 0; i < t->nwunits; i++) {
            s->unit_dbi[t->wunit[i]] = t->wdbi[i];
            __atomic_store_n(&s->unit_pub[t->wunit[i]], ++s->pub_seq, __ATOMIC_RELEASE);
        }
    }
    t->nwunits = 0;
    s->w_live = false;
    pthread_cond_broadcast(&s->dbi_cv);
    pthread_mutex_unlock(&s->dbi_mu);
}

static void s_unit_name(char name[sizeof KC_UNIT_PREFIX + 2], uint8_t unit)
{
    static const char hex[] = "0123456789abcdef";
    memcpy(name, KC_UNIT_PREFIX, sizeof KC_UNIT_PREFIX - 1);
    name[sizeof KC_UNIT_PREFIX - 1] = hex[unit >> 4];
    name[sizeof KC_UNIT_PREFIX] = hex[unit & 15];
    name[sizeof KC_UNIT_PREFIX + 1] = '\0';
}

/* The unit of a main-database key "idents/NN" (lower-case hex), or -1. */
static int s_unit_of_name(const MDB_val *k)
{
    const char *p = k->mv_data;
    size_t n = sizeof KC_UNIT_PREFIX - 1;
    if (k->mv_size != n + 2 || memcmp(p, KC_UNIT_PREFIX, n) != 0)
        return -1;
    int u = 0;
    for (size_t i = n; i < n + 2; i++) {
        char c = p[i];
        if (c >= '0' && c <= '9')
            u = u * 16 + (c - '0');
        else if (c >= 'a' && c <= 'f')
            u = u * 16 + (c - 'a' + 10);
        else
            return -1;
    }
    return u;
}

/* The units with a database in txn's snapshot into has[256]; *n = count. */
static int s_unit_names(kc_txn_t *t, bool has[256], unsigned *n)
{
    memset(has, 0, 256 * sizeof *has);
    *n = 0;
    MDB_cursor *c;
    int mrc = mdb_cursor_open(t->txn, t->s->main_dbi, &c);
    if (mrc != MDB_SUCCESS)
        return kc_store_err(t->s, mrc, "open main database cursor");
    MDB_val k = {sizeof KC_UNIT_PREFIX - 1, (void *)KC_UNIT_PREFIX}, v;
    for (mrc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); mrc == MDB_SUCCESS;
         mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (k.mv_size < sizeof KC_UNIT_PREFIX - 1 ||
            memcmp(k.mv_data, KC_UNIT_PREFIX, sizeof KC_UNIT_PREFIX - 1) != 0)
            break;
        int u = s_unit_of_name(&k);
        if (u >= 0 && !has[u]) {
            has[u] = true;
            (*n)++;
        }
    }
    mdb_cursor_close(c);
    if (mrc != MDB_SUCCESS && mrc != MDB_NOTFOUND)
        return kc_store_err(t->s, mrc, "scan database names");
    return 0;
}

static bool s_unit_visible(const kc_txn_t *t, uint8_t unit)
{
    uint64_t p = __atomic_load_n(&t->s->unit_pub[unit], __ATOMIC_ACQUIRE);
    return p != 0 && p <= t->pub;
}

int kc_store_unit_dbi(kc_txn_t *t, uint8_t unit, bool create, MDB_dbi *dbi)
{
    kc_store_t *s = t->s;
    if (!t->write) {
        if (!s_unit_visible(t, unit))
            return KC_ENOTFOUND; /* not in this snapshot (kc_store_read_begin) */
        *dbi = s->unit_dbi[unit];
        return 0;
    }
    /* a write txn: nothing is published while it runs (readers wait for it) */
    if (__atomic_load_n(&s->unit_pub[unit], __ATOMIC_RELAXED) != 0) {
        *dbi = s->unit_dbi[unit];
        return 0;
    }
    for (unsigned i = 0; i < t->nwunits; i++)
        if (t->wunit[i] == unit) {
            *dbi = t->wdbi[i];
            return 0;
        }
    char name[sizeof KC_UNIT_PREFIX + 2];
    s_unit_name(name, unit);
    int mrc = mdb_dbi_open(t->txn, name, create ? MDB_CREATE : 0, dbi);
    if (mrc == MDB_NOTFOUND && !create)
        return KC_ENOTFOUND;
    if (mrc == MDB_INCOMPATIBLE) {
        kc_error("store %s: \"%s\" is not a database", s->dir, name);
        return KC_EFORMAT;
    }
    if (mrc != MDB_SUCCESS)
        return kc_store_put_err(t, mrc, "open identity database");
    t->wunit[t->nwunits] = unit;
    t->wdbi[t->nwunits++] = *dbi;
    return 0;
}

int kc_store_units_each(kc_txn_t *t, int (*fn)(kc_txn_t *t, uint8_t unit, MDB_dbi dbi, void *ctx),
                        void *ctx)
{
    bool has[256];
    unsigned n;
    int rc = 0;
    if (t->write && (rc = s_unit_names(t, has, &n)) != 0) /* opened or not */
        return rc;
    for (int u = 0; u < 256 && rc == 0; u++) {
        MDB_dbi dbi;
        if (t->write ? !has[u] : !s_unit_visible(t, (uint8_t)u))
            continue;
        if ((rc = kc_store_unit_dbi(t, (uint8_t)u, false, &dbi)) == 0)
            rc = fn(t, (uint8_t)u, dbi, ctx);
        else if (rc == KC_ENOTFOUND)
            rc = 0;
    }
    return rc;
}

/* Read txns: 1 if txn's snapshot holds unit databases without a handle it may
 * use (their units set in need[256]), 0 if not, or a KC_E* code. */
static int s_units_check(kc_txn_t *t, bool need[256])
{
    kc_store_t *s = t->s;
    MDB_stat ms;
    int mrc = mdb_stat(t->txn, s->main_dbi, &ms);
    if (mrc != MDB_SUCCESS)
        return kc_store_err(s, mrc, "stat main database");
    if (__atomic_load_n(&s->main_seen, __ATOMIC_RELAXED) == ms.ms_entries + 1)
        return 0;
    unsigned n;
    int rc = s_unit_names(t, need, &n);
    if (rc != 0)
        return rc;
    bool missing = false;
    for (int u = 0; u < 256; u++) {
        if (need[u] && s_unit_visible(t, (uint8_t)u))
            need[u] = false;
        missing |= need[u];
    }
    if (!missing)
        __atomic_store_n(&s->main_seen, ms.ms_entries + 1, __ATOMIC_RELAXED);
    return missing ? 1 : 0;
}

/* End of s_units_open (dbi_mu held; released). */
static void s_sync_done(kc_store_t *s)
{
    s->sync_wanted--;
    pthread_cond_broadcast(&s->dbi_cv);
    pthread_mutex_unlock(&s->dbi_mu);
}

/* Open the unit databases need[] in a read txn of their own and publish them;
 * the caller is counted in no transaction. */
static int s_units_open(kc_store_t *s, const bool need[256])
{
    pthread_mutex_lock(&s->dbi_mu);
    s->sync_wanted++; /* no new write txn meanwhile */
    while (s->w_live) /* LMDB: no mdb_dbi_open while a txn that opened one runs */
        pthread_cond_wait(&s->dbi_cv, &s->dbi_mu);
    int rc = s_enter(s);
    if (rc != 0) {
        s_sync_done(s);
        return rc;
    }
    MDB_txn *txn;
    int mrc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (mrc != MDB_SUCCESS) {
        s_leave(s);
        s_sync_done(s);
        return mrc == MDB_MAP_RESIZED ? 1 : kc_store_err(s, mrc, "begin read transaction");
    }
    uint8_t got[256];
    MDB_dbi dbi[256];
    unsigned n = 0;
    for (int u = 0; u < 256 && mrc == MDB_SUCCESS; u++) {
        if (!need[u] || __atomic_load_n(&s->unit_pub[u], __ATOMIC_RELAXED) != 0)
            continue;
        char name[sizeof KC_UNIT_PREFIX + 2];
        s_unit_name(name, (uint8_t)u);
        mrc = mdb_dbi_open(txn, name, 0, &dbi[n]);
        if (mrc == MDB_SUCCESS)
            got[n++] = (uint8_t)u;
        else if (mrc == MDB_NOTFOUND)
            mrc = MDB_SUCCESS;
    }
    if (mrc == MDB_SUCCESS)
        mrc = mdb_txn_commit(txn); /* the handles become the environment's */
    else
        mdb_txn_abort(txn);
    if (mrc == MDB_SUCCESS)
        for (unsigned i = 0; i < n; i++) {
            s->unit_dbi[got[i]] = dbi[i];
            __atomic_store_n(&s->unit_pub[got[i]], ++s->pub_seq, __ATOMIC_RELEASE);
        }
    s_leave(s);
    s_sync_done(s);
    return mrc == MDB_SUCCESS ? 0 : kc_store_err(s, mrc, "open identity databases");
}

int kc_store_write(kc_store_t *s, int (*fn)(kc_txn_t *txn, void *ctx), void *ctx)
{
    if (!s || !fn)
        return KC_EINVAL;
    if (s->read_only) {
        kc_error("store %s: write on a read-only store", s->dir);
        return KC_EINVAL;
    }
    unsigned resized = 0;
    for (;;) {
        kc_txn_t t = {.s = s, .write = true};
        int rc = s_enter(s);
        if (rc != 0)
            return rc;
        pthread_mutex_lock(&s->dbi_mu);
        while (s->sync_wanted) /* a reader's s_units_open: a few microseconds */
            pthread_cond_wait(&s->dbi_cv, &s->dbi_mu);
        int mrc = mdb_txn_begin(s->env, NULL, 0, &t.txn);
        if (mrc == MDB_SUCCESS) {
            s->w_live = true; /* readers open no database until it ends */
            t.pub = s->pub_seq;
        }
        pthread_mutex_unlock(&s->dbi_mu);
        if (mrc == MDB_MAP_RESIZED && resized++ < KC_RESIZED_MAX) {
            s_leave(s); /* another process grew the file: adopt its size */
            if ((rc = s_remap(s, 0, 0)) != 0)
                return rc;
            continue;
        }
        if (mrc != MDB_SUCCESS) {
            s_leave(s);
            return kc_store_err(s, mrc, "begin write transaction");
        }
        size_t seen = s_env_mapsize(s->env); /* stable: no remap while we are active */

        rc = fn(&t, ctx);
        if (rc == 0 && !t.mapfull && t.err == 0)
            rc = kc_mk_precommit(&t); /* a signed head, if one is due (kc_audit.h) */
        if (t.mapfull || rc == KC_EMAPFULL) {
            mdb_txn_abort(t.txn); /* closes the unit databases it opened */
            s_write_ended(s, &t, false, false);
            kc_txn_release(&t);
            s_leave(s);
            if ((rc = s_grow(s, seen)) != 0)
                return rc;
            continue; /* run fn again from the start */
        }
        if (rc == 0 && t.err != 0)
            rc = t.err; /* a put failed but fn went on: never commit that */
        if (rc != 0) {
            mdb_txn_abort(t.txn);
            s_write_ended(s, &t, false, false);
            kc_txn_release(&t);
            s_leave(s);
            return rc;
        }
        bool opened = t.nwunits > 0;
        if (opened) /* no reader begins between the commit and the publication */
            pthread_mutex_lock(&s->dbi_mu);
        mrc = mdb_txn_commit(t.txn); /* frees the txn whatever the outcome */
        s_write_ended(s, &t, opened, mrc == MDB_SUCCESS);
        kc_txn_release(&t);
        s_leave(s);
        if (mrc == MDB_MAP_FULL) {
            if ((rc = s_grow(s, seen)) != 0)
                return rc;
            continue;
        }
        if (mrc != MDB_SUCCESS)
            return kc_store_err(s, mrc, "commit");
        kc_mk_committed(&t); /* the txn's frontier becomes the store's */
        return 0;
    }
}

int kc_store_read_begin(kc_store_t *s, kc_txn_t **out)
{
    if (!out)
        return KC_EINVAL;
    *out = NULL;
    if (!s)
        return KC_EINVAL;
    kc_txn_t *t = calloc(1, sizeof *t);
    if (!t)
        return KC_ENOMEM;
    t->s = s;
    for (unsigned resized = 0, reopened = 0;; resized++) {
        int rc = s_enter(s);
        if (rc != 0) {
            free(t);
            return rc;
        }
        pthread_mutex_lock(&s->dbi_mu);
        int mrc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &t->txn);
        t->pub = s->pub_seq;
        pthread_mutex_unlock(&s->dbi_mu);
        if (mrc == MDB_SUCCESS) {
            bool need[256];
            rc = s->units_ready ? s_units_check(t, need) : 0;
            if (rc == 0)
                break;
            mdb_txn_abort(t->txn);
            t->txn = NULL;
            s_leave(s);
            if (rc == 1 && reopened++ < KC_RESIZED_MAX) {
                if ((rc = s_units_open(s, need)) == 0)
                    continue; /* begin again: the handles are usable now */
                if (rc == 1 && resized < KC_RESIZED_MAX && (rc = s_remap(s, 0, 0)) == 0)
                    continue;
            }
            free(t);
            return rc == 1 ? KC_ESTORE : rc;
        }
        s_leave(s);
        if (mrc == MDB_MAP_RESIZED && resized < KC_RESIZED_MAX) {
            if ((rc = s_remap(s, 0, 0)) != 0) { /* another process grew the file */
                free(t);
                return rc;
            }
            continue;
        }
        free(t);
        return kc_store_err(s, mrc, "begin read transaction");
    }
    *out = t;
    return 0;
}

/* End a read transaction; commit = keep the database handles it opened. */
static int s_read_end(kc_txn_t *t, bool commit)
{
    int mrc = MDB_SUCCESS;
    if (commit)
        mrc = mdb_txn_commit(t->txn);
    else
        mdb_txn_abort(t->txn);
    s_leave(t->s);
    int rc = mrc ? kc_store_err(t->s, mrc, "end read transaction") : 0;
    kc_txn_release(t);
    free(t);
    return rc;
}

void kc_txn_end(kc_txn_t **tp)
{
    if (!tp || !*tp)
        return;
    kc_txn_t *t = *tp;
    *tp = NULL;
    if (t->write) {
        kc_error("store: kc_txn_end on a write transaction (kc_store_write ends it)");
        return;
    }
    s_read_end(t, false);
}

/* ---- format and databases ---- */

static int s_check_format(kc_store_t *s, MDB_txn *txn)
{
    MDB_val k = {sizeof KC_FORMAT_KEY - 1, (void *)KC_FORMAT_KEY}, v;
    int mrc = mdb_get(txn, s->dbi[KC_DB_META], &k, &v);
    if (mrc == MDB_NOTFOUND) {
        kc_error("store %s: no format version in meta: not a kcpipe store", s->dir);
        return KC_EFORMAT;
    }
    if (mrc != MDB_SUCCESS)
        return kc_store_err(s, mrc, "read format version");
    char got[33];
    size_t len = v.mv_size < sizeof got - 1 ? v.mv_size : sizeof got - 1;
    long n = 0;
    bool num = len > 0 && len <= 6;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = ((const unsigned char *)v.mv_data)[i];
        got[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
        if (c < '0' || c > '9')
            num = false;
        else
            n = n * 10 + (c - '0');
    }
    got[len] = '\0';
    if (!num || v.mv_size != len) {
        kc_error("store %s: format version \"%s\" is not one this kcpipe knows (it needs %d)",
                 s->dir, got, KC_STORE_FORMAT);
        return KC_EFORMAT;
    }
    if (n == KC_STORE_FORMAT) {
        s->format = (int)n;
        return 0;
    }
    if (n > KC_STORE_FORMAT) {
        kc_error("store %s was written by a newer kcpipe (format %ld > %d): use that kcpipe, or "
                 "restore a backup made before the upgrade",
                 s->dir, n, KC_STORE_FORMAT);
        return KC_EFORMAT;
    }
    if (n < KC_STORE_FORMAT_MIN_MIGRATE) {
        kc_error("store %s has format %ld; this kcpipe needs %d and cannot migrate a store older "
                 "than format %d",
                 s->dir, n, KC_STORE_FORMAT, KC_STORE_FORMAT_MIN_MIGRATE);
        return KC_EFORMAT;
    }
    if (s->allow_old_format) {
        s->format = (int)n; /* kc-admin: backup, stat, migrate (kc_store_migrate) */
        return 0;
    }
    kc_error("store %s has format %ld; this kcpipe needs %d: back it up (kc-admin backup) and run "
             "kc-admin migrate --store %s",
             s->dir, n, KC_STORE_FORMAT, s->dir);
    return KC_EFORMAT;
}

static bool s_env_empty(MDB_txn *txn)
{
    MDB_dbi main_dbi;
    MDB_stat ms;
    if (mdb_dbi_open(txn, NULL, 0, &main_dbi) != MDB_SUCCESS)
        return false;
    if (mdb_stat(txn, main_dbi, &ms) != MDB_SUCCESS)
        return false;
    return ms.ms_entries == 0;
}

/* Writer open, run through kc_store_write (so that it may grow the map). */
static int s_init_write(kc_txn_t *t, void *ctx)
{
    kc_store_t *s = ctx;
    bool fresh = s_env_empty(t->txn);
    int mrc0 = mdb_dbi_open(t->txn, NULL, 0, &s->main_dbi);
    if (mrc0 != MDB_SUCCESS)
        return kc_store_put_err(t, mrc0, "open main database");
    int mrc = mdb_dbi_open(t->txn, kc_store_db_names[KC_DB_META], fresh ? MDB_CREATE : 0,
                           &s->dbi[KC_DB_META]);
    if (mrc == MDB_NOTFOUND || mrc == MDB_INCOMPATIBLE) {
        kc_error("store %s: no meta database: not a kcpipe store", s->dir);
        return KC_EFORMAT;
    }
    if (mrc != MDB_SUCCESS)
        return kc_store_put_err(t, mrc, "open meta database");
    if (!fresh) {
        int rc = s_check_format(s, t->txn);
        if (rc != 0)
            return rc; /* aborted: nothing created in a foreign store */
    }
    for (int i = 0; i < KC_DB_COUNT; i++) {
        if (i == KC_DB_META || i == KC_DB_IDENTITIES) /* one per unit, on first put */
            continue;
        if (i == KC_DB_SUMMARIES && !fresh) { /* added later: note where it starts */
            int rc = kc_store_summaries_create(t, &s->dbi[i]);
            if (rc != 0)
                return rc;
            continue;
        }
        mrc = mdb_dbi_open(t->txn, kc_store_db_names[i], MDB_CREATE, &s->dbi[i]);
        if (mrc == MDB_INCOMPATIBLE) {
            kc_error("store %s: \"%s\" is not a database", s->dir, kc_store_db_names[i]);
            return KC_EFORMAT;
        }
        if (mrc != MDB_SUCCESS)
            return kc_store_put_err(t, mrc, "open database");
    }
    bool has[256];
    unsigned nu;
    int rc0 = s_unit_names(t, has, &nu); /* open the unit databases now (published at
                                            commit), so that readers need not */
    for (int u = 0; u < 256 && rc0 == 0; u++) {
        MDB_dbi d;
        if (has[u] && (rc0 = kc_store_unit_dbi(t, (uint8_t)u, false, &d)) == KC_ENOTFOUND)
            rc0 = 0;
    }
    if (rc0 != 0)
        return rc0;
    if (fresh) {
        char ver[16];
        int n = snprintf(ver, sizeof ver, "%d", KC_STORE_FORMAT);
        MDB_val k = {sizeof KC_FORMAT_KEY - 1, (void *)KC_FORMAT_KEY}, v = {(size_t)n, ver};
        mrc = mdb_put(t->txn, s->dbi[KC_DB_META], &k, &v, 0);
        if (mrc != MDB_SUCCESS)
            return kc_store_put_err(t, mrc, "write format version");
        kc_info("store %s: created (format %d)", s->dir, KC_STORE_FORMAT);
        s->format = KC_STORE_FORMAT;
    }
    return kc_mk_open_write(t); /* signing key, Merkle frontier */
}

/* Reader open: open the databases in a read txn, created nowhere. */
static int s_init_read(kc_store_t *s)
{
    kc_txn_t *t = NULL;
    int rc = kc_store_read_begin(s, &t);
    if (rc != 0)
        return rc;
    if (s_env_empty(t->txn)) {
        kc_debug("store %s: empty environment (not initialised yet)", s->dir);
        s_read_end(t, false);
        return KC_ENOTFOUND;
    }
    int mrc0 = mdb_dbi_open(t->txn, NULL, 0, &s->main_dbi);
    if (mrc0 != MDB_SUCCESS) {
        s_read_end(t, false);
        return kc_store_err(s, mrc0, "open main database");
    }
    for (int i = KC_DB_COUNT - 1; i >= 0; i--) { /* meta first */
        if (i == KC_DB_IDENTITIES) {             /* one per unit, opened by kc_store_read_begin */
            if (s->format < 4)
                s->no_fmt4 = true;
            continue;
        }
        int mrc = mdb_dbi_open(t->txn, kc_store_db_names[i], 0, &s->dbi[i]);
        if (mrc == MDB_NOTFOUND && i == KC_DB_CHECKPOINTS) {
            s->no_checkpoints = true; /* written before checkpoints: as-of replays from 0 */
            continue;
        }
        if (mrc == MDB_NOTFOUND && i == KC_DB_UNITS) {
            s->no_units = true; /* written before the units table: no unit has reported */
            continue;
        }
        if (mrc == MDB_NOTFOUND && i == KC_DB_PERIODS) {
            s->no_periods = true; /* written before the periods table: nothing signed off */
            continue;
        }
        if (mrc == MDB_NOTFOUND && i == KC_DB_SUMMARIES) {
            s->no_summaries = true; /* written before the summaries: none kept */
            continue;
        }
        if (mrc == MDB_NOTFOUND && s->format < 4 && i == KC_DB_PRODUCER_IDS) {
            s->no_fmt4 = true; /* an older store opened for kc-admin: read as empty */
            continue;
        }
        if (mrc == MDB_NOTFOUND || mrc == MDB_INCOMPATIBLE) {
            kc_error("store %s: no \"%s\" database: not a kcpipe store", s->dir,
                     kc_store_db_names[i]);
            rc = KC_EFORMAT;
        } else if (mrc != MDB_SUCCESS) {
            rc = kc_store_err(s, mrc, "open database");
        } else if (i == KC_DB_META) {
            rc = s_check_format(s, t->txn);
        }
        if (rc != 0) {
            s_read_end(t, false);
            return rc;
        }
    }
    if ((rc = kc_mk_open_read(t)) != 0) { /* the public key */
        s_read_end(t, false);
        return rc;
    }
    bool has[256];
    unsigned nu, ngot = 0;
    uint8_t got[256];
    MDB_dbi dbi[256];
    if ((rc = s_unit_names(t, has, &nu)) != 0) {
        s_read_end(t, false);
        return rc;
    }
    for (int u = 0; u < 256; u++) { /* the unit databases: no other txn exists yet */
        if (!has[u])
            continue;
        char name[sizeof KC_UNIT_PREFIX + 2];
        s_unit_name(name, (uint8_t)u);
        int mrc = mdb_dbi_open(t->txn, name, 0, &dbi[ngot]);
        if (mrc == MDB_SUCCESS) {
            got[ngot++] = (uint8_t)u;
        } else if (mrc != MDB_NOTFOUND) {
            s_read_end(t, false);
            return kc_store_err(s, mrc, "open identity database");
        }
    }
    if ((rc = s_read_end(t, true)) != 0) /* commit keeps the handles for later txns */
        return rc;
    for (unsigned i = 0; i < ngot; i++) {
        s->unit_dbi[got[i]] = dbi[i];
        s->unit_pub[got[i]] = ++s->pub_seq;
    }
    return 0;
}

/* ---- open / close ---- */

/* fsync a directory, so that the names created in it survive a power loss. */
static int s_sync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        kc_error("store %s: cannot sync directory: %s", path, strerror(e));
        return e == ENOSPC ? KC_ENOSPC : -e;
    }
    close(fd);
    return 0;
}

/* After creating a store: its files' names, and the directory's own name if
 * we created it, are made durable like the first commit. */
static int s_sync_new(const char *dir, bool made_dir)
{
    int rc = s_sync_dir(dir);
    if (rc == 0 && made_dir) {
        char parent[PATH_MAX];
        snprintf(parent, sizeof parent, "%s", dir);
        rc = s_sync_dir(dirname(parent));
    }
    return rc;
}

static int s_prepare_dir(const char *dir, bool read_only, bool *exists, bool *made_dir)
{
    char path[PATH_MAX];
    struct stat st;
    if (snprintf(path, sizeof path, "%s/data.mdb", dir) >= (int)sizeof path)
        return KC_EINVAL;
    *exists = false;
    if (stat(path, &st) == 0) {
        *exists = st.st_size > 0;
    } else if (errno != ENOENT && errno != ENOTDIR) {
        int e = errno;
        kc_error("store %s: %s", path, strerror(e));
        return -e;
    }
    if (read_only) {
        if (!*exists)
            kc_debug("store %s: no store here", dir);
        return *exists ? 0 : KC_ENOTFOUND;
    }
    *made_dir = mkdir(dir, 0700) == 0;
    if (!*made_dir && errno != EEXIST) {
        int e = errno;
        kc_error("store %s: cannot create directory: %s", dir, strerror(e));
        return e == ENOSPC ? KC_ENOSPC : -e;
    }
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        kc_error("store %s: not a directory", dir);
        return -ENOTDIR;
    }
    return 0;
}

static void s_free(kc_store_t *s)
{
    kc_mk_free(s);
    if (s->env)
        mdb_env_close(s->env);
    if (s->writer_fd >= 0)
        close(s->writer_fd); /* drops the flock */
    pthread_cond_destroy(&s->idle);
    pthread_mutex_destroy(&s->gate);
    pthread_cond_destroy(&s->dbi_cv);
    pthread_mutex_destroy(&s->dbi_mu);
    free(s->dir);
    free(s);
}

/* One writer per store: a writable open holds an exclusive flock() on
 * DIR/writer.lock for as long as the store is open (the lock goes with the
 * descriptor, so a killed writer leaves none behind) and writes its pid there
 * for the message of the next one. LMDB serialises write transactions, but a
 * writer keeps state between them (the Merkle frontier, cached producer
 * states): a second writer would commit on a view that is no longer true.
 * Readers take no part in it. KC_EBUSY if another writer holds it. */
static int s_writer_lock(const char *dir, int *fd_out)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/writer.lock", dir) >= (int)sizeof path)
        return KC_EINVAL;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        kc_error("store %s: cannot open %s: %s", dir, path, strerror(errno));
        return -errno;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int err = errno;
        char buf[32] = "";
        ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
        buf[n > 0 ? n : 0] = '\0';
        close(fd);
        if (err != EWOULDBLOCK)
            return -err;
        kc_error("store %s: already open for writing by another process (pid %ld): one writer "
                 "per store; stop it first, or open the store read-only",
                 dir, strtol(buf, NULL, 10));
        return KC_EBUSY;
    }
    char pid[32];
    int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)len, 0) != len) {
        /* the pid is only for a message: the lock itself is held */
    }
    *fd_out = fd;
    return 0;
}

int kc_store_open(kc_store_t **out, const char *dir, const kc_store_opts_t *opts)
{
    if (!out)
        return KC_EINVAL;
    *out = NULL;
    if (!dir || !*dir)
        return KC_EINVAL;
    kc_store_opts_t o = opts ? *opts : (kc_store_opts_t){0};
    if (o.map_size > KC_STORE_MAX_MAPSIZE || (o.exclusive && !o.read_only))
        return KC_EINVAL;
    if (sodium_init() < 0) { /* Merkle hashing and head signatures */
        kc_error("store %s: libsodium cannot be initialised", dir);
        return KC_ESTORE;
    }

    bool exists, made_dir = false;
    int rc = s_prepare_dir(dir, o.read_only, &exists, &made_dir);
    if (rc != 0)
        return rc;

    kc_store_t *s = calloc(1, sizeof *s);
    if (!s)
        return KC_ENOMEM;
    s->writer_fd = -1;
    s->read_only = o.read_only;
    s->allow_old_format = o.allow_old_format;
    s->dir = strdup(dir);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->idle, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&s->gate, NULL);
    pthread_mutex_init(&s->dbi_mu, NULL);
    pthread_cond_init(&s->dbi_cv, NULL);
    s->mk = kc_mk_new();
    if (!s->dir || !s->mk) {
        s_free(s);
        return KC_ENOMEM;
    }
    if (!o.read_only && (rc = s_writer_lock(dir, &s->writer_fd)) != 0) {
        s_free(s);
        return rc;
    }

    int mrc = mdb_env_create(&s->env);
    if (mrc == MDB_SUCCESS)
        mrc = mdb_env_set_maxdbs(s->env, KC_DB_COUNT + 4 + 256); /* + "identities", "leaves"
                                      of format 3 and an early format-4 "idents", opened to
                                      migrate; + "idents/NN", one per unit key (1 byte,
                                      kc_ref_unit_key) */
    if (mrc == MDB_SUCCESS && o.max_readers)
        mrc = mdb_env_set_maxreaders(s->env, o.max_readers);
    /* A new store starts at the requested size; an existing one at its own
     * (LMDB adopts the file's when none is set), raised below if asked. */
    if (mrc == MDB_SUCCESS && !o.read_only && !exists)
        mrc = mdb_env_set_mapsize(s->env, o.map_size ? o.map_size : KC_STORE_DEFAULT_MAPSIZE);
    if (mrc != MDB_SUCCESS) {
        rc = kc_store_err(s, mrc, "create environment");
        goto fail;
    }
    unsigned flags = MDB_NOTLS | (o.read_only ? MDB_RDONLY : 0) | (o.exclusive ? MDB_NOLOCK : 0);
    mrc = mdb_env_open(s->env, dir, flags, 0600);
    if (mrc != MDB_SUCCESS) {
        if (mrc == ENOENT) {
            rc = KC_ENOTFOUND;
        } else if (mrc == MDB_INVALID || mrc == MDB_VERSION_MISMATCH) {
            kc_error("store %s: %s", dir, mdb_strerror(mrc));
            rc = KC_EFORMAT;
        } else if (mrc == EACCES || mrc == EROFS) {
            kc_error("store %s: %s", dir, mdb_strerror(mrc));
            rc = -mrc;
        } else {
            rc = kc_store_err(s, mrc, "open environment");
        }
        goto fail;
    }

    if (o.read_only) {
        rc = s_init_read(s);
        if (rc != 0)
            goto fail;
        s->units_ready = true;
        *out = s;
        return 0;
    }

    if (exists && o.map_size > s_env_mapsize(s->env)) {
        mrc = mdb_env_set_mapsize(s->env, o.map_size);
        if (mrc != MDB_SUCCESS) {
            rc = kc_store_err(s, mrc, "set map size");
            goto fail;
        }
    }
    int dead = 0;
    mrc = mdb_reader_check(s->env, &dead);
    if (mrc != MDB_SUCCESS) {
        rc = kc_store_err(s, mrc, "check readers");
        goto fail;
    }
    if (dead > 0)
        kc_info("store %s: cleared %d stale reader slot(s)", dir, dead);
    rc = kc_store_write(s, s_init_write, s);
    s->units_ready = true;
    if (rc == 0 && !exists)
        rc = s_sync_new(dir, made_dir);
    if (rc != 0)
        goto fail;
    *out = s;
    return 0;

fail:
    s_free(s);
    return rc;
}

void kc_store_close(kc_store_t **sp)
{
    if (!sp || !*sp)
        return;
    kc_store_t *s = *sp;
    *sp = NULL;
    if (s->active != 0)
        kc_error("store %s: closed with %u transaction(s) open", s->dir, s->active);
    s_free(s);
}

/* ---- statistics ---- */

static int s_stat_unit(kc_txn_t *t, uint8_t unit, MDB_dbi dbi, void *ctx)
{
    (void)unit;
    MDB_stat ms;
    int mrc = mdb_stat(t->txn, dbi, &ms);
    if (mrc != MDB_SUCCESS)
        return kc_store_err(t->s, mrc, "stat identities");
    *(uint64_t *)ctx += ms.ms_entries;
    return 0;
}

int kc_txn_stat(kc_txn_t *t, kc_store_stat_t *st)
{
    if (!t || !t->txn || !st)
        return KC_EINVAL;
    memset(st, 0, sizeof *st);
    uint64_t *counts[KC_DB_COUNT] = {&st->log_entries, &st->producers, NULL,
                                     &st->cells,       &st->rejects,   NULL};
    int rc = kc_store_units_each(t, s_stat_unit, &st->identities);
    if (rc != 0)
        return rc;
    for (int i = 0; i < KC_DB_COUNT; i++) {
        MDB_stat ms;
        if (!counts[i])
            continue;
        int mrc = mdb_stat(t->txn, t->s->dbi[i], &ms);
        if (mrc != MDB_SUCCESS)
            return kc_store_err(t->s, mrc, "stat");
        *counts[i] = ms.ms_entries;
    }
    MDB_envinfo info;
    MDB_stat es;
    int mrc = mdb_env_info(t->s->env, &info);
    if (mrc == MDB_SUCCESS)
        mrc = mdb_env_stat(t->s->env, &es);
    if (mrc != MDB_SUCCESS)
        return kc_store_err(t->s, mrc, "environment info");
    st->map_size = info.me_mapsize;
    st->used_bytes = (info.me_last_pgno + 1) * (size_t)es.ms_psize;
    return 0;
}
