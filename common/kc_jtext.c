/* kc_jtext.c - outside text as a JSON string value (kc_jtext.h). */
#include "kc_jtext.h"

#include "kc_text.h"

#include <stdlib.h>
#include <string.h>

json_t *kc_json_text(const char *s, size_t len)
{
    if (!s)
        len = 0;
    if (kc_text_id_ok(s ? s : "", len)) /* the display form is the text itself */
        return json_stringn_nocheck(s ? s : "", len);
    size_t cap = KC_TEXT_SHOW_MAX(len);
    char *buf = malloc(cap);
    if (!buf)
        return NULL;
    size_t n = kc_text_show(s, len, buf, cap);
    json_t *j = json_stringn_nocheck(buf, n < cap ? n : strlen(buf));
    free(buf);
    return j;
}

json_t *kc_json_texts(const char *s)
{
    return kc_json_text(s, s ? strlen(s) : 0);
}

const char *kc_text_fit(const char *s, size_t len, char *out, size_t cap)
{
    if (kc_text_show(s, len, out, cap) < cap || cap < 4)
        return out;
    kc_text_show(s, len, out, cap - 3); /* whole units only: never a split escape */
    strcat(out, "...");
    return out;
}
