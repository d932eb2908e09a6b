/* stage.h - read a CSV file once and turn it into an upload-ready spool file.
 *
 * In the one read: the dialect is sniffed from the first sample_bytes, the
 * whole file is checked as UTF-8, tokenized (header, record count, records
 * whose field count differs from the header, an enclosure left open), its
 * CRC-32 taken for the fingerprint, and its bytes written to the spool:
 * copied as they are, minus a BOM, when Keboola can import the dialect;
 * rewritten as RFC 4180 when it cannot (backslash escapes inside an
 * enclosure, CR-only line ends); gzipped when the source is larger than the
 * threshold.  The spool appears under its name only when complete.  A source
 * that changes during the read (size, mtime or inode) is reported as
 * unstable and nothing is left behind.
 *
 * The work is cut into steps of a bounded number of bytes so the daemon's
 * single loop can run other tasks in between:
 *     stage_t *st = stage_open(&opts);
 *     while ((status = stage_step(st, 8 << 20)) == STAGE_MORE) yield();
 *     const stage_result_t *r = stage_result(st);  ... stage_close(st);
 * Memory stays flat: a sample buffer (freed once consumed) and fixed
 * 256 KiB buffers, whatever the file size.
 *
 * Repairs (stage_opts.repair, docs/staging.md "Repairs"), off by default,
 * change what is written: header names Keboola would refuse, short and
 * long rows (these make the spool RFC 4180, rewritten), lines above the
 * header, a file without a header.  What they changed is in the result.
 *
 * Without a spool path it only analyses (what `kbsyncd inspect` shows):
 * then invalid UTF-8 or an open enclosure do not stop the read; they are
 * reported in the result and the status is STAGE_DONE.  Pure C. */
#ifndef KBSYNCD_STAGE_H
#define KBSYNCD_STAGE_H
#include <stddef.h>
#include <stdint.h>

#include "csv.h"
#include "csv_header.h"
#include "stage_repair.h"
#include "utf8.h"

/* 50 MiB, the "50 MB" of the design, counted in binary units. */
#define STAGE_DEFAULT_GZIP_THRESHOLD 52428800ULL
#define STAGE_DEFAULT_GZIP_LEVEL 6
#define STAGE_CHUNK (256 * 1024)
#define STAGE_MAX_SAMPLE (64u * 1024 * 1024)
#define STAGE_RECORD_ERRORS_MAX 10

typedef struct stage_opts {
    const char *src;
    const char *spool;            /* NULL: analyse only */
    uint64_t gzip_threshold;      /* 0: the default; gzip when size > it */
    int gzip_level;               /* 0: the default; 1..9 */
    int gzip_never;               /* ignore the threshold (tests) */
    const char *const *header;    /* replacement names, or NULL */
    size_t header_count;
    size_t sample_bytes;          /* 0: SNIFF_DEFAULT_SAMPLE */
    const char *delimiters;       /* NULL: SNIFF_DEFAULT_DELIMITERS */
    stage_repair_opts repair;     /* policy.repair; all 0: none */
} stage_opts;

typedef enum stage_status { STAGE_MORE, STAGE_DONE, STAGE_ERROR } stage_status;

typedef struct stage_error {
    /* "io", "memory", "empty", "utf8", "quote", "unstable", "header";
     * "quote" is a quote never closed, at the end of the file or where
     * the field it opens swallows a line break (`line`: where it starts) */
    const char *code;
    char message[512];
    uint64_t line, column, offset; /* 0 when they do not apply */
} stage_error;

typedef struct stage_record_error {
    uint64_t line;
    uint32_t expected, got;
} stage_record_error;

typedef struct stage_result {
    const char *file;
    uint64_t size;          /* at open */
    int64_t mtime_ns;       /* at open */
    uint32_t crc32;         /* of every source byte, BOM included */
    char fingerprint[48];   /* "SIZE-CRC32HEX", e.g. "1234-0a1b2c3d" */
    int utf8_valid;
    utf8_error utf8;        /* the first error, when !utf8_valid */
    csv_dialect dialect;    /* of the source */
    csv_dialect upload;     /* what the spool must be imported with */
    int normalize;          /* the spool is rewritten as RFC 4180 */
    int gzip;
    const csv_header *source_header; /* the file's own first record */
    const csv_header *header;        /* the names the spool carries, with
                                        their Keboola forms and issues */
    uint64_t rows;          /* records after the header; trailing empty
                               lines are not records */
    int repairs_asked;      /* some stage_opts.repair was set */
    stage_repair_result repair; /* what the repairs changed; rows they
                               mended are not record errors */
    stage_record_error record_errors[STAGE_RECORD_ERRORS_MAX];
    size_t record_errors_shown;
    uint64_t record_errors_total;
    uint64_t anomalies;     /* fields with bytes after their closing quote */
    uint64_t first_anomaly_line;
    int unterminated;       /* the file ends inside an enclosure */
    uint64_t unclosed_line; /* an enclosed field that starts on this line
                               ran on past its line and closed with text
                               after the quote: a quote never closed
                               (0: none) */
    uint64_t unterminated_line; /* where that field's record starts */
    const char *spool;      /* set once the spool is in place */
    uint64_t spool_bytes;
    int unstable;
    int failed;
    stage_error error;      /* when failed, or (analyse mode) what staging
                               would have failed with */
} stage_result_t;

typedef struct stage stage_t;

/* Opens the source and takes its stat.  NULL only when out of memory;
 * other failures surface from the first stage_step (STAGE_ERROR). */
stage_t *stage_open(const stage_opts *opts);

/* Processes at least one chunk and about max_bytes in total. */
stage_status stage_step(stage_t *st, size_t max_bytes);

/* Valid until stage_close; meaningful once a step returned DONE or ERROR. */
const stage_result_t *stage_result(const stage_t *st);

/* What of the spool is on disk while staging runs, so an upload can send
 * it before it is complete: the temporary name it is written under (the
 * last step renames it into place), the bytes written so far (a prefix
 * that never changes again: the spool is only ever appended to) and
 * whether it is gzipped.  Returns 0 when no spool is being written
 * (analyse mode, before the first step, after a failure, once committed:
 * then stage_result() has the spool). */
int stage_spool_progress(const stage_t *st, const char **path, uint64_t *bytes,
                         int *gzip);

/* Frees everything and removes an unfinished spool.  NULL is fine. */
void stage_close(stage_t *st);
#endif
