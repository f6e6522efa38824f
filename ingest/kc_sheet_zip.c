/* kc_sheet_zip.c - the container, XML and value code shared by the xlsx and
 * ods readers (kc_sheet_zip.h). */
#include "kc_sheet_zip.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>

void kc_sheet_errf(char *err, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
}

bool kc_sheet_names_add(kc_sbuf_t *names, const char *name)
{
    if (names->len >= 300)
        return true;
    return (names->len == 0 || kc_sbuf_add(names, ", ", 2)) && kc_sbuf_add(names, "'", 1) &&
           kc_sbuf_add(names, name, strlen(name)) && kc_sbuf_add(names, "'", 1);
}

void kc_sheet_set_name(kc_sheet_t *s, const char *name)
{
    snprintf(s->name, sizeof s->name, "%s", name);
    /* a name cut by snprintf: drop a partial last character */
    size_t l = strlen(s->name), i = l;
    while (i > 0 && ((unsigned char)s->name[i - 1] & 0xC0) == 0x80)
        i--;
    if (i > 0) {
        unsigned char lead = (unsigned char)s->name[i - 1];
        size_t want = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
        if (l - (i - 1) < want)
            s->name[i - 1] = '\0';
    }
}

/* ---- the container ---- */

void *kc_szip_reader_new(kc_sheet_t *s, size_t size, const char *format, char *err, size_t cap)
{
    void *impl = calloc(1, size);
    if (!impl) {
        kc_sheet_errf(err, cap, "%s: out of memory", s->path);
        return NULL;
    }
    s->format = format;
    snprintf(s->encoding, sizeof s->encoding, "UTF-8");
    return impl;
}

int kc_szip_reader_set(kc_sheet_t *s, void *impl, const kc_sheet_ops_t *ops, int rc)
{
    s->impl = impl;
    if (rc != 0) {
        ops->close(s); /* frees impl; s->impl = NULL */
        s->name[0] = '\0';
        return rc;
    }
    s->ops = ops;
    return 0;
}

static bool s_is_ole(const char *path)
{
    static const unsigned char ole[8] = {0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1};
    unsigned char magic[8] = {0};
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(magic, 1, sizeof magic, f) : 0;
    if (f)
        fclose(f);
    return n == sizeof ole && memcmp(magic, ole, sizeof ole) == 0;
}

int kc_szip_open(kc_szip_t *z, char *err, size_t cap)
{
    kc_sheet_t *s = z->s;
    int zerr = 0;
    errno = 0;
    z->za = zip_open(s->path, ZIP_RDONLY, &zerr);
    if (!z->za) {
        int e = errno;
        if (zerr == ZIP_ER_OPEN || zerr == ZIP_ER_READ) {
            kc_sheet_errf(err, cap, "%s: cannot read: %s", s->path, strerror(e ? e : EIO));
            return e ? -e : KC_EIO;
        }
        if (z->ole_hint && s_is_ole(s->path)) {
            kc_sheet_errf(err, cap, "%s: an OLE compound file, not a zip: %s", s->path,
                          z->ole_hint);
            return KC_EFORMAT;
        }
        zip_error_t ze;
        zip_error_init_with_code(&ze, zerr);
        kc_sheet_errf(err, cap,
                      "%s: not a readable %s file (%s): truncated, corrupt or not a spreadsheet",
                      s->path, s->format, zip_error_strerror(&ze));
        zip_error_fini(&ze);
        return KC_EFORMAT;
    }
    z->cloc = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    if (!z->cloc) {
        kc_sheet_errf(err, cap, "%s: out of memory", s->path);
        return KC_ENOMEM;
    }
    return 0;
}

void kc_szip_close(kc_szip_t *z)
{
    if (z->za)
        zip_discard(z->za);
    if (z->cloc)
        freelocale(z->cloc);
    z->za = NULL;
    z->cloc = (locale_t)0;
}

static int s_over(kc_szip_t *z, const char *part, uint64_t more, char *err, size_t cap)
{
    kc_sheet_errf(err, cap,
                  "%s: %s inflates to more than the %llu bytes allowed (%llu more after %llu): a "
                  "zip bomb or a %s too big to import; split it or raise the bound",
                  z->s->path, part, (unsigned long long)z->s->opts.max_bytes,
                  (unsigned long long)more, (unsigned long long)z->used, z->noun);
    return KC_EFORMAT;
}

int kc_szip_member_open(kc_szip_t *z, const char *part, zip_file_t **zf, char *err, size_t cap)
{
    const char *path = z->s->path;
    zip_int64_t i = zip_name_locate(z->za, part, z->locate);
    if (i < 0)
        return KC_ENOTFOUND;
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(z->za, (zip_uint64_t)i, 0, &st) != 0) {
        kc_sheet_errf(err, cap, "%s: cannot read the entry of %s: %s; the file is corrupt", path,
                      part, zip_strerror(z->za));
        return KC_EFORMAT;
    }
    if ((st.valid & ZIP_STAT_ENCRYPTION_METHOD) && st.encryption_method != ZIP_EM_NONE) {
        kc_sheet_errf(err, cap, "%s: %s is encrypted: %s", path, part, z->hint_pw);
        return KC_EFORMAT;
    }
    if ((st.valid & ZIP_STAT_SIZE) && st.size > z->s->opts.max_bytes - z->used)
        return s_over(z, part, st.size, err, cap);
    *zf = zip_fopen_index(z->za, (zip_uint64_t)i, 0);
    if (!*zf) {
        zip_error_t *ze = zip_get_error(z->za);
        int code = zip_error_code_zip(ze);
        if (code == ZIP_ER_NOPASSWD || code == ZIP_ER_WRONGPASSWD || code == ZIP_ER_ENCRNOTSUPP)
            kc_sheet_errf(err, cap, "%s: %s is encrypted: %s", path, part, z->hint_pw);
        else
            kc_sheet_errf(err, cap, "%s: cannot open %s in the container: %s; the file is corrupt",
                          path, part, zip_error_strerror(ze));
        return KC_EFORMAT;
    }
    return 0;
}

zip_int64_t kc_szip_member_read(kc_szip_t *z, zip_file_t *zf, const char *part, void *buf, size_t n,
                                char *err, size_t cap)
{
    zip_int64_t r = zip_fread(zf, buf, n);
    if (r < 0) {
        kc_sheet_errf(err, cap, "%s: cannot inflate %s: %s; the file is corrupt or truncated",
                      z->s->path, part, zip_file_strerror(zf));
        return KC_EFORMAT;
    }
    if ((uint64_t)r > z->s->opts.max_bytes - z->used)
        return s_over(z, part, (uint64_t)r, err, cap);
    z->used += (uint64_t)r;
    return r;
}

/* ---- XML ---- */

static void s_doctype(void *ud, const XML_Char *name, const XML_Char *sysid, const XML_Char *pubid,
                      int internal)
{
    (void)name;
    (void)sysid;
    (void)pubid;
    (void)internal;
    kc_sxml_t *h = ud;
    char what[1024];
    snprintf(what, sizeof what, "%s has a DOCTYPE (refused: no XML entities in a spreadsheet)",
             h->part);
    h->fail(h, KC_EFORMAT, what);
}

static void s_entity(void *ud, const XML_Char *name, int is_param, const XML_Char *value, int vlen,
                     const XML_Char *base, const XML_Char *sysid, const XML_Char *pubid,
                     const XML_Char *notation)
{
    (void)name;
    (void)is_param;
    (void)value;
    (void)vlen;
    (void)base;
    (void)sysid;
    (void)pubid;
    (void)notation;
    kc_sxml_t *h = ud;
    char what[1024];
    snprintf(what, sizeof what, "%s declares an XML entity (refused)", h->part);
    h->fail(h, KC_EFORMAT, what);
}

XML_Parser kc_sxml_new(kc_sxml_t *h, bool ns)
{
    XML_Parser p = ns ? XML_ParserCreateNS("UTF-8", ' ') : XML_ParserCreate("UTF-8");
    if (!p)
        return NULL;
    h->p = p;
    XML_SetUserData(p, h);
    XML_SetStartDoctypeDeclHandler(p, s_doctype);
    XML_SetEntityDeclHandler(p, s_entity);
    XML_SetParamEntityParsing(p, XML_PARAM_ENTITY_PARSING_NEVER);
    return p;
}

/* The first failure wins; the message is what was formatted. */
static void s_spart_note(kc_spart_t *px, int rc, const char *what)
{
    if (px->rc == 0) {
        px->rc = rc;
        snprintf(px->reason, sizeof px->reason, "%s", what);
    }
    XML_StopParser(px->xml.p, XML_FALSE);
}

static void s_spart_fail_cb(kc_sxml_t *h, int rc, const char *what)
{
    s_spart_note((kc_spart_t *)h, rc, what);
}

void kc_spart_fail(kc_spart_t *px, int rc, const char *fmt, ...)
{
    if (px->rc == 0) {
        px->rc = rc;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(px->reason, sizeof px->reason, fmt, ap);
        va_end(ap);
    }
    XML_StopParser(px->xml.p, XML_FALSE);
}

int kc_spart_init(kc_spart_t *px, kc_szip_t *z, const char *part, bool ns, char *err, size_t cap)
{
    memset(px, 0, sizeof *px);
    px->z = z;
    px->xml.part = part;
    px->xml.fail = s_spart_fail_cb;
    if (!kc_sxml_new(&px->xml, ns)) {
        kc_sheet_errf(err, cap, "%s: out of memory", z->s->path);
        return KC_ENOMEM;
    }
    return 0;
}

void kc_spart_end_depth(void *ud, const XML_Char *name)
{
    (void)name;
    ((kc_spart_t *)ud)->depth--;
}

static int s_xml_error(kc_szip_t *z, XML_Parser p, const char *part, int rc, const char *reason,
                       char *err, size_t cap)
{
    if (rc != 0) {
        kc_sheet_errf(err, cap, "%s: %s", z->s->path, reason);
        return rc;
    }
    kc_sheet_errf(err, cap, "%s: %s is not well-formed XML (line %lu: %s); the file is corrupt",
                  z->s->path, part, (unsigned long)XML_GetCurrentLineNumber(p),
                  XML_ErrorString(XML_GetErrorCode(p)));
    return KC_EFORMAT;
}

int kc_spart_parse(kc_spart_t *px, char *err, size_t cap)
{
    kc_szip_t *z = px->z;
    const char *part = px->xml.part;
    zip_file_t *zf = NULL;
    int rc = kc_szip_member_open(z, part, &zf, err, cap);
    if (rc != 0) {
        XML_ParserFree(px->xml.p);
        return rc;
    }
    for (;;) {
        void *buf = XML_GetBuffer(px->xml.p, KC_SHEET_CHUNK);
        if (!buf) {
            rc = KC_ENOMEM;
            kc_sheet_errf(err, cap, "%s: out of memory reading %s", z->s->path, part);
            break;
        }
        zip_int64_t n = kc_szip_member_read(z, zf, part, buf, KC_SHEET_CHUNK, err, cap);
        if (n < 0) {
            rc = (int)n;
            break;
        }
        if (XML_ParseBuffer(px->xml.p, (int)n, n == 0) != XML_STATUS_OK) {
            rc = s_xml_error(z, px->xml.p, part, px->rc, px->reason, err, cap);
            break;
        }
        if (n == 0)
            break;
    }
    zip_fclose(zf);
    XML_ParserFree(px->xml.p);
    return rc;
}

int kc_sstream_open(kc_sstream_t *st, kc_szip_t *z, const char *part, bool ns, char *err,
                    size_t cap)
{
    st->z = z;
    st->xml.part = part;
    int rc = kc_szip_member_open(z, part, &st->zf, err, cap);
    if (rc != 0)
        return rc;
    if (!kc_sxml_new(&st->xml, ns)) {
        kc_sheet_errf(err, cap, "%s: out of memory", z->s->path);
        return KC_ENOMEM;
    }
    return 0;
}

int kc_sstream_pump(kc_sstream_t *st, char *err, size_t cap)
{
    XML_Parser p = st->xml.p;
    enum XML_Status xs = XML_STATUS_OK;
    if (st->suspended) {
        st->suspended = false;
        xs = XML_ResumeParser(p);
    }
    for (;;) {
        if (xs == XML_STATUS_SUSPENDED) {
            st->suspended = true;
            return 1;
        }
        if (xs == XML_STATUS_ERROR)
            return s_xml_error(st->z, p, st->xml.part, st->rc, st->reason, err, cap);
        if (st->final_given)
            return 0;
        void *buf = XML_GetBuffer(p, KC_SHEET_CHUNK);
        if (!buf) {
            kc_sheet_errf(err, cap, "%s: out of memory reading %s", st->z->s->path, st->xml.part);
            return KC_ENOMEM;
        }
        zip_int64_t n =
            kc_szip_member_read(st->z, st->zf, st->xml.part, buf, KC_SHEET_CHUNK, err, cap);
        if (n < 0)
            return (int)n;
        st->final_given = n == 0;
        xs = XML_ParseBuffer(p, (int)n, n == 0);
    }
}

void kc_sstream_fail(kc_sstream_t *st, int rc, const char *sheet, long long row, const char *what)
{
    if (st->rc == 0) {
        st->rc = rc;
        if (row > 0)
            snprintf(st->reason, sizeof st->reason, "sheet '%s', row %lld: %s", sheet, row, what);
        else if (sheet)
            snprintf(st->reason, sizeof st->reason, "sheet '%s': %s", sheet, what);
        else
            snprintf(st->reason, sizeof st->reason, "%s", what);
    }
    XML_StopParser(st->xml.p, XML_FALSE);
}

void kc_sstream_free(kc_sstream_t *st)
{
    if (st->xml.p)
        XML_ParserFree(st->xml.p);
    if (st->zf)
        zip_fclose(st->zf);
    st->xml.p = NULL;
    st->zf = NULL;
}

/* ---- the row handed out ---- */

void kc_srow_free(kc_srow_t *r)
{
    free(r->arena.p);
    free(r->offs.v);
    free(r->ptrs);
}

/* ---- values ---- */

void kc_sheet_civil(long long z, long long *y, unsigned *m, unsigned *d)
{
    z += 719468;
    long long era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long long yy = (long long)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yy + (*m <= 2);
}

void kc_sheet_put_date(long long y, unsigned m, unsigned d, long long tod, char *out, size_t cap)
{
    if (tod)
        snprintf(out, cap, "%04lld-%02u-%02u %02lld:%02lld:%02lld", y, m, d, tod / 3600,
                 tod / 60 % 60, tod % 60);
    else
        snprintf(out, cap, "%04lld-%02u-%02u", y, m, d);
}

void kc_sheet_col_name(long long col, char *out)
{
    char tmp[8];
    int n = 0;
    for (long long c = col + 1; c > 0 && n < 7; c = (c - 1) / 26)
        tmp[n++] = (char)('A' + (c - 1) % 26);
    for (int i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = '\0';
}
