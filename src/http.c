/* http.c - see http.h. */
#include "http.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct http {
    loop_t *loop;
    CURLM *multi;
    loop_timer_t *timer;
    http_req_t *running; /* list, so http_free can cancel them */
    int in_action;       /* inside curl_multi_socket_action */
};

typedef struct buffer {
    char *p;
    size_t len, cap;
} buffer_t;

struct http_req {
    http_t *h;
    CURL *easy;
    struct curl_slist *headers;
    struct curl_slist *connect_to;
    char errbuf[CURL_ERROR_SIZE];
    char errmsg[CURL_ERROR_SIZE + 64];
    buffer_t body, head;
    size_t max_body;
    int over_cap;
    FILE *in;          /* request body file */
    uint64_t in_left;
    FILE *out;         /* response body file */
    CURLcode result;
    long status;
    http_done_fn done;
    void *ud;
    int started;
    int signed_v4; /* AWS SigV4: leave libcurl's own Expect handling alone */
    struct http_req *prev, *next;
};

static int buf_add(buffer_t *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n + 1) cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) return -1;
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
    return 0;
}

int http_async_dns(void)
{
    curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
    return (v->features & CURL_VERSION_ASYNCHDNS) != 0;
}

/* ---- loop <-> libcurl plumbing ------------------------------------------ */

static void check_done(http_t *h)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(h->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE) continue;
        http_req_t *r = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        r->result = m->data.result;
        curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &r->status);
        curl_multi_remove_handle(h->multi, r->easy);
        r->started = 0;
        if (r->prev) r->prev->next = r->next;
        else h->running = r->next;
        if (r->next) r->next->prev = r->prev;
        r->prev = r->next = NULL;
        if (r->out) {
            if (fflush(r->out) != 0 && r->result == CURLE_OK) r->result = CURLE_WRITE_ERROR;
            fclose(r->out);
            r->out = NULL;
        }
        if (r->done) r->done(r, r->ud);
    }
}

static void socket_action(http_t *h, curl_socket_t s, int ev)
{
    int running;
    h->in_action = 1;
    curl_multi_socket_action(h->multi, s, ev, &running);
    h->in_action = 0;
    check_done(h);
}

static void on_fd(loop_t *l, int fd, int events, void *data)
{
    (void)l;
    int ev = 0;
    if (events & LOOP_READ) ev |= CURL_CSELECT_IN;
    if (events & LOOP_WRITE) ev |= CURL_CSELECT_OUT;
    socket_action(data, fd, ev);
}

static void on_timeout(loop_t *l, loop_timer_t *t, void *data)
{
    (void)l; (void)t;
    http_t *h = data;
    h->timer = NULL; /* one-shot: freed by the loop after this returns */
    socket_action(h, CURL_SOCKET_TIMEOUT, 0);
}

static int socket_cb(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
    (void)e; (void)socketp;
    http_t *h = userp;
    if (what == CURL_POLL_REMOVE) {
        loop_fd_del(h->loop, s);
        return 0;
    }
    int ev = 0;
    if (what & CURL_POLL_IN) ev |= LOOP_READ;
    if (what & CURL_POLL_OUT) ev |= LOOP_WRITE;
    loop_fd_set(h->loop, s, ev, on_fd, h);
    return 0;
}

/* libcurl asks for one single-shot deadline; 0 means "as soon as possible",
 * which we honour with a 0 ms timer rather than by calling back into
 * libcurl from inside its own callback. */
static int timer_cb(CURLM *m, long timeout_ms, void *userp)
{
    (void)m;
    http_t *h = userp;
    if (h->timer) {
        loop_timer_stop(h->loop, h->timer);
        h->timer = NULL;
    }
    if (timeout_ms >= 0) h->timer = loop_timer_start(h->loop, (uint64_t)timeout_ms, 0, on_timeout, h);
    return 0;
}

http_t *http_new(loop_t *loop)
{
    http_t *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    h->loop = loop;
    h->multi = curl_multi_init();
    if (!h->multi) {
        free(h);
        return NULL;
    }
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
    return h;
}

void http_free(http_t *h)
{
    if (!h) return;
    while (h->running) http_req_cancel(h->running);
    if (h->timer) loop_timer_stop(h->loop, h->timer);
    curl_multi_cleanup(h->multi);
    free(h);
}

/* ---- requests ----------------------------------------------------------- */

static size_t write_cb(char *p, size_t size, size_t n, void *ud)
{
    http_req_t *r = ud;
    size_t len = size * n;
    if (r->out) return fwrite(p, 1, len, r->out);
    if (r->body.len + len > r->max_body) {
        r->over_cap = 1;
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    return buf_add(&r->body, p, len) == 0 ? len : 0;
}

static size_t header_cb(char *p, size_t size, size_t n, void *ud)
{
    http_req_t *r = ud;
    size_t len = size * n;
    /* Keep only the last response's headers (after a 100 Continue or a
     * proxy's CONNECT answer a new status line starts a new block). */
    if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) r->head.len = 0;
    return buf_add(&r->head, p, len) == 0 ? len : 0;
}

static size_t read_cb(char *p, size_t size, size_t n, void *ud)
{
    http_req_t *r = ud;
    size_t want = size * n;
    if (want > r->in_left) want = (size_t)r->in_left;
    if (want == 0) return 0;
    size_t got = fread(p, 1, want, r->in);
    if (got == 0) return CURL_READFUNC_ABORT; /* the file shrank under us */
    r->in_left -= got;
    return got;
}

static int seek_cb(void *ud, curl_off_t offset, int origin)
{
    (void)ud; (void)offset; (void)origin;
    return CURL_SEEKFUNC_CANTSEEK; /* no rewinds: a retry is a new request */
}

http_req_t *http_req_new(http_t *h)
{
    http_req_t *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->h = h;
    r->easy = curl_easy_init();
    if (!r->easy) {
        free(r);
        return NULL;
    }
    r->max_body = SIZE_MAX; /* no cap unless the caller sets one */
    CURL *e = r->easy;
    curl_easy_setopt(e, CURLOPT_PRIVATE, r);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    return r;
}

CURL *http_req_easy(http_req_t *r) { return r->easy; }

int http_req_add_header(http_req_t *r, const char *line)
{
    struct curl_slist *l = curl_slist_append(r->headers, line);
    if (!l) return -1;
    r->headers = l;
    return 0;
}

static void set_method(CURL *e, const char *method)
{
    if (method && strcmp(method, "POST") != 0 && strcmp(method, "PUT") != 0)
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
}

void http_req_body_memory(http_req_t *r, const char *method, const char *data, size_t len)
{
    CURL *e = r->easy;
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, data); /* libcurl keeps a copy */
    if (method && strcmp(method, "POST") != 0) curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
}

int http_req_body_file(http_req_t *r, const char *method, const char *path, uint64_t offset,
                       int64_t length)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    if (length < 0) {
        if (fseeko(f, 0, SEEK_END) < 0) goto fail;
        off_t end = ftello(f);
        length = end > (off_t)offset ? (int64_t)(end - (off_t)offset) : 0;
    }
    if (fseeko(f, (off_t)offset, SEEK_SET) < 0) goto fail;
    r->in = f;
    r->in_left = (uint64_t)length;
    CURL *e = r->easy;
    curl_easy_setopt(e, CURLOPT_READFUNCTION, read_cb);
    curl_easy_setopt(e, CURLOPT_READDATA, r);
    curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, seek_cb);
    if (method && strcmp(method, "PUT") == 0) {
        curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)length);
    } else {
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)length);
        set_method(e, method);
    }
    return 0;
fail:;
    int saved = errno;
    fclose(f);
    errno = saved;
    return -1;
}

int http_req_response_file(http_req_t *r, const char *path)
{
    r->out = fopen(path, "wb");
    return r->out ? 0 : -1;
}

void http_req_max_body(http_req_t *r, size_t max) { r->max_body = max; }

void http_req_aws_sigv4(http_req_t *r, const char *provider, const char *userpwd)
{
    curl_easy_setopt(r->easy, CURLOPT_AWS_SIGV4, provider);
    if (userpwd) curl_easy_setopt(r->easy, CURLOPT_USERPWD, userpwd);
    r->signed_v4 = 1;
}

int http_req_connect_to(http_req_t *r, const char *entry)
{
    struct curl_slist *l = curl_slist_append(r->connect_to, entry);
    if (!l) return -1;
    r->connect_to = l;
    return 0;
}

int http_req_start(http_req_t *r, http_done_fn done, void *ud)
{
    r->done = done;
    r->ud = ud;
    /* "Expect: 100-continue" would stall every upload a second on servers
     * that do not answer it; the bodies we send are already staged, so the
     * header is suppressed.  Not for SigV4: libcurl 7.88 signs the empty
     * "Expect:" it then never sends, and S3 refuses the signature; S3 does
     * answer 100-continue, so nothing stalls there. */
    if (!r->signed_v4) http_req_add_header(r, "Expect:");
    curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->headers);
    if (r->connect_to) curl_easy_setopt(r->easy, CURLOPT_CONNECT_TO, r->connect_to);
    if (curl_multi_add_handle(r->h->multi, r->easy) != CURLM_OK) return -1;
    r->started = 1;
    r->next = r->h->running;
    if (r->next) r->next->prev = r;
    r->h->running = r;
    return 0;
}

void http_req_free(http_req_t *r)
{
    if (!r) return;
    if (r->started) {
        curl_multi_remove_handle(r->h->multi, r->easy);
        if (r->prev) r->prev->next = r->next;
        else r->h->running = r->next;
        if (r->next) r->next->prev = r->prev;
    }
    curl_easy_cleanup(r->easy);
    curl_slist_free_all(r->headers);
    curl_slist_free_all(r->connect_to);
    if (r->in) fclose(r->in);
    if (r->out) fclose(r->out);
    free(r->body.p);
    free(r->head.p);
    free(r);
}

void http_req_cancel(http_req_t *r) { http_req_free(r); }

CURLcode http_req_result(const http_req_t *r) { return r->result; }
long http_req_status(const http_req_t *r) { return r->status; }

const char *http_req_body(const http_req_t *r, size_t *len)
{
    *len = r->body.len;
    return r->body.p ? r->body.p : "";
}

const char *http_req_headers(const http_req_t *r, size_t *len)
{
    *len = r->head.len;
    return r->head.p ? r->head.p : "";
}

static const char *error_class(CURLcode c, int over_cap)
{
    if (over_cap) return "body_too_large";
    switch (c) {
    case CURLE_OPERATION_TIMEDOUT: return "timeout";
    case CURLE_COULDNT_CONNECT: return "connect";
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY: return "dns";
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE: return "tls";
    case CURLE_READ_ERROR:
    case CURLE_ABORTED_BY_CALLBACK:
    case CURLE_WRITE_ERROR: return "file";
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_BAD_FUNCTION_ARGUMENT: return "invalid";
    default: return "network";
    }
}

const char *http_req_error(http_req_t *r)
{
    snprintf(r->errmsg, sizeof r->errmsg, "%s: %s", error_class(r->result, r->over_cap),
             r->over_cap ? "response body larger than max_body"
                         : (r->errbuf[0] ? r->errbuf : curl_easy_strerror(r->result)));
    return r->errmsg;
}
