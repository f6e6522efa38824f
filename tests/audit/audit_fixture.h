/* audit_fixture.h - the kc-audit end-to-end fixture: a pristine signed store,
 * copies of it to tamper with through raw LMDB, and kc-audit run on them.
 *
 * Shared by tests/audit/audit_tool_test.c and tests/store/leaves_test.c:
 * audit_fixture.c is compiled into each (their CMakeLists.txt), which link
 * kcstore, cmocka and LMDB. Every function below fails the running cmocka
 * test (an assert_*) on any error it does not return.
 */
#ifndef KC_AUDIT_FIXTURE_H
#define KC_AUDIT_FIXTURE_H

#include "../store/store_test_util.h"

#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>

#define T_AUDIT_ENTRIES 1000 /* entries of the pristine store: t_fill's, 0..999 */
#define T_AUDIT_GROUP   100  /* a head after every group: sizes 100, 200, ..., 1000 */

typedef struct {
    kc_test_dir_t dir; /* the pristine store */
    char pk_hex[65];   /* its public key, lowercase hex */
    int copies;        /* copies made so far (t_audit_copy) */
} t_audit_fx_t;

/* cmocka group setup and teardown: *state is a new t_audit_fx_t whose store
 * holds T_AUDIT_ENTRIES entries written in groups of T_AUDIT_GROUP with a head
 * after each group (setup returns -1 if it cannot build it); teardown removes
 * the directory (copies included) and frees it. One fixture at a time. */
int t_audit_setup(void **state);
int t_audit_teardown(void **state);

/* Run $KC_BIN_DIR/kc-audit (./kc-audit without it) with the printf-formatted
 * args; its stdout and stderr into out[cap] (NUL-terminated, cut at cap - 1).
 * Returns its exit code, 128 if it did not exit. */
int t_audit_run(char *out, size_t cap, const char *fmt, ...);

/* Copy the file `from` to `to` (created or truncated, mode 0600). */
void t_copy_file(const char *from, const char *to);

/* A copy of the setup's pristine store (data.mdb, audit.key) in a new
 * directory <root>/copyN; its path into out[cap]. */
void t_audit_copy(char *out, size_t cap);

/* ---- raw LMDB: the store's named databases, one write transaction ---- */

typedef struct {
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi log, nodes, heads;
} t_raw_t;

/* Open the store in dir (closed: no kc_store_t on it) and begin a write
 * transaction with log, nodes and heads opened; t_raw_close commits it and
 * closes the environment. */
void t_raw_open(t_raw_t *r, const char *dir);
void t_raw_close(t_raw_t *r);

/* The store's 8-byte big-endian key of v. */
void t_raw_key(uint8_t k[8], uint64_t v);

/* A heap copy of the value at key in dbi, its size in *len (caller frees);
 * the key must be there. */
uint8_t *t_raw_get(t_raw_t *r, MDB_dbi dbi, uint64_t key, size_t *len);

/* Put data[len] at key in dbi (overwriting); delete key from dbi (it must be there). */
void t_raw_put(t_raw_t *r, MDB_dbi dbi, uint64_t key, const void *data, size_t len);
void t_raw_del(t_raw_t *r, MDB_dbi dbi, uint64_t key);

#endif
