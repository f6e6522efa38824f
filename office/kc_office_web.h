/* kc_office_web.h - what kc-office's page files share (internal to office/).
 *
 * DESIGN
 * kc_office_http.c owns the server: the route table, the request's life
 * (body limits, the form decoder, the session and CSRF checks) and the
 * helpers every page uses; each group of pages lives in its own file and
 * exports its handlers, which the route table names:
 *   kc_office_http.c    sign-in, sign-out, home, assets, errors
 *   kc_office_upload.c  upload, preview, send (issue 17 step 2)
 *   kc_office_pages.c   form entry, submissions, correct, retract (steps 3-5)
 *   kc_office_totals.c  the office's own totals from the centre (step 6)
 * A handler gets a request whose session is already checked (routes marked
 * `auth`: no session -> 303 /login on GET/HEAD, 403 on POST, before any body
 * is read) and, for a POST, whose CSRF field already matched the session's
 * (403 otherwise): it only has to check what it reads. Form fields are
 * decoded by libmicrohttpd's post processor into a bounded list
 * (KC_OREQ_FIELDS fields of at most KC_OREQ_FIELD_MAX bytes; more, a NUL
 * byte, or a field sent twice marks the form bad: 400); a file part (routes
 * with `file`) is streamed to a new file in the data directory's uploads/
 * (mode 0600), at most the route's body_max bytes (413 above).
 * Texts: kc_ot() for the shared ones (KC_OT_*); page files keep their own
 * {vi, en} tables. Every outside string goes through kc_oesc.
 */
#ifndef KC_OFFICE_WEB_H
#define KC_OFFICE_WEB_H

#include "kc_office.h"
#include "kc_office_db.h"
#include "kc_office_http.h"

#include <microhttpd.h>
#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define KC_OREQ_FIELDS        64
#define KC_OREQ_FIELD_MAX     4096
#define KC_OHTTP_THROTTLE_CAP 1024

enum {
    KC_OT_TITLE,
    KC_OT_SUBTITLE,
    KC_OT_SIGNIN,
    KC_OT_OFFICE,
    KC_OT_USER,
    KC_OT_PASSWORD,
    KC_OT_SUBMIT,
    KC_OT_WRONG,
    KC_OT_THROTTLED,
    KC_OT_DISABLED,
    KC_OT_CSRF,
    KC_OT_NOT_SIGNED_IN,
    KC_OT_SIGNOUT,
    KC_OT_YOUR_OFFICE,
    KC_OT_PROVINCES,
    KC_OT_SIGNED_IN_AS,
    KC_OT_NOT_FOUND,
    KC_OT_TOO_LARGE,
    KC_OT_BAD_FORM,
    KC_OT_METHOD,
    KC_OT_TYPE,
    KC_OT_OFFICE_ID,
    KC_OT_CODE,
    KC_OT_PROVINCE,
    KC_OT_HOME,
    KC_OT_SIGNED_OUT,
    KC_OT_ERROR,
    KC_OT_NAV_UPLOAD,
    KC_OT_NAV_ENTRY,
    KC_OT_NAV_SUBMISSIONS,
    KC_OT_BANNER,
    KC_OT_COUNT
};

typedef struct {
    char key[KC_OFFICE_ID_MAX + KC_OFFICE_USER_MAX + 64];
    int fails;
    int locks; /* locks so far in this run of failures */
    int64_t last_fail_s, locked_until_s;
} kc_othr_t;

struct kc_ohttp {
    struct MHD_Daemon *daemon;
    kc_ohttp_opts_t o;
    unsigned port;
    bool tls;
    char dummy_hash[crypto_pwhash_STRBYTES]; /* verified for an unknown user (same cost) */
    pthread_mutex_t thr_mu;
    kc_othr_t thr[KC_OHTTP_THROTTLE_CAP];
};

/* The page's language and path. */
typedef struct {
    int lang; /* 0 vi, 1 en */
    bool set_lang_cookie;
    const char *path;  /* for the language toggle */
    const char *allow; /* a 405's Allow header (NULL: "GET, HEAD") */
    const char *query; /* a GET's query without lang, %-encoded (NULL none): the toggle keeps it */
} kc_octx_t;

/* A Set-Cookie to add (max_age < 0: a session cookie; 0 deletes). */
typedef struct {
    const char *name, *value;
    long max_age;
} kc_osetc_t;

/* A request from its first call to its completion. */
typedef struct {
    const void *route; /* the route table's entry (kc_office_http.c) */
    struct MHD_PostProcessor *pp;
    size_t got;
    bool too_large, bad_form;
    size_t n_fields;
    char *names[KC_OREQ_FIELDS];
    char *values[KC_OREQ_FIELDS];
    size_t lens[KC_OREQ_FIELDS];
    /* a file part: */
    int file_fd;          /* -1 none */
    char file_path[4096]; /* where it was written (deleted at completion unless kept) */
    char file_name[256];  /* the name the browser sent, without any directory */
    uint64_t file_size;
    bool file_keep; /* a handler took the file over (renamed it) */
    char file_field[64];
} kc_oreq_t;

/* The value of form field name (NUL-terminated), or NULL. */
const char *kc_oreq_field(const kc_oreq_t *r, const char *name);

const char *kc_ot(const kc_octx_t *x, int id);
/* s HTML-escaped (text or attribute value). */
void kc_oesc(FILE *f, const char *s);
bool kc_ohex64(const char *s);
void kc_orandom_hex(char out[KC_ODB_CSRF_HEX + 1]);
const kc_office_t *kc_ooffice(const kc_ohttp_t *h, const char *id);
/* Whether province code is one of office's. */
bool kc_ooffice_has(const kc_office_t *of, int province);

/* The page's head, header bar and, when s is not NULL (signed in): the
 * navigation, the sign-out form and the "centre unreachable" banner. */
void kc_opage_top(FILE *f, kc_ohttp_t *h, const kc_octx_t *x, const char *heading,
                  const kc_odb_session_t *s);
void kc_opage_end(FILE *f);
/* Queue body (malloc'd, taken over) as an HTML page. */
enum MHD_Result kc_orespond(kc_ohttp_t *h, struct MHD_Connection *c, const kc_octx_t *x,
                            unsigned status, char *body, size_t len, const char *location,
                            const kc_osetc_t *cookies, size_t n_cookies, long retry_after);
/* The same with the body of an open_memstream f over body and len (closed here). */
enum MHD_Result kc_orespond_mem(kc_ohttp_t *h, struct MHD_Connection *c, const kc_octx_t *x,
                                unsigned status, FILE *f, char **body, size_t *len);
/* The headers every answer carries (CSP, X-Frame-Options, nosniff, ...), for
 * an answer that is not a page (a download, /metrics). */
void kc_oadd_headers(const kc_ohttp_t *h, struct MHD_Response *r);
/* An error page: status and one message. */
enum MHD_Result kc_omessage(kc_ohttp_t *h, struct MHD_Connection *c, const kc_octx_t *x,
                            unsigned status, const char *msg, long retry_after);
/* 303 See Other to `to` (a local path). */
enum MHD_Result kc_oredirect(kc_ohttp_t *h, struct MHD_Connection *c, const kc_octx_t *x,
                             const char *to, const kc_osetc_t *ck, size_t n_ck);
/* The request's session: 0 or KC_ENOTFOUND; key_out its database key. */
int kc_osession(kc_ohttp_t *h, struct MHD_Connection *c, kc_odb_session_t *s, uint8_t key_out[32]);
bool kc_ocsrf_ok(const char *expected, const char *got);
/* The request's ?name= (decoded) or NULL. */
const char *kc_oarg(struct MHD_Connection *c, const char *name);

/* Handlers. GET handlers also answer HEAD (libmicrohttpd drops the body). */
typedef enum MHD_Result (*kc_oget_fn)(kc_ohttp_t *h, struct MHD_Connection *c, const kc_octx_t *x,
                                      const kc_odb_session_t *s, const char *url);
typedef enum MHD_Result (*kc_opost_fn)(kc_ohttp_t *h, struct MHD_Connection *c, const kc_octx_t *x,
                                       const kc_odb_session_t *s, const char *url, kc_oreq_t *r);

/* kc_office_upload.c */
enum MHD_Result kc_oupload_get(kc_ohttp_t *h, struct MHD_Connection *c, const kc_octx_t *x,
                               const kc_odb_session_t *s, const char *url);
enum MHD_Result kc_oupload_post(kc_ohttp_t *h, struct MHD_Connection *c, const kc_octx_t *x,
                                const kc_odb_session_t *s, const char *url, kc_oreq_t *r);
/* kc_office_pages.c */
enum MHD_Result kc_oentry_get(kc_ohttp_t *h, struct MHD_Connection *c, const kc_octx_t *x,
                              const kc_odb_session_t *s, const char *url);
enum MHD_Result kc_oentry_post(kc_ohttp_t *h, struct MHD_Connection *c, const kc_octx_t *x,
                               const kc_odb_session_t *s, const char *url, kc_oreq_t *r);
enum MHD_Result kc_osubs_get(kc_ohttp_t *h, struct MHD_Connection *c, const kc_octx_t *x,
                             const kc_odb_session_t *s, const char *url);
enum MHD_Result kc_oretract_get(kc_ohttp_t *h, struct MHD_Connection *c, const kc_octx_t *x,
                                const kc_odb_session_t *s, const char *url);
enum MHD_Result kc_oretract_post(kc_ohttp_t *h, struct MHD_Connection *c, const kc_octx_t *x,
                                 const kc_odb_session_t *s, const char *url, kc_oreq_t *r);
/* kc_office_totals.c: the home page's totals section (a short note when the
 * office has no api configured or the centre cannot be read). */
void kc_ototals_section(FILE *f, kc_ohttp_t *h, const kc_octx_t *x, const kc_office_t *of);

#endif
