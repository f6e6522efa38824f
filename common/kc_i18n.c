/* kc_i18n.c - see kc_i18n.h. */
#include "kc_i18n.h"

#include "kc_err.h"

#include <locale.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#ifndef KC_LOCALEDIR_DEFAULT
#define KC_LOCALEDIR_DEFAULT "/usr/share/locale"
#endif

static kc_lang_t s_lang = KC_LANG_EN;
static const char *s_dir = KC_LOCALEDIR_DEFAULT;

int kc_i18n_lang_ok(const char *s)
{
    return s && (strcmp(s, "vi") == 0 || strcmp(s, "en") == 0);
}

/* The locale name that decides LC_MESSAGES, as POSIX orders the variables. */
static const char *s_env_messages_locale(void)
{
    const char *names[] = {"LC_ALL", "LC_MESSAGES", "LANG"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *v = getenv(names[i]);
        if (v && *v)
            return v;
    }
    return "";
}

static int s_is_vi(const char *loc)
{
    return strncmp(loc, "vi", 2) == 0 &&
           (loc[2] == 0 || loc[2] == '_' || loc[2] == '.' || loc[2] == '@');
}

static int s_is_c_locale(const char *loc)
{
    return !loc || strcmp(loc, "C") == 0 || strcmp(loc, "POSIX") == 0;
}

int kc_i18n_init(const char *lang)
{
    if (lang && !kc_i18n_lang_ok(lang))
        return KC_EINVAL;
    if (!setlocale(LC_ALL, "")) {
        /* a locale named in the environment is not installed: keep what works */
        setlocale(LC_CTYPE, "");
        setlocale(LC_MESSAGES, "");
    }
    setlocale(LC_NUMERIC, "C");
    if (!lang)
        lang = s_is_vi(s_env_messages_locale()) ? "vi" : "en";
    s_lang = strcmp(lang, "vi") == 0 ? KC_LANG_VI : KC_LANG_EN;
    if (s_lang == KC_LANG_VI && s_is_c_locale(setlocale(LC_MESSAGES, NULL)))
        setlocale(LC_MESSAGES, "C.UTF-8"); /* glibc ignores LANGUAGE under "C" */
    setenv("LANGUAGE", lang, 1);
    const char *dir = getenv("KC_LOCALEDIR");
    s_dir = dir && *dir ? dir : KC_LOCALEDIR_DEFAULT;
    bindtextdomain(KC_I18N_DOMAIN, s_dir);
    bind_textdomain_codeset(KC_I18N_DOMAIN, "UTF-8");
    return 0;
}

kc_lang_t kc_i18n_lang(void)
{
    return s_lang;
}

const char *kc_i18n_localedir(void)
{
    return s_dir;
}

static locale_t s_en_loc = (locale_t)0;
static pthread_once_t s_en_once = PTHREAD_ONCE_INIT;

static void s_en_make(void)
{
    locale_t base = duplocale(LC_GLOBAL_LOCALE);
    if (base == (locale_t)0)
        return;
    s_en_loc = newlocale(LC_MESSAGES_MASK, "C", base);
    if (s_en_loc == (locale_t)0)
        freelocale(base);
}

int kc_i18n_use(kc_lang_t lang)
{
    if (lang == KC_LANG_VI) {
        uselocale(LC_GLOBAL_LOCALE);
        return 0;
    }
    pthread_once(&s_en_once, s_en_make); /* made once, kept for the process's life */
    if (s_en_loc == (locale_t)0)
        return KC_ENOMEM;
    uselocale(s_en_loc);
    return 0;
}
