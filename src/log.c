/* log.c - file logging with size rotation and secret redaction (log.h).
 *
 * Rotation is checked before each line is written, so a line always lands
 * whole in one file.  Redaction runs on the finished line, so no formatter
 * path (field, event name, message) can slip a secret through. */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LOG_MAX_SECRETS 8

static struct {
    char *file;
    FILE *fp;
    uint64_t size;
    enum log_level level;
    enum log_format format;
    uint64_t max_bytes;
    int keep;
    int to_stderr;
    char *secrets[LOG_MAX_SECRETS];
    int nsecrets;
} g = {.level = LOG_INFO, .to_stderr = 1, .max_bytes = 100u * 1024 * 1024, .keep = 5};

static const char *level_names[] = {"ERROR", "WARN", "INFO", "DEBUG", "TRACE"};

const char *log_level_name(enum log_level level)
{
    return (level >= LOG_ERROR && level <= LOG_TRACE) ? level_names[level] : "?";
}

int log_level_parse(const char *name, enum log_level *out)
{
    static const char *lower[] = {"error", "warn", "info", "debug", "trace"};
    for (int i = 0; i <= LOG_TRACE; i++)
        if (name && strcmp(name, lower[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    return -1;
}

int log_enabled(enum log_level level) { return level <= g.level; }

static int open_file(char *errbuf, size_t errlen)
{
    g.fp = fopen(g.file, "a");
    if (!g.fp) {
        snprintf(errbuf, errlen, "cannot open log file %s: %s", g.file, strerror(errno));
        return -1;
    }
    struct stat st;
    g.size = fstat(fileno(g.fp), &st) == 0 ? (uint64_t)st.st_size : 0;
    return 0;
}

void log_close(void)
{
    if (g.fp) fclose(g.fp);
    g.fp = NULL;
}

int log_configure(const log_config_t *cfg, char *errbuf, size_t errlen)
{
    log_close();
    free(g.file);
    g.file = (cfg->file && *cfg->file) ? strdup(cfg->file) : NULL;
    g.level = cfg->level;
    g.format = cfg->format;
    g.max_bytes = cfg->max_bytes ? cfg->max_bytes : 100u * 1024 * 1024;
    g.keep = cfg->keep < 0 ? 0 : cfg->keep;
    g.to_stderr = cfg->to_stderr;
    if (g.file && open_file(errbuf, errlen) < 0) {
        free(g.file);
        g.file = NULL;
        return -1;
    }
    return 0;
}

void log_redact(const char *secret)
{
    if (!secret || strlen(secret) < 4) return; /* too short to be a secret; would mangle text */
    for (int i = 0; i < g.nsecrets; i++)
        if (strcmp(g.secrets[i], secret) == 0) return;
    if (g.nsecrets == LOG_MAX_SECRETS) {
        free(g.secrets[0]);
        memmove(g.secrets, g.secrets + 1, (LOG_MAX_SECRETS - 1) * sizeof g.secrets[0]);
        g.nsecrets--;
    }
    g.secrets[g.nsecrets++] = strdup(secret);
}

void log_redact_clear(void)
{
    for (int i = 0; i < g.nsecrets; i++) free(g.secrets[i]);
    g.nsecrets = 0;
}

char *log_redact_copy(const char *s, size_t len, size_t *outlen)
{
    char *out = malloc(len + 1);
    if (!out) return NULL;
    memcpy(out, s, len);
    out[len] = 0;
    for (int i = 0; i < g.nsecrets; i++) {
        const char *sec = g.secrets[i];
        size_t sl = strlen(sec);
        char *p;
        /* "***" is never longer than a secret (>= 4 bytes): shrink in place */
        while ((p = memmem(out, len, sec, sl)) != NULL) {
            memcpy(p, "***", 3);
            memmove(p + 3, p + sl, len - (size_t)(p - out) - sl + 1);
            len -= sl - 3;
        }
    }
    if (outlen) *outlen = len;
    return out;
}

/* Growable line buffer; formatting never fails half-way on a long value. */
typedef struct buf {
    char *p;
    size_t len, cap;
} buf_t;

static void buf_put(buf_t *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) return;
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

static void buf_str(buf_t *b, const char *s) { buf_put(b, s, strlen(s)); }

static void put_json_string(buf_t *b, const char *s)
{
    buf_put(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        switch (*p) {
        case '"': buf_put(b, "\\\"", 2); break;
        case '\\': buf_put(b, "\\\\", 2); break;
        case '\n': buf_put(b, "\\n", 2); break;
        case '\r': buf_put(b, "\\r", 2); break;
        case '\t': buf_put(b, "\\t", 2); break;
        default:
            if (*p < 0x20) {
                snprintf(esc, sizeof esc, "\\u%04x", *p);
                buf_str(b, esc);
            } else {
                buf_put(b, (const char *)p, 1);
            }
        }
    }
    buf_put(b, "\"", 1);
}

/* Text values are bare when they are plain words, else double-quoted with
 * escapes, so one event is always one physical line and parseable. */
static void put_text_value(buf_t *b, const char *s)
{
    int bare = *s != 0;
    for (const char *p = s; *p && bare; p++)
        if (*p == ' ' || *p == '"' || *p == '=' || (unsigned char)*p < 0x20 || *p == '\\') bare = 0;
    if (bare) buf_str(b, s);
    else put_json_string(b, s);
}

static void format_time(char *out, size_t n)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char base[32];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, n, "%s.%03ldZ", base, ts.tv_nsec / 1000000L);
}

static void rotate(void)
{
    log_close();
    char from[4096], to[4096];
    for (int i = g.keep; i >= 1; i--) {
        if (i == 1) snprintf(from, sizeof from, "%s", g.file);
        else snprintf(from, sizeof from, "%s.%d", g.file, i - 1);
        snprintf(to, sizeof to, "%s.%d", g.file, i);
        rename(from, to); /* a missing older file is fine */
    }
    if (g.keep == 0) unlink(g.file);
    char err[256];
    if (open_file(err, sizeof err) < 0) fprintf(stderr, "%s\n", err);
}

static void write_line(const char *line, size_t len)
{
    if (g.file) {
        if (!g.fp) {
            char err[256];
            open_file(err, sizeof err);
        }
        if (g.fp && g.size > 0 && g.size + len > g.max_bytes) rotate();
        if (g.fp) {
            fwrite(line, 1, len, g.fp);
            fflush(g.fp);
            g.size += len;
        }
    }
    if (g.to_stderr || !g.file) {
        fwrite(line, 1, len, stderr);
        fflush(stderr);
    }
}

void log_emit(enum log_level level, const char *event, const log_field_t *fields, size_t nfields)
{
    if (!log_enabled(level)) return;
    char ts[48];
    format_time(ts, sizeof ts);
    buf_t b = {0};
    if (g.format == LOG_JSON) {
        buf_str(&b, "{\"time\":\"");
        buf_str(&b, ts);
        buf_str(&b, "\",\"level\":\"");
        buf_str(&b, log_level_name(level));
        buf_str(&b, "\",\"event\":");
        put_json_string(&b, event);
        for (size_t i = 0; i < nfields; i++) {
            buf_str(&b, ",");
            put_json_string(&b, fields[i].key);
            buf_str(&b, ":");
            if (fields[i].is_number) buf_str(&b, fields[i].value);
            else put_json_string(&b, fields[i].value);
        }
        buf_str(&b, "}\n");
    } else {
        char head[96];
        snprintf(head, sizeof head, "%s %-5s ", ts, log_level_name(level));
        buf_str(&b, head);
        buf_str(&b, event);
        for (size_t i = 0; i < nfields; i++) {
            buf_str(&b, " ");
            buf_str(&b, fields[i].key);
            buf_str(&b, "=");
            put_text_value(&b, fields[i].value);
        }
        buf_str(&b, "\n");
    }
    if (!b.p) return;
    size_t outlen = b.len;
    char *clean = g.nsecrets ? log_redact_copy(b.p, b.len, &outlen) : NULL;
    write_line(clean ? clean : b.p, outlen);
    free(clean);
    free(b.p);
}

void log_event(enum log_level level, const char *event, ...)
{
    if (!log_enabled(level)) return;
    log_field_t fields[16];
    size_t n = 0;
    va_list ap;
    va_start(ap, event);
    const char *k;
    while (n < 16 && (k = va_arg(ap, const char *)) != NULL) {
        const char *v = va_arg(ap, const char *);
        fields[n].key = k;
        fields[n].value = v ? v : "";
        fields[n].is_number = 0;
        n++;
    }
    va_end(ap);
    log_emit(level, event, fields, n);
}
