/* kc_idmap.h - a string-key index: byte string -> dense record index.
 *
 * The caller keeps its records in its own array (index 0, 1, ...); each record
 * owns its key, a byte string (ptr, len) that may hold any bytes, NUL
 * included. The map stores only, per slot, the record's index + 1 and the
 * high 32 bits of the key's hash, which also pick the key's home slot: a
 * power-of-two slot array, linear probing, at most half full (64 slots at the
 * first insert, doubling). Growing re-places slots by their stored hash and
 * never reads a key; a lookup reads a key back (through the caller's
 * kc_idmap_key_fn) only for a slot whose stored hash matches.
 *
 * Used for producer id -> producer record by the replay (per event, so the
 * lookup is static inline: with a static key function it inlines whole) and
 * by the aggregator's metrics.
 *
 * Not thread-safe: the caller serialises every call on one map. A zeroed
 * kc_idmap_t is an empty map; kc_idmap_fini() releases it.
 */
#ifndef KC_IDMAP_H
#define KC_IDMAP_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The largest record index the map holds (index + 1 must fit in 32 bits, 0
 * meaning an empty slot). */
#define KC_IDMAP_INDEX_MAX (UINT32_MAX - 1u)
/* What kc_idmap_find() returns for a key the map does not hold. */
#define KC_IDMAP_NONE UINT32_MAX

typedef struct {
    uint64_t *slots; /* 0 = empty, else (hash >> 32) << 32 | (index + 1) */
    size_t cap;      /* slots: 0 or a power of two >= 64 and >= 2 x n */
    size_t n;        /* keys held */
} kc_idmap_t;

/* The key of record `index` (always an index the caller inserted): returns its
 * bytes and sets *len. ctx is the one passed to kc_idmap_find(). */
typedef const char *(*kc_idmap_key_fn)(const void *ctx, uint32_t index, size_t *len);

static inline uint64_t kc_idmap_fmix_(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

/* The hash of the len bytes at key (key may be NULL when len is 0), mixed
 * with seed: 8 bytes a step, then murmur3's finaliser. kc_idmap_hash(0, ...)
 * is the hash the map's callers pass to kc_idmap_find()/kc_idmap_insert()
 * (any function of the key bytes alone would do, the same one for both); the
 * replay also uses it, seeded, for event identities. */
static inline uint64_t kc_idmap_hash(uint64_t seed, const char *key, size_t len)
{
    uint64_t h = 0x9E3779B97F4A7C15ull ^ seed ^ len;
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, key, 8);
        h = (h ^ w) * 0x9FB21C651E98DF25ull;
        h ^= h >> 29;
        key += 8;
        len -= 8;
    }
    if (len) {
        uint64_t w = 0;
        memcpy(&w, key, len);
        h = (h ^ w) * 0x9FB21C651E98DF25ull;
    }
    return kc_idmap_fmix_(h);
}

/* The index of the record whose key is the len bytes at key, or KC_IDMAP_NONE.
 * h: kc_idmap_hash(0, key, len). key_of(ctx, i, ...) is called for candidate
 * records only (stored hash equal), to compare their bytes. */
static inline uint32_t kc_idmap_find(const kc_idmap_t *m, const char *key, size_t len, uint64_t h,
                                     kc_idmap_key_fn key_of, const void *ctx)
{
    if (!m->cap)
        return KC_IDMAP_NONE;
    uint64_t tag = h >> 32;
    size_t mask = m->cap - 1, i = (size_t)tag & mask;
    for (uint64_t s; (s = m->slots[i]) != 0; i = (i + 1) & mask) {
        if (s >> 32 != tag)
            continue;
        uint32_t idx = (uint32_t)s - 1;
        size_t klen;
        const char *k = key_of(ctx, idx, &klen);
        if (klen == len && (len == 0 || memcmp(k, key, len) == 0))
            return idx;
    }
    return KC_IDMAP_NONE;
}

/* Map the key whose hash is h (kc_idmap_hash(0, key, len)) to record `index`.
 * The caller guarantees the key is not in the map (kc_idmap_find() said
 * KC_IDMAP_NONE) and index <= KC_IDMAP_INDEX_MAX. Grows the slot array first
 * when it would be more than half full. Returns 0, KC_EINVAL (index too large)
 * or KC_ENOMEM; on error the map is unchanged. */
int kc_idmap_insert(kc_idmap_t *m, uint64_t h, uint32_t index);

/* Make dst an independent copy of src (dst's previous contents are not
 * released: pass a zeroed or finished map). 0 or KC_ENOMEM (dst then empty). */
int kc_idmap_copy(kc_idmap_t *dst, const kc_idmap_t *src);

/* Release the slots; the map is empty (zeroed) afterwards, ready for reuse.
 * NULL is a no-op. */
void kc_idmap_fini(kc_idmap_t *m);

#endif /* KC_IDMAP_H */
