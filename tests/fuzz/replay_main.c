/* replay_main.c - runs a fuzz harness over its committed corpus: the
 * regression test form of tests/fuzz/ (built with the normal compiler and
 * ASan+UBSan by scripts/test).
 *
 * Usage: fuzz_<name>_replay [FILE|DIR]...  Without arguments it reads
 * $KC_SOURCE_DIR/tests/fuzz/corpus/<name>/ and, if present,
 * $KC_SOURCE_DIR/tests/fuzz/regressions/<name>/ (KC_FUZZ_NAME is compiled
 * in). Every file is passed once to LLVMFuzzerTestOneInput, in name order;
 * a broken invariant aborts (the file is named on stderr first). Exit 0 after
 * the last file; 1 if no file was found or one could not be read.
 */
#include "fuzz_util.h"

#include <dirent.h>
#include <sys/stat.h>

#ifndef KC_FUZZ_NAME
#error "KC_FUZZ_NAME must name the harness"
#endif

static int s_files, s_errors;

static void s_run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: cannot open %s: %s\n", path, strerror(errno));
        s_errors++;
        return;
    }
    size_t cap = 4096, len = 0;
    uint8_t *buf = malloc(cap);
    size_t r;
    while (buf && (r = fread(buf + len, 1, cap - len, f)) > 0) {
        len += r;
        if (len == cap) {
            uint8_t *nb = realloc(buf, cap *= 2);
            if (!nb) {
                free(buf);
                buf = NULL;
            }
            buf = nb;
        }
    }
    fclose(f);
    if (!buf) {
        fprintf(stderr, "replay: out of memory reading %s\n", path);
        s_errors++;
        return;
    }
    fprintf(stderr, "replay: %s (%zu bytes)\n", path, len);
    /* an exact-size copy, so that ASan catches reads past the input's end */
    uint8_t *exact = malloc(len ? len : 1);
    if (len)
        memcpy(exact, buf, len);
    free(buf);
    LLVMFuzzerTestOneInput(exact, len);
    free(exact);
    s_files++;
}

static int s_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void s_run_path(const char *path, int optional)
{
    struct stat sb;
    if (stat(path, &sb) != 0) {
        if (!optional) {
            fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
            s_errors++;
        }
        return;
    }
    if (!S_ISDIR(sb.st_mode)) {
        s_run_file(path);
        return;
    }
    DIR *d = opendir(path);
    if (!d) {
        s_errors++;
        return;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn)
                break;
            names = nn;
        }
        names[n++] = strdup(de->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, s_cmp);
    for (size_t i = 0; i < n; i++) {
        char full[4096];
        snprintf(full, sizeof full, "%s/%s", path, names[i]);
        s_run_file(full);
        free(names[i]);
    }
    free(names);
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        for (int i = 1; i < argc; i++)
            s_run_path(argv[i], 0);
    } else {
        const char *src = getenv("KC_SOURCE_DIR");
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/tests/fuzz/corpus/%s", src ? src : ".", KC_FUZZ_NAME);
        s_run_path(dir, 0);
        snprintf(dir, sizeof dir, "%s/tests/fuzz/regressions/%s", src ? src : ".", KC_FUZZ_NAME);
        s_run_path(dir, 1);
    }
    printf("replay %s: %d inputs, %d unreadable\n", KC_FUZZ_NAME, s_files, s_errors);
    return s_errors || s_files == 0 ? 1 : 0;
}
