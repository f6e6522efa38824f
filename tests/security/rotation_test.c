/* rotation_test.c - CURVE key rotation as docs/SECURITY.md describes it, with
 * the real kc-aggregator on 127.0.0.1.
 *
 * Each scenario starts its own aggregator on a fresh store (one fixed port for
 * the whole run, so that a restart is reached where the producers look for it)
 * and stops it with SIGTERM at its end, checking its exit 0 and its counters
 * line (resent=0 gaps=0 duplicates=0: no event was sent twice, none skipped).
 *
 *   office key     the procedure "Rotate an office key" step by step: the old
 *                  key registered; a libkcingest producer (this process; its
 *                  spool is the only copy of its events) sends with the old
 *                  certificate and leaves events spooled, never sent; the new
 *                  key added as a second line of the same producer id + SIGHUP:
 *                  both keys are accepted at once, for that producer id; the
 *                  producer reopens its spool with the new certificate, the
 *                  spooled events go out first and its sequence continues; the
 *                  old line revoked + SIGHUP while the producer (back on the
 *                  old certificate) and a raw connection are connected with
 *                  the old key: their Batches get STATUS_BAD_PRODUCER
 *                  (KC-SEC-004), a new connection is refused at the handshake
 *                  (KC-SEC-001), the producer's events stay spooled; the new
 *                  key keeps working and delivers them. The store then holds
 *                  the producer's seqs 1..N exactly once, in order, in one
 *                  epoch, each with the event_id, month and amount it was
 *                  given, and each month's cell holds exactly the events and
 *                  sums added for that month; every seq was reported to the
 *                  library's result callback once, accepted.
 *   registry       what a reload promises: a malformed registry (a key listed
 *                  twice, an unknown word), a missing file: KC-SEC-006 and the
 *                  registry in force stays (so a revocation in a refused file is
 *                  NOT in force); a line deleted (not marked revoked) + SIGHUP:
 *                  refused like a revoked key, for new and open connections; a
 *                  key re-assigned to another producer id: its open connection
 *                  can no longer deliver, and a new one is bound to the new id.
 *   aggregator key the procedure "Rotate the aggregator key": kc-send with the
 *                  old server key delivers; the aggregator restarts on the same
 *                  store with a new --curve-secret; kc-send still given the old
 *                  server key never gets an Ack (exit 75, rows spooled) and no
 *                  handshake completes; kc-send given the new server key resumes
 *                  from its spool: every event once, seqs continuing.
 *
 * Synchronisation: ready files, the aggregator's log lines (KC-SEC-005 with
 * the generation after each reload, KC-SEC-001/-006/-011), libzmq monitor
 * events of the raw CURVE connections, Acks, the library's results and
 * process exits, each waited for within a bound; never a sleep.
 */
#include "agg_test_util.h"
#include "harness.h"
#include "kc_err.h"
#include "kc_store.h"
#include "kcingest.h"
#include "sec_util.h"

#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

#include <cmocka.h>

#define S_ACK_MS    20000 /* bound on an Ack, a handshake outcome, a log line */
#define S_FLUSH_MS  30000 /* bound on a producer's flush that should succeed */
#define S_SEND_MS   60000 /* bound on a kc-send run */
#define S_REQ_MS    300   /* the producers' request timeout (Lazy Pirate) */
#define S_MAX_SEQ   256   /* sequence numbers tracked per scenario */
#define S_PRODUCER  "office-79"
#define S_PRODUCER2 "office-74"
#define S_SCENARIOS 3
#define S_RAW_MAX   4 /* raw connections open at once */

static struct {
    kc_agg_t agg;
    char listen[64];
    char err[KC_PATH_MAX]; /* the running aggregator's log */
    char registry[KC_PATH_MAX];
    char server_pub[41], server2_pub[41]; /* the aggregator's key, and the one after rotation */
    char kold[41], knew[41];              /* office-79's old and new keys */
    unsigned gen;                         /* registry generation the aggregator is at */
    void *zctx;
    int stores; /* stores used so far (names) */
    int passed; /* scenarios that ran to their end: the temp dir is kept unless all did */
    void *raw[S_RAW_MAX][2]; /* raw connections open (socket, monitor): a failed scenario's
                              * are closed by its teardown, or zmq_ctx_term would block */
    kc_producer_t *prod;     /* the producer open, likewise */
    /* expectations of the current scenario: what the producer was told per seq */
    char ids[S_MAX_SEQ][32];
    int64_t amount[S_MAX_SEQ];
    int month[S_MAX_SEQ];
    uint64_t nseq; /* highest seq assigned */
    int results[S_MAX_SEQ];
    int results_bad; /* results that were not "accepted" */
} S;

/* ---- the aggregator ------------------------------------------------------ */

static void s_agg_start(const char *secret_name, int keys, int revoked)
{
    char store[KC_PATH_MAX], secret[KC_PATH_MAX];
    kc_harness_path(store, "store-%d", ++S.stores);
    kc_harness_path(secret, "%s_secret", secret_name);
    const char *extra[] = {"--curve-secret",    secret, "--registry", S.registry,
                           "--group-window-ms", "2",    NULL};
    kc_harness_agg_start(&S.agg, store, S.listen, extra);
    kc_harness_path(S.err, "agg-%d.err", S.agg.incarnation);
    char line[128];
    snprintf(line, sizeof line, "KC-SEC-005 registry loaded: generation=1 keys=%d revoked=%d", keys,
             revoked);
    sec_wait_log(S.err, line, 1, S_ACK_MS);
    S.gen = 1;
}

/* Restart on the same store with another secret certificate (same port). */
static void s_agg_restart(const char *secret_name, int keys)
{
    char store[KC_PATH_MAX], secret[KC_PATH_MAX];
    snprintf(store, sizeof store, "%s", S.agg.store);
    kc_harness_path(secret, "%s_secret", secret_name);
    const char *extra[] = {"--curve-secret",    secret, "--registry", S.registry,
                           "--group-window-ms", "2",    NULL};
    kc_harness_agg_start(&S.agg, store, S.listen, extra);
    kc_harness_path(S.err, "agg-%d.err", S.agg.incarnation);
    char line[128];
    snprintf(line, sizeof line, "KC-SEC-005 registry loaded: generation=1 keys=%d revoked=0", keys);
    sec_wait_log(S.err, line, 1, S_ACK_MS);
    S.gen = 1;
}

/* The value of `name=` in the aggregator's "KC-AGG-002 stopped" counters line. */
static long long s_stop_counter(const char *name)
{
    FILE *f = fopen(S.err, "r");
    assert_non_null(f);
    char line[4096], pat[64];
    snprintf(pat, sizeof pat, " %s=", name);
    long long v = -1;
    while (fgets(line, sizeof line, f)) {
        const char *p = strstr(line, "KC-AGG-002 stopped: batches=");
        const char *q = p ? strstr(p, pat) : NULL;
        if (q)
            v = atoll(q + strlen(pat));
    }
    fclose(f);
    return v;
}

/* SIGTERM: exit 0, and no event was resent, skipped or a business duplicate. */
static void s_agg_stop(void)
{
    kc_harness_agg_term(&S.agg);
    assert_int_equal(s_stop_counter("resent"), 0);
    assert_int_equal(s_stop_counter("gaps"), 0);
    assert_int_equal(s_stop_counter("duplicates"), 0);
}

/* After each scenario; a failed one left connections, a producer and its aggregator. */
static int s_test_teardown(void **state)
{
    (void)state;
    for (int i = 0; i < S_RAW_MAX; i++)
        if (S.raw[i][0]) {
            zmq_socket_monitor(S.raw[i][0], NULL, 0);
            if (S.raw[i][1])
                zmq_close(S.raw[i][1]);
            zmq_close(S.raw[i][0]);
            S.raw[i][0] = S.raw[i][1] = NULL;
        }
    kc_producer_close(&S.prod);
    if (S.agg.pid > 0) /* stop it by its pid */
        kc_harness_agg_kill(&S.agg);
    return 0;
}

/* Write the registry (lines joined), SIGHUP, and wait until the reload is
 * logged with these counts (generation = the next one). */
static void s_reload(int keys, int revoked, const char *text)
{
    sec_write_file(S.registry, text);
    assert_int_equal(kill(S.agg.pid, SIGHUP), 0);
    char line[128];
    snprintf(line, sizeof line, "KC-SEC-005 registry reloaded: generation=%u keys=%d revoked=%d",
             ++S.gen, keys, revoked);
    sec_wait_log(S.err, line, 1, S_ACK_MS);
}

/* Write a registry the aggregator must refuse, SIGHUP, wait for the n-th
 * KC-SEC-006 line, and check that no new generation was logged. */
static void s_reload_refused(const char *text, int nth)
{
    if (text)
        sec_write_file(S.registry, text);
    assert_int_equal(kill(S.agg.pid, SIGHUP), 0);
    sec_wait_log(S.err, "KC-SEC-006 registry reload failed", nth, S_ACK_MS);
    char gen[48];
    snprintf(gen, sizeof gen, "generation %u stays in force", S.gen);
    assert_int_equal(sec_count(S.err, gen), nth);
    snprintf(gen, sizeof gen, "reloaded: generation=%u", S.gen + 1);
    assert_int_equal(sec_count(S.err, gen), 0);
}

/* ---- raw CURVE connections (a monitor tells the handshake's outcome) ------ */

typedef struct {
    void *sock, *mon;
} s_raw_t;

static int s_raw_event(s_raw_t *r, int timeout_ms)
{
    zmq_setsockopt(r->mon, ZMQ_RCVTIMEO, &timeout_ms, sizeof timeout_ms);
    for (;;) {
        uint8_t ev[6];
        char addr[256];
        if (zmq_recv(r->mon, ev, sizeof ev, 0) < 6)
            return -1;
        assert_true(zmq_recv(r->mon, addr, sizeof addr, 0) >= 0);
        uint16_t id = (uint16_t)(ev[0] | ev[1] << 8);
        if (id == ZMQ_EVENT_HANDSHAKE_SUCCEEDED || id == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH ||
            id == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ||
            id == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL || id == ZMQ_EVENT_DISCONNECTED)
            return id;
    }
}

/* Connect with the key pair of certificate `cert`, trusting server key `server`;
 * returns the first handshake outcome (monitor event id, -1: none in time). */
static int s_raw_open(s_raw_t *r, const char *cert, const char *server)
{
    static int n;
    char path[KC_PATH_MAX], mep[64];
    kc_cert_t c;
    kc_harness_path(path, "%s_secret", cert);
    assert_int_equal(kc_cert_load(path, true, &c), 0);
    int slot = 0;
    while (slot < S_RAW_MAX && S.raw[slot][0])
        slot++;
    assert_true(slot < S_RAW_MAX);
    r->sock = S.raw[slot][0] = zmq_socket(S.zctx, ZMQ_DEALER);
    assert_non_null(r->sock);
    int linger = 0;
    zmq_setsockopt(r->sock, ZMQ_LINGER, &linger, sizeof linger);
    assert_int_equal(zmq_setsockopt(r->sock, ZMQ_CURVE_SERVERKEY, server, 40), 0);
    assert_int_equal(zmq_setsockopt(r->sock, ZMQ_CURVE_PUBLICKEY, c.public_key, 40), 0);
    assert_int_equal(zmq_setsockopt(r->sock, ZMQ_CURVE_SECRETKEY, c.secret_key, 40), 0);
    snprintf(mep, sizeof mep, "inproc://rot-mon-%d", n++);
    assert_int_equal(zmq_socket_monitor(r->sock, mep, ZMQ_EVENT_ALL), 0);
    r->mon = S.raw[slot][1] = zmq_socket(S.zctx, ZMQ_PAIR);
    zmq_setsockopt(r->mon, ZMQ_LINGER, &linger, sizeof linger);
    assert_int_equal(zmq_connect(r->mon, mep), 0);
    assert_int_equal(zmq_connect(r->sock, S.agg.endpoint), 0);
    return s_raw_event(r, S_ACK_MS);
}

static void s_raw_close(s_raw_t *r)
{
    for (int i = 0; i < S_RAW_MAX; i++)
        if (S.raw[i][0] == r->sock)
            S.raw[i][0] = S.raw[i][1] = NULL;
    zmq_socket_monitor(r->sock, NULL, 0);
    zmq_close(r->mon);
    zmq_close(r->sock);
}

/* Send a Batch of one event (seq, province 79, 2022-12) of `producer` in
 * `epoch` on r and return its Ack (bounded). */
static kc_pb_ack_t *s_raw_call(s_raw_t *r, const char *producer, uint64_t epoch, uint64_t seq,
                               const char *id)
{
    t_event_t e;
    t_event(&e, producer, seq, id, 7000);
    e.ev.year = 2022;
    e.ev.month = 12;
    t_buf_t ev = t_event_pack(&e);
    ProtobufCBinaryData bd = {.len = ev.len, .data = ev.data};
    kc_pb_batch_t b = KCPIPE__V1__BATCH__INIT;
    b.producer_id = (char *)producer;
    b.has_producer_epoch = 1;
    b.producer_epoch = epoch;
    b.n_events = 1;
    b.events = &bd;
    size_t len = kcpipe__v1__batch__get_packed_size(&b);
    uint8_t *buf = malloc(len);
    assert_non_null(buf);
    kcpipe__v1__batch__pack(&b, buf);
    t_buf_free(&ev);
    assert_int_equal(zmq_send(r->sock, buf, len, 0), (int)len);
    free(buf);
    int timeout = S_ACK_MS;
    zmq_setsockopt(r->sock, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, r->sock, 0) < 0)
        fail_msg("no Ack within %d ms", S_ACK_MS);
    kc_pb_ack_t *a = kcpipe__v1__ack__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
    zmq_msg_close(&m);
    assert_non_null(a);
    return a;
}

/* Status of the Ack of one raw Batch; *error (cap bytes) gets its error text. */
static int s_raw_status(s_raw_t *r, const char *producer, uint64_t epoch, uint64_t seq,
                        const char *id, char *error, size_t cap)
{
    kc_pb_ack_t *a = s_raw_call(r, producer, epoch, seq, id);
    int st = a->has_status ? (int)a->status : KCPIPE__V1__STATUS__STATUS_OK;
    snprintf(error, cap, "%s", a->error ? a->error : "");
    kcpipe__v1__ack__free_unpacked(a, NULL);
    return st;
}

/* ---- the producer library ------------------------------------------------ */

static void s_on_result(const kc_result_t *r, void *ctx)
{
    (void)ctx;
    if (r->seq == 0 || r->seq >= S_MAX_SEQ) {
        S.results_bad++;
        return;
    }
    S.results[r->seq]++;
    if (r->reason != KCI_ACCEPTED || strcmp(r->event_id, S.ids[r->seq]) != 0)
        S.results_bad++;
}

static void s_log_sink(int level, const char *line, void *ctx)
{
    (void)level;
    (void)ctx;
    char path[KC_PATH_MAX];
    kc_harness_path(path, "producer.log");
    FILE *f = fopen(path, "a");
    if (f) {
        fputs(line, f);
        fputc('\n', f);
        fclose(f);
    }
}

/* Open office-79's producer on spool `spool` with certificate `cert`, trusting
 * server key `server`. */
static kc_producer_t *s_prod_open(const char *spool, const char *cert, const char *server)
{
    char sp[KC_PATH_MAX], cp[KC_PATH_MAX];
    kc_harness_path(sp, "%s", spool);
    kc_harness_path(cp, "%s_secret", cert);
    kc_producer_opts_t o = {.endpoint = S.agg.endpoint,
                            .producer_id = S_PRODUCER,
                            .spool_dir = sp,
                            .request_timeout_ms = S_REQ_MS,
                            .server_public_key = server,
                            .client_cert_file = cp};
    assert_null(S.prod);
    assert_int_equal(kc_producer_open(&S.prod, &o), 0);
    kc_producer_on_result(S.prod, s_on_result, NULL);
    return S.prod;
}

static void s_prod_close(kc_producer_t **p)
{
    assert_ptr_equal(*p, S.prod);
    kc_producer_close(p);
    S.prod = NULL;
}

/* Add n events of month `month` (2022, province 79, machinery); the seqs the
 * library assigns must be S.nseq+1.. in order. */
static void s_prod_add(kc_producer_t *p, const char *tag, int month, int n)
{
    for (int i = 0; i < n; i++) {
        uint64_t seq = S.nseq + 1;
        assert_true(seq < S_MAX_SEQ);
        snprintf(S.ids[seq], sizeof S.ids[seq], "%s-%d", tag, i + 1);
        S.amount[seq] = 1000000 + (int64_t)seq * 1013;
        S.month[seq] = month;
        kc_event_t ev = {.event_id = S.ids[seq],
                         .province = "79",
                         .year = 2022,
                         .month = month,
                         .activity = "machinery",
                         .present = 1u << KCI_AMOUNT_VND | 1u << KCI_FACILITIES};
        ev.metrics[KCI_AMOUNT_VND] = S.amount[seq];
        ev.metrics[KCI_FACILITIES] = 1;
        uint64_t got = 0;
        assert_int_equal(kc_producer_add(p, &ev, S.ids[seq], &got), 0);
        assert_int_equal(got, seq); /* the sequence continues */
        S.nseq = seq;
    }
}

/* Poll p until the aggregator's log has `count` lines containing needle (bounded). */
static void s_poll_until(kc_producer_t *p, const char *needle, int count)
{
    int64_t deadline = kc_harness_now_ms() + S_ACK_MS;
    while (sec_count(S.err, needle) < count) {
        if (kc_harness_now_ms() >= deadline)
            fail_msg("no line '%s' (x%d) in %s within %d ms", needle, count, S.err, S_ACK_MS);
        int rc = kc_producer_poll(p, 20);
        assert_true(rc == 0 || rc == KCI_EINTR);
    }
}

/* Every seq 1..S.nseq reported exactly once, accepted, with its event_id. */
static void s_check_results(void)
{
    assert_int_equal(S.results_bad, 0);
    for (uint64_t s = 1; s <= S.nseq; s++)
        if (S.results[s] != 1)
            fail_msg("seq %" PRIu64 " reported %d times", s, S.results[s]);
}

/* ---- the store ----------------------------------------------------------- */

typedef struct {
    uint64_t n, epoch, other; /* office-79's entries, their epoch; entries of others */
    const char *fail;
    char why[256];
} s_scan_t;

static int s_on_entry(const kc_log_entry_t *e, void *ctx)
{
    s_scan_t *sc = ctx;
    if (e->producer_len != strlen(S_PRODUCER) ||
        memcmp(e->producer, S_PRODUCER, e->producer_len) != 0) {
        sc->other++;
        return 0;
    }
    uint64_t want = ++sc->n;
    if (want == 1)
        sc->epoch = e->epoch;
    kc_pb_event_t *ev = kcpipe__v1__event__unpack(NULL, e->event_len, e->event);
    int64_t amount = 0;
    if (!ev || !ev->metrics || !kc_pb_metric_get(ev->metrics, KC_M_AMOUNT_VND, &amount))
        amount = -1;
    if (e->seq != want || want > S.nseq)
        snprintf(sc->why, sizeof sc->why,
                 "log entry %" PRIu64 ": seq %" PRIu64 ", expected %" PRIu64, e->offset, e->seq,
                 want);
    else if (e->epoch != sc->epoch)
        snprintf(sc->why, sizeof sc->why, "seq %" PRIu64 " in epoch %" PRIu64 ", seq 1 in %" PRIu64,
                 e->seq, e->epoch, sc->epoch);
    else if (!ev || strcmp(ev->event_id, S.ids[want]) != 0 || amount != S.amount[want] ||
             ev->month != (uint32_t)S.month[want])
        snprintf(sc->why, sizeof sc->why, "seq %" PRIu64 " is event %s, expected %s", e->seq,
                 ev ? ev->event_id : "(undecodable)", S.ids[want]);
    if (ev)
        kcpipe__v1__event__free_unpacked(ev, NULL);
    return sc->why[0] ? 1 : 0;
}

typedef struct {
    uint64_t events[13];
    int64_t amount[13], facilities[13];
    int activity; /* the one activity id seen (-1 none yet) */
    char why[128];
} s_cells_t;

static int s_on_cell(const kc_cell_key_t *k, const kc_cell_t *c, void *ctx)
{
    s_cells_t *cs = ctx;
    if (k->year != 2022 || k->month < 1 || k->month > 12 || k->province != 79 || k->kind != 1 ||
        k->fund != 3 || (cs->activity >= 0 && k->activity != cs->activity) ||
        cs->events[k->month] != 0) {
        snprintf(cs->why, sizeof cs->why, "unexpected cell %u-%u province %u activity %u kind %u",
                 k->year, k->month, k->province, k->activity, k->kind);
        return 1;
    }
    cs->activity = k->activity;
    cs->events[k->month] = c->events;
    cs->amount[k->month] = c->m[KC_M_AMOUNT_VND];
    cs->facilities[k->month] = c->m[KC_M_FACILITIES];
    return 0;
}

/* The store holds office-79's seqs 1..S.nseq once each, in order, in one epoch,
 * each the event the producer was given for it, and nothing else; each month's
 * cell holds exactly that month's events and sums. */
static void s_check_store(void)
{
    kc_store_t *s = NULL;
    kc_store_opts_t o = {.read_only = true};
    assert_int_equal(kc_store_open(&s, S.agg.store, &o), 0);
    kc_txn_t *t = NULL;
    assert_int_equal(kc_store_read_begin(s, &t), 0);
    s_scan_t sc = {0};
    int rc = kc_txn_log_scan(t, 0, s_on_entry, &sc);
    if (rc != 0)
        fail_msg("log: %s", sc.why[0] ? sc.why : kc_strerror(rc));
    assert_int_equal(sc.n, S.nseq);
    assert_int_equal(sc.other, 0);
    kc_producer_state_t st;
    assert_int_equal(kc_txn_producer_get(t, S_PRODUCER, &st), 0);
    assert_int_equal(st.hwm, S.nseq);
    assert_int_equal(st.accepted, S.nseq);
    assert_int_equal(st.duplicates, 0);
    assert_int_equal(st.epoch, sc.epoch);
    s_cells_t cs = {.activity = -1};
    kc_cell_key_t lo = kc_cell_key_min(), hi = kc_cell_key_max();
    rc = kc_txn_totals_scan(t, &lo, &hi, s_on_cell, &cs);
    if (rc != 0)
        fail_msg("totals: %s", cs.why[0] ? cs.why : kc_strerror(rc));
    kc_txn_end(&t);
    kc_store_close(&s);
    s_cells_t want = {0};
    for (uint64_t q = 1; q <= S.nseq; q++) {
        want.events[S.month[q]]++;
        want.amount[S.month[q]] += S.amount[q];
        want.facilities[S.month[q]]++;
    }
    for (int m = 1; m <= 12; m++) {
        if (cs.events[m] != want.events[m] || cs.amount[m] != want.amount[m] ||
            cs.facilities[m] != want.facilities[m])
            fail_msg("cell 2022-%02d: %" PRIu64 " events, amount %" PRId64 ", facilities %" PRId64
                     "; expected %" PRIu64 ", %" PRId64 ", %" PRId64,
                     m, cs.events[m], cs.amount[m], cs.facilities[m], want.events[m],
                     want.amount[m], want.facilities[m]);
    }
}

/* office-79's epoch at the aggregator (its spool's, once it delivered). */
static uint64_t s_epoch(void)
{
    kc_store_t *s = NULL;
    kc_store_opts_t o = {.read_only = true};
    assert_int_equal(kc_store_open(&s, S.agg.store, &o), 0);
    kc_txn_t *t = NULL;
    assert_int_equal(kc_store_read_begin(s, &t), 0);
    kc_producer_state_t st;
    assert_int_equal(kc_txn_producer_get(t, S_PRODUCER, &st), 0);
    kc_txn_end(&t);
    kc_store_close(&s);
    return st.epoch;
}

static void s_reset_expect(void)
{
    memset(S.ids, 0, sizeof S.ids);
    memset(S.results, 0, sizeof S.results);
    S.nseq = 0;
    S.results_bad = 0;
}

/* ---- setup --------------------------------------------------------------- */

static int s_setup(void **state)
{
    (void)state;
    kc_harness_init("rotation");
    sec_keygen("server", "kc-aggregator", S.server_pub);
    sec_keygen("server2", "kc-aggregator", S.server2_pub);
    sec_keygen("office79-old", "office-79", S.kold);
    sec_keygen("office79-new", "office-79", S.knew);
    kc_harness_path(S.registry, "registry");
    snprintf(S.listen, sizeof S.listen, "tcp://127.0.0.1:%d", kc_harness_free_port());
    kc_ingest_set_log("rotation-producer", KCI_LOG_INFO, s_log_sink, NULL);
    S.zctx = zmq_ctx_new();
    return 0;
}

static int s_teardown(void **state)
{
    (void)state;
    zmq_ctx_term(S.zctx);
    if (S.passed == S_SCENARIOS)
        kc_harness_pass();
    return 0;
}

/* ---- scenarios ----------------------------------------------------------- */

/* "Rotate an office key. Issue a new key, add it as a second line for the same
 * producer id, SIGHUP, switch the office to the new certificate, then revoke
 * the old line and SIGHUP again. The spool and its sequence numbers do not
 * depend on the key." */
static void test_office_key_rotation(void **state)
{
    (void)state;
    char text[1024], err[256];
    s_reset_expect();
    snprintf(text, sizeof text, "producer office-79 key \"%s\" provinces 79\n", S.kold);
    sec_write_file(S.registry, text);
    s_agg_start("server", 1, 0);

    /* the office on its old certificate: 20 events delivered, 15 more spooled, never sent */
    kc_producer_t *p = s_prod_open("spool-a", "office79-old", S.server_pub);
    s_prod_add(p, "old", 3, 20);
    assert_int_equal(kc_producer_flush(p, S_FLUSH_MS), 0);
    s_prod_add(p, "switch", 4, 15);
    assert_int_equal(kc_producer_sync(p), 0);
    assert_int_equal(kc_producer_pending(p), 15);
    s_prod_close(&p);
    uint64_t epoch = s_epoch();

    /* the new key as a second line of the same producer id: both accepted at once */
    snprintf(text, sizeof text,
             "producer office-79 key \"%s\" provinces 79\n"
             "producer office-79 key \"%s\" provinces 79\n",
             S.kold, S.knew);
    s_reload(2, 0, text);
    s_raw_t r_old, r_new;
    assert_int_equal(s_raw_open(&r_old, "office79-old", S.server_pub),
                     ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
    assert_int_equal(s_raw_open(&r_new, "office79-new", S.server_pub),
                     ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
    char line[128];
    snprintf(line, sizeof line, "producer=office-79 key=%s", S.kold);
    sec_wait_log(S.err, line, 2, S_ACK_MS); /* the producer's connection, then r_old */
    snprintf(line, sizeof line, "producer=office-79 key=%s", S.knew);
    sec_wait_log(S.err, line, 1, S_ACK_MS);
    s_raw_close(&r_new);

    /* the office switches: same spool, the 15 spooled events first, then new ones */
    p = s_prod_open("spool-a", "office79-new", S.server_pub);
    assert_int_equal(kc_producer_pending(p), 15);
    s_prod_add(p, "new", 5, 25);
    assert_int_equal(kc_producer_flush(p, S_FLUSH_MS), 0);
    assert_int_equal(kc_producer_pending(p), 0);
    s_prod_close(&p);
    assert_int_equal(s_epoch(), epoch);
    sec_wait_log(S.err, line, 2, S_ACK_MS); /* the producer's handshake with the new key */

    /* the old key still in use, connected when the revocation comes (the holder of
     * a stolen key, or an office that went back): one event delivered */
    p = s_prod_open("spool-a", "office79-old", S.server_pub);
    s_prod_add(p, "stolen", 6, 1);
    assert_int_equal(kc_producer_flush(p, S_FLUSH_MS), 0);

    /* the old line revoked, SIGHUP */
    snprintf(text, sizeof text,
             "producer office-79 key \"%s\" provinces 79 revoked\n"
             "producer office-79 key \"%s\" provinces 79\n",
             S.kold, S.knew);
    s_reload(2, 1, text);
    /* connections opened with the old key before: refused whole, nothing processed */
    assert_int_equal(
        s_raw_status(&r_old, S_PRODUCER, epoch, S.nseq + 1, "raw-old", err, sizeof err),
        KCPIPE__V1__STATUS__STATUS_BAD_PRODUCER);
    assert_non_null(strstr(err, "revoked"));
    s_raw_close(&r_old);
    sec_wait_log(S.err, "KC-SEC-004 batch refused", 1, S_ACK_MS);
    s_prod_add(p, "late", 6, 5);
    s_poll_until(p, "KC-SEC-004 batch refused", 2);
    assert_int_equal(kc_producer_pending(p), 5); /* "Events ... in flight stay in its spool" */
    s_prod_close(&p);
    /* a new connection with the old key: refused at the handshake, and named */
    assert_int_equal(s_raw_open(&r_old, "office79-old", S.server_pub),
                     ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
    s_raw_close(&r_old);
    snprintf(line, sizeof line, "refused: revoked key (mechanism=CURVE domain=kcpipe key=%s)",
             S.kold);
    sec_wait_log(S.err, line, 1, S_ACK_MS);
    int refused = sec_count(S.err, line);
    p = s_prod_open("spool-a", "office79-old", S.server_pub);
    assert_int_equal(kc_producer_pending(p), 5);
    s_poll_until(p, line, refused + 1);
    assert_int_equal(kc_producer_pending(p), 5);
    s_prod_close(&p);
    uint64_t acc = 0, hwm = 0;
    assert_int_equal(kc_harness_producer_counts(S.agg.store, S_PRODUCER, &acc, &hwm), 0);
    assert_int_equal(hwm, S.nseq - 5);
    assert_int_equal(acc, S.nseq - 5);

    /* ... until it switches: the new key keeps working after the revocation */
    p = s_prod_open("spool-a", "office79-new", S.server_pub);
    assert_int_equal(kc_producer_pending(p), 5);
    s_prod_add(p, "after", 7, 10);
    assert_int_equal(kc_producer_flush(p, S_FLUSH_MS), 0);
    s_prod_close(&p);

    s_check_results();
    s_check_store();
    s_agg_stop();
    S.passed++;
}

/* "A malformed line ... at a reload it is refused and the registry in force
 * stays (KC-SEC-006)"; "Mark the line revoked (or delete it)"; a key is bound
 * to the producer id of its line. */
static void test_registry_reloads(void **state)
{
    (void)state;
    char text[1024], err[256];
    s_reset_expect();
    snprintf(text, sizeof text,
             "producer office-79 key \"%s\" provinces 79\n"
             "producer office-79 key \"%s\" provinces 79\n",
             S.kold, S.knew);
    sec_write_file(S.registry, text);
    s_agg_start("server", 2, 0);
    /* seq 1 delivered with the old key: the epoch is the raw connections' */
    s_raw_t r;
    assert_int_equal(s_raw_open(&r, "office79-old", S.server_pub), ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
    assert_int_equal(s_raw_status(&r, S_PRODUCER, 1, 1, "reg-1", err, sizeof err),
                     KCPIPE__V1__STATUS__STATUS_OK);

    /* refused reloads, each one revoking the old key in a file that cannot be taken */
    snprintf(text, sizeof text,
             "producer office-79 key \"%s\" provinces 79 revoked\n"
             "producer office-79 key \"%s\" provinces 79\n"
             "producer office-79 key \"%s\" provinces 79\n",
             S.kold, S.knew, S.knew);
    s_reload_refused(text, 1); /* the new key listed twice */
    snprintf(text, sizeof text,
             "producer office-79 key \"%s\" provinces 79 revoked\n"
             "producer office-79 key \"%s\" provinces 79 revokd\n",
             S.kold, S.knew);
    s_reload_refused(text, 2); /* an unknown word */
    assert_int_equal(unlink(S.registry), 0);
    s_reload_refused(NULL, 3); /* no file */
    assert_true(sec_count(S.err, "this key is already registered on line 2") == 1);
    /* generation 1 in force: the old key still works, on the open and on a new connection */
    assert_int_equal(s_raw_status(&r, S_PRODUCER, 1, 2, "reg-2", err, sizeof err),
                     KCPIPE__V1__STATUS__STATUS_OK);
    s_raw_t r2;
    assert_int_equal(s_raw_open(&r2, "office79-old", S.server_pub), ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
    s_raw_close(&r2);

    /* the old line deleted (not marked revoked): refused like a revoked key */
    snprintf(text, sizeof text, "producer office-79 key \"%s\" provinces 79\n", S.knew);
    s_reload(1, 0, text);
    assert_int_equal(s_raw_status(&r, S_PRODUCER, 1, 3, "reg-3", err, sizeof err),
                     KCPIPE__V1__STATUS__STATUS_BAD_PRODUCER);
    assert_non_null(strstr(err, "revoked"));
    s_raw_close(&r);
    assert_int_equal(s_raw_open(&r, "office79-old", S.server_pub), ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
    s_raw_close(&r);
    char line[160];
    snprintf(line, sizeof line, "refused: unknown key (mechanism=CURVE domain=kcpipe key=%s)",
             S.kold);
    sec_wait_log(S.err, line, 1, S_ACK_MS);

    /* the new key re-assigned to office-74 (provinces 79 kept): the connection it
     * opened as office-79 can no longer deliver as office-79 ... */
    assert_int_equal(s_raw_open(&r, "office79-new", S.server_pub), ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
    assert_int_equal(s_raw_status(&r, S_PRODUCER, 1, 3, "reg-3", err, sizeof err),
                     KCPIPE__V1__STATUS__STATUS_OK);
    snprintf(text, sizeof text, "producer office-74 key \"%s\" provinces 74,79\n", S.knew);
    s_reload(1, 0, text);
    assert_int_equal(s_raw_status(&r, S_PRODUCER, 1, 4, "reg-4", err, sizeof err),
                     KCPIPE__V1__STATUS__STATUS_BAD_PRODUCER);
    /* ... nor as office-74, the id it did not authenticate as */
    assert_int_equal(s_raw_status(&r, S_PRODUCER2, 1, 1, "reg-74-1", err, sizeof err),
                     KCPIPE__V1__STATUS__STATUS_BAD_PRODUCER);
    s_raw_close(&r);
    /* a new connection with it is office-74's: office-79's batches refused, office-74's taken */
    assert_int_equal(s_raw_open(&r, "office79-new", S.server_pub), ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
    assert_int_equal(s_raw_status(&r, S_PRODUCER, 1, 4, "reg-4", err, sizeof err),
                     KCPIPE__V1__STATUS__STATUS_BAD_PRODUCER);
    assert_non_null(strstr(err, "office-74"));
    assert_int_equal(s_raw_status(&r, S_PRODUCER2, 1, 1, "reg-74-1", err, sizeof err),
                     KCPIPE__V1__STATUS__STATUS_OK);
    s_raw_close(&r);

    uint64_t acc = 0, hwm = 0;
    assert_int_equal(kc_harness_producer_counts(S.agg.store, S_PRODUCER, &acc, &hwm), 0);
    assert_int_equal(acc, 3);
    assert_int_equal(hwm, 3);
    assert_int_equal(kc_harness_producer_counts(S.agg.store, S_PRODUCER2, &acc, &hwm), 0);
    assert_int_equal(acc, 1);
    assert_int_equal(hwm, 1);
    s_agg_stop();
    S.passed++;
}

/* "Rotate the aggregator key. ... issue a new aggregator key; distribute its
 * public certificate to every office; restart the aggregator with the new
 * --curve-secret (state is in the store: it resumes exactly); offices switch
 * --server-key as they restart (until they do, their handshakes fail and
 * their events wait in their spools)." kc-send, as the document runs it. */
static int s_send(const char *server_file, const char *csv, const char *timeout_s, int n,
                  kc_summary_t *sum)
{
    char spool[KC_PATH_MAX], cert[KC_PATH_MAX], server[KC_PATH_MAX], out[KC_PATH_MAX];
    kc_harness_path(spool, "spool-b");
    kc_harness_path(cert, "office79-new_secret");
    kc_harness_path(server, "%s", server_file);
    kc_harness_path(out, "send-%d.out", n);
    const char *extra[] = {"--timeout", timeout_s,      "--request-timeout-ms",
                           "300",       "--server-key", server,
                           "--cert",    cert,           "--quiet",
                           NULL};
    pid_t pid = kc_harness_send_start(S.agg.endpoint, S_PRODUCER, spool, csv, out, extra);
    int st = 0;
    if (kc_harness_wait(pid, S_SEND_MS, &st) != 0) {
        kc_harness_stop(pid, SIGKILL, 5000);
        fail_msg("kc-send %s did not end", out);
    }
    assert_int_equal(kc_harness_summary(out, sum), 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* A CSV of n rows (month `month`) for the next seqs, recorded as expected. */
static void s_csv(char *path, const char *tag, int month, int n)
{
    kc_harness_path(path, "%s.csv", tag);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "event_id,province,year,month,activity,amount_vnd,facilities\n");
    for (int i = 0; i < n; i++) {
        uint64_t seq = ++S.nseq;
        assert_true(seq < S_MAX_SEQ);
        snprintf(S.ids[seq], sizeof S.ids[seq], "%s-%d", tag, i + 1);
        S.amount[seq] = 2000000 + (int64_t)seq * 997;
        S.month[seq] = month;
        fprintf(f, "%s,79,2022,%d,machinery,%" PRId64 ",1\n", S.ids[seq], month, S.amount[seq]);
    }
    assert_int_equal(fclose(f), 0);
}

static void test_aggregator_key_rotation(void **state)
{
    (void)state;
    char text[256], csv[KC_PATH_MAX];
    kc_summary_t sum;
    s_reset_expect();
    snprintf(text, sizeof text, "producer office-79 key \"%s\" provinces 79\n", S.knew);
    sec_write_file(S.registry, text);
    s_agg_start("server", 1, 0);
    s_csv(csv, "before", 3, 12);
    assert_int_equal(s_send("server", csv, "30", 1, &sum), 0);
    assert_int_equal(sum.accepted, 12);

    /* the new key (server2, issued in the setup) in force after a restart on the same store */
    s_agg_stop();
    s_agg_restart("server2", 1);

    /* an office not switched yet: its handshakes fail, its rows wait in its spool */
    s_csv(csv, "waiting", 4, 8);
    assert_int_equal(s_send("server", csv, "1", 2, &sum), 75);
    assert_int_equal(sum.rows, 8);
    assert_int_equal(sum.unacknowledged, 8);
    s_raw_t r;
    assert_int_not_equal(s_raw_open(&r, "office79-new", S.server_pub),
                         ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
    s_raw_close(&r);
    /* the handshakes fail before ZAP is asked: nothing accepted, nothing refused is logged */
    assert_int_equal(sec_count(S.err, "KC-SEC-011"), 0);
    assert_int_equal(sec_count(S.err, "KC-SEC-001"), 0);
    uint64_t acc = 0, hwm = 0;
    assert_int_equal(kc_harness_producer_counts(S.agg.store, S_PRODUCER, &acc, &hwm), 0);
    assert_int_equal(hwm, 12);

    /* switched: the 8 spooled rows first, then the new file's (the summary counts the
     * file's rows; the 8 of the earlier run are on the "resumed:" line) */
    s_csv(csv, "switched", 5, 6);
    assert_int_equal(s_send("server2", csv, "30", 3, &sum), 0);
    assert_int_equal(sum.rows, 6);
    assert_int_equal(sum.accepted, 6);
    assert_int_equal(sum.unacknowledged, 0);
    assert_true(sec_count(S.err, "KC-SEC-011") >= 1);
    assert_int_equal(s_raw_open(&r, "office79-new", S.server2_pub), ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
    s_raw_close(&r);

    s_check_store();
    s_agg_stop();
    S.passed++;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_office_key_rotation, s_test_teardown),
        cmocka_unit_test_teardown(test_registry_reloads, s_test_teardown),
        cmocka_unit_test_teardown(test_aggregator_key_rotation, s_test_teardown),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
