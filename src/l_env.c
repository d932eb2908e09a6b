/* l_env.c - host.env: the process environment and .env files. */
#include <errno.h>
#include <lauxlib.h>
#include <lua.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "env.h"
#include "modules.h"

static int l_get(lua_State *L)
{
    const char *v = getenv(luaL_checkstring(L, 1));
    if (v) lua_pushstring(L, v);
    else lua_pushnil(L);
    return 1;
}

static int set_pair(const char *key, const char *value, void *ud)
{
    lua_State *L = ud;
    lua_pushstring(L, value);
    lua_setfield(L, -2, key);
    return 0;
}

static int l_parse_file(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    char err[512];
    lua_newtable(L);
    if (env_parse_file(path, set_pair, L, err, sizeof err) < 0) {
        lua_pushnil(L);
        lua_pushstring(L, err);
        return 2;
    }
    return 1;
}

static int l_file_mode(lua_State *L)
{
    struct stat st;
    if (stat(luaL_checkstring(L, 1), &st) < 0) {
        lua_pushnil(L);
        lua_pushstring(L, strerror(errno));
        return 2;
    }
    lua_pushinteger(L, st.st_mode & 07777);
    return 1;
}

int luaopen_host_env(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"get", l_get}, {"parse_file", l_parse_file}, {"file_mode", l_file_mode}, {NULL, NULL}};
    luaL_newlib(L, fns);
    return 1;
}
