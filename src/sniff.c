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
 * dialect: it is how a wrong enclosure or a wrong escape shows.  So does,
 * for a dialect without enclosure, a cell that a '"' enclosure would have
 * read cleanly ("1", "a ""b"""): quotes that open and close fields are
 * strong evidence of an enclosure.
 * Score = P * T.
 *
 * Cost: one parse per candidate, so candidates are chosen first from one
 * cheap pass that counts, per line, each punctuation byte (see survey()). */
#include "sniff.h"

#include <string.h>

#include "sniff_type.h"

#define MAX_PATTERNS 64
#define SINGLE_FIELD_WEIGHT 0.1
/* Delimiters beyond the preferred ones that get a full parse. */
#define MAX_EXTRAS 3
/* An extra delimiter must appear the same number of times (at least once)
 * on this share of the lines; space, which separates words in any text,
 * on nearly all of them. */
#define EXTRA_MIN_SHARE 0.5
#define SPACE_MIN_SHARE 0.95
/* Below this share of records with the most common field count, a parse is
 * ragged: not a table of that many columns. */
#define RAGGED_SHARE 0.5
/* A reading with a preferred delimiter whose first record (the header) has
 * the body's field count is preferred to a better-scored reading with
 * another delimiter whose header does not, unless that one scores this
 * many times more: `id,text` over `0,row-0001-x` is read with ',' and not
 * with '-', which the values hold but the header does not (a header that
 * does not name every column cannot be loaded).  Only preferred delimiters
 * get this: a preamble line full of dates would otherwise make '-' fit. */
#define HEADER_FIT_RATIO 4.0
/* Lines the survey looks at (a few thousand show any regularity). */
#define SURVEY_LINES 4096
/* Samples larger than twice this are first scored on this prefix; the
 * FINALISTS best candidates scoring at least FINALIST_RATIO of the best
 * are then scored on the whole sample (keeps 1 MiB under 20 ms). */
#define SNIFF_PREFIX (128 * 1024)
#define FINALISTS 2
#define FINALIST_RATIO 0.5

typedef struct cell_state {
    size_t len;
    unsigned char buf[SNIFF_TYPE_MAX];
    int forbidden; /* a byte an honest unenclosed cell of this dialect lacks */
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
    size_t head_fields; /* field count of the first record */
    int unterminated;
} scorer;

/* What one parse says. */
typedef struct sniff_eval {
    double score;
    size_t records;
    size_t modal_fields; /* the most common field count */
    double modal_share;  /* of the records */
    size_t anomalous;
    int unterminated;
    int header_fits;     /* the first record has the modal field count */
} sniff_eval;

static void on_data(void *ctx, const unsigned char *p, size_t n)
{
    scorer *s = ctx;
    cell_state *c = &s->cell;
    if (c->len < SNIFF_TYPE_MAX) {
        size_t k = SNIFF_TYPE_MAX - c->len < n ? SNIFF_TYPE_MAX - c->len : n;
        memcpy(c->buf + c->len, p, k);
    }
    c->len += n;
    if (!c->forbidden)
        for (size_t i = 0; i < n; i++)
            if (s->forbidden[p[i]]) {
                c->forbidden = 1;
                break;
            }
}

/* "..." with only doubled quotes inside: what a '"' enclosure reads
 * cleanly. */
static int cleanly_enclosed(const cell_state *c)
{
    if (c->len < 2 || c->len > SNIFF_TYPE_MAX || c->buf[0] != '"' ||
        c->buf[c->len - 1] != '"')
        return 0;
    for (size_t i = 1; i + 1 < c->len; i++) {
        if (c->buf[i] != '"') continue;
        if (i + 2 < c->len && c->buf[i + 1] == '"')
            i++;
        else
            return 0;
    }
    return 1;
}

static void on_field(void *ctx, int quoted, int anomaly)
{
    scorer *s = ctx;
    cell_state *c = &s->cell;
    int typed;

    if (anomaly || (!s->d->quote && cleanly_enclosed(c))) {
        typed = 0;
        s->rec_anomalous++;
    } else if (quoted || c->len == 0) {
        typed = 1;
    } else if (c->len <= SNIFF_TYPE_MAX &&
               sniff_cell_type(c->buf, c->len) != SNIFF_T_NONE) {
        typed = 1;
    } else {
        size_t k = c->len < SNIFF_TYPE_MAX ? c->len : SNIFF_TYPE_MAX;
        typed = !c->forbidden && c->buf[0] != '\'' && c->buf[k - 1] != '\'';
    }
    s->rec_cells++;
    s->rec_typed += (size_t)typed;
    c->len = 0;
    c->forbidden = 0;
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
    /* a field left open by the end of the sample is merely untyped: the
     * file may be cut short, the enclosure still be right */
    if (r->unterminated) {
        s->unterminated = 1;
        if (s->rec_anomalous) s->rec_anomalous--;
    }
    if (!r->blank) {
        add_pattern(s, r->fields);
        if (s->records == 0) s->head_fields = r->fields;
        s->cells += s->rec_cells;
        s->typed += s->rec_typed;
        s->anomalous += s->rec_anomalous;
        s->records++;
    }
    s->rec_cells = s->rec_typed = s->rec_anomalous = 0;
}

static void finish_eval(const scorer *s, sniff_eval *e)
{
    double p = 0, t;
    size_t k = s->patterns + s->overflow_patterns, modal_n = 0;

    memset(e, 0, sizeof *e);
    e->records = s->records;
    e->anomalous = s->anomalous;
    e->unterminated = s->unterminated;
    if (s->records == 0 || s->cells == 0 || k == 0) return;
    for (size_t i = 0; i < s->patterns; i++) {
        size_t len = s->pattern_len[i];
        double w = len <= 1 ? SINGLE_FIELD_WEIGHT : (double)(len - 1) / len;
        p += (double)s->pattern_n[i] * w;
        if (s->pattern_n[i] > modal_n) {
            modal_n = s->pattern_n[i];
            e->modal_fields = len;
        }
    }
    e->modal_share = (double)modal_n / (double)s->records;
    p /= (double)k;
    t = ((double)s->typed - (double)s->anomalous) / (double)s->cells;
    e->score = t > 0 ? p * t : 0;
    e->header_fits = s->records > 1 && e->modal_fields > 1 && s->head_fields == e->modal_fields;
}

static void evaluate(const unsigned char *sample, size_t n, int at_eof,
                     const unsigned char forbidden[256], const csv_dialect *d,
                     sniff_eval *e)
{
    scorer s;
    csv_scanner sc;
    const csv_sink sink = {&s, on_data, on_field, on_record};

    memset(&s, 0, sizeof s);
    s.d = d;
    memcpy(s.forbidden, forbidden, sizeof s.forbidden);
    s.forbidden[d->delimiter] = 0;

    csv_scanner_init(&sc, d, 0, &sink);
    csv_scan(&sc, sample, n);
    /* a record cut by the end of the sample is left out, unless it is all
     * the sample holds (one enormous field, say) */
    if (at_eof || s.records == 0) csv_scan_finish(&sc);
    finish_eval(&s, e);
}

/* An honest unenclosed cell holds no other candidate delimiter (space is
 * never one here: text has spaces), no double quote and no control byte. */
static void forbid(unsigned char forbidden[256], const unsigned char *delims,
                   size_t nd)
{
    memset(forbidden, 0, 256);
    for (size_t i = 0; i < nd; i++)
        if (delims[i] != ' ') forbidden[delims[i]] = 1;
    forbidden['"'] = 1;
    for (int c = 1; c < 0x20; c++) forbidden[c] = 1;
}

double sniff_score(const unsigned char *sample, size_t n, int at_eof,
                   const char *delimiters, const csv_dialect *d)
{
    unsigned char forbidden[256];
    sniff_eval e;
    if (!delimiters) delimiters = SNIFF_DEFAULT_DELIMITERS;
    forbid(forbidden, (const unsigned char *)delimiters, strlen(delimiters));
    evaluate(sample, n, at_eof, forbidden, d, &e);
    return e.score;
}

/* ---- the survey: which bytes occur, and how regularly per line -------- */

/* Bytes that may separate fields beyond the preferred ones: ASCII
 * punctuation and symbols, and space.  Not the enclosures, not the
 * backslash (an escape), not letters or digits. */
static const char extra_set[] = "!#$%&()*+-./:<=>?@[]^_`{}~ ;,\t|";

#define HIST_SLOTS 6

typedef struct line_hist {
    uint32_t value[HIST_SLOTS]; /* occurrences on a line */
    uint32_t lines[HIST_SLOTS]; /* lines with that many */
    uint32_t slots;
    uint32_t total;             /* non-empty lines */
} line_hist;

typedef struct presence {
    size_t count[256];
    int backslash_before[256]; /* '\' directly before this byte */
    line_hist hist[256];       /* for the bytes of extra_set */
} presence;

static void hist_add(line_hist *h, uint32_t v)
{
    h->total++;
    for (uint32_t i = 0; i < h->slots; i++)
        if (h->value[i] == v) {
            h->lines[i]++;
            return;
        }
    if (h->slots < HIST_SLOTS) {
        h->value[h->slots] = v;
        h->lines[h->slots++] = 1;
    }
}

/* The share of lines that have the most common non-zero count. */
static double hist_share(const line_hist *h)
{
    uint32_t best = 0;
    for (uint32_t i = 0; i < h->slots; i++)
        if (h->value[i] > 0 && h->lines[i] > best) best = h->lines[i];
    return h->total ? (double)best / h->total : 0;
}

/* Counts per line, outside '"' enclosures (a naive reading: good enough to
 * shortlist candidates, which are then parsed properly). */
static void survey(const unsigned char *p, size_t n, presence *pr)
{
    uint32_t line[256];
    unsigned char is_cand[256];
    size_t lines = 0;
    int in_quote = 0, empty = 1;

    memset(pr, 0, sizeof *pr);
    memset(line, 0, sizeof line);
    memset(is_cand, 0, sizeof is_cand);
    for (const char *c = extra_set; *c; c++) is_cand[(unsigned char)*c] = 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char b = p[i];
        pr->count[b]++;
        if (i > 0 && p[i - 1] == '\\') pr->backslash_before[b] = 1;
        if (lines >= SURVEY_LINES) continue;
        if (b == '"') {
            in_quote = !in_quote;
            empty = 0;
        } else if ((b == '\n' || b == '\r') && !in_quote) {
            if (!empty) {
                for (const char *c = extra_set; *c; c++) {
                    unsigned char d = (unsigned char)*c;
                    hist_add(&pr->hist[d], line[d]);
                    line[d] = 0;
                }
                lines++;
            }
            empty = 1;
        } else {
            if (!in_quote) line[b] += is_cand[b];
            empty = 0;
        }
    }
    if (!empty && lines < SURVEY_LINES)
        for (const char *c = extra_set; *c; c++) {
            unsigned char d = (unsigned char)*c;
            hist_add(&pr->hist[d], line[d]);
        }
}

/* The delimiters worth a parse: the preferred ones that occur, in their
 * order, then up to MAX_EXTRAS others, the most regular first. */
static size_t candidates(const presence *pr, const char *preferred,
                         unsigned char *out)
{
    size_t nd = 0;
    unsigned char seen[256];
    double share[MAX_EXTRAS];
    unsigned char extra[MAX_EXTRAS];
    size_t ne = 0;

    memset(seen, 0, sizeof seen);
    for (const char *c = preferred; *c && nd < SNIFF_MAX_DELIMITERS; c++) {
        unsigned char ch = (unsigned char)*c;
        if (ch == '\n' || ch == '\r' || ch == '"' || ch == '\'' || seen[ch])
            continue;
        seen[ch] = 1;
        if (pr->count[ch]) out[nd++] = ch;
    }
    for (const char *c = extra_set; *c; c++) {
        unsigned char ch = (unsigned char)*c;
        if (seen[ch] || !pr->count[ch]) continue;
        double s = hist_share(&pr->hist[ch]);
        if (s < (ch == ' ' ? SPACE_MIN_SHARE : EXTRA_MIN_SHARE)) continue;
        /* insertion into the short list, most regular first */
        size_t at = ne;
        while (at > 0 && share[at - 1] < s) at--;
        if (at >= MAX_EXTRAS) continue;
        if (ne < MAX_EXTRAS) ne++;
        for (size_t k = ne - 1; k > at; k--) {
            share[k] = share[k - 1];
            extra[k] = extra[k - 1];
        }
        share[at] = s;
        extra[at] = ch;
    }
    for (size_t i = 0; i < ne && nd < SNIFF_MAX_DELIMITERS; i++)
        out[nd++] = extra[i];
    return nd;
}

static void find_eol(const unsigned char *sample, size_t n, csv_dialect *d);

/* One column: the first delimiter, preferred ones first, under which every
 * record has one field and nothing is anomalous; the enclosure '"' when
 * that reads cleanly, else none. */
static int one_column(const unsigned char *sample, size_t n, int at_eof,
                      const presence *pr, const char *preferred,
                      const unsigned char forbidden[256], csv_dialect *out)
{
    static const char fallback[] = ",;\t|~^#:";
    const char *lists[2] = {preferred, fallback};
    for (int l = 0; l < 2; l++) {
        for (const char *c = lists[l]; *c; c++) {
            unsigned char ch = (unsigned char)*c;
            if (ch == '\n' || ch == '\r' || ch == '"' || ch == '\'') continue;
            const unsigned char quotes[] = {'"', 0};
            for (size_t qi = 0; qi < sizeof quotes; qi++) {
                csv_dialect d;
                sniff_eval e;
                if (quotes[qi] == 0 && !pr->count['"']) continue;
                memset(&d, 0, sizeof d);
                d.delimiter = ch;
                d.quote = quotes[qi];
                evaluate(sample, n, at_eof, forbidden, &d, &e);
                if (e.records && e.modal_fields == 1 && e.modal_share == 1.0 &&
                    !e.anomalous && !e.unterminated) {
                    *out = d;
                    return 1;
                }
            }
        }
    }
    return 0;
}

/* Every dialect worth a parse, in the order that breaks ties. */
static size_t list_candidates(const presence *pr, const unsigned char *delims,
                              size_t nd, csv_dialect *list)
{
    static const unsigned char quotes[] = {'"', 0, '\''};
    size_t nc = 0;
    for (size_t di = 0; di < nd; di++) {
        for (size_t qi = 0; qi < sizeof quotes; qi++) {
            unsigned char q = quotes[qi];
            /* with no '"' in the sample, '"' and "none" parse alike */
            if (q == 0 && !pr->count['"']) continue;
            if (q == '\'' && !pr->count['\'']) continue;
            for (int esc = 0; esc < 2; esc++) {
                /* backslash escapes only where a backslash precedes the
                 * enclosure, or the delimiter when there is no enclosure
                 * (or it never occurs) */
                int bare = !q || !pr->count[q];
                if (esc && !(q && pr->backslash_before[q]) &&
                    !(bare && pr->backslash_before[delims[di]]))
                    continue;
                memset(&list[nc], 0, sizeof list[nc]);
                list[nc].delimiter = delims[di];
                list[nc].quote = q;
                list[nc].escape = esc ? '\\' : 0;
                nc++;
            }
        }
    }
    return nc;
}

double sniff_dialect(const unsigned char *sample, size_t n, int at_eof,
                     const char *delimiters, csv_dialect *out)
{
    presence pr_store; /* about 17 KB */
    presence *pr = &pr_store;
    unsigned char delims[SNIFF_MAX_DELIMITERS];
    unsigned char forbidden[256];
    size_t nd;
    double best = -1;
    sniff_eval best_eval;

    if (!delimiters || !*delimiters) delimiters = SNIFF_DEFAULT_DELIMITERS;
    csv_dialect_rfc(out);
    memset(&best_eval, 0, sizeof best_eval);
    survey(sample, n, pr);
    nd = candidates(pr, delimiters, delims);
    /* no candidate in the sample: one column, named by the first choice */
    if (nd == 0) {
        unsigned char first = (unsigned char)delimiters[0];
        delims[nd++] = (first == '\n' || first == '\r' || first == '"' ||
                        first == '\'') ? ',' : first;
    }
    forbid(forbidden, delims, nd);

    /* every candidate on a prefix, the few best of them on it all */
    csv_dialect list[SNIFF_MAX_DELIMITERS * 6];
    size_t nc = list_candidates(pr, delims, nd, list);
    if (n > 2 * SNIFF_PREFIX && nc > FINALISTS) {
        double pre[SNIFF_MAX_DELIMITERS * 6], top = 0;
        for (size_t i = 0; i < nc; i++) {
            sniff_eval e;
            evaluate(sample, SNIFF_PREFIX, 0, forbidden, &list[i], &e);
            pre[i] = e.score;
            if (e.score > top) top = e.score;
        }
        /* keep, in their order, the FINALISTS best (ties: earlier) */
        size_t kept = 0;
        for (size_t i = 0; i < nc; i++) {
            size_t better = 0;
            for (size_t j = 0; j < nc; j++)
                if (pre[j] > pre[i] || (pre[j] == pre[i] && j < i)) better++;
            if (better < FINALISTS && pre[i] >= top * FINALIST_RATIO)
                list[kept++] = list[i];
        }
        nc = kept;
    }
    double fit_best = -1;
    sniff_eval fit_eval;
    csv_dialect fit_dialect;
    memset(&fit_eval, 0, sizeof fit_eval);
    for (size_t i = 0; i < nc; i++) {
        sniff_eval e;
        evaluate(sample, n, at_eof, forbidden, &list[i], &e);
        /* strictly better only: earlier candidates win ties */
        if (e.score > best * (1 + 1e-9) + 1e-12) {
            best = e.score;
            best_eval = e;
            *out = list[i];
        }
        if (e.header_fits && strchr(delimiters, list[i].delimiter) &&
            e.score > fit_best * (1 + 1e-9) + 1e-12) {
            fit_best = e.score;
            fit_eval = e;
            fit_dialect = list[i];
        }
    }
    if (!best_eval.header_fits && fit_best > 0 && fit_best * HEADER_FIT_RATIO >= best) {
        best = fit_best;
        best_eval = fit_eval;
        *out = fit_dialect;
    }
    if (best <= 0) {
        csv_dialect_rfc(out);
        best = 0;
    }
    /* the best reading is one field per record, or ragged: one column,
     * read with a delimiter that splits nothing */
    if (best_eval.records > 1 &&
        (best_eval.modal_fields <= 1 || best_eval.modal_share < RAGGED_SHARE))
        one_column(sample, n, at_eof, pr, delimiters, forbidden, out);
    /* backslash escapes and an enclosure that never occurs: the same
     * reading without the enclosure is one Keboola imports as it is */
    if (out->escape && out->quote && !pr->count[out->quote]) out->quote = 0;
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
