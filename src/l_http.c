/* l_http.c - host.http.request: one HTTP exchange, yielding the task until
 * libcurl finishes it.  Request bodies stream from files; response bodies
 * are capped in memory or go to a file.  See docs/lua-api.md. */
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

/* Defaults set by the daemon from config `http` (host.http.configure). */
static struct {
    long connect_timeout_ms, timeout_ms, low_speed_time_s;
    size_t max_body;
    char *ca_bundle;
    char *user_agent;
} defaults = {10000, 120000, 120, 16u * 1024 * 1024, NULL, NULL};

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
    free(defaults.ca_bundle);
    free(defaults.user_agent);
    defaults.ca_bundle = defaults.user_agent = NULL;
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

static const char *opt_string(lua_State *L, int idx, const char *key)
{
    lua_getfield(L, idx, key);
    const char *s = lua_isnil(L, -1) ? NULL : luaL_checkstring(L, -1);
    lua_pop(L, 1); /* the string stays alive: the options table holds it */
    return s;
}

static lua_Integer opt_int(lua_State *L, int idx, const char *key, lua_Integer dflt)
{
    lua_getfield(L, idx, key);
    lua_Integer v = lua_isnil(L, -1) ? dflt : luaL_checkinteger(L, -1);
    lua_pop(L, 1);
    return v;
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
    const char *url = opt_string(L, 1, "url");
    if (!url) return luaL_argerror(L, 1, "url is required");
    const char *method = opt_string(L, 1, "method");
    if (!method) method = "GET";

    http_req_t *r = http_req_new(driver(L));
    if (!r) return luaL_error(L, "out of memory");
    CURL *e = http_req_easy(r);
    curl_easy_setopt(e, CURLOPT_URL, url);
    if (strcmp(method, "HEAD") == 0) curl_easy_setopt(e, CURLOPT_NOBODY, 1L);

    lua_getfield(L, 1, "headers");
    if (lua_istable(L, -1)) {
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            if (lua_type(L, -2) == LUA_TSTRING) {
                const char *name = lua_tostring(L, -2);
                const char *value = luaL_tolstring(L, -1, NULL); /* pushed */
                /* "Name;" is curl's way to send a header with an empty value */
                if (*value) lua_pushfstring(L, "%s: %s", name, value);
                else lua_pushfstring(L, "%s;", name);
                http_req_add_header(r, lua_tostring(L, -1));
                lua_pop(L, 2);
            }
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    if (defaults.user_agent) curl_easy_setopt(e, CURLOPT_USERAGENT, defaults.user_agent);

    size_t blen;
    lua_getfield(L, 1, "body");
    const char *body = lua_isnil(L, -1) ? NULL : luaL_checklstring(L, -1, &blen);
    lua_pop(L, 1);
    const char *body_file = opt_string(L, 1, "body_file");
    if (body) {
        http_req_body_memory(r, method, body, blen);
    } else if (body_file) {
        lua_Integer off = opt_int(L, 1, "body_offset", 0);
        lua_Integer len = opt_int(L, 1, "body_length", -1);
        if (http_req_body_file(r, method, body_file, (uint64_t)off, (int64_t)len) < 0) {
            lua_pushfstring(L, "file: %s: %s", body_file, strerror(errno));
            return fail_now(L, r, lua_tostring(L, -1));
        }
    } else if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        http_req_body_memory(r, method, "", 0);
    }

    const char *resp_file = opt_string(L, 1, "response_file");
    if (resp_file && http_req_response_file(r, resp_file) < 0) {
        lua_pushfstring(L, "file: %s: %s", resp_file, strerror(errno));
        return fail_now(L, r, lua_tostring(L, -1));
    }
    http_req_max_body(r, (size_t)opt_int(L, 1, "max_body", (lua_Integer)defaults.max_body));
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)opt_int(L, 1, "timeout_ms", defaults.timeout_ms));
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)opt_int(L, 1, "connect_timeout_ms", defaults.connect_timeout_ms));
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (long)opt_int(L, 1, "low_speed_time_s", defaults.low_speed_time_s));
    const char *sigv4 = opt_string(L, 1, "aws_sigv4");
    const char *userpwd = opt_string(L, 1, "userpwd");
    if (sigv4) http_req_aws_sigv4(r, sigv4, userpwd);
    else if (userpwd) curl_easy_setopt(e, CURLOPT_USERPWD, userpwd);
    const char *ca = opt_string(L, 1, "ca_bundle");
    if (!ca) ca = defaults.ca_bundle;
    if (ca) curl_easy_setopt(e, CURLOPT_CAINFO, ca);

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

/* configure{connect_timeout_ms, timeout_ms, low_speed_time_s, max_body,
 * ca_bundle, user_agent}: defaults for every later request. */
static int l_configure(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    defaults.connect_timeout_ms = (long)opt_int(L, 1, "connect_timeout_ms", defaults.connect_timeout_ms);
    defaults.timeout_ms = (long)opt_int(L, 1, "timeout_ms", defaults.timeout_ms);
    defaults.low_speed_time_s = (long)opt_int(L, 1, "low_speed_time_s", defaults.low_speed_time_s);
    defaults.max_body = (size_t)opt_int(L, 1, "max_body", (lua_Integer)defaults.max_body);
    const char *ca = opt_string(L, 1, "ca_bundle");
    free(defaults.ca_bundle);
    defaults.ca_bundle = ca && *ca ? strdup(ca) : NULL;
    const char *ua = opt_string(L, 1, "user_agent");
    if (ua) {
        free(defaults.user_agent);
        defaults.user_agent = strdup(ua);
    }
    return 0;
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
                                   {"configure", l_configure},
                                   {"async_dns", l_async_dns},
                                   {"curl_version", l_curl_version},
                                   {NULL, NULL}};
    luaL_newlib(L, fns);
    return 1;
}
