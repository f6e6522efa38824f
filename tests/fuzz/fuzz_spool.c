/* fuzz_spool.c - libFuzzer harness: a producer spool whose records come from
 * the input, read back through kc_spool_open / kc_spool_read / kc_spool_commit.
 *
 * DESIGN
 * The input is a list of chunks: u8 type | u16 BE length | bytes. Type 0-3
 * replaces one meta value (producer_id, next_seq, format, epoch) of a freshly
 * created spool; any other type writes a pending record: its value is the
 * bytes; its key is the 8-byte big-endian seq (type & 0x40 clear: a counter
 * from 1 plus (type & 0x3f)) or, with 0x40 set, the first (type & 0x0f) bytes
 * of the chunk (a corrupt key). The spool is written through raw LMDB, then
 * opened by kc_spool_open(), read from seq 0 with kc_spool_read() in pieces,
 * and emptied with one kc_spool_commit() covering every seq. Oracles: a seq
 * handed to the read callback or listed as removed was written under a
 * well-formed 8-byte key; reads visit increasing seqs; the removed list is
 * well-formed.
 */
#include "fuzz_util.h"

#include "kc_err.h"
#include "kc_spool.h"

#include <lmdb.h>

#define S_MAX_KEYS 4096

static char s_dir[512];
static uint64_t s_keys[S_MAX_KEYS]; /* seqs written under 8-byte keys */
static size_t s_nkeys;

static void s_cleanup(void)
{
    if (s_dir[0])
        fuzz_rmtree(s_dir);
}

static bool s_known(uint64_t seq)
{
    for (size_t i = 0; i < s_nkeys; i++)
        if (s_keys[i] == seq)
            return true;
    return false;
}

static void s_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

/* Write the input into the spool directory through raw LMDB. */
static void s_write(const uint8_t *data, size_t size)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi meta, pending;
    FUZZ_CHECK(mdb_env_create(&env) == 0);
    mdb_env_set_maxdbs(env, 2);
    mdb_env_set_mapsize(env, (size_t)64 << 20);
    FUZZ_CHECK(mdb_env_open(env, s_dir, MDB_NOTLS | MDB_NOSYNC, 0600) == 0);
    FUZZ_CHECK(mdb_txn_begin(env, NULL, 0, &txn) == 0);
    FUZZ_CHECK(mdb_dbi_open(txn, "meta", MDB_CREATE, &meta) == 0);
    FUZZ_CHECK(mdb_dbi_open(txn, "pending", MDB_CREATE, &pending) == 0);
    FUZZ_CHECK(mdb_drop(txn, pending, 0) == 0);
    uint8_t seq[8], ep[8], fmt[4] = {0, 0, 0, KC_SPOOL_FORMAT};
    s_be64(seq, 1);
    s_be64(ep, 1700000000000000000u);
    static const char *const names[4] = {"producer_id", "next_seq", "format", "epoch"};
    MDB_val defaults[4] = {{4, "fuzz"}, {8, seq}, {4, fmt}, {8, ep}};
    for (int i = 0; i < 4; i++) {
        MDB_val k = {strlen(names[i]), (void *)names[i]};
        FUZZ_CHECK(mdb_put(txn, meta, &k, &defaults[i], 0) == 0);
    }
    s_nkeys = 0;
    uint64_t counter = 1;
    size_t p = 0;
    while (p + 3 <= size) {
        uint8_t type = data[p];
        size_t len = (size_t)data[p + 1] << 8 | data[p + 2];
        p += 3;
        if (len > size - p)
            len = size - p;
        const uint8_t *b = data + p;
        p += len;
        if (type < 4) {
            MDB_val k = {strlen(names[type]), (void *)names[type]}, v = {len, (void *)b};
            if (len == 0)
                mdb_del(txn, meta, &k, NULL);
            else
                FUZZ_CHECK(mdb_put(txn, meta, &k, &v, 0) == 0);
            continue;
        }
        uint8_t kb[16];
        MDB_val k, v = {len, (void *)b};
        if (type & 0x40) {
            size_t kl = type & 0x0f;
            if (kl == 0 || kl > len)
                continue;
            memcpy(kb, b, kl);
            k = (MDB_val){kl, kb};
            v = (MDB_val){len - kl, (void *)(b + kl)};
            if (kl == 8 && s_nkeys < S_MAX_KEYS) {
                uint64_t s = 0;
                for (int i = 0; i < 8; i++)
                    s = s << 8 | kb[i];
                s_keys[s_nkeys++] = s;
            }
        } else {
            counter += type & 0x3f;
            s_be64(kb, counter);
            k = (MDB_val){8, kb};
            if (s_nkeys < S_MAX_KEYS)
                s_keys[s_nkeys++] = counter;
            counter++;
        }
        if (s_nkeys >= S_MAX_KEYS)
            break;
        int rc = mdb_put(txn, pending, &k, &v, 0);
        FUZZ_CHECK(rc == 0 || rc == MDB_BAD_VALSIZE);
    }
    FUZZ_CHECK(mdb_txn_commit(txn) == 0);
    mdb_env_close(env);
}

typedef struct {
    uint64_t last;
    size_t visited;
    uint64_t stop_after;
} s_read_t;

static int s_visit(uint64_t seq, const void *ev, size_t ev_len, void *vctx)
{
    s_read_t *r = vctx;
    FUZZ_CHECK(s_known(seq)); /* read from a well-formed key */
    FUZZ_CHECK(r->visited == 0 || seq > r->last);
    FUZZ_CHECK(ev_len == 0 || ev != NULL);
    if (ev_len) {
        volatile uint8_t sum = 0; /* touch every byte (ASan sees a bad pointer) */
        for (size_t i = 0; i < ev_len; i++)
            sum ^= ((const uint8_t *)ev)[i];
        (void)sum;
    }
    r->last = seq;
    r->visited++;
    return r->stop_after && r->visited >= r->stop_after;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!s_dir[0]) {
        fuzz_quiet();
        fuzz_mkdtemp(s_dir, sizeof s_dir, "spool");
        atexit(s_cleanup);
    }
    s_write(data, size);
    kc_spool_t *sp;
    int rc = kc_spool_open(&sp, s_dir, "fuzz");
    if (rc != 0) {
        FUZZ_CHECK(rc == KC_EINVAL || rc == KC_EFORMAT);
        return 0;
    }
    FUZZ_CHECK(kc_spool_first(sp) == 0 || s_known(kc_spool_first(sp)));
    /* read everything, a few records at a time, as kc_producer does */
    uint64_t from = 0;
    for (int round = 0; round < 64; round++) {
        s_read_t r = {0};
        int n = kc_spool_read(sp, from, 3, 64, s_visit, &r);
        FUZZ_CHECK(n == KC_EFORMAT || n == KC_ESTORE || (n >= 0 && (size_t)n == r.visited));
        if (n <= 0 || r.last == UINT64_MAX)
            break;
        from = r.last + 1;
    }
    /* acknowledge every seq: the commit removes every pending record it can parse or not */
    kc_spool_range_t all = {0, UINT64_MAX, 7};
    rc = kc_spool_commit(sp, &all, 1);
    FUZZ_CHECK(rc == 0 || rc == KC_EFORMAT || rc == KC_ESTORE);
    if (rc == 0) {
        const kc_spool_removed_t *rem;
        size_t n = kc_spool_removed(sp, &rem);
        for (size_t i = 0; i < n; i++) {
            FUZZ_CHECK(s_known(rem[i].seq));
            FUZZ_CHECK(i == 0 || rem[i].seq > rem[i - 1].seq);
            FUZZ_CHECK(rem[i].tag == 7 && rem[i].event_id && rem[i].source);
        }
    }
    kc_spool_close(&sp);
    return 0;
}
