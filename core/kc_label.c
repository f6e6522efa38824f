/* kc_label.c - names of regions, periods, metrics, activities, ops, kinds,
 * funds and rejection reasons in Vietnamese and English (see kc_label.h). */
#include "kc_label.h"

#include "kc_err.h"
#include "kc_event.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int kc_lang_parse(const char *s, kc_lang_t *out)
{
    if (s && strcmp(s, "en") == 0)
        *out = KC_LANG_EN;
    else if (s && strcmp(s, "vi") == 0)
        *out = KC_LANG_VI;
    else
        return KC_EINVAL;
    return 0;
}

kc_lang_t kc_lang_from_env(void)
{
    static const char *const names[] = {"LC_ALL", "LC_MESSAGES", "LANG"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        const char *v = getenv(names[i]);
        if (v && *v)
            return strncmp(v, "vi", 2) == 0 ? KC_LANG_VI : KC_LANG_EN;
    }
    return KC_LANG_EN;
}

const char *kc_label_region(const char *region, kc_lang_t lang)
{
    static const struct {
        const char *id, *vi, *en;
    } labels[] = {
        {"north", "khu vực phía Bắc", "the northern region"},
        {"central_highlands", "khu vực miền Trung - Tây Nguyên",
         "the central and highlands region"},
        {"south", "khu vực phía Nam", "the southern region"},
    };
    for (size_t i = 0; i < sizeof labels / sizeof labels[0]; i++)
        if (region && strcmp(region, labels[i].id) == 0)
            return lang == KC_LANG_VI ? labels[i].vi : labels[i].en;
    return region ? region : "";
}

char *kc_label_period(char *buf, size_t cap, int year, int from, int to, kc_lang_t lang)
{
    static const char *months_en[] = {"",        "January",  "February", "March",  "April",
                                      "May",     "June",     "July",     "August", "September",
                                      "October", "November", "December"};
    if (from < 1 || to > 12 || from > to) {
        snprintf(buf, cap, "%d", year);
        return buf;
    }
    if (lang == KC_LANG_VI) {
        if (from == 1 && to == 12)
            snprintf(buf, cap, "năm %d", year);
        else if (from == 1 && to > 1)
            snprintf(buf, cap, "%d tháng năm %d", to, year);
        else if (from == to)
            snprintf(buf, cap, "tháng %d năm %d", from, year);
        else
            snprintf(buf, cap, "tháng %d–%d năm %d", from, to, year);
    } else {
        if (from == 1 && to == 12)
            snprintf(buf, cap, "%d", year);
        else if (from == to)
            snprintf(buf, cap, "%s %d", months_en[from], year);
        else
            snprintf(buf, cap, "%s–%s %d", months_en[from], months_en[to], year);
    }
    return buf;
}

const char *kc_label_metric(int metric, kc_lang_t lang)
{
    const kc_metric_info_t *m = kc_ref_metric(metric);
    if (!m)
        return "";
    return lang == KC_LANG_VI ? m->label_vi : m->label_en;
}

const char *kc_label_activity(const kc_activity_t *a, kc_lang_t lang)
{
    return lang == KC_LANG_VI ? a->label_vi : a->label_en;
}

const char *kc_label_op(int op, kc_lang_t lang)
{
    bool vi = lang == KC_LANG_VI;
    switch (op) {
    case KCPIPE__V1__OP__OP_RECORD: return vi ? "ghi nhận" : "record";
    case KCPIPE__V1__OP__OP_CORRECTION: return vi ? "điều chỉnh" : "correction";
    case KCPIPE__V1__OP__OP_RETRACTION: return vi ? "thu hồi" : "retraction";
    case KCPIPE__V1__OP__OP_SIGN_OFF: return vi ? "xác nhận hoàn thành" : "sign-off";
    case KCPIPE__V1__OP__OP_APPROVE: return vi ? "phê duyệt" : "approval";
    case KCPIPE__V1__OP__OP_REOPEN: return vi ? "mở lại" : "reopen";
    default: return vi ? "không rõ" : "unknown";
    }
}

const char *kc_label_kind(int kind, kc_lang_t lang)
{
    static const char *const en[] = {NULL, "actual", "plan"}, *const vi[] = {NULL, "thực hiện",
                                                                             "kế hoạch"};
    if (kind < 1 || kind > 2)
        return NULL;
    return lang == KC_LANG_VI ? vi[kind] : en[kind];
}

const char *kc_label_fund(int fund, kc_lang_t lang)
{
    static const char *const en[] = {NULL, "kcqg", "kcdp", "other"}, *const vi[] = {NULL, "KCQG",
                                                                                    "KCĐP",
                                                                                    "nguồn khác"};
    if (fund < 1 || fund > 3)
        return NULL;
    return lang == KC_LANG_VI ? vi[fund] : en[fund];
}

const char *kc_label_reason(const char *token, kc_lang_t lang)
{
    static const struct {
        const char *token, *vi, *en;
    } labels[] = {
        {"duplicate", "Trùng lặp", "Duplicate"},
        {"undecodable", "Không đọc được", "Undecodable"},
        {"missing_event_id", "Thiếu mã sự kiện", "Missing event ID"},
        {"event_id_too_long", "Mã sự kiện quá dài", "Event ID too long"},
        {"unknown_province", "Mã tỉnh không xác định", "Unknown province"},
        {"unknown_activity", "Nội dung hoạt động không xác định", "Unknown activity"},
        {"metric_not_allowed", "Chỉ tiêu không áp dụng cho nội dung này",
         "Figure not allowed for the activity"},
        {"negative_value", "Giá trị âm", "Negative value"},
        {"employed_exceeds_persons", "Số người có việc làm vượt số người tham gia",
         "Employed exceeds persons"},
        {"bad_month", "Tháng không hợp lệ", "Invalid month"},
        {"bad_year", "Năm không hợp lệ", "Invalid year"},
        {"note_too_long", "Ghi chú quá dài", "Note too long"},
        {"event_id_conflict", "Trùng mã sự kiện nhưng khác nội dung",
         "Event ID reused with other content"},
        {"bad_kind", "Loại bản ghi không hợp lệ", "Invalid kind"},
        {"bad_fund", "Nguồn kinh phí không hợp lệ", "Invalid fund"},
        {"no_metrics", "Không có chỉ tiêu nào", "No figures"},
        {"producer_mismatch", "Sai nguồn gửi", "Producer mismatch"},
        {"unsupported_op", "Thao tác không được hỗ trợ", "Unsupported operation"},
        {"missing_seq", "Thiếu số thứ tự", "Missing sequence number"},
        {"total_overflow", "Tổng vượt giới hạn", "Total would overflow"},
        {"unknown_target", "Không có bản ghi cần sửa", "Correction target not found"},
        {"target_other_province", "Bản ghi cần sửa thuộc tỉnh khác",
         "Target is another province's"},
        {"target_superseded", "Bản ghi cần sửa đã được sửa trước đó", "Target already corrected"},
        {"target_retracted", "Bản ghi cần sửa đã bị thu hồi", "Target retracted"},
        {"missing_target", "Thiếu mã bản ghi cần sửa", "Missing correction target"},
        {"province_not_authorized", "Không được báo cáo cho tỉnh này",
         "Not authorized for this province"},
        {"value_too_large", "Giá trị quá lớn", "Value too large"},
        {"invalid_text", "Văn bản không hợp lệ", "Invalid text"},
        {"period_locked", "Kỳ báo cáo đã được duyệt (khóa)", "Period approved (locked)"},
        {"period_not_ended", "Kỳ báo cáo chưa kết thúc", "Period not ended yet"},
        {"period_no_data", "Kỳ báo cáo chưa có số liệu", "Period has no data"},
        {"period_not_locked", "Kỳ báo cáo chưa được duyệt", "Period not approved"},
        {"missing_reason", "Thiếu lý do", "Reason missing"},
    };
    for (size_t i = 0; token && i < sizeof labels / sizeof *labels; i++)
        if (strcmp(token, labels[i].token) == 0)
            return lang == KC_LANG_VI ? labels[i].vi : labels[i].en;
    return token ? token : "";
}

const char *kc_label_cycle_state(const char *token, kc_lang_t lang)
{
    static const struct {
        const char *token, *vi, *en;
    } labels[] = {
        {"on_time", "đúng hạn", "on time"},
        {"late", "trễ hạn", "late"},
        {"missing", "quá hạn chưa báo cáo", "missing"},
        {"not_due", "chưa đến hạn", "not yet due"},
        {"signed_off", "tỉnh đã xác nhận hoàn thành", "signed off by the province"},
        {"approved", "trung ương đã duyệt (khóa)", "approved by the centre (locked)"},
        {"reopened", "trung ương đã mở lại", "reopened by the centre"},
    };
    for (size_t i = 0; token && i < sizeof labels / sizeof *labels; i++)
        if (strcmp(labels[i].token, token) == 0)
            return lang == KC_LANG_VI ? labels[i].vi : labels[i].en;
    return token ? token : "";
}
