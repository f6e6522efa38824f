/* kc_merkle.h - RFC 6962 / RFC 9162 Merkle hashing and proof verification, pure.
 *
 * DESIGN
 * Everything an auditor needs to check a kcpipe proof with only the proof and
 * the log's public key: no store, no I/O. Format of every byte: docs/AUDIT.md.
 *   leaf input (canonical encoding v1) =
 *     u8 1 | u64 offset | u64 received_ns | u64 epoch | u64 seq |
 *     u8 producer_len | producer | u32 event_len | event        (integers big-endian)
 *   leaf hash = SHA-256(0x00 || leaf input)
 *   node hash = SHA-256(0x01 || left || right)
 *   MTH(D[n]) per RFC 6962 2.1: split at the largest power of two < n.
 *   signed tree head: Ed25519 over
 *     "kcpipe-sth-v1" || u64 tree_size || u64 timestamp_ns || root[32]
 * Verification follows RFC 9162 2.1.3.2 (inclusion) and 2.1.4.2 (consistency).
 * Requires sodium_init() to have been called.
 * The kc_merkle_verify_* predicates return true only for a valid proof; any
 * malformed argument is simply "not valid".
 */
#ifndef KC_MERKLE_H
#define KC_MERKLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KC_MERKLE_HASH_LEN    32
#define KC_MERKLE_PUBKEY_LEN  32
#define KC_MERKLE_SECKEY_LEN  64 /* libsodium's Ed25519 secret key (seed || public key) */
#define KC_MERKLE_SIG_LEN     64
#define KC_MERKLE_LEAF_V1     1
#define KC_MERKLE_LEAF_FIXED  38  /* 1 + 4 * 8 + 1 + 4: leaf input without producer and event */
#define KC_MERKLE_PATH_MAX    128 /* longest inclusion or consistency proof accepted */
#define KC_MERKLE_STH_DOMAIN  "kcpipe-sth-v1"
#define KC_MERKLE_STH_MSG_LEN (sizeof KC_MERKLE_STH_DOMAIN - 1 + 8 + 8 + KC_MERKLE_HASH_LEN)

/* The fields of one log entry that the leaf covers (kc_log_entry_t's). */
typedef struct {
    uint64_t offset;      /* position in the log = leaf index */
    uint64_t received_ns; /* aggregator's receive time */
    uint64_t epoch;       /* producer's spool epoch */
    uint64_t seq;         /* producer's sequence number */
    const char *producer; /* not NUL-terminated, 1..255 bytes */
    size_t producer_len;
    const uint8_t *event; /* serialized kcpipe.v1.Event, verbatim */
    size_t event_len;     /* < 2^32 */
} kc_merkle_leaf_t;

/* A signed tree head. */
typedef struct {
    uint64_t tree_size;                   /* leaves covered: offsets 0..tree_size-1 */
    uint64_t timestamp_ns;                /* CLOCK_REALTIME at signing */
    uint8_t root[KC_MERKLE_HASH_LEN];     /* MTH of the first tree_size leaves */
    uint8_t signature[KC_MERKLE_SIG_LEN]; /* Ed25519 over kc_merkle_sth_message() */
} kc_merkle_sth_t;

/* Length of the canonical leaf input of l (0 if l cannot be encoded:
 * producer_len outside 1..255 or event_len >= 2^32). */
size_t kc_merkle_leaf_input_len(const kc_merkle_leaf_t *l);
/* Write the leaf input into out[cap]; returns its length, or 0 if it cannot be
 * encoded or does not fit. */
size_t kc_merkle_leaf_encode(const kc_merkle_leaf_t *l, uint8_t *out, size_t cap);
/* Parse a leaf input (pointers borrow `in`). Returns 0, or -1 if it is not a
 * complete version-1 leaf input with nothing after it. */
int kc_merkle_leaf_decode(const uint8_t *in, size_t len, kc_merkle_leaf_t *out);
/* SHA-256(0x00 || leaf input of l), streamed (no intermediate buffer).
 * l must be encodable (see kc_merkle_leaf_input_len). */
void kc_merkle_leaf_hash(const kc_merkle_leaf_t *l, uint8_t out[KC_MERKLE_HASH_LEN]);
/* SHA-256(0x00 || input[len]). */
void kc_merkle_leaf_hash_raw(const uint8_t *input, size_t len, uint8_t out[KC_MERKLE_HASH_LEN]);
/* SHA-256(0x01 || left || right); out may alias left or right. */
void kc_merkle_node_hash(const uint8_t left[KC_MERKLE_HASH_LEN],
                         const uint8_t right[KC_MERKLE_HASH_LEN], uint8_t out[KC_MERKLE_HASH_LEN]);
/* SHA-256 of the empty string: MTH of the empty tree. */
void kc_merkle_empty_root(uint8_t out[KC_MERKLE_HASH_LEN]);
/* The largest power of two strictly less than n (n >= 2). */
uint64_t kc_merkle_split(uint64_t n);

/* RFC 9162 2.1.3.2: is leaf_hash at leaf_index in the tree of tree_size with
 * this root, given the audit path path[path_len]? */
bool kc_merkle_verify_inclusion(const uint8_t leaf_hash[KC_MERKLE_HASH_LEN], uint64_t leaf_index,
                                uint64_t tree_size, const uint8_t (*path)[KC_MERKLE_HASH_LEN],
                                size_t path_len, const uint8_t root[KC_MERKLE_HASH_LEN]);
/* RFC 9162 2.1.4.2: is the tree (size2, root2) an extension of (size1, root1),
 * given the consistency proof[len]? size1 == size2 needs an empty proof and
 * equal roots; size1 == 0 or size1 > size2 is never valid. */
bool kc_merkle_verify_consistency(uint64_t size1, uint64_t size2,
                                  const uint8_t root1[KC_MERKLE_HASH_LEN],
                                  const uint8_t root2[KC_MERKLE_HASH_LEN],
                                  const uint8_t (*proof)[KC_MERKLE_HASH_LEN], size_t len);

/* The signed message of a head: domain || u64 size || u64 timestamp || root. */
void kc_merkle_sth_message(const kc_merkle_sth_t *h, uint8_t out[KC_MERKLE_STH_MSG_LEN]);
/* Fill h->signature with sk (libsodium crypto_sign secret key). */
void kc_merkle_sth_sign(kc_merkle_sth_t *h, const uint8_t sk[KC_MERKLE_SECKEY_LEN]);
/* Is h->signature a valid signature of h by pk? */
bool kc_merkle_sth_verify(const kc_merkle_sth_t *h, const uint8_t pk[KC_MERKLE_PUBKEY_LEN]);

/* Lower-case hex of in[len] into out (2 * len + 1 bytes, NUL-terminated). */
void kc_merkle_hex(const uint8_t *in, size_t len, char *out);
/* Parse exactly 2 * len hex digits (either case) into out[len]; 0 or -1. */
int kc_merkle_unhex(const char *in, uint8_t *out, size_t len);

#endif
