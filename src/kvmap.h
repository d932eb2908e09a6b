/* kvmap.h - a compact map from byte-string keys to byte-string values.
 *
 * Why it exists: an idle daemon holds a few small records for every file
 * it tracks (the state entry, the stat key, the table name, the remote
 * table's columns) for its whole life.  As Lua tables and strings they cost
 * about a kilobyte each, in thousands of small allocations that the
 * start-up burst scatters over the heap, so the pages around them can
 * never go back to the OS.  Here all keys and values of one map live in a
 * single byte buffer beside a single slot array: two allocations per map,
 * whatever the number of entries, and 16 bytes of overhead per entry.
 *
 * Open addressing with linear probing over a power-of-two slot array.
 * Replacing a value with one no longer than it rewrites it in place;
 * otherwise the record is appended and the old bytes count as dead until
 * the buffer is compacted (when dead bytes outweigh live ones).
 *
 * Iteration walks the slots: deleting the entry just returned is safe (a
 * tombstone keeps the slot), adding entries during an iteration is not
 * (the slots may be rebuilt), as with Lua's next().  Pure C. */
#ifndef KBSYNCD_KVMAP_H
#define KBSYNCD_KVMAP_H
#include <stddef.h>
#include <stdint.h>

typedef struct kvmap kvmap;

kvmap *kvmap_new(void); /* NULL when out of memory */
void kvmap_free(kvmap *m);

/* 0, or -1 when out of memory or a size above 4 GiB (the map unchanged). */
int kvmap_set(kvmap *m, const void *key, size_t klen, const void *val, size_t vlen);

/* 1 and the value (valid until the next change of the map), or 0. */
int kvmap_get(const kvmap *m, const void *key, size_t klen, const char **val, size_t *vlen);

/* 1 when the key was there. */
int kvmap_del(kvmap *m, const void *key, size_t klen);

size_t kvmap_count(const kvmap *m);

/* Bytes allocated for the map (slots, buffer and header). */
size_t kvmap_bytes(const kvmap *m);

/* Iteration: start with cursor 0; each call returns the cursor for the
 * next call and the entry found, or 0 at the end. */
size_t kvmap_next(const kvmap *m, size_t cursor, const char **key, size_t *klen,
                  const char **val, size_t *vlen);
#endif
