/* l_log.c - host.log: structured log lines from Lua (log.h does the work). */
#include <lauxlib.h>
#include <lua.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "modules.h"

/* Fields that identify what a line is about print first, in this order;
 * the rest follow sorted, so the same event always reads the same way. */
static const char *const leading_keys[] = {"table", "file", "folder", "bucket", NULL};

static int leading_rank(const char *k)
{
    for (int i = 0; leading_keys[i]; i++)
        if (strcmp(k, leading_keys[i]) == 0) return i;
    return 100;
}

static int field_cmp(const void *a, const void *b)
{
    const log_field_t *x = a, *y = b;
    int rx = leading_rank(x->key), ry = leading_rank(y->key);
    if (rx != ry) return rx - ry;
    return strcmp(x->key, y->key);
}

#define MAX_FIELDS 32

static int emit(lua_State *L, enum log_level level)
{
    const char *event = luaL_checkstring(L, 1);
    if (!log_enabled(level)) return 0;
    log_field_t fields[MAX_FIELDS];
    size_t n = 0;
    if (lua_istable(L, 2)) {
        /* String forms are anchored in a scratch table until the line is
         * written; keys are strings held by the caller's table. */
        lua_newtable(L);
        int scratch = lua_gettop(L);
        lua_pushnil(L);
        while (lua_next(L, 2)) {
            if (lua_type(L, -2) == LUA_TSTRING && n < MAX_FIELDS) {
                int t = lua_type(L, -1);
                luaL_tolstring(L, -1, NULL);
                lua_rawseti(L, scratch, (lua_Integer)n + 1);
                lua_rawgeti(L, scratch, (lua_Integer)n + 1);
                fields[n].value = lua_tostring(L, -1);
                lua_pop(L, 1);
                fields[n].key = lua_tostring(L, -2);
                fields[n].is_number = t == LUA_TNUMBER || t == LUA_TBOOLEAN;
                n++;
            }
            lua_pop(L, 1);
        }
    }
    qsort(fields, n, sizeof fields[0], field_cmp);
    log_emit(level, event, fields, n);
    return 0;
}

static int l_error(lua_State *L) { return emit(L, LOG_ERROR); }
static int l_warn(lua_State *L) { return emit(L, LOG_WARN); }
static int l_info(lua_State *L) { return emit(L, LOG_INFO); }
static int l_debug(lua_State *L) { return emit(L, LOG_DEBUG); }
static int l_trace(lua_State *L) { return emit(L, LOG_TRACE); }

static int l_enabled(lua_State *L)
{
    enum log_level lv;
    if (log_level_parse(luaL_checkstring(L, 1), &lv) < 0) return luaL_argerror(L, 1, "unknown level");
    lua_pushboolean(L, log_enabled(lv));
    return 1;
}

static int l_redact(lua_State *L)
{
    log_redact(luaL_checkstring(L, 1));
    return 0;
}

/* configure{file=, level=, format=, max_bytes=, keep=, stderr=} */
static int l_configure(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    log_config_t c = {0};
    lua_getfield(L, 1, "file");
    c.file = lua_tostring(L, -1);
    lua_getfield(L, 1, "level");
    const char *lv = luaL_optstring(L, -1, "info");
    if (log_level_parse(lv, &c.level) < 0) return luaL_error(L, "unknown log level '%s'", lv);
    lua_getfield(L, 1, "format");
    const char *fmt = luaL_optstring(L, -1, "text");
    c.format = strcmp(fmt, "json") == 0 ? LOG_JSON : LOG_TEXT;
    lua_getfield(L, 1, "max_bytes");
    c.max_bytes = (uint64_t)luaL_optinteger(L, -1, 100 * 1024 * 1024);
    lua_getfield(L, 1, "keep");
    c.keep = (int)luaL_optinteger(L, -1, 5);
    lua_getfield(L, 1, "stderr");
    c.to_stderr = lua_toboolean(L, -1);
    char err[512];
    if (log_configure(&c, err, sizeof err) < 0) {
        lua_pushnil(L);
        lua_pushstring(L, err);
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

int luaopen_host_log(lua_State *L)
{
    static const luaL_Reg fns[] = {{"error", l_error},       {"warn", l_warn},
                                   {"info", l_info},         {"debug", l_debug},
                                   {"trace", l_trace},       {"enabled", l_enabled},
                                   {"redact", l_redact},     {"configure", l_configure},
                                   {NULL, NULL}};
    luaL_newlib(L, fns);
    return 1;
}
