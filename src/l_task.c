/* l_task.c - host.task: spawn and yield tasks, the runtime's figures.
 * The machinery behind it (tasks, the runtime, resuming) is task.c; this
 * file only speaks Lua.  See docs/lua-api.md. */
#include <lauxlib.h>
#include <lua.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

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

int luaopen_host_task(lua_State *L)
{
    static const luaL_Reg fns[] = {{"spawn", l_spawn}, {"yield", l_yield}, {"id", l_id},
                                   {"count", l_count}, {"runtime", l_runtime},
                                   {"slice_limit", l_slice_limit},
                                   {"release_memory", l_release_memory}, {NULL, NULL}};
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
