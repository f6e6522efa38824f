/* kc_cellmap.h - the in-memory table of totals cells: 7-byte cell key -> cell.
 *
 * DESIGN
 * One open-addressing hash map serves every in-memory copy of the totals: the
 * aggregator's cells of one run (kc_apply.c), as-of results and the feed
 * client's state (kc_cells_mem_t, kc_cells.c), the replay's recomputed
 * totals (kc_replay.c).
 *   - Keys are packed: the 7 bytes of kc_cell_key_encode() read as a
 *     big-endian integer (kc_cellmap_key), so numeric order = the store's
 *     byte order = (year, month, province, activity, kind, fund) order. The
 *     packing and the lookup are static inline: the hot loops (ingest, replay)
 *     compile to a multiply, a shift and a probe, as the private tables they
 *     replace did.
 *   - Entries (kc_cellmap_entry_t: key, cell, then an optional per-entry
 *     "extra" area of a size fixed at kc_cellmap_init) live in one dense array
 *     in the order of their insertion (first touch); entry i is
 *     kc_cellmap_at(m, i). A separate slot array (a power of two, at most
 *     half full, linear probing) holds each entry's key + 1 (0 = empty) and
 *     index, so a probe compares keys without touching the entries.
 *   - The slot and entry arrays come from kc_bigtable.h: 4 MiB and more are
 *     mapped on their own, 2 MiB aligned, and advised onto transparent huge
 *     pages (random probes at millions of events: a TLB miss per probe with
 *     4 KiB pages); smaller ones come from calloc.
 *   - Dirty list (with KC_CELLMAP_DIRTY): kc_cellmap_put, kc_cellmap_apply and
 *     kc_cellmap_mark record an entry the first time they change it since the
 *     last kc_cellmap_dirty_clear (or kc_cellmap_clear), in that order; the
 *     aggregator writes them at the end of a run, replay restores or commits
 *     them.
 *   - Sorted scan: while every insertion came in ascending key order (a
 *     checkpoint or store scan loaded in order) the entry order is the key
 *     order; otherwise kc_cellmap_sort builds a key-ordered index, kept until
 *     the next insertion.
 * Entries are never removed one by one: kc_cellmap_clear empties the map
 * (touching only the slots in use, so a map reused run after run costs what
 * the run used) and keeps its memory.
 *
 * Pointers: a kc_cellmap_entry_t * stays valid until the next insertion (a
 * get, insert, put or apply of an absent key may grow the arrays), clear or
 * fini. Entry indices (kc_cellmap_index, the dirty list, the sorted order)
 * stay valid until clear or fini.
 *
 * Threads: none of its own; a map is used by one thread at a time.
 * Returns: 0 or a negative KC_E* code (kc_err.h) unless stated.
 *
 * The struct is public for the inline functions only: read its fields through
 * the functions below, never write them.
 */
#ifndef KC_CELLMAP_H
#define KC_CELLMAP_H

#include "kc_err.h"
#include "kc_store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* kc_cellmap_init flags */
#define KC_CELLMAP_DIRTY 1u /* keep the dirty list */

/* The largest number of entries (indices are uint32_t). */
#define KC_CELLMAP_MAX ((size_t)UINT32_MAX - 1)

typedef struct {
    uint64_t key;   /* packed key (kc_cellmap_key); read-only */
    uint32_t slot;  /* internal: its slot */
    uint32_t dirty; /* internal: in the dirty list */
    kc_cell_t cell; /* the cell: the caller reads and writes it freely */
    /* then `extra` bytes (kc_cellmap_extra), 8-byte aligned */
} kc_cellmap_entry_t;

typedef struct {
    uint64_t code; /* key + 1; 0 = empty */
    uint32_t idx;  /* entry index */
} kc_cellmap_slot_t;

typedef struct {
    kc_cellmap_slot_t *slots; /* nslots (power of two, 0 until the first insert) */
    size_t nslots;
    unsigned char *e; /* entries, stride bytes each, cap of them, n in use */
    size_t n, cap, stride;
    uint32_t *dirty; /* entry indices, in order of first change */
    size_t ndirty, capdirty;
    uint32_t *order; /* entry indices in key order (if !ascending && order_n == n) */
    size_t order_n, order_cap;
    bool ascending; /* every insertion came after the previous key */
    unsigned flags;
} kc_cellmap_t;

/* ---- keys ---- */

/* The packed key: kc_cell_key_encode's 7 bytes as a big-endian integer
 * (< 2^56); numeric order = byte order. */
static inline uint64_t kc_cellmap_key(const kc_cell_key_t *k)
{
    return (uint64_t)k->year << 40 | (uint64_t)k->month << 32 | (uint64_t)k->province << 24 |
           (uint64_t)k->activity << 16 | (uint64_t)k->kind << 8 | k->fund;
}

/* The inverse of kc_cellmap_key. Every byte of *k is written (its padding
 * zeroed), so unpacked keys compare equal with memcmp. */
static inline void kc_cellmap_unkey(uint64_t v, kc_cell_key_t *k)
{
    memset(k, 0, sizeof *k);
    k->year = (uint16_t)(v >> 40);
    k->month = (uint8_t)(v >> 32);
    k->province = (uint8_t)(v >> 24);
    k->activity = (uint8_t)(v >> 16);
    k->kind = (uint8_t)(v >> 8);
    k->fund = (uint8_t)v;
}

/* ---- life ---- */

/* Make *m an empty map whose entries carry `extra` bytes after the cell
 * (0 = none; zeroed at insertion). flags: KC_CELLMAP_*. Allocates nothing
 * until the first insertion. KC_EINVAL if extra > 4096. */
int kc_cellmap_init(kc_cellmap_t *m, size_t extra, unsigned flags);
/* Free everything; *m is then an empty map as init left it (no-op on NULL). */
void kc_cellmap_fini(kc_cellmap_t *m);
/* Remove every entry and empty the dirty list; the memory is kept. */
void kc_cellmap_clear(kc_cellmap_t *m);

/* ---- entries ---- */

/* Number of entries. */
static inline size_t kc_cellmap_count(const kc_cellmap_t *m)
{
    return m->n;
}

/* Entry i (0 <= i < count) in insertion order. */
static inline kc_cellmap_entry_t *kc_cellmap_at(const kc_cellmap_t *m, size_t i)
{
    return (kc_cellmap_entry_t *)(m->e + i * m->stride);
}

/* The index of entry e (kc_cellmap_at(m, index) == e). */
static inline size_t kc_cellmap_index(const kc_cellmap_t *m, const kc_cellmap_entry_t *e)
{
    return (size_t)((const unsigned char *)e - m->e) / m->stride;
}

/* The entry's extra area (kc_cellmap_init's `extra` bytes, 8-byte aligned). */
static inline void *kc_cellmap_extra(kc_cellmap_entry_t *e)
{
    return e + 1;
}

static inline size_t kc_cellmap__hash(uint64_t key, size_t nslots)
{
    /* every bit of the key matters (years differ in the high bits) */
    uint64_t h = key * 0x9E3779B97F4A7C15ull;
    return (size_t)(h ^ h >> 29 ^ h >> 47) & (nslots - 1);
}

/* The entry of packed key `key`, NULL if absent. */
static inline kc_cellmap_entry_t *kc_cellmap_find(const kc_cellmap_t *m, uint64_t key)
{
    if (!m->nslots)
        return NULL;
    uint64_t code = key + 1;
    for (size_t i = kc_cellmap__hash(key, m->nslots);; i = (i + 1) & (m->nslots - 1)) {
        if (m->slots[i].code == code)
            return kc_cellmap_at(m, m->slots[i].idx);
        if (m->slots[i].code == 0)
            return NULL;
    }
}

/* Hints for a batch loop, issued some entries ahead of the lookup of `key`:
 * kc_cellmap_prefetch starts fetching the slot where the lookup begins;
 * kc_cellmap_prefetch_entry, issued later (once that slot has arrived), starts
 * fetching the entry if that slot holds `key`. Neither changes the map. */
static inline void kc_cellmap_prefetch(const kc_cellmap_t *m, uint64_t key)
{
    if (m->nslots)
        __builtin_prefetch(&m->slots[kc_cellmap__hash(key, m->nslots)]);
}

static inline void kc_cellmap_prefetch_entry(const kc_cellmap_t *m, uint64_t key)
{
    if (!m->nslots)
        return;
    const kc_cellmap_slot_t *s = &m->slots[kc_cellmap__hash(key, m->nslots)];
    if (s->code == key + 1)
        __builtin_prefetch(kc_cellmap_at(m, s->idx));
}

/* Insert packed key `key`, which must be absent (key < 2^56), with a zero
 * cell and extra area; *out = its entry (last in insertion order). Not a
 * change: it does not enter the dirty list. KC_ENOMEM (nothing inserted),
 * KC_EINVAL if the map holds KC_CELLMAP_MAX entries. */
int kc_cellmap_insert(kc_cellmap_t *m, uint64_t key, kc_cellmap_entry_t **out);

/* The entry of `key`, inserted (zero) if absent; *out = it. kc_cellmap_insert's
 * errors. */
static inline int kc_cellmap_get(kc_cellmap_t *m, uint64_t key, kc_cellmap_entry_t **out)
{
    kc_cellmap_entry_t *e = kc_cellmap_find(m, key);
    if (e) {
        *out = e;
        return 0;
    }
    return kc_cellmap_insert(m, key, out);
}

/* ---- changes and the dirty list ---- */

int kc_cellmap__dirty_push(kc_cellmap_t *m, kc_cellmap_entry_t *e);

/* Record e as changed: appended to the dirty list unless already in it.
 * No-op without KC_CELLMAP_DIRTY. KC_ENOMEM (e not recorded). */
static inline int kc_cellmap_mark(kc_cellmap_t *m, kc_cellmap_entry_t *e)
{
    if (!(m->flags & KC_CELLMAP_DIRTY) || e->dirty)
        return 0;
    return kc_cellmap__dirty_push(m, e);
}

/* Set the cell of `key` (inserted if absent) to *cell and mark it. */
static inline int kc_cellmap_put(kc_cellmap_t *m, uint64_t key, const kc_cell_t *cell)
{
    kc_cellmap_entry_t *e;
    int rc = kc_cellmap_get(m, key, &e);
    if (rc != 0)
        return rc;
    e->cell = *cell;
    return kc_cellmap_mark(m, e);
}

/* Add (events, delta) to the cell of `key` (inserted at zero if absent) with
 * kc_cell_add, and mark it. KC_EOVERFLOW if the sum would leave its range: the
 * cell is unchanged (but stays inserted, at zero, if it was absent) and not
 * marked. *out (may be NULL) = the entry, unless KC_ENOMEM. */
static inline int kc_cellmap_apply(kc_cellmap_t *m, uint64_t key, int64_t events,
                                   const int64_t delta[KC_METRIC_COUNT], kc_cellmap_entry_t **out)
{
    kc_cellmap_entry_t *e;
    int rc = kc_cellmap_get(m, key, &e);
    if (rc != 0)
        return rc;
    if (out)
        *out = e;
    if (kc_cell_add(&e->cell, &e->cell, events, delta))
        return KC_EOVERFLOW;
    return kc_cellmap_mark(m, e);
}

/* Number of entries in the dirty list. */
static inline size_t kc_cellmap_dirty_count(const kc_cellmap_t *m)
{
    return m->ndirty;
}

/* Dirty entry i (0 <= i < dirty_count), in order of first change. */
static inline kc_cellmap_entry_t *kc_cellmap_dirty_at(const kc_cellmap_t *m, size_t i)
{
    return kc_cellmap_at(m, m->dirty[i]);
}

/* Empty the dirty list (entries and cells unchanged). */
void kc_cellmap_dirty_clear(kc_cellmap_t *m);

/* ---- key order ---- */

/* Make the key order available to kc_cellmap_sorted (a no-op while every
 * insertion came in ascending order; otherwise an index is built, kept until
 * the next insertion). KC_ENOMEM. */
int kc_cellmap_sort(kc_cellmap_t *m);

/* Entry i (0 <= i < count) in key order; needs kc_cellmap_sort since the last
 * insertion. */
static inline kc_cellmap_entry_t *kc_cellmap_sorted(const kc_cellmap_t *m, size_t i)
{
    return kc_cellmap_at(m, m->ascending ? i : m->order[i]);
}

/* The position in key order of the first entry with key >= `key` (count if
 * none); needs kc_cellmap_sort since the last insertion. */
size_t kc_cellmap_lower(const kc_cellmap_t *m, uint64_t key);

/* kc_cellmap_sort, then fn for every entry with lo <= key <= hi (packed keys)
 * in key order, until fn returns non-zero (returned). fn may change the
 * entry's cell and extra area, but must not insert into or clear the map.
 * KC_ENOMEM. */
int kc_cellmap_scan(kc_cellmap_t *m, uint64_t lo, uint64_t hi,
                    int (*fn)(kc_cellmap_entry_t *e, void *ctx), void *ctx);

#endif
