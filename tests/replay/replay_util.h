/* replay_util.h - a source store for the replay tests: records over several
 * cells, corrections (in place, moving to another cell, chains), retractions,
 * a business duplicate and a rejection (not logged), two producers; driven
 * through kc_apply exactly as the aggregator does. */
#ifndef REPLAY_UTIL_H
#define REPLAY_UTIL_H

#include "agg_test_util.h"
#include "kc_apply.h"
#include "kc_err.h"
#include "kc_store.h"

#include <stdbool.h>

#define R_RECORDS 400 /* records of p1 */

/* Event i of the fixture for producer p1 (seq = i + 1), into *e (ids in idbuf). */
static inline void r_event(t_event_t *e, const char *producer, uint64_t seq, int i, char *idbuf,
                           char *corrbuf)
{
    int64_t amount = 1000 + 37 * i;
    if (i < R_RECORDS) {
        snprintf(idbuf, 32, "E-%d", i);
        t_event(e, producer, seq, idbuf, amount);
        e->ev.month = (uint32_t)(1 + i % 12);
        e->ev.year = (uint32_t)(2021 + i % 4);
        if (i % 3 == 1)
            e->ev.province = "74";
        if (i % 5 == 0) {
            e->ev.has_kind = 1;
            e->ev.kind = KCPIPE__V1__KIND__KIND_PLAN;
        }
        if (i % 7 == 0) {
            e->ev.has_fund = 1;
            e->ev.fund = KCPIPE__V1__FUND__FUND_KCDP;
        }
        return;
    }
    int k = i - R_RECORDS; /* amendments of the first records */
    if (k < 60) {          /* corrections of E-k (same province and period) */
        snprintf(idbuf, 32, "C-%d", k);
        snprintf(corrbuf, 32, "E-%d", k);
        t_event(e, producer, seq, idbuf, 5 * amount);
        e->ev.month = (uint32_t)(1 + k % 12);
        e->ev.year = (uint32_t)(2021 + k % 4);
        if (k % 3 == 1)
            e->ev.province = "74";
        if (k % 2 == 0)
            e->ev.month = (uint32_t)(1 + (k + 5) % 12); /* moves to another cell */
        e->ev.has_op = 1;
        e->ev.op = KCPIPE__V1__OP__OP_CORRECTION;
        e->ev.corrects = corrbuf;
    } else if (k < 80) { /* a second correction: C2-j corrects C-j */
        int j = k - 60;
        snprintf(idbuf, 32, "C2-%d", j);
        snprintf(corrbuf, 32, "C-%d", j);
        t_event(e, producer, seq, idbuf, 3);
        e->ev.year = (uint32_t)(2021 + j % 4);
        e->ev.month = 12;
        if (j % 3 == 1)
            e->ev.province = "74";
        e->ev.has_op = 1;
        e->ev.op = KCPIPE__V1__OP__OP_CORRECTION;
        e->ev.corrects = corrbuf;
    } else { /* retractions: R-j retracts E-(100 + j), and C2-j for j < 5 */
        int j = k - 80;
        snprintf(idbuf, 32, "R-%d", j);
        int target = j < 5 ? j : 100 + j;
        snprintf(corrbuf, 32, j < 5 ? "C2-%d" : "E-%d", target);
        t_event(e, producer, seq, idbuf, 0);
        e->ev.province = target % 3 == 1 ? "74" : "79";
        e->ev.has_year = e->ev.has_month = 0;
        e->ev.activity = NULL;
        e->ev.metrics = NULL;
        e->ev.has_op = 1;
        e->ev.op = KCPIPE__V1__OP__OP_RETRACTION;
        e->ev.corrects = corrbuf;
    }
}

#define R_P1_EVENTS (R_RECORDS + 100)

/* Send events [from, to) of producer p1 in one Batch; seqs from+1.. */
static inline int r_send(kc_store_t *store, const char *producer, int from, int to, int seq0)
{
    size_t n = (size_t)(to - from);
    t_buf_t *bufs = calloc(n, sizeof *bufs);
    for (size_t k = 0; k < n; k++) {
        t_event_t e;
        char id[32], corr[32];
        r_event(&e, producer, (uint64_t)(seq0 + (int)k + 1), from + (int)k, id, corr);
        if (e.ev.metrics)
            e.ev.metrics = &e.m;
        bufs[k] = t_event_pack(&e);
    }
    t_buf_t batch = t_batch(producer, bufs, n);
    for (size_t k = 0; k < n; k++)
        t_buf_free(&bufs[k]);
    free(bufs);
    kc_apply_t *g = kc_apply_new();
    int rc = kc_apply_add(g, batch.data, batch.len);
    t_buf_free(&batch);
    if (rc == 0)
        rc = kc_apply_commit(g, store);
    const kc_pb_ack_t *a = rc == 0 ? kc_apply_ack_msg(g, 0) : NULL;
    if (rc == 0 && (!a || a->status != KCPIPE__V1__STATUS__STATUS_OK))
        rc = KC_EPROTO;
    int rejected = a ? (int)a->n_results : 0;
    kc_apply_destroy(&g);
    return rc != 0 ? rc : rejected;
}

/* Fill store: p1's records and amendments, then p2 resending three of p1's
 * records (business duplicates, not logged) and one bad event (rejected), and
 * then two fresh records of p2. Returns the number of log entries, or < 0. */
static inline int r_fixture(kc_store_t *store)
{
    if (r_send(store, "p1", 0, R_RECORDS, 0) != 0)
        return -1;
    if (r_send(store, "p1", R_RECORDS, R_P1_EVENTS, R_RECORDS) != 0)
        return -2;
    /* p2: E-300..E-302 again (duplicates), then its own two events */
    if (r_send(store, "p2", 300, 303, 0) != 3)
        return -3;
    t_buf_t bufs[3];
    const char *ids[3] = {"P2-1", "P2-BAD", "P2-2"};
    for (int k = 0; k < 3; k++) {
        t_event_t e;
        t_event(&e, "p2", (uint64_t)(4 + k), ids[k], 77 + k);
        if (k == 1)
            e.ev.province = "99"; /* unknown: rejected */
        bufs[k] = t_event_pack(&e);
    }
    t_buf_t batch = t_batch("p2", bufs, 3);
    for (int k = 0; k < 3; k++)
        t_buf_free(&bufs[k]);
    kc_apply_t *g = kc_apply_new();
    int rc = kc_apply_add(g, batch.data, batch.len);
    t_buf_free(&batch);
    if (rc == 0)
        rc = kc_apply_commit(g, store);
    kc_apply_destroy(&g);
    if (rc != 0)
        return -4;
    return R_P1_EVENTS + 2;
}

#endif
