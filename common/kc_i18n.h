/* kc_i18n.h - messages in the clerk's language: GNU gettext, domain "kcpipe".
 *
 * Translatable text is written in English in the source and marked:
 *   _("text")   translated at run time (dgettext("kcpipe", "text")); returns a
 *               static string (never NULL, never to be freed), the English text
 *               itself when there is no translation or no catalogue.
 *   N_("text")  marked for xgettext only (static tables); translate it later
 *               with _() on the stored pointer.
 * po/POTFILES lists the files that hold marked text; po/vi.po holds the
 * Vietnamese; the build compiles it into <build>/locale/vi/LC_MESSAGES/kcpipe.mo
 * and installs it under CMAKE_INSTALL_LOCALEDIR.
 *
 * Until kc_i18n_init() runs, _() returns the English text (the "C" locale):
 * libraries may mark text freely, only programs choose the language.
 */
#ifndef KC_I18N_H
#define KC_I18N_H

#include <libintl.h>

#define KC_I18N_DOMAIN "kcpipe"
#define _(s)           dgettext(KC_I18N_DOMAIN, s)
#define N_(s)          s

/* The languages kcpipe speaks. */
typedef enum { KC_LANG_EN = 0, KC_LANG_VI = 1 } kc_lang_t;

/* Choose the language of messages, once, at a program's start (before any
 * thread starts: it calls setlocale and setenv).
 *   lang NULL   the locale decides: setlocale(LC_ALL, "") (LC_NUMERIC stays "C",
 *               so that strtod and printf keep the decimal point); Vietnamese
 *               when LC_ALL, else LC_MESSAGES, else LANG names a "vi" locale
 *               (vi, vi_VN, vi_VN.UTF-8, ...), even when that locale is not
 *               installed on the machine; otherwise English.
 *   "vi", "en"  that language, whatever the locale says.
 * Vietnamese is forced through glibc's LANGUAGE variable (set to "vi"), which
 * glibc honours whenever LC_MESSAGES is not "C"/"POSIX": LC_MESSAGES becomes
 * "C.UTF-8" (built into glibc >= 2.35, always present) when it was "C". English
 * sets LANGUAGE to "en" (no catalogue: the source text). Either way the domain
 * is bound to UTF-8 output, and to the catalogue directory: $KC_LOCALEDIR if
 * set and non-empty (tests, the build tree), else the installed one.
 * Returns 0, or KC_EINVAL for a lang other than NULL, "vi" or "en" (nothing is
 * changed then). */
int kc_i18n_init(const char *lang);

/* The language chosen by the last kc_i18n_init() (KC_LANG_EN before it). */
kc_lang_t kc_i18n_lang(void);

/* Whether s names a language kc_i18n_init accepts ("vi" or "en"). */
int kc_i18n_lang_ok(const char *s);

/* The calling thread's message language, for a server that answers each
 * request in its client's language: after kc_i18n_init("vi") (LANGUAGE=vi),
 * KC_LANG_EN switches this thread's LC_MESSAGES to "C" (glibc's gettext reads
 * the thread's locale, uselocale(3), and ignores LANGUAGE under "C": the
 * English source text) and KC_LANG_VI back to the process's locale. Other
 * threads are not affected. Returns 0, or KC_ENOMEM (the thread's language is
 * then unchanged). After kc_i18n_init("en") only English is available. */
int kc_i18n_use(kc_lang_t lang);

/* The catalogue directory in use (after kc_i18n_init), for diagnostics. */
const char *kc_i18n_localedir(void);

#endif
