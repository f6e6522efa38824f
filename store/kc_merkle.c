/* kc_merkle.c - the verifiable log: leaf hashes, the Merkle frontier, heads, proofs.
 *
 * DESIGN
 * Tree. RFC 6962 2.1 over the log's entries in offset order; leaf i hashes
 * the canonical encoding of entry i (kc_merkle.h, docs/AUDIT.md).
 *
 * Stored, in the write transaction of the log append (so no crash separates
 * them):
 *   leaves  u64 BE block -> the leaf hashes (32 each) of offsets
 *           [block*127, block*127+127), in order; the last block may be
 *           short (127: one 4 KiB LMDB overflow page, kc_merkle_int.h)
 *   nodes   u8 level | u64 BE index -> hash (32)     the complete, aligned
 *           subtree of leaves [index*2^level, (index+1)*2^level), stored
 *           only for level >= 6 (about 1/32 of an entry each: ~1-2 B/event)
 *   heads   u64 BE tree_size -> u64 BE timestamp_ns | root (32) | sig (64)
 * Every perfect subtree that an RFC 6962 recursion visits is aligned (its
 * first leaf is a multiple of its size), so a subtree of level >= 6 is one
 * read, and one of level < 6 is at most 32 leaf reads; MTH, PATH and PROOF
 * therefore cost O(log n) reads, plus at most two leaf block reads per
 * level-<6 subtree (its <= 32 leaves may straddle two blocks).
 *
 * Leaf blocks. A per-entry put into `leaves` (a B-tree insert and ~50 bytes
 * of page per entry) was most of what the Merkle log cost the ingest rate;
 * blocks cost one put per 127 entries and 32 bytes per entry. The write txn
 * buffers its last block in memory (mk->blk):
 *   B1 at the txn's first touch (s_work) the buffer is loaded with the
 *      stored part of the log's last block: leaves [blk_first, log size),
 *      blk_first = log size rounded down to a multiple of 127, blk_stored =
 *      blk_n = their number (the stored block must hold exactly them).
 *   B2 an append adds its hash to the buffer; a full buffer is first written
 *      (one put, MDB_APPEND if the block is new) and emptied. Reads inside
 *      the txn take leaves >= blk_first from the buffer, the rest from
 *      `leaves` (already written: earlier blocks are full and stored).
 *   B3 kc_mk_precommit writes the buffered block (if it holds anything not
 *      stored yet) before the commit, so the log and all its leaf hashes are
 *      in the same transaction; a partial block is rewritten by the next
 *      group. An aborted or redone txn (map growth) leaves nothing behind:
 *      the redo's B1 reloads the block from the store.
 * The buffer lives in kc_mk_state_t beside `work`: one write txn at a time.
 *
 * Frontier. The right edge of the tree (kc_mk_frontier_t: one perfect
 * subtree per set bit of the size) lives in memory. Appending a leaf merges
 * equal-level subtrees like a binary counter (amortised one node hash per
 * leaf) and writes each completed subtree of level >= 6; the root is a fold
 * of at most 64 hashes. Invariants:
 *   F1 committed = the frontier of the tree as of the last commit that
 *      returned 0 (rebuilt at writer open from nodes/leaves in O(log n)).
 *   F2 a write txn works on `work`, a copy of committed taken at its first
 *      append or signature (t->mk_loaded); an aborted or redone txn (map
 *      growth) never touched committed, so its redo starts from F1.
 *   F3 work.size == the log size at that first touch; otherwise (another
 *      process appended) the frontier is rebuilt from the store first.
 *   F4 committed := work only after mdb_txn_commit returned 0.
 * Nothing on the commit path is recomputed from scratch.
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

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/* ---- leaf blocks ---- */

#define S_BLOCK_BYTES ((size_t)KC_MK_LEAF_BLOCK * KC_MERKLE_HASH_LEN)

/* Whole hashes in a stored block; KC_EFORMAT (logged) if malformed. */
static int s_blk_count(const kc_txn_t *t, const MDB_val *k, const MDB_val *v, size_t *n)
{
    if (k->mv_size != 8 || v->mv_size == 0 || v->mv_size % KC_MERKLE_HASH_LEN != 0 ||
        v->mv_size > S_BLOCK_BYTES) {
        kc_error("store %s: leaf block record of %zu bytes (key %zu bytes): unknown layout",
                 t->s->dir, v->mv_size, k->mv_size);
        return KC_EFORMAT;
    }
    *n = v->mv_size / KC_MERKLE_HASH_LEN;
    return 0;
}

/* The stored block `index`: *n hashes at *data; KC_ENOTFOUND if absent. */
static int s_blk_get(kc_txn_t *t, uint64_t index, const uint8_t **data, size_t *n)
{
    uint8_t kb[8];
    kc_be64_put(kb, index);
    MDB_val k = {sizeof kb, kb}, v;
    int mrc = mdb_get(t->txn, t->s->dbi[KC_DB_LEAVES], &k, &v);
    if (mrc != MDB_SUCCESS)
        return kc_store_err(t->s, mrc, "read leaf block");
    int rc = s_blk_count(t, &k, &v, n);
    if (rc == 0)
        *data = v.mv_data;
    return rc;
}

/* Leaves [first, first + n) into out: those of this write txn's buffered
 * block from the buffer (B2), the others from `leaves`. KC_ENOTFOUND if one
 * is not stored (past the end). */
static int s_leaves_read(kc_txn_t *t, uint64_t first, uint64_t n,
                         uint8_t (*out)[KC_MERKLE_HASH_LEN])
{
    const kc_mk_state_t *mk = t->s->mk;
    while (n > 0) {
        if (t->write && t->mk_loaded && first >= mk->blk_first) {
            if (first - mk->blk_first > mk->blk_n || n > mk->blk_n - (first - mk->blk_first))
                return KC_ENOTFOUND;
            memcpy(out, mk->blk[first - mk->blk_first], n * KC_MERKLE_HASH_LEN);
            return 0;
        }
        const uint8_t *data = NULL;
        size_t have = 0;
        uint64_t in = first % KC_MK_LEAF_BLOCK;
        int rc = s_blk_get(t, first / KC_MK_LEAF_BLOCK, &data, &have);
        if (rc != 0)
            return rc;
        if (in >= have)
            return KC_ENOTFOUND; /* a short block: the leaves end here */
        uint64_t take = have - in < n ? have - in : n;
        memcpy(out, data + in * KC_MERKLE_HASH_LEN, take * KC_MERKLE_HASH_LEN);
        out += take;
        first += take;
        n -= take;
    }
    return 0;
}

/* Write the buffered block if it holds leaves not stored yet (B2, B3). */
static int s_blk_flush(kc_txn_t *t)
{
    kc_mk_state_t *mk = t->s->mk;
    if (mk->blk_n == mk->blk_stored)
        return 0;
    uint8_t kb[8];
    kc_be64_put(kb, mk->blk_first / KC_MK_LEAF_BLOCK);
    MDB_val k = {sizeof kb, kb}, v = {(size_t)mk->blk_n * KC_MERKLE_HASH_LEN, mk->blk};
    /* a new block is past every stored one; a stored one is rewritten in place */
    int rc = kc_store_put_err(
        t, mdb_put(t->txn, t->s->dbi[KC_DB_LEAVES], &k, &v, mk->blk_stored ? 0 : MDB_APPEND),
        "write leaf block");
    if (rc == 0)
        mk->blk_stored = mk->blk_n;
    return rc;
}

int kc_txn_leaf_hash(kc_txn_t *t, uint64_t offset, uint8_t out[KC_MERKLE_HASH_LEN])
{
    if (!t || !t->txn || !out)
        return KC_EINVAL;
    return s_leaves_read(t, offset, 1, (uint8_t(*)[KC_MERKLE_HASH_LEN])out);
}

int kc_mk_leaf_iter_open(kc_txn_t *t, kc_mk_leaf_iter_t *it)
{
    memset(it, 0, sizeof *it);
    int mrc = mdb_cursor_open(t->txn, t->s->dbi[KC_DB_LEAVES], &it->c);
    return mrc == MDB_SUCCESS ? 0 : kc_store_err(t->s, mrc, "open leaves cursor");
}

int kc_mk_leaf_iter_next(kc_txn_t *t, kc_mk_leaf_iter_t *it, bool *have, uint64_t *offset,
                         const uint8_t **hash, bool *bad)
{
    for (;;) {
        if (it->started && it->i < it->n) {
            *have = true;
            *bad = false;
            *offset = it->first + it->i;
            *hash = it->blk + it->i * KC_MERKLE_HASH_LEN;
            it->i++;
            return 0;
        }
        if (it->started && it->bad_tail) {
            it->bad_tail = false;
            *have = *bad = true;
            *offset = it->first + it->n;
            *hash = NULL;
            return 0;
        }
        MDB_val k, v;
        int mrc = mdb_cursor_get(it->c, &k, &v, it->started ? MDB_NEXT : MDB_FIRST);
        if (mrc == MDB_NOTFOUND) {
            *have = false;
            return 0;
        }
        if (mrc != MDB_SUCCESS)
            return kc_store_err(t->s, mrc, "read leaf blocks");
        uint64_t index = k.mv_size == 8 ? kc_be64_get(k.mv_data) : 0;
        bool key_ok = k.mv_size == 8 && index <= UINT64_MAX / KC_MK_LEAF_BLOCK - 1;
        it->first = key_ok ? index * KC_MK_LEAF_BLOCK : it->first + it->n;
        it->started = true;
        it->blk = v.mv_data;
        it->i = 0;
        it->n = key_ok ? v.mv_size / KC_MERKLE_HASH_LEN : 0;
        if (it->n > KC_MK_LEAF_BLOCK)
            it->n = KC_MK_LEAF_BLOCK;
        it->bad_tail = !key_ok || v.mv_size == 0 || v.mv_size % KC_MERKLE_HASH_LEN != 0 ||
                       v.mv_size > S_BLOCK_BYTES;
    }
}

void kc_mk_leaf_iter_close(kc_mk_leaf_iter_t *it)
{
    if (it->c)
        mdb_cursor_close(it->c);
    it->c = NULL;
}

/* Hash of the aligned perfect subtree of 2^level leaves starting at leaf
 * index << level: one stored node, or recomputed from its <= 32 leaves. */
static int s_subtree(kc_txn_t *t, unsigned level, uint64_t index, uint8_t out[KC_MERKLE_HASH_LEN])
{
    if (level >= KC_MK_NODE_MIN_LEVEL)
        return kc_mk_node_get(t, level, index, out);
    if (level == 0) {
        int rc = kc_txn_leaf_hash(t, index, out);
        return rc == KC_ENOTFOUND ? KC_EFORMAT : rc;
    }
    uint64_t first = index << level, count = (uint64_t)1 << level;
    uint8_t lh[(size_t)1 << (KC_MK_NODE_MIN_LEVEL - 1)][KC_MERKLE_HASH_LEN];
    int rc = s_leaves_read(t, first, count, lh); /* one or two blocks */
    if (rc == KC_ENOTFOUND)
        rc = KC_EFORMAT;
    if (rc == 0) {
        kc_mk_frontier_t f = {0}; /* a tiny frontier over the subtree's leaves */
        for (uint64_t i = 0; i < count; i++)
            kc_mk_frontier_push(&f, lh[i], NULL, NULL);
        memcpy(out, f.h[level], KC_MERKLE_HASH_LEN);
    } else if (rc == KC_EFORMAT)
        kc_error("store %s: leaf hashes missing under offset %llu", t->s->dir,
                 (unsigned long long)(first + count));
    return rc;
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
static int s_mth(kc_txn_t *t, uint64_t a, uint64_t b, uint8_t out[KC_MERKLE_HASH_LEN])
{
    uint64_t n = b - a;
    if ((n & (n - 1)) == 0) {
        unsigned l = s_log2(n);
        return s_subtree(t, l, a >> l, out);
    }
    uint64_t k = kc_merkle_split(n);
    uint8_t left[KC_MERKLE_HASH_LEN], right[KC_MERKLE_HASH_LEN];
    int rc = s_subtree(t, s_log2(k), a >> s_log2(k), left);
    if (rc == 0)
        rc = s_mth(t, a + k, b, right);
    if (rc == 0)
        kc_merkle_node_hash(left, right, out);
    return rc;
}

/* ---- the write transaction's frontier ---- */

static int s_leaves_size(kc_txn_t *t, uint64_t *size)
{
    MDB_cursor *c;
    int mrc = mdb_cursor_open(t->txn, t->s->dbi[KC_DB_LEAVES], &c);
    if (mrc != MDB_SUCCESS)
        return kc_store_err(t->s, mrc, "open leaves cursor");
    MDB_val k, v;
    mrc = mdb_cursor_get(c, &k, &v, MDB_LAST);
    int rc = 0;
    size_t n = 0;
    if (mrc == MDB_NOTFOUND)
        *size = 0;
    else if (mrc != MDB_SUCCESS)
        rc = kc_store_err(t->s, mrc, "find last leaf block");
    else if ((rc = s_blk_count(t, &k, &v, &n)) == 0)
        *size = kc_be64_get(k.mv_data) * KC_MK_LEAF_BLOCK + n;
    mdb_cursor_close(c);
    return rc;
}

/* Rebuild f for a tree of `size` leaves from nodes/leaves: one subtree per
 * set bit of size, left to right. */
static int s_frontier_rebuild(kc_txn_t *t, uint64_t size, kc_mk_frontier_t *f)
{
    memset(f, 0, sizeof *f);
    f->size = size;
    uint64_t start = 0;
    for (int l = KC_MK_LEVELS - 1; l >= 0; l--) {
        if (!(size >> l & 1))
            continue;
        int rc = s_subtree(t, (unsigned)l, start >> l, f->h[l]);
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
    return s_leaves_size(t, size);
}

/* Make s->mk->work this txn's frontier (F2, F3); log_size = the log's size
 * before this txn's first append. */
static int s_work(kc_txn_t *t, uint64_t log_size)
{
    if (t->mk_loaded)
        return 0;
    kc_mk_state_t *mk = t->s->mk;
    mk->work.size = mk->committed.size;
    for (unsigned l = 0; l < KC_MK_LEVELS; l++) /* only the valid levels */
        if (mk->committed.size >> l & 1)
            memcpy(mk->work.h[l], mk->committed.h[l], KC_MERKLE_HASH_LEN);
    if (mk->work.size != log_size) {
        kc_info("store %s: log has %llu entries, frontier %llu: rebuilding it", t->s->dir,
                (unsigned long long)log_size, (unsigned long long)mk->work.size);
        int rc = s_frontier_rebuild(t, log_size, &mk->work);
        if (rc != 0)
            return rc;
    }
    /* B1: the stored part of the last block, exactly */
    mk->blk_first = log_size - log_size % KC_MK_LEAF_BLOCK;
    mk->blk_n = mk->blk_stored = (unsigned)(log_size - mk->blk_first);
    if (mk->blk_n > 0) {
        const uint8_t *data = NULL;
        size_t n = 0;
        int rc = s_blk_get(t, mk->blk_first / KC_MK_LEAF_BLOCK, &data, &n);
        if (rc == 0 && n != mk->blk_n)
            rc = KC_EFORMAT;
        if (rc != 0) {
            kc_error("store %s: the last leaf block does not hold leaves [%llu, %llu)", t->s->dir,
                     (unsigned long long)mk->blk_first, (unsigned long long)log_size);
            return rc == KC_ENOTFOUND ? KC_EFORMAT : rc;
        }
        memcpy(mk->blk, data, n * KC_MERKLE_HASH_LEN);
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
            t->err = rc; /* never commit a log without its leaves */
        return rc;
    }
    kc_mk_state_t *mk = t->s->mk;
    if (offset != mk->work.size) { /* the log and its leaves must advance together */
        kc_error("store %s: log append at %llu, Merkle tree at %llu", t->s->dir,
                 (unsigned long long)offset, (unsigned long long)mk->work.size);
        if (t->err == 0)
            t->err = KC_EFORMAT;
        return KC_EFORMAT;
    }
    if (mk->blk_n == KC_MK_LEAF_BLOCK) { /* B2: write the full block, start the next */
        if ((rc = s_blk_flush(t)) != 0)
            return rc;
        mk->blk_first += KC_MK_LEAF_BLOCK;
        mk->blk_n = mk->blk_stored = 0;
    }
    kc_merkle_leaf_t leaf;
    kc_log_entry_leaf(e, &leaf);
    leaf.offset = offset;
    uint8_t *h = mk->blk[mk->blk_n];
    kc_merkle_leaf_hash(&leaf, h);
    mk->blk_n++;
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
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    h.tree_size = mk->work.size;
    h.timestamp_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
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

static uint64_t s_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void kc_store_set_head_interval(kc_store_t *s, int interval_ms)
{
    if (s && s->mk)
        s->mk->head_interval_ms = interval_ms;
}

int kc_mk_precommit(kc_txn_t *t)
{
    kc_mk_state_t *mk = t->s->mk;
    if (t->mk_loaded) {
        int rc = s_blk_flush(t); /* B3: every leaf hash in the log's transaction */
        if (rc != 0)
            return rc;
    }
    if (!t->mk_loaded || t->mk_signed || mk->head_interval_ms < 0 || !mk->have_sk)
        return 0; /* nothing appended, already signed, or no policy */
    if (mk->head_mono_ms != 0 && s_mono_ms() - mk->head_mono_ms < (uint64_t)mk->head_interval_ms)
        return 0;
    int rc = kc_txn_sign_head(t, NULL);
    return rc == KC_ENOTFOUND ? 0 : rc;
}

void kc_mk_committed(kc_txn_t *t)
{
    kc_mk_state_t *mk = t->s->mk;
    if (t->mk_loaded) {
        mk->committed.size = mk->work.size; /* F4 */
        for (unsigned l = 0; l < KC_MK_LEVELS; l++)
            if (mk->work.size >> l & 1)
                memcpy(mk->committed.h[l], mk->work.h[l], KC_MERKLE_HASH_LEN);
    }
    if (t->mk_signed)
        mk->head_mono_ms = s_mono_ms();
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
    uint64_t size = 0;
    if ((rc = s_leaves_size(t, &size)) != 0)
        return rc;
    return s_frontier_rebuild(t, size, &mk->committed); /* F1; committed with this txn */
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
    return s_mth(t, 0, size, out);
}

typedef struct {
    uint8_t (*out)[KC_MERKLE_HASH_LEN];
    size_t len;
} s_proof_t;

static int s_emit(kc_txn_t *t, s_proof_t *p, uint64_t a, uint64_t b)
{
    if (p->len >= KC_MERKLE_PATH_MAX)
        return KC_EINVAL;
    return s_mth(t, a, b, p->out[p->len++]);
}

/* PATH(m, D[a:b]) (RFC 6962 2.1.1), m absolute. */
static int s_path(kc_txn_t *t, s_proof_t *p, uint64_t m, uint64_t a, uint64_t b)
{
    if (b - a <= 1)
        return 0;
    uint64_t k = kc_merkle_split(b - a);
    int rc;
    if (m - a < k) {
        if ((rc = s_path(t, p, m, a, a + k)) != 0)
            return rc;
        return s_emit(t, p, a + k, b);
    }
    if ((rc = s_path(t, p, m, a + k, b)) != 0)
        return rc;
    return s_emit(t, p, a, a + k);
}

/* SUBPROOF(m, D[a:b], complete) (RFC 6962 2.1.2), m relative to a. */
static int s_subproof(kc_txn_t *t, s_proof_t *p, uint64_t m, uint64_t a, uint64_t b, bool complete)
{
    uint64_t n = b - a;
    if (m == n)
        return complete ? 0 : s_emit(t, p, a, b);
    uint64_t k = kc_merkle_split(n);
    int rc;
    if (m <= k) {
        if ((rc = s_subproof(t, p, m, a, a + k, complete)) != 0)
            return rc;
        return s_emit(t, p, a + k, b);
    }
    if ((rc = s_subproof(t, p, m - k, a + k, b, false)) != 0)
        return rc;
    return s_emit(t, p, a, a + k);
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
    if ((rc = s_path(t, &p, offset, 0, size)) == 0)
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
    if ((rc = s_subproof(t, &p, size1, 0, size2, true)) == 0)
        *len = p.len;
    return rc;
}
