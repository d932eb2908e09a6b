/* tool_stage - drive the C stager from the Python tests.
 *
 *   tool_stage SRC [SPOOL] [--gzip-threshold N] [--gzip-level N] [--no-gzip]
 *              [--name NAME]... [--sample N] [--delimiters S] [--step N]
 *              [--append-after-first-step TEXT] [--json]
 *
 * Without SPOOL it analyses only.  --name (repeated) replaces the header.
 * --append-after-first-step appends TEXT to SRC after the first step, which
 * is how the tests make a source change during staging.  Prints the result
 * as one JSON object (--json) or a few readable lines; exits 0 when the
 * stager finished, 2 when it reported an error, 64 on bad usage. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stage.h"

static void json_str(const char *s)
{
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') printf("\\%c", *p);
        else if (*p == '\n') printf("\\n");
        else if (*p == '\r') printf("\\r");
        else if (*p == '\t') printf("\\t");
        else if (*p < 0x20) printf("\\u%04x", *p);
        else putchar(*p);
    }
    putchar('"');
}

static void json_char(unsigned char c)
{
    char b[2] = {(char)c, 0};
    json_str(b);
}

static void json_dialect(const csv_dialect *d, int full)
{
    printf("{\"delimiter\":");
    json_char(d->delimiter);
    printf(",\"enclosure\":");
    json_char(d->quote);
    printf(",\"escapedBy\":");
    /* Keboola takes either an enclosure or an escape, so a doubled
     * enclosure is "no escape" */
    json_char(d->escape);
    if (full) {
        printf(",\"lineTerminator\":");
        json_str(csv_term_name(d->eol));
        printf(",\"bom\":%s", d->bom ? "true" : "false");
    }
    printf("}");
}

static void json_names(char **names, size_t n)
{
    printf("[");
    for (size_t i = 0; i < n; i++) {
        if (i) printf(",");
        json_str(names ? names[i] : "");
    }
    printf("]");
}

static void print_json(const stage_result_t *r, stage_status s, int steps)
{
    const csv_header *h = r->header;
    printf("{\"status\":\"%s\",\"steps\":%d,\"file\":",
           s == STAGE_DONE ? "done" : "error", steps);
    json_str(r->file);
    printf(",\"size\":%" PRIu64 ",\"mtime_ns\":%" PRId64 ",\"fingerprint\":",
           r->size, r->mtime_ns);
    json_str(r->fingerprint);
    printf(",\"encoding\":{\"valid\":%s,\"error\":", r->utf8_valid ? "true" : "false");
    if (r->utf8_valid) {
        printf("null");
    } else {
        printf("{\"line\":%" PRIu64 ",\"column\":%" PRIu64 ",\"offset\":%" PRIu64
               ",\"message\":", r->utf8.line, r->utf8.column, r->utf8.offset);
        json_str(r->utf8.message);
        printf("}");
    }
    printf("},\"dialect\":");
    json_dialect(&r->dialect, 1);
    printf(",\"upload\":");
    json_dialect(&r->upload, 0);
    printf(",\"header\":{\"raw\":");
    json_names(r->source_header->raw, r->source_header->count);
    printf(",\"keboola\":");
    json_names(h->keboola, h->keboola ? h->count : 0);
    printf(",\"webalize\":[");
    for (size_t i = 0, k = 0; h->webalize && i < h->count; i++)
        if (h->webalize[i]) printf("%s%zu", k++ ? "," : "", i + 1);
    printf("],\"errors\":[");
    for (long i = 0; i < h->issue_count && i < CSV_HEADER_ISSUES_MAX; i++) {
        const colname_issue *e = &h->issues[i];
        printf("%s{\"column\":%zu,\"other\":%zu,\"name\":", i ? "," : "",
               e->column, e->other);
        json_str(h->raw[e->column - 1]);
        printf(",\"message\":");
        json_str(e->message);
        printf("}");
    }
    printf("]},\"rows\":%" PRIu64 ",\"record_errors\":[", r->rows);
    for (size_t i = 0; i < r->record_errors_shown; i++)
        printf("%s{\"line\":%" PRIu64 ",\"expected\":%" PRIu32 ",\"got\":%" PRIu32 "}",
               i ? "," : "", r->record_errors[i].line,
               r->record_errors[i].expected, r->record_errors[i].got);
    printf("],\"record_errors_total\":%" PRIu64 ",\"anomalies\":%" PRIu64
           ",\"unterminated\":%s,\"gzip\":%s,\"normalize\":%s,\"spool\":",
           r->record_errors_total, r->anomalies,
           r->unterminated ? "true" : "false", r->gzip ? "true" : "false",
           r->normalize ? "true" : "false");
    if (r->spool) json_str(r->spool);
    else printf("null");
    printf(",\"spool_bytes\":%" PRIu64 ",\"unstable\":%s,\"error\":",
           r->spool_bytes, r->unstable ? "true" : "false");
    if (r->error.code) {
        printf("{\"code\":");
        json_str(r->error.code);
        printf(",\"message\":");
        json_str(r->error.message);
        printf(",\"line\":%" PRIu64 ",\"column\":%" PRIu64 ",\"offset\":%" PRIu64 "}",
               r->error.line, r->error.column, r->error.offset);
    } else {
        printf("null");
    }
    printf("}\n");
}

static int usage(void)
{
    fprintf(stderr, "usage: tool_stage SRC [SPOOL] [--gzip-threshold N] "
                    "[--gzip-level N] [--no-gzip] [--name NAME]... "
                    "[--sample N] [--delimiters S] [--step N] "
                    "[--append-after-first-step TEXT] [--json]\n");
    return 64;
}

int main(int argc, char **argv)
{
    stage_opts o;
    const char *names[4096];
    size_t nnames = 0, step = 8u << 20;
    const char *append = NULL;
    int json = 0, steps = 0;

    memset(&o, 0, sizeof o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--json")) json = 1;
        else if (!strcmp(a, "--no-gzip")) o.gzip_never = 1;
        else if (v && !strcmp(a, "--gzip-threshold")) o.gzip_threshold = strtoull(argv[++i], NULL, 10);
        else if (v && !strcmp(a, "--gzip-level")) o.gzip_level = atoi(argv[++i]);
        else if (v && !strcmp(a, "--sample")) o.sample_bytes = strtoull(argv[++i], NULL, 10);
        else if (v && !strcmp(a, "--delimiters")) o.delimiters = argv[++i];
        else if (v && !strcmp(a, "--step")) step = strtoull(argv[++i], NULL, 10);
        else if (v && !strcmp(a, "--append-after-first-step")) append = argv[++i];
        else if (v && !strcmp(a, "--name") && nnames < 4096) names[nnames++] = argv[++i];
        else if (a[0] == '-' && a[1] == '-') return usage();
        else if (!o.src) o.src = a;
        else if (!o.spool) o.spool = a;
        else return usage();
    }
    if (!o.src) return usage();
    if (nnames) {
        o.header = names;
        o.header_count = nnames;
    }
    stage_t *st = stage_open(&o);
    if (!st) return 70;
    stage_status s;
    while ((s = stage_step(st, step)) == STAGE_MORE) {
        if (steps++ == 0 && append) {
            FILE *f = fopen(o.src, "ab");
            if (f) {
                fputs(append, f);
                fclose(f);
            }
        }
    }
    steps++;
    const stage_result_t *r = stage_result(st);
    if (json) {
        print_json(r, s, steps);
    } else {
        printf("status %s\nfingerprint %s\nrows %" PRIu64 "\nspool %s (%" PRIu64
               " bytes)\n", s == STAGE_DONE ? "done" : "error", r->fingerprint,
               r->rows, r->spool ? r->spool : "-", r->spool_bytes);
        if (r->error.code) printf("error %s: %s\n", r->error.code, r->error.message);
    }
    stage_close(st);
    return s == STAGE_DONE ? 0 : 2;
}
