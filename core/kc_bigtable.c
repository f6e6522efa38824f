/* kc_bigtable.c - zeroed memory for big tables (DESIGN in kc_bigtable.h). */
#include "kc_bigtable.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#define S_HUGE ((size_t)2 << 20) /* the huge page size (x86-64, arm64 with 4 KiB pages) */

_Static_assert(KC_BIGTABLE_MIN == 2 * S_HUGE, "KC_BIGTABLE_MIN is two huge pages");

void *kc_bigtable_zalloc(size_t n, size_t size)
{
    size_t bytes;
    if (__builtin_mul_overflow(n, size, &bytes))
        return NULL;
    if (bytes < KC_BIGTABLE_MIN)
        return calloc(1, bytes ? bytes : 1);
    if (bytes > SIZE_MAX - 2 * S_HUGE)
        return NULL;
    size_t len = (bytes + S_HUGE - 1) & ~(S_HUGE - 1);
    uint8_t *m =
        mmap(NULL, len + S_HUGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    uint8_t *a = m + ((S_HUGE - ((uintptr_t)m & (S_HUGE - 1))) & (S_HUGE - 1));
    size_t head = (size_t)(a - m);
    if (head)
        munmap(m, head);
    munmap(a + len, S_HUGE - head);
#ifdef MADV_HUGEPAGE
    (void)madvise(a, len, MADV_HUGEPAGE);
#endif
    return a;
}

void kc_bigtable_free(void *p, size_t n, size_t size)
{
    if (!p)
        return;
    size_t bytes = n * size; /* did not overflow: p was allocated */
    if (bytes < KC_BIGTABLE_MIN)
        free(p);
    else
        munmap(p, (bytes + S_HUGE - 1) & ~(S_HUGE - 1));
}
