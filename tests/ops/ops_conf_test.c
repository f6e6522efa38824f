/* ops_conf_test.c - kc_conf_merge() and the logger's targets, in-process.
 *
 * Config: a file in a temporary KCPIPE_CONFIG_DIR becomes arguments before the
 * command line's (so flags win), repeatable keys add up, flags take
 * true/false/yes/no/on/off/1/0, and every error names FILE:LINE (reported
 * through kc_conf_set_reporter, captured here). Logging: the journal target's
 * fields through kc_log_set_journal_sender (no journald needed), the stable
 * MESSAGE_ID recomputed independently, and a syslog smoke test.
 */
#include "kc_conf.h"
#include "kc_log.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

static const struct option s_opts[] = {
    {"store", required_argument, NULL, 's'}, {"region", required_argument, NULL, 'r'},
    {"insecure", no_argument, NULL, 'I'},    {"plain", no_argument, NULL, 'p'},
    {"lang", optional_argument, NULL, 'l'},  {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},     {NULL, 0, NULL, 0},
};

static char s_dir[256];
static char s_errs[8192];

static void s_capture(const char *msg, void *ctx)
{
    (void)ctx;
    strncat(s_errs, msg, sizeof s_errs - strlen(s_errs) - 2);
    strcat(s_errs, "\n");
}

static void s_write(const char *name, const char *text)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", s_dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int s_merge(kc_conf_args_t *a, int argc, char **argv)
{
    s_errs[0] = '\0';
    kc_conf_set_reporter(s_capture, NULL);
    int rc = kc_conf_merge("kc-test", "test", s_opts, argc, argv, a);
    kc_conf_set_reporter(NULL, NULL);
    return rc;
}

static int s_setup(void **state)
{
    (void)state;
    snprintf(s_dir, sizeof s_dir, "/tmp/ops_conf_test.XXXXXX");
    assert_non_null(mkdtemp(s_dir));
    setenv("KCPIPE_CONFIG_DIR", s_dir, 1);
    return 0;
}

static int s_teardown(void **state)
{
    (void)state;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_merge_flags_win(void **state)
{
    (void)state;
    s_write("test.conf", "# a comment\n"
                         "; another\n"
                         "\n"
                         "store = /var/lib/x   # inline comment\n"
                         "region = south\n"
                         "  region = north\n"
                         "insecure = yes\n"
                         "plain = off\n");
    char *argv[] = {"kc-test", "--store", "/cli", "--region=central_highlands", "op", NULL};
    kc_conf_args_t a;
    assert_int_equal(s_merge(&a, 5, argv), 0);
    assert_string_equal(s_errs, "");
    assert_non_null(a.path);
    assert_int_equal(a.file_args, 4); /* plain = off adds nothing */
    assert_int_equal(a.settings, 5);
    assert_int_equal(a.argc, 1 + 4 + 4);
    assert_string_equal(a.argv[1], "--store=/var/lib/x");
    assert_string_equal(a.argv[2], "--region=south");
    assert_string_equal(a.argv[3], "--region=north");
    assert_string_equal(a.argv[4], "--insecure");
    assert_string_equal(a.argv[5], "--store");
    assert_string_equal(a.argv[6], "/cli");
    char where[600];
    snprintf(where, sizeof where, "%s/test.conf:6", s_dir);
    assert_string_equal(kc_conf_origin(&a, 3), where);
    assert_null(kc_conf_origin(&a, 6));
    /* the program's own parser: the later --store (the command line's) wins, regions add up */
    const char *store = NULL;
    int regions = 0, insecure = 0, c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(a.argc, a.argv, "", s_opts, NULL)) != -1) {
        if (c == 's')
            store = optarg;
        else if (c == 'r')
            regions++;
        else if (c == 'I')
            insecure = 1;
    }
    assert_string_equal(store, "/cli");
    assert_int_equal(regions, 3);
    assert_int_equal(insecure, 1);
    assert_string_equal(a.argv[optind], "op");
    /* blame: a value from the file names its line, one from the command line nothing */
    snprintf(where, sizeof where, "%s/test.conf:4: ", s_dir);
    assert_string_equal(kc_conf_blame(a.orig[0] + 8), where);
    assert_string_equal(kc_conf_blame(argv[2]), "");
    assert_string_equal(kc_conf_blame(NULL), "");
    assert_int_equal(kc_conf_usage_exit(a.orig[0] + 8, 64), KC_EX_CONFIG);
    assert_int_equal(kc_conf_usage_exit(argv[2], 64), 64);
    assert_false(kc_conf_check_done(&a));
    kc_conf_args_free(&a);
}

static void test_merge_errors(void **state)
{
    (void)state;
    s_write("test.conf", "store = /x\n"          /* 1 ok */
                         "[main]\n"              /* 2 section */
                         "bogus = 1\n"           /* 3 unknown key */
                         "insecure = maybe\n"    /* 4 bad flag value */
                         "region =\n"            /* 5 missing value */
                         "region\n"              /* 6 no '=' */
                         "help = true\n"         /* 7 refused */
                         "config = /etc/other\n" /* 8 refused */
                         "lang =\n");            /* 9 ok: an optional value */
    char *argv[] = {"kc-test", NULL};
    kc_conf_args_t a;
    assert_int_equal(s_merge(&a, 1, argv), KC_EX_CONFIG);
    char want[4096];
    snprintf(want, sizeof want,
             "%1$s/test.conf:2: sections are not allowed ('[main]'): write KEY = VALUE lines only\n"
             "%1$s/test.conf:3: unknown key 'bogus' (keys are kc-test's long options without "
             "'--')\n"
             "%1$s/test.conf:4: 'insecure' is a flag: its value is true or false (yes/no, on/off, "
             "1/0), not 'maybe'\n"
             "%1$s/test.conf:5: 'region' needs a value\n"
             "%1$s/test.conf:6: expected KEY = VALUE, not 'region'\n"
             "%1$s/test.conf:7: 'help' cannot be set in a config file\n"
             "%1$s/test.conf:8: 'config' cannot be set in a config file\n",
             s_dir);
    assert_string_equal(s_errs, want);
}

static void test_which_file(void **state)
{
    (void)state;
    kc_conf_args_t a;
    /* no default file: fine, nothing added */
    char p[512];
    snprintf(p, sizeof p, "%s/test.conf", s_dir);
    unlink(p);
    char *argv1[] = {"kc-test", "--check-config", "--plain", NULL};
    assert_int_equal(s_merge(&a, 3, argv1), 0);
    assert_null(a.path);
    assert_true(a.check);
    assert_int_equal(a.argc, 2);
    assert_string_equal(a.argv[1], "--plain");
    kc_conf_args_free(&a);
    /* --config FILE must exist */
    char *argv2[] = {"kc-test", "--config", "/nonexistent/x.conf", NULL};
    assert_int_equal(s_merge(&a, 3, argv2), KC_EX_CONFIG);
    assert_non_null(strstr(s_errs, "/nonexistent/x.conf: cannot read the config file"));
    /* --config=FILE elsewhere; --no-config skips the default one */
    s_write("other.conf", "plain = 1\n");
    s_write("test.conf", "bogus = 1\n");
    char arg[600];
    snprintf(arg, sizeof arg, "--config=%s/other.conf", s_dir);
    char *argv3[] = {"kc-test", arg, NULL};
    assert_int_equal(s_merge(&a, 2, argv3), 0);
    assert_int_equal(a.file_args, 1);
    assert_string_equal(a.argv[1], "--plain");
    kc_conf_args_free(&a);
    char *argv4[] = {"kc-test", "--no-config", NULL};
    assert_int_equal(s_merge(&a, 2, argv4), 0);
    assert_int_equal(a.argc, 1);
    kc_conf_args_free(&a);
    char *argv5[] = {"kc-test", "--no-config", "--config", "/x", NULL};
    assert_int_equal(s_merge(&a, 4, argv5), 64);
    /* an option's value that looks like --config is that option's value */
    char *argv6[] = {"kc-test", "--no-config", "--store", "--config", NULL};
    assert_int_equal(s_merge(&a, 4, argv6), 0);
    assert_int_equal(a.argc, 3);
    assert_string_equal(a.argv[2], "--config");
    kc_conf_args_free(&a);
}

/* ---- logging ---- */

typedef struct {
    int calls;
    char fields[8][256];
    int n;
} s_journal_t;

static int s_fake_journal(const struct iovec *iov, int n, void *ctx)
{
    s_journal_t *j = ctx;
    j->calls++;
    j->n = n;
    for (int i = 0; i < n && i < 8; i++)
        snprintf(j->fields[i], sizeof j->fields[i], "%.*s", (int)iov[i].iov_len,
                 (const char *)iov[i].iov_base);
    return 0;
}

static const char *s_field(const s_journal_t *j, const char *name)
{
    size_t l = strlen(name);
    for (int i = 0; i < j->n; i++)
        if (strncmp(j->fields[i], name, l) == 0 && j->fields[i][l] == '=')
            return j->fields[i] + l + 1;
    return NULL;
}

static void test_journal_fields(void **state)
{
    (void)state;
    s_journal_t j = {0};
    kc_log_set_ident("kc-test");
    kc_log_set_journal_sender(s_fake_journal, &j);
    kc_log_set_target(KC_LOG_TARGET_JOURNAL);
    assert_int_equal(kc_log_get_target(), KC_LOG_TARGET_JOURNAL);
    kc_warn("KC-SEC-003 rejected producer=%s seq=%d", "office-79", 7);
    assert_int_equal(j.calls, 1);
    assert_int_equal(j.n, 5);
    assert_string_equal(s_field(&j, "MESSAGE"), "KC-SEC-003 rejected producer=office-79 seq=7");
    assert_string_equal(s_field(&j, "PRIORITY"), "4");
    assert_string_equal(s_field(&j, "SYSLOG_IDENTIFIER"), "kc-test");
    assert_string_equal(s_field(&j, "KC_MESSAGE_ID"), "KC-SEC-003");
    /* MESSAGE_ID = the first 16 bytes of SHA-256("kcpipe/KC-SEC-003"), hex */
    unsigned char h[32];
    crypto_hash_sha256(h, (const unsigned char *)"kcpipe/KC-SEC-003", 17);
    char hex[33];
    for (int i = 0; i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x", h[i]);
    assert_string_equal(s_field(&j, "MESSAGE_ID"), hex);
    assert_int_equal(strlen(hex), 32);
    /* no id token: no MESSAGE_ID; levels map to syslog priorities */
    kc_error("plain text %d", 1);
    assert_int_equal(j.n, 3);
    assert_null(s_field(&j, "MESSAGE_ID"));
    assert_string_equal(s_field(&j, "PRIORITY"), "3");
    kc_info("KC-AGG-001 started");
    assert_string_equal(s_field(&j, "PRIORITY"), "6");
    assert_string_equal(s_field(&j, "KC_MESSAGE_ID"), "KC-AGG-001");
    kc_log_set_level(KC_LOG_DEBUG);
    kc_debug("KC-REJ-001 duplicate x");
    assert_string_equal(s_field(&j, "PRIORITY"), "7");
    kc_log_set_level(KC_LOG_INFO);
    kc_debug("dropped");
    assert_int_equal(j.calls, 4);
    /* not tokens */
    assert_int_equal(kc_log_message_token("KC-SEC-0031 x"), 0);
    assert_int_equal(kc_log_message_token("KC-sec-003 x"), 0);
    assert_int_equal(kc_log_message_token("xKC-SEC-003"), 0);
    assert_int_equal(kc_log_message_token("KC-SEC-003"), 10);
    kc_log_set_journal_sender(NULL, NULL);
    kc_log_set_target(KC_LOG_TARGET_STDERR);
}

static void test_targets(void **state)
{
    (void)state;
    kc_log_target_t t;
    assert_int_equal(kc_log_parse_target("journal", &t), 0);
    assert_int_equal(t, KC_LOG_TARGET_JOURNAL);
    assert_int_equal(kc_log_parse_target("auto", &t), 0);
    assert_int_not_equal(kc_log_parse_target("file", &t), 0);
    /* auto: stderr unless JOURNAL_STREAM names our stderr */
    unsetenv("JOURNAL_STREAM");
    kc_log_set_target(KC_LOG_TARGET_AUTO);
    assert_int_equal(kc_log_get_target(), KC_LOG_TARGET_STDERR);
    struct stat st;
    assert_int_equal(fstat(2, &st), 0);
    char js[64];
    snprintf(js, sizeof js, "%llu:%llu", (unsigned long long)st.st_dev,
             (unsigned long long)st.st_ino);
    setenv("JOURNAL_STREAM", js, 1);
    kc_log_set_target(KC_LOG_TARGET_AUTO);
    assert_int_equal(kc_log_get_target(), KC_LOG_TARGET_JOURNAL);
    unsetenv("JOURNAL_STREAM");
    /* syslog smoke: opens, logs (wherever /dev/log leads, or nowhere), closes */
    kc_log_set_target(KC_LOG_TARGET_SYSLOG);
    assert_int_equal(kc_log_get_target(), KC_LOG_TARGET_SYSLOG);
    kc_warn("KC-REJ-005 rejected producer=test seq=1: ops_conf_test syslog smoke");
    kc_log_set_target(KC_LOG_TARGET_STDERR);
    assert_int_equal(kc_log_get_target(), KC_LOG_TARGET_STDERR);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_merge_flags_win), cmocka_unit_test(test_merge_errors),
        cmocka_unit_test(test_which_file),      cmocka_unit_test(test_journal_fields),
        cmocka_unit_test(test_targets),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
