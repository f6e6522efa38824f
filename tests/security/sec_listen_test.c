/* sec_listen_test.c - where kc-aggregator agrees to listen, and how it keeps its files.
 *
 * Without keys it listens on loopback or ipc only and says so (KC-SEC-007); a
 * non-loopback endpoint needs --insecure (exit 64 otherwise) and is then
 * logged (KC-SEC-008); --curve-secret and --registry go together; a bad
 * registry or certificate stops the start (exit 69). The store it creates is
 * 0700 with 0600 files (umask 077), and so is the ready file. localhost, which
 * libzmq cannot bind by name, is bound as 127.0.0.1 (--listen, --feed, --http)
 * and said so; a producer connecting to tcp://localhost is served.
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

static void test_localhost_is_127_0_0_1(void **state)
{
    (void)state;
    kc_agg_t a = {0};
    char store[KC_PATH_MAX], log[KC_PATH_MAX], listen[64], feed[64], want[128];
    /* kc_harness_free_port() answers the same free port until it is taken: the
     * feed takes the two above it (outside the ephemeral range too) */
    int port = kc_harness_free_port(), fport = port + 2;
    snprintf(listen, sizeof listen, "tcp://localhost:%d", port);
    snprintf(feed, sizeof feed, "tcp://localhost:%d", fport);
    kc_harness_path(store, "localhost-store");
    const char *extra[] = {"--feed", feed, "--http", "localhost:0", NULL};
    kc_harness_agg_start(&a, store, listen, extra);
    kc_harness_path(log, "agg-%d.err", a.incarnation);
    /* bound as the IPv4 loopback, each of them, and the ready file says so */
    snprintf(want, sizeof want, "tcp://127.0.0.1:%d", port);
    assert_string_equal(a.endpoint, want);
    snprintf(want, sizeof want, "feed tcp://127.0.0.1:%d", fport);
    assert_int_equal(sec_count(a.ready, want), 1);
    snprintf(want, sizeof want, "snapshot tcp://127.0.0.1:%d", fport + 1);
    assert_int_equal(sec_count(a.ready, want), 1);
    assert_int_equal(sec_count(a.ready, "http http://127.0.0.1:"), 1);
    assert_int_equal(sec_count(a.ready, "localhost"), 0);
    /* the started line names the endpoint bound and what localhost became */
    snprintf(want, sizeof want, "KC-AGG-001 started: listening on tcp://127.0.0.1:%d ", port);
    sec_wait_log(log, want, 1, 10000);
    snprintf(want, sizeof want, "; tcp://localhost:%d bound as 127.0.0.1)", port);
    assert_int_equal(sec_count(log, want), 1);
    assert_int_equal(sec_count(log, "No such device"), 0);
    /* a producer given tcp://localhost:PORT is served */
    char csv[KC_PATH_MAX], spool[KC_PATH_MAX], out[KC_PATH_MAX];
    kc_harness_path(csv, "localhost.csv");
    FILE *f = fopen(csv, "w");
    assert_non_null(f);
    fprintf(f, "event_id,province,year,month,activity,amount_vnd,facilities\n"
               "LH-1,79,2022,3,machinery,1000000,1\nLH-2,79,2022,4,machinery,2000000,1\n");
    assert_int_equal(fclose(f), 0);
    kc_harness_path(spool, "localhost-spool");
    kc_harness_path(out, "localhost-send.out");
    const char *send_extra[] = {"--timeout", "30", NULL};
    pid_t pid = kc_harness_send_start(listen, "office-79", spool, csv, out, send_extra);
    kc_summary_t sum;
    kc_harness_send_check(pid, out, 60000, 2, &sum);
    assert_int_equal(sum.accepted, 2);
    kc_harness_agg_term(&a);
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
        cmocka_unit_test(test_localhost_is_127_0_0_1),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
