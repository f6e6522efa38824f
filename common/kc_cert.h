/* kc_cert.h - CURVE key certificates in ZeroMQ's certificate file format.
 *
 * DESIGN - the file format (as CZMQ's zcert writes it; ZPL, rfc.zeromq.org/spec:4)
 * A certificate is a ZPL text file: '#' comment lines, then two sections,
 * children indented by four spaces, values quoted:
 *
 *     metadata
 *         name = "office-79"
 *     curve
 *         public-key = "<40 Z85 characters>"
 *         secret-key = "<40 Z85 characters>"      (only in the secret file)
 *
 * kc-keygen --out NAME writes NAME (public: metadata + public-key) and
 * NAME_secret (both keys, mode 0600), as zcert_save() does. The reader
 * accepts any ZPL file that has curve/public-key (and curve/secret-key when a
 * secret is asked for): other sections and metadata are ignored. Keys are
 * checked to be 40 characters of the Z85 alphabet (32 bytes); whether the
 * public key belongs to the secret one is checked by the callers with
 * zmq_curve_public() (this module does not link libzmq).
 * Returns: 0 or a negative KC_E* code / -errno (kc_err.h).
 */
#ifndef KC_CERT_H
#define KC_CERT_H

#include <stdbool.h>
#include <stddef.h>

#define KC_CERT_KEY_LEN  40 /* a 32-byte key in Z85 */
#define KC_CERT_NAME_MAX 128

typedef struct {
    char public_key[KC_CERT_KEY_LEN + 1]; /* Z85, NUL-terminated */
    char secret_key[KC_CERT_KEY_LEN + 1]; /* Z85 or "" (public certificate) */
    char name[KC_CERT_NAME_MAX + 1];      /* metadata/name or "" */
    bool group_or_other_access;           /* the file's mode lets others than its owner in */
} kc_cert_t;

/* Whether s is exactly 40 characters of the Z85 alphabet. */
bool kc_cert_z85_valid(const char *s);

/* Read a certificate file. want_secret: curve/secret-key is required.
 * KC_EFORMAT (logged with file:line) if the file is not a certificate or a
 * key is malformed, -errno if it cannot be read. */
int kc_cert_load(const char *path, bool want_secret, kc_cert_t *out);

/* Parse certificate text (len bytes); `name` labels log lines. */
int kc_cert_parse(const char *text, size_t len, const char *name, bool want_secret, kc_cert_t *out);

/* Write cert as a public (secret = false: mode 0644) or secret (mode 0600)
 * certificate file, atomically (temporary file, fsync, rename). Without
 * overwrite, an existing file is an error (-EEXIST). `generator` is named in
 * the header comment. */
int kc_cert_save(const char *path, const kc_cert_t *cert, bool secret, bool overwrite,
                 const char *generator);

#endif
