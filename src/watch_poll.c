/* watch_poll.c - the portable backend: compare folder signatures on a timer.
 *
 * A folder's signature folds together its own lstat (inode, mtime, ctime:
 * entries added, removed or renamed) and, order-independently, one hash per
 * entry of name, type, size, mtime, ctime and inode (contents rewritten in
 * place, or replaced by an atomic rename).  Equal signatures mean "nothing
 * to look at"; the scanner still decides what changed.  A change that keeps
 * size and both timestamps within the file system's timestamp resolution is
 * invisible to polling: that is the price of not reading contents.
 *
 * Cost per tick: one readdir and one lstat per entry of every polled
 * folder, no allocation beyond the root listing. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "scan.h"
#include "watch.h"

#ifdef __APPLE__
#define POLL_MTIME(st) ((st)->st_mtimespec)
#define POLL_CTIME(st) ((st)->st_ctimespec)
#else
#define POLL_MTIME(st) ((st)->st_mtim)
#define POLL_CTIME(st) ((st)->st_ctim)
#endif

typedef struct polled {
    uint64_t sig;
    size_t len;
    char name[];
} polled_t;

struct watch_poll {
    watch_t *w;
    int whole_root;
    polled_t **folders; /* sorted by name, see name_cmp */
    size_t count, cap;
    uint64_t root_sig; /* whole_root: the root's own non-folder entries */
    loop_timer_t *timer;
};

/* splitmix64's finaliser: cheap, and every input bit moves every output
 * bit, so summing per-entry hashes does not cancel out. */
static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static uint64_t bytes_hash(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static uint64_t entry_hash(const scan_entry_t *e)
{
    uint64_t h = mix(bytes_hash(e->name, e->name_len) ^ e->type);
    h = mix(h ^ e->size);
    h = mix(h ^ (uint64_t)e->mtime_ns);
    h = mix(h ^ (uint64_t)e->ctime_ns);
    return mix(h ^ e->ino);
}

static int sum_entry(const scan_entry_t *e, void *ud)
{
    uint64_t *acc = ud;
    acc[0] += entry_hash(e);
    acc[1]++;
    return 0;
}

static uint64_t error_sig(int err) { return mix(0xe770000000000000ULL | (unsigned)err); }

static uint64_t folder_signature(int rootfd, const char *name)
{
    struct stat st;
    if (fstatat(rootfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) return error_sig(errno);
    if (!S_ISDIR(st.st_mode)) return error_sig(ENOTDIR);
    uint64_t acc[2] = {0, 0};
    int err = scan_visit_at(rootfd, name, sum_entry, acc);
    uint64_t h = mix((uint64_t)st.st_ino);
    h = mix(h ^ (uint64_t)POLL_MTIME(&st).tv_sec ^ (uint64_t)POLL_MTIME(&st).tv_nsec << 32);
    h = mix(h ^ (uint64_t)POLL_CTIME(&st).tv_sec ^ (uint64_t)POLL_CTIME(&st).tv_nsec << 32);
    h = mix(h ^ acc[0]) ^ mix(acc[1]);
    return err ? h ^ error_sig(err) : h;
}

static int name_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    return c ? c : (alen > blen) - (alen < blen);
}

static int open_root(const watch_poll_t *p)
{
    return open(watch_root(p->w), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* Index of name, or of where it would go (with *found 0). */
static size_t find(const watch_poll_t *p, const char *name, size_t len, int *found)
{
    size_t lo = 0, hi = p->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = name_cmp(p->folders[mid]->name, p->folders[mid]->len, name, len);
        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    *found = 0;
    return lo;
}

static polled_t *polled_new(const char *name, size_t len, uint64_t sig)
{
    polled_t *f = malloc(sizeof *f + len + 1);
    if (!f) return NULL;
    f->sig = sig;
    f->len = len;
    memcpy(f->name, name, len);
    f->name[len] = '\0';
    return f;
}

static int reserve(watch_poll_t *p, size_t need)
{
    if (need <= p->cap) return 0;
    size_t cap = p->cap ? p->cap * 2 : 16;
    while (cap < need) cap *= 2;
    polled_t **f = realloc(p->folders, cap * sizeof *f);
    if (!f) return -1;
    p->folders = f;
    p->cap = cap;
    return 0;
}

static int entry_ptr_cmp(const void *a, const void *b)
{
    const scan_entry_t *x = *(const scan_entry_t *const *)a;
    const scan_entry_t *y = *(const scan_entry_t *const *)b;
    return name_cmp(x->name, x->name_len, y->name, y->name_len);
}

/* Whole-root mode: merge the root's current sub-folders (sorted) with the
 * tracked ones.  quiet (the baseline) records without marking dirty. */
static void check_whole_root(watch_poll_t *p, int quiet)
{
    watch_t *w = p->w;
    scan_list_t top = {0};
    const scan_entry_t **dirs = NULL;
    size_t ndirs = 0;
    uint64_t root_sig;
    int rootfd = open_root(p);
    if (rootfd < 0) {
        root_sig = error_sig(errno);
    } else {
        uint64_t acc[2] = {0, 0};
        int err = scan_list_at(rootfd, "", 0, &top);
        dirs = malloc((top.count ? top.count : 1) * sizeof *dirs);
        if (!dirs) err = ENOMEM;
        for (size_t i = 0; dirs && i < top.count; i++) {
            if (top.entries[i].type == SCAN_DIR) dirs[ndirs++] = &top.entries[i];
            else sum_entry(&top.entries[i], acc);
        }
        if (err == ENOMEM) goto out; /* try again next tick */
        qsort(dirs, ndirs, sizeof *dirs, entry_ptr_cmp);
        root_sig = mix(acc[0]) ^ mix(acc[1]) ^ (err ? error_sig(err) : 0);
    }
    if (root_sig != p->root_sig && !quiet) watch_mark_dirty(w, "", 0);
    p->root_sig = root_sig;

    polled_t **next = malloc((ndirs ? ndirs : 1) * sizeof *next);
    if (!next) goto out;
    size_t i = 0, j = 0, n = 0;
    while (i < p->count || j < ndirs) {
        polled_t *old = i < p->count ? p->folders[i] : NULL;
        const scan_entry_t *cur = j < ndirs ? dirs[j] : NULL;
        int c = !old ? 1 : !cur ? -1 : name_cmp(old->name, old->len, cur->name, cur->name_len);
        if (c < 0) { /* vanished */
            if (!quiet) {
                watch_mark_dirty(w, old->name, old->len);
                watch_mark_dirty(w, "", 0);
            }
            free(old);
            i++;
            continue;
        }
        uint64_t sig = folder_signature(rootfd, cur->name);
        if (c > 0) { /* appeared */
            polled_t *f = polled_new(cur->name, cur->name_len, sig);
            if (!f) {
                j++;
                continue; /* seen as new again on a later tick */
            }
            if (!quiet) {
                watch_mark_dirty(w, cur->name, cur->name_len);
                watch_mark_dirty(w, "", 0);
            }
            next[n++] = f;
            j++;
            continue;
        }
        if (sig != old->sig && !quiet) watch_mark_dirty(w, old->name, old->len);
        old->sig = sig;
        next[n++] = old;
        i++, j++;
    }
    free(p->folders);
    p->folders = next;
    p->count = n;
    p->cap = ndirs ? ndirs : 1;
out:
    free(dirs);
    scan_list_free(&top);
    if (rootfd >= 0) close(rootfd);
}

/* Folder-list mode: compare only the folders added. */
static void check_listed(watch_poll_t *p)
{
    int rootfd = open_root(p);
    for (size_t i = 0; i < p->count; i++) {
        polled_t *f = p->folders[i];
        uint64_t sig = rootfd < 0 ? error_sig(errno) : folder_signature(rootfd, f->name);
        if (sig != f->sig) watch_mark_dirty(p->w, f->name, f->len);
        f->sig = sig;
    }
    if (rootfd >= 0) close(rootfd);
}

void watch_poll_check(watch_poll_t *p)
{
    if (p->whole_root) check_whole_root(p, 0);
    else check_listed(p);
}

static void tick(loop_t *l, loop_timer_t *t, void *data)
{
    watch_poll_check(data);
}

static void timer_update(watch_poll_t *p)
{
    int want = p->whole_root || p->count > 0;
    if (want && !p->timer) {
        uint32_t ms = watch_options(p->w)->interval_ms;
        p->timer = loop_timer_start(watch_loop(p->w), ms, ms, tick, p);
        if (!p->timer)
            log_event(LOG_ERROR, "watch_poll_timer", "root", watch_root(p->w),
                      "error", strerror(ENOMEM), NULL);
    } else if (!want && p->timer) {
        loop_timer_stop(watch_loop(p->w), p->timer);
        p->timer = NULL;
    }
}

watch_poll_t *watch_poll_open(watch_t *w, int whole_root)
{
    watch_poll_t *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->w = w;
    p->whole_root = whole_root;
    if (whole_root) check_whole_root(p, 1);
    timer_update(p);
    return p;
}

void watch_poll_close(watch_poll_t *p)
{
    if (!p) return;
    if (p->timer) loop_timer_stop(watch_loop(p->w), p->timer);
    for (size_t i = 0; i < p->count; i++) free(p->folders[i]);
    free(p->folders);
    free(p);
}

int watch_poll_add(watch_poll_t *p, const char *folder, size_t len)
{
    int found;
    size_t at = find(p, folder, len, &found);
    if (found) return 0;
    if (reserve(p, p->count + 1) != 0) return -1;
    int rootfd = open_root(p);
    uint64_t sig = rootfd < 0 ? error_sig(errno) : folder_signature(rootfd, folder);
    if (rootfd >= 0) close(rootfd);
    polled_t *f = polled_new(folder, len, sig);
    if (!f) return -1;
    memmove(&p->folders[at + 1], &p->folders[at], (p->count - at) * sizeof *p->folders);
    p->folders[at] = f;
    p->count++;
    timer_update(p);
    return 0;
}

void watch_poll_remove(watch_poll_t *p, const char *folder, size_t len)
{
    int found;
    size_t at = find(p, folder, len, &found);
    if (!found) return;
    free(p->folders[at]);
    memmove(&p->folders[at], &p->folders[at + 1],
            (p->count - at - 1) * sizeof *p->folders);
    p->count--;
    timer_update(p);
}

int watch_poll_has(const watch_poll_t *p, const char *folder, size_t len)
{
    int found;
    find(p, folder, len, &found);
    return found;
}

size_t watch_poll_count(const watch_poll_t *p) { return p->count; }

void watch_poll_prune(watch_poll_t *p)
{
    int rootfd = open_root(p);
    size_t kept = 0;
    for (size_t i = 0; i < p->count; i++) {
        polled_t *f = p->folders[i];
        struct stat st;
        if (rootfd >= 0 && fstatat(rootfd, f->name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISDIR(st.st_mode)) {
            p->folders[kept++] = f;
            continue;
        }
        watch_mark_dirty(p->w, f->name, f->len);
        free(f);
    }
    p->count = kept;
    if (rootfd >= 0) close(rootfd);
    timer_update(p);
}
