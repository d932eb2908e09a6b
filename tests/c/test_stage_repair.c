/* test_stage_repair - policy.repair in the stager: names (empty, duplicate,
 * over-long, stable across runs), short rows padded, long rows joined into
 * the last column (and refused by default), lines above the header
 * skipped, a file without a header; and, with no repair asked for, the
 * spool exactly as before. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stage.h"
#include "tap.h"

static char dir[] = "/tmp/kbsyncd-test-repair-XXXXXX";
static char src[256], spool[256];

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    fwrite(data, 1, n, f);
    fclose(f);
}

static const char *slurp(const char *path)
{
    static char buf[8 << 20];
    size_t n = 0;
    FILE *f = fopen(path, "rb");
    if (f) {
        n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
    }
    buf[n] = 0;
    return buf;
}

/* Stages `in` (to the spool, or analyse only when !to_spool). */
static stage_t *run(const char *in, size_t n, stage_opts *o, int to_spool,
                    stage_status *status)
{
    write_file(src, in, n);
    unlink(spool);
    o->src = src;
    o->spool = to_spool ? spool : NULL;
    o->gzip_never = 1;
    stage_t *st = stage_open(o);
    while ((*status = stage_step(st, 1)) == STAGE_MORE) {
    }
    return st;
}

/* Staged to the spool: its content equals `want`. */
static int stages_to(const char *in, stage_repair_opts rep, const char *want)
{
    stage_opts o = {.repair = rep};
    stage_status s;
    stage_t *st = run(in, strlen(in), &o, 1, &s);
    const char *got = s == STAGE_DONE ? slurp(spool) : "(failed)";
    int same = strcmp(got, want) == 0;
    if (!same) printf("#   got  [%s]\n#   want [%s]\n", got, want);
    stage_close(st);
    return same;
}

/* empty and duplicate names, a short row, an empty line, a long row */
#define MESSY ",b,b\n1,2,3\n4,5\n\n6,7,8,9\n10,11,12\n"

static void without_repairs_unchanged(void)
{
    stage_repair_opts none = {0};
    /* the bytes these inputs staged to before repairs existed */
    TAP_OK(stages_to("\xEF\xBB\xBFid;name\n1;\"a;b\"\n2;c\n\n", none,
                     "id;name\n1;\"a;b\"\n2;c\n"),
           "no repair: copied as before (BOM and trailing empty line gone)");
    TAP_OK(stages_to("a,b\r1,2\r3,\"x\"\r\r", none,
                     "\"a\",\"b\"\r\n\"1\",\"2\"\r\n\"3\",\"x\"\r\n"),
           "no repair: CR-only file normalised as before");
    TAP_OK(stages_to(MESSY, none, MESSY),
           "no repair: a file with every blemish is copied byte for byte");
    TAP_OK(stages_to("Title\na,b\n1,2", none, "Title\na,b\n1,2"),
           "no repair: a preamble is the header as before");

    stage_opts o = {0};
    stage_status s;
    stage_t *st = run(MESSY, strlen(MESSY), &o, 0, &s);
    const stage_result_t *r = stage_result(st);
    TAP_OK(s == STAGE_DONE && r->record_errors_total == 3 &&
           r->record_errors[0].line == 3 && r->record_errors[0].got == 2 &&
           r->record_errors[1].line == 4 && r->record_errors[2].line == 5 &&
           r->record_errors[2].got == 4,
           "no repair: short, empty and long rows are record errors with "
           "their lines (%llu in all)",
           (unsigned long long)r->record_errors_total);
    TAP_OK(r->header->issue_count == 2 && !r->repairs_asked &&
           r->repair.padded == 0 && r->repair.names_changed == 0,
           "no repair: header issues stand, nothing repaired");
    stage_close(st);
}

static void names(void)
{
    stage_repair_opts rep = {.names = 1};
    stage_opts o = {.repair = rep};
    stage_status s;
    const char *in = ",b,,B\n1,2,3,4\n";
    stage_t *st = run(in, strlen(in), &o, 1, &s);
    const stage_result_t *r = stage_result(st);
    TAP_OK(s == STAGE_DONE &&
           strcmp(slurp(spool), "column_1,b,column_3,B_2\n1,2,3,4\n") == 0,
           "empty names become column_N, a duplicate name_2 (header rewritten, "
           "rows copied)");
    TAP_OK(r->repair.names_changed == 3 && r->header->issue_count == 0 &&
           strcmp(r->source_header->raw[0], "") == 0 &&
           strcmp(r->header->raw[3], "B_2") == 0 && !r->normalize,
           "3 names changed, none refused; the source names are kept apart");
    stage_close(st);

    TAP_OK(stages_to("a b,a-b,A_B\n1,2,3\n", rep, "a b,a_b_2,A_B_3\n1,2,3\n"),
           "duplicates after sanitising: _2, _3 in column order");
    TAP_OK(stages_to("a,a,a_2\n1,2,3\n", rep, "a,a_3,a_2\n1,2,3\n"),
           "a suffix never takes a name another column has");
    TAP_OK(stages_to("%%,x\n1,2\n", rep, "column_1,x\n1,2\n"),
           "a name that sanitises to nothing becomes column_N");
    TAP_OK(stages_to("a,b\n1,2\n", rep, "a,b\n1,2\n"),
           "a header without defects is copied as it is");

    /* two names over 64 characters that share their first 70 */
    char head[400], first[2][128];
    char longa[120], longb[120];
    memset(longa, 'x', 70);
    strcpy(longa + 70, "_alpha_and_more");
    memset(longb, 'x', 70);
    strcpy(longb + 70, "_beta_and_more");
    snprintf(head, sizeof head, "id,%s,%s\n1,2,3\n", longa, longb);
    for (int run_no = 0; run_no < 2; run_no++) {
        stage_opts lo = {.repair = rep};
        st = run(head, strlen(head), &lo, 1, &s);
        r = stage_result(st);
        snprintf(first[0], sizeof first[0], "%s", r->header->raw[1]);
        snprintf(first[1], sizeof first[1], "%s", r->header->raw[2]);
        if (run_no == 0) {
            TAP_OK(s == STAGE_DONE && strlen(first[0]) == 64 &&
                   strlen(first[1]) == 64 && strcmp(first[0], first[1]) != 0 &&
                   r->header->issue_count == 0 &&
                   strncmp(first[0], longa, 55) == 0,
                   "over-long names are cut to 64 with a hash suffix and stay "
                   "apart: %s / %s", first[0], first[1]);
            static char keep[2][128];
            strcpy(keep[0], first[0]);
            strcpy(keep[1], first[1]);
            stage_close(st);
            /* the second run compares with these */
            memcpy(first, keep, sizeof keep);
            continue;
        }
        stage_close(st);
    }
    {
        stage_opts lo = {.repair = rep};
        st = run(head, strlen(head), &lo, 1, &s);
        r = stage_result(st);
        TAP_OK(strcmp(r->header->raw[1], first[0]) == 0 &&
               strcmp(r->header->raw[2], first[1]) == 0,
               "the same over-long names get the same names at the next load");
        stage_close(st);
    }

    /* a replacement header (policy.columns) is repaired too */
    const char *given[] = {"x", "x"};
    stage_opts ro = {.repair = rep, .header = given, .header_count = 2};
    st = run("a,b\n1,2\n", 8, &ro, 1, &s);
    TAP_OK(s == STAGE_DONE && strcmp(slurp(spool), "x,x_2\n1,2\n") == 0,
           "a replacement header is repaired as well");
    stage_close(st);
}

static void short_rows(void)
{
    stage_repair_opts pad = {.pad_short = 1};
    stage_opts o = {.repair = pad};
    stage_status s;
    const char *in = "a,b,c\n1,2,3\n4,5\n\n6\n\n\n";
    stage_t *st = run(in, strlen(in), &o, 1, &s);
    const stage_result_t *r = stage_result(st);
    TAP_OK(s == STAGE_DONE &&
           strcmp(slurp(spool), "\"a\",\"b\",\"c\"\r\n\"1\",\"2\",\"3\"\r\n"
                                "\"4\",\"5\",\r\n,,\r\n\"6\",,\r\n") == 0,
           "short rows and an empty line between rows padded with empty "
           "values (RFC 4180 rewrite); trailing empty lines still dropped");
    TAP_OK(r->repair.padded == 3 && r->repair.first_padded_line == 3 &&
           r->record_errors_total == 0 && r->rows == 4 && r->normalize &&
           r->upload.delimiter == ',',
           "3 rows padded, first on line 3; no record errors; %llu rows",
           (unsigned long long)r->rows);
    stage_close(st);

    st = run(in, strlen(in), &o, 0, &s);
    r = stage_result(st);
    TAP_OK(s == STAGE_DONE && r->repair.padded == 3 && r->record_errors_total == 0,
           "analyse mode (inspect) counts the same repairs");
    stage_close(st);

    TAP_OK(stages_to("a;b\n1\n", pad, "\"a\",\"b\"\r\n\"1\",\r\n"),
           "a ';' file is padded and rewritten with ','");
    stage_opts lo = {.repair = pad};
    st = run("a,b\n1,2,3\n", 10, &lo, 0, &s);
    r = stage_result(st);
    TAP_OK(r->record_errors_total == 1 && r->record_errors[0].got == 3,
           "pad alone still refuses a long row");
    stage_close(st);
}

static void long_rows(void)
{
    stage_repair_opts join = {.join_long = 1};
    stage_opts o = {.repair = join};
    stage_status s;
    const char *in = "a,b\n1,2,3,4\n5,6\n";
    stage_t *st = run(in, strlen(in), &o, 1, &s);
    const stage_result_t *r = stage_result(st);
    TAP_OK(s == STAGE_DONE &&
           strcmp(slurp(spool),
                  "\"a\",\"b\"\r\n\"1\",\"2,3,4\"\r\n\"5\",\"6\"\r\n") == 0,
           "extra fields joined into the last column with the delimiter");
    TAP_OK(r->repair.joined == 1 && r->repair.first_joined_line == 2 &&
           r->record_errors_total == 0, "1 row joined, on line 2");
    stage_close(st);

    TAP_OK(stages_to("a;b\n1;2;\"x\"\"y\"\n", join,
                     "\"a\",\"b\"\r\n\"1\",\"2;x\"\"y\"\r\n"),
           "the source delimiter joins; quotes in joined fields are doubled");
    TAP_OK(stages_to("a,b\n1,,3\n1,\"\"\n1,\n", join,
                     "\"a\",\"b\"\r\n\"1\",\",3\"\r\n\"1\",\"\"\r\n\"1\",\r\n"),
           "an empty last column opens for joined fields; \"\" and empty "
           "stay apart");

    stage_opts d = {0};
    st = run(in, strlen(in), &d, 0, &s);
    r = stage_result(st);
    TAP_OK(r->record_errors_total == 1 && r->record_errors[0].line == 2 &&
           r->record_errors[0].got == 4 && r->repair.joined == 0,
           "default (refuse): the long row is a record error at line 2");
    stage_close(st);
}

static void preamble(void)
{
    stage_repair_opts pre = {.preamble = 1};
    stage_opts o = {.repair = pre};
    stage_status s;
    const char *in = "Report 2024\nSource: x\n\nid,name,v\n1,a,2\n3,b,4\n";
    stage_t *st = run(in, strlen(in), &o, 1, &s);
    const stage_result_t *r = stage_result(st);
    TAP_OK(s == STAGE_DONE && strcmp(slurp(spool), "id,name,v\n1,a,2\n3,b,4\n") == 0,
           "the lines above the header are not staged (copied from the header)");
    TAP_OK(r->repair.preamble_lines == 3 && r->rows == 2 &&
           strcmp(r->header->raw[0], "id") == 0 && r->record_errors_total == 0,
           "3 preamble lines skipped, header id,name,v, 2 rows");
    stage_close(st);

    const char *bad = "Title\nid,name\n1,a\n2\n3,c\n";
    st = run(bad, strlen(bad), &o, 0, &s);
    r = stage_result(st);
    TAP_OK(r->repair.preamble_lines == 1 && r->record_errors_total == 1 &&
           r->record_errors[0].line == 4,
           "a record error after a preamble keeps its line number (4)");
    stage_close(st);

    const char *tie = "Title\na,b\n";
    st = run(tie, strlen(tie), &o, 0, &s);
    r = stage_result(st);
    TAP_OK(r->repair.preamble_lines == 0 && strcmp(r->header->raw[0], "Title") == 0,
           "no clear field count: nothing is skipped");
    stage_close(st);

    const char *wide = "a,b,c,d\nid,name\n1,a\n2,b\n";
    st = run(wide, strlen(wide), &o, 0, &s);
    r = stage_result(st);
    TAP_OK(r->repair.preamble_lines == 0,
           "a line with more fields than the body is not a preamble");
    stage_close(st);

    char many[512] = "";
    for (int i = 0; i < 12; i++) strcat(many, "note\n");
    strcat(many, "a,b\n1,2\n3,4\n");
    st = run(many, strlen(many), &o, 0, &s);
    r = stage_result(st);
    TAP_OK(r->repair.preamble_lines == 0,
           "more than %d lines above: not a preamble", STAGE_REPAIR_PREAMBLE_MAX);
    stage_close(st);

    stage_repair_opts both = {.preamble = 1, .names = 1};
    TAP_OK(stages_to("Exported\n,b\n1,2\n3,4\n", both, "column_1,b\n1,2\n3,4\n"),
           "preamble and names together");
}

static void no_header(void)
{
    stage_repair_opts nh = {.no_header = 1};
    stage_opts o = {.repair = nh};
    stage_status s;
    const char *in = "1,2,3\n4,5,6\n";
    stage_t *st = run(in, strlen(in), &o, 1, &s);
    const stage_result_t *r = stage_result(st);
    TAP_OK(s == STAGE_DONE &&
           strcmp(slurp(spool), "column_1,column_2,column_3\n1,2,3\n4,5,6\n") == 0,
           "no header: column_1..N written above the first line");
    TAP_OK(r->rows == 2 && r->repair.no_header && r->header->count == 3 &&
           strcmp(r->header->keboola[2], "column_3") == 0 &&
           r->record_errors_total == 0, "2 rows, 3 named columns");
    stage_close(st);

    TAP_OK(stages_to("1,2\r3,4\r", nh,
                     "column_1,column_2\r\n\"1\",\"2\"\r\n\"3\",\"4\"\r\n"),
           "no header in a file that is rewritten");
    TAP_OK(stages_to("1;2", nh, "column_1;column_2\n1;2"),
           "a one-line file without a line end");
    stage_repair_opts nhpad = {.no_header = 1, .pad_short = 1};
    TAP_OK(stages_to("1,2\n3\n", nhpad,
                     "column_1,column_2\r\n\"1\",\"2\"\r\n\"3\",\r\n"),
           "no header with padding");
}

/* A file far larger than the sample: the plan is made on the sample, the
 * rest streams through, the repairs reach its end. */
static void large(void)
{
    size_t cap = 3 << 20, n = 0;
    char *in = malloc(cap);
    n += (size_t)sprintf(in + n, "Exported by a tool\n,b,b\n");
    while (n < cap - 64) n += (size_t)sprintf(in + n, "%zu,x,y\n", n);
    n += (size_t)sprintf(in + n, "last\n");
    stage_repair_opts all = {.names = 1, .pad_short = 1, .preamble = 1};
    stage_opts o = {.repair = all, .sample_bytes = 4096};
    stage_status s;
    stage_t *st = run(in, n, &o, 1, &s);
    const stage_result_t *r = stage_result(st);
    const char *out = slurp(spool);
    size_t olen = strlen(out);
    TAP_OK(s == STAGE_DONE && r->repair.padded == 1 && r->repair.preamble_lines == 1 &&
           r->repair.names_changed == 2 &&
           strncmp(out, "column_1,b,b_2\r\n", 16) == 0 && olen > 10 &&
           strcmp(out + olen - 10, "\"last\",,\r\n") == 0,
           "3 MiB file, 4 KiB sample: repaired from the header to the last row");
    stage_close(st);
    free(in);
}

int main(void)
{
    if (!mkdtemp(dir)) return 1;
    snprintf(src, sizeof src, "%s/in.csv", dir);
    snprintf(spool, sizeof spool, "%s/spool.csv", dir);
    without_repairs_unchanged();
    names();
    short_rows();
    long_rows();
    preamble();
    no_header();
    large();
    unlink(src);
    unlink(spool);
    rmdir(dir);
    return tap_done();
}
