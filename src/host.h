/* host.h - what every binding may reach: the loop and the API version.
 *
 * There is one loop per process (host_loop()); Lua states come and go on
 * reload, so bindings keep the task or the runtime, never a lua_State. */
#ifndef KBSYNCD_HOST_H
#define KBSYNCD_HOST_H
#include "loop.h"

/* Bumped when a host.* binding changes incompatibly; lua/daemon.lua checks
 * it at start (as lsyncd checks its runner's version). */
#define HOST_API_VERSION 1

loop_t *host_loop(void);
void host_set_loop(loop_t *l);
#endif
