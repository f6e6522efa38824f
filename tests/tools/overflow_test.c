/* overflow_test.c - no store makes a view unreadable or inexact (issue 12).
 *
 * Every cell is a checked int64, but sums of cells are not: the store here
 * holds the overflow pair of issue 12 (province 79 amount_vnd = 2^63-1 and
 * province 01 amount_vnd = 5 in 2024), a plan of 2 x (2^63-1), a 2023 to
 * compare with, and four cells of 79 in 2022 at 2^63-1 (two of them with
 * event counts of 2^64-1) whose sum passes 2^65. The cells are written
 * through libkcstore, as a store written by an older version (before the
 * per-event ceiling) holds them. kc-query (table, CSV, JSON; totals, by
 * province/activity/month, --plan, --compare) and kc-report run as real
 * processes and must answer with the exact sums; every JSON document must be
 * valid JSON with exact integers, which python3's json module checks (it
 * reads integers of any size exactly).
 */
#include "kc_err.h"
#include "kc_store.h"
#include "tools_test_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stddef.h>
#include <cmocka.h>

enum { ACT_KC1 = 1, ACT_KC3B = 4, ACTUAL = 1, PLAN = 2, KCQG = 1, KCDP = 2 };

#define MAX63   INT64_MAX              /* 9223372036854775807 */
#define PAIR    "9223372036854775812"  /* 2^63-1 + 5 */
#define PLAN2   "18446744073709551614" /* 2 x (2^63-1) */
#define CMP2023 "4611686018427387905"  /* 2^62 + 1 */
#define SUM79   "36893488147419103228" /* 4 x (2^63-1) > 2^65 */
#define EV79    "36893488147419103232" /* 2 x (2^64-1) + 2 */

static const kc_test_cell_t s_cells[] = {
    /* the overflow pair: one province at the int64 maximum, another at 5 */
    {{2024, 3, 79, ACT_KC3B, ACTUAL, KCQG}, 1, MAX63, 0},
    {{2024, 5, 1, ACT_KC1, ACTUAL, KCDP}, 1, 5, 7},
    /* the plan of 2024, twice the maximum */
    {{2024, 1, 79, ACT_KC3B, PLAN, KCQG}, 1, MAX63, 0},
    {{2024, 1, 1, ACT_KC1, PLAN, KCQG}, 1, MAX63, 0},
    /* 2023 to compare with */
    {{2023, 3, 79, ACT_KC3B, ACTUAL, KCQG}, 1, (int64_t)1 << 62, 0},
    {{2023, 5, 1, ACT_KC1, ACTUAL, KCDP}, 1, 1, 0},
    /* 2022: four months of 79 at the maximum, persons too; two cells with
     * the largest event count a cell can hold */
    {{2022, 1, 79, ACT_KC3B, ACTUAL, KCQG}, UINT64_MAX, MAX63, MAX63},
    {{2022, 2, 79, ACT_KC3B, ACTUAL, KCQG}, UINT64_MAX, MAX63, MAX63},
    {{2022, 3, 79, ACT_KC1, ACTUAL, KCDP}, 1, MAX63, MAX63},
    {{2022, 4, 79, ACT_KC1, ACTUAL, KCQG}, 1, MAX63, MAX63},
};

static t_tools_t s_fx;
static const char *const s_dir = s_fx.dir.root;

static int s_setup(void **state)
{
    /* each cell is within its range (int64 metrics, uint64 count) */
    kc_test_cells_t cells = {s_cells, sizeof s_cells / sizeof s_cells[0]};
    return t_tools_setup(state, &s_fx, kc_test_cells_put, &cells);
}

/* $KC_BIN_DIR/<prog> --store S <args...>: must exit 0; returns stdout. */
#define RUN(prog, ...) s_run(prog, __VA_ARGS__, NULL)
static char *s_run(const char *prog, ...)
{
    const char *pre[] = {"--store", s_fx.dir.store};
    char *out, *err;
    va_list ap;
    va_start(ap, prog);
    int rc = t_tools_vrun(&s_fx, &out, &err, prog, pre, 2, ap);
    va_end(ap);
    if (rc != 0)
        fail_msg("%s exit %d: %s", prog, rc, err);
    free(err);
    return out;
}

/* python3's json.load of text (must be valid JSON; integers exact), then
 * each expression (d = the document) printed with repr; the lines joined. */
static char *s_py(const char *text, const char *exprs)
{
    char file[PATH_MAX + 16];
    snprintf(file, sizeof file, "%s/doc.json", s_dir);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    char script[2048];
    snprintf(script, sizeof script,
             "import json, sys\n"
             "d = json.load(open(sys.argv[1], encoding='utf-8'), "
             "parse_constant=lambda c: sys.exit('not JSON: ' + c))\n"
             "for e in sys.argv[2].split(';'):\n"
             "    print(repr(eval(e)))\n");
    char *argv[] = {"python3", "-c", script, file, (char *)exprs, NULL};
    char *out, *err;
    int rc = t_tools_exec(&s_fx, argv, &out, &err);
    if (rc != 0)
        fail_msg("python3 json.load / %s: exit %d: %s\n---- document:\n%s", exprs, rc, err, text);
    free(err);
    size_t n = strlen(out);
    while (n && out[n - 1] == '\n')
        out[--n] = '\0';
    return out;
}

static void s_expect_py(const char *text, const char *exprs, const char *want)
{
    char *got = s_py(text, exprs);
    if (strcmp(got, want) != 0)
        fail_msg("%s:\n got %s\nwant %s\n---- document:\n%s", exprs, got, want, text);
    free(got);
}

static void s_expect_in(const char *text, const char *needle)
{
    if (!strstr(text, needle))
        fail_msg("'%s' not in:\n%s", needle, text);
}

static void test_national_total(void **state)
{
    (void)state;
    char *j = RUN("kc-query", "--year", "2024", "--format", "json");
    s_expect_in(j, "\"amount_vnd\": " PAIR ",");
    s_expect_py(j, "d['totals']['amount_vnd'];d['events'];d['totals']['persons']", PAIR "\n2\n7");
    free(j);
    char *c = RUN("kc-query", "--year", "2024", "--format", "csv");
    s_expect_in(c, "\namount_vnd," PAIR "\n");
    s_expect_in(c, "\nrecords,2\n");
    free(c);
    char *t = RUN("kc-query", "--year", "2024");
    s_expect_in(t, "9,223,372,036.9 billion VND");
    free(t);
    t = RUN("kc-query", "--year", "2024", "--lang", "vi");
    s_expect_in(t, "9.223.372.036,9 tỷ đồng");
    free(t);
}

static void test_by_province(void **state)
{
    (void)state;
    char *j = RUN("kc-query", "--year", "2024", "--by", "province", "--format", "json");
    s_expect_py(j,
                "d['totals']['amount_vnd'];[(r['key'], r['totals']['amount_vnd'], r['events']) "
                "for r in d['rows']]",
                PAIR "\n[('01', 5, 1), ('79', 9223372036854775807, 1)]");
    free(j);
    char *c = RUN("kc-query", "--year", "2024", "--by", "province", "--format", "csv");
    s_expect_in(c, "\n01,Hà Nội,63,1,5,");
    s_expect_in(c, "\n79,Hồ Chí Minh,63,1,9223372036854775807,");
    free(c);
    char *t = RUN("kc-query", "--year", "2024", "--by", "province");
    s_expect_in(t, "9,223,372,036.9 billion VND"); /* the total row */
    /* one scale per column of money (issue 16): 5 dong beside 2^63-1 is 0.0
     * billion in the table; CSV and JSON keep it exact */
    s_expect_in(t, " 0.0 billion VND");
    assert_null(strstr(t, " 5 VND"));
    free(t);
    /* by activity and by month: the same total */
    j = RUN("kc-query", "--year", "2024", "--by", "activity", "--format", "json");
    s_expect_py(j, "d['totals']['amount_vnd'];sum(r['totals']['amount_vnd'] for r in d['rows'])",
                PAIR "\n" PAIR);
    free(j);
    j = RUN("kc-query", "--year", "2024", "--by", "month", "--format", "json");
    s_expect_py(j, "[(r['key'], r['totals']['amount_vnd']) for r in d['rows']]",
                "[(3, 9223372036854775807), (5, 5)]");
    free(j);
}

static void test_plan_and_compare(void **state)
{
    (void)state;
    char *j = RUN("kc-query", "--year", "2024", "--plan", "--format", "json");
    s_expect_py(j, "d['plan']['totals']['amount_vnd'];d['percent_of_plan'];d['plan']['events']",
                PLAN2 "\n50.0\n2");
    free(j);
    char *c = RUN("kc-query", "--year", "2024", "--plan", "--format", "csv");
    s_expect_in(c, "\namount_vnd," PAIR "," PLAN2 ",50.00\n");
    free(c);
    char *t = RUN("kc-query", "--year", "2024", "--plan", "--lang", "vi");
    s_expect_in(t, "18.446.744.073,7 tỷ đồng");
    s_expect_in(t, "50,0%");
    free(t);
    /* --compare: 2^63+4 against 2^62+1, +100% */
    j = RUN("kc-query", "--year", "2024", "--compare", "2023", "--format", "json");
    s_expect_py(j,
                "d['compare']['totals']['amount_vnd'];d['compare']['change_percent']['amount_vnd']",
                CMP2023 "\n100.0");
    free(j);
    c = RUN("kc-query", "--year", "2024", "--compare", "2023", "--format", "csv");
    s_expect_in(c, "\namount_vnd," PAIR "," CMP2023 ",100.00\n");
    free(c);
    t = RUN("kc-query", "--year", "2024", "--compare", "2023");
    s_expect_in(t, "+100.0%");
    free(t);
    /* everything at once, grouped */
    j = RUN("kc-query", "--year", "2024", "--by", "province", "--plan", "--compare", "2023",
            "--format", "json");
    s_expect_py(j,
                "d['totals']['amount_vnd'];[(r['key'], r['plan']['totals']['amount_vnd'], "
                "r['percent_of_plan'], r['compare']['totals']['amount_vnd']) for r in d['rows']]",
                PAIR "\n[('01', 9223372036854775807, 0.0, 1), "
                     "('79', 9223372036854775807, 100.0, 4611686018427387904)]");
    free(j);
    c = RUN("kc-query", "--year", "2024", "--by", "province", "--plan", "--compare", "2023",
            "--format", "csv");
    s_expect_in(c, "\n79,Hồ Chí Minh,63,1,9223372036854775807,");
    free(c);
}

static void test_one_province_beyond_2_64(void **state)
{
    (void)state;
    char *j = RUN("kc-query", "--year", "2022", "--province", "79", "--format", "json");
    s_expect_in(j, "\"amount_vnd\": " SUM79 ",");
    s_expect_py(j, "d['totals']['amount_vnd'];d['totals']['persons'];d['events']",
                SUM79 "\n" SUM79 "\n" EV79);
    free(j);
    char *c = RUN("kc-query", "--year", "2022", "--province", "79", "--format", "csv");
    s_expect_in(c, "\namount_vnd," SUM79 "\n");
    s_expect_in(c, "\npersons," SUM79 "\n");
    s_expect_in(c, "\nrecords," EV79 "\n");
    free(c);
    char *t = RUN("kc-query", "--year", "2022", "--province", "79");
    s_expect_in(t, "36,893,488,147.4 billion VND");
    s_expect_in(t, "36,893,488,147,419,103,228"); /* persons, a count */
    s_expect_in(t, "36,893,488,147,419,103,232"); /* records */
    free(t);
    j = RUN("kc-query", "--year", "2022", "--by", "month", "--province", "79", "--format", "json");
    s_expect_py(j,
                "sum(r['totals']['amount_vnd'] for r in d['rows']);[r['events'] for r in "
                "d['rows']]",
                SUM79 "\n[18446744073709551615, 18446744073709551615, 1, 1]");
    free(j);
    /* 2023 against 2022: a fall of almost 100%, exact */
    c = RUN("kc-query", "--year", "2023", "--compare", "2022", "--province", "79", "--format",
            "csv");
    s_expect_in(c, "\namount_vnd,4611686018427387904," SUM79 ",-87.50\n");
    free(c);
}

static void test_report(void **state)
{
    (void)state;
    char *t =
        RUN("kc-report", "--province", "79", "--province", "01", "--year", "2024", "--lang", "vi");
    s_expect_in(t,
                "9.223.372.036,9 tỷ đồng, đạt 50,0% kế hoạch năm 2024 (18.446.744.073,7 tỷ đồng)");
    s_expect_in(t, "+100,0%"); /* year on year */
    free(t);
    t = RUN("kc-report", "--region", "south", "--year", "2023");
    /* 2022 whole year of 79: four cells at the maximum */
    s_expect_in(t, "36,893,488,147.4 billion VND");
    s_expect_in(t, "18,446,744,073,709,551,614"); /* persons of KC3b, and of KC1 */
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_national_total),   cmocka_unit_test(test_by_province),
        cmocka_unit_test(test_plan_and_compare), cmocka_unit_test(test_one_province_beyond_2_64),
        cmocka_unit_test(test_report),
    };
    return cmocka_run_group_tests(tests, s_setup, t_tools_teardown);
}
