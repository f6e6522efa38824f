/* dropbox_util.c - helpers for the kc-send --watch tests. */
#include "dropbox_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void db_write(const char *path, const char *content)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    KC_CHECK(fd >= 0, "open %s: %s", path, strerror(errno));
    size_t n = strlen(content);
    KC_CHECK(write(fd, content, n) == (ssize_t)n, "write %s: %s", path, strerror(errno));
    KC_CHECK(close(fd) == 0, "close %s", path);
}

char *db_slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    KC_CHECK(buf, "oom");
    size_t r;
    while ((r = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += r;
        if (cap - n < 2) {
            cap *= 2;
            buf = realloc(buf, cap);
            KC_CHECK(buf, "oom");
        }
    }
    fclose(f);
    buf[n] = '\0';
    return buf;
}

void db_copy(const char *from, const char *to)
{
    char *s = db_slurp(from);
    KC_CHECK(s, "read %s: %s", from, strerror(errno));
    db_write(to, s);
    free(s);
}

bool db_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

bool db_contains(const char *path, const char *needle)
{
    char *s = db_slurp(path);
    bool ok = s && strstr(s, needle);
    free(s);
    return ok;
}

static void s_alive(pid_t pid, const char *what)
{
    int st;
    char sb[64];
    if (pid > 0 && kc_harness_exited(pid, &st))
        KC_CHECK(false, "kc-send (pid %d) ended (%s) while waiting for %s", (int)pid,
                 kc_harness_status_str(st, sb, sizeof sb), what);
}

void db_wait_file(const char *path, pid_t pid, int timeout_ms)
{
    int64_t deadline = kc_harness_now_ms() + timeout_ms;
    while (!db_exists(path)) {
        s_alive(pid, path);
        KC_CHECK(kc_harness_now_ms() < deadline, "%s did not appear within %d ms", path,
                 timeout_ms);
        kc_harness_poll_pause();
    }
}

void db_wait_text(const char *path, const char *needle, pid_t pid, int timeout_ms)
{
    int64_t deadline = kc_harness_now_ms() + timeout_ms;
    while (!db_contains(path, needle)) {
        s_alive(pid, needle);
        KC_CHECK(kc_harness_now_ms() < deadline, "'%s' not in %s within %d ms", needle, path,
                 timeout_ms);
        kc_harness_poll_pause();
    }
}

pid_t db_watch_start(const char *endpoint, const char *spool, const char *inbox, const char *out)
{
    return db_watch_start_lang(endpoint, spool, inbox, out, "en");
}

pid_t db_watch_start_lang(const char *endpoint, const char *spool, const char *inbox,
                          const char *out, const char *lang)
{
    char bin[KC_PATH_MAX], err[KC_PATH_MAX + 8];
    kc_harness_bin(bin, "kc-send");
    snprintf(err, sizeof err, "%s.err", out);
    char *argv[] = {
        bin,           "--no-config", "--connect",   (char *)endpoint,       "--producer",
        "office-drop", "--spool",     (char *)spool, "--request-timeout-ms", "500",
        "--lang",      (char *)lang,  "--watch",     (char *)inbox,          NULL};
    unlink(out);
    unlink(err);
    pid_t pid = kc_harness_spawn(argv, out, err);
    /* po/vi.po's "kc-send: watching %s ..." */
    db_wait_text(err, strcmp(lang, "vi") == 0 ? "kc-send: đang theo dõi " : "kc-send: watching ",
                 pid, 60000);
    return pid;
}

void db_watch_term(pid_t pid)
{
    char sb[64];
    int st = kc_harness_stop(pid, SIGTERM, 30000);
    KC_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "kc-send --watch on SIGTERM: %s (want exit 0)",
             kc_harness_status_str(st, sb, sizeof sb));
}

bool db_find(const char *dir, const char *prefix, const char *suffix, const char *except, char *buf)
{
    DIR *d = opendir(dir);
    if (!d)
        return false;
    struct dirent *de;
    bool found = false;
    while (!found && (de = readdir(d))) {
        size_t n = strlen(de->d_name), p = strlen(prefix), s = strlen(suffix);
        if (n < p + s || strncmp(de->d_name, prefix, p) != 0 ||
            strcmp(de->d_name + n - s, suffix) != 0 || (except && !strcmp(de->d_name, except)))
            continue;
        snprintf(buf, KC_PATH_MAX, "%s/%s", dir, de->d_name);
        found = true;
    }
    closedir(d);
    return found;
}
