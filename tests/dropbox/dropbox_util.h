/* dropbox_util.h - helpers for the kc-send --watch tests (bounded waits on files). */
#ifndef KC_DROPBOX_UTIL_H
#define KC_DROPBOX_UTIL_H

#include "harness.h"

#include <stdbool.h>
#include <sys/types.h>

#define DB_WAIT_MS 90000 /* a file must be filed within this (ASan build, busy machine) */

/* Write content to path in one open/write/close. */
void db_write(const char *path, const char *content);
/* Copy a file (one open/write/close of the destination). */
void db_copy(const char *from, const char *to);
/* Whether path exists. */
bool db_exists(const char *path);
/* Whether the file at path contains needle. */
bool db_contains(const char *path, const char *needle);
/* Wait (bounded) until path exists; fails the test otherwise. pid: a process
 * that must stay alive meanwhile (0: none). */
void db_wait_file(const char *path, pid_t pid, int timeout_ms);
/* Wait (bounded) until the file at path contains needle; fails otherwise. */
void db_wait_text(const char *path, const char *needle, pid_t pid, int timeout_ms);
/* Start kc-send --lang en --watch inbox (stdout to out, stderr to out".err")
 * and wait until it says it is watching. */
pid_t db_watch_start(const char *endpoint, const char *spool, const char *inbox, const char *out);
/* The same in the language lang ("en" or "vi"; the catalogue through
 * $KC_LOCALEDIR). */
pid_t db_watch_start_lang(const char *endpoint, const char *spool, const char *inbox,
                          const char *out, const char *lang);
/* The whole file at path (malloc'd, NUL-terminated; NULL if unreadable). */
char *db_slurp(const char *path);
/* SIGTERM kc-send and check exit 0. */
void db_watch_term(pid_t pid);
/* The name in dir that starts with prefix and ends with suffix and is not
 * `except` into buf (KC_PATH_MAX); false if none. */
bool db_find(const char *dir, const char *prefix, const char *suffix, const char *except,
             char *buf);

#endif
