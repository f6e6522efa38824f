/* fuzz_batch.c - libFuzzer harness: bytes as a Batch through the aggregator's
 * group commit, and as a single Event through kc_event_check().
 *
 * DESIGN
 * The input is added twice to one kc_apply_t group (the second copy re-acks
 * whatever the first processed: DESIGN step 3 of kc_apply.h) and committed
 * to a real store in a scratch directory on tmpfs; every Ack must pack,
 * decode, and be consistent (acked range ordered, every Result's reason a
 * known one, counters adding up). The store is recreated every S_RESET runs
 * so that it stays small; within those runs the producers' high-water marks
 * carry over, which also exercises resends and gaps. Independently the same
 * bytes are decoded as one Event with the bounded allocator and checked; a
 * valid one is content-hashed.
 */
#include "fuzz_util.h"

#include "kc_apply.h"
#include "kc_err.h"
#include "kc_event.h"
#include "kc_store.h"

#include <sodium.h>

#define S_RESET 256

static kc_store_t *s_store;
static char s_dir[512];
static unsigned s_runs;

static void s_close(void)
{
    kc_store_close(&s_store);
    if (s_dir[0])
        fuzz_rmtree(s_dir);
    s_dir[0] = '\0';
}

static void s_open(void)
{
    static int once;
    if (!once) {
        once = 1;
        fuzz_quiet();
        FUZZ_CHECK(sodium_init() >= 0);
        atexit(s_close);
    }
    fuzz_mkdtemp(s_dir, sizeof s_dir, "batch");
    kc_store_opts_t o = {.map_size = (size_t)4 << 20};
    int rc = kc_store_open(&s_store, s_dir, &o);
    if (rc != 0) {
        fprintf(stderr, "fuzz_batch: cannot open a store in %s: %s\n", s_dir, kc_strerror(rc));
        exit(1);
    }
}

static void s_check_ack(kc_apply_t *a, size_t i)
{
    const uint8_t *d;
    size_t n;
    FUZZ_CHECK(kc_apply_ack(a, i, &d, &n) == 0);
    kc_pb_ack_t *ack = kcpipe__v1__ack__unpack(NULL, n, d);
    FUZZ_CHECK(ack != NULL);
    FUZZ_CHECK(ack->has_status);
    FUZZ_CHECK(ack->status == KCPIPE__V1__STATUS__STATUS_OK ||
               ack->status == KCPIPE__V1__STATUS__STATUS_UNDECODABLE ||
               ack->status == KCPIPE__V1__STATUS__STATUS_BAD_PRODUCER ||
               ack->status == KCPIPE__V1__STATUS__STATUS_FENCED);
    FUZZ_CHECK(ack->has_acked_from == ack->has_acked_to);
    if (ack->has_acked_from) {
        FUZZ_CHECK(ack->acked_from >= 1 && ack->acked_from <= ack->acked_to);
        FUZZ_CHECK(ack->has_committed_seq && ack->committed_seq >= ack->acked_to);
    }
    if (ack->status != KCPIPE__V1__STATUS__STATUS_OK)
        FUZZ_CHECK(!ack->has_acked_from && ack->n_results == 0 && ack->error && ack->error[0]);
    for (size_t k = 0; k < ack->n_results; k++) {
        const kc_pb_result_t *r = ack->results[k];
        FUZZ_CHECK(r->has_reason && r->reason > 0 && r->reason < KC_REASON_SLOTS);
        FUZZ_CHECK(strcmp(kc_reason_name(r->reason), "unknown") != 0);
        FUZZ_CHECK(r->text != NULL);
        if (r->has_seq && ack->has_acked_from)
            FUZZ_CHECK(r->seq >= ack->acked_from && r->seq <= ack->acked_to);
        if (r->event_id)
            FUZZ_CHECK(strlen(r->event_id) <= KC_EVENT_ID_MAX);
    }
    kcpipe__v1__ack__free_unpacked(ack, NULL);
}

static void s_batch(const uint8_t *data, size_t size)
{
    if (s_runs++ % S_RESET == 0) {
        s_close();
        s_open();
    }
    kc_apply_t *a = kc_apply_new();
    FUZZ_CHECK(a != NULL);
    kc_apply_set_checkpoint_every(a, 16);
    FUZZ_CHECK(kc_apply_add(a, data, size) == 0);
    FUZZ_CHECK(kc_apply_add(a, data, size) == 0);
    int rc = kc_apply_commit(a, s_store);
    if (rc != 0)
        fprintf(stderr, "fuzz_batch: commit failed: %s\n", kc_strerror(rc));
    FUZZ_CHECK(rc == 0);
    const kc_agg_counters_t *d = kc_apply_delta(a);
    FUZZ_CHECK(d->batches == 2 && d->commits == 1);
    FUZZ_CHECK(d->events == d->accepted + d->duplicates + d->rejected);
    uint64_t by = 0;
    for (int r = 0; r < KC_REASON_SLOTS; r++)
        by += d->by_reason[r];
    FUZZ_CHECK(by == d->events + d->unplaceable);
    for (size_t i = 0; i < kc_apply_count(a); i++)
        s_check_ack(a, i);
    kc_apply_destroy(&a);
}

static void s_event(const uint8_t *data, size_t size)
{
    fuzz_budget_t b;
    ProtobufCAllocator al = fuzz_pb_allocator(&b, size);
    kc_pb_event_t *ev = kcpipe__v1__event__unpack(&al, size, data);
    if (!ev)
        return;
    kc_event_view_t v;
    char text[256];
    memset(text, 'x', sizeof text);
    int r = kc_event_check(ev, &v, text, sizeof text);
    FUZZ_CHECK(memchr(text, '\0', sizeof text) != NULL);
    FUZZ_CHECK(r >= 0 && r < KC_REASON_SLOTS);
    FUZZ_CHECK(strcmp(kc_reason_name(r), "unknown") != 0);
    if (r == KCPIPE__V1__REASON__REASON_OK) {
        FUZZ_CHECK(v.event_id && v.event_id_len >= 1 && v.event_id_len <= KC_EVENT_ID_MAX);
        FUZZ_CHECK(v.month <= 12 &&
                   (v.year == 0 || (v.year >= KC_YEAR_MIN && v.year <= KC_YEAR_MAX)));
        for (int m = 0; m < KC_METRIC_COUNT; m++)
            if (v.present & (1u << m))
                FUZZ_CHECK(v.op == KCPIPE__V1__OP__OP_RETRACTION || v.metrics[m] >= 0);
        uint8_t h[KC_HASH_LEN], h2[KC_HASH_LEN];
        kc_event_content_hash(ev, &v, h);
        kc_event_content_hash(ev, &v, h2);
        FUZZ_CHECK(memcmp(h, h2, sizeof h) == 0);
    }
    kcpipe__v1__event__free_unpacked(ev, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    s_batch(data, size);
    s_event(data, size);
    return 0;
}
