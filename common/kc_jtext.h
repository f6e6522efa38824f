/* kc_jtext.h - outside text as a JSON string value, always valid UTF-8.
 *
 * DESIGN
 * jansson's json_string()/json_stringn() (and json_pack's "s") return NULL
 * for text that is not well-formed UTF-8, which callers cannot tell from
 * running out of memory. Text that comes from a store (producer ids, event
 * ids, reject texts: a store written before the admission rules of
 * common/kc_text.h may hold any bytes), from the network (HTTP parameters)
 * or from the command line (paths, --event) therefore goes into a JSON
 * document through kc_json_text(): the string value is kc_text_show's
 * display form (common/kc_text.h: each byte of an invalid sequence and each
 * control character as the four characters "\xNN"), so the document always
 * dumps and always parses. Text that is valid UTF-8 free of control
 * characters (everything the aggregator accepts today as an id or code) is
 * stored unchanged.
 */
#ifndef KC_JTEXT_H
#define KC_JTEXT_H

#include <jansson.h>
#include <stddef.h>

/* A new JSON string holding the display form of s[0..len) (s NULL reads as
 * ""). NULL only if out of memory. */
json_t *kc_json_text(const char *s, size_t len);

/* The same for a NUL-terminated string (NULL reads as ""). */
json_t *kc_json_texts(const char *s);

/* The display form of s[0..len) into out[cap] (kc_text_show) when it fits,
 * else cut on a character boundary and ending in "..." (cap >= 4); returns
 * out. For text tables and messages with a fixed buffer. */
const char *kc_text_fit(const char *s, size_t len, char *out, size_t cap);

#endif
