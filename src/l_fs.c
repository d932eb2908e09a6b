/* l_fs.c - host.fs: the few file-system calls the Lua side needs (state,
 * spool, config) and the lock that keeps one daemon per state folder.
 * Bulk data never passes through here. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <limits.h>
#include <lua.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "modules.h"

static int fail(lua_State *L, const char *what, const char *path)
{
    int e = errno;
    lua_pushnil(L);
    lua_pushfstring(L, "%s %s: %s", what, path, strerror(e));
    lua_pushinteger(L, e);
    return 3;
}

static const char *type_name(mode_t m)
{
    if (S_ISREG(m)) return "file";
    if (S_ISDIR(m)) return "dir";
    if (S_ISLNK(m)) return "symlink";
    if (S_ISFIFO(m)) return "fifo";
    return "other";
}

static int l_stat(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    struct stat st;
    if (lstat(path, &st) < 0) return fail(L, "stat", path);
    lua_createtable(L, 0, 6);
    lua_pushstring(L, type_name(st.st_mode));
    lua_setfield(L, -2, "type");
    lua_pushinteger(L, (lua_Integer)st.st_size);
    lua_setfield(L, -2, "size");
#ifdef __APPLE__
    lua_Integer mt = (lua_Integer)st.st_mtimespec.tv_sec * 1000000000 + st.st_mtimespec.tv_nsec;
#else
    lua_Integer mt = (lua_Integer)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
#endif
    lua_pushinteger(L, mt);
    lua_setfield(L, -2, "mtime_ns");
    lua_pushinteger(L, (lua_Integer)st.st_ino);
    lua_setfield(L, -2, "ino");
    lua_pushinteger(L, (lua_Integer)st.st_dev);
    lua_setfield(L, -2, "dev");
    lua_pushinteger(L, (lua_Integer)(st.st_mode & 07777));
    lua_setfield(L, -2, "mode");
    return 1;
}

static int l_read(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    lua_Integer max = luaL_optinteger(L, 2, 64 * 1024 * 1024);
    FILE *f = fopen(path, "rb");
    if (!f) return fail(L, "open", path);
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && st.st_size > max) {
        fclose(f);
        lua_pushnil(L);
        lua_pushfstring(L, "read %s: larger than %I bytes", path, max);
        return 2;
    }
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    size_t n;
    lua_Integer total = 0;
    do {
        char *p = luaL_prepbuffer(&b);
        n = fread(p, 1, LUAL_BUFFERSIZE, f);
        luaL_addsize(&b, n);
        total += (lua_Integer)n;
    } while (n > 0 && total <= max);
    int err = ferror(f);
    fclose(f);
    if (err) return fail(L, "read", path);
    luaL_pushresult(&b);
    return 1;
}

static int fsync_dir_of(const char *path)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir) slash[1] = 0;
    else if (slash) *slash = 0;
    else snprintf(dir, sizeof dir, ".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return -1;
    fsync(fd);
    close(fd);
    return 0;
}

/* Write temp, fsync, rename over, fsync the folder: after a crash the file
 * is either the old or the new version, never a torn one. */
static int l_write_atomic(lua_State *L)
{
    size_t len;
    const char *path = luaL_checkstring(L, 1);
    const char *data = luaL_checklstring(L, 2, &len);
    int mode = (int)luaL_optinteger(L, 3, 0644);
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) return fail(L, "create", tmp);
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            close(fd);
            unlink(tmp);
            errno = e;
            return fail(L, "write", tmp);
        }
        off += (size_t)w;
    }
    if (fsync(fd) < 0 || close(fd) < 0) {
        int e = errno;
        unlink(tmp);
        errno = e;
        return fail(L, "fsync", tmp);
    }
    if (rename(tmp, path) < 0) {
        int e = errno;
        unlink(tmp);
        errno = e;
        return fail(L, "rename", path);
    }
    fsync_dir_of(path);
    lua_pushboolean(L, 1);
    return 1;
}

static int l_mkdir_p(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    int mode = (int)luaL_optinteger(L, 2, 0755);
    char buf[PATH_MAX];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, (mode_t)mode) < 0 && errno != EEXIST) return fail(L, "mkdir", buf);
        *p = '/';
    }
    if (mkdir(buf, (mode_t)mode) < 0 && errno != EEXIST) return fail(L, "mkdir", buf);
    lua_pushboolean(L, 1);
    return 1;
}

static int l_remove(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    if (unlink(path) < 0 && errno != ENOENT) return fail(L, "remove", path);
    lua_pushboolean(L, 1);
    return 1;
}

static int l_rename(lua_State *L)
{
    const char *from = luaL_checkstring(L, 1), *to = luaL_checkstring(L, 2);
    if (rename(from, to) < 0) return fail(L, "rename", from);
    lua_pushboolean(L, 1);
    return 1;
}

static int l_list(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    DIR *d = opendir(path);
    if (!d) return fail(L, "list", path);
    lua_newtable(L);
    int i = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        lua_pushstring(L, e->d_name);
        lua_rawseti(L, -2, ++i);
    }
    closedir(d);
    return 1;
}

static int l_realpath(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    char buf[PATH_MAX];
    if (!realpath(path, buf)) return fail(L, "realpath", path);
    lua_pushstring(L, buf);
    return 1;
}

static int l_dirname(lua_State *L)
{
    size_t len;
    const char *p = luaL_checklstring(L, 1, &len);
    while (len > 1 && p[len - 1] == '/') len--;
    while (len > 0 && p[len - 1] != '/') len--;
    while (len > 1 && p[len - 1] == '/') len--;
    if (len == 0) lua_pushliteral(L, ".");
    else lua_pushlstring(L, p, len);
    return 1;
}

static int l_basename(lua_State *L)
{
    size_t len;
    const char *p = luaL_checklstring(L, 1, &len);
    while (len > 1 && p[len - 1] == '/') len--;
    size_t start = len;
    while (start > 0 && p[start - 1] != '/') start--;
    lua_pushlstring(L, p + start, len - start);
    return 1;
}

static int l_join(lua_State *L)
{
    int n = lua_gettop(L);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int i = 1; i <= n; i++) {
        size_t len;
        const char *s = luaL_checklstring(L, i, &len);
        /* one separator between parts, whatever each part ends or starts with */
        if (i > 1 && len && s[0] != '/' && luaL_bufflen(&b) > 0 &&
            luaL_buffaddr(&b)[luaL_bufflen(&b) - 1] != '/')
            luaL_addchar(&b, '/');
        luaL_addlstring(&b, s, len);
    }
    luaL_pushresult(&b);
    return 1;
}

/* ---- the instance lock ------------------------------------------------------
 *
 * flock(2) on a file in state_dir, with the holder's pid written in it for
 * people and for `status`.  The kernel drops the lock when its holder dies,
 * however it dies, so a file left by a killed process never blocks; and
 * flock locks belong to the open file description, so a second fs.lock()
 * in the same process is refused like any other. */

#define LOCK_META "host.fs.lock"

typedef struct {
    int fd; /* -1 once released */
} fslock_t;

static int fail2(lua_State *L, const char *what, const char *path)
{
    int e = errno;
    lua_pushnil(L);
    lua_pushfstring(L, "%s %s: %s", what, path, strerror(e));
    return 2;
}

/* The pid a holder wrote, or 0 when there is none to read. */
static long read_pid(int fd)
{
    char buf[32];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0) return 0;
    buf[n] = 0;
    char *end;
    errno = 0;
    long pid = strtol(buf, &end, 10);
    if (errno || end == buf || (*end && *end != '\n') || pid <= 0) return 0;
    return pid;
}

/* fs.lock_holder() probes with a shared lock held for microseconds; a
 * lock attempt that meets such a probe must not report a holder that is
 * not there, so a refused attempt is retried a few times, 2 ms apart
 * (about 20 ms in all, and only when the lock is taken). */
static int take_lock(int fd)
{
    for (int i = 0;; i++) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0) return 0;
        if (errno != EWOULDBLOCK || i == 9) return -1;
        struct timespec ts = {0, 2 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

static void lock_release(fslock_t *lk)
{
    if (lk->fd < 0) return;
    flock(lk->fd, LOCK_UN);
    close(lk->fd);
    lk->fd = -1;
}

/* fs.lock(path) -> lock | nil, "locked", holder_pid | nil, err */
static int l_lock(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    /* Released first: a memory error below leaves no descriptor open. */
    fslock_t *lk = lua_newuserdatauv(L, sizeof *lk, 0);
    lk->fd = -1;
    luaL_setmetatable(L, LOCK_META);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return fail2(L, "lock", path);
    if (take_lock(fd) < 0) {
        int e = errno;
        if (e == EWOULDBLOCK) {
            long pid = read_pid(fd);
            close(fd);
            lua_pushnil(L);
            lua_pushliteral(L, "locked");
            if (pid > 0) lua_pushinteger(L, pid);
            else lua_pushnil(L);
            return 3;
        }
        close(fd);
        errno = e;
        return fail2(L, "lock", path);
    }
    lk->fd = fd;
    /* The pid is for people: a full disk that keeps it from being written
     * must not cost the lock itself (holders then show no pid). */
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) == 0) {
        ssize_t w = pwrite(fd, buf, (size_t)n, 0);
        (void)w;
    }
    return 1;
}

/* fs.lock_holder(path) -> pid | true (held, no pid readable) | nil */
static int l_lock_holder(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) {
            lua_pushnil(L);
            return 1;
        }
        return fail2(L, "open", path);
    }
    /* A separate open file description: refused exactly while a holder
     * (this process included) has the exclusive lock. */
    if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
        flock(fd, LOCK_UN);
        close(fd);
        lua_pushnil(L);
        return 1;
    }
    if (errno != EWOULDBLOCK) {
        int e = errno;
        close(fd);
        errno = e;
        return fail2(L, "lock", path);
    }
    long pid = read_pid(fd);
    close(fd);
    if (pid > 0) lua_pushinteger(L, pid);
    else lua_pushboolean(L, 1);
    return 1;
}

/* lk:unlock(): releases and closes; the file stays.  Idempotent, and
 * shared with __gc and __close. */
static int l_unlock(lua_State *L)
{
    lock_release(luaL_checkudata(L, 1, LOCK_META));
    return 0;
}

static int l_lock_tostring(lua_State *L)
{
    fslock_t *lk = luaL_checkudata(L, 1, LOCK_META);
    lua_pushstring(L, lk->fd >= 0 ? "host.fs.lock (held)" : "host.fs.lock (released)");
    return 1;
}

static void lock_meta(lua_State *L)
{
    static const luaL_Reg metamethods[] = {{"__gc", l_unlock}, {"__close", l_unlock},
                                           {"__tostring", l_lock_tostring}, {"__index", NULL},
                                           {NULL, NULL}};
    static const luaL_Reg methods[] = {{"unlock", l_unlock}, {NULL, NULL}};
    luaL_newmetatable(L, LOCK_META);
    luaL_setfuncs(L, metamethods, 0);
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
}

int luaopen_host_fs(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"stat", l_stat},       {"read", l_read},         {"write_atomic", l_write_atomic},
        {"mkdir_p", l_mkdir_p}, {"remove", l_remove},     {"rename", l_rename},
        {"list", l_list},       {"realpath", l_realpath}, {"dirname", l_dirname},
        {"basename", l_basename}, {"join", l_join},       {"lock", l_lock},
        {"lock_holder", l_lock_holder}, {NULL, NULL}};
    lock_meta(L);
    luaL_newlib(L, fns);
    return 1;
}
