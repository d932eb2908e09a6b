/* test_utf8 - the UTF-8 validator: every error class and where it is
 * reported, also when a character straddles two slices. */
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "utf8.h"

/* Validates `s` (n bytes) fed in slices of `slice` bytes; returns the
 * validator state after finish. */
static utf8_validator run(const char *s, size_t n, size_t slice)
{
    utf8_validator v;
    utf8_init(&v, 0, '\n');
    for (size_t i = 0; i < n; i += slice)
        if (utf8_feed(&v, (const unsigned char *)s + i,
                      n - i < slice ? n - i : slice) < 0)
            break;
    utf8_finish(&v);
    return v;
}

static void expect_error(const char *what, const char *s, size_t n,
                         const char *message, uint64_t offset, uint64_t line,
                         uint64_t column)
{
    static const size_t slices[] = {1, 2, 3, 7, 16, 33, 4096};
    for (size_t k = 0; k < sizeof slices / sizeof *slices; k++) {
        utf8_validator v = run(s, n, slices[k]);
        int ok = v.failed && strcmp(v.err.message, message) == 0 &&
                 v.err.offset == offset && v.err.line == line &&
                 v.err.column == column;
        if (!ok || k == 0)
            TAP_OK(ok, "%s (slices of %zu): got '%s' at offset %llu line %llu "
                       "column %llu", what, slices[k],
                   v.failed ? v.err.message : "valid",
                   (unsigned long long)v.err.offset,
                   (unsigned long long)v.err.line,
                   (unsigned long long)v.err.column);
        if (!ok) return;
    }
}

static void expect_valid(const char *what, const char *s, size_t n)
{
    int ok = 1;
    for (size_t slice = 1; slice < 40 && ok; slice += 3)
        ok = !run(s, n, slice).failed;
    TAP_OK(ok, "%s is valid", what);
}

int main(void)
{
    expect_valid("ASCII", "id,name\n1,abc\n", 14);
    expect_valid("2-, 3- and 4-byte characters", "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80", 9);
    expect_valid("U+10FFFF and U+FFFF", "\xF4\x8F\xBF\xBF\xEF\xBF\xBF", 7);
    expect_valid("U+D7FF and U+E000 around the surrogates", "\xED\x9F\xBF\xEE\x80\x80", 6);
    expect_valid("empty input", "", 0);

    expect_error("overlong 2-byte (C0 80)", "ab\xC0\x80", 4, "overlong encoding", 2, 1, 3);
    expect_error("overlong C1", "\xC1\xBF", 2, "overlong encoding", 0, 1, 1);
    expect_error("overlong 3-byte (E0 80 80)", "x\xE0\x80\x80", 4, "overlong encoding", 1, 1, 2);
    expect_error("overlong 4-byte (F0 80 80 80)", "\xF0\x80\x80\x80", 4, "overlong encoding", 0, 1, 1);
    expect_error("surrogate U+D800 (ED A0 80)", "a\n\xED\xA0\x80", 5, "UTF-16 surrogate", 2, 2, 1);
    expect_error("above U+10FFFF (F4 90 80 80)", "\xF4\x90\x80\x80", 4,
                 "code point above U+10FFFF", 0, 1, 1);
    expect_error("lead byte F5", "ok\xF5\x80\x80\x80", 6,
                 "byte that never occurs in UTF-8 (0xF5-0xFF)", 2, 1, 3);
    expect_error("byte FF", "\xFF", 1, "byte that never occurs in UTF-8 (0xF5-0xFF)", 0, 1, 1);
    expect_error("lone continuation byte", "a\x80", 2, "unexpected continuation byte", 1, 1, 2);
    expect_error("sequence cut by ASCII", "\xE2\x82" "a", 3, "truncated sequence", 0, 1, 1);
    expect_error("sequence cut in its third byte", "\xF0\x9F\x98" "a", 4, "truncated sequence", 0, 1, 1);
    expect_error("sequence cut by end of file", "abc\xE2\x82", 5,
                 "truncated sequence at end of file", 3, 1, 4);
    expect_error("NUL byte", "a,b\n1,\0\n", 8, "NUL byte", 6, 2, 3);

    /* columns count characters, not bytes */
    expect_error("column after multi-byte characters", "x\n\xC5\xBElu\xC5\xA5\xFF", 9,
                 "byte that never occurs in UTF-8 (0xF5-0xFF)", 8, 2, 5);

    /* the fast path (16 and 8 bytes at a time) keeps lines and columns */
    {
        char buf[4096];
        size_t n = 0;
        for (int line = 0; line < 50; line++) {
            memcpy(buf + n, "abcdefghijklmnopqrstuvwxyz0123456789,", 37);
            n += 37;
            buf[n++] = '\n';
        }
        memcpy(buf + n, "\xC3\xA9\xC3\xA9tail\xC0", 9);
        n += 9;
        expect_error("error after long ASCII runs", buf, n, "overlong encoding",
                     n - 1, 51, 7);
        buf[0] = 0;
        expect_error("NUL at the first byte", buf, n, "NUL byte", 0, 1, 1);
        buf[0] = 'a';
        buf[38 * 10 + 20] = (char)0xFE;
        expect_error("bad byte in the middle", buf, n,
                     "byte that never occurs in UTF-8 (0xF5-0xFF)", 38 * 10 + 20, 11, 21);
    }

    /* CR-only files count lines by CR */
    {
        utf8_validator v;
        utf8_init(&v, 0, '\r');
        utf8_feed(&v, (const unsigned char *)"a\rb\rc\xFF", 6);
        TAP_OK(v.failed && v.err.line == 3 && v.err.column == 2,
               "CR line ends: line %llu column %llu", (unsigned long long)v.err.line,
               (unsigned long long)v.err.column);
    }
    /* offsets are absolute: staging starts after a BOM */
    {
        utf8_validator v;
        utf8_init(&v, 3, '\n');
        utf8_feed(&v, (const unsigned char *)"ab\xFF", 3);
        TAP_OK(v.failed && v.err.offset == 5 && v.err.column == 3,
               "offset counts from the given start");
        TAP_OK(utf8_feed(&v, (const unsigned char *)"x", 1) == -1,
               "input after an error is refused");
    }
    return tap_done();
}
