/* contract_test.c - kc-send's CSV contract as the import layer reads it
 * (kc_import_open / kc_import_next): what the retired CSV reader's unit test
 * (tests/ingest/csv_test.c, kc_csv_import) checked and import_test.c does not:
 * quoted cells across lines and the row numbers after them, columns in any
 * order, kind and fund in any case and their defaults, recovery after each bad
 * row, the rules of corrections and retractions, the aggregator's rules for a
 * row alone (refused with its reason token), the text rule, files that cannot
 * be read further, and that every event handed over is one kc_producer_add
 * stages (the rows with problems never are).
 *
 * Where the rules changed on purpose, the expectations are the new ones:
 * cells are trimmed (" 12" is 12), "1.200.000" and "350000000.00" are numbers,
 * a short row has empty trailing cells, an activity code gives the canonical
 * name, negative figures / figures the activity does not take / no figure /
 * years outside 2000-2100 are refused by the import, broken quoting or a file
 * that is not UTF-8 stops the file (the rows before stand).
 */
#include "kc_err.h"
#include "kc_event.h"
#include "kc_i18n.h"
#include "kc_import.h"
#include "kc_text.h"
#include "kcingest.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static char s_dir[64];
static char s_path[160];

static int s_setup(void **state)
{
    (void)state;
    snprintf(s_dir, sizeof s_dir, "/tmp/kc-contract-XXXXXX");
    if (!mkdtemp(s_dir))
        return -1;
    return kc_i18n_init("en");
}

static int s_teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Write n bytes to s_dir/name; returns s_path. */
static const char *s_write(const char *name, const char *data, size_t n)
{
    snprintf(s_path, sizeof s_path, "%s/%s", s_dir, name);
    FILE *f = fopen(s_path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
    return s_path;
}

static const char *s_writes(const char *name, const char *text)
{
    return s_write(name, text, strlen(text));
}

/* ---- a whole file read into a transcript ---------------------------------- */

#define MAXITEMS 40

typedef struct {
    long row;
    char event_id[80], province[8], activity[40], note[200], corrects[80];
    int year, month, kind, fund, op;
    uint32_t present;
    int64_t metrics[KCI_METRIC_COUNT];
    char file[160], sheet[32];
} s_ev_t;

typedef struct {
    long row;
    char letter[8], token[40], column[24], text[192], message[1024];
} s_pb_t;

typedef struct {
    /* one line per item: "ROW event ID" or "ROW LETTER TOKEN" */
    char script[4096];
    s_ev_t ev[MAXITEMS];
    size_t nev;
    s_pb_t pb[MAXITEMS];
    size_t npb;
    int rc; /* the last kc_import_next's */
    char err[700];
    size_t good, bad_rows;
    kc_producer_t *p; /* when set, each event is staged here */
} s_got_t;

static void s_line(s_got_t *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void s_line(s_got_t *g, const char *fmt, ...)
{
    size_t w = strlen(g->script);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g->script + w, sizeof g->script - w, fmt, ap);
    va_end(ap);
    w = strlen(g->script);
    assert_true(w + 1 < sizeof g->script);
    g->script[w] = '\n';
    g->script[w + 1] = '\0';
}

static void s_read(const char *path, s_got_t *g)
{
    kc_import_t *imp = NULL;
    char err[512];
    assert_int_equal(kc_import_open(&imp, path, NULL, err, sizeof err), 0);
    kc_import_item_t it;
    while ((g->rc = kc_import_next(imp, &it, g->err, sizeof g->err)) == 1) {
        assert_string_equal(it.loc.file, path);
        if (it.is_event) {
            const kc_event_t *e = &it.event;
            assert_true(g->nev < MAXITEMS);
            s_ev_t *o = &g->ev[g->nev++];
            o->row = it.loc.row;
            assert_int_equal(it.loc.col, -1);
            snprintf(o->event_id, sizeof o->event_id, "%s", e->event_id);
            snprintf(o->province, sizeof o->province, "%s", e->province ? e->province : "");
            snprintf(o->activity, sizeof o->activity, "%s", e->activity ? e->activity : "");
            snprintf(o->note, sizeof o->note, "%s", e->note ? e->note : "");
            snprintf(o->corrects, sizeof o->corrects, "%s", e->corrects ? e->corrects : "");
            snprintf(o->file, sizeof o->file, "%s", it.loc.file);
            snprintf(o->sheet, sizeof o->sheet, "%s", it.loc.sheet);
            o->year = e->year;
            o->month = e->month;
            o->kind = e->kind;
            o->fund = e->fund;
            o->op = e->op;
            o->present = e->present;
            memcpy(o->metrics, e->metrics, sizeof o->metrics);
            s_line(g, "%ld event %s", o->row, o->event_id);
            if (g->p)
                assert_int_equal(kc_producer_add(g->p, e, path, NULL), 0);
            continue;
        }
        const kc_import_problem_t *p = &it.problem;
        assert_true(g->npb < MAXITEMS);
        s_pb_t *o = &g->pb[g->npb++];
        o->row = p->loc.row;
        snprintf(o->letter, sizeof o->letter, "%s", p->loc.letter);
        snprintf(o->token, sizeof o->token, "%s", kc_import_problem_token(p));
        snprintf(o->column, sizeof o->column, "%s", p->column ? p->column : "");
        snprintf(o->text, sizeof o->text, "%s", p->text);
        kc_import_problem_text(p, o->message, sizeof o->message);
        /* messages are printable UTF-8 whatever the file held */
        if (!kc_text_id_ok(o->message, strlen(o->message)))
            fail_msg("row %ld: message not printable: %s", o->row, o->message);
        s_line(g, "%ld %s %s", o->row, *o->letter ? o->letter : "-", o->token);
    }
    g->good = kc_import_good(imp);
    g->bad_rows = kc_import_bad_rows(imp);
    if (g->rc < 0) /* the file cannot be read further: the end, for good */
        assert_int_equal(kc_import_next(imp, &it, err, sizeof err), 0);
    kc_import_close(&imp);
    assert_null(imp);
}

static void s_expect_script(const s_got_t *g, const char *want)
{
    if (strcmp(g->script, want) != 0)
        fail_msg("items:\n%s\nwanted:\n%s", g->script, want);
}

/* The problem at row `row` with token `token`; its message must hold `words`. */
static const s_pb_t *s_pb(const s_got_t *g, long row, const char *token, const char *words)
{
    for (size_t i = 0; i < g->npb; i++)
        if (g->pb[i].row == row && strcmp(g->pb[i].token, token) == 0) {
            if (words && !strstr(g->pb[i].message, words))
                fail_msg("row %ld %s: '%s' lacks '%s'", row, token, g->pb[i].message, words);
            return &g->pb[i];
        }
    fail_msg("no %s at row %ld", token, row);
    return NULL;
}

/* ---- good rows ------------------------------------------------------------ */

/* Columns out of order, a quoted note with the delimiter, doubled quotes and a
 * line break (the next row's number is its physical line), CRLF on one line,
 * activity by name and by code, kind and fund in any case and their defaults,
 * a zero figure reported, spreadsheet padding rows, no final newline. */
static void test_quoting_order_defaults(void **state)
{
    (void)state;
    const char *csv =
        "note,activity,event_id,year,province,month,kind,fund,amount_vnd,facilities\r\n"
        "\"Ha, Noi \"\"mo hinh\"\"\nsecond line\",machinery,E1,2021,79,3,,,1500000000,4\r\n"
        "plain,KC3b,E2,2022,80,9,plan,kcqg,7,\n"
        "\n"
        ",,,,,,,,,\n" /* padding: skipped */
        "\"\",demonstration_model,E3,2021,01,12,actual,kcđp,0,1\n"
        "x,KC4b,E4,2021,79,1,PLAN,KCDP,5,\n"
        "y,KC4b,E5,2021,79,1,Actual,OTHER,350000000.00,"; /* no final newline */
    const char *path = s_writes("good.csv", csv);
    s_got_t g = {0};
    s_read(path, &g);
    assert_int_equal(g.rc, 0);
    s_expect_script(&g, "2 event E1\n4 event E2\n7 event E3\n8 event E4\n9 event E5\n");
    assert_int_equal(g.good, 5);
    assert_int_equal(g.bad_rows, 0);

    s_ev_t *r = &g.ev[0];
    assert_string_equal(r->province, "79");
    assert_string_equal(r->activity, "machinery");
    assert_string_equal(r->note, "Ha, Noi \"mo hinh\"\nsecond line");
    assert_int_equal(r->year, 2021);
    assert_int_equal(r->month, 3);
    assert_int_equal(r->op, KCI_OP_RECORD);
    assert_int_equal(r->kind, KCI_KIND_ACTUAL);
    assert_int_equal(r->fund, KCI_FUND_OTHER);
    assert_int_equal(r->present, (1u << KCI_AMOUNT_VND) | (1u << KCI_FACILITIES));
    assert_int_equal(r->metrics[KCI_AMOUNT_VND], 1500000000);
    assert_int_equal(r->metrics[KCI_FACILITIES], 4);
    assert_string_equal(r->corrects, "");
    assert_string_equal(r->file, path);
    assert_string_equal(r->sheet, "");

    r = &g.ev[1];
    assert_string_equal(r->activity, "machinery"); /* KC3b: the canonical name */
    assert_string_equal(r->province, "80");
    assert_int_equal(r->kind, KCI_KIND_PLAN);
    assert_int_equal(r->fund, KCI_FUND_KCQG);
    assert_int_equal(r->present, 1u << KCI_AMOUNT_VND);
    assert_string_equal(r->note, "plain");

    r = &g.ev[2];
    assert_string_equal(r->province, "01");
    assert_string_equal(r->activity, "demonstration_model");
    assert_string_equal(r->note, ""); /* "" is no note */
    assert_int_equal(r->kind, KCI_KIND_ACTUAL);
    assert_int_equal(r->fund, KCI_FUND_KCDP);
    assert_int_equal(r->month, 12);
    assert_int_equal(r->metrics[KCI_AMOUNT_VND], 0);
    assert_int_equal(r->present, (1u << KCI_AMOUNT_VND) | (1u << KCI_FACILITIES));

    r = &g.ev[3];
    assert_string_equal(r->activity, "trade_fair");
    assert_int_equal(r->kind, KCI_KIND_PLAN);
    assert_int_equal(r->fund, KCI_FUND_KCDP);
    assert_int_equal(r->metrics[KCI_AMOUNT_VND], 5);

    r = &g.ev[4];
    assert_int_equal(r->kind, KCI_KIND_ACTUAL);
    assert_int_equal(r->fund, KCI_FUND_OTHER);
    assert_int_equal(r->metrics[KCI_AMOUNT_VND], 350000000);
}

/* ---- bad rows ------------------------------------------------------------- */

/* Each bad row is followed by a good one, proving recovery; what the old
 * reader refused and the import now reads (a short row, a padded number,
 * Vietnamese grouping) gives events. */
static void test_malformed_rows(void **state)
{
    (void)state;
    const char *csv = "event_id,province,year,month,activity,kind,fund,amount_vnd,persons,note\n"
                      "G1,79,2021,1,KC1,,,1,2,ok\n"                      /* 2 */
                      "S1,79,2021,1,KC1,,,1,2\n"                         /* 3 short: good */
                      "\" S2 \",79,2021,1,KC1,,, 12,,\xC2\xA0padded\t\n" /* 4 trimmed: good */
                      "S3,79,2021,1,KC1,,,1.200.000,,\n"                 /* 5 grouped: good */
                      "B4,79,20x1,1,KC1,,,1,,\n"                         /* 6 */
                      "G2,79,2021,1,KC1,,,1,,\n"                         /* 7 */
                      "B5,79,2021,,KC1,,,1,,\n"                          /* 8 */
                      "G3,79,2021,1,KC1,,,1,,\n"                         /* 9 */
                      "B6,79,2021,1,KC1,done,,1,,\n"                     /* 10 */
                      "G4,79,2021,1,KC1,,,1,,\n"                         /* 11 */
                      "B9,79,2021,1,KC1,,,+3,,\n"                        /* 12 */
                      "G5,79,2021,1,KC1,,,1,,\n"                         /* 13 */
                      "B10,79,2021,1,KC1,,,99999999999999999999,,\n"     /* 14 */
                      "B11,79,2021,1,KC1,,,1,2,,x\n"                     /* 15 a cell too many */
                      "G6,79,2021,2,KC1,,,1,,\"multi\nline\"\n"          /* 16-17 */
                      "B12,79,2021,1,KC1,,,1,0x10,\n"                    /* 18 */
                      "G7,79,2021,3,KC1,,,1,,ok\n";                      /* 19 */
    const char *path = s_writes("bad.csv", csv);
    s_got_t g = {0};
    s_read(path, &g);
    assert_int_equal(g.rc, 0);
    s_expect_script(&g, "2 event G1\n"
                        "3 event S1\n"
                        "4 event S2\n"
                        "5 event S3\n"
                        "6 C not_number\n"
                        "7 event G2\n"
                        "8 D empty_required\n"
                        "9 event G3\n"
                        "10 F unknown_kind\n"
                        "11 event G4\n"
                        "12 H not_number\n"
                        "13 event G5\n"
                        "14 H too_large\n"
                        "15 K extra_cell\n"
                        "16 event G6\n"
                        "18 I not_number\n"
                        "19 event G7\n");
    assert_string_equal(g.ev[1].note, "");
    assert_int_equal(g.ev[1].metrics[KCI_PERSONS], 2);
    assert_int_equal(g.ev[2].metrics[KCI_AMOUNT_VND], 12);
    assert_string_equal(g.ev[2].note, "padded");
    assert_int_equal(g.ev[3].metrics[KCI_AMOUNT_VND], 1200000);
    assert_string_equal(g.ev[8].note, "multi\nline");
    assert_int_equal(g.good, 10);
    assert_int_equal(g.bad_rows, 7);

    s_pb(&g, 6, "not_number", "bad.csv row 6, column C (year): '20x1' is not a number");
    assert_string_equal(g.pb[0].column, "year");
    s_pb(&g, 8, "empty_required", "row 8, column D (month): month is empty but required");
    /* no close word: the valid values */
    s_pb(&g, 10, "unknown_kind", "unknown kind 'done': valid values are ");
    s_pb(&g, 12, "not_number", "'+3' is not a number");
    /* beyond int64: no ceiling to name */
    const s_pb_t *p =
        s_pb(&g, 14, "too_large", "'99999999999999999999' is too large to be a figure");
    assert_string_equal(p->column, "amount_vnd");
    s_pb(&g, 15, "extra_cell", "row 15, column K: 'x' is in a column without a header");
    s_pb(&g, 18, "not_number", "column I (persons): '0x10' is not a number");
}

/* A file that cannot be read further (broken quoting, a quote never closed,
 * bytes that are not UTF-8, a NUL byte): the rows before it stand, the error
 * names the line, nothing after it is read. */
static void test_unreadable_rest(void **state)
{
    (void)state;
    static const struct {
        const char *tail; /* after a header and one good row */
        size_t len;
        const char *err;
    } cases[] = {
        {"B1,79,2021,1,KC1,1,\"bad\"quote\nG2,79,2021,1,KC1,1,\n", 0,
         "line 3, column 7 (G): broken quoting"},
        {"B1,79,2021,1,KC1,1,\"open\nG2,79,2021,1,KC1,1,\n", 0, "line 3, column 7 (G)"},
        {"B1,79,2021,1,KC1,1,\x93quoted\x94\nG2,79,2021,1,KC1,1,\n", 0,
         "line 3, column 7 (G): the file is not UTF-8 (byte 0x93)"},
        {"B1,7\0009,2021,1,KC1,1,\nG2,79,2021,1,KC1,1,\n", 37, "line 3, column 2 (B)"},
    };
    static const char head[] = "event_id,province,year,month,activity,amount_vnd,note\n"
                               "G1,79,2021,1,KC1,1,\"Hội chợ\"\n";
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[512];
        size_t tl = cases[i].len ? cases[i].len : strlen(cases[i].tail);
        memcpy(buf, head, sizeof head - 1);
        memcpy(buf + sizeof head - 1, cases[i].tail, tl);
        const char *path = s_write("stop.csv", buf, sizeof head - 1 + tl);
        s_got_t g = {0};
        s_read(path, &g);
        assert_int_equal(g.rc, KC_EFORMAT);
        s_expect_script(&g, "2 event G1\n");
        assert_string_equal(g.ev[0].note, "Hội chợ");
        if (!strstr(g.err, cases[i].err))
            fail_msg("case %zu: '%s' lacks '%s'", i, g.err, cases[i].err);
        assert_non_null(strstr(g.err, "stop.csv"));
    }
}

/* The corrects column and kinds correction / retraction, beyond what
 * import_test.c checks (a correction or record without or with corrects, a
 * retraction's figures, a year without a month). */
static void test_corrections_and_retractions(void **state)
{
    (void)state;
    const char *csv =
        "event_id,province,year,month,activity,kind,fund,amount_vnd,facilities,corrects\n"
        "E1,79,2021,3,KC3b,plan,kcqg,100,1,\n"        /* 2 record */
        "C1,79,2021,4,KC3b,Correction,kcqg,70,1,E1\n" /* 3 correction */
        "R1,79,,,,retraction,,,,C1\n"                 /* 4 retraction, no period */
        "R2,79,2021,4,machinery,RETRACTION,,,,C1\n"   /* 5 retraction with a period */
        "B2,79,,,,retraction,,,,\n"                   /* 6 retraction without corrects */
        "B4,79,,3,,retraction,,,,E1\n"                /* 7 month without year */
        "B6,79,,,KC3b,correction,,70,1,E1\n"          /* 8 correction without period */
        "B7,79,2021,3,,correction,,70,1,E1\n"         /* 9 correction without activity */
        "B8,,,,,retraction,,,,E1\n"                   /* 10 no province */
        "B9,79,2021,3,KC3b,undo,,70,1,E1\n";          /* 11 bad kind: nothing else */
    const char *path = s_writes("amend.csv", csv);
    s_got_t g = {0};
    s_read(path, &g);
    assert_int_equal(g.rc, 0);
    s_expect_script(&g, "2 event E1\n"
                        "3 event C1\n"
                        "4 event R1\n"
                        "5 event R2\n"
                        "6 J correction_without_corrects\n"
                        "7 C retraction_half_period\n"
                        "8 C empty_required\n"
                        "8 D empty_required\n"
                        "9 E empty_required\n"
                        "10 B empty_required\n"
                        "11 F unknown_kind\n");
    assert_int_equal(g.ev[0].op, KCI_OP_RECORD);
    assert_int_equal(g.ev[0].kind, KCI_KIND_PLAN);
    assert_string_equal(g.ev[0].corrects, "");
    assert_int_equal(g.ev[1].op, KCI_OP_CORRECTION);
    assert_int_equal(g.ev[1].kind, KCI_KIND_DEFAULT); /* the target's */
    assert_int_equal(g.ev[1].fund, KCI_FUND_KCQG);
    assert_string_equal(g.ev[1].corrects, "E1");
    assert_int_equal(g.ev[1].month, 4);
    assert_int_equal(g.ev[1].metrics[KCI_AMOUNT_VND], 70);
    assert_int_equal(g.ev[2].op, KCI_OP_RETRACTION);
    assert_string_equal(g.ev[2].corrects, "C1");
    assert_string_equal(g.ev[2].province, "79");
    assert_int_equal(g.ev[2].year, 0);
    assert_int_equal(g.ev[2].month, 0);
    assert_string_equal(g.ev[2].activity, "");
    assert_int_equal(g.ev[2].present, 0);
    assert_int_equal(g.ev[2].fund, KCI_FUND_DEFAULT);
    assert_int_equal(g.ev[3].op, KCI_OP_RETRACTION);
    assert_int_equal(g.ev[3].kind, KCI_KIND_DEFAULT);
    assert_int_equal(g.ev[3].year, 2021);
    assert_int_equal(g.ev[3].month, 4);
    assert_string_equal(g.ev[3].activity, "machinery");
    assert_int_equal(g.good, 4);
    assert_int_equal(g.bad_rows, 6);
    s_pb(&g, 6, "correction_without_corrects", "column J (corrects): a retraction needs corrects");
    s_pb(&g, 7, "retraction_half_period",
         "column C (year): a retraction gives both year and month");
    s_pb(&g, 10, "empty_required", "province is empty but required");
    s_pb(&g, 11, "unknown_kind", "unknown kind 'undo'");

    /* without a corrects column the problem is at the kind */
    path = s_writes("nocorr.csv", "event_id,province,year,month,activity,kind,amount_vnd\n"
                                  "C2,79,2021,4,KC3b,correction,70\n");
    g = (s_got_t){0};
    s_read(path, &g);
    s_expect_script(&g, "2 F correction_without_corrects\n");
    s_pb(&g, 2, "correction_without_corrects", "column F (kind): a correction needs corrects");
}

/* Rows each breaking one of the aggregator's rules for a row alone, and two
 * good rows at the bounds; returns the path. */
static const char *s_refused_file(void)
{
    char note[KC_NOTE_MAX + 2], id[KC_EVENT_ID_MAX + 2];
    memset(note, 'n', sizeof note - 1);
    note[sizeof note - 1] = '\0';
    memset(id, 'i', sizeof id - 1);
    id[sizeof id - 1] = '\0';
    static char csv[4096];
    snprintf(csv, sizeof csv,
             "event_id,province,year,month,activity,kind,amount_vnd,persons,persons_employed,"
             "facilities,note,corrects\n"
             "N2,79,2021,1,KC1,,1,-1,,,,\n"           /* 2 negative, not the first figure */
             "Y2,79,2101,1,KC1,,1,,,,,\n"             /* 3 years 2000-2100 */
             "P1,79,2021,1,KC1,,1,2,3,,,\n"           /* 4 employed > trained */
             "L1,79,2021,1,KC1,,1,,,,%s,\n"           /* 5 note too long */
             "%s,79,2021,1,KC1,,1,,,,,\n"             /* 6 event_id too long */
             "L3,79,2021,1,KC1,correction,1,,,,,%s\n" /* 7 corrects too long */
             "G1,79,2100,12,KC1,,0,2,2,,,\n"          /* 8 good: at the bounds */
             "G2,79,2000,1,KC1,,1,,,,%.*s,\n",        /* 9 good: note of KC_NOTE_MAX */
             note, id, id, KC_NOTE_MAX, note);
    return s_writes("refused.csv", csv);
}

/* The aggregator's rules for a row alone, checked by the import on a row that
 * passed its own (kc_event_check): one KC_IMPORT_REFUSED problem with the
 * aggregator's token at the column concerned, and no event. import_test.c
 * checks no_metrics, metric_not_allowed, a negative amount and a year before
 * 2000; here the rest, and the bounds that pass. */
static void test_refused(void **state)
{
    (void)state;
    const char *path = s_refused_file();
    s_got_t g = {0};
    s_read(path, &g);
    assert_int_equal(g.rc, 0);
    s_expect_script(&g, "2 H negative_value\n"
                        "3 C bad_year\n"
                        "4 I employed_exceeds_persons\n"
                        "5 K note_too_long\n"
                        "6 A event_id_too_long\n"
                        "7 L event_id_too_long\n"
                        "8 event G1\n"
                        "9 event G2\n");
    assert_int_equal(g.good, 2);
    assert_int_equal(g.bad_rows, 6);
    const s_pb_t *p = s_pb(&g, 2, "negative_value", "column H (persons): '-1' is negative");
    assert_string_equal(p->column, "persons");
    assert_string_equal(p->text, "-1");
    s_pb(&g, 3, "bad_year",
         "column C (year): '2101' is outside the years kcpipe accepts (2000-2100)");
    p = s_pb(&g, 4, "employed_exceeds_persons",
             "refused.csv row 4, column I (persons_employed): 3 people employed is more than the "
             "people trained (persons): check both figures");
    assert_string_equal(p->column, "persons_employed");
    s_pb(&g, 5, "note_too_long", "column K (note): the note is longer than 1024 bytes: shorten it");
    p = s_pb(&g, 6, "event_id_too_long", "column A (event_id): 'iiii");
    assert_non_null(strstr(p->message, "' is longer than 64 bytes: use a shorter id"));
    p = s_pb(&g, 7, "event_id_too_long", "column L (corrects): 'iiii");
    assert_string_equal(p->column, "corrects");
    assert_int_equal(g.ev[0].metrics[KCI_PERSONS_EMPLOYED], 2);
    assert_int_equal(strlen(g.ev[1].note) >= 199, 1);
}

/* test_refused's problems in Vietnamese: what follows the location is not
 * the English (import_test.c checks the first ones' Vietnamese words). */
static void test_refused_vi(void **state)
{
    (void)state;
    const char *path = s_refused_file();
    s_got_t g = {0};
    s_read(path, &g);
    assert_int_equal(kc_i18n_init("vi"), 0);
    s_got_t *vi = calloc(1, sizeof *vi);
    assert_non_null(vi);
    s_read(path, vi);
    kc_i18n_init("en");
    assert_int_equal(vi->npb, g.npb);
    s_pb(vi, 2, "negative_value", "dòng 2, cột H (persons): '-1'");
    s_pb(vi, 4, "employed_exceeds_persons", "dòng 4, cột I (persons_employed)");
    for (size_t i = 0; i < g.npb; i++) {
        const char *en = strstr(g.pb[i].message, ": ");
        assert_non_null(en);
        if (strstr(vi->pb[i].message, en))
            fail_msg("untranslated: %s", vi->pb[i].message);
    }
    free(vi);
}

/* ---- the header ----------------------------------------------------------- */

/* What import_test.c's header cases leave: an empty (0-byte) file, and header
 * names after a BOM, padded and in any case. */
static void test_headers(void **state)
{
    (void)state;
    const char *path = s_writes("empty.csv", "");
    s_got_t g = {0};
    s_read(path, &g);
    assert_int_equal(g.rc, 0);
    s_expect_script(&g, "0 - no_header\n");
    assert_string_equal(g.pb[0].message, "empty.csv: the file has no header row (it is empty)");

    path = s_writes("bom.csv", "\xef\xbb\xbf"
                               "Event_ID, province ,YEAR,Month,activity,Amount_VND\n"
                               "E,79,2021,1,KC1,5\n");
    g = (s_got_t){0};
    s_read(path, &g);
    assert_int_equal(g.rc, 0);
    s_expect_script(&g, "2 event E\n");
    assert_int_equal(g.ev[0].metrics[KCI_AMOUNT_VND], 5);

    /* a name that is nothing like a column: the list of valid ones */
    path = s_writes("colour.csv",
                    "event_id,province,year,month,activity,colour\nE,79,2021,1,KC1,red\n");
    g = (s_got_t){0};
    s_read(path, &g);
    s_expect_script(&g, "1 F unknown_column\n");
    s_pb(&g, 1, "unknown_column", "colour.csv row 1, column F (colour): unknown column 'colour'");
}

/* ---- the text rule -------------------------------------------------------- */

/* Ids and corrects hold no control character, the note none but tab and line
 * breaks (invalid_text with the byte offset); a control character in a code
 * or number column is that column's own problem; every message is printable
 * (s_read checks). Bytes that are not UTF-8 stop a CSV (test_unreadable_rest). */
static void test_text_rule(void **state)
{
    (void)state;
    const char *csv =
        "event_id,province,year,month,activity,kind,amount_vnd,note,corrects\n"
        "G1,79,2021,1,KC1,,1,\"Hội chợ\tđợt 2\r\nHà Nội\",\n" /* 2-3 good: tab, CRLF */
        "E\x01,79,2021,1,KC1,,1,,\n"                          /* 4 */
        "B4,7\x7f,2021,1,KC1,,1,,\n"                          /* 5 */
        "B6,79,2021,1,\"KC\n1\",,1,,\n"                       /* 6-7 line break */
        "B8,79,2021,1,KC1,correction,1,,E\xc2\x85\n"          /* 8 C1 control */
        "B10,79,2021,1,KC1,,1,bell\x07,\n"                    /* 9 */
        "B11,79,2021,1,KC1,act\x1b,1,,\n"                     /* 10 a word column */
        "B12,79,2021,1,KC1,,1\x7f,,\n"                        /* 11 a figure column */
        "G2,79,2021,1,KC1,,1,Quảng Trị,\n";                   /* 12 good */
    const char *path = s_writes("text.csv", csv);
    s_got_t g = {0};
    s_read(path, &g);
    assert_int_equal(g.rc, 0);
    s_expect_script(&g, "2 event G1\n"
                        "4 A invalid_text\n"
                        "5 B unknown_province\n"
                        "6 E unknown_activity\n"
                        "8 I invalid_text\n"
                        "9 H invalid_text\n"
                        "10 F unknown_kind\n"
                        "11 G not_number\n"
                        "12 event G2\n");
    assert_string_equal(g.ev[0].note, "Hội chợ\tđợt 2\r\nHà Nội");
    assert_string_equal(g.ev[1].note, "Quảng Trị");
    s_pb(&g, 4, "invalid_text",
         "row 4, column A (event_id): 'E\\x01' holds a control character (byte 1): remove the "
         "line break, tab or other invisible character");
    s_pb(&g, 5, "unknown_province", "unknown province '7\\x7F'");
    s_pb(&g, 6, "unknown_activity", "unknown activity 'KC\\x0A1'");
    s_pb(&g, 8, "invalid_text",
         "column I (corrects): 'E\\xC2\\x85' holds a control character (byte 1)");
    s_pb(&g, 9, "invalid_text", "column H (note): 'bell\\x07' holds a control character (byte 4)");
    s_pb(&g, 10, "unknown_kind", "'act\\x1B'");
    s_pb(&g, 11, "not_number", "'1\\x7F' is not a number");

    /* a long cell is shown cut, with "..." */
    char big[600];
    snprintf(big, sizeof big,
             "event_id,province,year,month,activity,amount_vnd,note\n"
             "N2,79,2021,1,KC1,1,%s\x01%s\n",
             "0123456789012345678901234567890123456789012345678901234567890123456789",
             "0123456789012345678901234567890123456789012345678901234567890123456789");
    path = s_writes("long.csv", big);
    g = (s_got_t){0};
    s_read(path, &g);
    s_expect_script(&g, "2 G invalid_text\n");
    s_pb(&g, 2, "invalid_text", "...' holds a control character (byte 70)");
    assert_non_null(strstr(g.pb[0].text, "6789\\x010123"));
}

/* ---- never staged --------------------------------------------------------- */

/* Every event the import hands over is one a real producer stages (its own
 * checks agree); the rows with problems give nothing to stage. */
static void test_never_staged(void **state)
{
    (void)state;
    const char *path = s_writes("stage.csv", "event_id,province,year,month,activity,amount_vnd\n"
                                             "G1,79,2021,1,KC1,1\n"
                                             "B1,79,2021,1,KC1,x\n"
                                             "B2,79,2021,1,KC1\n" /* short: no figure */
                                             "B3,79,2021,1,KC1,-1\n"
                                             "G2,79,2021,1,KC1,2\n");
    char spool[128];
    snprintf(spool, sizeof spool, "%s/spool", s_dir);
    kc_ingest_set_log("contract_test", KCI_LOG_ERROR, NULL, NULL);
    kc_producer_opts_t o = {
        .endpoint = "tcp://127.0.0.1:1", .producer_id = "contract", .spool_dir = spool};
    s_got_t g = {0};
    assert_int_equal(kc_producer_open(&g.p, &o), 0);
    s_read(path, &g);
    s_expect_script(&g, "2 event G1\n"
                        "3 F not_number\n"
                        "4 - no_metrics\n"
                        "5 F negative_value\n"
                        "6 event G2\n");
    assert_int_equal(kc_producer_pending(g.p), 2);
    kc_producer_close(&g.p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quoting_order_defaults),
        cmocka_unit_test(test_malformed_rows),
        cmocka_unit_test(test_unreadable_rest),
        cmocka_unit_test(test_corrections_and_retractions),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_refused_vi),
        cmocka_unit_test(test_headers),
        cmocka_unit_test(test_text_rule),
        cmocka_unit_test(test_never_staged),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
