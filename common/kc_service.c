/* kc_service.c - systemd notifications (kc_service.h) through libsystemd's
 * sd_notify(): a no-op returning 0 when NOTIFY_SOCKET is unset. */
#include "kc_service.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>

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

int kc_service_stderr_is_journal(void)
{
    const char *e = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;
    if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2 || fstat(2, &st) != 0)
        return 0;
    return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}
