/* l_kv.c - host.kv: compact string -> string maps (kvmap.h) for the
 * records an idle daemon keeps per tracked file.
 *
 *   local m = require("host.kv").new()
 *   m:set(key, value)        -- value nil deletes
 *   m:get(key) -> string | nil
 *   m:count(), #m
 *   for key, value in m:pairs() do ... end   -- may delete, not add
 *   m:bytes()                -- memory the map holds
 *   kv.total_bytes()         -- memory all live maps hold
 *
 * Keys and values are Lua strings (numbers are converted); values are
 * copied out on every get, so callers never see the map's buffer. */
#include <lauxlib.h>
#include <lua.h>

#include "kvmap.h"
#include "modules.h"

#define KV_MT "kbsyncd.kv"

/* What all maps hold, for the daemon's memory report: kvmap memory is not
 * seen by the Lua allocator's counter. */
static size_t total_bytes;

static kvmap *check_map(lua_State *L)
{
    kvmap **p = luaL_checkudata(L, 1, KV_MT);
    if (!*p) luaL_error(L, "kv map is closed");
    return *p;
}

static int l_new(lua_State *L)
{
    kvmap **p = lua_newuserdatauv(L, sizeof *p, 0);
    *p = NULL;
    luaL_setmetatable(L, KV_MT);
    *p = kvmap_new();
    if (!*p) return luaL_error(L, "out of memory");
    total_bytes += kvmap_bytes(*p);
    return 1;
}

static int l_set(lua_State *L)
{
    kvmap *m = check_map(L);
    size_t klen, vlen;
    const char *key = luaL_checklstring(L, 2, &klen);
    size_t before = kvmap_bytes(m);
    if (lua_isnoneornil(L, 3)) {
        kvmap_del(m, key, klen);
    } else {
        const char *val = luaL_checklstring(L, 3, &vlen);
        if (kvmap_set(m, key, klen, val, vlen) < 0) {
            return luaL_error(L, "kv: cannot store %d + %d bytes (out of memory)", (int)klen, (int)vlen);
        }
    }
    total_bytes = total_bytes - before + kvmap_bytes(m);
    return 0;
}

static int l_get(lua_State *L)
{
    kvmap *m = check_map(L);
    size_t klen, vlen;
    const char *key = luaL_checklstring(L, 2, &klen), *val;
    if (kvmap_get(m, key, klen, &val, &vlen)) lua_pushlstring(L, val, vlen);
    else lua_pushnil(L);
    return 1;
}

static int l_count(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)kvmap_count(check_map(L)));
    return 1;
}

static int l_bytes(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)kvmap_bytes(check_map(L)));
    return 1;
}

/* Upvalues: the map, the cursor. */
static int pairs_step(lua_State *L)
{
    kvmap **p = lua_touserdata(L, lua_upvalueindex(1));
    if (!*p) return 0;
    size_t cursor = (size_t)lua_tointeger(L, lua_upvalueindex(2));
    const char *key, *val;
    size_t klen, vlen;
    cursor = kvmap_next(*p, cursor, &key, &klen, &val, &vlen);
    if (!cursor) return 0;
    lua_pushinteger(L, (lua_Integer)cursor);
    lua_replace(L, lua_upvalueindex(2));
    lua_pushlstring(L, key, klen);
    lua_pushlstring(L, val, vlen);
    return 2;
}

static int l_pairs(lua_State *L)
{
    check_map(L);
    lua_settop(L, 1);
    lua_pushinteger(L, 0);
    lua_pushcclosure(L, pairs_step, 2);
    return 1;
}

static int l_gc(lua_State *L)
{
    kvmap **p = luaL_checkudata(L, 1, KV_MT);
    if (*p) {
        total_bytes -= kvmap_bytes(*p);
        kvmap_free(*p);
        *p = NULL;
    }
    return 0;
}

static int l_total_bytes(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)total_bytes);
    return 1;
}

int luaopen_host_kv(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"set", l_set},     {"get", l_get},     {"count", l_count},
        {"pairs", l_pairs}, {"bytes", l_bytes}, {NULL, NULL},
    };
    if (luaL_newmetatable(L, KV_MT)) {
        luaL_newlib(L, methods);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, l_count);
        lua_setfield(L, -2, "__len");
        lua_pushcfunction(L, l_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);
    static const luaL_Reg funcs[] = {{"new", l_new}, {"total_bytes", l_total_bytes}, {NULL, NULL}};
    luaL_newlib(L, funcs);
    return 1;
}
