/* kc_merkle.c - the verifiable log: leaf hashes, the Merkle frontier, heads, proofs.
 *
 * DESIGN
 * Tree. RFC 6962 2.1 over the log's entries in offset order; leaf i hashes
 * the canonical encoding of entry i (kc_merkle.h, docs/AUDIT.md). The
 * encoding is of the entry's fields (kc_log_entry_leaf over the record as
 * kc_store_log_decode gives it), not of the log record's bytes, so the log's
 * record layout may change without changing a leaf.
 *
 * Stored, in the write transaction of the log append (so no crash separates
 * them):
 *   nodes   u8 level | u64 BE index -> hash (32)     the complete, aligned
 *           subtree of leaves [index*2^level, (index+1)*2^level), stored
 *           only for level >= 6 (one per 32 entries: ~3 B/event on disk)
 *   heads   u64 BE tree_size -> u64 BE timestamp_ns | root (32) | sig (64)
 * Leaf hashes are not stored (store format 4; format 3's `leaves` table of
 * 32 B/event is dropped by the migration, kc_mk_drop_leaves). A leaf is
 * recomputed from its log entry when it is needed: one log read and one
 * hash. Every perfect subtree that an RFC 6962 recursion visits is aligned
 * (its first leaf is a multiple of its size), so a subtree of level >= 6 is
 * one read of `nodes`, and one of level < 6 lies inside one 64-entry block
 * (the leaves of one level-6 node). A root, proof or rebuild reads such a
 * block once (s_reader_t: one cursor run from the block's first entry up to
 * 64 entries, never past the tree size asked for; two blocks kept, as a
 * range has two ends) and merges every level-<6 subtree it needs from those
 * hashes. MTH, PATH and PROOF therefore cost O(log n) node reads plus at most
 * two 64-entry runs: the block of an inclusion path's leaf (its siblings
 * below level 6), and the block at the right edge of each size involved.
 * kc_txn_leaf_hash is one log read.
 *
 * Frontier. The right edge of the tree (kc_mk_frontier_t: one perfect
 * subtree per set bit of the size) lives in memory. Appending a leaf merges
 * equal-level subtrees like a binary counter (amortised one node hash per
 * leaf) and writes each completed subtree of level >= 6; the root is a fold
 * of at most 64 hashes. Each appended leaf is hashed once, from the entry
 * being appended (kc_mk_append): nothing on the commit path reads the log
 * back or recomputes anything from scratch. Invariants:
 *   F1 committed = the frontier of the tree as of the last commit that
 *      returned 0, rebuilt at writer open in O(log n): its subtrees of level
 *      >= 6 are stored nodes, those below are the log's last < 64 entries,
 *      recomputed. (A store of an older format, opened only to be migrated,
 *      leaves committed unknown until F3 rebuilds it.)
 *   F2 a write txn works on `work`, a copy of committed taken at its first
 *      append or signature (t->mk_loaded); an aborted or redone txn (map
 *      growth) never touched committed, so its redo starts from F1.
 *   F3 work.size == the log size at that first touch; otherwise (another
 *      process appended, or committed is unknown) the frontier is rebuilt
 *      from the store first, as in F1.
 *   F4 committed := work only after mdb_txn_commit returned 0.
 * Reads inside a write txn see the txn's own log appends and node writes
 * (LMDB), so roots and proofs there need no buffer of their own.
 *
 * Heads. kc_txn_sign_head signs (size, timestamp, root of work) with the
 * store's key; heads only grow: a head is signed only for a size larger
 * than the latest stored head, and its timestamp never goes below the
 * latest one's (a clock stepping back repeats the last timestamp).
 */
#include "kc_audit.h"
#include "kc_merkle_int.h"

#include "kc_err.h"
#include "kc_log.h"
#include "kc_time.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define S_PUBKEY_META "audit_pubkey"

/* ---- state ---- */

kc_mk_state_t *kc_mk_new(void)
{
    kc_mk_state_t *mk = calloc(1, sizeof *mk);
    if (mk)
        mk->head_interval_ms = -1;
    return mk;
}

void kc_mk_free(kc_store_t *s)
{
    if (!s || !s->mk)
        return;
    sodium_memzero(s->mk->sk, sizeof s->mk->sk);
    free(s->mk);
    s->mk = NULL;
}

void kc_log_entry_leaf(const kc_log_entry_t *e, kc_merkle_leaf_t *out)
{
    out->offset = e->offset;
    out->received_ns = e->received_ns;
    out->epoch = e->epoch;
    out->seq = e->seq;
    out->producer = e->producer;
    out->producer_len = e->producer_len;
    out->event = e->event;
    out->event_len = e->event_len;
}

/* ---- frontier (pure) ---- */

void kc_mk_frontier_root(const kc_mk_frontier_t *f, uint8_t out[KC_MERKLE_HASH_LEN])
{
    if (f->size == 0) {
        kc_merkle_empty_root(out);
        return;
    }
    unsigned l = 0;
    while (!(f->size >> l & 1))
        l++;
    uint8_t r[KC_MERKLE_HASH_LEN];
    memcpy(r, f->h[l], sizeof r);
    for (l++; l < KC_MK_LEVELS; l++)
        if (f->size >> l & 1)
            kc_merkle_node_hash(f->h[l], r, r); /* a larger subtree is on the left */
    memcpy(out, r, sizeof r);
}

int kc_mk_frontier_push(kc_mk_frontier_t *f, const uint8_t leaf[KC_MERKLE_HASH_LEN],
                        kc_mk_node_fn fn, void *ctx)
{
    uint8_t cur[KC_MERKLE_HASH_LEN];
    memcpy(cur, leaf, sizeof cur);
    uint64_t n = f->size;
    unsigned l = 0;
    while (n >> l & 1) { /* carry: merge with the equal-level subtree on the left */
        kc_merkle_node_hash(f->h[l], cur, cur);
        l++;
        if (l >= KC_MK_NODE_MIN_LEVEL && fn) {
            int rc = fn(l, ((n + 1) >> l) - 1, cur, ctx);
            if (rc != 0)
                return rc;
        }
    }
    memcpy(f->h[l], cur, sizeof cur);
    f->size = n + 1;
    return 0;
}

/* ---- stored hashes ---- */

static void s_node_key(uint8_t k[KC_MK_NODE_KEY_LEN], unsigned level, uint64_t index)
{
    k[0] = (uint8_t)level;
    kc_be64_put(k + 1, index);
}

int kc_mk_node_get(kc_txn_t *t, unsigned level, uint64_t index, uint8_t out[KC_MERKLE_HASH_LEN])
{
    uint8_t kb[KC_MK_NODE_KEY_LEN];
    s_node_key(kb, level, index);
    MDB_val k = {sizeof kb, kb}, v;
    int mrc = mdb_get(t->txn, t->s->dbi[KC_DB_NODES], &k, &v);
    if (mrc == MDB_NOTFOUND) {
        kc_error("store %s: no stored subtree at level %u index %llu", t->s->dir, level,
                 (unsigned long long)index);
        return KC_EFORMAT;
    }
    if (mrc != MDB_SUCCESS)
        return kc_store_err(t->s, mrc, "read Merkle node");
    if (v.mv_size != KC_MERKLE_HASH_LEN)
        return KC_EFORMAT;
    memcpy(out, v.mv_data, KC_MERKLE_HASH_LEN);
    return 0;
}

/* ---- leaves, recomputed from the log ---- */

int kc_mk_leaf_from_record(kc_txn_t *t, const MDB_val *k, const MDB_val *v, uint64_t offset,
                           uint8_t out[KC_MERKLE_HASH_LEN])
{
    if (k->mv_size != 8 || kc_be64_get(k->mv_data) != offset) {
        kc_error("store %s: log entry %llu is missing", t->s->dir, (unsigned long long)offset);
        return KC_EFORMAT;
    }
    kc_log_entry_t e;
    int rc = kc_store_log_decode(t, k, v, &e);
    if (rc != 0)
        return rc;
    kc_merkle_leaf_t leaf;
    kc_log_entry_leaf(&e, &leaf);
    leaf.offset = offset;
    if (kc_merkle_leaf_input_len(&leaf) == 0) {
        kc_error("store %s: log entry %llu has no leaf encoding", t->s->dir,
                 (unsigned long long)offset);
        return KC_EFORMAT;
    }
    kc_merkle_leaf_hash(&leaf, out);
    return 0;
}

int kc_txn_leaf_hash(kc_txn_t *t, uint64_t offset, uint8_t out[KC_MERKLE_HASH_LEN])
{
    if (!t || !t->txn || !out)
        return KC_EINVAL;
    uint8_t kb[8];
    kc_be64_put(kb, offset);
    MDB_val k = {sizeof kb, kb}, v;
    int mrc = mdb_get(t->txn, t->s->dbi[KC_DB_LOG], &k, &v);
    if (mrc != MDB_SUCCESS)
        return kc_store_err(t->s, mrc, "read log"); /* KC_ENOTFOUND past the end */
    return kc_mk_leaf_from_record(t, &k, &v, offset, out);
}

/* The leaf hashes of a 64-entry block (the leaves under one level-6 node),
 * read from the log in one cursor run starting at the block's first entry. */
#define S_BLOCK ((uint64_t)1 << KC_MK_NODE_MIN_LEVEL)

typedef struct {
    bool valid;
    uint64_t first;                         /* a multiple of S_BLOCK */
    uint64_t n;                             /* leaves read: [first, first + n) */
    uint8_t h[S_BLOCK][KC_MERKLE_HASH_LEN]; /* their hashes */
} s_block_t;

/* What one root, proof or rebuild reads: a range needs recomputed leaves at
 * its two ends at most (its right edge, and a consistency proof's first
 * size), so two blocks are kept; every level-<6 subtree it visits comes
 * from them. Entries at or past `limit` (the tree size asked for) are never
 * read. */
typedef struct {
    kc_txn_t *t;
    uint64_t limit;
    unsigned next; /* the block to replace next */
    s_block_t blk[2];
} s_reader_t;

static void s_reader_init(s_reader_t *r, kc_txn_t *t, uint64_t limit)
{
    r->t = t;
    r->limit = limit;
    r->next = 0;
    r->blk[0].valid = r->blk[1].valid = false;
}

/* The block holding leaf `first`, read if it is not one of the two kept. */
static int s_block(s_reader_t *r, uint64_t first, const s_block_t **out)
{
    uint64_t start = first - first % S_BLOCK;
    for (unsigned i = 0; i < 2; i++)
        if (r->blk[i].valid && r->blk[i].first == start) {
            *out = &r->blk[i];
            return 0;
        }
    kc_txn_t *t = r->t;
    s_block_t *b = &r->blk[r->next];
    r->next ^= 1;
    b->valid = false;
    b->first = start;
    b->n = 0;
    uint64_t want = r->limit - start < S_BLOCK ? r->limit - start : S_BLOCK;
    MDB_cursor *c;
    int mrc = mdb_cursor_open(t->txn, t->s->dbi[KC_DB_LOG], &c);
    if (mrc != MDB_SUCCESS)
        return kc_store_err(t->s, mrc, "open log cursor");
    uint8_t kb[8];
    kc_be64_put(kb, start);
    MDB_val k = {sizeof kb, kb}, v;
    int rc = 0;
    for (uint64_t i = 0; i < want && rc == 0; i++) {
        mrc = mdb_cursor_get(c, &k, &v, i == 0 ? MDB_SET_KEY : MDB_NEXT);
        if (mrc == MDB_NOTFOUND) {
            kc_error("store %s: log entry %llu is missing", t->s->dir,
                     (unsigned long long)(start + i));
            rc = KC_EFORMAT;
        } else if (mrc != MDB_SUCCESS) {
            rc = kc_store_err(t->s, mrc, "read log");
        } else if ((rc = kc_mk_leaf_from_record(t, &k, &v, start + i, b->h[i])) == 0) {
            b->n = i + 1;
        }
    }
    mdb_cursor_close(c);
    if (rc == 0) {
        b->valid = true;
        *out = b;
    }
    return rc;
}

/* Hash of the aligned perfect subtree of 2^level leaves starting at leaf
 * index << level: one stored node, or merged from its <= 32 recomputed
 * leaves (s_block). KC_EFORMAT (logged) if a node or an entry is missing. */
static int s_subtree(s_reader_t *r, unsigned level, uint64_t index, uint8_t out[KC_MERKLE_HASH_LEN])
{
    if (level >= KC_MK_NODE_MIN_LEVEL)
        return kc_mk_node_get(r->t, level, index, out);
    uint64_t first = index << level, count = (uint64_t)1 << level;
    if (first + count > r->limit)
        return KC_EINVAL; /* not inside the tree asked for: a bug */
    const s_block_t *b = NULL;
    int rc = s_block(r, first, &b);
    if (rc != 0)
        return rc;
    kc_mk_frontier_t f; /* a tiny frontier over the subtree's leaves */
    f.size = 0;
    for (uint64_t i = first - b->first; i < first - b->first + count; i++)
        kc_mk_frontier_push(&f, b->h[i], NULL, NULL);
    memcpy(out, f.h[level], KC_MERKLE_HASH_LEN);
    return 0;
}

static unsigned s_log2(uint64_t pow2)
{
    unsigned l = 0;
    while (pow2 > 1) {
        pow2 >>= 1;
        l++;
    }
    return l;
}

/* MTH(D[a:b]) for a range visited by the RFC 6962 recursion (a aligned to
 * the largest power of two <= b - a), b > a. */
static int s_mth(s_reader_t *r, uint64_t a, uint64_t b, uint8_t out[KC_MERKLE_HASH_LEN])
{
    uint64_t n = b - a;
    if ((n & (n - 1)) == 0) {
        unsigned l = s_log2(n);
        return s_subtree(r, l, a >> l, out);
    }
    uint64_t k = kc_merkle_split(n);
    uint8_t left[KC_MERKLE_HASH_LEN], right[KC_MERKLE_HASH_LEN];
    int rc = s_subtree(r, s_log2(k), a >> s_log2(k), left);
    if (rc == 0)
        rc = s_mth(r, a + k, b, right);
    if (rc == 0)
        kc_merkle_node_hash(left, right, out);
    return rc;
}

/* ---- the write transaction's frontier ---- */

/* Rebuild f for a tree of `size` leaves from nodes and the log: one subtree
 * per set bit of size, left to right (those below level 6 are the log's last
 * size % 64 entries). */
static int s_frontier_rebuild(kc_txn_t *t, uint64_t size, kc_mk_frontier_t *f)
{
    s_reader_t r;
    s_reader_init(&r, t, size);
    memset(f, 0, sizeof *f);
    f->size = size;
    uint64_t start = 0;
    for (int l = KC_MK_LEVELS - 1; l >= 0; l--) {
        if (!(size >> l & 1))
            continue;
        int rc = s_subtree(&r, (unsigned)l, start >> l, f->h[l]);
        if (rc != 0)
            return rc;
        start += (uint64_t)1 << l;
    }
    return 0;
}

int kc_txn_merkle_size(kc_txn_t *t, uint64_t *size)
{
    if (!t || !t->txn || !size)
        return KC_EINVAL;
    if (t->write && t->mk_loaded) {
        *size = t->s->mk->work.size;
        return 0;
    }
    return kc_txn_log_size(t, size); /* a leaf per entry, appended together */
}

/* Make s->mk->work this txn's frontier (F2, F3); log_size = the log's size
 * before this txn's first append. */
static int s_work(kc_txn_t *t, uint64_t log_size)
{
    if (t->mk_loaded)
        return 0;
    kc_mk_state_t *mk = t->s->mk;
    bool known = mk->committed_known;
    if (known) {
        mk->work.size = mk->committed.size;
        for (unsigned l = 0; l < KC_MK_LEVELS; l++) /* only the valid levels */
            if (mk->committed.size >> l & 1)
                memcpy(mk->work.h[l], mk->committed.h[l], KC_MERKLE_HASH_LEN);
    }
    if (!known || mk->work.size != log_size) {
        if (known)
            kc_info("store %s: log has %llu entries, frontier %llu: rebuilding it", t->s->dir,
                    (unsigned long long)log_size, (unsigned long long)mk->work.size);
        int rc = s_frontier_rebuild(t, log_size, &mk->work);
        if (rc != 0)
            return rc;
    }
    t->mk_loaded = true;
    return 0;
}

static int s_node_put(unsigned level, uint64_t index, const uint8_t h[KC_MERKLE_HASH_LEN],
                      void *ctx)
{
    kc_txn_t *t = ctx;
    uint8_t kb[KC_MK_NODE_KEY_LEN];
    s_node_key(kb, level, index);
    MDB_val k = {sizeof kb, kb}, v = {KC_MERKLE_HASH_LEN, (void *)h};
    return kc_store_put_err(t, mdb_put(t->txn, t->s->dbi[KC_DB_NODES], &k, &v, 0),
                            "store Merkle node");
}

int kc_mk_append(kc_txn_t *t, const kc_log_entry_t *e, uint64_t offset)
{
    int rc = s_work(t, offset);
    if (rc != 0) {
        if (t->err == 0)
            t->err = rc; /* never commit a log entry outside the tree */
        return rc;
    }
    kc_mk_state_t *mk = t->s->mk;
    if (offset != mk->work.size) { /* the log and the tree must advance together */
        kc_error("store %s: log append at %llu, Merkle tree at %llu", t->s->dir,
                 (unsigned long long)offset, (unsigned long long)mk->work.size);
        if (t->err == 0)
            t->err = KC_EFORMAT;
        return KC_EFORMAT;
    }
    kc_merkle_leaf_t leaf;
    kc_log_entry_leaf(e, &leaf);
    leaf.offset = offset;
    uint8_t h[KC_MERKLE_HASH_LEN];
    kc_merkle_leaf_hash(&leaf, h); /* the only time this leaf is hashed on the commit path */
    return kc_mk_frontier_push(&mk->work, h, s_node_put, t);
}

/* ---- heads ---- */

void kc_mk_head_decode(uint64_t size, const uint8_t v[KC_MK_HEAD_VAL_LEN], kc_merkle_sth_t *h)
{
    h->tree_size = size;
    h->timestamp_ns = kc_be64_get(v);
    memcpy(h->root, v + 8, KC_MERKLE_HASH_LEN);
    memcpy(h->signature, v + 8 + KC_MERKLE_HASH_LEN, KC_MERKLE_SIG_LEN);
}

static int s_head_from(const kc_txn_t *t, const MDB_val *k, const MDB_val *v, kc_merkle_sth_t *h)
{
    if (k->mv_size != 8 || v->mv_size != KC_MK_HEAD_VAL_LEN) {
        kc_error("store %s: head record of %zu bytes: unknown layout", t->s->dir, v->mv_size);
        return KC_EFORMAT;
    }
    kc_mk_head_decode(kc_be64_get(k->mv_data), v->mv_data, h);
    return 0;
}

int kc_txn_head_get(kc_txn_t *t, uint64_t size, kc_merkle_sth_t *out)
{
    if (!t || !t->txn || !out)
        return KC_EINVAL;
    uint8_t kb[8];
    kc_be64_put(kb, size);
    MDB_val k = {sizeof kb, kb}, v;
    int mrc = mdb_get(t->txn, t->s->dbi[KC_DB_HEADS], &k, &v);
    if (mrc != MDB_SUCCESS)
        return kc_store_err(t->s, mrc, "read head");
    return s_head_from(t, &k, &v, out);
}

int kc_txn_head_last(kc_txn_t *t, kc_merkle_sth_t *out)
{
    if (!t || !t->txn || !out)
        return KC_EINVAL;
    MDB_cursor *c;
    int mrc = mdb_cursor_open(t->txn, t->s->dbi[KC_DB_HEADS], &c);
    if (mrc != MDB_SUCCESS)
        return kc_store_err(t->s, mrc, "open heads cursor");
    MDB_val k, v;
    mrc = mdb_cursor_get(c, &k, &v, MDB_LAST);
    int rc = mrc == MDB_SUCCESS ? s_head_from(t, &k, &v, out) : kc_store_err(t->s, mrc, "heads");
    mdb_cursor_close(c);
    return rc;
}

int kc_txn_head_scan(kc_txn_t *t, uint64_t from_size,
                     int (*fn)(const kc_merkle_sth_t *h, void *ctx), void *ctx)
{
    if (!t || !t->txn || !fn)
        return KC_EINVAL;
    MDB_cursor *c;
    int mrc = mdb_cursor_open(t->txn, t->s->dbi[KC_DB_HEADS], &c);
    if (mrc != MDB_SUCCESS)
        return kc_store_err(t->s, mrc, "open heads cursor");
    uint8_t kb[8];
    kc_be64_put(kb, from_size);
    MDB_val k = {sizeof kb, kb}, v;
    int rc = 0;
    for (mrc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); mrc == MDB_SUCCESS;
         mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        kc_merkle_sth_t h;
        if ((rc = s_head_from(t, &k, &v, &h)) != 0 || (rc = fn(&h, ctx)) != 0)
            break;
    }
    if (rc == 0 && mrc != MDB_NOTFOUND)
        rc = kc_store_err(t->s, mrc, "scan heads");
    mdb_cursor_close(c);
    return rc;
}

int kc_txn_sign_head(kc_txn_t *t, kc_merkle_sth_t *out)
{
    int rc = kc_store_check_write(t);
    if (rc != 0)
        return rc;
    kc_mk_state_t *mk = t->s->mk;
    if (!mk->have_sk) {
        kc_error("store %s: no signing key", t->s->dir);
        return KC_EINVAL;
    }
    uint64_t log_size = 0;
    if ((rc = kc_txn_log_size(t, &log_size)) != 0 || (rc = s_work(t, log_size)) != 0)
        return rc;
    kc_merkle_sth_t last = {0}, h = {0};
    rc = kc_txn_head_last(t, &last);
    if (rc != 0 && rc != KC_ENOTFOUND)
        return rc;
    if (mk->work.size == 0 || (rc == 0 && last.tree_size >= mk->work.size))
        return KC_ENOTFOUND; /* nothing new to sign */
    h.tree_size = mk->work.size;
    h.timestamp_ns = kc_time_real_ns();
    if (h.timestamp_ns < last.timestamp_ns)
        h.timestamp_ns = last.timestamp_ns; /* heads' times never go back */
    kc_mk_frontier_root(&mk->work, h.root);
    kc_merkle_sth_sign(&h, mk->sk);

    uint8_t kb[8], vb[KC_MK_HEAD_VAL_LEN];
    kc_be64_put(kb, h.tree_size);
    kc_be64_put(vb, h.timestamp_ns);
    memcpy(vb + 8, h.root, KC_MERKLE_HASH_LEN);
    memcpy(vb + 8 + KC_MERKLE_HASH_LEN, h.signature, KC_MERKLE_SIG_LEN);
    MDB_val k = {sizeof kb, kb}, v = {sizeof vb, vb};
    rc = kc_store_put_err(t, mdb_put(t->txn, t->s->dbi[KC_DB_HEADS], &k, &v, MDB_APPEND),
                          "append signed head");
    if (rc != 0)
        return rc;
    t->mk_signed = true;
    if (out)
        *out = h;
    return 0;
}

static int s_sign_fn(kc_txn_t *t, void *ctx)
{
    return kc_txn_sign_head(t, ctx);
}

int kc_store_sign_head(kc_store_t *s, kc_merkle_sth_t *out)
{
    kc_merkle_sth_t h;
    int rc = kc_store_write(s, s_sign_fn, &h);
    if (rc == 0 && out)
        *out = h;
    return rc;
}

void kc_store_set_head_interval(kc_store_t *s, int interval_ms)
{
    if (s && s->mk)
        s->mk->head_interval_ms = interval_ms;
}

int kc_mk_precommit(kc_txn_t *t)
{
    kc_mk_state_t *mk = t->s->mk;
    if (!t->mk_loaded || t->mk_signed || mk->head_interval_ms < 0 || !mk->have_sk)
        return 0; /* nothing appended, already signed, or no policy */
    if (mk->head_mono_ms != 0 &&
        kc_time_mono_ms() - mk->head_mono_ms < (uint64_t)mk->head_interval_ms)
        return 0;
    int rc = kc_txn_sign_head(t, NULL);
    return rc == KC_ENOTFOUND ? 0 : rc;
}

void kc_mk_committed(kc_txn_t *t)
{
    kc_mk_state_t *mk = t->s->mk;
    if (t->mk_loaded) {
        mk->committed.size = mk->work.size; /* F4 */
        mk->committed_known = true;
        for (unsigned l = 0; l < KC_MK_LEVELS; l++)
            if (mk->work.size >> l & 1)
                memcpy(mk->committed.h[l], mk->work.h[l], KC_MERKLE_HASH_LEN);
    }
    if (t->mk_signed)
        mk->head_mono_ms = kc_time_mono_ms();
}

/* ---- open ---- */

static int s_meta_pk(kc_txn_t *t, bool *found, uint8_t pk[KC_MERKLE_PUBKEY_LEN])
{
    MDB_val k = {sizeof S_PUBKEY_META - 1, (void *)S_PUBKEY_META}, v;
    int mrc = mdb_get(t->txn, t->s->dbi[KC_DB_META], &k, &v);
    *found = false;
    if (mrc == MDB_NOTFOUND)
        return 0;
    if (mrc != MDB_SUCCESS)
        return kc_store_err(t->s, mrc, "read public key");
    if (v.mv_size != KC_MERKLE_PUBKEY_LEN) {
        kc_error("store %s: public key of %zu bytes in meta", t->s->dir, v.mv_size);
        return KC_EFORMAT;
    }
    memcpy(pk, v.mv_data, KC_MERKLE_PUBKEY_LEN);
    *found = true;
    return 0;
}

int kc_mk_open_read(kc_txn_t *t)
{
    kc_mk_state_t *mk = t->s->mk;
    return s_meta_pk(t, &mk->have_pk, mk->pk);
}

int kc_mk_open_write(kc_txn_t *t)
{
    kc_store_t *s = t->s;
    kc_mk_state_t *mk = s->mk;
    bool found;
    uint8_t meta_pk[KC_MERKLE_PUBKEY_LEN];
    int rc = s_meta_pk(t, &found, meta_pk);
    if (rc != 0)
        return rc;
    /* a store that already has a public key must find its own key file */
    if ((rc = kc_mk_key_load_or_create(s, !found)) != 0)
        return rc;
    if (found && sodium_memcmp(meta_pk, mk->pk, sizeof meta_pk) != 0) {
        kc_error("store %s: audit.key does not belong to this store (its heads are signed by "
                 "another key)",
                 s->dir);
        return KC_EFORMAT;
    }
    if (!found) {
        MDB_val k = {sizeof S_PUBKEY_META - 1, (void *)S_PUBKEY_META},
                v = {KC_MERKLE_PUBKEY_LEN, mk->pk};
        if ((rc = kc_store_put_err(t, mdb_put(t->txn, s->dbi[KC_DB_META], &k, &v, 0),
                                   "write public key")) != 0)
            return rc;
    }
    mk->have_pk = true;
    mk->committed_known = false;
    if (s->format != KC_STORE_FORMAT)
        return 0; /* opened to be migrated: its log is read at the first append (F1, F3) */
    uint64_t size = 0;
    if ((rc = kc_txn_log_size(t, &size)) != 0 ||
        (rc = s_frontier_rebuild(t, size, &mk->committed)) != 0)
        return rc;
    mk->committed_known = true; /* F1; committed with this txn */
    return 0;
}

int kc_mk_drop_leaves(kc_txn_t *t)
{
    int rc = kc_store_check_write(t);
    if (rc != 0)
        return rc;
    MDB_dbi dbi;
    int mrc = mdb_dbi_open(t->txn, "leaves", 0, &dbi); /* by name: no longer a KC_DB_* */
    if (mrc == MDB_NOTFOUND)
        return 0;
    if (mrc != MDB_SUCCESS)
        return kc_store_put_err(t, mrc, "open leaves database");
    return kc_store_put_err(t, mdb_drop(t->txn, dbi, 1), "drop leaves database");
}

int kc_store_public_key(const kc_store_t *s, uint8_t out[KC_MERKLE_PUBKEY_LEN])
{
    if (!s || !s->mk || !out)
        return KC_EINVAL;
    if (!s->mk->have_pk)
        return KC_ENOTFOUND;
    memcpy(out, s->mk->pk, KC_MERKLE_PUBKEY_LEN);
    return 0;
}

/* ---- roots and proofs ---- */

static int s_check_size(kc_txn_t *t, uint64_t size)
{
    uint64_t n = 0;
    int rc = kc_txn_merkle_size(t, &n);
    if (rc != 0)
        return rc;
    return size <= n ? 0 : KC_EINVAL;
}

int kc_txn_merkle_root(kc_txn_t *t, uint64_t size, uint8_t out[KC_MERKLE_HASH_LEN])
{
    if (!t || !t->txn || !out)
        return KC_EINVAL;
    int rc = s_check_size(t, size);
    if (rc != 0)
        return rc;
    if (t->write && t->mk_loaded && size == t->s->mk->work.size) {
        kc_mk_frontier_root(&t->s->mk->work, out);
        return 0;
    }
    if (size == 0) {
        kc_merkle_empty_root(out);
        return 0;
    }
    s_reader_t r;
    s_reader_init(&r, t, size);
    return s_mth(&r, 0, size, out);
}

typedef struct {
    uint8_t (*out)[KC_MERKLE_HASH_LEN];
    size_t len;
} s_proof_t;

static int s_emit(s_reader_t *r, s_proof_t *p, uint64_t a, uint64_t b)
{
    if (p->len >= KC_MERKLE_PATH_MAX)
        return KC_EINVAL;
    return s_mth(r, a, b, p->out[p->len++]);
}

/* PATH(m, D[a:b]) (RFC 6962 2.1.1), m absolute. */
static int s_path(s_reader_t *r, s_proof_t *p, uint64_t m, uint64_t a, uint64_t b)
{
    if (b - a <= 1)
        return 0;
    uint64_t k = kc_merkle_split(b - a);
    int rc;
    if (m - a < k) {
        if ((rc = s_path(r, p, m, a, a + k)) != 0)
            return rc;
        return s_emit(r, p, a + k, b);
    }
    if ((rc = s_path(r, p, m, a + k, b)) != 0)
        return rc;
    return s_emit(r, p, a, a + k);
}

/* SUBPROOF(m, D[a:b], complete) (RFC 6962 2.1.2), m relative to a. */
static int s_subproof(s_reader_t *r, s_proof_t *p, uint64_t m, uint64_t a, uint64_t b,
                      bool complete)
{
    uint64_t n = b - a;
    if (m == n)
        return complete ? 0 : s_emit(r, p, a, b);
    uint64_t k = kc_merkle_split(n);
    int rc;
    if (m <= k) {
        if ((rc = s_subproof(r, p, m, a, a + k, complete)) != 0)
            return rc;
        return s_emit(r, p, a + k, b);
    }
    if ((rc = s_subproof(r, p, m - k, a + k, b, false)) != 0)
        return rc;
    return s_emit(r, p, a, a + k);
}

int kc_txn_inclusion_proof(kc_txn_t *t, uint64_t offset, uint64_t size,
                           uint8_t (*path)[KC_MERKLE_HASH_LEN], size_t *len)
{
    if (!t || !t->txn || !path || !len || offset >= size)
        return KC_EINVAL;
    *len = 0;
    int rc = s_check_size(t, size);
    if (rc != 0)
        return rc;
    s_proof_t p = {path, 0};
    s_reader_t r;
    s_reader_init(&r, t, size);
    if ((rc = s_path(&r, &p, offset, 0, size)) == 0)
        *len = p.len;
    return rc;
}

int kc_txn_consistency_proof(kc_txn_t *t, uint64_t size1, uint64_t size2,
                             uint8_t (*proof)[KC_MERKLE_HASH_LEN], size_t *len)
{
    if (!t || !t->txn || !proof || !len || size1 == 0 || size1 > size2)
        return KC_EINVAL;
    *len = 0;
    int rc = s_check_size(t, size2);
    if (rc != 0)
        return rc;
    s_proof_t p = {proof, 0};
    s_reader_t r;
    s_reader_init(&r, t, size2);
    if ((rc = s_subproof(&r, &p, size1, 0, size2, true)) == 0)
        *len = p.len;
    return rc;
}
