/* demo_data_test.c - the bundled demo CSVs (data/demo) add up to the report.
 *
 * Independent of scripts/gen-demo-data: parses each CSV of data/demo with
 * libcsv (path from $KC_SOURCE_DIR), sums the southern regional figures and
 * checks each figure of DOMAIN.md's reference table exactly, in whole dong.
 */
#include "kc_ref.h"

#include <csv.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#define MAXF 32

/* sums[year - 2021][month][kind 0 actual/1 plan][activity id][metric] */
static int64_t s_sum[2][13][2][32][KC_METRIC_COUNT];
static int s_files, s_rows, s_provinces[100];

typedef struct {
    char *f[MAXF];
    int nf, line;
    int col[64]; /* header column -> field index */
    int ncol;
    char hdr[MAXF][32];
    const char *path;
} s_parse_t;

static int s_col(s_parse_t *p, const char *name)
{
    for (int i = 0; i < p->ncol; i++)
        if (strcmp(p->hdr[i], name) == 0)
            return i;
    return -1;
}

static void s_field(void *s, size_t len, void *ctx)
{
    s_parse_t *p = ctx;
    if (p->nf < MAXF)
        p->f[p->nf++] = strndup(s, len);
}

static void s_row(int c, void *ctx)
{
    (void)c;
    s_parse_t *p = ctx;
    if (p->line++ == 0) {
        p->ncol = p->nf;
        for (int i = 0; i < p->nf; i++)
            snprintf(p->hdr[i], sizeof p->hdr[i], "%s", p->f[i]);
    } else {
        int year = atoi(p->f[s_col(p, "year")]), month = atoi(p->f[s_col(p, "month")]);
        const char *kind = p->f[s_col(p, "kind")];
        const kc_activity_t *a = kc_ref_activity_lookup(p->f[s_col(p, "activity")]);
        int code = kc_ref_parse_code(p->f[s_col(p, "province")]);
        if (!a || year < 2021 || year > 2022 || month < 1 || month > 12 || code < 0 ||
            strcmp(kc_ref_region_of(code, year * 100 + month), "south") != 0 ||
            (strcmp(kind, "actual") != 0 && strcmp(kind, "plan") != 0))
            fail_msg("%s:%d: unexpected row", p->path, p->line);
        s_provinces[code] = 1;
        for (int m = 0; m < KC_METRIC_COUNT; m++) {
            int c = s_col(p, kc_ref_metric(m)->name);
            assert_true(c >= 0);
            if (p->f[c][0]) {
                int64_t v = strtoll(p->f[c], NULL, 10);
                assert_true(v >= 0);
                assert_true(a->metric_mask & (1u << m));
                s_sum[year - 2021][month][kind[0] == 'p'][a->id][m] += v;
            }
        }
        s_rows++;
    }
    for (int i = 0; i < p->nf; i++)
        free(p->f[i]);
    p->nf = 0;
}

static int s_setup(void **state)
{
    (void)state;
    const char *src = getenv("KC_SOURCE_DIR");
    if (!src)
        return -1;
    char pat[512];
    snprintf(pat, sizeof pat, "%s/data/demo/*.csv", src);
    glob_t g;
    if (glob(pat, 0, NULL, &g) != 0)
        return -1;
    for (size_t i = 0; i < g.gl_pathc; i++) {
        FILE *f = fopen(g.gl_pathv[i], "rb");
        if (!f)
            return -1;
        struct csv_parser cp;
        csv_init(&cp, CSV_STRICT | CSV_APPEND_NULL);
        s_parse_t p = {.path = g.gl_pathv[i]};
        char buf[4096];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, f)) > 0)
            if (csv_parse(&cp, buf, n, s_field, s_row, &p) != n)
                return -1;
        csv_fini(&cp, s_field, s_row, &p);
        csv_free(&cp);
        fclose(f);
        s_files++;
    }
    globfree(&g);
    return 0;
}

/* Sum of metric over year, months m1..m2, kind (0/1), activities (NULL = all). */
static int64_t s_total(int metric, int year, int m1, int m2, int kind, const char *acts)
{
    int64_t t = 0;
    for (int m = m1; m <= m2; m++)
        for (int a = 0; a < 32; a++) {
            const kc_activity_t *act = kc_ref_activity_by_id((uint8_t)a);
            if (!act)
                continue;
            if (acts) {
                char want[80];
                snprintf(want, sizeof want, ",%s,", act->name);
                if (!strstr(acts, want))
                    continue;
            }
            t += s_sum[year - 2021][m][kind][a][metric];
        }
    return t;
}

static void test_files(void **state)
{
    (void)state;
    assert_int_equal(s_files, 20);
    int n = 0;
    for (int i = 0; i < 100; i++)
        n += s_provinces[i];
    assert_int_equal(n, 20);
    assert_true(s_rows >= 20 * 5);
}

static void test_spending_and_plans(void **state)
{
    (void)state;
    const int A = KC_M_AMOUNT_VND;
    assert_int_equal(s_total(A, 2021, 1, 12, 0, NULL), 50300000000);
    assert_int_equal(s_total(A, 2021, 1, 9, 0, NULL), 19900000000);
    assert_int_equal(s_total(A, 2022, 1, 9, 0, NULL), 38400000000);
    assert_int_equal(s_total(A, 2022, 10, 12, 0, NULL), 0);
    assert_int_equal(s_total(A, 2021, 1, 12, 1, NULL), 63200000000);
    assert_int_equal(s_total(A, 2022, 1, 12, 1, NULL), 102200000000);
    /* consulting carries no spending */
    assert_int_equal(s_total(A, 2021, 1, 12, 0, ",industrial_consulting,"), 0);
}

static void test_activity_figures(void **state)
{
    (void)state;
    assert_int_equal(s_total(KC_M_FACILITIES, 2021, 1, 12, 0, ",demonstration_model,machinery,"),
                     168);
    assert_int_equal(s_total(KC_M_PRODUCTS, 2021, 1, 12, 0, ",product_selection,"), 245);
    assert_int_equal(s_total(KC_M_FACILITY_TURNS, 2021, 1, 12, 0, ",product_selection,"), 197);
    assert_int_equal(s_total(KC_M_FACILITIES, 2021, 1, 12, 0, ",branding,"), 23);
    assert_int_equal(s_total(KC_M_PERSONS, 2021, 1, 12, 0, ",vocational_training,"), 108);
    assert_int_equal(s_total(KC_M_PERSONS_EMPLOYED, 2021, 1, 12, 0, ",vocational_training,"), 87);
    assert_int_equal(s_total(KC_M_PERSONS, 2021, 1, 12, 0, ",capacity_building,"), 516);
    assert_int_equal(s_total(KC_M_EVENTS, 2021, 1, 12, 0, ",capacity_building,"), 4);
    assert_int_equal(s_total(KC_M_DELEGATES, 2021, 1, 12, 0, ",capacity_building,"), 120);
    assert_int_equal(s_total(KC_M_PROJECTS, 2021, 1, 12, 0, ",industrial_consulting,"), 466);
    assert_int_equal(s_total(KC_M_REVENUE_VND, 2021, 1, 12, 0, ",industrial_consulting,"),
                     13980000000);
    assert_int_equal(s_total(KC_M_FACILITIES, 2022, 1, 9, 0, ",machinery,"), 114);
    assert_int_equal(s_total(KC_M_FACILITY_TURNS, 2022, 1, 9, 0, ",trade_fair,"), 274);
    assert_int_equal(s_total(KC_M_FACILITY_TURNS, 2022, 1, 9, 0, ",product_selection,"), 220);
    assert_int_equal(s_total(KC_M_FACILITIES, 2022, 1, 9, 0, ",showroom,"), 5);
    assert_int_equal(s_total(KC_M_PERSONS, 2022, 1, 9, 0, ",vocational_training,"), 152);
    assert_int_equal(s_total(KC_M_PERSONS_EMPLOYED, 2022, 1, 9, 0, ",vocational_training,"), 151);
    assert_int_equal(s_total(KC_M_PERSONS, 2022, 1, 9, 0, ",capacity_building,"), 285);
    assert_int_equal(s_total(KC_M_EVENTS, 2022, 1, 9, 0, ",capacity_building,"), 4);
    assert_int_equal(s_total(KC_M_DELEGATES, 2022, 1, 9, 0, ",capacity_building,"), 330);
    assert_int_equal(s_total(KC_M_PROJECTS, 2022, 1, 9, 0, ",industrial_consulting,"), 293);
    assert_int_equal(s_total(KC_M_REVENUE_VND, 2022, 1, 9, 0, ",industrial_consulting,"),
                     4850000000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_files),
        cmocka_unit_test(test_spending_and_plans),
        cmocka_unit_test(test_activity_figures),
    };
    return cmocka_run_group_tests(tests, s_setup, NULL);
}
