/* test_csv_blocks - the whole-block path of the tokenizer against the
 * byte-by-byte one.
 *
 * With a record-only sink (staging after the header) csv_scan takes most
 * 64-byte blocks at once (take_block in csv_blocks.inc); with any other
 * sink, or when a block holds something it does not handle, every special
 * byte is visited.  Both must report the very same records (line, offsets,
 * field count, anomalies, terminator, blank, open enclosure), the same
 * record count and the same held-back offset after every slice, for every
 * dialect and any slicing.  Random CSVs mix quoted fields with delimiters,
 * doubled quotes, CR, LF and CRLF inside, quotes inside unquoted fields,
 * bytes after closing quotes, escapes, empty lines and long fields, so all
 * of that lands on and across block and slice boundaries. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "cpu.h"
#include "tap.h"
#include "testrand.h"


/* ---- what the tokenizer reports, as text ------------------------------- */

typedef struct render {
    char *out;
    size_t len, cap;
    csv_scanner *s;
    int switch_after;  /* records before the sink changes; -1: never */
    int records;
    int full;          /* the sink wants data and fields */
} render;

static void put(render *r, const char *p, size_t n)
{
    if (r->len + n + 1 > r->cap) {
        r->cap = (r->len + n + 1) * 2;
        r->out = realloc(r->out, r->cap);
        if (!r->out) abort();
    }
    memcpy(r->out + r->len, p, n);
    r->len += n;
    r->out[r->len] = 0;
}

static void r_data(void *ctx, const unsigned char *p, size_t n)
{
    put(ctx, (const char *)p, n);
}

static void r_field(void *ctx, int quoted, int anomaly)
{
    char tag[8];
    snprintf(tag, sizeof tag, "%s%s|", quoted ? "^" : "", anomaly ? "!" : "");
    put(ctx, tag, strlen(tag));
}

static void r_record(void *ctx, const csv_record *rec);

static void set_sink(render *r, int full)
{
    csv_sink sink = {r, full ? r_data : NULL, full ? r_field : NULL, r_record};
    r->full = full;
    csv_scanner_set_sink(r->s, &sink);
}

static void r_record(void *ctx, const csv_record *rec)
{
    render *r = ctx;
    char tag[160];
    snprintf(tag, sizeof tag, "[%llu:%u a%u t%d%s%s@%llu-%llu]\n",
             (unsigned long long)rec->line, rec->fields, rec->anomalies,
             (int)rec->term, rec->blank ? " blank" : "",
             rec->unterminated ? " open" : "", (unsigned long long)rec->start,
             (unsigned long long)rec->end);
    put(r, tag, strlen(tag));
    /* like staging: fields for the header, then records only; or the
     * other way round, to hand a block back to visit() half way */
    if (++r->records == r->switch_after) set_sink(r, !r->full);
}

typedef struct run_opts {
    const char *impl;
    int exact;
    int full;          /* start with data and field callbacks */
    int switch_after;
} run_opts;

/* Tokenizes in[0..n) fed in slices (sizes cycled from `slices`, or whole)
 * into r->out: the records, the held-back offset after each slice (only
 * for slices that end a record-only stretch) and the record count. */
static void tokenize(const csv_dialect *d, const unsigned char *in, size_t n,
                     const size_t *slices, size_t nslices, const run_opts *o,
                     uint64_t start, render *r)
{
    csv_scanner s;
    char tag[64];
    r->len = 0;
    put(r, "", 0);
    r->s = &s;
    r->records = 0;
    r->switch_after = o->switch_after;
    if (csv_select(o->impl) < 0) abort();
    csv_scanner_init(&s, d, start, NULL);
    s.exact = o->exact;
    set_sink(r, o->full);
    for (size_t i = 0, k = 0; i < n;) {
        size_t len = slices ? slices[k++ % nslices] : n;
        if (len > n - i) len = n - i;
        /* an exactly sized copy, so ASan sees any read past a slice */
        unsigned char *slice = malloc(len ? len : 1);
        if (!slice) abort();
        memcpy(slice, in + i, len);
        csv_scan(&s, slice, len);
        free(slice);
        i += len;
        snprintf(tag, sizeof tag, "{hold %llu}\n",
                 (unsigned long long)csv_scan_hold_from(&s));
        put(r, tag, strlen(tag));
    }
    csv_scan_finish(&s);
    snprintf(tag, sizeof tag, "{records %llu line %llu}\n",
             (unsigned long long)s.records, (unsigned long long)s.line);
    put(r, tag, strlen(tag));
}

/* ---- random CSV -------------------------------------------------------- */

static const char *const words[] = {
    "a", "order", "Dvořák", "São Paulo", "x y z", "12.50", "2024-01-31",
    "a somewhat longer piece of free text that runs past one block",
};

static void add(unsigned char *buf, size_t *n, size_t cap, const char *s, size_t len)
{
    if (*n + len > cap) return;
    memcpy(buf + *n, s, len);
    *n += len;
}

static void add_c(unsigned char *buf, size_t *n, size_t cap, char c)
{
    add(buf, n, cap, &c, 1);
}

static const char *eol(unsigned style)
{
    switch (style) {
    case 0: return "\n";
    case 1: return "\r\n";
    case 2: return "\r";
    default: {
        static const char *const any[] = {"\n", "\n", "\r\n", "\r"};
        return any[rnd(4)];
    }
    }
}

/* A CSV of about `want` bytes in dialect d: mostly well-formed records,
 * with `rough` in 100 fields malformed in some way. */
static size_t random_csv(unsigned char *buf, size_t cap, size_t want,
                         const csv_dialect *d, unsigned eol_style, unsigned rough)
{
    size_t n = 0;
    const unsigned cols = 1 + rnd(8);
    while (n < want) {
        if (rnd(30) == 0) { /* an empty line */
            const char *e = eol(eol_style);
            add(buf, &n, cap, e, strlen(e));
            continue;
        }
        for (unsigned c = 0; c < cols; c++) {
            const char *w = words[rnd(sizeof words / sizeof *words)];
            if (c) add_c(buf, &n, cap, (char)d->delimiter);
            if (rnd(100) < rough) {
                switch (rnd(7)) {
                case 0: /* a quote inside an unquoted field */
                    add(buf, &n, cap, "5", 1);
                    if (d->quote) add_c(buf, &n, cap, (char)d->quote);
                    add(buf, &n, cap, " pipe", 5);
                    break;
                case 1: /* bytes after the closing quote */
                    if (d->quote) add_c(buf, &n, cap, (char)d->quote);
                    add(buf, &n, cap, w, strlen(w));
                    if (d->quote) add_c(buf, &n, cap, (char)d->quote);
                    add(buf, &n, cap, "tail", 4);
                    break;
                case 2: /* an escape */
                    add(buf, &n, cap, "x", 1);
                    add_c(buf, &n, cap, d->escape ? (char)d->escape : '\\');
                    add_c(buf, &n, cap, rnd(2) ? (char)d->delimiter : 'n');
                    break;
                case 3: /* a lone CR or LF inside a quoted field */
                    if (d->quote) add_c(buf, &n, cap, (char)d->quote);
                    add(buf, &n, cap, rnd(2) ? "a\rb" : "a\nb", 3);
                    if (d->quote) add_c(buf, &n, cap, (char)d->quote);
                    break;
                case 4: /* an enclosure left open for a while */
                    if (d->quote) add_c(buf, &n, cap, (char)d->quote);
                    add(buf, &n, cap, w, strlen(w));
                    break;
                case 5: /* a stray CR */
                    add(buf, &n, cap, "a\rb", 3);
                    break;
                default: { /* soup */
                    static const char soup[] = "a,;\t\"'\\\n\r ";
                    for (unsigned k = rnd(6); k > 0; k--)
                        add_c(buf, &n, cap, soup[rnd(sizeof soup - 1)]);
                    break;
                }
                }
                continue;
            }
            if (d->quote && rnd(3) == 0) { /* a quoted field */
                add_c(buf, &n, cap, (char)d->quote);
                for (unsigned piece = rnd(5); piece > 0; piece--) {
                    switch (rnd(6)) {
                    case 0: /* doubled quotes, often several */
                        for (unsigned q = 1 + rnd(2); q > 0; q--) {
                            add_c(buf, &n, cap, (char)d->quote);
                            add_c(buf, &n, cap, (char)d->quote);
                        }
                        break;
                    case 1:
                        add_c(buf, &n, cap, (char)d->delimiter);
                        break;
                    case 2: {
                        const char *e = eol(eol_style);
                        add(buf, &n, cap, e, strlen(e));
                        break;
                    }
                    default:
                        add(buf, &n, cap, w, strlen(w));
                        break;
                    }
                }
                add_c(buf, &n, cap, (char)d->quote);
            } else if (rnd(8) == 0) {
                /* empty */
            } else {
                add(buf, &n, cap, w, strlen(w));
            }
        }
        const char *e = eol(eol_style);
        add(buf, &n, cap, e, strlen(e));
    }
    if (rnd(4) == 0 && n > 0) n -= rnd((unsigned)(n < 10 ? n : 10)); /* cut */
    return n;
}

static csv_dialect dialect(char delim, char quote, char escape)
{
    csv_dialect d;
    csv_dialect_rfc(&d);
    d.delimiter = (unsigned char)delim;
    d.quote = (unsigned char)quote;
    d.escape = (unsigned char)escape;
    return d;
}

static size_t plan(size_t *slices, unsigned variant)
{
    switch (variant) {
    case 0: return 0; /* whole */
    case 1: /* block multiples, so slices end on block boundaries */
        for (size_t k = 0; k < 8; k++) slices[k] = 64 * (1 + rnd(4));
        return 8;
    case 2: /* a block and a byte or two either way */
        for (size_t k = 0; k < 8; k++) slices[k] = 62 + rnd(5);
        return 8;
    case 3:
        for (size_t k = 0; k < 8; k++) slices[k] = 1 + rnd(300);
        return 8;
    default:
        for (size_t k = 0; k < 8; k++) slices[k] = 1 + rnd(9);
        return 8;
    }
}

#define NPLANS 5

static char why[4096];

/* The first line where two renderings differ. */
static void first_difference(const char *a, const char *b)
{
    size_t k = 0, line = 1;
    while (a[k] && a[k] == b[k]) {
        if (a[k] == '\n') line++;
        k++;
    }
    size_t from = k;
    while (from > 0 && a[from - 1] != '\n') from--;
    snprintf(why, sizeof why, "line %zu: want \"%.60s\" got \"%.60s\"", line,
             a + from, b + from);
    for (char *c = why; *c; c++)
        if (*c == '\n' || *c == '\r') *c = '/';
}

typedef struct dialect_case {
    const char *name;
    csv_dialect d;
} dialect_case;

int main(void)
{
    rnd_seed(0x2545F4914F6CDD1DULL);
    static const char *const impls[] = {"portable", "avx2"};
    static unsigned char buf[1 << 16];
    dialect_case dialects[] = {
        {"comma, double quote", dialect(',', '"', 0)},
        {"semicolon", dialect(';', '"', 0)},
        {"tab", dialect('\t', '"', 0)},
        {"single quote", dialect(',', '\'', 0)},
        {"no enclosure", dialect('|', 0, 0)},
        {"backslash escapes", dialect(',', '"', '\\')},
        {"backslash, no enclosure", dialect(',', 0, '\\')},
    };
    render want = {0}, got = {0};
    size_t slices[8];

    for (size_t m = 0; m < sizeof impls / sizeof *impls; m++) {
        const char *impl = impls[m];
        if (csv_select(impl) < 0) {
            cpu_refused(impl, "csv_select");
            continue;
        }
        for (size_t k = 0; k < sizeof dialects / sizeof *dialects; k++) {
            const csv_dialect *d = &dialects[k].d;
            for (unsigned eol_style = 0; eol_style < 4; eol_style++) {
                int bad = 0;
                for (int round = 0; round < 60 && !bad; round++) {
                    const unsigned rough = round % 3 == 0 ? 0 : round % 3 == 1 ? 2 : 25;
                    size_t n = random_csv(buf, sizeof buf, 64 + rnd(round % 4 ? 3000 : 40000),
                                          d, eol_style, rough);
                    uint64_t start = rnd(2) ? 0 : 3;
                    /* the reference: every special byte visited */
                    run_opts ref = {"portable", 1, 0, -1};
                    tokenize(d, buf, n, NULL, 0, &ref, start, &want);
                    for (unsigned p = 0; p < NPLANS && !bad; p++) {
                        size_t ns = plan(slices, p);
                        run_opts fast = {impl, 0, 0, -1};
                        tokenize(d, buf, n, ns ? slices : NULL, ns, &fast, start, &got);
                        /* hold lines depend on the slicing: compare
                         * against the reference sliced the same way */
                        tokenize(d, buf, n, ns ? slices : NULL, ns, &ref, start, &want);
                        if (strcmp(want.out, got.out) != 0) {
                            first_difference(want.out, got.out);
                            bad = 1;
                            snprintf(why + strlen(why), sizeof why - strlen(why),
                                     " (round %d, %zu bytes, plan %u)", round, n, p);
                        }
                    }
                    /* sinks that change mid-stream, both ways */
                    for (int sw = 0; sw < 2 && !bad; sw++) {
                        size_t ns = plan(slices, 1 + (unsigned)rnd(NPLANS - 1));
                        int after = 1 + (int)rnd(sw ? 40 : 3);
                        run_opts ref_sw = {"portable", 1, !sw, after};
                        run_opts fast_sw = {impl, 0, !sw, after};
                        tokenize(d, buf, n, slices, ns, &ref_sw, start, &want);
                        tokenize(d, buf, n, slices, ns, &fast_sw, start, &got);
                        if (strcmp(want.out, got.out) != 0) {
                            first_difference(want.out, got.out);
                            bad = 1;
                            snprintf(why + strlen(why), sizeof why - strlen(why),
                                     " (round %d, sink switched after %d records)",
                                     round, after);
                        }
                    }
                }
                static const char *const eols[] = {"LF", "CRLF", "CR", "mixed"};
                TAP_OK(!bad, "%s: %s, %s line ends: same records as visiting every byte%s%s",
                       impl, dialects[k].name, eols[eol_style], bad ? ": " : "",
                       bad ? why : "");
            }
        }
    }
    csv_select("auto");
    free(want.out);
    free(got.out);
    return tap_done();
}
