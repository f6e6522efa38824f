/* kc_text.h - text that comes from outside: is it valid, and how to show it.
 *
 * DESIGN
 * Every protobuf `string` field is checked at the aggregator before anything
 * else (kc_event_admit): it must be well-formed UTF-8 (RFC 3629: no overlong
 * forms, no surrogates U+D800-U+DFFF, nothing above U+10FFFF). Ids and codes
 * (event_id, corrects, province, activity, producer_id) must moreover be free
 * of control characters (C0 U+0000-U+001F, DEL U+007F, C1 U+0080-U+009F);
 * free text (note) may hold tab, LF and CR but no other control character.
 *
 * Stores written before this rule may still hold any bytes (the log is never
 * rewritten). Every output path therefore passes stored text through one of
 * the escapers below, which always produce valid UTF-8:
 *   kc_text_show   display form, for terminal tables, JSON string values,
 *                  Ack texts and log lines: valid printable runs are copied
 *                  unchanged; each byte of an invalid sequence and each
 *                  control character (U+0000-U+001F, U+007F, U+0080-U+009F)
 *                  becomes the four characters "\xNN" (upper-case hex of the
 *                  byte; a C1 character's two bytes give two escapes). Text
 *                  that is valid and free of controls comes out unchanged.
 *   kc_text_prom   a Prometheus label value: kc_text_show's form with the
 *                  exposition format's own escapes on top (\\, \", \n), so
 *                  `promtool check metrics` accepts any input.
 * Both behave like snprintf: they always NUL-terminate (cap >= 1), never split
 * an escape or a UTF-8 sequence when they truncate, and return the length the
 * whole output would have had (compare with cap to detect truncation).
 */
#ifndef KC_TEXT_H
#define KC_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* Whether s[0..len) is well-formed UTF-8 (RFC 3629). */
bool kc_text_utf8_valid(const char *s, size_t len);

/* Offset of the first byte of s[0..len) that is not part of well-formed
 * UTF-8, or len if there is none. */
size_t kc_text_utf8_bad_at(const char *s, size_t len);

/* Whether s[0..len) is well-formed UTF-8 without control characters (C0,
 * DEL, C1): the rule for ids and codes. */
bool kc_text_id_ok(const char *s, size_t len);

/* Whether s[0..len) is well-formed UTF-8 whose only control characters are
 * tab, LF and CR: the rule for free text (note). */
bool kc_text_free_ok(const char *s, size_t len);

/* The display form of s[0..len) into out[cap] (see DESIGN). */
size_t kc_text_show(const char *s, size_t len, char *out, size_t cap);

/* The display form of a NUL-terminated string (NULL reads as ""). */
size_t kc_text_shows(const char *s, char *out, size_t cap);

/* A Prometheus label value for s[0..len) into out[cap] (see DESIGN). */
size_t kc_text_prom(const char *s, size_t len, char *out, size_t cap);

/* Largest output of kc_text_show for len input bytes, plus the NUL. */
#define KC_TEXT_SHOW_MAX(len) ((len)*4 + 1)

#endif
