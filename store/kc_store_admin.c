/* kc_store_admin.c - libkcstore: store lifecycle helpers for kc-admin.
 *
 * DESIGN
 * Copy. kc_store_copy() is mdb_env_copyfd2() on the store's environment
 * (normally a read-only one): LMDB copies from one read transaction, so the
 * copy is a consistent snapshot and the aggregator keeps committing
 * meanwhile (a plain copy holds the writer mutex only while it snapshots the
 * two meta pages; a compacting copy not at all). The call is counted in the
 * remap gate like any transaction; MDB_MAP_RESIZED (the aggregator grew the
 * file) adopts the new size and starts the copy again from the fd's offset.
 *
 * In use. LMDB has every process that opens an environment take a shared
 * fcntl lock on byte 0 of lock.mdb (mdb_env_share_locks) for as long as it is
 * open, whether it is in a transaction or not (with MDB_NOTLS a reader slot
 * is held only during a read transaction, so the reader table alone misses
 * an idle aggregator). kc_store_in_use() asks F_GETLK who holds it;
 * kc_store_lock() takes the byte exclusively (F_SETLK F_WRLCK) so that no
 * other process can open the store while kc-admin replaces its files: an
 * opener's own F_SETLK fails and it waits in F_SETLKW for a shared lock.
 * fcntl locks belong to the process and go away when it closes ANY
 * descriptor of the file, hence kc_store_opts_t.exclusive (MDB_NOLOCK) for
 * opening the store while holding the lock.
 *
 * Readers. mdb_reader_list() prints the used slots as text ("pid thread
 * txnid" or "-" when not in a transaction); each line is parsed, and a slot
 * whose process is gone is "stale" (mdb_reader_check would clear it).
 */
#include "kc_store_int.h"

#include "kc_err.h"
#include "kc_log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_RESIZED_MAX 16

/* Add one unit's identity database to the "idents" row (depth: the deepest). */
static int s_unit_stat(kc_txn_t *t, uint8_t unit, MDB_dbi dbi, void *ctx)
{
    (void)unit;
    kc_store_db_stat_t *d = ctx;
    MDB_stat ms;
    int mrc = mdb_stat(t->txn, dbi, &ms);
    if (mrc != MDB_SUCCESS)
        return kc_store_err(t->s, mrc, "stat identity database");
    if (ms.ms_depth > d->depth)
        d->depth = ms.ms_depth;
    d->branch_pages += ms.ms_branch_pages;
    d->leaf_pages += ms.ms_leaf_pages;
    d->overflow_pages += ms.ms_overflow_pages;
    d->entries += ms.ms_entries;
    return 0;
}

int kc_txn_db_stats(kc_txn_t *t, kc_store_db_stat_t *out, size_t *n)
{
    if (!t || !t->txn || !out || !n)
        return KC_EINVAL;
    *n = 0;
    for (int i = 0; i < KC_DB_COUNT && i < KC_STORE_DB_MAX; i++) {
        kc_store_db_stat_t *d = &out[(*n)++];
        memset(d, 0, sizeof *d);
        d->name = kc_store_db_names[i];
        if ((i == KC_DB_UNITS && t->s->no_units) || (i == KC_DB_PERIODS && t->s->no_periods) ||
            (i == KC_DB_CHECKPOINTS && t->s->no_checkpoints) ||
            (i == KC_DB_SUMMARIES && t->s->no_summaries) ||
            (t->s->no_fmt4 && (i == KC_DB_IDENTITIES || i == KC_DB_PRODUCER_IDS)))
            continue;
        if (i == KC_DB_IDENTITIES) { /* "idents/NN", one per unit: reported together */
            if (t->s->format < 4)
                continue;
            int rc = kc_store_units_each(t, s_unit_stat, d);
            if (rc != 0)
                return rc;
            d->present = true;
            continue;
        }
        MDB_stat ms;
        int mrc = mdb_stat(t->txn, t->s->dbi[i], &ms);
        if (mrc != MDB_SUCCESS)
            return kc_store_err(t->s, mrc, "stat database");
        d->present = true;
        d->depth = ms.ms_depth;
        d->branch_pages = ms.ms_branch_pages;
        d->leaf_pages = ms.ms_leaf_pages;
        d->overflow_pages = ms.ms_overflow_pages;
        d->entries = ms.ms_entries;
    }
    return 0;
}

int kc_store_env_info(kc_store_t *s, kc_store_env_t *out)
{
    if (!s || !out)
        return KC_EINVAL;
    memset(out, 0, sizeof *out);
    int rc = kc_store_enter(s);
    if (rc != 0)
        return rc;
    MDB_envinfo info;
    MDB_stat es;
    int mrc = mdb_env_info(s->env, &info);
    if (mrc == MDB_SUCCESS)
        mrc = mdb_env_stat(s->env, &es);
    kc_store_leave(s);
    if (mrc != MDB_SUCCESS)
        return kc_store_err(s, mrc, "environment info");
    out->page_size = es.ms_psize;
    out->map_size = info.me_mapsize;
    out->last_page = info.me_last_pgno;
    out->last_txnid = info.me_last_txnid;
    out->max_readers = info.me_maxreaders;
    out->num_readers = info.me_numreaders;
    return 0;
}

typedef struct {
    int (*fn)(const kc_store_reader_t *r, void *ctx);
    void *ctx;
    int rc;
} s_rl_t;

static int s_reader_line(const char *msg, void *ctx)
{
    s_rl_t *rl = ctx;
    if (rl->rc != 0)
        return 0;
    int pid;
    unsigned long long tid;
    char txn[32];
    if (sscanf(msg, "%d %llx %31s", &pid, &tid, txn) != 3)
        return 0; /* the header or "(no active readers)" */
    kc_store_reader_t r = {.pid = pid, .thread = tid, .self = pid == (int)getpid()};
    if (strcmp(txn, "-") != 0) {
        r.in_txn = true;
        r.txnid = strtoull(txn, NULL, 10);
    }
    r.stale = !r.self && kill(pid, 0) != 0 && errno == ESRCH;
    rl->rc = rl->fn(&r, rl->ctx);
    return 0;
}

int kc_store_readers(kc_store_t *s, int (*fn)(const kc_store_reader_t *r, void *ctx), void *ctx)
{
    if (!s || !fn)
        return KC_EINVAL;
    s_rl_t rl = {.fn = fn, .ctx = ctx};
    int mrc = mdb_reader_list(s->env, s_reader_line, &rl);
    if (mrc < 0 && rl.rc == 0)
        return kc_store_err(s, mrc, "list readers");
    return rl.rc;
}

int kc_store_copy(kc_store_t *s, int fd, bool compact)
{
    if (!s || fd < 0)
        return KC_EINVAL;
    off_t start = lseek(fd, 0, SEEK_CUR);
    if (start < 0)
        start = 0;
    for (unsigned resized = 0;; resized++) {
        int rc = kc_store_enter(s);
        if (rc != 0)
            return rc;
        int mrc = mdb_env_copyfd2(s->env, fd, compact ? MDB_CP_COMPACT : 0);
        kc_store_leave(s);
        if (mrc == MDB_MAP_RESIZED && resized < S_RESIZED_MAX) {
            if ((rc = kc_store_adopt_map(s)) != 0)
                return rc;
            if (ftruncate(fd, start) != 0 || lseek(fd, start, SEEK_SET) != start) {
                int e = errno;
                kc_error("store %s: copy: cannot rewind the output: %s", s->dir, strerror(e));
                return -e;
            }
            continue;
        }
        if (mrc != MDB_SUCCESS)
            return kc_store_err(s, mrc, compact ? "compacting copy" : "copy");
        return 0;
    }
}

static int s_lock_path(const char *dir, char *path, size_t cap)
{
    if (!dir || snprintf(path, cap, "%s/lock.mdb", dir) >= (int)cap)
        return KC_EINVAL;
    return 0;
}

int kc_store_in_use(const char *dir, int *pid)
{
    char path[PATH_MAX];
    int rc = s_lock_path(dir, path, sizeof path);
    if (rc != 0)
        return rc;
    if (pid)
        *pid = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
    rc = fcntl(fd, F_GETLK, &fl) == 0 ? 0 : -errno;
    /* closing fd drops this process's own locks on lock.mdb: callers must not
     * hold the store open here (F_GETLK ignores our own locks anyway) */
    close(fd);
    if (rc != 0)
        return rc;
    if (fl.l_type == F_UNLCK)
        return 0;
    if (pid)
        *pid = (int)fl.l_pid;
    return 1;
}

int kc_store_lock(const char *dir, int *fdp, int *pid)
{
    char path[PATH_MAX];
    int rc = s_lock_path(dir, path, sizeof path);
    if (rc != 0 || !fdp)
        return rc ? rc : KC_EINVAL;
    *fdp = -1;
    if (pid)
        *pid = 0;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
    while ((rc = fcntl(fd, F_SETLK, &fl)) != 0 && errno == EINTR)
        ;
    if (rc != 0) {
        int e = errno;
        if (e == EAGAIN || e == EACCES) {
            struct flock q = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
            if (pid && fcntl(fd, F_GETLK, &q) == 0 && q.l_type != F_UNLCK)
                *pid = (int)q.l_pid;
            close(fd);
            return KC_EBUSY;
        }
        close(fd);
        return -e;
    }
    *fdp = fd;
    return 0;
}

void kc_store_unlock(int fd, bool reset)
{
    if (fd < 0)
        return;
    if (reset && ftruncate(fd, 0) != 0)
        kc_warn("store: cannot reset lock.mdb: %s", strerror(errno));
    close(fd);
}
