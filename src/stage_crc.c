/* stage_crc.c - see stage_crc.h.
 *
 * The folding follows Intel's "Fast CRC Computation for Generic Polynomials
 * Using PCLMULQDQ Instruction" (Gopal et al., 2009) for the bit-reflected
 * polynomial 0x104C11DB7: four 128-bit lanes are folded 64 bytes ahead with
 * the constants x^(4*128+32) and x^(4*128-32) mod P, then merged into one
 * lane with x^(128+32) and x^(128-32) mod P.  Instead of the paper's Barrett
 * reduction, the last 16-byte lane is fed to zlib's table-driven crc32 from
 * a zero register: folding keeps the remainder, so that gives the same CRC
 * (test_stage_crc checks it against zlib on random inputs). */
#include "stage_crc.h"

#include <zlib.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <emmintrin.h>
#include <wmmintrin.h>

#define FOLD(x, k, next)                                                    \
    do {                                                                    \
        __m128i lo_ = _mm_clmulepi64_si128(x, k, 0x00);                     \
        x = _mm_clmulepi64_si128(x, k, 0x11);                               \
        x = _mm_xor_si128(_mm_xor_si128(x, lo_), next);                     \
    } while (0)

__attribute__((target("pclmul,sse2")))
static uint32_t crc32_fold(uint32_t crc, const unsigned char *p, size_t n)
{
    const __m128i k1k2 = _mm_set_epi64x(0x1c6e41596LL, 0x154442bd4LL);
    const __m128i k3k4 = _mm_set_epi64x(0x0ccaa009eLL, 0x1751997d0LL);
    const __m128i *q = (const __m128i *)(const void *)p;
    __m128i x0 = _mm_loadu_si128(q), x1 = _mm_loadu_si128(q + 1);
    __m128i x2 = _mm_loadu_si128(q + 2), x3 = _mm_loadu_si128(q + 3);
    unsigned char last[16];

    /* zlib's crc is the complement of the register */
    x0 = _mm_xor_si128(x0, _mm_cvtsi32_si128((int)~crc));
    for (p += 64, n -= 64; n >= 64; p += 64, n -= 64) {
        q = (const __m128i *)(const void *)p;
        FOLD(x0, k1k2, _mm_loadu_si128(q));
        FOLD(x1, k1k2, _mm_loadu_si128(q + 1));
        FOLD(x2, k1k2, _mm_loadu_si128(q + 2));
        FOLD(x3, k1k2, _mm_loadu_si128(q + 3));
    }
    FOLD(x0, k3k4, x1);
    FOLD(x0, k3k4, x2);
    FOLD(x0, k3k4, x3);
    for (; n >= 16; p += 16, n -= 16)
        FOLD(x0, k3k4, _mm_loadu_si128((const __m128i *)(const void *)p));
    _mm_storeu_si128((__m128i *)(void *)last, x0);
    crc = (uint32_t)crc32(0xFFFFFFFFu, last, 16); /* from a zero register */
    return (uint32_t)crc32(crc, p, (uInt)n);
}

static int has_pclmul(void)
{
    static int known = -1;
    if (known < 0) {
        __builtin_cpu_init();
        known = __builtin_cpu_supports("pclmul") ? 1 : 0;
    }
    return known;
}
#endif

uint32_t stage_crc32(uint32_t crc, const unsigned char *p, size_t n)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    if (n >= 64 && has_pclmul()) return crc32_fold(crc, p, n);
#endif
    while (n > 0) { /* zlib takes uInt lengths */
        uInt part = n > (1u << 30) ? (1u << 30) : (uInt)n;
        crc = (uint32_t)crc32(crc, p, part);
        p += part;
        n -= part;
    }
    return crc;
}
