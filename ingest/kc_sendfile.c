/* kc_sendfile.c - one spreadsheet file into the producer (see kc_sendfile.h). */
#include "kc_sendfile.h"

#include "kc_i18n.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define S_PROGRESS_ROWS 2000

bool kc_sendfile_name_ok(const char *name)
{
    static const char *const exts[] = {".csv", ".xlsx", ".ods"};
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
        size_t e = strlen(exts[i]);
        if (n > e && strcasecmp(name + n - e, exts[i]) == 0)
            return true;
    }
    return false;
}

/* Stage one good event; 0 or the error that stops the import. */
static int s_stage(const kc_sendfile_opts_t *o, const kci_import_item_t *it,
                   kc_sendfile_stats_t *st, size_t *since_poll)
{
    char source[4200];
    snprintf(source, sizeof source, "%s:%ld", it->file, it->row);
    uint64_t seq = 0;
    int rc = kc_producer_add(o->p, it->event, source, &seq);
    if (rc == 0 && o->first_seq && *o->first_seq == 0)
        *o->first_seq = seq;
    if (rc == KCI_EINVAL || rc == KCI_EREFUSED) {
        /* the import layer checks every rule kc_producer_add does: a row it
         * passed and the library refuses is reported, not sent */
        const char *name = "", *text = "";
        if (rc == KCI_EREFUSED)
            kc_producer_refusal(o->p, &name, &text);
        char msg[1024];
        snprintf(msg, sizeof msg, _("%s row %ld: cannot be sent: %s %s"), it->file, it->row,
                 rc == KCI_EREFUSED ? name : "", text);
        kci_import_item_t bad = *it;
        bad.is_event = 0;
        bad.event = NULL;
        bad.reason = rc == KCI_EREFUSED ? name : "invalid";
        bad.message = msg;
        st->good--;
        st->bad++;
        st->problems++;
        if (o->on_problem)
            o->on_problem(&bad, o->ctx);
        return 0;
    }
    if (rc) {
        st->fail_rc = rc;
        return rc;
    }
    size_t batch = o->batch ? o->batch : 1000;
    if (++*since_poll >= batch) {
        *since_poll = 0;
        rc = kc_producer_poll(o->p, 0); /* send and take acks while importing */
        if (rc && rc != KCI_EINTR) {
            st->fail_rc = rc;
            return rc;
        }
    }
    return 0;
}

int kc_sendfile(const char *path, const kc_sendfile_opts_t *o, kc_sendfile_stats_t *st)
{
    memset(st, 0, sizeof *st);
    kci_import_t *imp = NULL;
    int rc = kci_import_open(&imp, path, o->io, st->err, sizeof st->err);
    if (rc) {
        st->file_error = true;
        st->read_rc = rc;
        return 0;
    }
    size_t since_poll = 0;
    uint64_t next_progress = S_PROGRESS_ROWS;
    long last_row = -1;
    int out = 0;
    for (;;) {
        if (o->stop && *o->stop) {
            out = KCI_EINTR;
            break;
        }
        kci_import_item_t it;
        rc = kci_import_next(imp, &it, st->err, sizeof st->err);
        if (rc < 0) {
            /* the reader stopped at a row it could not read (bytes not valid
             * in the encoding, broken quoting, a corrupt sheet): that row is
             * refused; the rows after it are not read */
            st->file_error = true;
            st->read_rc = rc;
            st->stopped = true;
            st->rows++;
            st->bad++;
            break;
        }
        if (rc == 0)
            break;
        if (!it.is_event) {
            st->problems++;
            if (it.header_problem) {
                st->file_error = true; /* no row of the file is read */
            } else if (it.row != last_row) {
                st->bad++; /* a bad row's problems come one after another */
                st->rows++;
            }
            last_row = it.row;
            if (o->on_problem)
                o->on_problem(&it, o->ctx);
            continue;
        }
        last_row = it.row;
        st->rows++;
        st->good++;
        if (o->p && (out = s_stage(o, &it, st, &since_poll)) != 0)
            break;
        if (o->on_progress && st->rows >= next_progress) {
            next_progress = st->rows + S_PROGRESS_ROWS;
            o->on_progress(path, st, false, o->ctx);
        }
    }
    kci_import_close(&imp);
    if (o->on_progress)
        o->on_progress(path, st, true, o->ctx);
    return out;
}
