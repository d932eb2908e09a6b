/* test_csv_colname - Keboola's column-name sanitiser (keboola-storage-api.md
 * 3.6) and the header checks built on it. */
#include <string.h>

#include "colname.h"
#include "csv_header.h"
#include "tap.h"

static void sanitises(const char *raw, const char *expected, int webalize)
{
    char out[256];
    int w = colname_sanitize(raw, strlen(raw), out, sizeof out);
    TAP_OK(strcmp(out, expected) == 0 && w == webalize, "'%s' -> '%s'%s (got '%s')",
           raw, expected, webalize ? " (needs webalize)" : "", out);
}

int main(void)
{
    /* the examples of section 3.6 that are ASCII */
    sanitises("_abc-def----ghi_", "abc_def_ghi", 0);
    sanitises("lot__of_____underscores____", "lot__of_____underscores", 0);
    sanitises("language-id", "language_id", 0);
    sanitises("$$ some name $$", "some_name", 0);
    sanitises("with spaces", "with_spaces", 0);
    sanitises("_with_underscore_", "with_underscore", 0);
    sanitises("----$$$$-----", "", 0);
    sanitises("id", "id", 0);
    sanitises("a_-b", "a__b", 0);
    sanitises("Price (EUR)", "Price_EUR", 0);
    /* system column names get a '_' as Keboola stores them */
    sanitises("oid", "oid_", 0);
    sanitises("TableOID", "TableOID_", 0);
    sanitises(" xmin ", "xmin_", 0);
    sanitises("cmin", "cmin_", 0);
    sanitises("XMAX", "XMAX_", 0);
    sanitises("cmax", "cmax_", 0);
    sanitises("ctid", "ctid_", 0);
    sanitises("oids", "oids", 0);
    /* non-ASCII: the server transliterates; we only flag */
    sanitises("žluťoučký    kůň", "žluťoučký    kůň", 1);
    sanitises("currency €", "currency €", 1);

    const char *raw[] = {"id", "", "a b", "a_b", "$$$", "oid",
                         "x234567890123456789012345678901234567890123456789012345678901234567",
                         "ID", "název"};
    csv_header h;
    csv_header_init(&h);
    TAP_OK(csv_header_set_names(&h, raw, 9) == 0, "header names set");
    TAP_OK(csv_header_analyse(&h) == 0, "header analysed");
    TAP_OK(h.issue_count == 5, "5 issues (%ld)", h.issue_count);
    struct { size_t column, other; const char *text; } want[] = {
        {2, 0, "column 2: empty name"},
        {4, 3, "column 4 \"a_b\": same name as column 3 after sanitising (names are "
               "case-insensitive)"},
        {5, 0, "column 5 \"$$$\": no letters or digits: the name sanitises to nothing"},
        {7, 0, "column 7 \"x23456789012345678901234567890123456789012345678901234567890...\": "
               "longer than 64 characters after sanitising"},
        {8, 1, "column 8 \"ID\": same name as column 1 after sanitising (names are "
               "case-insensitive)"},
    };
    for (int i = 0; i < 5 && i < h.issue_count; i++)
        TAP_OK(h.issues[i].column == want[i].column && h.issues[i].other == want[i].other &&
               strcmp(h.issues[i].text, want[i].text) == 0,
               "issue %d: column %zu (other %zu): %s", i + 1, h.issues[i].column,
               h.issues[i].other, h.issues[i].text);
    TAP_OK(strcmp(h.keboola[5], "oid_") == 0, "oid is accepted as oid_ (%s)", h.keboola[5]);
    TAP_OK(h.webalize[8] && !h.webalize[0], "the non-ASCII name is flagged for webalize");
    TAP_OK(strcmp(h.keboola[2], "a_b") == 0, "keboola names are filled");
    csv_header_free(&h);

    /* the cases as a user writes them */
    const char *aba[] = {"a", "b", "a"}, *gap[] = {"a", "", "c"}, *sys[] = {"OID", "oid_"};
    csv_header_init(&h);
    csv_header_set_names(&h, aba, 3);
    csv_header_analyse(&h);
    TAP_OK(h.issue_count == 1 && !strcmp(h.issues[0].text, "column 3 \"a\": same name as column 1 "
           "after sanitising (names are case-insensitive)"), "a,b,a: %s", h.issues[0].text);
    csv_header_set_names(&h, gap, 3);
    csv_header_analyse(&h);
    TAP_OK(h.issue_count == 1 && !strcmp(h.issues[0].text, "column 2: empty name"), "a,,c: %s",
           h.issues[0].text);
    csv_header_set_names(&h, sys, 2);
    csv_header_analyse(&h);
    TAP_OK(h.issue_count == 1 && h.issues[0].column == 2 && h.issues[0].other == 1,
           "OID and oid_ are the same column: %s", h.issues[0].text);
    csv_header_free(&h);
    return tap_done();
}
