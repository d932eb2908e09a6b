/* test_utf8_simd - every UTF-8 validator against the byte-at-a-time one.
 *
 * utf8_feed runs a block validator where the CPU has one (AVX2, SSSE3) and
 * a portable path elsewhere; all must say exactly what the reference says:
 * valid or not, and for the first error its offset, line, column and
 * message.  Random mixed text gets one error of every kind injected at
 * every position around the 16-, 32- and 64-byte block boundaries, and is
 * fed in random slices (so characters and errors also straddle slices). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "tap.h"
#include "testrand.h"
#include "utf8.h"


/* One valid character (or newline) at p; returns its length. */
static size_t valid_char(unsigned char *p, unsigned char newline)
{
    static const char *const samples[] = {
        "\xC3\xA9", "\xC5\xBE", "\xC2\x80", "\xDF\xBF",          /* 2 bytes */
        "\xE2\x82\xAC", "\xE0\xA0\x80", "\xED\x9F\xBF", "\xEE\x80\x80",
        "\xEF\xBF\xBF", "\xE1\x80\x80",                          /* 3 bytes */
        "\xF0\x90\x80\x80", "\xF0\x9F\x98\x80", "\xF4\x8F\xBF\xBF",
        "\xF3\xBF\xBF\xBF",                                      /* 4 bytes */
    };
    unsigned k = rnd(100);
    if (k < 6) {
        p[0] = newline;
        return 1;
    }
    if (k < 70) {
        p[0] = (unsigned char)(' ' + rnd(95));
        return 1;
    }
    const char *s = samples[rnd(sizeof samples / sizeof *samples)];
    size_t len = strlen(s);
    memcpy(p, s, len);
    return len;
}

/* Random valid text of exactly n bytes. */
static void valid_text(unsigned char *p, size_t n, unsigned char newline, int ascii_only)
{
    size_t len = 0;
    unsigned char c[4];
    while (len < n) {
        size_t k = ascii_only ? (c[0] = (unsigned char)('a' + rnd(26)), 1)
                              : valid_char(c, newline);
        if (len + k > n) continue;
        memcpy(p + len, c, k);
        len += k;
    }
}

typedef struct error_kind {
    const char *name;
    const char *bytes;
    size_t len;
} error_kind;

static const error_kind kinds[] = {
    {"overlong C0 80", "\xC0\x80", 2},
    {"overlong C1 BF", "\xC1\xBF", 2},
    {"lone C0", "\xC0", 1},
    {"overlong E0 80 80", "\xE0\x80\x80", 3},
    {"overlong E0 9F BF", "\xE0\x9F\xBF", 3},
    {"overlong F0 80 80 80", "\xF0\x80\x80\x80", 4},
    {"overlong F0 8F BF BF", "\xF0\x8F\xBF\xBF", 4},
    {"surrogate ED A0 80", "\xED\xA0\x80", 3},
    {"surrogate ED BF BF", "\xED\xBF\xBF", 3},
    {"above U+10FFFF F4 90 80 80", "\xF4\x90\x80\x80", 4},
    {"above U+10FFFF F4 BF BF BF", "\xF4\xBF\xBF\xBF", 4},
    {"F5 80 80 80", "\xF5\x80\x80\x80", 4},
    {"F7 BF", "\xF7\xBF", 2},
    {"F8", "\xF8", 1},
    {"FE", "\xFE", 1},
    {"FF", "\xFF", 1},
    {"stray 80", "\x80", 1},
    {"stray BF", "\xBF", 1},
    {"extra continuation after 2 bytes", "\xC3\xA9\x80", 3},
    {"extra continuation after 3 bytes", "\xE2\x82\xAC\xBF", 4},
    {"extra continuation after 4 bytes", "\xF0\x9F\x98\x80\x80", 5},
    {"2-byte cut by ASCII", "\xC3" "a", 2},
    {"2-byte cut by a lead", "\xC3\xC3\xA9", 3},
    {"3-byte cut after 1", "\xE2" "a", 2},
    {"3-byte cut after 2", "\xE2\x82" "a", 3},
    {"3-byte cut by a lead", "\xE2\x82\xE2\x82\xAC", 5},
    {"4-byte cut after 1", "\xF0" "a", 2},
    {"4-byte cut after 2", "\xF0\x9F" "a", 3},
    {"4-byte cut after 3", "\xF0\x9F\x98" "a", 4},
    {"4-byte cut by a newline", "\xF0\x9F\x98\n", 4},
    {"NUL", "\0", 1},
    {"NUL after a character", "\xC3\xA9\0", 3},
    {"cut at the end of input", "\xF0\x9F\x98", 3}, /* only at the end */
    {"2-byte cut at the end", "\xC3", 1},
};
#define NKINDS (sizeof kinds / sizeof *kinds)

typedef struct outcome {
    int failed;
    utf8_error err;
    uint64_t offset, line, line_start, cont_total, cont_at_line_start;
} outcome;

/* Validates p[0..n) with validator `impl`; slice sizes come from `slices`
 * (cycled), or the whole input at once when it is NULL. */
static outcome run(const char *impl, const unsigned char *p, size_t n,
                   uint64_t start, unsigned char newline,
                   const size_t *slices, size_t nslices)
{
    utf8_validator v;
    outcome o;
    utf8_select(impl);
    utf8_init(&v, start, newline);
    for (size_t i = 0, k = 0; i < n;) {
        size_t len = slices ? slices[k++ % nslices] : n;
        if (len > n - i) len = n - i;
        /* an exactly sized copy, so ASan sees any read past a slice */
        unsigned char *slice = malloc(len ? len : 1);
        if (!slice) abort();
        memcpy(slice, p + i, len);
        int rc = utf8_feed(&v, slice, len);
        free(slice);
        if (rc < 0) break;
        i += len;
    }
    utf8_finish(&v);
    memset(&o, 0, sizeof o);
    o.failed = v.failed;
    if (v.failed) {
        o.err = v.err;
    } else {
        o.offset = v.offset;
        o.line = v.line;
        o.line_start = v.line_start;
        o.cont_total = v.cont_total;
        o.cont_at_line_start = v.cont_at_line_start;
    }
    return o;
}

static int same(const outcome *a, const outcome *b)
{
    if (a->failed != b->failed) return 0;
    if (a->failed)
        return a->err.offset == b->err.offset && a->err.line == b->err.line &&
               a->err.column == b->err.column &&
               strcmp(a->err.message, b->err.message) == 0;
    return a->offset == b->offset && a->line == b->line &&
           a->line_start == b->line_start && a->cont_total == b->cont_total &&
           a->cont_at_line_start == b->cont_at_line_start;
}

static char diff[512];

static void describe(const outcome *want, const outcome *got)
{
    snprintf(diff, sizeof diff,
             "want %s@%llu line %llu col %llu, got %s@%llu line %llu col %llu",
             want->failed ? want->err.message : "valid",
             (unsigned long long)want->err.offset, (unsigned long long)want->err.line,
             (unsigned long long)want->err.column,
             got->failed ? got->err.message : "valid",
             (unsigned long long)got->err.offset, (unsigned long long)got->err.line,
             (unsigned long long)got->err.column);
}

/* Slice plans: whole, random sizes, and cuts right inside the error. */
static size_t plan(size_t *slices, size_t at, size_t variant)
{
    switch (variant) {
    case 0: return 0; /* whole */
    case 1:
        for (size_t k = 0; k < 16; k++) slices[k] = 1 + rnd(150);
        return 16;
    case 2: /* a cut just after the error's first byte */
        slices[0] = at + 1;
        slices[1] = 64 + rnd(200);
        return 2;
    case 3: /* a cut just before it */
        slices[0] = at ? at : 1;
        slices[1] = 64 + rnd(200);
        return 2;
    default: /* small odd slices */
        slices[0] = 1 + rnd(7);
        slices[1] = 63 + rnd(3);
        slices[2] = 1 + rnd(3);
        return 3;
    }
}

#define NVARIANTS 5

/* One error kind at every position in [0, 200) of a 400-byte text. */
static int errors_everywhere(const char *impl, const error_kind *kind,
                             int ascii_only, unsigned char newline)
{
    unsigned char buf[512];
    size_t slices[16];
    const int at_end = strstr(kind->name, "at the end") != NULL;
    for (size_t at = 0; at < 200; at++) {
        size_t n = at_end ? at + kind->len : 400;
        valid_text(buf, at, newline, ascii_only);
        memcpy(buf + at, kind->bytes, kind->len);
        if (!at_end)
            valid_text(buf + at + kind->len, n - at - kind->len, newline, ascii_only);
        uint64_t start = rnd(2) ? 0 : 3; /* after a BOM */
        outcome want = run("scalar", buf, n, start, newline, NULL, 0);
        if (!want.failed) {
            snprintf(diff, sizeof diff, "the reference found no error at %zu", at);
            return 0;
        }
        for (size_t variant = 0; variant < NVARIANTS; variant++) {
            size_t ns = plan(slices, at, variant);
            outcome got = run(impl, buf, n, start, newline, ns ? slices : NULL, ns);
            if (!same(&want, &got)) {
                describe(&want, &got);
                snprintf(diff + strlen(diff), sizeof diff - strlen(diff),
                         " (error at %zu, slice plan %zu)", at, variant);
                return 0;
            }
        }
    }
    return 1;
}

/* Valid texts of many lengths: the same end state (offset, lines, the
 * continuation counts columns come from). */
static int valid_texts(const char *impl, unsigned char newline)
{
    unsigned char buf[1200];
    size_t slices[16];
    for (int round = 0; round < 600; round++) {
        size_t n = rnd(sizeof buf);
        valid_text(buf, n, newline, round % 7 == 0);
        outcome want = run("scalar", buf, n, 0, newline, NULL, 0);
        for (size_t variant = 0; variant < NVARIANTS; variant++) {
            size_t ns = plan(slices, n / 2, variant);
            outcome got = run(impl, buf, n, 0, newline, ns ? slices : NULL, ns);
            if (!same(&want, &got)) {
                snprintf(diff, sizeof diff, "round %d (%zu bytes, plan %zu): "
                         "offset %llu/%llu line %llu/%llu cont %llu/%llu", round, n, variant,
                         (unsigned long long)want.offset, (unsigned long long)got.offset,
                         (unsigned long long)want.line, (unsigned long long)got.line,
                         (unsigned long long)want.cont_total, (unsigned long long)got.cont_total);
                return 0;
            }
        }
    }
    return 1;
}

/* Long texts with errors placed at random, some far beyond the first
 * blocks, fed in slices of the sizes staging uses. */
static int long_texts(const char *impl)
{
    static unsigned char buf[1 << 18];
    size_t slices[16];
    for (int round = 0; round < 60; round++) {
        size_t n = sizeof buf - rnd(5000);
        valid_text(buf, n, '\n', 0);
        if (round % 3) {
            const error_kind *k = &kinds[rnd(NKINDS)];
            size_t at = rnd((unsigned)(n - 8));
            /* keep the text valid before it: start on a character */
            while (at > 0 && (buf[at] & 0xC0) == 0x80) at--;
            memcpy(buf + at, k->bytes, k->len);
        }
        outcome want = run("scalar", buf, n, 0, '\n', NULL, 0);
        for (size_t k = 0; k < 16; k++) slices[k] = 1 + rnd(70000);
        outcome got = run(impl, buf, n, 0, '\n', slices, 16);
        outcome whole = run(impl, buf, n, 0, '\n', NULL, 0);
        if (!same(&want, &got) || !same(&want, &whole)) {
            describe(&want, same(&want, &got) ? &whole : &got);
            return 0;
        }
    }
    return 1;
}

int main(void)
{
    rnd_seed(0x9E3779B97F4A7C15ULL);
    static const char *const impls[] = {"basic", "ssse3", "avx2"};
    utf8_select("auto");
    printf("# this CPU: %s\n", utf8_selected());
    for (size_t m = 0; m < sizeof impls / sizeof *impls; m++) {
        const char *impl = impls[m];
        if (utf8_select(impl) < 0) {
            cpu_refused(impl, "utf8_select");
            continue;
        }
        for (size_t k = 0; k < NKINDS; k++) {
            int ok = errors_everywhere(impl, &kinds[k], 0, '\n') &&
                     errors_everywhere(impl, &kinds[k], 1, '\n') &&
                     errors_everywhere(impl, &kinds[k], 0, '\r');
            TAP_OK(ok, "%s: %s at every position, any slicing, as the reference%s%s",
                   impl, kinds[k].name, ok ? "" : ": ", ok ? "" : diff);
        }
        int ok = valid_texts(impl, '\n') && valid_texts(impl, '\r');
        TAP_OK(ok, "%s: valid texts end in the reference's state%s%s", impl,
               ok ? "" : ": ", ok ? "" : diff);
        ok = long_texts(impl);
        TAP_OK(ok, "%s: 256 KiB texts with an error somewhere%s%s", impl,
               ok ? "" : ": ", ok ? "" : diff);
    }
    utf8_select("auto");
    return tap_done();
}
