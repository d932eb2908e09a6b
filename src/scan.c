/* scan.c - list the watched root and its sub-folders with lstat data.
 *
 * Everything goes through openat/fstatat on directory fds, with
 * AT_SYMLINK_NOFOLLOW and O_NOFOLLOW, so a symlink is never followed and a
 * name is never glued into a path (names may hold any byte but '/').
 * Cost is one readdir pass plus one fstatat per entry; names of a listing
 * live in one arena so 10,000 entries are a handful of allocations. */
#include "scan.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef __APPLE__
#define SCAN_MTIME(st) ((st)->st_mtimespec)
#define SCAN_CTIME(st) ((st)->st_ctimespec)
#else
#define SCAN_MTIME(st) ((st)->st_mtim)
#define SCAN_CTIME(st) ((st)->st_ctim)
#endif

const char *scan_type_name(scan_type_t type)
{
    switch (type) {
    case SCAN_FILE: return "file";
    case SCAN_DIR: return "dir";
    case SCAN_SYMLINK: return "symlink";
    case SCAN_FIFO: return "fifo";
    default: return "other";
    }
}

int scan_name_is_component(const char *name, size_t len)
{
    if (len == 0 || memchr(name, '/', len) || memchr(name, '\0', len))
        return 0;
    if ((len == 1 && name[0] == '.') || (len == 2 && !memcmp(name, "..", 2)))
        return 0;
    return 1;
}

static scan_type_t type_of(mode_t mode)
{
    if (S_ISREG(mode)) return SCAN_FILE;
    if (S_ISDIR(mode)) return SCAN_DIR;
    if (S_ISLNK(mode)) return SCAN_SYMLINK;
    if (S_ISFIFO(mode)) return SCAN_FIFO;
    return SCAN_OTHER;
}

static int64_t ns_of(struct timespec ts)
{
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Open a directory without following a symlink in its last component; ""
 * means at_fd itself. */
static DIR *open_dir_at(int at_fd, const char *name)
{
    int fd = openat(at_fd, name[0] ? name : ".",
                    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return NULL;
    DIR *d = fdopendir(fd);
    if (!d) {
        int e = errno;
        close(fd);
        errno = e;
    }
    return d;
}

int scan_visit_at(int at_fd, const char *name, scan_visit_fn fn, void *ud)
{
    DIR *d = open_dir_at(at_fd, name);
    if (!d) return errno;
    int fd = dirfd(d), err = 0;
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(d);
        if (!de) {
            err = errno;
            break;
        }
        const char *n = de->d_name;
        if (n[0] == '.' && (n[1] == '\0' || (n[1] == '.' && n[2] == '\0')))
            continue;
        struct stat st;
        if (fstatat(fd, n, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno == ENOENT) continue; /* removed since readdir: gone */
            err = errno;                   /* e.g. a folder without x bit */
            break;
        }
        scan_entry_t e = {
            .name = n,
            .name_len = strlen(n),
            .type = type_of(st.st_mode),
            .size = (uint64_t)st.st_size,
            .mtime_ns = ns_of(SCAN_MTIME(&st)),
            .ctime_ns = ns_of(SCAN_CTIME(&st)),
            .ino = (uint64_t)st.st_ino,
            .dev = (uint64_t)st.st_dev,
            .mode = (uint32_t)st.st_mode,
        };
        if (fn(&e, ud)) break;
    }
    closedir(d);
    return err;
}

/* Collects a listing: entries grow by doubling, names append to the arena.
 * Entry name pointers are fixed up once at the end, since the arena moves
 * while it grows. */
typedef struct list_builder {
    scan_list_t *list;
    size_t cap, names_len, names_cap;
    int oom;
} list_builder_t;

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return 0;
    size_t n = *cap ? *cap : 16;
    while (n < need) n *= 2;
    void *q = realloc(*p, n * elem);
    if (!q) return -1;
    *p = q;
    *cap = n;
    return 0;
}

static int collect(const scan_entry_t *e, void *ud)
{
    list_builder_t *b = ud;
    scan_list_t *l = b->list;
    if (grow((void **)&l->entries, &b->cap, l->count + 1, sizeof *l->entries) ||
        grow((void **)&l->names, &b->names_cap, b->names_len + e->name_len + 1,
             1)) {
        b->oom = 1;
        return 1;
    }
    memcpy(l->names + b->names_len, e->name, e->name_len + 1);
    b->names_len += e->name_len + 1;
    l->entries[l->count++] = *e;
    return 0;
}

int scan_list_at(int at_fd, const char *name, size_t name_len, scan_list_t *out)
{
    memset(out, 0, sizeof *out);
    out->dir_name = malloc(name_len + 1);
    if (!out->dir_name) return out->err = ENOMEM;
    memcpy(out->dir_name, name, name_len);
    out->dir_name[name_len] = '\0';
    out->dir_name_len = name_len;

    list_builder_t b = {.list = out};
    out->err = scan_visit_at(at_fd, out->dir_name, collect, &b);
    if (b.oom) out->err = ENOMEM;
    const char *p = out->names;
    for (size_t i = 0; i < out->count; i++) {
        out->entries[i].name = p;
        p += out->entries[i].name_len + 1;
    }
    return out->err;
}

void scan_list_free(scan_list_t *list)
{
    if (!list) return;
    free(list->dir_name);
    free(list->entries);
    free(list->names);
    memset(list, 0, sizeof *list);
}

int scan_folder(const char *root, const char *folder, size_t folder_len,
                scan_list_t *out)
{
    memset(out, 0, sizeof *out);
    if (folder_len && !scan_name_is_component(folder, folder_len))
        return out->err = EINVAL;
    int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0) return out->err = errno;
    int err = scan_list_at(rootfd, folder, folder_len, out);
    close(rootfd);
    return err;
}

int scan_root(const char *root, scan_result_t *out)
{
    memset(out, 0, sizeof *out);
    /* The root itself may be a symlink (a configured path); everything
     * under it is taken as found. */
    int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0) return errno;
    scan_list_t *top = &out->root_others;
    int err = scan_list_at(rootfd, "", 0, top);
    if (err) goto fail;

    size_t ndirs = 0;
    for (size_t i = 0; i < top->count; i++)
        ndirs += top->entries[i].type == SCAN_DIR;
    if (ndirs) {
        out->folders = calloc(ndirs, sizeof *out->folders);
        if (!out->folders) {
            err = ENOMEM;
            goto fail;
        }
    }
    /* List each sub-folder, and keep only the non-folders in root_others. */
    size_t kept = 0;
    for (size_t i = 0; i < top->count; i++) {
        const scan_entry_t *e = &top->entries[i];
        if (e->type != SCAN_DIR) {
            top->entries[kept++] = *e;
            continue;
        }
        scan_list_t *f = &out->folders[out->folder_count++];
        if (scan_list_at(rootfd, e->name, e->name_len, f) == ENOMEM) {
            err = ENOMEM;
            goto fail;
        }
    }
    top->count = kept;
    close(rootfd);
    return 0;

fail:
    close(rootfd);
    scan_result_free(out);
    return err;
}

void scan_result_free(scan_result_t *res)
{
    if (!res) return;
    for (size_t i = 0; i < res->folder_count; i++)
        scan_list_free(&res->folders[i]);
    free(res->folders);
    scan_list_free(&res->root_others);
    memset(res, 0, sizeof *res);
}
