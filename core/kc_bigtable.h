/* kc_bigtable.h - zeroed memory for the big randomly probed tables (the cell
 * map's slots and entries, replay's identity table).
 *
 * DESIGN
 * A hash table probed at random, one probe per event, costs a TLB miss (a page
 * walk) per probe with 4 KiB pages once it holds millions of slots. A request
 * of 4 MiB (KC_BIGTABLE_MIN) or more is therefore mapped on its own
 * (anonymous, private), 2 MiB aligned, and advised onto transparent huge pages
 * (MADV_HUGEPAGE: THP "madvise" mode; 4 KiB pages if the kernel refuses);
 * fresh anonymous memory is zero, so nothing is cleared. A smaller request
 * comes from calloc. Which of the two a block is follows from its byte count
 * alone, hence kc_bigtable_free() takes the same n and size as the
 * allocation.
 *
 * Threads: both functions may be called from any thread.
 */
#ifndef KC_BIGTABLE_H
#define KC_BIGTABLE_H

#include <stddef.h>

/* Requests of this many bytes and more are mapped (see DESIGN). */
#define KC_BIGTABLE_MIN ((size_t)4 << 20)

/* n * size bytes, zeroed, at least 8-byte aligned (2 MiB aligned from
 * KC_BIGTABLE_MIN bytes on); a request of 0 bytes gives a valid 1-byte block.
 * NULL if n * size overflows or memory is short. Free with kc_bigtable_free
 * (never free()). */
void *kc_bigtable_zalloc(size_t n, size_t size);

/* Free a block of kc_bigtable_zalloc(n, size), given the same n and size; no-op
 * on NULL. */
void kc_bigtable_free(void *p, size_t n, size_t size);

#endif
