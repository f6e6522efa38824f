/* powerloss_shim.c - libkcpowerloss.so: an LD_PRELOAD shim that simulates a
 * power loss (fault scenario 8).
 *
 * DESIGN
 * It wraps write, pwrite, pwrite64, writev, pwritev, fsync, fdatasync and
 * msync. For every file under $KC_POWERLOSS_DIR (resolved through
 * /proc/self/fd) it keeps, per inode, an undo log of the writes made since the
 * last fsync/fdatasync of that inode (any fd: LMDB writes pages through one fd
 * and syncs it, and writes meta pages through a second, O_DSYNC, fd): before a
 * write goes through, the bytes it overwrites (those below the current end of
 * file) are read and saved, and the file's size before its first unsynced
 * write is remembered. Writes to an fd opened with O_DSYNC/O_SYNC are durable
 * when they return and are not recorded. fsync/fdatasync of an inode, and
 * msync(MS_SYNC) (which the shim cannot map to a file, so it treats it as
 * syncing every tracked file, as LMDB's MDB_WRITEMAP path would), drop its
 * undo log. This models a disk cache that loses every write not yet flushed
 * — the strictest case a POSIX fsync contract allows.
 * The crash: at the N-th tracked call ($KC_POWERLOSS_AT=N, counting wrapped
 * writes and syncs on tracked files, 1-based) or at the first tracked call
 * after SIGUSR2 (if $KC_POWERLOSS_SIGNAL=1), before that call runs, the shim
 * undoes every unsynced write (newest first), truncates each file back to its
 * size at the last sync, appends one line to $KC_POWERLOSS_REPORT (if set)
 * and SIGKILLs the process. The test sees a death by signal 9.
 * LMDB's write path (0.9.24, not MDB_WRITEMAP): dirty pages by pwrite, or
 * lseek + writev for runs of pages, on the main fd; then fdatasync of it;
 * then the meta page by pwrite on the O_DSYNC fd. No ftruncate, no msync.
 * Threads: a mutex guards the tables; SIGUSR2 only sets a flag.
 * Limits: 64 tracked inodes; the process is single-writer per file.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#define S_FILES 64

typedef struct undo {
    struct undo *prev;
    off_t off;
    size_t len; /* bytes saved (those that existed before the write) */
    uint8_t data[];
} undo_t;

typedef struct {
    dev_t dev;
    ino_t ino;
    char path[512];
    bool dirty;     /* unsynced writes recorded */
    off_t size0;    /* size at the last sync */
    undo_t *undo;   /* newest first */
    uint64_t bytes; /* unsynced bytes written */
} file_t;

static pthread_mutex_t s_mu = PTHREAD_MUTEX_INITIALIZER;
static file_t s_files[S_FILES];
static int s_nfiles;
static char s_dir[512];
static long s_at = -1; /* crash at this tracked call */
static long s_calls;   /* tracked calls so far */
static int s_init_done;
static volatile sig_atomic_t s_sig_crash;

static ssize_t (*r_write)(int, const void *, size_t);
static ssize_t (*r_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*r_pwrite64)(int, const void *, size_t, off_t);
static ssize_t (*r_writev)(int, const struct iovec *, int);
static ssize_t (*r_pwritev)(int, const struct iovec *, int, off_t);
static int (*r_fsync)(int);
static int (*r_fdatasync)(int);
static int (*r_msync)(void *, size_t, int);

static void s_on_usr2(int sig)
{
    (void)sig;
    s_sig_crash = 1;
}

static void s_init(void)
{
    if (s_init_done)
        return;
    r_write = dlsym(RTLD_NEXT, "write");
    r_pwrite = dlsym(RTLD_NEXT, "pwrite");
    r_pwrite64 = dlsym(RTLD_NEXT, "pwrite64");
    r_writev = dlsym(RTLD_NEXT, "writev");
    r_pwritev = dlsym(RTLD_NEXT, "pwritev");
    r_fsync = dlsym(RTLD_NEXT, "fsync");
    r_fdatasync = dlsym(RTLD_NEXT, "fdatasync");
    r_msync = dlsym(RTLD_NEXT, "msync");
    const char *d = getenv("KC_POWERLOSS_DIR");
    if (d)
        snprintf(s_dir, sizeof s_dir, "%s", d);
    const char *at = getenv("KC_POWERLOSS_AT");
    if (at && *at)
        s_at = atol(at);
    const char *sig = getenv("KC_POWERLOSS_SIGNAL");
    if (sig && strcmp(sig, "1") == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = s_on_usr2;
        sa.sa_flags = SA_RESTART;
        sigaction(SIGUSR2, &sa, NULL);
    }
    s_init_done = 1;
}

__attribute__((constructor)) static void s_ctor(void)
{
    s_init();
}

/* The tracked file of fd, or NULL. Called with s_mu held. */
static file_t *s_file(int fd, bool create)
{
    if (!s_dir[0])
        return NULL;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        return NULL;
    for (int i = 0; i < s_nfiles; i++)
        if (s_files[i].dev == st.st_dev && s_files[i].ino == st.st_ino)
            return &s_files[i];
    if (!create || s_nfiles == S_FILES)
        return NULL;
    char link[64], path[512];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n <= 0)
        return NULL;
    path[n] = '\0';
    size_t dl = strlen(s_dir);
    if (strncmp(path, s_dir, dl) != 0 || (path[dl] != '/' && path[dl] != '\0'))
        return NULL;
    file_t *f = &s_files[s_nfiles++];
    memset(f, 0, sizeof *f);
    f->dev = st.st_dev;
    f->ino = st.st_ino;
    snprintf(f->path, sizeof f->path, "%s", path);
    return f;
}

static void s_drop(file_t *f)
{
    while (f->undo) {
        undo_t *u = f->undo;
        f->undo = u->prev;
        free(u);
    }
    f->dirty = false;
    f->bytes = 0;
}

/* Undo every unsynced write, report, and die. s_mu held. */
__attribute__((noreturn)) static void s_crash(const char *why)
{
    uint64_t lost = 0;
    int files = 0;
    for (int i = 0; i < s_nfiles; i++) {
        file_t *f = &s_files[i];
        if (!f->dirty)
            continue;
        files++;
        lost += f->bytes;
        int fd = open(f->path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        for (undo_t *u = f->undo; u; u = u->prev)
            if (u->len)
                r_pwrite(fd, u->data, u->len, u->off);
        if (ftruncate(fd, f->size0) != 0) {
            /* nothing more to do: the report says what was attempted */
        }
        r_fsync(fd); /* the restored state is what "survived" */
        close(fd);
    }
    const char *rep = getenv("KC_POWERLOSS_REPORT");
    if (rep) {
        int fd = open(rep, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (fd >= 0) {
            char line[256];
            int n = snprintf(line, sizeof line,
                             "powerloss pid=%d call=%ld why=%s files=%d unsynced_bytes=%llu\n",
                             (int)getpid(), s_calls, why, files, (unsigned long long)lost);
            r_write(fd, line, (size_t)n);
            close(fd);
        }
    }
    kill(getpid(), SIGKILL);
    for (;;)
        pause();
}

/* A tracked call is about to happen: count it and crash if due. s_mu held. */
static void s_tick(void)
{
    s_calls++;
    if (s_at > 0 && s_calls >= s_at)
        s_crash("count");
    if (s_sig_crash)
        s_crash("signal");
}

/* Save what [off, off+len) of f holds now. s_mu held. */
static void s_record(int fd, file_t *f, off_t off, size_t len)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return;
    if (!f->dirty) {
        f->dirty = true;
        f->size0 = st.st_size;
    }
    size_t keep = 0;
    if (off < st.st_size)
        keep = (size_t)(st.st_size - off) < len ? (size_t)(st.st_size - off) : len;
    undo_t *u = malloc(sizeof *u + keep);
    if (!u)
        abort();
    u->off = off;
    u->len = keep;
    if (keep) {
        int rfd = fd;
        int fl = fcntl(fd, F_GETFL);
        bool own = (fl & O_ACCMODE) == O_WRONLY;
        if (own) {
            char link[64];
            snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
            rfd = open(link, O_RDONLY | O_CLOEXEC);
        }
        ssize_t got = rfd >= 0 ? pread(rfd, u->data, keep, off) : -1;
        if (got != (ssize_t)keep)
            abort(); /* the undo log would be wrong: better no test than a false one */
        if (own)
            close(rfd);
    }
    u->prev = f->undo;
    f->undo = u;
    f->bytes += len;
}

/* Before a write of len bytes at off (off < 0: the fd's current offset). */
static void s_before_write(int fd, off_t off, size_t len)
{
    s_init();
    if (!s_dir[0])
        return;
    int fl = fcntl(fd, F_GETFL);
    pthread_mutex_lock(&s_mu);
    file_t *f = s_file(fd, true);
    if (f) {
        s_tick();
        if (fl >= 0 && !(fl & (O_DSYNC | O_SYNC))) {
            if (off < 0)
                off = (fl & O_APPEND) ? -1 : lseek(fd, 0, SEEK_CUR);
            if (off < 0) {
                struct stat st;
                off = fstat(fd, &st) == 0 ? st.st_size : 0;
            }
            s_record(fd, f, off, len);
        }
    }
    pthread_mutex_unlock(&s_mu);
}

static void s_before_sync(int fd)
{
    s_init();
    if (!s_dir[0])
        return;
    pthread_mutex_lock(&s_mu);
    file_t *f = s_file(fd, false);
    if (f)
        s_tick();
    pthread_mutex_unlock(&s_mu);
}

static void s_after_sync(int fd, int rc)
{
    if (rc != 0 || !s_dir[0])
        return;
    pthread_mutex_lock(&s_mu);
    file_t *f = s_file(fd, false);
    if (f)
        s_drop(f);
    pthread_mutex_unlock(&s_mu);
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
    s_before_write(fd, -1, len);
    return r_write(fd, buf, len);
}

ssize_t pwrite(int fd, const void *buf, size_t len, off_t off)
{
    s_before_write(fd, off, len);
    return r_pwrite(fd, buf, len, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t len, off_t off)
{
    s_before_write(fd, off, len);
    return r_pwrite64(fd, buf, len, off);
}

ssize_t writev(int fd, const struct iovec *iov, int n)
{
    s_before_write(fd, -1, s_iov_len(iov, n));
    return r_writev(fd, iov, n);
}

ssize_t pwritev(int fd, const struct iovec *iov, int n, off_t off)
{
    s_before_write(fd, off, s_iov_len(iov, n));
    return r_pwritev(fd, iov, n, off);
}

int fsync(int fd)
{
    s_before_sync(fd);
    int rc = r_fsync(fd);
    s_after_sync(fd, rc);
    return rc;
}

int fdatasync(int fd)
{
    s_before_sync(fd);
    int rc = r_fdatasync(fd);
    s_after_sync(fd, rc);
    return rc;
}

int msync(void *addr, size_t len, int flags)
{
    s_init();
    int rc = r_msync(addr, len, flags);
    if (rc == 0 && (flags & MS_SYNC) && s_dir[0]) {
        pthread_mutex_lock(&s_mu);
        for (int i = 0; i < s_nfiles; i++)
            s_drop(&s_files[i]);
        pthread_mutex_unlock(&s_mu);
    }
    return rc;
}
