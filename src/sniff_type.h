/* sniff_type.h - does one CSV cell look like a value of a known type?
 *
 * The sniffer's type score counts cells that look like something a table
 * holds: numbers (signs, thousands groups, a decimal '.' or ',', exponent,
 * percent), dates (y-m-d, d.m.y, m/d/y, with an optional time), times
 * (hh:mm[:ss[.fff]], am/pm, zone), URLs and e-mail addresses.  A wrong
 * delimiter cuts such cells apart or glues several together, and the
 * pieces stop looking like anything.  Plain text is judged by the caller
 * (it depends on the dialect).  Pure C, no allocation. */
#ifndef KBSYNCD_SNIFF_TYPE_H
#define KBSYNCD_SNIFF_TYPE_H
#include <stddef.h>

/* Cells longer than this are never a number, date, time, URL or e-mail
 * for the sniffer's purpose (the caller keeps only this many bytes). */
#define SNIFF_TYPE_MAX 96

typedef enum sniff_type {
    SNIFF_T_NONE = 0,
    SNIFF_T_NUMBER,
    SNIFF_T_DATE, /* a date, possibly with a time */
    SNIFF_T_TIME,
    SNIFF_T_URL,
    SNIFF_T_EMAIL
} sniff_type;

sniff_type sniff_cell_type(const unsigned char *p, size_t n);
#endif
