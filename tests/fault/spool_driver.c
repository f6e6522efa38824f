/* spool_driver.c - kc-spool-driver: a field-office program built on
 * libkcingest's public API (kcingest.h), for the spool-durability scenario
 * (spool_fault_test.c). It has no file to re-offer: what the spool loses is
 * lost, and a sequence number the spool hands out twice is visible.
 *
 *   kc-spool-driver --connect EP --producer ID --spool DIR --record FILE --run K
 *                   --seed S [--events N [--hold]] [--group G] [--batch B]
 *                   [--request-timeout-ms T] [--timeout-ms T]
 *   kc-spool-driver --drain --connect EP --producer ID --spool DIR [--timeout-ms T]
 *
 * DESIGN
 * Add mode makes the events of run K (spool_gen.h: ids "ID-rK-<row>", values
 * from the seed) in groups of 1..G (sizes seeded too) and, for each group:
 * kc_producer_add() each event, kc_producer_sync(), then appends one line per
 * event of the group to the record file and fdatasync()s it, then
 * kc_producer_poll(p, 0) (send, take Acks). kcingest.h's contract: an event is
 * durable in the spool once the spool transaction that holds it committed -
 * kc_producer_sync() returning 0 (kc_producer_add() itself only commits every
 * opts.batch_max events, which B smaller than G makes happen inside groups
 * too). So a record line, "<seq> <event_id> <content>" (seq as add returned
 * it, content as kc_spoolgen_content), is written only for an event the
 * library has reported spooled, and is on disk before the next event is
 * added. The record file must lie outside DIR (a power-loss shim watches DIR).
 * With --events N the run stops adding after N events, flushes until nothing
 * is pending and exits 0 (so that the next run starts from an empty spool);
 * with --hold too it then prints "flushed pending=0" and waits, spool open,
 * to be killed (an unclean stop with everything acknowledged); without
 * --events, it adds until it is killed.
 * Add mode prints "opened pending=N" (events left by earlier runs) first.
 * Drain mode adds nothing: it opens the spool and flushes until nothing is
 * pending, then prints "drained pending_at_open=N accepted=A duplicates=D
 * rejected=R" and exits 0 (4 if the deadline passed first).
 * Any library error ends the program with exit 3 and a message on stderr.
 */
#include "kcingest.h"
#include "spool_gen.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_LINE 512

typedef struct {
    long accepted, duplicates, rejected;
} s_counts_t;

static void s_on_result(const kc_result_t *r, void *ctx)
{
    s_counts_t *c = ctx;
    if (r->reason == KCI_ACCEPTED)
        c->accepted++;
    else if (r->reason == KCI_DUPLICATE)
        c->duplicates++;
    else {
        c->rejected++;
        fprintf(stderr, "spool-driver: seq %" PRIu64 " %s rejected: %s %s\n", r->seq, r->event_id,
                r->reason_name, r->text);
    }
}

static __attribute__((noreturn)) void s_die(const char *what, int rc)
{
    fprintf(stderr, "spool-driver: %s: %s (%d)\n", what, kc_producer_strerror(rc), rc);
    exit(3);
}

static void s_write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            fprintf(stderr, "spool-driver: writing the record: %s\n", strerror(errno));
            exit(3);
        }
        buf += n;
        len -= (size_t)n;
    }
}

static uint64_t s_rand(uint64_t *x) /* splitmix64 */
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static kc_event_t s_event(const kc_gen_row_t *r)
{
    kc_event_t ev = {.event_id = r->event_id,
                     .province = r->province,
                     .year = r->year,
                     .month = r->month,
                     .activity = r->activity,
                     .kind = *r->kind ? kc_spoolgen_kind(r->kind) : KCI_KIND_DEFAULT,
                     .fund = *r->fund ? kc_spoolgen_fund(r->fund) : KCI_FUND_DEFAULT,
                     .present = r->present,
                     .note = r->note,
                     .op = KCI_OP_RECORD};
    for (int i = 0; i < KCI_METRIC_COUNT; i++)
        ev.metrics[i] = r->m[i];
    return ev;
}

static __attribute__((noreturn)) void s_usage(void)
{
    fprintf(stderr,
            "usage: kc-spool-driver [--drain] --connect EP --producer ID --spool DIR "
            "[--record FILE --run K --seed S] [--events N [--hold]] [--group G] [--batch B] "
            "[--request-timeout-ms T] [--timeout-ms T]\n");
    exit(64);
}

int main(int argc, char **argv)
{
    const char *ep = NULL, *prod = NULL, *spool = NULL, *record = NULL;
    long run = -1, events = 0, group = 40, batch = 16, req_ms = 1000, timeout_ms = 120000;
    uint64_t seed = 0;
    bool drain = false, hold = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--drain") == 0 || strcmp(a, "--hold") == 0) {
            *(a[2] == 'd' ? &drain : &hold) = true;
            continue;
        }
        if (!v)
            s_usage();
        i++;
        if (strcmp(a, "--connect") == 0)
            ep = v;
        else if (strcmp(a, "--producer") == 0)
            prod = v;
        else if (strcmp(a, "--spool") == 0)
            spool = v;
        else if (strcmp(a, "--record") == 0)
            record = v;
        else if (strcmp(a, "--run") == 0)
            run = atol(v);
        else if (strcmp(a, "--seed") == 0)
            seed = strtoull(v, NULL, 0);
        else if (strcmp(a, "--events") == 0)
            events = atol(v);
        else if (strcmp(a, "--group") == 0)
            group = atol(v);
        else if (strcmp(a, "--batch") == 0)
            batch = atol(v);
        else if (strcmp(a, "--request-timeout-ms") == 0)
            req_ms = atol(v);
        else if (strcmp(a, "--timeout-ms") == 0)
            timeout_ms = atol(v);
        else
            s_usage();
    }
    if (!ep || !prod || !spool || (!drain && (!record || run < 0)) || group < 1 || batch < 1)
        s_usage();
    kc_ingest_set_log("spool-driver", KCI_LOG_WARN, NULL, NULL);
    kc_producer_opts_t o = {.endpoint = ep,
                            .producer_id = prod,
                            .spool_dir = spool,
                            .request_timeout_ms = (int)req_ms,
                            .batch_max = (size_t)batch,
                            .window = 4};
    kc_producer_t *p = NULL;
    int rc = kc_producer_open(&p, &o);
    if (rc)
        s_die("kc_producer_open", rc);
    s_counts_t counts = {0};
    kc_producer_on_result(p, s_on_result, &counts);

    if (drain) {
        uint64_t at_open = kc_producer_pending(p);
        rc = kc_producer_flush(p, (int)timeout_ms);
        if (rc && rc != KCI_ETIMEDOUT)
            s_die("kc_producer_flush", rc);
        uint64_t left = kc_producer_pending(p);
        kc_producer_close(&p);
        printf("drained pending_at_open=%" PRIu64 " pending=%" PRIu64
               " accepted=%ld duplicates=%ld rejected=%ld\n",
               at_open, left, counts.accepted, counts.duplicates, counts.rejected);
        return left == 0 ? 0 : 4;
    }

    printf("opened pending=%" PRIu64 "\n", kc_producer_pending(p));
    fflush(stdout); /* read by the test even if this run is killed */
    int fd = open(record, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) {
        fprintf(stderr, "spool-driver: %s: %s\n", record, strerror(errno));
        return 3;
    }
    char prefix[96];
    kc_spoolgen_prefix(prefix, sizeof prefix, prod, (int)run);
    kc_gen_t g;
    kc_gen_init(&g, prefix, kc_spoolgen_seed(seed, (int)run));
    uint64_t rng = kc_spoolgen_seed(seed, (int)run) ^ 0x5bd1e995u;
    size_t cap = (size_t)group;
    char *lines = malloc(cap * S_LINE);
    if (!lines)
        return 3;
    long added = 0;
    while (events == 0 || added < events) {
        long n = 1 + (long)(s_rand(&rng) % (uint64_t)group);
        if (events && n > events - added)
            n = events - added;
        size_t len = 0;
        for (long j = 0; j < n; j++) {
            kc_gen_row_t r;
            kc_gen_next(&g, &r);
            kc_event_t ev = s_event(&r);
            uint64_t seq = 0;
            if ((rc = kc_producer_add(p, &ev, r.event_id, &seq)))
                s_die("kc_producer_add", rc);
            char content[KC_SPOOLGEN_CONTENT];
            kc_spoolgen_row_content(content, sizeof content, &r);
            int w = snprintf(lines + len, S_LINE, "%" PRIu64 " %s %s\n", seq, r.event_id, content);
            if (w <= 0 || w >= S_LINE)
                return 3;
            len += (size_t)w;
        }
        if ((rc = kc_producer_sync(p)))
            s_die("kc_producer_sync", rc);
        /* the group is spooled: only now does the record say so */
        s_write_all(fd, lines, len);
        if (fdatasync(fd) != 0) {
            fprintf(stderr, "spool-driver: fdatasync of the record: %s\n", strerror(errno));
            return 3;
        }
        added += n;
        if ((rc = kc_producer_poll(p, 0)) && rc != KCI_EINTR)
            s_die("kc_producer_poll", rc);
    }
    free(lines);
    close(fd);
    rc = kc_producer_flush(p, (int)timeout_ms);
    if (rc)
        s_die("kc_producer_flush", rc);
    if (hold) { /* every event acknowledged; wait to be killed with the spool open */
        printf("flushed pending=%" PRIu64 "\n", kc_producer_pending(p));
        fflush(stdout);
        for (;;)
            pause();
    }
    kc_producer_close(&p);
    printf("added %ld accepted=%ld duplicates=%ld rejected=%ld\n", added, counts.accepted,
           counts.duplicates, counts.rejected);
    return counts.rejected ? 5 : 0;
}
