/* kc_service.c - systemd notifications (kc_service.h) through libsystemd's
 * sd_notify(): a no-op returning 0 when NOTIFY_SOCKET is unset; the logger's
 * journal writer through sd_journal_sendv(). */
#include "kc_service.h"

#include <stdarg.h>
#include <stdio.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>

void kc_service_ready(const char *status)
{
    if (status)
        sd_notifyf(0, "READY=1\nSTATUS=%s", status);
    else
        sd_notify(0, "READY=1");
}

void kc_service_reloading(void)
{
    sd_notify(0, "RELOADING=1\nSTATUS=reloading");
}

void kc_service_stopping(void)
{
    sd_notify(0, "STOPPING=1\nSTATUS=stopping: committing the group in hand");
}

void kc_service_status(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    sd_notifyf(0, "STATUS=%s", buf);
}

int kc_service_journal_send(const struct iovec *iov, int n, void *ctx)
{
    (void)ctx;
    return sd_journal_sendv(iov, n);
}
