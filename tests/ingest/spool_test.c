/* spool_test.c - the producer spool: durable across reopen (after a clean
 * close and after a SIGKILL), owned by one producer and one process, ranges
 * removed once, sequence numbers never handed out twice, map grown on
 * MDB_MAP_FULL. */
#include "ingest_test_util.h"
#include "kc_err.h"
#include "kc_event.h"
#include "kc_spool.h"
#include "kcingest.h"

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cmocka.h>

static int setup(void **state)
{
    kc_ingest_set_log("spool_test", KCI_LOG_ERROR, NULL, NULL);
    char *base = kt_tmpdir("spool");
    if (!base)
        return -1;
    char *dir = malloc(strlen(base) + 16);
    sprintf(dir, "%s/sp", base); /* does not exist yet: the spool creates it */
    free(base);
    *state = dir;
    return 0;
}

static int teardown(void **state)
{
    char *dir = *state;
    char *base = strdup(dir);
    *strrchr(base, '/') = '\0';
    kt_rmdir(base);
    free(dir);
    return 0;
}

static kc_event_t ev_n(int i, char *id, size_t cap)
{
    snprintf(id, cap, "E%d", i);
    kc_event_t ev = {.event_id = id,
                     .province = "79",
                     .year = 2021,
                     .month = 1 + i % 12,
                     .activity = "KC3b",
                     .present = 1u << KCI_AMOUNT_VND};
    ev.metrics[KCI_AMOUNT_VND] = i;
    return ev;
}

static void test_survives_reopen(void **state)
{
    const char *dir = *state;
    kc_producer_opts_t o = {
        .endpoint = "tcp://127.0.0.1:1", .producer_id = "p-hcm", .spool_dir = dir, .batch_max = 2};
    kc_producer_t *p;
    assert_int_equal(kc_producer_open(&p, &o), 0);
    char id[32];
    uint64_t seq = 0;
    for (int i = 1; i <= 3; i++) {
        kc_event_t ev = ev_n(i, id, sizeof id);
        assert_int_equal(kc_producer_add(p, &ev, "f.csv:1", &seq), 0);
        assert_int_equal(seq, (uint64_t)i); /* from 1, no gaps */
    }
    assert_int_equal(kc_producer_sync(p), 0);
    assert_int_equal(kc_producer_pending(p), 3);
    kc_event_t ev = ev_n(4, id, sizeof id);
    assert_int_equal(kc_producer_add(p, &ev, NULL, &seq), 0); /* staged; close commits it */
    kc_producer_close(&p);
    assert_null(p);

    struct stat sb;
    assert_int_equal(stat(dir, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);
    char path[4200];
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);

    assert_int_equal(kc_producer_open(&p, &o), 0);
    assert_int_equal(kc_producer_pending(p), 4);
    ev = ev_n(5, id, sizeof id);
    assert_int_equal(kc_producer_add(p, &ev, NULL, &seq), 0);
    assert_int_equal(seq, 5);
    kc_producer_close(&p);

    /* another producer id is refused, the spool is untouched */
    kc_producer_opts_t other = o;
    other.producer_id = "p-hanoi";
    assert_int_equal(kc_producer_open(&p, &other), KCI_EINVAL);
    assert_null(p);
    kc_spool_t *sp;
    assert_int_equal(kc_spool_open(&sp, dir, "p-hcm"), 0);
    assert_int_equal(kc_spool_count(sp), 5);
    assert_int_equal(kc_spool_first(sp), 1);
    assert_int_equal(kc_spool_next_seq(sp), 6);
    /* one process at a time */
    kc_spool_t *sp2;
    assert_int_equal(kc_spool_open(&sp2, dir, "p-hcm"), KC_EBUSY);
    assert_int_equal(kc_producer_open(&p, &o), KCI_EBUSY);
    kc_spool_close(&sp);
    assert_null(sp);
}

typedef struct {
    uint64_t seqs[64];
    size_t n;
} seen_t;

static int on_read(uint64_t seq, const void *ev, size_t len, void *ctx)
{
    (void)ev;
    assert_true(len > 0);
    seen_t *s = ctx;
    s->seqs[s->n++] = seq;
    return 0;
}

static void test_ranges_removed_once(void **state)
{
    kc_spool_t *sp;
    assert_int_equal(kc_spool_open(&sp, *state, "p"), 0);
    for (int i = 1; i <= 10; i++) {
        char id[16], src[16];
        snprintf(id, sizeof id, "E%d", i);
        snprintf(src, sizeof src, "f:%d", i + 1);
        assert_int_equal(kc_spool_stage(sp, id, src, "xy", 2), 0);
    }
    assert_int_equal(kc_spool_staged(sp), 10);
    assert_int_equal(kc_spool_count(sp), 0);
    seen_t s = {0};
    assert_int_equal(kc_spool_read(sp, 1, 100, 1 << 20, on_read, &s), 0); /* staged: unseen */
    assert_int_equal(kc_spool_commit(sp, NULL, 0), 0);
    assert_int_equal(kc_spool_count(sp), 10);
    assert_int_equal(kc_spool_read(sp, 4, 3, 1 << 20, on_read, &s), 3);
    assert_int_equal(s.seqs[0], 4);
    assert_int_equal(s.seqs[2], 6);
    s.n = 0;
    assert_int_equal(kc_spool_read(sp, 1, 100, 5, on_read, &s), 2); /* byte cap */

    /* the second range overlaps the first; 50..60 was never assigned */
    kc_spool_range_t r[] = {{2, 4, 0}, {3, 6, 1}, {50, 60, 2}};
    assert_int_equal(kc_spool_commit(sp, r, 3), 0);
    const kc_spool_removed_t *rm;
    assert_int_equal(kc_spool_removed(sp, &rm), 5);
    assert_int_equal(rm[0].seq, 2);
    assert_int_equal(rm[0].tag, 0);
    assert_string_equal(rm[0].event_id, "E2");
    assert_string_equal(rm[0].source, "f:3");
    assert_int_equal(rm[3].seq, 5);
    assert_int_equal(rm[3].tag, 1);
    assert_int_equal(kc_spool_count(sp), 5);
    assert_int_equal(kc_spool_first(sp), 1);
    /* removed already: an ack after a resend removes nothing */
    assert_int_equal(kc_spool_commit(sp, r, 2), 0);
    assert_int_equal(kc_spool_removed(sp, &rm), 0);
    kc_spool_range_t all = {1, 10, 0};
    assert_int_equal(kc_spool_commit(sp, &all, 1), 0);
    assert_int_equal(kc_spool_removed(sp, &rm), 5);
    assert_int_equal(kc_spool_count(sp), 0);
    assert_int_equal(kc_spool_first(sp), 0);
    kc_spool_close(&sp);
    assert_int_equal(kc_spool_open(&sp, *state, "p"), 0);
    assert_int_equal(kc_spool_count(sp), 0);
    assert_int_equal(kc_spool_next_seq(sp), 11); /* never reused */
    kc_spool_close(&sp);
}

/* ---- reopen after an unclean stop ----------------------------------------
 * A forked child works on the spool and tells the parent through a pipe what
 * the library reported durable; the child is SIGKILLed (by the parent at a
 * seeded point, or by itself right after a commit that emptied the spool), so
 * neither kc_producer_close nor kc_spool_close runs. The parent then reopens
 * the spool and checks it against the reports. Pipe messages are smaller than
 * PIPE_BUF, so each write is atomic. */

typedef struct {
    uint8_t kind;      /* 'A' added (spooled), 'I' commit intended, 'D' commit done */
    uint64_t seq;      /* A: the seq add returned; I/D: the first seq staged (0 if none) */
    uint64_t hi;       /* I/D: the highest seq committed by this commit */
    uint64_t to;       /* I/D: every seq <= to removed (acknowledged) by it */
    uint32_t round, k; /* A: the event is "R<round>-<k>" */
} msg_t;

static uint64_t rnd(uint64_t *x) /* splitmix64 */
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void child_send(int fd, const msg_t *m)
{
    if (write(fd, m, sizeof *m) != (ssize_t)sizeof *m)
        _exit(4);
}

/* Read one message; false at EOF (the child is gone). */
static bool read_msg(int fd, msg_t *m)
{
    size_t got = 0;
    while (got < sizeof *m) {
        ssize_t n = read(fd, (char *)m + got, sizeof *m - got);
        if (n < 0 && errno == EINTR)
            continue;
        assert_true(n >= 0);
        if (n == 0) {
            assert_int_equal(got, 0); /* never half a message */
            return false;
        }
        got += (size_t)n;
    }
    return true;
}

/* SIGKILL the child (if kill) and reap it: it must have died by SIGKILL. */
static void reap_killed(pid_t pid, bool kill_it)
{
    if (kill_it)
        assert_int_equal(kill(pid, SIGKILL), 0);
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
}

typedef struct {
    uint64_t seq[4096];
    char id[4096][24];
    size_t n;
} pend_t;

static int on_pending(uint64_t seq, const void *ev, size_t len, void *ctx)
{
    pend_t *p = ctx;
    assert_true(p->n < 4096);
    kc_pb_event_t *e = kcpipe__v1__event__unpack(NULL, len, ev);
    assert_non_null(e);
    assert_non_null(e->event_id);
    assert_int_equal(e->seq, seq); /* the event carries the seq it is spooled under */
    p->seq[p->n] = seq;
    snprintf(p->id[p->n], sizeof p->id[0], "%s", e->event_id);
    p->n++;
    kcpipe__v1__event__free_unpacked(e, NULL);
    return 0;
}

/* Child of test_unclean_stop_adds: add events through the public API until
 * killed, reporting each event once the library said it is spooled. Odd
 * rounds: batch_max 1, so kc_producer_add itself commits (returned = spooled);
 * even rounds: batch_max 3 and kc_producer_sync after groups of 1..5. */
static void child_adds(const char *dir, int fd, uint32_t round)
{
    kc_producer_opts_t o = {.endpoint = "tcp://127.0.0.1:1",
                            .producer_id = "p-kill",
                            .spool_dir = dir,
                            .batch_max = round % 2 ? 1 : 3};
    kc_producer_t *p;
    if (kc_producer_open(&p, &o) != 0)
        _exit(3);
    uint64_t rng = round;
    msg_t group[8];
    for (uint32_t k = 0;;) {
        int n = round % 2 ? 1 : 1 + (int)(rnd(&rng) % 5);
        for (int j = 0; j < n; j++) {
            k++;
            char id[24];
            snprintf(id, sizeof id, "R%u-%u", round, k);
            kc_event_t ev = {.event_id = id,
                             .province = "79",
                             .year = 2022,
                             .month = 1 + k % 12,
                             .activity = "KC3b",
                             .present = 1u << KCI_AMOUNT_VND};
            ev.metrics[KCI_AMOUNT_VND] = k;
            group[j] = (msg_t){.kind = 'A', .round = round, .k = k};
            if (kc_producer_add(p, &ev, NULL, &group[j].seq) != 0)
                _exit(3);
        }
        if (round % 2 == 0 && kc_producer_sync(p) != 0)
            _exit(3);
        for (int j = 0; j < n; j++)
            child_send(fd, &group[j]);
    }
}

static void test_unclean_stop_adds(void **state)
{
    const char *dir = *state;
    uint64_t rng = 1313, next_seq = 1; /* what the spool must hand out next */
    size_t kept = 0;                   /* events in the spool (none is ever acknowledged) */
    static msg_t all[4096];
    for (uint32_t round = 1; round <= 4; round++) {
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            child_adds(dir, fds[1], round);
            _exit(5);
        }
        close(fds[1]);
        size_t want = 5 + rnd(&rng) % 60, got = 0; /* the kill point */
        msg_t m;
        while (got < want && read_msg(fds[0], &m)) {
            assert_true(kept + got < 4096);
            all[kept + got++] = m;
        }
        assert_int_equal(got, want); /* the child did not die by itself */
        reap_killed(pid, true);
        while (read_msg(fds[0], &m)) { /* spooled and reported before the kill */
            assert_true(kept + got < 4096);
            all[kept + got++] = m;
        }
        close(fds[0]);
        /* this round's seqs continue where the spool stood, without a gap */
        assert_int_equal(all[kept].seq, next_seq);
        for (size_t i = kept + 1; i < kept + got; i++)
            assert_int_equal(all[i].seq, all[i - 1].seq + 1);

        kc_spool_t *sp;
        assert_int_equal(kc_spool_open(&sp, dir, "p-kill"), 0);
        static pend_t pend;
        pend.n = 0;
        assert_true(kc_spool_read(sp, 1, 100000, (size_t)1 << 30, on_pending, &pend) >= 0);
        /* every reported add is there, under its seq, in order; nothing before it lost */
        assert_true(pend.n >= kept + got);
        for (size_t i = 0; i < pend.n; i++)
            assert_int_equal(pend.seq[i], i + 1);
        for (size_t i = 0; i < kept + got; i++) {
            char id[24];
            snprintf(id, sizeof id, "R%u-%u", all[i].round, all[i].k);
            assert_int_equal(pend.seq[all[i].seq - 1], all[i].seq);
            assert_string_equal(pend.id[all[i].seq - 1], id);
        }
        /* next_seq never goes back: after every seq handed out and kept */
        assert_int_equal(kc_spool_next_seq(sp), pend.n + 1);
        assert_true(kc_spool_next_seq(sp) > all[kept + got - 1].seq);
        next_seq = kc_spool_next_seq(sp);
        kc_spool_close(&sp);
        /* events the kill left spooled without a report belong to the sequence
         * too: the next round checks against the spool as it is now */
        for (size_t i = 0; i < pend.n; i++) {
            unsigned r = 0, k = 0;
            assert_int_equal(sscanf(pend.id[i], "R%u-%u", &r, &k), 2);
            all[i] = (msg_t){.kind = 'A', .seq = pend.seq[i], .round = r, .k = k};
        }
        kept = pend.n;
    }
}

/* Child of test_unclean_stop_acked: stage 1..4 records, then one commit that
 * also removes every seq <= to (an acknowledgement; a third of the commits
 * acknowledge everything), announced before ('I') and confirmed after ('D').
 * With self_kill, it SIGKILLs itself right after the first confirmed commit
 * that left the spool empty, once `after` commits are done. */
static void child_acked(const char *dir, int fd, uint64_t seed, bool self_kill, int after)
{
    kc_spool_t *sp;
    if (kc_spool_open(&sp, dir, "p-acks") != 0)
        _exit(3);
    uint64_t rng = seed,
             to = kc_spool_first(sp) ? kc_spool_first(sp) - 1 : kc_spool_next_seq(sp) - 1;
    for (int c = 1;; c++) {
        uint64_t first = kc_spool_next_seq(sp);
        int n = 1 + (int)(rnd(&rng) % 4);
        for (int j = 0; j < n; j++) {
            char id[24];
            snprintf(id, sizeof id, "A%llu", (unsigned long long)kc_spool_next_seq(sp));
            if (kc_spool_stage(sp, id, "src", id, strlen(id)) != 0) /* payload: the id */
                _exit(3);
        }
        uint64_t hi = kc_spool_next_seq(sp) - 1;
        bool all = rnd(&rng) % 3 == 0;
        uint64_t t = all ? hi : to + rnd(&rng) % (hi - to);
        if (t > to)
            to = t;
        msg_t m = {.kind = 'I', .seq = first, .hi = hi, .to = to};
        child_send(fd, &m);
        kc_spool_range_t r = {1, to, 0};
        if (kc_spool_commit(sp, &r, 1) != 0)
            _exit(3);
        m.kind = 'D';
        child_send(fd, &m);
        if (self_kill && c >= after && to == hi)
            kill(getpid(), SIGKILL);
    }
}

static int on_raw(uint64_t seq, const void *ev, size_t len, void *ctx)
{
    pend_t *p = ctx;
    assert_true(p->n < 4096 && len < sizeof p->id[0]);
    p->seq[p->n] = seq;
    memcpy(p->id[p->n], ev, len);
    p->id[p->n][len] = '\0';
    p->n++;
    return 0;
}

/* Whether the reopened spool is the state (to, hi]: pending exactly those seqs
 * in order, next_seq hi + 1. */
static bool spool_is(kc_spool_t *sp, uint64_t hi, uint64_t to)
{
    static pend_t pend;
    pend.n = 0;
    assert_true(kc_spool_read(sp, 1, 100000, (size_t)1 << 30, on_raw, &pend) >= 0);
    if (kc_spool_next_seq(sp) != hi + 1 || pend.n != hi - to || kc_spool_count(sp) != hi - to)
        return false;
    for (size_t i = 0; i < pend.n; i++) {
        char id[24];
        snprintf(id, sizeof id, "A%llu", (unsigned long long)(to + 1 + i));
        if (pend.seq[i] != to + 1 + i || strcmp(pend.id[i], id) != 0)
            return false;
    }
    return true;
}

static void test_unclean_stop_acked(void **state)
{
    const char *dir = *state;
    uint64_t rng = 4242, next_seq = 1;
    for (int round = 1; round <= 6; round++) {
        bool self_kill = round % 2 == 0; /* stops with everything acknowledged */
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        int after = 1 + (int)(rnd(&rng) % 20);
        uint64_t seed = rnd(&rng);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            child_acked(dir, fds[1], seed, self_kill, after);
            _exit(5);
        }
        close(fds[1]);
        msg_t m, done = {0}, intent = {0};
        bool have_done = false, have_intent = false, first = true;
        int dones = 0;
        while ((self_kill || dones < after) && read_msg(fds[0], &m)) {
            if (first) /* the reopened spool hands out what it must */
                assert_int_equal(m.seq, next_seq);
            first = false;
            if (m.kind == 'I') {
                intent = m;
                have_intent = true;
            } else {
                assert_int_equal(m.kind, 'D');
                done = m;
                have_done = true;
                have_intent = false;
                dones++;
            }
        }
        reap_killed(pid, !self_kill);
        while (read_msg(fds[0], &m)) {
            if (m.kind == 'I') {
                intent = m;
                have_intent = true;
            } else {
                done = m;
                have_done = true;
                have_intent = false;
            }
        }
        close(fds[0]);
        assert_true(have_done);
        if (self_kill)
            assert_true(done.to == done.hi && !have_intent); /* killed itself, spool empty */

        kc_spool_t *sp;
        assert_int_equal(kc_spool_open(&sp, dir, "p-acks"), 0);
        /* the last confirmed commit, or the announced one after it if it got through */
        bool ok =
            spool_is(sp, done.hi, done.to) || (have_intent && spool_is(sp, intent.hi, intent.to));
        if (!ok)
            print_message("round %d: reopened with next_seq %llu, %llu pending; the last "
                          "confirmed commit left seqs %llu..%llu pending, next_seq %llu\n",
                          round, (unsigned long long)kc_spool_next_seq(sp),
                          (unsigned long long)kc_spool_count(sp), (unsigned long long)done.to + 1,
                          (unsigned long long)done.hi, (unsigned long long)done.hi + 1);
        assert_true(ok);
        assert_true(kc_spool_next_seq(sp) > done.hi); /* never back */
        next_seq = kc_spool_next_seq(sp);
        kc_spool_close(&sp);
    }
}

static void test_map_grows(void **state)
{
    kc_spool_set_initial_map_size(64 * 1024);
    kc_spool_t *sp;
    assert_int_equal(kc_spool_open(&sp, *state, "p"), 0);
    size_t before = kc_spool_map_size(sp);
    static char blob[2000];
    memset(blob, 'b', sizeof blob);
    for (int i = 0; i < 500; i++) /* ~1 MB in one transaction */
        assert_int_equal(kc_spool_stage(sp, "E", "s", blob, sizeof blob), 0);
    assert_int_equal(kc_spool_commit(sp, NULL, 0), 0);
    assert_true(kc_spool_map_size(sp) > before);
    assert_int_equal(kc_spool_count(sp), 500);
    kc_spool_close(&sp);
    kc_spool_set_initial_map_size(0);
    assert_int_equal(kc_spool_open(&sp, *state, "p"), 0);
    assert_int_equal(kc_spool_count(sp), 500);
    kc_spool_close(&sp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_survives_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ranges_removed_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unclean_stop_adds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unclean_stop_acked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_map_grows, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
