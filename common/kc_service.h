/* kc_service.h - running as a systemd service (libkcservice, libsystemd):
 * readiness and state notifications (sd_notify), and the journal writer of
 * the logger. The notifications are no-ops when the program was not started by
 * systemd with Type=notify (NOTIFY_SOCKET unset), so programs call them
 * unconditionally. Never linked into libkcingest. */
#ifndef KC_SERVICE_H
#define KC_SERVICE_H

#include <sys/uio.h>

/* READY=1 and a STATUS= line: sockets bound, store open, serving. */
void kc_service_ready(const char *status);
/* RELOADING=1 (SIGHUP received) ... then kc_service_ready() again. */
void kc_service_reloading(void);
/* STOPPING=1 (a stop signal received; finishing the work in hand). */
void kc_service_stopping(void);
/* STATUS=<printf> (shown by systemctl status). */
void kc_service_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The logger's journal writer (a kc_log_journal_fn, kc_log.h): sd_journal_sendv
 * of the n "FIELD=value" iovecs; ctx unused. Returns >= 0, or < 0 (no journal).
 * Programs that may log to the journal install it before kc_log_set_target():
 *   kc_log_set_journal_sender(kc_service_journal_send, NULL); */
int kc_service_journal_send(const struct iovec *iov, int n, void *ctx);

#endif
