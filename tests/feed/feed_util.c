/* feed_util.c - see feed_util.h. */
#include "feed_util.h"

#include "kc_cells.h"
#include "kc_err.h"
#include "kc_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void kc_feed_read_eps(const char *ready, kc_feed_eps_t *eps)
{
    memset(eps, 0, sizeof *eps);
    FILE *f = fopen(ready, "r");
    KC_CHECK(f != NULL, "open the ready file %s", ready);
    char line[512];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        /* an endpoint longer than the field cannot be one the test bound */
        if (strncmp(line, "feed ", 5) == 0 && strlen(line + 5) < sizeof eps->feed)
            memcpy(eps->feed, line + 5, strlen(line + 5) + 1);
        else if (strncmp(line, "snapshot ", 9) == 0 && strlen(line + 9) < sizeof eps->snapshot)
            memcpy(eps->snapshot, line + 9, strlen(line + 9) + 1);
    }
    fclose(f);
    KC_CHECK(eps->feed[0] && eps->snapshot[0], "no feed/snapshot lines in %s", ready);
}

kc_feedc_t *kc_feed_client(void *zctx, const kc_feed_eps_t *eps)
{
    kc_feedc_opts_t o = {
        .pub_endpoint = eps->feed, .snapshot_endpoint = eps->snapshot, .snapshot_timeout_ms = 5000};
    kc_feedc_t *c = NULL;
    int rc = kc_feedc_new(&c, zctx, &o);
    KC_CHECK(rc == 0, "kc_feedc_new: %s", kc_strerror(rc));
    return c;
}

void kc_feed_poll_all(kc_feedc_t **c, size_t n, int step_ms)
{
    int each = step_ms / (int)(n ? n : 1);
    for (size_t i = 0; i < n; i++) {
        int rc = kc_feedc_poll(c[i], each > 0 ? each : 1);
        KC_CHECK(rc >= 0, "kc_feedc_poll: %s", kc_strerror(rc));
    }
}

void kc_feed_converge(kc_feedc_t **c, size_t n, uint64_t want, int timeout_ms)
{
    int64_t deadline = kc_harness_now_ms() + timeout_ms;
    for (;;) {
        size_t ok = 0;
        for (size_t i = 0; i < n; i++)
            if (kc_feedc_synced(c[i]) && kc_feedc_seq(c[i]) >= want)
                ok++;
        if (ok == n)
            return;
        KC_CHECK(kc_harness_now_ms() < deadline,
                 "%zu of %zu feed clients at seq %llu within %d ms (first: synced %d seq %llu)", ok,
                 n, (unsigned long long)want, timeout_ms, (int)kc_feedc_synced(c[0]),
                 (unsigned long long)kc_feedc_seq(c[0]));
        kc_feed_poll_all(c, n, 20);
    }
}

typedef struct {
    kc_cell_key_t *k;
    kc_cell_t *v;
    size_t n, cap;
} s_cells_t;

static int s_collect(const kc_cell_key_t *key, const kc_cell_t *cell, void *ctx)
{
    s_cells_t *s = ctx;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 1024;
        s->k = realloc(s->k, s->cap * sizeof *s->k);
        s->v = realloc(s->v, s->cap * sizeof *s->v);
        KC_CHECK(s->k && s->v, "out of memory");
    }
    s->k[s->n] = *key;
    s->v[s->n++] = *cell;
    return 0;
}

size_t kc_feed_compare_store(kc_feedc_t *c, const char *store_dir, int y0, int y1, const char *name)
{
    kc_store_t *s = NULL;
    kc_store_opts_t ro = {.read_only = true};
    int rc = kc_store_open(&s, store_dir, &ro);
    KC_CHECK(rc == 0, "open %s read-only: %s", store_dir, kc_strerror(rc));
    kc_txn_t *t = NULL;
    KC_CHECK(kc_store_read_begin(s, &t) == 0, "read txn");
    uint64_t size = 0;
    KC_CHECK(kc_txn_log_size(t, &size) == 0, "log size");
    KC_CHECK(kc_feedc_seq(c) == size, "%s: client at seq %llu, store log size %llu", name,
             (unsigned long long)kc_feedc_seq(c), (unsigned long long)size);

    /* every cell, in key order: the same set and the same values */
    s_cells_t a = {0}, b = {0};
    KC_CHECK(kc_txn_totals_scan(t, NULL, NULL, s_collect, &a) == 0, "scan store");
    KC_CHECK(kc_cells_mem_scan(kc_feedc_cells(c), NULL, NULL, s_collect, &b) == 0, "scan client");
    KC_CHECK(a.n == b.n, "%s: %zu cells in the client, %zu in the store", name, b.n, a.n);
    for (size_t i = 0; i < a.n; i++) {
        uint8_t ka[KC_CELL_KEY_LEN], kb[KC_CELL_KEY_LEN]; /* the struct has a padding byte */
        kc_cell_key_encode(&a.k[i], ka);
        kc_cell_key_encode(&b.k[i], kb);
        KC_CHECK(memcmp(ka, kb, sizeof ka) == 0, "%s: cell %zu: keys differ", name, i);
        KC_CHECK(a.v[i].events == b.v[i].events,
                 "%s: cell %zu (%u-%02u p%u a%u): events %llu vs "
                 "store %llu",
                 name, i, a.k[i].year, a.k[i].month, a.k[i].province, a.k[i].activity,
                 (unsigned long long)b.v[i].events, (unsigned long long)a.v[i].events);
        for (int m = 0; m < KC_METRIC_COUNT; m++)
            KC_CHECK(a.v[i].m[m] == b.v[i].m[m], "%s: cell %zu metric %d: %lld vs store %lld", name,
                     i, m, (long long)b.v[i].m[m], (long long)a.v[i].m[m]);
    }

    /* the tools' sums over both sources agree (the way kc-query adds them up) */
    kc_cells_filter_t f;
    kc_cells_filter_init(&f);
    f.by = KC_BY_PROVINCE;
    kc_cells_src_t ss = {.txn = t}, cs = {.mem = kc_feedc_cells(c)};
    kc_cells_result_t *ra = calloc(1, sizeof *ra), *rb = calloc(1, sizeof *rb);
    KC_CHECK(ra && rb, "out of memory");
    for (int y = y0; y <= y1; y++)
        for (int kind = 1; kind <= 2; kind++) {
            KC_CHECK(kc_cells_sum_src(&ss, &f, y, 1, 12, kind, ra) == 0, "sum store");
            KC_CHECK(kc_cells_sum_src(&cs, &f, y, 1, 12, kind, rb) == 0, "sum client");
            KC_CHECK(memcmp(&ra->total, &rb->total, sizeof ra->total) == 0,
                     "%s: %d kind %d: sums differ", name, y, kind);
            KC_CHECK(memcmp(ra->used, rb->used, sizeof ra->used) == 0 &&
                         memcmp(ra->row, rb->row, sizeof ra->row) == 0,
                     "%s: %d kind %d: province rows differ", name, y, kind);
        }
    free(ra);
    free(rb);

    /* (d) last report of every unit */
    for (int u = 1; u < 256; u++) {
        kc_unit_state_t st;
        rc = kc_txn_unit_get(t, (uint8_t)u, &st);
        KC_CHECK(rc == 0 || rc == KC_ENOTFOUND, "unit %d: %s", u, kc_strerror(rc));
        kc_feedc_unit_t cu = kc_feedc_unit(c, (uint8_t)u);
        KC_CHECK(cu.last_report_ns == st.last_report_ns && cu.last_offset == st.last_offset &&
                     cu.events == st.events,
                 "%s: unit %d: client (%llu, %llu, %llu) store (%llu, %llu, %llu)", name, u,
                 (unsigned long long)cu.last_report_ns, (unsigned long long)cu.last_offset,
                 (unsigned long long)cu.events, (unsigned long long)st.last_report_ns,
                 (unsigned long long)st.last_offset, (unsigned long long)st.events);
    }
    kc_txn_end(&t);
    kc_store_close(&s);
    free(a.k);
    free(a.v);
    free(b.k);
    free(b.v);
    return a.n;
}
