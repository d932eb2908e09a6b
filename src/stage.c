/* stage.c - see stage.h.
 *
 * One pass, one slice at a time: CRC-32 as bytes are read, then UTF-8, the
 * tokenizer and the output over the same slice while it is still in cache.
 * The first slice is the sniff sample, so sniffing costs no extra read. */
#include "stage.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sniff.h"
#include "stage_crc.h"
#include "stage_norm.h"
#include "stage_out.h"

/* The file's mtime: struct stat names it differently on macOS. */
#ifdef __APPLE__
#define STAGE_MTIME(st) ((st)->st_mtimespec)
#else
#define STAGE_MTIME(st) ((st)->st_mtim)
#endif

enum { P_START, P_RUN, P_DONE, P_FAILED };

struct stage {
    char *src, *spool, *delimiters;
    char **names; /* header replacement */
    size_t name_count;
    size_t sample_bytes;
    uint64_t gzip_threshold;
    int gzip_level, gzip_never;
    stage_repair_opts repair;
    uint64_t data_start;  /* where the records staged start (after lines
                             a repair skipped) */
    csv_term header_term; /* no_header: the line end of the written header */

    int phase;
    int fd;
    struct stat at_open;
    int eof;
    unsigned char *sample; /* the first bytes read, sniffed, then staged */
    size_t sample_len, sample_done;
    unsigned char *buf;
    unsigned char *held; /* re-reading held-back empty lines */
    uint64_t pos;        /* absolute offset of the next byte to stage */
    uint64_t bytes_read;
    uint32_t crc;

    utf8_validator utf8;
    csv_scanner scan;
    csv_sink header_sink;
    csv_header source_header;
    csv_header replaced; /* the names written instead, when given */
    int header_seen;
    uint32_t expected_fields;
    uint64_t blank_line, blank_count; /* empty lines not yet judged */
    const char *deferred_code;        /* an error found inside a callback */

    stage_out out;
    int out_open;
    stage_norm norm;
    csv_sink norm_sink;
    int rewriting; /* normalising into a spool (not in analyse mode) */
    uint64_t copied_to;
    int header_written;

    stage_result_t res;
};

/* ---- errors ------------------------------------------------------------ */

static stage_status fail(stage_t *st, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Fail with the error already recorded in st->res.error (formatting the
 * message into itself would be undefined and leave it empty). */
static stage_status fail_recorded(stage_t *st, const char *code);

static stage_status fail(stage_t *st, const char *code, const char *fmt, ...)
{
    va_list ap;
    if (!st->res.failed) {
        st->res.failed = 1;
        st->res.error.code = code;
        va_start(ap, fmt);
        vsnprintf(st->res.error.message, sizeof st->res.error.message, fmt, ap);
        va_end(ap);
    }
    if (st->out_open) stage_out_abort(&st->out);
    st->out_open = 0;
    st->phase = P_FAILED;
    return STAGE_ERROR;
}

static stage_status fail_recorded(stage_t *st, const char *code)
{
    char msg[sizeof st->res.error.message];
    memcpy(msg, st->res.error.message, sizeof msg);
    msg[sizeof msg - 1] = 0;
    return fail(st, code, "%s", msg);
}

static stage_status fail_unstable(stage_t *st)
{
    st->res.unstable = 1;
    return fail(st, "unstable",
                "%s changed while it was being staged; it will be "
                "staged again once it is stable", st->src);
}

static void set_utf8_error(stage_t *st)
{
    const utf8_error *e = &st->utf8.err;
    stage_error *err = &st->res.error;
    st->res.utf8_valid = 0;
    st->res.utf8 = *e;
    if (st->res.error.code) return;
    err->code = "utf8";
    err->line = e->line;
    err->column = e->column;
    err->offset = e->offset;
    snprintf(err->message, sizeof err->message,
             "%s is not valid UTF-8: %s at line %" PRIu64 ", column %" PRIu64
             " (byte offset %" PRIu64 "); Keboola imports UTF-8 only: "
             "re-export the file as UTF-8",
             st->src, e->message, e->line, e->column, e->offset);
}

/* ---- open / close ------------------------------------------------------ */

static char *dup_or_null(const char *s, int *oom)
{
    char *d;
    if (!s) return NULL;
    if (!(d = strdup(s))) *oom = 1;
    return d;
}

stage_t *stage_open(const stage_opts *o)
{
    int oom = 0;
    stage_t *st = calloc(1, sizeof *st);
    if (!st) return NULL;
    st->fd = -1;
    csv_header_init(&st->source_header);
    csv_header_init(&st->replaced);
    st->src = dup_or_null(o->src ? o->src : "", &oom);
    st->spool = dup_or_null(o->spool, &oom);
    st->delimiters = dup_or_null(o->delimiters, &oom);
    st->repair = o->repair;
    st->res.repairs_asked = o->repair.names || o->repair.pad_short ||
                            o->repair.join_long || o->repair.preamble ||
                            o->repair.no_header;
    if (o->header) {
        /* names repair applies to a replacement too */
        char **fixed = NULL;
        long changed = 0;
        if (o->repair.names &&
            (changed = colname_repair(o->header, o->header_count, &fixed)) < 0)
            oom = 1;
        if (!oom && csv_header_set_names(&st->replaced,
                                         fixed ? (const char *const *)fixed
                                               : o->header,
                                         o->header_count) < 0)
            oom = 1;
        for (size_t i = 0; fixed && i < o->header_count; i++) free(fixed[i]);
        free(fixed);
        st->res.repair.names_changed = changed > 0 ? (size_t)changed : 0;
        st->names = st->replaced.raw;
        st->name_count = o->header_count;
    }
    st->sample_bytes = o->sample_bytes ? o->sample_bytes : SNIFF_DEFAULT_SAMPLE;
    if (st->sample_bytes > STAGE_MAX_SAMPLE) st->sample_bytes = STAGE_MAX_SAMPLE;
    st->gzip_threshold =
        o->gzip_threshold ? o->gzip_threshold : STAGE_DEFAULT_GZIP_THRESHOLD;
    st->gzip_level = (o->gzip_level >= 1 && o->gzip_level <= 9)
                         ? o->gzip_level : STAGE_DEFAULT_GZIP_LEVEL;
    st->gzip_never = o->gzip_never;
    st->res.file = st->src;
    st->res.utf8_valid = 1;
    st->res.source_header = &st->source_header;
    st->res.header = o->header ? &st->replaced : &st->source_header;
    csv_dialect_rfc(&st->res.dialect);
    csv_dialect_rfc(&st->res.upload);
    if (oom) {
        fail(st, "memory", "out of memory");
        return st;
    }
    st->fd = open(st->src, O_RDONLY | O_CLOEXEC);
    if (st->fd < 0) {
        fail(st, "io", "cannot open %s: %s", st->src, strerror(errno));
        return st;
    }
    if (fstat(st->fd, &st->at_open) < 0) {
        fail(st, "io", "cannot stat %s: %s", st->src, strerror(errno));
        return st;
    }
    if (!S_ISREG(st->at_open.st_mode)) {
        fail(st, "io", "%s is not a regular file", st->src);
        return st;
    }
    st->res.size = (uint64_t)st->at_open.st_size;
    st->res.mtime_ns = (int64_t)STAGE_MTIME(&st->at_open).tv_sec * 1000000000 +
                       STAGE_MTIME(&st->at_open).tv_nsec;
    /* analyse mode reports whether staging would gzip */
    st->res.gzip = !st->gzip_never && st->res.size > st->gzip_threshold;
    return st;
}

void stage_close(stage_t *st)
{
    if (!st) return;
    if (st->out_open) stage_out_abort(&st->out);
    if (st->fd >= 0) close(st->fd);
    csv_header_free(&st->source_header);
    csv_header_free(&st->replaced);
    free(st->sample);
    free(st->buf);
    free(st->held);
    free(st->src);
    free(st->spool);
    free(st->delimiters);
    free(st);
}

const stage_result_t *stage_result(const stage_t *st)
{
    return &st->res;
}

int stage_spool_progress(const stage_t *st, const char **path, uint64_t *bytes,
                         int *gzip)
{
    if (!st->out_open || st->phase == P_FAILED) return 0;
    *path = st->out.tmp_path;
    *bytes = st->out.bytes_out;
    *gzip = st->out.gzip;
    return 1;
}

/* ---- tokenizer callbacks ----------------------------------------------- */

static void record_error(stage_t *st, uint64_t line, uint32_t got)
{
    stage_result_t *r = &st->res;
    if (r->record_errors_shown < STAGE_RECORD_ERRORS_MAX) {
        stage_record_error *e = &r->record_errors[r->record_errors_shown++];
        e->line = line;
        e->expected = st->expected_fields;
        e->got = got;
    }
    r->record_errors_total++;
}

static void note_padded(stage_t *st, uint64_t line)
{
    if (st->res.repair.padded++ == 0) st->res.repair.first_padded_line = line;
}

static void on_header_data(void *ctx, const unsigned char *p, size_t n)
{
    stage_t *st = ctx;
    st->header_sink.data(st->header_sink.ctx, p, n);
    /* a replaced header is not written field by field */
    if (st->rewriting && !st->names) st->norm_sink.data(&st->norm, p, n);
}

static void on_header_field(void *ctx, int quoted, int anomaly)
{
    stage_t *st = ctx;
    st->header_sink.field(st->header_sink.ctx, quoted, anomaly);
    if (st->rewriting && !st->names)
        st->norm_sink.field(&st->norm, quoted, anomaly);
}

static void on_norm_data(void *ctx, const unsigned char *p, size_t n)
{
    stage_t *st = ctx;
    st->norm_sink.data(&st->norm, p, n);
}

static void on_norm_field(void *ctx, int quoted, int anomaly)
{
    stage_t *st = ctx;
    st->norm_sink.field(&st->norm, quoted, anomaly);
}

static void on_record(void *ctx, const csv_record *r);

/* The header is known (read, or made up by no_header): records follow. */
static void begin_records(stage_t *st)
{
    static const csv_dialect rfc = {',', '"', 0, CSV_TERM_CRLF, 0};
    csv_sink fast = {st, NULL, NULL, on_record};

    if (st->rewriting) {
        if (st->names &&
            stage_write_header(&st->out, (const char *const *)st->names,
                               st->name_count, &rfc, CSV_TERM_CRLF) < 0)
            st->norm.failed = 1;
        if (st->repair.pad_short) st->norm.pad_to = st->expected_fields;
        if (st->repair.join_long) {
            st->norm.join_at = st->expected_fields;
            st->norm.join_delim = st->res.dialect.delimiter;
        }
        fast.data = on_norm_data;
        fast.field = on_norm_field;
    }
    csv_scanner_set_sink(&st->scan, &fast);
}

static void header_ended(stage_t *st, const csv_record *r)
{
    st->header_sink.record(st->header_sink.ctx, r);
    st->header_seen = 1;
    st->expected_fields = r->fields;
    if (st->names && st->name_count != r->fields) {
        st->deferred_code = "header";
        return;
    }
    if (st->rewriting && !st->names) st->norm_sink.record(&st->norm, r);
    begin_records(st);
}

static void on_record(void *ctx, const csv_record *r)
{
    stage_t *st = ctx;
    stage_result_t *res = &st->res;

    if (!st->header_seen) {
        header_ended(st, r);
        return;
    }
    if (st->rewriting) {
        if (st->repair.pad_short && !r->blank && r->fields < st->expected_fields)
            for (uint32_t k = r->fields; k < st->expected_fields; k++)
                st->norm_sink.field(&st->norm, 0, 0);
        st->norm_sink.record(&st->norm, r);
    }
    if (r->unterminated && !res->unterminated) {
        res->unterminated = 1;
        res->unterminated_line = r->line;
    }
    /* a quote that opens a field and is never closed on its line takes
     * the line break and the next line's opening quote as its end, and
     * what follows is text after a closing quote: a multi-line record
     * with an anomaly.  Copied as it is, the table would hold the wrong
     * values. */
    if (r->anomalies && st->res.dialect.quote && !res->unclosed_line &&
        st->scan.line > r->line)
        res->unclosed_line = r->line;
    if (r->anomalies) {
        if (!res->anomalies) res->first_anomaly_line = r->line;
        res->anomalies += r->anomalies;
    }
    if (r->blank) { /* judged once we know it is not trailing */
        if (st->blank_count++ == 0) st->blank_line = r->line;
        return;
    }
    for (uint64_t k = 0; k < st->blank_count; k++) {
        if (st->expected_fields == 1) continue;
        if (st->repair.pad_short) note_padded(st, st->blank_line + k);
        else record_error(st, st->blank_line + k, 1);
    }
    st->blank_count = 0;
    if (r->fields < st->expected_fields && st->repair.pad_short) {
        note_padded(st, r->line);
    } else if (r->fields > st->expected_fields && st->repair.join_long) {
        if (res->repair.joined++ == 0) res->repair.first_joined_line = r->line;
    } else if (r->fields != st->expected_fields) {
        record_error(st, r->line, r->fields);
    }
}

/* ---- reading and writing ----------------------------------------------- */

static ssize_t read_some(stage_t *st, unsigned char *p, size_t cap)
{
    for (;;) {
        ssize_t r = read(st->fd, p, cap);
        if (r < 0 && errno == EINTR) continue;
        if (r > 0) {
            st->crc = stage_crc32(st->crc, p, (size_t)r);
            st->bytes_read += (uint64_t)r;
        }
        return r;
    }
}

/* Writes source bytes [st->copied_to, upto).  Those before `base` were
 * held back (empty lines that might have been trailing) and are read
 * again; the rest are in p[]. */
static int copy_source(stage_t *st, const unsigned char *p, uint64_t base,
                       uint64_t upto)
{
    while (st->copied_to < upto && st->copied_to < base) {
        size_t want = (size_t)((base < upto ? base : upto) - st->copied_to);
        if (want > STAGE_CHUNK) want = STAGE_CHUNK;
        if (!st->held && !(st->held = malloc(STAGE_CHUNK))) return -1;
        ssize_t r = pread(st->fd, st->held, want, (off_t)st->copied_to);
        if (r <= 0) return -1;
        if (stage_out_write(&st->out, st->held, (size_t)r) < 0) return -1;
        st->copied_to += (uint64_t)r;
    }
    if (st->copied_to < upto) {
        if (stage_out_write(&st->out, p + (st->copied_to - base),
                            (size_t)(upto - st->copied_to)) < 0)
            return -1;
        st->copied_to = upto;
    }
    return 0;
}

/* Copy mode: after a slice [base, base+n) is tokenized, write what is
 * settled of it. */
static int copy_out(stage_t *st, const unsigned char *p, uint64_t base,
                    size_t n)
{
    uint64_t upto = base + n, hold = csv_scan_hold_from(&st->scan);

    if (st->names && !st->header_written) {
        if (!st->header_seen) return 0; /* still inside the header */
        int rc = stage_write_header(&st->out, (const char *const *)st->names,
                                    st->name_count, &st->res.dialect,
                                    st->repair.no_header
                                        ? st->header_term
                                        : st->source_header.record.term);
        if (rc == -2) {
            st->deferred_code = "header";
            return 0;
        }
        if (rc < 0) return -1;
        st->header_written = 1;
        st->copied_to = st->repair.no_header ? st->data_start
                                             : st->source_header.record.end;
    }
    if (hold < upto) upto = hold;
    return copy_source(st, p, base, upto);
}

static stage_status deferred(stage_t *st)
{
    if (st->names && st->name_count != st->expected_fields)
        return fail(st, "header",
                    "the header replacement has %zu names but the header of "
                    "%s has %" PRIu32 " fields",
                    st->name_count, st->src, st->expected_fields);
    return fail(st, "header",
                "a replacement header name cannot be written in the dialect "
                "of %s (it holds the delimiter or a line break and the file "
                "has no enclosure)", st->src);
}

static void set_unclosed_error(stage_t *st)
{
    stage_error *err = &st->res.error;
    if (err->code) return;
    err->code = "quote";
    err->line = st->res.unclosed_line;
    snprintf(err->message, sizeof err->message,
             "%s has a quote that is never closed: the enclosed field that "
             "starts on line %" PRIu64 " runs on over the line break and ends "
             "with text after a quote; close the quote on that line (or "
             "double quotes that are data)", st->src, st->res.unclosed_line);
}

static stage_status process(stage_t *st, const unsigned char *p, size_t n)
{
    const uint64_t base = st->pos;

    if (st->res.utf8_valid && utf8_feed(&st->utf8, p, n) < 0) {
        set_utf8_error(st);
        if (st->spool) return fail_recorded(st, "utf8");
    }
    csv_scan(&st->scan, p, n);
    st->pos += n;
    if (st->deferred_code) return deferred(st);
    if (st->res.unclosed_line) {
        set_unclosed_error(st);
        if (st->spool) return fail_recorded(st, "quote");
    }
    if (st->out_open && !st->rewriting && copy_out(st, p, base, n) < 0)
        return fail(st, "io", "%s", st->out.error[0] ? st->out.error
                                                     : "cannot copy source");
    if (st->deferred_code) return deferred(st);
    if (st->norm.failed) return fail(st, "io", "%s", st->out.error);
    return STAGE_MORE;
}

/* ---- the phases -------------------------------------------------------- */

/* Row repairs rewrite: a padded or joined row may be anywhere, so every
 * file staged with them goes through the RFC 4180 rewrite. */
static void choose_upload(stage_result_t *r, int row_repairs)
{
    const csv_dialect *d = &r->dialect;
    r->normalize =
        (d->quote && d->escape) || d->eol == CSV_TERM_CR || row_repairs;
    if (r->normalize) {
        csv_dialect_rfc(&r->upload);
        r->upload.eol = CSV_TERM_CRLF;
    } else {
        r->upload = *d;
        r->upload.bom = 0;
    }
}

/* The header's names from the sample (names repair), from `at` on. */
static int sample_header(stage_t *st, uint64_t at, csv_header *h)
{
    csv_scanner s;
    csv_sink sink = csv_header_sink(h);
    size_t done = (size_t)at;
    csv_scanner_init(&s, &st->res.dialect, at, &sink);
    while (done < st->sample_len && !h->done) {
        size_t k = st->sample_len - done < 65536 ? st->sample_len - done : 65536;
        csv_scan(&s, st->sample + done, k);
        done += k;
    }
    if (!h->done && st->eof) csv_scan_finish(&s);
    return h->done && !h->no_memory && !h->too_large ? 0 : -1;
}

/* The repairs decided before the read: where the header is (preamble), the
 * names of a file without one, the renamed header names. */
static stage_status plan_repairs(stage_t *st, size_t bom)
{
    const stage_repair_opts *o = &st->repair;
    stage_repair_result *rep = &st->res.repair;
    stage_repair_plan plan;
    char **names = NULL;
    size_t count = 0;
    long changed = 0;
    int oom = 0;

    if (!o->preamble && !o->no_header && !(o->names && !st->names))
        return STAGE_MORE;
    stage_repair_find_header(st->sample + bom, st->sample_len - bom, bom,
                             st->eof, &st->res.dialect, o->preamble, &plan);
    if (!plan.found)
        return fail(st, "header",
                    "%s has no whole line in its first %zu bytes, so "
                    "policy.repair cannot find the header; raise sniff_bytes",
                    st->src, st->sample_len);
    st->data_start = plan.start;
    rep->preamble_records = plan.skipped;
    rep->preamble_lines = plan.line - 1;
    if (plan.start > bom && utf8_feed(&st->utf8, st->sample + bom,
                                      (size_t)plan.start - bom) < 0) {
        set_utf8_error(st);
        if (st->spool) return fail_recorded(st, "utf8");
    }
    if (o->no_header) {
        count = plan.fields;
        if (!(names = calloc(count, sizeof *names))) oom = 1;
        for (size_t i = 0; !oom && i < count; i++) {
            if (!(names[i] = malloc(32))) oom = 1;
            else snprintf(names[i], 32, "column_%zu", i + 1);
        }
        changed = (long)count;
        rep->no_header = 1;
        st->header_seen = 1;
        st->expected_fields = plan.fields;
        st->header_term = plan.term != CSV_TERM_NONE ? plan.term
                          : st->res.dialect.eol != CSV_TERM_NONE
                              ? st->res.dialect.eol : CSV_TERM_LF;
        /* the "source" header is the made-up one: nothing was renamed */
        if (!oom && csv_header_set_names(&st->source_header,
                                         (const char *const *)names, count) < 0)
            oom = 1;
    } else if (!st->names) {
        csv_header h;
        csv_header_init(&h);
        if (sample_header(st, plan.start, &h) < 0) {
            csv_header_free(&h);
            return fail(st, "header",
                        "%s: policy.repair.names cannot read the header "
                        "within the first %zu bytes; raise sniff_bytes",
                        st->src, st->sample_len);
        }
        count = h.count;
        if ((changed = colname_repair((const char *const *)h.raw, count,
                                      &names)) < 0)
            oom = 1;
        else
            rep->names_changed = (size_t)changed;
        csv_header_free(&h);
    }
    if (!oom && changed > 0) {
        if (csv_header_set_names(&st->replaced, (const char *const *)names,
                                 count) < 0)
            oom = 1;
        st->names = st->replaced.raw;
        st->name_count = count;
        st->res.header = &st->replaced;
    }
    for (size_t i = 0; names && i < count; i++) free(names[i]);
    free(names);
    if (oom) return fail(st, "memory", "out of memory");
    return STAGE_MORE;
}

static stage_status start(stage_t *st)
{
    size_t cap = st->sample_bytes + 3, len = 0, bom = 0;
    csv_sink first = {st, on_header_data, on_header_field, on_record};

    st->sample = malloc(cap);
    st->buf = malloc(STAGE_CHUNK);
    if (!st->sample || !st->buf) return fail(st, "memory", "out of memory");
    while (len < cap) {
        ssize_t r = read_some(st, st->sample + len, cap - len);
        if (r < 0)
            return fail(st, "io", "cannot read %s: %s", st->src, strerror(errno));
        if (r == 0) {
            st->eof = 1;
            break;
        }
        len += (size_t)r;
    }
    if (len >= 3 && memcmp(st->sample, "\xEF\xBB\xBF", 3) == 0) bom = 3;
    st->res.dialect.bom = bom > 0;
    if (len == bom) {
        /* Shorter than it was when opened: it is being rewritten, not
         * empty; the daemon stages it again once it is stable. */
        if ((uint64_t)len != st->res.size) return fail_unstable(st);
        return fail(st, "empty",
                    "%s is empty: Keboola needs at least a header line", st->src);
    }

    sniff_dialect(st->sample + bom, len - bom, st->eof, st->delimiters,
                  &st->res.dialect);
    st->res.dialect.bom = bom > 0;
    choose_upload(&st->res, st->repair.pad_short || st->repair.join_long);

    st->sample_len = len;
    st->data_start = bom;
    utf8_init(&st->utf8, bom, st->res.dialect.eol == CSV_TERM_CR ? '\r' : '\n');
    if (plan_repairs(st, bom) == STAGE_ERROR) return STAGE_ERROR;
    st->sample_done = (size_t)st->data_start;
    st->pos = st->copied_to = st->data_start;
    st->header_sink = csv_header_sink(&st->source_header);
    csv_scanner_init(&st->scan, &st->res.dialect, st->data_start, &first);
    /* lines skipped above the header keep their numbers */
    st->scan.line = st->scan.record_line = st->res.repair.preamble_lines + 1;
    if (st->spool) {
        if (stage_out_open(&st->out, st->spool, st->res.gzip,
                           st->gzip_level) < 0)
            return fail(st, "io", "%s", st->out.error);
        st->out_open = 1;
        stage_norm_init(&st->norm, &st->out);
        st->norm_sink = stage_norm_sink(&st->norm);
        st->rewriting = st->res.normalize;
    }
    if (st->repair.no_header) begin_records(st);
    st->phase = P_RUN;
    return STAGE_MORE;
}

static int changed(const struct stat *a, const struct stat *b)
{
    return a->st_size != b->st_size || a->st_ino != b->st_ino ||
           a->st_dev != b->st_dev ||
           STAGE_MTIME(a).tv_sec != STAGE_MTIME(b).tv_sec ||
           STAGE_MTIME(a).tv_nsec != STAGE_MTIME(b).tv_nsec;
}

static stage_status finish(stage_t *st)
{
    stage_result_t *r = &st->res;
    struct stat now_fd, now_path;

    /* empty lines still held back are trailing: they are not written */
    csv_scan_finish(&st->scan);
    if (st->deferred_code) return deferred(st);
    if (r->unclosed_line) {
        set_unclosed_error(st);
        if (st->spool) return fail_recorded(st, "quote");
    }
    if (r->utf8_valid && utf8_finish(&st->utf8) < 0) {
        set_utf8_error(st);
        if (st->spool) return fail_recorded(st, "utf8");
    }
    if (r->unterminated && !r->error.code) {
        r->error.code = "quote";
        r->error.line = r->unterminated_line;
        snprintf(r->error.message, sizeof r->error.message,
                 "%s ends inside an enclosed field that starts on line %" PRIu64
                 " (a quote is never closed)", st->src, r->unterminated_line);
        if (st->spool) return fail(st, "quote", "%s", r->error.message);
    }
    r->rows = st->repair.no_header ? st->scan.records
              : st->scan.records > 0 ? st->scan.records - 1 : 0;
    if (csv_header_analyse((csv_header *)r->header) < 0)
        return fail(st, "memory", "out of memory");
    if (r->header != &st->source_header &&
        csv_header_analyse(&st->source_header) < 0)
        return fail(st, "memory", "out of memory");

    snprintf(r->fingerprint, sizeof r->fingerprint, "%" PRIu64 "-%08" PRIx32,
             st->bytes_read, st->crc);
    r->crc32 = st->crc;
    if (fstat(st->fd, &now_fd) < 0 || stat(st->src, &now_path) < 0 ||
        changed(&st->at_open, &now_fd) || changed(&st->at_open, &now_path) ||
        st->bytes_read != r->size) {
        return fail_unstable(st);
    }
    if (st->out_open) {
        if (st->norm.failed || stage_out_commit(&st->out) < 0)
            return fail(st, "io", "%s", st->out.error);
        r->spool = st->spool;
        r->spool_bytes = st->out.bytes_out;
        stage_out_abort(&st->out); /* frees; the file stays */
        st->out_open = 0;
    }
    st->phase = P_DONE;
    return STAGE_DONE;
}

stage_status stage_step(stage_t *st, size_t max_bytes)
{
    size_t done = 0;

    if (st->phase == P_FAILED) return STAGE_ERROR;
    if (st->phase == P_DONE) return STAGE_DONE;
    if (st->phase == P_START && start(st) == STAGE_ERROR) return STAGE_ERROR;
    do {
        size_t n;
        stage_status s;
        if (st->sample_done < st->sample_len) {
            n = st->sample_len - st->sample_done;
            if (n > STAGE_CHUNK) n = STAGE_CHUNK;
            s = process(st, st->sample + st->sample_done, n);
            st->sample_done += n;
            if (st->sample_done == st->sample_len) { /* give it back now */
                free(st->sample);
                st->sample = NULL;
                st->sample_len = st->sample_done = 0;
            }
        } else if (!st->eof) {
            ssize_t r = read_some(st, st->buf, STAGE_CHUNK);
            if (r < 0)
                return fail(st, "io", "cannot read %s: %s", st->src,
                            strerror(errno));
            if (r == 0) {
                st->eof = 1;
                continue;
            }
            n = (size_t)r;
            s = process(st, st->buf, n);
        } else {
            return finish(st);
        }
        if (s == STAGE_ERROR) return s;
        done += n;
    } while (done < max_bytes);
    return STAGE_MORE;
}
