/* audit_fixture.c - the kc-audit end-to-end fixture (see audit_fixture.h). */
#include "audit_fixture.h"

#include "audit_test_util.h"
#include "kc_merkle.h"

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cmocka.h>

static t_audit_fx_t *s_fx;

int t_audit_setup(void **state)
{
    t_audit_fx_t *f = calloc(1, sizeof *f);
    kc_test_dir_make(&f->dir);
    kc_store_t *s = NULL;
    if (kc_store_open(&s, f->dir.store, NULL) != 0)
        return -1;
    kc_store_set_head_interval(s, 0);
    if (t_fill(s, 0, T_AUDIT_ENTRIES, T_AUDIT_GROUP) != 0)
        return -1;
    uint8_t pk[32];
    if (kc_store_public_key(s, pk) != 0)
        return -1;
    kc_merkle_hex(pk, 32, f->pk_hex);
    kc_store_close(&s);
    s_fx = f;
    *state = f;
    return 0;
}

int t_audit_teardown(void **state)
{
    t_audit_fx_t *f = *state;
    kc_test_dir_remove(&f->dir);
    free(f);
    s_fx = NULL;
    return 0;
}

int t_audit_run(char *out, size_t cap, const char *fmt, ...)
{
    const char *bin = getenv("KC_BIN_DIR");
    char args[4096], cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "%s/kc-audit %s 2>&1", bin ? bin : ".", args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

void t_copy_file(const char *from, const char *to)
{
    int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(in >= 0 && out >= 0);
    char buf[65536];
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0)
        assert_int_equal(write(out, buf, (size_t)n), n);
    close(in);
    close(out);
}

void t_audit_copy(char *out, size_t cap)
{
    assert_non_null(s_fx);
    snprintf(out, cap, "%s/copy%d", s_fx->dir.root, s_fx->copies++);
    assert_int_equal(mkdir(out, 0700), 0);
    char a[PATH_MAX + 64], b[PATH_MAX + 64];
    const char *files[] = {"data.mdb", "audit.key"};
    for (int i = 0; i < 2; i++) {
        snprintf(a, sizeof a, "%s/%s", s_fx->dir.store, files[i]);
        snprintf(b, sizeof b, "%s/%s", out, files[i]);
        t_copy_file(a, b);
    }
}

/* ---- raw LMDB ---- */

void t_raw_open(t_raw_t *r, const char *dir)
{
    assert_int_equal(mdb_env_create(&r->env), 0);
    assert_int_equal(mdb_env_set_maxdbs(r->env, 16), 0);
    assert_int_equal(mdb_env_open(r->env, dir, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(r->env, NULL, 0, &r->txn), 0);
    assert_int_equal(mdb_dbi_open(r->txn, "log", 0, &r->log), 0);
    assert_int_equal(mdb_dbi_open(r->txn, "nodes", 0, &r->nodes), 0);
    assert_int_equal(mdb_dbi_open(r->txn, "heads", 0, &r->heads), 0);
}

void t_raw_close(t_raw_t *r)
{
    assert_int_equal(mdb_txn_commit(r->txn), 0);
    mdb_env_close(r->env);
}

void t_raw_key(uint8_t k[8], uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        k[i] = (uint8_t)v;
}

uint8_t *t_raw_get(t_raw_t *r, MDB_dbi dbi, uint64_t key, size_t *len)
{
    uint8_t kb[8];
    t_raw_key(kb, key);
    MDB_val k = {8, kb}, v;
    assert_int_equal(mdb_get(r->txn, dbi, &k, &v), 0);
    uint8_t *p = malloc(v.mv_size);
    memcpy(p, v.mv_data, v.mv_size);
    *len = v.mv_size;
    return p;
}

void t_raw_put(t_raw_t *r, MDB_dbi dbi, uint64_t key, const void *data, size_t len)
{
    uint8_t kb[8];
    t_raw_key(kb, key);
    MDB_val k = {8, kb}, v = {len, (void *)data};
    assert_int_equal(mdb_put(r->txn, dbi, &k, &v, 0), 0);
}

void t_raw_del(t_raw_t *r, MDB_dbi dbi, uint64_t key)
{
    uint8_t kb[8];
    t_raw_key(kb, key);
    MDB_val k = {8, kb};
    assert_int_equal(mdb_del(r->txn, dbi, &k, NULL), 0);
}
