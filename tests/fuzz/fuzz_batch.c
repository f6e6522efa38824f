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
 *
 * Every view renders (issue 12): after each commit, every totals view of
 * kc-query and /v1/totals (kc_qry_answer + kc_qry_json + kc_json_dumps, for
 * each year with cells, actual and plan, each grouping, both unit schemes,
 * with plan and compare) must answer 0 and give valid UTF-8 JSON, and every
 * producer id in the store must escape to a valid Prometheus label value. The
 * views run on two stores: the aggregator's, and a "legacy" one where every
 * event that passes kc_event_check (the rules before issue 12's admission:
 * no ceilings, no text rule) is added to its cell with the store's checked
 * int64 arithmetic, as a store written by 852a8f0 could hold (2^63-1 in one
 * cell, invalid UTF-8 ids).
 */
#include "fuzz_util.h"

#include "kc_apply.h"
#include "kc_err.h"
#include "kc_event.h"
#include "kc_json.h"
#include "kc_qry.h"
#include "kc_store.h"
#include "kc_text.h"

#include <sodium.h>

#define S_RESET 256

static kc_store_t *s_store, *s_legacy;
static char s_dir[512], s_ldir[512];
static unsigned s_runs;

static void s_close(void)
{
    kc_store_close(&s_store);
    kc_store_close(&s_legacy);
    if (s_dir[0])
        fuzz_rmtree(s_dir);
    if (s_ldir[0])
        fuzz_rmtree(s_ldir);
    s_dir[0] = s_ldir[0] = '\0';
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
    fuzz_mkdtemp(s_ldir, sizeof s_ldir, "legacy");
    kc_store_opts_t o = {.map_size = (size_t)4 << 20};
    int rc = kc_store_open(&s_store, s_dir, &o);
    if (rc == 0)
        rc = kc_store_open(&s_legacy, s_ldir, &o);
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
    /* an Ack carries valid UTF-8 only, whatever came in (a peer's protobuf may refuse it) */
    if (ack->error)
        FUZZ_CHECK(kc_text_utf8_valid(ack->error, strlen(ack->error)));
    if (ack->producer_id)
        FUZZ_CHECK(kc_text_id_ok(ack->producer_id, strlen(ack->producer_id)));
    for (size_t k = 0; k < ack->n_results; k++) {
        const kc_pb_result_t *r = ack->results[k];
        FUZZ_CHECK(r->has_reason && r->reason > 0 && r->reason < KC_REASON_SLOTS);
        FUZZ_CHECK(strcmp(kc_reason_name(r->reason), "unknown") != 0);
        FUZZ_CHECK(r->text != NULL);
        if (r->has_seq && ack->has_acked_from)
            FUZZ_CHECK(r->seq >= ack->acked_from && r->seq <= ack->acked_to);
        FUZZ_CHECK(kc_text_utf8_valid(r->text, strlen(r->text)));
        if (r->event_id)
            FUZZ_CHECK(strlen(r->event_id) <= KC_EVENT_ID_MAX &&
                       kc_text_utf8_valid(r->event_id, strlen(r->event_id)));
    }
    kcpipe__v1__ack__free_unpacked(ack, NULL);
}

/* ---- every view renders ---- */

typedef struct {
    int years[8];
    int n;
} s_years_t;

static int s_year_of(const kc_cell_key_t *k, const kc_cell_t *c, void *ctx)
{
    (void)c;
    s_years_t *y = ctx;
    if (y->n > 0 && y->years[y->n - 1] == k->year)
        return 0;
    if (y->n == (int)(sizeof y->years / sizeof y->years[0]))
        return 1;
    y->years[y->n++] = k->year;
    return 0;
}

static void s_set(kc_qry_opts_t *o, const char *name, const char *value)
{
    char err[256];
    FUZZ_CHECK(kc_qry_set(o, KC_QRY_URL, name, value, err, sizeof err) == 0);
}

/* One /v1/totals view: answers, and its JSON dumps as valid UTF-8. */
static void s_view(kc_txn_t *txn, int year, int kind, const char *by, const char *units, bool plan)
{
    kc_qry_opts_t o;
    kc_qry_init(&o);
    char y[16], c[16];
    snprintf(y, sizeof y, "%d", year);
    snprintf(c, sizeof c, "%d", year > KC_YEAR_MIN ? year - 1 : year + 1);
    s_set(&o, "year", y);
    s_set(&o, "kind", kind == 2 ? "plan" : "actual");
    if (by)
        s_set(&o, "by", by);
    s_set(&o, "units", units);
    if (plan && kind == 1)
        s_set(&o, "plan", "1");
    s_set(&o, "compare", c);
    char err[256];
    FUZZ_CHECK(kc_qry_finish(&o, KC_QRY_URL, err, sizeof err) == 0);
    kc_qry_answer_t *a = malloc(sizeof *a);
    FUZZ_CHECK(a != NULL);
    int rc = kc_qry_answer(&o, txn, a);
    if (rc != 0)
        fprintf(stderr, "fuzz_batch: view year %d kind %d by %s units %s: %s\n", year, kind,
                by ? by : "-", units, kc_strerror(rc));
    FUZZ_CHECK(rc == 0);
    json_t *doc = kc_qry_json(&o, a);
    FUZZ_CHECK(doc != NULL);
    char *text = kc_json_dumps(doc, JSON_COMPACT);
    FUZZ_CHECK(text != NULL);
    FUZZ_CHECK(kc_text_utf8_valid(text, strlen(text)));
    free(text);
    json_decref(doc);
    free(a);
}

static int s_producer_label(const char *producer, const kc_producer_state_t *st, void *ctx)
{
    (void)st;
    (void)ctx;
    char label[KC_TEXT_SHOW_MAX(256) * 2];
    size_t n = kc_text_prom(producer, strlen(producer), label, sizeof label);
    FUZZ_CHECK(n < sizeof label && kc_text_utf8_valid(label, n));
    for (size_t i = 0; i < n; i++) /* a label value: no raw quote or line break */
        FUZZ_CHECK(label[i] != '\n' && (label[i] != '"' || (i > 0 && label[i - 1] == '\\')));
    return 0;
}

static void s_views(kc_store_t *store)
{
    kc_txn_t *txn;
    FUZZ_CHECK(kc_store_read_begin(store, &txn) == 0);
    s_years_t ys = {.n = 0};
    kc_cell_key_t lo = kc_cell_key_min(), hi = kc_cell_key_max();
    kc_txn_totals_scan(txn, &lo, &hi, s_year_of, &ys);
    static const char *const bys[] = {NULL, "province", "activity", "month"};
    for (int i = 0; i < ys.n; i++)
        for (int kind = 1; kind <= 2; kind++)
            for (size_t b = 0; b < sizeof bys / sizeof bys[0]; b++) {
                s_view(txn, ys.years[i], kind, bys[b], "63", true);
                s_view(txn, ys.years[i], kind, bys[b], "34", false);
            }
    FUZZ_CHECK(kc_txn_producer_scan(txn, s_producer_label, NULL) == 0);
    kc_txn_end(&txn);
}

/* The legacy store: each event of the Batch that passes kc_event_check, added
 * to its cell as a record by the store's checked arithmetic (see DESIGN). */
typedef struct {
    const kc_pb_batch_t *b;
} s_legacy_t;

static int s_legacy_write(kc_txn_t *txn, void *ctx)
{
    const kc_pb_batch_t *b = ((s_legacy_t *)ctx)->b;
    for (size_t i = 0; i < b->n_events; i++) {
        kc_pb_event_t *ev = kcpipe__v1__event__unpack(NULL, b->events[i].len, b->events[i].data);
        if (!ev)
            continue;
        kc_event_view_t v;
        char text[256];
        if (kc_event_check(ev, &v, text, sizeof text) == 0 && v.op == KCPIPE__V1__OP__OP_RECORD) {
            kc_cell_key_t k = {v.year, v.month, v.province, (uint8_t)v.activity->id,
                               v.kind, v.fund};
            int rc = kc_txn_totals_apply(txn, &k, v.metrics, 1);
            FUZZ_CHECK(rc == 0 || rc == KC_EOVERFLOW);
        }
        kcpipe__v1__event__free_unpacked(ev, NULL);
    }
    return 0;
}

static void s_legacy_batch(const uint8_t *data, size_t size)
{
    fuzz_budget_t bud;
    ProtobufCAllocator al = fuzz_pb_allocator(&bud, size);
    kc_pb_batch_t *b = kcpipe__v1__batch__unpack(&al, size, data);
    if (!b)
        return;
    s_legacy_t ctx = {b};
    int rc = kc_store_write(s_legacy, s_legacy_write, &ctx);
    FUZZ_CHECK(rc == 0 || rc == KC_EMAPFULL);
    kcpipe__v1__batch__free_unpacked(b, &al);
    s_views(s_legacy);
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
    s_views(s_store);
    s_legacy_batch(data, size);
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
