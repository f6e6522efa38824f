/* space_test.c - fault scenario 5: map full, disk full at the aggregator,
 * disk full at a producer's spool.
 *
 * A. Map full: the aggregator starts with a 64 KiB map; the store must grow
 *    ("map grown" lines) and lose nothing.
 * B. Disk full (aggregator): the store's file system fills up while
 *    producers stream (some commits go through first). Once the aggregator
 *    cannot commit it must answer "unavailable" (its log says why: no space
 *    left on device), stay up, and acknowledge nothing it did not commit; then
 *    space comes back, and everything must go through.
 * C. Disk full (spool): a producer's spool fills its file system while the
 *    aggregator is SIGSTOPped (so nothing is acknowledged and the spool only
 *    grows): kc-send must report that it cannot spool (the spool's "disk full")
 *    and exit 75 (unacknowledged rows stay spooled); once space is back and the
 *    aggregator continued, a rerun with the same spool and file ends clean.
 * The full disk, as any user: libkcenospc.so (enospc_shim.c) preloaded into
 * the aggregator (B) or kc-send (C) makes every write that would grow a file
 * under the store's or spool's directory fail with ENOSPC once that process
 * has grown them by 2 MiB (B; a fresh store is 16 KiB; the crossing write is
 * short, as on a real file system) or 600 KiB (C; ENOSPC at once), until
 * the test creates the "freed" file (B) or reruns kc-send without the shim
 * (C); the shim's report file proves the program met ENOSPC. --tmpfs (root
 * only, else SKIP: exit 77) runs B and C once more on real tmpfs mounts filled
 * by a filler file up to 400 KiB (B: 32 MiB, --long 96 MiB) or 600 KiB (C: 2
 * MiB, remounted 64 MiB to free it) left: the kernel's own ENOSPC.
 * Short form: A 2 x 3,000, B 2 x 4,000, C 1 x 20,000 events. --long: A 2 x
 * 30,000, B 2 x 30,000, C 1 x 40,000.
 * Synchronisation: B waits (bounded) for the aggregator's "answering
 * unavailable" line and the producers' "aggregator unavailable" line, checks
 * the aggregator is still running, then frees the space and waits for the log
 * to grow; C waits for kc-send's exit. The oracle runs after each part.
 */
#include "fault_util.h"
#include "oracle.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define PHASE_MS 180000
#define SEND_MS  300000
#define SKIP     77 /* ctest's SKIP_RETURN_CODE for this test */

/* Where parts B and C get their full disk. */
typedef struct {
    bool tmpfs;              /* a tmpfs mount (root), else the ENOSPC shim */
    char dir[KC_PATH_MAX];   /* the "file system": the store's or spool's parent */
    char freed[KC_PATH_MAX]; /* shim: created when space comes back */
    char report[KC_PATH_MAX];
} s_disk_t;

static char s_mnt[2][KC_PATH_MAX];
static char s_shim[KC_PATH_MAX];

static void s_umount_all(void)
{
    for (int i = 0; i < 2; i++)
        if (s_mnt[i][0])
            umount2(s_mnt[i], MNT_DETACH);
}

/* Mount a tmpfs of `mib` MiB at <tmp>/name (root only: main checked). */
static void s_mount(int slot, const char *name, int mib, s_disk_t *d)
{
    char *dir = s_mnt[slot];
    kc_harness_path(dir, "%s", name);
    KC_CHECK(mkdir(dir, 0700) == 0, "mkdir %s: %s", dir, strerror(errno));
    char opt[64];
    snprintf(opt, sizeof opt, "size=%dm,mode=0700", mib);
    KC_CHECK(mount("tmpfs", dir, "tmpfs", 0, opt) == 0, "mount a tmpfs at %s: %s", dir,
             strerror(errno));
    memset(d, 0, sizeof *d);
    d->tmpfs = true;
    snprintf(d->dir, sizeof d->dir, "%s", dir);
}

/* A plain directory <tmp>/name whose files the shim fills up. */
static void s_shim_disk(const char *name, s_disk_t *d)
{
    memset(d, 0, sizeof *d);
    kc_harness_path(d->dir, "%s", name);
    KC_CHECK(mkdir(d->dir, 0700) == 0, "mkdir %s: %s", d->dir, strerror(errno));
    kc_harness_path(d->freed, "%s.freed", name);
    kc_harness_path(d->report, "%s.enospc", name);
}

/* Preload the shim into the next children: files under d->dir may grow by
 * `budget` bytes in each process (the write crossing it short if short_write),
 * then ENOSPC until d->freed exists. */
static void s_shim_on(const s_disk_t *d, long long budget, bool short_write)
{
    char v[32];
    setenv("KC_ENOSPC_SHORT", short_write ? "1" : "0", 1);
    snprintf(v, sizeof v, "%lld", budget);
    kc_fault_preload(s_shim, NULL);
    setenv("KC_ENOSPC_DIR", d->dir, 1);
    setenv("KC_ENOSPC_FREE", v, 1);
    setenv("KC_ENOSPC_FREED", d->freed, 1);
    setenv("KC_ENOSPC_REPORT", d->report, 1);
}

static void s_shim_off(void)
{
    unsetenv("KC_ENOSPC_DIR");
    unsetenv("KC_ENOSPC_FREE");
    unsetenv("KC_ENOSPC_FREED");
    unsetenv("KC_ENOSPC_REPORT");
    unsetenv("KC_ENOSPC_SHORT");
    kc_fault_unpreload();
}

/* The shim refused a write of process pid (its report line). */
static void s_check_refused(const s_disk_t *d, pid_t pid, const char *who)
{
    char want[64];
    snprintf(want, sizeof want, "enospc pid=%d ", (int)pid);
    KC_CHECK(kc_fault_count(d->report, want) == 1, "%s (pid %d) never met ENOSPC (report %s)", who,
             (int)pid, d->report);
}

/* Fill the filesystem of dir up to `leave` free bytes with <dir>/filler. */
static void s_fill(const char *dir, long long leave)
{
    char path[KC_PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/filler", dir);
    struct statvfs vs;
    KC_CHECK(statvfs(dir, &vs) == 0, "statvfs %s", dir);
    long long fill = (long long)vs.f_bavail * (long long)vs.f_bsize - leave;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    KC_CHECK(fd >= 0, "open %s", path);
    static char block[65536];
    memset(block, 0xA5, sizeof block);
    while (fill > 0) {
        ssize_t n = write(fd, block, fill < (long long)sizeof block ? (size_t)fill : sizeof block);
        if (n <= 0)
            break;
        fill -= n;
    }
    close(fd);
    KC_CHECK(statvfs(dir, &vs) == 0, "statvfs %s", dir);
    fprintf(stderr, "space_test: %s filled, %lld bytes left\n", dir,
            (long long)vs.f_bavail * (long long)vs.f_bsize);
}

static void s_unfill(const char *dir)
{
    char path[KC_PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/filler", dir);
    KC_CHECK(unlink(path) == 0, "unlink %s", path);
}

/* Wait (bounded) for `text` in the aggregator's log; fail at once, with its
 * status and log, if it ends meanwhile. */
static void s_wait_agg_text(kc_agg_t *agg, const char *aerr, const char *text)
{
    int64_t deadline = kc_harness_now_ms() + PHASE_MS;
    int st = 0;
    char sb[64];
    while (kc_fault_count(aerr, text) == 0) {
        if (kc_harness_exited(agg->pid, &st)) {
            agg->pid = 0;
            KC_CHECK(false, "the aggregator ended (%s) on a full disk before saying \"%s\" (%s)",
                     kc_harness_status_str(st, sb, sizeof sb), text, aerr);
        }
        KC_CHECK(kc_harness_now_ms() < deadline,
                 "the aggregator never said \"%s\" within %d ms (%s)", text, PHASE_MS, aerr);
        kc_harness_poll_pause();
    }
}

static void s_part_a(bool lng)
{
    kc_fleet_t f;
    kc_fleet_init(&f, 2, lng ? 30000 : 3000, 700, "mapfull", NULL);
    char store[KC_PATH_MAX];
    kc_harness_path(store, "store-a");
    kc_agg_t agg = {.incarnation = 100};
    const char *const extra[] = {"--map-size", "64k", NULL};
    kc_harness_agg_start(&agg, store, "tcp://127.0.0.1:*", extra);
    kc_fleet_start_all(&f, agg.endpoint);
    kc_fleet_wait_all(&f, SEND_MS);
    kc_harness_agg_term(&agg);
    char aerr[KC_PATH_MAX];
    kc_harness_path(aerr, "agg-%d.err", agg.incarnation);
    int grown = kc_fault_count(aerr, "map grown from");
    KC_CHECK(grown > 0, "the 64 KiB map never grew");
    kc_oracle_result_t res;
    kc_oracle_scan(store, f.src, 2, &res);
    kc_oracle_summary(lng ? "5a-map-full-long" : "5a-map-full", &res);
    kc_oracle_assert(store, f.src, 2, true, &f.sums, "after map growth", &res);
    fprintf(stderr, "space_test: A ok, the map grew %d times\n", grown);
}

static void s_part_b(bool lng, bool tmpfs)
{
    s_disk_t d;
    if (tmpfs)
        s_mount(0, "disk-bt", lng ? 96 : 32, &d);
    else
        s_shim_disk("disk-b", &d);
    const char *tag = tmpfs ? "diskfullt" : "diskfull";
    kc_fleet_t f;
    kc_fleet_init(&f, 2, lng ? 30000 : 4000, tmpfs ? 850 : 800, tag, NULL);
    char store[KC_PATH_MAX + 16];
    snprintf(store, sizeof store, "%s/store", d.dir);
    kc_agg_t agg = {.incarnation = tmpfs ? 250 : 200};
    if (!tmpfs)
        s_shim_on(&d, 2048 * 1024, true); /* ~1,700 events fit */
    kc_harness_agg_start(&agg, store, "tcp://127.0.0.1:*", NULL);
    if (tmpfs)
        s_fill(d.dir, 400 * 1024);
    else
        s_shim_off();
    kc_fleet_start_all(&f, agg.endpoint);
    char aerr[KC_PATH_MAX];
    kc_harness_path(aerr, "agg-%d.err", agg.incarnation);
    s_wait_agg_text(&agg, aerr, "answering unavailable");
    char perr[KC_PATH_MAX + 8];
    kc_fleet_err(&f, 0, perr);
    KC_CHECK(kc_fault_wait_text(perr, "aggregator unavailable", 1, PHASE_MS),
             "producer 1 never saw an unavailable answer");
    int st;
    KC_CHECK(!kc_harness_exited(agg.pid, &st), "the aggregator died on a full disk");
    /* the shim: the write crossing the budget is short (LMDB: EIO, a store
     * failure), the later ones fail with ENOSPC: the store's own disk-full path,
     * KC_ENOSPC, "no space left on device" (on tmpfs either may come first) */
    if (!tmpfs)
        s_wait_agg_text(&agg, aerr, "failed: no space left on device; answering unavailable");
    if (!tmpfs)
        s_check_refused(&d, agg.pid, "the aggregator");
    uint64_t stuck = kc_fault_log_size(store);
    fprintf(stderr, "space_test: B: disk full with the log at %llu/%llu; freeing space\n",
            (unsigned long long)stuck, (unsigned long long)f.sums.events);
    kc_oracle_assert(store, f.src, 2, false, NULL, "while the disk is full", NULL);
    if (tmpfs) {
        s_unfill(d.dir);
    } else {
        int fd = open(d.freed, O_WRONLY | O_CREAT | O_EXCL, 0600);
        KC_CHECK(fd >= 0 && close(fd) == 0, "create %s: %s", d.freed, strerror(errno));
    }
    kc_fleet_wait_all(&f, SEND_MS);
    KC_CHECK(!kc_harness_exited(agg.pid, &st), "the aggregator died");
    kc_harness_agg_term(&agg);
    long long unavailable = kc_fault_counter(aerr, "stopped:", "unavailable");
    KC_CHECK(unavailable > 0, "counters show no unavailable answer (%lld)", unavailable);
    KC_CHECK(kc_fault_log_size(store) > stuck, "the log did not grow once space came back");
    kc_oracle_result_t res;
    kc_oracle_scan(store, f.src, 2, &res);
    char name[64];
    snprintf(name, sizeof name, "5b-disk-full%s%s", tmpfs ? "-tmpfs" : "", lng ? "-long" : "");
    kc_oracle_summary(name, &res);
    kc_oracle_assert(store, f.src, 2, true, &f.sums, "after the disk was freed", &res);
    fprintf(stderr, "space_test: B%s ok (%lld batches answered unavailable)\n",
            tmpfs ? " (tmpfs)" : "", unavailable);
}

static void s_part_c(bool lng, bool tmpfs)
{
    s_disk_t d;
    if (tmpfs)
        s_mount(1, "disk-ct", 2, &d);
    else
        s_shim_disk("disk-c", &d);
    const char *tag = tmpfs ? "spoolfullt" : "spoolfull";
    kc_fleet_t f;
    kc_fleet_init(&f, 1, lng ? 40000 : 20000, tmpfs ? 950 : 900, tag, d.dir);
    char store[KC_PATH_MAX];
    kc_harness_path(store, "store-%s", tag);
    kc_agg_t agg = {.incarnation = tmpfs ? 350 : 300};
    kc_harness_agg_start(&agg, store, "tcp://127.0.0.1:*", NULL);
    if (tmpfs)
        s_fill(d.dir, 600 * 1024);
    KC_CHECK(kill(agg.pid, SIGSTOP) == 0, "SIGSTOP"); /* nothing acknowledged: the spool grows */
    if (!tmpfs)
        s_shim_on(&d, 600 * 1024, false); /* ENOSPC from the first refusal */
    kc_fleet_start(&f, 0, agg.endpoint);
    if (!tmpfs)
        s_shim_off();
    pid_t sender = f.pid[0];
    int st = 0;
    KC_CHECK(kc_harness_wait(f.pid[0], PHASE_MS, &st) == 0, "kc-send did not stop on a full spool");
    f.pid[0] = 0;
    char sb[64], perr[KC_PATH_MAX + 8];
    kc_fleet_err(&f, 0, perr);
    KC_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 75, "kc-send on a full spool: %s (expected 75)",
             kc_harness_status_str(st, sb, sizeof sb));
    KC_CHECK(kc_fault_count(perr, "cannot spool") > 0, "kc-send did not say it cannot spool");
    /* the spool's own ENOSPC path (kc_spool.c: "spool: ...: disk full"); on tmpfs
     * a short write (LMDB: EIO) may come first */
    KC_CHECK(tmpfs || kc_fault_count(perr, ": disk full") > 0,
             "the spool did not say the disk is full");
    if (!tmpfs)
        s_check_refused(&d, sender, "kc-send");
    kc_summary_t s;
    KC_CHECK(kc_harness_summary(f.out[0], &s) == 0, "no summary");
    KC_CHECK(s.rows > 0 && s.rows < (long)f.rows, "kc-send on a full spool: rows=%ld of %zu",
             s.rows, f.rows);
    fprintf(stderr, "space_test: C: spool full: rows=%ld unacknowledged=%ld; freeing space\n",
            s.rows, s.unacknowledged);
    /* space returns (the shim is not preloaded into the rerun; the tmpfs loses its
     * filler and is remounted bigger: the rerun re-offers the whole file while the
     * backlog drains) */
    if (tmpfs) {
        s_unfill(d.dir);
        KC_CHECK(mount("tmpfs", d.dir, "tmpfs", MS_REMOUNT, "size=64m,mode=0700") == 0,
                 "remount %s bigger: %s", d.dir, strerror(errno));
    }
    KC_CHECK(kill(agg.pid, SIGCONT) == 0, "SIGCONT");
    kc_fleet_start(&f, 0, agg.endpoint); /* same spool, same file */
    kc_fleet_wait_all(&f, SEND_MS);
    kc_harness_agg_term(&agg);
    kc_oracle_result_t res;
    kc_oracle_scan(store, f.src, 1, &res);
    char name[64];
    snprintf(name, sizeof name, "5c-spool-full%s%s", tmpfs ? "-tmpfs" : "", lng ? "-long" : "");
    kc_oracle_summary(name, &res);
    kc_oracle_assert(store, f.src, 1, true, &f.sums, "after the spool disk was freed", &res);
    fprintf(stderr, "space_test: C%s ok\n", tmpfs ? " (tmpfs)" : "");
}

int main(int argc, char **argv)
{
    bool lng = kc_fault_is_long(argc, argv), tmpfs = false;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--tmpfs") == 0)
            tmpfs = true;
    if (tmpfs && geteuid() != 0) {
        printf("space_test: SKIP: --tmpfs mounts tmpfs file systems, which needs root\n");
        return SKIP;
    }
    kc_harness_init("space_test");
    char bin[KC_PATH_MAX];
    kc_harness_bin(bin, "kc-aggregator");
    const char *bdir = getenv("KC_BIN_DIR");
    snprintf(s_shim, sizeof s_shim, "%s/libkcenospc.so", bdir);
    KC_CHECK(access(s_shim, R_OK) == 0, "%s is not built (target kcenospc)", s_shim);
    atexit(s_umount_all); /* runs before the harness's cleanup: children die after */
    s_part_a(lng);
    s_part_b(lng, false);
    s_part_c(lng, false);
    if (tmpfs) {
        s_part_b(lng, true);
        s_part_c(lng, true);
    }
    s_umount_all();
    s_mnt[0][0] = s_mnt[1][0] = '\0';
    kc_harness_pass();
    printf("space_test: ok (map growth; disk full at the aggregator and at a spool through the "
           "ENOSPC shim%s)\n",
           tmpfs ? ", and on tmpfs" : "");
    return 0;
}
