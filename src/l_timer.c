/* l_timer.c - host.timer: sleep (yields), monotonic and wall clocks. */
#include <lauxlib.h>
#include <lua.h>
#include <stdlib.h>
#include <time.h>

#include "modules.h"
#include "runtime.h"
#include "task.h"

typedef struct sleeper {
    task_t *task;
    loop_t *loop;
    loop_timer_t *timer;
} sleeper_t;

static void sleep_cancel(void *ud)
{
    sleeper_t *s = ud;
    loop_timer_stop(s->loop, s->timer);
    free(s);
}

/* Freed here, not when the task resumes: a runtime freed between the wake
 * and the resume must leave nothing behind.  sleep() returns nothing. */
static void sleep_fired(loop_t *l, loop_timer_t *t, void *data)
{
    (void)l; (void)t;
    sleeper_t *s = data;
    task_t *task = s->task;
    free(s); /* the one-shot timer frees itself */
    task_wake(task, NULL, NULL);
}

static int l_sleep(lua_State *L)
{
    lua_Integer ms = luaL_checkinteger(L, 1);
    task_t *t = task_check(L);
    sleeper_t *s = malloc(sizeof *s);
    if (!s) return luaL_error(L, "out of memory");
    s->task = t;
    s->loop = runtime_loop(runtime_of(L));
    s->timer = loop_timer_start(s->loop, ms > 0 ? (uint64_t)ms : 0, 0, sleep_fired, s);
    if (!s->timer) {
        free(s);
        return luaL_error(L, "out of memory");
    }
    task_set_cancel(t, sleep_cancel, s);
    return task_suspend(L);
}

static int l_now(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)loop_clock_ms());
    return 1;
}

static int l_wall(lua_State *L)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
    return 1;
}

static int l_iso(lua_State *L)
{
    time_t t = (time_t)luaL_optnumber(L, 1, (lua_Number)time(NULL));
    struct tm tm;
    char buf[32];
    gmtime_r(&t, &tm);
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    lua_pushstring(L, buf);
    return 1;
}

int luaopen_host_timer(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"sleep", l_sleep}, {"now", l_now}, {"wall", l_wall}, {"iso", l_iso}, {NULL, NULL}};
    luaL_newlib(L, fns);
    return 1;
}
