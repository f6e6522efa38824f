/* kc_ref.h - reference data: metrics, activities, provinces, regions.
 *
 * The single source of truth is the set of TSV files in data/ (metrics.tsv,
 * activities.tsv, provinces.tsv, regions.tsv, deadlines.tsv). The build embeds them into the
 * binaries; kc_ref parses the embedded copy once, on first use, thread-safely.
 * Every pointer returned here points into static tables that live until exit.
 *
 * Periods are written as yyyymm integers (202207 = July 2025 is 202507).
 */
#ifndef KC_REF_H
#define KC_REF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Metrics, in the order of data/metrics.tsv (= proto Metrics field number - 1). */
typedef enum {
    KC_M_AMOUNT_VND = 0,
    KC_M_REVENUE_VND,
    KC_M_PERSONS,
    KC_M_PERSONS_EMPLOYED,
    KC_M_FACILITIES,
    KC_M_FACILITY_TURNS,
    KC_M_PRODUCTS,
    KC_M_EVENTS,
    KC_M_DELEGATES,
    KC_M_PROJECTS,
    KC_METRIC_COUNT
} kc_metric_t;

typedef struct {
    int id;               /* kc_metric_t */
    const char *name;     /* "amount_vnd" */
    bool is_vnd;          /* unit: whole dong, else a count */
    const char *label_en; /* "spending" */
    const char *label_vi; /* "kinh phí" */
    int64_t max;          /* largest value of one event (value_too_large above) */
} kc_metric_info_t;

typedef struct {
    uint8_t id;           /* stable id used in store keys, 1..255 */
    const char *code;     /* "KC3b" */
    const char *name;     /* "machinery" */
    uint32_t metric_mask; /* bit (1u << kc_metric_t) per allowed metric */
    const char *label_en;
    const char *label_vi;
} kc_activity_t;

typedef struct {
    uint8_t scheme;     /* 63 or 34 */
    uint8_t code;       /* 1..99 */
    char code_str[3];   /* "01" */
    const char *name;   /* "Hà Nội" */
    int32_t valid_from; /* yyyymm */
    int32_t valid_to;   /* yyyymm, inclusive */
    uint8_t successor;  /* scheme-34 unit a scheme-63 province merged into; 0 for scheme 34 */
} kc_province_t;

/* Number of metrics/activities/provinces; index-based access for listing. */
const kc_metric_info_t *kc_ref_metric(int id); /* NULL if out of range */
int kc_ref_metric_by_name(const char *name);   /* kc_metric_t or -1 */
size_t kc_ref_activity_count(void);
const kc_activity_t *kc_ref_activity_at(size_t i); /* in file order; NULL past the end */
const kc_activity_t *kc_ref_activity_by_id(uint8_t id);
const kc_activity_t *kc_ref_activity_by_code(const char *code); /* exact code, "KC3b" */
/* Name or code, case-insensitive ("machinery", "KC3b", "kc3b"); NULL if unknown. */
const kc_activity_t *kc_ref_activity_lookup(const char *name_or_code);

/* The scheme in force for a period: 63 up to 202506, 34 from 202507. */
int kc_ref_scheme_for(int32_t yyyymm);
size_t kc_ref_province_count(void);
const kc_province_t *kc_ref_province_at(size_t i);
const kc_province_t *kc_ref_province(int scheme, int code);
/* The province a code means for a period (scheme chosen by the period); NULL if unknown. */
const kc_province_t *kc_ref_province_for(int code, int32_t yyyymm);
/* A one-byte key naming the province a code means in a period, distinct across
 * schemes (code 80 was Long An in scheme 63 and is Tay Ninh in scheme 34): the
 * code itself under scheme 63, 100 + code under scheme 34. Used to key event
 * identities, so that the same event_id in two different provinces never meet. */
uint8_t kc_ref_unit_key(int code, int32_t yyyymm);
/* Parse a two-digit code ("79", "01"; also "1"); returns 1..99 or -1. */
int kc_ref_parse_code(const char *s);
/* A period "YYYY-MM" (years KC_YEAR_MIN..KC_YEAR_MAX of kc_event.h) into
 * *year, *month; false (nothing written) otherwise. */
bool kc_ref_parse_period(const char *s, int *year, int *month);

/* Region of a province code during a period (the scheme follows from the period);
 * NULL if the province has no region then. "north", "central_highlands", "south". */
const char *kc_ref_region_of(int code, int32_t yyyymm);
bool kc_ref_region_known(const char *region);
/* Whether the membership row that placed code in its region is marked unconfirmed. */
bool kc_ref_region_unconfirmed(int code, int32_t yyyymm);

/* Reporting deadlines (data/deadlines.tsv; issue 18, docs/CYCLE.md "Deadlines"): a monthly
 * period is due `days` days after its end, the year's row if it has one, else the default
 * row ("*"). The instant of a deadline (end of the due day, UTC+7) is core's kc_cycle. */
#define KC_REF_DEADLINE_YEARS    128 /* rows with a year, at most */
#define KC_REF_DEADLINE_DAYS_MAX 366
typedef struct {
    int default_days; /* the "*" row */
    size_t n;         /* rows with a year */
    struct {
        int year; /* 2000..2100 */
        int days; /* 0..KC_REF_DEADLINE_DAYS_MAX */
    } rows[KC_REF_DEADLINE_YEARS];
} kc_ref_deadlines_t;
/* Parse a table in data/deadlines.tsv's format (NUL-terminated text): header "year<TAB>days",
 * '#' comments and blank lines skipped, exactly one "*" row, a year at most once. Returns 0,
 * or -1 with a one-line reason ("line 9: ...") in err[cap]. The embedded table is parsed with
 * it (a bad one aborts, like every table). */
int kc_ref_deadlines_parse(const char *text, kc_ref_deadlines_t *out, char *err, size_t cap);
/* The embedded table (data/deadlines.tsv). */
const kc_ref_deadlines_t *kc_ref_deadlines(void);
/* Days after its end a period of `year` is due, under d (NULL: the embedded table). */
int kc_ref_deadline_days(const kc_ref_deadlines_t *d, int year);

/* The embedded TSV texts (generated at build time from data/). */
extern const char kc_ref_metrics_tsv[];
extern const char kc_ref_activities_tsv[];
extern const char kc_ref_provinces_tsv[];
extern const char kc_ref_regions_tsv[];
extern const char kc_ref_deadlines_tsv[];
/* Import-only (issue 15): header aliases, kind and fund words; read by ingest/kc_value.c. */
extern const char kc_ref_columns_tsv[];
extern const char kc_ref_values_tsv[];

/* The unit key of `code` in scheme 63 or 34; 0 if the code is not one of it. */
uint8_t kc_ref_unit_in(int scheme, int code);

/* The unit keys a two-digit province code can have (its scheme-34 unit first,
 * then its scheme-63 unit; a code of one scheme only has one): for looking up
 * an event_id given only a province code, e.g. before kc_txn_history().
 * Returns how many were written to units (0 for an unknown code). */
size_t kc_ref_units_of(int code, uint8_t units[2]);

#endif
