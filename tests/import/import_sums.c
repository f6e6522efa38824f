/* import_sums.c - a test driver for template_roundtrip.py (kc-send is not
 * needed for it):
 *   import_sums --template xlsx|csv vi|en OUT   kc_template_write
 *   import_sums FILE                            kc_import FILE, then one JSON
 *     object on stdout: good events, bad rows, the problems' texts (English),
 *     the exact sum of every metric over the good events, and the good events
 *     counted by province, activity, kind and fund.
 * Exit 0, or 1 when the template or the file could not be written or read. */
#include "kc_import.h"
#include "kc_ref.h"
#include "kc_template.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define MAX_KEYS 128

typedef struct {
    char key[64];
    long n;
} s_count_t;

typedef struct {
    s_count_t c[MAX_KEYS];
    size_t n;
} s_counts_t;

static void s_count(s_counts_t *cs, const char *key)
{
    for (size_t i = 0; i < cs->n; i++)
        if (strcmp(cs->c[i].key, key) == 0) {
            cs->c[i].n++;
            return;
        }
    if (cs->n < MAX_KEYS) {
        snprintf(cs->c[cs->n].key, sizeof cs->c[cs->n].key, "%s", key);
        cs->c[cs->n++].n = 1;
    }
}

static void s_json_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

static void s_json_counts(const char *name, const s_counts_t *cs)
{
    printf(", \"%s\": {", name);
    for (size_t i = 0; i < cs->n; i++) {
        printf(i ? ", " : "");
        s_json_str(cs->c[i].key);
        printf(": %ld", cs->c[i].n);
    }
    printf("}");
}

static int s_template(const char *fmt, const char *lang, const char *out)
{
    char err[512];
    kc_template_format_t f = strcmp(fmt, "csv") == 0 ? KC_TEMPLATE_CSV : KC_TEMPLATE_XLSX;
    if (kc_template_write(out, f, lang, err, sizeof err) != 0) {
        fprintf(stderr, "import_sums: %s\n", err);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "--template") == 0)
        return s_template(argv[2], argv[3], argv[4]);
    if (argc != 2) {
        fprintf(stderr, "usage: import_sums FILE | --template xlsx|csv vi|en OUT\n");
        return 1;
    }
    kc_import_t *imp;
    char err[512];
    if (kc_import_open(&imp, argv[1], NULL, err, sizeof err) != 0) {
        fprintf(stderr, "import_sums: %s\n", err);
        return 1;
    }
    static s_counts_t prov, act, kind, fund;
    int64_t sums[KCI_METRIC_COUNT] = {0};
    static char problems[64][512];
    size_t nproblems = 0;
    kc_import_item_t it;
    int rc;
    while ((rc = kc_import_next(imp, &it, err, sizeof err)) == 1) {
        if (!it.is_event) {
            if (nproblems < 64)
                kc_import_problem_text(&it.problem, problems[nproblems++], sizeof problems[0]);
            continue;
        }
        const kc_event_t *e = &it.event;
        for (int m = 0; m < KCI_METRIC_COUNT; m++)
            if ((e->present & (1u << m)) &&
                __builtin_add_overflow(sums[m], e->metrics[m], &sums[m])) {
                fprintf(stderr, "import_sums: the sum of %s leaves int64\n",
                        kc_ref_metric(m)->name);
                kc_import_close(&imp);
                return 1;
            }
        s_count(&prov, e->province);
        s_count(&act, e->activity ? e->activity : "");
        s_count(&kind, e->kind == KCI_KIND_PLAN ? "plan" : "actual");
        s_count(&fund, e->fund == KCI_FUND_KCQG   ? "kcqg"
                       : e->fund == KCI_FUND_KCDP ? "kcdp"
                                                  : "other");
    }
    if (rc < 0) {
        fprintf(stderr, "import_sums: %s\n", err);
        kc_import_close(&imp);
        return 1;
    }
    printf("{\"good\": %zu, \"bad_rows\": %zu, \"problems\": [", kc_import_good(imp),
           kc_import_bad_rows(imp));
    for (size_t i = 0; i < nproblems; i++) {
        printf(i ? ", " : "");
        s_json_str(problems[i]);
    }
    printf("], \"sums\": {");
    for (int m = 0; m < KCI_METRIC_COUNT; m++)
        printf("%s\"%s\": %lld", m ? ", " : "", kc_ref_metric(m)->name, (long long)sums[m]);
    printf("}");
    s_json_counts("provinces", &prov);
    s_json_counts("activities", &act);
    s_json_counts("kinds", &kind);
    s_json_counts("funds", &fund);
    printf("}\n");
    kc_import_close(&imp);
    return 0;
}
