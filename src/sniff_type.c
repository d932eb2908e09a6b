/* sniff_type.c - see sniff_type.h.  Hand-written matchers: each walks the
 * cell once with a cursor; no regular expressions, no locale. */
#include "sniff_type.h"

#include <string.h>

typedef struct cur {
    const unsigned char *p;
    size_t i, n;
} cur;

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static int is_alnum(int c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int peek(const cur *c)
{
    return c->i < c->n ? c->p[c->i] : -1;
}

static int accept(cur *c, int ch)
{
    if (peek(c) != ch) return 0;
    c->i++;
    return 1;
}

/* At least `min` and at most `max` digits; returns how many. */
static size_t digits(cur *c, size_t min, size_t max)
{
    size_t k = 0;
    while (k < max && is_digit(peek(c))) {
        c->i++;
        k++;
    }
    return k >= min ? k : 0;
}

/* 1.234,56  1,234.56  -3,5  .5  1e-3  12%  (digits with at most one kind
 * of separator between groups, and another kind once for the decimals) */
static int is_number(cur c)
{
    int seps = 0;
    size_t run = 0;
    if (peek(&c) == '+' || peek(&c) == '-') c.i++;
    if (c.i == c.n) return 0;
    for (; c.i < c.n; c.i++) {
        int ch = c.p[c.i];
        if (is_digit(ch)) {
            run++;
        } else if ((ch == '.' || ch == ',') && c.i + 1 < c.n &&
                   is_digit(c.p[c.i + 1])) {
            if (run == 0 && c.i > 0 && c.p[c.i - 1] != '-' &&
                c.p[c.i - 1] != '+')
                return 0;
            seps++;
            run = 0;
        } else {
            break;
        }
    }
    if (c.i == 0 || (run == 0 && seps == 0)) return 0;
    if (seps > 8) return 0;
    if (peek(&c) == 'e' || peek(&c) == 'E') {
        c.i++;
        if (peek(&c) == '+' || peek(&c) == '-') c.i++;
        if (!digits(&c, 1, 4)) return 0;
    }
    accept(&c, '%');
    return c.i == c.n;
}

/* hh:mm[:ss[.fff]] [am|pm] [Z|+hh[:]mm] */
static int time_part(cur *c)
{
    if (!digits(c, 1, 2) || !accept(c, ':') || !digits(c, 2, 2)) return 0;
    if (accept(c, ':')) {
        if (!digits(c, 2, 2)) return 0;
        if (accept(c, '.') || accept(c, ',')) {
            if (!digits(c, 1, 9)) return 0;
        }
    }
    size_t save = c->i;
    accept(c, ' ');
    int a = peek(c);
    if ((a == 'a' || a == 'A' || a == 'p' || a == 'P') && c->i + 1 < c->n &&
        (c->p[c->i + 1] == 'm' || c->p[c->i + 1] == 'M'))
        c->i += 2;
    else
        c->i = save;
    if (accept(c, 'Z')) return 1;
    if (peek(c) == '+' || peek(c) == '-') {
        c->i++;
        if (!digits(c, 2, 2)) return 0;
        accept(c, ':');
        digits(c, 0, 2);
    }
    return 1;
}

static int is_time(cur c)
{
    return time_part(&c) && c.i == c.n;
}

/* y-m-d, d.m.y, m/d/y (the same separator twice), then optionally 'T' or
 * ' ' and a time */
static int is_date(cur c)
{
    size_t a = digits(&c, 1, 4);
    int sep = peek(&c);
    if (!a || (sep != '-' && sep != '/' && sep != '.')) return 0;
    c.i++;
    if (!digits(&c, 1, 2) || !accept(&c, sep)) return 0;
    size_t b = digits(&c, 1, 4);
    if (!b || (a != 4 && b != 4 && b != 2)) return 0;
    if (c.i == c.n) return 1;
    if (!accept(&c, 'T') && !accept(&c, ' ')) return 0;
    return time_part(&c) && c.i == c.n;
}

static int has_prefix(const cur *c, const char *s)
{
    size_t k = strlen(s);
    if (c->n < k) return 0;
    for (size_t i = 0; i < k; i++) {
        int ch = c->p[i];
        if (ch >= 'A' && ch <= 'Z') ch += 'a' - 'A';
        if (ch != s[i]) return 0;
    }
    return 1;
}

static int is_url(cur c)
{
    if (!has_prefix(&c, "http://") && !has_prefix(&c, "https://") &&
        !has_prefix(&c, "ftp://") && !has_prefix(&c, "www."))
        return 0;
    for (size_t i = 0; i < c.n; i++)
        if (c.p[i] <= ' ' || c.p[i] == '"' || c.p[i] >= 0x7f) return 0;
    return c.n > 8;
}

static int is_email(cur c)
{
    size_t at = 0, dots = 0;
    for (size_t i = 0; i < c.n; i++) {
        int ch = c.p[i];
        if (ch == '@') {
            if (at || i == 0) return 0;
            at = i;
        } else if (ch == '.') {
            if (at) dots++;
        } else if (!is_alnum(ch) && !strchr("_%+-", ch)) {
            return 0;
        }
    }
    return at && dots && c.p[c.n - 1] != '.' && c.p[at + 1] != '.';
}

sniff_type sniff_cell_type(const unsigned char *p, size_t n)
{
    cur c = {p, 0, n};
    if (n == 0 || n > SNIFF_TYPE_MAX) return SNIFF_T_NONE;
    if (is_digit(p[0]) || p[0] == '-' || p[0] == '+' || p[0] == '.') {
        if (is_number(c)) return SNIFF_T_NUMBER;
        if (is_date(c)) return SNIFF_T_DATE;
        if (is_time(c)) return SNIFF_T_TIME;
    }
    if (is_url(c)) return SNIFF_T_URL;
    if (is_email(c)) return SNIFF_T_EMAIL;
    return SNIFF_T_NONE;
}
