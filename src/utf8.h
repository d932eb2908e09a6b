/* utf8.h - streaming UTF-8 validation with the position of the first error.
 *
 * Keboola's import takes UTF-8 only, so staging refuses anything else and
 * must say where the first bad byte is, in terms a person can find in an
 * editor: line, column (characters, 1-based) and byte offset.
 *
 * Rejected: bytes that can never start a character (0x80-0xBF alone,
 * 0xC0, 0xC1, 0xF5-0xFF), overlong forms, UTF-16 surrogates (U+D800 to
 * U+DFFF), code points above U+10FFFF, sequences cut short (by another byte
 * or by the end of input) and NUL bytes (legal UTF-8, but no CSV consumer
 * downstream survives them).
 *
 * Feed slices of any size; a character may straddle two slices.  Where the
 * CPU has SSSE3 or AVX2 (chosen at run time, src/utf8_simd.c), mixed text is
 * checked 64 bytes at a time and the byte-by-byte decoder only words the
 * errors; elsewhere ASCII runs are checked 16 or 8 bytes at a time.  Every
 * path reports the same first error at the same place. */
#ifndef KBSYNCD_UTF8_H
#define KBSYNCD_UTF8_H
#include <stddef.h>
#include <stdint.h>

typedef struct utf8_error {
    uint64_t offset; /* of the first byte of the bad sequence */
    uint64_t line;   /* 1-based */
    uint64_t column; /* 1-based, in characters */
    const char *message;
} utf8_error;

typedef struct utf8_validator {
    uint64_t offset;      /* absolute offset of the next byte */
    uint64_t line;        /* lines started so far (1 + newlines) */
    uint64_t line_start;  /* offset of the current line's first byte */
    uint64_t cont_total;  /* continuation bytes of complete characters */
    uint64_t cont_at_line_start;
    uint64_t seq_start;   /* offset of a character still incomplete */
    unsigned need;        /* continuation bytes it still needs */
    unsigned seq_len;
    unsigned char lead;   /* its first byte */
    unsigned char lo, hi; /* allowed range of the next continuation byte */
    unsigned char newline; /* '\n', or '\r' for files with CR line ends */
    int failed;
    utf8_error err;
} utf8_validator;

/* `offset`: absolute offset of the first byte fed (after a BOM, say);
 * `newline`: the byte that starts a new line for position reporting. */
void utf8_init(utf8_validator *v, uint64_t offset, unsigned char newline);

/* 0 while valid; -1 from the first error on (v->err says where).  Bytes
 * fed after an error are ignored. */
int utf8_feed(utf8_validator *v, const unsigned char *p, size_t n);

/* End of input: a character still open is an error.  0 or -1. */
int utf8_finish(utf8_validator *v);

/* The validator utf8_feed runs, for every validator in the process:
 * "auto" (the default: the widest the CPU has), "avx2", "ssse3", "basic"
 * (portable; ASCII runs in bulk) or "scalar" (one byte at a time, the
 * reference).  -1 when this build or CPU has no such code.  For tests and
 * benchmarks; not thread-safe. */
int utf8_select(const char *name);
const char *utf8_selected(void);
#endif
