/* test_csv - the tokenizer: fields, records, lines, anomalies, empty
 * lines; and that cutting the input into any slices changes nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "tap.h"

/* Renders what the tokenizer reports as text: fields joined by '|', a
 * quoted field marked with a leading '^', an anomalous one with '!',
 * records as "[line:fields]...;" */
typedef struct render {
    char out[8192];
    size_t len;
} render;

static void put(render *r, const char *s, size_t n)
{
    if (r->len + n >= sizeof r->out) n = sizeof r->out - 1 - r->len;
    memcpy(r->out + r->len, s, n);
    r->len += n;
    r->out[r->len] = 0;
}

static void r_data(void *ctx, const unsigned char *p, size_t n)
{
    put(ctx, (const char *)p, n);
}

static void r_field(void *ctx, int quoted, int anomaly)
{
    char tag[4];
    snprintf(tag, sizeof tag, "%s%s|", quoted ? "^" : "", anomaly ? "!" : "");
    put(ctx, tag, strlen(tag));
}

static void r_record(void *ctx, const csv_record *rec)
{
    char tag[96];
    snprintf(tag, sizeof tag, "[%llu:%u%s%s%s@%llu-%llu];",
             (unsigned long long)rec->line, rec->fields,
             rec->blank ? " blank" : "", rec->unterminated ? " open" : "",
             rec->term == CSV_TERM_CRLF ? " crlf" : rec->term == CSV_TERM_CR ? " cr" : "",
             (unsigned long long)rec->start, (unsigned long long)rec->end);
    put(ctx, tag, strlen(tag));
}

static void tokenize(const csv_dialect *d, const char *in, size_t n, size_t slice,
                     render *r, uint64_t *records)
{
    csv_sink sink = {r, r_data, r_field, r_record};
    csv_scanner s;
    memset(r, 0, sizeof *r);
    csv_scanner_init(&s, d, 0, &sink);
    for (size_t i = 0; i < n; i += slice)
        csv_scan(&s, (const unsigned char *)in + i, n - i < slice ? n - i : slice);
    csv_scan_finish(&s);
    if (records) *records = s.records;
}

/* The rendering with line breaks spelled out, for a one-line TAP message. */
static const char *printable(const char *s)
{
    static char buf[16384];
    size_t o = 0;
    for (; *s && o + 3 < sizeof buf; s++) {
        if (*s == '\n' || *s == '\r') {
            buf[o++] = '\\';
            buf[o++] = *s == '\n' ? 'n' : 'r';
        } else {
            buf[o++] = *s;
        }
    }
    buf[o] = 0;
    return buf;
}

static void check(const char *what, const csv_dialect *d, const char *in,
                  const char *expected, uint64_t records)
{
    size_t n = strlen(in);
    render whole, part;
    uint64_t got_records;
    tokenize(d, in, n, n ? n : 1, &whole, &got_records);
    TAP_OK(strcmp(whole.out, expected) == 0 && got_records == records,
           "%s: %s (%llu records)", what, printable(whole.out), (unsigned long long)got_records);
    /* every slicing must report the same */
    size_t bad = 0;
    for (size_t slice = 1; slice < n && !bad; slice++) {
        tokenize(d, in, n, slice, &part, NULL);
        if (strcmp(part.out, whole.out) != 0) bad = slice;
    }
    TAP_OK(!bad, "%s: same result in slices (first difference at %zu)", what, bad);
}

static csv_dialect dialect(char delim, char quote, char escape)
{
    csv_dialect d;
    csv_dialect_rfc(&d);
    d.delimiter = (unsigned char)delim;
    d.quote = (unsigned char)quote;
    d.escape = (unsigned char)escape;
    return d;
}

/* Random inputs over the bytes that matter: slicing must never matter. */
static void fuzz_slices(void)
{
    const char alphabet[] = "a,;\"'\\\n\r ";
    char in[300];
    render whole, part;
    int bad = 0;
    srand(4180);
    for (int round = 0; round < 400 && !bad; round++) {
        size_t n = (size_t)(rand() % 200);
        for (size_t i = 0; i < n; i++) in[i] = alphabet[rand() % (sizeof alphabet - 1)];
        csv_dialect d = dialect(round % 2 ? ',' : ';', round % 3 ? '"' : 0,
                                round % 5 == 0 ? '\\' : 0);
        tokenize(&d, in, n, n ? n : 1, &whole, NULL);
        for (size_t slice = 1; slice <= 70 && !bad; slice += 1 + (slice > 10) * 7) {
            tokenize(&d, in, n, slice, &part, NULL);
            if (strcmp(whole.out, part.out) != 0) bad = round + 1;
        }
    }
    TAP_OK(!bad, "400 random inputs give the same tokens in any slicing (round %d)", bad);
}

static void hold_from(void)
{
    csv_dialect d = dialect(',', '"', 0);
    csv_scanner s;
    csv_scanner_init(&s, &d, 0, NULL);
    csv_scan(&s, (const unsigned char *)"a,b\n1,2\n", 8);
    TAP_OK(csv_scan_hold_from(&s) == UINT64_MAX, "nothing held after a record");
    csv_scan(&s, (const unsigned char *)"\n\n", 2);
    TAP_OK(csv_scan_hold_from(&s) == 8, "empty lines are held from where they start");
    csv_scan(&s, (const unsigned char *)"3", 1);
    TAP_OK(csv_scan_hold_from(&s) == UINT64_MAX, "released once a record follows");
    csv_scan(&s, (const unsigned char *)",4\r", 3);
    csv_scan(&s, (const unsigned char *)"\r", 1);
    TAP_OK(csv_scan_hold_from(&s) == 14, "an empty line ended by CR at a slice end is held");
    csv_scan_finish(&s);
    TAP_OK(s.records == 5, "empty lines in the middle are records, trailing ones are not (%llu)",
           (unsigned long long)s.records);
}

int main(void)
{
    csv_dialect rfc = dialect(',', '"', 0);
    csv_dialect semi = dialect(';', '"', 0);
    csv_dialect bs = dialect(',', '"', '\\');
    csv_dialect none = dialect('|', 0, 0);
    csv_dialect none_bs = dialect(',', 0, '\\');
    csv_dialect single = dialect(',', '\'', 0);

    check("plain", &rfc, "a,b\n1,2\n", "a|b|[1:2@0-4];1|2|[2:2@4-8];", 2);
    check("no final newline", &rfc, "a,b\n1,2", "a|b|[1:2@0-4];1|2|[2:2@4-7];", 2);
    check("enclosed delimiter and newline", &rfc, "x,y\n\"a,\nb\",c\n",
          "x|y|[1:2@0-4];a,\nb^|c|[2:2@4-13];", 2);
    check("doubled quotes", &rfc, "\"say \"\"hi\"\"\",2\n", "say \"hi\"^|2|[1:2@0-15];", 1);
    check("quote inside an unenclosed field is data", &rfc, "5\" pipe,x\n",
          "5\" pipe|x|[1:2@0-10];", 1);
    check("bytes after a closing quote are an anomaly", &rfc, "\"a\"b,c\n",
          "ab^!|c|[1:2@0-7];", 1);
    check("CRLF", &rfc, "a,b\r\n1,2\r\n", "a|b|[1:2 crlf@0-5];1|2|[2:2 crlf@5-10];", 2);
    check("CR only", &rfc, "a,b\r1,2\r", "a|b|[1:2 cr@0-4];1|2|[2:2 cr@4-8];", 2);
    check("newline inside quotes counts lines", &rfc, "\"a\r\nb\nc\",d\ne,f\n",
          "a\r\nb\nc^|d|[1:2@0-11];e|f|[4:2@11-15];", 2);
    check("trailing empty line is not a record", &rfc, "a\n1\n\n",
          "a|[1:1@0-2];1|[2:1@2-4];|[3:1 blank@4-5];", 2);
    check("empty line in the middle is a record", &rfc, "a\n\n1\n",
          "a|[1:1@0-2];|[2:1 blank@2-3];1|[3:1@3-5];", 3);
    check("trailing delimiter", &rfc, "a,b,\n1,2,\n", "a|b||[1:3@0-5];1|2||[2:3@5-10];", 2);
    check("quoted empty field is not blank", &rfc, "\"\"\n", "^|[1:1@0-3];", 1);
    check("unterminated quote", &rfc, "a\n\"open,\nrest", "a|[1:1@0-2];open,\nrest^!|[2:1 open@2-13];", 2);
    check("semicolons with decimal commas", &semi, "p;q\n3,5;\"x;y\"\n",
          "p|q|[1:2@0-4];3,5|x;y^|[2:2@4-14];", 2);
    check("backslash escapes inside quotes", &bs, "\"a \\\"b\\\" c\",\"d\\\\\"\n",
          "a \"b\" c^|d\\^|[1:2@0-18];", 1);
    check("backslash and doubled quotes together", &bs, "\"x\"\"y\\\"z\"\n", "x\"y\"z^|[1:1@0-10];", 1);
    check("no enclosure", &none, "\"a|b\"|c\n", "\"a|b\"|c|[1:3@0-8];", 1);
    check("backslash escapes without enclosure", &none_bs, "a\\,b,c\\\nd\n", "a,b|c\nd|[1:2@0-10];", 1);
    check("single quotes", &single, "'a,b',\"c\"\n", "a,b^|\"c\"|[1:2@0-10];", 1);
    check("one column", &rfc, "name\nAlice\nBob\n", "name|[1:1@0-5];Alice|[2:1@5-11];Bob|[3:1@11-15];", 3);
    check("empty input", &rfc, "", "", 0);
    fuzz_slices();
    hold_from();
    return tap_done();
}
