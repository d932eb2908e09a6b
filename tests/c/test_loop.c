/* test_loop.c - timers, fds, signals and idleness of the event loop. */
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "loop.h"
#include "tap.h"

static int order[8], norder;
static void record(loop_t *l, loop_timer_t *t, void *data)
{
    (void)l; (void)t;
    order[norder++] = (int)(long)data;
}

static int repeats;
static loop_timer_t *repeat_timer;
static void repeat_cb(loop_t *l, loop_timer_t *t, void *data)
{
    (void)data;
    if (++repeats == 3) {
        loop_timer_stop(l, t); /* stopping itself from its own callback */
        repeat_timer = NULL;
    }
}

static void stop_cb(loop_t *l, loop_timer_t *t, void *data)
{
    (void)t; (void)data;
    loop_stop(l);
}

static int readable_hits;
static void on_readable(loop_t *l, int fd, int events, void *data)
{
    (void)data;
    char c;
    if ((events & LOOP_READ) && read(fd, &c, 1) == 1) readable_hits++;
    loop_fd_del(l, fd);
}

static int got_signal;
static void on_sig(loop_t *l, int signo, void *data)
{
    (void)data;
    got_signal = signo;
    loop_stop(l);
}

int main(void)
{
    loop_t *l = loop_new();
    TAP_OK(l != NULL, "loop_new");

    /* Timers fire in due order, not in creation order. */
    uint64_t t0 = loop_clock_ms();
    loop_timer_start(l, 30, 0, record, (void *)3);
    loop_timer_start(l, 10, 0, record, (void *)1);
    loop_timer_start(l, 20, 0, record, (void *)2);
    loop_timer_start(l, 40, 0, stop_cb, NULL);
    loop_run(l);
    uint64_t took = loop_clock_ms() - t0;
    TAP_OK(norder == 3 && order[0] == 1 && order[1] == 2 && order[2] == 3,
           "one-shot timers fire in due order (%d %d %d)", order[0], order[1], order[2]);
    TAP_OK(took >= 40, "the loop slept until the last timer (%llu ms)", (unsigned long long)took);

    /* A repeating timer fires until it stops itself. */
    repeat_timer = loop_timer_start(l, 5, 5, repeat_cb, NULL);
    loop_timer_start(l, 60, 0, stop_cb, NULL);
    loop_run(l);
    TAP_OK(repeats == 3 && repeat_timer == NULL, "repeating timer ran 3 times then stopped itself");

    /* A stopped timer never fires. */
    norder = 0;
    loop_timer_t *gone = loop_timer_start(l, 5, 0, record, (void *)9);
    loop_timer_stop(l, gone);
    loop_timer_start(l, 20, 0, stop_cb, NULL);
    loop_run(l);
    TAP_OK(norder == 0, "a stopped timer does not fire");

    /* fd readiness. */
    int p[2];
    TAP_OK(pipe(p) == 0, "pipe");
    loop_fd_set(l, p[0], LOOP_READ, on_readable, NULL);
    TAP_OK(write(p[1], "x", 1) == 1, "write to pipe");
    loop_timer_t *guard = loop_timer_start(l, 1000, 0, stop_cb, NULL);
    loop_run_once(l, 1000);
    TAP_OK(readable_hits == 1, "readable fd dispatched once");
    loop_timer_stop(l, guard);
    close(p[0]);
    close(p[1]);

    /* Idle: with nothing to do, one turn sleeps the whole timeout and
     * wakes exactly once (no hidden periodic timer). */
    uint64_t w0 = loop_wakeups(l);
    t0 = loop_clock_ms();
    loop_run_once(l, 150);
    TAP_OK(loop_wakeups(l) - w0 == 1 && loop_clock_ms() - t0 >= 140,
           "an idle turn sleeps its whole timeout (%llu ms)", (unsigned long long)(loop_clock_ms() - t0));

    /* Signals arrive through the loop, not in handler context. */
    loop_signal(l, SIGUSR1, on_sig, NULL);
    guard = loop_timer_start(l, 2000, 0, stop_cb, NULL);
    kill(getpid(), SIGUSR1);
    loop_run(l);
    TAP_OK(got_signal == SIGUSR1, "SIGUSR1 delivered through the loop");
    loop_timer_stop(l, guard);

    loop_free(l);
    return tap_done();
}
