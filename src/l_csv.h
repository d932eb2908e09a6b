/* l_csv.h - the table builders host.csv (l_csv.c) shares with host.stage;
 * luaopen_host_csv itself is in modules.h.  See docs/staging.md. */
#ifndef KBSYNCD_L_CSV_H
#define KBSYNCD_L_CSV_H
#include <lua.h>

#include "csv.h"
#include "csv_header.h"

/* {delimiter, enclosure, escapedBy[, lineTerminator, bom]} */
void l_csv_push_dialect(lua_State *L, const csv_dialect *d, int full);
/* {raw = source names, keboola, webalize = {1-based indexes}, errors =
 * {{column, name, message[, other]}}}; `names` holds the analysed names
 * (the source header itself or its replacement). */
void l_csv_push_header(lua_State *L, const csv_header *source,
                       const csv_header *names);
/* {code = code, message = message} (more fields are set by the caller) */
void l_csv_push_error(lua_State *L, const char *code, const char *message);
#endif
