/* http_util.c - see http_util.h. */
#include "http_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static long s_ms_left(const struct timespec *deadline)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (deadline->tv_sec - now.tv_sec) * 1000 + (deadline->tv_nsec - now.tv_nsec) / 1000000;
}

int t_http(unsigned port, const char *method, const char *path, t_resp_t *out)
{
    memset(out, 0, sizeof *out);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sin, sizeof sin) != 0) {
        close(fd);
        return -1;
    }
    char req[4096];
    int n = snprintf(req, sizeof req,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nConnection: close\r\n"
                     "Content-Length: 0\r\n\r\n",
                     method, path, port);
    if (n < 0 || (size_t)n >= sizeof req || write(fd, req, (size_t)n) != n) {
        close(fd);
        return -1;
    }
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += 30;
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        long ms = s_ms_left(&deadline);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (ms <= 0 || poll(&p, 1, (int)ms) <= 0) {
            free(buf);
            close(fd);
            return -1;
        }
        if (len + 4096 > cap)
            buf = realloc(buf, cap *= 2);
        ssize_t r = read(fd, buf + len, cap - len - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    buf[len] = '\0';
    char *eoh = strstr(buf, "\r\n\r\n");
    if (!eoh || sscanf(buf, "HTTP/1.%*d %d", &out->status) != 1) {
        free(buf);
        out->status = 0;
        return -1;
    }
    char *line_end = strstr(buf, "\r\n");
    size_t hlen = (size_t)(eoh + 2 - (line_end + 2));
    out->headers = malloc(hlen + 1);
    memcpy(out->headers, line_end + 2, hlen);
    out->headers[hlen] = '\0';
    out->body_len = len - (size_t)(eoh + 4 - buf);
    out->body = malloc(out->body_len + 1);
    memcpy(out->body, eoh + 4, out->body_len);
    out->body[out->body_len] = '\0';
    free(buf);
    return 0;
}

const char *t_header(const t_resp_t *r, const char *name, char *buf, size_t cap)
{
    size_t nlen = strlen(name);
    for (const char *p = r->headers; p && *p;) {
        const char *e = strstr(p, "\r\n");
        if (!e)
            break;
        if ((size_t)(e - p) > nlen && strncasecmp(p, name, nlen) == 0 && p[nlen] == ':') {
            const char *v = p + nlen + 1;
            while (*v == ' ')
                v++;
            snprintf(buf, cap, "%.*s", (int)(e - v), v);
            return buf;
        }
        p = e + 2;
    }
    return NULL;
}

void t_resp_free(t_resp_t *r)
{
    free(r->headers);
    free(r->body);
    memset(r, 0, sizeof *r);
}
