/* replay_send_test.c - kc-replay send into a real kc-aggregator: a log file
 * exported from a store built through kc_apply (records, corrections,
 * retractions) is re-published twice; the first pass counts every event and
 * gives the source's totals cell by cell, the second is all duplicates and
 * changes nothing (same totals, same log size). Then a tampered file is
 * refused before anything is sent. */
#include "harness.h"
#include "kc_log.h"
#include "kc_logfile.h"
#include "replay_util.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    kc_txn_t *other;
    int cells;
} s_cmp_t;

static int s_cmp_cell(const kc_cell_key_t *key, const kc_cell_t *cell, void *ctx)
{
    s_cmp_t *c = ctx;
    kc_cell_t o;
    KC_CHECK(kc_txn_totals_get(c->other, key, &o) == 0, "cell %04u-%02u %02u missing", key->year,
             key->month, key->province);
    KC_CHECK(o.events == cell->events && memcmp(o.m, cell->m, sizeof o.m) == 0,
             "cell %04u-%02u %02u differs", key->year, key->month, key->province);
    c->cells++;
    return 0;
}

/* Cells of src and of the store in dir are the same; returns dir's log size. */
static uint64_t s_same_cells(kc_store_t *src, const char *dir)
{
    kc_store_t *b;
    kc_store_opts_t o = {.read_only = true};
    KC_CHECK(kc_store_open(&b, dir, &o) == 0, "open %s", dir);
    kc_txn_t *ta, *tb;
    KC_CHECK(kc_store_read_begin(src, &ta) == 0 && kc_store_read_begin(b, &tb) == 0, "read");
    s_cmp_t ab = {.other = tb}, ba = {.other = ta};
    KC_CHECK(kc_txn_totals_scan(ta, NULL, NULL, s_cmp_cell, &ab) == 0, "scan a");
    KC_CHECK(kc_txn_totals_scan(tb, NULL, NULL, s_cmp_cell, &ba) == 0, "scan b");
    KC_CHECK(ab.cells == ba.cells && ab.cells > 50, "cells %d vs %d", ab.cells, ba.cells);
    uint64_t n = 0;
    KC_CHECK(kc_txn_log_size(tb, &n) == 0, "log size");
    kc_txn_end(&ta);
    kc_txn_end(&tb);
    kc_store_close(&b);
    return n;
}

/* Run kc-replay send; returns the exit code and the summary in *s. */
static int s_send(const char *endpoint, const char *file, const char *spool, const char *out,
                  kc_summary_t *s)
{
    char bin[KC_PATH_MAX];
    kc_harness_bin(bin, "kc-replay");
    char *argv[] = {bin,         "send",           "--file",     (char *)file,
                    "--connect", (char *)endpoint, "--producer", "replayer",
                    "--spool",   (char *)spool,    "--timeout",  "60",
                    NULL};
    char err[KC_PATH_MAX + 8];
    snprintf(err, sizeof err, "%s.err", out);
    pid_t pid = kc_harness_spawn(argv, out, err);
    int st;
    KC_CHECK(kc_harness_wait(pid, 120000, &st) == 0, "kc-replay send did not end");
    KC_CHECK(WIFEXITED(st), "kc-replay send died");
    memset(s, 0, sizeof *s);
    KC_CHECK(kc_harness_summary(out, s) == 0 || WEXITSTATUS(st) != 0, "no summary in %s", out);
    return WEXITSTATUS(st);
}

static void s_quiet(kc_log_level_t level, const char *line, void *ctx)
{
    (void)level;
    (void)line;
    (void)ctx;
}

int main(void)
{
    kc_harness_init("replay_send_test");
    KC_CHECK(sodium_init() >= 0, "sodium");
    kc_log_set_sink(s_quiet, NULL);
    char src_dir[KC_PATH_MAX], file[KC_PATH_MAX], agg_dir[KC_PATH_MAX], spool[KC_PATH_MAX],
        out[KC_PATH_MAX];
    kc_harness_path(src_dir, "src");
    kc_harness_path(file, "src.kclog");
    kc_harness_path(agg_dir, "agg");
    kc_harness_path(spool, "spool");
    kc_store_t *src;
    kc_store_opts_t o = {0};
    KC_CHECK(kc_store_open(&src, src_dir, &o) == 0, "open src");
    int entries = r_fixture(src);
    KC_CHECK(entries == R_P1_EVENTS + 2, "fixture: %d", entries);
    KC_CHECK(kc_store_sign_head(src, NULL) == 0, "sign");
    KC_CHECK(kc_logfile_export(src, file, 0, NULL, NULL) == 0, "export");

    kc_agg_t agg;
    memset(&agg, 0, sizeof agg);
    kc_harness_agg_start(&agg, agg_dir, "tcp://127.0.0.1:*", NULL);
    kc_summary_t s;
    kc_harness_path(out, "send-1.out");
    int ex = s_send(agg.endpoint, file, spool, out, &s);
    KC_CHECK(ex == 0, "first send exit %d", ex);
    KC_CHECK(s.accepted == entries && s.duplicates == 0 && s.rejected == 0,
             "first: a=%ld d=%ld r=%ld", s.accepted, s.duplicates, s.rejected);
    uint64_t n1 = s_same_cells(src, agg_dir);
    KC_CHECK(n1 == (uint64_t)entries, "log %llu", (unsigned long long)n1);

    kc_harness_path(out, "send-2.out");
    ex = s_send(agg.endpoint, file, spool, out, &s);
    KC_CHECK(ex == 0, "second send exit %d", ex);
    KC_CHECK(s.accepted == 0 && s.duplicates == entries && s.rejected == 0,
             "second: a=%ld d=%ld r=%ld", s.accepted, s.duplicates, s.rejected);
    uint64_t n2 = s_same_cells(src, agg_dir);
    KC_CHECK(n2 == n1, "log grew: %llu -> %llu", (unsigned long long)n1, (unsigned long long)n2);

    /* a tampered file: nothing is sent (exit 65) */
    FILE *f = fopen(file, "r+b");
    KC_CHECK(f != NULL, "open file");
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, size / 2, SEEK_SET);
    int c = fgetc(f);
    fseek(f, size / 2, SEEK_SET);
    fputc(c ^ 0x01, f);
    fclose(f);
    kc_harness_path(out, "send-3.out");
    ex = s_send(agg.endpoint, file, spool, out, &s);
    KC_CHECK(ex == 65, "tampered send exit %d", ex);
    KC_CHECK(s_same_cells(src, agg_dir) == n1, "log changed");

    kc_harness_agg_term(&agg);
    kc_store_close(&src);
    kc_harness_pass();
    printf("replay_send_test: ok (%d events sent twice: accepted, then all duplicates)\n", entries);
    return 0;
}
