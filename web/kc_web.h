/* kc_web.h - the dashboard's files, embedded in the binary at build time
 * (web/ index.html, app.js, style.css, favicon.svg and Debian's Chart.js,
 * cmake/embed_web.cmake). */
#ifndef KC_WEB_H
#define KC_WEB_H

#include <stddef.h>

typedef struct {
    const char *path; /* "/index.html", "/assets/app.js", "/assets/chart.min.js", ... */
    const char *mime; /* "text/html; charset=utf-8", ... */
    const unsigned char *data;
    size_t len;
} kc_web_file_t;

/* The file served at `path` ("/" means "/index.html"); NULL if none. */
const kc_web_file_t *kc_web_file(const char *path);

#endif
