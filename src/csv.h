/* csv.h - the CSV tokenizer that sniffing, header parsing, staging and
 * normalisation share, so all of them agree on where records and fields end.
 *
 * The tokenizer is push-driven and streaming: feed it any slices of a file
 * with csv_scan() and it keeps its state across them; csv_scan_finish() ends
 * the input.  It never buffers data.  Field bytes (already unescaped) reach
 * the sink in runs, fields and records through callbacks; any callback may
 * be NULL, and with only `record` set the tokenizer just counts (the fast
 * path staging uses on gigabyte files).
 *
 * Semantics are those of Python's csv module in its default, non-strict
 * mode, which is also what Keboola's import accepts:
 *   - a field is enclosed only when the enclosure is its very first byte;
 *     an enclosure byte anywhere else in an unenclosed field is data;
 *   - inside an enclosure, a doubled enclosure is one enclosure byte; with
 *     escape '\\' a backslash also makes the next byte literal (and it does
 *     so outside enclosures too);
 *   - bytes after a closing enclosure and before the next delimiter are
 *     kept as data, and the field is marked as an anomaly;
 *   - LF, CRLF and CR all end a record; inside an enclosure they are data.
 * Pure C: no Lua here. */
#ifndef KBSYNCD_CSV_H
#define KBSYNCD_CSV_H
#include <stddef.h>
#include <stdint.h>

/* How a record ended. */
typedef enum csv_term {
    CSV_TERM_NONE = 0, /* end of input */
    CSV_TERM_LF,
    CSV_TERM_CRLF,
    CSV_TERM_CR
} csv_term;

typedef struct csv_dialect {
    unsigned char delimiter;
    unsigned char quote;  /* enclosure; 0: fields are never enclosed */
    unsigned char escape; /* 0: enclosures are escaped by doubling them;
                             '\\': a backslash makes the next byte literal */
    csv_term eol;         /* the first record terminator of the file */
    int bom;              /* the source starts with a UTF-8 BOM */
} csv_dialect;

/* RFC 4180: comma, double quote, doubled quotes, LF (CRLF when written). */
void csv_dialect_rfc(csv_dialect *d);

/* The spellings Keboola's import takes: "," / "\t" / ...; "" for no
 * enclosure or no escape.  `buf` must hold 2 bytes; returns buf. */
const char *csv_char_name(unsigned char c, char buf[2]);
const char *csv_term_name(csv_term t); /* "\n", "\r\n", "\r" or "" */

typedef struct csv_record {
    uint64_t line;      /* physical line the record starts on, 1-based */
    uint64_t start;     /* offset of its first byte */
    uint64_t end;       /* offset just past its terminator */
    uint32_t fields;    /* number of fields (a blank line has one) */
    uint32_t anomalies; /* fields with bytes after their closing enclosure */
    csv_term term;
    int blank;          /* an empty line: one empty, unenclosed field */
    int unterminated;   /* input ended inside an enclosure */
} csv_record;

typedef struct csv_sink {
    void *ctx;
    /* Field content, unescaped, possibly in several runs per field. */
    void (*data)(void *ctx, const unsigned char *p, size_t n);
    /* A field ended; quoted: it was enclosed; anomaly: see above. */
    void (*field)(void *ctx, int quoted, int anomaly);
    void (*record)(void *ctx, const csv_record *r);
} csv_sink;

typedef struct csv_scanner {
    csv_dialect d;
    csv_sink sink;
    int state;
    uint64_t offset;      /* absolute offset of the next byte fed */
    uint64_t field_start; /* offset of the current field's first byte */
    uint64_t run_start;   /* first byte of field data not yet sent */
    uint64_t skip_to;     /* specials before this offset are data */
    uint64_t record_start;
    uint64_t cr_end;      /* just past the last CR seen inside an enclosure */
    uint64_t line;
    uint64_t record_line;
    uint32_t fields;
    uint32_t anomalies;
    int field_quoted;
    int field_anomaly;
    int last_field_empty;
    int finished;
    /* Trailing empty lines are not records: the count of empty lines seen
     * since the last non-empty record, and where the first of them began. */
    uint64_t blank_pending;
    uint64_t blank_from;
    uint64_t records;     /* records so far, not counting pending blanks */
    unsigned char special[256]; /* the class of each byte (CSV_C_* in
                                   csv.c); 0 for ordinary data */
    int blocks_ok;        /* the dialect's special bytes are all distinct,
                             so whole blocks can be taken at once */
    int exact;            /* tests: visit every special byte, never whole
                             blocks (set after csv_scanner_init) */
} csv_scanner;

/* `offset` is the absolute offset of the first byte that will be fed (the
 * caller may skip a BOM).  The sink is copied. */
void csv_scanner_init(csv_scanner *s, const csv_dialect *d, uint64_t offset,
                      const csv_sink *sink);
void csv_scan(csv_scanner *s, const unsigned char *p, size_t n);
void csv_scan_finish(csv_scanner *s);

/* Change callbacks mid-stream (staging drops field callbacks once it has
 * the header).  Takes effect from the next byte fed. */
void csv_scanner_set_sink(csv_scanner *s, const csv_sink *sink);

/* The offset from which the bytes fed so far may still turn out to be
 * trailing empty lines (which must not reach the spool), or UINT64_MAX. */
uint64_t csv_scan_hold_from(const csv_scanner *s);

/* The whole-block loop every scanner in the process uses: "auto" (the
 * default: AVX2 where the CPU has it), "avx2" or "portable" (SSE2 masks on
 * x86-64, scalar elsewhere).  -1 when this build or CPU has no such code.
 * For tests and benchmarks; not thread-safe. */
int csv_select(const char *name);
#endif
