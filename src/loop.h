/* loop.h - the one event loop: fds, timers, signals and a per-turn hook.
 *
 * Shape borrowed from Redis's ae: one portable front (loop.c) over exactly
 * one readiness backend compiled in (loop_epoll.c on Linux, loop_poll.c
 * elsewhere).  When nothing is due the loop sleeps until the nearest timer,
 * or forever: there are no periodic wake-ups of its own.
 *
 * Callbacks may add or remove any fd or timer, including their own; removals
 * take effect at once (a removed fd's pending events are dropped). */
#ifndef KBSYNCD_LOOP_H
#define KBSYNCD_LOOP_H
#include <stdint.h>

typedef struct loop loop_t;
typedef struct loop_timer loop_timer_t;

enum { LOOP_READ = 1, LOOP_WRITE = 2 };

typedef void (*loop_fd_cb)(loop_t *l, int fd, int events, void *data);
typedef void (*loop_timer_cb)(loop_t *l, loop_timer_t *t, void *data);
typedef void (*loop_hook_cb)(loop_t *l, void *data);
typedef void (*loop_signal_cb)(loop_t *l, int signo, void *data);

loop_t *loop_new(void);
void loop_free(loop_t *l);

/* Watch fd for `events` (LOOP_READ|LOOP_WRITE); 0 stops watching it.
 * Calling again replaces the events, callback and data.  Returns 0 or -1. */
int loop_fd_set(loop_t *l, int fd, int events, loop_fd_cb cb, void *data);
void loop_fd_del(loop_t *l, int fd);

/* A timer fires after delay_ms, then every repeat_ms if that is non-zero.
 * A one-shot timer is freed after its callback returns; stopping a timer
 * (even from its own callback) frees it. */
loop_timer_t *loop_timer_start(loop_t *l, uint64_t delay_ms, uint64_t repeat_ms,
                               loop_timer_cb cb, void *data);
void loop_timer_stop(loop_t *l, loop_timer_t *t);

/* Signals arrive through a self-pipe and are dispatched like fd events, so
 * a handler never runs inside the signal context. */
int loop_signal(loop_t *l, int signo, loop_signal_cb cb, void *data);

/* Called once per turn before sleeping (flush work queued by callbacks). */
void loop_set_hook(loop_t *l, loop_hook_cb cb, void *data);

/* Monotonic milliseconds, read now (loop_now_update also keeps the value
 * in the loop). */
uint64_t loop_now_update(loop_t *l);
uint64_t loop_clock_ms(void);

/* Ask the loop not to sleep in the next turn (work was queued). */
void loop_wake(loop_t *l);

/* Runs until loop_stop; returns the number of turns taken (for tests). */
uint64_t loop_run(loop_t *l);
void loop_stop(loop_t *l);
/* One turn, waiting at most timeout_ms (-1: until something happens). */
void loop_run_once(loop_t *l, int timeout_ms);

/* How many times the loop has woken up (benchmarks measure idleness). */
uint64_t loop_wakeups(const loop_t *l);
#endif
