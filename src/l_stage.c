/* l_stage.c - host.stage: the incremental stager (stage.h) as a userdata.
 *
 *   local s = host.stage.open{src = path, spool = path_or_nil, ...}
 *   repeat local done, err = s:step(8 << 20) ... host.task.yield() until done
 *   local r = s:result(); s:close()
 *
 * No function here yields: the caller yields between steps, so a gigabyte
 * is staged a few megabytes per loop turn.  The userdata is created closed
 * before the stager is opened and __gc, __close and close() share one
 * idempotent close, so an error anywhere leaves no file descriptor or
 * half-written spool behind. */
#include <lauxlib.h>
#include <string.h>

#include "l_csv.h"
#include "modules.h"
#include "stage.h"

#define STAGER_MT "kbsyncd.stager"

typedef struct l_stager {
    stage_t *st; /* NULL: closed */
    stage_status status;
} l_stager;

static l_stager *check_stager(lua_State *L)
{
    l_stager *s = luaL_checkudata(L, 1, STAGER_MT);
    if (!s->st) luaL_error(L, "stager is closed");
    return s;
}

static int stager_close(lua_State *L)
{
    l_stager *s = luaL_checkudata(L, 1, STAGER_MT);
    stage_close(s->st); /* removes an unfinished spool */
    s->st = NULL;
    return 0;
}

static void set_u64(lua_State *L, const char *key, uint64_t v)
{
    lua_pushinteger(L, (lua_Integer)v);
    lua_setfield(L, -2, key);
}

/* {code, message[, line, column, offset]} */
static void push_stage_error(lua_State *L, const stage_error *e)
{
    l_csv_push_error(L, e->code ? e->code : "io", e->message);
    if (e->line) set_u64(L, "line", e->line);
    if (e->column) set_u64(L, "column", e->column);
    if (e->offset || (e->code && !strcmp(e->code, "utf8")))
        set_u64(L, "offset", e->offset);
}

static const char *opt_string(lua_State *L, const char *key)
{
    const char *v = NULL;
    lua_getfield(L, 1, key);
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "host.stage.open: '%s' must be a string", key);
        v = lua_tostring(L, -1); /* kept alive by the options table */
    }
    lua_pop(L, 1);
    return v;
}

static lua_Integer opt_integer(lua_State *L, const char *key, lua_Integer dflt)
{
    lua_Integer v = dflt;
    lua_getfield(L, 1, key);
    if (!lua_isnil(L, -1)) {
        int ok;
        v = lua_tointegerx(L, -1, &ok);
        if (!ok || v < 0)
            luaL_error(L, "host.stage.open: '%s' must be a non-negative integer", key);
    }
    lua_pop(L, 1);
    return v;
}

/* repair = {names = bool, short_rows = "refuse"|"pad",
 *           long_rows = "refuse"|"last_column", preamble = bool,
 *           no_header = bool} (config.lua validated it; misuse raises) */
static void opt_repair(lua_State *L, stage_repair_opts *r)
{
    static const char *const keys[] = {"names", "short_rows", "long_rows",
                                       "preamble", "no_header", NULL};
    lua_getfield(L, 1, "repair");
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return;
    }
    if (!lua_istable(L, -1))
        luaL_error(L, "host.stage.open: 'repair' must be a table");
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        int known = 0;
        lua_pop(L, 1);
        for (int i = 0; keys[i]; i++)
            if (lua_type(L, -1) == LUA_TSTRING && !strcmp(lua_tostring(L, -1), keys[i]))
                known = 1;
        if (!known)
            luaL_error(L, "host.stage.open: unknown repair '%s'", luaL_tolstring(L, -1, NULL));
    }
    lua_getfield(L, -1, "names");
    r->names = lua_toboolean(L, -1);
    lua_getfield(L, -2, "preamble");
    r->preamble = lua_toboolean(L, -1);
    lua_getfield(L, -3, "no_header");
    r->no_header = lua_toboolean(L, -1);
    lua_pop(L, 3);
    lua_getfield(L, -1, "short_rows");
    const char *v = lua_tostring(L, -1);
    if (v && strcmp(v, "pad") && strcmp(v, "refuse"))
        luaL_error(L, "host.stage.open: repair.short_rows must be \"pad\" or \"refuse\"");
    r->pad_short = v && !strcmp(v, "pad");
    lua_getfield(L, -2, "long_rows");
    v = lua_tostring(L, -1);
    if (v && strcmp(v, "last_column") && strcmp(v, "refuse"))
        luaL_error(L, "host.stage.open: repair.long_rows must be \"last_column\" or \"refuse\"");
    r->join_long = v && !strcmp(v, "last_column");
    lua_pop(L, 3);
}

/* host.stage.open{src=, spool=, gzip_threshold=, gzip_level=, header=,
 *                 sample_bytes=, delimiters=, repair=} -> stager | nil, err */
static int l_open(lua_State *L)
{
    stage_opts o;
    l_stager *s;

    luaL_checktype(L, 1, LUA_TTABLE);
    memset(&o, 0, sizeof o);
    o.src = opt_string(L, "src");
    if (!o.src) return luaL_error(L, "host.stage.open: 'src' is required");
    o.spool = opt_string(L, "spool");
    o.delimiters = opt_string(L, "delimiters");
    opt_repair(L, &o.repair);
    o.gzip_threshold = (uint64_t)opt_integer(L, "gzip_threshold", 0);
    o.gzip_level = (int)opt_integer(L, "gzip_level", 0);
    if (o.gzip_level > 9)
        return luaL_error(L, "host.stage.open: 'gzip_level' must be 1..9");
    o.sample_bytes = (size_t)opt_integer(L, "sample_bytes", 0);
    if (o.sample_bytes > STAGE_MAX_SAMPLE)
        return luaL_error(L, "host.stage.open: 'sample_bytes' is over %d",
                          (int)STAGE_MAX_SAMPLE);

    lua_getfield(L, 1, "header"); /* stays at index 2 */
    if (!lua_isnil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        size_t n = (size_t)luaL_len(L, 2);
        /* a userdata, so a Lua error below frees it */
        const char **names = lua_newuserdatauv(L, (n ? n : 1) * sizeof *names, 0);
        for (size_t i = 0; i < n; i++) {
            lua_rawgeti(L, 2, (lua_Integer)i + 1);
            if (lua_type(L, -1) != LUA_TSTRING)
                return luaL_error(L, "host.stage.open: header[%d] must be a string",
                                  (int)i + 1);
            names[i] = lua_tostring(L, -1); /* anchored by the header table */
            lua_pop(L, 1);
        }
        o.header = names;
        o.header_count = n;
    }

    s = lua_newuserdatauv(L, sizeof *s, 0);
    s->st = NULL; /* closed until the stager exists */
    s->status = STAGE_MORE;
    luaL_setmetatable(L, STAGER_MT);
    if (!(s->st = stage_open(&o))) return luaL_error(L, "out of memory");
    /* open or stat failures are known at once */
    if (stage_result(s->st)->failed) {
        lua_pushnil(L);
        push_stage_error(L, &stage_result(s->st)->error);
        stage_close(s->st);
        s->st = NULL;
        return 2;
    }
    return 1;
}

/* stager:step([max_bytes]) -> true (done) | false (more) | nil, err */
static int l_step(lua_State *L)
{
    l_stager *s = check_stager(L);
    lua_Integer max = luaL_optinteger(L, 2, 8 << 20);
    if (max < 0) return luaL_argerror(L, 2, "must not be negative");
    s->status = stage_step(s->st, (size_t)max);
    if (s->status == STAGE_ERROR) {
        lua_pushnil(L);
        push_stage_error(L, &stage_result(s->st)->error);
        return 2;
    }
    lua_pushboolean(L, s->status == STAGE_DONE);
    return 1;
}

/* {preamble_lines, padded, first_padded_line, joined, first_joined_line,
 *  no_header, names = {{column, from, to}...}}: only when repairs were
 * asked for. */
static void push_repair(lua_State *L, const stage_result_t *r)
{
    const stage_repair_result *p = &r->repair;
    lua_createtable(L, 0, 8);
    set_u64(L, "preamble_lines", p->preamble_lines);
    set_u64(L, "padded", p->padded);
    if (p->padded) set_u64(L, "first_padded_line", p->first_padded_line);
    set_u64(L, "joined", p->joined);
    if (p->joined) set_u64(L, "first_joined_line", p->first_joined_line);
    lua_pushboolean(L, p->no_header);
    lua_setfield(L, -2, "no_header");
    lua_newtable(L);
    const csv_header *from = r->source_header, *to = r->header;
    for (size_t i = 0, k = 0; p->names_changed && !p->no_header && from != to &&
                              i < from->count && i < to->count; i++) {
        if (!strcmp(from->raw[i], to->raw[i])) continue;
        lua_createtable(L, 0, 3);
        set_u64(L, "column", i + 1);
        lua_pushstring(L, from->raw[i]);
        lua_setfield(L, -2, "from");
        lua_pushstring(L, to->raw[i]);
        lua_setfield(L, -2, "to");
        lua_rawseti(L, -2, (lua_Integer)++k);
    }
    lua_setfield(L, -2, "names");
}

static void push_result(lua_State *L, const stage_result_t *r)
{
    lua_createtable(L, 0, 24);
    lua_pushstring(L, r->file);
    lua_setfield(L, -2, "file");
    set_u64(L, "size", r->size);
    lua_pushinteger(L, (lua_Integer)(r->mtime_ns / 1000000000));
    lua_setfield(L, -2, "mtime");
    lua_pushinteger(L, (lua_Integer)r->mtime_ns);
    lua_setfield(L, -2, "mtime_ns");
    if (r->fingerprint[0]) {
        lua_pushstring(L, r->fingerprint);
        lua_setfield(L, -2, "fingerprint");
    }

    lua_createtable(L, 0, 2);
    lua_pushboolean(L, r->utf8_valid);
    lua_setfield(L, -2, "valid");
    if (!r->utf8_valid) {
        lua_createtable(L, 0, 4);
        set_u64(L, "line", r->utf8.line);
        set_u64(L, "column", r->utf8.column);
        set_u64(L, "offset", r->utf8.offset);
        lua_pushstring(L, r->utf8.message);
        lua_setfield(L, -2, "message");
        lua_setfield(L, -2, "error");
    }
    lua_setfield(L, -2, "encoding");

    l_csv_push_dialect(L, &r->dialect, 1);
    lua_setfield(L, -2, "dialect");
    l_csv_push_dialect(L, &r->upload, 0);
    lua_setfield(L, -2, "upload");
    l_csv_push_header(L, r->source_header, r->header);
    lua_setfield(L, -2, "header");
    if (r->repairs_asked) {
        push_repair(L, r);
        lua_setfield(L, -2, "repair");
    }

    set_u64(L, "rows", r->rows);
    lua_createtable(L, (int)r->record_errors_shown, 0);
    for (size_t i = 0; i < r->record_errors_shown; i++) {
        lua_createtable(L, 0, 3);
        set_u64(L, "line", r->record_errors[i].line);
        set_u64(L, "expected", r->record_errors[i].expected);
        set_u64(L, "got", r->record_errors[i].got);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, -2, "record_errors");
    set_u64(L, "record_errors_total", r->record_errors_total);
    set_u64(L, "anomalies", r->anomalies);
    if (r->anomalies) set_u64(L, "first_anomaly_line", r->first_anomaly_line);
    lua_pushboolean(L, r->unterminated);
    lua_setfield(L, -2, "unterminated");
    if (r->unclosed_line) set_u64(L, "unclosed_line", r->unclosed_line);
    lua_pushboolean(L, r->gzip);
    lua_setfield(L, -2, "gzip");
    lua_pushboolean(L, r->normalize);
    lua_setfield(L, -2, "normalize");
    if (r->spool) {
        lua_pushstring(L, r->spool);
        lua_setfield(L, -2, "spool");
    }
    set_u64(L, "spool_bytes", r->spool_bytes);
    lua_pushboolean(L, r->unstable);
    lua_setfield(L, -2, "unstable");
    if (r->error.code) {
        push_stage_error(L, &r->error);
        lua_setfield(L, -2, "error");
    }
}

/* stager:result() -> table (see docs/staging.md) */
/* stager:progress() -> {path=, bytes=, gzip=} | nil: the spool as far as
 * it is written, while it is written (stage_spool_progress). */
static int l_progress(lua_State *L)
{
    l_stager *s = check_stager(L);
    const char *path;
    uint64_t bytes;
    int gzip;
    if (!stage_spool_progress(s->st, &path, &bytes, &gzip)) {
        lua_pushnil(L);
        return 1;
    }
    lua_createtable(L, 0, 3);
    lua_pushstring(L, path);
    lua_setfield(L, -2, "path");
    set_u64(L, "bytes", bytes);
    lua_pushboolean(L, gzip);
    lua_setfield(L, -2, "gzip");
    return 1;
}

static int l_result(lua_State *L)
{
    l_stager *s = check_stager(L);
    push_result(L, stage_result(s->st));
    return 1;
}

int luaopen_host_stage(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"step", l_step},
        {"result", l_result},
        {"progress", l_progress},
        {"close", stager_close},
        {NULL, NULL},
    };
    static const luaL_Reg metamethods[] = {
        {"__gc", stager_close},
        {"__close", stager_close},
        {"__index", NULL}, /* placeholder, set below */
        {NULL, NULL},
    };
    static const luaL_Reg funcs[] = {
        {"open", l_open},
        {NULL, NULL},
    };
    if (luaL_newmetatable(L, STAGER_MT)) {
        luaL_setfuncs(L, metamethods, 0);
        luaL_newlib(L, methods);
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);
    luaL_newlib(L, funcs);
    return 1;
}
