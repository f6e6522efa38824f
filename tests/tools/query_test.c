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

typedef struct {
    kc_cell_key_t key;
    uint64_t events;
    int metric[3];
    int64_t value[3];
} s_cell_t;

#define M(k) KC_M_##k
static const s_cell_t s_cells[] = {
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
};

static t_tools_t s_fx;
static const char *const s_store = s_fx.dir.store, *const s_dir = s_fx.dir.root;

static int s_fill(kc_txn_t *txn, void *ctx)
{
    (void)ctx;
    for (size_t i = 0; i < sizeof s_cells / sizeof s_cells[0]; i++) {
        int64_t delta[KC_METRIC_COUNT] = {0};
        for (int j = 0; j < 3; j++)
            if (s_cells[i].metric[j] >= 0)
                delta[s_cells[i].metric[j]] = s_cells[i].value[j];
        int rc = kc_txn_totals_add(txn, &s_cells[i].key, delta, s_cells[i].events);
        if (rc)
            return rc;
    }
    return 0;
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
    json_t *d = QUERY("--region", "south", "--year", "2025");
    assert_int_equal(s_int(d, "totals.amount_vnd"), 1070);
    assert_int_equal(s_int(d, "filters.units"), 63);
    json_decref(d);
    /* code 80 means Long An before the merger and Tây Ninh after it */
    d = QUERY("--province", "80", "--year", "2025");
    assert_int_equal(s_int(d, "totals.amount_vnd"), 60);
    json_decref(d);
    /* units 34: 72 and 80 of scheme 63 count under 80 Tây Ninh; 60 under 68 */
    d = QUERY("--units", "34", "--region", "south", "--year", "2025");
    assert_int_equal(s_int(d, "totals.amount_vnd"), 70);
    assert_int_equal(s_int(d, "filters.units"), 34);
    json_decref(d);
    d = QUERY("--units", "34", "--region", "central_highlands", "--year", "2025");
    assert_int_equal(s_int(d, "totals.amount_vnd"), 1100);
    json_decref(d);
    d = QUERY("--units", "34", "--year", "2025", "--by", "province");
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
    assert_non_null(strstr(out, "key,label,records,amount_vnd,"));
    assert_non_null(strstr(out, "\n80,Long An,3,1500000000,0,0,0,7,0,0,0,0,0\n"));
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
    };
    return cmocka_run_group_tests(tests, s_setup, t_tools_teardown);
}
