/* query_test.c - kc-query and kc-report against a store with known cells.
 *
 * The store is filled through kc_store_write() with hand-made cells: two
 * regions, plans, consulting revenue, and the 2025 merger (Tây Ninh 72 and
 * Long An 80 of scheme 63 into Tây Ninh 80 of scheme 34; Bình Thuận 60 of the
 * south into Lâm Đồng 68 of central_highlands). The programs run as real
 * processes ($KC_BIN_DIR/kc-query) and their JSON is checked exactly.
 */
#include "kc_err.h"
#include "kc_store.h"
#include "tools_test_util.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stddef.h>
#include <cmocka.h>

enum { ACT_KC1 = 1, ACT_KC2 = 2, ACT_KC3B = 4, ACT_KC6 = 11, ACT_TV = 18 };
enum { ACTUAL = 1, PLAN = 2, KCQG = 1, KCDP = 2, OTHER = 3 };

#define M(k) KC_M_##k
static const kc_test_sum_cell_t s_cells[] = {
    /* 2021, south: Long An 80 machinery, Hồ Chí Minh 79 consulting, Tây Ninh 72 */
    {{2021, 3, 80, ACT_KC3B, ACTUAL, KCQG}, 2, {M(AMOUNT_VND), M(FACILITIES), -1}, {1000000000, 5}},
    {{2021, 11, 80, ACT_KC3B, ACTUAL, KCDP}, 1, {M(AMOUNT_VND), M(FACILITIES), -1}, {500000000, 2}},
    {{2021, 5, 79, ACT_TV, ACTUAL, OTHER}, 1, {M(REVENUE_VND), M(PROJECTS), -1}, {2000000000, 10}},
    {{2021, 1, 72, ACT_KC2, ACTUAL, KCDP}, 1, {M(AMOUNT_VND), M(PERSONS), -1}, {100000000, 30}},
    {{2021, 1, 80, ACT_KC3B, PLAN, KCQG}, 1, {M(AMOUNT_VND), -1, -1}, {2000000000}},
    {{2021, 1, 79, ACT_TV, PLAN, OTHER}, 1, {M(REVENUE_VND), -1, -1}, {1500000000}},
    /* 2021, north: Hà Nội 01 */
    {{2021, 6, 1, ACT_KC1, ACTUAL, KCQG},
     1,
     {M(AMOUNT_VND), M(PERSONS), M(PERSONS_EMPLOYED)},
     {300000000, 20, 15}},
    /* 2020, for --compare */
    {{2020, 3, 80, ACT_KC3B, ACTUAL, KCQG}, 1, {M(AMOUNT_VND), -1, -1}, {800000000}},
    {{2020, 12, 80, ACT_KC3B, ACTUAL, KCQG}, 1, {M(AMOUNT_VND), -1, -1}, {999}},
    /* 2024 and 2025, across the merger (communication, amounts in dong) */
    {{2024, 3, 72, ACT_KC6, ACTUAL, KCQG}, 1, {M(AMOUNT_VND), -1, -1}, {5}},
    {{2024, 3, 80, ACT_KC6, ACTUAL, KCQG}, 1, {M(AMOUNT_VND), -1, -1}, {5}},
    {{2025, 3, 72, ACT_KC6, ACTUAL, KCQG}, 1, {M(AMOUNT_VND), -1, -1}, {10}},
    {{2025, 3, 80, ACT_KC6, ACTUAL, KCQG}, 1, {M(AMOUNT_VND), -1, -1}, {20}},
    {{2025, 8, 80, ACT_KC6, ACTUAL, KCQG}, 1, {M(AMOUNT_VND), -1, -1}, {40}},
    {{2025, 8, 68, ACT_KC6, ACTUAL, KCQG}, 1, {M(AMOUNT_VND), -1, -1}, {100}},
    {{2025, 3, 60, ACT_KC6, ACTUAL, KCQG}, 1, {M(AMOUNT_VND), -1, -1}, {1000}},
    /* 2025, Hồ Chí Minh 79 under both schemes, each with its own plan: scheme
     * 63 until 2025-06 (plan filed in January), scheme 34 from 2025-07 (plan
     * filed in July) */
    {{2025, 3, 79, ACT_KC1, ACTUAL, KCQG}, 1, {M(AMOUNT_VND), -1, -1}, {300}},
    {{2025, 9, 79, ACT_KC1, ACTUAL, KCQG}, 1, {M(AMOUNT_VND), -1, -1}, {500}},
    {{2025, 1, 79, ACT_KC1, PLAN, KCQG}, 1, {M(AMOUNT_VND), -1, -1}, {1000}},
    {{2025, 7, 79, ACT_KC1, PLAN, KCQG}, 1, {M(AMOUNT_VND), -1, -1}, {4000}},
};

static t_tools_t s_fx;
static const char *const s_store = s_fx.dir.store, *const s_dir = s_fx.dir.root;

static int s_fill(kc_txn_t *txn, void *ctx)
{
    (void)ctx;
    return kc_test_cells_add(txn, s_cells, sizeof s_cells / sizeof s_cells[0]);
}

static int s_setup(void **state)
{
    return t_tools_setup(state, &s_fx, s_fill, NULL);
}

/* Run $KC_BIN_DIR/<prog> with the given args (NULL-terminated); stdout and
 * stderr land in malloc'ed strings. Returns the exit status, -1 on a signal. */
static int s_run(char **out, char **err, const char *prog, ...)
{
    va_list ap;
    va_start(ap, prog);
    int rc = t_tools_vrun(&s_fx, out, err, prog, NULL, 0, ap);
    va_end(ap);
    return rc;
}

/* kc-query --store S --format json <args>; returns the parsed document. */
#define QUERY(...) s_query(__VA_ARGS__, NULL)
static json_t *s_query(const char *first, ...)
{
    const char *pre[] = {"--store", s_store, "--format", "json", first};
    char *out = NULL, *err = NULL;
    va_list ap;
    va_start(ap, first);
    int rc = t_tools_vrun(&s_fx, &out, &err, "kc-query", pre, 5, ap);
    va_end(ap);
    if (rc != 0)
        fprintf(stderr, "kc-query exit %d: %s\n", rc, err);
    assert_int_equal(rc, 0);
    json_error_t je;
    json_t *doc = json_loads(out, 0, &je);
    if (!doc)
        fprintf(stderr, "bad JSON (%s): %s\n", je.text, out);
    assert_non_null(doc);
    free(out);
    free(err);
    return doc;
}

static int64_t s_int(json_t *doc, const char *path)
{
    /* dotted path; numeric components index arrays */
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    json_t *cur = doc;
    for (char *save = NULL, *tok = strtok_r(buf, ".", &save); tok;
         tok = strtok_r(NULL, ".", &save)) {
        if (json_is_array(cur))
            cur = json_array_get(cur, (size_t)atoi(tok));
        else
            cur = json_object_get(cur, tok);
        if (!cur)
            fail_msg("no %s in the JSON", path);
    }
    assert_true(json_is_integer(cur));
    return json_integer_value(cur);
}

static double s_real(json_t *doc, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    json_t *cur = doc;
    for (char *save = NULL, *tok = strtok_r(buf, ".", &save); tok;
         tok = strtok_r(NULL, ".", &save)) {
        cur =
            json_is_array(cur) ? json_array_get(cur, (size_t)atoi(tok)) : json_object_get(cur, tok);
        if (!cur)
            fail_msg("no %s in the JSON", path);
    }
    assert_true(json_is_number(cur));
    return json_number_value(cur);
}

static const char *s_str(json_t *doc, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    json_t *cur = doc;
    for (char *save = NULL, *tok = strtok_r(buf, ".", &save); tok;
         tok = strtok_r(NULL, ".", &save)) {
        cur =
            json_is_array(cur) ? json_array_get(cur, (size_t)atoi(tok)) : json_object_get(cur, tok);
        if (!cur)
            fail_msg("no %s in the JSON", path);
    }
    assert_true(json_is_string(cur));
    return json_string_value(cur);
}

static void test_totals_region(void **state)
{
    (void)state;
    json_t *d = QUERY("--region", "south", "--year", "2021");
    /* every metric present, exact; consulting revenue separate from spending */
    assert_int_equal(json_object_size(json_object_get(d, "totals")), KC_METRIC_COUNT);
    assert_int_equal(s_int(d, "totals.amount_vnd"), 1600000000);
    assert_int_equal(s_int(d, "totals.revenue_vnd"), 2000000000);
    assert_int_equal(s_int(d, "totals.facilities"), 7);
    assert_int_equal(s_int(d, "totals.persons"), 30);
    assert_int_equal(s_int(d, "totals.persons_employed"), 0);
    assert_int_equal(s_int(d, "totals.projects"), 10);
    assert_int_equal(s_int(d, "events"), 5);
    assert_string_equal(s_str(d, "filters.regions.0"), "south");
    assert_int_equal(s_int(d, "filters.year"), 2021);
    assert_int_equal(s_int(d, "filters.months.from"), 1);
    assert_int_equal(s_int(d, "filters.months.to"), 12);
    assert_string_equal(s_str(d, "filters.kind"), "actual");
    assert_string_equal(s_str(d, "store"), s_store);
    json_decref(d);

    d = QUERY("--region", "north", "--year", "2021");
    assert_int_equal(s_int(d, "totals.amount_vnd"), 300000000);
    assert_int_equal(s_int(d, "totals.persons"), 20);
    assert_int_equal(s_int(d, "totals.persons_employed"), 15);
    json_decref(d);

    d = QUERY("--year", "2021"); /* no place filter: everything */
    assert_int_equal(s_int(d, "totals.amount_vnd"), 1900000000);
    json_decref(d);
}

static void test_filters(void **state)
{
    (void)state;
    /* province and region select their union */
    json_t *d = QUERY("--region", "south", "--province", "01", "--year", "2021");
    assert_int_equal(s_int(d, "totals.amount_vnd"), 1900000000);
    json_decref(d);
    d = QUERY("--province", "80", "--province", "72", "--year", "2021");
    assert_int_equal(s_int(d, "totals.amount_vnd"), 1600000000);
    assert_int_equal(s_int(d, "totals.revenue_vnd"), 0);
    json_decref(d);
    d = QUERY("--region", "south", "--year", "2021", "--months", "1-9");
    assert_int_equal(s_int(d, "totals.amount_vnd"), 1100000000);
    json_decref(d);
    d = QUERY("--region", "south", "--year", "2021", "--months", "11");
    assert_int_equal(s_int(d, "totals.amount_vnd"), 500000000);
    json_decref(d);
    d = QUERY("--region", "south", "--year", "2021", "--fund", "kcdp");
    assert_int_equal(s_int(d, "totals.amount_vnd"), 600000000);
    json_decref(d);
    d = QUERY("--region", "south", "--year", "2021", "--fund", "kcdp", "--fund", "kcqg");
    assert_int_equal(s_int(d, "totals.amount_vnd"), 1600000000);
    json_decref(d);
    d = QUERY("--region", "south", "--year", "2021", "--activity", "KC3b", "--activity",
              "capacity_building");
    assert_int_equal(s_int(d, "totals.amount_vnd"), 1600000000);
    assert_int_equal(s_int(d, "totals.revenue_vnd"), 0);
    json_decref(d);
    d = QUERY("--region", "south", "--year", "2021", "--activity", "industrial_consulting");
    assert_int_equal(s_int(d, "totals.amount_vnd"), 0);
    assert_int_equal(s_int(d, "totals.revenue_vnd"), 2000000000);
    json_decref(d);
    d = QUERY("--region", "south", "--year", "2021", "--kind", "plan");
    assert_int_equal(s_int(d, "totals.amount_vnd"), 2000000000);
    assert_int_equal(s_int(d, "totals.revenue_vnd"), 1500000000);
    json_decref(d);
}

static void test_by(void **state)
{
    (void)state;
    json_t *d = QUERY("--region", "south", "--year", "2021", "--by", "province");
    json_t *rows = json_object_get(d, "rows");
    assert_int_equal(json_array_size(rows), 3); /* 72, 79, 80 in code order */
    assert_string_equal(s_str(d, "rows.0.key"), "72");
    assert_string_equal(s_str(d, "rows.0.label"), "Tây Ninh");
    assert_int_equal(s_int(d, "rows.0.scheme"), 63);
    assert_int_equal(s_int(d, "rows.0.totals.amount_vnd"), 100000000);
    assert_string_equal(s_str(d, "rows.1.key"), "79");
    assert_int_equal(s_int(d, "rows.1.totals.revenue_vnd"), 2000000000);
    assert_string_equal(s_str(d, "rows.2.key"), "80");
    assert_int_equal(s_int(d, "rows.2.totals.amount_vnd"), 1500000000);
    assert_int_equal(s_int(d, "rows.2.events"), 3);
    json_decref(d);

    d = QUERY("--region", "south", "--year", "2021", "--by", "activity");
    assert_int_equal(json_array_size(json_object_get(d, "rows")), 3);
    assert_string_equal(s_str(d, "rows.0.key"), "KC2");
    assert_string_equal(s_str(d, "rows.0.label"), "capacity_building");
    assert_string_equal(s_str(d, "rows.1.key"), "KC3b");
    assert_int_equal(s_int(d, "rows.1.totals.facilities"), 7);
    assert_string_equal(s_str(d, "rows.2.key"), "TV");
    assert_int_equal(s_int(d, "rows.2.totals.projects"), 10);
    json_decref(d);

    d = QUERY("--province", "80", "--year", "2021", "--by", "month");
    assert_int_equal(json_array_size(json_object_get(d, "rows")), 2);
    assert_int_equal(s_int(d, "rows.0.key"), 3);
    assert_int_equal(s_int(d, "rows.0.totals.amount_vnd"), 1000000000);
    assert_int_equal(s_int(d, "rows.1.key"), 11);
    assert_int_equal(s_int(d, "rows.1.totals.amount_vnd"), 500000000);
    json_decref(d);
}

static void test_plan_and_compare(void **state)
{
    (void)state;
    /* 1.6 billion of a 2 billion plan */
    json_t *d = QUERY("--region", "south", "--year", "2021", "--plan");
    assert_int_equal(s_int(d, "plan.totals.amount_vnd"), 2000000000);
    assert_int_equal(s_int(d, "plan.totals.revenue_vnd"), 1500000000);
    assert_true(s_real(d, "percent_of_plan") == 80.0);
    assert_true(s_real(d, "plan.percent.revenue_vnd") == 133.33);
    json_decref(d);
    /* months 1-9 against the plan of the whole year */
    d = QUERY("--region", "south", "--year", "2021", "--months", "1-9", "--plan");
    assert_true(s_real(d, "percent_of_plan") == 55.0);
    json_decref(d);
    /* per province rows carry their plan */
    d = QUERY("--region", "south", "--year", "2021", "--plan", "--by", "province");
    assert_string_equal(s_str(d, "rows.2.key"), "80");
    assert_int_equal(s_int(d, "rows.2.plan.totals.amount_vnd"), 2000000000);
    assert_true(s_real(d, "rows.2.percent_of_plan") == 75.0);
    assert_true(json_is_null(
        json_object_get(json_array_get(json_object_get(d, "rows"), 0), "percent_of_plan")));
    json_decref(d);
    /* same months of another year */
    d = QUERY("--province", "80", "--year", "2021", "--months", "1-9", "--compare", "2020");
    assert_int_equal(s_int(d, "totals.amount_vnd"), 1000000000);
    assert_int_equal(s_int(d, "compare.year"), 2020);
    assert_int_equal(s_int(d, "compare.totals.amount_vnd"), 800000000);
    assert_true(s_real(d, "compare.change_percent.amount_vnd") == 25.0);
    assert_true(json_is_null(json_object_get(
        json_object_get(json_object_get(d, "compare"), "change_percent"), "persons")));
    json_decref(d);
}

static void test_units_34(void **state)
{
    (void)state;
    /* native units: 60 Bình Thuận was southern until 2025-06; 68 never is */
    json_t *d = QUERY("--region", "south", "--year", "2025", "--activity", "KC6");
    assert_int_equal(s_int(d, "totals.amount_vnd"), 1070);
    assert_int_equal(s_int(d, "filters.units"), 63);
    json_decref(d);
    /* code 80 means Long An before the merger and Tây Ninh after it */
    d = QUERY("--province", "80", "--year", "2025");
    assert_int_equal(s_int(d, "totals.amount_vnd"), 60);
    json_decref(d);
    /* units 34: 72 and 80 of scheme 63 count under 80 Tây Ninh; 60 under 68 */
    d = QUERY("--units", "34", "--region", "south", "--year", "2025", "--activity", "KC6");
    assert_int_equal(s_int(d, "totals.amount_vnd"), 70);
    assert_int_equal(s_int(d, "filters.units"), 34);
    json_decref(d);
    d = QUERY("--units", "34", "--region", "central_highlands", "--year", "2025");
    assert_int_equal(s_int(d, "totals.amount_vnd"), 1100);
    json_decref(d);
    d = QUERY("--units", "34", "--year", "2025", "--by", "province", "--activity", "KC6");
    assert_int_equal(json_array_size(json_object_get(d, "rows")), 2);
    assert_string_equal(s_str(d, "rows.0.key"), "68");
    assert_int_equal(s_int(d, "rows.0.scheme"), 34);
    assert_int_equal(s_int(d, "rows.0.totals.amount_vnd"), 1100);
    assert_string_equal(s_str(d, "rows.1.key"), "80");
    assert_string_equal(s_str(d, "rows.1.label"), "Tây Ninh");
    assert_int_equal(s_int(d, "rows.1.totals.amount_vnd"), 70);
    json_decref(d);
    /* the same units across the merger: 2024's 72 + 80 against 2025's unit 80 */
    d = QUERY("--units", "34", "--province", "80", "--year", "2025", "--compare", "2024");
    assert_int_equal(s_int(d, "totals.amount_vnd"), 70);
    assert_int_equal(s_int(d, "compare.totals.amount_vnd"), 10);
    assert_true(s_real(d, "compare.change_percent.amount_vnd") == 600.0);
    json_decref(d);
    /* and 2021's Tây Ninh 72 + Long An 80 are one unit */
    d = QUERY("--units", "34", "--province", "80", "--year", "2021");
    assert_int_equal(s_int(d, "totals.amount_vnd"), 1600000000);
    json_decref(d);
}

static void s_expect_usage(const char *a1, const char *a2, const char *a3, const char *a4)
{
    char *out = NULL, *err = NULL;
    int rc = s_run(&out, &err, "kc-query", "--store", s_store, a1, a2, a3, a4, NULL);
    if (rc != 64)
        fprintf(stderr, "args %s %s %s %s: exit %d\n", a1, a2 ? a2 : "", a3 ? a3 : "", a4 ? a4 : "",
                rc);
    assert_int_equal(rc, 64);
    assert_true(strlen(err) > 0);
    assert_non_null(strstr(err, "kc-query: "));
    assert_string_equal(out, "");
    free(out);
    free(err);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    s_expect_usage("--region", "south", NULL, NULL); /* no --year */
    s_expect_usage("--year", "2021", "--region", "mars");
    s_expect_usage("--year", "1999", NULL, NULL);
    s_expect_usage("--year", "20x1", NULL, NULL);
    s_expect_usage("--year", "2021", "--months", "13");
    s_expect_usage("--year", "2021", "--months", "9-3");
    s_expect_usage("--year", "2021", "--months", "1-");
    s_expect_usage("--year", "2021", "--province", "03");
    s_expect_usage("--year", "2021", "--activity", "juggling");
    s_expect_usage("--year", "2021", "--fund", "private");
    s_expect_usage("--year", "2021", "--kind", "estimate");
    s_expect_usage("--year", "2021", "--by", "week");
    s_expect_usage("--year", "2021", "--format", "xml");
    s_expect_usage("--year", "2021", "--lang", "fr");
    s_expect_usage("--year", "2021", "--units", "35");
    s_expect_usage("--year", "2021", "--compare", "later");
    s_expect_usage("--year", "2021", "--plan", "--kind");
    s_expect_usage("--year", "2021", "--nonsense", NULL);
    s_expect_usage("--year", "2021", "stray", NULL);
    s_expect_usage("--units", "34", "--province", "77"); /* not a scheme-34 unit */
    s_expect_usage("--year", NULL, NULL, NULL);
    {
        char *out = NULL, *err = NULL;
        assert_int_equal(s_run(&out, &err, "kc-query", "--year", "2021", "--plan", "--kind", "plan",
                               "--store", s_store, NULL),
                         64);
        free(out);
        free(err);
    }
}

static void test_help_version_nostore(void **state)
{
    (void)state;
    char *out = NULL, *err = NULL;
    assert_int_equal(s_run(&out, &err, "kc-query", "--help", NULL), 0);
    assert_non_null(strstr(out, "Usage: kc-query"));
    free(out);
    free(err);
    assert_int_equal(s_run(&out, &err, "kc-query", "--version", NULL), 0);
    assert_non_null(strstr(out, "kc-query "));
    free(out);
    free(err);
    char missing[PATH_MAX + 8];
    snprintf(missing, sizeof missing, "%s/none", s_dir);
    assert_int_equal(s_run(&out, &err, "kc-query", "--store", missing, "--year", "2021", NULL), 66);
    assert_non_null(strstr(err, "no store"));
    free(out);
    free(err);
}

static void test_csv_and_table(void **state)
{
    (void)state;
    char *out = NULL, *err = NULL;
    assert_int_equal(s_run(&out, &err, "kc-query", "--store", s_store, "--region", "south",
                           "--year", "2021", "--format", "csv", "--plan", NULL),
                     0);
    assert_non_null(strstr(out, "metric,value,plan,percent_of_plan\n"));
    assert_non_null(strstr(out, "\namount_vnd,1600000000,2000000000,80.00\n"));
    assert_non_null(strstr(out, "\nrevenue_vnd,2000000000,1500000000,133.33\n"));
    free(out);
    free(err);
    assert_int_equal(s_run(&out, &err, "kc-query", "--store", s_store, "--region", "south",
                           "--year", "2021", "--format", "csv", "--by", "province", NULL),
                     0);
    assert_non_null(strstr(out, "key,label,scheme,records,amount_vnd,"));
    assert_non_null(strstr(out, "\n80,Long An,63,3,1500000000,0,0,0,7,0,0,0,0,0\n"));
    free(out);
    free(err);
    assert_int_equal(s_run(&out, &err, "kc-query", "--store", s_store, "--region", "south",
                           "--year", "2021", "--plan", "--lang", "vi", NULL),
                     0);
    assert_non_null(strstr(out, "1,6 tỷ đồng"));
    assert_non_null(strstr(out, "80,0%"));
    assert_non_null(strstr(out, "kinh phí"));
    free(out);
    free(err);
    assert_int_equal(s_run(&out, &err, "kc-query", "--store", s_store, "--region", "south",
                           "--year", "2021", "--months", "1-9", "--compare", "2020", "--by",
                           "activity", NULL),
                     0);
    assert_non_null(strstr(out, "1.1 billion VND"));
    assert_non_null(strstr(out, "machinery support"));
    free(out);
    free(err);
}

static void test_report(void **state)
{
    (void)state;
    char *out = NULL, *err = NULL;
    /* 2021 (with 2020 as the previous year) months 1-9 */
    int rc = s_run(&out, &err, "kc-report", "--store", s_store, "--region", "south", "--year",
                   "2021", "--months", "1-9", "--lang", "vi", NULL);
    if (rc)
        fprintf(stderr, "%s", err);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "khu vực phía Nam"));
    assert_non_null(strstr(out, "1,1 tỷ đồng, đạt 55,0% kế hoạch năm 2021 (2 tỷ đồng)"));
    assert_non_null(strstr(out, "+37,5%"));      /* 1.1 billion against 800 million */
    assert_non_null(strstr(out, "2 tỷ đồng"));   /* consulting revenue, its own line */
    assert_non_null(strstr(out, "Hồ Chí Minh")); /* beat its consulting plan */
    free(out);
    free(err);
    rc = s_run(&out, &err, "kc-report", "--store", s_store, "--region", "south", "--year", "2021",
               NULL);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "1.6 billion VND, 80.0% of the 2021 plan (2 billion VND)"));
    free(out);
    free(err);
    rc = s_run(&out, &err, "kc-report", "--store", s_store, "--year", "2021", NULL);
    assert_int_equal(rc, 64); /* no region */
    free(out);
    free(err);
}

/* The cells of the table line whose first cell is `first` and whose text
 * holds `with` (NULL: any), the n-th such line (0 = the first): columns are
 * separated by two or more spaces. Returns how many cells were put in cell[]
 * (pointing into buf), 0 if there is no such line. */
static size_t s_table_line(const char *out, const char *first, const char *with, int n, char *buf,
                           size_t cap, const char *cell[], size_t max)
{
    size_t flen = strlen(first);
    for (const char *ln = out; ln && *ln; ln = strchr(ln, '\n') ? strchr(ln, '\n') + 1 : NULL) {
        const char *end = strchr(ln, '\n');
        size_t len = end ? (size_t)(end - ln) : strlen(ln);
        if (len >= cap || strncmp(ln, first, flen) != 0 || (ln[flen] != ' ' && ln[flen] != '\0'))
            continue;
        memcpy(buf, ln, len);
        buf[len] = '\0';
        if (with && !strstr(buf, with))
            continue;
        if (n-- > 0)
            continue;
        size_t k = 0;
        for (char *p = buf; *p && k < max;) {
            cell[k++] = p;
            char *sep = strstr(p, "  ");
            if (!sep)
                break;
            *sep = '\0';
            for (p = sep + 1; *p == ' '; p++)
                ;
        }
        return k;
    }
    return 0;
}

/* Defect 2 (issue 16): a percent of plan only for metrics that have a plan;
 * the record count is not one; "—" (table) or an empty field (CSV) where
 * there is no plan, never 0. */
static void test_plan_only_where_planned(void **state)
{
    (void)state;
    char *out = NULL, *err = NULL, buf[512];
    const char *c[16];
    assert_int_equal(s_run(&out, &err, "kc-query", "--store", s_store, "--region", "south",
                           "--year", "2021", "--months", "1-9", "--plan", "--lang", "vi", NULL),
                     0);
    assert_int_equal(s_table_line(out, "số bản ghi", NULL, 0, buf, sizeof buf, c, 16), 4);
    assert_string_equal(c[1], "4");
    assert_string_equal(c[2], "—");
    assert_string_equal(c[3], "—");
    assert_int_equal(s_table_line(out, "kinh phí", NULL, 0, buf, sizeof buf, c, 16), 4);
    assert_string_equal(c[2], "2 tỷ đồng");
    assert_string_equal(c[3], "55,0%");
    /* persons trained: 30, no plan */
    assert_int_equal(s_table_line(out, "người được đào tạo", NULL, 0, buf, sizeof buf, c, 16), 4);
    assert_string_equal(c[1], "30");
    assert_string_equal(c[2], "—");
    assert_string_equal(c[3], "—");
    free(out);
    free(err);
    assert_int_equal(s_run(&out, &err, "kc-query", "--store", s_store, "--region", "south",
                           "--year", "2021", "--plan", "--format", "csv", NULL),
                     0);
    assert_non_null(strstr(out, "\namount_vnd,1600000000,2000000000,80.00\n"));
    assert_non_null(strstr(out, "\npersons,30,,\n"));
    assert_non_null(strstr(out, "\nrecords,5,,\n"));
    free(out);
    free(err);
    /* JSON: a percent only where there is a plan (none for the events) */
    json_t *d = QUERY("--region", "south", "--year", "2021", "--plan");
    json_t *pct = json_object_get(json_object_get(d, "plan"), "percent");
    assert_int_equal(json_object_size(pct), 2); /* amount_vnd, revenue_vnd */
    assert_null(json_object_get(pct, "persons"));
    assert_int_equal(s_int(d, "plan.events"), 2); /* the plan records, not a plan of records */
    json_decref(d);
}

/* Defect 3 (issue 16): in the merger year 79 Hồ Chí Minh has a row in each
 * scheme (63 until 2025-06, 34 from 2025-07), each with its own plan, and
 * every format says which scheme a row is in. */
static void test_merger_year_rows(void **state)
{
    (void)state;
    json_t *d = QUERY("--region", "south", "--year", "2025", "--by", "province", "--plan",
                      "--activity", "KC1");
    assert_int_equal(json_array_size(json_object_get(d, "rows")), 2);
    assert_string_equal(s_str(d, "rows.0.key"), "79");
    assert_int_equal(s_int(d, "rows.0.scheme"), 63);
    assert_int_equal(s_int(d, "rows.0.totals.amount_vnd"), 300);
    assert_int_equal(s_int(d, "rows.0.plan.totals.amount_vnd"), 1000);
    assert_true(s_real(d, "rows.0.percent_of_plan") == 30.0);
    assert_string_equal(s_str(d, "rows.1.key"), "79");
    assert_int_equal(s_int(d, "rows.1.scheme"), 34);
    assert_int_equal(s_int(d, "rows.1.totals.amount_vnd"), 500);
    assert_int_equal(s_int(d, "rows.1.plan.totals.amount_vnd"), 4000);
    assert_true(s_real(d, "rows.1.percent_of_plan") == 12.5);
    json_decref(d);

    char *out = NULL, *err = NULL, buf[512];
    const char *c[32];
    assert_int_equal(s_run(&out, &err, "kc-query", "--store", s_store, "--region", "south",
                           "--year", "2025", "--by", "province", "--plan", NULL),
                     0);
    /* key, label, scheme, spending, plan, % of plan, records */
    assert_int_equal(s_table_line(out, "79", "63 provinces", 0, buf, sizeof buf, c, 32), 7);
    assert_string_equal(c[1], "Hồ Chí Minh");
    assert_string_equal(c[3], "300 VND");
    assert_string_equal(c[4], "1,000 VND");
    assert_string_equal(c[5], "30.0%");
    assert_int_equal(s_table_line(out, "79", "34 provinces", 0, buf, sizeof buf, c, 32), 7);
    assert_string_equal(c[3], "500 VND");
    assert_string_equal(c[4], "4,000 VND");
    assert_string_equal(c[5], "12.5%");
    assert_int_equal(s_table_line(out, "79", NULL, 2, buf, sizeof buf, c, 32), 0); /* two rows */
    /* Tây Ninh 72 has no plan: "—", not 0 */
    assert_int_equal(s_table_line(out, "72", NULL, 0, buf, sizeof buf, c, 32), 7);
    assert_string_equal(c[2], "63 provinces");
    assert_string_equal(c[4], "—");
    assert_string_equal(c[5], "—");
    free(out);
    free(err);
    assert_int_equal(s_run(&out, &err, "kc-query", "--store", s_store, "--region", "south",
                           "--year", "2025", "--by", "province", "--plan", "--activity", "KC1",
                           "--format", "csv", NULL),
                     0);
    assert_non_null(strstr(out, "key,label,scheme,records,amount_vnd,"));
    assert_non_null(strstr(out, ",plan_amount_vnd,plan_revenue_vnd,"));
    assert_non_null(strstr(out, "\n79,Hồ Chí Minh,63,1,300,0,0,0,0,0,0,0,0,0,1000,,,,,,,,,\n"));
    assert_non_null(strstr(out, "\n79,Hồ Chí Minh,34,1,500,0,0,0,0,0,0,0,0,0,4000,,,,,,,,,\n"));
    free(out);
    free(err);
}

/* CSV for people (issue 16): a UTF-8 byte order mark unless --no-bom, read by
 * Python's csv module with encoding utf-8-sig (what a spreadsheet does);
 * Vietnamese headers with --lang vi; --total, the exact sum of the rows. */
static void test_csv_bom_lang_total(void **state)
{
    (void)state;
    char *out = NULL, *err = NULL;
    assert_int_equal(s_run(&out, &err, "kc-query", "--store", s_store, "--region", "south",
                           "--year", "2021", "--format", "csv", "--by", "province", NULL),
                     0);
    assert_memory_equal(out, "\xEF\xBB\xBFkey,label,scheme,records,amount_vnd,", 39);
    assert_null(strstr(out, "\ntotal,")); /* no totals row unless asked */
    free(out);
    free(err);
    assert_int_equal(s_run(&out, &err, "kc-query", "--store", s_store, "--region", "south",
                           "--year", "2021", "--format", "csv", "--no-bom", NULL),
                     0);
    assert_memory_equal(out, "metric,value\n", 13);
    free(out);
    free(err);
    /* --total without --by: a usage error (every figure is a total already) */
    assert_int_equal(s_run(&out, &err, "kc-query", "--store", s_store, "--year", "2021", "--format",
                           "csv", "--total", NULL),
                     64);
    free(out);
    free(err);

    char file[PATH_MAX + 16];
    snprintf(file, sizeof file, "%s/vi.csv", s_dir);
    assert_int_equal(s_run(&out, &err, "kc-query", "--store", s_store, "--region", "south",
                           "--year", "2021", "--format", "csv", "--by", "province", "--plan",
                           "--compare", "2020", "--total", "--lang", "vi", NULL),
                     0);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fputs(out, f);
    fclose(f);
    free(out);
    free(err);
    /* every numeric column of the total row is the sum of the rows above it
     * (an empty plan field counts 0); the rows are Long An, Tây Ninh, Hồ Chí
     * Minh and Bình Thuận (none in 2021 beyond these) */
    static const char script[] =
        "import csv, sys\n"
        "rows = list(csv.reader(open(sys.argv[1], encoding='utf-8-sig', newline='')))\n"
        "head, body, total = rows[0], rows[1:-1], rows[-1]\n"
        "assert head[:6] == ['mã', 'tỉnh', 'danh mục', 'số bản ghi', 'kinh phí', 'doanh thu'],"
        " head\n"
        "assert 'kinh phí (kế hoạch năm 2021)' in head, head\n"
        "assert 'kinh phí (năm 2020)' in head, head\n"
        "assert not any(h.isascii() and '_' in h for h in head), head\n"
        "assert total[0] == 'tổng' and total[1] == total[2] == '', total\n"
        "assert len(body) >= 2 and all(len(r) == len(head) for r in rows), rows\n"
        "for j in range(3, len(head)):\n"
        "    want = sum(int(r[j] or 0) for r in body)\n"
        "    assert total[j] == (str(want) if want or 'kế hoạch' not in head[j] else ''),"
        " (head[j], total[j], want)\n"
        "k = head.index('kinh phí')\n"
        "print(total[k], total[head.index('doanh thu (kế hoạch năm 2021)')],"
        " total[head.index('kinh phí (năm 2020)')], total[3])\n";
    char *const argv[] = {"/usr/bin/python3", "-c", (char *)script, file, NULL};
    int rc = t_tools_exec(&s_fx, argv, &out, &err);
    if (rc != 0)
        fail_msg("python3 csv: exit %d: %s", rc, err);
    /* 1.5 + 0.1 tỷ spent, 1.5 tỷ revenue planned, 800000999 spent in 2020 */
    assert_string_equal(out, "1600000000 1500000000 800000999 5\n");
    free(out);
    free(err);
}

/* Issue 16: one unit per column of money in the table: the largest value's
 * (1.6 billion here), so 100 million is "0.1 billion", not "100 million". */
static void test_table_one_unit(void **state)
{
    (void)state;
    char *out = NULL, *err = NULL, buf[512];
    const char *c[32];
    assert_int_equal(s_run(&out, &err, "kc-query", "--store", s_store, "--region", "south",
                           "--year", "2021", "--by", "province", "--plan", NULL),
                     0);
    /* code, province, spending, plan, % of plan, revenue, plan, %, ..., records */
    assert_true(s_table_line(out, "72", NULL, 0, buf, sizeof buf, c, 32) > 3);
    assert_string_equal(c[2], "0.1 billion VND");
    assert_true(s_table_line(out, "80", NULL, 0, buf, sizeof buf, c, 32) > 3);
    assert_string_equal(c[2], "1.5 billion VND");
    assert_string_equal(c[3], "2 billion VND");
    assert_true(s_table_line(out, "79", NULL, 0, buf, sizeof buf, c, 32) > 3);
    assert_string_equal(c[2], "0.0 billion VND");
    assert_true(s_table_line(out, "total", NULL, 0, buf, sizeof buf, c, 32) > 3);
    assert_string_equal(c[1], "1.6 billion VND");
    assert_null(strstr(out, "million"));
    free(out);
    free(err);
    assert_int_equal(s_run(&out, &err, "kc-query", "--store", s_store, "--region", "south",
                           "--year", "2021", "--by", "province", "--lang", "vi", NULL),
                     0);
    assert_true(s_table_line(out, "72", NULL, 0, buf, sizeof buf, c, 32) > 3);
    assert_string_equal(c[2], "0,1 tỷ đồng");
    assert_null(strstr(out, "triệu"));
    free(out);
    free(err);
}

/* --province by name, with or without diacritics, NFC or NFD, with a prefix;
 * a name selects its province under the scheme(s) it has. */
static void test_province_names(void **state)
{
    (void)state;
    static const char *const hcm[] = {
        "Hồ Chí Minh",     "ho chi minh",           "HO CHI MINH",
        "TP. Hồ Chí Minh", "Thành phố Hồ Chí Minh", "Ho\xcc\x82\xcc\x80 Chi\xcc\x81 Minh"};
    for (size_t i = 0; i < sizeof hcm / sizeof hcm[0]; i++) {
        json_t *d = QUERY("--province", hcm[i], "--year", "2021");
        assert_int_equal(s_int(d, "totals.revenue_vnd"), 2000000000);
        assert_string_equal(s_str(d, "filters.provinces.0"), "79");
        json_decref(d);
    }
    static const char *const ct[] = {"Cần Thơ", "Can Tho", "can-tho",
                                     "Ca\xcc\x82\xcc\x80n Tho\xcc\x9b"};
    for (size_t i = 0; i < sizeof ct / sizeof ct[0]; i++) {
        json_t *d = QUERY("--province", ct[i], "--year", "2021");
        assert_string_equal(s_str(d, "filters.provinces.0"), "92");
        json_decref(d);
    }
    /* "Long An" is 80 of scheme 63 only: not 80 Tây Ninh from 2025-07 */
    json_t *d = QUERY("--province", "Long An", "--year", "2025", "--activity", "KC6");
    assert_int_equal(s_int(d, "totals.amount_vnd"), 20);
    json_decref(d);
    d = QUERY("--province", "80", "--year", "2025", "--activity", "KC6");
    assert_int_equal(s_int(d, "totals.amount_vnd"), 60);
    json_decref(d);
    /* "Tây Ninh" follows its province: 72 until 2025-06, 80 from 2025-07 */
    d = QUERY("--province", "Tay Ninh", "--year", "2025", "--activity", "KC6");
    assert_int_equal(s_int(d, "totals.amount_vnd"), 50);
    json_decref(d);
    d = QUERY("--units", "34", "--province", "Tây Ninh", "--year", "2025", "--activity", "KC6");
    assert_int_equal(s_int(d, "totals.amount_vnd"), 70);
    json_decref(d);
    s_expect_usage("--year", "2021", "--province", "Atlantis");
    s_expect_usage("--year", "2021", "--province", "TP.");
    s_expect_usage("--units", "34", "--province", "Long An"); /* not a scheme-34 unit */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_totals_region),
        cmocka_unit_test(test_filters),
        cmocka_unit_test(test_by),
        cmocka_unit_test(test_plan_and_compare),
        cmocka_unit_test(test_units_34),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_help_version_nostore),
        cmocka_unit_test(test_csv_and_table),
        cmocka_unit_test(test_report),
        cmocka_unit_test(test_plan_only_where_planned),
        cmocka_unit_test(test_merger_year_rows),
        cmocka_unit_test(test_province_names),
        cmocka_unit_test(test_csv_bom_lang_total),
        cmocka_unit_test(test_table_one_unit),
    };
    return cmocka_run_group_tests(tests, s_setup, t_tools_teardown);
}
