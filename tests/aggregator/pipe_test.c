/* pipe_test.c - the aggregator's pipeline (kc_agg.h, DESIGN "pipeline") in process.
 *
 * kc_agg_run() runs in a thread of the test; a DEALER sends Batches over
 * loopback; a commit hook (kc_agg_set_commit_hook, called by the commit
 * thread) holds commits in flight or fails them. Checked: no Ack before its
 * commit returned; a failed commit gives no positive Ack (unavailable), and a
 * producer's next Batch, collected while that commit was in flight, is not
 * applied ahead of it (a gap: resend_from); producers' batches spanning many
 * groups stay in order; a stop while a commit is in flight acknowledges it and
 * the group in hand, and signs a final head; a flood of multi-frame messages
 * behind a held commit is read only up to a group's worth, then all answered.
 * The run is stopped as the daemon is, by a signal (SIGUSR1 to the run's
 * thread, whose handler sets the flag). Waits are bounded and wait for events
 * (an Ack, the hook, a log line), except the checks that nothing arrives while
 * a commit is held, or after the last Ack (200 ms).
 */
#include "agg_test_util.h"
#include "kc_agg.h"
#include "kc_audit.h"
#include "kc_err.h"
#include "kc_log.h"
#include "kc_store.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <zmq.h>

#include <cmocka.h>

#define S_DEADLINE_MS 15000

/* ---- the commit hook ---- */

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool hold;        /* commits wait for a release each */
    unsigned entered; /* commits that reached the hook */
    unsigned released;
    unsigned fail;      /* this many commits (from the next) fail with KC_ENOSPC */
    size_t nmsgs[1024]; /* messages of each commit */
    bool refused_seen;  /* the log said a message of several frames was refused */
    unsigned refused_n; /* such log lines */
} s_hook_t;

static s_hook_t s_h = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static struct timespec s_deadline(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += S_DEADLINE_MS / 1000;
    return ts;
}

static int s_hook(void *ctx, size_t nmsgs)
{
    s_hook_t *h = ctx;
    pthread_mutex_lock(&h->mu);
    unsigned me = h->entered++;
    if (me < sizeof h->nmsgs / sizeof h->nmsgs[0])
        h->nmsgs[me] = nmsgs;
    pthread_cond_broadcast(&h->cv);
    struct timespec dl = s_deadline();
    while (h->hold && h->released <= me)
        if (pthread_cond_timedwait(&h->cv, &h->mu, &dl) == ETIMEDOUT)
            break; /* the test failed; let the daemon go on */
    int rc = 0;
    if (h->fail > 0) {
        h->fail--;
        rc = KC_ENOSPC;
    }
    pthread_mutex_unlock(&h->mu);
    return rc;
}

/* Wait until n commits have reached the hook. */
static void s_wait_entered(unsigned n)
{
    pthread_mutex_lock(&s_h.mu);
    struct timespec dl = s_deadline();
    int e = 0;
    while (s_h.entered < n && e != ETIMEDOUT)
        e = pthread_cond_timedwait(&s_h.cv, &s_h.mu, &dl);
    unsigned got = s_h.entered;
    pthread_mutex_unlock(&s_h.mu);
    if (got < n)
        fail_msg("only %u of %u commits reached the hook in time", got, n);
}

/* Let the next held commit go. */
static void s_release(void)
{
    pthread_mutex_lock(&s_h.mu);
    s_h.released++;
    pthread_cond_broadcast(&s_h.cv);
    pthread_mutex_unlock(&s_h.mu);
}

static void s_sink(kc_log_level_t level, const char *line, void *ctx)
{
    (void)level;
    (void)ctx;
    if (!strstr(line, "KC-REJ-090") || !strstr(line, "frames"))
        return;
    pthread_mutex_lock(&s_h.mu);
    s_h.refused_seen = true;
    s_h.refused_n++;
    pthread_cond_broadcast(&s_h.cv);
    pthread_mutex_unlock(&s_h.mu);
}

/* ---- the daemon in a thread ---- */

static volatile sig_atomic_t s_stop;

static void s_on_usr1(int sig)
{
    (void)sig;
    s_stop = 1;
}

typedef struct {
    char *dir;
    char store[4200];
    kc_agg_t *agg;
    pthread_t th;
    int rc;
    void *zctx;
    void *dealer;
} s_env_t;

static void *s_run_main(void *arg)
{
    s_env_t *env = arg;
    env->rc = kc_agg_run(env->agg, &s_stop);
    return NULL;
}

static void s_start(s_env_t *env, size_t group_max, int window_ms)
{
    memset(env, 0, sizeof *env);
    pthread_mutex_lock(&s_h.mu);
    s_h.hold = false;
    s_h.entered = s_h.released = s_h.fail = 0;
    s_h.refused_seen = false;
    s_h.refused_n = 0;
    pthread_mutex_unlock(&s_h.mu);
    s_stop = 0;
    struct sigaction sa = {.sa_handler = s_on_usr1}; /* no SA_RESTART: poll sees EINTR */
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGUSR1, &sa, NULL), 0);
    env->dir = t_tmpdir("pipe");
    assert_non_null(env->dir);
    snprintf(env->store, sizeof env->store, "%s/store", env->dir);
    kc_agg_opts_t o = {.listen = "tcp://127.0.0.1:*",
                       .store_dir = env->store,
                       .group_max = group_max,
                       .group_window_ms = window_ms,
                       .sth_interval_ms = 60000};
    assert_int_equal(kc_agg_new(&env->agg, &o), 0);
    kc_agg_set_commit_hook(env->agg, s_hook, &s_h);
    assert_int_equal(pthread_create(&env->th, NULL, s_run_main, env), 0);
    env->zctx = zmq_ctx_new();
    env->dealer = zmq_socket(env->zctx, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(env->dealer, ZMQ_LINGER, &linger, sizeof linger);
    assert_int_equal(zmq_connect(env->dealer, kc_agg_endpoint(env->agg)), 0);
}

/* Stop as the daemon is stopped (a signal), wait for kc_agg_run() to return. */
static void s_signal_stop(s_env_t *env)
{
    assert_int_equal(pthread_kill(env->th, SIGUSR1), 0);
}

static void s_join(s_env_t *env)
{
    assert_int_equal(pthread_join(env->th, NULL), 0);
    assert_int_equal(env->rc, 0);
}

static void s_check_store(const char *dir, uint64_t want_size);

/* Close everything, then check the store (one open per process: after the
 * daemon's is closed) and remove it. */
static void s_finish(s_env_t *env, uint64_t want_size)
{
    zmq_close(env->dealer);
    zmq_ctx_term(env->zctx);
    kc_agg_destroy(&env->agg);
    s_check_store(env->store, want_size);
    t_rmtree(env->dir);
    free(env->dir);
}

static void s_send(s_env_t *env, const char *producer, uint64_t from, uint64_t to)
{
    t_buf_t b = t_batch_range(producer, producer, from, to, 1000);
    assert_int_equal(zmq_send(env->dealer, b.data, b.len, 0), (int)b.len);
    t_buf_free(&b);
}

/* The next Ack within timeout_ms (caller frees), or NULL. */
static kc_pb_ack_t *s_recv_ack(s_env_t *env, int timeout_ms)
{
    zmq_pollitem_t it = {.socket = env->dealer, .events = ZMQ_POLLIN};
    if (zmq_poll(&it, 1, timeout_ms) <= 0)
        return NULL;
    zmq_msg_t m;
    zmq_msg_init(&m);
    assert_true(zmq_msg_recv(&m, env->dealer, 0) >= 0);
    assert_false(zmq_msg_more(&m));
    kc_pb_ack_t *a = kcpipe__v1__ack__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
    zmq_msg_close(&m);
    assert_non_null(a);
    return a;
}

static kc_pb_ack_t *s_expect_ack(s_env_t *env)
{
    kc_pb_ack_t *a = s_recv_ack(env, S_DEADLINE_MS);
    if (!a)
        fail_msg("no Ack in time");
    return a;
}

static void s_expect_ok(s_env_t *env, const char *producer, uint64_t from, uint64_t to)
{
    kc_pb_ack_t *a = s_expect_ack(env);
    assert_string_equal(a->producer_id, producer);
    assert_int_equal(a->status, KCPIPE__V1__STATUS__STATUS_OK);
    assert_true(a->has_acked_from && a->has_acked_to);
    assert_int_equal(a->acked_from, from);
    assert_int_equal(a->acked_to, to);
    assert_int_equal(a->committed_seq, to);
    assert_false(a->has_resend_from);
    kcpipe__v1__ack__free_unpacked(a, NULL);
}

/* The store after the run: log size, and each producer's seqs in log order
 * are 1, 2, 3, ... (per-producer order); a head covers the whole log. */
static void s_check_store(const char *dir, uint64_t want_size)
{
    kc_store_t *s = NULL;
    kc_store_opts_t o = {.read_only = true};
    assert_int_equal(kc_store_open(&s, dir, &o), 0);
    kc_txn_t *t = NULL;
    assert_int_equal(kc_store_read_begin(s, &t), 0);
    uint64_t size = 0;
    assert_int_equal(kc_txn_log_size(t, &size), 0);
    assert_int_equal(size, want_size);
    char names[8][16] = {{0}};
    uint64_t next[8] = {0};
    for (uint64_t off = 0; off < size; off++) {
        kc_log_entry_t e;
        assert_int_equal(kc_txn_log_get(t, off, &e), 0);
        int p = 0;
        while (p < 8 && names[p][0] &&
               !(strlen(names[p]) == e.producer_len &&
                 memcmp(names[p], e.producer, e.producer_len) == 0))
            p++;
        assert_true(p < 8 && e.producer_len < sizeof names[p]);
        if (!names[p][0]) {
            memcpy(names[p], e.producer, e.producer_len);
            next[p] = 1;
        }
        assert_int_equal(e.seq, next[p]);
        next[p]++;
    }
    kc_merkle_sth_t h;
    assert_int_equal(kc_txn_head_last(t, &h), 0); /* the final head */
    assert_int_equal(h.tree_size, size);
    kc_txn_end(&t);
    kc_store_close(&s);
}

/* ---- tests ---- */

/* No Ack while its commit is in flight; the batch collected meanwhile is
 * committed after it, in order. */
static void test_ack_only_after_commit(void **state)
{
    (void)state;
    s_env_t env;
    s_start(&env, 0, 0);
    pthread_mutex_lock(&s_h.mu);
    s_h.hold = true;
    pthread_mutex_unlock(&s_h.mu);
    s_send(&env, "p1", 1, 5);
    s_wait_entered(1); /* its commit is in flight, held */
    s_send(&env, "p1", 6, 10);
    kc_pb_ack_t *early = s_recv_ack(&env, 200);
    if (early)
        fail_msg("an Ack (acked_to %llu) arrived before its commit returned",
                 (unsigned long long)early->acked_to);
    s_release();
    s_expect_ok(&env, "p1", 1, 5);
    s_wait_entered(2); /* the second group, handed over once the first was answered */
    assert_int_equal(s_h.nmsgs[1], 1);
    assert_null(s_recv_ack(&env, 50));
    s_release();
    s_expect_ok(&env, "p1", 6, 10);
    s_signal_stop(&env);
    s_join(&env);
    const kc_agg_counters_t *c = kc_agg_counters(env.agg);
    assert_int_equal(c->accepted, 10);
    assert_int_equal(c->commits, 2);
    s_finish(&env, 10);
}

/* A failed commit gives no positive Ack; the producer's next batch, collected
 * while that commit was in flight, is not applied ahead of it. */
static void test_failed_commit_no_ack(void **state)
{
    (void)state;
    s_env_t env;
    s_start(&env, 0, 0);
    pthread_mutex_lock(&s_h.mu);
    s_h.hold = true;
    s_h.fail = 1;
    pthread_mutex_unlock(&s_h.mu);
    s_send(&env, "p2", 1, 5);
    s_wait_entered(1);
    s_send(&env, "p2", 6, 10);
    assert_null(s_recv_ack(&env, 200));
    s_release(); /* the first commit fails */
    kc_pb_ack_t *a = s_expect_ack(&env);
    assert_int_equal(a->status, KCPIPE__V1__STATUS__STATUS_UNAVAILABLE);
    assert_false(a->has_acked_from);
    assert_false(a->has_committed_seq);
    kcpipe__v1__ack__free_unpacked(a, NULL);
    s_wait_entered(2);
    s_release(); /* the second: 6..10 after a hwm of 0 is a gap */
    a = s_expect_ack(&env);
    assert_int_equal(a->status, KCPIPE__V1__STATUS__STATUS_OK);
    assert_false(a->has_acked_from);
    assert_true(a->has_resend_from);
    assert_int_equal(a->resend_from, 1);
    assert_int_equal(a->committed_seq, 0);
    kcpipe__v1__ack__free_unpacked(a, NULL);
    /* the producer resends from 1 */
    pthread_mutex_lock(&s_h.mu);
    s_h.hold = false;
    pthread_mutex_unlock(&s_h.mu);
    s_send(&env, "p2", 1, 5);
    s_expect_ok(&env, "p2", 1, 5);
    s_send(&env, "p2", 6, 10);
    s_expect_ok(&env, "p2", 6, 10);
    s_signal_stop(&env);
    s_join(&env);
    const kc_agg_counters_t *c = kc_agg_counters(env.agg);
    assert_int_equal(c->accepted, 10);
    assert_int_equal(c->unavailable, 1);
    assert_int_equal(c->gaps, 1);
    s_finish(&env, 10);
}

/* Stop while a commit is in flight and another group is in hand: both are
 * committed and acknowledged, then a final head is signed. */
static void test_stop_with_commit_in_flight(void **state)
{
    (void)state;
    s_env_t env;
    s_start(&env, 5, 60000); /* groups of 5 events; a partial group waits a minute */
    kc_log_set_sink(s_sink, NULL);
    pthread_mutex_lock(&s_h.mu);
    s_h.hold = true;
    pthread_mutex_unlock(&s_h.mu);
    s_send(&env, "p3", 1, 5); /* a full group: handed over at once */
    s_wait_entered(1);
    s_send(&env, "p3", 6, 8); /* in hand: not full, its window far away */
    /* a message of two frames after it: once it is refused (logged as it is
     * received), 6..8 was received; its Ack (undecodable) follows 6..8's */
    assert_int_equal(zmq_send(env.dealer, "x", 1, ZMQ_SNDMORE), 1);
    assert_int_equal(zmq_send(env.dealer, "y", 1, 0), 1);
    pthread_mutex_lock(&s_h.mu);
    struct timespec dl = s_deadline();
    while (!s_h.refused_seen)
        if (pthread_cond_timedwait(&s_h.cv, &s_h.mu, &dl) == ETIMEDOUT)
            break;
    bool seen = s_h.refused_seen;
    pthread_mutex_unlock(&s_h.mu);
    kc_log_set_sink(NULL, NULL);
    assert_true(seen);
    s_signal_stop(&env); /* the commit is still held */
    s_release();
    s_expect_ok(&env, "p3", 1, 5);
    s_wait_entered(2); /* the group in hand, committed on the way out */
    s_release();
    s_expect_ok(&env, "p3", 6, 8);
    kc_pb_ack_t *a = s_expect_ack(&env);
    assert_int_equal(a->status, KCPIPE__V1__STATUS__STATUS_UNDECODABLE);
    assert_false(a->has_acked_from);
    assert_non_null(a->error);
    kcpipe__v1__ack__free_unpacked(a, NULL);
    s_join(&env);
    s_finish(&env, 8);
}

/* A flood of multi-frame messages while a commit is held: each waits for its Ack
 * behind the commit in flight, and the daemon stops reading once a group's
 * worth of messages (1024) waits, so that memory stays bounded; after the
 * commit every one is answered, once, in order. */
static void test_multiframe_flood_bounded(void **state)
{
    (void)state;
    enum { N = 1100, LIMIT = 1024 }; /* LIMIT: messages per group (kc_agg.c) */
    s_env_t env;
    s_start(&env, 5, 60000);
    kc_log_set_sink(s_sink, NULL);
    pthread_mutex_lock(&s_h.mu);
    s_h.hold = true;
    pthread_mutex_unlock(&s_h.mu);
    s_send(&env, "p4", 1, 5); /* a full group: handed over at once, held */
    s_wait_entered(1);
    for (int i = 0; i < N; i++) {
        assert_int_equal(zmq_send(env.dealer, "x", 1, ZMQ_SNDMORE), 1);
        assert_int_equal(zmq_send(env.dealer, "y", 1, 0), 1);
    }
    /* LIMIT of them are read and wait behind the held commit; then no more */
    pthread_mutex_lock(&s_h.mu);
    struct timespec dl = s_deadline();
    while (s_h.refused_n < LIMIT)
        if (pthread_cond_timedwait(&s_h.cv, &s_h.mu, &dl) == ETIMEDOUT)
            break;
    unsigned read = s_h.refused_n;
    pthread_mutex_unlock(&s_h.mu);
    assert_int_equal(read, LIMIT);
    assert_null(s_recv_ack(&env, 200)); /* nothing answered while the commit is held */
    pthread_mutex_lock(&s_h.mu);
    read = s_h.refused_n;
    pthread_mutex_unlock(&s_h.mu);
    assert_int_equal(read, LIMIT);
    s_release();
    s_expect_ok(&env, "p4", 1, 5);
    for (int i = 0; i < N; i++) {
        kc_pb_ack_t *a = s_expect_ack(&env);
        assert_int_equal(a->status, KCPIPE__V1__STATUS__STATUS_UNDECODABLE);
        assert_non_null(strstr(a->error, "the message has 2 frames"));
        kcpipe__v1__ack__free_unpacked(a, NULL);
    }
    assert_null(s_recv_ack(&env, 200)); /* one Ack each */
    kc_log_set_sink(NULL, NULL);
    s_signal_stop(&env);
    s_join(&env);
    s_finish(&env, 5);
}

/* Many producers' batches spanning many groups, sent without waiting: every
 * Ack is positive and in order, and each producer's events are in the log in
 * seq order. */
static void test_order_across_groups(void **state)
{
    (void)state;
    s_env_t env;
    s_start(&env, 10, 0); /* groups of at most 10 events: 2 batches */
    enum { NP = 3, NB = 40, BS = 5 };
    const char *prod[NP] = {"q0", "q1", "q2"};
    for (int b = 0; b < NB; b++)
        for (int p = 0; p < NP; p++)
            s_send(&env, prod[p], (uint64_t)b * BS + 1, (uint64_t)(b + 1) * BS);
    uint64_t acked[NP] = {0};
    for (int i = 0; i < NP * NB; i++) {
        kc_pb_ack_t *a = s_expect_ack(&env);
        int p = a->producer_id[1] - '0';
        assert_true(p >= 0 && p < NP);
        assert_int_equal(a->status, KCPIPE__V1__STATUS__STATUS_OK);
        assert_false(a->has_resend_from);
        assert_int_equal(a->acked_from, acked[p] + 1); /* in order, none skipped */
        assert_int_equal(a->acked_to, acked[p] + BS);
        acked[p] = a->acked_to;
        kcpipe__v1__ack__free_unpacked(a, NULL);
    }
    s_signal_stop(&env);
    s_join(&env);
    const kc_agg_counters_t *c = kc_agg_counters(env.agg);
    assert_int_equal(c->accepted, NP * NB * BS);
    assert_int_equal(c->gaps, 0);
    assert_true(c->commits >= NP * NB * BS / 10);
    s_finish(&env, NP * NB * BS);
}

int main(void)
{
    kc_log_set_level(KC_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ack_only_after_commit),
        cmocka_unit_test(test_failed_commit_no_ack),
        cmocka_unit_test(test_stop_with_commit_in_flight),
        cmocka_unit_test(test_multiframe_flood_bounded),
        cmocka_unit_test(test_order_across_groups),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
