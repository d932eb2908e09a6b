/* test_kvmap.c - the compact map against a plain reference model. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvmap.h"
#include "tap.h"
#include "testrand.h"

#define NKEYS 3000

/* The reference: key i is "k<i>" (key 0 is the empty string), its value
 * (or none) kept in plain arrays. */
static char *ref_val[NKEYS];
static size_t ref_len[NKEYS];
static int ref_has[NKEYS];

static size_t key_of(int i, char *buf)
{
    if (i == 0) return 0;
    return (size_t)sprintf(buf, "folder_%03d/file_%d.csv", i % 97, i);
}


/* Every key of the reference reads back the same from the map. */
static int matches(const kvmap *m)
{
    size_t n = 0;
    for (int i = 0; i < NKEYS; i++) {
        char k[64];
        size_t kl = key_of(i, k), vl;
        const char *v;
        int found = kvmap_get(m, k, kl, &v, &vl);
        if (found != ref_has[i]) return 0;
        if (found && (vl != ref_len[i] || memcmp(v, ref_val[i], vl) != 0)) return 0;
        n += (size_t)ref_has[i];
    }
    return kvmap_count(m) == n;
}

static void ref_set(int i, const char *v, size_t vl)
{
    free(ref_val[i]);
    ref_val[i] = malloc(vl ? vl : 1);
    memcpy(ref_val[i], v, vl);
    ref_len[i] = vl;
    ref_has[i] = 1;
}

int main(void)
{
    kvmap *m = kvmap_new();
    TAP_OK(m && kvmap_count(m) == 0, "a new map is empty");
    const char *v;
    size_t vl;
    TAP_OK(!kvmap_get(m, "x", 1, &v, &vl) && !kvmap_del(m, "x", 1), "get and del on an empty map");

    /* values with NUL bytes and the empty key are plain bytes */
    TAP_OK(kvmap_set(m, "", 0, "a\0b", 3) == 0 && kvmap_get(m, "", 0, &v, &vl) && vl == 3 &&
               memcmp(v, "a\0b", 3) == 0,
           "the empty key and a value with a NUL byte");
    TAP_OK(kvmap_set(m, "e", 1, "", 0) == 0 && kvmap_get(m, "e", 1, &v, &vl) && vl == 0,
           "an empty value is a value, not a deletion");
    kvmap_del(m, "", 0);
    kvmap_del(m, "e", 1);
    TAP_OK(kvmap_count(m) == 0, "deleting the last entries empties the map");
    TAP_OK(kvmap_bytes(m) < 256, "and an empty map gives its buffers back (%zu bytes)", kvmap_bytes(m));

    /* random operations, checked against the reference after each round */
    int ok = 1;
    char val[2048];
    for (int round = 0; round < 40 && ok; round++) {
        for (int op = 0; op < 2000; op++) {
            int i = (int)(rnd(NKEYS));
            char k[64];
            size_t kl = key_of(i, k);
            unsigned what = rnd(10);
            if (what < 7) {
                /* lengths that shrink and grow, so both in-place and
                 * appended replacements happen */
                size_t n = rnd(what < 2 ? 1500 : 60);
                for (size_t j = 0; j < n; j++) val[j] = (char)rnd(256);
                if (kvmap_set(m, k, kl, val, n) != 0) ok = 0;
                ref_set(i, val, n);
            } else {
                int was = kvmap_del(m, k, kl);
                if (was != ref_has[i]) ok = 0;
                ref_has[i] = 0;
            }
        }
        if (!matches(m)) ok = 0;
    }
    TAP_OK(ok, "80,000 random sets, replacements and deletions agree with the reference");

    /* iteration sees every live entry once; deleting while iterating is safe */
    size_t seen = 0, cursor = 0, kl;
    const char *k;
    int dup = 0;
    static unsigned char mark[NKEYS];
    memset(mark, 0, sizeof mark);
    while ((cursor = kvmap_next(m, cursor, &k, &kl, &v, &vl)) != 0) {
        char key[64];
        memcpy(key, k, kl);
        key[kl] = 0;
        int i = kl == 0 ? 0 : atoi(strrchr(key, '_') + 1);
        if (mark[i]++) dup = 1;
        if (!ref_has[i] || vl != ref_len[i] || memcmp(v, ref_val[i], vl) != 0) dup = 1;
        seen++;
        if (i % 2 == 0) { /* delete every even key as it is visited */
            kvmap_del(m, key, kl);
            ref_has[i] = 0;
        }
    }
    size_t live = 0;
    for (int i = 0; i < NKEYS; i++) live += mark[i] ? 1 : 0;
    TAP_OK(!dup && seen == live, "iteration: each entry once, with its value (%zu)", seen);
    TAP_OK(matches(m), "entries deleted during the iteration are gone, the others intact");

    /* the same keys rewritten over and over: dead bytes are reclaimed */
    size_t before = kvmap_bytes(m);
    for (int r = 0; r < 200; r++) {
        for (int i = 1; i < NKEYS; i += 2) {
            if (!ref_has[i]) continue;
            char key[64];
            size_t n = 100 + (size_t)((r + i) % 7) * 20;
            memset(val, 'a' + r % 26, n);
            kvmap_set(m, key, key_of(i, key), val, n);
            ref_set(i, val, n);
        }
    }
    TAP_OK(matches(m), "200 rewrites of every entry read back");
    TAP_OK(kvmap_bytes(m) < 4 * (before + 1500 * 240),
           "memory stays bounded under rewrites (%zu bytes before, %zu after)", before, kvmap_bytes(m));

    /* overhead per entry: 1,000 state-like records */
    kvmap *small = kvmap_new();
    size_t payload = 0;
    for (int i = 1; i <= 1000; i++) {
        char key[64];
        size_t n = key_of(i, key);
        kvmap_set(small, key, n, val, 300);
        payload += n + 300;
    }
    TAP_OK(kvmap_bytes(small) < payload * 2 + 1000 * 16 * 4,
           "1,000 records of 300 bytes: %zu bytes held for %zu bytes of data", kvmap_bytes(small), payload);
    kvmap_free(small);
    kvmap_free(m);
    kvmap_free(NULL);
    for (int i = 0; i < NKEYS; i++) free(ref_val[i]);
    return tap_done();
}
