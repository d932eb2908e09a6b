/* utf8_simd.c - see utf8_simd.h; docs/staging.md describes the method.
 *
 * Text with an accented letter every few dozen bytes defeats an ASCII fast
 * path: it falls back to the byte-at-a-time decoder at every such letter.
 * These validators check mixed text at full width instead.
 *
 * Every way UTF-8 can be malformed shows either in a pair of adjacent bytes
 * or in whether a byte two or three places after a lead byte is a
 * continuation byte.  For the pairs, each byte is looked up in three
 * 16-entry tables (one PSHUFB each): by the high nibble of the byte before
 * it, by that byte's low nibble, and by its own high nibble.  An entry is
 * the set of error classes that nibble is consistent with; the pair is
 * malformed exactly when a class survives the AND of the three.  For the
 * longer sequences, a continuation byte that follows another continuation
 * byte (class TWO_CONTS) must line up with a 3- or 4-byte lead two or three
 * bytes back, and such a lead must be followed by continuation bytes: the
 * XOR of the two conditions flags both mistakes.  NUL bytes are valid UTF-8
 * but refused here (see utf8.h), so they are checked separately.
 *
 * Blocks are 64 bytes; the last three bytes of one block are the "previous"
 * bytes of the next, so characters straddling blocks are checked like any
 * other.  A character cut by the end of the run is not judged here: the
 * exact path gets it (see utf8_simd.h).  The error position is not worked
 * out from the vectors either: a block with any error goes to the exact
 * path, which reports it the same way it always has. */
#include "utf8_simd.h"

#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define UTF8_SIMD_X86 1
#include <immintrin.h>
#endif

#if defined(UTF8_SIMD_X86)

/* Error classes, one bit each. */
#define TOO_SHORT (1 << 0)      /* a lead byte not followed by a continuation */
#define TOO_LONG (1 << 1)       /* ASCII followed by a continuation byte */
#define OVERLONG_3 (1 << 2)     /* E0 80..9F */
#define TOO_LARGE (1 << 3)      /* F4 90..BF, F5..FF 90..BF */
#define SURROGATE (1 << 4)      /* ED A0..BF */
#define OVERLONG_2 (1 << 5)     /* C0 or C1 followed by a continuation */
#define TOO_LARGE_1000 (1 << 6) /* F5..FF 80..8F */
/* F0 80..8F shares the bit: both have a high nibble F before and 8 after,
 * and the low nibble (0 against 5..F) already tells them apart. */
#define OVERLONG_4 (1 << 6)
#define TWO_CONTS (1 << 7) /* continuation after continuation */
/* the classes the previous byte's low nibble does not decide */
#define CARRY (TOO_SHORT | TOO_LONG | TWO_CONTS)

/* by the high nibble of the previous byte */
static const unsigned char prev_high[16] = {
    TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG,     /* 0x00..0x3F */
    TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG,     /* 0x40..0x7F */
    TWO_CONTS, TWO_CONTS, TWO_CONTS, TWO_CONTS, /* 0x80..0xBF */
    TOO_SHORT | OVERLONG_2,                     /* 0xC0..0xCF */
    TOO_SHORT,                                  /* 0xD0..0xDF */
    TOO_SHORT | OVERLONG_3 | SURROGATE,         /* 0xE0..0xEF */
    TOO_SHORT | TOO_LARGE | TOO_LARGE_1000 | OVERLONG_4, /* 0xF0..0xFF */
};

/* by the low nibble of the previous byte */
static const unsigned char prev_low[16] = {
    CARRY | OVERLONG_2 | OVERLONG_3 | OVERLONG_4,  /* C0, E0, F0 */
    CARRY | OVERLONG_2,                            /* C1 */
    CARRY,
    CARRY,
    CARRY | TOO_LARGE,                             /* F4 */
    CARRY | TOO_LARGE | TOO_LARGE_1000,            /* F5.. */
    CARRY | TOO_LARGE | TOO_LARGE_1000,
    CARRY | TOO_LARGE | TOO_LARGE_1000,
    CARRY | TOO_LARGE | TOO_LARGE_1000,
    CARRY | TOO_LARGE | TOO_LARGE_1000,
    CARRY | TOO_LARGE | TOO_LARGE_1000,
    CARRY | TOO_LARGE | TOO_LARGE_1000,
    CARRY | TOO_LARGE | TOO_LARGE_1000,
    CARRY | TOO_LARGE | TOO_LARGE_1000 | SURROGATE, /* ED, FD */
    CARRY | TOO_LARGE | TOO_LARGE_1000,
    CARRY | TOO_LARGE | TOO_LARGE_1000,
};

/* by the high nibble of the byte itself */
static const unsigned char cur_high[16] = {
    TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, /* ASCII */
    TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT,
    TOO_LONG | OVERLONG_2 | TWO_CONTS | OVERLONG_3 | TOO_LARGE_1000 |
        OVERLONG_4,                                            /* 0x80..0x8F */
    TOO_LONG | OVERLONG_2 | TWO_CONTS | OVERLONG_3 | TOO_LARGE, /* 0x90..0x9F */
    TOO_LONG | OVERLONG_2 | TWO_CONTS | SURROGATE | TOO_LARGE,  /* 0xA0..0xAF */
    TOO_LONG | OVERLONG_2 | TWO_CONTS | SURROGATE | TOO_LARGE,  /* 0xB0..0xBF */
    TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, /* lead bytes */
};

/* Saturating-subtracting this from the last 16 bytes of a block leaves a
 * non-zero byte exactly when a character is still open at the block end:
 * a lead of 2+ bytes last, of 3+ second to last, of 4 third to last. */
static const unsigned char open_at_end[16] = {
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xF0 - 1, 0xE0 - 1, 0xC0 - 1,
};

/* The position bookkeeping of utf8_validator, kept in locals while a run
 * of blocks is checked. */
typedef struct pos {
    uint64_t offset, line, line_start, cont, cont_at_line_start;
} pos;

static inline pos pos_load(const utf8_validator *v)
{
    pos s = {v->offset, v->line, v->line_start, v->cont_total,
             v->cont_at_line_start};
    return s;
}

/* A valid 64-byte block: newlines at the bits of `nl`, continuation bytes
 * at the bits of `cont`.  Columns count characters, so what matters is the
 * number of continuation bytes before the last newline.  The popcounts are
 * inlined into each validator and so use its instruction set. */
#define POS_ACCOUNT(s, nl, cont)                                             \
    do {                                                                     \
        if (nl) {                                                            \
            unsigned last_ = 63u - (unsigned)__builtin_clzll(nl);            \
            (s).line += (uint64_t)__builtin_popcountll(nl);                  \
            (s).line_start = (s).offset + last_ + 1;                         \
            (s).cont_at_line_start =                                         \
                (s).cont +                                                   \
                (uint64_t)__builtin_popcountll((cont) & (~0ULL >> (63u - last_))); \
        }                                                                    \
        (s).cont += (uint64_t)__builtin_popcountll(cont);                    \
        (s).offset += 64;                                                    \
    } while (0)

/* The last character boundary at or before p[i], given that everything in
 * p[start, i) passed the block checks: a character cut at i starts at most
 * three bytes back (i - start is 0 or at least 64). */
static size_t boundary(const unsigned char *p, size_t start, size_t i)
{
    if (i == start) return i;
    for (size_t j = i - 1; j >= i - 3; j--) {
        const unsigned char c = p[j];
        if (c < 0x80) return i;
        if (c >= 0xC0) {
            size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
            return j + len > i ? j : i;
        }
    }
    return i; /* three continuation bytes: a 4-byte character ends at i */
}

/* Stores the bookkeeping for the boundary b <= i: the bytes of the open
 * character in [b, i) were counted by block; the exact path counts them
 * again when it completes the character. */
static size_t pos_store(utf8_validator *v, const pos *s,
                        const unsigned char *p, size_t start, size_t i)
{
    size_t b = boundary(p, start, i);
    v->offset = s->offset - (i - b);
    v->line = s->line;
    v->line_start = s->line_start;
    v->cont_total = s->cont - (b < i ? i - b - 1 : 0);
    v->cont_at_line_start = s->cont_at_line_start;
    return b;
}

/* ---- SSSE3: 16 bytes per vector ---------------------------------------- */

#define SSSE3 __attribute__((target("ssse3")))

/* The error classes of each byte of `cur`, `prev` being the 16 bytes before
 * it: zero where all is well. */
SSSE3 static inline __m128i check16(__m128i cur, __m128i prev, __m128i t_ph,
                                    __m128i t_pl, __m128i t_ch)
{
    const __m128i nib = _mm_set1_epi8(0x0F);
    const __m128i prev1 = _mm_alignr_epi8(cur, prev, 15);
    const __m128i prev2 = _mm_alignr_epi8(cur, prev, 14);
    const __m128i prev3 = _mm_alignr_epi8(cur, prev, 13);
    __m128i e = _mm_and_si128(
        _mm_and_si128(
            _mm_shuffle_epi8(t_ph, _mm_and_si128(_mm_srli_epi16(prev1, 4), nib)),
            _mm_shuffle_epi8(t_pl, _mm_and_si128(prev1, nib))),
        _mm_shuffle_epi8(t_ch, _mm_and_si128(_mm_srli_epi16(cur, 4), nib)));
    /* 0x80 where a lead 2 back is E0+ or 3 back is F0+ */
    __m128i must = _mm_or_si128(
        _mm_subs_epu8(prev2, _mm_set1_epi8((char)(0xE0 - 0x80))),
        _mm_subs_epu8(prev3, _mm_set1_epi8((char)(0xF0 - 0x80))));
    must = _mm_and_si128(must, _mm_set1_epi8((char)0x80));
    return _mm_xor_si128(e, must);
}

SSSE3 static inline uint64_t mask64_16(__m128i a, __m128i b, __m128i c,
                                       __m128i d)
{
    return (uint64_t)(unsigned)_mm_movemask_epi8(a) |
           (uint64_t)(unsigned)_mm_movemask_epi8(b) << 16 |
           (uint64_t)(unsigned)_mm_movemask_epi8(c) << 32 |
           (uint64_t)(unsigned)_mm_movemask_epi8(d) << 48;
}

SSSE3 static size_t blocks_ssse3(utf8_validator *v, const unsigned char *p,
                                 size_t i, size_t n, size_t *stop)
{
    const size_t start = i;
    const __m128i t_ph = _mm_loadu_si128((const __m128i *)(const void *)prev_high);
    const __m128i t_pl = _mm_loadu_si128((const __m128i *)(const void *)prev_low);
    const __m128i t_ch = _mm_loadu_si128((const __m128i *)(const void *)cur_high);
    const __m128i tail = _mm_loadu_si128((const __m128i *)(const void *)open_at_end);
    const __m128i zero = _mm_setzero_si128();
    const __m128i nlv = _mm_set1_epi8((char)v->newline);
    /* signed: below 0xC0 and at least 0x80 */
    const __m128i c0 = _mm_set1_epi8((char)0xC0);
    __m128i prev = zero, open = zero;
    pos s = pos_load(v);

    *stop = n;
    for (; i + 64 <= n; i += 64) {
        const __m128i *q = (const __m128i *)(const void *)(p + i);
        const __m128i a = _mm_loadu_si128(q), b = _mm_loadu_si128(q + 1);
        const __m128i c = _mm_loadu_si128(q + 2), d = _mm_loadu_si128(q + 3);
        const __m128i any = _mm_or_si128(_mm_or_si128(a, b), _mm_or_si128(c, d));
        __m128i err = _mm_cmpeq_epi8(
            _mm_min_epu8(_mm_min_epu8(a, b), _mm_min_epu8(c, d)), zero);
        uint64_t cont = 0;
        if (_mm_movemask_epi8(any) == 0) {
            err = _mm_or_si128(err, open); /* ASCII after an open character */
            open = zero;
        } else {
            err = _mm_or_si128(
                err, _mm_or_si128(_mm_or_si128(check16(a, prev, t_ph, t_pl, t_ch),
                                               check16(b, a, t_ph, t_pl, t_ch)),
                                  _mm_or_si128(check16(c, b, t_ph, t_pl, t_ch),
                                               check16(d, c, t_ph, t_pl, t_ch))));
            open = _mm_subs_epu8(d, tail);
            cont = mask64_16(_mm_cmpgt_epi8(c0, a), _mm_cmpgt_epi8(c0, b),
                             _mm_cmpgt_epi8(c0, c), _mm_cmpgt_epi8(c0, d));
        }
        if (_mm_movemask_epi8(_mm_cmpeq_epi8(err, zero)) != 0xFFFF) {
            *stop = i + 64;
            break;
        }
        const uint64_t nl = mask64_16(_mm_cmpeq_epi8(a, nlv), _mm_cmpeq_epi8(b, nlv),
                                      _mm_cmpeq_epi8(c, nlv), _mm_cmpeq_epi8(d, nlv));
        POS_ACCOUNT(s, nl, cont);
        prev = d;
    }
    return pos_store(v, &s, p, start, i);
}

/* ---- AVX2: 32 bytes per vector ----------------------------------------- */

#define AVX2 __attribute__((target("avx2,popcnt")))

AVX2 static inline __m256i check32(__m256i cur, __m256i prev, __m256i t_ph,
                                   __m256i t_pl, __m256i t_ch)
{
    const __m256i nib = _mm256_set1_epi8(0x0F);
    /* the 32 bytes before cur's lanes: PALIGNR works within 128-bit lanes */
    const __m256i before = _mm256_permute2x128_si256(prev, cur, 0x21);
    const __m256i prev1 = _mm256_alignr_epi8(cur, before, 15);
    const __m256i prev2 = _mm256_alignr_epi8(cur, before, 14);
    const __m256i prev3 = _mm256_alignr_epi8(cur, before, 13);
    __m256i e = _mm256_and_si256(
        _mm256_and_si256(
            _mm256_shuffle_epi8(t_ph, _mm256_and_si256(_mm256_srli_epi16(prev1, 4), nib)),
            _mm256_shuffle_epi8(t_pl, _mm256_and_si256(prev1, nib))),
        _mm256_shuffle_epi8(t_ch, _mm256_and_si256(_mm256_srli_epi16(cur, 4), nib)));
    __m256i must = _mm256_or_si256(
        _mm256_subs_epu8(prev2, _mm256_set1_epi8((char)(0xE0 - 0x80))),
        _mm256_subs_epu8(prev3, _mm256_set1_epi8((char)(0xF0 - 0x80))));
    must = _mm256_and_si256(must, _mm256_set1_epi8((char)0x80));
    return _mm256_xor_si256(e, must);
}

AVX2 static inline __m256i table32(const unsigned char t[16])
{
    return _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)t));
}

AVX2 static inline uint64_t mask64_32(__m256i a, __m256i b)
{
    return (uint64_t)(uint32_t)_mm256_movemask_epi8(a) |
           (uint64_t)(uint32_t)_mm256_movemask_epi8(b) << 32;
}

AVX2 static size_t blocks_avx2(utf8_validator *v, const unsigned char *p,
                               size_t i, size_t n, size_t *stop)
{
    const size_t start = i;
    const __m256i t_ph = table32(prev_high), t_pl = table32(prev_low);
    const __m256i t_ch = table32(cur_high);
    /* only the last bytes of the high lane can hold an open character */
    const __m256i tail = _mm256_inserti128_si256(
        _mm256_set1_epi8((char)0xFF),
        _mm_loadu_si128((const __m128i *)(const void *)open_at_end), 1);
    const __m256i zero = _mm256_setzero_si256();
    const __m256i nlv = _mm256_set1_epi8((char)v->newline);
    const __m256i c0 = _mm256_set1_epi8((char)0xC0);
    __m256i prev = zero, open = zero;
    pos s = pos_load(v);

    *stop = n;
    for (; i + 64 <= n; i += 64) {
        const __m256i *q = (const __m256i *)(const void *)(p + i);
        const __m256i a = _mm256_loadu_si256(q), b = _mm256_loadu_si256(q + 1);
        __m256i err = _mm256_cmpeq_epi8(_mm256_min_epu8(a, b), zero);
        uint64_t cont = 0;
        if (_mm256_movemask_epi8(_mm256_or_si256(a, b)) == 0) {
            err = _mm256_or_si256(err, open);
            open = zero;
        } else {
            err = _mm256_or_si256(err, _mm256_or_si256(check32(a, prev, t_ph, t_pl, t_ch),
                                                       check32(b, a, t_ph, t_pl, t_ch)));
            open = _mm256_subs_epu8(b, tail);
            cont = mask64_32(_mm256_cmpgt_epi8(c0, a), _mm256_cmpgt_epi8(c0, b));
        }
        if (!_mm256_testz_si256(err, err)) {
            *stop = i + 64;
            break;
        }
        const uint64_t nl = mask64_32(_mm256_cmpeq_epi8(a, nlv), _mm256_cmpeq_epi8(b, nlv));
        POS_ACCOUNT(s, nl, cont);
        prev = b;
    }
    return pos_store(v, &s, p, start, i);
}
#endif /* UTF8_SIMD_X86 */

utf8_blocks_fn utf8_simd_blocks(const char *name)
{
#if defined(UTF8_SIMD_X86)
    __builtin_cpu_init();
    /* AVX2 implies POPCNT on every CPU that has it; asked anyway, since
     * the AVX2 code is compiled to use it */
    if (strcmp(name, "avx2") == 0)
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt")
                   ? blocks_avx2 : NULL;
    if (strcmp(name, "ssse3") == 0)
        return __builtin_cpu_supports("ssse3") ? blocks_ssse3 : NULL;
#endif
    (void)name;
    return NULL;
}
