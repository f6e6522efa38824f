/* logfile_test_util.h - stores with signed heads, raw file surgery and a naive
 * reference parser for the log file tests (written from docs/LOGFILE.md). */
#ifndef KC_LOGFILE_TEST_UTIL_H
#define KC_LOGFILE_TEST_UTIL_H

#include "../store/store_test_util.h"
#include "kc_audit.h"
#include "kc_err.h"
#include "kc_logfile.h"

#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T_EV_MAX 256

/* Entry i: producer one of five names, epoch 3 + i / 100, seq i + 1,
 * received 1.7e18 + i * 1000003 ns, event bytes kc_test_pattern(i) of
 * 1 + (i * 29) % 180 bytes. */
static inline void t_entry(uint64_t i, uint8_t ev[T_EV_MAX], kc_log_entry_t *e)
{
    static const char *const names[] = {"prov-79", "prov-01", "p", "prov-92", "a-long-producer"};
    size_t len = 1 + (size_t)((i * 29) % 180);
    kc_test_pattern(ev, len, i);
    memset(e, 0, sizeof *e);
    e->offset = i;
    e->received_ns = 1700000000000000000ull + i * 1000003u;
    e->epoch = 3 + i / 100;
    e->seq = i + 1;
    e->producer = names[i % 5];
    e->producer_len = strlen(e->producer);
    e->event = ev;
    e->event_len = len;
}

typedef struct {
    uint64_t first, count;
} t_fill_t;

static inline int t_fill_fn(kc_txn_t *t, void *ctx)
{
    t_fill_t *f = ctx;
    uint8_t ev[T_EV_MAX];
    for (uint64_t i = f->first; i < f->first + f->count; i++) {
        kc_log_entry_t e;
        t_entry(i, ev, &e);
        int rc = kc_txn_log_append(t, &e, NULL);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Append entries [0, n) in writes of `group` entries; with head interval 0
 * each write signs a head (sizes group, 2 * group, ..., n). */
static inline int t_fill(kc_store_t *s, uint64_t n, uint64_t group)
{
    for (uint64_t i = 0; i < n; i += group) {
        t_fill_t f = {i, n - i < group ? n - i : group};
        int rc = kc_store_write(s, t_fill_fn, &f);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* ---- whole files in memory ---- */

typedef struct {
    uint8_t *b;
    size_t len;
} t_file_t;

static inline t_file_t t_file_read(const char *path)
{
    t_file_t f = {NULL, 0};
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return f;
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    f.b = malloc(n > 0 ? (size_t)n : 1);
    f.len = fread(f.b, 1, (size_t)n, fp);
    fclose(fp);
    return f;
}

static inline int t_file_write(const char *path, const uint8_t *b, size_t len)
{
    FILE *fp = fopen(path, "wb");
    if (!fp)
        return -1;
    size_t w = fwrite(b, 1, len, fp);
    return fclose(fp) == 0 && w == len ? 0 : -1;
}

static inline uint64_t t_be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* Byte positions of the records of a well-formed file: pos[i] = start of
 * record i (its length field), pos[n] = start of the trailer. Returns n. */
static inline uint64_t t_records(const t_file_t *f, size_t *pos, size_t cap)
{
    uint64_t n = t_be(f->b + 48, 8);
    size_t p = 88;
    for (uint64_t i = 0; i < n && i < cap; i++) {
        pos[i] = p;
        p += 4 + t_be(f->b + p, 4) + 32;
    }
    if (n < cap)
        pos[n] = p;
    return n;
}

/* ---- an independent RFC 6962 root ---- */

static inline void t_mth(uint8_t (*leaves)[32], uint64_t n, uint8_t out[32])
{
    if (n == 0) {
        crypto_hash_sha256(out, (const uint8_t *)"", 0);
        return;
    }
    if (n == 1) {
        memcpy(out, leaves[0], 32);
        return;
    }
    uint64_t k = 1;
    while (2 * k < n)
        k *= 2;
    uint8_t buf[65];
    buf[0] = 0x01;
    t_mth(leaves, k, buf + 1);
    t_mth(leaves + k, n - k, buf + 33);
    crypto_hash_sha256(out, buf, sizeof buf);
}

#endif
