/* kc_arena.h - a bump-pointer arena for short-lived decodes.
 *
 * An arena hands out memory from a list of chunks by bumping a pointer; there
 * is no per-block free. Everything handed out since a mark is released at
 * once by kc_arena_rewind(), everything by kc_arena_reset(). The aggregator
 * decodes each group's Batch messages and each Event into one (kc_apply.c),
 * replay's decoder the events it leaves to protobuf-c (common/kc_wire_decode.c,
 * reset before each decode): no malloc/free per message, no free_unpacked.
 *
 * DESIGN
 * Blocks are aligned to KC_ARENA_ALIGN. A request that does not fit in the
 * current chunk moves on to the next chunk of the list if it is large enough,
 * else a new chunk is malloc'd and linked in after the current one: max(the
 * request, the arena's capacity so far) clamped to KC_ARENA_CHUNK_MIN ..
 * KC_ARENA_CHUNK_MAX, so the number of chunks grows logarithmically. Chunks
 * are kept across rewinds and resets: a workload that repeats (groups of the
 * same shape) allocates nothing after its first round.
 * Returning memory: kc_arena_reset() frees chunks that the cycle just ended
 * (since the previous reset) did not touch, as far as they exceed that cycle's
 * need: the arena keeps at most max(2 x the capacity of the chunks the cycle
 * touched, KC_ARENA_CHUNK_MIN). One huge group is thus given back at the end
 * of the next, smaller one, while groups of similar size reuse their chunks.
 * Under AddressSanitizer the unused and released parts of every chunk are
 * poisoned (a pointer kept past a rewind or reset is reported); under
 * valgrind (debug builds) they are marked no-access likewise.
 *
 * Header-only (static inline), so that whatever compiles kc_apply.c (the fuzz
 * harness compiles it alone) needs nothing more.
 *
 * Threads: an arena is used by one thread at a time.
 */
#ifndef KC_ARENA_H
#define KC_ARENA_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#define KC_ARENA_ALIGN     16
#define KC_ARENA_CHUNK_MIN ((size_t)64 << 10)
#define KC_ARENA_CHUNK_MAX ((size_t)4 << 20)

/* One chunk: this header, then `cap` bytes of blocks (from offset
 * KC_ARENA_HDR). Private; in the header for kc_arena_alloc()'s inline path. */
typedef struct kc_arena_chunk {
    struct kc_arena_chunk *next;
    size_t cap;     /* bytes of block space */
    size_t used;    /* bytes handed out (a multiple of KC_ARENA_ALIGN) */
    uint64_t cycle; /* the arena's cycle when last touched */
} kc_arena_chunk_t;

#define KC_ARENA_HDR                                                                               \
    ((sizeof(kc_arena_chunk_t) + KC_ARENA_ALIGN - 1) / KC_ARENA_ALIGN * KC_ARENA_ALIGN)

/* Zero-initialised = empty (or kc_arena_init()). Fields are private. */
typedef struct {
    kc_arena_chunk_t *head; /* chunks, in the order they are filled */
    kc_arena_chunk_t *cur;  /* the chunk being filled; NULL: none yet this cycle */
    size_t capacity;        /* bytes of chunk space held */
    size_t nchunks;         /* chunks held */
    uint64_t cycle;         /* counts resets: marks the chunks a cycle touched */
    uint64_t chunk_mallocs; /* chunks malloc'd over the arena's life */
} kc_arena_t;

/* A position to rewind to. */
typedef struct {
    kc_arena_chunk_t *chunk; /* NULL: the start of the cycle */
    size_t used;
} kc_arena_mark_t;

#if defined(__GNUC__) || defined(__clang__)
#define KC_ARENA_COLD __attribute__((noinline, cold, unused))
#else
#define KC_ARENA_COLD
#endif

static inline void kc_arena_init(kc_arena_t *a);
/* Free every chunk; the arena is empty (and usable) again. */
static inline void kc_arena_fini(kc_arena_t *a);

/* `size` bytes (size 0 counts as 1), aligned to KC_ARENA_ALIGN, valid until a
 * rewind past them, kc_arena_reset() or kc_arena_fini(). NULL if out of
 * memory. */
static inline void *kc_arena_alloc(kc_arena_t *a, size_t size);

/* kc_arena_alloc() when the current chunk is full (or there is none). */
KC_ARENA_COLD static void *kc_arena_alloc_slow(kc_arena_t *a, size_t size);

/* The current position, and back to it: every block handed out after the
 * mark is released (marks must be rewound in stack order). */
static inline kc_arena_mark_t kc_arena_mark(const kc_arena_t *a);
static inline void kc_arena_rewind(kc_arena_t *a, kc_arena_mark_t m);

/* Release every block and end the cycle: chunks are kept for the next one,
 * except those the DESIGN says to return. */
static inline void kc_arena_reset(kc_arena_t *a);

/* Bytes of chunk space held (for tests and metrics). */
static inline size_t kc_arena_capacity(const kc_arena_t *a);
/* Chunks malloc'd since kc_arena_init() (for tests: flat once warm). */
static inline uint64_t kc_arena_chunk_mallocs(const kc_arena_t *a);

#if defined(__SANITIZE_ADDRESS__)
#define KC_ARENA_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KC_ARENA_ASAN 1
#endif
#endif

/* Poisoning of the free parts of chunks: AddressSanitizer, or valgrind's
 * memcheck in debug builds (its client requests do nothing outside valgrind). */
#if defined(KC_ARENA_ASAN)
#include <sanitizer/asan_interface.h>
#define KC_ARENA_POISON(p, n)   ASAN_POISON_MEMORY_REGION((p), (n))
#define KC_ARENA_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#elif !defined(NDEBUG) && defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define KC_ARENA_POISON(p, n)   VALGRIND_MAKE_MEM_NOACCESS((p), (n))
#define KC_ARENA_UNPOISON(p, n) VALGRIND_MAKE_MEM_UNDEFINED((p), (n))
#endif
#endif
#ifndef KC_ARENA_POISON
#define KC_ARENA_POISON(p, n)   ((void)(p), (void)(n))
#define KC_ARENA_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

static inline unsigned char *kc_arena__data(kc_arena_chunk_t *c)
{
    return (unsigned char *)c + KC_ARENA_HDR;
}

static inline void kc_arena_init(kc_arena_t *a)
{
    *a = (kc_arena_t){0};
}

static inline void kc_arena_fini(kc_arena_t *a)
{
    kc_arena_chunk_t *c = a->head;
    while (c) {
        kc_arena_chunk_t *next = c->next;
        KC_ARENA_UNPOISON(kc_arena__data(c), c->cap);
        free(c);
        c = next;
    }
    uint64_t mallocs = a->chunk_mallocs;
    *a = (kc_arena_t){0};
    a->chunk_mallocs = mallocs;
}

/* Make the chunk after the current one (an existing one if `need` fits in it,
 * else a new one linked in there) the current one. */
static inline kc_arena_chunk_t *kc_arena__advance(kc_arena_t *a, size_t need)
{
    kc_arena_chunk_t *next = a->cur ? a->cur->next : a->head;
    if (next && next->cap >= need) {
        next->used = 0;
        next->cycle = a->cycle;
        a->cur = next;
        return next;
    }
    size_t cap = a->capacity;
    if (cap < KC_ARENA_CHUNK_MIN)
        cap = KC_ARENA_CHUNK_MIN;
    if (cap > KC_ARENA_CHUNK_MAX)
        cap = KC_ARENA_CHUNK_MAX;
    if (cap < need)
        cap = need;
    kc_arena_chunk_t *c = malloc(KC_ARENA_HDR + cap);
    if (!c)
        return NULL;
    c->cap = cap;
    c->used = 0;
    c->cycle = a->cycle;
    KC_ARENA_POISON(kc_arena__data(c), cap);
    if (a->cur) {
        c->next = a->cur->next;
        a->cur->next = c;
    } else {
        c->next = a->head;
        a->head = c;
    }
    a->cur = c;
    a->capacity += cap;
    a->nchunks++;
    a->chunk_mallocs++;
    return c;
}

/* out of line, so that the inline path needs no stack frame */
KC_ARENA_COLD static void *kc_arena_alloc_slow(kc_arena_t *a, size_t size)
{
    if (size > SIZE_MAX - KC_ARENA_HDR - 2 * KC_ARENA_ALIGN)
        return NULL;
    size_t need = (size + KC_ARENA_ALIGN - 1) & ~(size_t)(KC_ARENA_ALIGN - 1);
    if (need == 0)
        need = KC_ARENA_ALIGN;
    kc_arena_chunk_t *c = a->cur;
    if (!c || need > c->cap - c->used) {
        if (!(c = kc_arena__advance(a, need)))
            return NULL;
    }
    unsigned char *p = kc_arena__data(c) + c->used;
    c->used += need;
    KC_ARENA_UNPOISON(p, size ? size : 1);
    return p;
}

static inline kc_arena_mark_t kc_arena_mark(const kc_arena_t *a)
{
    return (kc_arena_mark_t){a->cur, a->cur ? a->cur->used : 0};
}

static inline void kc_arena_rewind(kc_arena_t *a, kc_arena_mark_t m)
{
    /* poison what is released: from the mark to the end of the current chunk */
    if (a->cur) {
        kc_arena_chunk_t *c = m.chunk ? m.chunk : a->head;
        size_t from = m.chunk ? m.used : 0;
        for (; c; c = c->next, from = 0) {
            KC_ARENA_POISON(kc_arena__data(c) + from, c->cap - from);
            if (c == a->cur)
                break;
        }
    }
    a->cur = m.chunk;
    if (m.chunk)
        m.chunk->used = m.used;
}

static inline void kc_arena_reset(kc_arena_t *a)
{
    /* the chunks this cycle touched stay; untouched ones up to twice their size too */
    size_t touched = 0;
    for (kc_arena_chunk_t *c = a->head; c; c = c->next)
        if (c->cycle == a->cycle)
            touched += c->cap;
    size_t limit = touched > KC_ARENA_CHUNK_MIN / 2 ? 2 * touched : KC_ARENA_CHUNK_MIN;
    size_t kept = touched;
    kc_arena_chunk_t **pp = &a->head;
    while (*pp) {
        kc_arena_chunk_t *c = *pp;
        if (c->cycle != a->cycle) {
            if (kept + c->cap > limit) {
                *pp = c->next;
                a->capacity -= c->cap;
                a->nchunks--;
                KC_ARENA_UNPOISON(kc_arena__data(c), c->cap);
                free(c);
                continue;
            }
            kept += c->cap;
        } else {
            KC_ARENA_POISON(kc_arena__data(c), c->cap);
        }
        pp = &c->next;
    }
    a->cur = NULL;
    a->cycle++;
}

static inline size_t kc_arena_capacity(const kc_arena_t *a)
{
    return a->capacity;
}

static inline uint64_t kc_arena_chunk_mallocs(const kc_arena_t *a)
{
    return a->chunk_mallocs;
}

static inline void *kc_arena_alloc(kc_arena_t *a, size_t size)
{
#if !defined(KC_ARENA_ASAN) && defined(NDEBUG)
    kc_arena_chunk_t *c = a->cur;
    size_t need = (size + KC_ARENA_ALIGN - 1) & ~(size_t)(KC_ARENA_ALIGN - 1);
    if (c && need != 0 && need <= c->cap - c->used) {
        void *p = (unsigned char *)c + KC_ARENA_HDR + c->used;
        c->used += need;
        return p;
    }
#endif
    return kc_arena_alloc_slow(a, size); /* always in checked builds: it unpoisons */
}

#endif
