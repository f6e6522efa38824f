/* kc_office_db.c - the portal's LMDB (kc_office_db.h): accounts, sessions,
 * submissions and their rows.
 *
 * DESIGN
 * Small records, text values (see kc_office_db.h); every operation is one
 * transaction. Submissions and rows are JSON objects (jansson, compact,
 * keys sorted): a sub {"office","user","created","what","file","rows"}; a
 * row {"state","seq","source_row","event_id","province","activity","year",
 * "month","kind","fund","op","present","metrics":[10 integers],"note",
 * "corrects","reason","reason_name","text","superseded_by","retracted",
 * "updated"} - its sub and row numbers are its key. Text keeps the records
 * readable with mdb_dump and lets a later version add fields (a missing key
 * reads as 0 / ""). The index values (seqs, evids) are 12 bytes: the sub id
 * (u64 BE) and the row number (u32 BE). evids points at the row whose
 * event_id the centre accepted, else at the first row that sent it:
 * kc_odb_sub_add never overwrites an entry, an accepted result does (a
 * duplicate does not: the row counted is the earlier one), so a correction
 * made after a rejected first try and a later accepted one finds the
 * version the centre has. An accepted (or duplicate:
 * the centre has it) correction or retraction marks the row its `corrects`
 * names, in the result's transaction. kc_odb_row_results applies many
 * results in one transaction (one fsync for a whole Ack). The map is 64 MiB: a user record is under
 * 200 bytes and a session under 200, so a few hundred thousand of either fit; MDB_MAP_FULL is
 * reported as KC_ESTORE. MDB_NOTLS: transactions are short and may run on any of libmicrohttpd's
 * threads.
 */
#include "kc_office_db.h"

#include "kc_err.h"
#include "kc_log.h"
#include "kc_text.h"
#include "kcingest.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* kc_office.h's name rules (here, beside the database that keys on them). */
bool kc_office_id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > KC_OFFICE_ID_MAX)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
            return false;
    return true;
}

bool kc_office_user_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > KC_OFFICE_USER_MAX || s[0] == '.' || s[0] == '-')
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '-' || *s == '.'))
            return false;
    return true;
}

#define S_MAP_SIZE ((size_t)1 << 30)

struct kc_odb {
    MDB_env *env;
    MDB_dbi users, sessions;
    MDB_dbi subs, rows, seqs, evids, meta;
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
        rc = mdb_env_set_maxdbs(db->env, 8);
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
    if (rc == 0)
        rc = mdb_dbi_open(txn, "subs", MDB_CREATE, &db->subs);
    if (rc == 0)
        rc = mdb_dbi_open(txn, "rows", MDB_CREATE, &db->rows);
    if (rc == 0)
        rc = mdb_dbi_open(txn, "seqs", MDB_CREATE, &db->seqs);
    if (rc == 0)
        rc = mdb_dbi_open(txn, "evids", MDB_CREATE, &db->evids);
    if (rc == 0)
        rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &db->meta);
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

/* ---- submissions and rows ---- */

static void s_be64(uint8_t *b, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        b[i] = (uint8_t)v;
}

static uint64_t s_get64(const uint8_t *b)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | b[i];
    return v;
}

static void s_be32(uint8_t *b, uint32_t v)
{
    for (int i = 3; i >= 0; i--, v >>= 8)
        b[i] = (uint8_t)v;
}

static uint32_t s_get32(const uint8_t *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* "OFFICE\0" seq */
static size_t s_seq_key(uint8_t *buf, const char *office, uint64_t seq)
{
    size_t n = strlen(office);
    memcpy(buf, office, n + 1);
    s_be64(buf + n + 1, seq);
    return n + 9;
}

/* "OFFICE\0PROVINCE\0EVENT_ID"; 0 if too long */
static size_t s_evid_key(char *buf, size_t cap, const char *office, const char *province,
                         const char *event_id)
{
    int n = snprintf(buf, cap, "%s%c%s%c%s", office, '\0', province, '\0', event_id);
    return n > 0 && (size_t)n < cap && (size_t)n <= 511 ? (size_t)n : 0;
}

static void s_copy(char *dst, size_t cap, json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    snprintf(dst, cap, "%s", v ? v : "");
}

static int64_t s_int(json_t *o, const char *key)
{
    return (int64_t)json_integer_value(json_object_get(o, key));
}

static int s_put_json(MDB_txn *txn, MDB_dbi dbi, MDB_val *k, json_t *j)
{
    char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(j);
    if (!text)
        return KC_ENOMEM;
    MDB_val v = {strlen(text), text};
    int rc = mdb_put(txn, dbi, k, &v, 0);
    free(text);
    return s_mdb(rc, "writing a submission");
}

static json_t *s_parse_json(const MDB_val *v)
{
    json_error_t je;
    json_t *j = json_loadb(v->mv_data, v->mv_size, 0, &je);
    if (j && !json_is_object(j)) {
        json_decref(j);
        j = NULL;
    }
    return j;
}

/* JSON holds UTF-8 only: a string that is not (a refused event's text) is
 * kept in its display form (bad bytes as \xNN), cut at a character. */
static void s_clean(char *s, size_t cap)
{
    size_t n = strlen(s);
    if (kc_text_utf8_valid(s, n))
        return;
    char tmp[KC_TEXT_SHOW_MAX(1024)];
    kc_text_shows(s, tmp, sizeof tmp);
    size_t m = strlen(tmp);
    if (m >= cap)
        m = cap - 1;
    memcpy(s, tmp, m);
    s[m] = '\0';
    s[kc_text_utf8_bad_at(s, m)] = '\0';
}

static json_t *s_row_json(const kc_odb_row_t *row)
{
    kc_odb_row_t c = *row, *r = &c;
    s_clean(c.event_id, sizeof c.event_id);
    s_clean(c.province, sizeof c.province);
    s_clean(c.activity, sizeof c.activity);
    s_clean(c.note, sizeof c.note);
    s_clean(c.corrects, sizeof c.corrects);
    s_clean(c.reason_name, sizeof c.reason_name);
    s_clean(c.text, sizeof c.text);
    s_clean(c.superseded_by, sizeof c.superseded_by);
    json_t *m = json_array();
    for (int i = 0; i < 10; i++)
        json_array_append_new(m, json_integer(r->metrics[i]));
    return json_pack("{si,sI,sI,ss,ss,ss,si,si,si,si,si,sI,so,ss,ss,si,ss,ss,ss,sb,sI}", "state",
                     r->state, "seq", (json_int_t)r->seq, "source_row", (json_int_t)r->source_row,
                     "event_id", r->event_id, "province", r->province, "activity", r->activity,
                     "year", r->year, "month", r->month, "kind", r->kind, "fund", r->fund, "op",
                     r->op, "present", (json_int_t)r->present, "metrics", m, "note", r->note,
                     "corrects", r->corrects, "reason", r->reason, "reason_name", r->reason_name,
                     "text", r->text, "superseded_by", r->superseded_by, "retracted", r->retracted,
                     "updated", (json_int_t)r->updated_s);
}

static int s_row_parse(const MDB_val *k, const MDB_val *v, kc_odb_row_t *r)
{
    memset(r, 0, sizeof *r);
    if (k->mv_size != 12)
        return KC_EFORMAT;
    r->sub = s_get64(k->mv_data);
    r->row = s_get32((const uint8_t *)k->mv_data + 8);
    json_t *j = s_parse_json(v);
    if (!j)
        return KC_EFORMAT;
    r->state = (int)s_int(j, "state");
    r->seq = (uint64_t)s_int(j, "seq");
    r->source_row = (long)s_int(j, "source_row");
    s_copy(r->event_id, sizeof r->event_id, j, "event_id");
    s_copy(r->province, sizeof r->province, j, "province");
    s_copy(r->activity, sizeof r->activity, j, "activity");
    r->year = (int)s_int(j, "year");
    r->month = (int)s_int(j, "month");
    r->kind = (int)s_int(j, "kind");
    r->fund = (int)s_int(j, "fund");
    r->op = (int)s_int(j, "op");
    r->present = (uint32_t)s_int(j, "present");
    json_t *m = json_object_get(j, "metrics");
    for (size_t i = 0; i < 10 && i < json_array_size(m); i++)
        r->metrics[i] = (int64_t)json_integer_value(json_array_get(m, i));
    s_copy(r->note, sizeof r->note, j, "note");
    s_copy(r->corrects, sizeof r->corrects, j, "corrects");
    json_t *reason = json_object_get(j, "reason");
    r->reason = reason ? (int)json_integer_value(reason) : -1;
    s_copy(r->reason_name, sizeof r->reason_name, j, "reason_name");
    s_copy(r->text, sizeof r->text, j, "text");
    s_copy(r->superseded_by, sizeof r->superseded_by, j, "superseded_by");
    r->retracted = json_is_true(json_object_get(j, "retracted"));
    r->updated_s = (uint64_t)s_int(j, "updated");
    json_decref(j);
    return 0;
}

static int s_sub_parse(const MDB_val *k, const MDB_val *v, kc_odb_sub_t *s)
{
    memset(s, 0, sizeof *s);
    if (k->mv_size != 8)
        return KC_EFORMAT;
    s->id = s_get64(k->mv_data);
    json_t *j = s_parse_json(v);
    if (!j)
        return KC_EFORMAT;
    s_copy(s->office, sizeof s->office, j, "office");
    s_copy(s->user, sizeof s->user, j, "user");
    s->created_s = (uint64_t)s_int(j, "created");
    s_copy(s->what, sizeof s->what, j, "what");
    s_copy(s->file, sizeof s->file, j, "file");
    s->rows = (uint32_t)s_int(j, "rows");
    json_decref(j);
    return 0;
}

static int s_row_key_put(MDB_txn *txn, kc_odb_t *db, const kc_odb_row_t *r)
{
    uint8_t key[12];
    s_be64(key, r->sub);
    s_be32(key + 8, r->row);
    MDB_val k = {12, key};
    json_t *j = s_row_json(r);
    return j ? s_put_json(txn, db->rows, &k, j) : KC_ENOMEM;
}

static int s_row_read(MDB_txn *txn, kc_odb_t *db, const uint8_t ref[12], kc_odb_row_t *out)
{
    MDB_val k = {12, (void *)ref}, v;
    int rc = s_mdb(mdb_get(txn, db->rows, &k, &v), "reading a row");
    return rc == 0 ? s_row_parse(&k, &v, out) : rc;
}

int kc_odb_sub_add(kc_odb_t *db, kc_odb_sub_t *sub, kc_odb_row_t *rows, uint32_t n)
{
    if (!sub->office[0] || strlen(sub->office) > KC_OFFICE_ID_MAX)
        return KC_EINVAL;
    MDB_txn *txn;
    int rc = s_mdb(mdb_txn_begin(db->env, NULL, 0, &txn), "begin");
    if (rc != 0)
        return rc;
    MDB_val mk = {8, "next_sub"}, mv;
    uint64_t id = 1;
    rc = mdb_get(txn, db->meta, &mk, &mv);
    if (rc == 0 && mv.mv_size == 8)
        id = s_get64(mv.mv_data);
    rc = rc == MDB_NOTFOUND ? 0 : s_mdb(rc, "reading next_sub");
    uint8_t next[8];
    s_be64(next, id + 1);
    mv.mv_size = 8;
    mv.mv_data = next;
    if (rc == 0)
        rc = s_mdb(mdb_put(txn, db->meta, &mk, &mv, 0), "writing next_sub");
    sub->id = id;
    sub->rows = n;
    if (rc == 0) {
        uint8_t key[8];
        s_be64(key, id);
        MDB_val k = {8, key};
        s_clean(sub->file, sizeof sub->file);
        s_clean(sub->what, sizeof sub->what);
        json_t *j = json_pack("{ss,ss,sI,ss,ss,sI}", "office", sub->office, "user", sub->user,
                              "created", (json_int_t)sub->created_s, "what", sub->what, "file",
                              sub->file, "rows", (json_int_t)n);
        rc = j ? s_put_json(txn, db->subs, &k, j) : KC_ENOMEM;
    }
    for (uint32_t i = 0; rc == 0 && i < n; i++) {
        kc_odb_row_t *r = &rows[i];
        r->sub = id;
        r->row = i;
        if ((rc = s_row_key_put(txn, db, r)) != 0)
            break;
        uint8_t ref[12];
        s_be64(ref, id);
        s_be32(ref + 8, i);
        MDB_val rv = {12, ref};
        if (r->seq) {
            uint8_t sk[KC_OFFICE_ID_MAX + 9];
            MDB_val k = {s_seq_key(sk, sub->office, r->seq), sk};
            rc = s_mdb(mdb_put(txn, db->seqs, &k, &rv, 0), "writing a seq");
        }
        char ek[600];
        size_t en = s_evid_key(ek, sizeof ek, sub->office, r->province, r->event_id);
        if (rc == 0 && en) {
            MDB_val k = {en, ek};
            int prc = mdb_put(txn, db->evids, &k, &rv, MDB_NOOVERWRITE);
            rc = prc == MDB_KEYEXIST ? 0 : s_mdb(prc, "writing an event_id");
        }
    }
    if (rc == 0)
        return s_mdb(mdb_txn_commit(txn), "commit");
    mdb_txn_abort(txn);
    return rc;
}

int kc_odb_sub_get(kc_odb_t *db, uint64_t id, kc_odb_sub_t *out)
{
    MDB_txn *txn;
    int rc = s_mdb(mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn), "begin");
    if (rc != 0)
        return rc;
    uint8_t key[8];
    s_be64(key, id);
    MDB_val k = {8, key}, v;
    rc = s_mdb(mdb_get(txn, db->subs, &k, &v), "reading a submission");
    if (rc == 0)
        rc = s_sub_parse(&k, &v, out);
    mdb_txn_abort(txn);
    return rc;
}

int kc_odb_sub_each(kc_odb_t *db, const char *office, size_t limit,
                    void (*fn)(const kc_odb_sub_t *s, void *ctx), void *ctx)
{
    MDB_txn *txn;
    int rc = s_mdb(mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn), "begin");
    if (rc != 0)
        return rc;
    MDB_cursor *cur;
    rc = mdb_cursor_open(txn, db->subs, &cur);
    if (rc != 0) {
        mdb_txn_abort(txn);
        return s_mdb(rc, "opening a cursor");
    }
    MDB_val k, v;
    size_t seen = 0;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_LAST); rc == 0 && (!limit || seen < limit);
         rc = mdb_cursor_get(cur, &k, &v, MDB_PREV)) {
        kc_odb_sub_t s;
        if (s_sub_parse(&k, &v, &s) != 0 || (office && strcmp(office, s.office) != 0))
            continue;
        fn(&s, ctx);
        seen++;
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : s_mdb(rc, "listing submissions");
}

int kc_odb_row_get(kc_odb_t *db, uint64_t sub, uint32_t row, kc_odb_row_t *out)
{
    MDB_txn *txn;
    int rc = s_mdb(mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn), "begin");
    if (rc != 0)
        return rc;
    uint8_t ref[12];
    s_be64(ref, sub);
    s_be32(ref + 8, row);
    rc = s_row_read(txn, db, ref, out);
    mdb_txn_abort(txn);
    return rc;
}

/* fn for each row of sub inside txn; fn returns nonzero to stop. */
static int s_rows_of(MDB_txn *txn, kc_odb_t *db, uint64_t sub,
                     int (*fn)(const kc_odb_row_t *r, void *ctx), void *ctx)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, db->rows, &cur);
    if (rc != 0)
        return s_mdb(rc, "opening a cursor");
    uint8_t key[12];
    s_be64(key, sub);
    s_be32(key + 8, 0);
    MDB_val k = {12, key}, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != 12 || s_get64(k.mv_data) != sub)
            break;
        kc_odb_row_t r;
        if (s_row_parse(&k, &v, &r) == 0 && fn(&r, ctx))
            break;
    }
    mdb_cursor_close(cur);
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : s_mdb(rc, "listing rows");
}

typedef struct {
    void (*fn)(const kc_odb_row_t *r, void *ctx);
    void *ctx;
} s_row_cb_t;

static int s_row_cb(const kc_odb_row_t *r, void *ctx)
{
    s_row_cb_t *c = ctx;
    c->fn(r, c->ctx);
    return 0;
}

int kc_odb_row_each(kc_odb_t *db, uint64_t sub, void (*fn)(const kc_odb_row_t *r, void *ctx),
                    void *ctx)
{
    MDB_txn *txn;
    int rc = s_mdb(mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn), "begin");
    if (rc != 0)
        return rc;
    s_row_cb_t c = {fn, ctx};
    rc = s_rows_of(txn, db, sub, s_row_cb, &c);
    mdb_txn_abort(txn);
    return rc;
}

int kc_odb_row_by_event(kc_odb_t *db, const char *office, const char *province,
                        const char *event_id, kc_odb_row_t *out)
{
    char ek[600];
    size_t en = s_evid_key(ek, sizeof ek, office, province, event_id);
    if (!en)
        return KC_ENOTFOUND;
    MDB_txn *txn;
    int rc = s_mdb(mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn), "begin");
    if (rc != 0)
        return rc;
    MDB_val k = {en, ek}, v;
    rc = s_mdb(mdb_get(txn, db->evids, &k, &v), "reading an event_id");
    if (rc == 0)
        rc = v.mv_size == 12 ? s_row_read(txn, db, v.mv_data, out) : KC_EFORMAT;
    mdb_txn_abort(txn);
    return rc;
}

/* The row of office's seq: its reference (12 bytes) and contents. */
static int s_row_by_seq(MDB_txn *txn, kc_odb_t *db, const char *office, uint64_t seq,
                        uint8_t ref[12], kc_odb_row_t *out)
{
    uint8_t sk[KC_OFFICE_ID_MAX + 9];
    if (strlen(office) > KC_OFFICE_ID_MAX)
        return KC_ENOTFOUND;
    MDB_val k = {s_seq_key(sk, office, seq), sk}, v;
    int rc = s_mdb(mdb_get(txn, db->seqs, &k, &v), "reading a seq");
    if (rc != 0)
        return rc;
    if (v.mv_size != 12)
        return KC_EFORMAT;
    memcpy(ref, v.mv_data, 12);
    return s_row_read(txn, db, ref, out);
}

int kc_odb_row_by_seq(kc_odb_t *db, const char *office, uint64_t seq, kc_odb_row_t *out)
{
    MDB_txn *txn;
    int rc = s_mdb(mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn), "begin");
    if (rc != 0)
        return rc;
    uint8_t ref[12];
    rc = s_row_by_seq(txn, db, office, seq, ref, out);
    mdb_txn_abort(txn);
    return rc;
}

int kc_odb_rows_sent(kc_odb_t *db, const char *office, uint64_t seq_from, uint64_t seq_to,
                     uint64_t now_s)
{
    MDB_txn *txn;
    int rc = s_mdb(mdb_txn_begin(db->env, NULL, 0, &txn), "begin");
    if (rc != 0)
        return rc;
    bool changed = false;
    for (uint64_t seq = seq_from; rc == 0 && seq <= seq_to && seq != 0; seq++) {
        uint8_t ref[12];
        kc_odb_row_t r;
        int grc = s_row_by_seq(txn, db, office, seq, ref, &r);
        if (grc == KC_ENOTFOUND)
            continue; /* not (yet) recorded: see kc_office_send.c */
        if ((rc = grc) != 0)
            break;
        if (r.state != KC_ROW_SPOOLED)
            continue;
        r.state = KC_ROW_SENT;
        r.updated_s = now_s;
        rc = s_row_key_put(txn, db, &r);
        changed = true;
    }
    if (rc == 0 && changed)
        return s_mdb(mdb_txn_commit(txn), "commit");
    mdb_txn_abort(txn);
    return rc;
}

/* One result inside txn; *found false if no row has that seq. */
static int s_result(MDB_txn *txn, kc_odb_t *db, const char *office, const kc_odb_result_t *res,
                    uint64_t now_s, bool *found)
{
    uint8_t ref[12];
    kc_odb_row_t r;
    *found = false;
    int rc = s_row_by_seq(txn, db, office, res->seq, ref, &r);
    if (rc == KC_ENOTFOUND)
        return 0;
    if (rc != 0)
        return rc;
    *found = true;
    r.state = res->reason == KCI_ACCEPTED    ? KC_ROW_ACCEPTED
              : res->reason == KCI_DUPLICATE ? KC_ROW_DUPLICATE
                                             : KC_ROW_REJECTED;
    r.reason = res->reason;
    snprintf(r.reason_name, sizeof r.reason_name, "%s", res->reason_name ? res->reason_name : "");
    snprintf(r.text, sizeof r.text, "%s", res->text ? res->text : "");
    r.updated_s = now_s;
    if ((rc = s_row_key_put(txn, db, &r)) != 0 || r.state == KC_ROW_REJECTED)
        return rc;
    /* the centre counted this event_id from this row */
    char ek[600];
    size_t en = s_evid_key(ek, sizeof ek, office, r.province, r.event_id);
    if (en && r.state == KC_ROW_ACCEPTED) {
        MDB_val k = {en, ek}, v = {12, ref};
        if ((rc = s_mdb(mdb_put(txn, db->evids, &k, &v, 0), "writing an event_id")) != 0)
            return rc;
    }
    if ((r.op != KCI_OP_CORRECTION && r.op != KCI_OP_RETRACTION) || !r.corrects[0])
        return 0;
    en = s_evid_key(ek, sizeof ek, office, r.province, r.corrects);
    MDB_val k = {en, ek}, v;
    if (!en || mdb_get(txn, db->evids, &k, &v) != 0 || v.mv_size != 12)
        return 0; /* a version this portal did not send */
    kc_odb_row_t t;
    uint8_t tref[12];
    memcpy(tref, v.mv_data, 12);
    if ((rc = s_row_read(txn, db, tref, &t)) != 0)
        return rc == KC_ENOTFOUND ? 0 : rc;
    snprintf(t.superseded_by, sizeof t.superseded_by, "%s", r.event_id);
    t.retracted = r.op == KCI_OP_RETRACTION;
    t.updated_s = now_s;
    return s_row_key_put(txn, db, &t);
}

int kc_odb_row_results(kc_odb_t *db, const char *office, const kc_odb_result_t *res, size_t n,
                       uint64_t now_s, size_t *n_unknown)
{
    if (n_unknown)
        *n_unknown = 0;
    MDB_txn *txn;
    int rc = s_mdb(mdb_txn_begin(db->env, NULL, 0, &txn), "begin");
    if (rc != 0)
        return rc;
    size_t found_n = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        bool found;
        rc = s_result(txn, db, office, &res[i], now_s, &found);
        found_n += found;
        if (rc == 0 && !found && n_unknown)
            (*n_unknown)++;
    }
    if (rc == 0 && found_n)
        return s_mdb(mdb_txn_commit(txn), "commit");
    mdb_txn_abort(txn);
    return rc;
}

int kc_odb_row_result(kc_odb_t *db, const char *office, uint64_t seq, int reason,
                      const char *reason_name, const char *text, uint64_t now_s)
{
    kc_odb_result_t r = {seq, reason, reason_name, text};
    size_t unknown = 0;
    int rc = kc_odb_row_results(db, office, &r, 1, now_s, &unknown);
    return rc == 0 && unknown ? KC_ENOTFOUND : rc;
}

typedef struct {
    uint64_t *counts;
} s_count_t;

static int s_count_row(const kc_odb_row_t *r, void *ctx)
{
    s_count_t *c = ctx;
    if (r->state >= KC_ROW_SPOOLED && r->state <= KC_ROW_REJECTED)
        c->counts[r->state]++;
    return 0;
}

int kc_odb_row_counts(kc_odb_t *db, const char *office, uint64_t counts[KC_ROW_REJECTED + 1])
{
    memset(counts, 0, sizeof(uint64_t) * (KC_ROW_REJECTED + 1));
    MDB_txn *txn;
    int rc = s_mdb(mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn), "begin");
    if (rc != 0)
        return rc;
    MDB_cursor *cur;
    rc = mdb_cursor_open(txn, db->subs, &cur);
    if (rc != 0) {
        mdb_txn_abort(txn);
        return s_mdb(rc, "opening a cursor");
    }
    s_count_t c = {counts};
    MDB_val k, v;
    int crc;
    for (crc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); crc == 0 && rc == 0;
         crc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        kc_odb_sub_t s;
        if (s_sub_parse(&k, &v, &s) == 0 && strcmp(s.office, office) == 0)
            rc = s_rows_of(txn, db, s.id, s_count_row, &c);
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    if (rc == 0 && crc != MDB_NOTFOUND)
        rc = s_mdb(crc, "counting rows");
    return rc;
}
