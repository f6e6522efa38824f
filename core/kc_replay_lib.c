/* kc_replay_lib.c - replay an event log into totals, identities and producers
 * (see kc_replay_lib.h, DESIGN).
 *
 * Layout: a group buffer (entries with their bytes copied into one growing
 * byte array, referred to by index so that the array may move), an open
 * addressing cell table keyed by the 7-byte cell key read as a big-endian
 * integer (so integer order = store key order), the producers (an array and
 * a hash index into it), the Event decoder (a wire walker with protobuf-c
 * behind it), and, in memory mode, the open addressing identity table (the
 * big tables on transparent huge pages).
 */
#include "kc_replay_lib.h"

#include "kc_err.h"
#include "kc_event.h"
#include "kc_ledger.h"
#include "kc_log.h"
#include "kc_text.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

/* ---- protobuf-c bump allocator (the decoder's fallback) ---- */

#define S_ARENA_SIZE (64 * 1024)

typedef struct {
    uint8_t *buf;
    size_t used;
} s_arena_t;

static void *s_arena_alloc(void *ctx, size_t size)
{
    s_arena_t *a = ctx;
    size_t need = (size + 15) & ~(size_t)15;
    if (need <= S_ARENA_SIZE - a->used) {
        void *p = a->buf + a->used;
        a->used += need;
        return p;
    }
    return malloc(size); /* a very large event: ordinary heap */
}

static void s_arena_free(void *ctx, void *p)
{
    s_arena_t *a = ctx;
    uint8_t *q = p;
    if (q >= a->buf && q < a->buf + S_ARENA_SIZE)
        return; /* released all at once by the reset */
    free(p);
}

/* ---- the Event decoder ----
 *
 * DESIGN - a wire walker that gives exactly protobuf-c's result or defers to it
 * kcpipe.v1.Event has 13 fields (1 event_id, 2 province, 5 activity, 9 note,
 * 11 corrects, 14 producer_id: strings; 3 year, 4 month: uint32; 6 kind,
 * 7 fund, 10 op: enums; 8 metrics: a message of ten int64 fields 1..10;
 * 15 seq: uint64). The walker fills a kc_pb_event_t and its Metrics in the
 * decoder (strings copied into its buffer with a NUL, as protobuf-c does)
 * when the bytes are in the plain form every producer writes: each field at
 * most once, with its own wire type, one-byte tags, a uint32 in at most 5
 * bytes and <= UINT32_MAX, an enum in one byte, ASCII strings, no unknown
 * field (protobuf-c would keep it, and the content hash re-packs it), nothing
 * truncated. Anything else (a repeated field, which protobuf-c merges or
 * overwrites; a long varint; an unknown or misplaced field; non-ASCII text;
 * strings longer than the buffer) is decoded by protobuf-c itself (bump
 * allocator). So the decoded event is always the one protobuf-c would give;
 * replay_decode_test compares both on valid and mutated events. */

#define S_DEC_STR 4096 /* string bytes (with NULs) decoded in place */

struct kc_replay_decoder {
    kc_pb_event_t ev;
    Kcpipe__V1__Metrics m;
    char str[S_DEC_STR];
    s_arena_t arena;
    ProtobufCAllocator pba;
    kc_pb_event_t *slow; /* protobuf-c's result of the last call, if any */
    uint64_t fast, fallbacks;
};

int kc_replay_decoder_new(kc_replay_decoder_t **out)
{
    if (!out)
        return KC_EINVAL;
    kc_replay_decoder_t *d = calloc(1, sizeof *d);
    if (!d)
        return KC_ENOMEM;
    d->arena.buf = malloc(S_ARENA_SIZE);
    if (!d->arena.buf) {
        free(d);
        return KC_ENOMEM;
    }
    d->pba = (ProtobufCAllocator){
        .alloc = s_arena_alloc, .free = s_arena_free, .allocator_data = &d->arena};
    *out = d;
    return 0;
}

static void s_dec_release(kc_replay_decoder_t *d)
{
    if (d->slow)
        kcpipe__v1__event__free_unpacked(d->slow, &d->pba);
    d->slow = NULL;
    d->arena.used = 0;
}

void kc_replay_decoder_free(kc_replay_decoder_t **dp)
{
    if (!dp || !*dp)
        return;
    s_dec_release(*dp);
    free((*dp)->arena.buf);
    free(*dp);
    *dp = NULL;
}

void kc_replay_decoder_counts(const kc_replay_decoder_t *d, uint64_t *fast, uint64_t *fallbacks)
{
    if (fast)
        *fast = d ? d->fast : 0;
    if (fallbacks)
        *fallbacks = d ? d->fallbacks : 0;
}

/* A varint of at most 10 bytes, decoded as protobuf-c does (the 10th byte
 * contributes bit 63 only). false if truncated or longer. */
static inline bool s_varint(const uint8_t **pp, const uint8_t *end, uint64_t *out, int *nbytes)
{
    const uint8_t *p = *pp;
    uint64_t v = 0;
    for (int i = 0; i < 10 && p < end; i++) {
        uint8_t b = *p++;
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *pp = p;
            *out = v;
            *nbytes = i + 1;
            return true;
        }
    }
    return false;
}

/* The Metrics message in [p, end); false: not the plain form. */
static bool s_walk_metrics(const uint8_t *p, const uint8_t *end, Kcpipe__V1__Metrics *m)
{
    unsigned seen = 0;
    while (p < end) {
        uint8_t tag = *p++;
        unsigned f = tag >> 3;
        if ((tag & 0x80) || (tag & 7) != 0 || f < 1 || f > KC_METRIC_COUNT || (seen & (1u << f)))
            return false;
        seen |= 1u << f;
        uint64_t v;
        int nb;
        if (!s_varint(&p, end, &v, &nb))
            return false;
        kc_pb_metric_set(m, (int)f - 1, (int64_t)v);
    }
    return true;
}

/* The Event in [p, end) into d->ev; false: not the plain form. */
static bool s_walk_event(kc_replay_decoder_t *d, const uint8_t *p, const uint8_t *end)
{
    kc_pb_event_t *ev = &d->ev;
    kcpipe__v1__event__init(ev);
    size_t sused = 0;
    unsigned seen = 0;
    while (p < end) {
        uint8_t tag = *p++;
        unsigned f = tag >> 3, wt = tag & 7;
        if ((tag & 0x80) || f == 0 || (seen & (1u << f)))
            return false;
        seen |= 1u << f;
        uint64_t v;
        int nb;
        switch (f) {
        case 1:
        case 2:
        case 5:
        case 9:
        case 11:
        case 14: {
            if (wt != 2 || !s_varint(&p, end, &v, &nb) || v > (uint64_t)(end - p) ||
                v + 1 > S_DEC_STR - sused)
                return false;
            char *s = d->str + sused;
            for (size_t i = 0; i < v; i++) {
                if (p[i] & 0x80)
                    return false;
                s[i] = (char)p[i];
            }
            s[v] = '\0';
            sused += v + 1;
            p += v;
            char **dst = f == 1    ? &ev->event_id
                         : f == 2  ? &ev->province
                         : f == 5  ? &ev->activity
                         : f == 9  ? &ev->note
                         : f == 11 ? &ev->corrects
                                   : &ev->producer_id;
            *dst = s;
            break;
        }
        case 3:
        case 4:
            if (wt != 0 || !s_varint(&p, end, &v, &nb) || nb > 5 || v > UINT32_MAX)
                return false;
            if (f == 3) {
                ev->has_year = 1;
                ev->year = (uint32_t)v;
            } else {
                ev->has_month = 1;
                ev->month = (uint32_t)v;
            }
            break;
        case 6:
        case 7:
        case 10:
            if (wt != 0 || p >= end || (*p & 0x80))
                return false;
            v = *p++;
            if (f == 6) {
                ev->has_kind = 1;
                ev->kind = (Kcpipe__V1__Kind)v;
            } else if (f == 7) {
                ev->has_fund = 1;
                ev->fund = (Kcpipe__V1__Fund)v;
            } else {
                ev->has_op = 1;
                ev->op = (Kcpipe__V1__Op)v;
            }
            break;
        case 8:
            if (wt != 2 || !s_varint(&p, end, &v, &nb) || v > (uint64_t)(end - p))
                return false;
            kcpipe__v1__metrics__init(&d->m);
            if (!s_walk_metrics(p, p + v, &d->m))
                return false;
            ev->metrics = &d->m;
            p += v;
            break;
        case 15:
            if (wt != 0 || !s_varint(&p, end, &v, &nb))
                return false;
            ev->has_seq = 1;
            ev->seq = v;
            break;
        default: return false;
        }
    }
    return true;
}

int kc_replay_decode(kc_replay_decoder_t *d, const uint8_t *data, size_t len,
                     const kc_pb_event_t **out)
{
    if (!d || !out || (!data && len))
        return KC_EINVAL;
    s_dec_release(d);
    if (s_walk_event(d, data, data + len)) {
        d->fast++;
        *out = &d->ev;
        return 0;
    }
    d->fallbacks++;
    d->slow = kcpipe__v1__event__unpack(&d->pba, len, data);
    *out = d->slow;
    return d->slow ? 0 : KC_EFORMAT;
}

/* The event_id (up to its first NUL, as a C string) of serialized Event bytes
 * without decoding the rest: the last field 1, as protobuf-c keeps the last.
 * 1 found, 0 absent, KC_EFORMAT if the bytes do not walk (the caller then
 * decodes them fully). */
static int s_event_id_of(const uint8_t *p, size_t len, const char **id, size_t *idlen)
{
    const uint8_t *end = p + len;
    int found = 0;
    while (p < end) {
        uint64_t tag, v;
        int nb;
        if (!s_varint(&p, end, &tag, &nb) || nb > 5 || (tag >> 3) == 0 ||
            ((tag >> 3) == 1 && (tag & 7) != 2))
            return KC_EFORMAT;
        switch (tag & 7) {
        case 0:
            if (!s_varint(&p, end, &v, &nb))
                return KC_EFORMAT;
            break;
        case 1:
            if (end - p < 8)
                return KC_EFORMAT;
            p += 8;
            break;
        case 5:
            if (end - p < 4)
                return KC_EFORMAT;
            p += 4;
            break;
        case 2:
            if (!s_varint(&p, end, &v, &nb) || v > (uint64_t)(end - p))
                return KC_EFORMAT;
            if ((tag >> 3) == 1) {
                const void *nul = memchr(p, 0, v);
                *id = (const char *)p;
                *idlen = nul ? (size_t)((const uint8_t *)nul - p) : v;
                found = 1;
            }
            p += v;
            break;
        default: return KC_EFORMAT;
        }
    }
    return found;
}

/* ---- big tables ----
 * The cell and identity tables are probed at random, one slot per event: at
 * millions of identities that is a TLB miss (a page walk) per probe with 4 KiB
 * pages. Tables of 4 MiB and more are therefore mapped on their own, 2 MiB
 * aligned, and advised onto transparent huge pages (THP "madvise" mode; 4 KiB
 * pages if refused). Fresh anonymous memory is zero: no memset. Smaller ones
 * come from calloc. s_table_free() must be given the same n and size. */

#define S_HUGE ((size_t)2 << 20)

static void *s_table_zalloc(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        return NULL;
    size_t bytes = n * size;
    if (bytes < 2 * S_HUGE)
        return calloc(n, size);
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

static void s_table_free(void *p, size_t n, size_t size)
{
    if (!p)
        return;
    size_t bytes = n * size;
    if (bytes < 2 * S_HUGE)
        free(p);
    else
        munmap(p, (bytes + S_HUGE - 1) & ~(S_HUGE - 1));
}

/* ---- cells ---- */

typedef struct {
    uint64_t key;        /* encoded cell key + 1 (0 = empty slot) */
    uint32_t gen;        /* group attempt that last touched it */
    kc_cell_t committed; /* as of the last commit */
    kc_cell_t cur;       /* with the current attempt's deltas */
} s_cell_t;

typedef struct {
    s_cell_t *slots;
    size_t cap, n; /* cap a power of two */
} s_cells_t;

/* The 7-byte key (kc_cell_key_encode's bytes) as a big-endian integer, + 1. */
static inline uint64_t s_key_u64(const kc_cell_key_t *k)
{
    uint64_t v = (uint64_t)k->year << 40 | (uint64_t)k->month << 32 | (uint64_t)k->province << 24 |
                 (uint64_t)k->activity << 16 | (uint64_t)k->kind << 8 | k->fund;
    return v + 1;
}

static void s_u64_key(uint64_t v, kc_cell_key_t *k)
{
    v -= 1;
    uint8_t b[KC_CELL_KEY_LEN];
    for (int i = KC_CELL_KEY_LEN - 1; i >= 0; i--) {
        b[i] = (uint8_t)v;
        v >>= 8;
    }
    kc_cell_key_decode(b, k);
}

static size_t s_slot(const s_cells_t *c, uint64_t key)
{
    /* every bit of the key matters (years differ in the high bits) */
    uint64_t h = key * 0x9E3779B97F4A7C15ull;
    return (size_t)(h ^ h >> 29 ^ h >> 47) & (c->cap - 1);
}

static s_cell_t *s_cells_find(const s_cells_t *c, uint64_t key)
{
    if (!c->cap)
        return NULL;
    for (size_t i = s_slot(c, key);; i = (i + 1) & (c->cap - 1)) {
        if (c->slots[i].key == key)
            return &c->slots[i];
        if (c->slots[i].key == 0)
            return NULL;
    }
}

static int s_cells_grow(s_cells_t *c)
{
    size_t cap = c->cap ? c->cap * 2 : 4096;
    s_cell_t *slots = s_table_zalloc(cap, sizeof *slots);
    if (!slots)
        return KC_ENOMEM;
    s_cells_t n = {.slots = slots, .cap = cap, .n = c->n};
    for (size_t i = 0; i < c->cap; i++) {
        if (!c->slots[i].key)
            continue;
        size_t j = s_slot(&n, c->slots[i].key);
        while (slots[j].key)
            j = (j + 1) & (cap - 1);
        slots[j] = c->slots[i];
    }
    s_table_free(c->slots, c->cap, sizeof *c->slots);
    *c = n;
    return 0;
}

/* The cell of key, inserted (zero) if absent. */
static int s_cells_get(s_cells_t *c, uint64_t key, s_cell_t **out)
{
    s_cell_t *s = s_cells_find(c, key);
    if (s) {
        *out = s;
        return 0;
    }
    if ((c->n + 1) * 2 > c->cap) {
        int rc = s_cells_grow(c);
        if (rc != 0)
            return rc;
    }
    size_t i = s_slot(c, key);
    while (c->slots[i].key)
        i = (i + 1) & (c->cap - 1);
    memset(&c->slots[i], 0, sizeof c->slots[i]);
    c->slots[i].key = key;
    c->n++;
    *out = &c->slots[i];
    return 0;
}

/* ---- identities in memory (memory mode) ----
 *
 * DESIGN - identity table
 * One slot per identity (unit key + event_id), open addressing with linear
 * probing, 16 bytes: h = a 64-bit hash of (unit, event_id) and
 * v = offset << 16 | unit << 8 | kind << 4 | op << 2 | state (0 = empty;
 * kind is 1 or 2, so a used slot is never 0). The event_id itself is not
 * stored: a slot whose h and unit match is CONFIRMED by reading the event_id
 * of the log entry at its offset (every version has its own event_id and
 * offset, and the log is immutable), so a hash collision costs one log read
 * and can never answer for another identity. A record's slot is probed once
 * (a confirmed hit means the log repeats an identity: inconsistent); a
 * correction or retraction reads its target's entry anyway (its values). */

typedef struct {
    uint64_t h, v;
} s_islot_t;

typedef struct {
    s_islot_t *slots;
    size_t cap, n; /* cap a power of two, n <= 3/4 cap */
} s_ids_t;

#define S_OFFSET_MAX ((uint64_t)1 << 48)

static inline uint64_t s_fmix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

static inline uint64_t s_id_hash(uint8_t unit, const char *id, size_t len)
{
    uint64_t h = 0x9E3779B97F4A7C15ull ^ ((uint64_t)unit << 56) ^ len;
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, id, 8);
        h = (h ^ w) * 0x9FB21C651E98DF25ull;
        h ^= h >> 29;
        id += 8;
        len -= 8;
    }
    if (len) {
        uint64_t w = 0;
        memcpy(&w, id, len);
        h = (h ^ w) * 0x9FB21C651E98DF25ull;
    }
    return s_fmix(h);
}

static inline uint64_t s_iv(uint64_t offset, uint8_t unit, const kc_identity_t *id)
{
    return offset << 16 | (uint64_t)unit << 8 | (uint64_t)(id->kind & 15) << 4 |
           (uint64_t)(id->op & 3) << 2 | (id->state & 3);
}

static int s_ids_init(s_ids_t *t, uint64_t expect)
{
    size_t cap = 1 << 16;
    while ((double)cap * 0.75 < (double)expect + 1)
        cap *= 2;
    t->slots = s_table_zalloc(cap, sizeof *t->slots);
    if (!t->slots)
        return KC_ENOMEM;
    t->cap = cap;
    t->n = 0;
    return 0;
}

static int s_ids_grow(s_ids_t *t)
{
    size_t cap = t->cap * 2;
    s_islot_t *slots = s_table_zalloc(cap, sizeof *slots);
    if (!slots)
        return KC_ENOMEM;
    for (size_t i = 0; i < t->cap; i++) {
        if (!t->slots[i].v)
            continue;
        size_t j = t->slots[i].h & (cap - 1);
        while (slots[j].v)
            j = (j + 1) & (cap - 1);
        slots[j] = t->slots[i];
    }
    s_table_free(t->slots, t->cap, sizeof *t->slots);
    t->slots = slots;
    t->cap = cap;
    return 0;
}

/* ---- producers ---- */

typedef struct {
    char id[256]; /* NUL-terminated */
    size_t len;
    kc_producer_state_t st;
    bool any; /* an entry was seen */
} s_prod_t;

/* ---- group buffer ---- */

typedef struct {
    uint64_t offset, received_ns, epoch, seq;
    size_t prod_at, ev_at; /* into r->bytes */
    size_t prod_len, ev_len;
} s_ent_t;

/* What phase 1 of a memory-mode batch prepares for one entry. */
typedef struct s_prep {
    int reason;     /* REASON_OK, or why decoding/checking failed */
    uint8_t op;     /* the event's op */
    uint8_t unit;   /* record: unit key */
    uint8_t kind;   /* record: its kind */
    uint8_t id_len; /* record: event_id length (<= KC_EVENT_ID_MAX) */
    uint64_t h;     /* record: identity hash */
    kc_ledger_cell_t d;
    char id[KC_EVENT_ID_MAX];
    char text[KC_LEDGER_TEXT_MAX]; /* reason text (on failure) */
} s_prep_t;
#define S_MEM_BATCH 128 /* entries per memory-mode batch */

struct kc_replay {
    kc_store_t *dst;
    kc_replay_opts_t o;
    s_ent_t *ents;
    size_t n, cap;
    uint8_t *bytes;
    size_t blen, bcap;
    uint64_t next_offset; /* offset the next kc_replay_add must carry */
    uint64_t done;        /* entries committed */
    s_cells_t cells;
    uint32_t gen;      /* attempt counter */
    uint64_t *touched; /* keys touched by the current attempt */
    size_t ntouched, captouched;
    s_prod_t *prods;
    size_t nprods, capprods, last_prod;
    uint32_t *pidx;  /* producer index: open addressing, prods index + 1 (0 = empty) */
    size_t pidx_cap; /* a power of two, >= 2 x nprods */
    bool final;      /* the callback also writes cells and producers */
    bool finished;
    kc_replay_decoder_t *dec;  /* the entry being replayed */
    kc_replay_decoder_t *dec2; /* a target's, when it must be fully decoded */
    s_ids_t ids;               /* memory mode: every identity */
    uint64_t cache_off;        /* memory mode: the last target entry read */
    const uint8_t *cache_data;
    size_t cache_len;
    uint8_t *cache_buf; /* cache_data's copy of the entry's Event (owned) */
    size_t cache_cap;
    bool cache_ok;
    uint64_t confirms, collisions;
    struct s_prep *prep; /* memory mode: per buffered entry */
    kc_ledger_effect_t eff;
    kc_replay_stats_t stats, group_stats;
    kc_replay_failure_t fail;
};

static int s_fail(kc_replay_t *r, uint64_t offset, int reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int s_fail(kc_replay_t *r, uint64_t offset, int reason, const char *fmt, ...)
{
    char raw[sizeof r->fail.why];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    /* it may quote a logged producer id or event_id (any bytes in a store written
     * before the admission rules): kept in display form (kc_text.h) */
    kc_text_show(raw, strlen(raw), r->fail.why, sizeof r->fail.why);
    r->fail.failed = true;
    r->fail.offset = offset;
    r->fail.reason = reason;
    kc_error("replay: log offset %llu: %s", (unsigned long long)offset, r->fail.why);
    return KC_EFORMAT;
}

int kc_replay_new(kc_replay_t **out, kc_store_t *dst, const kc_replay_opts_t *opts)
{
    if (!out || !opts || (!opts->in_memory && !dst) ||
        (opts->in_memory && (opts->copy_log || !opts->events_from)) ||
        (!opts->copy_log && !opts->events_from))
        return KC_EINVAL;
    kc_replay_t *r = calloc(1, sizeof *r);
    if (!r)
        return KC_ENOMEM;
    r->dst = opts->in_memory ? NULL : dst;
    r->o = *opts;
    if (!r->o.group)
        r->o.group = KC_REPLAY_DEFAULT_GROUP;
    int rc = kc_replay_decoder_new(&r->dec);
    if (rc == 0)
        rc = kc_replay_decoder_new(&r->dec2);
    if (rc == 0 && r->o.in_memory) {
        rc = s_ids_init(&r->ids, r->o.total);
        r->prep = malloc(S_MEM_BATCH * sizeof *r->prep);
        if (rc == 0 && !r->prep)
            rc = KC_ENOMEM;
    }
    if (rc != 0) {
        kc_replay_free(&r);
        return rc;
    }
    *out = r;
    return 0;
}

void kc_replay_free(kc_replay_t **rp)
{
    if (!rp || !*rp)
        return;
    kc_replay_t *r = *rp;
    free(r->ents);
    free(r->bytes);
    s_table_free(r->cells.slots, r->cells.cap, sizeof *r->cells.slots);
    free(r->touched);
    free(r->prods);
    free(r->pidx);
    kc_replay_decoder_free(&r->dec);
    kc_replay_decoder_free(&r->dec2);
    s_table_free(r->ids.slots, r->ids.cap, sizeof *r->ids.slots);
    free(r->prep);
    free(r->cache_buf);
    free(r);
    *rp = NULL;
}

const kc_replay_stats_t *kc_replay_stats(const kc_replay_t *r)
{
    return &r->stats;
}

const kc_replay_failure_t *kc_replay_failure(const kc_replay_t *r)
{
    return &r->fail;
}

/* The empty slot of the producer index where (id, len), known absent, goes. */
static size_t s_pidx_slot(const kc_replay_t *r, const char *id, size_t len)
{
    size_t mask = r->pidx_cap - 1, i = s_id_hash(0, id, len) & mask;
    while (r->pidx[i])
        i = (i + 1) & mask;
    return i;
}

/* Double the producer index (64 slots first) and re-insert every producer. */
static int s_pidx_grow(kc_replay_t *r)
{
    size_t cap = r->pidx_cap ? r->pidx_cap * 2 : 64;
    uint32_t *t = calloc(cap, sizeof *t);
    if (!t)
        return KC_ENOMEM;
    free(r->pidx);
    r->pidx = t;
    r->pidx_cap = cap;
    for (size_t i = 0; i < r->nprods; i++)
        r->pidx[s_pidx_slot(r, r->prods[i].id, r->prods[i].len)] = (uint32_t)(i + 1);
    return 0;
}

/* Transport state: the entry must continue its producer's sequence. */
static int s_producer_see(kc_replay_t *r, const kc_log_entry_t *e)
{
    s_prod_t *p = NULL;
    if (r->last_prod < r->nprods && r->prods[r->last_prod].len == e->producer_len &&
        memcmp(r->prods[r->last_prod].id, e->producer, e->producer_len) == 0)
        p = &r->prods[r->last_prod];
    size_t slot = 0;
    if (!p) { /* the index: the slot holding it, or the empty one where it goes */
        size_t mask = r->pidx_cap - 1;
        slot = r->pidx_cap ? s_id_hash(0, e->producer, e->producer_len) & mask : 0;
        for (; r->pidx_cap && r->pidx[slot]; slot = (slot + 1) & mask) {
            s_prod_t *q = &r->prods[r->pidx[slot] - 1];
            if (q->len == e->producer_len && memcmp(q->id, e->producer, e->producer_len) == 0) {
                p = q;
                r->last_prod = r->pidx[slot] - 1;
                break;
            }
        }
    }
    if (!p) {
        if ((r->nprods + 1) * 2 > r->pidx_cap) {
            int rc = s_pidx_grow(r);
            if (rc != 0)
                return rc;
            slot = s_pidx_slot(r, e->producer, e->producer_len);
        }
        if (r->nprods >= UINT32_MAX - 1)
            return KC_ENOMEM;
        if (r->nprods == r->capprods) {
            size_t cap = r->capprods ? r->capprods * 2 : 16;
            s_prod_t *np = realloc(r->prods, cap * sizeof *np);
            if (!np)
                return KC_ENOMEM;
            r->prods = np;
            r->capprods = cap;
        }
        p = &r->prods[r->nprods];
        memset(p, 0, sizeof *p);
        memcpy(p->id, e->producer, e->producer_len);
        p->len = e->producer_len;
        r->pidx[slot] = (uint32_t)(r->nprods + 1);
        r->last_prod = r->nprods++;
    }
    if (p->any && e->epoch < p->st.epoch)
        return s_fail(r, e->offset, -1,
                      "producer '%s' epoch %llu after epoch %llu: an older spool's event was "
                      "logged after a newer one's",
                      p->id, (unsigned long long)e->epoch, (unsigned long long)p->st.epoch);
    if (p->any && e->epoch == p->st.epoch && e->seq <= p->st.hwm)
        return s_fail(r, e->offset, -1,
                      "producer '%s' seq %llu logged after seq %llu (epoch %llu): seqs must "
                      "increase",
                      p->id, (unsigned long long)e->seq, (unsigned long long)p->st.hwm,
                      (unsigned long long)e->epoch);
    p->any = true;
    p->st.epoch = e->epoch;
    p->st.hwm = e->seq;
    p->st.accepted++;
    p->st.last_seen_ns = e->received_ns;
    return 0;
}

/* ---- the group transaction ---- */

typedef struct {
    kc_txn_t *dst;
    kc_txn_t *events; /* NULL: dst */
} s_src_t;

static int s_src_identity(void *ctx, uint8_t unit, const char *event_id, size_t len,
                          kc_identity_t *out)
{
    s_src_t *s = ctx;
    return kc_txn_identity_get(s->dst, unit, event_id, len, out);
}

static int s_src_event(void *ctx, uint64_t offset, const uint8_t **data, size_t *len)
{
    s_src_t *s = ctx;
    kc_log_entry_t e;
    int rc = kc_txn_log_get(s->events ? s->events : s->dst, offset, &e);
    if (rc != 0)
        return rc;
    *data = e.event;
    *len = e.event_len;
    return 0;
}

/* Add one delta to the in-memory cell, with kc_txn_totals_apply's range checks. */
static int s_cell_apply(kc_replay_t *r, const kc_ledger_cell_t *d, uint64_t offset)
{
    uint64_t key = s_key_u64(&d->key);
    s_cell_t *c;
    int rc = s_cells_get(&r->cells, key, &c);
    if (rc != 0)
        return rc;
    kc_cell_t *cur = r->o.in_memory ? &c->committed : &c->cur;
    if (!r->o.in_memory && c->gen != r->gen) {
        if (r->ntouched == r->captouched) {
            size_t cap = r->captouched ? r->captouched * 2 : 1024;
            uint64_t *t = realloc(r->touched, cap * sizeof *t);
            if (!t)
                return KC_ENOMEM;
            r->touched = t;
            r->captouched = cap;
        }
        r->touched[r->ntouched++] = key;
        c->gen = r->gen;
    }
    kc_cell_t sum;
    bool over = d->events >= 0
                    ? __builtin_add_overflow(cur->events, (uint64_t)d->events, &sum.events)
                    : __builtin_sub_overflow(cur->events, -(uint64_t)d->events, &sum.events);
    for (int i = 0; i < KC_METRIC_COUNT; i++)
        over |= __builtin_add_overflow(cur->m[i], d->m[i], &sum.m[i]);
    if (over)
        return s_fail(r, offset, -1,
                      "a total of %04u-%02u province %02u activity %u kind %u fund %u would leave "
                      "its range (the live path rejects such an event: total_overflow)",
                      d->key.year, d->key.month, d->key.province, d->key.activity, d->key.kind,
                      d->key.fund);
    *cur = sum;
    return 0;
}

/* ---- memory mode ---- */

/* Target Events for the ledger and identity confirmation: the log entry at
 * `offset` of opts.events_from (the last one read is kept: the ledger reads a
 * target right after its identity was confirmed). The bytes are copied: an
 * entry's Event may be rebuilt in a buffer of the transaction that later
 * reads reuse (kc_store.h), and the one-thread path scans that same
 * transaction between two lookups. */
static int s_mem_event(void *ctx, uint64_t offset, const uint8_t **data, size_t *len)
{
    kc_replay_t *r = ctx;
    if (!r->cache_ok || r->cache_off != offset) {
        kc_log_entry_t e;
        r->cache_ok = false;
        int rc = kc_txn_log_get(r->o.events_from, offset, &e);
        if (rc != 0)
            return rc;
        if (e.event_len > r->cache_cap) {
            uint8_t *b = realloc(r->cache_buf, e.event_len);
            if (!b)
                return KC_ENOMEM;
            r->cache_buf = b;
            r->cache_cap = e.event_len;
        }
        if (e.event_len)
            memcpy(r->cache_buf, e.event, e.event_len);
        r->cache_off = offset;
        r->cache_data = r->cache_buf;
        r->cache_len = e.event_len;
        r->cache_ok = true;
    }
    *data = r->cache_data;
    *len = r->cache_len;
    return 0;
}

/* 1 if the entry at `offset` has event_id (id, len), 0 if not, or an error. */
static int s_confirm(kc_replay_t *r, uint64_t offset, const char *id, size_t len)
{
    const uint8_t *data;
    size_t dlen;
    int rc = s_mem_event(r, offset, &data, &dlen);
    if (rc != 0)
        return rc == KC_ENOTFOUND ? KC_EFORMAT : rc;
    r->confirms++;
    const char *eid = NULL;
    size_t elen = 0;
    rc = s_event_id_of(data, dlen, &eid, &elen);
    if (rc == KC_EFORMAT) { /* not the plain form: ask protobuf-c */
        const kc_pb_event_t *ev;
        if (kc_replay_decode(r->dec2, data, dlen, &ev) != 0)
            return KC_EFORMAT;
        eid = ev->event_id;
        elen = eid ? strlen(eid) : 0;
        rc = eid != NULL;
    }
    return rc == 1 && elen == len && memcmp(eid, id, len) == 0;
}

/* Find (unit, id): *found = its slot or NULL; *empty = where it would go. */
static int s_ids_find(kc_replay_t *r, uint8_t unit, const char *id, size_t len, uint64_t h,
                      s_islot_t **found, s_islot_t **empty)
{
    s_ids_t *t = &r->ids;
    *found = NULL;
    for (size_t i = h & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
        s_islot_t *s = &t->slots[i];
        if (!s->v) {
            *empty = s;
            return 0;
        }
        if (s->h == h && (uint8_t)(s->v >> 8) == unit) {
            int rc = s_confirm(r, s->v >> 16, id, len);
            if (rc < 0)
                return rc;
            if (rc == 1) {
                *found = s;
                return 0;
            }
            r->collisions++;
        }
    }
}

static int s_mem_identity(void *ctx, uint8_t unit, const char *event_id, size_t len,
                          kc_identity_t *out)
{
    kc_replay_t *r = ctx;
    s_islot_t *s, *empty;
    int rc = s_ids_find(r, unit, event_id, len, s_id_hash(unit, event_id, len), &s, &empty);
    if (rc != 0)
        return rc;
    if (!s)
        return KC_ENOTFOUND;
    memset(out, 0, sizeof *out);
    out->offset = s->v >> 16;
    out->kind = (uint8_t)(s->v >> 4 & 15);
    out->op = (uint8_t)(s->v >> 2 & 3);
    out->state = (uint8_t)(s->v & 3);
    return 0;
}

/* Insert or overwrite the identity (unit, id). */
static int s_ids_put(kc_replay_t *r, uint8_t unit, const char *id, size_t len,
                     const kc_identity_t *idn)
{
    if (idn->offset >= S_OFFSET_MAX)
        return KC_EINVAL;
    if ((r->ids.n + 1) * 4 > r->ids.cap * 3) {
        int rc = s_ids_grow(&r->ids);
        if (rc != 0)
            return rc;
    }
    uint64_t h = s_id_hash(unit, id, len);
    s_islot_t *s, *empty;
    int rc = s_ids_find(r, unit, id, len, h, &s, &empty);
    if (rc != 0)
        return rc;
    if (!s) {
        s = empty;
        s->h = h;
        r->ids.n++;
    }
    s->v = s_iv(idn->offset, unit, idn);
    return 0;
}

/* Phase 1: decode and check the entry (bytes = its batch's buffer), hash its
 * identity and find its cell key. Touches nothing of r's tables, so it may
 * run on the scanning thread of the pipeline (kc_replay_from_txn). */
static void s_prepare(kc_replay_decoder_t *dec, const uint8_t *bytes, const s_ent_t *se,
                      s_prep_t *p)
{
    const kc_pb_event_t *ev;
    p->op = 0;
    p->text[0] = '\0';
    if (kc_replay_decode(dec, bytes + se->ev_at, se->ev_len, &ev) != 0) {
        p->reason = KCPIPE__V1__REASON__REASON_UNDECODABLE;
        return;
    }
    kc_event_view_t v;
    char text[KC_LEDGER_TEXT_MAX];
    p->reason = kc_event_check(ev, &v, text, sizeof text);
    if (p->reason != KCPIPE__V1__REASON__REASON_OK) {
        memcpy(p->text, text, sizeof p->text);
        return;
    }
    p->op = v.op;
    if (v.op != KCPIPE__V1__OP__OP_RECORD)
        return; /* phase 2 decodes it again for kc_ledger_effect */
    p->unit = kc_ref_unit_key(v.province, v.yyyymm);
    p->kind = v.kind;
    p->id_len = (uint8_t)v.event_id_len;
    memcpy(p->id, v.event_id, v.event_id_len);
    p->h = s_id_hash(p->unit, v.event_id, v.event_id_len);
    p->d.key = (kc_cell_key_t){.year = v.year,
                               .month = v.month,
                               .province = v.province,
                               .activity = v.activity->id,
                               .kind = v.kind,
                               .fund = v.fund};
    memcpy(p->d.m, v.metrics, sizeof p->d.m);
    p->d.events = 1;
}

/* Start fetching the identity slot and the cell that phase 2 will probe for a
 * prepared record. */
static inline void s_prefetch(const kc_replay_t *r, const s_prep_t *p)
{
    if (p->reason != KCPIPE__V1__REASON__REASON_OK || p->op != KCPIPE__V1__OP__OP_RECORD)
        return;
    __builtin_prefetch(&r->ids.slots[p->h & (r->ids.cap - 1)]);
    if (r->cells.cap) {
        const s_cell_t *c = &r->cells.slots[s_slot(&r->cells, s_key_u64(&p->d.key))];
        __builtin_prefetch(c);
        __builtin_prefetch((const char *)c + 64);
    }
}

/* kc_ledger's arithmetic for a record (s_record), without the content hash:
 * an identity that already exists means the log repeats it. */
static int s_mem_record(kc_replay_t *r, const s_prep_t *p, uint64_t offset)
{
    if ((r->ids.n + 1) * 4 > r->ids.cap * 3) {
        int rc = s_ids_grow(&r->ids);
        if (rc != 0)
            return rc;
    }
    s_islot_t *s, *empty;
    int rc = s_ids_find(r, p->unit, p->id, p->id_len, p->h, &s, &empty);
    if (rc != 0)
        return rc;
    if (s)
        return s_fail(r, offset, KCPIPE__V1__REASON__REASON_EVENT_ID_CONFLICT,
                      "a logged event replays as duplicate or event_id_conflict (province %02u "
                      "event_id '%.*s' is already counted at log offset %llu): the log and the "
                      "rules disagree",
                      p->d.key.province, (int)p->id_len, p->id, (unsigned long long)(s->v >> 16));
    if ((rc = s_cell_apply(r, &p->d, offset)) != 0)
        return rc;
    kc_identity_t idn = {.offset = offset, .op = KCPIPE__V1__OP__OP_RECORD, .kind = p->kind};
    if (offset >= S_OFFSET_MAX)
        return KC_EINVAL;
    empty->h = p->h;
    empty->v = s_iv(offset, p->unit, &idn);
    r->ids.n++;
    r->stats.identities++;
    r->stats.records++;
    return 0;
}

/* A correction or retraction: kc_ledger_effect itself, against the in-memory
 * identities and the targets' log entries. */
static int s_mem_amend(kc_replay_t *r, const uint8_t *bytes, const s_ent_t *se)
{
    const kc_pb_event_t *ev;
    if (kc_replay_decode(r->dec, bytes + se->ev_at, se->ev_len, &ev) != 0)
        return KC_EFORMAT; /* decoded in phase 1: cannot happen */
    kc_ledger_source_t ls = {.identity_get = s_mem_identity, .event_get = s_mem_event, .ctx = r};
    kc_ledger_effect_t *eff = &r->eff;
    int rc = kc_ledger_effect(&ls, ev, se->offset, eff);
    if (rc != 0)
        return rc;
    if (eff->reason != KCPIPE__V1__REASON__REASON_OK)
        return s_fail(r, se->offset, eff->reason,
                      "a logged event replays as %s (%s): the log and the rules disagree",
                      kc_reason_name(eff->reason), eff->text);
    for (size_t i = 0; rc == 0 && i < eff->ncells; i++)
        rc = s_cell_apply(r, &eff->cells[i], se->offset);
    for (size_t i = 0; rc == 0 && i < eff->nidents; i++) {
        const kc_ledger_ident_t *d = &eff->idents[i];
        rc = s_ids_put(r, d->unit, d->event_id, d->event_id_len, &d->id);
    }
    if (rc != 0)
        return rc;
    r->stats.identities += eff->nidents;
    if (eff->op == KCPIPE__V1__OP__OP_CORRECTION)
        r->stats.corrections++;
    else
        r->stats.retractions++;
    return 0;
}

/* Replay the buffered entries in memory: phase 1 prepares them all (so that
 * the identity slots are being fetched while the next ones decode), phase 2
 * applies them in offset order. */
/* Phase 2 for one prepared entry, in offset order. */
static int s_mem_apply(kc_replay_t *r, const uint8_t *bytes, const s_ent_t *se, const s_prep_t *p)
{
    kc_log_entry_t e = {.offset = se->offset,
                        .received_ns = se->received_ns,
                        .epoch = se->epoch,
                        .seq = se->seq,
                        .producer = (const char *)bytes + se->prod_at,
                        .producer_len = se->prod_len};
    int rc = s_producer_see(r, &e);
    if (rc != 0)
        return rc;
    if (p->reason == KCPIPE__V1__REASON__REASON_UNDECODABLE && !p->text[0])
        rc = s_fail(r, se->offset, p->reason, "the entry's %zu bytes are not a kcpipe.v1.Event",
                    se->ev_len);
    else if (p->reason != KCPIPE__V1__REASON__REASON_OK)
        rc = s_fail(r, se->offset, p->reason,
                    "a logged event replays as %s (%s): the log and the rules disagree",
                    kc_reason_name(p->reason), p->text);
    else if (p->op == KCPIPE__V1__OP__OP_RECORD)
        rc = s_mem_record(r, p, se->offset);
    else
        rc = s_mem_amend(r, bytes, se);
    if (rc != 0 && !r->fail.failed && rc != KC_ENOMEM)
        rc = s_fail(r, se->offset, -1, "cannot be replayed: %s", kc_strerror(rc));
    if (rc != 0)
        return rc;
    r->stats.entries++;
    r->done++;
    if (r->o.progress && (r->done & 0xFFFF) == 0)
        r->o.progress(r->done, r->o.total, r->o.progress_ctx);
    return 0;
}

static int s_mem_batch(kc_replay_t *r)
{
    if (r->fail.failed)
        return KC_EFORMAT;
    for (size_t i = 0; i < r->n; i++) {
        s_prepare(r->dec, r->bytes, &r->ents[i], &r->prep[i]);
        s_prefetch(r, &r->prep[i]);
    }
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < r->n; i++)
        rc = s_mem_apply(r, r->bytes, &r->ents[i], &r->prep[i]);
    r->n = 0;
    r->blen = 0;
    return rc;
}

static int s_entry(kc_replay_t *r, kc_txn_t *txn, s_src_t *src, const s_ent_t *se)
{
    kc_log_entry_t e = {.offset = se->offset,
                        .received_ns = se->received_ns,
                        .epoch = se->epoch,
                        .seq = se->seq,
                        .producer = (const char *)r->bytes + se->prod_at,
                        .producer_len = se->prod_len,
                        .event = r->bytes + se->ev_at,
                        .event_len = se->ev_len};
    int rc;
    if (r->o.copy_log) {
        uint64_t at;
        if ((rc = kc_txn_log_append(txn, &e, &at)) != 0)
            return rc;
        if (at != e.offset)
            return s_fail(r, e.offset, -1, "the entry landed at offset %llu of the new log",
                          (unsigned long long)at);
    }
    const kc_pb_event_t *ev;
    if (kc_replay_decode(r->dec, e.event, e.event_len, &ev) != 0)
        return s_fail(r, e.offset, KCPIPE__V1__REASON__REASON_UNDECODABLE,
                      "the entry's %zu bytes are not a kcpipe.v1.Event", e.event_len);
    kc_ledger_source_t ls = {.identity_get = s_src_identity, .event_get = s_src_event, .ctx = src};
    kc_ledger_effect_t *eff = &r->eff;
    rc = kc_ledger_effect(&ls, ev, e.offset, eff);
    if (rc != 0)
        return s_fail(r, e.offset, -1, "its effect cannot be computed: %s", kc_strerror(rc));
    if (eff->reason != KCPIPE__V1__REASON__REASON_OK)
        return s_fail(r, e.offset, eff->reason,
                      "a logged event replays as %s (%s): the log and the rules disagree",
                      kc_reason_name(eff->reason), eff->text);
    for (size_t i = 0; i < eff->ncells; i++)
        if ((rc = s_cell_apply(r, &eff->cells[i], e.offset)) != 0)
            return rc;
    for (size_t i = 0; i < eff->nidents; i++) {
        const kc_ledger_ident_t *d = &eff->idents[i];
        if ((rc = kc_txn_identity_put(txn, d->unit, d->event_id, d->event_id_len, &d->id)) != 0)
            return rc;
    }
    r->group_stats.identities += eff->nidents;
    if (eff->op == KCPIPE__V1__OP__OP_CORRECTION)
        r->group_stats.corrections++;
    else if (eff->op == KCPIPE__V1__OP__OP_RETRACTION)
        r->group_stats.retractions++;
    else
        r->group_stats.records++;
    return 0;
}

static int s_write_final(kc_replay_t *r, kc_txn_t *txn)
{
    for (size_t i = 0; i < r->cells.cap; i++) {
        const s_cell_t *c = &r->cells.slots[i];
        if (!c->key)
            continue;
        kc_cell_key_t key;
        s_u64_key(c->key, &key);
        if (c->cur.events > (uint64_t)INT64_MAX)
            return KC_EOVERFLOW;
        int rc = kc_txn_totals_apply(txn, &key, c->cur.m, (int64_t)c->cur.events);
        if (rc != 0)
            return rc;
    }
    for (size_t i = 0; i < r->nprods; i++) {
        int rc = kc_txn_producer_put(txn, r->prods[i].id, &r->prods[i].st);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int s_group(kc_txn_t *txn, void *ctx)
{
    kc_replay_t *r = ctx;
    /* start from the committed state: undo what an aborted attempt did */
    for (size_t i = 0; i < r->ntouched; i++) {
        s_cell_t *c = s_cells_find(&r->cells, r->touched[i]);
        if (c)
            c->cur = c->committed;
    }
    r->ntouched = 0;
    if (++r->gen == 0)
        r->gen = 1;
    memset(&r->group_stats, 0, sizeof r->group_stats);
    s_src_t src = {.dst = txn, .events = r->o.events_from};
    for (size_t i = 0; i < r->n; i++) {
        int rc = s_entry(r, txn, &src, &r->ents[i]);
        if (rc != 0)
            return rc;
    }
    return r->final ? s_write_final(r, txn) : 0;
}

/* Replay the buffer in one transaction and make its cells committed. */
static int s_flush(kc_replay_t *r)
{
    if (r->fail.failed)
        return KC_EFORMAT;
    if (r->n == 0 && !r->final)
        return 0;
    r->ntouched = 0;
    int rc = kc_store_write(r->dst, s_group, r);
    if (rc != 0) {
        if (!r->fail.failed)
            kc_error("replay: a group of %zu entries from offset %llu was not committed: %s", r->n,
                     r->n ? (unsigned long long)r->ents[0].offset : 0ull, kc_strerror(rc));
        return rc;
    }
    for (size_t i = 0; i < r->ntouched; i++) {
        s_cell_t *c = s_cells_find(&r->cells, r->touched[i]);
        if (c)
            c->committed = c->cur;
    }
    r->ntouched = 0;
    r->stats.entries += r->n;
    r->stats.identities += r->group_stats.identities;
    r->stats.records += r->group_stats.records;
    r->stats.corrections += r->group_stats.corrections;
    r->stats.retractions += r->group_stats.retractions;
    r->stats.commits++;
    r->done += r->n;
    r->n = 0;
    r->blen = 0;
    if (r->o.progress)
        r->o.progress(r->done, r->o.total, r->o.progress_ctx);
    return 0;
}

int kc_replay_add(kc_replay_t *r, const kc_log_entry_t *e)
{
    if (!r || !e || r->finished || !e->producer || !e->producer_len || e->producer_len > 255 ||
        (!e->event && e->event_len))
        return KC_EINVAL;
    if (r->fail.failed)
        return KC_EFORMAT;
    if (e->offset != r->next_offset && r->o.in_memory && s_mem_batch(r) != 0)
        return KC_EFORMAT; /* an earlier entry's failure first */
    if (e->offset != r->next_offset)
        return s_fail(r, e->offset, -1,
                      "offset %llu expected: the log has a gap or is out of order",
                      (unsigned long long)r->next_offset);
    int rc = r->o.in_memory ? 0 : s_producer_see(r, e); /* memory mode: in order, in the batch */
    if (rc != 0)
        return rc;
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 1024;
        s_ent_t *n = realloc(r->ents, cap * sizeof *n);
        if (!n)
            return KC_ENOMEM;
        r->ents = n;
        r->cap = cap;
    }
    size_t need = e->producer_len + e->event_len;
    if (r->blen + need > r->bcap) {
        size_t cap = r->bcap ? r->bcap : (size_t)1 << 20;
        while (cap < r->blen + need)
            cap *= 2;
        uint8_t *b = realloc(r->bytes, cap);
        if (!b)
            return KC_ENOMEM;
        r->bytes = b;
        r->bcap = cap;
    }
    s_ent_t *s = &r->ents[r->n++];
    s->offset = e->offset;
    s->received_ns = e->received_ns;
    s->epoch = e->epoch;
    s->seq = e->seq;
    s->prod_at = r->blen;
    s->prod_len = e->producer_len;
    memcpy(r->bytes + r->blen, e->producer, e->producer_len);
    r->blen += e->producer_len;
    s->ev_at = r->blen;
    s->ev_len = e->event_len;
    if (e->event_len)
        memcpy(r->bytes + r->blen, e->event, e->event_len);
    r->blen += e->event_len;
    r->next_offset++;
    if (r->o.in_memory)
        return r->n >= S_MEM_BATCH ? s_mem_batch(r) : 0;
    return r->n >= r->o.group ? s_flush(r) : 0;
}

int kc_replay_finish(kc_replay_t *r)
{
    if (!r || r->finished)
        return KC_EINVAL;
    r->final = true;
    int rc = r->fail.failed ? KC_EFORMAT : 0;
    if (!r->o.in_memory)
        rc = s_flush(r);
    else if (rc == 0)
        rc = s_mem_batch(r);
    else if (rc == 0 && r->o.progress)
        r->o.progress(r->done, r->o.total, r->o.progress_ctx);
    r->final = false;
    r->finished = true;
    if (rc == 0) {
        r->stats.cells = r->cells.n;
        r->stats.producers = r->nprods;
    }
    return rc;
}

typedef struct {
    kc_replay_t *r;
    int rc;
} s_scan_t;

static int s_scan_entry(const kc_log_entry_t *e, void *ctx)
{
    s_scan_t *s = ctx;
    return kc_replay_add(s->r, e);
}

/* ---- memory mode on two threads ----
 *
 * DESIGN
 * kc_replay_from_txn in memory mode splits the work of each entry in two
 * (opts.threads): a scanning thread reads the log with its own read snapshot
 * of the same store, copies the entries into batches of S_PIPE_BATCH and
 * runs phase 1 on them (s_prepare: decode, kc_event_check, identity hash,
 * cell key) with a decoder of its own; the calling thread takes the batches in
 * order and runs phase 2 (s_mem_apply: producers, identities, cells, the
 * ledger for corrections and retractions, reading targets from
 * opts.events_from) exactly as the one-thread path does, entry by entry in
 * offset order, so every result and every failure (and its offset) is the
 * same. S_PIPE_SLOTS batches circulate between the two under one mutex: the
 * scanner fills a free slot, the applier empties a full one; each side waits
 * on a condition variable only when the other is behind.
 * Snapshots: an LMDB read transaction belongs to one thread, so the scanner
 * opens its own on src's store. It may be newer than src (a live writer), but
 * the log is append-only: the entries below src's log size, the only ones the
 * scanner hands over, are the same in both. The applier checks offsets and
 * producer names as kc_replay_add does. */

#define S_PIPE_BATCH 1024
#define S_PIPE_SLOTS 4
#define S_PIPE_MIN   65536 /* threads = 0: a second thread from this many entries */
#define S_PIPE_END   1     /* s_pipe_entry: stop the scan (not an error) */

typedef struct {
    s_ent_t ents[S_PIPE_BATCH];
    s_prep_t prep[S_PIPE_BATCH];
    uint8_t *bytes;
    size_t blen, bcap, n;
} s_pbatch_t;

typedef struct {
    kc_store_t *store;
    uint64_t size; /* entries to hand over: src's log size */
    kc_replay_decoder_t *dec;
    s_pbatch_t *slot[S_PIPE_SLOTS];
    s_pbatch_t *cur; /* scanner: the slot being filled, or NULL */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t produced, consumed; /* batches handed over / given back */
    bool done;                   /* the scanner has finished (scan_rc) */
    bool stop;                   /* the applier failed: scan no further */
    int scan_rc;
} s_pipe_t;

/* Scanner: a free slot to fill, or NULL if the applier stopped. */
static s_pbatch_t *s_pipe_take_free(s_pipe_t *pp)
{
    pthread_mutex_lock(&pp->mu);
    while (pp->produced - pp->consumed >= S_PIPE_SLOTS && !pp->stop)
        pthread_cond_wait(&pp->cv, &pp->mu);
    s_pbatch_t *b = pp->stop ? NULL : pp->slot[pp->produced % S_PIPE_SLOTS];
    pthread_mutex_unlock(&pp->mu);
    if (b)
        b->n = b->blen = 0;
    return b;
}

/* Scanner: phase 1 over the filled slot, then hand it over. */
static void s_pipe_publish(s_pipe_t *pp)
{
    s_pbatch_t *b = pp->cur;
    for (size_t i = 0; i < b->n; i++)
        s_prepare(pp->dec, b->bytes, &b->ents[i], &b->prep[i]);
    pthread_mutex_lock(&pp->mu);
    pp->produced++;
    pthread_cond_broadcast(&pp->cv);
    pthread_mutex_unlock(&pp->mu);
    pp->cur = NULL;
}

static int s_pipe_entry(const kc_log_entry_t *e, void *ctx)
{
    s_pipe_t *pp = ctx;
    if (e->offset >= pp->size)
        return S_PIPE_END;
    if (!pp->cur && !(pp->cur = s_pipe_take_free(pp)))
        return S_PIPE_END; /* the applier stopped: its failure is the result */
    s_pbatch_t *b = pp->cur;
    size_t need = e->producer_len + e->event_len;
    if (b->blen + need > b->bcap) {
        size_t cap = b->bcap ? b->bcap : (size_t)1 << 18;
        while (cap < b->blen + need)
            cap *= 2;
        uint8_t *nb = realloc(b->bytes, cap);
        if (!nb)
            return KC_ENOMEM;
        b->bytes = nb;
        b->bcap = cap;
    }
    s_ent_t *se = &b->ents[b->n++];
    *se = (s_ent_t){.offset = e->offset,
                    .received_ns = e->received_ns,
                    .epoch = e->epoch,
                    .seq = e->seq,
                    .prod_at = b->blen,
                    .prod_len = e->producer_len,
                    .ev_at = b->blen + e->producer_len,
                    .ev_len = e->event_len};
    if (e->producer_len)
        memcpy(b->bytes + b->blen, e->producer, e->producer_len);
    if (e->event_len)
        memcpy(b->bytes + se->ev_at, e->event, e->event_len);
    b->blen += need;
    if (b->n == S_PIPE_BATCH)
        s_pipe_publish(pp);
    return 0;
}

static void *s_pipe_scan(void *arg)
{
    s_pipe_t *pp = arg;
    kc_txn_t *t = NULL;
    int rc = kc_store_read_begin(pp->store, &t);
    if (rc == 0)
        rc = kc_txn_log_scan(t, 0, s_pipe_entry, pp);
    if (rc == S_PIPE_END)
        rc = 0;
    if (rc == 0 && pp->cur && pp->cur->n > 0)
        s_pipe_publish(pp);
    kc_txn_end(&t);
    pthread_mutex_lock(&pp->mu);
    pp->done = true;
    pp->scan_rc = rc;
    pthread_cond_broadcast(&pp->cv);
    pthread_mutex_unlock(&pp->mu);
    return NULL;
}

/* Applier: phase 2 of one batch, with kc_replay_add's checks per entry. */
static int s_pipe_apply(kc_replay_t *r, const s_pbatch_t *b)
{
    for (size_t i = 0; i < b->n; i++) {
        if (i + 16 < b->n)
            s_prefetch(r, &b->prep[i + 16]);
        const s_ent_t *se = &b->ents[i];
        if (!se->prod_len || se->prod_len > 255)
            return KC_EINVAL;
        if (se->offset != r->next_offset)
            return s_fail(r, se->offset, -1,
                          "offset %llu expected: the log has a gap or is out of order",
                          (unsigned long long)r->next_offset);
        r->next_offset++;
        int rc = s_mem_apply(r, b->bytes, se, &b->prep[i]);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static void s_pipe_free(s_pipe_t *pp)
{
    for (int i = 0; i < S_PIPE_SLOTS; i++) {
        if (pp->slot[i])
            free(pp->slot[i]->bytes);
        free(pp->slot[i]);
    }
    kc_replay_decoder_free(&pp->dec);
}

static int s_from_txn_piped(kc_replay_t *r, kc_txn_t *src, uint64_t size)
{
    s_pipe_t pp = {.store = kc_txn_store(src), .size = size};
    int rc = pp.store ? kc_replay_decoder_new(&pp.dec) : KC_EINVAL;
    for (int i = 0; rc == 0 && i < S_PIPE_SLOTS; i++)
        if (!(pp.slot[i] = calloc(1, sizeof *pp.slot[i])))
            rc = KC_ENOMEM;
    if (rc != 0) {
        s_pipe_free(&pp);
        return rc;
    }
    pthread_mutex_init(&pp.mu, NULL);
    pthread_cond_init(&pp.cv, NULL);
    pthread_t th;
    if (pthread_create(&th, NULL, s_pipe_scan, &pp) != 0) {
        pthread_cond_destroy(&pp.cv);
        pthread_mutex_destroy(&pp.mu);
        s_pipe_free(&pp);
        return KC_ENOMEM;
    }
    for (;;) {
        pthread_mutex_lock(&pp.mu);
        while (pp.consumed == pp.produced && !pp.done)
            pthread_cond_wait(&pp.cv, &pp.mu);
        bool have = pp.consumed < pp.produced;
        s_pbatch_t *b = have ? pp.slot[pp.consumed % S_PIPE_SLOTS] : NULL;
        pthread_mutex_unlock(&pp.mu);
        if (!have)
            break; /* the scanner is done and everything it handed over is applied */
        rc = s_pipe_apply(r, b);
        pthread_mutex_lock(&pp.mu);
        pp.consumed++;
        if (rc != 0)
            pp.stop = true;
        pthread_cond_broadcast(&pp.cv);
        pthread_mutex_unlock(&pp.mu);
        if (rc != 0)
            break;
    }
    pthread_join(th, NULL);
    if (rc == 0)
        rc = pp.scan_rc;
    if (rc == 0 && r->next_offset != size) /* the scan ended early: a shorter log than its size */
        rc = s_fail(r, r->next_offset, -1, "the log ends at %llu entries, its size says %llu",
                    (unsigned long long)r->next_offset, (unsigned long long)size);
    pthread_cond_destroy(&pp.cv);
    pthread_mutex_destroy(&pp.mu);
    s_pipe_free(&pp);
    return rc;
}

int kc_replay_from_txn(kc_replay_t *r, kc_txn_t *src)
{
    if (!r || !src)
        return KC_EINVAL;
    if (!r->o.events_from)
        r->o.events_from = src;
    uint64_t size = 0;
    int rc = kc_txn_log_size(src, &size);
    if (rc != 0)
        return rc;
    if (!r->o.total)
        r->o.total = size;
    if (r->o.in_memory && r->ids.n == 0 && (double)r->ids.cap * 0.75 < (double)r->o.total + 1) {
        s_table_free(r->ids.slots, r->ids.cap, sizeof *r->ids.slots);
        rc = s_ids_init(&r->ids, r->o.total);
        if (rc != 0)
            return rc;
    }
    int threads = r->o.threads;
    if (threads == 0)
        threads = size >= S_PIPE_MIN && sysconf(_SC_NPROCESSORS_ONLN) >= 2 ? 2 : 1;
    if (r->o.in_memory && threads >= 2 && r->n == 0 && r->next_offset == 0) {
        rc = s_from_txn_piped(r, src, size);
        if (rc != 0)
            return rc;
        return kc_replay_finish(r);
    }
    s_scan_t s = {.r = r};
    rc = kc_txn_log_scan(src, 0, s_scan_entry, &s);
    if (rc != 0)
        return rc;
    return kc_replay_finish(r);
}

/* ---- reading the result ---- */

int kc_replay_cell_get(const kc_replay_t *r, const kc_cell_key_t *key, kc_cell_t *cell)
{
    if (!r || !key || !cell)
        return KC_EINVAL;
    const s_cell_t *c = s_cells_find(&r->cells, s_key_u64(key));
    if (!c) {
        memset(cell, 0, sizeof *cell);
        return KC_ENOTFOUND;
    }
    *cell = c->committed;
    return 0;
}

static int s_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Keys of every cell, sorted; caller frees. */
static int s_sorted_keys(const kc_replay_t *r, uint64_t **out, size_t *n)
{
    uint64_t *keys = malloc((r->cells.n ? r->cells.n : 1) * sizeof *keys);
    if (!keys)
        return KC_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < r->cells.cap; i++)
        if (r->cells.slots[i].key)
            keys[k++] = r->cells.slots[i].key;
    qsort(keys, k, sizeof *keys, s_cmp_u64);
    *out = keys;
    *n = k;
    return 0;
}

int kc_replay_cell_scan(const kc_replay_t *r,
                        int (*fn)(const kc_cell_key_t *key, const kc_cell_t *cell, void *ctx),
                        void *ctx)
{
    if (!r || !fn)
        return KC_EINVAL;
    uint64_t *keys = NULL;
    size_t n = 0;
    int rc = s_sorted_keys(r, &keys, &n);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        kc_cell_key_t key;
        s_u64_key(keys[i], &key);
        rc = fn(&key, &s_cells_find(&r->cells, keys[i])->committed, ctx);
    }
    free(keys);
    return rc;
}

typedef struct {
    const kc_replay_t *r;
    uint64_t *keys; /* recomputed keys, sorted */
    size_t nkeys, next;
    void (*fn)(const kc_replay_diff_t *d, void *ctx);
    void *ctx;
    uint64_t cells, diffs;
} s_cmp_t;

static bool s_cell_eq(const kc_cell_t *a, const kc_cell_t *b)
{
    return a->events == b->events && memcmp(a->m, b->m, sizeof a->m) == 0;
}

static void s_diff(s_cmp_t *c, uint64_t key, const kc_cell_t *stored, const kc_cell_t *re)
{
    kc_replay_diff_t d = {.stored_present = stored != NULL, .recomputed_present = re != NULL};
    s_u64_key(key, &d.key);
    if (stored)
        d.stored = *stored;
    if (re)
        d.recomputed = *re;
    c->diffs++;
    if (c->fn)
        c->fn(&d, c->ctx);
}

/* Recomputed cells with keys below `upto` that the store does not have. */
static void s_only_recomputed(s_cmp_t *c, uint64_t upto)
{
    while (c->next < c->nkeys && c->keys[c->next] < upto) {
        uint64_t k = c->keys[c->next++];
        c->cells++;
        s_diff(c, k, NULL, &s_cells_find(&c->r->cells, k)->committed);
    }
}

static int s_cmp_stored(const kc_cell_key_t *key, const kc_cell_t *cell, void *ctx)
{
    s_cmp_t *c = ctx;
    uint64_t k = s_key_u64(key);
    s_only_recomputed(c, k);
    c->cells++;
    if (c->next < c->nkeys && c->keys[c->next] == k) {
        const kc_cell_t *re = &s_cells_find(&c->r->cells, k)->committed;
        c->next++;
        if (!s_cell_eq(cell, re))
            s_diff(c, k, cell, re);
    } else {
        s_diff(c, k, cell, NULL);
    }
    return 0;
}

int kc_replay_compare(const kc_replay_t *r, kc_txn_t *t,
                      void (*fn)(const kc_replay_diff_t *d, void *ctx), void *ctx, uint64_t *ncells,
                      uint64_t *ndiff)
{
    if (!r || !t)
        return KC_EINVAL;
    s_cmp_t c = {.r = r, .fn = fn, .ctx = ctx};
    int rc = s_sorted_keys(r, &c.keys, &c.nkeys);
    if (rc != 0)
        return rc;
    rc = kc_txn_totals_scan(t, NULL, NULL, s_cmp_stored, &c);
    if (rc == 0)
        s_only_recomputed(&c, UINT64_MAX);
    free(c.keys);
    if (ncells)
        *ncells = c.cells;
    if (ndiff)
        *ndiff = c.diffs;
    return rc;
}
