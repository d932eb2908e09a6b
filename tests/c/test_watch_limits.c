/* test_watch_limits.c - inotify limits and fallbacks: ENOSPC on folder
 * watches (those folders are polled), EMFILE on the instance (the whole
 * watcher polls), losing the root (switch to polling), and the messages
 * the operator gets.  Linux only: elsewhere there is no inotify to limit. */
#include "loop.h"
#include "tap.h"
#include "watch.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef __linux__
#define DEADLINE_MS 5000
#define POLL_MS 20

typedef struct ctx {
    loop_t *loop;
    watch_t *w;
    char root[256];
    char dirty[64][64];
    int ndirty, overflows, limits;
    char limit_folder[64];
    char limit_msg[1024];
} ctx_t;

static int rm_entry(const char *path, const struct stat *st, int flag,
                    struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void put(ctx_t *c, const char *rel, const char *data)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", c->root, rel);
    FILE *f = fopen(p, "a");
    if (f) {
        fputs(data, f);
        fclose(f);
    }
}

static void mk(ctx_t *c, const char *rel)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", c->root, rel);
    mkdir(p, 0755);
}

static void take(ctx_t *c)
{
    watch_event_t *ev;
    long n = watch_take(c->w, &ev);
    for (long i = 0; i < n; i++) {
        if (ev[i].type == WATCH_EV_OVERFLOW) {
            c->overflows++;
        } else if (ev[i].type == WATCH_EV_LIMIT) {
            c->limits++;
            snprintf(c->limit_folder, sizeof c->limit_folder, "%s", ev[i].folder);
            snprintf(c->limit_msg, sizeof c->limit_msg, "%s", ev[i].message);
        } else if (c->ndirty < 64) {
            snprintf(c->dirty[c->ndirty++], sizeof c->dirty[0], "%s", ev[i].folder);
        }
    }
    watch_events_free(ev, n > 0 ? (size_t)n : 0);
}

static int seen(const ctx_t *c, const char *name)
{
    for (int i = 0; i < c->ndirty; i++)
        if (!strcmp(c->dirty[i], name)) return 1;
    return 0;
}

static int wait_dirty(ctx_t *c, const char *name)
{
    uint64_t end = loop_clock_ms() + DEADLINE_MS;
    for (take(c); !seen(c, name); take(c)) {
        if (loop_clock_ms() >= end) return 0;
        loop_run_once(c->loop, 50);
    }
    return 1;
}

static int wait_overflow(ctx_t *c)
{
    uint64_t end = loop_clock_ms() + DEADLINE_MS;
    for (take(c); !c->overflows; take(c)) {
        if (loop_clock_ms() >= end) return 0;
        loop_run_once(c->loop, 50);
    }
    return 1;
}

static void forget(ctx_t *c)
{
    c->ndirty = c->overflows = c->limits = 0;
}

static int setup(ctx_t *c, int folders)
{
    memset(c, 0, sizeof *c);
    snprintf(c->root, sizeof c->root, "/tmp/kbsyncd-limits-XXXXXX");
    if (!mkdtemp(c->root)) return -1;
    for (int i = 0; i < folders; i++) {
        char name[16];
        snprintf(name, sizeof name, "f%d", i);
        mk(c, name);
    }
    c->loop = loop_new();
    return c->loop ? 0 : -1;
}

static int open_watch(ctx_t *c, const watch_options_t *o)
{
    char err[256];
    c->w = watch_open(c->loop, o, err, sizeof err);
    if (!c->w) printf("# watch_open: %s\n", err);
    return c->w ? 0 : -1;
}

static void teardown(ctx_t *c)
{
    watch_close(c->w);
    loop_free(c->loop);
    nftw(c->root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void test_watch_limit(void)
{
    ctx_t c;
    setup(&c, 5);
    /* The root and two folders get watches; f2..f4 hit "ENOSPC". */
    watch_options_t o = {.root = c.root, .backend = WATCH_INOTIFY,
                         .interval_ms = POLL_MS, .test_watch_budget = 3};
    TAP_OK(open_watch(&c, &o) == 0, "watcher opens despite the watch limit");
    if (!c.w) return;
    TAP_OK(!strcmp(watch_backend_name(c.w), "inotify"), "still inotify for the rest");
    take(&c);
    TAP_OK(c.limits == 1, "one limit event for the watch limit (%d)", c.limits);
    TAP_OK(strstr(c.limit_msg, "/proc/sys/fs/inotify/max_user_watches") != NULL,
           "message names /proc/sys/fs/inotify/max_user_watches");
    TAP_OK(strstr(c.limit_msg, "sysctl fs.inotify.max_user_watches=") != NULL,
           "message gives the sysctl command");
    TAP_OK(c.limit_folder[0] == 'f', "limit event names the folder (%s)", c.limit_folder);
    printf("# %s\n", c.limit_msg);
    watch_stats_t st;
    watch_get_stats(c.w, &st);
    TAP_OK(st.watches == 3 && st.polled_folders == 3,
           "stats: 3 watches, 3 polled folders (%zu, %zu)", st.watches,
           st.polled_folders);

    /* Which folders are polled depends on directory order: touch them all. */
    forget(&c);
    for (int i = 0; i < 5; i++) {
        char rel[32];
        snprintf(rel, sizeof rel, "f%d/t.csv", i);
        put(&c, rel, "x\n");
    }
    int all = 1;
    for (int i = 0; i < 5; i++) {
        char name[16];
        snprintf(name, sizeof name, "f%d", i);
        all &= wait_dirty(&c, name);
    }
    TAP_OK(all, "watched and polled folders all report changes");

    forget(&c);
    mk(&c, "late");
    put(&c, "late/a.csv", "1\n");
    TAP_OK(wait_dirty(&c, "late") && wait_dirty(&c, ""),
           "a new folder beyond the limit is reported");
    TAP_OK(c.limits == 0, "no second limit event for the same kind");
    watch_get_stats(c.w, &st);
    TAP_OK(st.polled_folders == 4, "and it is polled (%zu)", st.polled_folders);
    forget(&c);
    put(&c, "late/a.csv", "2\n");
    TAP_OK(wait_dirty(&c, "late"), "changes in the polled new folder are seen");

    /* A polled folder that disappears leaves the poll set. */
    forget(&c);
    char p[512];
    snprintf(p, sizeof p, "%s/late", c.root);
    nftw(p, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    TAP_OK(wait_dirty(&c, "late"), "removed polled folder reported");
    for (uint64_t end = loop_clock_ms() + 500; loop_clock_ms() < end;)
        loop_run_once(c.loop, 50);
    watch_get_stats(c.w, &st);
    TAP_OK(st.polled_folders == 3, "and no longer polled (%zu)", st.polled_folders);
    teardown(&c);
}

static void test_instance_limit_simulated(void)
{
    ctx_t c;
    setup(&c, 2);
    watch_options_t o = {.root = c.root, .backend = WATCH_AUTO,
                         .interval_ms = POLL_MS, .test_init_emfile = 1};
    TAP_OK(open_watch(&c, &o) == 0, "watcher opens despite the instance limit");
    if (!c.w) return;
    TAP_OK(!strcmp(watch_backend_name(c.w), "poll"), "whole watcher polls");
    take(&c);
    TAP_OK(c.limits == 1 && strstr(c.limit_msg, "max_user_instances") &&
               strstr(c.limit_msg, "sysctl fs.inotify.max_user_instances="),
           "limit event names max_user_instances and the sysctl");
    TAP_OK(c.limit_folder[0] == '\0', "instance limit concerns the whole root");
    printf("# %s\n", c.limit_msg);
    put(&c, "f1/x.csv", "1\n");
    TAP_OK(wait_dirty(&c, "f1"), "changes are seen by polling");
    teardown(&c);
}

/* The real thing: with no file descriptor left, inotify_init1 fails with
 * EMFILE just as when max_user_instances is used up. */
static void test_instance_limit_real(void)
{
    ctx_t c;
    setup(&c, 1);
    struct rlimit saved, tight;
    getrlimit(RLIMIT_NOFILE, &saved);
    int probe = open("/dev/null", O_RDONLY);
    close(probe);
    tight = saved;
    tight.rlim_cur = (rlim_t)probe; /* every fd below is in use */
    setrlimit(RLIMIT_NOFILE, &tight);
    watch_options_t o = {.root = c.root, .backend = WATCH_INOTIFY, .interval_ms = POLL_MS};
    int opened = open_watch(&c, &o) == 0;
    setrlimit(RLIMIT_NOFILE, &saved);
    TAP_OK(opened && !strcmp(watch_backend_name(c.w), "poll"),
           "real EMFILE from inotify_init1 falls back to polling");
    if (!opened) return;
    take(&c);
    TAP_OK(c.limits == 1 && strstr(c.limit_msg, "ulimit -n"),
           "the message also names the open-file limit");
    teardown(&c);
}

static void test_root_lost(void)
{
    ctx_t c;
    setup(&c, 1);
    watch_options_t o = {.root = c.root, .backend = WATCH_INOTIFY, .interval_ms = POLL_MS};
    TAP_OK(open_watch(&c, &o) == 0, "watcher opens");
    if (!c.w) return;
    char moved[300];
    snprintf(moved, sizeof moved, "%s.moved", c.root);
    rename(c.root, moved);
    TAP_OK(wait_overflow(&c) && seen(&c, ""), "moving the root away: rescan everything");
    TAP_OK(!strcmp(watch_backend_name(c.w), "poll"), "and the watcher polls");
    /* The root coming back is noticed by polling. */
    forget(&c);
    rename(moved, c.root);
    TAP_OK(wait_dirty(&c, "") && wait_dirty(&c, "f0"), "root back: root and folder dirty");
    teardown(&c);
}

static void test_overflow_rewatches(void)
{
    ctx_t c;
    setup(&c, 1);
    watch_options_t o = {.root = c.root, .backend = WATCH_INOTIFY, .interval_ms = POLL_MS};
    TAP_OK(open_watch(&c, &o) == 0, "watcher opens");
    if (!c.w) return;
    /* A folder created while the loop does not run, then an overflow: the
     * overflow must give it a watch at once, before the owner rescans. */
    watch_stats_t before, after;
    watch_get_stats(c.w, &before);
    mk(&c, "lost");
    watch_inject_overflow(c.w);
    watch_get_stats(c.w, &after);
    TAP_OK(after.watches == before.watches + 1 && after.overflows == 1,
           "overflow re-reads the root and watches the new folder (%zu -> %zu)",
           before.watches, after.watches);
    TAP_OK(wait_overflow(&c), "overflow reported");
    forget(&c);
    put(&c, "lost/x.csv", "1\n");
    TAP_OK(wait_dirty(&c, "lost"), "changes in that folder are seen");
    teardown(&c);
}

/* A real kernel queue overflow: more events than max_queued_events
 * while the loop does not read. */
static void test_real_overflow(void)
{
    FILE *f = fopen("/proc/sys/fs/inotify/max_queued_events", "r");
    long max = 0;
    if (!f || fscanf(f, "%ld", &max) != 1 || max <= 0 || max > 200000) {
        if (f) fclose(f);
        TAP_SKIP("/proc/sys/fs/inotify/max_queued_events is unreadable or above 200000",
                 "a real IN_Q_OVERFLOW becomes an overflow event");
        return;
    }
    fclose(f);
    ctx_t c;
    setup(&c, 1);
    watch_options_t o = {.root = c.root, .backend = WATCH_INOTIFY, .interval_ms = POLL_MS};
    TAP_OK(open_watch(&c, &o) == 0, "watcher opens");
    if (!c.w) return;
    /* Each file is IN_CREATE + IN_CLOSE_WRITE: two events. */
    for (long i = 0; i < max / 2 + 100; i++) {
        char p[512];
        snprintf(p, sizeof p, "%s/f0/%ld.csv", c.root, i);
        int fd = open(p, O_CREAT | O_WRONLY, 0644);
        if (fd >= 0) close(fd);
    }
    TAP_OK(wait_overflow(&c), "a real IN_Q_OVERFLOW becomes an overflow event");
    watch_stats_t st;
    watch_get_stats(c.w, &st);
    TAP_OK(st.overflows == 1, "and is counted (%llu)", (unsigned long long)st.overflows);
    teardown(&c);
}

int main(void)
{
    test_real_overflow();
    test_watch_limit();
    test_instance_limit_simulated();
    test_instance_limit_real();
    test_root_lost();
    test_overflow_rewatches();
    return tap_done();
}
#else
int main(void)
{
    return tap_skip_all("inotify exists only on Linux");
}
#endif
