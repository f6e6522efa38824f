/* resend_test.c - every CSV sent twice: nothing counted twice.
 *
 * First pass: four producers send their CSVs (each with its own spool); every
 * row is accepted. Second pass, all four again at once: two reuse their spool,
 * one starts from a fresh spool under the same producer id (a reinstalled
 * office), one from a fresh spool under a new producer id; every row of the
 * second pass must be reported as a duplicate and the store must still hold
 * each event once. Synchronisation: ready file, then waits on each kc-send's
 * exit by pid with deadlines; SIGTERM for the aggregator.
 */
#include "gen_csv.h"
#include "harness.h"
#include "verify.h"

#include <stdio.h>

#define PRODUCERS 4
#define ROWS      5000
#define SEND_MS   180000

int main(void)
{
    kc_harness_init("resend_test");
    kc_gen_sums_t expect = {0};
    char csv[PRODUCERS][KC_PATH_MAX], spool[PRODUCERS][KC_PATH_MAX], out[PRODUCERS][KC_PATH_MAX];
    char prod[PRODUCERS][16];
    for (int i = 0; i < PRODUCERS; i++) {
        snprintf(prod[i], sizeof prod[i], "resend-%d", i + 1);
        kc_harness_path(csv[i], "%s.csv", prod[i]);
        kc_harness_path(spool[i], "spool-%d", i + 1);
        kc_harness_path(out[i], "first-%d.out", i + 1);
        KC_CHECK(kc_gen_csv(csv[i], prod[i], 300 + i, ROWS, &expect) == 0, "write %s", csv[i]);
    }
    char store[KC_PATH_MAX];
    kc_harness_path(store, "store");
    kc_agg_t agg = {0};
    kc_harness_agg_start(&agg, store, "tcp://127.0.0.1:*", NULL);

    pid_t pid[PRODUCERS];
    for (int i = 0; i < PRODUCERS; i++)
        pid[i] = kc_harness_send_start(agg.endpoint, prod[i], spool[i], csv[i], out[i], NULL);
    for (int i = 0; i < PRODUCERS; i++) {
        kc_summary_t s;
        kc_harness_send_check(pid[i], out[i], SEND_MS, ROWS, &s);
        KC_CHECK(s.accepted == ROWS, "first pass %s: accepted=%ld of %d", prod[i], s.accepted,
                 ROWS);
    }

    /* second pass: same spool (1, 2), fresh spool same id (3), fresh spool new id (4) */
    static const char *const how[PRODUCERS] = {"same spool", "same spool",
                                               "fresh spool, same producer id",
                                               "fresh spool, new producer id"};
    char id2[PRODUCERS][24], spool2[PRODUCERS][KC_PATH_MAX], out2[PRODUCERS][KC_PATH_MAX];
    for (int i = 0; i < PRODUCERS; i++) {
        snprintf(id2[i], sizeof id2[i], "%s%s", prod[i], i == 3 ? "-new" : "");
        if (i < 2)
            snprintf(spool2[i], sizeof spool2[i], "%s", spool[i]);
        else
            kc_harness_path(spool2[i], "spool-%d-fresh", i + 1);
        kc_harness_path(out2[i], "second-%d.out", i + 1);
        pid[i] = kc_harness_send_start(agg.endpoint, id2[i], spool2[i], csv[i], out2[i], NULL);
    }
    kc_summary_t s2[PRODUCERS];
    for (int i = 0; i < PRODUCERS; i++)
        kc_harness_send_check(pid[i], out2[i], SEND_MS, ROWS, &s2[i]);
    kc_harness_agg_term(&agg);

    /* nothing counted twice (checked first: it is the guarantee that matters) */
    kc_verify_store(store, &expect);
    kc_verify_query(store, &expect);
    /* and the second pass says so */
    for (int i = 0; i < PRODUCERS; i++)
        KC_CHECK(s2[i].duplicates == ROWS && s2[i].accepted == 0,
                 "second pass %s (%s): accepted=%ld duplicates=%ld, expected all %d duplicates",
                 id2[i], how[i], s2[i].accepted, s2[i].duplicates, ROWS);
    kc_harness_pass();
    printf("resend_test: ok (%llu events, each CSV sent twice)\n",
           (unsigned long long)expect.events);
    return 0;
}
