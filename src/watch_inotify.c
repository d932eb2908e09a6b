/* watch_inotify.c - the Linux backend: one inotify watch on the root and
 * one on each sub-folder, read through the loop.  While nothing happens
 * there is no timer and no wake-up at all.
 *
 * Events are only hints (watch.h), so the bookkeeping stays small:
 *   - any event under a sub-folder's watch marks that folder dirty; a file
 *     moved between two folders produces MOVED_FROM in one and MOVED_TO in
 *     the other, so both are marked without pairing cookies;
 *   - a folder-level event in the root (a sub-folder created, deleted or
 *     renamed, in or out) triggers a reconcile after the read batch: the
 *     root is listed and the watch table is brought in line with it.  This
 *     is what pairing MOVED_FROM/MOVED_TO by cookie would give (a renamed
 *     folder keeps its watch descriptor, inotify_add_watch returns it for
 *     the new name) and it also repairs everything after an overflow.  A
 *     new folder's watch is added before it is marked dirty, so the scan
 *     that follows sees files created before the watch existed;
 *   - ENOSPC on a sub-folder puts that folder on the poll timer; losing
 *     the root's own watch switches the whole watcher to polling. */
#include "watch.h"

#ifdef __linux__
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "log.h"
#include "scan.h"

#define ROOT_MASK                                                              \
    (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF |    \
     IN_MOVE_SELF | IN_ONLYDIR)
/* IN_DONT_FOLLOW: a symlinked "folder" is never watched through the link;
 * IN_EXCL_UNLINK: no events for files already unlinked but still open. */
#define FOLDER_MASK                                                            \
    (IN_CLOSE_WRITE | IN_MODIFY | IN_CREATE | IN_DELETE | IN_MOVED_FROM |      \
     IN_MOVED_TO | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR |     \
     IN_DONT_FOLLOW | IN_EXCL_UNLINK)
#define READ_BUFFER_SIZE 65536

typedef struct folder_watch {
    int wd;
    int seen; /* reconcile mark */
    uint64_t ino, dev;
    size_t len;
    char *name;
} folder_watch_t;

struct watch_inotify {
    watch_t *w;
    int fd;
    int root_wd;
    folder_watch_t **slots; /* open addressing by wd, linear probing */
    size_t cap, count;
    watch_poll_t *polled; /* folders that could not get a watch */
    char *path;           /* root + '/' + room for one name */
    size_t root_len;
    union {
        struct inotify_event align;
        char bytes[READ_BUFFER_SIZE];
    } buf;
};

/* ---- the wd table ------------------------------------------------------ */

static size_t slot_of(const watch_inotify_t *in, int wd)
{
    return ((uint32_t)wd * 2654435761u) & (in->cap - 1);
}

static folder_watch_t *by_wd(const watch_inotify_t *in, int wd)
{
    if (!in->cap) return NULL;
    for (size_t i = slot_of(in, wd); in->slots[i]; i = (i + 1) & (in->cap - 1))
        if (in->slots[i]->wd == wd) return in->slots[i];
    return NULL;
}

static void place(watch_inotify_t *in, folder_watch_t *f)
{
    size_t i = slot_of(in, f->wd);
    while (in->slots[i]) i = (i + 1) & (in->cap - 1);
    in->slots[i] = f;
}

static int table_insert(watch_inotify_t *in, folder_watch_t *f)
{
    if ((in->count + 1) * 2 > in->cap) {
        size_t old_cap = in->cap, cap = old_cap ? old_cap * 2 : 64;
        folder_watch_t **old = in->slots;
        folder_watch_t **s = calloc(cap, sizeof *s);
        if (!s) return -1;
        in->slots = s;
        in->cap = cap;
        for (size_t i = 0; i < old_cap; i++)
            if (old[i]) place(in, old[i]);
        free(old);
    }
    place(in, f);
    in->count++;
    return 0;
}

/* Linear-probing delete: shift later members of the cluster back so that
 * lookups never stop early at the hole. */
static void table_remove(watch_inotify_t *in, folder_watch_t *f)
{
    size_t mask = in->cap - 1, i = slot_of(in, f->wd);
    while (in->slots[i] != f) i = (i + 1) & mask;
    in->slots[i] = NULL;
    for (size_t j = (i + 1) & mask; in->slots[j]; j = (j + 1) & mask) {
        size_t k = slot_of(in, in->slots[j]->wd);
        int stays = (i <= j) ? (i < k && k <= j) : (i < k || k <= j);
        if (stays) continue;
        in->slots[i] = in->slots[j];
        in->slots[j] = NULL;
        i = j;
    }
    in->count--;
}

static void folder_free(folder_watch_t *f)
{
    if (f) free(f->name);
    free(f);
}

/* ---- adding watches ---------------------------------------------------- */

static const char *folder_path(watch_inotify_t *in, const char *name, size_t len)
{
    memcpy(in->path + in->root_len + 1, name, len + 1);
    return in->path;
}

static int add_watch(watch_inotify_t *in, const char *path, uint32_t mask)
{
    uint32_t budget = watch_options(in->w)->test_watch_budget;
    size_t held = in->count + (in->root_wd >= 0);
    if (budget && held >= budget) {
        errno = ENOSPC;
        return -1;
    }
    return inotify_add_watch(in->fd, path, mask);
}

static void watches_limit(watch_inotify_t *in, const char *name, size_t len)
{
    char msg[640];
    snprintf(msg, sizeof msg,
             "inotify watch limit reached (inotify_add_watch: %s): the "
             "per-user limit /proc/sys/fs/inotify/max_user_watches is used up. "
             "Folder '%s' is polled every %u ms instead. To get instant "
             "events, raise it, e.g. `sudo sysctl "
             "fs.inotify.max_user_watches=524288` (persist in /etc/sysctl.d/), "
             "then restart",
             strerror(ENOSPC), len ? name : "(the root)",
             watch_options(in->w)->interval_ms);
    watch_report_limit(in->w, WATCH_LIMIT_WATCHES, name, len, msg);
}

/* A folder that cannot have a watch is compared on the poll timer. */
static void poll_instead(watch_inotify_t *in, const char *name, size_t len)
{
    if (!in->polled) in->polled = watch_poll_open(in->w, 0);
    if (!in->polled || watch_poll_add(in->polled, name, len) != 0)
        log_event(LOG_ERROR, "watch_poll_add", "folder", name, "error",
                  strerror(ENOMEM), NULL);
}

static int set_name(folder_watch_t *f, const char *name, size_t len)
{
    char *n = malloc(len + 1);
    if (!n) return -1;
    memcpy(n, name, len);
    n[len] = '\0';
    free(f->name);
    f->name = n;
    f->len = len;
    return 0;
}

/* Give the listed sub-folder a watch (or a place on the poll timer). */
static void watch_folder(watch_inotify_t *in, const scan_entry_t *e, int loud)
{
    int wd = add_watch(in, folder_path(in, e->name, e->name_len), FOLDER_MASK);
    if (wd < 0) {
        int err = errno;
        if (err == ENOENT || err == ENOTDIR || err == ELOOP)
            return; /* gone or replaced since listed; its event follows */
        /* Already polled: this was a retry at a later reconcile. */
        if (in->polled && watch_poll_has(in->polled, e->name, e->name_len))
            return;
        if (err == ENOSPC) watches_limit(in, e->name, e->name_len);
        else
            log_event(LOG_WARN, "watch_add_failed", "folder", e->name, "error",
                      strerror(err), "action", "polling this folder", NULL);
        poll_instead(in, e->name, e->name_len);
        if (loud) watch_mark_dirty(in->w, e->name, e->name_len);
        return;
    }
    if (in->polled) watch_poll_remove(in->polled, e->name, e->name_len);
    folder_watch_t *f = by_wd(in, wd);
    if (f) {
        /* The same directory under a new name: a rename inside the root. */
        if (f->len != e->name_len || memcmp(f->name, e->name, f->len)) {
            watch_mark_dirty(in->w, f->name, f->len);
            /* Out of memory: the old name stays, so the next reconcile
             * does not match it and tries the rename again. */
            set_name(f, e->name, e->name_len);
        }
    } else {
        f = calloc(1, sizeof *f);
        if (f) f->wd = wd; /* the table hashes by wd */
        if (!f || set_name(f, e->name, e->name_len) != 0 || table_insert(in, f) != 0) {
            folder_free(f);
            inotify_rm_watch(in->fd, wd);
            poll_instead(in, e->name, e->name_len);
            if (loud) watch_mark_dirty(in->w, e->name, e->name_len);
            return;
        }
    }
    f->ino = e->ino;
    f->dev = e->dev;
    f->seen = 1;
    if (loud) watch_mark_dirty(in->w, e->name, e->name_len); /* after the watch */
}

/* ---- reconcile --------------------------------------------------------- */

static int name_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    return c ? c : (alen > blen) - (alen < blen);
}

static int watch_ptr_cmp(const void *a, const void *b)
{
    const folder_watch_t *x = *(const folder_watch_t *const *)a;
    const folder_watch_t *y = *(const folder_watch_t *const *)b;
    return name_cmp(x->name, x->len, y->name, y->len);
}

static folder_watch_t *by_name(folder_watch_t **sorted, size_t n, const char *name,
                               size_t len)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = name_cmp(sorted[mid]->name, sorted[mid]->len, name, len);
        if (c == 0) return sorted[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

/* Bring the watch table in line with the root's sub-folders as listed now.
 * loud: mark what changed dirty (off for the first pass at open).
 * Returns 0, or an errno when the root itself cannot be read. */
static int reconcile(watch_inotify_t *in, int loud)
{
    scan_list_t top;
    int err = scan_folder(watch_root(in->w), "", 0, &top);
    if (err && top.count == 0) {
        scan_list_free(&top);
        return err;
    }
    folder_watch_t **sorted = malloc((in->count ? in->count : 1) * sizeof *sorted);
    if (!sorted) {
        scan_list_free(&top);
        return ENOMEM;
    }
    size_t n = 0;
    for (size_t i = 0; i < in->cap; i++)
        if (in->slots[i]) {
            in->slots[i]->seen = 0;
            sorted[n++] = in->slots[i];
        }
    qsort(sorted, n, sizeof *sorted, watch_ptr_cmp);

    /* Pass 1, read-only: folders whose watch still fits (same name, same
     * directory).  Pass 2 changes the table, so it cannot share pass 1's
     * sorted view. */
    char *fresh = calloc(top.count ? top.count : 1, 1);
    if (!fresh) {
        free(sorted);
        scan_list_free(&top);
        return ENOMEM;
    }
    for (size_t i = 0; i < top.count; i++) {
        const scan_entry_t *e = &top.entries[i];
        if (e->type != SCAN_DIR) continue;
        folder_watch_t *f = by_name(sorted, n, e->name, e->name_len);
        if (f && f->ino == e->ino && f->dev == e->dev) f->seen = 1;
        else fresh[i] = 1; /* new, renamed, replaced, or polled: (re)try */
    }
    for (size_t i = 0; i < top.count; i++)
        if (fresh[i]) watch_folder(in, &top.entries[i], loud);

    /* Pass 3: watches whose folder is gone (deleted or moved out). */
    for (size_t i = 0; i < n; i++) {
        folder_watch_t *f = sorted[i];
        if (f->seen) continue;
        if (loud) {
            watch_mark_dirty(in->w, f->name, f->len);
            watch_mark_dirty(in->w, "", 0);
        }
        inotify_rm_watch(in->fd, f->wd); /* its IN_IGNORED finds no entry */
        table_remove(in, f);
        folder_free(f);
    }
    free(sorted);
    free(fresh);
    scan_list_free(&top);
    return 0;
}

/* ---- reading events ---------------------------------------------------- */

typedef struct batch {
    int overflow, reconcile, root_lost;
} batch_t;

static void handle_event(watch_inotify_t *in, const struct inotify_event *ev,
                         batch_t *b)
{
    if (ev->mask & IN_Q_OVERFLOW) {
        b->overflow = 1;
        return;
    }
    if (ev->wd == in->root_wd) {
        if (ev->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT)) {
            b->root_lost = 1;
            return;
        }
        watch_mark_dirty(in->w, "", 0);
        if (ev->mask & IN_ISDIR) b->reconcile = 1;
        return;
    }
    folder_watch_t *f = by_wd(in, ev->wd);
    if (!f) return; /* a watch we already dropped */
    watch_mark_dirty(in->w, f->name, f->len);
    if (ev->mask & IN_IGNORED) {
        /* The kernel dropped the watch (folder deleted, file system
         * unmounted): forget it, and let reconcile re-add it if the
         * folder is in fact still there. */
        table_remove(in, f);
        folder_free(f);
        b->reconcile = 1;
    } else if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF)) {
        b->reconcile = 1;
    }
}

static void on_readable(loop_t *l, int fd, int events, void *data)
{
    watch_inotify_t *in = data;
    batch_t b = {0};
    for (;;) {
        ssize_t n = read(fd, in->buf.bytes, sizeof in->buf.bytes);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        if (n <= 0) {
            log_event(LOG_ERROR, "watch_read_failed", "root", watch_root(in->w),
                      "error", n < 0 ? strerror(errno) : "end of file", NULL);
            b.root_lost = 1;
            break;
        }
        for (char *p = in->buf.bytes; p < in->buf.bytes + n;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;
            handle_event(in, ev, &b);
            p += sizeof *ev + ev->len;
        }
    }
    if (b.root_lost) {
        loop_fd_del(l, fd);
        watch_request_poll_fallback(in->w, "the watched folder was removed, "
                                           "moved or unmounted");
        return;
    }
    if (b.overflow) {
        watch_inotify_overflow(in);
    } else if (b.reconcile) {
        int err = reconcile(in, 1);
        if (err) watch_request_poll_fallback(in->w, strerror(err));
        if (in->polled) watch_poll_prune(in->polled);
    }
}

/* ---- the backend interface --------------------------------------------- */

void watch_inotify_overflow(watch_inotify_t *in)
{
    /* Lost events may include new sub-folders: give them watches before
     * telling the owner to rescan, or their files would go unseen. */
    int err = reconcile(in, 0);
    if (err) watch_request_poll_fallback(in->w, strerror(err));
    if (in->polled) watch_poll_prune(in->polled);
    watch_report_overflow(in->w);
}

int watch_inotify_open(watch_t *w, watch_inotify_t **out)
{
    *out = NULL;
    if (watch_options(w)->test_init_emfile) return EMFILE;
    watch_inotify_t *in = calloc(1, sizeof *in);
    if (!in) return ENOMEM;
    in->w = w;
    in->root_wd = -1;
    in->root_len = strlen(watch_root(w));
    in->path = malloc(in->root_len + NAME_MAX + 2);
    if (!in->path) {
        free(in);
        return ENOMEM;
    }
    memcpy(in->path, watch_root(w), in->root_len);
    in->path[in->root_len] = '/';
    in->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (in->fd < 0) {
        int err = errno;
        free(in->path);
        free(in);
        return err;
    }
    in->root_wd = add_watch(in, watch_root(w), ROOT_MASK);
    int err = in->root_wd < 0 ? errno : 0;
    if (err == ENOSPC) watches_limit(in, "", 0);
    if (!err) err = reconcile(in, 0);
    if (!err && loop_fd_set(watch_loop(w), in->fd, LOOP_READ, on_readable, in) != 0)
        err = errno ? errno : EIO;
    if (err) {
        watch_inotify_close(in);
        return err;
    }
    *out = in;
    return 0;
}

void watch_inotify_close(watch_inotify_t *in)
{
    if (!in) return;
    loop_fd_del(watch_loop(in->w), in->fd);
    close(in->fd); /* drops every watch with it */
    for (size_t i = 0; i < in->cap; i++) folder_free(in->slots[i]);
    free(in->slots);
    watch_poll_close(in->polled);
    free(in->path);
    free(in);
}

void watch_inotify_stats(const watch_inotify_t *in, watch_stats_t *out)
{
    out->watches = in->count + (in->root_wd >= 0);
    out->polled_folders = in->polled ? watch_poll_count(in->polled) : 0;
}

#else /* !__linux__: no inotify; "auto" means poll */
#include <errno.h>

int watch_inotify_open(watch_t *w, watch_inotify_t **out)
{
    (void)w;
    *out = NULL;
    return ENOSYS;
}
void watch_inotify_close(watch_inotify_t *in) { (void)in; }
void watch_inotify_overflow(watch_inotify_t *in) { (void)in; }
void watch_inotify_stats(const watch_inotify_t *in, watch_stats_t *out)
{
    (void)in, (void)out;
}
#endif
