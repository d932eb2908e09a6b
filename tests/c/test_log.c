/* test_log.c - rotation at the size boundary, redaction, formats. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "tap.h"

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = calloc(1, (size_t)n + 1);
    if (fread(s, 1, (size_t)n, f) != (size_t)n) n = 0;
    fclose(f);
    return s;
}

static long file_size(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 ? (long)st.st_size : -1;
}

static int count_lines(const char *s, int *complete)
{
    int n = 0;
    *complete = 1;
    for (const char *p = s; *p; p++)
        if (*p == '\n') n++;
    if (*s && s[strlen(s) - 1] != '\n') *complete = 0;
    return n;
}

int main(void)
{
    char dir[] = "/tmp/kbsyncd-logtest-XXXXXX";
    TAP_OK(mkdtemp(dir) != NULL, "temp dir");
    char path[256], p1[300], p2[300], p3[300];
    snprintf(path, sizeof path, "%s/k.log", dir);
    snprintf(p1, sizeof p1, "%s.1", path);
    snprintf(p2, sizeof p2, "%s.2", path);
    snprintf(p3, sizeof p3, "%s.3", path);

    log_config_t c = {.file = path, .level = LOG_INFO, .format = LOG_TEXT, .max_bytes = 4096,
                      .keep = 2, .to_stderr = 0};
    char err[256];
    TAP_OK(log_configure(&c, err, sizeof err) == 0, "configure file log");

    /* Lines of ~100 bytes around the 4096 boundary: rotation must happen
     * between lines, never splitting one, and keep at most 2 old files. */
    char val[80];
    memset(val, 'v', sizeof val - 1);
    val[sizeof val - 1] = 0;
    int written = 0;
    for (int i = 0; i < 200; i++) {
        char idx[16];
        snprintf(idx, sizeof idx, "%d", i);
        log_event(LOG_INFO, "line", "i", idx, "v", val, NULL);
        written++;
    }
    log_event(LOG_DEBUG, "hidden", NULL);
    TAP_OK(file_size(path) <= 4096 && file_size(p1) <= 4096 && file_size(p1) > 3900,
           "files stay under max_bytes (%ld, %ld)", file_size(path), file_size(p1));
    TAP_OK(file_size(p3) < 0, "only `keep` rotated files kept");
    char *a = slurp(path), *b = slurp(p1), *d = slurp(p2);
    int ca, cb, cd;
    int la = count_lines(a, &ca), lb = count_lines(b, &cb), ld = count_lines(d, &cd);
    TAP_OK(ca && cb && cd, "every file ends on a whole line");
    TAP_OK(strstr(a, "hidden") == NULL, "below-level line not written");
    char last[32];
    snprintf(last, sizeof last, "i=%d ", written - 1);
    TAP_OK(strstr(a, last) != NULL, "the newest line is in the live file");
    /* lines are consecutive across the boundary .1 -> live */
    int first_live = atoi(strstr(a, "i=") + 2);
    const char *lastb = b;
    for (const char *q = b; (q = strstr(q, "i=")) != NULL; q += 2) lastb = q;
    TAP_OK(atoi(lastb + 2) + 1 == first_live, "no line lost at the boundary (%d -> %d)",
           atoi(lastb + 2), first_live);
    TAP_OK(la > 0 && lb > 0 && ld > 0, "three generations present");
    free(a); free(b); free(d);

    /* Redaction: the secret never reaches the file, in any field. */
    log_redact("123-456-supersecretvalue");
    log_event(LOG_ERROR, "leak_attempt", "url", "https://x/?t=123-456-supersecretvalue", "msg",
              "token 123-456-supersecretvalue and again 123-456-supersecretvalue", NULL);
    a = slurp(path);
    TAP_OK(strstr(a, "supersecret") == NULL && strstr(a, "***") != NULL, "secret redacted");
    free(a);
    size_t outlen;
    char *r = log_redact_copy("a123-456-supersecretvalueb", 26, &outlen);
    TAP_OK(strcmp(r, "a***b") == 0 && outlen == 5, "redact_copy replaces in place (%s)", r);
    free(r);

    /* JSON lines are valid single lines, with escapes. */
    c.format = LOG_JSON;
    c.max_bytes = 1 << 20;
    log_configure(&c, err, sizeof err);
    log_event(LOG_WARN, "json_event", "file", "we\"ird\nname.csv", NULL);
    a = slurp(path);
    const char *j = strstr(a, "{\"time\"");
    TAP_OK(j && strstr(j, "\"level\":\"WARN\"") && strstr(j, "\"file\":\"we\\\"ird\\nname.csv\""),
           "json line escapes quotes and newlines");
    free(a);

    /* Text values with spaces are quoted so a line stays parseable. */
    c.format = LOG_TEXT;
    log_configure(&c, err, sizeof err);
    log_event(LOG_INFO, "spaced", "file", "my file.csv", NULL);
    a = slurp(path);
    TAP_OK(strstr(a, "spaced file=\"my file.csv\"") != NULL, "text value with a space is quoted");
    free(a);

    enum log_level lv;
    TAP_OK(log_level_parse("debug", &lv) == 0 && lv == LOG_DEBUG && log_level_parse("loud", &lv) < 0,
           "level names parse");
    log_close();
    log_redact_clear();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    TAP_OK(system(cmd) == 0, "cleanup");
    return tap_done();
}
