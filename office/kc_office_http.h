/* kc_office_http.h - kc-office's web server (libmicrohttpd, GnuTLS).
 *
 * DESIGN
 * Routes (anything else 404; a known path with another method 405):
 *   GET  /                  the signed-in user's home: its office, the office's
 *                           provinces (kc_ref names), the user; else 303 /login
 *   GET  /login             the sign-in form
 *   POST /login             office, user, password, csrf -> 303 / with the
 *                           session cookie; 401 wrong user or password, 403
 *                           disabled account or bad CSRF token, 429 throttled
 *   POST /logout            csrf -> the session deleted server-side, 303 /login
 *   GET  /assets/style.css, /assets/favicon.svg   compiled in (no file system)
 *   GET, POST /upload, /upload/<id>; GET /upload/template.xlsx   the upload
 *                           pages (kc_office_upload.c; a file part of at most
 *                           KC_OHTTP_UPLOAD_MAX on POST /upload only)
 * HEAD wherever GET is allowed. ?lang=vi|en on a GET sets the page language
 * (cookie kc_lang; Vietnamese by default).
 * Sessions: the cookie kc_session holds 32 bytes from randombytes_buf (hex);
 * the database keeps only their BLAKE2b-256 hash, the office, the user, the
 * expiry (12 hours after sign-in) and the session's CSRF token (32 more
 * random bytes). Cookie attributes: HttpOnly; SameSite=Strict; Path=/; and
 * Secure under TLS. Every form carries the CSRF token; every POST is checked
 * with sodium_memcmp against the session's (for /login, against the
 * pre-session cookie kc_login: a double-submit token) - 403 otherwise.
 * Throttling (memory only, per daemon): a user (office/name) may fail 5 times
 * in a row; after the 5th failure it is locked 30 s, each further failure
 * after a lock doubles the lock (60 s, 120 s, ... at most 900 s); a client
 * address likewise after 20 failures. A locked attempt is answered 429 with
 * Retry-After (seconds) before any password hashing, so wrong passwords cost
 * the attacker, not the other users. A success clears the user's count; a
 * count is forgotten an hour after its last failure.
 * Request bodies: at most 16 KiB (413 above; a Content-Length over it is
 * refused before the body is read), application/x-www-form-urlencoded or
 * multipart/form-data, decoded by libmicrohttpd's post processor.
 * Every answer: Content-Security-Policy (no inline script or style, forms to
 * this origin only, never framed), X-Frame-Options: DENY,
 * X-Content-Type-Options: nosniff, Referrer-Policy: no-referrer,
 * Cache-Control: no-store on pages; Strict-Transport-Security under TLS.
 */
#ifndef KC_OFFICE_HTTP_H
#define KC_OFFICE_HTTP_H

#include "kc_office.h"
#include "kc_office_db.h"
#include "kc_office_send.h"

#define KC_OHTTP_BODY_MAX    16384
#define KC_OHTTP_UPLOAD_MAX  (10 * 1024 * 1024) /* an uploaded spreadsheet */
#define KC_OHTTP_SESSION_S   (12 * 3600)
#define KC_OHTTP_USER_FREE   5
#define KC_OHTTP_ADDR_FREE   20
#define KC_OHTTP_LOCK_BASE_S 30
#define KC_OHTTP_LOCK_MAX_S  900
#define KC_OHTTP_FORGET_S    3600

typedef struct {
    const char *addr; /* IPv4/IPv6 literal */
    unsigned port;    /* 0 = any free port */
    const kc_office_t *offices;
    size_t n_offices;
    kc_odb_t *db;
    const char *tls_cert; /* PEM text, or NULL (plain HTTP) */
    const char *tls_key;
    unsigned threads;     /* 0 = 4 */
    const char *data_dir; /* the data directory (uploads/ below it) */
    kc_osend_t *send;     /* the producer side; NULL: pages that send answer 503 */
} kc_ohttp_opts_t;

typedef struct kc_ohttp kc_ohttp_t;

int kc_ohttp_start(kc_ohttp_t **out, const kc_ohttp_opts_t *opts);
void kc_ohttp_stop(kc_ohttp_t **self_p);
unsigned kc_ohttp_port(const kc_ohttp_t *self);

#endif
