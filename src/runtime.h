/* runtime.h - one Lua state with its tasks (the "runtime").
 *
 * The daemon normally has exactly one runtime.  On SIGHUP a second one is
 * built from the new config and scripts; only when it loads does it replace
 * the first, whose tasks are drained and cancelled (lsyncd's "fade", with
 * the new state validated before the old one fades).
 *
 * A runtime owns: the lua_State (counting allocator), the host modules in
 * package.preload, the runner table returned by daemon.lua, every task's
 * registry anchor, and the queue of tasks ready to resume. */
#ifndef KBSYNCD_RUNTIME_H
#define KBSYNCD_RUNTIME_H
#include <lua.h>
#include <stddef.h>
#include <stdint.h>

#include "loop.h"

typedef struct runtime runtime_t;

/* Called when the runtime's main task ends: ok = 1 with the task's first
 * return value left on top of co's stack, ok = 0 after an error. */
typedef void (*runtime_main_done)(runtime_t *rt, int ok, lua_State *co, void *ud);

runtime_t *runtime_new(loop_t *loop, const char *scripts_dir, char *err, size_t errlen);
void runtime_free(runtime_t *rt); /* cancels every task, closes the state */

/* The runtime a state (or any of its coroutines) belongs to, and the loop
 * it runs on: how a binding reaches the loop without a global. */
runtime_t *runtime_of(lua_State *L);
loop_t *runtime_loop(runtime_t *rt);

/* Loads scripts_dir/daemon.lua and keeps the table it returns; checks its
 * api_version against HOST_API_VERSION. */
int runtime_load_runner(runtime_t *rt, char *err, size_t errlen);

/* runner[name](args...) through the traceback handler, not as a task (it
 * must not yield).  args: a NULL-terminated string array pushed as one Lua
 * array argument, or NULL for none.  Leaves nothing on the stack; returns
 * 0, or -1 with the error (with traceback) in err. */
int runtime_call(runtime_t *rt, const char *name, const char *const *args, char *err,
                 size_t errlen);

/* Spawns runner.main(args) as the main task. */
int runtime_start_main(runtime_t *rt, const char *const *args, runtime_main_done done, void *ud);

/* Resumes every task that is ready (the loop's per-turn hook). */
void runtime_run_ready(runtime_t *rt);

size_t runtime_memory(runtime_t *rt);
int runtime_task_count(runtime_t *rt);

/* The longest a task may run between yields before it is failed (ms,
 * 0 = no limit). */
uint64_t runtime_slice_limit(runtime_t *rt);
void runtime_set_slice_limit(runtime_t *rt, uint64_t ms);
#endif
