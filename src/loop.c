/* loop.c - the portable front of the event loop (see loop.h).
 *
 * Exactly one readiness backend is compiled in, chosen here the way Redis's
 * ae.c picks ae_epoll.c or ae_select.c: the backend files define the static
 * backend_* functions and are included, not linked. */
#include "loop.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct fd_slot {
    int events;
    loop_fd_cb cb;
    void *data;
} fd_slot_t;

typedef struct fired {
    int fd;
    int events;
} fired_t;

struct loop_timer {
    uint64_t due;
    uint64_t repeat;
    loop_timer_cb cb;
    void *data;
    struct loop_timer *prev, *next; /* sorted by due, earliest first */
    int firing;                     /* inside its own callback */
    int stopped;                    /* stopped while firing: free after */
};

#define LOOP_MAX_SIGNAL 65

struct loop {
    fd_slot_t *slots;
    int nslots;
    fired_t *fired;
    int nfired_cap;
    loop_timer_t *timers;
    loop_hook_cb hook;
    void *hook_data;
    uint64_t now;
    uint64_t wakeups;
    int stop;
    int wake;
    int sig_pipe[2];
    loop_signal_cb sig_cb[LOOP_MAX_SIGNAL];
    void *sig_data[LOOP_MAX_SIGNAL];
    void *backend;
};

static int loop_grow(loop_t *l, int fd);

#if defined(__linux__) && !defined(LOOP_FORCE_POLL)
#include "loop_epoll.inc"
#else
#include "loop_poll.inc"
#endif

uint64_t loop_clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t loop_now_update(loop_t *l) { return l->now = loop_clock_ms(); }
uint64_t loop_wakeups(const loop_t *l) { return l->wakeups; }
void loop_wake(loop_t *l) { l->wake = 1; }
void loop_stop(loop_t *l) { l->stop = 1; }

static int set_nonblock_cloexec(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) return -1;
    return fcntl(fd, F_SETFD, FD_CLOEXEC);
}

static int sig_write_fd = -1;

/* The handler only writes the signal number into the self-pipe: a handler
 * must never touch the loop or Lua (lua.c's laction makes the same point). */
static void sig_handler(int signo)
{
    int saved = errno;
    unsigned char b = (unsigned char)signo;
    if (sig_write_fd >= 0) {
        ssize_t r = write(sig_write_fd, &b, 1);
        (void)r; /* a full pipe already holds a wake-up */
    }
    errno = saved;
}

static void sig_readable(loop_t *l, int fd, int events, void *data)
{
    unsigned char buf[64];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n; i++) {
            int s = buf[i];
            if (s < LOOP_MAX_SIGNAL && l->sig_cb[s]) l->sig_cb[s](l, s, l->sig_data[s]);
        }
    }
}

loop_t *loop_new(void)
{
    loop_t *l = calloc(1, sizeof *l);
    if (!l) return NULL;
    l->sig_pipe[0] = l->sig_pipe[1] = -1;
    if (backend_create(l) < 0) {
        free(l);
        return NULL;
    }
    loop_now_update(l);
    return l;
}

void loop_free(loop_t *l)
{
    if (!l) return;
    while (l->timers) {
        loop_timer_t *t = l->timers;
        l->timers = t->next;
        free(t);
    }
    if (l->sig_pipe[0] >= 0) {
        for (int s = 1; s < LOOP_MAX_SIGNAL; s++)
            if (l->sig_cb[s]) signal(s, SIG_DFL);
        sig_write_fd = -1;
        close(l->sig_pipe[0]);
        close(l->sig_pipe[1]);
    }
    backend_free(l);
    free(l->slots);
    free(l->fired);
    free(l);
}

static int loop_grow(loop_t *l, int fd)
{
    if (fd < l->nslots) return 0;
    int n = l->nslots ? l->nslots : 64;
    while (n <= fd) n *= 2;
    fd_slot_t *s = realloc(l->slots, (size_t)n * sizeof *s);
    if (!s) return -1;
    memset(s + l->nslots, 0, (size_t)(n - l->nslots) * sizeof *s);
    l->slots = s;
    l->nslots = n;
    fired_t *f = realloc(l->fired, (size_t)n * sizeof *f);
    if (!f) return -1;
    l->fired = f;
    l->nfired_cap = n;
    return 0;
}

int loop_fd_set(loop_t *l, int fd, int events, loop_fd_cb cb, void *data)
{
    if (fd < 0) return -1;
    if (events == 0) {
        loop_fd_del(l, fd);
        return 0;
    }
    if (loop_grow(l, fd) < 0) return -1;
    fd_slot_t *s = &l->slots[fd];
    if (backend_set(l, fd, s->events, events) < 0) return -1;
    s->events = events;
    s->cb = cb;
    s->data = data;
    return 0;
}

void loop_fd_del(loop_t *l, int fd)
{
    if (fd < 0 || fd >= l->nslots || !l->slots[fd].events) return;
    backend_set(l, fd, l->slots[fd].events, 0);
    l->slots[fd].events = 0;
    l->slots[fd].cb = NULL;
    l->slots[fd].data = NULL;
}

static void timer_link(loop_t *l, loop_timer_t *t)
{
    loop_timer_t **pp = &l->timers, *prev = NULL;
    while (*pp && (*pp)->due <= t->due) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    t->next = *pp;
    t->prev = prev;
    if (*pp) (*pp)->prev = t;
    *pp = t;
}

static void timer_unlink(loop_t *l, loop_timer_t *t)
{
    if (t->prev) t->prev->next = t->next;
    else l->timers = t->next;
    if (t->next) t->next->prev = t->prev;
    t->prev = t->next = NULL;
}

loop_timer_t *loop_timer_start(loop_t *l, uint64_t delay_ms, uint64_t repeat_ms,
                               loop_timer_cb cb, void *data)
{
    loop_timer_t *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->due = loop_now_update(l) + delay_ms;
    t->repeat = repeat_ms;
    t->cb = cb;
    t->data = data;
    timer_link(l, t);
    return t;
}

void loop_timer_stop(loop_t *l, loop_timer_t *t)
{
    if (!t) return;
    if (t->firing) { /* unlinked already; the dispatcher frees it */
        t->stopped = 1;
        return;
    }
    timer_unlink(l, t);
    free(t);
}

int loop_signal(loop_t *l, int signo, loop_signal_cb cb, void *data)
{
    if (signo <= 0 || signo >= LOOP_MAX_SIGNAL) return -1;
    if (l->sig_pipe[0] < 0) {
        if (pipe(l->sig_pipe) < 0) return -1;
        set_nonblock_cloexec(l->sig_pipe[0]);
        set_nonblock_cloexec(l->sig_pipe[1]);
        sig_write_fd = l->sig_pipe[1];
        if (loop_fd_set(l, l->sig_pipe[0], LOOP_READ, sig_readable, NULL) < 0) return -1;
    }
    l->sig_cb[signo] = cb;
    l->sig_data[signo] = data;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = cb ? sig_handler : SIG_DFL;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    return sigaction(signo, &sa, NULL);
}

void loop_set_hook(loop_t *l, loop_hook_cb cb, void *data)
{
    l->hook = cb;
    l->hook_data = data;
}

static void run_timers(loop_t *l)
{
    uint64_t now = loop_now_update(l);
    /* Only timers due now; a repeating timer re-armed below lands after
     * `now`, so this cannot spin. */
    while (l->timers && l->timers->due <= now) {
        loop_timer_t *t = l->timers;
        timer_unlink(l, t);
        t->firing = 1;
        t->cb(l, t, t->data);
        t->firing = 0;
        if (t->stopped || !t->repeat) {
            free(t);
            continue;
        }
        t->due = (t->due + t->repeat > now) ? t->due + t->repeat : now + t->repeat;
        timer_link(l, t);
    }
}

static int next_timeout(loop_t *l, int max_ms)
{
    if (l->wake || l->stop) return 0;
    int timeout = max_ms;
    if (l->timers) {
        uint64_t now = loop_now_update(l);
        uint64_t due = l->timers->due;
        int64_t d = due > now ? (int64_t)(due - now) : 0;
        if (d > 24 * 3600 * 1000) d = 24 * 3600 * 1000;
        if (timeout < 0 || d < timeout) timeout = (int)d;
    }
    return timeout;
}

void loop_run_once(loop_t *l, int timeout_ms)
{
    if (l->hook) l->hook(l, l->hook_data);
    int timeout = next_timeout(l, timeout_ms);
    l->wake = 0;
    int n = backend_poll(l, timeout);
    l->wakeups++;
    loop_now_update(l);
    for (int i = 0; i < n; i++) {
        int fd = l->fired[i].fd;
        if (fd >= l->nslots) continue;
        fd_slot_t *s = &l->slots[fd];
        int ev = l->fired[i].events & (s->events | LOOP_READ | LOOP_WRITE);
        /* Skip fds removed by an earlier callback of this same turn. */
        if (!s->events || !s->cb || !ev) continue;
        s->cb(l, fd, ev, s->data);
    }
    run_timers(l);
}

uint64_t loop_run(loop_t *l)
{
    uint64_t turns = 0;
    l->stop = 0;
    while (!l->stop) {
        loop_run_once(l, -1);
        turns++;
    }
    l->stop = 0; /* a later loop_run_once must sleep normally */
    return turns;
}
