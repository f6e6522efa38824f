/* audit_tool_test.c - kc-audit end to end: verify on a clean store and on copies
 * tampered through raw LMDB (flip, delete, insert, swap, truncate, a changed
 * or deleted stored node, forged head), prove / consistency / check-proof,
 * heads, pubkey; check-proof of
 * bare RFC 6962 proofs over the public test tree (every inclusion and
 * consistency proof of sizes 1-8 from the reference implementation, mutations,
 * bad input). No leaf hash is
 * stored: a changed entry is found by the stored node of its 64-entry block
 * and by the first signed head after it (docs/AUDIT.md). */
#include "audit_fixture.h"
#include "audit_test_util.h"
#include "kc_merkle.h"
#include "kc_ref.h"

#include <fcntl.h>
#include <inttypes.h>
#include <lmdb.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cmocka.h>

/* kc-audit verify must exit 1 naming `offset` as the first bad offset. */
static void s_expect_bad_offset(const char *store, uint64_t offset)
{
    char out[8192], want[64];
    int ex = t_audit_run(out, sizeof out, "--store %s verify", store);
    snprintf(want, sizeof want, "first bad offset: %llu\n", (unsigned long long)offset);
    if (ex != 1 || !strstr(out, want))
        fprintf(stderr, "kc-audit said (exit %d):\n%s\n", ex, out);
    assert_int_equal(ex, 1);
    assert_non_null(strstr(out, want));
}

static void test_verify_clean(void **state)
{
    t_audit_fx_t *f = *state;
    char out[8192];
    int ex = t_audit_run(out, sizeof out, "--store %s verify", f->dir.store);
    if (ex != 0)
        fprintf(stderr, "%s\n", out);
    assert_int_equal(ex, 0);
    assert_non_null(
        strstr(out, "ok: 1000 log entries (leaf hashes recomputed), 26 stored subtrees"));
    assert_non_null(strstr(out, "10 signed heads checked"));
    assert_non_null(strstr(out, "latest head: size 1000"));
}

/* kc-audit verify must exit 1 naming the first bad head and the changed range
 * [from, to) (a changed entry: no leaf hash is stored, so its block's stored
 * node and the signed heads around it bound it). */
static void s_expect_bad_range(const char *store, uint64_t head, uint64_t from, uint64_t to)
{
    char out[8192], want_head[64], want_range[96];
    int ex = t_audit_run(out, sizeof out, "--store %s verify", store);
    snprintf(want_head, sizeof want_head, "first bad head: %llu\n", (unsigned long long)head);
    snprintf(want_range, sizeof want_range, "changed range: [%llu, %llu)\n",
             (unsigned long long)from, (unsigned long long)to);
    if (ex != 1 || !strstr(out, want_head) || !strstr(out, want_range))
        fprintf(stderr, "kc-audit said (exit %d):\n%s\n", ex, out);
    assert_int_equal(ex, 1);
    assert_non_null(strstr(out, want_head));
    assert_non_null(strstr(out, want_range));
}

/* kc-audit verify must exit 1 naming the stored subtree over [from, to) and
 * `why` in the reason. */
static void s_expect_bad_subtree(const char *store, uint64_t from, uint64_t to, const char *why)
{
    char out[8192], want[96];
    int ex = t_audit_run(out, sizeof out, "--store %s verify", store);
    snprintf(want, sizeof want, "bad subtree: [%llu, %llu)\n", (unsigned long long)from,
             (unsigned long long)to);
    if (ex != 1 || !strstr(out, want) || !strstr(out, why))
        fprintf(stderr, "kc-audit said (exit %d):\n%s\n", ex, out);
    assert_int_equal(ex, 1);
    assert_non_null(strstr(out, want));
    assert_non_null(strstr(out, why));
}

/* Flip one bit of the event bytes at the end of log record k. */
static void s_flip_entry(t_raw_t *r, uint64_t k)
{
    size_t len;
    uint8_t *v = t_raw_get(r, r->log, k, &len);
    v[len - 1 - (k % 3)] ^= 0x04;
    t_raw_put(r, r->log, k, v, len);
    free(v);
}

/* A changed entry is bounded by the last good head, the failing head and the
 * stored node of its 64-entry block: 0 -> [0, 64) by head 100; 417 -> block
 * [384, 448) after head 400; 999 -> after the last complete block (960),
 * before head 1000. */
static void test_tamper_flip(void **state)
{
    (void)state;
    const uint64_t ks[] = {0, 417, 999};
    const uint64_t heads[] = {100, 500, 1000}, from[] = {0, 400, 960}, to[] = {64, 448, 1000};
    for (size_t i = 0; i < 3; i++) {
        char dir[PATH_MAX + 32];
        t_audit_copy(dir, sizeof dir);
        t_raw_t r;
        t_raw_open(&r, dir);
        s_flip_entry(&r, ks[i]);
        t_raw_close(&r);
        s_expect_bad_range(dir, heads[i], from[i], to[i]);
    }
    /* a flipped header byte (the record's version): unreadable, found exactly */
    char dir[PATH_MAX + 32];
    t_audit_copy(dir, sizeof dir);
    t_raw_t r;
    t_raw_open(&r, dir);
    size_t len;
    uint8_t *v = t_raw_get(&r, r.log, 12, &len);
    v[0] ^= 0xff;
    t_raw_put(&r, r.log, 12, v, len);
    free(v);
    t_raw_close(&r);
    s_expect_bad_offset(dir, 12);
}

static void test_tamper_delete(void **state)
{
    (void)state;
    char dir[PATH_MAX + 32];
    t_audit_copy(dir, sizeof dir);
    t_raw_t r;
    t_raw_open(&r, dir);
    t_raw_del(&r, r.log, 321);
    t_raw_close(&r);
    s_expect_bad_offset(dir, 321);
}

/* An entry inserted at 640 with the rest renumbered: the keys still run
 * 0, 1, ..., but every leaf from 640 on changed (the offset is in the leaf). */
static void test_tamper_insert(void **state)
{
    (void)state;
    char dir[PATH_MAX + 32];
    t_audit_copy(dir, sizeof dir);
    t_raw_t r;
    t_raw_open(&r, dir);
    const uint64_t k = 640;
    for (uint64_t i = T_AUDIT_ENTRIES - 1; i >= k; i--) { /* shift k.. up by one */
        size_t len;
        uint8_t *v = t_raw_get(&r, r.log, i, &len);
        t_raw_put(&r, r.log, i + 1, v, len);
        free(v);
    }
    size_t len;
    uint8_t *v = t_raw_get(&r, r.log, 5, &len); /* a well-formed record */
    t_raw_put(&r, r.log, k, v, len);
    free(v);
    t_raw_close(&r);
    /* record 5 may not even decode at offset 640 (format 4's layout 2 stores a time
     * relative to the previous record's, absolute at every 64th offset): then the
     * offset is found exactly; else the leaves from 640 on differ */
    char out[8192];
    int ex = t_audit_run(out, sizeof out, "--store %s verify", dir);
    if (!strstr(out, "first bad offset: 640\n"))
        s_expect_bad_range(dir, 700, 640, 700);
    else
        assert_int_equal(ex, 1);
}

static void test_tamper_swap(void **state)
{
    (void)state;
    char dir[PATH_MAX + 32];
    t_audit_copy(dir, sizeof dir);
    t_raw_t r;
    t_raw_open(&r, dir);
    size_t la, lb;
    uint8_t *a = t_raw_get(&r, r.log, 77, &la), *b = t_raw_get(&r, r.log, 78, &lb);
    t_raw_put(&r, r.log, 77, b, lb);
    t_raw_put(&r, r.log, 78, a, la);
    free(a);
    free(b);
    t_raw_close(&r);
    s_expect_bad_range(dir, 100, 64, 100); /* head 100 fails before block [64, 128) ends */
}

/* Truncation is found exactly, at the log's new end, by a signed head that
 * covers more entries or, with those heads gone too, by a stored node. */
static void test_tamper_truncate(void **state)
{
    (void)state;
    char dir[PATH_MAX + 32];
    t_audit_copy(dir, sizeof dir);
    t_raw_t r;
    t_raw_open(&r, dir);
    for (uint64_t i = 950; i < T_AUDIT_ENTRIES; i++)
        t_raw_del(&r, r.log, i);
    t_raw_close(&r);
    s_expect_bad_offset(dir, 950);

    t_audit_copy(dir, sizeof dir);
    t_raw_open(&r, dir);
    for (uint64_t i = 850; i < T_AUDIT_ENTRIES; i++)
        t_raw_del(&r, r.log, i);
    t_raw_del(&r, r.heads, 900);
    t_raw_del(&r, r.heads, 1000);
    t_raw_close(&r);
    s_expect_bad_offset(dir, 850); /* node [832, 896) */
}

/* The stored nodes themselves: changed or deleted while the log is intact.
 * The next signed head still matches the log, so the node is what changed. */
static void test_tamper_node(void **state)
{
    (void)state;
    for (int what = 0; what < 2; what++) {
        char dir[PATH_MAX + 32];
        t_audit_copy(dir, sizeof dir);
        t_raw_t r;
        t_raw_open(&r, dir);
        uint8_t kb[9] = {6, 0, 0, 0, 0, 0, 0, 0, 3}; /* level 6, index 3: [192, 256) */
        if (what == 1) {
            kb[0] = 7; /* level 7, index 2: [256, 384) */
            kb[8] = 2;
        }
        MDB_val k = {sizeof kb, kb}, v;
        assert_int_equal(mdb_get(r.txn, r.nodes, &k, &v), 0);
        assert_int_equal(v.mv_size, 32);
        if (what == 0) {
            uint8_t h[32];
            memcpy(h, v.mv_data, 32);
            h[17] ^= 0x20;
            MDB_val nv = {32, h};
            assert_int_equal(mdb_put(r.txn, r.nodes, &k, &nv, 0), 0);
        } else {
            assert_int_equal(mdb_del(r.txn, r.nodes, &k, NULL), 0);
        }
        t_raw_close(&r);
        if (what == 0)
            s_expect_bad_subtree(dir, 192, 256, "the stored subtree was changed");
        else
            s_expect_bad_subtree(dir, 256, 384, "the stored subtree was changed");
    }
}

/* Entries after the latest signed head: a change inside a complete 64-entry
 * block is found by its stored node (which of the two changed, no head can
 * say yet); a change after the last complete block is covered by nothing
 * stored and cannot be found until a head covers it (docs/AUDIT.md). */
static void test_tamper_unsigned_tail(void **state)
{
    t_audit_fx_t *f = *state;
    char dir[PATH_MAX + 32];
    snprintf(dir, sizeof dir, "%s/tail", f->dir.root);
    kc_store_t *s = NULL;
    assert_int_equal(kc_store_open(&s, dir, NULL), 0);
    kc_store_set_head_interval(s, 0);
    assert_int_equal(t_fill(s, 0, 100, 100), 0); /* head 100 */
    kc_store_set_head_interval(s, -1);
    assert_int_equal(t_fill(s, 100, 200, 50), 0); /* 300 entries, no head after 100 */
    kc_store_close(&s);
    char out[8192];
    assert_int_equal(t_audit_run(out, sizeof out, "--store %s verify", dir), 0);

    t_raw_t r;
    t_raw_open(&r, dir);
    s_flip_entry(&r, 290); /* after block [192, 256) and the last head */
    t_raw_close(&r);
    int ex = t_audit_run(out, sizeof out, "--store %s verify", dir);
    assert_int_equal(ex, 0);
    assert_non_null(strstr(out, "entries 100..299 are not covered by a signed head yet"));

    t_raw_open(&r, dir);
    s_flip_entry(&r, 150);
    t_raw_close(&r);
    s_expect_bad_subtree(dir, 128, 192, "no signed head covers them yet");
}

static void test_forged_head(void **state)
{
    (void)state;
    for (int what = 0; what < 2; what++) { /* 0: root, 1: signature */
        char dir[PATH_MAX + 32];
        t_audit_copy(dir, sizeof dir);
        t_raw_t r;
        t_raw_open(&r, dir);
        size_t len;
        uint8_t *v = t_raw_get(&r, r.heads, 500, &len);
        assert_int_equal(len, 104);
        v[what == 0 ? 8 + 3 : 40 + 10] ^= 0x01;
        t_raw_put(&r, r.heads, 500, v, len);
        free(v);
        t_raw_close(&r);
        char out[8192];
        int ex = t_audit_run(out, sizeof out, "--store %s verify", dir);
        assert_int_equal(ex, 1);
        assert_non_null(strstr(out, "first bad head: 500\n"));
        assert_non_null(strstr(out, what == 0 ? "root" : "signature"));
        ex = t_audit_run(out, sizeof out, "--store %s heads", dir);
        assert_int_equal(ex, 1);
        assert_non_null(strstr(out, "BAD-SIGNATURE"));
    }
}

/* Edit one hex digit of the file at the n-th occurrence of `after`. */
static void s_edit_file(const char *path, const char *after, const char *copy)
{
    FILE *in = fopen(path, "r");
    assert_non_null(in);
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, in);
    buf[n] = '\0';
    fclose(in);
    char *p = strstr(buf, after);
    assert_non_null(p);
    p += strlen(after);
    *p = *p == '0' ? '1' : '0';
    FILE *out = fopen(copy, "w");
    assert_non_null(out);
    fwrite(buf, 1, n, out);
    fclose(out);
}

static int s_identity_fn(kc_txn_t *t, void *ctx)
{
    (void)ctx;
    kc_identity_t id;
    memset(&id, 0, sizeof id);
    id.offset = T_REAL_OFFSET; /* a real Event "EV-123" of province 79, 2025-07 (t_entry) */
    return kc_txn_identity_put(t, kc_ref_unit_key(79, 202507), "EV-123", 6, &id);
}

static void test_prove_and_check(void **state)
{
    t_audit_fx_t *f = *state;
    kc_store_t *s = NULL;
    assert_int_equal(kc_store_open(&s, f->dir.store, NULL), 0);
    assert_int_equal(kc_store_write(s, s_identity_fn, NULL), 0);
    kc_store_close(&s);

    char out[16384], proof[PATH_MAX + 32], bad[PATH_MAX + 32];
    snprintf(proof, sizeof proof, "%s/proof.json", f->dir.root);
    snprintf(bad, sizeof bad, "%s/proof-bad.json", f->dir.root);
    int ex = t_audit_run(out, sizeof out, "--store %s prove --province 79 --event EV-123 --out %s",
                         f->dir.store, proof);
    if (ex != 0)
        fprintf(stderr, "%s\n", out);
    assert_int_equal(ex, 0);
    ex = t_audit_run(out, sizeof out, "check-proof %s --key %s", proof, f->pk_hex);
    if (ex != 0)
        fprintf(stderr, "%s\n", out);
    assert_int_equal(ex, 0);
    assert_non_null(strstr(out, "VALID: entry 123 "));
    /* one byte changed anywhere that matters: rejected */
    const char *places[] = {"\"leaf_input\": \"01", "\"audit_path\": [\n    \"",
                            "\"root\": \"",         "\"signature\": \"",
                            "\"leaf_index\": 1",    "\"tree_size\": 10"};
    for (size_t i = 0; i < sizeof places / sizeof places[0]; i++) {
        s_edit_file(proof, places[i], bad);
        ex = t_audit_run(out, sizeof out, "check-proof %s --key %s", bad, f->pk_hex);
        if (ex != 1)
            fprintf(stderr, "edit after %s: exit %d: %s\n", places[i], ex, out);
        assert_int_equal(ex, 1);
        assert_non_null(strstr(out, "INVALID"));
    }
    /* another key: rejected */
    uint8_t opk[32], osk[64];
    char ohex[65];
    crypto_sign_keypair(opk, osk);
    kc_merkle_hex(opk, 32, ohex);
    assert_int_equal(t_audit_run(out, sizeof out, "check-proof %s --key %s", proof, ohex), 1);
    /* by offset, against an older head, to stdout */
    ex = t_audit_run(out, sizeof out, "--store %s prove --offset 0 --size 100", f->dir.store);
    assert_int_equal(ex, 0);
    assert_non_null(strstr(out, "\"tree_size\": 100"));
    /* unknown event, unknown head size */
    assert_int_equal(
        t_audit_run(out, sizeof out, "--store %s prove --province 79 --event NOPE", f->dir.store),
        65);
    assert_int_equal(
        t_audit_run(out, sizeof out, "--store %s prove --offset 5 --size 150", f->dir.store), 65);
}

static void test_consistency_and_heads(void **state)
{
    t_audit_fx_t *f = *state;
    char out[16384], proof[PATH_MAX + 32], bad[PATH_MAX + 32];
    snprintf(proof, sizeof proof, "%s/cons.json", f->dir.root);
    snprintf(bad, sizeof bad, "%s/cons-bad.json", f->dir.root);
    int ex = t_audit_run(out, sizeof out, "--store %s consistency 300 800 --out %s", f->dir.store,
                         proof);
    assert_int_equal(ex, 0);
    ex = t_audit_run(out, sizeof out, "check-proof %s --key %s", proof, f->pk_hex);
    if (ex != 0)
        fprintf(stderr, "%s\n", out);
    assert_int_equal(ex, 0);
    assert_non_null(strstr(out, "VALID: the log of 800 entries extends the log of 300"));
    s_edit_file(proof, "\"proof\": [\n    \"", bad);
    assert_int_equal(t_audit_run(out, sizeof out, "check-proof %s --key %s", bad, f->pk_hex), 1);
    s_edit_file(proof, "\"root\": \"", bad);
    assert_int_equal(t_audit_run(out, sizeof out, "check-proof %s --key %s", bad, f->pk_hex), 1);

    ex = t_audit_run(out, sizeof out, "--store %s consistency 300 850", f->dir.store);
    assert_int_equal(ex, 65);
    assert_non_null(strstr(out, "850 is not the size of a signed head"));

    ex = t_audit_run(out, sizeof out, "--store %s heads", f->dir.store);
    assert_int_equal(ex, 0);
    assert_non_null(strstr(out, "         100  "));
    assert_non_null(strstr(out, "        1000  "));

    ex = t_audit_run(out, sizeof out, "--store %s pubkey", f->dir.store);
    assert_int_equal(ex, 0);
    assert_non_null(strstr(out, f->pk_hex));
}

/* ---- check-proof of bare RFC 6962 proofs ---- */

/* " --proof HEX" for each hash of p[n], appended to args; hash `flip` (if
 * < n) with its first bit flipped. */
static void s_proof_args(char *args, size_t cap, uint8_t (*p)[32], size_t n, size_t flip)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t h[32];
        char hex[65];
        memcpy(h, p[i], 32);
        if (i == flip)
            h[0] ^= 0x80;
        kc_merkle_hex(h, 32, hex);
        size_t len = strlen(args);
        snprintf(args + len, cap - len, " --proof %s", hex);
    }
}

/* kc-audit check-proof ARGS: its exit code; VALID/INVALID as expected. */
static int s_check_bare(const char *args)
{
    char out[8192];
    int ex = t_audit_run(out, sizeof out, "check-proof%s", args);
    if (ex == 0 && strncmp(out, "VALID: ", 7) != 0)
        fail_msg("check-proof%s: exit 0 but printed: %s", args, out);
    if (ex == 1 && strncmp(out, "INVALID: ", 9) != 0)
        fail_msg("check-proof%s: exit 1 but printed: %s", args, out);
    return ex;
}

static void test_check_bare_proofs(void **state)
{
    (void)state;
    /* the reference tree (audit_test_util.h, RFC 6962 literally) has the published roots */
    uint8_t leaves[8][32], root[8][32];
    for (int i = 0; i < 8; i++) {
        uint8_t buf[1 + 16];
        size_t len = strlen(t_ct_leaves[i]) / 2;
        buf[0] = 0x00;
        assert_int_equal(kc_merkle_unhex(t_ct_leaves[i], buf + 1, len), 0);
        crypto_hash_sha256(leaves[i], buf, 1 + len);
    }
    for (int n = 1; n <= 8; n++) {
        char hex[65];
        t_ref_mth(leaves, (uint64_t)n, root[n - 1]);
        kc_merkle_hex(root[n - 1], 32, hex);
        assert_string_equal(hex, t_ct_roots[n - 1]);
    }
    char args[4096], lh[65], rh[65], r2[65];
    /* inclusion: every leaf of every size verifies, given as data or as hash; one
     * mutation of each (a flipped hash, a wrong index or size, a hash too many
     * or too few, another root) does not */
    int k = 0;
    for (uint64_t n = 1; n <= 8; n++) {
        kc_merkle_hex(root[n - 1], 32, rh);
        for (uint64_t m = 0; m < n; m++, k++) {
            uint8_t path[8][32];
            size_t plen = 0;
            t_ref_path(leaves, m, n, path, &plen);
            kc_merkle_hex(leaves[m], 32, lh);
            snprintf(args, sizeof args,
                     " --leaf-data '%s' --leaf-index %" PRIu64 " --tree-size %" PRIu64 " --root %s",
                     t_ct_leaves[m], m, n, rh);
            s_proof_args(args, sizeof args, path, plen, SIZE_MAX);
            assert_int_equal(s_check_bare(args), 0);
            snprintf(args, sizeof args, " --tree-size %" PRIu64 " --leaf-hash %s --root %s", n, lh,
                     rh);
            switch (k % 6) {
            case 0: /* a flipped bit in a proof hash (or in the root, without a path) */
                if (plen) {
                    snprintf(args + strlen(args), sizeof args - strlen(args),
                             " --leaf-index %" PRIu64, m);
                    s_proof_args(args, sizeof args, path, plen, (size_t)k % plen);
                } else {
                    snprintf(args, sizeof args,
                             " --leaf-hash %s --leaf-index 0 --tree-size 1 --root %s", rh, lh);
                    char *last = &args[strlen(args) - 1]; /* the root's last hex digit */
                    *last = *last == '0' ? '1' : '0';
                }
                break;
            case 1: /* the next index */
                snprintf(args + strlen(args), sizeof args - strlen(args), " --leaf-index %" PRIu64,
                         m + 1);
                s_proof_args(args, sizeof args, path, plen, SIZE_MAX);
                break;
            case 2: /* a hash before the path: the tree's root */
                snprintf(args + strlen(args), sizeof args - strlen(args),
                         " --leaf-index %" PRIu64 " --proof %s", m, rh);
                s_proof_args(args, sizeof args, path, plen, SIZE_MAX);
                break;
            case 3: /* the last hash left out, or an empty one given */
                snprintf(args + strlen(args), sizeof args - strlen(args), " --leaf-index %" PRIu64,
                         m);
                if (plen)
                    s_proof_args(args, sizeof args, path, plen - 1, SIZE_MAX);
                else
                    snprintf(args + strlen(args), sizeof args - strlen(args), " --proof ''");
                break;
            case 4: /* the root of the tree one leaf larger (up to 8) */
                snprintf(args, sizeof args,
                         " --leaf-hash %s --leaf-index %" PRIu64 " --tree-size %" PRIu64
                         " --root %s",
                         lh, m, n, t_ct_roots[n < 8 ? n : 0]);
                s_proof_args(args, sizeof args, path, plen, SIZE_MAX);
                break;
            default: /* another leaf's data */
                snprintf(args, sizeof args,
                         " --leaf-data '%s' --leaf-index %" PRIu64 " --tree-size %" PRIu64
                         " --root %s",
                         t_ct_leaves[(m + 1) % 8], m, n, rh);
                s_proof_args(args, sizeof args, path, plen, SIZE_MAX);
                break;
            }
            if (s_check_bare(args) != 1)
                fail_msg("check-proof%s: a mutated inclusion proof (kind %d) verified", args,
                         k % 6);
        }
    }
    /* consistency: every pair of sizes 1 <= m <= n <= 8 verifies; with a flipped
     * hash, swapped roots or a size off by one it does not */
    k = 0;
    for (uint64_t n = 1; n <= 8; n++) {
        for (uint64_t m = 1; m <= n; m++, k++) {
            uint8_t proof[8][32];
            size_t plen = 0;
            t_ref_subproof(leaves, m, n, 1, proof, &plen);
            kc_merkle_hex(root[m - 1], 32, rh);
            kc_merkle_hex(root[n - 1], 32, r2);
            snprintf(args, sizeof args,
                     " --size1 %" PRIu64 " --size2 %" PRIu64 " --root1 %s --root2 %s", m, n, rh,
                     r2);
            s_proof_args(args, sizeof args, proof, plen, SIZE_MAX);
            assert_int_equal(s_check_bare(args), 0);
            if (m == n) { /* equal sizes: the roots must be equal, the proof empty */
                snprintf(args, sizeof args,
                         " --size1 %" PRIu64 " --size2 %" PRIu64 " --root1 %s --root2 %s", m, n, rh,
                         t_ct_roots[n % 8]);
            } else if (k % 3 == 0) {
                snprintf(args, sizeof args,
                         " --size1 %" PRIu64 " --size2 %" PRIu64 " --root1 %s --root2 %s", m, n, rh,
                         r2);
                s_proof_args(args, sizeof args, proof, plen, (size_t)k % plen);
            } else if (k % 3 == 1) {
                snprintf(args, sizeof args,
                         " --size1 %" PRIu64 " --size2 %" PRIu64 " --root1 %s --root2 %s", m, n, r2,
                         rh);
                s_proof_args(args, sizeof args, proof, plen, SIZE_MAX);
            } else {
                snprintf(args, sizeof args,
                         " --size1 %" PRIu64 " --size2 %" PRIu64 " --root1 %s --root2 %s", m - 1, n,
                         rh, r2);
                s_proof_args(args, sizeof args, proof, plen, SIZE_MAX);
            }
            if (s_check_bare(args) != 1)
                fail_msg("check-proof%s: a mutated consistency proof verified", args);
        }
    }
    /* a value of the wrong length is a proof that does not verify (exit 1) */
    kc_merkle_hex(leaves[0], 32, lh);
    snprintf(args, sizeof args, " --leaf-hash %.62s --leaf-index 0 --tree-size 1 --root %s", lh,
             lh);
    assert_int_equal(s_check_bare(args), 1);
    snprintf(args, sizeof args, " --leaf-hash %s --leaf-index 0 --tree-size 1 --root %s00", lh, lh);
    assert_int_equal(s_check_bare(args), 1);
    snprintf(args, sizeof args, " --leaf-hash %s --leaf-index 0 --tree-size 0 --root %s", lh, lh);
    assert_int_equal(s_check_bare(args), 1);
    snprintf(args, sizeof args, " --size1 0 --size2 1 --root1 %s --root2 %s", lh, lh);
    assert_int_equal(s_check_bare(args), 1);
    snprintf(args, sizeof args, " --size1 0 --size2 0 --root1 %s --root2 %s", lh, lh);
    assert_int_equal(s_check_bare(args), 1);
    /* equal sizes: an empty proof and equal roots, which are hashes (32 bytes) even
     * there (transparency-dev/merkle compares any bytes: its vector with 12-byte
     * roots "don't care 2" is refused here) */
    snprintf(args, sizeof args, " --size1 3 --size2 3 --root1 %s --root2 %s", lh, lh);
    for (char *c = strstr(args, "--root2 ") + 8; *c; c++) /* the same bytes in upper case */
        *c = (char)(*c >= 'a' && *c <= 'f' ? *c - 'a' + 'A' : *c);
    assert_int_equal(s_check_bare(args), 0);
    snprintf(args + strlen(args), sizeof args - strlen(args), " --proof %s", lh);
    assert_int_equal(s_check_bare(args), 1);
    assert_int_equal(s_check_bare(" --size1 1 --size2 1 --root1 646f6e27 --root2 646f6e27"), 1);
    snprintf(args, sizeof args, " --leaf-hash %s --leaf-index 0 --tree-size 1 --root %s", lh, lh);
    for (int i = 0; i <= KC_MERKLE_PATH_MAX; i++) /* more hashes than any tree needs */
        snprintf(args + strlen(args), sizeof args - strlen(args), " --proof 00");
    assert_int_equal(s_check_bare(args), 1);
    /* bad input: not hex, not a number, incomplete or mixed options (exit 64) */
    static const char *const bad[] = {
        " --leaf-hash xyz --leaf-index 0 --tree-size 1 --root 00",
        " --leaf-data 0 --leaf-index 0 --tree-size 1 --root 00",
        " --leaf-data 00 --leaf-index -1 --tree-size 1 --root 00",
        " --leaf-data 00 --leaf-index 0 --tree-size 18446744073709551616 --root 00",
        " --leaf-data 00 --leaf-index 0 --tree-size 1 --root 00 --proof g0",
        " --leaf-data 00 --leaf-index 0 --tree-size 1",
        " --leaf-data 00 --leaf-hash 00 --leaf-index 0 --tree-size 1 --root 00",
        " --leaf-data 00 --leaf-index 0 --tree-size 1 --root 00 --size1 1",
        " --size1 1 --size2 2 --root1 00",
        " --proof 00",
        " --leaf-data 00 --leaf-index 0 --tree-size 1 --root 00 --key 00",
        " p.json --leaf-data 00 --leaf-index 0 --tree-size 1 --root 00",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (s_check_bare(bad[i]) != 64)
            fail_msg("check-proof%s: not a usage error", bad[i]);
}

static void test_usage(void **state)
{
    (void)state;
    char out[16384];
    assert_int_equal(t_audit_run(out, sizeof out, "--help"), 0);
    assert_non_null(strstr(out, "check-proof"));
    assert_int_equal(t_audit_run(out, sizeof out, "--version"), 0);
    assert_int_equal(t_audit_run(out, sizeof out, "frobnicate"), 64);
    assert_int_equal(t_audit_run(out, sizeof out, "prove"), 64);
    assert_int_equal(t_audit_run(out, sizeof out, "check-proof x.json"), 64);
    assert_int_equal(t_audit_run(out, sizeof out, "--store /nonexistent/kc verify"), 66);
}

int main(void)
{
    kc_log_set_level(KC_LOG_WARN);
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verify_clean),
        cmocka_unit_test(test_tamper_flip),
        cmocka_unit_test(test_tamper_delete),
        cmocka_unit_test(test_tamper_insert),
        cmocka_unit_test(test_tamper_swap),
        cmocka_unit_test(test_tamper_truncate),
        cmocka_unit_test(test_tamper_node),
        cmocka_unit_test(test_tamper_unsigned_tail),
        cmocka_unit_test(test_forged_head),
        cmocka_unit_test(test_prove_and_check),
        cmocka_unit_test(test_consistency_and_heads),
        cmocka_unit_test(test_check_bare_proofs),
        cmocka_unit_test(test_usage),
    };
    return cmocka_run_group_tests(tests, t_audit_setup, t_audit_teardown);
}
