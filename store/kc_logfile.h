/* kc_logfile.h - the exported event log: a documented, versioned, self-checking
 * file (docs/LOGFILE.md) that an auditor can verify offline with only the
 * aggregator's public key, and that kc-replay can rebuild totals from.
 *
 * DESIGN
 * A file holds the first N entries of a store's log, N being the size of a
 * signed tree head: a header (magic, format version, the public key, N), then
 * N length-prefixed records (the canonical leaf input of RFC 6962 leaf i, as in
 * docs/AUDIT.md, followed by its leaf hash), then the signed head of size N.
 * The reader recomputes every leaf hash and the Merkle root and checks the
 * head's signature; any change is reported with the first bad record index.
 * Entries returned by the reader are valid until the next call.
 * Byte layout (format version 1, integers big-endian like docs/AUDIT.md):
 *   header  88 bytes: magic "\x89KCLOG\r\n" | u32 version | u32 flags (0) |
 *                     public key[32] | u64 N | SHA-256 of the 56 bytes before
 *   record  u32 L | leaf input[L] (docs/AUDIT.md, offset = record index) |
 *           leaf hash[32] = SHA-256(0x00 || leaf input)           (N times)
 *   trailer 120 bytes: magic "\x89KCEND\r\n" | u64 tree_size (= N) |
 *                     u64 timestamp_ns | root[32] | Ed25519 signature[64]
 *   then end of file.
 * Reading is streaming and constant-memory: one record buffer and the Merkle
 * frontier (the roots of the perfect subtrees on the right edge, <= 64
 * hashes), folded leaf by leaf; the root is compared with the head's at the
 * end. The first error is sticky: later calls return it again.
 * Writing goes to path.tmp, which is fsync'd, renamed to path, and the
 * directory fsync'd; an unfinished or failed write leaves path untouched.
 */
#ifndef KC_LOGFILE_H
#define KC_LOGFILE_H

#include "kc_audit.h"
#include "kc_merkle.h"
#include "kc_store.h"

#include <stdbool.h>
#include <stdint.h>

#define KC_LOGFILE_VERSION     1
#define KC_LOGFILE_HEADER_LEN  88
#define KC_LOGFILE_TRAILER_LEN 120
#define KC_LOGFILE_MAGIC       "\x89KCLOG\r\n" /* 8 bytes, no NUL counted */
#define KC_LOGFILE_END_MAGIC   "\x89KCEND\r\n"
#define KC_LOGFILE_RECORD_MAX  ((uint32_t)16 << 20) /* largest leaf input L accepted */

typedef struct kc_logfile_reader kc_logfile_reader_t;

/* Why a file failed to verify. */
typedef struct {
    int rc;             /* 0 = valid; else KC_EFORMAT (bad/unsupported header, bad
                           record framing, truncated), KC_EIO, or KC_EPROTO (a hash,
                           the root or the signature does not match) */
    uint64_t bad_index; /* first bad record (= log offset), when rc != 0 and known */
    bool has_bad_index;
    char why[256];  /* one line, English */
    bool truncated; /* the file ends early (rc KC_EFORMAT; bad_index = the
                       record it ends in or before, if it ends before the trailer) */
} kc_logfile_status_t;

/* Write the first `size` entries of the store's log with the signed head of that
 * size (size 0 = the latest signed head) to `path` (written to path.tmp, fsync'd,
 * renamed). progress (may be NULL) is called now and then with (done, total).
 * KC_ENOTFOUND if no signed head of that size exists. */
int kc_logfile_export(kc_store_t *store, const char *path, uint64_t size,
                      void (*progress)(uint64_t done, uint64_t total, void *ctx), void *ctx);

/* The writer under kc_logfile_export (also for tests: goldens with a fixed
 * key). open: begin a file of exactly `count` records for `pubkey` (writes
 * path.tmp). add: the next entry; e->offset must be the record index (else
 * KC_EINVAL). root: the Merkle root of the records added so far. finish:
 * KC_EINVAL unless `count` records were added and head->tree_size == count;
 * KC_EPROTO if the head's root is not the records' root or its signature does
 * not verify with pubkey (nothing is renamed); else writes the trailer,
 * fsyncs, renames to path and fsyncs the directory. finish and abort free *w
 * (abort removes path.tmp). Errors: KC_E* or -errno. */
typedef struct kc_logfile_writer kc_logfile_writer_t;
int kc_logfile_writer_open(kc_logfile_writer_t **out, const char *path, const uint8_t pubkey[32],
                           uint64_t count);
int kc_logfile_writer_add(kc_logfile_writer_t *w, const kc_log_entry_t *e);
void kc_logfile_writer_root(const kc_logfile_writer_t *w, uint8_t root[KC_MERKLE_HASH_LEN]);
int kc_logfile_writer_finish(kc_logfile_writer_t **w, const kc_merkle_sth_t *head);
void kc_logfile_writer_abort(kc_logfile_writer_t **w);

/* Open a file for reading; reads and checks the header. *pubkey_out (may be
 * NULL) receives the public key the header carries; *size_out (may be NULL)
 * the number of records. Returns 0, KC_EFORMAT (with st->why), -errno. */
int kc_logfile_open(kc_logfile_reader_t **out, const char *path, uint8_t pubkey_out[32],
                    uint64_t *size_out, kc_logfile_status_t *st);
/* The next entry, checked against its stored leaf hash and folded into the
 * running root: 1 and *e filled (borrowed until the next call), 0 after the last
 * record once the final head was read and verified (root and signature, with
 * the key of the header, or with `expect_key` if kc_logfile_expect_key was
 * called), or a negative code with st->why / st->bad_index. */
int kc_logfile_next(kc_logfile_reader_t *r, kc_log_entry_t *e, kc_logfile_status_t *st);
/* Require the file to be signed by this key (an auditor's trusted key) rather
 * than trusting the key in the header. */
void kc_logfile_expect_key(kc_logfile_reader_t *r, const uint8_t key[32]);
/* The verified final head (after kc_logfile_next returned 0). */
int kc_logfile_head(const kc_logfile_reader_t *r, kc_merkle_sth_t *out);
void kc_logfile_close(kc_logfile_reader_t **r);

/* What a file says about itself, from its header and trailer only (no record
 * is read or checked: kc_logfile_verify does that). */
typedef struct {
    uint32_t version;
    uint8_t pubkey[KC_MERKLE_PUBKEY_LEN];
    uint64_t count;       /* records, from the header */
    uint64_t file_size;   /* bytes */
    bool have_head;       /* the trailer was found at the end of the file */
    kc_merkle_sth_t head; /* its signed head */
    bool head_sig_ok;     /* its signature verifies with the header's key */
} kc_logfile_info_t;

/* Fill *out from the header and the trailer of a regular file. Returns 0;
 * KC_EFORMAT (st->why) for a bad header (nothing else is filled) or a missing
 * or malformed trailer (header fields filled, have_head false); -errno. */
int kc_logfile_info(const char *path, kc_logfile_info_t *out, kc_logfile_status_t *st);

/* Read a whole file and verify it; fills st. Returns st->rc. */
int kc_logfile_verify(const char *path, const uint8_t *expect_key, kc_logfile_status_t *st,
                      void (*progress)(uint64_t done, uint64_t total, void *ctx), void *ctx);

#endif
