/* stage_repair.c - see stage_repair.h. */
#include "stage_repair.h"

#include <string.h>

typedef struct window {
    size_t n;
    struct {
        uint64_t start, line;
        uint32_t fields;
        csv_term term;
        int blank;
    } rec[STAGE_REPAIR_WINDOW];
} window;

static void on_record(void *ctx, const csv_record *r)
{
    window *w = ctx;
    if (w->n == STAGE_REPAIR_WINDOW) return;
    w->rec[w->n].start = r->start;
    w->rec[w->n].line = r->line;
    w->rec[w->n].fields = r->fields;
    w->rec[w->n].term = r->term;
    w->rec[w->n].blank = r->blank;
    w->n++;
}

/* The field count most non-empty records have, 0 on a tie or none. */
static uint32_t strict_mode(const window *w)
{
    uint32_t best = 0;
    size_t best_n = 0, tie = 0;
    for (size_t i = 0; i < w->n; i++) {
        size_t c = 0;
        if (w->rec[i].blank) continue;
        for (size_t j = 0; j < w->n; j++)
            if (!w->rec[j].blank && w->rec[j].fields == w->rec[i].fields) c++;
        if (c > best_n) {
            best_n = c;
            best = w->rec[i].fields;
            tie = 0;
        } else if (c == best_n && w->rec[i].fields != best) {
            tie = 1;
        }
    }
    return tie ? 0 : best;
}

static size_t header_index(const window *w)
{
    uint32_t f = strict_mode(w);
    if (f <= 1) return 0;
    for (size_t i = 0; i < w->n && i <= STAGE_REPAIR_PREAMBLE_MAX; i++) {
        if (w->rec[i].blank) continue;
        if (w->rec[i].fields == f) return i;
        if (w->rec[i].fields > f) return 0; /* not a preamble line */
    }
    return 0;
}

void stage_repair_find_header(const unsigned char *p, size_t n, uint64_t base,
                              int eof, const csv_dialect *d, int preamble,
                              stage_repair_plan *out)
{
    /* ~6 KiB, kept off the stack; one stager runs at a time per thread */
    static _Thread_local window w;
    csv_scanner s;
    csv_sink sink = {&w, NULL, NULL, on_record};
    size_t done = 0, h;

    memset(out, 0, sizeof *out);
    w.n = 0;
    csv_scanner_init(&s, d, base, &sink);
    while (done < n && w.n < STAGE_REPAIR_WINDOW) {
        size_t k = n - done < 65536 ? n - done : 65536;
        csv_scan(&s, p + done, k);
        done += k;
    }
    if (done == n && eof) csv_scan_finish(&s);
    if (w.n == 0) return;
    h = preamble ? header_index(&w) : 0;
    out->found = 1;
    out->start = w.rec[h].start;
    out->line = w.rec[h].line;
    out->skipped = h;
    out->fields = w.rec[h].fields;
    out->term = w.rec[h].term;
}
