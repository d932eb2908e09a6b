/* modules.c - the host modules handed to Lua through package.preload
 * (linit.c's recipe): `require "host.http"` works, and no globals are
 * added.  Adding a binding = one line here, one in modules.h, plus its
 * luaopen_ function. */
#include <lauxlib.h>
#include <lua.h>

#include "modules.h"

void host_preload_modules(lua_State *L)
{
    const struct {
        const char *name;
        lua_CFunction open;
    } mods[] = {
        {"host.task", luaopen_host_task},   {"host.timer", luaopen_host_timer},
        {"host.http", luaopen_host_http},   {"host.log", luaopen_host_log},
        {"host.env", luaopen_host_env},     {"host.fs", luaopen_host_fs},
        {"host.csv", luaopen_host_csv},     {"host.stage", luaopen_host_stage},
        {"host.watch", luaopen_host_watch}, {"host.kv", luaopen_host_kv},
#ifndef KBSYNCD_CJSON_MODULE
        {"cjson", luaopen_cjson},           {"cjson.safe", luaopen_cjson_safe},
#endif
    };
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    for (size_t i = 0; i < sizeof mods / sizeof mods[0]; i++) {
        lua_pushcfunction(L, mods[i].open);
        lua_setfield(L, -2, mods[i].name);
    }
    lua_pop(L, 1);
#ifdef KBSYNCD_CJSON_MODULE
    /* The cjson-module build (LuaRocks, Homebrew): cjson.so is loaded at
     * run time by daemon.lua, which allows that one native module.  The
     * runtime empties package.cpath (no native modules), so the path Lua
     * set up (LUA_CPATH_5_4, LUA_CPATH or its built-in default) is kept
     * here, for cjson alone. */
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "cpath");
    lua_setfield(L, -2, "cjson_cpath");
    lua_pop(L, 1);
#endif
}
