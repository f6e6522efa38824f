/* kc_service.h - running as a systemd service: readiness and state
 * notifications (sd_notify, libsystemd). Every call is a no-op when the
 * program was not started by systemd with Type=notify (NOTIFY_SOCKET unset),
 * so programs call them unconditionally. */
#ifndef KC_SERVICE_H
#define KC_SERVICE_H

/* READY=1 and a STATUS= line: sockets bound, store open, serving. */
void kc_service_ready(const char *status);
/* RELOADING=1 (SIGHUP received) ... then kc_service_ready() again. */
void kc_service_reloading(void);
/* STOPPING=1 (a stop signal received; finishing the work in hand). */
void kc_service_stopping(void);
/* STATUS=<printf> (shown by systemctl status). */
void kc_service_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Non-zero if stderr is connected to the journal (JOURNAL_STREAM matches it). */
int kc_service_stderr_is_journal(void);

#endif
