/* kc_merkle_int.h - libkcstore internals of the verifiable log (not installed).
 *
 * The Merkle frontier (right edge of the tree), the store's signing key and
 * head policy, and the hooks that kc_store.c and kc_store_log.c call.
 * DESIGN in kc_merkle.c.
 */
#ifndef KC_MERKLE_INT_H
#define KC_MERKLE_INT_H

#include "kc_merkle.h"
#include "kc_store_int.h"

#define KC_MK_NODE_MIN_LEVEL 6 /* subtrees of 64+ leaves are stored in `nodes` */
#define KC_MK_LEVELS         64
#define KC_MK_NODE_KEY_LEN   9 /* u8 level + u64 index */
#define KC_MK_HEAD_VAL_LEN   (8 + KC_MERKLE_HASH_LEN + KC_MERKLE_SIG_LEN)
/* Leaf hashes are stored in blocks: `leaves` maps u64 BE block index
 * (= offset / KC_MK_LEAF_BLOCK) to the hashes of its leaves in offset order,
 * KC_MK_LEAF_BLOCK x 32 bytes (the last block may be shorter). 127 x 32 =
 * 4064 bytes plus LMDB's 16-byte page header is exactly one 4 KiB overflow
 * page (64 x 32 = 2048 is just over LMDB's in-page limit of 2038 - key - 8
 * and would also take a whole page: 64 B/entry). Part of the store format. */
#define KC_MK_LEAF_BLOCK 127

/* The right edge of a tree of `size` leaves: h[l] is the hash of the
 * complete subtree of 2^l leaves at that level, valid iff bit l of size is
 * set. Enough to append a leaf and to compute the root in O(log n). */
typedef struct {
    uint64_t size;                               /* leaves */
    uint8_t h[KC_MK_LEVELS][KC_MERKLE_HASH_LEN]; /* perfect subtrees, by level */
} kc_mk_frontier_t;

/* Called with every subtree completed by kc_mk_frontier_push at a level >=
 * KC_MK_NODE_MIN_LEVEL; a non-zero return stops the push and is returned. */
typedef int (*kc_mk_node_fn)(unsigned level, uint64_t index, const uint8_t h[KC_MERKLE_HASH_LEN],
                             void *ctx);

struct kc_mk_state {
    kc_mk_frontier_t committed;       /* tree as of the last commit that returned */
    kc_mk_frontier_t work;            /* the write txn's copy (t->mk_loaded) */
    bool have_pk;                     /* pk is known (meta "audit_pubkey") */
    bool have_sk;                     /* writer: sk loaded from audit.key */
    uint8_t pk[KC_MERKLE_PUBKEY_LEN]; /* Ed25519 public key */
    uint8_t sk[KC_MERKLE_SECKEY_LEN]; /* Ed25519 secret key (writer only) */
    int head_interval_ms;             /* < 0: no automatic heads */
    uint64_t head_mono_ms;            /* CLOCK_MONOTONIC ms of our last head (0 = none) */
    /* The write txn's last leaf block (valid while t->mk_loaded, B1-B3 in
     * kc_merkle.c): leaves [blk_first, work.size), blk_n < KC_MK_LEAF_BLOCK;
     * the first blk_stored of them are already in `leaves`. */
    uint64_t blk_first;
    unsigned blk_n;
    unsigned blk_stored;
    uint8_t blk[KC_MK_LEAF_BLOCK][KC_MERKLE_HASH_LEN];
};

kc_mk_state_t *kc_mk_new(void);
void kc_mk_free(kc_store_t *s);
/* Writer open, inside the init write txn: load or create the key (audit.key,
 * meta "audit_pubkey") and rebuild the committed frontier. */
int kc_mk_open_write(kc_txn_t *t);
/* Reader open: the public key from meta (absent: kc_store_public_key says
 * KC_ENOTFOUND). */
int kc_mk_open_read(kc_txn_t *t);
/* From kc_txn_log_append, after the record was written at `offset`. */
int kc_mk_append(kc_txn_t *t, const kc_log_entry_t *e, uint64_t offset);
/* From kc_store_write, after fn returned 0 and before the commit. */
int kc_mk_precommit(kc_txn_t *t);
/* From kc_store_write, after the commit returned 0. */
void kc_mk_committed(kc_txn_t *t);

/* Frontier operations (pure). */
void kc_mk_frontier_root(const kc_mk_frontier_t *f, uint8_t out[KC_MERKLE_HASH_LEN]);
int kc_mk_frontier_push(kc_mk_frontier_t *f, const uint8_t leaf[KC_MERKLE_HASH_LEN],
                        kc_mk_node_fn fn, void *ctx);

/* Key files (kc_merkle_key.c). */
int kc_mk_key_load_or_create(kc_store_t *s, bool create);

/* Walks the stored leaf hashes in offset order (kc_audit.c): each call to
 * kc_mk_leaf_iter_next yields the next stored hash and the offset its block
 * places it at; a malformed block (length not a multiple of 32, empty or
 * longer than a block) yields `bad` at the offset its valid part ends. */
typedef struct {
    MDB_cursor *c;
    const uint8_t *blk; /* the current block's value */
    uint64_t first;     /* offset of its first leaf */
    size_t n;           /* whole hashes in it (<= KC_MK_LEAF_BLOCK) */
    size_t i;           /* next hash to yield */
    bool bad_tail;      /* yield a `bad` item after the n hashes */
    bool started;
} kc_mk_leaf_iter_t;

int kc_mk_leaf_iter_open(kc_txn_t *t, kc_mk_leaf_iter_t *it);
/* *have = false at the end; else *offset, *hash (KC_MERKLE_HASH_LEN bytes,
 * valid until the next call) and *bad. */
int kc_mk_leaf_iter_next(kc_txn_t *t, kc_mk_leaf_iter_t *it, bool *have, uint64_t *offset,
                         const uint8_t **hash, bool *bad);
void kc_mk_leaf_iter_close(kc_mk_leaf_iter_t *it);

/* Stored nodes and heads (kc_merkle.c), for kc_audit.c. */
int kc_mk_node_get(kc_txn_t *t, unsigned level, uint64_t index, uint8_t out[KC_MERKLE_HASH_LEN]);
void kc_mk_head_decode(uint64_t size, const uint8_t v[KC_MK_HEAD_VAL_LEN], kc_merkle_sth_t *h);

#endif
