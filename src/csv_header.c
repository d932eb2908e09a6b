/* csv_header.c - see csv_header.h. */
#include "csv_header.h"

#include <stdlib.h>
#include <string.h>

void csv_header_init(csv_header *h)
{
    memset(h, 0, sizeof *h);
}

static void free_names(char **names, size_t n)
{
    if (!names) return;
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
}

void csv_header_free(csv_header *h)
{
    free_names(h->raw, h->count);
    free_names(h->keboola, h->count);
    free(h->webalize);
    free(h->cur);
    memset(h, 0, sizeof *h);
}

static int collecting(const csv_header *h)
{
    return !h->done && !h->too_large && !h->no_memory;
}

static void hdr_data(void *ctx, const unsigned char *p, size_t n)
{
    csv_header *h = ctx;
    if (!collecting(h)) return;
    if (!h->cur && !(h->cur = malloc(CSV_HEADER_NAME_MAX + 1))) {
        h->no_memory = 1;
        return;
    }
    if (h->cur_len + n > CSV_HEADER_NAME_MAX) {
        n = CSV_HEADER_NAME_MAX - h->cur_len;
        h->cut = 1;
    }
    memcpy(h->cur + h->cur_len, p, n);
    h->cur_len += n;
}

static void hdr_field(void *ctx, int quoted, int anomaly)
{
    csv_header *h = ctx;
    char *name;
    if (!collecting(h)) return;
    if (h->total + h->cur_len > CSV_HEADER_TOTAL_MAX) {
        h->too_large = 1;
        return;
    }
    if (h->count == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        char **raw = realloc(h->raw, cap * sizeof *raw);
        if (!raw) {
            h->no_memory = 1;
            return;
        }
        h->raw = raw;
        h->cap = cap;
    }
    if (!(name = malloc(h->cur_len + 1))) {
        h->no_memory = 1;
        return;
    }
    if (h->cur_len) memcpy(name, h->cur, h->cur_len);
    name[h->cur_len] = 0;
    h->raw[h->count++] = name;
    h->total += h->cur_len;
    h->cur_len = 0;
}

static void hdr_record(void *ctx, const csv_record *r)
{
    csv_header *h = ctx;
    if (h->done) return;
    h->done = 1;
    h->record = *r;
    free(h->cur);
    h->cur = NULL;
}

csv_sink csv_header_sink(csv_header *h)
{
    csv_sink s = {h, hdr_data, hdr_field, hdr_record};
    return s;
}

int csv_header_set_names(csv_header *h, const char *const *names, size_t n)
{
    char **copy = calloc(n ? n : 1, sizeof *copy);
    if (!copy) return -1;
    for (size_t i = 0; i < n; i++) {
        if (!(copy[i] = strdup(names[i]))) {
            free_names(copy, i);
            return -1;
        }
    }
    free_names(h->raw, h->count);
    free_names(h->keboola, h->count);
    h->keboola = NULL;
    h->raw = copy;
    h->count = h->cap = n;
    return 0;
}

int csv_header_analyse(csv_header *h)
{
    size_t n = h->count;
    free_names(h->keboola, n);
    free(h->webalize);
    h->keboola = calloc(n ? n : 1, sizeof *h->keboola);
    h->webalize = calloc(n ? n : 1, 1);
    if (!h->keboola || !h->webalize) return -1;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(h->raw[i]);
        if (!(h->keboola[i] = malloc(len + 2))) return -1;
        h->webalize[i] = (unsigned char)colname_sanitize(
            h->raw[i], len, h->keboola[i], len + 2);
    }
    h->issue_count =
        colname_check((const char *const *)h->raw,
                      (const char *const *)h->keboola, h->webalize, n,
                      h->issues, CSV_HEADER_ISSUES_MAX);
    return h->issue_count < 0 ? -1 : 0;
}
