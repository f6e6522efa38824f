/* kc_dropbox.c - kc-send --watch DIR (see kc_dropbox.h for the design). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* renameat2 */
#endif
#include "kc_dropbox.h"

#include "kc_i18n.h"
#include "kc_sendfile.h"
#include "kc_service.h"

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
#define IDLE_POLL_MS   1000 /* the longest a stop signal waits to be noticed when idle */
#define ACK_POLL_MS    250  /* network work per step while a file waits for its acks */

/* One line of the reports: a row the centre rejected, a problem of a row
 * refused before spooling, or why the file could not be read. */
typedef enum { S_E_FILE = 0, S_E_HEADER, S_E_REFUSED, S_E_REJECTED } s_kind_t;

typedef struct {
    long row;     /* as the clerk sees it; 0 = the whole file */
    size_t order; /* arrival: a row's problems stay in the reader's order */
    s_kind_t kind;
    char *event_id; /* "" when the row has none */
    char *reason;   /* stable token */
    char *message;  /* rejected: the centre's text; refused: column and cell; file: why */
    char *hint;     /* rejected: kci_result_hint; refused: the import layer's message */
} s_entry_t;

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
    uint64_t rows, accepted, duplicates, rejected, refused;
    s_entry_t *ents;
    size_t nents, ecap;
    bool oom; /* an entry could not be kept: the report says so */
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
    /* dotfiles; Excel's lock file "~$NAME.xlsx" beside a workbook open in it */
    if (!name[0] || name[0] == '.' || strncmp(name, "~$", 2) == 0)
        return false;
    if (s_ends_with_ci(name, ".tmp") || s_ends_with_ci(name, ".part") || s_ends_with_ci(name, "~"))
        return false;
    return kc_sendfile_name_ok(name);
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

static char *s_dup(const char *s)
{
    return strdup(s ? s : "");
}

static void s_add(s_box_t *b, long row, s_kind_t kind, const char *event_id, const char *reason,
                  const char *message, const char *hint)
{
    if (b->nents == b->ecap) {
        size_t cap = b->ecap ? 2 * b->ecap : 32;
        s_entry_t *ne = realloc(b->ents, cap * sizeof *ne);
        if (!ne) {
            b->oom = true; /* the counts stay right; the report says rows are missing */
            return;
        }
        b->ents = ne;
        b->ecap = cap;
    }
    s_entry_t e = {.row = row,
                   .order = b->nents,
                   .kind = kind,
                   .event_id = s_dup(event_id),
                   .reason = s_dup(reason),
                   .message = s_dup(message),
                   .hint = s_dup(hint)};
    if (!e.event_id || !e.reason || !e.message || !e.hint) {
        free(e.event_id), free(e.reason), free(e.message), free(e.hint);
        b->oom = true;
        return;
    }
    b->ents[b->nents++] = e;
}

static void s_clear_file(s_box_t *b)
{
    for (size_t i = 0; i < b->nents; i++) {
        s_entry_t *e = &b->ents[i];
        free(e->event_id), free(e->reason), free(e->message), free(e->hint);
    }
    b->nents = 0;
    b->oom = false;
    b->path_len = 0;
    b->path[0] = '\0';
    b->name = NULL;
    b->rows = b->accepted = b->duplicates = b->rejected = b->refused = 0;
}

/* Whether source ("PATH:ROW") belongs to the file in hand; its row in *row. */
static bool s_is_mine(const s_box_t *b, const char *source, long *row)
{
    if (!b->path_len || !source || strncmp(source, b->path, b->path_len) != 0 ||
        source[b->path_len] != ':')
        return false;
    *row = strtol(source + b->path_len + 1, NULL, 10);
    return true;
}

static void s_on_result(const kc_result_t *r, void *ctx)
{
    s_box_t *b = ctx;
    long row = 0;
    const char *src = r->source && *r->source ? r->source : "(spool)";
    bool mine = s_is_mine(b, r->source, &row); /* else: resumed from an earlier run */
    if (mine && r->reason == KCI_ACCEPTED) {
        b->accepted++;
    } else if (mine && r->reason == KCI_DUPLICATE) {
        b->duplicates++;
    } else if (r->reason >= 2) {
        char hint[1024];
        kci_result_hint(r, hint, sizeof hint);
        if (!b->o->quiet) {
            printf("rejected %s %s: %s: %s\n", src, r->event_id, r->reason_name, r->text);
            if (*hint)
                printf("  %s%s\n", _("hint: "), hint);
        }
        if (mine) {
            b->rejected++;
            s_add(b, row, S_E_REJECTED, r->event_id, r->reason_name, r->text, hint);
        }
    }
}

/* A problem of a row (nothing of it is spooled), or of the header. */
static void s_on_problem(const kci_import_item_t *it, void *ctx)
{
    s_box_t *b = ctx;
    fprintf(stderr, "%s [%s]\n", it->message, it->reason);
    /* the message starts with the path given to the reader (DIR/NAME): the
     * report sits beside the file, so the name alone */
    char msg[1200], where[600] = "";
    const char *m = it->message;
    if (b->path_len && strncmp(m, b->path, b->path_len) == 0)
        snprintf(msg, sizeof msg, "%s%s", b->name, m + b->path_len);
    else
        snprintf(msg, sizeof msg, "%s", m);
    if (*it->col && *it->header)
        snprintf(where, sizeof where, _("column %s (%s): '%s'"), it->col, it->header, it->cell);
    else if (*it->col)
        snprintf(where, sizeof where, _("column %s: '%s'"), it->col, it->cell);
    s_add(b, it->row, it->header_problem ? S_E_HEADER : S_E_REFUSED, it->event_id, it->reason,
          where, msg);
}

/* Why nothing (or not all) of the file could be read, in the clerk's language;
 * the reader's own words (English) follow as the hint. read: the rows the
 * reader handed over (events or rows with problems). */
static void s_add_file_error(s_box_t *b, const kc_sendfile_stats_t *cs, uint64_t read)
{
    const char *token, *why;
    char buf[512];
    if (read == 0 && cs->rows == 0 && cs->read_rc < 0 && cs->read_rc > -4096 &&
        cs->read_rc != KCI_EFORMAT && cs->read_rc != KCI_EINVAL && cs->read_rc != KCI_ENOMEM) {
        token = "cannot_open";
        snprintf(buf, sizeof buf, _("the file cannot be opened: %s"), strerror(-cs->read_rc));
        why = buf;
    } else if (read == 0) {
        token = "unreadable";
        why = _("the file is not a spreadsheet kc-send can read (.xlsx, or CSV text), or it is "
                "damaged or password-protected: open it in Excel or LibreOffice and save it "
                "again as .xlsx or \"CSV UTF-8\"");
    } else {
        token = "read_error";
        why = _("the file could not be read to its end: the rows before this point were sent, "
                "the rest were not read");
    }
    const char *detail = cs->err;
    if (b->path_len && strncmp(detail, b->path, b->path_len) == 0) {
        detail += b->path_len;
        detail += strspn(detail, ": ");
    }
    s_add(b, 0, S_E_FILE, "", token, why, detail);
}

static int s_entry_cmp(const void *a, const void *b)
{
    const s_entry_t *x = a, *y = b;
    if (x->row != y->row)
        return (x->row > y->row) - (x->row < y->row);
    return (x->order > y->order) - (x->order < y->order);
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

/* ---- the reports ---- */

/* A report being built in memory, written in one go. */
typedef struct {
    char *s;
    size_t n, cap;
    bool oom;
} s_buf_t;

static void s_put(s_buf_t *o, const char *s, size_t n)
{
    if (o->oom)
        return;
    if (o->n + n + 1 > o->cap) {
        size_t cap = o->cap ? o->cap : 4096;
        while (cap < o->n + n + 1)
            cap *= 2;
        char *ns = realloc(o->s, cap);
        if (!ns) {
            o->oom = true;
            return;
        }
        o->s = ns;
        o->cap = cap;
    }
    memcpy(o->s + o->n, s, n);
    o->n += n;
    o->s[o->n] = '\0';
}

static void s_puts(s_buf_t *o, const char *s)
{
    s_put(o, s, strlen(s));
}

static void s_printf(s_buf_t *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void s_printf(s_buf_t *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *t = NULL;
    int n = vasprintf(&t, fmt, ap);
    va_end(ap);
    if (n < 0) {
        o->oom = true;
        return;
    }
    s_put(o, t, (size_t)n);
    free(t);
}

/* One CSV field (RFC 4180 quoting). A field Excel would take for a formula
 * (= + - @ first) gets a leading apostrophe, as OWASP advises for CSV
 * exports: the report quotes the clerk's cells, it must not run them. */
static void s_csv_field(s_buf_t *o, const char *s, bool last)
{
    bool quote = strpbrk(s, ",\"\r\n;") != NULL;
    bool formula = strchr("=+-@\t\r", s[0]) && s[0];
    if (quote)
        s_puts(o, "\"");
    if (formula)
        s_puts(o, "'");
    for (const char *c = s; *c; c++) {
        if (*c == '"')
            s_puts(o, "\"");
        s_put(o, c, 1);
    }
    if (quote)
        s_puts(o, "\"");
    s_puts(o, last ? "\r\n" : ",");
}

/* The report's time: local, with its UTC offset ("2026-12-07 19:32:05 +07:00"). */
static void s_local_time(char *buf, size_t cap)
{
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    size_t n = strftime(buf, cap, "%Y-%m-%d %H:%M:%S", &tm);
    long off = tm.tm_gmtoff;
    char sign = off < 0 ? '-' : '+';
    if (off < 0)
        off = -off;
    snprintf(buf + n, cap - n, " %c%02ld:%02ld", sign, off / 3600, off / 60 % 60);
}

/* NAME.report.txt: for the clerk, in the language of the messages. */
static void s_report_txt(const s_box_t *b, s_buf_t *o, const char *filed, bool failed,
                         const char *when)
{
    s_printf(o, "%s\n", _("kc-send drop-folder report"));
    s_printf(o, _("file: %s\n"), b->name);
    s_printf(o, _("filed: %s\n"), filed);
    if (failed)
        s_printf(o, "%s\n", _("outcome: failed: nothing could be read from the file (see below)"));
    else if (b->rejected || b->refused || b->nents)
        s_printf(o, "%s\n",
                 _("outcome: done: the rows read were sent; the rows listed below were not "
                   "counted. Correct them and drop the file again: the rows already counted "
                   "come back as duplicates and are not counted twice"));
    else
        s_printf(o, "%s\n", _("outcome: done: every row was accepted or was already counted"));
    s_printf(o, _("time: %s\n"), when);
    s_printf(o, _("producer: %s\n"), b->o->producer);
    s_printf(o, _("rows: %llu\n"), (unsigned long long)b->rows);
    s_printf(o, _("accepted: %llu\n"), (unsigned long long)b->accepted);
    s_printf(o, _("duplicates: %llu\n"), (unsigned long long)b->duplicates);
    s_printf(o, _("rejected: %llu (by the centre)\n"), (unsigned long long)b->rejected);
    s_printf(o, _("refused: %llu (not sent: a problem in the row)\n"),
             (unsigned long long)b->refused);
    if (b->nents)
        s_puts(o, "\n");
    for (size_t i = 0; i < b->nents; i++) {
        const s_entry_t *e = &b->ents[i];
        switch (e->kind) {
        case S_E_REJECTED:
            s_printf(o, _("rejected by the centre: %s row %ld, event_id %s: %s: %s\n"), b->name,
                     e->row, e->event_id, e->reason, e->message);
            if (*e->hint)
                s_printf(o, "    %s%s\n", _("hint: "), e->hint);
            break;
        case S_E_REFUSED: /* the import layer's message names the row and says what to do */
            s_printf(o, _("not sent: %s [%s]\n"), e->hint, e->reason);
            break;
        case S_E_HEADER: s_printf(o, "%s [%s]\n", e->hint, e->reason); break;
        case S_E_FILE:
            s_printf(o, "%s [%s]\n", e->message, e->reason);
            if (*e->hint)
                s_printf(o, "    %s\n", e->hint);
            break;
        }
    }
    if (b->oom)
        s_printf(o, "%s\n", _("(out of memory: some rows are missing from this list)"));
}

/* NAME.report.csv: the same rows for a spreadsheet, UTF-8 with a byte order
 * mark and CRLF so that Excel on Windows opens it with the Vietnamese intact. */
static void s_report_csv(const s_box_t *b, s_buf_t *o)
{
    s_puts(o, "\xEF\xBB\xBF");
    /* TRANSLATORS: the header row of the report CSV: five comma-separated column names */
    s_printf(o, "%s\r\n", _("row,event_id,reason,message,hint"));
    for (size_t i = 0; i < b->nents; i++) {
        const s_entry_t *e = &b->ents[i];
        char row[24];
        snprintf(row, sizeof row, "%ld", e->row);
        s_csv_field(o, row, false);
        s_csv_field(o, e->event_id, false);
        s_csv_field(o, e->reason, false);
        s_csv_field(o, e->message, false);
        s_csv_field(o, e->hint, true);
    }
}

/* Write buf to sfd/tmp, fsync'd; 0 or -1 (errno; tmp removed). */
static int s_write_tmp(int sfd, const char *tmp, const s_buf_t *buf)
{
    if (buf->oom) {
        errno = ENOMEM;
        return -1;
    }
    int fd = openat(sfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    int rc = 0;
    for (size_t off = 0; rc == 0 && off < buf->n;) {
        ssize_t w = write(fd, buf->s + off, buf->n - off);
        if (w < 0 && errno != EINTR)
            rc = -1;
        else if (w > 0)
            off += (size_t)w;
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

/* Move the file in hand to done/ or failed/ with its two reports. 0 or -1
 * (logged). The reports are complete on disk (temp file, fsync, rename that
 * never replaces) before the file is moved; a name taken by the file or
 * either report moves all three to the next suffixed name. */
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
    if (b->nents)
        qsort(b->ents, b->nents, sizeof *b->ents, s_entry_cmp);
    const char *dot = strrchr(b->name, '.'); /* the name ends in .csv or .xlsx: there is one */
    size_t stem = dot ? (size_t)(dot - b->name) : strlen(b->name);
    char stamp[32], when[48];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%S", &tm);
    s_local_time(when, sizeof when);
    char tmp_txt[64], tmp_csv[64];
    snprintf(tmp_txt, sizeof tmp_txt, ".kc-send-report.%ld.txt.tmp", (long)getpid());
    snprintf(tmp_csv, sizeof tmp_csv, ".kc-send-report.%ld.csv.tmp", (long)getpid());
    s_buf_t csv = {0};
    s_report_csv(b, &csv);
    int rc = -1;
    for (int attempt = 0; attempt < 10000; attempt++) {
        char target[NAME_MAX + 64], txt[NAME_MAX + 96], rcsv[NAME_MAX + 96];
        if (attempt == 0)
            snprintf(target, sizeof target, "%s", b->name);
        else if (attempt == 1)
            snprintf(target, sizeof target, "%.*s.%s%s", (int)stem, b->name, stamp, dot ? dot : "");
        else
            snprintf(target, sizeof target, "%.*s.%s-%d%s", (int)stem, b->name, stamp, attempt,
                     dot ? dot : "");
        snprintf(txt, sizeof txt, "%s.report.txt", target);
        snprintf(rcsv, sizeof rcsv, "%s.report.csv", target);
        if (strlen(txt) > NAME_MAX) {
            fprintf(stderr, _("kc-send: %s: name too long to file away\n"), b->name);
            break;
        }
        if (faccessat(sfd, target, F_OK, AT_SYMLINK_NOFOLLOW) == 0 ||
            faccessat(sfd, txt, F_OK, AT_SYMLINK_NOFOLLOW) == 0 ||
            faccessat(sfd, rcsv, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
            continue;
        char where[NAME_MAX + 80];
        snprintf(where, sizeof where, "%s/%s", sub, target);
        s_buf_t text = {0};
        s_report_txt(b, &text, where, failed, when);
        int w = s_write_tmp(sfd, tmp_txt, &text);
        free(text.s);
        if (w != 0) {
            fprintf(stderr, _("kc-send: cannot write %s/%s/%s: %s\n"), b->o->dir, sub, txt,
                    strerror(errno));
            break;
        }
        if (s_write_tmp(sfd, tmp_csv, &csv) != 0) {
            fprintf(stderr, _("kc-send: cannot write %s/%s/%s: %s\n"), b->o->dir, sub, rcsv,
                    strerror(errno));
            unlinkat(sfd, tmp_txt, 0);
            break;
        }
        int e = 0;
        const char *step = txt;
        if (s_rename_noreplace(sfd, tmp_txt, sfd, txt) != 0) {
            e = errno;
        } else if (step = rcsv, s_rename_noreplace(sfd, tmp_csv, sfd, rcsv) != 0) {
            e = errno;
            unlinkat(sfd, txt, 0);
        }
        if (e) {
            unlinkat(sfd, tmp_txt, 0);
            unlinkat(sfd, tmp_csv, 0);
            if (e == EEXIST)
                continue;
            fprintf(stderr, _("kc-send: cannot write %s/%s/%s: %s\n"), b->o->dir, sub, step,
                    strerror(e));
            break;
        }
        if (s_rename_noreplace(b->dfd, b->name, sfd, target) != 0) {
            e = errno;
            unlinkat(sfd, txt, 0);
            unlinkat(sfd, rcsv, 0);
            if (e == EEXIST)
                continue;
            fprintf(stderr, _("kc-send: cannot move %s to %s/: %s\n"), b->path, sub, strerror(e));
            break;
        }
        fsync(sfd);
        fsync(b->dfd);
        snprintf(filed, filed_cap, "%s", where);
        rc = 0;
        break;
    }
    free(csv.s);
    close(sfd);
    return rc;
}

enum { S_TAKEN = 0, S_SKIPPED, S_ABANDONED, S_FATAL };

static int s_fatal_code(int rc)
{
    return rc == KCI_EFENCED ? EX_UNAVAILABLE : EX_TEMPFAIL;
}

/* The centre's link went down or came back (kc_producer_on_link): the
 * clerk is told once per change, in kc-send's words (one catalogue entry). */
static void s_on_link(int reachable, uint64_t pending, void *ctx)
{
    s_box_t *b = ctx;
    if (reachable) {
        fprintf(stderr, _("kc-send: reached the centre (%s) again; sending\n"), b->o->server);
        kc_service_status("%llu files sent; %s reachable again%s%s",
                          (unsigned long long)(b->files_done + b->files_failed), b->o->server,
                          b->name ? "; sending " : "", b->name ? b->name : "");
    } else {
        fprintf(stderr,
                _("kc-send: cannot reach the centre (%s); %llu rows safe in the spool; "
                  "retrying\n"),
                b->o->server, (unsigned long long)pending);
        kc_service_status("%llu files sent; cannot reach %s: %llu rows spooled%s%s",
                          (unsigned long long)(b->files_done + b->files_failed), b->o->server,
                          (unsigned long long)pending, b->name ? "; waiting: " : "",
                          b->name ? b->name : "");
    }
}

/* Wait until nothing is pending (or a stop). 0, 1 (stopped), or a library error. */
static int s_drain(s_box_t *b)
{
    while (kc_producer_pending(b->p) > 0) {
        if (*b->stop)
            return 1;
        int rc = kc_producer_poll(b->p, ACK_POLL_MS);
        if (rc && rc != KCI_EINTR)
            return rc;
        s_read_events(b);
    }
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

    kc_sendfile_opts_t so = {.p = b->p,
                             .io = b->o->io,
                             .batch = b->o->batch,
                             .stop = b->stop,
                             .on_problem = s_on_problem,
                             .ctx = b};
    kc_sendfile_stats_t cs;
    int rc = kc_sendfile(b->path, &so, &cs);
    b->rows = cs.rows;
    b->refused = cs.bad;
    if (cs.fail_rc) {
        fprintf(stderr, _("kc-send: %s: cannot spool: %s\n"), b->path,
                kc_producer_strerror(cs.fail_rc));
        *fatal = s_fatal_code(cs.fail_rc);
        return S_FATAL;
    }
    if (rc == KCI_EINTR || *b->stop)
        return S_ABANDONED;
    if (cs.read_rc == -ENOENT && cs.rows == 0)
        return S_SKIPPED; /* removed between the listing and the import */
    /* the rows the reader handed over: kc_sendfile counts the row where the
     * reader stopped as a refused row (cs.stopped), but nothing of it was read */
    uint64_t read = cs.rows - (cs.stopped ? 1 : 0);
    if (*cs.err) {
        fprintf(stderr, "kc-send: %s\n", cs.err);
        s_add_file_error(b, &cs, read);
    }
    /* failed/ only when nothing could be read: the file cannot be opened, is
     * no spreadsheet (or not text: stopped before its first row), or its
     * header was refused. A file whose rows were read goes to done/ whatever
     * became of them: its good rows are counted, and the reports list the
     * others. */
    bool failed = cs.file_error && read == 0;

    int d = s_drain(b);
    if (d == 1)
        return S_ABANDONED;
    if (d) {
        fprintf(stderr, "kc-send: %s\n", kc_producer_strerror(d));
        *fatal = s_fatal_code(d);
        return S_FATAL;
    }
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
           (unsigned long long)b->refused);
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
        int d = s_drain(b);
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
    kc_producer_on_link(p, s_on_link, &b);
    fprintf(stderr, _("kc-send: watching %s (spool %s, aggregator %s)\n"), o->dir, o->spool,
            o->server);
    kc_service_ready("watching for spreadsheet files");
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
    kc_producer_on_link(p, NULL, NULL);
out:
    s_clear_file(&b);
    free(b.ents);
    for (size_t i = 0; i < b.qn; i++)
        free(b.q[i]);
    free(b.q);
    if (b.ifd >= 0)
        close(b.ifd);
    if (b.dfd >= 0)
        close(b.dfd);
    return ex;
}
