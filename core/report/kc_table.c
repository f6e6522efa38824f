/* kc_table.c - a plain-text table for the tools' and the text report's human output. */
#include "kc_table.h"

#include "kc_err.h"
#include "kc_fmt.h"
#include "kc_text.h"

#include <stdlib.h>
#include <string.h>

struct kc_table {
    size_t cols; /* columns per row */
    size_t left; /* leading left-aligned columns */
    size_t rows; /* rows in use */
    size_t cap;  /* rows allocated */
    char **cell; /* rows * cols strings, NULL = empty */
};

kc_table_t *kc_table_new(size_t cols, size_t left)
{
    kc_table_t *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->cols = cols ? cols : 1;
    t->left = left;
    return t;
}

void kc_table_destroy(kc_table_t **tp)
{
    if (!tp || !*tp)
        return;
    kc_table_t *t = *tp;
    for (size_t i = 0; i < t->rows * t->cols; i++)
        free(t->cell[i]);
    free(t->cell);
    free(t);
    *tp = NULL;
}

int kc_table_row(kc_table_t *t)
{
    if (t->rows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        char **c = realloc(t->cell, cap * t->cols * sizeof *c);
        if (!c)
            return KC_ENOMEM;
        memset(c + t->cap * t->cols, 0, (cap - t->cap) * t->cols * sizeof *c);
        t->cell = c;
        t->cap = cap;
    }
    t->rows++;
    return 0;
}

int kc_table_set(kc_table_t *t, size_t col, const char *text)
{
    if (t->rows == 0 || col >= t->cols)
        return KC_EINVAL;
    char **slot = &t->cell[(t->rows - 1) * t->cols + col];
    free(*slot);
    *slot = NULL;
    if (!text)
        return 0;
    size_t len = strlen(text);
    if (kc_text_id_ok(text, len)) {
        *slot = strdup(text);
    } else { /* control characters or invalid bytes: the display form (kc_text.h) */
        size_t cap = KC_TEXT_SHOW_MAX(len);
        if ((*slot = malloc(cap)) != NULL)
            kc_text_show(text, len, *slot, cap);
    }
    return *slot ? 0 : KC_ENOMEM;
}

static void s_spaces(FILE *out, size_t n)
{
    while (n--)
        fputc(' ', out);
}

void kc_table_print(const kc_table_t *t, FILE *out)
{
    size_t *w = calloc(t->cols, sizeof *w);
    if (!w)
        return;
    for (size_t r = 0; r < t->rows; r++)
        for (size_t c = 0; c < t->cols; c++) {
            const char *s = t->cell[r * t->cols + c];
            size_t sw = s ? kc_fmt_width(s) : 0;
            if (sw > w[c])
                w[c] = sw;
        }
    /* last non-empty column, so lines carry no trailing blanks */
    for (size_t r = 0; r < t->rows; r++) {
        size_t last = 0;
        for (size_t c = 0; c < t->cols; c++)
            if (t->cell[r * t->cols + c])
                last = c + 1;
        for (size_t c = 0; c < last; c++) {
            const char *s = t->cell[r * t->cols + c];
            size_t pad = w[c] - (s ? kc_fmt_width(s) : 0);
            if (c > 0)
                fputs("  ", out);
            if (c >= t->left)
                s_spaces(out, pad);
            fputs(s ? s : "", out);
            if (c < t->left && c + 1 < last)
                s_spaces(out, pad);
        }
        fputc('\n', out);
        if (r == 0 && t->rows > 1) {
            size_t total = 0;
            for (size_t c = 0; c < t->cols; c++)
                if (w[c])
                    total += w[c] + (total ? 2 : 0);
            for (size_t i = 0; i < total; i++)
                fputs("─", out);
            fputc('\n', out);
        }
    }
    free(w);
}
