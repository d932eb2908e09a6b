/* colname.h - column names as Keboola Storage will store them.
 *
 * Keboola sanitises the names in a CSV header before matching them against
 * a table (keboola-storage-api.md, 3.6): every run of characters outside
 * [A-Za-z0-9_] becomes one '_', leading and trailing '_' go, and the result
 * must be 1..64 characters; the system column names oid, tableoid, xmin,
 * cmin, xmax, cmax and ctid (any case) get a '_' appended (`oid_`).  Non-ASCII names are transliterated by the
 * server's iconv, which we cannot reproduce: they are flagged for the
 * `webalize/column-names` endpoint instead of being guessed.  Names are
 * unique case-insensitively.  Pure C. */
#ifndef KBSYNCD_COLNAME_H
#define KBSYNCD_COLNAME_H
#include <stddef.h>

#define COLNAME_MAX 64

/* Writes the sanitised form of raw[0..len) to out (NUL-terminated, at most
 * outsz-1 bytes; outsz >= len + 2 never truncates).  Returns 1 when the name
 * holds non-ASCII bytes: then `out` is the raw name unchanged and only the
 * server can say what it becomes. */
int colname_sanitize(const char *raw, size_t len, char *out, size_t outsz);

/* One problem with a header name. */
typedef struct colname_issue {
    size_t column;       /* 1-based position in the header */
    size_t other;        /* for a collision: the earlier column, else 0 */
    const char *message; /* static text: what is wrong */
    /* the same, naming the column by position and raw name:
     * `column 3 "a": same name as column 1 after sanitising ...` */
    char text[200];
} colname_issue;

/* Checks a whole header: empty names, names that sanitise to nothing,
 * names longer than COLNAME_MAX after sanitising and names that collide
 * (case-insensitively, after sanitising) with an earlier one.  `keboola[i]` are the sanitised names and `webalize[i]` the flags
 * colname_sanitize returned (names needing the server are only checked for
 * emptiness and exact duplicates).  Writes at most `max` issues in column
 * order and returns how many there are in total (-1 when out of memory). */
long colname_check(const char *const *raw, const char *const *keboola,
                   const unsigned char *webalize, size_t n,
                   colname_issue *out, size_t max);

/* policy.repair.names: names Keboola takes, the same for the same header at
 * every load.  An empty name (or one that sanitises to nothing) becomes
 * `column_N`, N its 1-based position; a name longer than COLNAME_MAX after
 * sanitising becomes its sanitised form cut to 55 characters, '_' and 8
 * hex digits of a hash (FNV-1a) of the whole raw name; a later column whose
 * name collides (as colname_check compares) with an earlier one becomes the
 * earlier one's sanitised name with the first free `_2`, `_3`... that no
 * column of the header has.  Other names are kept as they are.  Sets *out
 * to n malloc'd names (the caller frees each, then the array) and returns
 * how many differ from raw; -1 (and *out NULL) when out of memory. */
long colname_repair(const char *const *raw, size_t n, char ***out);
#endif
