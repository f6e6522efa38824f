/* sheet_test_util.h - what the xlsx and ods reader tests (sheet_xlsx_test.c,
 * sheet_ods_test.c) share: reading a whole file through kc_sheet.h into rows
 * held by the test, checking rows and errors, comparing with the CSV a
 * committed file came from, and libzip surgery on a real file for the
 * bad-input cases.
 *
 * DESIGN
 * Included by one test file each (static inline: a helper a test does not
 * use costs nothing). st_read keeps the first ST_MAXROWS rows and
 * ST_MAXCELLS cells of each, counts every row handed over and says whether
 * anything was dropped (clipped), so that a test reading a huge repeated row
 * can still count it and one that expects every row can assert that none
 * was dropped. Files go to st_dir, a temp dir made by st_setup and removed by
 * st_teardown (cmocka fixtures) around each test; committed files are found through
 * KC_SOURCE_DIR (set by kc_add_test).
 */
#ifndef SHEET_TEST_UTIL_H
#define SHEET_TEST_UTIL_H

#include "kc_sheet.h"

#include <zip.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define ST_MAXROWS  80
#define ST_MAXCELLS 32

typedef struct {
    long row;
    size_t n;
    char *cells[ST_MAXCELLS];
} row_t;

typedef struct {
    row_t rows[ST_MAXROWS];
    int n;
    long nrows;   /* every row handed over (only the first ST_MAXROWS are kept) */
    long lastrow; /* the last row's number */
    bool clipped; /* a row or a cell was not kept */
    int rc;       /* kc_sheet_open's, then kc_sheet_next's last */
    char err[600];
    char name[256];
    char format[8]; /* "" when kc_sheet_open failed */
} got_t;

static char st_dir[256];

/* name in the test's temp dir (4 results may be held at once) */
static inline const char *st_path(const char *name)
{
    static char buf[4][512];
    static int i;
    char *p = buf[i++ % 4];
    snprintf(p, 512, "%s/%s", st_dir, name);
    return p;
}

/* a committed file under tests/import/data/ (4 results may be held at once) */
static inline const char *st_data(const char *name)
{
    static char buf[4][1024];
    static int i;
    const char *src = getenv("KC_SOURCE_DIR");
    assert_non_null(src);
    char *p = buf[i++ % 4];
    snprintf(p, 1024, "%s/tests/import/data/%s", src, name);
    return p;
}

static inline void st_got_free(got_t *g)
{
    for (int i = 0; i < g->n; i++)
        for (size_t j = 0; j < g->rows[i].n; j++)
            free(g->rows[i].cells[j]);
    free(g);
}

/* Read every row of path (rc < 0 stops); rows come in ascending order, and
 * after the end or an error kc_sheet_next stays there. */
static inline got_t *st_read(const char *path, const kc_sheet_opts_t *opts)
{
    got_t *g = calloc(1, sizeof *g);
    assert_non_null(g);
    kc_sheet_t *s = NULL;
    g->rc = kc_sheet_open(&s, path, opts, g->err, sizeof g->err);
    if (g->rc != 0) {
        assert_null(s);
        assert_true(g->err[0] != '\0');
        return g;
    }
    snprintf(g->format, sizeof g->format, "%s", kc_sheet_format_name(s));
    snprintf(g->name, sizeof g->name, "%s", kc_sheet_name(s));
    kc_sheet_row_t r;
    while ((g->rc = kc_sheet_next(s, &r, g->err, sizeof g->err)) == 1) {
        assert_true(r.row > g->lastrow); /* ascending, as the sheet shows them */
        g->lastrow = r.row;
        g->nrows++;
        if (g->n == ST_MAXROWS) {
            g->clipped = true;
            continue;
        }
        row_t *o = &g->rows[g->n++];
        o->row = r.row;
        o->n = r.ncells < ST_MAXCELLS ? r.ncells : ST_MAXCELLS; /* the first ST_MAXCELLS */
        g->clipped = g->clipped || o->n < r.ncells;
        for (size_t j = 0; j < o->n; j++) {
            assert_non_null(r.cells[j]);
            o->cells[j] = strdup(r.cells[j]);
        }
    }
    if (g->rc < 0)
        assert_true(g->err[0] != '\0');
    char err2[600];
    int again = kc_sheet_next(s, &r, err2, sizeof err2);
    assert_int_equal(again, g->rc < 0 ? g->rc : 0);
    kc_sheet_close(&s);
    assert_null(s);
    return g;
}

static inline const row_t *st_row(const got_t *g, long row)
{
    for (int i = 0; i < g->n; i++)
        if (g->rows[i].row == row)
            return &g->rows[i];
    return NULL;
}

/* Row `row` has exactly the cells given (NULL-terminated). */
static inline void st_expect(const got_t *g, long row, ...)
{
    const row_t *r = st_row(g, row);
    if (!r)
        fail_msg("row %ld missing", row);
    va_list ap;
    va_start(ap, row);
    size_t i = 0;
    for (const char *c; (c = va_arg(ap, const char *)) != NULL; i++) {
        if (i >= r->n)
            fail_msg("row %ld: cell %zu missing (want '%s')", row, i, c);
        if (strcmp(r->cells[i], c) != 0)
            fail_msg("row %ld cell %zu: got '%s', want '%s'", row, i, r->cells[i], c);
    }
    va_end(ap);
    if (i != r->n)
        fail_msg("row %ld: %zu cells, want %zu", row, r->n, i);
}

static inline void st_err_has(const got_t *g, int rc, const char *needle)
{
    if (g->rc != rc || !strstr(g->err, needle))
        fail_msg("rc %d (want %d), err '%s' (want '%s' in it)", g->rc, rc, g->err, needle);
}

/* Both reads gave the same rows, row numbers and cells. */
static inline void st_same(const got_t *a, const got_t *b, const char *what)
{
    if (a->rc != 0 || b->rc != 0)
        fail_msg("%s: rc %d '%s' / rc %d '%s'", what, a->rc, a->err, b->rc, b->err);
    if (a->n != b->n)
        fail_msg("%s: %d rows, %d rows", what, a->n, b->n);
    for (int i = 0; i < a->n; i++) {
        const row_t *x = &a->rows[i], *y = &b->rows[i];
        if (x->row != y->row || x->n != y->n)
            fail_msg("%s: row %ld has %zu cells, row %ld %zu", what, x->row, x->n, y->row, y->n);
        for (size_t j = 0; j < x->n; j++)
            if (strcmp(x->cells[j], y->cells[j]) != 0)
                fail_msg("%s: row %ld cell %zu: '%s' / '%s'", what, x->row, j, x->cells[j],
                         y->cells[j]);
    }
}

/* g (read from a file LibreOffice saved from csv, plain ',' CSV) has the
 * CSV's cells: line N is row N, trailing empty cells dropped; a line with
 * no non-empty cell is no row. rows_nonempty: also a row read is never all
 * empty. At least 5 rows. */
static inline void st_match_csv(const got_t *g, const char *csv, bool rows_nonempty)
{
    FILE *f = fopen(csv, "r");
    assert_non_null(f);
    char line[4096];
    long ln = 0;
    int seen = 0;
    while (fgets(line, sizeof line, f)) {
        ln++;
        line[strcspn(line, "\r\n")] = '\0';
        const row_t *r = st_row(g, ln);
        size_t col = 0;
        bool nonempty = false;
        char *save = line;
        for (char *cell; (cell = strsep(&save, ",")) != NULL; col++) {
            const char *got = r && col < r->n ? r->cells[col] : "";
            if (strcmp(got, cell) != 0)
                fail_msg("%s line %ld column %zu: %s '%s', csv '%s'", csv, ln, col, g->format, got,
                         cell);
            nonempty = nonempty || cell[0];
        }
        if (r) {
            seen++;
            assert_true(r->n <= col);
            if (rows_nonempty)
                assert_true(nonempty);
        } else {
            assert_false(nonempty);
        }
    }
    fclose(f);
    assert_int_equal(seen, g->n);
    assert_true(seen >= 5);
}

/* ---- libzip surgery on a real file, for the bad-input cases ---- */

/* entry of the zip at path, whole and NUL-terminated (*len without the NUL) */
static inline char *st_slurp_entry(const char *path, const char *entry, size_t *len)
{
    int ze = 0;
    zip_t *za = zip_open(path, ZIP_RDONLY, &ze);
    assert_non_null(za);
    zip_stat_t st;
    assert_int_equal(zip_stat(za, entry, 0, &st), 0);
    char *b = malloc(st.size + 1);
    zip_file_t *f = zip_fopen(za, entry, 0);
    assert_non_null(f);
    assert_int_equal(zip_fread(f, b, st.size), (zip_int64_t)st.size);
    b[st.size] = '\0';
    zip_fclose(f);
    zip_discard(za);
    *len = st.size;
    return b;
}

/* a writable copy (committed files may be read-only) */
static inline void st_copy(const char *src, const char *dst)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s' && chmod u+w '%s'", src, dst, dst);
    assert_int_equal(system(cmd), 0);
}

/* Copy src to dst with entry replaced by data (or deleted when data is NULL). */
static inline void st_patch(const char *src, const char *dst, const char *entry, const void *data,
                            size_t len)
{
    st_copy(src, dst);
    int ze = 0;
    zip_t *za = zip_open(dst, 0, &ze);
    assert_non_null(za);
    zip_int64_t i = zip_name_locate(za, entry, 0);
    assert_true(i >= 0);
    if (data) {
        void *copy = malloc(len ? len : 1);
        memcpy(copy, data, len);
        zip_source_t *zs = zip_source_buffer(za, copy, len, 1);
        assert_non_null(zs);
        assert_int_equal(zip_file_replace(za, (zip_uint64_t)i, zs, 0), 0);
    } else {
        assert_int_equal(zip_delete(za, (zip_uint64_t)i), 0);
    }
    assert_int_equal(zip_close(za), 0);
}

/* entry's text with `from` replaced by `to` (first occurrence). */
static inline char *st_edit(const char *path, const char *entry, const char *from, const char *to,
                            size_t *len)
{
    size_t n;
    char *b = st_slurp_entry(path, entry, &n);
    char *at = strstr(b, from);
    if (!at)
        fail_msg("'%s' not in %s", from, entry);
    size_t fl = strlen(from), tl = strlen(to);
    char *o = malloc(n - fl + tl + 1);
    size_t pre = (size_t)(at - b);
    memcpy(o, b, pre);
    memcpy(o + pre, to, tl);
    memcpy(o + pre + tl, at + fl, n - pre - fl + 1);
    free(b);
    *len = n - fl + tl;
    return o;
}

/* ---- a temp dir per test ---- */

#ifndef ST_TAG
#error "define ST_TAG (the temp dir's tag: \"xlsx\", \"ods\") before including sheet_test_util.h"
#endif

/* cmocka fixtures: a fresh st_dir ($TMPDIR/kc-<ST_TAG>-test-XXXXXX) per test */
static inline int st_setup(void **state)
{
    (void)state;
    const char *t = getenv("TMPDIR");
    snprintf(st_dir, sizeof st_dir, "%s/kc-%s-test-XXXXXX", t && *t ? t : "/tmp", ST_TAG);
    return mkdtemp(st_dir) ? 0 : -1;
}

static inline int st_teardown(void **state)
{
    (void)state;
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", st_dir);
    return system(cmd) == 0 ? 0 : -1;
}

#endif
