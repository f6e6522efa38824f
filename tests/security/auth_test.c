/* auth_test.c - security units: certificate files, the producer registry,
 * endpoint locality, the ZAP handler in-process (CURVE over loopback) and the
 * per-province authorization of kc_apply against a temporary store. */
#include "../aggregator/agg_test_util.h"
#include "kc_apply.h"
#include "kc_auth.h"
#include "kc_cert.h"
#include "kc_err.h"
#include "kc_log.h"
#include "kc_store.h"
#include "kcingest.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <zmq.h>

#include <cmocka.h>

#define S_EVENT_MS 10000 /* bound on a handshake outcome */

/* ---- certificates ------------------------------------------------------- */

/* A secret certificate as CZMQ's zcert_save_secret() writes it. */
static const char s_czmq_secret[] =
    "#   ****  Generated on 2024-05-01 10:00:00 by CZMQ  ****\n"
    "#   ZeroMQ CURVE **Secret** Certificate\n"
    "#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.\n"
    "\n"
    "metadata\n"
    "    name = \"office-79\"\n"
    "curve\n"
    "    public-key = \"rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7\"\n"
    "    secret-key = \"JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6\"\n";

static void test_cert_parse_czmq(void **state)
{
    (void)state;
    kc_cert_t c;
    assert_int_equal(kc_cert_parse(s_czmq_secret, strlen(s_czmq_secret), "t", true, &c), 0);
    assert_string_equal(c.public_key, "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7");
    assert_string_equal(c.secret_key, "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6");
    assert_string_equal(c.name, "office-79");
    char pub[41];
    assert_int_equal(zmq_curve_public(pub, c.secret_key), 0);
    assert_string_equal(pub, c.public_key); /* the ZeroMQ RFC 26 test vector */
}

static void test_cert_parse_errors(void **state)
{
    (void)state;
    kc_cert_t c;
    const char *pub_only = "curve\n    public-key = \"rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7\"\n";
    assert_int_equal(kc_cert_parse(pub_only, strlen(pub_only), "t", false, &c), 0);
    assert_string_equal(c.secret_key, "");
    assert_int_equal(kc_cert_parse(pub_only, strlen(pub_only), "t", true, &c), KC_EFORMAT);
    const char *bad[] = {
        "metadata\n",                                                           /* no key */
        "curve\n    public-key = \"tooshort\"\n",                               /* not 40 Z85 */
        "curve\n   public-key = \"x\"\n",                                       /* 3-space indent */
        "curve\n    public-key = \"rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7\n", /* quote */
        "curve\n    public-key = \"rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]y\"7\"\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(kc_cert_parse(bad[i], strlen(bad[i]), "t", false, &c), KC_EFORMAT);
    assert_false(kc_cert_z85_valid("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf\""));
    assert_true(kc_cert_z85_valid("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"));
}

static void test_cert_save_load(void **state)
{
    (void)state;
    char *dir = t_tmpdir("cert");
    assert_non_null(dir);
    char pub_path[4200], sec_path[4200];
    snprintf(pub_path, sizeof pub_path, "%s/k", dir);
    snprintf(sec_path, sizeof sec_path, "%s/k_secret", dir);
    kc_cert_t c = {.name = "office-01"}, r;
    assert_int_equal(zmq_curve_keypair(c.public_key, c.secret_key), 0);
    assert_int_equal(kc_cert_save(sec_path, &c, true, false, "test"), 0);
    assert_int_equal(kc_cert_save(pub_path, &c, false, false, "test"), 0);
    assert_int_equal(kc_cert_save(pub_path, &c, false, false, "test"), -EEXIST); /* no replace */
    assert_int_equal(kc_cert_save(pub_path, &c, false, true, "test"), 0);        /* --force */
    struct stat st;
    assert_int_equal(stat(sec_path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(kc_cert_load(sec_path, true, &r), 0);
    assert_string_equal(r.public_key, c.public_key);
    assert_string_equal(r.secret_key, c.secret_key);
    assert_string_equal(r.name, "office-01");
    assert_false(r.group_or_other_access);
    assert_int_equal(kc_cert_load(pub_path, false, &r), 0);
    assert_string_equal(r.public_key, c.public_key);
    assert_string_equal(r.secret_key, "");
    assert_int_equal(kc_cert_load(pub_path, true, &r), KC_EFORMAT);
    char missing[4300];
    snprintf(missing, sizeof missing, "%s/none", dir);
    assert_int_equal(kc_cert_load(missing, false, &r), -ENOENT);
    t_rmtree(dir);
    free(dir);
}

/* ---- the registry ------------------------------------------------------- */

static const char s_key_a[] = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
static const char s_key_b[] = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID";

static void test_registry_parse(void **state)
{
    (void)state;
    char text[1024];
    snprintf(text, sizeof text,
             "# kcpipe producers\n"
             "\n"
             "producer office-79 key \"%s\" provinces 79,74   # HCMC and Binh Duong\n"
             "  producer central key \"%s\" provinces * revoked\r\n",
             s_key_a, s_key_b);
    kc_auth_registry_t *reg = NULL;
    assert_int_equal(kc_auth_registry_parse(text, strlen(text), "reg", &reg), 0);
    size_t revoked;
    assert_int_equal(kc_auth_registry_count(reg, &revoked), 2);
    assert_int_equal(revoked, 1);
    const kc_auth_entry_t *a = kc_auth_registry_find(reg, s_key_a);
    assert_non_null(a);
    assert_string_equal(a->producer_id, "office-79");
    assert_false(a->revoked);
    assert_true(kc_auth_entry_allows(a, "79"));
    assert_true(kc_auth_entry_allows(a, "74"));
    assert_false(kc_auth_entry_allows(a, "01"));
    assert_false(kc_auth_entry_allows(a, "7"));
    assert_false(kc_auth_entry_allows(a, "794"));
    assert_false(kc_auth_entry_allows(a, NULL));
    const kc_auth_entry_t *b = kc_auth_registry_find(reg, s_key_b);
    assert_non_null(b);
    assert_true(b->revoked);
    assert_true(b->any_province);
    assert_true(kc_auth_entry_allows(b, "01"));
    assert_null(kc_auth_registry_find(reg, "0000000000000000000000000000000000000000"));
    kc_auth_registry_free(&reg);
    assert_null(reg);
    /* empty registry: valid, nobody gets in */
    assert_int_equal(kc_auth_registry_parse("", 0, "reg", &reg), 0);
    assert_int_equal(kc_auth_registry_count(reg, NULL), 0);
    kc_auth_registry_free(&reg);
}

static void test_registry_errors(void **state)
{
    (void)state;
    char bad[8][256];
    int n = 0;
    snprintf(bad[n++], 256, "producer office-79 provinces 79\n");        /* no key */
    snprintf(bad[n++], 256, "producer office-79 key \"%s\"\n", s_key_a); /* no prov */
    snprintf(bad[n++], 256, "producer office-79 key \"%s\" provinces 7\n", s_key_a);
    snprintf(bad[n++], 256, "producer office-79 key \"%s\" provinces 79,,74\n", s_key_a);
    snprintf(bad[n++], 256, "producer office-79 key \"short\" provinces 79\n");
    snprintf(bad[n++], 256,
             "producer x key \"%s\" provinces 79\nproducer y key \"%s\" provinces 01\n", s_key_a,
             s_key_a); /* the same key twice */
    snprintf(bad[n++], 256, "producer office-79 key \"%s provinces 79\n", s_key_a);
    snprintf(bad[n++], 256, "office-79 key \"%s\" provinces 79 extra\n", s_key_a);
    for (int i = 0; i < n; i++) {
        kc_auth_registry_t *reg = (kc_auth_registry_t *)1;
        assert_int_equal(kc_auth_registry_parse(bad[i], strlen(bad[i]), "reg", &reg), KC_EFORMAT);
        assert_null(reg);
    }
}

static void test_endpoint_local(void **state)
{
    (void)state;
    const char *local[] = {
        "tcp://127.0.0.1:5555", "tcp://127.0.0.1:*",  "tcp://127.1.2.3:1", "tcp://[::1]:5555",
        "tcp://localhost:5555", "ipc:///tmp/kc.sock", "inproc://x"};
    const char *remote[] = {"tcp://0.0.0.0:5555",
                            "tcp://*:5555",
                            "tcp://10.0.0.1:5555",
                            "tcp://eth0:5555",
                            "tcp://[::]:5555",
                            "tcp://127.0.0.1.evil:1",
                            "tcp://1270.0.0.1:5",
                            "tcp://127.0.0.1",
                            "pgm://x",
                            "tcp://localhost.example.org:1",
                            "tcp://127.0.0.1:1;10.0.0.1:2",
                            NULL};
    for (size_t i = 0; i < sizeof local / sizeof local[0]; i++)
        assert_true(kc_auth_endpoint_is_local(local[i]));
    for (size_t i = 0; i < sizeof remote / sizeof remote[0]; i++)
        assert_false(kc_auth_endpoint_is_local(remote[i]));
}

/* ---- the ZAP handler ---------------------------------------------------- */

typedef struct {
    char pub[41], sec[41];
} s_keys_t;

/* A CURVE server ROUTER as kc_agg.c sets it up, bound on loopback. */
static void *s_server(void *zctx, const s_keys_t *k, char *ep, size_t cap)
{
    void *s = zmq_socket(zctx, ZMQ_ROUTER);
    assert_non_null(s);
    int on = 1, linger = 0;
    assert_int_equal(zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger), 0);
    assert_int_equal(zmq_setsockopt(s, ZMQ_ZAP_DOMAIN, KC_AUTH_DOMAIN, strlen(KC_AUTH_DOMAIN)), 0);
    assert_int_equal(zmq_setsockopt(s, 93 /* ZMQ_ZAP_ENFORCE_DOMAIN */, &on, sizeof on), 0);
    assert_int_equal(zmq_setsockopt(s, ZMQ_CURVE_SERVER, &on, sizeof on), 0);
    assert_int_equal(zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, k->sec, 40), 0);
    assert_int_equal(zmq_bind(s, "tcp://127.0.0.1:*"), 0);
    assert_int_equal(zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, ep, &cap), 0);
    return s;
}

/* A DEALER CURVE client (keys NULL: plaintext) with a monitor on its events. */
static void *s_client(void *zctx, const s_keys_t *server, const s_keys_t *k, const char *ep,
                      void **mon)
{
    static int n;
    void *c = zmq_socket(zctx, ZMQ_DEALER);
    assert_non_null(c);
    int linger = 0;
    zmq_setsockopt(c, ZMQ_LINGER, &linger, sizeof linger);
    if (k) {
        assert_int_equal(zmq_setsockopt(c, ZMQ_CURVE_SERVERKEY, server->pub, 40), 0);
        assert_int_equal(zmq_setsockopt(c, ZMQ_CURVE_PUBLICKEY, k->pub, 40), 0);
        assert_int_equal(zmq_setsockopt(c, ZMQ_CURVE_SECRETKEY, k->sec, 40), 0);
    }
    char mep[64];
    snprintf(mep, sizeof mep, "inproc://mon-%d", n++);
    assert_int_equal(zmq_socket_monitor(c, mep, ZMQ_EVENT_ALL), 0);
    *mon = zmq_socket(zctx, ZMQ_PAIR);
    zmq_setsockopt(*mon, ZMQ_LINGER, &linger, sizeof linger);
    assert_int_equal(zmq_connect(*mon, mep), 0);
    assert_int_equal(zmq_connect(c, ep), 0);
    return c;
}

/* Wait (bounded) for a handshake outcome on a client monitor: returns the event
 * (ZMQ_EVENT_HANDSHAKE_SUCCEEDED or a HANDSHAKE_FAILED_* / DISCONNECTED). */
static int s_handshake(void *mon)
{
    int rcvtimeo = S_EVENT_MS;
    zmq_setsockopt(mon, ZMQ_RCVTIMEO, &rcvtimeo, sizeof rcvtimeo);
    for (;;) {
        uint8_t ev[6];
        char addr[256];
        int n = zmq_recv(mon, ev, sizeof ev, 0);
        assert_true(n >= 6); /* timeout = failure */
        assert_true(zmq_recv(mon, addr, sizeof addr, 0) >= 0);
        uint16_t id = (uint16_t)(ev[0] | ev[1] << 8);
        if (id == ZMQ_EVENT_HANDSHAKE_SUCCEEDED || id == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH ||
            id == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ||
            id == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL || id == ZMQ_EVENT_DISCONNECTED)
            return id;
    }
}

static void s_close_client(void *c, void *mon)
{
    zmq_socket_monitor(c, NULL, 0);
    zmq_close(mon);
    zmq_close(c);
}

static void test_zap_handler(void **state)
{
    (void)state;
    s_keys_t srv, a, b, u;
    assert_int_equal(zmq_curve_keypair(srv.pub, srv.sec), 0);
    assert_int_equal(zmq_curve_keypair(a.pub, a.sec), 0);
    assert_int_equal(zmq_curve_keypair(b.pub, b.sec), 0);
    assert_int_equal(zmq_curve_keypair(u.pub, u.sec), 0);
    char text[512];
    snprintf(text, sizeof text,
             "producer office-79 key \"%s\" provinces 79\n"
             "producer office-74 key \"%s\" provinces 74 revoked\n",
             a.pub, b.pub);
    kc_auth_registry_t *reg = NULL;
    assert_int_equal(kc_auth_registry_parse(text, strlen(text), "reg", &reg), 0);
    void *zctx = zmq_ctx_new();
    kc_auth_t *auth = NULL;
    assert_int_equal(kc_auth_new(&auth, zctx, reg), 0);
    kc_auth_t *second = NULL; /* one handler per context */
    assert_int_equal(kc_auth_new(&second, zctx, NULL), KC_EBUSY);
    char ep[128];
    void *srvsock = s_server(zctx, &srv, ep, sizeof ep);

    /* a registered key: accepted, its producer id is the User-Id, its key in metadata */
    void *mon, *c = s_client(zctx, &srv, &a, ep, &mon);
    assert_int_equal(s_handshake(mon), ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
    assert_int_equal(zmq_send(c, "hello", 5, 0), 5);
    zmq_msg_t id, body;
    zmq_msg_init(&id);
    zmq_msg_init(&body);
    assert_true(zmq_msg_recv(&id, srvsock, 0) >= 0);
    assert_true(zmq_msg_recv(&body, srvsock, 0) == 5);
    assert_string_equal(zmq_msg_gets(&body, "User-Id"), "office-79");
    assert_string_equal(zmq_msg_gets(&body, KC_AUTH_KEY_PROPERTY), a.pub);
    zmq_msg_close(&id);
    zmq_msg_close(&body);
    s_close_client(c, mon);

    /* an unknown key, a revoked key, a plaintext client: refused */
    c = s_client(zctx, &srv, &u, ep, &mon);
    assert_int_equal(s_handshake(mon), ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
    s_close_client(c, mon);
    c = s_client(zctx, &srv, &b, ep, &mon);
    assert_int_equal(s_handshake(mon), ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
    s_close_client(c, mon);
    c = s_client(zctx, &srv, NULL, ep, &mon);
    assert_int_not_equal(s_handshake(mon), ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
    s_close_client(c, mon);

    /* swap: a is revoked, b is back */
    snprintf(text, sizeof text,
             "producer office-79 key \"%s\" provinces 79 revoked\n"
             "producer office-74 key \"%s\" provinces 74\n",
             a.pub, b.pub);
    assert_int_equal(kc_auth_registry_parse(text, strlen(text), "reg", &reg), 0);
    assert_int_equal(kc_auth_swap(auth, reg), 0);
    assert_true(kc_auth_registry_find(kc_auth_current(auth), a.pub)->revoked);
    c = s_client(zctx, &srv, &a, ep, &mon);
    assert_int_equal(s_handshake(mon), ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
    s_close_client(c, mon);
    c = s_client(zctx, &srv, &b, ep, &mon);
    assert_int_equal(s_handshake(mon), ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
    s_close_client(c, mon);
    uint64_t acc, ref;
    kc_auth_counts(auth, &acc, &ref);
    assert_int_equal(acc, 2);
    assert_true(ref >=
                3); /* unknown, revoked, revoked after the swap (plaintext never gets to ZAP) */

    zmq_close(srvsock);
    kc_auth_destroy(&auth);
    assert_null(auth);
    zmq_ctx_term(zctx);
}

/* Fail closed: with ZMQ_ZAP_ENFORCE_DOMAIN and no handler, nobody gets in. */
static void test_no_handler_fails_closed(void **state)
{
    (void)state;
    s_keys_t srv, a;
    assert_int_equal(zmq_curve_keypair(srv.pub, srv.sec), 0);
    assert_int_equal(zmq_curve_keypair(a.pub, a.sec), 0);
    void *zctx = zmq_ctx_new();
    char ep[128];
    void *srvsock = s_server(zctx, &srv, ep, sizeof ep);
    void *mon, *c = s_client(zctx, &srv, &a, ep, &mon);
    assert_int_not_equal(s_handshake(mon), ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
    s_close_client(c, mon);
    zmq_close(srvsock);
    zmq_ctx_term(zctx);
}

/* ---- authorization in kc_apply ------------------------------------------ */

static kc_pb_ack_t *s_commit_one(kc_store_t *store, t_buf_t b, const kc_apply_grant_t *g)
{
    kc_apply_t *grp = kc_apply_new();
    assert_int_equal(kc_apply_add_granted(grp, b.data, b.len, g), 0);
    t_buf_free(&b);
    assert_int_equal(kc_apply_commit(grp, store), 0);
    const uint8_t *data;
    size_t len;
    assert_int_equal(kc_apply_ack(grp, 0, &data, &len), 0);
    kc_pb_ack_t *a = kcpipe__v1__ack__unpack(NULL, len, data);
    assert_non_null(a);
    kc_apply_destroy(&grp);
    return a;
}

/* Batch of office-79 events seq from.., one per province in provs. */
static t_buf_t s_batch(const char *producer, uint64_t from, const char *const *provs, size_t n)
{
    t_buf_t evs[8];
    char ids[8][32];
    for (size_t i = 0; i < n; i++) {
        t_event_t e;
        snprintf(ids[i], sizeof ids[i], "AUTH-%llu", (unsigned long long)(from + i));
        t_event(&e, producer, from + i, ids[i], 1000);
        e.ev.province = (char *)provs[i];
        evs[i] = t_event_pack(&e);
    }
    t_buf_t b = t_batch(producer, evs, n);
    for (size_t i = 0; i < n; i++)
        t_buf_free(&evs[i]);
    return b;
}

static void test_apply_grant(void **state)
{
    (void)state;
    char *dir = t_tmpdir("authz");
    kc_store_t *store = NULL;
    kc_store_opts_t o = {0};
    assert_int_equal(kc_store_open(&store, dir, &o), 0);
    kc_apply_grant_t g = {.producer_id = "office-79"};
    g.provinces[79 / 64] |= (uint64_t)1 << (79 % 64);

    /* its own province accepted, another one rejected; the seq moves on */
    const char *p1[] = {"79", "74", "79"};
    kc_pb_ack_t *a = s_commit_one(store, s_batch("office-79", 1, p1, 3), &g);
    assert_int_equal(a->status, KCPIPE__V1__STATUS__STATUS_OK);
    assert_int_equal(a->acked_from, 1);
    assert_int_equal(a->acked_to, 3);
    assert_int_equal(a->n_results, 1);
    assert_int_equal(a->results[0]->seq, 2);
    assert_int_equal(a->results[0]->reason, KCPIPE__V1__REASON__REASON_PROVINCE_NOT_AUTHORIZED);
    assert_string_equal(kc_reason_name(26), "province_not_authorized");
    assert_non_null(strstr(a->results[0]->text, "not authorized"));
    kcpipe__v1__ack__free_unpacked(a, NULL);

    /* a resend of seq 2 gets the same answer back from the rejects table */
    const char *p2[] = {"74"};
    a = s_commit_one(store, s_batch("office-79", 2, p2, 1), &g);
    assert_int_equal(a->n_results, 1);
    assert_int_equal(a->results[0]->reason, KCPIPE__V1__REASON__REASON_PROVINCE_NOT_AUTHORIZED);
    kcpipe__v1__ack__free_unpacked(a, NULL);

    /* producer_id spoofing: the whole batch refused, nothing processed */
    const char *p3[] = {"74"};
    a = s_commit_one(store, s_batch("office-74", 1, p3, 1), &g);
    assert_int_equal(a->status, KCPIPE__V1__STATUS__STATUS_BAD_PRODUCER);
    assert_non_null(strstr(a->error, "office-79"));
    assert_false(a->has_acked_from);
    kcpipe__v1__ack__free_unpacked(a, NULL);

    /* a key revoked since its connection: refused */
    kc_apply_grant_t rg = {.producer_id = "office-79", .revoked = true};
    a = s_commit_one(store, s_batch("office-79", 4, p1, 1), &rg);
    assert_int_equal(a->status, KCPIPE__V1__STATUS__STATUS_BAD_PRODUCER);
    assert_non_null(strstr(a->error, "revoked"));
    kcpipe__v1__ack__free_unpacked(a, NULL);

    /* '*' allows any province; no grant (plaintext, loopback) checks nothing */
    kc_apply_grant_t any = {.producer_id = "office-79", .any_province = true};
    a = s_commit_one(store, s_batch("office-79", 4, p3, 1), &any);
    assert_int_equal(a->n_results, 0);
    assert_int_equal(a->acked_to, 4);
    kcpipe__v1__ack__free_unpacked(a, NULL);
    a = s_commit_one(store, s_batch("office-01", 1, p3, 1), NULL);
    assert_int_equal(a->status, KCPIPE__V1__STATUS__STATUS_OK);
    assert_int_equal(a->n_results, 0);
    kcpipe__v1__ack__free_unpacked(a, NULL);

    kc_store_close(&store);
    t_rmtree(dir);
    free(dir);
}

/* ---- the producer's CURVE options -------------------------------------- */

static void test_producer_curve_opts(void **state)
{
    (void)state;
    char *dir = t_tmpdir("pcurve");
    char spool[4200], cert[4200], pub[41], sec[41], spub[41], ssec[41];
    snprintf(spool, sizeof spool, "%s/spool", dir);
    snprintf(cert, sizeof cert, "%s/office_secret", dir);
    kc_cert_t c = {.name = "office-79"};
    assert_int_equal(zmq_curve_keypair(c.public_key, c.secret_key), 0);
    assert_int_equal(kc_cert_save(cert, &c, true, false, "test"), 0);
    assert_int_equal(zmq_curve_keypair(spub, ssec), 0);
    assert_int_equal(kc_ingest_read_cert(cert, pub, sec), 0);
    assert_string_equal(pub, c.public_key);
    assert_string_equal(sec, c.secret_key);

    kc_producer_opts_t base = {
        .endpoint = "tcp://127.0.0.1:1", .producer_id = "office-79", .spool_dir = spool};
    kc_producer_t *p = NULL;
    kc_producer_opts_t o = base;
    o.server_public_key = spub; /* no client keys */
    assert_int_equal(kc_producer_open(&p, &o), KCI_EINVAL);
    o.client_public_key = c.public_key;
    o.client_secret_key = ssec; /* not this public key's secret */
    assert_int_equal(kc_producer_open(&p, &o), KCI_EINVAL);
    o.client_secret_key = c.secret_key;
    o.client_cert_file = cert; /* both ways at once */
    assert_int_equal(kc_producer_open(&p, &o), KCI_EINVAL);
    o = base;
    o.client_cert_file = cert; /* client keys without the server's */
    assert_int_equal(kc_producer_open(&p, &o), KCI_EINVAL);
    o.server_public_key = "short";
    assert_int_equal(kc_producer_open(&p, &o), KCI_EINVAL);
    o.server_public_key = spub;
    assert_int_equal(kc_producer_open(&p, &o), 0); /* from the certificate file */
    kc_producer_close(&p);
    o.client_cert_file = NULL;
    o.client_public_key = c.public_key;
    o.client_secret_key = c.secret_key;
    assert_int_equal(kc_producer_open(&p, &o), 0); /* from the two keys */
    kc_producer_close(&p);
    t_rmtree(dir);
    free(dir);
}

int main(void)
{
    kc_log_set_level(KC_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cert_parse_czmq), cmocka_unit_test(test_cert_parse_errors),
        cmocka_unit_test(test_cert_save_load),  cmocka_unit_test(test_registry_parse),
        cmocka_unit_test(test_registry_errors), cmocka_unit_test(test_endpoint_local),
        cmocka_unit_test(test_zap_handler),     cmocka_unit_test(test_no_handler_fails_closed),
        cmocka_unit_test(test_apply_grant),     cmocka_unit_test(test_producer_curve_opts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
