/* fuzz_storelog.c - libFuzzer harness: bytes as a record of the store's log
 * database, decoded by kc_txn_log_get / kc_txn_log_scan / kc_txn_log_size.
 *
 * DESIGN
 * Inside one write transaction of a scratch store the input is put into the
 * log database through raw LMDB (kc_store_int.h), read back through the
 * store's API, and the transaction is aborted (the callback returns a marker
 * code), so every run sees the same empty store and nothing is fsync'd. The
 * first input byte chooses the key: < 0xf0 the well-formed 8-byte key of
 * offset 0 (value = the rest), else a key of (byte & 0x0f) bytes taken from
 * the input (8 bytes: any offset; other lengths: a corrupt key). Oracles: a decoded entry's
 * pointers and lengths lie inside the value; KC_EFORMAT for anything else.
 * A white-box harness (the store's private header), so it lives with the
 * store's tests; tests/fuzz/CMakeLists.txt builds it with the other harnesses.
 */
#include "../fuzz/fuzz_util.h"

#include "kc_err.h"
#include "kc_store_int.h"

#define S_ABORT (-12345)

static kc_store_t *s_store;
static char s_dir[512];

typedef struct {
    const uint8_t *data;
    size_t size;
} s_in_t;

static void s_cleanup(void)
{
    kc_store_close(&s_store);
    if (s_dir[0])
        fuzz_rmtree(s_dir);
}

static void s_check(const kc_log_entry_t *e, const MDB_val *v)
{
    const uint8_t *lo = v->mv_data, *hi = lo + v->mv_size;
    FUZZ_CHECK(e->producer_len >= 1 && (const uint8_t *)e->producer >= lo &&
               (const uint8_t *)e->producer + e->producer_len <= hi);
    FUZZ_CHECK(e->event >= lo && e->event + e->event_len == hi);
}

static int s_scan_fn(const kc_log_entry_t *e, void *ctx)
{
    int *n = ctx;
    (*n)++;
    FUZZ_CHECK(e->producer_len >= 1);
    return 0;
}

static int s_run(kc_txn_t *t, void *ctx)
{
    const s_in_t *in = ctx;
    uint8_t kb[16] = {0};
    MDB_val k = {8, kb};
    const uint8_t *v = in->data + 1;
    size_t vl = in->size - 1;
    if (in->data[0] >= 0xf0) {
        size_t kl = in->data[0] & 0x0f;
        if (kl == 0 || kl > vl)
            return S_ABORT;
        memcpy(kb, v, kl);
        k.mv_size = kl;
        v += kl;
        vl -= kl;
    }
    MDB_val val = {vl, (void *)v};
    int mrc = mdb_put(t->txn, t->s->dbi[KC_DB_LOG], &k, &val, 0);
    if (mrc != 0)
        return S_ABORT; /* e.g. an empty value */
    MDB_val stored;
    FUZZ_CHECK(mdb_get(t->txn, t->s->dbi[KC_DB_LOG], &k, &stored) == 0);
    uint64_t off = 0; /* the offset an 8-byte key names */
    for (size_t i = 0; k.mv_size == 8 && i < 8; i++)
        off = off << 8 | kb[i];
    kc_log_entry_t e;
    int rc = kc_txn_log_get(t, off, &e);
    if (k.mv_size == 8) {
        FUZZ_CHECK(rc == 0 || rc == KC_EFORMAT);
        if (rc == 0) {
            FUZZ_CHECK(e.offset == off);
            s_check(&e, &stored);
        }
    } else {
        FUZZ_CHECK(rc == KC_ENOTFOUND || rc == KC_EFORMAT || rc == 0);
    }
    int n = 0;
    rc = kc_txn_log_scan(t, 0, s_scan_fn, &n);
    FUZZ_CHECK(rc == 0 || rc == KC_EFORMAT);
    FUZZ_CHECK(rc != 0 || n == (k.mv_size == 8 ? 1 : 0) || (k.mv_size != 8 && n == 0));
    uint64_t size;
    rc = kc_txn_log_size(t, &size);
    FUZZ_CHECK(rc == KC_EFORMAT || (rc == 0 && k.mv_size == 8 && size == off + 1));
    return S_ABORT;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!s_store) {
        fuzz_quiet();
        fuzz_mkdtemp(s_dir, sizeof s_dir, "storelog");
        kc_store_opts_t o = {.map_size = (size_t)64 << 20};
        if (kc_store_open(&s_store, s_dir, &o) != 0) {
            fprintf(stderr, "fuzz_storelog: cannot open a store in %s\n", s_dir);
            exit(1);
        }
        atexit(s_cleanup);
    }
    if (size < 1)
        return 0;
    s_in_t in = {data, size};
    int rc = kc_store_write(s_store, s_run, &in);
    FUZZ_CHECK(rc == S_ABORT);
    return 0;
}
