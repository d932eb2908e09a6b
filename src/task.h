/* task.h - Lua coroutines driven by the loop ("tasks").
 *
 * A task is a coroutine anchored in the registry of its runtime, so the
 * collector cannot free it while C still holds it.  Tasks are resumed only
 * from the loop (the per-turn hook), never from inside a libcurl or watcher
 * callback: C code that completes an operation calls task_wake(), which
 * queues the task; the hook pushes the results and resumes it.
 *
 * How a yielding binding is written (the pattern of OpenResty's ngx.sleep):
 *
 *     static int l_sleep(lua_State *L) {
 *         task_t *t = task_check(L);          // raises unless inside a task
 *         ... start the operation, remembering t ...
 *         task_set_cancel(t, cancel_fn, op);  // how to undo it on abort
 *         return task_suspend(L);             // lua_yield
 *     }
 *     // later, from a loop callback:
 *     task_wake(t, push_results_fn, op);      // push_fn runs just before resume
 *
 * A task that errors is logged with its traceback and closed; other tasks
 * are unaffected. */
#ifndef KBSYNCD_TASK_H
#define KBSYNCD_TASK_H
#include <lua.h>
#include <stdint.h>

typedef struct task task_t;
struct runtime;

/* Pushes the values the yielded binding returns; returns how many. */
typedef int (*task_push_fn)(lua_State *co, void *ud);
/* Undo a pending operation (free handles); the task will not be resumed. */
typedef void (*task_cancel_fn)(void *ud);

/* The running task of L, or raises a Lua error "not inside a task" when the
 * caller cannot yield (main chunk, a require'd module's top level,
 * table.sort comparator, a metamethod called from C). */
task_t *task_check(lua_State *L);
task_t *task_current(lua_State *L); /* NULL when not inside a task */

/* Creates a task in rt from the function and its nargs arguments on top of
 * L's stack (function below the arguments), pops them and queues the task
 * to start in the loop's next turn.  NULL when out of memory. */
task_t *task_spawn(struct runtime *rt, lua_State *L, int nargs);

void task_set_cancel(task_t *t, task_cancel_fn fn, void *ud);
int task_suspend(lua_State *L);
/* Queues t to resume in a later loop turn; push (may be NULL: the binding
 * returns nothing) runs just before the resume, or when t is freed before
 * it resumes (its values are then dropped), so push is where the
 * operation's memory is released.  Never resumes t from here, so it is
 * safe from any loop callback and from code that is not a task. */
void task_wake(task_t *t, task_push_fn push, void *ud);

/* Identity for logs and bookkeeping. */
uint64_t task_id(const task_t *t);
#endif
