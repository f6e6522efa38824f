/* kc_office_db.h - the portal's own LMDB: accounts and sessions.
 *
 * DESIGN
 * One LMDB environment in the data directory (created 0700, files 0600),
 * opened by the daemon and, at the same time, by `kc-office user ...` (LMDB
 * serialises writers across processes, readers never block), with two
 * databases:
 *   users     "OFFICE\0USER" -> "E|D <created unix s> <argon2id hash string>"
 *             (E enabled, D disabled; the hash is libsodium's
 *             crypto_pwhash_str: algorithm, limits and salt included)
 *   sessions  BLAKE2b-256(token) -> "OFFICE\tUSER\t<expires unix s>\t<csrf hex>"
 *             the token itself (32 random bytes) lives only in the
 *             client's cookie: a copy of this database logs nobody in.
 * Disabling a user or changing its password deletes its sessions in the
 * same transaction; a session whose user is gone or disabled, or whose
 * expiry passed, is refused (and deleted) when looked up. Expired sessions
 * are swept whenever a session is created.
 */
#ifndef KC_OFFICE_DB_H
#define KC_OFFICE_DB_H

#include "kc_office.h"

#include <stdbool.h>
#include <stdint.h>

#define KC_ODB_HASH_MAX 128 /* >= crypto_pwhash_STRBYTES */
#define KC_ODB_CSRF_HEX 64

typedef struct kc_odb kc_odb_t;

typedef struct {
    char office[KC_OFFICE_ID_MAX + 1];
    char user[KC_OFFICE_USER_MAX + 1];
    bool disabled;
    uint64_t created_s;
    char hash[KC_ODB_HASH_MAX];
} kc_odb_user_t;

typedef struct {
    char office[KC_OFFICE_ID_MAX + 1];
    char user[KC_OFFICE_USER_MAX + 1];
    uint64_t expires_s;
    char csrf[KC_ODB_CSRF_HEX + 1];
} kc_odb_session_t;

/* Open (creating) the environment in dir. 0, KC_EIO or KC_ESTORE (logged). */
int kc_odb_open(kc_odb_t **out, const char *dir);
void kc_odb_close(kc_odb_t **self_p);

/* 0; KC_EBUSY if the user exists. */
int kc_odb_user_add(kc_odb_t *db, const char *office, const char *user, const char *hash);
/* 0; KC_ENOTFOUND. Ends the user's sessions. */
int kc_odb_user_passwd(kc_odb_t *db, const char *office, const char *user, const char *hash);
/* 0; KC_ENOTFOUND. Disabling ends the user's sessions. */
int kc_odb_user_set_disabled(kc_odb_t *db, const char *office, const char *user, bool disabled);
/* 0; KC_ENOTFOUND. */
int kc_odb_user_get(kc_odb_t *db, const char *office, const char *user, kc_odb_user_t *out);
/* fn for each user of office (NULL: every office), in key order. */
int kc_odb_user_each(kc_odb_t *db, const char *office,
                     void (*fn)(const kc_odb_user_t *u, void *ctx), void *ctx);

/* Store a session under key (the token's hash). */
int kc_odb_session_put(kc_odb_t *db, const uint8_t key[32], const kc_odb_session_t *s,
                       uint64_t now_s);
/* 0, or KC_ENOTFOUND (unknown, expired, user disabled or gone). */
int kc_odb_session_get(kc_odb_t *db, const uint8_t key[32], uint64_t now_s, kc_odb_session_t *out);
int kc_odb_session_del(kc_odb_t *db, const uint8_t key[32]);

#endif
