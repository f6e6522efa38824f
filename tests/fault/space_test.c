/* space_test.c - fault scenario 5: map full, disk full at the aggregator,
 * disk full at a producer's spool.
 *
 * A. Map full: the aggregator starts with a 64 KiB map; the store must grow
 *    ("map grown" lines) and lose nothing.
 * B. Disk full (aggregator): the store lives on its own small filesystem (a
 *    tmpfs of 32 MiB mounted for the test; needs root, else this part is
 *    skipped and says so) filled by a filler file up to a few hundred KiB.
 *    Producers stream until the aggregator cannot commit: it must answer
 *    "unavailable" (its log says why), stay up, and acknowledge nothing it did
 *    not commit; then the filler is deleted, and everything must go through.
 * C. Disk full (spool): a producer's spool on a 2 MiB tmpfs with a filler,
 *    while the aggregator is SIGSTOPped (so nothing is acknowledged and the
 *    spool only grows): kc-send must report that it cannot spool and exit
 *    75 (unacknowledged rows stay spooled); after the filler is deleted, the
 *    filesystem remounted bigger and the aggregator continued, a rerun with the
 *    same spool and file ends clean.
 * Short form: A 2 x 3,000, B 2 x 4,000, C 1 x 20,000 events. --long: A 2 x
 * 30,000, B 2 x 30,000 (tmpfs 96 MiB), C 1 x 40,000.
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

static char s_mnt[2][KC_PATH_MAX];

static void s_umount_all(void)
{
    for (int i = 0; i < 2; i++)
        if (s_mnt[i][0])
            umount2(s_mnt[i], MNT_DETACH);
}

/* Mount a tmpfs of `mib` MiB at <tmp>/name; false if not possible (not root). */
static bool s_mount(int slot, const char *name, int mib)
{
    char *dir = s_mnt[slot];
    kc_harness_path(dir, "%s", name);
    KC_CHECK(mkdir(dir, 0700) == 0, "mkdir %s: %s", dir, strerror(errno));
    char opt[64];
    snprintf(opt, sizeof opt, "size=%dm,mode=0700", mib);
    if (geteuid() != 0 || mount("tmpfs", dir, "tmpfs", 0, opt) != 0) {
        fprintf(stderr, "space_test: cannot mount a tmpfs at %s (%s): disk-full part skipped\n",
                dir, geteuid() != 0 ? "not root" : strerror(errno));
        dir[0] = '\0';
        return false;
    }
    return true;
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

static void s_part_b(bool lng)
{
    if (!s_mount(0, "disk-b", lng ? 96 : 32))
        return;
    kc_fleet_t f;
    kc_fleet_init(&f, 2, lng ? 30000 : 4000, 800, "diskfull", NULL);
    char store[KC_PATH_MAX + 16];
    snprintf(store, sizeof store, "%s/store", s_mnt[0]);
    kc_agg_t agg = {.incarnation = 200};
    kc_harness_agg_start(&agg, store, "tcp://127.0.0.1:*", NULL);
    s_fill(s_mnt[0], 400 * 1024);
    kc_fleet_start_all(&f, agg.endpoint);
    char aerr[KC_PATH_MAX];
    kc_harness_path(aerr, "agg-%d.err", agg.incarnation);
    KC_CHECK(kc_fault_wait_text(aerr, "answering unavailable", 1, PHASE_MS),
             "the aggregator never answered unavailable on a full disk");
    char perr[KC_PATH_MAX + 8];
    kc_fleet_err(&f, 0, perr);
    KC_CHECK(kc_fault_wait_text(perr, "aggregator unavailable", 1, PHASE_MS),
             "producer 1 never saw an unavailable answer");
    int st;
    KC_CHECK(!kc_harness_exited(agg.pid, &st), "the aggregator died on a full disk");
    uint64_t stuck = kc_fault_log_size(store);
    fprintf(stderr, "space_test: B: disk full with the log at %llu/%llu; freeing space\n",
            (unsigned long long)stuck, (unsigned long long)f.sums.events);
    kc_oracle_assert(store, f.src, 2, false, NULL, "while the disk is full", NULL);
    s_unfill(s_mnt[0]);
    kc_fleet_wait_all(&f, SEND_MS);
    KC_CHECK(!kc_harness_exited(agg.pid, &st), "the aggregator died");
    kc_harness_agg_term(&agg);
    long long unavailable = kc_fault_counter(aerr, "stopped:", "unavailable");
    KC_CHECK(unavailable > 0, "counters show no unavailable answer (%lld)", unavailable);
    kc_oracle_result_t res;
    kc_oracle_scan(store, f.src, 2, &res);
    kc_oracle_summary(lng ? "5b-disk-full-long" : "5b-disk-full", &res);
    kc_oracle_assert(store, f.src, 2, true, &f.sums, "after the disk was freed", &res);
    fprintf(stderr, "space_test: B ok (%lld batches answered unavailable)\n", unavailable);
}

static void s_part_c(bool lng)
{
    if (!s_mount(1, "disk-c", 2))
        return;
    kc_fleet_t f;
    kc_fleet_init(&f, 1, lng ? 40000 : 20000, 900, "spoolfull", s_mnt[1]);
    char store[KC_PATH_MAX];
    kc_harness_path(store, "store-c");
    kc_agg_t agg = {.incarnation = 300};
    kc_harness_agg_start(&agg, store, "tcp://127.0.0.1:*", NULL);
    s_fill(s_mnt[1], 600 * 1024);
    KC_CHECK(kill(agg.pid, SIGSTOP) == 0, "SIGSTOP"); /* nothing acknowledged: the spool grows */
    kc_fleet_start(&f, 0, agg.endpoint);
    int st = 0;
    KC_CHECK(kc_harness_wait(f.pid[0], PHASE_MS, &st) == 0, "kc-send did not stop on a full spool");
    f.pid[0] = 0;
    char sb[64], perr[KC_PATH_MAX + 8];
    kc_fleet_err(&f, 0, perr);
    KC_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 75, "kc-send on a full spool: %s (expected 75)",
             kc_harness_status_str(st, sb, sizeof sb));
    KC_CHECK(kc_fault_count(perr, "cannot spool") > 0, "kc-send did not say it cannot spool");
    kc_summary_t s;
    KC_CHECK(kc_harness_summary(f.out[0], &s) == 0, "no summary");
    fprintf(stderr, "space_test: C: spool full: rows=%ld unacknowledged=%ld; freeing space\n",
            s.rows, s.unacknowledged);
    /* space returns: the filler goes and the filesystem is remounted bigger (the
     * rerun re-offers the whole file while the backlog drains) */
    s_unfill(s_mnt[1]);
    KC_CHECK(mount("tmpfs", s_mnt[1], "tmpfs", MS_REMOUNT, "size=64m,mode=0700") == 0,
             "remount %s bigger: %s", s_mnt[1], strerror(errno));
    KC_CHECK(kill(agg.pid, SIGCONT) == 0, "SIGCONT");
    kc_fleet_start(&f, 0, agg.endpoint); /* same spool, same file */
    kc_fleet_wait_all(&f, SEND_MS);
    kc_harness_agg_term(&agg);
    kc_oracle_result_t res;
    kc_oracle_scan(store, f.src, 1, &res);
    kc_oracle_summary(lng ? "5c-spool-full-long" : "5c-spool-full", &res);
    kc_oracle_assert(store, f.src, 1, true, &f.sums, "after the spool disk was freed", &res);
    fprintf(stderr, "space_test: C ok\n");
}

int main(int argc, char **argv)
{
    bool lng = kc_fault_is_long(argc, argv);
    kc_harness_init("space_test");
    atexit(s_umount_all); /* runs before the harness's cleanup: children die after */
    s_part_a(lng);
    s_part_b(lng);
    s_part_c(lng);
    s_umount_all();
    s_mnt[0][0] = s_mnt[1][0] = '\0';
    kc_harness_pass();
    printf("space_test: ok (map growth, disk full at the aggregator and at a spool)\n");
    return 0;
}
