/* kc_sheet.c - open a spreadsheet file and hand it to its reader (kc_sheet.h). */
#include "kc_sheet_int.h"

#include "kc_err.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define S_MAX_BYTES ((uint64_t)256 << 20)
#define S_MAX_CELLS 1024

/* KC_SHEET_ODS for an OpenDocument spreadsheet (below), else
 * KC_SHEET_XLSX if the file starts as a zip container does, or as an OLE
 * compound file (what Excel writes for a password-protected workbook, or an
 * old .xls: the xlsx reader refuses it saying so), else KC_SHEET_CSV; a
 * negative -errno if it cannot be read. */
static int s_sniff(const char *path, char *err, size_t cap)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        snprintf(err, cap, "%s: cannot open: %s", path, strerror(e));
        return -e;
    }
    unsigned char b[4] = {0};
    size_t n = fread(b, 1, sizeof b, f);
    int rc = ferror(f) ? -EIO : 0;
    fclose(f);
    if (rc != 0) {
        snprintf(err, cap, "%s: cannot read: %s", path, strerror(EIO));
        return rc;
    }
    bool zip = n == 4 && memcmp(b, "PK\3\4", 4) == 0;
    bool ole = n == 4 && memcmp(b, "\xD0\xCF\x11\xE0", 4) == 0;
    /* an OpenDocument spreadsheet by its `mimetype` member, or by its name
     * when the container cannot tell (truncated: the ods reader says so) */
    const char *dot = strrchr(path, '.');
    if ((zip && kc_sheet_ods_sniff(path)) || (dot && strcasecmp(dot, ".ods") == 0))
        return KC_SHEET_ODS;
    /* a damaged or mislabelled workbook is refused as one, not read as text */
    bool xlsx_name = dot && (strcasecmp(dot, ".xlsx") == 0 || strcasecmp(dot, ".xlsm") == 0);
    return zip || ole || xlsx_name ? KC_SHEET_XLSX : KC_SHEET_CSV;
}

int kc_sheet_open(kc_sheet_t **out, const char *path, const kc_sheet_opts_t *opts, char *err,
                  size_t cap)
{
    char dummy[1];
    if (!err || !cap) {
        err = dummy;
        cap = sizeof dummy;
    }
    err[0] = '\0';
    if (!out || !path) {
        snprintf(err, cap, "kc_sheet_open: no file given");
        return KC_EINVAL;
    }
    *out = NULL;
    kc_sheet_t *s = calloc(1, sizeof *s);
    if (!s)
        return KC_ENOMEM;
    if (opts)
        s->opts = *opts;
    if (!s->opts.max_bytes)
        s->opts.max_bytes = S_MAX_BYTES;
    if (!s->opts.max_cells)
        s->opts.max_cells = S_MAX_CELLS;
    s->path = path;
    int format = s->opts.format;
    if (format == KC_SHEET_AUTO)
        format = s_sniff(path, err, cap);
    int rc;
    if (format < 0)
        rc = format;
    else if (format == KC_SHEET_XLSX)
        rc = kc_sheet_xlsx_open(s, err, cap);
    else if (format == KC_SHEET_ODS)
        rc = kc_sheet_ods_open(s, err, cap);
    else
        rc = kc_sheet_csv_open(s, err, cap);
    if (rc != 0) {
        free(s);
        return rc;
    }
    *out = s;
    return 0;
}

int kc_sheet_next(kc_sheet_t *s, kc_sheet_row_t *row, char *err, size_t cap)
{
    char dummy[1];
    if (!err || !cap) {
        err = dummy;
        cap = sizeof dummy;
    }
    err[0] = '\0';
    if (!s || !row)
        return KC_EINVAL;
    return s->ops->next(s, row, err, cap);
}

const char *kc_sheet_format_name(const kc_sheet_t *s)
{
    return s->format ? s->format : "";
}

const char *kc_sheet_name(const kc_sheet_t *s)
{
    return s->name;
}

char kc_sheet_delimiter(const kc_sheet_t *s)
{
    return s->delimiter;
}

const char *kc_sheet_encoding(const kc_sheet_t *s)
{
    return s->encoding;
}

void kc_sheet_close(kc_sheet_t **sp)
{
    if (!sp || !*sp)
        return;
    kc_sheet_t *s = *sp;
    if (s->ops && s->ops->close)
        s->ops->close(s);
    free(s);
    *sp = NULL;
}
