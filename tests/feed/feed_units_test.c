/* feed_units_test.c - what a group commit changed (kc_apply_changes) and the
 * units table it writes, in-process against temporary stores:
 *   - the changed cells are exactly the cells of the accepted events, once
 *     each, with the absolute values the store holds after the commit;
 *   - the units that reported carry last_report_ns = the log entry's
 *     received_ns, last_offset = the unit's latest accepted event, and events
 *     accumulated over commits, equal to the units table;
 *   - a correction that moves an event between cells changes both cells;
 *   - duplicates and rejections change nothing (seq == prev_seq);
 *   - a commit redone after map growth reports each cell and unit once;
 *   - per-message info (producer, events, spool_last_seq) for the metrics.
 */
#include "../aggregator/agg_test_util.h"
#include "kc_apply.h"
#include "kc_err.h"
#include "kc_store.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

typedef struct {
    char *dir;
    kc_store_t *s;
    kc_apply_t *a;
} fx_t;

static int s_setup_size(void **state, size_t map)
{
    fx_t *f = calloc(1, sizeof *f);
    f->dir = t_tmpdir("feedunits");
    char path[4200];
    snprintf(path, sizeof path, "%s/store", f->dir);
    kc_store_opts_t o = {.map_size = map};
    if (kc_store_open(&f->s, path, &o) != 0)
        return -1;
    f->a = kc_apply_new();
    kc_apply_set_track_cells(f->a, true);
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return s_setup_size(state, 0);
}

static int setup_tiny(void **state)
{
    return s_setup_size(state, 64 << 10); /* the first big group must grow the map */
}

static int teardown(void **state)
{
    fx_t *f = *state;
    kc_apply_destroy(&f->a);
    kc_store_close(&f->s);
    t_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

/* Add one Batch of the events e[0..n-1] (seqs set by the caller). */
static void s_add(fx_t *f, const char *producer, t_event_t *e, size_t n, uint64_t spool_last)
{
    t_buf_t *b = calloc(n, sizeof *b);
    for (size_t i = 0; i < n; i++)
        b[i] = t_event_pack(&e[i]);
    kc_pb_batch_t batch = KCPIPE__V1__BATCH__INIT;
    ProtobufCBinaryData *bd = calloc(n, sizeof *bd);
    for (size_t i = 0; i < n; i++)
        bd[i] = (ProtobufCBinaryData){b[i].len, b[i].data};
    batch.producer_id = (char *)producer;
    batch.n_events = n;
    batch.events = bd;
    batch.has_spool_last_seq = spool_last != 0;
    batch.spool_last_seq = spool_last;
    size_t len = kcpipe__v1__batch__get_packed_size(&batch);
    uint8_t *data = malloc(len);
    kcpipe__v1__batch__pack(&batch, data);
    assert_int_equal(kc_apply_add(f->a, data, len), 0);
    free(data);
    free(bd);
    for (size_t i = 0; i < n; i++)
        t_buf_free(&b[i]);
    free(b);
}

/* Every reported cell equals the store's, and no key repeats. */
static void s_check_cells(fx_t *f, const kc_apply_changes_t *ch)
{
    kc_txn_t *t = NULL;
    assert_int_equal(kc_store_read_begin(f->s, &t), 0);
    for (size_t i = 0; i < ch->ncells; i++) {
        kc_cell_t c;
        assert_int_equal(kc_txn_totals_get(t, &ch->cells[i].key, &c), 0);
        assert_memory_equal(&c, &ch->cells[i].cell, sizeof c);
        for (size_t j = 0; j < i; j++)
            assert_memory_not_equal(&ch->cells[i].key, &ch->cells[j].key, sizeof(kc_cell_key_t));
    }
    for (size_t i = 0; i < ch->nunits; i++) {
        kc_unit_state_t st;
        assert_int_equal(kc_txn_unit_get(t, ch->units[i].unit, &st), 0);
        assert_memory_equal(&st, &ch->units[i].st, sizeof st);
        kc_log_entry_t e;
        assert_int_equal(kc_txn_log_get(t, st.last_offset, &e), 0);
        assert_true(e.received_ns == st.last_report_ns);
    }
    kc_txn_end(&t);
}

static const kc_feed_unit_t *s_unit(const kc_apply_changes_t *ch, int code, int yyyymm)
{
    uint8_t u = kc_ref_unit_key(code, yyyymm);
    for (size_t i = 0; i < ch->nunits; i++)
        if (ch->units[i].unit == u)
            return &ch->units[i];
    return NULL;
}

static void test_changes(void **state)
{
    fx_t *f = *state;
    /* group 1: 79/2021-03 twice (one cell), 01/2021-04, 79/2021-03 again */
    t_event_t e[4];
    t_event(&e[0], "p", 1, "a1", 100);
    t_event(&e[1], "p", 2, "a2", 50);
    t_event(&e[2], "p", 3, "a3", 7);
    e[2].ev.province = "01";
    e[2].ev.month = 4;
    t_event(&e[3], "p", 4, "a4", 1);
    s_add(f, "p", e, 4, 9);
    assert_int_equal(kc_apply_commit(f->a, f->s), 0);
    kc_apply_msg_info_t mi;
    assert_int_equal(kc_apply_msg_info(f->a, 0, &mi), 0);
    assert_string_equal(mi.producer_id, "p");
    assert_int_equal(mi.events, 4);
    assert_int_equal(mi.spool_last_seq, 9);
    assert_int_equal(kc_apply_msg_info(f->a, 1, &mi), KC_EINVAL);
    kc_apply_changes_t ch;
    assert_int_equal(kc_apply_changes(f->a, &ch), 0);
    assert_int_equal(ch.prev_seq, 0);
    assert_int_equal(ch.seq, 4);
    assert_int_equal(ch.ncells, 2);
    assert_int_equal(ch.nunits, 2);
    s_check_cells(f, &ch);
    const kc_feed_unit_t *u79 = s_unit(&ch, 79, 202103);
    assert_non_null(u79);
    assert_int_equal(u79->st.events, 3);
    assert_int_equal(u79->st.last_offset, 3);
    const kc_feed_unit_t *u01 = s_unit(&ch, 1, 202104);
    assert_non_null(u01);
    assert_int_equal(u01->st.events, 1);
    assert_int_equal(u01->st.last_offset, 2);
    kc_apply_reset(f->a);
    assert_int_equal(kc_apply_changes(f->a, &ch), KC_EINVAL); /* nothing committed yet */

    /* group 2: a correction moving a1 to 2021-05 (both cells change), a duplicate */
    t_event(&e[0], "p", 5, "c1", 30);
    e[0].ev.op = KCPIPE__V1__OP__OP_CORRECTION;
    e[0].ev.has_op = 1;
    e[0].ev.corrects = "a1";
    e[0].ev.month = 5;
    t_event(&e[1], "p", 6, "a2", 50); /* same content as a2: duplicate */
    s_add(f, "p", e, 2, 0);
    assert_int_equal(kc_apply_commit(f->a, f->s), 0);
    assert_int_equal(kc_apply_changes(f->a, &ch), 0);
    assert_int_equal(ch.prev_seq, 4);
    assert_int_equal(ch.seq, 5);
    assert_int_equal(ch.ncells, 2); /* 2021-03 lost a1, 2021-05 gained c1 */
    assert_int_equal(ch.nunits, 1);
    s_check_cells(f, &ch);
    u79 = s_unit(&ch, 79, 202105);
    assert_non_null(u79);
    assert_int_equal(u79->st.events, 4); /* same unit (scheme 63), accumulated */
    assert_int_equal(u79->st.last_offset, 4);
    assert_int_equal(kc_apply_msg_info(f->a, 0, &mi), 0);
    assert_int_equal(mi.spool_last_seq, 0);
    kc_apply_reset(f->a);

    /* group 3: only a resend and a rejection: the log does not grow */
    t_event(&e[0], "p", 6, "a2", 50);
    t_event(&e[1], "p", 7, "bad", -1); /* negative_value */
    s_add(f, "p", e, 2, 7);
    assert_int_equal(kc_apply_commit(f->a, f->s), 0);
    assert_int_equal(kc_apply_changes(f->a, &ch), 0);
    assert_int_equal(ch.seq, ch.prev_seq);
    assert_int_equal(ch.ncells, 0);
    assert_int_equal(ch.nunits, 0);
    kc_apply_reset(f->a);
}

/* A group big enough to fill the tiny map: the run is redone from scratch and
 * still reports each cell and unit once, with events counted once. */
static void test_redo(void **state)
{
    fx_t *f = *state;
    size_t n = 3000;
    t_event_t *e = calloc(n, sizeof *e);
    char(*ids)[16] = calloc(n, sizeof *ids);
    const char *prov[3] = {"79", "01", "92"};
    for (size_t i = 0; i < n; i++) {
        snprintf(ids[i], sizeof ids[i], "r%zu", i);
        t_event(&e[i], "p", i + 1, ids[i], (int64_t)i);
        e[i].ev.province = (char *)prov[i % 3];
        e[i].ev.month = (uint32_t)(1 + (i / 3) % 12);
    }
    size_t before = kc_store_map_size(f->s);
    s_add(f, "p", e, n, n);
    assert_int_equal(kc_apply_commit(f->a, f->s), 0);
    assert_true(kc_store_map_size(f->s) > before); /* the run was redone */
    kc_apply_changes_t ch;
    assert_int_equal(kc_apply_changes(f->a, &ch), 0);
    assert_int_equal(ch.seq, n);
    assert_int_equal(ch.ncells, 36); /* 3 provinces x 12 months */
    assert_int_equal(ch.nunits, 3);
    uint64_t events = 0;
    for (size_t i = 0; i < ch.nunits; i++)
        events += ch.units[i].st.events;
    assert_int_equal(events, n);
    s_check_cells(f, &ch);
    kc_apply_reset(f->a);
    free(e);
    free(ids);
}

/* Many groups over many cells: every group reports each of its cells once
 * (the hash set is emptied correctly between runs). */
static void test_many_groups(void **state)
{
    fx_t *f = *state;
    size_t n = 432; /* 4 years x 12 months x 3 provinces, 3 events each */
    t_event_t *e = calloc(n, sizeof *e);
    char(*ids)[24] = calloc(n, sizeof *ids);
    const char *prov[3] = {"79", "01", "92"};
    uint64_t seq = 0;
    for (int g = 0; g < 12; g++) {
        for (size_t i = 0; i < n; i++) {
            size_t c = (i + (size_t)g * 7) % 144; /* a different order each group */
            snprintf(ids[i], sizeof ids[i], "g%d-%zu", g, i);
            t_event(&e[i], "p", ++seq, ids[i], 1);
            e[i].ev.province = (char *)prov[c % 3];
            e[i].ev.month = (uint32_t)(1 + (c / 3) % 12);
            e[i].ev.year = (uint32_t)(2021 + c / 36);
        }
        s_add(f, "p", e, n, 0);
        assert_int_equal(kc_apply_commit(f->a, f->s), 0);
        kc_apply_changes_t ch;
        assert_int_equal(kc_apply_changes(f->a, &ch), 0);
        assert_int_equal(ch.ncells, 144);
        assert_int_equal(ch.nunits, 3);
        s_check_cells(f, &ch);
        kc_apply_reset(f->a);
    }
    free(e);
    free(ids);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_changes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redo, setup_tiny, teardown),
        cmocka_unit_test_setup_teardown(test_many_groups, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
