/* sec_listen_test.c - where kc-aggregator agrees to listen, and how it keeps its files.
 *
 * Without keys it listens on loopback or ipc only and says so (KC-SEC-007); a
 * non-loopback endpoint needs --insecure (exit 64 otherwise) and is then
 * logged (KC-SEC-008); --curve-secret and --registry go together; a bad
 * registry or certificate stops the start (exit 69). The store it creates is
 * 0700 with 0600 files (umask 077), and so is the ready file.
 */
#include "harness.h"
#include "sec_util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <sys/stat.h>

#include <cmocka.h>

static int s_n; /* refused starts so far */

/* Start kc-aggregator with args expecting it to exit; returns the exit code and
 * the path of its stderr in err. */
static int s_refused(const char *const *args, char *err)
{
    char bin[KC_PATH_MAX], store[KC_PATH_MAX];
    kc_harness_bin(bin, "kc-aggregator");
    kc_harness_path(store, "refused-store-%d", ++s_n);
    kc_harness_path(err, "refused-%d.err", s_n);
    char *argv[24];
    int n = 0;
    argv[n++] = bin;
    argv[n++] = "--store";
    argv[n++] = store;
    for (int i = 0; args[i] && n < 23; i++)
        argv[n++] = (char *)args[i];
    argv[n] = NULL;
    int rc = sec_run(argv, NULL, err);
    struct stat st;
    assert_int_not_equal(stat(store, &st), 0); /* refused before the store was touched */
    return rc;
}

static void test_non_loopback_needs_insecure(void **state)
{
    (void)state;
    char err[KC_PATH_MAX], ep[64];
    snprintf(ep, sizeof ep, "tcp://0.0.0.0:%d", kc_harness_free_port());
    const char *a1[] = {"--listen", ep, NULL};
    assert_int_equal(s_refused(a1, err), 64);
    assert_true(sec_count(err, "--insecure") >= 1);
    const char *a2[] = {"--listen", "tcp://*:5555", NULL};
    assert_int_equal(s_refused(a2, err), 64);
    const char *a3[] = {"--listen", "tcp://10.1.2.3:5555", NULL};
    assert_int_equal(s_refused(a3, err), 64);

    /* with --insecure it starts (if this sandbox lets us bind the wildcard address) */
    kc_agg_t a = {0};
    char store[KC_PATH_MAX];
    kc_harness_path(store, "insecure-store");
    const char *extra[] = {"--insecure", NULL};
    kc_harness_agg_start(&a, store, ep, extra);
    char log[KC_PATH_MAX];
    kc_harness_path(log, "agg-%d.err", a.incarnation);
    sec_wait_log(log, "KC-SEC-008 INSECURE", 1, 10000);
    kc_harness_agg_term(&a);
}

static void test_key_options(void **state)
{
    (void)state;
    char err[KC_PATH_MAX], pub[41], reg[KC_PATH_MAX], secret[KC_PATH_MAX];
    sec_keygen("srv", "aggregator", pub);
    kc_harness_path(secret, "srv_secret");
    kc_harness_path(reg, "bad-registry");
    const char *a1[] = {"--curve-secret", secret, NULL};
    assert_int_equal(s_refused(a1, err), 64);
    const char *a2[] = {"--registry", reg, NULL};
    assert_int_equal(s_refused(a2, err), 64);
    sec_write_file(reg, "producer office-79 key \"nope\" provinces 79\n");
    const char *a3[] = {"--curve-secret", secret, "--registry", reg, NULL};
    char bin[KC_PATH_MAX], store[KC_PATH_MAX], log[KC_PATH_MAX];
    kc_harness_bin(bin, "kc-aggregator");
    kc_harness_path(store, "badreg-store");
    kc_harness_path(log, "badreg.err");
    char *argv[] = {bin,           "--store",     store,         "--listen",    "tcp://127.0.0.1:*",
                    (char *)a3[0], (char *)a3[1], (char *)a3[2], (char *)a3[3], NULL};
    assert_int_equal(sec_run(argv, NULL, log), 69);
    assert_true(sec_count(log, "bad-registry:1:") >= 1);
    /* the public certificate is not a secret one */
    char pubfile[KC_PATH_MAX];
    kc_harness_path(pubfile, "srv");
    sec_write_file(reg, "");
    argv[6] = pubfile;
    assert_int_equal(sec_run(argv, NULL, log), 69);
    assert_true(sec_count(log, "no curve/secret-key") >= 1);
}

static void s_check_modes(const char *dir)
{
    struct stat st;
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *de;
    int files = 0;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char path[KC_PATH_MAX + 256];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        assert_int_equal(lstat(path, &st), 0);
        if (!S_ISREG(st.st_mode))
            continue;
        if ((st.st_mode & 0777) != 0600)
            fail_msg("%s has mode %o, expected 0600", path, st.st_mode & 0777);
        files++;
    }
    closedir(d);
    assert_true(files >= 2); /* data.mdb, lock.mdb at least */
}

static void test_loopback_plaintext_and_modes(void **state)
{
    (void)state;
    kc_agg_t a = {0};
    char store[KC_PATH_MAX], log[KC_PATH_MAX];
    kc_harness_path(store, "parent/store"); /* parents are created too */
    kc_harness_agg_start(&a, store, "tcp://127.0.0.1:*", NULL);
    kc_harness_path(log, "agg-%d.err", a.incarnation);
    sec_wait_log(log, "KC-SEC-007 no CURVE keys", 1, 10000);
    assert_int_equal(sec_count(log, "KC-SEC-009"), 0); /* nothing too open */
    struct stat st;
    assert_int_equal(stat(a.ready, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    kc_harness_agg_term(&a);
    s_check_modes(store);
    char parent[KC_PATH_MAX];
    kc_harness_path(parent, "parent");
    assert_int_equal(stat(parent, &st), 0);
    assert_int_equal(st.st_mode & 0077, 0);
}

static int s_setup(void **state)
{
    (void)state;
    kc_harness_init("security-listen");
    return 0;
}

static int s_teardown(void **state)
{
    (void)state;
    kc_harness_pass();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_non_loopback_needs_insecure),
        cmocka_unit_test(test_key_options),
        cmocka_unit_test(test_loopback_plaintext_and_modes),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
