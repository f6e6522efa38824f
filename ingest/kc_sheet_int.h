/* kc_sheet_int.h - private to the readers behind kc_sheet.h: kc_sheet.c opens
 * the file, decides its format and hands it to one reader; each reader fills
 * the ops below. Not installed, not used outside ingest/kc_sheet*.c and their
 * tests. */
#ifndef KC_SHEET_INT_H
#define KC_SHEET_INT_H

#include "kc_sheet.h"

#include <stdbool.h>

typedef struct {
    /* kc_sheet_next's contract, for this reader */
    int (*next)(kc_sheet_t *s, kc_sheet_row_t *row, char *err, size_t cap);
    /* free the reader's state (impl); the kc_sheet_t itself is kc_sheet.c's */
    void (*close)(kc_sheet_t *s);
} kc_sheet_ops_t;

struct kc_sheet {
    const kc_sheet_ops_t *ops;
    void *impl;           /* the reader's state */
    kc_sheet_opts_t opts; /* with defaults filled in (max_bytes, max_cells) */
    const char *path;     /* as given to kc_sheet_open (borrowed) */
    const char *format;   /* "csv", "xlsx", "ods" */
    char name[256];       /* the sheet's name (xlsx, ods), "" for a CSV */
    char delimiter;       /* the CSV delimiter used */
    char encoding[32];    /* the encoding used ("UTF-8", ...) */
};

/* Readers: set s->ops, s->impl (and name/delimiter/encoding) and return 0, or
 * a negative KC_E* with a reason in err[cap] (then s->impl is NULL and
 * nothing is held). s->opts and s->path are set before the call. */
int kc_sheet_csv_open(kc_sheet_t *s, char *err, size_t cap);
int kc_sheet_xlsx_open(kc_sheet_t *s, char *err, size_t cap);
int kc_sheet_ods_open(kc_sheet_t *s, char *err, size_t cap);
/* true if path is a zip whose `mimetype` member says an OpenDocument spreadsheet */
bool kc_sheet_ods_sniff(const char *path);

#endif
