/* kc_logfile.c - the exported event log: writer, streaming reader, verify (kc_logfile.h).
 *
 * DESIGN
 * Format: kc_logfile.h and docs/LOGFILE.md (the specification). Everything
 * here is checked from the file alone, in one forward pass:
 *   1. header: magic (text-mode mangling is named as such), version (an
 *      unknown one is refused before anything else is read, since a later
 *      version may lay out the rest differently), length, checksum, flags.
 *   2. record i: u32 length within [KC_MERKLE_LEAF_FIXED + 1, RECORD_MAX];
 *      the leaf input must decode as a complete version-1 leaf; its offset
 *      must be i (a deleted, inserted or reordered record is caught at the
 *      first index where the sequence breaks); SHA-256(0x00 || input) must
 *      equal the stored leaf hash (a changed byte is caught in its record).
 *      The hash is then folded into the frontier.
 *   3. after N records, the trailer: its magic (anything else = extra data
 *      where the trailer belongs: reported as record N), tree_size == N, the
 *      frontier's root == the head's root (records rewritten together with
 *      their hashes are caught here, without an index), then the signature
 *      with the expected key (or the header's), then end of file.
 * Running out of bytes anywhere is "truncated" with the record it ends in.
 * The frontier: frontier[l] holds the root of a perfect subtree of 2^l leaves
 * for each set bit l of the count; pushing a leaf merges equal-sized
 * subtrees like a binary increment; the root folds them right to left.
 * This is the RFC 6962 MTH because every split point of the recursion is the
 * boundary of one of these perfect subtrees.
 * The writer recomputes the same hashes and the root, and refuses to rename
 * a file whose head does not match its records (an export of a store whose
 * log was changed fails instead of producing a file that would not verify).
 */
#include "kc_logfile.h"

#include "kc_err.h"
#include "kc_log.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_MAGIC_LEN     8
#define S_HDR_SUMMED    56 /* header bytes covered by the checksum */
#define S_FRONTIER_MAX  64
#define S_STOP          1 /* log scan: the head's size was reached */
#define S_PROGRESS_STEP 4096
#define S_IOBUF         (256 * 1024)
#define S_RECORD_MIN    (KC_MERKLE_LEAF_FIXED + 1) /* producer id of at least one byte */

/* ---- bytes ---- */

static void s_put32(uint8_t *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static void s_put64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static uint32_t s_get32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static uint64_t s_get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static int s_errno_rc(void)
{
    if (errno == ENOSPC)
        return KC_ENOSPC;
    return errno > 0 ? -errno : KC_EIO;
}

/* ---- frontier ---- */

typedef struct {
    uint64_t count;
    uint8_t h[S_FRONTIER_MAX][KC_MERKLE_HASH_LEN];
} s_frontier_t;

static void s_frontier_push(s_frontier_t *f, const uint8_t leaf[KC_MERKLE_HASH_LEN])
{
    uint8_t h[KC_MERKLE_HASH_LEN];
    memcpy(h, leaf, sizeof h);
    int level = 0;
    for (uint64_t n = f->count; n & 1; n >>= 1, level++)
        kc_merkle_node_hash(f->h[level], h, h);
    memcpy(f->h[level], h, sizeof h);
    f->count++;
}

static void s_frontier_root(const s_frontier_t *f, uint8_t out[KC_MERKLE_HASH_LEN])
{
    if (f->count == 0) {
        kc_merkle_empty_root(out);
        return;
    }
    bool have = false;
    for (int level = 0; level < S_FRONTIER_MAX; level++) {
        if (!(f->count >> level & 1))
            continue;
        if (!have)
            memcpy(out, f->h[level], KC_MERKLE_HASH_LEN);
        else
            kc_merkle_node_hash(f->h[level], out, out);
        have = true;
    }
}

static void s_header_encode(uint8_t out[KC_LOGFILE_HEADER_LEN], uint32_t version,
                            const uint8_t pk[32], uint64_t count)
{
    memcpy(out, KC_LOGFILE_MAGIC, S_MAGIC_LEN);
    s_put32(out + 8, version);
    s_put32(out + 12, 0);
    memcpy(out + 16, pk, 32);
    s_put64(out + 48, count);
    crypto_hash_sha256(out + S_HDR_SUMMED, out, S_HDR_SUMMED);
}

/* ---- writer ---- */

struct kc_logfile_writer {
    FILE *f;
    char *path, *tmp;
    uint8_t pk[KC_MERKLE_PUBKEY_LEN];
    uint64_t count, added;
    uint8_t *buf; /* one encoded record */
    size_t cap;
    s_frontier_t fr;
};

static void s_writer_free(kc_logfile_writer_t *w)
{
    if (w->f)
        fclose(w->f);
    free(w->path);
    free(w->tmp);
    free(w->buf);
    free(w);
}

int kc_logfile_writer_open(kc_logfile_writer_t **out, const char *path, const uint8_t pubkey[32],
                           uint64_t count)
{
    if (!out || !path || !*path || !pubkey)
        return KC_EINVAL;
    *out = NULL;
    kc_logfile_writer_t *w = calloc(1, sizeof *w);
    size_t plen = strlen(path);
    if (!w || !(w->path = strdup(path)) || !(w->tmp = malloc(plen + 5))) {
        if (w)
            s_writer_free(w);
        return KC_ENOMEM;
    }
    memcpy(w->tmp, path, plen);
    memcpy(w->tmp + plen, ".tmp", 5);
    memcpy(w->pk, pubkey, sizeof w->pk);
    w->count = count;
    int fd = open(w->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        int rc = s_errno_rc();
        kc_error("log file %s: cannot create: %s", w->tmp, strerror(errno));
        s_writer_free(w);
        return rc;
    }
    w->f = fdopen(fd, "wb");
    if (!w->f) {
        int rc = s_errno_rc();
        close(fd);
        unlink(w->tmp);
        s_writer_free(w);
        return rc;
    }
    setvbuf(w->f, NULL, _IOFBF, S_IOBUF);
    uint8_t hdr[KC_LOGFILE_HEADER_LEN];
    s_header_encode(hdr, KC_LOGFILE_VERSION, pubkey, count);
    if (fwrite(hdr, sizeof hdr, 1, w->f) != 1) {
        int rc = s_errno_rc();
        kc_logfile_writer_abort(&w);
        return rc;
    }
    *out = w;
    return 0;
}

int kc_logfile_writer_add(kc_logfile_writer_t *w, const kc_log_entry_t *e)
{
    if (!w || !e || e->offset != w->added || w->added >= w->count)
        return KC_EINVAL;
    kc_merkle_leaf_t leaf;
    kc_log_entry_leaf(e, &leaf);
    size_t len = kc_merkle_leaf_input_len(&leaf);
    if (len == 0 || len > KC_LOGFILE_RECORD_MAX)
        return KC_EINVAL;
    size_t need = 4 + len + KC_MERKLE_HASH_LEN;
    if (need > w->cap) {
        uint8_t *b = realloc(w->buf, need);
        if (!b)
            return KC_ENOMEM;
        w->buf = b;
        w->cap = need;
    }
    s_put32(w->buf, (uint32_t)len);
    kc_merkle_leaf_encode(&leaf, w->buf + 4, len);
    uint8_t *hash = w->buf + 4 + len;
    kc_merkle_leaf_hash_raw(w->buf + 4, len, hash);
    if (fwrite(w->buf, need, 1, w->f) != 1)
        return s_errno_rc();
    s_frontier_push(&w->fr, hash);
    w->added++;
    return 0;
}

void kc_logfile_writer_root(const kc_logfile_writer_t *w, uint8_t root[KC_MERKLE_HASH_LEN])
{
    s_frontier_root(&w->fr, root);
}

/* fsync the directory holding path. */
static int s_sync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    if (!dir)
        return KC_ENOMEM;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = 0;
    if (fd < 0 || fsync(fd) != 0) {
        rc = s_errno_rc();
        kc_error("log file: cannot sync directory %s: %s", dir, strerror(errno));
    }
    if (fd >= 0)
        close(fd);
    free(dir);
    return rc;
}

int kc_logfile_writer_finish(kc_logfile_writer_t **wp, const kc_merkle_sth_t *head)
{
    if (!wp || !*wp)
        return KC_EINVAL;
    kc_logfile_writer_t *w = *wp;
    int rc = 0;
    uint8_t root[KC_MERKLE_HASH_LEN];
    s_frontier_root(&w->fr, root);
    if (!head || w->added != w->count || head->tree_size != w->count) {
        rc = KC_EINVAL;
    } else if (sodium_memcmp(root, head->root, sizeof root) != 0) {
        kc_error("log file %s: the head of size %llu does not match the log's entries", w->path,
                 (unsigned long long)head->tree_size);
        rc = KC_EPROTO;
    } else if (!kc_merkle_sth_verify(head, w->pk)) {
        kc_error("log file %s: the head of size %llu has a bad signature", w->path,
                 (unsigned long long)head->tree_size);
        rc = KC_EPROTO;
    }
    if (rc != 0) {
        kc_logfile_writer_abort(wp);
        return rc;
    }
    uint8_t t[KC_LOGFILE_TRAILER_LEN];
    memcpy(t, KC_LOGFILE_END_MAGIC, S_MAGIC_LEN);
    s_put64(t + 8, head->tree_size);
    s_put64(t + 16, head->timestamp_ns);
    memcpy(t + 24, head->root, KC_MERKLE_HASH_LEN);
    memcpy(t + 56, head->signature, KC_MERKLE_SIG_LEN);
    if (fwrite(t, sizeof t, 1, w->f) != 1 || fflush(w->f) != 0 || fsync(fileno(w->f)) != 0) {
        rc = s_errno_rc();
        kc_error("log file %s: cannot write: %s", w->tmp, strerror(errno));
        kc_logfile_writer_abort(wp);
        return rc;
    }
    int crc = fclose(w->f);
    w->f = NULL;
    if (crc != 0 || rename(w->tmp, w->path) != 0) {
        rc = s_errno_rc();
        kc_error("log file %s: cannot finish: %s", w->path, strerror(errno));
        kc_logfile_writer_abort(wp);
        return rc;
    }
    rc = s_sync_dir(w->path);
    s_writer_free(w);
    *wp = NULL;
    return rc;
}

void kc_logfile_writer_abort(kc_logfile_writer_t **wp)
{
    if (!wp || !*wp)
        return;
    kc_logfile_writer_t *w = *wp;
    if (w->f) {
        fclose(w->f);
        w->f = NULL;
    }
    unlink(w->tmp);
    s_writer_free(w);
    *wp = NULL;
}

/* ---- export ---- */

typedef struct {
    kc_logfile_writer_t *w;
    uint64_t size;
    void (*progress)(uint64_t done, uint64_t total, void *ctx);
    void *ctx;
} s_export_t;

static int s_export_one(const kc_log_entry_t *e, void *ctx)
{
    s_export_t *x = ctx;
    if (e->offset >= x->size)
        return S_STOP;
    int rc = kc_logfile_writer_add(x->w, e);
    if (rc == KC_EINVAL) {
        kc_error("log export: log entry %llu cannot be exported (out of sequence or too large)",
                 (unsigned long long)e->offset);
        return KC_EFORMAT;
    }
    if (rc == 0 && x->progress && (e->offset + 1) % S_PROGRESS_STEP == 0)
        x->progress(e->offset + 1, x->size, x->ctx);
    return rc;
}

int kc_logfile_export(kc_store_t *store, const char *path, uint64_t size,
                      void (*progress)(uint64_t done, uint64_t total, void *ctx), void *ctx)
{
    if (!store || !path)
        return KC_EINVAL;
    uint8_t pk[KC_MERKLE_PUBKEY_LEN];
    int rc = kc_store_public_key(store, pk);
    if (rc != 0)
        return rc;
    kc_txn_t *t = NULL;
    if ((rc = kc_store_read_begin(store, &t)) != 0)
        return rc;
    kc_merkle_sth_t head;
    uint64_t log_size = 0;
    rc = size ? kc_txn_head_get(t, size, &head) : kc_txn_head_last(t, &head);
    if (rc == 0)
        rc = kc_txn_log_size(t, &log_size);
    if (rc == 0 && log_size < head.tree_size) {
        kc_error("log export: the head of size %llu covers more than the log's %llu entries",
                 (unsigned long long)head.tree_size, (unsigned long long)log_size);
        rc = KC_EFORMAT;
    }
    s_export_t x = {NULL, rc == 0 ? head.tree_size : 0, progress, ctx};
    if (rc == 0)
        rc = kc_logfile_writer_open(&x.w, path, pk, head.tree_size);
    if (rc == 0) {
        rc = kc_txn_log_scan(t, 0, s_export_one, &x);
        if (rc == S_STOP)
            rc = 0;
    }
    kc_txn_end(&t);
    if (rc == 0) {
        rc = kc_logfile_writer_finish(&x.w, &head); /* checks count, root, signature */
        if (rc == KC_EINVAL)
            rc = KC_EFORMAT; /* fewer entries than the head's size came out of the log */
    }
    kc_logfile_writer_abort(&x.w);
    if (rc == 0 && progress)
        progress(head.tree_size, head.tree_size, ctx);
    return rc;
}

/* ---- reader ---- */

struct kc_logfile_reader {
    FILE *f;
    uint8_t pk[KC_MERKLE_PUBKEY_LEN];
    bool expect;
    uint8_t expect_pk[KC_MERKLE_PUBKEY_LEN];
    uint64_t count, next;
    uint8_t *buf;
    size_t cap;
    s_frontier_t fr;
    bool done;
    kc_merkle_sth_t head;
    int failed;               /* sticky error (0 = none) */
    kc_logfile_status_t fail; /* its status */
};

static int s_status(kc_logfile_status_t *st, int rc, bool has_index, uint64_t index, bool trunc,
                    const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static int s_status(kc_logfile_status_t *st, int rc, bool has_index, uint64_t index, bool trunc,
                    const char *fmt, ...)
{
    if (!st)
        return rc;
    memset(st, 0, sizeof *st);
    st->rc = rc;
    st->has_bad_index = has_index;
    st->bad_index = has_index ? index : 0;
    st->truncated = trunc;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st->why, sizeof st->why, fmt, ap);
    va_end(ap);
    return rc;
}

/* Read exactly n bytes: 1, 0 at a clean end of file, -1 short, KC_EIO/-errno. */
static int s_read(FILE *f, void *buf, size_t n, size_t *got)
{
    size_t r = fread(buf, 1, n, f);
    if (got)
        *got = r;
    if (r == n)
        return 1;
    if (ferror(f))
        return errno > 0 ? -errno : KC_EIO;
    return r == 0 ? 0 : -1;
}

static int s_open_fail(kc_logfile_reader_t *r, kc_logfile_status_t *st, int rc)
{
    if (st)
        st->rc = rc;
    kc_logfile_close(&r);
    return rc;
}

int kc_logfile_open(kc_logfile_reader_t **out, const char *path, uint8_t pubkey_out[32],
                    uint64_t *size_out, kc_logfile_status_t *st)
{
    kc_logfile_status_t dummy;
    if (!st)
        st = &dummy;
    s_status(st, 0, false, 0, false, "%s", "");
    if (!out || !path)
        return s_status(st, KC_EINVAL, false, 0, false, "no file given");
    *out = NULL;
    kc_logfile_reader_t *r = calloc(1, sizeof *r);
    if (!r)
        return s_status(st, KC_ENOMEM, false, 0, false, "out of memory");
    r->f = fopen(path, "rbe");
    if (!r->f) {
        int rc = errno > 0 ? -errno : KC_EIO;
        s_status(st, rc, false, 0, false, "cannot open %s: %s", path, strerror(errno));
        return s_open_fail(r, st, rc);
    }
    setvbuf(r->f, NULL, _IOFBF, S_IOBUF);
    uint8_t h[KC_LOGFILE_HEADER_LEN];
    size_t got = 0;
    int rr = s_read(r->f, h, sizeof h, &got);
    if (rr < -1) {
        s_status(st, KC_EIO, false, 0, false, "cannot read %s: %s", path, kc_strerror(rr));
        return s_open_fail(r, st, KC_EIO);
    }
    if (got < S_MAGIC_LEN || memcmp(h, KC_LOGFILE_MAGIC, S_MAGIC_LEN) != 0) {
        bool mangled = got >= 6 && memcmp(h, KC_LOGFILE_MAGIC, 6) == 0;
        s_status(st, KC_EFORMAT, false, 0, false, "%s",
                 got < S_MAGIC_LEN ? "not a kcpipe log file (too short for a header)"
                 : mangled         ? "not a kcpipe log file: its line-end bytes were changed "
                                     "(transferred in text mode?)"
                                   : "not a kcpipe log file (bad magic)");
        return s_open_fail(r, st, KC_EFORMAT);
    }
    if (got >= 12 && s_get32(h + 8) != KC_LOGFILE_VERSION) {
        s_status(st, KC_EFORMAT, false, 0, false,
                 "unsupported log file format version %lu (this reader knows version %d)",
                 (unsigned long)s_get32(h + 8), KC_LOGFILE_VERSION);
        return s_open_fail(r, st, KC_EFORMAT);
    }
    if (got < sizeof h) {
        s_status(st, KC_EFORMAT, false, 0, true, "truncated in the header (%zu of %d bytes)", got,
                 KC_LOGFILE_HEADER_LEN);
        return s_open_fail(r, st, KC_EFORMAT);
    }
    uint8_t sum[KC_MERKLE_HASH_LEN];
    crypto_hash_sha256(sum, h, S_HDR_SUMMED);
    if (memcmp(sum, h + S_HDR_SUMMED, sizeof sum) != 0) {
        s_status(st, KC_EFORMAT, false, 0, false, "corrupt header (checksum mismatch)");
        return s_open_fail(r, st, KC_EFORMAT);
    }
    if (s_get32(h + 12) != 0) {
        s_status(st, KC_EFORMAT, false, 0, false,
                 "unknown header flags 0x%08lx (format version 1 defines none)",
                 (unsigned long)s_get32(h + 12));
        return s_open_fail(r, st, KC_EFORMAT);
    }
    memcpy(r->pk, h + 16, sizeof r->pk);
    r->count = s_get64(h + 48);
    if (pubkey_out)
        memcpy(pubkey_out, r->pk, sizeof r->pk);
    if (size_out)
        *size_out = r->count;
    *out = r;
    return 0;
}

void kc_logfile_expect_key(kc_logfile_reader_t *r, const uint8_t key[32])
{
    if (!r)
        return;
    r->expect = key != NULL;
    if (key)
        memcpy(r->expect_pk, key, sizeof r->expect_pk);
}

/* Record the first error: later calls return it again. */
static int s_fail(kc_logfile_reader_t *r, kc_logfile_status_t *st)
{
    r->failed = st->rc;
    r->fail = *st;
    return st->rc;
}

static int s_trailer(kc_logfile_reader_t *r, kc_logfile_status_t *st)
{
    uint8_t t[KC_LOGFILE_TRAILER_LEN];
    size_t got = 0;
    int rr = s_read(r->f, t, sizeof t, &got);
    uint64_t n = r->count;
    if (rr < -1)
        return s_status(st, KC_EIO, false, 0, false, "read error: %s", kc_strerror(rr));
    if (got >= S_MAGIC_LEN && memcmp(t, KC_LOGFILE_END_MAGIC, S_MAGIC_LEN) != 0)
        return s_status(st, KC_EFORMAT, true, n, false,
                        "more data than the header's %llu records where the trailer belongs "
                        "(an inserted record?)",
                        (unsigned long long)n);
    if (rr != 1)
        return s_status(st, KC_EFORMAT, false, 0, true,
                        got == 0 ? "truncated: the file ends after its %llu records, without "
                                   "the signed head"
                                 : "truncated in the signed head after the %llu records",
                        (unsigned long long)n);
    r->head.tree_size = s_get64(t + 8);
    r->head.timestamp_ns = s_get64(t + 16);
    memcpy(r->head.root, t + 24, KC_MERKLE_HASH_LEN);
    memcpy(r->head.signature, t + 56, KC_MERKLE_SIG_LEN);
    if (r->head.tree_size != n)
        return s_status(st, KC_EPROTO, false, 0, false,
                        "the signed head is of size %llu but the file has %llu records",
                        (unsigned long long)r->head.tree_size, (unsigned long long)n);
    uint8_t root[KC_MERKLE_HASH_LEN];
    s_frontier_root(&r->fr, root);
    if (sodium_memcmp(root, r->head.root, sizeof root) != 0)
        return s_status(st, KC_EPROTO, false, 0, false,
                        "the records do not hash to the signed root (records rewritten along "
                        "with their leaf hashes, or a forged head)");
    if (!kc_merkle_sth_verify(&r->head, r->expect ? r->expect_pk : r->pk))
        return s_status(st, KC_EPROTO, false, 0, false,
                        "the signed head's signature does not verify with the %s key",
                        r->expect ? "expected" : "header's");
    uint8_t extra;
    rr = s_read(r->f, &extra, 1, NULL);
    if (rr != 0)
        return s_status(st, rr < -1 ? KC_EIO : KC_EFORMAT, false, 0, false, "%s",
                        rr < -1 ? "read error after the trailer" : "data after the trailer");
    r->done = true;
    return 0;
}

int kc_logfile_next(kc_logfile_reader_t *r, kc_log_entry_t *e, kc_logfile_status_t *st)
{
    kc_logfile_status_t dummy;
    if (!st)
        st = &dummy;
    if (!r || !e)
        return s_status(st, KC_EINVAL, false, 0, false, "no reader");
    if (r->failed) {
        *st = r->fail;
        return r->failed;
    }
    s_status(st, 0, false, 0, false, "%s", "");
    if (r->done)
        return 0;
    if (r->next == 0 && r->expect && sodium_memcmp(r->pk, r->expect_pk, sizeof r->pk) != 0) {
        char a[2 * KC_MERKLE_PUBKEY_LEN + 1], b[2 * KC_MERKLE_PUBKEY_LEN + 1];
        kc_merkle_hex(r->pk, sizeof r->pk, a);
        kc_merkle_hex(r->expect_pk, sizeof r->expect_pk, b);
        s_status(st, KC_EPROTO, false, 0, false,
                 "the file is for key %.16s..., not the expected key %.16s...", a, b);
        return s_fail(r, st);
    }
    uint64_t i = r->next;
    if (i == r->count) {
        int rc = s_trailer(r, st);
        return rc == 0 ? 0 : s_fail(r, st);
    }
    uint8_t lb[4];
    int rr = s_read(r->f, lb, sizeof lb, NULL);
    if (rr != 1) {
        if (rr < -1)
            s_status(st, KC_EIO, true, i, false, "read error at record %llu: %s",
                     (unsigned long long)i, kc_strerror(rr));
        else
            s_status(st, KC_EFORMAT, true, i, true, "truncated at record %llu (of %llu)",
                     (unsigned long long)i, (unsigned long long)r->count);
        return s_fail(r, st);
    }
    if (memcmp(lb, KC_LOGFILE_END_MAGIC, sizeof lb) == 0) { /* never a valid length */
        s_status(st, KC_EFORMAT, true, i, false,
                 "record %llu: found the signed head after only %llu records (the header says "
                 "%llu: records deleted?)",
                 (unsigned long long)i, (unsigned long long)i, (unsigned long long)r->count);
        return s_fail(r, st);
    }
    uint32_t len = s_get32(lb);
    if (len < S_RECORD_MIN || len > KC_LOGFILE_RECORD_MAX) {
        s_status(st, KC_EFORMAT, true, i, false, "record %llu: impossible length %lu",
                 (unsigned long long)i, (unsigned long)len);
        return s_fail(r, st);
    }
    size_t need = (size_t)len + KC_MERKLE_HASH_LEN;
    if (need > r->cap) {
        uint8_t *b = realloc(r->buf, need);
        if (!b) {
            s_status(st, KC_ENOMEM, true, i, false, "out of memory");
            return s_fail(r, st);
        }
        r->buf = b;
        r->cap = need;
    }
    rr = s_read(r->f, r->buf, need, NULL);
    if (rr != 1) {
        if (rr < -1)
            s_status(st, KC_EIO, true, i, false, "read error at record %llu: %s",
                     (unsigned long long)i, kc_strerror(rr));
        else
            s_status(st, KC_EFORMAT, true, i, true, "truncated at record %llu (of %llu)",
                     (unsigned long long)i, (unsigned long long)r->count);
        return s_fail(r, st);
    }
    kc_merkle_leaf_t leaf;
    if (kc_merkle_leaf_decode(r->buf, len, &leaf) != 0) {
        s_status(st, KC_EFORMAT, true, i, false,
                 "record %llu: not a version-1 leaf input of %lu bytes", (unsigned long long)i,
                 (unsigned long)len);
        return s_fail(r, st);
    }
    if (leaf.offset != i) {
        s_status(st, KC_EPROTO, true, i, false,
                 "record %llu holds the entry of offset %llu (records deleted, inserted or "
                 "reordered)",
                 (unsigned long long)i, (unsigned long long)leaf.offset);
        return s_fail(r, st);
    }
    uint8_t h[KC_MERKLE_HASH_LEN];
    kc_merkle_leaf_hash_raw(r->buf, len, h);
    if (memcmp(h, r->buf + len, sizeof h) != 0) {
        s_status(st, KC_EPROTO, true, i, false,
                 "record %llu: its leaf hash does not match its contents", (unsigned long long)i);
        return s_fail(r, st);
    }
    s_frontier_push(&r->fr, h);
    r->next++;
    e->offset = leaf.offset;
    e->received_ns = leaf.received_ns;
    e->epoch = leaf.epoch;
    e->seq = leaf.seq;
    e->producer = leaf.producer;
    e->producer_len = leaf.producer_len;
    e->event = leaf.event;
    e->event_len = leaf.event_len;
    return 1;
}

int kc_logfile_head(const kc_logfile_reader_t *r, kc_merkle_sth_t *out)
{
    if (!r || !out)
        return KC_EINVAL;
    if (!r->done)
        return KC_ENOTFOUND;
    *out = r->head;
    return 0;
}

void kc_logfile_close(kc_logfile_reader_t **rp)
{
    if (!rp || !*rp)
        return;
    kc_logfile_reader_t *r = *rp;
    if (r->f)
        fclose(r->f);
    free(r->buf);
    free(r);
    *rp = NULL;
}

int kc_logfile_verify(const char *path, const uint8_t *expect_key, kc_logfile_status_t *st,
                      void (*progress)(uint64_t done, uint64_t total, void *ctx), void *ctx)
{
    kc_logfile_status_t dummy;
    if (!st)
        st = &dummy;
    kc_logfile_reader_t *r = NULL;
    uint64_t n = 0;
    int rc = kc_logfile_open(&r, path, NULL, &n, st);
    if (rc != 0) {
        st->rc = rc;
        return rc;
    }
    if (expect_key)
        kc_logfile_expect_key(r, expect_key);
    kc_log_entry_t e;
    uint64_t done = 0;
    while ((rc = kc_logfile_next(r, &e, st)) == 1) {
        if (progress && ++done % S_PROGRESS_STEP == 0)
            progress(done, n, ctx);
    }
    kc_logfile_close(&r);
    if (rc == 0 && progress)
        progress(n, n, ctx);
    st->rc = rc;
    return rc;
}

int kc_logfile_info(const char *path, kc_logfile_info_t *out, kc_logfile_status_t *st)
{
    kc_logfile_status_t dummy;
    if (!st)
        st = &dummy;
    if (!out)
        return s_status(st, KC_EINVAL, false, 0, false, "no output");
    memset(out, 0, sizeof *out);
    kc_logfile_reader_t *r = NULL;
    int rc = kc_logfile_open(&r, path, out->pubkey, &out->count, st);
    if (rc != 0)
        return rc;
    out->version = KC_LOGFILE_VERSION;
    struct stat sb;
    uint8_t t[KC_LOGFILE_TRAILER_LEN];
    if (fstat(fileno(r->f), &sb) != 0) {
        rc = errno > 0 ? -errno : KC_EIO;
        s_status(st, rc, false, 0, false, "cannot stat %s: %s", path, strerror(errno));
    } else if ((out->file_size = (uint64_t)sb.st_size) <
                   KC_LOGFILE_HEADER_LEN + KC_LOGFILE_TRAILER_LEN ||
               fseeko(r->f, sb.st_size - KC_LOGFILE_TRAILER_LEN, SEEK_SET) != 0 ||
               s_read(r->f, t, sizeof t, NULL) != 1 ||
               memcmp(t, KC_LOGFILE_END_MAGIC, S_MAGIC_LEN) != 0) {
        rc = s_status(st, KC_EFORMAT, false, 0, true,
                      "no signed head at the end of the file (truncated?)");
    } else {
        out->have_head = true;
        out->head.tree_size = s_get64(t + 8);
        out->head.timestamp_ns = s_get64(t + 16);
        memcpy(out->head.root, t + 24, KC_MERKLE_HASH_LEN);
        memcpy(out->head.signature, t + 56, KC_MERKLE_SIG_LEN);
        out->head_sig_ok = kc_merkle_sth_verify(&out->head, out->pubkey);
    }
    kc_logfile_close(&r);
    st->rc = rc;
    return rc;
}
