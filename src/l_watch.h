/* l_watch.h - host.watch: the scanner and the folder watcher for Lua.
 *
 * The host registers luaopen_host_watch in package.preload as "host.watch"
 * (modules.c); the functions are documented in docs/watcher.md. */
#ifndef KBSYNCD_L_WATCH_H
#define KBSYNCD_L_WATCH_H
#include <lua.h>

int luaopen_host_watch(lua_State *L);
#endif
