/* l_stage.h - Lua binding host.stage: the incremental stager as a userdata.
 * See docs/staging.md. */
#ifndef KBSYNCD_L_STAGE_H
#define KBSYNCD_L_STAGE_H
#include <lua.h>

int luaopen_host_stage(lua_State *L);
#endif
