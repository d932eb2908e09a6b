/* scan.h - the directory scanner: the source of truth about the watched root.
 *
 * Watchers only say "look at this folder again"; what is actually there is
 * always read here.  The scanner lists the root's sub-folders and, per
 * sub-folder, every entry with its lstat data.  It never follows a symbolic
 * link (a link is reported as SCAN_SYMLINK, whatever it points to) and it
 * reports hidden entries too: deciding what to ignore is policy (Lua).
 *
 * Names are arbitrary bytes except '/' and NUL, so they are carried as
 * counted strings (name, name_len); each is also NUL-terminated for the
 * convenience of system calls.
 *
 * Plain C, no Lua: l_watch.c wraps it, watch_poll.c builds signatures on it.
 * Calls only the C library and the OS. */
#ifndef KBSYNCD_SCAN_H
#define KBSYNCD_SCAN_H
#include <stddef.h>
#include <stdint.h>

typedef enum scan_type {
    SCAN_FILE = 0,
    SCAN_DIR,
    SCAN_SYMLINK,
    SCAN_FIFO,
    SCAN_OTHER /* sockets, devices */
} scan_type_t;

typedef struct scan_entry {
    const char *name; /* NUL-terminated, owned by the enclosing list */
    size_t name_len;
    scan_type_t type;
    uint64_t size;
    int64_t mtime_ns;
    int64_t ctime_ns; /* not settable by users: helps the poll signature */
    uint64_t ino;
    uint64_t dev;
    uint32_t mode;
} scan_entry_t;

/* The entries of one directory.  err is 0, or the errno that stopped the
 * listing (EACCES, ENOENT, ENOTDIR, ELOOP for a symlink, ...); entries read
 * before the error are kept. */
typedef struct scan_list {
    char *dir_name; /* the folder's own name ("" for the root) */
    size_t dir_name_len;
    int err;
    scan_entry_t *entries;
    size_t count;
    char *names; /* one arena holding every entry name */
} scan_list_t;

/* The whole root: its sub-folders (each listed) and the root's other
 * entries (files, symlinks, fifos: ignored by policy, but reported so
 * policy can say so in the log). */
typedef struct scan_result {
    scan_list_t *folders;
    size_t folder_count;
    scan_list_t root_others;
} scan_result_t;

const char *scan_type_name(scan_type_t type);

/* Visit each entry of the directory `name` under the open directory at_fd
 * (name "" or "." means at_fd itself), in directory order, without
 * allocating.  "." and ".." are skipped; an entry that vanishes between
 * readdir and lstat is skipped.  The visitor returns 0 to go on, non-zero
 * to stop.  Returns 0, or an errno value (the visit may have been partial);
 * a visitor's stop is not an error. */
typedef int (*scan_visit_fn)(const scan_entry_t *entry, void *ud);
int scan_visit_at(int at_fd, const char *name, scan_visit_fn fn, void *ud);

/* List one directory into *out (always initialised; free with
 * scan_list_free).  Returns out->err: 0 or an errno value.  ENOMEM is
 * reported the same way. */
int scan_list_at(int at_fd, const char *name, size_t name_len, scan_list_t *out);
void scan_list_free(scan_list_t *list);

/* List the sub-folder `folder` of root, or the root itself for "".  folder
 * must be one path component: a name holding '/' or equal to "." or ".."
 * gives EINVAL. */
int scan_folder(const char *root, const char *folder, size_t folder_len,
                scan_list_t *out);

/* Scan the whole root.  Returns 0 or the errno of opening or reading the
 * root itself (*out is then empty); a sub-folder that cannot be read is
 * not a failure: its list carries err.  Free with scan_result_free. */
int scan_root(const char *root, scan_result_t *out);
void scan_result_free(scan_result_t *res);

/* Validate a folder name as scan_folder does: 1 when usable. */
int scan_name_is_component(const char *name, size_t len);
#endif
