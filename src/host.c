/* host.c - the process-wide loop that bindings reach through host_loop(). */
#include "host.h"

static loop_t *the_loop;

loop_t *host_loop(void) { return the_loop; }
void host_set_loop(loop_t *l) { the_loop = l; }
