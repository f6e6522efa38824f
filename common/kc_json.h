/* kc_json.h - exact JSON integers of any size, on top of jansson.
 *
 * DESIGN
 * jansson's integers are json_int_t (long long), but a sum of cells may leave
 * int64 (kc_cells.h, DESIGN - exact sums). kc_json_int(v) is json_integer(v)
 * when v fits int64; otherwise a "big integer" node:
 *   a JSON object with exactly one member, whose key is KC_JSON_BIG_KEY and
 *   whose value is a string of the byte 0xFF followed by v's decimal digits
 *   ("-" first if negative). Key and value both begin with 0xFF, a byte that
 *   never occurs in UTF-8.
 * No other route can put such a key or string into a document: jansson's
 * checked constructors and setters (json_string, json_object_set, json_pack)
 * and its parsers refuse text that is not UTF-8; only kc_json_int() uses the
 * unchecked ones. So no string from a user - a store path, a name, a parsed
 * document - can be mistaken for a big integer, whatever bytes it holds.
 *
 * kc_json_dumps() writes a document exactly as json_dumps() with the same
 * flags would, except that a big-integer node is written as its bare digits:
 * an exact JSON number of any size (RFC 8259 section 6 puts no limit on a
 * number; Python's json module reads it exactly as an int, JavaScript's
 * JSON.parse with a reviver reads it exactly from context.source, jansson's
 * own parser refuses it as "too big integer" rather than rounding it). A
 * document without big integers is byte for byte json_dumps()'s text, so the
 * JSON of every ordinary answer is unchanged.
 * Plain json_dumps()/json_dumpf() of a document that holds a big integer
 * fails (NULL / -1: jansson refuses to write a string value that is not
 * UTF-8) instead of writing anything inexact. JSON_EMBED is not supported.
 */
#ifndef KC_JSON_H
#define KC_JSON_H

#include "kc_i128.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#define KC_JSON_BIG_KEY "\377kc-int128" /* byte 0xFF, then "kc-int128": see DESIGN */

/* A new reference: json_integer(v) if v fits int64, else a big-integer node.
 * NULL if out of memory. */
json_t *kc_json_int(kc_i128 v);

/* Whether j is a big-integer node (kc_json_int of a value beyond int64). */
bool kc_json_is_big(const json_t *j);

/* The exact value of a JSON integer or big-integer node into *out; false
 * (and *out untouched) for anything else. */
bool kc_json_int_value(const json_t *j, kc_i128 *out);

/* The text of doc as json_dumps(doc, flags) would write it, big integers as
 * bare digits (DESIGN); malloc'd, free() it. NULL if out of memory, if doc
 * is NULL, if flags has JSON_EMBED, or where json_dumps would fail. */
char *kc_json_dumps(const json_t *doc, size_t flags);

/* kc_json_dumps() written to f. Returns 0, or -1 (nothing or part written). */
int kc_json_dumpf(const json_t *doc, FILE *f, size_t flags);

#endif
