/* l_task.c - host.task: spawn and yield tasks, events to wait on, the
 * runtime's figures.  The machinery behind it (tasks, the runtime,
 * resuming) is task.c; this file only speaks Lua.  See docs/lua-api.md.
 *
 * An event is a condition variable for tasks: ev:wait() suspends the task
 * (task.h's pattern, as timer.sleep), ev:notify() wakes every task waiting
 * at that moment and is never remembered.  A wait's record belongs to the
 * event's list until it ends, and is freed the moment it ends (notify,
 * timeout or the task's cancellation), so a runtime freed at any point
 * leaves no timer and no memory behind. */
#include <lauxlib.h>
#include <lua.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdlib.h>

#include "host.h"
#include "modules.h"
#include "runtime.h"
#include "task.h"

static int l_spawn(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TFUNCTION);
    task_t *t = task_spawn(runtime_of(L), L, lua_gettop(L) - 1);
    if (!t) return luaL_error(L, "out of memory");
    lua_pushinteger(L, (lua_Integer)task_id(t));
    return 1;
}

/* Lets every other ready task run, then goes on in a later loop turn. */
static int l_yield(lua_State *L)
{
    task_wake(task_check(L), NULL, NULL);
    return task_suspend(L);
}

static int l_id(lua_State *L)
{
    task_t *t = task_current(L);
    if (t) lua_pushinteger(L, (lua_Integer)task_id(t));
    else lua_pushnil(L);
    return 1;
}

static int l_count(lua_State *L)
{
    lua_pushinteger(L, runtime_task_count(runtime_of(L)));
    return 1;
}

static int l_runtime(lua_State *L)
{
    runtime_t *rt = runtime_of(L);
    lua_createtable(L, 0, 3);
    lua_pushinteger(L, (lua_Integer)runtime_memory(rt));
    lua_setfield(L, -2, "memory");
    lua_pushinteger(L, runtime_task_count(rt));
    lua_setfield(L, -2, "tasks");
    lua_pushinteger(L, (lua_Integer)loop_wakeups(runtime_loop(rt)));
    lua_setfield(L, -2, "wakeups");
    return 1;
}

/* A full collection, then hand freed heap pages back to the OS: an idle
 * daemon allocates nothing, so without this the garbage of its last burst
 * of work (a reconcile, a big state file) would stay resident for good. */
static int l_release_memory(lua_State *L)
{
    lua_gc(L, LUA_GCCOLLECT);
#ifdef __GLIBC__
    malloc_trim(0);
#endif
    lua_pushinteger(L, (lua_Integer)runtime_memory(runtime_of(L)));
    return 1;
}

static int l_slice_limit(lua_State *L)
{
    runtime_t *rt = runtime_of(L);
    lua_Integer old = (lua_Integer)runtime_slice_limit(rt);
    if (!lua_isnoneornil(L, 1)) runtime_set_slice_limit(rt, (uint64_t)luaL_checkinteger(L, 1));
    lua_pushinteger(L, old);
    return 1;
}

/* ---- events ------------------------------------------------------------- */

#define EVENT_META "host.task.event"

typedef struct waiter waiter_t;

typedef struct event {
    waiter_t *head, *tail; /* waiting tasks, oldest first */
    int count;
} event_t;

struct waiter {
    event_t *ev;         /* NULL once off the list */
    task_t *task;
    loop_t *loop;
    loop_timer_t *timer; /* the timeout, if any */
    waiter_t *prev, *next;
};

static void unlink_waiter(waiter_t *w)
{
    event_t *ev = w->ev;
    if (!ev) return;
    if (w->prev) w->prev->next = w->next;
    else ev->head = w->next;
    if (w->next) w->next->prev = w->prev;
    else ev->tail = w->prev;
    ev->count--;
    w->ev = NULL;
    w->prev = w->next = NULL;
}

/* Off the list, timer stopped, record freed: the wait is over. */
static void waiter_free(waiter_t *w)
{
    unlink_waiter(w);
    if (w->timer) loop_timer_stop(w->loop, w->timer);
    free(w);
}

static int push_true(lua_State *co, void *ud)
{
    (void)ud;
    lua_pushboolean(co, 1);
    return 1;
}

static int push_false(lua_State *co, void *ud)
{
    (void)ud;
    lua_pushboolean(co, 0);
    return 1;
}

static void on_timeout(loop_t *l, loop_timer_t *timer, void *data)
{
    (void)l; (void)timer;
    waiter_t *w = data;
    task_t *t = w->task;
    w->timer = NULL; /* one-shot: the loop frees it */
    waiter_free(w);
    task_wake(t, push_false, NULL);
}

/* The task is freed while waiting (reload, shutdown). */
static void cancel_wait(void *ud) { waiter_free(ud); }

static event_t *check_event(lua_State *L) { return luaL_checkudata(L, 1, EVENT_META); }

/* task.event() -> ev */
static int l_event(lua_State *L)
{
    event_t *ev = lua_newuserdatauv(L, sizeof *ev, 0);
    ev->head = ev->tail = NULL;
    ev->count = 0;
    luaL_setmetatable(L, EVENT_META);
    return 1;
}

/* ev:wait([timeout_ms]) -> true (notified) | false (timed out); yields. */
static int l_event_wait(lua_State *L)
{
    event_t *ev = check_event(L);
    int limited = !lua_isnoneornil(L, 2);
    lua_Integer timeout = limited ? luaL_checkinteger(L, 2) : 0;
    luaL_argcheck(L, timeout >= 0, 2, "timeout_ms must be >= 0 (nil: wait without limit)");
    task_t *t = task_check(L);
    waiter_t *w = calloc(1, sizeof *w);
    if (!w) return luaL_error(L, "out of memory");
    w->task = t;
    w->loop = runtime_loop(runtime_of(L));
    if (limited) {
        w->timer = loop_timer_start(w->loop, (uint64_t)timeout, 0, on_timeout, w);
        if (!w->timer) {
            free(w);
            return luaL_error(L, "out of memory");
        }
    }
    w->ev = ev;
    w->prev = ev->tail;
    if (ev->tail) ev->tail->next = w;
    else ev->head = w;
    ev->tail = w;
    ev->count++;
    task_set_cancel(t, cancel_wait, w);
    /* The suspended frame keeps ev referenced: it outlives its waiters. */
    return task_suspend(L);
}

/* ev:notify(): wakes, oldest first, every task waiting now; never yields,
 * so any code may call it (a signal hook run through runtime_call too). */
static int l_event_notify(lua_State *L)
{
    event_t *ev = check_event(L);
    while (ev->head) {
        waiter_t *w = ev->head;
        task_t *t = w->task;
        waiter_free(w);
        task_wake(t, push_true, NULL); /* queued in order: FIFO resumes */
    }
    return 0;
}

static int l_event_waiting(lua_State *L)
{
    lua_pushinteger(L, check_event(L)->count);
    return 1;
}

/* Waiters keep their event alive, so none is left when it is collected;
 * should one be, it is detached rather than left pointing at freed memory
 * (it still ends by its timeout or its task's cancellation). */
static int l_event_gc(lua_State *L)
{
    event_t *ev = check_event(L);
    while (ev->head) unlink_waiter(ev->head);
    return 0;
}

static int l_event_tostring(lua_State *L)
{
    lua_pushfstring(L, "host.task.event (%d waiting)", check_event(L)->count);
    return 1;
}

static void event_meta(lua_State *L)
{
    static const luaL_Reg methods[] = {{"wait", l_event_wait}, {"notify", l_event_notify},
                                       {"waiting", l_event_waiting}, {NULL, NULL}};
    static const luaL_Reg metamethods[] = {{"__gc", l_event_gc}, {"__tostring", l_event_tostring},
                                           {"__index", NULL}, {NULL, NULL}};
    luaL_newmetatable(L, EVENT_META);
    luaL_setfuncs(L, metamethods, 0);
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
}

/* ---- the module ---------------------------------------------------------- */

int luaopen_host_task(lua_State *L)
{
    static const luaL_Reg fns[] = {{"spawn", l_spawn}, {"yield", l_yield}, {"id", l_id},
                                   {"count", l_count}, {"runtime", l_runtime},
                                   {"slice_limit", l_slice_limit},
                                   {"release_memory", l_release_memory},
                                   {"event", l_event}, {NULL, NULL}};
    event_meta(L);
    luaL_newlib(L, fns);
#ifdef KBSYNCD_VERSION
    lua_pushstring(L, KBSYNCD_VERSION);
#else
    lua_pushstring(L, "0.0.0");
#endif
    lua_setfield(L, -2, "version");
    lua_pushinteger(L, HOST_API_VERSION);
    lua_setfield(L, -2, "api_version");
    return 1;
}
