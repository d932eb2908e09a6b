/* env.c - see env.h. */
#include "env.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int valid_key_char(int c, int first)
{
    return c == '_' || isalpha(c) || (!first && isdigit(c));
}

/* Parses one value starting at p (line already stripped of the key and
 * '='); writes the result to out.  Returns 0 or a static error string. */
static const char *parse_value(const char *p, const char *end, char *out)
{
    char *o = out;
    while (p < end && (*p == ' ' || *p == '\t')) p++;
    if (p < end && *p == '\'') {
        const char *q = memchr(p + 1, '\'', (size_t)(end - p - 1));
        if (!q) return "unterminated single quote";
        memcpy(o, p + 1, (size_t)(q - p - 1));
        o += q - p - 1;
        p = q + 1;
    } else if (p < end && *p == '"') {
        p++;
        for (;;) {
            if (p >= end) return "unterminated double quote";
            if (*p == '"') {
                p++;
                break;
            }
            if (*p == '\\' && p + 1 < end) {
                p++;
                switch (*p) {
                case 'n': *o++ = '\n'; break;
                case 't': *o++ = '\t'; break;
                case 'r': *o++ = '\r'; break;
                default: *o++ = *p; break;
                }
                p++;
                continue;
            }
            *o++ = *p++;
        }
    } else {
        const char *start = p;
        while (p < end && !(*p == '#' && (p == start || p[-1] == ' ' || p[-1] == '\t'))) *o++ = *p++;
        while (o > out && (o[-1] == ' ' || o[-1] == '\t' || o[-1] == '\r')) o--;
        *o = 0;
        return NULL;
    }
    /* after a quoted value only spaces or a comment may follow */
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r')) p++;
    if (p < end && *p != '#') return "unexpected text after the closing quote";
    *o = 0;
    return NULL;
}

int env_parse_buffer(const char *name, const char *text, size_t len, env_pair_cb cb, void *ud,
                     char *err, size_t errlen)
{
    const char *p = text, *end = text + len;
    int lineno = 0;
    char *out = malloc(len + 1);
    char key[256];
    if (!out) {
        snprintf(err, errlen, "%s: out of memory", name);
        return -1;
    }
    while (p < end) {
        lineno++;
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *lend = eol ? eol : end;
        const char *s = p;
        p = eol ? eol + 1 : end;
        while (s < lend && isspace((unsigned char)*s)) s++;
        if (s == lend || *s == '#') continue;
        if ((size_t)(lend - s) > 7 && strncmp(s, "export", 6) == 0 && (s[6] == ' ' || s[6] == '\t')) {
            s += 7;
            while (s < lend && (*s == ' ' || *s == '\t')) s++;
        }
        size_t k = 0;
        while (s < lend && valid_key_char((unsigned char)*s, k == 0) && k < sizeof key - 1) key[k++] = *s++;
        key[k] = 0;
        while (s < lend && (*s == ' ' || *s == '\t')) s++;
        if (k == 0 || s >= lend || *s != '=') {
            snprintf(err, errlen, "%s:%d: expected KEY=value", name, lineno);
            free(out);
            return -1;
        }
        s++;
        /* A double-quoted value may span lines: extend to its closing quote. */
        const char *vs = s;
        while (vs < lend && (*vs == ' ' || *vs == '\t')) vs++;
        if (vs < lend && *vs == '"') {
            const char *q = vs + 1;
            while (q < end && *q != '"') q += (*q == '\\' && q + 1 < end) ? 2 : 1;
            if (q < end) {
                const char *qe = memchr(q, '\n', (size_t)(end - q));
                for (const char *c = lend; c < q; c++)
                    if (*c == '\n') lineno++;
                lend = qe ? qe : end;
                p = qe ? qe + 1 : end;
            }
        }
        const char *why = parse_value(s, lend, out);
        if (why) {
            snprintf(err, errlen, "%s:%d: %s (key %s)", name, lineno, why, key);
            free(out);
            return -1;
        }
        if (cb(key, out, ud) != 0) break;
    }
    free(out);
    return 0;
}

int env_parse_file(const char *path, env_pair_cb cb, void *ud, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t n;
    while (buf && (n = fread(buf + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap) {
            if (cap >= (1u << 20)) {
                fclose(f);
                free(buf);
                snprintf(err, errlen, "%s: larger than 1 MiB, not a .env file", path);
                return -1;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) break;
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (!buf) {
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    int r = env_parse_buffer(path, buf, len, cb, ud, err, errlen);
    free(buf);
    return r;
}
