/* logfile_test.c - exported log files (kc_logfile.h): export -> verify round
 * trip, every entry read back equal to the store's log, an independent parse
 * of the bytes against docs/LOGFILE.md, tamper tests (flip, delete, insert,
 * swap, truncate, rewrite, forged head, wrong key, header damage) each with
 * its exact first bad record, and the golden files of tests/logfile/golden.
 *
 * Goldens: `logfile_test --regen DIR` writes them (see golden/README.md) from
 * fixed content (t_entry 0..4), a fixed Ed25519 seed (bytes 0..31) and a fixed
 * head timestamp; Ed25519 signatures are deterministic, so the bytes are too. */
#include "logfile_test_util.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include <cmocka.h>

#define N_ENTRIES 300
#define GROUP     50 /* heads at 50, 100, ..., 300 */
#define G_COUNT   5
#define G_TIME    1700000000123456789ull

typedef struct {
    kc_test_dir_t dir;
    kc_store_t *store;
    uint8_t pk[32];
    char file[PATH_MAX + 64]; /* the export of the latest head */
    int n;                    /* scratch files made */
} fixture_t;

static int group_setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    kc_test_dir_make(&f->dir);
    if (kc_store_open(&f->store, f->dir.store, NULL) != 0)
        return -1;
    kc_store_set_head_interval(f->store, 0);
    if (t_fill(f->store, N_ENTRIES, GROUP) != 0 || kc_store_public_key(f->store, f->pk) != 0)
        return -1;
    snprintf(f->file, sizeof f->file, "%s/log.kclog", f->dir.root);
    if (kc_logfile_export(f->store, f->file, 0, NULL, NULL) != 0)
        return -1;
    *state = f;
    return 0;
}

static int group_teardown(void **state)
{
    fixture_t *f = *state;
    kc_store_close(&f->store);
    kc_test_dir_remove(&f->dir);
    free(f);
    return 0;
}

static void s_scratch(fixture_t *f, char *out, size_t cap)
{
    snprintf(out, cap, "%s/t%d.kclog", f->dir.root, f->n++);
}

/* ---- round trip ---- */

static void s_progress(uint64_t done, uint64_t total, void *ctx)
{
    uint64_t *last = ctx;
    assert_true(done >= *last && done <= total);
    *last = done;
}

static void test_roundtrip_verify(void **state)
{
    fixture_t *f = *state;
    kc_logfile_status_t st;
    uint64_t last = 0;
    assert_int_equal(kc_logfile_verify(f->file, f->pk, &st, s_progress, &last), 0);
    assert_int_equal(st.rc, 0);
    assert_int_equal(last, N_ENTRIES);
    assert_int_equal(kc_logfile_verify(f->file, NULL, &st, NULL, NULL), 0); /* header's key */
    /* nothing left behind */
    char tmp[PATH_MAX + 80];
    snprintf(tmp, sizeof tmp, "%s.tmp", f->file);
    assert_int_not_equal(access(tmp, F_OK), 0);
}

static void test_read_back_equal(void **state)
{
    fixture_t *f = *state;
    kc_logfile_reader_t *r = NULL;
    kc_logfile_status_t st;
    uint8_t pk[32];
    uint64_t n = 0;
    assert_int_equal(kc_logfile_open(&r, f->file, pk, &n, &st), 0);
    assert_memory_equal(pk, f->pk, 32);
    assert_int_equal(n, N_ENTRIES);
    kc_logfile_expect_key(r, f->pk);
    kc_txn_t *t;
    assert_int_equal(kc_store_read_begin(f->store, &t), 0);
    kc_log_entry_t e, s;
    kc_merkle_sth_t h;
    assert_int_equal(kc_logfile_head(r, &h), KC_ENOTFOUND); /* not yet verified */
    uint64_t i = 0;
    int rc;
    while ((rc = kc_logfile_next(r, &e, &st)) == 1) {
        assert_int_equal(kc_txn_log_get(t, i, &s), 0);
        assert_int_equal(e.offset, i);
        assert_int_equal(e.received_ns, s.received_ns);
        assert_int_equal(e.epoch, s.epoch);
        assert_int_equal(e.seq, s.seq);
        assert_int_equal(e.producer_len, s.producer_len);
        assert_memory_equal(e.producer, s.producer, s.producer_len);
        assert_int_equal(e.event_len, s.event_len);
        assert_memory_equal(e.event, s.event, s.event_len);
        i++;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(i, N_ENTRIES);
    assert_int_equal(kc_logfile_next(r, &e, &st), 0); /* stays at the end */
    assert_int_equal(kc_logfile_head(r, &h), 0);
    kc_merkle_sth_t want;
    assert_int_equal(kc_txn_head_last(t, &want), 0);
    assert_memory_equal(&h, &want, sizeof h);
    kc_txn_end(&t);
    kc_logfile_close(&r);
    kc_logfile_close(&r); /* no-op */
}

/* The bytes, parsed here from docs/LOGFILE.md alone, against the store. */
static void test_independent_parse(void **state)
{
    fixture_t *f = *state;
    t_file_t fl = t_file_read(f->file);
    assert_non_null(fl.b);
    assert_memory_equal(fl.b, "\x89KCLOG\r\n", 8);
    assert_int_equal(t_be(fl.b + 8, 4), 1);
    assert_int_equal(t_be(fl.b + 12, 4), 0);
    assert_memory_equal(fl.b + 16, f->pk, 32);
    assert_int_equal(t_be(fl.b + 48, 8), N_ENTRIES);
    uint8_t sum[32];
    crypto_hash_sha256(sum, fl.b, 56);
    assert_memory_equal(fl.b + 56, sum, 32);
    uint8_t(*leaves)[32] = malloc(N_ENTRIES * 32);
    size_t p = 88;
    for (uint64_t i = 0; i < N_ENTRIES; i++) {
        uint8_t ev[T_EV_MAX];
        kc_log_entry_t e;
        t_entry(i, ev, &e);
        size_t len = (size_t)t_be(fl.b + p, 4);
        assert_int_equal(len, 38 + e.producer_len + e.event_len);
        const uint8_t *in = fl.b + p + 4;
        assert_int_equal(in[0], 1);
        assert_int_equal(t_be(in + 1, 8), i);
        assert_int_equal(t_be(in + 9, 8), e.received_ns);
        assert_int_equal(t_be(in + 17, 8), e.epoch);
        assert_int_equal(t_be(in + 25, 8), e.seq);
        assert_int_equal(in[33], e.producer_len);
        assert_memory_equal(in + 34, e.producer, e.producer_len);
        assert_int_equal(t_be(in + 34 + e.producer_len, 4), e.event_len);
        assert_memory_equal(in + 38 + e.producer_len, e.event, e.event_len);
        uint8_t buf[1 + 38 + 255 + T_EV_MAX];
        buf[0] = 0x00;
        memcpy(buf + 1, in, len);
        crypto_hash_sha256(leaves[i], buf, 1 + len);
        assert_memory_equal(in + len, leaves[i], 32);
        p += 4 + len + 32;
    }
    assert_int_equal(fl.len, p + 120);
    const uint8_t *t = fl.b + p;
    assert_memory_equal(t, "\x89KCEND\r\n", 8);
    assert_int_equal(t_be(t + 8, 8), N_ENTRIES);
    uint8_t root[32];
    t_mth(leaves, N_ENTRIES, root);
    assert_memory_equal(t + 24, root, 32);
    uint8_t msg[13 + 8 + 8 + 32];
    memcpy(msg, "kcpipe-sth-v1", 13);
    memcpy(msg + 13, t + 8, 16);
    memcpy(msg + 29, root, 32);
    assert_int_equal(crypto_sign_verify_detached(t + 56, msg, sizeof msg, f->pk), 0);
    free(leaves);
    free(fl.b);
}

static void test_export_sizes(void **state)
{
    fixture_t *f = *state;
    char path[PATH_MAX + 64];
    s_scratch(f, path, sizeof path);
    assert_int_equal(kc_logfile_export(f->store, path, 100, NULL, NULL), 0);
    kc_logfile_status_t st;
    uint64_t n = 0;
    kc_logfile_reader_t *r = NULL;
    assert_int_equal(kc_logfile_open(&r, path, NULL, &n, &st), 0);
    assert_int_equal(n, 100);
    kc_logfile_close(&r);
    assert_int_equal(kc_logfile_verify(path, f->pk, &st, NULL, NULL), 0);
    /* not the size of a signed head: nothing written */
    s_scratch(f, path, sizeof path);
    assert_int_equal(kc_logfile_export(f->store, path, 123, NULL, NULL), KC_ENOTFOUND);
    assert_int_not_equal(access(path, F_OK), 0);
    /* info reads the header and trailer only */
    kc_logfile_info_t info;
    assert_int_equal(kc_logfile_info(f->file, &info, &st), 0);
    assert_int_equal(info.version, 1);
    assert_int_equal(info.count, N_ENTRIES);
    assert_true(info.have_head && info.head_sig_ok);
    assert_int_equal(info.head.tree_size, N_ENTRIES);
}

static void test_export_empty_store(void **state)
{
    fixture_t *f = *state;
    kc_test_dir_t d;
    kc_test_dir_make(&d);
    kc_store_t *s = NULL;
    assert_int_equal(kc_store_open(&s, d.store, NULL), 0);
    char path[PATH_MAX + 64];
    s_scratch(f, path, sizeof path);
    assert_int_equal(kc_logfile_export(s, path, 0, NULL, NULL), KC_ENOTFOUND);
    assert_int_not_equal(access(path, F_OK), 0);
    kc_store_close(&s);
    kc_test_dir_remove(&d);
}

/* ---- tampering ---- */

/* Verify b[len] (written to a scratch file) with the store's key. */
static kc_logfile_status_t s_check(fixture_t *f, const uint8_t *b, size_t len, const uint8_t *key)
{
    char path[PATH_MAX + 64];
    s_scratch(f, path, sizeof path);
    assert_int_equal(t_file_write(path, b, len), 0);
    kc_logfile_status_t st;
    int rc = kc_logfile_verify(path, key ? key : f->pk, &st, NULL, NULL);
    assert_int_equal(rc, st.rc);
    return st;
}

static void s_expect_index(kc_logfile_status_t st, int rc, uint64_t index, const char *why)
{
    if (st.rc != rc || !st.has_bad_index || st.bad_index != index || (why && !strstr(st.why, why)))
        fail_msg("want rc %d index %llu (%s), got rc %d index %s%llu: %s", rc,
                 (unsigned long long)index, why ? why : "", st.rc, st.has_bad_index ? "" : "none ",
                 (unsigned long long)st.bad_index, st.why);
}

typedef struct {
    t_file_t f;
    size_t pos[N_ENTRIES + 1];
} s_img_t;

static s_img_t *s_img(fixture_t *f)
{
    s_img_t *m = calloc(1, sizeof *m);
    m->f = t_file_read(f->file);
    assert_non_null(m->f.b);
    assert_int_equal(t_records(&m->f, m->pos, N_ENTRIES + 1), N_ENTRIES);
    return m;
}

static void s_img_free(s_img_t *m)
{
    free(m->f.b);
    free(m);
}

static size_t s_rec_len(const s_img_t *m, uint64_t k)
{
    return m->pos[k + 1] - m->pos[k];
}

static void test_tamper_flip(void **state)
{
    fixture_t *f = *state;
    s_img_t *m = s_img(f);
    const uint64_t ks[] = {0, 137, N_ENTRIES - 1};
    for (size_t i = 0; i < 3; i++) {
        uint64_t k = ks[i];
        /* in the event bytes, in the leaf input's offset, in the stored hash, in the length */
        const size_t at[] = {s_rec_len(m, k) - 33, 4 + 5, s_rec_len(m, k) - 1, 3};
        for (size_t j = 0; j < 4; j++) {
            m->f.b[m->pos[k] + at[j]] ^= 0x10;
            s_expect_index(s_check(f, m->f.b, m->f.len, NULL), j == 3 ? KC_EFORMAT : KC_EPROTO, k,
                           NULL);
            m->f.b[m->pos[k] + at[j]] ^= 0x10;
        }
    }
    s_img_free(m);
}

static void test_tamper_delete(void **state)
{
    fixture_t *f = *state;
    s_img_t *m = s_img(f);
    const uint64_t ks[] = {0, 200, N_ENTRIES - 1};
    uint8_t *b = malloc(m->f.len);
    for (size_t i = 0; i < 3; i++) {
        uint64_t k = ks[i];
        size_t rl = s_rec_len(m, k), head = m->pos[k];
        memcpy(b, m->f.b, head);
        memcpy(b + head, m->f.b + head + rl, m->f.len - head - rl);
        kc_logfile_status_t st = s_check(f, b, m->f.len - rl, NULL);
        if (k == N_ENTRIES - 1) /* the trailer's magic is where record N-1 belongs */
            s_expect_index(st, KC_EFORMAT, k, "found the signed head after only 299 records");
        else
            s_expect_index(st, KC_EPROTO, k, "holds the entry of offset");
    }
    free(b);
    s_img_free(m);
}

static void test_tamper_insert(void **state)
{
    fixture_t *f = *state;
    s_img_t *m = s_img(f);
    uint8_t *b = malloc(m->f.len + 4096);
    /* a copy of record j inserted before record k */
    const uint64_t js[] = {5, 10, N_ENTRIES - 1}, ks[] = {0, 77, N_ENTRIES};
    for (size_t i = 0; i < 3; i++) {
        uint64_t j = js[i], k = ks[i];
        size_t rl = s_rec_len(m, j), at = m->pos[k];
        memcpy(b, m->f.b, at);
        memcpy(b + at, m->f.b + m->pos[j], rl);
        memcpy(b + at + rl, m->f.b + at, m->f.len - at);
        kc_logfile_status_t st = s_check(f, b, m->f.len + rl, NULL);
        if (k == N_ENTRIES) /* after the last record: where the trailer belongs */
            s_expect_index(st, KC_EFORMAT, k, "where the trailer belongs");
        else
            s_expect_index(st, KC_EPROTO, k, "holds the entry of offset");
    }
    free(b);
    s_img_free(m);
}

static void test_tamper_swap(void **state)
{
    fixture_t *f = *state;
    s_img_t *m = s_img(f);
    uint8_t *b = malloc(m->f.len);
    const uint64_t as[] = {0, 40, 298}, bs[] = {1, 260, 299};
    for (size_t i = 0; i < 3; i++) {
        uint64_t x = as[i], y = bs[i];
        size_t lx = s_rec_len(m, x), ly = s_rec_len(m, y), p = 0;
        memcpy(b, m->f.b, m->pos[x]);
        p = m->pos[x];
        memcpy(b + p, m->f.b + m->pos[y], ly);
        p += ly;
        memcpy(b + p, m->f.b + m->pos[x + 1], m->pos[y] - m->pos[x + 1]);
        p += m->pos[y] - m->pos[x + 1];
        memcpy(b + p, m->f.b + m->pos[x], lx);
        p += lx;
        memcpy(b + p, m->f.b + m->pos[y + 1], m->f.len - m->pos[y + 1]);
        p += m->f.len - m->pos[y + 1];
        assert_int_equal(p, m->f.len);
        s_expect_index(s_check(f, b, p, NULL), KC_EPROTO, x, "holds the entry of offset");
    }
    free(b);
    s_img_free(m);
}

static void test_tamper_truncate(void **state)
{
    fixture_t *f = *state;
    s_img_t *m = s_img(f);
    char want[64];
    const uint64_t ks[] = {0, 150, N_ENTRIES - 1};
    for (size_t i = 0; i < 3; i++) {
        uint64_t k = ks[i];
        snprintf(want, sizeof want, "truncated at record %llu (of %d)", (unsigned long long)k,
                 N_ENTRIES);
        /* at the record boundary, inside the length, inside the record */
        const size_t cut[] = {m->pos[k], m->pos[k] + 2, m->pos[k] + s_rec_len(m, k) / 2,
                              m->pos[k + 1] - 1};
        for (size_t j = 0; j < 4; j++) {
            kc_logfile_status_t st = s_check(f, m->f.b, cut[j], NULL);
            s_expect_index(st, KC_EFORMAT, k, want);
            assert_true(st.truncated);
        }
    }
    /* in the trailer, and with no trailer at all */
    kc_logfile_status_t st = s_check(f, m->f.b, m->f.len - 1, NULL);
    assert_int_equal(st.rc, KC_EFORMAT);
    assert_true(st.truncated && !st.has_bad_index);
    assert_non_null(strstr(st.why, "truncated in the signed head"));
    st = s_check(f, m->f.b, m->pos[N_ENTRIES], NULL);
    assert_true(st.rc == KC_EFORMAT && st.truncated && !st.has_bad_index);
    assert_non_null(strstr(st.why, "without the signed head"));
    /* in the header */
    st = s_check(f, m->f.b, 40, NULL);
    assert_true(st.rc == KC_EFORMAT && st.truncated);
    assert_non_null(strstr(st.why, "truncated in the header"));
    s_img_free(m);
}

/* A record changed together with its leaf hash: only the root can tell. */
static void test_tamper_rewrite(void **state)
{
    fixture_t *f = *state;
    s_img_t *m = s_img(f);
    uint64_t k = 99;
    size_t len = s_rec_len(m, k) - 36;
    uint8_t *in = m->f.b + m->pos[k] + 4;
    in[len - 1] ^= 0x01;
    kc_merkle_leaf_hash_raw(in, len, in + len);
    kc_logfile_status_t st = s_check(f, m->f.b, m->f.len, NULL);
    assert_int_equal(st.rc, KC_EPROTO);
    assert_false(st.has_bad_index);
    assert_non_null(strstr(st.why, "do not hash to the signed root"));
    s_img_free(m);
}

static void test_tamper_head(void **state)
{
    fixture_t *f = *state;
    s_img_t *m = s_img(f);
    uint8_t *t = m->f.b + m->pos[N_ENTRIES];
    /* timestamp changed: the signature fails */
    t[23] ^= 0x01;
    kc_logfile_status_t st = s_check(f, m->f.b, m->f.len, NULL);
    assert_int_equal(st.rc, KC_EPROTO);
    assert_false(st.has_bad_index);
    assert_non_null(strstr(st.why, "signature does not verify with the expected key"));
    t[23] ^= 0x01;
    /* a head forged with another key, with the header's key replaced to match */
    uint8_t pk2[32], sk2[64];
    crypto_sign_keypair(pk2, sk2);
    kc_merkle_sth_t h = {.tree_size = N_ENTRIES, .timestamp_ns = t_be(t + 16, 8)};
    memcpy(h.root, t + 24, 32);
    kc_merkle_sth_sign(&h, sk2);
    memcpy(t + 56, h.signature, 64);
    memcpy(m->f.b + 16, pk2, 32);
    crypto_hash_sha256(m->f.b + 56, m->f.b, 56);
    st = s_check(f, m->f.b, m->f.len, NULL); /* the auditor's key: refused */
    assert_int_equal(st.rc, KC_EPROTO);
    assert_non_null(strstr(st.why, "not the expected key"));
    st = s_check(f, m->f.b, m->f.len, pk2); /* self-consistent with the forger's key */
    assert_int_equal(st.rc, 0);
    /* a wrong size in the head */
    s_img_free(m);
    m = s_img(f);
    t = m->f.b + m->pos[N_ENTRIES];
    t[15] ^= 0x02;
    st = s_check(f, m->f.b, m->f.len, NULL);
    assert_int_equal(st.rc, KC_EPROTO);
    assert_non_null(strstr(st.why, "signed head is of size 302"));
    t[15] ^= 0x02;
    /* data after the trailer */
    m->f.b = realloc(m->f.b, m->f.len + 1);
    m->f.b[m->f.len] = '\n';
    st = s_check(f, m->f.b, m->f.len + 1, NULL);
    assert_int_equal(st.rc, KC_EFORMAT);
    assert_non_null(strstr(st.why, "data after the trailer"));
    s_img_free(m);
}

static void test_wrong_key(void **state)
{
    fixture_t *f = *state;
    uint8_t other[32];
    memcpy(other, f->pk, 32);
    other[0] ^= 0x80;
    kc_logfile_status_t st;
    assert_int_equal(kc_logfile_verify(f->file, other, &st, NULL, NULL), KC_EPROTO);
    assert_false(st.has_bad_index);
    assert_non_null(strstr(st.why, "not the expected key"));
}

static void test_tamper_header(void **state)
{
    fixture_t *f = *state;
    s_img_t *m = s_img(f);
    kc_logfile_status_t st;
    /* a changed count: the checksum */
    m->f.b[55] ^= 0x01;
    st = s_check(f, m->f.b, m->f.len, NULL);
    assert_int_equal(st.rc, KC_EFORMAT);
    assert_string_equal(st.why, "corrupt header (checksum mismatch)");
    m->f.b[55] ^= 0x01;
    /* a count changed with its checksum recomputed */
    uint8_t keep[32];
    memcpy(keep, m->f.b + 56, 32);
    m->f.b[55] ^= 0x01; /* 301 */
    crypto_hash_sha256(m->f.b + 56, m->f.b, 56);
    s_expect_index(s_check(f, m->f.b, m->f.len, NULL), KC_EFORMAT, N_ENTRIES,
                   "found the signed head after only 300 records");
    m->f.b[55] ^= 0x07; /* 298 */
    crypto_hash_sha256(m->f.b + 56, m->f.b, 56);
    s_expect_index(s_check(f, m->f.b, m->f.len, NULL), KC_EFORMAT, 298,
                   "where the trailer belongs");
    m->f.b[55] ^= 0x06; /* 300 again */
    memcpy(m->f.b + 56, keep, 32);
    /* flags */
    m->f.b[15] = 1;
    crypto_hash_sha256(m->f.b + 56, m->f.b, 56);
    st = s_check(f, m->f.b, m->f.len, NULL);
    assert_string_equal(st.why, "unknown header flags 0x00000001 (format version 1 defines none)");
    m->f.b[15] = 0;
    memcpy(m->f.b + 56, keep, 32);
    /* text-mode transfer: CRLF -> LF in the magic */
    uint8_t *b = malloc(m->f.len);
    memcpy(b, m->f.b, 6);
    memcpy(b + 6, m->f.b + 7, m->f.len - 7);
    st = s_check(f, b, m->f.len - 1, NULL);
    assert_int_equal(st.rc, KC_EFORMAT);
    assert_non_null(strstr(st.why, "text mode"));
    memcpy(b, "KCLOG 1\n", 8);
    st = s_check(f, b, 8, NULL);
    assert_string_equal(st.why, "not a kcpipe log file (bad magic)");
    free(b);
    s_img_free(m);
}

static void test_missing_file(void **state)
{
    fixture_t *f = *state;
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/nope.kclog", f->dir.root);
    kc_logfile_status_t st;
    assert_int_equal(kc_logfile_verify(path, f->pk, &st, NULL, NULL), -ENOENT);
    assert_non_null(strstr(st.why, "cannot open"));
}

/* ---- goldens ---- */

static void s_golden_key(uint8_t pk[32], uint8_t sk[64])
{
    uint8_t seed[32];
    for (int i = 0; i < 32; i++)
        seed[i] = (uint8_t)i;
    crypto_sign_seed_keypair(pk, sk, seed);
}

/* The current-version golden, written through the library's writer. */
static int s_golden_write(const char *path)
{
    uint8_t pk[32], sk[64];
    s_golden_key(pk, sk);
    kc_logfile_writer_t *w = NULL;
    int rc = kc_logfile_writer_open(&w, path, pk, G_COUNT);
    for (uint64_t i = 0; rc == 0 && i < G_COUNT; i++) {
        uint8_t ev[T_EV_MAX];
        kc_log_entry_t e;
        t_entry(i, ev, &e);
        rc = kc_logfile_writer_add(w, &e);
    }
    if (rc != 0) {
        kc_logfile_writer_abort(&w);
        return rc;
    }
    kc_merkle_sth_t h = {.tree_size = G_COUNT, .timestamp_ns = G_TIME};
    kc_logfile_writer_root(w, h.root);
    kc_merkle_sth_sign(&h, sk);
    return kc_logfile_writer_finish(&w, &h);
}

/* The other goldens, derived from the current one's bytes. */
static int s_golden_derive(const char *dir)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/current.kclog", dir);
    t_file_t fl = t_file_read(p);
    size_t pos[G_COUNT + 1];
    if (!fl.b || t_records(&fl, pos, G_COUNT + 1) != G_COUNT)
        return -1;
    int rc = 0;
    snprintf(p, sizeof p, "%s/truncated.kclog", dir); /* ends inside record 3 */
    rc |= t_file_write(p, fl.b, pos[3] + 20);
    fl.b[pos[2] + 4 + 40] ^= 0x01; /* a byte of record 2's event */
    snprintf(p, sizeof p, "%s/corrupt.kclog", dir);
    rc |= t_file_write(p, fl.b, fl.len);
    fl.b[pos[2] + 4 + 40] ^= 0x01;
    fl.b[11] = 2; /* version 2, its checksum recomputed: only the version differs */
    crypto_hash_sha256(fl.b + 56, fl.b, 56);
    snprintf(p, sizeof p, "%s/unsupported-version.kclog", dir);
    rc |= t_file_write(p, fl.b, fl.len);
    free(fl.b);
    return rc;
}

static void s_golden_path(char *out, size_t cap, const char *name)
{
    const char *src = getenv("KC_SOURCE_DIR");
    snprintf(out, cap, "%s/tests/logfile/golden/%s", src ? src : "../..", name);
}

/* The public key of the golden seed (bytes 0..31). */
#define G_PUBKEY "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8"

static void test_golden_current(void **state)
{
    fixture_t *f = *state;
    char path[PATH_MAX];
    s_golden_path(path, sizeof path, "current.kclog");
    uint8_t gpk[32], sk[64], want_pk[32];
    s_golden_key(gpk, sk);
    assert_int_equal(kc_merkle_unhex(G_PUBKEY, want_pk, 32), 0);
    assert_memory_equal(gpk, want_pk, 32);
    /* today's writer produces exactly the committed bytes */
    char mine[PATH_MAX + 64];
    s_scratch(f, mine, sizeof mine);
    assert_int_equal(s_golden_write(mine), 0);
    t_file_t a = t_file_read(path), b = t_file_read(mine);
    assert_non_null(a.b);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.b, b.b, a.len);
    free(a.b);
    free(b.b);
    /* and today's reader accepts it and reports its exact content */
    kc_logfile_reader_t *r = NULL;
    kc_logfile_status_t st;
    uint8_t pk[32];
    uint64_t n;
    assert_int_equal(kc_logfile_open(&r, path, pk, &n, &st), 0);
    assert_memory_equal(pk, want_pk, 32);
    assert_int_equal(n, G_COUNT);
    kc_logfile_expect_key(r, want_pk);
    kc_log_entry_t e;
    for (uint64_t i = 0; i < G_COUNT; i++) {
        uint8_t ev[T_EV_MAX];
        kc_log_entry_t w;
        t_entry(i, ev, &w);
        assert_int_equal(kc_logfile_next(r, &e, &st), 1);
        assert_int_equal(e.offset, i);
        assert_int_equal(e.received_ns, w.received_ns);
        assert_int_equal(e.epoch, w.epoch);
        assert_int_equal(e.seq, w.seq);
        assert_int_equal(e.producer_len, w.producer_len);
        assert_memory_equal(e.producer, w.producer, w.producer_len);
        assert_int_equal(e.event_len, w.event_len);
        assert_memory_equal(e.event, w.event, w.event_len);
    }
    assert_int_equal(kc_logfile_next(r, &e, &st), 0);
    kc_merkle_sth_t h;
    assert_int_equal(kc_logfile_head(r, &h), 0);
    assert_int_equal(h.tree_size, G_COUNT);
    assert_int_equal(h.timestamp_ns, G_TIME);
    char root[65];
    kc_merkle_hex(h.root, 32, root);
    uint8_t(*leaves)[32] = malloc(G_COUNT * 32);
    for (uint64_t i = 0; i < G_COUNT; i++) {
        uint8_t ev[T_EV_MAX];
        kc_log_entry_t w;
        kc_merkle_leaf_t l;
        t_entry(i, ev, &w);
        kc_log_entry_leaf(&w, &l);
        kc_merkle_leaf_hash(&l, leaves[i]);
    }
    uint8_t want_root[32];
    t_mth(leaves, G_COUNT, want_root);
    assert_memory_equal(h.root, want_root, 32);
    free(leaves);
    kc_logfile_close(&r);
}

static void s_golden_expect(const char *name, int rc, bool has_index, uint64_t index,
                            bool truncated, const char *why)
{
    char path[PATH_MAX];
    s_golden_path(path, sizeof path, name);
    uint8_t pk[32];
    assert_int_equal(kc_merkle_unhex(G_PUBKEY, pk, 32), 0);
    kc_logfile_status_t st;
    int got = kc_logfile_verify(path, pk, &st, NULL, NULL);
    if (got != rc || st.has_bad_index != has_index || st.bad_index != index ||
        st.truncated != truncated || strcmp(st.why, why) != 0)
        fail_msg("%s: rc %d index %d/%llu truncated %d: %s", name, got, st.has_bad_index,
                 (unsigned long long)st.bad_index, st.truncated, st.why);
}

static void test_golden_truncated(void **state)
{
    (void)state;
    s_golden_expect("truncated.kclog", KC_EFORMAT, true, 3, true, "truncated at record 3 (of 5)");
}

static void test_golden_unsupported_version(void **state)
{
    (void)state;
    s_golden_expect("unsupported-version.kclog", KC_EFORMAT, false, 0, false,
                    "unsupported log file format version 2 (this reader knows version 1)");
}

static void test_golden_corrupt(void **state)
{
    (void)state;
    s_golden_expect("corrupt.kclog", KC_EPROTO, true, 2, false,
                    "record 2: its leaf hash does not match its contents");
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0)
        return 1;
    if (argc == 3 && strcmp(argv[1], "--regen") == 0) {
        char p[PATH_MAX];
        snprintf(p, sizeof p, "%s/current.kclog", argv[2]);
        int rc = s_golden_write(p);
        if (rc == 0)
            rc = s_golden_derive(argv[2]);
        fprintf(stderr, "goldens in %s: %s\n", argv[2], rc == 0 ? "written" : "FAILED");
        return rc == 0 ? 0 : 1;
    }
    kc_log_set_level(KC_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_verify),
        cmocka_unit_test(test_read_back_equal),
        cmocka_unit_test(test_independent_parse),
        cmocka_unit_test(test_export_sizes),
        cmocka_unit_test(test_export_empty_store),
        cmocka_unit_test(test_tamper_flip),
        cmocka_unit_test(test_tamper_delete),
        cmocka_unit_test(test_tamper_insert),
        cmocka_unit_test(test_tamper_swap),
        cmocka_unit_test(test_tamper_truncate),
        cmocka_unit_test(test_tamper_rewrite),
        cmocka_unit_test(test_tamper_head),
        cmocka_unit_test(test_wrong_key),
        cmocka_unit_test(test_tamper_header),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_golden_current),
        cmocka_unit_test(test_golden_truncated),
        cmocka_unit_test(test_golden_unsupported_version),
        cmocka_unit_test(test_golden_corrupt),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
