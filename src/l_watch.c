/* l_watch.c - host.watch: scan (non-yielding) and watchers whose wait()
 * yields the calling task until events are pending.
 *
 * A thin binding over scan.h and watch.h.  The watcher userdata follows
 * liolib's file handles: created closed, then given its watcher; one
 * idempotent close serves __gc, __close and :close().
 *
 * wait() follows task.h: it remembers the task, arms an optional timeout
 * and yields.  The watcher's notify callback and the timeout run inside
 * loop callbacks, so they only task_wake(); the events are taken from the
 * pending set just before the task resumes (push_events), so whatever
 * arrived in between is included.  The suspended wait() frame keeps the
 * userdata referenced, so it cannot be collected while a task waits. */
#include <lauxlib.h>
#include <string.h>

#include "modules.h"
#include "runtime.h"
#include "scan.h"
#include "task.h"
#include "watch.h"

#define WATCHER_META "host.watch.watcher"

typedef struct lwatch {
    watch_t *w;         /* NULL once closed */
    loop_t *loop;       /* the loop w runs on (its runtime's) */
    task_t *waiter;     /* the task suspended in wait(), if any */
    loop_timer_t *timer; /* its timeout, if any */
} lwatch_t;

/* ---- scan ----------------------------------------------------------------- */

static void push_entry(lua_State *L, const scan_entry_t *e)
{
    lua_createtable(L, 0, 6);
    lua_pushstring(L, scan_type_name(e->type));
    lua_setfield(L, -2, "type");
    lua_pushinteger(L, (lua_Integer)e->size);
    lua_setfield(L, -2, "size");
    lua_pushinteger(L, (lua_Integer)e->mtime_ns);
    lua_setfield(L, -2, "mtime_ns");
    lua_pushinteger(L, (lua_Integer)e->ino);
    lua_setfield(L, -2, "ino");
    lua_pushinteger(L, (lua_Integer)e->dev);
    lua_setfield(L, -2, "dev");
    /* Permission bits only, as host.fs.stat: the type has its own field. */
    lua_pushinteger(L, (lua_Integer)(e->mode & 07777));
    lua_setfield(L, -2, "mode");
}

/* { [name] = entry, ... } */
static void push_entries(lua_State *L, const scan_list_t *l)
{
    lua_createtable(L, 0, (int)l->count);
    for (size_t i = 0; i < l->count; i++) {
        lua_pushlstring(L, l->entries[i].name, l->entries[i].name_len);
        push_entry(L, &l->entries[i]);
        lua_rawset(L, -3);
    }
}

static int push_failure(lua_State *L, const char *what, const char *path, int err)
{
    lua_pushnil(L);
    lua_pushfstring(L, "%s %s: %s", what, path, strerror(err));
    lua_pushinteger(L, err);
    return 3;
}

static int scan_result_gc(lua_State *L)
{
    scan_result_free(lua_touserdata(L, 1));
    return 0;
}

static int scan_list_gc(lua_State *L)
{
    scan_list_free(lua_touserdata(L, 1));
    return 0;
}

/* A zeroed userdata that frees what the C scanner allocated when it is
 * collected, so a Lua error while building the result leaks nothing. */
static void *new_holder(lua_State *L, size_t size, const char *meta, lua_CFunction gc)
{
    void *p = lua_newuserdatauv(L, size, 0);
    memset(p, 0, size);
    if (luaL_newmetatable(L, meta)) {
        lua_pushcfunction(L, gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    return p;
}

/* host.watch.scan(root) -> { folders = {...}, root_files = {...} }
 *                          | nil, err, errno (the root itself failed) */
static int l_scan(lua_State *L)
{
    const char *root = luaL_checkstring(L, 1);
    scan_result_t *r = new_holder(L, sizeof *r, "host.watch.scan_result", scan_result_gc);
    int err = scan_root(root, r);
    if (err) return push_failure(L, "cannot scan", root, err);

    lua_createtable(L, 0, 2);
    lua_createtable(L, 0, (int)r->folder_count);
    for (size_t i = 0; i < r->folder_count; i++) {
        const scan_list_t *f = &r->folders[i];
        lua_pushlstring(L, f->dir_name, f->dir_name_len);
        lua_createtable(L, 0, 3);
        push_entries(L, f);
        lua_setfield(L, -2, "entries");
        if (f->err) {
            lua_pushfstring(L, "cannot list %s/%s: %s", root, f->dir_name,
                            strerror(f->err));
            lua_setfield(L, -2, "error");
            lua_pushinteger(L, f->err);
            lua_setfield(L, -2, "errno");
        }
        lua_rawset(L, -3);
    }
    lua_setfield(L, -2, "folders");
    push_entries(L, &r->root_others);
    lua_setfield(L, -2, "root_files");
    scan_result_free(r); /* early; the holder's __gc then finds it empty */
    return 1;
}

/* host.watch.scan_folder(root, folder) -> entries | nil, err, errno */
static int l_scan_folder(lua_State *L)
{
    const char *root = luaL_checkstring(L, 1);
    size_t len;
    const char *folder = luaL_checklstring(L, 2, &len);
    luaL_argcheck(L, len == 0 || scan_name_is_component(folder, len), 2,
                  "a folder name: one path component, not . or ..");
    scan_list_t *l = new_holder(L, sizeof *l, "host.watch.scan_list", scan_list_gc);
    int err = scan_folder(root, folder, len, l);
    if (err) {
        lua_pushfstring(L, "%s%s%s", root, len ? "/" : "", folder);
        return push_failure(L, "cannot list", lua_tostring(L, -1), err);
    }
    push_entries(L, l);
    scan_list_free(l);
    return 1;
}

/* ---- the watcher ---------------------------------------------------------- */

static lwatch_t *check_watcher(lua_State *L)
{
    return luaL_checkudata(L, 1, WATCHER_META);
}

static lwatch_t *check_open(lua_State *L)
{
    lwatch_t *lw = check_watcher(L);
    if (!lw->w) luaL_error(L, "attempt to use a closed watcher");
    return lw;
}

/* Pushes the pending events as an array (empty when none).  Runs either
 * inside wait() or on the suspended coroutine just before it resumes; in
 * both cases it is on wait()'s C frame, which Lua gave LUA_MINSTACK slots
 * and which uses three, so the four pushed here fit without a check. */
static int push_events(lua_State *co, void *ud)
{
    lwatch_t *lw = ud;
    if (!lw->w) {
        lua_pushnil(co);
        lua_pushliteral(co, "watcher closed while waiting");
        return 2;
    }
    watch_event_t *ev = NULL;
    long n = watch_take(lw->w, &ev);
    if (n < 0) {
        /* Nothing was taken; say so as an overflow: rescanning is always
         * a correct answer to "something may have changed". */
        lua_createtable(co, 1, 0);
        lua_createtable(co, 0, 1);
        lua_pushliteral(co, "overflow");
        lua_setfield(co, -2, "type");
        lua_rawseti(co, -2, 1);
        return 1;
    }
    lua_createtable(co, (int)n, 0);
    for (long i = 0; i < n; i++) {
        const watch_event_t *e = &ev[i];
        lua_createtable(co, 0, 3);
        lua_pushstring(co, e->type == WATCH_EV_DIRTY      ? "dirty"
                           : e->type == WATCH_EV_OVERFLOW ? "overflow"
                                                          : "limit");
        lua_setfield(co, -2, "type");
        if (e->folder) {
            lua_pushlstring(co, e->folder, e->folder_len);
            lua_setfield(co, -2, "folder");
        }
        if (e->message) {
            lua_pushstring(co, e->message);
            lua_setfield(co, -2, "message");
        }
        lua_rawseti(co, -2, (lua_Integer)i + 1);
    }
    watch_events_free(ev, (size_t)n);
    return 1;
}

/* Ends a wait: the task will be resumed by the loop with `push`. */
static void end_wait(lwatch_t *lw, task_push_fn push)
{
    task_t *t = lw->waiter;
    lw->waiter = NULL;
    if (lw->timer) {
        loop_timer_stop(lw->loop, lw->timer);
        lw->timer = NULL;
    }
    if (t) task_wake(t, push, lw);
}

static void on_pending(watch_t *w, void *data)
{
    lwatch_t *lw = data;
    if (lw->waiter) end_wait(lw, push_events);
}

static void on_timeout(loop_t *l, loop_timer_t *t, void *data)
{
    lwatch_t *lw = data;
    lw->timer = NULL; /* one-shot: the loop frees it */
    end_wait(lw, push_events);
}

/* The task is aborted while waiting: forget it; events stay pending. */
static void cancel_wait(void *ud)
{
    lwatch_t *lw = ud;
    lw->waiter = NULL;
    if (lw->timer) {
        loop_timer_stop(lw->loop, lw->timer);
        lw->timer = NULL;
    }
}

static int push_closed(lua_State *co, void *ud)
{
    (void)ud;
    lua_pushnil(co);
    lua_pushliteral(co, "watcher closed while waiting");
    return 2;
}

static void watcher_close(lwatch_t *lw)
{
    if (!lw->w) return;
    if (lw->waiter) end_wait(lw, push_closed);
    watch_close(lw->w);
    lw->w = NULL;
}

static const char *const backend_names[] = {"auto", "inotify", "poll", NULL};
static const watch_backend_t backend_values[] = {WATCH_AUTO, WATCH_INOTIFY, WATCH_POLL};

/* Unknown keys are refused: a typo must not silently mean "default". */
static void check_open_keys(lua_State *L)
{
    lua_pushnil(L);
    while (lua_next(L, 1)) {
        lua_pop(L, 1);
        const char *k = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
        if (!k || (strcmp(k, "root") && strcmp(k, "backend") && strcmp(k, "interval_ms")))
            luaL_error(L, "host.watch.open: unknown option %s (allowed: root, "
                          "backend, interval_ms)",
                       k ? k : luaL_typename(L, -1));
    }
}

/* host.watch.open{root=, backend=, interval_ms=} -> watcher | nil, err */
static int l_open(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    check_open_keys(L);
    lua_getfield(L, 1, "root");
    const char *root = lua_tostring(L, -1);
    luaL_argcheck(L, root != NULL, 1, "root (a path) is required");
    lua_getfield(L, 1, "backend");
    int b = luaL_checkoption(L, -1, "auto", backend_names);
    lua_getfield(L, 1, "interval_ms");
    lua_Integer interval = luaL_optinteger(L, -1, WATCH_DEFAULT_INTERVAL_MS);
    luaL_argcheck(L, interval > 0 && interval <= 86400000, 1,
                  "interval_ms must be between 1 and 86400000");

    /* Closed first: a memory error below leaves nothing half-open. */
    lwatch_t *lw = lua_newuserdatauv(L, sizeof *lw, 0);
    memset(lw, 0, sizeof *lw);
    luaL_setmetatable(L, WATCHER_META);

    watch_options_t o = {.root = root, .backend = backend_values[b],
                         .interval_ms = (uint32_t)interval};
    char err[256];
    lw->loop = runtime_loop(runtime_of(L));
    lw->w = watch_open(lw->loop, &o, err, sizeof err);
    if (!lw->w) {
        lua_pushnil(L);
        lua_pushstring(L, err);
        return 2;
    }
    watch_set_notify(lw->w, on_pending, lw);
    return 1;
}

/* w:wait([timeout_ms]) -> events (yields until some are pending) */
static int l_wait(lua_State *L)
{
    lwatch_t *lw = check_open(L);
    lua_Integer timeout = luaL_optinteger(L, 2, -1);
    luaL_argcheck(L, lua_isnoneornil(L, 2) || timeout >= 0, 2,
                  "timeout_ms must be >= 0 (nil: wait without limit)");
    task_t *t = task_check(L);
    if (lw->waiter)
        return luaL_error(L, "another task is already waiting on this watcher");
    if (watch_has_pending(lw->w) || timeout == 0) return push_events(L, lw);
    if (timeout > 0) {
        lw->timer = loop_timer_start(lw->loop, (uint64_t)timeout, 0, on_timeout, lw);
        if (!lw->timer) return luaL_error(L, "out of memory");
    }
    lw->waiter = t;
    task_set_cancel(t, cancel_wait, lw);
    return task_suspend(L);
}

static int l_backend(lua_State *L)
{
    lua_pushstring(L, watch_backend_name(check_open(L)->w));
    return 1;
}

static int l_stats(lua_State *L)
{
    watch_stats_t st;
    watch_get_stats(check_open(L)->w, &st);
    lua_createtable(L, 0, 3);
    lua_pushinteger(L, (lua_Integer)st.overflows);
    lua_setfield(L, -2, "overflows");
    lua_pushinteger(L, (lua_Integer)st.watches);
    lua_setfield(L, -2, "watches");
    lua_pushinteger(L, (lua_Integer)st.polled_folders);
    lua_setfield(L, -2, "polled_folders");
    return 1;
}

static int l_inject_overflow(lua_State *L)
{
    watch_inject_overflow(check_open(L)->w);
    return 0;
}

static int l_close(lua_State *L)
{
    watcher_close(check_watcher(L));
    return 0;
}

static int l_tostring(lua_State *L)
{
    lwatch_t *lw = check_watcher(L);
    if (lw->w)
        lua_pushfstring(L, "host.watch watcher (%s, %s)", watch_root(lw->w),
                        watch_backend_name(lw->w));
    else
        lua_pushliteral(L, "host.watch watcher (closed)");
    return 1;
}

int luaopen_host_watch(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"wait", l_wait},   {"backend", l_backend},
        {"stats", l_stats}, {"inject_overflow", l_inject_overflow},
        {"close", l_close}, {NULL, NULL}};
    static const luaL_Reg metamethods[] = {
        {"__gc", l_close}, {"__close", l_close}, {"__tostring", l_tostring},
        {"__index", NULL}, {NULL, NULL}};
    static const luaL_Reg functions[] = {
        {"scan", l_scan}, {"scan_folder", l_scan_folder}, {"open", l_open},
        {NULL, NULL}};

    if (luaL_newmetatable(L, WATCHER_META)) {
        luaL_setfuncs(L, metamethods, 0);
        luaL_newlib(L, methods);
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);
    luaL_newlib(L, functions);
    return 1;
}
