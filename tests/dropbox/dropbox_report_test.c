/* dropbox_report_test.c - the drop folder's filing rule and its reports
 * (issue 15, item 6), with a live aggregator.
 *
 * One kc-aggregator (127.0.0.1 port 0, ready file) and kc-send --watch on a
 * temp inbox, with TZ set to a fixed UTC+7 zone (the reports' local time):
 *   1. an .xlsx written by libxlsxwriter (numbers as numbers) is sent and
 *      filed in done/, its rows counted (kc-query);
 *   2. a CSV with 2 good rows, one refused before spooling (unknown activity)
 *      and one the aggregator rejects (a correction of an unknown target)
 *      goes to done/ (not failed/); NAME.report.txt and NAME.report.csv
 *      list both bad rows with their hints (the import layer's message,
 *      kci_result_hint), the counts, the time with its +07:00 offset; the
 *      CSV is UTF-8 with a BOM, CRLF, a header row; only the good rows are
 *      counted (kc-query);
 *   3. a CSV with a bad header and an .xlsx that is garbage go to failed/,
 *      with the reason in their reports; nothing counted;
 *   4. kc-send --lang vi on a second inbox: the reports in Vietnamese (the
 *      catalogue's words for the report's title, the rejected row's hint,
 *      the import layer's message, the CSV's header row).
 * Every wait polls files within a deadline; processes are stopped by pid.
 */
#include "dropbox_util.h"
#include "gen_csv.h"
#include "harness.h"
#include "kc_ref.h"
#include "verify.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xlsxwriter.h>

/* Wait for DIR/SUB/NAME, then check both reports are beside it and the file
 * is not in the other folder nor left in the inbox. */
static void s_wait_filed(const char *inbox, const char *sub, const char *name, pid_t w)
{
    char p[KC_PATH_MAX];
    snprintf(p, sizeof p, "%s/%s/%s", inbox, sub, name);
    db_wait_file(p, w, DB_WAIT_MS); /* moved last, after its reports */
    snprintf(p, sizeof p, "%s/%s/%s.report.txt", inbox, sub, name);
    KC_CHECK(db_exists(p), "%s/%s.report.txt missing", sub, name);
    snprintf(p, sizeof p, "%s/%s/%s.report.csv", inbox, sub, name);
    KC_CHECK(db_exists(p), "%s/%s.report.csv missing", sub, name);
    snprintf(p, sizeof p, "%s/%s/%s", inbox, strcmp(sub, "done") ? "done" : "failed", name);
    KC_CHECK(!db_exists(p), "%s is (also) in the other folder", name);
    snprintf(p, sizeof p, "%s/%s", inbox, name);
    KC_CHECK(!db_exists(p), "%s still in the inbox", name);
}

static void s_has(const char *path, const char *needle)
{
    KC_CHECK(db_contains(path, needle), "%s lacks '%s'", path, needle);
}

/* The report CSV: BOM, then lines each ending in CRLF (no bare LF or CR). */
static void s_check_csv_form(const char *path, const char *header)
{
    char *s = db_slurp(path);
    KC_CHECK(s, "read %s", path);
    KC_CHECK(strncmp(s, "\xEF\xBB\xBF", 3) == 0, "%s: no UTF-8 byte order mark", path);
    size_t hn = strlen(header);
    KC_CHECK(strncmp(s + 3, header, hn) == 0 && strncmp(s + 3 + hn, "\r\n", 2) == 0,
             "%s: the first line is not '%s' + CRLF", path, header);
    size_t n = strlen(s);
    KC_CHECK(n >= 2 && s[n - 2] == '\r' && s[n - 1] == '\n', "%s: does not end in CRLF", path);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\n')
            KC_CHECK(i > 0 && s[i - 1] == '\r', "%s: a bare LF at byte %zu", path, i);
        if (s[i] == '\r')
            KC_CHECK(s[i + 1] == '\n', "%s: a bare CR at byte %zu", path, i);
    }
    free(s);
}

/* "time: YYYY-MM-DD HH:MM:SS +07:00" (label in the report's language). */
static void s_check_time(const char *path, const char *label)
{
    char *s = db_slurp(path);
    KC_CHECK(s, "read %s", path);
    const char *t = strstr(s, label);
    KC_CHECK(t, "%s: no '%s' line", path, label);
    t += strlen(label);
    int y, mo, d, h, mi, se;
    char tail[16] = "";
    KC_CHECK(sscanf(t, "%4d-%2d-%2d %2d:%2d:%2d %7s", &y, &mo, &d, &h, &mi, &se, tail) == 7 &&
                 y >= 2020 && mo >= 1 && mo <= 12 && strcmp(tail, "+07:00") == 0,
             "%s: the time '%.40s' is not local time with its offset (+07:00)", path, t);
    free(s);
}

static const char *XLSX_HDR[] = {"event_id", "province",   "year",      "month",
                                 "activity", "amount_vnd", "facilities"};

/* A workbook of rows (X-1...) of machinery in province 79, 2022-06: numbers as
 * numbers, province as text. Written outside the inbox, then renamed in. */
static void s_write_xlsx(const char *path, int rows, kc_gen_sums_t *expect)
{
    lxw_workbook *wb = workbook_new(path);
    KC_CHECK(wb, "workbook_new %s", path);
    lxw_worksheet *ws = workbook_add_worksheet(wb, "Hoạt động");
    KC_CHECK(ws, "add worksheet");
    for (int c = 0; c < 7; c++)
        worksheet_write_string(ws, 0, (lxw_col_t)c, XLSX_HDR[c], NULL);
    for (int r = 1; r <= rows; r++) {
        char id[32];
        snprintf(id, sizeof id, "X-%d", r);
        worksheet_write_string(ws, (lxw_row_t)r, 0, id, NULL);
        worksheet_write_string(ws, (lxw_row_t)r, 1, "79", NULL);
        worksheet_write_number(ws, (lxw_row_t)r, 2, 2022, NULL);
        worksheet_write_number(ws, (lxw_row_t)r, 3, 6, NULL);
        worksheet_write_string(ws, (lxw_row_t)r, 4, "machinery", NULL);
        worksheet_write_number(ws, (lxw_row_t)r, 5, 1000000.0 * r, NULL);
        worksheet_write_number(ws, (lxw_row_t)r, 6, r, NULL);
        expect->events++;
        expect->sums[KC_M_AMOUNT_VND] += 1000000LL * r;
        expect->sums[KC_M_FACILITIES] += r;
    }
    KC_CHECK(workbook_close(wb) == LXW_NO_ERROR, "workbook_close %s", path);
}

/* rows 2 and 4 good; row 3 an unknown activity (refused before spooling);
 * row 5 a correction of an unknown target (rejected by the aggregator) */
static void s_mixed_csv(char *buf, size_t cap, const char *p)
{
    snprintf(buf, cap,
             "event_id,province,year,month,activity,amount_vnd,facilities,kind,corrects\n"
             "%s-1,79,2022,7,machinery,1000,2,actual,\n"
             "%s-2,79,2022,7,machinary,500,1,actual,\n"
             "%s-3,79,2022,7,machinery,3000,5,actual,\n"
             "%s-4,79,2022,7,machinery,700,1,correction,NOPE\n",
             p, p, p, p);
}

static void s_add_mixed(kc_gen_sums_t *e)
{
    e->events += 2;
    e->sums[KC_M_AMOUNT_VND] += 4000;
    e->sums[KC_M_FACILITIES] += 7;
}

int main(void)
{
    kc_harness_init("dropbox_report_test");
    /* a fixed zone 7 hours east of UTC (POSIX form: no tzdata needed) */
    KC_CHECK(setenv("TZ", "<+07>-7", 1) == 0, "setenv TZ");
    char store[KC_PATH_MAX], inbox[KC_PATH_MAX], spool[KC_PATH_MAX], out[KC_PATH_MAX];
    char path[KC_PATH_MAX], p2[KC_PATH_MAX], csv[2048];
    kc_harness_path(store, "store");
    kc_harness_path(inbox, "inbox");
    kc_harness_path(spool, "spool");
    kc_harness_path(out, "watch.out");
    KC_CHECK(mkdir(inbox, 0755) == 0, "mkdir %s", inbox);

    kc_agg_t agg = {0};
    kc_harness_agg_start(&agg, store, "tcp://127.0.0.1:*", NULL);
    pid_t w = db_watch_start(agg.endpoint, spool, inbox, out);
    kc_gen_sums_t expect = {0};

    /* 1. an .xlsx written by libxlsxwriter -> done/, counted */
    s_write_xlsx(kc_harness_path(p2, "sheet.xlsx"), 3, &expect);
    KC_CHECK(rename(p2, kc_harness_path(path, "inbox/sheet.xlsx")) == 0, "rename: %s",
             strerror(errno));
    s_wait_filed(inbox, "done", "sheet.xlsx", w);
    kc_harness_path(p2, "inbox/done/sheet.xlsx.report.txt");
    s_has(p2, "rows: 3\n");
    s_has(p2, "accepted: 3\n");
    s_has(p2, "rejected: 0 ");
    s_has(p2, "refused: 0 ");
    s_has(p2, "outcome: done: every row was accepted");
    kc_verify_query(store, &expect);

    /* 2. 2 good rows, 1 refused, 1 rejected -> done/ with both reports */
    s_mixed_csv(csv, sizeof csv, "M");
    db_write(kc_harness_path(path, "inbox/mixed.csv"), csv);
    s_add_mixed(&expect);
    s_wait_filed(inbox, "done", "mixed.csv", w);
    kc_harness_path(p2, "inbox/done/mixed.csv.report.txt");
    s_has(p2, "kc-send drop-folder report\n");
    s_has(p2, "producer: office-drop\n");
    s_has(p2, "rows: 4\n");
    s_has(p2, "accepted: 2\n");
    s_has(p2, "duplicates: 0\n");
    s_has(p2, "rejected: 1 (by the centre)\n");
    s_has(p2, "refused: 1 (not sent");
    s_has(p2, "outcome: done: the rows read were sent");
    s_has(p2, "not sent: mixed.csv row 3, column E (activity): unknown activity 'machinary': "
              "did you mean machinery");
    s_has(p2, "rejected by the centre: mixed.csv row 5, event_id M-4: unknown_target: ");
    s_has(p2, "    hint: corrects must be the event_id of a row of this province the centre "
              "has accepted");
    s_check_time(p2, "time: ");
    kc_harness_path(p2, "inbox/done/mixed.csv.report.csv");
    s_check_csv_form(p2, "row,event_id,reason,message,hint");
    s_has(p2, "\r\n3,M-2,unknown_activity,column E (activity): 'machinary',\"mixed.csv row 3, "
              "column E (activity): unknown activity 'machinary': did you mean machinery");
    s_has(p2, "\r\n5,M-4,unknown_target,corrects 'NOPE' names no event of province 79,"
              "corrects must be the event_id of a row of this province the centre has accepted");
    KC_CHECK(!db_contains(p2, "\r\n2,") && !db_contains(p2, "\r\n4,"), "%s lists a good row", p2);
    kc_verify_query(store, &expect);

    /* 3. nothing readable -> failed/: a bad header, an .xlsx that is garbage */
    db_write(kc_harness_path(path, "inbox/header.csv"), "tinh;nam;so tien\n79;2022;1000\n");
    s_wait_filed(inbox, "failed", "header.csv", w);
    kc_harness_path(p2, "inbox/failed/header.csv.report.txt");
    s_has(p2, "outcome: failed: nothing could be read");
    s_has(p2, "rows: 0\n");
    s_has(p2, "[missing_column]");
    s_has(kc_harness_path(p2, "inbox/failed/header.csv.report.csv"), ",missing_column,");
    db_write(kc_harness_path(path, "inbox/junk.xlsx"), "PK\x03\x04 this is no workbook at all");
    s_wait_filed(inbox, "failed", "junk.xlsx", w);
    kc_harness_path(p2, "inbox/failed/junk.xlsx.report.txt");
    s_has(p2, "outcome: failed: nothing could be read");
    s_has(p2, "the file is not a spreadsheet kc-send can read");
    s_has(p2, "[unreadable]");
    s_has(kc_harness_path(p2, "inbox/failed/junk.xlsx.report.csv"), "\r\n0,,unreadable,");
    kc_verify_query(store, &expect);
    db_watch_term(w);
    s_has(out, "file mixed.csv: done/mixed.csv rows=4 accepted=2 duplicates=0 rejected=1 "
               "malformed=1\n");

    /* 4. the clerk's language: --lang vi */
    char inbox_vi[KC_PATH_MAX], out_vi[KC_PATH_MAX];
    kc_harness_path(inbox_vi, "inbox-vi");
    kc_harness_path(out_vi, "watch-vi.out");
    KC_CHECK(mkdir(inbox_vi, 0755) == 0, "mkdir %s", inbox_vi);
    w = db_watch_start_lang(agg.endpoint, spool, inbox_vi, out_vi, "vi");
    s_mixed_csv(csv, sizeof csv, "V");
    db_write(kc_harness_path(path, "inbox-vi/tháng-7.csv"), csv);
    s_add_mixed(&expect);
    s_wait_filed(inbox_vi, "done", "tháng-7.csv", w);
    kc_harness_path(p2, "inbox-vi/done/tháng-7.csv.report.txt");
    /* po/vi.po's words */
    s_has(p2, "Báo cáo thư mục nhận tệp của kc-send\n");
    s_has(p2, "không có hoạt động 'machinary': có phải ý bạn là machinery");
    s_has(p2, "    gợi ý: corrects phải là event_id của một dòng của tỉnh này đã được trung tâm "
              "chấp nhận");
    s_has(p2, "bị trung tâm từ chối: tháng-7.csv dòng 5, event_id V-4: unknown_target: ");
    KC_CHECK(!db_contains(p2, "rejected by the centre") && !db_contains(p2, "outcome:"),
             "%s: English left in the Vietnamese report", p2);
    s_check_time(p2, "thời điểm: ");
    kc_harness_path(p2, "inbox-vi/done/tháng-7.csv.report.csv");
    s_check_csv_form(p2, "dòng,mã sự kiện,lý do,nội dung,gợi ý");
    s_has(p2, ",unknown_activity,cột E (activity): 'machinary',");
    kc_verify_query(store, &expect);
    db_watch_term(w);

    kc_harness_agg_term(&agg);
    kc_verify_store(store, &expect);
    kc_harness_pass();
    printf("dropbox_report_test: ok\n");
    return 0;
}
