/* time_test.c - kc_time: the monotonic and real-time clocks and the ISO 8601
 * text of fixed instants (issue 14). */
#include "kc_time.h"

#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#define NS 1000000000ull

static void test_mono_never_decreases(void **state)
{
    (void)state;
    int64_t ms = kc_time_mono_ms(), ns = kc_time_mono_ns();
    double s = kc_time_mono_s();
    assert_true(ms >= 0 && ns >= 0 && s >= 0.0);
    for (int i = 0; i < 100000; i++) {
        int64_t ms2 = kc_time_mono_ms(), ns2 = kc_time_mono_ns();
        double s2 = kc_time_mono_s();
        assert_true(ms2 >= ms);
        assert_true(ns2 >= ns);
        assert_true(s2 >= s);
        ms = ms2, ns = ns2, s = s2;
    }
    /* the three units read one clock, truncated */
    int64_t n0 = kc_time_mono_ns();
    int64_t m = kc_time_mono_ms();
    double sec = kc_time_mono_s();
    int64_t n1 = kc_time_mono_ns();
    assert_true(n0 / 1000000 <= m && m <= n1 / 1000000);
    assert_true((double)n0 / 1e9 - 1e-6 <= sec && sec <= (double)n1 / 1e9 + 1e-6);
    /* it advances: 20 ms of sleep are seen in every unit */
    struct timespec nap = {0, 20 * 1000 * 1000};
    nanosleep(&nap, NULL);
    assert_true(kc_time_mono_ms() - m >= 20);
    assert_true(kc_time_mono_ns() - n1 >= 20 * 1000 * 1000);
    assert_true(kc_time_mono_s() - sec >= 0.02);
}

static void test_real_is_time_of_day(void **state)
{
    (void)state;
    time_t before = time(NULL);
    uint64_t ns = kc_time_real_ns();
    time_t after = time(NULL);
    /* time() may lag CLOCK_REALTIME by up to a tick (the coarse clock) */
    assert_true(ns / NS + 1 >= (uint64_t)before);
    assert_true(ns / NS <= (uint64_t)after + 1);
    assert_true(ns > 1767225600ull * NS); /* after 2026-01-01 */
}

static void test_iso_fixed(void **state)
{
    (void)state;
    char b[KC_TIME_ISO_MAX];
    const uint64_t t = 1795773600ull * NS + 123456789u; /* 2026-11-27T10:00:00.123456789Z */
    assert_string_equal(kc_time_iso(t, 9, b, sizeof b), "2026-11-27T10:00:00.123456789Z");
    assert_string_equal(kc_time_iso(t, 6, b, sizeof b), "2026-11-27T10:00:00.123456Z");
    assert_string_equal(kc_time_iso(t, 3, b, sizeof b), "2026-11-27T10:00:00.123Z");
    assert_string_equal(kc_time_iso(t, 1, b, sizeof b), "2026-11-27T10:00:00.1Z");
    assert_string_equal(kc_time_iso(t, 0, b, sizeof b), "2026-11-27T10:00:00Z");
    assert_string_equal(kc_time_iso(t, 10, b, sizeof b), "2026-11-27T10:00:00.123456789Z");
    assert_ptr_equal(kc_time_iso(t, 9, b, sizeof b), b);
    /* truncated, never rounded: .999999999 stays in its second */
    const uint64_t u = 1795773600ull * NS + 999999999u;
    assert_string_equal(kc_time_iso(u, 3, b, sizeof b), "2026-11-27T10:00:00.999Z");
    assert_string_equal(kc_time_iso(u, 0, b, sizeof b), "2026-11-27T10:00:00Z");
    /* leading zeros of the fraction */
    assert_string_equal(kc_time_iso(1795773600ull * NS + 1000000u, 3, b, sizeof b),
                        "2026-11-27T10:00:00.001Z");
    assert_string_equal(kc_time_iso(1795773600ull * NS + 7u, 9, b, sizeof b),
                        "2026-11-27T10:00:00.000000007Z");
    /* leap years: 2024 (divisible by 4) and 2000 (by 400) */
    const uint64_t leap = 1709251199ull * NS + 999999999u;
    assert_string_equal(kc_time_iso(leap, 9, b, sizeof b), "2024-02-29T23:59:59.999999999Z");
    assert_string_equal(kc_time_iso(leap + 1, 9, b, sizeof b), "2024-03-01T00:00:00.000000000Z");
    assert_string_equal(kc_time_iso(951782400ull * NS, 3, b, sizeof b), "2000-02-29T00:00:00.000Z");
    assert_string_equal(kc_time_iso(951782400ull * NS - 1, 0, b, sizeof b), "2000-02-28T23:59:59Z");
    /* the ends of the range: the epoch and the largest uint64_t */
    assert_string_equal(kc_time_iso(0, 9, b, sizeof b), "1970-01-01T00:00:00.000000000Z");
    assert_string_equal(kc_time_iso(UINT64_MAX, 9, b, sizeof b), "2554-07-21T23:34:33.709551615Z");
    assert_int_equal(strlen(b), KC_TIME_ISO_MAX - 1);
}

static void test_iso_truncates_like_snprintf(void **state)
{
    (void)state;
    char b[KC_TIME_ISO_MAX];
    memset(b, 'x', sizeof b);
    assert_string_equal(kc_time_iso(1795773600ull * NS, 9, b, 11), "2026-11-27");
    assert_int_equal(b[11], 'x');
    assert_string_equal(kc_time_iso(1795773600ull * NS, 9, b, 1), "");
}

/* The forms the copies printed before kc_time (kc_qry/kc_cli: strftime or
 * %04d... with %09 ns; the logger: %03ld ms; kc-watch: strftime ...%SZ). */
static void test_iso_as_the_old_copies(void **state)
{
    (void)state;
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < 20000; i++) {
        x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
        uint64_t ns = x * 0x2545F4914F6CDD1Dull;
        time_t sec = (time_t)(ns / NS);
        struct tm tm;
        gmtime_r(&sec, &tm);
        char want[64], got[KC_TIME_ISO_MAX];
        size_t n = strftime(want, sizeof want, "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(want + n, sizeof want - n, ".%09" PRIu64 "Z", (uint64_t)(ns % NS));
        assert_string_equal(kc_time_iso(ns, 9, got, sizeof got), want);
        snprintf(want + n, sizeof want - n, ".%03ldZ", (long)(ns % NS) / 1000000L);
        assert_string_equal(kc_time_iso(ns, 3, got, sizeof got), want);
        strftime(want, sizeof want, "%Y-%m-%dT%H:%M:%SZ", &tm);
        assert_string_equal(kc_time_iso(ns, 0, got, sizeof got), want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mono_never_decreases),
        cmocka_unit_test(test_real_is_time_of_day),
        cmocka_unit_test(test_iso_fixed),
        cmocka_unit_test(test_iso_truncates_like_snprintf),
        cmocka_unit_test(test_iso_as_the_old_copies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
