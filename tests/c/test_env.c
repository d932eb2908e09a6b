/* test_env.c - .env parsing. */
#include <stdlib.h>
#include <string.h>

#include "env.h"
#include "tap.h"

static char keys[16][64], vals[16][256];
static int n;
static int collect(const char *k, const char *v, void *ud)
{
    (void)ud;
    snprintf(keys[n], sizeof keys[n], "%s", k);
    snprintf(vals[n], sizeof vals[n], "%s", v);
    n++;
    return 0;
}

static const char *get(const char *k)
{
    for (int i = 0; i < n; i++)
        if (strcmp(keys[i], k) == 0) return vals[i];
    return NULL;
}

int main(void)
{
    const char *text = "# comment\n"
                       "\n"
                       "KBC_STORAGE_API_HOST=connection.keboola.com\n"
                       "export KBC_STORAGE_API_TOKEN = 123-abc$def  # trailing comment\n"
                       "SINGLE='a # not a comment $HOME'\n"
                       "DOUBLE=\"line1\\nline2 \\\"q\\\"\"\n"
                       "EMPTY=\n"
                       "CRLF=value\r\n"
                       "HASH=abc#def\n";
    char err[256];
    n = 0;
    int rc = env_parse_buffer(".env", text, strlen(text), collect, NULL, err, sizeof err);
    TAP_OK(rc == 0, "valid file parses (%s)", rc ? err : "ok");
    TAP_OK(get("KBC_STORAGE_API_HOST") && strcmp(get("KBC_STORAGE_API_HOST"), "connection.keboola.com") == 0,
           "plain value");
    TAP_OK(get("KBC_STORAGE_API_TOKEN") && strcmp(get("KBC_STORAGE_API_TOKEN"), "123-abc$def") == 0,
           "export prefix, spaces around =, no interpolation, comment trimmed");
    TAP_OK(get("SINGLE") && strcmp(get("SINGLE"), "a # not a comment $HOME") == 0, "single quotes literal");
    TAP_OK(get("DOUBLE") && strcmp(get("DOUBLE"), "line1\nline2 \"q\"") == 0, "double quote escapes");
    TAP_OK(get("EMPTY") && strcmp(get("EMPTY"), "") == 0, "empty value");
    TAP_OK(get("CRLF") && strcmp(get("CRLF"), "value") == 0, "CRLF line ending stripped");
    TAP_OK(get("HASH") && strcmp(get("HASH"), "abc#def") == 0, "# inside a word is kept");

    const char *bad = "GOOD=1\nthis is not an assignment\n";
    n = 0;
    rc = env_parse_buffer("x.env", bad, strlen(bad), collect, NULL, err, sizeof err);
    TAP_OK(rc < 0 && strstr(err, "x.env:2:") != NULL, "error names file and line (%s)", err);

    const char *unterminated = "TOKEN=\"123-secretvalue\n";
    rc = env_parse_buffer("y.env", unterminated, strlen(unterminated), collect, NULL, err, sizeof err);
    TAP_OK(rc < 0 && strstr(err, "secretvalue") == NULL && strstr(err, "TOKEN") != NULL,
           "an error names the key, never the value (%s)", err);

    rc = env_parse_file("/nonexistent/.env", collect, NULL, err, sizeof err);
    TAP_OK(rc < 0 && strstr(err, "/nonexistent/.env") != NULL, "missing file reported");
    return tap_done();
}
