/* asof_overflow_test.c - point in time and replay when sums leave int64
 * (issue 12).
 *
 * A store driven through kc_apply the way a real one fills (every event at
 * most the per-event ceiling, t_batch_fill): province 79 brings a cell of
 * 2021-03 to exactly 2^63-1 (9,224 events), province 01 adds 5 in 2021-05
 * (the overflow pair: both accepted, no cell leaves int64), then 79 fills
 * two more months to 2^63-1, so that 79 alone sums to 3 x (2^63-1) > 2^64.
 * Checkpoints are written every 4,000 entries, so as-of sums start from a
 * checkpoint and replay the rest. Then:
 *   - kc_cells_asof at the end equals the live cells, and the sums over it
 *     (kc_cells_sum_src, 128-bit) are exact: 9223372036854775812 after the
 *     pair, 3 x (2^63-1) + 5 at the end; at every offset in between the
 *     national sum is what the events up to it add up to;
 *   - kc-query --as-of-offset prints those sums as exact JSON integers (python3
 *     reads them), and kc-query --as-of TIME too;
 *   - kc-replay verify recomputes every cell from the log and finds no
 *     difference (exit 0).
 */
#include "apply_test_util.h"
#include "kc_apply.h"
#include "kc_cells.h"
#include "kc_err.h"
#include "kc_log.h"
#include "kc_qry.h"
#include "kc_store.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/wait.h>

#include <cmocka.h>
#include <sodium.h>

#define PAIR  "9223372036854775812"  /* 2^63-1 + 5 */
#define ALL   "27670116110564327426" /* 3 x (2^63-1) + 5 */
#define ONLY9 "27670116110564327421" /* 79 alone: 3 x (2^63-1) */

static char *s_dir;
static kc_store_t *s_store;
static uint64_t s_after_pair; /* log size once the pair is in */
static uint64_t s_size;       /* log size at the end */
static uint64_t s_fill;       /* events of one fill */

/* One group commit of one batch; every event must be accepted. */
static void s_commit(t_buf_t b, uint64_t expect)
{
    kc_apply_t *g = kc_apply_new();
    assert_non_null(g);
    kc_apply_set_checkpoint_every(g, 4000);
    assert_int_equal(kc_apply_add(g, b.data, b.len), 0);
    assert_int_equal(kc_apply_commit(g, s_store), 0);
    assert_int_equal(kc_apply_delta(g)->accepted, expect);
    kc_apply_destroy(&g);
    t_buf_free(&b);
}

static int s_setup(void **state)
{
    (void)state;
    t_store_open("asof-overflow", &s_dir, &s_store);
    s_fill = t_fill_count(INT64_MAX);
    s_commit(t_batch_fill("p79", "mar", 1, 3, INT64_MAX), s_fill);
    t_event_t e;
    t_event(&e, "p01", 1, "hn-1", 5);
    e.ev.province = "01";
    e.ev.month = 5;
    t_buf_t ev = t_event_pack(&e);
    s_commit(t_batch("p01", &ev, 1), 1);
    t_buf_free(&ev);
    s_after_pair = s_fill + 1;
    s_commit(t_batch_fill("p79", "jun", 1 + s_fill, 6, INT64_MAX), s_fill);
    s_commit(t_batch_fill("p79", "sep", 1 + 2 * s_fill, 9, INT64_MAX), s_fill);
    s_size = 3 * s_fill + 1;
    return 0;
}

static int s_teardown(void **state)
{
    (void)state;
    t_store_close(&s_dir, &s_store);
    return 0;
}

static kc_i128 s_max(int n)
{
    return (kc_i128)INT64_MAX * n;
}

/* The national 2021 sum after the first n log entries, from the events: the
 * fills add 10^15 each (the last of each fill the remainder). */
static kc_i128 s_expected(uint64_t n)
{
    int64_t max = kc_ref_metric(KC_M_AMOUNT_VND)->max;
    kc_i128 sum = 0;
    for (int f = 0; f < 3; f++) {
        uint64_t first = f == 0 ? 0 : (uint64_t)f * s_fill + 1; /* the fill's first offset */
        if (n <= first)
            break;
        uint64_t k = n - first < s_fill ? n - first : s_fill;
        sum += k == s_fill ? (kc_i128)INT64_MAX : (kc_i128)max * (kc_i128)k;
    }
    if (n > s_fill)
        sum += 5;
    return sum;
}

static void test_asof_sums(void **state)
{
    (void)state;
    kc_txn_t *t = NULL;
    assert_int_equal(kc_store_read_begin(s_store, &t), 0);
    uint64_t size = 0;
    assert_int_equal(kc_txn_log_size(t, &size), 0);
    assert_int_equal(size, s_size);
    kc_cells_filter_t f;
    kc_cells_filter_init(&f);
    f.by = KC_BY_PROVINCE;
    static kc_cells_result_t live, got;
    assert_int_equal(kc_cells_sum(t, &f, 2021, 1, 12, 1, &live), 0);
    assert_true(live.total.m[KC_M_AMOUNT_VND] == s_max(3) + 5);
    assert_true(live.row[79].m[KC_M_AMOUNT_VND] == s_max(3));
    assert_true(live.row[1].m[KC_M_AMOUNT_VND] == 5);
    assert_true(live.total.events == (kc_i128)s_size);
    /* at the pair, at the end, and at offsets around the checkpoints */
    const uint64_t at[] = {0,    1,           s_fill,     s_after_pair,   3999,  4000,
                           4001, s_fill + 17, 2 * s_fill, 2 * s_fill + 1, 20000, s_size};
    for (size_t i = 0; i < sizeof at / sizeof *at; i++) {
        kc_cells_mem_t *mem = NULL;
        kc_cells_asof_t info;
        assert_int_equal(kc_cells_asof(t, at[i], 0, &mem, &info), 0);
        assert_int_equal(info.offset, at[i]);
        kc_cells_src_t src = {.mem = mem};
        assert_int_equal(kc_cells_sum_src(&src, &f, 2021, 1, 12, 1, &got), 0);
        if (got.total.m[KC_M_AMOUNT_VND] != s_expected(at[i]))
            fail_msg("as of %llu: the sum is not what the events add up to",
                     (unsigned long long)at[i]);
        assert_true(got.total.events == (kc_i128)at[i]);
        if (at[i] == s_size)
            assert_memory_equal(&got, &live, sizeof got);
        kc_cells_mem_free(&mem);
    }
    kc_txn_end(&t);
}

static char *s_slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* Run a command line (the tests' own paths only); its exit status. */
static int s_sh(const char *cmd)
{
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* kc-query --store S --year 2021 --format json ARGS into $dir.json; python3
 * prints EXPRS (d = the document); returns python's output. */
static char *s_query_py(const char *args, const char *exprs)
{
    const char *bin = getenv("KC_BIN_DIR");
    assert_non_null(bin);
    char cmd[4096], out[600], py[600];
    snprintf(out, sizeof out, "%s.json", s_dir);
    snprintf(py, sizeof py, "%s.py.out", s_dir);
    snprintf(cmd, sizeof cmd, "'%s/kc-query' --store '%s' --year 2021 --format json %s > '%s'", bin,
             s_dir, args, out);
    int rc = s_sh(cmd);
    if (rc != 0)
        fail_msg("%s: exit %d", cmd, rc);
    snprintf(cmd, sizeof cmd,
             "python3 -c 'import json, sys\n"
             "d = json.load(open(sys.argv[1]), parse_constant=lambda c: sys.exit(c))\n"
             "for e in sys.argv[2].split(\";\"):\n"
             "    print(eval(e))' '%s' '%s' > '%s' 2>&1",
             out, exprs, py);
    rc = s_sh(cmd);
    char *text = s_slurp(py);
    if (rc != 0)
        fail_msg("python3 on kc-query %s: exit %d: %s\n%s", args, rc, text, s_slurp(out));
    remove(out);
    remove(py);
    size_t n = strlen(text);
    while (n && text[n - 1] == '\n')
        text[--n] = '\0';
    return text;
}

static void test_kc_query_as_of(void **state)
{
    (void)state;
    char args[256];
    snprintf(args, sizeof args, "--as-of-offset %llu", (unsigned long long)s_after_pair);
    assert_string_equal(s_query_py(args, "d[\"totals\"][\"amount_vnd\"]"), PAIR);
    snprintf(args, sizeof args, "--as-of-offset %llu --by province",
             (unsigned long long)s_after_pair);
    assert_string_equal(
        s_query_py(args, "[(r[\"key\"], r[\"totals\"][\"amount_vnd\"]) for r in d[\"rows\"]]"),
        "[('01', 5), ('79', 9223372036854775807)]");
    assert_string_equal(s_query_py("--as-of-offset 99999999", "d[\"totals\"][\"amount_vnd\"]"),
                        ALL);
    assert_string_equal(s_query_py("--as-of 2999-01-01 --province 79",
                                   "d[\"totals\"][\"amount_vnd\"];d[\"events\"]"),
                        ONLY9 "\n27672");
    /* and the live answer (no --as-of) */
    assert_string_equal(s_query_py("--province 79 --province 01", "d[\"totals\"][\"amount_vnd\"]"),
                        ALL);
}

static void test_replay_verify(void **state)
{
    (void)state;
    const char *bin = getenv("KC_BIN_DIR");
    char cmd[2048], out[600];
    snprintf(out, sizeof out, "%s.replay", s_dir);
    snprintf(cmd, sizeof cmd, "'%s/kc-replay' verify --store '%s' --quiet > '%s' 2>&1", bin, s_dir,
             out);
    int rc = s_sh(cmd);
    if (rc != 0)
        fail_msg("kc-replay verify: exit %d:\n%s", rc, s_slurp(out));
    remove(out);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    kc_log_set_sink(t_log_drop, NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_asof_sums),
        cmocka_unit_test(test_kc_query_as_of),
        cmocka_unit_test(test_replay_verify),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
