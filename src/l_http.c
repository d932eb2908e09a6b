/* l_http.c - host.http.request: one HTTP exchange, yielding the task until
 * libcurl finishes it.  Request bodies stream from files; response bodies
 * are capped in memory or go to a file.  See docs/lua-api.md.
 *
 * No defaults live here: every limit (timeouts, stall time, body cap, CA
 * file) comes with the request, and one that is not passed is not set, so
 * libcurl's own behaviour applies.  The values are lua/defaults.lua's. */
#include <curl/curl.h>
#include <errno.h>
#include <lauxlib.h>
#include <lua.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http.h"
#include "modules.h"
#include "runtime.h"
#include "task.h"

static http_t *the_http;

/* One driver for the process, made on first use: every runtime runs on
 * the same loop, so a reload keeps it. */
static http_t *driver(lua_State *L)
{
    if (!the_http) the_http = http_new(runtime_loop(runtime_of(L)));
    return the_http;
}

void host_http_shutdown(void)
{
    http_free(the_http);
    the_http = NULL;
}

typedef struct pending {
    task_t *task;
    http_req_t *req;
} pending_t;

static void pending_cancel(void *ud)
{
    pending_t *p = ud;
    http_req_cancel(p->req);
    free(p);
}

/* Lower-cased header names to values; the last one wins on repeats. */
static void push_headers(lua_State *L, const char *raw, size_t len)
{
    lua_newtable(L);
    const char *p = raw, *end = raw + len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *le = eol ? eol : end;
        const char *colon = memchr(p, ':', (size_t)(le - p));
        if (colon && colon > p) {
            char name[128];
            size_t nl = (size_t)(colon - p);
            if (nl < sizeof name) {
                for (size_t i = 0; i < nl; i++) name[i] = (char)(p[i] >= 'A' && p[i] <= 'Z' ? p[i] + 32 : p[i]);
                const char *v = colon + 1;
                while (v < le && (*v == ' ' || *v == '\t')) v++;
                const char *ve = le;
                while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ')) ve--;
                lua_pushlstring(L, name, nl);
                lua_pushlstring(L, v, (size_t)(ve - v));
                lua_settable(L, -3);
            }
        }
        p = eol ? eol + 1 : end;
    }
}

static int push_result(lua_State *co, void *ud)
{
    pending_t *p = ud;
    http_req_t *r = p->req;
    int n;
    if (http_req_result(r) != CURLE_OK) {
        lua_pushnil(co);
        lua_pushstring(co, http_req_error(r));
        n = 2;
    } else {
        size_t len;
        lua_pushinteger(co, http_req_status(r));
        const char *h = http_req_headers(r, &len);
        push_headers(co, h, len);
        const char *b = http_req_body(r, &len);
        lua_pushlstring(co, b, len);
        n = 3;
    }
    http_req_free(r);
    free(p);
    return n;
}

static void on_done(http_req_t *r, void *ud)
{
    (void)r;
    pending_t *p = ud;
    task_wake(p->task, push_result, p);
}

/* Options are read and checked before anything is allocated, so a bad
 * one raises without leaving a transfer behind. */
static const char *opt_string(lua_State *L, const char *key)
{
    lua_getfield(L, 1, key);
    if (!lua_isnil(L, -1) && lua_type(L, -1) != LUA_TSTRING)
        luaL_error(L, "host.http.request: %s must be a string", key);
    const char *s = lua_tostring(L, -1);
    lua_pop(L, 1); /* the string stays alive: the options table holds it */
    return s;
}

/* A count (ms, s, bytes) >= 0, or -1 when the caller did not pass it. */
static lua_Integer opt_count(lua_State *L, const char *key)
{
    lua_getfield(L, 1, key);
    lua_Integer v = -1;
    if (!lua_isnil(L, -1)) {
        int isint;
        v = lua_tointegerx(L, -1, &isint);
        if (!isint || v < 0) luaL_error(L, "host.http.request: %s must be an integer >= 0", key);
    }
    lua_pop(L, 1);
    return v;
}

typedef struct request_opts {
    const char *url, *method, *body, *body_file, *resp_file, *sigv4, *userpwd, *ca;
    size_t body_len;
    lua_Integer body_offset, body_length, max_body;
    lua_Integer timeout_ms, connect_timeout_ms, low_speed_time_s;
} request_opts;

static void read_opts(lua_State *L, request_opts *o)
{
    o->url = opt_string(L, "url");
    if (!o->url) luaL_argerror(L, 1, "url is required");
    o->method = opt_string(L, "method");
    if (!o->method) o->method = "GET";
    lua_getfield(L, 1, "body");
    if (!lua_isnil(L, -1) && lua_type(L, -1) != LUA_TSTRING)
        luaL_error(L, "host.http.request: body must be a string");
    o->body = lua_tolstring(L, -1, &o->body_len);
    lua_pop(L, 1);
    o->body_file = opt_string(L, "body_file");
    o->body_offset = opt_count(L, "body_offset");   /* -1: from the start */
    o->body_length = opt_count(L, "body_length");   /* -1: to the end */
    o->resp_file = opt_string(L, "response_file");
    o->max_body = opt_count(L, "max_body");         /* -1: no cap */
    o->timeout_ms = opt_count(L, "timeout_ms");
    o->connect_timeout_ms = opt_count(L, "connect_timeout_ms");
    o->low_speed_time_s = opt_count(L, "low_speed_time_s");
    o->sigv4 = opt_string(L, "aws_sigv4");
    o->userpwd = opt_string(L, "userpwd");
    o->ca = opt_string(L, "ca_bundle");
    lua_getfield(L, 1, "connect_to");
    if (!lua_isnil(L, -1)) {
        if (!lua_istable(L, -1))
            luaL_error(L, "host.http.request: connect_to must be a list of strings");
        lua_Integer n = luaL_len(L, -1);
        for (lua_Integer i = 1; i <= n; i++) {
            if (lua_geti(L, -1, i) != LUA_TSTRING)
                luaL_error(L, "host.http.request: connect_to must be a list of strings");
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    lua_getfield(L, 1, "headers");
    if (!lua_isnil(L, -1) && !lua_istable(L, -1))
        luaL_error(L, "host.http.request: headers must be a table");
    if (lua_istable(L, -1)) {
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            int vt = lua_type(L, -1);
            if (lua_type(L, -2) != LUA_TSTRING || (vt != LUA_TSTRING && vt != LUA_TNUMBER))
                luaL_error(L, "host.http.request: headers must map names to strings or numbers");
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
}

/* headers = {Name = value}, checked by read_opts: nothing here raises
 * once the transfer exists. */
static void add_headers(lua_State *L, http_req_t *r)
{
    lua_getfield(L, 1, "headers");
    if (lua_istable(L, -1)) {
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            const char *name = lua_tostring(L, -2);  /* a string: never converted */
            const char *value = lua_tostring(L, -1); /* a number becomes text in place */
            /* "Name;" is curl's way to send a header with an empty value */
            if (*value) lua_pushfstring(L, "%s: %s", name, value);
            else lua_pushfstring(L, "%s;", name);
            http_req_add_header(r, lua_tostring(L, -1));
            lua_pop(L, 2);
        }
    }
    lua_pop(L, 1);
}

/* connect_to = {"HOST:PORT:CONNECT-HOST:CONNECT-PORT", ...}, checked by
 * read_opts.  Only tests pass it (docs/lua-api.md): the client takes it
 * from KBSYNCD_TEST_CONNECT_TO. */
static int add_connect_to(lua_State *L, http_req_t *r)
{
    lua_getfield(L, 1, "connect_to");
    int rc = 0;
    if (lua_istable(L, -1)) {
        lua_Integer n = luaL_len(L, -1);
        for (lua_Integer i = 1; i <= n && rc == 0; i++) {
            lua_geti(L, -1, i);
            rc = http_req_connect_to(r, lua_tostring(L, -1));
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    return rc;
}

static int fail_now(lua_State *L, http_req_t *r, const char *msg)
{
    http_req_free(r);
    lua_pushnil(L);
    lua_pushstring(L, msg);
    return 2;
}

static int l_request(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    task_t *t = task_check(L);
    request_opts o;
    read_opts(L, &o);

    http_req_t *r = http_req_new(driver(L));
    if (!r) return luaL_error(L, "out of memory");
    CURL *e = http_req_easy(r);
    curl_easy_setopt(e, CURLOPT_URL, o.url);
    if (strcmp(o.method, "HEAD") == 0) curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    add_headers(L, r);

    if (o.body) {
        http_req_body_memory(r, o.method, o.body, o.body_len);
    } else if (o.body_file) {
        if (http_req_body_file(r, o.method, o.body_file,
                               o.body_offset < 0 ? 0 : (uint64_t)o.body_offset,
                               o.body_length < 0 ? -1 : (int64_t)o.body_length) < 0) {
            lua_pushfstring(L, "file: %s: %s", o.body_file, strerror(errno));
            return fail_now(L, r, lua_tostring(L, -1));
        }
    } else if (strcmp(o.method, "GET") != 0 && strcmp(o.method, "HEAD") != 0) {
        http_req_body_memory(r, o.method, "", 0);
    }

    if (o.resp_file && http_req_response_file(r, o.resp_file) < 0) {
        lua_pushfstring(L, "file: %s: %s", o.resp_file, strerror(errno));
        return fail_now(L, r, lua_tostring(L, -1));
    }
    /* Each limit only when given: libcurl's own behaviour otherwise. */
    if (o.max_body >= 0) http_req_max_body(r, (size_t)o.max_body);
    if (o.timeout_ms >= 0) curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)o.timeout_ms);
    if (o.connect_timeout_ms >= 0)
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)o.connect_timeout_ms);
    if (o.low_speed_time_s >= 0) {
        curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (long)o.low_speed_time_s);
    }
    if (o.sigv4) http_req_aws_sigv4(r, o.sigv4, o.userpwd);
    else if (o.userpwd) curl_easy_setopt(e, CURLOPT_USERPWD, o.userpwd);
    if (o.ca && *o.ca) curl_easy_setopt(e, CURLOPT_CAINFO, o.ca);
    if (add_connect_to(L, r) < 0) return fail_now(L, r, "invalid: out of memory");

    pending_t *p = malloc(sizeof *p);
    if (!p) return fail_now(L, r, "invalid: out of memory");
    p->task = t;
    p->req = r;
    if (http_req_start(r, on_done, p) < 0) {
        free(p);
        return fail_now(L, r, "invalid: cannot start the transfer");
    }
    task_set_cancel(t, pending_cancel, p);
    return task_suspend(L);
}

static int l_async_dns(lua_State *L)
{
    lua_pushboolean(L, http_async_dns());
    return 1;
}

static int l_curl_version(lua_State *L)
{
    lua_pushstring(L, curl_version());
    return 1;
}

int luaopen_host_http(lua_State *L)
{
    static const luaL_Reg fns[] = {{"request", l_request},
                                   {"async_dns", l_async_dns},
                                   {"curl_version", l_curl_version},
                                   {NULL, NULL}};
    luaL_newlib(L, fns);
    return 1;
}
