/* env.h - .env file parsing (KEY=value lines, as docker compose reads them).
 *
 * Accepted: blank lines, `# comments`, an optional `export ` prefix,
 * unquoted values (trailing spaces and ` #comment` trimmed), 'single'
 * quotes taken literally, "double" quotes with \n \t \" \\ escapes.  No
 * variable interpolation: a token containing `$` must survive intact. */
#ifndef KBSYNCD_ENV_H
#define KBSYNCD_ENV_H
#include <stddef.h>

typedef int (*env_pair_cb)(const char *key, const char *value, void *ud);

/* Returns 0, or -1 with "PATH:LINE: reason" in err (the value is never
 * quoted in the message: it may be a secret). */
int env_parse_file(const char *path, env_pair_cb cb, void *ud, char *err, size_t errlen);
int env_parse_buffer(const char *name, const char *text, size_t len, env_pair_cb cb, void *ud,
                     char *err, size_t errlen);
#endif
