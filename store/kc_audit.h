/* kc_audit.h - libkcstore's verifiable log: Merkle tree, signed heads, proofs, verify.
 *
 * DESIGN (details in kc_merkle.c; byte formats in docs/AUDIT.md)
 * Every kc_txn_log_append() also stores the entry's RFC 6962 leaf hash
 * (database `leaves`, in blocks of 127 hashes) and extends the Merkle tree in
 * the same transaction; complete subtrees of 64 leaves or more are stored
 * (database `nodes`), so any root, inclusion proof or consistency proof costs
 * O(log n) stored reads plus at most 63 leaf hashes (one or two blocks) per
 * level-<6 subtree. Signed tree heads
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
/* The stored leaf hash at offset; KC_ENOTFOUND past the end. */
int kc_txn_leaf_hash(kc_txn_t *t, uint64_t offset, uint8_t out[KC_MERKLE_HASH_LEN]);
/* MTH of the first `size` leaves (size 0: SHA-256 of ""); KC_EINVAL if size
 * is larger than the tree; KC_EFORMAT if a stored hash is missing. */
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
    KC_AUDIT_BAD_ENTRY, /* a log entry or leaf hash is wrong: bad_offset is the first */
    KC_AUDIT_BAD_HEAD,  /* leaves agree with the log, but a head's root or signature does not */
} kc_audit_status_t;

typedef struct {
    kc_audit_status_t status;
    uint64_t bad_offset;       /* BAD_ENTRY: the first offset that is wrong or missing */
    uint64_t range_from;       /* BAD_HEAD: the changed entries lie in [range_from, range_to) */
    uint64_t range_to;         /*           (a stored subtree, or since the last good head) */
    kc_merkle_sth_t bad_head;  /* BAD_HEAD: the first head that fails */
    char reason[256];          /* one line: what was found */
    uint64_t log_entries;      /* entries checked */
    uint64_t leaves;           /* stored leaf hashes */
    uint64_t nodes_checked;    /* stored subtree hashes compared */
    uint64_t heads;            /* signed heads checked */
    bool have_head;            /* last_head is set */
    kc_merkle_sth_t last_head; /* the latest head (when clean) */
} kc_audit_report_t;

/* Recompute every leaf hash from the log and compare it with the stored one
 * (and each key's place in the sequence), every stored subtree hash, and
 * the root and signature (with pk) of every stored head, in one pass over a
 * read snapshot. progress (may be NULL) is called now and then with entries
 * done and the total. Returns 0 with rep->status saying whether the store is
 * clean, or a KC_E* code if the check itself could not run. */
int kc_audit_verify(kc_txn_t *t, const uint8_t pk[KC_MERKLE_PUBKEY_LEN], kc_audit_report_t *rep,
                    void (*progress)(uint64_t done, uint64_t total, void *ctx), void *ctx);

#endif
