/* enospc_shim.c - libkcenospc.so: an LD_PRELOAD shim that makes a directory's
 * file system full, for the disk-full parts of fault scenario 5 (space_test)
 * without root (no tmpfs or loop mount needed).
 *
 * DESIGN
 * It wraps write, pwrite, pwrite64, writev, pwritev, fallocate and
 * posix_fallocate. A call on a regular file under $KC_ENOSPC_DIR (resolved
 * through /proc/self/fd) that would make the file longer - end of the write
 * (offset + length; the fd's current offset, or its end for O_APPEND, when the
 * call has none) past the file's size - uses up that many bytes of a budget of
 * $KC_ENOSPC_FREE bytes shared by every tracked file of the process. As on a
 * real file system, the write that crosses the end of the budget is short (it
 * writes what still fits: LMDB then reports EIO) and every later one that
 * would grow a file fails with ENOSPC before anything is written (LMDB: ENOSPC,
 * the store's and spool's disk-full paths); fallocate past the budget fails
 * with ENOSPC. $KC_ENOSPC_SHORT=0: no short write, the crossing write fails
 * with ENOSPC too (the disk-full path from the first refusal). A write that only overwrites bytes
 * inside a file always goes through, as on a full file system whose blocks are allocated already.
 * Space comes back when the file $KC_ENOSPC_FREED exists (checked at each
 * refused call): from then on nothing is refused. Every refusal increments a
 * count; the first one of the process appends a line "enospc pid=P file=F"
 * to $KC_ENOSPC_REPORT (if set), so the test can check that the product met
 * the full disk at all.
 * LMDB (0.9.24, not MDB_WRITEMAP) grows its data file by pwrite, or lseek +
 * writev, of pages past the end; the aggregator's store and kc-send's spool
 * are LMDB. Nothing else of theirs writes under the directory.
 * Limits: the budget is the process's own (each process preloaded starts with
 * $KC_ENOSPC_FREE); sparse holes inside a file are not counted as free space.
 * Never built with sanitizers: it is preloaded into sanitized programs.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#define S_IOV_MAX 1024 /* writev calls of more entries are refused whole, never cut */

static ssize_t (*r_write)(int, const void *, size_t);
static ssize_t (*r_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*r_pwrite64)(int, const void *, size_t, off_t);
static ssize_t (*r_writev)(int, const struct iovec *, int);
static ssize_t (*r_pwritev)(int, const struct iovec *, int, off_t);
static int (*r_fallocate)(int, int, off_t, off_t);
static int (*r_posix_fallocate)(int, off_t, off_t);

static pthread_mutex_t s_mu = PTHREAD_MUTEX_INITIALIZER;
static char s_dir[512];     /* $KC_ENOSPC_DIR; empty: the shim does nothing */
static char s_freed[512];   /* $KC_ENOSPC_FREED */
static char s_report[512];  /* $KC_ENOSPC_REPORT */
static long long s_budget;  /* bytes of growth left */
static bool s_free;         /* space came back: refuse nothing */
static bool s_short = true; /* the crossing write is short ($KC_ENOSPC_SHORT) */
static unsigned long s_refused;

__attribute__((constructor)) static void s_init(void)
{
    r_write = dlsym(RTLD_NEXT, "write");
    r_pwrite = dlsym(RTLD_NEXT, "pwrite");
    r_pwrite64 = dlsym(RTLD_NEXT, "pwrite64");
    r_writev = dlsym(RTLD_NEXT, "writev");
    r_pwritev = dlsym(RTLD_NEXT, "pwritev");
    r_fallocate = dlsym(RTLD_NEXT, "fallocate");
    r_posix_fallocate = dlsym(RTLD_NEXT, "posix_fallocate");
    const char *d = getenv("KC_ENOSPC_DIR"), *f = getenv("KC_ENOSPC_FREED");
    const char *r = getenv("KC_ENOSPC_REPORT"), *b = getenv("KC_ENOSPC_FREE");
    if (d && *d && b && *b) {
        snprintf(s_dir, sizeof s_dir, "%s", d);
        s_budget = atoll(b);
    }
    const char *sh = getenv("KC_ENOSPC_SHORT");
    if (sh && strcmp(sh, "0") == 0)
        s_short = false;
    if (f)
        snprintf(s_freed, sizeof s_freed, "%s", f);
    if (r)
        snprintf(s_report, sizeof s_report, "%s", r);
}

/* Whether fd is a regular file under s_dir; its path into path[cap]. */
static bool s_tracked(int fd, struct stat *st, char *path, size_t cap)
{
    if (!s_dir[0] || fstat(fd, st) != 0 || !S_ISREG(st->st_mode))
        return false;
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, cap - 1);
    if (n <= 0)
        return false;
    path[n] = '\0';
    size_t dl = strlen(s_dir);
    return strncmp(path, s_dir, dl) == 0 && path[dl] == '/';
}

/* Before a call that writes [off, off + len) of fd (off < 0: at the fd's
 * offset, or its end with O_APPEND): how many bytes of it may be written -
 * len, fewer (a short write, if `shorten`), or -1 with errno ENOSPC. */
static ssize_t s_before(int fd, off_t off, size_t len, bool shorten)
{
    if (!s_dir[0] || len == 0)
        return (ssize_t)len;
    int saved = errno;
    struct stat st;
    char path[1024];
    if (!s_tracked(fd, &st, path, sizeof path)) {
        errno = saved;
        return (ssize_t)len;
    }
    if (off < 0) {
        int fl = fcntl(fd, F_GETFL);
        off = fl >= 0 && (fl & O_APPEND) ? st.st_size : lseek(fd, 0, SEEK_CUR);
        if (off < 0)
            off = st.st_size;
    }
    long long grow = (long long)off + (long long)len - (long long)st.st_size;
    ssize_t rc = (ssize_t)len;
    pthread_mutex_lock(&s_mu);
    if (grow > 0 && !s_free) {
        if (grow <= s_budget) {
            s_budget -= grow;
        } else if (s_freed[0] && access(s_freed, F_OK) == 0) {
            s_free = true;
        } else if (shorten && s_short && s_budget > 0 && (long long)len > grow - s_budget) {
            rc = (ssize_t)((long long)len - (grow - s_budget)); /* what still fits */
            s_budget = 0;
        } else {
            rc = -1;
            if (s_refused++ == 0 && s_report[0]) {
                int rfd = open(s_report, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
                if (rfd >= 0) {
                    char line[1200];
                    int n =
                        snprintf(line, sizeof line, "enospc pid=%d file=%s\n", (int)getpid(), path);
                    if (n > 0)
                        (void)r_write(rfd, line, (size_t)n);
                    close(rfd);
                }
            }
        }
    }
    pthread_mutex_unlock(&s_mu);
    errno = rc >= 0 ? saved : ENOSPC;
    return rc;
}

/* iov cut to its first `len` bytes into out[n]; the number of entries. */
static int s_iov_cut(const struct iovec *iov, int n, size_t len, struct iovec *out)
{
    int k = 0;
    for (int i = 0; i < n && len > 0; i++, k++) {
        out[k] = iov[i];
        if (out[k].iov_len > len)
            out[k].iov_len = len;
        len -= out[k].iov_len;
    }
    return k;
}

static size_t s_iov_len(const struct iovec *iov, int n)
{
    size_t len = 0;
    for (int i = 0; i < n; i++)
        len += iov[i].iov_len;
    return len;
}

ssize_t write(int fd, const void *buf, size_t len)
{
    ssize_t ok = s_before(fd, -1, len, true);
    return ok < 0 ? -1 : r_write(fd, buf, (size_t)ok);
}

ssize_t pwrite(int fd, const void *buf, size_t len, off_t off)
{
    ssize_t ok = s_before(fd, off, len, true);
    return ok < 0 ? -1 : r_pwrite(fd, buf, (size_t)ok, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t len, off_t off)
{
    ssize_t ok = s_before(fd, off, len, true);
    return ok < 0 ? -1 : r_pwrite64(fd, buf, (size_t)ok, off);
}

ssize_t writev(int fd, const struct iovec *iov, int n)
{
    size_t len = s_iov_len(iov, n);
    ssize_t ok = s_before(fd, -1, len, n > 0 && n <= S_IOV_MAX);
    if (ok < 0)
        return -1;
    if ((size_t)ok == len)
        return r_writev(fd, iov, n);
    struct iovec cut[S_IOV_MAX];
    return r_writev(fd, cut, s_iov_cut(iov, n, (size_t)ok, cut));
}

ssize_t pwritev(int fd, const struct iovec *iov, int n, off_t off)
{
    size_t len = s_iov_len(iov, n);
    ssize_t ok = s_before(fd, off, len, n > 0 && n <= S_IOV_MAX);
    if (ok < 0)
        return -1;
    if ((size_t)ok == len)
        return r_pwritev(fd, iov, n, off);
    struct iovec cut[S_IOV_MAX];
    return r_pwritev(fd, cut, s_iov_cut(iov, n, (size_t)ok, cut), off);
}

int fallocate(int fd, int mode, off_t off, off_t len)
{
    if (len > 0 && s_before(fd, off, (size_t)len, false) < 0)
        return -1;
    return r_fallocate(fd, mode, off, len);
}

int posix_fallocate(int fd, off_t off, off_t len)
{
    if (len > 0 && s_before(fd, off, (size_t)len, false) < 0)
        return ENOSPC; /* posix_fallocate returns the error */
    return r_posix_fallocate(fd, off, len);
}
