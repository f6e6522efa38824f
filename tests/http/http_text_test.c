/* http_text_test.c - a real kc-aggregator serving HTTP over a store an older
 * kcpipe wrote with any bytes in producer ids and event_ids
 * (tests/store/old_text_util.h): /metrics passes `promtool check metrics` and
 * shows the producers' labels escaped (a producer id 'bad\xff\xfeid' used to
 * make every scrape fail: "invalid label value"); /v1/producers and every
 * other /v1 answer, including the 400s that echo a parameter given as invalid
 * UTF-8 or with an ESC sequence, are JSON in valid UTF-8 without raw control
 * characters. The aggregator is started and stopped by its pid (the
 * integration harness); nothing is waited for but observable events.
 */
#include "../store/old_text_util.h"
#include "harness.h"
#include "http_util.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned s_port;

/* GET path: the answer, whose status must be `status` and whose body must be
 * clean text (valid UTF-8, no control character but LF). */
static t_resp_t s_get(const char *path, int status)
{
    t_resp_t r;
    KC_CHECK(t_http(s_port, "GET", path, &r) == 0, "GET %s: no answer", path);
    KC_CHECK(r.status == status, "GET %s: status %d, expected %d: %s", path, r.status, status,
             r.body ? r.body : "");
    KC_CHECK(t_clean_text(r.body, r.body_len), "GET %s: the body is not clean text:\n%s", path,
             r.body);
    return r;
}

/* GET path as JSON (jansson's parser refuses invalid UTF-8). */
static json_t *s_get_json(const char *path, int status)
{
    t_resp_t r = s_get(path, status);
    json_error_t je;
    json_t *j = json_loadb(r.body, r.body_len, 0, &je);
    KC_CHECK(j != NULL, "GET %s: not JSON (%s): %s", path, je.text, r.body);
    t_resp_free(&r);
    return j;
}

/* A 400 whose "error" echoes the parameter in display form. */
static void s_bad_param(const char *path, const char *shown)
{
    json_t *j = s_get_json(path, 400);
    const char *e = json_string_value(json_object_get(j, "error"));
    KC_CHECK(e && strstr(e, shown), "GET %s: error '%s' does not show '%s'", path, e ? e : "",
             shown);
    json_decref(j);
}

static void s_promtool(const char *text)
{
    const char *promtool = KC_PROMTOOL;
    KC_CHECK(*promtool, "%s",
             "promtool was not found when the build was configured (Debian package prometheus; "
             "scripts/install-deps puts it in build/deps/usr/bin)");
    char path[KC_PATH_MAX];
    kc_harness_path(path, "metrics.txt");
    FILE *f = fopen(path, "w");
    KC_CHECK(f != NULL, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
    /* promtool check metrics reads the text on stdin */
    char sh[] = "/bin/sh", c[] = "-c", cmd[2 * KC_PATH_MAX + 64];
    snprintf(cmd, sizeof cmd, "exec '%s' check metrics < '%s'", promtool, path);
    char *argv[] = {sh, c, cmd, NULL};
    t_exec_t r;
    KC_CHECK(t_exec(argv, 60000, &r) == 0, "cannot run %s", promtool);
    /* exit 0 with nothing printed: parses, and no lint finding either */
    KC_CHECK(r.status == 0 && r.out_len == 0 && r.err_len == 0,
             "promtool check metrics: exit %d:\n%s%s\n--- text:\n%s", r.status, r.out, r.err, text);
    t_exec_free(&r);
}

static void s_has(const char *text, const char *what)
{
    KC_CHECK(strstr(text, what) != NULL, "no '%s' in:\n%s", what, text);
}

int main(void)
{
    kc_harness_init("http_text_test");
    char store[KC_PATH_MAX];
    kc_harness_path(store, "store");
    int rc = t_old_text_store(store);
    KC_CHECK(rc == 0, "cannot write the old store: %s", kc_strerror(rc));

    kc_agg_t agg = {0};
    const char *extra[] = {"--http", "127.0.0.1:0", NULL};
    kc_harness_agg_start(&agg, store, "tcp://127.0.0.1:*", extra);
    s_port = kc_harness_agg_http_port(&agg);

    /* /metrics: promtool-clean, the labels escaped (kc_text_prom) */
    t_resp_t m = s_get("/metrics", 200);
    s_promtool(m.body);
    s_has(m.body, "kcpipe_producer_committed_seq{producer=\"bad\\\\xFF\\\\xFEid\"} 2\n");
    /* the LF of T_OLD_PROD_CTL: the exposition escape \n (a newline in the value) or the
     * display form \\x0A; either is a valid label value */
    const char *ctl = "kcpipe_producer_committed_seq{producer=\"esc\\\\x1B[31mred\\\"q\\\\b";
    const char *at = strstr(m.body, ctl);
    KC_CHECK(at && (strncmp(at + strlen(ctl), "\\nnl\"} 1\n", 9) == 0 ||
                    strncmp(at + strlen(ctl), "\\\\x0Anl\"} 1\n", 12) == 0),
             "no %s...nl\"} 1 in:\n%s", ctl, m.body);
    t_resp_free(&m);

    /* /v1/producers: both, in display form */
    json_t *j = s_get_json("/v1/producers", 200);
    json_t *list = json_object_get(j, "producers");
    KC_CHECK(json_array_size(list) == 2, "%zu producers", json_array_size(list));
    bool seen_bad = false, seen_ctl = false;
    for (size_t i = 0; i < json_array_size(list); i++) {
        json_t *p = json_array_get(list, i);
        const char *id = json_string_value(json_object_get(p, "producer"));
        KC_CHECK(id != NULL, "a producer without an id");
        if (strcmp(id, T_OLD_PROD_BAD_SHOWN) == 0) {
            seen_bad = true;
            KC_CHECK(json_integer_value(json_object_get(p, "committed_seq")) == 2, "hwm");
            KC_CHECK(json_integer_value(json_object_get(p, "rejected")) == 1, "rejected");
        }
        seen_ctl |= strcmp(id, T_OLD_PROD_CTL_SHOWN) == 0;
    }
    KC_CHECK(seen_bad && seen_ctl, "producers: %s", json_dumps(list, JSON_COMPACT));
    json_decref(j);

    /* the other routes over the same store */
    json_decref(s_get_json("/v1/status", 200));
    json_decref(s_get_json("/v1/head", 200));
    json_decref(s_get_json("/v1/provinces", 200));
    json_decref(s_get_json("/v1/totals?year=2025", 200));

    /* 400s that echo a parameter: its display form */
    s_bad_param("/v1/head?%FF%FE=1", "\\xFF\\xFE");
    s_bad_param("/v1/producers?a%1B%5B2J=1", "a\\x1B[2J");
    s_bad_param("/v1/provinces?scheme=%1B%5D0%3Bx%07%FF", "\\x1B]0;x\\x07\\xFF");
    s_bad_param("/v1/totals?year=2025&region=%C3%28%1B", "\\xC3(\\x1B");
    s_bad_param("/v1/totals?year=%FF%FE", "\\xFF\\xFE");

    kc_harness_agg_term(&agg);
    kc_harness_pass();
    printf("http_text_test: ok\n");
    return 0;
}
