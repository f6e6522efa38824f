/* apply_work.c - a fixed in-process aggregator workload for instruction counts.
 *
 * kc-apply-work [--groups G] [--batches B] [--events E] [--dir DIR]
 * applies G groups of B Batches of E events each (defaults 200 x 8 x 1000) to
 * a fresh temporary store through kc_apply_add / kc_apply_commit /
 * kc_apply_reset, exactly as the daemon does, and checks that every event was
 * accepted. Batch b of every group comes from producer "w<b>" (seqs continue
 * from group to group); the events are bench/gen_csv.c's
 * deterministic rows (varied provinces, periods, activities, metrics), encoded
 * by libkcingest's kc_encode_event. The Batch bytes of a group are generated
 * before the group is applied, so that a profiler can count the aggregator
 * alone:
 *
 *   valgrind --tool=callgrind --toggle-collect=kc_apply_add_granted \
 *     --toggle-collect=kc_apply_commit --toggle-collect=kc_apply_reset kc-apply-work
 *
 * Registered as a ctest at a small size so that it keeps working.
 */
#include "gen_csv.h"
#include "kc_apply.h"
#include "kc_encode.h"
#include "kc_err.h"
#include "kc_event.h"
#include "kc_log.h"
#include "kc_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int s_kind(const char *s)
{
    return !*s ? KCI_KIND_DEFAULT : strcmp(s, "plan") == 0 ? KCI_KIND_PLAN : KCI_KIND_ACTUAL;
}

static int s_fund(const char *s)
{
    if (!*s)
        return KCI_FUND_DEFAULT;
    return strcmp(s, "kcqg") == 0   ? KCI_FUND_KCQG
           : strcmp(s, "kcdp") == 0 ? KCI_FUND_KCDP
                                    : KCI_FUND_OTHER;
}

static void s_die(const char *what, int rc)
{
    fprintf(stderr, "kc-apply-work: %s: %s\n", what, kc_strerror(rc));
    exit(1);
}

int main(int argc, char **argv)
{
    unsigned long groups = 200, batches = 8, events = 1000;
    const char *base = getenv("TMPDIR");
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--groups") == 0 && i + 1 < argc)
            groups = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--batches") == 0 && i + 1 < argc)
            batches = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--events") == 0 && i + 1 < argc)
            events = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
            base = argv[++i];
        else {
            fprintf(stderr,
                    "usage: kc-apply-work [--groups G] [--batches B] [--events E] [--dir DIR]\n");
            return strcmp(argv[i], "--help") == 0 ? 0 : 2;
        }
    }
    if (batches == 0 || batches > 64 || events == 0)
        return 2;
    kc_log_set_level(KC_LOG_WARN);

    char dir[4096];
    snprintf(dir, sizeof dir, "%s/kc-apply-work-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    kc_store_t *store = NULL;
    kc_store_opts_t so = {0};
    int rc = kc_store_open(&store, dir, &so);
    if (rc != 0)
        s_die("open store", rc);
    kc_apply_t *g = kc_apply_new();
    if (!g)
        s_die("kc_apply_new", KC_ENOMEM);

    kc_gen_t gen[64];
    char prod[64][16];
    for (unsigned long b = 0; b < batches; b++) {
        snprintf(prod[b], sizeof prod[b], "w%lu", b);
        kc_gen_init(&gen[b], prod[b], 1000 + b);
    }
    ProtobufCBinaryData *bd = calloc(events, sizeof *bd);
    kc_buf_t *evb = calloc(events, sizeof *evb);
    uint8_t **msg = calloc(batches, sizeof *msg);
    size_t *msglen = calloc(batches, sizeof *msglen);
    if (!bd || !evb || !msg || !msglen)
        s_die("calloc", KC_ENOMEM);
    uint64_t accepted = 0, bytes = 0;
    size_t arena_max = 0; /* the group's decode arena after its adds, at most */
    for (unsigned long gi = 0; gi < groups; gi++) {
        for (unsigned long b = 0; b < batches; b++) {
            for (unsigned long k = 0; k < events; k++) {
                kc_gen_row_t r;
                kc_gen_next(&gen[b], &r);
                kc_event_t ev = {.event_id = r.event_id,
                                 .province = r.province,
                                 .year = r.year,
                                 .month = r.month,
                                 .activity = r.activity,
                                 .kind = s_kind(r.kind),
                                 .fund = s_fund(r.fund),
                                 .present = r.present,
                                 .note = r.note};
                memcpy(ev.metrics, r.m, sizeof ev.metrics);
                uint64_t seq = (uint64_t)gi * events + k + 1;
                if ((rc = kc_encode_event(&ev, prod[b], seq, &evb[k])) != 0)
                    s_die("encode", rc);
                bd[k].data = evb[k].data;
                bd[k].len = evb[k].len;
            }
            kc_pb_batch_t batch = KCPIPE__V1__BATCH__INIT;
            batch.producer_id = prod[b];
            batch.n_events = events;
            batch.events = bd;
            msglen[b] = kcpipe__v1__batch__get_packed_size(&batch);
            free(msg[b]);
            msg[b] = malloc(msglen[b]);
            if (!msg[b])
                s_die("malloc", KC_ENOMEM);
            kcpipe__v1__batch__pack(&batch, msg[b]);
            bytes += msglen[b];
        }
        for (unsigned long b = 0; b < batches; b++)
            if ((rc = kc_apply_add(g, msg[b], msglen[b])) != 0)
                s_die("kc_apply_add", rc);
        if (kc_apply_arena_bytes(g) > arena_max)
            arena_max = kc_apply_arena_bytes(g);
        if ((rc = kc_apply_commit(g, store)) != 0)
            s_die("kc_apply_commit", rc);
        accepted += kc_apply_delta(g)->accepted;
        kc_apply_reset(g);
    }
    uint64_t want = (uint64_t)groups * batches * events;
    printf("kc-apply-work: %lu groups x %lu batches x %lu events: %llu accepted of %llu, "
           "%.1f bytes/event on the wire, decode arena %zu kB\n",
           groups, batches, events, (unsigned long long)accepted, (unsigned long long)want,
           want ? (double)bytes / (double)want : 0.0, arena_max / 1024);

    kc_apply_destroy(&g);
    kc_store_close(&store);
    for (unsigned long k = 0; k < events; k++)
        free(evb[k].data);
    for (unsigned long b = 0; b < batches; b++)
        free(msg[b]);
    free(evb);
    free(bd);
    free(msg);
    free(msglen);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "kc-apply-work: cannot remove %s\n", dir);
    return accepted == want ? 0 : 1;
}
