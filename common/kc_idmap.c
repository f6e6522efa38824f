/* kc_idmap.c - a string-key index (kc_idmap.h): insertion, growth, copies. */
#include "kc_idmap.h"

#include "kc_err.h"

#include <stdlib.h>

#define S_FIRST_CAP 64

/* Put slot value s (known absent) into its first empty slot of tab. */
static void s_place(uint64_t *tab, size_t cap, uint64_t s)
{
    size_t mask = cap - 1, i = (size_t)(s >> 32) & mask;
    while (tab[i])
        i = (i + 1) & mask;
    tab[i] = s;
}

/* Double the slot array (S_FIRST_CAP slots first), re-placing every slot by
 * its stored hash (a slot's home is that hash & mask, kc_idmap_find()): 0 or
 * KC_ENOMEM (the map unchanged). */
static int s_grow(kc_idmap_t *m)
{
    size_t cap = m->cap ? m->cap * 2 : S_FIRST_CAP;
    uint64_t *tab = calloc(cap, sizeof *tab);
    if (!tab)
        return KC_ENOMEM;
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i])
            s_place(tab, cap, m->slots[i]);
    free(m->slots);
    m->slots = tab;
    m->cap = cap;
    return 0;
}

int kc_idmap_insert(kc_idmap_t *m, uint64_t h, uint32_t index)
{
    if (index > KC_IDMAP_INDEX_MAX)
        return KC_EINVAL;
    if ((m->n + 1) * 2 > m->cap) {
        int rc = s_grow(m);
        if (rc != 0)
            return rc;
    }
    s_place(m->slots, m->cap, (h >> 32) << 32 | ((uint64_t)index + 1));
    m->n++;
    return 0;
}

int kc_idmap_copy(kc_idmap_t *dst, const kc_idmap_t *src)
{
    *dst = (kc_idmap_t){0};
    if (!src->cap)
        return 0;
    dst->slots = malloc(src->cap * sizeof *dst->slots);
    if (!dst->slots)
        return KC_ENOMEM;
    memcpy(dst->slots, src->slots, src->cap * sizeof *dst->slots);
    dst->cap = src->cap;
    dst->n = src->n;
    return 0;
}

void kc_idmap_fini(kc_idmap_t *m)
{
    if (!m)
        return;
    free(m->slots);
    *m = (kc_idmap_t){0};
}
