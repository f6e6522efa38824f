/* kc_office_db.c - the portal's LMDB (kc_office_db.h): accounts, sessions.
 *
 * DESIGN
 * Small records, text values (see kc_office_db.h); every operation is one
 * transaction. The map is 64 MiB: a user record is under 200 bytes and a
 * session under 200, so a few hundred thousand of either fit; MDB_MAP_FULL
 * is reported as KC_ESTORE. MDB_NOTLS: transactions are short and may run
 * on any of libmicrohttpd's threads.
 */
#include "kc_office_db.h"

#include "kc_err.h"
#include "kc_log.h"

#include <errno.h>
#include <inttypes.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define S_MAP_SIZE ((size_t)64 << 20)

struct kc_odb {
    MDB_env *env;
    MDB_dbi users, sessions;
};

static int s_mdb(int rc, const char *what)
{
    if (rc == 0)
        return 0;
    if (rc == MDB_NOTFOUND)
        return KC_ENOTFOUND;
    kc_error("KC-OFF-020 office database: %s: %s", what, mdb_strerror(rc));
    return KC_ESTORE;
}

int kc_odb_open(kc_odb_t **out, const char *dir)
{
    *out = NULL;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        kc_error("KC-OFF-021 cannot create the data directory %s: %s", dir, strerror(errno));
        return KC_EIO;
    }
    kc_odb_t *db = calloc(1, sizeof *db);
    if (!db)
        return KC_ENOMEM;
    int rc = mdb_env_create(&db->env);
    if (rc == 0)
        rc = mdb_env_set_maxdbs(db->env, 4);
    if (rc == 0)
        rc = mdb_env_set_mapsize(db->env, S_MAP_SIZE);
    if (rc == 0)
        rc = mdb_env_open(db->env, dir, MDB_NOTLS, 0600);
    MDB_txn *txn = NULL;
    if (rc == 0)
        rc = mdb_txn_begin(db->env, NULL, 0, &txn);
    if (rc == 0)
        rc = mdb_dbi_open(txn, "users", MDB_CREATE, &db->users);
    if (rc == 0)
        rc = mdb_dbi_open(txn, "sessions", MDB_CREATE, &db->sessions);
    if (rc == 0) {
        rc = mdb_txn_commit(txn);
        txn = NULL;
    }
    if (txn)
        mdb_txn_abort(txn);
    if (rc != 0) {
        kc_error("KC-OFF-021 cannot open the office database in %s: %s", dir, mdb_strerror(rc));
        if (db->env)
            mdb_env_close(db->env);
        free(db);
        return KC_ESTORE;
    }
    *out = db;
    return 0;
}

void kc_odb_close(kc_odb_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    mdb_env_close((*self_p)->env);
    free(*self_p);
    *self_p = NULL;
}

/* ---- users ---- */

static size_t s_user_key(char *buf, size_t cap, const char *office, const char *user)
{
    int n = snprintf(buf, cap, "%s%c%s", office, '\0', user);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

static int s_user_parse(const MDB_val *k, const MDB_val *v, kc_odb_user_t *u)
{
    memset(u, 0, sizeof *u);
    const char *kp = k->mv_data;
    const char *nul = memchr(kp, '\0', k->mv_size);
    if (!nul || (size_t)(nul - kp) > KC_OFFICE_ID_MAX ||
        k->mv_size - (size_t)(nul - kp) - 1 > KC_OFFICE_USER_MAX)
        return KC_EFORMAT;
    memcpy(u->office, kp, (size_t)(nul - kp));
    memcpy(u->user, nul + 1, k->mv_size - (size_t)(nul - kp) - 1);
    char val[256];
    if (v->mv_size >= sizeof val)
        return KC_EFORMAT;
    memcpy(val, v->mv_data, v->mv_size);
    val[v->mv_size] = '\0';
    char flag;
    unsigned long long created;
    int off = 0;
    if (sscanf(val, "%c %llu %n", &flag, &created, &off) != 2 || off == 0 ||
        (flag != 'E' && flag != 'D') || strlen(val + off) >= sizeof u->hash)
        return KC_EFORMAT;
    u->disabled = flag == 'D';
    u->created_s = created;
    strcpy(u->hash, val + off);
    return 0;
}

static int s_user_write(MDB_txn *txn, kc_odb_t *db, const MDB_val *k, const kc_odb_user_t *u,
                        unsigned flags)
{
    char val[256];
    int n = snprintf(val, sizeof val, "%c %" PRIu64 " %s", u->disabled ? 'D' : 'E', u->created_s,
                     u->hash);
    if (n < 0 || (size_t)n >= sizeof val)
        return KC_EINVAL;
    MDB_val v = {(size_t)n, val};
    int rc = mdb_put(txn, db->users, (MDB_val *)k, &v, flags);
    if (rc == MDB_KEYEXIST)
        return KC_EBUSY;
    return s_mdb(rc, "writing a user");
}

/* Delete every session of office/user (a scan: sessions are few). */
static int s_end_sessions(MDB_txn *txn, kc_odb_t *db, const char *office, const char *user)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, db->sessions, &cur);
    if (rc != 0)
        return s_mdb(rc, "opening a cursor");
    char prefix[KC_OFFICE_ID_MAX + KC_OFFICE_USER_MAX + 3];
    int pn = snprintf(prefix, sizeof prefix, "%s\t%s\t", office, user);
    MDB_val k, v;
    int ended = 0;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (v.mv_size > (size_t)pn && memcmp(v.mv_data, prefix, (size_t)pn) == 0) {
            rc = mdb_cursor_del(cur, 0);
            if (rc != 0)
                break;
            ended++;
        }
    }
    mdb_cursor_close(cur);
    if (ended)
        kc_info("KC-OFF-022 ended %d session(s) of %s/%s", ended, office, user);
    return rc == MDB_NOTFOUND ? 0 : s_mdb(rc, "ending sessions");
}

int kc_odb_user_add(kc_odb_t *db, const char *office, const char *user, const char *hash)
{
    char key[128];
    size_t kn = s_user_key(key, sizeof key, office, user);
    if (!kn || strlen(hash) >= KC_ODB_HASH_MAX)
        return KC_EINVAL;
    kc_odb_user_t u = {.created_s = (uint64_t)time(NULL)};
    strcpy(u.hash, hash);
    MDB_txn *txn;
    int rc = s_mdb(mdb_txn_begin(db->env, NULL, 0, &txn), "begin");
    if (rc != 0)
        return rc;
    MDB_val k = {kn, key};
    rc = s_user_write(txn, db, &k, &u, MDB_NOOVERWRITE);
    if (rc == 0)
        return s_mdb(mdb_txn_commit(txn), "commit");
    mdb_txn_abort(txn);
    return rc;
}

/* Read-modify-write of one user; hash or disabled (-1: unchanged). */
static int s_user_update(kc_odb_t *db, const char *office, const char *user, const char *hash,
                         int disabled)
{
    char key[128];
    size_t kn = s_user_key(key, sizeof key, office, user);
    if (!kn || (hash && strlen(hash) >= KC_ODB_HASH_MAX))
        return KC_EINVAL;
    MDB_txn *txn;
    int rc = s_mdb(mdb_txn_begin(db->env, NULL, 0, &txn), "begin");
    if (rc != 0)
        return rc;
    MDB_val k = {kn, key}, v;
    kc_odb_user_t u;
    rc = s_mdb(mdb_get(txn, db->users, &k, &v), "reading a user");
    if (rc == 0)
        rc = s_user_parse(&k, &v, &u);
    if (rc == 0) {
        if (hash)
            strcpy(u.hash, hash);
        if (disabled >= 0)
            u.disabled = disabled;
        rc = s_user_write(txn, db, &k, &u, 0);
    }
    if (rc == 0 && (hash || disabled == 1))
        rc = s_end_sessions(txn, db, office, user);
    if (rc == 0)
        return s_mdb(mdb_txn_commit(txn), "commit");
    mdb_txn_abort(txn);
    return rc;
}

int kc_odb_user_passwd(kc_odb_t *db, const char *office, const char *user, const char *hash)
{
    return s_user_update(db, office, user, hash, -1);
}

int kc_odb_user_set_disabled(kc_odb_t *db, const char *office, const char *user, bool disabled)
{
    return s_user_update(db, office, user, NULL, disabled ? 1 : 0);
}

static int s_user_get_txn(MDB_txn *txn, kc_odb_t *db, const char *office, const char *user,
                          kc_odb_user_t *out)
{
    char key[128];
    size_t kn = s_user_key(key, sizeof key, office, user);
    if (!kn)
        return KC_ENOTFOUND;
    MDB_val k = {kn, key}, v;
    int rc = s_mdb(mdb_get(txn, db->users, &k, &v), "reading a user");
    return rc == 0 ? s_user_parse(&k, &v, out) : rc;
}

int kc_odb_user_get(kc_odb_t *db, const char *office, const char *user, kc_odb_user_t *out)
{
    MDB_txn *txn;
    int rc = s_mdb(mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn), "begin");
    if (rc != 0)
        return rc;
    rc = s_user_get_txn(txn, db, office, user, out);
    mdb_txn_abort(txn);
    return rc;
}

int kc_odb_user_each(kc_odb_t *db, const char *office,
                     void (*fn)(const kc_odb_user_t *u, void *ctx), void *ctx)
{
    MDB_txn *txn;
    int rc = s_mdb(mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn), "begin");
    if (rc != 0)
        return rc;
    MDB_cursor *cur;
    rc = mdb_cursor_open(txn, db->users, &cur);
    if (rc != 0) {
        mdb_txn_abort(txn);
        return s_mdb(rc, "opening a cursor");
    }
    MDB_val k, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        kc_odb_user_t u;
        if (s_user_parse(&k, &v, &u) != 0)
            continue;
        if (!office || strcmp(office, u.office) == 0)
            fn(&u, ctx);
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return rc == MDB_NOTFOUND ? 0 : s_mdb(rc, "listing users");
}

/* ---- sessions ---- */

static int s_session_parse(const MDB_val *v, kc_odb_session_t *s)
{
    memset(s, 0, sizeof *s);
    char val[256];
    if (v->mv_size >= sizeof val)
        return KC_EFORMAT;
    memcpy(val, v->mv_data, v->mv_size);
    val[v->mv_size] = '\0';
    char *save = NULL, *office = strtok_r(val, "\t", &save), *user = strtok_r(NULL, "\t", &save),
         *exp = strtok_r(NULL, "\t", &save), *csrf = strtok_r(NULL, "\t", &save);
    if (!office || !user || !exp || !csrf || strlen(office) > KC_OFFICE_ID_MAX ||
        strlen(user) > KC_OFFICE_USER_MAX || strlen(csrf) != KC_ODB_CSRF_HEX)
        return KC_EFORMAT;
    strcpy(s->office, office);
    strcpy(s->user, user);
    strcpy(s->csrf, csrf);
    s->expires_s = strtoull(exp, NULL, 10);
    return 0;
}

int kc_odb_session_put(kc_odb_t *db, const uint8_t key[32], const kc_odb_session_t *s,
                       uint64_t now_s)
{
    char val[256];
    int n = snprintf(val, sizeof val, "%s\t%s\t%" PRIu64 "\t%s", s->office, s->user, s->expires_s,
                     s->csrf);
    if (n < 0 || (size_t)n >= sizeof val)
        return KC_EINVAL;
    MDB_txn *txn;
    int rc = s_mdb(mdb_txn_begin(db->env, NULL, 0, &txn), "begin");
    if (rc != 0)
        return rc;
    /* sweep the expired ones */
    MDB_cursor *cur;
    MDB_val k, v;
    rc = mdb_cursor_open(txn, db->sessions, &cur);
    if (rc == 0) {
        for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
             rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            kc_odb_session_t old;
            if (s_session_parse(&v, &old) != 0 || old.expires_s <= now_s)
                if ((rc = mdb_cursor_del(cur, 0)) != 0)
                    break;
        }
        mdb_cursor_close(cur);
        if (rc == MDB_NOTFOUND)
            rc = 0;
    }
    k.mv_size = 32;
    k.mv_data = (void *)key;
    v.mv_size = (size_t)n;
    v.mv_data = val;
    if (rc == 0)
        rc = mdb_put(txn, db->sessions, &k, &v, 0);
    if (rc == 0)
        return s_mdb(mdb_txn_commit(txn), "commit");
    mdb_txn_abort(txn);
    return s_mdb(rc, "writing a session");
}

int kc_odb_session_get(kc_odb_t *db, const uint8_t key[32], uint64_t now_s, kc_odb_session_t *out)
{
    MDB_txn *txn;
    int rc = s_mdb(mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn), "begin");
    if (rc != 0)
        return rc;
    MDB_val k = {32, (void *)key}, v;
    rc = s_mdb(mdb_get(txn, db->sessions, &k, &v), "reading a session");
    bool stale = false;
    if (rc == 0 && s_session_parse(&v, out) != 0)
        rc = KC_ENOTFOUND, stale = true;
    kc_odb_user_t u;
    if (rc == 0 && out->expires_s <= now_s)
        rc = KC_ENOTFOUND, stale = true;
    if (rc == 0 && (s_user_get_txn(txn, db, out->office, out->user, &u) != 0 || u.disabled))
        rc = KC_ENOTFOUND, stale = true;
    mdb_txn_abort(txn);
    if (stale)
        kc_odb_session_del(db, key);
    return rc;
}

int kc_odb_session_del(kc_odb_t *db, const uint8_t key[32])
{
    MDB_txn *txn;
    int rc = s_mdb(mdb_txn_begin(db->env, NULL, 0, &txn), "begin");
    if (rc != 0)
        return rc;
    MDB_val k = {32, (void *)key};
    rc = mdb_del(txn, db->sessions, &k, NULL);
    if (rc == 0)
        return s_mdb(mdb_txn_commit(txn), "commit");
    mdb_txn_abort(txn);
    return rc == MDB_NOTFOUND ? KC_ENOTFOUND : s_mdb(rc, "deleting a session");
}
