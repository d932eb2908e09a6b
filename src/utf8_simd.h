/* utf8_simd.h - whole-block UTF-8 validators behind utf8_feed (internal;
 * only src/utf8.c and the tests use it).
 *
 * A block validator checks p[i..n) 64 bytes at a time, starting at a
 * character boundary (v->need == 0), and keeps v's position bookkeeping
 * (offset, line, line start, continuation counts) as utf8_feed's exact
 * byte-by-byte path would.  It stops before the first block it cannot
 * accept (one holding an error, or fewer than 64 bytes left) and leaves v
 * at the last character boundary before that point, so the exact path can
 * take over from a state it knows and word any error exactly as it always
 * does.  It returns that boundary (an index into p) and sets *stop to where
 * the exact path must have taken over to: the end of the rejected block, or
 * n.  Everything in [returned index, *stop) still has to go through the
 * exact path. */
#ifndef KBSYNCD_UTF8_SIMD_H
#define KBSYNCD_UTF8_SIMD_H
#include <stddef.h>

#include "utf8.h"

typedef size_t (*utf8_blocks_fn)(utf8_validator *v, const unsigned char *p,
                                 size_t i, size_t n, size_t *stop);

/* The validator called `name` ("avx2", "ssse3"), or NULL when this build
 * has no such code or this CPU cannot run it. */
utf8_blocks_fn utf8_simd_blocks(const char *name);
#endif
