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
/* No leaf hash is stored (store format 4): a leaf is recomputed from its log
 * entry, and a subtree below KC_MK_NODE_MIN_LEVEL from the 64-entry block of
 * log entries it lies in (kc_merkle.c). */

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
    bool committed_known;             /* committed is valid (F1; false: rebuild at first use) */
    kc_mk_frontier_t work;            /* the write txn's copy (t->mk_loaded) */
    bool have_pk;                     /* pk is known (meta "audit_pubkey") */
    bool have_sk;                     /* writer: sk loaded from audit.key */
    uint8_t pk[KC_MERKLE_PUBKEY_LEN]; /* Ed25519 public key */
    uint8_t sk[KC_MERKLE_SECKEY_LEN]; /* Ed25519 secret key (writer only) */
    int head_interval_ms;             /* < 0: no automatic heads */
    uint64_t head_mono_ms;            /* CLOCK_MONOTONIC ms of our last head (0 = none) */
};

kc_mk_state_t *kc_mk_new(void);
void kc_mk_free(kc_store_t *s);
/* Writer open, inside the init write txn: load or create the key (audit.key,
 * meta "audit_pubkey") and rebuild the committed frontier (from nodes and the
 * log's tail; for a store of an older format, opened to be migrated, at the
 * first write txn that appends or signs instead). */
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

/* The leaf hash of the log record (k, v) (a cursor's position on KC_DB_LOG):
 * its key must be `offset`; decoded with kc_store_log_decode. KC_EFORMAT
 * (logged) if the key is another or the record does not decode. */
int kc_mk_leaf_from_record(kc_txn_t *t, const MDB_val *k, const MDB_val *v, uint64_t offset,
                           uint8_t out[KC_MERKLE_HASH_LEN]);

/* Store format 3 -> 4 (kc_store_migrate.c): drop the `leaves` database
 * (format 3's stored leaf hashes) in the write transaction t, so that the
 * migration and the drop commit together. 0 if there is no such database. */
int kc_mk_drop_leaves(kc_txn_t *t);

/* Stored nodes and heads (kc_merkle.c), for kc_audit.c. */
int kc_mk_node_get(kc_txn_t *t, unsigned level, uint64_t index, uint8_t out[KC_MERKLE_HASH_LEN]);
void kc_mk_head_decode(uint64_t size, const uint8_t v[KC_MK_HEAD_VAL_LEN], kc_merkle_sth_t *h);

#endif
