/* kc_template.c - the spreadsheet a field office starts from (kc_template.h).
 *
 * DESIGN
 * Everything a template lists comes from the tables the import layer reads,
 * so that a template and the importer can never disagree:
 *   - the columns and their order: kc_value_list(KC_VF_COLUMN) (data/columns.tsv,
 *     the CSV contract's order); the header is the column's first alias under
 *     "vi" (province: "Tỉnh/thành phố", see s_header) and its name under "en";
 *   - kind and fund words: kc_value_list(KC_VF_KIND / KC_VF_FUND)
 *     (data/values.tsv), the first alias under "vi", the word under "en";
 *   - provinces, activities and the metrics each allows: common/kc_ref.h.
 * The template's own texts (sheet names, the list sheet's headings, the
 * drop-downs' prompts) are content in the language asked for, which need not be
 * the process's gettext language: they are the {en, vi} pairs of s_text below.
 * Only the error messages go through gettext.
 *
 * The xlsx (libxlsxwriter): sheet 1 holds the header row (bold, frozen), the
 * example row and the data validations over S_ROWS data rows; sheet 2 holds
 * the lists: provinces of both schemes (code, name, scheme, validity, the unit
 * a scheme-63 province merged into), activities (code, name, both labels, the
 * metrics allowed) and, as ranges the drop-downs reference, the province names
 * (each once: the name is read under the scheme of the row's period, so one
 * list serves both schemes), kind words and fund words. The activity drop-down
 * references the activities' Vietnamese labels (vi) or names (en). Lists are
 * ranges on sheet 2, not inline lists: Excel caps an inline list at 255
 * characters and reads commas in it as separators ("Đào tạo nghề, truyền
 * nghề"). The list validations only warn: a code ("79", "KC1") or another
 * alias imports too. Columns holding codes or ids are formatted as text, so
 * that "01" keeps its zero.
 *
 * The CSV: UTF-8 with a BOM (Excel on Windows reads a file without one in the
 * ANSI code page), CRLF, comma, RFC 4180 quoting; the header row and the
 * example row.
 *
 * The file appears whole or not at all: it is written under a temporary name
 * in the target's directory, synced, and renamed over path.
 */
#include "kc_template.h"

#include "kc_err.h"
#include "kc_i18n.h"
#include "kc_ref.h"
#include "kc_value.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xlsxwriter.h>

#define S_ROWS     10000 /* data rows under a validation (Excel rows 2..S_ROWS+1) */
#define S_MAX_COLS 64

/* The template's own texts. */
typedef struct {
    const char *en, *vi;
} s_text_t;

enum {
    T_SHEET_REPORT,
    T_SHEET_LISTS,
    T_P_CODE,
    T_P_NAME,
    T_P_SCHEME,
    T_P_FROM,
    T_P_TO,
    T_P_SUCCESSOR,
    T_A_CODE,
    T_A_NAME,
    T_A_LABEL_VI,
    T_A_LABEL_EN,
    T_A_METRICS,
    T_L_PROVINCES,
    T_L_KIND,
    T_L_FUND,
    T_SCHEME_63,
    T_SCHEME_34,
    T_EX_ID,
    T_EX_NOTE,
    T_IN_PROVINCE,
    T_IN_ACTIVITY,
    T_IN_KIND,
    T_IN_FUND,
    T_IN_YEAR,
    T_IN_MONTH,
    T_ERR_TITLE,
    T_ERR_LIST,
    T_ERR_RANGE,
    T_COUNT
};

static const s_text_t s_text[T_COUNT] = {
    [T_SHEET_REPORT] = {"Report", "Báo cáo"},
    [T_SHEET_LISTS] = {"Lists", "Danh mục"},
    [T_P_CODE] = {"Province code", "Mã tỉnh"},
    [T_P_NAME] = {"Province", "Tỉnh, thành phố"},
    [T_P_SCHEME] = {"Scheme", "Hệ đơn vị hành chính"},
    [T_P_FROM] = {"Valid from", "Hiệu lực từ"},
    [T_P_TO] = {"Valid to", "Hiệu lực đến"},
    [T_P_SUCCESSOR] = {"Merged into (from 2025-07)", "Sáp nhập vào (từ 07/2025)"},
    [T_A_CODE] = {"Activity code", "Ký hiệu"},
    [T_A_NAME] = {"Activity", "Tên trong tệp CSV"},
    [T_A_LABEL_VI] = {"Vietnamese name", "Nội dung hoạt động"},
    [T_A_LABEL_EN] = {"English name", "Tên tiếng Anh"},
    [T_A_METRICS] = {"Metrics it may report", "Chỉ tiêu được báo cáo"},
    [T_L_PROVINCES] = {"Province list", "Danh sách tỉnh, thành phố"},
    [T_L_KIND] = {"Kind", "Loại số liệu"},
    [T_L_FUND] = {"Fund", "Nguồn vốn"},
    [T_SCHEME_63] = {"63 provinces (until 2025-06)", "63 tỉnh, thành (đến 06/2025)"},
    [T_SCHEME_34] = {"34 provinces (from 2025-07)", "34 tỉnh, thành (từ 07/2025)"},
    [T_EX_ID] = {"EX-2026-01-001", "VD-2026-01-001"},
    [T_EX_NOTE] = {"Example row: replace or delete it before sending",
                   "Dòng ví dụ: sửa hoặc xoá trước khi gửi"},
    [T_IN_PROVINCE] = {"Pick a name or type the 2-digit code. Until 2025-06: 63 provinces; "
                       "from 2025-07: 34 (sheet Lists).",
                       "Chọn tên hoặc gõ mã 2 chữ số. Đến 06/2025: 63 tỉnh, thành; từ 07/2025: "
                       "34 (trang Danh mục)."},
    [T_IN_ACTIVITY] = {"Pick an activity; sheet Lists shows the metrics each may report.",
                       "Chọn nội dung hoạt động; trang Danh mục ghi các chỉ tiêu được báo cáo."},
    [T_IN_KIND] = {"actual or plan; correction or retraction with the id in corrects.",
                   "Thực hiện hoặc Kế hoạch; Sửa hoặc Hủy kèm mã ở cột Sửa cho."},
    [T_IN_FUND] = {"National (kcqg), local (kcdp) or other.",
                   "Khuyến công quốc gia (KCQG), địa phương (KCĐP) hoặc Khác."},
    [T_IN_YEAR] = {"A year, e.g. 2026.", "Năm, ví dụ 2026."},
    [T_IN_MONTH] = {"A month, 1 to 12.", "Tháng, từ 1 đến 12."},
    [T_ERR_TITLE] = {"kcpipe", "kcpipe"},
    [T_ERR_LIST] = {"Not in the list. Keep it only if it is a code or another accepted name.",
                    "Không có trong danh sách. Chỉ giữ nếu đó là mã hoặc tên khác được chấp nhận."},
    [T_ERR_RANGE] = {"Out of range.", "Ngoài khoảng cho phép."},
};

/* The example row: an event every template imports as (tests/import/template_test.c). */
#define S_EX_PROVINCE 79
#define S_EX_YEAR     2026
#define S_EX_MONTH    1
#define S_EX_ACTIVITY "vocational_training"
#define S_EX_KIND     "actual"
#define S_EX_FUND     "kcdp"
#define S_EX_AMOUNT   150000000
#define S_EX_PERSONS  35

typedef struct {
    bool vi;
    const char *t[T_COUNT];
    size_t ncols;
    kc_value_item_t cols[S_MAX_COLS];
    const char *head[S_MAX_COLS];
    const kc_activity_t *ex_act;
    const kc_province_t *ex_prov;
    const char *ex_kind, *ex_fund;
} s_tpl_t;

/* The word of a kind or fund value in the template's language. */
static const char *s_word(const s_tpl_t *t, kc_value_field_t field, const char *value)
{
    kc_value_item_t items[16];
    size_t n = kc_value_list(field, 0, items, 16);
    for (size_t i = 0; i < n && i < 16; i++)
        if (strcmp(items[i].value, value) == 0)
            return t->vi && items[i].label ? items[i].label : items[i].value;
    return NULL;
}

/* The Vietnamese header of a column: its first alias in data/columns.tsv,
 * except the province, whose first alias says "code" while the drop-down
 * offers names: it gets the alias that names both, checked to read back. */
static const char *s_header(const kc_value_item_t *col)
{
    static const char province[] = "Tỉnh/thành phố";
    const char *back;
    if (strcmp(col->value, "province") == 0 &&
        kc_value_column(province, &back, NULL) == KC_VALUE_OK && strcmp(back, "province") == 0)
        return province;
    return col->label ? col->label : col->value;
}

static int s_prepare(s_tpl_t *t, const char *lang, char *err, size_t cap)
{
    if (!lang)
        t->vi = kc_i18n_lang() == KC_LANG_VI;
    else if (strcmp(lang, "vi") == 0 || strcmp(lang, "en") == 0)
        t->vi = lang[0] == 'v';
    else {
        snprintf(err, cap, _("unknown template language '%s' (vi or en)"), lang);
        return KC_EINVAL;
    }
    for (int i = 0; i < T_COUNT; i++)
        t->t[i] = t->vi ? s_text[i].vi : s_text[i].en;
    t->ncols = kc_value_list(KC_VF_COLUMN, 0, t->cols, S_MAX_COLS);
    t->ex_act = kc_ref_activity_lookup(S_EX_ACTIVITY);
    t->ex_prov = kc_ref_province_for(S_EX_PROVINCE, S_EX_YEAR * 100 + S_EX_MONTH);
    t->ex_kind = s_word(t, KC_VF_KIND, S_EX_KIND);
    t->ex_fund = s_word(t, KC_VF_FUND, S_EX_FUND);
    if (t->ncols > S_MAX_COLS || !t->ex_act || !t->ex_prov || !t->ex_kind || !t->ex_fund) {
        snprintf(err, cap, _("the embedded reference data do not fit the template"));
        return KC_EFORMAT;
    }
    for (size_t c = 0; c < t->ncols; c++)
        t->head[c] = t->vi ? s_header(&t->cols[c]) : t->cols[c].value;
    return 0;
}

/* The example row's cell of column c: text in *s, or a number in *num (s NULL),
 * or nothing (both NULL/false). */
static void s_example(const s_tpl_t *t, size_t c, const char **s, bool *is_num, double *num)
{
    const char *col = t->cols[c].value;
    *s = NULL;
    *is_num = true;
    if (strcmp(col, "event_id") == 0)
        *s = t->t[T_EX_ID];
    else if (strcmp(col, "province") == 0)
        *s = t->ex_prov->name;
    else if (strcmp(col, "year") == 0)
        *num = S_EX_YEAR;
    else if (strcmp(col, "month") == 0)
        *num = S_EX_MONTH;
    else if (strcmp(col, "activity") == 0)
        *s = t->vi ? t->ex_act->label_vi : t->ex_act->name;
    else if (strcmp(col, "kind") == 0)
        *s = t->ex_kind;
    else if (strcmp(col, "fund") == 0)
        *s = t->ex_fund;
    else if (strcmp(col, "amount_vnd") == 0)
        *num = S_EX_AMOUNT;
    else if (strcmp(col, "persons") == 0)
        *num = S_EX_PERSONS;
    else if (strcmp(col, "note") == 0)
        *s = t->t[T_EX_NOTE];
    else
        *is_num = false;
    if (*s)
        *is_num = false;
}

static long s_col_of(const s_tpl_t *t, const char *name)
{
    for (size_t c = 0; c < t->ncols; c++)
        if (strcmp(t->cols[c].value, name) == 0)
            return (long)c;
    return -1;
}

/* Characters of a UTF-8 text (for column widths). */
static size_t s_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* ---- xlsx --------------------------------------------------------------- */

typedef struct {
    lxw_workbook *wb;
    lxw_error rc; /* the first error */
} s_x_t;

static void s_x(s_x_t *x, lxw_error rc)
{
    if (rc != LXW_NO_ERROR && x->rc == LXW_NO_ERROR)
        x->rc = rc;
}

/* A list validation of column col over the data rows, from a range of sheet 2. */
static void s_x_list(s_x_t *x, const s_tpl_t *t, lxw_worksheet *ws, long col, lxw_col_t src,
                     size_t n, int prompt)
{
    if (col < 0 || n == 0)
        return;
    char formula[128], from[16], to[16];
    lxw_rowcol_to_cell_abs(from, 1, src, 1, 1);
    lxw_rowcol_to_cell_abs(to, (lxw_row_t)n, src, 1, 1);
    snprintf(formula, sizeof formula, "'%s'!%s:%s", t->t[T_SHEET_LISTS], from, to);
    lxw_data_validation dv = {
        .validate = LXW_VALIDATION_TYPE_LIST_FORMULA,
        .value_formula = formula,
        .error_type = LXW_VALIDATION_ERROR_TYPE_WARNING,
        .input_title = (char *)t->head[col],
        .input_message = (char *)t->t[prompt],
        .error_title = (char *)t->t[T_ERR_TITLE],
        .error_message = (char *)t->t[T_ERR_LIST],
    };
#if LXW_VERSION_ID < 116
    /* libxlsxwriter before 1.1.6 copies a list formula twice and loses the
     * first copy (upstream commit 5c5b3046, "Fix memory leak in list formula
     * data validation"; Debian 12 ships 1.1.4), which fails the sanitizer and
     * valgrind runs of every program that writes a template. A custom-formula
     * validation is copied once and written alike but for its type: add one
     * and retype the library's copy (the last of the sheet's list). */
    dv.validate = LXW_VALIDATION_TYPE_CUSTOM_FORMULA;
    lxw_error rc =
        worksheet_data_validation_range(ws, 1, (lxw_col_t)col, S_ROWS, (lxw_col_t)col, &dv);
    s_x(x, rc);
    lxw_data_val_obj *last = NULL, *v;
    STAILQ_FOREACH(v, ws->data_validations, list_pointers)
    last = v;
    if (rc == LXW_NO_ERROR && last)
        last->validate = LXW_VALIDATION_TYPE_LIST_FORMULA;
#else
    s_x(x, worksheet_data_validation_range(ws, 1, (lxw_col_t)col, S_ROWS, (lxw_col_t)col, &dv));
#endif
}

static void s_x_whole(s_x_t *x, const s_tpl_t *t, lxw_worksheet *ws, long col, int lo, int hi,
                      int prompt)
{
    if (col < 0)
        return;
    lxw_data_validation dv = {
        .validate = LXW_VALIDATION_TYPE_INTEGER,
        .criteria = LXW_VALIDATION_CRITERIA_BETWEEN,
        .minimum_number = lo,
        .maximum_number = hi,
        .error_type = LXW_VALIDATION_ERROR_TYPE_STOP,
        .input_title = (char *)t->head[col],
        .input_message = (char *)t->t[prompt],
        .error_title = (char *)t->t[T_ERR_TITLE],
        .error_message = (char *)t->t[T_ERR_RANGE],
    };
    s_x(x, worksheet_data_validation_range(ws, 1, (lxw_col_t)col, S_ROWS, (lxw_col_t)col, &dv));
}

/* Sheet 2. Columns: A-F provinces, H-L activities, N province names, O kind
 * words, P fund words. Fills the sizes of the three drop-down lists. */
enum { L_P = 0, L_A = 7, L_NAMES = 13, L_KIND = 14, L_FUND = 15 };

static void s_x_lists(s_x_t *x, const s_tpl_t *t, lxw_worksheet *ws, lxw_format *bold,
                      lxw_format *text, size_t *n_names, size_t *n_kind, size_t *n_fund)
{
    static const struct {
        lxw_col_t col;
        int head;
        double width;
    } heads[] = {
        {L_P + 0, T_P_CODE, 10},     {L_P + 1, T_P_NAME, 20},    {L_P + 2, T_P_SCHEME, 28},
        {L_P + 3, T_P_FROM, 12},     {L_P + 4, T_P_TO, 12},      {L_P + 5, T_P_SUCCESSOR, 26},
        {L_A + 0, T_A_CODE, 10},     {L_A + 1, T_A_NAME, 26},    {L_A + 2, T_A_LABEL_VI, 48},
        {L_A + 3, T_A_LABEL_EN, 28}, {L_A + 4, T_A_METRICS, 60}, {L_NAMES, T_L_PROVINCES, 24},
        {L_KIND, T_L_KIND, 14},      {L_FUND, T_L_FUND, 14},
    };
    for (size_t i = 0; i < sizeof heads / sizeof heads[0]; i++) {
        s_x(x, worksheet_write_string(ws, 0, heads[i].col, t->t[heads[i].head], bold));
        s_x(x, worksheet_set_column(ws, heads[i].col, heads[i].col, heads[i].width, NULL));
    }
    worksheet_freeze_panes(ws, 1, 0);

    /* Provinces: the scheme in force now first, then the other; codes as text. */
    size_t np = kc_ref_province_count(), row = 1;
    *n_names = 0;
    for (int pass = 0; pass < 2; pass++) {
        int scheme = pass == 0 ? 34 : 63;
        for (size_t i = 0; i < np; i++) {
            const kc_province_t *p = kc_ref_province_at(i);
            if (p->scheme != scheme)
                continue;
            char from[16], to[16], succ[96] = "";
            snprintf(from, sizeof from, "%04d-%02d", p->valid_from / 100, p->valid_from % 100);
            snprintf(to, sizeof to, "%04d-%02d", p->valid_to / 100, p->valid_to % 100);
            const kc_province_t *s = p->successor ? kc_ref_province(34, p->successor) : NULL;
            if (s)
                snprintf(succ, sizeof succ, "%s %s", s->code_str, s->name);
            lxw_row_t r = (lxw_row_t)row++;
            s_x(x, worksheet_write_string(ws, r, L_P + 0, p->code_str, text));
            s_x(x, worksheet_write_string(ws, r, L_P + 1, p->name, NULL));
            s_x(x, worksheet_write_string(ws, r, L_P + 2,
                                          t->t[scheme == 34 ? T_SCHEME_34 : T_SCHEME_63], NULL));
            s_x(x, worksheet_write_string(ws, r, L_P + 3, from, text));
            if (p->valid_to < 999912)
                s_x(x, worksheet_write_string(ws, r, L_P + 4, to, text));
            if (*succ)
                s_x(x, worksheet_write_string(ws, r, L_P + 5, succ, NULL));
            /* the drop-down: each name once (read under the row's period) */
            bool seen = false;
            for (size_t j = 0; j < np && pass == 1 && !seen; j++) {
                const kc_province_t *q = kc_ref_province_at(j);
                seen = q->scheme == 34 && strcmp(q->name, p->name) == 0;
            }
            if (!seen)
                s_x(x, worksheet_write_string(ws, (lxw_row_t)(1 + (*n_names)++), L_NAMES, p->name,
                                              NULL));
        }
    }

    /* Activities with the metrics each allows, named as the header row names them. */
    for (size_t i = 0; i < kc_ref_activity_count(); i++) {
        const kc_activity_t *a = kc_ref_activity_at(i);
        char metrics[1024] = "";
        size_t len = 0;
        for (size_t c = 0; c < t->ncols; c++) {
            int m = kc_ref_metric_by_name(t->cols[c].value);
            if (m < 0 || !(a->metric_mask & (1u << m)))
                continue;
            int w =
                snprintf(metrics + len, sizeof metrics - len, "%s%s", len ? "; " : "", t->head[c]);
            if (w < 0 || (size_t)w >= sizeof metrics - len)
                break;
            len += (size_t)w;
        }
        lxw_row_t r = (lxw_row_t)(1 + i);
        s_x(x, worksheet_write_string(ws, r, L_A + 0, a->code, NULL));
        s_x(x, worksheet_write_string(ws, r, L_A + 1, a->name, NULL));
        s_x(x, worksheet_write_string(ws, r, L_A + 2, a->label_vi, NULL));
        s_x(x, worksheet_write_string(ws, r, L_A + 3, a->label_en, NULL));
        s_x(x, worksheet_write_string(ws, r, L_A + 4, metrics, NULL));
    }

    /* Kind and fund words. */
    kc_value_item_t items[16];
    for (int f = 0; f < 2; f++) {
        kc_value_field_t field = f == 0 ? KC_VF_KIND : KC_VF_FUND;
        size_t n = kc_value_list(field, 0, items, 16);
        n = n < 16 ? n : 16;
        for (size_t i = 0; i < n; i++)
            s_x(x, worksheet_write_string(ws, (lxw_row_t)(1 + i), f == 0 ? L_KIND : L_FUND,
                                          t->vi && items[i].label ? items[i].label : items[i].value,
                                          NULL));
        *(f == 0 ? n_kind : n_fund) = n;
    }
}

/* Write the workbook to tmp; messages name path, the file the clerk asked for. */
static int s_write_xlsx(const s_tpl_t *t, const char *path, const char *tmp, char *err, size_t cap)
{
    s_x_t x = {workbook_new(tmp), LXW_NO_ERROR};
    if (!x.wb) {
        snprintf(err, cap, _("%s: cannot create the workbook"), path);
        return KC_EIO;
    }
    lxw_worksheet *ws = workbook_add_worksheet(x.wb, t->t[T_SHEET_REPORT]);
    lxw_worksheet *wl = workbook_add_worksheet(x.wb, t->t[T_SHEET_LISTS]);
    lxw_format *bold = workbook_add_format(x.wb);
    lxw_format *head = workbook_add_format(x.wb);
    lxw_format *text = workbook_add_format(x.wb);
    lxw_format *number = workbook_add_format(x.wb);
    lxw_format *whole = workbook_add_format(x.wb);
    if (!ws || !wl || !bold || !head || !text || !number || !whole) {
        workbook_close(x.wb);
        snprintf(err, cap, _("%s: cannot create the workbook"), path);
        return KC_ENOMEM;
    }
    format_set_bold(bold);
    format_set_bold(head);
    format_set_text_wrap(head);
    format_set_align(head, LXW_ALIGN_VERTICAL_CENTER);
    format_set_bg_color(head, 0xDDEBF7);
    format_set_border(head, LXW_BORDER_THIN);
    format_set_num_format(text, "@");
    format_set_num_format(number, "#,##0");
    format_set_num_format(whole, "0");
    workbook_set_properties(x.wb, &(lxw_doc_properties){.title = (char *)t->t[T_SHEET_REPORT],
                                                        .author = (char *)"kcpipe"});

    /* Sheet 1: header, column formats and widths, the example row. */
    for (size_t c = 0; c < t->ncols; c++) {
        const char *col = t->cols[c].value;
        bool is_metric = kc_ref_metric_by_name(col) >= 0;
        bool is_text = strcmp(col, "event_id") == 0 || strcmp(col, "province") == 0 ||
                       strcmp(col, "corrects") == 0 || strcmp(col, "note") == 0;
        bool is_whole = strcmp(col, "year") == 0 || strcmp(col, "month") == 0;
        double width = (double)s_chars(t->head[c]) + 3;
        if (strcmp(col, "activity") == 0 || strcmp(col, "note") == 0)
            width = 44;
        else if (strcmp(col, "province") == 0 || strcmp(col, "event_id") == 0)
            width = width < 18 ? 18 : width;
        width = width < 9 ? 9 : width > 34 ? 34 : width;
        s_x(&x, worksheet_set_column(ws, (lxw_col_t)c, (lxw_col_t)c, width,
                                     is_text     ? text
                                     : is_metric ? number
                                     : is_whole  ? whole
                                                 : NULL));
        s_x(&x, worksheet_write_string(ws, 0, (lxw_col_t)c, t->head[c], head));
        const char *s;
        bool is_num;
        double num = 0;
        s_example(t, c, &s, &is_num, &num);
        if (s)
            s_x(&x, worksheet_write_string(ws, 1, (lxw_col_t)c, s, is_text ? text : NULL));
        else if (is_num)
            s_x(&x, worksheet_write_number(ws, 1, (lxw_col_t)c, num,
                                           is_metric  ? number
                                           : is_whole ? whole
                                                      : NULL));
    }
    s_x(&x, worksheet_set_row(ws, 0, 32, NULL));
    worksheet_freeze_panes(ws, 1, 0);

    size_t n_names, n_kind, n_fund;
    s_x_lists(&x, t, wl, bold, text, &n_names, &n_kind, &n_fund);
    s_x_list(&x, t, ws, s_col_of(t, "province"), L_NAMES, n_names, T_IN_PROVINCE);
    s_x_list(&x, t, ws, s_col_of(t, "activity"), t->vi ? L_A + 2 : L_A + 1, kc_ref_activity_count(),
             T_IN_ACTIVITY);
    s_x_list(&x, t, ws, s_col_of(t, "kind"), L_KIND, n_kind, T_IN_KIND);
    s_x_list(&x, t, ws, s_col_of(t, "fund"), L_FUND, n_fund, T_IN_FUND);
    s_x_whole(&x, t, ws, s_col_of(t, "year"), 2000, 2100, T_IN_YEAR);
    s_x_whole(&x, t, ws, s_col_of(t, "month"), 1, 12, T_IN_MONTH);
    worksheet_activate(ws);

    lxw_error rc = workbook_close(x.wb);
    if (x.rc != LXW_NO_ERROR || rc != LXW_NO_ERROR) {
        snprintf(err, cap, _("%s: cannot write the workbook: %s"), path,
                 lxw_strerror(x.rc != LXW_NO_ERROR ? x.rc : rc));
        return KC_EIO;
    }
    return 0;
}

/* ---- csv ---------------------------------------------------------------- */

static void s_csv_cell(FILE *f, const char *s)
{
    if (!strpbrk(s, ",;\"\t\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static int s_write_csv(const s_tpl_t *t, FILE *f)
{
    fputs("\xEF\xBB\xBF", f);
    for (size_t c = 0; c < t->ncols; c++) {
        if (c)
            fputc(',', f);
        s_csv_cell(f, t->head[c]);
    }
    fputs("\r\n", f);
    for (size_t c = 0; c < t->ncols; c++) {
        const char *s;
        bool is_num;
        double num = 0;
        s_example(t, c, &s, &is_num, &num);
        if (c)
            fputc(',', f);
        if (s)
            s_csv_cell(f, s);
        else if (is_num)
            fprintf(f, "%lld", (long long)num);
    }
    fputs("\r\n", f);
    return ferror(f) ? -1 : 0;
}

/* ---- the file ----------------------------------------------------------- */

static int s_errno_rc(int e)
{
    return e == ENOSPC ? KC_ENOSPC : -e;
}

int kc_template_write(const char *path, kc_template_format_t fmt, const char *lang, char *err,
                      size_t cap)
{
    static atomic_uint counter;
    if (cap)
        err[0] = '\0';
    if (!path || !*path || (fmt != KC_TEMPLATE_XLSX && fmt != KC_TEMPLATE_CSV)) {
        snprintf(err, cap, _("no template file or format given"));
        return KC_EINVAL;
    }
    s_tpl_t t = {0};
    int rc = s_prepare(&t, lang, err, cap);
    if (rc)
        return rc;

    size_t tn = strlen(path) + 64;
    char *tmp = malloc(tn);
    if (!tmp) {
        snprintf(err, cap, _("%s: out of memory"), path);
        return KC_ENOMEM;
    }
    /* ".xlsx" last: libxlsxwriter does not mind, people listing the folder do not wonder */
    snprintf(tmp, tn, "%s.%ld-%u.tmp%s", path, (long)getpid(), atomic_fetch_add(&counter, 1),
             fmt == KC_TEMPLATE_XLSX ? ".xlsx" : "");
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0) {
        int e = errno;
        snprintf(err, cap, _("%s: cannot create: %s"), path, strerror(e));
        free(tmp);
        return s_errno_rc(e);
    }
    if (fmt == KC_TEMPLATE_CSV) {
        FILE *f = fdopen(fd, "wb");
        if (!f) {
            int e = errno;
            close(fd);
            rc = s_errno_rc(e);
            snprintf(err, cap, _("%s: cannot write: %s"), path, strerror(e));
        } else {
            errno = 0;
            int e = s_write_csv(&t, f) != 0 ? (errno ? errno : EIO) : 0;
            if (fclose(f) != 0 && !e)
                e = errno ? errno : EIO;
            if (e) {
                rc = s_errno_rc(e);
                snprintf(err, cap, _("%s: cannot write: %s"), path, strerror(e));
            }
        }
    } else {
        close(fd); /* libxlsxwriter opens the name itself; the file keeps its mode */
        rc = s_write_xlsx(&t, path, tmp, err, cap);
    }
    if (rc == 0) { /* on disk before it takes the name */
        fd = open(tmp, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fsync(fd) != 0 || rename(tmp, path) != 0) {
            int e = errno;
            rc = s_errno_rc(e);
            snprintf(err, cap, _("%s: cannot write: %s"), path, strerror(e));
        }
        if (fd >= 0)
            close(fd);
    }
    if (rc != 0)
        unlink(tmp);
    free(tmp);
    return rc;
}
