/* http_util.h - a small blocking HTTP/1.1 client for the tests (one request
 * per connection, "Connection: close", read to EOF under a deadline). */
#ifndef HTTP_UTIL_H
#define HTTP_UTIL_H

#include <stddef.h>

typedef struct {
    int status;    /* 0 if the exchange failed */
    char *headers; /* the header block, lines "Name: value\r\n" (malloc'd) */
    char *body;    /* NUL-terminated (malloc'd) */
    size_t body_len;
} t_resp_t;

/* Send `method path` to 127.0.0.1:port; 0 or -1 (connect/timeout). */
int t_http(unsigned port, const char *method, const char *path, t_resp_t *out);
/* The value of header `name` (case-insensitive) copied into buf; NULL if absent. */
const char *t_header(const t_resp_t *r, const char *name, char *buf, size_t cap);
void t_resp_free(t_resp_t *r);

#endif
