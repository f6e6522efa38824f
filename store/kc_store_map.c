/* kc_store_map.c - keeping the store's memory map out of a process's resident set.
 *
 * DESIGN
 * LMDB reads the data file through one read-only shared memory map
 * (MAP_SHARED, PROT_READ: the store never uses MDB_WRITEMAP). Every page a
 * transaction reads through it stays mapped into the process, so a long-lived
 * writer's resident set (RSS) grows with every B-tree page it has ever
 * touched: the aggregator reached 650 MB at 10,000,000 events while its own
 * heap stayed under 10 MB (docs/PERFORMANCE.md). Those pages are the kernel's
 * page cache, shared and reclaimable, not the process's memory; but RSS is
 * what operators, cgroup reports and monitoring see.
 *
 * kc_store_trim_resident() gives such pages back: when the process's resident
 * set is above a budget it calls madvise(MADV_DONTNEED) over the whole map.
 * For a shared file mapping that only removes this process's page-table
 * entries: the data stays in the page cache (and on disk), and the next access
 * faults the page back in from the cache (a minor fault, no I/O while the
 * kernel keeps it cached). No content can be lost: the map is read-only, and
 * a write transaction's dirty pages are LMDB's private heap copies, written
 * with pwrite() at commit.
 *
 * Safety. madvise must run over the current mapping only: a concurrent remap
 * (map growth, kc_store.c) could otherwise free the range and let another
 * mapping (say the heap's) take its place, where MADV_DONTNEED would discard
 * real data. The call is therefore made inside the store's remap gate
 * (kc_store_enter/leave), which keeps every remap waiting until it is done.
 * Readers in other threads need no coordination: a page removed under them
 * is faulted back on their next access.
 */
#include "kc_store_int.h"

#include "kc_err.h"
#include "kc_log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* The process's resident set in bytes, from /proc/self/statm (its second
 * field, in pages); 0 if it cannot be read. */
static size_t s_rss_bytes(void)
{
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    char buf[128];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    unsigned long long size, resident;
    if (sscanf(buf, "%llu %llu", &size, &resident) != 2)
        return 0;
    long page = sysconf(_SC_PAGESIZE);
    return (size_t)resident * (size_t)(page > 0 ? page : 4096);
}

/* The address and length of this process's mapping of the store's data file:
 * the /proc/self/maps line with its device and inode (LMDB maps the file once,
 * at offset 0; mdb_env_info's me_mapaddr is set only for MDB_FIXEDMAP). 0, or
 * KC_ENOTFOUND if no such mapping is listed. */
static int s_find_map(kc_store_t *s, void **addr, size_t *len)
{
    int fd;
    struct stat st;
    if (mdb_env_get_fd(s->env, &fd) != MDB_SUCCESS || fstat(fd, &st) != 0)
        return KC_ENOTFOUND;
    FILE *fp = fopen("/proc/self/maps", "re");
    if (!fp)
        return -errno;
    char line[4096];
    int rc = KC_ENOTFOUND;
    while (fgets(line, sizeof line, fp)) {
        unsigned long long start, end, off, ino;
        unsigned maj, min;
        char perms[8];
        if (sscanf(line, "%llx-%llx %7s %llx %x:%x %llu", &start, &end, perms, &off, &maj, &min,
                   &ino) != 7)
            continue;
        if (ino == (unsigned long long)st.st_ino && maj == major(st.st_dev) &&
            min == minor(st.st_dev) && off == 0 && perms[3] == 's') {
            *addr = (void *)(uintptr_t)start;
            *len = (size_t)(end - start);
            rc = 0;
            break;
        }
    }
    fclose(fp);
    return rc;
}

int kc_store_trim_resident(kc_store_t *s, size_t budget, bool *trimmed)
{
    if (trimmed)
        *trimmed = false;
    if (!s)
        return KC_EINVAL;
    if (budget == 0)
        return 0;
    size_t rss = s_rss_bytes();
    if (rss == 0 || rss <= budget)
        return 0;
    int rc = kc_store_enter(s); /* no remap until we are done */
    if (rc != 0)
        return rc;
    void *addr = NULL;
    size_t len = 0;
    rc = s_find_map(s, &addr, &len);
    if (rc == 0 && madvise(addr, len, MADV_DONTNEED) != 0) {
        rc = -errno;
        kc_warn("store %s: cannot release the map's pages (madvise): %s", s->dir, strerror(errno));
    } else if (rc != 0) {
        kc_warn("store %s: cannot find the store's map in /proc/self/maps: %s", s->dir,
                kc_strerror(rc));
    }
    kc_store_leave(s);
    if (rc == 0) {
        if (trimmed)
            *trimmed = true;
        kc_debug("store %s: resident set %zu kB above %zu kB: map pages released", s->dir,
                 rss / 1024, budget / 1024);
    }
    return rc;
}

kc_store_t *kc_txn_store(const kc_txn_t *t)
{
    return t ? t->s : NULL;
}
