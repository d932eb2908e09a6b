/* utf8.c - see utf8.h.
 *
 * The byte ranges follow Table 3-7 ("Well-Formed UTF-8 Byte Sequences") of
 * the Unicode standard: the lead byte fixes the length and the allowed
 * range of the *second* byte, which is how overlongs (E0 80..9F, F0
 * 80..8F), surrogates (ED A0..BF) and values past U+10FFFF (F4 90..BF) are
 * excluded without decoding the code point.
 *
 * Columns are characters, not bytes: the validator counts continuation
 * bytes, so column = bytes since the line start minus continuation bytes
 * since the line start. */
#include "utf8.h"

#include <string.h>

#include "utf8_simd.h"
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

void utf8_init(utf8_validator *v, uint64_t offset, unsigned char newline)
{
    memset(v, 0, sizeof *v);
    v->offset = v->line_start = offset;
    v->line = 1;
    v->newline = newline ? newline : '\n';
}

static void fail(utf8_validator *v, uint64_t at, uint64_t cont_before,
                 const char *message)
{
    v->failed = 1;
    v->err.offset = at;
    v->err.line = v->line;
    v->err.column =
        (at - v->line_start) - (cont_before - v->cont_at_line_start) + 1;
    v->err.message = message;
}

static const char *lead_problem(unsigned char c)
{
    if (c >= 0x80 && c <= 0xBF) return "unexpected continuation byte";
    if (c == 0xC0 || c == 0xC1) return "overlong encoding";
    return "byte that never occurs in UTF-8 (0xF5-0xFF)";
}

/* Why the second byte `c` of a sequence led by `lead` is wrong. */
static const char *second_problem(unsigned char lead, unsigned char c)
{
    if (c < 0x80 || c > 0xBF) return "truncated sequence";
    if (lead == 0xE0 || lead == 0xF0) return "overlong encoding";
    if (lead == 0xED) return "UTF-16 surrogate";
    return "code point above U+10FFFF";
}

/* One byte, the slow way.  Returns -1 on error. */
static int step(utf8_validator *v, unsigned char c)
{
    const uint64_t at = v->offset;

    if (v->need) {
        if (c < v->lo || c > v->hi) {
            const char *why = (v->need == v->seq_len - 1)
                                  ? second_problem(v->lead, c)
                                  : "truncated sequence";
            fail(v, v->seq_start, v->cont_total, why);
            return -1;
        }
        v->lo = 0x80;
        v->hi = 0xBF;
        if (--v->need == 0) v->cont_total += v->seq_len - 1;
        v->offset++;
        return 0;
    }
    if (c < 0x80) {
        if (c == 0) {
            fail(v, at, v->cont_total, "NUL byte");
            return -1;
        }
        if (c == v->newline) {
            v->line++;
            v->line_start = at + 1;
            v->cont_at_line_start = v->cont_total;
        }
        v->offset++;
        return 0;
    }
    v->seq_start = at;
    v->lead = c;
    v->lo = 0x80;
    v->hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        v->need = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
        v->need = 2;
        if (c == 0xE0) v->lo = 0xA0;
        if (c == 0xED) v->hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        v->need = 3;
        if (c == 0xF0) v->lo = 0x90;
        if (c == 0xF4) v->hi = 0x8F;
    } else {
        fail(v, at, v->cont_total, lead_problem(c));
        return -1;
    }
    v->seq_len = v->need + 1;
    v->offset++;
    return 0;
}

#if !defined(__SSE2__)
/* Exact per-byte zero test: the high bit of each byte of the result is set
 * iff that byte of x is zero. */
static inline uint64_t zero_bytes(uint64_t x)
{
    const uint64_t low7 = 0x7F7F7F7F7F7F7F7FULL;
    return ~(((x & low7) + low7) | x | low7);
}
#endif

/* An ASCII, NUL-free block of `n` bytes whose newline positions are the
 * high bits of `nl` (bit 8k+7 for byte k): only line bookkeeping. */
static inline void ascii_block(utf8_validator *v, size_t n, uint64_t nl,
                               int bits_per_byte)
{
    if (nl) {
        unsigned last = (63u - (unsigned)__builtin_clzll(nl)) /
                        (unsigned)bits_per_byte;
        /* a few newlines per block at most: cheaper than a popcount call
         * on CPUs targeted without one */
        for (uint64_t m = nl; m; m &= m - 1) v->line++;
        v->line_start = v->offset + last + 1;
        v->cont_at_line_start = v->cont_total;
    }
    v->offset += n;
}

/* A whole non-ASCII character at p[0..avail): its length when valid, 0
 * when it is invalid or cut by the slice end (then step() decides, and
 * words the error). */
static inline size_t whole_char(const unsigned char *p, size_t avail)
{
    unsigned char c = p[0], lo = 0x80, hi = 0xBF;
    size_t len;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else {
        return 0;
    }
    if (avail < len || p[1] < lo || p[1] > hi) return 0;
    for (size_t k = 2; k < len; k++)
        if (p[k] < 0x80 || p[k] > 0xBF) return 0;
    return len;
}

/* The exact path: ASCII runs 16 (or 8) bytes at a time, whole characters
 * by whole_char(), anything else by step(). */
static int feed_basic(utf8_validator *v, const unsigned char *p, size_t n)
{
    size_t i = 0;

    while (i < n) {
        if (v->need == 0) {
#if defined(__SSE2__)
            const __m128i zero = _mm_setzero_si128();
            const __m128i nlv = _mm_set1_epi8((char)v->newline);
            /* 64 bytes per round while all are ASCII and none is NUL */
            while (i + 64 <= n) {
                const __m128i *q = (const __m128i *)(const void *)(p + i);
                __m128i a = _mm_loadu_si128(q), b = _mm_loadu_si128(q + 1);
                __m128i c = _mm_loadu_si128(q + 2), d = _mm_loadu_si128(q + 3);
                __m128i any = _mm_or_si128(_mm_or_si128(a, b), _mm_or_si128(c, d));
                __m128i low = _mm_min_epu8(_mm_min_epu8(a, b), _mm_min_epu8(c, d));
                if (_mm_movemask_epi8(_mm_or_si128(any, _mm_cmpeq_epi8(low, zero))))
                    break;
                uint64_t nl =
                    (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(a, nlv)) |
                    (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(b, nlv)) << 16 |
                    (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(c, nlv)) << 32 |
                    (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(d, nlv)) << 48;
                ascii_block(v, 64, nl, 1);
                i += 64;
            }
            while (i + 16 <= n) {
                __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
                unsigned stop = (unsigned)_mm_movemask_epi8(
                    _mm_or_si128(x, _mm_cmpeq_epi8(x, zero)));
                unsigned nl = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, nlv));
                if (!stop) {
                    ascii_block(v, 16, nl, 1);
                    i += 16;
                    continue;
                }
                /* the ASCII bytes before the first byte needing care */
                unsigned k = (unsigned)__builtin_ctz(stop);
                ascii_block(v, k, nl & ((1u << k) - 1), 1);
                i += k;
                break;
            }
#else
            while (i + 8 <= n) {
                uint64_t w;
                memcpy(&w, p + i, 8);
                if ((w & 0x8080808080808080ULL) || zero_bytes(w)) break;
                ascii_block(v, 8,
                            zero_bytes(w ^ (0x0101010101010101ULL * v->newline)),
                            8);
                i += 8;
            }
#endif
            if (i < n && p[i] >= 0x80) {
                size_t len = whole_char(p + i, n - i);
                if (len) {
                    v->cont_total += len - 1;
                    v->offset += len;
                    i += len;
                    continue;
                }
            }
        }
        /* the slow way: a NUL, an error, a character split across slices
         * or the tail of the slice */
        if (i < n) {
            if (step(v, p[i]) < 0) return -1;
            i++;
        }
    }
    return 0;
}

/* Which validator utf8_feed runs.  Chosen once, on first use, from what
 * the CPU offers (the binary itself stays baseline x86-64 or whatever the
 * target is); utf8_select() overrides it for tests and benchmarks. */
enum { MODE_UNSET, MODE_SCALAR, MODE_BASIC, MODE_BLOCKS };
static int mode = MODE_UNSET;
static utf8_blocks_fn blocks;
static const char *mode_name = "basic";

static void choose(void)
{
    static const char *const widest_first[] = {"avx2", "ssse3"};
    mode = MODE_BASIC;
    mode_name = "basic";
    blocks = NULL;
    for (size_t k = 0; k < sizeof widest_first / sizeof *widest_first; k++) {
        if ((blocks = utf8_simd_blocks(widest_first[k])) != NULL) {
            mode = MODE_BLOCKS;
            mode_name = widest_first[k];
            return;
        }
    }
}

int utf8_select(const char *name)
{
    utf8_blocks_fn f;
    if (!name || strcmp(name, "auto") == 0) {
        choose();
    } else if (strcmp(name, "scalar") == 0) {
        mode = MODE_SCALAR;
        mode_name = "scalar";
    } else if (strcmp(name, "basic") == 0) {
        mode = MODE_BASIC;
        mode_name = "basic";
    } else if ((f = utf8_simd_blocks(name)) != NULL) {
        mode = MODE_BLOCKS;
        /* a literal: the caller's string may not outlive this call */
        mode_name = strcmp(name, "avx2") == 0 ? "avx2" : "ssse3";
        blocks = f;
    } else {
        return -1;
    }
    return 0;
}

const char *utf8_selected(void)
{
    if (mode == MODE_UNSET) choose();
    return mode_name;
}

int utf8_feed(utf8_validator *v, const unsigned char *p, size_t n)
{
    size_t i = 0;

    if (v->failed) return -1;
    if (mode == MODE_UNSET) choose();
    if (mode == MODE_SCALAR) {
        for (; i < n; i++)
            if (step(v, p[i]) < 0) return -1;
        return 0;
    }
    if (mode == MODE_BASIC) return feed_basic(v, p, n);
    while (i < n) {
        size_t stop, b;
        if (v->need) { /* end a character begun in the previous slice */
            if (step(v, p[i]) < 0) return -1;
            i++;
            continue;
        }
        if (n - i < 64) return feed_basic(v, p + i, n - i);
        /* whole blocks; then the exact path from the boundary the block
         * validator stopped at: the tail, or the block with an error */
        b = blocks(v, p, i, n, &stop);
        if (feed_basic(v, p + b, stop - b) < 0) return -1;
        i = stop;
    }
    return 0;
}

int utf8_finish(utf8_validator *v)
{
    if (v->failed) return -1;
    if (v->need) {
        fail(v, v->seq_start, v->cont_total, "truncated sequence at end of file");
        return -1;
    }
    return 0;
}
