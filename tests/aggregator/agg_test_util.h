/* agg_test_util.h - helpers shared by the aggregator tests: events, batches, temp dirs. */
#ifndef AGG_TEST_UTIL_H
#define AGG_TEST_UTIL_H

#include "kc_event.h"
#include "kc_text.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Serialized bytes (malloc'd). */
typedef struct {
    uint8_t *data;
    size_t len;
} t_buf_t;

static inline void t_buf_free(t_buf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
}

/* A valid machinery event (province 79, 2021-03) of the given id, seq and
 * amount; *ev can be changed before t_event_pack(). */
typedef struct {
    kc_pb_event_t ev;
    Kcpipe__V1__Metrics m;
} t_event_t;

static inline void t_event(t_event_t *e, const char *producer, uint64_t seq, const char *id,
                           int64_t amount)
{
    kcpipe__v1__event__init(&e->ev);
    kcpipe__v1__metrics__init(&e->m);
    e->ev.event_id = (char *)id;
    e->ev.province = "79";
    e->ev.has_year = 1;
    e->ev.year = 2021;
    e->ev.has_month = 1;
    e->ev.month = 3;
    e->ev.activity = "KC3b";
    e->ev.metrics = &e->m;
    kc_pb_metric_set(&e->m, KC_M_AMOUNT_VND, amount);
    kc_pb_metric_set(&e->m, KC_M_FACILITIES, 1);
    e->ev.producer_id = (char *)producer;
    e->ev.has_seq = seq != 0;
    e->ev.seq = seq;
}

static inline t_buf_t t_event_pack(const t_event_t *e)
{
    t_buf_t b;
    b.len = kcpipe__v1__event__get_packed_size(&e->ev);
    b.data = malloc(b.len ? b.len : 1);
    kcpipe__v1__event__pack(&e->ev, b.data);
    return b;
}

/* Whether every text of an Ack is valid UTF-8, as the aggregator promises
 * whatever it was sent (docs/PROTOCOL.md): Ack.producer_id, Ack.error, and
 * each Result's text and event_id. */
static inline bool t_ack_utf8(const kc_pb_ack_t *a)
{
    const char *texts[2] = {a->producer_id, a->error};
    for (size_t i = 0; i < 2; i++)
        if (texts[i] && !kc_text_utf8_valid(texts[i], strlen(texts[i])))
            return false;
    for (size_t i = 0; i < a->n_results; i++) {
        const kc_pb_result_t *r = a->results[i];
        if ((r->text && !kc_text_utf8_valid(r->text, strlen(r->text))) ||
            (r->event_id && !kc_text_utf8_valid(r->event_id, strlen(r->event_id))))
            return false;
    }
    return true;
}

/* A Batch of n serialized events. */
static inline t_buf_t t_batch(const char *producer, const t_buf_t *events, size_t n)
{
    kc_pb_batch_t batch = KCPIPE__V1__BATCH__INIT;
    ProtobufCBinaryData *bd = calloc(n ? n : 1, sizeof *bd);
    for (size_t i = 0; i < n; i++) {
        bd[i].data = events[i].data;
        bd[i].len = events[i].len;
    }
    batch.producer_id = (char *)producer;
    batch.n_events = n;
    batch.events = bd;
    t_buf_t b;
    b.len = kcpipe__v1__batch__get_packed_size(&batch);
    b.data = malloc(b.len ? b.len : 1);
    kcpipe__v1__batch__pack(&batch, b.data);
    free(bd);
    return b;
}

/* A Batch of producer's n t_event()s seq from..from+n-1 (ids "<prefix>-<seq>"),
 * in month `month` of 2021, each of amount `amount` but the last, of `last`. */
static inline t_buf_t t_batch_n(const char *producer, const char *prefix, uint64_t from, size_t n,
                                uint32_t month, int64_t amount, int64_t last)
{
    t_buf_t *evs = calloc(n, sizeof *evs);
    char id[80];
    for (size_t i = 0; i < n; i++) {
        t_event_t e;
        snprintf(id, sizeof id, "%s-%llu", prefix, (unsigned long long)(from + i));
        t_event(&e, producer, from + i, id, i + 1 < n ? amount : last);
        e.ev.month = month;
        evs[i] = t_event_pack(&e);
    }
    t_buf_t b = t_batch(producer, evs, n);
    for (size_t i = 0; i < n; i++)
        t_buf_free(&evs[i]);
    free(evs);
    return b;
}

/* A Batch of the simple events seq from..to of producer, ids "<prefix>-<seq>". */
static inline t_buf_t t_batch_range(const char *producer, const char *prefix, uint64_t from,
                                    uint64_t to, int64_t amount)
{
    return t_batch_n(producer, prefix, from, (size_t)(to - from + 1), 3, amount, amount);
}

/* The legitimate way to bring a totals cell to the edge of int64: one event may
 * carry at most kc_ref_metric(KC_M_AMOUNT_VND)->max (10^15, data/metrics.tsv;
 * value_too_large above), so a cell reaches INT64_MAX = 9223 x 10^15 +
 * 372036854775807 after 9,224 accepted events.
 * t_fill_count(total): how many events t_batch_fill() makes for `total`
 * (total / max at the ceiling, plus one of the remainder if any). */
static inline size_t t_fill_count(int64_t total)
{
    int64_t max = kc_ref_metric(KC_M_AMOUNT_VND)->max;
    return (size_t)(total / max) + (total % max != 0);
}

/* A Batch of producer's t_event()s seq from.. (ids "<prefix>-<seq>", in month
 * `month` of 2021) whose amounts, each at the ceiling but the last, add up to
 * `total` >= 1; t_fill_count(total) events. */
static inline t_buf_t t_batch_fill(const char *producer, const char *prefix, uint64_t from,
                                   uint32_t month, int64_t total)
{
    int64_t max = kc_ref_metric(KC_M_AMOUNT_VND)->max;
    size_t n = t_fill_count(total);
    return t_batch_n(producer, prefix, from, n, month, max, total - (int64_t)(n - 1) * max);
}

/* A fresh directory under $TMPDIR (or /tmp); caller frees the string. */
static inline char *t_tmpdir(const char *tag)
{
    const char *base = getenv("TMPDIR");
    char *path = malloc(4096);
    snprintf(path, 4096, "%s/kc-%s-XXXXXX", base && *base ? base : "/tmp", tag);
    if (!mkdtemp(path)) {
        free(path);
        return NULL;
    }
    return path;
}

/* rm -rf dir (test directories only). */
static inline void t_rmtree(const char *dir)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
}

#endif
