/* fake_agg.c - the in-process fake aggregator (see fake_agg.h). */
#include "fake_agg.h"

#include "kc_event.h"

#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

typedef struct {
    char key[80];              /* province/event_id */
    uint8_t hash[KC_HASH_LEN]; /* content */
} s_ident_t;

struct fake_agg {
    fa_mode_t mode;
    void *ctx, *router, *pipe_main, *pipe_thread;
    pthread_t thread;
    char endpoint[128];
    fa_stats_t st;
    char producer[80]; /* one producer per fake (enough for the tests) */
    uint64_t hw;       /* its committed high-water mark */
    int *reason_of;    /* reason per committed seq (index seq) */
    char (*text_of)[128];
    size_t cap;
    s_ident_t *idents;
    size_t n_idents, cap_idents;
};

static int s_business(fake_agg_t *fa, const kc_pb_event_t *ev, const kc_event_view_t *v)
{
    char key[80];
    snprintf(key, sizeof key, "%02u/%s", v->province, v->event_id);
    uint8_t h[KC_HASH_LEN];
    kc_event_content_hash(ev, v, h);
    for (size_t i = 0; i < fa->n_idents; i++)
        if (strcmp(fa->idents[i].key, key) == 0)
            return memcmp(fa->idents[i].hash, h, KC_HASH_LEN) == 0
                       ? KCPIPE__V1__REASON__REASON_DUPLICATE
                       : KCPIPE__V1__REASON__REASON_EVENT_ID_CONFLICT;
    if (fa->n_idents == fa->cap_idents) {
        fa->cap_idents = fa->cap_idents ? fa->cap_idents * 2 : 256;
        fa->idents = realloc(fa->idents, fa->cap_idents * sizeof *fa->idents);
    }
    snprintf(fa->idents[fa->n_idents].key, sizeof key, "%s", key);
    memcpy(fa->idents[fa->n_idents].hash, h, KC_HASH_LEN);
    fa->n_idents++;
    return KCPIPE__V1__REASON__REASON_OK;
}

static void s_record(fake_agg_t *fa, uint64_t seq, int reason, const char *text)
{
    if (seq >= fa->cap) {
        size_t cap = fa->cap ? fa->cap : 1024;
        while (cap <= seq)
            cap *= 2;
        fa->reason_of = realloc(fa->reason_of, cap * sizeof *fa->reason_of);
        fa->text_of = realloc(fa->text_of, cap * sizeof *fa->text_of);
        fa->cap = cap;
    }
    fa->reason_of[seq] = reason;
    snprintf(fa->text_of[seq], sizeof fa->text_of[0], "%s", text);
}

static void s_reply(fake_agg_t *fa, zmq_msg_t *id, kc_pb_ack_t *ack)
{
    size_t n = kcpipe__v1__ack__get_packed_size(ack);
    uint8_t *buf = malloc(n ? n : 1);
    kcpipe__v1__ack__pack(ack, buf);
    zmq_msg_send(id, fa->router, ZMQ_SNDMORE);
    zmq_send(fa->router, buf, n, 0);
    free(buf);
}

static void s_handle(fake_agg_t *fa, zmq_msg_t *id, const void *data, size_t size)
{
    fa->st.batches++;
    bool first = fa->st.batches == 1;
    kc_pb_ack_t ack = KCPIPE__V1__ACK__INIT;
    kc_pb_batch_t *b = kcpipe__v1__batch__unpack(NULL, size, data);
    if (!b) {
        ack.has_status = 1;
        ack.status = KCPIPE__V1__STATUS__STATUS_UNDECODABLE;
        s_reply(fa, id, &ack);
        return;
    }
    if (first && fa->mode == FA_LOSE_FIRST_BATCH) {
        fa->st.acks_dropped++;
        kcpipe__v1__batch__free_unpacked(b, NULL);
        return;
    }
    if (first && fa->mode == FA_UNAVAILABLE_FIRST) {
        ack.has_status = 1;
        ack.status = KCPIPE__V1__STATUS__STATUS_UNAVAILABLE;
        ack.error = "store busy";
        s_reply(fa, id, &ack);
        kcpipe__v1__batch__free_unpacked(b, NULL);
        return;
    }
    snprintf(fa->producer, sizeof fa->producer, "%s", b->producer_id ? b->producer_id : "");
    kc_pb_result_t *res = calloc(b->n_events + 1, sizeof *res);
    kc_pb_result_t **resp = calloc(b->n_events + 1, sizeof *resp);
    char(*texts)[200] = calloc(b->n_events + 1, sizeof *texts);
    size_t nres = 0;
    uint64_t from = 0, to = 0;
    for (size_t i = 0; i < b->n_events; i++) {
        kc_pb_event_t *ev = kcpipe__v1__event__unpack(NULL, b->events[i].len, b->events[i].data);
        if (!ev || !ev->has_seq) { /* cannot happen with libkcingest */
            if (ev)
                kcpipe__v1__event__free_unpacked(ev, NULL);
            continue;
        }
        uint64_t seq = ev->seq;
        int reason;
        if (seq <= fa->hw) { /* transport dedup: acknowledge again, count nothing */
            fa->st.reacked++;
            reason = fa->reason_of[seq];
            snprintf(texts[nres], sizeof texts[0], "%s", fa->text_of[seq]);
        } else if (seq == fa->hw + 1) {
            kc_event_view_t v;
            reason = kc_event_check(ev, &v, texts[nres], sizeof texts[0]);
            if (reason == KCPIPE__V1__REASON__REASON_OK) {
                reason = s_business(fa, ev, &v);
                if (reason == KCPIPE__V1__REASON__REASON_DUPLICATE)
                    snprintf(texts[nres], sizeof texts[0], "already counted");
                else if (reason != KCPIPE__V1__REASON__REASON_OK)
                    snprintf(texts[nres], sizeof texts[0], "same event_id, other content");
            }
            if (reason == KCPIPE__V1__REASON__REASON_OK)
                fa->st.counted++;
            s_record(fa, seq, reason, texts[nres]);
            fa->hw = seq;
        } else { /* a gap: everything from hw+1 must come again */
            kcpipe__v1__event__free_unpacked(ev, NULL);
            ack.has_resend_from = 1;
            ack.resend_from = fa->hw + 1;
            fa->st.resend_asked++;
            break;
        }
        if (!from)
            from = seq;
        to = seq;
        if (reason != KCPIPE__V1__REASON__REASON_OK) {
            kc_pb_result_t r = KCPIPE__V1__RESULT__INIT;
            r.has_seq = r.has_reason = 1;
            r.seq = seq;
            r.reason = (Kcpipe__V1__Reason)reason;
            r.text = texts[nres];
            res[nres] = r;
            resp[nres] = &res[nres];
            nres++;
        }
        kcpipe__v1__event__free_unpacked(ev, NULL);
    }
    ack.producer_id = fa->producer;
    ack.has_committed_seq = 1;
    ack.committed_seq = fa->hw;
    if (from) {
        ack.has_acked_from = ack.has_acked_to = 1;
        ack.acked_from = from;
        ack.acked_to = to;
    }
    /* results are listed newest first to make sure the producer does not rely
     * on their order */
    for (size_t i = 0; i < nres / 2; i++) {
        kc_pb_result_t *t = resp[i];
        resp[i] = resp[nres - 1 - i];
        resp[nres - 1 - i] = t;
    }
    ack.n_results = nres;
    ack.results = resp;
    if (first && fa->mode == FA_DROP_FIRST_ACK)
        fa->st.acks_dropped++;
    else
        s_reply(fa, id, &ack);
    free(res);
    free(resp);
    free(texts);
    kcpipe__v1__batch__free_unpacked(b, NULL);
}

static void *s_run(void *arg)
{
    fake_agg_t *fa = arg;
    for (;;) {
        zmq_pollitem_t items[2] = {{fa->router, 0, ZMQ_POLLIN, 0},
                                   {fa->pipe_thread, 0, ZMQ_POLLIN, 0}};
        if (zmq_poll(items, 2, -1) < 0)
            continue;
        if (items[1].revents & ZMQ_POLLIN)
            break;
        if (!(items[0].revents & ZMQ_POLLIN))
            continue;
        zmq_msg_t id, body;
        zmq_msg_init(&id);
        zmq_msg_init(&body);
        zmq_msg_recv(&id, fa->router, 0);
        if (zmq_msg_more(&id))
            zmq_msg_recv(&body, fa->router, 0);
        while (zmq_msg_more(&body)) { /* keep only the last frame */
            zmq_msg_close(&body);
            zmq_msg_init(&body);
            zmq_msg_recv(&body, fa->router, 0);
        }
        s_handle(fa, &id, zmq_msg_data(&body), zmq_msg_size(&body));
        zmq_msg_close(&id);
        zmq_msg_close(&body);
    }
    return NULL;
}

fake_agg_t *fa_start(fa_mode_t mode)
{
    if (sodium_init() < 0)
        return NULL;
    fake_agg_t *fa = calloc(1, sizeof *fa);
    fa->mode = mode;
    fa->ctx = zmq_ctx_new();
    fa->router = zmq_socket(fa->ctx, ZMQ_ROUTER);
    int linger = 0;
    zmq_setsockopt(fa->router, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_bind(fa->router, "tcp://127.0.0.1:*") != 0) {
        zmq_close(fa->router);
        zmq_ctx_term(fa->ctx);
        free(fa);
        return NULL;
    }
    size_t len = sizeof fa->endpoint;
    zmq_getsockopt(fa->router, ZMQ_LAST_ENDPOINT, fa->endpoint, &len);
    char pipe[64];
    snprintf(pipe, sizeof pipe, "inproc://fake-agg-%p", (void *)fa);
    fa->pipe_thread = zmq_socket(fa->ctx, ZMQ_PAIR);
    fa->pipe_main = zmq_socket(fa->ctx, ZMQ_PAIR);
    zmq_bind(fa->pipe_thread, pipe);
    zmq_connect(fa->pipe_main, pipe);
    pthread_create(&fa->thread, NULL, s_run, fa);
    return fa;
}

const char *fa_endpoint(const fake_agg_t *fa)
{
    return fa->endpoint;
}

void fa_stop(fake_agg_t **fap, fa_stats_t *stats)
{
    fake_agg_t *fa = *fap;
    if (!fa)
        return;
    zmq_send(fa->pipe_main, "STOP", 4, 0);
    pthread_join(fa->thread, NULL);
    if (stats)
        *stats = fa->st;
    zmq_close(fa->pipe_main);
    zmq_close(fa->pipe_thread);
    zmq_close(fa->router);
    zmq_ctx_term(fa->ctx);
    free(fa->reason_of);
    free(fa->text_of);
    free(fa->idents);
    free(fa);
    *fap = NULL;
}
