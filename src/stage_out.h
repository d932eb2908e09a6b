/* stage_out.h - the spool file staging writes: plain or gzip, all or nothing.
 *
 * Bytes go to a temporary name beside the spool path and are renamed into
 * place only by stage_out_commit(), so a reader never sees half a spool
 * file and an old complete one survives a failed restage.  Anything short
 * of commit (an error, a close, a crash) leaves no temporary behind except
 * after a crash.  Gzip is zlib's deflate with the gzip wrapper, which the
 * Storage API recognises by the `.gz` name the upload gets.  Pure C. */
#ifndef KBSYNCD_STAGE_OUT_H
#define KBSYNCD_STAGE_OUT_H
#include <stddef.h>
#include <stdint.h>
#include <zlib.h>

#define STAGE_OUT_BUF (256 * 1024)

typedef struct stage_out {
    int fd;
    char *path;     /* the final name */
    char *tmp_path; /* where bytes go until commit */
    int gzip;
    int z_ready;
    z_stream z;
    unsigned char *buf;
    size_t len;
    uint64_t bytes_in;  /* bytes given to stage_out_write */
    uint64_t bytes_out; /* bytes in the file */
    char error[256];    /* why the last call failed */
} stage_out;

/* 0, or -1 with o->error set (and nothing left on disk). */
int stage_out_open(stage_out *o, const char *path, int gzip, int level);
int stage_out_write(stage_out *o, const void *p, size_t n);
/* Flush, end the gzip stream, close and rename into place. */
int stage_out_commit(stage_out *o);
/* Close and remove the temporary file; safe to call more than once and
 * after commit (then it only frees). */
void stage_out_abort(stage_out *o);
#endif
