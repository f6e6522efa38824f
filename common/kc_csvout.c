/* kc_csvout.c - writing CSV fields (see kc_csvout.h). */
#include "kc_csvout.h"

#include <string.h>

void kc_csv_field(FILE *out, const char *s)
{
    if (!s)
        return;
    if (!strpbrk(s, ",\"\n\r")) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

void kc_csv_bom(FILE *out)
{
    fputs("\xEF\xBB\xBF", out);
}
