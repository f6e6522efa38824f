/* kc_cert.c - read and write ZeroMQ certificate files (format in kc_cert.h). */
#include "kc_cert.h"

#include "kc_err.h"
#include "kc_log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define S_FILE_MAX  65536 /* a certificate is a few hundred bytes */
#define S_DEPTH_MAX 8     /* ZPL nesting kept track of */
#define S_LINE_MAX  1024

static const char s_z85[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                            ".-:+=^!/*?&<>()[]{}@%$#";

bool kc_cert_z85_valid(const char *s)
{
    if (!s || strlen(s) != KC_CERT_KEY_LEN)
        return false;
    for (size_t i = 0; i < KC_CERT_KEY_LEN; i++)
        if (!strchr(s_z85, s[i]))
            return false;
    return true;
}

/* Parse one ZPL value (after '='): "quoted", 'quoted' or bare up to a comment. */
static int s_value(const char *p, char *out, size_t cap)
{
    while (*p == ' ' || *p == '\t')
        p++;
    size_t n = 0;
    if (*p == '"' || *p == '\'') {
        char q = *p++;
        const char *end = strchr(p, q);
        if (!end)
            return -1;
        n = (size_t)(end - p);
        const char *rest = end + 1;
        while (*rest == ' ' || *rest == '\t')
            rest++;
        if (*rest && *rest != '#')
            return -1;
    } else {
        while (p[n] && p[n] != '#')
            n++;
        while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
    }
    if (n >= cap)
        return -1;
    memcpy(out, p, n);
    out[n] = '\0';
    return 0;
}

int kc_cert_parse(const char *text, size_t len, const char *name, bool want_secret, kc_cert_t *out)
{
    memset(out, 0, sizeof *out);
    char stack[S_DEPTH_MAX][64]; /* section names by depth */
    int depth = 0;               /* names on the stack */
    long lineno = 0;
    size_t pos = 0;
    while (pos < len) {
        char line[S_LINE_MAX];
        size_t n = 0;
        lineno++;
        while (pos < len && text[pos] != '\n') {
            if (n + 1 >= sizeof line) {
                kc_error("%s:%ld: line too long", name, lineno);
                return KC_EFORMAT;
            }
            line[n++] = text[pos++];
        }
        pos++; /* the newline */
        if (n > 0 && line[n - 1] == '\r')
            n--;
        line[n] = '\0';
        size_t indent = strspn(line, " ");
        const char *p = line + indent;
        if (*p == '\0' || *p == '#')
            continue;
        if (indent % 4 != 0 || (int)(indent / 4) > depth || indent / 4 >= S_DEPTH_MAX) {
            kc_error("%s:%ld: bad indentation (ZPL: four spaces per level)", name, lineno);
            return KC_EFORMAT;
        }
        int level = (int)(indent / 4);
        size_t klen = strcspn(p, " \t=#");
        if (klen == 0 || klen >= sizeof stack[0]) {
            kc_error("%s:%ld: expected a name", name, lineno);
            return KC_EFORMAT;
        }
        memcpy(stack[level], p, klen);
        stack[level][klen] = '\0';
        depth = level + 1;
        const char *q = p + klen;
        while (*q == ' ' || *q == '\t')
            q++;
        if (*q != '=')
            continue; /* a section (or a name without value) */
        char value[S_LINE_MAX];
        if (s_value(q + 1, value, sizeof value) != 0) {
            kc_error("%s:%ld: malformed value", name, lineno);
            return KC_EFORMAT;
        }
        if (level != 1)
            continue;
        char *dst = NULL;
        size_t cap = 0;
        if (strcmp(stack[0], "curve") == 0 && strcmp(stack[1], "public-key") == 0) {
            dst = out->public_key;
            cap = sizeof out->public_key;
        } else if (strcmp(stack[0], "curve") == 0 && strcmp(stack[1], "secret-key") == 0) {
            dst = out->secret_key;
            cap = sizeof out->secret_key;
        } else if (strcmp(stack[0], "metadata") == 0 && strcmp(stack[1], "name") == 0) {
            size_t vn = strlen(value);
            if (vn >= sizeof out->name)
                vn = sizeof out->name - 1;
            memcpy(out->name, value, vn);
            out->name[vn] = '\0';
            continue;
        } else {
            continue;
        }
        if (!kc_cert_z85_valid(value)) {
            kc_error("%s:%ld: curve/%s is not a 40-character Z85 key", name, lineno, stack[1]);
            return KC_EFORMAT;
        }
        (void)cap;
        memcpy(dst, value, KC_CERT_KEY_LEN + 1); /* checked: exactly 40 characters */
    }
    if (!out->public_key[0]) {
        kc_error("%s: not a certificate: no curve/public-key", name);
        return KC_EFORMAT;
    }
    if (want_secret && !out->secret_key[0]) {
        kc_error("%s: a public certificate: no curve/secret-key (use the _secret file)", name);
        return KC_EFORMAT;
    }
    return 0;
}

int kc_cert_load(const char *path, bool want_secret, kc_cert_t *out)
{
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > S_FILE_MAX) {
        int e = errno;
        close(fd);
        if (e)
            return -e;
        kc_error("%s: not a regular file of at most %d bytes", path, S_FILE_MAX);
        return KC_EFORMAT;
    }
    char *buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        close(fd);
        return KC_ENOMEM;
    }
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    int rc = kc_cert_parse(buf, got, path, want_secret, out);
    free(buf);
    if (rc == 0)
        out->group_or_other_access = (st.st_mode & 077) != 0;
    return rc;
}

int kc_cert_save(const char *path, const kc_cert_t *cert, bool secret, bool overwrite,
                 const char *generator)
{
    if (!kc_cert_z85_valid(cert->public_key) || (secret && !kc_cert_z85_valid(cert->secret_key)))
        return KC_EINVAL;
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return KC_EINVAL;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, secret ? 0600 : 0644);
    if (fd < 0)
        return -errno;
    FILE *f = fdopen(fd, "w");
    if (!f) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return -e;
    }
    char when[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
    fprintf(f, "#   ****  Generated on %s by %s  ****\n", when, generator ? generator : "kcpipe");
    if (secret)
        fprintf(f, "#   ZeroMQ CURVE **Secret** Certificate\n"
                   "#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.\n\n");
    else
        fprintf(f, "#   ZeroMQ CURVE Public Certificate\n"
                   "#   Exchange securely, or use a secure mechanism to verify the contents\n"
                   "#   of this file after exchange. Store public certificates in your home\n"
                   "#   directory, in the .curve subdirectory.\n\n");
    fprintf(f, "metadata\n");
    if (cert->name[0])
        fprintf(f, "    name = \"%s\"\n", cert->name);
    fprintf(f, "curve\n    public-key = \"%s\"\n", cert->public_key);
    if (secret)
        fprintf(f, "    secret-key = \"%s\"\n", cert->secret_key);
    int ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
    int e = errno;
    ok = (fclose(f) == 0) && ok;
    if (!ok) {
        unlink(tmp);
        return e ? -e : KC_EIO;
    }
    int rc = 0;
    if (overwrite) {
        if (rename(tmp, path) != 0)
            rc = -errno;
    } else if (link(tmp, path) != 0) { /* fails with EEXIST: never replaces a key */
        rc = -errno;
    }
    unlink(tmp);
    return rc;
}
