/* test_watch.c - both watcher backends, driven by a real loop, on real
 * folder activity: create, modify, atomic rename-over, delete, moves, new
 * and renamed sub-folders, root files, overflow injection, idleness.
 *
 * No fixed sleeps: each check runs the loop until the expected events have
 * been taken or a deadline passes. */
#include "loop.h"
#include "scan.h"
#include "tap.h"
#include "watch.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEADLINE_MS 5000
#define POLL_MS 20

typedef struct ctx {
    loop_t *loop;
    watch_t *w;
    const char *backend;
    char root[256];
    /* events taken so far */
    char dirty[128][64];
    int ndirty;
    int overflows, limits;
    size_t watches_when_dirty[128]; /* stats.watches as each dirty was taken */
} ctx_t;

static int rm_entry(const char *path, const struct stat *st, int flag,
                    struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void path_of(ctx_t *c, char *buf, size_t len, const char *rel)
{
    snprintf(buf, len, "%s/%s", c->root, rel);
}

static void mk(ctx_t *c, const char *rel)
{
    char p[512];
    path_of(c, p, sizeof p, rel);
    if (mkdir(p, 0755) != 0) perror(p);
}

static void put(ctx_t *c, const char *rel, const char *data, const char *mode)
{
    char p[512];
    path_of(c, p, sizeof p, rel);
    FILE *f = fopen(p, mode);
    if (!f) {
        perror(p);
        return;
    }
    fputs(data, f);
    fclose(f);
}

static void mv(ctx_t *c, const char *from, const char *to)
{
    char a[512], b[512];
    path_of(c, a, sizeof a, from);
    path_of(c, b, sizeof b, to);
    if (rename(a, b) != 0) perror(a);
}

static void rm(ctx_t *c, const char *rel)
{
    char p[512];
    path_of(c, p, sizeof p, rel);
    if (remove(p) != 0) perror(p);
}

static void take(ctx_t *c)
{
    watch_event_t *ev;
    long n = watch_take(c->w, &ev);
    watch_stats_t st;
    watch_get_stats(c->w, &st);
    for (long i = 0; i < n; i++) {
        if (ev[i].type == WATCH_EV_OVERFLOW) c->overflows++;
        else if (ev[i].type == WATCH_EV_LIMIT) c->limits++;
        else if (c->ndirty < 128) {
            snprintf(c->dirty[c->ndirty], sizeof c->dirty[0], "%s", ev[i].folder);
            c->watches_when_dirty[c->ndirty++] = st.watches;
        }
    }
    watch_events_free(ev, n > 0 ? (size_t)n : 0);
}

static int seen(const ctx_t *c, const char *name)
{
    for (int i = 0; i < c->ndirty; i++)
        if (!strcmp(c->dirty[i], name)) return i + 1;
    return 0;
}

static void forget(ctx_t *c)
{
    c->ndirty = c->overflows = c->limits = 0;
}

/* Run the loop until every name in the NULL-ended list was reported dirty
 * (and, with want_overflow, an overflow), or the deadline passes. */
static int wait_for(ctx_t *c, int want_overflow, const char *const *names)
{
    uint64_t end = loop_clock_ms() + DEADLINE_MS;
    for (;;) {
        take(c);
        int all = !want_overflow || c->overflows > 0;
        for (const char *const *n = names; all && n && *n; n++) all = seen(c, *n) != 0;
        if (all) return 1;
        if (loop_clock_ms() >= end) return 0;
        loop_run_once(c->loop, 50);
    }
}

#define WAIT_DIRTY(c, ...) wait_for((c), 0, (const char *const[]){__VA_ARGS__, NULL})

/* Let events from the setup arrive and drop them: runs until nothing new
 * came for a few poll periods (bounded). */
static void quiesce(ctx_t *c)
{
    uint64_t end = loop_clock_ms() + 2000, quiet_since = loop_clock_ms();
    while (loop_clock_ms() < end && loop_clock_ms() - quiet_since < 5 * POLL_MS) {
        loop_run_once(c->loop, POLL_MS);
        if (watch_has_pending(c->w)) {
            quiet_since = loop_clock_ms();
            take(c);
        }
    }
    forget(c);
}

static int open_ctx(ctx_t *c, watch_backend_t backend)
{
    memset(c, 0, sizeof *c);
    snprintf(c->root, sizeof c->root, "/tmp/kbsyncd-watch-XXXXXX");
    if (!mkdtemp(c->root)) return -1;
    mk(c, "sales");
    mk(c, "hr");
    put(c, "sales/orders.csv", "id\n1\n", "w");
    c->loop = loop_new();
    char err[256];
    watch_options_t o = {.root = c->root, .backend = backend, .interval_ms = POLL_MS};
    c->w = watch_open(c->loop, &o, err, sizeof err);
    if (!c->w) {
        printf("# watch_open: %s\n", err);
        return -1;
    }
    c->backend = watch_backend_name(c->w);
    return 0;
}

static void close_ctx(ctx_t *c)
{
    watch_close(c->w);
    loop_free(c->loop);
    nftw(c->root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void test_file_changes(ctx_t *c)
{
    const char *b = c->backend;
    quiesce(c);
    put(c, "sales/new.csv", "a\n", "w");
    TAP_OK(WAIT_DIRTY(c, "sales"), "%s: created file marks its folder dirty", b);
    TAP_OK(!seen(c, "hr"), "%s: other folders stay clean", b);

    quiesce(c);
    put(c, "sales/orders.csv", "2\n", "a");
    TAP_OK(WAIT_DIRTY(c, "sales"), "%s: appended file marks dirty", b);

    quiesce(c);
    put(c, "sales/.orders.csv.tmp", "id\n1\n2\n3\n", "w");
    mv(c, "sales/.orders.csv.tmp", "sales/orders.csv");
    TAP_OK(WAIT_DIRTY(c, "sales"), "%s: atomic rename-over marks dirty", b);

    quiesce(c);
    rm(c, "sales/new.csv");
    TAP_OK(WAIT_DIRTY(c, "sales"), "%s: deleted file marks dirty", b);

    quiesce(c);
    mv(c, "sales/orders.csv", "hr/orders.csv");
    TAP_OK(WAIT_DIRTY(c, "sales", "hr"), "%s: move between folders marks both", b);

    quiesce(c);
    put(c, "stray.csv", "x\n", "w");
    TAP_OK(WAIT_DIRTY(c, ""), "%s: a file in the root marks the root dirty", b);
}

static void test_coalescing(ctx_t *c)
{
    quiesce(c);
    for (int i = 0; i < 200; i++) put(c, "hr/orders.csv", "more\n", "a");
    WAIT_DIRTY(c, "hr");
    quiesce(c); /* whatever else was still pending is dropped here */
    for (int i = 0; i < 3; i++) watch_mark_dirty(c->w, "hr", 2);
    take(c);
    TAP_OK(c->ndirty == 1, "%s: repeated marks coalesce into one event (%d)",
           c->backend, c->ndirty);
}

static void test_new_folder(ctx_t *c)
{
    const char *b = c->backend;
    quiesce(c);
    watch_stats_t before;
    watch_get_stats(c->w, &before);
    /* Files written at once, before the watcher can have a watch there. */
    mk(c, "fresh");
    put(c, "fresh/early.csv", "a\n1\n", "w");
    TAP_OK(WAIT_DIRTY(c, "fresh", ""), "%s: new sub-folder and root reported", b);
    int at = seen(c, "fresh");
    if (!strcmp(b, "inotify"))
        TAP_OK(at && c->watches_when_dirty[at - 1] == before.watches + 1,
               "inotify: the new folder had its watch when reported dirty");
    scan_list_t l;
    scan_folder(c->root, "fresh", 5, &l);
    TAP_OK(l.count == 1, "%s: the following scan finds the early file", b);
    scan_list_free(&l);

    quiesce(c);
    put(c, "fresh/late.csv", "a\n", "w");
    TAP_OK(WAIT_DIRTY(c, "fresh"), "%s: later changes in the new folder seen", b);
}

static void test_folder_rename_and_delete(ctx_t *c)
{
    const char *b = c->backend;
    quiesce(c);
    mv(c, "fresh", "renamed");
    TAP_OK(WAIT_DIRTY(c, "fresh", "renamed", ""), "%s: renamed folder: old, new, root", b);
    quiesce(c);
    put(c, "renamed/after.csv", "a\n", "w");
    TAP_OK(WAIT_DIRTY(c, "renamed") && !seen(c, "fresh"),
           "%s: events follow the folder's new name", b);

    quiesce(c);
    watch_stats_t before, after;
    watch_get_stats(c->w, &before);
    char p[512];
    path_of(c, p, sizeof p, "renamed");
    nftw(p, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    TAP_OK(WAIT_DIRTY(c, "renamed", ""), "%s: deleted folder and root dirty", b);
    quiesce(c);
    watch_get_stats(c->w, &after);
    if (!strcmp(b, "inotify"))
        TAP_OK(after.watches == before.watches - 1, "inotify: its watch is gone (%zu -> %zu)",
               before.watches, after.watches);
    else
        TAP_OK(after.polled_folders == before.polled_folders - 1,
               "poll: it is no longer polled (%zu -> %zu)", before.polled_folders,
               after.polled_folders);
}

static void test_overflow(ctx_t *c)
{
    const char *b = c->backend;
    quiesce(c);
    watch_inject_overflow(c->w);
    TAP_OK(wait_for(c, 1, NULL), "%s: injected overflow is reported", b);
    uint64_t first = loop_clock_ms();
    watch_stats_t st;
    watch_get_stats(c->w, &st);
    TAP_OK(st.overflows == 1, "%s: overflow counted", b);

    forget(c);
    watch_inject_overflow(c->w);
    watch_inject_overflow(c->w);
    take(c);
    TAP_OK(c->overflows == 0, "%s: overflows within a second are held back", b);
    TAP_OK(wait_for(c, 1, NULL), "%s: ... and reported later", b);
    uint64_t gap = loop_clock_ms() - first;
    TAP_OK(gap >= WATCH_OVERFLOW_MIN_GAP_MS - 50, "%s: at most one per second (%llu ms)",
           b, (unsigned long long)gap);
    TAP_OK(c->overflows == 1, "%s: two held-back overflows make one report", b);
    watch_get_stats(c->w, &st);
    TAP_OK(st.overflows == 3, "%s: every overflow is counted (%llu)", b,
           (unsigned long long)st.overflows);
}

/* With inotify an idle watcher arms no timer: a loop turn sleeps for its
 * whole timeout.  The poll backend wakes every interval. */
static void test_idle(ctx_t *c)
{
    quiesce(c);
    uint64_t t0 = loop_clock_ms(), w0 = loop_wakeups(c->loop);
    uint64_t end = t0 + 300;
    while (loop_clock_ms() < end) loop_run_once(c->loop, (int)(end - loop_clock_ms()));
    uint64_t turns = loop_wakeups(c->loop) - w0;
    if (!strcmp(c->backend, "inotify"))
        TAP_OK(turns <= 2, "inotify: idle for 300 ms takes %llu wake-up(s)",
               (unsigned long long)turns);
    else
        TAP_OK(turns >= 5, "poll: the timer wakes the loop while idle (%llu)",
               (unsigned long long)turns);
}

static void run_backend(watch_backend_t backend, const char *name)
{
    ctx_t c;
    int ok = open_ctx(&c, backend) == 0;
    TAP_OK(ok && !strcmp(c.backend, name), "%s backend opens", name);
    if (!ok) return;
    test_file_changes(&c);
    test_coalescing(&c);
    test_new_folder(&c);
    test_folder_rename_and_delete(&c);
    test_overflow(&c);
    test_idle(&c);
    close_ctx(&c);
}

static void test_open_errors(void)
{
    loop_t *l = loop_new();
    char err[256] = "";
    watch_options_t o = {.root = "/nonexistent/kbsyncd", .backend = WATCH_AUTO};
    TAP_OK(!watch_open(l, &o, err, sizeof err) && strstr(err, "No such file"),
           "missing root fails with a message (%s)", err);
    char file[] = "/tmp/kbsyncd-watch-file-XXXXXX";
    int fd = mkstemp(file);
    o.root = file;
    TAP_OK(fd >= 0 && !watch_open(l, &o, err, sizeof err) && strstr(err, "Not a directory"),
           "a file as root fails (%s)", err);
    if (fd >= 0) close(fd);
    unlink(file);
    loop_free(l);
}

int main(void)
{
    test_open_errors();
#ifdef __linux__
    run_backend(WATCH_INOTIFY, "inotify");
#endif
    run_backend(WATCH_POLL, "poll");
    return tap_done();
}
