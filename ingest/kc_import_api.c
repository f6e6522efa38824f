/* kc_import_api.c - kcimport.h, libkcingest's public face of the import
 * layer, over the internal kc_import.h (and kc_template.h). */
#include "kcimport.h"

#include "kc_encode.h"
#include "kc_err.h"
#include "kc_event.h"
#include "kc_i18n.h"
#include "kc_import.h"
#include "kc_template.h"
#include "kc_text.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(KCI_EINVAL == KC_EINVAL && KCI_EFORMAT == KC_EFORMAT && KCI_ENOMEM == KC_ENOMEM,
               "kcingest.h codes are kc_err.h's");

struct kci_import {
    kc_import_t *imp;
    kc_import_item_t item; /* the current item */
    char message[1024];    /* its message */
    char suggestion[160];  /* "machinery" */
};

KCI_EXPORT int kci_import_open(kci_import_t **out, const char *path, const kci_import_opts_t *opts,
                               char *err, size_t cap)
{
    *out = NULL;
    kci_import_t *k = calloc(1, sizeof *k);
    if (!k) {
        if (cap)
            snprintf(err, cap, "%s: out of memory", path);
        return KC_ENOMEM;
    }
    kc_sheet_opts_t so = {0};
    if (opts) {
        so.sheet = opts->sheet;
        so.delimiter = opts->delimiter;
        so.encoding = opts->encoding;
    }
    int rc = kc_import_open(&k->imp, path, &so, err, cap);
    if (rc) {
        free(k);
        return rc;
    }
    *out = k;
    return 0;
}

KCI_EXPORT int kci_import_next(kci_import_t *k, kci_import_item_t *item, char *err, size_t cap)
{
    memset(item, 0, sizeof *item);
    int rc = kc_import_next(k->imp, &k->item, err, cap);
    if (rc <= 0)
        return rc;
    const kc_import_item_t *it = &k->item;
    item->is_event = it->is_event;
    item->file = it->loc.file;
    item->sheet = it->loc.sheet ? it->loc.sheet : "";
    item->row = it->loc.row;
    item->reason = item->col = item->header = item->column = item->cell = item->event_id = "";
    item->suggestion = item->message = "";
    if (it->is_event) {
        item->event = &it->event;
        return 1;
    }
    const kc_import_problem_t *p = &it->problem;
    item->reason = kc_import_problem_token(p);
    item->header_problem =
        p->reason >= KC_IMPORT_NO_HEADER && p->reason <= KC_IMPORT_REPEATED_COLUMN;
    item->col = p->loc.letter;
    item->header = p->loc.header;
    item->column = p->column ? p->column : "";
    item->cell = p->text;
    item->event_id = p->event_id;
    k->suggestion[0] = '\0';
    if (p->hint.suggest.value)
        snprintf(k->suggestion, sizeof k->suggestion, "%s", p->hint.suggest.value);
    item->suggestion = k->suggestion;
    kc_import_problem_text(p, k->message, sizeof k->message);
    item->message = k->message;
    return 1;
}

KCI_EXPORT void kci_import_counts(const kci_import_t *k, size_t *good, size_t *bad)
{
    if (good)
        *good = kc_import_good(k->imp);
    if (bad)
        *bad = kc_import_bad_rows(k->imp);
}

KCI_EXPORT void kci_import_close(kci_import_t **k)
{
    if (!k || !*k)
        return;
    kc_import_close(&(*k)->imp);
    free(*k);
    *k = NULL;
}

/* The id named after `marker` in the aggregator's text: "... marker 'ID'". */
static bool s_quoted_after(const char *text, const char *marker, char *out, size_t cap)
{
    const char *s = text ? strstr(text, marker) : NULL;
    if (!s)
        return false;
    s += strlen(marker);
    if (*s != '\'')
        return false;
    const char *e = strchr(++s, '\'');
    if (!e || (size_t)(e - s) >= cap || e == s)
        return false;
    memcpy(out, s, (size_t)(e - s));
    out[e - s] = '\0';
    return true;
}

/* The fixed hints, by the aggregator's reason name (msgids marked N_: the
 * catalogue is asked at the time of the call). */
static const char *const s_retracted_hint =
    N_("that row was retracted: there is nothing left to correct; send the figures as a new row "
       "(kind=actual) with a new event_id");
static const struct {
    const char *reason, *hint;
} s_hints[] = {
    {"target_retracted", s_retracted_hint},
    {"unknown_target", N_("corrects must be the event_id of a row of this province the centre "
                          "has accepted: check it (and the year and month of a retraction)")},
    {"target_other_province", N_("the row named in corrects belongs to another province: a "
                                 "correction keeps the province of the row it replaces")},
    {"province_not_authorized", N_("this office's key is not registered at the centre for that "
                                   "province: ask the centre to add it, or check the province")},
    {"total_overflow", N_("the total would become too large: the figure is almost certainly "
                          "mistyped (too many zeros)")},
    {"period_locked", N_("the centre has approved (locked) this month of the province: ask the "
                         "centre to reopen it, then send the row again")},
    {"period_not_ended", N_("a month can be signed off only after its last day: send the "
                            "sign-off again next month")},
    {"period_no_data", N_("the province has no accepted row for that month: nothing to approve; "
                          "check the province and the month")},
    {"period_not_locked", N_("that month of the province is not approved (locked): there is "
                             "nothing to reopen")},
    {"missing_reason", N_("a reopen needs a reason: say why the month is opened again")},
};

KCI_EXPORT size_t kci_result_hint(const kc_result_t *r, char *buf, size_t cap)
{
    if (cap)
        buf[0] = '\0';
    if (!r || !r->reason_name)
        return 0;
    const char *n = r->reason_name, *fixed = NULL;
    char id[96], shown[256];
    int w = 0;
    if (strcmp(n, "event_id_conflict") == 0)
        return kc_import_correction_hint(r->event_id ? r->event_id : "ID", buf, cap);
    if (strcmp(n, "target_superseded") == 0) {
        /* the ledger names the latest version, or says it was retracted */
        if (r->text && strstr(r->text, "was retracted by"))
            fixed = s_retracted_hint;
        else if (s_quoted_after(r->text, "the latest version is ", id, sizeof id)) {
            kc_text_shows(id, shown, sizeof shown);
            w = snprintf(buf, cap,
                         _("that row was corrected since: the latest version is %s; send the "
                           "correction again with corrects=%s"),
                         shown, shown);
        } else
            fixed = N_("that row was corrected since: name its latest version in corrects");
    }
    for (size_t i = 0; !fixed && i < sizeof s_hints / sizeof s_hints[0]; i++)
        if (strcmp(n, s_hints[i].reason) == 0)
            fixed = s_hints[i].hint;
    if (fixed)
        w = snprintf(buf, cap, "%s", _(fixed));
    return w > 0 ? (size_t)w : 0;
}

KCI_EXPORT int kci_template_write(const char *path, int format, const char *lang, char *err,
                                  size_t cap)
{
    if (format != KCI_TEMPLATE_XLSX && format != KCI_TEMPLATE_CSV) {
        if (cap)
            snprintf(err, cap, "unknown template format %d", format);
        return KC_EINVAL;
    }
    return kc_template_write(path, (kc_template_format_t)format, lang, err, cap);
}

KCI_EXPORT int kci_event_check(const kc_event_t *ev, const char **reason_name, char *text,
                               size_t cap)
{
    if (reason_name)
        *reason_name = "";
    if (!ev || !text || cap == 0)
        return KC_EINVAL;
    int r = kc_encode_check(ev, text, cap);
    if (r == 0) { /* the admission rules need the encoded bytes */
        kc_buf_t buf = {0};
        int reason = 0;
        r = kc_encode_admit(ev, "check", 1, &buf, &reason, text, cap);
        free(buf.data);
        if (r == KCI_EREFUSED)
            r = reason;
    }
    if (r > 0 && reason_name)
        *reason_name = kc_reason_name(r);
    return r;
}
