/* slowsync_shim.c - libkcslowsync.so: an LD_PRELOAD shim that makes a disk
 * slow to flush (fault scenario 7, backpressure_test.c).
 *
 * DESIGN
 * It wraps fsync, fdatasync and msync(MS_SYNC). A call on a file under
 * $KC_SLOWSYNC_DIR (resolved through /proc/self/fd; msync cannot be mapped to
 * a file and always counts) first waits $KC_SLOWSYNC_MS milliseconds, then
 * runs the real call: a disk whose cache flush takes that long. LMDB's commit
 * (0.9.24, not MDB_WRITEMAP) flushes the data file with one fdatasync, so
 * every group commit of an aggregator running with this shim takes at least
 * $KC_SLOWSYNC_MS while its socket thread keeps receiving: the condition in
 * which kc_agg must push back on its producers. Nothing else changes: the
 * data is written and flushed as without the shim.
 * The first delayed call appends one line, "slowsync: pid P delaying syncs by
 * N ms", to $KC_SLOWSYNC_REPORT (if set), so a test can tell the shim was
 * loaded and engaged. Unset or empty KC_SLOWSYNC_DIR or KC_SLOWSYNC_MS <= 0:
 * every call goes straight through.
 * Threads: the delay is a nanosleep in the calling thread (the aggregator's
 * commit thread); the report is written once (atomic flag).
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static int (*r_fsync)(int);
static int (*r_fdatasync)(int);
static int (*r_msync)(void *, size_t, int);
static atomic_int s_reported;

static long s_delay_ms(void)
{
    const char *v = getenv("KC_SLOWSYNC_MS");
    return v && *v ? strtol(v, NULL, 10) : 0;
}

/* Whether fd names a file under $KC_SLOWSYNC_DIR (fd < 0: any, for msync). */
static bool s_tracked(int fd)
{
    const char *dir = getenv("KC_SLOWSYNC_DIR");
    if (!dir || !*dir)
        return false;
    if (fd < 0)
        return true;
    char link[64], path[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n <= 0)
        return false;
    path[n] = '\0';
    size_t dl = strlen(dir);
    return strncmp(path, dir, dl) == 0 && (path[dl] == '/' || path[dl] == '\0');
}

static void s_slow(int fd)
{
    long ms = s_delay_ms();
    if (ms <= 0 || !s_tracked(fd))
        return;
    int saved = errno;
    if (atomic_exchange(&s_reported, 1) == 0) {
        const char *rep = getenv("KC_SLOWSYNC_REPORT");
        int rfd = rep && *rep ? open(rep, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600) : -1;
        if (rfd >= 0) {
            char line[128];
            int len = snprintf(line, sizeof line, "slowsync: pid %ld delaying syncs by %ld ms\n",
                               (long)getpid(), ms);
            if (len > 0 && write(rfd, line, (size_t)len) < 0)
                (void)0; /* the report is best effort: the test then fails on its absence */
            close(rfd);
        }
    }
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
    errno = saved;
}

int fsync(int fd)
{
    if (!r_fsync)
        r_fsync = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    s_slow(fd);
    return r_fsync(fd);
}

int fdatasync(int fd)
{
    if (!r_fdatasync)
        r_fdatasync = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    s_slow(fd);
    return r_fdatasync(fd);
}

int msync(void *addr, size_t len, int flags)
{
    if (!r_msync)
        r_msync = (int (*)(void *, size_t, int))dlsym(RTLD_NEXT, "msync");
    if (flags & MS_SYNC)
        s_slow(-1);
    return r_msync(addr, len, flags);
}
