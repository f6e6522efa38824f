/* kc_wire.c - kc_wire.h's constants checked against protobuf-c's descriptors. */
#include "kc_wire.h"

#include "kcpipe/v1/kcpipe.pb-c.h"

_Static_assert(KC_WIRE_T_PRODUCER_ID == 0x72 && KC_WIRE_T_SEQ == 0x78,
               "the log's stripped tails are these bytes: they must never change");
_Static_assert(KC_WIRE_EV_SEQ < 16 && KC_WIRE_M_FIELDS < 16, "one-byte keys");
_Static_assert(KC_WIRE_T2_SUBMITTED_BY_0 == 0x82 && KC_WIRE_T2_SUBMITTED_BY_1 == 0x01,
               "submitted_by's two-byte key");

/* The wire type protobuf-c writes for a field of type t (no packed repeated
 * field in kcpipe's messages). */
static unsigned s_wire_type(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE: return KC_WIRE_I64;
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_FLOAT: return KC_WIRE_I32;
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_BYTES:
    case PROTOBUF_C_TYPE_MESSAGE: return KC_WIRE_LEN;
    default: return KC_WIRE_VARINT;
    }
}

/* Whether descriptor d has field `name` with number num and wire type wt. */
static bool s_field_ok(const ProtobufCMessageDescriptor *d, const char *name, unsigned num,
                       unsigned wt)
{
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(d, name);
    return f && f->id == num && s_wire_type(f->type) == wt;
}

const char *kc_wire_schema_check(void)
{
    static const struct {
        const char *what, *name;
        unsigned key;
    } ev[] = {
        {"Event.event_id", "event_id", KC_WIRE_T_EVENT_ID},
        {"Event.province", "province", KC_WIRE_T_PROVINCE},
        {"Event.year", "year", KC_WIRE_T_YEAR},
        {"Event.month", "month", KC_WIRE_T_MONTH},
        {"Event.activity", "activity", KC_WIRE_T_ACTIVITY},
        {"Event.kind", "kind", KC_WIRE_T_KIND},
        {"Event.fund", "fund", KC_WIRE_T_FUND},
        {"Event.metrics", "metrics", KC_WIRE_T_METRICS},
        {"Event.note", "note", KC_WIRE_T_NOTE},
        {"Event.op", "op", KC_WIRE_T_OP},
        {"Event.corrects", "corrects", KC_WIRE_T_CORRECTS},
        {"Event.producer_id", "producer_id", KC_WIRE_T_PRODUCER_ID},
        {"Event.seq", "seq", KC_WIRE_T_SEQ},
        {"Event.submitted_by", "submitted_by",
         (unsigned)KC_WIRE_EV_SUBMITTED_BY << 3 | KC_WIRE_LEN},
    };
    static const struct {
        const char *what, *name;
        unsigned num;
    } m[] = {
        {"Metrics.amount_vnd", "amount_vnd", KC_WIRE_M_AMOUNT_VND},
        {"Metrics.revenue_vnd", "revenue_vnd", KC_WIRE_M_REVENUE_VND},
        {"Metrics.persons", "persons", KC_WIRE_M_PERSONS},
        {"Metrics.persons_employed", "persons_employed", KC_WIRE_M_PERSONS_EMPLOYED},
        {"Metrics.facilities", "facilities", KC_WIRE_M_FACILITIES},
        {"Metrics.facility_turns", "facility_turns", KC_WIRE_M_FACILITY_TURNS},
        {"Metrics.products", "products", KC_WIRE_M_PRODUCTS},
        {"Metrics.events", "events", KC_WIRE_M_EVENTS},
        {"Metrics.delegates", "delegates", KC_WIRE_M_DELEGATES},
        {"Metrics.projects", "projects", KC_WIRE_M_PROJECTS},
    };
    _Static_assert(sizeof ev / sizeof ev[0] == KC_WIRE_EV_FIELDS, "one row per Event field");
    _Static_assert(sizeof m / sizeof m[0] == KC_WIRE_M_FIELDS, "one row per Metrics field");
    const ProtobufCMessageDescriptor *d = &kcpipe__v1__event__descriptor;
    if (d->n_fields != KC_WIRE_EV_FIELDS)
        return "Event (number of fields)";
    for (size_t i = 0; i < sizeof ev / sizeof ev[0]; i++)
        if (!s_field_ok(d, ev[i].name, ev[i].key >> 3, ev[i].key & 7))
            return ev[i].what;
    d = &kcpipe__v1__metrics__descriptor;
    if (d->n_fields != KC_WIRE_M_FIELDS)
        return "Metrics (number of fields)";
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        if (!s_field_ok(d, m[i].name, m[i].num, KC_WIRE_VARINT))
            return m[i].what;
    d = &kcpipe__v1__batch__descriptor;
    if (!s_field_ok(d, "producer_id", KC_WIRE_BATCH_PRODUCER_ID, KC_WIRE_LEN))
        return "Batch.producer_id";
    if (!s_field_ok(d, "events", KC_WIRE_BATCH_EVENTS, KC_WIRE_LEN))
        return "Batch.events";
    return NULL;
}
