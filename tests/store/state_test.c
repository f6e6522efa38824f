/* state_test.c - de-duplication state: producers, identities, rejects. */
#include "kc_err.h"
#include "kc_event.h"
#include "kc_identity.h"
#include "kc_store.h"
#include "store_test_util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

typedef kc_test_store_t fixture_t;

/* ---- producers ---- */

static int s_producers_fn(kc_txn_t *t, void *ctx)
{
    (void)ctx;
    /* written out of name order; the scan must return them sorted */
    kc_producer_state_t a = {
        .hwm = 5, .last_seen_ns = 11, .accepted = 3, .duplicates = 1, .rejected = 1, .epoch = 77};
    kc_producer_state_t b = {.hwm = UINT64_MAX,
                             .last_seen_ns = 22,
                             .accepted = UINT64_MAX - 1,
                             .duplicates = 0,
                             .rejected = 7};
    kc_producer_state_t c = {.hwm = 1, .last_seen_ns = 33, .accepted = 1};
    int rc;
    if ((rc = kc_txn_producer_put(t, "prov-92", &c)) ||
        (rc = kc_txn_producer_put(t, "prov-01", &a)) ||
        (rc = kc_txn_producer_put(t, "prov-79", &b)))
        return rc;
    /* visible inside the same transaction, and overwritten in place */
    kc_producer_state_t got;
    if ((rc = kc_txn_producer_get(t, "prov-92", &got)) != 0)
        return rc;
    if (got.last_seen_ns != 33)
        return -100;
    c.hwm = 2;
    c.accepted = 2;
    return kc_txn_producer_put(t, "prov-92", &c);
}

typedef struct {
    char names[8][16];
    kc_producer_state_t st[8];
    int n;
} pscan_t;

static int s_pscan(const char *producer, const kc_producer_state_t *st, void *ctx)
{
    pscan_t *p = ctx;
    snprintf(p->names[p->n], sizeof p->names[0], "%s", producer);
    p->st[p->n++] = *st;
    return 0;
}

static int s_pscan_stop(const char *producer, const kc_producer_state_t *st, void *ctx)
{
    (void)producer;
    (void)st;
    int *n = ctx;
    return ++*n == 2 ? 9 : 0;
}

static void test_producers(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(kc_store_write(f->s, s_producers_fn, NULL), 0);

    kc_txn_t *t = NULL;
    kc_producer_state_t st;
    assert_int_equal(kc_store_read_begin(f->s, &t), 0);
    assert_int_equal(kc_txn_producer_get(t, "prov-79", &st), 0);
    assert_int_equal(st.hwm, UINT64_MAX);
    assert_int_equal(st.last_seen_ns, 22);
    assert_int_equal(st.accepted, UINT64_MAX - 1);
    assert_int_equal(st.duplicates, 0);
    assert_int_equal(st.rejected, 7);

    memset(&st, 0xaa, sizeof st);
    assert_int_equal(kc_txn_producer_get(t, "prov-00", &st), KC_ENOTFOUND);
    assert_int_equal(st.hwm, 0);
    assert_int_equal(st.accepted, 0);
    assert_int_equal(st.rejected, 0);
    assert_int_equal(kc_txn_producer_get(t, "", &st), KC_EINVAL);

    pscan_t p = {0};
    assert_int_equal(kc_txn_producer_scan(t, s_pscan, &p), 0);
    assert_int_equal(p.n, 3);
    assert_string_equal(p.names[0], "prov-01");
    assert_string_equal(p.names[1], "prov-79");
    assert_string_equal(p.names[2], "prov-92");
    assert_int_equal(p.st[0].hwm, 5);
    assert_int_equal(p.st[0].last_seen_ns, 11);
    assert_int_equal(p.st[0].accepted, 3);
    assert_int_equal(p.st[0].duplicates, 1);
    assert_int_equal(p.st[0].rejected, 1);
    assert_int_equal(p.st[2].hwm, 2); /* the overwrite won */
    assert_int_equal(p.st[2].accepted, 2);

    int n = 0;
    assert_int_equal(kc_txn_producer_scan(t, s_pscan_stop, &n), 9);
    assert_int_equal(n, 2);

    kc_store_stat_t ss;
    assert_int_equal(kc_txn_stat(t, &ss), 0);
    assert_int_equal(ss.producers, 3);
    kc_txn_end(&t);
}

/* ---- identities ---- */

/* Format 4: an identity names its logged Event (event_id checked, content
 * hash recomputed from it), so each is logged first. */
static const struct {
    uint8_t unit;
    const char *province, *event_id;
} s_ids[3] = {{79, "79", "HCM-2021-0001"}, {1, "01", "HCM-2021-0001"}, {79, "79", "HCM-2021-000"}};

static void s_record_hash(const uint8_t *buf, size_t n, uint8_t out[16])
{
    Kcpipe__V1__Event *ev = kcpipe__v1__event__unpack(NULL, n, buf);
    kc_event_view_t v;
    char text[128];
    if (!ev || kc_event_check(ev, &v, text, sizeof text) != 0)
        abort();
    kc_event_content_hash(ev, &v, out);
    kcpipe__v1__event__free_unpacked(ev, NULL);
}

static int s_identities_fn(kc_txn_t *t, void *ctx)
{
    uint8_t(*hashes)[16] = ctx;
    int rc;
    for (int i = 0; i < 3; i++) {
        uint8_t buf[256];
        size_t n = kc_test_event(buf, sizeof buf, s_ids[i].event_id, s_ids[i].province, 2021, 4, 0,
                                 NULL, 0, 10 + i);
        kc_log_entry_t e = {.received_ns = 1,
                            .seq = (uint64_t)i + 1,
                            .producer = "prov-79",
                            .producer_len = 7,
                            .event = buf,
                            .event_len = n};
        uint64_t off;
        if ((rc = kc_txn_log_append(t, &e, &off)))
            return rc;
        kc_identity_t id = {.offset = off, .kind = 1};
        s_record_hash(buf, n, id.hash);
        memcpy(hashes[i], id.hash, 16);
        /* same event_id in two provinces: two identities; a prefix is another one */
        if ((rc = kc_txn_identity_put(t, s_ids[i].unit, s_ids[i].event_id,
                                      strlen(s_ids[i].event_id), &id)))
            return rc;
    }
    return 0;
}

static void test_identities(void **state)
{
    fixture_t *f = *state;
    uint8_t hashes[3][16];
    assert_int_equal(kc_store_write(f->s, s_identities_fn, hashes), 0);

    kc_txn_t *t = NULL;
    kc_identity_t id;
    assert_int_equal(kc_store_read_begin(f->s, &t), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(kc_txn_identity_get(t, s_ids[i].unit, s_ids[i].event_id,
                                             strlen(s_ids[i].event_id), &id),
                         0);
        assert_int_equal(id.hashed, 0); /* the store holds no hash: core computes it */
        assert_int_equal(kc_identity_hash_txn(t, &id), 0);
        assert_int_equal(id.offset, (uint64_t)i);
        assert_int_equal(id.kind, 1);
        assert_memory_equal(id.hash, hashes[i], 16);
    }
    assert_int_equal(kc_txn_identity_get(t, 92, "HCM-2021-0001", 13, &id), KC_ENOTFOUND);
    assert_int_equal(id.offset, 0);
    assert_int_equal(kc_txn_identity_get(t, 79, "HCM-2021-0001", 0, &id), KC_EINVAL);

    kc_store_stat_t ss;
    assert_int_equal(kc_txn_stat(t, &ss), 0);
    assert_int_equal(ss.identities, 3);
    kc_txn_end(&t);
}

/* ---- rejects ---- */

static int s_rejects_fn(kc_txn_t *t, void *ctx)
{
    int *bad = ctx;
    int rc;
    if ((rc = kc_txn_reject_put(t, "prov-79", 1, 7, 3, "unknown province 99 in 2021-03")) ||
        (rc = kc_txn_reject_put(t, "prov-79", 1, 8, 65535, NULL)) ||
        (rc = kc_txn_reject_put(t, "prov-7", 1, 7, 12, "negative value: persons")))
        return rc;
    bad[0] = kc_txn_reject_put(t, "prov-79", 1, 9, -1, "x");
    bad[1] = kc_txn_reject_put(t, "prov-79", 1, 9, 65536, "x");
    bad[2] = kc_txn_reject_put(t, "", 1, 9, 1, "x");
    bad[3] = kc_txn_reject_put(t, NULL, 1, 9, 1, "x");
    return 0;
}

static void test_rejects(void **state)
{
    fixture_t *f = *state;
    int bad[4];
    assert_int_equal(kc_store_write(f->s, s_rejects_fn, bad), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(bad[i], KC_EINVAL);

    kc_txn_t *t = NULL;
    int reason = -1;
    char text[128];
    assert_int_equal(kc_store_read_begin(f->s, &t), 0);
    assert_int_equal(kc_txn_reject_get(t, "prov-79", 1, 7, &reason, text, sizeof text), 0);
    assert_int_equal(reason, 3);
    assert_string_equal(text, "unknown province 99 in 2021-03");
    assert_int_equal(kc_txn_reject_get(t, "prov-79", 1, 8, &reason, text, sizeof text), 0);
    assert_int_equal(reason, 65535);
    assert_string_equal(text, "");
    assert_int_equal(kc_txn_reject_get(t, "prov-7", 1, 7, &reason, text, sizeof text), 0);
    assert_int_equal(reason, 12);
    assert_string_equal(text, "negative value: persons");
    /* truncated to the buffer, always terminated */
    char small[9];
    assert_int_equal(kc_txn_reject_get(t, "prov-7", 1, 7, &reason, small, sizeof small), 0);
    assert_string_equal(small, "negative");
    /* NULL outputs are allowed */
    assert_int_equal(kc_txn_reject_get(t, "prov-7", 1, 7, NULL, NULL, 0), 0);

    strcpy(text, "stale");
    assert_int_equal(kc_txn_reject_get(t, "prov-79", 1, 9, &reason, text, sizeof text),
                     KC_ENOTFOUND);
    assert_string_equal(text, "");
    assert_int_equal(kc_txn_reject_get(t, "prov-1", 1, 7, &reason, text, sizeof text),
                     KC_ENOTFOUND);
    /* another spool epoch of the same producer has its own sequence space */
    assert_int_equal(kc_txn_reject_get(t, "prov-79", 2, 7, &reason, text, sizeof text),
                     KC_ENOTFOUND);

    kc_store_stat_t ss;
    assert_int_equal(kc_txn_stat(t, &ss), 0);
    assert_int_equal(ss.rejects, 3);
    kc_txn_end(&t);
}

/* ---- reject details (layout 2) and the scan ---- */

#define S_LONG_ID "E-0123456789-0123456789-0123456789-0123456789-0123456789-0123456789"

static int s_reject_details_fn(kc_txn_t *t, void *ctx)
{
    int *bad = ctx;
    int rc;
    /* layout 1, as every store before issue 16 holds them */
    if ((rc = kc_txn_reject_put(t, "p-old", 0, 3, 5, "unknown province '99' in 2021-03")) ||
        (rc = kc_txn_reject_put(t, "p-old", 0, 4, 65535, NULL)))
        return rc;
    kc_reject_t a = {.producer = "p-new",
                     .epoch = 2,
                     .seq = 9,
                     .reason = 13,
                     .text = "event_id 'X' was counted with other content",
                     .received_ns = 1796637150123456789ull,
                     .province = 79,
                     .period = 202203,
                     .event_id = "HCM-2022-0001"};
    kc_reject_t d = {.producer = "p-new",
                     .epoch = 2,
                     .seq = 10,
                     .reason = 1,
                     .text = "",
                     .received_ns = 1796637150123456790ull,
                     .event_id = S_LONG_ID};
    kc_reject_t n = {.producer = "p-new", .epoch = 3, .seq = 1, .reason = 2, .received_ns = 5};
    if ((rc = kc_txn_reject_add(t, &a)) || (rc = kc_txn_reject_add(t, &d)) ||
        (rc = kc_txn_reject_add(t, &n)))
        return rc;
    kc_reject_t b = a;
    b.reason = 65536;
    bad[0] = kc_txn_reject_add(t, &b);
    b = a;
    b.producer = "";
    bad[1] = kc_txn_reject_add(t, &b);
    bad[2] = kc_txn_reject_add(t, NULL);
    b = a;
    b.period = -1;
    bad[3] = kc_txn_reject_add(t, &b);
    return 0;
}

typedef struct {
    kc_reject_t r[8];
    char producer[8][16], text[8][128], event_id[8][80];
    size_t n;
} s_scan_t;

static int s_scan_fn(const kc_reject_t *r, void *ctx)
{
    s_scan_t *s = ctx;
    assert_true(s->n < 8);
    size_t i = s->n++;
    s->r[i] = *r;
    assert_true(r->producer_len < 16 && r->text_len < 128 && r->event_id_len < 80);
    memcpy(s->producer[i], r->producer, r->producer_len);
    s->producer[i][r->producer_len] = '\0';
    memcpy(s->text[i], r->text, r->text_len);
    s->text[i][r->text_len] = '\0';
    if (r->event_id)
        memcpy(s->event_id[i], r->event_id, r->event_id_len);
    s->event_id[i][r->event_id_len] = '\0';
    return 0;
}

static int s_stop_fn(const kc_reject_t *r, void *ctx)
{
    (void)r;
    return ++*(int *)ctx == 2 ? 42 : 0;
}

static void test_reject_details(void **state)
{
    fixture_t *f = *state;
    int bad[4];
    assert_int_equal(kc_store_write(f->s, s_reject_details_fn, bad), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(bad[i], KC_EINVAL);
    kc_txn_t *t = NULL;
    assert_int_equal(kc_store_read_begin(f->s, &t), 0);
    s_scan_t *s = calloc(1, sizeof *s);
    assert_non_null(s);
    assert_int_equal(kc_txn_reject_scan(t, s_scan_fn, s), 0);
    assert_int_equal(s->n, 5);
    /* key order: producer, epoch, seq */
    assert_string_equal(s->producer[0], "p-new");
    assert_int_equal(s->r[0].epoch, 2);
    assert_int_equal(s->r[0].seq, 9);
    assert_true(s->r[0].has_details);
    assert_false(s->r[0].duplicate);
    assert_int_equal(s->r[0].reason, 13);
    assert_string_equal(s->text[0], "event_id 'X' was counted with other content");
    assert_int_equal(s->r[0].received_ns, 1796637150123456789ull);
    assert_int_equal(s->r[0].province, 79);
    assert_int_equal(s->r[0].period, 202203);
    assert_string_equal(s->event_id[0], "HCM-2022-0001");
    /* a duplicate is told apart; an event_id longer than 64 bytes is cut */
    assert_int_equal(s->r[1].seq, 10);
    assert_true(s->r[1].duplicate);
    assert_string_equal(s->text[1], "");
    assert_int_equal(s->r[1].event_id_len, KC_REJECT_EVENT_ID_MAX);
    assert_memory_equal(s->event_id[1], S_LONG_ID, KC_REJECT_EVENT_ID_MAX);
    /* no province, period or event_id */
    assert_int_equal(s->r[2].epoch, 3);
    assert_true(s->r[2].has_details);
    assert_int_equal(s->r[2].province, 0);
    assert_int_equal(s->r[2].period, 0);
    assert_null(s->r[2].event_id);
    assert_int_equal(s->r[2].received_ns, 5);
    /* layout-1 records read with their details unknown, even reason 65535 */
    assert_string_equal(s->producer[3], "p-old");
    assert_int_equal(s->r[3].seq, 3);
    assert_false(s->r[3].has_details);
    assert_int_equal(s->r[3].reason, 5);
    assert_string_equal(s->text[3], "unknown province '99' in 2021-03");
    assert_int_equal(s->r[3].received_ns, 0);
    assert_int_equal(s->r[3].province, 0);
    assert_null(s->r[3].event_id);
    assert_false(s->r[4].has_details);
    assert_int_equal(s->r[4].reason, 65535);
    assert_string_equal(s->text[4], "");
    /* the single get reads layout 2 as reason + text (what the Ack re-sends) */
    int reason = 0;
    char text[128];
    assert_int_equal(kc_txn_reject_get(t, "p-new", 2, 9, &reason, text, sizeof text), 0);
    assert_int_equal(reason, 13);
    assert_string_equal(text, "event_id 'X' was counted with other content");
    assert_int_equal(kc_txn_reject_get(t, "p-new", 2, 10, &reason, text, sizeof text), 0);
    assert_int_equal(reason, 1);
    assert_string_equal(text, "");
    /* fn's non-zero stops the scan and is returned */
    int calls = 0;
    assert_int_equal(kc_txn_reject_scan(t, s_stop_fn, &calls), 42);
    assert_int_equal(calls, 2);
    assert_int_equal(kc_txn_reject_scan(t, NULL, NULL), KC_EINVAL);
    free(s);
    kc_txn_end(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_producers, kc_test_store_setup,
                                        kc_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_identities, kc_test_store_setup,
                                        kc_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_rejects, kc_test_store_setup, kc_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_reject_details, kc_test_store_setup,
                                        kc_test_store_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
