/* csv_test.c - kc-send's CSV import: quoting, column order, defaults, and every
 * kind of malformed row reported with its physical line and never staged. */
#include "ingest_test_util.h"
#include "kc_csv.h"
#include "kc_err.h"
#include "kc_text.h"
#include "kcingest.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#define MAXROWS 32

typedef struct {
    long line;
    char event_id[80];
    char province[8];
    char activity[40];
    char note[200];
    int year, month, kind, fund, op;
    char corrects[80];
    uint32_t present;
    int64_t metrics[KCI_METRIC_COUNT];
    char source[300];
} row_t;

typedef struct {
    row_t rows[MAXROWS];
    int n_rows;
    long bad_line[MAXROWS];
    char bad_reason[MAXROWS][600];
    int n_bad;
    kc_producer_t *p; /* when set, good rows are staged here */
} got_t;

static int on_row(const kc_csv_row_t *r, void *ctx)
{
    got_t *g = ctx;
    assert_true(g->n_rows < MAXROWS);
    row_t *o = &g->rows[g->n_rows++];
    o->line = r->line;
    snprintf(o->event_id, sizeof o->event_id, "%s", r->ev->event_id);
    snprintf(o->province, sizeof o->province, "%s", r->ev->province);
    snprintf(o->activity, sizeof o->activity, "%s", r->ev->activity);
    snprintf(o->note, sizeof o->note, "%s", r->ev->note ? r->ev->note : "");
    snprintf(o->source, sizeof o->source, "%s", r->source);
    o->year = r->ev->year;
    o->month = r->ev->month;
    o->kind = r->ev->kind;
    o->fund = r->ev->fund;
    o->op = r->ev->op;
    snprintf(o->corrects, sizeof o->corrects, "%s", r->ev->corrects ? r->ev->corrects : "");
    o->present = r->ev->present;
    memcpy(o->metrics, r->ev->metrics, sizeof o->metrics);
    if (g->p)
        assert_int_equal(kc_producer_add(g->p, r->ev, r->source, NULL), 0);
    return 0;
}

static void on_bad(const char *file, long line, const char *reason, void *ctx)
{
    (void)file;
    got_t *g = ctx;
    assert_true(g->n_bad < MAXROWS);
    g->bad_line[g->n_bad] = line;
    snprintf(g->bad_reason[g->n_bad], sizeof g->bad_reason[0], "%s", reason);
    g->n_bad++;
}

static int setup(void **state)
{
    *state = kt_tmpdir("csv");
    return *state ? 0 : -1;
}

static int teardown(void **state)
{
    kt_rmdir(*state);
    return 0;
}

static void test_quoting_order_defaults(void **state)
{
    const char *csv =
        /* columns out of order, activity by name and by code, CRLF on one line */
        "note,activity,event_id,year,province,month,kind,fund,amount_vnd,facilities\r\n"
        "\"Ha, Noi \"\"mo hinh\"\"\nsecond line\",machinery,E1,2021,79,3,,,1500000000,4\r\n"
        "plain,KC3b,E2,2022,80,9,plan,kcqg,7,\n"
        "\n"
        ",,,,,,,,,\n" /* spreadsheet padding: skipped */
        "\"\",demonstration_model,E3,2021,01,12,actual,kcđp,0,1\n"
        "x,KC4b,E4,2021,79,1,PLAN,KCDP,-5,\n"  /* negative passes (aggregator rejects) */
        "y,KC4b,E5,2021,79,1,actual,other,5,"; /* no final newline */
    char *path = kt_write(*state, "good.csv", csv);
    got_t g = {0};
    kc_csv_stats_t st;
    assert_int_equal(kc_csv_import(path, on_row, on_bad, &g, &st), 0);
    assert_int_equal(g.n_bad, 0);
    assert_int_equal(g.n_rows, 5);
    assert_int_equal(st.rows, 5);
    assert_int_equal(st.good, 5);
    assert_int_equal(st.malformed, 0);

    row_t *r = &g.rows[0];
    assert_int_equal(r->line, 2);
    assert_string_equal(r->event_id, "E1");
    assert_string_equal(r->province, "79");
    assert_string_equal(r->activity, "machinery");
    assert_string_equal(r->note, "Ha, Noi \"mo hinh\"\nsecond line");
    assert_int_equal(r->year, 2021);
    assert_int_equal(r->month, 3);
    assert_int_equal(r->kind, KCI_KIND_ACTUAL);
    assert_int_equal(r->fund, KCI_FUND_OTHER);
    assert_int_equal(r->present, (1u << KCI_AMOUNT_VND) | (1u << KCI_FACILITIES));
    assert_int_equal(r->metrics[KCI_AMOUNT_VND], 1500000000);
    assert_int_equal(r->metrics[KCI_FACILITIES], 4);
    char want[4200];
    snprintf(want, sizeof want, "%s:2", path);
    assert_string_equal(r->source, want);

    r = &g.rows[1];
    assert_int_equal(r->line, 4);
    assert_string_equal(r->activity, "KC3b");
    assert_int_equal(r->kind, KCI_KIND_PLAN);
    assert_int_equal(r->fund, KCI_FUND_KCQG);
    assert_int_equal(r->present, 1u << KCI_AMOUNT_VND);

    r = &g.rows[2];
    assert_int_equal(r->line, 7);
    assert_string_equal(r->province, "01");
    assert_string_equal(r->note, "");
    assert_int_equal(r->fund, KCI_FUND_KCDP);
    assert_int_equal(r->month, 12);
    assert_int_equal(r->metrics[KCI_AMOUNT_VND], 0);
    assert_true(r->present & (1u << KCI_AMOUNT_VND));

    r = &g.rows[3];
    assert_int_equal(r->line, 8);
    assert_int_equal(r->kind, KCI_KIND_PLAN);
    assert_int_equal(r->fund, KCI_FUND_KCDP);
    assert_int_equal(r->metrics[KCI_AMOUNT_VND], -5);

    r = &g.rows[4];
    assert_int_equal(r->line, 9);
    assert_string_equal(r->event_id, "E5");
    free(path);
}

/* Each malformed row is followed by a good one, proving recovery. */
static void test_malformed_rows(void **state)
{
    const char *csv = "event_id,province,year,month,activity,kind,fund,amount_vnd,persons,note\n"
                      "G1,79,2021,1,KC1,,,1,2,ok\n"                  /* 2 good */
                      "B1,79,2021,1,KC1,,,1,2\n"                     /* 3 field count */
                      "B2,79,2021,1,KC1,,,1.5,,\n"                   /* 4 decimal */
                      "B3,79,2021,1,KC1,,, 12,,\n"                   /* 5 space */
                      "B4,79,20x1,1,KC1,,,1,,\n"                     /* 6 year */
                      "B5,79,2021,,KC1,,,1,,\n"                      /* 7 empty month */
                      "B6,79,2021,1,KC1,done,,1,,\n"                 /* 8 kind */
                      "B7,79,2021,1,KC1,,state,1,,\n"                /* 9 fund */
                      ",79,2021,1,KC1,,,1,,\n"                       /* 10 empty event_id */
                      "B9,79,2021,1,KC1,,,+3,,\n"                    /* 11 plus sign */
                      "B10,79,2021,1,KC1,,,99999999999999999999,,\n" /* 12 overflow */
                      "B11,79,2021,1,KC1,,,1,,\"bad\"quote\n"        /* 13 quoting */
                      "G2,79,2021,2,KC1,,,1,,\"multi\nline\"\n"      /* 14-15 good */
                      "B12,79,2021,1,KC1,,,1,,\"open\n"              /* 16 quoting */
                      "G3,79,2021,3,KC1,,,1,,ok\n"                   /* 17 (swallowed) */
                      "\"unterminated\n";
    char *path = kt_write(*state, "bad.csv", csv);
    got_t g = {0};
    kc_csv_stats_t st;
    assert_int_equal(kc_csv_import(path, on_row, on_bad, &g, &st), 0);
    assert_int_equal(g.n_rows, 2);
    assert_string_equal(g.rows[0].event_id, "G1");
    assert_int_equal(g.rows[0].line, 2);
    assert_string_equal(g.rows[1].event_id, "G2");
    assert_int_equal(g.rows[1].line, 14);
    assert_string_equal(g.rows[1].note, "multi\nline");
    long want[] = {3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 16};
    const char *words[] = {"expected 10 fields",
                           "amount_vnd '1.5'",
                           "amount_vnd ' 12'",
                           "year '20x1'",
                           "month ''",
                           "kind 'done'",
                           "fund 'state'",
                           "event_id is empty",
                           "amount_vnd '+3'",
                           "int64",
                           "quoting",
                           NULL};
    assert_int_equal(g.n_bad, (int)(sizeof want / sizeof want[0]));
    for (int i = 0; i < g.n_bad; i++) {
        assert_int_equal(g.bad_line[i], want[i]);
        if (words[i] && !strstr(g.bad_reason[i], words[i]))
            fail_msg("line %ld: reason '%s' lacks '%s'", want[i], g.bad_reason[i], words[i]);
    }
    assert_int_equal(st.good, 2);
    assert_int_equal(st.malformed, (size_t)g.n_bad);
    assert_int_equal(st.rows, st.good + st.malformed);
    free(path);
}

/* The corrects column and kind correction/retraction. */
static void test_corrections_and_retractions(void **state)
{
    const char *csv =
        "event_id,province,year,month,activity,kind,fund,amount_vnd,facilities,corrects\n"
        "E1,79,2021,3,KC3b,plan,kcqg,100,1,\n"        /* 2 record */
        "C1,79,2021,4,KC3b,Correction,kcqg,70,1,E1\n" /* 3 correction */
        "R1,79,,,,retraction,,,,C1\n"                 /* 4 retraction, no period */
        "R2,79,2021,4,machinery,RETRACTION,,,,C1\n"   /* 5 retraction with period */
        "B1,79,2021,3,KC3b,correction,,70,1,\n"       /* 6 correction without corrects */
        "B2,79,,,,retraction,,,,\n"                   /* 7 retraction without corrects */
        "B3,79,2021,3,KC3b,actual,,70,1,E1\n"         /* 8 corrects on a record */
        "B4,79,,3,,retraction,,,,E1\n"                /* 9 month without year */
        "B5,79,,,,retraction,,5,,E1\n"                /* 10 retraction with a metric */
        "B6,79,,,KC3b,correction,,70,1,E1\n"          /* 11 correction without period */
        "B7,79,2021,3,,correction,,70,1,E1\n"         /* 12 correction without activity */
        "B8,,,,,retraction,,,,E1\n"                   /* 13 no province */
        "B9,79,2021,3,KC3b,undo,,70,1,E1\n";          /* 14 bad kind */
    char *path = kt_write(*state, "amend.csv", csv);
    got_t g = {0};
    kc_csv_stats_t st;
    assert_int_equal(kc_csv_import(path, on_row, on_bad, &g, &st), 0);
    assert_int_equal(g.n_rows, 4);
    assert_int_equal(g.rows[0].op, KCI_OP_RECORD);
    assert_int_equal(g.rows[0].kind, KCI_KIND_PLAN);
    assert_string_equal(g.rows[0].corrects, "");
    assert_int_equal(g.rows[1].op, KCI_OP_CORRECTION);
    assert_int_equal(g.rows[1].kind, KCI_KIND_DEFAULT); /* the target's */
    assert_string_equal(g.rows[1].corrects, "E1");
    assert_int_equal(g.rows[1].month, 4);
    assert_int_equal(g.rows[1].metrics[KCI_AMOUNT_VND], 70);
    assert_int_equal(g.rows[2].op, KCI_OP_RETRACTION);
    assert_string_equal(g.rows[2].corrects, "C1");
    assert_int_equal(g.rows[2].year, 0);
    assert_int_equal(g.rows[2].month, 0);
    assert_string_equal(g.rows[2].activity, "");
    assert_int_equal(g.rows[2].present, 0);
    assert_int_equal(g.rows[2].fund, KCI_FUND_DEFAULT);
    assert_int_equal(g.rows[3].op, KCI_OP_RETRACTION);
    assert_int_equal(g.rows[3].year, 2021);
    assert_int_equal(g.rows[3].month, 4);
    long want[] = {6, 7, 8, 9, 10, 11, 12, 13, 14};
    const char *words[] = {"needs corrects",    "needs corrects",    "corrects 'E1' is set",
                           "year and month",    "no metrics",        "year ''",
                           "activity is empty", "province is empty", "kind 'undo'"};
    assert_int_equal(g.n_bad, (int)(sizeof want / sizeof want[0]));
    for (int i = 0; i < g.n_bad; i++) {
        assert_int_equal(g.bad_line[i], want[i]);
        if (!strstr(g.bad_reason[i], words[i]))
            fail_msg("line %ld: reason '%s' lacks '%s'", want[i], g.bad_reason[i], words[i]);
    }
    assert_int_equal(st.good, 4);
    free(path);
}

static void test_bad_headers(void **state)
{
    struct {
        const char *csv;
        const char *word;
    } cases[] = {
        {"event_id,province,year,month,activity,colour\nE,79,2021,1,KC1,red\n", "'colour'"},
        {"event_id,province,year,activity\nE,79,2021,KC1\n", "'month'"},
        {"event_id,province,year,month,activity,year\n", "twice"},
        {"", "missing"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *path = kt_write(*state, "hdr.csv", cases[i].csv);
        got_t g = {0};
        assert_int_equal(kc_csv_import(path, on_row, on_bad, &g, NULL), KC_EFORMAT);
        assert_int_equal(g.n_rows, 0);
        assert_int_equal(g.n_bad, 1);
        assert_int_equal(g.bad_line[0], 1);
        if (!strstr(g.bad_reason[0], cases[i].word))
            fail_msg("case %zu: '%s' lacks '%s'", i, g.bad_reason[0], cases[i].word);
        free(path);
    }
    /* header names: BOM, surrounding spaces and case are tolerated */
    char *path = kt_write(*state, "bom.csv",
                          "\xef\xbb\xbf"
                          "Event_ID, province ,year,month,activity\nE,79,2021,1,KC1\n");
    got_t g = {0};
    assert_int_equal(kc_csv_import(path, on_row, on_bad, &g, NULL), 0);
    assert_int_equal(g.n_rows, 1);
    free(path);
    g = (got_t){0};
    assert_true(kc_csv_import("/nonexistent/x.csv", on_row, on_bad, &g, NULL) < 0);
    assert_int_equal(g.n_bad, 1);
    assert_int_equal(g.bad_line[0], 0);
}

static void test_parse_i64(void **state)
{
    (void)state;
    int64_t v;
    assert_int_equal(kc_csv_parse_i64("0", &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(kc_csv_parse_i64("-42", &v), 0);
    assert_int_equal(v, -42);
    assert_int_equal(kc_csv_parse_i64("007", &v), 0);
    assert_int_equal(v, 7);
    assert_int_equal(kc_csv_parse_i64("9223372036854775807", &v), 0);
    assert_true(v == INT64_MAX);
    assert_int_equal(kc_csv_parse_i64("-9223372036854775808", &v), 0);
    assert_true(v == INT64_MIN);
    assert_int_equal(kc_csv_parse_i64("9223372036854775808", &v), KC_EOVERFLOW);
    const char *bad[] = {"", "-", "+1", "1 ", " 1", "1e3", "1.0", "0x10", "1,000", "--1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(kc_csv_parse_i64(bad[i], &v), KC_EINVAL);
}

/* Imported into a real producer (no aggregator): only good rows are staged. */
static void test_never_staged(void **state)
{
    const char *csv = "event_id,province,year,month,activity,amount_vnd\n"
                      "G1,79,2021,1,KC1,1\n"
                      "B1,79,2021,1,KC1,x\n"
                      "B2,79,2021,1,KC1\n"
                      "G2,79,2021,1,KC1,2\n";
    char *path = kt_write(*state, "stage.csv", csv);
    char spool[4200];
    snprintf(spool, sizeof spool, "%s/spool", (char *)*state);
    kc_ingest_set_log("csv_test", KCI_LOG_ERROR, NULL, NULL);
    kc_producer_opts_t o = {
        .endpoint = "tcp://127.0.0.1:1", .producer_id = "csv", .spool_dir = spool};
    got_t g = {0};
    assert_int_equal(kc_producer_open(&g.p, &o), 0);
    kc_csv_stats_t st;
    assert_int_equal(kc_csv_import(path, on_row, on_bad, &g, &st), 0);
    assert_int_equal(st.good, 2);
    assert_int_equal(st.malformed, 2);
    assert_int_equal(kc_producer_pending(g.p), 2);
    kc_producer_close(&g.p);
    free(path);
}

/* The aggregator's text rule on every text column: bytes that are not UTF-8
 * in any cell, control characters in ids and codes, and in the note any but
 * tab and line breaks, each reported as invalid_text with its line, the
 * column, the byte offset and the escaped cell, and never handed over. */
static void test_text_rule(void **state)
{
    const char *csv =
        "event_id,province,year,month,activity,kind,amount_vnd,note,corrects\n"
        "G1,79,2021,1,KC1,,1,\"Hội chợ\tđợt 2\r\nHà Nội\",\n" /* 2-3 good: tab, CRLF */
        "E\xff,79,2021,1,KC1,,1,,\n"                          /* 4 */
        "E\x01,79,2021,1,KC1,,1,,\n"                          /* 5 */
        "B3,7\xe1\xba,2021,1,KC1,,1,,\n"                      /* 6 */
        "B4,7\x7f,2021,1,KC1,,1,,\n"                          /* 7 */
        "B5,79,2021,1,KC\xc0\xb1,,1,,\n"                      /* 8 overlong */
        "B6,79,2021,1,\"KC\n1\",,1,,\n"                       /* 9-10 line break */
        "B7,79,2021,1,KC1,correction,1,,E\xed\xa0\x80\n"      /* 11 surrogate */
        "B8,79,2021,1,KC1,correction,1,,E\xc2\x85\n"          /* 12 C1 */
        "B9,79,2021,1,KC1,,1,\"\x93quoted\x94\",\n"           /* 13 Windows-1258 */
        "B10,79,2021,1,KC1,,1,bell\x07,\n"                    /* 14 */
        "B11,79,2021,1,KC1,act\xfe,1,,\n"                     /* 15 a code column */
        "B12,79,2021,1,KC1,,\xb1,,\n"                         /* 16 a metric column */
        "G2,79,2021,1,KC1,,1,Quảng Trị,\n";                   /* 17 good */
    char *path = kt_write(*state, "text.csv", csv);
    got_t g = {0};
    kc_csv_stats_t st;
    assert_int_equal(kc_csv_import(path, on_row, on_bad, &g, &st), 0);
    assert_int_equal(g.n_rows, 2);
    assert_string_equal(g.rows[0].note, "Hội chợ\tđợt 2\r\nHà Nội");
    assert_string_equal(g.rows[1].note, "Quảng Trị");
    const struct {
        long line;
        const char *words;
    } want[] = {
        {4, "invalid_text: event_id is not valid UTF-8 (byte 1): 'E\\xFF'; the file is probably "
            "not saved as UTF-8 (e.g. Windows-1258): in Excel, save it as \"CSV UTF-8"},
        {5, "invalid_text: event_id holds a control character (byte 1): 'E\\x01'; ids and codes "
            "are printable text: remove"},
        {6, "invalid_text: province is not valid UTF-8 (byte 1): '7\\xE1\\xBA'; "},
        {7, "invalid_text: province holds a control character (byte 1): '7\\x7F'"},
        {8, "invalid_text: activity is not valid UTF-8 (byte 2): 'KC\\xC0\\xB1'"},
        {9, "invalid_text: activity holds a control character (byte 2): 'KC\\x0A1'"},
        {11, "invalid_text: corrects is not valid UTF-8 (byte 1): 'E\\xED\\xA0\\x80'"},
        {12, "invalid_text: corrects holds a control character (byte 1): 'E\\xC2\\x85'"},
        {13, "invalid_text: note is not valid UTF-8 (byte 0): '\\x93quoted\\x94'; the file is "
             "probably not saved as UTF-8"},
        {14, "invalid_text: note holds a control character other than tab or a line break "
             "(byte 4): 'bell\\x07'; remove it"},
        {15, "invalid_text: kind is not valid UTF-8 (byte 3): 'act\\xFE'"},
        {16, "invalid_text: amount_vnd is not valid UTF-8 (byte 0): '\\xB1'"},
    };
    assert_int_equal(g.n_bad, (int)(sizeof want / sizeof want[0]));
    for (int i = 0; i < g.n_bad; i++) {
        assert_int_equal(g.bad_line[i], want[i].line);
        if (strncmp(g.bad_reason[i], want[i].words, strlen(want[i].words)) != 0)
            fail_msg("line %ld: reason '%s' does not start with '%s'", want[i].line,
                     g.bad_reason[i], want[i].words);
        /* reasons are printable UTF-8 whatever the file held */
        assert_true(kc_text_id_ok(g.bad_reason[i], strlen(g.bad_reason[i])));
    }
    assert_int_equal(st.good, 2);
    assert_int_equal(st.malformed, 12);
    free(path);

    /* a NUL byte names its column; a long cell is shown around the bad byte */
    char buf[512];
    static const char head[] = "event_id,province,year,month,activity,note\nN1,7";
    static const char tail[] = "9,2021,1,KC1,\nN2,79,2021,1,KC1,"
                               "0123456789012345678901234567890123456789abcdef\xff-tail-"
                               "0123456789012345678901234567890123456789\n";
    memcpy(buf, head, sizeof head - 1);
    buf[sizeof head - 1] = '\0';
    memcpy(buf + sizeof head, tail, sizeof tail);
    char nul_path[4200];
    snprintf(nul_path, sizeof nul_path, "%s/nul.csv", (char *)*state);
    FILE *f = fopen(nul_path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, sizeof head + sizeof tail - 1, f),
                     sizeof head + sizeof tail - 1);
    fclose(f);
    g = (got_t){0};
    assert_int_equal(kc_csv_import(nul_path, on_row, on_bad, &g, &st), 0);
    assert_int_equal(g.n_rows, 0);
    assert_int_equal(g.n_bad, 2);
    assert_int_equal(g.bad_line[0], 2);
    assert_non_null(strstr(g.bad_reason[0], "invalid_text: province holds a NUL byte (byte 1)"));
    assert_int_equal(g.bad_line[1], 3);
    assert_non_null(strstr(g.bad_reason[1], "invalid_text: note is not valid UTF-8 (byte 46): "
                                            "'...0123456789abcdef\\xFF-tail-01234567890123456789"
                                            "01234...'"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_quoting_order_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrections_and_retractions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_headers, setup, teardown),
        cmocka_unit_test(test_parse_i64),
        cmocka_unit_test_setup_teardown(test_never_staged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_text_rule, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
