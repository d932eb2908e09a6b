/* colname.c - see colname.h. */
#include "colname.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int is_word(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_';
}

static int is_reserved(const char *name)
{
    static const char *const reserved[] = {"oid",  "tableoid", "xmin", "cmin",
                                           "xmax", "cmax",     "ctid"};
    for (size_t i = 0; i < sizeof reserved / sizeof *reserved; i++)
        if (strcasecmp(name, reserved[i]) == 0) return 1;
    return 0;
}

int colname_sanitize(const char *raw, size_t len, char *out, size_t outsz)
{
    size_t o = 0;
    int in_gap = 0;

    if (outsz == 0) return 0;
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)raw[i] >= 0x80) {
            size_t n = len < outsz - 1 ? len : outsz - 1;
            memcpy(out, raw, n);
            out[n] = 0;
            return 1;
        }
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)raw[i];
        if (is_word(c)) {
            /* a gap only counts between two kept characters: leading
             * and trailing ones vanish with the '_' strip below */
            if (in_gap && o > 0 && o < outsz - 1) out[o++] = '_';
            in_gap = 0;
            if (o < outsz - 1) out[o++] = (char)c;
        } else {
            in_gap = 1;
        }
    }
    out[o] = 0;
    /* strip leading and trailing '_' (existing runs inside are kept) */
    size_t b = 0, e = o;
    while (b < e && out[b] == '_') b++;
    while (e > b && out[e - 1] == '_') e--;
    memmove(out, out + b, e - b);
    out[e - b] = 0;
    /* Keboola's sanitiser appends '_' to the names its backends reserve
     * for system columns, so `oid` is stored as `oid_` */
    if (is_reserved(out) && e - b + 1 < outsz) {
        out[e - b] = '_';
        out[e - b + 1] = 0;
    }
    return 0;
}


typedef struct {
    const char *key;
    size_t index;
} name_ref;

static int by_key_then_index(const void *a, const void *b)
{
    const name_ref *x = a, *y = b;
    int c = strcasecmp(x->key, y->key);
    if (c) return c;
    return (x->index > y->index) - (x->index < y->index);
}

/* Raw names are shown cut to this many bytes (a 1,000-byte name would
 * drown the message). */
#define SHOWN_NAME 60

static void add(colname_issue *out, size_t max, long *count,
                const char *const *raw, size_t column, size_t other,
                const char *message)
{
    if ((size_t)*count < max) {
        colname_issue *e = &out[*count];
        const char *name = raw[column - 1];
        int len = (int)strlen(name), cut = len > SHOWN_NAME;
        e->column = column;
        e->other = other;
        e->message = message;
        if (!*name)
            snprintf(e->text, sizeof e->text, "column %zu: %s", column, message);
        else if (other)
            snprintf(e->text, sizeof e->text,
                     "column %zu \"%.*s%s\": same name as column %zu after "
                     "sanitising (names are case-insensitive)",
                     column, cut ? SHOWN_NAME : len, name, cut ? "..." : "",
                     other);
        else
            snprintf(e->text, sizeof e->text, "column %zu \"%.*s%s\": %s",
                     column, cut ? SHOWN_NAME : len, name, cut ? "..." : "",
                     message);
    }
    (*count)++;
}

static int by_column(const void *a, const void *b)
{
    const colname_issue *x = a, *y = b;
    return (x->column > y->column) - (x->column < y->column);
}

long colname_check(const char *const *raw, const char *const *keboola,
                   const unsigned char *webalize, size_t n,
                   colname_issue *out, size_t max)
{
    long count = 0;
    /* collisions are found by sorting, so 2,000 columns cost no more than
     * a few thousand comparisons */
    size_t *first_of = calloc(n ? n : 1, sizeof *first_of);
    name_ref *refs = malloc((n ? n : 1) * sizeof *refs);
    if (!first_of || !refs) {
        free(first_of);
        free(refs);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        /* a name the server must transliterate can only be compared raw */
        refs[i].key = webalize[i] ? raw[i] : keboola[i];
        refs[i].index = i;
    }
    qsort(refs, n, sizeof *refs, by_key_then_index);
    for (size_t i = 1; i < n; i++)
        if (refs[i].key[0] && strcasecmp(refs[i].key, refs[i - 1].key) == 0)
            first_of[refs[i].index] =
                first_of[refs[i - 1].index] ? first_of[refs[i - 1].index]
                                            : refs[i - 1].index + 1;

    for (size_t i = 0; i < n; i++) {
        if (raw[i][0] == 0) {
            add(out, max, &count, raw, i + 1, 0, "empty name");
        } else if (!webalize[i] && keboola[i][0] == 0) {
            add(out, max, &count, raw, i + 1, 0,
                "no letters or digits: the name sanitises to nothing");
        } else if (!webalize[i] && strlen(keboola[i]) > COLNAME_MAX) {
            add(out, max, &count, raw, i + 1, 0,
                "longer than 64 characters after sanitising");
        }
        if (first_of[i])
            add(out, max, &count, raw, i + 1, first_of[i],
                "same name as an earlier column after sanitising "
                "(names are case-insensitive)");
    }
    free(first_of);
    free(refs);
    if (count > 0)
        qsort(out, (size_t)count < max ? (size_t)count : max, sizeof *out,
              by_column);
    return count;
}

/* ---- repair (policy.repair.names) --------------------------------------- */

/* A set of lower-cased names: open addressing, sized once for the most
 * names a repair can add (two per column), so it never grows. */
typedef struct name_set {
    char **slot;
    size_t mask;
} name_set;

static uint32_t fnv1a(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static int set_init(name_set *s, size_t n)
{
    size_t cap = 16;
    while (cap < 4 * n + 16) cap <<= 1;
    s->mask = cap - 1;
    s->slot = calloc(cap, sizeof *s->slot);
    return s->slot ? 0 : -1;
}

static void set_free(name_set *s)
{
    for (size_t i = 0; s->slot && i <= s->mask; i++) free(s->slot[i]);
    free(s->slot);
}

/* 1 when present; else adds it (when add) and returns 0; -1 out of memory.
 * `key` is already lower-cased. */
static int set_has(name_set *s, const char *key, int add)
{
    size_t i = fnv1a(key) & s->mask;
    for (; s->slot[i]; i = (i + 1) & s->mask)
        if (strcmp(s->slot[i], key) == 0) return 1;
    if (add && !(s->slot[i] = strdup(key))) return -1;
    return 0;
}

/* The key two names collide on: the sanitised name (the raw one when
 * only the server can transliterate it), lower-cased.  malloc'd. */
static char *name_key(const char *name)
{
    size_t len = strlen(name);
    char *k = malloc(len + 2);
    if (!k) return NULL;
    colname_sanitize(name, len, k, len + 2);
    for (char *c = k; *c; c++)
        if (*c >= 'A' && *c <= 'Z') *c = (char)(*c - 'A' + 'a');
    return k;
}

/* What column i is called before duplicates are resolved. */
static char *candidate(const char *raw, size_t column)
{
    size_t len = strlen(raw);
    char *san = malloc(len + 2), *out;
    if (!san) return NULL;
    int web = colname_sanitize(raw, len, san, len + 2);
    if (!raw[0] || (!web && !san[0])) {
        free(san);
        if (!(out = malloc(32))) return NULL;
        snprintf(out, 32, "column_%zu", column);
        return out;
    }
    if (!web && strlen(san) > COLNAME_MAX) {
        /* cut, and made unique and stable by a hash of the whole name */
        if ((out = malloc(COLNAME_MAX + 1)))
            snprintf(out, COLNAME_MAX + 1, "%.*s_%08x", COLNAME_MAX - 9, san,
                     fnv1a(raw));
        free(san);
        return out;
    }
    free(san);
    return strdup(raw);
}

/* base + "_k", cut so that it stays within COLNAME_MAX (unless only the
 * server can transliterate it). */
static char *suffixed(const char *base, unsigned long k)
{
    char suffix[24];
    size_t len = strlen(base), slen;
    int web = 0;
    for (const char *c = base; *c; c++)
        if ((unsigned char)*c >= 0x80) web = 1;
    slen = (size_t)snprintf(suffix, sizeof suffix, "_%lu", k);
    if (!web && len + slen > COLNAME_MAX) len = COLNAME_MAX - slen;
    char *out = malloc(len + slen + 1);
    if (!out) return NULL;
    memcpy(out, base, len);
    memcpy(out + len, suffix, slen + 1);
    return out;
}

long colname_repair(const char *const *raw, size_t n, char ***out)
{
    name_set all = {0}, seen = {0};
    char **names = calloc(n ? n : 1, sizeof *names);
    char **keys = calloc(n ? n : 1, sizeof *keys);
    long changed = -1;

    *out = NULL;
    if (!names || !keys || set_init(&all, 2 * n) < 0 || set_init(&seen, 2 * n) < 0)
        goto done;
    for (size_t i = 0; i < n; i++) {
        if (!(names[i] = candidate(raw[i], i + 1)) ||
            !(keys[i] = name_key(names[i])) || set_has(&all, keys[i], 1) < 0)
            goto done;
    }
    /* the first column of a name keeps it; a later one gets the first
     * free "_2", "_3"... that no column of the file has */
    for (size_t i = 0; i < n; i++) {
        int had = set_has(&seen, keys[i], 1);
        if (had < 0) goto done;
        if (!had) continue;
        size_t blen = strlen(keys[i]);
        char *base = malloc(blen + 2);
        if (!base) goto done;
        int web = colname_sanitize(names[i], strlen(names[i]), base, blen + 2);
        if (web) strcpy(base, names[i]);
        for (unsigned long k = 2;; k++) {
            char *s = suffixed(base, k), *key = s ? name_key(s) : NULL;
            int taken = key ? set_has(&all, key, 0) : -1;
            if (taken == 0 && (set_has(&all, key, 1) < 0 || set_has(&seen, key, 1) < 0))
                taken = -1;
            free(key);
            if (taken < 0) {
                free(s);
                free(base);
                goto done;
            }
            if (!taken) {
                free(names[i]);
                names[i] = s;
                break;
            }
            free(s);
        }
        free(base);
    }
    changed = 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], raw[i]) != 0) changed++;
done:
    set_free(&all);
    set_free(&seen);
    for (size_t i = 0; keys && i < n; i++) free(keys[i]);
    free(keys);
    if (changed < 0) {
        for (size_t i = 0; names && i < n; i++) free(names[i]);
        free(names);
    } else {
        *out = names;
    }
    return changed;
}
