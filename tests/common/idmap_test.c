/* idmap_test.c - kc_idmap: the string-key index (issue 14). Insert and find,
 * growth over many keys, keys with NUL bytes and shared prefixes, absent keys,
 * copies, colliding hashes. */
#include "kc_err.h"
#include "kc_idmap.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

typedef struct {
    char key[32];
    size_t len;
} rec_t;

typedef struct {
    rec_t *recs;
    size_t n, cap;
    kc_idmap_t map;
    size_t key_calls;
} tab_t;

static const char *key_of(const void *ctx, uint32_t index, size_t *len)
{
    tab_t *t = (tab_t *)ctx;
    assert_true(index < t->n);
    t->key_calls++;
    *len = t->recs[index].len;
    return t->recs[index].key;
}

static uint32_t find(tab_t *t, const char *key, size_t len)
{
    return kc_idmap_find(&t->map, key, len, kc_idmap_hash(0, key, len), key_of, t);
}

/* Add (key, len), known absent: its index. */
static uint32_t add(tab_t *t, const char *key, size_t len)
{
    assert_true(len <= sizeof t->recs[0].key);
    assert_int_equal(find(t, key, len), KC_IDMAP_NONE);
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 8;
        t->recs = realloc(t->recs, t->cap * sizeof *t->recs);
        assert_non_null(t->recs);
    }
    uint32_t i = (uint32_t)t->n;
    assert_int_equal(kc_idmap_insert(&t->map, kc_idmap_hash(0, key, len), i), 0);
    memcpy(t->recs[i].key, key, len);
    t->recs[i].len = len;
    t->n++;
    return i;
}

static void tab_free(tab_t *t)
{
    kc_idmap_fini(&t->map);
    free(t->recs);
    memset(t, 0, sizeof *t);
}

static void test_empty_and_insert_find(void **state)
{
    (void)state;
    tab_t t = {0};
    /* a zeroed map is empty: nothing found, no key read */
    assert_int_equal(find(&t, "HCM-01", 6), KC_IDMAP_NONE);
    assert_int_equal(find(&t, "", 0), KC_IDMAP_NONE);
    assert_int_equal(t.key_calls, 0);
    assert_int_equal(add(&t, "HCM-01", 6), 0);
    assert_int_equal(add(&t, "CTO-92", 6), 1);
    assert_int_equal(add(&t, "", 0), 2); /* the empty key is a key */
    assert_int_equal(t.map.n, 3);
    assert_int_equal(t.map.cap, 64);
    assert_int_equal(find(&t, "HCM-01", 6), 0);
    assert_int_equal(find(&t, "CTO-92", 6), 1);
    assert_int_equal(find(&t, "", 0), 2);
    /* not found: other bytes, other lengths */
    assert_int_equal(find(&t, "HCM-02", 6), KC_IDMAP_NONE);
    assert_int_equal(find(&t, "HCM-0", 5), KC_IDMAP_NONE);
    assert_int_equal(find(&t, "HCM-011", 7), KC_IDMAP_NONE);
    /* an index too large for the map is refused, the map unchanged */
    assert_int_equal(kc_idmap_insert(&t.map, kc_idmap_hash(0, "x", 1), UINT32_MAX), KC_EINVAL);
    assert_int_equal(t.map.n, 3);
    tab_free(&t);
    kc_idmap_fini(NULL);
}

static void test_nul_bytes_and_prefixes(void **state)
{
    (void)state;
    tab_t t = {0};
    /* keys that differ only after a NUL byte, or in length, or past 8 bytes */
    static const struct {
        const char *k;
        size_t len;
    } keys[] = {
        {"a\0b", 3},
        {"a\0c", 3},
        {"a", 1},
        {"a\0", 2},
        {"\0", 1},
        {"\0\0", 2},
        {"province", 8},
        {"province-", 9},
        {"province-0", 10},
        {"province-1", 10},
        {"provincf-0", 10},
        {"\0\0\0\0\0\0\0\0", 8},
        {"\0\0\0\0\0\0\0\0\0", 9},
    };
    size_t n = sizeof keys / sizeof *keys;
    for (size_t i = 0; i < n; i++)
        assert_int_equal(add(&t, keys[i].k, keys[i].len), i);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(find(&t, keys[i].k, keys[i].len), i);
    assert_int_equal(find(&t, "a\0d", 3), KC_IDMAP_NONE);
    assert_int_equal(find(&t, "\0\0\0", 3), KC_IDMAP_NONE);
    assert_int_equal(find(&t, "province-2", 10), KC_IDMAP_NONE);
    tab_free(&t);
}

static void test_many_keys_grow(void **state)
{
    (void)state;
    tab_t t = {0};
    enum { N = 20000 };
    char k[32];
    size_t prev_cap = 0, grows = 0;
    for (uint32_t i = 0; i < N; i++) {
        int len = snprintf(k, sizeof k, "producer-%u", (unsigned)i);
        assert_int_equal(add(&t, k, (size_t)len), i);
        /* at most half full, a power of two */
        assert_true(t.map.n * 2 <= t.map.cap);
        assert_int_equal(t.map.cap & (t.map.cap - 1), 0);
        if (t.map.cap == prev_cap)
            continue;
        grows++, prev_cap = t.map.cap;
        for (uint32_t j = 0; j <= i; j++) { /* every key so far survived the growth */
            len = snprintf(k, sizeof k, "producer-%u", (unsigned)j);
            assert_int_equal(find(&t, k, (size_t)len), j);
        }
    }
    assert_true(grows >= 10); /* 64 .. 65536 */
    assert_int_equal(t.map.cap, 65536);
    for (uint32_t i = 0; i < N; i++) {
        int len = snprintf(k, sizeof k, "producer-%u", (unsigned)i);
        assert_int_equal(find(&t, k, (size_t)len), i);
        len = snprintf(k, sizeof k, "producer-%u", (unsigned)(i + N));
        assert_int_equal(find(&t, k, (size_t)len), KC_IDMAP_NONE);
    }
    /* a key is read back only for a stored-hash match: about once per hit */
    t.key_calls = 0;
    for (uint32_t i = 0; i < N; i++) {
        int len = snprintf(k, sizeof k, "producer-%u", (unsigned)i);
        find(&t, k, (size_t)len);
    }
    assert_true(t.key_calls < N + N / 100);
    tab_free(&t);
}

/* Hashes equal in their stored (high) half: the keys decide. */
static void test_tag_collisions(void **state)
{
    (void)state;
    tab_t t = {0};
    t.recs = calloc(4, sizeof *t.recs);
    assert_non_null(t.recs);
    t.cap = 4;
    uint64_t h = 0xABCD000000000000ull;
    const char *keys[] = {"one", "two", "three"};
    for (uint32_t i = 0; i < 3; i++) {
        t.recs[i].len = strlen(keys[i]);
        memcpy(t.recs[i].key, keys[i], t.recs[i].len);
        t.n++;
        assert_int_equal(kc_idmap_insert(&t.map, h + i, i), 0);
    }
    for (uint32_t i = 0; i < 3; i++)
        assert_int_equal(kc_idmap_find(&t.map, keys[i], strlen(keys[i]), h, key_of, &t), i);
    assert_int_equal(kc_idmap_find(&t.map, "four", 4, h, key_of, &t), KC_IDMAP_NONE);
    tab_free(&t);
}

static void test_copy(void **state)
{
    (void)state;
    tab_t t = {0};
    kc_idmap_t c;
    assert_int_equal(kc_idmap_copy(&c, &t.map), 0); /* of an empty map */
    assert_int_equal(c.cap, 0);
    for (int i = 0; i < 100; i++) {
        char k[16];
        int len = snprintf(k, sizeof k, "p%d", i);
        add(&t, k, (size_t)len);
    }
    assert_int_equal(kc_idmap_copy(&c, &t.map), 0);
    assert_int_equal(c.n, 100);
    kc_idmap_t orig = t.map;
    t.map = c; /* look up through the copy, then drop the original */
    kc_idmap_fini(&orig);
    for (int i = 0; i < 100; i++) {
        char k[16];
        int len = snprintf(k, sizeof k, "p%d", i);
        assert_int_equal(find(&t, k, (size_t)len), i);
    }
    tab_free(&t);
}

/* The hash: every byte and the length count, the seed separates. */
static void test_hash(void **state)
{
    (void)state;
    assert_true(kc_idmap_hash(0, "abc", 3) != kc_idmap_hash(0, "abc\0", 4));
    assert_true(kc_idmap_hash(0, "abc", 3) != kc_idmap_hash(1ull << 56, "abc", 3));
    assert_true(kc_idmap_hash(0, NULL, 0) == kc_idmap_hash(0, "", 0));
    assert_true(kc_idmap_hash(0, "0123456789", 10) != kc_idmap_hash(0, "0123456788", 10));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_and_insert_find),
        cmocka_unit_test(test_nul_bytes_and_prefixes),
        cmocka_unit_test(test_many_keys_grow),
        cmocka_unit_test(test_tag_collisions),
        cmocka_unit_test(test_copy),
        cmocka_unit_test(test_hash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
