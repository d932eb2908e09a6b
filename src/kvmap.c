/* kvmap.c - see kvmap.h. */
#include "kvmap.h"

#include <stdlib.h>
#include <string.h>

#define SLOT_EMPTY UINT32_MAX       /* in klen: never used */
#define SLOT_DEAD (UINT32_MAX - 1)  /* in klen: deleted (a tombstone) */
#define SIZE_LIMIT (UINT32_MAX - 2) /* a key, a value, the whole buffer */

typedef struct slot {
    uint32_t off;  /* of the key in buf; the value follows it */
    uint32_t klen; /* or SLOT_EMPTY / SLOT_DEAD */
    uint32_t vlen;
    uint32_t hash;
} slot;

struct kvmap {
    slot *slots;
    size_t cap;   /* slots: 0 or a power of two */
    size_t count; /* live entries */
    size_t used;  /* live entries + tombstones */
    char *buf;
    size_t len;   /* bytes written to buf */
    size_t size;  /* bytes allocated for buf */
    size_t dead;  /* bytes of buf no entry points at */
};

static uint32_t hash_of(const void *key, size_t klen)
{
    /* FNV-1a: keys are short paths and ids, and the table is probed
     * linearly, so a simple hash with good low bits is enough */
    const unsigned char *p = key;
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < klen; i++) h = (h ^ p[i]) * 16777619u;
    return h;
}

static int is_live(const slot *s) { return s->klen != SLOT_EMPTY && s->klen != SLOT_DEAD; }

kvmap *kvmap_new(void) { return calloc(1, sizeof(kvmap)); }

void kvmap_free(kvmap *m)
{
    if (!m) return;
    free(m->slots);
    free(m->buf);
    free(m);
}

size_t kvmap_count(const kvmap *m) { return m->count; }

size_t kvmap_bytes(const kvmap *m) { return sizeof *m + m->cap * sizeof(slot) + m->size; }

/* The slot holding key, or SIZE_MAX. */
static size_t find(const kvmap *m, const void *key, size_t klen, uint32_t h)
{
    if (m->cap == 0) return SIZE_MAX;
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        const slot *s = &m->slots[i];
        if (s->klen == SLOT_EMPTY) return SIZE_MAX;
        if (s->klen == klen && s->hash == h && memcmp(m->buf + s->off, key, klen) == 0) return i;
    }
}

/* A new slot array of `cap` slots holding the live entries only. */
static int rehash(kvmap *m, size_t cap)
{
    slot *slots = malloc(cap * sizeof(slot));
    if (!slots) return -1;
    for (size_t i = 0; i < cap; i++) slots[i].klen = SLOT_EMPTY;
    for (size_t i = 0; i < m->cap; i++) {
        const slot *s = &m->slots[i];
        if (!is_live(s)) continue;
        size_t j = s->hash & (cap - 1);
        while (slots[j].klen != SLOT_EMPTY) j = (j + 1) & (cap - 1);
        slots[j] = *s;
    }
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
    m->used = m->count;
    return 0;
}

/* Copies the live records into a buffer just big enough; slots keep their
 * places (so an iteration survives it), only their offsets change. */
static int compact(kvmap *m)
{
    size_t live = m->len - m->dead;
    char *buf = malloc(live ? live : 1);
    if (!buf) return -1;
    size_t at = 0;
    for (size_t i = 0; i < m->cap; i++) {
        slot *s = &m->slots[i];
        if (!is_live(s)) continue;
        memcpy(buf + at, m->buf + s->off, (size_t)s->klen + s->vlen);
        s->off = (uint32_t)at;
        at += (size_t)s->klen + s->vlen;
    }
    free(m->buf);
    m->buf = buf;
    m->len = m->size = at;
    m->dead = 0;
    return 0;
}

static void maybe_compact(kvmap *m)
{
    /* dead bytes are garbage the map holds on to; a failed compaction
     * only means they stay a while longer */
    if (m->dead > 4096 && m->dead > m->len - m->dead) (void)compact(m);
}

/* Appends key and value to buf; their offset, or -1. */
static int64_t append(kvmap *m, const void *key, size_t klen, const void *val, size_t vlen)
{
    size_t need = m->len + klen + vlen;
    if (need > SIZE_LIMIT) return -1;
    if (need > m->size) {
        size_t size = m->size ? m->size : 256;
        while (size < need) size *= 2;
        if (size > SIZE_LIMIT) size = SIZE_LIMIT;
        char *buf = realloc(m->buf, size);
        if (!buf) return -1;
        m->buf = buf;
        m->size = size;
    }
    int64_t off = (int64_t)m->len;
    if (klen) memcpy(m->buf + m->len, key, klen);
    if (vlen) memcpy(m->buf + m->len + klen, val, vlen);
    m->len = need;
    return off;
}

int kvmap_set(kvmap *m, const void *key, size_t klen, const void *val, size_t vlen)
{
    if (klen > SIZE_LIMIT || vlen > SIZE_LIMIT) return -1;
    uint32_t h = hash_of(key, klen);
    size_t i = find(m, key, klen, h);
    if (i != SIZE_MAX) {
        slot *s = &m->slots[i];
        if (vlen <= s->vlen) {
            if (vlen) memcpy(m->buf + s->off + s->klen, val, vlen);
            m->dead += s->vlen - vlen;
            s->vlen = (uint32_t)vlen;
        } else {
            int64_t off = append(m, key, klen, val, vlen);
            if (off < 0) return -1;
            m->dead += (size_t)s->klen + s->vlen;
            s->off = (uint32_t)off;
            s->vlen = (uint32_t)vlen;
        }
        maybe_compact(m);
        return 0;
    }
    /* at most 3/4 of the slots in use (tombstones count: they lengthen
     * probes); the new size is set by the live entries alone */
    if ((m->used + 1) * 4 > m->cap * 3) {
        size_t cap = 8;
        while ((m->count + 1) * 2 > cap) cap *= 2;
        if (rehash(m, cap) < 0) return -1;
    }
    int64_t off = append(m, key, klen, val, vlen);
    if (off < 0) return -1;
    size_t mask = m->cap - 1, j = h & mask;
    while (is_live(&m->slots[j])) j = (j + 1) & mask;
    if (m->slots[j].klen == SLOT_EMPTY) m->used++;
    m->slots[j] = (slot){ .off = (uint32_t)off, .klen = (uint32_t)klen, .vlen = (uint32_t)vlen, .hash = h };
    m->count++;
    return 0;
}

int kvmap_get(const kvmap *m, const void *key, size_t klen, const char **val, size_t *vlen)
{
    size_t i = find(m, key, klen, hash_of(key, klen));
    if (i == SIZE_MAX) return 0;
    *val = m->buf + m->slots[i].off + m->slots[i].klen;
    *vlen = m->slots[i].vlen;
    return 1;
}

int kvmap_del(kvmap *m, const void *key, size_t klen)
{
    size_t i = find(m, key, klen, hash_of(key, klen));
    if (i == SIZE_MAX) return 0;
    slot *s = &m->slots[i];
    m->dead += (size_t)s->klen + s->vlen;
    s->klen = SLOT_DEAD;
    m->count--;
    if (m->count == 0) {
        /* an empty map gives everything back */
        free(m->slots);
        free(m->buf);
        m->slots = NULL;
        m->buf = NULL;
        m->cap = m->used = m->len = m->size = m->dead = 0;
        return 1;
    }
    maybe_compact(m);
    return 1;
}

size_t kvmap_next(const kvmap *m, size_t cursor, const char **key, size_t *klen,
                  const char **val, size_t *vlen)
{
    for (size_t i = cursor; i < m->cap; i++) {
        const slot *s = &m->slots[i];
        if (!is_live(s)) continue;
        *key = m->buf + s->off;
        *klen = s->klen;
        *val = m->buf + s->off + s->klen;
        *vlen = s->vlen;
        return i + 1;
    }
    return 0;
}
