/* asof_time_test.c - the --as-of TIME forms (issue 16, "Auditors"): without a
 * zone a time is local (TZ), with a space or 'T' before the time; 'Z' and
 * offsets are kept as given; a date alone is the end of that local day; DST
 * gaps and repeated hours are refused, and a day that starts late (clocks go
 * forward over midnight) ends when the next one starts. The HTTP API's style
 * (KC_QRY_URL) keeps UTC for a bare date and needs a zone otherwise. Each case
 * sets TZ to a POSIX rule, so the answers do not depend on the machine. */
#include "kc_qry.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

static void s_tz(const char *tz)
{
    assert_int_equal(setenv("TZ", tz, 1), 0);
    tzset();
}

/* kc_qry_parse_time in CLI style as UTC text (kc_qry_fmt_time), or "refused
 * N" with its return value. */
static const char *s_cli(const char *in, bool local)
{
    static char out[64];
    uint64_t ns = 0;
    int rc = kc_qry_parse_time(in, local, &ns);
    if (rc != 0)
        snprintf(out, sizeof out, "refused %d", rc);
    else
        kc_qry_fmt_time(out, sizeof out, ns);
    return out;
}

static void test_local_vietnam(void **state)
{
    (void)state;
    s_tz("<+07>-7");
    /* a date = the end of that local day: 16:59:59.999999999 UTC */
    assert_string_equal(s_cli("2026-12-07", true), "2026-12-07T16:59:59.999999999Z");
    /* a space or 'T', both local */
    assert_string_equal(s_cli("2026-12-07 13:32:30", true), "2026-12-07T06:32:30.000000000Z");
    assert_string_equal(s_cli("2026-12-07T13:32:30", true), "2026-12-07T06:32:30.000000000Z");
    assert_string_equal(s_cli("2026-12-07t13:32", true), "2026-12-07T06:32:00.000000000Z");
    assert_string_equal(s_cli("2026-12-07 13:32:30.25", true), "2026-12-07T06:32:30.250000000Z");
    assert_string_equal(s_cli("2026-12-07 00:00:00", true), "2026-12-06T17:00:00.000000000Z");
    /* an explicit zone is kept as given, whatever TZ says */
    assert_string_equal(s_cli("2026-12-07T13:32:30Z", true), "2026-12-07T13:32:30.000000000Z");
    assert_string_equal(s_cli("2026-12-07 13:32:30Z", true), "2026-12-07T13:32:30.000000000Z");
    assert_string_equal(s_cli("2026-12-07T13:32:30+07:00", true), "2026-12-07T06:32:30.000000000Z");
    assert_string_equal(s_cli("2026-12-07T13:32:30-05:00", true), "2026-12-07T18:32:30.000000000Z");
    assert_string_equal(s_cli("2026-12-07Z", true), "2026-12-07T23:59:59.999999999Z");
    assert_string_equal(s_cli("2026-12-07+07:00", true), "2026-12-07T16:59:59.999999999Z");
    assert_string_equal(s_cli("2026-12-07-05:00", true), "2026-12-08T04:59:59.999999999Z");
    /* the first local day there is ends at 16:59:59 UTC */
    assert_string_equal(s_cli("1970-01-01", true), "1970-01-01T16:59:59.999999999Z");
    /* far ahead is the last instant (now, to as-of), not a wrapped one */
    assert_string_equal(s_cli("2999-12-31", true), "2554-07-21T23:34:33.709551615Z");
    /* bad forms */
    const char *bad[] = {"yesterday",
                         "2026-12-7",
                         "2026-02-30",
                         "2026-12-07  13:32",
                         "2026-12-07_13:32:30",
                         "2026-12-07T25:00",
                         "2026-12-07 13",
                         "2026-12-07 13:32:30.",
                         "2026-12-07 13:32:30+7",
                         "2026-12-07T13:32:30 Z",
                         "2026-12-07 13:32:30Q",
                         "1969-12-31",
                         "",
                         "2026-12-07 "};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (strcmp(s_cli(bad[i], true), "refused -1") != 0)
            fail_msg("'%s' -> %s", bad[i], s_cli(bad[i], true));
    }
}

static void test_local_dst(void **state)
{
    (void)state;
    /* Central Europe: 02:00 -> 03:00 on 29 March 2026, 03:00 -> 02:00 on 25 October */
    s_tz("CET-1CEST,M3.5.0,M10.5.0/3");
    assert_string_equal(s_cli("2026-01-15 12:00", true), "2026-01-15T11:00:00.000000000Z");
    assert_string_equal(s_cli("2026-07-15 12:00", true), "2026-07-15T10:00:00.000000000Z");
    assert_string_equal(s_cli("2026-03-29 01:59:59", true), "2026-03-29T00:59:59.000000000Z");
    assert_string_equal(s_cli("2026-03-29 03:00", true), "2026-03-29T01:00:00.000000000Z");
    assert_string_equal(s_cli("2026-03-29 02:30", true), "refused -2"); /* skipped */
    assert_string_equal(s_cli("2026-10-25 02:30", true), "refused -2"); /* twice */
    assert_string_equal(s_cli("2026-10-25 02:30+02:00", true), "2026-10-25T00:30:00.000000000Z");
    assert_string_equal(s_cli("2026-10-25 02:30+01:00", true), "2026-10-25T01:30:00.000000000Z");
    assert_string_equal(s_cli("2026-10-25 03:00", true), "2026-10-25T02:00:00.000000000Z");
    /* the days around the changes end at their own local midnight */
    assert_string_equal(s_cli("2026-03-28", true), "2026-03-28T22:59:59.999999999Z");
    assert_string_equal(s_cli("2026-03-29", true), "2026-03-29T21:59:59.999999999Z");
    assert_string_equal(s_cli("2026-10-25", true), "2026-10-25T22:59:59.999999999Z");
    /* clocks forward at midnight (-03 -> -02 on 4 October 2026): the 3rd ends
     * when the 4th starts, at 01:00 -02; 00:30 on the 4th never happens */
    s_tz("<-03>3<-02>,M10.1.0/0,M2.3.0/0");
    assert_string_equal(s_cli("2026-10-03", true), "2026-10-04T02:59:59.999999999Z");
    assert_string_equal(s_cli("2026-10-04 00:30", true), "refused -2");
    assert_string_equal(s_cli("2026-10-04 01:00", true), "2026-10-04T03:00:00.000000000Z");
    /* ... and at 23:30 -03 (02:30Z) on Saturday 3 October, 23:30 -> 00:30: the 3rd
     * ends half an hour before midnight by the offset it started with */
    s_tz("<-03>3<-02>,M10.1.6/23:30,M2.3.0/0");
    assert_string_equal(s_cli("2026-10-03", true), "2026-10-04T02:29:59.999999999Z");
    assert_string_equal(s_cli("2026-10-03 23:45", true), "refused -2");
    assert_string_equal(s_cli("2026-10-04 00:30", true), "2026-10-04T02:30:00.000000000Z");
}

static void test_url_style_stays_utc(void **state)
{
    (void)state;
    s_tz("<+07>-7");
    assert_string_equal(s_cli("2026-12-07", false), "2026-12-07T23:59:59.999999999Z");
    assert_string_equal(s_cli("2026-12-07T13:32:30", false), "refused -1");
    assert_string_equal(s_cli("2026-12-07 13:32:30Z", false), "2026-12-07T13:32:30.000000000Z");
    assert_string_equal(s_cli("2026-12-07T13:32:30+07:00", false),
                        "2026-12-07T06:32:30.000000000Z");

    /* through kc_qry_set: each front end its rule, and its reasons */
    kc_qry_opts_t o;
    char err[256];
    char tb[64];
    kc_qry_init(&o);
    assert_int_equal(kc_qry_set(&o, KC_QRY_CLI, "as-of", "2026-12-07 13:32:30", err, sizeof err),
                     0);
    assert_string_equal(kc_qry_fmt_time(tb, sizeof tb, o.as_of_ns),
                        "2026-12-07T06:32:30.000000000Z");
    kc_qry_init(&o);
    assert_int_equal(kc_qry_set(&o, KC_QRY_URL, "as_of", "2026-12-07", err, sizeof err), 0);
    assert_string_equal(kc_qry_fmt_time(tb, sizeof tb, o.as_of_ns),
                        "2026-12-07T23:59:59.999999999Z");
    kc_qry_init(&o);
    assert_int_not_equal(
        kc_qry_set(&o, KC_QRY_URL, "as_of", "2026-12-07 13:32:30", err, sizeof err), 0);
    assert_string_equal(err, "as_of: '2026-12-07 13:32:30' is not 2026-11-27, "
                             "2026-11-27T10:00:00Z or 2026-11-27T17:00:00+07:00");
    kc_qry_init(&o);
    assert_int_not_equal(kc_qry_set(&o, KC_QRY_CLI, "as-of", "2026-12-7", err, sizeof err), 0);
    assert_non_null(strstr(err, "--as-of: '2026-12-7' is not 2026-11-27, 2026-11-27 10:00:00,"));
    s_tz("CET-1CEST,M3.5.0,M10.5.0/3");
    kc_qry_init(&o);
    assert_int_not_equal(kc_qry_set(&o, KC_QRY_CLI, "as-of", "2026-03-29 02:30", err, sizeof err),
                         0);
    assert_non_null(strstr(err, "exists twice in local time"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_local_vietnam),
        cmocka_unit_test(test_local_dst),
        cmocka_unit_test(test_url_style_stays_utc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
