/* test_stage - the stager end to end on small files: copy, BOM strip,
 * header replacement, normalisation, gzip, errors and an unstable source. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "stage.h"
#include "tap.h"

static char dir[] = "/tmp/kbsyncd-test-stage-XXXXXX";
static char src[256], spool[256];

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    fwrite(data, 1, n, f);
    fclose(f);
}

/* Whole file (plain, or gunzipped when gz) into a static buffer. */
static const char *slurp(const char *path, int gz, size_t *len)
{
    static char buf[1 << 20];
    size_t n = 0;
    if (gz) {
        gzFile g = gzopen(path, "rb");
        int r = g ? gzread(g, buf, sizeof buf - 1) : -1;
        if (g) gzclose(g);
        n = r > 0 ? (size_t)r : 0;
    } else {
        FILE *f = fopen(path, "rb");
        if (f) {
            n = fread(buf, 1, sizeof buf - 1, f);
            fclose(f);
        }
    }
    buf[n] = 0;
    if (len) *len = n;
    return buf;
}

/* One buffer reused by the large cases (freed at exit). */
static char *malloc_buf(size_t cap)
{
    static char *buf;
    if (cap && !buf) buf = malloc(cap);
    return buf;
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* No leftovers such as spool.tmp.XXXXXX in the test folder. */
static int temp_files_left(void)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "ls %s | grep -q '\\.tmp\\.'", dir);
    return system(cmd) == 0;
}

static stage_t *run(const char *content, size_t n, stage_opts *o, stage_status *status)
{
    write_file(src, content, n);
    unlink(spool);
    o->src = src;
    stage_t *st = stage_open(o);
    while ((*status = stage_step(st, 1)) == STAGE_MORE) {
    }
    return st;
}

static void copies_as_is(void)
{
    stage_opts o = {.spool = spool};
    stage_status s;
    const char *in = "\xEF\xBB\xBFid;name\n1;\"a;b\"\n2;c\n\n";
    stage_t *st = run(in, strlen(in), &o, &s);
    const stage_result_t *r = stage_result(st);
    size_t len;
    const char *out = slurp(spool, 0, &len);
    TAP_OK(s == STAGE_DONE, "staged");
    TAP_OK(strcmp(out, "id;name\n1;\"a;b\"\n2;c\n") == 0,
           "BOM stripped, bytes copied, trailing empty line dropped");
    TAP_OK(r->spool_bytes == len && r->rows == 2 && !r->normalize && !r->gzip,
           "spool_bytes %llu, rows %llu", (unsigned long long)r->spool_bytes,
           (unsigned long long)r->rows);
    TAP_OK(r->dialect.bom && r->dialect.delimiter == ';' && r->upload.delimiter == ';' &&
           r->upload.quote == '"' && !r->upload.bom, "dialect and upload dialect");
    char fp[64];
    snprintf(fp, sizeof fp, "%zu-%08lx", strlen(in), crc32(0, (const Bytef *)in, (uInt)strlen(in)));
    TAP_OK(strcmp(r->fingerprint, fp) == 0, "fingerprint covers the source with its BOM: %s",
           r->fingerprint);
    TAP_OK(r->header->count == 2 && strcmp(r->header->keboola[1], "name") == 0, "header");
    stage_close(st);
}

static void replaces_header(void)
{
    const char *names[] = {"Order ID", "note, long"};
    stage_opts o = {.spool = spool, .header = names, .header_count = 2};
    stage_status s;
    const char *in = "a,b\r\n1,2\r\n";
    stage_t *st = run(in, strlen(in), &o, &s);
    const stage_result_t *r = stage_result(st);
    TAP_OK(s == STAGE_DONE && strcmp(slurp(spool, 0, NULL),
                                     "Order ID,\"note, long\"\r\n1,2\r\n") == 0,
           "header line re-emitted in the source dialect");
    TAP_OK(strcmp(r->source_header->raw[0], "a") == 0 &&
           strcmp(r->header->keboola[0], "Order_ID") == 0,
           "raw names are the source's, keboola names the replacement's");
    stage_close(st);

    const char *one[] = {"x"};
    o.header = one;
    o.header_count = 1;
    st = run(in, strlen(in), &o, &s);
    TAP_OK(s == STAGE_ERROR && !strcmp(stage_result(st)->error.code, "header") &&
           !exists(spool) && !temp_files_left(), "a replacement of the wrong width fails");
    stage_close(st);
}

static void normalises(void)
{
    stage_opts o = {.spool = spool};
    stage_status s;
    const char *in = "id,text\n1,\"say \\\"hi\\\"\"\n2,\"a,b\"\n3,\n";
    stage_t *st = run(in, strlen(in), &o, &s);
    const stage_result_t *r = stage_result(st);
    TAP_OK(s == STAGE_DONE && r->normalize && r->dialect.escape == '\\',
           "backslash escapes inside quotes are normalised");
    TAP_OK(strcmp(slurp(spool, 0, NULL),
                  "\"id\",\"text\"\r\n\"1\",\"say \"\"hi\"\"\"\r\n\"2\",\"a,b\"\r\n\"3\",\r\n") == 0,
           "written as RFC 4180");
    TAP_OK(r->upload.delimiter == ',' && r->upload.quote == '"' && r->upload.escape == 0,
           "upload dialect is RFC 4180");
    stage_close(st);

    const char *cr = "a;b\r1;\"x\ny\"\r2;3\r\r";
    st = run(cr, strlen(cr), &o, &s);
    r = stage_result(st);
    TAP_OK(s == STAGE_DONE && r->normalize && r->dialect.eol == CSV_TERM_CR &&
           strcmp(slurp(spool, 0, NULL), "\"a\",\"b\"\r\n\"1\",\"x\ny\"\r\n\"2\",\"3\"\r\n") == 0,
           "CR-only line ends are normalised");
    TAP_OK(r->rows == 2, "rows in a CR file (%llu)", (unsigned long long)r->rows);
    stage_close(st);

    const char *names[] = {"A", "B"};
    o.header = names;
    o.header_count = 2;
    st = run(cr, strlen(cr), &o, &s);
    TAP_OK(s == STAGE_DONE && strncmp(slurp(spool, 0, NULL), "A,B\r\n\"1\"", 8) == 0,
           "header replacement while normalising");
    stage_close(st);
}

static void gzips(void)
{
    char in[200000];
    size_t n = 0;
    n += (size_t)sprintf(in, "id,value\n");
    for (int i = 0; n < sizeof in - 40; i++) n += (size_t)sprintf(in + n, "%d,\"v %d\"\n", i, i * 7);
    stage_opts o = {.spool = spool, .gzip_threshold = 1000, .gzip_level = 1};
    stage_status s;
    stage_t *st = run(in, n, &o, &s);
    const stage_result_t *r = stage_result(st);
    size_t len;
    const char *out = slurp(spool, 1, &len);
    TAP_OK(s == STAGE_DONE && r->gzip, "gzipped over the threshold");
    TAP_OK(len == n && memcmp(out, in, n) == 0, "inflates to the source (%zu of %zu bytes)", len, n);
    TAP_OK(r->spool_bytes < n / 2, "and is smaller (%llu bytes)", (unsigned long long)r->spool_bytes);
    stage_close(st);
}

static void refuses(void)
{
    stage_opts o = {.spool = spool};
    stage_status s;
    stage_t *st = run("a,b\n1,\xC3\x28\n", 9, &o, &s);
    const stage_error *e = &stage_result(st)->error;
    TAP_OK(s == STAGE_ERROR && !strcmp(e->code, "utf8") && e->line == 2 && e->column == 3 &&
           e->offset == 6, "invalid UTF-8: line %llu column %llu offset %llu",
           (unsigned long long)e->line, (unsigned long long)e->column, (unsigned long long)e->offset);
    TAP_OK(!exists(spool) && !temp_files_left(), "no spool is left after an error");
    stage_close(st);

    st = run("", 0, &o, &s);
    TAP_OK(s == STAGE_ERROR && !strcmp(stage_result(st)->error.code, "empty"), "empty file");
    stage_close(st);

    st = run("\xEF\xBB\xBF", 3, &o, &s);
    TAP_OK(s == STAGE_ERROR && !strcmp(stage_result(st)->error.code, "empty"), "a BOM alone is empty");
    stage_close(st);

    st = run("a,b\n1,\"open\n", 12, &o, &s);
    TAP_OK(s == STAGE_ERROR && !strcmp(stage_result(st)->error.code, "quote") &&
           stage_result(st)->error.line == 2, "unterminated quote");
    stage_close(st);

    /* quotes open and close fields, one is never closed: refused at the
     * line where that field starts, small file or large (where the
     * record is met by the whole-block loop, far past the sample) */
    const char *small = "a,b\n\"1\",\"ok\"\n\"2\",\"x\n\"3\",\"y\"\n4,5\n";
    st = run(small, strlen(small), &o, &s);
    TAP_OK(s == STAGE_ERROR && !strcmp(stage_result(st)->error.code, "quote") &&
           stage_result(st)->error.line == 3 && !exists(spool),
           "a quote never closed on line 3: %s", stage_result(st)->error.message);
    stage_close(st);
    {
        size_t cap = 3u << 20, n = (size_t)sprintf(malloc_buf(cap), "id,name\n");
        char *big = malloc_buf(0);
        unsigned line = 2, bad = 0;
        while (n < cap - 64) {
            if (!bad && n > (2u << 20)) {
                bad = line;
                n += (size_t)sprintf(big + n, "\"%u\",\"open\n", line);
            } else {
                n += (size_t)sprintf(big + n, "\"%u\",\"name %u\"\n", line, line);
            }
            line++;
        }
        st = run(big, n, &o, &s);
        TAP_OK(s == STAGE_ERROR && !strcmp(stage_result(st)->error.code, "quote") &&
               stage_result(st)->error.line == bad && !exists(spool),
               "in a 3 MB file, line %u: got line %llu", bad,
               (unsigned long long)stage_result(st)->error.line);
        stage_close(st);
        o.spool = NULL; /* analyse mode reports it and reads on */
        st = run(big, n, &o, &s);
        TAP_OK(s == STAGE_DONE && stage_result(st)->unclosed_line == bad &&
               !strcmp(stage_result(st)->error.code, "quote"), "analyse mode reports it");
        stage_close(st);
        o.spool = spool;
    }

    stage_opts missing = {.src = "/nonexistent/x.csv", .spool = spool};
    st = stage_open(&missing);
    TAP_OK(stage_step(st, 1 << 20) == STAGE_ERROR && !strcmp(stage_result(st)->error.code, "io"),
           "missing source: io");
    stage_close(st);
}

static void analyses(void)
{
    stage_opts o = {0};
    stage_status s;
    const char *in = "a,b\n1,2,3\n\xFF,x\n4\n\n";
    stage_t *st = run(in, strlen(in), &o, &s);
    const stage_result_t *r = stage_result(st);
    TAP_OK(s == STAGE_DONE && !r->spool && !r->utf8_valid && r->utf8.line == 3,
           "analyse mode reads on past invalid UTF-8");
    TAP_OK(r->rows == 3 && r->record_errors_total == 2 && r->record_errors[0].line == 2 &&
           r->record_errors[0].got == 3 && r->record_errors[1].line == 4,
           "records with the wrong field count (%llu)", (unsigned long long)r->record_errors_total);
    stage_close(st);
}

static void unstable(void)
{
    char in[600000];
    size_t n = (size_t)sprintf(in, "id,v\n");
    while (n < sizeof in - 20) n += (size_t)sprintf(in + n, "%zu,x\n", n);
    write_file(src, in, n);
    unlink(spool);
    stage_opts o = {.src = src, .spool = spool, .sample_bytes = 4096};
    stage_t *st = stage_open(&o);
    TAP_OK(stage_step(st, 1) == STAGE_MORE, "first step leaves work");
    FILE *f = fopen(src, "ab");
    fputs("999,appended\n", f);
    fclose(f);
    stage_status s;
    while ((s = stage_step(st, 1)) == STAGE_MORE) {
    }
    const stage_result_t *r = stage_result(st);
    TAP_OK(s == STAGE_ERROR && r->unstable && !strcmp(r->error.code, "unstable"),
           "a source appended to while staging is unstable");
    TAP_OK(!exists(spool) && !temp_files_left(), "and leaves no spool");
    stage_close(st);

    /* replaced by rename: same size, other inode */
    write_file(src, in, n);
    st = stage_open(&o);
    stage_step(st, 1);
    char other[300];
    snprintf(other, sizeof other, "%s.new", src);
    write_file(other, in, n);
    rename(other, src);
    while ((s = stage_step(st, 1)) == STAGE_MORE) {
    }
    TAP_OK(s == STAGE_ERROR && stage_result(st)->unstable, "a source renamed over is unstable");
    stage_close(st);

    /* closing half-way removes the temporary spool */
    st = stage_open(&o);
    stage_step(st, 1);
    TAP_OK(temp_files_left(), "a temporary spool exists while staging");
    stage_close(st);
    TAP_OK(!temp_files_left() && !exists(spool), "close removes it");
}

int main(void)
{
    if (!mkdtemp(dir)) return 1;
    snprintf(src, sizeof src, "%s/in.csv", dir);
    snprintf(spool, sizeof spool, "%s/spool.csv", dir);
    copies_as_is();
    replaces_header();
    normalises();
    gzips();
    refuses();
    analyses();
    unstable();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) return 1;
    free(malloc_buf(0));
    return tap_done();
}
