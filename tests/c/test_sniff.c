/* test_sniff - the dialect sniffer on small samples that fool character
 * counting (quoted delimiters, decimal commas, apostrophes). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv_header.h"
#include "sniff.h"
#include "sniff_type.h"
#include "tap.h"

static void sniffs(const char *what, const char *sample, char delim, char quote,
                   char escape, csv_term eol)
{
    csv_dialect d;
    sniff_dialect((const unsigned char *)sample, strlen(sample), 1, NULL, &d);
    TAP_OK(d.delimiter == (unsigned char)delim && d.quote == (unsigned char)quote &&
           d.escape == (unsigned char)escape && d.eol == eol,
           "%s: delimiter 0x%02x enclosure 0x%02x escape 0x%02x eol %d", what,
           d.delimiter, d.quote, d.escape, (int)d.eol);
}

int main(void)
{
    sniffs("comma", "id,name,amount\n1,Anna,10\n2,Bob,20\n", ',', '"', 0, CSV_TERM_LF);
    /* the values hold '-' three times a line, the header none: the header
     * names two columns, so ',' it is */
    {
        static char rows[64 * 2001];
        size_t len = (size_t)snprintf(rows, sizeof rows, "id,text\n");
        for (int i = 0; i < 2000; i++)
            len += (size_t)snprintf(rows + len, sizeof rows - len,
                                    "%d,row-%08d-padding-padding\n", i, i);
        sniffs("comma with hyphenated values", rows, ',', '"', 0, CSV_TERM_LF);
    }
    sniffs("semicolon with decimal commas", "id;price;qty\n1;3,5;2\n2;4,25;3\n3;1,0;1\n",
           ';', '"', 0, CSV_TERM_LF);
    sniffs("comma with quoted semicolons",
           "id,note\n1,\"a; b; c\"\n2,\"d; e\"\n3,\"f;g;h;i\"\n", ',', '"', 0, CSV_TERM_LF);
    sniffs("tabs with commas in text", "name\tcity\nSmith, John\tPrague\nDoe, Jane\tBrno\n",
           '\t', '"', 0, CSV_TERM_LF);
    sniffs("pipes", "a|b|c\n1|2|3\n4|5|6\n", '|', '"', 0, CSV_TERM_LF);
    sniffs("single quotes", "id,name\n1,'Smith, John'\n2,'Doe, Jane'\n3,'X, Y'\n", ',', '\'', 0,
           CSV_TERM_LF);
    sniffs("apostrophes are not enclosures", "id,name\n1,O'Brien\n2,D'Arcy\n3,'s-Hertogenbosch\n",
           ',', '"', 0, CSV_TERM_LF);
    sniffs("backslash escapes", "id,q\n1,\"say \\\"hi\\\", ok\"\n2,\"a \\\"b\\\"\"\n", ',', '"', '\\',
           CSV_TERM_LF);
    sniffs("quotes used as inches, no enclosure", "id,size\n1,\"5\" pipe\"\n2,\"7\" tube\"\n",
           ',', 0, 0, CSV_TERM_LF);
    sniffs("one column", "name\nAlice\nBob\n", ',', '"', 0, CSV_TERM_LF);
    sniffs("one column with quoted commas", "name\n\"Smith, John\"\nBob\n\"Doe, Jane\"\n", ',',
           '"', 0, CSV_TERM_LF);
    sniffs("CRLF", "a,b\r\n1,2\r\n", ',', '"', 0, CSV_TERM_CRLF);
    sniffs("CR", "a;b\r1;2\r3;4\r", ';', '"', 0, CSV_TERM_CR);
    sniffs("header only", "alpha;beta;gamma\n", ';', '"', 0, CSV_TERM_LF);
    sniffs("newline in a quoted field does not set the line end",
           "\"a\r\nb\",c\nd,e\n", ',', '"', 0, CSV_TERM_LF);
    /* delimiters beyond the preferred ones */
    sniffs("colon with quoted times and decimal commas",
           "id:at:amount:city\n1:\"12:30\":3,5:Prague, CZ\n2:\"08:05\":4,25:Brno, CZ\n"
           "3:\"23:59\":1,0:Oslo, NO\n", ':', '"', 0, CSV_TERM_LF);
    sniffs("caret", "id^name^price\n1^Anna, B.^3.50\n2^Jan^4.25\n3^Petra^1.00\n", '^', '"', 0,
           CSV_TERM_LF);
    sniffs("tilde", "a~b~c\n1~x, y~2.5\n2~z~3.5\n", '~', '"', 0, CSV_TERM_LF);
    sniffs("hash with dates", "id#day#note\n1#2024-01-05#ok\n2#2024-02-06#late, sorry\n"
           "3#2024-03-07#fine\n", '#', '"', 0, CSV_TERM_LF);
    sniffs("space only when every line agrees", "id name score\n1 Anna 3.5\n2 Jan 4\n3 Eve 5\n",
           ' ', '"', 0, CSV_TERM_LF);
    sniffs("spaces in a comma file are text", "id,name\n1,Anna Maria Smith\n2,Jan Novak\n3,Eve\n",
           ',', '"', 0, CSV_TERM_LF);
    /* one column: ragged under every delimiter */
    {
        const char *text = "comment\nGood, quick delivery\nbox damaged; refund asked\n"
                           "ok\nwill buy again, thanks, really\nsize wrong | colour fine\n"
                           "late\n";
        csv_dialect d;
        sniff_dialect((const unsigned char *)text, strlen(text), 1, NULL, &d);
        csv_header h;
        csv_scanner sc;
        csv_header_init(&h);
        csv_sink sink = csv_header_sink(&h);
        size_t max_fields = 0;
        /* every record must come out as one field */
        for (const char *line = text; *line;) {
            const char *nl = strchr(line, '\n');
            csv_header_free(&h);
            csv_header_init(&h);
            sink = csv_header_sink(&h);
            csv_scanner_init(&sc, &d, 0, &sink);
            csv_scan(&sc, (const unsigned char *)line, (size_t)(nl - line + 1));
            csv_scan_finish(&sc);
            if (h.count > max_fields) max_fields = h.count;
            line = nl + 1;
        }
        csv_header_free(&h);
        TAP_OK(max_fields == 1, "free text with , ; | is one column (delimiter 0x%02x, at most %zu "
               "fields)", d.delimiter, max_fields);
    }
    /* enclosures */
    sniffs("quotes that open and close fields, one never closed",
           "a,b\n\"1\",\"ok\"\n\"2\",\"x\n\"3\",\"y\"\n4,5\n", ',', '"', 0, CSV_TERM_LF);
    sniffs("inches in a semicolon file", "id;size\n1;5\" pipe\n2;7\" tube\n3;2\" hose\n", ';', '"',
           0, CSV_TERM_LF);
    {
        csv_dialect d;
        double s = sniff_dialect((const unsigned char *)"", 0, 1, NULL, &d);
        TAP_OK(s == 0 && d.delimiter == ',' && d.quote == '"', "empty sample: RFC 4180");
        sniff_dialect((const unsigned char *)"a~b~c\n1~2~3\n", 12, 1, ",;\t|~", &d);
        TAP_OK(d.delimiter == '~', "an extra delimiter from the list");
    }
    {
        static const struct {
            const char *cell;
            sniff_type t;
        } types[] = {
            {"3,5", SNIFF_T_NUMBER},      {"-1.234,56", SNIFF_T_NUMBER},
            {"1e-3", SNIFF_T_NUMBER},     {"12%", SNIFF_T_NUMBER},
            {".5", SNIFF_T_NUMBER},       {"2024-01-31", SNIFF_T_DATE},
            {"31/01/2024", SNIFF_T_DATE}, {"1/31/24", SNIFF_T_DATE},
            {"2024-01-31T22:00:00Z", SNIFF_T_DATE},
            {"12:30", SNIFF_T_TIME},      {"7:05:09.250 pm", SNIFF_T_TIME},
            {"https://x.cz/a?b=1", SNIFF_T_URL},
            {"anna.b@mail.example.com", SNIFF_T_EMAIL},
            {"1,,2", SNIFF_T_NONE},       {"12:3", SNIFF_T_NONE},
            {"Prague", SNIFF_T_NONE},     {"a@b", SNIFF_T_NONE},
            {"5\" pipe", SNIFF_T_NONE},  {"2024-01", SNIFF_T_NONE},
        };
        for (size_t i = 0; i < sizeof types / sizeof *types; i++) {
            sniff_type t = sniff_cell_type((const unsigned char *)types[i].cell,
                                           strlen(types[i].cell));
            TAP_OK(t == types[i].t, "cell type of '%s': %d", types[i].cell, (int)t);
        }
    }
    {
        /* The worst case for the 20 ms budget: a full 1 MiB sample with
         * colons, commas, pipes and quotes on every line, so many candidate
         * dialects get parsed.  Only the answer is asserted here; its time
         * is a benchmark (bench/sniff_compare.py builds the same sample),
         * never a test, because a shared CI core makes any bound flaky. */
        size_t cap = SNIFF_DEFAULT_SAMPLE, len = 0;
        unsigned char *big = malloc(cap);
        unsigned k = 0;
        while (big && len + 64 < cap) {
            len += (size_t)snprintf((char *)big + len, cap - len,
                                    "%u:\"%02u:%02u\":%u,%u:Prague, CZ:x|y\n", k,
                                    k % 24, k % 60, k % 1000, k % 97);
            k++;
        }
        csv_dialect d = {0};
        if (big) sniff_dialect(big, len, 0, NULL, &d);
        TAP_OK(big && d.delimiter == ':' && d.quote == '"',
               "1 MiB worst-case sample: delimiter 0x%02x, enclosure 0x%02x", d.delimiter,
               d.quote);
        free(big);
    }
    return tap_done();
}
