/* task.c - coroutine tasks (task.h) and the runtime that runs them
 * (runtime.h).  They live in one file because a task is nothing but a
 * runtime's coroutine plus the bookkeeping to resume it.  The Lua face of
 * both (host.task) is l_task.c. */
#include "task.h"

#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "log.h"
#include "modules.h"
#include "runtime.h"

struct task {
    runtime_t *rt;
    lua_State *co;
    int ref;              /* registry anchor of the thread */
    uint64_t id;
    int started;
    int nargs;            /* arguments waiting on co for the first resume */
    int queued;
    task_push_fn push;
    void *push_ud;
    task_cancel_fn cancel;
    void *cancel_ud;
    int is_main;
    struct task *prev, *next; /* all live tasks */
    struct task *qnext;       /* ready queue */
};

struct runtime {
    lua_State *L;
    loop_t *loop;
    size_t mem;
    char *scripts_dir;
    int runner_ref;
    task_t *tasks;
    task_t *ready_head, *ready_tail;
    int ntasks;
    uint64_t next_id;
    uint64_t slice_limit_ms;
    uint64_t slice_start;
    runtime_main_done main_done;
    void *main_ud;
};

static char RUNTIME_KEY; /* registry[&RUNTIME_KEY] = lightuserdata runtime */

/* ---- the state ---------------------------------------------------------- */

static void *counting_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    runtime_t *rt = ud;
    if (nsize == 0) {
        if (ptr) rt->mem -= osize;
        free(ptr);
        return NULL;
    }
    void *np = realloc(ptr, nsize);
    if (np) rt->mem += nsize - (ptr ? osize : 0);
    return np;
}

static inline task_t **extra_task(lua_State *L) { return (task_t **)lua_getextraspace(L); }

/* The message handler every call from C goes through (lua.c's msghandler):
 * the traceback is taken while the failing stack still exists. */
static int traceback_handler(lua_State *L)
{
    /* An expected failure raised as {message = "..."} (a config error on
     * reload, say) is reported as its message alone, without a traceback. */
    if (lua_istable(L, 1) && lua_getfield(L, 1, "message") == LUA_TSTRING) return 1;
    const char *msg = lua_tostring(L, 1);
    if (msg == NULL) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

runtime_t *runtime_new(loop_t *loop, const char *scripts_dir, char *err, size_t errlen)
{
    runtime_t *rt = calloc(1, sizeof *rt);
    if (!rt) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    rt->loop = loop;
    rt->runner_ref = LUA_NOREF;
    rt->scripts_dir = strdup(scripts_dir);
    rt->slice_limit_ms = 10000;
    rt->L = lua_newstate(counting_alloc, rt);
    if (!rt->L || !rt->scripts_dir) {
        snprintf(err, errlen, "cannot create a Lua state (out of memory)");
        runtime_free(rt);
        return NULL;
    }
    lua_State *L = rt->L;
    *extra_task(L) = NULL;
    luaL_openlibs(L);
    lua_pushlightuserdata(L, rt);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &RUNTIME_KEY);
    host_preload_modules(L);

    /* package.path: the scripts folder only (plus what daemon.lua adds). */
    lua_getglobal(L, "package");
    lua_pushfstring(L, "%s/?.lua;%s/?/init.lua", scripts_dir, scripts_dir);
    lua_setfield(L, -2, "path");
    lua_pushstring(L, "");
    lua_setfield(L, -2, "cpath"); /* no native modules from disk */
    lua_pop(L, 1);
    return rt;
}

loop_t *runtime_loop(runtime_t *rt) { return rt->loop; }
size_t runtime_memory(runtime_t *rt) { return rt->mem; }
int runtime_task_count(runtime_t *rt) { return rt->ntasks; }
uint64_t runtime_slice_limit(runtime_t *rt) { return rt->slice_limit_ms; }
void runtime_set_slice_limit(runtime_t *rt, uint64_t ms) { rt->slice_limit_ms = ms; }

runtime_t *runtime_of(lua_State *L)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, &RUNTIME_KEY);
    runtime_t *rt = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return rt;
}

static void task_free(task_t *t);

void runtime_free(runtime_t *rt)
{
    if (!rt) return;
    while (rt->tasks) task_free(rt->tasks);
    if (rt->L) lua_close(rt->L);
    free(rt->scripts_dir);
    free(rt);
}

int runtime_load_runner(runtime_t *rt, char *err, size_t errlen)
{
    lua_State *L = rt->L;
    char path[4096];
    snprintf(path, sizeof path, "%s/daemon.lua", rt->scripts_dir);
    lua_pushcfunction(L, traceback_handler);
    if (luaL_loadfilex(L, path, "t") != LUA_OK) {
        snprintf(err, errlen, "%s", lua_tostring(L, -1));
        lua_pop(L, 2);
        return -1;
    }
    if (lua_pcall(L, 0, 1, -2) != LUA_OK) {
        snprintf(err, errlen, "%s", lua_tostring(L, -1));
        lua_pop(L, 2);
        return -1;
    }
    if (!lua_istable(L, -1)) {
        snprintf(err, errlen, "%s must return the runner table", path);
        lua_pop(L, 2);
        return -1;
    }
    lua_getfield(L, -1, "api_version");
    lua_Integer v = lua_tointeger(L, -1);
    lua_pop(L, 1);
    if (v != HOST_API_VERSION) {
        snprintf(err, errlen, "%s speaks host API %lld, this binary speaks %d: install matching scripts",
                 path, (long long)v, HOST_API_VERSION);
        lua_pop(L, 2);
        return -1;
    }
    rt->runner_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pop(L, 1);
    return 0;
}

static void push_string_array(lua_State *L, const char *const *args)
{
    lua_newtable(L);
    for (int i = 0; args && args[i]; i++) {
        lua_pushstring(L, args[i]);
        lua_rawseti(L, -2, i + 1);
    }
}

int runtime_call(runtime_t *rt, const char *name, const char *const *args, char *err, size_t errlen)
{
    lua_State *L = rt->L;
    int base = lua_gettop(L);
    lua_pushcfunction(L, traceback_handler);
    lua_rawgeti(L, LUA_REGISTRYINDEX, rt->runner_ref);
    lua_getfield(L, -1, name);
    lua_remove(L, -2);
    if (!lua_isfunction(L, -1)) {
        lua_settop(L, base);
        return 0; /* an optional hook the runner does not define */
    }
    int nargs = 0;
    if (args) {
        push_string_array(L, args);
        nargs = 1;
    }
    int rc = lua_pcall(L, nargs, 0, base + 1);
    if (rc != LUA_OK) snprintf(err, errlen, "%s", lua_tostring(L, -1));
    lua_settop(L, base);
    return rc == LUA_OK ? 0 : -1;
}

/* ---- tasks -------------------------------------------------------------- */

static void enqueue(task_t *t)
{
    if (t->queued) return;
    runtime_t *rt = t->rt;
    t->queued = 1;
    t->qnext = NULL;
    if (rt->ready_tail) rt->ready_tail->qnext = t;
    else rt->ready_head = t;
    rt->ready_tail = t;
    loop_wake(rt->loop);
}

static void dequeue(task_t *t)
{
    if (!t->queued) return;
    runtime_t *rt = t->rt;
    task_t **pp = &rt->ready_head, *prev = NULL;
    while (*pp && *pp != t) {
        prev = *pp;
        pp = &(*pp)->qnext;
    }
    if (*pp) *pp = t->qnext;
    if (rt->ready_tail == t) rt->ready_tail = prev;
    t->queued = 0;
}

/* Unlink, cancel what it waits for, close the thread, drop the anchor. */
static void task_free(task_t *t)
{
    runtime_t *rt = t->rt;
    dequeue(t);
    if (t->cancel) {
        task_cancel_fn fn = t->cancel;
        t->cancel = NULL;
        fn(t->cancel_ud);
    }
    if (t->push) { /* woken, never resumed: the push releases the operation */
        task_push_fn push = t->push;
        t->push = NULL;
        if (lua_checkstack(t->co, LUA_MINSTACK)) push(t->co, t->push_ud);
    }
    if (t->prev) t->prev->next = t->next;
    else rt->tasks = t->next;
    if (t->next) t->next->prev = t->prev;
    *extra_task(t->co) = NULL;
    lua_resetthread(t->co); /* runs pending __close handlers */
    luaL_unref(rt->L, LUA_REGISTRYINDEX, t->ref);
    rt->ntasks--;
    free(t);
}

/* Fails a task that runs too long without yielding (a runaway policy
 * loop would otherwise freeze every upload and the watcher). */
static void slice_hook(lua_State *co, lua_Debug *ar)
{
    (void)ar;
    runtime_t *rt = runtime_of(co);
    if (rt && rt->slice_limit_ms && loop_clock_ms() - rt->slice_start > rt->slice_limit_ms)
        luaL_error(co, "task ran %d ms without yielding (runaway loop?)", (int)rt->slice_limit_ms);
}

task_t *task_spawn(runtime_t *rt, lua_State *L, int nargs)
{
    task_t *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->rt = rt;
    t->co = lua_newthread(L);
    t->ref = luaL_ref(L, LUA_REGISTRYINDEX); /* pops the thread */
    t->id = ++rt->next_id;
    *extra_task(t->co) = t;
    lua_xmove(L, t->co, nargs + 1);
    t->nargs = nargs;
    lua_sethook(t->co, slice_hook, LUA_MASKCOUNT, 1000000);
    t->next = rt->tasks;
    if (rt->tasks) rt->tasks->prev = t;
    rt->tasks = t;
    rt->ntasks++;
    enqueue(t);
    return t;
}

int runtime_start_main(runtime_t *rt, const char *const *args, runtime_main_done done, void *ud)
{
    lua_State *L = rt->L;
    rt->main_done = done;
    rt->main_ud = ud;
    lua_rawgeti(L, LUA_REGISTRYINDEX, rt->runner_ref);
    lua_getfield(L, -1, "main");
    lua_remove(L, -2);
    push_string_array(L, args);
    task_t *t = task_spawn(rt, L, 1);
    if (!t) return -1;
    t->is_main = 1;
    return 0;
}

static void task_finished(task_t *t, int status, int nres)
{
    runtime_t *rt = t->rt;
    lua_State *co = t->co;
    if (status != LUA_OK) {
        /* lua_resume leaves the dead coroutine's stack intact: take the
         * traceback from it, as OpenResty does for its threads. */
        const char *msg = lua_tostring(co, -1);
        if (!msg) {
            if (luaL_callmeta(co, -1, "__tostring") && lua_type(co, -1) == LUA_TSTRING) msg = lua_tostring(co, -1);
            else msg = "(error object is not a string)";
        }
        luaL_traceback(rt->L, co, msg, 0);
        char idbuf[24];
        snprintf(idbuf, sizeof idbuf, "%llu", (unsigned long long)t->id);
        log_event(LOG_ERROR, "task_failed", "task", idbuf, "error", msg, "traceback",
                  lua_tostring(rt->L, -1), NULL);
        lua_pop(rt->L, 1);
    }
    if (t->is_main && rt->main_done) {
        if (status == LUA_OK) { /* leave exactly the first result on top */
            if (nres == 0) lua_pushnil(co);
            else lua_settop(co, lua_gettop(co) - nres + 1);
        }
        runtime_main_done fn = rt->main_done;
        rt->main_done = NULL;
        fn(rt, status == LUA_OK, co, rt->main_ud);
    }
    task_free(t);
}

static void task_resume(task_t *t)
{
    runtime_t *rt = t->rt;
    lua_State *co = t->co;
    int nargs;
    if (!t->started) {
        t->started = 1;
        nargs = t->nargs;
    } else {
        nargs = 0;
        if (t->push) {
            task_push_fn push = t->push;
            t->push = NULL;
            nargs = push(co, t->push_ud);
        }
    }
    int nres = 0;
    rt->slice_start = loop_clock_ms();
    int status = lua_resume(co, rt->L, nargs, &nres);
    if (status == LUA_YIELD) {
        lua_pop(co, nres);
        /* A yield without a pending operation (a bare coroutine.yield at
         * the task's top level) is a cooperative reschedule, never a hang. */
        if (!t->cancel && !t->queued) enqueue(t);
        return;
    }
    task_finished(t, status, nres);
}

void runtime_run_ready(runtime_t *rt)
{
    /* Only the tasks ready now: one that re-queues itself runs next turn,
     * so a busy task cannot starve the loop. */
    task_t *batch = rt->ready_head;
    rt->ready_head = rt->ready_tail = NULL;
    while (batch) {
        task_t *t = batch;
        batch = t->qnext;
        t->queued = 0;
        t->qnext = NULL;
        task_resume(t);
    }
}

task_t *task_current(lua_State *L) { return *extra_task(L); }

task_t *task_check(lua_State *L)
{
    task_t *t = *extra_task(L);
    if (!t || t->co != L || !lua_isyieldable(L))
        luaL_error(L, "not inside a task: this call must wait, and only a task can wait "
                      "(not a module's top level, a table.sort comparator or a metamethod)");
    return t;
}

void task_set_cancel(task_t *t, task_cancel_fn fn, void *ud)
{
    t->cancel = fn;
    t->cancel_ud = ud;
}

int task_suspend(lua_State *L) { return lua_yield(L, 0); }

void task_wake(task_t *t, task_push_fn push, void *ud)
{
    t->cancel = NULL; /* the operation is over: nothing left to undo */
    t->push = push;
    t->push_ud = ud;
    enqueue(t);
}

uint64_t task_id(const task_t *t) { return t->id; }
