/* kc_office_send.c - kc-office's producer side (kc_office_send.h).
 *
 * DESIGN
 * One s_office_t per office: its kc_producer_t (libkcingest says a producer
 * is used by one thread at a time, so every call on it is made under the
 * office's mutex `mu`), its link state and counters (under `st_mu`, read by
 * the HTTP threads without waiting for a poll), and the sent ranges and
 * results its callbacks collected during the last poll.
 * The sender thread loops over the offices: for one with events pending it
 * takes mu, polls the producer for a short time (200 ms split among the
 * offices, at least 10 ms), copies out what the callbacks reported, drops
 * mu, and only then writes the rows' new states to the LMDB (sent ranges
 * first, then all results of the pass in one transaction), so an HTTP
 * thread waits at most one short poll for the producer. When no office has
 * anything pending the thread sleeps on a condition variable that
 * kc_osend_submit and kc_osend_stop signal (with a 1 s timeout as a safety
 * net), so an idle portal does not spin. A poll that fails (a spool error)
 * is logged once (KC-OFF-058) and retried after that wait, not in a loop; a
 * fenced producer (a newer spool of its id took over at the centre) is
 * logged (KC-OFF-062) and not polled again until a restart.
 * kc_osend_submit: checks every event first (the office's provinces:
 * KC_EPERM; the fields kc_producer_add would refuse as KCI_EINVAL, the
 * sizes of kc_odb_row_t: KC_EINVAL) so that nothing is staged for a
 * submission that is refused; then under mu: set_submitted_by
 * "OFFICE/USER", kc_producer_add each event (KCI_EREFUSED: a rejected row
 * with kc_producer_refusal's reason and text, seq 0), the name cleared,
 * kc_producer_sync, kc_odb_sub_add; mu is held until the rows are in the
 * database, so no result can come for a seq before its row exists.
 * The crash window between the spool's commit and the database's: spool
 * first. An event is never promised (kc_osend_submit returning 0) before it
 * is durable in the spool; a crash between the two commits leaves events
 * in the spool that no row records: they are still delivered (the spool is
 * the delivery guarantee), and their results, for seqs no row has, are
 * logged as KC-OFF-054 with the event_id, so an operator can match them.
 * The clerk's request failed, so the clerk may submit again: the centre
 * then answers duplicate (same content under the same user) - nothing is
 * counted twice. The other order (database first) would show rows as
 * spooled that no spool holds. The same applies when kc_odb_sub_add fails
 * after the sync (KC-OFF-057 lists the seqs), and when the spool fails in
 * the middle of a submission (KC-OFF-056): events staged before the error
 * cannot be unstaged and go with the next commit. Results are written after
 * libkcingest removed the events from its spool; a crash in between leaves
 * those rows "sent" (the centre has them; kc-log show tells).
 * Link state: reachable from the start (no banner for a centre that was
 * never tried) until on_link says otherwise; since_s is when it changed.
 */
#include "kc_office_send.h"

#include "kc_err.h"
#include "kc_log.h"
#include "kc_ref.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define S_POLL_TOTAL_MS 200
#define S_POLL_MIN_MS   10
#define S_IDLE_WAIT_MS  1000

typedef struct {
    uint64_t seq;
    int reason;
    char reason_name[KC_ODB_REASON_MAX + 1];
    char text[KC_ODB_TEXT_MAX + 1];
    char event_id[65];
} s_res_t;

typedef struct {
    uint64_t first, last;
} s_range_t;

typedef struct {
    const kc_office_t *of;
    kc_producer_t *p;
    pthread_mutex_t mu; /* the producer and the buffers below */
    s_res_t *res;       /* results of the current poll */
    size_t n_res, cap_res;
    s_range_t *sent; /* batches handed over during the current poll */
    size_t n_sent, cap_sent;
    bool link_changed; /* on_link during the current poll */
    bool link_up;
    bool fenced; /* KCI_EFENCED: never polled again */
    int last_rc; /* the last poll's error, logged once */

    pthread_mutex_t st_mu; /* the status and counters below */
    bool reachable;
    int64_t since_s;
    uint64_t pending;
    uint64_t spooled, accepted, duplicate, rejected;
} s_office_t;

struct kc_osend {
    s_office_t *o;
    size_t n;
    kc_odb_t *db;
    pthread_t thread;
    bool started;
    pthread_mutex_t mu; /* stop, wake */
    pthread_cond_t cond;
    bool stop, wake;
};

static int64_t s_now_s(void)
{
    return (int64_t)time(NULL);
}

/* ---- callbacks (inside kc_producer_poll/add, under the office's mu) ---- */

static void s_on_result(const kc_result_t *r, void *ctx)
{
    s_office_t *o = ctx;
    if (o->n_res == o->cap_res) {
        size_t cap = o->cap_res ? o->cap_res * 2 : 64;
        s_res_t *n = realloc(o->res, cap * sizeof *n);
        if (!n) {
            kc_error("KC-OFF-055 office %s: out of memory keeping the result of seq %" PRIu64
                     " (event_id %s, %s); its row keeps its state",
                     o->of->id, r->seq, r->event_id, r->reason_name);
            return;
        }
        o->res = n;
        o->cap_res = cap;
    }
    s_res_t *x = &o->res[o->n_res++];
    x->seq = r->seq;
    x->reason = r->reason;
    snprintf(x->reason_name, sizeof x->reason_name, "%s", r->reason_name ? r->reason_name : "");
    snprintf(x->text, sizeof x->text, "%s", r->text ? r->text : "");
    snprintf(x->event_id, sizeof x->event_id, "%s", r->event_id ? r->event_id : "");
}

static void s_on_sent(uint64_t first, uint64_t last, void *ctx)
{
    s_office_t *o = ctx;
    if (o->n_sent && o->sent[o->n_sent - 1].last + 1 == first) {
        o->sent[o->n_sent - 1].last = last; /* consecutive batches: one range */
        return;
    }
    if (o->n_sent == o->cap_sent) {
        size_t cap = o->cap_sent ? o->cap_sent * 2 : 16;
        s_range_t *n = realloc(o->sent, cap * sizeof *n);
        if (!n)
            return; /* the rows stay "spooled" until their result */
        o->sent = n;
        o->cap_sent = cap;
    }
    o->sent[o->n_sent++] = (s_range_t){first, last};
}

static void s_on_link(int reachable, uint64_t pending, void *ctx)
{
    s_office_t *o = ctx;
    o->link_changed = true;
    o->link_up = reachable != 0;
    if (reachable)
        kc_info("KC-OFF-053 office %s: the centre %s answers again (%" PRIu64 " event(s) pending)",
                o->of->id, o->of->centre, pending);
    else
        kc_warn("KC-OFF-052 office %s: no answer from the centre %s; %" PRIu64
                " event(s) stay spooled and will be sent when it answers",
                o->of->id, o->of->centre, pending);
}

/* ---- the sender thread ---- */

/* Write what the last poll of o reported (without o->mu: the buffers are
 * handed over in res and sent). */
static void s_record(kc_osend_t *s, s_office_t *o, s_res_t *res, size_t n_res, s_range_t *sent,
                     size_t n_sent)
{
    uint64_t now = (uint64_t)s_now_s();
    for (size_t i = 0; i < n_sent; i++) {
        int rc = kc_odb_rows_sent(s->db, o->of->id, sent[i].first, sent[i].last, now);
        if (rc != 0)
            kc_error("KC-OFF-055 office %s: cannot record seq %" PRIu64 "..%" PRIu64 " as sent: %s",
                     o->of->id, sent[i].first, sent[i].last, kc_strerror(rc));
    }
    if (!n_res)
        return;
    uint64_t acc = 0, dup = 0, rej = 0;
    kc_odb_result_t *r = calloc(n_res, sizeof *r);
    for (size_t i = 0; i < n_res; i++) {
        if (res[i].reason == KCI_ACCEPTED)
            acc++;
        else if (res[i].reason == KCI_DUPLICATE)
            dup++;
        else
            rej++;
        if (r)
            r[i] = (kc_odb_result_t){res[i].seq, res[i].reason, res[i].reason_name, res[i].text};
    }
    size_t unknown = 0;
    int rc = r ? kc_odb_row_results(s->db, o->of->id, r, n_res, now, &unknown) : KC_ENOMEM;
    free(r);
    if (rc != 0)
        kc_error("KC-OFF-055 office %s: cannot record %zu result(s) (seq %" PRIu64 "..): %s",
                 o->of->id, n_res, res[0].seq, kc_strerror(rc));
    if (unknown) /* the crash window of the DESIGN: name each one */
        for (size_t i = 0; i < n_res; i++) {
            kc_odb_row_t row;
            if (kc_odb_row_by_seq(s->db, o->of->id, res[i].seq, &row) == KC_ENOTFOUND)
                kc_warn("KC-OFF-054 office %s: the centre answered %s for seq %" PRIu64
                        " (event_id %s), which no submission records (spooled just before a "
                        "crash or a database error)",
                        o->of->id, res[i].reason_name, res[i].seq, res[i].event_id);
        }
    pthread_mutex_lock(&o->st_mu);
    o->accepted += acc;
    o->duplicate += dup;
    o->rejected += rej;
    pthread_mutex_unlock(&o->st_mu);
}

static void *s_thread(void *arg)
{
    kc_osend_t *s = arg;
    int slice = S_POLL_TOTAL_MS / (int)(s->n ? s->n : 1);
    if (slice < S_POLL_MIN_MS)
        slice = S_POLL_MIN_MS;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        bool stop = s->stop;
        s->wake = false;
        pthread_mutex_unlock(&s->mu);
        if (stop)
            break;
        bool busy = false;
        for (size_t i = 0; i < s->n; i++) {
            s_office_t *o = &s->o[i];
            pthread_mutex_lock(&o->mu);
            uint64_t pending = kc_producer_pending(o->p);
            int rc = 0;
            if (pending && !o->fenced) {
                rc = kc_producer_poll(o->p, slice);
                if (rc == KCI_EFENCED) {
                    o->fenced = true;
                    kc_error("KC-OFF-062 office %s: the centre says a newer spool of producer "
                             "%s took over; this spool (%s) is retired and its %" PRIu64
                             " pending event(s) are not sent: check which kc-office or kc-send "
                             "uses this producer id",
                             o->of->id, o->of->producer, o->of->spool, kc_producer_pending(o->p));
                } else if (rc != 0 && rc != KCI_EINTR && rc != o->last_rc) {
                    kc_error("KC-OFF-058 office %s: sending: %s (retried every second)", o->of->id,
                             kc_producer_strerror(rc));
                }
                o->last_rc = rc;
                pending = kc_producer_pending(o->p);
            }
            s_res_t *res = o->res;
            size_t n_res = o->n_res;
            s_range_t *sent = o->sent;
            size_t n_sent = o->n_sent;
            bool changed = o->link_changed, up = o->link_up;
            o->res = NULL, o->n_res = o->cap_res = 0;
            o->sent = NULL, o->n_sent = o->cap_sent = 0;
            o->link_changed = false;
            pthread_mutex_unlock(&o->mu);
            s_record(s, o, res, n_res, sent, n_sent);
            free(res);
            free(sent);
            pthread_mutex_lock(&o->st_mu);
            o->pending = pending;
            if (changed && o->reachable != up) {
                o->reachable = up;
                o->since_s = s_now_s();
            }
            pthread_mutex_unlock(&o->st_mu);
            busy |= pending > 0 && rc == 0 && !o->fenced; /* an error: wait, then retry */
        }
        if (busy)
            continue;
        pthread_mutex_lock(&s->mu);
        if (!s->stop && !s->wake) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += S_IDLE_WAIT_MS / 1000;
            pthread_cond_timedwait(&s->cond, &s->mu, &until);
        }
        pthread_mutex_unlock(&s->mu);
    }
    return NULL;
}

static void s_wake(kc_osend_t *s)
{
    pthread_mutex_lock(&s->mu);
    s->wake = true;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->mu);
}

/* ---- start, stop ---- */

static int s_open_office(s_office_t *o)
{
    const kc_office_t *of = o->of;
    char server[41] = "", pub[41] = "", sec[41] = "";
    int rc = 0;
    if (!of->centre || !of->spool || !of->producer) {
        kc_error("KC-OFF-051 office %s: no centre, spool or producer id configured", of->id);
        return KC_EINVAL;
    }
    if (!of->server_key != !of->cert) {
        kc_error("KC-OFF-060 office %s: office-server-key and office-cert go together", of->id);
        return KC_EINVAL;
    }
    if (of->server_key && (rc = kc_ingest_read_cert(of->server_key, server, NULL)) != 0) {
        kc_error("KC-OFF-060 office %s: cannot read the centre's certificate %s: %s", of->id,
                 of->server_key, kc_producer_strerror(rc));
        return rc;
    }
    if (of->cert && (rc = kc_ingest_read_cert(of->cert, pub, sec)) != 0) {
        kc_error("KC-OFF-060 office %s: cannot read the office's secret certificate %s: %s", of->id,
                 of->cert, kc_producer_strerror(rc));
        return rc;
    }
    if (mkdir(of->spool, 0700) != 0 && errno != EEXIST) {
        rc = -errno;
        kc_error("KC-OFF-051 office %s: cannot create the spool %s: %s", of->id, of->spool,
                 strerror(errno));
        return rc;
    }
    kc_producer_opts_t po = {.endpoint = of->centre,
                             .producer_id = of->producer,
                             .spool_dir = of->spool,
                             .server_public_key = of->server_key ? server : NULL,
                             .client_public_key = of->cert ? pub : NULL,
                             .client_secret_key = of->cert ? sec : NULL};
    rc = kc_producer_open(&o->p, &po);
    memset(sec, 0, sizeof sec);
    if (rc != 0) {
        kc_error("KC-OFF-051 office %s: cannot open its producer (spool %s, centre %s): %s", of->id,
                 of->spool, of->centre, kc_producer_strerror(rc));
        return rc;
    }
    kc_producer_on_result(o->p, s_on_result, o);
    kc_producer_on_sent(o->p, s_on_sent, o);
    kc_producer_on_link(o->p, s_on_link, o);
    o->reachable = true;
    o->pending = kc_producer_pending(o->p);
    return 0;
}

int kc_osend_start(kc_osend_t **out, const kc_office_t *offices, size_t n, kc_odb_t *db)
{
    *out = NULL;
    if (!n || !db)
        return KC_EINVAL;
    kc_osend_t *s = calloc(1, sizeof *s);
    if (!s || !(s->o = calloc(n, sizeof *s->o))) {
        free(s);
        return KC_ENOMEM;
    }
    s->db = db;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cond, NULL);
    int rc = 0;
    for (; s->n < n; s->n++) {
        s_office_t *o = &s->o[s->n];
        o->of = &offices[s->n];
        pthread_mutex_init(&o->mu, NULL);
        pthread_mutex_init(&o->st_mu, NULL);
        if ((rc = s_open_office(o)) != 0) {
            s->n++;
            break;
        }
    }
    uint64_t pending = 0; /* counted before the thread may change it */
    for (size_t i = 0; rc == 0 && i < n; i++)
        pending += s->o[i].pending;
    if (rc == 0 && pthread_create(&s->thread, NULL, s_thread, s) != 0)
        rc = KC_ENOMEM;
    s->started = rc == 0;
    if (rc != 0) {
        kc_osend_stop(&s);
        return rc;
    }
    kc_info("KC-OFF-050 sending for %zu office(s); %" PRIu64 " event(s) pending from before", n,
            pending);
    *out = s;
    return 0;
}

void kc_osend_stop(kc_osend_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    kc_osend_t *s = *self_p;
    if (s->started) {
        pthread_mutex_lock(&s->mu);
        s->stop = true;
        pthread_cond_signal(&s->cond);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->thread, NULL);
    }
    for (size_t i = 0; i < s->n; i++) {
        s_office_t *o = &s->o[i];
        if (o->p) {
            uint64_t pending = kc_producer_pending(o->p);
            kc_producer_close(&o->p);
            if (pending)
                kc_info("KC-OFF-059 office %s: %" PRIu64
                        " event(s) stay spooled in %s and are sent at the next start",
                        o->of->id, pending, o->of->spool);
        }
        free(o->res);
        free(o->sent);
        pthread_mutex_destroy(&o->mu);
        pthread_mutex_destroy(&o->st_mu);
    }
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->mu);
    free(s->o);
    free(s);
    *self_p = NULL;
}

/* ---- submit ---- */

static s_office_t *s_find(kc_osend_t *s, const char *office)
{
    for (size_t i = 0; s && office && i < s->n; i++)
        if (strcmp(s->o[i].of->id, office) == 0)
            return &s->o[i];
    return NULL;
}

static bool s_province_ok(const kc_office_t *of, const char *province)
{
    if (!province || strlen(province) != 2)
        return false;
    int code = kc_ref_parse_code(province);
    for (size_t i = 0; code >= 0 && i < of->n_provinces; i++)
        if (of->provinces[i] == code)
            return true;
    return false;
}

static size_t s_len(const char *s)
{
    return s ? strlen(s) : 0;
}

/* What kc_producer_add would refuse as KCI_EINVAL, and what kc_odb_row_t
 * cannot hold: a message, or NULL. */
static const char *s_event_bad(const kc_event_t *ev)
{
    bool fix = ev->op == KCI_OP_CORRECTION || ev->op == KCI_OP_RETRACTION;
    if (ev->op < KCI_OP_RECORD || ev->op > KCI_OP_RETRACTION)
        return "an unknown op";
    if (s_len(ev->event_id) < 1 || s_len(ev->event_id) > 64)
        return "event_id is 1-64 bytes";
    if (ev->op != KCI_OP_RETRACTION && s_len(ev->activity) < 1)
        return "no activity";
    if (s_len(ev->activity) > 16)
        return "activity is at most 16 bytes";
    if (fix && (s_len(ev->corrects) < 1 || s_len(ev->corrects) > 64))
        return "a correction or retraction names the event_id it corrects (1-64 bytes)";
    if (!fix && s_len(ev->corrects))
        return "corrects is only for a correction or retraction";
    if (s_len(ev->note) > 1024)
        return "note is at most 1024 bytes";
    return NULL;
}

static void s_row_fill(kc_odb_row_t *r, const kc_event_t *ev, long source_row)
{
    memset(r, 0, sizeof *r);
    r->source_row = source_row;
    snprintf(r->event_id, sizeof r->event_id, "%s", ev->event_id);
    snprintf(r->province, sizeof r->province, "%s", ev->province);
    snprintf(r->activity, sizeof r->activity, "%s", ev->activity ? ev->activity : "");
    r->year = ev->year;
    r->month = ev->month;
    r->kind = ev->kind;
    r->fund = ev->fund;
    r->op = ev->op;
    r->present = ev->present;
    memcpy(r->metrics, ev->metrics, sizeof r->metrics);
    snprintf(r->note, sizeof r->note, "%s", ev->note ? ev->note : "");
    snprintf(r->corrects, sizeof r->corrects, "%s", ev->corrects ? ev->corrects : "");
    r->reason = -1;
}

int kc_osend_submit(kc_osend_t *s, const char *office, const char *user, const char *what,
                    const char *file, const kc_event_t *evs, const long *source_rows, size_t n,
                    uint64_t *sub_out, char *err, size_t cap)
{
    if (sub_out)
        *sub_out = 0;
    if (cap)
        err[0] = '\0';
    s_office_t *o = s_find(s, office);
    if (!o || n == 0 || n > UINT32_MAX || !user || !what) {
        snprintf(err, cap, "%s", !o ? "unknown office" : "nothing to send");
        return KC_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        if (!s_province_ok(o->of, evs[i].province)) {
            snprintf(err, cap, "row %zu: province %.8s is not one of office %s's", i + 1,
                     evs[i].province ? evs[i].province : "(none)", office);
            return KC_EPERM;
        }
    }
    for (size_t i = 0; i < n; i++) {
        const char *bad = s_event_bad(&evs[i]);
        if (bad) {
            snprintf(err, cap, "row %zu: %s", i + 1, bad);
            return KC_EINVAL;
        }
    }
    char by[KC_OFFICE_ID_MAX + KC_OFFICE_USER_MAX + 2];
    snprintf(by, sizeof by, "%s/%s", office, user);
    kc_odb_row_t *rows = calloc(n, sizeof *rows);
    if (!rows) {
        snprintf(err, cap, "out of memory");
        return KC_ENOMEM;
    }
    kc_odb_sub_t sub = {.created_s = (uint64_t)s_now_s()};
    snprintf(sub.office, sizeof sub.office, "%s", office);
    snprintf(sub.user, sizeof sub.user, "%s", user);
    snprintf(sub.what, sizeof sub.what, "%s", what);
    snprintf(sub.file, sizeof sub.file, "%s", file ? file : "");
    uint64_t spooled = 0, refused = 0;
    pthread_mutex_lock(&o->mu);
    int rc = kc_producer_set_submitted_by(o->p, by);
    if (rc != 0) {
        pthread_mutex_unlock(&o->mu);
        free(rows);
        snprintf(err, cap, "the name %s is not a valid submitted_by (1-64 bytes)", by);
        return KC_EINVAL;
    }
    size_t i = 0;
    for (; i < n; i++) {
        kc_odb_row_t *r = &rows[i];
        long srow = source_rows ? source_rows[i] : 0;
        s_row_fill(r, &evs[i], srow);
        char src[300];
        if (file && file[0])
            snprintf(src, sizeof src, "%s:%ld", file, srow);
        else
            snprintf(src, sizeof src, "%s", what);
        uint64_t seq = 0;
        rc = kc_producer_add(o->p, &evs[i], src, &seq);
        if (rc == 0) {
            r->state = KC_ROW_SPOOLED;
            r->seq = seq;
            spooled++;
        } else if (rc == KCI_EREFUSED) {
            const char *name = "", *text = "";
            r->state = KC_ROW_REJECTED;
            r->reason = kc_producer_refusal(o->p, &name, &text);
            snprintf(r->reason_name, sizeof r->reason_name, "%s", name);
            snprintf(r->text, sizeof r->text, "%s", text);
            r->updated_s = sub.created_s;
            refused++;
            rc = 0;
        } else {
            break;
        }
    }
    kc_producer_set_submitted_by(o->p, NULL);
    if (rc == 0)
        rc = kc_producer_sync(o->p);
    if (rc != 0) {
        kc_error("KC-OFF-056 office %s: spooling a submission of %s failed at row %zu: %s; %s",
                 office, by, i + 1, kc_producer_strerror(rc),
                 spooled ? "events staged before it go with the next commit (see the results "
                           "logged as KC-OFF-054)"
                         : "nothing was spooled");
        snprintf(err, cap, "the spool %s: %s", o->of->spool, kc_producer_strerror(rc));
        pthread_mutex_unlock(&o->mu);
        free(rows);
        return rc;
    }
    rc = kc_odb_sub_add(s->db, &sub, rows, (uint32_t)n);
    uint64_t pending = kc_producer_pending(o->p);
    pthread_mutex_unlock(&o->mu);
    if (rc != 0) {
        uint64_t lo = 0, hi = 0;
        for (size_t j = 0; j < n; j++)
            if (rows[j].seq) {
                lo = lo ? lo : rows[j].seq;
                hi = rows[j].seq;
            }
        kc_error("KC-OFF-057 office %s: %" PRIu64 " event(s) of %s are spooled (seq %" PRIu64
                 "..%" PRIu64 ") and will be sent, but the submission could not be recorded: %s",
                 office, spooled, by, lo, hi, kc_strerror(rc));
        snprintf(err, cap, "the portal's database: %s", kc_strerror(rc));
        free(rows);
        if (spooled)
            s_wake(s);
        return rc;
    }
    free(rows);
    pthread_mutex_lock(&o->st_mu);
    o->spooled += spooled;
    o->rejected += refused;
    o->pending = pending;
    pthread_mutex_unlock(&o->st_mu);
    if (sub_out)
        *sub_out = sub.id;
    kc_info("KC-OFF-061 office %s: submission %" PRIu64 " (%s) by %s: %" PRIu64
            " row(s) spooled, %" PRIu64 " refused",
            office, sub.id, what, by, spooled, refused);
    if (spooled)
        s_wake(s);
    return 0;
}

/* ---- status, metrics ---- */

int kc_osend_status(kc_osend_t *s, const char *office, kc_osend_status_t *out)
{
    s_office_t *o = s_find(s, office);
    if (!o)
        return KC_EINVAL;
    pthread_mutex_lock(&o->st_mu);
    out->reachable = o->reachable;
    out->pending = o->pending;
    out->since_s = o->since_s;
    pthread_mutex_unlock(&o->st_mu);
    return 0;
}

void kc_osend_metrics(kc_osend_t *s, FILE *f)
{
    if (!s)
        return;
    static const struct {
        const char *name, *type, *help;
    } m[] = {
        {"kcpipe_office_rows_spooled_total", "counter",
         "Rows of submissions made durable in the office's spool since the start."},
        {"kcpipe_office_rows_accepted_total", "counter",
         "Events the centre accepted since the start."},
        {"kcpipe_office_rows_duplicate_total", "counter",
         "Events the centre already had (counted once, earlier) since the start."},
        {"kcpipe_office_rows_rejected_total", "counter",
         "Events the centre rejected, or refused before spooling, since the start."},
        {"kcpipe_office_pending", "gauge", "Events spooled and not yet final."},
        {"kcpipe_office_reachable", "gauge",
         "1 if the centre answered the office's last request in time, else 0."},
    };
    for (size_t k = 0; k < sizeof m / sizeof *m; k++) {
        fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", m[k].name, m[k].help, m[k].name, m[k].type);
        for (size_t i = 0; i < s->n; i++) {
            s_office_t *o = &s->o[i];
            pthread_mutex_lock(&o->st_mu);
            uint64_t v = k == 0   ? o->spooled
                         : k == 1 ? o->accepted
                         : k == 2 ? o->duplicate
                         : k == 3 ? o->rejected
                         : k == 4 ? o->pending
                                  : (uint64_t)o->reachable;
            pthread_mutex_unlock(&o->st_mu);
            fprintf(f, "%s{office=\"%s\"} %" PRIu64 "\n", m[k].name, o->of->id, v);
        }
    }
}
