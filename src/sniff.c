/* sniff.c - see sniff.h.
 *
 * Pattern score, for the records of one parse:
 *     P = (1/K) * sum over distinct field counts L: N_L * w(L)
 * with K the number of distinct field counts, N_L the records having L
 * fields and w(L) = (L-1)/L, except w(1) = 0.1 (CleverCSV uses a tiny
 * constant; a larger one lets a clean one-column parse beat a ragged
 * two-column one).  Empty lines are left out.
 * Type score T = (typed cells - anomalous cells) / cells, at least 0.  An
 * anomalous cell (bytes after its closing enclosure) counts against its
 * dialect: it is how a wrong enclosure or a wrong escape shows.
 * Score = P * T. */
#include "sniff.h"

#include <string.h>

#define MAX_PATTERNS 64
#define SINGLE_FIELD_WEIGHT 0.1

typedef struct cell_state {
    size_t len;
    unsigned char first, last;
    int has_digit;
    int numeric_chars; /* only digits, signs, separators, date/time marks */
    int forbidden;     /* a byte an honest cell of this dialect lacks */
} cell_state;

typedef struct scorer {
    const csv_dialect *d;
    unsigned char forbidden[256];
    cell_state cell;
    /* the record being parsed */
    size_t rec_cells, rec_typed, rec_anomalous;
    /* committed records */
    size_t pattern_len[MAX_PATTERNS];
    size_t pattern_n[MAX_PATTERNS];
    size_t patterns;
    size_t overflow_patterns;
    size_t cells, typed, anomalous, records;
} scorer;

static const unsigned char numeric_set[] = "0123456789+-.,:/ eE%TZ";

static int in_set(unsigned char c, const unsigned char *set)
{
    return c && strchr((const char *)set, c) != NULL;
}

static void cell_reset(cell_state *c)
{
    memset(c, 0, sizeof *c);
    c->numeric_chars = 1;
}

static void on_data(void *ctx, const unsigned char *p, size_t n)
{
    scorer *s = ctx;
    cell_state *c = &s->cell;
    if (n == 0) return;
    if (c->len == 0) c->first = p[0];
    c->last = p[n - 1];
    c->len += n;
    for (size_t i = 0; i < n; i++) {
        unsigned char b = p[i];
        if (b >= '0' && b <= '9') {
            c->has_digit = 1;
            continue;
        }
        if (s->forbidden[b]) c->forbidden = 1;
        if (c->numeric_chars && !in_set(b, numeric_set)) c->numeric_chars = 0;
    }
}

static int looks_numeric(const cell_state *c)
{
    return c->numeric_chars && c->has_digit &&
           ((c->first >= '0' && c->first <= '9') || c->first == '-' ||
            c->first == '+' || c->first == '.');
}

static void on_field(void *ctx, int quoted, int anomaly)
{
    scorer *s = ctx;
    const cell_state *c = &s->cell;
    int typed;

    if (anomaly) {
        typed = 0;
        s->rec_anomalous++;
    } else if (quoted || c->len == 0 || looks_numeric(c)) {
        typed = 1;
    } else {
        typed = !c->forbidden && c->first != '\'' && c->last != '\'';
    }
    s->rec_cells++;
    s->rec_typed += (size_t)typed;
    cell_reset(&s->cell);
}

static void add_pattern(scorer *s, size_t len)
{
    for (size_t i = 0; i < s->patterns; i++) {
        if (s->pattern_len[i] == len) {
            s->pattern_n[i]++;
            return;
        }
    }
    if (s->patterns < MAX_PATTERNS) {
        s->pattern_len[s->patterns] = len;
        s->pattern_n[s->patterns++] = 1;
    } else {
        s->overflow_patterns++; /* only makes K bigger */
    }
}

static void on_record(void *ctx, const csv_record *r)
{
    scorer *s = ctx;
    /* a field left open by the end of the file is merely untyped: the
     * file may be cut short, the enclosure still be right */
    if (r->unterminated && s->rec_anomalous) s->rec_anomalous--;
    if (!r->blank) {
        add_pattern(s, r->fields);
        s->cells += s->rec_cells;
        s->typed += s->rec_typed;
        s->anomalous += s->rec_anomalous;
        s->records++;
    }
    s->rec_cells = s->rec_typed = s->rec_anomalous = 0;
}

static double finish_score(const scorer *s)
{
    double p = 0, t;
    size_t k = s->patterns + s->overflow_patterns;

    if (s->records == 0 || s->cells == 0 || k == 0) return 0;
    for (size_t i = 0; i < s->patterns; i++) {
        size_t len = s->pattern_len[i];
        double w = len <= 1 ? SINGLE_FIELD_WEIGHT : (double)(len - 1) / len;
        p += (double)s->pattern_n[i] * w;
    }
    p /= (double)k;
    t = ((double)s->typed - (double)s->anomalous) / (double)s->cells;
    return t > 0 ? p * t : 0;
}

double sniff_score(const unsigned char *sample, size_t n, int at_eof,
                   const char *delimiters, const csv_dialect *d)
{
    scorer s;
    csv_scanner sc;
    const csv_sink sink = {&s, on_data, on_field, on_record};

    if (!delimiters) delimiters = SNIFF_DEFAULT_DELIMITERS;
    memset(&s, 0, sizeof s);
    s.d = d;
    cell_reset(&s.cell);
    /* an honest unenclosed cell holds no other candidate delimiter, no
     * double quote and no control byte */
    for (const char *c = delimiters; *c; c++)
        s.forbidden[(unsigned char)*c] = 1;
    s.forbidden['"'] = 1;
    for (int c = 1; c < 0x20; c++) s.forbidden[c] = 1;
    s.forbidden[d->delimiter] = 0;

    csv_scanner_init(&sc, d, 0, &sink);
    csv_scan(&sc, sample, n);
    /* a record cut by the end of the sample is left out, unless it is all
     * the sample holds (one enormous field, say) */
    if (at_eof || s.records == 0) csv_scan_finish(&sc);
    return finish_score(&s);
}

/* What the sample contains decides which candidates are worth a parse. */
typedef struct presence {
    size_t count[256];
    int backslash_before[256]; /* '\' directly before this byte */
} presence;

static void survey(const unsigned char *p, size_t n, presence *pr)
{
    memset(pr, 0, sizeof *pr);
    for (size_t i = 0; i < n; i++) {
        pr->count[p[i]]++;
        if (i > 0 && p[i - 1] == '\\') pr->backslash_before[p[i]] = 1;
    }
}

static void find_eol(const unsigned char *sample, size_t n, csv_dialect *d);

double sniff_dialect(const unsigned char *sample, size_t n, int at_eof,
                     const char *delimiters, csv_dialect *out)
{
    presence pr;
    unsigned char delims[SNIFF_MAX_DELIMITERS];
    size_t nd = 0;
    double best = -1;
    csv_dialect cand;

    if (!delimiters || !*delimiters) delimiters = SNIFF_DEFAULT_DELIMITERS;
    csv_dialect_rfc(out);
    survey(sample, n, &pr);
    unsigned char first = 0;
    for (const char *c = delimiters; *c && nd < SNIFF_MAX_DELIMITERS; c++) {
        unsigned char ch = (unsigned char)*c;
        if (ch == '\n' || ch == '\r' || ch == '"' || ch == '\'') continue;
        if (!first) first = ch;
        if (pr.count[ch]) delims[nd++] = ch;
    }
    /* no candidate in the sample: one column, named by the first choice */
    if (nd == 0) delims[nd++] = first ? first : ',';

    const unsigned char quotes[] = {'"', 0, '\''};
    for (size_t di = 0; di < nd; di++) {
        for (size_t qi = 0; qi < sizeof quotes; qi++) {
            unsigned char q = quotes[qi];
            /* with no '"' in the sample, '"' and "none" parse alike */
            if (q == 0 && !pr.count['"']) continue;
            if (q == '\'' && !pr.count['\'']) continue;
            for (int esc = 0; esc < 2; esc++) {
                /* backslash escapes only where a backslash precedes the
                 * enclosure, or the delimiter when there is no enclosure
                 * (or it never occurs) */
                int bare = !q || !pr.count[q];
                if (esc && !(q && pr.backslash_before[q]) &&
                    !(bare && pr.backslash_before[delims[di]]))
                    continue;
                memset(&cand, 0, sizeof cand);
                cand.delimiter = delims[di];
                cand.quote = q;
                cand.escape = esc ? '\\' : 0;
                double score =
                    sniff_score(sample, n, at_eof, delimiters, &cand);
                /* strictly better only: earlier candidates win ties */
                if (score > best * (1 + 1e-9) + 1e-12) {
                    best = score;
                    *out = cand;
                }
            }
        }
    }
    if (best <= 0) {
        csv_dialect_rfc(out);
        best = 0;
    }
    /* backslash escapes and an enclosure that never occurs: the same
     * reading without the enclosure is one Keboola imports as it is */
    if (out->escape && out->quote && !pr.count[out->quote]) out->quote = 0;
    find_eol(sample, n, out);
    return best;
}

typedef struct {
    csv_term term;
    int seen;
} eol_probe;

static void eol_record(void *ctx, const csv_record *r)
{
    eol_probe *e = ctx;
    if (!e->seen && r->term != CSV_TERM_NONE) {
        e->term = r->term;
        e->seen = 1;
    }
}

/* The terminator of the first record (LF when there is none), found with
 * the chosen dialect so a newline inside an enclosure does not count. */
static void find_eol(const unsigned char *sample, size_t n, csv_dialect *d)
{
    eol_probe e = {CSV_TERM_LF, 0};
    const csv_sink sink = {&e, NULL, NULL, eol_record};
    csv_scanner sc;
    size_t chunk = 64 * 1024;

    csv_scanner_init(&sc, d, 0, &sink);
    for (size_t off = 0; off < n && !e.seen; off += chunk)
        csv_scan(&sc, sample + off, n - off < chunk ? n - off : chunk);
    d->eol = e.term;
}
