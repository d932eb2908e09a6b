/* l_csv.c - host.csv: dialect sniffing and Keboola column names for Lua.
 *
 * Thin: the work is in sniff.c, csv_header.c and colname.c.  Nothing here
 * yields; sniff reads at most sample_bytes (1 MiB by default) at once. */
#include "l_csv.h"

#include <errno.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "colname.h"
#include "modules.h"
#include "sniff.h"
#include "stage.h"

void l_csv_push_error(lua_State *L, const char *code, const char *message)
{
    lua_createtable(L, 0, 4);
    lua_pushstring(L, code);
    lua_setfield(L, -2, "code");
    lua_pushstring(L, message);
    lua_setfield(L, -2, "message");
}

static void set_char(lua_State *L, const char *key, unsigned char c)
{
    char b[2];
    lua_pushstring(L, csv_char_name(c, b));
    lua_setfield(L, -2, key);
}

void l_csv_push_dialect(lua_State *L, const csv_dialect *d, int full)
{
    lua_createtable(L, 0, 5);
    set_char(L, "delimiter", d->delimiter);
    set_char(L, "enclosure", d->quote);
    set_char(L, "escapedBy", d->escape);
    if (full) {
        lua_pushstring(L, csv_term_name(d->eol));
        lua_setfield(L, -2, "lineTerminator");
        lua_pushboolean(L, d->bom);
        lua_setfield(L, -2, "bom");
    }
}

static void push_names(lua_State *L, char **names, size_t n)
{
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; names && i < n; i++) {
        lua_pushstring(L, names[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
}

void l_csv_push_header(lua_State *L, const csv_header *source,
                       const csv_header *names)
{
    lua_createtable(L, 0, 5);
    push_names(L, source->raw, source->count);
    lua_setfield(L, -2, "raw");
    push_names(L, names->keboola, names->keboola ? names->count : 0);
    lua_setfield(L, -2, "keboola");
    lua_newtable(L);
    for (size_t i = 0, k = 0; names->webalize && i < names->count; i++) {
        if (!names->webalize[i]) continue;
        lua_pushinteger(L, (lua_Integer)i + 1);
        lua_rawseti(L, -2, (lua_Integer)++k);
    }
    lua_setfield(L, -2, "webalize");
    lua_newtable(L);
    for (long i = 0; i < names->issue_count && i < CSV_HEADER_ISSUES_MAX; i++) {
        const colname_issue *e = &names->issues[i];
        lua_createtable(L, 0, 5);
        lua_pushinteger(L, (lua_Integer)e->column);
        lua_setfield(L, -2, "column");
        lua_pushstring(L, names->raw[e->column - 1]);
        lua_setfield(L, -2, "name");
        lua_pushstring(L, e->text);
        lua_setfield(L, -2, "message");
        lua_pushstring(L, e->message);
        lua_setfield(L, -2, "reason");
        if (e->other) {
            lua_pushinteger(L, (lua_Integer)e->other);
            lua_setfield(L, -2, "other");
        }
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, -2, "errors");
    lua_pushboolean(L, source->done);
    lua_setfield(L, -2, "complete");
}

/* The sample and what was learnt from it, owned by a userdata so that a
 * Lua error (out of memory while building tables) frees it. */
typedef struct sniff_job {
    unsigned char *buf;
    csv_header header;
} sniff_job;

static int sniff_job_gc(lua_State *L)
{
    sniff_job *j = lua_touserdata(L, 1);
    free(j->buf);
    j->buf = NULL;
    csv_header_free(&j->header);
    return 0;
}

static int fail_with(lua_State *L, const char *code, const char *message)
{
    lua_pushnil(L);
    l_csv_push_error(L, code, message);
    return 2;
}

/* host.csv.sniff(path [, {sample_bytes = N, delimiters = ",;\t|"}])
 *   -> dialect, header  |  nil, {code, message} */
static int l_sniff(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    size_t sample = SNIFF_DEFAULT_SAMPLE, len = 0, bom = 0;
    const char *delimiters = NULL;
    char msg[512];
    int fd, eof = 0;

    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        lua_getfield(L, 2, "sample_bytes");
        if (!lua_isnil(L, -1)) sample = (size_t)luaL_checkinteger(L, -1);
        lua_getfield(L, 2, "delimiters");
        if (!lua_isnil(L, -1)) delimiters = luaL_checkstring(L, -1);
        lua_pop(L, 1); /* delimiters stays referenced by opts */
        lua_pop(L, 1);
        if (sample == 0 || sample > STAGE_MAX_SAMPLE)
            return luaL_argerror(L, 2, "sample_bytes out of range");
    }
    sniff_job *j = lua_newuserdatauv(L, sizeof *j, 0);
    memset(j, 0, sizeof *j);
    csv_header_init(&j->header);
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, sniff_job_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    if (!(j->buf = malloc(sample + 3))) return luaL_error(L, "out of memory");

    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        snprintf(msg, sizeof msg, "cannot open %s: %s", path, strerror(errno));
        return fail_with(L, "io", msg);
    }
    while (len < sample + 3) {
        ssize_t r = read(fd, j->buf + len, sample + 3 - len);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            snprintf(msg, sizeof msg, "cannot read %s: %s", path, strerror(errno));
            close(fd);
            return fail_with(L, "io", msg);
        }
        if (r == 0) {
            eof = 1;
            break;
        }
        len += (size_t)r;
    }
    close(fd);
    if (len >= 3 && memcmp(j->buf, "\xEF\xBB\xBF", 3) == 0) bom = 3;
    if (len == bom) {
        snprintf(msg, sizeof msg, "%s is empty: Keboola needs at least a header line", path);
        return fail_with(L, "empty", msg);
    }
    csv_dialect d;
    sniff_dialect(j->buf + bom, len - bom, eof, delimiters, &d);
    d.bom = bom > 0;
    csv_sink sink = csv_header_sink(&j->header);
    csv_scanner sc;
    csv_scanner_init(&sc, &d, 0, &sink);
    csv_scan(&sc, j->buf + bom, len - bom);
    if (eof) csv_scan_finish(&sc);
    if (csv_header_analyse(&j->header) < 0) return luaL_error(L, "out of memory");

    l_csv_push_dialect(L, &d, 1);
    l_csv_push_header(L, &j->header, &j->header);
    return 2;
}

/* host.csv.sanitize(name) -> keboola_name, needs_webalize */
static int l_sanitize(lua_State *L)
{
    size_t len;
    const char *name = luaL_checklstring(L, 1, &len);
    char *out = lua_newuserdatauv(L, len + 2, 0);
    int webalize = colname_sanitize(name, len, out, len + 2);
    lua_pushstring(L, out);
    lua_pushboolean(L, webalize);
    return 2;
}

int luaopen_host_csv(lua_State *L)
{
    static const luaL_Reg funcs[] = {
        {"sniff", l_sniff},
        {"sanitize", l_sanitize},
        {NULL, NULL},
    };
    luaL_newlib(L, funcs);
    return 1;
}
