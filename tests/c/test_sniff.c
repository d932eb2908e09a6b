/* test_sniff - the dialect sniffer on small samples that fool character
 * counting (quoted delimiters, decimal commas, apostrophes). */
#include <string.h>

#include "sniff.h"
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
    {
        csv_dialect d;
        double s = sniff_dialect((const unsigned char *)"", 0, 1, NULL, &d);
        TAP_OK(s == 0 && d.delimiter == ',' && d.quote == '"', "empty sample: RFC 4180");
        sniff_dialect((const unsigned char *)"a~b~c\n1~2~3\n", 12, 1, ",;\t|~", &d);
        TAP_OK(d.delimiter == '~', "an extra delimiter from the list");
    }
    return tap_done();
}
