/* kc_progress.c - the terminal progress line of kc_progress.h. */
#include "kc_progress.h"

#include "kc_time.h"

#include <stdio.h>
#include <unistd.h>

#define BAR_WIDTH 24

void kc_progress_init(kc_progress_t *p, const char *what, const char *unit)
{
    p->what = what;
    p->unit = unit;
    p->enabled = isatty(STDERR_FILENO) == 1;
    p->start = kc_time_mono_s();
    p->last_draw = 0;
    p->drawn = false;
}

static void s_draw(kc_progress_t *p, uint64_t done, uint64_t total, double now)
{
    double secs = now - p->start;
    double rate = secs > 0 ? (double)done / secs : 0;
    char bar[BAR_WIDTH + 1];
    int filled = total ? (int)((double)done / (double)total * BAR_WIDTH) : 0;
    for (int i = 0; i < BAR_WIDTH; i++)
        bar[i] = i < filled ? '#' : '.';
    bar[BAR_WIDTH] = '\0';
    if (total) {
        double left = rate > 0 ? (double)(total - (done < total ? done : total)) / rate : 0;
        fprintf(stderr, "\r%s [%s] %5.1f%% %llu/%llu %s  %.0f %s/s  %.0f s left   ", p->what, bar,
                100.0 * (double)done / (double)total, (unsigned long long)done,
                (unsigned long long)total, p->unit, rate, p->unit, left);
    } else {
        fprintf(stderr, "\r%s %llu %s  %.0f %s/s   ", p->what, (unsigned long long)done, p->unit,
                rate, p->unit);
    }
    fflush(stderr);
    p->drawn = true;
    p->last_draw = now;
}

void kc_progress_update(kc_progress_t *p, uint64_t done, uint64_t total)
{
    if (!p->enabled)
        return;
    double now = kc_time_mono_s();
    if (now - p->last_draw >= 0.1)
        s_draw(p, done, total, now);
}

void kc_progress_cb(uint64_t done, uint64_t total, void *ctx)
{
    kc_progress_update(ctx, done, total);
}

void kc_progress_done(kc_progress_t *p, uint64_t done, uint64_t total)
{
    if (!p->enabled || !p->drawn)
        return;
    s_draw(p, done, total, kc_time_mono_s());
    fputc('\n', stderr);
}
