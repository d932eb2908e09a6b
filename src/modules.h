/* modules.h - every Lua module the host hands to scripts, by its luaopen_
 * function: the whole C/Lua boundary in one list.  modules.c registers
 * them in package.preload; each l_*.c defines one host.* module (the cjson
 * pair comes from the lua-cjson library).  The Lua-side contract of each
 * module is docs/lua-api.md. */
#ifndef KBSYNCD_MODULES_H
#define KBSYNCD_MODULES_H
#include <lua.h>

int luaopen_host_task(lua_State *L);  /* l_task.c */
int luaopen_host_timer(lua_State *L); /* l_timer.c */
int luaopen_host_http(lua_State *L);  /* l_http.c */
int luaopen_host_log(lua_State *L);   /* l_log.c */
int luaopen_host_env(lua_State *L);   /* l_env.c */
int luaopen_host_fs(lua_State *L);    /* l_fs.c */
int luaopen_host_csv(lua_State *L);   /* l_csv.c */
int luaopen_host_stage(lua_State *L); /* l_stage.c */
int luaopen_host_watch(lua_State *L); /* l_watch.c */
int luaopen_host_kv(lua_State *L);    /* l_kv.c */
int luaopen_cjson(lua_State *L);      /* lua-cjson */
int luaopen_cjson_safe(lua_State *L); /* lua-cjson */

/* Puts every module above in L's package.preload (runtime_new calls it). */
void host_preload_modules(lua_State *L);

/* Frees host.http's process-wide transfer driver (at exit, after the last
 * runtime is gone). */
void host_http_shutdown(void);
#endif
