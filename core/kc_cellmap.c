/* kc_cellmap.c - the in-memory table of totals cells (DESIGN in kc_cellmap.h). */
#include "kc_cellmap.h"

#include "kc_bigtable.h"

#include <stdlib.h>
#include <string.h>

/* ---- life ---- */

int kc_cellmap_init(kc_cellmap_t *m, size_t extra, unsigned flags)
{
    if (!m || extra > 4096)
        return KC_EINVAL;
    memset(m, 0, sizeof *m);
    m->stride = sizeof(kc_cellmap_entry_t) + ((extra + 7) & ~(size_t)7);
    m->ascending = true;
    m->flags = flags;
    return 0;
}

void kc_cellmap_fini(kc_cellmap_t *m)
{
    if (!m)
        return;
    kc_bigtable_free(m->slots, m->nslots, sizeof *m->slots);
    kc_bigtable_free(m->e, m->cap, m->stride);
    free(m->dirty);
    free(m->order);
    size_t stride = m->stride;
    unsigned flags = m->flags;
    memset(m, 0, sizeof *m);
    m->stride = stride;
    m->ascending = true;
    m->flags = flags;
}

void kc_cellmap_clear(kc_cellmap_t *m)
{
    if (m->n * 4 < m->nslots) { /* only the slots in use */
        for (size_t i = 0; i < m->n; i++)
            m->slots[kc_cellmap_at(m, i)->slot].code = 0;
    } else if (m->nslots) {
        memset(m->slots, 0, m->nslots * sizeof *m->slots);
    }
    m->n = 0;
    m->ndirty = 0;
    m->order_n = 0;
    m->ascending = true;
}

/* ---- insertion ---- */

/* Double the slots (or make the first 1024) and re-insert every entry. */
static int s_grow_slots(kc_cellmap_t *m)
{
    size_t n = m->nslots ? m->nslots * 2 : 1024;
    kc_cellmap_slot_t *slots = kc_bigtable_zalloc(n, sizeof *slots);
    if (!slots)
        return KC_ENOMEM;
    for (size_t i = 0; i < m->n; i++) {
        kc_cellmap_entry_t *e = kc_cellmap_at(m, i);
        size_t h = kc_cellmap__hash(e->key, n);
        while (slots[h].code != 0)
            h = (h + 1) & (n - 1);
        slots[h] = (kc_cellmap_slot_t){e->key + 1, (uint32_t)i};
        e->slot = (uint32_t)h;
    }
    kc_bigtable_free(m->slots, m->nslots, sizeof *m->slots);
    m->slots = slots;
    m->nslots = n;
    return 0;
}

/* Double the entries (or make the first 256). */
static int s_grow_entries(kc_cellmap_t *m)
{
    size_t cap = m->cap ? m->cap * 2 : 256;
    unsigned char *e = kc_bigtable_zalloc(cap, m->stride);
    if (!e)
        return KC_ENOMEM;
    if (m->n)
        memcpy(e, m->e, m->n * m->stride);
    kc_bigtable_free(m->e, m->cap, m->stride);
    m->e = e;
    m->cap = cap;
    return 0;
}

int kc_cellmap_insert(kc_cellmap_t *m, uint64_t key, kc_cellmap_entry_t **out)
{
    if (m->n >= KC_CELLMAP_MAX)
        return KC_EINVAL;
    int rc;
    if ((m->n + 1) * 2 > m->nslots && (rc = s_grow_slots(m)) != 0)
        return rc;
    if (m->n == m->cap && (rc = s_grow_entries(m)) != 0)
        return rc;
    size_t h = kc_cellmap__hash(key, m->nslots);
    while (m->slots[h].code != 0)
        h = (h + 1) & (m->nslots - 1);
    m->slots[h] = (kc_cellmap_slot_t){key + 1, (uint32_t)m->n};
    if (m->n > 0 && kc_cellmap_at(m, m->n - 1)->key > key)
        m->ascending = false;
    kc_cellmap_entry_t *e = kc_cellmap_at(m, m->n++);
    memset(e, 0, m->stride);
    e->key = key;
    e->slot = (uint32_t)h;
    *out = e;
    return 0;
}

/* ---- the dirty list ---- */

int kc_cellmap__dirty_push(kc_cellmap_t *m, kc_cellmap_entry_t *e)
{
    if (m->ndirty == m->capdirty) {
        size_t cap = m->capdirty ? m->capdirty * 2 : 256;
        uint32_t *d = realloc(m->dirty, cap * sizeof *d);
        if (!d)
            return KC_ENOMEM;
        m->dirty = d;
        m->capdirty = cap;
    }
    m->dirty[m->ndirty++] = (uint32_t)kc_cellmap_index(m, e);
    e->dirty = 1;
    return 0;
}

void kc_cellmap_dirty_clear(kc_cellmap_t *m)
{
    for (size_t i = 0; i < m->ndirty; i++)
        kc_cellmap_dirty_at(m, i)->dirty = 0;
    m->ndirty = 0;
}

/* ---- key order ---- */

typedef struct {
    uint64_t key;
    uint32_t idx;
} s_pair_t;

static int s_pair_cmp(const void *a, const void *b)
{
    uint64_t x = ((const s_pair_t *)a)->key, y = ((const s_pair_t *)b)->key;
    return x < y ? -1 : x > y;
}

int kc_cellmap_sort(kc_cellmap_t *m)
{
    if (m->ascending || m->order_n == m->n)
        return 0;
    if (m->n > m->order_cap) {
        uint32_t *o = realloc(m->order, m->n * sizeof *o);
        if (!o)
            return KC_ENOMEM;
        m->order = o;
        m->order_cap = m->n;
    }
    s_pair_t *p = malloc(m->n * sizeof *p);
    if (!p)
        return KC_ENOMEM;
    for (size_t i = 0; i < m->n; i++)
        p[i] = (s_pair_t){kc_cellmap_at(m, i)->key, (uint32_t)i};
    qsort(p, m->n, sizeof *p, s_pair_cmp);
    for (size_t i = 0; i < m->n; i++)
        m->order[i] = p[i].idx;
    free(p);
    m->order_n = m->n;
    return 0;
}

size_t kc_cellmap_lower(const kc_cellmap_t *m, uint64_t key)
{
    size_t a = 0, b = m->n;
    while (a < b) {
        size_t mid = a + (b - a) / 2;
        if (kc_cellmap_sorted(m, mid)->key < key)
            a = mid + 1;
        else
            b = mid;
    }
    return a;
}

int kc_cellmap_scan(kc_cellmap_t *m, uint64_t lo, uint64_t hi,
                    int (*fn)(kc_cellmap_entry_t *e, void *ctx), void *ctx)
{
    int rc = kc_cellmap_sort(m);
    if (rc != 0)
        return rc;
    for (size_t i = kc_cellmap_lower(m, lo); i < m->n; i++) {
        kc_cellmap_entry_t *e = kc_cellmap_sorted(m, i);
        if (e->key > hi)
            break;
        if ((rc = fn(e, ctx)) != 0)
            return rc;
    }
    return 0;
}
