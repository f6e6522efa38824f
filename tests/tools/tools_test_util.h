/* tools_test_util.h - the tools' process tests (query_test, overflow_test): a
 * store in a temporary directory, filled once by the test through libkcstore,
 * and programs run against it as real processes with their output captured.
 *
 * The directory comes from kc_test_dir_make() (tests/store/store_test_util.h);
 * each run writes its stdout and stderr to <root>/out and <root>/err, so one
 * fixture runs one program at a time.
 */
#ifndef KC_TOOLS_TEST_UTIL_H
#define KC_TOOLS_TEST_UTIL_H

#include "../store/store_test_util.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define T_TOOLS_ARGS 64 /* arguments of one run, the program's path included */

typedef struct {
    kc_test_dir_t dir; /* root (removed at the end) and root/store */
    const char *bin;   /* $KC_BIN_DIR: the programs of the build */
} t_tools_t;

/* cmocka group set-up: make the directory and the store in *t, run fill(txn,
 * ctx) in one write transaction, close the store; *state = t. Returns 0, or
 * -1 if $KC_BIN_DIR is unset or the store cannot be opened or written. */
static inline int t_tools_setup(void **state, t_tools_t *t, int (*fill)(kc_txn_t *txn, void *ctx),
                                void *ctx)
{
    t->bin = getenv("KC_BIN_DIR");
    if (!t->bin)
        return -1;
    kc_test_dir_make(&t->dir);
    *state = t;
    kc_store_t *st = NULL;
    kc_store_opts_t opts = {0};
    if (kc_store_open(&st, t->dir.store, &opts))
        return -1;
    int rc = kc_store_write(st, fill, ctx);
    kc_store_close(&st);
    return rc ? -1 : 0;
}

/* cmocka group tear-down of t_tools_setup(): removes the directory. */
static inline int t_tools_teardown(void **state)
{
    t_tools_t *t = *state;
    if (t)
        kc_test_dir_remove(&t->dir);
    return 0;
}

/* The whole of the file at path (malloc'd, NUL-terminated); aborts if it
 * cannot be read. */
static inline char *t_tools_slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        abort();
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    char chunk[4096];
    size_t r;
    while ((r = fread(chunk, 1, sizeof chunk, f)) > 0)
        fwrite(chunk, 1, r, m);
    fclose(m);
    fclose(f);
    return buf;
}

/* Run argv (argv[0] a path, or a name looked up in PATH) to its end, stdout
 * to <root>/out and stderr to <root>/err; their texts in *out and *err
 * (malloc'd; a NULL out or err drops that text). Returns the exit status (127
 * if it could not start), -1 if it died by a signal. */
static inline int t_tools_exec(const t_tools_t *t, char *const argv[], char **out, char **err)
{
    char fout[PATH_MAX + 8], ferr[PATH_MAX + 8];
    snprintf(fout, sizeof fout, "%s/out", t->dir.root);
    snprintf(ferr, sizeof ferr, "%s/err", t->dir.root);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        abort();
    }
    if (pid == 0) {
        int fo = open(fout, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int fe = open(ferr, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fo < 0 || fe < 0 || dup2(fo, 1) < 0 || dup2(fe, 2) < 0)
            _exit(127);
        execvp(argv[0], argv);
        _exit(127);
    }
    int status;
    if (waitpid(pid, &status, 0) != pid) {
        perror("waitpid");
        abort();
    }
    const char *files[2] = {fout, ferr};
    char **dst[2] = {out, err};
    for (int i = 0; i < 2; i++)
        if (dst[i])
            *dst[i] = t_tools_slurp(files[i]);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* t_tools_exec() of $KC_BIN_DIR/prog with the arguments pre[0..npre) and then
 * those of ap up to a NULL (T_TOOLS_ARGS - 1 in all; more are dropped). */
static inline int t_tools_vrun(const t_tools_t *t, char **out, char **err, const char *prog,
                               const char *const pre[], size_t npre, va_list ap)
{
    char path[PATH_MAX];
    char *argv[T_TOOLS_ARGS];
    int n = 0;
    snprintf(path, sizeof path, "%s/%s", t->bin, prog);
    argv[n++] = path;
    for (size_t i = 0; i < npre && n < T_TOOLS_ARGS - 1; i++)
        argv[n++] = (char *)pre[i];
    for (const char *a; n < T_TOOLS_ARGS - 1 && (a = va_arg(ap, const char *));)
        argv[n++] = (char *)a;
    argv[n] = NULL;
    return t_tools_exec(t, argv, out, err);
}

#endif
