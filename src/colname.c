/* colname.c - see colname.h. */
#include "colname.h"

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
