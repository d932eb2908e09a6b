/* watch.c - the watcher front: pending set, overflow pacing, limits,
 * backend choice and fallback (see watch.h for the contract).
 *
 * The pending set is a small hash set of folder names plus an insertion
 * order list, so a burst of thousands of events on a few folders costs
 * one lookup each and yields one event per folder. */
#include "watch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"

typedef struct dirty_name {
    struct dirty_name *next; /* insertion order */
    uint64_t hash;
    size_t len;
    char name[];
} dirty_name_t;

typedef struct pending_limit {
    struct pending_limit *next;
    char *folder;
    size_t folder_len;
    char *message;
} pending_limit_t;

struct watch {
    loop_t *loop;
    watch_options_t opts; /* opts.root points at root below */
    char *root;
    watch_backend_t kind; /* WATCH_INOTIFY or WATCH_POLL, never AUTO */
    watch_inotify_t *inotify;
    watch_poll_t *poll;

    /* pending set */
    dirty_name_t **slots; /* open addressing, power-of-two capacity */
    size_t slot_cap, dirty_count;
    dirty_name_t *dirty_first, *dirty_last;
    pending_limit_t *limits, **limits_tail;
    int overflow_pending;

    /* overflow pacing */
    uint64_t overflows;
    uint64_t last_overflow_ms; /* when the last one was made pending */
    int overflow_reported;     /* last_overflow_ms is meaningful */
    loop_timer_t *overflow_timer;

    unsigned limits_reported; /* bit per watch_limit_kind_t */
    loop_timer_t *fallback_timer;
    char fallback_why[160];

    watch_notify_fn notify;
    void *notify_data;
};

/* ---- pending set ------------------------------------------------------ */

static uint64_t name_hash(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

int watch_has_pending(const watch_t *w)
{
    return w->dirty_first || w->limits || w->overflow_pending;
}

/* Call after adding to the pending set; was_empty is from before. */
static void notify_if_first(watch_t *w, int was_empty)
{
    if (was_empty && w->notify) w->notify(w, w->notify_data);
}

static int slots_grow(watch_t *w)
{
    size_t cap = w->slot_cap ? w->slot_cap * 2 : 64;
    dirty_name_t **s = calloc(cap, sizeof *s);
    if (!s) return -1;
    for (dirty_name_t *d = w->dirty_first; d; d = d->next) {
        size_t i = (size_t)d->hash & (cap - 1);
        while (s[i]) i = (i + 1) & (cap - 1);
        s[i] = d;
    }
    free(w->slots);
    w->slots = s;
    w->slot_cap = cap;
    return 0;
}

/* Out of memory while recording a hint: a lost hint must still lead to a
 * rescan, and the overflow flag needs no allocation. */
static void lost_hint(watch_t *w)
{
    int was_empty = !watch_has_pending(w);
    w->overflow_pending = 1;
    notify_if_first(w, was_empty);
}

void watch_mark_dirty(watch_t *w, const char *folder, size_t len)
{
    uint64_t h = name_hash(folder, len);
    if (w->slot_cap) {
        for (size_t i = (size_t)h & (w->slot_cap - 1); w->slots[i];
             i = (i + 1) & (w->slot_cap - 1)) {
            dirty_name_t *d = w->slots[i];
            if (d->hash == h && d->len == len && !memcmp(d->name, folder, len))
                return; /* already pending: coalesced */
        }
    }
    dirty_name_t *d = malloc(sizeof *d + len + 1);
    if (!d || ((w->dirty_count + 1) * 2 > w->slot_cap && slots_grow(w) != 0)) {
        free(d);
        lost_hint(w);
        return;
    }
    int was_empty = !watch_has_pending(w);
    d->next = NULL;
    d->hash = h;
    d->len = len;
    memcpy(d->name, folder, len);
    d->name[len] = '\0';
    size_t i = (size_t)h & (w->slot_cap - 1);
    while (w->slots[i]) i = (i + 1) & (w->slot_cap - 1);
    w->slots[i] = d;
    w->dirty_count++;
    if (w->dirty_last) w->dirty_last->next = d;
    else w->dirty_first = d;
    w->dirty_last = d;
    notify_if_first(w, was_empty);
}

static void dirty_clear(watch_t *w)
{
    dirty_name_t *d = w->dirty_first;
    while (d) {
        dirty_name_t *next = d->next;
        free(d);
        d = next;
    }
    w->dirty_first = w->dirty_last = NULL;
    w->dirty_count = 0;
    if (w->slots) memset(w->slots, 0, w->slot_cap * sizeof *w->slots);
}

static void limits_clear(watch_t *w)
{
    pending_limit_t *p = w->limits;
    while (p) {
        pending_limit_t *next = p->next;
        free(p->folder);
        free(p->message);
        free(p);
        p = next;
    }
    w->limits = NULL;
    w->limits_tail = &w->limits;
}

static char *dup_bytes(const char *s, size_t len)
{
    char *d = malloc(len + 1);
    if (d) {
        memcpy(d, s, len);
        d[len] = '\0';
    }
    return d;
}

long watch_take(watch_t *w, watch_event_t **out)
{
    *out = NULL;
    size_t n = (size_t)w->overflow_pending + w->dirty_count;
    for (pending_limit_t *p = w->limits; p; p = p->next) n++;
    if (n == 0) return 0;
    watch_event_t *ev = calloc(n, sizeof *ev);
    if (!ev) return -1;
    size_t k = 0;
    /* Limit events hand over their strings; dirty names are copied. */
    for (pending_limit_t *p = w->limits; p; p = p->next, k++) {
        ev[k].type = WATCH_EV_LIMIT;
        ev[k].folder = p->folder;
        ev[k].folder_len = p->folder_len;
        ev[k].message = p->message;
        p->folder = p->message = NULL;
    }
    if (w->overflow_pending) ev[k++].type = WATCH_EV_OVERFLOW;
    for (dirty_name_t *d = w->dirty_first; d; d = d->next, k++) {
        ev[k].type = WATCH_EV_DIRTY;
        ev[k].folder = dup_bytes(d->name, d->len);
        ev[k].folder_len = d->len;
        if (!ev[k].folder) {
            watch_events_free(ev, k);
            return -1;
        }
    }
    limits_clear(w);
    dirty_clear(w);
    w->overflow_pending = 0;
    *out = ev;
    return (long)n;
}

void watch_events_free(watch_event_t *ev, size_t count)
{
    for (size_t i = 0; ev && i < count; i++) {
        free(ev[i].folder);
        free(ev[i].message);
    }
    free(ev);
}

/* ---- overflow and limits ---------------------------------------------- */

static void overflow_make_pending(watch_t *w)
{
    char count[24];
    snprintf(count, sizeof count, "%llu", (unsigned long long)w->overflows);
    log_event(LOG_WARN, "watch_overflow", "root", w->root, "overflows", count,
              "action", "rescanning every folder", NULL);
    int was_empty = !watch_has_pending(w);
    w->overflow_pending = 1;
    w->last_overflow_ms = loop_now_update(w->loop);
    w->overflow_reported = 1;
    notify_if_first(w, was_empty);
}

static void overflow_timer_fired(loop_t *l, loop_timer_t *t, void *data)
{
    watch_t *w = data;
    w->overflow_timer = NULL; /* one-shot: the loop frees it */
    overflow_make_pending(w);
}

void watch_report_overflow(watch_t *w)
{
    w->overflows++;
    uint64_t now = loop_now_update(w->loop);
    if (w->overflow_timer) return; /* a report is already scheduled */
    if (!w->overflow_reported ||
        now >= w->last_overflow_ms + WATCH_OVERFLOW_MIN_GAP_MS) {
        overflow_make_pending(w);
        return;
    }
    /* Too soon after the previous one: report when the gap has passed. */
    uint64_t delay = w->last_overflow_ms + WATCH_OVERFLOW_MIN_GAP_MS - now;
    w->overflow_timer = loop_timer_start(w->loop, delay, 0, overflow_timer_fired, w);
    if (!w->overflow_timer) overflow_make_pending(w);
}

void watch_report_limit(watch_t *w, watch_limit_kind_t kind, const char *folder,
                        size_t folder_len, const char *message)
{
    unsigned bit = 1u << kind;
    if (w->limits_reported & bit) {
        log_event(LOG_DEBUG, "watch_limit", "root", w->root, "folder", folder,
                  "detail", message, NULL);
        return;
    }
    w->limits_reported |= bit;
    log_event(LOG_WARN, "watch_limit", "root", w->root, "folder", folder,
              "message", message, NULL);
    pending_limit_t *p = calloc(1, sizeof *p);
    if (p) {
        p->folder = dup_bytes(folder, folder_len);
        p->folder_len = folder_len;
        p->message = dup_bytes(message, strlen(message));
    }
    if (!p || !p->folder || !p->message) {
        if (p) {
            free(p->folder);
            free(p->message);
            free(p);
        }
        return; /* the log line above already told the operator */
    }
    int was_empty = !watch_has_pending(w);
    *w->limits_tail = p;
    w->limits_tail = &p->next;
    notify_if_first(w, was_empty);
}

/* ---- backends ---------------------------------------------------------- */

loop_t *watch_loop(const watch_t *w) { return w->loop; }
const char *watch_root(const watch_t *w) { return w->root; }
const watch_options_t *watch_options(const watch_t *w) { return &w->opts; }

static int start_polling(watch_t *w)
{
    w->poll = watch_poll_open(w, 1);
    if (!w->poll) return -1;
    w->kind = WATCH_POLL;
    return 0;
}

static void fallback_timer_fired(loop_t *l, loop_timer_t *t, void *data)
{
    watch_t *w = data;
    w->fallback_timer = NULL;
    watch_inotify_close(w->inotify);
    w->inotify = NULL;
    log_event(LOG_WARN, "watch_fallback", "root", w->root, "reason",
              w->fallback_why, "action", "polling the whole folder", NULL);
    if (start_polling(w) != 0)
        log_event(LOG_ERROR, "watch_fallback_failed", "root", w->root, "error",
                  strerror(ENOMEM), NULL);
    watch_mark_dirty(w, "", 0);
    watch_report_overflow(w);
}

void watch_request_poll_fallback(watch_t *w, const char *why)
{
    if (w->fallback_timer || w->kind != WATCH_INOTIFY) return;
    snprintf(w->fallback_why, sizeof w->fallback_why, "%s", why);
    w->fallback_timer = loop_timer_start(w->loop, 0, 0, fallback_timer_fired, w);
    if (!w->fallback_timer) fallback_timer_fired(w->loop, NULL, w);
}

static void instances_limit_message(watch_t *w, int err)
{
    char msg[512];
    snprintf(msg, sizeof msg,
             "inotify_init1 failed (%s): the per-user limit of inotify "
             "instances (/proc/sys/fs/inotify/max_user_instances) or the "
             "process's open-file limit (ulimit -n) is used up. Polling the "
             "whole folder every %u ms instead. To get instant events, raise "
             "it, e.g. `sudo sysctl fs.inotify.max_user_instances=512` "
             "(persist in /etc/sysctl.d/), then restart",
             strerror(err), w->opts.interval_ms);
    watch_report_limit(w, WATCH_LIMIT_INSTANCES, "", 0, msg);
}

static int start_backend(watch_t *w, char *err, size_t errlen)
{
    watch_backend_t want = w->opts.backend;
#ifdef __linux__
    if (want == WATCH_AUTO) want = WATCH_INOTIFY;
#else
    if (want == WATCH_AUTO) want = WATCH_POLL;
#endif
    if (want == WATCH_INOTIFY) {
        int e = watch_inotify_open(w, &w->inotify);
        if (e == 0) {
            w->kind = WATCH_INOTIFY;
            return 0;
        }
        if (e == ENOSYS) {
            snprintf(err, errlen, "inotify is not available on this system");
            return -1;
        }
        if (e == EMFILE || e == ENFILE) {
            instances_limit_message(w, e);
        } else if (e == ENOSPC) {
            /* Not even the root got a watch: the backend reported the
             * limit already; poll everything. */
        } else if (e == ENOMEM) {
            snprintf(err, errlen, "out of memory");
            return -1;
        } else {
            log_event(LOG_WARN, "watch_fallback", "root", w->root, "reason",
                      strerror(e), "action", "polling the whole folder", NULL);
        }
    }
    if (start_polling(w) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

watch_t *watch_open(loop_t *loop, const watch_options_t *opts, char *err,
                    size_t errlen)
{
    struct stat st;
    int e = stat(opts->root, &st) != 0 ? errno : !S_ISDIR(st.st_mode) ? ENOTDIR : 0;
    if (e) {
        snprintf(err, errlen, "cannot watch %s: %s", opts->root, strerror(e));
        return NULL;
    }
    watch_t *w = calloc(1, sizeof *w);
    if (!w || !(w->root = dup_bytes(opts->root, strlen(opts->root)))) {
        free(w);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    w->loop = loop;
    w->opts = *opts;
    w->opts.root = w->root;
    if (!w->opts.interval_ms) w->opts.interval_ms = WATCH_DEFAULT_INTERVAL_MS;
    w->limits_tail = &w->limits;
    if (start_backend(w, err, errlen) != 0) {
        watch_close(w);
        return NULL;
    }
    return w;
}

void watch_close(watch_t *w)
{
    if (!w) return;
    if (w->overflow_timer) loop_timer_stop(w->loop, w->overflow_timer);
    if (w->fallback_timer) loop_timer_stop(w->loop, w->fallback_timer);
    watch_inotify_close(w->inotify);
    watch_poll_close(w->poll);
    dirty_clear(w);
    free(w->slots);
    limits_clear(w);
    free(w->root);
    free(w);
}

void watch_set_notify(watch_t *w, watch_notify_fn fn, void *data)
{
    w->notify = fn;
    w->notify_data = data;
}

const char *watch_backend_name(const watch_t *w)
{
    return w->kind == WATCH_INOTIFY ? "inotify" : "poll";
}

void watch_get_stats(const watch_t *w, watch_stats_t *out)
{
    memset(out, 0, sizeof *out);
    if (w->inotify) watch_inotify_stats(w->inotify, out);
    if (w->poll) out->polled_folders = watch_poll_count(w->poll);
    out->overflows = w->overflows;
}

void watch_inject_overflow(watch_t *w)
{
    if (w->inotify) watch_inotify_overflow(w->inotify);
    else watch_report_overflow(w);
}
