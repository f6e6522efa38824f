/* audit_test_util.h - entries, an independent RFC 6962 reference and store fill for tests/audit.
 *
 * The reference here is deliberately naive and written from RFC 6962 2.1 and
 * docs/AUDIT.md alone: its own byte-by-byte leaf encoding, a recursive MTH,
 * PATH and PROOF over an array of leaf hashes. The library must agree with it.
 * Its one concession to time: t_ref_memo_on(leaves, n) keeps, until
 * t_ref_memo_off(), the MTH of every complete subtree of 64 leaves or more
 * (aligned, 2^k leaves) of that array once computed, so that the thousands of
 * roots and proofs a test checks over the same leaves do not hash them again
 * (81% of merkle_test's instructions, 105 s of the valgrind pass, before). The
 * values are those of the literal recursion; the array must not change while
 * the memo is on.
 */
#ifndef KC_AUDIT_TEST_UTIL_H
#define KC_AUDIT_TEST_UTIL_H

#include "../store/store_test_util.h"
#include "kc_audit.h"
#include "kc_err.h"

#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define T_EVENT_MAX 256

/* Entry i: producer "prov-<i % 5>", epoch 7 + i / 1000, seq i + 1, event bytes
 * pattern(i) of 1 + (i * 13) % 200 bytes; except entry T_REAL_OFFSET, a real
 * Event (event_id "EV-123", province 79, 2025-07): a format-4 identity must
 * name a logged Event with its event_id (audit_tool_test proves this one). */
#define T_REAL_OFFSET 123
static inline const char *t_producer(uint64_t i)
{
    static const char *const names[] = {"prov-79", "prov-01", "prov-92", "p", "prov-long-name-xx"};
    return names[i % 5];
}

static inline size_t t_event_len(uint64_t i)
{
    return 1 + (size_t)((i * 13) % 200);
}

static inline void t_entry(uint64_t i, uint8_t ev[T_EVENT_MAX], kc_log_entry_t *e)
{
    kc_test_pattern(ev, t_event_len(i), i);
    memset(e, 0, sizeof *e);
    e->offset = i;
    e->received_ns = 1700000000000000000ull + i * 1000003u;
    e->epoch = 7 + i / 1000;
    e->seq = i + 1;
    e->producer = t_producer(i);
    e->producer_len = strlen(e->producer);
    e->event = ev;
    e->event_len = t_event_len(i);
    if (i == T_REAL_OFFSET)
        e->event_len = kc_test_event(ev, T_EVENT_MAX, "EV-123", "79", 2025, 7, 0, NULL, 0, 1000);
}

static inline void t_put64(uint8_t **p, uint64_t v)
{
    for (int s = 56; s >= 0; s -= 8)
        *(*p)++ = (uint8_t)(v >> s);
}

/* The reference leaf hash of entry i: SHA-256(0x00 || encoding v1). */
static inline void t_ref_leaf(uint64_t i, uint8_t out[32])
{
    uint8_t ev[T_EVENT_MAX], buf[1 + 38 + 255 + T_EVENT_MAX], *p = buf;
    kc_log_entry_t e;
    t_entry(i, ev, &e);
    *p++ = 0x00;
    *p++ = 1;
    t_put64(&p, i);
    t_put64(&p, e.received_ns);
    t_put64(&p, e.epoch);
    t_put64(&p, e.seq);
    *p++ = (uint8_t)e.producer_len;
    memcpy(p, e.producer, e.producer_len);
    p += e.producer_len;
    *p++ = (uint8_t)(e.event_len >> 24);
    *p++ = (uint8_t)(e.event_len >> 16);
    *p++ = (uint8_t)(e.event_len >> 8);
    *p++ = (uint8_t)e.event_len;
    memcpy(p, e.event, e.event_len);
    p += e.event_len;
    crypto_hash_sha256(out, buf, (unsigned long long)(p - buf));
}

static inline void t_ref_node(const uint8_t l[32], const uint8_t r[32], uint8_t out[32])
{
    uint8_t buf[65];
    buf[0] = 0x01;
    memcpy(buf + 1, l, 32);
    memcpy(buf + 33, r, 32);
    crypto_hash_sha256(out, buf, sizeof buf);
}

static inline uint64_t t_split(uint64_t n)
{
    uint64_t k = 1;
    while (2 * k < n)
        k *= 2;
    return k;
}

/* The memo (see the top): one array at a time. */
typedef struct {
    uintptr_t base; /* the leaves array, n leaves */
    uint64_t n;
    uint8_t *slots; /* 33 bytes per complete subtree: its MTH, then 1 once known */
} t_ref_memo_t;

static inline t_ref_memo_t *t_ref_memo(void)
{
    static t_ref_memo_t m;
    return &m;
}

static inline void t_ref_memo_off(void)
{
    t_ref_memo_t *m = t_ref_memo();
    free(m->slots);
    memset(m, 0, sizeof *m);
}

static inline void t_ref_memo_on(uint8_t (*leaves)[32], uint64_t n)
{
    t_ref_memo_off();
    t_ref_memo_t *m = t_ref_memo();
    uint64_t count = 0;
    for (uint64_t size = 64; size <= n; size <<= 1)
        count += n / size;
    m->slots = calloc(count ? count : 1, 33);
    if (m->slots) {
        m->base = (uintptr_t)leaves;
        m->n = n;
    }
}

/* The slot of the complete subtree leaves[0..n-1], or NULL when it has none. */
static inline uint8_t *t_ref_memo_slot(uint8_t (*leaves)[32], uint64_t n)
{
    t_ref_memo_t *m = t_ref_memo();
    uintptr_t p = (uintptr_t)leaves;
    if (!m->slots || n < 64 || (n & (n - 1)) != 0 || p < m->base || (p - m->base) % 32 != 0)
        return NULL;
    uint64_t off = (uint64_t)(p - m->base) / 32;
    if (off > m->n || n > m->n - off || off % n != 0)
        return NULL;
    uint64_t idx = off / n;
    for (uint64_t size = 64; size < n; size <<= 1)
        idx += m->n / size;
    return m->slots + idx * 33;
}

/* MTH(D[n]) over leaves[0..n-1] (RFC 6962 2.1, literally; memoised, see the top). */
static inline void t_ref_mth(uint8_t (*leaves)[32], uint64_t n, uint8_t out[32])
{
    if (n == 0) {
        crypto_hash_sha256(out, (const uint8_t *)"", 0);
        return;
    }
    if (n == 1) {
        memcpy(out, leaves[0], 32);
        return;
    }
    uint8_t *memo = t_ref_memo_slot(leaves, n);
    if (memo && memo[32]) {
        memcpy(out, memo, 32);
        return;
    }
    uint64_t k = t_split(n);
    uint8_t l[32], r[32];
    t_ref_mth(leaves, k, l);
    t_ref_mth(leaves + k, n - k, r);
    t_ref_node(l, r, out);
    if (memo) {
        memcpy(memo, out, 32);
        memo[32] = 1;
    }
}

/* PATH(m, D[n]) appended to out[*len]. */
static inline void t_ref_path(uint8_t (*leaves)[32], uint64_t m, uint64_t n, uint8_t (*out)[32],
                              size_t *len)
{
    if (n <= 1)
        return;
    uint64_t k = t_split(n);
    if (m < k) {
        t_ref_path(leaves, m, k, out, len);
        t_ref_mth(leaves + k, n - k, out[(*len)++]);
    } else {
        t_ref_path(leaves + k, m - k, n - k, out, len);
        t_ref_mth(leaves, k, out[(*len)++]);
    }
}

/* SUBPROOF(m, D[n], b). */
static inline void t_ref_subproof(uint8_t (*leaves)[32], uint64_t m, uint64_t n, int b,
                                  uint8_t (*out)[32], size_t *len)
{
    if (m == n) {
        if (!b)
            t_ref_mth(leaves, n, out[(*len)++]);
        return;
    }
    uint64_t k = t_split(n);
    if (m <= k) {
        t_ref_subproof(leaves, m, k, b, out, len);
        t_ref_mth(leaves + k, n - k, out[(*len)++]);
    } else {
        t_ref_subproof(leaves + k, m - k, n - k, 0, out, len);
        t_ref_mth(leaves, k, out[(*len)++]);
    }
}

/* The public RFC 6962 test tree (certificate-transparency's merkle tree tests,
 * also transparency-dev/merkle's): its 8 leaves' data in hex, and the roots of
 * its first 1..8 leaves. */
static const char *const t_ct_leaves[8] = {"",
                                           "00",
                                           "10",
                                           "2021",
                                           "3031",
                                           "40414243",
                                           "5051525354555657",
                                           "606162636465666768696a6b6c6d6e6f"};
static const char *const t_ct_roots[8] = {
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"};

/* Append entries [first, first + count) in one write transaction. */
typedef struct {
    uint64_t first, count;
    unsigned calls; /* times the callback ran (map growth redoes it) */
} t_fill_t;

static inline int t_fill_fn(kc_txn_t *t, void *ctx)
{
    t_fill_t *f = ctx;
    f->calls++;
    uint8_t ev[T_EVENT_MAX];
    for (uint64_t i = f->first; i < f->first + f->count; i++) {
        kc_log_entry_t e;
        t_entry(i, ev, &e);
        uint64_t off;
        int rc = kc_txn_log_append(t, &e, &off);
        if (rc != 0)
            return rc;
        if (off != i)
            return KC_EINVAL;
    }
    return 0;
}

/* Append [first, first + count) in groups of `group` entries. */
static inline int t_fill(kc_store_t *s, uint64_t first, uint64_t count, uint64_t group)
{
    for (uint64_t i = first; i < first + count; i += group) {
        t_fill_t f = {i, first + count - i < group ? first + count - i : group, 0};
        int rc = kc_store_write(s, t_fill_fn, &f);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* leaves[i] = t_ref_leaf(i) for i < n (caller frees). */
static inline uint8_t (*t_ref_leaves(uint64_t n))[32]
{
    uint8_t(*l)[32] = malloc((n ? n : 1) * 32);
    for (uint64_t i = 0; l && i < n; i++)
        t_ref_leaf(i, l[i]);
    return l;
}

#endif
