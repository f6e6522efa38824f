/* logfile_tool_test.c - kc-log export/info, kc-audit verify --file and
 * kc-audit history end to end, on a store built through kc_apply with a
 * correction chain (record -> correction -> correction -> retraction). */
#include "agg_test_util.h"
#include "kc_apply.h"
#include "kc_audit.h"
#include "kc_err.h"
#include "kc_log.h"
#include "kc_store.h"

#include <jansson.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>

#include <cmocka.h>
#include <sodium.h>

#define S_CORR   KCPIPE__V1__OP__OP_CORRECTION
#define S_RETR   KCPIPE__V1__OP__OP_RETRACTION
#define N_EVENTS 6
#define G_PUBKEY "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8"

typedef struct {
    char *dir;
    char store[PATH_MAX];
    char file[PATH_MAX];
    char pk[65];
    uint64_t received[N_EVENTS];
    uint64_t seq;
    int n; /* scratch files */
} fixture_t;

static void s_send(kc_store_t *store, fixture_t *f, t_event_t *e)
{
    if (e->ev.metrics)
        e->ev.metrics = &e->m;
    e->ev.has_seq = 1;
    e->ev.seq = ++f->seq;
    t_buf_t b = t_event_pack(e);
    t_buf_t batch = t_batch("p1", &b, 1);
    t_buf_free(&b);
    kc_apply_t *g = kc_apply_new();
    assert_int_equal(kc_apply_add(g, batch.data, batch.len), 0);
    t_buf_free(&batch);
    assert_int_equal(kc_apply_commit(g, store), 0);
    const kc_pb_ack_t *a = kc_apply_ack_msg(g, 0);
    assert_non_null(a);
    assert_int_equal(a->n_results, 0); /* accepted */
    kc_apply_destroy(&g);
}

static int group_setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    f->dir = t_tmpdir("logfile-tool");
    snprintf(f->store, sizeof f->store, "%s/store", f->dir);
    snprintf(f->file, sizeof f->file, "%s/log.kclog", f->dir);
    kc_store_t *s = NULL;
    kc_store_opts_t o = {0};
    if (kc_store_open(&s, f->store, &o) != 0)
        return -1;
    kc_store_set_head_interval(s, 0); /* a head after every commit */
    t_event_t e;
    t_event(&e, "p1", 0, "E-1", 100); /* offset 0 */
    s_send(s, f, &e);
    t_event(&e, "p1", 0, "X-1", 5); /* 1: unrelated */
    s_send(s, f, &e);
    t_event(&e, "p1", 0, "C-1", 70); /* 2: corrects E-1 */
    e.ev.has_op = 1;
    e.ev.op = S_CORR;
    e.ev.corrects = "E-1";
    s_send(s, f, &e);
    t_event(&e, "p1", 0, "C-2", 60); /* 3: corrects C-1 */
    e.ev.has_op = 1;
    e.ev.op = S_CORR;
    e.ev.corrects = "C-1";
    s_send(s, f, &e);
    t_event(&e, "p1", 0, "X-2", 5); /* 4: unrelated */
    s_send(s, f, &e);
    t_event(&e, "p1", 0, "R-1", 0); /* 5: retracts C-2 */
    e.ev.has_op = 1;
    e.ev.op = S_RETR;
    e.ev.corrects = "C-2";
    e.ev.has_year = e.ev.has_month = 0;
    e.ev.activity = NULL;
    e.ev.metrics = NULL;
    s_send(s, f, &e);
    kc_txn_t *t;
    if (kc_store_read_begin(s, &t) != 0)
        return -1;
    for (uint64_t i = 0; i < N_EVENTS; i++) {
        kc_log_entry_t le;
        if (kc_txn_log_get(t, i, &le) != 0)
            return -1;
        f->received[i] = le.received_ns;
    }
    kc_txn_end(&t);
    uint8_t pk[32];
    if (kc_store_public_key(s, pk) != 0)
        return -1;
    kc_merkle_hex(pk, 32, f->pk);
    kc_store_close(&s);
    *state = f;
    return 0;
}

static int group_teardown(void **state)
{
    fixture_t *f = *state;
    t_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

/* Run a program of the build with args; stdout and stderr into out[cap]. */
static int s_run(char *out, size_t cap, const char *prog, const char *fmt, ...)
{
    const char *bin = getenv("KC_BIN_DIR");
    char args[16384], cmd[20000];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "%s/%s %s 2>&1", bin ? bin : ".", prog, args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static void s_expect_run(int want, const char *needle, const char *prog, const char *args)
{
    char out[16384];
    int ex = s_run(out, sizeof out, prog, "%s", args);
    if (ex != want || (needle && !strstr(out, needle)))
        fail_msg("%s %s: exit %d (want %d), output:\n%s\n(wanted \"%s\")", prog, args, ex, want,
                 out, needle ? needle : "");
}

static void s_golden(char *out, size_t cap, const char *name)
{
    const char *src = getenv("KC_SOURCE_DIR");
    snprintf(out, cap, "%s/tests/logfile/golden/%s", src ? src : "../..", name);
}

/* ---- kc-log ---- */

static void test_export_info_verify(void **state)
{
    fixture_t *f = *state;
    char args[16384], want[PATH_MAX + 64];
    snprintf(args, sizeof args, "export --store %s --out %s", f->store, f->file);
    snprintf(want, sizeof want, "exported 6 entries to %s", f->file);
    s_expect_run(0, want, "kc-log", args);
    snprintf(args, sizeof args, "info %s", f->file);
    s_expect_run(0, "records:        6\n", "kc-log", args);
    s_expect_run(0, "valid with the header's key", "kc-log", args);
    snprintf(want, sizeof want, "public key:     %s\n", f->pk);
    s_expect_run(0, want, "kc-log", args);
    snprintf(args, sizeof args, "verify --file %s --key %s", f->file, f->pk);
    snprintf(want, sizeof want, "ok: %s: 6 records, head of size 6 signed at ", f->file);
    s_expect_run(0, want, "kc-audit", args);
    /* an earlier head */
    char f3[PATH_MAX + 16];
    snprintf(f3, sizeof f3, "%s/three.kclog", f->dir);
    snprintf(args, sizeof args, "export --store %s --out %s --size 3", f->store, f3);
    s_expect_run(0, "exported 3 entries", "kc-log", args);
    snprintf(args, sizeof args, "verify --file %s --key %s", f3, f->pk);
    s_expect_run(0, "3 records, head of size 3", "kc-audit", args);
}

static void test_log_usage_and_errors(void **state)
{
    fixture_t *f = *state;
    char args[16384];
    s_expect_run(0, "Usage: kc-log", "kc-log", "--help");
    s_expect_run(0, "kc-log ", "kc-log", "--version");
    s_expect_run(64, "no command", "kc-log", "");
    s_expect_run(64, "unknown command", "kc-log", "frobnicate");
    s_expect_run(64, "unknown option", "kc-log", "export --bogus");
    snprintf(args, sizeof args, "export --store %s", f->store);
    s_expect_run(64, "needs --out", "kc-log", args);
    snprintf(args, sizeof args, "export --store %s --out %s/x --size 99", f->store, f->dir);
    s_expect_run(65, "no signed head of size 99", "kc-log", args);
    snprintf(args, sizeof args, "export --store %s/none --out %s/x", f->dir, f->dir);
    s_expect_run(66, NULL, "kc-log", args);
    snprintf(args, sizeof args, "export --store %s --out %s/no/such/dir/x", f->store, f->dir);
    s_expect_run(69, "cannot export", "kc-log", args);
    snprintf(args, sizeof args, "info %s/missing.kclog", f->dir);
    s_expect_run(66, NULL, "kc-log", args);
    char g[PATH_MAX];
    s_golden(g, sizeof g, "unsupported-version.kclog");
    snprintf(args, sizeof args, "info %s", g);
    s_expect_run(65, "unsupported log file format version 2", "kc-log", args);
    s_golden(g, sizeof g, "truncated.kclog");
    snprintf(args, sizeof args, "info %s", g);
    s_expect_run(65, "signed head:    MISSING", "kc-log", args);
    s_golden(g, sizeof g, "current.kclog");
    snprintf(args, sizeof args, "info %s", g);
    s_expect_run(0, "head time:      2023-11-14T22:13:20.123456789Z", "kc-log", args);
}

/* ---- kc-audit verify --file ---- */

static void s_flip_copy(fixture_t *f, char *out, size_t cap, long at, size_t keep)
{
    snprintf(out, cap, "%s/t%d.kclog", f->dir, f->n++);
    FILE *in = fopen(f->file, "rb"), *o = fopen(out, "wb");
    assert_true(in && o);
    uint8_t buf[65536];
    size_t n = fread(buf, 1, sizeof buf, in);
    if (at >= 0)
        buf[at] ^= 0x01;
    assert_int_equal(fwrite(buf, 1, keep && keep < n ? keep : n, o), keep && keep < n ? keep : n);
    fclose(in);
    fclose(o);
}

static void test_verify_file_exit_codes(void **state)
{
    fixture_t *f = *state;
    char args[16384], p[PATH_MAX + 32];
    /* the event bytes of record 2: header 88 + records 0 and 1, + length 4 + 60 */
    FILE *in = fopen(f->file, "rb");
    uint8_t b[8192];
    size_t n = fread(b, 1, sizeof b, in);
    fclose(in);
    assert_true(n > 200);
    size_t pos = 88;
    for (int i = 0; i < 2; i++)
        pos += 4 +
               (((size_t)b[pos] << 24) | ((size_t)b[pos + 1] << 16) | ((size_t)b[pos + 2] << 8) |
                b[pos + 3]) +
               32;
    s_flip_copy(f, p, sizeof p, (long)pos + 4 + 60, 0);
    snprintf(args, sizeof args, "verify --file %s --key %s", p, f->pk);
    s_expect_run(1, "FAILED\nfirst bad record: 2\nreason: record 2:", "kc-audit", args);
    s_flip_copy(f, p, sizeof p, -1, pos + 10);
    snprintf(args, sizeof args, "verify --file %s --key %s", p, f->pk);
    s_expect_run(1, "FAILED\ntruncated at record 2\nreason: truncated at record 2 (of 6)",
                 "kc-audit", args);
    /* the key of another log */
    snprintf(args, sizeof args, "verify --file %s --key %s", f->file, G_PUBKEY);
    s_expect_run(1, "not the expected key", "kc-audit", args);
    snprintf(args, sizeof args, "verify --file %s", f->file);
    s_expect_run(64, "needs --key", "kc-audit", args);
    snprintf(args, sizeof args, "verify --file %s --key abc", f->file);
    s_expect_run(64, "not 64 hex digits", "kc-audit", args);
    snprintf(args, sizeof args, "verify --file %s/missing.kclog --key %s", f->dir, f->pk);
    s_expect_run(66, "cannot open", "kc-audit", args);
    /* the goldens */
    char g[PATH_MAX];
    s_golden(g, sizeof g, "current.kclog");
    snprintf(args, sizeof args, "verify --file %s --key %s", g, G_PUBKEY);
    s_expect_run(0, "5 records, head of size 5 signed at 2023-11-14T22:13:20.123456789Z",
                 "kc-audit", args);
    s_golden(g, sizeof g, "corrupt.kclog");
    snprintf(args, sizeof args, "verify --file %s --key %s", g, G_PUBKEY);
    s_expect_run(1, "first bad record: 2\n", "kc-audit", args);
    s_golden(g, sizeof g, "truncated.kclog");
    snprintf(args, sizeof args, "verify --file %s --key %s", g, G_PUBKEY);
    s_expect_run(1, "truncated at record 3\n", "kc-audit", args);
    s_golden(g, sizeof g, "unsupported-version.kclog");
    snprintf(args, sizeof args, "verify --file %s --key %s", g, G_PUBKEY);
    s_expect_run(1, "reason: unsupported log file format version 2", "kc-audit", args);
}

/* ---- kc-audit history ---- */

static void s_iso(uint64_t ns, char *buf, size_t cap)
{
    time_t sec = (time_t)(ns / 1000000000u);
    struct tm tm;
    gmtime_r(&sec, &tm);
    size_t n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, cap - n, ".%09llu", (unsigned long long)(ns % 1000000000u));
    strncat(buf, "Z", cap - strlen(buf) - 1);
}

static const uint64_t s_chain_off[] = {0, 2, 3, 5};
static const char *const s_chain_op[] = {"record", "correction", "correction", "retraction"};
static const char *const s_chain_id[] = {"E-1", "C-1", "C-2", "R-1"};
static const char *const s_chain_state[] = {"superseded", "superseded", "retracted", "live"};

static void test_history_table(void **state)
{
    fixture_t *f = *state;
    const char *ids[] = {"E-1", "C-1", "R-1"}; /* any version names the whole chain */
    for (int k = 0; k < 3; k++) {
        char out[16384], args[PATH_MAX + 128];
        snprintf(args, sizeof args, "--store %s history --province 79 --event %s", f->store,
                 ids[k]);
        int ex = s_run(out, sizeof out, "kc-audit", "%s", args);
        if (ex != 0)
            fail_msg("exit %d: %s", ex, out);
        char *line = strtok(out, "\n");
        assert_non_null(line);
        assert_non_null(strstr(line, "offset"));
        for (int i = 0; i < 4; i++) {
            /* each version's row (its offset in 12 columns), then its details:
             * lines indented by 14 spaces (producer, values, note, changed) */
            do
                line = strtok(NULL, "\n");
            while (line && i > 0 && strspn(line, " ") >= 14);
            assert_non_null(line);
            char ts[64], op[32], id[32], st[32];
            unsigned long long off;
            assert_int_equal(sscanf(line, "%llu %63s %31s %31s %31s", &off, ts, op, id, st), 5);
            char want_ts[64];
            s_iso(f->received[s_chain_off[i]], want_ts, sizeof want_ts);
            assert_int_equal(off, s_chain_off[i]);
            assert_string_equal(ts, want_ts);
            assert_string_equal(op, s_chain_op[i]);
            assert_string_equal(id, s_chain_id[i]);
            assert_string_equal(st, s_chain_state[i]);
        }
        while ((line = strtok(NULL, "\n")) != NULL) /* the last version's details */
            assert_true(strspn(line, " ") >= 14);
    }
    char args[PATH_MAX + 128];
    snprintf(args, sizeof args, "--store %s history --province 79 --event X-1", f->store);
    s_expect_run(0, "record      X-1                   live", "kc-audit", args);
}

static void test_history_json(void **state)
{
    fixture_t *f = *state;
    char out[16384];
    int ex = s_run(out, sizeof out, "kc-audit",
                   "--store %s history --province 79 --event C-2 --format json", f->store);
    if (ex != 0)
        fail_msg("exit %d: %s", ex, out);
    json_error_t err;
    json_t *j = json_loads(out, 0, &err);
    if (!j)
        fail_msg("not JSON (%s): %s", err.text, out);
    assert_string_equal(json_string_value(json_object_get(j, "province")), "79");
    assert_string_equal(json_string_value(json_object_get(j, "event_id")), "C-2");
    json_t *chains = json_object_get(j, "chains");
    assert_int_equal(json_array_size(chains), 1);
    json_t *v = json_array_get(chains, 0);
    assert_int_equal(json_array_size(v), 4);
    for (size_t i = 0; i < 4; i++) {
        json_t *x = json_array_get(v, i);
        char want_ts[64];
        s_iso(f->received[s_chain_off[i]], want_ts, sizeof want_ts);
        assert_int_equal(json_integer_value(json_object_get(x, "offset")), s_chain_off[i]);
        assert_int_equal((uint64_t)json_integer_value(json_object_get(x, "received_ns")),
                         f->received[s_chain_off[i]]);
        assert_string_equal(json_string_value(json_object_get(x, "received")), want_ts);
        assert_string_equal(json_string_value(json_object_get(x, "op")), s_chain_op[i]);
        assert_string_equal(json_string_value(json_object_get(x, "event_id")), s_chain_id[i]);
        assert_string_equal(json_string_value(json_object_get(x, "state")), s_chain_state[i]);
    }
    json_decref(j);
}

static void test_history_errors(void **state)
{
    fixture_t *f = *state;
    char args[PATH_MAX + 128];
    snprintf(args, sizeof args, "--store %s history --province 79 --event NOPE", f->store);
    s_expect_run(65, "no accepted event NOPE of province 79", "kc-audit", args);
    snprintf(args, sizeof args, "--store %s history --province 01 --event E-1", f->store);
    s_expect_run(65, "no accepted event", "kc-audit", args);
    snprintf(args, sizeof args, "--store %s history --province 0x --event E-1", f->store);
    s_expect_run(64, "not a province code", "kc-audit", args);
    snprintf(args, sizeof args, "--store %s history --province 79", f->store);
    s_expect_run(64, "needs --province P and --event ID", "kc-audit", args);
    snprintf(args, sizeof args, "--store %s history --province 79 --event E-1 --format xml",
             f->store);
    s_expect_run(64, "not table or json", "kc-audit", args);
    snprintf(args, sizeof args, "--store %s/none history --province 79 --event E-1", f->dir);
    s_expect_run(66, NULL, "kc-audit", args);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    kc_log_set_level(KC_LOG_ERROR);
    setenv("LC_ALL", "C.UTF-8", 1); /* the tools' English (--lang's default follows the locale) */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_export_info_verify),     cmocka_unit_test(test_log_usage_and_errors),
        cmocka_unit_test(test_verify_file_exit_codes), cmocka_unit_test(test_history_table),
        cmocka_unit_test(test_history_json),           cmocka_unit_test(test_history_errors),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
