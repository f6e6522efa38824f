/* kc_replay_scan.c - kc_replay_from_txn: the whole log of a snapshot into a
 * replay (see kc_replay.h), in memory mode on two threads when it pays: the
 * scanner (log scan, copies, phase 1) and the applier (phase 2, in offset
 * order); the two phases themselves are kc_replay_mem.c's.
 */
#include "kc_replay_int.h"

#include "kc_err.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
 * runs phase 1 on them (kc_replay_mem_prepare_: decode, kc_event_check, identity hash,
 * cell key) with a decoder of its own; the calling thread takes the batches in
 * order and runs phase 2 (kc_replay_mem_apply_: producers, identities, cells, the
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
    kc_replay_ent_t ents[S_PIPE_BATCH];
    kc_replay_prep_t prep[S_PIPE_BATCH];
    uint8_t *bytes;
    size_t blen, bcap, n;
} s_pbatch_t;

typedef struct {
    kc_store_t *store;
    uint64_t size; /* entries to hand over: src's log size */
    kc_wire_decoder_t *dec;
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
    kc_replay_mem_prepare_(pp->dec, b->bytes, b->ents, b->prep, b->n);
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
    kc_replay_ent_t *se = &b->ents[b->n++];
    *se = (kc_replay_ent_t){.offset = e->offset,
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

static void s_pipe_free(s_pipe_t *pp)
{
    for (int i = 0; i < S_PIPE_SLOTS; i++) {
        if (pp->slot[i])
            free(pp->slot[i]->bytes);
        free(pp->slot[i]);
    }
    kc_wire_decoder_free(&pp->dec);
}

static int s_from_txn_piped(kc_replay_t *r, kc_txn_t *src, uint64_t size)
{
    s_pipe_t pp = {.store = kc_txn_store(src), .size = size};
    int rc = pp.store ? kc_wire_decoder_new(&pp.dec) : KC_EINVAL;
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
        rc = kc_replay_mem_apply_(r, b->bytes, b->ents, b->prep, b->n);
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
        rc = kc_replay_fail_(r, r->next_offset, -1,
                             "the log ends at %llu entries, its size says %llu",
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
        kc_bigtable_free(r->ids.slots, r->ids.cap, sizeof *r->ids.slots);
        rc = kc_replay_ids_init_(&r->ids, r->o.total);
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
