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
 */
#ifndef KC_LOGFILE_H
#define KC_LOGFILE_H

#include "kc_audit.h"
#include "kc_merkle.h"
#include "kc_store.h"

#include <stdint.h>

#define KC_LOGFILE_VERSION 1

typedef struct kc_logfile_reader kc_logfile_reader_t;

/* Why a file failed to verify. */
typedef struct {
    int rc;              /* 0 = valid; else KC_EFORMAT (bad/unsupported header, bad
                            record framing, truncated), KC_EIO, or KC_EPROTO (a hash,
                            the root or the signature does not match) */
    uint64_t bad_index;  /* first bad record (= log offset), when rc != 0 and known */
    bool has_bad_index;
    char why[256];       /* one line, English */
} kc_logfile_status_t;

/* Write the first `size` entries of the store's log with the signed head of that
 * size (size 0 = the latest signed head) to `path` (written to path.tmp, fsync'd,
 * renamed). progress (may be NULL) is called now and then with (done, total).
 * KC_ENOTFOUND if no signed head of that size exists. */
int kc_logfile_export(kc_store_t *store, const char *path, uint64_t size,
                      void (*progress)(uint64_t done, uint64_t total, void *ctx), void *ctx);

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

/* Read a whole file and verify it; fills st. Returns st->rc. */
int kc_logfile_verify(const char *path, const uint8_t *expect_key, kc_logfile_status_t *st,
                      void (*progress)(uint64_t done, uint64_t total, void *ctx), void *ctx);

#endif
