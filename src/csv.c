/* csv.c - the tokenizer (semantics in csv.h).
 *
 * Speed comes from never looking at ordinary bytes one by one: each 64-byte
 * block is turned into a bit mask of the few bytes that can matter (the
 * delimiter, CR, LF, the enclosure, the escape), and the state machine only
 * visits those.  Bytes between two visited positions are field data and
 * are handed to the sink as one run.  Where the meaning of a byte depends on
 * the next one (a closing or doubled enclosure, CR or CRLF, an escape) the
 * next byte is peeked; at the end of a slice the decision is parked in a
 * pending state and taken on the first byte of the next slice.
 *
 * When only records are wanted (no data or field callbacks: staging after
 * the header), most blocks need no visits at all: see take_block(). */
#include "csv.h"

#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define CSV_X86 1
#include <immintrin.h>
#endif

enum {
    S_FIELD,      /* in a field that is not enclosed (or at its start) */
    S_QUOTED,     /* inside an enclosure */
    S_QUOTE_SEEN, /* an enclosure byte ended the last slice */
    S_ESC_QUOTED, /* an escape ended the last slice, inside an enclosure */
    S_ESC_FIELD,  /* an escape ended the last slice, outside */
    S_AFTER_CR    /* a record-ending CR ended the last slice */
};

#define NO_OFFSET UINT64_MAX

/* Byte classes in csv_scanner.special[] */
enum {
    C_DELIM = 1,
    C_QUOTE = 2,
    C_LF = 4,
    C_CR = 8,
    C_ESC = 16
};

void csv_dialect_rfc(csv_dialect *d)
{
    memset(d, 0, sizeof *d);
    d->delimiter = ',';
    d->quote = '"';
    d->escape = 0;
    d->eol = CSV_TERM_LF;
}

const char *csv_char_name(unsigned char c, char buf[2])
{
    buf[0] = (char)c;
    buf[1] = 0;
    return buf;
}

const char *csv_term_name(csv_term t)
{
    switch (t) {
    case CSV_TERM_LF: return "\n";
    case CSV_TERM_CRLF: return "\r\n";
    case CSV_TERM_CR: return "\r";
    default: return "";
    }
}

void csv_scanner_set_sink(csv_scanner *s, const csv_sink *sink)
{
    if (sink)
        s->sink = *sink;
    else
        memset(&s->sink, 0, sizeof s->sink);
}

void csv_scanner_init(csv_scanner *s, const csv_dialect *d, uint64_t offset,
                      const csv_sink *sink)
{
    memset(s, 0, sizeof *s);
    s->d = *d;
    csv_scanner_set_sink(s, sink);
    s->state = S_FIELD;
    s->offset = s->field_start = s->run_start = s->record_start = offset;
    s->skip_to = offset;
    s->cr_end = NO_OFFSET;
    s->line = s->record_line = 1;
    s->blank_from = NO_OFFSET;
    s->special[d->delimiter] |= C_DELIM;
    s->special['\n'] |= C_LF;
    s->special['\r'] |= C_CR;
    if (d->quote) s->special[d->quote] |= C_QUOTE;
    if (d->escape) s->special[d->escape] |= C_ESC;
    /* a byte with two roles (say a delimiter that is also the escape) is
     * left to visit(), which gives the roles their precedence */
    s->blocks_ok = 1;
    for (int c = 0; c < 256; c++)
        if (s->special[c] & (s->special[c] - 1)) s->blocks_ok = 0;
}

/* ---- sink helpers -------------------------------------------------------
 * `p` always points at the byte with absolute offset `base`. */

static inline void emit_run(csv_scanner *s, const unsigned char *p,
                            uint64_t base, uint64_t upto)
{
    if (s->sink.data && upto > s->run_start)
        s->sink.data(s->sink.ctx, p + (s->run_start - base),
                     (size_t)(upto - s->run_start));
}

static inline void end_field(csv_scanner *s, uint64_t at)
{
    s->last_field_empty = (at == s->field_start && !s->field_quoted);
    s->fields++;
    s->anomalies += (uint32_t)s->field_anomaly;
    if (s->sink.field)
        s->sink.field(s->sink.ctx, s->field_quoted, s->field_anomaly);
    s->field_quoted = 0;
    s->field_anomaly = 0;
}

/* Inlined into the whole-block loop, where a record ends every hundred
 * bytes or so; called elsewhere (end_record). */
static inline __attribute__((always_inline)) void
end_record_inline(csv_scanner *s, csv_term term, uint64_t end, int unterminated)
{
    csv_record r;
    r.line = s->record_line;
    r.start = s->record_start;
    r.end = end;
    r.fields = s->fields;
    r.anomalies = s->anomalies;
    r.term = term;
    r.blank = (s->fields == 1 && s->last_field_empty);
    r.unterminated = unterminated;
    if (r.blank) {
        if (s->blank_pending++ == 0) s->blank_from = r.start;
    } else {
        s->records += s->blank_pending + 1;
        s->blank_pending = 0;
        s->blank_from = NO_OFFSET;
    }
    if (s->sink.record) s->sink.record(s->sink.ctx, &r);
    if (term != CSV_TERM_NONE) s->line++;
    s->record_line = s->line;
    s->fields = 0;
    s->anomalies = 0;
    s->field_start = s->run_start = s->record_start = s->skip_to = end;
}

static void end_record(csv_scanner *s, csv_term term, uint64_t end,
                       int unterminated)
{
    end_record_inline(s, term, end, unterminated);
}

/* A record-ending CR or CRLF at `at`; `next` is the following byte or -1
 * when the slice ended there. */
static inline void on_cr(csv_scanner *s, uint64_t at, int next)
{
    if (next < 0) {
        s->state = S_AFTER_CR;
        return;
    }
    if (next == '\n')
        end_record(s, CSV_TERM_CRLF, at + 2, 0);
    else
        end_record(s, CSV_TERM_CR, at + 1, 0);
}

/* After a closing enclosure, the byte that follows decides: data (an
 * anomaly) unless it ends the field or the record. */
static inline void after_close(csv_scanner *s, int next)
{
    s->state = S_FIELD;
    if (next != s->d.delimiter && next != '\n' && next != '\r')
        s->field_anomaly = 1;
}

/* A byte the mask flagged, at absolute offset `at` (p[at - base]); `n` is
 * the slice length. */
static inline __attribute__((always_inline)) void visit(csv_scanner *s, const unsigned char *p,
                         uint64_t base, size_t n, uint64_t at)
{
    /* the byte after this one, or -1 at the end of the slice; only a few
     * cases need it, so it is read on demand */
#define NEXT_BYTE() ((at + 1 < base + n) ? (int)p[at + 1 - base] : -1)
    if (at < s->skip_to) return; /* escaped or the second of a pair */
    const unsigned char c = p[at - base];
    if (s->state == S_FIELD) {
        if (c == s->d.delimiter) {
            emit_run(s, p, base, at);
            end_field(s, at);
            s->field_start = s->run_start = at + 1;
        } else if (c == '\n') {
            emit_run(s, p, base, at);
            end_field(s, at);
            end_record(s, CSV_TERM_LF, at + 1, 0);
        } else if (c == '\r') {
            emit_run(s, p, base, at);
            end_field(s, at);
            on_cr(s, at, NEXT_BYTE());
        } else if (c == s->d.quote && at == s->field_start) {
            s->state = S_QUOTED;
            s->field_quoted = 1;
            s->run_start = at + 1;
        } else if (c == s->d.escape) {
            const int next = NEXT_BYTE();
            emit_run(s, p, base, at);
            s->run_start = at + 1;
            if (next < 0) {
                s->state = S_ESC_FIELD;
            } else {
                s->skip_to = at + 2;
                if (next == '\n' || next == '\r') s->line++;
            }
        }
        /* else: an enclosure byte inside a field is data */
        return;
    }
    /* S_QUOTED */
    if (c == s->d.quote) {
        const int next = NEXT_BYTE();
        if (next == (int)s->d.quote) { /* doubled: one literal enclosure */
            emit_run(s, p, base, at + 1);
            s->run_start = s->skip_to = at + 2;
            return;
        }
        emit_run(s, p, base, at);
        s->run_start = at + 1;
        if (next < 0) s->state = S_QUOTE_SEEN;
        else after_close(s, next);
    } else if (c == s->d.escape) {
        const int next = NEXT_BYTE();
        emit_run(s, p, base, at);
        s->run_start = at + 1;
        if (next < 0) {
            s->state = S_ESC_QUOTED;
        } else {
            s->skip_to = at + 2;
            if (next == '\n' || next == '\r') s->line++;
        }
    } else if (c == '\n') {
        if (at != s->cr_end) s->line++;
    } else if (c == '\r') {
        s->line++;
        s->cr_end = at + 1;
    }
    /* else: a delimiter inside an enclosure is data */
}
#undef NEXT_BYTE

/* Takes the decision parked at the end of the previous slice, using the
 * first byte of this one (p[0], offset `base`). */
static void resolve_pending(csv_scanner *s, const unsigned char *p,
                            uint64_t base)
{
    const unsigned char c = p[0];
    switch (s->state) {
    case S_QUOTE_SEEN:
        if (c == s->d.quote) {
            s->state = S_QUOTED;
            if (s->sink.data) s->sink.data(s->sink.ctx, &s->d.quote, 1);
            s->run_start = s->skip_to = base + 1;
        } else {
            after_close(s, c);
        }
        break;
    case S_ESC_QUOTED:
    case S_ESC_FIELD:
        /* p[0] is literal: it starts the next run; skip its special
         * meaning */
        s->state = (s->state == S_ESC_QUOTED) ? S_QUOTED : S_FIELD;
        if (c == '\n' || c == '\r') s->line++;
        s->skip_to = base + 1;
        break;
    case S_AFTER_CR:
        s->state = S_FIELD;
        /* the record's field already ended when the CR was seen */
        if (c == '\n') {
            end_record(s, CSV_TERM_CRLF, base + 1, 0);
        } else {
            end_record(s, CSV_TERM_CR, base, 0);
        }
        break;
    default:
        break;
    }
}

/* ---- special-byte masks ------------------------------------------------
 * Bit k of a mask stands for byte k of a block of (up to) 64. */

typedef struct block_masks {
    uint64_t delim, quote, lf, cr, esc;
} block_masks;

static inline uint64_t masks_any(const block_masks *m)
{
    return m->delim | m->quote | m->lf | m->cr | m->esc;
}

static inline uint64_t mask_scalar(const csv_scanner *s,
                                   const unsigned char *p, size_t len)
{
    uint64_t m = 0;
    for (size_t i = 0; i < len; i++)
        m |= (uint64_t)(s->special[p[i]] != 0) << i;
    return m;
}

#if defined(__SSE2__)
typedef struct {
    __m128i c[5]; /* the special bytes, for the combined mask */
    int n;
    __m128i delim, quote, lf, cr, esc;
    int has_quote, has_esc;
} specials_v;

static void specials_init(specials_v *v, const csv_scanner *s)
{
    const csv_dialect *d = &s->d;
    v->n = 0;
    v->c[v->n++] = v->delim = _mm_set1_epi8((char)d->delimiter);
    v->c[v->n++] = v->lf = _mm_set1_epi8('\n');
    v->c[v->n++] = v->cr = _mm_set1_epi8('\r');
    v->quote = _mm_set1_epi8((char)d->quote);
    v->esc = _mm_set1_epi8((char)d->escape);
    v->has_quote = d->quote != 0;
    v->has_esc = d->escape != 0;
    if (d->quote) v->c[v->n++] = v->quote;
    if (d->escape) v->c[v->n++] = v->esc;
}

static inline uint64_t mask16(const specials_v *v, const unsigned char *p)
{
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i m = _mm_or_si128(_mm_cmpeq_epi8(x, v->c[0]),
                             _mm_or_si128(_mm_cmpeq_epi8(x, v->c[1]),
                                          _mm_cmpeq_epi8(x, v->c[2])));
    for (int i = 3; i < v->n; i++)
        m = _mm_or_si128(m, _mm_cmpeq_epi8(x, v->c[i]));
    return (uint64_t)(unsigned)_mm_movemask_epi8(m);
}

static inline uint64_t mask64(const specials_v *v, const csv_scanner *s,
                              const unsigned char *p)
{
    (void)s;
    return mask16(v, p) | mask16(v, p + 16) << 16 | mask16(v, p + 32) << 32 |
           mask16(v, p + 48) << 48;
}

#define MOVEMASK(x, c) ((uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, c)))

/* One mask per class. */
static inline void masks64(const specials_v *v, const csv_scanner *s,
                           const unsigned char *p, block_masks *m)
{
    (void)s;
    memset(m, 0, sizeof *m);
    for (unsigned k = 0; k < 64; k += 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(p + k));
        m->delim |= MOVEMASK(x, v->delim) << k;
        m->lf |= MOVEMASK(x, v->lf) << k;
        m->cr |= MOVEMASK(x, v->cr) << k;
        if (v->has_quote) m->quote |= MOVEMASK(x, v->quote) << k;
        if (v->has_esc) m->esc |= MOVEMASK(x, v->esc) << k;
    }
}
#undef MOVEMASK
#else
typedef int specials_v; /* no vectors: masks come from s->special */

static void specials_init(specials_v *v, const csv_scanner *s)
{
    (void)s;
    *v = 0;
}

static inline uint64_t mask64(const specials_v *v, const csv_scanner *s,
                              const unsigned char *p)
{
    (void)v;
    return mask_scalar(s, p, 64);
}

static inline void masks64(const specials_v *v, const csv_scanner *s,
                           const unsigned char *p, block_masks *m)
{
    (void)v;
    memset(m, 0, sizeof *m);
    for (unsigned k = 0; k < 64; k++) {
        const unsigned c = s->special[p[k]];
        const uint64_t bit = (uint64_t)1 << k;
        if (c & C_DELIM) m->delim |= bit;
        if (c & C_QUOTE) m->quote |= bit;
        if (c & C_LF) m->lf |= bit;
        if (c & C_CR) m->cr |= bit;
        if (c & C_ESC) m->esc |= bit;
    }
}
#endif

/* ---- whole blocks ------------------------------------------------------ */

/* Baseline x86-64 has no POPCNT instruction, and a libgcc call per record
 * costs more than this. */
static inline uint64_t popcount64(uint64_t x)
{
    x = x - ((x >> 1) & 0x5555555555555555ULL);
    x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
    x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0FULL;
    return (x * 0x0101010101010101ULL) >> 56;
}

/* Bit k: the parity of bits 0..k of x. */
static inline uint64_t prefix_xor(uint64_t x)
{
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    return x;
}

/* The portable block loop: SSE2 masks on x86-64, scalar ones elsewhere. */
#define BLK_ATTR
#define BLK_TAKE take_block
#define BLK_SCAN scan_blocks_portable
#define BLK_VECTORS specials_v
#define BLK_VECTORS_INIT specials_init
#define BLK_MASKS masks64
#define BLK_ANY mask64
#define BLK_POPCOUNT popcount64
#define BLK_PREFIX_XOR prefix_xor
#include "csv_blocks.inc"

#if defined(CSV_X86)
/* The same loop with AVX2 masks, POPCNT, and a carry-less multiply by all
 * ones for the prefix XOR; chosen at run time. */
#define AVX2 __attribute__((target("avx2,popcnt,bmi,pclmul")))

typedef struct {
    __m256i delim, quote, lf, cr, esc;
    int has_quote, has_esc;
} specials_avx2;

AVX2 static void specials_init_avx2(specials_avx2 *v, const csv_scanner *s)
{
    v->delim = _mm256_set1_epi8((char)s->d.delimiter);
    v->quote = _mm256_set1_epi8((char)s->d.quote);
    v->esc = _mm256_set1_epi8((char)s->d.escape);
    v->lf = _mm256_set1_epi8('\n');
    v->cr = _mm256_set1_epi8('\r');
    v->has_quote = s->d.quote != 0;
    v->has_esc = s->d.escape != 0;
}

#define MOVEMASK2(a, b, c)                                                   \
    ((uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(a, c)) |     \
     (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(b, c)) << 32)

AVX2 static inline void masks64_avx2(const specials_avx2 *v, const csv_scanner *s,
                                     const unsigned char *p, block_masks *m)
{
    const __m256i a = _mm256_loadu_si256((const __m256i *)(const void *)p);
    const __m256i b = _mm256_loadu_si256((const __m256i *)(const void *)(p + 32));
    (void)s;
    m->delim = MOVEMASK2(a, b, v->delim);
    m->lf = MOVEMASK2(a, b, v->lf);
    m->cr = MOVEMASK2(a, b, v->cr);
    m->quote = v->has_quote ? MOVEMASK2(a, b, v->quote) : 0;
    m->esc = v->has_esc ? MOVEMASK2(a, b, v->esc) : 0;
}

AVX2 static inline uint64_t mask64_avx2(const specials_avx2 *v, const csv_scanner *s,
                                        const unsigned char *p)
{
    const __m256i a = _mm256_loadu_si256((const __m256i *)(const void *)p);
    const __m256i b = _mm256_loadu_si256((const __m256i *)(const void *)(p + 32));
    __m256i x = _mm256_or_si256(
        _mm256_or_si256(_mm256_cmpeq_epi8(a, v->delim), _mm256_cmpeq_epi8(a, v->lf)),
        _mm256_cmpeq_epi8(a, v->cr));
    __m256i y = _mm256_or_si256(
        _mm256_or_si256(_mm256_cmpeq_epi8(b, v->delim), _mm256_cmpeq_epi8(b, v->lf)),
        _mm256_cmpeq_epi8(b, v->cr));
    if (v->has_quote) {
        x = _mm256_or_si256(x, _mm256_cmpeq_epi8(a, v->quote));
        y = _mm256_or_si256(y, _mm256_cmpeq_epi8(b, v->quote));
    }
    if (v->has_esc) {
        x = _mm256_or_si256(x, _mm256_cmpeq_epi8(a, v->esc));
        y = _mm256_or_si256(y, _mm256_cmpeq_epi8(b, v->esc));
    }
    (void)s;
    return (uint64_t)(uint32_t)_mm256_movemask_epi8(x) |
           (uint64_t)(uint32_t)_mm256_movemask_epi8(y) << 32;
}
#undef MOVEMASK2

AVX2 static inline uint64_t popcount_hw(uint64_t x)
{
    return (uint64_t)__builtin_popcountll(x);
}

AVX2 static inline uint64_t prefix_xor_clmul(uint64_t x)
{
    return (uint64_t)_mm_cvtsi128_si64(_mm_clmulepi64_si128(
        _mm_cvtsi64_si128((long long)x), _mm_set1_epi8((char)0xFF), 0));
}

#define BLK_ATTR AVX2
#define BLK_TAKE take_block_avx2
#define BLK_SCAN scan_blocks_avx2
#define BLK_VECTORS specials_avx2
#define BLK_VECTORS_INIT specials_init_avx2
#define BLK_MASKS masks64_avx2
#define BLK_ANY mask64_avx2
#define BLK_POPCOUNT popcount_hw
#define BLK_PREFIX_XOR prefix_xor_clmul
#include "csv_blocks.inc"
#undef AVX2
#endif

typedef size_t (*scan_blocks_fn)(csv_scanner *s, const unsigned char *p,
                                 size_t n);
static scan_blocks_fn scan_blocks;

static scan_blocks_fn blocks_named(const char *name)
{
    if (strcmp(name, "portable") == 0) return scan_blocks_portable;
#if defined(CSV_X86)
    __builtin_cpu_init();
    if (strcmp(name, "avx2") == 0 && __builtin_cpu_supports("avx2") &&
        __builtin_cpu_supports("popcnt") && __builtin_cpu_supports("bmi") &&
        __builtin_cpu_supports("pclmul"))
        return scan_blocks_avx2;
#endif
    return NULL;
}

int csv_select(const char *name)
{
    scan_blocks_fn f;
    if (!name || strcmp(name, "auto") == 0) {
        scan_blocks = blocks_named("avx2");
        if (!scan_blocks) scan_blocks = scan_blocks_portable;
        return 0;
    }
    if (!(f = blocks_named(name))) return -1;
    scan_blocks = f;
    return 0;
}

void csv_scan(csv_scanner *s, const unsigned char *p, size_t n)
{
    const uint64_t base = s->offset;
    size_t i;

    if (n == 0 || s->finished) return;
    /* p[0] settles a parked decision; unless that consumed it (skip_to),
     * the loop below still visits it */
    if (s->state != S_FIELD && s->state != S_QUOTED)
        resolve_pending(s, p, base);
    if (!scan_blocks) csv_select("auto");
    i = scan_blocks(s, p, n);
    for (; i < n; i += 64) {
        size_t len = (n - i < 64) ? n - i : 64;
        uint64_t m = mask_scalar(s, p + i, len);
        while (m) {
            visit(s, p, base, n, base + i + (uint64_t)__builtin_ctzll(m));
            m &= m - 1;
        }
    }
    s->offset = base + n;
    if (s->state == S_FIELD || s->state == S_QUOTED) {
        emit_run(s, p, base, s->offset);
        if (s->run_start < s->offset) s->run_start = s->offset;
    }
}

void csv_scan_finish(csv_scanner *s)
{
    const uint64_t at = s->offset;

    if (s->finished) return;
    s->finished = 1;
    switch (s->state) {
    case S_AFTER_CR:
        end_record(s, CSV_TERM_CR, at, 0);
        break;
    case S_QUOTED:
    case S_ESC_QUOTED:
        s->field_anomaly = 1;
        end_field(s, at);
        end_record(s, CSV_TERM_NONE, at, 1);
        break;
    case S_QUOTE_SEEN:
    case S_ESC_FIELD:
        end_field(s, at);
        end_record(s, CSV_TERM_NONE, at, 0);
        break;
    default: /* S_FIELD: a last record without a terminator, if any */
        if (s->fields > 0 || at > s->field_start || s->field_quoted) {
            end_field(s, at);
            end_record(s, CSV_TERM_NONE, at, 0);
        }
        break;
    }
    s->blank_pending = 0; /* trailing empty lines are not records */
    s->state = S_FIELD;
}

uint64_t csv_scan_hold_from(const csv_scanner *s)
{
    /* Nothing of the current record yet: only pending empty lines. */
    if (s->state == S_FIELD && s->fields == 0 && !s->field_quoted &&
        s->field_start == s->offset)
        return s->blank_from;
    /* A CR ended an empty line at the slice end: it may be one more. */
    if (s->state == S_AFTER_CR && s->fields == 1 && s->last_field_empty)
        return s->blank_from != NO_OFFSET ? s->blank_from : s->record_start;
    return NO_OFFSET;
}
