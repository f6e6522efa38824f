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
#include <stddef.h>
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

/* ---- submissions and their rows (issue 17 steps 2-5) ----
 * Four more databases in the same environment:
 *   subs    id (u64, big-endian) -> JSON {"office","user","created","what","file","rows"}
 *           ids from 1, one counter for the portal ("next_sub" in meta)
 *   rows    id (u64 BE) row (u32 BE, from 0) -> JSON of kc_odb_row_t
 *   seqs    "OFFICE\0" seq (u64 BE) -> id, row       the producer's sequence -> row
 *   evids   "OFFICE\0PROVINCE\0EVENT_ID" -> id, row  the row that sent that event_id
 *                                                    (to follow correction chains)
 * A submission is written once, with all its rows, in one transaction
 * (kc_odb_sub_add); after that only the rows' states and results change.
 * Values are JSON (kc_office_db.c's DESIGN); meta holds "next_sub" (u64 BE).
 */
enum {
    KC_ROW_SPOOLED = 1, /* durable in the office's spool, not yet handed to the centre */
    KC_ROW_SENT,        /* handed to a connection to the centre, no answer yet */
    KC_ROW_ACCEPTED,    /* the centre committed it */
    KC_ROW_DUPLICATE,   /* the centre already had it (counted once, earlier) */
    KC_ROW_REJECTED,    /* the centre refused it: reason, text; or refused before
                         * spooling (kc_producer_add: KCI_EREFUSED), then seq is 0 */
};

#define KC_ODB_WHAT_MAX   16  /* "upload", "form", "correction", "retraction" */
#define KC_ODB_FILE_MAX   255 /* the uploaded file's name as shown (no directory) */
#define KC_ODB_REASON_MAX 48
#define KC_ODB_TEXT_MAX   512

typedef struct {
    uint64_t id;
    char office[KC_OFFICE_ID_MAX + 1];
    char user[KC_OFFICE_USER_MAX + 1];
    uint64_t created_s;
    char what[KC_ODB_WHAT_MAX + 1];
    char file[KC_ODB_FILE_MAX + 1];
    uint32_t rows;
} kc_odb_sub_t;

typedef struct {
    uint64_t sub;
    uint32_t row;
    int state;       /* KC_ROW_* */
    uint64_t seq;    /* the producer's sequence number; 0 if never spooled */
    long source_row; /* the sheet's row number (uploads), 0 for a form */
    /* the event as sent (kc_event_t's fields) */
    char event_id[65];
    char province[3];
    char activity[17]; /* the activity's code ("KC3b"); "" on a retraction */
    int year, month, kind, fund, op;
    uint32_t present;
    int64_t metrics[10]; /* KCI_METRIC_COUNT */
    char note[1025];
    char corrects[65];
    /* the outcome */
    int reason; /* KCI_ACCEPTED, KCI_DUPLICATE, a rejection code; -1 none yet */
    char reason_name[KC_ODB_REASON_MAX + 1];
    char text[KC_ODB_TEXT_MAX + 1]; /* the centre's explanation (English) */
    /* this version's fate, set when a later row's correction or retraction of
     * it is accepted: the event_id that replaced it, and whether that was a
     * retraction. A row is the latest version when accepted and superseded_by
     * is "". */
    char superseded_by[65];
    bool retracted;
    uint64_t updated_s;
} kc_odb_row_t;

/* Write submission *sub (sub->id assigned here, *sub updated) with its n rows
 * (each row's sub set here; row i gets number i) and their seqs/evids index
 * entries, in one transaction. */
int kc_odb_sub_add(kc_odb_t *db, kc_odb_sub_t *sub, kc_odb_row_t *rows, uint32_t n);
/* 0; KC_ENOTFOUND. */
int kc_odb_sub_get(kc_odb_t *db, uint64_t id, kc_odb_sub_t *out);
/* fn for each submission of office, newest first, at most limit (0 = all). */
int kc_odb_sub_each(kc_odb_t *db, const char *office, size_t limit,
                    void (*fn)(const kc_odb_sub_t *s, void *ctx), void *ctx);
/* 0; KC_ENOTFOUND. */
int kc_odb_row_get(kc_odb_t *db, uint64_t sub, uint32_t row, kc_odb_row_t *out);
/* fn for each row of submission sub, in row order. */
int kc_odb_row_each(kc_odb_t *db, uint64_t sub, void (*fn)(const kc_odb_row_t *r, void *ctx),
                    void *ctx);
/* The row that sent event_id for province in office: 0; KC_ENOTFOUND. */
int kc_odb_row_by_event(kc_odb_t *db, const char *office, const char *province,
                        const char *event_id, kc_odb_row_t *out);
/* The row that has office's seq: 0; KC_ENOTFOUND. */
int kc_odb_row_by_seq(kc_odb_t *db, const char *office, uint64_t seq, kc_odb_row_t *out);
/* Rows of office sent from seq_from to seq_to (inclusive) -> KC_ROW_SENT,
 * unless already final. */
int kc_odb_rows_sent(kc_odb_t *db, const char *office, uint64_t seq_from, uint64_t seq_to,
                     uint64_t now_s);
/* The final result of office's event seq: the row's state, reason, text; and,
 * for an accepted correction or retraction, the superseded_by/retracted of the
 * row it names (found through evids). KC_ENOTFOUND if no row has that seq. */
int kc_odb_row_result(kc_odb_t *db, const char *office, uint64_t seq, int reason,
                      const char *reason_name, const char *text, uint64_t now_s);
/* Many results of office in one transaction (as kc_odb_row_result each; a
 * seq no row has is skipped and counted in *n_unknown if not NULL). */
typedef struct {
    uint64_t seq;
    int reason;
    const char *reason_name;
    const char *text;
} kc_odb_result_t;
int kc_odb_row_results(kc_odb_t *db, const char *office, const kc_odb_result_t *res, size_t n,
                       uint64_t now_s, size_t *n_unknown);
/* Counts of office's rows by state (index KC_ROW_*; [0] unused). */
int kc_odb_row_counts(kc_odb_t *db, const char *office, uint64_t counts[KC_ROW_REJECTED + 1]);

#endif
