/* sec_util.h - helpers of the security process tests: keys, registry, logs, CSV. */
#ifndef SEC_UTIL_H
#define SEC_UTIL_H

#include "harness.h"
#include "kc_cert.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SEC_RUN_MS 60000 /* bound on a short-lived program (kc-keygen, a refused start) */

/* Run argv to its end (bounded); returns its exit code (-1: killed by a signal). */
static inline int sec_run(char *const argv[], const char *out, const char *err)
{
    pid_t pid = kc_harness_spawn(argv, out, err);
    int st = 0;
    if (kc_harness_wait(pid, SEC_RUN_MS, &st) != 0) {
        kc_harness_stop(pid, SIGKILL, 5000);
        KC_CHECK(false, "%s did not end within %d ms", argv[0], SEC_RUN_MS);
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* kc-keygen --out <tmp>/name --name label; the public key into pub[41]. */
static inline void sec_keygen(const char *name, const char *label, char *pub)
{
    char bin[KC_PATH_MAX], out[KC_PATH_MAX], log[KC_PATH_MAX];
    kc_harness_bin(bin, "kc-keygen");
    kc_harness_path(out, "%s", name);
    kc_harness_path(log, "keygen-%s.err", name);
    char *argv[] = {bin, "--out", out, "--name", (char *)label, NULL};
    KC_CHECK(sec_run(argv, NULL, log) == 0, "kc-keygen --out %s failed", out);
    kc_cert_t c;
    char secret[KC_PATH_MAX + 8];
    snprintf(secret, sizeof secret, "%s_secret", out);
    KC_CHECK(kc_cert_load(secret, true, &c) == 0, "cannot read %s", secret);
    memcpy(pub, c.public_key, sizeof c.public_key);
}

/* Replace a file's content atomically (temporary file + rename). */
static inline void sec_write_file(const char *path, const char *text)
{
    char tmp[KC_PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    KC_CHECK(f != NULL, "cannot write %s: %s", tmp, strerror(errno));
    fputs(text, f);
    KC_CHECK(fclose(f) == 0 && rename(tmp, path) == 0, "cannot write %s", path);
}

/* How many lines of a file contain needle. */
static inline int sec_count(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char line[4096];
    int n = 0;
    while (fgets(line, sizeof line, f))
        n += strstr(line, needle) != NULL;
    fclose(f);
    return n;
}

/* Wait (bounded) until a file has at least `count` lines containing needle. */
static inline void sec_wait_log(const char *path, const char *needle, int count, int timeout_ms)
{
    int64_t deadline = kc_harness_now_ms() + timeout_ms;
    while (sec_count(path, needle) < count) {
        KC_CHECK(kc_harness_now_ms() < deadline, "no line '%s' (x%d) in %s within %d ms", needle,
                 count, path, timeout_ms);
        kc_harness_poll_pause();
    }
}

#endif
