/* testrand.h - the seeded random source of the C tests (xorshift64): the
 * same seed gives the same cases on every machine, so a failure replays. */
#ifndef KBSYNCD_TESTRAND_H
#define KBSYNCD_TESTRAND_H
#include <stdint.h>

static uint64_t test_rng = 0x9E3779B97F4A7C15ULL;

static inline void rnd_seed(uint64_t seed) { test_rng = seed ? seed : 1; }

/* A number in [0, n). */
static inline unsigned rnd(unsigned n)
{
    test_rng ^= test_rng << 13;
    test_rng ^= test_rng >> 7;
    test_rng ^= test_rng << 17;
    return (unsigned)(test_rng % n);
}
#endif
