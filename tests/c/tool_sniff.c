/* tool_sniff - run the dialect sniffer over files, for the accuracy test
 * of the held-out corpus and the sniffing benchmark.
 *
 *   tool_sniff [--sample N] [--repeat N] FILE...
 *
 * For each FILE, reads its first N bytes (1 MiB by default; a BOM is
 * dropped, as staging does), sniffs them REPEAT times (1 by default) and
 * prints one JSON line: {"file":..,"delimiter":..,"enclosure":..,
 * "escapedBy":..,"lineTerminator":..,"seconds":..} with the mean time of
 * one sniff.  Exits 0, 1 when a file cannot be read, 64 on bad usage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sniff.h"

static void json_str(const char *s, size_t n)
{
    putchar('"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') printf("\\%c", c);
        else if (c == '\n') printf("\\n");
        else if (c == '\r') printf("\\r");
        else if (c == '\t') printf("\\t");
        else if (c < 0x20) printf("\\u%04x", c);
        else putchar(c);
    }
    putchar('"');
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int sniff_file(const char *path, size_t sample, long repeat)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf;
    size_t len, bom = 0;
    int eof;
    csv_dialect d;
    char c;

    if (!f) {
        fprintf(stderr, "tool_sniff: cannot open %s\n", path);
        return 1;
    }
    if (!(buf = malloc(sample + 1))) {
        fclose(f);
        return 1;
    }
    len = fread(buf, 1, sample + 1, f);
    eof = len <= sample;
    if (len > sample) len = sample;
    fclose(f);
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) bom = 3;
    double t0 = now();
    for (long i = 0; i < repeat; i++)
        sniff_dialect(buf + bom, len - bom, eof, NULL, &d);
    double t = (now() - t0) / (double)repeat;
    free(buf);
    printf("{\"file\":");
    json_str(path, strlen(path));
    c = (char)d.delimiter;
    printf(",\"delimiter\":");
    json_str(&c, 1);
    c = (char)d.quote;
    printf(",\"enclosure\":");
    json_str(&c, d.quote ? 1 : 0);
    c = (char)d.escape;
    printf(",\"escapedBy\":");
    json_str(&c, d.escape ? 1 : 0);
    const char *eol = csv_term_name(d.eol);
    printf(",\"lineTerminator\":");
    json_str(eol, strlen(eol));
    printf(",\"seconds\":%.9f}\n", t);
    return 0;
}

int main(int argc, char **argv)
{
    size_t sample = SNIFF_DEFAULT_SAMPLE;
    long repeat = 1;
    int rc = 0, files = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--sample") && i + 1 < argc) {
            sample = (size_t)strtoull(argv[++i], NULL, 10);
        } else if (!strcmp(argv[i], "--repeat") && i + 1 < argc) {
            repeat = strtol(argv[++i], NULL, 10);
            if (repeat < 1) repeat = 1;
        } else if (argv[i][0] == '-' && argv[i][1] == '-') {
            fprintf(stderr, "usage: tool_sniff [--sample N] [--repeat N] FILE...\n");
            return 64;
        } else {
            rc |= sniff_file(argv[i], sample, repeat);
            files++;
        }
    }
    if (!files) {
        fprintf(stderr, "usage: tool_sniff [--sample N] [--repeat N] FILE...\n");
        return 64;
    }
    return rc;
}
