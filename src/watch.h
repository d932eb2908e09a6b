/* watch.h - folder watcher: turns file system activity into hints.
 *
 * A watcher says only three things, and the scanner (scan.h) is always the
 * source of truth about what is on disk:
 *   dirty     "look at this folder again" (folder "" is the root itself:
 *             sub-folders or root files appeared, vanished or changed)
 *   overflow  "events were lost: rescan everything"
 *   limit     "a kernel limit was hit; here is what to raise" (the affected
 *             part is polled from then on)
 *
 * Events accumulate, coalesced, in a pending set (each folder at most once)
 * until the owner takes them with watch_take().  The owner learns that the
 * set became non-empty through the notify callback, which runs inside a
 * loop callback: it must only note the fact (e.g. task_wake), not run Lua.
 *
 * Backends: inotify (Linux; no timer at all while idle) and poll (a timer
 * comparing a cheap per-folder signature; the default elsewhere, and the
 * fallback when inotify runs into a limit).  watch.c is the front: the
 * pending set, overflow rate limiting, limit reporting, backend choice and
 * fallback.  watch_inotify.c and watch_poll.c are the backends; they call
 * only the functions in the "for backends" section below, the loop, the
 * scanner and the log.  No Lua here: l_watch.c is the binding. */
#ifndef KBSYNCD_WATCH_H
#define KBSYNCD_WATCH_H
#include <stddef.h>
#include <stdint.h>

#include "loop.h"

#define WATCH_DEFAULT_INTERVAL_MS 1000u
/* Overflow events are reported at most this often (a storm of overflows
 * must not turn into a storm of full rescans); none is ever dropped. */
#define WATCH_OVERFLOW_MIN_GAP_MS 1000u

typedef struct watch watch_t;

typedef enum watch_backend {
    WATCH_AUTO = 0, /* inotify on Linux, poll elsewhere */
    WATCH_INOTIFY,
    WATCH_POLL
} watch_backend_t;

typedef struct watch_options {
    const char *root; /* copied */
    watch_backend_t backend;
    uint32_t interval_ms; /* poll period; 0 = WATCH_DEFAULT_INTERVAL_MS */
    /* Tests only: make the inotify backend behave as if the kernel refused
     * every watch beyond this many (ENOSPC), or refused the instance
     * itself (EMFILE).  0 = off. */
    uint32_t test_watch_budget;
    int test_init_emfile;
} watch_options_t;

typedef enum watch_event_type {
    WATCH_EV_DIRTY = 0,
    WATCH_EV_OVERFLOW,
    WATCH_EV_LIMIT
} watch_event_type_t;

typedef struct watch_event {
    watch_event_type_t type;
    char *folder; /* DIRTY, LIMIT: folder name ("" = root); else NULL */
    size_t folder_len;
    char *message; /* LIMIT: what happened and what to raise; else NULL */
} watch_event_t;

typedef struct watch_stats {
    uint64_t overflows;    /* overflows seen (real or injected) */
    size_t watches;        /* inotify watches held (root included) */
    size_t polled_folders; /* folders compared on the poll timer */
} watch_stats_t;

typedef void (*watch_notify_fn)(watch_t *w, void *data);

/* Open a watcher on opts->root.  Returns NULL with a message in err when
 * the root cannot be watched at all, or when inotify was asked for
 * explicitly where it does not exist.  Hitting an inotify limit is not a
 * failure: the watcher polls instead and reports a limit event. */
watch_t *watch_open(loop_t *loop, const watch_options_t *opts, char *err,
                    size_t errlen);
void watch_close(watch_t *w); /* NULL is fine */

/* Called (from a loop callback) when the pending set becomes non-empty. */
void watch_set_notify(watch_t *w, watch_notify_fn fn, void *data);

int watch_has_pending(const watch_t *w);
/* Move every pending event into a new array (limits first, then overflow,
 * then dirty folders in the order they were first marked).  Returns the
 * count (0 with *out NULL when nothing is pending, -1 on ENOMEM, leaving
 * the events pending).  Free with watch_events_free. */
long watch_take(watch_t *w, watch_event_t **out);
void watch_events_free(watch_event_t *ev, size_t count);

const char *watch_backend_name(const watch_t *w); /* "inotify" | "poll" */
void watch_get_stats(const watch_t *w, watch_stats_t *out);

/* Behave exactly as if the kernel had reported an event queue overflow. */
void watch_inject_overflow(watch_t *w);

/* ---- for backends only ------------------------------------------------ */

loop_t *watch_loop(const watch_t *w);
const char *watch_root(const watch_t *w);
const watch_options_t *watch_options(const watch_t *w); /* interval set */

void watch_mark_dirty(watch_t *w, const char *folder, size_t len);
/* Count an overflow and report it (rate limited).  The backend must have
 * re-established its view first (e.g. watches for new sub-folders). */
void watch_report_overflow(watch_t *w);

typedef enum watch_limit_kind {
    WATCH_LIMIT_WATCHES = 0, /* ENOSPC from inotify_add_watch */
    WATCH_LIMIT_INSTANCES,   /* EMFILE from inotify_init1 */
    WATCH_LIMIT_KINDS
} watch_limit_kind_t;

/* Report a limit: logged once and turned into one event per kind per
 * watcher; later occurrences of the same kind only go to the debug log. */
void watch_report_limit(watch_t *w, watch_limit_kind_t kind,
                        const char *folder, size_t folder_len,
                        const char *message);

/* From inside a backend callback: abandon the backend and poll the whole
 * root instead.  Happens on a later loop turn, so the caller's state stays
 * valid until its callback returns; an overflow is reported afterwards
 * because events may have been lost in between. */
void watch_request_poll_fallback(watch_t *w, const char *why);

/* inotify backend (watch_inotify.c).  open returns 0 or an errno value:
 * ENOSYS where inotify does not exist, EMFILE/ENOSPC for the limits. */
typedef struct watch_inotify watch_inotify_t;
int watch_inotify_open(watch_t *w, watch_inotify_t **out);
void watch_inotify_close(watch_inotify_t *in);
void watch_inotify_overflow(watch_inotify_t *in);
void watch_inotify_stats(const watch_inotify_t *in, watch_stats_t *out);

/* poll backend (watch_poll.c).  A poll set either follows the whole root
 * (sub-folders come and go with it) or only the folders added to it (the
 * inotify backend's folders that could not get a watch).  The baseline is
 * taken when a folder enters the set, so only later changes are dirty.
 * The timer runs only while the set has something to compare. */
typedef struct watch_poll watch_poll_t;
watch_poll_t *watch_poll_open(watch_t *w, int whole_root); /* NULL: ENOMEM */
void watch_poll_close(watch_poll_t *p);
int watch_poll_add(watch_poll_t *p, const char *folder, size_t len);
void watch_poll_remove(watch_poll_t *p, const char *folder, size_t len);
int watch_poll_has(const watch_poll_t *p, const char *folder, size_t len);
size_t watch_poll_count(const watch_poll_t *p);
/* Compare every folder now, as the timer does (tests, overflow). */
void watch_poll_check(watch_poll_t *p);
/* Folder-list mode: drop folders that are no longer directories of the
 * root, marking each dirty (used when the root's folder set changed). */
void watch_poll_prune(watch_poll_t *p);
#endif
