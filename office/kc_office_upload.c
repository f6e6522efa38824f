/* kc_office_upload.c - kc-office's upload pages: upload, preview, send
 * (issue 17 step 2).
 *
 * DESIGN
 * Routes (kc_office_http.c's s_routes; all need a session):
 *   GET  /upload                the form: one file (.xlsx, .ods, .csv), csrf
 *   POST /upload                the file part, already streamed by the
 *                               dispatcher to uploads/up-XXXXXX (at most
 *                               KC_OHTTP_UPLOAD_MAX, 413 above): checked
 *                               and kept, then 303 /upload/<id>
 *   GET  /upload/template.xlsx  kci_template_write's template, in the page's
 *                               language
 *   GET  /upload/<id>           the preview: every row with its problems
 *   POST /upload/<id>           action=send | send_valid | discard
 * A file is judged by its content, never by its name: a zip container
 * (xlsx or ods: the ods "mimetype" member says which) or text (CSV: no NUL
 * byte and no control character other than tab, CR, LF, FF in its first
 * 64 KiB, or a UTF-16 byte order mark); anything else (PDF, a program, an
 * image, an old .xls) is refused naming what it is. It is then read once
 * through the import layer before it is kept: a container the import layer
 * cannot open or read (corrupt, encrypted, a zip bomb: KCI_EFORMAT from
 * kci_import_open or kci_import_next) and a file of more than S_ROWS_MAX
 * rows are refused at once (the read stops at the first row over the bound,
 * so a CSV of a million rows costs a few milliseconds, not a preview).
 * A kept upload is two files in <data>/uploads, named by the server only:
 * <office>-<id>.<ext> (the id is 16 random bytes in hex; ext by content) and
 * the sidecar <office>-<id>.meta (office, user, created, ext, and the name the
 * browser sent, control characters and bad UTF-8 replaced, for display and
 * the submission's record: never used as a path). An id is found only under
 * the session's office (another office's id is 404 as a missing one), and
 * only as 32 hex digits (anything else, "../x" included, is 404). Uploads
 * older than S_KEEP_S are removed whenever a new one is stored (with
 * leftover up-* files of interrupted requests).
 * The preview re-reads the file in the viewer's language (kc_i18n_use per
 * request: the import layer's messages and hints are gettext'd) and adds the
 * portal's own rule: a row of a province that is not the office's is bad.
 * Sending re-reads the file the same way (the preview is never trusted),
 * claims the upload by renaming its sidecar to .claim (so that two clicks
 * send once; the loser sees 404), hands the events to kc_osend_submit and,
 * when it returned 0, removes the upload and answers 303
 * /submissions/<sub>; on any error the claim is undone and nothing is sent.
 * The import layer's messages name the file they read: the server's name is
 * replaced by the clerk's in everything shown.
 * Log ids KC-OFF-070..079.
 */
#include "kc_office_web.h"

#include "kc_err.h"
#include "kc_i18n.h"
#include "kc_log.h"
#include "kc_office_send.h"
#include "kc_ref.h"
#include "kc_text.h"
#include "kcimport.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define S_ROWS_MAX  5000        /* rows of one upload */
#define S_KEEP_S    (24 * 3600) /* an upload not sent by then is removed */
#define S_ID_HEX    32          /* 16 random bytes */
#define S_SNIFF     65536       /* bytes looked at to tell text from binary */
#define S_NAME_MAX  255         /* KC_ODB_FILE_MAX */
#define S_PATH_MAX  4096
#define S_XLSX_TYPE "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

/* ---- texts ---- */

enum {
    T_HEADING,
    T_INTRO,
    T_TEMPLATE,
    T_FILE,
    T_UPLOAD_BTN,
    T_NO_FILE,
    T_EMPTY,
    T_NOT_SHEET,
    T_KIND_PDF,
    T_KIND_EXE,
    T_KIND_ELF,
    T_KIND_OLE,
    T_KIND_IMAGE,
    T_KIND_ARCHIVE,
    T_KIND_BINARY,
    T_UNREADABLE,
    T_DETAIL,
    T_TOO_MANY,
    T_STORE_FAIL,
    T_GONE,
    T_PREVIEW,
    T_FILE_LABEL,
    T_UPLOADED_BY,
    T_COUNTS,
    T_ALL_GOOD,
    T_SOME_BAD,
    T_NONE_GOOD,
    T_SEND_ALL,
    T_SEND_VALID,
    T_DISCARD,
    T_FILE_PROBLEMS,
    T_COL_ROW,
    T_COL_ID,
    T_COL_PROV,
    T_COL_PERIOD,
    T_COL_ACT,
    T_COL_METRICS,
    T_COL_PROBLEMS,
    T_VALID,
    T_PLAN,
    T_CORRECTION,
    T_RETRACTION,
    T_OTHER_PROVINCE,
    T_NOT_ALL_VALID,
    T_NO_VALID,
    T_NO_ACTION,
    T_NO_SENDER,
    T_SEND_FAIL,
    T_UPLOAD_AGAIN,
    T_REPEATED_ID,
    T_COUNT
};

static const char *const s_text[T_COUNT][2] = {
    /* {vi, en} */
    [T_HEADING] = {"Tải tệp lên", "Upload a file"},
    [T_INTRO] = {"Chọn tệp bảng tính của đơn vị (.xlsx, .ods hoặc .csv; tối đa 10 MB và 5.000 "
                 "dòng). Cổng sẽ kiểm tra từng dòng và cho bạn xem trước; chưa có gì được gửi "
                 "cho đến khi bạn chọn gửi.",
                 "Choose your office's spreadsheet (.xlsx, .ods or .csv; at most 10 MB and 5,000 "
                 "rows). The portal checks every row and shows you a preview; nothing is sent "
                 "until you choose to send it."},
    [T_TEMPLATE] = {"Tải mẫu báo cáo (.xlsx)", "Download the report template (.xlsx)"},
    [T_FILE] = {"Tệp bảng tính", "Spreadsheet file"},
    [T_UPLOAD_BTN] = {"Tải lên và kiểm tra", "Upload and check"},
    [T_NO_FILE] = {"Chưa chọn tệp nào. Hãy chọn một tệp .xlsx, .ods hoặc .csv rồi tải lên.",
                   "No file was chosen. Choose an .xlsx, .ods or .csv file and upload it."},
    [T_EMPTY] = {"Tệp “%s” rỗng. Hãy chọn đúng tệp bảng tính rồi tải lên lại.",
                 "The file “%s” is empty. Choose the right spreadsheet and upload it again."},
    [T_NOT_SHEET] = {"Tệp “%s” không phải là bảng tính .xlsx, .ods hoặc .csv: nội dung của nó là "
                     "%s, dù tên tệp là gì. Hãy mở bảng tính trong Excel hoặc LibreOffice, lưu "
                     "lại dạng .xlsx (hoặc .csv) rồi tải lên tệp đó.",
                     "The file “%s” is not an .xlsx, .ods or .csv spreadsheet: its content is "
                     "%s, whatever its name says. Open your spreadsheet in Excel or LibreOffice, "
                     "save it as .xlsx (or .csv) and upload that file."},
    [T_KIND_PDF] = {"một tài liệu PDF", "a PDF document"},
    [T_KIND_EXE] = {"một chương trình Windows (.exe, .dll)", "a Windows program (.exe, .dll)"},
    [T_KIND_ELF] = {"một chương trình Linux", "a Linux program"},
    [T_KIND_OLE] = {"một tệp Excel 97-2003 (.xls) hoặc Word cũ, cổng không đọc được định dạng "
                    "cũ này",
                    "an Excel 97-2003 (.xls) or old Word file, an old format the portal cannot "
                    "read"},
    [T_KIND_IMAGE] = {"một hình ảnh", "an image"},
    [T_KIND_ARCHIVE] = {"một tệp nén", "a compressed archive"},
    [T_KIND_BINARY] = {"dữ liệu nhị phân, không phải văn bản", "binary data, not text"},
    [T_UNREADABLE] = {"Không đọc được tệp “%s” như một bảng tính: tệp bị hỏng, có mật khẩu, hoặc "
                      "quá lớn khi giải nén. Hãy mở tệp trong Excel hoặc LibreOffice và lưu lại "
                      "dạng .xlsx (hoặc chia nhỏ tệp), rồi tải lên lại.",
                      "The file “%s” cannot be read as a spreadsheet: it is damaged, protected "
                      "by a password, or too large once uncompressed. Open it in Excel or "
                      "LibreOffice and save it again as .xlsx (or split it), then upload it "
                      "again."},
    [T_DETAIL] = {"Chi tiết kỹ thuật", "Details"},
    [T_TOO_MANY] = {"Tệp “%s” có hơn %d dòng số liệu. Hãy chia thành nhiều tệp, mỗi tệp không "
                    "quá %d dòng, rồi tải lên từng tệp.",
                    "The file “%s” has more than %d rows of data. Split it into files of at "
                    "most %d rows each and upload them one by one."},
    [T_STORE_FAIL] = {"Không lưu được tệp tải lên trên máy chủ. Hãy thử lại sau; nếu vẫn lỗi, "
                      "hãy báo cho người quản trị.",
                      "The upload could not be stored on the server. Try again later; if it "
                      "fails again, tell your administrator."},
    [T_GONE] = {"Không có tệp tải lên này: nó đã được gửi hoặc đã bị huỷ, đã quá 24 giờ, hoặc "
                "thuộc đơn vị khác. Hãy tải tệp lên lại.",
                "There is no such upload: it was sent or discarded, is older than 24 hours, or "
                "belongs to another office. Upload the file again."},
    [T_PREVIEW] = {"Kiểm tra trước khi gửi", "Check before sending"},
    [T_FILE_LABEL] = {"Tệp", "File"},
    [T_UPLOADED_BY] = {"Người tải lên", "Uploaded by"},
    [T_COUNTS] = {"%zu dòng hợp lệ, %zu dòng có lỗi", "%zu valid rows, %zu rows with problems"},
    [T_ALL_GOOD] = {"Mọi dòng đều hợp lệ. Hãy xem lại bảng dưới đây rồi gửi.",
                    "Every row is valid. Look through the table below, then send it."},
    [T_SOME_BAD] = {"Có dòng bị lỗi, chưa có gì được gửi. Hãy sửa các dòng đó trong bảng tính "
                    "theo hướng dẫn ở cột cuối rồi tải lên lại; hoặc chỉ gửi các dòng hợp lệ "
                    "(các dòng lỗi sẽ không được gửi).",
                    "Some rows have problems; nothing has been sent. Fix those rows in your "
                    "spreadsheet as the last column says and upload it again, or send only the "
                    "valid rows (the rows with problems are not sent)."},
    [T_NONE_GOOD] = {"Không có dòng hợp lệ nào để gửi. Hãy sửa bảng tính theo hướng dẫn dưới "
                     "đây rồi tải lên lại.",
                     "There is no valid row to send. Fix the spreadsheet as the messages below "
                     "say and upload it again."},
    [T_SEND_ALL] = {"Gửi tất cả %zu dòng", "Send all %zu rows"},
    [T_SEND_VALID] = {"Chỉ gửi %zu dòng hợp lệ", "Send only the %zu valid rows"},
    [T_DISCARD] = {"Huỷ tệp này", "Discard this file"},
    [T_FILE_PROBLEMS] = {"Lỗi của cả tệp", "Problems of the whole file"},
    [T_COL_ROW] = {"Dòng", "Row"},
    [T_COL_ID] = {"Mã sự kiện", "Event id"},
    [T_COL_PROV] = {"Tỉnh", "Province"},
    [T_COL_PERIOD] = {"Kỳ", "Period"},
    [T_COL_ACT] = {"Hoạt động", "Activity"},
    [T_COL_METRICS] = {"Chỉ tiêu", "Metrics"},
    [T_COL_PROBLEMS] = {"Kết quả kiểm tra", "Check"},
    [T_VALID] = {"Hợp lệ", "Valid"},
    [T_PLAN] = {"kế hoạch", "plan"},
    [T_CORRECTION] = {"sửa dòng %s", "corrects %s"},
    [T_RETRACTION] = {"rút dòng %s", "retracts %s"},
    [T_OTHER_PROVINCE] = {"dòng %ld: tỉnh %s (%s) không thuộc đơn vị của bạn, các tỉnh của đơn vị "
                          "là: %s. Hãy sửa cột tỉnh, hoặc để đơn vị phụ trách tỉnh đó gửi dòng "
                          "này.",
                          "row %ld: province %s (%s) is not one of your office's: %s. Fix the "
                          "province, or leave this row to the office that reports for it."},
    [T_NOT_ALL_VALID] = {"Chưa gửi gì: không phải mọi dòng đều hợp lệ. Hãy sửa tệp rồi tải lên "
                         "lại, hoặc chọn chỉ gửi các dòng hợp lệ.",
                         "Nothing was sent: not every row is valid. Fix the file and upload it "
                         "again, or choose to send only the valid rows."},
    [T_NO_VALID] = {"Chưa gửi gì: tệp không có dòng hợp lệ nào. Hãy sửa tệp rồi tải lên lại.",
                    "Nothing was sent: the file has no valid row. Fix it and upload it again."},
    [T_NO_ACTION] = {"Chưa gửi gì: hãy chọn gửi tất cả, chỉ gửi các dòng hợp lệ, hoặc huỷ tệp.",
                     "Nothing was sent: choose to send every row, to send only the valid rows, "
                     "or to discard the file."},
    [T_NO_SENDER] = {"Chưa gửi gì: cổng này chưa được cấu hình để gửi số liệu về trung tâm. Hãy "
                     "báo cho người quản trị; tệp vẫn được giữ (24 giờ) để bạn gửi sau.",
                     "Nothing was sent: this portal is not set up to send to the centre. Tell "
                     "your administrator; the file is kept (24 hours) so that you can send it "
                     "later."},
    [T_SEND_FAIL] = {"Chưa gửi gì: không lưu được các dòng để gửi (%s). Hãy thử lại; nếu vẫn "
                     "lỗi, hãy báo cho người quản trị.",
                     "Nothing was sent: the rows could not be stored for sending (%s). Try "
                     "again; if it fails again, tell your administrator."},
    [T_UPLOAD_AGAIN] = {"Tải lên tệp khác", "Upload another file"},
    [T_REPEATED_ID] = {"dòng %ld: mã sự kiện %s đã có ở dòng %ld của tệp này: mỗi dòng cần một "
                       "mã riêng; hãy sửa mã, hoặc xoá dòng lặp lại.",
                       "row %ld: event_id %s is already used in row %ld of this file: give each "
                       "row its own event_id, or delete the repeated row."},
};

static const char *s_t(const kc_octx_t *x, int id)
{
    return s_text[id][x->lang];
}

/* ---- names and files ---- */

static bool s_id_ok(const char *id)
{
    size_t n = 0;
    for (; id[n]; n++)
        if (!((id[n] >= '0' && id[n] <= '9') || (id[n] >= 'a' && id[n] <= 'f')))
            return false;
    return n == S_ID_HEX;
}

static bool s_ext_ok(const char *ext)
{
    return strcmp(ext, "xlsx") == 0 || strcmp(ext, "ods") == 0 || strcmp(ext, "csv") == 0;
}

/* <data>/uploads/<office>-<id><suffix>. */
static void s_path(const kc_ohttp_t *h, const char *office, const char *id, const char *suffix,
                   char *out, size_t cap)
{
    snprintf(out, cap, "%s/uploads/%s-%s%s", h->o.data_dir, office, id, suffix);
}

/* The name the browser sent, as it may be shown and recorded: control
 * characters and bytes that are not UTF-8 become '?', "" becomes "upload". */
static void s_clean_name(const char *in, char *out, size_t cap)
{
    size_t n = 0, len = strlen(in);
    for (size_t i = 0; i < len && n + 1 < cap;) {
        size_t bad = kc_text_utf8_bad_at(in + i, len - i);
        if (bad == 0) {
            out[n++] = '?';
            i++;
            continue;
        }
        /* a well-formed run: copy it whole sequences at a time, within cap */
        size_t end = i + bad;
        while (i < end && n + 1 < cap) {
            unsigned char ch = (unsigned char)in[i];
            size_t l = ch < 0x80 ? 1 : ch < 0xe0 ? 2 : ch < 0xf0 ? 3 : 4;
            if (n + l >= cap)
                break;
            if (l == 1 && (ch < 0x20 || ch == 0x7f))
                out[n++] = '?';
            else if (l == 2 && ch == 0xc2 && (unsigned char)in[i + 1] < 0xa0)
                out[n++] = '?'; /* C1 controls */
            else
                memcpy(out + n, in + i, l), n += l;
            i += l;
        }
        if (i < end)
            break; /* cap reached */
    }
    out[n] = '\0';
    if (!n)
        snprintf(out, cap, "upload");
}

typedef struct {
    char office[KC_OFFICE_ID_MAX + 1];
    char user[KC_OFFICE_USER_MAX + 1];
    char ext[8];
    int64_t created;
    char name[S_NAME_MAX + 1];
} s_meta_t;

static int s_meta_write(const char *path, const s_meta_t *m)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    FILE *f = fdopen(fd, "w");
    if (!f) {
        int e = errno;
        close(fd);
        unlink(path);
        return -e;
    }
    fprintf(f, "office=%s\nuser=%s\next=%s\ncreated=%" PRId64 "\nname=%s\n", m->office, m->user,
            m->ext, m->created, m->name);
    int rc = fflush(f) == 0 && fsync(fileno(f)) == 0 ? 0 : -errno;
    if (fclose(f) != 0 && rc == 0)
        rc = -errno;
    if (rc)
        unlink(path);
    return rc;
}

/* 0, or KC_ENOTFOUND (missing, or not a sidecar of ours for that office). */
static int s_meta_read(const char *path, const char *office, s_meta_t *m)
{
    memset(m, 0, sizeof *m);
    FILE *f = fopen(path, "re");
    if (!f)
        return KC_ENOTFOUND;
    char line[512];
    int have = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        char *eq = strchr(line, '=');
        if (!eq)
            continue;
        *eq = '\0';
        const char *v = eq + 1;
        if (strcmp(line, "office") == 0 && strlen(v) < sizeof m->office)
            snprintf(m->office, sizeof m->office, "%s", v), have |= 1;
        else if (strcmp(line, "user") == 0 && strlen(v) < sizeof m->user)
            snprintf(m->user, sizeof m->user, "%s", v), have |= 2;
        else if (strcmp(line, "ext") == 0 && strlen(v) < sizeof m->ext)
            snprintf(m->ext, sizeof m->ext, "%s", v), have |= 4;
        else if (strcmp(line, "created") == 0)
            m->created = strtoll(v, NULL, 10), have |= 8;
        else if (strcmp(line, "name") == 0)
            snprintf(m->name, sizeof m->name, "%s", v), have |= 16;
    }
    fclose(f);
    if (have != 31 || strcmp(m->office, office) != 0 || !s_ext_ok(m->ext))
        return KC_ENOTFOUND;
    return 0;
}

/* Remove uploads (and leftover up-* files) last changed more than S_KEEP_S ago. */
static void s_cleanup(const kc_ohttp_t *h)
{
    char dir[S_PATH_MAX];
    snprintf(dir, sizeof dir, "%s/uploads", h->o.data_dir);
    DIR *d = opendir(dir);
    if (!d)
        return;
    time_t now = time(NULL);
    unsigned removed = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *n = e->d_name;
        const char *dash = strrchr(n, '-');
        if (n[0] == '.' || !dash)
            continue;
        /* ours only: up-XXXXXX, or OFFICE-<32 hex>.{xlsx,ods,csv,meta,claim} */
        bool ours = strncmp(n, "up-", 3) == 0;
        if (!ours) {
            const char *dot = strchr(dash, '.');
            char id[S_ID_HEX + 1];
            if (dot && dot - dash - 1 == S_ID_HEX) {
                memcpy(id, dash + 1, S_ID_HEX);
                id[S_ID_HEX] = '\0';
                ours = s_id_ok(id) && (s_ext_ok(dot + 1) || strcmp(dot + 1, "meta") == 0 ||
                                       strcmp(dot + 1, "claim") == 0);
            }
        }
        struct stat st;
        if (!ours || fstatat(dirfd(d), n, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (now - st.st_mtime > S_KEEP_S && unlinkat(dirfd(d), n, 0) == 0)
            removed++;
    }
    closedir(d);
    if (removed)
        kc_info("KC-OFF-076 removed %u upload file(s) older than 24 hours from %s", removed, dir);
}

/* msg into out[cap] with every occurrence of the server's path (then of its
 * base name) replaced by the clerk's name for the file. */
static void s_named(const char *msg, const char *path, const char *name, char *out, size_t cap)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t lp = strlen(path), lb = strlen(base), ln = strlen(name), n = 0;
    for (const char *p = msg; *p && n + 1 < cap;) {
        const char *put = p;
        size_t l = 1;
        if (lp && strncmp(p, path, lp) == 0)
            put = name, l = ln, p += lp;
        else if (lb && strncmp(p, base, lb) == 0)
            put = name, l = ln, p += lb;
        else
            p++;
        if (n + l >= cap)
            break;
        memcpy(out + n, put, l);
        n += l;
    }
    out[n] = '\0';
}

static void s_esc_named(FILE *f, const char *msg, const char *path, const char *name)
{
    char buf[2048];
    s_named(msg, path, name, buf, sizeof buf);
    kc_oesc(f, buf);
}

/* ---- what a file is ---- */

enum { S_KIND_ZIP = -1, S_KIND_TEXT = -2, S_KIND_EMPTY = -3 };

/* S_KIND_ZIP, S_KIND_TEXT, S_KIND_EMPTY, a T_KIND_* text (refused), or
 * -errno. *ods: a zip whose first member is an OpenDocument spreadsheet's
 * mimetype. */
static int s_sniff(const char *path, bool *ods)
{
    *ods = false;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    unsigned char *b = malloc(S_SNIFF);
    if (!b) {
        close(fd);
        return -ENOMEM;
    }
    size_t n = 0;
    while (n < S_SNIFF) {
        ssize_t r = read(fd, b + n, S_SNIFF - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    int kind;
    static const char ods_mime[] = "mimetypeapplication/vnd.oasis.opendocument.spreadsheet";
    if (n == 0)
        kind = S_KIND_EMPTY;
    else if (n >= 4 && memcmp(b, "PK\x03\x04", 4) == 0) {
        kind = S_KIND_ZIP;
        *ods = n >= 30 + sizeof ods_mime - 1 && memcmp(b + 30, ods_mime, sizeof ods_mime - 1) == 0;
    } else if (n >= 4 && memcmp(b, "PK", 2) == 0)
        kind = S_KIND_ZIP; /* an empty or spanned zip: the import layer says what is wrong */
    else if (n >= 4 && memcmp(b, "%PDF", 4) == 0)
        kind = T_KIND_PDF;
    else if (n >= 2 && memcmp(b, "MZ", 2) == 0)
        kind = T_KIND_EXE;
    else if (n >= 4 && memcmp(b,
                              "\x7f"
                              "ELF",
                              4) == 0)
        kind = T_KIND_ELF;
    else if (n >= 8 && memcmp(b, "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 8) == 0)
        kind = T_KIND_OLE;
    else if ((n >= 8 && memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0) ||
             (n >= 3 && memcmp(b, "\xff\xd8\xff", 3) == 0) || (n >= 4 && memcmp(b, "GIF8", 4) == 0))
        kind = T_KIND_IMAGE;
    else if ((n >= 2 && memcmp(b, "\x1f\x8b", 2) == 0) || (n >= 4 && memcmp(b, "Rar!", 4) == 0) ||
             (n >= 6 && memcmp(b, "7z\xbc\xaf\x27\x1c", 6) == 0) ||
             (n >= 3 && memcmp(b, "BZh", 3) == 0) ||
             (n >= 6 && memcmp(b,
                               "\xfd"
                               "7zXZ",
                               5) == 0))
        kind = T_KIND_ARCHIVE;
    else if (n >= 2 && ((b[0] == 0xff && b[1] == 0xfe) || (b[0] == 0xfe && b[1] == 0xff)))
        kind = S_KIND_TEXT; /* UTF-16 with its byte order mark (Excel's "Unicode Text") */
    else {
        kind = S_KIND_TEXT;
        for (size_t i = 0; i < n; i++)
            if (b[i] < 0x20 && b[i] != '\t' && b[i] != '\n' && b[i] != '\r' && b[i] != '\f' &&
                b[i] != 0x1a) {
                kind = T_KIND_BINARY;
                break;
            }
    }
    free(b);
    return kind;
}

/* ---- reading a file through the import layer ---- */

typedef struct {
    long row;
    bool bad;
    char *event_id; /* as written (good rows: the event's) */
    char **problems;
    size_t n_problems;
    kc_event_t ev; /* good rows; strings owned */
} s_row_t;

typedef struct {
    s_row_t *rows;
    size_t n, cap;
    char **file_problems; /* header problems (the rows are not read then) */
    size_t n_file_problems;
    size_t good, bad;
    int rc;        /* 0, or the import layer's error (open or read) */
    bool too_many; /* more than S_ROWS_MAX rows: reading stopped */
    char err[512]; /* rc's reason (English) */
} s_sheet_t;

static void s_sheet_free(s_sheet_t *sh)
{
    for (size_t i = 0; i < sh->n; i++) {
        s_row_t *r = &sh->rows[i];
        free(r->event_id);
        for (size_t j = 0; j < r->n_problems; j++)
            free(r->problems[j]);
        free(r->problems);
        free((char *)r->ev.province);
        free((char *)r->ev.activity);
        free((char *)r->ev.note);
        free((char *)r->ev.corrects);
    }
    free(sh->rows);
    for (size_t i = 0; i < sh->n_file_problems; i++)
        free(sh->file_problems[i]);
    free(sh->file_problems);
    memset(sh, 0, sizeof *sh);
}

static bool s_push(char ***v, size_t *n, const char *s)
{
    char **nv = realloc(*v, (*n + 1) * sizeof **v);
    if (!nv)
        return false;
    *v = nv;
    if (!(nv[*n] = strdup(s)))
        return false;
    (*n)++;
    return true;
}

static char *s_dup(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* The office's provinces, "79 (Hồ Chí Minh), ..." */
static void s_office_provinces(const kc_office_t *of, int32_t period, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < of->n_provinces && n < cap; i++) {
        const kc_province_t *p = kc_ref_province_for(of->provinces[i], period);
        int w = snprintf(out + n, cap - n, "%s%02d (%s)", i ? ", " : "", of->provinces[i],
                         p ? p->name : "?");
        if (w < 0)
            break;
        n += (size_t)w;
    }
}

/* Rows with an event, in (province, event_id, row) order. */
static int s_id_cmp(const void *a, const void *b)
{
    const s_row_t *x = *(const s_row_t *const *)a, *y = *(const s_row_t *const *)b;
    int c = strcmp(x->ev.province, y->ev.province);
    if (!c)
        c = strcmp(x->ev.event_id, y->ev.event_id);
    return c ? c : (x->row > y->row) - (x->row < y->row);
}

/* The portal's rule: an event_id used twice in one file (per province, as
 * the centre keys them) makes the later rows bad. 0 or KC_ENOMEM. */
static int s_repeated_ids(const kc_octx_t *x, s_sheet_t *sh)
{
    const s_row_t **v = calloc(sh->n ? sh->n : 1, sizeof *v);
    if (!v)
        return KC_ENOMEM;
    size_t n = 0;
    for (size_t i = 0; i < sh->n; i++)
        if (sh->rows[i].ev.province && sh->rows[i].ev.event_id)
            v[n++] = &sh->rows[i];
    qsort(v, n, sizeof *v, s_id_cmp);
    int ret = 0;
    for (size_t i = 0, j; i < n && !ret; i = j) {
        const s_row_t *first = v[i]; /* the run of rows with first's key: the later ones */
        for (j = i + 1; j < n && !ret && strcmp(v[j]->ev.province, first->ev.province) == 0 &&
                        strcmp(v[j]->ev.event_id, first->ev.event_id) == 0;
             j++) {
            s_row_t *r = (s_row_t *)v[j];
            char msg[1024], shown[256];
            kc_text_shows(r->ev.event_id, shown, sizeof shown);
            snprintf(msg, sizeof msg, s_t(x, T_REPEATED_ID), r->row, shown, first->row);
            r->bad = true;
            if (!s_push(&r->problems, &r->n_problems, msg))
                ret = KC_ENOMEM;
        }
    }
    free(v);
    return ret;
}

/* Read path: every row (at most S_ROWS_MAX; more sets too_many and stops),
 * good rows with their event, bad rows with their problems' messages in the
 * current gettext language; the office's province rule applied when of is
 * not NULL. Returns 0 (sh filled; sh->rc says whether the file could be
 * read) or KC_ENOMEM. */
static int s_read(const char *path, const kc_octx_t *x, const kc_office_t *of, s_sheet_t *sh)
{
    memset(sh, 0, sizeof *sh);
    kci_import_t *imp = NULL;
    sh->rc = kci_import_open(&imp, path, NULL, sh->err, sizeof sh->err);
    if (sh->rc)
        return 0;
    kci_import_item_t it;
    int rc;
    int ret = 0;
    while ((rc = kci_import_next(imp, &it, sh->err, sizeof sh->err)) == 1) {
        if (it.row <= 0 || it.header_problem) {
            if (!it.is_event && !s_push(&sh->file_problems, &sh->n_file_problems, it.message)) {
                ret = KC_ENOMEM;
                break;
            }
            continue;
        }
        s_row_t *r = sh->n ? &sh->rows[sh->n - 1] : NULL;
        if (!r || r->row != it.row) {
            if (sh->n == S_ROWS_MAX) {
                sh->too_many = true;
                break;
            }
            if (sh->n == sh->cap) {
                size_t nc = sh->cap ? sh->cap * 2 : 64;
                s_row_t *nr = realloc(sh->rows, nc * sizeof *nr);
                if (!nr) {
                    ret = KC_ENOMEM;
                    break;
                }
                sh->rows = nr;
                sh->cap = nc;
            }
            r = &sh->rows[sh->n++];
            memset(r, 0, sizeof *r);
            r->row = it.row;
        }
        if (it.is_event) {
            const kc_event_t *e = it.event;
            r->ev = *e;
            r->ev.event_id = NULL;
            r->ev.province = s_dup(e->province);
            /* the activity by its code: what the portal's rows record ("KC3b") */
            const kc_activity_t *act = e->activity ? kc_ref_activity_lookup(e->activity) : NULL;
            r->ev.activity = s_dup(act ? act->code : e->activity);
            r->ev.note = s_dup(e->note);
            r->ev.corrects = s_dup(e->corrects);
            r->event_id = s_dup(e->event_id);
            r->ev.event_id = r->event_id;
            if ((e->province && !r->ev.province) || (e->activity && !r->ev.activity) ||
                (e->note && !r->ev.note) || (e->corrects && !r->ev.corrects) ||
                (e->event_id && !r->event_id)) {
                ret = KC_ENOMEM;
                break;
            }
            int code = kc_ref_parse_code(e->province ? e->province : "");
            if (of && !kc_ooffice_has(of, code)) {
                int32_t period = e->year * 100 + e->month;
                const kc_province_t *p = kc_ref_province_for(code, period);
                char mine[512], msg[1024];
                s_office_provinces(of, period, mine, sizeof mine);
                snprintf(msg, sizeof msg, s_t(x, T_OTHER_PROVINCE), it.row,
                         e->province ? e->province : "", p ? p->name : "?", mine);
                r->bad = true;
                if (!s_push(&r->problems, &r->n_problems, msg)) {
                    ret = KC_ENOMEM;
                    break;
                }
            }
        } else {
            r->bad = true;
            if (!r->event_id && it.event_id && *it.event_id &&
                !(r->event_id = strdup(it.event_id))) {
                ret = KC_ENOMEM;
                break;
            }
            if (!s_push(&r->problems, &r->n_problems, it.message)) {
                ret = KC_ENOMEM;
                break;
            }
        }
    }
    if (rc < 0)
        sh->rc = rc;
    kci_import_close(&imp);
    if (ret == 0)
        ret = s_repeated_ids(x, sh);
    for (size_t i = 0; i < sh->n; i++) {
        if (sh->rows[i].bad)
            sh->bad++;
        else
            sh->good++;
    }
    return ret;
}

/* ---- pages ---- */

/* The upload form, with an alert (msg) and its technical detail when given. */
static enum MHD_Result s_form_page(kc_ohttp_t *h, struct MHD_Connection *c, const kc_octx_t *x,
                                   const kc_odb_session_t *s, unsigned status, const char *msg,
                                   const char *detail)
{
    char *body = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&body, &len);
    if (!f)
        return MHD_NO;
    kc_opage_top(f, h, x, s_t(x, T_HEADING), s);
    fprintf(f, "<section class=\"card\" aria-labelledby=\"upload-title\">\n"
               "<h2 id=\"upload-title\">");
    kc_oesc(f, s_t(x, T_HEADING));
    fputs("</h2>\n", f);
    if (msg) {
        fputs("<p class=\"alert\" role=\"alert\" id=\"upload-error\">", f);
        kc_oesc(f, msg);
        fputs("</p>\n", f);
        if (detail && *detail) {
            fputs("<p class=\"muted detail\" id=\"upload-detail\">", f);
            kc_oesc(f, s_t(x, T_DETAIL));
            fputs(": ", f);
            kc_oesc(f, detail);
            fputs("</p>\n", f);
        }
    }
    fputs("<p class=\"muted\">", f);
    kc_oesc(f, s_t(x, T_INTRO));
    fputs("</p>\n<p><a href=\"/upload/template.xlsx\" id=\"template-link\" download>", f);
    kc_oesc(f, s_t(x, T_TEMPLATE));
    fputs("</a></p>\n<form method=\"post\" action=\"/upload\" enctype=\"multipart/form-data\" "
          "class=\"form upload-form\">\n<input type=\"hidden\" name=\"csrf\" value=\"",
          f);
    kc_oesc(f, s->csrf);
    fputs("\">\n<div class=\"field\"><label for=\"file\">", f);
    kc_oesc(f, s_t(x, T_FILE));
    fputs("</label>\n<input id=\"file\" name=\"file\" type=\"file\" required accept=\".xlsx,.ods,"
          ".csv," S_XLSX_TYPE ",application/vnd.oasis.opendocument.spreadsheet,text/csv\"></div>\n"
          "<button type=\"submit\" class=\"btn-primary\">",
          f);
    kc_oesc(f, s_t(x, T_UPLOAD_BTN));
    fputs("</button>\n</form>\n</section>\n", f);
    kc_opage_end(f);
    return kc_orespond_mem(h, c, x, status, f, &body, &len);
}

/* A form page whose message names the clerk's file. */
static enum MHD_Result s_refuse(kc_ohttp_t *h, struct MHD_Connection *c, const kc_octx_t *x,
                                const kc_odb_session_t *s, unsigned status, const char *fmt,
                                const char *name, const char *arg, const char *detail)
{
    char msg[1536];
    if (arg)
        snprintf(msg, sizeof msg, fmt, name, arg);
    else
        snprintf(msg, sizeof msg, fmt, name);
    return s_form_page(h, c, x, s, status, msg, detail);
}

/* "1.200.000" (vi) or "1,200,000" (en). */
static void s_number(FILE *f, const kc_octx_t *x, int64_t v)
{
    char digits[32];
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    snprintf(digits, sizeof digits, "%" PRIu64, u);
    if (v < 0)
        fputc('-', f);
    size_t n = strlen(digits);
    for (size_t i = 0; i < n; i++) {
        if (i && (n - i) % 3 == 0)
            fputc(x->lang ? ',' : '.', f);
        fputc(digits[i], f);
    }
}

static void s_row_html(FILE *f, const kc_octx_t *x, const s_row_t *r, const char *path,
                       const char *name)
{
    fprintf(f, "<tr class=\"%s\" id=\"row-%ld\"><td>%ld</td><td><code>", r->bad ? "bad" : "good",
            r->row, r->row);
    kc_oesc(f, r->event_id ? r->event_id : "");
    fputs("</code></td><td>", f);
    const kc_event_t *e = &r->ev;
    bool ev = e->province != NULL; /* an event was read (a good row, or the province rule) */
    if (ev) {
        int32_t period = e->year * 100 + e->month;
        const kc_province_t *p = kc_ref_province_for(kc_ref_parse_code(e->province), period);
        kc_oesc(f, e->province);
        if (p) {
            fputs(" ", f);
            kc_oesc(f, p->name);
        }
        fputs("</td><td>", f);
        if (e->year)
            fprintf(f, "%04d-%02d", e->year, e->month);
        fputs("</td><td>", f);
        const kc_activity_t *a = e->activity ? kc_ref_activity_lookup(e->activity) : NULL;
        if (a) {
            kc_oesc(f, a->code);
            fputs(" ", f);
            kc_oesc(f, x->lang ? a->label_en : a->label_vi);
        } else if (e->activity) {
            kc_oesc(f, e->activity);
        }
        char extra[160] = "";
        if (e->op == KCI_OP_CORRECTION || e->op == KCI_OP_RETRACTION)
            snprintf(extra, sizeof extra,
                     s_t(x, e->op == KCI_OP_CORRECTION ? T_CORRECTION : T_RETRACTION),
                     e->corrects ? e->corrects : "");
        else if (e->kind == KCI_KIND_PLAN)
            snprintf(extra, sizeof extra, "%s", s_t(x, T_PLAN));
        if (extra[0]) {
            fputs(" <span class=\"muted\">(", f);
            kc_oesc(f, extra);
            fputs(")</span>", f);
        }
        fputs("</td><td>", f);
        bool first = true;
        for (int m = 0; m < KCI_METRIC_COUNT; m++) {
            if (!(e->present & (1u << m)))
                continue;
            const kc_metric_info_t *mi = kc_ref_metric(m);
            if (!first)
                fputs("<br>", f);
            first = false;
            kc_oesc(f, mi ? (x->lang ? mi->label_en : mi->label_vi) : "?");
            fputs(": ", f);
            s_number(f, x, e->metrics[m]);
        }
    } else {
        fputs("</td><td></td><td></td><td>", f);
    }
    fputs("</td><td>", f);
    if (!r->bad) {
        fputs("<span class=\"ok\">", f);
        kc_oesc(f, s_t(x, T_VALID));
        fputs("</span>", f);
    } else {
        fputs("<ul class=\"problems\">", f);
        for (size_t j = 0; j < r->n_problems; j++) {
            fputs("<li>", f);
            s_esc_named(f, r->problems[j], path, name);
            fputs("</li>", f);
        }
        fputs("</ul>", f);
    }
    fputs("</td></tr>\n", f);
}

static enum MHD_Result s_preview(kc_ohttp_t *h, struct MHD_Connection *c, const kc_octx_t *x,
                                 const kc_odb_session_t *s, const char *id)
{
    const kc_office_t *of = kc_ooffice(h, s->office);
    char mpath[S_PATH_MAX], path[S_PATH_MAX];
    s_meta_t m;
    s_path(h, s->office, id, ".meta", mpath, sizeof mpath);
    if (!of || s_meta_read(mpath, s->office, &m) != 0)
        return kc_omessage(h, c, x, MHD_HTTP_NOT_FOUND, s_t(x, T_GONE), 0);
    char suffix[16];
    snprintf(suffix, sizeof suffix, ".%s", m.ext);
    s_path(h, s->office, id, suffix, path, sizeof path);
    s_sheet_t sh;
    if (s_read(path, x, of, &sh) != 0) {
        s_sheet_free(&sh);
        return kc_omessage(h, c, x, MHD_HTTP_INTERNAL_SERVER_ERROR, kc_ot(x, KC_OT_ERROR), 0);
    }
    if (sh.rc == -ENOENT) {
        s_sheet_free(&sh);
        return kc_omessage(h, c, x, MHD_HTTP_NOT_FOUND, s_t(x, T_GONE), 0);
    }
    char *body = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&body, &len);
    if (!f) {
        s_sheet_free(&sh);
        return MHD_NO;
    }
    kc_opage_top(f, h, x, s_t(x, T_PREVIEW), s);
    fputs("<section class=\"card\" aria-labelledby=\"preview-title\">\n<h2 id=\"preview-title\">",
          f);
    kc_oesc(f, s_t(x, T_PREVIEW));
    fprintf(f, "</h2>\n<dl class=\"facts\">\n<dt>%s</dt><dd id=\"file-name\">",
            s_t(x, T_FILE_LABEL));
    kc_oesc(f, m.name);
    fprintf(f, "</dd>\n<dt>%s</dt><dd>", s_t(x, T_UPLOADED_BY));
    kc_oesc(f, m.user);
    fputs("</dd>\n</dl>\n", f);
    bool unreadable = sh.rc != 0 || sh.too_many;
    if (unreadable) {
        /* read when stored; changed since (a newer import layer): say so, send nothing */
        char msg[1536];
        if (sh.too_many)
            snprintf(msg, sizeof msg, s_t(x, T_TOO_MANY), m.name, S_ROWS_MAX, S_ROWS_MAX);
        else
            snprintf(msg, sizeof msg, s_t(x, T_UNREADABLE), m.name);
        fputs("<p class=\"alert\" role=\"alert\">", f);
        kc_oesc(f, msg);
        fputs("</p>\n", f);
        if (sh.rc) {
            fprintf(f, "<p class=\"muted detail\">%s: ", s_t(x, T_DETAIL));
            s_esc_named(f, sh.err, path, m.name);
            fputs("</p>\n", f);
        }
    }
    fputs("<p class=\"counts\" id=\"counts\">", f);
    fprintf(f, s_t(x, T_COUNTS), sh.good, sh.bad);
    fputs("</p>\n", f);
    bool file_bad = sh.n_file_problems > 0;
    if (!unreadable) {
        const char *say = file_bad || sh.good == 0 ? s_t(x, T_NONE_GOOD)
                          : sh.bad                 ? s_t(x, T_SOME_BAD)
                                                   : s_t(x, T_ALL_GOOD);
        fprintf(f, "<p class=\"%s\" id=\"verdict\">",
                sh.bad || file_bad || !sh.good ? "alert" : "notice");
        kc_oesc(f, say);
        fputs("</p>\n", f);
    }
    fputs("<form method=\"post\" action=\"/upload/", f);
    kc_oesc(f, id);
    fputs("\" class=\"actions\">\n<input type=\"hidden\" name=\"csrf\" value=\"", f);
    kc_oesc(f, s->csrf);
    fputs("\">\n", f);
    char label[160];
    if (!unreadable && !file_bad && sh.good && !sh.bad) {
        snprintf(label, sizeof label, s_t(x, T_SEND_ALL), sh.good);
        fputs("<button type=\"submit\" name=\"action\" value=\"send\" class=\"btn-primary\" "
              "id=\"send-all\">",
              f);
        kc_oesc(f, label);
        fputs("</button>\n", f);
    }
    if (!unreadable && !file_bad && sh.good && sh.bad) {
        snprintf(label, sizeof label, s_t(x, T_SEND_VALID), sh.good);
        fputs("<button type=\"submit\" name=\"action\" value=\"send_valid\" class=\"btn-primary\" "
              "id=\"send-valid\">",
              f);
        kc_oesc(f, label);
        fputs("</button>\n", f);
    }
    fputs("<button type=\"submit\" name=\"action\" value=\"discard\" class=\"btn-secondary\" "
          "id=\"discard\">",
          f);
    kc_oesc(f, s_t(x, T_DISCARD));
    fprintf(f, "</button>\n<a href=\"/upload\">%s</a>\n</form>\n", s_t(x, T_UPLOAD_AGAIN));
    if (file_bad) {
        fprintf(f, "<h3>%s</h3>\n<ul class=\"problems\" id=\"file-problems\">\n",
                s_t(x, T_FILE_PROBLEMS));
        for (size_t i = 0; i < sh.n_file_problems; i++) {
            fputs("<li>", f);
            s_esc_named(f, sh.file_problems[i], path, m.name);
            fputs("</li>\n", f);
        }
        fputs("</ul>\n", f);
    }
    if (sh.n) {
        fprintf(f,
                "<div class=\"scroll\">\n<table class=\"grid preview\" id=\"rows\">\n<thead><tr>"
                "<th scope=\"col\">%s</th><th scope=\"col\">%s</th><th scope=\"col\">%s</th>"
                "<th scope=\"col\">%s</th><th scope=\"col\">%s</th><th scope=\"col\">%s</th>"
                "<th scope=\"col\">%s</th></tr></thead>\n<tbody>\n",
                s_t(x, T_COL_ROW), s_t(x, T_COL_ID), s_t(x, T_COL_PROV), s_t(x, T_COL_PERIOD),
                s_t(x, T_COL_ACT), s_t(x, T_COL_METRICS), s_t(x, T_COL_PROBLEMS));
        for (size_t i = 0; i < sh.n; i++)
            s_row_html(f, x, &sh.rows[i], path, m.name);
        fputs("</tbody>\n</table>\n</div>\n", f);
    }
    fputs("</section>\n", f);
    kc_opage_end(f);
    s_sheet_free(&sh);
    return kc_orespond_mem(h, c, x, MHD_HTTP_OK, f, &body, &len);
}

static enum MHD_Result s_template(kc_ohttp_t *h, struct MHD_Connection *c, const kc_octx_t *x)
{
    char hex[KC_ODB_CSRF_HEX + 1], path[S_PATH_MAX], err[512];
    kc_orandom_hex(hex);
    snprintf(path, sizeof path, "%s/uploads/tpl-%.32s.xlsx", h->o.data_dir, hex);
    int rc = kci_template_write(path, KCI_TEMPLATE_XLSX, x->lang ? "en" : "vi", err, sizeof err);
    char *data = NULL;
    size_t len = 0;
    if (rc == 0) {
        FILE *f = fopen(path, "rbe");
        struct stat st;
        if (f && fstat(fileno(f), &st) == 0 && st.st_size > 0 && st.st_size < (64 << 20) &&
            (data = malloc((size_t)st.st_size)) &&
            fread(data, 1, (size_t)st.st_size, f) == (size_t)st.st_size)
            len = (size_t)st.st_size;
        else
            rc = KC_EIO, snprintf(err, sizeof err, "cannot read it back");
        if (f)
            fclose(f);
    }
    unlink(path);
    if (rc != 0) {
        free(data);
        kc_error("KC-OFF-078 cannot write the upload template: %s", err);
        return kc_omessage(h, c, x, MHD_HTTP_INTERNAL_SERVER_ERROR, kc_ot(x, KC_OT_ERROR), 0);
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(data);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, S_XLSX_TYPE);
    MHD_add_response_header(r, "Content-Disposition",
                            x->lang ? "attachment; filename=\"report-template.xlsx\""
                                    : "attachment; filename=\"mau-bao-cao.xlsx\"");
    kc_oadd_headers(h, r);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result s_get(kc_ohttp_t *h, struct MHD_Connection *c, const kc_octx_t *x,
                             const kc_odb_session_t *s, const char *url)
{
    if (strcmp(url, "/upload") == 0)
        return s_form_page(h, c, x, s, MHD_HTTP_OK, NULL, NULL);
    const char *rest = url + strlen("/upload/");
    if (strcmp(rest, "template.xlsx") == 0)
        return s_template(h, c, x);
    if (!s_id_ok(rest))
        return kc_omessage(h, c, x, MHD_HTTP_NOT_FOUND, kc_ot(x, KC_OT_NOT_FOUND), 0);
    return s_preview(h, c, x, s, rest);
}

enum MHD_Result kc_oupload_get(kc_ohttp_t *h, struct MHD_Connection *c, const kc_octx_t *x,
                               const kc_odb_session_t *s, const char *url)
{
    kc_i18n_use(x->lang ? KC_LANG_EN : KC_LANG_VI);
    enum MHD_Result ret = s_get(h, c, x, s, url);
    kc_i18n_use(KC_LANG_VI);
    return ret;
}

/* The uploaded file refused: removed now, before the answer (not at the
 * request's completion, after the client has read it). */
static void s_drop(kc_oreq_t *r)
{
    if (r->file_path[0] && unlink(r->file_path) == 0)
        r->file_keep = true;
}

/* POST /upload: check the file, keep it, 303 to its preview. */
static enum MHD_Result s_store(kc_ohttp_t *h, struct MHD_Connection *c, const kc_octx_t *x,
                               const kc_odb_session_t *s, kc_oreq_t *r)
{
    const kc_office_t *of = kc_ooffice(h, s->office);
    if (!of)
        return kc_omessage(h, c, x, MHD_HTTP_FORBIDDEN, kc_ot(x, KC_OT_NOT_SIGNED_IN), 0);
    if (!r->file_path[0])
        return s_form_page(h, c, x, s, MHD_HTTP_BAD_REQUEST, s_t(x, T_NO_FILE), NULL);
    s_meta_t m = {0};
    s_clean_name(r->file_name, m.name, sizeof m.name);
    bool ods = false;
    int kind = s_sniff(r->file_path, &ods);
    if (kind >= 0 || kind == S_KIND_EMPTY) {
        kc_info("KC-OFF-071 upload of %s/%s refused: %s (%" PRIu64 " bytes) is %s", s->office,
                s->user, m.name, r->file_size, kind >= 0 ? s_text[kind][1] : "empty");
        s_drop(r);
        if (kind == S_KIND_EMPTY)
            return s_refuse(h, c, x, s, MHD_HTTP_UNPROCESSABLE_CONTENT, s_t(x, T_EMPTY), m.name,
                            NULL, NULL);
        return s_refuse(h, c, x, s, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, s_t(x, T_NOT_SHEET), m.name,
                        s_t(x, kind), NULL);
    }
    if (kind < 0 && kind != S_KIND_ZIP && kind != S_KIND_TEXT) {
        kc_error("KC-OFF-077 cannot read the upload %s: %s", r->file_path, strerror(-kind));
        s_drop(r);
        return s_form_page(h, c, x, s, MHD_HTTP_INTERNAL_SERVER_ERROR, s_t(x, T_STORE_FAIL), NULL);
    }
    snprintf(m.ext, sizeof m.ext, "%s", kind == S_KIND_TEXT ? "csv" : ods ? "ods" : "xlsx");
    /* read it once: a file that cannot be previewed is not kept */
    s_sheet_t sh;
    if (s_read(r->file_path, x, NULL, &sh) != 0) {
        s_sheet_free(&sh);
        s_drop(r);
        return s_form_page(h, c, x, s, MHD_HTTP_INTERNAL_SERVER_ERROR, s_t(x, T_STORE_FAIL), NULL);
    }
    if (sh.rc || sh.too_many) {
        char detail[2048] = "";
        if (sh.rc)
            s_named(sh.err, r->file_path, m.name, detail, sizeof detail);
        kc_info("KC-OFF-071 upload of %s/%s refused: %s (%" PRIu64 " bytes): %s", s->office,
                s->user, m.name, r->file_size, sh.too_many ? "more than 5000 rows" : sh.err);
        bool too_many = sh.too_many;
        s_sheet_free(&sh);
        s_drop(r);
        if (too_many) {
            char msg[1536];
            snprintf(msg, sizeof msg, s_t(x, T_TOO_MANY), m.name, S_ROWS_MAX, S_ROWS_MAX);
            return s_form_page(h, c, x, s, MHD_HTTP_UNPROCESSABLE_CONTENT, msg, NULL);
        }
        return s_refuse(h, c, x, s, MHD_HTTP_UNPROCESSABLE_CONTENT, s_t(x, T_UNREADABLE), m.name,
                        NULL, detail);
    }
    s_sheet_free(&sh);
    /* keep it: the sidecar first, then the file under its final name */
    s_cleanup(h);
    char hex[KC_ODB_CSRF_HEX + 1], id[S_ID_HEX + 1], mpath[S_PATH_MAX], path[S_PATH_MAX];
    kc_orandom_hex(hex);
    snprintf(id, sizeof id, "%.*s", S_ID_HEX, hex);
    snprintf(m.office, sizeof m.office, "%s", s->office);
    snprintf(m.user, sizeof m.user, "%s", s->user);
    m.created = (int64_t)time(NULL);
    char suffix[16];
    snprintf(suffix, sizeof suffix, ".%s", m.ext);
    s_path(h, s->office, id, ".meta", mpath, sizeof mpath);
    s_path(h, s->office, id, suffix, path, sizeof path);
    int rc = s_meta_write(mpath, &m);
    if (rc == 0 && rename(r->file_path, path) != 0) {
        rc = -errno;
        unlink(mpath);
    }
    if (rc != 0) {
        kc_error("KC-OFF-077 cannot keep the upload %s as %s: %s", r->file_path, path,
                 strerror(-rc));
        s_drop(r);
        return s_form_page(h, c, x, s, MHD_HTTP_INTERNAL_SERVER_ERROR, s_t(x, T_STORE_FAIL), NULL);
    }
    r->file_keep = true;
    kc_info("KC-OFF-070 upload %s by %s/%s: %s (%s, %" PRIu64 " bytes)", id, s->office, s->user,
            m.name, m.ext, r->file_size);
    char to[64];
    snprintf(to, sizeof to, "/upload/%s", id);
    return kc_oredirect(h, c, x, to, NULL, 0);
}

/* POST /upload/<id>: send, send the valid rows, or discard. */
static enum MHD_Result s_act(kc_ohttp_t *h, struct MHD_Connection *c, const kc_octx_t *x,
                             const kc_odb_session_t *s, const char *id, kc_oreq_t *r)
{
    const kc_office_t *of = kc_ooffice(h, s->office);
    const char *action = kc_oreq_field(r, "action");
    bool send = action && strcmp(action, "send") == 0;
    bool send_valid = action && strcmp(action, "send_valid") == 0;
    bool discard = action && strcmp(action, "discard") == 0;
    char mpath[S_PATH_MAX], cpath[S_PATH_MAX], path[S_PATH_MAX];
    s_meta_t m;
    s_path(h, s->office, id, ".meta", mpath, sizeof mpath);
    s_path(h, s->office, id, ".claim", cpath, sizeof cpath);
    if (!of || s_meta_read(mpath, s->office, &m) != 0)
        return kc_omessage(h, c, x, MHD_HTTP_NOT_FOUND, s_t(x, T_GONE), 0);
    if (!send && !send_valid && !discard)
        return kc_omessage(h, c, x, MHD_HTTP_BAD_REQUEST, s_t(x, T_NO_ACTION), 0);
    char suffix[16];
    snprintf(suffix, sizeof suffix, ".%s", m.ext);
    s_path(h, s->office, id, suffix, path, sizeof path);
    /* claim it: of two requests for the same upload, one goes on */
    if (rename(mpath, cpath) != 0)
        return kc_omessage(h, c, x, MHD_HTTP_NOT_FOUND, s_t(x, T_GONE), 0);
    if (discard) {
        unlink(path);
        unlink(cpath);
        kc_info("KC-OFF-075 upload %s discarded by %s/%s (%s)", id, s->office, s->user, m.name);
        return kc_oredirect(h, c, x, "/upload", NULL, 0);
    }
    s_sheet_t sh;
    unsigned status = 0;
    const char *msg = NULL;
    char buf[1024];
    if (s_read(path, x, of, &sh) != 0) {
        status = MHD_HTTP_INTERNAL_SERVER_ERROR;
        msg = kc_ot(x, KC_OT_ERROR);
    } else if (sh.rc == -ENOENT) {
        status = MHD_HTTP_NOT_FOUND;
        msg = s_t(x, T_GONE);
    } else if (sh.rc || sh.too_many) {
        status = MHD_HTTP_UNPROCESSABLE_CONTENT;
        snprintf(buf, sizeof buf, s_t(x, T_UNREADABLE), m.name);
        msg = buf;
    } else if (sh.n_file_problems || sh.good == 0) {
        status = MHD_HTTP_CONFLICT;
        msg = s_t(x, T_NO_VALID);
    } else if (send && sh.bad) {
        status = MHD_HTTP_CONFLICT;
        msg = s_t(x, T_NOT_ALL_VALID);
    } else if (!h->o.send) {
        status = MHD_HTTP_SERVICE_UNAVAILABLE;
        msg = s_t(x, T_NO_SENDER);
    }
    if (msg) {
        s_sheet_free(&sh);
        if (rename(cpath, mpath) != 0)
            kc_warn("KC-OFF-074 cannot give the upload %s back: %s", id, strerror(errno));
        return kc_omessage(h, c, x, status, msg, 0);
    }
    kc_event_t *evs = calloc(sh.good, sizeof *evs);
    long *rows = calloc(sh.good, sizeof *rows);
    size_t n = 0;
    if (evs && rows)
        for (size_t i = 0; i < sh.n; i++)
            if (!sh.rows[i].bad) {
                evs[n] = sh.rows[i].ev;
                rows[n++] = sh.rows[i].row;
            }
    uint64_t sub = 0;
    char err[512] = "";
    int rc = evs && rows ? kc_osend_submit(h->o.send, s->office, s->user, "upload", m.name, evs,
                                           rows, n, &sub, err, sizeof err)
                         : KC_ENOMEM;
    free(evs);
    free(rows);
    size_t skipped = sh.bad;
    s_sheet_free(&sh);
    if (rc != 0) {
        kc_error("KC-OFF-074 upload %s of %s/%s not sent: %s", id, s->office, s->user,
                 err[0] ? err : kc_strerror(rc));
        if (rename(cpath, mpath) != 0)
            kc_warn("KC-OFF-074 cannot give the upload %s back: %s", id, strerror(errno));
        snprintf(buf, sizeof buf, s_t(x, T_SEND_FAIL), err[0] ? err : kc_strerror(rc));
        return kc_omessage(h, c, x, MHD_HTTP_INTERNAL_SERVER_ERROR, buf, 0);
    }
    unlink(path);
    unlink(cpath);
    kc_info("KC-OFF-073 upload %s of %s/%s sent as submission %" PRIu64 ": %zu rows%s (%zu left "
            "out)",
            id, s->office, s->user, sub, n, send_valid ? ", valid rows only" : "", skipped);
    char to[64];
    snprintf(to, sizeof to, "/submissions/%" PRIu64, sub);
    return kc_oredirect(h, c, x, to, NULL, 0);
}

static enum MHD_Result s_post(kc_ohttp_t *h, struct MHD_Connection *c, const kc_octx_t *x,
                              const kc_odb_session_t *s, const char *url, kc_oreq_t *r)
{
    if (strcmp(url, "/upload") == 0)
        return s_store(h, c, x, s, r);
    const char *rest = url + strlen("/upload/");
    if (!s_id_ok(rest))
        return kc_omessage(h, c, x, MHD_HTTP_NOT_FOUND, kc_ot(x, KC_OT_NOT_FOUND), 0);
    return s_act(h, c, x, s, rest, r);
}

enum MHD_Result kc_oupload_post(kc_ohttp_t *h, struct MHD_Connection *c, const kc_octx_t *x,
                                const kc_odb_session_t *s, const char *url, kc_oreq_t *r)
{
    kc_i18n_use(x->lang ? KC_LANG_EN : KC_LANG_VI);
    enum MHD_Result ret = s_post(h, c, x, s, url, r);
    kc_i18n_use(KC_LANG_VI);
    return ret;
}
