/* host.h - the version of the host API the Lua scripts are written for.
 *
 * There is no process-wide state here: a binding reaches the loop through
 * the runtime of its lua_State (runtime_loop(runtime_of(L)), runtime.h),
 * and keeps that loop (or its task) in its own record for callbacks, never
 * a lua_State, because Lua states come and go on reload. */
#ifndef KBSYNCD_HOST_H
#define KBSYNCD_HOST_H

/* Bumped when a host.* binding changes incompatibly; lua/daemon.lua checks
 * it at start (as lsyncd checks its runner's version). */
#define HOST_API_VERSION 1
#endif
