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

#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

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

typedef struct {
    kc_cell_key_t key;
    uint64_t events;
    int64_t amount, persons;
} s_cell_t;

static const s_cell_t s_cells[] = {
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

static char s_dir[512];
static char s_store[600];
static const char *s_bin;

static int s_fill(kc_txn_t *txn, void *ctx)
{
    (void)ctx;
    for (size_t i = 0; i < sizeof s_cells / sizeof s_cells[0]; i++) {
        kc_cell_t c = {.events = s_cells[i].events};
        c.m[KC_M_AMOUNT_VND] = s_cells[i].amount;
        c.m[KC_M_PERSONS] = s_cells[i].persons;
        /* each cell is within its range (int64 metrics, uint64 count) */
        int rc = kc_txn_totals_put(txn, &s_cells[i].key, &c);
        if (rc)
            return rc;
    }
    return 0;
}

static int s_rm(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static int s_setup(void **state)
{
    (void)state;
    s_bin = getenv("KC_BIN_DIR");
    if (!s_bin)
        return -1;
    const char *tmp = getenv("TMPDIR");
    snprintf(s_dir, sizeof s_dir, "%s/kc-overflow-test.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(s_dir))
        return -1;
    snprintf(s_store, sizeof s_store, "%s/store", s_dir);
    kc_store_t *st = NULL;
    kc_store_opts_t opts = {0};
    if (kc_store_open(&st, s_store, &opts))
        return -1;
    int rc = kc_store_write(st, s_fill, NULL);
    kc_store_close(&st);
    return rc ? -1 : 0;
}

static int s_teardown(void **state)
{
    (void)state;
    return nftw(s_dir, s_rm, 16, FTW_DEPTH | FTW_PHYS);
}

static char *s_slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    char chunk[4096];
    size_t r;
    while ((r = fread(chunk, 1, sizeof chunk, f)) > 0)
        fwrite(chunk, 1, r, m);
    fclose(m);
    fclose(f);
    return buf;
}

/* Run argv[0] (a path) with stdout to $dir/out and stderr to $dir/err;
 * returns the exit status (-1 on a signal) and the two texts. */
static int s_exec(char *const argv[], char **out, char **err)
{
    char fout[700], ferr[700];
    snprintf(fout, sizeof fout, "%s/out", s_dir);
    snprintf(ferr, sizeof ferr, "%s/err", s_dir);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fo = open(fout, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int fe = open(ferr, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fo < 0 || fe < 0 || dup2(fo, 1) < 0 || dup2(fe, 2) < 0)
            _exit(127);
        execvp(argv[0], argv);
        _exit(127);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    *out = s_slurp(fout);
    *err = s_slurp(ferr);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* $KC_BIN_DIR/<prog> --store S <args...>: must exit 0; returns stdout. */
#define RUN(prog, ...) s_run(prog, __VA_ARGS__, NULL)
static char *s_run(const char *prog, ...)
{
    char path[700];
    char *argv[40];
    int n = 0;
    snprintf(path, sizeof path, "%s/%s", s_bin, prog);
    argv[n++] = path;
    argv[n++] = "--store";
    argv[n++] = s_store;
    va_list ap;
    va_start(ap, prog);
    for (const char *a; n < 39 && (a = va_arg(ap, const char *));)
        argv[n++] = (char *)a;
    va_end(ap);
    argv[n] = NULL;
    char *out, *err;
    int rc = s_exec(argv, &out, &err);
    if (rc != 0)
        fail_msg("%s exit %d: %s", prog, rc, err);
    free(err);
    return out;
}

/* python3's json.load of text (must be valid JSON; integers exact), then
 * each expression (d = the document) printed with repr; the lines joined. */
static char *s_py(const char *text, const char *exprs)
{
    char file[700];
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
    int rc = s_exec(argv, &out, &err);
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
    s_expect_in(c, "\n01,Hà Nội,1,5,");
    s_expect_in(c, "\n79,Hồ Chí Minh,1,9223372036854775807,");
    free(c);
    char *t = RUN("kc-query", "--year", "2024", "--by", "province");
    s_expect_in(t, "9,223,372,036.9 billion VND"); /* the total row */
    s_expect_in(t, "5 VND");
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
    s_expect_in(c, "\n79,Hồ Chí Minh,1,9223372036854775807,");
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
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
