/* ref_test.c - the embedded reference tables parse and agree with DOMAIN.md. */
#include "kc_event.h"
#include "kc_ref.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

static void test_metrics_match_wire_schema(void **state)
{
    (void)state;
    /* metrics.tsv id i is proto Metrics field number i + 1 */
    for (int i = 0; i < KC_METRIC_COUNT; i++) {
        const kc_metric_info_t *m = kc_ref_metric(i);
        assert_non_null(m);
        const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(
            &kcpipe__v1__metrics__descriptor, m->name);
        assert_non_null(f);
        assert_int_equal(f->id, i + 1);
        assert_int_equal(kc_ref_metric_by_name(m->name), i);
    }
    assert_null(kc_ref_metric(KC_METRIC_COUNT));
    assert_true(kc_ref_metric(KC_M_AMOUNT_VND)->is_vnd);
    assert_false(kc_ref_metric(KC_M_PERSONS)->is_vnd);
}

static void test_activities(void **state)
{
    (void)state;
    assert_int_equal(kc_ref_activity_count(), 18);
    const kc_activity_t *a = kc_ref_activity_lookup("machinery");
    assert_non_null(a);
    assert_string_equal(a->code, "KC3b");
    assert_ptr_equal(kc_ref_activity_lookup("kc3b"), a);
    assert_ptr_equal(kc_ref_activity_by_code("KC3b"), a);
    assert_null(kc_ref_activity_by_code("kc3b"));
    assert_ptr_equal(kc_ref_activity_by_id(a->id), a);
    const kc_activity_t *tv = kc_ref_activity_lookup("TV");
    assert_non_null(tv);
    /* consulting revenue is its own metric and TV reports no spending */
    assert_true(tv->metric_mask & (1u << KC_M_REVENUE_VND));
    assert_false(tv->metric_mask & (1u << KC_M_AMOUNT_VND));
    assert_null(kc_ref_activity_lookup("nonsense"));
    /* ids are unique */
    for (size_t i = 0; i < kc_ref_activity_count(); i++)
        for (size_t j = i + 1; j < kc_ref_activity_count(); j++)
            assert_int_not_equal(kc_ref_activity_at(i)->id, kc_ref_activity_at(j)->id);
}

static void test_provinces_and_merger(void **state)
{
    (void)state;
    int n63 = 0, n34 = 0;
    for (size_t i = 0; i < kc_ref_province_count(); i++) {
        const kc_province_t *p = kc_ref_province_at(i);
        if (p->scheme == 63) {
            n63++;
            /* every old code maps to exactly one existing new unit */
            assert_non_null(kc_ref_province(34, p->successor));
        } else {
            n34++;
        }
    }
    assert_int_equal(n63, 63);
    assert_int_equal(n34, 34);
    /* 80 was Long An, is now Tay Ninh */
    assert_string_equal(kc_ref_province_for(80, 202112)->name, "Long An");
    assert_string_equal(kc_ref_province_for(80, 202507)->name, "Tây Ninh");
    assert_int_equal(kc_ref_province_for(80, 202506)->successor, 80);
    assert_int_equal(kc_ref_province(63, 72)->successor, 80);
    /* a retired code is unknown after the merger */
    assert_non_null(kc_ref_province_for(83, 202506));
    assert_null(kc_ref_province_for(83, 202507));
    assert_int_equal(kc_ref_parse_code("01"), 1);
    assert_int_equal(kc_ref_parse_code("00"), -1);
    assert_int_equal(kc_ref_parse_code("7a"), -1);
}

static void test_regions(void **state)
{
    (void)state;
    int south63 = 0, north63 = 0, central63 = 0, south34 = 0;
    for (int code = 1; code < 100; code++) {
        const char *r = kc_ref_region_of(code, 202109);
        if (r && !strcmp(r, "south"))
            south63++;
        if (r && !strcmp(r, "north"))
            north63++;
        if (r && !strcmp(r, "central_highlands"))
            central63++;
        r = kc_ref_region_of(code, 202601);
        if (r && !strcmp(r, "south"))
            south34++;
    }
    assert_int_equal(south63, 20);
    assert_int_equal(north63, 28);
    assert_int_equal(central63, 15);
    assert_int_equal(south34, 8);
    assert_string_equal(kc_ref_region_of(60, 202201), "south"); /* Binh Thuan */
    assert_true(kc_ref_region_unconfirmed(68, 202601));
    assert_false(kc_ref_region_unconfirmed(68, 202201));
    assert_true(kc_ref_region_known("central_highlands"));
    assert_false(kc_ref_region_known("mars"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics_match_wire_schema),
        cmocka_unit_test(test_activities),
        cmocka_unit_test(test_provinces_and_merger),
        cmocka_unit_test(test_regions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
