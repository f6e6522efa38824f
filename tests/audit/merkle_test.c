/* merkle_test.c - the verifiable log in libkcstore and the pure checks of common/kc_merkle:
 * roots against a naive RFC 6962 reference, proofs verified and rejected after
 * any change, frontier after reopen and after map growth, signed heads, key file. */
#include "audit_test_util.h"
#include "kc_merkle.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include <cmocka.h>

typedef struct {
    kc_test_dir_t dir;
    kc_store_t *s;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    kc_test_dir_make(&f->dir);
    if (kc_store_open(&f->s, f->dir.store, NULL) != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    kc_store_close(&f->s);
    kc_test_dir_remove(&f->dir);
    free(f);
    return 0;
}

/* t_ref_leaves() with the reference's memo on (audit_test_util.h); s_leaves_free() ends both. */
static uint8_t (*s_leaves(uint64_t n))[32]
{
    uint8_t(*l)[32] = t_ref_leaves(n);
    if (l)
        t_ref_memo_on(l, n);
    return l;
}

static void s_leaves_free(uint8_t (*l)[32])
{
    t_ref_memo_off();
    free(l);
}

static uint64_t s_popcount(uint64_t v)
{
    return (uint64_t)__builtin_popcountll(v);
}

static void s_unhex(const char *h, uint8_t out[32])
{
    assert_int_equal(kc_merkle_unhex(h, out, 32), 0);
}

/* The RFC 6962 test leaves of the certificate-transparency project, and the
 * roots of their first 1..8: the reference and the library agree with them. */
static void test_ct_vectors(void **state)
{
    (void)state;
    uint8_t lh[8][32];
    for (int i = 0; i < 8; i++) {
        uint8_t in[16];
        size_t n = strlen(t_ct_leaves[i]) / 2;
        assert_int_equal(kc_merkle_unhex(t_ct_leaves[i], in, n), 0);
        kc_merkle_leaf_hash_raw(in, n, lh[i]);
    }
    for (int n = 1; n <= 8; n++) {
        uint8_t want[32], got[32];
        s_unhex(t_ct_roots[n - 1], want);
        t_ref_mth(lh, (uint64_t)n, got);
        assert_memory_equal(got, want, 32);
        /* every inclusion and consistency proof of the reference verifies */
        for (int m = 0; m < n; m++) {
            uint8_t path[64][32];
            size_t len = 0;
            t_ref_path(lh, (uint64_t)m, (uint64_t)n, path, &len);
            assert_true(kc_merkle_verify_inclusion(lh[m], (uint64_t)m, (uint64_t)n,
                                                   (const uint8_t(*)[32])path, len, want));
            if (m == 0)
                continue;
            uint8_t r1[32];
            t_ref_mth(lh, (uint64_t)m, r1);
            len = 0;
            t_ref_subproof(lh, (uint64_t)m, (uint64_t)n, 1, path, &len);
            assert_true(kc_merkle_verify_consistency((uint64_t)m, (uint64_t)n, r1, want,
                                                     (const uint8_t(*)[32])path, len));
        }
    }
    uint8_t empty[32], want[32];
    kc_merkle_empty_root(empty);
    s_unhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", want);
    assert_memory_equal(empty, want, 32);
}

static void test_leaf_encoding(void **state)
{
    (void)state;
    for (uint64_t i = 0; i < 50; i++) {
        uint8_t ev[T_EVENT_MAX], buf[600], ref[32], got[32], raw[32];
        kc_log_entry_t e;
        t_entry(i, ev, &e);
        kc_merkle_leaf_t l;
        kc_log_entry_leaf(&e, &l);
        size_t n = kc_merkle_leaf_encode(&l, buf, sizeof buf);
        assert_int_equal(n, KC_MERKLE_LEAF_FIXED + e.producer_len + e.event_len);
        assert_int_equal(kc_merkle_leaf_input_len(&l), n);
        t_ref_leaf(i, ref);
        kc_merkle_leaf_hash(&l, got);
        kc_merkle_leaf_hash_raw(buf, n, raw);
        assert_memory_equal(got, ref, 32);
        assert_memory_equal(raw, ref, 32);
        kc_merkle_leaf_t d;
        assert_int_equal(kc_merkle_leaf_decode(buf, n, &d), 0);
        assert_int_equal(d.offset, i);
        assert_int_equal(d.seq, e.seq);
        assert_int_equal(d.epoch, e.epoch);
        assert_int_equal(d.received_ns, e.received_ns);
        assert_int_equal(d.event_len, e.event_len);
        assert_memory_equal(d.event, e.event, e.event_len);
        assert_int_equal(kc_merkle_leaf_decode(buf, n - 1, &d), -1); /* truncated */
        assert_int_equal(kc_merkle_leaf_decode(buf, n + 1, &d), -1); /* trailing byte */
        buf[0] = 2;
        assert_int_equal(kc_merkle_leaf_decode(buf, n, &d), -1); /* unknown version */
    }
    kc_merkle_leaf_t bad = {.producer = "", .producer_len = 0};
    assert_int_equal(kc_merkle_leaf_input_len(&bad), 0);
}

/* Leaf hashes (recomputed from the log) and roots at every size against the reference. */
static void test_roots_small_and_large(void **state)
{
    fixture_t *f = *state;
    const uint64_t n = 10000;
    assert_int_equal(t_fill(f->s, 0, 301, 7), 0); /* many small groups */
    assert_int_equal(t_fill(f->s, 301, n - 301, 2048), 0);
    uint8_t(*lh)[32] = s_leaves(n);
    kc_txn_t *t;
    assert_int_equal(kc_store_read_begin(f->s, &t), 0);
    uint64_t size;
    assert_int_equal(kc_txn_merkle_size(t, &size), 0);
    assert_int_equal(size, n);
    for (uint64_t i = 0; i < n; i += 97) {
        uint8_t h[32];
        assert_int_equal(kc_txn_leaf_hash(t, i, h), 0);
        assert_memory_equal(h, lh[i], 32);
    }
    for (uint64_t m = 0; m <= 300; m++) {
        uint8_t want[32], got[32];
        t_ref_mth(lh, m, want);
        assert_int_equal(kc_txn_merkle_root(t, m, got), 0);
        assert_memory_equal(got, want, 32);
    }
    const uint64_t large[] = {511,  512,  513,  1023, 1024, 1025, 4095, 4096,
                              4097, 6000, 8191, 8192, 8193, 9999, 10000};
    for (size_t i = 0; i < sizeof large / sizeof large[0]; i++) {
        uint8_t want[32], got[32];
        t_ref_mth(lh, large[i], want);
        assert_int_equal(kc_txn_merkle_root(t, large[i], got), 0);
        assert_memory_equal(got, want, 32);
    }
    uint8_t x[32];
    assert_int_equal(kc_txn_merkle_root(t, n + 1, x), KC_EINVAL);
    kc_txn_end(&t);
    s_leaves_free(lh);
}

/* Proofs for many (m, n): equal to the reference, verified by the pure
 * functions, and rejected after any change. */
static void s_check_inclusion(kc_txn_t *t, uint8_t (*lh)[32], uint64_t m, uint64_t n)
{
    uint8_t path[KC_MERKLE_PATH_MAX][32], ref[KC_MERKLE_PATH_MAX][32], root[32];
    size_t len = 0, rlen = 0;
    assert_int_equal(kc_txn_inclusion_proof(t, m, n, path, &len), 0);
    t_ref_path(lh, m, n, ref, &rlen);
    assert_int_equal(len, rlen);
    if (len)
        assert_memory_equal(path, ref, len * 32);
    t_ref_mth(lh, n, root);
    const uint8_t(*p)[32] = (const uint8_t(*)[32])path;
    assert_true(kc_merkle_verify_inclusion(lh[m], m, n, p, len, root));
    /* tampered: leaf, each path element, index, size, root, path length */
    uint8_t bad[32];
    memcpy(bad, lh[m], 32);
    bad[m % 32] ^= 1;
    assert_false(kc_merkle_verify_inclusion(bad, m, n, p, len, root));
    for (size_t i = 0; i < len; i++) {
        path[i][i % 32] ^= 0x80;
        assert_false(kc_merkle_verify_inclusion(lh[m], m, n, p, len, root));
        path[i][i % 32] ^= 0x80;
    }
    /* Another index: rejected. (Another size with the same root can verify:
     * a path and a root do not bind the size; the signed head does, see
     * test_signed_heads and the tool test.) */
    if (n > 1 && memcmp(lh[m], lh[m ^ 1], 32) != 0 && (m ^ 1) < n)
        assert_false(kc_merkle_verify_inclusion(lh[m], m ^ 1, n, p, len, root));
    memcpy(bad, root, 32);
    bad[0] ^= 1;
    assert_false(kc_merkle_verify_inclusion(lh[m], m, n, p, len, bad));
    if (len > 0)
        assert_false(kc_merkle_verify_inclusion(lh[m], m, n, p, len - 1, root));
    assert_false(kc_merkle_verify_inclusion(lh[m], m, n, p, len + 1, root));
    assert_false(kc_merkle_verify_inclusion(lh[m], n, n, p, len, root)); /* index out of range */
}

static void s_check_consistency(kc_txn_t *t, uint8_t (*lh)[32], uint64_t m, uint64_t n)
{
    uint8_t proof[KC_MERKLE_PATH_MAX][32], ref[KC_MERKLE_PATH_MAX][32], r1[32], r2[32];
    size_t len = 0, rlen = 0;
    assert_int_equal(kc_txn_consistency_proof(t, m, n, proof, &len), 0);
    t_ref_subproof(lh, m, n, 1, ref, &rlen);
    assert_int_equal(len, rlen);
    if (len)
        assert_memory_equal(proof, ref, len * 32);
    t_ref_mth(lh, m, r1);
    t_ref_mth(lh, n, r2);
    const uint8_t(*p)[32] = (const uint8_t(*)[32])proof;
    assert_true(kc_merkle_verify_consistency(m, n, r1, r2, p, len));
    for (size_t i = 0; i < len; i++) {
        proof[i][(i * 7) % 32] ^= 0x01;
        assert_false(kc_merkle_verify_consistency(m, n, r1, r2, p, len));
        proof[i][(i * 7) % 32] ^= 0x01;
    }
    uint8_t bad[32];
    memcpy(bad, r1, 32);
    bad[31] ^= 1;
    assert_false(kc_merkle_verify_consistency(m, n, bad, r2, p, len));
    memcpy(bad, r2, 32);
    bad[31] ^= 1;
    assert_false(kc_merkle_verify_consistency(m, n, r1, bad, p, len));
    if (m < n) {
        assert_false(kc_merkle_verify_consistency(m, n, r1, r2, p, len - 1));
        assert_false(kc_merkle_verify_consistency(m, n, r1, r2, p, len + 1));
    }
    assert_false(kc_merkle_verify_consistency(0, n, r1, r2, p, len));
}

static void test_proofs(void **state)
{
    fixture_t *f = *state;
    const uint64_t total = 4200;
    assert_int_equal(t_fill(f->s, 0, total, 1000), 0);
    uint8_t(*lh)[32] = s_leaves(total);
    kc_txn_t *t;
    assert_int_equal(kc_store_read_begin(f->s, &t), 0);
    const uint64_t sizes[] = {1,   2,   3,   4,   5,   7,   8,   9,    31,   63,   64,   65,
                              100, 127, 128, 129, 255, 256, 257, 1000, 1024, 4095, 4096, 4200};
    for (size_t a = 0; a < sizeof sizes / sizeof sizes[0]; a++) {
        uint64_t n = sizes[a];
        uint64_t ms[] = {0, 1, n / 3, n / 2, n - 2, n - 1, (n * 7) / 11};
        for (size_t b = 0; b < sizeof ms / sizeof ms[0]; b++) {
            uint64_t m = ms[b];
            if (m >= n)
                continue;
            s_check_inclusion(t, lh, m, n);
            if (m > 0)
                s_check_consistency(t, lh, m, n);
        }
        s_check_consistency(t, lh, n, n);
    }
    for (uint64_t n = 1; n <= 70; n++) /* every pair in small trees */
        for (uint64_t m = 1; m <= n; m++) {
            s_check_inclusion(t, lh, m - 1, n);
            s_check_consistency(t, lh, m, n);
        }
    uint8_t p[KC_MERKLE_PATH_MAX][32];
    size_t len;
    assert_int_equal(kc_txn_inclusion_proof(t, 5, 5, p, &len), KC_EINVAL);
    assert_int_equal(kc_txn_inclusion_proof(t, 0, total + 1, p, &len), KC_EINVAL);
    assert_int_equal(kc_txn_consistency_proof(t, 0, 5, p, &len), KC_EINVAL);
    assert_int_equal(kc_txn_consistency_proof(t, 6, 5, p, &len), KC_EINVAL);
    kc_txn_end(&t);
    s_leaves_free(lh);
}

static void s_check_all(kc_store_t *s, uint8_t (*lh)[32], uint64_t from, uint64_t n);

/* Around the 64-entry blocks that separate stored nodes from subtrees
 * recomputed from the log: roots, and proofs at and between sizes near
 * 63/64/65, 127/128/129, 4031/4032/4033, 4095/4096/4097, against the reference. */
static void test_block_edges(void **state)
{
    fixture_t *f = *state;
    const uint64_t total = 4100;
    assert_int_equal(t_fill(f->s, 0, total, 333), 0);
    uint8_t(*lh)[32] = s_leaves(total);
    kc_txn_t *t;
    assert_int_equal(kc_store_read_begin(f->s, &t), 0);
    const uint64_t edges[] = {63, 64, 65, 127, 128, 129, 511, 4031, 4032, 4033, 4095, 4096, 4097};
    const size_t ne = sizeof edges / sizeof edges[0];
    for (size_t a = 0; a < ne; a++) {
        uint64_t n = edges[a];
        uint8_t want[32], got[32];
        t_ref_mth(lh, n, want);
        assert_int_equal(kc_txn_merkle_root(t, n, got), 0);
        assert_memory_equal(got, want, 32);
        /* leaves at both ends of the last blocks: a path's siblings below level 6
         * and the tree's right edge both come from the log */
        const uint64_t ms[] = {0, 1, 62, 63, 64, 65, n - 65, n - 64, n - 63, n - 2, n - 1};
        for (size_t b = 0; b < sizeof ms / sizeof ms[0]; b++)
            if (ms[b] < n)
                s_check_inclusion(t, lh, ms[b], n);
        for (size_t b = 0; b < a; b++) /* consistency from every smaller edge */
            s_check_consistency(t, lh, edges[b], n);
    }
    kc_txn_end(&t);
    s_leaves_free(lh);
}

/* A large tree (2^15 + 100 entries): proofs against the reference at a few
 * places, and every leaf, the last roots and a clean verify. */
static void test_large_tree(void **state)
{
    fixture_t *f = *state;
    const uint64_t total = ((uint64_t)1 << 15) + 100;
    assert_int_equal(t_fill(f->s, 0, total, 8192), 0);
    uint8_t(*lh)[32] = s_leaves(total);
    kc_txn_t *t;
    assert_int_equal(kc_store_read_begin(f->s, &t), 0);
    const uint64_t sizes[] = {(uint64_t)1 << 15, total};
    for (size_t a = 0; a < sizeof sizes / sizeof sizes[0]; a++) {
        uint64_t n = sizes[a];
        const uint64_t ms[] = {0, 12345, n - 65, n - 1};
        for (size_t b = 0; b < sizeof ms / sizeof ms[0]; b++)
            s_check_inclusion(t, lh, ms[b], n);
        s_check_consistency(t, lh, 4097, n);
    }
    kc_txn_end(&t);
    s_check_all(f->s, lh, total - 3, total);
    s_leaves_free(lh);
}

/* The frontier rebuilt at open continues the same tree. */
static void test_reopen(void **state)
{
    fixture_t *f = *state;
    const uint64_t sizes[] = {1, 63, 64, 65, 200, 777, 1500};
    uint64_t at = 0;
    uint8_t(*lh)[32] = s_leaves(1500 + 5);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        assert_int_equal(t_fill(f->s, at, sizes[i] - at, 50), 0);
        at = sizes[i];
        kc_store_close(&f->s);
        assert_int_equal(kc_store_open(&f->s, f->dir.store, NULL), 0);
        /* sign a head: computed from the rebuilt frontier, not from storage */
        kc_merkle_sth_t h;
        assert_int_equal(kc_store_sign_head(f->s, &h), 0);
        uint8_t want[32];
        t_ref_mth(lh, at, want);
        assert_int_equal(h.tree_size, at);
        assert_memory_equal(h.root, want, 32);
    }
    assert_int_equal(t_fill(f->s, at, 5, 5), 0);
    kc_merkle_sth_t h;
    assert_int_equal(kc_store_sign_head(f->s, &h), 0);
    uint8_t want[32];
    t_ref_mth(lh, at + 5, want);
    assert_memory_equal(h.root, want, 32);
    s_leaves_free(lh);
}

/* A group redone after map growth gives the same tree. */
static void test_growth_redo(void **state)
{
    (void)state;
    kc_test_dir_t d;
    kc_test_dir_make(&d);
    kc_store_t *s = NULL;
    kc_store_opts_t o = {.map_size = (size_t)64 << 10};
    assert_int_equal(kc_store_open(&s, d.store, &o), 0);
    kc_store_set_head_interval(s, 0); /* a head inside every commit that grew the log */
    assert_int_equal(t_fill(s, 0, 100, 100), 0);
    t_fill_t g = {100, 3000, 0};
    assert_int_equal(kc_store_write(s, t_fill_fn, &g), 0);
    assert_true(g.calls > 1); /* the map grew and the group was redone */
    uint8_t(*lh)[32] = s_leaves(3100);
    kc_txn_t *t;
    assert_int_equal(kc_store_read_begin(s, &t), 0);
    kc_merkle_sth_t h;
    assert_int_equal(kc_txn_head_last(t, &h), 0);
    assert_int_equal(h.tree_size, 3100);
    uint8_t want[32], got[32];
    t_ref_mth(lh, 3100, want);
    assert_memory_equal(h.root, want, 32);
    assert_int_equal(kc_txn_merkle_root(t, 3100, got), 0);
    assert_memory_equal(got, want, 32);
    t_ref_mth(lh, 100, want);
    assert_int_equal(kc_txn_head_get(t, 100, &h), 0);
    assert_memory_equal(h.root, want, 32);
    kc_txn_end(&t);
    /* the committed frontier is the redone txn's: the next append continues it */
    assert_int_equal(t_fill(s, 3100, 1, 1), 0);
    kc_store_close(&s);
    s_leaves_free(lh);
    lh = s_leaves(3101);
    assert_int_equal(kc_store_open(&s, d.store, NULL), 0);
    assert_int_equal(kc_store_read_begin(s, &t), 0);
    assert_int_equal(kc_txn_head_last(t, &h), 0);
    t_ref_mth(lh, 3101, want);
    assert_int_equal(h.tree_size, 3101);
    assert_memory_equal(h.root, want, 32);
    kc_txn_end(&t);
    kc_store_close(&s);
    s_leaves_free(lh);
    kc_test_dir_remove(&d);
}

/* Every leaf hash (recomputed from the log), the root of every size in
 * [from, n], and a clean kc_audit_verify. */
static void s_check_all(kc_store_t *s, uint8_t (*lh)[32], uint64_t from, uint64_t n)
{
    kc_txn_t *t;
    assert_int_equal(kc_store_read_begin(s, &t), 0);
    uint64_t size;
    assert_int_equal(kc_txn_merkle_size(t, &size), 0);
    assert_int_equal(size, n);
    for (uint64_t i = 0; i < n; i++) {
        uint8_t h[32];
        assert_int_equal(kc_txn_leaf_hash(t, i, h), 0);
        assert_memory_equal(h, lh[i], 32);
    }
    uint8_t h[32];
    assert_int_equal(kc_txn_leaf_hash(t, n, h), KC_ENOTFOUND);
    assert_int_equal(kc_txn_leaf_hash(t, n + 64, h), KC_ENOTFOUND);
    for (uint64_t m = from; m <= n; m++) {
        uint8_t want[32], got[32];
        t_ref_mth(lh, m, want);
        assert_int_equal(kc_txn_merkle_root(t, m, got), 0);
        assert_memory_equal(got, want, 32);
    }
    uint8_t pk[32];
    assert_int_equal(kc_store_public_key(s, pk), 0);
    kc_audit_report_t rep;
    assert_int_equal(kc_audit_verify(t, pk, &rep, NULL, NULL), 0);
    if (rep.status != KC_AUDIT_OK)
        fprintf(stderr, "verify: %s\n", rep.reason);
    assert_int_equal(rep.status, KC_AUDIT_OK);
    assert_int_equal(rep.log_entries, n);
    /* every complete subtree of level >= 6: sum over l >= 6 of n >> l = 2m - popcount(m) */
    assert_int_equal(rep.nodes_checked, 2 * (n >> 6) - s_popcount(n >> 6));
    kc_txn_end(&t);
}

typedef struct {
    uint64_t first, count;
    uint8_t (*lh)[32];
    unsigned calls; /* times the callback ran (map growth redoes it) */
} s_span_t;

/* Appends [first, first + count) and, before the commit, reads back the
 * leaves, roots and proofs that lie in this txn's appends and before them
 * (the txn's own log records and nodes, not yet committed). */
static int s_span_fn(kc_txn_t *t, void *ctx)
{
    s_span_t *g = ctx;
    g->calls++;
    t_fill_t f = {g->first, g->count, 0};
    int rc = t_fill_fn(t, &f);
    if (rc != 0)
        return rc;
    uint64_t end = g->first + g->count;
    for (uint64_t i = g->first >= 70 ? g->first - 70 : 0; i < end; i++) {
        uint8_t h[32];
        if ((rc = kc_txn_leaf_hash(t, i, h)) != 0)
            return rc;
        if (memcmp(h, g->lh[i], 32) != 0)
            return KC_EFORMAT;
    }
    uint8_t h[32], want[32];
    if (kc_txn_leaf_hash(t, end, h) != KC_ENOTFOUND)
        return KC_EFORMAT;
    for (uint64_t m = end >= 24 ? end - 24 : 1; m <= end; m++) {
        t_ref_mth(g->lh, m, want);
        if ((rc = kc_txn_merkle_root(t, m, h)) != 0)
            return rc;
        if (memcmp(h, want, 32) != 0)
            return KC_EFORMAT;
    }
    uint8_t path[KC_MERKLE_PATH_MAX][32];
    size_t len;
    t_ref_mth(g->lh, end, want);
    uint64_t step = g->count / 40 > 7 ? g->count / 40 : 7; /* <= ~40 proofs a group */
    for (uint64_t m = g->first; m < end; m += step) {
        if ((rc = kc_txn_inclusion_proof(t, m, end, path, &len)) != 0)
            return rc;
        if (!kc_merkle_verify_inclusion(g->lh[m], m, end, (const uint8_t(*)[32])path, len, want))
            return KC_EFORMAT;
    }
    return 0;
}

/* Groups that start and end inside 64-entry blocks (the unit of a stored
 * node of level 6) and span several: every leaf, root and proof readable
 * inside the write txn and after it. */
static void test_groups_span_blocks(void **state)
{
    fixture_t *f = *state;
    const uint64_t n = 1000;
    uint8_t(*lh)[32] = s_leaves(n);
    /* ends: 1, 63 (a block but one), 64 (exactly), 65, 127, 128 (a level-7 node),
     * 129, 600 (from mid-block 2 to mid-block 9), 640 (block 9 full), 641,
     * 999 (five more blocks), 1000 */
    const uint64_t ends[] = {1, 63, 64, 65, 127, 128, 129, 600, 640, 641, 999, 1000};
    uint64_t at = 0;
    for (size_t i = 0; i < sizeof ends / sizeof ends[0]; i++) {
        s_span_t g = {at, ends[i] - at, lh, 0};
        assert_int_equal(kc_store_write(f->s, s_span_fn, &g), 0);
        at = ends[i];
        if (i == 7) { /* reopen mid-block: the next group continues the stored block */
            kc_store_close(&f->s);
            assert_int_equal(kc_store_open(&f->s, f->dir.store, NULL), 0);
        }
    }
    s_check_all(f->s, lh, 0, n);
    s_leaves_free(lh);
}

/* Map growth while a group is mid-block: the aborted txn's log records and
 * nodes are gone and the redo starts again from the committed frontier.
 * Several map sizes put MAP_FULL at different points of the group (log
 * append, a node, the head, the commit). */
static void test_growth_redo_mid_block(void **state)
{
    (void)state;
    const uint64_t n = 3050 + 20;
    uint8_t(*lh)[32] = s_leaves(n);
    const size_t maps[] = {64 << 10, 72 << 10, 96 << 10, 136 << 10, 200 << 10};
    unsigned redone = 0;
    for (size_t mi = 0; mi < sizeof maps / sizeof maps[0]; mi++) {
        kc_test_dir_t d;
        kc_test_dir_make(&d);
        kc_store_t *s = NULL;
        kc_store_opts_t o = {.map_size = maps[mi]};
        assert_int_equal(kc_store_open(&s, d.store, &o), 0);
        kc_store_set_head_interval(s, 0);
        assert_int_equal(t_fill(s, 0, 100, 100), 0); /* mid-block 1 */
        /* from mid-block 1 to mid-block 47 (3050 = 47 * 64 + 42), then within 47 */
        s_span_t gs[] = {{100, 2950, lh, 0}, {3050, 13, lh, 0}, {3063, 7, lh, 0}};
        for (size_t gi = 0; gi < 3; gi++) {
            assert_int_equal(kc_store_write(s, s_span_fn, &gs[gi]), 0);
            if (gs[gi].calls > 1)
                redone++;
        }
        s_check_all(s, lh, n - 40, n);
        kc_store_close(&s);
        assert_int_equal(kc_store_open(&s, d.store, NULL), 0);
        kc_merkle_sth_t h;
        kc_txn_t *t;
        assert_int_equal(kc_store_read_begin(s, &t), 0);
        assert_int_equal(kc_txn_head_last(t, &h), 0);
        kc_txn_end(&t);
        uint8_t want[32];
        t_ref_mth(lh, n, want);
        assert_int_equal(h.tree_size, n);
        assert_memory_equal(h.root, want, 32);
        kc_store_close(&s);
        kc_test_dir_remove(&d);
    }
    assert_true(redone >= 1); /* the map grew under a mid-block group */
    s_leaves_free(lh);
}

static int s_count_head(const kc_merkle_sth_t *h, void *ctx)
{
    (void)h;
    (*(int *)ctx)++;
    return 0;
}

static int s_sign_fn(kc_txn_t *t, void *ctx)
{
    return kc_txn_sign_head(t, ctx);
}

static void test_signed_heads(void **state)
{
    fixture_t *f = *state;
    uint8_t pk[32];
    assert_int_equal(kc_store_public_key(f->s, pk), 0);
    kc_merkle_sth_t h;
    assert_int_equal(kc_store_sign_head(f->s, &h), KC_ENOTFOUND); /* empty tree */
    assert_int_equal(t_fill(f->s, 0, 10, 10), 0);
    assert_int_equal(kc_store_write(f->s, s_sign_fn, &h), 0);
    assert_int_equal(h.tree_size, 10);
    assert_true(kc_merkle_sth_verify(&h, pk));
    assert_int_equal(kc_store_sign_head(f->s, NULL), KC_ENOTFOUND); /* nothing new */
    kc_merkle_sth_t b = h;
    b.tree_size++;
    assert_false(kc_merkle_sth_verify(&b, pk));
    b = h;
    b.timestamp_ns++;
    assert_false(kc_merkle_sth_verify(&b, pk));
    b = h;
    b.root[5] ^= 1;
    assert_false(kc_merkle_sth_verify(&b, pk));
    b = h;
    b.signature[63] ^= 1;
    assert_false(kc_merkle_sth_verify(&b, pk));
    uint8_t other_pk[32], other_sk[64];
    crypto_sign_keypair(other_pk, other_sk);
    assert_false(kc_merkle_sth_verify(&h, other_pk));
    kc_merkle_sth_sign(&b, other_sk); /* a forged head under another key */
    assert_false(kc_merkle_sth_verify(&b, pk));

    /* automatic heads: one per commit that grew the log, none otherwise */
    kc_store_set_head_interval(f->s, 0);
    assert_int_equal(t_fill(f->s, 10, 30, 10), 0);
    t_fill_t none = {40, 0, 0};
    assert_int_equal(kc_store_write(f->s, t_fill_fn, &none), 0);
    kc_store_set_head_interval(f->s, 3600 * 1000); /* due only an hour after the last */
    assert_int_equal(t_fill(f->s, 40, 10, 10), 0);
    kc_txn_t *t;
    assert_int_equal(kc_store_read_begin(f->s, &t), 0);
    int n = 0;
    assert_int_equal(kc_txn_head_scan(t, 0, s_count_head, &n), 0);
    assert_int_equal(n, 4); /* 10, 20, 30, 40 */
    assert_int_equal(kc_txn_head_last(t, &h), 0);
    assert_int_equal(h.tree_size, 40);
    assert_true(kc_merkle_sth_verify(&h, pk));
    kc_merkle_sth_t prev;
    assert_int_equal(kc_txn_head_get(t, 30, &prev), 0);
    assert_true(prev.timestamp_ns <= h.timestamp_ns);
    assert_int_equal(kc_txn_head_get(t, 35, &prev), KC_ENOTFOUND);
    kc_txn_end(&t);
}

static void test_key_file(void **state)
{
    fixture_t *f = *state;
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/audit.key", f->dir.store);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_size, 40);
    uint8_t pk[32], pk2[32];
    assert_int_equal(kc_store_public_key(f->s, pk), 0);
    kc_store_close(&f->s);
    kc_store_opts_t ro = {.read_only = true};
    assert_int_equal(kc_store_open(&f->s, f->dir.store, &ro), 0);
    assert_int_equal(kc_store_public_key(f->s, pk2), 0);
    assert_memory_equal(pk, pk2, 32);
    kc_store_close(&f->s);
    assert_int_equal(kc_store_open(&f->s, f->dir.store, NULL), 0); /* same key again */
    assert_int_equal(kc_store_public_key(f->s, pk2), 0);
    assert_memory_equal(pk, pk2, 32);
    kc_store_close(&f->s);

    /* a lost key: the writer refuses rather than start another chain of heads */
    char saved[PATH_MAX + 40];
    snprintf(saved, sizeof saved, "%s.saved", path);
    assert_int_equal(rename(path, saved), 0);
    kc_test_log_t log;
    kc_test_log_capture(&log);
    assert_int_equal(kc_store_open(&f->s, f->dir.store, NULL), KC_EFORMAT);
    assert_non_null(strstr(log.text, "audit.key is missing"));
    /* another store's key: refused too */
    kc_test_dir_t d2;
    kc_test_dir_make(&d2);
    kc_store_t *s2 = NULL;
    assert_int_equal(kc_store_open(&s2, d2.store, NULL), 0);
    kc_store_close(&s2);
    char other[PATH_MAX + 32];
    snprintf(other, sizeof other, "%s/audit.key", d2.store);
    assert_int_equal(link(other, path), 0);
    assert_int_equal(kc_store_open(&f->s, f->dir.store, NULL), KC_EFORMAT);
    assert_non_null(strstr(log.text, "does not belong"));
    kc_test_log_release();
    unlink(path);
    kc_test_dir_remove(&d2);
    assert_int_equal(rename(saved, path), 0);
    assert_int_equal(kc_store_open(&f->s, f->dir.store, NULL), 0);
}

int main(void)
{
    kc_log_set_level(KC_LOG_WARN);
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ct_vectors),
        cmocka_unit_test(test_leaf_encoding),
        cmocka_unit_test_setup_teardown(test_roots_small_and_large, setup, teardown),
        cmocka_unit_test_setup_teardown(test_proofs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_block_edges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_tree, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
        cmocka_unit_test(test_growth_redo),
        cmocka_unit_test_setup_teardown(test_groups_span_blocks, setup, teardown),
        cmocka_unit_test(test_growth_redo_mid_block),
        cmocka_unit_test_setup_teardown(test_signed_heads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_file, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
