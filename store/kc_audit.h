/* kc_audit.h - libkcstore's verifiable log: Merkle tree, signed heads, proofs, verify.
 *
 * DESIGN (details in kc_merkle.c; byte formats in docs/AUDIT.md)
 * Every kc_txn_log_append() also extends the Merkle tree over the log's
 * entries in the same transaction: it hashes the entry's leaf once and
 * stores every complete subtree of 64 leaves or more (database `nodes`). Leaf
 * hashes themselves are not stored (store format 4): one is recomputed from
 * its log entry when needed, so any root, inclusion proof or consistency
 * proof costs O(log n) stored reads plus at most 63 log entries (one 64-entry
 * block) per end of the range it covers. Signed tree heads
 * (database `heads`, only ever appended, sizes strictly increasing) are
 * Ed25519 signatures by the store's own key (file `audit.key` in the store
 * directory, created 0600 on the first writer open; the public key is also
 * in the store's meta database so that read-only users can check heads).
 * Pure verification of what these functions produce: kc_merkle.h.
 * Returns: 0 or a negative KC_E* code (kc_err.h) unless stated.
 */
#ifndef KC_AUDIT_H
#define KC_AUDIT_H

#include "kc_merkle.h"
#include "kc_store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The leaf fields of a log entry (pointers borrowed from e). */
void kc_log_entry_leaf(const kc_log_entry_t *e, kc_merkle_leaf_t *out);

/* ---- keys and heads ---- */

/* The store's Ed25519 public key; KC_ENOTFOUND if the store has none yet (a
 * read-only open of a store no writer has opened since format 2). */
int kc_store_public_key(const kc_store_t *s, uint8_t out[KC_MERKLE_PUBKEY_LEN]);

/* Automatic heads: from now on, a kc_store_write() whose callback appended to
 * the log also signs a head (in the same transaction, before its commit) if
 * at least interval_ms have passed since this kc_store_t last signed one (or
 * none was signed yet). interval_ms < 0 (the default) turns it off. */
void kc_store_set_head_interval(kc_store_t *s, int interval_ms);

/* Sign a head over the tree as it stands in this write transaction and store
 * it in `heads`. Returns 0 (and the head in *out if non-NULL), KC_ENOTFOUND if
 * there is nothing new to sign (the tree is empty or not larger than the
 * latest head), KC_EINVAL outside a write txn or without a signing key, or a
 * store error (KC_EMAPFULL: return it from the callback). */
int kc_txn_sign_head(kc_txn_t *t, kc_merkle_sth_t *out);
/* The same in its own write transaction (e.g. at shutdown). */
int kc_store_sign_head(kc_store_t *s, kc_merkle_sth_t *out);

/* The head of exactly `size` leaves; KC_ENOTFOUND if none was signed. */
int kc_txn_head_get(kc_txn_t *t, uint64_t size, kc_merkle_sth_t *out);
/* The latest head; KC_ENOTFOUND if none. */
int kc_txn_head_last(kc_txn_t *t, kc_merkle_sth_t *out);
/* Call fn for each head with tree_size >= from_size, in size order, until fn
 * returns non-zero (returned) or the heads end (0). */
int kc_txn_head_scan(kc_txn_t *t, uint64_t from_size,
                     int (*fn)(const kc_merkle_sth_t *h, void *ctx), void *ctx);

/* ---- tree, roots, proofs (read and write transactions) ---- */

/* Number of leaves (= log entries). */
int kc_txn_merkle_size(kc_txn_t *t, uint64_t *size);
/* The leaf hash at offset, recomputed from the log entry; KC_ENOTFOUND past
 * the end, KC_EFORMAT if the entry does not decode. */
int kc_txn_leaf_hash(kc_txn_t *t, uint64_t offset, uint8_t out[KC_MERKLE_HASH_LEN]);
/* MTH of the first `size` leaves (size 0: SHA-256 of ""); KC_EINVAL if size
 * is larger than the tree; KC_EFORMAT if a stored node or a log entry it
 * needs is missing or unreadable. */
int kc_txn_merkle_root(kc_txn_t *t, uint64_t size, uint8_t out[KC_MERKLE_HASH_LEN]);
/* RFC 6962 PATH(offset, D[size]) into path[KC_MERKLE_PATH_MAX], leaf to root;
 * *len its length. KC_EINVAL unless offset < size <= tree size. */
int kc_txn_inclusion_proof(kc_txn_t *t, uint64_t offset, uint64_t size,
                           uint8_t (*path)[KC_MERKLE_HASH_LEN], size_t *len);
/* RFC 6962 PROOF(size1, D[size2]) into proof[KC_MERKLE_PATH_MAX]; *len its
 * length (0 when size1 == size2). KC_EINVAL unless 0 < size1 <= size2 <= tree size. */
int kc_txn_consistency_proof(kc_txn_t *t, uint64_t size1, uint64_t size2,
                             uint8_t (*proof)[KC_MERKLE_HASH_LEN], size_t *len);

/* ---- full verification (kc-audit verify) ---- */

typedef enum {
    KC_AUDIT_OK = 0,
    KC_AUDIT_BAD_ENTRY, /* the log's sequence is broken at bad_offset: an entry missing (deleted,
                           or the log truncated below a signed head or stored subtree), out of
                           sequence or unreadable */
    KC_AUDIT_BAD_HEAD,  /* a head's root or signature does not match the log: for a root,
                           the changed entries lie in [range_from, range_to) */
    KC_AUDIT_BAD_NODE,  /* a stored subtree over [range_from, range_to) does not match the log:
                           the subtree or those entries changed (the reason says which when a
                           later signed head decides) */
} kc_audit_status_t;

typedef struct {
    kc_audit_status_t status;
    uint64_t bad_offset;       /* BAD_ENTRY: the first offset that is missing or wrong */
    uint64_t range_from;       /* BAD_HEAD, BAD_NODE: the changed entries lie in */
    uint64_t range_to;         /*   [range_from, range_to) (see kc_audit_verify) */
    kc_merkle_sth_t bad_head;  /* BAD_HEAD: the first head that fails */
    char reason[256];          /* one line: what was found */
    uint64_t log_entries;      /* entries checked (each leaf hash recomputed) */
    uint64_t nodes_checked;    /* stored subtree hashes compared */
    uint64_t heads;            /* signed heads checked */
    bool have_head;            /* last_head is set */
    kc_merkle_sth_t last_head; /* the latest head (when clean) */
} kc_audit_report_t;

/* Recompute every leaf hash from the log (checking that its keys run 0, 1,
 * ... and every record decodes), every stored subtree hash, and the root and
 * signature (with pk) of every stored head, in one pass over a read
 * snapshot. No leaf hash is stored, so a changed entry is found by the first
 * stored subtree or head that no longer matches; the reported range is the
 * smallest that the signed heads (which only the key's holder can forge) and
 * the stored subtrees (which they can) together allow: [last good head's
 * size, first bad head's size), narrowed to the 64-entry block whose stored
 * subtree failed, or to the entries since the last complete block.
 * progress (may be NULL) is called now and then with entries done and the
 * total. Returns 0 with rep->status saying whether the store is clean, or a
 * KC_E* code if the check itself could not run. */
int kc_audit_verify(kc_txn_t *t, const uint8_t pk[KC_MERKLE_PUBKEY_LEN], kc_audit_report_t *rep,
                    void (*progress)(uint64_t done, uint64_t total, void *ctx), void *ctx);

#endif
