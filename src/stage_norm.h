/* stage_norm.h - rewriting records as RFC 4180 for the spool.
 *
 * Used only where Keboola cannot import the source as it is (backslash
 * escapes inside an enclosure, CR-only line ends): the tokenizer's field
 * callbacks are turned into comma-separated, double-quoted fields with
 * doubled quotes and CRLF line ends.  Every non-empty field is enclosed (so
 * no field has to be buffered to decide); an empty field stays bare unless
 * it was enclosed in the source, which keeps "" and nothing apart.  Empty
 * lines are held back and written only when a record follows, so trailing
 * ones disappear.  Two repairs (policy.repair) happen here: an empty line
 * between records written as `pad_to` empty fields, and the fields of a
 * record past `join_at` joined into its last column, the delimiter between
 * them (the last column's closing quote waits for the record's end).  Also writes one header line in a given dialect (header
 * replacement).  Pure C. */
#ifndef KBSYNCD_STAGE_NORM_H
#define KBSYNCD_STAGE_NORM_H
#include <stddef.h>
#include <stdint.h>

#include "csv.h"
#include "stage_out.h"

typedef struct stage_norm {
    stage_out *out;
    int field_open;        /* the opening quote of this field is written */
    uint32_t fields;       /* fields written in the current record */
    uint64_t blank_held;   /* empty lines not written yet */
    int failed;            /* a write failed; out->error says why */
    /* repairs (policy.repair); 0 when off */
    uint32_t pad_to;       /* an empty line between records is written as
                              this many empty fields */
    uint32_t join_at;      /* fields past this many are joined into the
                              last one, join_delim between them */
    unsigned char join_delim;
    int last_state;        /* 1: the last column's quote is open, 2: the
                              last column ended empty (bare, or "" when
                              last_quoted): both closed at the record end */
    int last_quoted;
    int extra_open;        /* the delimiter before this extra field is
                              written */
} stage_norm;

void stage_norm_init(stage_norm *n, stage_out *out);
/* A sink whose ctx is `n`. */
csv_sink stage_norm_sink(stage_norm *n);

/* Writes `names` as one header line in dialect `d`, followed by `term`.
 * Returns 0, -1 on a write error, or -2 when a name cannot be written in
 * that dialect (a delimiter or line break with no enclosure or escape). */
int stage_write_header(stage_out *out, const char *const *names, size_t n,
                       const csv_dialect *d, csv_term term);
#endif
