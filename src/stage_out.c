/* stage_out.c - see stage_out.h. */
#include "stage_out.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int io_error(stage_out *o, const char *what)
{
    snprintf(o->error, sizeof o->error, "%s %s: %s", what,
             o->tmp_path ? o->tmp_path : "spool", strerror(errno));
    return -1;
}

static int write_all(stage_out *o, const unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(o->fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return io_error(o, "write");
        }
        p += w;
        n -= (size_t)w;
        o->bytes_out += (uint64_t)w;
    }
    return 0;
}

int stage_out_open(stage_out *o, const char *path, int gzip, int level)
{
    size_t plen = strlen(path);

    memset(o, 0, sizeof *o);
    o->fd = -1;
    o->gzip = gzip;
    o->path = strdup(path);
    o->tmp_path = malloc(plen + sizeof ".tmp.XXXXXX");
    o->buf = malloc(STAGE_OUT_BUF);
    if (!o->path || !o->tmp_path || !o->buf) {
        snprintf(o->error, sizeof o->error, "out of memory");
        stage_out_abort(o);
        return -1;
    }
    memcpy(o->tmp_path, path, plen);
    memcpy(o->tmp_path + plen, ".tmp.XXXXXX", sizeof ".tmp.XXXXXX");
    o->fd = mkostemp(o->tmp_path, O_CLOEXEC);
    if (o->fd < 0) {
        io_error(o, "create");
        free(o->tmp_path); /* nothing was created */
        o->tmp_path = NULL;
        stage_out_abort(o);
        return -1;
    }
    if (gzip) {
        /* windowBits 15 + 16: deflate with a gzip header and trailer */
        if (deflateInit2(&o->z, level, Z_DEFLATED, 15 + 16, 8,
                         Z_DEFAULT_STRATEGY) != Z_OK) {
            snprintf(o->error, sizeof o->error, "zlib: cannot start deflate");
            stage_out_abort(o);
            return -1;
        }
        o->z_ready = 1;
    }
    return 0;
}

/* Runs deflate over the input with `flush`, writing whenever the output
 * buffer fills. */
static int deflate_all(stage_out *o, const unsigned char *p, size_t n,
                       int flush)
{
    o->z.next_in = (unsigned char *)p;
    o->z.avail_in = (uInt)n;
    for (;;) {
        o->z.next_out = o->buf + o->len;
        o->z.avail_out = (uInt)(STAGE_OUT_BUF - o->len);
        int rc = deflate(&o->z, flush);
        if (rc == Z_STREAM_ERROR) {
            snprintf(o->error, sizeof o->error, "zlib: deflate failed");
            return -1;
        }
        o->len = STAGE_OUT_BUF - o->z.avail_out;
        if (o->len == STAGE_OUT_BUF) {
            if (write_all(o, o->buf, o->len) < 0) return -1;
            o->len = 0;
            continue;
        }
        /* output space left over: deflate took everything it could */
        if (flush == Z_FINISH ? rc == Z_STREAM_END : o->z.avail_in == 0)
            return 0;
    }
}

int stage_out_write(stage_out *o, const void *data, size_t n)
{
    const unsigned char *p = data;

    o->bytes_in += n;
    if (o->gzip) {
        /* zlib counts in uInt: feed at most 1 GiB at a time */
        while (n > 0) {
            size_t part = n > (1u << 30) ? (1u << 30) : n;
            if (deflate_all(o, p, part, Z_NO_FLUSH) < 0) return -1;
            p += part;
            n -= part;
        }
        return 0;
    }
    if (o->len + n <= STAGE_OUT_BUF) {
        memcpy(o->buf + o->len, p, n);
        o->len += n;
        return 0;
    }
    if (o->len && write_all(o, o->buf, o->len) < 0) return -1;
    o->len = 0;
    if (n >= STAGE_OUT_BUF) return write_all(o, p, n); /* no extra copy */
    memcpy(o->buf, p, n);
    o->len = n;
    return 0;
}

int stage_out_commit(stage_out *o)
{
    if (o->gzip && deflate_all(o, NULL, 0, Z_FINISH) < 0) return -1;
    if (o->len && write_all(o, o->buf, o->len) < 0) return -1;
    o->len = 0;
    if (close(o->fd) < 0) {
        o->fd = -1;
        return io_error(o, "close");
    }
    o->fd = -1;
    if (rename(o->tmp_path, o->path) < 0) return io_error(o, "rename");
    free(o->tmp_path);
    o->tmp_path = NULL; /* committed: abort must not remove it */
    return 0;
}

void stage_out_abort(stage_out *o)
{
    if (o->z_ready) deflateEnd(&o->z);
    o->z_ready = 0;
    if (o->fd >= 0) close(o->fd);
    o->fd = -1;
    if (o->tmp_path) unlink(o->tmp_path);
    free(o->tmp_path);
    free(o->path);
    free(o->buf);
    o->tmp_path = o->path = NULL;
    o->buf = NULL;
}
