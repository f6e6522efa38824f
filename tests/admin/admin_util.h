/* admin_util.h - running kc-admin and the other programs from the admin tests. */
#ifndef KC_ADMIN_UTIL_H
#define KC_ADMIN_UTIL_H

#include "harness.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KC_RUN_MS 120000

/* Run $KC_BIN_DIR/prog with args (NULL-terminated) to completion (bounded);
 * stdout to <tmp>/<tag>.out, stderr to <tag>.err. Returns the exit code
 * (-1 if it died by a signal); the two files' contents in *out / *err
 * (malloc'd, may be NULL). */
static int kc_run(const char *tag, char **out, char **err, const char *prog, ...)
{
    static int n;
    char bin[KC_PATH_MAX], op[KC_PATH_MAX], ep[KC_PATH_MAX];
    char *argv[32];
    int argc = 0;
    argv[argc++] = kc_harness_bin(bin, prog);
    va_list ap;
    va_start(ap, prog);
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL && argc < 31)
        argv[argc++] = (char *)a;
    va_end(ap);
    argv[argc] = NULL;
    n++;
    kc_harness_path(op, "%s-%d.out", tag, n);
    kc_harness_path(ep, "%s-%d.err", tag, n);
    pid_t pid = kc_harness_spawn(argv, op, ep);
    int st = 0;
    KC_CHECK(kc_harness_wait(pid, KC_RUN_MS, &st) == 0, "%s %s did not end in time", prog, tag);
    const char *paths[2] = {op, ep};
    char **dst[2] = {out, err};
    for (int i = 0; i < 2; i++) {
        if (!dst[i])
            continue;
        *dst[i] = NULL;
        FILE *f = fopen(paths[i], "r");
        if (!f)
            continue;
        size_t cap = 1 << 20, len = 0;
        char *buf = malloc(cap);
        size_t r;
        while (buf && (r = fread(buf + len, 1, cap - 1 - len, f)) > 0) {
            len += r;
            if (len + 1 == cap) {
                char *nb = realloc(buf, cap *= 2);
                if (!nb)
                    break;
                buf = nb;
            }
        }
        if (buf)
            buf[len] = '\0';
        fclose(f);
        *dst[i] = buf;
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Run and require exit 0; frees the output. */
#define KC_RUN_OK(tag, prog, ...)                                                                  \
    do {                                                                                           \
        char *o_, *e_;                                                                             \
        int rc_ = kc_run(tag, &o_, &e_, prog, __VA_ARGS__, (const char *)NULL);                    \
        KC_CHECK(rc_ == 0, "%s %s exited %d: %s%s", prog, tag, rc_, o_ ? o_ : "", e_ ? e_ : "");   \
        free(o_);                                                                                  \
        free(e_);                                                                                  \
    } while (0)

/* Parse JSON text (the test fails if it is not JSON). */
static json_t *kc_json(const char *text, const char *what)
{
    json_error_t je;
    json_t *j = text ? json_loads(text, 0, &je) : NULL;
    KC_CHECK(j != NULL, "%s is not JSON: %s", what, text ? je.text : "(no output)");
    return j;
}

static long long kc_json_int(json_t *o, const char *path)
{
    json_t *v = json_object_get(o, path);
    KC_CHECK(json_is_integer(v), "no integer \"%s\"", path);
    return (long long)json_integer_value(v);
}

#endif
