/* stage_repair.h - what policy.repair lets staging change, and where the
 * header is when lines above it are skipped or there is none.
 *
 * Repairs are off unless asked for (stage_opts.repair).  Those that need
 * to know the header before the one read starts (names, preamble,
 * no_header) look at the sniff sample, already in memory: its first
 * STAGE_REPAIR_WINDOW records are tokenized once more, counting fields, so
 * memory stays flat.  Row repairs (short_rows, long_rows) happen record by
 * record in the pass itself (stage.c, stage_norm.c).  Pure C. */
#ifndef KBSYNCD_STAGE_REPAIR_H
#define KBSYNCD_STAGE_REPAIR_H
#include <stddef.h>
#include <stdint.h>

#include "csv.h"

/* Records of the sample the preamble rule judges. */
#define STAGE_REPAIR_WINDOW 200
/* At most this many records above the header are skipped. */
#define STAGE_REPAIR_PREAMBLE_MAX 10

typedef struct stage_repair_opts {
    int names;     /* empty, duplicate and over-long names renamed */
    int pad_short; /* short rows get empty values */
    int join_long; /* extra fields joined into the last column */
    int preamble;  /* records above the header skipped */
    int no_header; /* the first record is data: column_1..N */
} stage_repair_opts;

/* What the repairs changed (all zero when none was asked for or needed). */
typedef struct stage_repair_result {
    uint64_t preamble_lines;  /* physical lines skipped above the header */
    uint64_t preamble_records;
    int no_header;            /* column_1..N were written as the header */
    uint64_t padded;          /* short rows (and empty lines) padded */
    uint64_t first_padded_line;
    uint64_t joined;          /* long rows joined into the last column */
    uint64_t first_joined_line;
    size_t names_changed;     /* header names that were renamed */
} stage_repair_result;

/* Where the header (or, with no_header, the first data record) is. */
typedef struct stage_repair_plan {
    int found;              /* a whole record was found in the sample */
    uint64_t start;         /* its offset */
    uint64_t line;          /* its physical line */
    uint64_t skipped;       /* records above it (preamble) */
    uint32_t fields;        /* its field count */
    csv_term term;          /* how it ended */
} stage_repair_plan;

/* Tokenizes the sample p[0..n) (absolute offset `base`, `eof`: it is the
 * whole file) in dialect `d` and finds the header.  With `preamble`, the
 * header is the first non-empty record whose field count F is the one most
 * records of the window have (strictly: a tie skips nothing), when F > 1,
 * it is among the first STAGE_REPAIR_PREAMBLE_MAX + 1 records and every
 * record above it is empty or has fewer fields than F; otherwise (and
 * without `preamble`) it is the first record. */
void stage_repair_find_header(const unsigned char *p, size_t n, uint64_t base,
                              int eof, const csv_dialect *d, int preamble,
                              stage_repair_plan *out);
#endif
