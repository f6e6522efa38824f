/* kc_ref.c - parses the embedded reference tables of data/ once, on first use.
 *
 * The tables are our own build inputs, so a malformed line is a build defect:
 * it is reported and the program aborts (tests/common/ref_test.c checks every
 * file parses and is consistent with the wire schema).
 */
#include "kc_ref.h"
#include "kc_event.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_ACTIVITIES 64
#define MAX_PROVINCES  128
#define MAX_REGIONS    128
#define MAX_FIELDS     8

typedef struct {
    uint8_t scheme, code;
    const char *region;
    int32_t from, to;
    bool unconfirmed;
} region_row_t;

static kc_metric_info_t s_metrics[KC_METRIC_COUNT];
static kc_activity_t s_activities[MAX_ACTIVITIES];
static size_t s_n_activities;
static kc_province_t s_provinces[MAX_PROVINCES];
static size_t s_n_provinces;
static region_row_t s_regions[MAX_REGIONS];
static size_t s_n_regions;
static pthread_once_t s_once = PTHREAD_ONCE_INIT;

/* Indexes built once after loading, so that the lookups on every event's path
 * (kc_event_check: activity by code, province by code and period; the import
 * layer: activity by code or name) are not scans with strcmp. Each answers
 * exactly what the scan in file order answered: the first match. */
#define S_ACT_SLOTS 256 /* open addressing, power of two > 2 * 2 * MAX_ACTIVITIES */
typedef struct {
    const char *key; /* the code or name this slot was filled for, or NULL */
    const kc_activity_t *act;
} s_act_slot_t;
static s_act_slot_t s_act_code[S_ACT_SLOTS]; /* exact code */
static s_act_slot_t s_act_any[S_ACT_SLOTS];  /* code or name, ASCII case folded */
static const kc_activity_t *s_act_id[256];   /* by id */
#define S_PROV_PER_CODE 4
static const kc_province_t *s_prov_code[100][S_PROV_PER_CODE]; /* by code, file order */
static kc_ref_deadlines_t s_deadlines;
static char *s_texts[4]; /* the parsed copies the tables point into (kept for life) */
static size_t s_n_texts;

static void s_die(const char *table, int line, const char *what)
{
    fprintf(stderr, "kcpipe: embedded data/%s line %d: %s\n", table, line, what);
    abort();
}

/* Split a copy of the text into lines; call fn for each data row (after the
 * header row, skipping '#' comments and blank lines) with its tab fields.
 * The copy is never freed: the tables point into it for the process lifetime. */
static void s_parse(const char *text, const char *table, int nfields,
                    void (*fn)(char **f, int line, const char *table))
{
    char *copy = strdup(text);
    if (!copy || s_n_texts == sizeof s_texts / sizeof s_texts[0])
        abort();
    s_texts[s_n_texts++] = copy;
    bool header_seen = false;
    int lineno = 0;
    for (char *save = NULL, *line = strtok_r(copy, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        if (line[0] == '#' || line[0] == '\0')
            continue;
        char *f[MAX_FIELDS] = {0};
        int n = 0;
        for (char *p = line;;) {
            if (n == MAX_FIELDS)
                s_die(table, lineno, "too many fields");
            f[n++] = p;
            char *tab = strchr(p, '\t');
            if (!tab)
                break;
            *tab = '\0';
            p = tab + 1;
        }
        if (n != nfields)
            s_die(table, lineno, "wrong number of fields");
        if (!header_seen) {
            header_seen = true;
            continue;
        }
        fn(f, lineno, table);
    }
}

static int32_t s_yyyymm(const char *s, const char *table, int line)
{
    int y, m;
    if (sscanf(s, "%4d-%2d", &y, &m) != 2 || m < 1 || m > 12)
        s_die(table, line, "bad year-month");
    return y * 100 + m;
}

static void s_metric_row(char **f, int line, const char *table)
{
    int id = atoi(f[0]);
    if (id < 0 || id >= KC_METRIC_COUNT || s_metrics[id].name)
        s_die(table, line, "bad or repeated metric id");
    char *end;
    errno = 0;
    long long max = strtoll(f[5], &end, 10);
    if (errno || end == f[5] || *end || max <= 0)
        s_die(table, line, "bad max");
    s_metrics[id] = (kc_metric_info_t){id, f[1], strcmp(f[2], "vnd") == 0, f[3], f[4], max};
}

static void s_activity_row(char **f, int line, const char *table)
{
    if (s_n_activities == MAX_ACTIVITIES)
        s_die(table, line, "too many activities");
    int id = atoi(f[0]);
    if (id < 1 || id > 255)
        s_die(table, line, "bad activity id");
    kc_activity_t *a = &s_activities[s_n_activities++];
    a->id = (uint8_t)id;
    a->code = f[1];
    a->name = f[2];
    a->label_en = f[4];
    a->label_vi = f[5];
    a->metric_mask = 0;
    for (char *save = NULL, *m = strtok_r(f[3], ",", &save); m; m = strtok_r(NULL, ",", &save)) {
        int mi = kc_ref_metric_by_name(m);
        if (mi < 0)
            s_die(table, line, "unknown metric");
        a->metric_mask |= 1u << mi;
    }
}

static void s_province_row(char **f, int line, const char *table)
{
    if (s_n_provinces == MAX_PROVINCES)
        s_die(table, line, "too many provinces");
    kc_province_t *p = &s_provinces[s_n_provinces++];
    int code = kc_ref_parse_code(f[1]);
    p->scheme = (uint8_t)atoi(f[0]);
    if ((p->scheme != 63 && p->scheme != 34) || code < 0 || strlen(f[1]) != 2)
        s_die(table, line, "bad scheme or code");
    p->code = (uint8_t)code;
    memcpy(p->code_str, f[1], 3);
    p->name = f[2];
    p->valid_from = s_yyyymm(f[3], table, line);
    p->valid_to = s_yyyymm(f[4], table, line);
    p->successor = f[5][0] ? (uint8_t)kc_ref_parse_code(f[5]) : 0;
}

static void s_region_row(char **f, int line, const char *table)
{
    if (s_n_regions == MAX_REGIONS)
        s_die(table, line, "too many region rows");
    region_row_t *r = &s_regions[s_n_regions++];
    r->scheme = (uint8_t)atoi(f[0]);
    int code = kc_ref_parse_code(f[1]);
    if (code < 0)
        s_die(table, line, "bad code");
    r->code = (uint8_t)code;
    r->region = f[2];
    r->from = s_yyyymm(f[3], table, line);
    r->to = s_yyyymm(f[4], table, line);
    r->unconfirmed = strcmp(f[5], "unconfirmed") == 0;
}

/* FNV-1a, ASCII letters folded when fold. */
static uint32_t s_hash(const char *k, bool fold)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)k; *p; p++)
        h = (h ^ (uint32_t)(fold && *p >= 'A' && *p <= 'Z' ? *p + 32 : *p)) * 16777619u;
    return h;
}

static s_act_slot_t *s_act_find(s_act_slot_t *t, const char *k, bool fold)
{
    for (uint32_t i = s_hash(k, fold) & (S_ACT_SLOTS - 1);; i = (i + 1) & (S_ACT_SLOTS - 1))
        if (!t[i].key || (fold ? strcasecmp(t[i].key, k) : strcmp(t[i].key, k)) == 0)
            return &t[i];
}

static void s_act_put(s_act_slot_t *t, const char *k, bool fold, const kc_activity_t *a)
{
    s_act_slot_t *slot = s_act_find(t, k, fold);
    if (!slot->key) /* a key seen before keeps its first activity */
        *slot = (s_act_slot_t){k, a};
}

static void s_index(void)
{
    for (size_t i = 0; i < s_n_activities; i++) {
        const kc_activity_t *a = &s_activities[i];
        s_act_put(s_act_code, a->code, false, a);
        s_act_put(s_act_any, a->code, true, a);
        s_act_put(s_act_any, a->name, true, a);
        if (!s_act_id[a->id])
            s_act_id[a->id] = a;
    }
    for (size_t i = 0; i < s_n_provinces; i++) {
        const kc_province_t *p = &s_provinces[i];
        const kc_province_t **row = s_prov_code[p->code % 100];
        size_t n = 0;
        while (n < S_PROV_PER_CODE && row[n])
            n++;
        if (n == S_PROV_PER_CODE)
            s_die("provinces.tsv", 0, "more than 4 provinces share a code");
        row[n] = p;
    }
}

static void s_load(void)
{
    s_parse(kc_ref_metrics_tsv, "metrics.tsv", 6, s_metric_row);
    for (int i = 0; i < KC_METRIC_COUNT; i++)
        if (!s_metrics[i].name)
            s_die("metrics.tsv", 0, "a metric id is missing");
    s_parse(kc_ref_activities_tsv, "activities.tsv", 6, s_activity_row);
    s_parse(kc_ref_provinces_tsv, "provinces.tsv", 6, s_province_row);
    s_parse(kc_ref_regions_tsv, "regions.tsv", 6, s_region_row);
    char err[160];
    if (kc_ref_deadlines_parse(kc_ref_deadlines_tsv, &s_deadlines, err, sizeof err) != 0)
        s_die("deadlines.tsv", 0, err);
    s_index();
}

static inline void s_init(void)
{
    pthread_once(&s_once, s_load);
}

const kc_metric_info_t *kc_ref_metric(int id)
{
    s_init();
    return (id >= 0 && id < KC_METRIC_COUNT) ? &s_metrics[id] : NULL;
}

int kc_ref_metric_by_name(const char *name)
{
    /* Called during loading too (activities refer to metrics): no s_init(). */
    if (!name)
        return -1;
    for (int i = 0; i < KC_METRIC_COUNT; i++)
        if (s_metrics[i].name && strcmp(s_metrics[i].name, name) == 0)
            return i;
    return -1;
}

size_t kc_ref_activity_count(void)
{
    s_init();
    return s_n_activities;
}

const kc_activity_t *kc_ref_activity_at(size_t i)
{
    s_init();
    return i < s_n_activities ? &s_activities[i] : NULL;
}

const kc_activity_t *kc_ref_activity_by_id(uint8_t id)
{
    s_init();
    return s_act_id[id];
}

const kc_activity_t *kc_ref_activity_by_code(const char *code)
{
    s_init();
    return code ? s_act_find(s_act_code, code, false)->act : NULL;
}

const kc_activity_t *kc_ref_activity_lookup(const char *s)
{
    s_init();
    return s ? s_act_find(s_act_any, s, true)->act : NULL;
}

int kc_ref_scheme_for(int32_t yyyymm)
{
    return yyyymm >= 202507 ? 34 : 63;
}

size_t kc_ref_province_count(void)
{
    s_init();
    return s_n_provinces;
}

const kc_province_t *kc_ref_province_at(size_t i)
{
    s_init();
    return i < s_n_provinces ? &s_provinces[i] : NULL;
}

const kc_province_t *kc_ref_province(int scheme, int code)
{
    s_init();
    if (code < 0 || code > 99)
        return NULL;
    for (size_t i = 0; i < S_PROV_PER_CODE && s_prov_code[code][i]; i++)
        if (s_prov_code[code][i]->scheme == scheme)
            return s_prov_code[code][i];
    return NULL;
}

const kc_province_t *kc_ref_province_for(int code, int32_t yyyymm)
{
    s_init();
    if (code < 0 || code > 99)
        return NULL;
    for (size_t i = 0; i < S_PROV_PER_CODE && s_prov_code[code][i]; i++) {
        const kc_province_t *p = s_prov_code[code][i];
        if (p->valid_from <= yyyymm && yyyymm <= p->valid_to)
            return p;
    }
    return NULL;
}

uint8_t kc_ref_unit_key(int code, int32_t yyyymm)
{
    return (uint8_t)(kc_ref_scheme_for(yyyymm) == 34 ? 100 + code : code);
}

int kc_ref_parse_code(const char *s)
{
    if (!s || !isdigit((unsigned char)s[0]))
        return -1;
    if (s[1] == '\0')
        return s[0] == '0' ? -1 : s[0] - '0';
    if (!isdigit((unsigned char)s[1]) || s[2] != '\0')
        return -1;
    int v = (s[0] - '0') * 10 + (s[1] - '0');
    return v >= 1 ? v : -1;
}

bool kc_ref_parse_period(const char *s, int *year, int *month)
{
    int y = 0, m = 0;
    for (int i = 0; i < 7; i++) {
        char ch = s[i];
        if (i == 4 ? ch != '-' : !(ch >= '0' && ch <= '9'))
            return false;
        if (i < 4)
            y = y * 10 + (ch - '0');
        else if (i > 4)
            m = m * 10 + (ch - '0');
    }
    if (s[7] || y < KC_YEAR_MIN || y > KC_YEAR_MAX || m < 1 || m > 12)
        return false;
    *year = y;
    *month = m;
    return true;
}

static const region_row_t *s_region_row_for(int code, int32_t yyyymm)
{
    s_init();
    int scheme = kc_ref_scheme_for(yyyymm);
    for (size_t i = 0; i < s_n_regions; i++) {
        const region_row_t *r = &s_regions[i];
        if (r->scheme == scheme && r->code == code && r->from <= yyyymm && yyyymm <= r->to)
            return r;
    }
    return NULL;
}

const char *kc_ref_region_of(int code, int32_t yyyymm)
{
    const region_row_t *r = s_region_row_for(code, yyyymm);
    return r ? r->region : NULL;
}

bool kc_ref_region_unconfirmed(int code, int32_t yyyymm)
{
    const region_row_t *r = s_region_row_for(code, yyyymm);
    return r && r->unconfirmed;
}

bool kc_ref_region_known(const char *region)
{
    s_init();
    for (size_t i = 0; region && i < s_n_regions; i++)
        if (strcmp(s_regions[i].region, region) == 0)
            return true;
    return false;
}

/* The unit key of `code` in scheme 63 or 34; 0 if the code is not one of it. */
uint8_t kc_ref_unit_in(int scheme, int code)
{
    const kc_province_t *p = kc_ref_province(scheme, code);
    return p ? kc_ref_unit_key(code, p->valid_from) : 0;
}

size_t kc_ref_units_of(int code, uint8_t units[2])
{
    size_t n = 0;
    uint8_t u34 = kc_ref_unit_in(34, code), u63 = kc_ref_unit_in(63, code);
    if (u34)
        units[n++] = u34;
    if (u63)
        units[n++] = u63;
    return n;
}

/* ---- deadlines (data/deadlines.tsv) ---- */

static int s_dl_fail(char *err, size_t cap, int line, const char *what)
{
    snprintf(err, cap, "line %d: %s", line, what);
    return -1;
}

/* A decimal integer in lo..hi filling [p, end); -1 if not. */
static long s_dl_int(const char *p, const char *end, long lo, long hi)
{
    long v = 0;
    if (p == end || end - p > 4)
        return -1;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (*p - '0');
    }
    return v >= lo && v <= hi ? v : -1;
}

int kc_ref_deadlines_parse(const char *text, kc_ref_deadlines_t *out, char *err, size_t cap)
{
    memset(out, 0, sizeof *out);
    out->default_days = -1;
    bool header = false;
    int lineno = 0;
    for (const char *line = text; line && *line;) {
        const char *nl = strchr(line, '\n');
        const char *end = nl ? nl : line + strlen(line);
        lineno++;
        if (end > line && end[-1] == '\r')
            end--;
        if (line == end || line[0] == '#')
            goto next;
        const char *tab = memchr(line, '\t', (size_t)(end - line));
        if (!tab || memchr(tab + 1, '\t', (size_t)(end - tab - 1)))
            return s_dl_fail(err, cap, lineno, "want two tab-separated fields: year, days");
        if (!header) {
            if (tab - line != 4 || memcmp(line, "year", 4) != 0 || end - tab - 1 != 4 ||
                memcmp(tab + 1, "days", 4) != 0)
                return s_dl_fail(err, cap, lineno, "the header must be 'year<TAB>days'");
            header = true;
            goto next;
        }
        long days = s_dl_int(tab + 1, end, 0, KC_REF_DEADLINE_DAYS_MAX);
        if (days < 0)
            return s_dl_fail(err, cap, lineno, "days must be a whole number from 0 to 366");
        if (tab - line == 1 && line[0] == '*') {
            if (out->default_days >= 0)
                return s_dl_fail(err, cap, lineno, "a second default row '*'");
            out->default_days = (int)days;
            goto next;
        }
        long year = s_dl_int(line, tab, 2000, 2100);
        if (year < 0)
            return s_dl_fail(err, cap, lineno, "year must be 2000 to 2100, or * for the default");
        for (size_t i = 0; i < out->n; i++)
            if (out->rows[i].year == year)
                return s_dl_fail(err, cap, lineno, "a year given twice");
        if (out->n == KC_REF_DEADLINE_YEARS)
            return s_dl_fail(err, cap, lineno, "too many years");
        out->rows[out->n].year = (int)year;
        out->rows[out->n++].days = (int)days;
    next:
        line = nl ? nl + 1 : NULL;
    }
    if (!header)
        return s_dl_fail(err, cap, lineno, "no header 'year<TAB>days'");
    if (out->default_days < 0)
        return s_dl_fail(err, cap, lineno, "no default row '*'");
    return 0;
}

const kc_ref_deadlines_t *kc_ref_deadlines(void)
{
    s_init();
    return &s_deadlines;
}

int kc_ref_deadline_days(const kc_ref_deadlines_t *d, int year)
{
    if (!d)
        d = kc_ref_deadlines();
    for (size_t i = 0; i < d->n; i++)
        if (d->rows[i].year == year)
            return d->rows[i].days;
    return d->default_days;
}
