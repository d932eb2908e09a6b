/* test_stage_lua - host.csv, host.stage and lua/inspect.lua under a real
 * Lua state.  The checks live in tests/staging/lua_bindings.lua and report
 * through ok(cond, description); paths are relative to the source tree
 * ($KBSYNCD_SRCDIR, default: the current directory). */
#include <lauxlib.h>
#include <lua-cjson.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>

#include "modules.h"
#include "tap.h"

static int l_ok(lua_State *L)
{
    int cond = lua_toboolean(L, 1);
    const char *what = luaL_optstring(L, 2, "");
    TAP_OK(cond, "%s", what);
    return 0;
}

static void preload(lua_State *L, const char *name, lua_CFunction open)
{
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_pushcfunction(L, open);
    lua_setfield(L, -2, name);
    lua_pop(L, 1);
}

static int traceback(lua_State *L)
{
    luaL_traceback(L, L, lua_tostring(L, 1), 1);
    return 1;
}

int main(void)
{
    const char *root = getenv("KBSYNCD_SRCDIR");
    char path[1024], script[1024];
    lua_State *L = luaL_newstate();

    if (!root) root = ".";
    luaL_openlibs(L);
    preload(L, "host.csv", luaopen_host_csv);
    preload(L, "host.stage", luaopen_host_stage);
#ifndef KBSYNCD_CJSON_MODULE
    preload(L, "cjson", luaopen_cjson);
#endif /* else luaL_openlibs' searchers load cjson.so from Lua's cpath */
    lua_register(L, "ok", l_ok);
    snprintf(path, sizeof path, "%s/lua/?.lua", root);
    lua_getglobal(L, "package");
    lua_pushstring(L, path);
    lua_setfield(L, -2, "path");
    lua_pop(L, 1);
    lua_pushstring(L, root);
    lua_setglobal(L, "SRCDIR");

    snprintf(script, sizeof script, "%s/tests/staging/lua_bindings.lua", root);
    lua_pushcfunction(L, traceback);
    if (luaL_loadfilex(L, script, "t") != LUA_OK || lua_pcall(L, 0, 0, -2) != LUA_OK)
        TAP_OK(0, "lua_bindings.lua ran: %s", lua_tostring(L, -1));
    /* a full collection runs every __gc: stagers left open must close */
    lua_close(L);
    return tap_done();
}
