/* kc_office_pages.c - kc-office's form entry, submissions and retract pages
 * (issue 17 steps 3-5; kc_office_web.h).
 *
 * DESIGN
 * No script (the CSP forbids it): plain forms and links.
 *   GET  /entry              one activity at a time, in two steps without
 *                            script: first the activity (a GET form), then
 *                            /entry?activity=KC3b shows only the metrics that
 *                            activity allows (kc_ref), with province (of the
 *                            session's office only), period, kind, fund, note
 *                            and an event_id generated and shown
 *                            (PROVINCE-YYYYMM-ACTIVITY-8 random hex digits).
 *                            /entry?correct=SUB-ROW prefills it from an
 *                            accepted row (a correction of that version).
 *   POST /entry              checked here before anything is spooled: the
 *                            province is the office's (else 403), every
 *                            metric posted is one the activity allows, the
 *                            numbers as clerks type them ("1.200.000.000",
 *                            "1200000000"; an ambiguous "1.200" or a negative
 *                            one refused), period, kind, fund, note, event_id;
 *                            then libkcingest's kci_event_check (the rules
 *                            the aggregator applies to an event alone, the
 *                            import layer's own), then
 *                            kc_osend_submit and 303 to /submissions/ID. A
 *                            correction is re-checked: the target must still
 *                            be this office's latest accepted version.
 *                            Errors re-show the form, values kept, each
 *                            message beside its field.
 *   GET  /submissions        the office's submissions, newest first, with
 *                            their rows' counts per state
 *   GET  /submissions/ID     every row: state, values, a rejection's reason,
 *                            the centre's text and kci_result_hint's hint in
 *                            the viewer's language; "correct" and "retract"
 *                            on a latest accepted version; superseded and
 *                            retracted versions say by what. A page with a
 *                            row not final refreshes itself every 5 s (meta
 *                            refresh, spliced into the head).
 *   GET  /retract/SUB-ROW    a confirmation naming the row
 *   POST /retract/SUB-ROW    an OP_RETRACTION of it (same checks), 303 to
 *                            the new submission.
 * Another office's submission or row answers 404, as an unknown one does.
 * Texts: s_tx ({vi, en}); activity names from kc_ref (label_vi / label_en).
 */
#include "kc_office_send.h"
#include "kc_office_web.h"

#include "kc_err.h"
#include "kc_event.h"
#include "kc_i18n.h"
#include "kc_log.h"
#include "kc_ref.h"
#include "kc_text.h"
#include "kcimport.h"
#include "kcingest.h"

#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

_Static_assert((int)KCI_METRIC_COUNT == (int)KC_METRIC_COUNT, "kcingest.h metrics follow kc_ref.h");

/* ---- texts ---- */

enum {
    T_ENTRY,
    T_CORRECT_TITLE,
    T_ACTIVITY,
    T_CHOOSE_ACTIVITY,
    T_NEXT,
    T_CHANGE_ACTIVITY,
    T_PROVINCE,
    T_YEAR,
    T_MONTH,
    T_KIND,
    T_ACTUAL,
    T_PLAN,
    T_FUND,
    T_KCQG,
    T_KCDP,
    T_OTHER,
    T_NOTE,
    T_EVENT_ID,
    T_EVENT_ID_HELP,
    T_METRICS,
    T_METRICS_HELP,
    T_SEND,
    T_CORRECTING,
    T_ERR_FORM,
    T_ERR_ACTIVITY,
    T_ERR_PROVINCE,
    T_ERR_YEAR,
    T_ERR_MONTH,
    T_ERR_KIND,
    T_ERR_FUND,
    T_ERR_NOTE,
    T_ERR_EVENT_ID,
    T_ERR_NOT_ALLOWED,
    T_ERR_NO_METRIC,
    T_ERR_NEGATIVE,
    T_ERR_AMBIGUOUS,
    T_ERR_FRACTION,
    T_ERR_NUMBER,
    T_ERR_TOO_LARGE,
    T_ERR_EMPLOYED,
    T_ERR_RULE,
    T_ERR_NOT_LATEST,
    T_ERR_TARGET,
    T_ERR_SPOOL,
    T_SUBS,
    T_SUB,
    T_NONE_YET,
    T_WHEN,
    T_WHO,
    T_WHAT,
    T_FILE,
    T_ROWS,
    T_ST_SPOOLED,
    T_ST_SENT,
    T_ST_ACCEPTED,
    T_ST_DUPLICATE,
    T_ST_REJECTED,
    T_W_UPLOAD,
    T_W_FORM,
    T_W_CORRECTION,
    T_W_RETRACTION,
    T_ROW,
    T_SHEET_ROW,
    T_STATE,
    T_VALUES,
    T_RESULT,
    T_ACTIONS,
    T_DO_CORRECT,
    T_DO_RETRACT,
    T_SUPERSEDED_BY,
    T_RETRACTED_BY,
    T_CORRECTS,
    T_RETRACTS,
    T_HINT,
    T_REFRESHING,
    T_BACK_SUBS,
    T_RETRACT_TITLE,
    T_RETRACT_CONFIRM,
    T_RETRACT_DO,
    T_CANCEL,
    T_PERIOD,
    T_COUNT
};

static const char *const s_tx[T_COUNT][2] = {
    /* {vi, en} */
    [T_ENTRY] = {"Nhập một hoạt động", "Enter an activity"},
    [T_CORRECT_TITLE] = {"Sửa một dòng đã được chấp nhận", "Correct an accepted row"},
    [T_ACTIVITY] = {"Hoạt động", "Activity"},
    [T_CHOOSE_ACTIVITY] = {"Chọn hoạt động cần báo cáo, rồi bấm Tiếp tục để nhập các chỉ tiêu "
                           "của hoạt động đó.",
                           "Choose the activity to report, then press Next to enter its "
                           "figures."},
    [T_NEXT] = {"Tiếp tục", "Next"},
    [T_CHANGE_ACTIVITY] = {"Chọn hoạt động khác", "Choose another activity"},
    [T_PROVINCE] = {"Tỉnh, thành phố", "Province"},
    [T_YEAR] = {"Năm", "Year"},
    [T_MONTH] = {"Tháng", "Month"},
    [T_KIND] = {"Loại số liệu", "Kind"},
    [T_ACTUAL] = {"Thực hiện", "Actual"},
    [T_PLAN] = {"Kế hoạch", "Plan"},
    [T_FUND] = {"Nguồn kinh phí", "Fund"},
    [T_KCQG] = {"Khuyến công quốc gia (KCQG)", "National (KCQG)"},
    [T_KCDP] = {"Khuyến công địa phương (KCĐP)", "Local (KCĐP)"},
    [T_OTHER] = {"Nguồn khác", "Other"},
    [T_NOTE] = {"Ghi chú", "Note"},
    [T_EVENT_ID] = {"Mã sự kiện", "Event id"},
    [T_EVENT_ID_HELP] = {"Mã do hệ thống tạo sẵn; có thể thay bằng mã của đơn vị (chữ, số, "
                         ". _ - : /). Để trống: hệ thống tự tạo.",
                         "Generated for you; you may type your office's own id instead "
                         "(letters, digits, . _ - : /). Empty: one is generated."},
    [T_METRICS] = {"Các chỉ tiêu", "Figures"},
    [T_METRICS_HELP] = {"Chỉ các chỉ tiêu của hoạt động này. Số nhập như 1.200.000.000 hoặc "
                        "1200000000; để trống chỉ tiêu không báo cáo.",
                        "Only this activity's figures. Type numbers as 1,200,000,000 or "
                        "1200000000; leave a figure empty if not reported."},
    [T_SEND] = {"Gửi", "Send"},
    [T_CORRECTING] = {"Bạn đang sửa dòng có mã %s. Khi gửi, các số liệu dưới đây sẽ thay thế "
                      "toàn bộ số liệu của dòng đó.",
                      "You are correcting the row with id %s. When sent, the figures below "
                      "replace all of that row's figures."},
    [T_ERR_FORM] = {"Biểu mẫu còn lỗi; chưa có gì được gửi. Hãy sửa các ô được đánh dấu rồi "
                    "gửi lại.",
                    "The form has errors; nothing was sent. Fix the marked fields and send "
                    "again."},
    [T_ERR_ACTIVITY] = {"Hãy chọn một hoạt động trong danh sách.",
                        "Choose an activity from the list."},
    [T_ERR_PROVINCE] = {"Tỉnh, thành phố này không thuộc đơn vị của bạn; không có gì được gửi.",
                        "This province is not one of your office's; nothing was sent."},
    [T_ERR_YEAR] = {"Năm phải từ 2000 đến 2100.", "The year must be 2000 to 2100."},
    [T_ERR_MONTH] = {"Tháng phải từ 1 đến 12.", "The month must be 1 to 12."},
    [T_ERR_KIND] = {"Hãy chọn Thực hiện hoặc Kế hoạch.", "Choose Actual or Plan."},
    [T_ERR_FUND] = {"Hãy chọn một nguồn kinh phí trong danh sách.", "Choose a fund from the list."},
    [T_ERR_NOTE] = {"Ghi chú dài quá 1024 byte hoặc chứa ký tự điều khiển; hãy rút gọn.",
                    "The note is longer than 1024 bytes or holds a control character; shorten "
                    "it."},
    [T_ERR_EVENT_ID] = {"Mã sự kiện tối đa 64 ký tự, chỉ gồm chữ, số và . _ - : /; hoặc để "
                        "trống để hệ thống tự tạo.",
                        "An event id has at most 64 characters, letters, digits and . _ - : / "
                        "only; or leave it empty to have one generated."},
    [T_ERR_NOT_ALLOWED] = {"Chỉ tiêu '%s' không thuộc hoạt động %s; không có gì được gửi. Hãy "
                           "bỏ chỉ tiêu này hoặc chọn đúng hoạt động.",
                           "The figure '%s' is not one activity %s reports; nothing was sent. "
                           "Remove it or choose the right activity."},
    [T_ERR_NO_METRIC] = {"Hãy nhập ít nhất một chỉ tiêu.", "Enter at least one figure."},
    [T_ERR_NEGATIVE] = {"Số không được âm.", "The number must not be negative."},
    [T_ERR_AMBIGUOUS] = {"'%s' có thể hiểu là %s hoặc %s; hãy viết đủ (ví dụ %s) để không "
                         "nhầm.",
                         "'%s' could mean %s or %s; write it in full (e.g. %s) so that it "
                         "cannot be misread."},
    [T_ERR_FRACTION] = {"Phải là số nguyên (phần thập phân khác 0).",
                        "It must be a whole number (the decimal part is not zero)."},
    [T_ERR_NUMBER] = {"Không phải là số; hãy nhập như 1.200.000.000 hoặc 1200000000.",
                      "Not a number; type it as 1,200,000,000 or 1200000000."},
    [T_ERR_TOO_LARGE] = {"Số quá lớn (tối đa %s); có thể thừa chữ số 0?",
                         "Too large (at most %s); a zero too many?"},
    [T_ERR_EMPLOYED] = {"Số người có việc làm sau đào tạo không thể lớn hơn số người được đào "
                        "tạo.",
                        "Persons employed after training cannot exceed the persons trained."},
    [T_ERR_RULE] = {"Trung tâm sẽ từ chối dòng này (%s): %s",
                    "The centre would refuse this (%s): %s"},
    [T_ERR_NOT_LATEST] = {"Dòng này đã được sửa hoặc rút lại kể từ khi bạn mở nó (hoặc chưa "
                          "được chấp nhận); hãy mở lại trang các lần gửi và dùng phiên bản mới "
                          "nhất.",
                          "This row was corrected or retracted since you opened it (or is not "
                          "accepted); open the submissions page again and use the latest "
                          "version."},
    [T_ERR_TARGET] = {"Không có dòng này.", "There is no such row."},
    [T_ERR_SPOOL] = {"Chưa lưu được (lỗi lưu trữ của cổng); không có gì được gửi. Hãy thử lại "
                     "sau hoặc báo người quản trị.",
                     "It could not be stored (the portal's storage failed); nothing was sent. "
                     "Try again later or tell the administrator."},
    [T_SUBS] = {"Các lần gửi", "Submissions"},
    [T_SUB] = {"Lần gửi số %llu", "Submission %llu"},
    [T_NONE_YET] = {"Đơn vị chưa gửi lần nào.", "Your office has sent nothing yet."},
    [T_WHEN] = {"Thời điểm (UTC)", "When (UTC)"},
    [T_WHO] = {"Người gửi", "Who"},
    [T_WHAT] = {"Nội dung", "What"},
    [T_FILE] = {"Tệp", "File"},
    [T_ROWS] = {"Số dòng", "Rows"},
    [T_ST_SPOOLED] = {"Đã lưu, chờ gửi", "Spooled"},
    [T_ST_SENT] = {"Đã gửi, chờ xác nhận", "Sent"},
    [T_ST_ACCEPTED] = {"Đã được chấp nhận", "Accepted"},
    [T_ST_DUPLICATE] = {"Trùng (đã tính trước đó)", "Duplicate"},
    [T_ST_REJECTED] = {"Bị từ chối", "Rejected"},
    [T_W_UPLOAD] = {"Tải tệp lên", "Upload"},
    [T_W_FORM] = {"Nhập trên biểu mẫu", "Form"},
    [T_W_CORRECTION] = {"Sửa", "Correction"},
    [T_W_RETRACTION] = {"Rút lại", "Retraction"},
    [T_ROW] = {"Dòng", "Row"},
    [T_SHEET_ROW] = {"dòng %ld của tệp", "file row %ld"},
    [T_STATE] = {"Trạng thái", "State"},
    [T_VALUES] = {"Số liệu", "Values"},
    [T_RESULT] = {"Kết quả", "Result"},
    [T_ACTIONS] = {"Thao tác", "Actions"},
    [T_DO_CORRECT] = {"Sửa", "Correct"},
    [T_DO_RETRACT] = {"Rút lại", "Retract"},
    [T_SUPERSEDED_BY] = {"Đã được sửa bởi", "Superseded by"},
    [T_RETRACTED_BY] = {"Đã rút lại bởi", "Retracted by"},
    [T_CORRECTS] = {"sửa dòng", "corrects"},
    [T_RETRACTS] = {"rút lại dòng", "retracts"},
    [T_HINT] = {"Cách xử lý", "What to do"},
    [T_REFRESHING] = {"Trang tự cập nhật mỗi 5 giây cho đến khi mọi dòng có kết quả.",
                      "This page refreshes itself every 5 seconds until every row has its "
                      "result."},
    [T_BACK_SUBS] = {"Về danh sách các lần gửi", "Back to the submissions"},
    [T_RETRACT_TITLE] = {"Rút lại một dòng", "Retract a row"},
    [T_RETRACT_CONFIRM] = {"Rút lại dòng này? Trung tâm sẽ không tính số liệu của nó nữa. Việc "
                           "rút lại được ghi lại với tên của bạn.",
                           "Retract this row? The centre will no longer count its figures. "
                           "The retraction is recorded under your name."},
    [T_RETRACT_DO] = {"Rút lại dòng này", "Retract this row"},
    [T_CANCEL] = {"Huỷ", "Cancel"},
    [T_PERIOD] = {"Kỳ", "Period"},
};

static const char *s_t(const kc_octx_t *x, int id)
{
    return s_tx[id][x->lang];
}

/* ---- small helpers ---- */

static const char *const s_state_name[] = {"",         "spooled",   "sent",
                                           "accepted", "duplicate", "rejected"};
static const int s_state_text[] = {
    0, T_ST_SPOOLED, T_ST_SENT, T_ST_ACCEPTED, T_ST_DUPLICATE, T_ST_REJECTED};

static const char *s_metric_label(const kc_octx_t *x, int m)
{
    const kc_metric_info_t *mi = kc_ref_metric(m);
    return mi ? (x->lang ? mi->label_en : mi->label_vi) : "?";
}

static const char *s_activity_label(const kc_octx_t *x, const kc_activity_t *a)
{
    return x->lang ? a->label_en : a->label_vi;
}

static int32_t s_now_period(void)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    return (int32_t)((tm.tm_year + 1900) * 100 + tm.tm_mon + 1);
}

static const char *s_province_name(int code, int32_t period)
{
    const kc_province_t *p = kc_ref_province_for(code, period);
    if (!p)
        p = kc_ref_province(63, code);
    return p ? p->name : "?";
}

/* v with the language's grouping ("1.200.000" vi, "1,200,000" en). */
static void s_fmt_num(const kc_octx_t *x, int64_t v, char *out, size_t cap)
{
    char d[32];
    snprintf(d, sizeof d, "%" PRId64, v);
    const char *p = d;
    size_t o = 0;
    if (*p == '-' && o + 1 < cap)
        out[o++] = *p++;
    size_t n = strlen(p);
    for (size_t i = 0; i < n && o + 2 < cap; i++) {
        if (i && (n - i) % 3 == 0)
            out[o++] = x->lang ? ',' : '.';
        out[o++] = p[i];
    }
    out[o] = '\0';
}

/* A page's body to its end and the answer; refresh: splice a meta refresh
 * into the head. */
static enum MHD_Result s_finish(kc_ohttp_t *h, struct MHD_Connection *c, const kc_octx_t *x,
                                unsigned status, FILE *f, char **bodyp, size_t *lenp, bool refresh)
{
    kc_opage_end(f);
    if (fclose(f) != 0) {
        free(*bodyp);
        return MHD_NO;
    }
    char *body = *bodyp; /* open_memstream set them at fclose */
    size_t blen = *lenp;
    if (refresh) {
        static const char meta[] = "<meta http-equiv=\"refresh\" content=\"5\">\n";
        char *at = strstr(body, "</head>");
        if (at) {
            size_t off = (size_t)(at - body);
            char *nb = malloc(blen + sizeof meta);
            if (!nb) {
                free(body);
                return MHD_NO;
            }
            memcpy(nb, body, off);
            memcpy(nb + off, meta, sizeof meta - 1);
            memcpy(nb + off + sizeof meta - 1, body + off, blen - off + 1);
            free(body);
            body = nb;
            blen += sizeof meta - 1;
        }
    }
    return kc_orespond(h, c, x, status, body, blen, NULL, NULL, 0, 0);
}

/* "SUB-ROW" -> sub, row. */
static bool s_parse_ref(const char *s, uint64_t *sub, uint32_t *row)
{
    if (!s || *s < '0' || *s > '9')
        return false;
    char *end;
    unsigned long long a = strtoull(s, &end, 10);
    if (*end != '-' || end[1] < '0' || end[1] > '9')
        return false;
    unsigned long long b = strtoull(end + 1, &end, 10);
    if (*end || a == 0 || a > UINT64_MAX / 2 || b > UINT32_MAX)
        return false;
    *sub = a;
    *row = (uint32_t)b;
    return true;
}

/* The row sub-row if it belongs to office. 0, KC_ENOTFOUND. */
static int s_office_row(kc_ohttp_t *h, const char *office, uint64_t sub, uint32_t row,
                        kc_odb_row_t *out)
{
    kc_odb_sub_t sb;
    if (kc_odb_sub_get(h->o.db, sub, &sb) != 0 || strcmp(sb.office, office) != 0)
        return KC_ENOTFOUND;
    return kc_odb_row_get(h->o.db, sub, row, out) == 0 ? 0 : KC_ENOTFOUND;
}

/* The latest version of a figure: accepted, not superseded, not retracted,
 * and not itself a retraction. */
static bool s_row_latest(const kc_odb_row_t *r)
{
    return r->state == KC_ROW_ACCEPTED && !r->superseded_by[0] && !r->retracted &&
           r->op != KCI_OP_RETRACTION;
}

/* A fresh event_id: PROVINCE-YYYYMM-TAG-8 hex digits (32 random bits). */
static void s_gen_id(char out[65], int province, int year, int month, const char *tag)
{
    unsigned char b[4];
    randombytes_buf(b, sizeof b);
    snprintf(out, 65, "%02d-%04d%02d-%.24s-%02x%02x%02x%02x", province, year, month, tag, b[0],
             b[1], b[2], b[3]);
}

static bool s_event_id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 64)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              strchr("._-:/", *s)))
            return false;
    return true;
}

/* ---- numbers as clerks type them ---- */

enum { N_OK, N_EMPTY, N_BAD, N_NEGATIVE, N_AMBIGUOUS, N_FRACTION, N_OVERFLOW };

/* The rules of the import layer (ingest/kc_value.h, "NUMBERS"), for one form
 * field: digits with one kind of grouping separator ('.', ',' or a space;
 * groups of three after a first of 1-3 digits), at most one decimal separator
 * with an all-zero fraction; a single '.' or ',' followed by exactly three
 * digits after 1-3 digits (no leading zero) is ambiguous and never guessed. */
static int s_parse_num(const char *in, int64_t *out)
{
    char s[128];
    size_t n = 0;
    const char *p = in;
    while (*p == ' ' || *p == '\t')
        p++;
    bool neg = false;
    if (*p == '-') {
        neg = true;
        p++;
    }
    /* copy, turning NBSP / U+202F into a space */
    for (; *p && n + 1 < sizeof s; p++) {
        if ((unsigned char)p[0] == 0xc2 && (unsigned char)p[1] == 0xa0) {
            s[n++] = ' ';
            p++;
        } else if ((unsigned char)p[0] == 0xe2 && (unsigned char)p[1] == 0x80 &&
                   (unsigned char)p[2] == 0xaf) {
            s[n++] = ' ';
            p += 2;
        } else {
            s[n++] = *p;
        }
    }
    if (*p)
        return N_BAD;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    s[n] = '\0';
    if (!n)
        return neg ? N_BAD : N_EMPTY;
    if (s[0] < '0' || s[0] > '9')
        return N_BAD;
    size_t dots = 0, commas = 0, spaces = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '.')
            dots++;
        else if (s[i] == ',')
            commas++;
        else if (s[i] == ' ')
            spaces++;
        else if (s[i] < '0' || s[i] > '9')
            return N_BAD;
    }
    char group = 0, dec = 0;
    if (dots && commas) {
        char last = 0;
        for (size_t i = 0; i < n; i++)
            if (s[i] == '.' || s[i] == ',')
                last = s[i];
        dec = last;
        group = last == '.' ? ',' : '.';
        if ((dec == '.' ? dots : commas) != 1 || spaces)
            return N_BAD;
    } else if (dots || commas) {
        char c = dots ? '.' : ',';
        size_t k = dots ? dots : commas;
        if (k >= 2) {
            group = c;
        } else if (spaces) {
            group = ' ';
            dec = c;
        } else {
            const char *at = strchr(s, c);
            size_t before = (size_t)(at - s), after = strlen(at + 1);
            if (after == 3 && before >= 1 && before <= 3 && s[0] != '0')
                return N_AMBIGUOUS;
            dec = c;
        }
    } else if (spaces) {
        group = ' ';
    }
    /* integer part up to dec */
    const char *decp = dec ? strchr(s, dec) : NULL;
    size_t ilen = decp ? (size_t)(decp - s) : n;
    if (decp && (group ? (size_t)(strrchr(s, group) ? strrchr(s, group) - s : 0) > ilen : false))
        return N_BAD; /* a grouping separator after the decimal one */
    int64_t v = 0;
    size_t run = 0, groups = 0;
    for (size_t i = 0; i < ilen; i++) {
        char ch = s[i];
        if (ch >= '0' && ch <= '9') {
            if (v > (INT64_MAX - (ch - '0')) / 10)
                return N_OVERFLOW;
            v = v * 10 + (ch - '0');
            run++;
            continue;
        }
        if (ch != group)
            return N_BAD;
        if (groups == 0 ? (run < 1 || run > 3) : run != 3)
            return N_BAD;
        groups++;
        run = 0;
    }
    if (groups && run != 3)
        return N_BAD;
    if (!groups && !run)
        return N_BAD;
    if (decp) {
        const char *fr = decp + 1;
        if (!*fr)
            return N_BAD;
        for (; *fr; fr++) {
            if (*fr < '0' || *fr > '9')
                return N_BAD;
            if (*fr != '0')
                return N_FRACTION;
        }
    }
    if (neg)
        return v == 0 ? N_OK : N_NEGATIVE;
    *out = v;
    return N_OK;
}

/* ---- the entry form ---- */

enum { F_ACTIVITY, F_PROVINCE, F_YEAR, F_MONTH, F_KIND, F_FUND, F_NOTE, F_EVENT_ID, F_N };

typedef struct {
    const kc_activity_t *act;
    char province[16], year[16], month[16], kind[16], fund[16];
    char note[KC_NOTE_MAX + 1];
    char event_id[65], event_id_auto[65];
    char metric[KC_METRIC_COUNT][64];
    char correct[48]; /* "SUB-ROW" of the row corrected, "" for a new record */
    const kc_odb_row_t *target;
    /* messages */
    char err[F_N][300];
    char merr[KC_METRIC_COUNT][300];
    char general[600];
} s_form_t;

static void s_copy(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

static void s_err_html(FILE *f, const char *id, const char *msg)
{
    if (!msg || !msg[0])
        return;
    fprintf(f, "<p class=\"field-error\" id=\"err-%s\" role=\"alert\">", id);
    kc_oesc(f, msg);
    fputs("</p>\n", f);
}

static void s_option(FILE *f, const char *value, const char *label, const char *cur)
{
    fputs("<option value=\"", f);
    kc_oesc(f, value);
    fputs(cur && strcmp(cur, value) == 0 ? "\" selected>" : "\">", f);
    kc_oesc(f, label);
    fputs("</option>\n", f);
}

static void s_activity_select(FILE *f, const kc_octx_t *x, const char *cur)
{
    fprintf(f, "<select id=\"activity\" name=\"activity\" required>\n");
    for (size_t i = 0; i < kc_ref_activity_count(); i++) {
        const kc_activity_t *a = kc_ref_activity_at(i);
        char label[300];
        snprintf(label, sizeof label, "%s — %s", a->code, s_activity_label(x, a));
        s_option(f, a->code, label, cur);
    }
    fputs("</select>\n", f);
}

static void s_province_select(FILE *f, const kc_office_t *of, const char *cur, bool fixed)
{
    int32_t period = s_now_period();
    fprintf(f, "<select id=\"province\" name=\"province\" required>\n");
    for (size_t i = 0; i < of->n_provinces; i++) {
        char code[8], label[160];
        snprintf(code, sizeof code, "%02d", of->provinces[i]);
        if (fixed && cur && strcmp(cur, code) != 0)
            continue;
        snprintf(label, sizeof label, "%s — %s", code, s_province_name(of->provinces[i], period));
        s_option(f, code, label, cur);
    }
    fputs("</select>\n", f);
}

static void s_month_select(FILE *f, const char *cur)
{
    fputs("<select id=\"month\" name=\"month\" required>\n", f);
    for (int m = 1; m <= 12; m++) {
        char v[4];
        snprintf(v, sizeof v, "%d", m);
        s_option(f, v, v, cur);
    }
    fputs("</select>\n", f);
}

/* The form page: step 1 (no activity: choose one) or step 2 (its fields). */
static enum MHD_Result s_entry_page(kc_ohttp_t *h, struct MHD_Connection *c, const kc_octx_t *x,
                                    const kc_odb_session_t *s, const kc_office_t *of,
                                    unsigned status, s_form_t *fm)
{
    char *body = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&body, &len);
    if (!f)
        return MHD_NO;
    const char *title = s_t(x, fm->correct[0] ? T_CORRECT_TITLE : T_ENTRY);
    kc_opage_top(f, h, x, title, s);
    fputs("<section class=\"card\" aria-labelledby=\"entry-title\">\n<h2 id=\"entry-title\">", f);
    kc_oesc(f, title);
    fputs("</h2>\n", f);
    if (fm->general[0]) {
        fputs("<p class=\"alert\" id=\"form-error\" role=\"alert\">", f);
        kc_oesc(f, fm->general);
        fputs("</p>\n", f);
    }
    if (!fm->act) {
        /* step 1: the activity (a GET form: nothing is sent) */
        fputs("<form method=\"get\" action=\"/entry\" class=\"form\" id=\"choose-activity\">\n", f);
        fprintf(f, "<p class=\"muted\">%s</p>\n", s_t(x, T_CHOOSE_ACTIVITY));
        fprintf(f, "<div class=\"field\"><label for=\"activity\">%s</label>\n", s_t(x, T_ACTIVITY));
        s_activity_select(f, x, NULL);
        s_err_html(f, "activity", fm->err[F_ACTIVITY]);
        fprintf(f, "</div>\n<button type=\"submit\" class=\"btn-primary\">%s</button>\n</form>\n",
                s_t(x, T_NEXT));
        fputs("</section>\n", f);
        return s_finish(h, c, x, status, f, &body, &len, false);
    }
    bool corr = fm->correct[0] != '\0';
    if (corr && fm->target) {
        char msg[400];
        snprintf(msg, sizeof msg, s_t(x, T_CORRECTING), fm->target->event_id);
        fputs("<p class=\"notice\" id=\"correcting\">", f);
        kc_oesc(f, msg);
        fputs("</p>\n", f);
    }
    fputs("<form method=\"post\" action=\"/entry\" class=\"form\" id=\"entry-form\">\n"
          "<input type=\"hidden\" name=\"csrf\" value=\"",
          f);
    kc_oesc(f, s->csrf);
    fputs("\">\n<input type=\"hidden\" name=\"activity\" value=\"", f);
    kc_oesc(f, fm->act->code);
    fputs("\">\n", f);
    if (corr) {
        fputs("<input type=\"hidden\" name=\"correct\" value=\"", f);
        kc_oesc(f, fm->correct);
        fputs("\">\n", f);
    }
    fputs("<input type=\"hidden\" name=\"event_id_auto\" value=\"", f);
    kc_oesc(f, fm->event_id_auto);
    fputs("\">\n", f);
    /* the activity, fixed in this step */
    fprintf(f, "<div class=\"field\"><span class=\"label\">%s</span>\n<p id=\"activity-shown\">",
            s_t(x, T_ACTIVITY));
    fputs("<b>", f);
    kc_oesc(f, fm->act->code);
    fputs("</b> — ", f);
    kc_oesc(f, s_activity_label(x, fm->act));
    if (!corr)
        fprintf(f, " <a href=\"/entry\" id=\"change-activity\">%s</a>", s_t(x, T_CHANGE_ACTIVITY));
    fputs("</p>\n", f);
    s_err_html(f, "activity", fm->err[F_ACTIVITY]);
    fputs("</div>\n", f);
    fprintf(f, "<div class=\"field\"><label for=\"province\">%s</label>\n", s_t(x, T_PROVINCE));
    s_province_select(f, of, fm->province, corr);
    s_err_html(f, "province", fm->err[F_PROVINCE]);
    fprintf(f,
            "</div>\n<div class=\"row\">\n<div class=\"field\"><label for=\"year\">%s</label>\n"
            "<input id=\"year\" name=\"year\" inputmode=\"numeric\" required maxlength=\"4\" "
            "value=\"",
            s_t(x, T_YEAR));
    kc_oesc(f, fm->year);
    fputs("\">\n", f);
    s_err_html(f, "year", fm->err[F_YEAR]);
    fprintf(f, "</div>\n<div class=\"field\"><label for=\"month\">%s</label>\n", s_t(x, T_MONTH));
    s_month_select(f, fm->month);
    s_err_html(f, "month", fm->err[F_MONTH]);
    fputs("</div>\n</div>\n", f);
    /* the metrics the activity allows, and only those */
    fprintf(f,
            "<fieldset class=\"metrics\" id=\"metrics\"><legend>%s</legend>\n<p "
            "class=\"muted\">%s</p>\n",
            s_t(x, T_METRICS), s_t(x, T_METRICS_HELP));
    for (int m = 0; m < KC_METRIC_COUNT; m++) {
        if (!(fm->act->metric_mask & (1u << m)))
            continue;
        const kc_metric_info_t *mi = kc_ref_metric(m);
        fprintf(f, "<div class=\"field\"><label for=\"m_%s\">", mi->name);
        kc_oesc(f, s_metric_label(x, m));
        fprintf(f,
                "%s</label>\n<input id=\"m_%s\" name=\"m_%s\" inputmode=\"numeric\" "
                "maxlength=\"40\" value=\"",
                mi->is_vnd ? (x->lang ? " (dong)" : " (đồng)") : "", mi->name, mi->name);
        kc_oesc(f, fm->metric[m]);
        fputs("\">\n", f);
        char id[40];
        snprintf(id, sizeof id, "m_%s", mi->name);
        s_err_html(f, id, fm->merr[m]);
        fputs("</div>\n", f);
    }
    /* errors of metrics the form does not show (posted by hand) */
    for (int m = 0; m < KC_METRIC_COUNT; m++) {
        if ((fm->act->metric_mask & (1u << m)) || !fm->merr[m][0])
            continue;
        char id[40];
        snprintf(id, sizeof id, "m_%s", kc_ref_metric(m)->name);
        s_err_html(f, id, fm->merr[m]);
    }
    fputs("</fieldset>\n", f);
    fprintf(f,
            "<div class=\"row\">\n<div class=\"field\"><label for=\"kind\">%s</label>\n"
            "<select id=\"kind\" name=\"kind\">\n",
            s_t(x, T_KIND));
    s_option(f, "actual", s_t(x, T_ACTUAL), fm->kind);
    s_option(f, "plan", s_t(x, T_PLAN), fm->kind);
    fputs("</select>\n", f);
    s_err_html(f, "kind", fm->err[F_KIND]);
    fprintf(f,
            "</div>\n<div class=\"field\"><label for=\"fund\">%s</label>\n"
            "<select id=\"fund\" name=\"fund\">\n",
            s_t(x, T_FUND));
    s_option(f, "kcqg", s_t(x, T_KCQG), fm->fund);
    s_option(f, "kcdp", s_t(x, T_KCDP), fm->fund);
    s_option(f, "other", s_t(x, T_OTHER), fm->fund);
    fputs("</select>\n", f);
    s_err_html(f, "fund", fm->err[F_FUND]);
    fprintf(f,
            "</div>\n</div>\n<div class=\"field\"><label for=\"note\">%s</label>\n"
            "<textarea id=\"note\" name=\"note\" rows=\"3\" maxlength=\"1024\">",
            s_t(x, T_NOTE));
    kc_oesc(f, fm->note);
    fputs("</textarea>\n", f);
    s_err_html(f, "note", fm->err[F_NOTE]);
    fprintf(f,
            "</div>\n<div class=\"field\"><label for=\"event_id\">%s</label>\n"
            "<input id=\"event_id\" name=\"event_id\" maxlength=\"64\" value=\"",
            s_t(x, T_EVENT_ID));
    kc_oesc(f, fm->event_id);
    fprintf(f, "\">\n<p class=\"muted\">%s</p>\n", s_t(x, T_EVENT_ID_HELP));
    s_err_html(f, "event_id", fm->err[F_EVENT_ID]);
    fprintf(f,
            "</div>\n<button type=\"submit\" class=\"btn-primary\" id=\"send\">%s</button>\n"
            "</form>\n</section>\n",
            s_t(x, T_SEND));
    return s_finish(h, c, x, status, f, &body, &len, false);
}

/* Fill the form's defaults: the office's first province, this month. */
static void s_form_defaults(s_form_t *fm, const kc_office_t *of)
{
    int32_t p = s_now_period();
    snprintf(fm->province, sizeof fm->province, "%02d", of->n_provinces ? of->provinces[0] : 0);
    snprintf(fm->year, sizeof fm->year, "%d", p / 100);
    snprintf(fm->month, sizeof fm->month, "%d", p % 100);
    s_copy(fm->kind, sizeof fm->kind, "actual");
    s_copy(fm->fund, sizeof fm->fund, "kcqg");
}

static void s_form_gen_id(s_form_t *fm)
{
    int prov = kc_ref_parse_code(fm->province);
    s_gen_id(fm->event_id_auto, prov > 0 ? prov : 0, atoi(fm->year), atoi(fm->month),
             fm->act ? fm->act->code : "X");
    s_copy(fm->event_id, sizeof fm->event_id, fm->event_id_auto);
}

/* The form prefilled from a row (a correction of it). */
static void s_form_from_row(s_form_t *fm, const kc_odb_row_t *r, uint64_t sub, uint32_t row)
{
    fm->act = kc_ref_activity_by_code(r->activity);
    s_copy(fm->province, sizeof fm->province, r->province);
    snprintf(fm->year, sizeof fm->year, "%d", r->year);
    snprintf(fm->month, sizeof fm->month, "%d", r->month);
    s_copy(fm->kind, sizeof fm->kind, r->kind == KCI_KIND_PLAN ? "plan" : "actual");
    s_copy(fm->fund, sizeof fm->fund,
           r->fund == KCI_FUND_KCQG   ? "kcqg"
           : r->fund == KCI_FUND_KCDP ? "kcdp"
                                      : "other");
    s_copy(fm->note, sizeof fm->note, r->note);
    for (int m = 0; m < KC_METRIC_COUNT; m++)
        if (r->present & (1u << m))
            snprintf(fm->metric[m], sizeof fm->metric[m], "%" PRId64, r->metrics[m]);
    snprintf(fm->correct, sizeof fm->correct, "%llu-%u", (unsigned long long)sub, row);
}

static const kc_office_t *s_office_of(kc_ohttp_t *h, const kc_odb_session_t *s)
{
    return kc_ooffice(h, s->office);
}

enum MHD_Result kc_oentry_get(kc_ohttp_t *h, struct MHD_Connection *c, const kc_octx_t *x,
                              const kc_odb_session_t *s, const char *url)
{
    (void)url;
    const kc_office_t *of = s_office_of(h, s);
    if (!of)
        return kc_omessage(h, c, x, MHD_HTTP_FORBIDDEN, kc_ot(x, KC_OT_NOT_SIGNED_IN), 0);
    s_form_t *fm = calloc(1, sizeof *fm);
    kc_odb_row_t *tr = calloc(1, sizeof *tr);
    if (!fm || !tr) {
        free(fm);
        free(tr);
        return MHD_NO;
    }
    enum MHD_Result ret;
    s_form_defaults(fm, of);
    const char *corr = kc_oarg(c, "correct");
    if (corr) {
        uint64_t sub;
        uint32_t row;
        if (!s_parse_ref(corr, &sub, &row) || s_office_row(h, s->office, sub, row, tr) != 0) {
            ret = kc_omessage(h, c, x, MHD_HTTP_NOT_FOUND, s_t(x, T_ERR_TARGET), 0);
            goto out;
        }
        if (!s_row_latest(tr) || !kc_ref_activity_by_code(tr->activity)) {
            ret = kc_omessage(h, c, x, MHD_HTTP_CONFLICT, s_t(x, T_ERR_NOT_LATEST), 0);
            goto out;
        }
        s_form_from_row(fm, tr, sub, row);
        fm->target = tr;
    } else {
        const char *a = kc_oarg(c, "activity");
        fm->act = a ? kc_ref_activity_by_code(a) : NULL;
        if (a && !fm->act)
            s_copy(fm->err[F_ACTIVITY], sizeof fm->err[F_ACTIVITY], s_t(x, T_ERR_ACTIVITY));
        const char *v;
        if ((v = kc_oarg(c, "province")) && strlen(v) < sizeof fm->province)
            s_copy(fm->province, sizeof fm->province, v);
        if ((v = kc_oarg(c, "year")) && strlen(v) < sizeof fm->year)
            s_copy(fm->year, sizeof fm->year, v);
        if ((v = kc_oarg(c, "month")) && strlen(v) < sizeof fm->month)
            s_copy(fm->month, sizeof fm->month, v);
    }
    s_form_gen_id(fm);
    ret = s_entry_page(h, c, x, s, of, MHD_HTTP_OK, fm);
out:
    free(fm);
    free(tr);
    return ret;
}

/* The rules the aggregator applies to an event alone (libkcingest's
 * kci_event_check, the import layer's own): 0, or the reason with its English
 * text. */
static int s_event_rules(const kc_event_t *ev, char *text, size_t cap)
{
    int r = kci_event_check(ev, NULL, text, cap);
    return r < 0 ? 0 : r; /* cannot be encoded: kc_osend_submit says so */
}

/* Submit one event; on success 303 to its submission. */
static enum MHD_Result s_submit(kc_ohttp_t *h, struct MHD_Connection *c, const kc_octx_t *x,
                                const kc_odb_session_t *s, const char *what, const kc_event_t *ev,
                                char *general, size_t gcap, bool *failed)
{
    uint64_t sub = 0;
    char err[300] = "";
    int rc = h->o.send ? kc_osend_submit(h->o.send, s->office, s->user, what, "", ev, NULL, 1, &sub,
                                         err, sizeof err)
                       : KC_EINVAL;
    if (rc == KC_EPERM) {
        kc_warn("KC-OFF-091 %s/%s: %s of %s refused: province %s is not the office's", s->office,
                s->user, what, ev->event_id, ev->province);
        return kc_omessage(h, c, x, MHD_HTTP_FORBIDDEN, s_t(x, T_ERR_PROVINCE), 0);
    }
    if (rc != 0) {
        kc_error("KC-OFF-092 %s/%s: %s of %s not stored: %s", s->office, s->user, what,
                 ev->event_id, err[0] ? err : kc_strerror(rc));
        snprintf(general, gcap, "%s", s_t(x, T_ERR_SPOOL));
        *failed = true;
        return MHD_YES;
    }
    kc_info("KC-OFF-090 %s/%s: %s %s (province %s) spooled as submission %llu", s->office, s->user,
            what, ev->event_id, ev->province, (unsigned long long)sub);
    char to[64];
    snprintf(to, sizeof to, "/submissions/%llu", (unsigned long long)sub);
    return kc_oredirect(h, c, x, to, NULL, 0);
}

enum MHD_Result kc_oentry_post(kc_ohttp_t *h, struct MHD_Connection *c, const kc_octx_t *x,
                               const kc_odb_session_t *s, const char *url, kc_oreq_t *r)
{
    (void)url;
    const kc_office_t *of = s_office_of(h, s);
    if (!of)
        return kc_omessage(h, c, x, MHD_HTTP_FORBIDDEN, kc_ot(x, KC_OT_NOT_SIGNED_IN), 0);
    s_form_t *fm = calloc(1, sizeof *fm);
    kc_odb_row_t *tr = calloc(1, sizeof *tr);
    if (!fm || !tr) {
        free(fm);
        free(tr);
        return MHD_NO;
    }
    enum MHD_Result ret;
    bool bad = false;
    unsigned status = MHD_HTTP_UNPROCESSABLE_CONTENT;
    /* the values, kept for a re-shown form */
    const char *v;
    s_copy(fm->province, sizeof fm->province,
           (v = kc_oreq_field(r, "province")) && strlen(v) < sizeof fm->province ? v : "");
    s_copy(fm->year, sizeof fm->year,
           (v = kc_oreq_field(r, "year")) && strlen(v) < sizeof fm->year ? v : "");
    s_copy(fm->month, sizeof fm->month,
           (v = kc_oreq_field(r, "month")) && strlen(v) < sizeof fm->month ? v : "");
    /* kind and fund: absent = actual / other; anything else unknown is refused */
    v = kc_oreq_field(r, "kind");
    s_copy(fm->kind, sizeof fm->kind, !v ? "actual" : strlen(v) < sizeof fm->kind ? v : "?");
    v = kc_oreq_field(r, "fund");
    s_copy(fm->fund, sizeof fm->fund, !v ? "other" : strlen(v) < sizeof fm->fund ? v : "?");
    const char *note = kc_oreq_field(r, "note");
    if (note && strlen(note) > KC_NOTE_MAX) {
        s_copy(fm->err[F_NOTE], sizeof fm->err[F_NOTE], s_t(x, T_ERR_NOTE));
        bad = true;
    }
    snprintf(fm->note, sizeof fm->note, "%s", note ? note : "");
    const char *eid = kc_oreq_field(r, "event_id");
    snprintf(fm->event_id, sizeof fm->event_id, "%s", eid ? eid : "");
    if (eid && strlen(eid) >= sizeof fm->event_id) {
        s_copy(fm->err[F_EVENT_ID], sizeof fm->err[F_EVENT_ID], s_t(x, T_ERR_EVENT_ID));
        bad = true;
    }
    s_copy(fm->event_id_auto, sizeof fm->event_id_auto,
           (v = kc_oreq_field(r, "event_id_auto")) && strlen(v) < 65 ? v : "");
    const char *corr = kc_oreq_field(r, "correct");
    if (corr && strlen(corr) < sizeof fm->correct)
        s_copy(fm->correct, sizeof fm->correct, corr);
    const char *act = kc_oreq_field(r, "activity");
    fm->act = act ? kc_ref_activity_by_code(act) : NULL;
    if (!fm->act) {
        s_copy(fm->err[F_ACTIVITY], sizeof fm->err[F_ACTIVITY], s_t(x, T_ERR_ACTIVITY));
        fm->act = NULL;
        s_copy(fm->general, sizeof fm->general, s_t(x, T_ERR_FORM));
        ret = s_entry_page(h, c, x, s, of, status, fm);
        goto out;
    }
    /* province: the office's, else 403 and nothing spooled */
    int prov = kc_ref_parse_code(fm->province);
    if (prov < 0 || !kc_ooffice_has(of, prov)) {
        kc_warn("KC-OFF-091 %s/%s: entry refused: province '%.8s' is not the office's", s->office,
                s->user, fm->province);
        ret = kc_omessage(h, c, x, MHD_HTTP_FORBIDDEN, s_t(x, T_ERR_PROVINCE), 0);
        goto out;
    }
    snprintf(fm->province, sizeof fm->province, "%02d", prov);
    /* a correction: the target must be this office's latest accepted version */
    if (corr) {
        uint64_t sub;
        uint32_t row;
        if (!s_parse_ref(corr, &sub, &row) || s_office_row(h, s->office, sub, row, tr) != 0) {
            ret = kc_omessage(h, c, x, MHD_HTTP_NOT_FOUND, s_t(x, T_ERR_TARGET), 0);
            goto out;
        }
        if (!s_row_latest(tr)) {
            kc_info("KC-OFF-093 %s/%s: correction of %s refused: no longer the latest version",
                    s->office, s->user, tr->event_id);
            ret = kc_omessage(h, c, x, MHD_HTTP_CONFLICT, s_t(x, T_ERR_NOT_LATEST), 0);
            goto out;
        }
        fm->target = tr;
        if (strcmp(tr->province, fm->province) != 0) {
            s_copy(fm->err[F_PROVINCE], sizeof fm->err[F_PROVINCE], s_t(x, T_ERR_PROVINCE));
            bad = true;
        }
    }
    char *end;
    long year = strtol(fm->year, &end, 10);
    if (!fm->year[0] || *end || year < KC_YEAR_MIN || year > KC_YEAR_MAX) {
        s_copy(fm->err[F_YEAR], sizeof fm->err[F_YEAR], s_t(x, T_ERR_YEAR));
        bad = true;
    }
    long month = strtol(fm->month, &end, 10);
    if (!fm->month[0] || *end || month < 1 || month > 12) {
        s_copy(fm->err[F_MONTH], sizeof fm->err[F_MONTH], s_t(x, T_ERR_MONTH));
        bad = true;
    }
    int kind = strcmp(fm->kind, "actual") == 0 ? KCI_KIND_ACTUAL
               : strcmp(fm->kind, "plan") == 0 ? KCI_KIND_PLAN
                                               : -1;
    if (kind < 0) {
        s_copy(fm->err[F_KIND], sizeof fm->err[F_KIND], s_t(x, T_ERR_KIND));
        bad = true;
    }
    int fund = strcmp(fm->fund, "kcqg") == 0    ? KCI_FUND_KCQG
               : strcmp(fm->fund, "kcdp") == 0  ? KCI_FUND_KCDP
               : strcmp(fm->fund, "other") == 0 ? KCI_FUND_OTHER
                                                : -1;
    if (fund < 0) {
        s_copy(fm->err[F_FUND], sizeof fm->err[F_FUND], s_t(x, T_ERR_FUND));
        bad = true;
    }
    if (fm->note[0] && !fm->err[F_NOTE][0] && !kc_text_free_ok(fm->note, strlen(fm->note))) {
        s_copy(fm->err[F_NOTE], sizeof fm->err[F_NOTE], s_t(x, T_ERR_NOTE));
        bad = true;
    }
    /* the metrics: every field m_NAME, known, allowed, a number */
    kc_event_t ev = {0};
    for (size_t i = 0; i < r->n_fields; i++) {
        if (strncmp(r->names[i], "m_", 2) != 0)
            continue;
        int m = kc_ref_metric_by_name(r->names[i] + 2);
        const char *val = r->values[i];
        if (m < 0) {
            snprintf(fm->general, sizeof fm->general, s_t(x, T_ERR_NOT_ALLOWED), r->names[i] + 2,
                     fm->act->code);
            bad = true;
            continue;
        }
        snprintf(fm->metric[m], sizeof fm->metric[m], "%s", val);
        int64_t n = 0;
        int pr = s_parse_num(val, &n);
        if (pr == N_EMPTY)
            continue;
        if (!(fm->act->metric_mask & (1u << m))) {
            snprintf(fm->merr[m], sizeof fm->merr[m], s_t(x, T_ERR_NOT_ALLOWED),
                     kc_ref_metric(m)->name, fm->act->code);
            bad = true;
            continue;
        }
        char msg[300] = "";
        if (pr == N_NEGATIVE) {
            s_copy(msg, sizeof msg, s_t(x, T_ERR_NEGATIVE));
        } else if (pr == N_AMBIGUOUS) {
            /* "1.200": 1200 (grouped) or 1.2 (decimal): both readings, never a guess */
            const char *sep = strpbrk(val, ".,");
            char before[8] = "", after[8] = "", grouped[16], decimal[24];
            while (*val == ' ' || *val == '\t')
                val++;
            snprintf(before, sizeof before, "%.*s", sep ? (int)(sep - val) : 0, val);
            snprintf(after, sizeof after, "%.3s", sep ? sep + 1 : "");
            snprintf(grouped, sizeof grouped, "%s%s", before, after);
            size_t al = strlen(after);
            while (al && after[al - 1] == '0')
                after[--al] = '\0';
            char dsep[2] = {sep ? *sep : '.', '\0'};
            snprintf(decimal, sizeof decimal, "%s%s%s", before, al ? dsep : "", after);
            char shown[64];
            snprintf(shown, sizeof shown, "%.40s", val);
            snprintf(msg, sizeof msg, s_t(x, T_ERR_AMBIGUOUS), shown, grouped, decimal, grouped);
        } else if (pr == N_FRACTION) {
            s_copy(msg, sizeof msg, s_t(x, T_ERR_FRACTION));
        } else if (pr != N_OK) {
            s_copy(msg, sizeof msg, s_t(x, T_ERR_NUMBER));
        } else if (n > kc_ref_metric(m)->max) {
            char mx[48];
            s_fmt_num(x, kc_ref_metric(m)->max, mx, sizeof mx);
            snprintf(msg, sizeof msg, s_t(x, T_ERR_TOO_LARGE), mx);
        }
        if (msg[0]) {
            s_copy(fm->merr[m], sizeof fm->merr[m], msg);
            bad = true;
            continue;
        }
        ev.present |= 1u << m;
        ev.metrics[m] = n;
    }
    if ((ev.present & (1u << KC_M_PERSONS_EMPLOYED)) && (ev.present & (1u << KC_M_PERSONS)) &&
        ev.metrics[KC_M_PERSONS_EMPLOYED] > ev.metrics[KC_M_PERSONS]) {
        s_copy(fm->merr[KC_M_PERSONS_EMPLOYED], sizeof fm->merr[KC_M_PERSONS_EMPLOYED],
               s_t(x, T_ERR_EMPLOYED));
        bad = true;
    }
    if (!bad && !ev.present) {
        s_copy(fm->general, sizeof fm->general, s_t(x, T_ERR_NO_METRIC));
        bad = true;
    }
    /* the event_id: typed, or generated (again, if the generated one no
     * longer matches the province or period) */
    bool auto_id = !fm->event_id[0] || strcmp(fm->event_id, fm->event_id_auto) == 0;
    if (!auto_id && !s_event_id_ok(fm->event_id)) {
        s_copy(fm->err[F_EVENT_ID], sizeof fm->err[F_EVENT_ID], s_t(x, T_ERR_EVENT_ID));
        bad = true;
    }
    if (bad) {
        if (!fm->general[0])
            s_copy(fm->general, sizeof fm->general, s_t(x, T_ERR_FORM));
        kc_info("KC-OFF-094 %s/%s: entry of %s refused: the form has errors", s->office, s->user,
                fm->act->code);
        ret = s_entry_page(h, c, x, s, of, status, fm);
        goto out;
    }
    if (auto_id) {
        char prefix[40];
        snprintf(prefix, sizeof prefix, "%02d-%04ld%02ld-%s-", prov, year, month, fm->act->code);
        if (strncmp(fm->event_id, prefix, strlen(prefix)) != 0 ||
            strlen(fm->event_id) != strlen(prefix) + 8) {
            s_gen_id(fm->event_id, prov, (int)year, (int)month, fm->act->code);
            s_copy(fm->event_id_auto, sizeof fm->event_id_auto, fm->event_id);
        }
    }
    ev.event_id = fm->event_id;
    ev.province = fm->province;
    ev.year = (int)year;
    ev.month = (int)month;
    ev.activity = fm->act->code;
    ev.kind = kind;
    ev.fund = fund;
    ev.note = fm->note;
    ev.op = fm->target ? KCI_OP_CORRECTION : KCI_OP_RECORD;
    ev.corrects = fm->target ? fm->target->event_id : NULL;
    char why[400];
    int rule = s_event_rules(&ev, why, sizeof why);
    if (rule) {
        snprintf(fm->general, sizeof fm->general, s_t(x, T_ERR_RULE), kc_reason_name(rule), why);
        kc_info("KC-OFF-094 %s/%s: entry of %s refused: %s: %s", s->office, s->user, fm->act->code,
                kc_reason_name(rule), why);
        ret = s_entry_page(h, c, x, s, of, status, fm);
        goto out;
    }
    bool failed = false;
    ret = s_submit(h, c, x, s, fm->target ? "correction" : "form", &ev, fm->general,
                   sizeof fm->general, &failed);
    if (failed)
        ret = s_entry_page(h, c, x, s, of, MHD_HTTP_INTERNAL_SERVER_ERROR, fm);
out:
    free(fm);
    free(tr);
    return ret;
}

/* ---- submissions ---- */

typedef struct {
    kc_odb_sub_t *subs;
    size_t n, cap;
} s_subs_t;

static void s_sub_cb(const kc_odb_sub_t *sb, void *ctx)
{
    s_subs_t *l = ctx;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 32;
        kc_odb_sub_t *p = realloc(l->subs, cap * sizeof *p);
        if (!p)
            return;
        l->subs = p;
        l->cap = cap;
    }
    l->subs[l->n++] = *sb;
}

typedef struct {
    uint64_t counts[KC_ROW_REJECTED + 1];
} s_counts_t;

static void s_count_cb(const kc_odb_row_t *r, void *ctx)
{
    s_counts_t *k = ctx;
    if (r->state >= KC_ROW_SPOOLED && r->state <= KC_ROW_REJECTED)
        k->counts[r->state]++;
}

static const char *s_what(const kc_octx_t *x, const char *what)
{
    if (strcmp(what, "upload") == 0)
        return s_t(x, T_W_UPLOAD);
    if (strcmp(what, "form") == 0)
        return s_t(x, T_W_FORM);
    if (strcmp(what, "correction") == 0)
        return s_t(x, T_W_CORRECTION);
    if (strcmp(what, "retraction") == 0)
        return s_t(x, T_W_RETRACTION);
    return what;
}

static void s_when(FILE *f, uint64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    char b[40];
    strftime(b, sizeof b, "%Y-%m-%d %H:%M:%S", &tm);
    fputs(b, f);
}

#define S_SUBS_LIMIT 200

static enum MHD_Result s_subs_list(kc_ohttp_t *h, struct MHD_Connection *c, const kc_octx_t *x,
                                   const kc_odb_session_t *s)
{
    s_subs_t l = {0};
    kc_odb_sub_each(h->o.db, s->office, S_SUBS_LIMIT, s_sub_cb, &l);
    char *body = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&body, &len);
    if (!f) {
        free(l.subs);
        return MHD_NO;
    }
    kc_opage_top(f, h, x, s_t(x, T_SUBS), s);
    fprintf(
        f,
        "<section class=\"card\" aria-labelledby=\"subs-title\">\n<h2 id=\"subs-title\">%s</h2>\n",
        s_t(x, T_SUBS));
    bool pending = false;
    if (!l.n) {
        fprintf(f, "<p class=\"muted\" id=\"no-subs\">%s</p>\n", s_t(x, T_NONE_YET));
    } else {
        fprintf(f,
                "<table class=\"grid\" id=\"subs\">\n<thead><tr><th scope=\"col\">#</th>"
                "<th scope=\"col\">%s</th><th scope=\"col\">%s</th><th scope=\"col\">%s</th>"
                "<th scope=\"col\">%s</th><th scope=\"col\">%s</th>",
                s_t(x, T_WHEN), s_t(x, T_WHO), s_t(x, T_WHAT), s_t(x, T_FILE), s_t(x, T_ROWS));
        for (int st = KC_ROW_SPOOLED; st <= KC_ROW_REJECTED; st++)
            fprintf(f, "<th scope=\"col\">%s</th>", s_t(x, s_state_text[st]));
        fputs("</tr></thead>\n<tbody>\n", f);
        for (size_t i = 0; i < l.n; i++) {
            const kc_odb_sub_t *sb = &l.subs[i];
            s_counts_t k = {0};
            kc_odb_row_each(h->o.db, sb->id, s_count_cb, &k);
            if (k.counts[KC_ROW_SPOOLED] || k.counts[KC_ROW_SENT])
                pending = true;
            fprintf(f, "<tr id=\"sub-%llu\"><td><a href=\"/submissions/%llu\">%llu</a></td><td>",
                    (unsigned long long)sb->id, (unsigned long long)sb->id,
                    (unsigned long long)sb->id);
            s_when(f, sb->created_s);
            fputs("</td><td>", f);
            kc_oesc(f, sb->user);
            fputs("</td><td>", f);
            kc_oesc(f, s_what(x, sb->what));
            fputs("</td><td>", f);
            kc_oesc(f, sb->file);
            fprintf(f, "</td><td>%u</td>", sb->rows);
            for (int st = KC_ROW_SPOOLED; st <= KC_ROW_REJECTED; st++)
                fprintf(f, "<td class=\"n-%s\">%llu</td>", s_state_name[st],
                        (unsigned long long)k.counts[st]);
            fputs("</tr>\n", f);
        }
        fputs("</tbody>\n</table>\n", f);
        if (pending)
            fprintf(f, "<p class=\"muted\" id=\"refreshing\">%s</p>\n", s_t(x, T_REFRESHING));
    }
    fputs("</section>\n", f);
    free(l.subs);
    return s_finish(h, c, x, MHD_HTTP_OK, f, &body, &len, pending);
}

typedef struct {
    kc_odb_row_t *rows;
    size_t n, cap;
} s_rows_t;

static void s_row_cb(const kc_odb_row_t *r, void *ctx)
{
    s_rows_t *l = ctx;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        kc_odb_row_t *p = realloc(l->rows, cap * sizeof *p);
        if (!p)
            return;
        l->rows = p;
        l->cap = cap;
    }
    l->rows[l->n++] = *r;
}

/* A row's values: period, province, activity, kind, fund, metrics, note. */
static void s_row_values(FILE *f, const kc_octx_t *x, const kc_odb_row_t *r)
{
    int prov = kc_ref_parse_code(r->province);
    fputs("<div class=\"vals\">", f);
    if (r->year)
        fprintf(f, "%s %02d/%04d · ", s_t(x, T_PERIOD), r->month, r->year);
    kc_oesc(f, r->province);
    if (prov > 0) {
        fputs(" ", f);
        kc_oesc(f, s_province_name(prov, r->year ? r->year * 100 + r->month : s_now_period()));
    }
    const kc_activity_t *a = r->activity[0] ? kc_ref_activity_by_code(r->activity) : NULL;
    if (a) {
        fputs(" · <b>", f);
        kc_oesc(f, a->code);
        fputs("</b> ", f);
        kc_oesc(f, s_activity_label(x, a));
    } else if (r->activity[0]) {
        fputs(" · ", f);
        kc_oesc(f, r->activity);
    }
    if (r->op != KCI_OP_RETRACTION) {
        fprintf(f, " · %s · %s", s_t(x, r->kind == KCI_KIND_PLAN ? T_PLAN : T_ACTUAL),
                s_t(x, r->fund == KCI_FUND_KCQG   ? T_KCQG
                       : r->fund == KCI_FUND_KCDP ? T_KCDP
                                                  : T_OTHER));
    }
    fputs("</div>\n", f);
    if (r->present) {
        fputs("<ul class=\"metrics-list\">", f);
        for (int m = 0; m < KC_METRIC_COUNT; m++) {
            if (!(r->present & (1u << m)))
                continue;
            char num[48];
            s_fmt_num(x, r->metrics[m], num, sizeof num);
            fprintf(f, "<li data-metric=\"%s\" data-value=\"%" PRId64 "\">", kc_ref_metric(m)->name,
                    r->metrics[m]);
            kc_oesc(f, s_metric_label(x, m));
            fprintf(f, ": %s</li>", num);
        }
        fputs("</ul>\n", f);
    }
    if (r->note[0]) {
        fputs("<div class=\"muted\">", f);
        kc_oesc(f, r->note);
        fputs("</div>\n", f);
    }
}

static enum MHD_Result s_sub_page(kc_ohttp_t *h, struct MHD_Connection *c, const kc_octx_t *x,
                                  const kc_odb_session_t *s, uint64_t id)
{
    kc_odb_sub_t sb;
    if (kc_odb_sub_get(h->o.db, id, &sb) != 0 || strcmp(sb.office, s->office) != 0)
        return kc_omessage(h, c, x, MHD_HTTP_NOT_FOUND, kc_ot(x, KC_OT_NOT_FOUND), 0);
    s_rows_t l = {0};
    kc_odb_row_each(h->o.db, id, s_row_cb, &l);
    char *body = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&body, &len);
    if (!f) {
        free(l.rows);
        return MHD_NO;
    }
    char title[120];
    snprintf(title, sizeof title, s_t(x, T_SUB), (unsigned long long)id);
    kc_opage_top(f, h, x, title, s);
    fputs("<section class=\"card\" aria-labelledby=\"sub-title\">\n<h2 id=\"sub-title\">", f);
    kc_oesc(f, title);
    fprintf(f, "</h2>\n<dl class=\"facts\">\n<dt>%s</dt><dd>", s_t(x, T_WHEN));
    s_when(f, sb.created_s);
    fprintf(f, "</dd>\n<dt>%s</dt><dd id=\"sub-user\">", s_t(x, T_WHO));
    kc_oesc(f, sb.user);
    fprintf(f, "</dd>\n<dt>%s</dt><dd id=\"sub-what\">", s_t(x, T_WHAT));
    kc_oesc(f, s_what(x, sb.what));
    fputs("</dd>\n", f);
    if (sb.file[0]) {
        fprintf(f, "<dt>%s</dt><dd>", s_t(x, T_FILE));
        kc_oesc(f, sb.file);
        fputs("</dd>\n", f);
    }
    fputs("</dl>\n", f);
    fprintf(f,
            "<table class=\"grid\" id=\"rows\">\n<thead><tr><th scope=\"col\">%s</th>"
            "<th scope=\"col\">%s</th><th scope=\"col\">%s</th><th scope=\"col\">%s</th>"
            "<th scope=\"col\">%s</th><th scope=\"col\">%s</th></tr></thead>\n<tbody>\n",
            s_t(x, T_ROW), s_t(x, T_EVENT_ID), s_t(x, T_VALUES), s_t(x, T_STATE), s_t(x, T_RESULT),
            s_t(x, T_ACTIONS));
    bool pending = false;
    kc_i18n_use(x->lang ? KC_LANG_EN : KC_LANG_VI);
    for (size_t i = 0; i < l.n; i++) {
        const kc_odb_row_t *r = &l.rows[i];
        int st = r->state >= KC_ROW_SPOOLED && r->state <= KC_ROW_REJECTED ? r->state : 0;
        if (st == KC_ROW_SPOOLED || st == KC_ROW_SENT)
            pending = true;
        fprintf(f, "<tr id=\"row-%u\" data-state=\"%s\"><td>%u", r->row, s_state_name[st],
                r->row + 1);
        if (r->source_row > 0) {
            fputs("<br><span class=\"muted\">", f);
            fprintf(f, s_t(x, T_SHEET_ROW), r->source_row);
            fputs("</span>", f);
        }
        fputs("</td><td><code class=\"event-id\">", f);
        kc_oesc(f, r->event_id);
        fputs("</code>", f);
        if (r->op != KCI_OP_RECORD && r->corrects[0]) {
            fprintf(f, "<br><span class=\"muted\">%s <code class=\"corrects\">",
                    s_t(x, r->op == KCI_OP_RETRACTION ? T_RETRACTS : T_CORRECTS));
            kc_oesc(f, r->corrects);
            fputs("</code></span>", f);
        }
        fputs("</td><td>", f);
        s_row_values(f, x, r);
        fprintf(f, "</td><td class=\"state state-%s\">%s", s_state_name[st],
                st ? s_t(x, s_state_text[st]) : "?");
        if (r->superseded_by[0]) {
            fprintf(f, "<br><span class=\"%s\">%s <code>",
                    r->retracted ? "retracted" : "superseded",
                    s_t(x, r->retracted ? T_RETRACTED_BY : T_SUPERSEDED_BY));
            kc_oesc(f, r->superseded_by);
            fputs("</code></span>", f);
        }
        fputs("</td><td>", f);
        if (st == KC_ROW_REJECTED || st == KC_ROW_DUPLICATE) {
            fputs("<code class=\"reason\">", f);
            kc_oesc(f, r->reason_name);
            fputs("</code>", f);
            if (r->text[0]) {
                fputs("<div class=\"centre-text\" lang=\"en\">", f);
                kc_oesc(f, r->text);
                fputs("</div>", f);
            }
            kc_result_t res = {.seq = r->seq,
                               .source = "",
                               .event_id = r->event_id,
                               .reason = r->reason,
                               .reason_name = r->reason_name,
                               .text = r->text};
            char hint[1024];
            if (kci_result_hint(&res, hint, sizeof hint) > 0) {
                fprintf(f, "<div class=\"hint\">%s: ", s_t(x, T_HINT));
                kc_oesc(f, hint);
                fputs("</div>", f);
            }
        }
        fputs("</td><td>", f);
        if (s_row_latest(r)) {
            fprintf(f,
                    "<a class=\"act\" id=\"correct-%u\" href=\"/entry?correct=%llu-%u\">%s</a> "
                    "<a class=\"act\" id=\"retract-%u\" href=\"/retract/%llu-%u\">%s</a>",
                    r->row, (unsigned long long)id, r->row, s_t(x, T_DO_CORRECT), r->row,
                    (unsigned long long)id, r->row, s_t(x, T_DO_RETRACT));
        }
        fputs("</td></tr>\n", f);
    }
    kc_i18n_use(KC_LANG_VI);
    fputs("</tbody>\n</table>\n", f);
    if (pending)
        fprintf(f, "<p class=\"muted\" id=\"refreshing\">%s</p>\n", s_t(x, T_REFRESHING));
    fprintf(f, "<p><a href=\"/submissions\">%s</a></p>\n</section>\n", s_t(x, T_BACK_SUBS));
    free(l.rows);
    return s_finish(h, c, x, MHD_HTTP_OK, f, &body, &len, pending);
}

enum MHD_Result kc_osubs_get(kc_ohttp_t *h, struct MHD_Connection *c, const kc_octx_t *x,
                             const kc_odb_session_t *s, const char *url)
{
    if (!s_office_of(h, s))
        return kc_omessage(h, c, x, MHD_HTTP_FORBIDDEN, kc_ot(x, KC_OT_NOT_SIGNED_IN), 0);
    if (strcmp(url, "/submissions") == 0)
        return s_subs_list(h, c, x, s);
    const char *p = url + strlen("/submissions/");
    char *end;
    if (*p < '1' || *p > '9')
        return kc_omessage(h, c, x, MHD_HTTP_NOT_FOUND, kc_ot(x, KC_OT_NOT_FOUND), 0);
    unsigned long long id = strtoull(p, &end, 10);
    if (*end || id == ULLONG_MAX)
        return kc_omessage(h, c, x, MHD_HTTP_NOT_FOUND, kc_ot(x, KC_OT_NOT_FOUND), 0);
    return s_sub_page(h, c, x, s, (uint64_t)id);
}

/* ---- retract ---- */

/* The row of /retract/SUB-ROW if it is this office's: 0; else a 404 answered. */
static int s_retract_row(kc_ohttp_t *h, const kc_odb_session_t *s, const char *url, uint64_t *sub,
                         uint32_t *row, kc_odb_row_t *out)
{
    const char *ref = url + strlen("/retract/");
    if (!s_parse_ref(ref, sub, row) || s_office_row(h, s->office, *sub, *row, out) != 0)
        return KC_ENOTFOUND;
    return 0;
}

enum MHD_Result kc_oretract_get(kc_ohttp_t *h, struct MHD_Connection *c, const kc_octx_t *x,
                                const kc_odb_session_t *s, const char *url)
{
    if (!s_office_of(h, s))
        return kc_omessage(h, c, x, MHD_HTTP_FORBIDDEN, kc_ot(x, KC_OT_NOT_SIGNED_IN), 0);
    kc_odb_row_t *r = calloc(1, sizeof *r);
    if (!r)
        return MHD_NO;
    uint64_t sub;
    uint32_t row;
    enum MHD_Result ret;
    if (s_retract_row(h, s, url, &sub, &row, r) != 0) {
        ret = kc_omessage(h, c, x, MHD_HTTP_NOT_FOUND, s_t(x, T_ERR_TARGET), 0);
        goto out;
    }
    if (!s_row_latest(r)) {
        ret = kc_omessage(h, c, x, MHD_HTTP_CONFLICT, s_t(x, T_ERR_NOT_LATEST), 0);
        goto out;
    }
    char *body = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&body, &len);
    if (!f) {
        ret = MHD_NO;
        goto out;
    }
    kc_opage_top(f, h, x, s_t(x, T_RETRACT_TITLE), s);
    fprintf(f,
            "<section class=\"card\" aria-labelledby=\"retract-title\">\n"
            "<h2 id=\"retract-title\">%s</h2>\n<p class=\"alert\">%s</p>\n"
            "<dl class=\"facts\" id=\"retract-row\">\n<dt>%s</dt><dd><code>",
            s_t(x, T_RETRACT_TITLE), s_t(x, T_RETRACT_CONFIRM), s_t(x, T_EVENT_ID));
    kc_oesc(f, r->event_id);
    fprintf(f, "</code></dd>\n<dt>%s</dt><dd>", s_t(x, T_VALUES));
    s_row_values(f, x, r);
    fprintf(f,
            "</dd>\n</dl>\n<form method=\"post\" action=\"/retract/%llu-%u\" class=\"form\" "
            "id=\"retract-form\">\n<input type=\"hidden\" name=\"csrf\" value=\"",
            (unsigned long long)sub, row);
    kc_oesc(f, s->csrf);
    fprintf(f,
            "\">\n<button type=\"submit\" class=\"btn-primary\" id=\"retract\">%s</button>\n"
            "<a href=\"/submissions/%llu\">%s</a>\n</form>\n</section>\n",
            s_t(x, T_RETRACT_DO), (unsigned long long)sub, s_t(x, T_CANCEL));
    ret = s_finish(h, c, x, MHD_HTTP_OK, f, &body, &len, false);
out:
    free(r);
    return ret;
}

enum MHD_Result kc_oretract_post(kc_ohttp_t *h, struct MHD_Connection *c, const kc_octx_t *x,
                                 const kc_odb_session_t *s, const char *url, kc_oreq_t *rq)
{
    (void)rq;
    const kc_office_t *of = s_office_of(h, s);
    if (!of)
        return kc_omessage(h, c, x, MHD_HTTP_FORBIDDEN, kc_ot(x, KC_OT_NOT_SIGNED_IN), 0);
    kc_odb_row_t *r = calloc(1, sizeof *r);
    if (!r)
        return MHD_NO;
    uint64_t sub;
    uint32_t row;
    enum MHD_Result ret;
    if (s_retract_row(h, s, url, &sub, &row, r) != 0) {
        ret = kc_omessage(h, c, x, MHD_HTTP_NOT_FOUND, s_t(x, T_ERR_TARGET), 0);
        goto out;
    }
    int prov = kc_ref_parse_code(r->province);
    if (prov < 0 || !kc_ooffice_has(of, prov)) {
        ret = kc_omessage(h, c, x, MHD_HTTP_FORBIDDEN, s_t(x, T_ERR_PROVINCE), 0);
        goto out;
    }
    if (!s_row_latest(r)) {
        kc_info("KC-OFF-093 %s/%s: retraction of %s refused: no longer the latest version",
                s->office, s->user, r->event_id);
        ret = kc_omessage(h, c, x, MHD_HTTP_CONFLICT, s_t(x, T_ERR_NOT_LATEST), 0);
        goto out;
    }
    char id[65], tag[32];
    snprintf(tag, sizeof tag, "%.16s-r", r->activity[0] ? r->activity : "X");
    s_gen_id(id, prov, r->year, r->month, tag);
    kc_event_t ev = {.event_id = id,
                     .province = r->province,
                     .year = r->year,
                     .month = r->month,
                     .op = KCI_OP_RETRACTION,
                     .corrects = r->event_id};
    char why[400];
    int rule = s_event_rules(&ev, why, sizeof why);
    if (rule) {
        char msg[600];
        snprintf(msg, sizeof msg, s_t(x, T_ERR_RULE), kc_reason_name(rule), why);
        ret = kc_omessage(h, c, x, MHD_HTTP_UNPROCESSABLE_CONTENT, msg, 0);
        goto out;
    }
    char general[600] = "";
    bool failed = false;
    ret = s_submit(h, c, x, s, "retraction", &ev, general, sizeof general, &failed);
    if (failed)
        ret = kc_omessage(h, c, x, MHD_HTTP_INTERNAL_SERVER_ERROR, general, 0);
out:
    free(r);
    return ret;
}
