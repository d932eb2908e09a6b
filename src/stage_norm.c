/* stage_norm.c - see stage_norm.h. */
#include "stage_norm.h"

#include <string.h>

void stage_norm_init(stage_norm *n, stage_out *out)
{
    memset(n, 0, sizeof *n);
    n->out = out;
}

static void put(stage_norm *n, const void *p, size_t len)
{
    if (!n->failed && stage_out_write(n->out, p, len) < 0) n->failed = 1;
}

static void release_blank_lines(stage_norm *n)
{
    for (; n->blank_held > 0; n->blank_held--) {
        for (uint32_t k = 1; k < n->pad_to; k++) put(n, ",", 1);
        put(n, "\r\n", 2);
    }
}

/* Field content with every '"' doubled. */
static void put_quoted_content(stage_norm *n, const unsigned char *p,
                               size_t len)
{
    while (len > 0) {
        const unsigned char *q = memchr(p, '"', len);
        size_t upto = q ? (size_t)(q - p) + 1 : len;
        put(n, p, upto);
        if (q) put(n, "\"", 1);
        p += upto;
        len -= upto;
    }
}

/* A field past join_at: its bytes continue the last column, after the
 * delimiter that separated it in the source. */
static void extra_begin(stage_norm *n)
{
    if (n->extra_open) return;
    if (n->last_state == 2) { /* the last column was empty: open it now */
        put(n, "\"", 1);
        n->last_state = 1;
    }
    put_quoted_content(n, &n->join_delim, 1);
    n->extra_open = 1;
}

static void norm_data(void *ctx, const unsigned char *p, size_t len)
{
    stage_norm *n = ctx;
    if (len == 0) return;
    if (n->join_at && n->fields >= n->join_at) {
        extra_begin(n);
        put_quoted_content(n, p, len);
        return;
    }
    if (!n->field_open) {
        release_blank_lines(n);
        put(n, n->fields ? ",\"" : "\"", n->fields ? 2 : 1);
        n->field_open = 1;
    }
    put_quoted_content(n, p, len);
}

static void norm_field(void *ctx, int quoted, int anomaly)
{
    stage_norm *n = ctx;
    (void)anomaly;
    if (n->join_at && n->fields >= n->join_at) { /* an extra field ended */
        extra_begin(n);
        n->extra_open = 0;
        n->fields++;
        return;
    }
    if (n->join_at && n->fields + 1 == n->join_at) {
        /* the last column: closed at the record's end, since more fields
         * may still be joined into it */
        if (n->field_open) {
            n->last_state = 1;
        } else {
            if (n->fields || quoted) release_blank_lines(n);
            if (n->fields) put(n, ",", 1);
            n->last_state = 2;
            n->last_quoted = quoted;
        }
        n->field_open = 0;
        n->fields++;
        return;
    }
    if (n->field_open) {
        put(n, "\"", 1);
    } else {
        if (n->fields || quoted) release_blank_lines(n);
        if (n->fields) put(n, ",", 1);
        if (quoted) put(n, "\"\"", 2);
    }
    n->field_open = 0;
    n->fields++;
}

static void norm_record(void *ctx, const csv_record *r)
{
    stage_norm *n = ctx;
    if (n->last_state == 1 || (n->last_state == 2 && n->last_quoted))
        put(n, n->last_state == 1 ? "\"" : "\"\"", n->last_state == 1 ? 1 : 2);
    n->last_state = n->last_quoted = n->extra_open = 0;
    n->fields = 0;
    if (r->blank) {
        n->blank_held++;
        return;
    }
    if (r->term != CSV_TERM_NONE) put(n, "\r\n", 2);
}

csv_sink stage_norm_sink(stage_norm *n)
{
    csv_sink s = {n, norm_data, norm_field, norm_record};
    return s;
}

/* ---- header lines ------------------------------------------------------ */

static int needs_enclosure(const char *name, const csv_dialect *d)
{
    if (d->quote && name[0] == (char)d->quote) return 1;
    for (const char *c = name; *c; c++)
        if (*c == (char)d->delimiter || *c == '\n' || *c == '\r' ||
            (d->quote && *c == (char)d->quote) ||
            (d->escape && *c == (char)d->escape))
            return 1;
    return 0;
}

static int write_name(stage_out *out, const char *name, const csv_dialect *d)
{
    int rc = 0;
    if (!needs_enclosure(name, d)) return stage_out_write(out, name, strlen(name));
    if (d->quote) {
        char q = (char)d->quote;
        rc |= stage_out_write(out, &q, 1);
        for (const char *c = name; *c && rc == 0; c++) {
            /* the enclosure is doubled, or escaped in a backslash dialect */
            if (*c == q || (d->escape && *c == (char)d->escape)) {
                char e = d->escape ? (char)d->escape : q;
                rc |= stage_out_write(out, &e, 1);
            }
            rc |= stage_out_write(out, c, 1);
        }
        rc |= stage_out_write(out, &q, 1);
        return rc ? -1 : 0;
    }
    if (!d->escape) return -2;
    for (const char *c = name; *c && rc == 0; c++) {
        if (*c == (char)d->delimiter || *c == '\n' || *c == '\r' ||
            *c == (char)d->escape)
            rc |= stage_out_write(out, &d->escape, 1);
        rc |= stage_out_write(out, c, 1);
    }
    return rc ? -1 : 0;
}

int stage_write_header(stage_out *out, const char *const *names, size_t n,
                       const csv_dialect *d, csv_term term)
{
    const char *eol = csv_term_name(term);
    for (size_t i = 0; i < n; i++) {
        int rc;
        if (i && stage_out_write(out, &d->delimiter, 1) < 0) return -1;
        if ((rc = write_name(out, names[i], d)) < 0) return rc;
    }
    return stage_out_write(out, eol, strlen(eol));
}
