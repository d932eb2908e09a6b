/* log.h - the daemon's log: one file, size-rotated, optional stderr copy.
 *
 * A line is "TIME LEVEL event key=value ..." (text) or one JSON object
 * (json).  Every line passes a redaction filter first, so the secrets
 * registered with log_redact() never reach any sink, at any level.
 * Rotation happens between lines: a line is never split across files. */
#ifndef KBSYNCD_LOG_H
#define KBSYNCD_LOG_H
#include <stddef.h>
#include <stdint.h>

enum log_level { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG, LOG_TRACE };
enum log_format { LOG_TEXT = 0, LOG_JSON };

typedef struct log_config {
    const char *file;      /* NULL or "" = no file */
    enum log_level level;
    enum log_format format;
    uint64_t max_bytes;    /* rotate when the file would grow past this */
    int keep;              /* rotated files kept: file.1 ... file.keep */
    int to_stderr;
} log_config_t;

/* (Re)configure; returns 0, or -1 with a message in errbuf. */
int log_configure(const log_config_t *cfg, char *errbuf, size_t errlen);
void log_close(void);

/* Register a secret (copied); every occurrence is written as "***". */
void log_redact(const char *secret);
void log_redact_clear(void);

int log_enabled(enum log_level level);
int log_level_parse(const char *name, enum log_level *out);
const char *log_level_name(enum log_level level);

/* One field of a line.  Values are escaped/quoted as the format needs. */
typedef struct log_field {
    const char *key;
    const char *value; /* string form */
    int is_number;     /* JSON: emit unquoted */
} log_field_t;

void log_emit(enum log_level level, const char *event, const log_field_t *fields,
              size_t nfields);
/* Convenience for C call sites: fields as "key", "value" pairs, NULL-ended. */
void log_event(enum log_level level, const char *event, ...);

/* Testing: remove secrets from a string in place-size buffer (returns a
 * newly allocated redacted copy; caller frees). */
char *log_redact_copy(const char *s, size_t len, size_t *outlen);
#endif
