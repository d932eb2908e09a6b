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
    TAP_OK(h.issue_count == 6, "6 issues (%ld)", h.issue_count);
    struct { size_t column, other; const char *start; } want[] = {
        {2, 0, "empty column name"},
        {4, 3, "same name as an earlier column"},
        {5, 0, "no letters or digits"},
        {6, 0, "reserved system column name"},
        {7, 0, "longer than 64 characters"},
        {8, 1, "same name as an earlier column"},
    };
    for (int i = 0; i < 6 && i < h.issue_count; i++)
        TAP_OK(h.issues[i].column == want[i].column && h.issues[i].other == want[i].other &&
               strncmp(h.issues[i].message, want[i].start, strlen(want[i].start)) == 0,
               "issue %d: column %zu (other %zu): %s", i + 1, h.issues[i].column,
               h.issues[i].other, h.issues[i].message);
    TAP_OK(h.webalize[8] && !h.webalize[0], "the non-ASCII name is flagged for webalize");
    TAP_OK(strcmp(h.keboola[2], "a_b") == 0, "keboola names are filled");
    csv_header_free(&h);
    return tap_done();
}
