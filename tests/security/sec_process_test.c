/* sec_process_test.c - the real kc-aggregator with CURVE on 127.0.0.1.
 *
 * One aggregator (CURVE server key, a registry of three producer keys) serves
 * every scenario, in order: a registered key is accepted; an unknown key and a
 * plaintext client never get an Ack (the producer times out); an event for a
 * province outside the key's list is rejected province_not_authorized while
 * the key's own province is accepted; a Batch whose producer_id is not the
 * key's is refused whole; frames over the 16 MiB limit drop the connection
 * and leave the aggregator's memory flat; 100 junk TCP connections do not
 * stall a legitimate producer; and last, a key revoked in the registry is
 * refused after SIGHUP, on new connections and on one opened before.
 *
 * Synchronisation: the ready file, the aggregator's log lines (KC-SEC-...,
 * "generation=N" after a reload), handshake events of libzmq socket monitors,
 * Acks and process exits, each waited for within a bound; never a sleep.
 */
#include "agg_test_util.h"
#include "harness.h"
#include "sec_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <zmq.h>

#include <cmocka.h>

#define S_ACK_MS       20000 /* bound on an Ack / a handshake outcome */
#define S_SEND_MS      60000 /* bound on a kc-send that should succeed */
#define S_JUNK         100   /* junk connections */
#define S_JUNK_BOUND   20000 /* a legitimate batch is acknowledged within this despite them */
#define S_BIG          ((size_t)17 << 20) /* over KC_MAX_MSG_SIZE (16 MiB) */
#define S_BIG_COUNT    3
#define S_RSS_SLACK_KB (16 * 1024) /* growth allowed while oversized frames are refused */

static struct {
    kc_agg_t agg;
    char err[KC_PATH_MAX]; /* the aggregator's log */
    char registry[KC_PATH_MAX];
    char server_pub[41];
    char k79[41], k74[41], kunknown[41];
    char server_file[KC_PATH_MAX];
    void *zctx;
    int sends; /* kc-send runs so far (names of spools and outputs) */
} S;

/* ---- helpers ------------------------------------------------------------ */

static void s_registry(bool revoke74)
{
    char text[1024];
    snprintf(text, sizeof text,
             "# test registry\n"
             "producer office-79 key \"%s\" provinces 79\n"
             "producer office-74 key \"%s\" provinces 74%s\n",
             S.k79, S.k74, revoke74 ? " revoked" : "");
    sec_write_file(S.registry, text);
}

/* A CSV of rows "id,province" into <tmp>/name. */
static void s_csv(char *path, const char *name, const char *const *ids, const char *const *provs,
                  int n)
{
    kc_harness_path(path, "%s", name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "event_id,province,year,month,activity,amount_vnd,facilities\n");
    for (int i = 0; i < n; i++)
        fprintf(f, "%s,%s,2022,3,machinery,1000000,1\n", ids[i], provs[i]);
    fclose(f);
}

/* kc-send with a key (cert = secret file name in the temp dir, NULL: plaintext);
 * returns its exit code and summary. */
static int s_send(const char *cert, const char *producer, const char *csv, const char *timeout_s,
                  kc_summary_t *sum, char *out)
{
    char spool[KC_PATH_MAX], certp[KC_PATH_MAX];
    int n = ++S.sends;
    kc_harness_path(spool, "spool-%d", n);
    kc_harness_path(out, "send-%d.out", n);
    const char *extra[12];
    int e = 0;
    extra[e++] = "--timeout";
    extra[e++] = timeout_s;
    extra[e++] = "--request-timeout-ms";
    extra[e++] = "500";
    if (cert) {
        kc_harness_path(certp, "%s_secret", cert);
        extra[e++] = "--server-key";
        extra[e++] = S.server_file;
        extra[e++] = "--cert";
        extra[e++] = certp;
    }
    extra[e] = NULL;
    pid_t pid = kc_harness_send_start(S.agg.endpoint, producer, spool, csv, out, extra);
    int st = 0;
    if (kc_harness_wait(pid, S_SEND_MS, &st) != 0) {
        kc_harness_stop(pid, SIGKILL, 5000);
        fail_msg("kc-send %s did not end", out);
    }
    assert_int_equal(kc_harness_summary(out, sum), 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static long s_vmrss_kb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    long kb = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    fclose(f);
    assert_true(kb > 0);
    return kb;
}

/* A raw CURVE DEALER with the key pair of the certificate `name` (NULL:
 * plaintext), with a monitor; waits for the handshake outcome. */
typedef struct {
    void *sock, *mon;
} s_raw_t;

static int s_raw_event(s_raw_t *r, int timeout_ms)
{
    zmq_setsockopt(r->mon, ZMQ_RCVTIMEO, &timeout_ms, sizeof timeout_ms);
    for (;;) {
        uint8_t ev[6];
        char addr[256];
        int n = zmq_recv(r->mon, ev, sizeof ev, 0);
        if (n < 6)
            return -1;
        assert_true(zmq_recv(r->mon, addr, sizeof addr, 0) >= 0);
        uint16_t id = (uint16_t)(ev[0] | ev[1] << 8);
        if (id == ZMQ_EVENT_HANDSHAKE_SUCCEEDED || id == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH ||
            id == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ||
            id == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL || id == ZMQ_EVENT_DISCONNECTED)
            return id;
    }
}

static int s_raw_open(s_raw_t *r, const char *name)
{
    static int n;
    r->sock = zmq_socket(S.zctx, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(r->sock, ZMQ_LINGER, &linger, sizeof linger);
    if (name) {
        char path[KC_PATH_MAX];
        kc_cert_t c;
        kc_harness_path(path, "%s_secret", name);
        assert_int_equal(kc_cert_load(path, true, &c), 0);
        assert_int_equal(zmq_setsockopt(r->sock, ZMQ_CURVE_SERVERKEY, S.server_pub, 40), 0);
        assert_int_equal(zmq_setsockopt(r->sock, ZMQ_CURVE_PUBLICKEY, c.public_key, 40), 0);
        assert_int_equal(zmq_setsockopt(r->sock, ZMQ_CURVE_SECRETKEY, c.secret_key, 40), 0);
    }
    char mep[64];
    snprintf(mep, sizeof mep, "inproc://sec-mon-%d", n++);
    assert_int_equal(zmq_socket_monitor(r->sock, mep, ZMQ_EVENT_ALL), 0);
    r->mon = zmq_socket(S.zctx, ZMQ_PAIR);
    zmq_setsockopt(r->mon, ZMQ_LINGER, &linger, sizeof linger);
    assert_int_equal(zmq_connect(r->mon, mep), 0);
    assert_int_equal(zmq_connect(r->sock, S.agg.endpoint), 0);
    return s_raw_event(r, S_ACK_MS);
}

static void s_raw_close(s_raw_t *r)
{
    zmq_socket_monitor(r->sock, NULL, 0);
    zmq_close(r->mon);
    zmq_close(r->sock);
}

/* Batch of events seq from..to of producer, all for `province`. */
static t_buf_t s_batch(const char *producer, const char *prefix, uint64_t from, uint64_t to,
                       const char *province)
{
    size_t n = (size_t)(to - from + 1);
    t_buf_t evs[16];
    char ids[16][64];
    assert_true(n <= 16);
    for (size_t i = 0; i < n; i++) {
        t_event_t e;
        snprintf(ids[i], sizeof ids[i], "%s-%llu", prefix, (unsigned long long)(from + i));
        t_event(&e, producer, from + i, ids[i], 5000);
        e.ev.province = (char *)province;
        evs[i] = t_event_pack(&e);
    }
    t_buf_t b = t_batch(producer, evs, n);
    for (size_t i = 0; i < n; i++)
        t_buf_free(&evs[i]);
    return b;
}

/* Send a batch on a raw connection and receive its Ack (bounded). */
static kc_pb_ack_t *s_raw_call(s_raw_t *r, t_buf_t b)
{
    assert_int_equal(zmq_send(r->sock, b.data, b.len, 0), (int)b.len);
    t_buf_free(&b);
    int timeout = S_ACK_MS;
    zmq_setsockopt(r->sock, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    zmq_msg_t m;
    zmq_msg_init(&m);
    int n = zmq_msg_recv(&m, r->sock, 0);
    if (n < 0)
        fail_msg("no Ack within %d ms", S_ACK_MS);
    kc_pb_ack_t *a = kcpipe__v1__ack__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
    zmq_msg_close(&m);
    assert_non_null(a);
    return a;
}

static int s_port(void)
{
    const char *colon = strrchr(S.agg.endpoint, ':');
    assert_non_null(colon);
    return atoi(colon + 1);
}

/* ---- setup -------------------------------------------------------------- */

static int s_setup(void **state)
{
    (void)state;
    kc_harness_init("security");
    sec_keygen("server", "kc-aggregator", S.server_pub);
    sec_keygen("office79", "office-79", S.k79);
    sec_keygen("office74", "office-74", S.k74);
    sec_keygen("stranger", "stranger", S.kunknown);
    kc_harness_path(S.server_file, "server");
    kc_harness_path(S.registry, "registry");
    s_registry(false);
    char store[KC_PATH_MAX], secret[KC_PATH_MAX];
    kc_harness_path(store, "store");
    kc_harness_path(secret, "server_secret");
    const char *extra[] = {"--curve-secret",    secret, "--registry", S.registry,
                           "--group-window-ms", "2",    NULL};
    kc_harness_agg_start(&S.agg, store, "tcp://127.0.0.1:*", extra);
    kc_harness_path(S.err, "agg-%d.err", S.agg.incarnation);
    sec_wait_log(S.err, "KC-SEC-005 registry loaded: generation=1 keys=2 revoked=0", 1, S_ACK_MS);
    S.zctx = zmq_ctx_new();
    return 0;
}

static int s_teardown(void **state)
{
    (void)state;
    zmq_ctx_term(S.zctx);
    kc_harness_agg_term(&S.agg);
    kc_harness_pass();
    return 0;
}

/* ---- scenarios ---------------------------------------------------------- */

static void test_registered_key_accepted(void **state)
{
    (void)state;
    char csv[KC_PATH_MAX], out[KC_PATH_MAX];
    const char *ids[] = {"79-A-1", "79-A-2"}, *provs[] = {"79", "79"};
    s_csv(csv, "ok.csv", ids, provs, 2);
    kc_summary_t s;
    assert_int_equal(s_send("office79", "office-79", csv, "30", &s, out), 0);
    assert_int_equal(s.accepted, 2);
    assert_true(sec_count(S.err, "KC-SEC-011 connection from") >= 1);
    assert_true(sec_count(S.err, "producer=office-79") >= 1);
}

static void test_unknown_key_refused(void **state)
{
    (void)state;
    char csv[KC_PATH_MAX], out[KC_PATH_MAX];
    const char *ids[] = {"79-U-1"}, *provs[] = {"79"};
    s_csv(csv, "unknown.csv", ids, provs, 1);
    int before = sec_count(S.err, "refused: unknown key");
    kc_summary_t s;
    assert_int_equal(s_send("stranger", "office-79", csv, "3", &s, out), 75); /* timed out */
    assert_int_equal(s.accepted, 0);
    assert_int_equal(s.unacknowledged, 1);
    assert_true(sec_count(S.err, "refused: unknown key") > before);
    assert_true(sec_count(S.err, S.kunknown) >= 1); /* the refused key is named */
}

static void test_plaintext_refused(void **state)
{
    (void)state;
    char csv[KC_PATH_MAX], out[KC_PATH_MAX];
    const char *ids[] = {"79-P-1"}, *provs[] = {"79"};
    s_csv(csv, "plain.csv", ids, provs, 1);
    kc_summary_t s;
    assert_int_equal(s_send(NULL, "office-79", csv, "3", &s, out), 75);
    assert_int_equal(s.unacknowledged, 1);
    s_raw_t r;
    int ev = s_raw_open(&r, NULL);
    assert_int_not_equal(ev, ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
    s_raw_close(&r);
}

static void test_province_spoofing(void **state)
{
    (void)state;
    char csv[KC_PATH_MAX], out[KC_PATH_MAX];
    const char *ids[] = {"79-S-1", "74-S-1", "79-S-2"}, *provs[] = {"79", "74", "79"};
    s_csv(csv, "spoof.csv", ids, provs, 3);
    kc_summary_t s;
    assert_int_equal(s_send("office79", "office-79", csv, "30", &s, out), 65); /* a rejection */
    assert_int_equal(s.accepted, 2);
    assert_int_equal(s.rejected, 1);
    assert_int_equal(sec_count(out, "74-S-1: province_not_authorized"), 1);
    sec_wait_log(S.err, "KC-SEC-003 rejected producer=office-79", 1, S_ACK_MS);
}

static void test_producer_id_spoofing(void **state)
{
    (void)state;
    s_raw_t r;
    assert_int_equal(s_raw_open(&r, "office79"), ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
    kc_pb_ack_t *a = s_raw_call(&r, s_batch("office-74", "74-X", 1, 2, "74"));
    assert_int_equal(a->status, KCPIPE__V1__STATUS__STATUS_BAD_PRODUCER);
    assert_non_null(strstr(a->error, "office-79"));
    assert_false(a->has_acked_from);
    kcpipe__v1__ack__free_unpacked(a, NULL);
    s_raw_close(&r);
    sec_wait_log(S.err, "KC-SEC-002 batch refused", 1, S_ACK_MS);
    uint64_t acc = 0, hwm = 0;
    assert_int_equal(kc_harness_producer_counts(S.agg.store, "office-74", &acc, &hwm), 0);
    assert_int_equal(acc, 0);
    assert_int_equal(hwm, 0);
}

static void test_oversized_frame(void **state)
{
    (void)state;
    long before = s_vmrss_kb(S.agg.pid);
    uint8_t *big = calloc(1, S_BIG);
    assert_non_null(big);
    for (int i = 0; i < S_BIG_COUNT; i++) {
        s_raw_t r;
        assert_int_equal(s_raw_open(&r, "office79"), ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
        assert_int_equal(zmq_send(r.sock, big, S_BIG, 0), (int)S_BIG);
        assert_int_equal(s_raw_event(&r, S_ACK_MS), ZMQ_EVENT_DISCONNECTED);
        s_raw_close(&r);
    }
    free(big);
    long after = s_vmrss_kb(S.agg.pid);
    print_message("aggregator VmRSS %ld kB before, %ld kB after %d frames of %zu bytes\n", before,
                  after, S_BIG_COUNT, S_BIG);
    assert_true(after - before < S_RSS_SLACK_KB);
    /* still serving */
    s_raw_t r;
    assert_int_equal(s_raw_open(&r, "office79"), ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
    s_raw_close(&r);
}

static void test_junk_connections(void **state)
{
    (void)state;
    int fds[S_JUNK];
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s_port())};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    static const uint8_t greeting[10] = {0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F};
    uint8_t junk[1024];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (uint8_t)(i * 131 + 7);
    for (int i = 0; i < S_JUNK; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        assert_true(fds[i] >= 0);
        assert_int_equal(connect(fds[i], (struct sockaddr *)&sa, sizeof sa), 0);
        /* a third send garbage, a third a ZMTP signature and then nothing, a third nothing */
        if (i % 3 == 0)
            assert_true(send(fds[i], junk, sizeof junk, MSG_NOSIGNAL) > 0);
        else if (i % 3 == 1)
            assert_true(send(fds[i], greeting, sizeof greeting, MSG_NOSIGNAL) > 0);
    }
    char csv[KC_PATH_MAX], out[KC_PATH_MAX];
    const char *ids[] = {"79-J-1", "79-J-2"}, *provs[] = {"79", "79"};
    s_csv(csv, "junk.csv", ids, provs, 2);
    int64_t t0 = kc_harness_now_ms();
    kc_summary_t s;
    assert_int_equal(s_send("office79", "office-79", csv, "20", &s, out), 0);
    int64_t took = kc_harness_now_ms() - t0;
    print_message("legitimate batch acknowledged in %lld ms with %d junk connections open\n",
                  (long long)took, S_JUNK);
    assert_int_equal(s.accepted, 2);
    assert_true(took < S_JUNK_BOUND);
    for (int i = 0; i < S_JUNK; i++)
        close(fds[i]);
    assert_true(kill(S.agg.pid, 0) == 0);
}

static void test_revocation_after_sighup(void **state)
{
    (void)state;
    /* office-74 connects and is served */
    s_raw_t r;
    assert_int_equal(s_raw_open(&r, "office74"), ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
    kc_pb_ack_t *a = s_raw_call(&r, s_batch("office-74", "74-R", 1, 1, "74"));
    assert_int_equal(a->status, KCPIPE__V1__STATUS__STATUS_OK);
    assert_int_equal(a->acked_to, 1);
    assert_int_equal(a->n_results, 0);
    kcpipe__v1__ack__free_unpacked(a, NULL);

    /* revoke it; SIGHUP; wait for the reload to be logged */
    s_registry(true);
    assert_int_equal(kill(S.agg.pid, SIGHUP), 0);
    sec_wait_log(S.err, "KC-SEC-005 registry reloaded: generation=2 keys=2 revoked=1", 1, S_ACK_MS);

    /* the connection made before the revocation: its next batch is refused */
    a = s_raw_call(&r, s_batch("office-74", "74-R", 2, 2, "74"));
    assert_int_equal(a->status, KCPIPE__V1__STATUS__STATUS_BAD_PRODUCER);
    assert_non_null(strstr(a->error, "revoked"));
    kcpipe__v1__ack__free_unpacked(a, NULL);
    s_raw_close(&r);
    sec_wait_log(S.err, "KC-SEC-004 batch refused", 1, S_ACK_MS);

    /* a new connection with the revoked key: refused at the handshake */
    assert_int_equal(s_raw_open(&r, "office74"), ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
    s_raw_close(&r);
    char csv[KC_PATH_MAX], out[KC_PATH_MAX];
    const char *ids[] = {"74-R-9"}, *provs[] = {"74"};
    s_csv(csv, "revoked.csv", ids, provs, 1);
    kc_summary_t s;
    assert_int_equal(s_send("office74", "office-74", csv, "3", &s, out), 75);
    assert_int_equal(s.unacknowledged, 1);
    assert_true(sec_count(S.err, "refused: revoked key") >= 1);
    uint64_t acc = 0, hwm = 0;
    assert_int_equal(kc_harness_producer_counts(S.agg.store, "office-74", &acc, &hwm), 0);
    assert_int_equal(acc, 1); /* only the batch before the revocation */

    /* a malformed registry is not taken: generation 2 stays in force */
    sec_write_file(S.registry, "producer broken\n");
    assert_int_equal(kill(S.agg.pid, SIGHUP), 0);
    sec_wait_log(S.err, "KC-SEC-006 registry reload failed", 1, S_ACK_MS);
    const char *ids2[] = {"79-R-1"}, *provs2[] = {"79"};
    s_csv(csv, "after.csv", ids2, provs2, 1);
    assert_int_equal(s_send("office79", "office-79", csv, "30", &s, out), 0);
    assert_int_equal(s.accepted, 1);
    assert_int_equal(sec_count(S.err, "generation=3"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registered_key_accepted),
        cmocka_unit_test(test_unknown_key_refused),
        cmocka_unit_test(test_plaintext_refused),
        cmocka_unit_test(test_province_spoofing),
        cmocka_unit_test(test_producer_id_spoofing),
        cmocka_unit_test(test_oversized_frame),
        cmocka_unit_test(test_junk_connections),
        cmocka_unit_test(test_revocation_after_sighup),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
