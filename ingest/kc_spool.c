/* kc_spool.c - the producer's durable LMDB spool (see kc_spool.h DESIGN). */
#include "kc_spool.h"

#include "kc_err.h"
#include "kc_log.h"
#include "kc_time.h"

#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_DEFAULT_MAP ((size_t)64 << 20)
#define S_REC_HDR     5 /* version u8, id_len u16, src_len u16 */

static size_t s_initial_map = 0;

typedef struct {
    uint64_t seq;
    size_t off; /* offset of the record value in stage_buf */
    size_t len;
} s_staged_t;

typedef struct {
    uint64_t seq;
    size_t tag;
    size_t id_off; /* offsets into removed_buf (realloc-safe) */
    size_t src_off;
} s_removed_t;

struct kc_spool {
    MDB_env *env;       /* the LMDB environment in dir */
    MDB_dbi meta;       /* producer_id, next_seq, format */
    MDB_dbi pending;    /* seq -> record */
    MDB_txn *rtxn;      /* reusable read transaction (reset between reads), or NULL */
    int lock_fd;        /* flock'd owner.lock: one process per spool */
    char *dir;          /* spool directory (owned) */
    size_t map_size;    /* current map size */
    uint64_t next_seq;  /* next seq to assign (counts staged records) */
    uint64_t epoch;     /* this spool's sequence space (Batch.producer_epoch) */
    uint64_t count;     /* pending records on disk */
    uint64_t first;     /* lowest pending seq on disk, 0 if none */
    s_staged_t *staged; /* staged records, increasing seq */
    size_t n_staged, cap_staged;
    uint8_t *stage_buf; /* their record values, back to back */
    size_t stage_len, stage_cap;
    s_removed_t *removed; /* removed by the last commit */
    size_t n_removed, cap_removed;
    char *removed_buf; /* NUL-terminated event ids and sources of removed records */
    size_t removed_len, removed_cap;
    kc_spool_removed_t *removed_view; /* pointer view handed out by kc_spool_removed */
};

void kc_spool_set_initial_map_size(size_t bytes)
{
    s_initial_map = bytes;
}

static void s_put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static uint64_t s_get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static int s_grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 64;
    while (n < need)
        n *= 2;
    void *q = realloc(*p, n * elem);
    if (!q)
        return KC_ENOMEM;
    *p = q;
    *cap = n;
    return 0;
}

/* Map an LMDB return code to a KC_E* code, logging what failed. */
static int s_err(int rc, const char *what)
{
    switch (rc) {
    case MDB_MAP_FULL: return KC_EMAPFULL;
    case ENOSPC: kc_error("spool: %s: disk full", what); return KC_ENOSPC;
    case ENOMEM: kc_error("spool: %s: out of memory", what); return KC_ENOMEM;
    default: kc_error("spool: %s: %s", what, mdb_strerror(rc)); return KC_ESTORE;
    }
}

static int s_mkdirs(const char *dir)
{
    char *path = strdup(dir);
    if (!path)
        return KC_ENOMEM;
    int rc = 0;
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST) {
            rc = -errno;
            kc_error("spool: cannot create directory %s: %s", path, strerror(errno));
            break;
        }
        *p = c;
        if (c == '\0')
            break;
    }
    free(path);
    return rc;
}

static int s_lock(kc_spool_t *sp)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/owner.lock", sp->dir) >= (int)sizeof path)
        return KC_EINVAL;
    sp->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (sp->lock_fd < 0) {
        kc_error("spool: cannot open %s: %s", path, strerror(errno));
        return -errno;
    }
    if (flock(sp->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        kc_error("spool %s is in use by another process", sp->dir);
        return e == EWOULDBLOCK ? KC_EBUSY : -e;
    }
    return 0;
}

/* Create the meta records of a new spool or check those of an existing one. */
static int s_init_meta(kc_spool_t *sp, MDB_txn *txn, const char *producer_id)
{
    MDB_val k = {strlen("producer_id"), "producer_id"}, v;
    int rc = mdb_get(txn, sp->meta, &k, &v);
    if (rc == MDB_NOTFOUND) {
        uint8_t seq[8], ep[8], fmt[4] = {0, 0, 0, KC_SPOOL_FORMAT};
        /* The epoch orders this spool after every earlier one of the producer:
         * its creation time, in ns since 1970. */
        sp->epoch = kc_time_real_ns();
        s_put_be64(seq, 1);
        s_put_be64(ep, sp->epoch);
        MDB_val pv = {strlen(producer_id), (void *)producer_id};
        MDB_val sk = {strlen("next_seq"), "next_seq"}, sv = {8, seq};
        MDB_val ek = {strlen("epoch"), "epoch"}, ev = {8, ep};
        MDB_val fk = {strlen("format"), "format"}, fv = {4, fmt};
        if ((rc = mdb_put(txn, sp->meta, &k, &pv, 0)) ||
            (rc = mdb_put(txn, sp->meta, &sk, &sv, 0)) ||
            (rc = mdb_put(txn, sp->meta, &ek, &ev, 0)) ||
            (rc = mdb_put(txn, sp->meta, &fk, &fv, 0)))
            return s_err(rc, "writing meta");
        sp->next_seq = 1;
        kc_info("spool %s created for producer '%s'", sp->dir, producer_id);
        return 0;
    }
    if (rc)
        return s_err(rc, "reading meta");
    if (v.mv_size != strlen(producer_id) || memcmp(v.mv_data, producer_id, v.mv_size) != 0) {
        kc_error("spool %s belongs to producer '%.*s', not '%s'; use another --spool directory",
                 sp->dir, (int)v.mv_size, (const char *)v.mv_data, producer_id);
        return KC_EINVAL;
    }
    MDB_val fk = {strlen("format"), "format"};
    rc = mdb_get(txn, sp->meta, &fk, &v);
    if (rc || v.mv_size != 4 || ((const uint8_t *)v.mv_data)[3] != KC_SPOOL_FORMAT ||
        memcmp(v.mv_data, "\0\0\0", 3) != 0) {
        kc_error("spool %s: missing or unsupported format version", sp->dir);
        return KC_EFORMAT;
    }
    MDB_val sk = {strlen("next_seq"), "next_seq"};
    rc = mdb_get(txn, sp->meta, &sk, &v);
    if (rc || v.mv_size != 8) {
        kc_error("spool %s: missing next_seq", sp->dir);
        return KC_EFORMAT;
    }
    sp->next_seq = s_get_be64(v.mv_data);
    MDB_val ek = {strlen("epoch"), "epoch"};
    rc = mdb_get(txn, sp->meta, &ek, &v);
    if (rc || v.mv_size != 8) {
        kc_error("spool %s: missing epoch", sp->dir);
        return KC_EFORMAT;
    }
    sp->epoch = s_get_be64(v.mv_data);
    return 0;
}

/* Refresh count and first from the pending database inside txn. */
static int s_scan(kc_spool_t *sp, MDB_txn *txn, uint64_t *last)
{
    MDB_stat st;
    int rc = mdb_stat(txn, sp->pending, &st);
    if (rc)
        return s_err(rc, "stat");
    sp->count = st.ms_entries;
    sp->first = 0;
    if (last)
        *last = 0;
    MDB_cursor *cur;
    if ((rc = mdb_cursor_open(txn, sp->pending, &cur)))
        return s_err(rc, "cursor");
    MDB_val k, v;
    if (mdb_cursor_get(cur, &k, &v, MDB_FIRST) == 0 && k.mv_size == 8)
        sp->first = s_get_be64(k.mv_data);
    if (last && mdb_cursor_get(cur, &k, &v, MDB_LAST) == 0 && k.mv_size == 8)
        *last = s_get_be64(k.mv_data);
    mdb_cursor_close(cur);
    return 0;
}

int kc_spool_open(kc_spool_t **out, const char *dir, const char *producer_id)
{
    *out = NULL;
    if (!dir || !*dir || !producer_id || !*producer_id)
        return KC_EINVAL;
    kc_spool_t *sp = calloc(1, sizeof *sp);
    if (!sp)
        return KC_ENOMEM;
    sp->lock_fd = -1;
    int rc = KC_ENOMEM;
    if (!(sp->dir = strdup(dir)))
        goto fail;
    if ((rc = s_mkdirs(dir)) || (rc = s_lock(sp)))
        goto fail;
    if ((rc = mdb_env_create(&sp->env))) {
        rc = s_err(rc, "env_create");
        goto fail;
    }
    mdb_env_set_maxdbs(sp->env, 2);
    mdb_env_set_mapsize(sp->env, s_initial_map ? s_initial_map : S_DEFAULT_MAP);
    if ((rc = mdb_env_open(sp->env, dir, MDB_NOTLS, 0600))) {
        kc_error("spool: cannot open LMDB environment in %s: %s", dir, mdb_strerror(rc));
        rc = KC_ESTORE;
        goto fail;
    }
    MDB_envinfo info;
    mdb_env_info(sp->env, &info);
    sp->map_size = info.me_mapsize;
    MDB_txn *txn;
    if ((rc = mdb_txn_begin(sp->env, NULL, 0, &txn))) {
        rc = s_err(rc, "txn_begin");
        goto fail;
    }
    uint64_t last = 0;
    if ((rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &sp->meta)) ||
        (rc = mdb_dbi_open(txn, "pending", MDB_CREATE, &sp->pending))) {
        mdb_txn_abort(txn);
        rc = s_err(rc, "dbi_open");
        goto fail;
    }
    if ((rc = s_init_meta(sp, txn, producer_id)) || (rc = s_scan(sp, txn, &last))) {
        mdb_txn_abort(txn);
        goto fail;
    }
    if (last >= sp->next_seq) { /* cannot happen with this library; repair defensively */
        kc_warn("spool %s: next_seq %llu <= last pending %llu; continuing after it", dir,
                (unsigned long long)sp->next_seq, (unsigned long long)last);
        sp->next_seq = last + 1;
    }
    if ((rc = mdb_txn_commit(txn))) {
        rc = s_err(rc, "commit");
        goto fail;
    }
    if (sp->count)
        kc_info("spool %s: %llu events pending from an earlier run (seq %llu..)", dir,
                (unsigned long long)sp->count, (unsigned long long)sp->first);
    *out = sp;
    return 0;
fail:
    kc_spool_close(&sp);
    return rc;
}

void kc_spool_close(kc_spool_t **spp)
{
    kc_spool_t *sp = spp ? *spp : NULL;
    if (!sp)
        return;
    if (sp->rtxn)
        mdb_txn_abort(sp->rtxn);
    if (sp->env)
        mdb_env_close(sp->env);
    if (sp->lock_fd >= 0)
        close(sp->lock_fd); /* releases the flock */
    free(sp->dir);
    free(sp->staged);
    free(sp->stage_buf);
    free(sp->removed);
    free(sp->removed_buf);
    free(sp->removed_view);
    free(sp);
    *spp = NULL;
}

uint64_t kc_spool_epoch(const kc_spool_t *sp)
{
    return sp->epoch;
}

uint64_t kc_spool_next_seq(const kc_spool_t *sp)
{
    return sp->next_seq;
}
size_t kc_spool_staged(const kc_spool_t *sp)
{
    return sp->n_staged;
}
uint64_t kc_spool_count(const kc_spool_t *sp)
{
    return sp->count;
}
uint64_t kc_spool_first(const kc_spool_t *sp)
{
    return sp->first;
}
size_t kc_spool_map_size(const kc_spool_t *sp)
{
    return sp->map_size;
}

int kc_spool_stage(kc_spool_t *sp, const char *event_id, const char *source, const void *ev,
                   size_t ev_len)
{
    size_t id_len = event_id ? strlen(event_id) : 0;
    size_t src_len = source ? strlen(source) : 0;
    if (id_len > UINT16_MAX || src_len > UINT16_MAX)
        return KC_EINVAL;
    size_t len = S_REC_HDR + id_len + src_len + ev_len;
    if (s_grow((void **)&sp->stage_buf, &sp->stage_cap, sp->stage_len + len, 1) ||
        s_grow((void **)&sp->staged, &sp->cap_staged, sp->n_staged + 1, sizeof *sp->staged))
        return KC_ENOMEM;
    uint8_t *p = sp->stage_buf + sp->stage_len;
    p[0] = KC_SPOOL_FORMAT;
    p[1] = (uint8_t)(id_len >> 8);
    p[2] = (uint8_t)id_len;
    p[3] = (uint8_t)(src_len >> 8);
    p[4] = (uint8_t)src_len;
    if (id_len)
        memcpy(p + S_REC_HDR, event_id, id_len);
    if (src_len)
        memcpy(p + S_REC_HDR + id_len, source, src_len);
    if (ev_len)
        memcpy(p + S_REC_HDR + id_len + src_len, ev, ev_len);
    sp->staged[sp->n_staged++] = (s_staged_t){sp->next_seq++, sp->stage_len, len};
    sp->stage_len += len;
    return 0;
}

/* Split a record value; returns 0 or KC_EFORMAT. */
static int s_parse(const MDB_val *v, const char **id, size_t *id_len, const char **src,
                   size_t *src_len, const void **ev, size_t *ev_len)
{
    const uint8_t *p = v->mv_data;
    if (v->mv_size < S_REC_HDR || p[0] != KC_SPOOL_FORMAT)
        return KC_EFORMAT;
    *id_len = (size_t)p[1] << 8 | p[2];
    *src_len = (size_t)p[3] << 8 | p[4];
    if (S_REC_HDR + *id_len + *src_len > v->mv_size)
        return KC_EFORMAT;
    *id = (const char *)p + S_REC_HDR;
    *src = *id + *id_len;
    *ev = *src + *src_len;
    *ev_len = v->mv_size - S_REC_HDR - *id_len - *src_len;
    return 0;
}

static int s_remember(kc_spool_t *sp, uint64_t seq, size_t tag, const MDB_val *v)
{
    const char *id, *src;
    const void *ev;
    size_t id_len, src_len, ev_len;
    if (s_parse(v, &id, &id_len, &src, &src_len, &ev, &ev_len)) {
        kc_warn("spool: record %llu is corrupt; removing it", (unsigned long long)seq);
        id = src = "";
        id_len = src_len = 0;
    }
    size_t need = sp->removed_len + id_len + src_len + 2;
    if (s_grow((void **)&sp->removed_buf, &sp->removed_cap, need, 1) ||
        s_grow((void **)&sp->removed, &sp->cap_removed, sp->n_removed + 1, sizeof *sp->removed))
        return KC_ENOMEM;
    s_removed_t *r = &sp->removed[sp->n_removed++];
    r->seq = seq;
    r->tag = tag;
    r->id_off = sp->removed_len;
    memcpy(sp->removed_buf + sp->removed_len, id, id_len);
    sp->removed_buf[sp->removed_len + id_len] = '\0';
    r->src_off = sp->removed_len + id_len + 1;
    memcpy(sp->removed_buf + r->src_off, src, src_len);
    sp->removed_buf[r->src_off + src_len] = '\0';
    sp->removed_len = need;
    return 0;
}

/* One attempt at the commit; returns 0, KC_EMAPFULL (aborted) or another error. */
static int s_commit_once(kc_spool_t *sp, const kc_spool_range_t *ranges, size_t n)
{
    sp->n_removed = 0;
    sp->removed_len = 0;
    MDB_txn *txn;
    MDB_cursor *cur = NULL;
    int rc = mdb_txn_begin(sp->env, NULL, 0, &txn);
    if (rc)
        return s_err(rc, "txn_begin");
    uint8_t kb[8];
    for (size_t i = 0; i < sp->n_staged; i++) {
        s_put_be64(kb, sp->staged[i].seq);
        MDB_val k = {8, kb}, v = {sp->staged[i].len, sp->stage_buf + sp->staged[i].off};
        if ((rc = mdb_put(txn, sp->pending, &k, &v, MDB_APPEND))) {
            rc = s_err(rc, "put pending");
            goto txn_abort;
        }
    }
    if (sp->n_staged) {
        s_put_be64(kb, sp->next_seq);
        MDB_val k = {strlen("next_seq"), "next_seq"}, v = {8, kb};
        if ((rc = mdb_put(txn, sp->meta, &k, &v, 0))) {
            rc = s_err(rc, "put next_seq");
            goto txn_abort;
        }
    }
    if (n) {
        if ((rc = mdb_cursor_open(txn, sp->pending, &cur))) {
            rc = s_err(rc, "cursor");
            goto txn_abort;
        }
        for (size_t i = 0; i < n; i++) {
            if (ranges[i].from > ranges[i].to)
                continue;
            s_put_be64(kb, ranges[i].from);
            MDB_val k = {8, kb}, v;
            int g = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
            while (g == 0) {
                if (k.mv_size != 8) { /* not a seq: a corrupt key, left alone */
                    kc_warn("spool: skipping a pending key of %zu bytes (corrupt)", k.mv_size);
                    g = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
                    continue;
                }
                if (s_get_be64(k.mv_data) > ranges[i].to)
                    break;
                if ((rc = s_remember(sp, s_get_be64(k.mv_data), ranges[i].tag, &v)))
                    goto txn_abort;
                if ((rc = mdb_cursor_del(cur, 0))) {
                    rc = s_err(rc, "delete pending");
                    goto txn_abort;
                }
                g = mdb_cursor_get(cur, &k, &v, MDB_NEXT); /* after a delete: the next one */
            }
            if (g != 0 && g != MDB_NOTFOUND) {
                rc = s_err(g, "cursor_get");
                goto txn_abort;
            }
        }
        mdb_cursor_close(cur);
        cur = NULL;
    }
    uint64_t count = sp->count, first = sp->first;
    if ((rc = s_scan(sp, txn, NULL)))
        goto txn_abort;
    if ((rc = mdb_txn_commit(txn))) {
        sp->count = count;
        sp->first = first;
        return s_err(rc, "commit");
    }
    return 0;
txn_abort:
    if (cur)
        mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return rc;
}

int kc_spool_commit(kc_spool_t *sp, const kc_spool_range_t *ranges, size_t n)
{
    if (sp->rtxn) { /* no transaction may be live while the map is resized */
        mdb_txn_abort(sp->rtxn);
        sp->rtxn = NULL;
    }
    int rc;
    while ((rc = s_commit_once(sp, ranges, n)) == KC_EMAPFULL) {
        size_t grown = sp->map_size * 2;
        int mrc = mdb_env_set_mapsize(sp->env, grown);
        if (mrc)
            return s_err(mrc, "growing the map");
        MDB_envinfo info;
        mdb_env_info(sp->env, &info);
        sp->map_size = info.me_mapsize;
        kc_info("spool %s: map full, grown to %zu bytes", sp->dir, sp->map_size);
    }
    if (rc)
        return rc;
    sp->n_staged = 0;
    sp->stage_len = 0;
    free(sp->removed_view);
    sp->removed_view = NULL;
    if (sp->n_removed) {
        sp->removed_view = malloc(sp->n_removed * sizeof *sp->removed_view);
        if (!sp->removed_view) {
            sp->n_removed = 0; /* committed: the results cannot be reported */
            kc_error("spool: out of memory listing removed records");
            return KC_ENOMEM;
        }
        for (size_t i = 0; i < sp->n_removed; i++)
            sp->removed_view[i] = (kc_spool_removed_t){sp->removed[i].seq, sp->removed[i].tag,
                                                       sp->removed_buf + sp->removed[i].id_off,
                                                       sp->removed_buf + sp->removed[i].src_off};
    }
    return 0;
}

size_t kc_spool_removed(const kc_spool_t *sp, const kc_spool_removed_t **out)
{
    *out = sp->removed_view;
    return sp->removed_view ? sp->n_removed : 0;
}

int kc_spool_read(kc_spool_t *sp, uint64_t from, size_t max, size_t max_bytes, kc_spool_read_fn fn,
                  void *ctx)
{
    int rc =
        sp->rtxn ? mdb_txn_renew(sp->rtxn) : mdb_txn_begin(sp->env, NULL, MDB_RDONLY, &sp->rtxn);
    if (rc) {
        if (sp->rtxn) {
            mdb_txn_abort(sp->rtxn);
            sp->rtxn = NULL;
        }
        return s_err(rc, "read txn");
    }
    MDB_cursor *cur;
    if ((rc = mdb_cursor_open(sp->rtxn, sp->pending, &cur))) {
        mdb_txn_reset(sp->rtxn);
        return s_err(rc, "cursor");
    }
    uint8_t kb[8];
    s_put_be64(kb, from);
    MDB_val k = {8, kb}, v;
    int visited = 0;
    size_t bytes = 0;
    int g = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (g == 0 && (size_t)visited < max) {
        const char *id, *src;
        const void *ev;
        size_t id_len, src_len, ev_len;
        if (k.mv_size != 8) {
            kc_error("spool: a pending key of %zu bytes is corrupt", k.mv_size);
            rc = KC_EFORMAT;
            break;
        }
        uint64_t seq = s_get_be64(k.mv_data);
        if (s_parse(&v, &id, &id_len, &src, &src_len, &ev, &ev_len)) {
            kc_error("spool: record %llu is corrupt", (unsigned long long)seq);
            rc = KC_EFORMAT;
            break;
        }
        if (visited > 0 && bytes + ev_len > max_bytes)
            break;
        bytes += ev_len;
        visited++;
        if (fn(seq, ev, ev_len, ctx))
            break;
        g = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    if (g != 0 && g != MDB_NOTFOUND)
        rc = s_err(g, "cursor_get");
    mdb_cursor_close(cur);
    mdb_txn_reset(sp->rtxn);
    return rc ? rc : visited;
}
