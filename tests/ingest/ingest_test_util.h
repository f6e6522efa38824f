/* ingest_test_util.h - temp directories and small helpers for the ingest tests. */
#ifndef INGEST_TEST_UTIL_H
#define INGEST_TEST_UTIL_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A fresh directory under $TMPDIR (or /tmp); caller frees the string. */
static inline char *kt_tmpdir(const char *tag)
{
    const char *base = getenv("TMPDIR");
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/kc-%s-XXXXXX", base && *base ? base : "/tmp", tag);
    char *d = mkdtemp(tmpl);
    return d ? strdup(d) : NULL;
}

static inline int kt_rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Remove dir and everything below it; frees the string. */
static inline void kt_rmdir(char *dir)
{
    if (dir)
        nftw(dir, kt_rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(dir);
}

/* Write text to dir/name; returns the path (caller frees) or NULL. */
static inline char *kt_write(const char *dir, const char *name, const char *text)
{
    char *path = malloc(strlen(dir) + strlen(name) + 2);
    if (!path)
        return NULL;
    sprintf(path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) {
        free(path);
        return NULL;
    }
    fputs(text, f);
    fclose(f);
    return path;
}

#endif
