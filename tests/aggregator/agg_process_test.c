/* agg_process_test.c - the real kc-aggregator over loopback: acks, bad input, stop, restart. */
#include "agg_test_util.h"
#include "kc_err.h"
#include "kc_store.h"

#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <zmq.h>

#include <cmocka.h>

#define S_DEADLINE_MS 15000

static char *s_dir; /* temp dir of the run */
static char s_store[4200];
static char s_ready[4200];
static void *s_zctx;

static int64_t s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Start kc-aggregator on s_store; wait (bounded) for its ready file; return
 * its pid and the endpoint it bound. */
static pid_t s_start(char *endpoint, size_t cap)
{
    const char *bindir = getenv("KC_BIN_DIR");
    assert_non_null(bindir);
    char bin[4200];
    snprintf(bin, sizeof bin, "%s/kc-aggregator", bindir);
    unlink(s_ready);
    int in = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    assert_true(in >= 0);
    assert_true(inotify_add_watch(in, s_dir, IN_MOVED_TO | IN_CLOSE_WRITE) >= 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execl(bin, "kc-aggregator", "--listen", "tcp://127.0.0.1:*", "--store", s_store,
              "--ready-file", s_ready, "--log-level", "error", "--group-window-ms", "2",
              (char *)NULL);
        _exit(127);
    }
    int64_t deadline = s_now_ms() + S_DEADLINE_MS;
    for (;;) {
        FILE *f = fopen(s_ready, "r");
        if (f) {
            char *ok = fgets(endpoint, (int)cap, f);
            fclose(f);
            assert_non_null(ok);
            size_t n = strlen(endpoint);
            assert_true(n > 0 && endpoint[n - 1] == '\n'); /* written atomically, whole */
            endpoint[n - 1] = '\0';
            break;
        }
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid)
            fail_msg("kc-aggregator exited before it was ready (status %d)", status);
        int64_t left = deadline - s_now_ms();
        if (left <= 0)
            fail_msg("kc-aggregator not ready in time");
        struct pollfd p = {.fd = in, .events = POLLIN};
        poll(&p, 1, left < 100 ? (int)left : 100); /* a directory event, or re-check the child */
        char buf[4096];
        while (read(in, buf, sizeof buf) > 0)
            ;
    }
    close(in);
    assert_int_equal(strncmp(endpoint, "tcp://127.0.0.1:", 16), 0);
    return pid;
}

/* SIGTERM the aggregator and wait (bounded) for exit status 0. */
static void s_stop(pid_t pid)
{
    assert_int_equal(kill(pid, SIGTERM), 0);
    int64_t deadline = s_now_ms() + S_DEADLINE_MS;
    int status = 0;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            break;
        assert_int_equal(r, 0);
        if (s_now_ms() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            fail_msg("kc-aggregator did not stop after SIGTERM");
        }
        poll(NULL, 0, 10); /* bounded by the deadline above */
    }
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void *s_dealer(const char *endpoint)
{
    void *s = zmq_socket(s_zctx, ZMQ_DEALER);
    assert_non_null(s);
    int linger = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    assert_int_equal(zmq_connect(s, endpoint), 0);
    return s;
}

/* Receive one message (all frames, the last returned) within timeout_ms. */
static int s_recv(void *s, t_buf_t *out, int *frames, int timeout_ms)
{
    zmq_pollitem_t it = {.socket = s, .events = ZMQ_POLLIN};
    if (zmq_poll(&it, 1, timeout_ms) <= 0)
        return -1;
    *frames = 0;
    out->data = NULL;
    int more = 1;
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        assert_true(zmq_msg_recv(&m, s, 0) >= 0);
        more = zmq_msg_more(&m);
        free(out->data);
        out->len = zmq_msg_size(&m);
        out->data = malloc(out->len + 1);
        memcpy(out->data, zmq_msg_data(&m), out->len);
        zmq_msg_close(&m);
        (*frames)++;
    }
    return 0;
}

/* Send a batch and wait for its Ack, resending (Lazy Pirate) while none comes:
 * the aggregator answers resends by sequence number. */
static kc_pb_ack_t *s_request(void *s, const t_buf_t *batch)
{
    int64_t deadline = s_now_ms() + S_DEADLINE_MS;
    while (s_now_ms() < deadline) {
        assert_int_equal(zmq_send(s, batch->data, batch->len, 0), (int)batch->len);
        t_buf_t r;
        int frames;
        if (s_recv(s, &r, &frames, 1000) == 0) {
            assert_int_equal(frames, 1);
            kc_pb_ack_t *a = kcpipe__v1__ack__unpack(NULL, r.len, r.data);
            t_buf_free(&r);
            assert_non_null(a);
            return a;
        }
    }
    fail_msg("no ack in time");
    return NULL;
}

static void test_serve_bad_input_stop_restart(void **state)
{
    (void)state;
    char ep[256];
    pid_t pid = s_start(ep, sizeof ep);
    void *d = s_dealer(ep);

    /* a good batch */
    t_buf_t b13 = t_batch_range("proc1", "P", 1, 3, 7);
    kc_pb_ack_t *a = s_request(d, &b13);
    assert_int_equal(a->status, KCPIPE__V1__STATUS__STATUS_OK);
    assert_int_equal(a->acked_from, 1);
    assert_int_equal(a->acked_to, 3);
    assert_int_equal(a->committed_seq, 3);
    assert_int_equal(a->n_results, 0);
    kcpipe__v1__ack__free_unpacked(a, NULL);

    /* garbage in one frame: answered, undecodable */
    t_buf_t junk = {.data = (uint8_t *)"\xff\xff\xff", .len = 3};
    a = s_request(d, &junk);
    assert_int_equal(a->status, KCPIPE__V1__STATUS__STATUS_UNDECODABLE);
    kcpipe__v1__ack__free_unpacked(a, NULL);

    /* wrong frame count: dropped without an answer; the next request is answered */
    assert_int_equal(zmq_send(d, "a", 1, ZMQ_SNDMORE), 1);
    assert_int_equal(zmq_send(d, "b", 1, ZMQ_SNDMORE), 1);
    assert_int_equal(zmq_send(d, "c", 1, 0), 1);
    t_buf_t b4 = t_batch_range("proc1", "P", 4, 4, 7);
    a = s_request(d, &b4);
    assert_int_equal(a->status, KCPIPE__V1__STATUS__STATUS_OK);
    assert_int_equal(a->acked_to, 4);
    assert_int_equal(a->committed_seq, 4);
    kcpipe__v1__ack__free_unpacked(a, NULL);

    /* a REQ-style envelope (empty delimiter) is answered with the same envelope */
    t_buf_t b5 = t_batch_range("proc1", "P", 5, 5, 7);
    assert_int_equal(zmq_send(d, "", 0, ZMQ_SNDMORE), 0);
    assert_int_equal(zmq_send(d, b5.data, b5.len, 0), (int)b5.len);
    t_buf_t r;
    int frames = 0;
    assert_int_equal(s_recv(d, &r, &frames, S_DEADLINE_MS), 0);
    assert_int_equal(frames, 2);
    a = kcpipe__v1__ack__unpack(NULL, r.len, r.data);
    assert_non_null(a);
    assert_int_equal(a->committed_seq, 5);
    kcpipe__v1__ack__free_unpacked(a, NULL);
    t_buf_free(&r);

    /* an oversized message: libzmq drops that peer's connection; the daemon lives on */
    void *big = s_dealer(ep);
    size_t bigsz = (size_t)KC_MAX_MSG_SIZE + 4096;
    uint8_t *bigbuf = calloc(1, bigsz);
    assert_int_equal(zmq_send(big, bigbuf, bigsz, 0), (int)bigsz);
    free(bigbuf);
    t_buf_t b6 = t_batch_range("proc1", "P", 6, 6, 7);
    void *d2 = s_dealer(ep);
    a = s_request(d2, &b6);
    assert_int_equal(a->committed_seq, 6);
    kcpipe__v1__ack__free_unpacked(a, NULL);
    zmq_close(big);
    /* the first dealer still works too */
    a = s_request(d, &b6);
    assert_int_equal(a->acked_to, 6);
    kcpipe__v1__ack__free_unpacked(a, NULL);
    zmq_close(d2);
    zmq_close(d);

    s_stop(pid);

    /* restart on the same store: an old seq is a transport duplicate */
    pid = s_start(ep, sizeof ep);
    d = s_dealer(ep);
    a = s_request(d, &b13);
    assert_int_equal(a->status, KCPIPE__V1__STATUS__STATUS_OK);
    assert_int_equal(a->acked_from, 1);
    assert_int_equal(a->acked_to, 3);
    assert_int_equal(a->committed_seq, 6);
    assert_int_equal(a->n_results, 0);
    kcpipe__v1__ack__free_unpacked(a, NULL);
    /* and the next one continues the sequence */
    t_buf_t b7 = t_batch_range("proc1", "P", 7, 7, 7);
    a = s_request(d, &b7);
    assert_int_equal(a->committed_seq, 7);
    kcpipe__v1__ack__free_unpacked(a, NULL);
    zmq_close(d);
    s_stop(pid);

    /* the store holds each event once */
    kc_store_t *st = NULL;
    kc_store_opts_t o = {.read_only = true};
    assert_int_equal(kc_store_open(&st, s_store, &o), 0);
    kc_txn_t *t;
    assert_int_equal(kc_store_read_begin(st, &t), 0);
    uint64_t n = 0;
    assert_int_equal(kc_txn_log_size(t, &n), 0);
    assert_int_equal(n, 7);
    kc_producer_state_t ps;
    assert_int_equal(kc_txn_producer_get(t, "proc1", &ps), 0);
    assert_int_equal(ps.hwm, 7);
    assert_int_equal(ps.accepted, 7);
    kc_txn_end(&t);
    kc_store_close(&st);

    t_buf_free(&b13);
    t_buf_free(&b4);
    t_buf_free(&b5);
    t_buf_free(&b6);
    t_buf_free(&b7);
}

static void test_usage(void **state)
{
    (void)state;
    char cmd[4400];
    const char *bindir = getenv("KC_BIN_DIR");
    snprintf(cmd, sizeof cmd, "'%s/kc-aggregator' --help >/dev/null", bindir);
    assert_int_equal(WEXITSTATUS(system(cmd)), 0);
    snprintf(cmd, sizeof cmd, "'%s/kc-aggregator' --version | grep -q kc-aggregator", bindir);
    assert_int_equal(WEXITSTATUS(system(cmd)), 0);
    snprintf(cmd, sizeof cmd, "'%s/kc-aggregator' --bogus 2>/dev/null", bindir);
    assert_int_equal(WEXITSTATUS(system(cmd)), 64);
    snprintf(cmd, sizeof cmd, "'%s/kc-aggregator' --group-max x 2>/dev/null", bindir);
    assert_int_equal(WEXITSTATUS(system(cmd)), 64);
    snprintf(cmd, sizeof cmd, "'%s/kc-aggregator' --log-level loud 2>/dev/null", bindir);
    assert_int_equal(WEXITSTATUS(system(cmd)), 64);
}

int main(void)
{
    s_dir = t_tmpdir("aggproc");
    if (!s_dir)
        return 1;
    snprintf(s_store, sizeof s_store, "%s/store", s_dir);
    snprintf(s_ready, sizeof s_ready, "%s/ready", s_dir);
    s_zctx = zmq_ctx_new();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_serve_bad_input_stop_restart),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    zmq_ctx_term(s_zctx);
    t_rmtree(s_dir);
    free(s_dir);
    return rc;
}
