/* kc_dropbox.c - kc-send --watch DIR (see kc_dropbox.h for the design). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* renameat2 */
#endif
#include "kc_dropbox.h"

#include "kc_csv.h"
#include "kc_i18n.h"
#include "kc_service.h"
#include "kc_time.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define EX_UNAVAILABLE 69
#define EX_TEMPFAIL    75
#define IDLE_POLL_MS   1000  /* the longest a stop signal waits to be noticed when idle */
#define ACK_POLL_MS    250   /* network work per step while a file waits for its acks */
#define SLOW_WARN_MS   10000 /* warn once when a file has waited this long for acks */

typedef struct {
    long line;
    char *text;
} s_line_t;

typedef struct {
    const kc_dropbox_opts_t *o;
    kc_producer_t *p;
    volatile sig_atomic_t *stop;
    int dfd; /* DIR */
    int ifd; /* inotify */
    bool dir_gone;
    bool rescan;
    /* the queue of names to take, in order, without repeats */
    char **q;
    size_t qn, qcap;
    /* the file in hand */
    char path[PATH_MAX];
    size_t path_len; /* 0: no file in hand */
    const char *name;
    uint64_t rows, accepted, duplicates, rejected, malformed, staged_since_poll;
    int fail_rc;
    s_line_t *lines;
    size_t nlines, lcap;
    /* totals of the run */
    uint64_t files_done, files_failed;
} s_box_t;

static bool s_ends_with_ci(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    if (n < m)
        return false;
    for (size_t i = 0; i < m; i++)
        if (tolower((unsigned char)s[n - m + i]) != tolower((unsigned char)suffix[i]))
            return false;
    return true;
}

bool kc_dropbox_name_ok(const char *name)
{
    if (!name[0] || name[0] == '.')
        return false;
    if (s_ends_with_ci(name, ".tmp") || s_ends_with_ci(name, ".part") || s_ends_with_ci(name, "~"))
        return false;
    return strlen(name) > 4 && s_ends_with_ci(name, ".csv");
}

/* ---- the queue ---- */

static void s_enqueue(s_box_t *b, const char *name)
{
    for (size_t i = 0; i < b->qn; i++)
        if (strcmp(b->q[i], name) == 0)
            return;
    if (b->qn == b->qcap) {
        size_t cap = b->qcap ? 2 * b->qcap : 16;
        char **q = realloc(b->q, cap * sizeof *q);
        if (!q) {
            fprintf(stderr, _("kc-send: out of memory queueing %s; it is taken at the next scan\n"),
                    name);
            b->rescan = true;
            return;
        }
        b->q = q;
        b->qcap = cap;
    }
    char *dup = strdup(name);
    if (!dup) {
        b->rescan = true;
        return;
    }
    b->q[b->qn++] = dup;
}

static char *s_dequeue(s_box_t *b)
{
    if (b->qn == 0)
        return NULL;
    char *name = b->q[0];
    memmove(b->q, b->q + 1, (b->qn - 1) * sizeof *b->q);
    b->qn--;
    return name;
}

typedef struct {
    struct timespec mtime;
    char *name;
} s_found_t;

static int s_found_cmp(const void *a, const void *b)
{
    const s_found_t *x = a, *y = b;
    if (x->mtime.tv_sec != y->mtime.tv_sec)
        return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
    if (x->mtime.tv_nsec != y->mtime.tv_nsec)
        return x->mtime.tv_nsec < y->mtime.tv_nsec ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* Queue the candidate files now in DIR, oldest first. */
static void s_scan(s_box_t *b)
{
    b->rescan = false;
    int fd = dup(b->dfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        fprintf(stderr, _("kc-send: cannot list %s: %s\n"), b->o->dir, strerror(errno));
        return;
    }
    rewinddir(d);
    s_found_t *f = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!kc_dropbox_name_ok(de->d_name))
            continue;
        struct stat st;
        if (fstatat(b->dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (n == cap) {
            size_t nc = cap ? 2 * cap : 16;
            s_found_t *nf = realloc(f, nc * sizeof *nf);
            if (!nf)
                break;
            f = nf;
            cap = nc;
        }
        f[n].mtime = st.st_mtim;
        f[n].name = strdup(de->d_name);
        if (f[n].name)
            n++;
    }
    closedir(d);
    if (n)
        qsort(f, n, sizeof *f, s_found_cmp);
    for (size_t i = 0; i < n; i++) {
        s_enqueue(b, f[i].name);
        free(f[i].name);
    }
    free(f);
}

/* Take what inotify has to say (non-blocking). */
static void s_read_events(s_box_t *b)
{
    char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
    for (;;) {
        ssize_t len = read(b->ifd, buf, sizeof buf);
        if (len < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN)
                fprintf(stderr, _("kc-send: reading inotify events: %s\n"), strerror(errno));
            return;
        }
        if (len == 0)
            return;
        for (char *at = buf; at < buf + len;) {
            const struct inotify_event *ev = (const struct inotify_event *)at;
            at += sizeof *ev + ev->len;
            if (ev->mask & IN_Q_OVERFLOW)
                b->rescan = true;
            if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED | IN_UNMOUNT))
                b->dir_gone = true;
            if ((ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO)) && !(ev->mask & IN_ISDIR) &&
                ev->len > 0 && kc_dropbox_name_ok(ev->name))
                s_enqueue(b, ev->name);
        }
    }
}

/* ---- the file in hand ---- */

static void s_add_line(s_box_t *b, long line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void s_add_line(s_box_t *b, long line, const char *fmt, ...)
{
    if (b->nlines == b->lcap) {
        size_t cap = b->lcap ? 2 * b->lcap : 32;
        s_line_t *nl = realloc(b->lines, cap * sizeof *nl);
        if (!nl)
            return; /* the counts stay right; the line is missing from the report */
        b->lines = nl;
        b->lcap = cap;
    }
    va_list ap;
    va_start(ap, fmt);
    char *text = NULL;
    int n = vasprintf(&text, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    b->lines[b->nlines].line = line;
    b->lines[b->nlines].text = text;
    b->nlines++;
}

static void s_clear_file(s_box_t *b)
{
    for (size_t i = 0; i < b->nlines; i++)
        free(b->lines[i].text);
    b->nlines = 0;
    b->path_len = 0;
    b->path[0] = '\0';
    b->name = NULL;
    b->rows = b->accepted = b->duplicates = b->rejected = b->malformed = 0;
    b->staged_since_poll = 0;
    b->fail_rc = 0;
}

/* Whether source ("PATH:LINE") belongs to the file in hand; its line in *line. */
static bool s_is_mine(const s_box_t *b, const char *source, long *line)
{
    if (!b->path_len || !source || strncmp(source, b->path, b->path_len) != 0 ||
        source[b->path_len] != ':')
        return false;
    *line = strtol(source + b->path_len + 1, NULL, 10);
    return true;
}

static void s_on_result(const kc_result_t *r, void *ctx)
{
    s_box_t *b = ctx;
    long line = 0;
    const char *src = r->source && *r->source ? r->source : "(spool)";
    if (!s_is_mine(b, r->source, &line)) { /* resumed from an earlier run */
        if (r->reason >= 2 && !b->o->quiet)
            printf("rejected %s %s: %s: %s\n", src, r->event_id, r->reason_name, r->text);
        return;
    }
    if (r->reason == KCI_ACCEPTED) {
        b->accepted++;
    } else if (r->reason == KCI_DUPLICATE) {
        b->duplicates++;
    } else {
        b->rejected++;
        if (!b->o->quiet)
            printf("rejected %s %s: %s: %s\n", src, r->event_id, r->reason_name, r->text);
        s_add_line(b, line, "rejected %s:%ld %s: %s: %s", b->name, line, r->event_id,
                   r->reason_name, r->text);
    }
}

static int s_on_row(const kc_csv_row_t *row, void *ctx)
{
    s_box_t *b = ctx;
    if (*b->stop)
        return KCI_EINTR;
    int rc = kc_producer_add(b->p, row->ev, row->source, NULL);
    if (rc == KCI_EINVAL) {
        fprintf(stderr, _("%s: cannot be sent\n"), row->source);
        b->malformed++;
        s_add_line(b, row->line, "%s:%ld: cannot be sent", b->name, row->line);
        return 0;
    }
    if (rc == KCI_EREFUSED) { /* the aggregator's admission rules: never spooled */
        const char *reason, *text;
        kc_producer_refusal(b->p, &reason, &text);
        fprintf(stderr, "%s: %s: %s\n", row->source, reason, text);
        b->malformed++;
        s_add_line(b, row->line, "%s:%ld: %s: %s", b->name, row->line, reason, text);
        return 0;
    }
    if (rc) {
        fprintf(stderr, _("kc-send: %s: cannot spool: %s\n"), row->source,
                kc_producer_strerror(rc));
        b->fail_rc = rc;
        return rc;
    }
    if (++b->staged_since_poll >= b->o->batch) {
        b->staged_since_poll = 0;
        rc = kc_producer_poll(b->p, 0);
        if (rc && rc != KCI_EINTR) {
            fprintf(stderr, "kc-send: %s\n", kc_producer_strerror(rc));
            b->fail_rc = rc;
            return rc;
        }
    }
    return 0;
}

static void s_on_bad(const char *file, long line, const char *reason, void *ctx)
{
    s_box_t *b = ctx;
    if (line > 0) {
        fprintf(stderr, "%s:%ld: %s\n", file, line, reason);
        s_add_line(b, line, "%s:%ld: %s", b->name, line, reason);
    } else {
        fprintf(stderr, "%s: %s\n", file, reason);
        s_add_line(b, 0, "%s: %s", b->name, reason);
    }
}

static int s_line_cmp(const void *a, const void *b)
{
    const s_line_t *x = a, *y = b;
    return (x->line > y->line) - (x->line < y->line);
}

/* rename that never replaces: renameat2(RENAME_NOREPLACE), or link + unlink
 * where the filesystem lacks it. */
static int s_rename_noreplace(int ofd, const char *old, int nfd, const char *new)
{
    if (renameat2(ofd, old, nfd, new, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS)
        return -1;
    if (linkat(ofd, old, nfd, new, 0) != 0)
        return -1;
    if (unlinkat(ofd, old, 0) != 0) {
        int e = errno;
        unlinkat(nfd, new, 0);
        errno = e;
        return -1;
    }
    return 0;
}

static int s_write_all(int fd, const char *s, size_t n)
{
    while (n) {
        ssize_t w = write(fd, s, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Write the report of the file in hand to sfd/tmp (fsync'd). */
static int s_write_report(s_box_t *b, int sfd, const char *tmp, const char *sub, const char *target,
                          bool failed)
{
    int fd = openat(sfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    char when[64];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S%z", &tm);
    char *head = NULL;
    int n = asprintf(&head,
                     "kc-send drop-folder report\n"
                     "file: %s\n"
                     "filed: %s/%s\n"
                     "outcome: %s\n"
                     "time: %s\n"
                     "producer: %s\n"
                     "rows: %llu\n"
                     "accepted: %llu\n"
                     "duplicates: %llu\n"
                     "rejected: %llu\n"
                     "malformed: %llu\n",
                     b->name, sub, target, failed ? "failed" : "done", when, b->o->producer,
                     (unsigned long long)b->rows, (unsigned long long)b->accepted,
                     (unsigned long long)b->duplicates, (unsigned long long)b->rejected,
                     (unsigned long long)b->malformed);
    int rc = n < 0 ? -1 : s_write_all(fd, head, (size_t)n);
    free(head);
    if (b->nlines)
        qsort(b->lines, b->nlines, sizeof *b->lines, s_line_cmp); /* merge sort not needed */
    if (rc == 0 && b->nlines)
        rc = s_write_all(fd, "\n", 1);
    for (size_t i = 0; rc == 0 && i < b->nlines; i++) {
        rc = s_write_all(fd, b->lines[i].text, strlen(b->lines[i].text));
        if (rc == 0)
            rc = s_write_all(fd, "\n", 1);
    }
    if (rc == 0)
        rc = fsync(fd);
    int e = errno;
    close(fd);
    if (rc) {
        unlinkat(sfd, tmp, 0);
        errno = e;
    }
    return rc;
}

/* Move the file in hand to done/ or failed/ with its report. 0 or -1 (logged). */
static int s_file_away(s_box_t *b, bool failed, char *filed, size_t filed_cap)
{
    const char *sub = failed ? "failed" : "done";
    if (mkdirat(b->dfd, sub, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, _("kc-send: cannot create %s/%s: %s\n"), b->o->dir, sub, strerror(errno));
        return -1;
    }
    int sfd = openat(b->dfd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (sfd < 0) {
        fprintf(stderr, _("kc-send: cannot open %s/%s: %s\n"), b->o->dir, sub, strerror(errno));
        return -1;
    }
    const char *dot = strrchr(b->name, '.'); /* the name ends in .csv: there is one */
    size_t stem = dot ? (size_t)(dot - b->name) : strlen(b->name);
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%S", &tm);
    char tmp[64];
    snprintf(tmp, sizeof tmp, ".kc-send-report.%ld.tmp", (long)getpid());
    int rc = -1;
    for (int attempt = 0; attempt < 10000; attempt++) {
        char target[NAME_MAX + 64], report[NAME_MAX + 96];
        if (attempt == 0)
            snprintf(target, sizeof target, "%s", b->name);
        else if (attempt == 1)
            snprintf(target, sizeof target, "%.*s.%s%s", (int)stem, b->name, stamp, dot ? dot : "");
        else
            snprintf(target, sizeof target, "%.*s.%s-%d%s", (int)stem, b->name, stamp, attempt,
                     dot ? dot : "");
        snprintf(report, sizeof report, "%s.report.txt", target);
        if (strlen(report) > NAME_MAX) {
            fprintf(stderr, _("kc-send: %s: name too long to file away\n"), b->name);
            break;
        }
        if (faccessat(sfd, target, F_OK, AT_SYMLINK_NOFOLLOW) == 0 ||
            faccessat(sfd, report, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
            continue;
        if (s_write_report(b, sfd, tmp, sub, target, failed) != 0) {
            fprintf(stderr, _("kc-send: cannot write %s/%s/%s: %s\n"), b->o->dir, sub, report,
                    strerror(errno));
            break;
        }
        if (s_rename_noreplace(sfd, tmp, sfd, report) != 0) {
            int e = errno;
            unlinkat(sfd, tmp, 0);
            if (e == EEXIST)
                continue;
            fprintf(stderr, _("kc-send: cannot write %s/%s/%s: %s\n"), b->o->dir, sub, report,
                    strerror(e));
            break;
        }
        if (s_rename_noreplace(b->dfd, b->name, sfd, target) != 0) {
            int e = errno;
            unlinkat(sfd, report, 0);
            if (e == EEXIST)
                continue;
            fprintf(stderr, _("kc-send: cannot move %s to %s/: %s\n"), b->path, sub, strerror(e));
            break;
        }
        fsync(sfd);
        fsync(b->dfd);
        snprintf(filed, filed_cap, "%s/%s", sub, target);
        rc = 0;
        break;
    }
    close(sfd);
    return rc;
}

enum { S_TAKEN = 0, S_SKIPPED, S_ABANDONED, S_FATAL };

static int s_fatal_code(int rc)
{
    return rc == KCI_EFENCED ? EX_UNAVAILABLE : EX_TEMPFAIL;
}

/* Wait until nothing is pending (or a stop). 0, 1 (stopped), or a library error. */
static int s_drain(s_box_t *b, const char *what)
{
    int64_t t0 = kc_time_mono_ms();
    bool warned = false;
    while (kc_producer_pending(b->p) > 0) {
        if (*b->stop)
            return 1;
        int rc = kc_producer_poll(b->p, ACK_POLL_MS);
        if (rc && rc != KCI_EINTR)
            return rc;
        s_read_events(b);
        if (!warned && kc_time_mono_ms() - t0 >= SLOW_WARN_MS) {
            warned = true;
            fprintf(stderr,
                    _("kc-send: %s: %llu rows spooled, waiting for acknowledgements from %s "
                      "(unreachable?); retrying\n"),
                    what, (unsigned long long)kc_producer_pending(b->p), b->o->server);
            kc_service_status("%llu files sent; waiting for %s: %s unreachable?",
                              (unsigned long long)(b->files_done + b->files_failed), what,
                              b->o->server);
        }
    }
    if (warned)
        fprintf(stderr, _("kc-send: %s: acknowledged\n"), what);
    return 0;
}

/* Take one file from the queue. *fatal gets the exit code on S_FATAL. */
static int s_process(s_box_t *b, const char *name, int *fatal)
{
    struct stat st;
    if (fstatat(b->dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
        return S_SKIPPED; /* gone (filed already, or removed) or not a file */
    if (st.st_size == 0) {
        fprintf(stderr, _("kc-send: %s/%s is empty; waiting for it to be written\n"), b->o->dir,
                name);
        return S_SKIPPED;
    }
    s_clear_file(b);
    int n = snprintf(b->path, sizeof b->path, "%s/%s", b->o->dir, name);
    if (n < 0 || (size_t)n >= sizeof b->path)
        return S_SKIPPED;
    b->path_len = (size_t)n;
    b->name = name;
    fprintf(stderr, _("kc-send: taking %s\n"), b->path);
    kc_service_status("%llu files sent; sending %s",
                      (unsigned long long)(b->files_done + b->files_failed), name);

    kc_csv_stats_t cs = {0};
    int rc = kc_csv_import(b->path, s_on_row, s_on_bad, b, &cs);
    b->rows = cs.rows;
    b->malformed += cs.malformed;
    if (b->fail_rc) {
        *fatal = s_fatal_code(b->fail_rc);
        return S_FATAL;
    }
    if (rc == KCI_EINTR || *b->stop)
        return S_ABANDONED;
    if (rc == -ENOENT && cs.rows == 0)
        return S_SKIPPED;      /* removed between the listing and the import */
    bool file_error = rc != 0; /* bad header or read error (in the report) */

    int d = s_drain(b, name);
    if (d == 1)
        return S_ABANDONED;
    if (d) {
        fprintf(stderr, "kc-send: %s\n", kc_producer_strerror(d));
        *fatal = s_fatal_code(d);
        return S_FATAL;
    }
    bool failed = file_error || b->rejected || b->malformed;
    char filed[NAME_MAX + 128] = "";
    if (s_file_away(b, failed, filed, sizeof filed) != 0) {
        fprintf(stderr, _("kc-send: %s stays in %s (sent; it will be sent again next start)\n"),
                name, b->o->dir);
        snprintf(filed, sizeof filed, "(not moved)");
    }
    if (failed)
        b->files_failed++;
    else
        b->files_done++;
    printf("file %s: %s rows=%llu accepted=%llu duplicates=%llu rejected=%llu malformed=%llu\n",
           name, filed, (unsigned long long)b->rows, (unsigned long long)b->accepted,
           (unsigned long long)b->duplicates, (unsigned long long)b->rejected,
           (unsigned long long)b->malformed);
    fflush(stdout);
    kc_service_status("%llu files sent (%llu done, %llu failed), last %s -> %s",
                      (unsigned long long)(b->files_done + b->files_failed),
                      (unsigned long long)b->files_done, (unsigned long long)b->files_failed, name,
                      filed);
    return S_TAKEN;
}

static int s_watch(s_box_t *b)
{
    /* resumed rows of an earlier run first: a file they came from is then
     * imported again and its rows come back as duplicates */
    if (kc_producer_pending(b->p) > 0) {
        fprintf(stderr, _("kc-send: %llu rows left in the spool by an earlier run; sending them\n"),
                (unsigned long long)kc_producer_pending(b->p));
        int d = s_drain(b, "rows of an earlier run");
        if (d == 1)
            return 0;
        if (d) {
            fprintf(stderr, "kc-send: %s\n", kc_producer_strerror(d));
            return s_fatal_code(d);
        }
    }
    for (;;) {
        if (*b->stop)
            return 0;
        s_read_events(b);
        if (b->dir_gone) {
            fprintf(stderr, _("kc-send: %s was removed or moved; stopping\n"), b->o->dir);
            return EX_UNAVAILABLE;
        }
        if (b->rescan)
            s_scan(b);
        char *name = s_dequeue(b);
        if (!name) {
            struct pollfd pfd = {.fd = b->ifd, .events = POLLIN};
            if (poll(&pfd, 1, IDLE_POLL_MS) < 0 && errno != EINTR) {
                fprintf(stderr, "kc-send: poll: %s\n", strerror(errno));
                return EX_TEMPFAIL;
            }
            continue;
        }
        int fatal = 0;
        int r = s_process(b, name, &fatal);
        if (r == S_ABANDONED)
            fprintf(stderr, _("kc-send: stopping; %s stays in %s (its rows are spooled)\n"), name,
                    b->o->dir);
        free(name);
        s_clear_file(b);
        if (r == S_FATAL)
            return fatal;
        if (r == S_ABANDONED)
            return 0;
    }
}

int kc_dropbox_run(const kc_dropbox_opts_t *o, kc_producer_t *p, volatile sig_atomic_t *stop)
{
    s_box_t b = {.o = o, .p = p, .stop = stop, .dfd = -1, .ifd = -1};
    int ex = EX_UNAVAILABLE;
    b.dfd = open(o->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (b.dfd < 0) {
        fprintf(stderr, "kc-send: --watch %s: %s\n", o->dir, strerror(errno));
        goto out;
    }
    for (int i = 0; i < 2; i++) {
        const char *sub = i ? "failed" : "done";
        if (mkdirat(b.dfd, sub, 0755) != 0 && errno != EEXIST) {
            fprintf(stderr, _("kc-send: cannot create %s/%s: %s\n"), o->dir, sub, strerror(errno));
            goto out;
        }
    }
    b.ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (b.ifd < 0 || inotify_add_watch(b.ifd, o->dir,
                                       IN_CLOSE_WRITE | IN_MOVED_TO | IN_DELETE_SELF |
                                           IN_MOVE_SELF | IN_ONLYDIR) < 0) {
        fprintf(stderr, _("kc-send: cannot watch %s: %s\n"), o->dir, strerror(errno));
        goto out;
    }
    kc_producer_on_result(p, s_on_result, &b);
    fprintf(stderr, _("kc-send: watching %s (spool %s, aggregator %s)\n"), o->dir, o->spool,
            o->server);
    kc_service_ready("watching for CSV files");
    kc_service_status("0 files sent; watching %s", o->dir);
    s_scan(&b); /* the files already there, oldest first */
    ex = s_watch(&b);
    if (*stop)
        kc_service_stopping();
    fprintf(stderr,
            _("kc-send: %llu files sent (%llu done, %llu failed); %llu rows still spooled\n"),
            (unsigned long long)(b.files_done + b.files_failed), (unsigned long long)b.files_done,
            (unsigned long long)b.files_failed, (unsigned long long)kc_producer_pending(p));
    kc_producer_on_result(p, NULL, NULL);
out:
    s_clear_file(&b);
    free(b.lines);
    for (size_t i = 0; i < b.qn; i++)
        free(b.q[i]);
    free(b.q);
    if (b.ifd >= 0)
        close(b.ifd);
    if (b.dfd >= 0)
        close(b.dfd);
    return ex;
}
