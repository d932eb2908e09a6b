/* csv_header.h - collect a file's first record and judge its names.
 *
 * A csv_header is a tokenizer sink (csv.h) that keeps the fields of the
 * first record and ignores the rest, so the same code serves the sniff
 * (header from the sample) and staging (header from the full read).  Then
 * csv_header_analyse() adds the names as Keboola will store them
 * (colname.h) and the problems found with them.  Pure C. */
#ifndef KBSYNCD_CSV_HEADER_H
#define KBSYNCD_CSV_HEADER_H
#include <stddef.h>
#include <stdint.h>

#include "colname.h"
#include "csv.h"

/* Bytes kept of one name; longer names are cut (they are over the 64
 * character limit anyway, and reported). */
#define CSV_HEADER_NAME_MAX 1024
/* Bytes kept of the whole header; more is an error ("header too large"). */
#define CSV_HEADER_TOTAL_MAX (4u * 1024 * 1024)
/* Issues kept in detail (all are counted). */
#define CSV_HEADER_ISSUES_MAX 32

typedef struct csv_header {
    char **raw;         /* NUL-terminated names */
    size_t count;
    size_t cap;
    char *cur;          /* the name being collected */
    size_t cur_len;
    size_t total;       /* bytes kept in all names */
    int done;           /* the first record ended */
    int cut;            /* some name was longer than CSV_HEADER_NAME_MAX */
    int too_large;      /* over CSV_HEADER_TOTAL_MAX: collection stopped */
    int no_memory;
    csv_record record;  /* the first record as the tokenizer saw it */
    /* filled by csv_header_analyse */
    char **keboola;
    unsigned char *webalize;
    colname_issue issues[CSV_HEADER_ISSUES_MAX];
    long issue_count;
} csv_header;

void csv_header_init(csv_header *h);
void csv_header_free(csv_header *h);
/* The sink that fills `h`; it keeps receiving callbacks after the first
 * record but ignores them (staging swaps it out for speed). */
csv_sink csv_header_sink(csv_header *h);

/* Replaces the collected names by `names` (header replacement); copies. */
int csv_header_set_names(csv_header *h, const char *const *names, size_t n);

/* Sanitised names, webalize flags and issues.  0, or -1 out of memory. */
int csv_header_analyse(csv_header *h);
#endif
