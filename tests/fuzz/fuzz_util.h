/* fuzz_util.h - shared pieces of the libFuzzer harnesses in tests/fuzz/.
 *
 * DESIGN
 * Each harness defines LLVMFuzzerTestOneInput() and is built twice: with clang
 * and -fsanitize=fuzzer for scripts/fuzz, and with the normal compiler against
 * replay_main.c, which runs it over the committed corpus as a ctest. Harnesses
 * keep their scratch state (a store, a spool, a memfd) in a directory created
 * on first use under /dev/shm (tmpfs: fsync is cheap) or $TMPDIR, removed at
 * exit. Invariants the code under test must keep are checked with
 * FUZZ_CHECK(), which prints the failed condition and aborts, so that the
 * fuzzer saves the input as a crash.
 */
#ifndef KC_FUZZ_UTIL_H
#define KC_FUZZ_UTIL_H

#include "kc_log.h"

#include <protobuf-c/protobuf-c.h>

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* The bounded allocator of kc_apply.c, for the harnesses' own unpacks: at most
 * 4n + 64 KiB allocated in total while unpacking n bytes. */
typedef struct {
    size_t left;
} fuzz_budget_t;

static inline void *fuzz_pb_alloc(void *ctx, size_t size)
{
    fuzz_budget_t *b = ctx;
    if (size > b->left)
        return NULL;
    void *p = malloc(size ? size : 1);
    if (p)
        b->left -= size;
    return p;
}

static inline void fuzz_pb_free(void *ctx, void *p)
{
    (void)ctx;
    free(p);
}

static inline ProtobufCAllocator fuzz_pb_allocator(fuzz_budget_t *b, size_t n)
{
    b->left = 4 * n + ((size_t)64 << 10);
    return (ProtobufCAllocator){fuzz_pb_alloc, fuzz_pb_free, b};
}

static int fuzz_rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* rm -rf dir (the harness's own scratch directories only). */
static inline void fuzz_rmtree(const char *dir)
{
    nftw(dir, fuzz_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A new scratch directory "kc-fuzz-<tag>-XXXXXX" into buf; exits on failure. */
static inline void fuzz_mkdtemp(char *buf, size_t cap, const char *tag)
{
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
    snprintf(buf, cap, "%s/kc-fuzz-%s-XXXXXX", base && *base ? base : "/tmp", tag);
    if (!mkdtemp(buf)) {
        fprintf(stderr, "fuzz: cannot create %s: %s\n", buf, strerror(errno));
        exit(1);
    }
}

static inline void fuzz_log_drop(kc_log_level_t level, const char *line, void *ctx)
{
    (void)level;
    (void)line;
    (void)ctx;
}

/* Drop every log line (fuzzed input makes the code under test log a lot),
 * unless KC_FUZZ_VERBOSE is set. */
static inline void fuzz_quiet(void)
{
    if (!getenv("KC_FUZZ_VERBOSE"))
        kc_log_set_sink(fuzz_log_drop, NULL);
}

/* A memory file holding the input, reachable by path (/proc/self/fd/N) for
 * readers that take a path. Returns the path (static storage). */
static inline const char *fuzz_memfile(const uint8_t *data, size_t size)
{
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        fd = memfd_create("kc-fuzz-input", MFD_CLOEXEC);
        if (fd < 0) {
            perror("memfd_create");
            exit(1);
        }
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) != 0) {
        perror("ftruncate");
        exit(1);
    }
    size_t off = 0;
    while (off < size) {
        ssize_t w = pwrite(fd, data + off, size - off, (off_t)off);
        if (w <= 0) {
            perror("pwrite");
            exit(1);
        }
        off += (size_t)w;
    }
    return path;
}

#endif
