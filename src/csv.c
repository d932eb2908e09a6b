/* csv.c - the tokenizer (semantics in csv.h).
 *
 * Speed comes from never looking at ordinary bytes one by one: each 64-byte
 * block is turned into a bit mask of the few bytes that can matter (the
 * delimiter, CR, LF, the enclosure, the escape), and the state machine only
 * visits those.  Bytes between two visited positions are field data and
 * are handed to the sink as one run.  Where the meaning of a byte depends on
 * the next one (a closing or doubled enclosure, CR or CRLF, an escape) the
 * next byte is peeked; at the end of a slice the decision is parked in a
 * pending state and taken on the first byte of the next slice. */
#include "csv.h"

#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
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
    s->special[d->delimiter] = 1;
    s->special['\n'] = 1;
    s->special['\r'] = 1;
    if (d->quote) s->special[d->quote] = 1;
    if (d->escape) s->special[d->escape] = 1;
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

static void end_record(csv_scanner *s, csv_term term, uint64_t end,
                       int unterminated)
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

/* ---- special-byte masks ------------------------------------------------ */

static inline uint64_t mask_scalar(const csv_scanner *s,
                                   const unsigned char *p, size_t len)
{
    uint64_t m = 0;
    for (size_t i = 0; i < len; i++)
        m |= (uint64_t)s->special[p[i]] << i;
    return m;
}

#if defined(__SSE2__)
typedef struct {
    __m128i c[5];
    int n;
} specials_v;

static void specials_init(specials_v *v, const csv_dialect *d)
{
    v->n = 0;
    v->c[v->n++] = _mm_set1_epi8((char)d->delimiter);
    v->c[v->n++] = _mm_set1_epi8('\n');
    v->c[v->n++] = _mm_set1_epi8('\r');
    if (d->quote) v->c[v->n++] = _mm_set1_epi8((char)d->quote);
    if (d->escape) v->c[v->n++] = _mm_set1_epi8((char)d->escape);
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

static inline uint64_t mask64(const specials_v *v, const unsigned char *p)
{
    return mask16(v, p) | mask16(v, p + 16) << 16 | mask16(v, p + 32) << 32 |
           mask16(v, p + 48) << 48;
}
#endif

void csv_scan(csv_scanner *s, const unsigned char *p, size_t n)
{
    const uint64_t base = s->offset;
    size_t i = 0;

    if (n == 0 || s->finished) return;
    /* p[0] settles a parked decision; unless that consumed it (skip_to),
     * the loop below still visits it */
    if (s->state != S_FIELD && s->state != S_QUOTED)
        resolve_pending(s, p, base);
#if defined(__SSE2__)
    specials_v v;
    specials_init(&v, &s->d);
    for (; i + 64 <= n; i += 64) {
        uint64_t m = mask64(&v, p + i);
        while (m) {
            visit(s, p, base, n, base + i + (uint64_t)__builtin_ctzll(m));
            m &= m - 1;
        }
    }
#endif
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

void csv_scan_all(const csv_dialect *d, const unsigned char *p, size_t n,
                  const csv_sink *sink)
{
    csv_scanner s;
    csv_scanner_init(&s, d, 0, sink);
    csv_scan(&s, p, n);
    csv_scan_finish(&s);
}
