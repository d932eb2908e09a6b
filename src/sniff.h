/* sniff.h - guess a CSV file's dialect from a sample of it.
 *
 * Every plausible dialect (delimiter x enclosure x escape) is used to parse
 * the sample into whole records, and scored by how consistent the result
 * looks - the "data consistency" measure of CleverCSV (van den Burg et al.,
 * 2019): a pattern score (many records sharing few field counts, more
 * fields better) times a type score (the share of cells that look like
 * something: empty, a number, a date or time, a URL or e-mail, plain text,
 * a cleanly enclosed string).  Counting characters, as Python's
 * csv.Sniffer does, is fooled by delimiters inside quoted text; parsing
 * whole records is not.
 *
 * Delimiters: the preferred ones (SNIFF_DEFAULT_DELIMITERS or the caller's
 * list) whenever they occur, plus any other ASCII punctuation or symbol
 * whose count per line is regular enough to be a delimiter at all (space
 * only when it is very regular).  A sample whose rows have one field under
 * some dialect and ragged counts under all others is one column.  Ties go
 * to RFC 4180: the preferred delimiters in their order, '"' before no
 * enclosure before '\'', doubled enclosures before backslash escapes.
 * Pure C. */
#ifndef KBSYNCD_SNIFF_H
#define KBSYNCD_SNIFF_H
#include <stddef.h>

#include "csv.h"

#define SNIFF_DEFAULT_SAMPLE (1024 * 1024)
#define SNIFF_DEFAULT_DELIMITERS ",;\t|"
#define SNIFF_MAX_DELIMITERS 16

/* `sample`: the start of the file with any BOM removed; `at_eof`: it is the
 * whole file (else a trailing partial record is ignored).  `delimiters`:
 * preferred candidates in order (NULL: SNIFF_DEFAULT_DELIMITERS).
 * Fills `out` (bom is left 0: the caller knows).  Returns the winning score
 * (0 when the sample holds no data; the dialect is then RFC 4180). */
double sniff_dialect(const unsigned char *sample, size_t n, int at_eof,
                     const char *delimiters, csv_dialect *out);

/* The score of one given dialect on the sample (tests and tuning), with
 * `delimiters` as the other candidates a plain-text cell must not hold. */
double sniff_score(const unsigned char *sample, size_t n, int at_eof,
                   const char *delimiters, const csv_dialect *d);
#endif
